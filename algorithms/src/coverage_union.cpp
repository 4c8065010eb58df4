#include "ring_math.hpp"

#include <civgrid/algorithms/coverage_union.hpp>
#include <civgrid/algorithms/geometry_repair.hpp>

#include "key_numbers.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <numeric>
#include <optional>
#include <span>
#include <tuple>
#include <vector>

namespace civgrid::algorithms {

namespace {

using detail::ring_contains;
using detail::twice_signed_area;

struct Segment {
    Point a, b;  // directed: the polygon's interior on the left
};

struct PointKeyHash {
    std::uint64_t operator()(const Point& p) const noexcept {
        return (std::bit_cast<std::uint64_t>(p.x + 0.0) * 0x9E3779B97F4A7C15ULL) ^
               std::bit_cast<std::uint64_t>(p.y + 0.0);
    }
};
struct NumberPairHash {
    std::uint64_t operator()(std::uint64_t key) const noexcept { return key; }
};
using PointNumbers = detail::KeyNumbers<Point, PointKeyHash>;

// Every segment of every ring, shells counter-clockwise and holes clockwise, with the numbers of
// its end points (equal points, equal numbers). Numbering each vertex once is the only lookup per
// vertex: the segments and rings below work on numbers in arrays, which along a million-vertex
// boundary is what keeps the union linear and cache-friendly.
class SegmentCollector {
public:
    SegmentCollector(const geos::Context& context, PointNumbers& numbers) : context_(context), numbers_(numbers) {}

    void add(const GEOSGeometry* geometry) {
        const auto handle = context_.handle();
        const int type = GEOSGeomTypeId_r(handle, geometry);
        if (type == GEOS_POLYGON) {
            if (GEOSisEmpty_r(handle, geometry) == 1) return;
            area_ += add_ring(GEOSGetExteriorRing_r(handle, geometry), true);
            const int holes = GEOSGetNumInteriorRings_r(handle, geometry);
            for (int i = 0; i < holes; ++i) area_ -= add_ring(GEOSGetInteriorRingN_r(handle, geometry, i), false);
        } else if (type == GEOS_MULTIPOLYGON || type == GEOS_GEOMETRYCOLLECTION) {
            const int count = GEOSGetNumGeometries_r(handle, geometry);
            for (int i = 0; i < count; ++i) add(GEOSGetGeometryN_r(handle, geometry, i));
        }
    }
    std::vector<Segment> segments;
    std::vector<std::uint32_t> from, to;  // point numbers of each segment's ends
    // Segments that may occur twice: see unshared().
    std::vector<char> may_repeat;
    [[nodiscard]] double area() const noexcept { return area_; }

private:
    // Returns the ring's unsigned area.
    double add_ring(const GEOSGeometry* ring, bool shell) {
        const auto handle = context_.handle();
        const GEOSCoordSequence* sequence = GEOSGeom_getCoordSeq_r(handle, ring);
        unsigned size = 0;
        if (sequence == nullptr || GEOSCoordSeq_getSize_r(handle, sequence, &size) == 0 || size < 2) return 0.0;
        points_.resize(size);
        static_assert(sizeof(Point) == 2 * sizeof(double));
        GEOSCoordSeq_copyToBuffer_r(handle, sequence, &points_.front().x, 0, 0);
        const double area2 = twice_signed_area(points_);
        const bool reverse = shell ? area2 < 0 : area2 > 0;
        point_numbers_.resize(size);
        for (std::size_t i = 0; i < points_.size(); ++i) point_numbers_[i] = numbers_.number(points_[i]).first;
        const std::size_t first = segments.size();
        for (std::size_t i = 1; i < points_.size(); ++i) {
            const Point a = points_[i - 1], b = points_[i];
            if (a == b) continue;
            segments.push_back(reverse ? Segment{b, a} : Segment{a, b});
            from.push_back(point_numbers_[reverse ? i : i - 1]);
            // A point with a NaN coordinate equals nothing, not even itself: a number of its own.
            const Point end = reverse ? a : b;
            to.push_back(end == end ? point_numbers_[reverse ? i - 1 : i] : numbers_.number(end).first);
        }
        // A ring of one or two segments (a spike's) or one that does not close may repeat any
        // of its segments without the proof in unshared() applying.
        const bool any = segments.size() - first <= 2 || !(points_.front() == points_.back());
        may_repeat.resize(segments.size(), any ? 1 : 0);
        return std::abs(area2) / 2;
    }

