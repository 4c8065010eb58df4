// The phases of a region's cells (region_cells.hpp): each a function of the ones before it.
#include <civgrid/algorithms/balance_bound.hpp>
#include <civgrid/algorithms/detailed_outline.hpp>
#include <civgrid/algorithms/geometry_repair.hpp>
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/graph_partition.hpp>
#include <civgrid/algorithms/polygonize.hpp>
#include <civgrid/algorithms/region_cells.hpp>
#include <civgrid/algorithms/segment_index.hpp>
#include <civgrid/algorithms/voronoi_cells.hpp>
#include <civgrid/error.hpp>

#include "key_numbers.hpp"
#include "ring_math.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <limits>
#include <map>
#include <numbers>
#include <numeric>
#include <optional>
#include <span>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

namespace civgrid::algorithms::cells {

namespace {

using geos::collect_lines;
using geos::collect_polygons;
using geos::Context;
using geos::Geom;
constexpr const char* kStage = "algorithms.partition";

Geom multi_lines(const Context& context, std::vector<Geom> lines) {
    return geos::collection(context, GEOS_MULTILINESTRING, std::move(lines));
}

// A valid polygonal geometry, repaired with MakeValid when needed.
Geom valid_polygonal(const Context& context, Geom geometry) {
    if (!is_valid(context, geometry.get())) {
        Geom repaired =
            geos::own(context, GEOSMakeValid_r(context.handle(), geometry.get()), "repairing the region boundary");
        std::vector<Geom> polygons;
        collect_polygons(context, repaired.get(), polygons);
        geometry = geos::collection(context, GEOS_MULTIPOLYGON, std::move(polygons));
    }
    return geometry;
}

// Polygonizes noded linework (a GEOS union, or node_with_outline's) and keeps the faces whose
// interior point lies inside `region`. Faces by polygonize_noded: GEOS's polygonizer checks every
// ring's validity (seconds along a zig-zagging million-vertex boundary, a sixth of the Voronoi
// phase on an ordinary city), which noded linework does not need. `clipper` (the region's, when its
// outline is detailed) locates their points (GEOS walks every tooth level with a point next to the
// teeth).
std::vector<Geom> polygonize_inside(const Context& context, const GEOSGeometry* linework,
                                    const GEOSPreparedGeometry* region, const OutlineClipper* clipper,
                                    std::span<const std::pair<Point, Point>> segments = {}) {
    std::vector<Geom> polygons = polygonize_noded(context, linework, segments);
    std::vector<Geom> faces;
    for (Geom& face : polygons) {
        if (geos::area(context, face.get()) <= 0) continue;
        const Point inside = geos::point_on_surface(context, face.get());
        if (clipper != nullptr) {
            if (clipper->covers(inside)) faces.push_back(std::move(face));
            continue;
        }
        const Geom point = geos::point(context, inside);
        if (GEOSPreparedIntersects_r(context.handle(), region, point.get()) == 1) faces.push_back(std::move(face));
    }
    return faces;
}

// Lines are clipped to an area with a small overhang beyond its outline: a line clipped exactly
// ends a rounding error short of the outline, and polygonize would take it for a dangle that
// splits nothing. Overhanging ends are dangles outside, which polygonize drops.
constexpr double kOverhang = 0.01;  // metres

// A face without nodes smaller than this (square metres) is a sliver of rounding, not land.
constexpr double kSliverArea = 1e-4;

// `lines` (linear) clipped to the polygonal `area` with an overhang of kOverhang: the
// intersection with the area enlarged by a buffer, or, `by_index`, the pieces inside it cut
// without an overlay (OutlineClipper), their ends on the outline pushed kOverhang further along
// their last segment. By index whenever the area has more than kDetailedOutline vertices: the
// offset curves of a densely digitised or zig-zagging outline overlap each other by the thousand
// (a 1,000,000-vertex community boundary zig-zagging by 3 cm ran for minutes and past 4 GB in
// GEOSBuffer). Also for the band of Voronoi cells of every face: the overlay noded each cell edge
// against every other, and that band is noded again with the region's linework anyway.
Geom clip_with_overhang(const Context& context, const GEOSGeometry* lines, const GEOSGeometry* area, bool by_index,
                        const char* what, const OutlineClipper* area_clipper = nullptr) {
    const auto handle = context.handle();
    if (!by_index && GEOSGetNumCoordinates_r(handle, area) <= kDetailedOutline) {
        const Geom enlarged = geos::own(context, GEOSBuffer_r(handle, area, kOverhang, 2), what);
        return geos::own(context, GEOSIntersection_r(handle, lines, enlarged.get()), what);
    }
    auto pushed = [](Point end, Point before) {
        const double length = std::hypot(end.x - before.x, end.y - before.y);
        if (!(length > 0)) return end;
        return Point{end.x + (end.x - before.x) / length * kOverhang, end.y + (end.y - before.y) / length * kOverhang};
    };
    // Pieces along the outline (a Voronoi cell's edge on the diagram's box, which is the face's
    // box) repeat linework the caller has, split at every outline vertex: the clipper leaves them
    // out, or the noding of a million-vertex outline would take them twice.
    std::optional<OutlineClipper> own_clipper;
    if (area_clipper == nullptr) area_clipper = &own_clipper.emplace(context, area);
    std::vector<Geom> result;
    for (ClippedPiece& piece : area_clipper->clip(lines)) {
        std::vector<Point>& v = piece.points;
        if (piece.cut_start) v.front() = pushed(v.front(), v[1]);
        if (piece.cut_end) v.back() = pushed(v.back(), v[v.size() - 2]);
        result.push_back(geos::line_string(context, v));
    }
    return multi_lines(context, std::move(result));
}

// Noded linework of `lines` with the rings of `region` for polygonize: a union of all of it, or
// for a detailed region, the stretches of its outline that lines come near (node_with_outline).
Geom noded_with_region(const Context& context, const GEOSGeometry* region, const GEOSGeometry* region_boundary,
                       const GEOSGeometry* lines, bool detailed, const char* what) {
    if (detailed) return node_with_outline(context, region, lines);
    const Geom both = geos::collection(context, GEOS_GEOMETRYCOLLECTION, [&] {
        std::vector<Geom> v;
        v.push_back(geos::clone(context, region_boundary));
        v.push_back(geos::clone(context, lines));
        return v;
    }());
    return geos::own(context, GEOSUnaryUnion_r(context.handle(), both.get()), what);
}

using detail::SegmentHash;
using detail::SegmentKey;

// A segment's key whichever way it runs: its end points in lexicographic order.
SegmentKey undirected_key(Point a, Point b) {
    return std::tie(a.x, a.y) < std::tie(b.x, b.y) ? SegmentKey{a.x, a.y, b.x, b.y} : SegmentKey{b.x, b.y, a.x, a.y};
}

// Index of the first polygon (in index order) covering the point, or the nearest one. `areas`
// (when given, per polygon, null for most): locators of detailed polygons, asked instead of GEOS.
std::size_t locate(const Context& context, const std::vector<geos::Prepared>& prepared,
                   const std::vector<Geom>& polygons, const geos::StrTree* tree, const GEOSGeometry* point,
                   const std::vector<std::unique_ptr<AreaLocator>>* areas = nullptr) {
    auto covers = [&](std::size_t i) {
        if (areas != nullptr && (*areas)[i]) {
            Point p{};
            GEOSGeomGetX_r(context.handle(), point, &p.x);
            GEOSGeomGetY_r(context.handle(), point, &p.y);
            return (*areas)[i]->covers(context, p);
        }
        return GEOSPreparedIntersects_r(context.handle(), prepared[i].get(), point) == 1;
    };
    std::vector<std::size_t> candidates;
    if (tree != nullptr)
        candidates = tree->query(point);
    else {
        candidates.resize(polygons.size());
        std::iota(candidates.begin(), candidates.end(), std::size_t{0});
    }
    for (std::size_t i : candidates)
        if (covers(i)) return i;
    // Precision: a point on no polygon (it should not happen) goes to the nearest one.
    std::size_t best = 0;
    double best_distance = std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < polygons.size(); ++i) {
        double distance = 0;
        GEOSDistance_r(context.handle(), polygons[i].get(), point, &distance);
        if (distance < best_distance) {
            best_distance = distance;
            best = i;
        }
    }
    return best;
}

}  // namespace

