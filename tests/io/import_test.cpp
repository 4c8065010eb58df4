// Import quirks at the io level: text encodings of Shapefiles, GCJ-02 / BD-09 datums, CRS variants
// and zone prefixes, geometry clean-up by the reader, on inputs built here and on the real samples.
#include <civgrid/error.hpp>
#include <civgrid/io/china_datum.hpp>
#include <civgrid/io/layer.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <iconv.h>

#include <cpl_conv.h>
#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace civgrid::io {
namespace {

using civgrid::test::contains;
using civgrid::test::message_of;

// ---- helpers --------------------------------------------------------------------------------

std::string fact(const FeatureTable& table, const std::string& key) {
    for (const auto& [k, v] : table.report.facts)
        if (k == key) return v;
    return {};
}

std::string file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out << bytes;
}

/// A point Shapefile in EPSG:4326 with one string field `name` of `width` bytes holding
/// placeholders "A", "B", ... (same length as width); the caller patches the .dbf bytes.
void write_placeholder_shapefile(const std::string& path, int width, int features) {
    GDALAllRegister();
    GDALDatasetH dataset =
        GDALCreate(GDALGetDriverByName("ESRI Shapefile"), path.c_str(), 0, 0, 0, GDT_Unknown, nullptr);
    ASSERT_NE(dataset, nullptr);
    OGRSpatialReferenceH srs = OSRNewSpatialReference(nullptr);
    OSRImportFromEPSG(srs, 4326);
    const char* options[] = {"ENCODING=", nullptr};
    OGRLayerH layer = GDALDatasetCreateLayer(dataset, std::filesystem::path(path).stem().c_str(), srs, wkbPoint,
                                             const_cast<char**>(options));
    OSRRelease(srs);
    OGRFieldDefnH field = OGR_Fld_Create("name", OFTString);
    OGR_Fld_SetWidth(field, width);
    EXPECT_EQ(OGR_L_CreateField(layer, field, TRUE), OGRERR_NONE);
    OGR_Fld_Destroy(field);
    for (int i = 0; i < features; ++i) {
        OGRFeatureH feature = OGR_F_Create(OGR_L_GetLayerDefn(layer));
        OGR_F_SetFieldString(feature, 0,
                             std::string(static_cast<std::size_t>(width), static_cast<char>('A' + i)).c_str());
        OGRGeometryH point = OGR_G_CreateGeometry(wkbPoint);
        OGR_G_SetPoint_2D(point, 0, 118.8 + 0.01 * i, 32.05);
        OGR_F_SetGeometryDirectly(feature, point);
        EXPECT_EQ(OGR_L_CreateFeature(layer, feature), OGRERR_NONE);
        OGR_F_Destroy(feature);
    }
    GDALClose(dataset);
    std::filesystem::remove(std::filesystem::path(path).replace_extension(".cpg"));
}

/// Replaces each placeholder (width copies of 'A' + i) in the .dbf by raw bytes, padded with
/// spaces, and sets the DBF language id byte.
void patch_dbf(const std::string& shp, int width, const std::vector<std::string>& values, unsigned char language_id) {
    const std::string dbf = std::filesystem::path(shp).replace_extension(".dbf").string();
    std::string bytes = file_bytes(dbf);
    for (std::size_t i = 0; i < values.size(); ++i) {
        const std::string placeholder(static_cast<std::size_t>(width), static_cast<char>('A' + i));
        const auto at = bytes.find(placeholder);
        ASSERT_NE(at, std::string::npos);
        std::string value = values[i];
        value.resize(static_cast<std::size_t>(width), ' ');
        bytes.replace(at, value.size(), value);
    }
    bytes[29] = static_cast<char>(language_id);
    write_bytes(dbf, bytes);
}

std::vector<std::string> names(const FeatureTable& table) {
    std::vector<std::string> out;
    for (const auto& row : table.rows) out.push_back(std::get<std::string>(row[0]));
    return out;
}

const std::string kXuanwuUtf8 = "\xE7\x8E\x84\xE6\xAD\xA6\xE5\x8C\xBA";  // 玄武区
const std::string kXuanwuGbk = "\xD0\xFE\xCE\xE4\xC7\xF8";               // 玄武区 in GBK
const std::string kGulouGbk = "\xB9\xC4\xC2\xA5\xC7\xF8";                // 鼓楼区 in GBK

// ---- encodings ------------------------------------------------------------------------------

