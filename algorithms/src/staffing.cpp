#include "point_grid.hpp"
#include "wkb_rings.hpp"

#include <civgrid/algorithms/cell_grid.hpp>
#include <civgrid/algorithms/detailed_outline.hpp>
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/parallel.hpp>
#include <civgrid/algorithms/staffing.hpp>
#include <civgrid/algorithms/transport.hpp>
#include <civgrid/error.hpp>

#include <tbb/combinable.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <unordered_map>

namespace civgrid::algorithms {

namespace {

constexpr const char* kStage = "algorithms.staffing";
// Added to the cost of a worker no road path reaches: more than any real distance, so the solver
// uses such a worker only when nothing reachable is left.
constexpr double kNoRoadPenalty = 1e7;
// What an arc's cost means in metres, and whether it went off the roads.
double metres(double cost) {
    return cost >= kNoRoadPenalty ? cost - kNoRoadPenalty : cost;
}

// A polygon's rings as plain vertices: distances to tens of points per polygon, half a million in
// all, are far cheaper by hand than through GEOS predicates.
struct Rings {
    std::vector<std::vector<Point>> rings;
    geos::Envelope box;

    // The rings of 2D little-endian WKB as io and the partition write it, in GEOS's order (each
    // polygon's shell, then its holes); nothing for anything else or no vertex (GEOS reads those).
    static std::optional<Rings> of_plain_wkb(const Wkb& wkb) {
        detail::Rings plain;
        if (!detail::read_polygonal(wkb, plain) || plain.points.empty()) return std::nullopt;
        std::optional<Rings> result(std::in_place);
        Rings& out = *result;
        out.box = {plain.points[0].x, plain.points[0].y, plain.points[0].x, plain.points[0].y};
        for (const Point& p : plain.points) {
            out.box.min_x = std::min(out.box.min_x, p.x), out.box.max_x = std::max(out.box.max_x, p.x);
            out.box.min_y = std::min(out.box.min_y, p.y), out.box.max_y = std::max(out.box.max_y, p.y);
        }
        std::size_t begin = 0;
        for (const std::size_t end : plain.ring_end) {
            out.rings.emplace_back(plain.points.begin() + static_cast<std::ptrdiff_t>(begin),
                                   plain.points.begin() + static_cast<std::ptrdiff_t>(end));
            begin = end;
        }
        if (plain.points.size() > static_cast<std::size_t>(kDetailedOutline)) out.make_blocks();
        return result;
    }
    Rings() = default;
    Rings(const geos::Context& context, const GEOSGeometry* polygon) : box(geos::envelope(context, polygon)) {
        std::vector<geos::Geom> lines;
        geos::collect_lines(context, polygon, lines);
        std::size_t vertices = 0;
        for (const geos::Geom& line : lines) {
            rings.push_back(geos::vertices(context, line.get()));
            vertices += rings.back().size();
        }
        if (vertices > static_cast<std::size_t>(kDetailedOutline)) make_blocks();
    }
    // 0 inside (even-odd over every ring), else the distance to the nearest edge: the smallest
    // std::hypot of p's offset from an edge's foot point. The inside test walks the edges alone
    // first (a comparison each; about half the points asked for are inside). hypot on every edge
    // was a third of staffing's time: edges are compared by squared offsets, skipped when their
    // box lies farther than the nearest so far; those within rounding of the nearest so far are
    // kept, and hypot is taken at the end of those within rounding of the nearest of all, so the
    // answer is the same to the bit.
    [[nodiscard]] double distance(Point p) const {
        if (!blocks_.empty()) return distance_by_blocks(p);
        bool inside = false;
        for (const auto& ring : rings)
            for (std::size_t i = 1; i < ring.size(); ++i) crossing(ring[i - 1], ring[i], p, inside);
        if (inside) return 0.0;
        // hypot and the rounded sum of squares order two offsets alike unless they are within a
        // few units in the last place of each other.
        constexpr double kRounding = 1e-9;
        double best_squared = std::numeric_limits<double>::infinity(), near = best_squared;
        std::array<std::pair<double, Point>, 16> kept;  // (squared, offset) within rounding of the nearest so far
        std::size_t kept_count = 0;
        double overflow_best = best_squared;  // hypot of those beyond `kept`'s room, taken at once
        for (const auto& ring : rings)
            for (std::size_t i = 1; i < ring.size(); ++i) {
                const Point a = ring[i - 1], b = ring[i];
                const double box_x = std::max({0.0, std::min(a.x, b.x) - p.x, p.x - std::max(a.x, b.x)});
                const double box_y = std::max({0.0, std::min(a.y, b.y) - p.y, p.y - std::max(a.y, b.y)});
                if (box_x * box_x + box_y * box_y > near) continue;
                const Point offset = foot_offset(a, b, p);
                const double squared = offset.x * offset.x + offset.y * offset.y;
                if (!(squared <= near)) continue;
                if (squared < best_squared) {
                    best_squared = squared;
                    near = squared * (1 + kRounding);
                    // Drop those no longer within rounding of the nearest.
                    std::size_t still = 0;
                    for (std::size_t k = 0; k < kept_count; ++k)
                        if (kept[k].first <= near) kept[still++] = kept[k];
                    kept_count = still;
                }
                if (kept_count < kept.size())
                    kept[kept_count++] = {squared, offset};
                else
                    overflow_best = std::min(overflow_best, std::hypot(offset.x, offset.y));
            }
        double best = overflow_best;
        for (std::size_t k = 0; k < kept_count; ++k)
            if (kept[k].first <= near) best = std::min(best, std::hypot(kept[k].second.x, kept[k].second.y));
        return best;
    }

private:
    // Toggles `inside` when edge a-b crosses the ray from p to the east.
    static void crossing(Point a, Point b, Point p, bool& inside) {
        if ((a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x) inside = !inside;
    }
    // p minus its nearest point on edge a-b.
    static Point foot_offset(Point a, Point b, Point p) {
        const double dx = b.x - a.x, dy = b.y - a.y, length = dx * dx + dy * dy;
        const double t = length > 0 ? std::clamp(((p.x - a.x) * dx + (p.y - a.y) * dy) / length, 0.0, 1.0) : 0.0;
        return {p.x - (a.x + t * dx), p.y - (a.y + t * dy)};
    }
    static void nearer(Point a, Point b, Point p, double& best) {
        const Point offset = foot_offset(a, b, p);
        best = std::min(best, std::hypot(offset.x, offset.y));
    }

    // A polygon of more than kDetailedOutline vertices (a micro-grid along a million-vertex
    // boundary, measured from tens of workers, each walk a million hypot calls) is walked in
    // blocks of consecutive edges with their boxes: a block whose box lies farther than the
    // nearest edge found, or that no edge of it can cross p's ray, is skipped. Same answer as
    // the walk: only blocks that can change neither result are left out, with a slack above
    // the rounding of the edge's foot and crossing point.
    struct Block {
        std::uint32_t ring, first, end;  // edges ring[i - 1]-ring[i] for i in [first, end)
        geos::Envelope box;
    };
    void make_blocks() {
        constexpr std::uint32_t kEdges = 256;
        for (std::size_t r = 0; r < rings.size(); ++r) {
            const std::vector<Point>& ring = rings[r];
            for (std::size_t first = 1; first < ring.size(); first += kEdges) {
                const std::size_t end = std::min<std::size_t>(first + kEdges, ring.size());
                geos::Envelope block_box{ring[first - 1].x, ring[first - 1].y, ring[first - 1].x, ring[first - 1].y};
                for (std::size_t i = first; i < end; ++i) {
                    block_box.min_x = std::min(block_box.min_x, ring[i].x);
                    block_box.min_y = std::min(block_box.min_y, ring[i].y);
                    block_box.max_x = std::max(block_box.max_x, ring[i].x);
                    block_box.max_y = std::max(block_box.max_y, ring[i].y);
                }
                blocks_.push_back({static_cast<std::uint32_t>(r), static_cast<std::uint32_t>(first),
                                   static_cast<std::uint32_t>(end), block_box});
            }
        }
        magnitude_ = std::max({std::abs(box.min_x), std::abs(box.min_y), std::abs(box.max_x), std::abs(box.max_y)});
    }
    [[nodiscard]] double distance_by_blocks(Point p) const {
        const double slack = 1e-6 + 1e-12 * (magnitude_ + std::abs(p.x) + std::abs(p.y));
        bool inside = false;
        double best = std::numeric_limits<double>::infinity();
        std::vector<double> lower(blocks_.size());
        std::size_t closest = 0;
        for (std::size_t k = 0; k < blocks_.size(); ++k) {
            const Block& block = blocks_[k];
            const geos::Envelope& b = block.box;
            const double dx = std::max({0.0, b.min_x - p.x, p.x - b.max_x});
            const double dy = std::max({0.0, b.min_y - p.y, p.y - b.max_y});
            lower[k] = std::hypot(dx, dy);
            if (lower[k] < lower[closest]) closest = k;
            // An edge crosses the ray only with one end above p.y and one not, east of p.
            if (b.max_y > p.y && b.min_y <= p.y && p.x <= b.max_x + slack) {
                const std::vector<Point>& ring = rings[block.ring];
                for (std::size_t i = block.first; i < block.end; ++i) crossing(ring[i - 1], ring[i], p, inside);
            }
        }
        if (inside) return 0.0;
        auto walk = [&](const Block& block) {
            const std::vector<Point>& ring = rings[block.ring];
            for (std::size_t i = block.first; i < block.end; ++i) nearer(ring[i - 1], ring[i], p, best);
        };
        walk(blocks_[closest]);
        for (std::size_t k = 0; k < blocks_.size(); ++k)
            if (k != closest && !(lower[k] - slack > best)) walk(blocks_[k]);
        return best;
    }

    std::vector<Block> blocks_;
    double magnitude_ = 0;
};

// A micro-grid's rings: from its WKB when plain, else from `parsed`, GEOS's reading of it.
Rings rings_of(const geos::Context& context, const Wkb& wkb, const GEOSGeometry* parsed) {
    if (parsed != nullptr) return Rings(context, parsed);
    if (std::optional<Rings> plain = Rings::of_plain_wkb(wkb)) return std::move(*plain);
    throw InternalError(kStage, "a micro-grid's WKB read as plain once and not again");
}

struct Candidate {
    std::uint32_t worker;
    double distance;
};

// Distances of workers to one polygon, kept while its search boxes grow: each doubling sees the
// workers of the one before again. Per thread; a new polygon takes a new stamp.
struct DistanceMemo {
    std::vector<std::uint32_t> stamp;
    std::vector<double> distance;
    std::uint32_t current = 0;

