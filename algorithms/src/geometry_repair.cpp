#include <civgrid/algorithms/coverage_union.hpp>
#include <civgrid/algorithms/detailed_outline.hpp>
#include <civgrid/algorithms/geometry_repair.hpp>
#include <civgrid/algorithms/parallel.hpp>
#include <civgrid/error.hpp>

#include "wkb_rings.hpp"

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <numeric>
#include <optional>
#include <random>
#include <tuple>
#include <utility>

namespace civgrid::algorithms {
namespace {

using detail::read_polygonal;
using detail::Rings;
using detail::WkbCursor;

bool is_polygonal(const geos::Context& context, const GEOSGeometry* geometry) {
    const int type = GEOSGeomTypeId_r(context.handle(), geometry);
    return type == GEOS_POLYGON || type == GEOS_MULTIPOLYGON;
}

std::string snake_case(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (std::isalnum(static_cast<unsigned char>(c)))
            out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        else if (!out.empty() && out.back() != '_')
            out += '_';
    }
    while (!out.empty() && out.back() == '_') out.pop_back();
    return out.empty() ? "invalid" : out;
}

// A polygon of more than kDetailedOutline vertices is compared with its neighbours (overlaps, gaps) as
// simplified to kCheckTolerance: overlays of a boundary of a million vertices that zig-zags against
// its neighbour's straight edge make a hole per tooth, and GEOS's union assigns holes to shells in
// quadratic time (minutes). The report's areas (over 1 m2) move by at most the tolerance times the
// boundary's length next to them; everyday boundaries are compared as they are.
constexpr double kCheckTolerance = 0.05;  // metres

// WKB (2D) longer than this holds more than kDetailedOutline vertices, so may be simplified.
constexpr std::size_t kDetailedWkbBytes = 16 * static_cast<std::size_t>(kDetailedOutline);

geos::Geom checked_shape(const geos::Context& context, const Wkb& wkb) {
    geos::Geom geometry = geos::from_wkb(context, wkb);
    if (GEOSGetNumCoordinates_r(context.handle(), geometry.get()) <= kDetailedOutline) return geometry;
    geos::Geom simplified =
        geos::own_nullable(context, GEOSSimplify_r(context.handle(), geometry.get(), kCheckTolerance));
    return simplified && !geos::is_empty(context, simplified.get()) ? std::move(simplified) : std::move(geometry);
}

// ---- Reading WKB in place: wkb_rings.hpp ------------------------------------------------------

// Sign of the turn a -> b -> c: +1 left, -1 right, 0 when floating point cannot tell (Shewchuk's
// error bound for orient2d, so a nonzero answer is exact).
int orientation(Point a, Point b, Point c) {
    const double left = (a.x - c.x) * (b.y - c.y), right = (a.y - c.y) * (b.x - c.x);
    const double det = left - right, bound = 3.3306690738754716e-16 * (std::abs(left) + std::abs(right));
    return det > bound ? 1 : det < -bound ? -1 : 0;
}

// Whether orientation(a, b, c) is 0, without its branches on the sign (a wiggly ring turns left
// and right at random: the mispredicted branches were a third of proving dense rings simple).
bool no_definite_turn(Point a, Point b, Point c) {
    const double left = (a.x - c.x) * (b.y - c.y), right = (a.y - c.y) * (b.x - c.x);
    const double det = left - right, bound = 3.3306690738754716e-16 * (std::abs(left) + std::abs(right));
    return !(std::abs(det) > bound);
}

// Whether the segments p[i] -> p[i + 1] of a closed ring (no repeated consecutive vertex) are
// pairwise `apart` (a callable on two segment numbers, true for ring neighbours), tested by
// monotone chains: maximal runs of segments heading into one quadrant (x and y both never
// decreasing, or ...), whose box is that of their two ends. Two segments of one chain that are
// not neighbours cannot meet (the later one lies beyond the earlier one's end in both x and y);
// chains whose boxes meet, found by a sweep along x, are halved until their boxes part or a few
// segments are left, whose pairs are tested. Linear in practice: a dense parcel's wiggly edge is a
// few hundred chains of hundreds of segments (the grid below tested ten pairs per segment there,
// slower than GEOS). nullopt for short chains (under four segments on average) or when the tests
// pass about 16 per segment (chains crowding each other): the caller tries otherwise.
template <typename Apart>
std::optional<bool> chains_apart(const std::vector<Point>& p, const Apart& apart) {
    const std::size_t m = p.size() - 1;
    struct Chain {
        std::size_t first, last;  // segments
        double min_x, max_x;
    };
    thread_local std::vector<Chain> chains;
    thread_local std::vector<std::uint32_t> by_min_x;
    chains.clear();
    const auto sign = [](double d) { return static_cast<int>(d > 0) - static_cast<int>(d < 0); };
    int heading_x = 0, heading_y = 0;
    for (std::size_t i = 0; i < m; ++i) {
        const int sx = sign(p[i + 1].x - p[i].x), sy = sign(p[i + 1].y - p[i].y);
        const bool joins = !chains.empty() && (sx == 0 || heading_x == 0 || sx == heading_x) &&
                           (sy == 0 || heading_y == 0 || sy == heading_y);
        if (!joins) {
            chains.push_back({i, i, 0, 0});
            heading_x = 0, heading_y = 0;
        }
        chains.back().last = i;
        if (sx != 0) heading_x = sx;
        if (sy != 0) heading_y = sy;
    }
    // Short chains (a zig-zag: one or two segments each) are the grid's case.
    if (chains.size() * 4 > m) return std::nullopt;
    for (Chain& chain : chains) {
        chain.min_x = std::min(p[chain.first].x, p[chain.last + 1].x);
        chain.max_x = std::max(p[chain.first].x, p[chain.last + 1].x);
    }
    by_min_x.resize(chains.size());
    std::iota(by_min_x.begin(), by_min_x.end(), 0u);
    std::sort(by_min_x.begin(), by_min_x.end(),
              [](std::uint32_t a, std::uint32_t b) { return chains[a].min_x < chains[b].min_x; });
    const std::size_t budget = 16 * m + 1024;
    std::size_t tests = 0;
    // The box of the run of segments first..last of one chain: that of its ends.
    const auto boxes_meet = [&](std::size_t a0, std::size_t a1, std::size_t b0, std::size_t b1) {
        const Point a = p[a0], b = p[a1 + 1], c = p[b0], d = p[b1 + 1];
        return !(std::max(c.x, d.x) < std::min(a.x, b.x) || std::min(c.x, d.x) > std::max(a.x, b.x) ||
                 std::max(c.y, d.y) < std::min(a.y, b.y) || std::min(c.y, d.y) > std::max(a.y, b.y));
    };
    struct Runs {
        std::size_t a0, a1, b0, b1;
    };
    thread_local std::vector<Runs> stack;
    constexpr std::size_t kFew = 4;  // segments of a run tested pair by pair
    for (std::size_t u = 0; u < by_min_x.size(); ++u) {
        const Chain& a = chains[by_min_x[u]];
        for (std::size_t v = u + 1; v < by_min_x.size() && chains[by_min_x[v]].min_x <= a.max_x; ++v) {
            const Chain& b = chains[by_min_x[v]];
            stack.clear();
            stack.push_back({a.first, a.last, b.first, b.last});
            while (!stack.empty()) {
                const Runs r = stack.back();
                stack.pop_back();
                if (++tests > budget) return std::nullopt;
                if (!boxes_meet(r.a0, r.a1, r.b0, r.b1)) continue;
                if (r.a1 - r.a0 < kFew && r.b1 - r.b0 < kFew) {
                    for (std::size_t i = r.a0; i <= r.a1; ++i)
                        for (std::size_t j = r.b0; j <= r.b1; ++j)
                            if (!apart(i, j)) return false;
                    tests += (r.a1 - r.a0 + 1) * (r.b1 - r.b0 + 1);
                } else if (r.a1 - r.a0 >= r.b1 - r.b0) {
                    const std::size_t middle = r.a0 + (r.a1 - r.a0) / 2;
                    stack.push_back({r.a0, middle, r.b0, r.b1});
                    stack.push_back({middle + 1, r.a1, r.b0, r.b1});
                } else {
                    const std::size_t middle = r.b0 + (r.b1 - r.b0) / 2;
                    stack.push_back({r.a0, r.a1, r.b0, middle});
                    stack.push_back({r.a0, r.a1, middle + 1, r.b1});
                }
            }
        }
    }
    return true;
}

// Rings of at most this many points are proved simple by testing every pair of segments.
constexpr std::size_t kAllPairs = 65;

// Whether one polygon of a single ring of at most 64 segments is certainly valid for GEOS: closed,
// finite, no repeated vertex, a definite turn at every vertex (so neighbouring edges meet only
// there) and no two other edges touching. False means "ask GEOS", not "invalid". Rings of more
// than `max_points` are left to GEOS. A vertex where the ring goes straight on (collinear, not
// turning back) is fine too: its edges still meet only there (a parcel's edge split where a third
// parcel meets it; a dense edge snapped to the millimetre, where consecutive vertices line up).
bool certainly_valid_simple_ring(const Rings& rings, std::size_t max_points = 100'000) {
    if (rings.polygon_end.size() != 1 || rings.ring_end.size() != 1) return false;
    const std::vector<Point>& p = rings.points;
    const std::size_t n = p.size();
    if (n < 4 || n > max_points || !(p.front() == p.back())) return false;
    for (const Point& q : p)
        if (!std::isfinite(q.x) || !std::isfinite(q.y)) return false;
    const std::size_t m = n - 1;  // segments p[i] -> p[i + 1]
    for (std::size_t i = 0; i < m; ++i) {
        const Point before = p[i == 0 ? m - 1 : i - 1];
        if (p[i] == p[i + 1]) return false;
        if (no_definite_turn(before, p[i], p[i + 1]) &&
            (p[i].x - before.x) * (p[i + 1].x - p[i].x) + (p[i].y - before.y) * (p[i + 1].y - p[i].y) <= 0)
            return false;
    }
    // Segments i and j (not neighbours) must neither touch nor cross.
    const auto apart = [&](std::size_t i, std::size_t j) {
        if (j < i) std::swap(i, j);
        if (j == i + 1 || (i == 0 && j == m - 1)) return true;  // neighbours (through the closing vertex)
        const Point a = p[i], b = p[i + 1], c = p[j], d = p[j + 1];
        if (std::max(c.x, d.x) < std::min(a.x, b.x) || std::min(c.x, d.x) > std::max(a.x, b.x) ||
            std::max(c.y, d.y) < std::min(a.y, b.y) || std::min(c.y, d.y) > std::max(a.y, b.y))
            return true;
        const int o1 = orientation(a, b, c), o2 = orientation(a, b, d);
        if (o1 != 0 && o1 == o2) return true;
        const int o3 = orientation(c, d, a), o4 = orientation(c, d, b);
        return o3 != 0 && o3 == o4;  // else they touch or cross, or rounding cannot tell
    };
    if (n <= kAllPairs) {
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = i + 2; j < m; ++j)
                if (!apart(i, j)) return false;
        return true;
    }
    // A dense ring (a parcel's wiggly edges): first by monotone chains, as GEOS's own noding does.
    if (const std::optional<bool> chains = chains_apart(p, apart)) return *chains;
    // Chains that meet too often (a star of spikes, a zig-zag folded back over itself): segments
    // in the cells of a grid about two mean
    // segment lengths wide, pairs tested within each cell. Cells are hashed into buckets (about two
    // per entry, counted then filled: no sort), a bucket's pairs all tested, so two segments sharing
    // a cell are tested whatever else shares its bucket. A segment spanning more than three cells
    // either way (a parcel's straight side beside a wiggly one) is tested against every other
    // segment instead of filling hundreds of cells. Too many long segments or pairs: ask GEOS.
    double min_x = p[0].x, min_y = p[0].y, max_x = p[0].x, max_y = p[0].y, perimeter = 0;
    for (std::size_t i = 0; i < m; ++i) {
        min_x = std::min(min_x, p[i].x), max_x = std::max(max_x, p[i].x);
        min_y = std::min(min_y, p[i].y), max_y = std::max(max_y, p[i].y);
        const double dx = p[i + 1].x - p[i].x, dy = p[i + 1].y - p[i].y;
        perimeter += std::sqrt(dx * dx + dy * dy);  // only sizes the cells: any size is sound
    }
    const double cell = 2 * perimeter / static_cast<double>(m);
    if (!(cell > 0) || (max_x - min_x) / cell > 1e6 || (max_y - min_y) / cell > 1e6) return false;
    // Monotone in x and y, so segments whose boxes meet share a cell of their ranges.
    const auto column = [&](double x) { return static_cast<std::uint64_t>((x - min_x) / cell); };
    const auto row = [&](double y) { return static_cast<std::uint64_t>((y - min_y) / cell); };
    const std::uint64_t rows = row(max_y) + 1;
    // Not thread_local: a detailed ring's proof runs a parallel loop, whose wait may start another
    // ring's proof on this thread.
    std::vector<std::uint64_t> raw;  // bucket << 32 | segment
    std::vector<std::uint32_t> bucket_start, in_buckets, long_segments;
    raw.reserve(2 * m);
    const unsigned bucket_bits = std::max(4u, static_cast<unsigned>(std::bit_width(2 * m)));
    const std::size_t bucket_count = std::size_t{1} << bucket_bits;
    constexpr std::size_t kMaxLong = 64;
    for (std::size_t i = 0; i < m; ++i) {
        const std::uint64_t c0 = column(std::min(p[i].x, p[i + 1].x)), c1 = column(std::max(p[i].x, p[i + 1].x));
        const std::uint64_t r0 = row(std::min(p[i].y, p[i + 1].y)), r1 = row(std::max(p[i].y, p[i + 1].y));
        if (c1 - c0 > 2 || r1 - r0 > 2) {
            if (long_segments.size() == kMaxLong) return false;
            long_segments.push_back(static_cast<std::uint32_t>(i));
            continue;
        }
        for (std::uint64_t c = c0; c <= c1; ++c)
            for (std::uint64_t r = r0; r <= r1; ++r)
                raw.push_back(((c * rows + r) * 0x9E3779B97F4A7C15ULL >> (64 - bucket_bits)) << 32 | i);
    }
    bucket_start.assign(bucket_count + 1, 0);
    for (const std::uint64_t e : raw) ++bucket_start[(e >> 32) + 1];
    std::size_t tests = 0;
    for (std::size_t b = 0; b < bucket_count; ++b) {
        const std::size_t size = bucket_start[b + 1];
        tests += size * (size - (size > 0 ? 1 : 0)) / 2;
        bucket_start[b + 1] += bucket_start[b];
    }
    if (tests + long_segments.size() * m > 64 * m) return false;
    in_buckets.resize(raw.size());
    {
        std::vector<std::uint32_t> fill(bucket_start.begin(), bucket_start.end() - 1);
        for (const std::uint64_t e : raw) in_buckets[fill[e >> 32]++] = static_cast<std::uint32_t>(e);
    }
    for (const std::uint32_t i : long_segments)
        for (std::size_t j = 0; j < m; ++j)
            if (j != i && !apart(i, j)) return false;
    auto buckets_apart = [&](std::size_t first_bucket, std::size_t last_bucket) {
        for (std::size_t b = first_bucket; b < last_bucket; ++b)
            for (std::size_t u = bucket_start[b]; u < bucket_start[b + 1]; ++u)
                for (std::size_t v = u + 1; v < bucket_start[b + 1]; ++v)  // a segment twice: two of its cells
                    if (in_buckets[u] != in_buckets[v] && !apart(in_buckets[u], in_buckets[v])) return false;
        return true;
    };
    // A ring of a million segments (a detailed boundary, proven in the partition and the report)
    // tests its buckets on every thread of the caller's arena; the answer is the same.
    constexpr std::size_t kSerialEntries = std::size_t{1} << 18;
    if (raw.size() <= kSerialEntries) return buckets_apart(0, bucket_count);
    constexpr std::size_t kGrain = 1 << 13;
    std::atomic<bool> all_apart{true};
    tbb::parallel_for(tbb::blocked_range<std::size_t>(0, bucket_count, kGrain),
                      [&](const tbb::blocked_range<std::size_t>& range) {
                          if (all_apart.load(std::memory_order_relaxed) && !buckets_apart(range.begin(), range.end()))
                              all_apart.store(false, std::memory_order_relaxed);
                      });
    return all_apart.load();
}

