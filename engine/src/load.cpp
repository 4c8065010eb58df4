#include "values.hpp"

#include <civgrid/algorithms/coverage_clean.hpp>
#include <civgrid/algorithms/geometry_repair.hpp>
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/parallel.hpp>
#include <civgrid/algorithms/region_locator.hpp>
#include <civgrid/algorithms/settled_land.hpp>
#include <civgrid/algorithms/unit_partition.hpp>
#include <civgrid/engine/pipeline.hpp>
#include <civgrid/engine/roles.hpp>
#include <civgrid/engine/shards.hpp>
#include <civgrid/error.hpp>

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_sort.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string_view>
#include <tuple>

namespace civgrid::engine {

namespace {

constexpr const char* kStage = "engine.load";

// Resolves a role to a layer: the explicit source, else the standard layer of the city file.
std::optional<io::LayerSpec> resolve(const PartitionConfig& config, const LayerSource& source, const std::string& role,
                                     const std::vector<std::string>& city_layers) {
    if (source.given()) {
        io::LayerSpec spec = io::parse_layer_spec(source.path);
        if (!source.layer.empty()) spec.layer = source.layer;
        if (spec.layer.empty()) {
            // A file of several layers: the one named after the role, never silently the first.
            const std::vector<std::string> layers = io::list_layers(spec.path);
            if (layers.size() > 1) {
                if (std::find(layers.begin(), layers.end(), role) == layers.end()) {
                    std::string names;
                    for (const std::string& name : layers) names += (names.empty() ? "'" : ", '") + name + "'";
                    throw ConfigError(kStage, "'" + spec.path + "' has " + std::to_string(layers.size()) + " layers (" +
                                                  names + ") and none is named '" + role + "': say which holds the " +
                                                  role + " as FILE:LAYER");
                }
                spec.layer = role;
            }
        }
        return spec;
    }
    if (config.city.empty()) return std::nullopt;
    const std::string name = source.layer.empty() ? role : source.layer;
    if (std::find(city_layers.begin(), city_layers.end(), name) == city_layers.end()) return std::nullopt;
    return io::LayerSpec{config.city, name};
}

std::string describe(const io::FeatureTable& table) {
    return table.source + ":" + table.layer + " (" + std::to_string(table.size()) + " features)";
}

int required_field(const io::FeatureTable& table, const std::string& field, const std::string& option) {
    const int index = table.field_index(field);
    if (index >= 0) return index;
    std::string available;
    for (const Field& f : table.fields) available += (available.empty() ? "" : ", ") + f.name;
    throw InputError(kStage, table.source + ", layer '" + table.layer + "': no field '" + field + "' (set it with " +
                                 option + "; fields are: " + available + ")");
}

// A field named on the command line that the layer lacks is a typo, not a choice: only the
// defaults are optional (a missing default id field means feature ids, and so on). A true/false
// field is no count of households.
void check_building_fields(const io::FeatureTable& buildings, int households_field, const PartitionConfig& config) {
    const PartitionConfig defaults;
    for (const auto& [name, default_name, option] :
         {std::tuple<const std::string&, const std::string&, const char*>{config.building_id_field,
                                                                          defaults.building_id_field, "--id-field"},
          {config.units_field, defaults.units_field, "--units-field"},
          {config.residents_field, defaults.residents_field, "residents_field"}})
        if (!name.empty() && name != default_name) static_cast<void>(required_field(buildings, name, option));
    if (households_field >= 0 && buildings.fields[static_cast<std::size_t>(households_field)].boolean)
        throw InputError(kStage, buildings.source + ", layer '" + buildings.layer + "', field '" +
                                     buildings.fields[static_cast<std::size_t>(households_field)].name +
                                     "': a true/false field, not a count of households (set --households-field)");
}

// Read options of one layer: the run's CRS choices plus the layer's own datum and encoding.
io::ReadOptions options_for(const io::ReadOptions& base, const LayerSource& source, std::vector<std::string> families) {
    io::ReadOptions options = base;
    options.datum = source.datum;
    options.encoding = source.encoding;
    options.accepted_families = std::move(families);
    options.drop_other_families = true;
    return options;
}

// Moves the reader's report of `table` into the city's import report under `role`.
LayerReport& register_layer(City& city, io::FeatureTable& table, const std::string& role) {
    LayerReport report = std::move(table.report);
    table.report = {};
    report.role = role;
    report.features = static_cast<std::int64_t>(table.size());
    city.import_report.layers.push_back(std::move(report));
    return city.import_report.layers.back();
}

std::string fid_text(const io::FeatureTable& table, std::size_t row) {
    return std::to_string(table.fids[row]);
}

// Repairs the polygons of a table in place (GEOS MakeValid) and reports what was done per reason.
// Returns which rows were dropped by the repair.
std::vector<char> repair_layer(io::FeatureTable& table, LayerReport& report, int threads,
                               std::vector<std::string>* notes = nullptr) {
    const std::vector<algorithms::RepairOutcome> outcomes = algorithms::repair_polygons(table.geometries, threads);
    std::vector<char> dropped(table.size(), 0);
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
        const auto& outcome = outcomes[i];
        if (outcome.kind == algorithms::RepairOutcome::Kind::unchanged) continue;
        if (outcome.kind == algorithms::RepairOutcome::Kind::repaired) {
            const bool cosmetic = outcome.reason == "duplicate_points";
            report.add("repaired", outcome.reason, cosmetic ? Severity::info : Severity::warning,
                       cosmetic ? "repeated vertices are removed"
                                : "made valid with GEOS MakeValid (structure method), keeping its polygons",
                       fid_text(table, i));
            if (notes != nullptr) (*notes)[i] = "repaired: " + outcome.reason;
        } else {
            dropped[i] = 1;
            report.add("dropped", outcome.reason, Severity::warning,
                       "polygons with no area left after repair are left out", fid_text(table, i));
            if (notes != nullptr) (*notes)[i] = "dropped: " + outcome.reason;
        }
    }
    return dropped;
}

// Rows the reader already dropped (wrong geometry type, invalid coordinates, too few points).
std::vector<char> reader_dropped(const io::FeatureTable& table, const LayerReport& report) {
    std::vector<char> dropped(table.size(), 0);
    std::vector<std::int64_t> ids;
    for (const Finding& finding : report.findings)
        if (finding.action == "dropped")
            for (const std::string& id : finding.ids) ids.push_back(std::stoll(id.substr(0, id.find(' '))));
    std::sort(ids.begin(), ids.end());
    for (std::size_t i = 0; i < table.size(); ++i)
        if (std::binary_search(ids.begin(), ids.end(), table.fids[i])) dropped[i] = 1;
    return dropped;
}

// A layer whose every feature lost its geometry to the type policy is the wrong layer.
void require_some_geometry(const io::FeatureTable& table, const LayerReport& report, const std::string& role,
                           const std::string& expected) {
    if (table.size() == 0) return;
    if (std::any_of(table.geometries.begin(), table.geometries.end(), [](const Wkb& g) { return !g.empty(); })) return;
    const Finding* wrong = report.find("wrong_geometry_type");
    throw InputError(kStage, report.where() + ": no usable " + expected + " geometry in " +
                                 std::to_string(table.size()) + " features" +
                                 (wrong != nullptr ? " (e.g. feature " + wrong->ids.front() + ")" : std::string()) +
                                 "; the " + role + " layer must hold " + expected + "s");
}

std::vector<Region> read_regions(const io::FeatureTable& table, const std::string& level, const PartitionConfig& config,
                                 LayerReport& report) {
    const std::string& code_field = level == "community" ? config.community_code_field
                                    : level == "street"  ? config.street_code_field
                                                         : config.district_code_field;
    const std::string option = level == "community" ? "--community-code-field"
                               : level == "street"  ? "--street-code-field"
                                                    : "--district-code-field";
    const int code = required_field(table, code_field, option);
    const int name = table.field_index(config.name_field);
    const int count = config.count_field.empty() ? -1 : required_field(table, config.count_field, "--count-field");
    const int grid_count =
        config.grid_count_field.empty() ? -1 : required_field(table, config.grid_count_field, "--grid-count-field");
    const int street = level == "community" ? table.field_index(config.street_code_field) : -1;
    const int district = level != "district" ? table.field_index(config.district_code_field) : code;
    std::vector<Region> regions;
    const std::vector<char> already_dropped = reader_dropped(table, report);
    for (std::size_t i = 0; i < table.size(); ++i) {
        if (table.geometries[i].empty()) {  // cannot be split; said in the report, never silently
            if (!already_dropped[i])
                report.add("dropped", "null_geometry", Severity::warning, "features without geometry are left out",
                           fid_text(table, i));
            continue;
        }
        Region region;
        region.code = as_text(table.rows[i][static_cast<std::size_t>(code)]);
        if (region.code.empty()) {  // still a region to split; its micro-grid codes say where it came from
            region.code = "F" + std::to_string(table.fids[i]);
            report.add("derived", "missing_code", Severity::warning,
                       "features with a null or empty '" + code_field +
                           "' are split under the code F<feature id>: give them their real code",
                       fid_text(table, i) + " (" + region.code + ")");
        }
        if (name >= 0) region.name = as_text(table.rows[i][static_cast<std::size_t>(name)]);
        if (street >= 0) region.street_code = as_text(table.rows[i][static_cast<std::size_t>(street)]);
        if (level == "street") region.street_code = region.code;
        if (district >= 0) region.district_code = as_text(table.rows[i][static_cast<std::size_t>(district)]);
        if (count >= 0) {
            const std::optional<std::int64_t> wanted = as_integer(table.rows[i][static_cast<std::size_t>(count)]);
            if (wanted && *wanted > 0)
                region.requested_count = static_cast<int>(std::min<std::int64_t>(*wanted, 1'000'000));
            else
                report.add("reported", "no_positive_count", Severity::warning,
                           "field '" + config.count_field + "' holds no positive count: the target decides",
                           fid_text(table, i));
        }
        if (grid_count >= 0) {
            const std::optional<std::int64_t> wanted = as_integer(table.rows[i][static_cast<std::size_t>(grid_count)]);
            if (wanted && *wanted > 0)
                region.requested_grids = static_cast<int>(std::min<std::int64_t>(*wanted, 1'000'000));
            else
                report.add(
                    "reported", "no_positive_grid_count", Severity::warning,
                    "field '" + config.grid_count_field + "' holds no positive grid count: --grid-households decides",
                    fid_text(table, i));
        }
        region.boundary = table.geometries[i];
        region.feature_id = table.fids[i];
        regions.push_back(std::move(region));
    }
    // Several features with one code are one region in several parts (tiled or split exports).
    std::map<std::string, std::vector<std::size_t>> by_code;
    for (std::size_t r = 0; r < regions.size(); ++r) by_code[regions[r].code].push_back(r);
    std::vector<char> merged_away(regions.size(), 0);
    geos::Context context;
    for (const auto& [region_code, members] : by_code) {
        if (members.size() < 2) continue;
        std::vector<geos::Geom> parts;
        std::string ids;
        for (std::size_t r : members) {
            parts.push_back(geos::from_wkb(context, regions[r].boundary));
            ids += (ids.empty() ? "" : ", ") + std::to_string(regions[r].feature_id);
        }
        const geos::Geom all = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(parts));
        const geos::Geom united = geos::unary_union(context, all.get(), "merging regions");
        regions[members.front()].boundary = geos::to_wkb(context, united.get());
        for (std::size_t k = 1; k < members.size(); ++k) merged_away[members[k]] = 1;
        report.add("merged", "duplicate_code", Severity::warning,
                   "features sharing a " + code_field + " are merged into one region (their union)",
                   "'" + region_code + "': " + ids);
    }
    std::vector<Region> kept;
    for (std::size_t r = 0; r < regions.size(); ++r)
        if (!merged_away[r]) kept.push_back(std::move(regions[r]));
    return kept;
}

