// The quality report of a partition, computed from its output geometry alone (polygons, building
// points, barrier lines, region polygons), independently of how the partition was made. It is
// what `civgrid partition` prints and stores in run_info, and what `civgrid report` recomputes
// from any output file.
#pragma once

#include <civgrid/types.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace civgrid::algorithms {

struct QualityInput {
    double target_households = 83.0;  ///< nominal micro-grid size the deviation is measured against
    double tolerance = 0.2;           ///< bounds are target * (1 -/+ tolerance)
    std::int64_t requested = 0;       ///< micro-grids requested in total
    std::vector<Wkb> regions;         ///< region (community) polygons, working CRS
    struct MicroGrid {
        Wkb polygon;
        int region = -1;  ///< index into regions
        std::int64_t households = 0;
        bool flagged = false;        ///< out of bounds for a reason the data forces
        double target = 0;           ///< its region's target (count mode varies by region); 0 = target_households
        bool out_of_bounds = false;  ///< flagged: the partitioner could not reach the bounds
        bool multipart = false;      ///< flagged: several parts the data forces (islands)
    };
    std::vector<MicroGrid> micro_grids;
    /// Grids (网格), when there is a grid level: whole micro-grids, `expected` households each
    /// (their micro-grids' targets added up).
    struct Grid {
        Wkb polygon;
        std::int64_t households = 0;
        double expected = 0;
    };
    std::vector<Grid> grids;
    std::vector<Point> building_points;  ///< one point inside each building
    std::vector<int> building_grid;      ///< micro-grid of each building, -1 when none
    /// Households of each building; a barrier crossing needs households on both sides (buildings
    /// without households, cut off by barriers, join a neighbour as land does). Empty: all count.
    std::vector<std::int64_t> building_households;
    std::vector<Wkb> barriers;  ///< hard barrier lines (river outlines included)
    int threads = 0;            ///< 0 = all cores
    /// Per region (when known; empty otherwise): at most how many of its micro-grids could be
    /// within +-10 % (algorithms::best_within), and its code for the report's list.
    std::vector<std::int64_t> region_best_within_10;
    /// The same keeping every micro-grid within the balance bounds (algorithms::best_within_bounded);
    /// empty when not known (an output read back from a file).
    std::vector<std::int64_t> region_best_within_10_in_bounds;
    std::vector<std::string> region_codes;
};

struct QualityReport {
    std::int64_t micro_grids = 0;
    std::int64_t requested = 0;
    std::int64_t empty = 0;                  ///< micro-grids with no households
    std::int64_t flagged = 0;                ///< out of bounds for a reason the data forces
    std::int64_t flagged_out_of_bounds = 0;  ///< flagged out_of_bounds: the partitioner missed the bounds
    std::int64_t flagged_multipart = 0;      ///< flagged multipart: several parts the data forces
    double max_abs_deviation = 0;            ///< max |households - target| / target, all micro-grids
    double max_abs_deviation_unflagged = 0;  ///< the same excluding flagged micro-grids
    double share_within_10 = 0;              ///< share of micro-grids within +-10 % of the target
    double share_within_20 = 0;              ///< share within +-20 %
    double share_within_bounds = 0;          ///< share within +-tolerance
    /// The best share within +-10 % the same counts allow (sum of the regions' bounds over the
    /// micro-grids), -1 when not known (an output without the bound).
    double best_share_within_10 = -1;
    /// The same for plans that keep every micro-grid within the balance bounds where the data
    /// allows (civgrid never buys a micro-grid within +-10 % with one beyond them), -1 when not known.
    double best_share_within_10_in_bounds = -1;
    /// Regions furthest below their bound (most micro-grids short of it first; at most 10).
    struct RegionGap {
        std::string code;
        std::int64_t micro_grids = 0, within_10 = 0, best_within_10 = 0;
    };
    std::vector<RegionGap> largest_gaps;
    std::int64_t non_contiguous = 0;     ///< polygons with more than one part
    std::int64_t barrier_crossings = 0;  ///< micro-grids whose households a hard barrier separates
    std::int64_t outside_region = 0;     ///< micro-grids reaching outside their region
    std::int64_t invalid_polygons = 0;
    double gap_area_m2 = 0;                 ///< region area not covered by its micro-grids, total
    double overlap_area_m2 = 0;             ///< area covered twice, total
    double max_region_gap_overlap_m2 = 0;   ///< worst region's gap + overlap
    double polsby_popper_mean = 0;          ///< compactness 4 pi A / P^2, mean
    double polsby_popper_p10 = 0;           ///< its 10th percentile
    std::int64_t buildings_unassigned = 0;  ///< buildings in no micro-grid
    std::int64_t grids = 0;                 ///< grids (网格); 0 without a grid level
    double grids_share_within_20 = 0;       ///< grids within +-20 % of their micro-grids' targets
    std::int64_t grids_non_contiguous = 0;  ///< grid polygons with more than one part

    /// (key, value) rows for run_info and printing, in a fixed order.
    [[nodiscard]] std::vector<std::pair<std::string, std::string>> rows() const;
    /// A readable multi-line report.
    [[nodiscard]] std::string to_text() const;
};

[[nodiscard]] QualityReport compute_quality(const QualityInput& input);

}  // namespace civgrid::algorithms
