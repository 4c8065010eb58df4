// Internal to io/: RAII owners of GDAL handles, GDAL error capture and shared CRS helpers.
// Never include this from a public header.
#pragma once

#include <civgrid/error.hpp>
#include <civgrid/types.hpp>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

namespace civgrid::io::detail {

// ---- Owners ---------------------------------------------------------------------------------

struct DatasetCloser {
    void operator()(GDALDatasetH h) const noexcept {
        if (h != nullptr) GDALClose(h);
    }
};
struct FeatureDestroyer {
    void operator()(OGRFeatureH h) const noexcept {
        if (h != nullptr) OGR_F_Destroy(h);
    }
};
struct GeometryDestroyer {
    void operator()(OGRGeometryH h) const noexcept {
        if (h != nullptr) OGR_G_DestroyGeometry(h);
    }
};
struct SrsReleaser {
    void operator()(OGRSpatialReferenceH h) const noexcept {
        if (h != nullptr) OSRRelease(h);  // reference counted: shared with layers and geometries
    }
};
struct TransformationDestroyer {
    void operator()(OGRCoordinateTransformationH h) const noexcept {
        if (h != nullptr) OCTDestroyCoordinateTransformation(h);
    }
};
struct FieldDefnDestroyer {
    void operator()(OGRFieldDefnH h) const noexcept {
        if (h != nullptr) OGR_Fld_Destroy(h);
    }
};
struct CplFreer {
    void operator()(void* p) const noexcept { CPLFree(p); }
};

using DatasetPtr = std::unique_ptr<std::remove_pointer_t<GDALDatasetH>, DatasetCloser>;
using FeaturePtr = std::unique_ptr<std::remove_pointer_t<OGRFeatureH>, FeatureDestroyer>;
using GeometryPtr = std::unique_ptr<std::remove_pointer_t<OGRGeometryH>, GeometryDestroyer>;
using SrsPtr = std::unique_ptr<std::remove_pointer_t<OGRSpatialReferenceH>, SrsReleaser>;
using TransformationPtr = std::unique_ptr<std::remove_pointer_t<OGRCoordinateTransformationH>, TransformationDestroyer>;
using FieldDefnPtr = std::unique_ptr<std::remove_pointer_t<OGRFieldDefnH>, FieldDefnDestroyer>;
using CplString = std::unique_ptr<char, CplFreer>;

/// Registers every GDAL driver, once per process.
inline void ensure_gdal_registered() {
    static std::once_flag once;
    std::call_once(once, [] { GDALAllRegister(); });
}

// ---- Error capture --------------------------------------------------------------------------

/// While alive, GDAL errors raised on this thread are collected (for the exception message)
/// instead of being printed. Warnings are kept and re-emitted to the previous handler when the
/// scope ends, so the user still sees them (e.g. through the CLI's or Python's handler).
class GdalErrorCapture {
public:
    GdalErrorCapture() {
        CPLErrorReset();
        CPLPushErrorHandlerEx(&GdalErrorCapture::handle, this);
    }
    ~GdalErrorCapture() {
        CPLPopErrorHandler();
        for (const auto& warning : warnings_) CPLError(CE_Warning, CPLE_AppDefined, "%s", warning.c_str());
        if (suppressed_warnings_ > 0)
            CPLError(CE_Warning, CPLE_AppDefined, "%zu more GDAL warnings not shown", suppressed_warnings_);
    }
    GdalErrorCapture(const GdalErrorCapture&) = delete;
    GdalErrorCapture& operator=(const GdalErrorCapture&) = delete;

    [[nodiscard]] bool has_error() const noexcept { return !errors_.empty(); }
    /// The errors collected since construction or the last clear(), or GDAL's last error
    /// message, or `fallback`.
    [[nodiscard]] std::string message(const char* fallback = "unknown GDAL error") const {
        if (!errors_.empty()) return errors_;
        const char* last = CPLGetLastErrorMsg();
        return (last != nullptr && *last != '\0') ? std::string(last) : std::string(fallback);
    }
    void clear() noexcept {
        errors_.clear();
        CPLErrorReset();
    }

private:
    static void CPL_STDCALL handle(CPLErr level, CPLErrorNum /*number*/, const char* text) {
        auto* self = static_cast<GdalErrorCapture*>(CPLGetErrorHandlerUserData());
        if (self == nullptr || text == nullptr) return;
        try {
            if (level == CE_Failure || level == CE_Fatal) {
                if (!self->errors_.empty()) self->errors_ += "; ";
                if (self->errors_.size() < kMaxErrorText) self->errors_ += text;
            } else if (level == CE_Warning) {
                if (self->warnings_.size() < kMaxWarnings)
                    self->warnings_.emplace_back(text);
                else
                    ++self->suppressed_warnings_;
            }
        } catch (...) {  // never let an exception cross GDAL's C frames
        }
    }