// Overlapping regions and gaps between them, reported with the regions' feature ids.
void check_coverage(const std::vector<Region>& regions, LayerReport& report, int threads) {
    std::vector<Wkb> boundaries;
    for (const Region& region : regions) boundaries.push_back(region.boundary);
    constexpr double kMinArea = 1.0;  // m2: below this, digitising noise
    for (const algorithms::OverlapPair& pair : algorithms::overlapping_pairs(boundaries, kMinArea, threads))
        report.add("reported", "overlapping_regions", Severity::warning,
                   "regions that overlap (by more than 1 m2) are kept; a building in both goes to the first",
                   std::to_string(regions[pair.first].feature_id) + "/" +
                       std::to_string(regions[pair.second].feature_id) + " (" +
                       std::to_string(static_cast<long long>(std::llround(pair.area))) + " m2)");
    for (const algorithms::CoverageGap& gap : algorithms::coverage_gaps(boundaries, kMinArea)) {
        std::string around;
        for (std::size_t r : gap.neighbours)
            around += (around.empty() ? "" : "/") + std::to_string(regions[r].feature_id);
        report.add("reported", "gap_between_regions", Severity::warning,
                   "holes enclosed by the regions (over 1 m2) belong to none: their buildings get no micro-grid",
                   "gap of " + std::to_string(static_cast<long long>(std::llround(gap.area))) + " m2 at (" +
                       std::to_string(static_cast<long long>(std::llround(gap.location.x))) + ", " +
                       std::to_string(static_cast<long long>(std::llround(gap.location.y))) + ") between " +
                       (around.empty() ? std::string("none") : around));
    }
}

// A layer of points (workers, stations): the table and a point per feature (NaN without geometry,
// said in the warnings with the feature ids).
void read_points(const std::optional<io::LayerSpec>& spec, const io::ReadOptions& options, const std::string& role,
                 City& city, io::FeatureTable& table, std::vector<Point>& points) {
    if (!spec) return;
    table = io::read_layer(*spec, options);
    city.inputs.emplace_back(role, describe(table));
    LayerReport& report = register_layer(city, table, role);
    const std::vector<char> already_dropped = reader_dropped(table, report);
    geos::Context context;
    points.resize(table.size());
    for (std::size_t i = 0; i < table.size(); ++i) {
        if (table.geometries[i].empty()) {
            if (!already_dropped[i])
                report.add("dropped", "null_geometry", Severity::warning, role + " without geometry are left out",
                           fid_text(table, i));
            points[i] = {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN()};
            continue;
        }
        const geos::Geom geometry = geos::from_wkb(context, table.geometries[i]);
        const geos::Geom point = geos::type_id(context, geometry.get()) == GEOS_POINT
                                     ? geos::clone(context, geometry.get())
                                     : geos::point_on_surface_or_null(context, geometry.get());
        const Point where = point && !geos::is_empty(context, point.get())
                                ? geos::point_xy(context, point.get())
                                : Point{std::numeric_limits<double>::infinity(), 0};
        // The reader drops absurd coordinates; a polygon without a point inside is dropped here.
        if (!std::isfinite(where.x)) {
            report.add("dropped", "no_point_inside", Severity::warning,
                       role + " without a point inside (an invalid polygon) are left out", fid_text(table, i));
            points[i] = {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN()};
            continue;
        }
        points[i] = where;
    }
}

// Buildings whose point lies in no region get no micro-grid: reported by id. Each building's first
// region (in region order) is kept in city.building_region for the partitioner.
void report_outside_buildings(City& city, LayerReport& report, const std::vector<char>& null_geometry, int threads,
                              bool report_outside) {
    std::vector<Wkb> boundaries;
    for (const Region& region : city.regions) boundaries.push_back(region.boundary);
    city.building_region =
        algorithms::RegionLocator(std::move(boundaries)).locate_all(city.building_points, threads, &null_geometry);
    const std::vector<int>& region_of = city.building_region;
    for (std::size_t b = 0; report_outside && b < city.buildings.size(); ++b)
        if (!null_geometry[b] && region_of[b] < 0)
            report.add("reported", "outside_every_region", Severity::warning,
                       "buildings outside every " + city.region_level + " get no micro-grid",
                       fid_text(city.buildings, b));
}

