// Units mode (issue 17): micro-grids as unions of WHOLE input polygons — parcels, census small
// areas, blocks — whose boundaries follow the units', instead of Voronoi cells of their points.
//
// Each unit is one indivisible graph vertex (its households). Units are neighbours when they share
// boundary: exactly identical segments (hashed, as the Voronoi atoms' adjacency), or, where edges
// do not match vertex for vertex (T-junctions, digitising slivers), when they lie within a small
// gap of each other along a stretch of boundary (an STRtree of envelopes, then distance tests on
// the segments of the smaller unit). A contact at a corner alone is no neighbourhood. An edge is
// dropped where a hard barrier crosses the line between the two units' points. Each connected
// component gets its share of the micro-grids and is split by partition_connected_graph, as the
// Voronoi atoms are; a unit over the upper bound is a micro-grid of its own, flagged
// large_building. A micro-grid's polygon is the coverage union of its units (GEOS's union when that
// is not valid): micro-grids follow the units, not the region's boundary.
//
// Units: metres in the working CRS. Complexity: O(n log n) in units plus the distance tests of
// pairs whose envelopes meet without a shared segment (corner contacts), linear in their vertices.
#pragma once

#include <civgrid/algorithms/region_partition.hpp>
#include <civgrid/types.hpp>

#include <cstdint>
#include <vector>

namespace civgrid::algorithms {

struct UnitOptions {
    /// Units this close (metres) along a stretch of boundary are neighbours even where their edges
    /// do not share vertices.
    double gap = 0.1;
    /// ... when that stretch is at least this long (metres): units meeting at a corner are not.
    double min_contact = 0.5;
};

/// Two units sharing boundary: indices a < b, the length shared (metres), and whether it was found
/// as identical segments (else as a near contact).
struct UnitEdge {
    std::uint32_t a = 0, b = 0;
    double length = 0;
    bool exact = true;
};

/// Neighbouring units among polygonal geometries (Polygon or MultiPolygon WKB, valid), sorted by
/// (a, b). Empty geometries have no neighbours.
[[nodiscard]] std::vector<UnitEdge> unit_adjacency(const std::vector<Wkb>& units, const UnitOptions& options = {});

/// Partitions one region whose sites are units: input.site_areas[s] is site s's polygon and
/// input.sites[s].location a point inside it (the engine's point on surface). The same
/// RegionResult as partition_region: site_micro_grid per unit, flags, grids when asked for.
/// A region without units gets no micro-grid. Deterministic for a given input and seed; own GEOS
/// context. Throws InputError when site_areas and sites differ in number, or a unit has no area.
[[nodiscard]] RegionResult partition_units(const RegionInput& input, const UnitOptions& options = {});

/// A unit (Polygon / MultiPolygon WKB, valid) cut into `count` pieces of equal area (to a
/// micrometre of the cut's position) by recursive bisection: each cut runs across the long axis of
/// its part's minimum rotated rectangle, so pieces stay compact (a k-d tree of the unit). For
/// --split-large-units. One piece (the unit itself) when `count` <= 1 or a cut fails (a degenerate
/// shape). A concave unit's piece may have several parts. Own GEOS context.
[[nodiscard]] std::vector<Wkb> split_unit(const Wkb& unit, int count);

/// The union of units (Polygon / MultiPolygon WKB; empty and non-polygonal ones ignored): the
/// coverage union (coverage_union.hpp) of those that tile, then GEOS's union with the rest — the
/// indices in `apart` (units known to overlap others: the import's overlapping pairs) and units of
/// several parts — so a few dirty units do not make it a GEOS union of every unit (15 s for
/// 100,000 parcels). GEOS's union of all when the coverage union fails. Empty WKB when none has
/// area. The region of units mode without admin layers.
[[nodiscard]] Wkb union_of_units(const std::vector<Wkb>& units, const std::vector<std::size_t>& apart = {});

/// Whether polygons look like a coverage (parcels, census areas, blocks) rather than building
/// footprints: measured, for the import report's suggestion of units mode.
struct CoverageTraits {
    std::size_t polygons = 0;
    /// Share of polygons sharing boundary with a neighbour (as unit_adjacency finds them), measured
    /// on a sample of at most 2,000 (every k-th polygon).
    double sharing_share = 0;
    double hull_cover = 0;     ///< sum of their areas / area of the convex hull of all of them
    double overlap_share = 0;  ///< overlap area given / sum of their areas
    /// The rule: at least kMinPolygons polygons, sharing_share >= 0.6, hull_cover >= 0.6 and
    /// overlap_share <= 0.01 (footprints of a dense old town share walls, but cover well under
    /// 60 % of their hull: the streets and yards between blocks).
    static constexpr std::size_t kMinPolygons = 20;
    static constexpr double kMinSharing = 0.6, kMinHullCover = 0.6, kMaxOverlap = 0.01;
    [[nodiscard]] bool coverage() const noexcept {
        return polygons >= kMinPolygons && sharing_share >= kMinSharing && hull_cover >= kMinHullCover &&
               overlap_share <= kMaxOverlap;
    }
};
/// The traits of `polygons` (WKB; non-polygons and empty ones ignored); `overlap_area` is the area
/// of their pairwise overlaps as the caller measured it (overlapping_pairs). The sharing test runs
/// only when the hull cover passes (it costs an adjacency; the cover is one pass of areas, on
/// `threads` threads, 0 = all cores).
[[nodiscard]] CoverageTraits coverage_traits(const std::vector<Wkb>& polygons, double overlap_area, int threads = 0);

}  // namespace civgrid::algorithms
