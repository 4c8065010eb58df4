// CRS parsing, description, choice of a metric CRS and geographic extents.
#include "gdal_handles.hpp"

#include <civgrid/io/layer.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace civgrid::io {
namespace detail {

SrsPtr make_srs(const std::string& text, const char* stage, const std::string& what) {
    ensure_gdal_registered();
    GdalErrorCapture capture;
    SrsPtr srs(OSRNewSpatialReference(nullptr));
    if (!srs) throw InternalError(stage, "cannot allocate a spatial reference");
    if (text.empty() || OSRSetFromUserInput(srs.get(), text.c_str()) != OGRERR_NONE)
        throw ConfigError(stage, "invalid CRS '" + text + "' (" + what +
                                     "): " + capture.message("not an EPSG code, WKT or PROJ string"));
    OSRSetAxisMappingStrategy(srs.get(), OAMS_TRADITIONAL_GIS_ORDER);
    return srs;
}

OGRSpatialReferenceH declared_srs(OGRLayerH layer) {
    OGRSpatialReferenceH srs = OGR_L_GetSpatialRef(layer);
    if (srs == nullptr || OSRGetAuthorityName(srs, nullptr) != nullptr) return srs;
    const char* name = OSRGetName(srs);
    if (name != nullptr &&
        (std::string_view(name) == "Undefined geographic SRS" || std::string_view(name) == "Undefined Cartesian SRS"))
        return nullptr;
    return srs;
}

SrsPtr clone_srs(OGRSpatialReferenceH srs) {
    SrsPtr copy(OSRClone(srs));
    if (!copy) throw InternalError("io.crs", "cannot copy a spatial reference");
    OSRSetAxisMappingStrategy(copy.get(), OAMS_TRADITIONAL_GIS_ORDER);
    return copy;
}

std::string srs_to_wkt(OGRSpatialReferenceH srs) {
    GdalErrorCapture capture;
    const char* wkt2_options[] = {"FORMAT=WKT2_2019", "MULTILINE=NO", nullptr};
    char* raw = nullptr;
    if (OSRExportToWktEx(srs, &raw, wkt2_options) == OGRERR_NONE && raw != nullptr) {
        CplString owned(raw);
        return owned.get();
    }
    CPLFree(raw);
    raw = nullptr;
    if (OSRExportToWkt(srs, &raw) == OGRERR_NONE && raw != nullptr) {
        CplString owned(raw);
        return owned.get();
    }
    CPLFree(raw);
    return {};
}

void check_zone_prefix(OGRSpatialReferenceH srs, const OGREnvelope& extent, const std::string& where) {
    if (OSRIsProjected(srs) == 0 || !std::isfinite(extent.MinX) || !std::isfinite(extent.MaxX)) return;
    OGRErr error = OGRERR_NONE;
    const double false_easting = OSRGetProjParm(srs, SRS_PP_FALSE_EASTING, 0.0, &error);
    if (error != OGRERR_NONE) return;
    const char* name = OSRGetName(srs);
    const std::string crs_name = name != nullptr ? name : "the layer's CRS";
    const char* geographic = OSRGetAttrValue(srs, "GEOGCS", 0);
    const bool cgcs2000 = crs_name.find("CGCS2000") != std::string::npos ||
                          (geographic != nullptr && std::string(geographic).find("CGCS2000") != std::string::npos);
    const double central_meridian = OSRGetProjParm(srs, SRS_PP_CENTRAL_MERIDIAN, 0.0, nullptr);
    const bool three_degree = std::abs(central_meridian / 3.0 - std::round(central_meridian / 3.0)) < 1e-9;
    const auto zone_of_x = [](double x) { return static_cast<int>(std::floor(x / 1e6)); };
    if (std::abs(false_easting - 500000.0) < 1.0 && extent.MinX >= 13e6 && extent.MaxX < 46e6 &&
        zone_of_x(extent.MinX) == zone_of_x(extent.MaxX)) {
        const int zone = zone_of_x(extent.MinX);
        std::string fix = "a CRS with the zone prefix (false easting " + std::to_string(zone) + "500000)";
        if (cgcs2000 && zone >= 25 && zone <= 45)
            fix = "EPSG:" + std::to_string(4513 + zone - 25) + " (CGCS2000 / 3-degree Gauss-Kruger zone " +
                  std::to_string(zone) + ", with the prefix)";
        throw InputError("io.crs", where + ": eastings (" + std::to_string(static_cast<long long>(extent.MinX)) +
                                       " m ...) carry the zone number " + std::to_string(zone) + " as a prefix, but '" +
                                       crs_name +
                                       "' has none (false easting 500000): set the .prj or --assume-crs to " + fix);
    }
    if (false_easting >= 1e6 && extent.MaxX < 1e6 && extent.MinX > -1e6) {
        const int zone = zone_of_x(false_easting);
        std::string fix = "the CRS without the zone prefix (false easting 500000)";
        if (cgcs2000 && three_degree && central_meridian >= 75 && central_meridian <= 135)
            fix = "EPSG:" + std::to_string(4534 + (static_cast<int>(central_meridian) - 75) / 3) +
                  " (CGCS2000 / 3-degree Gauss-Kruger CM " + std::to_string(static_cast<int>(central_meridian)) +
                  "E, without the prefix)";
        throw InputError("io.crs", where + ": eastings (" + std::to_string(static_cast<long long>(extent.MinX)) +
                                       " m ...) have no zone prefix, but '" + crs_name + "' expects zone " +
                                       std::to_string(zone) + " prefixed (false easting " +
                                       std::to_string(static_cast<long long>(false_easting)) +
                                       "): set the .prj or --assume-crs to " + fix);
    }
}

}  // namespace detail

