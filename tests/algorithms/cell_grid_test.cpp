// Cell indices of the point, segment and road grids stay defined for any coordinate: extreme
// ones (1e300, infinity, NaN) are clamped instead of overflowing the int64 conversion (UBSan,
// issue 14: staffing with a worker's home at 1e300 m).
#include <civgrid/algorithms/cell_grid.hpp>
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/staffing.hpp>

#include <gtest/gtest.h>

#include <limits>

namespace civgrid::algorithms {
namespace {

TEST(CellGrid, IndicesOfExtremeCoordinatesAreClampedAndKeysDistinct) {
    const CellGrid grid{{480000, 3540000}, 10.0};
    EXPECT_EQ(grid.column(480025), 2);
    EXPECT_EQ(grid.row(3539995), -1);
    const auto limit = static_cast<std::int64_t>(CellGrid::kIndexLimit);
    EXPECT_EQ(grid.column(1e300), limit);
    EXPECT_EQ(grid.column(-1e300), -limit);
    EXPECT_EQ(grid.row(std::numeric_limits<double>::infinity()), limit);
    EXPECT_EQ(grid.row(std::numeric_limits<double>::quiet_NaN()), -limit);
    // The clamped cells and their neighbours keep distinct keys.
    EXPECT_NE(CellGrid::key(limit + 1, -limit - 1), CellGrid::key(limit, -limit - 1));
    EXPECT_NE(CellGrid::key(-limit - 1, limit + 1), CellGrid::key(-limit - 1, limit));
}

TEST(CellGrid, WorkersAbsurdlyFarAwayAreNoCandidates) {
    // Homes at +-1.7e308 make the point grid's extent and cell infinite, and their distances too.
    const geos::Context context;
    StaffingInput input;
    input.micro_grids.push_back(
        geos::to_wkb(context, geos::polygon(context, {{0, 0}, {100, 0}, {100, 100}, {0, 100}}).get()));
    input.micro_grids.push_back(
        geos::to_wkb(context, geos::polygon(context, {{100, 0}, {200, 0}, {200, 100}, {100, 100}}).get()));
    input.micro_grid_group = {0, 0};
    input.workers = {{50, 50}, {1.7e308, -1.7e308}, {-1.7e308, 1.7e308}};
    input.worker_capacity = {1, 1, 1};
    input.worker_group = {0, 0, -1};
    input.threads = 1;
    const StaffingResult result = assign_workers(input);
    ASSERT_EQ(result.assignments.size(), 1u);
    EXPECT_EQ(result.assignments[0].worker, 0u);  // the one living inside the first
    EXPECT_EQ(result.assignments[0].micro_grid, 0u);
    EXPECT_DOUBLE_EQ(result.assignments[0].distance_m, 0.0);
    EXPECT_EQ(result.unstaffed, std::vector<std::uint32_t>{1u});
}

}  // namespace
}  // namespace civgrid::algorithms