TEST(Encoding, GbkShapefileWithoutCpgIsDetectedAndReadAsUtf8) {
    test::TempDir dir;
    const std::string shp = dir.file("gbk.shp");
    write_placeholder_shapefile(shp, 10, 2);
    patch_dbf(shp, 10, {kXuanwuGbk, kGulouGbk}, 0);
    const FeatureTable table = read_layer({shp, ""});
    EXPECT_EQ(names(table), (std::vector<std::string>{"玄武区", "鼓楼区"}));
    EXPECT_CONTAINS(fact(table, "encoding"), "GB18030 (detected from the content (no .cpg, DBF language id 0x00; ");
    EXPECT_TRUE(table.report.findings.empty());
}

/// `utf8` converted to `encoding` with iconv (the bytes a Shapefile in that encoding holds).
std::string encode(const std::string& utf8, const char* encoding) {
    iconv_t handle = iconv_open(encoding, "UTF-8");
    EXPECT_NE(handle, reinterpret_cast<iconv_t>(-1));
    std::string input = utf8, output(4 * utf8.size() + 8, '\0');
    char* in = input.data();
    char* out = output.data();
    std::size_t in_left = input.size(), out_left = output.size();
    EXPECT_NE(iconv(handle, &in, &in_left, &out, &out_left), static_cast<std::size_t>(-1)) << utf8;
    iconv_close(handle);
    output.resize(output.size() - out_left);
    return output;
}

// Shapefiles without .cpg in each East Asian encoding, read as what they are (issue 17: a
// Shift-JIS file was read as GB18030 without a warning, every name garbled).
TEST(Encoding, EastAsianEncodingsAreToldApartByContent) {
    struct Case {
        const char* encoding;  // iconv's name, to write the file
        const char* detected;  // civgrid's
        std::vector<std::string> names;
    };
    const std::vector<Case> cases = {
        {"GBK", "GB18030", {"南京市玄武区", "鼓楼区中山路街道", "建邺区兴隆街道", "秦淮区夫子庙社区"}},
        {"SHIFT_JIS", "CP932", {"千代田区丸の内一丁目", "新宿区西新宿二丁目", "渋谷区神南一丁目", "中央区銀座四丁目"}},
        {"BIG5", "BIG5", {"臺北市大安區", "新北市板橋區", "臺中市西屯區", "高雄市苓雅區"}},
        {"EUC-KR", "CP949", {"서울특별시 종로구", "부산광역시 해운대구", "인천광역시 남동구", "대구광역시 수성구"}},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.encoding);
        test::TempDir dir;
        const std::string shp = dir.file("names.shp");
        write_placeholder_shapefile(shp, 40, static_cast<int>(c.names.size()));
        std::vector<std::string> raw;
        for (const std::string& name : c.names) raw.push_back(encode(name, c.encoding));
        patch_dbf(shp, 40, raw, 0);
        const FeatureTable table = read_layer({shp, ""});
        std::vector<std::string> trimmed;
        for (std::string name : names(table)) {
            while (!name.empty() && name.back() == ' ') name.pop_back();
            trimmed.push_back(name);
        }
        EXPECT_EQ(trimmed, c.names);
        EXPECT_CONTAINS(fact(table, "encoding"), std::string(c.detected) + " (detected from the content");
        EXPECT_CONTAINS(fact(table, "encoding"), "plausibility");
        EXPECT_EQ(table.report.find("ambiguous_encoding"), nullptr) << fact(table, "encoding");
    }
}

// Two encodings reading the same bytes about as well: the one chosen is said, and a warning names
// the other and --encoding. Four Hangul syllables are also valid first-level hanzi in GB2312.
TEST(Encoding, AnAmbiguousGuessIsAWarningNamingTheOther) {
    test::TempDir dir;
    const std::string shp = dir.file("short.shp");
    write_placeholder_shapefile(shp, 10, 1);
    patch_dbf(shp, 10, {encode("한국", "EUC-KR")}, 0);
    const FeatureTable table = read_layer({shp, ""});
    const Finding* ambiguous = table.report.find("ambiguous_encoding");
    ASSERT_NE(ambiguous, nullptr);
    EXPECT_CONTAINS(ambiguous->policy, "pass --encoding");
    EXPECT_CONTAINS(fact(table, "encoding"), "also decodes as");
}