// A shard keeps the buildings its regions hold: the others (in its box, outside its regions) are
// other shards'; those without a usable point belong to none (see README, "Distributed runs").
void keep_buildings_in_regions(City& city) {
    std::vector<std::size_t> kept;
    for (std::size_t b = 0; b < city.building_region.size(); ++b)
        if (city.building_region[b] >= 0) kept.push_back(b);
    auto keep = [&](auto& values) {
        if (values.size() != city.building_region.size()) return;
        for (std::size_t k = 0; k < kept.size(); ++k)
            if (kept[k] != k) values[k] = std::move(values[kept[k]]);  // a vector moved onto itself empties
        values.resize(kept.size());
    };
    io::FeatureTable& buildings = city.buildings;
    keep(buildings.fids);
    keep(buildings.geometries);
    keep(buildings.rows);
    keep(city.building_households);
    keep(city.building_units);
    keep(city.building_points);
    keep(city.building_residents);
    keep(city.building_notes);
    keep(city.building_region);
}

// Rows whose value of `column` another row shares (as text), or every row when that cannot be
// told cheaply. Integers and strings are sorted in place of building 400,000 strings.
std::vector<std::size_t> rows_sharing_a_value(const io::FeatureTable& table, std::size_t column) {
    std::vector<std::size_t> rows;
    std::size_t integers = 0, strings = 0;
    for (std::size_t i = 0; i < table.size(); ++i) {
        const FieldValue& value = table.rows[i][column];
        if (std::holds_alternative<std::monostate>(value)) continue;
        integers += std::holds_alternative<std::int64_t>(value) ? 1 : 0;
        strings += std::holds_alternative<std::string>(value) ? 1 : 0;
        rows.push_back(i);
    }
    // Reals print rounded, and an integer and a string can print alike: the caller compares text.
    if (integers != rows.size() && strings != rows.size()) return rows;
    std::vector<std::size_t> shared;
    auto collect = [&](auto key) {
        std::vector<std::pair<decltype(key(0)), std::size_t>> keyed;
        keyed.reserve(rows.size());
        for (std::size_t row : rows) keyed.emplace_back(key(row), row);
        std::sort(keyed.begin(), keyed.end());
        for (std::size_t k = 0; k < keyed.size(); ++k)
            if ((k > 0 && keyed[k].first == keyed[k - 1].first) ||
                (k + 1 < keyed.size() && keyed[k].first == keyed[k + 1].first))
                shared.push_back(keyed[k].second);
    };
    if (integers == rows.size())
        collect([&](std::size_t row) { return std::get<std::int64_t>(table.rows[row][column]); });
    else
        collect([&](std::size_t row) { return std::string_view(std::get<std::string>(table.rows[row][column])); });
    std::sort(shared.begin(), shared.end());
    return shared;
}

// The bounding box of the non-empty geometries, if any.
// A layer far from the buildings is most likely in another CRS than it says. `extents`: each
// layer's role and bounding box in the working CRS.
void report_far_layers(City& city, const std::vector<std::pair<std::string, std::optional<geos::Envelope>>>& extents) {
    std::optional<geos::Envelope> buildings;
    for (std::size_t i = 0; i < city.buildings.size(); ++i) {
        if (city.buildings.geometries[i].empty()) continue;
        const Point p = city.building_points[i];
        if (!buildings) buildings = geos::Envelope{p.x, p.y, p.x, p.y};
        buildings->min_x = std::min(buildings->min_x, p.x), buildings->min_y = std::min(buildings->min_y, p.y);
        buildings->max_x = std::max(buildings->max_x, p.x), buildings->max_y = std::max(buildings->max_y, p.y);
    }
    if (!buildings) return;
    const double size = std::max({buildings->max_x - buildings->min_x, buildings->max_y - buildings->min_y, 1000.0});
    for (const auto& [role, extent] : extents) {
        LayerReport* report = city.import_report.layer(role);
        if (!extent || report == nullptr) continue;
        const double dx = std::max({0.0, extent->min_x - buildings->max_x, buildings->min_x - extent->max_x});
        const double dy = std::max({0.0, extent->min_y - buildings->max_y, buildings->min_y - extent->max_y});
        const double distance = std::hypot(dx, dy);
        if (distance > std::max(size, 5000.0))
            report->add("reported", "far_from_buildings", Severity::warning,
                        "the layer lies " + std::to_string(static_cast<long long>(std::llround(distance / 1000))) +
                            " km from the buildings: check its CRS (and --datum, --assume-crs)",
                        "all");
    }
}

// Workers (a home each), stations, facilities and work areas: points; a polygon stands for its
// point on surface.
void read_staff_layers(City& city, const PartitionConfig& config, const io::ReadOptions& options,
                       const std::vector<std::string>& city_layers) {
    const std::tuple<const LayerSource&, const char*, io::FeatureTable&, std::vector<Point>&> layers[] = {
        {config.workers, "workers", city.workers, city.worker_points},
        {config.stations, "stations", city.stations, city.station_points},
        {config.facilities, "facilities", city.facilities, city.facility_points},
        {config.work_areas, "work_areas", city.work_areas, city.work_area_points}};
    for (const auto& [source, role, table, points] : layers)
        read_points(resolve(config, source, role, city_layers), options_for(options, source, {"point", "polygon"}),
                    role, city, table, points);
}

// What every read of a run starts from: the city file's layers, the buildings' layer, and the
// read options in the working CRS (given, or chosen from the buildings' extent).
struct Start {
    std::vector<std::string> city_layers;
    io::LayerSpec buildings;
    io::ReadOptions options;
};

Start start_reading(const PartitionConfig& config) {
    Start start;
    if (!config.city.empty()) start.city_layers = io::list_layers(config.city);
    const auto buildings_spec = resolve(config, config.buildings, "buildings", start.city_layers);
    if (!buildings_spec)
        throw ConfigError(kStage,
                          config.city.empty()
                              ? "no buildings given: pass a city file or --buildings FILE[:LAYER]"
                              : "'" + config.city + "' has no layer 'buildings' (pass --buildings FILE[:LAYER])");
    start.buildings = *buildings_spec;
    start.options.target_crs = config.working_crs.empty()
                                   ? io::choose_metric_crs(io::geographic_extent(start.buildings, config.assume_crs))
                                   : config.working_crs;
    start.options.assume_crs = config.assume_crs;
    start.options.coordinate_grid = config.coordinate_grid;
    start.options.threads = config.threads;
    return start;
}

}  // namespace

std::vector<io::NamedSource> input_sources(const PartitionConfig& config) {
    std::vector<io::NamedSource> sources;
    if (!config.city.empty()) sources.push_back({"city", config.city});
    for (const InputRole& role : kInputRoles)
        if ((config.*(role.source)).given())
            sources.push_back({role.option, io::parse_layer_spec((config.*(role.source)).path).path});
    return sources;
}

