// GeoPackageWriter: round trips through read_layer, atomicity, errors, and ogrinfo's verdict.
#include <civgrid/error.hpp>
#include <civgrid/io/layer.hpp>

#include "ogr_wkb.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <cpl_conv.h>
#include <gdal.h>
#include <ogr_api.h>
#include <sqlite3.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace civgrid::io {
namespace {

using civgrid::test::contains;
using civgrid::test::message_of;

namespace fs = std::filesystem;

using civgrid::test::wkb_of;

/// Output (stdout and stderr) of a shell command.
std::string run(const std::string& command) {
    std::string output;
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    if (pipe == nullptr) return "<popen failed>";
    std::array<char, 4096> buffer{};
    while (std::fgets(buffer.data(), static_cast<int>(buffer.size()), pipe) != nullptr) output += buffer.data();
    ::pclose(pipe);
    return output;
}

std::vector<std::string> files_in(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

LayerData points_layer(const std::string& name = "points") {
    LayerData layer{name, GeometryKind::point, {{"n", FieldType::integer}}, {}, {}};
    layer.geometries = {wkb_of("POINT (386666.16 3548026.65)"), wkb_of("POINT (1 2)")};
    layer.rows = {{std::int64_t{1}}, {std::int64_t{2}}};
    return layer;
}

// ---- round trips --------------------------------------------------------------------------------

TEST(GeoPackageWriter, RoundTripAllFieldTypesNullsUtf8AndManyFeatures) {
    test::TempDir dir;
    const std::string file = dir.file("grids.gpkg");
    constexpr std::size_t kCount = 10000;
    LayerData grids{"grids",
                    GeometryKind::multi_polygon,
                    {{"grid_id", FieldType::integer}, {"households", FieldType::real}, {"district", FieldType::string}},
                    {},
                    {}};
    std::vector<Wkb> expected;
    const std::array<std::string, 3> districts{"玄武区", "秦淮区", "Gulou (鼓楼区) \"quoted\" 'x'"};
    for (std::size_t i = 0; i < kCount; ++i) {
        const double x = 380000.0 + static_cast<double>(i % 100) * 100.0;
        const double y = 3540000.0 + static_cast<double>(i / 100) * 100.0;
        const std::string ring = "((" + std::to_string(x) + " " + std::to_string(y) + "," + std::to_string(x + 100) +
                                 " " + std::to_string(y) + "," + std::to_string(x + 100) + " " +
                                 std::to_string(y + 100) + "," + std::to_string(x) + " " + std::to_string(y) + "))";
        // Polygons are promoted to MultiPolygon by the writer; every 7th is already multi; one is null.
        if (i == 5) {
            grids.geometries.emplace_back();
            expected.emplace_back();
        } else if (i % 7 == 0) {
            grids.geometries.push_back(wkb_of("MULTIPOLYGON (" + ring + ")"));
            expected.push_back(grids.geometries.back());
        } else {
            grids.geometries.push_back(wkb_of("POLYGON " + ring));
            expected.push_back(wkb_of("MULTIPOLYGON (" + ring + ")"));
        }
        std::vector<FieldValue> row{std::int64_t{static_cast<std::int64_t>(i) * 1000000007LL},
                                    static_cast<double>(i) * 0.1 + 1e-9, districts[i % districts.size()]};
        if (i % 10 == 3) row[0] = std::monostate{};
        if (i % 10 == 4) row[1] = std::monostate{};
        if (i % 10 == 6) row[2] = std::monostate{};
        grids.rows.push_back(std::move(row));
    }
    {
        GeoPackageWriter writer(file, "EPSG:4549");
        writer.add_layer(grids);
        writer.add_layer(points_layer());
        writer.add_layer({"lines",
                          GeometryKind::multi_line_string,
                          {{"name", FieldType::string}},
                          {wkb_of("LINESTRING (0 0,1 1,2 0)"), wkb_of("MULTILINESTRING ((0 0,1 1),(2 2,3 3))")},
                          {{std::string("中山路")}, {std::string("")}}});
        writer.add_layer({"stats",
                          GeometryKind::none,
                          {{"district", FieldType::string}, {"households", FieldType::integer}},
                          {},
                          {{std::string("玄武区"), std::int64_t{200000}}, {std::string("秦淮区"), std::monostate{}}}});
        writer.commit();
    }
    EXPECT_EQ(list_layers(file), (std::vector<std::string>{"grids", "points", "lines", "stats"}));

    const FeatureTable table = read_layer({file, "grids"});
    ASSERT_EQ(table.size(), kCount);
    ASSERT_EQ(table.fields.size(), 3u);
    EXPECT_EQ(table.fields[0].name, "grid_id");
    EXPECT_EQ(table.fields[0].type, FieldType::integer);
    EXPECT_EQ(table.fields[1].type, FieldType::real);
    EXPECT_EQ(table.fields[2].type, FieldType::string);
    EXPECT_EQ(describe_crs(table.crs), "CGCS2000 / 3-degree Gauss-Kruger CM 120E (EPSG:4549)");
    for (std::size_t i = 0; i < kCount; ++i) {
        ASSERT_EQ(table.rows[i], grids.rows[i]) << "row " << i;
        ASSERT_EQ(table.geometries[i], expected[i]) << "geometry " << i;
        ASSERT_EQ(table.fids[i], static_cast<std::int64_t>(i) + 1);
    }

    const FeatureTable points = read_layer({file, "points"});
    ASSERT_EQ(points.size(), 2u);
    EXPECT_EQ(points.geometries, points_layer().geometries);

    const FeatureTable lines = read_layer({file, "lines"});
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines.geometries[0], wkb_of("MULTILINESTRING ((0 0,1 1,2 0))"));
    EXPECT_EQ(lines.geometries[1], wkb_of("MULTILINESTRING ((0 0,1 1),(2 2,3 3))"));
    EXPECT_EQ(std::get<std::string>(lines.rows[0][0]), "中山路");
    EXPECT_EQ(std::get<std::string>(lines.rows[1][0]), "") << "empty string is not null";

    const FeatureTable stats = read_layer({file, "stats"});
    ASSERT_EQ(stats.size(), 2u);
    EXPECT_EQ(stats.geometries, (std::vector<Wkb>{Wkb{}, Wkb{}}));
    EXPECT_EQ(std::get<std::string>(stats.rows[0][0]), "玄武区");
    EXPECT_EQ(std::get<std::int64_t>(stats.rows[0][1]), 200000);
    EXPECT_TRUE(std::holds_alternative<std::monostate>(stats.rows[1][1]));

    // A conformant GeoPackage: ogrinfo has nothing to warn about, the attribute table is one.
    const std::string info = run("/usr/bin/ogrinfo -al -so '" + file + "'");
    EXPECT_EQ(info.find("Warning"), std::string::npos) << info;
    EXPECT_EQ(info.find("ERROR"), std::string::npos) << info;
    EXPECT_CONTAINS(info, "Feature Count: 10000");
    EXPECT_CONTAINS(info, "Geometry: Multi Polygon");
    const std::string contents =
        run("/usr/bin/ogrinfo -ro -q '" + file + "' -sql \"SELECT table_name, data_type FROM gpkg_contents\"");
    EXPECT_CONTAINS(contents, "table_name (String) = stats\n  data_type (String) = attributes");
    EXPECT_CONTAINS(contents, "table_name (String) = grids\n  data_type (String) = features");
    const std::string rtree =
        run("/usr/bin/ogrinfo -ro -q '" + file + "' -sql \"SELECT count(*) AS n FROM rtree_grids_geom\"");
    EXPECT_CONTAINS(rtree, "n (Integer) = 9999") << "spatial index filled (one null geometry)";
}

// ---- spatial index ------------------------------------------------------------------------------

/// The rows of `sql` on the SQLite database `file`, each as its columns' text joined by '|'.
std::vector<std::string> sql_rows(const std::string& file, const std::string& sql) {
    sqlite3* db = nullptr;
    std::vector<std::string> rows;
    if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        sqlite3_close(db);
        ADD_FAILURE() << "cannot open " << file;
        return rows;
    }
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
        ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
    } else {
        while (sqlite3_step(statement) == SQLITE_ROW) {
            std::string row;
            for (int c = 0; c < sqlite3_column_count(statement); ++c) {
                const auto* text = sqlite3_column_text(statement, c);
                row += (c > 0 ? "|" : "") + std::string(text != nullptr ? reinterpret_cast<const char*>(text) : "NULL");
            }
            rows.push_back(std::move(row));
        }
    }
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return rows;
}

