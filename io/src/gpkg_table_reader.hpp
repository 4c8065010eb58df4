// Internal: a GeoPackage feature table read straight from SQLite, for read_layer. GDAL's feature
// API builds an OGRFeature and an OGRGeometry per row and read_layer exports the geometry back to
// WKB: about 0.8 s of the 1.3 s a city of 400,000 buildings took to load. A GeoPackage blob holds
// that WKB already, behind a short header.
#pragma once

#include <civgrid/types.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace civgrid::io::detail {

/// A column as GDAL declares it; only these three kinds are read directly.
struct PlainColumn {
    std::string name;
    FieldType type = FieldType::string;
    bool int32 = false;  ///< OFTInteger: GDAL reads 32 bits of it, so a larger value is not plain
};

struct PlainTableRequest {
    std::string path;
    std::string table;
    std::string fid_column;
    std::string geometry_column;  ///< empty: no geometry read (every row's WKB empty)
    std::vector<PlainColumn> columns;
    std::vector<std::string> accepted_families;  ///< "point", "line", "polygon"; empty: any of them
    double max_abs_coordinate = 0;               ///< a coordinate beyond it is not plain
    std::size_t expected_rows = 0;               ///< rows reserved for (the driver's count)
    /// Applied to each non-empty geometry where it is read (the coordinate grid's snapping);
    /// false: the table is not read plain.
    std::function<bool(Wkb&)> finish_geometry;
    bool two_threads = false;  ///< a large table read in two rowid ranges at once
};

struct PlainTable {
    std::vector<std::int64_t> fids;
    std::vector<Wkb> geometries;
    std::vector<std::vector<FieldValue>> rows;
};

/// Every row of a GeoPackage table when the whole table is plain: a table whose fid is its rowid;
/// geometries that are GeoPackage blobs of little-endian 2D (multi)points, lines or polygons of an
/// accepted family, with finite coordinates within max_abs_coordinate, closed rings of 4 or more
/// vertices, lines of 2 or more and no empty part (or wholly empty: an empty WKB); values stored
/// as their column's type (integer; real or integer; text). Then the rows are exactly what GDAL's
/// features give after read_layer's checks, which would find and change nothing. std::nullopt as
/// soon as anything is not plain (read_layer then reads through GDAL, which repairs and reports).
[[nodiscard]] std::optional<PlainTable> read_plain_geopackage_table(const PlainTableRequest& request);

}  // namespace civgrid::io::detail
