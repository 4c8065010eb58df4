#include "read_back.hpp"
#include "values.hpp"

#include <civgrid/algorithms/balance_bound.hpp>
#include <civgrid/algorithms/detailed_outline.hpp>
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/region_locator.hpp>
#include <civgrid/engine/output_schema.hpp>
#include <civgrid/engine/pipeline.hpp>
#include <civgrid/engine/styles.hpp>
#include <civgrid/engine/version.hpp>
#include <civgrid/error.hpp>
#include <civgrid/io/versions.hpp>

#include <geos_c.h>

#include <time.h>
#include <algorithm>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <future>
#include <map>

namespace civgrid::engine {

namespace field_name = schema::field_name;
namespace layer_name = schema::layer_name;

namespace {

constexpr const char* kStage = "engine.output";

std::string flag_names(std::uint8_t flags) {
    using algorithms::Flag;
    std::string names;
    auto add = [&](Flag flag, const char* name) {
        if (flags & static_cast<std::uint8_t>(flag)) names += (names.empty() ? "" : ",") + std::string(name);
    };
    add(Flag::forced_by_boundaries, "forced_by_boundaries");
    add(Flag::large_building, "large_building");
    add(Flag::out_of_bounds, "out_of_bounds");
    add(Flag::no_households, "no_households");
    add(Flag::multipart, "multipart");
    return names;
}

std::string number(double value) {
    return number_text(value);
}

FieldValue text_or_null(const std::string& text) {
    return text.empty() ? FieldValue{} : FieldValue{text};
}

}  // namespace

namespace {

// Every layer but run_info, which needs the quality report: run_partition writes these while the
// report is computed.
// The buildings layer: every input attribute, then where the building went.
io::LayerData buildings_layer(const City& city, const PartitionResult& result) {
    const io::FeatureTable& input = city.buildings;
    io::LayerData buildings = schema::empty_layer(layer_name::buildings);
    buildings.fields = input.fields;
    for (const Wkb& g : input.geometries) {
        const int type = wkb_geometry_type(g);
        if (type == 1 || type == 4) buildings.geometry_kind = io::GeometryKind::point;
        if (type != 0) break;
    }
    auto column = [&](const std::string& name, FieldType type) {
        for (std::size_t j = 0; j < buildings.fields.size(); ++j) {
            std::string a = buildings.fields[j].name, b = name;
            std::transform(a.begin(), a.end(), a.begin(), ::tolower);
            if (a == b) {
                buildings.fields[j].type = type;
                return j;
            }
        }
        buildings.fields.push_back({name, type});
        return buildings.fields.size() - 1;
    };
    // The schema's fields after the input's (an input field of the same name is taken over).
    std::vector<std::size_t> added;
    for (const schema::OutputField& field : schema::layer(layer_name::buildings).fields)
        added.push_back(column(std::string(field.name), field.type));
    // In the schema's order; split_households: what each part holds, so a rerun knows the split.
    const std::size_t grid_column = added[0], grid_level_column = added[1], community_column = added[2],
                      split_column = added[3], split_households_column = added[4], note_column = added[5];
    buildings.rows.reserve(input.size());
    buildings.geometries.reserve(input.size());
    for (std::size_t b = 0; b < input.size(); ++b) {
        // Sized once: a copy of the input's row grown by the added fields reallocated every row.
        std::vector<FieldValue> row;
        row.reserve(buildings.fields.size());
        row.assign(input.rows[b].begin(), input.rows[b].end());
        row.resize(buildings.fields.size());
        const int g = result.building_grid[b];
        const int r = result.building_region[b];
        row[grid_column] = g >= 0 ? FieldValue{result.micro_grids[static_cast<std::size_t>(g)].id} : FieldValue{};
        const int grid_level = g >= 0 ? result.micro_grids[static_cast<std::size_t>(g)].grid : -1;
        row[grid_level_column] =
            grid_level >= 0 ? FieldValue{result.grids[static_cast<std::size_t>(grid_level)].id} : FieldValue{};
        row[community_column] = r >= 0 ? text_or_null(city.regions[static_cast<std::size_t>(r)].code) : FieldValue{};
        row[split_column] = text_or_null(result.building_split[b]);
        row[split_households_column] = b < result.building_split_households.size()
                                           ? text_or_null(result.building_split_households[b])
                                           : FieldValue{};
        row[note_column] = b < city.building_notes.size() ? text_or_null(city.building_notes[b]) : FieldValue{};
        buildings.rows.push_back(std::move(row));
        buildings.geometries.push_back(input.geometries[b]);
    }
    return buildings;
}

void write_partition_layers(const LayerSink& writer, const City& city, const PartitionResult& result,
                            const PartitionConfig& config) {
    const double target = effective_target(result, config);

    // micro_grids
    io::LayerData grids = schema::empty_layer(layer_name::micro_grids);
    for (const MicroGrid& grid : result.micro_grids) {
        const Region& region = city.regions[static_cast<std::size_t>(grid.region)];
        grids.geometries.push_back(grid.shape.polygon);
        const auto households = static_cast<double>(grid.shape.households);
        const std::string grid_id =
            grid.grid >= 0 ? result.grids[static_cast<std::size_t>(grid.grid)].id : std::string();
        const double own_target = result.regions[static_cast<std::size_t>(grid.region)].target > 0
                                      ? result.regions[static_cast<std::size_t>(grid.region)].target
                                      : target;
        grids.rows.push_back(
            {grid.id, text_or_null(grid_id), text_or_null(region.code), text_or_null(region.street_code),
             text_or_null(region.district_code), grid.shape.households, grid.buildings, own_target,
             own_target > 0 ? (households - own_target) / own_target : 0.0, static_cast<std::int64_t>(grid.shape.piece),
             grid.shape.target, text_or_null(flag_names(grid.shape.flags))});
    }
    writer.add_layer(grids);

    // grids: whole micro-grids of a community (written even when empty, so the schema is stable).
    io::LayerData grid_layer = schema::empty_layer(layer_name::grids);
    for (const Grid& grid : result.grids) {
        const Region& region = city.regions[static_cast<std::size_t>(grid.region)];
        grid_layer.geometries.push_back(grid.shape.polygon);
        // A grid aims at its micro-grids' targets added up (whole micro-grids, about --grid-households).
        const double grid_target =
            grid.shape.micro_grids * result.regions[static_cast<std::size_t>(grid.region)].target;
        grid_layer.rows.push_back(
            {grid.id, text_or_null(region.code), text_or_null(region.street_code), text_or_null(region.district_code),
             grid.shape.households, static_cast<std::int64_t>(grid.shape.micro_grids), grid.buildings, grid_target,
             grid_target > 0 ? (static_cast<double>(grid.shape.households) - grid_target) / grid_target : 0.0,
             static_cast<std::int64_t>(grid.shape.multipart ? 1 : 0)});
    }
    writer.add_layer(grid_layer);

    writer.add_layer(buildings_layer(city, result));

    writer.add_layer(barriers_layer(city));
}

constexpr double kWorkersPer10k = RegionStandards::kWorkersPer10k,
                 kFacilityM2Per100 = RegionStandards::kFacilityM2Per100;

}  // namespace

io::LayerData barriers_layer(const City& city) {
    // The hard barrier lines used (river outlines as lines), for `civgrid report`.
    io::LayerData barriers = schema::empty_layer(layer_name::barriers);
    geos::Context context;
    for (const Wkb& line : city.hard_lines) {
        barriers.geometries.push_back(line);
        barriers.rows.push_back({std::string("line")});
    }
    for (const Wkb& area : city.hard_areas) {
        const geos::Geom polygon = geos::from_wkb(context, area);
        const geos::Geom outline = geos::boundary(context, polygon.get(), "outlining a barrier area");
        barriers.geometries.push_back(geos::to_wkb(context, outline.get()));
        barriers.rows.push_back({std::string("area_outline")});
    }
    return barriers;
}

RegionStandards standards_of(const City& city, const PartitionResult& result, const Staffing* staffing,
                             const PartitionConfig& config) {
    RegionStandards out;
    const std::size_t regions = city.regions.size();
    out.residents.assign(regions, 0.0);
    for (std::size_t b = 0; b < result.building_region.size(); ++b)
        if (result.building_region[b] >= 0 && b < city.building_residents.size())
            out.residents[static_cast<std::size_t>(result.building_region[b])] += city.building_residents[b];
    out.staffed = staffing != nullptr && staffing->present;
    out.workers.assign(regions, 0);
    out.workers_per_10k.assign(regions, 0.0);
    if (out.staffed) {
        std::vector<std::vector<std::uint32_t>> seen(regions);
        for (const auto& a : staffing->workers.assignments)
            seen[static_cast<std::size_t>(result.micro_grids[a.micro_grid].region)].push_back(a.worker);
        for (std::size_t r = 0; r < regions; ++r) {
            std::sort(seen[r].begin(), seen[r].end());
            out.workers[r] = std::unique(seen[r].begin(), seen[r].end()) - seen[r].begin();
            out.workers_per_10k[r] =
                out.residents[r] > 0 ? 10000.0 * static_cast<double>(out.workers[r]) / out.residents[r] : 0.0;
        }
    }
    out.facilities = city.facilities.size() > 0;
    out.facility_m2_per_100.assign(regions, 0.0);
    if (out.facilities) {
        const int area = city.facilities.field_index(config.facility_area_field);
        std::vector<Wkb> boundaries;
        for (const Region& region : city.regions) boundaries.push_back(region.boundary);
        const std::vector<int> holder =
            algorithms::RegionLocator(std::move(boundaries)).locate_all(city.facility_points, config.threads);
        std::vector<double> floor(regions, 0.0);
        for (std::size_t f = 0; f < city.facilities.size(); ++f) {
            if (area < 0 || holder[f] < 0) continue;
            const FieldValue& value = city.facilities.rows[f][static_cast<std::size_t>(area)];
            const double m2 = std::holds_alternative<double>(value)
                                  ? std::get<double>(value)
                                  : static_cast<double>(as_integer(value).value_or(0));
            floor[static_cast<std::size_t>(holder[f])] += m2;
        }
        for (std::size_t r = 0; r < regions; ++r)
            out.facility_m2_per_100[r] = result.regions[r].households > 0
                                             ? 100.0 * floor[r] / static_cast<double>(result.regions[r].households)
                                             : 0.0;
    }
    for (std::size_t r = 0; r < regions; ++r) {
        if (out.residents[r] <= 0) continue;
        ++out.with_residents;
        out.meeting_workers += out.workers_per_10k[r] >= kWorkersPer10k ? 1 : 0;
        out.meeting_facilities += out.facility_m2_per_100[r] >= kFacilityM2Per100 ? 1 : 0;
    }
    return out;
}

namespace {

// streets: the communities of each street merged (community level only, when communities carry a
// street code), for the street boundaries on a map.
void write_streets(const LayerSink& writer, const City& city, const PartitionResult& result) {
    std::map<std::string, std::vector<std::size_t>> members;
    for (std::size_t r = 0; r < city.regions.size(); ++r)
        if (!city.regions[r].street_code.empty()) members[city.regions[r].street_code].push_back(r);
    if (members.empty()) return;
    io::LayerData streets = schema::empty_layer(layer_name::streets);
    geos::Context context;
    for (const auto& [code, regions] : members) {
        std::vector<geos::Geom> parts;
        std::int64_t households = 0, micro_grids = 0;
        for (std::size_t r : regions) {
            parts.push_back(geos::from_wkb(context, city.regions[r].boundary));
            // A community boundary of more than kDetailedOutline vertices is united simplified to
            // 5 cm (as the import compares it with its neighbours): GEOS's union of a zig-zagging
            // million-vertex boundary with its neighbours assigns a hole per tooth, for minutes.
            constexpr double kSimplified = 0.05;  // metres
            parts.back() = algorithms::lightened(context, std::move(parts.back()), kSimplified);
            households += result.regions[r].households;
            micro_grids += static_cast<std::int64_t>(result.regions[r].micro_grids);
        }
        const geos::Geom all = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(parts));
        const geos::Geom merged = geos::unary_union(context, all.get(), "merging the communities of a street");
        streets.geometries.push_back(geos::to_wkb(context, merged.get()));
        streets.rows.push_back({code, text_or_null(city.regions[regions.front()].district_code),
                                static_cast<std::int64_t>(regions.size()), households, micro_grids});
    }
    writer.add_layer(streets);
}

// communities (or the regions used): a summary per region, with its staffing when there is any.
void write_regions(const LayerSink& writer, const City& city, const PartitionResult& result, const Staffing* staffing,
                   const RegionStandards& standards) {
    io::LayerData regions = schema::empty_layer(layer_name::communities);
    // Staffing per region: distinct micro-grid workers on its micro-grids, its unstaffed
    // micro-grids, mobile workers on its grids (null without workers).
    const bool staffed = staffing != nullptr && staffing->present;
    const std::vector<std::int64_t>& workers = standards.workers;
    std::vector<std::int64_t> unstaffed(city.regions.size(), 0), mobile(city.regions.size(), 0);
    if (staffed) {
        for (std::uint32_t g : staffing->workers.unstaffed)
            ++unstaffed[static_cast<std::size_t>(result.micro_grids[g].region)];
        for (const auto& a : staffing->mobile.assignments)
            ++mobile[static_cast<std::size_t>(result.grids[a.micro_grid].region)];
    }
    auto staffed_value = [&](std::int64_t value) { return staffed ? FieldValue{value} : FieldValue{}; };
    // Micro-grids within +-10 % of their community's target, beside the best the counts allow.
    std::vector<std::int64_t> within_10(city.regions.size(), 0);
    for (const MicroGrid& grid : result.micro_grids) {
        if (algorithms::is_within(grid.shape.households, result.regions[static_cast<std::size_t>(grid.region)].target))
            ++within_10[static_cast<std::size_t>(grid.region)];
    }
    for (std::size_t r = 0; r < city.regions.size(); ++r) {
        const Region& region = city.regions[r];
        const RegionSummary& summary = result.regions[r];
        regions.geometries.push_back(region.boundary);
        regions.rows.push_back(
            {text_or_null(region.code),
             text_or_null(region.name),
             text_or_null(region.street_code),
             text_or_null(region.district_code),
             city.region_level,
             summary.households,
             summary.buildings,
             static_cast<std::int64_t>(summary.requested),
             static_cast<std::int64_t>(summary.micro_grids),
             static_cast<std::int64_t>(summary.grids),
             summary.target,
             within_10[r],
             summary.best_within_10 >= 0 ? FieldValue{static_cast<std::int64_t>(summary.best_within_10)} : FieldValue{},
             summary.best_within_10_in_bounds >= 0
                 ? FieldValue{static_cast<std::int64_t>(summary.best_within_10_in_bounds)}
                 : FieldValue{},
             static_cast<std::int64_t>(summary.pieces),
             static_cast<std::int64_t>(summary.faces),
             staffed_value(workers[r]),
             staffed_value(unstaffed[r]),
             staffed_value(mobile[r]),
             standards.residents[r],
             standards.staffed ? FieldValue{standards.workers_per_10k[r]} : FieldValue{},
             standards.staffed ? FieldValue{std::int64_t{standards.workers_per_10k[r] >= kWorkersPer10k}}
                               : FieldValue{},
             standards.facilities ? FieldValue{standards.facility_m2_per_100[r]} : FieldValue{},
             standards.facilities ? FieldValue{std::int64_t{standards.facility_m2_per_100[r] >= kFacilityM2Per100}}
                                  : FieldValue{}});
    }
    writer.add_layer(regions);
    if (city.region_level == "community") write_streets(writer, city, result);
}

// workers: each worker's home (a point), its role and what it was given, for the map.
void write_workers(const LayerSink& writer, const City& city, const PartitionResult& result, const Staffing& staffing,
                   const PartitionConfig& config) {
    io::LayerData layer = schema::empty_layer(layer_name::workers);
    const std::size_t rows = city.workers.size();
    std::vector<std::string> role(rows), ids(rows);
    std::vector<std::int64_t> assigned(rows, 0);
    auto give = [&](std::uint32_t row, const char* kind, const std::string& id) {
        role[row] = kind;
        ++assigned[row];
        ids[row] += (ids[row].empty() ? "" : ",") + id;
    };
    for (std::uint32_t row : staffing.worker_rows) role[row] = "micro_grid_worker";
    for (std::uint32_t row : staffing.mobile_rows) role[row] = "mobile_worker";
    for (const auto& a : staffing.workers.assignments)
        give(staffing.worker_rows[a.worker], "micro_grid_worker", result.micro_grids[a.micro_grid].id);
    for (const auto& a : staffing.mobile.assignments)
        give(staffing.mobile_rows[a.worker], "mobile_worker", result.grids[a.micro_grid].id);
    const int id = city.workers.field_index(config.worker_id_field);
    geos::Context context;
    for (std::size_t row = 0; row < rows && row < city.worker_points.size(); ++row) {
        const Point home = city.worker_points[row];
        if (!std::isfinite(home.x) || !std::isfinite(home.y)) continue;  // dropped on import
        const geos::Geom point = geos::point(context, home);
        layer.geometries.push_back(geos::to_wkb(context, point.get()));
        layer.rows.push_back({id >= 0 ? as_text(city.workers.rows[row][static_cast<std::size_t>(id)])
                                      : std::to_string(city.workers.fids[row]),
                              text_or_null(role[row]), assigned[row], text_or_null(ids[row])});
    }
    writer.add_layer(layer);
}

// worker_assignments: a row per (worker, micro-grid); an attribute table (the workers layer has
// the homes; joining on worker_id shows them).
void write_staffing(const LayerSink& writer, const City& city, const PartitionResult& result, const Staffing& staffing,
                    const PartitionConfig& config) {
    io::LayerData layer = schema::empty_layer(layer_name::worker_assignments);
    const int id = city.workers.field_index(config.worker_id_field);
    for (const auto& assignment : staffing.workers.assignments) {
        const std::uint32_t row = staffing.worker_rows[assignment.worker];
        const MicroGrid& grid = result.micro_grids[assignment.micro_grid];
        const std::string worker_id = id >= 0 ? as_text(city.workers.rows[row][static_cast<std::size_t>(id)])
                                              : std::to_string(city.workers.fids[row]);
        const std::string grid_id =
            grid.grid >= 0 ? result.grids[static_cast<std::size_t>(grid.grid)].id : std::string();
        layer.rows.push_back({worker_id, grid.id, text_or_null(grid_id),
                              text_or_null(city.regions[static_cast<std::size_t>(grid.region)].code),
                              std::string("micro_grid_worker"), assignment.distance_m});
    }
    for (const auto& assignment : staffing.mobile.assignments) {
        const std::uint32_t row = staffing.mobile_rows[assignment.worker];
        const Grid& grid = result.grids[assignment.micro_grid];
        const std::string worker_id = id >= 0 ? as_text(city.workers.rows[row][static_cast<std::size_t>(id)])
                                              : std::to_string(city.workers.fids[row]);
        layer.rows.push_back({worker_id, FieldValue{}, grid.id,
                              text_or_null(city.regions[static_cast<std::size_t>(grid.region)].code),
                              std::string("mobile_worker"), assignment.distance_m});
    }
    if (staffing.present) {
        writer.add_layer(layer);
        write_workers(writer, city, result, staffing, config);
    }
    if (staffing.utilities.empty()) return;

    // service_assignments: micro-grid, utility, station; stations: load against capacity.
    io::LayerData service = schema::empty_layer(layer_name::service_assignments);
    io::LayerData station_layer = schema::empty_layer(layer_name::stations);
    const int station_id = city.stations.field_index(config.station_id_field);
    auto station_name = [&](std::uint32_t row) {
        return station_id >= 0 ? as_text(city.stations.rows[row][static_cast<std::size_t>(station_id)])
                               : std::to_string(city.stations.fids[row]);
    };
    geos::Context context;
    for (const Staffing::Utility& u : staffing.utilities) {
        std::vector<std::int64_t> served(u.station_rows.size(), 0);
        for (std::size_t g = 0; g < result.micro_grids.size(); ++g) {
            const int s = u.result.station[g];
            if (s >= 0) ++served[static_cast<std::size_t>(s)];
            service.rows.push_back(
                {result.micro_grids[g].id, u.name,
                 s >= 0 ? FieldValue{station_name(u.station_rows[static_cast<std::size_t>(s)])} : FieldValue{},
                 s >= 0 ? FieldValue{u.result.distance_m[g]} : FieldValue{}});
        }
        for (std::size_t s = 0; s < u.station_rows.size(); ++s) {
            const std::uint32_t row = u.station_rows[s];
            const geos::Geom point = geos::point(context, city.station_points[row]);
            station_layer.geometries.push_back(geos::to_wkb(context, point.get()));
            const std::int64_t capacity = u.capacity[s];
            station_layer.rows.push_back(
                {station_name(row), u.name, capacity, u.result.load[s], served[s],
                 capacity > 0 ? static_cast<double>(u.result.load[s]) / static_cast<double>(capacity) : 0.0});
        }
    }
    writer.add_layer(service);
    writer.add_layer(station_layer);
}

// run_info: parameters, inputs, versions, timings, quality, warnings.
void write_run_info(const LayerSink& writer, const City& city, const PartitionResult& result,
                    const algorithms::QualityReport& report, const PartitionConfig& config,
                    const std::vector<std::pair<std::string, double>>& timings, const Staffing* staffing,
                    const RegionStandards& standards, const ExtraOutput* extra = nullptr) {
    const double target = effective_target(result, config);
    io::LayerData info = schema::empty_layer(layer_name::run_info);
    auto put = [&](const std::string& section, const std::string& key, const std::string& value) {
        info.rows.push_back({section, key, value});
    };
    put("parameters", "target_households", number(config.target_households));
    put("parameters", "households_field", config.households_field);
    put("parameters", "effective_target", number(target));
    put("parameters", "micro_grid_count", std::to_string(config.micro_grid_count));
    put("parameters", "tolerance", number(config.tolerance));
    put("parameters", "min_households", number(config.min_households));
    put("parameters", "max_households", number(config.max_households));
    put("parameters", "hard_min_households", number(config.hard_min_households));
    put("parameters", "grid_households", number(config.grid_households));
    put("parameters", "count_field", config.count_field);
    put("parameters", "grid_count", std::to_string(config.grid_count));
    put("parameters", "grid_count_field", config.grid_count_field);
    put("parameters", "split_piece_households", std::to_string(config.split_piece_households));
    put("parameters", "soft_barrier_weight", number(config.soft_barrier_weight));
    put("parameters", "compactness", number(config.compactness));
    put("parameters", "hard_roads", config.hard_roads.filter);
    put("parameters", "hard_rivers", config.hard_rivers.filter);
    put("parameters", "hard_railways", config.hard_railways.filter);
    put("parameters", "seed", std::to_string(config.seed));
    put("parameters", "threads", std::to_string(config.threads));
    put("parameters", "working_crs", city.crs);
    put("parameters", "coordinate_grid", number(config.coordinate_grid));
    put("parameters", "region_level", city.region_level);
    put("parameters", "units", config.units.empty() ? "buildings" : config.units);
    if (config.split_large_units) put("parameters", "split_large_units", "true");
    if (config.units == "areas") put("parameters", "coverage_tolerance", number(config.coverage_tolerance));
    for (const auto& [role, description] : city.inputs) put("inputs", role, description);
    put("versions", "civgrid", kVersion);
    put("versions", "geos", GEOSversion());
    put("versions", "gdal", io::gdal_version());
    put("versions", "proj", io::proj_version());
    for (const auto& [stage, seconds] : timings) put("timings", stage + "_s", number(seconds));
    for (const auto& [key, value] : report.rows()) put("quality", key, value);
    std::size_t w = 0;
    for (const auto& warning : city.warnings) put("warnings", std::to_string(++w), warning);
    for (const auto& warning : result.warnings) put("warnings", std::to_string(++w), warning);
    // The import report in full (civgrid check prints the same, with id lists capped).
    for (const LayerReport& layer : city.import_report.layers) {
        put("import", layer.role, layer.where() + ", " + std::to_string(layer.features) + " features");
        for (const auto& [key, value] : layer.facts) put("import", layer.role + "." + key, value);
        for (const Finding& finding : layer.findings)
            put("import", layer.role + "." + finding.action + "." + finding.reason,
                std::string(finding.severity == Severity::warning ? "warning" : "info") + ": " +
                    std::to_string(finding.ids.size()) + " features; " + finding.policy +
                    "; feature ids: " + ImportReport::id_list(finding.ids, 0));
    }
    if (staffing != nullptr)
        for (const Staffing::Utility& u : staffing->utilities) {
            put("utilities", u.name + ".stations", std::to_string(u.station_rows.size()));
            put("utilities", u.name + ".unassigned_micro_grids", std::to_string(u.result.unassigned.size()));
            std::string ids;
            for (std::size_t i = 0; i < u.result.unassigned.size() && i < 50; ++i)
                ids += (ids.empty() ? "" : ", ") + result.micro_grids[u.result.unassigned[i]].id;
            if (!ids.empty())
                put("utilities", u.name + ".unassigned_ids", ids + (u.result.unassigned.size() > 50 ? ", ..." : ""));
            put("utilities", u.name + ".household_metres", number(u.result.weighted_distance));
            put("utilities", u.name + ".lower_bound_household_metres", number(u.result.lower_bound));
            put("utilities", u.name + ".split_micro_grids_repaired", std::to_string(u.result.split_repaired));
            put("utilities", u.name + ".outside_service_areas", std::to_string(u.result.outside_service_areas));
        }
    if (standards.staffed)
        put("standards", "regions_meeting_18_workers_per_10k_residents",
            std::to_string(standards.meeting_workers) + " of " + std::to_string(standards.with_residents));
    if (standards.facilities)
        put("standards", "regions_meeting_30_m2_facilities_per_100_households",
            std::to_string(standards.meeting_facilities) + " of " + std::to_string(standards.with_residents));
    if (staffing != nullptr && staffing->present) {
        const algorithms::StaffingResult& s = staffing->workers;
        put("staffing", "micro_grid_workers", std::to_string(staffing->micro_grid_workers));
        put("staffing", "mobile_workers", std::to_string(staffing->mobile_workers));
        put("staffing", "mobile_assigned", std::to_string(staffing->mobile.assignments.size()));
        put("staffing", "mobile_mean_distance_m", number(staffing->mobile.mean_distance_m));
        put("staffing", "assignments", std::to_string(s.assignments.size()));
        put("staffing", "unstaffed_micro_grids", std::to_string(s.unstaffed.size()));
        std::string unstaffed_ids;
        for (std::size_t i = 0; i < s.unstaffed.size() && i < 50; ++i)
            unstaffed_ids += (unstaffed_ids.empty() ? "" : ", ") + result.micro_grids[s.unstaffed[i]].id;
        if (!unstaffed_ids.empty())
            put("staffing", "unstaffed_ids", unstaffed_ids + (s.unstaffed.size() > 50 ? ", ..." : ""));
        put("staffing", "distance", s.along_roads ? "along the roads" : "straight line");
        if (s.along_roads) {
            put("staffing", "unreached_candidates", std::to_string(s.unreached_candidates));
            put("staffing", "off_road_assignments", std::to_string(s.off_road_assignments));
        }
        put("staffing", "mean_distance_m", number(s.mean_distance_m));
        put("staffing", "p95_distance_m", number(s.p95_distance_m));
        put("staffing", "max_distance_m", number(s.max_distance_m));
        put("staffing", "total_distance_m", number(s.total_distance_m));
        put("staffing", "street_round_distance_m", number(s.first_round_distance_m));
        put("staffing", "street_round_staffed", std::to_string(s.first_round_staffed));
        put("staffing", "greedy_distance_m", number(s.greedy_total_distance_m));
        put("staffing", "greedy_unstaffed", std::to_string(s.greedy_unstaffed));
        put("staffing", "seconds", number(staffing->seconds));
    }
    if (extra != nullptr)
        for (const auto& [section, key, value] : extra->info) put(section, key, value);
    writer.add_layer(info);
}

}  // namespace

