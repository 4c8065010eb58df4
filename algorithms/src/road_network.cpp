#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/road_network.hpp>

#include <boost/iterator/counting_iterator.hpp>
#include <boost/pending/disjoint_sets.hpp>
#include <civgrid/error.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <queue>

namespace civgrid::algorithms {

namespace {

constexpr const char* kStage = "algorithms.road_network";

// Distance from p to segment a-b, and how far along a-b the nearest point lies.
std::pair<double, double> to_segment(Point p, Point a, Point b) {
    const double dx = b.x - a.x, dy = b.y - a.y, length2 = dx * dx + dy * dy;
    const double t = length2 > 0 ? std::clamp(((p.x - a.x) * dx + (p.y - a.y) * dy) / length2, 0.0, 1.0) : 0.0;
    return {std::hypot(p.x - (a.x + t * dx), p.y - (a.y + t * dy)), t * std::sqrt(length2)};
}

}  // namespace

RoadNetwork::RoadNetwork(const std::vector<Wkb>& lines, double snap_m) {
    const geos::Context context;
    std::vector<geos::Geom> parts;
    for (const Wkb& wkb : lines)
        if (!wkb.empty()) geos::collect_lines(context, geos::from_wkb(context, wkb).get(), parts);
    if (parts.empty()) return;
    // Noding splits every line where another crosses or touches it, so roads meet at junctions.
    const geos::Geom all = geos::collection(context, GEOS_MULTILINESTRING, std::move(parts));
    const geos::Geom noded = geos::own(context, GEOSNode_r(context.handle(), all.get()), "noding the road lines");
    std::vector<geos::Geom> pieces;
    geos::collect_lines(context, noded.get(), pieces);

    // Line ends become nodes; ends within snap_m of an existing node join it.
    const double snap = std::max(snap_m, 1e-6);
    std::unordered_map<std::int64_t, std::vector<std::uint32_t>> snap_cells;
    auto snap_key = [&](double x, double y) { return key(CellGrid::index(x / snap), CellGrid::index(y / snap)); };
    auto node_at = [&](Point p) {
        const std::int64_t c = CellGrid::index(p.x / snap), r = CellGrid::index(p.y / snap);
        std::uint32_t best = 0;
        double best_distance = kUnreached;
        for (std::int64_t dc = -1; dc <= 1; ++dc)
            for (std::int64_t dr = -1; dr <= 1; ++dr) {
                const auto it = snap_cells.find(key(c + dc, r + dr));
                if (it == snap_cells.end()) continue;
                for (std::uint32_t n : it->second) {
                    const double d = std::hypot(nodes_[n].x - p.x, nodes_[n].y - p.y);
                    if (d <= snap && d < best_distance) best = n, best_distance = d;
                }
            }
        if (best_distance < kUnreached) return best;
        nodes_.push_back(p);
        snap_cells[snap_key(p.x, p.y)].push_back(static_cast<std::uint32_t>(nodes_.size() - 1));
        return static_cast<std::uint32_t>(nodes_.size() - 1);
    };
    for (const geos::Geom& piece : pieces) {
        const std::vector<Point> vertices = geos::vertices(context, piece.get());
        if (vertices.size() < 2) continue;
        double length = 0;
        for (std::size_t i = 1; i < vertices.size(); ++i)
            length += std::hypot(vertices[i].x - vertices[i - 1].x, vertices[i].y - vertices[i - 1].y);
        const std::uint32_t from = node_at(vertices.front()), to = node_at(vertices.back());
        if (from == to && length <= snap) continue;  // a sliver that snapping closed
        const auto edge = static_cast<std::uint32_t>(edges_.size());
        edges_.push_back({from, to, length});
        double offset = 0;
        for (std::size_t i = 1; i < vertices.size(); ++i) {
            segments_.push_back({vertices[i - 1], vertices[i], edge, offset});
            offset += std::hypot(vertices[i].x - vertices[i - 1].x, vertices[i].y - vertices[i - 1].y);
        }
    }
    if (edges_.empty()) return;

    // Adjacency, both directions.
    arc_begin_.assign(nodes_.size() + 1, 0);
    for (const Edge& e : edges_) ++arc_begin_[e.from + 1], ++arc_begin_[e.to + 1];
    std::partial_sum(arc_begin_.begin(), arc_begin_.end(), arc_begin_.begin());
    arcs_.resize(arc_begin_.back());
    std::vector<std::size_t> fill(arc_begin_.begin(), arc_begin_.end() - 1);
    for (const Edge& e : edges_) {
        arcs_[fill[e.from]++] = {e.to, e.length};
        arcs_[fill[e.to]++] = {e.from, e.length};
    }
    // Connected pieces of the network: Boost's union-find (rank and path compression).
    boost::disjoint_sets_with_storage<> joined(nodes_.size());
    for (std::uint32_t n = 0; n < nodes_.size(); ++n) joined.make_set(n);
    for (const Edge& e : edges_) joined.union_set(e.from, e.to);
    components_ = joined.count_sets(boost::counting_iterator<std::size_t>(0),
                                    boost::counting_iterator<std::size_t>(nodes_.size()));

    // A grid over the segments: cells about one mean segment long.
    double min_x = nodes_[0].x, min_y = nodes_[0].y, max_x = min_x, max_y = min_y, total = 0;
    for (const Segment& s : segments_) {
        min_x = std::min({min_x, s.a.x, s.b.x});
        min_y = std::min({min_y, s.a.y, s.b.y});
        max_x = std::max({max_x, s.a.x, s.b.x});
        max_y = std::max({max_y, s.a.y, s.b.y});
        total += std::hypot(s.b.x - s.a.x, s.b.y - s.a.y);
    }
    grid_.origin = {min_x, min_y};
    // No more cells than a few per segment: one road far out (a corrupt vertex) would otherwise
    // spread one segment over billions of cells.
    const double extent = std::max(max_x - min_x, max_y - min_y);
    grid_.cell = std::max({snap, total / static_cast<double>(segments_.size()),
                           extent / std::sqrt(4.0 * static_cast<double>(segments_.size()))});
    for (std::uint32_t i = 0; i < segments_.size(); ++i) {
        const Segment& s = segments_[i];
        for (std::int64_t c = column(std::min(s.a.x, s.b.x)); c <= column(std::max(s.a.x, s.b.x)); ++c)
            for (std::int64_t r = row(std::min(s.a.y, s.b.y)); r <= row(std::max(s.a.y, s.b.y)); ++r)
                segment_cells_[key(c, r)].push_back(i);
    }
    first_column_ = column(min_x), first_row_ = row(min_y);
    for (const Segment& s : segments_) {
        last_column_ = std::max({last_column_, column(s.a.x), column(s.b.x)});
        last_row_ = std::max({last_row_, row(s.a.y), row(s.b.y)});
    }
}

std::optional<RoadNetwork::Attachment> RoadNetwork::attach(Point p) const {
    if (segments_.empty()) return std::nullopt;
    // Rings of cells around p, widening until the best found is nearer than the ring's reach
    // (everything within k cells' distance has been seen after ring k) or the grid is covered.
    const std::int64_t c0 = column(p.x), r0 = row(p.y);
    const std::int64_t last_ring = std::max({std::abs(c0 - first_column_), std::abs(c0 - last_column_),
                                             std::abs(r0 - first_row_), std::abs(r0 - last_row_)});
    double best = kUnreached;
    Attachment found;
    auto visit = [&](std::int64_t c, std::int64_t r) {
        const auto it = segment_cells_.find(key(c, r));
        if (it == segment_cells_.end()) return;
        for (std::uint32_t i : it->second) {
            const Segment& s = segments_[i];
            const auto [d, along] = to_segment(p, s.a, s.b);
            if (d < best || (d == best && s.edge < found.edge)) {
                best = d;
                found = {s.edge, s.offset + along, d};
            }
        }
    };
    // Rings start where they first meet the grid's cells and visit only the cells within it: a
    // point far from every road (a home at 1e8 m) would otherwise walk (distance / cell)^2 empty cells.
    const std::int64_t first_ring =
        std::max({std::int64_t{0}, first_column_ - c0, c0 - last_column_, first_row_ - r0, r0 - last_row_});
    auto in_columns = [&](std::int64_t c) { return c >= first_column_ && c <= last_column_; };
    auto in_rows = [&](std::int64_t r) { return r >= first_row_ && r <= last_row_; };
    for (std::int64_t k = first_ring; k <= last_ring; ++k) {
        if (k == 0) {
            visit(c0, r0);
        } else {
            const std::int64_t c_low = std::max(c0 - k, first_column_), c_high = std::min(c0 + k, last_column_);
            const std::int64_t r_low = std::max(r0 - k + 1, first_row_), r_high = std::min(r0 + k - 1, last_row_);
            for (std::int64_t c = c_low; c <= c_high; ++c) {
                if (in_rows(r0 - k)) visit(c, r0 - k);
                if (in_rows(r0 + k)) visit(c, r0 + k);
            }
            for (std::int64_t r = r_low; r <= r_high; ++r) {
                if (in_columns(c0 - k)) visit(c0 - k, r);
                if (in_columns(c0 + k)) visit(c0 + k, r);
            }
        }
        if (best <= static_cast<double>(k) * grid_.cell) break;
    }
    return found;
}

NetworkSearch::NetworkSearch(const RoadNetwork& network)
    : network_(network),
      distance_(network.node_count(), kUnreached),
      settled_(network.node_count(), 0),
      target_(network.node_count(), 0) {}

void NetworkSearch::run(std::span<const RoadNetwork::Attachment> sources,
                        std::span<const RoadNetwork::Attachment> targets, double limit) {
    for (std::uint32_t n : touched_) distance_[n] = kUnreached, settled_[n] = 0, target_[n] = 0;
    touched_.clear();
    auto touch = [&](std::uint32_t n) {
        if (distance_[n] == kUnreached && target_[n] == 0) touched_.push_back(n);
    };
    std::size_t targets_left = 0;
    for (const RoadNetwork::Attachment& t : targets)
        for (std::uint32_t n : {network_.edge(t.edge).from, network_.edge(t.edge).to})
            if (target_[n] == 0) {
                touch(n);
                target_[n] = 1;
                ++targets_left;
            }
    sources_.assign(sources.begin(), sources.end());
    std::sort(sources_.begin(), sources_.end(),
              [](const auto& a, const auto& b) { return a.edge < b.edge || (a.edge == b.edge && a.along < b.along); });
    using Entry = std::pair<double, std::uint32_t>;
    std::priority_queue<Entry, std::vector<Entry>, std::greater<>> queue;
    auto reach = [&](std::uint32_t n, double d) {
        if (d < distance_[n]) {
            touch(n);
            distance_[n] = d;
            queue.emplace(d, n);
        }
    };
    for (const RoadNetwork::Attachment& source : sources_) {
        const RoadNetwork::Edge& e = network_.edge(source.edge);
        reach(e.from, source.access + source.along);
        reach(e.to, source.access + (e.length - source.along));
    }
    while (!queue.empty() && targets_left > 0) {
        const auto [d, n] = queue.top();
        queue.pop();
        if (settled_[n] != 0 || d > distance_[n]) continue;
        if (d > limit) break;
        settled_[n] = 1;
        if (target_[n] != 0) --targets_left;
        for (const RoadNetwork::Arc& arc : network_.arcs(n)) reach(arc.node, d + arc.length);
    }
    // Tentative distances beyond what was settled are upper bounds only; forget them.
    for (std::uint32_t n : touched_)
        if (settled_[n] == 0) distance_[n] = kUnreached;
}

double NetworkSearch::distance(std::uint32_t node) const {
    return distance_[node];
}

double NetworkSearch::distance(const RoadNetwork::Attachment& point) const {
    const RoadNetwork::Edge& e = network_.edge(point.edge);
    double best = std::min(distance_[e.from] + point.along, distance_[e.to] + (e.length - point.along));
    // Sources on the same edge reach it directly, without passing a node.
    const auto first =
        std::lower_bound(sources_.begin(), sources_.end(), point.edge,
                         [](const RoadNetwork::Attachment& s, std::uint32_t edge) { return s.edge < edge; });
    for (auto it = first; it != sources_.end() && it->edge == point.edge; ++it)
        best = std::min(best, it->access + std::abs(it->along - point.along));
    return point.access + best;
}

}  // namespace civgrid::algorithms