TEST(Encoding, LanguageIdAndCpgAndOptionDecide) {
    test::TempDir dir;
    const std::string shp = dir.file("gbk.shp");
    write_placeholder_shapefile(shp, 10, 1);
    patch_dbf(shp, 10, {kXuanwuGbk}, 0x4D);  // code page 936
    FeatureTable table = read_layer({shp, ""});
    EXPECT_EQ(names(table).front(), "玄武区");
    EXPECT_EQ(fact(table, "encoding"), "GB18030 (from the DBF language id 0x4D)");
    write_bytes(dir.file("gbk.cpg"), "GBK\n");
    table = read_layer({shp, ""});
    EXPECT_EQ(names(table).front(), "玄武区");
    EXPECT_EQ(fact(table, "encoding"), "GB18030 (from the .cpg ('GBK'))");
    table = read_layer({shp, ""}, {.encoding = "BIG5"});  // the user's word wins, even when wrong
    EXPECT_EQ(fact(table, "encoding"), "BIG5 (--encoding)");
    EXPECT_NE(names(table).front(), "玄武区");
    EXPECT_CONTAINS(message_of<ConfigError>([&] {
                        static_cast<void>(read_layer({shp, ""}, {.encoding = "KLINGON"}));
                    }),
                    "unknown text encoding 'KLINGON'");
}

TEST(Encoding, CharacterCutByTheFieldWidthIsRemovedNotHalved) {
    test::TempDir dir;
    const std::string utf8 = dir.file("utf8.shp");
    write_placeholder_shapefile(utf8, 7, 1);
    patch_dbf(utf8, 7, {kXuanwuUtf8.substr(0, 7)}, 0);  // 玄武 and one byte of 区
    FeatureTable table = read_layer({utf8, ""});
    EXPECT_EQ(names(table).front(), "玄武");
    EXPECT_EQ(fact(table, "encoding"), "UTF-8 (detected from the content (no .cpg, DBF language id 0x00))");
    ASSERT_NE(table.report.find("cut_character"), nullptr);
    EXPECT_EQ(table.report.find("cut_character")->ids, (std::vector<std::string>{"0 (field 'name')"}));

    const std::string gbk = dir.file("gbk.shp");
    write_placeholder_shapefile(gbk, 5, 2);
    patch_dbf(gbk, 5, {kXuanwuGbk.substr(0, 5), kGulouGbk.substr(0, 4)}, 0);
    table = read_layer({gbk, ""});
    EXPECT_EQ(names(table), (std::vector<std::string>{"玄武", "鼓楼"}));
    EXPECT_EQ(table.report.find("cut_character")->ids, (std::vector<std::string>{"0 (field 'name')"}));
}

TEST(Encoding, NeitherUtf8NorGb18030AsksForTheEncoding) {
    test::TempDir dir;
    const std::string shp = dir.file("odd.shp");
    write_placeholder_shapefile(shp, 6, 1);
    patch_dbf(shp, 6, {"\xFF\xFF\x80\xFF"}, 0);
    const std::string message = message_of<InputError>([&] { static_cast<void>(read_layer({shp, ""})); });
    EXPECT_CONTAINS(message, "odd.shp, layer 'odd': cannot tell the text encoding");
    EXPECT_CONTAINS(message, "pass --encoding");
}

TEST(EncodingRealData, NanjingUtf8WithoutCpg) {
    const std::string file = test::realdata("nanjing-admin/nanjing_districts_2020.shp");
    if (file.empty()) GTEST_SKIP() << "real data ../shared/realdata/nanjing-admin is absent (set CIVGRID_REALDATA_DIR)";
    const FeatureTable table = read_layer({file, ""});
    EXPECT_EQ(fact(table, "encoding"), "UTF-8 (detected from the content (no .cpg, DBF language id 0x00))");
    std::vector<std::string> district_names;
    for (const auto& row : table.rows) district_names.push_back(std::get<std::string>(row[table.field_index("name")]));
    EXPECT_NE(std::find(district_names.begin(), district_names.end(), "玄武区"), district_names.end());
    EXPECT_NE(std::find(district_names.begin(), district_names.end(), "江宁区"), district_names.end());
}

// ---- GCJ-02 and BD-09 -----------------------------------------------------------------------

double metres_between(LonLat a, LonLat b) {
    constexpr double kPi = 3.14159265358979323846;
    const double dx = (a.lon - b.lon) * 111320.0 * std::cos(a.lat * kPi / 180.0);
    const double dy = (a.lat - b.lat) * 110574.0;
    return std::hypot(dx, dy);
}