std::vector<AtomEdge> adjacency(const geos::Context& context, const std::vector<geos::Geom>& atoms) {
    // Each segment's first owner while it waits for its second: a segment seen again joins the two
    // atoms and waits no more (a third time it waits again). Segments are numbered in a flat table
    // (a million of them along a detailed boundary, never seen twice).
    std::size_t coordinates = 0;
    for (const Geom& atom : atoms)
        coordinates += static_cast<std::size_t>(GEOSGetNumCoordinates_r(context.handle(), atom.get()));
    detail::KeyNumbers<SegmentKey, SegmentHash> numbers(coordinates);
    constexpr auto kNoOwner = std::numeric_limits<std::uint32_t>::max();
    std::vector<std::uint32_t> first_owner;
    first_owner.reserve(coordinates);
    std::vector<AtomEdge> edges;
    std::vector<Point> points;
    auto add_ring = [&](const GEOSGeometry* ring, std::uint32_t atom) {
        const GEOSCoordSequence* sequence = GEOSGeom_getCoordSeq_r(context.handle(), ring);
        unsigned size = 0;
        if (sequence == nullptr || GEOSCoordSeq_getSize_r(context.handle(), sequence, &size) == 0 || size == 0) return;
        points.resize(size);
        static_assert(sizeof(Point) == 2 * sizeof(double));
        GEOSCoordSeq_copyToBuffer_r(context.handle(), sequence, &points.front().x, 0, 0);
        for (unsigned i = 1; i < size; ++i) {
            const double px = points[i - 1].x, py = points[i - 1].y, x = points[i].x, y = points[i].y;
            if (x == px && y == py) continue;
            const SegmentKey key = undirected_key(points[i - 1], points[i]);
            const auto [number, inserted] = numbers.number(key);
            if (inserted) first_owner.push_back(kNoOwner);
            std::uint32_t& owner = first_owner[number];
            if (owner == kNoOwner) {
                owner = atom;
            } else {
                if (owner != atom) edges.push_back({owner, atom, std::hypot(x - px, y - py)});
                owner = kNoOwner;
            }
        }
    };
    for (std::uint32_t a = 0; a < atoms.size(); ++a) {
        add_ring(GEOSGetExteriorRing_r(context.handle(), atoms[a].get()), a);
        const int holes = GEOSGetNumInteriorRings_r(context.handle(), atoms[a].get());
        for (int i = 0; i < holes; ++i) add_ring(GEOSGetInteriorRingN_r(context.handle(), atoms[a].get(), i), a);
    }
    // Merge the segments of each atom pair into one edge.
    std::sort(edges.begin(), edges.end(),
              [](const AtomEdge& x, const AtomEdge& y) { return std::minmax(x.a, x.b) < std::minmax(y.a, y.b); });
    std::vector<AtomEdge> merged;
    for (const auto& e : edges) {
        const auto key = std::minmax(e.a, e.b);
        if (!merged.empty() && std::minmax(merged.back().a, merged.back().b) == key)
            merged.back().length += e.length;
        else
            merged.push_back({key.first, key.second, e.length});
    }
    return merged;
}

