#include <civgrid/algorithms/balance_bound.hpp>
#include <civgrid/algorithms/coverage_union.hpp>
#include <civgrid/algorithms/detailed_outline.hpp>
#include <civgrid/algorithms/geometry_repair.hpp>
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/parallel.hpp>
#include <civgrid/algorithms/polygonize.hpp>
#include <civgrid/algorithms/quality.hpp>
#include <civgrid/algorithms/segment_index.hpp>

#include "free_memory.hpp"

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_invoke.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <optional>

namespace civgrid::algorithms {

namespace {

using geos::collect_lines;
using geos::Context;
using geos::Geom;

struct RegionStats {
    double gap = 0, overlap = 0;
    std::int64_t outside = 0, crossings = 0, invalid = 0, non_contiguous = 0;
    std::vector<std::pair<std::size_t, double>> polsby_popper;  // (grid, value)
};

// Number of faces of polygonized `linework` that hold at least one of `points`. `detailed`: the
// linework holds a detailed outline, polygonized by polygonize_noded (GEOS's polygonizer checks
// every ring's validity, seconds along a zig-zagging million-vertex boundary).
int faces_with_points(const Context& context, const GEOSGeometry* linework, const std::vector<Point>& points,
                      bool detailed) {
    const auto handle = context.handle();
    std::vector<Geom> faces;
    if (detailed) {
        faces = polygonize_noded(context, linework);
    } else {
        const GEOSGeometry* inputs[] = {linework};
        const Geom all = geos::own(context, GEOSPolygonize_r(handle, inputs, 1), "splitting a micro-grid by barriers");
        faces = geos::parts(context, all.get());
    }
    const auto face_count = static_cast<int>(faces.size());
    if (face_count <= 1) return 1;
    std::vector<char> used(static_cast<std::size_t>(face_count), 0);
    // Prepared: a plain intersects test walks the whole face, which along a detailed boundary has
    // hundreds of thousands of vertices, once per building.
    std::vector<geos::Prepared> prepared;
    for (const Geom& face : faces) prepared.push_back(geos::prepare(context, face.get()));
    for (const Point& p : points) {
        const Geom point = geos::point(context, p);
        for (int f = 0; f < face_count; ++f) {
            if (GEOSPreparedIntersects_r(handle, prepared[static_cast<std::size_t>(f)].get(), point.get()) == 1) {
                used[static_cast<std::size_t>(f)] = 1;
                break;
            }
        }
    }
    return static_cast<int>(std::count(used.begin(), used.end(), 1));
}

// Barriers shorter than this inside a micro-grid (off its outline) split nothing.
constexpr double kMinInteriorBarrier = 1e-3;  // metres
// Barriers are clipped to the micro-grid enlarged by this much, so that they cross its outline
// properly when noded (clipped exactly, they may end short of it and split nothing).
constexpr double kBarrierOverhang = 0.01;  // metres

// separated_parts_with_buildings for a micro-grid of more than kDetailedOutline vertices, without
// an overlay or a buffer of it (seconds each for a micro-grid along a 1,000,000-vertex boundary):
// barriers cut exactly at its outline with their cut ends pushed kBarrierOverhang out, and only
// the stretches of its outline that barriers come near are noded.
int separated_parts_detailed(const Context& context, const GEOSGeometry* grid, const GEOSGeometry* barriers,
                             const std::vector<Point>& points) {
    const OutlineClipper clipper(context, grid);
    std::vector<ClippedPiece> pieces = clipper.clip(barriers);
    if (total_length(pieces) < kMinInteriorBarrier) return 1;
    auto pushed = [](Point end, Point before) {
        const double length = std::hypot(end.x - before.x, end.y - before.y);
        if (!(length > 0)) return end;
        return Point{end.x + (end.x - before.x) / length * kBarrierOverhang,
                     end.y + (end.y - before.y) / length * kBarrierOverhang};
    };
    std::vector<Geom> lines;
    for (ClippedPiece& piece : pieces) {
        std::vector<Point>& v = piece.points;
        if (piece.cut_start) v.front() = pushed(v.front(), v[1]);
        if (piece.cut_end) v.back() = pushed(v.back(), v[v.size() - 2]);
        lines.push_back(geos::line_string(context, v));
    }
    const Geom across = geos::collection(context, GEOS_MULTILINESTRING, std::move(lines));
    const Geom linework = node_with_outline(context, grid, across.get());
    return faces_with_points(context, linework.get(), points, true);
}

// Number of barrier-separated parts of `grid` that hold at least one of `points`. `detailed`: its
// region's outline has more than kDetailedOutline vertices (a micro-grid holding a part of it may
// have fewer, and its overlays along a zig-zagging boundary still cost seconds).
int separated_parts_with_buildings(const Context& context, const GEOSGeometry* grid, const GEOSGeometry* barriers,
                                   const std::vector<Point>& points, bool detailed) {
    const auto handle = context.handle();
    if (detailed || GEOSGetNumCoordinates_r(handle, grid) > kDetailedOutline)
        return separated_parts_detailed(context, grid, barriers, points);
    // Barriers nearly always run along a micro-grid's outline, not into it: the parts strictly
    // inside, cut by the outline's index (as GEOSIntersection then GEOSDifference with the outline
    // would leave them), tell that without the two overlays, which were most of the report.
    if (total_length(OutlineClipper(context, grid).clip(barriers)) < kMinInteriorBarrier) return 1;
    const Geom outline = geos::own(context, GEOSBoundary_r(handle, grid), "micro-grid outline");
    const Geom enlarged = geos::own(context, GEOSBuffer_r(handle, grid, kBarrierOverhang, 2), "enlarging a micro-grid");
    Geom across =
        geos::own(context, GEOSIntersection_r(handle, barriers, enlarged.get()), "clipping barriers to a micro-grid");
    std::vector<Geom> lines;
    collect_lines(context, outline.get(), lines);
    collect_lines(context, across.get(), lines);
    const Geom all = geos::collection(context, GEOS_MULTILINESTRING, std::move(lines));
    const Geom noded = geos::own(context, GEOSUnaryUnion_r(handle, all.get()), "noding barriers");
    return faces_with_points(context, noded.get(), points, false);
}

// Whether every vertex of `united` lies within `slack` of `region`. Vertices of the region itself
// (most of a detailed boundary's) are looked up in a sorted copy; the others (noding points, the
// insides) are measured through the prepared region.
bool vertices_within(const Context& context, const GEOSGeometry* region, const GEOSGeometry* united, double slack) {
    const auto handle = context.handle();
    std::vector<Point> region_vertices, united_vertices;
    auto gather = [&](const GEOSGeometry* geometry, std::vector<Point>& out) {
        std::vector<Geom> rings;
        collect_lines(context, geometry, rings);
        for (const Geom& ring : rings) {
            const std::vector<Point> v = geos::vertices(context, ring.get());
            out.insert(out.end(), v.begin(), v.end());
        }
    };
    gather(region, region_vertices);
    gather(united, united_vertices);
    auto less = [](Point a, Point b) { return a.x < b.x || (a.x == b.x && a.y < b.y); };
    std::sort(region_vertices.begin(), region_vertices.end(), less);
    // Built at the first vertex that is not the region's: often none is (0.2 s for a million).
    geos::Prepared prepared;
    std::optional<SegmentIndex> outline;
    for (const Point& p : united_vertices) {
        if (std::binary_search(region_vertices.begin(), region_vertices.end(), p, less)) continue;
        if (!outline) {
            prepared = geos::prepare(context, region);
            outline.emplace(SegmentIndex::of_pairs(geos::line_segments(context, region)));
        }
        // Near enough when the outline crosses the square of side 2 * slack around it (then it
        // crosses one of the square's diagonals); else it must be inside. Points on a long straight
        // edge are asked first: GEOS's point-in-polygon walks every segment level with them.
        const double e = slack;
        if (outline->intersects({p.x - e, p.y - e}, {p.x + e, p.y + e}) ||
            outline->intersects({p.x - e, p.y + e}, {p.x + e, p.y - e}))
            continue;
        const Geom probe = geos::point(context, p);
        if (GEOSPreparedIntersects_r(handle, prepared.get(), probe.get()) != 1) return false;
    }
    return true;
}

std::string format(double value, int decimals) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
    return buffer;
}

}  // namespace

