#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/quality.hpp>

#include <gtest/gtest.h>

#include <vector>

namespace civgrid::algorithms {
namespace {

Wkb wkb(const std::string& wkt) {
    geos::Context context;
    return geos::to_wkb(context, geos::from_wkt(context, wkt).get());
}

// A 200 x 100 region split into two 100 x 100 micro-grids with a building in each.
QualityInput two_squares() {
    QualityInput input;
    input.target_households = 80;
    input.requested = 2;
    input.regions = {wkb("POLYGON((0 0, 200 0, 200 100, 0 100, 0 0))")};
    input.micro_grids = {{wkb("POLYGON((0 0, 100 0, 100 100, 0 100, 0 0))"), 0, 80, false},
                         {wkb("POLYGON((100 0, 200 0, 200 100, 100 100, 100 0))"), 0, 88, false}};
    input.building_points = {{50, 50}, {150, 50}};
    input.building_grid = {0, 1};
    return input;
}

TEST(Quality, PerfectTilingReportsNoDefect) {
    const QualityReport report = compute_quality(two_squares());
    EXPECT_EQ(report.micro_grids, 2);
    EXPECT_EQ(report.non_contiguous, 0);
    EXPECT_EQ(report.outside_region, 0);
    EXPECT_EQ(report.invalid_polygons, 0);
    EXPECT_NEAR(report.gap_area_m2, 0, 1e-9);
    EXPECT_NEAR(report.overlap_area_m2, 0, 1e-9);
    EXPECT_DOUBLE_EQ(report.max_abs_deviation, 0.1);
    EXPECT_DOUBLE_EQ(report.share_within_10, 1.0);
    EXPECT_NEAR(report.polsby_popper_mean, 3.14159265 / 4, 1e-6);  // squares
}

TEST(Quality, GapsOverlapsAndOutsideAreMeasured) {
    QualityInput input = two_squares();
    input.micro_grids[1].polygon = wkb("POLYGON((90 0, 190 0, 190 100, 90 100, 90 0))");  // 10 m overlap, 10 m gap
    QualityReport report = compute_quality(input);
    EXPECT_NEAR(report.overlap_area_m2, 1000, 1e-6);
    EXPECT_NEAR(report.gap_area_m2, 1000, 1e-6);
    EXPECT_NEAR(report.max_region_gap_overlap_m2, 2000, 1e-6);
    input.micro_grids[1].polygon = wkb("POLYGON((100 0, 210 0, 210 100, 100 100, 100 0))");
    report = compute_quality(input);
    EXPECT_EQ(report.outside_region, 1);
}

TEST(Quality, BarrierCrossingNeedsBuildingsOnBothSides) {
    QualityInput input = two_squares();
    input.barriers = {wkb("LINESTRING(50 -10, 50 110)")};
    input.building_points = {{25, 50}, {150, 50}};
    input.building_grid = {0, 1};
    EXPECT_EQ(compute_quality(input).barrier_crossings, 0);  // the barrier only crosses empty land
    input.building_points.push_back({75, 50});
    input.building_grid.push_back(0);
    EXPECT_EQ(compute_quality(input).barrier_crossings, 1);
    input.building_households = {10, 10, 0};  // only a building without households across: no crossing
    EXPECT_EQ(compute_quality(input).barrier_crossings, 0);
    input.building_households = {10, 10, 5};
    EXPECT_EQ(compute_quality(input).barrier_crossings, 1);
    input.barriers = {wkb("LINESTRING(100 -10, 100 110)")};  // along the shared edge: no crossing
    EXPECT_EQ(compute_quality(input).barrier_crossings, 0);
    // Along the outline, then into the micro-grid and across it (at a vertex of the barrier on the
    // outline, and at a point of the outline between its vertices): both cut it in two.
    input.building_points = {{25, 25}, {25, 75}, {150, 50}};
    input.building_grid = {0, 0, 1};
    input.building_households = {10, 10, 10};
    input.barriers = {wkb("LINESTRING(0 -10, 0 50, 100 50)")};
    EXPECT_EQ(compute_quality(input).barrier_crossings, 1);
    input.barriers = {wkb("LINESTRING(-10 -10, 0 0, 0 30, 100 60, 110 60)")};
    EXPECT_EQ(compute_quality(input).barrier_crossings, 1);
    // Only along the outline, around a corner: no crossing.
    input.barriers = {wkb("LINESTRING(-10 0, 0 0, 0 100, 10 100)")};
    EXPECT_EQ(compute_quality(input).barrier_crossings, 0);
}

TEST(Quality, MultipartAndInvalidPolygonsAreCounted) {
    QualityInput input = two_squares();
    input.micro_grids[0].polygon =
        wkb("MULTIPOLYGON(((0 0, 40 0, 40 100, 0 100, 0 0)), ((60 0, 100 0, 100 100, 60 100, 60 0)))");
    input.micro_grids[1].polygon = wkb("POLYGON((100 0, 200 100, 200 0, 100 100, 100 0))");  // bow-tie
    const QualityReport report = compute_quality(input);
    EXPECT_EQ(report.non_contiguous, 1);
    EXPECT_EQ(report.invalid_polygons, 1);
}

TEST(Quality, BalanceSharesAndFlaggedMicroGrids) {
    QualityInput input = two_squares();
    input.micro_grids[1].households = 160;  // +100 %
    input.micro_grids[1].flagged = true;
    const QualityReport report = compute_quality(input);
    EXPECT_DOUBLE_EQ(report.max_abs_deviation, 1.0);
    EXPECT_DOUBLE_EQ(report.max_abs_deviation_unflagged, 0.0);
    EXPECT_DOUBLE_EQ(report.share_within_20, 0.5);
    EXPECT_EQ(report.flagged, 1);
    const std::string text = report.to_text();
    EXPECT_NE(text.find("micro-grids (requested)"), std::string::npos);
}

TEST(Quality, AnInvalidMicroGridWhoseRepairLeavesLinesIsCountedNotFatal) {
    // A spike out of the square and back: repaired, it is the square plus a line, and the line's
    // boundary made GEOS throw (exit 1 from `civgrid report` on a corrupt output, found by fuzzing).
    QualityInput input = two_squares();
    input.micro_grids[0].polygon = wkb("POLYGON((0 0, 100 0, 100 100, 50 100, 50 150, 50 100, 0 100, 0 0))");
    input.barriers = {wkb("LINESTRING(50 -10, 50 110)")};
    input.threads = 1;
    const QualityReport report = compute_quality(input);
    EXPECT_EQ(report.invalid_polygons, 1);
    EXPECT_EQ(report.micro_grids, 2);
    EXPECT_NEAR(report.gap_area_m2, 0.0, 1e-6);  // measured as the repaired square
}

// A community whose bottom edge zig-zags by 3 cm over 60,000 vertices (a detailed outline), split
// into two micro-grids of 30,000 each: their barrier split runs without overlays on the outline
// (for every micro-grid of a detailed region) and still tells a crossing road from a dead end.
TEST(Quality, BarrierSplitAlongAZigZaggingCommunityBoundary) {
    constexpr int kTeeth = 60'000;
    std::vector<Point> bottom;
    for (int i = 0; i <= kTeeth; ++i)
        bottom.push_back({i * 100.0 / kTeeth, i % 2 == 1 && i > 10 && i < kTeeth - 10 ? 0.03 : 0.0});
    auto polygon = [](std::vector<Point> ring, std::initializer_list<Point> rest) {
        ring.insert(ring.end(), rest);
        geos::Context context;
        return geos::to_wkb(context, geos::polygon(context, ring).get());
    };
    const std::vector<Point> left(bottom.begin(), bottom.begin() + kTeeth / 2 + 1);
    const std::vector<Point> right(bottom.begin() + kTeeth / 2, bottom.end());
    ASSERT_EQ(left.back().x, 50.0);
    ASSERT_EQ(left.back().y, 0.0);
    QualityInput input;
    input.regions = {polygon(bottom, {{100, 100}, {0, 100}})};
    input.micro_grids = {{polygon(left, {{50, 100}, {0, 100}}), 0, 80, false},
                         {polygon(right, {{100, 100}, {50, 100}}), 0, 80, false}};
    input.target_households = 80;
    input.building_points = {{10, 50}, {40, 50}, {60, 50}, {90, 50}};
    input.building_grid = {0, 0, 1, 1};
    // A road across the left micro-grid (and the zig-zag), a dead end into the right one.
    input.barriers = {wkb("LINESTRING(25 -10, 25 110)"), wkb("LINESTRING(75 110, 75 50)")};
    QualityReport report = compute_quality(input);
    EXPECT_EQ(report.barrier_crossings, 1);
    EXPECT_EQ(report.invalid_polygons, 0);
    EXPECT_LT(report.gap_area_m2, 1e-6);
    EXPECT_LT(report.overlap_area_m2, 1e-6);
    // Buildings on one side only: no crossing.
    input.building_points[1] = {20, 50};
    EXPECT_EQ(compute_quality(input).barrier_crossings, 0);
    // The dead end carried through: the right micro-grid is split too.
    input.barriers[1] = wkb("LINESTRING(75 110, 75 -10)");
    input.building_points[1] = {40, 50};
    EXPECT_EQ(compute_quality(input).barrier_crossings, 2);
}

// One micro-grid of 60,000 vertices (the whole zig-zagging community) is split without GEOS's
// prepared test first: a barrier under a tooth, outside it though inside its box, splits nothing;
// a road across it does.
TEST(Quality, ADetailedMicroGridIsSplitOnlyByBarriersEnteringIt) {
    constexpr int kTeeth = 60'000;
    std::vector<Point> ring;
    for (int i = 0; i <= kTeeth; ++i)
        ring.push_back({i * 100.0 / kTeeth, i % 2 == 1 && i > 10 && i < kTeeth - 10 ? 0.03 : 0.0});
    ring.insert(ring.end(), {{100, 100}, {0, 100}});
    geos::Context context;
    const Wkb community = geos::to_wkb(context, geos::polygon(context, ring).get());
    QualityInput input;
    input.regions = {community};
    input.micro_grids = {{community, 0, 160, false}};
    input.target_households = 160;
    input.building_points = {{10, 50}, {40, 50}};
    input.building_grid = {0, 0};
    const double under_tooth = 30'001 * 100.0 / kTeeth;  // an odd vertex: its tooth's apex is at y = 0.03
    input.barriers = {geos::to_wkb(
        context, geos::line_string(context, {{under_tooth - 1e-4, 0.01}, {under_tooth + 1e-4, 0.01}}).get())};
    input.threads = 1;
    EXPECT_EQ(compute_quality(input).barrier_crossings, 0);
    input.barriers.push_back(wkb("LINESTRING(25 -10, 25 110)"));
    EXPECT_EQ(compute_quality(input).barrier_crossings, 1);
}

}  // namespace
}  // namespace civgrid::algorithms