/// `count` polygons of very different sizes scattered over a city (coordinates that floats cannot
/// hold exactly, so the index's rounding shows), with null and empty geometries among them.
LayerData scattered_polygons(std::size_t count) {
    LayerData layer{"parcels", GeometryKind::polygon, {{"n", FieldType::integer}}, {}, {}};
    std::mt19937_64 random(7);
    std::uniform_real_distribution<double> x(380000.0, 420000.0), y(3520000.0, 3560000.0), size(0.01, 400.0);
    for (std::size_t i = 0; i < count; ++i) {
        const double x0 = x(random), y0 = y(random), w = size(random), h = size(random) / 3;
        if (i % 997 == 3)
            layer.geometries.emplace_back();
        else if (i % 991 == 4)
            layer.geometries.push_back(wkb_of("POLYGON EMPTY"));
        else
            layer.geometries.push_back(wkb_of("POLYGON ((" + std::to_string(x0) + " " + std::to_string(y0) + "," +
                                              std::to_string(x0 + w) + " " + std::to_string(y0 + h / 2) + "," +
                                              std::to_string(x0 + w / 3) + " " + std::to_string(y0 + h) + "," +
                                              std::to_string(x0) + " " + std::to_string(y0) + "))"));
        layer.rows.push_back({static_cast<std::int64_t>(i)});
    }
    return layer;
}