TEST(ChinaDatum, InversionsAreExactToTheForwardModel) {
    double worst = 0;
    for (double lon = 74.0; lon <= 134.0; lon += 2.5)
        for (double lat = 18.0; lat <= 53.0; lat += 2.5) {
            const LonLat wgs{lon + 0.123, lat + 0.077};
            int iterations = 0;
            const LonLat back = gcj02_to_wgs84(wgs84_to_gcj02(wgs), &iterations);
            worst = std::max(worst, metres_between(wgs, back));
            EXPECT_LE(iterations, 10);
            const LonLat gcj = wgs84_to_gcj02(wgs);
            worst = std::max(worst, metres_between(gcj, bd09_to_gcj02(gcj02_to_bd09(gcj))));
        }
    EXPECT_LT(worst, 0.001) << "metres";
    const LonLat paris{2.35, 48.85};  // GCJ-02 leaves the world outside China alone
    EXPECT_EQ(wgs84_to_gcj02(paris).lon, paris.lon);
    EXPECT_EQ(gcj02_to_wgs84(paris).lat, paris.lat);
    // In Nanjing GCJ-02 is about 500 m off, BD-09 about 1.2 km.
    const LonLat nanjing{118.7969, 32.0603};
    EXPECT_NEAR(metres_between(nanjing, wgs84_to_gcj02(nanjing)), 530, 60);
    EXPECT_NEAR(metres_between(nanjing, gcj02_to_bd09(wgs84_to_gcj02(nanjing))), 1200, 200);
    EXPECT_EQ(parse_datum("GCJ02"), Datum::gcj02);
    EXPECT_CONTAINS(message_of<ConfigError>([] { static_cast<void>(parse_datum("mars")); }), "unknown datum 'mars'");
}

std::vector<LonLat> all_vertices(const Wkb& wkb) {
    std::vector<LonLat> out;
    OGRGeometryH geometry = nullptr;
    if (OGR_G_CreateFromWkbEx(wkb.data(), nullptr, &geometry, wkb.size()) != OGRERR_NONE) return out;
    std::vector<OGRGeometryH> stack{geometry};
    while (!stack.empty()) {
        OGRGeometryH g = stack.back();
        stack.pop_back();
        if (OGR_G_GetGeometryCount(g) > 0) {
            for (int i = OGR_G_GetGeometryCount(g) - 1; i >= 0; --i) stack.push_back(OGR_G_GetGeometryRef(g, i));
            continue;
        }
        for (int i = 0; i < OGR_G_GetPointCount(g); ++i) out.push_back({OGR_G_GetX(g, i), OGR_G_GetY(g, i)});
    }
    OGR_G_DestroyGeometry(geometry);
    return out;
}

TEST(ChinaDatumRealData, NanjingGcj02AgainstItsWgs84Reference) {
    const std::string shp = test::realdata("nanjing-admin/nanjing_districts_2020.shp");
    const std::string reference = test::realdata("nanjing-admin/nanjing_districts_2020_wgs84_via_gcoord.geojson");
    if (shp.empty() || reference.empty())
        GTEST_SKIP() << "real data ../shared/realdata/nanjing-admin is absent (set CIVGRID_REALDATA_DIR)";
    const FeatureTable converted = read_layer({shp, ""}, {.datum = "gcj02"});
    const FeatureTable as_declared = read_layer({shp, ""});
    const FeatureTable expected = read_layer({reference, ""});
    ASSERT_EQ(converted.size(), expected.size());
    EXPECT_CONTAINS(fact(converted, "datum"), "gcj02, converted to WGS84");
    double worst = 0, sum = 0, before = 0;
    std::size_t count = 0;
    for (std::size_t f = 0; f < converted.size(); ++f) {
        const auto got = all_vertices(converted.geometries[f]);
        const auto want = all_vertices(expected.geometries[f]);
        const auto raw = all_vertices(as_declared.geometries[f]);
        ASSERT_EQ(got.size(), want.size()) << "feature " << f;
        for (std::size_t i = 0; i < got.size(); ++i) {
            const double d = metres_between(got[i], want[i]);
            worst = std::max(worst, d);
            sum += d;
            before = std::max(before, metres_between(raw[i], want[i]));
            ++count;
        }
    }
    std::printf("GCJ-02 -> WGS84 on %zu Nanjing vertices: max %.4f m, mean %.4f m (unconverted: max %.0f m)\n", count,
                worst, sum / static_cast<double>(count), before);
    EXPECT_LT(worst, 1.0);
    EXPECT_GT(before, 400.0);
}

