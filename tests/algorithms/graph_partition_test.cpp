#include <civgrid/algorithms/graph_partition.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace civgrid::algorithms {
namespace {

// A w x h grid graph with unit edge lengths and the given weights (row-major).
WeightedGraph grid_graph(int w, int h, std::vector<std::int64_t> weights) {
    std::vector<Point> location;
    std::vector<EdgeInput> edges;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            location.push_back({static_cast<double>(x), static_cast<double>(y)});
            const auto v = static_cast<std::uint32_t>(y * w + x);
            if (x + 1 < w) edges.push_back({v, v + 1, 1.0, false});
            if (y + 1 < h) edges.push_back({v, v + static_cast<std::uint32_t>(w), 1.0, false});
        }
    return make_graph(std::move(weights), std::move(location), std::move(edges));
}

std::vector<double> part_weights(const WeightedGraph& graph, const std::vector<int>& part, int parts) {
    std::vector<double> weights(static_cast<std::size_t>(parts), 0.0);
    for (std::size_t v = 0; v < part.size(); ++v)
        weights[static_cast<std::size_t>(part[v])] += static_cast<double>(graph.node_weight[v]);
    return weights;
}

TEST(GraphPartition, UniformGridGivesExactCountConnectedAndBalancedParts) {
    const WeightedGraph graph = grid_graph(30, 30, std::vector<std::int64_t>(900, 1));
    for (int parts : {2, 3, 7, 10, 25}) {
        const std::vector<int> part = partition_connected_graph(graph, parts, 7);
        ASSERT_EQ(*std::max_element(part.begin(), part.end()) + 1, parts);
        EXPECT_TRUE(parts_are_connected(graph, part)) << parts;
        const double ideal = 900.0 / parts;
        for (double w : part_weights(graph, part, parts))
            EXPECT_LE(std::abs(w - ideal) / ideal, 0.10) << parts << " parts, weight " << w;
    }
}

TEST(GraphPartition, RandomWeightsAlwaysConnectedAndNonEmpty) {
    for (std::uint64_t seed = 0; seed < 25; ++seed) {
        std::mt19937_64 random(seed);
        std::vector<std::int64_t> weights(400);
        for (auto& w : weights) w = static_cast<std::int64_t>(random() % 40);  // zeros included
        const WeightedGraph graph = grid_graph(20, 20, weights);
        const int parts = 3 + static_cast<int>(seed % 17);
        const std::vector<int> part = partition_connected_graph(graph, parts, seed);
        ASSERT_EQ(*std::max_element(part.begin(), part.end()) + 1, parts) << "seed " << seed;
        EXPECT_TRUE(parts_are_connected(graph, part)) << "seed " << seed;
        for (double w : part_weights(graph, part, parts)) EXPECT_GT(w, 0.0) << "seed " << seed;
    }
}

TEST(GraphPartition, SameSeedSameResult) {
    std::vector<std::int64_t> weights(600);
    for (std::size_t i = 0; i < weights.size(); ++i) weights[i] = static_cast<std::int64_t>(i * 7919 % 37);
    const WeightedGraph graph = grid_graph(30, 20, weights);
    EXPECT_EQ(partition_connected_graph(graph, 9, 42), partition_connected_graph(graph, 9, 42));
}

TEST(GraphPartition, StarAndPathGraphsStillGiveConnectedParts) {
    std::vector<EdgeInput> star_edges;
    for (std::uint32_t v = 1; v < 12; ++v) star_edges.push_back({0, v, 1.0, false});
    const WeightedGraph star = make_graph(std::vector<std::int64_t>(12, 5), std::vector<Point>(12), star_edges);
    const std::vector<int> star_part = partition_connected_graph(star, 4, 1);
    EXPECT_EQ(*std::max_element(star_part.begin(), star_part.end()) + 1, 4);
    EXPECT_TRUE(parts_are_connected(star, star_part));

    std::vector<EdgeInput> path_edges;
    for (std::uint32_t v = 0; v + 1 < 50; ++v) path_edges.push_back({v, v + 1, 1.0, false});
    const WeightedGraph path = make_graph(std::vector<std::int64_t>(50, 2), std::vector<Point>(50), path_edges);
    const std::vector<int> path_part = partition_connected_graph(path, 5, 1);
    EXPECT_TRUE(parts_are_connected(path, path_part));
    for (double w : part_weights(path, path_part, 5)) EXPECT_DOUBLE_EQ(w, 20.0);
}

