// choose_metric_crs, describe_crs and geographic_extent.
#include <civgrid/error.hpp>
#include <civgrid/io/layer.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>

namespace civgrid::io {
namespace {

using civgrid::test::contains;
using civgrid::test::message_of;

GeoExtent around(double lon, double lat) {
    return {lon - 0.2, lat - 0.1, lon + 0.2, lat + 0.1};
}

TEST(ChooseMetricCrs, ChinaUsesCgcs2000GaussKrugerWithoutZonePrefix) {
    EXPECT_EQ(choose_metric_crs(around(118.8, 32.05)), "EPSG:4549");  // Nanjing: CM 120E
    EXPECT_EQ(choose_metric_crs(around(117.2, 31.8)), "EPSG:4548");   // Hefei: CM 117E
    // Chongqing at 106.5E sits on the zone border: 106.5 / 3 = 35.5 rounds away from zero to 36 -> CM 108E.
    EXPECT_EQ(choose_metric_crs(around(106.5, 29.5)), "EPSG:4545");
    EXPECT_EQ(choose_metric_crs(around(106.1, 29.6)), "EPSG:4544");  // CM 105E
    EXPECT_EQ(choose_metric_crs(around(126.6, 45.8)), "EPSG:4551");  // Harbin: CM 126E
    EXPECT_EQ(choose_metric_crs(around(73.7, 39.5)), "EPSG:4534");   // Kashgar's far west: CM clamped to 75E
    EXPECT_EQ(choose_metric_crs(around(134.0, 46.8)), "EPSG:4554");  // Raohe, Heilongjiang: CM 135E
}

// Inside the rough lon/lat box around China but not in China: the CGCS2000 zone's area of use
// (PROJ's database) says so, and UTM is used (issue 17: Japanese data got EPSG:4554).
TEST(ChooseMetricCrs, NeighboursOfChinaUseUtm) {
    EXPECT_EQ(choose_metric_crs(around(133.5, 33.8)), "EPSG:32653");  // Kochi, Shikoku (CM 135E zone)
    EXPECT_EQ(choose_metric_crs(around(135.5, 34.7)), "EPSG:32653");  // Osaka
    EXPECT_EQ(choose_metric_crs(around(130.4, 33.6)), "EPSG:32652");  // Fukuoka
    EXPECT_EQ(choose_metric_crs(around(126.98, 37.57)), "EPSG:32652");  // Seoul
    EXPECT_EQ(choose_metric_crs(around(129.07, 35.18)), "EPSG:32652");  // Busan
    EXPECT_EQ(choose_metric_crs(around(103.85, 3.2)), "EPSG:32648");    // Kuantan, Malaysia
    EXPECT_EQ(choose_metric_crs(around(106.92, 47.92)), "EPSG:32648");  // Ulaanbaatar
    EXPECT_EQ(choose_metric_crs(around(106.7, 10.8)), "EPSG:32648");    // Ho Chi Minh City
    EXPECT_EQ(choose_metric_crs(around(77.2, 28.6)), "EPSG:32643");     // Delhi
    // China's own cities near those neighbours keep their zone.
    EXPECT_EQ(choose_metric_crs(around(129.5, 42.9)), "EPSG:4552");  // Yanji, Jilin (CM 129E)
    EXPECT_EQ(choose_metric_crs(around(121.6, 38.9)), "EPSG:4550");  // Dalian (CM 123E)
    EXPECT_EQ(choose_metric_crs(around(108.3, 22.8)), "EPSG:4545");  // Nanning (CM 108E)
}

TEST(ChooseMetricCrs, ElsewhereUsesWgs84Utm) {
    EXPECT_EQ(choose_metric_crs(around(2.35, 48.85)), "EPSG:32631");     // Paris
    EXPECT_EQ(choose_metric_crs(around(151.21, -33.87)), "EPSG:32756");  // Sydney
    EXPECT_EQ(choose_metric_crs(around(-74.0, 40.7)), "EPSG:32618");     // New York
    EXPECT_EQ(choose_metric_crs(around(139.7, 35.7)), "EPSG:32654");     // Tokyo (east of 136E)
    EXPECT_THROW(static_cast<void>(choose_metric_crs({0, 0, 500000, 3500000})), InputError) << "metres, not degrees";
}

TEST(ChooseMetricCrs, EveryChinaZoneCodeHasTheMatchingCentralMeridian) {
    // A latitude inside each zone's part of China (the middle of its area of use).
    const double latitude[] = {38.2, 36.4, 37.9, 37.7, 38.5, 37.9, 36.4, 36.4, 32.1, 32.1, 32.4,
                               30.3, 31.6, 33.5, 36.2, 38.9, 40.9, 46.7, 45.8, 45.7, 47.1};
    for (int cm = 75; cm <= 135; cm += 3) {
        const std::string code = choose_metric_crs(around(cm - 0.4, latitude[(cm - 75) / 3]));
        EXPECT_CONTAINS(describe_crs(code), "CM " + std::to_string(cm) + "E (" + code + ")");
    }
}

TEST(DescribeCrs, NamesAndCodes) {
    EXPECT_EQ(describe_crs("EPSG:4549"), "CGCS2000 / 3-degree Gauss-Kruger CM 120E (EPSG:4549)");
    EXPECT_EQ(describe_crs("EPSG:4326"), "WGS 84 (EPSG:4326)");
    EXPECT_EQ(describe_crs(""), "no CRS");
    // An ESRI .prj (as shipped with the Chongqing data) has no code: it is looked up.
    const std::string esri =
        R"(PROJCS["CGCS2000_3_Degree_GK_Zone_35",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",)"
        R"(DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],)"
        R"(UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",35500000.0],)"
        R"(PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",105.0],PARAMETER["Scale_Factor",1.0],)"
        R"(PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]])";
    EXPECT_EQ(describe_crs(esri), "CGCS2000 / 3-degree Gauss-Kruger zone 35 (EPSG:4523)");
    EXPECT_CONTAINS(describe_crs("+proj=tmerc +lon_0=120 +ellps=GRS80 +units=m +type=crs"),
                    "unnamed CRS (+proj=tmerc +lat_0=0 +lon_0=120");
    try {
        static_cast<void>(describe_crs("not a crs"));
        ADD_FAILURE() << "no exception";
    } catch (const ConfigError& error) {
        EXPECT_CONTAINS(error.what(), "io.crs: invalid CRS 'not a crs'");
    }
}

