// Reading an output back trusts nothing in the file (issue 14): `civgrid report` and `repartition
// --previous` on outputs edited the way the fuzz targets found them broken end in an InputError
// naming the file, the layer, the feature and the field, never in a heap overflow, a GEOS failure
// (exit 1) or an integer overflow; a worker's or station's absurd capacity changes nothing.
#include <civgrid/data/synth.hpp>
#include <civgrid/engine/pipeline.hpp>
#include <civgrid/engine/repartition.hpp>
#include <civgrid/error.hpp>
#include <civgrid/io/layer.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <cpl_error.h>
#include <gdal.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace civgrid::engine {
namespace {

// Runs SQL statements on a GeoPackage (SQLite stores whatever it is given, whatever the column's
// declared type: the edits a corrupt or hand-edited file holds).
void edit(const std::string& path, const std::vector<std::string>& statements) {
    GDALAllRegister();
    const std::unique_ptr<void, decltype(&GDALClose)> dataset(
        GDALOpenEx(path.c_str(), GDAL_OF_VECTOR | GDAL_OF_UPDATE, nullptr, nullptr, nullptr), &GDALClose);
    ASSERT_TRUE(dataset) << path;
    for (const std::string& sql : statements) {
        CPLErrorReset();
        if (OGRLayerH result = GDALDatasetExecuteSQL(dataset.get(), sql.c_str(), nullptr, nullptr))
            GDALDatasetReleaseResultSet(dataset.get(), result);
        ASSERT_EQ(CPLGetLastErrorType(), CE_None) << sql << ": " << CPLGetLastErrorMsg();
    }
}

// A 1,000-household city with workers and stations, partitioned once for the whole suite.
class ReadBack : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        folder_ = std::make_unique<test::TempDir>();
        data::SynthConfig synth;
        synth.households = 1000;
        synth.seed = 3;
        data::write_city(data::generate_city(synth), folder_->file("city.gpkg"));
        PartitionConfig config;
        config.city = folder_->file("city.gpkg");
        (void)run_partition(config, folder_->file("output.gpkg"));
    }
    static void TearDownTestSuite() { folder_.reset(); }

    // A copy of the output with `statements` applied.
    std::string edited_output(const std::vector<std::string>& statements) {
        const std::string path = dir_.file("edited.gpkg");
        std::filesystem::copy_file(folder_->file("output.gpkg"), path,
                                   std::filesystem::copy_options::overwrite_existing);
        edit(path, statements);
        return path;
    }
    std::string report_error(const std::vector<std::string>& statements) {
        const std::string path = edited_output(statements);
        return test::message_of<InputError>([&] { (void)report_file(path, 1); });
    }
    std::string rerun_error(const std::vector<std::string>& statements) {
        const std::string path = edited_output(statements);
        PartitionConfig config;
        config.city = folder_->file("city.gpkg");
        config.threads = 1;
        return test::message_of<InputError>([&] { (void)run_repartition(config, path, {}, dir_.file("rerun.gpkg")); });
    }

    static std::unique_ptr<test::TempDir> folder_;
    test::TempDir dir_;
};
std::unique_ptr<test::TempDir> ReadBack::folder_;

TEST_F(ReadBack, ReportOnAnOutputMissingAFieldNamesTheLayerAndField) {
    // Was a heap read past the row (field index -1) and exit 0 with a report made of that memory.
    const std::string message = report_error({"ALTER TABLE micro_grids RENAME COLUMN households TO hh"});
    EXPECT_CONTAINS(message, "layer 'micro_grids'");
    EXPECT_CONTAINS(message, "no field 'households'");
    EXPECT_CONTAINS(report_error({"ALTER TABLE communities DROP COLUMN community_code"}),
                    "layer 'communities': no field 'community_code'");
    EXPECT_CONTAINS(report_error({"ALTER TABLE run_info RENAME COLUMN value TO v"}),
                    "layer 'run_info': no field 'value'");
}

TEST_F(ReadBack, ReportDiagnosesNullAndInvalidCommunityGeometries) {
    // Were GEOS failures (exit 1: "reading WKB failed", TopologyException) naming nothing.
    std::string message = report_error({"UPDATE communities SET geom = NULL WHERE fid = 2"});
    EXPECT_CONTAINS(message, "layer 'communities', feature 2");
    EXPECT_CONTAINS(message, "no geometry");
    // A bow tie: the feature's GeoPackage header (flags set to no envelope), then its WKB.
    message =
        report_error({"UPDATE communities SET geom = substr(geom, 1, 3) || X'01' || substr(geom, 5, 4) || "
                      "X'0103000000010000000500000000000000000000000000000000000000000000000000244000000000000024400000"
                      "00000000244000000000000000000000000000000000000000000000244000000000000000000000000000000000' "
                      "WHERE fid = 1"});
    EXPECT_CONTAINS(message, "layer 'communities', feature 1");
    EXPECT_CONTAINS(message, "invalid polygon");
    message = report_error({"UPDATE micro_grids SET geom = NULL WHERE fid = 3"});
    EXPECT_CONTAINS(message, "layer 'micro_grids', feature 3");
}