namespace {

std::string authority_code(OGRSpatialReferenceH srs) {
    const char* authority = OSRGetAuthorityName(srs, nullptr);
    const char* code = OSRGetAuthorityCode(srs, nullptr);
    if (authority == nullptr || code == nullptr) return {};
    return std::string(authority) + ":" + code;
}

}  // namespace

std::string layer_crs(const LayerSpec& spec) {
    detail::ensure_gdal_registered();
    const detail::DatasetPtr dataset = detail::open_vector(spec.path);
    OGRLayerH layer = detail::find_layer(dataset.get(), spec.path, spec.layer);
    OGRSpatialReferenceH srs = detail::declared_srs(layer);
    return srs == nullptr ? std::string() : detail::srs_to_wkt(srs);
}

GeoExtent geographic_extent(const LayerSpec& spec, const std::string& assume_crs) {
    detail::ensure_gdal_registered();
    const detail::DatasetPtr dataset = detail::open_vector(spec.path);
    OGRLayerH layer = detail::find_layer(dataset.get(), spec.path, spec.layer);
    const std::string where = spec.path + ", layer '" + OGR_L_GetName(layer) + "'";

    detail::SrsPtr source;
    const bool layer_srs_declared = detail::declared_srs(layer) != nullptr;
    if (OGRSpatialReferenceH layer_srs = detail::declared_srs(layer); layer_srs != nullptr)
        source = detail::clone_srs(layer_srs);
    else if (!assume_crs.empty())
        source = detail::make_srs(assume_crs, "io.crs", "--assume-crs");
    else
        throw InputError("io.crs", where + ": layer has no CRS; pass --assume-crs (e.g. EPSG:4326 or EPSG:4549)");

    detail::GdalErrorCapture capture;
    OGREnvelope envelope;
    if (OGR_L_GetExtent(layer, &envelope, TRUE) != OGRERR_NONE)
        throw InputError("io.crs", where + ": cannot compute the layer extent (empty layer?): " +
                                       capture.message("no features with geometry"));
    detail::check_zone_prefix(source.get(), envelope, where);

    // Longitudes and latitudes on the layer's own datum (its CRS's geographic base): an inverse
    // projection alone, where a transformation to WGS84 had PROJ search its database for datum
    // operations (40 ms at every start). Datums differ by metres to a few hundred: nothing to the
    // choice of a zone. A CRS without a geographic base goes to WGS84.
    detail::SrsPtr geographic(OSRCloneGeogCS(source.get()));
    if (!geographic) geographic = detail::make_srs("EPSG:4326", "io.crs", "WGS84");
    OSRSetAxisMappingStrategy(geographic.get(), OAMS_TRADITIONAL_GIS_ORDER);
    const detail::TransformationPtr transformation(OCTNewCoordinateTransformation(source.get(), geographic.get()));
    if (!transformation)
        throw InputError("io.crs",
                         where + ": cannot transform its CRS to longitudes and latitudes: " + capture.message());
    GeoExtent extent;
    if (OCTTransformBounds(transformation.get(), envelope.MinX, envelope.MinY, envelope.MaxX, envelope.MaxY,
                           &extent.min_lon, &extent.min_lat, &extent.max_lon, &extent.max_lat, 21) == FALSE)
        throw InputError("io.crs", where + ": cannot transform the extent (" + std::to_string(envelope.MinX) + ", " +
                                       std::to_string(envelope.MinY) + ") - (" + std::to_string(envelope.MaxX) + ", " +
                                       std::to_string(envelope.MaxY) + ") to WGS84: " + capture.message());
    const auto in_range = [](double lon, double lat) {
        return std::isfinite(lon) && std::isfinite(lat) && lon >= -180.0 && lon <= 180.0 && lat >= -90.0 && lat <= 90.0;
    };
    if (!in_range(extent.min_lon, extent.min_lat) || !in_range(extent.max_lon, extent.max_lat))
        throw InputError("io.crs", where + ": its coordinates (" + std::to_string(envelope.MinX) + ", " +
                                       std::to_string(envelope.MinY) + ") - (" + std::to_string(envelope.MaxX) + ", " +
                                       std::to_string(envelope.MaxY) + ") cannot be in " +
                                       describe_crs(detail::srs_to_wkt(source.get())) +
                                       (layer_srs_declared ? " (the CRS the layer declares)" : " (--assume-crs)") +
                                       ": they are not longitudes and latitudes on the Earth; give the CRS they "
                                       "are in with --assume-crs, or fix the layer's CRS");
    // A few features far from the rest (geocodes in other countries) stretch the extent and would
    // move the working CRS away from where the data is. Wider than a province (5 degrees), the
    // features' own positions are looked at: when their middle half (25th to 75th percentile in
    // each direction) spans less than a fifth of the extent, it is the extent (a quarter of the
    // features may lie anywhere on either side).
    constexpr double kProvinceSpan = 5.0;  // degrees
    const double span = std::max(extent.max_lon - extent.min_lon, extent.max_lat - extent.min_lat);
    if (span > kProvinceSpan) {
        std::vector<double> lons, lats;
        const GIntBig count = OGR_L_GetFeatureCount(layer, FALSE);
        constexpr GIntBig kSample = 50'000;
        const bool stride = count > kSample && OGR_L_TestCapability(layer, OLCFastSetNextByIndex) != 0;
        const GIntBig step = stride ? count / kSample : 1;
        std::vector<const char*> ignored;  // attributes are not needed: only the geometry
        OGRFeatureDefnH definition = OGR_L_GetLayerDefn(layer);
        for (int i = 0; i < OGR_FD_GetFieldCount(definition); ++i)
            ignored.push_back(OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(definition, i)));
        ignored.push_back(nullptr);
        OGR_L_SetIgnoredFields(layer, ignored.data());
        OGR_L_ResetReading(layer);
        for (GIntBig index = 0;; index += step) {
            if (stride && (index >= count || OGR_L_SetNextByIndex(layer, index) != OGRERR_NONE)) break;
            const detail::FeaturePtr feature(OGR_L_GetNextFeature(layer));
            if (!feature) break;
            OGRGeometryH geometry = OGR_F_GetGeometryRef(feature.get());
            if (geometry == nullptr || OGR_G_IsEmpty(geometry)) continue;
            OGREnvelope box;
            OGR_G_GetEnvelope(geometry, &box);
            double x = (box.MinX + box.MaxX) / 2, y = (box.MinY + box.MaxY) / 2, z = 0;
            int ok = 0;
            if (OCTTransformEx(transformation.get(), 1, &x, &y, &z, &ok) && ok && in_range(x, y)) {
                lons.push_back(x);
                lats.push_back(y);
            }
        }
        OGR_L_SetIgnoredFields(layer, nullptr);
        if (lons.size() >= 10) {
            const auto quantile = [](std::vector<double>& values, double q) {
                const auto k = static_cast<std::size_t>(q * static_cast<double>(values.size() - 1));
                std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k), values.end());
                return values[k];
            };
            const GeoExtent middle{quantile(lons, 0.25), quantile(lats, 0.25), quantile(lons, 0.75),
                                   quantile(lats, 0.75)};
            if (std::max(middle.max_lon - middle.min_lon, middle.max_lat - middle.min_lat) < span / 5) extent = middle;
        }
    }
    return extent;
}

