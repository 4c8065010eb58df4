#include "ring_math.hpp"

#include <civgrid/algorithms/polygonize.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <tuple>

namespace civgrid::algorithms {

namespace {

using detail::ring_contains;
using detail::twice_signed_area;

constexpr auto kNone = std::numeric_limits<std::uint32_t>::max();

// Quadrant of a direction, as GEOS numbers them (0 NE, 1 NW, 2 SW, 3 SE; an axis belongs to the
// quadrant counter-clockwise of it), so edges around a node sort as GEOS's DirectedEdgeStar.
int quadrant(double dx, double dy) {
    if (dx >= 0) return dy >= 0 ? 0 : 3;
    return dy >= 0 ? 1 : 2;
}

struct Box {
    double min_x, min_y, max_x, max_y;
    [[nodiscard]] bool covers(const Box& o) const noexcept {
        return min_x <= o.min_x && min_y <= o.min_y && max_x >= o.max_x && max_y >= o.max_y;
    }
    [[nodiscard]] bool operator==(const Box&) const = default;
};

Box box_of(const std::vector<Point>& ring) {
    Box b{ring[0].x, ring[0].y, ring[0].x, ring[0].y};
    for (const Point& p : ring) {
        b.min_x = std::min(b.min_x, p.x), b.max_x = std::max(b.max_x, p.x);
        b.min_y = std::min(b.min_y, p.y), b.max_y = std::max(b.max_y, p.y);
    }
    return b;
}

// The planar graph of the linework: edge e runs along points_[begin[e], begin[e + 1]); directed
// edge 2e runs forwards from its first point, 2e + 1 backwards from its last.
class Graph {
public:
    Graph(const geos::Context& context, const GEOSGeometry* linework,
          std::span<const std::pair<Point, Point>> segments) {
        std::vector<geos::Geom> lines;
        geos::collect_lines(context, linework, lines);
        const auto handle = context.handle();
        std::vector<Point> buffer;
        begin_.push_back(0);
        for (const geos::Geom& line : lines) {
            const GEOSCoordSequence* sequence = GEOSGeom_getCoordSeq_r(handle, line.get());
            unsigned size = 0;
            if (sequence == nullptr || GEOSCoordSeq_getSize_r(handle, sequence, &size) == 0 || size < 2) continue;
            buffer.resize(size);
            static_assert(sizeof(Point) == 2 * sizeof(double));
            GEOSCoordSeq_copyToBuffer_r(handle, sequence, &buffer.front().x, 0, 0);
            // Repeated points removed, as GEOS's graph does; a line left with one point is none.
            const std::size_t start = points_.size();
            for (const Point& p : buffer)
                if (points_.size() == start || !(points_.back() == p)) points_.push_back(p);
            if (points_.size() - start < 2) {
                points_.resize(start);
                continue;
            }
            begin_.push_back(points_.size());
        }
        for (const auto& [a, b] : segments) {
            if (a == b) continue;
            points_.push_back(a);
            points_.push_back(b);
            begin_.push_back(points_.size());
        }
        const std::size_t directed = 2 * edge_count();
        origin_.assign(directed, 0);
        // Directed edges sorted by origin, then counter-clockwise from the positive x axis.
        std::vector<std::uint32_t> order(directed);
        std::iota(order.begin(), order.end(), 0u);
        std::sort(order.begin(), order.end(), [&](std::uint32_t i, std::uint32_t j) {
            const Point a = from(i), b = from(j);
            if (!(a == b)) return std::tie(a.x, a.y) < std::tie(b.x, b.y);
            const Point u = toward(i), w = toward(j);
            const int qi = quadrant(u.x - a.x, u.y - a.y), qj = quadrant(w.x - a.x, w.y - a.y);
            if (qi != qj) return qi < qj;
            return (u.x - a.x) * (w.y - a.y) - (u.y - a.y) * (w.x - a.x) > 0;  // j counter-clockwise of i
        });
        star_begin_.push_back(0);
        for (std::size_t k = 0; k < order.size(); ++k) {
            if (k > 0 && !(from(order[k]) == from(order[k - 1]))) star_begin_.push_back(k);
            origin_[order[k]] = static_cast<std::uint32_t>(star_begin_.size() - 1);
        }
        star_begin_.push_back(order.size());
        star_ = std::move(order);
    }

