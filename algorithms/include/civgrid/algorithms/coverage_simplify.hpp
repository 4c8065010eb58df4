// Simplifying polygons that share their edges (a coverage: micro-grids, and the grids and
// communities made of them) so that neighbours still share them: no gap, no overlap opens between
// them, as per-polygon simplification (GEOSTopologyPreserveSimplify) would. GEOS 3.11 (Debian
// bookworm) has no coverage simplification (GEOSCoverageSimplifyVW came with 3.12).
//
// Each edge between two nodes is simplified once, the same way for both polygons that share it:
// a node is a vertex where the boundary lines meet three or more other vertices (where three
// polygons meet, or two meet the outside); a ring with no node starts at its least vertex.
#pragma once

#include <civgrid/algorithms/geos.hpp>
#include <civgrid/types.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

namespace civgrid::algorithms {

/// Learns the nodes of a coverage, then simplifies it and polygons drawn along it.
class CoverageSimplifier {
public:
    /// `coverage`: the polygons' WKB (Polygon or MultiPolygon, any CRS; empty or unreadable entries
    /// are skipped). Coordinates are compared exactly: shared vertices must be bit-identical (as
    /// civgrid writes them, and as a reprojection rounded to a grid keeps them).
    CoverageSimplifier(const geos::Context& context, std::span<const Wkb> coverage);

    /// `polygon` (Polygon or MultiPolygon WKB) with each edge between two nodes simplified by
    /// Douglas-Peucker at `tolerance` (units of the coordinates), keeping its end nodes (a ring with
    /// one node is split at its farthest vertex from it); a vertex the coverage does not have is kept
    /// as it is (a node). The same edge gives the same vertices in every polygon that has it, in
    /// either direction. A ring that would collapse (fewer than four vertices: a sliver narrower
    /// than the tolerance) is kept as it was, so it is not quite its neighbours' there. The result
    /// is not checked for validity (a drawing's simplification may make a narrow neck touch
    /// itself). Empty or unreadable WKB comes back as it is.
    [[nodiscard]] Wkb simplify(const Wkb& polygon, double tolerance) const;

    /// Vertices of the coverage (distinct) and how many of them are nodes.
    [[nodiscard]] std::size_t vertex_count() const noexcept { return ids_.size(); }
    [[nodiscard]] std::size_t node_count() const noexcept;

private:
    struct Hash {
        std::size_t operator()(const Point& p) const noexcept;
    };
    [[nodiscard]] bool is_node(const Point& p) const;
    const geos::Context& context_;
    std::unordered_map<Point, std::uint32_t, Hash> ids_;
    std::vector<std::uint8_t> degree_;  ///< distinct neighbours of each vertex, saturating at 255
};

/// Vertices of a geometry's WKB (GEOSGetNumCoordinates; 0 for empty or unreadable WKB).
[[nodiscard]] std::size_t vertex_count(const geos::Context& context, const Wkb& wkb);

}  // namespace civgrid::algorithms