    static constexpr std::size_t kMaxErrorText = 4000;
    static constexpr std::size_t kMaxWarnings = 20;
    std::string errors_;
    std::vector<std::string> warnings_;
    std::size_t suppressed_warnings_ = 0;
};

// ---- CRS helpers (defined in crs.cpp) -------------------------------------------------------

/// Parses an EPSG code, WKT or PROJ string with traditional GIS axis order (x = lon/easting).
/// Throws ConfigError("<stage>: invalid CRS '<text>' (<what>): ...") when it cannot.
[[nodiscard]] SrsPtr make_srs(const std::string& text, const char* stage, const std::string& what);
/// The CRS a layer declares, or nullptr when it declares none. A GeoPackage's "undefined"
/// systems (srs_id 0 "Undefined geographic SRS", -1 "Undefined Cartesian SRS") declare none:
/// the spec defines them as unknown coordinates, so --assume-crs applies to them.
[[nodiscard]] OGRSpatialReferenceH declared_srs(OGRLayerH layer);
/// A copy of `srs` (e.g. a layer's) with traditional GIS axis order.
[[nodiscard]] SrsPtr clone_srs(OGRSpatialReferenceH srs);
/// Single-line WKT2 (2019) of `srs`, or WKT1 when WKT2 export fails; "" when neither works.
[[nodiscard]] std::string srs_to_wkt(OGRSpatialReferenceH srs);
/// Throws InputError when the eastings of `extent` and the false easting of a projected `srs`
/// disagree about the Gauss-Kruger zone prefix (eastings like 35,607,725 m in a CRS without the
/// prefix, or the reverse), naming the CRS to use instead. `where` names file and layer.
void check_zone_prefix(OGRSpatialReferenceH srs, const OGREnvelope& extent, const std::string& where);

// ---- Datasets (defined in layer_reader.cpp) -------------------------------------------------

/// Opens a vector source read-only, with driver open options ("ENCODING="). Throws
/// IoError("io.read: cannot open 'PATH': ...").
[[nodiscard]] DatasetPtr open_vector(const std::string& path, const std::vector<std::string>& open_options = {});
/// The layer `name` of `dataset` (the first one when empty). Throws InputError listing the
/// available layers when absent.
[[nodiscard]] OGRLayerH find_layer(GDALDatasetH dataset, const std::string& path, const std::string& name);

// ---- Fields -----------------------------------------------------------------------------------

inline OGRFieldType ogr_type_of(FieldType type) {
    switch (type) {
        case FieldType::integer:
            return OFTInteger64;
        case FieldType::real:
            return OFTReal;
        case FieldType::string:
            return OFTString;
    }
    return OFTString;
}

/// Sets field `index` of a feature to `value`; an integer in a real field is written as a real,
/// in a string field as its digits (OGR formats it).
inline void set_field(OGRFeatureH feature, int index, FieldType type, const FieldValue& value) {
    if (std::holds_alternative<std::monostate>(value))
        OGR_F_SetFieldNull(feature, index);
    else if (const auto* integer = std::get_if<std::int64_t>(&value))
        type == FieldType::real ? OGR_F_SetFieldDouble(feature, index, static_cast<double>(*integer))
                                : OGR_F_SetFieldInteger64(feature, index, *integer);
    else if (const auto* real = std::get_if<double>(&value))
        OGR_F_SetFieldDouble(feature, index, *real);
    else
        OGR_F_SetFieldString(feature, index, std::get<std::string>(value).c_str());
}

/// Adds the fields to a new layer; IoError naming the layer (`where`) and field on failure.
inline void create_fields(OGRLayerH layer, const std::vector<Field>& fields, const char* stage,
                          const std::string& where) {
    GdalErrorCapture capture;
    for (const Field& field : fields) {
        const bool boolean = field.boolean && field.type == FieldType::integer;  // OGR: a subtype of 32-bit integers
        OGRFieldDefnH definition = OGR_Fld_Create(field.name.c_str(), boolean ? OFTInteger : ogr_type_of(field.type));
        if (boolean) OGR_Fld_SetSubType(definition, OFSTBoolean);
        const OGRErr error = OGR_L_CreateField(layer, definition, TRUE);
        OGR_Fld_Destroy(definition);
        if (error != OGRERR_NONE)
            throw IoError(stage, where + ": cannot create field '" + field.name + "': " + capture.message());
    }
}

}  // namespace civgrid::io::detail
