#include "placement.hpp"
#include "read_back.hpp"
#include "stage_timer.hpp"
#include "values.hpp"

#include <civgrid/algorithms/coverage_union.hpp>
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/repartition.hpp>
#include <civgrid/algorithms/unit_partition.hpp>
#include <civgrid/engine/output_schema.hpp>
#include <civgrid/engine/repartition.hpp>
#include <civgrid/error.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <tuple>
#include <unordered_map>

namespace civgrid::engine {

namespace field_name = schema::field_name;
namespace layer_name = schema::layer_name;
using read_back::required_field;

namespace {

constexpr const char* kStage = "engine.repartition";

std::string text_at(const io::FeatureTable& table, std::size_t row, int field) {
    return field < 0 ? std::string() : as_text(table.rows[row][static_cast<std::size_t>(field)]);
}

std::string join(const std::set<std::string>& ids) {
    std::string text;
    for (const std::string& id : ids)
        if (!id.empty()) text += (text.empty() ? "" : ";") + id;
    return text;
}

std::string padded(std::int64_t value, std::size_t width) {
    std::string text = std::to_string(value);
    text.insert(0, width > text.size() ? width - text.size() : 0, '0');
    return text;
}

// The largest number a code of `prefix` continues with ("320102001003" after "320102001" -> 3).
std::int64_t sequence_after(const std::string& code, const std::string& prefix, std::size_t digits) {
    if (code.size() < prefix.size() + digits || code.compare(0, prefix.size(), prefix) != 0) return 0;
    const std::string tail = code.substr(prefix.size(), digits);
    if (!std::all_of(tail.begin(), tail.end(), [](unsigned char c) { return std::isdigit(c) != 0; })) return 0;
    return std::stoll(tail);
}

}  // namespace

double Repartition::building_churn() const {
    const std::int64_t all = buildings_compared + buildings_new + buildings_removed;
    return all > 0 ? static_cast<double>(buildings_moved + buildings_new + buildings_removed) / static_cast<double>(all)
                   : 0.0;
}

double Repartition::household_churn() const {
    const std::int64_t all = households_compared + households_new + households_removed;
    return all > 0
               ? static_cast<double>(households_moved + households_new + households_removed) / static_cast<double>(all)
               : 0.0;
}

double Repartition::micro_grid_churn() const {
    const auto now = static_cast<double>(result.micro_grids.size());
    return now > 0 ? static_cast<double>(static_cast<std::int64_t>(result.micro_grids.size()) - micro_grids_kept) / now
                   : 0.0;
}

namespace {

// The layers of a civgrid output at `path`; InputError when the ones a rerun needs are missing.
std::vector<std::string> output_layers(const std::string& path) {
    auto layers = io::list_layers(path);
    for (const std::string_view needed : {layer_name::micro_grids, layer_name::buildings})
        if (std::find(layers.begin(), layers.end(), needed) == layers.end())
            throw InputError(
                kStage, "--previous '" + path + "' has no layer '" + std::string(needed) + "': not a civgrid output");
    return layers;
}

// Output layers hold MultiPolygons; a one-part one is the Polygon the engine made, and compares
// equal to it again.
void unwrap_single_parts(io::FeatureTable& table) {
    const geos::Context context;
    for (Wkb& wkb : table.geometries) {
        if (wkb_geometry_type(wkb) != 6) continue;
        const geos::Geom geometry = geos::from_wkb(context, wkb);
        if (geos::part_count(context, geometry.get()) == 1)
            wkb = geos::to_wkb(context, geos::part(context, geometry.get(), 0));
    }
}

}  // namespace

std::string previous_crs(const std::string& path) {
    (void)output_layers(path);
    return io::layer_crs(read_back::output_layer(path, layer_name::micro_grids));
}

PreviousRun read_previous(const std::string& path, const std::string& crs) {
    const std::vector<std::string> layers = output_layers(path);
    PreviousRun previous;
    previous.path = path;
    const io::ReadOptions options{.target_crs = crs};
    previous.micro_grids = io::read_layer(read_back::output_layer(path, layer_name::micro_grids), options);
    previous.buildings =
        io::read_layer(read_back::output_layer(path, layer_name::buildings), {.attributes_only = true});
    if (std::find(layers.begin(), layers.end(), layer_name::communities) != layers.end())
        previous.regions = io::read_layer(read_back::output_layer(path, layer_name::communities), options);
    if (std::find(layers.begin(), layers.end(), layer_name::grids) != layers.end())
        previous.grids = io::read_layer(read_back::output_layer(path, layer_name::grids), options);
    if (std::find(layers.begin(), layers.end(), layer_name::worker_assignments) != layers.end())
        previous.worker_assignments = io::read_layer(read_back::output_layer(path, layer_name::worker_assignments));
    if (std::find(layers.begin(), layers.end(), layer_name::service_assignments) != layers.end())
        previous.service_assignments = io::read_layer(read_back::output_layer(path, layer_name::service_assignments));
    // Nothing in the file is trusted: kept polygons go into the new output as they are, so they
    // must be valid; a community without a polygon is only compared, so it may lack one.
    read_back::check_geometries(previous.micro_grids, read_back::Shape::valid_polygons, false, kStage);
    read_back::check_geometries(previous.regions, read_back::Shape::valid_polygons, true, kStage);
    read_back::check_geometries(previous.grids, read_back::Shape::valid_polygons, false, kStage);
    unwrap_single_parts(previous.micro_grids);
    unwrap_single_parts(previous.regions);
    unwrap_single_parts(previous.grids);
    return previous;
}

StaffingKeep staffing_to_keep(const PreviousRun& previous) {
    StaffingKeep keep;
    const io::FeatureTable& workers = previous.worker_assignments;
    if (workers.size() > 0) {
        const int worker = required_field(workers, field_name::worker_id, kStage),
                  grid = required_field(workers, field_name::micro_grid_id, kStage),
                  big_grid = required_field(workers, field_name::grid_id, kStage),
                  role = required_field(workers, field_name::role, kStage);
        for (std::size_t i = 0; i < workers.size(); ++i) {
            if (text_at(workers, i, role) == "mobile_worker")
                keep.grid_mobile_workers[text_at(workers, i, big_grid)].push_back(text_at(workers, i, worker));
            else
                keep.micro_grid_workers[text_at(workers, i, grid)].push_back(text_at(workers, i, worker));
        }
    }
    const io::FeatureTable& service = previous.service_assignments;
    if (service.size() > 0) {
        const int grid = required_field(service, field_name::micro_grid_id, kStage),
                  utility = required_field(service, field_name::utility, kStage),
                  station = required_field(service, field_name::station_id,
                                           kStage);  // the output's name, whatever the input's
        for (std::size_t i = 0; i < service.size(); ++i) {
            const std::string id = text_at(service, i, station);
            if (!id.empty()) keep.stations[{text_at(service, i, utility), text_at(service, i, grid)}] = id;
        }
    }
    return keep;
}

namespace {

// Splits `total` in proportion to `weights` (largest remainder); all to the largest weight when
// every weight is zero.
std::vector<std::int64_t> proportional(std::int64_t total, const std::vector<std::int64_t>& weights) {
    std::vector<std::int64_t> shares(weights.size(), 0);
    const std::int64_t sum = std::accumulate(weights.begin(), weights.end(), std::int64_t{0});
    if (weights.empty()) return shares;
    if (sum <= 0) {
        shares[static_cast<std::size_t>(std::max_element(weights.begin(), weights.end()) - weights.begin())] = total;
        return shares;
    }
    std::vector<std::pair<double, std::size_t>> remainders;
    std::int64_t given = 0;
    for (std::size_t i = 0; i < weights.size(); ++i) {
        const double exact = static_cast<double>(total) * static_cast<double>(weights[i]) / static_cast<double>(sum);
        shares[i] = static_cast<std::int64_t>(std::floor(exact));
        given += shares[i];
        remainders.emplace_back(-(exact - static_cast<double>(shares[i])), i);
    }
    std::sort(remainders.begin(), remainders.end());
    for (std::size_t k = 0; given < total && k < remainders.size(); ++k, ++given) ++shares[remainders[k].second];
    return shares;
}

// Whether some number of micro-grids k >= 1 splits `households` within [lower, upper] on average
// (as algorithms::plan_repartition decides for zones).
bool balanceable(std::int64_t households, double lower, double upper) {
    const double h = static_cast<double>(households);
    const double fewest = std::max(1.0, std::ceil(h / upper - 1e-9)),
                 most = std::floor(h / std::max(lower, 1e-9) + 1e-9);
    return fewest <= most;
}

std::vector<std::string> split_text(const std::string& text) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (start <= text.size() && !text.empty()) {
        const std::size_t end = std::min(text.find(';', start), text.size());
        parts.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return parts;
}

}  // namespace

namespace {

// A rerun, stage by stage: each method is one step of repartition_city, in order; the members are
// what the steps hand on (the previous run as read, the units of households, the zones' partition,
// the micro-grids now and their codes).
class Rerun {
public:
    Rerun(const City& city_now, const PreviousRun& previous_run, const PartitionConfig& run_config,
          const RepartitionOptions& rerun_options)
        : city(city_now),
          previous(previous_run),
          config(run_config),
          options(rerun_options),
          old_grids(previous_run.micro_grids),
          plan_config(for_planning(run_config)),
          base(region_problems(city_now, plan_config)),
          region_count(city_now.regions.size()),
          building_count(city_now.buildings.size()) {
        for (std::size_t r = 0; r < region_count; ++r)
            region_of_code.emplace(city.regions[r].code, static_cast<int>(r));
        areas = run_config.units == "areas";
    }