// Whether the signed area of a closed ring is certainly not zero: the shoelace sum about its first
// vertex (each difference and product correct to a rounding, so the sum's error is below
// (n + 4) units of the last place of the sum of the terms' magnitudes) clear of its error bound.
// Such a ring winds around some point, so its linework holds a cycle and, made valid, it keeps a
// face: the question below is answered without GEOS's MakeValid, which cost as much as the repair
// itself on a dense bow-tie (it was made valid twice: once to ask, once to repair).
bool certainly_encloses_area(const std::vector<Point>& ring) {
    const Point origin = ring.front();
    double sum = 0, magnitude = 0;
    for (std::size_t i = 0; i + 1 < ring.size(); ++i) {
        const double ax = ring[i].x - origin.x, ay = ring[i].y - origin.y;
        const double bx = ring[i + 1].x - origin.x, by = ring[i + 1].y - origin.y;
        const double left = ax * by, right = ay * bx;
        sum += left - right;
        magnitude += std::abs(left) + std::abs(right);
    }
    constexpr double kUnit = std::numeric_limits<double>::epsilon();
    const double bound = 4.0 * (static_cast<double>(ring.size()) + 4.0) * kUnit * magnitude;
    return std::isfinite(sum) && std::isfinite(magnitude) && std::abs(sum) > bound;
}