// ---- CRS variants ---------------------------------------------------------------------------

/// One point layer (GeoJSON via OGR) in `srs` holding `x`, `y`.
std::string point_layer(const test::TempDir& dir, const std::string& name, const std::string& srs, double x, double y) {
    const std::string path = dir.file(name + ".gpkg");
    GDALAllRegister();
    GDALDatasetH dataset = GDALCreate(GDALGetDriverByName("GPKG"), path.c_str(), 0, 0, 0, GDT_Unknown, nullptr);
    OGRSpatialReferenceH spatial_ref = OSRNewSpatialReference(nullptr);
    OSRSetFromUserInput(spatial_ref, srs.c_str());
    OSRSetAxisMappingStrategy(spatial_ref, OAMS_TRADITIONAL_GIS_ORDER);
    OGRLayerH layer = GDALDatasetCreateLayer(dataset, name.c_str(), spatial_ref, wkbPoint, nullptr);
    OSRRelease(spatial_ref);
    OGRFeatureH feature = OGR_F_Create(OGR_L_GetLayerDefn(layer));
    OGRGeometryH point = OGR_G_CreateGeometry(wkbPoint);
    OGR_G_SetPoint_2D(point, 0, x, y);
    OGR_F_SetGeometryDirectly(feature, point);
    EXPECT_EQ(OGR_L_CreateFeature(layer, feature), OGRERR_NONE);
    OGR_F_Destroy(feature);
    GDALClose(dataset);
    return path;
}

/// x, y of `lon`, `lat` (WGS84) in `srs`, by OGR.
std::pair<double, double> project(double lon, double lat, const std::string& srs) {
    OGRSpatialReferenceH from = OSRNewSpatialReference(nullptr), to = OSRNewSpatialReference(nullptr);
    OSRSetFromUserInput(from, "EPSG:4326");
    OSRSetFromUserInput(to, srs.c_str());
    OSRSetAxisMappingStrategy(from, OAMS_TRADITIONAL_GIS_ORDER);
    OSRSetAxisMappingStrategy(to, OAMS_TRADITIONAL_GIS_ORDER);
    OGRCoordinateTransformationH transformation = OCTNewCoordinateTransformation(from, to);
    double x = lon, y = lat;
    OCTTransform(transformation, 1, &x, &y, nullptr);
    OCTDestroyCoordinateTransformation(transformation);
    OSRRelease(from);
    OSRRelease(to);
    return {x, y};
}

std::pair<double, double> xy(const Wkb& wkb) {
    double x = 0, y = 0;
    std::memcpy(&x, wkb.data() + 5, 8);
    std::memcpy(&y, wkb.data() + 13, 8);
    return {x, y};
}

TEST(CrsVariants, EveryChineseCrsLandsOnTheSameSpot) {
    test::TempDir dir;
    const double lon = 118.7969, lat = 32.0603;  // Nanjing
    const auto [ex, ey] = project(lon, lat, "EPSG:4549");
    for (const char* srs : {"EPSG:4326", "EPSG:4490", "EPSG:4549", "EPSG:4528", "EPSG:3857", "EPSG:4548"}) {
        const auto [x, y] = project(lon, lat, srs);
        const std::string name = std::string("p") + (srs + 5);
        const FeatureTable table = read_layer({point_layer(dir, name, srs, x, y), ""}, {.target_crs = "EPSG:4549"});
        ASSERT_EQ(table.size(), 1u) << srs;
        const auto [gx, gy] = xy(table.geometries.front());
        EXPECT_LT(std::hypot(gx - ex, gy - ey), 0.05) << srs;
    }
    // An ESRI-style .prj (no EPSG code in it) is recognised.
    const std::string shp = dir.file("esri.shp");
    write_placeholder_shapefile(shp, 4, 1);
    write_bytes(
        dir.file("esri.prj"),
        R"(GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]])");
    const FeatureTable esri = read_layer({shp, ""}, {.target_crs = "EPSG:4549"});
    EXPECT_CONTAINS(fact(esri, "crs"), "EPSG:4490");
}

