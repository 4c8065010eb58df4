// The layers and fields civgrid writes: one table for the writer (output.cpp, repartition.cpp),
// the read-back (`civgrid report`, `repartition --previous`, the HTML page), Python's
// OUTPUT_SCHEMA and `civgrid schema`. The QGIS styles and plugin are checked against it
// (tests/python/test_output_schema.py). A new output layer or field is a new row here.
#pragma once

#include <civgrid/io/layer.hpp>
#include <civgrid/types.hpp>

#include <span>
#include <string_view>

namespace civgrid::engine::schema {

struct OutputField {
    std::string_view name;
    FieldType type;
    std::string_view meaning;
};

struct OutputLayer {
    std::string_view name;
    io::GeometryKind geometry;  ///< none: an attribute table
    std::span<const OutputField> fields;
    std::string_view meaning;
};

/// Every layer civgrid can write, in the order it writes them. `buildings` holds the input's own
/// attributes first, then the fields listed here; `changes` and `lineage` come with a rerun,
/// `workers` ... `stations` with staffing, `streets` when the regions are communities.
[[nodiscard]] std::span<const OutputLayer> layers() noexcept;
/// The layer called `name`; InternalError for a name the schema lacks (a programming error).
[[nodiscard]] const OutputLayer& layer(std::string_view name);
/// An empty layer to fill: the schema's name, geometry kind and fields, in order.
[[nodiscard]] io::LayerData empty_layer(std::string_view name);

/// "integer", "real" or "text": a field's type as `civgrid schema` and Python name it.
[[nodiscard]] std::string_view type_name(FieldType type) noexcept;
/// "Point", "MultiPolygon", ..., or "none" for an attribute table.
[[nodiscard]] std::string_view geometry_name(io::GeometryKind kind) noexcept;

/// Layer names, one spelling each.
namespace layer_name {
inline constexpr std::string_view micro_grids = "micro_grids", grids = "grids", buildings = "buildings",
                                  barriers = "barriers", streets = "streets", communities = "communities",
                                  workers = "workers", worker_assignments = "worker_assignments",
                                  service_assignments = "service_assignments", stations = "stations",
                                  changes = "changes", lineage = "lineage", parts = "parts", run_info = "run_info";
}  // namespace layer_name

/// Field names the read-back and the front ends look up, one spelling each.
namespace field_name {
inline constexpr std::string_view micro_grid_id = "micro_grid_id", grid_id = "grid_id",
                                  community_code = "community_code", street_code = "street_code",
                                  district_code = "district_code", households = "households", buildings = "buildings",
                                  target = "target", deviation = "deviation", flags = "flags",
                                  micro_grids = "micro_grids", split_micro_grids = "split_micro_grids",
                                  split_households = "split_households", source = "source", name = "name",
                                  within_10 = "within_10", best_within_10 = "best_within_10",
                                  best_within_10_in_bounds = "best_within_10_in_bounds",
                                  workers_per_10k_residents = "workers_per_10k_residents",
                                  facility_m2_per_100_households = "facility_m2_per_100_households",
                                  meets_worker_standard = "meets_worker_standard",
                                  meets_facility_standard = "meets_facility_standard", worker_id = "worker_id",
                                  role = "role", distance_m = "distance_m", utility = "utility",
                                  station_id = "station_id", capacity_households = "capacity_households",
                                  load_households = "load_households", status = "status", section = "section",
                                  key = "key", value = "value", requested = "requested", previous_ids = "previous_ids",
                                  next_ids = "next_ids", previous_id = "previous_id", new_id = "new_id";
}  // namespace field_name

}  // namespace civgrid::engine::schema
