// Cleaning a dirty tiling of units (issue 17): overlaps cut from the smaller unit, narrow enclosed
// gaps given to the unit sharing most of their edge, the rest untouched; checked against GEOS
// overlays of the result (pairwise overlaps, the union's area and holes) and unit_adjacency.
#include <civgrid/algorithms/coverage_clean.hpp>
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/unit_partition.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace civgrid::algorithms {
namespace {

Wkb wkb(const std::string& wkt) {
    geos::Context context;
    return geos::to_wkb(context, geos::from_wkt(context, wkt).get());
}

std::string box(double x0, double y0, double x1, double y1) {
    const auto s = [](double v) { return std::to_string(v); };
    return "POLYGON((" + s(x0) + " " + s(y0) + ", " + s(x1) + " " + s(y0) + ", " + s(x1) + " " + s(y1) + ", " + s(x0) +
           " " + s(y1) + ", " + s(x0) + " " + s(y0) + "))";
}

// A columns x rows tiling of 10 m squares; `inset(c, r)` metres taken off every side of a square.
template <typename Inset>
std::vector<Wkb> tiling(int columns, int rows, Inset inset) {
    std::vector<Wkb> units;
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < columns; ++c) {
            const double d = inset(c, r);
            units.push_back(wkb(box(10.0 * c + d, 10.0 * r + d, 10.0 * c + 10 - d, 10.0 * r + 10 - d)));
        }
    return units;
}

double area(const Wkb& unit) {
    geos::Context context;
    return geos::area(context, geos::from_wkb(context, unit).get());
}

// The independent checks: the sum of the units' areas against their union's, the largest pairwise
// overlap, and the union's holes.
struct Coverage {
    double sum = 0, united = 0, largest_overlap = 0;
    int holes = 0, parts = 0;
};
Coverage coverage_of(const std::vector<Wkb>& units) {
    geos::Context context;
    Coverage c;
    std::vector<geos::Geom> all;
    for (const Wkb& u : units) {
        all.push_back(geos::from_wkb(context, u));
        c.sum += geos::area(context, all.back().get());
    }
    for (std::size_t i = 0; i < all.size(); ++i)
        for (std::size_t j = i + 1; j < all.size(); ++j)
            if (const geos::Geom x = geos::intersection_or_null(context, all[i].get(), all[j].get()))
                c.largest_overlap = std::max(c.largest_overlap, geos::area(context, x.get()));
    std::vector<geos::Geom> copies;
    for (const geos::Geom& g : all) copies.push_back(geos::clone(context, g.get()));
    const geos::Geom collection = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(copies));
    const geos::Geom united = geos::unary_union(context, collection.get(), "test union");
    c.united = geos::area(context, united.get());
    for (const geos::Geom& part : geos::parts(context, united.get())) {
        ++c.parts;
        c.holes += GEOSGetNumInteriorRings_r(context.handle(), part.get());
    }
    return c;
}

bool exact_neighbours(const std::vector<Wkb>& units, std::uint32_t a, std::uint32_t b) {
    for (const UnitEdge& e : unit_adjacency(units, UnitOptions{0.0, 0.5}))
        if (e.a == std::min(a, b) && e.b == std::max(a, b)) return e.exact;
    return false;
}