// Long on purpose: the report's sections (balance, per-region geometry checks: validity,
// compactness, barrier crossings and coverage; grids) fill one QualityReport from shared indexes
// (micro-grids per region, buildings per micro-grid, barrier boxes) built once at the top.
QualityReport compute_quality(const QualityInput& input) {
    QualityReport report;
    report.micro_grids = static_cast<std::int64_t>(input.micro_grids.size());
    report.requested = input.requested;
    const double target = input.target_households;

    // Balance, from attributes.
    std::int64_t within_10 = 0, within_20 = 0, within_bounds = 0;
    for (const auto& grid : input.micro_grids) {
        const double own_target = grid.target > 0 ? grid.target : target;
        const double deviation =
            own_target > 0 ? std::abs(static_cast<double>(grid.households) - own_target) / own_target : 0.0;
        report.max_abs_deviation = std::max(report.max_abs_deviation, deviation);
        if (!grid.flagged) report.max_abs_deviation_unflagged = std::max(report.max_abs_deviation_unflagged, deviation);
        report.flagged += grid.flagged ? 1 : 0;
        report.flagged_out_of_bounds += grid.out_of_bounds ? 1 : 0;
        report.flagged_multipart += grid.multipart ? 1 : 0;
        report.empty += grid.households == 0 ? 1 : 0;
        within_10 += deviation <= 0.10 + 1e-12 ? 1 : 0;
        within_20 += deviation <= 0.20 + 1e-12 ? 1 : 0;
        within_bounds += deviation <= input.tolerance + 1e-12 ? 1 : 0;
    }
    const double count = std::max<double>(1.0, static_cast<double>(report.micro_grids));
    report.share_within_10 = static_cast<double>(within_10) / count;
    if (!input.region_best_within_10.empty() && input.region_best_within_10.size() == input.regions.size()) {
        std::vector<std::int64_t> region_within(input.regions.size(), 0), region_count(input.regions.size(), 0);
        for (const auto& grid : input.micro_grids) {
            if (grid.region < 0 || static_cast<std::size_t>(grid.region) >= input.regions.size()) continue;
            const double own_target = grid.target > 0 ? grid.target : target;
            region_within[static_cast<std::size_t>(grid.region)] += is_within(grid.households, own_target) ? 1 : 0;
            ++region_count[static_cast<std::size_t>(grid.region)];
        }
        std::int64_t best = 0;
        for (std::size_t r = 0; r < input.regions.size(); ++r) {
            // A bound below what was reached or above the count (an edited file) is taken to them.
            const std::int64_t bound = std::clamp(input.region_best_within_10[r], region_within[r], region_count[r]);
            best += bound;
            if (bound > region_within[r])
                report.largest_gaps.push_back(
                    {r < input.region_codes.size() ? input.region_codes[r] : std::to_string(r), region_count[r],
                     region_within[r], bound});
        }
        report.best_share_within_10 = static_cast<double>(best) / count;
        if (input.region_best_within_10_in_bounds.size() == input.regions.size()) {
            std::int64_t best_in_bounds = 0;
            for (std::size_t r = 0; r < input.regions.size(); ++r)
                best_in_bounds +=
                    std::clamp(input.region_best_within_10_in_bounds[r], region_within[r],
                               std::clamp(input.region_best_within_10[r], region_within[r], region_count[r]));
            report.best_share_within_10_in_bounds = static_cast<double>(best_in_bounds) / count;
        }
        std::stable_sort(report.largest_gaps.begin(), report.largest_gaps.end(),
                         [](const QualityReport::RegionGap& a, const QualityReport::RegionGap& b) {
                             return a.best_within_10 - a.within_10 > b.best_within_10 - b.within_10;
                         });
        if (report.largest_gaps.size() > 10) report.largest_gaps.resize(10);
    }
    report.share_within_20 = static_cast<double>(within_20) / count;
    report.share_within_bounds = static_cast<double>(within_bounds) / count;
    for (int g : input.building_grid) report.buildings_unassigned += g < 0 ? 1 : 0;

    // Geometry, region by region in parallel, each thread with its own GEOS context.
    const std::size_t region_count = input.regions.size();
    std::vector<std::vector<std::size_t>> region_grids(region_count);
    std::vector<std::size_t> orphan_grids;
    for (std::size_t g = 0; g < input.micro_grids.size(); ++g) {
        const int r = input.micro_grids[g].region;
        if (r >= 0 && static_cast<std::size_t>(r) < region_count)
            region_grids[static_cast<std::size_t>(r)].push_back(g);
        else
            orphan_grids.push_back(g);
    }
    std::vector<std::vector<std::size_t>> grid_buildings(input.micro_grids.size());  // buildings with households
    for (std::size_t b = 0; b < input.building_grid.size(); ++b) {
        const int g = input.building_grid[b];
        const bool has_households = input.building_households.empty() || input.building_households[b] > 0;
        if (has_households && g >= 0 && static_cast<std::size_t>(g) < input.micro_grids.size())
            grid_buildings[static_cast<std::size_t>(g)].push_back(b);
    }
    std::vector<geos::Envelope> barrier_envelopes(input.barriers.size());
    {
        Context context;
        for (std::size_t i = 0; i < input.barriers.size(); ++i) {
            const Geom barrier = geos::from_wkb(context, input.barriers[i]);
            barrier_envelopes[i] = geos::envelope(context, barrier.get());
        }
    }

    std::vector<RegionStats> stats(region_count);
    tbb::enumerable_thread_specific<Context> contexts;
    auto work = [&] {
        tbb::parallel_for(std::size_t{0}, region_count, [&](std::size_t r) {
            const Context& context = contexts.local();
            const auto handle = context.handle();
            RegionStats& out = stats[r];
            const Geom region = geos::from_wkb(context, input.regions[r]);
            const geos::Envelope region_envelope = geos::envelope(context, region.get());
            const bool detailed_region = GEOSGetNumCoordinates_r(handle, region.get()) > kDetailedOutline;
            std::vector<Geom> grids;
            double area_sum = 0;
            for (std::size_t g : region_grids[r]) {
                Geom polygon = geos::from_wkb(context, input.micro_grids[g].polygon);
                if (GEOSGetNumGeometries_r(handle, polygon.get()) > 1) ++out.non_contiguous;
                if (!is_valid(context, polygon.get())) {
                    ++out.invalid;  // counted, then measured as repaired so one bad polygon cannot stop the report
                    const Geom repaired =
                        geos::own(context, GEOSMakeValid_r(handle, polygon.get()), "repairing a micro-grid");
                    // Repairing can leave lines and points beside the polygons (a collapsed spike):
                    // only the polygons are measured, as a MultiPolygon GEOS takes a boundary of.
                    std::vector<Geom> polygons;
                    geos::collect_polygons(context, repaired.get(), polygons);
                    polygon = geos::collection(context, GEOS_MULTIPOLYGON, std::move(polygons));
                }
                const double area = geos::area(context, polygon.get());
                area_sum += area;
                const double perimeter = geos::length(context, polygon.get());
                out.polsby_popper.emplace_back(
                    g, perimeter > 0 ? 4 * std::numbers::pi * area / (perimeter * perimeter) : 0.0);
                grids.push_back(std::move(polygon));
            }
            // The micro-grids themselves go into one collection (a copy of a million-vertex one is
            // 24 MB); both checks below read them from it.
            const Geom all = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(grids));
            auto grid_at = [&](const Context& local, std::size_t i) {
                return GEOSGetGeometryN_r(local.handle(), all.get(), static_cast<int>(i));
            };
            // Barrier crossings: only micro-grids near a barrier are examined.
            auto count_crossings = [&] {
                const Context& local = contexts.local();
                std::vector<Geom> nearby;
                for (std::size_t i = 0; i < input.barriers.size(); ++i)
                    if (barrier_envelopes[i].intersects(region_envelope))
                        nearby.push_back(geos::from_wkb(local, input.barriers[i]));
                if (nearby.empty()) return;
                std::vector<Geom> lines;
                for (const Geom& barrier : nearby) collect_lines(local, barrier.get(), lines);
                const Geom barrier_lines = geos::collection(local, GEOS_MULTILINESTRING, std::move(lines));
                const geos::Prepared prepared = geos::prepare(local, barrier_lines.get());
                for (std::size_t i = 0; i < region_grids[r].size(); ++i) {
                    const std::size_t g = region_grids[r][i];
                    if (grid_buildings[g].size() < 2) continue;
                    // A micro-grid of more than kDetailedOutline vertices goes straight to the split
                    // (which finds one part when no barrier enters it): the prepared barriers' test
                    // against it indexes its whole outline, and barriers along a boundary meet it anyway.
                    const bool detailed_grid =
                        GEOSGetNumCoordinates_r(local.handle(), grid_at(local, i)) > kDetailedOutline;
                    if (!detailed_grid &&
                        GEOSPreparedIntersects_r(local.handle(), prepared.get(), grid_at(local, i)) != 1)
                        continue;
                    std::vector<Point> points;
                    for (std::size_t b : grid_buildings[g]) points.push_back(input.building_points[b]);
                    if (separated_parts_with_buildings(local, grid_at(local, i), barrier_lines.get(), points,
                                                       detailed_region) > 1)
                        ++out.crossings;
                }
            };
            // Coverage: gaps and overlaps against the region.
            auto measure_coverage = [&] {
                const Context& local = contexts.local();
                const auto local_handle = local.handle();
                if (region_grids[r].empty()) {
                    out.gap = geos::area(local, region.get());
                    return;
                }
                Geom united = valid_coverage_union(local, all.get());
                if (!united)
                    united = geos::own(local, GEOSUnaryUnion_r(local_handle, all.get()), "uniting micro-grids");
                const double united_area = geos::area(local, united.get());
                out.overlap = std::max(0.0, area_sum - united_area);
                // When the union lies within a centimetre of the region (prepared covers: no
                // overlay), the gap is the difference of the areas. Otherwise exact differences; an
                // overlay per region or micro-grid costs seconds at city scale, so only then.
                // A region of more than kDetailedOutline vertices is not buffered (the offset curves
                // of a zig-zagging million-vertex boundary overlap by the thousand and the buffer runs
                // for minutes): its micro-grids' vertices are checked instead. Every micro-grid edge
                // is a piece of the region's outline or runs inside it, so their vertices tell.
                constexpr double kSlack = 0.01;  // metres
                bool within_slack = false;
                if (detailed_region) {
                    within_slack = vertices_within(local, region.get(), united.get(), kSlack);
                } else {
                    const Geom slack_region =
                        geos::own(local, GEOSBuffer_r(local_handle, region.get(), kSlack, 2), "enlarging a region");
                    const geos::Prepared slack_prepared = geos::prepare(local, slack_region.get());
                    within_slack = GEOSPreparedCovers_r(local_handle, slack_prepared.get(), united.get()) == 1;
                }
                if (within_slack) {
                    out.gap = std::max(0.0, geos::area(local, region.get()) - united_area);
                    return;
                }
                Geom gap =
                    geos::own(local, GEOSDifference_r(local_handle, region.get(), united.get()), "gaps in a region");
                out.gap = geos::area(local, gap.get());
                for (std::size_t i = 0; i < region_grids[r].size(); ++i) {
                    const Geom outside =
                        geos::own(local, GEOSDifference_r(local_handle, grid_at(local, i), region.get()),
                                  "micro-grid outside its region");
                    if (geos::area(local, outside.get()) > std::max(0.01, 1e-9 * geos::area(local, grid_at(local, i))))
                        ++out.outside;
                }
            };
            // A detailed region is one task that would keep one core busy for seconds: its two
            // checks run side by side (they write different fields of `out`).
            if (detailed_region) {
                tbb::parallel_invoke(count_crossings, measure_coverage);
            } else {
                count_crossings();
                measure_coverage();
            }
            // A detailed outline's transient vectors (millions of points) are handed back.
            if (detailed_region) detail::release_free_memory();
        });
    };
    with_threads(input.threads, work);

    std::vector<double> compactness;
    for (const RegionStats& s : stats) {
        report.gap_area_m2 += s.gap;
        report.overlap_area_m2 += s.overlap;
        report.max_region_gap_overlap_m2 = std::max(report.max_region_gap_overlap_m2, s.gap + s.overlap);
        report.outside_region += s.outside;
        report.barrier_crossings += s.crossings;
        report.invalid_polygons += s.invalid;
        report.non_contiguous += s.non_contiguous;
        for (const auto& [g, value] : s.polsby_popper) compactness.push_back(value);
    }
    report.outside_region += static_cast<std::int64_t>(orphan_grids.size());

    // Grids: balance against their micro-grids' targets, and contiguity.
    report.grids = static_cast<std::int64_t>(input.grids.size());
    if (!input.grids.empty()) {
        Context context;
        std::int64_t within = 0;
        for (const auto& grid : input.grids) {
            if (grid.expected > 0 &&
                std::abs(static_cast<double>(grid.households) - grid.expected) <= 0.2 * grid.expected + 1e-9)
                ++within;
            const Geom polygon = geos::from_wkb(context, grid.polygon);
            if (GEOSGetNumGeometries_r(context.handle(), polygon.get()) > 1) ++report.grids_non_contiguous;
        }
        report.grids_share_within_20 = static_cast<double>(within) / static_cast<double>(input.grids.size());
    }
    if (!compactness.empty()) {
        double sum = 0;
        for (double value : compactness) sum += value;
        report.polsby_popper_mean = sum / static_cast<double>(compactness.size());
        std::sort(compactness.begin(), compactness.end());
        report.polsby_popper_p10 =
            compactness[static_cast<std::size_t>(0.1 * static_cast<double>(compactness.size() - 1))];
    }
    return report;
}

