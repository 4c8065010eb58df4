// Reading attribute values of any type as what the engine needs.
#pragma once

#include <civgrid/types.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

namespace civgrid::engine {

/// The value as a whole number when it is one (integers, integral reals, numeric strings).
inline std::optional<std::int64_t> as_integer(const FieldValue& value) {
    if (const auto* i = std::get_if<std::int64_t>(&value)) return *i;
    if (const auto* d = std::get_if<double>(&value)) {
        if (std::isfinite(*d) && std::abs(*d) < 9e15) return static_cast<std::int64_t>(std::llround(*d));
        return std::nullopt;
    }
    if (const auto* s = std::get_if<std::string>(&value)) {
        try {
            std::size_t used = 0;
            const double d = std::stod(*s, &used);
            if (used == s->size() && std::isfinite(d)) return static_cast<std::int64_t>(std::llround(d));
        } catch (const std::exception&) {
        }
    }
    return std::nullopt;
}

/// The value as a finite number (integers, reals, numeric strings).
inline std::optional<double> as_number(const FieldValue& value) {
    if (const auto* i = std::get_if<std::int64_t>(&value)) return static_cast<double>(*i);
    if (const auto* d = std::get_if<double>(&value))
        return std::isfinite(*d) ? std::optional<double>(*d) : std::nullopt;
    if (const auto* s = std::get_if<std::string>(&value)) {
        try {
            std::size_t used = 0;
            const double d = std::stod(*s, &used);
            if (used == s->size() && std::isfinite(d)) return d;
        } catch (const std::exception&) {
        }
    }
    return std::nullopt;
}

/// The value as text ("" for null); integral reals print without decimals.
/// A number as people write it: up to six significant digits, no trailing zeros ("400", "0.2").
inline std::string number_text(double value) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%g", value);
    return buffer;
}

inline std::string as_text(const FieldValue& value) {
    if (const auto* s = std::get_if<std::string>(&value)) return *s;
    if (const auto* i = std::get_if<std::int64_t>(&value)) return std::to_string(*i);
    if (const auto* d = std::get_if<double>(&value)) {
        if (std::floor(*d) == *d && std::abs(*d) < 9e15) return std::to_string(static_cast<std::int64_t>(*d));
        return std::to_string(*d);
    }
    return {};
}

/// WKB geometry type without byte order and dimension flags: 1 point, 2 line, 3 polygon,
/// 4-6 their multi forms, 7 collection; 0 for a null geometry.
inline int wkb_geometry_type(const Wkb& wkb) {
    if (wkb.size() < 5) return 0;
    std::uint32_t type = 0;
    if (wkb[0] == 1)
        type = wkb[1] | (wkb[2] << 8) | (wkb[3] << 16) | (static_cast<std::uint32_t>(wkb[4]) << 24);
    else
        type = wkb[4] | (wkb[3] << 8) | (wkb[2] << 16) | (static_cast<std::uint32_t>(wkb[1]) << 24);
    return static_cast<int>(type % 1000);
}

}  // namespace civgrid::engine
