// Repairing imported polygons and finding duplicates, overlaps and gaps between them (GEOS only:
// the engine turns the outcomes into the import report).
#pragma once

#include <civgrid/algorithms/geos.hpp>
#include <civgrid/types.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace civgrid::algorithms {

/// What repair_polygons did to one geometry.
struct RepairOutcome {
    enum class Kind { unchanged, repaired, dropped };
    Kind kind = Kind::unchanged;
    /// snake_case reason: GEOS's validity reason ("self_intersection", "ring_self_intersection",
    /// "too_few_points", "hole_lies_outside_shell", ...), "zero_area_ring", "duplicate_points", or
    /// "zero_area" for a polygon with no area left.
    std::string reason;
};

/// Makes every polygonal geometry valid, in place: repeated vertices removed, invalid ones
/// rebuilt with GEOS MakeValid (structure method, collapsed parts dropped) keeping only their
/// polygons; a geometry left without area is dropped (emptied). Points, lines and empty
/// geometries are left alone. In parallel; `threads` 0 = all cores.
[[nodiscard]] std::vector<RepairOutcome> repair_polygons(std::vector<Wkb>& geometries, int threads = 0);

/// GEOSisValid_r, answered without GEOS for a polygon of one ring of more than kDetailedOutline
/// vertices that a grid of its segments proves simple (the import's check; GEOS's ring check on a
/// zig-zagging 1,000,000-vertex boundary takes about a second, and runs once per stage).
[[nodiscard]] bool is_valid(const geos::Context& context, const GEOSGeometry* geometry);

/// The bounding box of every non-empty geometry, nullopt when there is none. Polygons in 2D
/// little-endian WKB are read in place (no GEOS geometry is built), in parallel.
[[nodiscard]] std::optional<geos::Envelope> extent_of(const std::vector<Wkb>& geometries, int threads = 0);

/// Two polygons sharing area.
struct OverlapPair {
    std::size_t first = 0, second = 0;  ///< first < second
    double area = 0;                    ///< area of the intersection
    double share_of_smaller = 0;        ///< area / area of the smaller polygon
};
/// How overlapping_pairs decided: pairs whose envelopes meet, and those of them its segment
/// certificate could not settle, which a GEOS overlay measured (the costly ones).
struct OverlapStats {
    std::size_t candidates = 0, overlaid = 0;
};
/// Pairs of polygonal geometries whose intersection exceeds `min_area` (non-polygons ignored),
/// ordered by (first, second). The geometries must be valid (repair_polygons first): neighbours
/// sharing their boundary vertex for vertex are told apart from their segments alone, in linear
/// time; every other pair of overlapping envelopes is measured by a GEOS overlay. `stats`, when
/// given, receives how many pairs took which way.
[[nodiscard]] std::vector<OverlapPair> overlapping_pairs(const std::vector<Wkb>& geometries, double min_area,
                                                         int threads = 0, OverlapStats* stats = nullptr);

/// A hole enclosed by the union of the polygons (a gap between them).
struct CoverageGap {
    double area = 0;
    Point location;                       ///< a point inside the gap
    std::vector<std::size_t> neighbours;  ///< polygons touching it
};
/// Gaps larger than `min_area` enclosed by the union of the polygons.
[[nodiscard]] std::vector<CoverageGap> coverage_gaps(const std::vector<Wkb>& geometries, double min_area);

/// GEOSPointOnSurface_r's point of a Polygon or MultiPolygon in 2D little-endian WKB, computed on
/// the WKB in place by the same algorithm and arithmetic (GEOS's InteriorPointArea: the widest
/// section of a scan line between the vertices nearest the middle of each polygon's height), so
/// the very same coordinates; nullopt for anything else (other types, byte orders, rings GEOS
/// would refuse or an odd count of crossings), which the caller gives to GEOS.
[[nodiscard]] std::optional<Point> interior_point_in_place(const Wkb& wkb);

/// Areas of the polygonal geometries (0 for others).
[[nodiscard]] std::vector<double> polygon_areas(const std::vector<Wkb>& geometries, int threads = 0);

}  // namespace civgrid::algorithms