    const geos::Context& context_;
    PointNumbers& numbers_;
    std::vector<Point> points_;
    std::vector<std::uint32_t> point_numbers_;
    double area_ = 0;
};

// Indices of the segments present an odd number of times (the last of them), in input order.
// Only a segment with an end where two segments start can be present twice: the ends of a
// repeated segment are each the start of both copies or of a copy and the segment after the
// other (in closed rings of three or more segments), so the others are counted without a lookup.
// The rest, the few along shared edges and at their ends, are counted in a flat table by their
// ends' numbers. (Equal points have equal numbers, so this is the count by coordinates.)
std::vector<std::uint32_t> unshared(SegmentCollector& collector, std::size_t point_count) {
    const std::size_t n = collector.segments.size();
    std::vector<std::uint32_t> starts(point_count, 0);
    for (std::uint32_t p : collector.from) ++starts[p];
    std::vector<char> kept(n, 1);
    {
        detail::KeyNumbers<std::uint64_t, NumberPairHash> numbers;
        std::vector<std::uint32_t> count, last;
        for (std::uint32_t i = 0; i < n; ++i) {
            const std::uint32_t a = collector.from[i], b = collector.to[i];
            if (starts[a] < 2 && starts[b] < 2 && collector.may_repeat[i] == 0) continue;
            kept[i] = 0;
            const auto key = (std::uint64_t{std::min(a, b)} << 32) | std::max(a, b);
            const auto [number, inserted] = numbers.number(key);
            if (inserted) {
                count.push_back(0);
                last.push_back(0);
            }
            ++count[number];
            last[number] = i;
        }
        for (std::size_t k = 0; k < count.size(); ++k)
            if (count[k] % 2 == 1) kept[last[k]] = 1;
    }
    std::vector<std::uint32_t> result;
    for (std::uint32_t i = 0; i < n; ++i)
        if (kept[i] != 0) result.push_back(i);
    return result;
}

// The closed rings the segments `chosen` (indices into the collector's, in input order) form. At a
// vertex where several leave, a ring takes the first one clockwise from where it came from, so it
// keeps to its own face (minimal rings, as GEOS's polygonizer makes). False when some segment has
// no successor or two rings claim one segment.
bool link_rings(const SegmentCollector& collector, const std::vector<std::uint32_t>& chosen, std::size_t point_count,
                std::vector<std::vector<Point>>& rings) {
    const std::size_t n = chosen.size();
    const std::vector<Segment>& all = collector.segments;
    auto segment = [&](std::uint32_t k) -> const Segment& { return all[chosen[k]]; };
    // The segments leaving each point, in input order: a list per point number.
    constexpr auto kNone = static_cast<std::uint32_t>(-1);
    std::vector<std::uint32_t> first(point_count, kNone), last(point_count, kNone), same_start(n, kNone);
    for (std::uint32_t k = 0; k < n; ++k) {
        const std::uint32_t p = collector.from[chosen[k]];
        if (first[p] == kNone)
            first[p] = k;
        else
            same_start[last[p]] = k;
        last[p] = k;
    }
    auto next = [&](std::uint32_t incoming) {
        const std::uint32_t head = first[collector.to[chosen[incoming]]];
        if (head == kNone) return kNone;
        if (same_start[head] == kNone) return head;
        const Segment& in = segment(incoming);
        const Point at = in.b;
        const double back = std::atan2(in.a.y - at.y, in.a.x - at.x);
        std::uint32_t best = kNone;
        double best_turn = 0;
        for (std::uint32_t k = head; k != kNone; k = same_start[k]) {
            const Segment& out = segment(k);
            double turn = back - std::atan2(out.b.y - at.y, out.b.x - at.x);  // clockwise from `back`
            while (turn <= 0) turn += 2 * std::numbers::pi;
            while (turn > 2 * std::numbers::pi) turn -= 2 * std::numbers::pi;
            if (best == kNone || turn < best_turn) best = k, best_turn = turn;
        }
        return best;
    };
    std::vector<char> used(n, 0);
    for (std::uint32_t start = 0; start < n; ++start) {
        if (used[start]) continue;
        std::vector<Point> ring{segment(start).a};
        for (std::uint32_t current = start;;) {
            used[current] = 1;
            ring.push_back(segment(current).b);
            const std::uint32_t following = next(current);
            if (following == start) break;
            if (following == kNone || used[following]) return false;
            current = following;
        }
        rings.push_back(std::move(ring));
    }
    return true;
}

geos::Geom ring_geometry(const geos::Context& context, const std::vector<Point>& points) {
    GEOSCoordSequence* sequence =
        GEOSCoordSeq_copyFromBuffer_r(context.handle(), &points.front().x, static_cast<unsigned>(points.size()), 0, 0);
    return geos::own(context, GEOSGeom_createLinearRing_r(context.handle(), sequence), "building a ring");
}

}  // namespace

geos::Geom coverage_union(const geos::Context& context, const GEOSGeometry* geometry) {
    return coverage_union(context, std::span<const GEOSGeometry* const>(&geometry, 1));
}

geos::Geom coverage_union(const geos::Context& context, std::span<const GEOSGeometry* const> parts) {
    const auto handle = context.handle();
    std::vector<std::vector<Point>> rings;
    double parts_area = 0;
    {
        std::size_t coordinates = 0;
        for (const GEOSGeometry* part : parts)
            coordinates += static_cast<std::size_t>(std::max(GEOSGetNumCoordinates_r(handle, part), 0));
        PointNumbers numbers(coordinates);
        SegmentCollector collector(context, numbers);
        for (const GEOSGeometry* part : parts) collector.add(part);
        parts_area = collector.area();
        const std::vector<std::uint32_t> boundary = unshared(collector, numbers.size());
        if (boundary.empty()) return {};
        if (!link_rings(collector, boundary, numbers.size(), rings)) return {};
    }  // the numbers and segments freed before the polygons are built

    // Shells (counter-clockwise) and holes (clockwise); each hole goes to the smallest shell
    // around it, found by a point in the middle of its first segment.
    struct Shell {
        std::size_t ring;
        double area;
        geos::Envelope box;
        std::vector<std::size_t> holes;
    };
    std::vector<Shell> shells;
    std::vector<std::size_t> holes;
    double area = 0;
    for (std::size_t r = 0; r < rings.size(); ++r) {
        const double signed_area = twice_signed_area(rings[r]) / 2;
        area += signed_area;
        if (signed_area > 0) {
            geos::Envelope box{rings[r][0].x, rings[r][0].y, rings[r][0].x, rings[r][0].y};
            for (const Point& p : rings[r]) {
                box.min_x = std::min(box.min_x, p.x), box.max_x = std::max(box.max_x, p.x);
                box.min_y = std::min(box.min_y, p.y), box.max_y = std::max(box.max_y, p.y);
            }
            shells.push_back({r, signed_area, box, {}});
        } else if (signed_area < 0) {
            holes.push_back(r);
        }
    }
    constexpr double kAreaTolerance = 1e-6;  // relative, as GEOSCoverageUnion's check
    if (shells.empty() || std::abs(area - parts_area) > kAreaTolerance * std::abs(parts_area)) return {};
    // Point in shell: by walking the ring when it is short, else through a prepared polygon (a
    // region's union may have thousands of holes in a shell of a million vertices).
    constexpr std::size_t kWalkedRing = 256;  // vertices
    std::vector<geos::Geom> shell_polygons(shells.size());
    std::vector<geos::Prepared> shell_prepared(shells.size());
    auto contains = [&](std::size_t s, Point p) {
        const std::vector<Point>& ring = rings[shells[s].ring];
        if (ring.size() <= kWalkedRing) return ring_contains(ring, p);
        if (!shell_prepared[s]) {
            shell_polygons[s] =
                geos::own(context, GEOSGeom_createPolygon_r(handle, ring_geometry(context, ring).release(), nullptr, 0),
                          "building a polygon");
            shell_prepared[s] = geos::prepare(context, shell_polygons[s].get());
        }
        const geos::Geom point = geos::point(context, p);
        return GEOSPreparedContains_r(handle, shell_prepared[s].get(), point.get()) == 1;
    };
    std::vector<std::size_t> by_area(shells.size());
    std::iota(by_area.begin(), by_area.end(), std::size_t{0});
    std::stable_sort(by_area.begin(), by_area.end(),
                     [&](std::size_t a, std::size_t b) { return shells[a].area < shells[b].area; });
    for (std::size_t h : holes) {
        if (shells.size() == 1) {
            shells.front().holes.push_back(h);
            continue;
        }
        const Point a = rings[h][0], b = rings[h][1];
        const Point probe{(a.x + b.x) / 2, (a.y + b.y) / 2};
        std::size_t owner = shells.size();
        for (std::size_t s : by_area) {
            const geos::Envelope& box = shells[s].box;
            if (probe.x < box.min_x || probe.x > box.max_x || probe.y < box.min_y || probe.y > box.max_y) continue;
            if (contains(s, probe)) {
                owner = s;
                break;
            }
        }
        if (owner == shells.size()) return {};
        shells[owner].holes.push_back(h);
    }

    std::vector<geos::Geom> polygons;
    for (const Shell& shell : shells) {
        geos::Geom exterior = ring_geometry(context, rings[shell.ring]);
        std::vector<geos::Geom> interiors;
        for (std::size_t h : shell.holes) interiors.push_back(ring_geometry(context, rings[h]));
        // GEOS takes the rings over.
        std::vector<GEOSGeometry*> interior_rings;
        for (geos::Geom& ring : interiors) interior_rings.push_back(ring.release());
        polygons.push_back(geos::own(context,
                                     GEOSGeom_createPolygon_r(handle, exterior.release(), interior_rings.data(),
                                                              static_cast<unsigned>(interior_rings.size())),
                                     "building a polygon"));
    }
    if (polygons.size() == 1) return std::move(polygons.front());
    return geos::collection(context, GEOS_MULTIPOLYGON, std::move(polygons));
}

geos::Geom union_closing_hairlines(const geos::Context& context, std::vector<geos::Geom> polygons) {
    const geos::Geom all = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(polygons));
    geos::Geom united = geos::unary_union(context, all.get(), "uniting polygons");
    if (geos::part_count(context, united.get()) > 1) {
        geos::Geom snapped = geos::unary_union(context, all.get(), 1e-3, "uniting polygons on a millimetre grid");
        if (geos::part_count(context, snapped.get()) < geos::part_count(context, united.get()))
            united = std::move(snapped);
    }
    return united;
}

geos::Geom valid_coverage_union(const geos::Context& context, const GEOSGeometry* geometry) {
    geos::Geom result = coverage_union(context, geometry);
    if (!result || is_valid(context, result.get())) return result;
    const double area = geos::area(context, result.get());
    const geos::Geom repaired = geos::own_nullable(context, GEOSMakeValid_r(context.handle(), result.get()));
    if (!repaired) return {};
    std::vector<geos::Geom> polygons;
    geos::collect_polygons(context, repaired.get(), polygons);
    geos::Geom made_valid = polygons.size() == 1 ? std::move(polygons.front())
                                                 : geos::collection(context, GEOS_MULTIPOLYGON, std::move(polygons));
    if (std::abs(geos::area(context, made_valid.get()) - area) > 1e-9 * area || !is_valid(context, made_valid.get()))
        return {};
    return made_valid;
}

}  // namespace civgrid::algorithms
