#include "point_grid.hpp"

#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/stations.hpp>
#include <civgrid/algorithms/transport.hpp>
#include <civgrid/error.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace civgrid::algorithms {
namespace {

// Appends (distance, station) for the stations of `grid` in boxes around p that double until the
// `count`-th nearest lies within the box's margin (every station nearer is then among them, ties
// included) or the box holds them all: a micro-grid's nearest few without a scan of every station
// (at 10 M households that scan was 120,000 micro-grids x 1,400 stations x 4 utilities).
template <class Distance>
void nearest_stations(const PointGrid& grid, Point p, std::size_t count, Distance&& distance,
                      std::vector<std::pair<double, std::uint32_t>>& out, std::vector<double>& scratch) {
    if (grid.empty()) return;
    const std::size_t start = out.size();
    const geos::Envelope& all = grid.bounds();
    for (double margin = grid.cell();; margin *= 2) {
        out.resize(start);
        const geos::Envelope box{p.x - margin, p.y - margin, p.x + margin, p.y + margin};
        grid.in_box(box, [&](std::uint32_t s) { out.emplace_back(distance(s), s); });
        const bool whole =
            box.min_x <= all.min_x && box.min_y <= all.min_y && box.max_x >= all.max_x && box.max_y >= all.max_y;
        if (whole) return;
        if (out.size() - start < count) continue;
        scratch.clear();
        for (std::size_t i = start; i < out.size(); ++i) scratch.push_back(out[i].first);
        std::nth_element(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(count - 1), scratch.end());
        if (scratch[count - 1] <= margin) return;
    }
}

}  // namespace

