#include <civgrid/algorithms/coverage_clean.hpp>
#include <civgrid/algorithms/coverage_union.hpp>
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/parallel.hpp>

#include "key_numbers.hpp"
#include "wkb_rings.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <map>
#include <numeric>
#include <tuple>
#include <unordered_map>

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_sort.h>

namespace civgrid::algorithms {

namespace {

using geos::Context;
using geos::Envelope;
using geos::Geom;

// Noding within a micrometre: the cleaned units' new vertices (where an overlap's edge crosses a
// unit's) are computed in floating point, so their neighbours take them within this distance.
constexpr double kNodeTolerance = 1e-6;  // metres
// Points on another unit's edge closer than this are a contact (a T-junction), not a gap.
constexpr double kContact = 1e-6;  // metres

double point_segment_distance(Point p, Point a, Point b) {
    const double dx = b.x - a.x, dy = b.y - a.y, length2 = dx * dx + dy * dy;
    double t = length2 > 0 ? ((p.x - a.x) * dx + (p.y - a.y) * dy) / length2 : 0.0;
    t = std::clamp(t, 0.0, 1.0);
    return std::hypot(p.x - (a.x + t * dx), p.y - (a.y + t * dy));
}

// The rings of a unit: read in place, else through GEOS (big-endian, Z, ...). False when neither.
bool rings_of(const Context& context, const Wkb& wkb, detail::Rings& rings) {
    if (detail::read_polygonal(wkb, rings)) return true;
    rings.points.clear(), rings.ring_end.clear(), rings.polygon_end.clear();
    const Geom g = geos::from_wkb_nullable(context, wkb);
    if (!g) return false;
    const auto handle = context.handle();
    std::vector<Geom> polygons;
    geos::collect_polygons(context, g.get(), polygons);
    for (const Geom& polygon : polygons) {
        auto add = [&](const GEOSGeometry* ring) {
            for (const Point& p : geos::vertices(context, ring)) rings.points.push_back(p);
            rings.ring_end.push_back(rings.points.size());
        };
        add(GEOSGetExteriorRing_r(handle, polygon.get()));
        for (int i = 0; i < GEOSGetNumInteriorRings_r(handle, polygon.get()); ++i)
            add(GEOSGetInteriorRingN_r(handle, polygon.get(), i));
        rings.polygon_end.push_back(rings.ring_end.size());
    }
    return true;
}

template <typename F>
void for_segments(const detail::Rings& rings, F&& segment) {
    std::size_t begin = 0;
    for (const std::size_t end : rings.ring_end) {
        for (std::size_t i = begin + 1; i < end; ++i)
            if (rings.points[i - 1].x != rings.points[i].x || rings.points[i - 1].y != rings.points[i].y)
                segment(rings.points[i - 1], rings.points[i]);
        begin = end;
    }
}

std::uint64_t segment_hash(Point p, Point q) {
    const detail::SegmentKey key = std::tie(p.x, p.y) < std::tie(q.x, q.y) ? detail::SegmentKey{p.x, p.y, q.x, q.y}
                                                                           : detail::SegmentKey{q.x, q.y, p.x, p.y};
    return detail::SegmentHash{}(key);
}

struct FreeSegment {
    Point a, b;
    std::uint32_t unit;
};

class UnionFind {
public:
    explicit UnionFind(std::size_t n) : parent_(n) { std::iota(parent_.begin(), parent_.end(), std::size_t{0}); }
    std::size_t find(std::size_t x) {
        while (parent_[x] != x) x = parent_[x] = parent_[parent_[x]];
        return x;
    }
    void unite(std::size_t a, std::size_t b) {
        a = find(a), b = find(b);
        if (a != b) parent_[std::max(a, b)] = std::min(a, b);
    }

private:
    std::vector<std::size_t> parent_;
};

// One neighbourhood cleaned on its own: its units (ascending global indices), the units around it
// that are not its own (their boxes meet its envelope: land they cover is no gap), and the
// overlapping pairs among its units.
struct Group {
    std::vector<std::size_t> members, outsiders;
    std::vector<Envelope> outsider_boxes;
    std::vector<OverlapPair> overlaps;
};

struct GroupResult {
    std::vector<std::pair<std::size_t, Wkb>> changed;
    std::vector<CleanedOverlap> overlaps;
    std::vector<CleanedGap> gaps;
    bool failed = false;
};

Geom polygonal_part(const Context& context, const GEOSGeometry* g) {
    std::vector<Geom> polygons;
    geos::collect_polygons(context, g, polygons);
    std::erase_if(polygons, [&](const Geom& p) { return !(geos::area(context, p.get()) > 0); });
    if (polygons.empty()) return {};
    if (polygons.size() == 1) return std::move(polygons.front());
    return geos::collection(context, GEOS_MULTIPOLYGON, std::move(polygons));
}

Geom union_of(const Context& context, const std::vector<const GEOSGeometry*>& parts, const char* what) {
    std::vector<Geom> copies;
    for (const GEOSGeometry* p : parts) copies.push_back(geos::clone(context, p));
    const Geom all = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(copies));
    return geos::unary_union(context, all.get(), what);
}

GroupResult clean_group(const Context& context, const std::vector<Wkb>& units, const Group& group,
                        const CoverageCleanOptions& options) {
    const auto handle = context.handle();
    GroupResult result;
    const std::size_t m = group.members.size();
    std::vector<Geom> original(m), current(m);
    std::vector<double> areas(m, 0.0);
    std::unordered_map<std::size_t, std::size_t> local;  // global index -> member
    for (std::size_t i = 0; i < m; ++i) {
        local.emplace(group.members[i], i);
        original[i] = geos::from_wkb_nullable(context, units[group.members[i]]);
        if (original[i] && geos::is_empty(context, original[i].get())) original[i].reset();
        if (original[i]) {
            areas[i] = geos::area(context, original[i].get());
            current[i] = geos::clone(context, original[i].get());
        }
    }
    std::vector<char> changed(m, 0);

    // 1. Overlaps: each unit loses what its larger overlapping partners cover (a total order, so
    // no two results overlap).
    const auto before = [&](std::size_t a, std::size_t b) {  // a keeps an overlap with b
        return areas[a] > areas[b] || (areas[a] == areas[b] && group.members[a] < group.members[b]);
    };
    std::vector<std::vector<std::size_t>> winners(m);
    for (const OverlapPair& pair : group.overlaps) {
        const std::size_t a = local.at(pair.first), b = local.at(pair.second);
        if (!original[a] || !original[b]) continue;
        const bool a_keeps = before(a, b);
        winners[a_keeps ? b : a].push_back(a_keeps ? a : b);
    }
    for (std::size_t i = 0; i < m; ++i) {
        if (winners[i].empty()) continue;
        std::vector<const GEOSGeometry*> parts;
        for (std::size_t w : winners[i]) parts.push_back(original[w].get());
        const Geom cover = union_of(context, parts, "uniting overlapping units");
        const Geom rest = geos::own_nullable(context, GEOSDifference_r(handle, original[i].get(), cover.get()));
        Geom trimmed = rest ? polygonal_part(context, rest.get()) : Geom{};
        const bool cleaned = static_cast<bool>(trimmed);
        for (std::size_t w : winners[i]) result.overlaps.push_back({group.members[w], group.members[i], 0.0, cleaned});
        if (cleaned) {
            current[i] = std::move(trimmed);
            changed[i] = 1;
        }
    }

    // Noding: the vertices the cleaning gave a member (not among its own as read: where an
    // overlap's edge crosses a unit's, where a gap's edge met a T-junction) are taken by every
    // member whose edge they lie on, and a member's own new vertex within a micrometre of another
    // member's moves onto it. One member after the other, each against the others as already
    // noded, so crossing points two overlays computed a rounding apart become one point, not a
    // sliver of a gap. Only new vertices are snapped to: GEOS's snapper is quadratic in them.
    const auto point_less = [](Point a, Point b) { return std::tie(a.x, a.y) < std::tie(b.x, b.y); };
    std::vector<std::vector<Point>> as_read(m);
    const auto new_vertices = [&](std::size_t i) {
        if (as_read[i].empty() && original[i]) {
            for (const auto& [a, b] : geos::line_segments(context, original[i].get()))
                as_read[i].push_back(a), as_read[i].push_back(b);
            std::sort(as_read[i].begin(), as_read[i].end(), point_less);
        }
        std::vector<Point> fresh;
        for (const auto& [a, b] : geos::line_segments(context, current[i].get()))
            for (const Point p : {a, b})
                if (!std::binary_search(as_read[i].begin(), as_read[i].end(), p, point_less)) fresh.push_back(p);
        std::sort(fresh.begin(), fresh.end(), point_less);
        fresh.erase(std::unique(fresh.begin(), fresh.end(), [](Point a, Point b) { return a.x == b.x && a.y == b.y; }),
                    fresh.end());
        return fresh;
    };
    const auto node = [&] {
        std::vector<std::vector<Point>> fresh(m);
        bool any = false;
        for (std::size_t i = 0; i < m; ++i)
            if (changed[i]) {
                fresh[i] = new_vertices(i);
                any = any || !fresh[i].empty();
            }
        if (!any) return;
        for (std::size_t i = 0; i < m; ++i) {
            if (!current[i]) continue;
            const Envelope box = geos::envelope(context, current[i].get());
            std::vector<Geom> points;
            for (std::size_t c = 0; c < m; ++c) {
                if (c == i) continue;
                for (const Point p : fresh[c])
                    if (p.x >= box.min_x - kNodeTolerance && p.x <= box.max_x + kNodeTolerance &&
                        p.y >= box.min_y - kNodeTolerance && p.y <= box.max_y + kNodeTolerance)
                        points.push_back(geos::point(context, p));
            }
            if (points.empty()) continue;
            const Geom reference = geos::collection(context, GEOS_MULTIPOINT, std::move(points));
            Geom s = geos::own_nullable(context, GEOSSnap_r(handle, current[i].get(), reference.get(), kNodeTolerance));
            if (s && GEOSisValid_r(handle, s.get()) == 1 &&
                !geos::equals_exact(context, s.get(), current[i].get(), 0)) {
                current[i] = std::move(s);
                changed[i] = 1;
                fresh[i] = new_vertices(i);
            }
        }
    };
    node();

    // 1b. A unit the cuts left in pieces (a grown corner beyond its neighbours' strips, held to the
    // rest at a point) keeps its largest; each other piece joins the member sharing the longest
    // stretch of its edge, as a gap does, so the unit's micro-grid is not made of two parts.
    {
        std::vector<std::size_t> broken;
        for (std::size_t i = 0; i < m; ++i)
            if (changed[i] && geos::type_id(context, current[i].get()) == GEOS_MULTIPOLYGON &&
                geos::type_id(context, original[i].get()) == GEOS_POLYGON)
                broken.push_back(i);
        if (!broken.empty()) {
            std::unordered_map<std::uint64_t, std::vector<std::size_t>> member_of_segment;
            for (std::size_t i = 0; i < m; ++i)
                if (current[i])
                    for (const auto& [a, b] : geos::line_segments(context, current[i].get()))
                        member_of_segment[segment_hash(a, b)].push_back(i);
            std::vector<std::vector<Geom>> given(m);
            for (const std::size_t i : broken) {
                std::vector<Geom> pieces;
                geos::collect_polygons(context, current[i].get(), pieces);
                std::size_t largest = 0;
                for (std::size_t k = 1; k < pieces.size(); ++k)
                    if (geos::area(context, pieces[k].get()) > geos::area(context, pieces[largest].get())) largest = k;
                std::vector<Geom> kept;
                for (std::size_t k = 0; k < pieces.size(); ++k) {
                    if (k == largest) {
                        kept.push_back(std::move(pieces[k]));
                        continue;
                    }
                    std::vector<double> border(m, 0.0);
                    for (const auto& [a, b] : geos::line_segments(context, pieces[k].get()))
                        if (const auto it = member_of_segment.find(segment_hash(a, b)); it != member_of_segment.end())
                            for (std::size_t j : it->second)
                                if (j != i) border[j] += std::hypot(b.x - a.x, b.y - a.y);
                    const auto best =
                        static_cast<std::size_t>(std::max_element(border.begin(), border.end()) - border.begin());
                    if (border[best] > 0)
                        given[best].push_back(std::move(pieces[k]));
                    else
                        kept.push_back(std::move(pieces[k]));
                }
                current[i] = kept.size() == 1 ? std::move(kept.front())
                                              : geos::collection(context, GEOS_MULTIPOLYGON, std::move(kept));
            }
            for (std::size_t j = 0; j < m; ++j) {
                if (given[j].empty()) continue;
                std::vector<const GEOSGeometry*> pieces{current[j].get()};
                for (const Geom& g : given[j]) pieces.push_back(g.get());
                Geom grown = union_of(context, pieces, "giving a piece of a cut unit");
                if (Geom part = polygonal_part(context, grown.get()); part && GEOSisValid_r(handle, part.get()) == 1) {
                    current[j] = std::move(part);
                    changed[j] = 1;
                }
            }
            node();
        }
    }

    // 2. Gaps: holes of the members' union, less any land of theirs or the outsiders' inside,
    // no wider than the option, each to the member sharing most of its edge.
    if (options.gap_width > 0) {
        // The members' union: cleaned and noded they mostly meet edge to edge, so the coverage
        // union (a hash of segments) does; GEOS's union where it cannot.
        std::vector<const GEOSGeometry*> parts;
        for (const Geom& g : current)
            if (g) parts.push_back(g.get());
        Geom united =
            valid_coverage_union(context,
                                 [&] {
                                     std::vector<Geom> copies;
                                     for (const GEOSGeometry* p : parts) copies.push_back(geos::clone(context, p));
                                     return geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(copies));
                                 }()
                                     .get());
        if (!united) united = union_of(context, parts, "uniting units around a gap");
        std::vector<Geom> holes;
        std::vector<Geom> polygons;
        geos::collect_polygons(context, united.get(), polygons);
        std::vector<Envelope> polygon_boxes;
        for (const Geom& polygon : polygons) polygon_boxes.push_back(geos::envelope(context, polygon.get()));
        std::vector<Geom> outsiders(group.outsiders.size());  // read when a hole reaches their box
        for (const Geom& polygon : polygons)
            for (int r = 0; r < GEOSGetNumInteriorRings_r(handle, polygon.get()); ++r) {
                Geom hole =
                    geos::polygon(context, geos::vertices(context, GEOSGetInteriorRingN_r(handle, polygon.get(), r)));
                const Envelope box = geos::envelope(context, hole.get());
                // Less the union's other polygons inside it (a unit with a gap all round), then
                // the outsiders' land.
                for (std::size_t k = 0; k < polygons.size(); ++k) {
                    if (!hole || geos::is_empty(context, hole.get())) break;
                    if (polygons[k].get() == polygon.get() || !box.intersects(polygon_boxes[k]) ||
                        !geos::intersects(context, hole.get(), polygons[k].get()))
                        continue;
                    hole = geos::own_nullable(context, GEOSDifference_r(handle, hole.get(), polygons[k].get()));
                }
                for (std::size_t k = 0; k < group.outsiders.size(); ++k) {
                    if (!hole || geos::is_empty(context, hole.get())) break;
                    if (!box.intersects(group.outsider_boxes[k])) continue;
                    if (!outsiders[k]) outsiders[k] = geos::from_wkb_nullable(context, units[group.outsiders[k]]);
                    if (!outsiders[k] || !geos::intersects(context, hole.get(), outsiders[k].get())) continue;
                    hole = geos::own_nullable(context, GEOSDifference_r(handle, hole.get(), outsiders[k].get()));
                }
                if (hole) geos::collect_polygons(context, hole.get(), holes);
            }
        // Which member each segment is (both ways), for the length of a gap's edge along each.
        std::unordered_map<std::uint64_t, std::vector<std::size_t>> member_of_segment;
        for (std::size_t i = 0; i < m; ++i)
            if (current[i])
                for (const auto& [a, b] : geos::line_segments(context, current[i].get()))
                    member_of_segment[segment_hash(a, b)].push_back(i);
        std::vector<std::vector<const GEOSGeometry*>> given(m);
        std::vector<geos::Prepared> prepared(m);
        for (const Geom& hole : holes) {
            const double area = geos::area(context, hole.get());
            if (!(area > 0)) continue;
            const Geom circle = geos::own_nullable(
                context, GEOSMaximumInscribedCircle_r(handle, hole.get(), std::max(1e-3, options.gap_width / 100)));
            const double width = circle ? 2 * geos::length(context, circle.get()) : 0.0;
            if (width > options.gap_width) continue;
            // The members along its edge, and how much of the edge each shares (segments whose
            // middle lies on the member).
            const Envelope box = geos::envelope(context, hole.get());
            const Envelope reach{box.min_x - kNodeTolerance, box.min_y - kNodeTolerance, box.max_x + kNodeTolerance,
                                 box.max_y + kNodeTolerance};
            std::vector<std::size_t> near;
            for (std::size_t i = 0; i < m; ++i)
                if (current[i] && geos::envelope(context, current[i].get()).intersects(reach)) near.push_back(i);
            std::vector<double> border(near.size(), 0.0);
            std::vector<std::pair<Point, Point>> edge = geos::line_segments(context, hole.get());
            for (const auto& [a, b] : edge) {
                const double length = std::hypot(b.x - a.x, b.y - a.y);
                bool found = false;
                if (const auto it = member_of_segment.find(segment_hash(a, b)); it != member_of_segment.end())
                    for (std::size_t i : it->second)
                        for (std::size_t k = 0; k < near.size(); ++k)
                            if (near[k] == i) border[k] += length, found = true;
                if (found) continue;
                // A piece of a member's edge (noded where a third unit's corner touches it).
                const Geom middle = geos::point(context, {(a.x + b.x) / 2, (a.y + b.y) / 2});
                for (std::size_t k = 0; k < near.size(); ++k) {
                    const std::size_t i = near[k];
                    if (!prepared[i]) prepared[i] = geos::prepare(context, current[i].get());
                    if (GEOSPreparedDistanceWithin_r(handle, prepared[i].get(), middle.get(), kNodeTolerance) == 1)
                        border[k] += length;
                }
            }
            std::size_t best = near.size();
            CleanedGap gap;
            for (std::size_t k = 0; k < near.size(); ++k) {
                if (!(border[k] > 0)) continue;
                gap.neighbours.push_back(group.members[near[k]]);
                if (best == near.size() || border[k] > border[best]) best = k;
            }
            // Touching no member along an edge: not theirs; along one member's only: its own hole
            // (a courtyard of a parcel), no gap between units.
            if (best == near.size() || gap.neighbours.size() < 2) continue;
            gap.given_to = group.members[near[best]];
            gap.area = area;
            gap.width = width;
            gap.location = geos::point_on_surface(context, hole.get());
            given[near[best]].push_back(hole.get());
            result.gaps.push_back(std::move(gap));
        }
        prepared.clear();
        for (std::size_t i = 0; i < m; ++i) {
            if (given[i].empty()) continue;
            std::vector<const GEOSGeometry*> pieces = given[i];
            pieces.push_back(current[i].get());
            Geom grown = union_of(context, pieces, "closing a gap");
            if (Geom part = polygonal_part(context, grown.get()); part && GEOSisValid_r(handle, part.get()) == 1) {
                current[i] = std::move(part);
                changed[i] = 1;
            } else {
                std::erase_if(result.gaps, [&](const CleanedGap& g) { return g.given_to == group.members[i]; });
            }
        }
    }

