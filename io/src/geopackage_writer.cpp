// Atomic GeoPackage writer: a temporary file beside the target, renamed over it in commit().
#include "gdal_handles.hpp"
#include "gpkg_rtree.hpp"

#include <civgrid/io/layer.hpp>
#include <civgrid/io/output_file.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <system_error>

namespace civgrid::io {
namespace {

constexpr const char* kStage = "io.write";
namespace fs = std::filesystem;

OGRwkbGeometryType ogr_type_of(GeometryKind kind) {
    switch (kind) {
        case GeometryKind::none:
            return wkbNone;
        case GeometryKind::point:
            return wkbPoint;
        case GeometryKind::line_string:
            return wkbLineString;
        case GeometryKind::polygon:
            return wkbPolygon;
        case GeometryKind::multi_line_string:
            return wkbMultiLineString;
        case GeometryKind::multi_polygon:
            return wkbMultiPolygon;
    }
    return wkbUnknown;
}

const char* name_of(FieldType type) {
    switch (type) {
        case FieldType::integer:
            return "an integer";
        case FieldType::real:
            return "a real";
        case FieldType::string:
            return "a string";
    }
    return "?";
}

bool iequals(std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
    });
}

/// Removes a SQLite database file and the journals SQLite may leave beside it.
void remove_database_files(const std::string& path) noexcept {
    std::error_code ignored;
    for (const char* suffix : {"", "-journal", "-wal", "-shm"}) fs::remove(path + suffix, ignored);
}

/// Until released: rolls back the open transaction (when started) and deletes the half-written
/// layer, so a failed add_layer leaves no trace in the file.
class LayerGuard {
public:
    LayerGuard(GDALDatasetH dataset, int layer_index) : dataset_(dataset), layer_index_(layer_index) {}
    ~LayerGuard() {
        if (dataset_ == nullptr) return;
        const detail::GdalErrorCapture quiet;  // nothing to report: an exception is already in flight
        if (in_transaction_) GDALDatasetRollbackTransaction(dataset_);
        GDALDatasetDeleteLayer(dataset_, layer_index_);
    }
    LayerGuard(const LayerGuard&) = delete;
    LayerGuard& operator=(const LayerGuard&) = delete;
    void transaction_started() noexcept { in_transaction_ = true; }
    void transaction_ended() noexcept { in_transaction_ = false; }
    void release() noexcept { dataset_ = nullptr; }

private:
    GDALDatasetH dataset_;
    int layer_index_;
    bool in_transaction_ = false;
};

/// Whether `value` can be written into a field of `type`: an integer widens into a real field,
/// and numbers are written as text into a string field (as OGR formats them); text never goes
/// into a numeric field and a real never into an integer one.
bool fits(const FieldValue& value, FieldType type) {
    switch (type) {
        case FieldType::integer:
            return !std::holds_alternative<double>(value) && !std::holds_alternative<std::string>(value);
        case FieldType::real:
            return !std::holds_alternative<std::string>(value);
        case FieldType::string:
            return true;
    }
    return false;
}

}  // namespace

void GeoPackageWriter::DatasetDeleter::operator()(void* dataset) const noexcept {
    if (dataset != nullptr) GDALClose(dataset);
}

GeoPackageWriter::GeoPackageWriter(std::string path, std::string crs)
    : owned_output_(std::make_unique<OutputReservation>(std::move(path))),
      output_(owned_output_.get()),
      path_(output_->path()),
      crs_(std::move(crs)) {
    open();
}

GeoPackageWriter::GeoPackageWriter(OutputReservation& output, std::string crs)
    : output_(&output), path_(output.path()), crs_(std::move(crs)) {
    open();
}

void GeoPackageWriter::open() {
    detail::ensure_gdal_registered();
    if (!crs_.empty()) static_cast<void>(detail::make_srs(crs_, kStage, "output CRS of '" + path_ + "'"));
    // The reservation's empty placeholder makes way for the GeoPackage.
    const std::string& temp_path = output_->temp_path();
    remove_database_files(temp_path);
    GDALDriverH driver = GDALGetDriverByName("GPKG");
    if (driver == nullptr) throw IoError(kStage, "cannot create '" + path_ + "': GDAL has no GPKG driver");
    detail::GdalErrorCapture capture;
    dataset_.reset(GDALCreate(driver, temp_path.c_str(), 0, 0, 0, GDT_Unknown, nullptr));
    if (!dataset_) {
        const std::string message = capture.message("GDALCreate failed");
        throw IoError(kStage, "cannot create '" + path_ + "' (temporary file '" + temp_path + "'): " + message);
    }
}

