#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/parallel.hpp>
#include <civgrid/algorithms/repartition.hpp>
#include <civgrid/error.hpp>

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace civgrid::algorithms {

namespace {

constexpr const char* kStage = "algorithms.repartition";
// Shared boundary (metres) that makes two polygons neighbours: less is a touch at a corner, which
// a union on the millimetre grid leaves in two parts.
constexpr double kSharedEdge = 0.01;
using geos::Geom;

// A region's zones: what its kept micro-grids leave uncovered, part by part, with the free
// buildings each part holds.
struct Part {
    Wkb polygon;  // WKB: parts are built on worker threads, each under its own GEOS context
    geos::Envelope box;
    std::vector<std::uint32_t> buildings;
    std::int64_t households = 0;
};

// Unites a part with what it joins on the zones' millimetre grid, so that edges a hair apart close.
Geom joined(const geos::Context& context, std::vector<Geom> polygons) {
    const Geom all = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(polygons));
    return geos::own(context, GEOSUnaryUnionPrec_r(context.handle(), all.get(), 1e-3), "joining a part");
}

Geom united(const geos::Context& context, std::vector<Geom> polygons) {
    if (polygons.empty()) return {};
    const Geom all = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(polygons));
    // Kept micro-grids form a coverage (they never overlap), which unites fastest; a clipped or
    // hand-edited previous file may not, then the general union.
    Geom result = geos::own_nullable(context, GEOSCoverageUnion_r(context.handle(), all.get()));
    if (!result) result = geos::own(context, GEOSUnaryUnion_r(context.handle(), all.get()), "uniting kept micro-grids");
    return result;
}

// Whether some number of micro-grids k >= 1 splits `households` within [lower, upper] on average:
// a zone of 106 with bounds 66-100 cannot (one is too many, two too few) and takes in a neighbour.
bool balanceable(std::int64_t households, double lower, double upper) {
    const double h = static_cast<double>(households);
    const double fewest = std::max(1.0, std::ceil(h / upper - 1e-9)),
                 most = std::floor(h / std::max(lower, 1e-9) + 1e-9);
    return fewest <= most;
}

// Length of `part`'s boundary that runs along `polygon`.
double shared_boundary(const geos::Context& context, const GEOSGeometry* part, const GEOSGeometry* polygon) {
    const Geom boundary = geos::own(context, GEOSBoundary_r(context.handle(), part), "a zone's boundary");
    const Geom shared = geos::own_nullable(context, GEOSIntersection_r(context.handle(), boundary.get(), polygon));
    return shared ? geos::length(context, shared.get()) : 0.0;
}

}  // namespace

