// Planning a rerun (algorithms::plan_repartition): what stays, what becomes a zone to partition
// again, and that kept micro-grids and zones still tile the region. A region of three previous
// micro-grids side by side, 100 m squares, 80 households each, bounds 60-100.
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/repartition.hpp>

#include <gtest/gtest.h>

#include <numeric>

namespace civgrid::algorithms {
namespace {

Wkb box(const geos::Context& context, double x0, double y0, double x1, double y1) {
    return geos::to_wkb(context, geos::polygon(context, {{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}}).get());
}

double area(const geos::Context& context, const Wkb& polygon) {
    return polygon.empty() ? 0.0 : geos::area(context, geos::from_wkb(context, polygon).get());
}

/// Four buildings of 20 households in each micro-grid; `households` overrides per micro-grid.
RepartitionPlanInput three_in_a_row(const geos::Context& context, std::vector<std::int64_t> households = {80, 80, 80}) {
    RepartitionPlanInput input;
    input.regions = {box(context, 0, 0, 300, 100)};
    input.lower = {60};
    input.upper = {100};
    for (int g = 0; g < 3; ++g) {
        PreviousMicroGrid previous;
        previous.polygon = box(context, 100.0 * g, 0, 100.0 * (g + 1), 100);
        previous.region = 0;
        previous.previous_households = 80;
        previous.unchanged = households[static_cast<std::size_t>(g)] == 80;
        input.previous.push_back(previous);
        for (int b = 0; b < 4; ++b) {
            input.building_points.push_back({100.0 * g + 20 + 20 * b, 50});
            input.building_region.push_back(0);
            input.building_households.push_back(households[static_cast<std::size_t>(g)] / 4);
            input.building_previous.push_back(g);
        }
    }
    input.threads = 1;
    return input;
}

void expect_tiles_the_region(const geos::Context& context, const RepartitionPlan& plan) {
    double total = 0;
    for (const Wkb& kept : plan.kept_polygon) total += area(context, kept);
    for (const auto& zone : plan.zones) total += area(context, zone.polygon);
    EXPECT_NEAR(total, 300.0 * 100.0, 1e-6);
}

TEST(PlanRepartition, NothingChangedKeepsEverything) {
    geos::Context context;
    const RepartitionPlan plan = plan_repartition(three_in_a_row(context));
    EXPECT_EQ(plan.kept, (std::vector<bool>{true, true, true}));
    EXPECT_TRUE(plan.zones.empty());
    for (std::size_t b = 0; b < 12; ++b) EXPECT_EQ(plan.building_kept[b], static_cast<int>(b / 4));
    expect_tiles_the_region(context, plan);
}

TEST(PlanRepartition, AMicroGridGrownTooLargeIsAZoneOfItsOwn) {
    geos::Context context;
    const RepartitionPlan plan = plan_repartition(three_in_a_row(context, {80, 200, 80}));
    EXPECT_EQ(plan.kept, (std::vector<bool>{true, false, true}));
    ASSERT_EQ(plan.zones.size(), 1u);
    EXPECT_EQ(plan.zones[0].households, 200);
    EXPECT_EQ(plan.zones[0].buildings, (std::vector<std::uint32_t>{4, 5, 6, 7}));
    EXPECT_NEAR(area(context, plan.zones[0].polygon), 100.0 * 100.0, 1e-6);
    expect_tiles_the_region(context, plan);
}

TEST(PlanRepartition, AZoneTooSmallForOneTakesInItsNeighbour) {
    geos::Context context;
    // The last micro-grid lost most of its households (20 < 60): too small for a micro-grid of its
    // own, it takes in the kept neighbour it shares most boundary with (the middle one).
    const RepartitionPlan plan = plan_repartition(three_in_a_row(context, {80, 80, 20}));
    EXPECT_EQ(plan.kept, (std::vector<bool>{true, false, false}));
    ASSERT_EQ(plan.zones.size(), 1u);
    EXPECT_EQ(plan.zones[0].households, 100);
    EXPECT_NEAR(area(context, plan.zones[0].polygon), 200.0 * 100.0, 1e-6);
    EXPECT_GE(plan.merge_rounds, 1);
    expect_tiles_the_region(context, plan);
}

TEST(PlanRepartition, ALockedMicroGridStaysWhateverHappens) {
    geos::Context context;
    RepartitionPlanInput input = three_in_a_row(context, {80, 200, 80});
    input.previous[1].locked = true;
    const RepartitionPlan plan = plan_repartition(input);
    EXPECT_EQ(plan.kept, (std::vector<bool>{true, true, true}));
    EXPECT_TRUE(plan.zones.empty());
    expect_tiles_the_region(context, plan);
}

TEST(PlanRepartition, NewBuildingsJoinTheKeptMicroGridTheyLieIn) {
    geos::Context context;
    RepartitionPlanInput input = three_in_a_row(context);
    input.building_points.push_back({150, 80});  // a new building of 10 households in the middle one
    input.building_region.push_back(0);
    input.building_households.push_back(10);
    input.building_previous.push_back(-1);
    input.previous[1].unchanged = false;
    const RepartitionPlan plan = plan_repartition(input);
    EXPECT_EQ(plan.kept, (std::vector<bool>{true, true, true}));  // 90 households: within the bounds
    EXPECT_EQ(plan.building_kept.back(), 1);
    expect_tiles_the_region(context, plan);
}

TEST(Regrid, NewMicroGridsJoinANeighbouringGridWithRoomElseFormTheirOwn) {
    geos::Context context;
    RegridInput input;
    // In a row: micro-grids 0 and 1 in grid 0, 2 in grid 1, 3 new beside 2; 4 new, far from all.
    for (int g = 0; g < 4; ++g) input.micro_grids.push_back(box(context, 100.0 * g, 0, 100.0 * (g + 1), 100));
    input.micro_grids.push_back(box(context, 1000, 0, 1100, 100));
    input.region.assign(5, 0);
    input.households = {80, 80, 80, 80, 80};
    input.grid = {0, 0, 1, -1, -1};
    input.grid_capacity = {260, 200};  // grid 1 (80 households) has room for micro-grid 3
    input.grid_lost_members = {false, false};
    input.grid_households = 240;
    RegridResult result = regrid(input);
    ASSERT_EQ(result.grid.size(), 5u);
    EXPECT_EQ(result.grid[0], 0);
    EXPECT_EQ(result.grid[1], 0);
    EXPECT_EQ(result.grid[2], 1);
    EXPECT_EQ(result.grid[3], 1);  // joins its neighbour's grid, which has room
    EXPECT_GE(result.grid[4], 2);  // no neighbour: a new grid of new micro-grids
    EXPECT_EQ(result.piece_of.at(static_cast<std::size_t>(result.grid[4] - 2)), -1);

    input.grid_capacity = {260, 100};  // no room left in grid 1: micro-grid 3 starts a grid
    result = regrid(input);
    EXPECT_GE(result.grid[3], 2);
    EXPECT_EQ(result.grid[2], 1);
}

}  // namespace
}  // namespace civgrid::algorithms