Outline::Outline(const Context& context, const Wkb& boundary_wkb)
    : region(valid_polygonal(context, geos::from_wkb(context, boundary_wkb))) {
    if (geos::is_empty(context, region.get()) || geos::area(context, region.get()) <= 0)
        throw InputError(kStage, "the region boundary is empty or has no area");
    prepared = geos::prepare(context, region.get());
    std::vector<Geom> rings;
    collect_lines(context, region.get(), rings);
    boundary = multi_lines(context, std::move(rings));
    // A detailed region boundary is clipped to and noded without overlays on all of it.
    if (GEOSGetNumCoordinates_r(context.handle(), region.get()) > kDetailedOutline)
        clipper_.emplace(context, region.get());
}

Geom hard_linework(const Context& context, const RegionInput& input, const Outline& outline) {
    std::vector<Geom> barrier_lines;
    for (const Wkb& wkb : input.hard_lines) {
        if (wkb.empty()) continue;
        const Geom line = geos::from_wkb(context, wkb);
        collect_lines(context, line.get(), barrier_lines);
    }
    for (const Wkb& wkb : input.hard_areas) {
        if (wkb.empty()) continue;
        const Geom area = geos::from_wkb(context, wkb);
        collect_lines(context, area.get(), barrier_lines);
    }
    if (barrier_lines.empty()) return nullptr;
    // Lines are clipped with an overhang beyond the region (and Voronoi edges beyond their faces).
    const Geom all = multi_lines(context, std::move(barrier_lines));
    const Geom clipped = clip_with_overhang(context, all.get(), outline.region.get(), outline.detailed(),
                                            "clipping barriers", outline.detailed_clipper());
    std::vector<Geom> lines;
    collect_lines(context, clipped.get(), lines);
    if (lines.empty()) return nullptr;
    return multi_lines(context, std::move(lines));
}

std::size_t Faces::locate(const Context& context, const GEOSGeometry* point) const {
    return cells::locate(context, prepared, faces, tree.get(), point, &areas);
}

Faces faces(const Context& context, const Outline& outline, const GEOSGeometry* hard_linework) {
    Faces result;
    std::vector<Geom>& faces = result.faces;
    if (hard_linework != nullptr) {
        Geom noded = noded_with_region(context, outline.region.get(), outline.boundary.get(), hard_linework,
                                       outline.detailed(), "noding barriers");
        faces = polygonize_inside(context, noded.get(), outline.prepared.get(), outline.detailed_clipper());
        if (!faces.empty() && !outline.detailed()) result.linework = std::move(noded);
    }
    if (faces.empty()) {
        collect_polygons(context, outline.region.get(), faces);
        if (!outline.detailed()) result.linework = geos::clone(context, outline.boundary.get());
    }
    for (const Geom& face : faces) result.prepared.push_back(geos::prepare(context, face.get()));
    // Detailed faces locate points without GEOS's point locator.
    result.areas.resize(faces.size());
    if (outline.detailed())
        for (std::size_t f = 0; f < faces.size(); ++f)
            if (GEOSGetNumCoordinates_r(context.handle(), faces[f].get()) > kDetailedOutline)
                result.areas[f] = std::make_unique<AreaLocator>(context, faces[f].get());
    if (faces.size() > 8) {
        result.tree = std::make_unique<geos::StrTree>(context);
        for (std::size_t f = 0; f < faces.size(); ++f) result.tree->insert(faces[f].get(), f);
    }
    for (const Geom& face : faces) result.boxes.push_back(geos::envelope(context, face.get()));
    return result;
}

Nodes nodes(const Context& context, const std::vector<Site>& sites, const Faces& faces) {
    Nodes result;
    std::map<std::pair<double, double>, std::uint32_t> node_at;
    result.site_node.resize(sites.size());
    for (std::size_t s = 0; s < sites.size(); ++s) {
        const Site& site = sites[s];
        auto [it, inserted] =
            node_at.try_emplace({site.location.x, site.location.y}, static_cast<std::uint32_t>(result.location.size()));
        if (inserted) {
            result.location.push_back(site.location);
            result.households.push_back(0);
        }
        result.site_node[s] = it->second;
        result.households[it->second] += std::max<std::int64_t>(site.households, 0);
    }
    result.points.reserve(result.location.size());
    for (const Point& p : result.location) result.points.push_back(geos::point(context, p));
    result.face_nodes.resize(faces.faces.size());
    for (std::uint32_t v = 0; v < result.location.size(); ++v)
        result.face_nodes[faces.locate(context, result.points[v].get())].push_back(v);
    return result;
}

