// The import report on a corpus of broken inputs made here from the sample city (every quirk of
// issue 6, each with its exact diagnosis), failures with clear messages, and the real samples end
// to end.
#include <civgrid/data/synth.hpp>
#include <civgrid/engine/pipeline.hpp>
#include <civgrid/error.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <cpl_conv.h>
#include <gdal.h>
#include <ogr_api.h>

#include <sys/wait.h>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <variant>
#include <vector>

namespace civgrid::engine {
namespace {

using civgrid::test::message_of;

// The sample city of the brief (3,000 households, seed 1), made once.
const std::string& sample_city() {
    static const test::TempDir* dir = new test::TempDir();  // lives for the whole run
    static const std::string path = [] {
        const std::string file = dir->file("city.gpkg");
        data::SynthConfig config;
        config.households = 3000;
        config.seed = 1;
        data::write_city(data::generate_city(config), file);
        return file;
    }();
    return path;
}

/// A copy of the sample city to break.
std::string city_copy(const test::TempDir& dir) {
    const std::string path = dir.file("broken.gpkg");
    std::filesystem::copy_file(sample_city(), path, std::filesystem::copy_options::overwrite_existing);
    return path;
}

/// Opens a GeoPackage for editing with OGR; closes on destruction.
class Editor {
public:
    explicit Editor(const std::string& path) {
        GDALAllRegister();
        dataset_ = GDALOpenEx(path.c_str(), GDAL_OF_VECTOR | GDAL_OF_UPDATE, nullptr, nullptr, nullptr);
        EXPECT_NE(dataset_, nullptr) << path;
    }
    ~Editor() { GDALClose(dataset_); }
    Editor(const Editor&) = delete;
    Editor& operator=(const Editor&) = delete;