void partition_layers(const City& city, const PartitionResult& result, const PartitionConfig& config,
                      const LayerSink& sink) {
    write_partition_layers(sink, city, result, config);
}

void staffed_layers(const City& city, const PartitionResult& result, const PartitionConfig& config,
                    const Staffing* staffing, const RegionStandards& standards, const LayerSink& sink) {
    write_regions(sink, city, result, staffing, standards);
    if (staffing != nullptr && (staffing->present || !staffing->utilities.empty()))
        write_staffing(sink, city, result, *staffing, config);
}

void closing_layers(const City& city, const PartitionResult& result, const algorithms::QualityReport& report,
                    const PartitionConfig& config, const std::vector<std::pair<std::string, double>>& timings,
                    const Staffing* staffing, const RegionStandards& standards, const LayerSink& sink,
                    const ExtraOutput* extra) {
    if (extra != nullptr)
        for (const io::LayerData& layer : extra->layers) sink.add_layer(layer);
    write_run_info(sink, city, result, report, config, timings, staffing, standards, extra);
}

void result_layers(const City& city, const PartitionResult& result, const algorithms::QualityReport& report,
                   const PartitionConfig& config, const std::vector<std::pair<std::string, double>>& timings,
                   const Staffing* staffing, const LayerSink& sink, const ExtraOutput* extra) {
    partition_layers(city, result, config, sink);
    const RegionStandards standards = standards_of(city, result, staffing, config);
    staffed_layers(city, result, config, staffing, standards, sink);
    closing_layers(city, result, report, config, timings, staffing, standards, sink, extra);
}

