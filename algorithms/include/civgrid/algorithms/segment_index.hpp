// A uniform-grid index of line segments, for "does this straight segment cross a barrier?" asked
// hundreds of thousands of times. GEOS's prepared predicates on long multi-lines fall back to full
// relate computations for line/line tests; this answers them with orientation tests on the few
// segments stored near the query.
#pragma once

#include <civgrid/types.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <span>
#include <utility>
#include <vector>

namespace civgrid::algorithms {

class SegmentIndex {
public:
    struct Segment {
        Point a, b;
    };

    /// Builds the index; `segments` may be empty (then nothing is ever crossed). Cells are about
    /// two average segments wide, but no more than `cells_per_segment` per segment would cover the
    /// segments' bounding box; above 4, finer: that many cells per segment in the box (an outline
    /// of a million short teeth, whose cells would otherwise hold hundreds of them).
    explicit SegmentIndex(std::vector<Segment> segments, double cells_per_segment = 4.0);
    /// Builds the index of segments given as (a, b) pairs (geos::line_segments of an outline).
    [[nodiscard]] static SegmentIndex of_pairs(const std::vector<std::pair<Point, Point>>& pairs) {
        std::vector<Segment> segments;
        segments.reserve(pairs.size());
        for (const auto& [a, b] : pairs) segments.push_back({a, b});
        return SegmentIndex(std::move(segments));
    }

    [[nodiscard]] bool empty() const noexcept { return segments_.empty(); }
    /// The side of the index's square cells (metres): about two average segments.
    [[nodiscard]] double cell_size() const noexcept { return cell_size_; }
    /// The stored segment at `position` in the order given.
    [[nodiscard]] const Segment& segment(std::size_t position) const { return segments_[position]; }

    /// True when the segment p-q and some stored segment share a point, endpoints included.
    [[nodiscard]] bool intersects(Point p, Point q) const;
    /// True when a stored segment passes through the inside of p-q: a stored segment that only
    /// touches p or q (a site lying on a barrier) does not count.
    [[nodiscard]] bool crosses(Point p, Point q) const;

    /// True when some stored segment passes within `distance` of the segment p-q (a conservative
    /// "might these segments meet" test that rounding cannot fool, for distance above it).
    [[nodiscard]] bool within(Point p, Point q, double distance) const;

    /// True when some stored segment's bounding box meets the box [low, high] (a conservative
    /// "might this box touch a segment" test).
    [[nodiscard]] bool near_box(Point low, Point high) const;

    /// Appends to `out` every stored segment that shares a point with p-q (endpoints included),
    /// each once, in no particular order.
    void meeting(Point p, Point q, std::vector<Segment>& out) const;

    /// Same, as the positions (in the order given) of those segments.
    void meeting_positions(Point p, Point q, std::vector<std::uint32_t>& out) const;

    /// The position (in the order given) of a stored segment nearest to p, looked for in the
    /// index cells up to `max_rings` cells away from p's cell; -1 when none is that near (or the
    /// index is empty). Ties go to any of them. Cost: the segments of the cells looked at.
    [[nodiscard]] std::int64_t nearest(Point p, int max_rings) const;

private:
    // Tests the stored segments near the box of p-q (`along_segment`: near the segment p-q) once
    // each, until `test` is true.
    template <class Test>
    bool any_near(Point p, Point q, bool along_segment, Test&& test) const;
    [[nodiscard]] std::int64_t cell_key(std::int64_t column, std::int64_t row) const noexcept {
        return column * 0x100000000LL + row;
    }

    // True when p-q's box lies apart from every stored segment's box (so meets none of them).
    [[nodiscard]] bool apart_from_all(Point p, Point q) const noexcept {
        return segments_.empty() || std::max(p.x, q.x) < origin_x_ || std::max(p.y, q.y) < origin_y_ ||
               std::min(p.x, q.x) > max_x_ || std::min(p.y, q.y) > max_y_;
    }

    std::vector<Segment> segments_;
    double origin_x_ = 0, origin_y_ = 0, cell_size_ = 1;
    double max_x_ = 0, max_y_ = 0;  // with origin_x_, origin_y_: the stored segments' box
    // The positions of the segments of the cell (column, row), increasing; empty when none.
    [[nodiscard]] std::span<const std::uint32_t> cell(std::int64_t column, std::int64_t row) const;
    [[nodiscard]] std::size_t slot_of(std::int64_t key) const noexcept;
    static constexpr std::int64_t kEmptyCell = std::numeric_limits<std::int64_t>::min();
    // Cells: an open-addressing table of cell keys (kEmptyCell where free) and their cell numbers;
    // cell c's segments are items_[cell_begin_[c], cell_begin_[c + 1]).
    std::vector<std::int64_t> slot_key_;
    std::vector<std::uint32_t> slot_cell_;
    std::vector<std::uint32_t> cell_begin_, items_;
    mutable std::vector<std::uint32_t> seen_;
    mutable std::uint32_t stamp_ = 0;
};

}  // namespace civgrid::algorithms
