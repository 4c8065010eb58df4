// Distributed runs: one shard's load and partition, and the merge of shards into the city's result
// (engine/shards.hpp). plan_shards lives with the loading, in load.cpp.
#include "read_back.hpp"
#include "split_files.hpp"
#include "stage_timer.hpp"
#include "values.hpp"

#include <civgrid/engine/output_schema.hpp>
#include <civgrid/engine/shards.hpp>
#include <civgrid/error.hpp>

#include <algorithm>
#include <iterator>
#include <map>
#include <numeric>
#include <set>
#include <tuple>

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

// Barriers from all shards, each once (a line read by two shards runs through both boxes), in the
// order one read of the layers gives them: by their keys (layer, pass, feature id).
struct Barriers {
    std::map<std::int64_t, Wkb> by_key;
    void add(std::vector<Wkb>&& lines, std::vector<std::int64_t>&& keys) {
        if (lines.size() != keys.size())
            throw InputError(kStage, "a shard's barriers and their keys differ in number (corrupt shard)");
        for (std::size_t i = 0; i < lines.size(); ++i) by_key.try_emplace(keys[i], std::move(lines[i]));
    }
    void into(std::vector<Wkb>& lines, std::vector<std::int64_t>& keys) {
        lines.clear(), keys.clear();
        for (auto& [key, line] : by_key) {
            keys.push_back(key);
            lines.push_back(std::move(line));
        }
        by_key.clear();
    }
};

// One report per layer role: features added up, findings of the same kind joined. A feature two
// shards read (their boxes overlap; in units mode each also reads the units within reach of its
// own) is found alike by both, so an entry already there is not added again.
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
            if (match == same->findings.end()) {
                match = same->findings.insert(
                    same->findings.end(),
                    Finding{finding.action, finding.reason, finding.severity, finding.policy, {}});
            }
            std::set<std::string> seen(match->ids.begin(), match->ids.end());
            for (std::string& id : finding.ids)
                if (seen.insert(id).second) match->ids.push_back(std::move(id));
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

namespace {

// The city and partition of `run` from its shards (emptied): regions and buildings in feature-id
// order, micro-grids and grids by region. Returns the merged micro-grids' order: position k holds
// the micro-grid at index order[k] of the shards' concatenation.
std::vector<std::size_t> merge_into(PartitionRun& run, const PartitionConfig& config,
                                    std::vector<PartitionRun>& shards) {
    if (shards.empty()) throw InternalError(kStage, "no shard to merge");
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
    Barriers hard_lines, hard_areas, soft_lines, road_lines;
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
        hard_lines.add(std::move(part.hard_lines), std::move(part.hard_line_keys));
        hard_areas.add(std::move(part.hard_areas), std::move(part.hard_area_keys));
        soft_lines.add(std::move(part.soft_lines), std::move(part.soft_line_keys));
        road_lines.add(std::move(part.road_lines), std::move(part.road_line_keys));
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

    hard_lines.into(city.hard_lines, city.hard_line_keys);
    hard_areas.into(city.hard_areas, city.hard_area_keys);
    soft_lines.into(city.soft_lines, city.soft_line_keys);
    road_lines.into(city.road_lines, city.road_line_keys);

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
    return micro_grid_order;
}

// merge_shards after the merge: workers and stations serve across shard borders, so they are read
// and assigned on the whole city; then --strict, on the merged import report (the single machine's
// message whichever shard warned), and the quality report.
void staff_and_assess(PartitionRun& run, StageTimer& timer) {
    City& city = run.city;
    PartitionResult& result = run.result;
    if (run.config.staffing) {
        timer.begin("staffing");
        load_staff_layers(city, run.config);
        city.warnings = city.import_report.warning_lines();
        enforce_strict(city.import_report, run.config);
        run.staffing = assign_staff(city, result, run.config);
        timer.lap("staffing");
    } else {
        enforce_strict(city.import_report, run.config);
    }
    timer.begin("assess");
    const auto begin = std::chrono::steady_clock::now();
    run.report = assess(city, result, run.config);
    run.assess_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    timer.lap("assess");
    run.warnings = city.warnings;
    run.warnings.insert(run.warnings.end(), result.warnings.begin(), result.warnings.end());
}

}  // namespace

