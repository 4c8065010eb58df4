// The offsets of Chinese web maps: GCJ-02 (Amap/Gaode, Tencent, Aliyun DataV) and BD-09 (Baidu),
// as functions of WGS84 longitude/latitude in degrees. The forward formulas are the published ones
// (outside China, GCJ-02 equals WGS84); the inverse is iterative: it solves forward(w) = g to
// 1e-10 degrees (about 0.01 mm), so what remains is the forward model's own error (well under 1 m
// against the official transformation; see README).
#pragma once

#include <string>
#include <string_view>

namespace civgrid::io {

struct LonLat {
    double lon = 0.0;
    double lat = 0.0;
};

enum class Datum { wgs84, gcj02, bd09 };

/// "wgs84", "gcj02" or "bd09" (case-insensitive; "" is wgs84). Throws ConfigError otherwise.
[[nodiscard]] Datum parse_datum(std::string_view text);
[[nodiscard]] std::string datum_name(Datum datum);

/// Whether GCJ-02 leaves a point unchanged (outside the rough box of China the formulas use).
[[nodiscard]] bool outside_china(LonLat point) noexcept;
[[nodiscard]] LonLat wgs84_to_gcj02(LonLat wgs) noexcept;
[[nodiscard]] LonLat gcj02_to_bd09(LonLat gcj) noexcept;
/// Iterative inversions; `iterations` (if given) receives how many steps were needed.
[[nodiscard]] LonLat gcj02_to_wgs84(LonLat gcj, int* iterations = nullptr) noexcept;
[[nodiscard]] LonLat bd09_to_gcj02(LonLat bd) noexcept;
/// From `datum` to WGS84 (identity for wgs84).
[[nodiscard]] LonLat to_wgs84(Datum datum, LonLat point) noexcept;

}  // namespace civgrid::io
