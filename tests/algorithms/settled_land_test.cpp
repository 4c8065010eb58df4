// The settled land of a city without admin layers (issue 17: a bounding box stretched edge
// micro-grids over 27 km2 of sea): cells near buildings, separate settlements apart.
#include <civgrid/algorithms/settled_land.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace civgrid::algorithms {
namespace {

TEST(SettledLand, CellsNearBuildingsAndSettlementsApart) {
    geos::Context context;
    std::mt19937_64 random(3);
    std::uniform_real_distribution<double> unit(0, 1);
    std::vector<Point> points;
    // A town of 1 km x 1 km, another 10 km east, and one farm 5 km north of the first.
    for (int i = 0; i < 2000; ++i) points.push_back({480'000 + 1'000 * unit(random), 3'540'000 + 1'000 * unit(random)});
    for (int i = 0; i < 2000; ++i) points.push_back({490'000 + 1'000 * unit(random), 3'540'000 + 1'000 * unit(random)});
    points.push_back({480'550, 3'545'050});
    const geos::Geom land = settled_land(context, points);
    ASSERT_TRUE(land);
    EXPECT_EQ(GEOSisValid_r(context.handle(), land.get()), 1);
    EXPECT_EQ(GEOSGetNumGeometries_r(context.handle(), land.get()), 3);  // two towns and the farm
    // Each town: 10 x 10 cells of 100 m grown by 2 on each side (14 x 14, 1.96 km2, a cell more
    // where the town's edge is not on the grid); the farm 5 x 5 cells.
    const double area = geos::area(context, land.get());
    EXPECT_GT(area, 2 * 1.96e6 + 0.25e6 - 1);
    EXPECT_LT(area, 2 * 2.25e6 + 0.25e6 + 1);
    const double box = 11'000.0 * 5'100.0;
    EXPECT_LT(area, box / 10);  // far less than the bounding box
    // Every building inside; a point 400 m from any building outside.
    for (const Point& p : {points[0], points[2500], points.back()}) {
        const geos::Geom at = geos::point(context, p);
        EXPECT_EQ(GEOSContains_r(context.handle(), land.get(), at.get()), 1);
    }
    const geos::Geom away = geos::point(context, {485'000, 3'540'500});
    EXPECT_EQ(GEOSContains_r(context.handle(), land.get(), away.get()), 0);
    EXPECT_FALSE(settled_land(context, {}));
}

}  // namespace
}  // namespace civgrid::algorithms
