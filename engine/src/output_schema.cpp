#include <civgrid/engine/output_schema.hpp>
#include <civgrid/error.hpp>

#include <array>
#include <string>

namespace civgrid::engine::schema {

namespace {

using F = OutputField;
constexpr FieldType text = FieldType::string, integer = FieldType::integer, real = FieldType::real;

constexpr std::array kMicroGrids{
    F{"micro_grid_id", text, "code: community code, M, number (kept by reruns, never reused)"},
    F{"grid_id", text, "the grid it belongs to"},
    F{"community_code", text, "its community (the region it nests in)"},
    F{"street_code", text, "its street"},
    F{"district_code", text, "its district"},
    F{"households", integer, "households in it"},
    F{"buildings", integer, "buildings with households in it"},
    F{"target", real, "households aimed at (the region's average)"},
    F{"deviation", real, "(households - target) / target"},
    F{"piece", integer, "the barrier-bounded piece of the region it was drawn in"},
    F{"piece_target", real, "the target within that piece"},
    F{"flags", text, "why it is out of bounds or unusual (comma-separated), empty when not"},
};
constexpr std::array kGrids{
    F{"grid_id", text, "code: community code, G, number"},
    F{"community_code", text, "its community"},
    F{"street_code", text, "its street"},
    F{"district_code", text, "its district"},
    F{"households", integer, "households in it"},
    F{"micro_grids", integer, "micro-grids in it"},
    F{"buildings", integer, "buildings with households in it"},
    F{"target", real, "its micro-grids' targets added up"},
    F{"deviation", real, "(households - target) / target"},
    F{"multipart", integer, "1 when its micro-grids do not touch each other"},
};
constexpr std::array kBuildings{
    F{"micro_grid_id", text, "its micro-grid (the one with most of its households when split)"},
    F{"grid_id", text, "its grid"},
    F{"community_code", text, "its community"},
    F{"split_micro_grids", text, "the micro-grids of its parts when split (';'-separated)"},
    F{"split_households", text, "the households of each part when split (';'-separated)"},
    F{"import_note", text, "what the import did to it (repaired, households read as, ...)"},
};
constexpr std::array kBarriers{
    F{"source", text, "line (a line of roads, rivers or railways) or area_outline (the outline of a polygon of one)"},
};
constexpr std::array kStreets{
    F{"street_code", text, "code"},
    F{"district_code", text, "its district"},
    F{"communities", integer, "communities in it"},
    F{"households", integer, "households in it"},
    F{"micro_grids", integer, "micro-grids in it"},
};
constexpr std::array kCommunities{
    F{"community_code", text, "code"},
    F{"name", text, "name from the input"},
    F{"street_code", text, "its street"},
    F{"district_code", text, "its district"},
    F{"level", text, "the admin level of the regions (community, street, district, city)"},
    F{"households", integer, "households in it"},
    F{"buildings", integer, "buildings with households in it"},
    F{"requested", integer, "micro-grids asked for"},
    F{"micro_grids", integer, "micro-grids made"},
    F{"grids", integer, "grids made"},
    F{"target", real, "households aimed at per micro-grid"},
    F{"within_10", integer, "micro-grids within 10 % of target"},
    F{"best_within_10", integer, "the most that can be within 10 % with this count (upper bound)"},
    F{"best_within_10_in_bounds", integer,
      "the same for plans keeping every micro-grid within the balance bounds where the data allows"},
    F{"pieces", integer, "barrier-bounded pieces"},
    F{"faces", integer, "faces of the barrier network"},
    F{"micro_grid_workers", integer, "micro-grid workers assigned"},
    F{"unstaffed_micro_grids", integer, "micro-grids without a micro-grid worker"},
    F{"mobile_workers", integer, "mobile workers assigned"},
    F{"residents", real, "residents (households times the household size)"},
    F{"workers_per_10k_residents", real, "community workers per 10,000 residents (standard: 18)"},
    F{"meets_worker_standard", integer, "1 when it meets 18 per 10,000"},
    F{"facility_m2_per_100_households", real, "service space per 100 households (standard: 30 m2)"},
    F{"meets_facility_standard", integer, "1 when it meets 30 m2 per 100 households"},
};
constexpr std::array kWorkers{
    F{"worker_id", text, "id from the input"},
    F{"role", text, "micro_grid_worker or mobile_worker; empty when given nothing"},
    F{"assigned", integer, "micro-grids given"},
    F{"assigned_ids", text, "their ids (comma-separated)"},
};
constexpr std::array kWorkerAssignments{
    F{"worker_id", text, "the worker"},
    F{"micro_grid_id", text, "the micro-grid"},
    F{"grid_id", text, "its grid"},
    F{"community_code", text, "its community"},
    F{"role", text, "micro_grid_worker or mobile_worker"},
    F{"distance_m", real, "from home to the micro-grid (road network where given), metres"},
};
constexpr std::array kServiceAssignments{
    F{"micro_grid_id", text, "the micro-grid"},
    F{"utility", text, "electricity, water, gas, telecom, ..."},
    F{"station_id", text, "the station serving it"},
    F{"distance_m", real, "station to micro-grid, metres"},
};
constexpr std::array kStations{
    F{"station_id", text, "id from the input"},
    F{"utility", text, "its utility"},
    F{"capacity_households", integer, "households it can serve"},
    F{"load_households", integer, "households it serves"},
    F{"micro_grids", integer, "micro-grids it serves"},
    F{"utilisation", real, "load / capacity"},
};
constexpr std::array kChanges{
    F{"micro_grid_id", text, "the micro-grid (now, or the retired one's)"},
    F{"status", text, "unchanged, redrawn, split, merged, regrouped, new or retired"},
    F{"previous_ids", text, "the previous micro-grids it took households from"},
    F{"next_ids", text, "for a retired one, where its households went"},
    F{"households", integer, "households in it"},
    F{"buildings", integer, "buildings in it"},
};
constexpr std::array kLineage{
    F{"previous_id", text, "previous micro-grid (empty: households new to the city)"},
    F{"new_id", text, "micro-grid now (empty: households gone)"},
    F{"households", integer, "households that went from one to the other"},
    F{"buildings", integer, "buildings that went from one to the other"},
};
constexpr std::array kParts{
    F{"district_code", text, "the district"},       F{"file", text, "its GeoPackage, beside the index"},
    F{"micro_grids", integer, "micro-grids in it"}, F{"grids", integer, "grids in it"},
    F{"buildings", integer, "buildings in it"},     F{"households", integer, "households of its micro-grids"},
};
constexpr std::array kRunInfo{
    F{"section", text, "quality, parameters, inputs, import, versions, timings, ..."},
    F{"key", text, "what"},
    F{"value", text, "its value, as text"},
};

using G = io::GeometryKind;
constexpr std::array kLayers{
    OutputLayer{"micro_grids", G::multi_polygon, kMicroGrids, "the micro-grids"},
    OutputLayer{"grids", G::multi_polygon, kGrids, "grids: whole micro-grids of a community"},
    OutputLayer{"buildings", G::multi_polygon, kBuildings,
                "the input buildings (polygons or points), every input attribute, where each went"},
    OutputLayer{"barriers", G::multi_line_string, kBarriers, "the hard barrier lines used"},
    OutputLayer{"streets", G::multi_polygon, kStreets, "communities merged per street"},
    OutputLayer{"communities", G::multi_polygon, kCommunities, "the regions split, with their figures"},
    OutputLayer{"workers", G::point, kWorkers, "each worker's home and what it was given"},
    OutputLayer{"worker_assignments", G::none, kWorkerAssignments, "worker to micro-grid"},
    OutputLayer{"service_assignments", G::none, kServiceAssignments, "micro-grid to station, per utility"},
    OutputLayer{"stations", G::point, kStations, "utility stations and their load"},
    OutputLayer{"changes", G::multi_polygon, kChanges, "a rerun: what became of each micro-grid"},
    OutputLayer{"lineage", G::none, kLineage, "a rerun: households from previous to new micro-grids"},
    OutputLayer{"parts", G::polygon, kParts,
                "--split-output's index: each district's file, its counts, the box of its micro-grids"},
    OutputLayer{"run_info", G::none, kRunInfo, "the run: parameters, inputs, quality report, timings"},
};

}  // namespace

std::span<const OutputLayer> layers() noexcept {
    return kLayers;
}

const OutputLayer& layer(std::string_view name) {
    for (const OutputLayer& candidate : kLayers)
        if (candidate.name == name) return candidate;
    throw InternalError("output", "no output layer '" + std::string(name) + "' in the schema");
}

std::string_view type_name(FieldType type) noexcept {
    return type == FieldType::integer ? "integer" : type == FieldType::real ? "real" : "text";
}

std::string_view geometry_name(io::GeometryKind kind) noexcept {
    switch (kind) {
        case io::GeometryKind::point:
            return "Point";
        case io::GeometryKind::line_string:
            return "LineString";
        case io::GeometryKind::polygon:
            return "Polygon";
        case io::GeometryKind::multi_line_string:
            return "MultiLineString";
        case io::GeometryKind::multi_polygon:
            return "MultiPolygon";
        case io::GeometryKind::none:
            break;
    }
    return "none";
}

io::LayerData empty_layer(std::string_view name) {
    const OutputLayer& definition = layer(name);
    io::LayerData data;
    data.name = std::string(definition.name);
    data.geometry_kind = definition.geometry;
    for (const OutputField& field : definition.fields) data.fields.push_back({std::string(field.name), field.type});
    return data;
}

}  // namespace civgrid::engine::schema
