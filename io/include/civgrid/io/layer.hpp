// Reading OGR layers into memory and writing GeoPackages. GDAL never appears in this header.
// All geometries cross this boundary as ISO WKB, 2D (Z/M dropped), in the CRS named by the table.
#pragma once

#include <civgrid/diagnostics.hpp>
#include <civgrid/types.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace civgrid::io {

/// An axis-aligned box in a layer's coordinates.
struct Box {
    double min_x = 0, min_y = 0, max_x = 0, max_y = 0;
};

/// Where a layer comes from: any OGR source (GeoPackage, Shapefile, GeoJSON, FlatGeobuf, ...).
struct LayerSpec {
    std::string path{};   ///< file or directory path as the user gave it
    std::string layer{};  ///< layer name; empty means the source's only (or first) layer
};

/// Parses "FILE[:LAYER]". The last ':' starts the layer name only when the whole string is not
/// an existing path (so "C:/x.shp" or paths with ':' in them still work).
[[nodiscard]] LayerSpec parse_layer_spec(std::string_view text);

struct ReadOptions {
    // Members have `{}` initialisers so designated initialisers ({.target_crs = ...}) do not trip
    // GCC 12's -Wmissing-field-initializers.
    /// CRS to reproject into ("EPSG:4549", WKT or PROJ string); empty keeps the layer's own CRS.
    std::string target_crs{};
    /// CRS to assume for a layer that declares none; empty makes such a layer an InputError when
    /// target_crs is set.
    std::string assume_crs{};
    /// OGR SQL attribute filter ("class IN ('major','trunk')"); empty reads every feature.
    std::string attribute_filter{};
    /// Geometry types accepted, by family; a feature of another family is an InputError naming
    /// file, layer and feature id. Empty accepts any.
    std::vector<std::string> accepted_families{};  ///< any of "point", "line", "polygon"
    /// With accepted_families: a feature of another family is dropped (null geometry, reported in
    /// FeatureTable::report as "wrong_geometry_type") instead of an error.
    bool drop_other_families = false;
    /// Text encoding of a Shapefile's attributes (UTF-8, GB18030, GBK, CP1252, ...); empty: from
    /// the .cpg, else the DBF language id, else detected from the content (UTF-8 or GB18030).
    /// Other formats are UTF-8 by definition. Text is always returned as valid UTF-8.
    std::string encoding{};
    /// Datum of the coordinates: "wgs84" (also CGCS2000), "gcj02" (Amap, Tencent) or "bd09"
    /// (Baidu). Offset data are converted to WGS84 (iterative inversion) before reprojection,
    /// whatever the layer's CRS says.
    std::string datum{};
    /// Rounds every coordinate (after reprojection) to a multiple of this, in the CRS's units; 0
    /// keeps them as read. Reprojection leaves noise of about 1e-9 m: rounding takes it away, so the
    /// same data read from different CRSs gives the same coordinates.
    double coordinate_grid{};
    /// Reads the attributes only: every geometry comes back null and GDAL does not decode them
    /// (a rerun needs the previous buildings' codes, not their shapes).
    bool attributes_only{};
    /// Reads only the features whose bounding box, in the target CRS (the layer's own without one),
    /// meets this box: one shard of a distributed run. GDAL's spatial filter skips the rest of the
    /// file (the box taken to the layer's CRS, with a margin); the test after reprojection is exact.
    /// Features without a geometry are left out too. Unset reads every feature.
    std::optional<Box> extent{};
    /// Threads the read may use: 1 reads on the calling thread alone; otherwise (0: the machine's
    /// cores) the geometries are exported to WKB and snapped on a second thread beside GDAL's
    /// read. The result is the same either way.
    int threads{};
    /// A GeoPackage table is read straight from SQLite, without GDAL's features (a fraction of the
    /// time), when nothing in it needs them: no filter, box, datum or reprojection asked, values
    /// stored as their columns (integers, reals, text) declare, and geometries of plain 2D WKB that
    /// the reader would neither repair nor report. Otherwise, or false, every feature goes through
    /// GDAL. The table is the same either way (tests compare the two).
    bool direct_geopackage{true};
};

/// One layer in memory, column by column. Row i of every vector is feature i.
struct FeatureTable {
    std::string source;                         ///< path it was read from
    std::string layer;                          ///< layer name it was read from
    std::string crs;                            ///< CRS of `geometries` as WKT (the target CRS after reprojection)
    std::vector<Field> fields;                  ///< attribute fields, in layer order
    std::vector<std::int64_t> fids;             ///< OGR feature id of each feature
    std::vector<Wkb> geometries;                ///< ISO WKB 2D in `crs`; empty Wkb for a null/empty geometry
    std::vector<std::vector<FieldValue>> rows;  ///< rows[i][j]: value of fields[j] for feature i
    /// What reading found and did: facts (driver, crs, encoding, datum) and findings (features
    /// dropped for their geometry type or invalid coordinates, rings closed, text repaired).
    LayerReport report;

    [[nodiscard]] std::size_t size() const noexcept { return fids.size(); }
    /// Index of a field by name (case-insensitive, as OGR does), or -1.
    [[nodiscard]] int field_index(std::string_view name) const noexcept;
};

/// Reads a whole layer. Throws IoError when the source cannot be opened, InputError when the
/// layer, the CRS or a geometry is unusable; messages name the file, layer and feature id.
[[nodiscard]] FeatureTable read_layer(const LayerSpec& spec, const ReadOptions& options = {});

/// Layer names of a source, in order. Throws IoError when it cannot be opened.
[[nodiscard]] std::vector<std::string> list_layers(const std::string& path);

