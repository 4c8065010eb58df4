// Grids (网格) as a second level, the region level, counts per community from an attribute, and
// explicit balance bounds, on generated cities.
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/data/synth.hpp>
#include <civgrid/engine/pipeline.hpp>
#include <civgrid/error.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

namespace civgrid::engine {
namespace {

using algorithms::Flag;

std::string write_generated(const test::TempDir& dir, data::SynthCity city, const std::string& name) {
    const std::string path = dir.file(name);
    data::write_city(city, path);
    return path;
}

data::SynthCity generated(std::int64_t households, std::uint64_t seed) {
    data::SynthConfig config;
    config.households = households;
    config.seed = seed;
    return data::generate_city(config);
}

double area_of(const geos::Context& context, const Wkb& wkb) {
    const geos::Geom geometry = geos::from_wkb(context, wkb);
    return geos::area(context, geometry.get());
}

TEST(Grids, NestWholeContiguousMicroGridsBalancedAroundTheirSize) {
    test::TempDir dir;
    PartitionConfig config;
    config.city = write_generated(dir, generated(40'000, 21), "city.gpkg");
    config.grid_households = 400;
    const City city = load_city(config);
    const PartitionResult result = partition_city(city, config);
    ASSERT_FALSE(result.grids.empty());

    geos::Context context;
    const auto handle = context.handle();
    std::map<int, std::int64_t> grid_households;
    std::map<int, int> grid_members;
    for (const MicroGrid& micro : result.micro_grids) {
        ASSERT_GE(micro.grid, 0) << micro.id << " has no grid";
        const Grid& grid = result.grids[static_cast<std::size_t>(micro.grid)];
        EXPECT_EQ(grid.region, micro.region)
            << micro.id << " and its grid " << grid.id << " lie in different communities";
        EXPECT_EQ(micro.id.rfind(grid.id, 0), 0u) << micro.id << " does not extend its grid's code " << grid.id;
        EXPECT_EQ(grid.id.rfind(city.regions[static_cast<std::size_t>(grid.region)].code, 0), 0u) << grid.id;
        // The micro-grid lies inside its grid.
        const geos::Geom inner = geos::from_wkb(context, micro.shape.polygon);
        const geos::Geom outer = geos::from_wkb(context, grid.shape.polygon);
        const geos::Geom outside = geos::own(context, GEOSDifference_r(handle, inner.get(), outer.get()), "difference");
        EXPECT_LT(geos::area(context, outside.get()), 1e-3) << micro.id << " reaches outside its grid " << grid.id;
        grid_households[micro.grid] += micro.shape.households;
        grid_members[micro.grid] += 1;
    }
    // Grids tile their community and hold exactly their micro-grids.
    std::map<int, double> region_grid_area;
    int within_20 = 0;
    for (std::size_t g = 0; g < result.grids.size(); ++g) {
        const Grid& grid = result.grids[g];
        EXPECT_EQ(grid.shape.households, grid_households[static_cast<int>(g)]) << grid.id;
        EXPECT_EQ(grid.shape.micro_grids, grid_members[static_cast<int>(g)]) << grid.id;
        EXPECT_FALSE(grid.shape.multipart) << grid.id << " is not contiguous";
        const geos::Geom polygon = geos::from_wkb(context, grid.shape.polygon);
        EXPECT_EQ(GEOSGeomTypeId_r(handle, polygon.get()), GEOS_POLYGON) << grid.id;
        region_grid_area[grid.region] += geos::area(context, polygon.get());
        // A grid is a whole number of micro-grids of about the region's target each.
        const double expected = grid.shape.micro_grids * result.regions[static_cast<std::size_t>(grid.region)].target;
        within_20 += std::abs(static_cast<double>(grid.shape.households) - expected) <= 0.2 * expected ? 1 : 0;
    }
    EXPECT_GE(within_20, static_cast<int>(0.95 * static_cast<double>(result.grids.size())));
    for (const auto& [region, area] : region_grid_area) {
        const double community_area = area_of(context, city.regions[static_cast<std::size_t>(region)].boundary);
        EXPECT_NEAR(area, community_area, 1e-6 * community_area) << city.regions[static_cast<std::size_t>(region)].code;
    }
    // Grid counts: about households / 400 per community, give or take one per barrier-cut piece
    // (grids never cross a hard barrier either).
    for (std::size_t r = 0; r < city.regions.size(); ++r) {
        const RegionSummary& summary = result.regions[r];
        if (summary.households < 800) continue;
        EXPECT_NEAR(summary.grids, static_cast<double>(summary.households) / 400.0, summary.pieces)
            << city.regions[r].code;
    }
    // Micro-grids still balanced with the grid level on.
    const algorithms::QualityReport report = assess(city, result, config);
    EXPECT_GE(report.share_within_20, 0.97);
    EXPECT_EQ(report.non_contiguous, 0);
    EXPECT_EQ(report.barrier_crossings, 0);
    EXPECT_EQ(report.grids, static_cast<std::int64_t>(result.grids.size()));
    EXPECT_GE(report.grids_share_within_20, 0.95);
    EXPECT_EQ(report.grids_non_contiguous, 0);
    // The output file gives the same report (grids layer included).
    const std::string out = dir.file("out.gpkg");
    write_result(out, city, result, report, config, {});
    const algorithms::QualityReport again = report_file(out);
    EXPECT_EQ(again.grids, report.grids);
    EXPECT_DOUBLE_EQ(again.grids_share_within_20, report.grids_share_within_20);
    EXPECT_DOUBLE_EQ(again.share_within_10, report.share_within_10);
}

TEST(Grids, OffMeansNoGridLayerContent) {
    test::TempDir dir;
    PartitionConfig config;
    config.city = write_generated(dir, generated(15'000, 22), "city.gpkg");
    config.grid_households = 0;
    const PartitionResult result = partition_city(load_city(config), config);
    EXPECT_TRUE(result.grids.empty());
    for (const MicroGrid& micro : result.micro_grids) {
        EXPECT_EQ(micro.grid, -1);
        EXPECT_EQ(micro.id.size(), 15u) << micro.id;  // community code + 3 digits
    }
}

TEST(RegionLevel, WholeCityAsOneRegion) {
    test::TempDir dir;
    PartitionConfig config;
    config.city = write_generated(dir, generated(30'000, 23), "city.gpkg");
    config.region_level = "city";
    const City city = load_city(config);
    ASSERT_EQ(city.regions.size(), 1u);
    EXPECT_EQ(city.region_level, "city");
    const PartitionResult result = partition_city(city, config);
    const algorithms::QualityReport report = assess(city, result, config);
    EXPECT_EQ(report.micro_grids, report.requested);
    EXPECT_EQ(report.non_contiguous, 0);
    EXPECT_EQ(report.barrier_crossings, 0);
    EXPECT_EQ(report.empty, 0);
    EXPECT_GE(report.share_within_20, 0.95);

    config.region_level = "street";
    EXPECT_EQ(load_city(config).region_level, "street");
    config.region_level = "block";
    EXPECT_THROW((void)load_city(config), ConfigError);
}

TEST(Counts, PerCommunityFromAnAttribute) {
    test::TempDir dir;
    data::SynthCity synth = generated(20'000, 24);
    // Ask each community for a count of our own; one asks for none (null) and falls back.
    for (io::LayerData& layer : synth.layers) {
        if (layer.name != "communities") continue;
        layer.fields.push_back({"wanted", FieldType::integer});
        for (std::size_t i = 0; i < layer.rows.size(); ++i)
            if (i == 0)
                layer.rows[i].emplace_back(std::monostate{});
            else
                layer.rows[i].emplace_back(static_cast<std::int64_t>(3 + i % 4));
    }
    PartitionConfig config;
    config.city = write_generated(dir, synth, "city.gpkg");
    config.count_field = "wanted";
    const City city = load_city(config);
    EXPECT_EQ(city.regions[0].requested_count, 0);
    EXPECT_TRUE(std::any_of(city.warnings.begin(), city.warnings.end(),
                            [](const std::string& w) { return test::contains(w, "wanted"); }));
    const PartitionResult result = partition_city(city, config);
    for (std::size_t r = 0; r < city.regions.size(); ++r) {
        const RegionSummary& summary = result.regions[r];
        const int wanted =
            r == 0 ? static_cast<int>(std::lround(static_cast<double>(summary.households) / config.target_households))
                   : static_cast<int>(3 + r % 4);
        EXPECT_EQ(summary.requested, std::max(1, wanted)) << city.regions[r].code;
        EXPECT_EQ(summary.micro_grids, std::max(summary.requested, summary.pieces)) << city.regions[r].code;
        if (r > 0 && summary.households > 0) {
            EXPECT_NEAR(summary.target, static_cast<double>(summary.households) / wanted, 1e-9);
        }
    }
    // Deviations are measured against each community's own target (households / its count).
    const algorithms::QualityReport report = assess(city, result, config);
    EXPECT_GE(report.share_within_20, 0.9);
    config.count_field = "no_such_field";
    EXPECT_THROW((void)load_city(config), InputError);
}

TEST(Bounds, ExplicitBoundsAndHardMinimumAreHonouredOrFlagged) {
    test::TempDir dir;
    PartitionConfig config;
    config.city = write_generated(dir, generated(25'000, 25), "city.gpkg");
    config.min_households = 72;
    config.max_households = 95;
    config.hard_min_households = 40;
    const City city = load_city(config);
    const PartitionResult result = partition_city(city, config);
    int unflagged = 0;
    for (const MicroGrid& micro : result.micro_grids) {
        const auto households = micro.shape.households;
        if (micro.shape.flags != 0) continue;
        ++unflagged;
        EXPECT_GE(households, 72) << micro.id;
        EXPECT_LE(households, 95) << micro.id;
    }
    EXPECT_GT(unflagged, static_cast<int>(0.9 * static_cast<double>(result.micro_grids.size())));
    for (const MicroGrid& micro : result.micro_grids)
        if (micro.shape.households < 40) {
            EXPECT_NE(micro.shape.flags & static_cast<std::uint8_t>(Flag::forced_by_boundaries), 0)
                << micro.id << " is below the hard minimum";
        }

    config.min_households = 90;
    config.max_households = 80;
    EXPECT_THROW((void)load_city(config), ConfigError);
}

}  // namespace
}  // namespace civgrid::engine

namespace civgrid::engine {
namespace {

TEST(Counts, GridsForTheCityAndPerCommunity) {
    test::TempDir dir;
    data::SynthCity synth = generated(30'000, 26);
    for (io::LayerData& layer : synth.layers) {
        if (layer.name != "communities") continue;
        layer.fields.push_back({"grids_wanted", FieldType::integer});
        for (std::size_t i = 0; i < layer.rows.size(); ++i)
            layer.rows[i].emplace_back(static_cast<std::int64_t>(2 + i % 3));
    }
    PartitionConfig config;
    config.city = write_generated(dir, synth, "city.gpkg");
    // The whole city: exactly the count asked for, shared by households, nested as ever.
    config.grid_count = 60;
    City city = load_city(config);
    PartitionResult result = partition_city(city, config);
    EXPECT_EQ(result.grids.size(), 60u);
    for (const MicroGrid& micro : result.micro_grids) EXPECT_GE(micro.grid, 0) << micro.id;
    // Per community from an attribute.
    config.grid_count = 0;
    config.grid_count_field = "grids_wanted";
    city = load_city(config);
    result = partition_city(city, config);
    for (std::size_t r = 0; r < city.regions.size(); ++r) {
        const RegionSummary& summary = result.regions[r];
        if (summary.households <= 0) continue;
        EXPECT_EQ(summary.grids, std::max(static_cast<int>(2 + r % 3), summary.pieces)) << city.regions[r].code;
    }
    config.grid_count_field = "no_such_field";
    EXPECT_THROW((void)load_city(config), InputError);
}

}  // namespace
}  // namespace civgrid::engine
