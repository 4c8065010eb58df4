// The faces of noded linework, as GEOSPolygonize finds them, without its validity check of every
// ring it builds.
//
// Why: GEOS 3.11's polygonizer checks each ring for validity (IsValidOp, a noding of the ring); on
// the faces along a community boundary zig-zagging over 1,000,000 vertices that was 4-5 s of a run
// whose faces were tracing alone a fraction of a second. Linework that GEOS has noded (a union)
// or that is known to be simple (the untouched stretches of a valid ring, node_with_outline) has
// no ring to refuse but degenerate ones, which this drops too (fewer than 4 points, no area).
#pragma once

#include <civgrid/algorithms/geos.hpp>

#include <span>
#include <utility>
#include <vector>

namespace civgrid::algorithms {

/// The polygons that `linework` (lines, rings, polygons' rings; collections flattened; working
/// CRS) encloses, taking it as noded: lines meet only at their end points, which are the nodes.
/// The same faces as GEOSPolygonize_r: dangles and cut edges are dropped, rings are minimal (a
/// face pinched at a node gives two), each face's shell is clockwise and takes as holes the outer
/// rings of the linework's components lying inside it (the smallest shell around each). What GEOS
/// would check and refuse is not checked: a ring is dropped only when it has fewer than 4 points
/// or no area. Faces come in the order of the first directed edge of their shell (lines in input
/// order, each forwards then backwards). Cost: O(n log n) in the vertices for finding the nodes
/// and sorting edges around them, plus a walk of a shell per hole whose box it covers.
[[nodiscard]] std::vector<geos::Geom> polygonize_noded(const geos::Context& context, const GEOSGeometry* linework);

/// As above, with `segments` (pairs of end points) taken as more lines after the linework's: the
/// caller's linework noded without GEOS, with no GEOS geometry made per segment.
[[nodiscard]] std::vector<geos::Geom> polygonize_noded(const geos::Context& context, const GEOSGeometry* linework,
                                                       std::span<const std::pair<Point, Point>> segments);

}  // namespace civgrid::algorithms