GeoPackageWriter::~GeoPackageWriter() {
    if (committed_) return;
    const detail::GdalErrorCapture quiet;
    dataset_.reset();  // the reservation removes the temporary file
}

void GeoPackageWriter::add_layer(const LayerData& data) {
    if (committed_ || !dataset_)
        throw InternalError(kStage, "'" + path_ + "': add_layer('" + data.name + "') after close or commit");
    const std::string where = path_ + ", layer '" + data.name + "'";
    if (data.name.empty()) throw InternalError(kStage, path_ + ": a layer needs a name");
    const bool spatial = data.geometry_kind != GeometryKind::none;
    if (spatial && data.geometries.size() != data.rows.size())
        throw InternalError(kStage, where + ": " + std::to_string(data.geometries.size()) + " geometries for " +
                                        std::to_string(data.rows.size()) + " rows");
    if (!spatial && !data.geometries.empty())
        throw InternalError(kStage, where + ": geometries given for an attribute table");
    for (std::size_t i = 0; i < data.rows.size(); ++i) {
        if (data.rows[i].size() != data.fields.size())
            throw InternalError(kStage, where + ", row " + std::to_string(i) + ": " +
                                            std::to_string(data.rows[i].size()) + " values for " +
                                            std::to_string(data.fields.size()) + " fields");
        for (std::size_t j = 0; j < data.fields.size(); ++j)
            if (!fits(data.rows[i][j], data.fields[j].type))
                throw InternalError(kStage, where + ", row " + std::to_string(i) + ", field '" + data.fields[j].name +
                                                "': a value of the wrong type for " + name_of(data.fields[j].type) +
                                                " field");
    }

    GDALDatasetH dataset = dataset_.get();
    detail::GdalErrorCapture capture;

    // The FID column must not collide (case-insensitively) with an attribute field.
    std::string fid_column = "fid";
    for (int n = 1; std::any_of(data.fields.begin(), data.fields.end(),
                                [&](const Field& f) { return iequals(f.name, fid_column); });
         ++n)
        fid_column = "fid_" + std::to_string(n);
    const std::string fid_option = "FID=" + fid_column;
    // The spatial index is written in bulk after GDAL closes the file (write_spatial_indexes):
    // GDAL 3.6 would fill it at close one R*Tree insertion per row.
    const char* layer_options[] = {fid_option.c_str(), "SPATIAL_INDEX=NO", nullptr};

    detail::SrsPtr srs;
    if (spatial && !crs_.empty()) srs = detail::make_srs(crs_, kStage, "output CRS");
    const OGRwkbGeometryType layer_type = ogr_type_of(data.geometry_kind);
    OGRLayerH layer =
        GDALDatasetCreateLayer(dataset, data.name.c_str(), srs.get(), layer_type, const_cast<char**>(layer_options));
    if (layer == nullptr) throw IoError(kStage, where + ": cannot create the layer: " + capture.message());
    LayerGuard guard(dataset, GDALDatasetGetLayerCount(dataset) - 1);

    detail::create_fields(layer, data.fields, kStage, where);

    if (GDALDatasetStartTransaction(dataset, FALSE) != OGRERR_NONE)
        throw IoError(kStage, where + ": cannot start a transaction: " + capture.message());
    guard.transaction_started();

    detail::SpatialIndexRows index;
    if (spatial) {
        index.table = data.name;
        index.geometry_column = OGR_L_GetGeometryColumn(layer);
        index.fid_column = fid_column;
        index.entries.reserve(data.rows.size());
    }
    const detail::FeaturePtr feature(OGR_F_Create(OGR_L_GetLayerDefn(layer)));
    if (!feature) throw InternalError(kStage, where + ": cannot allocate a feature");
    for (std::size_t i = 0; i < data.rows.size(); ++i) {
        const auto row_where = [&] { return where + ", row " + std::to_string(i); };
        OGR_F_SetFID(feature.get(), OGRNullFID);

        const auto& row = data.rows[i];
        for (std::size_t j = 0; j < row.size(); ++j)
            detail::set_field(feature.get(), static_cast<int>(j), data.fields[j].type, row[j]);

        if (spatial) {
            const Wkb& wkb = data.geometries[i];
            OGRGeometryH geometry = nullptr;
            if (!wkb.empty()) {
                if (OGR_G_CreateFromWkbEx(wkb.data(), nullptr, &geometry, wkb.size()) != OGRERR_NONE ||
                    geometry == nullptr)
                    throw InternalError(kStage, row_where() + ": invalid WKB (" + std::to_string(wkb.size()) +
                                                    " bytes): " + capture.message());
                detail::GeometryPtr owned(geometry);
                if (OGR_G_Is3D(geometry)) OGR_G_FlattenTo2D(geometry);
                if (OGR_G_IsMeasured(geometry)) OGR_G_SetMeasured(geometry, FALSE);
                const OGRwkbGeometryType type = wkbFlatten(OGR_G_GetGeometryType(geometry));
                if (type != layer_type) {
                    if (type == wkbPolygon && layer_type == wkbMultiPolygon)
                        owned.reset(OGR_G_ForceToMultiPolygon(owned.release()));
                    else if (type == wkbLineString && layer_type == wkbMultiLineString)
                        owned.reset(OGR_G_ForceToMultiLineString(owned.release()));
                    else
                        throw InternalError(kStage, row_where() + ": geometry type " + OGRGeometryTypeToName(type) +
                                                        " in a " + OGRGeometryTypeToName(layer_type) + " layer");
                }
                geometry = owned.release();
            }
            OGR_F_SetGeometryDirectly(feature.get(), geometry);  // takes ownership; nullptr = null geometry
        }

        if (OGR_L_CreateFeature(layer, feature.get()) != OGRERR_NONE)
            throw IoError(kStage, row_where() + ": cannot write the feature: " + capture.message());
        // What the index triggers of GDAL's driver would insert: the fid given and the envelope,
        // for a geometry neither null nor empty.
        if (OGRGeometryH written = spatial ? OGR_F_GetGeometryRef(feature.get()) : nullptr;
            written != nullptr && !OGR_G_IsEmpty(written)) {
            OGREnvelope envelope;
            OGR_G_GetEnvelope(written, &envelope);
            index.entries.push_back(
                {OGR_F_GetFID(feature.get()), envelope.MinX, envelope.MaxX, envelope.MinY, envelope.MaxY});
        }
    }

    if (GDALDatasetCommitTransaction(dataset) != OGRERR_NONE)
        throw IoError(kStage, where + ": cannot commit the transaction: " + capture.message());
    guard.transaction_ended();
    if (capture.has_error()) throw IoError(kStage, where + ": " + capture.message());
    guard.release();
    layers_.push_back(data.name);
    if (spatial) spatial_indexes_.push_back(std::move(index));
}

