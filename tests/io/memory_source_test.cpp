// In-memory layers (Python's GeoDataFrames) read like files: fids are row positions, CRS rules
// and error messages are the reader's, and nothing is left in /vsimem/ afterwards.
#include <civgrid/error.hpp>
#include <civgrid/io/layer.hpp>
#include <civgrid/io/memory_source.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>
#include <ogr_api.h>

#include <cmath>
#include <memory>

namespace civgrid::io {
namespace {

// WKB of a closed square ring, little endian.
Wkb square(double x, double y, double size) {
    OGRGeometryH ring = OGR_G_CreateGeometry(wkbLinearRing);
    for (const auto& [dx, dy] : {std::pair{0.0, 0.0}, {size, 0.0}, {size, size}, {0.0, size}, {0.0, 0.0}})
        OGR_G_AddPoint_2D(ring, x + dx, y + dy);
    OGRGeometryH polygon = OGR_G_CreateGeometry(wkbPolygon);
    OGR_G_AddGeometryDirectly(polygon, ring);
    Wkb wkb(static_cast<std::size_t>(OGR_G_WkbSize(polygon)));
    OGR_G_ExportToIsoWkb(polygon, wkbNDR, wkb.data());
    OGR_G_DestroyGeometry(polygon);
    return wkb;
}

LayerData buildings() {
    LayerData data{
        "buildings", GeometryKind::polygon, {{"id", FieldType::string}, {"households", FieldType::integer}}, {}, {}};
    for (int i = 0; i < 3; ++i) {
        data.geometries.push_back(square(118.78 + 0.001 * i, 32.05, 0.0002));  // lon/lat, Nanjing
        data.rows.push_back(
            {std::string("b") + std::to_string(i), i == 1 ? FieldValue{} : FieldValue{std::int64_t{10 * i}}});
    }
    return data;
}

TEST(MemorySource, ReadsLikeAFileWithRowPositionsAsFeatureIds) {
    const MemorySource source(buildings(), "EPSG:4326");
    EXPECT_CONTAINS(source.spec().path, "/vsimem/");
    const FeatureTable table = read_layer(source.spec(), {.target_crs = "EPSG:4549", .coordinate_grid = 0.001});
    ASSERT_EQ(table.size(), 3u);
    EXPECT_EQ(table.fids, (std::vector<std::int64_t>{0, 1, 2}));
    ASSERT_EQ(table.fields.size(), 2u);
    EXPECT_EQ(table.fields[1].name, "households");
    EXPECT_EQ(std::get<std::string>(table.rows[2][0]), "b2");
    EXPECT_EQ(std::get<std::int64_t>(table.rows[2][1]), 20);
    EXPECT_TRUE(std::holds_alternative<std::monostate>(table.rows[1][1]));
    // Reprojected to metres (about 480 km east in the CM 120E zone) and rounded to the millimetre.
    OGRGeometryH geometry = nullptr;
    ASSERT_EQ(OGR_G_CreateFromWkbEx(table.geometries[0].data(), nullptr, &geometry, table.geometries[0].size()),
              OGRERR_NONE);
    const std::unique_ptr<void, void (*)(void*)> owned(geometry, [](void* g) { OGR_G_DestroyGeometry(g); });
    const OGRGeometryH ring = OGR_G_GetGeometryRef(geometry, 0);
    const double x = OGR_G_GetX(ring, 1), y = OGR_G_GetY(ring, 1);
    EXPECT_NEAR(x, 386'000, 20'000);
    EXPECT_NEAR(x * 1000, std::round(x * 1000), 1e-3);
    EXPECT_NEAR(y * 1000, std::round(y * 1000), 1e-3);
}

TEST(MemorySource, WithoutCrsNeedsAnAssumedOne) {
    const MemorySource source(buildings(), "");
    const std::string message =
        test::message_of<InputError>([&] { (void)read_layer(source.spec(), {.target_crs = "EPSG:4549"}); });
    EXPECT_CONTAINS(message, "has no CRS");
    EXPECT_CONTAINS(message, source.spec().path);
    EXPECT_EQ(read_layer(source.spec(), {.target_crs = "EPSG:4549", .assume_crs = "EPSG:4326"}).size(), 3u);
}

TEST(MemorySource, InvalidWkbNamesTheRowAndLeavesNothing) {
    LayerData data = buildings();
    data.geometries[1] = {1, 3, 0, 0};
    EXPECT_CONTAINS(test::message_of<InputError>([&] { MemorySource source(data, "EPSG:4326"); }), "feature 1");
    EXPECT_CONTAINS(test::message_of<ConfigError>([&] {
                        MemorySource source(LayerData{"table", GeometryKind::none, {}, {}, {}}, "");
                    }),
                    "needs geometries");
}

TEST(MemorySource, IsRemovedWhenDestroyed) {
    LayerSpec spec;
    {
        const MemorySource source(buildings(), "EPSG:4326");
        spec = source.spec();
        EXPECT_EQ(list_layers(spec.path), std::vector<std::string>{"buildings"});
    }
    EXPECT_CONTAINS(test::message_of<IoError>([&] { (void)list_layers(spec.path); }), "cannot open");
}

}  // namespace
}  // namespace civgrid::io
