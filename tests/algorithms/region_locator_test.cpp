// algorithms::RegionLocator: the region holding a point, against GEOS tested region by region.
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/region_locator.hpp>

#include <geos_c.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace civgrid::algorithms {
namespace {

Wkb wkb_of(geos::Context& context, const std::string& wkt) {
    return geos::to_wkb(context, geos::from_wkt(context, wkt).get());
}

TEST(RegionLocator, EdgesGoToTheEarlierRegionAndOutsideIsMinusOne) {
    geos::Context context;
    const RegionLocator locator({wkb_of(context, "POLYGON((0 0,10 0,10 10,0 10,0 0))"),
                                 wkb_of(context, "POLYGON((10 0,20 0,20 10,10 10,10 0))"),
                                 wkb_of(context, "POLYGON((30 0,40 0,40 10,30 10,30 0),(32 2,38 2,38 8,32 8,32 2))")});
    EXPECT_EQ(locator.locate({5, 5}), 0);
    EXPECT_EQ(locator.locate({15, 5}), 1);
    EXPECT_EQ(locator.locate({10, 5}), 0);  // on the shared edge: the earlier region
    EXPECT_EQ(locator.locate({31, 5}), 2);
    EXPECT_EQ(locator.locate({35, 5}), -1);  // in the hole
    EXPECT_EQ(locator.locate({25, 5}), -1);
    EXPECT_EQ(locator.locate({std::numeric_limits<double>::quiet_NaN(), 5}), -1);
    const std::vector<char> skip = {0, 1, 0};
    EXPECT_EQ(locator.locate_all({{5, 5}, {15, 5}, {15, 5}}, 1, &skip), (std::vector<int>{0, -1, 1}));
}

TEST(RegionLocator, AgreesWithGeosOnAJitteredGridForAnyThreadCount) {
    geos::Context context;
    std::mt19937_64 random(7);
    std::uniform_real_distribution<double> jitter(-0.3, 0.3);
    // 8 x 8 cells whose shared corners are jittered: a coverage of irregular quadrilaterals.
    constexpr int n = 8;
    std::vector<std::vector<Point>> corner(n + 1, std::vector<Point>(n + 1));
    for (int i = 0; i <= n; ++i)
        for (int j = 0; j <= n; ++j)
            corner[i][j] = {i + (i % n != 0 ? jitter(random) : 0.0), j + (j % n != 0 ? jitter(random) : 0.0)};
    std::vector<Wkb> regions;
    std::vector<geos::Geom> shapes;
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) {
            const Point a = corner[i][j], b = corner[i + 1][j], c = corner[i + 1][j + 1], d = corner[i][j + 1];
            std::string wkt = "POLYGON((";
            for (const Point p : {a, b, c, d, a}) wkt += std::to_string(p.x) + " " + std::to_string(p.y) + ",";
            wkt.pop_back();
            wkt += "))";
            regions.push_back(wkb_of(context, wkt));
            shapes.push_back(geos::from_wkb(context, regions.back()));
        }
    std::uniform_real_distribution<double> coordinate(-0.5, n + 0.5);
    std::vector<Point> points(5000);
    for (Point& p : points) p = {coordinate(random), coordinate(random)};
    const RegionLocator locator(regions);
    const std::vector<int> one = locator.locate_all(points, 1), two = locator.locate_all(points, 2);
    EXPECT_EQ(one, two);
    int outside = 0;
    for (std::size_t k = 0; k < points.size(); ++k) {
        int expected = -1;
        const geos::Geom point = geos::point(context, points[k]);
        for (std::size_t r = 0; r < shapes.size() && expected < 0; ++r)
            if (GEOSIntersects_r(context.handle(), shapes[r].get(), point.get()) == 1) expected = static_cast<int>(r);
        ASSERT_EQ(one[k], expected) << points[k].x << " " << points[k].y;
        outside += expected < 0 ? 1 : 0;
    }
    EXPECT_GT(outside, 0);
    EXPECT_LT(outside, 1500);  // about 17 of 81 square units lie outside the 8 x 8 cells
}

}  // namespace
}  // namespace civgrid::algorithms
