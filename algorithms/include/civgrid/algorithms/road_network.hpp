// Roads as a graph, for distances along the network instead of straight lines (staffing's
// --network-distance). The lines are noded with GEOS so that crossing roads meet, and line ends
// closer than a snap tolerance become one node (tile edges, digitising gaps). A point joins the
// network at its nearest point on a road, by a straight access leg.
#pragma once

#include <civgrid/algorithms/cell_grid.hpp>
#include <civgrid/types.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

namespace civgrid::algorithms {

class RoadNetwork {
public:
    struct Edge {
        std::uint32_t from = 0, to = 0;
        double length = 0;  ///< along the road, metres
    };
    struct Arc {
        std::uint32_t node = 0;
        double length = 0;
    };
    /// A point on the network: on `edge`, `along` metres from its `from` node; `access` metres
    /// (a straight leg, or any starting cost) away.
    struct Attachment {
        std::uint32_t edge = 0;
        double along = 0, access = 0;
    };

    /// Builds the network from line (or polygon ring) WKB in a projected CRS; null entries are
    /// skipped. Ends within `snap_m` of each other are joined.
    explicit RoadNetwork(const std::vector<Wkb>& lines, double snap_m = 1.0);

    [[nodiscard]] bool empty() const noexcept { return edges_.empty(); }
    [[nodiscard]] std::size_t node_count() const noexcept { return nodes_.size(); }
    [[nodiscard]] std::size_t edge_count() const noexcept { return edges_.size(); }
    /// Connected pieces of the network (a road graph split by a river with no bridge has two).
    [[nodiscard]] std::size_t component_count() const noexcept { return components_; }
    [[nodiscard]] Point node(std::uint32_t n) const { return nodes_[n]; }
    [[nodiscard]] const Edge& edge(std::uint32_t e) const { return edges_[e]; }
    [[nodiscard]] std::span<const Arc> arcs(std::uint32_t n) const {
        return {arcs_.data() + arc_begin_[n], arcs_.data() + arc_begin_[n + 1]};
    }
    /// The nearest point of the network to p; nullopt for an empty network.
    [[nodiscard]] std::optional<Attachment> attach(Point p) const;
    /// A straight piece of an edge.
    struct Segment {
        Point a, b;
        std::uint32_t edge;
        double offset;  ///< distance along the edge to a
    };
    [[nodiscard]] const Segment& segment(std::uint32_t s) const { return segments_[s]; }
    /// Calls visit(segment index) for every segment meeting the box (some more than once, and
    /// possibly a few just outside it).
    template <class Visit>
    void segments_in_box(Point low, Point high, Visit&& visit) const {
        if (segments_.empty()) return;
        for (std::int64_t c = std::max(column(low.x), first_column_); c <= std::min(column(high.x), last_column_); ++c)
            for (std::int64_t r = std::max(row(low.y), first_row_); r <= std::min(row(high.y), last_row_); ++r) {
                const auto it = segment_cells_.find(key(c, r));
                if (it != segment_cells_.end())
                    for (std::uint32_t s : it->second) visit(s);
            }
    }

private:
    [[nodiscard]] std::int64_t column(double x) const { return grid_.column(x); }
    [[nodiscard]] std::int64_t row(double y) const { return grid_.row(y); }
    [[nodiscard]] static std::int64_t key(std::int64_t c, std::int64_t r) { return CellGrid::key(c, r); }

    std::vector<Point> nodes_;
    std::vector<Edge> edges_;
    std::vector<Arc> arcs_;
    std::vector<std::size_t> arc_begin_;
    std::vector<Segment> segments_;
    std::size_t components_ = 0;
    // Uniform grids over the segments and the nodes.
    CellGrid grid_;
    std::int64_t first_column_ = 0, last_column_ = 0, first_row_ = 0, last_row_ = 0;
    std::unordered_map<std::int64_t, std::vector<std::uint32_t>> segment_cells_;
};

/// Shortest distances over a RoadNetwork from several sources at once (Dijkstra), reusable: one
/// per thread, reset in time proportional to what the last search touched.
/// Hand-made rather than Boost.Graph's dijkstra_shortest_paths, which initialises and searches
/// the whole graph each time: 2,000 staffing-sized searches take 10 ms here, 2.6 s with Boost
/// (bench: BM_RoadSearch).
class NetworkSearch {
public:
    explicit NetworkSearch(const RoadNetwork& network);

    /// Distances from points on the network (each starting at its `access`) up to `limit` metres;
    /// stops as soon as both ends of every target's edge are settled.
    void run(std::span<const RoadNetwork::Attachment> sources, std::span<const RoadNetwork::Attachment> targets,
             double limit);
    /// Shortest distance found to a node; infinity when it was not reached within the limit.
    [[nodiscard]] double distance(std::uint32_t node) const;
    /// Distance to a point on the network, plus its `access`: through either end of its edge, or
    /// straight along the edge from a source on the same edge; infinity when none was reached.
    [[nodiscard]] double distance(const RoadNetwork::Attachment& point) const;

private:
    const RoadNetwork& network_;
    std::vector<RoadNetwork::Attachment> sources_;  ///< of the last run, by edge
    std::vector<double> distance_;
    std::vector<std::uint32_t> touched_;
    std::vector<std::uint8_t> settled_, target_;
};

inline constexpr double kUnreached = std::numeric_limits<double>::infinity();

}  // namespace civgrid::algorithms
