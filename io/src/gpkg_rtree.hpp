// The GeoPackage spatial index (gpkg_rtree_index) built in bulk: the SQLite R*Tree's tables
// written directly from a packed tree, instead of one R*Tree insertion per row.
#pragma once

#include <cstdint>
#include <future>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace civgrid::io::detail {

/// One indexed feature: its fid and its envelope (metres or degrees, as the layer's CRS).
struct RTreeEntry {
    std::int64_t id = 0;
    double min_x = 0, max_x = 0, min_y = 0, max_y = 0;
};

/// The three tables of an SQLite R*Tree (rtree.c's format): node blobs (big-endian: depth in the
/// root, cell count, then cells of a 64-bit id and min/max x, min/max y as 32-bit floats), the leaf
/// of each entry and the parent of each node. Node 1 is the root.
struct PackedRTree {
    std::vector<std::vector<unsigned char>> nodes;                   ///< node n is nodes[n - 1]
    std::vector<std::pair<std::int64_t, std::int64_t>> entry_leaf;   ///< (entry id, leaf node)
    std::vector<std::pair<std::int64_t, std::int64_t>> node_parent;  ///< (node, parent node), root excepted
};

/// A packed tree with its _rowid and _parent rows as the JSON texts write_spatial_indexes binds
/// (none when a key is too large to pack into one integer with its node).
struct PreparedIndex {
    PackedRTree tree;
    std::optional<std::vector<std::string>> entry_leaf_json, node_parent_json;
};

/// A spatial layer whose index is still to be written: table, geometry column, FID column and
/// one entry per feature with a non-empty geometry.
struct SpatialIndexRows {
    std::string table;
    std::string geometry_column;
    std::string fid_column;
    std::vector<RTreeEntry> entries;
    /// The entries packed for kUsualNodeBytes on a thread of its own (start_packing), while the
    /// caller goes on writing; not valid when not started.
    std::future<PreparedIndex> packing;
};

/// The node size SQLite's R*Tree module takes for a 2D index on any page of 1,292 bytes or more
/// (rtree.c: the page less 64 bytes, at most 51 cells of 24 bytes and a 4-byte header): every
/// GeoPackage GDAL writes. write_spatial_indexes checks the size SQLite chose before using a tree
/// packed for it.
inline constexpr int kUsualNodeBytes = 4 + 24 * 51;

/// Starts packing `layer`'s entries for kUsualNodeBytes on a thread of its own (for large layers:
/// the packing of a city's buildings would otherwise add to the single-threaded close).
void start_packing(SpatialIndexRows& layer);

/// A layer whose rows civgrid wrote itself (not through OGR): its feature count and extent, which
/// GDAL, not having seen the rows, leaves at zero and empty in gpkg_ogr_contents and gpkg_contents.
struct LayerContents {
    std::string table;
    std::int64_t feature_count = 0;
    bool has_extent = false;
    double min_x = 0, min_y = 0, max_x = 0, max_y = 0;
};

/// Opens the closed GeoPackage `path` with SQLite and, in one transaction, sets each layer's
/// gpkg_ogr_contents.feature_count and gpkg_contents extent. Throws IoError naming the file.
void write_layer_contents(const std::string& path, const std::vector<LayerContents>& layers);

/// Packs `entries` Sort-Tile-Recursive into full nodes of `node_bytes` (the size SQLite chose for
/// the table's nodes: 4 + 24 bytes per cell). Coordinates are rounded outwards to floats exactly as
/// the R*Tree module rounds an inserted row, so the index holds what row-by-row insertion would.
/// O(n log n); the same entries give the same bytes whatever their order. Throws InternalError
/// when a node cannot hold two cells.
PackedRTree pack_rtree(std::vector<RTreeEntry> entries, int node_bytes);

/// Opens the closed GeoPackage `path` with SQLite and, in one transaction, gives each layer of
/// `layers` the spatial index GDAL's GeoPackage driver makes (the `rtree_<table>_<column>` virtual
/// table, its six triggers, its gpkg_extensions row), filled by pack_rtree. Throws IoError
/// (stage and file in the message) when SQLite fails.
void write_spatial_indexes(const std::string& path, std::vector<SpatialIndexRows>& layers);

/// The same through an open connection to the file (`path` for messages), in the caller's
/// transaction: GDAL's, so that the indexes of finished layers are written while GDAL still has
/// the file open (GeoPackageWriter::write_packed_indexes).
void write_spatial_indexes(sqlite3* connection, const std::string& path, std::vector<SpatialIndexRows>& layers);

}  // namespace civgrid::io::detail