TEST(CrsVariants, ZonePrefixMismatchNamesTheCrsToUse) {
    test::TempDir dir;
    const auto [x, y] = project(118.7969, 32.0603, "EPSG:4549");  // CM 120E, no prefix
    // Eastings with the prefix 40 in a CRS without it.
    std::string message = message_of<InputError>([&] {
        static_cast<void>(
            read_layer({point_layer(dir, "prefixed", "EPSG:4549", x + 40e6, y), ""}, {.target_crs = "EPSG:4549"}));
    });
    EXPECT_CONTAINS(message, "carry the zone number 40 as a prefix");
    EXPECT_CONTAINS(message, "EPSG:4528");
    // Eastings without the prefix in a CRS that has it.
    message = message_of<InputError>([&] {
        static_cast<void>(read_layer({point_layer(dir, "bare", "EPSG:4528", x, y), ""}, {.target_crs = "EPSG:4549"}));
    });
    EXPECT_CONTAINS(message, "have no zone prefix");
    EXPECT_CONTAINS(message, "EPSG:4549");
}

TEST(CrsVariantsRealData, ChongqingZone35WithPrefix) {
    const std::string file = test::realdata("chongqing-cgcs2000/banzhucun10000.shp");
    if (file.empty())
        GTEST_SKIP() << "real data ../shared/realdata/chongqing-cgcs2000 is absent (set CIVGRID_REALDATA_DIR)";
    const FeatureTable table = read_layer({file, ""}, {.target_crs = "EPSG:4544", .accepted_families = {"polygon"}});
    EXPECT_EQ(table.size(), 10653u);
    EXPECT_EQ(fact(table, "crs"), "CGCS2000 / 3-degree Gauss-Kruger zone 35 (EPSG:4523)");
    EXPECT_EQ(fact(table, "encoding"), "UTF-8 (from the .cpg ('UTF-8'))");
    // Zone 35 with prefix and CM 105E without: the same place, the prefix gone.
    const std::vector<LonLat> v = all_vertices(table.geometries.front());
    ASSERT_FALSE(v.empty());
    EXPECT_GT(v.front().lon, 500000.0 + 50000);
    EXPECT_LT(v.front().lon, 700000.0);
}

// ---- geometry clean-up in the reader ---------------------------------------------------------

TEST(ReaderCleanUp, OpenRingsClosedDegeneratePartsAndOtherTypesDropped) {
    test::TempDir dir;
    const std::string file = dir.file("mixed.geojson");
    write_bytes(file, R"({"type": "FeatureCollection", "features": [
      {"type": "Feature", "id": 1, "properties": {}, "geometry": {"type": "Polygon", "coordinates": [[[118.80, 32.05], [118.801, 32.05], [118.801, 32.051], [118.80, 32.051]]]}},
      {"type": "Feature", "id": 2, "properties": {}, "geometry": {"type": "Polygon", "coordinates": [[[118.80, 32.05], [118.801, 32.05], [118.80, 32.05]]]}},
      {"type": "Feature", "id": 3, "properties": {}, "geometry": {"type": "LineString", "coordinates": [[118.80, 32.05], [118.801, 32.05]]}},
      {"type": "Feature", "id": 4, "properties": {}, "geometry": {"type": "Polygon", "coordinates": [[[118.80, 32.05, 7], [118.801, 32.05, 7], [118.801, 32.051, 7], [118.80, 32.05, 7]]]}}]})");
    const FeatureTable table = read_layer(
        {file, ""}, {.target_crs = "EPSG:4549", .accepted_families = {"polygon"}, .drop_other_families = true});
    ASSERT_EQ(table.size(), 4u);
    const LayerReport& report = table.report;
    ASSERT_NE(report.find("unclosed_ring"), nullptr);
    EXPECT_EQ(report.find("unclosed_ring")->ids, (std::vector<std::string>{"1"}));
    ASSERT_NE(report.find("too_few_points"), nullptr);
    EXPECT_EQ(report.find("too_few_points")->ids, (std::vector<std::string>{"2"}));
    EXPECT_EQ(report.find("too_few_points")->action, "dropped");
    ASSERT_NE(report.find("wrong_geometry_type"), nullptr);
    EXPECT_EQ(report.find("wrong_geometry_type")->ids, (std::vector<std::string>{"3 (Line String)"}));
    ASSERT_NE(report.find("z_or_m_dropped"), nullptr);
    EXPECT_EQ(report.find("z_or_m_dropped")->ids, (std::vector<std::string>{"4"}));
    EXPECT_FALSE(table.geometries[0].empty());
    EXPECT_TRUE(table.geometries[1].empty());
    EXPECT_TRUE(table.geometries[2].empty());
    EXPECT_FALSE(table.geometries[3].empty());
}

}  // namespace
}  // namespace civgrid::io
