// Reading OGR layers into FeatureTables.
#include "gdal_handles.hpp"

#include <civgrid/io/layer.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <string>
#include <system_error>

namespace civgrid::io {
namespace detail {

DatasetPtr open_vector(const std::string& path) {
    ensure_gdal_registered();
    GdalErrorCapture capture;
    DatasetPtr dataset(
        GDALOpenEx(path.c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY | GDAL_OF_VERBOSE_ERROR, nullptr, nullptr, nullptr));
    if (!dataset) throw IoError("io.read", "cannot open '" + path + "': " + capture.message("not a vector source"));
    return dataset;
}

OGRLayerH find_layer(GDALDatasetH dataset, const std::string& path, const std::string& name) {
    const int count = GDALDatasetGetLayerCount(dataset);
    if (count <= 0) throw InputError("io.read", path + ": the source has no layer");
    if (name.empty()) return GDALDatasetGetLayer(dataset, 0);
    if (OGRLayerH layer = GDALDatasetGetLayerByName(dataset, name.c_str()); layer != nullptr) return layer;
    std::string available;
    for (int i = 0; i < count; ++i) {
        if (i > 0) available += ", ";
        available += std::string("'") + OGR_L_GetName(GDALDatasetGetLayer(dataset, i)) + "'";
    }
    throw InputError("io.read", path + ": no layer '" + name + "'; available layers: " + available);
}

}  // namespace detail

namespace {

bool path_exists(const std::string& path) {
    std::error_code ignored;
    return !path.empty() && std::filesystem::exists(path, ignored);
}

/// The family of a linear 2D geometry type, or nullptr for collections and others.
const char* family_of(OGRwkbGeometryType flat_type) {
    switch (flat_type) {
        case wkbPoint:
        case wkbMultiPoint:
            return "point";
        case wkbLineString:
        case wkbMultiLineString:
            return "line";
        case wkbPolygon:
        case wkbMultiPolygon:
            return "polygon";
        default:
            return nullptr;
    }
}

std::string join(const std::vector<std::string>& items) {
    std::string text;
    for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
    return text;
}

/// Rounds every vertex to a multiple of `grid`, through parts and rings.
void snap_to_grid(OGRGeometryH geometry, double grid) {
    if (const int parts = OGR_G_GetGeometryCount(geometry); parts > 0) {
        for (int i = 0; i < parts; ++i) snap_to_grid(OGR_G_GetGeometryRef(geometry, i), grid);
        return;
    }
    const int points = OGR_G_GetPointCount(geometry);
    for (int i = 0; i < points; ++i)
        OGR_G_SetPoint_2D(geometry, i, std::round(OGR_G_GetX(geometry, i) / grid) * grid,
                          std::round(OGR_G_GetY(geometry, i) / grid) * grid);
}

FieldType field_type_of(OGRFieldType type) {
    switch (type) {
        case OFTInteger:
        case OFTInteger64:
            return FieldType::integer;
        case OFTReal:
            return FieldType::real;
        default:
            return FieldType::string;
    }
}

}  // namespace

int FeatureTable::field_index(std::string_view name) const noexcept {
    const auto equal_ci = [](std::string_view a, std::string_view b) {
        return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
            return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
        });
    };
    for (std::size_t i = 0; i < fields.size(); ++i)
        if (equal_ci(fields[i].name, name)) return static_cast<int>(i);
    return -1;
}

LayerSpec parse_layer_spec(std::string_view text) {
    const std::string whole(text);
    if (path_exists(whole)) return {whole, {}};
    if (const auto colon = whole.rfind(':'); colon != std::string::npos && colon > 0) {
        std::string path = whole.substr(0, colon);
        if (path_exists(path)) return {std::move(path), whole.substr(colon + 1)};
    }
    return {whole, {}};
}

std::vector<std::string> list_layers(const std::string& path) {
    const detail::DatasetPtr dataset = detail::open_vector(path);
    std::vector<std::string> names;
    const int count = GDALDatasetGetLayerCount(dataset.get());
    names.reserve(static_cast<std::size_t>(std::max(count, 0)));
    for (int i = 0; i < count; ++i) names.emplace_back(OGR_L_GetName(GDALDatasetGetLayer(dataset.get(), i)));
    return names;
}

