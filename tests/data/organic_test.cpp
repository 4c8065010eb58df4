// The organic test city (issue 16): admin levels that tile and nest, the traits it promises
// (small communities, towers, parks, villages, a river cutting communities), and determinism.
#include <civgrid/algorithms/geometry_repair.hpp>
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/data/organic.hpp>
#include <civgrid/error.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <string>

namespace civgrid::data {
namespace {

const io::LayerData& layer(const SynthCity& city, const std::string& name) {
    for (const io::LayerData& l : city.layers)
        if (l.name == name) return l;
    throw std::runtime_error("no layer " + name);
}

TEST(Organic, AdminLevelsTileAndNest) {
    OrganicConfig config;
    config.households = 60'000;
    const SynthCity city = generate_organic_city(config);
    const double rectangle = (city.summary.max_x - city.summary.min_x) * (city.summary.max_y - city.summary.min_y);
    std::map<std::string, double> street_area, street_communities_area;
    for (const char* name : {"districts", "streets", "communities"}) {
        const io::LayerData& level = layer(city, name);
        const std::vector<double> areas = algorithms::polygon_areas(level.geometries, 1);
        EXPECT_NEAR(std::accumulate(areas.begin(), areas.end(), 0.0), rectangle, 1e-6 * rectangle) << name;
        EXPECT_TRUE(algorithms::overlapping_pairs(level.geometries, 0.01, 2).empty()) << name;
        for (std::size_t i = 0; i < level.rows.size(); ++i) {
            if (std::string(name) == "streets") street_area[std::get<std::string>(level.rows[i][0])] += areas[i];
            if (std::string(name) == "communities")
                street_communities_area[std::get<std::string>(level.rows[i][1])] += areas[i];
        }
    }
    // Every street is exactly its communities (codes nest: the street code prefixes the community's).
    ASSERT_EQ(street_area.size(), street_communities_area.size());
    for (const auto& [street, area] : street_area) EXPECT_NEAR(street_communities_area[street], area, 1e-6 * area);
    for (const auto& row : layer(city, "communities").rows)
        EXPECT_EQ(std::get<std::string>(row[0]).substr(0, 9), std::get<std::string>(row[1]));
}

TEST(Organic, HasTheTraitsItPromises) {
    OrganicConfig config;
    config.households = 100'000;
    const SynthCity city = generate_organic_city(config);
    EXPECT_NEAR(static_cast<double>(city.summary.households), 100'000, 15'000);

    // Buildings: towers of 20-300 households about 2 %, villages, walk-ups; parks left empty.
    std::map<std::string, std::int64_t> kinds;
    std::int64_t most = 0;
    const io::LayerData& buildings = layer(city, "buildings");
    for (const auto& row : buildings.rows) {
        ++kinds[std::get<std::string>(row[4])];
        most = std::max(most, std::get<std::int64_t>(row[1]));
    }
    const auto share = [&](const char* kind) {
        return static_cast<double>(kinds[kind]) / static_cast<double>(buildings.rows.size());
    };
    EXPECT_GT(share("tower"), 0.01);
    EXPECT_LT(share("tower"), 0.03);
    EXPECT_GT(share("village"), 0.05);
    EXPECT_GT(most, 150);
    EXPECT_GT(city.summary.empty_blocks, city.summary.blocks / 40);

    // Communities: most hold 1,500-2,600 households (whole blocks: some cannot).
    geos::Context context;
    const io::LayerData& communities = layer(city, "communities");
    std::vector<geos::Geom> shapes;
    for (const Wkb& g : communities.geometries) shapes.push_back(geos::from_wkb(context, g));
    std::vector<std::int64_t> households(communities.rows.size(), 0);
    for (std::size_t b = 0; b < buildings.rows.size(); ++b) {
        const geos::Geom footprint = geos::from_wkb(context, buildings.geometries[b]);
        for (std::size_t k = 0; k < shapes.size(); ++k)
            if (GEOSContains_r(context.handle(), shapes[k].get(), footprint.get()) == 1) {
                households[k] += std::get<std::int64_t>(buildings.rows[b][1]);
                break;
            }
    }
    EXPECT_EQ(std::accumulate(households.begin(), households.end(), std::int64_t{0}), city.summary.households)
        << "every building lies inside one community";
    const auto small_enough =
        std::count_if(households.begin(), households.end(), [](std::int64_t h) { return h >= 1'000 && h <= 2'600; });
    EXPECT_GT(static_cast<double>(small_enough), 0.8 * static_cast<double>(households.size()));

    // The river crosses the city, cuts several communities and no building.
    const io::LayerData& rivers = layer(city, "rivers");
    ASSERT_EQ(rivers.geometries.size(), 1u);
    const geos::Geom river = geos::from_wkb(context, rivers.geometries[0]);
    int cut = 0;
    for (const geos::Geom& shape : shapes) {
        if (GEOSIntersects_r(context.handle(), shape.get(), river.get()) != 1) continue;
        const geos::Geom rest = geos::own(context, GEOSDifference_r(context.handle(), shape.get(), river.get()), "");
        cut += GEOSGetNumGeometries_r(context.handle(), rest.get()) > 1 ? 1 : 0;
    }
    EXPECT_GE(cut, 3);
    for (const Wkb& footprint : buildings.geometries) {
        const geos::Geom g = geos::from_wkb(context, footprint);
        ASSERT_NE(GEOSIntersects_r(context.handle(), g.get(), river.get()), 1);
    }
    // Major roads every few lines, minor ones between.
    std::int64_t major = 0;
    for (const auto& row : layer(city, "roads").rows) major += std::get<std::string>(row[1]) == "major" ? 1 : 0;
    EXPECT_GT(major, 4);
    EXPECT_LT(major, city.summary.roads / 2);
}

TEST(Organic, SameSeedSameCityAndBadSizesRefused) {
    OrganicConfig config;
    config.households = 20'000;
    const SynthCity first = generate_organic_city(config), second = generate_organic_city(config);
    ASSERT_EQ(first.layers.size(), second.layers.size());
    for (std::size_t i = 0; i < first.layers.size(); ++i) {
        EXPECT_EQ(first.layers[i].geometries, second.layers[i].geometries);
        EXPECT_EQ(first.layers[i].rows, second.layers[i].rows);
    }
    config.seed = 2;
    EXPECT_NE(generate_organic_city(config).layers.back().geometries, first.layers.back().geometries);
    config.households = 100;
    EXPECT_CONTAINS(test::message_of<ConfigError>([&] { (void)generate_organic_city(config); }), "5000 to 20000000");
}

}  // namespace
}  // namespace civgrid::data
