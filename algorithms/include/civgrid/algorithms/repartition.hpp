// Rerunning a partition after the city changed: which previous micro-grids stay as they are, and
// which zones must be partitioned again. A micro-grid stays when its buildings all still lie in its
// region and its households are within the bounds (or nothing about it changed); everything else
// becomes a zone: its region minus the micro-grids kept. A zone no number of micro-grids can split
// within the bounds (too small for one, or between one and two) takes in the kept neighbour it
// shares most boundary with (a merge); a micro-grid grown too large is a zone of its own (a split). Zones with no
// buildings (slivers left by a moved boundary) join the kept neighbour they share most boundary with, so the result
// still tiles every region.
#pragma once

#include <civgrid/types.hpp>

#include <cstdint>
#include <vector>

namespace civgrid::algorithms {

struct PreviousMicroGrid {
    Wkb polygon;          ///< its previous polygon, in the working CRS
    int region = -1;      ///< the new region of the same code; -1 when that region is gone
    bool locked = false;  ///< kept whatever happens (--lock)
    /// Its previous buildings are all still there with the same households. Such a micro-grid
    /// stays even out of bounds when nothing joined it (the data forced it then and still does).
    bool unchanged = false;
    std::int64_t previous_households = 0;
};

struct RepartitionPlanInput {
    std::vector<Wkb> regions;          ///< new region boundaries
    std::vector<double> lower, upper;  ///< per region: household bounds of a micro-grid
    std::vector<PreviousMicroGrid> previous;
    /// The units moved: buildings, or a split building's part in one previous micro-grid (each
    /// with a point inside that part).
    std::vector<Point> building_points;
    std::vector<int> building_region;  ///< per building: new region, -1 outside all
    std::vector<std::int64_t> building_households;
    std::vector<int> building_previous;  ///< per building: previous micro-grid, -1 for a new building
    /// Per region: its boundary is the previous run's, so the previous micro-grids tile it exactly
    /// and need no clipping, and a region where everything stays needs no zones (empty: none is).
    std::vector<bool> region_unchanged;
    /// Points inside zones that must take in a neighbour (once): where partitioning a zone left a
    /// micro-grid out of bounds, and a larger zone may balance.
    std::vector<Point> grow_at;
    int threads = 0;
};

struct RepartitionPlan {
    /// Per previous micro-grid: kept or not, and its polygon now (clipped to its region, with the
    /// empty slivers it took in); empty when not kept.
    std::vector<bool> kept;
    std::vector<Wkb> kept_polygon;
    /// Per building: the kept micro-grid holding it, or -1 when it lies in a zone (or outside all
    /// regions). New buildings inside a kept micro-grid's polygon join it.
    std::vector<int> building_kept;
    struct Zone {
        int region = 0;
        Wkb polygon;
        std::vector<std::uint32_t> buildings;  ///< its buildings
        std::int64_t households = 0;
    };
    std::vector<Zone> zones;
    int merge_rounds = 0;  ///< rounds of taking in neighbours for zones below the lower bound
};

[[nodiscard]] RepartitionPlan plan_repartition(const RepartitionPlanInput& input);

/// Grids after a rerun: kept micro-grids stay in their grid; each new micro-grid joins the
/// neighbouring grid (same region) it shares most boundary with while that grid has room, the
/// rest form new grids of about `grid_households`; a grid left in pieces keeps its largest piece
/// and the others become new grids.
struct RegridInput {
    std::vector<Wkb> micro_grids;
    std::vector<int> region;
    std::vector<std::int64_t> households;
    std::vector<int> grid;                    ///< per micro-grid: its kept grid, -1 for a new micro-grid
    std::vector<std::int64_t> grid_capacity;  ///< per kept grid: households it may grow to
    std::vector<bool> grid_lost_members;      ///< per kept grid: some previous micro-grid of it is gone
    double grid_households = 400;
};
struct RegridResult {
    std::vector<int> grid;  ///< per micro-grid; kept grids keep their index, new ones follow
    /// Per grid beyond the kept ones: the kept grid it is a piece of, or -1 for a grid of new
    /// micro-grids.
    std::vector<int> piece_of;
};
[[nodiscard]] RegridResult regrid(const RegridInput& input);

}  // namespace civgrid::algorithms
