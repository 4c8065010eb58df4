// Utility providers: every micro-grid to one station of a utility, minimising household-weighted
// distance under the stations' capacities (best effort: what no capacity can take is reported).
#pragma once

#include <civgrid/types.hpp>

#include <cstdint>
#include <vector>

namespace civgrid::algorithms {

struct StationInput {
    std::vector<Point> micro_grids;        ///< a point inside each micro-grid
    std::vector<std::int64_t> households;  ///< per micro-grid
    std::vector<Point> stations;
    std::vector<std::int64_t> capacity;  ///< households each station can serve
    /// Per station: the polygon it may serve (empty: anywhere); an empty vector: no service areas.
    std::vector<Wkb> service_area;
    int candidates = 6;  ///< nearest stations offered to each micro-grid
    int threads = 0;
};

struct StationResult {
    std::vector<int> station;                ///< per micro-grid: its station, -1 when none could take it
    std::vector<double> distance_m;          ///< per micro-grid: to its station
    std::vector<std::int64_t> load;          ///< per station: households served (never above capacity)
    std::vector<std::uint32_t> unassigned;   ///< micro-grids no station could take
    std::int64_t outside_service_areas = 0;  ///< of those, micro-grids outside every station's service area
    double weighted_distance = 0;            ///< sum households * distance, household-metres
    /// The fractional optimum (micro-grids may split): a lower bound the one-station-each answer is
    /// measured against.
    double lower_bound = 0;
    std::int64_t split_repaired = 0;  ///< micro-grids the fractional optimum split
};

/// Exact transport on the nearest stations (solve_transport), then each split micro-grid goes to
/// the station serving most of it, and stations left over capacity give micro-grids to neighbours
/// with room, cheapest extra distance first; a micro-grid that fits nowhere is unassigned.
[[nodiscard]] StationResult assign_stations(const StationInput& input);

}  // namespace civgrid::algorithms