FeatureTable read_layer(const LayerSpec& spec, const ReadOptions& options) {
    constexpr const char* stage = "io.read";
    for (const auto& family : options.accepted_families)
        if (family != "point" && family != "line" && family != "polygon")
            throw ConfigError(stage, "unknown geometry family '" + family + "' (expected point, line or polygon)");

    const detail::DatasetPtr dataset = detail::open_vector(spec.path);
    OGRLayerH layer = detail::find_layer(dataset.get(), spec.path, spec.layer);

    FeatureTable table;
    table.source = spec.path;
    table.layer = OGR_L_GetName(layer);
    const std::string where = spec.path + ", layer '" + table.layer + "'";

    // CRS: the layer's own, else the assumed one; reproject when a target is given.
    detail::SrsPtr source_srs;
    if (OGRSpatialReferenceH layer_srs = OGR_L_GetSpatialRef(layer); layer_srs != nullptr)
        source_srs = detail::clone_srs(layer_srs);
    else if (!options.assume_crs.empty())
        source_srs = detail::make_srs(options.assume_crs, "io.crs", "--assume-crs");
    detail::SrsPtr target_srs;
    detail::TransformationPtr transformation;
    if (!options.target_crs.empty()) {
        if (!source_srs)
            throw InputError(stage, where +
                                        ": layer has no CRS; pass --assume-crs (e.g. EPSG:4326 or EPSG:4549) "
                                        "to say which CRS its coordinates are in");
        target_srs = detail::make_srs(options.target_crs, "io.crs", "target CRS");
        detail::GdalErrorCapture capture;
        transformation.reset(OCTNewCoordinateTransformation(source_srs.get(), target_srs.get()));
        if (!transformation)
            throw InputError("io.crs", where + ": cannot transform from '" + std::string(OSRGetName(source_srs.get())) +
                                           "' to '" + options.target_crs + "': " + capture.message());
    }
    if (target_srs)
        table.crs = detail::srs_to_wkt(target_srs.get());
    else if (source_srs)
        table.crs = detail::srs_to_wkt(source_srs.get());

    detail::GdalErrorCapture capture;
    if (!options.attribute_filter.empty() &&
        OGR_L_SetAttributeFilter(layer, options.attribute_filter.c_str()) != OGRERR_NONE)
        throw ConfigError(
            stage, where + ": invalid attribute filter \"" + options.attribute_filter + "\": " + capture.message());

    // Fields.
    OGRFeatureDefnH definition = OGR_L_GetLayerDefn(layer);
    const int field_count = OGR_FD_GetFieldCount(definition);
    table.fields.reserve(static_cast<std::size_t>(field_count));
    for (int i = 0; i < field_count; ++i) {
        OGRFieldDefnH field = OGR_FD_GetFieldDefn(definition, i);
        table.fields.push_back(Field{OGR_Fld_GetNameRef(field), field_type_of(OGR_Fld_GetType(field))});
    }
    const bool has_geometry = OGR_FD_GetGeomFieldCount(definition) > 0;

    if (const GIntBig count = OGR_L_GetFeatureCount(layer, FALSE); count > 0) {
        const auto n = static_cast<std::size_t>(std::min<GIntBig>(count, GIntBig{1} << 28));
        table.fids.reserve(n);
        table.geometries.reserve(n);
        table.rows.reserve(n);
    }

    const auto feature_where = [&](GIntBig fid) { return where + ", feature " + std::to_string(fid); };
    OGR_L_ResetReading(layer);
    while (true) {
        const detail::FeaturePtr feature(OGR_L_GetNextFeature(layer));
        if (!feature) break;
        const GIntBig fid = OGR_F_GetFID(feature.get());

        // Geometry: linear, 2D, in the target CRS, as ISO WKB little endian.
        Wkb wkb;
        OGRGeometryH geometry = has_geometry ? OGR_F_GetGeometryRef(feature.get()) : nullptr;
        detail::GeometryPtr owned;  // set when the geometry had to be replaced by a new one
        if (geometry != nullptr && !OGR_G_IsEmpty(geometry)) {
            OGRwkbGeometryType type = wkbFlatten(OGR_G_GetGeometryType(geometry));
            if (OGR_G_HasCurveGeometry(geometry, TRUE)) {  // also curves inside a GeometryCollection
                owned.reset(OGR_G_GetLinearGeometry(geometry, 0.0, nullptr));
                if (!owned)
                    throw InputError(stage, feature_where(fid) + ": cannot linearise geometry type " +
                                                OGRGeometryTypeToName(type) + ": " + capture.message());
                geometry = owned.get();
            } else if (type == wkbPolyhedralSurface || type == wkbTIN) {
                owned.reset(OGR_G_ForceTo(OGR_G_Clone(geometry), wkbMultiPolygon, nullptr));
                geometry = owned.get();
            } else if (type == wkbTriangle) {
                owned.reset(OGR_G_ForceTo(OGR_G_Clone(geometry), wkbPolygon, nullptr));
                geometry = owned.get();
            }
            if (OGR_G_Is3D(geometry)) OGR_G_FlattenTo2D(geometry);
            if (OGR_G_IsMeasured(geometry)) OGR_G_SetMeasured(geometry, FALSE);
            type = wkbFlatten(OGR_G_GetGeometryType(geometry));

            if (!options.accepted_families.empty()) {
                const char* family = family_of(type);
                if (family == nullptr || std::find(options.accepted_families.begin(), options.accepted_families.end(),
                                                   family) == options.accepted_families.end())
                    throw InputError(stage, feature_where(fid) + ": geometry type " + OGRGeometryTypeToName(type) +
                                                " is not one of " + join(options.accepted_families));
            }
            if (transformation && OGR_G_Transform(geometry, transformation.get()) != OGRERR_NONE)
                throw InputError(stage, feature_where(fid) + ": cannot reproject the geometry to '" +
                                            options.target_crs + "': " + capture.message("coordinates out of range"));
            if (options.coordinate_grid > 0) snap_to_grid(geometry, options.coordinate_grid);

            wkb.resize(static_cast<std::size_t>(OGR_G_WkbSize(geometry)));
            if (OGR_G_ExportToIsoWkb(geometry, wkbNDR, wkb.data()) != OGRERR_NONE)
                throw InputError(stage,
                                 feature_where(fid) + ": cannot export the geometry as WKB: " + capture.message());
        }

        // Attributes.
        std::vector<FieldValue> row(static_cast<std::size_t>(field_count));
        for (int i = 0; i < field_count; ++i) {
            if (!OGR_F_IsFieldSetAndNotNull(feature.get(), i)) continue;
            auto& value = row[static_cast<std::size_t>(i)];
            switch (table.fields[static_cast<std::size_t>(i)].type) {
                case FieldType::integer:
                    value = std::int64_t{OGR_F_GetFieldAsInteger64(feature.get(), i)};
                    break;
                case FieldType::real:
                    value = OGR_F_GetFieldAsDouble(feature.get(), i);
                    break;
                case FieldType::string:
                    value = std::string(OGR_F_GetFieldAsString(feature.get(), i));
                    break;
            }
        }

        table.fids.push_back(std::int64_t{fid});
        table.geometries.push_back(std::move(wkb));
        table.rows.push_back(std::move(row));
    }
    if (capture.has_error()) {
        // Some drivers (GeoPackage, SQL-based ones) only reject a filter when the query runs.
        if (!options.attribute_filter.empty() && table.size() == 0)
            throw ConfigError(
                stage, where + ": invalid attribute filter \"" + options.attribute_filter + "\": " + capture.message());
        throw IoError(stage, where + ": error while reading features (after " + std::to_string(table.size()) +
                                 " features): " + capture.message());
    }
    return table;
}

}  // namespace civgrid::io