namespace {

// The segments of the faces' linework that lie on some face's ring, or nothing when a segment on
// none lies inside the region (a barrier ending inside a face, which the band must be noded with:
// GEOS's noding does that). The rest of the linework (barriers' overhangs outside) bounds nothing.
std::optional<std::vector<std::pair<Point, Point>>> face_ring_segments(const Context& context, const Outline& outline,
                                                                       const Faces& faces) {
    std::unordered_set<SegmentKey, SegmentHash> on_rings;
    for (const Geom& face : faces.faces) {
        std::vector<Geom> rings;
        collect_lines(context, face.get(), rings);
        for (const Geom& ring : rings) {
            const std::vector<Point> v = geos::vertices(context, ring.get());
            for (std::size_t i = 1; i < v.size(); ++i) on_rings.insert(undirected_key(v[i - 1], v[i]));
        }
    }
    std::vector<std::pair<Point, Point>> segments;
    std::unordered_set<SegmentKey, SegmentHash> taken;
    std::vector<Geom> lines;
    collect_lines(context, faces.linework.get(), lines);
    for (const Geom& line : lines) {
        const std::vector<Point> v = geos::vertices(context, line.get());
        for (std::size_t i = 1; i < v.size(); ++i) {
            if (v[i - 1] == v[i]) continue;
            if (on_rings.contains(undirected_key(v[i - 1], v[i]))) {
                // Once: a segment that the linework holds twice (two parts of the region along
                // one edge) would leave polygonize two edges between the same nodes.
                if (taken.insert(undirected_key(v[i - 1], v[i])).second) segments.emplace_back(v[i - 1], v[i]);
                continue;
            }
            const Geom middle = geos::point(context, {(v[i - 1].x + v[i].x) / 2, (v[i - 1].y + v[i].y) / 2});
            if (GEOSPreparedIntersects_r(context.handle(), outline.prepared.get(), middle.get()) == 1)
                return std::nullopt;
        }
    }
    return segments;
}

// The linework to polygonize: `segments` split at every cut that lies on one of them (OutlineCut,
// the same segment from either face), in order along each, then the band's `pieces`; each segment
// once.
std::vector<std::pair<Point, Point>> split_at_cuts(const std::vector<std::pair<Point, Point>>& segments,
                                                   const std::vector<OutlineCut>& cuts,
                                                   const std::vector<std::pair<Point, Point>>& pieces) {
    std::unordered_map<SegmentKey, std::vector<Point>, SegmentHash> cuts_on;
    for (const OutlineCut& cut : cuts) cuts_on[undirected_key(cut.a, cut.b)].push_back(cut.point);
    std::vector<std::pair<Point, Point>> split;
    split.reserve(segments.size() + cuts.size() + pieces.size());
    std::vector<std::pair<double, Point>> along;
    // Each segment once, as GEOS's union gave them: the noding of barriers may leave two segments
    // from one node to two nodes a rounding error apart, which a cut near them splits at one
    // point; four sites on a circle give two Voronoi vertices at one point.
    std::unordered_set<SegmentKey, SegmentHash> taken;
    auto add = [&](Point from, Point to) {
        if (taken.insert(undirected_key(from, to)).second) split.emplace_back(from, to);
    };
    for (const auto& [a, b] : segments) {
        const auto found = cuts_on.find(undirected_key(a, b));
        if (found == cuts_on.end()) {
            add(a, b);
            continue;
        }
        along.clear();
        const double dx = b.x - a.x, dy = b.y - a.y;
        for (const Point p : found->second) along.emplace_back((p.x - a.x) * dx + (p.y - a.y) * dy, p);
        std::sort(along.begin(), along.end(), [](const auto& x, const auto& y) {
            return std::tie(x.first, x.second.x, x.second.y) < std::tie(y.first, y.second.x, y.second.y);
        });
        Point from = a;
        for (const auto& [position, p] : along) {
            if (p == from || p == b) continue;
            add(from, p);
            from = p;
        }
        add(from, b);
    }
    for (const auto& [a, b] : pieces) add(a, b);
    return split;
}

// Whether segments meet only at shared end points: a cut the rounding put beyond another line, or
// a face's piece crossing a barrier's stretch that bounds another face only, is not.
bool noded_exactly(const std::vector<std::pair<Point, Point>>& segments) {
    std::vector<SegmentIndex::Segment> stored;
    stored.reserve(segments.size());
    for (const auto& [a, b] : segments) stored.push_back({a, b});
    const SegmentIndex index(std::move(stored));
    std::vector<SegmentIndex::Segment> met;
    for (const auto& [a, b] : segments) {
        met.clear();
        index.meeting(a, b, met);
        for (const SegmentIndex::Segment& other : met) {
            const bool shares_a = other.a == a || other.b == a, shares_b = other.a == b || other.b == b;
            if (shares_a && shares_b) continue;  // itself (each segment is there once)
            if (!shares_a && !shares_b) return false;
            // Sharing one end, they meet nowhere else unless they lie along each other.
            const Point far = shares_a ? (other.a == a ? other.b : other.a) : (other.a == b ? other.b : other.a);
            const Point shared = shares_a ? a : b, own_far = shares_a ? b : a;
            const double cross =
                (own_far.x - shared.x) * (far.y - shared.y) - (own_far.y - shared.y) * (far.x - shared.x);
            const double dot =
                (own_far.x - shared.x) * (far.x - shared.x) + (own_far.y - shared.y) * (far.y - shared.y);
            if (cross == 0 && dot > 0) return false;
        }
    }
    return true;
}

// The atoms, with the band noded exactly when `face_linework` is given: each face's band clipped at
// its outline with no overhang and the faces' linework split where the pieces end need no GEOS
// noding (that noding was a thirteenth of a whole city's CPU), or nothing when they turn out not
// noded. Else the band's lines overhang the outline and GEOS nodes them with it.
std::optional<Atoms> atoms_of(const Context& context, const Outline& outline, const GEOSGeometry* hard_linework,
                              const Faces& faces, const Nodes& nodes,
                              const std::vector<std::pair<Point, Point>>* face_linework) {
    const bool exact_band = face_linework != nullptr;
    // Cells that touch no face boundary are atoms as they are (GEOS computes each Voronoi vertex
    // once, so neighbouring cells share exact edges). Only the band of cells along face boundaries
    // is clipped, noded and polygonized together with all face boundaries, which keeps their edges
    // exact too and is far cheaper than noding every cell. Faces without nodes are cut by the cells
    // of every node, so parks and water split among their neighbours.
    const auto handle = context.handle();
    const std::size_t face_count = faces.faces.size();
    Atoms result;
    std::vector<Geom>& atoms = result.atoms;
    std::vector<std::size_t>& atom_face = result.face;  // band atoms are located after polygonizing
    std::vector<Geom> band_linework;
    if (!exact_band) {
        if (!outline.detailed()) band_linework.push_back(geos::clone(context, outline.boundary.get()));
        if (hard_linework != nullptr) band_linework.push_back(geos::clone(context, hard_linework));
    }
    std::vector<std::pair<Point, Point>> band_segments;
    std::vector<OutlineCut> band_cuts;
    std::vector<std::uint32_t> all_nodes(nodes.location.size());
    std::iota(all_nodes.begin(), all_nodes.end(), 0u);
    // A face without nodes is shared among the nodes of the faces beside it (those whose box meets
    // its box): the same cells near it as all nodes would give, at a fraction of the cost.
    auto borrowed_nodes = [&](std::size_t f) {
        constexpr double kReach = 1.0;  // metres
        geos::Envelope box = faces.boxes[f];
        box.min_x -= kReach, box.min_y -= kReach, box.max_x += kReach, box.max_y += kReach;
        std::vector<std::uint32_t> borrowed;
        for (std::size_t g = 0; g < face_count; ++g)
            if (g != f && faces.boxes[g].intersects(box))
                borrowed.insert(borrowed.end(), nodes.face_nodes[g].begin(), nodes.face_nodes[g].end());
        std::sort(borrowed.begin(), borrowed.end());
        return borrowed.empty() ? all_nodes : borrowed;
    };
    // Faces are independent: in parallel (a whole city as one region has a thousand), each with a
    // GEOS context of its own thread; results are merged in face order, so threads change nothing.
    // Geometries move to the caller's context (GEOS handles only report errors; every handle
    // shares one geometry factory).
    struct FaceCells {
        std::vector<Geom> atoms;
        std::vector<std::uint32_t> atom_nodes;
        Geom band;                                           // to be noded by GEOS
        std::vector<std::pair<Point, Point>> band_segments;  // or noded exactly: ending at cuts
        std::vector<OutlineCut> cuts;
    };
    std::vector<FaceCells> face_cells(face_count);
    tbb::enumerable_thread_specific<Context> face_contexts;
    auto to_caller_context = [&](Geom geometry) { return Geom(geometry.release(), geos::GeomDeleter{handle}); };
    tbb::parallel_for(std::size_t{0}, face_count, [&](std::size_t f) {
        const Context& local = face_contexts.local();
        const auto local_handle = local.handle();
        const GEOSGeometry* face = faces.faces[f].get();
        const bool own_nodes = !nodes.face_nodes[f].empty();
        const std::vector<std::uint32_t> borrowed = own_nodes ? std::vector<std::uint32_t>{} : borrowed_nodes(f);
        const std::vector<std::uint32_t>& face_nodes = own_nodes ? nodes.face_nodes[f] : borrowed;
        if (face_nodes.size() < 2) return;  // the face is one atom, bounded by band linework
        // So is a sliver the noding of barriers leaves between two nodes a rounding error apart:
        // too thin for its clipper to tell inside from outside, it would keep its neighbours' cells
        // whole and cut theirs with them.
        if (!own_nodes && geos::area(local, face) < kSliverArea) return;
        // Three far sites (guards) around the face make every real site interior to the
        // triangulation, so every real cell is bounded; the guards' cells are dropped. The guards
        // lie ten times the extent of the sites and the face away, so every point of the face is
        // nearer to a real site than to a guard: the cells within the face, all that is kept of
        // them, are the same.
        geos::Envelope extent = faces.boxes[f];
        for (std::uint32_t v : face_nodes) {
            const Point p = nodes.location[v];
            extent.min_x = std::min(extent.min_x, p.x), extent.max_x = std::max(extent.max_x, p.x);
            extent.min_y = std::min(extent.min_y, p.y), extent.max_y = std::max(extent.max_y, p.y);
        }
        const Point centre{(extent.min_x + extent.max_x) / 2, (extent.min_y + extent.max_y) / 2};
        const double guard_distance =
            10 * std::max(1.0, std::hypot(extent.max_x - extent.min_x, extent.max_y - extent.min_y) / 2);
        std::array<Point, 3> guards;
        for (std::size_t k = 0; k < guards.size(); ++k) {
            const double angle = std::numbers::pi / 2 + static_cast<double>(k) * 2 * std::numbers::pi / 3;
            guards[k] = {centre.x + guard_distance * std::cos(angle), centre.y + guard_distance * std::sin(angle)};
        }
        // The cells are built from a triangulation of the face's nodes and the guards.
        std::vector<Point> sites;
        sites.reserve(face_nodes.size() + guards.size());
        for (std::uint32_t v : face_nodes) sites.push_back(nodes.location[v]);
        sites.insert(sites.end(), guards.begin(), guards.end());
        const VoronoiCells cells = voronoi_cells(sites);
        // A cell whose box meets no boundary segment's box lies wholly on its site's side of the
        // face boundary: an atom when its site is in the face, nothing of this face otherwise. The
        // rest (a conservative band) is cut exactly below. Box tests on a segment grid are far
        // cheaper than GEOS predicates on half a million cells.
        std::vector<Geom> face_outline;
        collect_lines(local, face, face_outline);
        std::vector<SegmentIndex::Segment> outline_segments;
        for (const Geom& ring : face_outline) {
            const std::vector<Point> ring_points = geos::vertices(local, ring.get());
            for (std::size_t i = 1; i < ring_points.size(); ++i)
                outline_segments.push_back({ring_points[i - 1], ring_points[i]});
        }
        const SegmentIndex outline_index(std::move(outline_segments));
        std::vector<Geom> band_rings;
        std::unordered_set<std::uint64_t> band_edges;  // Voronoi vertex pairs, the smaller first
        FaceCells& out = face_cells[f];
        std::vector<Point> ring;
        for (std::size_t s = 0; s < face_nodes.size(); ++s) {  // the guards' cells are dropped
            const std::span<const std::uint32_t> cell = cells.ring(s);
            if (cell.empty()) continue;  // under a micrometre across
            ring.clear();
            geos::Envelope box{std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity(),
                               -std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()};
            for (std::uint32_t vertex : cell) {
                const Point p = cells.vertices[vertex];
                ring.push_back(p);
                box.min_x = std::min(box.min_x, p.x), box.max_x = std::max(box.max_x, p.x);
                box.min_y = std::min(box.min_y, p.y), box.max_y = std::max(box.max_y, p.y);
            }
            ring.push_back(ring.front());
            if (outline_index.near_box({box.min_x, box.min_y}, {box.max_x, box.max_y})) {
                // Each edge once: two band cells share theirs, and GEOS's union nodes every copy
                // (BM_Voronoi/district 286 -> 252-269 ms).
                std::vector<Point> run;
                auto flush = [&] {
                    if (run.size() >= 2) band_rings.push_back(geos::line_string(local, run));
                    run.clear();
                };
                for (std::size_t i = 0; i < cell.size(); ++i) {
                    const std::uint32_t from = cell[i], to = cell[(i + 1) % cell.size()];
                    const std::uint64_t key = (std::uint64_t{std::min(from, to)} << 32) | std::max(from, to);
                    if (!band_edges.insert(key).second) {
                        flush();
                        continue;
                    }
                    if (run.empty()) run.push_back(ring[i]);
                    run.push_back(ring[i + 1]);
                }
                flush();
                continue;
            }
            // A face's own nodes lie in it, so their clear cells do, each holding its site; a face
            // without nodes borrows its neighbours' cells and keeps those inside it (any vertex
            // tells).
            if (!own_nodes) {
                const Geom probe = geos::point(local, ring.front());
                if (GEOSPreparedIntersects_r(local_handle, faces.prepared[f].get(), probe.get()) != 1) continue;
            }
            out.atom_nodes.push_back(own_nodes ? face_nodes[s] : Atoms::kNoNode);
            out.atoms.push_back(to_caller_context(geos::polygon(local, ring)));
        }
        if (band_rings.empty()) return;
        const Geom rings = multi_lines(local, std::move(band_rings));
        if (exact_band) {
            const OutlineClipper clipper(local, face);
            for (const ClippedPiece& piece : clipper.clip(rings.get(), &out.cuts))
                for (std::size_t i = 1; i < piece.points.size(); ++i)
                    out.band_segments.emplace_back(piece.points[i - 1], piece.points[i]);
            return;
        }
        // Cut by the face's outline segment by segment through an index (OutlineClipper), not by
        // a GEOS overlay noding every cell edge against every other: the noding below does that
        // once for the region.
        constexpr bool by_index = true;
        out.band = to_caller_context(clip_with_overhang(local, rings.get(), face, by_index, "clipping Voronoi cells"));
    });
    for (std::size_t f = 0; f < face_count; ++f) {
        for (Geom& atom : face_cells[f].atoms) {
            atoms.push_back(std::move(atom));
            atom_face.push_back(f);
        }
        result.node.insert(result.node.end(), face_cells[f].atom_nodes.begin(), face_cells[f].atom_nodes.end());
        if (face_cells[f].band) band_linework.push_back(std::move(face_cells[f].band));
        band_segments.insert(band_segments.end(), face_cells[f].band_segments.begin(),
                             face_cells[f].band_segments.end());
        band_cuts.insert(band_cuts.end(), face_cells[f].cuts.begin(), face_cells[f].cuts.end());
    }
    const std::size_t interior_atoms = atoms.size();
    {
        geos::StrTree interior_tree(context);
        for (std::size_t a = 0; a < interior_atoms; ++a) interior_tree.insert(atoms[a].get(), a);
        // Prepared when first asked: few interior atoms are ever asked (those beside the band).
        std::vector<geos::Prepared> interior_prepared(interior_atoms);
        const Geom linework_collection = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(band_linework));
        std::vector<Geom> band_atoms;
        if (exact_band) {
            const std::vector<std::pair<Point, Point>> linework =
                split_at_cuts(*face_linework, band_cuts, band_segments);
            if (!noded_exactly(linework)) return std::nullopt;
            band_atoms =
                polygonize_inside(context, linework_collection.get(), outline.prepared.get(), nullptr, linework);
        } else {
            const Geom noded =
                outline.detailed()
                    ? node_with_outline(context, outline.region.get(), linework_collection.get())
                    : geos::own(context, GEOSUnaryUnion_r(handle, linework_collection.get()), "noding cells");
            band_atoms = polygonize_inside(context, noded.get(), outline.prepared.get(), outline.detailed_clipper());
        }
        for (Geom& piece : band_atoms) {
            // Polygonize also returns the holes the interior cells fill: drop those.
            const Geom inside = geos::point(context, geos::point_on_surface(context, piece.get()));
            bool covered = false;
            for (std::size_t a : interior_tree.query(inside.get())) {
                if (!interior_prepared[a]) interior_prepared[a] = geos::prepare(context, atoms[a].get());
                if (GEOSPreparedIntersects_r(handle, interior_prepared[a].get(), inside.get()) == 1) {
                    covered = true;
                    break;
                }
            }
            if (!covered) atoms.push_back(std::move(piece));
        }
    }
    if (atoms.empty()) throw InternalError(kStage, "polygonizing the region produced no cells");
    atom_face.resize(atoms.size());
    result.node.resize(atoms.size(), Atoms::kNoNode);
    for (std::size_t a = interior_atoms; a < atoms.size(); ++a) {
        const Geom inside = geos::point(context, geos::point_on_surface(context, atoms[a].get()));
        atom_face[a] = faces.locate(context, inside.get());
    }
    return result;
}

}  // namespace

