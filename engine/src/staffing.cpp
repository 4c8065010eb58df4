#include "values.hpp"

#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/region_locator.hpp>
#include <civgrid/engine/pipeline.hpp>
#include <civgrid/error.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>

namespace civgrid::engine {

namespace {
constexpr const char* kStage = "engine.staffing";
void assign_utilities(const City& city, const PartitionResult& result, const PartitionConfig& config,
                      Staffing& staffing, const StaffingKeep* keep);

// (solver worker, micro-grid or grid) pairs to keep: the previous run's, where the worker still
// exists among `rows` with room left and the micro-grid (grid) still carries the same id.
template <class Unit>
std::vector<std::pair<std::uint32_t, std::uint32_t>> kept_pairs(
    const std::map<std::string, std::vector<std::string>>& previous, const std::vector<Unit>& units,
    const std::vector<std::uint32_t>& rows, const io::FeatureTable& workers, int id_field,
    std::vector<std::int64_t> capacity) {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> pairs;
    if (id_field < 0 || previous.empty()) return pairs;
    std::map<std::string, std::uint32_t> solver_index;
    for (std::uint32_t w = 0; w < rows.size(); ++w)
        solver_index.emplace(as_text(workers.rows[rows[w]][static_cast<std::size_t>(id_field)]), w);
    for (std::uint32_t u = 0; u < units.size(); ++u) {
        const auto found = previous.find(units[u].id);
        if (found == previous.end()) continue;
        for (const std::string& worker : found->second) {
            const auto w = solver_index.find(worker);
            if (w == solver_index.end() || capacity[w->second] <= 0) continue;
            --capacity[w->second];
            pairs.emplace_back(w->second, u);
        }
    }
    return pairs;
}

// --strict: shortfalls are errors, named by micro-grid id.
void check_strict(const PartitionResult& result, const Staffing& staffing) {
    auto ids = [&](const std::vector<std::uint32_t>& grids) {
        std::string text;
        for (std::size_t i = 0; i < grids.size() && i < 20; ++i)
            text += (text.empty() ? "" : ", ") + result.micro_grids[grids[i]].id;
        return text + (grids.size() > 20 ? ", ..." : "");
    };
    if (!staffing.workers.unstaffed.empty())
        throw InfeasibleError(kStage, std::to_string(staffing.workers.unstaffed.size()) +
                                          " micro-grids without a worker: " + ids(staffing.workers.unstaffed));
    for (const Staffing::Utility& u : staffing.utilities)
        if (!u.result.unassigned.empty())
            throw InfeasibleError(kStage, std::to_string(u.result.unassigned.size()) + " micro-grids no " + u.name +
                                              " station can take within its capacity: " + ids(u.result.unassigned));
}

}  // namespace

Staffing assign_staff(const City& city, const PartitionResult& result, const PartitionConfig& config,
                      const StaffingKeep* keep) {
    Staffing staffing;
    if (!config.staffing) return staffing;
    if (city.workers.size() == 0) {
        assign_utilities(city, result, config, staffing, keep);
        if (config.strict) check_strict(result, staffing);
        return staffing;
    }
    const auto begin = std::chrono::steady_clock::now();
    staffing.present = true;
    const io::FeatureTable& workers = city.workers;
    const int kind = workers.field_index(config.worker_kind_field);
    const int capacity = workers.field_index(config.worker_capacity_field);

    // The decomposition unit: the street of each region (or the region itself without streets).
    std::map<std::string, int> street_index;
    std::vector<int> region_street(city.regions.size());
    for (std::size_t r = 0; r < city.regions.size(); ++r) {
        const std::string& street =
            city.regions[r].street_code.empty() ? city.regions[r].code : city.regions[r].street_code;
        region_street[r] = street_index.try_emplace(street, static_cast<int>(street_index.size())).first->second;
    }

    // One road graph for both rounds, when distances run along the roads.
    std::unique_ptr<algorithms::RoadNetwork> network;
    if (config.network_distance) network = std::make_unique<algorithms::RoadNetwork>(city.road_lines);
    algorithms::StaffingInput input;
    input.candidates = config.worker_candidates;
    input.threads = config.threads;
    input.network = network.get();
    for (const MicroGrid& grid : result.micro_grids) {
        input.micro_grids.push_back(grid.shape.polygon);
        input.micro_grid_group.push_back(region_street[static_cast<std::size_t>(grid.region)]);
    }
    // Each micro-grid worker's street: the region holding their home.
    std::vector<Wkb> boundaries;
    for (const Region& region : city.regions) boundaries.push_back(region.boundary);
    const algorithms::RegionLocator locator(std::move(boundaries));
    auto street_of = [&](Point home) {
        const int r = locator.locate(home);
        return r < 0 ? -1 : region_street[static_cast<std::size_t>(r)];
    };
    algorithms::StaffingInput mobile;  // mobile workers to grids
    mobile.candidates = config.worker_candidates;
    mobile.threads = config.threads;
    mobile.network = network.get();
    // Mobile workers' work areas, by worker id: preferred over their homes.
    std::map<std::string, Point> work_area;
    const int worker_id = workers.field_index(config.worker_id_field);
    if (city.work_areas.size() > 0) {
        const int id = city.work_areas.field_index(config.worker_id_field);
        if (id < 0)
            throw InputError(kStage, city.work_areas.source + ", layer '" + city.work_areas.layer + "': no field '" +
                                         config.worker_id_field + "' to match work areas to workers");
        for (std::size_t a = 0; a < city.work_areas.size(); ++a)
            if (!std::isnan(city.work_area_points[a].x))
                work_area.emplace(as_text(city.work_areas.rows[a][static_cast<std::size_t>(id)]),
                                  city.work_area_points[a]);
    }
    for (std::size_t w = 0; w < workers.size(); ++w) {
        const Point home = city.worker_points[w];
        if (std::isnan(home.x)) continue;
        if (kind >= 0 && as_text(workers.rows[w][static_cast<std::size_t>(kind)]) == "mobile") {
            staffing.mobile_rows.push_back(static_cast<std::uint32_t>(w));
            const auto area = worker_id >= 0
                                  ? work_area.find(as_text(workers.rows[w][static_cast<std::size_t>(worker_id)]))
                                  : work_area.end();
            const Point where = area != work_area.end() ? area->second : home;
            mobile.workers.push_back(where);
            mobile.worker_capacity.push_back(1);
            mobile.worker_group.push_back(street_of(where));
            continue;
        }
        std::int64_t most = 1;
        if (capacity >= 0) {
            const auto value = as_integer(workers.rows[w][static_cast<std::size_t>(capacity)]);
            // No worker can take more than every micro-grid: a larger (corrupt, or INT64_MAX)
            // capacity means the same and cannot overflow the solver's sums.
            if (value) most = std::clamp<std::int64_t>(*value, 0, static_cast<std::int64_t>(result.micro_grids.size()));
        }
        const int group = street_of(home);
        staffing.worker_rows.push_back(static_cast<std::uint32_t>(w));
        input.workers.push_back(home);
        input.worker_capacity.push_back(most);
        input.worker_group.push_back(group);
    }
    staffing.micro_grid_workers = static_cast<std::int64_t>(staffing.worker_rows.size());
    staffing.mobile_workers = static_cast<std::int64_t>(staffing.mobile_rows.size());
    // Mobile workers are extra eyes for grids: each grid takes at most its household share of them
    // (rounded up), the nearest first.
    if (!result.grids.empty() && !mobile.workers.empty()) {
        std::int64_t households = 0;
        for (const Grid& grid : result.grids) households += grid.shape.households;
        for (const Grid& grid : result.grids) {
            mobile.micro_grids.push_back(grid.shape.polygon);
            mobile.micro_grid_group.push_back(region_street[static_cast<std::size_t>(grid.region)]);
            const double share = households > 0
                                     ? static_cast<double>(staffing.mobile_workers) *
                                           static_cast<double>(grid.shape.households) / static_cast<double>(households)
                                     : 0.0;
            mobile.demand.push_back(static_cast<std::int64_t>(std::ceil(share - 1e-9)));
        }
        if (keep != nullptr)
            mobile.fixed = kept_pairs(keep->grid_mobile_workers, result.grids, staffing.mobile_rows, workers, worker_id,
                                      mobile.worker_capacity);
        try {
            staffing.mobile = algorithms::assign_workers(mobile);
        } catch (const Error& error) {
            throw InputError(
                kStage, workers.source + ", layer '" + workers.layer + "': assigning mobile workers: " + error.what());
        }
    }
    if (keep != nullptr)
        input.fixed = kept_pairs(keep->micro_grid_workers, result.micro_grids, staffing.worker_rows, workers, worker_id,
                                 input.worker_capacity);
    try {
        staffing.workers = algorithms::assign_workers(input);
    } catch (const Error& error) {
        throw InputError(kStage,
                         workers.source + ", layer '" + workers.layer + "': assigning workers: " + error.what());
    }
    assign_utilities(city, result, config, staffing, keep);
    if (config.strict) check_strict(result, staffing);
    staffing.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    return staffing;
}

namespace {

void assign_utilities(const City& city, const PartitionResult& result, const PartitionConfig& config,
                      Staffing& staffing, const StaffingKeep* keep) {
    const io::FeatureTable& stations = city.stations;
    if (stations.size() == 0) return;
    const int utility = stations.field_index(config.utility_field);
    const int capacity = stations.field_index(config.station_capacity_field);
    if (utility < 0 || capacity < 0)
        throw InputError(kStage, stations.source + ", layer '" + stations.layer + "': stations need the fields '" +
                                     config.utility_field + "' and '" + config.station_capacity_field + "'");
    std::map<std::string, std::size_t> index;
    for (std::size_t s = 0; s < stations.size(); ++s) {
        if (std::isnan(city.station_points[s].x)) continue;
        const std::string name = as_text(stations.rows[s][static_cast<std::size_t>(utility)]);
        const auto [it, added] = index.try_emplace(name, staffing.utilities.size());
        if (added) staffing.utilities.push_back({name, {}, {}, {}});
        staffing.utilities[it->second].station_rows.push_back(static_cast<std::uint32_t>(s));
    }
    const int station_id = stations.field_index(config.station_id_field);
    std::int64_t city_households = 0;
    for (const MicroGrid& grid : result.micro_grids) city_households += grid.shape.households;
    for (Staffing::Utility& u : staffing.utilities) {
        algorithms::StationInput input;
        input.threads = config.threads;
        for (std::uint32_t row : u.station_rows) {
            input.stations.push_back(city.station_points[row]);
            const auto value = as_integer(stations.rows[row][static_cast<std::size_t>(capacity)]);
            if (!value || *value < 0)
                throw InputError(kStage, stations.source + ", layer '" + stations.layer + "', feature " +
                                             std::to_string(stations.fids[row]) + ", field '" +
                                             config.station_capacity_field + "': not a capacity in households");
            u.capacity.push_back(*value);
            // No station can serve more than every household: for the solver, a larger capacity
            // (corrupt, or INT64_MAX) means the same and cannot overflow its sums.
            input.capacity.push_back(std::min(*value, city_households));
            // A station given as a polygon serves that area, from its point on surface.
            const Wkb& shape = stations.geometries[row];
            const int type = wkb_geometry_type(shape);
            input.service_area.push_back(type == 3 || type == 6 ? shape : Wkb{});
        }
        // A rerun keeps a micro-grid's station when it still exists, has room and (with a service
        // area) still covers it; the rest are solved with what room is left.
        const std::size_t grid_count = result.micro_grids.size();
        std::vector<int> fixed(grid_count, -1);
        if (keep != nullptr && station_id >= 0 && !keep->stations.empty()) {
            std::map<std::string, int> station_index;
            for (std::size_t s = 0; s < u.station_rows.size(); ++s)
                station_index.emplace(as_text(stations.rows[u.station_rows[s]][static_cast<std::size_t>(station_id)]),
                                      static_cast<int>(s));
            geos::Context context;
            for (std::size_t g = 0; g < grid_count; ++g) {
                const auto previous = keep->stations.find({u.name, result.micro_grids[g].id});
                if (previous == keep->stations.end()) continue;
                const auto s = station_index.find(previous->second);
                if (s == station_index.end()) continue;
                const auto si = static_cast<std::size_t>(s->second);
                const std::int64_t households = result.micro_grids[g].shape.households;
                if (input.capacity[si] < households) continue;
                if (!input.service_area[si].empty()) {
                    const geos::Geom area = geos::from_wkb(context, input.service_area[si]);
                    const geos::Geom label = geos::point(context, result.micro_grids[g].shape.label_point);
                    if (!geos::intersects(context, area.get(), label.get())) continue;
                }
                input.capacity[si] -= households;
                fixed[g] = s->second;
            }
        }
        std::vector<std::uint32_t> solved;  // micro-grids the solver sees, by its index
        for (std::uint32_t g = 0; g < grid_count; ++g) {
            if (fixed[g] >= 0) continue;
            solved.push_back(g);
            input.micro_grids.push_back(result.micro_grids[g].shape.label_point);
            input.households.push_back(result.micro_grids[g].shape.households);
        }
        const algorithms::StationResult part = algorithms::assign_stations(input);
        if (solved.size() == grid_count) {
            u.result = part;
            continue;
        }
        algorithms::StationResult& whole = u.result;
        whole = part;
        whole.station.assign(grid_count, -1);
        whole.distance_m.assign(grid_count, 0.0);
        whole.unassigned.clear();
        for (std::size_t i = 0; i < solved.size(); ++i) {
            whole.station[solved[i]] = part.station[i];
            whole.distance_m[solved[i]] = part.distance_m[i];
        }
        for (std::uint32_t i : part.unassigned) whole.unassigned.push_back(solved[i]);
        for (std::size_t g = 0; g < grid_count; ++g) {
            if (fixed[g] < 0) continue;
            const Point a = result.micro_grids[g].shape.label_point,
                        b = input.stations[static_cast<std::size_t>(fixed[g])];
            const double distance = std::hypot(a.x - b.x, a.y - b.y);
            const auto households = result.micro_grids[g].shape.households;
            whole.station[g] = fixed[g];
            whole.distance_m[g] = distance;
            whole.load[static_cast<std::size_t>(fixed[g])] += households;
            whole.weighted_distance += static_cast<double>(households) * distance;
            whole.lower_bound += static_cast<double>(households) * distance;  // fixed: part of any answer now
            ++u.kept;
        }
    }
}

}  // namespace

}  // namespace civgrid::engine
