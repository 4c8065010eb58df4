// Reading a civgrid output back (`civgrid report`, `repartition --previous`): nothing in the file
// is trusted. A hand-edited, truncated or corrupt output ends in an InputError that names the file,
// the layer, the feature id and the field, never in GEOS failing on a geometry or a sum overflowing.
#pragma once

#include <civgrid/io/layer.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace civgrid::engine::read_back {

/// Most households one feature of an output may hold (more than any country has): larger values
/// are corrupt, and would overflow the 64-bit sums made from them.
inline constexpr std::int64_t kMaxHouseholds = 1'000'000'000;

/// Largest coordinate magnitude of an output: the bound beyond which io's reader drops a feature
/// as corrupt (io/src/layer_reader.cpp), so nothing civgrid wrote lies beyond it.
inline constexpr double kMaxAbsCoordinate = 1e9;

/// "FILE, layer 'L', feature FID" for messages.
[[nodiscard]] std::string where(const io::FeatureTable& table, std::size_t row);

/// The layer `name` of the output `path` (a name from engine/output_schema.hpp).
[[nodiscard]] inline io::LayerSpec output_layer(const std::string& path, std::string_view name) {
    return {path, std::string(name)};
}

/// The index of `field` in `table`; InputError naming the file, the layer and the field when absent.
[[nodiscard]] int required_field(const io::FeatureTable& table, std::string_view field, const char* stage);

/// A count civgrid wrote (households, buildings) at `row`: a whole number in [0, kMaxHouseholds];
/// InputError naming the feature, the field and the value otherwise (NULL included).
[[nodiscard]] std::int64_t count_at(const io::FeatureTable& table, std::size_t row, int field, const char* stage);

/// A household target civgrid wrote at `row`: a finite number in [0, kMaxHouseholds]; NULL or an
/// absent field (`field` < 0) is 0 (no target of its own). InputError naming the feature otherwise.
[[nodiscard]] double target_at(const io::FeatureTable& table, std::size_t row, int field, const char* stage);

/// A distance in metres civgrid wrote at `row`: a finite number in [0, kMaxAbsCoordinate]; nothing
/// for NULL (not known). InputError naming the feature, the field and the value otherwise.
[[nodiscard]] std::optional<double> distance_at(const io::FeatureTable& table, std::size_t row, int field,
                                                const char* stage);

/// What a layer's geometries must be.
enum class Shape { polygons, valid_polygons, any };

/// Checks every geometry of `table`: present (unless `allow_null`), readable, of the shape asked
/// for (Polygon or MultiPolygon; `valid_polygons` also valid by GEOS) and with coordinates within
/// kMaxAbsCoordinate. InputError naming the file, layer and feature of the first that is not.
void check_geometries(const io::FeatureTable& table, Shape shape, bool allow_null, const char* stage);

}  // namespace civgrid::engine::read_back
