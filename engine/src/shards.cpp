// Distributed runs: one shard's load and partition, and the merge of shards into the city's result
// (engine/shards.hpp). plan_shards lives with the loading, in load.cpp.
#include "stage_timer.hpp"

#include <civgrid/engine/shards.hpp>
#include <civgrid/error.hpp>

#include <algorithm>
#include <numeric>
#include <unordered_set>

namespace civgrid::engine {

namespace {

constexpr const char* kStage = "engine.shards";

// Region and building orders of the merged city, by feature id as the city's own reads give them.
template <typename Key>
std::vector<std::size_t> order_by(std::size_t count, Key key) {
    std::vector<std::size_t> order(count);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return key(a) < key(b); });
    return order;
}

template <typename T>
void append(std::vector<T>& to, std::vector<T>&& from) {
    to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
}

template <typename T>
std::vector<T> permuted(std::vector<T>&& values, const std::vector<std::size_t>& order) {
    if (values.size() != order.size()) return std::move(values);
    std::vector<T> out;
    out.reserve(values.size());
    for (const std::size_t i : order) out.push_back(std::move(values[i]));
    return out;
}

// A line read by two shards (it runs through both boxes) comes once.
void append_once(std::vector<Wkb>& to, std::vector<Wkb>&& from, std::unordered_set<std::string>& seen) {
    for (Wkb& line : from)
        if (seen.insert(std::string(line.begin(), line.end())).second) to.push_back(std::move(line));
}

// One report per layer role: features added up, findings of the same kind joined.
void merge_report(ImportReport& into, ImportReport&& from) {
    for (LayerReport& layer : from.layers) {
        LayerReport* same = into.layer(layer.role);
        if (same == nullptr) {
            into.layers.push_back(std::move(layer));
            continue;
        }
        same->features += layer.features;
        for (Finding& finding : layer.findings) {
            auto match = std::find_if(same->findings.begin(), same->findings.end(), [&](const Finding& f) {
                return f.action == finding.action && f.reason == finding.reason;
            });
            if (match == same->findings.end())
                same->findings.push_back(std::move(finding));
            else
                append(match->ids, std::move(finding.ids));
        }
    }
}

}  // namespace

PartitionConfig shard_config(const PartitionConfig& config, const ShardPlan& plan, const Shard& shard) {
    PartitionConfig out = config;
    out.working_crs = plan.working_crs;
    out.region_level = plan.region_level == "city" ? config.region_level : plan.region_level;
    out.shard = shard.selection;
    out.staffing = false;  // on the merged city: workers and stations serve across shard borders
    return out;
}

PartitionRun compute_shard(const PartitionConfig& shard_config, RunControl* control) {
    PartitionRun run;
    run.config = shard_config;
    StageTimer timer(control, kStage);
    timer.begin("load");
    run.city = load_city(run.config);
    timer.lap("load");
    run.result = partition_city(run.city, run.config, control);
    timer.lap("partition");
    run.timings = timer.wall();
    run.cpu_timings = timer.cpu();
    return run;
}

