// Micro-grid workers: every micro-grid gets a worker when enough exist, no worker more than their
// maximum, preferring one who lives inside the micro-grid, then the nearest — as an exact
// min-cost flow (transport.hpp) on sparse candidate arcs, decomposed by street.
#pragma once

#include <civgrid/algorithms/road_network.hpp>
#include <civgrid/types.hpp>

#include <cstdint>
#include <utility>
#include <vector>

namespace civgrid::algorithms {

struct StaffingInput {
    std::vector<Wkb> micro_grids;       ///< polygons, working CRS
    std::vector<int> micro_grid_group;  ///< per micro-grid: its street (decomposition unit)
    /// Workers wanted per micro-grid (or per grid, for mobile workers); empty = one each.
    std::vector<std::int64_t> demand;
    std::vector<Point> workers;                 ///< home points
    std::vector<std::int64_t> worker_capacity;  ///< most micro-grids each worker takes (>= 0)
    std::vector<int> worker_group;              ///< per worker: the street they live in, -1 outside all
    int candidates = 8;                         ///< nearest workers offered to each micro-grid
    /// When given, distances run along the roads: from the home by a straight leg to the nearest
    /// road, along the network, then straight to the micro-grid. Otherwise straight lines.
    const RoadNetwork* network = nullptr;
    /// (worker, micro-grid) pairs kept from a previous run: they count against the worker's
    /// capacity and the micro-grid's demand, and the rest is solved around them.
    std::vector<std::pair<std::uint32_t, std::uint32_t>> fixed;
    int threads = 0;
};

struct StaffingResult {
    struct Assignment {
        std::uint32_t worker = 0, micro_grid = 0;
        double distance_m = 0;  ///< home to the micro-grid polygon (0 inside), along the roads with a network
    };
    std::vector<Assignment> assignments;   ///< ordered by micro-grid
    std::vector<std::uint32_t> unstaffed;  ///< micro-grids with fewer workers than wanted
    double total_distance_m = 0;
    /// The street round alone, and nearest-first on the same candidates, for comparison.
    double first_round_distance_m = 0;
    std::int64_t first_round_staffed = 0;
    double greedy_total_distance_m = 0;
    std::int64_t greedy_unstaffed = 0;
    double mean_distance_m = 0, p95_distance_m = 0, max_distance_m = 0;
    bool along_roads = false;  ///< distances measured on the road network
    /// Candidate workers no road path joined to their micro-grid within the search limit: they are
    /// still offered, after every reachable one (the solver sees a 10,000 km penalty on top of the
    /// straight line), and an assignment made that way reports its straight-line distance.
    std::int64_t unreached_candidates = 0;
    std::int64_t off_road_assignments = 0;
    std::int64_t fixed_assignments = 0;  ///< of `assignments`, those kept from the previous run
};

[[nodiscard]] StaffingResult assign_workers(const StaffingInput& input);

}  // namespace civgrid::algorithms