TEST(CoverageClean, AGapAllRoundJoinsTheUnitInsideIt) {
    // 3 x 3 squares; the middle one shrunk by 0.5 m on every side: a ring of gap, 0.5 m wide.
    std::vector<Wkb> units = tiling(3, 3, [](int c, int r) { return c == 1 && r == 1 ? 0.5 : 0.0; });
    const Coverage before = coverage_of(units);
    EXPECT_EQ(before.holes, 1);
    EXPECT_NEAR(before.sum, 900 - 19, 1e-9);
    EXPECT_NEAR(before.united, before.sum, 1e-9);
    EXPECT_FALSE(exact_neighbours(units, 4, 1));
    const std::vector<Wkb> original = units;

    const CoverageCleaning cleaning = clean_coverage(units, {}, CoverageCleanOptions{1.0}, 1);
    ASSERT_EQ(cleaning.gaps.size(), 1u);
    EXPECT_EQ(cleaning.gaps[0].given_to, 4u);  // the middle unit borders the whole ring
    EXPECT_NEAR(cleaning.gaps[0].area, 19.0, 1e-6);
    // The largest circle inside: at a corner of the ring, sqrt(2) / (1 + sqrt(2)) x 0.5 m across
    // (as GEOS's gap finder measures a gap's width).
    EXPECT_NEAR(cleaning.gaps[0].width, 2 * std::sqrt(2.0) / (1 + std::sqrt(2.0)) * 0.5, 0.02);
    EXPECT_EQ(cleaning.gaps[0].neighbours, (std::vector<std::size_t>{1, 3, 4, 5, 7}));  // corners touch at points
    EXPECT_TRUE(cleaning.overlaps.empty());
    EXPECT_NEAR(area(units[4]), 100.0, 1e-9);
    const Coverage after = coverage_of(units);
    EXPECT_EQ(after.holes, 0);
    EXPECT_NEAR(after.sum, 900.0, 1e-6);
    EXPECT_NEAR(after.united, after.sum, 1e-6);
    for (std::uint32_t neighbour : {1u, 3u, 5u, 7u}) EXPECT_TRUE(exact_neighbours(units, 4, neighbour)) << neighbour;
    for (std::size_t u = 0; u < units.size(); ++u) {
        if (u == 4) continue;
        EXPECT_EQ(units[u], original[u]) << "unit " << u << " changed";
    }
}

TEST(CoverageClean, AGapWiderThanTheToleranceStays) {
    std::vector<Wkb> units = tiling(3, 3, [](int c, int r) { return c == 1 && r == 1 ? 0.8 : 0.0; });  // 0.8 m
    const std::vector<Wkb> original = units;
    CoverageCleaning cleaning = clean_coverage(units, {}, CoverageCleanOptions{0.5}, 1);
    EXPECT_TRUE(cleaning.gaps.empty());
    EXPECT_EQ(units, original);
    cleaning = clean_coverage(units, {}, CoverageCleanOptions{1.0}, 1);
    EXPECT_EQ(cleaning.gaps.size(), 1u);
    EXPECT_EQ(coverage_of(units).holes, 0);
}

TEST(CoverageClean, AnInletAndAUnitsOwnHoleStay) {
    // A unit 0.5 m short of the outline beside its neighbour above (an inlet, open to the outside),
    // and a unit with a slit of a hole 0.5 m wide whose neighbour overlaps it (so the slit is in a
    // neighbourhood that is cleaned): the slit is the unit's own, no gap between units.
    std::vector<Wkb> units{wkb(box(0, 0, 9.5, 10)), wkb(box(0, 10, 10, 20)),
                           wkb("POLYGON((20 0, 40 0, 40 20, 20 20, 20 0), (25 5, 25.5 5, 25.5 15, 25 15, 25 5))"),
                           wkb(box(39.8, 0, 50, 20))};
    const std::vector<Wkb> original = units;
    const CoverageCleaning cleaning = clean_coverage(units, {{2, 3, 4.0, 0.02}}, CoverageCleanOptions{1.0}, 1);
    EXPECT_TRUE(cleaning.gaps.empty());
    ASSERT_EQ(cleaning.overlaps.size(), 1u);
    EXPECT_EQ(cleaning.overlaps[0].kept, 2u);
    EXPECT_EQ(units[0], original[0]);
    EXPECT_EQ(units[1], original[1]);
    EXPECT_EQ(units[2], original[2]);
    EXPECT_NEAR(area(units[3]), 200.0, 1e-9);
}

