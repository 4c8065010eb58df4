#include <civgrid/algorithms/geometry_repair.hpp>
#include <civgrid/algorithms/geos.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace civgrid::algorithms {
namespace {

Wkb wkb(const geos::Context& context, const std::string& wkt) {
    return geos::to_wkb(context, geos::from_wkt(context, wkt).get());
}

// POLYGON WKT of `ring` (x, y pairs) closed by repeating its first point, `decimals` after the point.
std::string closed_polygon_wkt(const std::vector<std::pair<double, double>>& ring, int decimals) {
    std::string text = "POLYGON((";
    char point[64];
    for (std::size_t i = 0; i <= ring.size(); ++i) {
        const auto& [x, y] = ring[i % ring.size()];
        std::snprintf(point, sizeof point, "%s%.*f %.*f", i == 0 ? "" : ", ", decimals, x, decimals, y);
        text += point;
    }
    return text + "))";
}

// What GEOS itself says: a polygon is left alone only when it is valid and has no repeated vertex.
bool geos_leaves_alone(const geos::Context& context, const Wkb& geometry) {
    const geos::Geom g = geos::from_wkb(context, geometry);
    const geos::Geom deduplicated = geos::own(context, GEOSRemoveRepeatedPoints_r(context.handle(), g.get(), 0.0), "");
    return GEOSisValid_r(context.handle(), g.get()) == 1 &&
           GEOSGetNumCoordinates_r(context.handle(), deduplicated.get()) ==
               GEOSGetNumCoordinates_r(context.handle(), g.get());
}

// Repairs `shapes` (WKT) and expects GEOS's verdict on each: unchanged, bytes untouched, exactly
// when GEOS finds nothing wrong. Returns how many GEOS leaves alone.
int repairs_agreeing_with_geos(const geos::Context& context, const std::vector<std::string>& shapes) {
    std::vector<Wkb> geometries;
    for (const std::string& shape : shapes) geometries.push_back(wkb(context, shape));
    const std::vector<Wkb> before = geometries;
    const std::vector<RepairOutcome> outcomes = repair_polygons(geometries, 2);
    int valid = 0;
    for (std::size_t i = 0; i < shapes.size(); ++i) {
        const bool alone = geos_leaves_alone(context, before[i]);
        valid += alone ? 1 : 0;
        EXPECT_EQ(outcomes[i].kind == RepairOutcome::Kind::unchanged, alone) << i << ": " << shapes[i].substr(0, 200);
        if (alone) {
            EXPECT_EQ(geometries[i], before[i]) << i;
        }
    }
    return valid;
}

// Polygons of every kind the one-ring shortcut must tell apart: valid, bow-ties, rings touching
// themselves, spikes, no area, repeated vertices, holes, random rings (half self-crossing), and
// dense stars (valid, with a small crossing, or touching themselves).
std::vector<std::string> shortcut_shapes() {
    std::vector<std::string> shapes = {
        "POLYGON((0 0, 10 0, 10 10, 0 10, 0 0))",                        // valid
        "POLYGON((0 0, 10 0, 0 10, 0 0))",                               // valid triangle
        "POLYGON((0 0, 5 0, 10 0, 10 10, 0 10, 0 0))",                   // valid, a collinear vertex
        "POLYGON((0 0, 10 10, 10 0, 0 10, 0 0))",                        // bow-tie
        "POLYGON((0 0, 10 0, 10 10, 5 0, 0 10, 0 0))",                   // ring touching itself at a vertex
        "POLYGON((0 0, 10 0, 10 10, 10 0, 0 0))",                        // spike back along an edge
        "POLYGON((0 0, 10 0, 20 0, 0 0))",                               // no area
        "POLYGON((0 0, 10 0, 10 0, 10 10, 0 10, 0 0))",                  // repeated vertex
        "POLYGON((0 0, 10 0, 10 10, 0 10, 0 0), (2 2, 4 2, 4 4, 2 2))",  // a hole: GEOS decides
        "MULTIPOLYGON(((0 0, 1 0, 1 1, 0 0)), ((5 5, 6 5, 6 6, 5 5)))",
        // A Voronoi cell folded by a unit in the last place (Chongqing's lattice).
        "POLYGON((611676.2132250016 3276086.6287249993, 611676.2132250016 3276086.628724999, "
        "611702.0331750028 3276086.628724999, 611702.0331750028 3276060.8087750003, "
        "611676.213225002 3276060.8087750003, 611676.2132250016 3276086.6287249993))",
        // A sliver far from the origin: rounding cannot tell its turn at every vertex.
        "POLYGON((611000.1 3275000.1, 611000.2 3275000.2, 611000.3 3275000.3000000005, 611000.1 3275000.1))",
    };
    // Random rings around a centre at projected coordinates: convex-ish and self-crossing ones.
    std::mt19937_64 random(7);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    for (int k = 0; k < 400; ++k) {
        const int n = 3 + static_cast<int>(unit(random) * 12);
        const bool ordered = k % 2 == 0;
        std::string text = "POLYGON((";
        std::string first;
        for (int i = 0; i < n; ++i) {
            const double angle = ordered ? 2 * M_PI * (i + 0.8 * unit(random)) / n : 2 * M_PI * unit(random);
            const double radius = 5 + 20 * unit(random);
            char point[64];
            std::snprintf(point, sizeof point, "%.4f %.4f", 611000 + radius * std::cos(angle),
                          3275000 + radius * std::sin(angle));
            if (i == 0) first = point;
            text += std::string(point) + ", ";
        }
        shapes.push_back(text + first + "))");
    }
    // Dense rings (a parcel's wiggly edges; the shortcut's grid check above 65 vertices): stars of
    // 70-1,800 vertices, valid as they are, with two neighbouring vertices swapped (a small
    // crossing), or with a vertex moved onto another's position (touching itself).
    for (int k = 0; k < 60; ++k) {
        const int n = 70 + 30 * k;
        std::vector<std::pair<double, double>> ring;
        for (int i = 0; i < n; ++i) {
            const double angle = 2 * M_PI * (i + 0.5 * unit(random)) / n;
            const double radius = 20 + 0.5 * std::sin(i * 0.7) + 0.2 * unit(random);
            ring.emplace_back(611000 + radius * std::cos(angle), 3275000 + radius * std::sin(angle));
        }
        if (k % 3 == 1) std::swap(ring[static_cast<std::size_t>(n / 2)], ring[static_cast<std::size_t>(n / 2 + 1)]);
        if (k % 3 == 2) ring[static_cast<std::size_t>(n / 3)] = ring[static_cast<std::size_t>(n / 3 + 5)];
        shapes.push_back(closed_polygon_wkt(ring, 4));
    }
    return shapes;
}

// Valid buildings are read without GEOS; whatever the shortcut cannot vouch for goes to GEOS. Either
// way the outcome must be GEOS's: unchanged exactly when GEOS finds nothing wrong.
TEST(RepairPolygons, ShortcutForValidRingsAgreesWithGeos) {
    geos::Context context;
    const int valid = repairs_agreeing_with_geos(context, shortcut_shapes());
    EXPECT_GT(valid, 170);  // both kinds are well represented
    EXPECT_LT(valid, 370);
}

// Whether GEOS's MakeValid (its default, linework method) leaves a ring's polygon without area.
bool geos_encloses_nothing(const geos::Context& context, const GEOSGeometry* ring) {
    const GEOSContextHandle_t h = context.handle();
    const geos::Geom polygon =
        geos::own(context, GEOSGeom_createPolygon_r(h, GEOSGeom_clone_r(h, ring), nullptr, 0), "");
    const geos::Geom made = geos::own_nullable(context, GEOSMakeValid_r(h, polygon.get()));
    return made && geos::area(context, made.get()) == 0.0;
}

// An invalid polygon's reason is "zero_area_ring" exactly when GEOS's MakeValid leaves one of its
// rings without area, whatever shortcut the repair takes to know it (rings whose signed area is
// certainly not zero are not made valid to ask): bow-ties even and uneven, dense ones, spikes,
// rings retracing themselves, running round twice, zero-area holes, collinear slivers far from
// the origin, random crossings.
TEST(RepairPolygons, ZeroAreaRingReasonAgreesWithGeosMakeValid) {
    geos::Context context;
    std::vector<std::string> shapes = {
        "POLYGON((0 0, 10 10, 10 0, 0 10, 0 0))",                                // even bow-tie
        "POLYGON((0 0, 10 10, 10 0, 0 15, 0 0))",                                // uneven bow-tie
        "POLYGON((0 0, 10 0, 10 10, 10 0, 0 0))",                                // spike back along an edge
        "POLYGON((0 0, 10 0, 20 0, 10 0, 0 0))",                                 // a line there and back
        "POLYGON((0 0, 10 0, 10 10, 0 10, 0 0, 10 0, 10 10, 0 10, 0 0))",        // round twice
        "POLYGON((0 0, 10 0, 10 10, 0 10, 0 0), (2 2, 4 2, 6 2, 4 2, 2 2))",     // a hole of no area
        "POLYGON((0 0, 10 0, 10 10, 0 10, 0 0), (2 2, 4 4, 4 2, 2 4, 2 2))",     // a bow-tie hole
        "POLYGON((0 0, 10 0, 10 10, 0 10, 0 0), (20 20, 24 20, 24 24, 20 20))",  // a hole outside
        "POLYGON((611000.1 3275000.1, 611000.2 3275000.2, 611000.3 3275000.3000000005, 611000.2 "
        "3275000.2, 611000.1 3275000.1))",  // a sliver there and back, far from the origin
        "POLYGON((611000 3275000, 611010 3275000, 611000 3275000.0000000005, 611010 3275000.000000001, "
        "611000 3275000))",  // folded by units in the last place
    };
    std::mt19937_64 random(5);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    // Dense bow-ties as the parcels have them: a wiggly square whose two far corners are swapped,
    // some symmetric (the halves' areas cancel), some not.
    for (int k = 0; k < 12; ++k) {
        const int n = 200 + 400 * k;
        const double stretch = k % 2 == 0 ? 1.0 : 1.3;
        std::vector<std::pair<double, double>> ring;
        for (int i = 0; i < n; ++i) {
            const double t = static_cast<double>(i) / n, wiggle = k % 3 == 0 ? 0.0 : 0.02 * std::sin(37.0 * t);
            const double side = std::floor(4 * t), u = 4 * t - side;
            double x = side == 0 ? u : side == 1 ? 1 : side == 2 ? 1 - u : 0;
            double y = side == 0 ? 0 : side == 1 ? u : side == 2 ? 1 : 1 - u;
            x += wiggle, y += wiggle;
            ring.emplace_back(611000 + 40 * x * stretch, 3275000 + 40 * y);
        }
        std::swap(ring[static_cast<std::size_t>(n / 4)], ring[static_cast<std::size_t>(n / 2)]);
        shapes.push_back(closed_polygon_wkt(ring, 3));
    }
    for (int k = 0; k < 20; ++k) {  // a valid shell, a hole retracing a random path (no area at all)
        std::vector<std::string> points;
        char point[64];
        for (int i = 0; i < 2 + k % 5; ++i) {
            std::snprintf(point, sizeof point, "%.3f %.3f", 611002 + 16 * unit(random), 3275002 + 16 * unit(random));
            points.emplace_back(point);
        }
        for (int i = static_cast<int>(points.size()) - 2; i >= 0; --i)
            points.push_back(points[static_cast<std::size_t>(i)]);
        std::string hole = "(";
        for (std::size_t i = 0; i < points.size(); ++i) hole += (i == 0 ? "" : ", ") + points[i];
        shapes.push_back("POLYGON((611000 3275000, 611020 3275000, 611020 3275020, 611000 3275020, 611000 3275000), " +
                         hole + "))");
    }
    for (int k = 0; k < 200; ++k) {  // random crossings, some with a retraced tail
        const int n = 4 + static_cast<int>(unit(random) * 10);
        std::vector<std::string> points;
        char point[64];
        for (int i = 0; i < n; ++i) {
            std::snprintf(point, sizeof point, "%.2f %.2f", 611000 + 20 * unit(random), 3275000 + 20 * unit(random));
            points.emplace_back(point);
        }
        if (k % 4 == 0)
            for (int i = n - 2; i >= 1; --i) points.push_back(points[static_cast<std::size_t>(i)]);
        std::string text = "POLYGON((";
        for (const std::string& p : points) text += p + ", ";
        shapes.push_back(text + points.front() + "))");
    }
    std::vector<Wkb> geometries;
    for (const std::string& shape : shapes) geometries.push_back(wkb(context, shape));
    const std::vector<Wkb> before = geometries;
    const std::vector<RepairOutcome> outcomes = repair_polygons(geometries, 2);
    int zero_area_rings = 0, others = 0;
    for (std::size_t i = 0; i < shapes.size(); ++i) {
        if (outcomes[i].kind != RepairOutcome::Kind::repaired || outcomes[i].reason == "duplicate_points") continue;
        const GEOSContextHandle_t h = context.handle();
        const geos::Geom g =
            geos::own(context, GEOSRemoveRepeatedPoints_r(h, geos::from_wkb(context, before[i]).get(), 0.0), "");
        bool expected = geos_encloses_nothing(context, GEOSGetExteriorRing_r(h, g.get()));
        for (int r = 0; r < GEOSGetNumInteriorRings_r(h, g.get()); ++r)
            expected = expected || geos_encloses_nothing(context, GEOSGetInteriorRingN_r(h, g.get(), r));
        EXPECT_EQ(outcomes[i].reason == "zero_area_ring", expected) << i << ": " << shapes[i].substr(0, 200);
        (expected ? zero_area_rings : others) += 1;
    }
    EXPECT_GE(zero_area_rings, 5);  // both answers are well represented
    EXPECT_GE(others, 100);
}

// is_valid proves one-ring polygons simple itself (micro-grids and their unions, by the thousand)
// and asks GEOS about the rest: its answer is GEOS's on every kind of ring, valid or not.
TEST(IsValid, AgreesWithGeosOnEveryKindOfRing) {
    geos::Context context;
    int valid = 0, invalid = 0;
    for (const std::string& shape : shortcut_shapes()) {
        const geos::Geom polygon = geos::from_wkt(context, shape);
        const bool expected = GEOSisValid_r(context.handle(), polygon.get()) == 1;
        EXPECT_EQ(is_valid(context, polygon.get()), expected) << shape.substr(0, 200);
        (expected ? valid : invalid) += 1;
    }
    EXPECT_GT(valid, 170);
    EXPECT_GT(invalid, 100);
}

// Dense parcels as the import sees them (wiggly edges of 70 to 4,000 vertices snapped to the
// millimetre, so straight runs of collinear vertices, beside long straight sides) are proven
// simple by the bucketed grid without GEOS. Each kind of flaw must still reach GEOS: a crossing,
// a vertex on another vertex or on a long side, a spike back along an edge, a repeated vertex, a
// straight run turning back on itself, a long side cut through the wiggle, a hole. The outcome
// is GEOS's in every case: unchanged exactly when GEOS finds nothing wrong, bytes untouched then.
TEST(RepairPolygons, DenseRingsWithStraightRunsAgreeWithGeos) {
    geos::Context context;
    std::mt19937_64 random(11);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const auto snap = [](double v) { return std::round(v / 0.001) * 0.001; };
    // A 40 m parcel at projected coordinates: which of its four sides wiggle, with how many vertices.
    const auto parcel = [&](int wiggly_sides, int per_side, bool axis_aligned) {
        const double j = axis_aligned ? 0.0 : 8.0;
        const Point corners[4] = {{611000 + j * unit(random), 3275000 + j * unit(random)},
                                  {611040 + j * unit(random), 3275000 + j * unit(random)},
                                  {611040 + j * unit(random), 3275040 + j * unit(random)},
                                  {611000 + j * unit(random), 3275040 + j * unit(random)}};
        std::vector<Point> ring;
        for (int side = 0; side < 4; ++side) {
            const Point a = corners[side], b = corners[(side + 1) % 4];
            ring.push_back({snap(a.x), snap(a.y)});
            if (side >= wiggly_sides) continue;
            const double dx = b.x - a.x, dy = b.y - a.y, length = std::hypot(dx, dy);
            for (int k = 1; k <= per_side; ++k) {
                const double t = static_cast<double>(k) / (per_side + 1);
                const double offset = 0.5 * std::sin(M_PI * t) * std::sin(40.0 * t);
                ring.push_back({snap(a.x + t * dx - offset * dy / length), snap(a.y + t * dy + offset * dx / length)});
            }
        }
        ring.push_back(ring.front());
        return ring;
    };
    const auto text = [](const std::vector<Point>& ring, const std::string& hole = "") {
        std::string out = "POLYGON((";
        char point[64];
        for (std::size_t i = 0; i < ring.size(); ++i) {
            std::snprintf(point, sizeof point, "%s%.3f %.3f", i == 0 ? "" : ", ", ring[i].x, ring[i].y);
            out += point;
        }
        return out + ")" + hole + ")";
    };
    std::vector<std::string> shapes;
    int straight_runs = 0;
    for (int k = 0; k < 180; ++k) {
        const int per_side = 17 + static_cast<int>(unit(random) * 1000);
        std::vector<Point> ring = parcel(1 + k % 4, per_side, k % 5 == 0);
        const std::size_t n = ring.size() - 1;  // distinct vertices; ring[n] closes it
        for (std::size_t i = 1; i + 1 < n; ++i) {
            const Point a = ring[i - 1], b = ring[i], c = ring[i + 1];
            if ((b.x - a.x) * (c.y - b.y) == (b.y - a.y) * (c.x - b.x)) {
                ++straight_runs;
                break;
            }
        }
        const auto at = [&](double share) { return static_cast<std::size_t>(share * static_cast<double>(n - 2)) + 1; };
        switch (k % 9) {
            case 0:
            case 1:
                break;  // as it is: valid
            case 2:     // two neighbouring vertices swapped where the wiggle is wide: a small crossing
                std::swap(ring[at(0.12)], ring[at(0.12) + 1]);
                break;
            case 3:  // a vertex moved onto another one further on: the ring touches itself
                ring[at(0.1)] = ring[at(0.1) + 7];
                break;
            case 4: {  // a vertex of the wiggle moved onto the middle of the last (straight) side
                const Point a = ring[n - 1], b = ring[0];
                ring[at(0.05)] = {(a.x + b.x) / 2, (a.y + b.y) / 2};
                break;
            }
            case 5: {  // a spike: out 20 cm along x and back halfway, then on
                const Point p = ring[at(0.3)];
                ring.insert(ring.begin() + static_cast<std::ptrdiff_t>(at(0.3)) + 1,
                            {Point{p.x + 0.2, p.y}, Point{p.x + 0.1, p.y}});
                break;
            }
            case 6:  // a repeated vertex
                ring.insert(ring.begin() + static_cast<std::ptrdiff_t>(at(0.5)), ring[at(0.5)]);
                break;
            case 7: {  // a straight run turning back: p, p + 3 mm, p + 1 mm along x
                const Point p = ring[at(0.7)];
                ring.insert(ring.begin() + static_cast<std::ptrdiff_t>(at(0.7)) + 1,
                            {Point{p.x + 0.003, p.y}, Point{p.x + 0.001, p.y}});
                break;
            }
            case 8:  // the last corner pulled across the parcel: a long side cuts the wiggle
                ring[n - 1] = {ring[n - 1].x + 30, ring[n - 1].y - 45};
                break;
        }
        shapes.push_back(text(ring));
    }
    // Holes (always GEOS's): inside, and touching the shell at a vertex.
    const std::vector<Point> holed = parcel(4, 300, true);
    shapes.push_back(text(holed, ", (611010 3275010, 611010 3275020, 611020 3275020, 611010 3275010)"));
    shapes.push_back(text(holed, ", (611000 3275000, 611010 3275020, 611020 3275010, 611000 3275000)"));
    const int valid = repairs_agreeing_with_geos(context, shapes);
    EXPECT_GT(straight_runs, 100);  // the millimetre grid makes straight runs in most rings
    EXPECT_GT(valid, 30);           // both kinds are well represented
    EXPECT_LT(valid, 140);
}

// The brute force: every pair of polygons measured by a GEOS overlay.
std::vector<OverlapPair> overlaps_by_geos(const geos::Context& context, const std::vector<Wkb>& geometries,
                                          double min_area) {
    std::vector<OverlapPair> expected;
    for (std::size_t a = 0; a < geometries.size(); ++a)
        for (std::size_t b = a + 1; b < geometries.size(); ++b) {
            const geos::Geom ga = geos::from_wkb(context, geometries[a]), gb = geos::from_wkb(context, geometries[b]);
            const geos::Geom both = geos::own(context, GEOSIntersection_r(context.handle(), ga.get(), gb.get()), "");
            const double area = geos::area(context, both.get());
            if (area > min_area)
                expected.push_back(
                    {a, b, area, area / std::min(geos::area(context, ga.get()), geos::area(context, gb.get()))});
        }
    return expected;
}

// Neighbours of a tiling are told apart from their segments; every contact that is not a plain
// shared edge must still be measured: the result equals the brute force's on a jittered lattice
// (rings of both orientations, dense shared edges) with every tricky case added.
TEST(OverlappingPairs, TilingNeighboursAndTrickyContactsAgreeWithGeos) {
    geos::Context context;
    std::mt19937_64 random(5);
    std::uniform_real_distribution<double> jitter(-6.0, 6.0);
    constexpr int kSide = 12;
    constexpr double kSize = 40.0;
    std::vector<std::vector<Point>> corners(kSide + 1, std::vector<Point>(kSide + 1));
    for (int r = 0; r <= kSide; ++r)
        for (int c = 0; c <= kSide; ++c)
            corners[r][c] = {611000 + c * kSize + (c % kSide ? jitter(random) : 0),
                             3275000 + r * kSize + (r % kSide ? jitter(random) : 0)};
    // A dense shared edge: the same wiggly vertices on both sides of the vertical edge at (3, 3).
    std::vector<Point> wiggle;
    for (int k = 1; k < 300; ++k) {
        const double t = k / 300.0;
        const Point a = corners[3][3], b = corners[4][3];
        wiggle.push_back(
            {a.x + t * (b.x - a.x) + 0.3 * std::sin(t * 50) * std::sin(3.14159 * t), a.y + t * (b.y - a.y)});
    }
    const auto ring_text = [](const std::vector<Point>& ring) {
        std::string text = "POLYGON((";
        for (const Point& p : ring) text += std::to_string(p.x) + " " + std::to_string(p.y) + ",";
        return text + std::to_string(ring.front().x) + " " + std::to_string(ring.front().y) + "))";
    };
    std::vector<Wkb> geometries;
    for (int r = 0; r < kSide; ++r)
        for (int c = 0; c < kSide; ++c) {
            std::vector<Point> ring{corners[r][c], corners[r][c + 1]};
            if (r == 3 && c == 2) ring.insert(ring.end(), wiggle.begin(), wiggle.end());  // its right edge
            ring.push_back(corners[r + 1][c + 1]);
            ring.push_back(corners[r + 1][c]);
            if (r == 3 && c == 3) ring.insert(ring.end(), wiggle.rbegin(), wiggle.rend());  // its left edge
            if ((r + c) % 3 == 0) std::reverse(ring.begin(), ring.end());  // clockwise: orientation must not matter
            geometries.push_back(wkb(context, ring_text(ring)));
        }
    const auto cell = [&](int r, int c) { return geometries[static_cast<std::size_t>(r * kSide + c)]; };
    geometries.push_back(cell(5, 5));  // an exact copy
    {
        // A T-junction: cell (7, 7) again with an extra vertex in the middle of its right edge, pushed inwards.
        const Point a = corners[7][8], b = corners[8][8];
        geometries.push_back(
            wkb(context, ring_text({corners[7][7], a, {(a.x + b.x) / 2 - 5, (a.y + b.y) / 2}, b, corners[8][7]})));
    }
    geometries.push_back(wkb(context,
                             "POLYGON((611090 3275090,611095 3275090,611095 3275095,611090 3275095,"
                             "611090 3275090))"));  // a small one inside cell (2, 2)
    geometries.push_back(wkb(context,
                             "POLYGON((611600 3275000,611700 3275000,611700 3275100,611600 3275100,611600 "
                             "3275000),(611620 3275020,611680 3275020,611680 3275080,611620 3275080,611620 "
                             "3275020))"));  // a ring with a hole, beside the lattice...
    geometries.push_back(wkb(context,
                             "POLYGON((611630 3275030,611670 3275030,611670 3275070,611630 3275070,611630 "
                             "3275030))"));  // ...and a polygon in its hole
    geometries.push_back(wkb(context,
                             "POLYGON((611700 3275100,611750 3275100,611750 3275150,611700 3275150,611700 "
                             "3275100))"));  // touching the holed one at a corner only
    geometries.push_back(wkb(context,
                             "POLYGON((611600 3275100,611650 3275100,611650 3275050,611600 3275050,611600 "
                             "3275100))"));  // over the holed one's edge, crossing into it
    const std::vector<OverlapPair> pairs = overlapping_pairs(geometries, 0.01, 2);
    const std::vector<OverlapPair> expected = overlaps_by_geos(context, geometries, 0.01);
    ASSERT_EQ(pairs.size(), expected.size());
    ASSERT_GE(expected.size(), 4u);  // the copy, the T-junction's neighbours, the small one, the crossing
    for (std::size_t i = 0; i < pairs.size(); ++i) {
        EXPECT_EQ(pairs[i].first, expected[i].first);
        EXPECT_EQ(pairs[i].second, expected[i].second);
        EXPECT_NEAR(pairs[i].area, expected[i].area, 1e-6);
    }
}

// Boundaries that meet only at common vertices while one runs inside the other: every segment
// passes the pair tests, and what tells the overlap is that a path of free segments turns inside
// at a vertex of the other polygon (its midpoint is then tested, not taken as outside with the
// segment before). And boundaries crossing between vertices, which only the pair tests see. Plain rings (few free
// segments, each tested against every block of the other's) and the same densified (many: tested block against block),
// all found as GEOS finds them.
TEST(OverlappingPairs, BoundariesMeetingOnlyAtVerticesOrCrossingAgreeWithGeos) {
    geos::Context context;
    const auto ring = [](double x0, int steps, const std::vector<Point>& corners) {
        std::vector<Point> points;
        for (std::size_t c = 0; c < corners.size(); ++c) {
            const Point a = corners[c], b = corners[(c + 1) % corners.size()];
            for (int k = 0; k < steps; ++k)
                points.push_back({x0 + a.x + (b.x - a.x) * k / steps, 3275000 + a.y + (b.y - a.y) * k / steps});
        }
        points.push_back(points.front());
        std::string wkt = "POLYGON((";
        for (const Point& q : points) wkt += std::to_string(q.x) + " " + std::to_string(q.y) + ",";
        wkt.back() = ')';
        return wkt + ")";
    };
    const std::vector<Point> square{{0, 0}, {10, 0}, {10, 10}, {0, 10}};
    // Entering the square at one of its corners and leaving at another (a V inside it, the rest
    // above it): a triangle of 25 m2 in common.
    const std::vector<Point> entering{{12, 12}, {-2, 12}, {0, 10}, {5, 5}, {10, 10}};
    // Over a triangle's long side, crossing it between vertices (other steps than the triangle's),
    // with a leg down beside the triangle so that the pair's box holds the triangle's base: the
    // paths of both in that box start outside the other and run on across the crossings, so only
    // the pair tests see them. A triangle of 2 m2 in common.
    const std::vector<Point> triangle{{0, 0}, {10, 0}, {0, 10}},
        crossing{{12, -1}, {12, 12}, {4, 12}, {4, 4}, {11, 4}, {11, -1}};
    std::vector<Wkb> geometries;
    double x0 = 611000;
    for (const auto& [mine, mine_steps, other, other_steps] :
         {std::tuple{square, 1, entering, 1}, std::tuple{square, 40, entering, 40},
          std::tuple{triangle, 1, crossing, 1}, std::tuple{triangle, 41, crossing, 37}}) {
        geometries.push_back(wkb(context, ring(x0, mine_steps, mine)));
        geometries.push_back(wkb(context, ring(x0, other_steps, other)));
        x0 += 100;
    }
    const std::vector<OverlapPair> pairs = overlapping_pairs(geometries, 0.01, 2);
    const std::vector<OverlapPair> expected = overlaps_by_geos(context, geometries, 0.01);
    ASSERT_EQ(expected.size(), 4u);
    ASSERT_EQ(pairs.size(), expected.size());
    for (std::size_t i = 0; i < pairs.size(); ++i) {
        EXPECT_EQ(pairs[i].first, expected[i].first);
        EXPECT_EQ(pairs[i].second, expected[i].second);
        EXPECT_NEAR(pairs[i].area, i < 2 ? 25.0 : 2.0, 1e-6);
    }
}

// Dense rings are read by blocks of segments whose boxes meet the pair's box (and, for a point in
// polygon, whose y-range holds the point): the result equals GEOS's for small squares inside, in
// the hole of, outside and across a wiggly 2,000-vertex polygon with a 600-vertex hole (clockwise),
// and for a neighbour sharing its outline vertex for vertex (a multipolygon with a far part).
TEST(OverlappingPairs, DenseRingsReadByBlocksAgreeWithGeos) {
    geos::Context context;
    const Point centre{611000, 3275000};
    const auto wiggly = [&](int count, double radius, double amplitude, int waves) {
        std::vector<Point> ring;
        for (int k = 0; k < count; ++k) {
            const double angle = -2 * 3.141592653589793 * k / count;  // clockwise
            const double r = radius + amplitude * std::sin(waves * angle);
            ring.push_back({std::round((centre.x + r * std::cos(angle)) * 1000) / 1000,
                            std::round((centre.y + r * std::sin(angle)) * 1000) / 1000});
        }
        ring.push_back(ring.front());
        return ring;
    };
    const auto ring_text = [](const std::vector<Point>& ring) {
        std::string text = "(";
        for (const Point& p : ring) text += std::to_string(p.x) + " " + std::to_string(p.y) + ",";
        text.back() = ')';
        return text;
    };
    const std::vector<Point> outline = wiggly(2000, 200, 40, 7), hole = wiggly(600, 50, 10, 5);
    std::vector<Wkb> geometries;
    geometries.push_back(wkb(context, "POLYGON(" + ring_text(outline) + "," + ring_text(hole) + ")"));
    std::vector<Point> inner(outline.rbegin(), outline.rend());  // the same vertices, counter-clockwise
    const std::string frame = "(610700 3274700,611300 3274700,611300 3275300,610700 3275300,610700 3274700)";
    geometries.push_back(wkb(context, "MULTIPOLYGON((" + frame + "," + ring_text(inner) +
                                          "),((612000 3276000,612010 3276000,612000 3276010,612000 3276000)))"));
    // Right triangles: where the outline passes through the empty half of a triangle's box, the
    // certificate tests the triangle's edges against the outline's blocks in that box, and their
    // midpoints against the whole outline.
    for (double x = -270; x <= 270; x += 13)
        for (double y = -270; y <= 270; y += 13) {
            const double x0 = centre.x + x, y0 = centre.y + y, d = std::fmod(x + y + 540, 26) < 13 ? 8 : -8;
            const auto corner = [](double px, double py) { return std::to_string(px) + " " + std::to_string(py); };
            geometries.push_back(wkb(context, "POLYGON((" + corner(x0, y0) + "," + corner(x0 + d, y0) + "," +
                                                  corner(x0, y0 + d) + "," + corner(x0, y0) + "))"));
        }
    OverlapStats stats;
    const std::vector<OverlapPair> pairs = overlapping_pairs(geometries, 0.01, 2, &stats);
    std::vector<OverlapPair> expected;  // by GEOS, every pair whose envelopes meet
    for (std::size_t a = 0; a < geometries.size(); ++a)
        for (std::size_t b = a + 1; b < geometries.size(); ++b) {
            const geos::Geom ga = geos::from_wkb(context, geometries[a]), gb = geos::from_wkb(context, geometries[b]);
            const geos::Envelope ea = geos::envelope(context, ga.get()), eb = geos::envelope(context, gb.get());
            if (ea.max_x < eb.min_x || eb.max_x < ea.min_x || ea.max_y < eb.min_y || eb.max_y < ea.min_y) continue;
            const geos::Geom both = geos::own(context, GEOSIntersection_r(context.handle(), ga.get(), gb.get()), "");
            const double area = geos::area(context, both.get());
            if (area > 0.01) expected.push_back({a, b, area, 0});
        }
    ASSERT_EQ(pairs.size(), expected.size());
    ASSERT_GT(expected.size(), 1000u);  // triangles inside the polygon and in the frame
    for (std::size_t i = 0; i < pairs.size(); ++i) {
        EXPECT_EQ(pairs[i].first, expected[i].first);
        EXPECT_EQ(pairs[i].second, expected[i].second);
        EXPECT_NEAR(pairs[i].area, expected[i].area, 1e-6);
    }
    // The polygon and its neighbour, and some triangles beside the outline, are settled by segments.
    EXPECT_FALSE(
        std::any_of(pairs.begin(), pairs.end(), [](const OverlapPair& p) { return p.first == 0 && p.second == 1; }));
    EXPECT_GT(stats.candidates, stats.overlaid + 20);  // 32 of 4,801 (the others: no boundary in the box)
}

// The interior point computed on the WKB is GEOS's point on surface, to the bit: jittered cells
// (both orientations), wiggly polygons with holes, vertices and horizontal edges on the scan line,
// multipolygons (the widest part wins, the first of equals), a polygon of no area; other types
// are left to GEOS.
TEST(InteriorPoint, InPlaceIsGeosPointOnSurface) {
    geos::Context context;
    std::mt19937_64 random(7);
    std::uniform_real_distribution<double> jitter(-6.0, 6.0);
    std::vector<std::string> shapes;
    const auto ring_text = [](const std::vector<Point>& ring) {
        std::string text = "(";
        for (const Point& p : ring) text += std::to_string(p.x) + " " + std::to_string(p.y) + ",";
        return text + std::to_string(ring.front().x) + " " + std::to_string(ring.front().y) + ")";
    };
    for (int k = 0; k < 300; ++k) {
        std::vector<Point> ring;
        const double x = 611000 + 40 * (k % 20), y = 3275000 + 40 * (k / 20.0);
        for (const Point corner : {Point{0, 0}, Point{40, 0}, Point{40, 40}, Point{0, 40}})
            ring.push_back({x + corner.x + jitter(random), y + corner.y + jitter(random)});
        if (k % 2) std::reverse(ring.begin(), ring.end());
        shapes.push_back("POLYGON(" + ring_text(ring) + ")");
    }
    const auto wiggly = [](int count, double radius, double amplitude, int waves, double phase) {
        std::vector<Point> ring;
        for (int k = 0; k < count; ++k) {
            const double angle = 2 * 3.141592653589793 * k / count + phase;
            const double r = radius + amplitude * std::sin(waves * angle);
            ring.push_back({611000 + r * std::cos(angle), 3275000 + r * std::sin(angle)});
        }
        return ring;
    };
    for (int k = 0; k < 20; ++k)
        shapes.push_back("POLYGON(" + ring_text(wiggly(500 + 37 * k, 200, 60, 3 + k, 0.1 * k)) + "," +
                         ring_text(wiggly(90, 40, 8, 4, 0.3 * k)) + ")");
    shapes.push_back("POLYGON((0 0,2 1,0 2,-2 1,0 0))");  // vertices on the scan line
    shapes.push_back("POLYGON((0 0,4 0,4 1,2 1,2 2,4 2,4 3,0 3,0 0))");
    shapes.push_back("POLYGON((0 0,4 0,4 2,3 1,2 2,1 1,0 2,0 0))");  // two horizontal edges... and teeth
    shapes.push_back("POLYGON((0 0,10 0,10 10,0 10,0 0),(2 2,8 2,8 8,2 8,2 2))");
    shapes.push_back("MULTIPOLYGON(((0 0,1 0,1 1,0 1,0 0)),((5 0,8 0,8 3,5 3,5 0)),((10 0,13 0,13 3,10 3,10 0)))");
    shapes.push_back("MULTIPOLYGON(((0 0,3 0,3 3,0 3,0 0)),((5 0,6 0,6 1,5 1,5 0)))");
    shapes.push_back("POLYGON((0 0,1 1,2 2,0 0))");  // no area
    int computed = 0;
    for (const std::string& shape : shapes) {
        const Wkb geometry = wkb(context, shape);
        const std::optional<Point> point = interior_point_in_place(geometry);
        const geos::Geom g = geos::from_wkb(context, geometry);
        const Point expected = geos::point_on_surface(context, g.get());
        if (!point) continue;
        ++computed;
        EXPECT_EQ(point->x, expected.x) << shape;
        EXPECT_EQ(point->y, expected.y) << shape;
    }
    EXPECT_EQ(computed, static_cast<int>(shapes.size()));
    EXPECT_FALSE(interior_point_in_place(wkb(context, "POINT(1 2)")));
    EXPECT_FALSE(interior_point_in_place(wkb(context, "LINESTRING(0 0,1 1)")));
}

// Pairs found by the strip sweep are exactly those of the brute force over all pairs.
TEST(OverlappingPairs, StripSweepFindsEveryPairOnce) {
    geos::Context context;
    std::mt19937_64 random(11);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::vector<Wkb> geometries;
    auto box = [&](double x, double y, double w, double h) {
        return geos::to_wkb(context, geos::polygon(context, {{x, y}, {x + w, y}, {x + w, y + h}, {x, y + h}}).get());
    };
    for (int k = 0; k < 600; ++k)
        geometries.push_back(box(611000 + 2000 * unit(random), 3275000 + 2000 * unit(random), 5 + 40 * unit(random),
                                 5 + 40 * unit(random)));
    geometries.push_back(box(611500, 3274900, 30, 2300));                              // a tall one across every strip
    geometries.push_back(geometries[5]);                                               // an exact copy
    geometries.push_back({});                                                          // no geometry
    geometries.push_back(wkb(context, "LINESTRING(611000 3275000, 613000 3277000)"));  // not a polygon
    const std::vector<OverlapPair> pairs = overlapping_pairs(geometries, 0.5, 2);
    std::vector<OverlapPair> expected;
    for (std::size_t a = 0; a < geometries.size(); ++a)
        for (std::size_t b = a + 1; b < geometries.size(); ++b) {
            if (geometries[a].empty() || geometries[b].empty()) continue;
            const geos::Geom ga = geos::from_wkb(context, geometries[a]), gb = geos::from_wkb(context, geometries[b]);
            if (GEOSGeomTypeId_r(context.handle(), ga.get()) != GEOS_POLYGON ||
                GEOSGeomTypeId_r(context.handle(), gb.get()) != GEOS_POLYGON)
                continue;
            const geos::Geom both = geos::own(context, GEOSIntersection_r(context.handle(), ga.get(), gb.get()), "");
            const double area = geos::area(context, both.get());
            if (area > 0.5)
                expected.push_back(
                    {a, b, area, area / std::min(geos::area(context, ga.get()), geos::area(context, gb.get()))});
        }
    ASSERT_EQ(pairs.size(), expected.size());
    ASSERT_GT(expected.size(), 50u);
    for (std::size_t i = 0; i < pairs.size(); ++i) {
        EXPECT_EQ(pairs[i].first, expected[i].first);
        EXPECT_EQ(pairs[i].second, expected[i].second);
        EXPECT_NEAR(pairs[i].area, expected[i].area, 1e-6);
        EXPECT_NEAR(pairs[i].share_of_smaller, expected[i].share_of_smaller, 1e-9);
    }
}

// is_valid agrees with GEOS on detailed rings: a zig-zag it proves simple itself, one with a tooth
// pushed across its neighbour, one touching itself at a vertex, and a straight densified edge
// (collinear vertices, left to GEOS).
TEST(IsValid, AgreesWithGeosOnDetailedRings) {
    geos::Context context;
    auto zig_zag = [](int teeth) {
        std::vector<Point> ring;
        for (int i = 0; i <= teeth; ++i) ring.push_back({i * 100.0 / teeth, i % 2 == 1 ? 0.03 : 0.0});
        ring.push_back({100, 100});
        ring.push_back({0, 100});
        ring.push_back(ring.front());
        return ring;
    };
    std::vector<std::vector<Point>> rings;
    rings.push_back(zig_zag(60'000));
    rings.push_back(zig_zag(60'000));
    rings.back()[30'001].x -= 0.01;  // the tooth leans over the next one: the ring crosses itself
    rings.push_back(zig_zag(60'000));
    // A tooth flattened onto the base line and stretched: vertex 30,002 lies on its edge (a self-touch).
    rings.back()[30'001] = {rings.back()[30'003].x, 0.0};
    std::vector<Point> straight;
    for (int i = 0; i <= 60'000; ++i) straight.push_back({i * 100.0 / 60'000, 0});
    straight.push_back({100, 100});
    straight.push_back({0, 100});
    straight.push_back(straight.front());
    rings.push_back(straight);
    std::vector<bool> answers;
    for (const std::vector<Point>& ring : rings) {
        const geos::Geom polygon = geos::polygon(context, ring);
        ASSERT_GT(GEOSGetNumCoordinates_r(context.handle(), polygon.get()), 50'000);
        const bool expected = GEOSisValid_r(context.handle(), polygon.get()) == 1;
        EXPECT_EQ(is_valid(context, polygon.get()), expected);
        answers.push_back(expected);
    }
    EXPECT_EQ(answers, (std::vector<bool>{true, false, false, true}));

    // repair_polygons vouches for the valid zig-zag itself and repairs the others as GEOS finds them.
    std::vector<Wkb> geometries;
    for (const std::vector<Point>& ring : rings)
        geometries.push_back(geos::to_wkb(context, geos::polygon(context, ring).get()));
    const std::vector<Wkb> before = geometries;
    const std::vector<RepairOutcome> outcomes = repair_polygons(geometries, 1);
    for (std::size_t i = 0; i < rings.size(); ++i) {
        EXPECT_EQ(outcomes[i].kind == RepairOutcome::Kind::unchanged, geos_leaves_alone(context, before[i])) << i;
        EXPECT_EQ(geometries[i] == before[i], outcomes[i].kind == RepairOutcome::Kind::unchanged) << i;
    }
}

// A detailed ring once found valid is known again (after a WKB round trip, in another context) and
// answered without a second proof; a ring that differs from it in one vertex, or is the same
// vertices turned to start elsewhere, is proven afresh and judged on its own.
TEST(IsValid, ARingFoundValidIsKnownAgainButNoRingLikeIt) {
    auto zig_zag = [](int teeth, double height) {
        std::vector<Point> ring;
        for (int i = 0; i <= teeth; ++i) ring.push_back({i * 100.0 / teeth, i % 2 == 1 ? 0.03 : 0.0});
        ring.push_back({100, height});
        ring.push_back({0, height});
        ring.push_back(ring.front());
        return ring;
    };
    const std::vector<Point> valid = zig_zag(60'000, 77);
    geos::Context context;
    const Wkb valid_wkb = geos::to_wkb(context, geos::polygon(context, valid).get());
    {
        const geos::Geom polygon = geos::from_wkb(context, valid_wkb);
        ASSERT_TRUE(is_valid(context, polygon.get()));
    }
    {
        geos::Context other;  // a WKB round trip, as the quality report reads it
        const geos::Geom polygon = geos::from_wkb(other, valid_wkb);
        EXPECT_TRUE(is_valid(other, polygon.get()));
    }
    // Known rings must not vouch for neighbours: one tooth leaning over the next (crossing), and
    // the same vertices with the closing edge moved (a bow-tie).
    std::vector<Point> crossing = valid;
    crossing[30'001].x -= 0.01;
    std::vector<Point> bow_tie = valid;
    std::swap(bow_tie[bow_tie.size() - 2], bow_tie[bow_tie.size() - 3]);
    for (const std::vector<Point>& ring : {crossing, bow_tie}) {
        const geos::Geom polygon = geos::polygon(context, ring);
        ASSERT_EQ(GEOSisValid_r(context.handle(), polygon.get()), 0);
        EXPECT_FALSE(is_valid(context, polygon.get()));
    }
    // The import's proof counts too: a ring repair_polygons vouched for is known to is_valid.
    std::vector<Wkb> imported = {geos::to_wkb(context, geos::polygon(context, zig_zag(60'000, 91)).get())};
    const std::vector<RepairOutcome> outcomes = repair_polygons(imported, 1);
    ASSERT_EQ(outcomes[0].kind, RepairOutcome::Kind::unchanged);
    const geos::Geom read_back = geos::from_wkb(context, imported[0]);
    EXPECT_TRUE(is_valid(context, read_back.get()));
}

}  // namespace
}  // namespace civgrid::algorithms
