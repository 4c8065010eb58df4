// End to end on generated cities: the guarantees of issue 2 on real outputs.
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/data/organic.hpp>
#include <civgrid/data/synth.hpp>
#include <civgrid/engine/pipeline.hpp>
#include <civgrid/error.hpp>
#include <civgrid/io/layer.hpp>

#include "synth_file.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

namespace civgrid::engine {
namespace {

std::string generate(const test::TempDir& dir, std::int64_t households, std::uint64_t seed) {
    return test::synth_city_file(dir, households, seed);
}

void expect_guarantees(const algorithms::QualityReport& report) {
    EXPECT_EQ(report.non_contiguous, 0);
    EXPECT_EQ(report.barrier_crossings, 0);
    EXPECT_EQ(report.outside_region, 0);
    EXPECT_EQ(report.invalid_polygons, 0);
    EXPECT_EQ(report.empty, 0);
    EXPECT_LT(report.max_region_gap_overlap_m2, 1.0);
    EXPECT_EQ(report.buildings_unassigned, 0);
    ASSERT_GT(report.requested, 0);
    EXPECT_LE(std::abs(static_cast<double>(report.micro_grids - report.requested)),
              0.01 * static_cast<double>(report.requested));
}

TEST(Pipeline, SampleCitiesMeetEveryGuarantee) {
    test::TempDir dir;
    for (std::uint64_t seed : {1u, 2u, 3u}) {
        PartitionConfig config;
        config.city = generate(dir, 30'000, seed);
        const RunSummary summary = run_partition(config, dir.file("out.gpkg"));
        SCOPED_TRACE("seed " + std::to_string(seed));
        expect_guarantees(summary.report);
        EXPECT_GE(summary.report.share_within_20, 0.8);
        // The report recomputed from the file agrees with the one printed.
        const algorithms::QualityReport again = report_file(dir.file("out.gpkg"));
        EXPECT_EQ(again.micro_grids, summary.report.micro_grids);
        EXPECT_EQ(again.barrier_crossings, summary.report.barrier_crossings);
        EXPECT_NEAR(again.gap_area_m2, summary.report.gap_area_m2, 1e-3);
        EXPECT_DOUBLE_EQ(again.share_within_10, summary.report.share_within_10);
        // The best possible share is an upper bound on the one reached, with each community's
        // bound in the communities layer, read back as it was.
        EXPECT_GE(summary.report.best_share_within_10, summary.report.share_within_10);
        EXPECT_LE(summary.report.best_share_within_10, 1.0);
        EXPECT_DOUBLE_EQ(again.best_share_within_10, summary.report.best_share_within_10);
        ASSERT_EQ(again.largest_gaps.size(), summary.report.largest_gaps.size());
        for (std::size_t i = 0; i < again.largest_gaps.size(); ++i) {
            const auto& gap = again.largest_gaps[i];
            EXPECT_EQ(gap.code, summary.report.largest_gaps[i].code);
            EXPECT_GT(gap.best_within_10, gap.within_10);
            EXPECT_LE(gap.best_within_10, gap.micro_grids);
            if (i > 0) {
                const auto& before = again.largest_gaps[i - 1];
                EXPECT_GE(before.best_within_10 - before.within_10, gap.best_within_10 - gap.within_10);
            }
        }
    }
}

// Cities built unlike the sample (issue 16): small communities, a river cutting them into
// slivers, towers. Every guarantee holds, and balance stays within a floor of the best the counts
// allow (issue 16's goal: a gap of at most 3 points). Here, at 40,000 households, 1.0-1.6 points
// (1.5-3.5 before trades between micro-grids; 8-12 before the window, regrowing and finer tower
// pieces): what is left lies in small pieces whose average is outside +-10 %.
TEST(Pipeline, OrganicCitiesKeepEveryGuaranteeNearTheBound) {
    test::TempDir dir;
    for (std::uint64_t seed : {1u, 2u, 3u}) {
        data::OrganicConfig organic;
        organic.households = 40'000;
        organic.seed = seed;
        PartitionConfig config;
        config.city = dir.file("organic-" + std::to_string(seed) + ".gpkg");
        data::write_city(data::generate_organic_city(organic), config.city);
        const RunSummary summary = run_partition(config, dir.file("out.gpkg"));
        SCOPED_TRACE("organic seed " + std::to_string(seed));
        expect_guarantees(summary.report);
        EXPECT_EQ(summary.report.micro_grids, summary.report.requested);
        EXPECT_GE(summary.report.share_within_10, summary.report.best_share_within_10 - 0.03)
            << summary.report.share_within_10 << " against " << summary.report.best_share_within_10;
        // Compactness from the parts' shapes within the window (0.60-0.61 before it; 0.646-0.662
        // with pairs cut straight across and the stage across grids, 0.63-0.64 before them;
        // 0.655-0.664 with triples split again, 0.648-0.662 before them).
        EXPECT_GE(summary.report.polsby_popper_mean, 0.654) << summary.report.polsby_popper_mean;
        // The bound for plans keeping the balance bounds is a bound too, never above the other.
        EXPECT_LE(summary.report.best_share_within_10_in_bounds, summary.report.best_share_within_10);
        EXPECT_GE(summary.report.best_share_within_10_in_bounds, summary.report.share_within_10);
        // The report's flag counts are the micro_grids layer's flags, counted independently.
        const io::FeatureTable grids = io::read_layer({dir.file("out.gpkg"), "micro_grids"});
        const int flags = grids.field_index("flags");
        ASSERT_GE(flags, 0);
        std::int64_t forced = 0, out_of_bounds = 0, multipart = 0;
        for (const auto& row : grids.rows) {
            const auto* text = std::get_if<std::string>(&row[static_cast<std::size_t>(flags)]);
            if (text == nullptr) continue;
            out_of_bounds += text->find("out_of_bounds") != std::string::npos ? 1 : 0;
            multipart += text->find("multipart") != std::string::npos ? 1 : 0;
            forced += text->find("forced_by_boundaries") != std::string::npos ||
                              text->find("large_building") != std::string::npos ||
                              text->find("no_households") != std::string::npos
                          ? 1
                          : 0;
        }
        EXPECT_EQ(summary.report.flagged, forced);
        EXPECT_EQ(summary.report.flagged_out_of_bounds, out_of_bounds);
        EXPECT_EQ(summary.report.flagged_multipart, multipart);
        EXPECT_GT(forced, 0);  // slivers the river cuts off
    }
}

// Issue 17: a target near --grid-households made every grid one micro-grid. The grid level is
// turned off where a grid could not hold two micro-grids, and the run says so.
TEST(Pipeline, GridLevelOfOneMicroGridPerGridIsTurnedOffAndSaid) {
    test::TempDir dir;
    PartitionConfig config;
    config.city = generate(dir, 30'000, 1);
    config.target_households = 400;
    const RunSummary summary = run_partition(config, dir.file("out.gpkg"));
    EXPECT_EQ(summary.report.grids, 0);
    const auto said = std::find_if(summary.warnings.begin(), summary.warnings.end(), [](const std::string& w) {
        return w.find("no grid level in") != std::string::npos && w.find("--grid-households 400") != std::string::npos;
    });
    EXPECT_NE(said, summary.warnings.end());
    config.target_households = 150;  // two micro-grids fit a grid of 400: the level stays
    EXPECT_GT(run_partition(config, dir.file("out2.gpkg")).report.grids, 0);
}

// Issue 17: without admin layers the region was the buildings' bounding box, and edge micro-grids
// of 27 km2 covered the sea. The region is the settled land now, less the water.
TEST(Pipeline, WithoutAdminLayersMicroGridsCoverTheSettledLandOnly) {
    test::TempDir dir;
    data::OrganicConfig organic;
    organic.households = 60'000;
    data::SynthCity city = data::generate_organic_city(organic);
    // Keep buildings and rivers; empty the western three quarters but for three farms far apart.
    std::erase_if(city.layers, [](const io::LayerData& l) { return l.name != "buildings" && l.name != "rivers"; });
    io::LayerData& buildings = city.layers.back().name == "buildings" ? city.layers.back() : city.layers.front();
    const double middle = city.summary.min_x + 0.75 * (city.summary.max_x - city.summary.min_x);
    geos::Context context;
    io::LayerData kept = buildings;
    kept.geometries.clear();
    kept.rows.clear();
    int farms = 0;
    for (std::size_t i = 0; i < buildings.geometries.size(); ++i) {
        const geos::Geom g = geos::from_wkb(context, buildings.geometries[i]);
        const bool west = geos::envelope(context, g.get()).max_x < middle;
        if (west && (farms >= 3 || i % 499 != 0)) continue;
        farms += west ? 1 : 0;
        kept.geometries.push_back(buildings.geometries[i]);
        kept.rows.push_back(buildings.rows[i]);
    }
    buildings = std::move(kept);
    PartitionConfig config;
    config.city = dir.file("no-admin.gpkg");
    data::write_city(city, config.city);
    const RunSummary summary = run_partition(config, dir.file("out.gpkg"));
    expect_guarantees(summary.report);
    const io::FeatureTable grids = io::read_layer({dir.file("out.gpkg"), "micro_grids"});
    double total = 0, largest = 0;
    for (const Wkb& g : grids.geometries) {
        const double area = geos::area(context, geos::from_wkb(context, g).get());
        total += area;
        largest = std::max(largest, area);
    }
    const double box = (city.summary.max_x - city.summary.min_x) * (city.summary.max_y - city.summary.min_y);
    EXPECT_LT(total, 0.7 * box);  // the empty west is not partitioned (the box was, all of it)
    EXPECT_LT(largest, 0.6e6);    // no micro-grid stretches over empty land (a farm's is its 500 m square)
    // And none lies on the water.
    const io::FeatureTable rivers = io::read_layer({config.city, "rivers"});
    const geos::Geom river = geos::from_wkb(context, rivers.geometries.front());
    double wet = 0;
    for (const Wkb& g : grids.geometries) {
        const geos::Geom both =
            geos::own(context, GEOSIntersection_r(context.handle(), geos::from_wkb(context, g).get(), river.get()), "");
        wet += geos::area(context, both.get());
    }
    EXPECT_LT(wet, 1.0);
}

TEST(Pipeline, OutputHasTheDocumentedLayersAndCodes) {
    test::TempDir dir;
    PartitionConfig config;
    config.city = generate(dir, 30'000, 5);
    (void)run_partition(config, dir.file("out.gpkg"));
    const auto layers = io::list_layers(dir.file("out.gpkg"));
    for (const char* name : {"micro_grids", "grids", "buildings", "communities", "barriers", "run_info"})
        EXPECT_NE(std::find(layers.begin(), layers.end(), name), layers.end()) << name;
    const io::FeatureTable grids = io::read_layer({dir.file("out.gpkg"), "micro_grids"});
    const int id = grids.field_index("micro_grid_id"), community = grids.field_index("community_code");
    const int parent = grids.field_index("grid_id");
    ASSERT_GE(id, 0);
    ASSERT_GE(parent, 0);
    std::set<std::string> ids;
    // Codes follow the hierarchy: community (12 digits) + grid (2) + micro-grid in the grid (2).
    for (const auto& row : grids.rows) {
        const std::string grid_id = std::get<std::string>(row[static_cast<std::size_t>(id)]);
        const std::string code = std::get<std::string>(row[static_cast<std::size_t>(community)]);
        const std::string parent_id = std::get<std::string>(row[static_cast<std::size_t>(parent)]);
        EXPECT_EQ(parent_id.rfind(code, 0), 0u) << parent_id << " does not start with its community code " << code;
        EXPECT_EQ(grid_id.rfind(parent_id, 0), 0u) << grid_id << " does not start with its grid id " << parent_id;
        EXPECT_EQ(parent_id.size(), 14u);
        EXPECT_EQ(grid_id.size(), 16u);
        ids.insert(grid_id);
    }
    EXPECT_EQ(ids.size(), grids.size()) << "micro-grid ids are not unique";
    const io::FeatureTable buildings = io::read_layer({dir.file("out.gpkg"), "buildings"});
    const io::FeatureTable input = io::read_layer({config.city, "buildings"});
    EXPECT_EQ(buildings.size(), input.size());
    EXPECT_GE(buildings.field_index("building_id"), 0);
    const int grid_of_building = buildings.field_index("micro_grid_id");
    for (const auto& row : buildings.rows)
        EXPECT_TRUE(ids.count(std::get<std::string>(row[static_cast<std::size_t>(grid_of_building)])));
    // ogrinfo opens it without a warning.
    const std::string log = dir.file("ogrinfo.txt");
    ASSERT_EQ(std::system(("ogrinfo -al -so " + dir.file("out.gpkg") + " > " + log + " 2>&1").c_str()), 0);
    std::ifstream in(log);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text.find("Warning"), std::string::npos) << text;
}

TEST(Pipeline, SameOutputForOneAndTwoThreads) {
    test::TempDir dir;
    PartitionConfig config;
    config.city = generate(dir, 30'000, 4);
    config.threads = 1;
    (void)run_partition(config, dir.file("one.gpkg"));
    config.threads = 2;
    (void)run_partition(config, dir.file("two.gpkg"));
    const io::FeatureTable one = io::read_layer({dir.file("one.gpkg"), "micro_grids"});
    const io::FeatureTable two = io::read_layer({dir.file("two.gpkg"), "micro_grids"});
    ASSERT_EQ(one.size(), two.size());
    EXPECT_EQ(one.rows, two.rows);
    EXPECT_EQ(one.geometries, two.geometries);
}

// The CLI writes while it staffs and assesses (compute_partition with an Alongside); Python and
// other drivers call compute_partition alone and write after. Both must give the same file.
TEST(Pipeline, ComputePartitionAloneOrWritingAlongsideGivesTheSameOutput) {
    test::TempDir dir;
    PartitionConfig config;
    config.city = generate(dir, 30'000, 2);
    const RunSummary summary = run_partition(config, dir.file("alongside.gpkg"));
    const PartitionRun run = compute_partition(config);
    write_result(dir.file("after.gpkg"), run.city, run.result, run.report, run.config, run.timings, &run.staffing);
    ASSERT_TRUE(run.staffing.present);
    EXPECT_EQ(summary.report.micro_grids, run.report.micro_grids);
    EXPECT_EQ(summary.warnings, run.warnings);
    std::vector<std::string> stages;
    for (const auto& [stage, seconds] : run.timings) stages.push_back(stage);
    EXPECT_EQ(stages, (std::vector<std::string>{"load", "partition", "staffing", "assess"}));
    stages.clear();
    for (const auto& [stage, seconds] : summary.timings) stages.push_back(stage);
    EXPECT_EQ(stages, (std::vector<std::string>{"load", "partition", "assess_and_write"}));

    const auto layers = io::list_layers(dir.file("alongside.gpkg"));
    ASSERT_EQ(layers, io::list_layers(dir.file("after.gpkg")));
    ASSERT_GE(layers.size(), 8U);
    for (const std::string& layer : layers) {
        io::FeatureTable one = io::read_layer({dir.file("alongside.gpkg"), layer});
        io::FeatureTable two = io::read_layer({dir.file("after.gpkg"), layer});
        if (layer == "run_info") {
            // Times differ from run to run, and the stages are named differently.
            const auto timed = [](const std::vector<FieldValue>& row) {
                return std::get<std::string>(row[0]) == "timings" ||
                       (std::get<std::string>(row[0]) == "staffing" && std::get<std::string>(row[1]) == "seconds");
            };
            std::erase_if(one.rows, timed);
            std::erase_if(two.rows, timed);
            EXPECT_GT(one.rows.size(), 50U);
            one.geometries.clear();  // an attribute table: no geometry to compare
            two.geometries.clear();
        }
        if (layer == "layer_styles") {  // the QGIS styles: the same, but written at another time
            const auto time = static_cast<std::size_t>(one.field_index("update_time"));
            ASSERT_EQ(static_cast<int>(time), two.field_index("update_time"));
            for (auto* table : {&one, &two})
                for (auto& row : table->rows) row[time] = FieldValue{};
            EXPECT_GE(one.rows.size(), 7U);
            one.geometries.clear();
            two.geometries.clear();
        }
        EXPECT_EQ(one.rows, two.rows) << layer;
        EXPECT_EQ(one.geometries, two.geometries) << layer;
    }
}

TEST(Pipeline, CountModeWithoutCommunitiesAndLayersFromOtherFormats) {
    test::TempDir dir;
    const std::string city = generate(dir, 30'000, 6);
    const std::string shapefile = dir.file("buildings.shp");
    ASSERT_EQ(std::system(("ogr2ogr -f 'ESRI Shapefile' " + shapefile + " " + city + " buildings").c_str()), 0);
    const std::string roads = dir.file("roads.geojson");
    ASSERT_EQ(std::system(("ogr2ogr -f GeoJSON -t_srs EPSG:4326 " + roads + " " + city + " roads").c_str()), 0);
    PartitionConfig config;
    config.buildings.path = shapefile;
    config.roads.path = roads;
    config.streets.path = city + ":streets";
    config.micro_grid_count = 250;
    const RunSummary summary = run_partition(config, dir.file("out.gpkg"));
    expect_guarantees(summary.report);
    EXPECT_EQ(summary.report.requested, 250);
}

TEST(Pipeline, PointBuildingsWholeCityAndRiverCentreLines) {
    test::TempDir dir;
    const std::string city = generate(dir, 20'000, 8);
    // Buildings as points, no admin layer at all (the whole city is one region), and the river
    // given as lines (its outline stands in for centre lines).
    const std::string points = dir.file("points.gpkg");
    ASSERT_EQ(std::system(("ogr2ogr -f GPKG -dialect SQLite -sql 'SELECT building_id, households, units, "
                           "ST_PointOnSurface(geom) AS geom FROM "
                           "buildings' -nln buildings " +
                           points + " " + city)
                              .c_str()),
              0);
    const std::string river_lines = dir.file("river_lines.gpkg");
    ASSERT_EQ(std::system(("ogr2ogr -f GPKG -dialect SQLite -sql 'SELECT river_id, ST_Boundary(geom) AS geom FROM "
                           "rivers' -nln rivers " +
                           river_lines + " " + city)
                              .c_str()),
              0);
    PartitionConfig config;
    config.buildings.path = points;
    config.roads.path = city + ":roads";
    config.rivers.path = river_lines;
    config.railways.path = city + ":railways";
    const City loaded = load_city(config);
    EXPECT_EQ(loaded.region_level, "city");
    EXPECT_FALSE(loaded.hard_lines.empty());
    const RunSummary summary = run_partition(config, dir.file("out.gpkg"));
    expect_guarantees(summary.report);
    const io::FeatureTable grids = io::read_layer({dir.file("out.gpkg"), "micro_grids"});
    EXPECT_EQ(static_cast<std::int64_t>(grids.size()), summary.report.micro_grids);
}

TEST(Pipeline, ClearErrorsNameTheFileLayerAndField) {
    test::TempDir dir;
    const std::string city = generate(dir, 30'000, 7);
    PartitionConfig config;
    config.city = city;
    config.households_field = "hh";
    try {
        (void)run_partition(config, dir.file("out.gpkg"));
        FAIL() << "expected an InputError";
    } catch (const InputError& error) {
        const std::string message = error.what();
        EXPECT_NE(message.find("'hh'"), std::string::npos) << message;
        EXPECT_NE(message.find("buildings"), std::string::npos) << message;
        EXPECT_NE(message.find("households"), std::string::npos) << "lists the fields: " << message;
    }
    EXPECT_FALSE(std::filesystem::exists(dir.file("out.gpkg"))) << "no output after a failure";
    config.households_field = "households";
    config.city = dir.file("missing.gpkg");
    EXPECT_THROW((void)run_partition(config, dir.file("out.gpkg")), IoError);
}

}  // namespace
}  // namespace civgrid::engine
