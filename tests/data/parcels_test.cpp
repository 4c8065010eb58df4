// The parcel generator: a true tiling (areas add up to the rectangle, no two parcels overlap,
// neighbours share their edges), the dense and invalid parcels it promises, and determinism.
#include <civgrid/algorithms/geometry_repair.hpp>
#include <civgrid/data/parcels.hpp>
#include <civgrid/error.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

namespace civgrid::data {
namespace {

std::size_t vertices_of(const Wkb& polygon) {  // one-ring polygons: the count after the ring count
    std::uint32_t count = 0;
    for (int byte = 0; byte < 4; ++byte) count |= static_cast<std::uint32_t>(polygon[9 + byte]) << (8 * byte);
    return count;
}

TEST(Parcels, TileTheRectangleWithoutOverlap) {
    ParcelConfig config;
    config.parcels = 900;
    config.dense_share = 0.05;
    config.dense_vertices = 400;
    config.invalid_share = 0;
    const SynthCity parcels = generate_parcels(config);
    ASSERT_EQ(parcels.layers.size(), 1u);
    const io::LayerData& layer = parcels.layers[0];
    EXPECT_EQ(layer.name, "buildings");
    EXPECT_EQ(layer.geometries.size(), 900u);
    const std::vector<double> areas = algorithms::polygon_areas(layer.geometries, 1);
    const double rectangle =
        (parcels.summary.max_x - parcels.summary.min_x) * (parcels.summary.max_y - parcels.summary.min_y);
    EXPECT_NEAR(std::accumulate(areas.begin(), areas.end(), 0.0), rectangle, 1e-6 * rectangle);
    EXPECT_TRUE(std::all_of(areas.begin(), areas.end(), [](double a) { return a > 100; }));
    algorithms::OverlapStats stats;
    EXPECT_TRUE(algorithms::overlapping_pairs(layer.geometries, 0.01, 2, &stats).empty());
    // Every pair of neighbours is settled from its segments, dense wiggly edges included (their
    // short segments line up with the ends of the long edges they meet at a corner: before that
    // case was decided, every pair with a dense parcel went to a GEOS overlay).
    EXPECT_GT(stats.candidates, 3000u);
    EXPECT_EQ(stats.overlaid, 0u);
    const auto dense = std::count_if(layer.geometries.begin(), layer.geometries.end(),
                                     [](const Wkb& g) { return vertices_of(g) > 100; });
    EXPECT_GT(dense, 20);  // the dense parcels and their neighbours, which share their wiggly edges
}

TEST(Parcels, InvalidOnesAreRepairedAndTheSameSeedGivesTheSameLayer) {
    ParcelConfig config;
    config.parcels = 2500;
    config.invalid_share = 0.01;
    const SynthCity first = generate_parcels(config), second = generate_parcels(config);
    EXPECT_EQ(first.layers[0].geometries, second.layers[0].geometries);
    EXPECT_EQ(first.summary.households, second.summary.households);
    std::vector<Wkb> geometries = first.layers[0].geometries;
    const auto repaired = algorithms::repair_polygons(geometries, 1);
    const auto changed = std::count_if(repaired.begin(), repaired.end(), [](const algorithms::RepairOutcome& r) {
        return r.kind != algorithms::RepairOutcome::Kind::unchanged;
    });
    EXPECT_GE(changed, 10);
    EXPECT_LE(changed, 45);
    config.seed = 2;
    EXPECT_NE(generate_parcels(config).layers[0].geometries, first.layers[0].geometries);
    config.parcels = 2;
    EXPECT_THROW(static_cast<void>(generate_parcels(config)), ConfigError);
}

}  // namespace
}  // namespace civgrid::data