void write_result(const std::string& path, const City& city, const PartitionResult& result,
                  const algorithms::QualityReport& report, const PartitionConfig& config,
                  const std::vector<std::pair<std::string, double>>& timings, const Staffing* staffing,
                  const ExtraOutput* extra, RunControl* control) {
    io::check_output_path(path, input_sources(config));
    io::OutputReservation output(path);
    write_result(output, city, result, report, config, timings, staffing, extra, control);
    output.commit();
}

void write_result(io::OutputReservation& output, const City& city, const PartitionResult& result,
                  const algorithms::QualityReport& report, const PartitionConfig& config,
                  const std::vector<std::pair<std::string, double>>& timings, const Staffing* staffing,
                  const ExtraOutput* extra, RunControl* control) {
    io::GeoPackageWriter writer(output, city.crs);
    if (control != nullptr) control->begin("write");
    // A cancelled run stops between layers; the uncommitted writer then removes its temporary file.
    const LayerSink sink{[&](const io::LayerData& layer) {
        if (control != nullptr) control->check(kStage);
        writer.add_layer(layer);
        if (control != nullptr) control->step();
    }};
    result_layers(city, result, report, config, timings, staffing, sink, extra);
    if (control != nullptr) control->check(kStage);
    writer.add_styles(layer_styles(writer.layers()));  // QGIS opens every layer styled
    writer.close();
}