std::string choose_metric_crs(const GeoExtent& extent) {
    const double lon = (extent.min_lon + extent.max_lon) / 2.0;
    const double lat = (extent.min_lat + extent.max_lat) / 2.0;
    if (!std::isfinite(lon) || !std::isfinite(lat) || lon < -180.0 || lon > 180.0 || lat < -90.0 || lat > 90.0)
        throw InputError("io.crs", "extent centre (" + std::to_string(lon) + ", " + std::to_string(lat) +
                                       ") is not a longitude/latitude in degrees");
    if (lon >= 73.0 && lon <= 136.0 && lat >= 3.0 && lat <= 54.0) {
        // CGCS2000 3-degree Gauss-Kruger, CM 75E..135E = EPSG:4534..4554 (no zone prefix), but only
        // for data in China: the zone's area of use in PROJ's database (China's land within the
        // zone, as a box), with 0.25 degrees to spare for a city on the border. Japan, Korea or
        // Vietnam inside the rough box above fall outside every zone's area and get UTM below.
        const int central_meridian = std::clamp(3 * static_cast<int>(std::lround(lon / 3.0)), 75, 135);
        const std::string code = "EPSG:" + std::to_string(4534 + (central_meridian - 75) / 3);
        const detail::SrsPtr zone = detail::make_srs(code, "io.crs", "the working CRS");
        double west = 0, south = 0, east = 0, north = 0;
        const char* area = nullptr;
        constexpr double kSpare = 0.25;
        if (OSRGetAreaOfUse(zone.get(), &west, &south, &east, &north, &area) != 0 && lon >= west - kSpare &&
            lon <= east + kSpare && lat >= south - kSpare && lat <= north + kSpare)
            return code;
    }
    const int zone = std::clamp(static_cast<int>(std::floor((lon + 180.0) / 6.0)) + 1, 1, 60);
    return "EPSG:" + std::to_string((lat >= 0.0 ? 32600 : 32700) + zone);
}

