// The transportation solver (algorithms::solve_transport) on city-scale instances, built once.
// 41,000 consumers (micro-grids) and 46,000 workers on a 30 km square, half uniform and half in 25
// dense clusters:
//   BM_TransportCells/threads:T   workers to micro-grids: demand 1, supply 1-2; candidates are the 8
//                                 nearest workers inside the consumer's cell of a 10 x 10
//                                 partition (~100 components), T threads
//   BM_TransportGiant             the same, 8 nearest workers anywhere: one giant component
//   BM_TransportGiantTight        the giant component with supply 1 each (46,000 for 41,000)
//   BM_TransportStations/stations:N  micro-grids to the N stations of one utility: demand 40-130
//                                 households, stations hold 1.1x the total, candidates the 6
//                                 nearest stations (one component, multi-unit flow)
// Each runs with method:0 (our successive shortest paths, the default) and method:1 (LEMON's network
// simplex), in one run: issue 18 keeps a hand-made algorithm only where a benchmark shows why.
// Counters: consumers, suppliers, arcs, components, shipped, unmet, cost_km, split (consumers
// served by more than one supplier). Instances are built
// outside the timed loop (the stations' per benchmark, the workers' once).
#include <civgrid/algorithms/transport.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <utility>
#include <vector>

namespace {

using namespace civgrid;

constexpr double kSide = 30'000;  // metres
constexpr std::uint32_t kConsumers = 41'000, kSuppliers = 46'000;

struct XY {
    double x = 0, y = 0;
};

// Half uniform, half in 25 Gaussian clusters (sigma 1 km), clipped to the square.
std::vector<XY> city_points(std::mt19937_64& random, std::uint32_t count) {
    std::uniform_real_distribution<double> uniform(0, kSide);
    std::normal_distribution<double> spread(0, 1'000);
    std::vector<XY> centres(25);
    std::mt19937_64 centre_random(99);  // the same clusters for every layer
    for (XY& c : centres) c = {uniform(centre_random), uniform(centre_random)};
    std::uniform_int_distribution<std::size_t> pick(0, centres.size() - 1);
    std::vector<XY> points(count);
    for (std::uint32_t n = 0; n < count; ++n) {
        if (n % 2 == 0) {
            points[n] = {uniform(random), uniform(random)};
        } else {
            const XY& c = centres[pick(random)];
            points[n] = {std::clamp(c.x + spread(random), 0.0, kSide - 1e-6),
                         std::clamp(c.y + spread(random), 0.0, kSide - 1e-6)};
        }
    }
    return points;
}

// A uniform grid over the square for k-nearest queries, optionally restricted to one cell of a
// coarse partition (parts x parts).
class GridIndex {
public:
    GridIndex(const std::vector<XY>& points, double cell) : points_(points), cell_(cell) {
        side_ = static_cast<int>(std::ceil(kSide / cell));
        offset_.assign(static_cast<std::size_t>(side_ * side_) + 1, 0);
        for (const XY& p : points) ++offset_[static_cast<std::size_t>(index(p)) + 1];
        std::partial_sum(offset_.begin(), offset_.end(), offset_.begin());
        items_.resize(points.size());
        std::vector<std::uint32_t> fill(offset_.begin(), offset_.end() - 1);
        for (std::uint32_t i = 0; i < points.size(); ++i)
            items_[fill[static_cast<std::size_t>(index(points[i]))]++] = i;
    }

    /// The k nearest points to p within [x0, x1) x [y0, y1), nearest first.
    void nearest(const XY& p, std::size_t k, double x0, double y0, double x1, double y1,
                 std::vector<std::pair<double, std::uint32_t>>& out) const {
        out.clear();
        const int cx = column(p.x), cy = column(p.y);
        const int lo_x = column(x0), hi_x = column(x1 - 1e-6), lo_y = column(y0), hi_y = column(y1 - 1e-6);
        const int rings = std::max({cx - lo_x, hi_x - cx, cy - lo_y, hi_y - cy});
        for (int r = 0; r <= rings; ++r) {
            for (int gx = std::max(lo_x, cx - r); gx <= std::min(hi_x, cx + r); ++gx)
                for (int gy = std::max(lo_y, cy - r); gy <= std::min(hi_y, cy + r); ++gy) {
                    if (std::max(std::abs(gx - cx), std::abs(gy - cy)) != r) continue;
                    const auto c = static_cast<std::size_t>(gx * side_ + gy);
                    for (std::uint32_t n = offset_[c]; n < offset_[c + 1]; ++n) {
                        const XY& q = points_[items_[n]];
                        if (q.x < x0 || q.x >= x1 || q.y < y0 || q.y >= y1) continue;
                        out.emplace_back(std::hypot(q.x - p.x, q.y - p.y), items_[n]);
                    }
                }
            // Everything beyond ring r is at least r cells away.
            if (out.size() >= k) {
                std::nth_element(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(k - 1), out.end());
                if (out[k - 1].first <= r * cell_) break;
            }
        }
        std::sort(out.begin(), out.end());
        if (out.size() > k) out.resize(k);
    }

private:
    const std::vector<XY>& points_;
    double cell_;
    int side_ = 0;
    std::vector<std::uint32_t> offset_, items_;

    [[nodiscard]] int column(double v) const { return std::clamp(static_cast<int>(v / cell_), 0, side_ - 1); }
    [[nodiscard]] int index(const XY& p) const { return column(p.x) * side_ + column(p.y); }
};

struct Points {
    std::vector<XY> consumers, workers;
};
const Points& points() {
    static const Points built = [] {
        std::mt19937_64 random(2024);
        Points out;
        out.consumers = city_points(random, kConsumers);
        out.workers = city_points(random, kSuppliers);
        return out;
    }();
    return built;
}

/// Workers to micro-grids: supply 1-2 (`tight`: 1 each, 46,000 units for 41,000 demands); arcs to
/// the 8 nearest workers within the consumer's cell of a 10 x 10 partition, or anywhere (`giant`).
algorithms::TransportProblem workers(bool giant, bool tight) {
    const Points& p = points();
    algorithms::TransportProblem problem;
    std::mt19937_64 random(7);
    std::uniform_int_distribution<std::int64_t> max_grids(1, tight ? 1 : 2);
    problem.supply.resize(kSuppliers);
    for (auto& s : problem.supply) s = max_grids(random);
    problem.demand.assign(kConsumers, 1);
    const GridIndex index(p.workers, 250);
    constexpr double kPart = kSide / 10;
    std::vector<std::pair<double, std::uint32_t>> near;
    for (std::uint32_t j = 0; j < kConsumers; ++j) {
        const XY& c = p.consumers[j];
        const double x0 = giant ? 0 : std::floor(c.x / kPart) * kPart, y0 = giant ? 0 : std::floor(c.y / kPart) * kPart;
        const double x1 = giant ? kSide : x0 + kPart, y1 = giant ? kSide : y0 + kPart;
        index.nearest(c, 8, x0, y0, x1, y1, near);
        for (const auto& [d, i] : near) problem.arcs.push_back({i, j, d});
    }
    return problem;
}

/// Micro-grids to the stations of one utility: demand 40-130 households, `count` stations holding
/// 1.1x the total, arcs to the 6 nearest stations.
algorithms::TransportProblem stations(std::uint32_t count) {
    const Points& p = points();
    std::mt19937_64 random(count);
    const std::vector<XY> sites = city_points(random, count);
    algorithms::TransportProblem problem;
    std::uniform_int_distribution<std::int64_t> households(40, 130);
    problem.demand.resize(kConsumers);
    for (auto& d : problem.demand) d = households(random);
    const auto total = std::accumulate(problem.demand.begin(), problem.demand.end(), std::int64_t{0});
    problem.supply.assign(count, total * 11 / 10 / count);
    const GridIndex index(sites, 1'000);
    std::vector<std::pair<double, std::uint32_t>> near;
    for (std::uint32_t j = 0; j < kConsumers; ++j) {
        index.nearest(p.consumers[j], 6, 0, 0, kSide, kSide, near);
        for (const auto& [d, i] : near) problem.arcs.push_back({i, j, d});
    }
    return problem;
}

void run(benchmark::State& state, algorithms::TransportProblem problem, int threads, std::int64_t method) {
    problem.threads = threads;
    problem.method = method == 1 ? algorithms::TransportMethod::network_simplex
                                 : algorithms::TransportMethod::successive_shortest_paths;
    algorithms::TransportSolution solution;
    for (auto _ : state) {
        solution = algorithms::solve_transport(problem);
        benchmark::DoNotOptimize(solution.cost);
    }
    std::int64_t unmet = 0;
    for (const std::int64_t u : solution.unmet) unmet += u;
    // Consumers served by more than one supplier (a micro-grid split between stations).
    std::vector<int> sources(problem.demand.size(), 0);
    for (std::size_t a = 0; a < problem.arcs.size(); ++a)
        if (solution.flow[a] > 0) ++sources[problem.arcs[a].consumer];
    state.counters["split"] =
        static_cast<double>(std::count_if(sources.begin(), sources.end(), [](int n) { return n > 1; }));
    state.counters["consumers"] = static_cast<double>(problem.demand.size());
    state.counters["suppliers"] = static_cast<double>(problem.supply.size());
    state.counters["arcs"] = static_cast<double>(problem.arcs.size());
    state.counters["components"] = static_cast<double>(solution.components);
    state.counters["shipped"] = static_cast<double>(solution.shipped);
    state.counters["unmet"] = static_cast<double>(unmet);
    state.counters["cost_km"] = solution.cost / 1000;
}

void BM_TransportCells(benchmark::State& state) {
    static const auto problem = workers(false, false);
    run(state, problem, static_cast<int>(state.range(0)), state.range(1));
}
void BM_TransportGiant(benchmark::State& state) {
    static const auto problem = workers(true, false);
    run(state, problem, 1, state.range(0));
}
void BM_TransportGiantTight(benchmark::State& state) {
    static const auto problem = workers(true, true);
    run(state, problem, 1, state.range(0));
}
void BM_TransportStations(benchmark::State& state) {
    run(state, stations(static_cast<std::uint32_t>(state.range(0))), 1, state.range(1));
}

BENCHMARK(BM_TransportCells)
    ->ArgNames({"threads", "method"})
    ->ArgsProduct({{1, 2}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_TransportGiant)->ArgName("method")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TransportGiantTight)->ArgName("method")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TransportStations)
    ->ArgNames({"stations", "method"})
    ->ArgsProduct({{500, 2'000}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
