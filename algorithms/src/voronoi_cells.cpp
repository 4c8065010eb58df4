#include <civgrid/algorithms/voronoi_cells.hpp>

#include <CGAL/Delaunay_triangulation_2.h>
#include <CGAL/Exact_predicates_inexact_constructions_kernel.h>
#include <CGAL/Triangulation_face_base_with_info_2.h>
#include <CGAL/Triangulation_vertex_base_with_info_2.h>

#include <cmath>
#include <numeric>
#include <tuple>
#include <utility>

namespace civgrid::algorithms {
namespace {

using Kernel = CGAL::Exact_predicates_inexact_constructions_kernel;
using VertexBase = CGAL::Triangulation_vertex_base_with_info_2<std::uint32_t, Kernel>;  // the site
using FaceBase = CGAL::Triangulation_face_base_with_info_2<std::uint32_t, Kernel>;      // its circumcentre
using Triangulation =
    CGAL::Delaunay_triangulation_2<Kernel, CGAL::Triangulation_data_structure_2<VertexBase, FaceBase>>;

// The circumcentre of a triangle, computed relative to its first corner in extended precision:
// at a northing of 3,300 km a double keeps 0.5 nm, and a slim triangle's centre amplifies the
// rounding of the corners' differences.
Point circumcentre(const Kernel::Point_2& a, const Kernel::Point_2& b, const Kernel::Point_2& c) {
    const long double bx = static_cast<long double>(b.x()) - a.x(), by = static_cast<long double>(b.y()) - a.y();
    const long double cx = static_cast<long double>(c.x()) - a.x(), cy = static_cast<long double>(c.y()) - a.y();
    const long double d = 2 * (bx * cy - by * cx);
    const long double b2 = bx * bx + by * by, c2 = cx * cx + cy * cy;
    const long double ux = (cy * b2 - by * c2) / d, uy = (bx * c2 - cx * b2) / d;
    return {static_cast<double>(a.x() + ux), static_cast<double>(a.y() + uy)};
}

}  // namespace

VoronoiCells voronoi_cells(std::span<const Point> sites) {
    VoronoiCells cells;
    cells.ring_start.assign(sites.size() + 1, 0);
    if (sites.size() < 3) return cells;  // no bounded cell
    std::vector<std::pair<Kernel::Point_2, std::uint32_t>> points;
    points.reserve(sites.size());
    for (std::size_t s = 0; s < sites.size(); ++s)
        points.emplace_back(Kernel::Point_2(sites[s].x, sites[s].y), static_cast<std::uint32_t>(s));
    const Triangulation triangulation(points.begin(), points.end());

    // Each finite triangle's circumcentre, once.
    std::vector<Point> centre;
    centre.reserve(triangulation.number_of_faces());
    for (auto face = triangulation.finite_faces_begin(); face != triangulation.finite_faces_end(); ++face) {
        face->info() = static_cast<std::uint32_t>(centre.size());
        centre.push_back(circumcentre(face->vertex(0)->point(), face->vertex(1)->point(), face->vertex(2)->point()));
    }

    // Centres of neighbouring triangles closer than kVoronoiVertexMerge are one vertex (union-find;
    // a cluster's root is its smallest point), so neighbours keep sharing exact edges.
    std::vector<std::uint32_t> parent(centre.size());
    std::iota(parent.begin(), parent.end(), 0u);
    auto find = [&](std::uint32_t i) {
        while (parent[i] != i) i = parent[i] = parent[parent[i]];
        return i;
    };
    auto smaller = [&](std::uint32_t a, std::uint32_t b) {
        return std::tie(centre[a].x, centre[a].y) < std::tie(centre[b].x, centre[b].y);
    };
    for (auto edge = triangulation.finite_edges_begin(); edge != triangulation.finite_edges_end(); ++edge) {
        const auto face = edge->first, other = face->neighbor(edge->second);
        if (triangulation.is_infinite(face) || triangulation.is_infinite(other)) continue;
        const Point p = centre[face->info()], q = centre[other->info()];
        if (!(std::abs(p.x - q.x) < kVoronoiVertexMerge && std::abs(p.y - q.y) < kVoronoiVertexMerge &&
              std::hypot(p.x - q.x, p.y - q.y) < kVoronoiVertexMerge))
            continue;
        const std::uint32_t root_p = find(face->info()), root_q = find(other->info());
        if (root_p == root_q) continue;
        if (smaller(root_p, root_q))
            parent[root_q] = root_p;
        else
            parent[root_p] = root_q;
    }
    // Vertices: the roots, numbered in triangle order.
    std::vector<std::uint32_t> vertex_of(centre.size());
    cells.vertices.reserve(centre.size());
    for (std::uint32_t i = 0; i < centre.size(); ++i)
        if (find(i) == i) {
            vertex_of[i] = static_cast<std::uint32_t>(cells.vertices.size());
            cells.vertices.push_back(centre[i]);
        }
    for (std::uint32_t i = 0; i < centre.size(); ++i) vertex_of[i] = vertex_of[find(i)];

    // Rings in site order: the centres of the triangles around each site, counter-clockwise.
    std::vector<Triangulation::Vertex_handle> site_vertex(sites.size());
    for (auto vertex = triangulation.finite_vertices_begin(); vertex != triangulation.finite_vertices_end(); ++vertex)
        site_vertex[vertex->info()] = vertex;
    cells.ring_vertices.reserve(centre.size() * 3);
    for (std::size_t s = 0; s < sites.size(); ++s) {
        const std::size_t start = cells.ring_vertices.size();
        if (site_vertex[s] != Triangulation::Vertex_handle()) {
            auto face = triangulation.incident_faces(site_vertex[s]);
            const auto first = face;
            bool bounded = true;
            do {
                if (triangulation.is_infinite(face)) {
                    bounded = false;
                    break;
                }
                const std::uint32_t v = vertex_of[face->info()];
                if (cells.ring_vertices.size() == start || cells.ring_vertices.back() != v)
                    cells.ring_vertices.push_back(v);
            } while (++face != first);
            while (bounded && cells.ring_vertices.size() > start + 1 &&
                   cells.ring_vertices.back() == cells.ring_vertices[start])
                cells.ring_vertices.pop_back();
            if (!bounded || cells.ring_vertices.size() - start < 3) cells.ring_vertices.resize(start);
        }
        cells.ring_start[s + 1] = static_cast<std::uint32_t>(cells.ring_vertices.size());
    }
    return cells;
}

}  // namespace civgrid::algorithms