/// The same layer written by GDAL's own GeoPackage driver, with its own spatial index.
void write_with_gdal(const std::string& file, const LayerData& data) {
    GDALAllRegister();
    GDALDatasetH dataset = GDALCreate(GDALGetDriverByName("GPKG"), file.c_str(), 0, 0, 0, GDT_Unknown, nullptr);
    ASSERT_NE(dataset, nullptr);
    OGRLayerH layer = GDALDatasetCreateLayer(dataset, data.name.c_str(), nullptr, wkbPolygon, nullptr);
    ASSERT_NE(layer, nullptr);
    OGRFieldDefnH field = OGR_Fld_Create("n", OFTInteger64);
    OGR_L_CreateField(layer, field, TRUE);
    OGR_Fld_Destroy(field);
    GDALDatasetStartTransaction(dataset, FALSE);
    for (std::size_t i = 0; i < data.rows.size(); ++i) {
        OGRFeatureH feature = OGR_F_Create(OGR_L_GetLayerDefn(layer));
        OGR_F_SetFieldInteger64(feature, 0, std::get<std::int64_t>(data.rows[i][0]));
        if (!data.geometries[i].empty()) {
            OGRGeometryH geometry = nullptr;
            OGR_G_CreateFromWkb(data.geometries[i].data(), nullptr, &geometry,
                                static_cast<int>(data.geometries[i].size()));
            OGR_F_SetGeometryDirectly(feature, geometry);
        }
        EXPECT_EQ(OGR_L_CreateFeature(layer, feature), OGRERR_NONE);
        OGR_F_Destroy(feature);
    }
    GDALDatasetCommitTransaction(dataset);
    GDALClose(dataset);
}