Atoms voronoi_atoms(const Context& context, const Outline& outline, const GEOSGeometry* hard_linework,
                    const Faces& faces, const Nodes& nodes, BandNoding noding) {
    if (noding == BandNoding::exact_when_possible && faces.linework) {
        if (const auto face_linework = face_ring_segments(context, outline, faces)) {
            if (std::optional<Atoms> exact = atoms_of(context, outline, hard_linework, faces, nodes, &*face_linework)) {
                exact->band_noded_exactly = true;
                return std::move(*exact);
            }
        }
    }
    return std::move(*atoms_of(context, outline, hard_linework, faces, nodes, nullptr));
}

AtomGraph atom_graph(const Context& context, const RegionInput& input, const Outline& outline,
                     const GEOSGeometry* hard_linework, const Atoms& atoms, const std::vector<AtomEdge>& adjacency,
                     const Nodes& nodes) {
    const auto handle = context.handle();
    const std::vector<Geom>& atom_polygons = atoms.atoms;
    const std::size_t node_count = nodes.location.size();
    // A whole Voronoi cell holds its site and no other node (no site lies on a Voronoi edge), so
    // the other nodes are located among the other atoms alone: those cut by face boundaries, and
    // cells whose site was not told.
    constexpr std::size_t kUnknown = std::numeric_limits<std::size_t>::max();
    std::vector<std::size_t> node_atom(node_count, kUnknown);
    std::vector<char> searched(atom_polygons.size(), 1);
    for (std::size_t a = 0; a < atom_polygons.size(); ++a)
        if (atoms.node[a] != Atoms::kNoNode) node_atom[atoms.node[a]] = a, searched[a] = 0;
    geos::StrTree atom_tree(context);
    std::vector<geos::Prepared> atoms_prepared(atom_polygons.size());
    for (std::size_t a = 0; a < atom_polygons.size(); ++a) {
        if (!searched[a]) continue;
        atom_tree.insert(atom_polygons[a].get(), a);
        atoms_prepared[a] = geos::prepare(context, atom_polygons[a].get());
    }
    // In a detailed region the atoms along the outline share its million vertices: GEOS's point
    // locators of all of them cost as much as the region's.
    std::vector<std::unique_ptr<AreaLocator>> atom_areas(outline.detailed() ? atom_polygons.size() : 0);
    constexpr int kLocatedByBlocks = 1'000;  // vertices
    for (std::size_t a = 0; a < atom_areas.size(); ++a)
        if (searched[a] && GEOSGetNumCoordinates_r(handle, atom_polygons[a].get()) > kLocatedByBlocks)
            atom_areas[a] = std::make_unique<AreaLocator>(context, atom_polygons[a].get());

    // Vertices: atoms holding nodes (several nodes in one atom merge).
    AtomGraph result;
    std::vector<int> atom_vertex(atom_polygons.size(), -1);
    result.node_vertex.resize(node_count);
    std::vector<std::int64_t> vertex_households;
    std::vector<Point> vertex_location;
    for (std::uint32_t v = 0; v < node_count; ++v) {
        const std::size_t a = node_atom[v] != kUnknown
                                  ? node_atom[v]
                                  : locate(context, atoms_prepared, atom_polygons, &atom_tree, nodes.points[v].get(),
                                           outline.detailed() ? &atom_areas : nullptr);
        if (atom_vertex[a] < 0) {
            atom_vertex[a] = static_cast<int>(vertex_households.size());
            vertex_households.push_back(0);
            vertex_location.push_back(nodes.location[v]);
            result.vertex_atom.push_back(static_cast<std::uint32_t>(a));
        }
        const auto vertex = static_cast<std::uint32_t>(atom_vertex[a]);
        result.node_vertex[v] = vertex;
        vertex_households[vertex] += nodes.households[v];
    }

    // Edges join sites of neighbouring atoms in one face. A dead-end barrier does not split its
    // face, but no edge may cross it; an edge crossing a soft barrier is marked.
    auto segment_index_of = [&](const std::vector<const GEOSGeometry*>& geometries) {
        std::vector<Geom> lines;
        for (const GEOSGeometry* g : geometries) collect_lines(context, g, lines);
        std::vector<SegmentIndex::Segment> segments;
        for (const Geom& line : lines) {
            const std::vector<Point> points = geos::vertices(context, line.get());
            for (std::size_t i = 1; i < points.size(); ++i) segments.push_back({points[i - 1], points[i]});
        }
        return SegmentIndex(std::move(segments));
    };
    const SegmentIndex hard_index =
        segment_index_of(hard_linework != nullptr ? std::vector<const GEOSGeometry*>{hard_linework}
                                                  : std::vector<const GEOSGeometry*>{});
    std::vector<Geom> soft_geometries;
    for (const Wkb& wkb : input.soft_lines)
        if (!wkb.empty()) soft_geometries.push_back(geos::from_wkb(context, wkb));
    std::vector<const GEOSGeometry*> soft_views;
    for (const Geom& g : soft_geometries) soft_views.push_back(g.get());
    const SegmentIndex soft_index = segment_index_of(soft_views);

    std::vector<EdgeInput> graph_edges;
    for (const AtomEdge& e : adjacency) {
        const int va = atom_vertex[e.a], vb = atom_vertex[e.b];
        if (va < 0 || vb < 0 || atoms.face[e.a] != atoms.face[e.b]) continue;
        const Point pa = vertex_location[static_cast<std::size_t>(va)],
                    pb = vertex_location[static_cast<std::size_t>(vb)];
        if (hard_index.crosses(pa, pb)) continue;
        graph_edges.push_back(
            {static_cast<std::uint32_t>(va), static_cast<std::uint32_t>(vb), e.length, soft_index.intersects(pa, pb)});
    }
    result.graph = make_graph(std::move(vertex_households), std::move(vertex_location), std::move(graph_edges));
    // Each vertex's cell area and the part of its boundary no graph edge shares, so refinement
    // knows the parts' perimeters and areas (improve_shapes).
    WeightedGraph& g = result.graph;
    g.area.assign(g.node_count(), 0.0);
    g.outer_length.assign(g.node_count(), 0.0);
    for (std::size_t a = 0; a < atom_polygons.size(); ++a) {
        if (atom_vertex[a] < 0) continue;
        const auto v = static_cast<std::size_t>(atom_vertex[a]);
        g.area[v] = geos::area(context, atom_polygons[a].get());
        double shared = 0;
        for (std::uint32_t e = g.offsets[v]; e < g.offsets[v + 1]; ++e) shared += g.shared_length[e];
        g.outer_length[v] = std::max(0.0, geos::length(context, atom_polygons[a].get()) - shared);
    }
    return result;
}