PartitionRun merge_shards(const PartitionConfig& config, std::vector<PartitionRun> shards, RunControl* control) {
    StageTimer timer(control, kStage);
    timer.begin("merge");
    PartitionRun run;
    static_cast<void>(merge_into(run, config, shards));
    timer.lap("merge");
    staff_and_assess(run, timer);
    run.timings = timer.wall();
    run.cpu_timings = timer.cpu();
    return run;
}

struct ShardMerge::Files {
    split::SplitFiles files;
    Files(std::string index, std::vector<io::NamedSource> inputs, std::string crs)
        : files(std::move(index), std::move(inputs), std::move(crs)) {}
};

ShardMerge::ShardMerge(const PartitionConfig& config, std::string level, std::string split_index,
                       std::vector<io::NamedSource> more_inputs)
    : config_(config),
      level_(std::move(level)),
      split_index_(std::move(split_index)),
      more_inputs_(std::move(more_inputs)) {
    streamed_ = !split_index_.empty() && level_ == "district";
    if (!split_index_.empty()) {  // refused before any shard, as write_result_per_district refuses it
        std::vector<io::NamedSource> inputs = input_sources(config_);
        inputs.insert(inputs.end(), more_inputs_.begin(), more_inputs_.end());
        io::check_output_path(split_index_, inputs);
    }
}

ShardMerge::~ShardMerge() = default;

std::vector<std::string> ShardMerge::add(PartitionRun shard, std::size_t position, RunControl* control) {
    positions_.push_back(position);
    if (!streamed_) {
        shards_.push_back(std::move(shard));
        return {};
    }
    // The district alone, ordered as the merged city orders it: its rows of the split output.
    PartitionRun district;
    {
        std::vector<PartitionRun> one;
        one.push_back(std::move(shard));
        static_cast<void>(merge_into(district, config_, one));
    }
    const split::DistrictOfRow district_of(district.city, district.result);
    std::vector<std::string> codes = district_of.districts();
    if (codes.size() > 1)
        throw InternalError(kStage, "a district shard holds " + std::to_string(codes.size()) + " districts");
    if (!files_) {
        std::vector<io::NamedSource> inputs = input_sources(config_);
        inputs.insert(inputs.end(), more_inputs_.begin(), more_inputs_.end());
        files_ = std::make_unique<Files>(split_index_, std::move(inputs), district.city.crs);
    }
    for (const std::string& code : codes) {
        if (files_->files.is_open(code))
            throw InputError(kStage, "district " + code + " came in two shards (shards of different plans)");
        files_->files.open(code);
        const LayerSink sink{[&](const io::LayerData& layer) {
            // Barriers cross districts: the whole city's go to the index when all have come.
            if (layer.name != schema::layer_name::barriers)
                files_->files.add_district_layer(code, layer, district_of, control);
        }};
        partition_layers(district.city, district.result, config_, sink);
        ++written_;
    }
    // Written: keep what staffing, the quality report and the remaining layers need.
    district.city.buildings.geometries = {};
    district.city.buildings.rows = {};
    district.city.building_notes = {};
    district.result.building_split = {};
    district.result.building_split_households = {};
    shards_.push_back(std::move(district));
    return codes;
}

ShardMerge::Held ShardMerge::held() const {
    Held held;
    held.whole_shards = streamed_ ? 0 : shards_.size();
    held.districts_written = written_;
    for (const PartitionRun& shard : shards_) held.building_rows += shard.city.buildings.rows.size();
    return held;
}