    /// Sets a feature's geometry from WKT ("" = null).
    void geometry(const char* layer, GIntBig fid, const std::string& wkt) {
        edit(layer, fid, [&](OGRFeatureH feature) {
            OGRGeometryH geometry = nullptr;
            if (!wkt.empty()) {
                char* text = const_cast<char*>(wkt.c_str());
                EXPECT_EQ(OGR_G_CreateFromWkt(&text, nullptr, &geometry), OGRERR_NONE) << wkt;
            }
            OGR_F_SetGeometryDirectly(feature, geometry);
        });
    }
    /// Sets a field ("<null>" = null).
    void field(const char* layer, GIntBig fid, const char* name, const std::string& value) {
        edit(layer, fid, [&](OGRFeatureH feature) {
            const int index = OGR_F_GetFieldIndex(feature, name);
            ASSERT_GE(index, 0) << name;
            if (value == "<null>")
                OGR_F_SetFieldNull(feature, index);
            else
                OGR_F_SetFieldString(feature, index, value.c_str());
        });
    }
    std::string text(const char* layer, GIntBig fid, const char* name) {
        std::string value;
        edit(layer, fid,
             [&](OGRFeatureH feature) { value = OGR_F_GetFieldAsString(feature, OGR_F_GetFieldIndex(feature, name)); });
        return value;
    }
    /// WKT of a feature's geometry.
    std::string wkt(const char* layer, GIntBig fid) {
        std::string value;
        edit(layer, fid, [&](OGRFeatureH feature) {
            char* text = nullptr;
            OGR_G_ExportToWkt(OGR_F_GetGeometryRef(feature), &text);
            value = text;
            CPLFree(text);
        });
        return value;
    }
    /// A point inside a feature's geometry.
    std::pair<double, double> inside(const char* layer, GIntBig fid) {
        std::pair<double, double> xy;
        edit(layer, fid, [&](OGRFeatureH feature) {
            OGRGeometryH point = OGR_G_PointOnSurface(OGR_F_GetGeometryRef(feature));
            xy = {OGR_G_GetX(point, 0), OGR_G_GetY(point, 0)};
            OGR_G_DestroyGeometry(point);
        });
        return xy;
    }
    /// Applies an OGR geometry operation (buffer, difference) to a feature.
    template <typename F>
    void transform(const char* layer, GIntBig fid, F&& operation) {
        edit(layer, fid, [&](OGRFeatureH feature) {
            OGR_F_SetGeometryDirectly(feature, operation(OGR_F_GetGeometryRef(feature)));
        });
    }

private:
    template <typename F>
    void edit(const char* layer_name, GIntBig fid, F&& change) {
        OGRLayerH layer = GDALDatasetGetLayerByName(dataset_, layer_name);
        ASSERT_NE(layer, nullptr) << layer_name;
        OGRFeatureH feature = OGR_L_GetFeature(layer, fid);
        ASSERT_NE(feature, nullptr) << layer_name << " " << fid;
        change(feature);
        EXPECT_EQ(OGR_L_SetFeature(layer, feature), OGRERR_NONE);
        OGR_F_Destroy(feature);
    }
    GDALDatasetH dataset_ = nullptr;
};

std::string square(double x, double y, double half) {
    return "POLYGON((" + std::to_string(x - half) + " " + std::to_string(y - half) + "," + std::to_string(x + half) +
           " " + std::to_string(y - half) + "," + std::to_string(x + half) + " " + std::to_string(y + half) + "," +
           std::to_string(x - half) + " " + std::to_string(y + half) + "," + std::to_string(x - half) + " " +
           std::to_string(y - half) + "))";
}

std::vector<std::string> ids(const ImportReport& report, const std::string& role, const std::string& reason) {
    const LayerReport* layer = report.layer(role);
    if (layer == nullptr) return {"<no layer " + role + ">"};
    const Finding* finding = layer->find(reason);
    return finding == nullptr ? std::vector<std::string>{} : finding->ids;
}
std::string action(const ImportReport& report, const std::string& role, const std::string& reason) {
    const Finding* finding = report.layer(role) != nullptr ? report.layer(role)->find(reason) : nullptr;
    return finding == nullptr ? "" : finding->action;
}

using Ids = std::vector<std::string>;

TEST(ImportCorpus, EveryBuildingQuirkIsRepairedDroppedOrReportedWithItsId) {
    test::TempDir dir;
    const std::string city = city_copy(dir);
    std::string duplicate_id;
    {
        Editor edit(city);
        auto p = [&](GIntBig fid) { return edit.inside("buildings", fid); };
        auto [x1, y1] = p(1);
        edit.geometry("buildings", 1,
                      "POLYGON((" + std::to_string(x1 - 4) + " " + std::to_string(y1 - 4) + "," +
                          std::to_string(x1 + 4) + " " + std::to_string(y1 + 4) + "," + std::to_string(x1 + 4) + " " +
                          std::to_string(y1 - 4) + "," + std::to_string(x1 - 4) + " " + std::to_string(y1 + 4) + "," +
                          std::to_string(x1 - 4) + " " + std::to_string(y1 - 4) + "))");  // bow-tie
        auto [x2, y2] = p(2);
        const std::string a = std::to_string(x2 - 4) + " " + std::to_string(y2 - 4);
        edit.geometry("buildings", 2,
                      "POLYGON((" + a + "," + a + "," + std::to_string(x2 + 4) + " " + std::to_string(y2 - 4) + "," +
                          std::to_string(x2 + 4) + " " + std::to_string(y2 + 4) + "," + a + "))");
        auto [x3, y3] = p(3);
        edit.geometry("buildings", 3,
                      "POLYGON((" + std::to_string(x3) + " " + std::to_string(y3) + "," + std::to_string(x3 + 5) + " " +
                          std::to_string(y3) + "," + std::to_string(x3 + 9) + " " + std::to_string(y3) + "," +
                          std::to_string(x3) + " " + std::to_string(y3) + "))");  // no area
        edit.geometry("buildings", 4, "");
        edit.geometry("buildings", 5, "POLYGON EMPTY");
        auto [x6, y6] = p(6);
        edit.geometry("buildings", 6, "POINT(" + std::to_string(x6) + " " + std::to_string(y6) + ")");
        auto [x7, y7] = p(7);
        edit.geometry("buildings", 7,
                      "LINESTRING(" + std::to_string(x7) + " " + std::to_string(y7) + "," + std::to_string(x7 + 5) +
                          " " + std::to_string(y7) + ")");
        auto [x8, y8] = p(8);
        edit.geometry("buildings", 8,
                      "POLYGON Z((" + std::to_string(x8 - 3) + " " + std::to_string(y8 - 3) + " 9," +
                          std::to_string(x8 + 3) + " " + std::to_string(y8 - 3) + " 9," + std::to_string(x8) + " " +
                          std::to_string(y8 + 3) + " 9," + std::to_string(x8 - 3) + " " + std::to_string(y8 - 3) +
                          " 9))");
        auto [x9, y9] = p(9);
        edit.geometry("buildings", 9,
                      "CURVEPOLYGON(CIRCULARSTRING(" + std::to_string(x9 - 4) + " " + std::to_string(y9) + "," +
                          std::to_string(x9 + 4) + " " + std::to_string(y9) + "," + std::to_string(x9 - 4) + " " +
                          std::to_string(y9) + "))");
        edit.geometry("buildings", 11, edit.wkt("buildings", 10));  // the same building twice
        edit.field("buildings", 12, "households", "<null>");
        edit.field("buildings", 13, "households", "-5");
        edit.field("buildings", 14, "households", "9999");
        duplicate_id = edit.text("buildings", 16, "building_id");
        edit.field("buildings", 15, "building_id", duplicate_id);
        edit.geometry("buildings", 17, square(470000, 3530000, 5));  // far outside every community
        auto [x18, y18] = p(18);
        edit.geometry("buildings", 18,
                      "POLYGON((" + std::to_string(x18 - 3) + " " + std::to_string(y18 - 3) + "," +
                          std::to_string(x18 + 3) + " " + std::to_string(y18 - 3) + "," + std::to_string(x18 + 3) +
                          " " + std::to_string(y18 + 3) + "))");  // open ring
    }
    PartitionConfig config;
    config.city = city;
    const ImportReport report = check_inputs(config);
    EXPECT_EQ(ids(report, "buildings", "self_intersection"), Ids{"1"});
    EXPECT_EQ(action(report, "buildings", "self_intersection"), "repaired");
    EXPECT_EQ(ids(report, "buildings", "duplicate_points"), Ids{"2"});
    EXPECT_EQ(ids(report, "buildings", "zero_area"), Ids{"3"});
    EXPECT_EQ(action(report, "buildings", "zero_area"), "dropped");
    EXPECT_EQ(ids(report, "buildings", "null_geometry"), (Ids{"4", "5"}));
    EXPECT_EQ(ids(report, "buildings", "point_in_polygon_layer"), Ids{"6"});
    EXPECT_EQ(ids(report, "buildings", "wrong_geometry_type"), Ids{"7 (Line String)"});
    EXPECT_EQ(ids(report, "buildings", "z_or_m_dropped"), Ids{"8"});
    EXPECT_EQ(ids(report, "buildings", "curve_linearised"), Ids{"9"});
    EXPECT_EQ(ids(report, "buildings", "duplicate_building"), Ids{"11 (copy of 10)"});
    EXPECT_EQ(ids(report, "buildings", "invalid_households"), (Ids{"12 ('')", "13 ('-5')"}));
    EXPECT_EQ(ids(report, "buildings", "absurd_households"), Ids{"14 (9999)"});
    EXPECT_EQ(ids(report, "buildings", "duplicate_id"),
              (Ids{"15 ('" + duplicate_id + "', as 16)", "16 ('" + duplicate_id + "', as 15)"}));
    EXPECT_EQ(ids(report, "buildings", "outside_every_region"), Ids{"17"});
    EXPECT_EQ(ids(report, "buildings", "unclosed_ring"), Ids{"18"});
    EXPECT_EQ(report.layer("buildings")->findings.size(), 14u) << report.to_text();

    // A run goes through with the same report in run_info, and the dropped buildings are kept
    // (attributes and why) in the output's buildings layer.
    const std::string output = dir.file("out.gpkg");
    config.threads = 2;
    const RunSummary summary = run_partition(config, output);
    EXPECT_EQ(summary.report.invalid_polygons, 0);
    const io::FeatureTable info = io::read_layer({output, "run_info"});
    bool found = false;
    for (const auto& row : info.rows)
        if (std::get<std::string>(row[1]) == "buildings.dropped.duplicate_building")
            found = std::get<std::string>(row[2]).find("feature ids: 11 (copy of 10)") != std::string::npos;
    EXPECT_TRUE(found);
    const io::FeatureTable written = io::read_layer({output, "buildings"});
    EXPECT_EQ(written.size(), io::read_layer({city, "buildings"}).size());
    const int note = written.field_index("import_note");
    ASSERT_GE(note, 0);
    EXPECT_EQ(std::get<std::string>(written.rows[10][static_cast<std::size_t>(note)]),
              "dropped: duplicate of feature 10");

    // --strict turns the warnings into an error, and nothing is written.
    config.strict = true;
    const std::string strict_output = dir.file("strict.gpkg");
    const std::string message =
        message_of<InputError>([&] { static_cast<void>(run_partition(config, strict_output)); });
    EXPECT_NE(message.find("--strict: the inputs have"), std::string::npos) << message;
    EXPECT_FALSE(std::filesystem::exists(strict_output));
}

TEST(ImportCorpus, OverlappingCommunitiesGapsAndDuplicateCodes) {
    test::TempDir dir;
    const std::string city = city_copy(dir);
    std::string code2;
    double gap_x = 0, gap_y = 0;
    {
        Editor edit(city);
        edit.transform("communities", 1, [](OGRGeometryH g) { return OGR_G_Buffer(g, 10.0, 8); });
        std::tie(gap_x, gap_y) = edit.inside("communities", 3);
        edit.transform("communities", 3, [&](OGRGeometryH g) {
            char* text = const_cast<char*>("");
            OGRGeometryH hole = nullptr;
            const std::string wkt = square(gap_x, gap_y, 10);
            text = const_cast<char*>(wkt.c_str());
            EXPECT_EQ(OGR_G_CreateFromWkt(&text, nullptr, &hole), OGRERR_NONE);
            OGRGeometryH result = OGR_G_Difference(g, hole);
            OGR_G_DestroyGeometry(hole);
            return result;
        });
        code2 = edit.text("communities", 2, "community_code");
        edit.field("communities", 4, "community_code", code2);
    }
    PartitionConfig config;
    config.city = city;
    const ImportReport report = check_inputs(config);
    const Ids overlaps = ids(report, "communities", "overlapping_regions");
    ASSERT_FALSE(overlaps.empty()) << report.to_text();
    for (const std::string& pair : overlaps) EXPECT_EQ(pair.substr(0, 2), "1/") << pair;
    const Ids gaps = ids(report, "communities", "gap_between_regions");
    ASSERT_EQ(gaps.size(), 1u) << report.to_text();
    EXPECT_EQ(gaps.front().substr(0, 15), "gap of 400 m2 a") << gaps.front();
    EXPECT_NE(gaps.front().find("between 3"), std::string::npos) << gaps.front();
    EXPECT_EQ(ids(report, "communities", "duplicate_code"), Ids{"'" + code2 + "': 2, 4"});
    EXPECT_EQ(action(report, "communities", "duplicate_code"), "merged");

    // The communities layer alone (civgrid check --communities FILE:LAYER, no buildings): the
    // same findings, and nothing else read.
    PartitionConfig alone;
    alone.communities.path = city + ":communities";
    const ImportReport own = check_inputs(alone);
    ASSERT_EQ(own.layers.size(), 1u) << own.to_text();
    EXPECT_EQ(own.layers.front().role, "communities");
    EXPECT_EQ(ids(own, "communities", "overlapping_regions"), overlaps);
    EXPECT_EQ(ids(own, "communities", "gap_between_regions"), gaps);
    EXPECT_EQ(ids(own, "communities", "duplicate_code"), Ids{"'" + code2 + "': 2, 4"});
    EXPECT_CONTAINS(own.to_text(), "checked without buildings");
    // Nothing at all to check is a clear error.
    EXPECT_CONTAINS(message_of<ConfigError>([&] { static_cast<void>(check_inputs(PartitionConfig{})); }),
                    "nothing to check");
}

// Issue 17: a roads layer whose features were soft barriers read "0 features, no problems found"
// when the hard filter matched none. The report says how many are soft.
TEST(ImportCorpus, SoftBarriersAreCountedInTheReport) {
    PartitionConfig config;
    config.city = sample_city();
    const ImportReport report = check_inputs(config);
    const LayerReport* roads = report.layer("roads");
    ASSERT_NE(roads, nullptr);
    std::string soft;
    for (const auto& [key, value] : roads->facts)
        if (key == "soft barriers") soft = value;
    EXPECT_CONTAINS(soft, "of the layer's");
    EXPECT_NE(soft.rfind("0 of", 0), 0u) << soft;  // the sample's minor roads are soft
}

void shift_x(OGRGeometryH geometry, double dx) {
    for (int i = 0; i < OGR_G_GetGeometryCount(geometry); ++i) shift_x(OGR_G_GetGeometryRef(geometry, i), dx);
    for (int i = 0; i < OGR_G_GetPointCount(geometry); ++i)
        OGR_G_SetPoint_2D(geometry, i, OGR_G_GetX(geometry, i) + dx, OGR_G_GetY(geometry, i));
}

TEST(ImportCorpus, HouseholdsFromFloorsAndAFarOffLayer) {
    test::TempDir dir;
    const std::string city = city_copy(dir);
    // Buildings without households but with floors (the generator writes them); roads 300 km away (a CRS mistake).
    GDALAllRegister();
    GDALDatasetH dataset = GDALOpenEx(city.c_str(), GDAL_OF_VECTOR | GDAL_OF_UPDATE, nullptr, nullptr, nullptr);
    ASSERT_NE(dataset, nullptr);
    GDALDatasetReleaseResultSet(
        dataset, GDALDatasetExecuteSQL(dataset, "ALTER TABLE buildings DROP COLUMN households", nullptr, "SQLITE"));
    OGRLayerH roads = GDALDatasetGetLayerByName(dataset, "roads");
    std::vector<OGRFeatureH> features;
    OGR_L_ResetReading(roads);
    while (OGRFeatureH feature = OGR_L_GetNextFeature(roads)) features.push_back(feature);
    for (OGRFeatureH feature : features) {
        shift_x(OGR_F_GetGeometryRef(feature), 300000.0);
        EXPECT_EQ(OGR_L_SetFeature(roads, feature), OGRERR_NONE);
        OGR_F_Destroy(feature);
    }
    GDALClose(dataset);
    PartitionConfig config;
    config.city = city;
    const std::string message = message_of<InputError>([&] { static_cast<void>(check_inputs(config)); });
    EXPECT_NE(message.find("no field 'households'"), std::string::npos) << message;
    EXPECT_NE(message.find("derive households from 'floors' with --dwelling-area M2"), std::string::npos) << message;
    config.dwelling_area = 90;
    const ImportReport report = check_inputs(config);
    const io::FeatureTable buildings = io::read_layer({city, "buildings"});
    EXPECT_EQ(ids(report, "buildings", "households_from_floors").size(), buildings.size());
    EXPECT_EQ(ids(report, "roads", "far_from_buildings"), Ids{"all"}) << report.to_text();
    EXPECT_NE(report.layer("roads")->find("far_from_buildings")->policy.find("lies 299 km from the buildings"),
              std::string::npos);
}

// ---- the CLI: check, failures --------------------------------------------------------------------

int run(const std::string& arguments, std::string& output, const test::TempDir& dir) {
    return test::run_cli(arguments, output, dir);
}

std::string bytes_of(const std::string& path) {
    return test::file_bytes(path);
}

TEST(ImportCli, CheckPrintsTheReportAndStrictFails) {
    test::TempDir dir;
    const std::string city = city_copy(dir);
    {
        Editor edit(city);
        edit.field("buildings", 3, "households", "-1");
    }
    std::string output;
    ASSERT_EQ(run("check " + city, output, dir), 0) << output;
    EXPECT_NE(output.find("warning: 1 reported (invalid_households)"), std::string::npos) << output;
    EXPECT_NE(output.find("feature ids: 3 ('-1')"), std::string::npos) << output;
    EXPECT_NE(output.find("Import check: 1 warnings"), std::string::npos) << output;
    EXPECT_EQ(run("check " + city + " --strict", output, dir), 3) << output;
    EXPECT_NE(output.find("--strict: the inputs have 1 warnings"), std::string::npos) << output;
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), std::filesystem::directory_iterator()), 2)
        << "check writes nothing";
}

