// Voronoi cells of points as rings of shared vertices: each Voronoi vertex (the circumcentre of a
// Delaunay triangle) is computed once, so neighbouring cells share their edges exactly.
//
// Why not GEOSVoronoiDiagram: on a city's faces it was a third of the region geometry's CPU
// (GEOS 3.11 builds its own quad-edge triangulation, then a polygon and a clip per cell); CGAL's
// Delaunay triangulation with filtered exact predicates and the rings built here from it take a
// fifth of that (100,000 points: 0.13 s against 0.60 s; bench/README.md, Fourth round), and name
// each cell's site for free.
#pragma once

#include <civgrid/types.hpp>

#include <cstdint>
#include <span>
#include <vector>

namespace civgrid::algorithms {

/// Voronoi vertices closer than this are one vertex: far below any survey's precision, far above
/// the rounding of a circumcentre (a unit in the last place is 5e-10 m at a northing of 3,300 km).
/// Nearly cocircular sites (a surveyed lattice, reprojected) give circumcentres a few units in the
/// last place apart, and the ulp-long edge between them can fold a cell's ring back on itself.
inline constexpr double kVoronoiVertexMerge = 1e-6;  // metres

struct VoronoiCells {
    /// Voronoi vertices; a cluster of vertices closer than kVoronoiVertexMerge is one vertex, the
    /// lexicographically smallest of them, the same in every cell.
    std::vector<Point> vertices;
    /// Site s's cell: the ring of vertices ring_vertices[ring_start[s] .. ring_start[s + 1]),
    /// counter-clockwise, not closed (its first vertex is not repeated), no vertex twice in a row.
    /// Empty for a site on the convex hull of the sites (its cell is unbounded) and for a cell that
    /// merging left with fewer than three vertices (under a micrometre across).
    std::vector<std::uint32_t> ring_start;
    std::vector<std::uint32_t> ring_vertices;

    [[nodiscard]] std::span<const std::uint32_t> ring(std::size_t site) const {
        return {ring_vertices.data() + ring_start[site], ring_vertices.data() + ring_start[site + 1]};
    }
};

/// The Voronoi cells of `sites`, which must be distinct (a repeated point's cells are empty but
/// one). Deterministic: the result depends on the sites and their order only.
[[nodiscard]] VoronoiCells voronoi_cells(std::span<const Point> sites);

}  // namespace civgrid::algorithms