PartitionRun ShardMerge::finish(RunControl* control) {
    {  // In plan order, whatever the order they came in.
        std::vector<std::size_t> order = order_by(shards_.size(), [&](std::size_t s) { return positions_[s]; });
        shards_ = permuted(std::move(shards_), order);
        positions_.clear();
    }
    if (!streamed_) {
        PartitionRun run = merge_shards(config_, std::move(shards_), control);
        shards_.clear();
        if (!split_index_.empty())
            parts_ = write_result_per_district(split_index_, run.city, run.result, run.report, run.config, run.timings,
                                               &run.staffing, nullptr, control, more_inputs_);
        return run;
    }
    StageTimer timer(control, kStage);
    timer.begin("merge");
    PartitionRun run;
    static_cast<void>(merge_into(run, config_, shards_));
    shards_.clear();
    run.city.buildings.fids = {};  // their rows are in the districts' files
    timer.lap("merge");
    staff_and_assess(run, timer);
    run.timings = timer.wall();
    run.cpu_timings = timer.cpu();

    // Each district's remaining layers, the index, and every file into place.
    split::SplitFiles& files = files_->files;
    const split::DistrictOfRow district_of(run.city, run.result);
    for (const std::string& code : district_of.districts())
        if (!files.is_open(code)) throw InternalError(kStage, "district " + code + " came in no shard");
    if (control != nullptr) control->begin("write");
    const LayerSink sink{[&](const io::LayerData& layer) {
        files.add_layer(layer, district_of, control);
        if (control != nullptr) control->step();
    }};
    sink.add_layer(barriers_layer(run.city));
    const RegionStandards standards = standards_of(run.city, run.result, &run.staffing, run.config);
    staffed_layers(run.city, run.result, run.config, &run.staffing, standards, sink);
    closing_layers(run.city, run.result, run.report, run.config, run.timings, &run.staffing, standards, sink);
    parts_ = files.commit(control);
    files_.reset();
    return run;
}

namespace {

// The rows of `table` that `keep` accepts, in their order.
template <typename Keep>
void keep_rows(io::FeatureTable& table, Keep keep) {
    io::FeatureTable out;
    out.source = table.source;
    out.layer = table.layer;
    out.crs = table.crs;
    out.fields = table.fields;
    out.report = table.report;
    for (std::size_t i = 0; i < table.size(); ++i) {
        if (!keep(i)) continue;
        out.fids.push_back(table.fids[i]);
        out.geometries.push_back(std::move(table.geometries[i]));
        out.rows.push_back(std::move(table.rows[i]));
    }
    table = std::move(out);
}

std::string text_at(const io::FeatureTable& table, std::size_t row, int field) {
    return field < 0 ? std::string() : as_text(table.rows[row][static_cast<std::size_t>(field)]);
}

}  // namespace

PreviousRun previous_of_shard(PreviousRun previous, const ShardSelection& selection) {
    if (!selection.given()) return previous;
    const auto in_shard = [&](io::FeatureTable& table, bool required) {
        if (table.size() == 0 && !required) return;
        const int field =
            required ? read_back::required_field(table, selection.field, kStage) : table.field_index(selection.field);
        if (field < 0)
            throw InputError(kStage, previous.path + ", layer '" + table.layer + "': no field '" + selection.field +
                                         "' to select the shard " + selection.value);
        keep_rows(table, [&](std::size_t i) { return text_at(table, i, field) == selection.value; });
    };
    in_shard(previous.micro_grids, true);
    in_shard(previous.grids, false);
    in_shard(previous.regions, false);
    const int id = read_back::required_field(previous.micro_grids, schema::field_name::micro_grid_id, kStage);
    std::set<std::string> ids;
    for (std::size_t m = 0; m < previous.micro_grids.size(); ++m) ids.insert(text_at(previous.micro_grids, m, id));
    // A building belongs to the shard of its micro-grids (a split one: of any of them).
    io::FeatureTable& buildings = previous.buildings;
    const int home = read_back::required_field(buildings, schema::field_name::micro_grid_id, kStage);
    const int split = buildings.field_index(schema::field_name::split_micro_grids);
    keep_rows(buildings, [&](std::size_t i) {
        if (ids.contains(text_at(buildings, i, home))) return true;
        const std::string parts = text_at(buildings, i, split);
        for (std::size_t start = 0; start < parts.size();) {
            const std::size_t end = std::min(parts.find(';', start), parts.size());
            if (ids.contains(parts.substr(start, end - start))) return true;
            start = end + 1;
        }
        return false;
    });
    previous.worker_assignments = {};  // assignments are kept on the merged city
    previous.service_assignments = {};
    return previous;
}