algorithms::QualityReport report_file(const std::string& path, int threads) {
    // Nothing in the file is trusted (read_back.hpp): fields are looked up before use, counts and
    // targets range-checked, and geometries checked before GEOS sees them.
    using read_back::required_field;
    constexpr const char* stage = "engine.report";
    const auto layers = io::list_layers(path);
    for (const char* needed : {"micro_grids", "buildings", "communities", "barriers", "run_info"})
        if (std::find(layers.begin(), layers.end(), needed) == layers.end())
            throw InputError(stage, "'" + path + "' has no layer '" + needed + "': not a civgrid output file");
    const io::FeatureTable info = io::read_layer(read_back::output_layer(path, layer_name::run_info));
    std::map<std::string, std::string> values;
    const int key = required_field(info, field_name::key, stage),
              value = required_field(info, field_name::value, stage),
              section = required_field(info, field_name::section, stage);
    for (std::size_t i = 0; i < info.size(); ++i)
        values[as_text(info.rows[i][static_cast<std::size_t>(section)]) + "." +
               as_text(info.rows[i][static_cast<std::size_t>(key)])] =
            as_text(info.rows[i][static_cast<std::size_t>(value)]);
    algorithms::QualityInput input;
    input.threads = threads;
    auto parameter = [&](const std::string& name, double low, double high) {
        const auto found = values.find(name);
        const std::optional<double> parsed =
            found == values.end() ? std::nullopt : as_number(FieldValue{found->second});
        if (!parsed || *parsed < low || *parsed > high)
            throw InputError(stage, "'" + path + "', layer 'run_info', key '" + name +
                                        "': " + (found == values.end() ? "missing" : "'" + found->second + "'") +
                                        " is not a number from " + number(low) + " to " + number(high));
        return *parsed;
    };
    constexpr auto most = static_cast<double>(read_back::kMaxHouseholds);
    input.target_households = parameter("parameters.effective_target", 1e-9, most);
    input.tolerance = parameter("parameters.tolerance", 0, 1);
    input.requested = static_cast<std::int64_t>(parameter("quality.requested", 0, most));

    const io::FeatureTable regions = io::read_layer(read_back::output_layer(path, layer_name::communities));
    read_back::check_geometries(regions, read_back::Shape::valid_polygons, false, stage);
    const int region_code = required_field(regions, field_name::community_code, stage);
    std::map<std::string, int> region_index;
    for (std::size_t r = 0; r < regions.size(); ++r) {
        input.regions.push_back(regions.geometries[r]);
        region_index[as_text(regions.rows[r][static_cast<std::size_t>(region_code)])] = static_cast<int>(r);
    }
    // The best-balance bound of each community, when the file has it for every one (older outputs
    // do not); the report never lets a bound fall below what was reached or above the count.
    if (const int best = regions.field_index(field_name::best_within_10); best >= 0) {
        for (std::size_t r = 0; r < regions.size(); ++r) {
            const auto bound = as_integer(regions.rows[r][static_cast<std::size_t>(best)]);
            if (!bound || *bound < 0) {
                input.region_best_within_10.clear();
                input.region_codes.clear();
                break;
            }
            input.region_best_within_10.push_back(*bound);
            input.region_codes.push_back(as_text(regions.rows[r][static_cast<std::size_t>(region_code)]));
        }
    }
    if (const int best = regions.field_index(field_name::best_within_10_in_bounds);
        best >= 0 && input.region_best_within_10.size() == regions.size()) {
        for (std::size_t r = 0; r < regions.size(); ++r) {
            const auto bound = as_integer(regions.rows[r][static_cast<std::size_t>(best)]);
            if (!bound || *bound < 0) {
                input.region_best_within_10_in_bounds.clear();
                break;
            }
            input.region_best_within_10_in_bounds.push_back(*bound);
        }
    }
    const io::FeatureTable grids = io::read_layer(read_back::output_layer(path, layer_name::micro_grids));
    // Invalid micro-grids are what the report counts (and measures repaired); unreadable ones are not.
    read_back::check_geometries(grids, read_back::Shape::polygons, false, stage);
    const int grid_id = required_field(grids, field_name::micro_grid_id, stage),
              grid_region = required_field(grids, field_name::community_code, stage),
              grid_households = required_field(grids, field_name::households, stage),
              grid_flags = grids.field_index(field_name::flags), grid_target = grids.field_index(field_name::target);
    std::map<std::string, int> grid_index;
    for (std::size_t g = 0; g < grids.size(); ++g) {
        const auto& row = grids.rows[g];
        const std::string flags = grid_flags >= 0 ? as_text(row[static_cast<std::size_t>(grid_flags)]) : "";
        const bool forced = !flags.empty() && flags != "multipart" && flags.find("out_of_bounds") == std::string::npos;
        const auto found = region_index.find(as_text(row[static_cast<std::size_t>(grid_region)]));
        input.micro_grids.push_back({grids.geometries[g], found == region_index.end() ? -1 : found->second,
                                     read_back::count_at(grids, g, grid_households, stage), forced,
                                     read_back::target_at(grids, g, grid_target, stage),
                                     flags.find("out_of_bounds") != std::string::npos,
                                     flags.find("multipart") != std::string::npos});
        grid_index[as_text(row[static_cast<std::size_t>(grid_id)])] = static_cast<int>(g);
    }
    if (std::find(layers.begin(), layers.end(), "grids") != layers.end()) {
        const io::FeatureTable grid_layer = io::read_layer(read_back::output_layer(path, layer_name::grids));
        read_back::check_geometries(grid_layer, read_back::Shape::polygons, false, stage);
        const int households = required_field(grid_layer, field_name::households, stage),
                  target = grid_layer.field_index(field_name::target);
        for (std::size_t g = 0; g < grid_layer.size(); ++g)
            input.grids.push_back({grid_layer.geometries[g], read_back::count_at(grid_layer, g, households, stage),
                                   read_back::target_at(grid_layer, g, target, stage)});
    }
    const io::FeatureTable buildings = io::read_layer(read_back::output_layer(path, layer_name::buildings));
    const int building_grid = required_field(buildings, field_name::micro_grid_id, stage);
    const auto households_field = values.find("parameters.households_field");
    const int building_households =
        buildings.field_index(households_field == values.end() ? "households" : households_field->second);
    geos::Context context;
    for (std::size_t b = 0; b < buildings.size(); ++b) {
        if (buildings.geometries[b].empty()) continue;
        // Buildings keep their input geometry, whatever it is (one the import left outside every
        // community may lie anywhere); only a point inside each is needed.
        const geos::Geom geometry = geos::from_wkb_nullable(context, buildings.geometries[b]);
        if (!geometry) throw InputError(stage, read_back::where(buildings, b) + ": the geometry cannot be read");
        if (geos::is_empty(context, geometry.get())) continue;
        const geos::Geom point = geos::point_on_surface_or_null(context, geometry.get());
        if (!point || geos::is_empty(context, point.get()))
            throw InputError(stage, read_back::where(buildings, b) + ": no point inside the geometry: " +
                                        (context.last_error().empty() ? "invalid" : context.last_error()));
        input.building_points.push_back(geos::point_xy(context, point.get()));
        const auto found = grid_index.find(as_text(buildings.rows[b][static_cast<std::size_t>(building_grid)]));
        input.building_grid.push_back(found == grid_index.end() ? -1 : found->second);
        // The input's own households attribute: any value; only whether it is positive matters.
        input.building_households.push_back(
            building_households < 0
                ? 1
                : as_integer(buildings.rows[b][static_cast<std::size_t>(building_households)]).value_or(0));
    }
    const io::FeatureTable barriers = io::read_layer(read_back::output_layer(path, layer_name::barriers));
    read_back::check_geometries(barriers, read_back::Shape::any, false, stage);
    input.barriers = barriers.geometries;
    return algorithms::compute_quality(input);
}

}  // namespace civgrid::engine