// Long (about 450 lines) on purpose: one pass over the input roles in the order their checks
// depend on each other (buildings, then regions that locate them, then barriers and staff), each
// step a commented block sharing the city being built; the per-layer work is in the helpers above.
City load_city(const PartitionConfig& config) {
    validate_config(config);
    const Start start = start_reading(config);
    const std::vector<std::string>& city_layers = start.city_layers;
    City city;
    city.crs = start.options.target_crs;
    io::ReadOptions options = start.options;
    if (config.shard.given())
        options.extent = io::Box{config.shard.min_x, config.shard.min_y, config.shard.max_x, config.shard.max_y};

    // Buildings: polygons or points, households per feature.
    io::ReadOptions building_options = options_for(options, config.buildings, {"polygon", "point"});
    city.buildings = io::read_layer(start.buildings, building_options);
    // Units mode in a shard: cleaning a unit's overlaps and gaps needs every unit that overlaps it
    // or lies within the tolerance of it, and the units meeting the shard's box reach beyond it. So
    // the units are read again out to their reach; the shard keeps its regions' units after the
    // cleaning (keep_buildings_in_regions), as it keeps only those of its box that its regions hold.
    if (config.shard.given() && config.units == "areas" && config.coverage_tolerance > 0 && building_options.extent) {
        if (const auto reach = algorithms::extent_of(city.buildings.geometries, config.threads)) {
            const double margin = 2 * config.coverage_tolerance;
            const io::Box box = *building_options.extent;
            const io::Box wider{std::min(box.min_x, reach->min_x - margin), std::min(box.min_y, reach->min_y - margin),
                                std::max(box.max_x, reach->max_x + margin), std::max(box.max_y, reach->max_y + margin)};
            if (wider.min_x < box.min_x || wider.min_y < box.min_y || wider.max_x > box.max_x ||
                wider.max_y > box.max_y) {
                building_options.extent = wider;
                city.buildings = io::read_layer(start.buildings, building_options);
            }
        }
    }
    city.inputs.emplace_back("buildings", describe(city.buildings));
    io::FeatureTable& buildings = city.buildings;
    const std::size_t building_report = city.import_report.layers.size();
    register_layer(city, buildings, "buildings");
    auto report = [&]() -> LayerReport& { return city.import_report.layers[building_report]; };
    report().fact("working crs", io::describe_crs(city.crs));
    require_some_geometry(buildings, report(), "buildings", "polygon or point");
    city.building_notes.assign(buildings.size(), std::string());
    std::vector<char> dropped = reader_dropped(buildings, report());
    for (std::size_t i = 0; i < buildings.size(); ++i)
        if (dropped[i]) city.building_notes[i] = "dropped: see the import report";

    // Label points mixed into a polygon layer (tiled OSM exports) are not buildings.
    std::size_t polygon_count = 0;
    for (const Wkb& g : buildings.geometries) {
        const int type = wkb_geometry_type(g);
        polygon_count += type == 3 || type == 6 ? 1 : 0;
    }
    if (polygon_count > 0)
        for (std::size_t i = 0; i < buildings.size(); ++i) {
            const int type = wkb_geometry_type(buildings.geometries[i]);
            if (type != 1 && type != 4) continue;
            buildings.geometries[i].clear();
            dropped[i] = 1;
            city.building_notes[i] = "dropped: point_in_polygon_layer";
            report().add("dropped", "point_in_polygon_layer", Severity::warning,
                         "points in a layer of building polygons (label points) are left out", fid_text(buildings, i));
        }
    const std::vector<char> repair_dropped = repair_layer(buildings, report(), config.threads, &city.building_notes);
    for (std::size_t i = 0; i < buildings.size(); ++i) dropped[i] = dropped[i] || repair_dropped[i];

    // Households: the field, else derived from floors x footprint / dwelling area when asked.
    int households_field = buildings.field_index(config.households_field);
    std::string floors_name = config.floors_field;
    int floors_field = -1;
    if (!floors_name.empty())
        floors_field = required_field(buildings, floors_name, "--floors-field");
    else
        for (const char* candidate : {"floors", "floor", "storeys", "levels", "building:levels"})
            if ((floors_field = buildings.field_index(candidate)) >= 0) {
                floors_name = buildings.fields[static_cast<std::size_t>(floors_field)].name;
                break;
            }
    // Without floors, a height in metres gives floors at 3 m each (OSM's height, Suzhou's height).
    const int height_field = floors_field < 0 && config.floors_field.empty() ? buildings.field_index("height") : -1;
    if (height_field >= 0) floors_name = "height / 3 m";
    if (households_field < 0 && (config.dwelling_area <= 0 || (floors_field < 0 && height_field < 0))) {
        std::string available;
        for (const Field& f : buildings.fields) available += (available.empty() ? "" : ", ") + f.name;
        throw InputError(
            kStage, buildings.source + ", layer '" + buildings.layer + "': no field '" + config.households_field +
                        "' (set it with --households-field" +
                        (floors_field >= 0 ? ", or derive households from '" + floors_name + "' with --dwelling-area M2"
                                           : std::string(", or derive households from floors with "
                                                         "--floors-field FIELD --dwelling-area M2")) +
                        "; fields are: " + available + ")");
    }
    check_building_fields(buildings, households_field, config);
    const bool derive = config.dwelling_area > 0 && (floors_field >= 0 || height_field >= 0);
    if (derive)
        report().fact("households", households_field >= 0
                                        ? "field '" + config.households_field + "', else derived from '" + floors_name +
                                              "' x footprint / " + number_text(config.dwelling_area) + " m2"
                                        : "derived from '" + floors_name + "' x footprint / " +
                                              number_text(config.dwelling_area) + " m2");
    const std::vector<double> footprints =
        derive ? algorithms::polygon_areas(buildings.geometries, config.threads) : std::vector<double>{};
    const int units_field = config.units_field.empty() ? -1 : buildings.field_index(config.units_field);
    const int residents_field = config.residents_field.empty() ? -1 : buildings.field_index(config.residents_field);
    city.building_households.resize(buildings.size());
    city.building_units.resize(buildings.size(), 1);
    for (std::size_t i = 0; i < buildings.size(); ++i) {
        const FieldValue* value =
            households_field >= 0 ? &buildings.rows[i][static_cast<std::size_t>(households_field)] : nullptr;
        const auto households = value != nullptr ? as_integer(*value) : std::nullopt;
        std::int64_t used = 0;
        if (households && *households > config.max_building_households) {
            report().add("reported", "absurd_households", Severity::warning,
                         "more than " + std::to_string(config.max_building_households) +
                             " households in one building (--max-building-households) count as 0",
                         fid_text(buildings, i) + " (" + std::to_string(*households) + ")");
        } else if (households && *households >= 0) {
            used = *households;
            if (const double* real = std::get_if<double>(value); real != nullptr && *real != std::floor(*real))
                report().add("repaired", "fractional_households", Severity::warning,
                             "households that are not whole numbers are rounded to the nearest whole household",
                             fid_text(buildings, i) + " (" + as_text(*value) + " -> " + std::to_string(used) + ")");
            else if (const auto* text = std::get_if<std::string>(value);
                     text != nullptr && text->find_first_of(".eE") != std::string::npos &&
                     std::to_string(used) != *text)
                report().add("repaired", "fractional_households", Severity::warning,
                             "households that are not whole numbers are rounded to the nearest whole household",
                             fid_text(buildings, i) + " ('" + *text + "' -> " + std::to_string(used) + ")");
        } else if (derive && !dropped[i]) {
            std::optional<std::int64_t> floors;
            if (floors_field >= 0) {
                floors = as_integer(buildings.rows[i][static_cast<std::size_t>(floors_field)]);
            } else if (const auto height = as_number(buildings.rows[i][static_cast<std::size_t>(height_field)]);
                       height && *height > 0) {
                floors = std::max<std::int64_t>(1, std::llround(*height / 3.0));
            }
            if (floors && *floors > 0 && *floors < 300 && footprints[i] > 0) {
                used = std::llround(static_cast<double>(*floors) * footprints[i] / config.dwelling_area);
                report().add("derived", "households_from_floors", Severity::info,
                             "households = round(" + floors_name + " x footprint / " +
                                 number_text(config.dwelling_area) + " m2)",
                             fid_text(buildings, i));
                if (city.building_notes[i].empty()) city.building_notes[i] = "households derived from floors";
            } else {
                report().add("reported", "no_households_or_floors", Severity::warning,
                             "neither households nor usable floors (1-299) and footprint: counted as 0",
                             fid_text(buildings, i));
            }
        } else if (value != nullptr) {
            report().add("reported", "invalid_households", Severity::warning,
                         "null, negative or non-numeric households in '" + config.households_field + "' count as 0",
                         fid_text(buildings, i) + " ('" + as_text(*value) + "')");
        }
        city.building_households[i] = used;
        if (units_field >= 0) {
            const auto units = as_integer(buildings.rows[i][static_cast<std::size_t>(units_field)]);
            city.building_units[i] = units && *units > 0 ? static_cast<int>(std::min<std::int64_t>(*units, 1000)) : 1;
        }
    }

    // The same building twice (tile overlaps, repeated exports): the smaller copy goes and the one
    // kept takes the larger household count. Lesser overlaps are reported and kept.
    constexpr double kSameBuildingShare = 0.9;
    double overlap_area = 0;               // for the coverage test of units mode below
    std::vector<std::size_t> overlapping;  // and the units' union
    // Units mode cleans overlaps down to a square centimetre (below); the report and the coverage
    // test count those of half a square metre or more, as in buildings mode.
    constexpr double kReportedOverlap = 0.5, kCleanedOverlap = 1e-4;  // m2
    const bool clean_units = config.units == "areas" && config.coverage_tolerance > 0;
    const std::vector<algorithms::OverlapPair> overlap_pairs = algorithms::overlapping_pairs(
        buildings.geometries, clean_units ? kCleanedOverlap : kReportedOverlap, config.threads);
    for (const algorithms::OverlapPair& pair : overlap_pairs) {
        if (pair.area < kReportedOverlap) continue;
        overlap_area += pair.area;
        overlapping.push_back(pair.first);
        overlapping.push_back(pair.second);
        if (dropped[pair.first] || dropped[pair.second]) continue;
        if (pair.share_of_smaller < kSameBuildingShare) {
            report().add("reported", "overlapping_buildings", Severity::warning,
                         "buildings overlapping by less than 90 % of the smaller are kept as they are",
                         fid_text(buildings, pair.first) + "/" + fid_text(buildings, pair.second) + " (" +
                             std::to_string(static_cast<long long>(std::llround(pair.share_of_smaller * 100))) + " %)");
            continue;
        }
        const auto area = [&](std::size_t row) {
            return algorithms::polygon_areas({buildings.geometries[row]}, 1).front();
        };
        const bool drop_first = area(pair.first) < area(pair.second);
        const std::size_t gone = drop_first ? pair.first : pair.second, kept = drop_first ? pair.second : pair.first;
        city.building_households[kept] = std::max(city.building_households[kept], city.building_households[gone]);
        city.building_households[gone] = 0;
        buildings.geometries[gone].clear();
        dropped[gone] = 1;
        city.building_notes[gone] = "dropped: duplicate of feature " + fid_text(buildings, kept);
        report().add("dropped", "duplicate_building", Severity::warning,
                     "a building covering 90 % or more of another is a copy: the smaller goes, the one kept takes "
                     "the larger household count",
                     fid_text(buildings, gone) + " (copy of " + fid_text(buildings, kept) + ")");
    }

    // Polygons that tile the ground (parcels, census areas, blocks) rather than footprints: units
    // mode keeps them whole. Measured when --units is not given, and suggested (a warning).
    if (config.units.empty() || config.units == "areas") {
        const algorithms::CoverageTraits traits =
            algorithms::coverage_traits(buildings.geometries, overlap_area, config.threads);
        const auto percent = [](double share) { return std::to_string(std::lround(100 * share)) + " %"; };
        if (traits.polygons >= algorithms::CoverageTraits::kMinPolygons)
            report().fact("coverage", percent(traits.hull_cover) + " of their convex hull covered, " +
                                          (traits.hull_cover >= algorithms::CoverageTraits::kMinHullCover
                                               ? percent(traits.sharing_share) + " sharing boundary with a neighbour, "
                                               : std::string()) +
                                          percent(traits.overlap_share) + " overlapping" +
                                          (traits.coverage() ? ": a coverage" : ""));
        if (config.units.empty() && traits.coverage())
            report().add("reported", "polygons_tile_the_ground", Severity::warning,
                         "the polygons form a coverage (over 60 % of their hull covered, over 60 % sharing boundary, "
                         "under 1 % overlap), like parcels or census areas: micro-grids are cut through them; "
                         "--units areas keeps each one whole (--units buildings: as now, without this warning)",
                         "all " + std::to_string(traits.polygons) + " polygons");
        if (config.units == "areas" && traits.polygons >= algorithms::CoverageTraits::kMinPolygons &&
            !traits.coverage())
            report().add("reported", "units_not_a_coverage", Severity::warning,
                         "--units areas joins units only where they share boundary, and these polygons do not form "
                         "a coverage (see the coverage fact): units apart from the others make micro-grids of their "
                         "own (building footprints: one each); it is meant for parcels, census areas, blocks",
                         "all " + std::to_string(traits.polygons) + " polygons");
    }

    // Units mode: a dirty tiling cleaned (algorithms/coverage_clean.hpp) so that micro-grids of whole
    // units form a coverage: overlaps cut from the smaller unit, enclosed gaps up to
    // --coverage-tolerance wide given to the unit sharing most of their edge. The file is not touched.
    if (clean_units) {
        std::vector<algorithms::OverlapPair> pairs;
        for (const algorithms::OverlapPair& pair : overlap_pairs)
            if (!dropped[pair.first] && !dropped[pair.second]) pairs.push_back(pair);
        const algorithms::CoverageCleaning cleaning = algorithms::clean_coverage(
            buildings.geometries, pairs, algorithms::CoverageCleanOptions{config.coverage_tolerance}, config.threads);
        const auto square_metres = [](double area) {
            return area >= 10 ? std::to_string(std::lround(area)) : number_text(std::round(area * 100) / 100);
        };
        std::size_t overlaps_removed = 0;
        double overlap_removed_area = 0, gap_area = 0;
        std::set<std::size_t> cleaned_units;
        // The units' union below overlays only the pairs left overlapping.
        overlapping.clear();
        for (const algorithms::CleanedOverlap& o : cleaning.overlaps) {
            if (!o.cleaned) {
                report().add("reported", "units_overlap_left", Severity::warning,
                             "an overlap that would leave nothing of the smaller unit is left as it is",
                             fid_text(buildings, o.trimmed) + "/" + fid_text(buildings, o.kept) + " (" +
                                 square_metres(o.area) + " m2)");
                overlapping.push_back(o.kept);
                overlapping.push_back(o.trimmed);
                continue;
            }
            ++overlaps_removed;
            overlap_removed_area += o.area;
            cleaned_units.insert(o.trimmed);
            report().add("repaired", "units_overlap_removed", Severity::warning,
                         "units mode: where two units overlap, the overlap stays with the larger and is cut from "
                         "the smaller (--coverage-tolerance 0: units as read)",
                         fid_text(buildings, o.trimmed) + " (cut by " + fid_text(buildings, o.kept) + ", " +
                             square_metres(o.area) + " m2)");
        }
        for (const algorithms::CleanedGap& gap : cleaning.gaps) {
            gap_area += gap.area;
            cleaned_units.insert(gap.given_to);
            std::string around;
            for (std::size_t u : gap.neighbours)
                if (u != gap.given_to) around += (around.empty() ? "" : "/") + fid_text(buildings, u);
            report().add("repaired", "units_gap_closed", Severity::warning,
                         "units mode: a gap enclosed by units and at most " + number_text(config.coverage_tolerance) +
                             " m wide (--coverage-tolerance) joins the unit sharing the most of its edge",
                         fid_text(buildings, gap.given_to) + " (" + square_metres(gap.area) + " m2, " +
                             number_text(std::round(gap.width * 100) / 100) + " m wide" +
                             (around.empty() ? std::string() : ", beside " + around) + ")");
        }
        for (std::size_t u : cleaned_units)
            if (city.building_notes[u].empty()) city.building_notes[u] = "reshaped: coverage cleaned";
        report().fact("coverage cleaning",
                      "tolerance " + number_text(config.coverage_tolerance) +
                          " m: " + std::to_string(overlaps_removed) + " overlaps removed (" +
                          square_metres(overlap_removed_area) + " m2), " + std::to_string(cleaning.gaps.size()) +
                          " gaps closed (" + square_metres(gap_area) + " m2), " +
                          std::to_string(cleaning.changed.size()) + " units reshaped or noded" +
                          (cleaning.failed > 0 ? "; " + std::to_string(cleaning.failed) +
                                                     " neighbourhoods left as read (GEOS could not overlay them)"
                                               : std::string()));
    }

    // Duplicate ids are kept (they are distinct features) but reported.
    if (const int id_field = buildings.field_index(config.building_id_field); id_field >= 0) {
        const auto column = static_cast<std::size_t>(id_field);
        std::map<std::string, std::vector<std::size_t>> by_id;
        for (std::size_t i : rows_sharing_a_value(buildings, column)) {
            const std::string id = as_text(buildings.rows[i][column]);
            if (!id.empty()) by_id[id].push_back(i);
        }
        for (const auto& [id, rows] : by_id) {
            if (rows.size() < 2) continue;
            // One entry per feature, so that the count is of features (it said "2 reported" for
            // 19 features sharing two ids).
            for (std::size_t row : rows) {
                std::string others;
                for (std::size_t other : rows)
                    if (other != row) others += (others.empty() ? "" : "/") + fid_text(buildings, other);
                report().add("reported", "duplicate_id", Severity::warning,
                             "features sharing a " + config.building_id_field + " are kept as separate buildings",
                             fid_text(buildings, row) + " ('" + id + "', as " + others + ")");
            }
        }
    }

    // Residents: the buildings' own figure where there is one, else households x persons per household.
    city.building_residents.resize(buildings.size());
    for (std::size_t i = 0; i < buildings.size(); ++i) {
        const auto residents = residents_field >= 0
                                   ? as_integer(buildings.rows[i][static_cast<std::size_t>(residents_field)])
                                   : std::nullopt;
        city.building_residents[i] = residents && *residents >= 0 ? static_cast<double>(*residents)
                                                                  : static_cast<double>(city.building_households[i]) *
                                                                        config.persons_per_household;
    }

    // A point inside each building, in parallel (one GEOS context per thread).
    city.building_points.resize(buildings.size());
    std::vector<char> null_geometry(buildings.size(), 0);
    tbb::enumerable_thread_specific<geos::Context> contexts;
    auto locate = [&] {
        tbb::parallel_for(tbb::blocked_range<std::size_t>(0, buildings.size(), 2048),
                          [&](const tbb::blocked_range<std::size_t>& range) {
                              const geos::Context& context = contexts.local();
                              for (std::size_t i = range.begin(); i < range.end(); ++i) {
                                  if (buildings.geometries[i].empty()) {
                                      null_geometry[i] = 1;
                                      continue;
                                  }
                                  // A polygon's point without a GEOS geometry: the same point.
                                  if (const auto point = algorithms::interior_point_in_place(buildings.geometries[i])) {
                                      city.building_points[i] = *point;
                                      continue;
                                  }
                                  const geos::Geom geometry = geos::from_wkb(context, buildings.geometries[i]);
                                  if (geos::is_empty(context, geometry.get())) {
                                      null_geometry[i] = 1;
                                      continue;
                                  }
                                  city.building_points[i] = geos::type_id(context, geometry.get()) == GEOS_POINT
                                                                ? geos::point_xy(context, geometry.get())
                                                                : geos::point_on_surface(context, geometry.get());
                              }
                          });
    };
    algorithms::with_threads(config.threads, locate);
    for (std::size_t i = 0; i < buildings.size(); ++i) {
        if (!null_geometry[i]) continue;
        city.building_households[i] = 0;
        if (dropped[i]) continue;
        buildings.geometries[i].clear();
        report().add("dropped", "null_geometry", Severity::warning,
                     "buildings without geometry (null or empty) are left out of every micro-grid",
                     fid_text(buildings, i));
        if (city.building_notes[i].empty()) city.building_notes[i] = "dropped: null_geometry";
    }
    // Buildings far from all the others (address points geocoded to another city or country) would
    // stretch the city's region and its micro-grids across the map: beyond ten times the distance
    // that holds 90 % of the buildings from their median point (and at least 50 km), they are left
    // out and reported with how far they are.
    {
        std::vector<double> xs, ys;
        for (std::size_t i = 0; i < buildings.size(); ++i)
            if (!null_geometry[i]) xs.push_back(city.building_points[i].x), ys.push_back(city.building_points[i].y);
        if (xs.size() >= 20) {
            const auto median = [](std::vector<double> values) {
                std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2),
                                 values.end());
                return values[values.size() / 2];
            };
            const Point centre{median(xs), median(ys)};
            std::vector<double> distances;
            for (std::size_t i = 0; i < xs.size(); ++i)
                distances.push_back(std::hypot(xs[i] - centre.x, ys[i] - centre.y));
            const auto k = static_cast<std::size_t>(0.9 * static_cast<double>(distances.size() - 1));
            std::nth_element(distances.begin(), distances.begin() + static_cast<std::ptrdiff_t>(k), distances.end());
            constexpr double kLeast = 50'000.0;
            const double limit = std::max(kLeast, 10 * distances[k]);
            for (std::size_t i = 0; i < buildings.size(); ++i) {
                if (null_geometry[i]) continue;
                const double distance =
                    std::hypot(city.building_points[i].x - centre.x, city.building_points[i].y - centre.y);
                if (distance <= limit) continue;
                null_geometry[i] = 1;
                dropped[i] = 1;
                city.building_households[i] = 0;
                buildings.geometries[i].clear();
                report().add("dropped", "far_from_the_rest", Severity::warning,
                             "buildings more than ten times farther from the others' median point than 90 % of "
                             "them (and over 50 km) are left out: geocodes in another place?",
                             fid_text(buildings, i) + " (" + std::to_string(std::lround(distance / 1000)) + " km)");
                city.building_notes[i] = "dropped: far_from_the_rest";
            }
        }
    }
    // Buildings on one point (address points geocoded to one address): reported; the partition
    // spreads them a few centimetres apart so that micro-grids can divide them.
    {
        std::vector<std::uint32_t> order;
        for (std::size_t i = 0; i < buildings.size(); ++i)
            if (!null_geometry[i]) order.push_back(static_cast<std::uint32_t>(i));
        // A total order (ties by index), so the parallel sort gives the same order on any threads.
        algorithms::with_threads(config.threads, [&] {
            tbb::parallel_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
                const Point p = city.building_points[a], q = city.building_points[b];
                return p.x != q.x ? p.x < q.x : p.y != q.y ? p.y < q.y : a < b;
            });
        });
        for (std::size_t begin = 0; begin < order.size();) {
            std::size_t end = begin + 1;
            const Point p = city.building_points[order[begin]];
            while (end < order.size() && city.building_points[order[end]].x == p.x &&
                   city.building_points[order[end]].y == p.y)
                ++end;
            if (end - begin > 1) {
                std::string group;
                for (std::size_t k = begin; k < end; ++k)
                    group += (group.empty() ? "" : "/") + fid_text(buildings, order[k]);
                report().add("reported", "stacked_points", Severity::warning,
                             "buildings whose points coincide (geocoded to one address) are spread a few centimetres "
                             "apart, so that micro-grids can divide them",
                             group + " (" + std::to_string(end - begin) + " on one point)");
            }
            begin = end;
        }
    }
    if (static_cast<std::size_t>(std::count(null_geometry.begin(), null_geometry.end(), 1)) == buildings.size())
        throw InputError(kStage,
                         buildings.source + ", layer '" + buildings.layer + "': no building has a usable geometry");

    std::vector<std::pair<std::string, std::optional<geos::Envelope>>> extents;  // per layer, for report_far_layers

    // Regions: the level asked for, or the finest admin level given.
    for (const auto& [level, source] : {std::pair<std::string, const LayerSource*>{"community", &config.communities},
                                        {"street", &config.streets},
                                        {"district", &config.districts}}) {
        if (!config.region_level.empty() && config.region_level != level) continue;
        const std::string role = level == "community" ? "communities" : level == "street" ? "streets" : "districts";
        const auto spec = resolve(config, *source, role, city_layers);
        if (!spec) {
            if (!config.region_level.empty())
                throw ConfigError(kStage,
                                  "--level " + level + ": no " + role + " layer (pass --" + role + " FILE[:LAYER])");
            continue;
        }
        io::ReadOptions region_options = options_for(options, *source, {"polygon"});
        if (config.shard.given()) {
            region_options.extent.reset();
            region_options.attribute_filter = config.shard.filter();
        }
        io::FeatureTable table = io::read_layer(*spec, region_options);
        city.inputs.emplace_back(role, describe(table));
        const std::size_t index = city.import_report.layers.size();
        register_layer(city, table, role);
        require_some_geometry(table, city.import_report.layers[index], role, "polygon");
        repair_layer(table, city.import_report.layers[index], config.threads);
        city.regions = read_regions(table, level, config, city.import_report.layers[index]);
        extents.emplace_back(role, algorithms::extent_of(table.geometries, config.threads));
        check_coverage(city.regions, city.import_report.layers[index], config.threads);
        city.region_level = level;
        break;
    }
    if (city.regions.empty() && config.units == "areas") {
        // No admin layer, units mode: the region is the union of the units, which the micro-grids tile.
        geos::Context context;
        const Wkb units = algorithms::union_of_units(buildings.geometries, overlapping);
        if (units.empty())
            throw InputError(kStage, buildings.source + ", layer '" + buildings.layer +
                                         "': --units areas needs polygons, and no building has an area");
        const geos::Geom union_geometry = geos::from_wkb(context, units);
        report().fact("region", "no admin layer, --units areas: the union of the units, " +
                                    number_text(geos::area(context, union_geometry.get()) / 1e6) + " km2");
        city.regions.push_back(Region{"", "city", "", "", units, -1});
        city.region_level = "city";
    } else if (city.regions.empty()) {
        // No admin layer: the city is one region, the settled land: 100 m cells within 200 m of a
        // building (a bounding box stretched edge micro-grids over the sea or the next country);
        // water is cut out below, once the barriers are read.
        geos::Context context;
        std::vector<Point> points;
        for (std::size_t i = 0; i < buildings.size(); ++i)
            if (!null_geometry[i]) points.push_back(city.building_points[i]);
        const geos::Geom land = algorithms::settled_land(context, points);
        if (!land)
            throw InputError(kStage,
                             buildings.source + ", layer '" + buildings.layer + "': no building has a geometry");
        const std::optional<geos::Envelope> extent = algorithms::extent_of(buildings.geometries, config.threads);
        report().fact("region", "no admin layer: the settled land, 100 m cells within 200 m of a building, " +
                                    std::to_string(std::lround(geos::area(context, land.get()) / 1e6)) + " km2" +
                                    (extent ? " (the buildings' bounding box: " +
                                                  std::to_string(std::lround((extent->max_x - extent->min_x) *
                                                                             (extent->max_y - extent->min_y) / 1e6)) +
                                                  " km2)"
                                            : std::string()));
        city.regions.push_back(Region{"", "city", "", "", geos::to_wkb(context, land.get()), -1});
        city.region_level = "city";
    } else {
        report_outside_buildings(city, report(), null_geometry, config.threads, !config.shard.given());
        if (config.shard.given()) keep_buildings_in_regions(city);
    }

    // Barriers, each with its key in the read order (layer, pass, feature id) for merging shards.
    std::int64_t barrier_layer = 0;
    auto read_barriers = [&](const LayerSource& source, const std::string& role, const BarrierRule& rule,
                             bool soft_rest) {
        const auto spec = resolve(config, source, role, city_layers);
        if (!spec) return;
        const std::int64_t layer_key = barrier_layer++ << 42;
        auto key = [&](std::int64_t pass, std::int64_t fid) {
            return layer_key | (pass << 41) | (fid & ((std::int64_t{1} << 41) - 1));
        };
        auto add = [](std::vector<Wkb>& lines, std::vector<std::int64_t>& keys, const Wkb& line, std::int64_t k) {
            lines.push_back(line);
            keys.push_back(k);
        };
        const io::ReadOptions all_options = options_for(options, source, {"line", "polygon"});
        io::ReadOptions hard_options = all_options;
        if (rule.disabled()) {
            if (!soft_rest) return;
            io::FeatureTable all = io::read_layer(*spec, all_options);
            city.inputs.emplace_back(role, describe(all) + ", all soft");
            repair_layer(all, register_layer(city, all, role), config.threads);
            extents.emplace_back(role, algorithms::extent_of(all.geometries, config.threads));
            for (std::size_t i = 0; i < all.size(); ++i) {
                const Wkb& g = all.geometries[i];
                if (g.empty()) continue;
                add(city.soft_lines, city.soft_line_keys, g, key(0, all.fids[i]));
                if (role == "roads" && config.network_distance)
                    add(city.road_lines, city.road_line_keys, g, key(0, all.fids[i]));
            }
            return;
        }
        hard_options.attribute_filter = rule.filter;
        io::FeatureTable hard = [&] {
            try {
                return io::read_layer(*spec, hard_options);
            } catch (const ConfigError& error) {  // the filter: most often a field the layer lacks (OSM data)
                const PartitionConfig defaults;
                const BarrierRule& default_rule = role == "roads"    ? defaults.hard_roads
                                                  : role == "rivers" ? defaults.hard_rivers
                                                                     : defaults.hard_railways;
                throw ConfigError(error.stage(), std::string(error.what()).substr(error.stage().size() + 2) + " (the " +
                                                     (rule.filter == default_rule.filter ? "default " : "") +
                                                     "hard-barrier filter of " + role +
                                                     "; set it with --hard-barriers " + role + ":FILTER, '" + role +
                                                     ":' for all features, or '" + role + ":none')");
            }
        }();
        city.inputs.emplace_back(role, describe(hard) + (rule.filter.empty() ? "" : " hard where " + rule.filter));
        LayerReport& layer_report = register_layer(city, hard, role);
        if (!rule.filter.empty()) layer_report.fact("hard barriers", rule.filter);
        repair_layer(hard, layer_report, config.threads);
        extents.emplace_back(role, algorithms::extent_of(hard.geometries, config.threads));
        for (std::size_t i = 0; i < hard.size(); ++i) {
            const Wkb& g = hard.geometries[i];
            if (g.empty()) continue;
            const int type = wkb_geometry_type(g);
            if (type == 3 || type == 6)
                add(city.hard_areas, city.hard_area_keys, g, key(0, hard.fids[i]));
            else
                add(city.hard_lines, city.hard_line_keys, g, key(0, hard.fids[i]));
            if (role == "roads" && config.network_distance)
                add(city.road_lines, city.road_line_keys, g, key(0, hard.fids[i]));
        }
        if (soft_rest && !rule.filter.empty()) {
            io::FeatureTable all = io::read_layer(*spec, all_options);
            std::vector<std::int64_t> hard_ids = hard.fids;
            std::sort(hard_ids.begin(), hard_ids.end());
            // The hard read reported the shared features; here they are only repaired alike.
            static_cast<void>(algorithms::repair_polygons(all.geometries, config.threads));
            std::size_t soft = 0;
            for (std::size_t i = 0; i < all.size(); ++i)
                if (!all.geometries[i].empty() && !std::binary_search(hard_ids.begin(), hard_ids.end(), all.fids[i])) {
                    add(city.soft_lines, city.soft_line_keys, all.geometries[i], key(1, all.fids[i]));
                    if (config.network_distance)
                        add(city.road_lines, city.road_line_keys, all.geometries[i], key(1, all.fids[i]));
                    ++soft;
                }
            // The report's feature count is the hard read's; say what else was used (it read as
            // "0 features, no problems found" while the layer's polygons were soft barriers).
            layer_report.fact("soft barriers", std::to_string(soft) + " of the layer's " + std::to_string(all.size()) +
                                                   " features (the rest are hard)");
        }
    };
    read_barriers(config.roads, "roads", config.hard_roads, true);
    read_barriers(config.rivers, "rivers", config.hard_rivers, false);
    read_barriers(config.railways, "railways", config.hard_railways, false);
    // The settled land less the water (river and lake polygons): micro-grids stay on land.
    if (city.region_level == "city" && config.units != "areas")
        city.regions.front().boundary = algorithms::without_water(city.regions.front().boundary, city.hard_areas);
    if (config.network_distance && config.staffing && city.road_lines.empty())
        throw ConfigError(kStage,
                          "--network-distance measures along the roads, but no roads layer was given or it is empty");

    if (config.staffing) read_staff_layers(city, config, options, city_layers);

    for (const char* role : {"workers", "stations"}) {
        const io::FeatureTable& table = std::string(role) == "workers" ? city.workers : city.stations;
        if (table.size() > 0) extents.emplace_back(role, algorithms::extent_of(table.geometries, config.threads));
    }
    report_far_layers(city, extents);
    city.warnings = city.import_report.warning_lines();
    return city;
}

