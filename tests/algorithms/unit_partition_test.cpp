// Units mode: micro-grids as unions of whole input polygons (issue 17), on tilings written inline.
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/parallel.hpp>
#include <civgrid/algorithms/unit_partition.hpp>
#include <civgrid/error.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

namespace civgrid::algorithms {
namespace {

Wkb wkb(const std::string& wkt) {
    geos::Context context;
    return geos::to_wkb(context, geos::from_wkt(context, wkt).get());
}

std::string square(double x, double y, double side) {
    const auto s = [](double v) { return std::to_string(v); };
    return "POLYGON((" + s(x) + " " + s(y) + ", " + s(x + side) + " " + s(y) + ", " + s(x + side) + " " + s(y + side) +
           ", " + s(x) + " " + s(y + side) + ", " + s(x) + " " + s(y) + "))";
}

// A columns x rows tiling of 10 m squares, households from `households(c, r)`, as a region.
template <typename Households>
RegionInput tiling(int columns, int rows, Households households) {
    RegionInput input;
    input.boundary = wkb("POLYGON((0 0, " + std::to_string(10 * columns) + " 0, " + std::to_string(10 * columns) + " " +
                         std::to_string(10 * rows) + ", 0 " + std::to_string(10 * rows) + ", 0 0))");
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < columns; ++c) {
            input.site_areas.push_back(wkb(square(10.0 * c, 10.0 * r, 10)));
            input.sites.push_back({{10.0 * c + 5, 10.0 * r + 5},
                                   static_cast<std::int64_t>(households(c, r)),
                                   static_cast<std::uint32_t>(input.sites.size())});
        }
    return input;
}

// Every unit whole in one micro-grid, whose polygon is the union of its units; one polygon each;
// households conserved.
void expect_units_kept_whole(const RegionInput& input, const RegionResult& result) {
    geos::Context context;
    ASSERT_EQ(result.site_micro_grid.size(), input.sites.size());
    std::map<int, std::vector<std::size_t>> members;
    std::int64_t households = 0, in_grids = 0;
    for (std::size_t s = 0; s < input.sites.size(); ++s) {
        ASSERT_GE(result.site_micro_grid[s], 0);
        ASSERT_LT(result.site_micro_grid[s], static_cast<int>(result.micro_grids.size()));
        members[result.site_micro_grid[s]].push_back(s);
        households += input.sites[s].households;
    }
    for (std::size_t g = 0; g < result.micro_grids.size(); ++g) {
        const MicroGridShape& shape = result.micro_grids[g];
        in_grids += shape.households;
        const geos::Geom polygon = geos::from_wkb(context, shape.polygon);
        EXPECT_EQ(geos::type_id(context, polygon.get()), GEOS_POLYGON) << "micro-grid " << g;
        EXPECT_EQ(GEOSisValid_r(context.handle(), polygon.get()), 1);
        double units_area = 0;
        for (std::size_t s : members[static_cast<int>(g)]) {
            const geos::Geom unit = geos::from_wkb(context, input.site_areas[s]);
            const double area = geos::area(context, unit.get());
            units_area += area;
            const geos::Geom inside =
                geos::own(context, GEOSIntersection_r(context.handle(), unit.get(), polygon.get()), "intersection");
            EXPECT_GE(geos::area(context, inside.get()), 0.9999 * area) << "unit " << s << " split";
        }
        EXPECT_NEAR(geos::area(context, polygon.get()), units_area, 1e-6 * units_area) << "micro-grid " << g;
    }
    EXPECT_EQ(in_grids, households);
}

TEST(UnitAdjacency, SharedEdgesNearContactsAndCornersTold) {
    // 0 and 1 share an edge exactly; 2 lies below both, its top edge one segment where they have
    // two (a T-junction); 3 is 5 cm right of 1 (a sliver); 4 touches 3 at a corner only; 5 is 1 m
    // beyond everything.
    const std::vector<Wkb> units = {
        wkb("POLYGON((0 0, 10 0, 10 10, 0 10, 0 0))"),       wkb("POLYGON((10 0, 20 0, 20 10, 10 10, 10 0))"),
        wkb("POLYGON((0 -10, 20 -10, 20 0, 0 0, 0 -10))"),   wkb("POLYGON((20.05 0, 30 0, 30 10, 20.05 10, 20.05 0))"),
        wkb("POLYGON((30 10, 40 10, 40 20, 30 20, 30 10))"), wkb("POLYGON((41 0, 50 0, 50 5, 41 5, 41 0))")};
    const std::vector<UnitEdge> edges = unit_adjacency(units);
    std::map<std::pair<std::uint32_t, std::uint32_t>, UnitEdge> by_pair;
    for (const UnitEdge& e : edges) {
        EXPECT_LT(e.a, e.b);
        by_pair[{e.a, e.b}] = e;
    }
    const auto has = [&](std::uint32_t a, std::uint32_t b) { return by_pair.contains({a, b}); };
    const auto edge = [&](std::uint32_t a, std::uint32_t b) { return by_pair.at({a, b}); };
    ASSERT_TRUE(has(0, 1));
    EXPECT_TRUE(edge(0, 1).exact);
    EXPECT_DOUBLE_EQ(edge(0, 1).length, 10);
    // 2's top edge runs from (20 0) to (0 0) in one segment: found as near contacts of 10 m each.
    ASSERT_TRUE(has(0, 2));
    ASSERT_TRUE(has(1, 2));
    EXPECT_FALSE(edge(0, 2).exact);
    EXPECT_NEAR(edge(0, 2).length, 10, 1e-9);
    EXPECT_NEAR(edge(1, 2).length, 10, 1e-9);
    ASSERT_TRUE(has(1, 3));
    EXPECT_NEAR(edge(1, 3).length, 10, 1e-9);
    EXPECT_FALSE(has(3, 4)) << "a corner is no neighbourhood";
    EXPECT_FALSE(has(2, 3)) << "a corner 5 cm away is none either";
    for (std::uint32_t other = 0; other < 5; ++other) EXPECT_FALSE(has(other, 5));
    EXPECT_EQ(edges.size(), 4u);
    // Without the gap, only the exact edge.
    EXPECT_EQ(unit_adjacency(units, UnitOptions{0.0, 0.5}).size(), 1u);
}

TEST(UnitPartition, TilingKeepsEveryUnitWholeAndBalances) {
    // 20 x 20 units of 2-9 households (about 5.5 on average): micro-grids of about 83.
    const RegionInput base = tiling(20, 20, [](int c, int r) { return 2 + (c * 7 + r * 3) % 8; });
    RegionInput input = base;
    std::int64_t households = 0;
    for (const Site& site : input.sites) households += site.households;
    input.micro_grid_count = static_cast<int>(std::lround(static_cast<double>(households) / 83.0));
    input.seed = 7;
    const RegionResult result = partition_units(input);
    ASSERT_EQ(static_cast<int>(result.micro_grids.size()), input.micro_grid_count);
    expect_units_kept_whole(input, result);
    int within = 0;
    for (const MicroGridShape& shape : result.micro_grids) {
        within += std::abs(static_cast<double>(shape.households) - shape.target) <= 0.1 * shape.target ? 1 : 0;
        EXPECT_EQ(shape.flags & static_cast<std::uint8_t>(Flag::multipart), 0);
    }
    EXPECT_GE(within, static_cast<int>(0.8 * static_cast<double>(result.micro_grids.size())));

    // The same on one thread and on two.
    RegionResult one, two;
    with_threads(1, [&] { one = partition_units(input); });
    with_threads(2, [&] { two = partition_units(input); });
    EXPECT_EQ(one.site_micro_grid, two.site_micro_grid);
    ASSERT_EQ(one.micro_grids.size(), two.micro_grids.size());
    for (std::size_t g = 0; g < one.micro_grids.size(); ++g)
        EXPECT_EQ(one.micro_grids[g].polygon, two.micro_grids[g].polygon);
}

TEST(UnitPartition, AUnitOverTheBoundIsAMicroGridOfItsOwnFlagged) {
    RegionInput input = tiling(10, 10, [](int c, int r) { return c == 4 && r == 5 ? 400 : 8; });
    input.micro_grid_count = static_cast<int>(std::lround((99 * 8 + 400) / 83.0));
    const RegionResult result = partition_units(input);
    expect_units_kept_whole(input, result);
    const std::size_t large = 5 * 10 + 4;
    const int g = result.site_micro_grid[large];
    int members = 0;
    for (int grid : result.site_micro_grid) members += grid == g ? 1 : 0;
    EXPECT_EQ(members, 1) << "the large unit shares its micro-grid";
    const MicroGridShape& shape = result.micro_grids[static_cast<std::size_t>(g)];
    EXPECT_EQ(shape.households, 400);
    EXPECT_NE(shape.flags & static_cast<std::uint8_t>(Flag::large_building), 0);
    // The others are balanced around the target of the rest.
    for (std::size_t other = 0; other < result.micro_grids.size(); ++other)
        if (static_cast<int>(other) != g) {
            EXPECT_EQ(result.micro_grids[other].flags & static_cast<std::uint8_t>(Flag::large_building), 0);
        }
}

TEST(UnitPartition, NoMicroGridCrossesAHardBarrier) {
    // A major road along x = 100 between the two halves of a 20 x 10 tiling.
    RegionInput input = tiling(20, 10, [](int, int) { return 6; });
    input.hard_lines.push_back(wkb("LINESTRING(100 -5, 100 105)"));
    input.micro_grid_count = 14;
    const RegionResult result = partition_units(input);
    expect_units_kept_whole(input, result);
    EXPECT_EQ(result.pieces, 2);
    std::map<int, std::set<bool>> sides;
    for (std::size_t s = 0; s < input.sites.size(); ++s)
        sides[result.site_micro_grid[s]].insert(input.sites[s].location.x < 100);
    for (const auto& [grid, side] : sides) EXPECT_EQ(side.size(), 1u) << "micro-grid " << grid << " crosses";
}

TEST(UnitPartition, LandWithoutHouseholdsJoinsANeighbourAndNothingIsLeftOut) {
    // Units without households (a park strip) and an island unit apart from the rest.
    RegionInput input = tiling(8, 8, [](int c, int) { return c == 3 ? 0 : 12; });
    input.site_areas.push_back(wkb(square(200, 200, 10)));
    input.sites.push_back({{205, 205}, 0, static_cast<std::uint32_t>(input.sites.size())});
    input.micro_grid_count = 8;
    const RegionResult result = partition_units(input);
    ASSERT_EQ(result.site_micro_grid.size(), input.sites.size());
    for (int g : result.site_micro_grid) EXPECT_GE(g, 0);
    std::int64_t households = 0;
    for (const MicroGridShape& shape : result.micro_grids) households += shape.households;
    EXPECT_EQ(households, 56 * 12);
}

TEST(UnitPartition, ScatteredUnitsWithoutHouseholdsJoinTheNearestMicroGrid) {
    // Footprints apart from each other (units mode misused): 4,000 without households around
    // 1,000 with; each with households is a piece of its own, each without joins the nearest one
    // (an STRtree, not 16 million distances).
    RegionInput input;
    input.boundary = wkb(square(0, 0, 5000));
    for (int i = 0; i < 5000; ++i) {
        const double x = 20.0 * (i % 100), y = 20.0 * (i / 100);
        input.site_areas.push_back(wkb(square(x, y, 8)));
        input.sites.push_back({{x + 4, y + 4}, i % 5 == 0 ? 10 : 0, static_cast<std::uint32_t>(i)});
    }
    input.micro_grid_count = 120;
    const RegionResult result = partition_units(input);
    EXPECT_EQ(result.micro_grids.size(), 1000u);
    for (std::size_t s = 0; s < input.sites.size(); ++s) {
        ASSERT_GE(result.site_micro_grid[s], 0);
        // Its micro-grid's unit with households is (one of) the nearest.
        const int g = result.site_micro_grid[s];
        const Point at = input.sites[s].location;
        double nearest = 1e18, assigned = 1e18;
        for (std::size_t t = 0; t < input.sites.size(); ++t) {
            if (input.sites[t].households == 0) continue;
            const double d = std::hypot(input.sites[t].location.x - at.x, input.sites[t].location.y - at.y);
            nearest = std::min(nearest, d);
            if (result.site_micro_grid[t] == g) assigned = std::min(assigned, d);
        }
        EXPECT_NEAR(assigned, nearest, 1e-9) << "unit " << s;
    }
}

TEST(UnitPartition, RegionWithoutUnitsHasNoMicroGrid) {
    RegionInput input;
    input.boundary = wkb(square(0, 0, 10));
    input.micro_grid_count = 1;
    EXPECT_TRUE(partition_units(input).micro_grids.empty());
    input.sites.push_back({{5, 5}, 3, 0});
    EXPECT_THROW((void)partition_units(input), InputError);  // a site without its polygon
}

// --split-large-units: a unit cut into pieces of equal area that tile it, each compact; a count
// of one is the unit itself.
TEST(SplitUnit, PiecesTileTheUnitInEqualAreas) {
    const geos::Context context;
    for (const char* wkt : {"POLYGON ((0 0, 100 0, 100 40, 0 40, 0 0))",
                            "POLYGON ((0 0, 60 10, 90 70, 20 90, -10 40, 0 0))",  // a skewed pentagon
                            "POLYGON ((0 0, 80 0, 80 80, 50 80, 50 30, 30 30, 30 80, 0 80, 0 0))"}) {  // a U
        const Wkb unit = wkb(wkt);
        EXPECT_EQ(split_unit(unit, 1), std::vector<Wkb>{unit});
        const double whole = geos::area(context, geos::from_wkb(context, unit).get());
        for (int count : {2, 5, 7}) {
            const std::vector<Wkb> pieces = split_unit(unit, count);
            ASSERT_EQ(pieces.size(), static_cast<std::size_t>(count)) << wkt;
            std::vector<geos::Geom> parts;
            for (const Wkb& piece : pieces) {
                geos::Geom g = geos::from_wkb(context, piece);
                EXPECT_NEAR(geos::area(context, g.get()), whole / count, 1e-4 * whole) << wkt << " / " << count;
                EXPECT_FALSE(geos::invalidity(context, g.get()).has_value());
                parts.push_back(std::move(g));
            }
            const geos::Geom all = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(parts));
            const geos::Geom united = geos::own(context, GEOSUnaryUnion_r(context.handle(), all.get()), "union");
            EXPECT_NEAR(geos::area(context, united.get()), whole, 1e-6 * whole);  // no overlap, no gap
        }
    }
    // A rectangle's pieces are compact rectangles of one part each (cut across the long side: 100 x 40
    // in five is five of 20 x 40, not five strips of 100 x 8).
    for (const Wkb& piece : split_unit(wkb("POLYGON ((0 0, 100 0, 100 40, 0 40, 0 0))"), 5)) {
        const geos::Geom g = geos::from_wkb(context, piece);
        EXPECT_EQ(geos::type_id(context, g.get()), GEOS_POLYGON);
        const geos::Envelope box = geos::envelope(context, g.get());
        const double width = box.max_x - box.min_x, height = box.max_y - box.min_y;
        EXPECT_NEAR(std::min(width, height), 20, 1e-3);
        EXPECT_NEAR(std::max(width, height), 40, 1e-3);
    }
}

