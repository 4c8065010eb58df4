// The driver of a fuzz target in the normal build, without libFuzzer: replays files (the committed
// corpus and reproducers; folders are read recursively, in name order), or runs N iterations on
// random inputs from a seeded generator. A finding traps, so CTest sees the process fail.
//   civgrid_fuzz_TARGET FILE_OR_FOLDER...
//   civgrid_fuzz_TARGET --random N [--seed S]
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

int run(const std::vector<std::uint8_t>& input) {
    return LLVMFuzzerTestOneInput(input.data(), input.size());
}

std::vector<std::filesystem::path> inputs_under(const std::filesystem::path& path) {
    std::vector<std::filesystem::path> files;
    if (std::filesystem::is_directory(path)) {
        for (const auto& entry : std::filesystem::recursive_directory_iterator(path))
            if (entry.is_regular_file() && entry.path().filename().string().front() != '.' &&
                entry.path().extension() != ".md")
                files.push_back(entry.path());
        std::sort(files.begin(), files.end());
    } else if (std::filesystem::exists(path)) {
        files.push_back(path);
    } else {
        std::fprintf(stderr, "no such file or folder: %s\n", path.c_str());
        std::exit(2);
    }
    return files;
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (!args.empty() && args[0] == "--random") {
        const long iterations = args.size() > 1 ? std::atol(args[1].c_str()) : 100;
        const unsigned long seed = args.size() > 3 && args[2] == "--seed" ? std::stoul(args[3]) : 1;
        std::mt19937_64 random(seed);
        for (long i = 0; i < iterations; ++i) {
            std::vector<std::uint8_t> input(random() % 160);
            for (std::uint8_t& byte : input) byte = static_cast<std::uint8_t>(random());
            run(input);
        }
        std::printf("%ld random inputs (seed %lu): no finding\n", iterations, seed);
        return 0;
    }
    std::size_t replayed = 0;
    for (const std::string& arg : args)
        for (const std::filesystem::path& file : inputs_under(arg)) {
            std::ifstream in(file, std::ios::binary);
            const std::vector<std::uint8_t> input{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
            std::fprintf(stderr, "replaying %s\n", file.c_str());
            run(input);
            ++replayed;
        }
    std::printf("%zu inputs replayed: no finding\n", replayed);
    return 0;
}