/// Lon/lat bounding box in degrees (WGS84 axis order: x = longitude, y = latitude).
struct GeoExtent {
    double min_lon = 0, min_lat = 0, max_lon = 0, max_lat = 0;
};

/// Extent of a layer in lon/lat (on its CRS's own datum, within metres to a few hundred of WGS84),
/// from its layer extent; when that spans more
/// than 5 degrees and the middle half of its features' positions (25th to 75th percentile of
/// their lon and lat) less than a fifth of it, that middle half, so that a few features far away
/// (geocodes in other countries) do not move it.
[[nodiscard]] GeoExtent geographic_extent(const LayerSpec& spec, const std::string& assume_crs = {});

/// A layer's own CRS as WKT, without reading its features; "" when it declares none.
[[nodiscard]] std::string layer_crs(const LayerSpec& spec);

/// A metric CRS suited to an extent: inside China a CGCS2000 3-degree Gauss-Kruger zone without
/// zone prefix (EPSG:4534-4554, by the extent's central longitude); elsewhere the WGS84 UTM zone.
/// Returns "EPSG:<code>".
[[nodiscard]] std::string choose_metric_crs(const GeoExtent& extent);

/// Short human name of a CRS ("CGCS2000 / 3-degree Gauss-Kruger CM 120E (EPSG:4549)"); "no CRS"
/// for an empty string. Throws ConfigError when `crs` cannot be parsed.
[[nodiscard]] std::string describe_crs(const std::string& crs);

enum class GeometryKind { none, point, line_string, polygon, multi_line_string, multi_polygon };

/// One layer to write: geometries (WKB, in the writer's CRS) and rows matching `fields`.
struct LayerData {
    std::string name{};
    GeometryKind geometry_kind = GeometryKind::none;  ///< none = attribute table (no geometry)
    std::vector<Field> fields{};
    std::vector<Wkb> geometries{};  ///< empty when geometry_kind is none
    std::vector<std::vector<FieldValue>> rows{};
};

/// A QGIS style (QML) of one layer, stored in the GeoPackage's `layer_styles` table, where QGIS
/// (3.x, through its OGR provider) finds a layer's default style when it opens the layer.
struct LayerStyle {
    std::string layer{};         ///< table name of the styled layer (written before add_styles)
    std::string name{};          ///< styleName (QGIS shows it in the layer's Styles menu; at most 30 characters)
    std::string qml{};           ///< the QGIS style document (QML, UTF-8)
    std::string description{};   ///< free text shown by QGIS
    bool use_as_default = true;  ///< QGIS applies the default style of a layer when loading it
};

class OutputReservation;
namespace detail {
struct SpatialIndexRows;
struct LayerContents;
}  // namespace detail

/// Writes a GeoPackage atomically: everything goes to a temporary file beside `path`, which
/// replaces `path` only in commit(). Destroying an uncommitted writer removes the temporary
/// file, so a failed run never leaves a partial output. Each layer is written in one
/// transaction, with a spatial index.
class GeoPackageWriter {
public:
    /// `crs` is the CRS of every geometry written (EPSG code, WKT or PROJ string). Reserves the
    /// output itself (see OutputReservation: stale temporaries removed, a live writer refused).
    GeoPackageWriter(std::string path, std::string crs);
    /// Writes into `output`'s temporary file, reserved by the caller (typically at the start of
    /// the run, before any work); commit() renames it. `output` must outlive the writer.
    GeoPackageWriter(OutputReservation& output, std::string crs);
    ~GeoPackageWriter();
    GeoPackageWriter(const GeoPackageWriter&) = delete;
    GeoPackageWriter& operator=(const GeoPackageWriter&) = delete;

    void add_layer(const LayerData& layer);
    /// Writes `styles` into the `layer_styles` table (created with the schema QGIS itself uses:
    /// f_table_catalog, f_table_schema, f_table_name, f_geometry_column, styleName, styleQML,
    /// styleSLD, useAsDefault, description, owner, ui, update_time), registered in gpkg_contents as
    /// an attributes table, so GDAL and other readers see one more attribute table and nothing else
    /// changes. Each style's layer must be a spatial layer already added; InternalError otherwise.
    /// At most one call per file.
    void add_styles(const std::vector<LayerStyle>& styles);
    /// Writes now, through GDAL's connection, the spatial index of every large layer whose index
    /// has been packed (on its own thread since the layer was added), or with `wait_for_packing`
    /// of every layer whose packing started; the others wait for close(). For a caller with a
    /// moment to spare, waiting on another thread: the close has less to do (a city's buildings:
    /// 0.12 s). The file holds the same either way.
    void write_packed_indexes(bool wait_for_packing = false);
    /// Names of the layers added so far, in order.
    [[nodiscard]] const std::vector<std::string>& layers() const noexcept { return layers_; }
    /// Closes the temporary file (building the spatial indexes): it is then complete, and the
    /// reservation's commit() can rename it. Throws IoError on failure.
    void close();
    /// close(), then renames the temporary file over `path`. Throws IoError on failure.
    void commit();

private:
    void open();
    std::unique_ptr<OutputReservation> owned_output_;
    OutputReservation* output_ = nullptr;
    std::string path_;
    std::string crs_;
    struct DatasetDeleter {
        void operator()(void* dataset) const noexcept;
    };
    std::unique_ptr<void, DatasetDeleter> dataset_;
    std::vector<std::string> layers_;
    std::vector<detail::SpatialIndexRows> spatial_indexes_;  ///< written by close(), after GDAL's
    std::vector<detail::LayerContents> contents_;            ///< counts and extents, set by close()
    bool committed_ = false;
};

}  // namespace civgrid::io
