// The civgrid executable: exit codes, help and the report command.
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace civgrid::test {
namespace {

// Runs the CLI; returns its exit code and fills `output` with stdout + stderr.
int run(const std::string& arguments, std::string& output, const TempDir& dir) {
    return run_cli(arguments, output, dir);
}

TEST(Cli, HelpAndVersion) {
    TempDir dir;
    std::string output;
    EXPECT_EQ(run("--help", output, dir), 0);
    EXPECT_NE(output.find("Exit codes"), std::string::npos);
    EXPECT_EQ(run("partition --help", output, dir), 0);
    for (const char* option : {"--target-households", "--micro-grids", "--hard-barriers", "--buildings",
                               "--households-field", "--crs", "--threads"})
        EXPECT_NE(output.find(option), std::string::npos) << option;
    EXPECT_EQ(run("--version", output, dir), 0);
    EXPECT_NE(output.find("GEOS"), std::string::npos);
}

TEST(Cli, SynthPartitionReport) {
    TempDir dir;
    std::string output;
    ASSERT_EQ(run("synth --households 20000 --seed 9 -o " + dir.file("city.gpkg"), output, dir), 0) << output;
    ASSERT_EQ(run("partition " + dir.file("city.gpkg") + " -o " + dir.file("out.gpkg"), output, dir), 0) << output;
    EXPECT_NE(output.find("crossing a hard barrier           0"), std::string::npos) << output;
    EXPECT_NE(output.find("distance (straight line)"), std::string::npos) << output;
    ASSERT_EQ(run("partition " + dir.file("city.gpkg") + " -o " + dir.file("roads.gpkg") + " --network-distance",
                  output, dir),
              0)
        << output;
    EXPECT_NE(output.find("distance (along the roads)"), std::string::npos) << output;
    std::string report;
    ASSERT_EQ(run("report " + dir.file("out.gpkg"), report, dir), 0) << report;
    EXPECT_NE(report.find("non-contiguous                    0"), std::string::npos) << report;
}

TEST(Cli, ExitCodesAndNoPartialOutput) {
    TempDir dir;
    std::string output;
    EXPECT_EQ(run("partition", output, dir), 2) << output;  // missing -o
    EXPECT_EQ(run("partition x.gpkg -o y.gpkg --tolerance abc", output, dir), 2) << output;
    EXPECT_EQ(run("frobnicate", output, dir), 2) << output;
    EXPECT_EQ(run("partition " + dir.file("missing.gpkg") + " -o " + dir.file("out.gpkg"), output, dir), 4) << output;
    EXPECT_NE(output.find("missing.gpkg"), std::string::npos) << output;
    ASSERT_EQ(run("synth --households 20000 -o " + dir.file("city.gpkg"), output, dir), 0) << output;
    EXPECT_EQ(run("partition " + dir.file("city.gpkg") + " -o " + dir.file("out.gpkg") + " --households-field nope",
                  output, dir),
              3)
        << output;
    EXPECT_NE(output.find("nope"), std::string::npos) << output;
    EXPECT_EQ(run("partition " + dir.file("city.gpkg") + " -o " + dir.file("out.gpkg") + " --hard-barriers 'lakes:x'",
                  output, dir),
              2);
    EXPECT_FALSE(std::filesystem::exists(dir.file("out.gpkg")));
    for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
        EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos)
            << "temporary file left: " << entry.path();
    EXPECT_EQ(run("partition " + dir.file("city.gpkg") + " -o /nonexistent-dir/out.gpkg", output, dir), 4) << output;
}

}  // namespace
}  // namespace civgrid::test

namespace civgrid::test {
namespace {

TEST(Cli, RepartitionAfterAChange) {
    TempDir dir;
    std::string output;
    ASSERT_EQ(run("synth --households 20000 --seed 6 -o " + dir.file("a.gpkg"), output, dir), 0) << output;
    ASSERT_EQ(run("synth --households 20000 --seed 6 --change demolition -o " + dir.file("b.gpkg"), output, dir), 0)
        << output;
    EXPECT_NE(output.find("households directly affected"), std::string::npos) << output;
    ASSERT_EQ(run("partition " + dir.file("a.gpkg") + " -o " + dir.file("first.gpkg") + " -q", output, dir), 0)
        << output;
    ASSERT_EQ(run("repartition --previous " + dir.file("first.gpkg") + " " + dir.file("b.gpkg") + " -o " +
                      dir.file("second.gpkg"),
                  output, dir),
              0)
        << output;
    EXPECT_NE(output.find("Rerun against"), std::string::npos) << output;
    EXPECT_NE(output.find("non-contiguous                    0"), std::string::npos) << output;
    // A lock on an id the previous run lacks, or no --previous: invalid options, nothing written.
    EXPECT_EQ(run("repartition --previous " + dir.file("first.gpkg") + " " + dir.file("b.gpkg") + " -o " +
                      dir.file("third.gpkg") + " --lock nope",
                  output, dir),
              2)
        << output;
    EXPECT_NE(output.find("nope"), std::string::npos) << output;
    EXPECT_EQ(run("repartition " + dir.file("b.gpkg") + " -o " + dir.file("third.gpkg"), output, dir), 2) << output;
    EXPECT_FALSE(std::filesystem::exists(dir.file("third.gpkg")));
    // --previous must be a civgrid output.
    EXPECT_EQ(
        run("repartition --previous " + dir.file("a.gpkg") + " " + dir.file("b.gpkg") + " -o " + dir.file("third.gpkg"),
            output, dir),
        3)
        << output;
    EXPECT_NE(output.find("not a civgrid output"), std::string::npos) << output;
}

}  // namespace
}  // namespace civgrid::test