// Whether a ring encloses no area at all: even made valid, its polygon has none (a bow-tie's
// signed area is 0 too, but it encloses two triangles). Made valid only when its signed area may
// be zero.
bool encloses_nothing(const geos::Context& context, const GEOSGeometry* ring) {
    const std::vector<Point> v = geos::vertices(context, ring);
    if (v.size() < 4) return true;
    if (certainly_encloses_area(v)) return false;
    const geos::Geom polygon = geos::own_nullable(
        context, GEOSGeom_createPolygon_r(context.handle(), GEOSGeom_clone_r(context.handle(), ring), nullptr, 0));
    if (!polygon) return false;
    const geos::Geom made = geos::own_nullable(context, GEOSMakeValid_r(context.handle(), polygon.get()));
    return made && geos::area(context, made.get()) == 0.0;
}

// Whether a polygon (or a part of a multipolygon) has a ring of no area: borders that meet
// themselves (Nanjing's 42 zero-area holes).
bool has_zero_area_ring(const geos::Context& context, const GEOSGeometry* geometry) {
    const GEOSContextHandle_t h = context.handle();
    const int parts = GEOSGeomTypeId_r(h, geometry) == GEOS_MULTIPOLYGON ? GEOSGetNumGeometries_r(h, geometry) : 1;
    for (int p = 0; p < parts; ++p) {
        const GEOSGeometry* polygon =
            parts == 1 && GEOSGeomTypeId_r(h, geometry) == GEOS_POLYGON ? geometry : GEOSGetGeometryN_r(h, geometry, p);
        if (polygon == nullptr) continue;
        const GEOSGeometry* shell = GEOSGetExteriorRing_r(h, polygon);
        if (shell != nullptr && encloses_nothing(context, shell)) return true;
        for (int r = 0; r < GEOSGetNumInteriorRings_r(h, polygon); ++r)
            if (const GEOSGeometry* hole = GEOSGetInteriorRingN_r(h, polygon, r);
                hole != nullptr && encloses_nothing(context, hole))
                return true;
    }
    return false;
}

RepairOutcome repair_one(const geos::Context& context, Wkb& wkb) {
    const GEOSContextHandle_t h = context.handle();
    geos::Geom geometry = geos::from_wkb(context, wkb);
    if (!is_polygonal(context, geometry.get()) || geos::is_empty(context, geometry.get())) return {};
    RepairOutcome outcome;
    const int before = GEOSGetNumCoordinates_r(h, geometry.get());
    if (geos::Geom deduplicated = geos::own_nullable(context, GEOSRemoveRepeatedPoints_r(h, geometry.get(), 0.0));
        deduplicated && GEOSGetNumCoordinates_r(h, deduplicated.get()) < before) {
        geometry = std::move(deduplicated);
        outcome = {RepairOutcome::Kind::repaired, "duplicate_points"};
    }
    char* reason = nullptr;
    GEOSGeometry* location = nullptr;
    const char valid = GEOSisValidDetail_r(h, geometry.get(), 0, &reason, &location);
    if (location != nullptr) GEOSGeom_destroy_r(h, location);
    if (valid != 1) {
        outcome.kind = RepairOutcome::Kind::repaired;
        outcome.reason = has_zero_area_ring(context, geometry.get())
                             ? "zero_area_ring"
                             : snake_case(reason != nullptr ? reason : "invalid");
        GEOSMakeValidParams* params = GEOSMakeValidParams_create_r(h);
        GEOSMakeValidParams_setMethod_r(h, params, GEOS_MAKE_VALID_STRUCTURE);
        GEOSMakeValidParams_setKeepCollapsed_r(h, params, 0);
        geos::Geom made = geos::own_nullable(context, GEOSMakeValidWithParams_r(h, geometry.get(), params));
        GEOSMakeValidParams_destroy_r(h, params);
        std::vector<geos::Geom> polygons;
        if (made) geos::collect_polygons(context, made.get(), polygons);
        std::erase_if(polygons, [&](const geos::Geom& p) { return geos::area(context, p.get()) <= 0.0; });
        if (polygons.empty()) {
            GEOSFree_r(h, reason);
            wkb.clear();
            return {RepairOutcome::Kind::dropped, "zero_area"};  // whatever was wrong, no area is left
        }
        geometry = polygons.size() == 1 ? std::move(polygons.front())
                                        : geos::collection(context, GEOS_MULTIPOLYGON, std::move(polygons));
    }
    GEOSFree_r(h, reason);
    if (geos::area(context, geometry.get()) <= 0.0) {
        wkb.clear();
        return {RepairOutcome::Kind::dropped, "zero_area"};
    }
    if (outcome.kind == RepairOutcome::Kind::repaired) wkb = geos::to_wkb(context, geometry.get());
    return outcome;
}

// ---- Certifying that two polygons share no area without an overlay -----------------------------
// In a layer of polygons that tile the ground (parcels, regions) every neighbour's envelope meets,
// and a GEOS overlay of each pair nodes their whole shared boundary. For valid polygons whose shared
// boundary is made of the same vertices, this proves "no common area" from the segments alone:
// every boundary segment in the envelopes' overlap is either shared with the other polygon in the
// opposite direction (the two interiors on its two sides), or meets the other's boundary at most at
// a common vertex and lies outside it. Anything less clear-cut (a crossing, a T-junction, a
// segment shared in the same direction, a predicate floating point cannot decide) answers false,
// and the caller asks GEOS.

struct DirectedSegment {
    Point from, to;  // the polygon's interior on the left
};

/// A polygon's rings as they lie in its WKB (2D little-endian, read in place), made once for all
/// of its pairs: each ring's direction, and boxes of blocks of kChunk consecutive segments, so a
/// pair walks only the blocks meeting its box (each pair read and walked both polygons whole
/// before: a dense parcel's 4,000 or 20,000 vertices once per neighbour).
struct RingsView {
    static constexpr std::size_t kChunk = 16;  // segments per block
    struct Ring {
        const std::uint8_t* points = nullptr;  // count x (x, y) doubles, unaligned
        std::size_t count = 0;
        bool reverse = false;  // walked backwards, the interior is on the left
        std::size_t first_chunk = 0;
    };
    std::vector<Ring> rings;
    std::vector<geos::Envelope> chunks;  // ring r's segments k * kChunk.. in chunks[first_chunk + k]
    std::size_t point_count = 0;
    geos::Envelope extent;  // of every vertex

    [[nodiscard]] static Point at(const Ring& ring, std::size_t i) noexcept {
        Point p;
        std::memcpy(&p, ring.points + 16 * i, sizeof p);
        return p;
    }
};