void GeoPackageWriter::add_styles(const std::vector<LayerStyle>& styles) {
    constexpr const char* kTable = "layer_styles";
    if (committed_ || !dataset_) throw InternalError(kStage, "'" + path_ + "': add_styles after close or commit");
    const std::string where = path_ + ", layer '" + kTable + "'";
    if (std::find(layers_.begin(), layers_.end(), kTable) != layers_.end())
        throw InternalError(kStage, where + ": styles written twice");
    GDALDatasetH dataset = dataset_.get();
    detail::GdalErrorCapture capture;

    // The geometry column of each styled layer: QGIS matches f_table_name and f_geometry_column.
    std::vector<std::string> geometry_columns;
    for (const LayerStyle& style : styles) {
        OGRLayerH styled = GDALDatasetGetLayerByName(dataset, style.layer.c_str());
        const char* column = styled != nullptr ? OGR_L_GetGeometryColumn(styled) : nullptr;
        if (column == nullptr || *column == '\0')
            throw InternalError(
                kStage, where + ": a style for '" + style.layer + "', which is not a spatial layer of the file");
        if (style.name.empty() || style.name.size() > 30)
            throw InternalError(kStage, where + ": style name '" + style.name + "' of layer '" + style.layer +
                                            "' must have 1 to 30 characters");
        geometry_columns.emplace_back(column);
    }

    // The table as QGIS's OGR provider creates it (QgsOgrProviderMetadata::saveStyle).
    const char* layer_options[] = {"FID=id", nullptr};
    OGRLayerH layer = GDALDatasetCreateLayer(dataset, kTable, nullptr, wkbNone, const_cast<char**>(layer_options));
    if (layer == nullptr) throw IoError(kStage, where + ": cannot create the table: " + capture.message());
    LayerGuard guard(dataset, GDALDatasetGetLayerCount(dataset) - 1);
    struct Column {
        const char* name;
        OGRFieldType type;
        int width;
        OGRFieldSubType subtype;
    };
    constexpr Column columns[] = {
        {"f_table_catalog", OFTString, 256, OFSTNone},
        {"f_table_schema", OFTString, 256, OFSTNone},
        {"f_table_name", OFTString, 256, OFSTNone},
        {"f_geometry_column", OFTString, 256, OFSTNone},
        {"styleName", OFTString, 30, OFSTNone},
        {"styleQML", OFTString, 0, OFSTNone},
        {"styleSLD", OFTString, 0, OFSTNone},
        {"useAsDefault", OFTInteger, 0, OFSTBoolean},
        {"description", OFTString, 0, OFSTNone},
        {"owner", OFTString, 30, OFSTNone},
        {"ui", OFTString, 30, OFSTNone},
        {"update_time", OFTDateTime, 0, OFSTNone},
    };
    for (const Column& column : columns) {
        const detail::FieldDefnPtr definition(OGR_Fld_Create(column.name, column.type));
        OGR_Fld_SetWidth(definition.get(), column.width);
        OGR_Fld_SetSubType(definition.get(), column.subtype);
        if (column.type == OFTDateTime) OGR_Fld_SetDefault(definition.get(), "CURRENT_TIMESTAMP");
        if (OGR_L_CreateField(layer, definition.get(), TRUE) != OGRERR_NONE)
            throw IoError(kStage, where + ", field '" + column.name + "': cannot create it: " + capture.message());
    }

    if (GDALDatasetStartTransaction(dataset, FALSE) != OGRERR_NONE)
        throw IoError(kStage, where + ": cannot start a transaction: " + capture.message());
    guard.transaction_started();
    const detail::FeaturePtr feature(OGR_F_Create(OGR_L_GetLayerDefn(layer)));
    if (!feature) throw InternalError(kStage, where + ": cannot allocate a feature");
    for (std::size_t i = 0; i < styles.size(); ++i) {
        const LayerStyle& style = styles[i];
        OGR_F_SetFID(feature.get(), OGRNullFID);
        OGR_F_SetFieldString(feature.get(), 0, "");
        OGR_F_SetFieldString(feature.get(), 1, "");
        OGR_F_SetFieldString(feature.get(), 2, style.layer.c_str());
        OGR_F_SetFieldString(feature.get(), 3, geometry_columns[i].c_str());
        OGR_F_SetFieldString(feature.get(), 4, style.name.c_str());
        OGR_F_SetFieldString(feature.get(), 5, style.qml.c_str());
        OGR_F_SetFieldString(feature.get(), 6, "");
        OGR_F_SetFieldInteger(feature.get(), 7, style.use_as_default ? 1 : 0);
        OGR_F_SetFieldString(feature.get(), 8, style.description.c_str());
        OGR_F_SetFieldString(feature.get(), 9, "");
        OGR_F_SetFieldNull(feature.get(), 10);
        OGR_F_UnsetField(feature.get(), 11);  // the column's default: the time of writing
        if (OGR_L_CreateFeature(layer, feature.get()) != OGRERR_NONE)
            throw IoError(kStage,
                          where + ", style of layer '" + style.layer + "': cannot write it: " + capture.message());
    }
    if (GDALDatasetCommitTransaction(dataset) != OGRERR_NONE)
        throw IoError(kStage, where + ": cannot commit the transaction: " + capture.message());
    guard.transaction_ended();
    if (capture.has_error()) throw IoError(kStage, where + ": " + capture.message());
    guard.release();
    layers_.emplace_back(kTable);
}

void GeoPackageWriter::close() {
    if (committed_ || !dataset_) throw InternalError(kStage, "'" + path_ + "': closed twice");
    detail::GdalErrorCapture capture;
    dataset_.reset();  // GDALClose: flushes, closes SQLite
    if (capture.has_error())
        throw IoError(kStage, "cannot write '" + path_ + "' (temporary file '" + output_->temp_path() +
                                  "'): " + capture.message());
    detail::write_spatial_indexes(output_->temp_path(), spatial_indexes_);
    spatial_indexes_.clear();
}

void GeoPackageWriter::commit() {
    close();
    output_->commit();
    committed_ = true;
}

}  // namespace civgrid::io
