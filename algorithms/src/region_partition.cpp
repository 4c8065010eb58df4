#include <civgrid/algorithms/balance_bound.hpp>
#include <civgrid/algorithms/coverage_union.hpp>
#include <civgrid/algorithms/detailed_outline.hpp>
#include <civgrid/algorithms/geometry_repair.hpp>
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/graph_partition.hpp>
#include <civgrid/algorithms/polygonize.hpp>
#include <civgrid/algorithms/region_partition.hpp>
#include <civgrid/algorithms/segment_index.hpp>
#include <civgrid/error.hpp>

#include "free_memory.hpp"
#include "key_numbers.hpp"
#include "region_cells_state.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <limits>
#include <map>
#include <numbers>
#include <numeric>
#include <optional>
#include <tuple>
#include <unordered_map>

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

namespace civgrid::algorithms {

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

// Polygonizes noded linework and keeps the faces whose interior point lies inside `region`.
// `clipper` (the region's, when its outline is detailed): faces by polygonize_noded, since GEOS's
// polygonizer checks every ring's validity (seconds along a zig-zagging million-vertex boundary),
// and their points located by it (GEOS walks every tooth level with a point next to the teeth).
std::vector<Geom> polygonize_inside(const Context& context, const GEOSGeometry* linework,
                                    const GEOSPreparedGeometry* region, const OutlineClipper* clipper) {
    std::vector<Geom> polygons;
    if (clipper != nullptr) {
        polygons = polygonize_noded(context, linework);
    } else {
        const GEOSGeometry* inputs[] = {linework};
        const Geom all = geos::own(context, GEOSPolygonize_r(context.handle(), inputs, 1), "polygonizing");
        polygons = geos::parts(context, all.get());
    }
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

struct PointHash {
    std::size_t operator()(const Point& p) const noexcept {
        const std::uint64_t h =
            (std::bit_cast<std::uint64_t>(p.x) * 0x9E3779B97F4A7C15ULL) ^ std::bit_cast<std::uint64_t>(p.y);
        return static_cast<std::size_t>(h ^ (h >> 31));
    }
};
struct PointEqual {
    bool operator()(const Point& a, const Point& b) const noexcept { return a.x == b.x && a.y == b.y; }
};

// Calls `visit` with every line string and ring of a geometry (collections flattened).
template <typename Visit>
void for_each_line(const Context& context, const GEOSGeometry* geometry, Visit&& visit) {
    const auto handle = context.handle();
    const int type = GEOSGeomTypeId_r(handle, geometry);
    if (type == GEOS_LINESTRING || type == GEOS_LINEARRING) {
        if (!geos::is_empty(context, geometry)) visit(geometry);
    } else if (type == GEOS_POLYGON) {
        if (geos::is_empty(context, geometry)) return;
        visit(GEOSGetExteriorRing_r(handle, geometry));
        const int holes = GEOSGetNumInteriorRings_r(handle, geometry);
        for (int i = 0; i < holes; ++i) visit(GEOSGetInteriorRingN_r(handle, geometry, i));
    } else if (type == GEOS_MULTILINESTRING || type == GEOS_MULTIPOLYGON || type == GEOS_GEOMETRYCOLLECTION) {
        const int count = GEOSGetNumGeometries_r(handle, geometry);
        for (int i = 0; i < count; ++i) for_each_line(context, GEOSGetGeometryN_r(handle, geometry, i), visit);
    }
}

// Voronoi vertices closer than this are one vertex: far below any survey's precision, far above
// the rounding of a circumcentre (a unit in the last place is 5e-10 m at a northing of 3,300 km).
constexpr double kVertexMerge = 1e-6;  // metres

// Nearly cocircular sites (a surveyed lattice such as Chongqing's one-mu land cells, reprojected)
// give circumcentres a few units in the last place apart, and the ulp-long Voronoi edge between
// them can fold a cell's ring back on itself: an invalid cell that breaks the coverage union
// ("unable to assign free hole to a shell"). The vertices of such edges merge into one, the
// lexicographically smallest, the same in every cell, so neighbours keep sharing exact edges.
// Returns the replacement of each moved vertex; empty (the usual case) when no edge is that short.
using VertexMap = std::unordered_map<Point, Point, PointHash, PointEqual>;
VertexMap close_vertices(const Context& context, const GEOSGeometry* cells) {
    std::vector<std::pair<Point, Point>> short_edges;
    for_each_line(context, cells, [&](const GEOSGeometry* line) {
        const std::vector<Point> v = geos::vertices(context, line);
        for (std::size_t i = 1; i < v.size(); ++i)
            if (std::abs(v[i].x - v[i - 1].x) < kVertexMerge && std::abs(v[i].y - v[i - 1].y) < kVertexMerge &&
                !(v[i] == v[i - 1]) && std::hypot(v[i].x - v[i - 1].x, v[i].y - v[i - 1].y) < kVertexMerge)
                short_edges.emplace_back(v[i - 1], v[i]);
    });
    if (short_edges.empty()) return {};
    // Union-find over the vertices of short edges; a cluster maps to its smallest vertex.
    std::unordered_map<Point, std::size_t, PointHash, PointEqual> index;
    std::vector<Point> vertex;
    std::vector<std::size_t> parent;
    auto id = [&](Point p) {
        auto [it, inserted] = index.try_emplace(p, vertex.size());
        if (inserted) {
            vertex.push_back(p);
            parent.push_back(parent.size());
        }
        return it->second;
    };
    auto find = [&](std::size_t i) {
        while (parent[i] != i) i = parent[i] = parent[parent[i]];
        return i;
    };
    auto smaller = [](Point a, Point b) { return std::tie(a.x, a.y) < std::tie(b.x, b.y); };
    for (const auto& [a, b] : short_edges) {
        const std::size_t ra = find(id(a)), rb = find(id(b));
        if (ra == rb) continue;
        // The root is the smallest vertex of its cluster.
        if (smaller(vertex[ra], vertex[rb]))
            parent[rb] = ra;
        else
            parent[ra] = rb;
    }
    VertexMap moved;
    for (std::size_t i = 0; i < vertex.size(); ++i)
        if (const std::size_t root = find(i); root != i) moved.emplace(vertex[i], vertex[root]);
    return moved;
}

// A copy of `geometry` with the moved vertices replaced and repeated vertices dropped; the same
// geometry (not a copy) when it has none of them. A ring left with fewer than 4 vertices (a cell
// under a micrometre across) is dropped.
Geom move_vertices(const Context& context, Geom geometry, const VertexMap& moved) {
    if (moved.empty()) return geometry;
    bool touched = false;
    for_each_line(context, geometry.get(), [&](const GEOSGeometry* line) {
        if (!touched)
            for (const Point& p : geos::vertices(context, line))
                if (moved.contains(p)) {
                    touched = true;
                    break;
                }
    });
    if (!touched) return geometry;
    const auto handle = context.handle();
    auto moved_points = [&](const GEOSGeometry* line) {
        std::vector<Point> out;
        for (Point p : geos::vertices(context, line)) {
            if (const auto it = moved.find(p); it != moved.end()) p = it->second;
            if (out.empty() || !(out.back() == p)) out.push_back(p);
        }
        return out;
    };
    const int type = GEOSGeomTypeId_r(handle, geometry.get());
    if (type == GEOS_POLYGON) {
        std::vector<std::vector<Point>> rings;
        for_each_line(context, geometry.get(), [&](const GEOSGeometry* ring) { rings.push_back(moved_points(ring)); });
        if (rings.empty() || rings.front().size() < 4) return geos::from_wkt(context, "POLYGON EMPTY");
        std::vector<std::vector<Point>> holes(rings.begin() + 1, rings.end());
        std::erase_if(holes, [](const std::vector<Point>& ring) { return ring.size() < 4; });
        return geos::polygon(context, rings.front(), holes);
    }
    if (type == GEOS_LINESTRING || type == GEOS_LINEARRING) {
        const std::vector<Point> points = moved_points(geometry.get());
        return points.size() >= 2 ? geos::line_string(context, points) : geos::from_wkt(context, "LINESTRING EMPTY");
    }
    std::vector<Geom> parts;
    for (Geom& part : geos::parts(context, geometry.get()))
        parts.push_back(move_vertices(context, std::move(part), moved));
    return geos::collection(context, type, std::move(parts));
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

std::uint64_t mix(std::uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

// The union of polygons that form a coverage (exact shared edges): CoverageUnion, or a full union
// when noding left them slightly off. A single Polygon unless the parts are apart (multipart set);
// noding slivers of no area are dropped. Empty input: an empty polygon.
Geom union_of_cover(const Context& context, std::vector<Geom> parts, bool& multipart) {
    const auto handle = context.handle();
    multipart = false;
    if (parts.empty()) return geos::from_wkt(context, "POLYGON EMPTY");
    const Geom collection = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(parts));
    Geom polygon = coverage_union(context, collection.get());
    if (!polygon || !is_valid(context, polygon.get()))
        polygon = geos::own_nullable(context, GEOSUnaryUnion_r(handle, collection.get()));
    if (!polygon) {
        // An invalid cell (a ring folded on itself) breaks any overlay; made valid, the cells
        // unite, snap-rounded to a micrometre grid should floating-point noding still fail.
        const Geom repaired = geos::own(context, GEOSMakeValid_r(handle, collection.get()), "repairing cells");
        polygon = geos::own_nullable(context, GEOSUnaryUnion_r(handle, repaired.get()));
        constexpr double kGrid = 1e-6;
        if (!polygon)
            polygon = geos::own(context, GEOSUnaryUnionPrec_r(handle, repaired.get(), kGrid), "uniting cells");
    }
    if (GEOSGeomTypeId_r(handle, polygon.get()) == GEOS_POLYGON) return polygon;
    std::vector<Geom> polygons;
    collect_polygons(context, polygon.get(), polygons);
    // Noding can leave a sliver of no area where cells meet a boundary one unit in the last place
    // apart; it is not a part anyone could see.
    constexpr double kSliverArea = 1e-6;  // m2
    if (polygons.size() > 1)
        std::erase_if(polygons, [&](const Geom& part) { return geos::area(context, part.get()) < kSliverArea; });
    if (polygons.empty()) collect_polygons(context, polygon.get(), polygons);
    if (polygons.size() == 1) return std::move(polygons.front());
    multipart = true;
    return geos::collection(context, GEOS_MULTIPOLYGON, std::move(polygons));
}

}  // namespace

namespace detail {

std::vector<AtomEdge> atom_adjacency(const geos::Context& context, const std::vector<geos::Geom>& atoms) {
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
            const SegmentKey key =
                std::tie(px, py) < std::tie(x, y) ? SegmentKey{px, py, x, y} : SegmentKey{x, y, px, py};
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

}  // namespace detail

RegionCells::RegionCells() : state_(std::make_unique<State>()) {}
RegionCells::RegionCells(RegionCells&&) noexcept = default;
RegionCells& RegionCells::operator=(RegionCells&&) noexcept = default;
RegionCells::~RegionCells() = default;
const WeightedGraph& RegionCells::graph() const noexcept {
    return state_->graph;
}
const std::vector<int>& RegionCells::vertex_piece() const noexcept {
    return state_->vertex_piece;
}
const std::vector<double>& RegionCells::piece_households() const noexcept {
    return state_->piece_households;
}
const std::vector<int>& RegionCells::piece_counts() const noexcept {
    return state_->piece_counts;
}
int RegionCells::faces() const noexcept {
    return state_->faces;
}
std::size_t RegionCells::atom_count() const noexcept {
    return state_->atoms.size();
}

// Long on purpose: steps 1-6 (barriers, faces, nodes, atoms, adjacency, pieces) build one State
// together, each from the previous step's vectors; numbered below. Split further, each would take
// and return most of State.
RegionCells::RegionCells(const RegionInput& input) : state_(std::make_unique<State>()) {
    State& state = *state_;
    const Context& context = state.context;
    const auto handle = context.handle();
    state.options = input.options;
    state.requested = input.micro_grid_count;

    Geom region = valid_polygonal(context, geos::from_wkb(context, input.boundary));
    if (geos::is_empty(context, region.get()) || geos::area(context, region.get()) <= 0)
        throw InputError(kStage, "the region boundary is empty or has no area");
    const geos::Prepared region_prepared = geos::prepare(context, region.get());
    // A detailed region boundary is clipped to and noded without overlays on all of it.
    const bool detailed = GEOSGetNumCoordinates_r(handle, region.get()) > kDetailedOutline;
    std::optional<OutlineClipper> region_clipper;  // a detailed region's, built once
    if (detailed) region_clipper.emplace(context, region.get());
    const OutlineClipper* const detailed_region = detailed ? &*region_clipper : nullptr;

    // 1. Hard barriers clipped to the region: lines, and the outlines of barrier areas.
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
    // Lines are clipped with an overhang beyond the region (and Voronoi edges beyond their faces).
    Geom hard_linework;  // barrier lines across the region, or null
    if (!barrier_lines.empty()) {
        const Geom all = multi_lines(context, std::move(barrier_lines));
        const Geom clipped =
            clip_with_overhang(context, all.get(), region.get(), detailed, "clipping barriers", detailed_region);
        std::vector<Geom> lines;
        collect_lines(context, clipped.get(), lines);
        if (!lines.empty()) hard_linework = multi_lines(context, std::move(lines));
    }
    std::vector<Geom> region_outline;
    collect_lines(context, region.get(), region_outline);
    const Geom region_boundary = multi_lines(context, std::move(region_outline));

    // 2. Faces: the region cut by the hard barriers.
    std::vector<Geom> faces;
    if (hard_linework) {
        const Geom noded = noded_with_region(context, region.get(), region_boundary.get(), hard_linework.get(),
                                             detailed, "noding barriers");
        faces = polygonize_inside(context, noded.get(), region_prepared.get(), detailed_region);
    }
    if (faces.empty()) collect_polygons(context, region.get(), faces);
    state.faces = static_cast<int>(faces.size());
    std::vector<geos::Prepared> faces_prepared;
    for (const Geom& face : faces) faces_prepared.push_back(geos::prepare(context, face.get()));
    // Detailed faces locate points without GEOS's point locator.
    std::vector<std::unique_ptr<AreaLocator>> face_areas(faces.size());
    if (detailed)
        for (std::size_t f = 0; f < faces.size(); ++f)
            if (GEOSGetNumCoordinates_r(handle, faces[f].get()) > kDetailedOutline)
                face_areas[f] = std::make_unique<AreaLocator>(context, faces[f].get());
    std::unique_ptr<geos::StrTree> face_tree;
    if (faces.size() > 8) {
        face_tree = std::make_unique<geos::StrTree>(context);
        for (std::size_t f = 0; f < faces.size(); ++f) face_tree->insert(faces[f].get(), f);
    }

    // 3. Nodes: sites merged by identical location, each located in a face.
    std::map<std::pair<double, double>, std::uint32_t> node_at;
    std::vector<std::uint32_t> site_node(input.sites.size());
    std::vector<Point> node_location;
    std::vector<std::int64_t> node_households;
    std::vector<std::int64_t> node_largest_site;
    for (std::size_t s = 0; s < input.sites.size(); ++s) {
        const Site& site = input.sites[s];
        auto [it, inserted] =
            node_at.try_emplace({site.location.x, site.location.y}, static_cast<std::uint32_t>(node_location.size()));
        if (inserted) {
            node_location.push_back(site.location);
            node_households.push_back(0);
            node_largest_site.push_back(0);
        }
        site_node[s] = it->second;
        node_households[it->second] += std::max<std::int64_t>(site.households, 0);
        node_largest_site[it->second] = std::max(node_largest_site[it->second], site.households);
    }
    const std::size_t node_count = node_location.size();
    std::vector<Geom> node_points;
    node_points.reserve(node_count);
    for (const Point& p : node_location) node_points.push_back(geos::point(context, p));
    std::vector<std::size_t> node_face(node_count);
    std::vector<std::vector<std::uint32_t>> face_nodes(faces.size());
    for (std::uint32_t v = 0; v < node_count; ++v) {
        node_face[v] = locate(context, faces_prepared, faces, face_tree.get(), node_points[v].get(), &face_areas);
        face_nodes[node_face[v]].push_back(v);
    }

    // 4. Atoms: the Voronoi cells of each face's nodes, cut by the face. Cells that touch no face
    // boundary are atoms as they are (GEOS computes each Voronoi vertex once, so neighbouring cells
    // share exact edges). Only the band of cells along face boundaries is clipped, noded and
    // polygonized together with all face boundaries, which keeps their edges exact too and is far
    // cheaper than noding every cell. Faces without nodes are cut by the cells of every node, so
    // parks and water split among their neighbours.
    std::vector<Geom>& atoms = state.atoms;
    std::vector<std::size_t>& atom_face = state.atom_face;  // band atoms are located after polygonizing
    std::vector<Geom> band_linework;
    if (!detailed) band_linework.push_back(geos::clone(context, region_boundary.get()));
    if (hard_linework) band_linework.push_back(geos::clone(context, hard_linework.get()));
    std::vector<std::uint32_t> all_nodes(node_count);
    std::iota(all_nodes.begin(), all_nodes.end(), 0u);
    std::vector<geos::Envelope> face_boxes;
    for (const Geom& face : faces) face_boxes.push_back(geos::envelope(context, face.get()));
    // A face without nodes is shared among the nodes of the faces beside it (those whose box meets
    // its box): the same cells near it as all nodes would give, at a fraction of the cost.
    auto borrowed_nodes = [&](std::size_t f) {
        constexpr double kReach = 1.0;  // metres
        geos::Envelope box = face_boxes[f];
        box.min_x -= kReach, box.min_y -= kReach, box.max_x += kReach, box.max_y += kReach;
        std::vector<std::uint32_t> nodes;
        for (std::size_t g = 0; g < faces.size(); ++g)
            if (g != f && face_boxes[g].intersects(box))
                nodes.insert(nodes.end(), face_nodes[g].begin(), face_nodes[g].end());
        std::sort(nodes.begin(), nodes.end());
        return nodes.empty() ? all_nodes : nodes;
    };
    // Faces are independent: in parallel (a whole city as one region has a thousand), each with a
    // GEOS context of its own thread; results are merged in face order, so threads change nothing.
    // Geometries move to this region's context (GEOS handles only report errors; every handle
    // shares one geometry factory).
    struct FaceCells {
        std::vector<Geom> atoms;
        Geom band;
    };
    std::vector<FaceCells> face_cells(faces.size());
    tbb::enumerable_thread_specific<Context> face_contexts;
    auto to_region_context = [&](Geom geometry) { return Geom(geometry.release(), geos::GeomDeleter{handle}); };
    tbb::parallel_for(std::size_t{0}, faces.size(), [&](std::size_t f) {
        const Context& local = face_contexts.local();
        const auto local_handle = local.handle();
        const std::vector<std::uint32_t> borrowed =
            face_nodes[f].empty() ? borrowed_nodes(f) : std::vector<std::uint32_t>{};
        const std::vector<std::uint32_t>& nodes = face_nodes[f].empty() ? borrowed : face_nodes[f];
        if (nodes.size() < 2) return;  // the face is one atom, bounded by band linework
        // Three far sites (guards) around the face make every real site interior to the
        // triangulation. GEOS clips each cell that leaves its diagram's box with an overlay:
        // without guards every hull cell of every face (a sixth of the cells' CPU on a city), with
        // them only the guards' three cells, which are dropped. The guards lie ten times the
        // extent of the sites and the face away, so every point of the face is nearer to a real
        // site than to a guard: the cells within the face, all that is kept of them, are the same.
        geos::Envelope extent = face_boxes[f];
        for (std::uint32_t v : nodes) {
            const Point p = node_location[v];
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
        std::vector<Geom> points;
        points.reserve(nodes.size() + guards.size());
        for (std::uint32_t v : nodes) points.push_back(geos::point(local, node_location[v]));
        for (const Point& guard : guards) points.push_back(geos::point(local, guard));
        const Geom multipoint = geos::collection(local, GEOS_MULTIPOINT, std::move(points));
        // A guard's cell is the one holding the guard (a real site's cell cannot: the guard is
        // nearer to itself).
        auto is_guard_cell = [&](const GEOSGeometry* cell, const geos::Envelope& box) {
            for (const Point& guard : guards)
                if (box.min_x <= guard.x && guard.x <= box.max_x && box.min_y <= guard.y && guard.y <= box.max_y &&
                    GEOSIntersects_r(local_handle, cell, geos::point(local, guard).get()) == 1)
                    return true;
            return false;
        };
        const Geom cells =
            geos::own(local, GEOSVoronoiDiagram_r(local_handle, multipoint.get(), faces[f].get(), 0.0, 0),
                      "computing a Voronoi diagram");
        // A cell whose box meets no boundary segment's box lies wholly on its site's side of the
        // face boundary: an atom when its site is in the face, nothing of this face otherwise. The
        // rest (a conservative band) is cut exactly below. Box tests on a segment grid are far
        // cheaper than GEOS predicates on half a million cells.
        std::vector<Geom> face_outline;
        collect_lines(local, faces[f].get(), face_outline);
        std::vector<SegmentIndex::Segment> outline_segments;
        for (const Geom& ring : face_outline) {
            const std::vector<Point> ring_points = geos::vertices(local, ring.get());
            for (std::size_t i = 1; i < ring_points.size(); ++i)
                outline_segments.push_back({ring_points[i - 1], ring_points[i]});
        }
        const SegmentIndex outline_index(std::move(outline_segments));
        const bool own_nodes = !face_nodes[f].empty();
        std::vector<Geom> band_rings;
        FaceCells& out = face_cells[f];
        const VertexMap moved = close_vertices(local, cells.get());
        for (Geom& cell_as_computed : geos::parts(local, cells.get())) {
            Geom cell = move_vertices(local, std::move(cell_as_computed), moved);
            if (geos::is_empty(local, cell.get())) continue;
            const geos::Envelope box = geos::envelope(local, cell.get());
            if (is_guard_cell(cell.get(), box)) continue;
            if (outline_index.near_box({box.min_x, box.min_y}, {box.max_x, box.max_y})) {
                collect_lines(local, cell.get(), band_rings);
                continue;
            }
            // A face's own nodes lie in it, so their clear cells do; a face without nodes borrows
            // its neighbours' cells and keeps those inside it (any vertex tells).
            bool inside = own_nodes;
            if (!own_nodes) {
                const Point corner = geos::vertices(local, GEOSGetExteriorRing_r(local_handle, cell.get())).front();
                const Geom probe = geos::point(local, corner);
                inside = GEOSPreparedIntersects_r(local_handle, faces_prepared[f].get(), probe.get()) == 1;
            }
            if (inside) out.atoms.push_back(to_region_context(std::move(cell)));
        }
        if (band_rings.empty()) return;
        const Geom rings = multi_lines(local, std::move(band_rings));
        // Cut by the face's outline segment by segment through an index (OutlineClipper), not by
        // a GEOS overlay noding every cell edge against every other: the noding below does that
        // once for the region.
        constexpr bool by_index = true;
        out.band = to_region_context(
            clip_with_overhang(local, rings.get(), faces[f].get(), by_index, "clipping Voronoi cells"));
    });
    for (std::size_t f = 0; f < faces.size(); ++f) {
        for (Geom& atom : face_cells[f].atoms) {
            atoms.push_back(std::move(atom));
            atom_face.push_back(f);
        }
        if (face_cells[f].band) band_linework.push_back(std::move(face_cells[f].band));
    }
    const std::size_t interior_atoms = atoms.size();
    {
        geos::StrTree interior_tree(context);
        for (std::size_t a = 0; a < interior_atoms; ++a) interior_tree.insert(atoms[a].get(), a);
        std::vector<geos::Prepared> interior_prepared;
        interior_prepared.reserve(interior_atoms);
        for (std::size_t a = 0; a < interior_atoms; ++a)
            interior_prepared.push_back(geos::prepare(context, atoms[a].get()));
        const Geom linework_collection = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(band_linework));
        const Geom noded =
            detailed ? node_with_outline(context, region.get(), linework_collection.get())
                     : geos::own(context, GEOSUnaryUnion_r(handle, linework_collection.get()), "noding cells");
        for (Geom& piece : polygonize_inside(context, noded.get(), region_prepared.get(), detailed_region)) {
            // Polygonize also returns the holes the interior cells fill: drop those.
            const Geom inside = geos::point(context, geos::point_on_surface(context, piece.get()));
            bool covered = false;
            for (std::size_t a : interior_tree.query(inside.get()))
                if (GEOSPreparedIntersects_r(handle, interior_prepared[a].get(), inside.get()) == 1) {
                    covered = true;
                    break;
                }
            if (!covered) atoms.push_back(std::move(piece));
        }
    }
    if (atoms.empty()) throw InternalError(kStage, "polygonizing the region produced no cells");
    atom_face.resize(atoms.size());
    for (std::size_t a = interior_atoms; a < atoms.size(); ++a) {
        const Geom inside = geos::point(context, geos::point_on_surface(context, atoms[a].get()));
        atom_face[a] = locate(context, faces_prepared, faces, face_tree.get(), inside.get(), &face_areas);
    }

    geos::StrTree atom_tree(context);
    std::vector<geos::Prepared> atoms_prepared;
    atoms_prepared.reserve(atoms.size());
    for (std::size_t a = 0; a < atoms.size(); ++a) {
        atom_tree.insert(atoms[a].get(), a);
        atoms_prepared.push_back(geos::prepare(context, atoms[a].get()));
    }
    // In a detailed region the atoms along the outline share its million vertices: GEOS's point
    // locators of all of them cost as much as the region's.
    std::vector<std::unique_ptr<AreaLocator>> atom_areas(detailed ? atoms.size() : 0);
    constexpr int kLocatedByBlocks = 1'000;  // vertices
    for (std::size_t a = 0; a < atom_areas.size(); ++a)
        if (GEOSGetNumCoordinates_r(handle, atoms[a].get()) > kLocatedByBlocks)
            atom_areas[a] = std::make_unique<AreaLocator>(context, atoms[a].get());

    // 5. Graph vertices: atoms holding nodes (several nodes in one atom merge).
    std::vector<int> atom_vertex(atoms.size(), -1);
    std::vector<std::uint32_t> node_vertex(node_count);
    std::vector<std::int64_t> vertex_households, vertex_largest_site;
    std::vector<Point> vertex_location;
    std::vector<std::uint32_t>& vertex_atom = state.vertex_atom;
    for (std::uint32_t v = 0; v < node_count; ++v) {
        const std::size_t a =
            locate(context, atoms_prepared, atoms, &atom_tree, node_points[v].get(), detailed ? &atom_areas : nullptr);
        if (atom_vertex[a] < 0) {
            atom_vertex[a] = static_cast<int>(vertex_households.size());
            vertex_households.push_back(0);
            vertex_largest_site.push_back(0);
            vertex_location.push_back(node_location[v]);
            vertex_atom.push_back(static_cast<std::uint32_t>(a));
        }
        const auto vertex = static_cast<std::uint32_t>(atom_vertex[a]);
        node_vertex[v] = vertex;
        vertex_households[vertex] += node_households[v];
        vertex_largest_site[vertex] = std::max(vertex_largest_site[vertex], node_largest_site[v]);
    }
    const std::size_t vertex_count = vertex_households.size();

    state.adjacency = detail::atom_adjacency(context, atoms);
    const std::vector<detail::AtomEdge>& adjacency = state.adjacency;
    // Graph edges join sites of neighbouring atoms in one face. A dead-end barrier does not split
    // its face, but no edge may cross it; an edge crossing a soft barrier is marked.
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
    const SegmentIndex hard_index = segment_index_of(
        hard_linework ? std::vector<const GEOSGeometry*>{hard_linework.get()} : std::vector<const GEOSGeometry*>{});
    std::vector<Geom> soft_geometries;
    for (const Wkb& wkb : input.soft_lines)
        if (!wkb.empty()) soft_geometries.push_back(geos::from_wkb(context, wkb));
    std::vector<const GEOSGeometry*> soft_views;
    for (const Geom& g : soft_geometries) soft_views.push_back(g.get());
    const SegmentIndex soft_index = segment_index_of(soft_views);

    std::vector<EdgeInput> graph_edges;
    for (const detail::AtomEdge& e : adjacency) {
        const int va = atom_vertex[e.a], vb = atom_vertex[e.b];
        if (va < 0 || vb < 0 || atom_face[e.a] != atom_face[e.b]) continue;
        const Point pa = vertex_location[static_cast<std::size_t>(va)],
                    pb = vertex_location[static_cast<std::size_t>(vb)];
        if (hard_index.crosses(pa, pb)) continue;
        graph_edges.push_back(
            {static_cast<std::uint32_t>(va), static_cast<std::uint32_t>(vb), e.length, soft_index.intersects(pa, pb)});
    }
    state.graph = make_graph(std::move(vertex_households), std::move(vertex_location), std::move(graph_edges));
    const WeightedGraph& graph = state.graph;
    state.site_households.reserve(input.sites.size());
    state.site_vertex.reserve(input.sites.size());
    for (std::size_t s = 0; s < input.sites.size(); ++s) {
        state.site_households.push_back(std::max<std::int64_t>(input.sites[s].households, 0));
        state.site_vertex.push_back(node_vertex[site_node[s]]);
    }

    // 6. Pieces (connected components with households) and their micro-grid counts.
    int component_count = 0;
    const std::vector<int> component = connected_components(graph, &component_count);
    std::vector<double> component_households(static_cast<std::size_t>(component_count), 0.0);
    std::vector<int> component_positive(static_cast<std::size_t>(component_count), 0);
    for (std::size_t v = 0; v < vertex_count; ++v) {
        component_households[static_cast<std::size_t>(component[v])] += static_cast<double>(graph.node_weight[v]);
        component_positive[static_cast<std::size_t>(component[v])] += graph.node_weight[v] > 0 ? 1 : 0;
    }
    std::vector<int> piece_of_component(static_cast<std::size_t>(component_count), -1);
    std::vector<int> piece_positive;
    for (int c = 0; c < component_count; ++c) {
        if (component_households[static_cast<std::size_t>(c)] <= 0) continue;
        piece_of_component[static_cast<std::size_t>(c)] = static_cast<int>(state.piece_households.size());
        state.piece_households.push_back(component_households[static_cast<std::size_t>(c)]);
        piece_positive.push_back(component_positive[static_cast<std::size_t>(c)]);
    }
    state.vertex_piece.resize(vertex_count);
    for (std::size_t v = 0; v < vertex_count; ++v)
        state.vertex_piece[v] = piece_of_component[static_cast<std::size_t>(component[v])];
    // Shared so that the most micro-grids can be within +-10 % of the target (balance_bound.hpp).
    state.piece_counts =
        share_count(state.piece_households, std::max(1, input.micro_grid_count), input.options.target_households);
    // A part needs a vertex with households, and with a hard minimum, that many households.
    if (input.options.hard_min_households > 0)
        for (std::size_t p = 0; p < state.piece_counts.size(); ++p)
            state.piece_counts[p] = std::min(
                state.piece_counts[p], std::max(1, static_cast<int>(std::floor(state.piece_households[p] /
                                                                               input.options.hard_min_households))));
    for (std::size_t p = 0; p < state.piece_counts.size(); ++p)
        state.piece_counts[p] = std::clamp(state.piece_counts[p], 1, std::max(1, piece_positive[p]));
}

namespace {

// The subgraph induced by `members` (vertices of `graph`); local[v] gets v's index in it.
WeightedGraph induced_subgraph(const WeightedGraph& graph, const std::vector<std::uint32_t>& members,
                               std::vector<int>& local) {
    for (std::size_t i = 0; i < members.size(); ++i) local[members[i]] = static_cast<int>(i);
    std::vector<std::int64_t> weights;
    std::vector<Point> locations;
    std::vector<EdgeInput> edges;
    weights.reserve(members.size());
    locations.reserve(members.size());
    for (std::uint32_t v : members) {
        weights.push_back(graph.node_weight[v]);
        locations.push_back(graph.location[v]);
        for (std::uint32_t e = graph.offsets[v]; e < graph.offsets[v + 1]; ++e) {
            const std::uint32_t u = graph.neighbours[e];
            if (v < u && local[u] >= 0)
                edges.push_back({static_cast<std::uint32_t>(local[v]), static_cast<std::uint32_t>(local[u]),
                                 graph.shared_length[e], graph.crosses_soft[e] != 0});
        }
    }
    WeightedGraph result = make_graph(std::move(weights), std::move(locations), std::move(edges));
    for (std::uint32_t v : members) local[v] = -1;
    return result;
}

// How a partition scores against the window and the bounds: (micro-grids outside the window,
// households beyond the bounds).
std::pair<int, double> window_score(const WeightedGraph& graph, const std::vector<int>& part, int parts,
                                    const GraphPartitionOptions& options) {
    std::vector<double> weight(static_cast<std::size_t>(parts), 0.0);
    for (std::size_t v = 0; v < part.size(); ++v)
        weight[static_cast<std::size_t>(part[v])] += static_cast<double>(graph.node_weight[v]);
    int outside = 0;
    double beyond = 0;
    for (const double w : weight) {
        outside += w < options.window_low - 1e-9 || w > options.window_high + 1e-9 ? 1 : 0;
        if (options.lower_bound > 0 && w < options.lower_bound) beyond += options.lower_bound - w;
        if (options.upper_bound > 0 && w > options.upper_bound) beyond += w - options.upper_bound;
    }
    return {outside, beyond};
}

void refine_across_grids(const WeightedGraph& piece_graph, std::vector<int>& member_part,
                         const std::vector<int>& part_grid, const GraphPartitionOptions& options) {
    const int parts = static_cast<int>(part_grid.size());
    if (parts < 2 || member_part.size() != piece_graph.node_count() ||
        std::any_of(member_part.begin(), member_part.end(), [&](int p) { return p < 0 || p >= parts; }) ||
        !parts_are_connected(piece_graph, member_part))
        return;
    const auto before = window_score(piece_graph, member_part, parts, options);
    if (before.first == 0) return;
    std::vector<int> refined = member_part;
    refine_partition(piece_graph, refined, options);
    const auto after = window_score(piece_graph, refined, parts, options);
    if (after.first >= before.first || after.second > before.second + 1e-9) return;
    std::vector<int> node_grid(refined.size());
    for (std::size_t v = 0; v < refined.size(); ++v) node_grid[v] = part_grid[static_cast<std::size_t>(refined[v])];
    if (!parts_are_connected(piece_graph, node_grid)) return;
    member_part = std::move(refined);
}

}  // namespace

CellPartition partition_cells(const RegionCells& cells, std::uint64_t seed, const PartitionOptions& options) {
    const WeightedGraph& graph = cells.graph();
    const std::vector<int>& vertex_piece = cells.vertex_piece();
    const std::size_t vertex_count = graph.node_count();
    const std::size_t pieces = cells.piece_households().size();
    std::vector<std::vector<std::uint32_t>> piece_members(pieces);
    for (std::uint32_t v = 0; v < vertex_count; ++v)
        if (vertex_piece[v] >= 0) piece_members[static_cast<std::size_t>(vertex_piece[v])].push_back(v);
    GraphPartitionOptions micro_options;
    micro_options.spanning_tree_trials = options.spanning_tree_trials;
    micro_options.refinement_passes = options.refinement_passes;
    micro_options.soft_barrier_weight = options.soft_barrier_weight;
    micro_options.compactness = options.compactness;
    micro_options.lower_bound = options.lower();
    micro_options.upper_bound = options.upper();
    micro_options.hard_minimum = options.hard_min_households;
    // The quality report's window: +-10 % of the region's target, in whole households.
    const WithinRange window = within_range(options.target_households);
    if (window.low <= window.high) {
        micro_options.window_low = static_cast<double>(window.low);
        micro_options.window_high = static_cast<double>(window.high);
    }
    GraphPartitionOptions grid_options = micro_options;
    grid_options.lower_bound = grid_options.upper_bound = grid_options.hard_minimum = 0;
    grid_options.window_low = grid_options.window_high = 0;

    // Pieces are independent: in parallel (a whole city as one region has a thousand of them),
    // each into its own slot, numbered piece by piece afterwards, so threads do not change it.
    struct PieceOutcome {
        std::vector<int> member_part;  // per member of the piece
        int made = 0;
        std::vector<int> part_grid;  // per part made, its grid in the piece
        int grids = 0;
    };
    std::vector<PieceOutcome> outcomes(pieces);
    tbb::enumerable_thread_specific<std::vector<int>> locals([&] { return std::vector<int>(vertex_count, -1); });
    const bool with_grids = options.grid_households > 0 || options.grid_count > 0;
    // Count mode: the region's grids shared among its pieces by households.
    const std::vector<int> piece_grids =
        options.grid_count > 0 ? share_by_households(cells.piece_households(), options.grid_count) : std::vector<int>{};
    tbb::parallel_for(std::size_t{0}, pieces, [&](std::size_t p) {
        std::vector<int>& local = locals.local();
        PieceOutcome& outcome = outcomes[p];
        const std::vector<std::uint32_t>& members = piece_members[p];
        const WeightedGraph piece_graph = induced_subgraph(graph, members, local);
        const int count = cells.piece_counts()[p];
        if (!with_grids) {
            outcome.member_part = partition_connected_graph(piece_graph, count, mix(seed ^ mix(p)), micro_options);
            outcome.made = outcome.member_part.empty()
                               ? 0
                               : *std::max_element(outcome.member_part.begin(), outcome.member_part.end()) + 1;
            return;
        }
        // Grids first, each of a whole number of micro-grids (as equal as can be) and weighted by
        // it, then each grid's micro-grids inside it: both levels balanced, micro-grids nested.
        const int by_size = options.grid_households > 0
                                ? static_cast<int>(std::lround(cells.piece_households()[p] / options.grid_households))
                                : 1;
        const int wanted_grids = std::clamp(piece_grids.empty() ? by_size : piece_grids[p], 1, count);
        std::vector<int> units(static_cast<std::size_t>(wanted_grids), count / wanted_grids);
        const int larger = count % wanted_grids;  // spread the larger grids evenly through the order
        for (int i = 0; i < larger; ++i)
            ++units[static_cast<std::size_t>(static_cast<long>(i) * wanted_grids / larger)];
        const std::vector<int> grid_of =
            partition_connected_graph(piece_graph, units, mix(seed ^ mix(p) ^ 0x67726964ULL), grid_options);
        const int grids = grid_of.empty() ? 0 : *std::max_element(grid_of.begin(), grid_of.end()) + 1;
        std::vector<std::vector<std::uint32_t>> grid_members(static_cast<std::size_t>(grids));
        std::vector<int> grid_positive(static_cast<std::size_t>(grids), 0);
        for (std::size_t i = 0; i < members.size(); ++i) {
            const auto g = static_cast<std::size_t>(grid_of[i]);
            grid_members[g].push_back(static_cast<std::uint32_t>(i));
            grid_positive[g] += piece_graph.node_weight[i] > 0 ? 1 : 0;
        }
        std::vector<int> grid_counts(units.begin(), units.begin() + grids);
        for (std::size_t g = 0; g < grid_counts.size(); ++g)
            grid_counts[g] = std::clamp(grid_counts[g], 1, std::max(1, grid_positive[g]));
        std::vector<int> piece_local(members.size(), -1);
        outcome.member_part.assign(members.size(), -1);
        for (int g = 0; g < grids; ++g) {
            const auto& inside = grid_members[static_cast<std::size_t>(g)];
            const WeightedGraph grid_graph = induced_subgraph(piece_graph, inside, piece_local);
            const std::vector<int> parts =
                partition_connected_graph(grid_graph, grid_counts[static_cast<std::size_t>(g)],
                                          mix(seed ^ mix(p) ^ mix(static_cast<std::uint64_t>(g) + 1)), micro_options);
            const int made = parts.empty() ? 0 : *std::max_element(parts.begin(), parts.end()) + 1;
            for (std::size_t i = 0; i < inside.size(); ++i) outcome.member_part[inside[i]] = outcome.made + parts[i];
            for (int m = 0; m < made; ++m) outcome.part_grid.push_back(g);
            outcome.made += made;
        }
        outcome.grids = grids;
        // Each grid's micro-grids were balanced inside it, so a grid a few households over its
        // share leaves its micro-grids outside the window with no neighbour in reach. Refined once
        // more across the grids of the piece (the grids follow their micro-grids), kept when more
        // micro-grids end within the window, none further beyond the bounds, every grid whole.
        if (grids > 1 && micro_options.window_high > 0)
            refine_across_grids(piece_graph, outcome.member_part, outcome.part_grid, micro_options);
    });

    CellPartition result;
    result.vertex_part.assign(vertex_count, -1);
    for (std::size_t p = 0; p < pieces; ++p) {
        const PieceOutcome& outcome = outcomes[p];
        const std::vector<std::uint32_t>& members = piece_members[p];
        for (std::size_t i = 0; i < members.size(); ++i)
            result.vertex_part[members[i]] = result.part_count + outcome.member_part[i];
        for (int grid : outcome.part_grid) result.part_grid.push_back(result.grid_count + grid);
        result.part_count += outcome.made;
        result.grid_count += outcome.grids;
    }
    return result;
}

std::vector<int> partition_cells(const RegionCells& cells, std::uint64_t seed, const PartitionOptions& options,
                                 int* part_count) {
    CellPartition partition = partition_cells(cells, seed, options);
    if (part_count != nullptr) *part_count = partition.part_count;
    return std::move(partition.vertex_part);
}

RegionResult RegionCells::assemble(const std::vector<int>& vertex_part, int part_count) const {
    CellPartition partition;
    partition.vertex_part = vertex_part;
    partition.part_count = part_count;
    return assemble(partition);
}

// Long on purpose: steps 7-10 (targets, leftover land, polygons, sites and flags) read and fill
// one RegionResult in order; numbered below.
RegionResult RegionCells::assemble(const CellPartition& partition) const {
    const std::vector<int>& vertex_part = partition.vertex_part;
    const int part_count = partition.part_count;
    const State& state = *state_;
    const Context& context = state.context;
    const auto handle = context.handle();
    const std::vector<Geom>& atoms = state.atoms;
    const std::vector<std::size_t>& atom_face = state.atom_face;
    const std::vector<detail::AtomEdge>& adjacency = state.adjacency;
    const std::vector<std::uint32_t>& vertex_atom = state.vertex_atom;
    const std::size_t vertex_count = state.graph.node_count();
    if (vertex_part.size() != vertex_count)
        throw InternalError(kStage, "a partition of " + std::to_string(vertex_part.size()) +
                                        " vertices for a graph of " + std::to_string(vertex_count));
    RegionResult result;
    result.requested = state.requested;
    result.pieces = static_cast<int>(state.piece_households.size());
    result.faces = state.faces;
    result.site_micro_grid.assign(state.site_households.size(), -1);

    const PartitionOptions& options = state.options;
    const double lower = options.lower();
    const double upper = options.upper();

    // 7. Each part's piece and target: the piece's households shared by the parts in it.
    std::vector<int> atom_grid(atoms.size(), -1);
    std::vector<int> grid_piece(static_cast<std::size_t>(std::max(part_count, 0)), -1);
    for (std::size_t v = 0; v < vertex_count; ++v) {
        const int g = vertex_part[v];
        if (g < 0) continue;
        if (g >= part_count)
            throw InternalError(kStage,
                                "part " + std::to_string(g) + " beyond the part count " + std::to_string(part_count));
        atom_grid[vertex_atom[v]] = g;
        if (grid_piece[static_cast<std::size_t>(g)] < 0)
            grid_piece[static_cast<std::size_t>(g)] = state.vertex_piece[v];
    }
    std::vector<int> parts_in_piece(state.piece_households.size(), 0);
    for (int piece : grid_piece)
        if (piece >= 0) ++parts_in_piece[static_cast<std::size_t>(piece)];
    const double all_households = std::accumulate(state.piece_households.begin(), state.piece_households.end(), 0.0);
    std::vector<double> grid_target(grid_piece.size());
    for (std::size_t g = 0; g < grid_piece.size(); ++g)
        grid_target[g] = grid_piece[g] >= 0 ? state.piece_households[static_cast<std::size_t>(grid_piece[g])] /
                                                  parts_in_piece[static_cast<std::size_t>(grid_piece[g])]
                                            : all_households / std::max(part_count, 1);
    if (grid_piece.empty()) {  // no households anywhere in the region: one micro-grid covers it
        grid_piece.push_back(0);
        grid_target.push_back(0);
        if (vertex_count > 0)
            atom_grid[vertex_atom[0]] = 0;
        else
            atom_grid[0] = 0;
    }

    // 8. Leftover atoms (no households, fragments, water) join the neighbour with the longest
    // shared boundary, preferring their own face so no barrier separates them from it.
    std::vector<std::vector<std::pair<std::uint32_t, double>>> atom_neighbours(atoms.size());
    for (const detail::AtomEdge& e : adjacency) {
        atom_neighbours[e.a].emplace_back(e.b, e.length);
        atom_neighbours[e.b].emplace_back(e.a, e.length);
    }
    // In rounds, so that land grows from every side at the same pace (a park or a margin between
    // several micro-grids is shared among them, not flooded by the first one that reaches it).
    std::vector<std::uint32_t> frontier;
    std::vector<char> queued(atoms.size(), 0);
    auto enqueue_neighbours = [&](std::size_t a) {
        for (const auto& neighbour : atom_neighbours[a]) {
            const std::uint32_t b = neighbour.first;
            if (atom_grid[b] < 0 && !queued[b]) {
                queued[b] = 1;
                frontier.push_back(b);
            }
        }
    };
    for (std::size_t a = 0; a < atoms.size(); ++a)
        if (atom_grid[a] >= 0) enqueue_neighbours(a);
    while (!frontier.empty()) {
        std::sort(frontier.begin(), frontier.end());
        std::vector<std::pair<std::uint32_t, int>> decided;
        for (std::uint32_t a : frontier) {
            int best_grid = -1;
            double best_score = 0;
            for (const auto& [b, length] : atom_neighbours[a]) {
                const int g = atom_grid[b];
                if (g < 0) continue;
                const double score = length * (atom_face[a] == atom_face[b] ? 1e6 : 1.0);
                if (score > best_score || (score == best_score && g < best_grid)) {
                    best_score = score;
                    best_grid = g;
                }
            }
            if (best_grid >= 0) decided.emplace_back(a, best_grid);
        }
        for (const auto& [a, g] : decided) atom_grid[a] = g;
        frontier.clear();
        for (const auto& decision : decided) enqueue_neighbours(decision.first);
    }
    // Isolated islands: the nearest micro-grid. Many of them (units mode on scattered polygons
    // without households, where every pair would be measured) look up the nearest placed atom in
    // an STRtree of the atoms placed before; a few islands, as ever, measure every atom.
    std::vector<std::size_t> islands;
    for (std::size_t a = 0; a < atoms.size(); ++a)
        if (atom_grid[a] < 0) islands.push_back(a);
    constexpr double kMeasureAll = 1e7;  // island x atom distances
    if (static_cast<double>(islands.size()) * static_cast<double>(atoms.size()) > kMeasureAll) {
        std::unordered_map<const GEOSGeometry*, std::size_t> index_of;
        struct TreeDeleter {
            GEOSContextHandle_t context;
            void operator()(GEOSSTRtree* t) const noexcept { GEOSSTRtree_destroy_r(context, t); }
        };
        const std::unique_ptr<GEOSSTRtree, TreeDeleter> tree(GEOSSTRtree_create_r(handle, 10), TreeDeleter{handle});
        for (std::size_t b = 0; b < atoms.size(); ++b) {
            if (atom_grid[b] < 0) continue;
            GEOSSTRtree_insert_r(handle, tree.get(), atoms[b].get(), const_cast<GEOSGeometry*>(atoms[b].get()));
            index_of.emplace(atoms[b].get(), b);
        }
        std::vector<int> nearest_grid(islands.size(), -1);
        for (std::size_t i = 0; i < islands.size(); ++i) {
            const GEOSGeometry* nearest = GEOSSTRtree_nearest_r(handle, tree.get(), atoms[islands[i]].get());
            if (nearest != nullptr) nearest_grid[i] = atom_grid[index_of.at(nearest)];
        }
        for (std::size_t i = 0; i < islands.size(); ++i) atom_grid[islands[i]] = nearest_grid[i];
    }
    for (std::size_t a = 0; a < atoms.size(); ++a) {
        if (atom_grid[a] >= 0) continue;
        double best_distance = std::numeric_limits<double>::infinity();
        for (std::size_t b = 0; b < atoms.size(); ++b) {
            if (atom_grid[b] < 0) continue;
            double distance = 0;
            GEOSDistance_r(handle, atoms[a].get(), atoms[b].get(), &distance);
            if (distance < best_distance) {
                best_distance = distance;
                atom_grid[a] = atom_grid[b];
            }
        }
    }

    // 9. Polygons: the coverage union of each micro-grid's atoms, and of each grid's micro-grids.
    const std::size_t grid_count = grid_piece.size();
    std::vector<std::vector<std::size_t>> grid_atoms(grid_count);
    for (std::size_t a = 0; a < atoms.size(); ++a) grid_atoms[static_cast<std::size_t>(atom_grid[a])].push_back(a);
    result.micro_grids.resize(grid_count);
    // Grids as partitioned; a region without households, whose one micro-grid was made here, is
    // one grid when grids are asked for.
    std::vector<int> part_grid = partition.part_grid;
    int grid_level_count = partition.grid_count;
    if ((options.grid_households > 0 || options.grid_count > 0) && part_grid.size() != grid_count) {
        part_grid.assign(grid_count, 0);
        grid_level_count = 1;
    }
    const bool with_grids = !part_grid.empty() && part_grid.size() == grid_count;
    std::vector<std::vector<Geom>> grid_level_parts(with_grids ? static_cast<std::size_t>(grid_level_count) : 0);
    // Unions in parallel, each thread with its own GEOS context; polygons kept for the grids move
    // to this region's context (handles only report errors; all share one geometry factory).
    tbb::enumerable_thread_specific<Context> union_contexts;
    std::vector<Geom> micro_polygons(with_grids ? grid_count : 0);
    tbb::parallel_for(std::size_t{0}, grid_count, [&](std::size_t g) {
        const Context& local = union_contexts.local();
        MicroGridShape& shape = result.micro_grids[g];
        shape.piece = grid_piece[g];
        shape.target = grid_target[g];
        std::vector<Geom> cells;
        cells.reserve(grid_atoms[g].size());
        for (std::size_t a : grid_atoms[g]) cells.push_back(geos::clone(local, atoms[a].get()));
        bool multipart = false;
        Geom polygon = union_of_cover(local, std::move(cells), multipart);
        if (multipart) shape.flags |= static_cast<std::uint8_t>(Flag::multipart);
        if (!geos::is_empty(local, polygon.get())) shape.label_point = geos::point_on_surface(local, polygon.get());
        shape.polygon = geos::to_wkb(local, polygon.get());
        if (with_grids) {
            shape.grid = part_grid[g];
            micro_polygons[g] = Geom(polygon.release(), geos::GeomDeleter{handle});
        }
    });
    for (std::size_t g = 0; g < micro_polygons.size(); ++g)
        grid_level_parts[static_cast<std::size_t>(result.micro_grids[g].grid)].push_back(std::move(micro_polygons[g]));
    result.grids.resize(grid_level_parts.size());
    tbb::parallel_for(std::size_t{0}, grid_level_parts.size(), [&](std::size_t g) {
        const Context& local = union_contexts.local();
        GridShape& grid = result.grids[g];
        std::vector<Geom> parts;  // re-owned by this thread's context for the union
        for (Geom& part : grid_level_parts[g]) parts.push_back(Geom(part.release(), geos::GeomDeleter{local.handle()}));
        bool multipart = false;
        const Geom polygon = union_of_cover(local, std::move(parts), multipart);
        grid.multipart = multipart;
        if (!geos::is_empty(local, polygon.get())) grid.label_point = geos::point_on_surface(local, polygon.get());
        grid.polygon = geos::to_wkb(local, polygon.get());
    });
    for (const MicroGridShape& shape : result.micro_grids) {
        if (shape.grid < 0) continue;
        GridShape& grid = result.grids[static_cast<std::size_t>(shape.grid)];
        grid.micro_grids += 1;
        grid.piece = shape.piece;
    }

    // 10. Sites, households and flags.
    std::vector<std::int64_t> grid_largest_site(grid_count, 0);
    for (std::size_t s = 0; s < state.site_households.size(); ++s) {
        const std::uint32_t vertex = state.site_vertex[s];
        const int g = atom_grid[vertex_atom[vertex]];
        result.site_micro_grid[s] = g;
        result.micro_grids[static_cast<std::size_t>(g)].households += state.site_households[s];
        grid_largest_site[static_cast<std::size_t>(g)] =
            std::max(grid_largest_site[static_cast<std::size_t>(g)], state.site_households[s]);
    }
    for (std::size_t g = 0; g < grid_count; ++g) {
        MicroGridShape& shape = result.micro_grids[g];
        const auto households = static_cast<double>(shape.households);
        if (state.piece_households.empty()) {
            shape.flags |= static_cast<std::uint8_t>(Flag::no_households);
            continue;
        }
        if (households >= lower && households <= upper) continue;
        if (static_cast<double>(grid_largest_site[g]) > upper)
            shape.flags |= static_cast<std::uint8_t>(Flag::large_building);
        else if (shape.target < lower || shape.target > upper)
            shape.flags |= static_cast<std::uint8_t>(Flag::forced_by_boundaries);
        else
            shape.flags |= static_cast<std::uint8_t>(Flag::out_of_bounds);
    }
    if (!result.grids.empty()) {
        std::vector<int> grids_in_piece(state.piece_households.size(), 0);
        for (const MicroGridShape& shape : result.micro_grids)
            if (shape.grid >= 0) result.grids[static_cast<std::size_t>(shape.grid)].households += shape.households;
        for (const GridShape& grid : result.grids)
            if (grid.piece >= 0 && static_cast<std::size_t>(grid.piece) < grids_in_piece.size())
                ++grids_in_piece[static_cast<std::size_t>(grid.piece)];
        for (GridShape& grid : result.grids)
            if (grid.piece >= 0 && static_cast<std::size_t>(grid.piece) < grids_in_piece.size())
                grid.target = state.piece_households[static_cast<std::size_t>(grid.piece)] /
                              grids_in_piece[static_cast<std::size_t>(grid.piece)];
    }
    return result;
}

RegionResult partition_region(const RegionInput& input) {
    RegionResult result;
    {
        const RegionCells cells(input);
        result = cells.assemble(partition_cells(cells, input.seed, input.options));
    }
    // A detailed outline's transient vectors (millions of points) are handed back.
    constexpr std::size_t kBytesPerVertex = 16;  // WKB, 2D
    if (input.boundary.size() > kBytesPerVertex * kDetailedOutline) detail::release_free_memory();
    return result;
}

std::vector<Point> split_locations(const Wkb& footprint, int count) {
    Context context;
    count = std::max(count, 1);
    const Geom shape = geos::from_wkb(context, footprint);
    const Point centre = geos::point_on_surface(context, shape.get());
    if (count == 1) return {centre};
    // Long axis of the minimum rotated rectangle.
    const Geom rectangle = geos::own(context, GEOSMinimumRotatedRectangle_r(context.handle(), shape.get()),
                                     "computing a rotated rectangle");
    std::vector<Point> corners;
    if (GEOSGeomTypeId_r(context.handle(), rectangle.get()) == GEOS_POLYGON) {
        const GEOSCoordSequence* sequence =
            GEOSGeom_getCoordSeq_r(context.handle(), GEOSGetExteriorRing_r(context.handle(), rectangle.get()));
        unsigned size = 0;
        GEOSCoordSeq_getSize_r(context.handle(), sequence, &size);
        for (unsigned i = 0; i < size; ++i) {
            Point p;
            GEOSCoordSeq_getXY_r(context.handle(), sequence, i, &p.x, &p.y);
            corners.push_back(p);
        }
    }
    // A lattice over the rectangle, as many columns along the long side as its shape asks, so the
    // pieces a micro-grid takes together make a compact block, not a thin slice across the building.
    Point axis{1, 0}, across{0, 1};
    double half_length = 1.0, half_width = 1.0;
    if (corners.size() >= 4) {
        const Point a = corners[0], b = corners[1], c = corners[2];
        const double ab = std::hypot(b.x - a.x, b.y - a.y), bc = std::hypot(c.x - b.x, c.y - b.y);
        if (ab > 0 && bc > 0) {
            const bool first_longer = ab >= bc;
            axis = first_longer ? Point{(b.x - a.x) / ab, (b.y - a.y) / ab} : Point{(c.x - b.x) / bc, (c.y - b.y) / bc};
            across =
                first_longer ? Point{(c.x - b.x) / bc, (c.y - b.y) / bc} : Point{(b.x - a.x) / ab, (b.y - a.y) / ab};
            half_length = std::max(ab, bc) / 2;
            half_width = std::min(ab, bc) / 2;
        }
    }
    const double aspect = half_length / std::max(half_width, 1e-9);
    const int columns = std::clamp(static_cast<int>(std::lround(std::sqrt(count * aspect))), 1, count);
    const int rows = (count + columns - 1) / columns;
    const Point middle = geos::centroid(context, rectangle.get());
    const geos::Prepared prepared = geos::prepare(context, shape.get());
    std::vector<Point> result;
    for (int i = 0; i < count; ++i) {
        const int row = i / columns;
        const int in_row = i % columns;
        const int column = row % 2 == 0 ? in_row : columns - 1 - in_row;  // serpentine: neighbours stay close
        const int in_this_row = row == rows - 1 ? count - row * columns : columns;
        const double u = ((column + 0.5) / std::max(in_this_row, 1) - 0.5) * 2.0 * half_length * 0.9;
        const double v = ((row + 0.5) / rows - 0.5) * 2.0 * half_width * 0.9;
        Point p{middle.x + axis.x * u + across.x * v, middle.y + axis.y * u + across.y * v};
        const Geom probe = geos::point(context, p);
        // Irregular shapes: fall back to distinct points beside the point on surface.
        if (GEOSPreparedContains_r(context.handle(), prepared.get(), probe.get()) != 1)
            p = Point{centre.x + axis.x * 0.01 * i, centre.y + axis.y * 0.01 * i};
        result.push_back(p);
    }
    return result;
}

}  // namespace civgrid::algorithms