TEST_F(ReadBack, ReportRejectsAbsurdCountsAndParameters) {
    std::string message = report_error({"UPDATE micro_grids SET households = 9223372036854775807 WHERE fid = 4"});
    EXPECT_CONTAINS(message, "layer 'micro_grids', feature 4, field 'households'");
    EXPECT_CONTAINS(message, "9223372036854775807");
    message = report_error({"UPDATE micro_grids SET households = NULL WHERE fid = 5"});
    EXPECT_CONTAINS(message, "feature 5, field 'households': NULL");
    message = report_error({"UPDATE micro_grids SET target = -1 WHERE fid = 6"});
    EXPECT_CONTAINS(message, "feature 6, field 'target'");
    message = report_error({"UPDATE run_info SET value = '0' WHERE key = 'effective_target'"});
    EXPECT_CONTAINS(message, "key 'parameters.effective_target'");
    message = report_error({"UPDATE run_info SET value = 'nan' WHERE key = 'tolerance'"});
    EXPECT_CONTAINS(message, "key 'parameters.tolerance'");
}

TEST_F(ReadBack, AnUneditedOutputStillReportsAsWritten) {
    const algorithms::QualityReport report = report_file(edited_output({}), 1);
    EXPECT_GT(report.micro_grids, 0);
    EXPECT_EQ(report.invalid_polygons, 0);
    EXPECT_EQ(report.outside_region, 0);
}

TEST_F(ReadBack, RerunCountsAbsurdPreviousHouseholdsAsImportDoes) {
    // Households near INT64_MAX in the previous buildings overflowed the rerun's sums (UBSan in
    // algorithms/src/repartition.cpp); like the import, such a value now counts as 0.
    const std::string previous =
        edited_output({"UPDATE buildings SET households = 9223372036854775807 WHERE fid IN (1, 2, 3)",
                       "UPDATE buildings SET households = 9223372036854775000 WHERE fid IN (4, 5)"});
    PartitionConfig config;
    config.city = folder_->file("city.gpkg");
    config.threads = 1;
    const RepartitionSummary rerun = run_repartition(config, previous, {}, dir_.file("rerun.gpkg"));
    EXPECT_EQ(rerun.run.report.invalid_polygons, 0);
    EXPECT_GT(rerun.changes.micro_grids_kept, 0);
}

TEST_F(ReadBack, RerunRejectsCorruptSplitHouseholdsAndGeometries) {
    std::string message = rerun_error(
        {"UPDATE buildings SET split_micro_grids = (SELECT group_concat(micro_grid_id, ';') FROM "
         "(SELECT micro_grid_id FROM micro_grids LIMIT 2)), split_households = '9223372036854775807;1' WHERE fid = 7"});
    EXPECT_CONTAINS(message, "layer 'buildings', feature 7, field 'split_households'");
    message = rerun_error({"UPDATE micro_grids SET geom = NULL WHERE fid = 2"});
    EXPECT_CONTAINS(message, "layer 'micro_grids', feature 2: no geometry");
    message = rerun_error({"UPDATE grids SET geom = NULL WHERE fid = 1"});
    EXPECT_CONTAINS(message, "layer 'grids', feature 1: no geometry");
}

TEST_F(ReadBack, AbsurdWorkerAndStationCapacitiesChangeNothing) {
    // A capacity of INT64_MAX means "any number": the same assignments as a capacity of a million.
    auto staffed = [&](const std::string& capacity) {
        const std::string city = dir_.file("city-" + capacity + ".gpkg");
        std::filesystem::copy_file(folder_->file("city.gpkg"), city, std::filesystem::copy_options::overwrite_existing);
        edit(city, {"UPDATE workers SET max_micro_grids = " + capacity + " WHERE fid <= 3",
                    "UPDATE stations SET capacity_households = " + capacity + " WHERE fid <= 3"});
        PartitionConfig config;
        config.city = city;
        config.threads = 1;
        return run_partition(config, dir_.file("staffed-" + capacity + ".gpkg"));
    };
    const RunSummary huge = staffed("9223372036854775807"), large = staffed("1000000");
    ASSERT_EQ(huge.staffing.workers.assignments.size(), large.staffing.workers.assignments.size());
    ASSERT_EQ(huge.staffing.utilities.size(), large.staffing.utilities.size());
    for (std::size_t u = 0; u < huge.staffing.utilities.size(); ++u)
        EXPECT_EQ(huge.staffing.utilities[u].result.station, large.staffing.utilities[u].result.station);
}

}  // namespace
}  // namespace civgrid::engine