/// Reads a 2D little-endian Polygon or MultiPolygon into `out` (cleared first) as read_polygonal
/// does, pointing into `wkb` (which must outlive it); false for anything else.
bool view_polygonal(const Wkb& wkb, RingsView& out) {
    out.rings.clear();
    out.chunks.clear();
    out.point_count = 0;
    WkbCursor cursor(wkb);
    std::uint8_t order = 0;
    std::uint32_t type = 0, count = 1;
    if (!cursor.u8(order) || order != 1 || !cursor.u32(type)) return false;
    if (type == 3) {
        cursor = WkbCursor(wkb);
    } else if (type != 6 || !cursor.u32(count)) {
        return false;
    }
    for (std::uint32_t p = 0; p < count; ++p) {
        std::uint8_t part_order = 0;
        std::uint32_t part_type = 0, ring_count = 0;
        if (!cursor.u8(part_order) || part_order != 1 || !cursor.u32(part_type) || part_type != 3 ||
            !cursor.u32(ring_count))
            return false;
        for (std::uint32_t r = 0; r < ring_count; ++r) {
            std::uint32_t point_count = 0;
            RingsView::Ring ring;
            if (!cursor.u32(point_count) || !cursor.points(point_count, ring.points)) return false;
            ring.count = point_count;
            ring.first_chunk = out.chunks.size();
            // One pass over the ring: its signed area (the same sum in the same order as
            // directed_segments took per pair, so the same direction), the extent and the blocks' boxes.
            double twice_area = 0;
            geos::Envelope block{};
            for (std::size_t i = 0; i < ring.count; ++i) {
                const Point q = RingsView::at(ring, i);
                if (out.point_count == 0 && i == 0) out.extent = {q.x, q.y, q.x, q.y};
                out.extent.min_x = std::min(out.extent.min_x, q.x), out.extent.max_x = std::max(out.extent.max_x, q.x);
                out.extent.min_y = std::min(out.extent.min_y, q.y), out.extent.max_y = std::max(out.extent.max_y, q.y);
                if (i + 1 < ring.count) {
                    const Point b = RingsView::at(ring, i + 1);
                    twice_area += q.x * b.y - b.x * q.y;
                }
                // Block k holds segments k * kChunk .. k * kChunk + kChunk - 1, so the vertices from
                // k * kChunk to (k + 1) * kChunk, the ring's last one in the last block.
                if (i % RingsView::kChunk == 0 && i + 1 < ring.count) {
                    if (i > 0) {
                        block.min_x = std::min(block.min_x, q.x), block.max_x = std::max(block.max_x, q.x);
                        block.min_y = std::min(block.min_y, q.y), block.max_y = std::max(block.max_y, q.y);
                        out.chunks.push_back(block);
                    }
                    block = {q.x, q.y, q.x, q.y};
                } else if (i > 0) {
                    block.min_x = std::min(block.min_x, q.x), block.max_x = std::max(block.max_x, q.x);
                    block.min_y = std::min(block.min_y, q.y), block.max_y = std::max(block.max_y, q.y);
                }
            }
            if (ring.count >= 2) out.chunks.push_back(block);
            ring.reverse = r == 0 ? twice_area < 0 : twice_area > 0;
            out.point_count += ring.count;
            out.rings.push_back(ring);
        }
    }
    return cursor.at_end();
}

/// The polygon's segments meeting `box`, each directed with the interior on its left (an
/// exterior ring counter-clockwise, a hole clockwise), in ring order; only the blocks of segments
/// whose box meets `box` are read.
/// `blocks` gets, per block read, where its segments start in `in_box` and its box (holding them).
struct BlockOfSegments {
    std::size_t begin;
    geos::Envelope box;
};
void directed_segments(const RingsView& rings, const geos::Envelope& box, std::vector<DirectedSegment>& in_box,
                       std::vector<BlockOfSegments>& blocks) {
    in_box.clear();
    blocks.clear();
    for (const RingsView::Ring& ring : rings.rings) {
        if (ring.count < 2) continue;
        const std::size_t chunk_count = (ring.count - 2) / RingsView::kChunk + 1;
        for (std::size_t k = 0; k < chunk_count; ++k) {
            const geos::Envelope& chunk = rings.chunks[ring.first_chunk + k];
            if (!chunk.intersects(box)) continue;
            // A block inside the box has every segment in it: no test per segment (the shared edge
            // of two neighbours is most of their boxes' segments). Each vertex is read once.
            const bool inside = chunk.min_x >= box.min_x && chunk.max_x <= box.max_x && chunk.min_y >= box.min_y &&
                                chunk.max_y <= box.max_y;
            const std::size_t begin = k * RingsView::kChunk, end = std::min(begin + RingsView::kChunk, ring.count - 1);
            blocks.push_back({in_box.size(), chunk});
            Point from = RingsView::at(ring, begin);
            for (std::size_t i = begin; i < end; ++i) {
                const Point to = RingsView::at(ring, i + 1);
                if (inside || (std::max(from.x, to.x) >= box.min_x && std::min(from.x, to.x) <= box.max_x &&
                               std::max(from.y, to.y) >= box.min_y && std::min(from.y, to.y) <= box.max_y))
                    in_box.push_back(ring.reverse ? DirectedSegment{to, from} : DirectedSegment{from, to});
                from = to;
            }
        }
    }
}

/// Whether segments s and t meet at most at one common endpoint (true), or may meet elsewhere,
/// cross, overlap or cannot be told apart (false).
bool meet_at_most_at_a_common_end(const DirectedSegment& s, const DirectedSegment& t) {
    if (std::max(s.from.x, s.to.x) < std::min(t.from.x, t.to.x) ||
        std::max(t.from.x, t.to.x) < std::min(s.from.x, s.to.x) ||
        std::max(s.from.y, s.to.y) < std::min(t.from.y, t.to.y) ||
        std::max(t.from.y, t.to.y) < std::min(s.from.y, s.to.y))
        return true;
    const int o1 = orientation(t.from, t.to, s.from), o2 = orientation(t.from, t.to, s.to);
    const int o3 = orientation(s.from, s.to, t.from), o4 = orientation(s.from, s.to, t.to);
    // One segment strictly on one side of the other's line: disjoint, even when the other's end is
    // on (or too near to tell) this one's line (a dense edge's short segments lined up with the
    // end of a long one). A common endpoint is on both lines, so it never passes here.
    if ((o1 != 0 && o1 == o2) || (o3 != 0 && o3 == o4)) return true;
    if (o1 != 0 && o2 != 0 && o3 != 0 && o4 != 0) return false;  // a crossing
    // A common endpoint, with each segment's other end off the other segment's line, or both on
    // one line going away from it in opposite directions (a straight boundary running on).
    for (const auto& [mine, theirs, other_mine, other_theirs] :
         {std::tuple{s.from, t.from, s.to, t.to}, std::tuple{s.from, t.to, s.to, t.from},
          std::tuple{s.to, t.from, s.from, t.to}, std::tuple{s.to, t.to, s.from, t.from}})
        if (mine == theirs) {
            const int off_theirs = orientation(t.from, t.to, other_mine),
                      off_mine = orientation(s.from, s.to, other_theirs);
            if (off_theirs != 0 && off_mine != 0) return true;
            if (off_theirs != 0 || off_mine != 0) return false;  // one end on the other's line: ask GEOS
            // Collinear (as far as floating point tells): apart only when they point away from each
            // other, by a clear margin.
            const double along = (other_mine.x - mine.x) * (other_theirs.x - mine.x) +
                                 (other_mine.y - mine.y) * (other_theirs.y - mine.y);
            const double scale = std::hypot(other_mine.x - mine.x, other_mine.y - mine.y) *
                                 std::hypot(other_theirs.x - mine.x, other_theirs.y - mine.y);
            return along < -1e-9 * scale;
        }
    return false;
}

/// Whether `m` is strictly outside the polygon of `rings`: 1 outside, 0 inside, -1 cannot tell.
/// Blocks of segments all above m or all at or below it cross no ray from m, so are skipped;
/// `tested` grows by the segments looked at.
int outside(Point m, const RingsView& rings, std::size_t& tested) {
    bool inside = false;
    for (const RingsView::Ring& ring : rings.rings) {
        if (ring.count < 2) continue;
        const std::size_t chunk_count = (ring.count - 2) / RingsView::kChunk + 1;
        for (std::size_t k = 0; k < chunk_count; ++k) {
            const geos::Envelope& box = rings.chunks[ring.first_chunk + k];
            if (box.min_y > m.y || box.max_y <= m.y) continue;
            const std::size_t begin = k * RingsView::kChunk, end = std::min(begin + RingsView::kChunk, ring.count - 1);
            tested += end - begin;
            for (std::size_t i = begin; i < end; ++i) {
                const Point from = RingsView::at(ring, i), to = RingsView::at(ring, i + 1);
                if ((from.y > m.y) == (to.y > m.y)) continue;
                const int turn = orientation(from, to, m);
                if (turn == 0) return -1;
                // The edge crosses the ray from m to the east when m is left of it going up, or
                // right of it going down (even-odd rule over every ring, holes included; either
                // direction).
                if ((to.y > from.y) == (turn > 0)) inside = !inside;
            }
        }
    }
    return inside ? 0 : 1;
}

