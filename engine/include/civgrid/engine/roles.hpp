// The input layers a run reads, by role: one table for the CLI's options, Python's keywords and
// ROLES, the loader and the output-path checks. A new input layer is a new row here.
#pragma once

#include <civgrid/engine/config.hpp>

#include <array>
#include <string>
#include <string_view>

namespace civgrid::engine {

struct InputRole {
    const char* name;    ///< Python keyword and standard layer name in a city file ("work_areas")
    const char* option;  ///< the CLI's option ("work-areas")
    LayerSource PartitionConfig::*source;
    const char* help;  ///< the CLI's help text
};

inline constexpr std::array<InputRole, 11> kInputRoles{{
    {"buildings", "buildings", &PartitionConfig::buildings, "building polygons or points with households"},
    {"roads", "roads", &PartitionConfig::roads, "road centre lines"},
    {"rivers", "rivers", &PartitionConfig::rivers, "river polygons or centre lines"},
    {"railways", "railways", &PartitionConfig::railways, "railway lines"},
    {"communities", "communities", &PartitionConfig::communities, "community polygons (the regions split; optional)"},
    {"streets", "streets", &PartitionConfig::streets, "street polygons (regions when no communities)"},
    {"districts", "districts", &PartitionConfig::districts, "district polygons (regions when no streets)"},
    {"workers", "workers", &PartitionConfig::workers,
     "worker home points (kind, max_micro_grids): each micro-grid gets workers"},
    {"stations", "stations", &PartitionConfig::stations,
     "utility stations (utility, capacity_households): one per utility for each micro-grid"},
    {"facilities", "facilities", &PartitionConfig::facilities,
     "community service facilities (floor_area) for the standards"},
    {"work_areas", "work-areas", &PartitionConfig::work_areas,
     "where mobile workers work (polygons or points with worker_id)"},
}};

/// The role called `name` (its name or its CLI option), or nullptr.
[[nodiscard]] const InputRole* find_role(std::string_view name) noexcept;
/// The source of a role in `config`; ConfigError (stage `stage`) naming the roles for an unknown one.
[[nodiscard]] LayerSource& source_of(PartitionConfig& config, std::string_view role, const std::string& stage);
/// "buildings, roads, ..., work_areas", for messages.
[[nodiscard]] std::string role_names();

}  // namespace civgrid::engine
