// GCJ-02 and BD-09 offsets (published formulas) and their iterative inversions.
#include <civgrid/error.hpp>
#include <civgrid/io/china_datum.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numbers>

namespace civgrid::io {
namespace {

constexpr double kPi = std::numbers::pi;
constexpr double kKrasovskyA = 6378245.0;                // semi-major axis the GCJ-02 formulas use
constexpr double kKrasovskyEe = 0.00669342162296594323;  // and its first eccentricity squared
constexpr double kBaiduXPi = kPi * 3000.0 / 180.0;
constexpr double kTolerance = 1e-10;  // degrees, about 0.01 mm
constexpr int kMaxIterations = 50;

double offset_lat(double x, double y) {
    double ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * std::sqrt(std::abs(x));
    ret += (20.0 * std::sin(6.0 * x * kPi) + 20.0 * std::sin(2.0 * x * kPi)) * 2.0 / 3.0;
    ret += (20.0 * std::sin(y * kPi) + 40.0 * std::sin(y / 3.0 * kPi)) * 2.0 / 3.0;
    ret += (160.0 * std::sin(y / 12.0 * kPi) + 320.0 * std::sin(y * kPi / 30.0)) * 2.0 / 3.0;
    return ret;
}

double offset_lon(double x, double y) {
    double ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * std::sqrt(std::abs(x));
    ret += (20.0 * std::sin(6.0 * x * kPi) + 20.0 * std::sin(2.0 * x * kPi)) * 2.0 / 3.0;
    ret += (20.0 * std::sin(x * kPi) + 40.0 * std::sin(x / 3.0 * kPi)) * 2.0 / 3.0;
    ret += (150.0 * std::sin(x / 12.0 * kPi) + 300.0 * std::sin(x / 30.0 * kPi)) * 2.0 / 3.0;
    return ret;
}

// Solves forward(w) = target by fixed-point steps w -= forward(w) - target; the offsets vary
// slowly (their derivative is about 1e-5), so each step gains about five digits.
template <typename Forward>
LonLat invert(LonLat target, Forward forward, int* iterations) {
    LonLat guess = target;
    int step = 0;
    for (; step < kMaxIterations; ++step) {
        const LonLat image = forward(guess);
        const double d_lon = image.lon - target.lon, d_lat = image.lat - target.lat;
        if (!std::isfinite(d_lon) || !std::isfinite(d_lat)) break;
        guess.lon -= d_lon;
        guess.lat -= d_lat;
        if (std::abs(d_lon) < kTolerance && std::abs(d_lat) < kTolerance) break;
    }
    if (iterations != nullptr) *iterations = step + 1;
    return guess;
}

}  // namespace

Datum parse_datum(std::string_view text) {
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower.empty() || lower == "wgs84" || lower == "cgcs2000") return Datum::wgs84;
    if (lower == "gcj02" || lower == "gcj-02") return Datum::gcj02;
    if (lower == "bd09" || lower == "bd-09") return Datum::bd09;
    throw ConfigError("io.datum", "unknown datum '" + std::string(text) + "' (expected wgs84, gcj02 or bd09)");
}

std::string datum_name(Datum datum) {
    switch (datum) {
        case Datum::wgs84:
            return "wgs84";
        case Datum::gcj02:
            return "gcj02";
        case Datum::bd09:
            return "bd09";
    }
    return "wgs84";
}

bool outside_china(LonLat p) noexcept {
    return p.lon < 72.004 || p.lon > 137.8347 || p.lat < 0.8293 || p.lat > 55.8271;
}

LonLat wgs84_to_gcj02(LonLat wgs) noexcept {
    if (!std::isfinite(wgs.lon) || !std::isfinite(wgs.lat) || outside_china(wgs)) return wgs;
    double d_lat = offset_lat(wgs.lon - 105.0, wgs.lat - 35.0);
    double d_lon = offset_lon(wgs.lon - 105.0, wgs.lat - 35.0);
    const double rad_lat = wgs.lat / 180.0 * kPi;
    const double magic = 1.0 - kKrasovskyEe * std::sin(rad_lat) * std::sin(rad_lat);
    const double sqrt_magic = std::sqrt(magic);
    d_lat = (d_lat * 180.0) / ((kKrasovskyA * (1.0 - kKrasovskyEe)) / (magic * sqrt_magic) * kPi);
    d_lon = (d_lon * 180.0) / (kKrasovskyA / sqrt_magic * std::cos(rad_lat) * kPi);
    return {wgs.lon + d_lon, wgs.lat + d_lat};
}

LonLat gcj02_to_bd09(LonLat gcj) noexcept {
    const double x = gcj.lon, y = gcj.lat;
    const double z = std::sqrt(x * x + y * y) + 0.00002 * std::sin(y * kBaiduXPi);
    const double theta = std::atan2(y, x) + 0.000003 * std::cos(x * kBaiduXPi);
    return {z * std::cos(theta) + 0.0065, z * std::sin(theta) + 0.006};
}

LonLat gcj02_to_wgs84(LonLat gcj, int* iterations) noexcept {
    if (!std::isfinite(gcj.lon) || !std::isfinite(gcj.lat) || outside_china(gcj)) {
        if (iterations != nullptr) *iterations = 0;
        return gcj;
    }
    return invert(gcj, wgs84_to_gcj02, iterations);
}

LonLat bd09_to_gcj02(LonLat bd) noexcept {
    if (!std::isfinite(bd.lon) || !std::isfinite(bd.lat)) return bd;
    return invert(bd, gcj02_to_bd09, nullptr);
}

LonLat to_wgs84(Datum datum, LonLat point) noexcept {
    switch (datum) {
        case Datum::wgs84:
            return point;
        case Datum::gcj02:
            return gcj02_to_wgs84(point);
        case Datum::bd09:
            return gcj02_to_wgs84(bd09_to_gcj02(point));
    }
    return point;
}

}  // namespace civgrid::io
