// Clipping lines to an area and noding them with its outline when the outline is detailed (a
// community boundary digitised to hundreds of thousands of vertices), without GEOS overlays.
//
// Why: GEOS 3.11's overlays (GEOSIntersection, GEOSDifference, GEOSUnaryUnion) node every segment
// of both operands and build a graph node per vertex; clipping a few hundred Voronoi edges or
// barriers to a 1,000,000-vertex boundary took seconds per call, and a buffer of a zig-zagging one
// minutes. Here the outline's segments sit in a SegmentIndex, a line is cut where it meets them,
// and only the stretches of the outline that some line comes near are noded.
#pragma once

#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/segment_index.hpp>

#include <vector>

namespace civgrid::algorithms {

/// An outline (polygon or face) with more vertices than this is "detailed": never buffered, and
/// clipped and noded by the functions here. Everyday boundaries, up to a few thousand vertices,
/// stay far below it and keep the GEOS paths and exactly the results they had.
inline constexpr int kDetailedOutline = 50'000;  // vertices

/// A piece of a line inside an area. `cut_start` / `cut_end`: that end lies on the area's outline
/// (the line was cut there, or ended on it).
struct ClippedPiece {
    std::vector<Point> points;
    bool cut_start = false, cut_end = false;
};

/// The outline of a polygonal area, indexed to clip lines to the area.
class OutlineClipper {
public:
    /// `area` (Polygon or MultiPolygon, working CRS) and `prepared` (prepared from it) must outlive
    /// the clipper. Builds an index of the outline's segments: O(n) in its vertices.
    OutlineClipper(const geos::Context& context, const GEOSGeometry* area, const GEOSPreparedGeometry* prepared);

    /// The parts of the lines of `lines` (lines, rings, polygons' rings; collections flattened)
    /// strictly inside the area: each line is cut at every point where it meets the outline and
    /// its pieces inside kept. Pieces running along the outline (within a micrometre of it over
    /// their whole length) are left out, as GEOSIntersection followed by GEOSDifference with the
    /// outline would leave them. Pieces come line by line, in order along each line; a closed line
    /// cut elsewhere than at its first vertex gives its piece through that vertex in one.
    /// Cost: each segment of `lines` is looked up in the index, plus one point-in-area test per
    /// piece; the outline's size matters only through the index.
    [[nodiscard]] std::vector<ClippedPiece> clip(const GEOSGeometry* lines) const;

    /// True when `p` lies within `tolerance` (metres) of the outline.
    [[nodiscard]] bool on_outline(Point p, double tolerance = 1e-6) const;

    /// Whether `p`, a point off the outline, lies inside the area. Decided by the nearest outline
    /// segment (the side of it, or at a vertex the corner's) when one lies within a few index
    /// cells, else by the prepared area: GEOS's point-in-area test counts every segment whose y
    /// range holds p's, which along a zig-zagging horizontal edge is all of its teeth.
    [[nodiscard]] bool inside(Point p) const;

    /// Whether `p` lies in the area or on its outline, as GEOSPreparedIntersects_r of the prepared
    /// area with the point: inside() off the outline (within a micrometre of it, the prepared area).
    /// Quick next to a zig-zagging outline, where GEOS walks all the teeth level with p.
    [[nodiscard]] bool covers(Point p) const;

private:
    void clip_line(const std::vector<Point>& line, std::vector<ClippedPiece>& out) const;
    [[nodiscard]] bool inside_by_prepared(Point p) const;

    struct Ring {
        std::size_t first = 0, count = 0;  ///< its segments in the index
        bool interior_on_left = true;      ///< the area's inside lies to the left of its segments
    };

    const geos::Context& context_;
    const GEOSPreparedGeometry* prepared_;
    std::vector<Ring> rings_;
    std::vector<std::uint32_t> segment_ring_;
    SegmentIndex outline_;
};

/// `polygonal` as it is when it has at most kDetailedOutline vertices; else simplified to within
/// `tolerance` metres (Douglas-Peucker, or GEOS's topology-preserving simplification when that
/// leaves it invalid), for overlays that only show it (a street made of its communities).
[[nodiscard]] geos::Geom lightened(const geos::Context& context, geos::Geom polygonal, double tolerance);

/// Linework for GEOSPolygonize: `lines` (any linear or polygonal geometry, its rings as lines)
/// noded together with the rings of `outline` (polygonal), where only the stretches of outline
/// rings that some line comes near (within a micrometre) are noded by GEOS; the rest of a
/// ring, which nothing crosses or touches, is passed on as it is, ending at vertices of the noded
/// stretches. Rings of up to kDetailedOutline vertices are noded whole. The result (a collection
/// of line strings) polygonizes to the same faces as GEOSUnaryUnion of all the linework.
[[nodiscard]] geos::Geom node_with_outline(const geos::Context& context, const GEOSGeometry* outline,
                                           const GEOSGeometry* lines);

}  // namespace civgrid::algorithms
