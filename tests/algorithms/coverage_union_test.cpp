#include <civgrid/algorithms/coverage_union.hpp>
#include <civgrid/algorithms/geos.hpp>

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace civgrid::algorithms {
namespace {

geos::Geom united(const geos::Context& context, const std::string& wkt) {
    const geos::Geom input = geos::from_wkt(context, wkt);
    return coverage_union(context, input.get());
}

bool equals(const geos::Context& context, const GEOSGeometry* a, const std::string& wkt) {
    const geos::Geom b = geos::from_wkt(context, wkt);
    return GEOSEquals_r(context.handle(), a, b.get()) == 1;
}

TEST(CoverageUnion, SharedEdgesCancelWhateverTheOrientation) {
    geos::Context context;
    // The second square is clockwise, the first counter-clockwise.
    const geos::Geom u = united(context,
                                "GEOMETRYCOLLECTION (POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0)),"
                                " POLYGON ((1 0, 1 1, 2 1, 2 0, 1 0)))");
    ASSERT_TRUE(u);
    EXPECT_EQ(GEOSGeomTypeId_r(context.handle(), u.get()), GEOS_POLYGON);
    EXPECT_EQ(GEOSisValid_r(context.handle(), u.get()), 1);
    EXPECT_TRUE(equals(context, u.get(), "POLYGON ((0 0, 2 0, 2 1, 0 1, 0 0))"));
}

TEST(CoverageUnion, PartsTouchingAtAVertexStayApart) {
    geos::Context context;
    const geos::Geom u = united(context, "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 1, 0 0)), ((1 1, 2 1, 2 2, 1 2, 1 1)))");
    ASSERT_TRUE(u);
    EXPECT_EQ(GEOSGeomTypeId_r(context.handle(), u.get()), GEOS_MULTIPOLYGON);
    EXPECT_EQ(GEOSGetNumGeometries_r(context.handle(), u.get()), 2);
    EXPECT_EQ(GEOSisValid_r(context.handle(), u.get()), 1);
}

TEST(CoverageUnion, AnEnclosedGapIsAHoleAndAnIslandInItIsAPart) {
    geos::Context context;
    // Four frames around the square (1 1, 2 2), which is left out; an island inside the gap.
    const geos::Geom u = united(context,
                                "GEOMETRYCOLLECTION (POLYGON ((0 0, 3 0, 3 1, 2 1, 1 1, 0 1, 0 0)),"
                                " POLYGON ((0 2, 1 2, 2 2, 3 2, 3 3, 0 3, 0 2)), POLYGON ((0 1, 1 1, 1 2, 0 2, 0 1)),"
                                " POLYGON ((2 1, 3 1, 3 2, 2 2, 2 1)),"
                                " POLYGON ((1.4 1.4, 1.6 1.4, 1.6 1.6, 1.4 1.6, 1.4 1.4)))");
    ASSERT_TRUE(u);
    EXPECT_EQ(GEOSisValid_r(context.handle(), u.get()), 1);
    EXPECT_TRUE(equals(context, u.get(),
                       "MULTIPOLYGON (((0 0, 3 0, 3 3, 0 3, 0 0), (1 1, 1 2, 2 2, 2 1, 1 1)),"
                       " ((1.4 1.4, 1.6 1.4, 1.6 1.6, 1.4 1.6, 1.4 1.4)))"));
}

TEST(CoverageUnion, AGapClosedOnEverySideIsAHole) {
    geos::Context context;
    // A U of five squares closed by a strip on top: the middle square is a hole.
    const geos::Geom u =
        united(context,
               "GEOMETRYCOLLECTION (POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0)), POLYGON ((1 0, 2 0, 2 1, 1 1, 1 0)),"
               " POLYGON ((2 0, 3 0, 3 1, 2 1, 2 0)), POLYGON ((0 1, 1 1, 1 2, 0 2, 0 1)),"
               " POLYGON ((2 1, 3 1, 3 2, 2 2, 2 1)), POLYGON ((0 2, 1 2, 2 2, 3 2, 3 3, 0 3, 0 2)))");
    ASSERT_TRUE(u);
    EXPECT_EQ(GEOSisValid_r(context.handle(), u.get()), 1);
    EXPECT_NEAR(geos::area(context, u.get()), 8.0, 1e-12);
}

TEST(CoverageUnion, OverlapsAreNotACoverage) {
    geos::Context context;
    const geos::Geom u = united(context,
                                "GEOMETRYCOLLECTION (POLYGON ((0 0, 2 0, 2 1, 0 1, 0 0)),"
                                " POLYGON ((1 0, 3 0, 3 1, 1 1, 1 0)))");
    // Either refused or visibly invalid, so the caller falls back to a full union.
    EXPECT_TRUE(!u || GEOSisValid_r(context.handle(), u.get()) != 1);
}

// Voronoi cells of random points (neighbours share exact edges) united in random groups, and the
// whole: the same polygons as GEOS's own coverage union, and the ring of an all-in-one union
// walks the parts' outer vertices, none added or lost.
TEST(CoverageUnion, VoronoiCellsUniteAsGeosCoverageUnionDoes) {
    geos::Context context;
    const auto handle = context.handle();
    std::mt19937_64 random(14);
    std::uniform_real_distribution<double> coordinate(0, 100);
    for (int round = 0; round < 20; ++round) {
        std::vector<geos::Geom> points;
        for (int i = 0; i < 60; ++i) points.push_back(geos::point(context, {coordinate(random), coordinate(random)}));
        const geos::Geom sites = geos::collection(context, GEOS_MULTIPOINT, std::move(points));
        const geos::Geom box = geos::from_wkt(context, "POLYGON ((0 0, 100 0, 100 100, 0 100, 0 0))");
        const geos::Geom cells = geos::own(context, GEOSVoronoiDiagram_r(handle, sites.get(), box.get(), 0, 0), "");
        std::vector<geos::Geom> group;
        for (geos::Geom& cell : geos::parts(context, cells.get()))
            if (random() % 3 != 0) group.push_back(std::move(cell));
        const geos::Geom collection = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(group));
        const geos::Geom ours = coverage_union(context, collection.get());
        const geos::Geom theirs = geos::own(context, GEOSCoverageUnion_r(handle, collection.get()), "");
        ASSERT_TRUE(ours) << round;
        EXPECT_EQ(GEOSisValid_r(handle, ours.get()), 1) << round;
        EXPECT_EQ(GEOSEquals_r(handle, ours.get(), theirs.get()), 1) << round;
        EXPECT_EQ(GEOSGetNumCoordinates_r(handle, ours.get()), GEOSGetNumCoordinates_r(handle, theirs.get())) << round;
    }
}

// A detailed boundary (a 3 cm zig-zag of 80,000 vertices) cut into strips: the union is the
// outline itself, every vertex kept in order; a spike (a ring going out and back along one
// segment) cancels as a shared edge does.
TEST(CoverageUnion, ADetailedOutlineCutIntoStripsIsWholeAgain) {
    geos::Context context;
    const auto handle = context.handle();
    constexpr int kTeeth = 80'000;
    auto x_at = [](int i) { return i * 100.0 / kTeeth; };
    auto y_at = [](int i) { return i % 2 == 1 ? 0.03 : 0.0; };
    std::vector<Point> outline;
    for (int i = 0; i <= kTeeth; ++i) outline.push_back({x_at(i), y_at(i)});
    outline.push_back({100, 50});
    outline.push_back({0, 50});
    outline.push_back(outline.front());
    // Four strips, cut at teeth 20,000, 40,000 and 60,000 (even: on the base line), straight up.
    std::vector<geos::Geom> strips;
    for (int s = 0; s < 4; ++s) {
        std::vector<Point> ring;
        for (int i = s * kTeeth / 4; i <= (s + 1) * kTeeth / 4; ++i) ring.push_back({x_at(i), y_at(i)});
        ring.push_back({x_at((s + 1) * kTeeth / 4), 50});
        ring.push_back({x_at(s * kTeeth / 4), 50});
        ring.push_back(ring.front());
        strips.push_back(geos::polygon(context, ring));
    }
    const geos::Geom collection = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(strips));
    const geos::Geom u = coverage_union(context, collection.get());
    ASSERT_TRUE(u);
    ASSERT_EQ(GEOSGeomTypeId_r(handle, u.get()), GEOS_POLYGON);
    const geos::Geom whole = geos::polygon(context, outline);
    EXPECT_EQ(GEOSEquals_r(handle, u.get(), whole.get()), 1);
    // The strips' top corners at x = 25, 50, 75 stay as vertices of the top edge.
    EXPECT_EQ(GEOSGetNumCoordinates_r(handle, u.get()), GEOSGetNumCoordinates_r(handle, whole.get()) + 3);

    const geos::Geom spiky = united(context, "POLYGON ((0 0, 2 0, 2 1, 3 1, 2 1, 2 2, 0 2, 0 0))");
    ASSERT_TRUE(spiky);
    EXPECT_TRUE(equals(context, spiky.get(), "POLYGON ((0 0, 2 0, 2 2, 0 2, 0 0))"));
}

}  // namespace
}  // namespace civgrid::algorithms