    [[nodiscard]] std::size_t edge_count() const noexcept { return begin_.size() - 1; }
    [[nodiscard]] std::size_t node_count() const noexcept { return star_begin_.size() - 1; }
    [[nodiscard]] std::uint32_t origin(std::uint32_t d) const noexcept { return origin_[d]; }

    // next[d]: the directed edge a ring takes after d (GEOS's computeNextCWEdges): at d's end, the
    // out-edge following d's twin counter-clockwise, among edges not removed.
    [[nodiscard]] std::vector<std::uint32_t> next_edges(const std::vector<char>& removed) const {
        std::vector<std::uint32_t> next(2 * edge_count(), kNone);
        for (std::size_t n = 0; n < node_count(); ++n) {
            std::uint32_t first = kNone, previous = kNone;
            for (std::size_t k = star_begin_[n]; k < star_begin_[n + 1]; ++k) {
                const std::uint32_t out = star_[k];
                if (removed[out / 2] != 0) continue;
                if (first == kNone) first = out;
                if (previous != kNone) next[previous ^ 1u] = out;
                previous = out;
            }
            if (previous != kNone) next[previous ^ 1u] = first;
        }
        return next;
    }

    // Appends the points of directed edge d to `ring`, less its first point when the ring has some.
    void append(std::uint32_t d, std::vector<Point>& ring) const {
        const std::size_t e = d / 2, b = begin_[e], end = begin_[e + 1];
        if ((d & 1u) == 0) {
            for (std::size_t i = ring.empty() ? b : b + 1; i < end; ++i) ring.push_back(points_[i]);
        } else {
            for (std::size_t i = ring.empty() ? end : end - 1; i > b; --i) ring.push_back(points_[i - 1]);
        }
    }

private:
    [[nodiscard]] Point from(std::uint32_t d) const noexcept {
        const std::size_t e = d / 2;
        return (d & 1u) == 0 ? points_[begin_[e]] : points_[begin_[e + 1] - 1];
    }
    [[nodiscard]] Point toward(std::uint32_t d) const noexcept {
        const std::size_t e = d / 2;
        return (d & 1u) == 0 ? points_[begin_[e] + 1] : points_[begin_[e + 1] - 2];
    }