namespace {

// `civgrid check` of layers without buildings (GIS staff check an admin layer they were sent
// before anything else): each layer given is read and checked as the import does, alone, in the
// working CRS its own extent suggests (or --crs).
ImportReport check_layers_alone(const PartitionConfig& config, const std::vector<std::string>& city_layers) {
    struct Role {
        const char* name;
        const LayerSource* source;
        std::vector<std::string> families;
        const char* level;  // admin level, or empty
    };
    const Role roles[] = {
        {"communities", &config.communities, {"polygon"}, "community"},
        {"streets", &config.streets, {"polygon"}, "street"},
        {"districts", &config.districts, {"polygon"}, "district"},
        {"roads", &config.roads, {"line", "polygon"}, ""},
        {"rivers", &config.rivers, {"line", "polygon"}, ""},
        {"railways", &config.railways, {"line", "polygon"}, ""},
    };
    std::vector<std::pair<const Role*, io::LayerSpec>> given;
    for (const Role& role : roles)
        if (auto spec = resolve(config, *role.source, role.name, city_layers)) given.emplace_back(&role, *spec);
    const bool staff =
        config.workers.given() || config.stations.given() || config.facilities.given() || config.work_areas.given() ||
        std::any_of(city_layers.begin(), city_layers.end(), [](const std::string& layer) {
            return layer == "workers" || layer == "stations" || layer == "facilities" || layer == "work_areas";
        });
    if (given.empty() && !staff)
        throw ConfigError(kStage, config.city.empty()
                                      ? "nothing to check: pass a city file, --buildings FILE[:LAYER] or any layer "
                                        "(--communities, --streets, --districts, --roads, --rivers, --railways, "
                                        "--workers, --stations)"
                                      : "'" + config.city + "' has none of the layers civgrid reads");
    City city;
    if (!config.working_crs.empty()) {
        city.crs = config.working_crs;
    } else {
        const io::LayerSpec first = !given.empty()            ? given.front().second
                                    : config.workers.given()  ? io::parse_layer_spec(config.workers.path)
                                    : config.stations.given() ? io::parse_layer_spec(config.stations.path)
                                                              : io::LayerSpec{config.city, "workers"};
        city.crs = io::choose_metric_crs(io::geographic_extent(first, config.assume_crs));
    }
    io::ReadOptions options;
    options.target_crs = city.crs;
    options.assume_crs = config.assume_crs;
    options.coordinate_grid = config.coordinate_grid;
    options.threads = config.threads;
    for (const auto& [role, spec] : given) {
        io::FeatureTable table = io::read_layer(spec, options_for(options, *role->source, role->families));
        city.inputs.emplace_back(role->name, describe(table));
        LayerReport& report = register_layer(city, table, role->name);
        if (city.import_report.layers.size() == 1)
            report.fact("working crs", io::describe_crs(city.crs) + "; checked without buildings");
        require_some_geometry(table, report, role->name, role->families.size() == 1 ? "polygon" : "line or polygon");
        repair_layer(table, report, config.threads);
        if (*role->level != '\0') {
            const std::vector<Region> regions = read_regions(table, role->level, config, report);
            check_coverage(regions, report, config.threads);
        }
    }
    read_staff_layers(city, config, options, city_layers);
    return city.import_report;
}

}  // namespace