/// Segments of one polygon by their two end points, in either direction, for finding the other
/// polygon's segments among them in O(1): open addressing over a power-of-two table, rebuilt for
/// each pair (the sort and binary searches it replaced cost a dense edge n log n per neighbour).
/// One lookup answers both "the same segment" and "the same, reversed": the hash of a segment is
/// symmetric in its ends, and independent multiplies (not a chain of them) keep it cheap: hashing
/// was a tenth of importing dense parcels.
class SegmentTable {
public:
    /// False when two segments have the same two ends (in either direction), which no valid
    /// polygon has; find() then names one of them.
    bool build(const std::vector<DirectedSegment>& segments) {
        segments_ = &segments;
        std::size_t size = 16;
        while (size < 2 * segments.size()) size *= 2;
        shift_ = 64 - static_cast<unsigned>(std::countr_zero(size));
        slots_.assign(size, kFree);
        bool unique = true;
        for (std::size_t i = 0; i < segments.size(); ++i) {
            const DirectedSegment& s = segments[i];
            const std::uint64_t h = hash(s.from, s.to);
            std::size_t slot = h >> shift_;
            for (; slots_[slot] != kFree; slot = (slot + 1) & (size - 1))
                if (slots_[slot] >> 32 == (h & 0xFFFFFFFFu))
                    unique = unique && !same_ends(segments[slots_[slot] & 0xFFFFFFFFu], s.from, s.to);
            slots_[slot] = (h & 0xFFFFFFFFu) << 32 | i;
        }
        return unique;
    }
    /// The index of a segment from `from` to `to` or from `to` to `from`, or kEmpty.
    [[nodiscard]] std::size_t find_either(Point from, Point to) const {
        const std::size_t mask = slots_.size() - 1;
        const std::uint64_t h = hash(from, to);
        for (std::size_t slot = h >> shift_; slots_[slot] != kFree; slot = (slot + 1) & mask)
            if (slots_[slot] >> 32 == (h & 0xFFFFFFFFu) &&
                same_ends((*segments_)[slots_[slot] & 0xFFFFFFFFu], from, to))
                return slots_[slot] & 0xFFFFFFFFu;
        return kEmpty;
    }
    static constexpr std::size_t kEmpty = static_cast<std::uint32_t>(-1);

private:
    static bool same_ends(const DirectedSegment& s, Point from, Point to) noexcept {
        return (s.from == from && s.to == to) || (s.from == to && s.to == from);
    }
    static std::uint64_t hash(Point from, Point to) noexcept {
        // +0.0 for -0.0: equal coordinates must hash alike.
        const auto bits = [](double v) { return std::bit_cast<std::uint64_t>(v == 0 ? 0.0 : v); };
        const auto point = [&](Point p) {
            return bits(p.x) * 0x9E3779B97F4A7C15ULL ^ std::rotl(bits(p.y) * 0xC2B2AE3D27D4EB4FULL, 29);
        };
        std::uint64_t h = point(from) + point(to);  // symmetric
        h ^= h >> 31;
        return h * 0xBF58476D1CE4E5B9ULL;  // the top bits pick the slot
    }
    // A slot: the low 32 bits of the hash (compared before the segment is read) and the index.
    static constexpr std::uint64_t kFree = ~std::uint64_t{0};
    const std::vector<DirectedSegment>* segments_ = nullptr;
    std::vector<std::uint64_t> slots_;
    unsigned shift_ = 60;
};

/// See the section comment. `scratch` holds buffers reused between calls.
struct CertificateScratch {
    std::vector<DirectedSegment> a_box, b_box;
    std::vector<BlockOfSegments> a_blocks, b_blocks;
    SegmentTable a_table;
    std::vector<std::uint32_t> near_blocks;
    std::vector<char> a_shared, b_shared;
};

/// `a_extent` and `b_extent` hold every vertex of a and b.
bool certainly_no_common_area(const RingsView& a, const geos::Envelope& a_extent, const RingsView& b,
                              const geos::Envelope& b_extent, const geos::Envelope& box, CertificateScratch& x) {
    directed_segments(a, box, x.a_box, x.a_blocks);
    directed_segments(b, box, x.b_box, x.b_blocks);
    if (x.a_box.empty() || x.b_box.empty()) return false;
    // Shared segments: B's looked up in A's reversed (opposite sides) and as they are (the same
    // side: common area, or at least not provably none).
    if (!x.a_table.build(x.a_box)) return false;  // not valid: ask GEOS
    x.a_shared.assign(x.a_box.size(), 0);
    x.b_shared.assign(x.b_box.size(), 0);
    // Along a shared stretch B walks A's segments backwards: the one before A's last match is tried
    // first (A's segments are unique, so it is the one the table would find).
    std::size_t previous = SegmentTable::kEmpty;
    for (std::size_t j = 0; j < x.b_box.size(); ++j) {
        const DirectedSegment& s = x.b_box[j];
        std::size_t found = SegmentTable::kEmpty;
        if (previous != SegmentTable::kEmpty && previous > 0 &&
            ((x.a_box[previous - 1].from == s.to && x.a_box[previous - 1].to == s.from) ||
             (x.a_box[previous - 1].from == s.from && x.a_box[previous - 1].to == s.to)))
            found = previous - 1;
        else
            found = x.a_table.find_either(s.from, s.to);
        previous = found;
        if (found != SegmentTable::kEmpty) {
            if (x.a_box[found].from == s.from) return false;  // the same direction
            x.b_shared[j] = 1;
            x.a_shared[found] = 1;
        }
    }
    // Every other segment meets the other boundary at most at a vertex, and lies outside it.
    constexpr std::size_t kMaxTests = 4'000'000;  // beyond this, GEOS's indexed overlay is cheaper
    std::size_t tests = 0;
    const auto free_segments_outside = [&](const std::vector<DirectedSegment>& mine, const std::vector<char>& shared,
                                           const std::vector<BlockOfSegments>& mine_blocks,
                                           const std::vector<DirectedSegment>& theirs_box,
                                           const std::vector<BlockOfSegments>& theirs_blocks,
                                           const RingsView& theirs_all, const geos::Envelope& theirs_extent) {
        // Neighbours sharing an edge leave few free segments (the ends of the shared stretch):
        // those are tested against each of their segments. Many free ones (a dense edge running
        // through the other's box) are tested block against block: a block of mine takes the
        // blocks of theirs whose box meets its own, once, and its free segments are tested against
        // those only. (A sort of their segments by x for each such pair, searched per segment,
        // was a sixth of importing parcels of 20,000 vertices: by x alone a dense edge running
        // north-south was near every segment across it.)
        const auto free_count = static_cast<std::size_t>(std::count(shared.begin(), shared.end(), 0));
        if (free_count == 0) return true;
        constexpr std::size_t kFewFree = 16;
        const bool few = free_count <= kFewFree;
        std::size_t mine_block = 0, near_of = static_cast<std::size_t>(-1);  // near_blocks are mine_block's
        std::optional<DirectedSegment> last_outside;
        for (std::size_t i = 0; i < mine.size(); ++i) {
            if (shared[i]) continue;
            const DirectedSegment& segment = mine[i];
            bool meets_only_at_ends = true;
            // Whether an end of the segment is a vertex of theirs: a segment of theirs ending there
            // has a box meeting the segment's, so the tests below visit it (in a block whose box
            // meets the segment's, and so its block's). A table of their vertices answered this before,
            // built per pair: more entries than the pairs' tables of segments together.
            bool from_on_theirs = false, to_on_theirs = false;
            const auto test = [&](const DirectedSegment& t) {
                ++tests;
                from_on_theirs = from_on_theirs || t.from == segment.from || t.to == segment.from;
                to_on_theirs = to_on_theirs || t.from == segment.to || t.to == segment.to;
                meets_only_at_ends = meets_only_at_ends && meet_at_most_at_a_common_end(segment, t);
            };
            // A block of theirs whose box the segment's box misses holds none it meets (each would
            // pass the test's first, box check).
            const geos::Envelope own{std::min(segment.from.x, segment.to.x), std::min(segment.from.y, segment.to.y),
                                     std::max(segment.from.x, segment.to.x), std::max(segment.from.y, segment.to.y)};
            if (few) {
                // Each of theirs in turn; the blocks skipped are counted as tested, not read.
                for (std::size_t k = 0; k < theirs_blocks.size(); ++k) {
                    const std::size_t first = theirs_blocks[k].begin, last = k + 1 < theirs_blocks.size()
                                                                                 ? theirs_blocks[k + 1].begin
                                                                                 : theirs_box.size();
                    if (!theirs_blocks[k].box.intersects(own)) {
                        tests += last - first;
                        continue;
                    }
                    for (std::size_t t = first; t < last; ++t) test(theirs_box[t]);
                }
            } else {
                while (mine_block + 1 < mine_blocks.size() && mine_blocks[mine_block + 1].begin <= i) ++mine_block;
                if (near_of != mine_block) {
                    x.near_blocks.clear();
                    for (std::size_t k = 0; k < theirs_blocks.size(); ++k)
                        if (theirs_blocks[k].box.intersects(mine_blocks[mine_block].box))
                            x.near_blocks.push_back(static_cast<std::uint32_t>(k));
                    tests += theirs_blocks.size() / RingsView::kChunk;  // about the same work as a test each
                    near_of = mine_block;
                }
                for (const std::uint32_t k : x.near_blocks) {
                    if (!theirs_blocks[k].box.intersects(own)) continue;
                    const std::size_t last =
                        k + 1 < theirs_blocks.size() ? theirs_blocks[k + 1].begin : theirs_box.size();
                    for (std::size_t t = theirs_blocks[k].begin; t < last; ++t) test(theirs_box[t]);
                }
            }
            if (!meets_only_at_ends || tests > kMaxTests) return false;
            // Joined to a segment already outside at a point off their boundary: outside too (the
            // path through that point never touches their boundary).
            if (last_outside) {
                const Point joint = last_outside->to == segment.from     ? segment.from
                                    : last_outside->from == segment.to   ? segment.to
                                    : last_outside->from == segment.from ? segment.from
                                    : last_outside->to == segment.to     ? segment.to
                                                                         : Point{NAN, NAN};
                const bool joint_on_theirs = joint == segment.from ? from_on_theirs : to_on_theirs;
                if (!std::isnan(joint.x) && !joint_on_theirs) {
                    last_outside = segment;
                    continue;
                }
            }
            const Point m{(segment.from.x + segment.to.x) / 2, (segment.from.y + segment.to.y) / 2};
            if (m.x >= theirs_extent.min_x && m.x <= theirs_extent.max_x && m.y >= theirs_extent.min_y &&
                m.y <= theirs_extent.max_y) {
                if (outside(m, theirs_all, tests) != 1 || tests > kMaxTests) return false;
            }
            last_outside = segment;
        }
        return true;
    };
    return free_segments_outside(x.b_box, x.b_shared, x.b_blocks, x.a_box, x.a_blocks, a, a_extent) &&
           free_segments_outside(x.a_box, x.a_shared, x.a_blocks, x.b_box, x.b_blocks, b, b_extent);
}