TEST(CoverageClean, AnOverlapStaysWithTheLargerUnit) {
    // Two units side by side; the right one (larger) reaches 0.3 m into the left one.
    std::vector<Wkb> units{wkb(box(0, 0, 10, 10)), wkb(box(9.7, 0, 22, 10)), wkb(box(0, 10, 22, 20))};
    OverlapPair pair{0, 1, 3.0, 0.03};
    const CoverageCleaning cleaning = clean_coverage(units, {pair}, CoverageCleanOptions{1.0}, 1);
    ASSERT_EQ(cleaning.overlaps.size(), 1u);
    EXPECT_EQ(cleaning.overlaps[0].kept, 1u);
    EXPECT_EQ(cleaning.overlaps[0].trimmed, 0u);
    EXPECT_TRUE(cleaning.overlaps[0].cleaned);
    EXPECT_NEAR(cleaning.overlaps[0].area, 3.0, 1e-12);
    EXPECT_NEAR(area(units[0]), 97.0, 1e-9);
    EXPECT_NEAR(area(units[1]), 123.0, 1e-9);
    const Coverage after = coverage_of(units);
    EXPECT_LT(after.largest_overlap, 1e-9);
    EXPECT_NEAR(after.united, after.sum, 1e-6);
    EXPECT_TRUE(exact_neighbours(units, 0, 1));
    // The unit above shares the edge the overlap's corner lies on: noded, vertex for vertex.
    EXPECT_TRUE(exact_neighbours(units, 0, 2));
    EXPECT_TRUE(exact_neighbours(units, 1, 2));
}

TEST(CoverageClean, OverlapsAmongThreeLeaveNone) {
    // A grown middle unit overlapping both neighbours, which also overlap each other above it.
    std::vector<Wkb> units{wkb(box(0, 0, 10.5, 10)), wkb(box(9.5, 0, 20.5, 10.5)), wkb(box(19.5, 0, 30, 10)),
                           wkb(box(0, 10, 30, 20))};
    std::vector<OverlapPair> pairs;
    {
        geos::Context context;
        for (std::size_t i = 0; i < units.size(); ++i)
            for (std::size_t j = i + 1; j < units.size(); ++j) {
                const geos::Geom x = geos::intersection_or_null(context, geos::from_wkb(context, units[i]).get(),
                                                                geos::from_wkb(context, units[j]).get());
                if (x && geos::area(context, x.get()) > 0) pairs.push_back({i, j, geos::area(context, x.get()), 0});
            }
    }
    ASSERT_EQ(pairs.size(), 3u);  // 0-1, 1-2, 1-3
    const double union_before = coverage_of(units).united;
    const CoverageCleaning cleaning = clean_coverage(units, pairs, CoverageCleanOptions{1.0}, 1);
    EXPECT_EQ(cleaning.overlaps.size(), 3u);
    const Coverage after = coverage_of(units);
    EXPECT_LT(after.largest_overlap, 1e-9);
    EXPECT_NEAR(after.united, after.sum, 1e-6);
    EXPECT_NEAR(after.united, union_before, 1e-6);  // no land lost or added
    EXPECT_TRUE(exact_neighbours(units, 0, 1));
    EXPECT_TRUE(exact_neighbours(units, 1, 2));
}

TEST(CoverageClean, AnExactTilingIsUntouched) {
    std::vector<Wkb> units = tiling(5, 4, [](int, int) { return 0.0; });
    const std::vector<Wkb> original = units;
    const CoverageCleaning cleaning = clean_coverage(units, {}, CoverageCleanOptions{1.0}, 2);
    EXPECT_TRUE(cleaning.gaps.empty());
    EXPECT_TRUE(cleaning.overlaps.empty());
    EXPECT_TRUE(cleaning.changed.empty());
    EXPECT_EQ(cleaning.neighbourhoods, 0u);
    EXPECT_EQ(units, original);
}

TEST(CoverageClean, TheSameForAnyThreads) {
    const auto make = [] {
        return tiling(8, 8, [](int c, int r) { return (c == 2 && r == 2) || (c == 5 && r == 5) ? 0.4 : 0.0; });
    };
    std::vector<Wkb> one = make(), two = make();
    const CoverageCleaning a = clean_coverage(one, {}, CoverageCleanOptions{1.0}, 1);
    const CoverageCleaning b = clean_coverage(two, {}, CoverageCleanOptions{1.0}, 2);
    EXPECT_EQ(a.gaps.size(), 2u);
    EXPECT_EQ(a.changed, b.changed);
    EXPECT_EQ(one, two);
}

}  // namespace
}  // namespace civgrid::algorithms