TEST(ImportCli, FailuresNameWhatToFixLeaveNoOutputAndTheInputUntouched) {
    test::TempDir dir;
    const std::string city = city_copy(dir);
    const std::string before = bytes_of(city);
    const std::string out = dir.file("out.gpkg");
    std::string output;
    EXPECT_EQ(run("partition " + city + " --communities " + city + ":nope -o " + out, output, dir), 3) << output;
    EXPECT_NE(output.find("no layer 'nope'; available layers:"), std::string::npos) << output;
    EXPECT_EQ(run("partition " + city + " --buildings " + city + ":roads -o " + out, output, dir), 3) << output;
    EXPECT_NE(output.find("layer 'roads': no usable polygon or point geometry"), std::string::npos) << output;
    EXPECT_EQ(run("partition " + city + " --communities " + city + ":roads -o " + out, output, dir), 3) << output;
    EXPECT_NE(output.find("the communities layer must hold polygons"), std::string::npos) << output;
    EXPECT_EQ(run("partition " + city + " --datum buildings=mars -o " + out, output, dir), 2) << output;
    EXPECT_NE(output.find("unknown datum 'mars'"), std::string::npos) << output;
    // A truncated GeoPackage.
    const std::string truncated = dir.file("truncated.gpkg");
    {
        std::ofstream cut(truncated, std::ios::binary);
        cut << before.substr(0, before.size() / 3);
    }
    const int code = run("partition " + truncated + " -o " + out, output, dir);
    EXPECT_TRUE(code == 3 || code == 4) << code << output;
    EXPECT_NE(output.find("truncated.gpkg"), std::string::npos) << output;
    // A full or unwritable output location.
    EXPECT_EQ(run("partition " + city + " -o /dev/full/out.gpkg", output, dir), 4) << output;
    EXPECT_NE(output.find("/dev/full/out.gpkg"), std::string::npos) << output;
    EXPECT_FALSE(std::filesystem::exists(out));
    EXPECT_EQ(bytes_of(city), before) << "the input was modified";
}

