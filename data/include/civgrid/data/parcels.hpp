// A generated layer of parcels: polygons that tile the ground as cadastral parcels, census small
// areas or land plots do, with the traits that make real ones costly to import: neighbours share
// their edges vertex for vertex, some parcels have thousands of vertices (their long wiggly edges
// shared with their neighbours), and a few are invalid (bow-ties). Deterministic: the same config
// gives the same layer. Written as a `buildings` layer (parcel polygons with households) so every
// command reads it as it is; measures the import's cost against GDAL's own read (bench/parcel_load.py).
#pragma once

#include <civgrid/data/synth.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace civgrid::data {

struct ParcelConfig {
    std::int64_t parcels = 10'000;  ///< about this many (a rows x columns lattice, rounded up)
    std::uint64_t seed = 1;
    std::string crs = "EPSG:4549";
    double origin_x = 480'000.0, origin_y = 3'540'000.0;
    double parcel_size = 40.0;  ///< metres between lattice vertices (before jitter)
    double dense_share = 0.01;  ///< parcels whose edges carry `dense_vertices` vertices in all
    int dense_vertices = 4'000;
    double invalid_share = 0.002;  ///< parcels made bow-ties (self-intersecting)
    /// Dirt of a tiling digitised parcel by parcel (units mode cleans it): this share of parcels
    /// shrunk by `dirt_width` metres on every side (a gap all round, enclosed by its neighbours),
    /// and this share grown by it (overlapping its neighbours). Only parcels inside the lattice
    /// with four straight edges, never two dirty ones side by side or corner to corner. The other
    /// parcels are the same as without dirt.
    double gap_share = 0.0;
    double overlap_share = 0.0;
    double dirt_width = 0.5;
};

/// The parcels given gaps and overlaps: their building_id values, ascending.
struct ParcelDirt {
    std::vector<std::int64_t> gaps, overlaps;
};
[[nodiscard]] ParcelDirt parcel_dirt(const ParcelConfig& config);

/// The parcels as a `buildings` layer: building_id, households (0-40, a fifth of parcels 0).
/// Throws ConfigError for fewer than 4 or more than 10,000,000 parcels.
[[nodiscard]] SynthCity generate_parcels(const ParcelConfig& config);

}  // namespace civgrid::data