    // Previous micro-grids.
    void read_previous_micro_grids();
    // Previous buildings by id, each as its parts: (micro-grid, households) — several for a
    // building split across micro-grids.
    void read_previous_buildings();
    // Units: each new building, or each part of a building that was split, with its households
    // now (a changed count spread over the parts as before).
    void make_units();
    // Which micro-grids stay, and the zones to partition again.
    void plan_zones();
    // Units mode (--units areas): which micro-grids stay and the zones, by whole units instead of
    // polygons (see plan_units' comment).
    algorithms::RepartitionPlan plan_units();
    // Plan, then partition the zones like any city. A zone whose partition still leaves a
    // micro-grid out of bounds (indivisible towers, barriers) takes in a neighbour once more.
    void partition_zones();
    // Components of previous (not kept) and zoned micro-grids joined by shared households.
    void join_components();
    // Codes: kept ones keep theirs; one-for-one redraws keep the previous code; the rest continue
    // each community's numbering after every code it ever used (retired codes are never reused).
    void choose_codes();
    // The result: kept micro-grids (with their households now), then the zones', by region and code.
    void collect_entries();
    // Grids: kept grids keep their micro-grids and take in new neighbours while they have room;
    // the rest form new grids; a grid left in pieces splits. New codes follow every code used.
    void regroup_grids();
    // Grids by id, from their micro-grids now.
    void unite_grids();
    void place_buildings();
    void summarise_regions();
    void trace_lineage();

    Repartition out;

private:
    // Rerun sizes come from the target (a count for the whole city would reshuffle everything).
    static PartitionConfig for_planning(PartitionConfig config) {
        config.micro_grid_count = 0;
        config.grid_count = 0;
        return config;
    }

    struct OldBuilding {
        std::vector<int> micro_grids;
        std::vector<std::int64_t> households;
        std::int64_t total = 0;
        bool seen = false;
    };
    struct Unit {
        std::uint32_t building = 0;
        int previous = -1;
        std::int64_t households = 0;
        Point point;
        Wkb geometry;  ///< the part of the building; empty = all of it
    };
    struct Entry {
        MicroGrid grid;
        std::string grid_id, status;
        int previous = -1, zoned = -1;
    };

    const City& city;
    const PreviousRun& previous;
    const PartitionConfig& config;
    const RepartitionOptions& options;
    const io::FeatureTable& old_grids;
    const PartitionConfig plan_config;
    const RegionProblems base;
    const std::size_t region_count, building_count;
    std::map<std::string, int> region_of_code;
    geos::Context context;

    // The previous run: its micro-grids (index m) and buildings.
    std::size_t previous_count = 0;
    int old_flags_field = -1;
    std::vector<std::string> old_id, old_grid, old_code;
    std::unordered_map<std::string, int> previous_index;
    std::set<std::string> locked;
    int new_id_field = -1;
    std::unordered_map<std::string, OldBuilding> old_by_id;
    std::vector<std::int64_t> old_member_count, old_member_households;

    // Units of households now (index u), and what the previous micro-grids hold of them.
    std::vector<Unit> units;
    std::vector<std::string> new_building_id;
    std::vector<bool> existed;
    std::vector<std::int64_t> new_member_count, new_member_households;

    // The plan and the zones' partition (zoned micro-grids, index g).
    algorithms::RepartitionPlanInput plan_input;
    algorithms::RepartitionPlan plan;
    City zones;
    PartitionResult zoned;
    std::size_t zoned_count = 0;
    std::vector<std::vector<std::pair<int, std::int64_t>>> unit_zoned;
    std::vector<std::set<int>> zone_parents;
    std::vector<std::map<int, std::int64_t>> zone_shares;             // previous -> households from it
    std::vector<std::pair<std::set<int>, std::set<int>>> components;  // (previous, zoned)
    // Units mode: neighbouring units (index u, computed once) and the units of zoned micro-grids
    // the last partition left out of bounds (each takes in a kept neighbour on the next attempt).
    bool areas = false;
    bool unit_edges_ready = false;
    std::vector<algorithms::UnitEdge> unit_edges;
    std::vector<std::vector<std::uint32_t>> grow_units;

