#include <civgrid/algorithms/balance_bound.hpp>
#include <civgrid/algorithms/coverage_union.hpp>
#include <civgrid/algorithms/geometry_repair.hpp>
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/graph_partition.hpp>
#include <civgrid/algorithms/parallel.hpp>
#include <civgrid/algorithms/segment_index.hpp>
#include <civgrid/algorithms/unit_partition.hpp>
#include <civgrid/error.hpp>

#include "key_numbers.hpp"
#include "region_cells_state.hpp"
#include "wkb_rings.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <numeric>
#include <tuple>
#include <unordered_map>

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

namespace civgrid::algorithms {

namespace {

using geos::Context;
using geos::Geom;
constexpr const char* kStage = "algorithms.units";

double point_segment_distance(Point p, Point a, Point b) {
    const double dx = b.x - a.x, dy = b.y - a.y, length2 = dx * dx + dy * dy;
    double t = length2 > 0 ? ((p.x - a.x) * dx + (p.y - a.y) * dy) / length2 : 0.0;
    t = std::clamp(t, 0.0, 1.0);
    return std::hypot(p.x - (a.x + t * dx), p.y - (a.y + t * dy));
}

using detail::SegmentHash;
using detail::SegmentKey;

// Neighbours of units: identical segments (hashed), then near contacts among the segments left
// without a twin ("free": T-junctions, slivers, the outline of the whole). A free segment of unit
// u counts towards (u, v) when its two ends and its middle all lie within `gap` of v's free
// segments; a pair's near length is the larger of the two sides' sums. In an exact tiling almost
// no segment is free, so this costs a hash of the segments and little more; corner contacts never
// count (the segments leaving a corner leave the other unit).
std::vector<UnitEdge> adjacency_of(const Context& context, const std::vector<Geom>& units, const UnitOptions& options) {
    const auto handle = context.handle();
    struct Owned {
        Point a, b;
        std::uint32_t unit;
        std::uint32_t number;
    };
    std::vector<Owned> segments;
    std::vector<Point> points;
    std::size_t coordinates = 0;
    for (const Geom& unit : units) coordinates += static_cast<std::size_t>(GEOSGetNumCoordinates_r(handle, unit.get()));
    detail::KeyNumbers<SegmentKey, SegmentHash> numbers(coordinates);
    std::vector<std::uint32_t> seen;  // per segment number: how many times
    auto add_ring = [&](const GEOSGeometry* ring, std::uint32_t unit) {
        const GEOSCoordSequence* sequence = GEOSGeom_getCoordSeq_r(handle, ring);
        unsigned size = 0;
        if (sequence == nullptr || GEOSCoordSeq_getSize_r(handle, sequence, &size) == 0 || size == 0) return;
        points.resize(size);
        static_assert(sizeof(Point) == 2 * sizeof(double));
        GEOSCoordSeq_copyToBuffer_r(handle, sequence, &points.front().x, 0, 0);
        for (unsigned i = 1; i < size; ++i) {
            const Point p = points[i - 1], q = points[i];
            if (p.x == q.x && p.y == q.y) continue;
            const SegmentKey key = std::tie(p.x, p.y) < std::tie(q.x, q.y) ? SegmentKey{p.x, p.y, q.x, q.y}
                                                                           : SegmentKey{q.x, q.y, p.x, p.y};
            const auto [number, inserted] = numbers.number(key);
            if (inserted) seen.push_back(0);
            ++seen[number];
            segments.push_back({p, q, unit, number});
        }
    };
    for (std::uint32_t u = 0; u < units.size(); ++u) {
        const GEOSGeometry* unit = units[u].get();
        if (geos::is_empty(context, unit)) continue;
        const int parts = GEOSGetNumGeometries_r(handle, unit);
        for (int k = 0; k < parts; ++k) {
            const GEOSGeometry* polygon = GEOSGetGeometryN_r(handle, unit, k);
            add_ring(GEOSGetExteriorRing_r(handle, polygon), u);
            const int holes = GEOSGetNumInteriorRings_r(handle, polygon);
            for (int i = 0; i < holes; ++i) add_ring(GEOSGetInteriorRingN_r(handle, polygon, i), u);
        }
    }
    // Per pair: the exact length, and the near length measured from the first and from the second.
    std::map<std::pair<std::uint32_t, std::uint32_t>, std::array<double, 3>> pairs;
    // Consecutive segments mostly add to the same pair (a dense parcel's 1,000 segments along one
    // neighbour): the last pair is kept at hand.
    auto last = pairs.end();
    const auto add = [&](std::uint32_t u, std::uint32_t v, int kind, double length) {
        const std::pair<std::uint32_t, std::uint32_t> key{std::min(u, v), std::max(u, v)};
        if (last == pairs.end() || last->first != key) last = pairs.try_emplace(key, std::array<double, 3>{}).first;
        last->second[static_cast<std::size_t>(kind)] += length;
    };
    {
        // Exact: a segment's owners in the order seen, paired one after another.
        constexpr auto kNone = std::numeric_limits<std::uint32_t>::max();
        std::vector<std::uint32_t> waiting(numbers.size(), kNone);
        for (const Owned& s : segments) {
            if (seen[s.number] < 2) continue;
            std::uint32_t& owner = waiting[s.number];
            if (owner == kNone) {
                owner = s.unit;
            } else {
                if (owner != s.unit) add(owner, s.unit, 0, std::hypot(s.b.x - s.a.x, s.b.y - s.a.y));
                owner = kNone;
            }
        }
    }
    // Near: free segments on a grid of cells, each in the cells its box (grown by the gap) meets.
    std::vector<std::uint32_t> free;
    double free_length = 0;
    for (std::uint32_t i = 0; i < segments.size(); ++i)
        if (seen[segments[i].number] == 1) {
            free.push_back(i);
            free_length += std::hypot(segments[i].b.x - segments[i].a.x, segments[i].b.y - segments[i].a.y);
        }
    if (options.gap > 0 && !free.empty()) {
        const double gap = options.gap;
        const double cell = std::max(10 * gap, free_length / static_cast<double>(free.size()));
        std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> grid;
        const auto cell_of = [&](double v) { return static_cast<std::int64_t>(std::floor(v / cell)); };
        const auto key = [](std::int64_t column, std::int64_t row) {
            return (static_cast<std::uint64_t>(column) << 32) ^ (static_cast<std::uint64_t>(row) & 0xffffffffULL);
        };
        const auto for_cells = [&](const Owned& s, auto&& visit) {
            const std::int64_t c0 = cell_of(std::min(s.a.x, s.b.x) - gap), c1 = cell_of(std::max(s.a.x, s.b.x) + gap);
            const std::int64_t r0 = cell_of(std::min(s.a.y, s.b.y) - gap), r1 = cell_of(std::max(s.a.y, s.b.y) + gap);
            for (std::int64_t c = c0; c <= c1; ++c)
                for (std::int64_t r = r0; r <= r1; ++r) visit(key(c, r));
        };
        for (std::uint32_t f : free) for_cells(segments[f], [&](std::uint64_t k) { grid[k].push_back(f); });
        std::vector<std::uint32_t> candidates;
        for (std::uint32_t f : free) {
            const Owned& s = segments[f];
            candidates.clear();
            for_cells(s, [&](std::uint64_t k) {
                for (std::uint32_t other : grid[k])
                    if (segments[other].unit != s.unit) candidates.push_back(other);
            });
            if (candidates.empty()) continue;
            std::sort(candidates.begin(), candidates.end(), [&](std::uint32_t x, std::uint32_t y) {
                return std::tie(segments[x].unit, x) < std::tie(segments[y].unit, y);
            });
            candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
            const Point middle{(s.a.x + s.b.x) / 2, (s.a.y + s.b.y) / 2};
            for (std::size_t i = 0; i < candidates.size();) {
                const std::uint32_t v = segments[candidates[i]].unit;
                bool near_a = false, near_b = false, near_middle = false;
                for (; i < candidates.size() && segments[candidates[i]].unit == v; ++i) {
                    const Owned& o = segments[candidates[i]];
                    near_a = near_a || point_segment_distance(s.a, o.a, o.b) <= gap;
                    near_b = near_b || point_segment_distance(s.b, o.a, o.b) <= gap;
                    near_middle = near_middle || point_segment_distance(middle, o.a, o.b) <= gap;
                }
                if (near_a && near_b && near_middle)
                    add(s.unit, v, s.unit < v ? 1 : 2, std::hypot(s.b.x - s.a.x, s.b.y - s.a.y));
            }
        }
    }
    std::vector<UnitEdge> edges;  // in pair order
    for (const auto& [pair, length] : pairs) {
        const double near = std::max(length[1], length[2]);
        if (length[0] > 0)
            edges.push_back({pair.first, pair.second, length[0] + near, true});
        else if (near >= options.min_contact)
            edges.push_back({pair.first, pair.second, near, false});
    }
    return edges;
}

// Calls `vertex(shell, k, p)` for each vertex p of the rings of a little-endian 2D WKB Polygon or
// MultiPolygon read in place (detail::read_polygonal), in order (k: its place in its ring;
// `shell`: the ring is a polygon's first), until it returns true: 1 when it did, 0 when every
// vertex was walked, -1 for anything else (the caller asks GEOS).
template <typename F>
int walk_wkb_vertices(const Wkb& wkb, F&& vertex) {
    thread_local detail::Rings rings;
    if (!detail::read_polygonal(wkb, rings)) return -1;
    std::size_t ring_begin = 0, polygon = 0, polygon_first_ring = 0;
    for (std::size_t r = 0; r < rings.ring_end.size(); ++r) {
        while (polygon < rings.polygon_end.size() && r == rings.polygon_end[polygon])
            polygon_first_ring = rings.polygon_end[polygon++];  // (empty polygons have no ring)
        const bool shell = r == polygon_first_ring;
        for (std::size_t i = ring_begin; i < rings.ring_end[r]; ++i)
            if (vertex(shell, static_cast<std::uint32_t>(i - ring_begin), rings.points[i])) return 1;
        ring_begin = rings.ring_end[r];
    }
    return 0;
}

// Area and box of a little-endian 2D WKB Polygon or MultiPolygon read in place (shoelace per
// ring, holes subtracted), far cheaper than a GEOS geometry for the coverage test's pass over
// every building; false for anything else (the caller asks GEOS).
bool wkb_area_box(const Wkb& wkb, double& area, geos::Envelope& box) {
    area = 0;
    box = {std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity(),
           -std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()};
    double twice = 0;  // the current ring's shoelace sum
    bool ring_is_shell = true, finite = true;
    Point previous{};
    auto close_ring = [&] { area += (ring_is_shell ? 0.5 : -0.5) * std::abs(twice); };
    const int walked = walk_wkb_vertices(wkb, [&](bool shell, std::uint32_t k, Point p) {
        if (!std::isfinite(p.x) || !std::isfinite(p.y)) return finite = false, true;
        if (k == 0) {
            close_ring();
            twice = 0, ring_is_shell = shell;
        } else {
            twice += previous.x * p.y - p.x * previous.y;
        }
        box.min_x = std::min(box.min_x, p.x), box.max_x = std::max(box.max_x, p.x);
        box.min_y = std::min(box.min_y, p.y), box.max_y = std::max(box.max_y, p.y);
        previous = p;
        return false;
    });
    if (walked != 0 || !finite) return false;
    close_ring();
    return true;
}

// Calls `segment(a, b)` for each segment of the rings of a little-endian 2D WKB Polygon or
// MultiPolygon read in place, in order, until it returns true: 1 when it did, 0 when every segment
// was walked, -1 for anything else (the caller asks GEOS).
template <typename F>
int walk_wkb_segments(const Wkb& wkb, F&& segment) {
    Point previous{};
    return walk_wkb_vertices(wkb, [&](bool, std::uint32_t k, Point p) {
        const bool stop = k > 0 && segment(previous, p);
        previous = p;
        return stop;
    });
}

bool polygonal(const Context& context, const GEOSGeometry* geometry) {
    const int type = geos::type_id(context, geometry);
    return (type == GEOS_POLYGON || type == GEOS_MULTIPOLYGON) && !geos::is_empty(context, geometry) &&
           geos::area(context, geometry) > 0;
}

// The segments of every line and polygon outline among `geometries` (WKB).
SegmentIndex segment_index_of(const Context& context, const std::vector<const std::vector<Wkb>*>& sources) {
    std::vector<SegmentIndex::Segment> segments;
    for (const std::vector<Wkb>* source : sources)
        for (const Wkb& wkb : *source) {
            if (wkb.empty()) continue;
            const Geom geometry = geos::from_wkb(context, wkb);
            for (const auto& [a, b] : geos::line_segments(context, geometry.get())) segments.push_back({a, b});
        }
    return SegmentIndex(std::move(segments));
}

}  // namespace

std::vector<UnitEdge> unit_adjacency(const std::vector<Wkb>& units, const UnitOptions& options) {
    const Context context;
    std::vector<Geom> geometries;
    geometries.reserve(units.size());
    for (const Wkb& wkb : units) {
        Geom g = wkb.empty() ? geos::from_wkt(context, "POLYGON EMPTY") : geos::from_wkb(context, wkb);
        if (!polygonal(context, g.get())) g = geos::from_wkt(context, "POLYGON EMPTY");
        geometries.push_back(std::move(g));
    }
    return adjacency_of(context, geometries, options);
}

RegionCells RegionCells::from_units(const RegionInput& input, double gap, double min_contact) {
    if (input.site_areas.size() != input.sites.size())
        throw InputError(kStage, std::to_string(input.site_areas.size()) + " unit polygons for " +
                                     std::to_string(input.sites.size()) + " sites");
    RegionCells cells;
    State& state = *cells.state_;
    const Context& context = state.context;
    state.options = input.options;
    state.requested = input.micro_grid_count;
    const std::size_t n = input.sites.size();

    // 1. Atoms: the units themselves, one graph vertex each.
    state.atoms.reserve(n);
    for (std::size_t s = 0; s < n; ++s) {
        Geom unit = input.site_areas[s].empty() ? geos::from_wkt(context, "POLYGON EMPTY")
                                                : geos::from_wkb(context, input.site_areas[s]);
        if (!polygonal(context, unit.get()))
            throw InputError(kStage, "unit " + std::to_string(s) + " (building " +
                                         std::to_string(input.sites[s].building) + ") is not a polygon with area");
        state.atoms.push_back(std::move(unit));
    }
    if (n == 0) throw InputError(kStage, "the region has no units");
    std::vector<std::int64_t> weight(n);
    std::vector<Point> location(n);
    for (std::size_t s = 0; s < n; ++s) {
        weight[s] = std::max<std::int64_t>(input.sites[s].households, 0);
        location[s] = input.sites[s].location;
        state.site_households.push_back(weight[s]);
        state.site_vertex.push_back(static_cast<std::uint32_t>(s));
        state.vertex_atom.push_back(static_cast<std::uint32_t>(s));
    }

    // 2. Neighbours; a hard barrier between two units' points, or a unit above the upper bound (a
    // micro-grid of its own), removes the graph edge but not the adjacency (land without
    // households still joins across it as the Voronoi atoms' does).
    const std::vector<UnitEdge> unit_edges = adjacency_of(context, state.atoms, UnitOptions{gap, min_contact});
    state.adjacency.reserve(unit_edges.size());
    for (const UnitEdge& e : unit_edges) state.adjacency.push_back({e.a, e.b, e.length});
    const double upper = input.options.upper();
    std::vector<char> large(n, 0);
    for (std::size_t s = 0; s < n; ++s) large[s] = static_cast<double>(weight[s]) > upper ? 1 : 0;
    const SegmentIndex hard_index = segment_index_of(context, {&input.hard_lines, &input.hard_areas});
    const SegmentIndex soft_index = segment_index_of(context, {&input.soft_lines});
    std::vector<EdgeInput> graph_edges;
    for (const UnitEdge& e : unit_edges) {
        if (large[e.a] || large[e.b]) continue;
        const Point pa = location[e.a], pb = location[e.b];
        if (hard_index.crosses(pa, pb)) continue;
        graph_edges.push_back({e.a, e.b, e.length, soft_index.intersects(pa, pb)});
    }
    state.graph = make_graph(std::move(weight), std::move(location), std::move(graph_edges));
    const WeightedGraph& graph = state.graph;

    // 3. Pieces: connected components with households; each also a "face" (land without households
    // prefers to join its own).
    int component_count = 0;
    const std::vector<int> component = connected_components(graph, &component_count);
    state.faces = component_count;
    state.atom_face.assign(component.begin(), component.end());
    std::vector<double> component_households(static_cast<std::size_t>(component_count), 0.0);
    std::vector<int> component_positive(static_cast<std::size_t>(component_count), 0);
    std::vector<char> component_large(static_cast<std::size_t>(component_count), 0);
    for (std::size_t v = 0; v < n; ++v) {
        const auto c = static_cast<std::size_t>(component[v]);
        component_households[c] += static_cast<double>(graph.node_weight[v]);
        component_positive[c] += graph.node_weight[v] > 0 ? 1 : 0;
        if (large[v]) component_large[c] = 1;
    }
    std::vector<int> piece_of_component(static_cast<std::size_t>(component_count), -1);
    std::vector<int> piece_positive;
    std::vector<char> piece_large;
    for (int c = 0; c < component_count; ++c) {
        const auto cc = static_cast<std::size_t>(c);
        if (component_households[cc] <= 0) continue;
        piece_of_component[cc] = static_cast<int>(state.piece_households.size());
        state.piece_households.push_back(component_households[cc]);
        piece_positive.push_back(component_positive[cc]);
        piece_large.push_back(component_large[cc]);
    }
    state.vertex_piece.resize(n);
    for (std::size_t v = 0; v < n; ++v)
        state.vertex_piece[v] = piece_of_component[static_cast<std::size_t>(component[v])];

    // 4. Counts: a large unit's piece gets one; the rest share what the target asks of their
    // households (the region's count less the large units' share of it, at least one each), as
    // the Voronoi pieces do (balance_bound.hpp).
    const std::size_t pieces = state.piece_households.size();
    state.piece_counts.assign(pieces, 1);
    std::vector<double> rest_households;
    std::vector<std::size_t> rest_pieces;
    double large_households = 0;
    for (std::size_t p = 0; p < pieces; ++p) {
        if (piece_large[p]) {
            large_households += state.piece_households[p];
            continue;
        }
        rest_households.push_back(state.piece_households[p]);
        rest_pieces.push_back(p);
    }
    if (!rest_pieces.empty()) {
        const double all = large_households + std::accumulate(rest_households.begin(), rest_households.end(), 0.0);
        const double requested = std::max(1, input.micro_grid_count);
        const int rest_total = std::max(static_cast<int>(rest_pieces.size()),
                                        static_cast<int>(std::lround(requested * (all - large_households) / all)));
        const std::vector<int> shared = share_count(rest_households, rest_total, input.options.target_households,
                                                    input.options.lower(), input.options.upper());
        for (std::size_t i = 0; i < rest_pieces.size(); ++i) state.piece_counts[rest_pieces[i]] = shared[i];
    }
    for (std::size_t p = 0; p < pieces; ++p) {
        if (input.options.hard_min_households > 0)
            state.piece_counts[p] = std::min(
                state.piece_counts[p], std::max(1, static_cast<int>(std::floor(state.piece_households[p] /
                                                                               input.options.hard_min_households))));
        state.piece_counts[p] = std::clamp(state.piece_counts[p], 1, std::max(1, piece_positive[p]));
    }
    return cells;
}

RegionResult partition_units(const RegionInput& input, const UnitOptions& options) {
    if (input.sites.empty() && input.site_areas.empty()) {  // a region holding no unit: no micro-grid
        RegionResult empty;
        empty.requested = input.micro_grid_count;
        return empty;
    }
    const RegionCells cells = RegionCells::from_units(input, options.gap, options.min_contact);
    return cells.assemble(partition_cells(cells, input.seed, input.options));
}

namespace {

// The part of `shape` on either side of the line across `axis` at `t` (positions along the axis
// measured from `origin`): the intersections with two quadrilaterals reaching `reach` metres
// beyond the shape everywhere.
std::pair<Geom, Geom> cut_across(const Context& context, const GEOSGeometry* shape, Point origin, Point axis,
                                 double low, double high, double t, double reach) {
    const Point across{-axis.y, axis.x};
    auto at = [&](double along, double side) {
        return Point{origin.x + axis.x * along + across.x * side, origin.y + axis.y * along + across.y * side};
    };
    const Geom below = geos::polygon(context, {at(low - reach, -reach), at(t, -reach), at(t, reach),
                                               at(low - reach, reach), at(low - reach, -reach)});
    const Geom above = geos::polygon(
        context, {at(t, -reach), at(high + reach, -reach), at(high + reach, reach), at(t, reach), at(t, -reach)});
    return {geos::intersection_or_null(context, shape, below.get()),
            geos::intersection_or_null(context, shape, above.get())};
}

// `shape` cut into `count` pieces of equal area by recursive bisection: across the long axis of
// its minimum rotated rectangle, where the area on one side is floor(count / 2) / count of it.
bool bisect_into(const Context& context, Geom shape, int count, std::vector<Geom>& pieces) {
    if (count <= 1) {
        pieces.push_back(std::move(shape));
        return true;
    }
    const double area = geos::area(context, shape.get());
    const Geom rectangle =
        geos::own(context, GEOSMinimumRotatedRectangle_r(context.handle(), shape.get()), "a rotated rectangle");
    if (GEOSGeomTypeId_r(context.handle(), rectangle.get()) != GEOS_POLYGON) return false;
    const std::vector<Point> corners =
        geos::vertices(context, GEOSGetExteriorRing_r(context.handle(), rectangle.get()));
    if (corners.size() < 4) return false;
    const double ab = std::hypot(corners[1].x - corners[0].x, corners[1].y - corners[0].y),
                 bc = std::hypot(corners[2].x - corners[1].x, corners[2].y - corners[1].y);
    if (!(ab > 0) || !(bc > 0)) return false;
    const Point axis = ab >= bc ? Point{(corners[1].x - corners[0].x) / ab, (corners[1].y - corners[0].y) / ab}
                                : Point{(corners[2].x - corners[1].x) / bc, (corners[2].y - corners[1].y) / bc};
    const Point origin = corners[0];
    double low = std::numeric_limits<double>::infinity(), high = -low;
    for (const Point& c : corners) {
        const double along = (c.x - origin.x) * axis.x + (c.y - origin.y) * axis.y;
        low = std::min(low, along), high = std::max(high, along);
    }
    const double reach = 2 * (ab + bc) + 1;
    const int first = count / 2;
    const double wanted = area * first / count;
    double lo = low, hi = high;
    for (int step = 0; step < 60 && hi - lo > 1e-6; ++step) {
        const double t = (lo + hi) / 2;
        const auto [below, above] = cut_across(context, shape.get(), origin, axis, low, high, t, reach);
        if (!below) return false;
        (geos::area(context, below.get()) < wanted ? lo : hi) = t;
    }
    auto [below, above] = cut_across(context, shape.get(), origin, axis, low, high, (lo + hi) / 2, reach);
    if (!below || !above || !(geos::area(context, below.get()) > 0) || !(geos::area(context, above.get()) > 0))
        return false;
    auto polygonal_part = [&](const Geom& g) {
        std::vector<Geom> parts;
        geos::collect_polygons(context, g.get(), parts);
        return parts.size() == 1 ? std::move(parts.front())
                                 : geos::collection(context, GEOS_MULTIPOLYGON, std::move(parts));
    };
    return bisect_into(context, polygonal_part(below), first, pieces) &&
           bisect_into(context, polygonal_part(above), count - first, pieces);
}

}  // namespace

std::vector<Wkb> split_unit(const Wkb& unit, int count) {
    if (count <= 1) return {unit};
    const Context context;
    std::vector<Geom> pieces;
    if (!bisect_into(context, geos::from_wkb(context, unit), count, pieces)) return {unit};
    std::vector<Wkb> result;
    for (const Geom& piece : pieces) {
        if (geos::is_empty(context, piece.get()) || !(geos::area(context, piece.get()) > 0)) return {unit};
        result.push_back(geos::to_wkb(context, piece.get()));
    }
    return result;
}

Wkb union_of_units(const std::vector<Wkb>& units, const std::vector<std::size_t>& apart) {
    const Context context;
    std::vector<char> set_apart(units.size(), 0);
    for (std::size_t i : apart)
        if (i < units.size()) set_apart[i] = 1;
    std::vector<Geom> tiling, others;
    for (std::size_t i = 0; i < units.size(); ++i) {
        if (units[i].empty()) continue;
        Geom g = geos::from_wkb(context, units[i]);
        if (!polygonal(context, g.get())) continue;
        // Several parts (a bow-tie made valid: two triangles meeting at a point) would pinch the
        // coverage union's rings; such units join by overlay, as those known to overlap do.
        if (set_apart[i] || geos::type_id(context, g.get()) == GEOS_MULTIPOLYGON)
            others.push_back(std::move(g));
        else
            tiling.push_back(std::move(g));
    }
    if (tiling.empty() && others.empty()) return {};
    const Geom tiled = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(tiling));
    Geom result = valid_coverage_union(context, tiled.get());
    if (!result) result = geos::unary_union(context, tiled.get(), "uniting the units");
    if (!others.empty()) {
        others.push_back(std::move(result));
        const Geom rest = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(others));
        result = geos::unary_union(context, rest.get(), "uniting the units");
    }
    return geos::to_wkb(context, result.get());
}

