// Exact min-cost maximum flow for bipartite transportation problems on sparse candidate arcs:
// workers to micro-grids (supply = a worker's max_micro_grids, demand = 1 per micro-grid),
// micro-grids to utility stations (supply = capacity, demand = households).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace civgrid::algorithms {

/// A candidate arc: `supplier` may ship to `consumer` at `cost` per unit (>= 0 and finite; metres
/// in civgrid, but any unit works). Arcs have no capacity of their own.
struct TransportArc {
    std::uint32_t supplier = 0, consumer = 0;
    double cost = 0;
};

/// How each component is solved. Both are exact and give the same shipment and cost (up to ~1e-9
/// relative); which of equally good flows they pick may differ.
enum class TransportMethod {
    /// Our successive shortest paths (below), 2-4x faster than LEMON on civgrid's problems
    /// (bench/transport_bench.cpp times both in one run). A component whose potentials round-off
    /// breaks (costs spanning more than ~1e9 to 1) is solved again by the network simplex.
    successive_shortest_paths,
    /// LEMON 1.3's network simplex (Debian's liblemon-dev) on integer costs.
    network_simplex,
};

struct TransportProblem {
    std::vector<std::int64_t> supply;  ///< per supplier: most units it can give (>= 0)
    std::vector<std::int64_t> demand;  ///< per consumer: units it wants (>= 0)
    std::vector<TransportArc> arcs;    ///< candidate arcs; duplicates allowed (the cheapest is kept)
    int threads = 0;                   ///< 0 = all cores (TBB); results are identical for any count
    TransportMethod method = TransportMethod::successive_shortest_paths;
};

struct TransportSolution {
    /// Per input arc: units shipped on it. Of duplicate (supplier, consumer) arcs only the cheapest
    /// (the first of equally cheap ones) carries flow.
    std::vector<std::int64_t> flow;
    std::vector<std::int64_t> unmet;  ///< per consumer: demand left unserved
    std::int64_t shipped = 0;         ///< sum of flow
    double cost = 0;                  ///< sum of flow * cost, summed in arc order
    /// Connected components of the candidate graph that were solved (those with an arc and a
    /// consumer that wants something); consumers without arcs are not counted.
    std::size_t components = 0;
    /// Components that successive_shortest_paths handed to the network simplex (see TransportMethod).
    std::size_t fallbacks = 0;
};

/// Maximum shipment at minimum cost among maximum shipments (exact min-cost max-flow) on the
/// candidate arcs. Each connected component of the candidate graph is solved independently, in
/// parallel (`threads` <= 0: all cores); the result does not depend on the thread count.
///
/// Method: successive shortest paths with Johnson potentials. Each consumer in turn, until its
/// demand is met, grows a Dijkstra search (binary heap, reduced costs) backwards through the
/// residual graph until it reaches a supplier with spare supply, and the path is augmented by its
/// bottleneck. A search stops at the first such supplier and only the nodes it settled get new
/// potentials, so it costs about the neighbourhood it explores, not the component. Searches run
/// over suppliers only: for each pair of suppliers a lazy heap keeps the cheapest consumer to move
/// from one to the other, so a station serving many consumers is settled in O(its neighbours).
/// Leaving demand unmet is modelled as an implicit supplier whose arcs cost one unit of a
/// lexicographically higher order than every cost unit ("big M" without a numeric M): the result
/// is a maximum flow first and the cheapest of those second. Which of equally good consumers goes
/// unmet, and ties in general, follow consumer and arc order: the flow is deterministic. Reduced
/// costs that round-off makes slightly negative are clamped to 0 (the cost is optimal up to
/// ~1e-9 relative); a clearly negative one (costs spanning many orders of magnitude: 1e-150 to
/// 1e150 broke about 1 component in 100) sends the component to LEMON's network simplex, whose
/// integer costs cannot break that way: the answer is then a maximum flow, optimal to 1e-12 of the
/// largest cost per unit (`TransportSolution::fallbacks` counts such components).
///
/// Demands larger than 1 may be split between suppliers (a micro-grid between two stations); for
/// distinct costs the optimum is a vertex, with fewer split consumers than suppliers.
///
/// Measured (bench/transport_bench.cpp, one core unless said): 41,000 consumers of demand 1 and
/// 46,000 suppliers of supply 1-2, 8 candidates each: 40 ms as 100 components (23 ms on 2 threads),
/// 0.1 s as one component, 0.3 s as one with supply 1 each; 41,000 micro-grids of 40-130
/// households to 500 or 2,000 stations, 6 candidates each: 0.4-0.5 s. Time grows about linearly
/// with the candidates per consumer (3.3 s with 60 of 500 stations). LEMON 1.3's network simplex
/// on the same instances in the same run (6 December 2026, medians of 3): 97 / 52 ms against
/// 51 / 29 ms (1 / 2 threads), 548 against 127 ms, 596 against 522 ms, 1,430 and 856 against 576
/// and 573 ms: 1.1-4.3 times slower, so it is the fallback and the tests' second opinion only.
///
/// Throws civgrid::InputError for a negative supply or demand, an arc whose supplier or consumer is
/// out of range, or a negative or non-finite cost; civgrid::InternalError if an invariant breaks.
[[nodiscard]] TransportSolution solve_transport(const TransportProblem& problem);

}  // namespace civgrid::algorithms