TEST(GeoPackageWriterSpatialIndex, WrittenWhileGdalHasTheFileOpenHoldsWhatTheCloseWrites) {
    test::TempDir dir;
    const std::string early = dir.file("early.gpkg"), at_close = dir.file("at_close.gpkg");
    const LayerData parcels = scattered_polygons(30000);
    for (const std::string& file : {early, at_close}) {
        GeoPackageWriter writer(file, "EPSG:4547");
        writer.add_layer(parcels);
        if (file == early) writer.write_packed_indexes(true);
        writer.add_layer(points_layer());
        if (file == early) writer.write_packed_indexes(true);  // the points' index is not packed aside
        writer.commit();
    }
    // Written early, the parcels' index tables come before the points' table in the schema; at
    // the close, after it. Their contents are the same.
    const std::string order =
        "SELECT name FROM sqlite_master WHERE name IN ('rtree_parcels_geom', 'points') ORDER BY rowid";
    EXPECT_EQ(sql_rows(early, order), (std::vector<std::string>{"rtree_parcels_geom", "points"}));
    EXPECT_EQ(sql_rows(at_close, order), (std::vector<std::string>{"points", "rtree_parcels_geom"}));
    for (const char* table : {"rtree_parcels_geom_node", "rtree_parcels_geom_rowid", "rtree_parcels_geom_parent",
                              "rtree_points_geom_node", "rtree_points_geom_rowid"}) {
        const std::string all = std::string("SELECT * FROM ") + table + " ORDER BY 1";
        EXPECT_EQ(sql_rows(early, all), sql_rows(at_close, all)) << table;
        EXPECT_FALSE(sql_rows(early, all).empty()) << table;
    }
    for (const char* rtree : {"rtree_parcels_geom", "rtree_points_geom"})
        EXPECT_EQ(sql_rows(early, std::string("SELECT rtreecheck('") + rtree + "')"), std::vector<std::string>{"ok"});
    const std::string registered = "SELECT * FROM gpkg_extensions ORDER BY table_name, extension_name";
    EXPECT_EQ(sql_rows(early, registered), sql_rows(at_close, registered));
    const std::string triggers = "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name";
    EXPECT_EQ(sql_rows(early, triggers), sql_rows(at_close, triggers));
    EXPECT_EQ(sql_rows(early, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
    // GDAL reads the file written early through the index as the other.
    const std::string filtered =
        run("/usr/bin/ogrinfo -ro -q '" + early + "' parcels -spat 390000 3530000 391000 3531000 | grep -c OGRFeature");
    EXPECT_EQ(filtered, run("/usr/bin/ogrinfo -ro -q '" + at_close +
                            "' parcels -spat 390000 3530000 391000 3531000 | grep -c OGRFeature"));
    EXPECT_NE(filtered, "0\n");
}

TEST(GeoPackageWriterSpatialIndex, HoldsWhatGdalsOwnIndexHoldsAndAnswersTheSameQueries) {
    test::TempDir dir;
    const std::string ours = dir.file("ours.gpkg"), gdals = dir.file("gdal.gpkg");
    const LayerData parcels = scattered_polygons(30000);
    {
        GeoPackageWriter writer(ours, "");
        writer.add_layer(parcels);
        writer.add_layer(points_layer());
        writer.add_layer({"nothing", GeometryKind::polygon, {{"x", FieldType::integer}}, {}, {}});
        writer.add_layer({"stats", GeometryKind::none, {{"x", FieldType::integer}}, {}, {{std::int64_t{1}}}});
        writer.commit();
    }
    write_with_gdal(gdals, parcels);

    // The R*Tree is well formed (SQLite's own check) and holds every non-empty geometry once,
    // with the very float boxes GDAL's row-by-row insertion stores.
    for (const char* rtree : {"rtree_parcels_geom", "rtree_points_geom", "rtree_nothing_geom"})
        EXPECT_EQ(sql_rows(ours, std::string("SELECT rtreecheck('") + rtree + "')"), std::vector<std::string>{"ok"})
            << rtree;
    // The parcels' tree was packed on a thread of its own for the node size SQLite takes on the
    // file's pages (a tree packed for another would be packed again).
    EXPECT_EQ(sql_rows(ours, "SELECT length(data) FROM rtree_parcels_geom_node WHERE nodeno = 1"),
              std::vector<std::string>{"1228"});
    const std::string all_boxes = "SELECT id, minx, maxx, miny, maxy FROM rtree_parcels_geom ORDER BY id";
    const std::vector<std::string> boxes = sql_rows(ours, all_boxes);
    EXPECT_EQ(boxes.size(), 30000u - 31 - 31);
    EXPECT_EQ(boxes, sql_rows(gdals, all_boxes));
    EXPECT_EQ(sql_rows(ours, "SELECT count(*) FROM rtree_points_geom"), std::vector<std::string>{"2"});
    EXPECT_EQ(sql_rows(ours, "SELECT count(*) FROM rtree_nothing_geom"), std::vector<std::string>{"0"});
    EXPECT_EQ(sql_rows(ours, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'rtree_stats%'"),
              std::vector<std::string>{"0"})
        << "an attribute table has no index";

    // The rows go in through SQLite, not OGR: the same geometry blobs (header, envelope, WKB),
    // fields, feature count and extent as GDAL's own driver writes.
    const std::string rows = "SELECT fid, hex(geom), n FROM parcels ORDER BY fid";
    EXPECT_EQ(sql_rows(ours, rows), sql_rows(gdals, rows));
    const std::string contents = "SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = 'parcels'";
    EXPECT_EQ(sql_rows(ours, contents), sql_rows(gdals, contents));
    const std::string count = "SELECT feature_count FROM gpkg_ogr_contents WHERE table_name = 'parcels'";
    EXPECT_EQ(sql_rows(ours, count), std::vector<std::string>{"30000"});
    EXPECT_EQ(sql_rows(ours, count), sql_rows(gdals, count));
    const std::string counter =
        "SELECT sql FROM sqlite_master WHERE name LIKE 'trigger_%_feature_count_parcels' ORDER BY name";
    EXPECT_EQ(sql_rows(ours, counter).size(), 2u);
    EXPECT_EQ(sql_rows(ours, counter), sql_rows(gdals, counter)) << "edits keep counting rows";

    // Window queries walk the packed inner nodes: the same features as GDAL's index.
    std::mt19937_64 random(11);
    std::uniform_real_distribution<double> x(379000.0, 421000.0), y(3519000.0, 3561000.0), size(1.0, 5000.0);
    for (int q = 0; q < 200; ++q) {
        const double x0 = x(random), y0 = y(random), w = size(random), h = size(random);
        const std::string window = "SELECT id FROM rtree_parcels_geom WHERE maxx >= " + std::to_string(x0) +
                                   " AND minx <= " + std::to_string(x0 + w) + " AND maxy >= " + std::to_string(y0) +
                                   " AND miny <= " + std::to_string(y0 + h) + " ORDER BY id";
        ASSERT_EQ(sql_rows(ours, window), sql_rows(gdals, window)) << window;
    }

    // The triggers and the extension's registration are GDAL's, so later edits keep the index.
    const std::string triggers =
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'rtree%' "
        "AND tbl_name = 'parcels' ORDER BY name";
    EXPECT_EQ(sql_rows(ours, triggers).size(), 6u);
    EXPECT_EQ(sql_rows(ours, triggers), sql_rows(gdals, triggers));
    EXPECT_EQ(sql_rows(ours, "SELECT * FROM gpkg_extensions WHERE table_name = 'parcels'"),
              sql_rows(gdals, "SELECT * FROM gpkg_extensions WHERE table_name = 'parcels'"));
    {
        GDALDatasetH dataset = GDALOpenEx(ours.c_str(), GDAL_OF_VECTOR | GDAL_OF_UPDATE, nullptr, nullptr, nullptr);
        ASSERT_NE(dataset, nullptr);
        OGRLayerH layer = GDALDatasetGetLayerByName(dataset, "parcels");
        OGRFeatureH feature = OGR_F_Create(OGR_L_GetLayerDefn(layer));
        OGRGeometryH square = nullptr;
        char wkt[] = "POLYGON ((500000 3600000,500001 3600000,500001 3600001,500000 3600000))";
        char* cursor = wkt;
        OGR_G_CreateFromWkt(&cursor, nullptr, &square);
        OGR_F_SetGeometryDirectly(feature, square);
        EXPECT_EQ(OGR_L_CreateFeature(layer, feature), OGRERR_NONE);
        OGR_F_Destroy(feature);
        GDALClose(dataset);
    }
    EXPECT_EQ(sql_rows(ours, "SELECT id FROM rtree_parcels_geom WHERE minx >= 499999"),
              std::vector<std::string>{"30001"});
    EXPECT_EQ(sql_rows(ours, "SELECT rtreecheck('rtree_parcels_geom')"), std::vector<std::string>{"ok"});
    // GDAL's spatial filter (through the index) finds the same features in both files.
    const std::string filtered =
        run("/usr/bin/ogrinfo -ro -q '" + ours + "' parcels -spat 390000 3530000 391000 3531000 | grep -c OGRFeature");
    const std::string scanned =
        run("/usr/bin/ogrinfo -ro -q '" + gdals + "' parcels -spat 390000 3530000 391000 3531000 | grep -c OGRFeature");
    EXPECT_EQ(filtered, scanned);
    EXPECT_NE(filtered, "0\n");
}

// Geometries that are not the layer's plain 2D type go in as OGR would write them: a polygon into
// a multipolygon layer as a multipolygon of one, Z dropped, big-endian WKB turned little-endian.
TEST(GeoPackageWriter, GeometriesAreWrittenInTheLayersTypeAsOgrWritesThem) {
    test::TempDir dir;
    const std::string file = dir.file("kinds.gpkg");
    const Wkb polygon = wkb_of("POLYGON ((0 0, 10 0, 10 10, 0 0))");
    Wkb big_endian(polygon.size());
    {
        OGRGeometryH geometry = nullptr;
        ASSERT_EQ(OGR_G_CreateFromWkb(polygon.data(), nullptr, &geometry, static_cast<int>(polygon.size())),
                  OGRERR_NONE);
        OGR_G_ExportToWkb(geometry, wkbXDR, big_endian.data());
        OGR_G_DestroyGeometry(geometry);
    }
    LayerData layer{"areas", GeometryKind::multi_polygon, {{"n", FieldType::integer}}, {}, {}};
    layer.geometries = {polygon, wkb_of("MULTIPOLYGON (((20 0, 30 0, 30 10, 20 0)), ((40 0, 50 0, 50 5, 40 0)))"),
                        wkb_of("POLYGON Z ((0 0 5, 10 0 5, 10 10 5, 0 0 5))"), big_endian, Wkb{}};
    for (std::int64_t i = 0; i < 5; ++i) layer.rows.push_back({i});
    {
        GeoPackageWriter writer(file, "EPSG:4549");
        writer.add_layer(layer);
        writer.commit();
    }
    const FeatureTable table = read_layer({file, "areas"});
    ASSERT_EQ(table.size(), 5u);
    std::vector<std::string> wkt;
    for (const Wkb& wkb : table.geometries) {
        OGRGeometryH geometry = nullptr;
        char* text = nullptr;
        if (!wkb.empty() &&
            OGR_G_CreateFromWkb(wkb.data(), nullptr, &geometry, static_cast<int>(wkb.size())) == OGRERR_NONE)
            OGR_G_ExportToWkt(geometry, &text);
        wkt.emplace_back(text != nullptr ? text : "");
        CPLFree(text);
        OGR_G_DestroyGeometry(geometry);
    }
    EXPECT_EQ(wkt, (std::vector<std::string>{"MULTIPOLYGON (((0 0,10 0,10 10,0 0)))",
                                             "MULTIPOLYGON (((20 0,30 0,30 10,20 0)),((40 0,50 0,50 5,40 0)))",
                                             "MULTIPOLYGON (((0 0,10 0,10 10,0 0)))",
                                             "MULTIPOLYGON (((0 0,10 0,10 10,0 0)))", ""}));
    EXPECT_EQ(sql_rows(file, "SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = 'areas'"),
              std::vector<std::string>{"0.0|0.0|50.0|10.0"});
    EXPECT_EQ(sql_rows(file, "SELECT count(*) FROM rtree_areas_geom"), std::vector<std::string>{"4"});
    const std::string info = run("/usr/bin/ogrinfo -al -so '" + file + "'");
    EXPECT_NE(info.find("Feature Count: 5"), std::string::npos) << info;
    EXPECT_NE(info.find("Extent: (0.000000, 0.000000) - (50.000000, 10.000000)"), std::string::npos) << info;
    // A geometry of another kind is refused, naming the file, layer and row.
    LayerData wrong{"wrong", GeometryKind::point, {}, {polygon}, {{}}};
    GeoPackageWriter writer(dir.file("wrong.gpkg"), "");
    EXPECT_CONTAINS(message_of<InternalError>([&] { writer.add_layer(wrong); }),
                    "layer 'wrong', row 0: geometry type Polygon");
}

TEST(GeoPackageWriter, FieldNamedFidAndEmptyLayer) {
    test::TempDir dir;
    const std::string file = dir.file("fid.gpkg");
    {
        GeoPackageWriter writer(file, "EPSG:4326");
        writer.add_layer(
            {"with_fid",
             GeometryKind::point,
             {{"FID", FieldType::string}, {"v", FieldType::real}, {"code", FieldType::string}},
             {Wkb{}, Wkb{}},
             {{std::string("a-1"), std::int64_t{3}, std::int64_t{320102}}, {std::monostate{}, 2.5, 0.25}}});
        writer.add_layer({"empty", GeometryKind::polygon, {{"x", FieldType::integer}}, {}, {}});
        writer.commit();
    }
    const FeatureTable table = read_layer({file, "with_fid"});
    ASSERT_EQ(table.size(), 2u);
    ASSERT_GE(table.field_index("fid"), 0);
    EXPECT_EQ(table.rows[0][2], FieldValue{std::string("320102")}) << "numbers are written as text into string fields";
    EXPECT_EQ(table.rows[1][2], FieldValue{std::string("0.25")});
    EXPECT_EQ(std::get<std::string>(table.rows[0][static_cast<std::size_t>(table.field_index("fid"))]), "a-1");
    EXPECT_DOUBLE_EQ(std::get<double>(table.rows[0][static_cast<std::size_t>(table.field_index("v"))]), 3.0)
        << "an integer value in a real field is widened";
    EXPECT_EQ(read_layer({file, "empty"}).size(), 0u);
    const std::string info = run("/usr/bin/ogrinfo -al -so '" + file + "'");
    EXPECT_EQ(info.find("Warning"), std::string::npos) << info;
}

TEST(GeoPackageWriter, StylesGoIntoTheLayerStylesTableQgisReads) {
    test::TempDir dir;
    const std::string file = dir.file("styled.gpkg");
    {
        GeoPackageWriter writer(file, "EPSG:4549");
        writer.add_layer(points_layer("points"));
        writer.add_layer({"table", GeometryKind::none, {{"k", FieldType::string}}, {}, {{std::string("v")}}});
        EXPECT_EQ(writer.layers(), (std::vector<std::string>{"points", "table"}));
        // A style for an attribute table, or a layer not written, is a bug of the caller.
        EXPECT_CONTAINS(message_of<InternalError>([&] { writer.add_styles({{.layer = "table", .name = "s"}}); }),
                        "a style for 'table', which is not a spatial layer");
        EXPECT_CONTAINS(message_of<InternalError>([&] { writer.add_styles({{.layer = "nowhere", .name = "s"}}); }),
                        "a style for 'nowhere'");
        writer.add_styles(
            {{.layer = "points", .name = "civgrid points", .qml = "<qgis>点</qgis>", .description = "d"}});
        EXPECT_THROW(writer.add_styles({}), InternalError) << "one layer_styles table per file";
        writer.commit();
    }
    EXPECT_EQ(list_layers(file), (std::vector<std::string>{"points", "table", "layer_styles"}));
    const FeatureTable styles = read_layer({file, "layer_styles"});
    ASSERT_EQ(styles.size(), 1u);
    const auto value = [&](const char* field) {
        return styles.rows[0][static_cast<std::size_t>(styles.field_index(field))];
    };
    EXPECT_EQ(value("f_table_name"), FieldValue{std::string("points")});
    EXPECT_EQ(value("f_geometry_column"), FieldValue{std::string("geom")});
    EXPECT_EQ(value("styleName"), FieldValue{std::string("civgrid points")});
    EXPECT_EQ(value("styleQML"), FieldValue{std::string("<qgis>点</qgis>")});
    EXPECT_EQ(value("useAsDefault"), FieldValue{std::int64_t{1}});
    EXPECT_EQ(value("f_table_catalog"), FieldValue{std::string()});
    EXPECT_FALSE(std::holds_alternative<std::monostate>(value("update_time"))) << "the column's default fills it";
    // The table's schema is QGIS's own (sqlite's view of it), and GDAL's validator is happy.
    const std::string schema = run("/usr/bin/ogrinfo -so '" + file + "' layer_styles");
    for (const char* column :
         {"useAsDefault: Integer(Boolean)", "styleName: String (30.0)", "update_time: DateTime", "FID Column = id"})
        EXPECT_CONTAINS(schema, column);
    const std::string verdict =
        run("/usr/bin/python3 /usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py '" + file + "'");
    EXPECT_EQ(verdict.find("rror"), std::string::npos) << verdict;
    EXPECT_EQ(verdict.find("WARNING"), std::string::npos) << verdict;
}

// ---- atomicity ----------------------------------------------------------------------------------

TEST(GeoPackageWriterAtomicity, NothingAtPathBeforeCommit) {
    test::TempDir dir;
    const std::string file = dir.file("out.gpkg");
    GeoPackageWriter writer(file, "EPSG:4549");
    writer.add_layer(points_layer());
    EXPECT_FALSE(fs::exists(file));
    writer.commit();
    EXPECT_TRUE(fs::exists(file));
    EXPECT_EQ(files_in(dir.path()), (std::vector<std::string>{"out.gpkg"})) << "no temporary file left";
}

TEST(GeoPackageWriterAtomicity, UncommittedWriterLeavesNoFile) {
    test::TempDir dir;
    const std::string file = dir.file("out.gpkg");
    {
        GeoPackageWriter writer(file, "EPSG:4549");
        writer.add_layer(points_layer());
        EXPECT_FALSE(files_in(dir.path()).empty()) << "the temporary file exists meanwhile";
    }
    EXPECT_TRUE(files_in(dir.path()).empty());
    {
        // A failure in the middle of a layer (after the transaction started) also leaves nothing.
        GeoPackageWriter writer(file, "EPSG:4549");
        LayerData bad = points_layer();
        bad.geometries[1] = wkb_of("LINESTRING (0 0,1 1)");
        EXPECT_THROW(writer.add_layer(bad), InternalError);
    }
    EXPECT_TRUE(files_in(dir.path()).empty());
}

TEST(GeoPackageWriterAtomicity, CommitReplacesAnExistingFile) {
    test::TempDir dir;
    const std::string file = dir.file("out.gpkg");
    {
        std::ofstream old(file);
        old << "previous run";
    }
    {
        GeoPackageWriter writer(file, "EPSG:4549");
        writer.add_layer(points_layer("new_layer"));
        {
            std::ifstream still(file);
            EXPECT_EQ(std::string(std::istreambuf_iterator<char>(still), {}), "previous run");
        }
        writer.commit();
    }
    EXPECT_EQ(list_layers(file), (std::vector<std::string>{"new_layer"}));
    EXPECT_EQ(files_in(dir.path()), (std::vector<std::string>{"out.gpkg"}));
}

TEST(GeoPackageWriterAtomicity, UnwritableLocationIsIoErrorNamingThePath) {
    for (const std::string path : {"/nonexistent/civgrid-nope/x.gpkg", "/proc/civgrid-nope/x.gpkg", "/proc/x.gpkg"}) {
        const std::string message = message_of<IoError>([&] { GeoPackageWriter writer(path, "EPSG:4549"); });
        EXPECT_CONTAINS(message, "io.write: cannot create '" + path + "'");
    }
}

// ---- misuse -------------------------------------------------------------------------------------

TEST(GeoPackageWriterErrors, InconsistentLayerDataIsInternalError) {
    test::TempDir dir;
    GeoPackageWriter writer(dir.file("out.gpkg"), "EPSG:4549");
    LayerData short_row = points_layer("a");
    short_row.rows[1].clear();
    EXPECT_CONTAINS(message_of<InternalError>([&] { writer.add_layer(short_row); }), "layer 'a', row 1");
    LayerData missing_geometry = points_layer("b");
    missing_geometry.geometries.pop_back();
    EXPECT_CONTAINS(message_of<InternalError>([&] { writer.add_layer(missing_geometry); }), "1 geometries for 2 rows");
    LayerData wrong_type = points_layer("c");
    wrong_type.geometries[1] = wkb_of("LINESTRING (0 0,1 1)");
    EXPECT_CONTAINS(message_of<InternalError>([&] { writer.add_layer(wrong_type); }),
                    "row 1: geometry type Line String");
    LayerData bad_wkb = points_layer("d");
    bad_wkb.geometries[0] = Wkb{1, 2, 3};
    EXPECT_CONTAINS(message_of<InternalError>([&] { writer.add_layer(bad_wkb); }), "row 0: invalid WKB");
    LayerData text_in_integer = points_layer("e");
    text_in_integer.rows[1][0] = std::string("7");
    EXPECT_CONTAINS(message_of<InternalError>([&] { writer.add_layer(text_in_integer); }),
                    "layer 'e', row 1, field 'n': a value of the wrong type for an integer field");
    writer.add_layer(points_layer("ok"));
    writer.commit();
    EXPECT_THROW(writer.add_layer(points_layer("late")), InternalError);
    EXPECT_EQ(list_layers(dir.file("out.gpkg")), (std::vector<std::string>{"ok"}))
        << "a failed add_layer leaves no layer behind";
}

TEST(GeoPackageWriterErrors, InvalidCrsIsConfigError) {
    test::TempDir dir;
    EXPECT_CONTAINS(message_of<ConfigError>([&] { GeoPackageWriter writer(dir.file("x.gpkg"), "EPSG:0"); }), "EPSG:0");
    EXPECT_TRUE(files_in(dir.path()).empty());
}

}  // namespace
}  // namespace civgrid::io
