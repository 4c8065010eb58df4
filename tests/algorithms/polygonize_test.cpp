// polygonize_noded gives GEOSPolygonize's faces (holes, dangles, cut edges, pinched faces, the
// stretches of a zig-zagging outline passed on by node_with_outline) without its validity checks.
#include <civgrid/algorithms/detailed_outline.hpp>
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/polygonize.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace civgrid::algorithms {
namespace {

// Faces as normalized WKT (exact coordinates), sorted, and the orientation of each shell.
struct Faces {
    std::vector<std::string> wkt;
    std::vector<int> clockwise;  // per face in the order given: 1 when its shell turns clockwise
};

Faces describe(const geos::Context& context, std::vector<geos::Geom> faces) {
    const auto handle = context.handle();
    Faces out;
    for (geos::Geom& face : faces) {
        char ccw = 0;
        GEOSCoordSeq_isCCW_r(handle, GEOSGeom_getCoordSeq_r(handle, GEOSGetExteriorRing_r(handle, face.get())), &ccw);
        out.clockwise.push_back(ccw == 0 ? 1 : 0);
        EXPECT_EQ(GEOSNormalize_r(handle, face.get()), 0);
        out.wkt.push_back(geos::to_wkt(context, face.get(), 9));
    }
    std::sort(out.wkt.begin(), out.wkt.end());
    return out;
}

Faces by_geos(const geos::Context& context, const GEOSGeometry* linework) {
    const GEOSGeometry* inputs[] = {linework};
    const geos::Geom all = geos::own(context, GEOSPolygonize_r(context.handle(), inputs, 1), "polygonize");
    return describe(context, geos::parts(context, all.get()));
}

Faces by_us(const geos::Context& context, const GEOSGeometry* linework) {
    return describe(context, polygonize_noded(context, linework));
}

void expect_same_faces(const geos::Context& context, const GEOSGeometry* linework, std::size_t at_least) {
    const Faces expected = by_geos(context, linework);
    const Faces got = by_us(context, linework);
    ASSERT_GE(expected.wkt.size(), at_least);
    EXPECT_EQ(got.wkt, expected.wkt);
    for (int clockwise : got.clockwise) EXPECT_EQ(clockwise, 1);
    for (int clockwise : expected.clockwise) EXPECT_EQ(clockwise, 1);  // GEOS's shells turn clockwise too
}

geos::Geom noded(const geos::Context& context, const std::string& wkt) {
    const geos::Geom lines = geos::from_wkt(context, wkt);
    return geos::own(context, GEOSUnaryUnion_r(context.handle(), lines.get()), "noding");
}

TEST(PolygonizeNoded, SquaresHolesDanglesAndCutEdgesAsGeos) {
    geos::Context context;
    // A square split by a line with a dangle; an island square inside one half (a hole of it) with
    // a square inside it; a square apart joined by a cut edge; a face pinched at a node (a
    // triangle touching the outer square's corner from inside).
    const geos::Geom linework = noded(
        context,
        "MULTILINESTRING((0 0,10 0,10 10,0 10,0 0),(5 0,5 10),(5 5,7 5),(1 1,4 1,4 4,1 4,1 1),(2 2,3 2,3 3,2 3,2 2),"
        "(20 0,25 0,25 5,20 5,20 0),(10 2,20 2),(10 10,8 7,9 6,10 10),(12 7,13 8))");
    expect_same_faces(context, linework.get(), 6);
    // Holes: the island in the left half and the square in the island; the triangle pinched off
    // the right half at its corner (GEOS's minimal rings).
    int holes = 0;
    for (const geos::Geom& face : polygonize_noded(context, linework.get()))
        holes += GEOSGetNumInteriorRings_r(context.handle(), face.get());
    EXPECT_EQ(holes, 3);
}

TEST(PolygonizeNoded, RandomNodedLinesAsGeos) {
    geos::Context context;
    for (unsigned seed = 1; seed <= 5; ++seed) {
        std::mt19937 random(seed);
        std::uniform_real_distribution<double> coordinate(0, 100);
        std::vector<geos::Geom> lines;
        for (int i = 0; i < 60; ++i) {
            std::vector<Point> v;
            for (int k = 0; k < 2 + i % 3; ++k) v.push_back({coordinate(random), coordinate(random)});
            lines.push_back(geos::line_string(context, v));
        }
        // Closed rings apart from the rest (holes or faces of their own).
        lines.push_back(geos::line_string(context, {{200, 200}, {210, 200}, {210, 210}, {200, 210}, {200, 200}}));
        lines.push_back(geos::line_string(context, {{202, 202}, {204, 202}, {203, 204}, {202, 202}}));
        const geos::Geom all = geos::collection(context, GEOS_MULTILINESTRING, std::move(lines));
        const geos::Geom linework = geos::own(context, GEOSUnaryUnion_r(context.handle(), all.get()), "noding");
        expect_same_faces(context, linework.get(), 100);
    }
}

TEST(PolygonizeNoded, EmptyAndDegenerateLinework) {
    geos::Context context;
    EXPECT_TRUE(polygonize_noded(context, geos::from_wkt(context, "GEOMETRYCOLLECTION EMPTY").get()).empty());
    // Lines that enclose nothing: a tree, a line back on itself, repeated points.
    EXPECT_TRUE(
        polygonize_noded(context, geos::from_wkt(context, "MULTILINESTRING((0 0,1 0),(1 0,1 1),(1 0,2 0))").get())
            .empty());
    EXPECT_TRUE(polygonize_noded(context, geos::from_wkt(context, "LINESTRING(0 0,1 0,1 0,0 0)").get()).empty());
    EXPECT_TRUE(polygonize_noded(context, geos::from_wkt(context, "LINESTRING(3 3,3 3)").get()).empty());
}

// A jagged square (teeth 3 cm deep) as node_with_outline leaves it: stretches nothing comes near
// passed on as they are, the rest noded with lines across it.
TEST(PolygonizeNoded, ZigZaggingOutlineAsGeos) {
    geos::Context context;
    std::vector<Point> ring;
    const int per_edge = 20'000;
    const Point corners[] = {{0, 0}, {100, 0}, {100, 100}, {0, 100}};
    for (int e = 0; e < 4; ++e) {
        const Point a = corners[e], b = corners[(e + 1) % 4];
        const double nx = -(b.y - a.y) / 100, ny = (b.x - a.x) / 100;
        for (int j = 0; j < per_edge; ++j) {
            const double t = static_cast<double>(j) / per_edge;
            Point p{a.x + t * (b.x - a.x), a.y + t * (b.y - a.y)};
            if (j % 2 == 1 && std::min(t, 1 - t) * 100 > 0.15) p = {p.x + nx * 0.03, p.y + ny * 0.03};
            ring.push_back(p);
        }
    }
    ring.push_back(ring.front());
    const geos::Geom area = geos::polygon(context, ring);
    ASSERT_GT(GEOSGetNumCoordinates_r(context.handle(), area.get()), kDetailedOutline);
    const geos::Geom lines = geos::from_wkt(
        context, "MULTILINESTRING((-5 50,105 50),(50 -5,50 40),(20 20,30 20,30 30,20 30,20 20),(60 0.01,70 0.01))");
    const geos::Geom linework = node_with_outline(context, area.get(), lines.get());
    expect_same_faces(context, linework.get(), 4);
}

}  // namespace
}  // namespace civgrid::algorithms