CoverageTraits coverage_traits(const std::vector<Wkb>& polygons, double overlap_area, int threads) {
    CoverageTraits traits;
    // Areas and boxes in one pass; the hull of the boxes' corners, thinned to the extreme ones of
    // 512 columns and rows (a hull a column's width larger at most: the rule is a rough one).
    const std::size_t n = polygons.size();
    std::vector<double> areas(n, 0.0);
    std::vector<geos::Envelope> boxes(n);
    tbb::enumerable_thread_specific<Context> contexts;
    with_threads(threads, [&] {
        tbb::parallel_for(tbb::blocked_range<std::size_t>(0, n, 1024),
                          [&](const tbb::blocked_range<std::size_t>& range) {
                              const Context& context = contexts.local();
                              for (std::size_t i = range.begin(); i < range.end(); ++i) {
                                  if (polygons[i].empty()) continue;
                                  if (wkb_area_box(polygons[i], areas[i], boxes[i])) continue;
                                  areas[i] = 0;
                                  const Geom g = geos::from_wkb(context, polygons[i]);
                                  if (!polygonal(context, g.get())) continue;
                                  areas[i] = geos::area(context, g.get());
                                  boxes[i] = geos::envelope(context, g.get());
                              }
                          });
    });
    double total_area = 0;
    geos::Envelope all{std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity(),
                       -std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()};
    for (std::size_t i = 0; i < n; ++i) {
        if (!(areas[i] > 0)) continue;
        ++traits.polygons;
        total_area += areas[i];
        all.min_x = std::min(all.min_x, boxes[i].min_x), all.min_y = std::min(all.min_y, boxes[i].min_y);
        all.max_x = std::max(all.max_x, boxes[i].max_x), all.max_y = std::max(all.max_y, boxes[i].max_y);
    }
    if (traits.polygons == 0) return traits;
    traits.overlap_share = overlap_area / total_area;
    constexpr int kBins = 512;
    const double width = std::max(all.max_x - all.min_x, 1e-9), height = std::max(all.max_y - all.min_y, 1e-9);
    std::vector<Point> low(kBins, Point{0, std::numeric_limits<double>::infinity()}),
        high(kBins, Point{0, -std::numeric_limits<double>::infinity()}),
        left(kBins, Point{std::numeric_limits<double>::infinity(), 0}),
        right(kBins, Point{-std::numeric_limits<double>::infinity(), 0});
    auto bin = [](double t) { return std::clamp(static_cast<int>(t * kBins), 0, kBins - 1); };
    for (std::size_t i = 0; i < n; ++i) {
        if (!(areas[i] > 0)) continue;
        const geos::Envelope& b = boxes[i];
        for (const Point p :
             {Point{b.min_x, b.min_y}, Point{b.max_x, b.min_y}, Point{b.max_x, b.max_y}, Point{b.min_x, b.max_y}}) {
            const auto column = static_cast<std::size_t>(bin((p.x - all.min_x) / width));
            const auto row = static_cast<std::size_t>(bin((p.y - all.min_y) / height));
            if (p.y < low[column].y) low[column] = p;
            if (p.y > high[column].y) high[column] = p;
            if (p.x < left[row].x) left[row] = p;
            if (p.x > right[row].x) right[row] = p;
        }
    }
    const Context context;
    std::vector<Geom> points;
    for (const auto* extreme : {&low, &high, &left, &right})
        for (const Point& p : *extreme)
            if (std::isfinite(p.x) && std::isfinite(p.y)) points.push_back(geos::point(context, p));
    const Geom multipoint = geos::collection(context, GEOS_MULTIPOINT, std::move(points));
    const Geom hull = geos::own(context, GEOSConvexHull_r(context.handle(), multipoint.get()), "a convex hull");
    const double hull_area = geos::area(context, hull.get());
    traits.hull_cover = hull_area > 0 ? std::min(1.0, total_area / hull_area) : 0.0;
    if (traits.hull_cover < CoverageTraits::kMinHullCover) return traits;
    // Neighbours, as units mode would join them, of a sample of at most kSample polygons (every
    // k-th): each with the polygons whose boxes meet its own (an STRtree of the boxes), so the
    // test reads a few thousand polygons again, not a city of 100,000 parcels with thousands of
    // vertices each.
    constexpr std::size_t kSample = 2000;
    const std::size_t step = std::max<std::size_t>(1, traits.polygons / kSample);
    geos::StrTree tree(context);
    std::vector<Geom> rectangles(n);
    for (std::size_t i = 0; i < n; ++i) {
        if (!(areas[i] > 0)) continue;
        rectangles[i] = geos::own(context,
                                  GEOSGeom_createRectangle_r(context.handle(), boxes[i].min_x, boxes[i].min_y,
                                                             boxes[i].max_x, boxes[i].max_y),
                                  "a box");
        tree.insert(rectangles[i].get(), i);
    }
    // The sample and each one's candidates first (the tree is read on this thread), then the
    // samples tested in parallel, counted per sample and summed (the same count for any threads).
    const UnitOptions options;
    std::vector<std::size_t> sample;
    std::vector<std::vector<std::size_t>> candidates_of;
    for (std::size_t i = 0, seen = 0; i < n; ++i) {
        if (!(areas[i] > 0) || seen++ % step != 0) continue;
        sample.push_back(i);
        const geos::Envelope reach{boxes[i].min_x - options.gap, boxes[i].min_y - options.gap,
                                   boxes[i].max_x + options.gap, boxes[i].max_y + options.gap};
        const Geom probe = geos::own(
            context, GEOSGeom_createRectangle_r(context.handle(), reach.min_x, reach.min_y, reach.max_x, reach.max_y),
            "a box");
        candidates_of.push_back(tree.query(probe.get()));
    }
    std::vector<char> has_neighbour(sample.size(), 0);
    with_threads(threads, [&] {
        tbb::parallel_for(std::size_t{0}, sample.size(), [&](std::size_t s) {
            const std::size_t i = sample[s];
            const std::vector<std::size_t>& candidates = candidates_of[s];
            // A segment of its own that a neighbour has too (either way round) settles it, read from
            // the WKB in place: a tiling's usual case, without parsing its dense neighbours with GEOS
            // and hashing every segment of all of them (a quarter of the import of 10,000 parcels of
            // which 1 % have 20,000 vertices). Anything else goes to adjacency_of, as before.
            {
                const auto key = [](Point a, Point b) {
                    return a.x < b.x || (a.x == b.x && a.y < b.y) ? SegmentKey{a.x, a.y, b.x, b.y}
                                                                  : SegmentKey{b.x, b.y, a.x, a.y};
                };
                detail::KeyNumbers<SegmentKey, SegmentHash> own(64);
                const bool readable = walk_wkb_segments(polygons[i], [&](Point a, Point b) {
                                          if (a.x != b.x || a.y != b.y) own.number(key(a, b));
                                          return false;
                                      }) == 0;
                bool twin = false;
                for (std::size_t k = 0; readable && !twin && k < candidates.size(); ++k)
                    twin =
                        candidates[k] != i && walk_wkb_segments(polygons[candidates[k]], [&](Point a, Point b) {
                                                  return (a.x != b.x || a.y != b.y) && own.find(key(a, b)).has_value();
                                              }) == 1;
                if (twin) {
                    has_neighbour[s] = 1;
                    return;
                }
            }
            const Context& local = contexts.local();
            std::vector<Geom> near;
            near.push_back(geos::from_wkb(local, polygons[i]));
            for (std::size_t j : candidates)
                if (j != i) near.push_back(geos::from_wkb(local, polygons[j]));
            if (near.size() < 2) return;
            for (const UnitEdge& e : adjacency_of(local, near, options))
                if (e.a == 0) {
                    has_neighbour[s] = 1;
                    break;
                }
        });
    });
    const std::size_t sampled = sample.size();
    const auto with_neighbour = static_cast<std::size_t>(std::count(has_neighbour.begin(), has_neighbour.end(), 1));
    traits.sharing_share = static_cast<double>(with_neighbour) / static_cast<double>(sampled);
    return traits;
}

}  // namespace civgrid::algorithms