TEST(CoverageTraits, ATilingIsACoverageAndScatteredFootprintsAreNot) {
    std::vector<Wkb> tiles, footprints;
    for (int r = 0; r < 8; ++r)
        for (int c = 0; c < 8; ++c) {
            tiles.push_back(wkb(square(10.0 * c, 10.0 * r, 10)));
            footprints.push_back(wkb(square(30.0 * c, 30.0 * r, 12)));
        }
    const CoverageTraits tiling = coverage_traits(tiles, 0);
    EXPECT_EQ(tiling.polygons, 64u);
    EXPECT_NEAR(tiling.hull_cover, 1.0, 1e-9);
    EXPECT_DOUBLE_EQ(tiling.sharing_share, 1.0);
    EXPECT_TRUE(tiling.coverage());
    const CoverageTraits scattered = coverage_traits(footprints, 0);
    EXPECT_LT(scattered.hull_cover, 0.3);
    EXPECT_FALSE(scattered.coverage());
    // Overlapping by more than 1 % of the area: not a coverage.
    EXPECT_FALSE(coverage_traits(tiles, 0.02 * 6400).coverage());
}

// The sample's neighbour tests run in parallel: the same share on one thread as on two, in a layer
// where some are settled by a shared segment and some only by a near contact (columns moved a
// centimetre, rows a centimetre short), over 2,000 polygons (a sample, not all of them).
TEST(CoverageTraits, TheSharingShareIsTheSameOnAnyThreads) {
    std::vector<Wkb> polygons;
    for (int r = 0; r < 60; ++r)
        for (int c = 0; c < 60; ++c) {
            const double x = 10.0 * c + (c % 7 == 3 ? 0.01 : 0.0), size = r % 11 == 5 ? 9.99 : 10.0;
            polygons.push_back(wkb(square(x, 10.0 * r, size)));
        }
    const CoverageTraits one = coverage_traits(polygons, 0, 1), two = coverage_traits(polygons, 0, 2);
    EXPECT_EQ(one.polygons, 3600u);
    EXPECT_EQ(one.sharing_share, two.sharing_share);
    EXPECT_EQ(one.hull_cover, two.hull_cover);
    EXPECT_GT(one.sharing_share, 0.5);
}

TEST(UnionOfUnits, ATilingUnitesToItsOutline) {
    std::vector<Wkb> tiles;
    for (int r = 0; r < 4; ++r)
        for (int c = 0; c < 5; ++c) tiles.push_back(wkb(square(10.0 * c, 10.0 * r, 10)));
    tiles.push_back(Wkb{});
    geos::Context context;
    const geos::Geom united = geos::from_wkb(context, union_of_units(tiles));
    EXPECT_EQ(geos::type_id(context, united.get()), GEOS_POLYGON);
    EXPECT_NEAR(geos::area(context, united.get()), 2000, 1e-9);
    EXPECT_TRUE(union_of_units({}).empty());
}

}  // namespace
}  // namespace civgrid::algorithms
