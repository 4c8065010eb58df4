#include <civgrid/algorithms/geometry_repair.hpp>
#include <civgrid/error.hpp>

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numeric>

namespace civgrid::algorithms {
namespace {

template <typename Body>
void in_arena(int threads, Body&& body) {
    if (threads > 0)
        tbb::task_arena(threads).execute(body);
    else
        body();
}

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

// Whether a ring encloses no area at all: even made valid, its polygon has none (a bow-tie's
// signed area is 0 too, but it encloses two triangles).
bool encloses_nothing(const geos::Context& context, const GEOSGeometry* ring) {
    const std::vector<Point> v = geos::vertices(context, ring);
    if (v.size() < 4) return true;
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

}  // namespace

std::vector<RepairOutcome> repair_polygons(std::vector<Wkb>& geometries, int threads) {
    std::vector<RepairOutcome> outcomes(geometries.size());
    tbb::enumerable_thread_specific<geos::Context> contexts;
    in_arena(threads, [&] {
        tbb::parallel_for(tbb::blocked_range<std::size_t>(0, geometries.size(), 1024),
                          [&](const tbb::blocked_range<std::size_t>& range) {
                              const geos::Context& context = contexts.local();
                              for (std::size_t i = range.begin(); i < range.end(); ++i)
                                  if (!geometries[i].empty()) outcomes[i] = repair_one(context, geometries[i]);
                          });
    });
    return outcomes;
}

std::vector<double> polygon_areas(const std::vector<Wkb>& geometries, int threads) {
    std::vector<double> areas(geometries.size(), 0.0);
    tbb::enumerable_thread_specific<geos::Context> contexts;
    in_arena(threads, [&] {
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

std::vector<OverlapPair> overlapping_pairs(const std::vector<Wkb>& geometries, double min_area, int threads) {
    // Envelopes, then a sweep along x for the pairs whose envelopes meet; exact areas in parallel.
    const std::size_t n = geometries.size();
    std::vector<geos::Envelope> envelopes(n);
    std::vector<char> polygonal(n, 0);
    std::vector<double> areas(n, 0.0);
    tbb::enumerable_thread_specific<geos::Context> contexts;
    in_arena(threads, [&] {
        tbb::parallel_for(tbb::blocked_range<std::size_t>(0, n, 1024),
                          [&](const tbb::blocked_range<std::size_t>& range) {
                              const geos::Context& context = contexts.local();
                              for (std::size_t i = range.begin(); i < range.end(); ++i) {
                                  if (geometries[i].empty()) continue;
                                  const geos::Geom g = geos::from_wkb(context, geometries[i]);
                                  if (!is_polygonal(context, g.get()) || geos::is_empty(context, g.get())) continue;
                                  polygonal[i] = 1;
                                  envelopes[i] = geos::envelope(context, g.get());
                                  areas[i] = geos::area(context, g.get());
                              }
                          });
    });
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < n; ++i)
        if (polygonal[i]) order.push_back(i);
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return envelopes[a].min_x < envelopes[b].min_x || (envelopes[a].min_x == envelopes[b].min_x && a < b);
    });
    std::vector<std::pair<std::size_t, std::size_t>> candidates;
    for (std::size_t k = 0; k < order.size(); ++k) {
        const geos::Envelope& e = envelopes[order[k]];
        for (std::size_t m = k + 1; m < order.size() && envelopes[order[m]].min_x <= e.max_x; ++m)
            if (envelopes[order[m]].min_y <= e.max_y && e.min_y <= envelopes[order[m]].max_y)
                candidates.emplace_back(std::min(order[k], order[m]), std::max(order[k], order[m]));
    }
    std::vector<double> shared(candidates.size(), 0.0);
    in_arena(threads, [&] {
        tbb::parallel_for(tbb::blocked_range<std::size_t>(0, candidates.size(), 256),
                          [&](const tbb::blocked_range<std::size_t>& range) {
                              const geos::Context& context = contexts.local();
                              const GEOSContextHandle_t h = context.handle();
                              for (std::size_t c = range.begin(); c < range.end(); ++c) {
                                  const geos::Geom a = geos::from_wkb(context, geometries[candidates[c].first]);
                                  const geos::Geom b = geos::from_wkb(context, geometries[candidates[c].second]);
                                  if (GEOSIntersects_r(h, a.get(), b.get()) != 1) continue;
                                  const geos::Geom both =
                                      geos::own_nullable(context, GEOSIntersection_r(h, a.get(), b.get()));
                                  if (both) shared[c] = geos::area(context, both.get());
                              }
                          });
    });
    std::vector<OverlapPair> pairs;
    for (std::size_t c = 0; c < candidates.size(); ++c) {
        if (shared[c] <= min_area) continue;
        const double smaller = std::min(areas[candidates[c].first], areas[candidates[c].second]);
        pairs.push_back(
            {candidates[c].first, candidates[c].second, shared[c], smaller > 0 ? shared[c] / smaller : 1.0});
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
        geos::Geom g = geos::from_wkb(context, geometries[i]);
        if (!is_polygonal(context, g.get()) || geos::is_empty(context, g.get())) continue;
        polygons.push_back(std::move(g));
        owner.push_back(i);
    }
    if (polygons.empty()) return {};
    std::vector<geos::Geom> copies;
    for (const geos::Geom& p : polygons) copies.push_back(geos::clone(context, p.get()));
    const geos::Geom all = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(copies));
    // A coverage union is fast when the polygons do not overlap; otherwise a full union.
    geos::Geom merged = geos::own_nullable(context, GEOSCoverageUnion_r(h, all.get()));
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