TEST(GeographicExtent, ProjectedLayerToLonLat) {
    test::TempDir dir;
    const std::string file = dir.file("p.gpkg");
    {
        GeoPackageWriter writer(file, "EPSG:4549");
        // 386666.1597 3548026.6549 is (118.8E, 32.05N); the other corner is 10 km east and north.
        LayerData points{"p", GeometryKind::point, {}, {}, {{}, {}}};
        for (const auto& [x, y] : {std::pair{386666.1597, 3548026.6549}, std::pair{396666.1597, 3558026.6549}}) {
            Wkb wkb{1, 1, 0, 0, 0};
            wkb.resize(21);
            std::memcpy(wkb.data() + 5, &x, 8);
            std::memcpy(wkb.data() + 13, &y, 8);
            points.geometries.push_back(wkb);
        }
        writer.add_layer(points);
        writer.commit();
    }
    const GeoExtent extent = geographic_extent({file, ""});
    // The grid is not aligned with meridians: the north-west corner lies a little west of 118.8E.
    EXPECT_LE(extent.min_lon, 118.8);
    EXPECT_NEAR(extent.min_lon, 118.8, 0.005);
    EXPECT_NEAR(extent.min_lat, 32.05, 0.005);
    EXPECT_NEAR(extent.max_lon, 118.8 + 10000 / (111320 * std::cos(32.1 * M_PI / 180)), 0.005);
    EXPECT_NEAR(extent.max_lat, 32.05 + 10000 / 110900.0, 0.005);
    EXPECT_EQ(choose_metric_crs(extent), "EPSG:4549");
}

TEST(GeographicExtent, LayerWithoutCrsNeedsAssumeCrs) {
    test::TempDir dir;
    const std::string file = dir.file("nocrs.csv");
    {
        std::ofstream csv(file);
        csv << "WKT,id\n\"POINT (386666.1597 3548026.6549)\",1\n";
    }
    try {
        static_cast<void>(geographic_extent({file, ""}));
        ADD_FAILURE() << "no exception";
    } catch (const InputError& error) {
        EXPECT_CONTAINS(error.what(), file);
        EXPECT_CONTAINS(error.what(), "--assume-crs");
    }
    const GeoExtent extent = geographic_extent({file, ""}, "EPSG:4549");
    EXPECT_NEAR(extent.min_lon, 118.8, 1e-6);
    EXPECT_NEAR(extent.max_lat, 32.05, 1e-6);
}

}  // namespace
}  // namespace civgrid::io