    // Codes and the micro-grids now (entries, index e).
    std::map<std::string, std::int64_t> next_grid, next_micro;
    bool with_grids = false;
    std::vector<std::string> zoned_id, zoned_status;
    std::vector<Entry> entries;
    std::vector<int> previous_to_result, zoned_to_result;
    std::vector<std::vector<std::pair<int, std::int64_t>>> unit_result;
};

void Rerun::read_previous_micro_grids() {
    const int old_id_field = required_field(old_grids, field_name::micro_grid_id, kStage),
              old_grid_field = required_field(old_grids, field_name::grid_id, kStage),
              old_code_field = required_field(old_grids, field_name::community_code, kStage);
    old_flags_field = old_grids.field_index(field_name::flags);
    previous_count = old_grids.size();
    old_id.resize(previous_count);
    old_grid.resize(previous_count);
    old_code.resize(previous_count);
    for (std::size_t m = 0; m < previous_count; ++m) {
        old_id[m] = text_at(old_grids, m, old_id_field);
        old_grid[m] = text_at(old_grids, m, old_grid_field);
        old_code[m] = text_at(old_grids, m, old_code_field);
        previous_index.emplace(old_id[m], static_cast<int>(m));
    }
    locked.insert(options.locked.begin(), options.locked.end());
    {
        std::set<std::string> known(old_id.begin(), old_id.end());
        known.insert(old_grid.begin(), old_grid.end());
        std::string unknown;
        for (const std::string& id : locked)
            if (!known.contains(id)) unknown += (unknown.empty() ? "" : ", ") + id;
        if (!unknown.empty())
            throw ConfigError(kStage,
                              "--lock: the previous run (" + previous.path + ") has no micro-grid or grid " + unknown);
    }
}
void Rerun::read_previous_buildings() {
    const io::FeatureTable& old_buildings = previous.buildings;
    new_id_field = city.buildings.field_index(config.building_id_field);
    const int old_building_id = old_buildings.field_index(config.building_id_field);
    if (new_id_field < 0 || old_building_id < 0)
        throw ConfigError(kStage, "a rerun matches buildings by their id field '" + config.building_id_field +
                                      "', which " + (new_id_field < 0 ? city.buildings.source : previous.path) +
                                      " lacks (set it with --id-field)");
    const int old_building_grid = required_field(old_buildings, field_name::micro_grid_id, kStage);
    const int old_split_field = old_buildings.field_index(field_name::split_micro_grids);
    const int old_split_households_field = old_buildings.field_index(field_name::split_households);
    const int old_households_field = old_buildings.field_index(config.households_field);
    old_member_count.assign(previous_count, 0);
    old_member_households.assign(previous_count, 0);
    for (std::size_t i = 0; i < old_buildings.size(); ++i) {
        OldBuilding building;
        // The input's own households attribute, kept in the output: counted as the import counts
        // it (non-numeric, negative or absurd is 0), so a corrupt value cannot overflow the sums.
        const std::int64_t households =
            old_households_field >= 0
                ? as_integer(old_buildings.rows[i][static_cast<std::size_t>(old_households_field)]).value_or(0)
                : 0;
        building.total =
            households >= 0 && households <= std::min(config.max_building_households, read_back::kMaxHouseholds)
                ? households
                : 0;
        const std::vector<std::string> split_ids = split_text(text_at(old_buildings, i, old_split_field));
        const std::vector<std::string> split_households =
            split_text(text_at(old_buildings, i, old_split_households_field));
        const std::vector<std::string> ids =
            split_ids.size() > 1 ? split_ids : std::vector<std::string>{text_at(old_buildings, i, old_building_grid)};
        for (std::size_t k = 0; k < ids.size(); ++k) {
            const auto found = previous_index.find(ids[k]);
            if (found == previous_index.end()) continue;
            building.micro_grids.push_back(found->second);
            std::int64_t share = ids.size() == 1 ? building.total : 0;
            if (ids.size() > 1 && split_households.size() == ids.size()) {
                // civgrid wrote these: anything but a count is corruption.
                const std::optional<std::int64_t> written = as_integer(FieldValue{split_households[k]});
                if (!written || *written < 0 || *written > read_back::kMaxHouseholds)
                    throw InputError(kStage, read_back::where(old_buildings, i) + ", field 'split_households': '" +
                                                 split_households[k] + "' is not a count from 0 to " +
                                                 std::to_string(read_back::kMaxHouseholds));
                share = *written;
            } else if (ids.size() > 1)  // an output without split_households: an even split
                share = building.total / static_cast<std::int64_t>(ids.size()) +
                        (static_cast<std::int64_t>(k) < building.total % static_cast<std::int64_t>(ids.size()) ? 1 : 0);
            building.households.push_back(share);
        }
        const std::string id = text_at(old_buildings, i, old_building_id);
        if (building.micro_grids.empty() || !old_by_id.emplace(id, building).second) continue;
        for (std::size_t k = 0; k < building.micro_grids.size(); ++k) {
            ++old_member_count[static_cast<std::size_t>(building.micro_grids[k])];
            old_member_households[static_cast<std::size_t>(building.micro_grids[k])] += building.households[k];
        }
    }
}
void Rerun::make_units() {
    new_building_id.resize(building_count);
    existed.assign(building_count, false);
    new_member_count.assign(previous_count, 0);
    new_member_households.assign(previous_count, 0);
    std::int64_t duplicates = 0;
    for (std::uint32_t b = 0; b < building_count; ++b) {
        new_building_id[b] = text_at(city.buildings, b, new_id_field);
        const auto found = old_by_id.find(new_building_id[b]);
        const bool known = found != old_by_id.end() && !found->second.seen;
        if (found != old_by_id.end() && found->second.seen) ++duplicates;
        if (!known || base.result.building_region[b] < 0) {
            units.push_back({b, -1, city.building_households[b], city.building_points[b], {}});
            if (known) found->second.seen = true, existed[b] = true;
            continue;
        }
        found->second.seen = true;
        existed[b] = true;
        const OldBuilding& old = found->second;
        const std::vector<std::int64_t> shares = proportional(city.building_households[b], old.households);
        for (std::size_t k = 0; k < old.micro_grids.size(); ++k) {
            Unit unit{b, old.micro_grids[k], shares[k], city.building_points[b], {}};
            if (old.micro_grids.size() > 1 && !city.buildings.geometries[b].empty()) {
                // The part inside that micro-grid, and a point in it.
                const geos::Geom building = geos::from_wkb(context, city.buildings.geometries[b]);
                const geos::Geom grid =
                    geos::from_wkb(context, old_grids.geometries[static_cast<std::size_t>(old.micro_grids[k])]);
                const geos::Geom part = geos::intersection_or_null(context, building.get(), grid.get());
                if (part && !geos::is_empty(context, part.get()) && geos::area(context, part.get()) > 0) {
                    unit.point = geos::point_on_surface(context, part.get());
                    unit.geometry = geos::to_wkb(context, part.get());
                }
            }
            ++new_member_count[static_cast<std::size_t>(unit.previous)];
            new_member_households[static_cast<std::size_t>(unit.previous)] += unit.households;
            units.push_back(std::move(unit));
        }
    }
    if (duplicates > 0)
        out.warnings.push_back(std::to_string(duplicates) + " buildings repeat an id '" + config.building_id_field +
                               "' of another: each after the first counts as a new building");
}
void Rerun::plan_zones() {
    plan_input.threads = config.threads;
    for (std::size_t r = 0; r < region_count; ++r) {
        plan_input.regions.push_back(city.regions[r].boundary);
        const double target = base.result.regions[r].target;
        double lower = config.min_households > 0 ? config.min_households : target * (1.0 - config.tolerance);
        const double upper = config.max_households > 0 ? config.max_households : target * (1.0 + config.tolerance);
        if (config.hard_min_households > 0) lower = std::max(lower, static_cast<double>(config.hard_min_households));
        plan_input.lower.push_back(lower);
        plan_input.upper.push_back(upper);
    }
    for (std::size_t m = 0; m < previous_count; ++m) {
        algorithms::PreviousMicroGrid grid;
        grid.polygon = old_grids.geometries[m];
        const auto region = region_of_code.find(old_code[m]);
        grid.region = region == region_of_code.end() ? -1 : region->second;
        grid.locked = locked.contains(old_id[m]) || (!old_grid[m].empty() && locked.contains(old_grid[m]));
        grid.unchanged = old_member_count[m] == new_member_count[m] && old_member_count[m] > 0 &&
                         old_member_households[m] == new_member_households[m];
        grid.previous_households = old_member_households[m];
        plan_input.previous.push_back(std::move(grid));
    }
    for (const Unit& unit : units) {
        plan_input.building_points.push_back(unit.point);
        plan_input.building_region.push_back(base.result.building_region[unit.building]);
        plan_input.building_households.push_back(unit.households);
        plan_input.building_previous.push_back(unit.previous);
    }
    // Regions whose boundary is the previous run's (vertex for vertex, within a millimetre).
    plan_input.region_unchanged.assign(region_count, false);
    if (previous.regions.size() > 0) {
        const int code = previous.regions.field_index(field_name::community_code);
        for (std::size_t i = 0; code >= 0 && i < previous.regions.size(); ++i) {
            const auto r = region_of_code.find(text_at(previous.regions, i, code));
            if (r == region_of_code.end() || previous.regions.geometries[i].empty()) continue;
            const Wkb& now = city.regions[static_cast<std::size_t>(r->second)].boundary;
            bool same = previous.regions.geometries[i] == now;
            if (!same) {
                const geos::Geom before = geos::from_wkb(context, previous.regions.geometries[i]);
                const geos::Geom after = geos::from_wkb(context, now);
                same = geos::equals_exact(context, before.get(), after.get(), 1e-3);
            }
            plan_input.region_unchanged[static_cast<std::size_t>(r->second)] = same;
        }
    }
}
// Units mode: a micro-grid is a set of whole units, so the plan works on units, not polygons.
// - Members: a unit of the previous run belongs to its previous micro-grid; a new unit to the
//   previous micro-grid of its region whose polygon holds its point (a parcel subdivided keeps its
//   micro-grid), else to none.
// - Kept: locked, or members all in its region and its households within the bounds (or as
//   before), as in buildings mode; its polygon is the union of its units now.
// - Zones: per region, the units of no kept micro-grid. A connected group of them (units sharing
//   boundary) that no number of micro-grids can balance, leaving aside units over the upper bound
//   (micro-grids of their own anyway), takes in the kept neighbour it shares most boundary with,
//   round by round; so does a zoned micro-grid the last attempt left out of bounds (grow_units).
//   A group without households joins that neighbour instead (land between blocks).
algorithms::RepartitionPlan Rerun::plan_units() {
    const std::size_t n = units.size();
    if (!unit_edges_ready) {
        std::vector<Wkb> shapes(n);
        for (std::size_t u = 0; u < n; ++u)
            shapes[u] = units[u].geometry.empty() ? city.buildings.geometries[units[u].building] : units[u].geometry;
        unit_edges = algorithms::unit_adjacency(shapes);
        unit_edges_ready = true;
    }
    std::vector<int> region(n, -1), member(n, -1);
    for (std::size_t u = 0; u < n; ++u) region[u] = base.result.building_region[units[u].building];
    {
        std::vector<geos::Geom> polygons(previous_count);
        std::vector<geos::Prepared> prepared(previous_count);
        geos::StrTree tree(context);
        bool any_new = false;
        for (std::size_t u = 0; u < n; ++u) any_new = any_new || (units[u].previous < 0 && region[u] >= 0);
        for (std::size_t m = 0; any_new && m < previous_count; ++m) {
            if (plan_input.previous[m].region < 0 || plan_input.previous[m].polygon.empty()) continue;
            polygons[m] = geos::from_wkb(context, plan_input.previous[m].polygon);
            prepared[m] = geos::prepare(context, polygons[m].get());
            tree.insert(polygons[m].get(), m);
        }
        for (std::size_t u = 0; u < n; ++u) {
            if (region[u] < 0) continue;
            member[u] = units[u].previous;
            if (member[u] >= 0 || !any_new) continue;
            const geos::Geom point = geos::point(context, units[u].point);
            for (std::size_t m : tree.query(point.get()))
                if (plan_input.previous[m].region == region[u] &&
                    geos::prepared_intersects(context, prepared[m], point.get())) {
                    member[u] = static_cast<int>(m);
                    break;
                }
        }
    }
    std::vector<std::vector<std::uint32_t>> members(previous_count);
    for (std::size_t u = 0; u < n; ++u)
        if (member[u] >= 0) members[static_cast<std::size_t>(member[u])].push_back(static_cast<std::uint32_t>(u));
    std::vector<bool> kept(previous_count, false);
    for (std::size_t m = 0; m < previous_count; ++m) {
        const algorithms::PreviousMicroGrid& grid = plan_input.previous[m];
        const int r = grid.region;
        if (r < 0) continue;
        std::int64_t households = 0;
        bool foreign = false;
        for (std::uint32_t u : members[m]) {
            foreign = foreign || region[u] != r;
            households += units[u].households;
        }
        const auto ru = static_cast<std::size_t>(r);
        const bool in_bounds = static_cast<double>(households) >= plan_input.lower[ru] - 1e-9 &&
                               static_cast<double>(households) <= plan_input.upper[ru] + 1e-9;
        const bool as_before = grid.unchanged && households == grid.previous_households;
        kept[m] = grid.locked || (!members[m].empty() && !foreign && (in_bounds || as_before));
    }
    // Each free unit's kept neighbours by shared boundary (same region), filled per round.
    auto owner = [&](std::size_t u) {
        return member[u] >= 0 && kept[static_cast<std::size_t>(member[u])] &&
                       region[u] == plan_input.previous[static_cast<std::size_t>(member[u])].region
                   ? member[u]
                   : -1;
    };
    // The kept neighbour (not locked) sharing most boundary with `group`, -1 when none.
    auto best_neighbour = [&](const std::vector<std::uint32_t>& group, bool locked_too) {
        std::set<std::uint32_t> in(group.begin(), group.end());
        std::map<int, double> shared;
        for (const algorithms::UnitEdge& e : unit_edges) {
            const bool a = in.contains(e.a), b = in.contains(e.b);
            if (a == b) continue;
            const std::uint32_t inside = a ? e.a : e.b, other = a ? e.b : e.a;
            const int m = owner(other);
            if (m < 0 || region[other] != region[inside]) continue;
            if (!locked_too && plan_input.previous[static_cast<std::size_t>(m)].locked) continue;
            shared[m] += e.length;
        }
        int best = -1;
        double most = 0;
        for (const auto& [m, length] : shared)
            if (length > most) best = m, most = length;
        return best;
    };
    for (const auto& group : grow_units) {
        const int m = best_neighbour(group, false);
        if (m >= 0) kept[static_cast<std::size_t>(m)] = false;
    }
    std::vector<int> joined(n, -1);  // free units without households given to a kept neighbour
    for (int round = 0;; ++round) {
        std::fill(joined.begin(), joined.end(), -1);
        // Groups of free units: union-find over the edges between two free units of one region.
        std::vector<std::uint32_t> parent(n);
        std::iota(parent.begin(), parent.end(), 0U);
        const auto find = [&](std::uint32_t u) {
            while (parent[u] != u) u = parent[u] = parent[parent[u]];
            return u;
        };
        const auto free_unit = [&](std::size_t u) { return region[u] >= 0 && owner(u) < 0; };
        for (const algorithms::UnitEdge& e : unit_edges)
            if (free_unit(e.a) && free_unit(e.b) && region[e.a] == region[e.b]) parent[find(e.a)] = find(e.b);
        std::map<std::uint32_t, std::vector<std::uint32_t>> groups;
        for (std::size_t u = 0; u < n; ++u)
            if (free_unit(u)) groups[find(static_cast<std::uint32_t>(u))].push_back(static_cast<std::uint32_t>(u));
        bool grew = false;
        for (const auto& [root, group] : groups) {
            const auto r = static_cast<std::size_t>(region[root]);
            std::int64_t households = 0, all = 0;
            for (std::uint32_t u : group) {
                all += units[u].households;
                if (static_cast<double>(units[u].households) <= plan_input.upper[r] + 1e-9)
                    households += units[u].households;
            }
            if (all == 0) {
                const int m = best_neighbour(group, true);
                for (std::uint32_t u : group) joined[u] = m;
                continue;
            }
            if (households == 0 || round >= 4 || balanceable(households, plan_input.lower[r], plan_input.upper[r]))
                continue;
            const int m = best_neighbour(group, false);
            if (m >= 0) kept[static_cast<std::size_t>(m)] = false, grew = true;
        }
        if (!grew) break;
    }

    algorithms::RepartitionPlan result;
    result.kept = kept;
    result.kept_polygon.assign(previous_count, {});
    result.building_kept.assign(n, -1);
    std::vector<std::vector<Wkb>> kept_units(previous_count);
    std::map<int, std::size_t> zone_of_region;
    for (std::size_t u = 0; u < n; ++u) {
        if (region[u] < 0) continue;
        const int m = owner(u) >= 0 ? owner(u) : joined[u];
        if (m >= 0) {
            result.building_kept[u] = m;
            kept_units[static_cast<std::size_t>(m)].push_back(
                units[u].geometry.empty() ? city.buildings.geometries[units[u].building] : units[u].geometry);
            continue;
        }
        const auto [it, added] = zone_of_region.try_emplace(region[u], result.zones.size());
        if (added) {
            algorithms::RepartitionPlan::Zone zone;
            zone.region = region[u];
            zone.polygon = city.regions[static_cast<std::size_t>(region[u])].boundary;
            result.zones.push_back(std::move(zone));
        }
        auto& zone = result.zones[it->second];
        zone.buildings.push_back(static_cast<std::uint32_t>(u));
        zone.households += units[u].households;
    }
    for (std::size_t m = 0; m < previous_count; ++m) {
        if (!kept[m]) continue;
        // A locked micro-grid that lost every unit keeps its previous polygon; so does one whose
        // units still cover it exactly (a rerun of the same city writes the same polygons).
        const Wkb& before = plan_input.previous[m].polygon;
        result.kept_polygon[m] = kept_units[m].empty() ? before : algorithms::union_of_units(kept_units[m]);
        if (kept_units[m].empty() || before.empty() || result.kept_polygon[m] == before) continue;
        const geos::Geom now = geos::from_wkb(context, result.kept_polygon[m]);
        const geos::Geom then = geos::from_wkb(context, before);
        const geos::Geom common = geos::intersection_or_null(context, now.get(), then.get());
        const double larger = std::max(geos::area(context, now.get()), geos::area(context, then.get()));
        if (common && geos::area(context, common.get()) >= (1 - 1e-9) * larger) result.kept_polygon[m] = before;
    }
    return result;
}
void Rerun::partition_zones() {
    std::vector<std::uint32_t> zone_unit;  // zone city's building -> unit
    for (int attempt = 0;; ++attempt) {
        plan = areas ? plan_units() : algorithms::plan_repartition(plan_input);
        zones = City{};
        zone_unit.clear();
        zoned = PartitionResult{};

        zones.crs = city.crs;
        zones.region_level = city.region_level;
        zones.hard_lines = city.hard_lines;
        zones.hard_areas = city.hard_areas;
        zones.soft_lines = city.soft_lines;
        zones.buildings.source = city.buildings.source;
        zones.buildings.layer = city.buildings.layer;
        zones.buildings.crs = city.buildings.crs;
        zones.buildings.fields = city.buildings.fields;
        for (const auto& zone : plan.zones) {
            Region region = city.regions[static_cast<std::size_t>(zone.region)];
            region.boundary = zone.polygon;
            region.requested_count = 0;
            region.requested_grids = 0;
            zones.regions.push_back(std::move(region));
            for (std::uint32_t u : zone.buildings) {
                const Unit& unit = units[u];
                zone_unit.push_back(u);
                zones.buildings.fids.push_back(city.buildings.fids[unit.building]);
                zones.buildings.geometries.push_back(unit.geometry.empty() ? city.buildings.geometries[unit.building]
                                                                           : unit.geometry);
                zones.buildings.rows.push_back(city.buildings.rows[unit.building]);
                zones.building_households.push_back(unit.households);
                zones.building_units.push_back(city.building_units[unit.building]);
                zones.building_points.push_back(unit.point);
                if (areas) zones.building_region.push_back(static_cast<int>(zones.regions.size() - 1));
            }
        }
        if (!zones.regions.empty()) {
            PartitionConfig zone_config = plan_config;
            zone_config.count_field.clear();
            zone_config.grid_count_field.clear();
            zone_config.grid_households = 0;  // grids are redrawn around the kept ones below
            zoned = partition_city(zones, zone_config);
        }
        std::vector<Point> missed;
        constexpr auto kMissed = static_cast<std::uint8_t>(algorithms::Flag::out_of_bounds);
        constexpr auto kForced = static_cast<std::uint8_t>(algorithms::Flag::forced_by_boundaries) |
                                 static_cast<std::uint8_t>(algorithms::Flag::large_building);
        std::vector<std::vector<std::uint32_t>> missed_units(zoned.micro_grids.size());
        for (std::size_t zb = 0; areas && zb < zone_unit.size(); ++zb)
            if (zoned.building_grid[zb] >= 0)
                missed_units[static_cast<std::size_t>(zoned.building_grid[zb])].push_back(zone_unit[zb]);
        grow_units.clear();
        for (std::size_t g = 0; g < zoned.micro_grids.size(); ++g) {
            const MicroGrid& grid = zoned.micro_grids[g];
            if ((grid.shape.flags & kMissed) == 0 || (grid.shape.flags & kForced) != 0) continue;
            missed.push_back(grid.shape.label_point);
            if (areas) grow_units.push_back(std::move(missed_units[g]));
        }
        if (missed.empty() || attempt == 1) break;
        plan_input.grow_at = std::move(missed);
    }
    out.zones = static_cast<std::int64_t>(plan.zones.size());
    zoned_count = zoned.micro_grids.size();
    // Zoned micro-grids by (zone, code): two zones of one community number their micro-grids alike.
    std::map<std::pair<int, std::string>, int> zoned_index;
    for (std::size_t g = 0; g < zoned_count; ++g)
        zoned_index.emplace(std::pair{zoned.micro_grids[g].region, zoned.micro_grids[g].id}, static_cast<int>(g));
    // Each zone unit's households by zoned micro-grid (the partitioner may split it further).
    unit_zoned.resize(units.size());
    for (std::size_t zb = 0; zb < zone_unit.size(); ++zb) {
        const std::vector<std::string> ids = split_text(zoned.building_split[zb]);
        const std::vector<std::string> households = split_text(zoned.building_split_households[zb]);
        auto& parts = unit_zoned[zone_unit[zb]];
        if (ids.size() > 1 && households.size() == ids.size()) {
            for (std::size_t k = 0; k < ids.size(); ++k)
                parts.emplace_back(zoned_index.at({zoned.building_region[zb], ids[k]}),
                                   as_integer(FieldValue{households[k]}).value_or(0));
        } else if (zoned.building_grid[zb] >= 0) {
            parts.emplace_back(zoned.building_grid[zb], units[zone_unit[zb]].households);
        }
    }
}
void Rerun::join_components() {
    zone_parents.resize(zoned_count);
    zone_shares.resize(zoned_count);
    std::map<int, std::set<int>> previous_children;
    for (std::size_t u = 0; u < units.size(); ++u)
        if (units[u].previous >= 0)
            for (const auto& [g, h] : unit_zoned[u]) {
                zone_parents[static_cast<std::size_t>(g)].insert(units[u].previous);
                zone_shares[static_cast<std::size_t>(g)][units[u].previous] += h;
                previous_children[units[u].previous].insert(g);
            }
    std::vector<int> component(zoned_count, -1);
    for (std::size_t start = 0; start < zoned_count; ++start) {
        if (component[start] >= 0) continue;
        std::set<int> olds, news;
        std::vector<int> stack = {static_cast<int>(start)};
        component[start] = static_cast<int>(components.size());
        while (!stack.empty()) {
            const int g = stack.back();
            stack.pop_back();
            news.insert(g);
            for (int m : zone_parents[static_cast<std::size_t>(g)]) {
                if (plan.kept[static_cast<std::size_t>(m)] || !olds.insert(m).second) continue;
                for (int child : previous_children[m])
                    if (component[static_cast<std::size_t>(child)] < 0) {
                        component[static_cast<std::size_t>(child)] = static_cast<int>(components.size());
                        stack.push_back(child);
                    }
            }
        }
        components.emplace_back(std::move(olds), std::move(news));
    }
}
void Rerun::choose_codes() {
    with_grids = std::any_of(old_grid.begin(), old_grid.end(), [](const auto& g) { return !g.empty(); }) ||
                 (previous_count == 0 && config.grid_households > 0);
    for (std::size_t m = 0; m < previous_count; ++m) {
        const std::string& code = old_code[m];
        if (with_grids) {
            next_grid[code] = std::max(next_grid[code], sequence_after(old_grid[m], code, 2));
            next_micro[old_grid[m]] = std::max(next_micro[old_grid[m]], sequence_after(old_id[m], old_grid[m], 2));
        } else {
            next_micro[code] = std::max(next_micro[code], sequence_after(old_id[m], code, 3));
        }
    }
    zoned_id.resize(zoned_count);
    zoned_status.resize(zoned_count);
    for (const auto& [olds, news] : components) {
        const std::string status = olds.empty()                           ? "new"
                                   : olds.size() == 1 && news.size() == 1 ? "redrawn"
                                   : olds.size() == 1                     ? "split"
                                   : news.size() == 1                     ? "merged"
                                                                          : "regrouped";
        for (int g : news) zoned_status[static_cast<std::size_t>(g)] = status;
        // Core retention: a new micro-grid that is mostly one previous micro-grid (more than half
        // its households came from it, in the same community) is that micro-grid redrawn and
        // keeps its code; the largest such pairs first, each code once.
        std::vector<std::tuple<std::int64_t, int, int>> pairs;  // (households shared, old, new)
        for (int g : news)
            for (const auto& [m, shared] : zone_shares[static_cast<std::size_t>(g)])
                if (olds.contains(m) && 2 * shared > zoned.micro_grids[static_cast<std::size_t>(g)].shape.households &&
                    zones.regions[static_cast<std::size_t>(zoned.micro_grids[static_cast<std::size_t>(g)].region)]
                            .code == old_code[static_cast<std::size_t>(m)])
                    pairs.emplace_back(shared, m, g);
        std::sort(pairs.begin(), pairs.end(), [](const auto& a, const auto& b) {
            return std::get<0>(a) > std::get<0>(b) ||
                   (std::get<0>(a) == std::get<0>(b) && std::get<2>(a) < std::get<2>(b));
        });
        std::set<int> used;
        for (const auto& [shared, m, g] : pairs) {
            if (used.contains(m) || !zoned_id[static_cast<std::size_t>(g)].empty()) continue;
            used.insert(m);
            zoned_id[static_cast<std::size_t>(g)] = old_id[static_cast<std::size_t>(m)];
            zoned_status[static_cast<std::size_t>(g)] = "redrawn";
        }
    }
}
void Rerun::collect_entries() {
    std::vector<std::int64_t> kept_households(previous_count, 0);
    for (std::size_t u = 0; u < units.size(); ++u)
        if (plan.building_kept[u] >= 0)
            kept_households[static_cast<std::size_t>(plan.building_kept[u])] += units[u].households;
    for (std::size_t m = 0; m < previous_count; ++m) {
        if (!plan.kept[m]) continue;
        Entry entry;
        entry.grid.id = old_id[m];
        entry.grid.region = plan_input.previous[m].region;
        const auto r = static_cast<std::size_t>(entry.grid.region);
        entry.grid.shape.polygon = plan.kept_polygon[m];
        entry.grid.shape.households = kept_households[m];
        entry.grid.shape.target = base.result.regions[r].target;
        const geos::Geom polygon = geos::from_wkb(context, plan.kept_polygon[m]);
        entry.grid.shape.label_point = geos::point_on_surface(context, polygon.get());
        const auto households = static_cast<double>(kept_households[m]);
        if (households < plan_input.lower[r] - 1e-9 || households > plan_input.upper[r] + 1e-9) {
            // Kept out of bounds: as before (the data forced it) or locked.
            const std::string flags = text_at(old_grids, m, old_flags_field);
            entry.grid.shape.flags = static_cast<std::uint8_t>(
                flags.find("forced_by_boundaries") != std::string::npos ? algorithms::Flag::forced_by_boundaries
                : flags.find("large_building") != std::string::npos     ? algorithms::Flag::large_building
                                                                        : algorithms::Flag::out_of_bounds);
        }
        if (geos::part_count(context, polygon.get()) > 1)
            entry.grid.shape.flags |= static_cast<std::uint8_t>(algorithms::Flag::multipart);
        entry.grid_id = old_grid[m];
        // Units mode: a kept micro-grid whose units changed (a group of units without households
        // joined it, a unit of it was removed) keeps its code with a new polygon: redrawn.
        // (In buildings mode a kept polygon changes only where a community boundary moved: unchanged.)
        entry.status = areas && plan.kept_polygon[m] != plan_input.previous[m].polygon ? "redrawn" : "unchanged";
        entry.previous = static_cast<int>(m);
        entries.push_back(std::move(entry));
    }
    for (std::size_t g = 0; g < zoned_count; ++g) {
        Entry entry;
        entry.grid = zoned.micro_grids[g];
        entry.grid.id = zoned_id[g];  // "" until numbered below, but for a redraw
        entry.grid.grid = -1;
        entry.grid.region = plan.zones[static_cast<std::size_t>(entry.grid.region)].region;
        if (!zoned_id[g].empty()) {  // a redraw keeps its code and its grid
            entry.grid_id = old_grid[static_cast<std::size_t>(previous_index.at(zoned_id[g]))];
        }
        entry.status = zoned_status[g];
        entry.zoned = static_cast<int>(g);
        entries.push_back(std::move(entry));
    }
}
void Rerun::regroup_grids() {
    if (with_grids) {
        algorithms::RegridInput regrid_input;
        regrid_input.grid_households = config.grid_households > 0 ? config.grid_households : 400.0;
        std::map<std::pair<int, std::string>, int> kept_grid;
        std::vector<std::pair<int, std::string>> kept_grid_key;
        std::map<std::string, std::int64_t> previous_grid_households, previous_grid_size, grid_size_now;
        for (std::size_t m = 0; m < previous_count; ++m) {
            previous_grid_households[old_grid[m]] += old_member_households[m];
            ++previous_grid_size[old_grid[m]];
        }
        std::set<std::string> redrawn_in;  // grids with a redrawn micro-grid: its shape moved
        for (const Entry& entry : entries) {
            if (entry.grid_id.empty()) continue;
            ++grid_size_now[entry.grid_id];
            if (entry.zoned >= 0) redrawn_in.insert(entry.grid_id);
        }
        for (const Entry& entry : entries) {
            regrid_input.micro_grids.push_back(entry.grid.shape.polygon);
            regrid_input.region.push_back(entry.grid.region);
            regrid_input.households.push_back(entry.grid.shape.households);
            int grid = -1;
            if (!entry.grid_id.empty()) {
                const auto key = std::make_pair(entry.grid.region, entry.grid_id);
                const auto [it, added] = kept_grid.try_emplace(key, static_cast<int>(kept_grid_key.size()));
                if (added) {
                    kept_grid_key.push_back(key);
                    // Room for what it held before, or the grid size, with the usual +20 %.
                    regrid_input.grid_capacity.push_back(static_cast<std::int64_t>(
                        1.2 * std::max(static_cast<double>(previous_grid_households[entry.grid_id]),
                                       regrid_input.grid_households)));
                    regrid_input.grid_lost_members.push_back(grid_size_now[entry.grid_id] <
                                                                 previous_grid_size[entry.grid_id] ||
                                                             redrawn_in.contains(entry.grid_id));
                }
                grid = it->second;
            }
            regrid_input.grid.push_back(grid);
        }
        const algorithms::RegridResult regridded = algorithms::regrid(regrid_input);
        std::vector<std::string> grid_ids;
        for (const auto& key : kept_grid_key) grid_ids.push_back(key.second);
        std::vector<int> grid_region(kept_grid_key.size());
        for (std::size_t k = 0; k < kept_grid_key.size(); ++k) grid_region[k] = kept_grid_key[k].first;
        grid_ids.resize(kept_grid_key.size() + regridded.piece_of.size());
        for (std::size_t e = 0; e < entries.size(); ++e) {
            const auto grid = static_cast<std::size_t>(regridded.grid[e]);
            if (grid < kept_grid_key.size() || !grid_ids[grid].empty()) continue;
            const std::string& code = city.regions[static_cast<std::size_t>(entries[e].grid.region)].code;
            grid_ids[grid] = code + padded(++next_grid[code], 2);
        }
        for (std::size_t e = 0; e < entries.size(); ++e) {
            Entry& entry = entries[e];
            entry.grid_id = grid_ids[static_cast<std::size_t>(regridded.grid[e])];
            if (entry.grid.id.empty()) entry.grid.id = entry.grid_id + padded(++next_micro[entry.grid_id], 2);
        }
    } else {
        for (Entry& entry : entries)
            if (entry.grid.id.empty()) {
                const std::string& code = city.regions[static_cast<std::size_t>(entry.grid.region)].code;
                entry.grid.id = code + padded(++next_micro[code], 3);
            }
    }
    for (const Entry& entry : entries)
        if (entry.zoned >= 0) zoned_id[static_cast<std::size_t>(entry.zoned)] = entry.grid.id;
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
        return a.grid.region < b.grid.region || (a.grid.region == b.grid.region && a.grid.id < b.grid.id);
    });
}
void Rerun::unite_grids() {
    PartitionResult& result = out.result;
    std::map<std::pair<int, std::string>, std::vector<std::size_t>> grid_members;
    for (std::size_t e = 0; e < entries.size(); ++e)
        if (!entries[e].grid_id.empty()) grid_members[{entries[e].grid.region, entries[e].grid_id}].push_back(e);
    std::map<std::pair<int, std::string>, int> grid_index;
    // A grid whose micro-grids are all as before keeps its previous polygon.
    std::map<std::string, std::pair<std::size_t, std::int64_t>> previous_grid;  // id -> (row, micro-grids)
    {
        std::map<std::string, std::int64_t> sizes;
        for (std::size_t m = 0; m < previous_count; ++m) ++sizes[old_grid[m]];
        const int grid_field = previous.grids.field_index(field_name::grid_id);
        for (std::size_t i = 0; grid_field >= 0 && i < previous.grids.size(); ++i) {
            const std::string id = text_at(previous.grids, i, grid_field);
            previous_grid[id] = {i, sizes[id]};
        }
    }
    for (const auto& [key, members] : grid_members) {
        Grid grid;
        grid.id = key.second;
        grid.region = key.first;
        for (std::size_t e : members) grid.shape.households += entries[e].grid.shape.households;
        const auto before = previous_grid.find(grid.id);
        const bool as_before = before != previous_grid.end() &&
                               before->second.second == static_cast<std::int64_t>(members.size()) &&
                               std::all_of(members.begin(), members.end(), [&](std::size_t e) {
                                   return entries[e].previous >= 0 &&
                                          entries[e].grid.shape.polygon ==
                                              old_grids.geometries[static_cast<std::size_t>(entries[e].previous)];
                               });
        geos::Geom united;
        if (as_before) {
            united = geos::from_wkb(context, previous.grids.geometries[before->second.first]);
        } else {
            std::vector<geos::Geom> parts;
            for (std::size_t e : members) parts.push_back(geos::from_wkb(context, entries[e].grid.shape.polygon));
            // Kept and redrawn micro-grids meet along edges computed twice (as a zone's border and
            // as a cell's): a hairline between them is closed.
            united = algorithms::union_closing_hairlines(context, std::move(parts));
        }
        grid.shape.polygon =
            as_before ? previous.grids.geometries[before->second.first] : geos::to_wkb(context, united.get());
        grid.shape.micro_grids = static_cast<int>(members.size());
        grid.shape.target =
            static_cast<double>(members.size()) * base.result.regions[static_cast<std::size_t>(key.first)].target;
        grid.shape.multipart = geos::part_count(context, united.get()) > 1;
        grid.shape.label_point = geos::point_on_surface(context, united.get());
        grid_index[key] = static_cast<int>(result.grids.size());
        result.grids.push_back(std::move(grid));
    }
    previous_to_result.assign(previous_count, -1);
    zoned_to_result.assign(zoned_count, -1);
    for (std::size_t e = 0; e < entries.size(); ++e) {
        Entry& entry = entries[e];
        entry.grid.grid = entry.grid_id.empty() ? -1 : grid_index.at({entry.grid.region, entry.grid_id});
        entry.grid.buildings = 0;
        if (entry.previous >= 0) previous_to_result[static_cast<std::size_t>(entry.previous)] = static_cast<int>(e);
        if (entry.zoned >= 0) zoned_to_result[static_cast<std::size_t>(entry.zoned)] = static_cast<int>(e);
        result.micro_grids.push_back(entry.grid);
    }
}
void Rerun::place_buildings() {
    PartitionResult& result = out.result;
    // Buildings: households per micro-grid now, from their units; the largest share is home.
    result.building_region = base.result.building_region;
    result.building_grid.assign(building_count, -1);
    result.building_split.assign(building_count, {});
    result.building_split_households.assign(building_count, {});
    std::vector<std::vector<std::pair<int, std::int64_t>>> building_parts(building_count);
    unit_result.resize(units.size());
    std::int64_t placed = 0;
    for (std::size_t u = 0; u < units.size(); ++u) {
        if (plan.building_kept[u] >= 0) {
            unit_result[u].emplace_back(previous_to_result[static_cast<std::size_t>(plan.building_kept[u])],
                                        units[u].households);
        } else {
            for (const auto& [g, h] : unit_zoned[u])
                unit_result[u].emplace_back(zoned_to_result[static_cast<std::size_t>(g)], h);
        }
        if (unit_result[u].empty() && result.building_region[units[u].building] >= 0) {
            // A unit its zone's partition left out (its point just outside the zone): the
            // nearest micro-grid of its region, which then holds its households too.
            const geos::Geom point = geos::point(context, units[u].point);
            int best = -1;
            double best_distance = 0;
            for (std::size_t g = 0; g < result.micro_grids.size(); ++g) {
                if (result.micro_grids[g].region != result.building_region[units[u].building]) continue;
                const geos::Geom polygon = geos::from_wkb(context, result.micro_grids[g].shape.polygon);
                const double distance = geos::distance(context, polygon.get(), point.get());
                if (best < 0 || distance < best_distance) best = static_cast<int>(g), best_distance = distance;
            }
            if (best >= 0) {
                unit_result[u].emplace_back(best, units[u].households);
                result.micro_grids[static_cast<std::size_t>(best)].shape.households += units[u].households;
                ++placed;
            }
        }
        for (const auto& [g, h] : unit_result[u]) {
            auto& parts = building_parts[units[u].building];
            const auto it = std::find_if(parts.begin(), parts.end(), [g = g](const auto& p) { return p.first == g; });
            if (it == parts.end())
                parts.emplace_back(g, h);
            else
                it->second += h;
        }
    }
    if (placed > 0)
        out.warnings.push_back(std::to_string(placed) +
                               " building parts just outside their zone joined the nearest micro-grid");
    for (std::size_t b = 0; b < building_count; ++b) place_building(result, b, std::move(building_parts[b]));
}
void Rerun::summarise_regions() {
    PartitionResult& result = out.result;
    // Region summaries.
    result.regions = base.result.regions;
    result.warnings = base.result.warnings;
    result.warnings.insert(result.warnings.end(), zoned.warnings.begin(), zoned.warnings.end());
    for (auto& region : result.regions) region.micro_grids = region.grids = region.requested = 0;
    for (const MicroGrid& grid : result.micro_grids)
        ++result.regions[static_cast<std::size_t>(grid.region)].micro_grids;
    for (const Grid& grid : result.grids) ++result.regions[static_cast<std::size_t>(grid.region)].grids;
    for (auto& region : result.regions) region.requested = region.micro_grids;
    result.requested = static_cast<std::int64_t>(result.micro_grids.size());
}
void Rerun::trace_lineage() {
    const PartitionResult& result = out.result;
    // Lineage and churn, by households of each unit: previous micro-grid -> micro-grid now.
    std::map<std::pair<std::string, std::string>, LineageRow> pairs;
    std::map<std::string, std::set<std::string>> successors;
    for (std::size_t u = 0; u < units.size(); ++u) {
        const std::string was = units[u].previous >= 0 ? old_id[static_cast<std::size_t>(units[u].previous)] : "";
        for (const auto& [g, h] : unit_result[u]) {
            const std::string& now = result.micro_grids[static_cast<std::size_t>(g)].id;
            LineageRow& row = pairs[{was, now}];
            row.previous_id = was;
            row.new_id = now;
            row.households += h;
            ++row.buildings;
            if (!was.empty()) successors[was].insert(now);
            if (!existed[units[u].building])
                out.households_new += h;
            else if (!was.empty()) {
                out.households_compared += h;
                if (was != now) out.households_moved += h;
            }
        }
    }
    for (std::size_t b = 0; b < building_count; ++b) {
        if (result.building_grid[b] < 0) continue;
        if (!existed[b]) {
            ++out.buildings_new;
            continue;
        }
        const OldBuilding& old = old_by_id.at(new_building_id[b]);
        ++out.buildings_compared;
        // Its home micro-grid before: the part holding most of it.
        const auto home = std::max_element(old.households.begin(), old.households.end()) - old.households.begin();
        if (old_id[static_cast<std::size_t>(old.micro_grids[static_cast<std::size_t>(home)])] !=
            result.micro_grids[static_cast<std::size_t>(result.building_grid[b])].id)
            ++out.buildings_moved;
    }
    for (const auto& [id, building] : old_by_id) {
        if (building.seen) continue;
        ++out.buildings_removed;
        out.households_removed += building.total;
        for (std::size_t k = 0; k < building.micro_grids.size(); ++k) {
            const std::string& was = old_id[static_cast<std::size_t>(building.micro_grids[k])];
            LineageRow& row = pairs[{was, ""}];
            row.previous_id = was;
            row.households += building.households[k];
            ++row.buildings;
        }
    }
    for (auto& [key, row] : pairs) out.lineage.push_back(std::move(row));
    for (std::size_t e = 0; e < entries.size(); ++e) {
        const MicroGrid& grid = result.micro_grids[e];
        MicroGridChange change;
        change.id = grid.id;
        change.status = entries[e].status;
        std::set<std::string> parents;
        if (entries[e].previous >= 0) parents.insert(grid.id);
        if (entries[e].zoned >= 0)
            for (int m : zone_parents[static_cast<std::size_t>(entries[e].zoned)])
                parents.insert(old_id[static_cast<std::size_t>(m)]);
        change.previous_ids = join(parents);
        change.households = grid.shape.households;
        change.buildings = grid.buildings;
        change.polygon = grid.shape.polygon;
        if (change.status == "unchanged")
            ++out.micro_grids_kept;
        else if (change.status == "redrawn")
            ++out.micro_grids_redrawn;
        else
            ++out.micro_grids_new;
        out.changes.push_back(std::move(change));
    }
    std::set<std::string> retired(old_id.begin(), old_id.end());
    for (const MicroGrid& grid : result.micro_grids) retired.erase(grid.id);
    for (std::size_t m = 0; m < previous_count; ++m) {
        if (!retired.contains(old_id[m])) continue;
        MicroGridChange change;
        change.id = old_id[m];
        change.status = "retired";
        change.next_ids = join(successors[old_id[m]]);
        change.households = old_member_households[m];
        change.buildings = old_member_count[m];
        change.polygon = old_grids.geometries[m];
        ++out.micro_grids_retired;
        out.changes.push_back(std::move(change));
    }
}

}  // namespace