RepartitionShard compute_repartition_shard(const PartitionConfig& shard_config, const std::string& previous_path,
                                           const RepartitionOptions& options, RunControl* control) {
    RepartitionShard shard;
    PartitionRun& run = shard.run;
    run.config = shard_config;
    if (run.config.working_crs.empty()) run.config.working_crs = previous_crs(previous_path);
    StageTimer timer(control, kStage);
    timer.begin("load");
    run.city = load_city(run.config);
    const PreviousRun previous = previous_of_shard(read_previous(previous_path, run.city.crs), run.config.shard);
    timer.lap("load");
    // Locks of other shards are theirs; merge_repartition_shards checks every id against the whole run.
    RepartitionOptions own = options;
    const int id = read_back::required_field(previous.micro_grids, schema::field_name::micro_grid_id, kStage);
    const int grid = previous.micro_grids.field_index(schema::field_name::grid_id);
    std::set<std::string> known;
    std::map<std::string, std::int64_t> fid_of;
    for (std::size_t m = 0; m < previous.micro_grids.size(); ++m) {
        known.insert(text_at(previous.micro_grids, m, id));
        known.insert(text_at(previous.micro_grids, m, grid));
        fid_of.emplace(text_at(previous.micro_grids, m, id), previous.micro_grids.fids[m]);
    }
    std::erase_if(own.locked, [&](const std::string& locked) { return !known.contains(locked); });
    timer.begin("repartition");
    shard.changes = repartition_city(run.city, previous, run.config, own);
    timer.lap("repartition");
    run.result = std::move(shard.changes.result);
    shard.changes.result = {};
    for (std::size_t c = run.result.micro_grids.size(); c < shard.changes.changes.size(); ++c)
        shard.retired_fids.push_back(fid_of.at(shard.changes.changes[c].id));
    shard.name = run.config.shard.field + " = " + run.config.shard.value;
    shard.previous_micro_grids = static_cast<std::int64_t>(previous.micro_grids.size());
    {  // Buildings new here and gone from here, by id: the merge finds those that changed shard.
        const int now_id = run.city.buildings.field_index(run.config.building_id_field);
        const int was_id = previous.buildings.field_index(run.config.building_id_field);
        std::set<std::string> now, was;
        for (std::size_t b = 0; b < run.city.buildings.size(); ++b) now.insert(text_at(run.city.buildings, b, now_id));
        for (std::size_t b = 0; b < previous.buildings.size(); ++b) was.insert(text_at(previous.buildings, b, was_id));
        now.erase(std::string());  // no id: not matched by a rerun either
        was.erase(std::string());
        std::set_difference(now.begin(), now.end(), was.begin(), was.end(), std::back_inserter(shard.new_buildings));
        std::set_difference(was.begin(), was.end(), now.begin(), now.end(),
                            std::back_inserter(shard.removed_buildings));
    }
    run.timings = timer.wall();
    run.cpu_timings = timer.cpu();
    return shard;
}

