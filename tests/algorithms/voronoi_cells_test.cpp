// voronoi_cells gives GEOS's Voronoi cells (each site's region, compared by area of the symmetric
// difference), valid rings that neighbours share edge for edge, on random, clustered and
// lattice (cocircular) sites at projected coordinates.
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/voronoi_cells.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <utility>
#include <vector>

namespace civgrid::algorithms {
namespace {

constexpr double kEast = 500'000, kNorth = 3'300'000;  // a Gauss-Kruger zone's coordinates

std::vector<Point> uniform_sites(std::size_t count, double side, std::uint32_t seed) {
    std::mt19937 random(seed);
    std::uniform_real_distribution<double> along(0, side);
    std::vector<Point> sites;
    for (std::size_t i = 0; i < count; ++i) sites.push_back({kEast + along(random), kNorth + along(random)});
    return sites;
}

// Buildings in rows: clusters of points along short lines, some exactly collinear.
std::vector<Point> clustered_sites(std::uint32_t seed) {
    std::mt19937 random(seed);
    std::uniform_real_distribution<double> along(0, 2'000), offset(-3, 3);
    std::vector<Point> sites;
    for (int cluster = 0; cluster < 60; ++cluster) {
        const Point start{kEast + along(random), kNorth + along(random)};
        for (int k = 0; k < 25; ++k) sites.push_back({start.x + 7.5 * k, start.y + (k % 3 == 0 ? 0 : offset(random))});
    }
    return sites;
}

// A square lattice turned by a small angle: every four neighbours are (nearly) cocircular.
std::vector<Point> lattice_sites(double angle) {
    std::vector<Point> sites;
    for (int i = 0; i < 40; ++i)
        for (int j = 0; j < 40; ++j) {
            const double x = 12.0 * i, y = 12.0 * j;
            sites.push_back({kEast + x * std::cos(angle) - y * std::sin(angle),
                             kNorth + x * std::sin(angle) + y * std::cos(angle)});
        }
    return sites;
}

geos::Geom cell_polygon(const geos::Context& context, const VoronoiCells& cells, std::size_t site) {
    std::vector<Point> ring;
    for (std::uint32_t v : cells.ring(site)) ring.push_back(cells.vertices[v]);
    return geos::polygon(context, ring);
}

// Three far sites around the others, as region_cells adds them: every real site's cell is then
// bounded, and GEOS clips none of them to its diagram's box.
std::vector<Point> with_guards(std::vector<Point> sites) {
    double min_x = sites[0].x, max_x = min_x, min_y = sites[0].y, max_y = min_y;
    for (const Point& p : sites)
        min_x = std::min(min_x, p.x), max_x = std::max(max_x, p.x), min_y = std::min(min_y, p.y),
        max_y = std::max(max_y, p.y);
    const double distance = 10 * std::hypot(max_x - min_x, max_y - min_y);
    for (const double angle : {1.5708, 3.6652, 5.7596})
        sites.push_back(
            {(min_x + max_x) / 2 + distance * std::cos(angle), (min_y + max_y) / 2 + distance * std::sin(angle)});
    return sites;
}

// Checks the cell of every site but the last `guards` against GEOS's cell of the same site;
// returns how many were bounded.
std::size_t expect_cells_as_geos(const std::vector<Point>& sites, std::size_t guards = 0) {
    const geos::Context context;
    const auto handle = context.handle();
    const VoronoiCells cells = voronoi_cells(sites);
    EXPECT_EQ(cells.ring_start.size(), sites.size() + 1);
    std::vector<geos::Geom> points;
    for (const Point& p : sites) points.push_back(geos::point(context, p));
    const geos::Geom multipoint = geos::collection(context, GEOS_MULTIPOINT, std::move(points));
    const geos::Geom diagram =
        geos::own(context, GEOSVoronoiDiagram_r(handle, multipoint.get(), nullptr, 0.0, 0), "voronoi");
    // GEOS's cells in its own order, matched to the sites they contain (a GEOS cell along a row of
    // collinear sites can be a ring that contains others too: all are candidates).
    std::vector<std::vector<const GEOSGeometry*>> geos_cells(sites.size());
    const int count = GEOSGetNumGeometries_r(handle, diagram.get());
    for (int c = 0; c < count; ++c) {
        const GEOSGeometry* cell = GEOSGetGeometryN_r(handle, diagram.get(), c);
        const geos::Prepared prepared = geos::prepare(context, cell);
        const geos::Envelope box = geos::envelope(context, cell);
        for (std::size_t s = 0; s < sites.size(); ++s)
            if (box.min_x <= sites[s].x && sites[s].x <= box.max_x && box.min_y <= sites[s].y &&
                sites[s].y <= box.max_y &&
                GEOSPreparedContainsProperly_r(handle, prepared.get(), geos::point(context, sites[s]).get()) == 1)
                geos_cells[s].push_back(cell);
    }
    geos::Envelope site_box{sites[0].x, sites[0].y, sites[0].x, sites[0].y};
    for (std::size_t s = 0; s + guards < sites.size(); ++s) {
        site_box.min_x = std::min(site_box.min_x, sites[s].x), site_box.max_x = std::max(site_box.max_x, sites[s].x);
        site_box.min_y = std::min(site_box.min_y, sites[s].y), site_box.max_y = std::max(site_box.max_y, sites[s].y);
    }
    const geos::Geom box = geos::polygon(context, {{site_box.min_x, site_box.min_y},
                                                   {site_box.max_x, site_box.min_y},
                                                   {site_box.max_x, site_box.max_y},
                                                   {site_box.min_x, site_box.max_y}});
    // Directed edges of every ring: an edge inside the diagram is walked once each way.
    std::map<std::pair<std::uint32_t, std::uint32_t>, int> edges;
    std::size_t bounded = 0;
    for (std::size_t s = 0; s + guards < sites.size(); ++s) {
        const auto ring = cells.ring(s);
        if (ring.empty()) continue;
        ++bounded;
        const geos::Geom mine = cell_polygon(context, cells, s);
        EXPECT_EQ(GEOSisValid_r(handle, mine.get()), 1) << "site " << s;
        EXPECT_EQ(GEOSContains_r(handle, mine.get(), geos::point(context, sites[s]).get()), 1) << "site " << s;
        char ccw = 0;
        GEOSCoordSeq_isCCW_r(handle, GEOSGeom_getCoordSeq_r(handle, GEOSGetExteriorRing_r(handle, mine.get())), &ccw);
        EXPECT_EQ(ccw, 1) << "site " << s;
        for (std::size_t i = 0; i < ring.size(); ++i) ++edges[{ring[i], ring[(i + 1) % ring.size()]}];
        // Compared within the sites' box: beyond it GEOS's cells bend towards the frame of its
        // triangulation (not a Delaunay triangulation there), where CGAL's are exact.
        const geos::Geom mine_in_box = geos::own(context, GEOSIntersection_r(handle, mine.get(), box.get()), "clip");
        double difference_area = std::numeric_limits<double>::infinity();
        for (const GEOSGeometry* cell : geos_cells[s]) {
            const geos::Geom cell_in_box = geos::own(context, GEOSIntersection_r(handle, cell, box.get()), "clip");
            const geos::Geom difference = geos::own(
                context, GEOSSymDifference_r(handle, mine_in_box.get(), cell_in_box.get()), "symmetric difference");
            difference_area = std::min(difference_area, geos::area(context, difference.get()));
        }
        EXPECT_LT(difference_area, 1e-6 * std::max(1.0, geos::area(context, mine_in_box.get()))) << "site " << s;
    }
    for (const auto& [edge, times] : edges) {
        EXPECT_EQ(times, 1) << "edge walked twice the same way";
        const auto reverse = edges.find({edge.second, edge.first});
        // An edge without its reverse lies on the hull of the bounded cells.
        if (reverse != edges.end()) {
            EXPECT_EQ(reverse->second, 1);
        }
    }
    // The bounded cells tile their union: a coverage union of them has the area they add up to.
    std::vector<geos::Geom> polygons;
    double total = 0;
    for (std::size_t s = 0; s + guards < sites.size(); ++s)
        if (!cells.ring(s).empty()) {
            polygons.push_back(cell_polygon(context, cells, s));
            total += geos::area(context, polygons.back().get());
        }
    const geos::Geom all = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(polygons));
    const geos::Geom united = geos::own(context, GEOSCoverageUnion_r(handle, all.get()), "coverage union");
    EXPECT_NEAR(geos::area(context, united.get()), total, 1e-6 * total);
    EXPECT_EQ(GEOSisValid_r(handle, united.get()), 1);
    return bounded;
}

TEST(VoronoiCells, AreGeosCellsOnUniformSites) {
    for (std::uint32_t seed = 1; seed <= 3; ++seed) {
        const std::vector<Point> sites = uniform_sites(1'500, 3'000, seed);
        // Without guards, the cells of the sites on the hull are unbounded: empty.
        const VoronoiCells unguarded = voronoi_cells(sites);
        std::size_t unbounded = 0;
        for (std::size_t site = 0; site < sites.size(); ++site) unbounded += unguarded.ring(site).empty() ? 1 : 0;
        EXPECT_GT(unbounded, 5u);
        EXPECT_LT(unbounded, sites.size() / 10);
        EXPECT_EQ(expect_cells_as_geos(with_guards(sites), 3), sites.size());
    }
}

TEST(VoronoiCells, AreGeosCellsOnRowsOfBuildings) {
    EXPECT_GT(expect_cells_as_geos(clustered_sites(7)), 1'000u);
}

TEST(VoronoiCells, MergeTheCircumcentresOfCocircularSites) {
    for (const double angle : {0.0, 1e-9, 0.3}) {
        const std::vector<Point> sites = lattice_sites(angle);
        const VoronoiCells cells = voronoi_cells(sites);
        // Four cells meet at each lattice square's centre: one vertex, not two an ulp apart.
        std::vector<std::uint32_t> used;
        for (std::size_t s = 0; s < sites.size(); ++s) {
            const bool on_hull = s / 40 == 0 || s / 40 == 39 || s % 40 == 0 || s % 40 == 39;
            if (on_hull) continue;
            EXPECT_EQ(cells.ring(s).size(), 4u) << "site " << s << " angle " << angle;
            used.insert(used.end(), cells.ring(s).begin(), cells.ring(s).end());
        }
        std::sort(used.begin(), used.end());
        used.erase(std::unique(used.begin(), used.end()), used.end());
        EXPECT_EQ(used.size(), 39u * 39u) << "angle " << angle;
        EXPECT_EQ(expect_cells_as_geos(with_guards(sites), 3), sites.size());
    }
}

TEST(VoronoiCells, RepeatedSiteHasOneCell) {
    std::vector<Point> sites = uniform_sites(200, 500, 11);
    sites.push_back(sites[100]);
    const VoronoiCells cells = voronoi_cells(sites);
    EXPECT_TRUE(cells.ring(100).empty() != cells.ring(200).empty());
    EXPECT_TRUE(voronoi_cells(std::vector<Point>{{0, 0}, {1, 0}}).ring_vertices.empty());
}

}  // namespace
}  // namespace civgrid::algorithms
