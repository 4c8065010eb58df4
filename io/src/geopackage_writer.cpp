// Atomic GeoPackage writer: a temporary file beside the target, renamed over it in commit().
#include "gdal_handles.hpp"

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
    const char* layer_options[] = {fid_option.c_str(), "SPATIAL_INDEX=YES", nullptr};

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
    }

    if (GDALDatasetCommitTransaction(dataset) != OGRERR_NONE)
        throw IoError(kStage, where + ": cannot commit the transaction: " + capture.message());
    guard.transaction_ended();
    if (capture.has_error()) throw IoError(kStage, where + ": " + capture.message());
    guard.release();
}

void GeoPackageWriter::close() {
    if (committed_ || !dataset_) throw InternalError(kStage, "'" + path_ + "': closed twice");
    detail::GdalErrorCapture capture;
    dataset_.reset();  // GDALClose: flushes, builds the spatial indexes, closes SQLite
    if (capture.has_error())
        throw IoError(kStage, "cannot write '" + path_ + "' (temporary file '" + output_->temp_path() +
                                  "'): " + capture.message());
}

void GeoPackageWriter::commit() {
    close();
    output_->commit();
    committed_ = true;
}

}  // namespace civgrid::io