ImportReport check_inputs(const PartitionConfig& config) {
    PartitionConfig quiet = config;
    quiet.strict = false;
    validate_config(quiet);
    const std::vector<std::string> city_layers =
        config.city.empty() ? std::vector<std::string>{} : io::list_layers(config.city);
    if (!resolve(quiet, quiet.buildings, "buildings", city_layers)) return check_layers_alone(quiet, city_layers);
    return load_city(quiet).import_report;
}

void enforce_strict(const ImportReport& report, const PartitionConfig& config) {
    if (!config.strict) return;
    const std::vector<std::string> lines = report.warning_lines(10);
    if (lines.empty()) return;
    std::string text;
    for (const std::string& line : lines) text += "\n  " + line;
    throw InputError(kStage, "--strict: the inputs have " + std::to_string(lines.size()) +
                                 " warnings (civgrid check prints the whole report):" + text);
}

void load_staff_layers(City& city, const PartitionConfig& config) {
    const std::vector<std::string> city_layers =
        config.city.empty() ? std::vector<std::string>{} : io::list_layers(config.city);
    io::ReadOptions options;
    options.target_crs = city.crs;
    options.assume_crs = config.assume_crs;
    options.coordinate_grid = config.coordinate_grid;
    options.threads = config.threads;
    options.accepted_families = {"point", "polygon"};
    city.workers = {}, city.stations = {}, city.facilities = {}, city.work_areas = {};
    city.worker_points.clear(), city.station_points.clear(), city.facility_points.clear();
    city.work_area_points.clear();
    std::erase_if(city.inputs, [](const auto& input) {
        return input.first == "workers" || input.first == "stations" || input.first == "facilities" ||
               input.first == "work_areas";
    });
    read_staff_layers(city, config, options, city_layers);
}

