// Contiguous, weight-balanced partitioning of a connected graph into exactly k non-empty parts.
#pragma once

#include <civgrid/types.hpp>

#include <cstdint>
#include <vector>

namespace civgrid::algorithms {

/// An undirected graph in compressed sparse row form; every edge is stored in both directions.
struct WeightedGraph {
    std::vector<std::int64_t> node_weight;  ///< households per node (>= 0)
    std::vector<Point> location;            ///< node position, metres
    std::vector<std::uint32_t> offsets;     ///< size nodes + 1; neighbours of v: [offsets[v], offsets[v+1])
    std::vector<std::uint32_t> neighbours;
    std::vector<double> shared_length;       ///< per directed edge: boundary length shared (metres, > 0)
    std::vector<std::uint8_t> crosses_soft;  ///< per directed edge: 1 when it crosses a soft barrier
    /// Optional (empty = unknown), per node: the cell's area (m²) and the length of its boundary
    /// shared with no neighbour in the graph (metres: outline, barriers, empty land, nodes outside
    /// an induced subgraph). With them a part's perimeter and area are known, and refinement
    /// raises the parts' Polsby-Popper compactness within the balance window.
    std::vector<double> area;
    std::vector<double> outer_length;

    [[nodiscard]] bool has_shapes() const noexcept {
        return area.size() == node_count() && outer_length.size() == node_count() && node_count() > 0;
    }

