#include "test_support.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iterator>

namespace civgrid::test {

TempDir::TempDir() {
    static std::atomic<int> counter{0};
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = info != nullptr ? std::string(info->test_suite_name()) + "." + info->name() : "civgrid";
    for (char& c : name)
        if (c == '/') c = '_';
    path_ = std::filesystem::temp_directory_path() /
            ("civgrid-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" + name);
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

std::string civgrid_cli() {
    return std::string(kBinaryDir) + "/engine/civgrid";
}

int run_cli(const std::string& arguments, std::string& output, const TempDir& dir) {
    const std::string log = dir.file("log.txt");
    const int status = std::system((civgrid_cli() + " " + arguments + " > " + log + " 2>&1").c_str());
    output = file_bytes(log);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string realdata(const std::string& relative) {
    const std::filesystem::path path = std::filesystem::path(kRealDataDir) / relative;
    return std::filesystem::exists(path) ? path.string() : std::string();
}

}  // namespace civgrid::test
