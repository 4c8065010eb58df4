// Hostile sizes (issue 14, item 8): a community boundary of hundreds of thousands of vertices is
// partitioned like the same city with its plain boundary, and its micro-grids still tile it. Not a
// timing test: bench/hostile_sizes.py measures the time and memory.
#include <civgrid/algorithms/coverage_union.hpp>
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/data/synth.hpp>
#include <civgrid/engine/pipeline.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace civgrid::engine {
namespace {

// The same polygon with about `vertices` vertices: the extra ones lie on its edges, at whole
// millimetres as the loader would round them (so on the edges exactly for axis-parallel ones).
// With `jag`, every other extra vertex is moved that far inwards (a zig-zagging boundary), except
// within 5 jag of the polygon's own vertices, so it stays simple.
Wkb densified(const Wkb& boundary, std::size_t vertices, double jag = 0) {
    geos::Context context;
    const geos::Geom polygon = geos::from_wkb(context, boundary);
    const GEOSGeometry* shell =
        GEOSGetExteriorRing_r(context.handle(), GEOSGeomTypeId_r(context.handle(), polygon.get()) == GEOS_POLYGON
                                                    ? polygon.get()
                                                    : GEOSGetGeometryN_r(context.handle(), polygon.get(), 0));
    std::vector<Point> ring = geos::vertices(context, shell);
    double twice_area = 0;
    for (std::size_t i = 1; i < ring.size(); ++i) twice_area += ring[i - 1].x * ring[i].y - ring[i].x * ring[i - 1].y;
    if (twice_area < 0) std::reverse(ring.begin(), ring.end());  // counter-clockwise: inwards is left
    double perimeter = 0;
    for (std::size_t i = 1; i < ring.size(); ++i)
        perimeter += std::hypot(ring[i].x - ring[i - 1].x, ring[i].y - ring[i - 1].y);
    const double step = perimeter / static_cast<double>(vertices);
    std::vector<Point> out;
    for (std::size_t i = 1; i < ring.size(); ++i) {
        const Point a = ring[i - 1], b = ring[i];
        const double length = std::hypot(b.x - a.x, b.y - a.y);
        const auto pieces = std::max<long>(1, std::lround(length / step));  // per edge
        out.push_back(a);
        for (long k = 1; k < pieces; ++k) {
            const double t = static_cast<double>(k) / static_cast<double>(pieces);
            const double in = k % 2 == 1 && std::min(t, 1 - t) * length > 5 * jag ? jag / length : 0.0;
            const Point p{std::round((a.x + t * (b.x - a.x) - in * (b.y - a.y)) * 1000) / 1000,
                          std::round((a.y + t * (b.y - a.y) + in * (b.x - a.x)) * 1000) / 1000};
            if (!(p == out.back())) out.push_back(p);
        }
    }
    const geos::Geom dense = geos::polygon(context, out);
    EXPECT_EQ(GEOSisValid_r(context.handle(), dense.get()), 1);
    return geos::to_wkb(context, dense.get());
}

std::map<std::string, std::int64_t> households_by_micro_grid(const PartitionResult& result) {
    std::map<std::string, std::int64_t> households;
    for (const MicroGrid& grid : result.micro_grids) households[grid.id] = grid.shape.households;
    return households;
}

/// The 3,000-household sample city (seed 1), written to `dir` and loaded with `config`.
City sample_city(const test::TempDir& dir, PartitionConfig& config) {
    data::SynthConfig synth;
    synth.households = 3000;
    synth.seed = 1;
    config.city = dir.file("city.gpkg");
    data::write_city(data::generate_city(synth), config.city);
    return load_city(config);
}

TEST(HostileSizes, DensifiedCommunityBoundaryPartitionsLikeThePlainOne) {
    test::TempDir dir;
    PartitionConfig config;
    const City plain = sample_city(dir, config);
    ASSERT_GE(plain.regions.size(), 2u);

    City dense = plain;
    constexpr std::size_t kVertices = 200'000;  // above every "detailed outline" threshold, quick in CI
    dense.regions[0].boundary = densified(plain.regions[0].boundary, kVertices);
    {
        geos::Context context;
        const geos::Geom boundary = geos::from_wkb(context, dense.regions[0].boundary);
        ASSERT_GT(GEOSGetNumCoordinates_r(context.handle(), boundary.get()), 150'000);
    }

    const PartitionResult plain_result = partition_city(plain, config);
    const PartitionResult dense_result = partition_city(dense, config);
    // The same micro-grids, household for household (the codes follow the same label points).
    EXPECT_EQ(households_by_micro_grid(dense_result), households_by_micro_grid(plain_result));
    EXPECT_EQ(dense_result.building_grid, plain_result.building_grid);

    // They tile the densified community exactly: no gap, overlap, part outside, or second part.
    const algorithms::QualityReport report = assess(dense, dense_result, config);
    EXPECT_EQ(report.non_contiguous, 0);
    EXPECT_EQ(report.outside_region, 0);
    EXPECT_EQ(report.invalid_polygons, 0);
    EXPECT_LT(report.gap_area_m2, 1e-3);
    EXPECT_LT(report.overlap_area_m2, 1e-3);
    EXPECT_EQ(report.buildings_unassigned, 0);

    // The dense community's micro-grids unite to exactly its polygon.
    geos::Context context;
    std::vector<geos::Geom> parts;
    for (const MicroGrid& grid : dense_result.micro_grids)
        if (grid.region == 0) parts.push_back(geos::from_wkb(context, grid.shape.polygon));
    ASSERT_FALSE(parts.empty());
    const geos::Geom all = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(parts));
    const geos::Geom united = algorithms::coverage_union(context, all.get());
    ASSERT_TRUE(united);
    const geos::Geom community = geos::from_wkb(context, dense.regions[0].boundary);
    EXPECT_NEAR(geos::area(context, united.get()), geos::area(context, community.get()), 1e-3);
    const geos::Geom difference =
        geos::own(context, GEOSSymDifference_r(context.handle(), united.get(), community.get()), "difference");
    EXPECT_LT(geos::area(context, difference.get()), 1e-3);
}

// A community boundary zig-zagging by 3 cm over 200,000 vertices (the bench's jagged case, where
// clipping, noding and the quality report's barrier split run without overlays on the boundary):
// every building keeps its community, and the community's micro-grids tile it exactly.
TEST(HostileSizes, ZigZaggingCommunityBoundaryIsTiledExactly) {
    test::TempDir dir;
    PartitionConfig config;
    const City plain = sample_city(dir, config);
    ASSERT_GE(plain.regions.size(), 2u);
    City jagged = plain;
    jagged.regions[0].boundary = densified(plain.regions[0].boundary, 200'000, 0.03);
    geos::Context context;
    const geos::Geom community = geos::from_wkb(context, jagged.regions[0].boundary);
    ASSERT_GT(GEOSGetNumCoordinates_r(context.handle(), community.get()), 150'000);

    const PartitionResult plain_result = partition_city(plain, config);
    const PartitionResult result = partition_city(jagged, config);
    EXPECT_EQ(result.building_region, plain_result.building_region);
    std::int64_t households = 0, plain_households = 0;
    for (const MicroGrid& grid : result.micro_grids) households += grid.region == 0 ? grid.shape.households : 0;
    for (const MicroGrid& grid : plain_result.micro_grids)
        plain_households += grid.region == 0 ? grid.shape.households : 0;
    EXPECT_EQ(households, plain_households);
    EXPECT_GT(households, 0);

    const algorithms::QualityReport report = assess(jagged, result, config);
    EXPECT_EQ(report.non_contiguous, 0);
    EXPECT_EQ(report.outside_region, 0);
    EXPECT_EQ(report.invalid_polygons, 0);
    EXPECT_EQ(report.barrier_crossings, 0);
    EXPECT_LT(report.gap_area_m2, 1e-3);
    EXPECT_LT(report.overlap_area_m2, 1e-3);
    EXPECT_EQ(report.buildings_unassigned, 0);

    std::vector<geos::Geom> parts;
    for (const MicroGrid& grid : result.micro_grids)
        if (grid.region == 0) parts.push_back(geos::from_wkb(context, grid.shape.polygon));
    ASSERT_GT(parts.size(), 1u);
    const geos::Geom all = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(parts));
    const geos::Geom united = algorithms::coverage_union(context, all.get());
    ASSERT_TRUE(united);
    EXPECT_NEAR(geos::area(context, united.get()), geos::area(context, community.get()), 1e-3);
    // Every vertex of the zig-zag survives in the micro-grids (none was cut off or smoothed).
    EXPECT_GE(GEOSGetNumCoordinates_r(context.handle(), united.get()),
              GEOSGetNumCoordinates_r(context.handle(), community.get()));
}

}  // namespace
}  // namespace civgrid::engine
