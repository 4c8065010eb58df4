// The engine API the Python package stands on: progress and cancellation (RunControl), the output
// layers through a sink, staffing layers loaded again, the coordinate grid.
#include <civgrid/data/synth.hpp>
#include <civgrid/engine/pipeline.hpp>
#include <civgrid/error.hpp>
#include <civgrid/io/layer.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>

namespace civgrid::engine {
namespace {

class EngineApi : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        data::SynthConfig synth;
        synth.households = 3000;
        synth.seed = 1;
        data::write_city(data::generate_city(synth), dir_->file("city.gpkg"));
        config_.city = dir_->file("city.gpkg");
        city_ = std::make_unique<City>(load_city(config_));
    }
    static void TearDownTestSuite() { city_.reset(); }
    static inline std::unique_ptr<test::TempDir> dir_ = std::make_unique<test::TempDir>();
    static inline PartitionConfig config_;
    static inline std::unique_ptr<City> city_;
};

TEST_F(EngineApi, PartitionReportsEveryRegionAndGivesTheSameResult) {
    RunControl control;
    const PartitionResult controlled = partition_city(*city_, config_, &control);
    const RunControl::Snapshot snapshot = control.snapshot();
    EXPECT_EQ(snapshot.stages, std::vector<std::string>{"partition"});
    EXPECT_EQ(snapshot.total, city_->regions.size());
    EXPECT_EQ(snapshot.done, snapshot.total);
    const PartitionResult plain = partition_city(*city_, config_);
    ASSERT_EQ(controlled.micro_grids.size(), plain.micro_grids.size());
    for (std::size_t g = 0; g < plain.micro_grids.size(); ++g) {
        EXPECT_EQ(controlled.micro_grids[g].id, plain.micro_grids[g].id);
        EXPECT_EQ(controlled.micro_grids[g].shape.polygon, plain.micro_grids[g].shape.polygon);
    }
}

TEST_F(EngineApi, CancelledPartitionThrowsCancelledError) {
    RunControl control;
    control.cancel();
    try {
        (void)partition_city(*city_, config_, &control);
        FAIL() << "no exception";
    } catch (const CancelledError& error) {
        EXPECT_EQ(error.kind(), Error::Kind::cancelled);
        EXPECT_EQ(exit_code(error.kind()), 130);
    }
}

TEST_F(EngineApi, CancelledWriteLeavesNoFile) {
    const PartitionResult result = partition_city(*city_, config_);
    const algorithms::QualityReport report = assess(*city_, result, config_);
    test::TempDir out;
    RunControl control;
    control.cancel();
    EXPECT_THROW(write_result(out.file("out.gpkg"), *city_, result, report, config_, {}, nullptr, nullptr, &control),
                 CancelledError);
    EXPECT_TRUE(std::filesystem::is_empty(out.path()));
}

TEST_F(EngineApi, ResultLayersAreTheLayersWritten) {
    const PartitionResult result = partition_city(*city_, config_);
    const Staffing staffing = assign_staff(*city_, result, config_);
    const algorithms::QualityReport report = assess(*city_, result, config_);
    std::vector<std::pair<std::string, std::size_t>> layers;
    result_layers(*city_, result, report, config_, {}, &staffing,
                  LayerSink{[&](const io::LayerData& layer) { layers.emplace_back(layer.name, layer.rows.size()); }});
    test::TempDir out;
    RunControl control;
    write_result(out.file("out.gpkg"), *city_, result, report, config_, {}, &staffing, nullptr, &control);
    // The same layers with the same rows (GeoPackage lists attribute tables after spatial layers).
    std::map<std::string, std::size_t> written;
    for (const std::string& name : io::list_layers(out.file("out.gpkg")))
        if (name != "layer_styles")  // the QGIS styles of the layers, not a layer of the result
            written[name] = io::read_layer({out.file("out.gpkg"), name}).size();
    EXPECT_EQ(written, (std::map<std::string, std::size_t>(layers.begin(), layers.end())));
    EXPECT_EQ(written.size(), layers.size());
    EXPECT_TRUE(written.contains("worker_assignments") && written.contains("run_info"));
    EXPECT_EQ(control.snapshot().stages, std::vector<std::string>{"write"});
    EXPECT_EQ(control.snapshot().done, layers.size());
    EXPECT_EQ(layers.front().first, "micro_grids");
    EXPECT_EQ(layers.front().second, result.micro_grids.size());
}

TEST_F(EngineApi, StaffLayersLoadIntoAPartitionedCity) {
    PartitionConfig bare = config_;
    bare.staffing = false;
    City city = load_city(bare);
    EXPECT_EQ(city.workers.size(), 0u);
    const PartitionResult result = partition_city(city, bare);
    load_staff_layers(city, config_);
    EXPECT_EQ(city.workers.size(), city_->workers.size());
    EXPECT_EQ(city.stations.size(), city_->stations.size());
    EXPECT_EQ(city.worker_points, city_->worker_points);
    const Staffing staffing = assign_staff(city, result, config_);
    EXPECT_TRUE(staffing.present);
    EXPECT_TRUE(staffing.workers.unstaffed.empty());
    EXPECT_EQ(staffing.workers.assignments.size(), result.micro_grids.size());
}

TEST_F(EngineApi, CoordinatesLieOnTheGrid) {
    PartitionConfig fine = config_;
    fine.coordinate_grid = 0.5;  // coarse enough to see in every vertex
    const City coarse = load_city(fine);
    std::size_t checked = 0;
    for (const Wkb& wkb : coarse.buildings.geometries) {
        // ISO WKB polygon, little endian: 1 + 4 type + 4 rings + 4 points, then x, y doubles.
        ASSERT_GE(wkb.size(), 13u + 16u);
        ASSERT_EQ(wkb[0], 1);  // little endian
        ASSERT_EQ(wkb[1], 3);  // polygon
        for (std::size_t at = 13; at + 16 <= wkb.size() && at < 13 + 16 * 4; at += 16) {
            double x = 0, y = 0;
            std::memcpy(&x, wkb.data() + at, 8);
            std::memcpy(&y, wkb.data() + at + 8, 8);
            EXPECT_DOUBLE_EQ(x * 2, std::round(x * 2));
            EXPECT_DOUBLE_EQ(y * 2, std::round(y * 2));
            ++checked;
        }
    }
    EXPECT_GT(checked, 1000u);
}

}  // namespace
}  // namespace civgrid::engine