    std::vector<Point> points_;
    std::vector<std::size_t> begin_;
    std::vector<std::uint32_t> origin_;    // node of each directed edge
    std::vector<std::uint32_t> star_;      // directed edges by node, counter-clockwise
    std::vector<std::size_t> star_begin_;  // per node, into star_
};

// Labels every directed edge (not removed) with the ring `next` takes it around.
std::vector<std::uint32_t> ring_labels(const std::vector<std::uint32_t>& next, const std::vector<char>& removed) {
    std::vector<std::uint32_t> label(next.size(), kNone);
    std::uint32_t rings = 0;
    for (std::uint32_t start = 0; start < next.size(); ++start) {
        if (removed[start / 2] != 0 || label[start] != kNone) continue;
        for (std::uint32_t d = start; d != kNone && label[d] == kNone; d = next[d]) label[d] = rings;
        ++rings;
    }
    return label;
}

}  // namespace

std::vector<geos::Geom> polygonize_noded(const geos::Context& context, const GEOSGeometry* linework) {
    return polygonize_noded(context, linework, {});
}

std::vector<geos::Geom> polygonize_noded(const geos::Context& context, const GEOSGeometry* linework,
                                         std::span<const std::pair<Point, Point>> segments) {
    const Graph graph(context, linework, segments);
    const std::size_t edges = graph.edge_count();
    // Dangles and cut edges have the same ring on both sides: removed (both kinds are bridges, so
    // removing them makes no new one).
    std::vector<char> removed(edges, 0);
    std::vector<std::uint32_t> next = graph.next_edges(removed);
    {
        const std::vector<std::uint32_t> label = ring_labels(next, removed);
        bool any = false;
        for (std::size_t e = 0; e < edges; ++e)
            if (label[2 * e] == label[2 * e + 1]) removed[e] = 1, any = true;
        if (any) next = graph.next_edges(removed);
    }

    // Rings, each split at the nodes it passes twice into minimal rings (GEOS's
    // convertMaximalToMinimalEdgeRings); shells are clockwise, holes counter-clockwise.
    std::vector<std::vector<Point>> shells, holes;
    std::vector<char> used(next.size(), 0);
    std::vector<std::uint32_t> stack_position(graph.node_count(), 0);  // 1 + position, 0 when not on it
    std::vector<std::uint32_t> stack;
    auto emit = [&](std::size_t from) {
        std::vector<Point> ring;
        for (std::size_t k = from; k < stack.size(); ++k) {
            stack_position[graph.origin(stack[k])] = 0;
            graph.append(stack[k], ring);
        }
        stack.resize(from);
        if (ring.size() < 4) return;
        const double area = twice_signed_area(ring);
        if (area < 0)
            shells.push_back(std::move(ring));
        else if (area > 0)
            holes.push_back(std::move(ring));
    };
    for (std::uint32_t start = 0; start < next.size(); ++start) {
        if (removed[start / 2] != 0 || used[start] != 0) continue;
        stack.clear();
        for (std::uint32_t d = start; d != kNone && used[d] == 0; d = next[d]) {
            used[d] = 1;
            stack_position[graph.origin(d)] = static_cast<std::uint32_t>(stack.size() + 1);
            stack.push_back(d);
            const std::uint32_t to = next[d] == kNone ? kNone : graph.origin(next[d]);
            if (to != kNone && stack_position[to] != 0) emit(stack_position[to] - 1);
        }
        // A ring always closes (every directed edge has a next); anything left is not a ring.
        for (std::uint32_t d : stack) stack_position[graph.origin(d)] = 0;
    }

    // Each hole goes to the smallest shell around it, told by the middle of its first segment: a
    // hole (the outer ring of a component of the linework inside the face, or a part of the face's
    // ring pinched off at a node) shares no segment with a shell once cut edges are gone, so that
    // point is strictly inside or outside each shell.
    std::vector<Box> shell_boxes;
    std::vector<double> shell_areas;
    for (const auto& shell : shells) {
        shell_boxes.push_back(box_of(shell));
        shell_areas.push_back(-twice_signed_area(shell) / 2);
    }
    std::vector<std::vector<std::size_t>> shell_holes(shells.size());
    for (std::size_t h = 0; h < holes.size(); ++h) {
        const Box box = box_of(holes[h]);
        const Point probe{(holes[h][0].x + holes[h][1].x) / 2, (holes[h][0].y + holes[h][1].y) / 2};
        std::size_t owner = shells.size();
        for (std::size_t s = 0; s < shells.size(); ++s) {
            if (shell_boxes[s] == box || !shell_boxes[s].covers(box)) continue;
            if (owner < shells.size() && shell_areas[s] >= shell_areas[owner]) continue;
            if (ring_contains(shells[s], probe)) owner = s;
        }
        if (owner < shells.size()) shell_holes[owner].push_back(h);
    }
    std::vector<geos::Geom> faces;
    faces.reserve(shells.size());
    for (std::size_t s = 0; s < shells.size(); ++s) {
        std::vector<std::vector<Point>> own_holes;
        for (std::size_t h : shell_holes[s]) own_holes.push_back(std::move(holes[h]));
        faces.push_back(geos::polygon(context, shells[s], own_holes));
    }
    return faces;
}

}  // namespace civgrid::algorithms