// Whether a one-ring polygon of more than kDetailedOutline vertices (read into `rings`) is
// certainly valid by the grid-of-segments proof. Tried only when the ring is made of short
// monotone chains (a zig-zag): GEOS's check is slow on those (about a second for a million
// vertices), quick on long ones (a densified straight edge, where the grid's pairs cost more).
bool certainly_valid_detailed_ring(const Rings& rings) {
    if (rings.polygon_end.size() != 1 || rings.ring_end.size() != 1) return false;
    const std::vector<Point>& p = rings.points;
    if (p.size() <= static_cast<std::size_t>(kDetailedOutline)) return false;
    std::size_t chains = 1;
    for (std::size_t i = 2; i < p.size(); ++i) {
        const bool right = p[i].x > p[i - 1].x, up = p[i].y > p[i - 1].y;
        const bool was_right = p[i - 1].x > p[i - 2].x, was_up = p[i - 1].y > p[i - 2].y;
        chains += right != was_right || up != was_up ? 1 : 0;
    }
    constexpr std::size_t kShortChains = 8;  // vertices per chain below which the grid is faster
    return chains * kShortChains > p.size() &&
           certainly_valid_simple_ring(rings, std::numeric_limits<std::size_t>::max());
}

// Rings of more than kDetailedOutline vertices found valid in this process (as a one-ring
// polygon): the same boundary is checked by the import, again as a region in the partition, and a
// micro-grid along it by its union in the partition and again by the quality report after a WKB
// round trip (each proof a tenth of a second or more on a million-vertex zig-zag). A ring is known
// by its vertex count and a 128-bit hash of its coordinates keyed by a seed drawn at start-up, so
// no input can be made to match a ring it is not. A positive answer only, a few kept.
class ProvenRings {
public:
    struct Key {
        std::uint64_t count = 0, first = 0, second = 0;
        bool operator==(const Key&) const = default;
    };
    [[nodiscard]] Key key(const std::vector<Point>& points) const noexcept {
        std::uint64_t first = seed_[0], second = seed_[1];
        for (const Point& p : points) {
            const auto x = std::bit_cast<std::uint64_t>(p.x), y = std::bit_cast<std::uint64_t>(p.y);
            first = std::rotl((first ^ x) * 0x9E3779B97F4A7C15ULL, 27) ^ y;
            second = std::rotl((second ^ y) * 0xC2B2AE3D27D4EB4FULL, 31) ^ x;
        }
        const auto finish = [](std::uint64_t h) {
            h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ULL;
            h = (h ^ (h >> 27)) * 0x94D049BB133111EBULL;
            return h ^ (h >> 31);
        };
        return {points.size(), finish(first ^ second), finish(second + first * 3)};
    }
    [[nodiscard]] bool contains(const Key& key) const {
        const std::scoped_lock lock(mutex_);
        return std::find(keys_.begin(), keys_.end(), key) != keys_.end();
    }
    void add(const Key& key) {
        const std::scoped_lock lock(mutex_);
        if (std::find(keys_.begin(), keys_.end(), key) != keys_.end()) return;
        constexpr std::size_t kKept = 32;
        if (keys_.size() == kKept) keys_.erase(keys_.begin());
        keys_.push_back(key);
    }

private:
    std::array<std::uint64_t, 2> seed_ = [] {
        std::random_device device;
        return std::array<std::uint64_t, 2>{(std::uint64_t{device()} << 32) | device(),
                                            (std::uint64_t{device()} << 32) | device()};
    }();
    mutable std::mutex mutex_;
    std::vector<Key> keys_;
};

ProvenRings& proven_rings() {
    static ProvenRings rings;
    return rings;
}

// The one ring of a detailed one-ring polygon read into `rings`, else null.
const std::vector<Point>* detailed_single_ring(const Rings& rings) {
    const bool one_ring = rings.polygon_end.size() == 1 && rings.ring_end.size() == 1;
    return one_ring && rings.points.size() > static_cast<std::size_t>(kDetailedOutline) ? &rings.points : nullptr;
}

}  // namespace

bool is_valid(const geos::Context& context, const GEOSGeometry* geometry) {
    const auto handle = context.handle();
    // Most polygons asked about are one ring (micro-grids, their unions): proved simple without
    // GEOS, whose check builds a noder and a topology graph per polygon (a quarter of assembling
    // the micro-grids). Not proved (a hole, a touching or collinear fold): GEOS decides.
    if (GEOSGeomTypeId_r(handle, geometry) != GEOS_POLYGON || GEOSGetNumInteriorRings_r(handle, geometry) != 0 ||
        geos::is_empty(context, geometry))
        return GEOSisValid_r(handle, geometry) == 1;
    Rings rings;
    rings.points = geos::vertices(context, GEOSGetExteriorRing_r(handle, geometry));
    rings.ring_end.push_back(rings.points.size());
    rings.polygon_end.push_back(1);
    if (rings.points.size() <= static_cast<std::size_t>(kDetailedOutline))
        return certainly_valid_simple_ring(rings) || GEOSisValid_r(handle, geometry) == 1;
    // A detailed ring found valid once in this process is known again (a stage may ask per step).
    const ProvenRings::Key key = proven_rings().key(rings.points);
    if (proven_rings().contains(key)) return true;
    if (!certainly_valid_detailed_ring(rings) && GEOSisValid_r(handle, geometry) != 1) return false;
    proven_rings().add(key);
    return true;
}

std::vector<RepairOutcome> repair_polygons(std::vector<Wkb>& geometries, int threads) {
    std::vector<RepairOutcome> outcomes(geometries.size());
    tbb::enumerable_thread_specific<geos::Context> contexts;
    tbb::enumerable_thread_specific<Rings> buffers;
    with_threads(threads, [&] {
        tbb::parallel_for(tbb::blocked_range<std::size_t>(0, geometries.size(), 1024),
                          [&](const tbb::blocked_range<std::size_t>& range) {
                              const geos::Context& context = contexts.local();
                              Rings& rings = buffers.local();
                              for (std::size_t i = range.begin(); i < range.end(); ++i) {
                                  if (geometries[i].empty()) continue;
                                  // Nothing can be wrong: no GEOS geometry, no copy. Dense rings
                                  // (a parcel's wiggly edges, straight runs included) by the
                                  // bucketed grid, quicker than GEOS's parse and check (which were
                                  // a third of importing parcels of 4,000 to 20,000 vertices).
                                  // A detailed ring (a million-vertex boundary) by the same proof
                                  // without the size limit, when GEOS would be slow on it.
                                  const bool read = read_polygonal(geometries[i], rings);
                                  if (read && certainly_valid_simple_ring(rings)) {
                                      if (const std::vector<Point>* ring = detailed_single_ring(rings))
                                          proven_rings().add(proven_rings().key(*ring));
                                      continue;
                                  }
                                  if (read && certainly_valid_detailed_ring(rings)) {
                                      proven_rings().add(proven_rings().key(rings.points));
                                      continue;
                                  }
                                  outcomes[i] = repair_one(context, geometries[i]);
                                  // A detailed ring GEOS found valid as it was: remembered too.
                                  if (read && outcomes[i].kind == RepairOutcome::Kind::unchanged)
                                      if (const std::vector<Point>* ring = detailed_single_ring(rings))
                                          proven_rings().add(proven_rings().key(*ring));
                              }
                          });
    });
    return outcomes;
}

