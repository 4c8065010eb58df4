// The union of polygons that form a coverage: neighbours share exactly identical edges and do not
// overlap (micro-grids made of Voronoi atoms, regions cut from one topology).
//
// Why not GEOSCoverageUnion: GEOS 3.11 (Debian bookworm) polygonizes every boundary segment as a
// line of its own, with a node object per vertex; a micro-grid along a 1,000,000-vertex community
// boundary took 37 s and over a gigabyte. This one cancels shared segments and links the rest into
// rings with sorted arrays: O(n log n) in vertices, about 100 bytes per vertex.
#pragma once

#include <span>
#include <vector>

#include <civgrid/algorithms/geos.hpp>

namespace civgrid::algorithms {

/// The union of the polygonal parts of `geometry` (a Polygon, MultiPolygon or a collection of
/// them), assuming they form a coverage. Segments present an even number of times cancel (as in
/// GEOSCoverageUnion); the rest are linked into minimal rings (where the boundary meets itself at
/// a vertex, the ring turns to keep its own side), counter-clockwise shells take the holes they
/// enclose. Returns a Polygon, a MultiPolygon when the parts are apart, or null when the input is
/// visibly not a coverage (rings that do not close, or an area that differs from the sum of the
/// parts by more than 1e-6 of it). The result is NOT checked for validity: callers that cannot
/// trust their input check it and fall back to a full union. Deterministic: parts in input order.
[[nodiscard]] geos::Geom coverage_union(const geos::Context& context, const GEOSGeometry* geometry);
/// The same of the polygonal geometries `parts` (each as `geometry` above), read where they are:
/// no collection of copies is built.
[[nodiscard]] geos::Geom coverage_union(const geos::Context& context, std::span<const GEOSGeometry* const> parts);

/// coverage_union, checked: when its rings touch themselves at a vertex (holes meeting at a
/// corner, a pinch where a unit of two parts meets itself), GEOS MakeValid of the result — which
/// costs the union's own vertices, not the parts' — kept when its area is the same to 1e-9; null
/// when that fails or the input is no coverage (callers then take GEOS's union of the parts).
[[nodiscard]] geos::Geom valid_coverage_union(const geos::Context& context, const GEOSGeometry* geometry);

/// The union of polygons that should meet along shared edges but may have been computed twice (a
/// rerun's kept and redrawn micro-grids): GEOS's exact union, or, when that leaves more parts than
/// the same union on a millimetre grid, the latter (it closes hairline gaps, but may cut a neck
/// thinner than a millimetre, so it is the second choice).
[[nodiscard]] geos::Geom union_closing_hairlines(const geos::Context& context, std::vector<geos::Geom> polygons);

}  // namespace civgrid::algorithms