Repartition repartition_city(const City& city, const PreviousRun& previous, const PartitionConfig& config,
                             const RepartitionOptions& options) {
    Rerun rerun(city, previous, config, options);
    rerun.read_previous_micro_grids();
    rerun.read_previous_buildings();
    rerun.make_units();
    rerun.plan_zones();
    rerun.partition_zones();
    rerun.join_components();
    rerun.choose_codes();
    rerun.collect_entries();
    rerun.regroup_grids();
    rerun.unite_grids();
    rerun.place_buildings();
    rerun.summarise_regions();
    rerun.trace_lineage();
    return std::move(rerun.out);
}

ExtraOutput repartition_output(const Repartition& changes, const std::string& previous_path,
                               const RepartitionOptions& options, const Staffing& staffing) {
    ExtraOutput extra;
    io::LayerData layer = schema::empty_layer(layer_name::changes);
    for (const MicroGridChange& change : changes.changes) {
        layer.geometries.push_back(change.polygon);
        layer.rows.push_back({change.id, change.status,
                              change.previous_ids.empty() ? FieldValue{} : FieldValue{change.previous_ids},
                              change.next_ids.empty() ? FieldValue{} : FieldValue{change.next_ids}, change.households,
                              change.buildings});
    }
    extra.layers.push_back(std::move(layer));
    io::LayerData lineage = schema::empty_layer(layer_name::lineage);
    for (const LineageRow& row : changes.lineage)
        lineage.rows.push_back({row.previous_id.empty() ? FieldValue{} : FieldValue{row.previous_id},
                                row.new_id.empty() ? FieldValue{} : FieldValue{row.new_id}, row.households,
                                row.buildings});
    extra.layers.push_back(std::move(lineage));
    auto put = [&](const std::string& key, const std::string& value) {
        extra.info.push_back({"repartition", key, value});
    };
    auto share = [](double value) {
        char buffer[32];
        std::snprintf(buffer, sizeof buffer, "%.6f", value);
        return std::string(buffer);
    };
    put("previous", previous_path);
    put("micro_grids_unchanged", std::to_string(changes.micro_grids_kept));
    put("micro_grids_redrawn", std::to_string(changes.micro_grids_redrawn));
    put("micro_grids_new", std::to_string(changes.micro_grids_new));
    put("micro_grids_retired", std::to_string(changes.micro_grids_retired));
    put("zones", std::to_string(changes.zones));
    put("buildings_moved", std::to_string(changes.buildings_moved));
    put("buildings_new", std::to_string(changes.buildings_new));
    put("buildings_removed", std::to_string(changes.buildings_removed));
    put("households_moved", std::to_string(changes.households_moved));
    put("households_new", std::to_string(changes.households_new));
    put("households_removed", std::to_string(changes.households_removed));
    put("building_churn", share(changes.building_churn()));
    put("household_churn", share(changes.household_churn()));
    put("micro_grid_churn", share(changes.micro_grid_churn()));
    put("kept_worker_assignments",
        std::to_string(staffing.workers.fixed_assignments + staffing.mobile.fixed_assignments));
    std::int64_t kept_stations = 0;
    for (const auto& u : staffing.utilities) kept_stations += u.kept;
    put("kept_station_assignments", std::to_string(kept_stations));
    for (const std::string& id : options.locked) put("locked", id);
    return extra;
}

