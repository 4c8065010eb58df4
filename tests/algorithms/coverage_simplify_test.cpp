#include <civgrid/algorithms/coverage_simplify.hpp>
#include <civgrid/algorithms/geos.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace civgrid::algorithms {
namespace {

Wkb wkb(const geos::Context& context, const std::string& wkt) {
    const geos::Geom g = geos::from_wkt(context, wkt);
    return geos::to_wkb(context, g.get());
}

int vertex_count(const geos::Context& context, const Wkb& polygon) {
    const geos::Geom g = geos::from_wkb(context, polygon);
    return GEOSGetNumCoordinates_r(context.handle(), g.get());
}

// A wavy line from (x0, y) to (x1, y) (or vertical), `steps` segments, wiggles of `height`.
std::string wavy(double x0, double x1, double y, int steps, double height, bool vertical) {
    std::string out;
    for (int i = 0; i <= steps; ++i) {
        const double along = x0 + (x1 - x0) * i / steps;
        const double off = y + (i == 0 || i == steps ? 0.0 : height * std::sin(i * 0.7));
        out += (i ? ", " : "") + (vertical ? std::to_string(off) + " " + std::to_string(along)
                                           : std::to_string(along) + " " + std::to_string(off));
    }
    return out;
}

TEST(CoverageSimplifier, NeighboursKeepSharingTheirEdgesNoGapNoOverlap) {
    geos::Context context;
    // Two squares side by side whose shared edge x = 1 wiggles by 0.001 over 40 vertices; the
    // first given counter-clockwise, the second clockwise (the edge in the same direction).
    const std::string edge = wavy(0, 1, 1, 40, 0.001, true);  // (1 +- w, 0) up to (1, 1)
    const std::string left = "POLYGON ((0 0, " + edge + ", 0 1, 0 0))";
    const std::string right = "POLYGON ((2 0, " + edge + ", 2 1, 2 0))";
    const std::vector<Wkb> coverage = {wkb(context, left), wkb(context, right)};
    const CoverageSimplifier simplifier(context, coverage);
    // Nodes: where the shared edge meets the outside (3 neighbours each), and the corners are
    // vertices of degree 2 like any other.
    EXPECT_EQ(simplifier.node_count(), 2U);
    std::vector<geos::Geom> simplified;
    double area = 0;
    for (const Wkb& polygon : coverage) {
        const Wkb out = simplifier.simplify(polygon, 0.01);
        EXPECT_LT(vertex_count(context, out), vertex_count(context, polygon) / 4);
        simplified.push_back(geos::from_wkb(context, out));
        EXPECT_EQ(GEOSisValid_r(context.handle(), simplified.back().get()), 1);
        area += geos::area(context, simplified.back().get());
    }
    // No overlap: the union's area is the sum; no gap: the union is one polygon without a hole.
    const geos::Geom all = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(simplified));
    const geos::Geom united = geos::unary_union(context, all.get(), "test");
    EXPECT_NEAR(geos::area(context, united.get()), area, 1e-12);
    EXPECT_EQ(GEOSGeomTypeId_r(context.handle(), united.get()), GEOS_POLYGON);
    EXPECT_EQ(GEOSGetNumInteriorRings_r(context.handle(), united.get()), 0);
    EXPECT_NEAR(area, 2.0, 0.01);
}

TEST(CoverageSimplifier, AnIslandAndItsHoleStayTheSameRingAndDoNotCollapse) {
    geos::Context context;
    // A wiggly island (no node: every vertex has two neighbours) in the hole of a square.
    std::string ring;
    for (int i = 0; i < 60; ++i) {
        const double angle = 2 * M_PI * i / 60, radius = 1 + 0.002 * std::sin(7.0 * i);
        ring +=
            std::to_string(5 + radius * std::cos(angle)) + " " + std::to_string(5 + radius * std::sin(angle)) + ", ";
    }
    const std::string closed = ring + ring.substr(0, ring.find(','));
    const std::vector<Wkb> coverage = {wkb(context, "POLYGON ((" + closed + "))"),
                                       wkb(context, "POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0), (" + closed + "))")};
    const CoverageSimplifier simplifier(context, coverage);
    const geos::Geom island = geos::from_wkb(context, simplifier.simplify(coverage[0], 0.05));
    const geos::Geom square = geos::from_wkb(context, simplifier.simplify(coverage[1], 0.05));
    EXPECT_LT(GEOSGetNumCoordinates_r(context.handle(), island.get()), 40);
    EXPECT_GE(GEOSGetNumCoordinates_r(context.handle(), island.get()), 5);
    // The hole is the island's ring: together they fill the square exactly.
    const geos::Geom hole =
        geos::polygon(context, geos::vertices(context, GEOSGetInteriorRingN_r(context.handle(), square.get(), 0)));
    EXPECT_EQ(GEOSEqualsExact_r(context.handle(), hole.get(), island.get(), 0.0) == 1 ||
                  GEOSEquals_r(context.handle(), hole.get(), island.get()) == 1,
              true);
    EXPECT_NEAR(geos::area(context, island.get()) + geos::area(context, square.get()), 100.0, 1e-9);
    // Even at a tolerance larger than the island it keeps a ring (its farthest vertices).
    const geos::Geom coarse = geos::from_wkb(context, simplifier.simplify(coverage[0], 100));
    EXPECT_GE(GEOSGetNumCoordinates_r(context.handle(), coarse.get()), 5);
    EXPECT_GT(geos::area(context, coarse.get()), 0.5);
}

TEST(CoverageSimplifier, VerticesTheCoverageLacksAreKeptAndBadInputComesBack) {
    geos::Context context;
    const std::vector<Wkb> coverage = {wkb(context, "POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0))")};
    const CoverageSimplifier simplifier(context, coverage);
    const Wkb other = wkb(context, "POLYGON ((5 5, 5.5 5.0001, 6 5, 6 6, 5 6, 5 5))");
    EXPECT_EQ(vertex_count(context, simplifier.simplify(other, 1.0)), vertex_count(context, other));
    EXPECT_TRUE(simplifier.simplify(Wkb{}, 1.0).empty());
    const Wkb garbage = {1, 2, 3};
    EXPECT_EQ(simplifier.simplify(garbage, 1.0), garbage);
}

}  // namespace
}  // namespace civgrid::algorithms
