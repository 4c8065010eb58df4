// In-memory layers as /vsimem/ GeoPackages: feature ids are row positions, every row is kept
// (GDAL 3.6's FlatGeobuf writer drops features with a null or empty geometry, so the import report
// could not name them), and a layer without a CRS reads back as declaring none (declared_srs).
#include "gdal_handles.hpp"

#include <civgrid/io/memory_source.hpp>

#include <cpl_vsi.h>

#include <algorithm>
#include <atomic>

namespace civgrid::io {
namespace {

constexpr const char* kStage = "io.memory";

/// Removes a /vsimem/ file on scope exit unless released (a failed MemorySource leaves nothing).
class MemoryFileGuard {
public:
    explicit MemoryFileGuard(std::string path) : path_(std::move(path)) {}
    ~MemoryFileGuard() {
        if (!path_.empty()) VSIUnlink(path_.c_str());
    }
    MemoryFileGuard(const MemoryFileGuard&) = delete;
    MemoryFileGuard& operator=(const MemoryFileGuard&) = delete;
    void release() noexcept { path_.clear(); }

private:
    std::string path_;
};

}  // namespace

MemorySource::MemorySource(const LayerData& data, const std::string& crs) {
    detail::ensure_gdal_registered();
    static std::atomic<unsigned long> counter{0};
    const std::string name = data.name.empty() ? std::string("layer") : data.name;
    spec_.path = "/vsimem/civgrid/" + std::to_string(++counter) + "/" + name + ".gpkg";
    spec_.layer = name;
    const std::string where = spec_.path + ", layer '" + name + "'";
    if (data.geometry_kind == GeometryKind::none)
        throw ConfigError(kStage, where + ": an in-memory layer needs geometries (attribute tables are not supported)");
    if (data.geometries.size() != data.rows.size())
        throw InternalError(kStage, where + ": " + std::to_string(data.geometries.size()) + " geometries for " +
                                        std::to_string(data.rows.size()) + " rows");

    detail::SrsPtr srs;
    if (!crs.empty()) srs = detail::make_srs(crs, kStage, "CRS of '" + name + "'");

    GDALDriverH driver = GDALGetDriverByName("GPKG");
    if (driver == nullptr) throw IoError(kStage, "GDAL has no GPKG driver");
    MemoryFileGuard guard(spec_.path);
    detail::GdalErrorCapture capture;
    {
        const detail::DatasetPtr dataset(GDALCreate(driver, spec_.path.c_str(), 0, 0, 0, GDT_Unknown, nullptr));
        if (!dataset) throw IoError(kStage, "cannot create '" + spec_.path + "': " + capture.message());
        // The FID column must not take the name of an attribute (a frame may have a "fid" column).
        std::string fid_column = "fid";
        for (int n = 1; std::any_of(data.fields.begin(), data.fields.end(),
                                    [&](const Field& f) { return EQUAL(f.name.c_str(), fid_column.c_str()); });
             ++n)
            fid_column = "fid_" + std::to_string(n);
        const std::string fid_option = "FID=" + fid_column;
        const char* options[] = {"SPATIAL_INDEX=NO", fid_option.c_str(), nullptr};
        OGRLayerH layer =
            GDALDatasetCreateLayer(dataset.get(), name.c_str(), srs.get(), wkbUnknown, const_cast<char**>(options));
        if (layer == nullptr) throw IoError(kStage, where + ": cannot create the layer: " + capture.message());
        detail::create_fields(layer, data.fields, kStage, where);
        if (GDALDatasetStartTransaction(dataset.get(), FALSE) != OGRERR_NONE)
            throw IoError(kStage, where + ": cannot start a transaction: " + capture.message());
        const detail::FeaturePtr feature(OGR_F_Create(OGR_L_GetLayerDefn(layer)));
        for (std::size_t i = 0; i < data.rows.size(); ++i) {
            OGR_F_SetFID(feature.get(), static_cast<GIntBig>(i));
            const std::string row_where = where + ", feature " + std::to_string(i);
            if (data.rows[i].size() != data.fields.size())
                throw InternalError(kStage, row_where + ": " + std::to_string(data.rows[i].size()) + " values for " +
                                                std::to_string(data.fields.size()) + " fields");
            for (std::size_t j = 0; j < data.fields.size(); ++j)
                detail::set_field(feature.get(), static_cast<int>(j), data.fields[j].type, data.rows[i][j]);
            OGRGeometryH geometry = nullptr;
            if (!data.geometries[i].empty()) {
                const Wkb& wkb = data.geometries[i];
                if (OGR_G_CreateFromWkbEx(wkb.data(), srs.get(), &geometry, wkb.size()) != OGRERR_NONE ||
                    geometry == nullptr)
                    throw InputError(kStage,
                                     row_where + ": invalid WKB geometry (" + std::to_string(wkb.size()) + " bytes)");
            }
            OGR_F_SetGeometryDirectly(feature.get(), geometry);  // takes ownership; nullptr = null geometry
            if (OGR_L_CreateFeature(layer, feature.get()) != OGRERR_NONE)
                throw IoError(kStage, row_where + ": cannot write the feature: " + capture.message());
        }
        if (GDALDatasetCommitTransaction(dataset.get()) != OGRERR_NONE)
            throw IoError(kStage, where + ": cannot commit: " + capture.message());
    }  // closes the dataset, so readers see every feature
    if (capture.has_error()) throw IoError(kStage, where + ": " + capture.message());
    guard.release();
}

MemorySource::~MemorySource() {
    VSIUnlink(spec_.path.c_str());
}

}  // namespace civgrid::io