RepartitionRun compute_repartition(PartitionConfig config, const std::string& previous_path,
                                   const RepartitionOptions& options, RunControl* control) {
    RepartitionRun run;
    StageTimer timer(control, kStage);
    timer.begin("load");
    // Kept polygons come back exactly when the rerun works in the previous run's CRS.
    if (config.working_crs.empty()) config.working_crs = previous_crs(previous_path);
    run.config = std::move(config);
    run.city = load_city(run.config);
    enforce_strict(run.city.import_report, run.config);
    const PreviousRun previous = read_previous(previous_path, run.city.crs);
    timer.lap("load");
    timer.begin("repartition");
    run.changes = repartition_city(run.city, previous, run.config, options);
    timer.lap("repartition");
    timer.begin("staffing");
    const StaffingKeep keep = staffing_to_keep(previous);
    run.staffing = assign_staff(run.city, run.changes.result, run.config, &keep);
    timer.lap("staffing");
    timer.begin("assess");
    run.report = assess(run.city, run.changes.result, run.config);
    timer.lap("assess");
    run.timings = timer.wall();
    run.extra = repartition_output(run.changes, previous_path, options, run.staffing);
    run.warnings = run.city.warnings;
    const PartitionResult& result = run.changes.result;
    run.warnings.insert(run.warnings.end(), result.warnings.begin(), result.warnings.end());
    run.warnings.insert(run.warnings.end(), run.changes.warnings.begin(), run.changes.warnings.end());
    return run;
}

