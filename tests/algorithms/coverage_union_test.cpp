#include <civgrid/algorithms/coverage_union.hpp>
#include <civgrid/algorithms/geos.hpp>

#include <gtest/gtest.h>

#include <string>

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

}  // namespace
}  // namespace civgrid::algorithms
