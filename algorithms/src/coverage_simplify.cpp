#include <civgrid/algorithms/coverage_simplify.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <utility>

namespace civgrid::algorithms {
namespace {

bool less(const Point& a, const Point& b) {
    return a.x < b.x || (a.x == b.x && a.y < b.y);
}

double segment_distance(const Point& p, const Point& a, const Point& b) {
    const double dx = b.x - a.x, dy = b.y - a.y;
    const double length2 = dx * dx + dy * dy;
    double t = length2 > 0 ? ((p.x - a.x) * dx + (p.y - a.y) * dy) / length2 : 0.0;
    t = std::clamp(t, 0.0, 1.0);
    return std::hypot(p.x - (a.x + t * dx), p.y - (a.y + t * dy));
}

// The vertex of run[first+1 .. last-1] farthest from the segment run[first]-run[last] (first when none).
std::pair<std::size_t, double> farthest(const std::vector<Point>& run, std::size_t first, std::size_t last) {
    std::size_t at = first;
    double most = -1;
    for (std::size_t i = first + 1; i < last; ++i) {
        const double d = segment_distance(run[i], run[first], run[last]);
        if (d > most) {
            most = d;
            at = i;
        }
    }
    return {at, most};
}

// Douglas-Peucker of an open run; the same vertices whichever way the run is given (it is
// simplified in a canonical direction).
std::vector<Point> simplify_run(std::vector<Point> run, double tolerance) {
    if (run.size() <= 3) return run;
    const std::size_t n = run.size();
    const bool reversed = less(run.back(), run.front()) || (run.back() == run.front() && less(run[n - 2], run[1]));
    if (reversed) std::reverse(run.begin(), run.end());
    std::vector<char> keep(n, 0);
    keep.front() = keep.back() = 1;
    std::vector<std::pair<std::size_t, std::size_t>> stack = {{0, n - 1}};
    while (!stack.empty()) {
        const auto [first, last] = stack.back();
        stack.pop_back();
        if (last <= first + 1) continue;
        const auto [at, distance] = farthest(run, first, last);
        if (distance <= tolerance) continue;
        keep[at] = 1;
        stack.emplace_back(first, at);
        stack.emplace_back(at, last);
    }
    std::vector<Point> out;
    for (std::size_t i = 0; i < n; ++i)
        if (keep[i]) out.push_back(run[i]);
    if (reversed) std::reverse(out.begin(), out.end());
    return out;
}

template <typename Visit>
void for_each_ring(const geos::Context& context, const GEOSGeometry* polygon, Visit&& visit) {
    const auto handle = context.handle();
    visit(GEOSGetExteriorRing_r(handle, polygon));
    const int holes = GEOSGetNumInteriorRings_r(handle, polygon);
    for (int h = 0; h < holes; ++h) visit(GEOSGetInteriorRingN_r(handle, polygon, h));
}

}  // namespace

std::size_t CoverageSimplifier::Hash::operator()(const Point& p) const noexcept {
    const auto x = std::bit_cast<std::uint64_t>(p.x + 0.0), y = std::bit_cast<std::uint64_t>(p.y + 0.0);
    return static_cast<std::size_t>(x * 0x9E3779B97F4A7C15ULL ^ (y + 0x7F4A7C159E3779B9ULL + (x << 6) + (x >> 2)));
}

CoverageSimplifier::CoverageSimplifier(const geos::Context& context, std::span<const Wkb> coverage)
    : context_(context) {
    std::vector<std::uint64_t> edges;  // (smaller id << 32) | larger id, every segment once per ring
    for (const Wkb& wkb : coverage) {
        if (wkb.empty()) continue;
        const geos::Geom geometry = geos::from_wkb_nullable(context, wkb);
        if (!geometry) continue;
        std::vector<geos::Geom> polygons;
        geos::collect_polygons(context, geometry.get(), polygons);
        for (const geos::Geom& polygon : polygons)
            for_each_ring(context, polygon.get(), [&](const GEOSGeometry* ring) {
                if (ring == nullptr) return;
                const std::vector<Point> points = geos::vertices(context, ring);
                std::uint32_t previous = 0;
                for (std::size_t i = 0; i < points.size(); ++i) {
                    const auto [found, added] = ids_.try_emplace(points[i], static_cast<std::uint32_t>(ids_.size()));
                    const std::uint32_t id = found->second;
                    if (i > 0 && id != previous)
                        edges.push_back(std::min(id, previous) * (std::uint64_t{1} << 32) + std::max(id, previous));
                    previous = id;
                }
            });
    }
    std::sort(edges.begin(), edges.end());
    edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
    degree_.assign(ids_.size(), 0);
    const auto count = [&](std::uint64_t id) {
        std::uint8_t& d = degree_[static_cast<std::size_t>(id)];
        if (d < 255) ++d;
    };
    for (const std::uint64_t edge : edges) {
        count(edge >> 32);
        count(edge & 0xFFFFFFFFULL);
    }
}

std::size_t CoverageSimplifier::node_count() const noexcept {
    return static_cast<std::size_t>(
        std::count_if(degree_.begin(), degree_.end(), [](std::uint8_t d) { return d != 2; }));
}

bool CoverageSimplifier::is_node(const Point& p) const {
    const auto found = ids_.find(p);
    return found == ids_.end() || degree_[found->second] != 2;
}

Wkb CoverageSimplifier::simplify(const Wkb& wkb, double tolerance) const {
    if (wkb.empty()) return wkb;
    const geos::Geom geometry = geos::from_wkb_nullable(context_, wkb);
    if (!geometry) return wkb;
    const int type = geos::type_id(context_, geometry.get());
    if (type != GEOS_POLYGON && type != GEOS_MULTIPOLYGON) return wkb;
    std::vector<geos::Geom> polygons;
    geos::collect_polygons(context_, geometry.get(), polygons);
    std::vector<geos::Geom> simplified;
    for (const geos::Geom& polygon : polygons) {
        std::vector<std::vector<Point>> rings;
        for_each_ring(context_, polygon.get(), [&](const GEOSGeometry* ring) {
            if (ring == nullptr) return;
            std::vector<Point> points = geos::vertices(context_, ring);
            if (points.size() < 4) {
                rings.push_back(std::move(points));
                return;
            }
            points.pop_back();  // open: the closing vertex is the first
            const std::size_t n = points.size();
            // Start at a node; a ring without one at its least vertex.
            std::size_t start = n;
            for (std::size_t i = 0; i < n && start == n; ++i)
                if (is_node(points[i])) start = i;
            if (start == n)
                start = static_cast<std::size_t>(std::min_element(points.begin(), points.end(), less) - points.begin());
            std::rotate(points.begin(), points.begin() + static_cast<std::ptrdiff_t>(start), points.end());
            points.push_back(points.front());
            std::vector<Point> out = {points.front()};
            std::size_t from = 0;
            for (std::size_t i = 1; i < points.size(); ++i) {
                if (i + 1 < points.size() && !is_node(points[i])) continue;
                std::vector<Point> run(points.begin() + static_cast<std::ptrdiff_t>(from),
                                       points.begin() + static_cast<std::ptrdiff_t>(i) + 1);
                if (run.front() == run.back() && run.size() > 3) {
                    // A closed run (a ring with one node): split at its farthest vertex from the
                    // node, so that each half keeps a vertex and the ring does not collapse.
                    std::size_t far = 1;
                    double most = -1;
                    for (std::size_t k = 1; k + 1 < run.size(); ++k) {
                        const double d = std::hypot(run[k].x - run.front().x, run[k].y - run.front().y);
                        if (d > most || (d == most && less(run[k], run[far]))) {
                            most = d;
                            far = k;
                        }
                    }
                    for (auto half :
                         {std::vector<Point>(run.begin(), run.begin() + static_cast<std::ptrdiff_t>(far) + 1),
                          std::vector<Point>(run.begin() + static_cast<std::ptrdiff_t>(far), run.end())}) {
                        const std::vector<Point> kept = simplify_run(std::move(half), tolerance);
                        out.insert(out.end(), kept.begin() + 1, kept.end());
                    }
                } else {
                    const std::vector<Point> kept = simplify_run(std::move(run), tolerance);
                    out.insert(out.end(), kept.begin() + 1, kept.end());
                }
                from = i;
            }
            // A ring that would collapse (a sliver narrower than the tolerance) stays as it was:
            // its neighbours' side of it is simplified, a gap or overlap below the tolerance.
            if (out.size() < 4) out = std::move(points);
            rings.push_back(std::move(out));
        });
        if (rings.empty() || rings.front().size() < 4) continue;
        std::vector<std::vector<Point>> holes;
        for (std::size_t r = 1; r < rings.size(); ++r)
            if (rings[r].size() >= 4) holes.push_back(std::move(rings[r]));
        simplified.push_back(geos::polygon(context_, rings.front(), holes));
    }
    if (simplified.empty()) return wkb;
    if (type == GEOS_POLYGON && simplified.size() == 1) return geos::to_wkb(context_, simplified.front().get());
    return geos::to_wkb(context_, geos::collection(context_, GEOS_MULTIPOLYGON, std::move(simplified)).get());
}

std::size_t vertex_count(const geos::Context& context, const Wkb& wkb) {
    if (wkb.empty()) return 0;
    const geos::Geom geometry = geos::from_wkb_nullable(context, wkb);
    if (!geometry) return 0;
    const int count = GEOSGetNumCoordinates_r(context.handle(), geometry.get());
    return count > 0 ? static_cast<std::size_t>(count) : 0;
}

}  // namespace civgrid::algorithms
