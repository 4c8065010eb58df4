// Cleaning a dirty tiling of units (issue 17): parcels, census areas or blocks digitised one by one
// overlap their neighbours by slivers and leave narrow gaps between them. Units mode keeps every
// unit whole and unites them into micro-grids, so such dirt would make a micro-grid of two parts
// (units across a gap are not neighbours), leave the gap as a hole in the output, put an overlap
// in two micro-grids, and make every coverage union fall back to GEOS's general union.
//
// The rules, in the spirit of GEOS's CoverageCleaner and PostGIS's ST_CoverageClean:
// - An overlap of two units stays with the LARGER unit (by area; equal areas: the lower index) and
//   is cut from the smaller. With several, each unit loses what the larger of its overlapping
//   partners cover, so no two cleaned units overlap.
// - A gap is a hole enclosed by the units (not an inlet open to the outside of the tiling, not
//   land inside a unit's own hole) no wider than `gap_width`: the diameter of the largest circle
//   inside it. It joins the unit sharing the longest stretch of its edge (GEOS's "longest border").
//   Wider holes (a courtyard, a lake, a road block) are left.
// - The units around a change are noded with it (GEOS snapping within a micrometre inserts the
//   new vertices into their edges), so cleaned units share their edges vertex for vertex and the
//   micro-grids' coverage union stays exact.
//
// Only the dirt is touched: units are hashed by their segments, and only where a unit's segment
// without a twin lies within `gap_width` (but not on) another unit's, or two units overlap, is a
// small neighbourhood of units read with GEOS. An exact tiling costs one hash of its segments.
// Units: metres of the working CRS. Deterministic; independent neighbourhoods in parallel.
#pragma once

#include <civgrid/algorithms/geometry_repair.hpp>
#include <civgrid/types.hpp>

#include <cstddef>
#include <vector>

namespace civgrid::algorithms {

struct CoverageCleanOptions {
    /// Gaps at most this wide (metres) are closed; 0 closes none (overlaps are still removed).
    double gap_width = 1.0;
};

/// An overlap removed: `trimmed` lost `area` m2 to `kept` (cleaned false: nothing would be left of
/// `trimmed`, so both were left as they were).
struct CleanedOverlap {
    std::size_t kept = 0, trimmed = 0;
    double area = 0;
    bool cleaned = true;
};

/// A gap closed: `given_to` took it; `neighbours` are the units around it (ascending, with it).
struct CleanedGap {
    std::size_t given_to = 0;
    std::vector<std::size_t> neighbours;
    double area = 0;   ///< m2
    double width = 0;  ///< metres: diameter of the largest circle inside it
    Point location;    ///< a point inside it
};

struct CoverageCleaning {
    std::vector<CleanedOverlap> overlaps;  ///< by (kept, trimmed)
    std::vector<CleanedGap> gaps;          ///< by (given_to, location)
    std::vector<std::size_t> changed;      ///< units whose geometry changed (trimmed, grown or noded), ascending
    std::size_t neighbourhoods = 0;        ///< groups of units read with GEOS
    std::size_t failed = 0;                ///< of them, left as read: GEOS could not overlay their units
};

/// Cleans `units` (Polygon / MultiPolygon WKB, valid; empty ones ignored) in place. `overlaps`:
/// the pairs whose interiors overlap (overlapping_pairs with a small min_area), the only ones cut.
/// `threads`: 0 = all cores.
[[nodiscard]] CoverageCleaning clean_coverage(std::vector<Wkb>& units, const std::vector<OverlapPair>& overlaps,
                                              const CoverageCleanOptions& options = {}, int threads = 0);

}  // namespace civgrid::algorithms