std::optional<geos::Envelope> extent_of(const std::vector<Wkb>& geometries, int threads) {
    struct Partial {
        std::optional<geos::Envelope> extent;
        void add(const geos::Envelope& e) {
            if (!extent) {
                extent = e;
                return;
            }
            extent->min_x = std::min(extent->min_x, e.min_x), extent->min_y = std::min(extent->min_y, e.min_y);
            extent->max_x = std::max(extent->max_x, e.max_x), extent->max_y = std::max(extent->max_y, e.max_y);
        }
    };
    tbb::enumerable_thread_specific<Partial> partials;
    tbb::enumerable_thread_specific<geos::Context> contexts;
    tbb::enumerable_thread_specific<Rings> buffers;
    with_threads(threads, [&] {
        tbb::parallel_for(tbb::blocked_range<std::size_t>(0, geometries.size(), 1024),
                          [&](const tbb::blocked_range<std::size_t>& range) {
                              Partial& partial = partials.local();
                              Rings& rings = buffers.local();
                              for (std::size_t i = range.begin(); i < range.end(); ++i) {
                                  if (geometries[i].empty()) continue;
                                  if (read_polygonal(geometries[i], rings)) {
                                      // Exterior rings only, as GEOS's envelope of a polygon.
                                      for (std::size_t p = 0; p < rings.polygon_end.size(); ++p) {
                                          const std::size_t shell = p == 0 ? 0 : rings.polygon_end[p - 1];
                                          if (shell == rings.polygon_end[p]) continue;  // no rings
                                          const std::size_t begin = shell == 0 ? 0 : rings.ring_end[shell - 1];
                                          const std::size_t end = rings.ring_end[shell];
                                          if (begin == end) continue;
                                          geos::Envelope e{rings.points[begin].x, rings.points[begin].y,
                                                           rings.points[begin].x, rings.points[begin].y};
                                          for (std::size_t k = begin; k < end; ++k) {
                                              const Point& q = rings.points[k];
                                              e.min_x = std::min(e.min_x, q.x), e.max_x = std::max(e.max_x, q.x);
                                              e.min_y = std::min(e.min_y, q.y), e.max_y = std::max(e.max_y, q.y);
                                          }
                                          partial.add(e);
                                      }
                                      continue;
                                  }
                                  const geos::Context& context = contexts.local();
                                  const geos::Geom g = geos::from_wkb(context, geometries[i]);
                                  if (!geos::is_empty(context, g.get())) partial.add(geos::envelope(context, g.get()));
                              }
                          });
    });
    Partial total;
    for (const Partial& partial : partials)
        if (partial.extent) total.add(*partial.extent);
    return total.extent;
}

std::optional<Point> interior_point_in_place(const Wkb& wkb) {
    thread_local Rings rings;
    thread_local std::vector<double> crossings;
    if (!read_polygonal(wkb, rings) || rings.polygon_end.empty()) return std::nullopt;
    const auto ring_begin = [&](std::size_t r) { return r == 0 ? std::size_t{0} : rings.ring_end[r - 1]; };
    for (std::size_t r = 0; r < rings.ring_end.size(); ++r) {
        const std::size_t begin = ring_begin(r), end = rings.ring_end[r];
        if (end - begin < 4 || !(rings.points[begin] == rings.points[end - 1])) return std::nullopt;  // GEOS refuses
    }
    double max_width = -1;
    Point best{};
    for (std::size_t p = 0, first_ring = 0; p < rings.polygon_end.size(); first_ring = rings.polygon_end[p++]) {
        const std::size_t end_ring = rings.polygon_end[p];
        if (first_ring == end_ring) return std::nullopt;  // an empty polygon
        // The scan line: halfway between the vertices nearest the middle of the shell's height.
        double low = std::numeric_limits<double>::infinity(), high = -low;
        for (std::size_t i = ring_begin(first_ring); i < rings.ring_end[first_ring]; ++i)
            low = std::min(low, rings.points[i].y), high = std::max(high, rings.points[i].y);
        const double centre = (low + high) / 2.0;
        for (std::size_t i = ring_begin(first_ring); i < rings.ring_end[end_ring - 1]; ++i) {
            const double y = rings.points[i].y;
            if (y <= centre) {
                if (y > low) low = y;
            } else if (y < high) {
                high = y;
            }
        }
        const double scan = (high + low) / 2.0;
        // Where the rings cross it (a vertex on it counted once, horizontal edges not at all).
        crossings.clear();
        for (std::size_t r = first_ring; r < end_ring; ++r) {
            const std::size_t begin = ring_begin(r), end = rings.ring_end[r];
            double ring_low = rings.points[begin].y, ring_high = ring_low;
            for (std::size_t i = begin; i < end; ++i)
                ring_low = std::min(ring_low, rings.points[i].y), ring_high = std::max(ring_high, rings.points[i].y);
            if (scan < ring_low || scan > ring_high) continue;
            for (std::size_t i = begin + 1; i < end; ++i) {
                const Point a = rings.points[i - 1], b = rings.points[i];
                if ((a.y > scan && b.y > scan) || (a.y < scan && b.y < scan) || a.y == b.y) continue;
                if ((a.y == scan && b.y < scan) || (b.y == scan && a.y < scan)) continue;
                crossings.push_back(a.x == b.x ? a.x : a.x + ((scan - a.y) / ((b.y - a.y) / (b.x - a.x))));
            }
        }
        if (crossings.size() % 2 != 0) return std::nullopt;
        std::sort(crossings.begin(), crossings.end());
        Point point = rings.points[ring_begin(first_ring)];  // a polygon of no area: its first vertex
        double width = 0;
        for (std::size_t i = 0; i < crossings.size(); i += 2)
            if (crossings[i + 1] - crossings[i] > width) {
                width = crossings[i + 1] - crossings[i];
                point = {(crossings[i] + crossings[i + 1]) / 2.0, scan};
            }
        if (width > max_width) max_width = width, best = point;
    }
    return best;
}

std::vector<double> polygon_areas(const std::vector<Wkb>& geometries, int threads) {
    std::vector<double> areas(geometries.size(), 0.0);
    tbb::enumerable_thread_specific<geos::Context> contexts;
    with_threads(threads, [&] {
        tbb::parallel_for(tbb::blocked_range<std::size_t>(0, geometries.size(), 1024),
                          [&](const tbb::blocked_range<std::size_t>& range) {
                              const geos::Context& context = contexts.local();
                              for (std::size_t i = range.begin(); i < range.end(); ++i) {
                                  if (geometries[i].empty()) continue;
                                  const geos::Geom g = geos::from_wkb(context, geometries[i]);
                                  if (is_polygonal(context, g.get())) areas[i] = geos::area(context, g.get());
                              }
                          });
    });
    return areas;
}

