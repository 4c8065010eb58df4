#include <civgrid/algorithms/transport.hpp>
#include <civgrid/error.hpp>

#include <test_support.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <random>

namespace civgrid::algorithms {
namespace {

struct Optimum {
    std::int64_t shipped = 0;
    double cost = 0;
};

bool close(double a, double b) {
    return std::abs(a - b) <= 1e-9 * (1 + std::abs(a) + std::abs(b));
}

// Exhaustive search over integer flows: consumers one at a time, every split of a consumer's
// demand over its arcs (duplicates included), memoised on the suppliers' remaining supplies.
// Best = most shipped, then least cost. For tiny instances only (supplies <= 7, <= 6 suppliers).
Optimum brute_force(const TransportProblem& problem) {
    const std::size_t suppliers = problem.supply.size(), consumers = problem.demand.size();
    std::vector<std::vector<const TransportArc*>> arcs_of(consumers);
    for (const TransportArc& arc : problem.arcs) arcs_of[arc.consumer].push_back(&arc);
    std::map<std::pair<std::size_t, std::vector<std::int64_t>>, Optimum> memo;
    const auto better = [](const Optimum& a, const Optimum& b) {
        return a.shipped != b.shipped ? a.shipped > b.shipped : a.cost < b.cost - 1e-12;
    };
    std::function<Optimum(std::size_t, std::vector<std::int64_t>&)> best_from;
    best_from = [&](std::size_t j, std::vector<std::int64_t>& left) -> Optimum {
        if (j == consumers) return {};
        const auto key = std::make_pair(j, left);
        if (const auto it = memo.find(key); it != memo.end()) return it->second;
        Optimum best{-1, 0};
        // Split up to demand[j] units over the arcs of j, arc by arc.
        std::function<void(std::size_t, std::int64_t, Optimum)> split = [&](std::size_t a, std::int64_t wanted,
                                                                            Optimum so_far) {
            if (a == arcs_of[j].size()) {
                const Optimum rest = best_from(j + 1, left);
                const Optimum total{so_far.shipped + rest.shipped, so_far.cost + rest.cost};
                if (best.shipped < 0 || better(total, best)) best = total;
                return;
            }
            const TransportArc& arc = *arcs_of[j][a];
            const std::int64_t most = std::min(wanted, left[arc.supplier]);
            for (std::int64_t x = 0; x <= most; ++x) {
                left[arc.supplier] -= x;
                split(a + 1, wanted - x, {so_far.shipped + x, so_far.cost + static_cast<double>(x) * arc.cost});
                left[arc.supplier] += x;
            }
        };
        split(0, problem.demand[j], {});
        memo[key] = best;
        return best;
    };
    std::vector<std::int64_t> left = problem.supply;
    EXPECT_LE(suppliers, 6u);
    return best_from(0, left);
}

// An independent min-cost max-flow: successive shortest paths found by Bellman-Ford (queue-based)
// on the explicit network S -> suppliers -> consumers -> T, every arc stored with its reverse.
Optimum reference(const TransportProblem& problem) {
    struct Edge {
        std::size_t to;
        std::int64_t capacity;
        double cost;
    };
    const std::size_t suppliers = problem.supply.size(), consumers = problem.demand.size();
    const std::size_t source = suppliers + consumers, sink = source + 1, nodes = sink + 1;
    std::vector<Edge> edges;
    std::vector<std::vector<std::size_t>> out(nodes);
    const auto add = [&](std::size_t from, std::size_t to, std::int64_t capacity, double cost) {
        out[from].push_back(edges.size());
        edges.push_back({to, capacity, cost});
        out[to].push_back(edges.size());
        edges.push_back({from, 0, -cost});
    };
    for (std::size_t i = 0; i < suppliers; ++i) add(source, i, problem.supply[i], 0);
    for (std::size_t j = 0; j < consumers; ++j) add(suppliers + j, sink, problem.demand[j], 0);
    for (const TransportArc& arc : problem.arcs)
        add(arc.supplier, suppliers + arc.consumer, std::numeric_limits<std::int64_t>::max() / 4, arc.cost);
    Optimum result;
    std::vector<double> dist(nodes);
    std::vector<std::size_t> via(nodes);
    std::vector<char> queued(nodes);
    std::deque<std::size_t> queue;
    for (;;) {
        std::fill(dist.begin(), dist.end(), std::numeric_limits<double>::infinity());
        std::fill(queued.begin(), queued.end(), 0);
        dist[source] = 0;
        queue.assign(1, source);
        while (!queue.empty()) {
            const std::size_t u = queue.front();
            queue.pop_front();
            queued[u] = 0;
            for (const std::size_t e : out[u])
                if (edges[e].capacity > 0 && dist[u] + edges[e].cost < dist[edges[e].to] - 1e-9) {
                    dist[edges[e].to] = dist[u] + edges[e].cost;
                    via[edges[e].to] = e;
                    if (!queued[edges[e].to]) {
                        queued[edges[e].to] = 1;
                        queue.push_back(edges[e].to);
                    }
                }
        }
        if (std::isinf(dist[sink])) return result;
        std::int64_t delta = std::numeric_limits<std::int64_t>::max();
        for (std::size_t v = sink; v != source; v = edges[via[v] ^ 1].to)
            delta = std::min(delta, edges[via[v]].capacity);
        for (std::size_t v = sink; v != source; v = edges[via[v] ^ 1].to) {
            edges[via[v]].capacity -= delta;
            edges[via[v] ^ 1].capacity += delta;
        }
        result.shipped += delta;
        result.cost += static_cast<double>(delta) * dist[sink];
    }
}

// Everything a solution must satisfy whatever its cost: sizes, bounds, conservation, totals, and
// flow only on the cheapest of duplicate arcs.
void expect_feasible(const TransportProblem& problem, const TransportSolution& solution) {
    ASSERT_EQ(solution.flow.size(), problem.arcs.size());
    ASSERT_EQ(solution.unmet.size(), problem.demand.size());
    std::vector<std::int64_t> given(problem.supply.size(), 0), received(problem.demand.size(), 0);
    std::map<std::pair<std::uint32_t, std::uint32_t>, double> cheapest;
    for (const TransportArc& arc : problem.arcs) {
        const auto [it, inserted] = cheapest.emplace(std::make_pair(arc.supplier, arc.consumer), arc.cost);
        if (!inserted) it->second = std::min(it->second, arc.cost);
    }
    std::int64_t shipped = 0;
    double cost = 0;
    for (std::size_t a = 0; a < problem.arcs.size(); ++a) {
        const TransportArc& arc = problem.arcs[a];
        EXPECT_GE(solution.flow[a], 0) << "arc " << a;
        if (solution.flow[a] > 0) {
            EXPECT_EQ(arc.cost, cheapest[std::make_pair(arc.supplier, arc.consumer)]) << "arc " << a;
        }
        given[arc.supplier] += solution.flow[a];
        received[arc.consumer] += solution.flow[a];
        shipped += solution.flow[a];
        cost += static_cast<double>(solution.flow[a]) * arc.cost;
    }
    for (std::size_t i = 0; i < problem.supply.size(); ++i) EXPECT_LE(given[i], problem.supply[i]) << "supplier " << i;
    for (std::size_t j = 0; j < problem.demand.size(); ++j) {
        EXPECT_GE(solution.unmet[j], 0) << "consumer " << j;
        EXPECT_EQ(received[j] + solution.unmet[j], problem.demand[j]) << "consumer " << j;
    }
    EXPECT_EQ(solution.shipped, shipped);
    EXPECT_TRUE(close(solution.cost, cost)) << solution.cost << " vs " << cost;
}

TransportProblem random_small(std::mt19937_64& random, bool integer_costs) {
    TransportProblem problem;
    std::uniform_int_distribution<int> suppliers(1, 4), consumers(1, 5), units(0, 3);
    std::uniform_real_distribution<double> unit(0, 1);
    problem.supply.resize(static_cast<std::size_t>(suppliers(random)));
    problem.demand.resize(static_cast<std::size_t>(consumers(random)));
    for (auto& s : problem.supply) s = units(random);
    for (auto& d : problem.demand) d = units(random);
    const auto cost = [&] { return integer_costs ? std::floor(unit(random) * 10) : unit(random) * 100; };
    for (std::uint32_t i = 0; i < problem.supply.size(); ++i)
        for (std::uint32_t j = 0; j < problem.demand.size(); ++j) {
            if (unit(random) < 0.6) problem.arcs.push_back({i, j, cost()});
            if (unit(random) < 0.1) problem.arcs.push_back({i, j, cost()});  // a duplicate (or the only arc)
        }
    std::shuffle(problem.arcs.begin(), problem.arcs.end(), random);
    return problem;
}

// Points on a square with arcs from each consumer to its `k` nearest suppliers inside the same
// cell of a cells x cells partition (one component per cell at most).
TransportProblem random_city(std::uint64_t seed, std::uint32_t consumers, std::uint32_t suppliers, int cells,
                             std::size_t k, int max_supply, int max_demand) {
    std::mt19937_64 random(seed);
    std::uniform_real_distribution<double> coordinate(0, 1000);
    std::uniform_int_distribution<int> supply(0, max_supply), demand(0, max_demand);
    TransportProblem problem;
    struct P {
        double x, y;
    };
    std::vector<P> s(suppliers), c(consumers);
    for (auto& p : s) p = {coordinate(random), coordinate(random)};
    for (auto& p : c) p = {coordinate(random), coordinate(random)};
    for (std::uint32_t i = 0; i < suppliers; ++i) problem.supply.push_back(supply(random));
    for (std::uint32_t j = 0; j < consumers; ++j) problem.demand.push_back(demand(random));
    const auto cell = [&](const P& p) {
        return std::min(cells - 1, static_cast<int>(p.x * cells / 1000)) * cells +
               std::min(cells - 1, static_cast<int>(p.y * cells / 1000));
    };
    std::vector<std::pair<double, std::uint32_t>> near;
    for (std::uint32_t j = 0; j < consumers; ++j) {
        near.clear();
        for (std::uint32_t i = 0; i < suppliers; ++i)
            if (cell(s[i]) == cell(c[j])) near.emplace_back(std::hypot(s[i].x - c[j].x, s[i].y - c[j].y), i);
        std::sort(near.begin(), near.end());
        for (std::size_t n = 0; n < std::min(k, near.size()); ++n)
            problem.arcs.push_back({near[n].second, j, near[n].first});
    }
    return problem;
}

// Every test runs with both methods: they must agree with the brute force, the independent
// reference and each other's exact answers.
class Transport : public ::testing::TestWithParam<TransportMethod> {
protected:
    [[nodiscard]] TransportSolution solve(TransportProblem problem) const {
        problem.method = GetParam();
        const TransportSolution solution = solve_transport(problem);
        EXPECT_EQ(solution.fallbacks, 0u);  // everyday costs never need the fallback
        return solution;
    }
};

TEST_P(Transport, MatchesBruteForceOnSmallRandomInstances) {
    std::mt19937_64 random(11);
    for (int instance = 0; instance < 400; ++instance) {
        const TransportProblem problem = random_small(random, instance % 2 == 0);
        const TransportSolution solution = solve(problem);
        const Optimum best = brute_force(problem);
        SCOPED_TRACE("instance " + std::to_string(instance));
        expect_feasible(problem, solution);
        EXPECT_EQ(solution.shipped, best.shipped);
        EXPECT_TRUE(close(solution.cost, best.cost)) << solution.cost << " vs " << best.cost;
    }
}

TEST_P(Transport, MatchesIndependentSolverOnMediumRandomInstances) {
    // Sparse, multi-unit, sometimes short of supply, several components: against Bellman-Ford SSP.
    for (std::uint64_t seed = 1; seed <= 30; ++seed) {
        const auto consumers = static_cast<std::uint32_t>(20 + seed * 3),
                   suppliers = static_cast<std::uint32_t>(15 + seed * 2);
        const TransportProblem problem = random_city(seed, consumers, suppliers, 1 + static_cast<int>(seed % 3),
                                                     1 + seed % 4, 3, 2 + static_cast<int>(seed % 3));
        const TransportSolution solution = solve(problem);
        const Optimum best = reference(problem);
        SCOPED_TRACE("seed " + std::to_string(seed));
        expect_feasible(problem, solution);
        EXPECT_EQ(solution.shipped, best.shipped);
        EXPECT_TRUE(close(solution.cost, best.cost)) << solution.cost << " vs " << best.cost;
    }
}

TEST_P(Transport, MatchesIndependentSolverWithLargeCapacities) {
    // Utility stations: few suppliers with large capacities, consumers wanting tens of units, some
    // short of reachable capacity.
    for (std::uint64_t seed = 1; seed <= 8; ++seed) {
        std::mt19937_64 random(seed);
        const auto consumers = static_cast<std::uint32_t>(60 * seed),
                   stations = static_cast<std::uint32_t>(4 + 3 * seed);
        TransportProblem problem = random_city(seed, consumers, stations, 1, 2 + seed % 3, 0, 0);
        std::uniform_int_distribution<int> households(40, 120), capacity(300, 1800);
        for (auto& d : problem.demand) d = households(random);
        for (auto& s : problem.supply) s = capacity(random);
        const TransportSolution solution = solve(problem);
        const Optimum best = reference(problem);
        SCOPED_TRACE("seed " + std::to_string(seed));
        expect_feasible(problem, solution);
        EXPECT_EQ(solution.shipped, best.shipped);
        EXPECT_TRUE(close(solution.cost, best.cost)) << solution.cost << " vs " << best.cost;
    }
}

TEST_P(Transport, MatchesIndependentSolverOnOneLargeComponent) {
    // Workers and micro-grids as one component: 1,500 consumers of demand 0-2, 1,400 suppliers of
    // supply 0-2, 6 candidates each; shortages in places, spare supply in others.
    const TransportProblem problem = random_city(17, 1500, 1400, 1, 6, 2, 2);
    const TransportSolution solution = solve(problem);
    const Optimum best = reference(problem);
    expect_feasible(problem, solution);
    EXPECT_EQ(solution.shipped, best.shipped);
    EXPECT_TRUE(close(solution.cost, best.cost)) << solution.cost << " vs " << best.cost;
    EXPECT_LT(solution.shipped, std::accumulate(problem.demand.begin(), problem.demand.end(), std::int64_t{0}));
}

TEST_P(Transport, BeatsGreedyNearestFirst) {
    // Greedy by cost: X-A (1), then Y must take B (100): 101. Optimal: X-B (2) + Y-A (2) = 4.
    TransportProblem problem;
    problem.supply = {1, 1};  // A, B
    problem.demand = {1, 1};  // X, Y
    problem.arcs = {{0, 0, 1}, {1, 0, 2}, {0, 1, 2}, {1, 1, 100}};
    const TransportSolution solution = solve(problem);
    expect_feasible(problem, solution);
    EXPECT_EQ(solution.shipped, 2);
    EXPECT_DOUBLE_EQ(solution.cost, 4);
    EXPECT_EQ(solution.flow, (std::vector<std::int64_t>{0, 1, 1, 0}));
}

TEST_P(Transport, MaximumFlowComesBeforeCost) {
    // Y could be left out to save 1000, but the most shipped wins.
    TransportProblem problem;
    problem.supply = {1, 1};
    problem.demand = {1, 1};
    problem.arcs = {{0, 0, 1}, {0, 1, 1}, {1, 1, 1000}};
    const TransportSolution solution = solve(problem);
    expect_feasible(problem, solution);
    EXPECT_EQ(solution.shipped, 2);
    EXPECT_DOUBLE_EQ(solution.cost, 1001);
    EXPECT_EQ(solution.unmet, (std::vector<std::int64_t>{0, 0}));
}

TEST_P(Transport, ShortSupplyLeavesTheDearestDemandUnmet) {
    // One unit for two consumers: the nearer one (consumer 1, processed second) gets it.
    TransportProblem problem;
    problem.supply = {1};
    problem.demand = {1, 1};
    problem.arcs = {{0, 0, 10}, {0, 1, 1}};
    const TransportSolution solution = solve(problem);
    expect_feasible(problem, solution);
    EXPECT_EQ(solution.shipped, 1);
    EXPECT_DOUBLE_EQ(solution.cost, 1);
    EXPECT_EQ(solution.unmet, (std::vector<std::int64_t>{1, 0}));
}

TEST_P(Transport, InfeasibleDemandIsReportedExactly) {
    TransportProblem problem;
    problem.supply = {2, 1, 0, 5};  // supplier 2 has nothing, supplier 3 no arc
    problem.demand = {3, 2, 4, 0, 1};
    problem.arcs = {{0, 0, 5}, {0, 1, 1}, {1, 1, 2}, {2, 2, 0}, {1, 3, 1}};  // consumer 4 has no arc
    const TransportSolution solution = solve(problem);
    expect_feasible(problem, solution);
    // Suppliers 0 and 1 give 3 units to consumers 0 and 1 (demand 5); consumer 2 is reachable only
    // from an empty supplier, consumer 4 from nobody.
    EXPECT_EQ(solution.shipped, 3);
    EXPECT_EQ(solution.unmet[2], 4);
    EXPECT_EQ(solution.unmet[3], 0);
    EXPECT_EQ(solution.unmet[4], 1);
    EXPECT_EQ(solution.unmet[0] + solution.unmet[1], 2);
    // Cheapest way to ship 3: consumer 1 takes 1 from each (1 + 2), consumer 0 one more from 0 (5).
    EXPECT_DOUBLE_EQ(solution.cost, 8);
    EXPECT_EQ(solution.unmet[0], 2);
    EXPECT_EQ(solution.flow[2], 1);
    EXPECT_EQ(solution.flow[3], 0);
    EXPECT_EQ(solution.flow[4], 0);
}

TEST_P(Transport, DuplicateArcsKeepTheCheapest) {
    TransportProblem problem;
    problem.supply = {3};
    problem.demand = {2, 1};
    problem.arcs = {{0, 0, 7}, {0, 0, 3}, {0, 0, 3}, {0, 1, 4}, {0, 0, 9}};
    const TransportSolution solution = solve(problem);
    expect_feasible(problem, solution);
    // All of consumer 0's flow on the first of the two arcs of cost 3.
    EXPECT_EQ(solution.flow, (std::vector<std::int64_t>{0, 2, 0, 1, 0}));
    EXPECT_DOUBLE_EQ(solution.cost, 10);
    EXPECT_EQ(solution.components, 1u);
}

TEST_P(Transport, EmptyAndZeroInputs) {
    const TransportSolution empty = solve({});
    EXPECT_TRUE(empty.flow.empty());
    EXPECT_TRUE(empty.unmet.empty());
    EXPECT_EQ(empty.shipped, 0);
    EXPECT_EQ(empty.components, 0u);

    TransportProblem zeros;
    zeros.supply = {0, 4};
    zeros.demand = {0, 0, 2};
    zeros.arcs = {{0, 0, 1}, {1, 0, 1}, {0, 2, 0}, {1, 1, 3}};
    const TransportSolution solution = solve(zeros);
    expect_feasible(zeros, solution);
    EXPECT_EQ(solution.shipped, 0);
    EXPECT_EQ(solution.unmet, (std::vector<std::int64_t>{0, 0, 2}));
    EXPECT_EQ(solution.components, 0u);
}

TEST_P(Transport, ComponentsAreSolvedSeparately) {
    const TransportProblem problem = random_city(3, 400, 450, 4, 5, 2, 1);
    const TransportSolution solution = solve(problem);
    expect_feasible(problem, solution);
    EXPECT_GE(solution.components, 16u);  // 4 x 4 cells, some split further by empty suppliers
    const Optimum best = reference(problem);
    EXPECT_EQ(solution.shipped, best.shipped);
    EXPECT_TRUE(close(solution.cost, best.cost)) << solution.cost << " vs " << best.cost;
}

TEST_P(Transport, IdenticalForAnyThreadCount) {
    TransportProblem problem = random_city(5, 3000, 3300, 6, 8, 2, 1);
    problem.threads = 1;
    const TransportSolution one = solve(problem);
    problem.threads = 2;
    const TransportSolution two = solve(problem);
    problem.threads = 0;
    const TransportSolution all = solve(problem);
    expect_feasible(problem, one);
    EXPECT_GT(one.components, 30u);
    EXPECT_EQ(one.flow, two.flow);
    EXPECT_EQ(one.unmet, two.unmet);
    EXPECT_EQ(one.cost, two.cost);  // bitwise: the same flow summed in the same order
    EXPECT_EQ(one.flow, all.flow);
    EXPECT_EQ(one.cost, all.cost);
}

TEST_P(Transport, RejectsBadInput) {
    TransportProblem problem;
    problem.supply = {1};
    problem.demand = {1};
    problem.arcs = {{0, 0, 1}};
    auto bad = problem;
    bad.supply[0] = -1;
    EXPECT_CONTAINS(test::message_of<InputError>([&] { (void)solve(bad); }), "supplier 0 has a negative supply");
    bad = problem;
    bad.demand[0] = -2;
    EXPECT_CONTAINS(test::message_of<InputError>([&] { (void)solve(bad); }), "consumer 0 has a negative demand");
    bad = problem;
    bad.arcs.push_back({1, 0, 1});
    EXPECT_CONTAINS(test::message_of<InputError>([&] { (void)solve(bad); }), "arc 1 joins supplier 1");
    bad = problem;
    bad.arcs[0].cost = -1;
    EXPECT_CONTAINS(test::message_of<InputError>([&] { (void)solve(bad); }), "algorithms.transport: arc 0");
    bad.arcs[0].cost = std::numeric_limits<double>::quiet_NaN();
    EXPECT_CONTAINS(test::message_of<InputError>([&] { (void)solve(bad); }), "costs must be finite");
}

TEST(TransportFallback, WildCostRangesAreSolvedExactly) {
    // Costs from 1e-150 to 1e150 in one problem (corrupted coordinates in a workers layer): the
    // shortest paths' floating potentials break on many of them, and those components go to the
    // network simplex. Every answer must still ship the most possible, at the optimal cost up to
    // the documented precision (1e-12 of the largest cost per unit shipped: costs below that are
    // all alike to either method).
    std::mt19937_64 random(5);
    std::size_t fallbacks = 0;
    for (int instance = 0; instance < 1500; ++instance) {
        TransportProblem problem = random_small(random, false);
        std::uniform_real_distribution<double> exponent(-150, 150);
        for (TransportArc& arc : problem.arcs) arc.cost = std::pow(10.0, exponent(random));
        const TransportSolution solution = solve_transport(problem);
        const Optimum best = brute_force(problem);
        SCOPED_TRACE("instance " + std::to_string(instance));
        expect_feasible(problem, solution);
        EXPECT_EQ(solution.shipped, best.shipped);
        double largest = 0;
        for (const TransportArc& arc : problem.arcs) largest = std::max(largest, arc.cost);
        // (+1e-11: the brute force takes costs within 1e-12 of each other as equal.)
        EXPECT_LE(std::abs(solution.cost - best.cost), 1e-11 * largest * static_cast<double>(best.shipped) + 1e-11)
            << solution.cost << " vs " << best.cost;
        fallbacks += solution.fallbacks;
    }
    EXPECT_GE(fallbacks, 5u);  // the fallback really ran
}

INSTANTIATE_TEST_SUITE_P(Methods, Transport,
                         ::testing::Values(TransportMethod::successive_shortest_paths,
                                           TransportMethod::network_simplex),
                         [](const ::testing::TestParamInfo<TransportMethod>& method) {
                             return method.param == TransportMethod::network_simplex ? std::string("NetworkSimplex")
                                                                                     : std::string("ShortestPaths");
                         });

}  // namespace
}  // namespace civgrid::algorithms
