// Vocabulary types shared by io/, algorithms/ and engine/. Geometry crosses folder boundaries as
// ISO WKB (2D), so io/ needs no GEOS and algorithms/ needs no GDAL.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace civgrid {

/// ISO well-known binary of one 2D geometry; empty means a null geometry.
using Wkb = std::vector<std::uint8_t>;

/// A coordinate pair in the working CRS (metres) unless stated otherwise.
struct Point {
    double x = 0.0;
    double y = 0.0;
    friend bool operator==(const Point&, const Point&) = default;
};

/// An attribute value: null, integer, real or UTF-8 string.
using FieldValue = std::variant<std::monostate, std::int64_t, double, std::string>;

enum class FieldType { integer, real, string };

struct Field {
    std::string name;
    FieldType type = FieldType::string;
    /// An integer field holding true (1) / false (0): OGR's boolean subtype, a bool column of a
    /// GeoDataFrame. Counts read from it are refused rather than taken as 0 or 1.
    bool boolean = false;
};

}  // namespace civgrid