std::vector<OverlapPair> overlapping_pairs(const std::vector<Wkb>& geometries, double min_area, int threads,
                                           OverlapStats* stats) {
    // Envelopes (read from the WKB in place), pairs whose envelopes meet by a sweep along x within
    // horizontal strips, then exact areas of those pairs; all in parallel.
    const std::size_t n = geometries.size();
    std::vector<geos::Envelope> envelopes(n);
    std::vector<char> polygonal(n, 0), viewed(n, 0);
    std::vector<RingsView> views(n);  // in place in the WKB, for the certificate
    tbb::enumerable_thread_specific<geos::Context> contexts;
    with_threads(threads, [&] {
        tbb::parallel_for(tbb::blocked_range<std::size_t>(0, n, 1024),
                          [&](const tbb::blocked_range<std::size_t>& range) {
                              for (std::size_t i = range.begin(); i < range.end(); ++i) {
                                  if (geometries[i].empty()) continue;
                                  if (view_polygonal(geometries[i], views[i])) {
                                      if (views[i].point_count == 0) continue;
                                      envelopes[i] = views[i].extent;
                                      polygonal[i] = viewed[i] = 1;
                                      continue;
                                  }
                                  views[i] = {};
                                  const geos::Context& context = contexts.local();
                                  const geos::Geom g = geos::from_wkb(context, geometries[i]);
                                  if (!is_polygonal(context, g.get()) || geos::is_empty(context, g.get())) continue;
                                  polygonal[i] = 1;
                                  envelopes[i] = geos::envelope(context, g.get());
                              }
                          });
    });
    std::vector<std::size_t> items;
    for (std::size_t i = 0; i < n; ++i)
        if (polygonal[i]) items.push_back(i);
    if (stats != nullptr) *stats = {};
    if (items.size() < 2) return {};

    // Strips about four typical polygons high: a sweep along x then meets only its own strip's
    // polygons, not every polygon of the city in a column. A pair is taken in the strip where the
    // overlap of its envelopes starts, so once.
    double low = envelopes[items[0]].min_y, high = envelopes[items[0]].max_y;
    std::vector<double> heights;
    heights.reserve(items.size());
    for (std::size_t i : items) {
        low = std::min(low, envelopes[i].min_y), high = std::max(high, envelopes[i].max_y);
        heights.push_back(envelopes[i].max_y - envelopes[i].min_y);
    }
    std::nth_element(heights.begin(), heights.begin() + static_cast<std::ptrdiff_t>(heights.size() / 2), heights.end());
    constexpr double kMaxStrips = 1 << 16;
    double strip = std::max(4 * heights[heights.size() / 2], (high - low) / kMaxStrips);
    if (!(strip > 0)) strip = 1.0;  // every polygon at one y
    const auto strip_of = [&](double y) { return static_cast<std::size_t>((y - low) / strip); };
    std::vector<std::vector<std::size_t>> members(strip_of(high) + 1);
    for (std::size_t i : items)
        for (std::size_t k = strip_of(envelopes[i].min_y); k <= strip_of(envelopes[i].max_y); ++k)
            members[k].push_back(i);
    std::vector<std::vector<std::pair<std::size_t, std::size_t>>> strip_candidates(members.size());
    with_threads(threads, [&] {
        tbb::parallel_for(std::size_t{0}, members.size(), [&](std::size_t k) {
            std::vector<std::size_t>& order = members[k];
            std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
                return envelopes[a].min_x < envelopes[b].min_x || (envelopes[a].min_x == envelopes[b].min_x && a < b);
            });
            for (std::size_t u = 0; u < order.size(); ++u) {
                const geos::Envelope& e = envelopes[order[u]];
                for (std::size_t v = u + 1; v < order.size() && envelopes[order[v]].min_x <= e.max_x; ++v) {
                    const geos::Envelope& f = envelopes[order[v]];
                    if (f.min_y <= e.max_y && e.min_y <= f.max_y && strip_of(std::max(e.min_y, f.min_y)) == k)
                        strip_candidates[k].emplace_back(std::min(order[u], order[v]), std::max(order[u], order[v]));
                }
            }
        });
    });
    std::vector<std::pair<std::size_t, std::size_t>> candidates;
    for (const auto& in_strip : strip_candidates) candidates.insert(candidates.end(), in_strip.begin(), in_strip.end());

    struct Shared {
        double area = 0, smaller = 0;
    };
    std::vector<Shared> shared(candidates.size());
    // A detailed polygon is simplified once, not again for each of its neighbours (a million-vertex
    // boundary read and simplified took a tenth of a second per pair).
    std::vector<std::size_t> detailed;
    for (std::size_t i : items)
        if (geometries[i].size() > kDetailedWkbBytes) detailed.push_back(i);
    std::vector<Wkb> simplified(n);
    with_threads(threads, [&] {
        tbb::parallel_for(std::size_t{0}, detailed.size(), [&](std::size_t k) {
            const geos::Context& context = contexts.local();
            simplified[detailed[k]] = geos::to_wkb(context, checked_shape(context, geometries[detailed[k]]).get());
        });
    });
    auto shape = [&](const geos::Context& context, std::size_t i) {
        return simplified[i].empty() ? checked_shape(context, geometries[i]) : geos::from_wkb(context, simplified[i]);
    };
    tbb::enumerable_thread_specific<CertificateScratch> pair_scratch;
    std::atomic<std::size_t> overlaid{0};
    with_threads(threads, [&] {
        tbb::parallel_for(tbb::blocked_range<std::size_t>(0, candidates.size(), 256),
                          [&](const tbb::blocked_range<std::size_t>& range) {
                              const geos::Context& context = contexts.local();
                              CertificateScratch& scratch = pair_scratch.local();
                              for (std::size_t c = range.begin(); c < range.end(); ++c) {
                                  // Neighbours of a tiling: their segments prove it, no overlay needed.
                                  const geos::Envelope& e = envelopes[candidates[c].first];
                                  const geos::Envelope& f = envelopes[candidates[c].second];
                                  const geos::Envelope box{std::max(e.min_x, f.min_x), std::max(e.min_y, f.min_y),
                                                           std::min(e.max_x, f.max_x), std::min(e.max_y, f.max_y)};
                                  const std::size_t first = candidates[c].first, second = candidates[c].second;
                                  if (viewed[first] && viewed[second] &&
                                      certainly_no_common_area(views[first], e, views[second], f, box, scratch))
                                      continue;
                                  ++overlaid;
                                  const geos::Geom a = shape(context, candidates[c].first);
                                  const geos::Geom b = shape(context, candidates[c].second);
                                  // No intersects test first: for regions, which mostly touch, it costs more than
                                  // the overlay (which clips to the boxes' overlap itself).
                                  const geos::Geom both = geos::own_nullable(
                                      context, GEOSIntersection_r(context.handle(), a.get(), b.get()));
                                  if (!both) continue;
                                  shared[c].area = geos::area(context, both.get());
                                  if (shared[c].area > min_area)
                                      shared[c].smaller =
                                          std::min(geos::area(context, a.get()), geos::area(context, b.get()));
                              }
                          });
    });
    if (stats != nullptr) *stats = {candidates.size(), overlaid.load()};
    std::vector<OverlapPair> pairs;
    for (std::size_t c = 0; c < candidates.size(); ++c) {
        if (shared[c].area <= min_area) continue;
        pairs.push_back({candidates[c].first, candidates[c].second, shared[c].area,
                         shared[c].smaller > 0 ? shared[c].area / shared[c].smaller : 1.0});
    }
    std::sort(pairs.begin(), pairs.end(), [](const OverlapPair& a, const OverlapPair& b) {
        return a.first != b.first ? a.first < b.first : a.second < b.second;
    });
    return pairs;
}

std::vector<CoverageGap> coverage_gaps(const std::vector<Wkb>& geometries, double min_area) {
    geos::Context context;
    const GEOSContextHandle_t h = context.handle();
    std::vector<geos::Geom> polygons;
    std::vector<std::size_t> owner;
    for (std::size_t i = 0; i < geometries.size(); ++i) {
        if (geometries[i].empty()) continue;
        geos::Geom g = checked_shape(context, geometries[i]);
        if (!is_polygonal(context, g.get()) || geos::is_empty(context, g.get())) continue;
        polygons.push_back(std::move(g));
        owner.push_back(i);
    }
    if (polygons.empty()) return {};
    std::vector<geos::Geom> copies;
    for (const geos::Geom& p : polygons) copies.push_back(geos::clone(context, p.get()));
    const geos::Geom all = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(copies));
    // A coverage union is fast when the polygons do not overlap; otherwise a full union.
    geos::Geom merged = coverage_union(context, all.get());
    if (!merged || GEOSisValid_r(h, merged.get()) != 1)
        merged = geos::own(context, GEOSUnaryUnion_r(h, all.get()), "uniting regions to find gaps");
    std::vector<geos::Geom> parts;
    geos::collect_polygons(context, merged.get(), parts);
    geos::StrTree tree(context);
    for (std::size_t k = 0; k < polygons.size(); ++k) tree.insert(polygons[k].get(), k);
    std::vector<CoverageGap> gaps;
    for (const geos::Geom& part : parts) {
        for (int r = 0; r < GEOSGetNumInteriorRings_r(h, part.get()); ++r) {
            const GEOSGeometry* ring = GEOSGetInteriorRingN_r(h, part.get(), r);
            const geos::Geom hole = geos::polygon(context, geos::vertices(context, ring));
            const double area = geos::area(context, hole.get());
            if (!(area > min_area)) continue;
            CoverageGap gap;
            gap.area = area;
            gap.location = geos::point_on_surface(context, hole.get());
            for (std::size_t k : tree.query(hole.get()))
                if (GEOSIntersects_r(h, polygons[k].get(), hole.get()) == 1) gap.neighbours.push_back(owner[k]);
            gaps.push_back(std::move(gap));
        }
    }
    return gaps;
}

}  // namespace civgrid::algorithms