// Long on purpose: one greedy pass in stages (candidates, service areas, nearest station, giving
// away over capacity, placing what is left) over the same candidate lists.
StationResult assign_stations(const StationInput& input) {
    const std::size_t grids = input.micro_grids.size(), stations = input.stations.size();
    if (input.households.size() != grids || input.capacity.size() != stations)
        throw InternalError("algorithms.stations", "station input vectors differ in size");
    StationResult result;
    result.station.assign(grids, -1);
    result.distance_m.assign(grids, 0.0);
    result.load.assign(stations, 0);
    if (grids == 0) return result;
    if (stations == 0) {
        result.unassigned.resize(grids);
        std::iota(result.unassigned.begin(), result.unassigned.end(), 0u);
        return result;
    }
    // Candidates: the nearest stations of each micro-grid (stations are few: a full scan).
    const std::size_t k = std::min<std::size_t>(stations, static_cast<std::size_t>(std::max(1, input.candidates)));
    auto distance = [&](std::size_t g, std::size_t s) {
        return std::hypot(input.micro_grids[g].x - input.stations[s].x, input.micro_grids[g].y - input.stations[s].y);
    };
    std::vector<std::vector<std::uint32_t>> nearest(grids);
    TransportProblem problem;
    problem.supply = input.capacity;
    for (auto& c : problem.supply) c = std::max<std::int64_t>(c, 0);
    problem.demand = input.households;
    for (auto& d : problem.demand) d = std::max<std::int64_t>(d, 0);
    problem.threads = input.threads;
    // Service areas: a station serves only micro-grids whose point lies in its polygon.
    geos::Context context;
    std::vector<geos::Geom> areas(stations);
    std::vector<geos::Prepared> prepared(stations);
    std::vector<geos::Envelope> boxes(stations);
    for (std::size_t s = 0; s < stations && s < input.service_area.size(); ++s) {
        if (input.service_area[s].empty()) continue;
        areas[s] = geos::from_wkb(context, input.service_area[s]);
        prepared[s] = geos::prepare(context, areas[s].get());
        boxes[s] = geos::envelope(context, areas[s].get());
    }
    auto may_serve = [&](std::size_t s, std::size_t g) {
        if (!areas[s]) return true;
        const Point p = input.micro_grids[g];
        if (!boxes[s].intersects({p.x, p.y, p.x, p.y})) return false;
        const geos::Geom point = geos::point(context, p);
        return GEOSPreparedIntersects_r(context.handle(), prepared[s].get(), point.get()) == 1;
    };
    // (distance, station) pairs: each distance computed once, the nearest few kept. Stations that
    // serve anywhere come from the grid index; those with a service area are each checked.
    std::vector<std::uint32_t> anywhere, with_area;
    for (std::uint32_t s = 0; s < stations; ++s) (areas[s] ? with_area : anywhere).push_back(s);
    const PointGrid grid(input.stations, anywhere);
    std::vector<std::pair<double, std::uint32_t>> order;
    std::vector<double> scratch;
    order.reserve(stations);
    std::vector<char> outside(grids, 0);
    for (std::size_t g = 0; g < grids; ++g) {
        order.clear();
        nearest_stations(
            grid, input.micro_grids[g], k, [&](std::uint32_t s) { return distance(g, s); }, order, scratch);
        for (const std::uint32_t s : with_area)
            if (may_serve(s, g)) order.emplace_back(distance(g, s), s);
        if (order.empty()) {
            outside[g] = 1;
            continue;
        }
        const std::size_t take = std::min(k, order.size());
        std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(take), order.end());
        for (std::size_t i = 0; i < take; ++i) {
            nearest[g].push_back(order[i].second);
            problem.arcs.push_back({order[i].second, static_cast<std::uint32_t>(g), order[i].first});
        }
    }
    const TransportSolution solution = solve_transport(problem);
    result.lower_bound = solution.cost;

    // One station each: the one serving most of the micro-grid (a micro-grid without households
    // goes to its nearest station).
    std::vector<std::int64_t> best_flow(grids, 0);
    std::vector<int> flows_into(grids, 0);
    for (std::size_t a = 0; a < problem.arcs.size(); ++a) {
        const TransportArc& arc = problem.arcs[a];
        if (solution.flow[a] <= 0) continue;
        ++flows_into[arc.consumer];
        if (solution.flow[a] > best_flow[arc.consumer]) {
            best_flow[arc.consumer] = solution.flow[a];
            result.station[arc.consumer] = static_cast<int>(arc.supplier);
        }
    }
    for (std::size_t g = 0; g < grids; ++g) {
        result.split_repaired += flows_into[g] > 1 ? 1 : 0;
        if (nearest[g].empty())
            result.station[g] = -1;
        else if (problem.demand[g] == 0)
            result.station[g] = static_cast<int>(nearest[g].front());
        else if (solution.unmet[g] > 0 && best_flow[g] * 2 < problem.demand[g])
            result.station[g] = -1;  // mostly unserved
        if (result.station[g] >= 0) result.load[static_cast<std::size_t>(result.station[g])] += problem.demand[g];
    }
    // Stations over capacity give micro-grids away, the cheapest extra distance first, to a
    // candidate with room; what fits nowhere is unassigned.
    std::vector<std::vector<std::size_t>> served(stations);
    for (std::size_t g = 0; g < grids; ++g)
        if (result.station[g] >= 0) served[static_cast<std::size_t>(result.station[g])].push_back(g);
    for (std::size_t s = 0; s < stations; ++s) {
        while (result.load[s] > problem.supply[s]) {
            double best_extra = std::numeric_limits<double>::infinity();
            std::size_t best_grid = grids;
            int best_to = -1;
            for (std::size_t g : served[s]) {
                if (result.station[g] != static_cast<int>(s) || problem.demand[g] == 0) continue;
                for (std::uint32_t t : nearest[g]) {
                    if (t == s || result.load[t] + problem.demand[g] > problem.supply[t]) continue;
                    const double extra = distance(g, t) - distance(g, s);
                    if (extra < best_extra) {
                        best_extra = extra;
                        best_grid = g;
                        best_to = static_cast<int>(t);
                    }
                }
            }
            if (best_grid == grids) {  // nobody can move: drop the smallest micro-grid
                std::size_t smallest = grids;
                for (std::size_t g : served[s])
                    if (result.station[g] == static_cast<int>(s) && problem.demand[g] > 0 &&
                        (smallest == grids || problem.demand[g] < problem.demand[smallest]))
                        smallest = g;
                result.load[s] -= problem.demand[smallest];
                result.station[smallest] = -1;
                continue;
            }
            result.load[s] -= problem.demand[best_grid];
            result.load[static_cast<std::size_t>(best_to)] += problem.demand[best_grid];
            result.station[best_grid] = best_to;
            served[static_cast<std::size_t>(best_to)].push_back(best_grid);
        }
    }
    // Micro-grids left out (their nearest stations full) try every station that may serve them,
    // nearest first, largest micro-grids first so the small ones fill the gaps.
    std::vector<std::size_t> left_out;
    for (std::size_t g = 0; g < grids; ++g)
        if (result.station[g] < 0 && problem.demand[g] > 0 && !outside[g]) left_out.push_back(g);
    std::stable_sort(left_out.begin(), left_out.end(),
                     [&](std::size_t a, std::size_t b) { return problem.demand[a] > problem.demand[b]; });
    for (std::size_t g : left_out) {
        int best = -1;
        for (std::size_t s = 0; s < stations; ++s)
            if (result.load[s] + problem.demand[g] <= problem.supply[s] && may_serve(s, g) &&
                (best < 0 || distance(g, s) < distance(g, static_cast<std::size_t>(best))))
                best = static_cast<int>(s);
        if (best < 0) continue;
        result.station[g] = best;
        result.load[static_cast<std::size_t>(best)] += problem.demand[g];
    }
    for (std::size_t g = 0; g < grids; ++g) {
        if (result.station[g] < 0) {
            if (problem.demand[g] > 0 || outside[g]) {
                result.unassigned.push_back(static_cast<std::uint32_t>(g));
                result.outside_service_areas += outside[g];
            }
            continue;
        }
        result.distance_m[g] = distance(g, static_cast<std::size_t>(result.station[g]));
        result.weighted_distance += static_cast<double>(problem.demand[g]) * result.distance_m[g];
    }
    return result;
}

}  // namespace civgrid::algorithms