std::string describe_crs(const std::string& crs) {
    if (crs.empty()) return "no CRS";
    const detail::SrsPtr srs = detail::make_srs(crs, "io.crs", "describe");
    detail::GdalErrorCapture capture;
    const char* raw_name = OSRGetName(srs.get());
    std::string name = raw_name != nullptr && *raw_name != '\0' ? raw_name : "unnamed CRS";
    std::string code = authority_code(srs.get());
    if (code.empty()) {
        // An ESRI .prj or a bare WKT1 often lacks the code: look it up, keeping only certain matches.
        int count = 0;
        int* confidences = nullptr;
        OGRSpatialReferenceH* matches = OSRFindMatches(srs.get(), nullptr, &count, &confidences);
        if (matches != nullptr && count > 0 && confidences != nullptr && confidences[0] == 100) {
            code = authority_code(matches[0]);
            if (const char* match_name = OSRGetName(matches[0]); !code.empty() && match_name != nullptr)
                name = match_name;
        }
        OSRFreeSRSArray(matches);
        CPLFree(confidences);
    }
    if (!code.empty()) return name + " (" + code + ")";
    if (name == "unknown" || name == "unnamed CRS") {  // a bare PROJ string: show it
        char* proj = nullptr;
        if (OSRExportToProj4(srs.get(), &proj) == OGRERR_NONE && proj != nullptr) {
            const detail::CplString owned(proj);
            return "unnamed CRS (" + std::string(owned.get()) + ")";
        }
        CPLFree(proj);
        return "unnamed CRS";
    }
    return name;
}

}  // namespace civgrid::io