RepartitionRun merge_repartition_shards(const PartitionConfig& config, const std::string& previous_path,
                                        const RepartitionOptions& options, std::vector<RepartitionShard> shards,
                                        RunControl* control) {
    StageTimer timer(control, kStage);
    timer.begin("merge");
    RepartitionRun run;
    run.config = config;
    if (run.config.working_crs.empty()) run.config.working_crs = previous_crs(previous_path);
    const PreviousRun previous = read_previous(previous_path, run.config.working_crs);
    {  // The whole run's locks, with compute_repartition's message.
        const int id = read_back::required_field(previous.micro_grids, schema::field_name::micro_grid_id, kStage);
        const int grid = previous.micro_grids.field_index(schema::field_name::grid_id);
        std::set<std::string> known;
        for (std::size_t m = 0; m < previous.micro_grids.size(); ++m) {
            known.insert(text_at(previous.micro_grids, m, id));
            known.insert(text_at(previous.micro_grids, m, grid));
        }
        std::string unknown;
        for (const std::string& locked : std::set<std::string>(options.locked.begin(), options.locked.end()))
            if (!known.contains(locked)) unknown += (unknown.empty() ? "" : ", ") + locked;
        if (!unknown.empty())
            throw ConfigError("engine.repartition",
                              "--lock: the previous run (" + previous.path + ") has no micro-grid or grid " + unknown);
    }
    {  // A building gone from one shard and new in another moved between them: one rerun counts it
        // as moved and decides its micro-grids with it, shards cannot.
        std::map<std::string, const std::string*> gone;
        for (const RepartitionShard& shard : shards)
            for (const std::string& id : shard.removed_buildings) gone.emplace(id, &shard.name);
        for (const RepartitionShard& shard : shards)
            for (const std::string& id : shard.new_buildings)
                if (const auto found = gone.find(id); found != gone.end())
                    throw ConfigError(kStage, "building '" + id + "' (field '" + run.config.building_id_field +
                                                  "') moved from the shard " + *found->second + " to the shard " +
                                                  shard.name +
                                                  " since the previous run: rerun with a coarser shard level, "
                                                  "or on one machine");
    }
    std::int64_t seen = 0;
    for (const RepartitionShard& shard : shards) seen += shard.previous_micro_grids;
    if (seen != static_cast<std::int64_t>(previous.micro_grids.size()))
        throw ConfigError(kStage, std::to_string(static_cast<std::int64_t>(previous.micro_grids.size()) - seen) +
                                      " micro-grids of the previous run (" + previous.path +
                                      ") lie in no shard of the new city (their region is gone or recoded): "
                                      "rerun with a coarser shard level, or on one machine");
    // Each shard's changes: its micro-grids' (in its result's order), then its retired ones.
    std::vector<MicroGridChange> current;
    std::vector<std::pair<std::int64_t, MicroGridChange>> retired;
    std::vector<PartitionRun> parts;
    Repartition& changes = run.changes;
    for (RepartitionShard& shard : shards) {
        Repartition& part = shard.changes;
        const std::size_t count = shard.run.result.micro_grids.size();
        if (part.changes.size() != count + shard.retired_fids.size())
            throw InputError(kStage, "a rerun shard whose changes do not match its micro-grids");
        for (std::size_t c = 0; c < part.changes.size(); ++c) {
            if (c < count)
                current.push_back(std::move(part.changes[c]));
            else
                retired.emplace_back(shard.retired_fids[c - count], std::move(part.changes[c]));
        }
        append(changes.lineage, std::move(part.lineage));
        changes.micro_grids_kept += part.micro_grids_kept;
        changes.micro_grids_redrawn += part.micro_grids_redrawn;
        changes.micro_grids_new += part.micro_grids_new;
        changes.micro_grids_retired += part.micro_grids_retired;
        changes.zones += part.zones;
        changes.buildings_compared += part.buildings_compared;
        changes.buildings_moved += part.buildings_moved;
        changes.buildings_new += part.buildings_new;
        changes.buildings_removed += part.buildings_removed;
        changes.households_compared += part.households_compared;
        changes.households_moved += part.households_moved;
        changes.households_new += part.households_new;
        changes.households_removed += part.households_removed;
        append(changes.warnings, std::move(part.warnings));
        parts.push_back(std::move(shard.run));
        shard = {};
    }
    PartitionRun merged;
    const std::vector<std::size_t> order = merge_into(merged, run.config, parts);
    changes.changes = permuted(std::move(current), order);
    std::stable_sort(retired.begin(), retired.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [fid, change] : retired) changes.changes.push_back(std::move(change));
    // One lineage row per (previous, new) pair, in that order, as one rerun lists them.
    std::stable_sort(changes.lineage.begin(), changes.lineage.end(), [](const LineageRow& a, const LineageRow& b) {
        return std::tie(a.previous_id, a.new_id) < std::tie(b.previous_id, b.new_id);
    });
    run.city = std::move(merged.city);
    changes.result = std::move(merged.result);
    timer.lap("merge");
    timer.begin("staffing");
    if (run.config.staffing) {
        load_staff_layers(run.city, run.config);
        run.city.warnings = run.city.import_report.warning_lines();
    }
    enforce_strict(run.city.import_report, run.config);
    const StaffingKeep keep = staffing_to_keep(previous);
    run.staffing = assign_staff(run.city, changes.result, run.config, &keep);
    timer.lap("staffing");
    timer.begin("assess");
    run.report = assess(run.city, changes.result, run.config);
    timer.lap("assess");
    run.timings = timer.wall();
    run.extra = repartition_output(changes, previous_path, options, run.staffing);
    run.warnings = run.city.warnings;
    const PartitionResult& result = changes.result;
    run.warnings.insert(run.warnings.end(), result.warnings.begin(), result.warnings.end());
    run.warnings.insert(run.warnings.end(), changes.warnings.begin(), changes.warnings.end());
    return run;
}

}  // namespace civgrid::engine