std::vector<std::pair<std::string, std::string>> QualityReport::rows() const {
    return {
        {"micro_grids", std::to_string(micro_grids)},
        {"requested", std::to_string(requested)},
        {"empty", std::to_string(empty)},
        {"flagged", std::to_string(flagged)},
        {"flagged_out_of_bounds", std::to_string(flagged_out_of_bounds)},
        {"flagged_multipart", std::to_string(flagged_multipart)},
        {"max_abs_deviation", format(max_abs_deviation, 4)},
        {"max_abs_deviation_unflagged", format(max_abs_deviation_unflagged, 4)},
        {"share_within_10pct", format(share_within_10, 4)},
        {"share_within_20pct", format(share_within_20, 4)},
        {"share_within_bounds", format(share_within_bounds, 4)},
        {"best_share_within_10pct", best_share_within_10 < 0 ? std::string() : format(best_share_within_10, 4)},
        {"best_share_within_10pct_in_bounds",
         best_share_within_10_in_bounds < 0 ? std::string() : format(best_share_within_10_in_bounds, 4)},
        {"non_contiguous", std::to_string(non_contiguous)},
        {"barrier_crossings", std::to_string(barrier_crossings)},
        {"outside_region", std::to_string(outside_region)},
        {"invalid_polygons", std::to_string(invalid_polygons)},
        {"gap_area_m2", format(gap_area_m2, 3)},
        {"overlap_area_m2", format(overlap_area_m2, 3)},
        {"max_region_gap_overlap_m2", format(max_region_gap_overlap_m2, 3)},
        {"polsby_popper_mean", format(polsby_popper_mean, 4)},
        {"polsby_popper_p10", format(polsby_popper_p10, 4)},
        {"buildings_unassigned", std::to_string(buildings_unassigned)},
        {"grids", std::to_string(grids)},
        {"grids_share_within_20pct", format(grids_share_within_20, 4)},
        {"grids_non_contiguous", std::to_string(grids_non_contiguous)},
    };
}

