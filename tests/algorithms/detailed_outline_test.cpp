// Clipping and noding against a detailed outline agree with GEOS's overlays on zig-zagging
// outlines (teeth a few centimetres deep, millimetres apart), holes included.
#include <civgrid/algorithms/detailed_outline.hpp>
#include <civgrid/algorithms/geos.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace civgrid::algorithms {
namespace {

// The square [x0, x0 + side] x [y0, y0 + side], counter-clockwise, `per_edge` vertices on each
// edge, every other one moved `jag` to the left of its edge (inwards), except within 5 jag of a
// corner (so the ring stays simple).
std::vector<Point> jagged_square(double x0, double y0, double side, int per_edge, double jag) {
    const Point corners[] = {{x0, y0}, {x0 + side, y0}, {x0 + side, y0 + side}, {x0, y0 + side}};
    std::vector<Point> ring;
    for (int e = 0; e < 4; ++e) {
        const Point a = corners[e], b = corners[(e + 1) % 4];
        const double nx = -(b.y - a.y) / side, ny = (b.x - a.x) / side;
        for (int j = 0; j < per_edge; ++j) {
            const double t = static_cast<double>(j) / per_edge;
            Point p{a.x + t * (b.x - a.x), a.y + t * (b.y - a.y)};
            if (j % 2 == 1 && std::min(t, 1 - t) * side > 5 * std::abs(jag)) p = {p.x + nx * jag, p.y + ny * jag};
            ring.push_back(p);
        }
    }
    ring.push_back(ring.front());
    return ring;
}

// A zig-zagging square with a zig-zagging square hole, whose teeth point into the hole.
geos::Geom toothed_area(const geos::Context& context, int per_edge) {
    std::vector<Point> hole = jagged_square(40, 40, 20, per_edge / 4, -0.02);
    std::reverse(hole.begin(), hole.end());
    geos::Geom area = geos::polygon(context, jagged_square(0, 0, 100, per_edge, 0.03), {hole});
    EXPECT_EQ(GEOSisValid_r(context.handle(), area.get()), 1);
    return area;
}

// Random lines across the area and its outline, some with several vertices, one closed; lines
// along the outer edges' base (touching every other vertex of the teeth) and through a hole corner.
geos::Geom test_lines(const geos::Context& context, unsigned seed, int count) {
    std::mt19937 random(seed);
    std::uniform_real_distribution<double> coordinate(-10, 110);
    std::vector<geos::Geom> lines;
    for (int i = 0; i < count; ++i) {
        std::vector<Point> v;
        const int vertices = 2 + i % 3;
        for (int k = 0; k < vertices; ++k) v.push_back({coordinate(random), coordinate(random)});
        lines.push_back(geos::line_string(context, v));
    }
    lines.push_back(geos::line_string(context, {{-5, 50}, {50, -5}, {105, 50}, {50, 105}, {-5, 50}}));
    lines.push_back(geos::line_string(context, {{-5, 0}, {105, 0}}));
    lines.push_back(geos::line_string(context, {{100, -5}, {100, 105}}));
    lines.push_back(geos::line_string(context, {{30, 30}, {40, 40}, {45, 50}}));
    // Nearly along a zig-zagging edge: through the teeth, a few millimetres in.
    lines.push_back(geos::line_string(context, {{1, 0.013}, {99, 0.021}}));
    return geos::collection(context, GEOS_MULTILINESTRING, std::move(lines));
}

TEST(OutlineClipper, KeepsWhatGeosIntersectionKeepsOffTheOutline) {
    geos::Context context;
    const auto handle = context.handle();
    const geos::Geom area = toothed_area(context, 1000);
    const geos::Prepared prepared = geos::prepare(context, area.get());
    const geos::Geom lines = test_lines(context, 11, 100);
    const OutlineClipper clipper(context, area.get());
    const std::vector<ClippedPiece> pieces = clipper.clip(lines.get());

    // GEOS: the intersection with the area, less what runs along its boundary.
    const geos::Geom inside = geos::own(context, GEOSIntersection_r(handle, lines.get(), area.get()), "intersection");
    const geos::Geom boundary = geos::own(context, GEOSBoundary_r(handle, area.get()), "boundary");
    const geos::Geom off = geos::own(context, GEOSDifference_r(handle, inside.get(), boundary.get()), "difference");
    const double expected = geos::length(context, off.get());
    ASSERT_GT(expected, 500);
    EXPECT_NEAR(total_length(pieces), expected, 1e-7 * expected);

    // Every piece lies in the area (the middles of its segments do); its ends are on the outline
    // exactly when marked cut.
    const geos::Prepared near_boundary = geos::prepare(context, boundary.get());
    std::size_t cut_ends = 0;
    for (const ClippedPiece& piece : pieces) {
        ASSERT_GE(piece.points.size(), 2u);
        for (std::size_t i = 1; i < piece.points.size(); ++i) {
            const Point middle{(piece.points[i - 1].x + piece.points[i].x) / 2,
                               (piece.points[i - 1].y + piece.points[i].y) / 2};
            const geos::Geom point = geos::point(context, middle);
            EXPECT_EQ(GEOSPreparedIntersects_r(handle, prepared.get(), point.get()), 1);
        }
        for (const auto& [end, cut] :
             {std::pair{piece.points.front(), piece.cut_start}, std::pair{piece.points.back(), piece.cut_end}}) {
            const geos::Geom point = geos::point(context, end);
            double distance = 0;
            GEOSPreparedDistance_r(handle, near_boundary.get(), point.get(), &distance);
            if (cut) {
                EXPECT_LT(distance, 1e-9);
                ++cut_ends;
            } else {
                EXPECT_GT(distance, 0);
            }
        }
    }
    // The line through the teeth is cut at every one of them.
    EXPECT_GT(cut_ends, 1000u);
}

TEST(OutlineClipper, TellsInsideFromOutsideLikeGeosNextToTheTeeth) {
    geos::Context context;
    const geos::Geom area = toothed_area(context, 4000);
    const geos::Prepared prepared = geos::prepare(context, area.get());
    const OutlineClipper clipper(context, area.get());
    std::mt19937 random(5);
    std::uniform_real_distribution<double> along(-1, 101), across(-0.05, 0.08), anywhere(-5, 105);
    int tested = 0, inside = 0;
    for (int i = 0; i < 20000; ++i) {
        // Along the bottom edge among its teeth, along the hole's left edge, or anywhere.
        Point p;
        if (i % 3 == 0)
            p = {along(random), across(random)};
        else if (i % 3 == 1)
            p = {40 + across(random), 40 + along(random) / 5};
        else
            p = {anywhere(random), anywhere(random)};
        if (clipper.on_outline(p)) continue;
        const geos::Geom point = geos::point(context, p);
        const bool expected = GEOSPreparedIntersects_r(context.handle(), prepared.get(), point.get()) == 1;
        ASSERT_EQ(clipper.inside(p), expected) << p.x << " " << p.y;
        ++tested;
        inside += expected ? 1 : 0;
    }
    EXPECT_GT(tested, 19000);
    EXPECT_GT(inside, 5000);
    EXPECT_GT(tested - inside, 5000);
}

TEST(OutlineClipper, CoversLikeGeosPreparedIntersects) {
    geos::Context context;
    const geos::Geom area = toothed_area(context, 4000);
    const geos::Prepared prepared = geos::prepare(context, area.get());
    const OutlineClipper clipper(context, area.get());
    std::mt19937 random(9);
    std::uniform_real_distribution<double> along(-1, 101), across(-0.05, 0.08), anywhere(-5, 105);
    // The outline's own vertices and the middles of its segments, points among the teeth, anywhere.
    std::vector<Point> points;
    for (const auto& [a, b] : geos::line_segments(context, area.get())) {
        if (points.size() % 50 == 0) points.push_back(a);
        if (points.size() % 50 == 1) points.push_back({(a.x + b.x) / 2, (a.y + b.y) / 2});
        points.push_back({a.x, a.y + 1e-9});
    }
    for (int i = 0; i < 10000; ++i)
        points.push_back(i % 2 == 0 ? Point{along(random), across(random)} : Point{anywhere(random), anywhere(random)});
    int covered = 0;
    for (const Point& p : points) {
        const geos::Geom point = geos::point(context, p);
        const bool expected = GEOSPreparedIntersects_r(context.handle(), prepared.get(), point.get()) == 1;
        ASSERT_EQ(clipper.covers(p), expected) << p.x << " " << p.y;
        covered += expected ? 1 : 0;
    }
    EXPECT_GT(covered, 1000);
    EXPECT_LT(covered, static_cast<int>(points.size()) - 1000);
}

// AreaLocator answers as GEOSPreparedIntersects_r: points on the outline's vertices and segments,
// a micrometre beside them, among the teeth, in the hole, far away; and a MultiPolygon of the area
// and a square apart.
TEST(AreaLocator, CoversLikeGeosPreparedIntersects) {
    geos::Context context;
    std::vector<geos::Geom> parts;
    parts.push_back(toothed_area(context, 4000));
    parts.push_back(geos::polygon(context, {{200, 0}, {300, 0}, {300, 100}, {200, 100}}));
    const geos::Geom area = geos::collection(context, GEOS_MULTIPOLYGON, std::move(parts));
    const geos::Prepared prepared = geos::prepare(context, area.get());
    const AreaLocator locator(context, area.get());
    std::mt19937 random(11);
    std::uniform_real_distribution<double> along(-1, 101), across(-0.05, 0.08), anywhere(-5, 305);
    std::vector<Point> points;
    for (const auto& [a, b] : geos::line_segments(context, area.get())) {
        if (points.size() % 40 == 0) points.push_back(a);
        if (points.size() % 40 == 1) points.push_back({(a.x + b.x) / 2, (a.y + b.y) / 2});
        if (points.size() % 40 == 2) points.push_back({a.x, a.y + 1e-7});
        if (points.size() % 40 == 3) points.push_back({(a.x + b.x) / 2 - 4e-7, (a.y + b.y) / 2 + 3e-7});
        points.push_back({a.x + 3e-4, a.y - 2e-4});
    }
    for (int i = 0; i < 20000; ++i)
        points.push_back(i % 2 == 0 ? Point{along(random), across(random)} : Point{anywhere(random), anywhere(random)});
    points.push_back({45, 45});    // in the hole
    points.push_back({250, 50});   // in the square apart
    points.push_back({300, 50});   // on its edge
    points.push_back({-1e9, 50});  // far out, level with the area
    int inside = 0;
    for (const Point& p : points) {
        const geos::Geom point = geos::point(context, p);
        const bool expected = GEOSPreparedIntersects_r(context.handle(), prepared.get(), point.get()) == 1;
        ASSERT_EQ(locator.covers(context, p), expected) << p.x << " " << p.y;
        inside += expected ? 1 : 0;
    }
    EXPECT_GT(inside, 1000);
    EXPECT_LT(inside, static_cast<int>(points.size()) - 1000);
    EXPECT_FALSE(locator.covers(context, {45, 45}));
    EXPECT_TRUE(locator.covers(context, {300, 50}));
    EXPECT_FALSE(locator.covers(context, {std::nan(""), 50}));
}

// lightened: small outlines untouched; a zig-zagging detailed one simplified to within the
// tolerance, valid, its area within tolerance times perimeter.
TEST(Lightened, LeavesEverydayOutlinesAndSimplifiesDetailedOnes) {
    geos::Context context;
    const auto handle = context.handle();
    const geos::Geom small = geos::from_wkt(context, "POLYGON((0 0,10 0,10 10,0 10,0 0))");
    const geos::Geom kept = lightened(context, geos::clone(context, small.get()), 0.05);
    EXPECT_EQ(GEOSEqualsExact_r(handle, kept.get(), small.get(), 0.0), 1);
    const geos::Geom area = toothed_area(context, 16'000);
    const double before = geos::area(context, area.get());
    const geos::Geom light = lightened(context, geos::clone(context, area.get()), 0.05);
    EXPECT_LT(GEOSGetNumCoordinates_r(handle, light.get()), 1000);
    EXPECT_EQ(GEOSisValid_r(handle, light.get()), 1);
    double distance = 0;
    GEOSHausdorffDistance_r(handle, light.get(), area.get(), &distance);
    EXPECT_LE(distance, 0.05 + 1e-9);
    EXPECT_NEAR(geos::area(context, light.get()), before, 0.05 * geos::length(context, area.get()));
}

// Faces of polygonized linework, as sorted areas.
std::vector<double> face_areas(const geos::Context& context, const GEOSGeometry* linework) {
    const GEOSGeometry* inputs[] = {linework};
    const geos::Geom faces = geos::own(context, GEOSPolygonize_r(context.handle(), inputs, 1), "polygonize");
    std::vector<double> areas;
    for (const geos::Geom& face : geos::parts(context, faces.get())) areas.push_back(geos::area(context, face.get()));
    std::sort(areas.begin(), areas.end());
    return areas;
}

TEST(NodeWithOutline, PolygonizesToTheFacesOfAFullUnion) {
    geos::Context context;
    const auto handle = context.handle();
    const geos::Geom area = toothed_area(context, 16'000);  // 16,000 vertices an edge: detailed
    ASSERT_GT(GEOSGetNumCoordinates_r(handle, area.get()), kDetailedOutline);
    const geos::Geom lines = test_lines(context, 3, 40);

    const geos::Geom linework = node_with_outline(context, area.get(), lines.get());
    std::vector<geos::Geom> all;
    geos::collect_lines(context, area.get(), all);
    geos::collect_lines(context, lines.get(), all);
    const geos::Geom together = geos::collection(context, GEOS_MULTILINESTRING, std::move(all));
    const geos::Geom union_ = geos::own(context, GEOSUnaryUnion_r(handle, together.get()), "union");

    const std::vector<double> expected = face_areas(context, union_.get());
    const std::vector<double> got = face_areas(context, linework.get());
    ASSERT_GT(expected.size(), 100u);
    ASSERT_EQ(got.size(), expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-9 * (1 + expected[i]));
    // Stretches of the outline that no line comes near were passed on as they were, not noded.
    int as_they_were = 0;
    for (int i = 1; i < GEOSGetNumGeometries_r(handle, linework.get()); ++i)
        as_they_were += GEOSGetNumCoordinates_r(handle, GEOSGetGeometryN_r(handle, linework.get(), i));
    EXPECT_GT(as_they_were, GEOSGetNumCoordinates_r(handle, area.get()) / 4);
}

}  // namespace
}  // namespace civgrid::algorithms