PartitionRun merge_shards(const PartitionConfig& config, std::vector<PartitionRun> shards, RunControl* control) {
    if (shards.empty()) throw InternalError(kStage, "no shard to merge");
    StageTimer timer(control, kStage);
    timer.begin("merge");
    PartitionRun run;
    run.config = config;
    run.config.working_crs = shards.front().city.crs;
    run.config.shard = {};
    City& city = run.city;
    PartitionResult& result = run.result;
    city.crs = shards.front().city.crs;
    city.region_level = shards.front().city.region_level;
    city.buildings.source = shards.front().city.buildings.source;
    city.buildings.layer = shards.front().city.buildings.layer;
    city.buildings.crs = shards.front().city.buildings.crs;
    city.buildings.fields = shards.front().city.buildings.fields;
    city.inputs = shards.front().city.inputs;

    // Concatenate, shifting each shard's indices; the orders are fixed below.
    std::unordered_set<std::string> hard_seen, area_seen, soft_seen, road_seen;
    for (PartitionRun& shard : shards) {
        City& part = shard.city;
        PartitionResult& partial = shard.result;
        if (part.crs != city.crs || part.buildings.fields.size() != city.buildings.fields.size())
            throw InputError(kStage,
                             "shards of different runs cannot be merged (working CRS or buildings' fields differ)");
        const int region_base = static_cast<int>(city.regions.size());
        const int micro_grid_base = static_cast<int>(result.micro_grids.size());
        const int grid_base = static_cast<int>(result.grids.size());
        for (MicroGrid& grid : partial.micro_grids) {
            grid.region += region_base;
            if (grid.grid >= 0) grid.grid += grid_base;
        }
        for (Grid& grid : partial.grids) grid.region += region_base;
        for (int& g : partial.building_grid)
            if (g >= 0) g += micro_grid_base;
        for (int& r : partial.building_region)
            if (r >= 0) r += region_base;
        append(city.regions, std::move(part.regions));
        append(city.buildings.fids, std::move(part.buildings.fids));
        append(city.buildings.geometries, std::move(part.buildings.geometries));
        append(city.buildings.rows, std::move(part.buildings.rows));
        append(city.building_households, std::move(part.building_households));
        append(city.building_units, std::move(part.building_units));
        append(city.building_points, std::move(part.building_points));
        append(city.building_residents, std::move(part.building_residents));
        append(city.building_notes, std::move(part.building_notes));
        append_once(city.hard_lines, std::move(part.hard_lines), hard_seen);
        append_once(city.hard_areas, std::move(part.hard_areas), area_seen);
        append_once(city.soft_lines, std::move(part.soft_lines), soft_seen);
        append_once(city.road_lines, std::move(part.road_lines), road_seen);
        merge_report(city.import_report, std::move(part.import_report));
        append(result.micro_grids, std::move(partial.micro_grids));
        append(result.grids, std::move(partial.grids));
        append(result.building_grid, std::move(partial.building_grid));
        append(result.building_split, std::move(partial.building_split));
        append(result.building_split_households, std::move(partial.building_split_households));
        append(result.building_region, std::move(partial.building_region));
        append(result.regions, std::move(partial.regions));
        result.requested += partial.requested;
        append(result.warnings, std::move(partial.warnings));
        shard = {};  // its memory goes now
    }

    // Regions in feature-id order, micro-grids and grids by region (each region's own order kept).
    const std::vector<std::size_t> region_order =
        order_by(city.regions.size(), [&](std::size_t r) { return city.regions[r].feature_id; });
    std::vector<int> region_index(region_order.size());
    for (std::size_t k = 0; k < region_order.size(); ++k) region_index[region_order[k]] = static_cast<int>(k);
    city.regions = permuted(std::move(city.regions), region_order);
    result.regions = permuted(std::move(result.regions), region_order);
    for (MicroGrid& grid : result.micro_grids) grid.region = region_index[static_cast<std::size_t>(grid.region)];
    for (Grid& grid : result.grids) grid.region = region_index[static_cast<std::size_t>(grid.region)];
    for (int& r : result.building_region)
        if (r >= 0) r = region_index[static_cast<std::size_t>(r)];
    const std::vector<std::size_t> grid_order =
        order_by(result.grids.size(), [&](std::size_t g) { return result.grids[g].region; });
    std::vector<int> grid_index(grid_order.size());
    for (std::size_t k = 0; k < grid_order.size(); ++k) grid_index[grid_order[k]] = static_cast<int>(k);
    result.grids = permuted(std::move(result.grids), grid_order);
    const std::vector<std::size_t> micro_grid_order =
        order_by(result.micro_grids.size(), [&](std::size_t m) { return result.micro_grids[m].region; });
    std::vector<int> micro_grid_index(micro_grid_order.size());
    for (std::size_t k = 0; k < micro_grid_order.size(); ++k)
        micro_grid_index[micro_grid_order[k]] = static_cast<int>(k);
    result.micro_grids = permuted(std::move(result.micro_grids), micro_grid_order);
    for (MicroGrid& grid : result.micro_grids)
        if (grid.grid >= 0) grid.grid = grid_index[static_cast<std::size_t>(grid.grid)];
    for (int& g : result.building_grid)
        if (g >= 0) g = micro_grid_index[static_cast<std::size_t>(g)];

    // Buildings in feature-id order, as one read of the layer gives them.
    const std::vector<std::size_t> building_order =
        order_by(city.buildings.fids.size(), [&](std::size_t b) { return city.buildings.fids[b]; });
    city.buildings.fids = permuted(std::move(city.buildings.fids), building_order);
    city.buildings.geometries = permuted(std::move(city.buildings.geometries), building_order);
    city.buildings.rows = permuted(std::move(city.buildings.rows), building_order);
    city.building_households = permuted(std::move(city.building_households), building_order);
    city.building_units = permuted(std::move(city.building_units), building_order);
    city.building_points = permuted(std::move(city.building_points), building_order);
    city.building_residents = permuted(std::move(city.building_residents), building_order);
    city.building_notes = permuted(std::move(city.building_notes), building_order);
    result.building_grid = permuted(std::move(result.building_grid), building_order);
    result.building_split = permuted(std::move(result.building_split), building_order);
    result.building_split_households = permuted(std::move(result.building_split_households), building_order);
    result.building_region = permuted(std::move(result.building_region), building_order);
    city.building_region = result.building_region;
    city.warnings = city.import_report.warning_lines();
    timer.lap("merge");

    // Workers and stations serve across shard borders: read and assigned on the whole city.
    if (run.config.staffing) {
        timer.begin("staffing");
        load_staff_layers(city, run.config);
        city.warnings = city.import_report.warning_lines();
        run.staffing = assign_staff(city, result, run.config);
        timer.lap("staffing");
    }
    timer.begin("assess");
    const auto begin = std::chrono::steady_clock::now();
    run.report = assess(city, result, run.config);
    run.assess_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    timer.lap("assess");
    run.timings = timer.wall();
    run.cpu_timings = timer.cpu();
    run.warnings = city.warnings;
    run.warnings.insert(run.warnings.end(), result.warnings.begin(), result.warnings.end());
    return run;
}

}  // namespace civgrid::engine