// ---- real samples end to end ----------------------------------------------------------------

std::string realdata_or_skip(const std::string& relative) {
    return test::realdata(relative);
}

TEST(ImportRealData, SuzhouFloorsOnlyBuildingsPartitionEndToEnd) {
    const std::string file = realdata_or_skip("suzhou-buildings/suzhou_gusu_buildings.geojson");
    if (file.empty())
        GTEST_SKIP() << "real data ../shared/realdata/suzhou-buildings is absent (set CIVGRID_REALDATA_DIR)";
    test::TempDir dir;
    PartitionConfig config;
    config.buildings.path = file;
    config.dwelling_area = 90;
    const RunSummary summary = run_partition(config, dir.file("out.gpkg"));
    EXPECT_EQ(summary.crs, "EPSG:4549");
    EXPECT_GT(summary.report.micro_grids, 100);
    EXPECT_EQ(summary.report.non_contiguous, 0);
    const ImportReport report = check_inputs(config);
    EXPECT_EQ(ids(report, "buildings", "households_from_floors").size(), 3076u);
    std::printf("Suzhou: %s", report.to_text(5).c_str());
}

TEST(ImportRealData, ShanghaiOsmTilesLabelPointsAndDuplicates) {
    const std::string buildings = realdata_or_skip("shanghai-wuhan-osm/shanghai_buildings.geojson");
    const std::string roads = realdata_or_skip("shanghai-wuhan-osm/shanghai_roads.geojson");
    if (buildings.empty() || roads.empty())
        GTEST_SKIP() << "real data ../shared/realdata/shanghai-wuhan-osm is absent (set CIVGRID_REALDATA_DIR)";
    test::TempDir dir;
    PartitionConfig config;
    config.buildings.path = buildings;
    config.roads.path = roads;
    config.hard_roads.filter = "kind IN ('highway', 'major_road')";
    config.dwelling_area = 90;
    const ImportReport report = check_inputs(config);
    const io::FeatureTable points = io::read_layer({buildings, ""}, {.attribute_filter = "OGR_GEOMETRY = 'POINT'"});
    EXPECT_EQ(ids(report, "buildings", "point_in_polygon_layer").size(), points.size());
    EXPECT_GT(ids(report, "buildings", "duplicate_building").size(), 100u);
    std::printf("Shanghai: %s", report.to_text(5).c_str());
    const RunSummary summary = run_partition(config, dir.file("out.gpkg"));
    EXPECT_EQ(summary.report.invalid_polygons, 0);
    EXPECT_EQ(summary.report.non_contiguous, 0);
}