std::string QualityReport::to_text() const {
    std::string text = "Quality report\n";
    auto line = [&](const std::string& label, const std::string& value) {
        text += "  " + label + std::string(label.size() < 34 ? 34 - label.size() : 1, ' ') + value + "\n";
    };
    const double count_error =
        requested > 0 ? 100.0 * static_cast<double>(micro_grids - requested) / static_cast<double>(requested) : 0.0;
    line("micro-grids (requested)",
         std::to_string(micro_grids) + " (" + std::to_string(requested) + ", " + format(count_error, 2) + " %)");
    line("empty micro-grids", std::to_string(empty));
    line("within +-10 % / +-20 % of target",
         format(100 * share_within_10, 1) + " % / " + format(100 * share_within_20, 1) + " %");
    if (best_share_within_10 >= 0) {
        line("within +-10 %: best possible",
             format(100 * best_share_within_10, 1) + " % (same counts, nested, " + "never crossing a barrier)");
        if (best_share_within_10_in_bounds >= 0)
            line("  keeping the balance bounds", format(100 * best_share_within_10_in_bounds, 1) +
                                                     " % (no micro-grid beyond them where its piece allows)");
        if (!largest_gaps.empty()) {
            std::string worst;
            for (std::size_t i = 0; i < largest_gaps.size() && i < 5; ++i)
                worst += (i > 0 ? ", " : "") + largest_gaps[i].code + " " + std::to_string(largest_gaps[i].within_10) +
                         "/" + std::to_string(largest_gaps[i].best_within_10);
            line("furthest below it (reached/best)", worst);
        }
    }
    line("max deviation (unflagged)",
         format(100 * max_abs_deviation, 1) + " % (" + format(100 * max_abs_deviation_unflagged, 1) + " %)");
    line("flagged: forced by data", std::to_string(flagged) + " (out of bounds " +
                                        std::to_string(flagged_out_of_bounds) + ", multipart " +
                                        std::to_string(flagged_multipart) + ")");
    line("non-contiguous", std::to_string(non_contiguous));
    line("crossing a hard barrier", std::to_string(barrier_crossings));
    line("outside their community", std::to_string(outside_region));
    line("invalid polygons", std::to_string(invalid_polygons));
    line("gap / overlap area", format(gap_area_m2, 3) + " m2 / " + format(overlap_area_m2, 3) + " m2");
    line("worst community gap+overlap", format(max_region_gap_overlap_m2, 3) + " m2");
    line("Polsby-Popper mean / p10", format(polsby_popper_mean, 3) + " / " + format(polsby_popper_p10, 3));
    line("buildings without micro-grid", std::to_string(buildings_unassigned));
    if (grids > 0)
        line("grids (+-20 % / non-contiguous)", std::to_string(grids) + " (" + format(100 * grids_share_within_20, 1) +
                                                    " % / " + std::to_string(grids_non_contiguous) + ")");
    return text;
}

}  // namespace civgrid::algorithms