    [[nodiscard]] std::size_t node_count() const noexcept { return node_weight.size(); }
};

/// Builds the CSR form from an undirected edge list (u, v, shared length, crosses soft barrier).
/// Duplicate edges are merged (lengths added); self loops are dropped.
struct EdgeInput {
    std::uint32_t u = 0, v = 0;
    double shared_length = 0;
    bool crosses_soft = false;
};
[[nodiscard]] WeightedGraph make_graph(std::vector<std::int64_t> node_weight, std::vector<Point> location,
                                       std::vector<EdgeInput> edges);

struct GraphPartitionOptions {
    int spanning_tree_trials = 4;      ///< random spanning trees tried per bisection
    int refinement_passes = 12;        ///< boundary-move passes after bisection
    double soft_barrier_weight = 1.0;  ///< extra tree cost of crossing a soft barrier (cuts follow them)
    /// Balance bounds refinement pushes parts into before anything else (0 = none), and a hard
    /// minimum it treats as far worse than any other imbalance (0 = none). Households.
    double lower_bound = 0, upper_bound = 0, hard_minimum = 0;
    /// Weight of the cut length a refinement move adds, in parts' boundaries, against squared
    /// relative balance: higher makes parts more compact at some cost in balance (0 = balance only).
    double compactness = 0.6;
    /// Straight-line cuts tried per bisection besides the trees, in directions spread from the
    /// principal axis; taken when both sides are connected and the cut is shorter (0 = none).
    int sweep_directions = 12;
    /// Households a part must hold to count as balanced (the quality report's +-10 % of the
    /// region's target), 0 = none: refinement never takes a part out of this window, and a move
    /// that brings one in is taken whatever it costs in compactness.
    double window_low = 0, window_high = 0;
    /// Rounds of regrowing the parts from their centres (a balanced graph Voronoi diagram, then
    /// refinement); the result replaces the bisection's when it scores better (0 = bisection only).
    int growth_rounds = 2;
    /// Compactness from the parts' shapes (needs WeightedGraph::area and outer_length and a
    /// window): passes of boundary moves, swaps and two-move chains that raise the sum of the
    /// parts' Polsby-Popper compactness (4 pi area / perimeter²) without taking a part out of the
    /// window, further outside it or further beyond the bounds (0 = none).
    int shape_passes = 8;
    /// Then neighbouring pairs of parts are split again the best way among the straight cuts
    /// across the pair in `shape_sweeps` directions (each prefix of its nodes in order along a
    /// direction one side) and the 2^n divisions of the n nodes nearest their common boundary
    /// (n = shape_free_nodes, at most 16), under the same constraints; moves and swaps follow
    /// beside the pairs changed. Both 0: no re-splitting.
    int shape_free_nodes = 4;
    int shape_sweeps = 8;
    /// Then each part less compact than `shape_triples_below` (Polsby-Popper) is split again
    /// with two neighbours that touch each other: one of the three cut off across a line in one
    /// of `shape_triple_cuts` directions (over the full turn), the rest cut in two across a line
    /// in one of `shape_sweeps` directions, under the same constraints. Either 0: none.
    double shape_triples_below = 0.6;
    int shape_triple_cuts = 16;
    /// With groups (improve_grouped_shapes), triples across groups for parts less compact than
    /// this (triples inside a group were split before): fewer, since they cost as many again.
    double shape_triples_across_below = 0.5;
};

/// Splits a CONNECTED graph into `parts` connected parts, each holding weight, with node weights as
/// equal as the graph allows; returns the part of each node (0 .. parts-1). `parts` is clamped to
/// the number of nodes with weight (to the node count when none has any). Deterministic for a given seed. O(n log n *
/// trials * log parts). With a window and balance bounds, a graph whose average per part lies outside the window
/// while every part could keep the bounds is partitioned a second time towards the plan that keeps the bounds with
/// the most parts within the window (some parts at its near edge, the rest within the bounds); that partition is
/// kept when it is no worse on any count and better on one (beyond the bounds, parts outside the window,
/// compactness).
[[nodiscard]] std::vector<int> partition_connected_graph(const WeightedGraph& graph, int parts, std::uint64_t seed,
                                                         const GraphPartitionOptions& options = {});

/// The same with unequal parts: part p gets a share of the weight proportional to units[p] (a grid
/// of 5 micro-grids weighs 5/4 of one of 4). Parts beyond the number of weighted nodes are dropped.
[[nodiscard]] std::vector<int> partition_connected_graph(const WeightedGraph& graph, const std::vector<int>& units,
                                                         std::uint64_t seed, const GraphPartitionOptions& options = {});

/// The same with each part's share of the weight given apart: part p needs a weighted node per
/// unit (units[p]) and gets shares[p] / (the sum of shares) of the weight (a grid holding a
/// window plan's part beyond the bounds weighs more than its micro-grids' count says). Shares not
/// one positive number per unit: as by units.
[[nodiscard]] std::vector<int> partition_connected_graph(const WeightedGraph& graph, const std::vector<int>& units,
                                                         const std::vector<double>& shares, std::uint64_t seed,
                                                         const GraphPartitionOptions& options = {});

/// The refinement partition_connected_graph ends with, alone, on a given partition of `graph`
/// (parts numbered 0..parts-1, each connected and holding weight, equal targets, or where the average
/// lies outside the window the plan above, its edge targets going to the parts nearest the window's
/// edge): boundary moves and, with a window, chains of moves that bring parts into it (and, under a
/// plan, parts beyond the bounds back within them), then (with the graph's shapes) the compactness
/// stage. Parts stay connected and non-empty; none leaves the window.
void refine_partition(const WeightedGraph& graph, std::vector<int>& part, const GraphPartitionOptions& options);

/// The compactness stage alone (moves, swaps, two-move chains, pairs split again) on a given
/// partition of `graph` (parts numbered 0..parts-1, each connected and holding weight) whose parts
/// are grouped: part p belongs to group part_group[p] (micro-grids in their grids). Moves between
/// parts of one group are as in refine_partition; a move between groups is taken only when every
/// group stays connected. Needs the graph's shapes and a window (else does nothing); parts stay
/// connected and non-empty, none leaves the window or goes further beyond the bounds.
void improve_grouped_shapes(const WeightedGraph& graph, std::vector<int>& part, const std::vector<int>& part_group,
                            const GraphPartitionOptions& options);

/// Connected components (component index per node, numbered by smallest node).
/// Hand-made rather than Boost.Graph's connected_components: on the graph already in CSR form it is
/// 6 times faster than Boost's with its CSR graph built (bench: BM_ConnectedComponents).
[[nodiscard]] std::vector<int> connected_components(const WeightedGraph& graph, int* component_count = nullptr);

/// True when the nodes with part == p induce a connected subgraph, for every p.
[[nodiscard]] bool parts_are_connected(const WeightedGraph& graph, const std::vector<int>& part);

}  // namespace civgrid::algorithms