    node();
    for (std::size_t i = 0; i < m; ++i)
        if (changed[i] && !geos::equals_exact(context, current[i].get(), original[i].get(), 0))
            result.changed.emplace_back(group.members[i], geos::to_wkb(context, current[i].get()));
    return result;
}

}  // namespace

CoverageCleaning clean_coverage(std::vector<Wkb>& units, const std::vector<OverlapPair>& overlaps,
                                const CoverageCleanOptions& options, int threads) {
    CoverageCleaning cleaning;
    const std::size_t n = units.size();
    if (n == 0) return cleaning;
    const double width = std::max(0.0, options.gap_width);
    tbb::enumerable_thread_specific<Context> contexts;
    tbb::enumerable_thread_specific<detail::Rings> rings_local;

    // 1. Boxes and segment hashes of every unit, in parallel.
    std::vector<Envelope> boxes(n);
    std::vector<char> usable(n, 0);
    std::vector<std::vector<std::uint64_t>> hashes(n);
    with_threads(threads, [&] {
        tbb::parallel_for(tbb::blocked_range<std::size_t>(0, n, 512), [&](const tbb::blocked_range<std::size_t>& r) {
            const Context& context = contexts.local();
            detail::Rings& rings = rings_local.local();
            for (std::size_t u = r.begin(); u < r.end(); ++u) {
                if (units[u].empty() || !rings_of(context, units[u], rings) || rings.points.empty()) continue;
                usable[u] = 1;
                Envelope& b = boxes[u];
                b = {std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity(),
                     -std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()};
                for (const Point& p : rings.points) {
                    b.min_x = std::min(b.min_x, p.x), b.max_x = std::max(b.max_x, p.x);
                    b.min_y = std::min(b.min_y, p.y), b.max_y = std::max(b.max_y, p.y);
                }
                for_segments(rings, [&](Point p, Point q) { hashes[u].push_back(segment_hash(p, q)); });
            }
        });
    });
    std::vector<std::uint64_t> all;
    {
        std::size_t total = 0;
        for (const auto& h : hashes) total += h.size();
        all.reserve(total);
        for (const auto& h : hashes) all.insert(all.end(), h.begin(), h.end());
    }
    with_threads(threads, [&] { tbb::parallel_sort(all.begin(), all.end()); });
    // The hashes seen once: in a tiling, its outline and the dirt only (a short list to search).
    std::vector<std::uint64_t> once;
    for (std::size_t i = 0; i < all.size();) {
        std::size_t j = i + 1;
        while (j < all.size() && all[j] == all[i]) ++j;
        if (j - i == 1) once.push_back(all[i]);
        i = j;
    }
    all = {};
    const auto twinned = [&](std::uint64_t h) { return !std::binary_search(once.begin(), once.end(), h); };

    // 2. Segments without a twin (64-bit hashes: a collision would only hide one).
    std::vector<std::vector<FreeSegment>> free_of(n);
    with_threads(threads, [&] {
        tbb::parallel_for(tbb::blocked_range<std::size_t>(0, n, 512), [&](const tbb::blocked_range<std::size_t>& r) {
            const Context& context = contexts.local();
            detail::Rings& rings = rings_local.local();
            for (std::size_t u = r.begin(); u < r.end(); ++u) {
                if (!usable[u]) continue;
                bool any = false;
                for (std::uint64_t h : hashes[u]) any = any || !twinned(h);
                if (!any || !rings_of(context, units[u], rings)) continue;
                std::size_t k = 0;
                for_segments(rings, [&](Point p, Point q) {
                    if (!twinned(hashes[u][k++])) free_of[u].push_back({p, q, static_cast<std::uint32_t>(u)});
                });
            }
        });
    });
    hashes = {};
    std::vector<FreeSegment> loose;
    for (auto& f : free_of) loose.insert(loose.end(), f.begin(), f.end());
    free_of = {};

    // 3. Dirty pairs: a free segment's middle within the gap width of another unit's free segment
    // but not on it (a gap), and the overlapping pairs.
    UnionFind sets(n);
    std::vector<char> dirty(n, 0);
    const auto mark = [&](std::size_t a, std::size_t b) {
        dirty[a] = dirty[b] = 1;
        sets.unite(a, b);
    };
    std::vector<OverlapPair> pairs;
    for (const OverlapPair& pair : overlaps)
        if (pair.first < n && pair.second < n && pair.first != pair.second && usable[pair.first] &&
            usable[pair.second]) {
            pairs.push_back(pair);
            mark(pair.first, pair.second);
        }
    if (width > 0 && !loose.empty()) {
        double length = 0;
        for (const FreeSegment& s : loose) length += std::hypot(s.b.x - s.a.x, s.b.y - s.a.y);
        const double cell = std::max(4 * width, length / static_cast<double>(loose.size()));
        const auto cell_of = [&](double v) { return static_cast<std::int64_t>(std::floor(v / cell)); };
        const auto key = [](std::int64_t c, std::int64_t r) {
            return (static_cast<std::uint64_t>(c) << 32) ^ (static_cast<std::uint64_t>(r) & 0xffffffffULL);
        };
        std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> grid;
        for (std::uint32_t f = 0; f < loose.size(); ++f) {
            const FreeSegment& s = loose[f];
            for (std::int64_t c = cell_of(std::min(s.a.x, s.b.x)); c <= cell_of(std::max(s.a.x, s.b.x)); ++c)
                for (std::int64_t r = cell_of(std::min(s.a.y, s.b.y)); r <= cell_of(std::max(s.a.y, s.b.y)); ++r)
                    grid[key(c, r)].push_back(f);
        }
        std::vector<std::pair<std::uint32_t, std::uint32_t>> found;
        tbb::enumerable_thread_specific<std::vector<std::pair<std::uint32_t, std::uint32_t>>> found_local;
        with_threads(threads, [&] {
            tbb::parallel_for(std::size_t{0}, loose.size(), [&](std::size_t f) {
                const FreeSegment& s = loose[f];
                const Point middle{(s.a.x + s.b.x) / 2, (s.a.y + s.b.y) / 2};
                // The nearest distance to each other unit's free segments around the middle.
                std::vector<std::pair<std::uint32_t, double>> nearest;
                for (std::int64_t c = cell_of(middle.x - width); c <= cell_of(middle.x + width); ++c)
                    for (std::int64_t r = cell_of(middle.y - width); r <= cell_of(middle.y + width); ++r) {
                        const auto it = grid.find(key(c, r));
                        if (it == grid.end()) continue;
                        for (std::uint32_t o : it->second) {
                            const FreeSegment& other = loose[o];
                            if (other.unit == s.unit) continue;
                            nearest.emplace_back(other.unit, point_segment_distance(middle, other.a, other.b));
                        }
                    }
                std::sort(nearest.begin(), nearest.end());
                for (std::size_t i = 0; i < nearest.size();) {
                    const std::uint32_t v = nearest[i].first;
                    const double d = nearest[i].second;  // the least, sorted
                    while (i < nearest.size() && nearest[i].first == v) ++i;
                    if (d > kContact && d <= width) found_local.local().emplace_back(s.unit, v);
                }
            });
        });
        for (auto& f : found_local) found.insert(found.end(), f.begin(), f.end());
        std::sort(found.begin(), found.end());
        found.erase(std::unique(found.begin(), found.end()), found.end());
        for (const auto& [a, b] : found) mark(a, b);
    }
    std::vector<std::size_t> seeds;
    for (std::size_t u = 0; u < n; ++u)
        if (dirty[u]) seeds.push_back(u);
    if (seeds.empty()) return cleaning;

    // 4. Neighbourhoods: each set of dirty units with every unit whose box meets theirs grown by the
    // gap width; sets sharing a unit are one neighbourhood.
    const Context& context = contexts.local();
    geos::StrTree tree(context);
    std::vector<Geom> rectangles(n);
    for (std::size_t u = 0; u < n; ++u) {
        if (!usable[u]) continue;
        rectangles[u] = geos::own(context,
                                  GEOSGeom_createRectangle_r(context.handle(), boxes[u].min_x, boxes[u].min_y,
                                                             boxes[u].max_x, boxes[u].max_y),
                                  "a box");
        tree.insert(rectangles[u].get(), u);
    }
    const auto query = [&](const Envelope& b) {
        const Geom probe = geos::own(
            context, GEOSGeom_createRectangle_r(context.handle(), b.min_x, b.min_y, b.max_x, b.max_y), "a box");
        return tree.query(probe.get());
    };
    std::map<std::size_t, Envelope> set_box;
    for (std::size_t u : seeds) {
        const std::size_t s = sets.find(u);
        auto [it, inserted] = set_box.try_emplace(s, boxes[u]);
        Envelope& b = it->second;
        b.min_x = std::min(b.min_x, boxes[u].min_x), b.min_y = std::min(b.min_y, boxes[u].min_y);
        b.max_x = std::max(b.max_x, boxes[u].max_x), b.max_y = std::max(b.max_y, boxes[u].max_y);
    }
    UnionFind joined(n);
    std::vector<char> member(n, 0);
    for (auto& [root, b] : set_box) {
        b = {b.min_x - width, b.min_y - width, b.max_x + width, b.max_y + width};
        for (std::size_t u : query(b)) {
            member[u] = 1;
            joined.unite(root, u);
        }
    }
    std::map<std::size_t, std::size_t> group_of_root;
    std::vector<Group> groups;
    for (std::size_t u = 0; u < n; ++u) {
        if (!member[u]) continue;
        const auto [it, inserted] = group_of_root.try_emplace(joined.find(u), groups.size());
        if (inserted) groups.emplace_back();
        groups[it->second].members.push_back(u);
    }
    for (const OverlapPair& pair : pairs) groups[group_of_root.at(joined.find(pair.first))].overlaps.push_back(pair);
    for (Group& group : groups) {
        Envelope b = boxes[group.members.front()];
        for (std::size_t u : group.members) {
            b.min_x = std::min(b.min_x, boxes[u].min_x), b.min_y = std::min(b.min_y, boxes[u].min_y);
            b.max_x = std::max(b.max_x, boxes[u].max_x), b.max_y = std::max(b.max_y, boxes[u].max_y);
        }
        for (std::size_t u : query(b))
            if (!std::binary_search(group.members.begin(), group.members.end(), u)) {
                group.outsiders.push_back(u);
                group.outsider_boxes.push_back(boxes[u]);
            }
    }
    cleaning.neighbourhoods = groups.size();

    // 5. Each neighbourhood cleaned on its own, in parallel; results applied in order.
    std::vector<GroupResult> results(groups.size());
    with_threads(threads, [&] {
        tbb::parallel_for(std::size_t{0}, groups.size(), [&](std::size_t g) {
            // A neighbourhood GEOS cannot overlay (a topology error in a unit) is left as read.
            try {
                results[g] = clean_group(contexts.local(), units, groups[g], options);
            } catch (const std::exception&) {
                results[g] = GroupResult{};
                results[g].failed = true;
            }
        });
    });
    for (std::size_t g = 0; g < groups.size(); ++g) {
        if (results[g].failed) ++cleaning.failed;
        for (auto& [u, wkb] : results[g].changed) {
            units[u] = std::move(wkb);
            cleaning.changed.push_back(u);
        }
        for (CleanedOverlap& o : results[g].overlaps) cleaning.overlaps.push_back(o);
        for (CleanedGap& gap : results[g].gaps) cleaning.gaps.push_back(std::move(gap));
    }
    std::map<std::pair<std::size_t, std::size_t>, double> overlap_area;
    for (const OverlapPair& pair : pairs) overlap_area[{pair.first, pair.second}] = pair.area;
    for (CleanedOverlap& o : cleaning.overlaps)
        o.area = overlap_area[{std::min(o.kept, o.trimmed), std::max(o.kept, o.trimmed)}];
    std::sort(cleaning.changed.begin(), cleaning.changed.end());
    std::sort(cleaning.overlaps.begin(), cleaning.overlaps.end(), [](const CleanedOverlap& a, const CleanedOverlap& b) {
        return std::tie(a.kept, a.trimmed) < std::tie(b.kept, b.trimmed);
    });
    std::sort(cleaning.gaps.begin(), cleaning.gaps.end(), [](const CleanedGap& a, const CleanedGap& b) {
        return std::tie(a.given_to, a.location.x, a.location.y) < std::tie(b.given_to, b.location.x, b.location.y);
    });
    return cleaning;
}

}  // namespace civgrid::algorithms