    void next_polygon(std::size_t workers) {
        if (stamp.size() != workers || current == std::numeric_limits<std::uint32_t>::max()) {
            stamp.assign(workers, 0);
            distance.resize(workers);
            current = 0;
        }
        ++current;
    }
};

// The `count` workers of `grid` nearest to the polygon (all those inside it among them), by
// distance to the polygon, ties by worker index. Searches boxes around the polygon that double
// until the count-th distance is within the box's margin. Within a box, workers are measured
// nearest to the polygon's box first, and the walk along the polygon's edges stops being taken
// once a worker's distance to the box exceeds the count-th distance found: its own distance can
// only be larger. The answer is the same as measuring every worker in the box.
std::vector<Candidate> nearest_workers(const Rings& polygon, const PointGrid& grid, const std::vector<Point>& workers,
                                       std::size_t count, DistanceMemo& memo) {
    std::vector<Candidate> found;
    if (grid.empty() || count == 0) return found;
    memo.next_polygon(workers.size());
    const geos::Envelope& box = polygon.box;
    std::vector<std::pair<double, std::uint32_t>> by_box;  // (distance to the polygon's box, worker)
    std::vector<double> nearest;                           // the count smallest distances so far, a max-heap
    // Rounding of the box distance against the edge walk's.
    auto beyond = [](double lower, double distance) { return lower > distance * (1 + 1e-9) + 1e-9; };
    for (double margin = grid.cell();; margin *= 2) {
        found.clear();
        by_box.clear();
        nearest.clear();
        const geos::Envelope search{box.min_x - margin, box.min_y - margin, box.max_x + margin, box.max_y + margin};
        grid.in_box(search, [&](std::uint32_t i) {
            const Point p = workers[i];
            const double dx = std::max({0.0, box.min_x - p.x, p.x - box.max_x});
            const double dy = std::max({0.0, box.min_y - p.y, p.y - box.max_y});
            by_box.emplace_back(std::hypot(dx, dy), i);
        });
        std::sort(by_box.begin(), by_box.end());
        for (const auto& [lower, i] : by_box) {
            if (nearest.size() >= count && beyond(lower, nearest.front())) break;
            if (memo.stamp[i] != memo.current) {
                memo.stamp[i] = memo.current;
                memo.distance[i] = polygon.distance(workers[i]);
            }
            const double distance = memo.distance[i];
            // A worker no finite distance reaches (a home at 1e308) is no candidate: its cost
            // would be infinite for the solver.
            if (!std::isfinite(distance)) continue;
            found.push_back({i, distance});
            if (nearest.size() < count) {
                nearest.push_back(distance);
                std::push_heap(nearest.begin(), nearest.end());
            } else if (distance < nearest.front()) {
                std::pop_heap(nearest.begin(), nearest.end());
                nearest.back() = distance;
                std::push_heap(nearest.begin(), nearest.end());
            }
        }
        // Every point seen once the box holds them all.
        const geos::Envelope& all = grid.bounds();
        const bool whole = search.min_x <= all.min_x && search.min_y <= all.min_y && search.max_x >= all.max_x &&
                           search.max_y >= all.max_y;
        if (found.size() >= count || whole) {
            std::sort(found.begin(), found.end(), [](const Candidate& a, const Candidate& b) {
                return a.distance < b.distance || (a.distance == b.distance && a.worker < b.worker);
            });
            // Everything within the margin is seen, so the first `count` are the nearest when the
            // count-th lies within it.
            if (whole || found[count - 1].distance <= margin) {
                // Workers living inside are all offered, however many.
                std::size_t keep = count;
                while (keep < found.size() && found[keep].distance <= 0) ++keep;
                found.resize(std::min(keep, found.size()));
                return found;
            }
        }
    }
}

// Where each worker joins the road network (empty without one).
std::vector<RoadNetwork::Attachment> attach_workers(const StaffingInput& input) {
    std::vector<RoadNetwork::Attachment> attached;
    if (input.network == nullptr || input.network->empty()) return attached;
    attached.resize(input.workers.size());
    tbb::parallel_for(std::size_t{0}, input.workers.size(),
                      [&](std::size_t w) { attached[w] = *input.network->attach(input.workers[w]); });
    return attached;
}

// Points on the roads near a polygon, each with its straight distance to it: the nearest point of
// every nearby road segment (at a segment end, at a polygon vertex's foot on the segment, or where
// the segment enters the polygon), within `margin` of it.
void road_points_near(const Rings& polygon, const RoadNetwork& network, double margin,
                      std::vector<RoadNetwork::Attachment>& out) {
    const geos::Envelope& box = polygon.box;
    std::vector<std::uint32_t> seen;
    network.segments_in_box({box.min_x - margin, box.min_y - margin}, {box.max_x + margin, box.max_y + margin},
                            [&](std::uint32_t s) { seen.push_back(s); });
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    for (std::uint32_t index : seen) {
        const RoadNetwork::Segment& s = network.segment(index);
        const double dx = s.b.x - s.a.x, dy = s.b.y - s.a.y, length2 = dx * dx + dy * dy, length = std::sqrt(length2);
        auto add = [&](double t, double cost) {
            if (cost <= margin) out.push_back({s.edge, s.offset + t * length, cost});
        };
        add(0, polygon.distance(s.a));
        add(1, polygon.distance(s.b));
        for (const auto& ring : polygon.rings)
            for (std::size_t i = 0; i < ring.size(); ++i) {
                const Point v = ring[i];
                if (length2 > 0) {  // the foot of the polygon's vertex on the segment
                    const double t = ((v.x - s.a.x) * dx + (v.y - s.a.y) * dy) / length2;
                    if (t > 0 && t < 1) add(t, std::hypot(v.x - (s.a.x + t * dx), v.y - (s.a.y + t * dy)));
                }
                if (i == 0) continue;
                const Point u = ring[i - 1];  // where the segment crosses the polygon's edge u-v
                const double ex = v.x - u.x, ey = v.y - u.y, denominator = dx * ey - dy * ex;
                if (denominator == 0) continue;
                const double t = ((u.x - s.a.x) * ey - (u.y - s.a.y) * ex) / denominator;
                const double w = ((u.x - s.a.x) * dy - (u.y - s.a.y) * dx) / denominator;
                if (t >= 0 && t <= 1 && w >= 0 && w <= 1) add(t, 0.0);
            }
    }
}

// Re-measures straight-line candidates along the roads: one Dijkstra from the road points near the
// micro-grid (each starting at its straight distance to the polygon) until every candidate's road
// is settled. Returns how many candidates no path reached within the limit.
std::int64_t measure_along_roads(const Rings& polygon, const RoadNetwork& network, NetworkSearch& search,
                                 const std::vector<RoadNetwork::Attachment>& attached,
                                 std::vector<Candidate>& candidates) {
    double farthest = 0;
    std::vector<RoadNetwork::Attachment> targets;
    for (const Candidate& c : candidates) {
        farthest = std::max(farthest, c.distance);
        targets.push_back(attached[c.worker]);
    }
    // The margin widens until some road is near.
    std::vector<RoadNetwork::Attachment> sources;
    for (double margin = 50.0; sources.empty(); margin *= 2) {
        road_points_near(polygon, network, margin, sources);
        if (margin > 1e8) throw InternalError(kStage, "no road near a micro-grid");
    }
    // Roads may detour round rivers and railways; a path longer than this counts as none (and the
    // straight line stands in for it).
    const double limit = 3.0 * farthest + 3000.0;
    search.run(sources, targets, limit);
    std::int64_t unreached = 0;
    for (Candidate& c : candidates) {
        if (c.distance <= 0) continue;  // lives inside: no travel at all
        const double along = search.distance(attached[c.worker]);
        if (along == kUnreached) {
            c.distance += kNoRoadPenalty;
            ++unreached;
        } else {
            c.distance = std::max(along, c.distance);  // never shorter than the straight line
        }
    }
    return unreached;
}

// Candidate arcs for every micro-grid listed, in parallel; arcs in micro-grid order. With a road
// network, twice the candidates are found by straight line and the nearest along the roads kept.
std::vector<TransportArc> candidate_arcs(const StaffingInput& input, const std::vector<geos::Geom>& polygons,
                                         const std::vector<std::uint32_t>& grids_wanted,
                                         const std::vector<const PointGrid*>& grid_of,
                                         const std::vector<std::uint32_t>& consumer_of,
                                         const std::vector<RoadNetwork::Attachment>& attached,
                                         std::int64_t& unreached) {
    const bool along_roads = !attached.empty();
    const auto wanted = static_cast<std::size_t>(input.candidates);
    std::vector<std::vector<TransportArc>> per_grid(grids_wanted.size());
    tbb::enumerable_thread_specific<geos::Context> contexts;
    tbb::enumerable_thread_specific<std::unique_ptr<NetworkSearch>> searches;
    tbb::enumerable_thread_specific<DistanceMemo> memos;
    tbb::combinable<std::int64_t> unreached_count([] { return std::int64_t{0}; });
    tbb::parallel_for(std::size_t{0}, grids_wanted.size(), [&](std::size_t k) {
        const geos::Context& context = contexts.local();
        const std::uint32_t g = grids_wanted[k];
        if (grid_of[k] == nullptr) return;
        const Rings rings = rings_of(context, input.micro_grids[g], polygons[g].get());
        std::vector<Candidate> found =
            nearest_workers(rings, *grid_of[k], input.workers, along_roads ? 2 * wanted : wanted, memos.local());
        if (along_roads) {
            auto& search = searches.local();
            if (!search) search = std::make_unique<NetworkSearch>(*input.network);
            unreached_count.local() += measure_along_roads(rings, *input.network, *search, attached, found);
            std::sort(found.begin(), found.end(), [](const Candidate& a, const Candidate& b) {
                return a.distance < b.distance || (a.distance == b.distance && a.worker < b.worker);
            });
            std::size_t keep = wanted;  // and everyone living inside
            while (keep < found.size() && found[keep].distance <= 0) ++keep;
            found.resize(std::min(keep, found.size()));
        }
        for (const Candidate& c : found) per_grid[k].push_back({c.worker, consumer_of[k], c.distance});
    });
    unreached += unreached_count.combine(std::plus<>());
    std::vector<TransportArc> arcs;
    for (auto& list : per_grid) arcs.insert(arcs.end(), list.begin(), list.end());
    return arcs;
}

}  // namespace

// Long on purpose: one solve in stages (workers by street; 1. each street's micro-grids with its own
// workers; 2. what a street could not staff, with every worker left; kept assignments solved
// around) shares the candidate searches and the transport problem built at the top.
StaffingResult assign_workers(const StaffingInput& input) {
    const std::size_t grid_count = input.micro_grids.size(), worker_count = input.workers.size();
    if (input.micro_grid_group.size() != grid_count || input.worker_capacity.size() != worker_count ||
        input.worker_group.size() != worker_count)
        throw InternalError(kStage, "staffing input vectors differ in size");
    StaffingResult result;
    const geos::Context context;  // owns the polygons; threads read them under contexts of their own
    // GEOS reads only the micro-grids that are not plain WKB (Rings::of_plain_wkb reads the rest).
    std::vector<geos::Geom> polygons(grid_count);
    {
        detail::Rings plain;
        for (std::size_t g = 0; g < grid_count; ++g)
            if (!detail::read_polygonal(input.micro_grids[g], plain) || plain.points.empty())
                polygons[g] = geos::from_wkb(context, input.micro_grids[g]);
    }
    // Workers by street; those with no capacity are never offered.
    int groups = 0;
    for (int g : input.micro_grid_group) groups = std::max(groups, g + 1);
    for (int g : input.worker_group) groups = std::max(groups, g + 1);
    std::vector<std::vector<std::uint32_t>> group_workers(static_cast<std::size_t>(groups));
    std::vector<std::uint32_t> all_workers;
    for (std::uint32_t w = 0; w < worker_count; ++w) {
        if (input.worker_capacity[w] <= 0) continue;
        all_workers.push_back(w);
        if (input.worker_group[w] >= 0) group_workers[static_cast<std::size_t>(input.worker_group[w])].push_back(w);
    }
    std::vector<PointGrid> group_grids;
    group_grids.reserve(group_workers.size());
    for (auto& members : group_workers) group_grids.emplace_back(input.workers, std::move(members));

    auto solve = [&] {
        const std::vector<RoadNetwork::Attachment> attached = attach_workers(input);
        result.along_roads = !attached.empty();
        // 1. Each street's micro-grids with the workers living in that street: independent
        // components the solver runs in parallel.
        std::vector<std::uint32_t> wanted(grid_count), consumer(grid_count);
        std::vector<const PointGrid*> search(grid_count, nullptr);
        for (std::uint32_t g = 0; g < grid_count; ++g) {
            wanted[g] = g;
            consumer[g] = g;
            const int group = input.micro_grid_group[g];
            if (group >= 0) search[g] = &group_grids[static_cast<std::size_t>(group)];
        }
        TransportProblem problem;
        problem.supply = input.worker_capacity;
        for (auto& s : problem.supply) s = std::max<std::int64_t>(s, 0);
        problem.demand = input.demand.empty() ? std::vector<std::int64_t>(grid_count, 1) : input.demand;
        // Assignments kept from a previous run, measured like the others, solved around.
        for (const auto& [worker, grid] : input.fixed)
            if (worker >= worker_count || grid >= grid_count)
                throw InternalError(kStage, "a kept assignment names no worker or micro-grid");
        std::vector<double> fixed_cost(input.fixed.size());
        tbb::enumerable_thread_specific<geos::Context> fixed_contexts;
        tbb::enumerable_thread_specific<std::unique_ptr<NetworkSearch>> fixed_searches;
        tbb::parallel_for(std::size_t{0}, input.fixed.size(), [&](std::size_t f) {
            const auto [worker, grid] = input.fixed[f];
            const Rings rings = rings_of(fixed_contexts.local(), input.micro_grids[grid], polygons[grid].get());
            std::vector<Candidate> one = {{worker, rings.distance(input.workers[worker])}};
            if (!attached.empty()) {
                auto& network_search = fixed_searches.local();
                if (!network_search) network_search = std::make_unique<NetworkSearch>(*input.network);
                (void)measure_along_roads(rings, *input.network, *network_search, attached, one);
            }
            fixed_cost[f] = one[0].distance;
        });
        for (std::size_t f = 0; f < input.fixed.size(); ++f) {
            const auto [worker, grid] = input.fixed[f];
            result.assignments.push_back({worker, grid, metres(fixed_cost[f])});
            if (fixed_cost[f] >= kNoRoadPenalty) ++result.off_road_assignments;
            problem.supply[worker] = std::max<std::int64_t>(problem.supply[worker] - 1, 0);
            problem.demand[grid] = std::max<std::int64_t>(problem.demand[grid] - 1, 0);
            ++result.fixed_assignments;
        }
        problem.arcs = candidate_arcs(input, polygons, wanted, search, consumer, attached, result.unreached_candidates);
        problem.threads = input.threads;
        const std::vector<TransportArc> first_arcs = problem.arcs;
        const TransportSolution first = solve_transport(problem);

        std::vector<std::int64_t> left = problem.supply;
        std::vector<std::int64_t> wanted_left = problem.demand;
        for (std::size_t a = 0; a < first_arcs.size(); ++a)
            if (first.flow[a] > 0) {
                const TransportArc& arc = first_arcs[a];
                result.assignments.push_back({arc.supplier, arc.consumer, metres(arc.cost)});
                result.first_round_distance_m += metres(arc.cost);
                if (arc.cost >= kNoRoadPenalty) ++result.off_road_assignments;
                left[arc.supplier] -= first.flow[a];
                wanted_left[arc.consumer] -= first.flow[a];
            }

        // 2. Micro-grids a street could not staff, with every worker who has capacity left,
        // wherever they live.
        std::vector<std::uint32_t> still;
        for (std::uint32_t g = 0; g < grid_count; ++g)
            if (wanted_left[g] > 0) still.push_back(g);
        std::vector<std::uint32_t> spare;
        for (std::uint32_t w : all_workers)
            if (left[w] > 0) spare.push_back(w);
        if (!still.empty() && !spare.empty()) {
            const PointGrid spare_grid(input.workers, spare);
            std::vector<std::uint32_t> consumer_index(still.size());
            std::iota(consumer_index.begin(), consumer_index.end(), 0u);
            const std::vector<const PointGrid*> spare_search(still.size(), &spare_grid);
            TransportProblem second;
            second.supply = left;
            for (std::uint32_t g : still) second.demand.push_back(wanted_left[g]);
            second.arcs = candidate_arcs(input, polygons, still, spare_search, consumer_index, attached,
                                         result.unreached_candidates);
            second.threads = input.threads;
            const TransportSolution solution = solve_transport(second);
            for (std::size_t a = 0; a < second.arcs.size(); ++a)
                if (solution.flow[a] > 0) {
                    const TransportArc& arc = second.arcs[a];
                    result.assignments.push_back({arc.supplier, still[arc.consumer], metres(arc.cost)});
                    if (arc.cost >= kNoRoadPenalty) ++result.off_road_assignments;
                    wanted_left[still[arc.consumer]] -= solution.flow[a];
                }
        }
        for (std::uint32_t g = 0; g < grid_count; ++g)
            if (wanted_left[g] > 0) result.unstaffed.push_back(g);

        // Nearest-first on the streets' candidates, for comparison.
        std::vector<std::size_t> order(first_arcs.size());
        std::iota(order.begin(), order.end(), std::size_t{0});
        std::stable_sort(order.begin(), order.end(),
                         [&](std::size_t a, std::size_t b) { return first_arcs[a].cost < first_arcs[b].cost; });
        std::vector<std::int64_t> greedy_left = problem.supply;
        std::vector<std::int64_t> greedy_wanted = problem.demand;
        for (std::size_t a : order) {
            const TransportArc& arc = first_arcs[a];
            if (greedy_wanted[arc.consumer] <= 0 || greedy_left[arc.supplier] <= 0) continue;
            --greedy_wanted[arc.consumer];
            --greedy_left[arc.supplier];
            result.greedy_total_distance_m += metres(arc.cost);
        }
        result.greedy_unstaffed = static_cast<std::int64_t>(
            std::count_if(greedy_wanted.begin(), greedy_wanted.end(), [](std::int64_t w) { return w > 0; }));
        result.first_round_staffed = first.shipped;
    };
    with_threads(input.threads, solve);

    std::sort(result.assignments.begin(), result.assignments.end(), [](const auto& a, const auto& b) {
        return a.micro_grid < b.micro_grid || (a.micro_grid == b.micro_grid && a.worker < b.worker);
    });
    std::vector<double> distances;
    for (const auto& a : result.assignments) {
        distances.push_back(a.distance_m);
        result.total_distance_m += a.distance_m;
    }
    if (!distances.empty()) {
        std::sort(distances.begin(), distances.end());
        result.mean_distance_m = result.total_distance_m / static_cast<double>(distances.size());
        result.p95_distance_m = distances[static_cast<std::size_t>(0.95 * static_cast<double>(distances.size() - 1))];
        result.max_distance_m = distances.back();
    }
    return result;
}

}  // namespace civgrid::algorithms
