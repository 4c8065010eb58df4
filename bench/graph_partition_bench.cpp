// The pure graph partitioner on grid graphs of growing size, 83 households per part. side:640
// (409,600 nodes, ~44k parts) is the whole city's size as one region; it runs once (about 8 s) and
// `bench/run_benchmarks.py --quick` leaves it out.
#include <civgrid/algorithms/graph_partition.hpp>

#include <benchmark/benchmark.h>

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

}  // namespace
