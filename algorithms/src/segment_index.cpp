#include <civgrid/algorithms/segment_index.hpp>

#include <algorithm>
#include <bit>
#include <cmath>

namespace civgrid::algorithms {

namespace {

// Sign of the turn p -> q -> r (1 left, -1 right, 0 collinear).
int orientation(Point p, Point q, Point r) {
    const double value = (q.x - p.x) * (r.y - p.y) - (q.y - p.y) * (r.x - p.x);
    return (value > 0) - (value < 0);
}

bool within_box(Point p, Point q, Point r) {  // r on the bounding box of p-q
    return std::min(p.x, q.x) <= r.x && r.x <= std::max(p.x, q.x) && std::min(p.y, q.y) <= r.y &&
           r.y <= std::max(p.y, q.y);
}

// Segments whose boxes are apart do not meet: most candidates from the grid's cells, rejected
// before four orientation tests (a twentieth of a whole city's CPU went to those).
bool boxes_apart(Point p, Point q, Point a, Point b) {
    return std::max(p.x, q.x) < std::min(a.x, b.x) || std::max(a.x, b.x) < std::min(p.x, q.x) ||
           std::max(p.y, q.y) < std::min(a.y, b.y) || std::max(a.y, b.y) < std::min(p.y, q.y);
}

bool segments_intersect(Point p, Point q, Point a, Point b) {
    if (boxes_apart(p, q, a, b)) return false;
    const int o1 = orientation(p, q, a), o2 = orientation(p, q, b), o3 = orientation(a, b, p),
              o4 = orientation(a, b, q);
    if (o1 * o2 < 0 && o3 * o4 < 0) return true;
    if (o1 == 0 && within_box(p, q, a)) return true;
    if (o2 == 0 && within_box(p, q, b)) return true;
    if (o3 == 0 && within_box(a, b, p)) return true;
    if (o4 == 0 && within_box(a, b, q)) return true;
    return false;
}

// The inside of p-q meets a-b (p and q themselves excluded).
bool segment_interior_meets(Point p, Point q, Point a, Point b) {
    if (boxes_apart(p, q, a, b)) return false;
    const int o1 = orientation(p, q, a), o2 = orientation(p, q, b), o3 = orientation(a, b, p),
              o4 = orientation(a, b, q);
    if (o3 == 0 || o4 == 0) {
        // p or q lies on the line of a-b. Collinear overlap beyond the endpoints still crosses.
        if (o1 == 0 && o2 == 0) {
            auto strictly_inside = [&](Point r) {
                return within_box(p, q, r) && !(r.x == p.x && r.y == p.y) && !(r.x == q.x && r.y == q.y);
            };
            return strictly_inside(a) || strictly_inside(b) || (within_box(a, b, p) && within_box(a, b, q));
        }
        return false;  // touches at an endpoint of p-q only
    }
    if (o3 == o4) return false;               // p and q on the same side of a-b
    if (o1 == 0) return within_box(p, q, a);  // a on the inside of p-q
    if (o2 == 0) return within_box(p, q, b);
    return o1 != o2;
}

double squared_distance_to(Point p, Point a, Point b) {
    const double dx = b.x - a.x, dy = b.y - a.y;
    const double squared = dx * dx + dy * dy;
    const double t = squared > 0 ? std::clamp(((p.x - a.x) * dx + (p.y - a.y) * dy) / squared, 0.0, 1.0) : 0.0;
    const double ex = a.x + t * dx - p.x, ey = a.y + t * dy - p.y;
    return ex * ex + ey * ey;
}

}  // namespace

SegmentIndex::SegmentIndex(std::vector<Segment> segments, double cells_per_segment) : segments_(std::move(segments)) {
    if (segments_.empty()) return;
    double min_x = segments_[0].a.x, min_y = segments_[0].a.y, max_x = min_x, max_y = min_y;
    double total_length = 0;
    for (const Segment& s : segments_) {
        min_x = std::min({min_x, s.a.x, s.b.x});
        min_y = std::min({min_y, s.a.y, s.b.y});
        max_x = std::max({max_x, s.a.x, s.b.x});
        max_y = std::max({max_y, s.a.y, s.b.y});
        total_length += std::hypot(s.b.x - s.a.x, s.b.y - s.a.y);
    }
    origin_x_ = min_x;
    origin_y_ = min_y;
    max_x_ = max_x;
    max_y_ = max_y;
    // Cells about two average segments wide, and no more cells than a few per segment.
    const double extent = std::max({max_x - min_x, max_y - min_y, 1e-6});
    const double average = total_length / static_cast<double>(segments_.size());
    cell_size_ = std::max({cells_per_segment > 4 ? 0.0 : 2.0 * average,
                           extent / std::sqrt(cells_per_segment * static_cast<double>(segments_.size())), 1e-6});
    // Cells in a flat table (open addressing, key -> cell) over one array of segment positions,
    // each cell's in increasing order: no allocation per cell (an outline of a million segments
    // has hundreds of thousands of cells).
    auto for_each_cell = [&](std::uint32_t i, auto&& visit) {
        const Segment& s = segments_[i];
        const auto c0 = static_cast<std::int64_t>(std::floor((std::min(s.a.x, s.b.x) - origin_x_) / cell_size_));
        const auto c1 = static_cast<std::int64_t>(std::floor((std::max(s.a.x, s.b.x) - origin_x_) / cell_size_));
        const auto r0 = static_cast<std::int64_t>(std::floor((std::min(s.a.y, s.b.y) - origin_y_) / cell_size_));
        const auto r1 = static_cast<std::int64_t>(std::floor((std::max(s.a.y, s.b.y) - origin_y_) / cell_size_));
        for (auto c = c0; c <= c1; ++c)
            for (auto r = r0; r <= r1; ++r) visit(cell_key(c, r));
    };
    // The table is sized by the changes of cell from one entry to the next, a bound on the cells:
    // along an outline, dozens of consecutive segments share a cell, and a table sized by the
    // entries (a million) took tens of megabytes to clear. Consecutive entries of one cell also
    // skip the lookup.
    std::size_t entries = 0, changes = 0;
    std::int64_t previous = kEmptyCell;
    for (std::uint32_t i = 0; i < segments_.size(); ++i)
        for_each_cell(i, [&](std::int64_t key) {
            ++entries;
            changes += key != previous ? 1 : 0;
            previous = key;
        });
    slot_key_.assign(std::bit_ceil(2 * changes + 16), kEmptyCell);
    slot_cell_.assign(slot_key_.size(), 0);
    std::vector<std::uint32_t> entry_cell;
    entry_cell.reserve(entries);
    std::vector<std::uint32_t> count;
    previous = kEmptyCell;
    std::uint32_t previous_cell = 0;
    for (std::uint32_t i = 0; i < segments_.size(); ++i)
        for_each_cell(i, [&](std::int64_t key) {
            if (key != previous) {
                std::size_t slot = slot_of(key);
                while (slot_key_[slot] != kEmptyCell && slot_key_[slot] != key)
                    slot = (slot + 1) & (slot_key_.size() - 1);
                if (slot_key_[slot] == kEmptyCell) {
                    slot_key_[slot] = key;
                    slot_cell_[slot] = static_cast<std::uint32_t>(count.size());
                    count.push_back(0);
                }
                previous = key;
                previous_cell = slot_cell_[slot];
            }
            ++count[previous_cell];
            entry_cell.push_back(previous_cell);
        });
    cell_begin_.assign(count.size() + 1, 0);
    for (std::size_t c = 0; c < count.size(); ++c) cell_begin_[c + 1] = cell_begin_[c] + count[c];
    std::vector<std::uint32_t> next(cell_begin_.begin(), cell_begin_.end() - 1);
    items_.resize(entries);
    std::size_t k = 0;
    for (std::uint32_t i = 0; i < segments_.size(); ++i)
        for_each_cell(i, [&](std::int64_t) { items_[next[entry_cell[k++]]++] = i; });
    seen_.assign(segments_.size(), 0);
}

std::size_t SegmentIndex::slot_of(std::int64_t key) const noexcept {
    auto h = static_cast<std::uint64_t>(key);  // splitmix64's finaliser
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ULL;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBULL;
    h ^= h >> 31;
    return static_cast<std::size_t>(h) & (slot_key_.size() - 1);
}

std::span<const std::uint32_t> SegmentIndex::cell(std::int64_t column, std::int64_t row) const {
    const std::int64_t key = cell_key(column, row);
    for (std::size_t slot = slot_of(key);; slot = (slot + 1) & (slot_key_.size() - 1)) {
        if (slot_key_[slot] == key) {
            const std::uint32_t c = slot_cell_[slot];
            return {items_.data() + cell_begin_[c], cell_begin_[c + 1] - cell_begin_[c]};
        }
        if (slot_key_[slot] == kEmptyCell) return {};
    }
}

template <class Test>
bool SegmentIndex::any_near(Point p, Point q, bool along_segment, Test&& test) const {
    if (segments_.empty()) return false;
    if (++stamp_ == 0) {  // wrapped: reset the marks
        std::fill(seen_.begin(), seen_.end(), 0u);
        stamp_ = 1;
    }
    const auto c0 = static_cast<std::int64_t>(std::floor((std::min(p.x, q.x) - origin_x_) / cell_size_));
    const auto c1 = static_cast<std::int64_t>(std::floor((std::max(p.x, q.x) - origin_x_) / cell_size_));
    const auto r0 = static_cast<std::int64_t>(std::floor((std::min(p.y, q.y) - origin_y_) / cell_size_));
    const auto r1 = static_cast<std::int64_t>(std::floor((std::max(p.y, q.y) - origin_y_) / cell_size_));
    auto visit = [&](std::int64_t c, std::int64_t r) {
        for (std::uint32_t i : cell(c, r)) {
            if (seen_[i] == stamp_) continue;
            seen_[i] = stamp_;
            if (test(segments_[i])) return true;
        }
        return false;
    };
    const std::int64_t box_cells = (c1 - c0 + 1) * (r1 - r0 + 1);
    constexpr std::int64_t kWalked = 16;  // cells of a box above which a segment's own cells are walked
    if (along_segment && box_cells > kWalked) {
        // The cells along p-q, column by column: the rows the segment spans within the column,
        // one more each side for rounding. A stored segment meeting p-q does so at a point of one
        // of them, and is stored in that point's cell.
        if (4 * (c1 - c0 + r1 - r0 + 2) > static_cast<std::int64_t>(segments_.size())) {
            for (const Segment& s : segments_)
                if (test(s)) return true;
            return false;
        }
        const double dx = q.x - p.x, dy = q.y - p.y;
        const double low_x = std::min(p.x, q.x), high_x = std::max(p.x, q.x);
        for (auto c = c0; c <= c1; ++c) {
            std::int64_t from = r0, to = r1;
            if (dx != 0) {
                const double xa = std::max(low_x, origin_x_ + static_cast<double>(c) * cell_size_);
                const double xb = std::min(high_x, origin_x_ + static_cast<double>(c + 1) * cell_size_);
                const double ya = p.y + (xa - p.x) * dy / dx, yb = p.y + (xb - p.x) * dy / dx;
                from = std::max(r0,
                                static_cast<std::int64_t>(std::floor((std::min(ya, yb) - origin_y_) / cell_size_)) - 1);
                to = std::min(r1,
                              static_cast<std::int64_t>(std::floor((std::max(ya, yb) - origin_y_) / cell_size_)) + 1);
            }
            for (auto r = from; r <= to; ++r)
                if (visit(c, r)) return true;
        }
        return false;
    }
    if (box_cells > static_cast<std::int64_t>(segments_.size())) {  // a long query: scan all
        for (const Segment& s : segments_)
            if (test(s)) return true;
        return false;
    }
    for (auto c = c0; c <= c1; ++c)
        for (auto r = r0; r <= r1; ++r)
            if (visit(c, r)) return true;
    return false;
}

// The queries below test boxes first (apart_from_all): a query whose box is apart from all the
// stored segments' box skips the cell walk, which for a long query far off visits many cells (a
// quarter of the quality report went there, barriers clipped by each micro-grid near them).
bool SegmentIndex::intersects(Point p, Point q) const {
    if (apart_from_all(p, q)) return false;
    return any_near(p, q, true, [&](const Segment& s) { return segments_intersect(p, q, s.a, s.b); });
}

bool SegmentIndex::crosses(Point p, Point q) const {
    if (apart_from_all(p, q)) return false;
    return any_near(p, q, true, [&](const Segment& s) { return segment_interior_meets(p, q, s.a, s.b); });
}

void SegmentIndex::meeting(Point p, Point q, std::vector<Segment>& out) const {
    if (apart_from_all(p, q)) return;
    any_near(p, q, true, [&](const Segment& s) {
        if (segments_intersect(p, q, s.a, s.b)) out.push_back(s);
        return false;  // visit them all
    });
}

void SegmentIndex::meeting_positions(Point p, Point q, std::vector<std::uint32_t>& out) const {
    if (apart_from_all(p, q)) return;
    any_near(p, q, true, [&](const Segment& s) {
        if (segments_intersect(p, q, s.a, s.b)) out.push_back(static_cast<std::uint32_t>(&s - segments_.data()));
        return false;  // visit them all
    });
}

std::int64_t SegmentIndex::nearest(Point p, int max_rings) const {
    if (segments_.empty()) return -1;
    auto squared_distance = [&](const Segment& s) { return squared_distance_to(p, s.a, s.b); };
    const auto column = static_cast<std::int64_t>(std::floor((p.x - origin_x_) / cell_size_));
    const auto row = static_cast<std::int64_t>(std::floor((p.y - origin_y_) / cell_size_));
    std::int64_t best = -1;
    double best_squared = 0;
    auto visit = [&](std::int64_t c, std::int64_t r) {
        for (std::uint32_t i : cell(c, r)) {
            const double d = squared_distance(segments_[i]);
            if (best < 0 || d < best_squared || (d == best_squared && i < best)) {
                best = i;
                best_squared = d;
            }
        }
    };
    for (std::int64_t k = 0; k <= max_rings; ++k) {
        // The ring of cells k away from p's cell (its square's border).
        for (std::int64_t c = column - k; c <= column + k; ++c) {
            visit(c, row - k);
            if (k > 0) visit(c, row + k);
        }
        for (std::int64_t r = row - k + 1; r <= row + k - 1; ++r) {
            visit(column - k, r);
            visit(column + k, r);
        }
        // A segment not met yet lies in cells at least k + 1 away: k whole cells from p.
        const double reach = static_cast<double>(k) * cell_size_;
        if (best >= 0 && best_squared <= reach * reach) return best;
        // It lies outside the square of cells k around p's cell, so beyond k cells plus p's
        // distance to its own cell's nearest side: when the best is nearer than that by more than
        // rounding, the rings still to come would not change it (next to a dense outline, p's own
        // cell tells, instead of the eight around it too). Not at the last ring, where the walk
        // above would find none.
        if (best >= 0 && k < max_rings) {
            const double x = p.x - origin_x_ - static_cast<double>(column) * cell_size_;
            const double y = p.y - origin_y_ - static_cast<double>(row) * cell_size_;
            const double side = std::min({x, cell_size_ - x, y, cell_size_ - y});
            const double slack = 1e-6 + 1e-12 * (std::abs(p.x) + std::abs(p.y));
            const double clear = reach + side - slack;
            if (clear > 0 && best_squared < clear * clear) return best;
        }
    }
    return -1;
}

bool SegmentIndex::within(Point p, Point q, double distance) const {
    const double squared = distance * distance;
    const Point low{std::min(p.x, q.x) - distance, std::min(p.y, q.y) - distance};
    const Point high{std::max(p.x, q.x) + distance, std::max(p.y, q.y) + distance};
    return any_near(low, high, false, [&](const Segment& s) {
        // Apart segments are nearest at an endpoint of one of them.
        return segments_intersect(p, q, s.a, s.b) || squared_distance_to(p, s.a, s.b) <= squared ||
               squared_distance_to(q, s.a, s.b) <= squared || squared_distance_to(s.a, p, q) <= squared ||
               squared_distance_to(s.b, p, q) <= squared;
    });
}

bool SegmentIndex::near_box(Point low, Point high) const {
    return any_near(low, high, false, [&](const Segment& s) {
        return std::min(s.a.x, s.b.x) <= high.x && std::max(s.a.x, s.b.x) >= low.x &&
               std::min(s.a.y, s.b.y) <= high.y && std::max(s.a.y, s.b.y) >= low.y;
    });
}

}  // namespace civgrid::algorithms