// Long on purpose: four numbered steps (buildings per previous micro-grid, what is kept, zones
// region by region, empty parts) hand their per-micro-grid vectors on to the next.
RepartitionPlan plan_repartition(const RepartitionPlanInput& input) {
    const std::size_t region_count = input.regions.size(), previous_count = input.previous.size(),
                      building_count = input.building_points.size();
    if (input.lower.size() != region_count || input.upper.size() != region_count ||
        input.building_region.size() != building_count || input.building_households.size() != building_count ||
        input.building_previous.size() != building_count)
        throw InternalError(kStage, "repartition input vectors differ in size");
    const geos::Context context;
    const GEOSContextHandle_t handle = context.handle();
    std::vector<Geom> regions;
    for (const Wkb& wkb : input.regions) regions.push_back(geos::from_wkb(context, wkb));
    std::vector<Geom> previous(previous_count);
    std::vector<geos::Prepared> previous_prepared(previous_count);
    geos::StrTree previous_tree(context);
    for (std::size_t m = 0; m < previous_count; ++m) {
        if (input.previous[m].polygon.empty() || input.previous[m].region < 0) continue;
        previous[m] = geos::from_wkb(context, input.previous[m].polygon);
        previous_prepared[m] = geos::prepare(context, previous[m].get());
        previous_tree.insert(previous[m].get(), m);
    }

    // 1. Each previous micro-grid's buildings now: those that were in it, and new buildings
    // inside its polygon within its region.
    std::vector<std::vector<std::uint32_t>> members(previous_count);
    for (std::uint32_t b = 0; b < building_count; ++b) {
        const int r = input.building_region[b];
        if (r < 0) continue;
        int m = input.building_previous[b];
        if (m < 0) {
            const Geom point = geos::point(context, input.building_points[b]);
            for (std::size_t candidate : previous_tree.query(point.get()))
                if (input.previous[candidate].region == r &&
                    GEOSPreparedIntersects_r(handle, previous_prepared[candidate].get(), point.get()) == 1) {
                    m = static_cast<int>(candidate);
                    break;
                }
        }
        if (m >= 0) members[static_cast<std::size_t>(m)].push_back(b);
    }

    // 2. Kept: locked, or all its buildings still in its region and in bounds (or unchanged).
    RepartitionPlan plan;
    plan.kept.assign(previous_count, false);
    plan.kept_polygon.assign(previous_count, {});
    std::vector<Geom> kept_shape(previous_count);
    for (std::size_t m = 0; m < previous_count; ++m) {
        const PreviousMicroGrid& grid = input.previous[m];
        const int r = grid.region;
        if (r < 0 || !previous[m]) continue;
        std::int64_t households = 0;
        bool foreign = false;
        for (std::uint32_t b : members[m]) {
            foreign = foreign || input.building_region[b] != r;
            households += input.building_households[b];
        }
        const auto ru = static_cast<std::size_t>(r);
        const bool in_bounds = static_cast<double>(households) >= input.lower[ru] - 1e-9 &&
                               static_cast<double>(households) <= input.upper[ru] + 1e-9;
        const bool as_before = grid.unchanged && households == grid.previous_households;
        if (!grid.locked && (members[m].empty() || foreign || !(in_bounds || as_before))) continue;
        if (!input.region_unchanged.empty() && input.region_unchanged[ru]) {
            kept_shape[m] = geos::clone(context, previous[m].get());
            plan.kept[m] = true;
            continue;
        }
        // Clipped to its region (a moved boundary); the part holding its buildings stays.
        const Geom clipped =
            geos::own_nullable(context, GEOSIntersection_r(handle, previous[m].get(), regions[ru].get()));
        if (!clipped) continue;
        std::vector<Geom> parts;
        geos::collect_polygons(context, clipped.get(), parts);
        std::vector<Geom> holding;
        std::vector<bool> used(parts.size(), false);
        for (std::uint32_t b : members[m]) {
            if (input.building_region[b] != r) continue;
            const Geom point = geos::point(context, input.building_points[b]);
            for (std::size_t p = 0; p < parts.size(); ++p)
                if (GEOSIntersects_r(handle, parts[p].get(), point.get()) == 1) {
                    used[p] = true;
                    break;
                }
        }
        for (std::size_t p = 0; p < parts.size(); ++p)
            if (used[p]) holding.push_back(std::move(parts[p]));
        if (holding.empty() || (holding.size() > 1 && !grid.locked)) continue;
        kept_shape[m] = holding.size() == 1 ? std::move(holding[0])
                                            : geos::collection(context, GEOS_MULTIPOLYGON, std::move(holding));
        plan.kept[m] = true;
    }
    plan.building_kept.assign(building_count, -1);
    for (std::size_t m = 0; m < previous_count; ++m)
        if (plan.kept[m])
            for (std::uint32_t b : members[m])
                if (input.building_region[b] == input.previous[m].region) plan.building_kept[b] = static_cast<int>(m);

    // Kept micro-grids and free buildings by region.
    std::vector<std::vector<std::uint32_t>> region_previous(region_count), region_buildings(region_count);
    for (std::size_t m = 0; m < previous_count; ++m)
        if (input.previous[m].region >= 0)
            region_previous[static_cast<std::size_t>(input.previous[m].region)].push_back(
                static_cast<std::uint32_t>(m));
    for (std::uint32_t b = 0; b < building_count; ++b)
        if (input.building_region[b] >= 0)
            region_buildings[static_cast<std::size_t>(input.building_region[b])].push_back(b);

    // 3. Zones, region by region (in parallel), until no zone below the lower bound can take in a
    // kept neighbour.
    // Regions where anything changes: a moved boundary, a micro-grid not kept, a building left
    // free. Elsewhere the kept micro-grids still tile the region exactly.
    std::vector<bool> touched(region_count, false);
    for (std::size_t r = 0; r < region_count; ++r)
        touched[r] = input.region_unchanged.empty() || !input.region_unchanged[r] || region_previous[r].empty();
    for (std::size_t m = 0; m < previous_count; ++m)
        if (input.previous[m].region >= 0 && !plan.kept[m])
            touched[static_cast<std::size_t>(input.previous[m].region)] = true;
    for (std::uint32_t b = 0; b < building_count; ++b)
        if (input.building_region[b] >= 0 && plan.building_kept[b] < 0)
            touched[static_cast<std::size_t>(input.building_region[b])] = true;
    std::vector<Wkb> kept_wkb(previous_count);  // what worker threads read, for the touched regions
    for (std::size_t m = 0; m < previous_count; ++m)
        if (plan.kept[m] && touched[static_cast<std::size_t>(input.previous[m].region)])
            kept_wkb[m] = geos::to_wkb(context, kept_shape[m].get());

    std::vector<std::vector<Part>> region_parts(region_count);
    std::vector<std::vector<std::uint32_t>> region_unplaced(region_count);
    std::vector<std::uint32_t> dirty;
    for (std::uint32_t r = 0; r < region_count; ++r)
        if (touched[r]) dirty.push_back(r);
    auto build_zones = [&](std::uint32_t r) {
        const geos::Context local;
        const GEOSContextHandle_t h = local.handle();
        std::vector<Part>& parts = region_parts[r];
        parts.clear();
        region_unplaced[r].clear();
        const Geom region = geos::from_wkb(local, input.regions[r]);
        std::vector<Geom> kept;
        for (std::uint32_t m : region_previous[r])
            if (plan.kept[m]) kept.push_back(geos::from_wkb(local, kept_wkb[m]));
        Geom zone;
        if (kept.empty()) {
            zone = geos::clone(local, region.get());
        } else {
            const Geom covered = united(local, std::move(kept));
            zone = geos::own_nullable(local, GEOSDifference_r(h, region.get(), covered.get()));
        }
        if (!zone) return;
        // The difference leaves spikes and vertices a hair apart where kept borders meet the
        // region's; on a millimetre grid they collapse, and the partitioner gets clean zones.
        zone = geos::own(local, GEOSGeom_setPrecision_r(h, zone.get(), 1e-3, 0), "cleaning a zone");
        std::vector<Geom> polygons;
        geos::collect_polygons(local, zone.get(), polygons);
        // Parts under a square metre are noise of the difference along kept borders, not land.
        std::erase_if(polygons, [&](const Geom& polygon) { return geos::area(local, polygon.get()) < 1.0; });
        std::vector<geos::Prepared> prepared;
        for (const Geom& polygon : polygons) prepared.push_back(geos::prepare(local, polygon.get()));
        parts.resize(polygons.size());
        for (std::uint32_t b : region_buildings[r]) {
            if (plan.building_kept[b] >= 0) continue;
            const Geom point = geos::point(local, input.building_points[b]);
            std::size_t best = parts.size();
            for (std::size_t p = 0; p < parts.size() && best == parts.size(); ++p)
                if (GEOSPreparedIntersects_r(h, prepared[p].get(), point.get()) == 1) best = p;
            // A free building whose point lies in no zone (a straddling building's point inside a
            // kept micro-grid) goes to the nearest zone within a metre, else to a kept micro-grid.
            double best_distance = 1.0;
            for (std::size_t p = 0; p < parts.size() && best == parts.size(); ++p) {
                double distance = 0;
                if (GEOSDistance_r(h, polygons[p].get(), point.get(), &distance) == 1 && distance < best_distance)
                    best = p, best_distance = distance;
            }
            if (best == parts.size()) {
                region_unplaced[r].push_back(b);
                continue;
            }
            parts[best].buildings.push_back(b);
            parts[best].households += input.building_households[b];
        }
        for (std::size_t p = 0; p < parts.size(); ++p) {
            parts[p].box = geos::envelope(local, polygons[p].get());
            parts[p].polygon = geos::to_wkb(local, polygons[p].get());
        }
    };
    // Kept neighbours of a part, most shared boundary first.
    auto neighbours_of = [&](std::uint32_t r, const Part& part, bool include_locked) {
        std::vector<std::pair<double, std::uint32_t>> found;
        const Geom polygon = geos::from_wkb(context, part.polygon);
        for (std::uint32_t m : region_previous[r]) {
            if (!plan.kept[m] || (input.previous[m].locked && !include_locked)) continue;
            if (!geos::envelope(context, kept_shape[m].get()).intersects(part.box)) continue;
            const double length = shared_boundary(context, polygon.get(), kept_shape[m].get());
            if (length > kSharedEdge) found.emplace_back(-length, m);
        }
        std::sort(found.begin(), found.end());
        return found;
    };
    auto neighbour_sharing_most = [&](std::uint32_t r, const Part& part, bool include_locked) {
        const auto found = neighbours_of(r, part, include_locked);
        return found.empty() ? -1 : static_cast<int>(found.front().second);
    };
    for (int round = 0;; ++round) {
        auto work = [&] {
            tbb::parallel_for(std::size_t{0}, dirty.size(), [&](std::size_t i) { build_zones(dirty[i]); });
        };
        with_threads(input.threads, work);
        std::vector<std::uint32_t> next;
        for (std::uint32_t r : dirty) {
            bool grew = false;
            for (const Part& part : region_parts[r]) {
                if (part.households <= 0) continue;
                // In the first round, a zone asked to grow does; later it has.
                bool grow = !balanceable(part.households, input.lower[r], input.upper[r]);
                if (!grow && round == 0 && !input.grow_at.empty()) {
                    const Geom polygon = geos::from_wkb(context, part.polygon);
                    const geos::Prepared inside = geos::prepare(context, polygon.get());
                    for (const Point p : input.grow_at) {
                        if (p.x < part.box.min_x || p.x > part.box.max_x || p.y < part.box.min_y ||
                            p.y > part.box.max_y)
                            continue;
                        const Geom point = geos::point(context, p);
                        if (GEOSPreparedIntersects_r(handle, inside.get(), point.get()) == 1) {
                            grow = true;
                            break;
                        }
                    }
                }
                if (!grow) continue;
                const int m = neighbour_sharing_most(r, part, false);
                if (m < 0) continue;
                plan.kept[static_cast<std::size_t>(m)] = false;
                for (std::uint32_t b : members[static_cast<std::size_t>(m)])
                    if (plan.building_kept[b] == m) plan.building_kept[b] = -1;
                grew = true;
            }
            if (grew) next.push_back(r);
        }
        if (next.empty() || round >= 16) break;
        plan.merge_rounds = round + 1;
        dirty = std::move(next);
    }

    // 4. Empty parts join the kept neighbour they share most boundary with; the rest are zones.
    // Buildings no zone holds join the kept micro-grid nearest to them.
    for (std::uint32_t r = 0; r < region_count; ++r) {
        // An empty part beside a zone with buildings joins that zone first: it is land the zone's
        // micro-grids can take without changing anything kept.
        auto& parts = region_parts[r];
        for (Part& part : parts) {
            if (!part.buildings.empty() || part.polygon.empty()) continue;
            const Geom polygon = geos::from_wkb(context, part.polygon);
            for (Part& other : parts) {
                if (other.buildings.empty() || !other.box.intersects(part.box)) continue;
                const Geom zone = geos::from_wkb(context, other.polygon);
                if (shared_boundary(context, polygon.get(), zone.get()) < kSharedEdge) continue;
                std::vector<Geom> both;
                both.push_back(geos::clone(context, zone.get()));
                both.push_back(geos::clone(context, polygon.get()));
                const Geom whole = joined(context, std::move(both));
                if (GEOSGetNumGeometries_r(handle, whole.get()) != 1) continue;
                other.polygon = geos::to_wkb(context, whole.get());
                other.box = geos::envelope(context, whole.get());
                part.polygon.clear();
                break;
            }
        }
        std::erase_if(parts, [](const Part& part) { return part.polygon.empty(); });
        for (Part& part : parts) {
            if (part.buildings.empty()) {
                // The first neighbour it joins in one piece (touching at a point is no joining).
                bool attached = false;
                for (const auto& [length, m] : neighbours_of(r, part, true)) {
                    std::vector<Geom> both;
                    both.push_back(geos::clone(context, kept_shape[m].get()));
                    both.push_back(geos::from_wkb(context, part.polygon));
                    Geom whole = joined(context, std::move(both));
                    if (GEOSGetNumGeometries_r(handle, whole.get()) != 1) continue;
                    kept_shape[m] = std::move(whole);
                    attached = true;
                    break;
                }
                if (attached) continue;
            }
            plan.zones.push_back(
                {static_cast<int>(r), std::move(part.polygon), std::move(part.buildings), part.households});
        }
        for (std::uint32_t b : region_unplaced[r]) {
            const Geom point = geos::point(context, input.building_points[b]);
            double best_distance = 0;
            for (std::uint32_t m : region_previous[r]) {
                if (!plan.kept[m]) continue;
                double distance = 0;
                GEOSDistance_r(handle, kept_shape[m].get(), point.get(), &distance);
                if (plan.building_kept[b] < 0 || distance < best_distance)
                    plan.building_kept[b] = static_cast<int>(m), best_distance = distance;
            }
        }
    }
    for (std::size_t m = 0; m < previous_count; ++m)
        if (plan.kept[m])
            plan.kept_polygon[m] = touched[static_cast<std::size_t>(input.previous[m].region)]
                                       ? geos::to_wkb(context, kept_shape[m].get())
                                       : input.previous[m].polygon;
    return plan;
}

