// A deterministic synthetic city: admin polygons that tile and nest exactly, roads, railways,
// rivers, buildings with households, utility stations and workers. Same seed and size, same city,
// byte for byte in attribute values and coordinates.
//
// Layer contract (the names and fields `civgrid partition` reads by default):
//   districts   Polygon     district_code (6 digits), name
//   streets     Polygon     street_code (9), district_code, name
//   communities Polygon     community_code (12), street_code, district_code, name
//   roads       LineString  road_id, class ("major" | "minor"), name   (centre lines)
//   railways    LineString  railway_id, name
//   rivers      Polygon     river_id, name
//   buildings   Polygon     building_id, households, floors, units, kind
//                           (kind: high_rise | walk_up | village | non_residential)
//   stations    Point       station_id, utility (electricity|water|gas|telecom), capacity_households
//   workers     Point       worker_id, kind (resident|party_member|mobile), max_micro_grids
// Coordinates are metres in `crs` (default CGCS2000 3-degree Gauss-Kruger CM 120E, around Nanjing).
#pragma once

#include <civgrid/io/layer.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace civgrid::data {

struct SynthConfig {
    std::int64_t households = 30'000;  ///< approximate total households (within a few percent)
    std::uint64_t seed = 1;
    std::string crs = "EPSG:4549";  ///< projected CRS the city is laid out in (metres)
    double origin_x = 480'000.0;    ///< south-west corner of the city in `crs`
    double origin_y = 3'540'000.0;
    double target_households = 83.0;  ///< micro-grid size the worker count is planned for
    /// Districts (0: by size, at most 12, Nanjing's codes). More make a province: codes 32xxyy
    /// past Nanjing's twelve; each district gets at least one street (superblocks permitting).
    int districts = 0;
};

struct SynthSummary {
    std::int64_t households = 0;
    std::int64_t buildings = 0;
    std::int64_t districts = 0, streets = 0, communities = 0;
    std::int64_t roads = 0, workers = 0, stations = 0;
    std::int64_t blocks = 0;        ///< blocks between roads (4x4 per superblock)
    std::int64_t empty_blocks = 0;  ///< blocks without any building (parks, or emptied by the river)
    double min_x = 0, min_y = 0, max_x = 0, max_y = 0;  ///< the city rectangle (union of all communities)
};

struct SynthCity {
    std::string crs;
    std::vector<io::LayerData> layers;  ///< in the order of the contract above
    SynthSummary summary;
};

/// Builds the city in memory. Throws ConfigError for households < 1,000.
[[nodiscard]] SynthCity generate_city(const SynthConfig& config);

/// Writes every layer to one GeoPackage, atomically.
void write_city(const SynthCity& city, const std::string& path);

}  // namespace civgrid::data