TEST(ImportRealData, NanjingGcj02DistrictsAndChongqingZonePrefix) {
    const std::string districts = realdata_or_skip("nanjing-admin/nanjing_districts_2020.shp");
    const std::string cells = realdata_or_skip("chongqing-cgcs2000/banzhucun10000.shp");
    if (districts.empty() || cells.empty())
        GTEST_SKIP() << "real data ../shared/realdata is absent (set CIVGRID_REALDATA_DIR)";
    test::TempDir dir;
    // Nanjing districts as regions over their own point-on-surface as buildings (one household
    // each): the GCJ-02 layer is converted, its zero-area holes repaired, names read as UTF-8.
    PartitionConfig config;
    config.buildings.path = districts;
    config.buildings.datum = "gcj02";
    config.districts.path = districts;
    config.districts.datum = "gcj02";
    config.households_field = "adcode";
    config.district_code_field = "adcode";
    config.max_building_households = 1'000'000;
    const ImportReport report = check_inputs(config);
    // GEOS finds the 42 near-zero-area holes valid: nothing to repair, no overlaps between districts.
    EXPECT_EQ(report.count(Severity::warning), 0u) << report.to_text();
    EXPECT_NE(report.layer("districts")->facts.end(),
              std::find(report.layer("districts")->facts.begin(), report.layer("districts")->facts.end(),
                        std::pair<std::string, std::string>{
                            "datum", "gcj02, converted to WGS84 (iterative inversion, residual < 1e-10 degrees)"}));
    const RunSummary nanjing = run_partition(config, dir.file("nanjing.gpkg"));
    EXPECT_EQ(nanjing.report.invalid_polygons, 0);
    std::printf("Nanjing: %s", report.to_text(5).c_str());
    // Chongqing land-use cells with eastings prefixed by zone 35 (EPSG:4523) as buildings.
    PartitionConfig chongqing;
    chongqing.buildings.path = cells;
    chongqing.households_field = "Slope";
    const ImportReport cells_report = check_inputs(chongqing);
    EXPECT_EQ(cells_report.layer("buildings")->features, 10653);
    // A real-valued field taken as households: every value is rounded, and said so (one reason);
    // and the cells tile the ground, so units mode is suggested (issue 17).
    EXPECT_EQ(cells_report.count(Severity::warning), 2u) << cells_report.to_text();
    EXPECT_NE(cells_report.layer("buildings")->find("polygons_tile_the_ground"), nullptr);
    ASSERT_NE(cells_report.layer("buildings")->find("fractional_households"), nullptr);
    EXPECT_EQ(cells_report.layer("buildings")->find("fractional_households")->ids.size(), 10653u);
    EXPECT_NE(cells_report.layer("buildings")->facts.end(),
              std::find(cells_report.layer("buildings")->facts.begin(), cells_report.layer("buildings")->facts.end(),
                        std::pair<std::string, std::string>{"working crs",
                                                            "CGCS2000 / 3-degree Gauss-Kruger CM 105E (EPSG:4544)"}));
    std::printf("Chongqing: %s", cells_report.to_text(5).c_str());
}