Pieces pieces(const WeightedGraph& graph, const RegionInput& input) {
    const std::size_t vertex_count = graph.node_count();
    int component_count = 0;
    const std::vector<int> component = connected_components(graph, &component_count);
    std::vector<double> component_households(static_cast<std::size_t>(component_count), 0.0);
    std::vector<int> component_positive(static_cast<std::size_t>(component_count), 0);
    for (std::size_t v = 0; v < vertex_count; ++v) {
        component_households[static_cast<std::size_t>(component[v])] += static_cast<double>(graph.node_weight[v]);
        component_positive[static_cast<std::size_t>(component[v])] += graph.node_weight[v] > 0 ? 1 : 0;
    }
    Pieces result;
    std::vector<int> piece_of_component(static_cast<std::size_t>(component_count), -1);
    std::vector<int> piece_positive;
    for (int c = 0; c < component_count; ++c) {
        if (component_households[static_cast<std::size_t>(c)] <= 0) continue;
        piece_of_component[static_cast<std::size_t>(c)] = static_cast<int>(result.households.size());
        result.households.push_back(component_households[static_cast<std::size_t>(c)]);
        piece_positive.push_back(component_positive[static_cast<std::size_t>(c)]);
    }
    result.vertex_piece.resize(vertex_count);
    for (std::size_t v = 0; v < vertex_count; ++v)
        result.vertex_piece[v] = piece_of_component[static_cast<std::size_t>(component[v])];
    // Shared so that the most micro-grids can be within +-10 % of the target (balance_bound.hpp).
    const PartitionOptions& options = input.options;
    result.counts = share_count(result.households, std::max(1, input.micro_grid_count), options.target_households,
                                options.lower(), options.upper());
    // A part needs a vertex with households, and with a hard minimum, that many households.
    if (options.hard_min_households > 0)
        for (std::size_t p = 0; p < result.counts.size(); ++p)
            result.counts[p] =
                std::min(result.counts[p],
                         std::max(1, static_cast<int>(std::floor(result.households[p] / options.hard_min_households))));
    for (std::size_t p = 0; p < result.counts.size(); ++p)
        result.counts[p] = std::clamp(result.counts[p], 1, std::max(1, piece_positive[p]));
    return result;
}

}  // namespace civgrid::algorithms::cells
