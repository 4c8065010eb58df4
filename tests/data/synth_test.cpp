// Properties of generated synthetic cities: determinism, sizing, exact admin tiling and nesting,
// building clearances, mixtures, stations, workers, and the GeoPackage round trip.
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/data/organic.hpp>
#include <civgrid/data/parcels.hpp>
#include <civgrid/data/synth.hpp>
#include <civgrid/error.hpp>
#include <civgrid/io/layer.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace civgrid {
namespace {

const std::vector<std::string> kLayerNames = {"districts", "streets",   "communities", "roads",  "railways",
                                              "rivers",    "buildings", "stations",    "workers"};

const data::SynthCity& cached_city(std::int64_t households, std::uint64_t seed) {
    static std::map<std::pair<std::int64_t, std::uint64_t>, std::unique_ptr<data::SynthCity>> cache;
    auto& slot = cache[{households, seed}];
    if (!slot) {
        data::SynthConfig config;
        config.households = households;
        config.seed = seed;
        slot = std::make_unique<data::SynthCity>(data::generate_city(config));
    }
    return *slot;
}

const io::LayerData& layer(const data::SynthCity& city, const std::string& name) {
    for (const io::LayerData& l : city.layers)
        if (l.name == name) return l;
    throw std::runtime_error("no layer " + name);
}

int field(const io::LayerData& l, const std::string& name) {
    for (std::size_t k = 0; k < l.fields.size(); ++k)
        if (l.fields[k].name == name) return static_cast<int>(k);
    throw std::runtime_error("no field " + name + " in " + l.name);
}

const std::string& str(const io::LayerData& l, std::size_t row, const std::string& name) {
    return std::get<std::string>(l.rows[row][static_cast<std::size_t>(field(l, name))]);
}

std::int64_t integer(const io::LayerData& l, std::size_t row, const std::string& name) {
    return std::get<std::int64_t>(l.rows[row][static_cast<std::size_t>(field(l, name))]);
}

bool all_digits(const std::string& s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool valid_utf8(const std::string& s) {
    std::size_t k = 0;
    while (k < s.size()) {
        const auto c = static_cast<unsigned char>(s[k]);
        std::size_t extra = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xE ? 2 : (c >> 3) == 0x1E ? 3 : 99;
        if (extra == 99 || k + extra >= s.size()) return false;
        for (std::size_t e = 1; e <= extra; ++e)
            if ((static_cast<unsigned char>(s[k + e]) >> 6) != 0x2) return false;
        k += extra + 1;
    }
    return true;
}

/// GEOS geometries of a city's layers, parsed once.
class CityGeoms {
public:
    explicit CityGeoms(const data::SynthCity& city) : city_(city) {}
    geos::Context& ctx() { return context_; }
    const std::vector<geos::Geom>& of(const std::string& name) {
        auto& geoms = parsed_[name];
        if (geoms.empty())
            for (const Wkb& wkb : layer(city_, name).geometries) geoms.push_back(geos::from_wkb(context_, wkb));
        return geoms;
    }
    double area(const GEOSGeometry* g) { return geos::area(context_, g); }
    geos::Geom multi(const std::string& name, int type) {
        std::vector<geos::Geom> parts;
        for (const auto& g : of(name)) parts.push_back(geos::clone(context_, g.get()));
        return geos::collection(context_, type, std::move(parts));
    }

private:
    const data::SynthCity& city_;
    geos::Context context_;
    std::map<std::string, std::vector<geos::Geom>> parsed_;
};

// ------------------------------------------------------------------------------------------------
// Invariants every city must satisfy, over two sizes and several seeds.
struct CityCase {
    std::int64_t households;
    std::uint64_t seed;
};

void PrintTo(const CityCase& c, std::ostream* os) {
    *os << c.households << " households, seed " << c.seed;
}

class SynthCityTest : public ::testing::TestWithParam<CityCase> {
protected:
    const data::SynthCity& city() const { return cached_city(GetParam().households, GetParam().seed); }
};

TEST_P(SynthCityTest, LayerOrderSchemaAndCrs) {
    const data::SynthCity& c = city();
    EXPECT_EQ(c.crs, "EPSG:4549");
    ASSERT_EQ(c.layers.size(), kLayerNames.size());
    for (std::size_t k = 0; k < kLayerNames.size(); ++k) EXPECT_EQ(c.layers[k].name, kLayerNames[k]);
    const std::map<std::string, std::vector<std::pair<std::string, FieldType>>> schema = {
        {"districts", {{"district_code", FieldType::string}, {"name", FieldType::string}}},
        {"streets",
         {{"street_code", FieldType::string}, {"district_code", FieldType::string}, {"name", FieldType::string}}},
        {"communities",
         {{"community_code", FieldType::string},
          {"street_code", FieldType::string},
          {"district_code", FieldType::string},
          {"name", FieldType::string}}},
        {"roads", {{"road_id", FieldType::integer}, {"class", FieldType::string}, {"name", FieldType::string}}},
        {"railways", {{"railway_id", FieldType::integer}, {"name", FieldType::string}}},
        {"rivers", {{"river_id", FieldType::integer}, {"name", FieldType::string}}},
        {"buildings",
         {{"building_id", FieldType::integer},
          {"households", FieldType::integer},
          {"floors", FieldType::integer},
          {"units", FieldType::integer},
          {"kind", FieldType::string}}},
        {"stations",
         {{"station_id", FieldType::string},
          {"utility", FieldType::string},
          {"capacity_households", FieldType::integer}}},
        {"workers",
         {{"worker_id", FieldType::integer}, {"kind", FieldType::string}, {"max_micro_grids", FieldType::integer}}},
    };
    const std::map<std::string, io::GeometryKind> kinds = {
        {"districts", io::GeometryKind::polygon},    {"streets", io::GeometryKind::polygon},
        {"communities", io::GeometryKind::polygon},  {"roads", io::GeometryKind::line_string},
        {"railways", io::GeometryKind::line_string}, {"rivers", io::GeometryKind::polygon},
        {"buildings", io::GeometryKind::polygon},    {"stations", io::GeometryKind::point},
        {"workers", io::GeometryKind::point}};
    CityGeoms g(c);
    const std::map<io::GeometryKind, int> geos_type = {{io::GeometryKind::polygon, GEOS_POLYGON},
                                                       {io::GeometryKind::line_string, GEOS_LINESTRING},
                                                       {io::GeometryKind::point, GEOS_POINT}};
    for (const io::LayerData& l : c.layers) {
        SCOPED_TRACE(l.name);
        EXPECT_EQ(l.geometry_kind, kinds.at(l.name));
        const auto& expected = schema.at(l.name);
        ASSERT_EQ(l.fields.size(), expected.size());
        for (std::size_t k = 0; k < expected.size(); ++k) {
            EXPECT_EQ(l.fields[k].name, expected[k].first);
            EXPECT_EQ(l.fields[k].type, expected[k].second);
        }
        ASSERT_EQ(l.geometries.size(), l.rows.size());
        ASSERT_FALSE(l.rows.empty());
        for (const auto& row : l.rows) {
            ASSERT_EQ(row.size(), expected.size());
            for (std::size_t k = 0; k < row.size(); ++k)
                EXPECT_EQ(std::holds_alternative<std::string>(row[k]), expected[k].second == FieldType::string);
        }
        for (const auto& geom : g.of(l.name)) {
            ASSERT_EQ(GEOSGeomTypeId_r(g.ctx().handle(), geom.get()), geos_type.at(kinds.at(l.name)));
            ASSERT_EQ(GEOSisValid_r(g.ctx().handle(), geom.get()), 1);
        }
    }
}

TEST_P(SynthCityTest, SizingCodesAndNames) {
    const data::SynthCity& c = city();
    const auto requested = static_cast<double>(GetParam().households);
    EXPECT_NEAR(static_cast<double>(c.summary.households), requested, 0.05 * requested);
    const io::LayerData& buildings = layer(c, "buildings");
    std::int64_t households = 0;
    for (std::size_t k = 0; k < buildings.rows.size(); ++k) households += integer(buildings, k, "households");
    EXPECT_EQ(households, c.summary.households);
    EXPECT_EQ(c.summary.buildings, static_cast<std::int64_t>(buildings.rows.size()));

    const io::LayerData& districts = layer(c, "districts");
    const io::LayerData& streets = layer(c, "streets");
    const io::LayerData& communities = layer(c, "communities");
    EXPECT_EQ(c.summary.districts, static_cast<std::int64_t>(districts.rows.size()));
    EXPECT_EQ(c.summary.streets, static_cast<std::int64_t>(streets.rows.size()));
    EXPECT_EQ(c.summary.communities, static_cast<std::int64_t>(communities.rows.size()));
    EXPECT_EQ(c.summary.roads, static_cast<std::int64_t>(layer(c, "roads").rows.size()));
    EXPECT_EQ(c.summary.stations, static_cast<std::int64_t>(layer(c, "stations").rows.size()));
    EXPECT_EQ(c.summary.workers, static_cast<std::int64_t>(layer(c, "workers").rows.size()));
    EXPECT_NEAR(static_cast<double>(communities.rows.size()), requested / 2600.0, 0.3 * requested / 2600.0);
    EXPECT_GE(streets.rows.size(), 2U);
    EXPECT_GE(districts.rows.size(), 1U);
    EXPECT_LE(districts.rows.size(), 12U);

    std::set<std::string> district_codes, street_codes, community_codes, names;
    for (std::size_t k = 0; k < districts.rows.size(); ++k) {
        const std::string& code = str(districts, k, "district_code");
        EXPECT_EQ(code.size(), 6U);
        EXPECT_TRUE(all_digits(code)) << code;
        EXPECT_TRUE(district_codes.insert(code).second) << code;
        const std::string& name = str(districts, k, "name");
        EXPECT_TRUE(valid_utf8(name) && ends_with(name, "区")) << name;
        EXPECT_TRUE(names.insert(name).second) << name;
    }
    std::map<std::string, int> streets_per_district;
    for (std::size_t k = 0; k < streets.rows.size(); ++k) {
        const std::string& code = str(streets, k, "street_code");
        const std::string& parent = str(streets, k, "district_code");
        EXPECT_EQ(code.size(), 9U);
        EXPECT_TRUE(all_digits(code)) << code;
        EXPECT_EQ(code.substr(0, 6), parent);
        EXPECT_TRUE(district_codes.count(parent)) << parent;
        EXPECT_TRUE(street_codes.insert(code).second) << code;
        const std::string& name = str(streets, k, "name");
        EXPECT_TRUE(valid_utf8(name) && ends_with(name, "街道")) << name;
        EXPECT_TRUE(names.insert(name).second) << name;
        ++streets_per_district[parent];
    }
    EXPECT_EQ(streets_per_district.size(), district_codes.size());  // no district without streets
    std::map<std::string, int> communities_per_street;
    for (std::size_t k = 0; k < communities.rows.size(); ++k) {
        const std::string& code = str(communities, k, "community_code");
        const std::string& street = str(communities, k, "street_code");
        EXPECT_EQ(code.size(), 12U);
        EXPECT_TRUE(all_digits(code)) << code;
        EXPECT_EQ(code.substr(0, 9), street);
        EXPECT_EQ(code.substr(0, 6), str(communities, k, "district_code"));
        EXPECT_TRUE(street_codes.count(street)) << street;
        EXPECT_TRUE(community_codes.insert(code).second) << code;
        const std::string& name = str(communities, k, "name");
        EXPECT_TRUE(valid_utf8(name) && ends_with(name, "社区")) << name;
        EXPECT_TRUE(names.insert(name).second) << name;
        ++communities_per_street[street];
    }
    EXPECT_EQ(communities_per_street.size(), street_codes.size());  // no street without communities
    // Features come in code order.
    for (std::size_t k = 1; k < communities.rows.size(); ++k)
        EXPECT_LT(str(communities, k - 1, "community_code"), str(communities, k, "community_code"));
}

TEST_P(SynthCityTest, AdminAreasTileAndNestExactly) {
    const data::SynthCity& c = city();
    CityGeoms g(c);
    GEOSContextHandle_t h = g.ctx().handle();
    const double city_area = (c.summary.max_x - c.summary.min_x) * (c.summary.max_y - c.summary.min_y);
    ASSERT_GT(city_area, 0);
    geos::Geom rectangle = geos::polygon(g.ctx(), {{c.summary.min_x, c.summary.min_y},
                                                   {c.summary.max_x, c.summary.min_y},
                                                   {c.summary.max_x, c.summary.max_y},
                                                   {c.summary.min_x, c.summary.max_y}});
    for (const std::string level : {"districts", "streets", "communities"}) {
        SCOPED_TRACE(level);
        double sum = 0;
        for (const auto& geom : g.of(level)) sum += g.area(geom.get());
        EXPECT_NEAR(sum, city_area, 1e-6 * city_area);
        geos::Geom all = g.multi(level, GEOS_MULTIPOLYGON);
        geos::Geom united = geos::own(g.ctx(), GEOSUnaryUnion_r(h, all.get()), "union");
        EXPECT_NEAR(g.area(united.get()), city_area, 1e-6 * city_area);
        geos::Geom gap = geos::own(g.ctx(), GEOSSymDifference_r(h, united.get(), rectangle.get()), "symdiff");
        EXPECT_LT(g.area(gap.get()), 1e-6 * city_area);
    }
    // Each child inside its parent, and the children of a parent make up exactly the parent.
    auto check_nesting = [&](const std::string& child_level, const std::string& parent_level,
                             const std::string& child_key, const std::string& parent_key) {
        SCOPED_TRACE(child_level + " in " + parent_level);
        const io::LayerData& children = layer(c, child_level);
        const io::LayerData& parents = layer(c, parent_level);
        std::map<std::string, std::size_t> parent_of_code;
        for (std::size_t k = 0; k < parents.rows.size(); ++k) parent_of_code[str(parents, k, parent_key)] = k;
        std::map<std::size_t, std::vector<geos::Geom>> parts;
        for (std::size_t k = 0; k < children.rows.size(); ++k) {
            const std::size_t p = parent_of_code.at(str(children, k, parent_key));
            const GEOSGeometry* child = g.of(child_level)[k].get();
            geos::Geom outside =
                geos::own(g.ctx(), GEOSDifference_r(h, child, g.of(parent_level)[p].get()), "difference");
            EXPECT_LT(g.area(outside.get()), 1e-6 * g.area(child)) << str(children, k, child_key);
            parts[p].push_back(geos::clone(g.ctx(), child));
        }
        ASSERT_EQ(parts.size(), parents.rows.size());
        for (auto& [p, pieces] : parts) {
            geos::Geom all = geos::collection(g.ctx(), GEOS_MULTIPOLYGON, std::move(pieces));
            geos::Geom united = geos::own(g.ctx(), GEOSUnaryUnion_r(h, all.get()), "union");
            const GEOSGeometry* parent = g.of(parent_level)[p].get();
            geos::Geom diff = geos::own(g.ctx(), GEOSSymDifference_r(h, united.get(), parent), "symdiff");
            EXPECT_LT(g.area(diff.get()), 1e-6 * g.area(parent)) << str(parents, p, parent_key);
            EXPECT_NEAR(g.area(united.get()), g.area(parent), 1e-6 * g.area(parent));
        }
    };
    check_nesting("communities", "streets", "community_code", "street_code");
    check_nesting("streets", "districts", "street_code", "district_code");
    check_nesting("communities", "districts", "community_code", "district_code");
}

TEST_P(SynthCityTest, BuildingsKeepClearOfRoadsRiverRailwayAndEachOther) {
    const data::SynthCity& c = city();
    CityGeoms g(c);
    GEOSContextHandle_t h = g.ctx().handle();
    geos::Geom roads = g.multi("roads", GEOS_MULTILINESTRING);
    geos::Geom road_buffer = geos::own(g.ctx(), GEOSBuffer_r(h, roads.get(), 5.0, 8), "buffer");
    geos::Prepared road_buffer_p = geos::prepare(g.ctx(), road_buffer.get());
    geos::Prepared roads_p = geos::prepare(g.ctx(), roads.get());
    const GEOSGeometry* river = g.of("rivers").front().get();
    geos::Prepared river_p = geos::prepare(g.ctx(), river);
    const GEOSGeometry* railway = g.of("railways").front().get();
    geos::Prepared railway_p = geos::prepare(g.ctx(), railway);
    const auto& buildings = g.of("buildings");
    geos::StrTree tree(g.ctx());
    for (std::size_t k = 0; k < buildings.size(); ++k) tree.insert(buildings[k].get(), k);
    for (std::size_t k = 0; k < buildings.size(); ++k) {
        const GEOSGeometry* b = buildings[k].get();
        ASSERT_GT(g.area(b), 30.0);
        ASSERT_EQ(GEOSPreparedIntersects_r(h, road_buffer_p.get(), b), 0) << "building " << k;
        ASSERT_EQ(GEOSPreparedIntersects_r(h, river_p.get(), b), 0) << "building " << k;
        ASSERT_EQ(GEOSPreparedIntersects_r(h, railway_p.get(), b), 0) << "building " << k;
        double d = 0;
        ASSERT_EQ(GEOSPreparedDistance_r(h, roads_p.get(), b, &d), 1);
        ASSERT_GE(d, 15.0) << "building " << k << " is too close to a road";
        ASSERT_EQ(GEOSPreparedDistance_r(h, river_p.get(), b, &d), 1);
        ASSERT_GE(d, 10.0) << "building " << k << " is too close to the river";
        ASSERT_EQ(GEOSPreparedDistance_r(h, railway_p.get(), b, &d), 1);
        ASSERT_GE(d, 12.0) << "building " << k << " is too close to the railway";
        for (std::size_t other : tree.query(b)) {
            if (other <= k) continue;
            ASSERT_EQ(GEOSIntersects_r(h, b, buildings[other].get()), 0) << "buildings " << k << " and " << other;
        }
    }
}

TEST_P(SynthCityTest, EachBuildingInExactlyOneCommunity) {
    const data::SynthCity& c = city();
    CityGeoms g(c);
    GEOSContextHandle_t h = g.ctx().handle();
    const auto& communities = g.of("communities");
    geos::StrTree tree(g.ctx());
    std::vector<geos::Prepared> prepared;
    for (std::size_t k = 0; k < communities.size(); ++k) {
        tree.insert(communities[k].get(), k);
        prepared.push_back(geos::prepare(g.ctx(), communities[k].get()));
    }
    std::vector<int> per_community(communities.size(), 0);
    for (const auto& building : g.of("buildings")) {
        geos::Geom p = geos::point(g.ctx(), geos::point_on_surface(g.ctx(), building.get()));
        int containing = 0;
        for (std::size_t k : tree.query(p.get())) {
            if (GEOSPreparedContains_r(h, prepared[k].get(), p.get()) == 1) {
                ++containing;
                ++per_community[k];
            }
        }
        ASSERT_EQ(containing, 1);
    }
    // Communities hold households: none is empty of buildings.
    for (std::size_t k = 0; k < per_community.size(); ++k) EXPECT_GT(per_community[k], 0) << "community " << k;
}

TEST_P(SynthCityTest, RiverSplitsCommunitiesWithBuildingsOnBothSides) {
    const data::SynthCity& c = city();
    CityGeoms g(c);
    GEOSContextHandle_t h = g.ctx().handle();
    ASSERT_EQ(layer(c, "rivers").rows.size(), 1U);
    EXPECT_EQ(str(layer(c, "rivers"), 0, "name"), "秦淮河");
    const GEOSGeometry* river = g.of("rivers").front().get();
    // The river crosses the whole city from west to east.
    const geos::Envelope e = geos::envelope(g.ctx(), river);
    EXPECT_NEAR(e.min_x, c.summary.min_x, 1e-6);
    EXPECT_NEAR(e.max_x, c.summary.max_x, 1e-6);
    const auto& buildings = g.of("buildings");
    std::vector<geos::Geom> points;
    geos::StrTree points_tree(g.ctx());
    for (std::size_t k = 0; k < buildings.size(); ++k) {
        points.push_back(geos::point(g.ctx(), geos::point_on_surface(g.ctx(), buildings[k].get())));
        points_tree.insert(points.back().get(), k);
    }
    int crossed = 0, split_with_buildings = 0;
    for (const auto& community : g.of("communities")) {
        if (GEOSRelatePattern_r(h, community.get(), river, "T********") != 1) continue;
        ++crossed;
        geos::Geom rest = geos::own(g.ctx(), GEOSDifference_r(h, community.get(), river), "difference");
        int sides_with_buildings = 0;
        for (const auto& piece : geos::parts(g.ctx(), rest.get())) {
            geos::Prepared piece_p = geos::prepare(g.ctx(), piece.get());
            for (std::size_t k : points_tree.query(piece.get())) {
                if (GEOSPreparedContains_r(h, piece_p.get(), points[k].get()) == 1) {
                    ++sides_with_buildings;
                    break;
                }
            }
        }
        if (sides_with_buildings >= 2) ++split_with_buildings;
    }
    EXPECT_GE(crossed, 3);
    EXPECT_GE(split_with_buildings, 1);
    // The railway crosses the city too, through communities.
    ASSERT_EQ(layer(c, "railways").rows.size(), 1U);
    const GEOSGeometry* railway = g.of("railways").front().get();
    const geos::Envelope r = geos::envelope(g.ctx(), railway);
    EXPECT_NEAR(r.max_x - r.min_x, c.summary.max_x - c.summary.min_x, 1e-6);
    int railway_communities = 0;
    for (const auto& community : g.of("communities"))
        if (GEOSRelatePattern_r(h, community.get(), railway, "T********") == 1) ++railway_communities;
    EXPECT_GE(railway_communities, 3);
}

TEST_P(SynthCityTest, BuildingAttributesFollowTheirKind) {
    const data::SynthCity& c = city();
    const io::LayerData& b = layer(c, "buildings");
    std::map<std::string, int> kinds;
    for (std::size_t k = 0; k < b.rows.size(); ++k) {
        EXPECT_EQ(integer(b, k, "building_id"), static_cast<std::int64_t>(k + 1));
        const std::string& kind = str(b, k, "kind");
        const std::int64_t households = integer(b, k, "households"), floors = integer(b, k, "floors"),
                           units = integer(b, k, "units");
        ++kinds[kind];
        if (kind == "high_rise") {
            EXPECT_TRUE(households >= 100 && households <= 300 && floors >= 18 && floors <= 33 && units >= 2 &&
                        units <= 6)
                << k;
        } else if (kind == "walk_up") {
            EXPECT_TRUE(households >= 18 && households <= 36 && floors == 6 && units >= 2 && units <= 3) << k;
        } else if (kind == "village") {
            EXPECT_TRUE(households >= 1 && households <= 3 && floors >= 1 && floors <= 3 && units == 1) << k;
        } else if (kind == "non_residential") {
            EXPECT_TRUE(households == 0 && floors >= 1 && units >= 1) << k;
        } else {
            ADD_FAILURE() << "unknown kind " << kind;
        }
    }
    EXPECT_GT(kinds["high_rise"], 0);
    EXPECT_GT(kinds["village"], 0);
}

TEST_P(SynthCityTest, RoadsBoundBlocksAndSomeBlocksAreEmpty) {
    const data::SynthCity& c = city();
    CityGeoms g(c);
    GEOSContextHandle_t h = g.ctx().handle();
    const io::LayerData& roads = layer(c, "roads");
    int major = 0;
    for (std::size_t k = 0; k < roads.rows.size(); ++k) {
        EXPECT_EQ(integer(roads, k, "road_id"), static_cast<std::int64_t>(k + 1));
        const std::string& cls = str(roads, k, "class");
        EXPECT_TRUE(cls == "major" || cls == "minor") << cls;
        major += cls == "major" ? 1 : 0;
    }
    EXPECT_GE(major, 4);
    // The faces of the road network are the blocks.
    geos::Geom all = g.multi("roads", GEOS_MULTILINESTRING);
    geos::Geom noded = geos::own(g.ctx(), GEOSUnaryUnion_r(h, all.get()), "noding");
    const GEOSGeometry* input = noded.get();
    geos::Geom faces = geos::own(g.ctx(), GEOSPolygonize_r(h, &input, 1), "polygonize");
    const auto blocks = geos::parts(g.ctx(), faces.get());
    EXPECT_EQ(static_cast<std::int64_t>(blocks.size()), c.summary.blocks);
    EXPECT_EQ(c.summary.blocks, 4 * c.summary.communities);
    const auto& buildings = g.of("buildings");
    geos::StrTree tree(g.ctx());
    for (std::size_t k = 0; k < buildings.size(); ++k) tree.insert(buildings[k].get(), k);
    int empty = 0;
    for (const auto& block : blocks) {
        geos::Prepared p = geos::prepare(g.ctx(), block.get());
        bool any = false;
        for (std::size_t k : tree.query(block.get()))
            any = any || GEOSPreparedContains_r(h, p.get(), buildings[k].get()) == 1;
        empty += any ? 0 : 1;
    }
    EXPECT_GE(empty, 1);
    EXPECT_EQ(empty, c.summary.empty_blocks);
}

TEST_P(SynthCityTest, StationsCoverEveryUtility) {
    const data::SynthCity& c = city();
    CityGeoms g(c);
    GEOSContextHandle_t h = g.ctx().handle();
    const io::LayerData& s = layer(c, "stations");
    const std::map<std::string, char> prefix = {{"electricity", 'E'}, {"water", 'W'}, {"gas", 'G'}, {"telecom", 'T'}};
    std::map<std::string, std::int64_t> capacity;
    std::map<std::string, int> count;
    std::set<std::string> ids;
    geos::Prepared river = geos::prepare(g.ctx(), g.of("rivers").front().get());
    for (std::size_t k = 0; k < s.rows.size(); ++k) {
        const std::string& utility = str(s, k, "utility");
        ASSERT_TRUE(prefix.count(utility)) << utility;
        const std::string& id = str(s, k, "station_id");
        EXPECT_EQ(id.size(), 5U);
        EXPECT_EQ(id[0], prefix.at(utility));
        EXPECT_TRUE(ids.insert(id).second) << id;
        EXPECT_GT(integer(s, k, "capacity_households"), 0);
        capacity[utility] += integer(s, k, "capacity_households");
        ++count[utility];
        const Point p = geos::point_xy(g.ctx(), g.of("stations")[k].get());
        EXPECT_TRUE(p.x > c.summary.min_x && p.x < c.summary.max_x && p.y > c.summary.min_y && p.y < c.summary.max_y);
        EXPECT_EQ(GEOSPreparedIntersects_r(h, river.get(), g.of("stations")[k].get()), 0) << id;
    }
    ASSERT_EQ(capacity.size(), 4U);
    const auto households = static_cast<double>(c.summary.households);
    for (const auto& [utility, total] : capacity) {
        EXPECT_GE(total, c.summary.households) << utility;
        EXPECT_NEAR(static_cast<double>(total), 1.3 * households, 0.02 * households) << utility;
        EXPECT_GE(count[utility], 2) << utility;
        EXPECT_NEAR(count[utility], std::max(2.0, households / 7000.0), 1.0) << utility;
    }
}

TEST_P(SynthCityTest, WorkersLiveInResidentialBuildings) {
    const data::SynthCity& c = city();
    CityGeoms g(c);
    GEOSContextHandle_t h = g.ctx().handle();
    const io::LayerData& w = layer(c, "workers");
    const auto households = static_cast<double>(c.summary.households);
    std::map<std::string, int> kinds;
    for (std::size_t k = 0; k < w.rows.size(); ++k) {
        EXPECT_EQ(integer(w, k, "worker_id"), static_cast<std::int64_t>(k + 1));
        const std::string& kind = str(w, k, "kind");
        const std::int64_t grids = integer(w, k, "max_micro_grids");
        ++kinds[kind];
        if (kind == "mobile") {
            EXPECT_EQ(grids, 1);
        } else {
            EXPECT_TRUE(kind == "resident" || kind == "party_member") << kind;
            EXPECT_TRUE(grids >= 1 && grids <= 3) << grids;
        }
    }
    EXPECT_EQ(kinds.size(), 3U);
    const double settled = households / 83.0 * 1.12, mobile = households * 6000.0 / 3'400'000.0;
    EXPECT_NEAR(kinds["resident"] + kinds["party_member"], settled, 0.01 * settled + 1);
    EXPECT_NEAR(kinds["mobile"], mobile, 0.01 * mobile + 1);
    // Homes lie inside buildings with households.
    const io::LayerData& b = layer(c, "buildings");
    const auto& buildings = g.of("buildings");
    geos::StrTree tree(g.ctx());
    for (std::size_t k = 0; k < buildings.size(); ++k) tree.insert(buildings[k].get(), k);
    for (const auto& home : g.of("workers")) {
        bool inside = false;
        for (std::size_t k : tree.query(home.get()))
            inside =
                inside || (integer(b, k, "households") > 0 && GEOSContains_r(h, buildings[k].get(), home.get()) == 1);
        ASSERT_TRUE(inside);
    }
}

INSTANTIATE_TEST_SUITE_P(synth, SynthCityTest,
                         ::testing::Values(CityCase{30'000, 1}, CityCase{30'000, 2}, CityCase{30'000, 3},
                                           CityCase{30'000, 5}, CityCase{120'000, 1}, CityCase{120'000, 7}),
                         [](const ::testing::TestParamInfo<CityCase>& param_info) {
                             return "households_" + std::to_string(param_info.param.households) + "_seed_" +
                                    std::to_string(param_info.param.seed);
                         });

// ------------------------------------------------------------------------------------------------

bool same_layers(const data::SynthCity& a, const data::SynthCity& b) {
    if (a.crs != b.crs || a.layers.size() != b.layers.size()) return false;
    for (std::size_t k = 0; k < a.layers.size(); ++k) {
        const io::LayerData& x = a.layers[k];
        const io::LayerData& y = b.layers[k];
        if (x.name != y.name || x.geometry_kind != y.geometry_kind || x.fields.size() != y.fields.size()) return false;
        for (std::size_t f = 0; f < x.fields.size(); ++f)
            if (x.fields[f].name != y.fields[f].name || x.fields[f].type != y.fields[f].type) return false;
        if (x.geometries != y.geometries || x.rows != y.rows) return false;
    }
    return true;
}

TEST(synth, SameConfigGivesIdenticalLayers) {
    data::SynthConfig config;
    config.households = 30'000;
    config.seed = 42;
    const data::SynthCity first = data::generate_city(config);
    const data::SynthCity second = data::generate_city(config);
    EXPECT_TRUE(same_layers(first, second));
    EXPECT_EQ(first.summary.households, second.summary.households);
    EXPECT_EQ(first.summary.buildings, second.summary.buildings);

    config.seed = 43;
    const data::SynthCity other = data::generate_city(config);
    EXPECT_FALSE(same_layers(first, other));
    EXPECT_NE(layer(first, "buildings").geometries, layer(other, "buildings").geometries);
    EXPECT_NE(layer(first, "communities").geometries, layer(other, "communities").geometries);
    EXPECT_NE(layer(first, "rivers").geometries, layer(other, "rivers").geometries);
}

TEST(synth, OriginAndCrsAreHonoured) {
    data::SynthConfig config;
    config.households = 5'000;
    config.origin_x = 1000.0;
    config.origin_y = 2000.0;
    config.crs = "EPSG:32650";
    const data::SynthCity c = data::generate_city(config);
    EXPECT_EQ(c.crs, "EPSG:32650");
    EXPECT_DOUBLE_EQ(c.summary.min_x, 1000.0);
    EXPECT_DOUBLE_EQ(c.summary.min_y, 2000.0);
    EXPECT_NEAR(static_cast<double>(c.summary.households), 5000.0, 250.0);
    EXPECT_EQ(c.summary.districts, 1);
}

TEST(synth, RejectsTooFewHouseholds) {
    data::SynthConfig config;
    config.households = 999;
    try {
        (void)data::generate_city(config);
        FAIL() << "expected a ConfigError";
    } catch (const ConfigError& error) {
        EXPECT_EQ(error.stage(), "data.synth");
    }
    config.households = 1'000;
    EXPECT_NO_THROW((void)data::generate_city(config));
}

// A province for distributed runs (issue 21): the districts asked for, past Nanjing's twelve, each
// with its streets and communities nested by code and tiling it.
TEST(synth, ProvinceHasTheDistrictsAskedForNestedAndTiling) {
    data::SynthConfig config;
    config.households = 400'000;
    config.districts = 20;
    const data::SynthCity province = data::generate_city(config);
    const io::LayerData& districts = layer(province, "districts");
    ASSERT_EQ(districts.rows.size(), 20U);
    EXPECT_EQ(province.summary.districts, 20);
    std::set<std::string> codes;
    for (std::size_t k = 0; k < districts.rows.size(); ++k) {
        const std::string& code = str(districts, k, "district_code");
        EXPECT_EQ(code.size(), 6U);
        EXPECT_TRUE(all_digits(code)) << code;
        EXPECT_TRUE(codes.insert(code).second) << code;
        EXPECT_TRUE(ends_with(str(districts, k, "name"), "区"));
    }
    EXPECT_TRUE(codes.count("320202")) << "the thirteenth district is the next city's first";
    std::set<std::string> with_streets, with_communities;
    const io::LayerData& streets = layer(province, "streets");
    for (std::size_t k = 0; k < streets.rows.size(); ++k) with_streets.insert(str(streets, k, "district_code"));
    const io::LayerData& communities = layer(province, "communities");
    for (std::size_t k = 0; k < communities.rows.size(); ++k) {
        EXPECT_EQ(str(communities, k, "community_code").substr(0, 6), str(communities, k, "district_code"));
        with_communities.insert(str(communities, k, "district_code"));
    }
    EXPECT_EQ(with_streets, codes);
    EXPECT_EQ(with_communities, codes);
    CityGeoms geoms(province);
    double district_area = 0, community_area = 0;
    for (const auto& g : geoms.of("districts")) district_area += geoms.area(g.get());
    for (const auto& g : geoms.of("communities")) community_area += geoms.area(g.get());
    EXPECT_NEAR(district_area, community_area, 1e-6 * district_area);
    config.districts = 1001;
    EXPECT_THROW((void)data::generate_city(config), ConfigError);
}

TEST(synth, MediumCityHasTheFullMixture) {
    const data::SynthCity& c = cached_city(120'000, 1);
    const io::LayerData& b = layer(c, "buildings");
    std::map<std::string, std::int64_t> kinds;
    std::int64_t towers = 0;
    for (std::size_t k = 0; k < b.rows.size(); ++k) {
        ++kinds[str(b, k, "kind")];
        towers += integer(b, k, "households") > 100 ? 1 : 0;
    }
    for (const char* kind : {"high_rise", "walk_up", "village", "non_residential"}) EXPECT_GT(kinds[kind], 0) << kind;
    const double share = static_cast<double>(towers) / static_cast<double>(b.rows.size());
    EXPECT_GT(share, 0.005);
    EXPECT_LT(share, 0.04);
    EXPECT_GE(c.summary.empty_blocks, 1);
    EXPECT_EQ(c.summary.districts, 2);
    EXPECT_GE(c.summary.streets, 4);
}

TEST(synth, WritesAGeoPackage) {
    const data::SynthCity& c = cached_city(30'000, 1);
    test::TempDir dir;
    const std::string path = dir.file("city.gpkg");
    data::write_city(c, path);
    ASSERT_TRUE(std::filesystem::exists(path));
    EXPECT_EQ(io::list_layers(path), kLayerNames);
    const io::FeatureTable buildings = io::read_layer({path, "buildings"});
    EXPECT_EQ(buildings.size(), layer(c, "buildings").rows.size());
    const io::FeatureTable communities = io::read_layer({path, "communities"});
    ASSERT_EQ(communities.size(), layer(c, "communities").rows.size());
    const int code = communities.field_index("community_code");
    ASSERT_GE(code, 0);
    EXPECT_EQ(std::get<std::string>(communities.rows[0][static_cast<std::size_t>(code)]),
              str(layer(c, "communities"), 0, "community_code"));
    // ogrinfo reads it without a warning.
    const std::string command = "ogrinfo -so '" + path + "' buildings 2>&1";
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) GTEST_SKIP() << "cannot run ogrinfo";
    std::string output;
    std::array<char, 4096> buffer{};
    while (std::fgets(buffer.data(), static_cast<int>(buffer.size()), pipe) != nullptr) output += buffer.data();
    const int status = ::pclose(pipe);
    if (status != 0 && output.find("not found") != std::string::npos) GTEST_SKIP() << "ogrinfo is not installed";
    EXPECT_EQ(status, 0) << output;
    EXPECT_EQ(output.find("Warning"), std::string::npos) << output;
    EXPECT_EQ(output.find("ERROR"), std::string::npos) << output;
    EXPECT_NE(output.find("Feature Count: " + std::to_string(buildings.size())), std::string::npos) << output;
}

// Every layer of a generated city, of a city in the organic style and of parcels (a few of
// thousands of vertices, some bow-ties), read straight from the GeoPackage (io::ReadOptions::
// direct_geopackage) and through GDAL's features: the same table to the byte.
TEST(synth, EveryLayerReadsTheSameStraightFromTheGeoPackageAsThroughGdal) {
    test::TempDir dir;
    data::OrganicConfig organic;
    organic.households = 20'000;
    data::ParcelConfig parcels;
    parcels.parcels = 2'000;
    const std::vector<std::pair<std::string, data::SynthCity>> cities = {
        {"synth", cached_city(30'000, 1)},
        {"organic", data::generate_organic_city(organic)},
        {"parcels", data::generate_parcels(parcels)}};
    for (const auto& [name, city] : cities) {
        const std::string path = dir.file(name + ".gpkg");
        data::write_city(city, path);
        for (const std::string& layer_name : io::list_layers(path)) {
            SCOPED_TRACE(name + ": " + layer_name);
            const io::FeatureTable direct = io::read_layer({path, layer_name}, {.coordinate_grid = 0.001});
            const io::FeatureTable through_gdal =
                io::read_layer({path, layer_name}, {.coordinate_grid = 0.001, .direct_geopackage = false});
            ASSERT_GT(direct.size(), 0u);
            ASSERT_EQ(direct.fields.size(), through_gdal.fields.size());
            for (std::size_t j = 0; j < direct.fields.size(); ++j) {
                EXPECT_EQ(direct.fields[j].name, through_gdal.fields[j].name);
                EXPECT_EQ(direct.fields[j].type, through_gdal.fields[j].type);
            }
            EXPECT_EQ(direct.fids, through_gdal.fids);
            EXPECT_TRUE(direct.geometries == through_gdal.geometries);
            EXPECT_TRUE(direct.rows == through_gdal.rows);
            EXPECT_EQ(direct.report.facts, through_gdal.report.facts);
            EXPECT_EQ(direct.report.findings.size(), through_gdal.report.findings.size());
        }
    }
}

// A large plain table (33,000 buildings) is read in two rowid ranges at once: the rows come in
// the same order, snapped alike, as one range and as GDAL gives them.
TEST(synth, ALargeTableReadInTwoRangesIsReadAsInOne) {
    test::TempDir dir;
    const std::string path = dir.file("city.gpkg");
    data::write_city(cached_city(300'000, 1), path);
    const io::FeatureTable two_ranges = io::read_layer({path, "buildings"}, {.coordinate_grid = 0.001});
    const io::FeatureTable one_range = io::read_layer({path, "buildings"}, {.coordinate_grid = 0.001, .threads = 1});
    const io::FeatureTable through_gdal =
        io::read_layer({path, "buildings"}, {.coordinate_grid = 0.001, .direct_geopackage = false});
    ASSERT_GT(two_ranges.size(), 20'000u);
    for (const io::FeatureTable* other : {&one_range, &through_gdal}) {
        EXPECT_EQ(two_ranges.fids, other->fids);
        EXPECT_TRUE(two_ranges.geometries == other->geometries);
        EXPECT_TRUE(two_ranges.rows == other->rows);
    }
}

// Full scale, run by hand: --gtest_also_run_disabled_tests --gtest_filter='*FullScale*'
TEST(synth, DISABLED_FullScale) {
    for (const std::int64_t households : {std::int64_t{30'000}, std::int64_t{3'400'000}}) {
        data::SynthConfig config;
        config.households = households;
        const auto start = std::chrono::steady_clock::now();
        const data::SynthCity c = data::generate_city(config);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const data::SynthSummary& s = c.summary;
        std::int64_t towers = 0;
        for (const auto& row : layer(c, "buildings").rows) towers += std::get<std::int64_t>(row[1]) > 100 ? 1 : 0;
        std::printf(
            "households=%lld: %.3f s; buildings %lld (>100 households: %lld), households %lld, communities %lld, "
            "streets %lld, districts %lld, roads %lld, workers %lld, stations %lld, blocks %lld (empty %lld), "
            "extent %.0f x %.0f m\n",
            static_cast<long long>(households), seconds, static_cast<long long>(s.buildings),
            static_cast<long long>(towers), static_cast<long long>(s.households), static_cast<long long>(s.communities),
            static_cast<long long>(s.streets), static_cast<long long>(s.districts), static_cast<long long>(s.roads),
            static_cast<long long>(s.workers), static_cast<long long>(s.stations), static_cast<long long>(s.blocks),
            static_cast<long long>(s.empty_blocks), s.max_x - s.min_x, s.max_y - s.min_y);
        EXPECT_NEAR(static_cast<double>(s.households), static_cast<double>(households),
                    0.05 * static_cast<double>(households));
        test::TempDir dir;
        const auto write_start = std::chrono::steady_clock::now();
        data::write_city(c, dir.file("city.gpkg"));
        std::printf("  write_city: %.3f s, %.1f MB\n",
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - write_start).count(),
                    static_cast<double>(std::filesystem::file_size(dir.file("city.gpkg"))) / 1e6);
    }
}

}  // namespace
}  // namespace civgrid