RepartitionSummary run_repartition(PartitionConfig config, const std::string& previous_path,
                                   const RepartitionOptions& options, const std::string& output, RunControl* control,
                                   std::vector<OutputPart>* parts) {
    std::vector<io::NamedSource> inputs = input_sources(config);
    inputs.push_back({"previous", previous_path});
    validate_config(config);
    io::check_output_path(output, inputs);
    std::optional<io::OutputReservation> reservation;  // the parts' files are reserved when written
    if (parts == nullptr) reservation.emplace(output);
    RepartitionRun run = compute_repartition(std::move(config), previous_path, options, control);
    RepartitionSummary summary;
    summary.run.timings = run.timings;
    const auto start = std::chrono::steady_clock::now();
    if (parts != nullptr) {
        *parts = write_result_per_district(output, run.city, run.changes.result, run.report, run.config, run.timings,
                                           &run.staffing, &run.extra, control, {{"previous", previous_path}});
    } else {
        write_result(*reservation, run.city, run.changes.result, run.report, run.config, run.timings, &run.staffing,
                     &run.extra, control);
        reservation->commit();
    }
    summary.run.timings.emplace_back("write",
                                     std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    summary.run.report = std::move(run.report);
    summary.run.staffing = std::move(run.staffing);
    summary.run.crs = run.city.crs;
    summary.run.warnings = std::move(run.warnings);
    if (reservation) {
        const auto removed = reservation->warnings();
        summary.run.warnings.insert(summary.run.warnings.end(), removed.begin(), removed.end());
    }
    summary.changes = std::move(run.changes);
    return summary;
}

}  // namespace civgrid::engine
