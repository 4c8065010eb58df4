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

#include <limits>
#include <optional>
#include <vector>

namespace civgrid::algorithms {

/// An outline (polygon or face) with more vertices than this is "detailed": never buffered, and
/// clipped and noded by the functions here. Everyday boundaries, up to a few thousand vertices,
/// stay far below it and keep the GEOS paths and exactly the results they had.
inline constexpr int kDetailedOutline = 50'000;  // vertices

/// Which points lie in a polygonal area with a detailed outline, without GEOS's point locator:
/// preparing that indexes every segment (a tenth of a second or more for a million-vertex
/// boundary, and it was built again by every stage and thread that asked), and its query walks
/// every tooth of a zig-zag level with the point. Here the rings' segments are kept in blocks of
/// consecutive ones with their boxes; a point is inside when a ray from it to the east crosses
/// the rings an odd number of times, counted only in the blocks it can cross. Immutable once
/// built: safe to share between threads.
class AreaLocator {
public:
    /// `area`: Polygon, MultiPolygon or a collection of them (working CRS); its rings are copied.
    AreaLocator(const geos::Context& context, const GEOSGeometry* area);

    /// Whether `p` lies in the area or on its outline, as GEOSPreparedIntersects_r of the prepared
    /// area with the point: within a micrometre of the outline by GEOS's own ray-crossing rule and
    /// orientation test (`context`: the calling thread's), farther by plain floating point, which
    /// cannot err there. Cost: a box test per block of 256 segments, and the segments of the
    /// blocks that a ray from `p` or a micrometre around it can meet.
    [[nodiscard]] bool covers(const geos::Context& context, Point p) const;

private:
    struct Block {
        std::uint32_t first, end;  // segments points_[i - 1]-points_[i] for i in [first, end)
        double min_x, min_y, max_x, max_y;
    };
    std::vector<Point> points_;  // the rings one after another, each closed
    std::vector<Block> blocks_;
    double min_x_ = std::numeric_limits<double>::infinity(), min_y_ = min_x_;
    double max_x_ = -std::numeric_limits<double>::infinity(), max_y_ = max_x_;
    double magnitude_ = 0;  // largest absolute coordinate, for the rounding slack
};

/// A piece of a line inside an area. `cut_start` / `cut_end`: that end lies on the area's outline
/// (the line was cut there, or ended on it).
struct ClippedPiece {
    std::vector<Point> points;
    bool cut_start = false, cut_end = false;
};

/// A point where a clipped line meets an outline segment a-b elsewhere than at a or b: the point
/// as the clipper computed it, which the pieces end at. Splitting the outline there nodes the
/// pieces with it exactly.
struct OutlineCut {
    Point a, b, point;
};

/// The total length of clipped pieces (metres): how much of the lines lies strictly inside.
[[nodiscard]] double total_length(const std::vector<ClippedPiece>& pieces);

/// The outline of a polygonal area, indexed to clip lines to the area.
class OutlineClipper {
public:
    /// `area` (Polygon or MultiPolygon, working CRS) must outlive the clipper. Builds an index of
    /// the outline's segments: O(n) in its vertices.
    OutlineClipper(const geos::Context& context, const GEOSGeometry* area);

    /// The parts of the lines of `lines` (lines, rings, polygons' rings; collections flattened)
    /// strictly inside the area: each line is cut at every point where it meets the outline and
    /// its pieces inside kept. Pieces running along the outline (within a micrometre of it over
    /// their whole length) are left out, as GEOSIntersection followed by GEOSDifference with the
    /// outline would leave them. Pieces come line by line, in order along each line; a closed line
    /// cut elsewhere than at its first vertex gives its piece through that vertex in one.
    /// Cost: each segment of `lines` is looked up in the index, plus one point-in-area test per
    /// piece; the outline's size matters only through the index.
    /// `cuts`, when given, receives every point where a line meets the inside of an outline
    /// segment (OutlineCut).
    [[nodiscard]] std::vector<ClippedPiece> clip(const GEOSGeometry* lines,
                                                 std::vector<OutlineCut>* cuts = nullptr) const;

    /// True when `p` lies within `tolerance` (metres) of the outline.
    [[nodiscard]] bool on_outline(Point p, double tolerance = 1e-6) const;

    /// Whether `p`, a point off the outline, lies inside the area. Decided by the nearest outline
    /// segment (the side of it, or at a vertex the corner's) when one lies within a few index
    /// cells, else as the prepared area would answer, by an AreaLocator made at the first such
    /// point: GEOS's point-in-area test counts every segment whose y range holds p's, which along
    /// a zig-zagging horizontal edge is all of its teeth, and its index costs as much to build as
    /// this clipper's.
    [[nodiscard]] bool inside(Point p) const;

    /// Whether `p` lies in the area or on its outline, as GEOSPreparedIntersects_r of the prepared
    /// area with the point: inside() off the outline (within a micrometre of it, the AreaLocator).
    /// Quick next to a zig-zagging outline, where GEOS walks all the teeth level with p.
    [[nodiscard]] bool covers(Point p) const;

private:
    void clip_line(const std::vector<Point>& line, std::vector<ClippedPiece>& out,
                   std::vector<OutlineCut>* outline_cuts) const;
    [[nodiscard]] bool inside_by_locator(Point p) const;

    struct Ring {
        std::size_t first = 0, count = 0;  ///< its segments in the index
        bool interior_on_left = true;      ///< the area's inside lies to the left of its segments
    };

    const geos::Context& context_;
    const GEOSGeometry* area_;
    mutable std::optional<AreaLocator> area_locator_;  // made at the first point far from the outline
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