RegridResult regrid(const RegridInput& input) {
    const std::size_t count = input.micro_grids.size();
    const std::size_t kept_grids = input.grid_capacity.size();
    RegridResult out;
    out.grid = input.grid;
    const geos::Context context;
    const GEOSContextHandle_t handle = context.handle();
    // Grids that changed: those next to a new micro-grid or missing members. Only micro-grids of
    // those and the new ones need neighbours.
    std::vector<geos::Geom> shapes(count);
    auto shape = [&](std::size_t g) -> const GEOSGeometry* {
        if (!shapes[g]) shapes[g] = geos::from_wkb(context, input.micro_grids[g]);
        return shapes[g].get();
    };
    geos::StrTree tree(context);
    std::vector<geos::Geom> boxes(count);
    for (std::size_t g = 0; g < count; ++g) {
        boxes[g] = geos::own(context, GEOSEnvelope_r(handle, shape(g)), "a micro-grid's envelope");
        tree.insert(boxes[g].get(), g);
    }
    auto neighbours = [&](std::size_t g) {
        std::vector<std::pair<std::size_t, double>> result;
        for (std::size_t other : tree.query(boxes[g].get())) {
            if (other == g || input.region[other] != input.region[g]) continue;
            const double length = shared_boundary(context, shape(g), shape(other));
            if (length > kSharedEdge) result.emplace_back(other, length);
        }
        return result;
    };
    std::vector<std::int64_t> load(kept_grids, 0);
    for (std::size_t g = 0; g < count; ++g)
        if (out.grid[g] >= 0) load[static_cast<std::size_t>(out.grid[g])] += input.households[g];

    // 1. New micro-grids join neighbouring grids with room, most shared boundary first, until
    // nothing more fits.
    std::vector<std::size_t> fresh;
    for (std::size_t g = 0; g < count; ++g)
        if (out.grid[g] < 0) fresh.push_back(g);
    std::vector<std::vector<std::pair<std::size_t, double>>> fresh_neighbours(fresh.size());
    for (std::size_t i = 0; i < fresh.size(); ++i) fresh_neighbours[i] = neighbours(fresh[i]);
    for (bool joined = true; joined;) {
        joined = false;
        for (std::size_t i = 0; i < fresh.size(); ++i) {
            const std::size_t g = fresh[i];
            if (out.grid[g] >= 0) continue;
            int best = -1;
            double best_length = 0;
            for (const auto& [other, length] : fresh_neighbours[i]) {
                const int grid = out.grid[other];
                if (grid < 0 || static_cast<std::size_t>(grid) >= kept_grids) continue;
                if (load[static_cast<std::size_t>(grid)] + input.households[g] >
                    input.grid_capacity[static_cast<std::size_t>(grid)])
                    continue;
                if (length > best_length) best = grid, best_length = length;
            }
            if (best < 0) continue;
            out.grid[g] = best;
            load[static_cast<std::size_t>(best)] += input.households[g];
            joined = true;
        }
    }
    // 2. The rest: new grids grown from the first left, through new neighbours, to about the size.
    int next = static_cast<int>(kept_grids);
    for (std::size_t i = 0; i < fresh.size(); ++i) {
        if (out.grid[fresh[i]] >= 0) continue;
        const int grid = next++;
        out.piece_of.push_back(-1);
        std::int64_t households = 0;
        std::vector<std::size_t> queue = {i};
        for (std::size_t q = 0; q < queue.size(); ++q) {
            const std::size_t k = queue[q];
            const std::size_t g = fresh[k];
            if (out.grid[g] >= 0) continue;
            if (q > 0 && static_cast<double>(households + input.households[g]) > input.grid_households * 1.2) continue;
            out.grid[g] = grid;
            households += input.households[g];
            for (const auto& [other, length] : fresh_neighbours[k]) {
                if (out.grid[other] >= 0) continue;
                const auto it = std::find(fresh.begin(), fresh.end(), other);
                queue.push_back(static_cast<std::size_t>(it - fresh.begin()));
            }
        }
    }
    // 3. Kept grids left in pieces: the largest piece keeps the grid, the others are new grids.
    std::vector<std::vector<std::size_t>> members(kept_grids);
    for (std::size_t g = 0; g < count; ++g)
        if (out.grid[g] >= 0 && static_cast<std::size_t>(out.grid[g]) < kept_grids)
            members[static_cast<std::size_t>(out.grid[g])].push_back(g);
    std::vector<bool> gained(kept_grids, false);
    for (std::size_t g : fresh)
        if (out.grid[g] >= 0 && static_cast<std::size_t>(out.grid[g]) < kept_grids)
            gained[static_cast<std::size_t>(out.grid[g])] = true;
    for (std::size_t grid = 0; grid < kept_grids; ++grid) {
        // Only a grid that lost or gained micro-grids can have come apart.
        if (members[grid].size() < 2 || !(gained[grid] || input.grid_lost_members[grid])) continue;
        std::vector<geos::Geom> parts;
        for (std::size_t g : members[grid]) parts.push_back(geos::clone(context, shape(g)));
        const Geom all = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(parts));
        // As the engine unites a grid: exactly, else on the millimetre grid, whichever is whole.
        const Geom exact = geos::own(context, GEOSUnaryUnion_r(handle, all.get()), "uniting a grid");
        if (GEOSGetNumGeometries_r(handle, exact.get()) < 2) continue;
        const Geom snapped = geos::own(context, GEOSUnaryUnionPrec_r(handle, all.get(), 1e-3), "uniting a grid");
        if (GEOSGetNumGeometries_r(handle, snapped.get()) < 2) continue;
        // Pieces: members connected through shared boundaries.
        std::vector<int> piece(members[grid].size(), -1);
        std::vector<std::int64_t> piece_households;
        for (std::size_t start = 0; start < members[grid].size(); ++start) {
            if (piece[start] >= 0) continue;
            const int id = static_cast<int>(piece_households.size());
            piece_households.push_back(0);
            std::vector<std::size_t> stack = {start};
            piece[start] = id;
            while (!stack.empty()) {
                const std::size_t k = stack.back();
                stack.pop_back();
                piece_households[static_cast<std::size_t>(id)] += input.households[members[grid][k]];
                for (std::size_t other = 0; other < members[grid].size(); ++other)
                    if (piece[other] < 0 &&
                        shared_boundary(context, shape(members[grid][k]), shape(members[grid][other])) > kSharedEdge) {
                        piece[other] = id;
                        stack.push_back(other);
                    }
            }
        }
        const auto largest = static_cast<int>(std::max_element(piece_households.begin(), piece_households.end()) -
                                              piece_households.begin());
        std::vector<int> new_grid(piece_households.size(), -1);
        for (std::size_t k = 0; k < members[grid].size(); ++k) {
            if (piece[k] == largest) continue;
            auto& target = new_grid[static_cast<std::size_t>(piece[k])];
            if (target < 0) {
                target = next++;
                out.piece_of.push_back(static_cast<int>(grid));
            }
            out.grid[members[grid][k]] = target;
        }
    }
    return out;
}

}  // namespace civgrid::algorithms
