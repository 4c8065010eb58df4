#include <civgrid/algorithms/balance_bound.hpp>
#include <civgrid/algorithms/coverage_union.hpp>
#include <civgrid/algorithms/geometry_repair.hpp>
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/graph_partition.hpp>
#include <civgrid/algorithms/parallel.hpp>
#include <civgrid/algorithms/segment_index.hpp>
#include <civgrid/algorithms/unit_partition.hpp>
#include <civgrid/error.hpp>

#include "region_cells_state.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <tuple>

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

namespace civgrid::algorithms {

namespace {

using geos::Context;
using geos::Geom;
constexpr const char* kStage = "algorithms.units";

geos::Envelope grown(geos::Envelope box, double by) {
    box.min_x -= by, box.min_y -= by, box.max_x += by, box.max_y += by;
    return box;
}

// Length of `unit`'s boundary lying within `gap` of `other` (`prepared` from it): the segments
// whose two ends and middle are all that near. A corner contact counts nothing (the segments from
// the corner leave the other unit); a T-junction counts the whole segment that runs along it.
double near_length(const Context& context, const GEOSGeometry* unit, const GEOSPreparedGeometry* prepared,
                   const geos::Envelope& other_box, double gap) {
    const auto handle = context.handle();
    const geos::Envelope reach = grown(other_box, gap);
    auto inside_reach = [&](Point p) {
        return p.x >= reach.min_x && p.x <= reach.max_x && p.y >= reach.min_y && p.y <= reach.max_y;
    };
    auto near = [&](Point p) {
        if (!inside_reach(p)) return false;
        const Geom point = geos::point(context, p);
        return GEOSPreparedDistanceWithin_r(handle, prepared, point.get(), gap) == 1;
    };
    double length = 0;
    for (const auto& [a, b] : geos::line_segments(context, unit)) {
        if (!inside_reach(a) || !inside_reach(b)) continue;
        if (near(a) && near(b) && near(Point{(a.x + b.x) / 2, (a.y + b.y) / 2}))
            length += std::hypot(b.x - a.x, b.y - a.y);
    }
    return length;
}

std::vector<UnitEdge> adjacency_of(const Context& context, const std::vector<Geom>& units, const UnitOptions& options) {
    const auto handle = context.handle();
    const std::vector<detail::AtomEdge> exact = detail::atom_adjacency(context, units);
    std::vector<UnitEdge> edges;
    edges.reserve(exact.size());
    for (const detail::AtomEdge& e : exact) edges.push_back({e.a, e.b, e.length, true});
    if (!(options.gap > 0)) return edges;
    const auto shares_segments = [&](std::uint32_t a, std::uint32_t b) {
        return std::binary_search(exact.begin(), exact.end(), detail::AtomEdge{a, b, 0},
                                  [](const detail::AtomEdge& x, const detail::AtomEdge& y) {
                                      return std::tie(x.a, x.b) < std::tie(y.a, y.b);
                                  });
    };
    // Pairs whose envelopes come within the gap and share no segment: near contacts, or corners.
    const std::size_t n = units.size();
    std::vector<geos::Envelope> boxes(n);
    std::vector<int> coordinates(n, 0);
    geos::StrTree tree(context);
    for (std::size_t i = 0; i < n; ++i) {
        if (geos::is_empty(context, units[i].get())) continue;
        boxes[i] = geos::envelope(context, units[i].get());
        coordinates[i] = GEOSGetNumCoordinates_r(handle, units[i].get());
        tree.insert(units[i].get(), i);
    }
    std::vector<geos::Prepared> prepared(n);
    auto prepared_of = [&](std::size_t i) {
        if (!prepared[i]) prepared[i] = geos::prepare(context, units[i].get());
        return prepared[i].get();
    };
    for (std::size_t i = 0; i < n; ++i) {
        if (coordinates[i] == 0) continue;
        const geos::Envelope reach = grown(boxes[i], options.gap);
        const Geom probe = geos::own(
            context, GEOSGeom_createRectangle_r(handle, reach.min_x, reach.min_y, reach.max_x, reach.max_y), "a box");
        for (std::size_t j : tree.query(probe.get())) {
            if (j <= i) continue;
            const auto a = static_cast<std::uint32_t>(i), b = static_cast<std::uint32_t>(j);
            if (shares_segments(a, b)) continue;
            // Measured along the unit with fewer vertices, against the other, prepared.
            const bool i_smaller = coordinates[i] <= coordinates[j];
            const std::size_t small = i_smaller ? i : j, large = i_smaller ? j : i;
            const double length =
                near_length(context, units[small].get(), prepared_of(large), boxes[large], options.gap);
            if (length >= options.min_contact) edges.push_back({a, b, length, false});
        }
    }
    std::sort(edges.begin(), edges.end(),
              [](const UnitEdge& x, const UnitEdge& y) { return std::tie(x.a, x.b) < std::tie(y.a, y.b); });
    return edges;
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
        const std::vector<int> shared = share_count(rest_households, rest_total, input.options.target_households);
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

Wkb union_of_units(const std::vector<Wkb>& units) {
    const Context context;
    std::vector<Geom> parts;
    for (const Wkb& wkb : units) {
        if (wkb.empty()) continue;
        Geom g = geos::from_wkb(context, wkb);
        if (polygonal(context, g.get())) parts.push_back(std::move(g));
    }
    if (parts.empty()) return {};
    const Geom collection = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(parts));
    Geom result = coverage_union(context, collection.get());
    if (!result || !is_valid(context, result.get()))
        result = geos::unary_union(context, collection.get(), "uniting the units");
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
    // Neighbours: what units mode would join.
    std::vector<char> sharing(n, 0);
    for (const UnitEdge& e : unit_adjacency(polygons)) sharing[e.a] = sharing[e.b] = 1;
    std::size_t with_neighbour = 0;
    for (std::size_t i = 0; i < n; ++i)
        if (areas[i] > 0 && sharing[i]) ++with_neighbour;
    traits.sharing_share = static_cast<double>(with_neighbour) / static_cast<double>(traits.polygons);
    return traits;
}

}  // namespace civgrid::algorithms
