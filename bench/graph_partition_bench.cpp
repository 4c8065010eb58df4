// The pure graph partitioner on grid graphs of growing size, 83 households per part. side:640
// (409,600 nodes, ~44k parts) is the whole city's size as one region; it runs once (about 8 s) and
// `bench/run_benchmarks.py --quick` leaves it out.
#include <civgrid/algorithms/graph_partition.hpp>

#include <benchmark/benchmark.h>
#include <boost/graph/compressed_sparse_row_graph.hpp>
#include <boost/graph/connected_components.hpp>

#include <utility>
#include <vector>

namespace {

using namespace civgrid;

algorithms::WeightedGraph grid_graph(int side) {
    std::vector<std::int64_t> weights;
    std::vector<Point> location;
    std::vector<algorithms::EdgeInput> edges;
    for (int y = 0; y < side; ++y)
        for (int x = 0; x < side; ++x) {
            const auto v = static_cast<std::uint32_t>(y * side + x);
            weights.push_back(1 + (x * 7 + y * 13) % 17);
            location.push_back({static_cast<double>(x), static_cast<double>(y)});
            if (x + 1 < side) edges.push_back({v, v + 1, 1.0, false});
            if (y + 1 < side) edges.push_back({v, v + static_cast<std::uint32_t>(side), 1.0, false});
        }
    return algorithms::make_graph(std::move(weights), std::move(location), std::move(edges));
}

void BM_PartitionGridGraph(benchmark::State& state) {
    const auto graph = grid_graph(static_cast<int>(state.range(0)));
    double total = 0;
    for (std::int64_t w : graph.node_weight) total += static_cast<double>(w);
    const int parts = std::max(1, static_cast<int>(total / 83));
    for (auto _ : state) benchmark::DoNotOptimize(algorithms::partition_connected_graph(graph, parts, 1));
    state.counters["nodes"] = static_cast<double>(graph.node_count());
    state.counters["parts"] = parts;
}
BENCHMARK(BM_PartitionGridGraph)
    ->ArgName("side")
    ->Arg(16)
    ->Arg(64)
    ->Arg(256)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_PartitionGridGraph)
    ->ArgName("side")
    ->Arg(640)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Connected components of a graph: our depth-first search on the partitioner's own CSR graph
// (method:0) against Boost.Graph's connected_components, its CSR graph built from the same edges
// (method:1, the construction timed too: the partitioner's graph is not a Boost graph). Issue 18
// keeps a hand-made graph algorithm only with a benchmark that shows why. The grid is cut into
// strips by dropping every 64th row of vertical edges, so there are several components.
void BM_ConnectedComponents(benchmark::State& state) {
    const int side = static_cast<int>(state.range(0));
    std::vector<std::int64_t> weights(static_cast<std::size_t>(side) * side, 1);
    std::vector<Point> location(weights.size());
    std::vector<algorithms::EdgeInput> edges;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> pairs;
    for (int y = 0; y < side; ++y)
        for (int x = 0; x < side; ++x) {
            const auto v = static_cast<std::uint32_t>(y * side + x);
            if (x + 1 < side) edges.push_back({v, v + 1, 1.0, false});
            if (y + 1 < side && (y + 1) % 64 != 0)
                edges.push_back({v, v + static_cast<std::uint32_t>(side), 1.0, false});
        }
    for (const auto& e : edges) pairs.emplace_back(e.u, e.v), pairs.emplace_back(e.v, e.u);
    const auto graph = algorithms::make_graph(weights, location, edges);
    int components = 0;
    if (state.range(1) == 0) {
        for (auto _ : state) benchmark::DoNotOptimize(algorithms::connected_components(graph, &components));
    } else {
        using Csr = boost::compressed_sparse_row_graph<boost::directedS>;
        for (auto _ : state) {
            const Csr boost_graph(boost::edges_are_unsorted_multi_pass, pairs.begin(), pairs.end(), weights.size());
            std::vector<int> component(weights.size());
            // The undirected components of a symmetric directed graph: each edge is stored both ways.
            components = static_cast<int>(boost::connected_components(
                boost_graph,
                boost::make_iterator_property_map(component.begin(), get(boost::vertex_index, boost_graph))));
            benchmark::DoNotOptimize(component.data());
        }
    }
    state.counters["nodes"] = static_cast<double>(weights.size());
    state.counters["components"] = components;
}
BENCHMARK(BM_ConnectedComponents)
    ->ArgNames({"side", "method"})
    ->ArgsProduct({{256, 640}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
