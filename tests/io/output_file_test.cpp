// Output files that cannot destroy data: the output-is-an-input check, non-regular outputs,
// reservations (stale temporaries of killed runs, a live second writer) and signal clean-up.
#include <civgrid/error.hpp>
#include <civgrid/io/layer.hpp>
#include <civgrid/io/output_file.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

namespace civgrid::io {
namespace {

using test::message_of;
using test::TempDir;
namespace fs = std::filesystem;

void touch(const std::string& path, const std::string& text = "data") {
    std::ofstream(path) << text;
}

std::vector<std::string> temporaries_in(const TempDir& dir) {
    std::vector<std::string> found;
    for (const auto& entry : fs::directory_iterator(dir.path()))
        if (entry.path().filename().string().find(".tmp-") != std::string::npos)
            found.push_back(entry.path().filename().string());
    return found;
}

TEST(CheckOutputPath, RefusesEveryInputHoweverSpelled) {
    TempDir dir;
    const std::string city = dir.file("city.gpkg");
    touch(city);
    const std::vector<NamedSource> inputs = {{"city", city}};
    std::string message = message_of<ConfigError>([&] { check_output_path(city, inputs); });
    EXPECT_CONTAINS(message, "'" + city + "'");
    EXPECT_CONTAINS(message, "city input");
    // Another spelling, a hard link and a symbolic link to the input.
    const std::string dotted = (dir.path() / "." / "city.gpkg").string();
    EXPECT_CONTAINS(message_of<ConfigError>([&] { check_output_path(dotted, inputs); }), "destroy the input");
    fs::create_hard_link(city, dir.file("hard.gpkg"));
    EXPECT_CONTAINS(message_of<ConfigError>([&] { check_output_path(dir.file("hard.gpkg"), inputs); }), "city input");
    fs::create_symlink(city, dir.file("link.gpkg"));
    EXPECT_CONTAINS(message_of<ConfigError>([&] { check_output_path(dir.file("link.gpkg"), inputs); }), "city input");
    // Any other path is fine, existing or not.
    touch(dir.file("old-out.gpkg"));
    EXPECT_NO_THROW(check_output_path(dir.file("old-out.gpkg"), inputs));
    EXPECT_NO_THROW(check_output_path(dir.file("new-out.gpkg"), inputs));
}

TEST(CheckOutputPath, RefusesEveryFileOfAShapefileArchiveOrDirectory) {
    TempDir dir;
    for (const char* extension : {".shp", ".shx", ".dbf", ".prj"}) touch(dir.file(std::string("roads") + extension));
    const std::vector<NamedSource> inputs = {{"roads", dir.file("roads.shp")}};
    for (const char* extension : {".shp", ".shx", ".dbf", ".prj", ".cpg"}) {
        const std::string output = dir.file(std::string("roads") + extension);
        const std::string message = message_of<ConfigError>([&] { check_output_path(output, inputs); });
        EXPECT_CONTAINS(message, "roads input");
        EXPECT_CONTAINS(message, "roads.shp");
    }
    EXPECT_NO_THROW(check_output_path(dir.file("roads.gpkg"), inputs));

    touch(dir.file("admin.zip"));
    EXPECT_CONTAINS(message_of<ConfigError>([&] {
                        check_output_path(dir.file("admin.zip"),
                                          {{"communities", "/vsizip/" + dir.file("admin.zip") + "/admin.shp"}});
                    }),
                    "communities input");
    fs::create_directory(dir.file("layers"));
    touch(dir.file("layers/rivers.geojson"));
    EXPECT_CONTAINS(message_of<ConfigError>([&] {
                        check_output_path(dir.file("layers/rivers.geojson"), {{"rivers", dir.file("layers")}});
                    }),
                    "rivers input");
    EXPECT_TRUE(files_of_source("/vsimem/x.fgb").empty());
    EXPECT_TRUE(files_of_source("PG:dbname=city").empty());
}

TEST(CheckOutputPath, RefusesLinksDirectoriesDevicesAndFifos) {
    TempDir dir;
    touch(dir.file("elsewhere.gpkg"));
    fs::create_symlink(dir.file("elsewhere.gpkg"), dir.file("link.gpkg"));
    std::string message = message_of<ConfigError>([&] { check_output_path(dir.file("link.gpkg"), {}); });
    EXPECT_CONTAINS(message, "symbolic link");
    EXPECT_CONTAINS(message, "elsewhere.gpkg");
    EXPECT_CONTAINS(message_of<ConfigError>([&] { check_output_path(dir.path().string(), {}); }), "a directory");
    EXPECT_CONTAINS(message_of<ConfigError>([&] { check_output_path("/dev/null", {}); }), "a device");
    ASSERT_EQ(::mkfifo(dir.file("pipe").c_str(), 0600), 0);
    EXPECT_CONTAINS(message_of<ConfigError>([&] { check_output_path(dir.file("pipe"), {}); }), "FIFO");
    // The writer refuses them as well, whoever calls it, and leaves them as they were.
    EXPECT_CONTAINS(message_of<ConfigError>([&] { GeoPackageWriter writer("/dev/null", "EPSG:4549"); }), "device");
    EXPECT_TRUE(fs::is_character_file("/dev/null"));
    EXPECT_TRUE(fs::is_symlink(dir.file("link.gpkg")));
    EXPECT_TRUE(temporaries_in(dir).empty());
}

TEST(OutputReservation, RemovesTemporariesOfDeadProcessesAndReportsThem) {
    TempDir dir;
    const std::string output = dir.file("out.gpkg");
    // A process that existed and is gone: a child that exited.
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    ASSERT_GT(child, 0);
    ::waitpid(child, nullptr, 0);
    const std::string stale = output + ".tmp-" + std::to_string(child) + "-7.gpkg";
    touch(stale);
    touch(stale + "-journal");
    touch(dir.file("unrelated.gpkg.tmp-1-1.gpkg"));  // another output's: left alone
    {
        OutputReservation reservation(output);
        ASSERT_EQ(reservation.removed_stale().size(), 1u);
        EXPECT_EQ(reservation.removed_stale()[0], stale);
        ASSERT_EQ(reservation.warnings().size(), 1u);
        EXPECT_CONTAINS(reservation.warnings()[0], "killed");
        EXPECT_FALSE(fs::exists(stale));
        EXPECT_FALSE(fs::exists(stale + "-journal"));
        EXPECT_TRUE(fs::exists(reservation.temp_path()));
    }
    EXPECT_TRUE(fs::exists(dir.file("unrelated.gpkg.tmp-1-1.gpkg")));
    EXPECT_FALSE(fs::exists(output));
    EXPECT_EQ(temporaries_in(dir), std::vector<std::string>{"unrelated.gpkg.tmp-1-1.gpkg"});
}

TEST(OutputReservation, APidReusedByAnotherProcessIsNotAWriter) {
    TempDir dir;
    const std::string output = dir.file("out.gpkg");
    // Our parent is alive, but the file was last written (back-dated 30 years) long before the
    // parent started: the pid was reused, and the file is a killed run's.
    const std::string stale = output + ".tmp-" + std::to_string(::getppid()) + "-5.gpkg";
    touch(stale);
    fs::last_write_time(stale, fs::file_time_type::clock::now() - std::chrono::hours(24 * 365 * 30));
    OutputReservation reservation(output);
    EXPECT_EQ(reservation.removed_stale(), std::vector<std::string>{stale});
    EXPECT_FALSE(fs::exists(stale));
}

TEST(OutputReservation, RefusesASecondLiveWriterOfTheSameOutput) {
    TempDir dir;
    const std::string output = dir.file("out.gpkg");
    touch(output, "previous result");
    {
        OutputReservation first(output);
        const std::string message = message_of<IoError>([&] { OutputReservation second(output); });
        EXPECT_CONTAINS(message, "another run");
        EXPECT_CONTAINS(message, first.temp_path());
    }
    // Another live process (our parent) writing it.
    const std::string foreign = output + ".tmp-" + std::to_string(::getppid()) + "-3.gpkg";
    touch(foreign);
    EXPECT_CONTAINS(message_of<IoError>([&] { OutputReservation third(output); }),
                    "process " + std::to_string(::getppid()));
    EXPECT_TRUE(fs::exists(foreign));  // a live writer's file is never removed
    fs::remove(foreign);
    std::ifstream in(output);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "previous result");
    OutputReservation after(output);  // free again
    EXPECT_TRUE(after.removed_stale().empty());
}

TEST(OutputReservation, CommitRenamesAndAMissingDirectoryIsIoError) {
    TempDir dir;
    const std::string output = dir.file("out.gpkg");
    {
        OutputReservation reservation(output);
        touch(reservation.temp_path(), "new");
        reservation.commit();
    }
    EXPECT_TRUE(fs::exists(output));
    EXPECT_TRUE(temporaries_in(dir).empty());
    EXPECT_CONTAINS(message_of<IoError>([&] { OutputReservation r(dir.file("missing/out.gpkg")); }), "does not exist");
}

// A child reserves an output, then is stopped by `signal_number` while "writing": the handler removes
// its temporary file and the signal still ends it.
void expect_signal_cleans_up(int signal_number) {
    TempDir dir;
    const std::string output = dir.file("out.gpkg");
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::signal(signal_number, SIG_DFL);
        remove_temporary_files_on_signals();
        OutputReservation reservation(output);
        std::ofstream(reservation.temp_path() + "-journal") << "journal";
        const char byte = 1;
        if (::write(ready[1], &byte, 1) != 1) ::_exit(3);
        ::pause();
        ::_exit(2);
    }
    char byte = 0;
    ASSERT_EQ(::read(ready[0], &byte, 1), 1);
    ASSERT_EQ(temporaries_in(dir).size(), 2u);
    ::kill(child, signal_number);
    int status = 0;
    ::waitpid(child, &status, 0);
    ::close(ready[0]);
    ::close(ready[1]);
    EXPECT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(WTERMSIG(status), signal_number);
    EXPECT_TRUE(temporaries_in(dir).empty()) << temporaries_in(dir).front();
    EXPECT_FALSE(fs::exists(output));
}

TEST(OutputReservation, SigintSigtermAndSighupRemoveTheTemporaryFile) {
    expect_signal_cleans_up(SIGINT);
    expect_signal_cleans_up(SIGTERM);
    expect_signal_cleans_up(SIGHUP);
}

}  // namespace
}  // namespace civgrid::io