// The 10,653 one-mu cells of a surveyed lattice, as buildings of one whole-city region: their
// nearly cocircular centres once gave Voronoi cells folded on themselves and a GEOS
// TopologyException in the cell union (engine.partition).
TEST(ImportRealData, ChongqingLatticeOfLandCellsPartitionsEndToEnd) {
    const std::string cells = realdata_or_skip("chongqing-cgcs2000/banzhucun10000.shp");
    if (cells.empty())
        GTEST_SKIP() << "real data ../shared/realdata/chongqing-cgcs2000 is absent (set CIVGRID_REALDATA_DIR)";
    test::TempDir dir;
    PartitionConfig config;
    config.buildings.path = cells;
    config.households_field = "Slope";  // a number per cell (1-60) for households: any will do
    const RunSummary summary = run_partition(config, dir.file("chongqing.gpkg"));
    EXPECT_EQ(summary.crs, "EPSG:4544");
    EXPECT_GT(summary.report.micro_grids, 1000);
    EXPECT_EQ(summary.report.micro_grids, summary.report.requested);
    EXPECT_EQ(summary.report.non_contiguous, 0);
    EXPECT_EQ(summary.report.invalid_polygons, 0);
    EXPECT_EQ(summary.report.buildings_unassigned, 0);
    EXPECT_LT(summary.report.gap_area_m2 + summary.report.overlap_area_m2, 1.0);
    const io::FeatureTable buildings = io::read_layer({dir.file("chongqing.gpkg"), "buildings"}, {});
    ASSERT_EQ(buildings.size(), 10653u);
    const int micro_grid = buildings.field_index("micro_grid_id");
    ASSERT_GE(micro_grid, 0);
    for (std::size_t i = 0; i < buildings.size(); ++i) {
        const FieldValue& value = buildings.rows[i][static_cast<std::size_t>(micro_grid)];
        ASSERT_TRUE(std::holds_alternative<std::string>(value) && !std::get<std::string>(value).empty())
            << "feature " << buildings.fids[i] << " has no micro-grid";
    }
}

}  // namespace
}  // namespace civgrid::engine
