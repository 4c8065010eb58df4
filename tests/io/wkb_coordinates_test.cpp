// The one walk over WKB coordinates (io/src/wkb_coordinates.hpp) that the reader's grid snapping
// and the GeoPackage writer's envelopes share, against OGR's own reading of the same WKB.
#include "wkb_coordinates.hpp"

#include <gtest/gtest.h>

#include <ogr_api.h>

#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace civgrid::io::detail {
namespace {

std::vector<unsigned char> iso_wkb(const std::string& wkt, OGRwkbByteOrder order = wkbNDR) {
    OGRGeometryH geometry = nullptr;
    char* text = const_cast<char*>(wkt.c_str());
    EXPECT_EQ(OGR_G_CreateFromWkt(&text, nullptr, &geometry), OGRERR_NONE) << wkt;
    std::vector<unsigned char> wkb(static_cast<std::size_t>(OGR_G_WkbSize(geometry)));
    EXPECT_EQ(OGR_G_ExportToIsoWkb(geometry, order, wkb.data()), OGRERR_NONE);
    OGR_G_DestroyGeometry(geometry);
    return wkb;
}

// Every (x, y) of a geometry as OGR reads it, in order, through parts and rings.
void ogr_points(OGRGeometryH geometry, std::vector<std::pair<double, double>>& out) {
    if (const int parts = OGR_G_GetGeometryCount(geometry); parts > 0) {
        for (int i = 0; i < parts; ++i) ogr_points(OGR_G_GetGeometryRef(geometry, i), out);
        return;
    }
    for (int i = 0; i < OGR_G_GetPointCount(geometry); ++i)
        out.emplace_back(OGR_G_GetX(geometry, i), OGR_G_GetY(geometry, i));
}

struct Walked {
    bool ok = false;
    std::uint32_t type = 0;
    std::vector<std::pair<double, double>> points;
    std::size_t lone_points = 0;
};

Walked walk(const std::vector<unsigned char>& wkb, const WkbWalkRules& rules) {
    Walked walked;
    walked.ok =
        walk_wkb_coordinates(wkb.data(), wkb.size(), rules, walked.type, [&](const unsigned char* xy, bool lone_point) {
            double x = 0, y = 0;
            std::memcpy(&x, xy, sizeof x);
            std::memcpy(&y, xy + sizeof x, sizeof y);
            walked.points.emplace_back(x, y);
            walked.lone_points += lone_point ? 1 : 0;
        });
    return walked;
}

constexpr WkbWalkRules kPlain{
    .any_dimension = false, .curves_and_surfaces = false, .parts_of_their_type = true, .max_depth = 2};

TEST(WkbCoordinates, VisitsOgrsPointsInOrderForEveryKind) {
    for (const std::string wkt :
         {"POINT (1 2)", "LINESTRING (0 0,1 1,2 0)", "POLYGON ((0 0,4 0,4 4,0 4,0 0),(1 1,2 1,2 2,1 1))",
          "MULTIPOINT ((1 1),(2 3))", "MULTILINESTRING ((0 0,1 1),(5 5,6 6,7 5))",
          "MULTIPOLYGON (((0 0,1 0,1 1,0 0)),((5 5,6 5,6 6,5 5)))",
          "GEOMETRYCOLLECTION (POINT (9 9),MULTIPOLYGON (((0 0,1 0,1 1,0 0))))",
          "POLYGON Z ((0 0 7,4 0 7,4 4 7,0 0 7))", "LINESTRING M (0 0 1,1 1 2)", "MULTIPOINT ZM ((1 2 3 4),(5 6 7 8))",
          "CIRCULARSTRING (0 0,1 1,2 0)", "CURVEPOLYGON (COMPOUNDCURVE (CIRCULARSTRING (0 0,1 1,2 0),(2 0,0 0)))",
          "TRIANGLE ((0 0,1 0,0 1,0 0))", "TIN (((0 0,1 0,0 1,0 0)),((1 0,1 1,0 1,1 0)))"}) {
        const std::vector<unsigned char> wkb = iso_wkb(wkt);
        OGRGeometryH geometry = nullptr;
        ASSERT_EQ(OGR_G_CreateFromWkb(wkb.data(), nullptr, &geometry, static_cast<int>(wkb.size())), OGRERR_NONE);
        std::vector<std::pair<double, double>> expected;
        ogr_points(geometry, expected);
        const Walked walked = walk(wkb, WkbWalkRules{});
        EXPECT_TRUE(walked.ok) << wkt;
        EXPECT_EQ(walked.points, expected) << wkt;
        EXPECT_EQ(walked.type, static_cast<std::uint32_t>(wkbFlatten(OGR_G_GetGeometryType(geometry))) +
                                   (OGR_G_Is3D(geometry) ? 1000u : 0u) + (OGR_G_IsMeasured(geometry) ? 2000u : 0u))
            << wkt;
        EXPECT_EQ(walked.lone_points, wkt.starts_with("POINT")                ? 1u
                                      : wkt.starts_with("MULTIPOINT")         ? 2u
                                      : wkt.starts_with("GEOMETRYCOLLECTION") ? 1u
                                                                              : 0u)
            << wkt;
        OGR_G_DestroyGeometry(geometry);
    }
}

TEST(WkbCoordinates, PlainRulesTakeLinear2DOnlyAndTheReaderTakesMore) {
    // The writer's rules: 2D Point ... GeometryCollection, parts of a multi of its type, two deep.
    EXPECT_TRUE(walk(iso_wkb("MULTIPOLYGON (((0 0,1 0,1 1,0 0)))"), kPlain).ok);
    EXPECT_TRUE(walk(iso_wkb("GEOMETRYCOLLECTION (MULTIPOINT ((1 1)))"), kPlain).ok);
    for (const char* wkt :
         {"POLYGON Z ((0 0 1,1 0 1,1 1 1,0 0 1))", "LINESTRING M (0 0 1,1 1 2)", "CIRCULARSTRING (0 0,1 1,2 0)",
          "TRIANGLE ((0 0,1 0,0 1,0 0))", "GEOMETRYCOLLECTION (GEOMETRYCOLLECTION (MULTIPOINT ((1 1))))"}) {
        EXPECT_FALSE(walk(iso_wkb(wkt), kPlain).ok) << wkt;
        EXPECT_TRUE(walk(iso_wkb(wkt), WkbWalkRules{}).ok) << wkt;
    }
    // A multipolygon holding a point (not what OGR writes, but bytes can say it).
    std::vector<unsigned char> mixed = iso_wkb("MULTIPOINT ((1 1))");
    mixed[1] = 6;  // the type's low byte: multipolygon
    EXPECT_FALSE(walk(mixed, kPlain).ok);
    EXPECT_TRUE(walk(mixed, WkbWalkRules{}).ok);
}

TEST(WkbCoordinates, RefusesBigEndianTruncatedAndTrailingBytes) {
    for (const WkbWalkRules& rules : {kPlain, WkbWalkRules{}}) {
        EXPECT_FALSE(walk(iso_wkb("POLYGON ((0 0,1 0,1 1,0 0))", wkbXDR), rules).ok);
        std::vector<unsigned char> wkb = iso_wkb("POLYGON ((0 0,1 0,1 1,0 0))");
        wkb.push_back(0);
        EXPECT_FALSE(walk(wkb, rules).ok);
        wkb.resize(wkb.size() - 2);
        EXPECT_FALSE(walk(wkb, rules).ok);
        EXPECT_FALSE(walk({}, rules).ok);
        EXPECT_FALSE(walk({1, 3, 0, 0}, rules).ok);
        std::vector<unsigned char> unknown = iso_wkb("POINT (1 2)");
        unknown[1] = 13;
        EXPECT_FALSE(walk(unknown, rules).ok);
    }
}

TEST(WkbCoordinates, AVisitorMayRewriteTheCoordinates) {
    std::vector<unsigned char> wkb = iso_wkb("POLYGON Z ((0.4 0.6 9.7,4.2 0 9.7,4 4.5 9.7,0.4 0.6 9.7))");
    std::uint32_t type = 0;
    ASSERT_TRUE(walk_wkb_coordinates(wkb.data(), wkb.size(), WkbWalkRules{}, type, [](unsigned char* xy, bool) {
        for (int c = 0; c < 2; ++c) {
            double v = 0;
            std::memcpy(&v, xy + 8 * c, 8);
            v = std::round(v);
            std::memcpy(xy + 8 * c, &v, 8);
        }
    }));
    EXPECT_EQ(wkb, iso_wkb("POLYGON Z ((0 1 9.7,4 0 9.7,4 5 9.7,0 1 9.7))"));  // z left as it was
}

}  // namespace
}  // namespace civgrid::io::detail