ShardPlan plan_shards(const PartitionConfig& config, const std::string& level) {
    validate_config(config);
    if (!level.empty() && level != "district" && level != "street" && level != "community")
        throw ConfigError(kStage, "shard level '" + level + "': district, street or community");
    const Start start = start_reading(config);
    const std::vector<std::string>& city_layers = start.city_layers;
    ShardPlan plan;
    plan.working_crs = start.options.target_crs;
    const io::ReadOptions& options = start.options;

    // The region layer, as load_city chooses it.
    std::vector<Region> regions;
    for (const auto& [region_level, source] :
         {std::pair<std::string, const LayerSource*>{"community", &config.communities},
          {"street", &config.streets},
          {"district", &config.districts}}) {
        if (!config.region_level.empty() && config.region_level != region_level) continue;
        const std::string role = region_level == "community" ? "communities"
                                 : region_level == "street"  ? "streets"
                                                             : "districts";
        const auto spec = resolve(config, *source, role, city_layers);
        if (!spec) continue;
        io::FeatureTable table = io::read_layer(*spec, options_for(options, *source, {"polygon"}));
        LayerReport report;
        regions = read_regions(table, region_level, config, report);
        plan.region_level = region_level;
        break;
    }
    if (regions.empty()) {
        plan.region_level = plan.level = "city";
        plan.shards.push_back(Shard{});
        return plan;
    }

    // The coarsest key every region has (at least two shards), or the level asked for; else each
    // region its own shard.
    auto key_of = [&](const Region& region, const std::string& kind) -> const std::string& {
        if (kind == plan.region_level) return region.code;
        return kind == "district" ? region.district_code : region.street_code;
    };
    const std::vector<std::string> kinds = plan.region_level == "district" ? std::vector<std::string>{"district"}
                                           : plan.region_level == "street"
                                               ? std::vector<std::string>{"district", "street"}
                                               : std::vector<std::string>{"district", "street", "community"};
    plan.level = kinds.back();
    for (const std::string& candidate : kinds) {
        if (!level.empty() && candidate != level) continue;
        std::set<std::string> keys;
        bool complete = true;
        for (const Region& region : regions) {
            complete = complete && !key_of(region, candidate).empty();
            keys.insert(key_of(region, candidate));
        }
        if (complete && (keys.size() >= 2 || !level.empty())) {
            plan.level = candidate;
            break;
        }
    }
    const std::string& kind = plan.level;
    const std::string& field = kind == "district" ? config.district_code_field
                               : kind == "street" ? config.street_code_field
                                                  : config.community_code_field;
    std::map<std::string, std::size_t> shard_of;
    for (const Region& region : regions) {
        const std::string& key = key_of(region, kind);
        const auto [found, added] = shard_of.emplace(key, plan.shards.size());
        if (added) plan.shards.push_back(Shard{ShardSelection{field, key, 0, 0, 0, 0}, 0});
        Shard& shard = plan.shards[found->second];
        const std::optional<geos::Envelope> box = algorithms::extent_of({region.boundary});
        if (!box) continue;
        ShardSelection& selection = shard.selection;
        if (shard.regions == 0) {
            selection.min_x = box->min_x, selection.min_y = box->min_y;
            selection.max_x = box->max_x, selection.max_y = box->max_y;
        } else {
            selection.min_x = std::min(selection.min_x, box->min_x),
            selection.min_y = std::min(selection.min_y, box->min_y);
            selection.max_x = std::max(selection.max_x, box->max_x),
            selection.max_y = std::max(selection.max_y, box->max_y);
        }
        ++shard.regions;
    }
    return plan;
}

}  // namespace civgrid::engine
