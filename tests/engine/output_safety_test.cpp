// The CLI never loses a user's data: an output that is an input is refused before any work, links
// and devices are refused, a killed run's temporary file is removed (by its signal handler, or by
// the next run after SIGKILL), and a second run writing the same output is told.
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>

namespace civgrid::test {
namespace {

namespace fs = std::filesystem;
const std::string kCivgrid = civgrid_cli();

int run(const std::string& arguments, std::string& output, const TempDir& dir) {
    return run_cli(arguments, output, dir);
}

std::string read_all(const std::string& path) {
    return file_bytes(path);
}

std::vector<std::string> temporaries_in(const fs::path& directory) {
    std::vector<std::string> found;
    for (const auto& entry : fs::directory_iterator(directory))
        if (entry.path().filename().string().find(".tmp-") != std::string::npos)
            found.push_back(entry.path().filename().string());
    return found;
}

// Starts the CLI in the background (stdout and stderr to `log`); returns its pid.
pid_t spawn(const std::vector<std::string>& arguments, const std::string& log) {
    const pid_t child = ::fork();
    if (child == 0) {
        ::signal(SIGINT, SIG_DFL);  // a background job may inherit SIGINT ignored
        std::FILE* out = std::freopen(log.c_str(), "w", stdout);
        if (out == nullptr || ::dup2(::fileno(stdout), 2) < 0) ::_exit(126);
        std::vector<char*> argv{const_cast<char*>(kCivgrid.c_str())};
        for (const std::string& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
        argv.push_back(nullptr);
        ::execv(kCivgrid.c_str(), argv.data());
        ::_exit(127);
    }
    return child;
}

// Waits until a temporary file of the run appears beside its output (the run has reserved it).
bool wait_for_temporary(const fs::path& directory) {
    for (int i = 0; i < 2000; ++i) {
        if (!temporaries_in(directory).empty()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
}

class OutputSafety : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        city_dir_ = std::make_unique<TempDir>();  // shared by the suite's tests
        std::string output;
        ASSERT_EQ(run("synth --households 120000 --seed 3 -o " + city(), output, *city_dir_), 0) << output;
    }
    static void TearDownTestSuite() { city_dir_.reset(); }
    static std::string city() { return city_dir_->file("city.gpkg"); }
    static std::unique_ptr<TempDir> city_dir_;
};
std::unique_ptr<TempDir> OutputSafety::city_dir_;

TEST_F(OutputSafety, OutputThatIsAnInputIsRefusedAndTheInputKept) {
    TempDir dir;
    fs::copy_file(city(), dir.file("city.gpkg"));
    const std::string input = dir.file("city.gpkg");
    const std::string before = read_all(input);
    std::string output;
    EXPECT_EQ(run("partition " + input + " -o " + input, output, dir), 2) << output;
    EXPECT_CONTAINS(output, "is the city input");
    EXPECT_EQ(run("partition " + input + " -o " + dir.path().string() + "/./city.gpkg", output, dir), 2) << output;
    // A layer given separately from another file, and a Shapefile's sidecar.
    ASSERT_EQ(
        std::system(("ogr2ogr -f 'ESRI Shapefile' " + dir.file("buildings.shp") + " " + input + " buildings").c_str()),
        0);
    const std::string dbf = read_all(dir.file("buildings.dbf"));
    EXPECT_EQ(
        run("partition " + input + " --buildings " + dir.file("buildings.shp") + " -o " + dir.file("buildings.shp"),
            output, dir),
        2)
        << output;
    EXPECT_CONTAINS(output, "buildings input");
    EXPECT_EQ(
        run("partition " + input + " --buildings " + dir.file("buildings.shp") + " -o " + dir.file("buildings.dbf"),
            output, dir),
        2)
        << output;
    EXPECT_EQ(read_all(input), before);
    EXPECT_EQ(read_all(dir.file("buildings.dbf")), dbf);
    // A rerun writing over its previous run.
    ASSERT_EQ(run("partition " + input + " -q -o " + dir.file("out.gpkg"), output, dir), 0) << output;
    const std::string previous = read_all(dir.file("out.gpkg"));
    EXPECT_EQ(run("repartition --previous " + dir.file("out.gpkg") + " " + input + " -o " + dir.file("out.gpkg"),
                  output, dir),
              2)
        << output;
    EXPECT_CONTAINS(output, "previous input");
    EXPECT_EQ(read_all(dir.file("out.gpkg")), previous);
    EXPECT_TRUE(temporaries_in(dir.path()).empty());
}

TEST_F(OutputSafety, LinksAndDevicesAreRefused) {
    TempDir dir;
    std::string output;
    fs::create_symlink(dir.file("target.gpkg"), dir.file("link.gpkg"));
    EXPECT_EQ(run("partition " + city() + " -o " + dir.file("link.gpkg"), output, dir), 2) << output;
    EXPECT_CONTAINS(output, "symbolic link");
    EXPECT_TRUE(fs::is_symlink(dir.file("link.gpkg")));
    EXPECT_EQ(run("partition " + city() + " -o /dev/null", output, dir), 2) << output;
    EXPECT_CONTAINS(output, "device");
    EXPECT_TRUE(fs::is_character_file("/dev/null"));
    EXPECT_FALSE(fs::exists(dir.file("target.gpkg")));
}

// SIGINT and SIGTERM during the run: the temporary file goes with the process, and an older
// output stays as it was. SIGKILL cannot be caught: the next run removes the file and says so.
TEST_F(OutputSafety, KilledRunsLeaveNoTemporaryBehind) {
    TempDir dir;
    std::string output;
    const std::string out = dir.file("out.gpkg");
    ASSERT_EQ(run("partition " + city() + " -q -o " + out, output, dir), 0) << output;
    const std::string previous = read_all(out);
    for (const int signal_number : {SIGINT, SIGTERM, SIGKILL}) {
        const pid_t child = spawn({"partition", city(), "-o", out}, dir.file("run.log"));
        ASSERT_TRUE(wait_for_temporary(dir.path()));
        std::this_thread::sleep_for(
            std::chrono::milliseconds(100));  // into the load or the partition (about 1 s in all)
        ::kill(child, signal_number);
        int status = 0;
        ::waitpid(child, &status, 0);
        ASSERT_TRUE(WIFSIGNALED(status)) << "signal " << signal_number << ": the run finished first";
        EXPECT_EQ(WTERMSIG(status), signal_number);
        EXPECT_EQ(read_all(out), previous);
        if (signal_number != SIGKILL) {
            EXPECT_TRUE(temporaries_in(dir.path()).empty()) << "signal " << signal_number;
        }
    }
    const auto left = temporaries_in(dir.path());
    ASSERT_FALSE(left.empty());  // SIGKILL's
    ASSERT_EQ(run("partition " + city() + " -o " + out, output, dir), 0) << output;
    EXPECT_CONTAINS(output, "warning: removed '" + dir.file(left.front()) + "'");
    EXPECT_TRUE(temporaries_in(dir.path()).empty());
}

TEST_F(OutputSafety, ASecondRunWritingTheSameOutputIsTold) {
    TempDir dir;
    std::string output;
    const std::string out = dir.file("out.gpkg");
    const pid_t first = spawn({"partition", city(), "-o", out}, dir.file("first.log"));
    ASSERT_TRUE(wait_for_temporary(dir.path()));
    EXPECT_EQ(run("partition " + city() + " -o " + out, output, dir), 4) << output;
    EXPECT_CONTAINS(output, "another run (process " + std::to_string(first) + ") is writing '" + out + "'");
    int status = 0;
    ::waitpid(first, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << read_all(dir.file("first.log"));
    EXPECT_TRUE(fs::exists(out));
    EXPECT_TRUE(temporaries_in(dir.path()).empty());
}

}  // namespace
}  // namespace civgrid::test
