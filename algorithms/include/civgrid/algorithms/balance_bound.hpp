// How many micro-grids of a region could at best be within +-10 % of the target: an upper bound
// on the balance any nested, barrier-respecting plan with the same count can reach (issue 16).
//
// A plan splits each barrier-bounded piece of the region (a connected component with households)
// into whole micro-grids, at least one per piece, `count` in all. The bound relaxes everything but
// that: micro-grids need not be contiguous and households may be divided at will (best_within),
// or only as civgrid divides them, whole buildings and tower pieces (best_within_whole), so no
// plan reaches more; a dynamic programme over the pieces shares the count among them the best way.
#pragma once

#include <cstdint>
#include <vector>

namespace civgrid::algorithms {

/// Whether a micro-grid of `households` counts as within `share` of `target`: the quality
/// report's test, |households - target| / target <= share (+1e-12 for rounding).
[[nodiscard]] bool is_within(std::int64_t households, double target, double share = 0.10);

/// The least and most households a micro-grid may hold and count as within `share` (0.10) of
/// `target`: the integers h with |h - target| / target <= share (+1e-12, as the quality report
/// rounds). `low > high` when no integer qualifies.
struct WithinRange {
    std::int64_t low = 0, high = -1;
};
[[nodiscard]] WithinRange within_range(double target, double share = 0.10);

/// The whole households a micro-grid may hold within the balance bounds [lower, upper], rounded
/// inwards (a bound within 1e-9 of an integer counts as it); low at least 0.
[[nodiscard]] WithinRange bounds_range(double lower, double upper);

/// At most how many of `parts` micro-grids holding `households` in all can be within `range`
/// (the rest holding anything, empty included).
[[nodiscard]] int best_within_in_piece(std::int64_t households, int parts, WithinRange range);

/// The bound for one region: `piece_households` per piece (each > 0), `count` micro-grids in all
/// (at least one per piece; fewer than pieces gives 0), each measured against `target`.
[[nodiscard]] int best_within(const std::vector<std::int64_t>& piece_households, int count, double target,
                              double share = 0.10);

/// At most how many of `parts` micro-grids holding `households` in all can be within `range` while
/// every one keeps within `bounds` (the balance bounds, `--tolerance`): a micro-grid far beyond
/// them is no price civgrid pays for another within +-10 %. When the bounds cannot all hold
/// (households outside parts x bounds), as best_within_in_piece: the data forces one out anyway.
[[nodiscard]] int best_within_in_piece_bounded(std::int64_t households, int parts, WithinRange range,
                                               WithinRange bounds);

/// best_within for plans that keep every micro-grid within the balance bounds [lower, upper]
/// where its piece allows (best_within_in_piece_bounded per piece), the count shared among the
/// pieces by a dynamic programme. Never above best_within; beyond about 2e7 steps (pieces x
/// count^2: a whole city as one region) it is best_within, still an upper bound.
[[nodiscard]] int best_within_bounded(const std::vector<std::int64_t>& piece_households, int count, double target,
                                      double lower, double upper, double share = 0.10);

/// Micro-grids of whole units (buildings, pieces of split towers, or input polygons in units
/// mode): per k = 0 .. `max_parts`, at most how many of k micro-grids can be within `range` when
/// each holds whole units of the piece, the units holding `unit_households` (any order; 0s
/// allowed). Relaxes contiguity and lets a micro-grid be empty, so no plan of whole units reaches
/// more. Exact (a dynamic programme over subsets, 3^n steps) for at most `exact_units` units with
/// households; beyond, a relaxation: a unit above range.high is never within, two units above
/// range.high / 2 never share a micro-grid within, and each within micro-grid needs range.low
/// households; and for a piece of at most 4 x range.high households, exact for k <= 3 by subset
/// sums (pseudo-polynomial in the households), capped at every k by the most disjoint groups
/// within when that is 0 or 1. Never above best_within_in_piece. A `range.low` of 0 gives
/// best_within_in_piece.
[[nodiscard]] std::vector<int> best_within_whole_in_piece(std::vector<std::int64_t> unit_households, int max_parts,
                                                          WithinRange range, int exact_units = 12);

/// best_within for whole units: `piece_units` holds each piece's units' households (a piece of
/// households > 0 each), `count` micro-grids in all shared among the pieces by a dynamic
/// programme over best_within_whole_in_piece (each piece up to the parts that can still add a
/// micro-grid within). Beyond `max_steps` steps of it (thousands of pieces), a Lagrangian
/// relaxation of the sharing, still an upper bound. Never above best_within.
[[nodiscard]] int best_within_whole(const std::vector<std::vector<std::int64_t>>& piece_units, int count, double target,
                                    double share = 0.10, double max_steps = 5e7);

/// best_within_whole for plans that keep every micro-grid within the balance bounds [lower, upper]
/// where its piece allows: per piece and count the lesser of the whole-unit bound and
/// best_within_in_piece_bounded, both upper bounds. Never above best_within_bounded.
[[nodiscard]] int best_within_whole_bounded(const std::vector<std::vector<std::int64_t>>& piece_units, int count,
                                            double target, double lower, double upper, double share = 0.10);

/// `total` shared among pieces in proportion to their households (largest remainder), at least
/// one each.
[[nodiscard]] std::vector<int> share_by_households(const std::vector<double>& households, int total);

/// How many of `total` micro-grids each piece gets (at least one each; all ones when `total` is
/// not above the piece count): the sharing that lets the most micro-grids be within +-10 % of
/// `target` (the bound's own), and among those the one that loses fewest of them keeping the
/// balance bounds [lower, upper] (when given) and leaves the pieces' averages room inside the
/// window, then whose averages lie nearest the target. An exact dynamic programme while pieces x
/// total^2 stays below about 2e7; beyond it (a whole city as one region) the largest remainder on
/// household shares.
[[nodiscard]] std::vector<int> share_count(const std::vector<double>& piece_households, int total, double target,
                                           double lower = 0, double upper = 0);

}  // namespace civgrid::algorithms