TEST(GraphPartition, FewHeavyNodesAmongEmptyOnesNeverGiveAnEmptyPart) {
    // A 20 x 20 grid where only 12 scattered nodes hold households (towers given as points).
    std::vector<std::int64_t> weights(400, 0);
    for (int i = 0; i < 12; ++i) weights[static_cast<std::size_t>((i * 37 + 11) % 400)] = 150 + 20 * i;
    const WeightedGraph graph = grid_graph(20, 20, weights);
    for (std::uint64_t seed = 0; seed < 10; ++seed) {
        const std::vector<int> part = partition_connected_graph(graph, 30, seed);  // more parts than heavy nodes
        ASSERT_EQ(*std::max_element(part.begin(), part.end()) + 1, 12);
        EXPECT_TRUE(parts_are_connected(graph, part));
        for (double w : part_weights(graph, part, 12)) EXPECT_GT(w, 0.0) << "seed " << seed;
    }
}

TEST(GraphPartition, MoreRequestedPartsThanNodesIsClamped) {
    const WeightedGraph graph = grid_graph(2, 2, {1, 1, 1, 1});
    const std::vector<int> part = partition_connected_graph(graph, 10, 0);
    EXPECT_EQ(*std::max_element(part.begin(), part.end()) + 1, 4);
}

TEST(GraphPartition, ConnectedComponentsAreFound) {
    const WeightedGraph graph =
        make_graph({1, 1, 1, 1, 1}, std::vector<Point>(5), {{0, 1, 1, false}, {3, 4, 1, false}});
    int count = 0;
    const std::vector<int> component = connected_components(graph, &count);
    EXPECT_EQ(count, 3);
    EXPECT_EQ(component, (std::vector<int>{0, 0, 1, 2, 2}));
    EXPECT_FALSE(parts_are_connected(graph, {0, 0, 0, 0, 0}));
}

}  // namespace
}  // namespace civgrid::algorithms

namespace civgrid::algorithms {
namespace {

TEST(GraphPartition, UnequalUnitsGetProportionalWeight) {
    std::vector<std::int64_t> weights(40 * 40, 1);
    const WeightedGraph graph = grid_graph(40, 40, weights);
    const std::vector<int> units{1, 2, 3, 2};
    const std::vector<int> part = partition_connected_graph(graph, units, 5);
    ASSERT_TRUE(parts_are_connected(graph, part));
    const std::vector<double> got = part_weights(graph, part, 4);
    for (std::size_t p = 0; p < units.size(); ++p)
        EXPECT_NEAR(got[p], 1600.0 * units[p] / 8.0, 0.05 * 1600.0 * units[p] / 8.0) << "part " << p;
}

TEST(GraphPartition, ManyPartsDoNotPeelOneAtATime) {
    // 4,096 nodes into 400 parts: balanced bisection keeps this fast and even.
    std::vector<std::int64_t> weights(64 * 64, 1);
    const WeightedGraph graph = grid_graph(64, 64, weights);
    const std::vector<int> part = partition_connected_graph(graph, 400, 3);
    ASSERT_TRUE(parts_are_connected(graph, part));
    const std::vector<double> got = part_weights(graph, part, 400);
    const double target = 4096.0 / 400.0;
    int within_20 = 0;
    for (double w : got) within_20 += std::abs(w - target) <= 0.2 * target + 1 ? 1 : 0;
    EXPECT_GE(within_20, 380);
}

}  // namespace
}  // namespace civgrid::algorithms
