// Min-cost maximum flow for bipartite transportation problems (see transport.hpp).
//
// Model. Nodes: a super source S joined to every supplier i (capacity supply[i], cost 0), the
// candidate arcs i -> j (uncapacitated, cost c_ij), and an implicit supplier U ("unmet") with
// unlimited supply joined to every consumer at cost (1, 0): costs are pairs (big, small) compared
// lexicographically, so one unit of unmet demand outranks any sum of metres. Every consumer then
// receives exactly its demand and the minimum-cost flow of this model is a maximum flow of the
// real arcs (fewest units from U) and, among those, the cheapest.
//
// Algorithm. Successive shortest paths with potentials pi (Johnson): every residual arc u -> v
// keeps a reduced cost c + pi(u) - pi(v) >= 0. Suppliers with spare supply and U are all "the
// source": their potential stays 0 (they are never settled), so reaching any of them is reaching
// S. Consumers are served one after another, each until its demand is met: a consumer runs
// Dijkstra backwards (from the consumer, along residual arcs reversed) and stops at the first
// source it settles, at distance D. Settled nodes v get pi(v) += D - d(v); the others keep theirs
// (the textbook update subtracts min(d, D) everywhere, which differs by the constant D). The path
// is augmented by its bottleneck. A search explores only the neighbourhood closer than the nearest
// spare supply, so it costs little while supply is at hand, and potentials keep the later, longer
// searches short too. Each intermediate flow is a minimum-cost flow for the demand served so far
// (U included), so the last one is optimal whatever order the consumers are served in. The
// searches run over suppliers only (see ComponentSolver).
#include <civgrid/algorithms/parallel.hpp>
#include <civgrid/algorithms/transport.hpp>
#include <civgrid/error.hpp>

#include <lemon/network_simplex.h>
#include <lemon/smart_graph.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <boost/pending/disjoint_sets.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

namespace civgrid::algorithms {

namespace {

constexpr const char* kStage = "algorithms.transport";
constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
/// Most units a component may ship: sums of capacities stay far from overflow.
constexpr std::int64_t kMostUnits = std::int64_t{1} << 61;

/// A cost or potential: `big` units of unmet demand, then `small` cost units; ordered
/// lexicographically.
struct Key {
    std::int64_t big = 0;
    double small = 0;
};
constexpr bool operator<(const Key& a, const Key& b) noexcept {
    return a.big != b.big ? a.big < b.big : a.small < b.small;
}
constexpr Key operator+(const Key& a, const Key& b) noexcept {
    return {a.big + b.big, a.small + b.small};
}
constexpr Key operator-(const Key& a, const Key& b) noexcept {
    return {a.big - b.big, a.small - b.small};
}

struct HeapEntry {
    Key key;
    std::uint32_t node = 0;
};
// std heap functions keep the largest first; this puts the smallest (key, node) first.
struct HeapAfter {
    bool operator()(const HeapEntry& a, const HeapEntry& b) const noexcept {
        if (a.key.big != b.key.big) return a.key.big > b.key.big;
        if (a.key.small != b.key.small) return a.key.small > b.key.small;
        return a.node > b.node;
    }
};

/// A connected component of the candidate graph: its consumers and suppliers (global ids,
/// ascending) and its arcs (input ids, grouped by consumer in the order of `consumers`).
struct Component {
    std::vector<std::uint32_t> consumers, suppliers;
    std::size_t arc_count = 0;
};

/// Reduced cost r = cost + pi(u) - pi(v), >= 0 in exact arithmetic: round-off that makes it
/// slightly negative is clamped to 0; anything more is a broken invariant. `magnitude` is the size
/// of the costs `cost` was computed from.
Key reduced(const Key& cost, double magnitude, const Key& pu, const Key& pv) {
    Key r{cost.big + pu.big - pv.big, cost.small + pu.small - pv.small};
    if (r.big > 0 || (r.big == 0 && r.small >= 0)) return r;
    const double scale = 1 + magnitude + std::abs(pu.small) + std::abs(pv.small);
    if (r.big < 0 || r.small < -1e-9 * scale)
        throw InternalError(kStage, "negative reduced cost (" + std::to_string(r.big) + ", " + std::to_string(r.small) +
                                        ") on a residual path of cost (" + std::to_string(cost.big) + ", " +
                                        std::to_string(cost.small) + ")");
    r.small = 0;
    return r;
}

/// Solves one component; buffers are reused between the components a thread solves.
///
/// The searches run on suppliers only. A residual path alternates suppliers and consumers, and a
/// consumer j inside it is entered from supplier i' over the candidate arc i' -> j and left to the
/// supplier i that serves it, over the reversed arc j -> i. The pair costs c(i', j) - c(i, j) +
/// pi(i') - pi(i): the consumer's potential cancels. So for every ordered pair of suppliers (i', i)
/// a "link" keeps, in a lazy min-heap, the consumers i serves that i' could serve, by
/// c(i', j) - c(i, j); the search reads the cheapest valid one in O(1) amortised. Settling a
/// supplier then costs its number of links, not the number of consumers it serves times their arcs
/// (a utility station serving 80 micro-grids of 6 candidates each). Consumers have no potential of
/// their own: they are implied (the search from a consumer only shifts all distances).
class ComponentSolver {
public:
    void solve(const Component& component, const TransportProblem& problem,
               const std::vector<std::uint32_t>& kept_offset, const std::vector<std::uint32_t>& kept,
               std::vector<std::uint32_t>& local_index, TransportSolution& solution) {
        load(component, problem, kept_offset, kept, local_index);
        for (std::uint32_t v = 0; v < consumers_; ++v)
            while (demand_left_[v] > 0) augment(v);
        store(component, problem, solution);
    }

private:
    /// A consumer j that supplier `served` serves and supplier `forward` could: arcs `forward` =
    /// (i', j) and `served` = (i, j), key c(i', j) - c(i, j). Valid while arc `served` carries flow.
    struct LinkEntry {
        double key = 0;
        std::uint32_t forward = 0, served = 0;
    };
    struct LinkAfter {
        bool operator()(const LinkEntry& a, const LinkEntry& b) const noexcept {
            if (a.key != b.key) return a.key > b.key;
            if (a.served != b.served) return a.served > b.served;
            return a.forward > b.forward;
        }
    };
    /// Moves from supplier `from` (i') to the supplier whose in-link it is (i).
    struct Link {
        std::uint32_t from = 0;
        std::uint32_t valid = 0;  // (forward, served) pairs whose served arc carries flow
        std::vector<LinkEntry> heap;
    };
    /// An arc a supplier serves, for the unmet pseudo-supplier U: the dearest is the best to take over.
    struct Served {
        double cost = 0;
        std::uint32_t arc = 0;
    };
    struct ServedBefore {  // max-heap by cost, then smallest arc first
        bool operator()(const Served& a, const Served& b) const noexcept {
            if (a.cost != b.cost) return a.cost < b.cost;
            return a.arc > b.arc;
        }
    };

    std::uint32_t consumers_ = 0, suppliers_ = 0;
    // Arcs, grouped by consumer: those of consumer v are [consumer_offset_[v], consumer_offset_[v+1]).
    std::vector<std::uint32_t> consumer_offset_, arc_supplier_, arc_consumer_, arc_input_;
    std::vector<double> arc_cost_;
    std::vector<std::int64_t> arc_flow_;
    std::vector<std::int64_t> supply_left_, demand_left_, unmet_;
    // Per supplier: potential, in-links (ids into links_), arcs it serves (lazy max-heap) and their count.
    std::vector<Key> potential_;
    std::vector<std::vector<std::uint32_t>> in_links_;
    std::vector<std::vector<Served>> served_;
    std::vector<std::uint32_t> served_count_;
    std::vector<Link> links_;  // a pool: the first link_count_ are in use
    std::size_t link_count_ = 0;
    // Search state, per supplier: a supplier is reached / settled in the current search when its
    // stamp equals search_; it is reached over arcs (pred_forward_, pred_served_) (served = kNone:
    // directly from the target).
    std::vector<Key> dist_;
    std::vector<std::uint32_t> reached_, settled_, pred_forward_, pred_served_;
    std::vector<std::uint32_t> settled_nodes_;
    std::vector<HeapEntry> heap_;
    std::uint32_t search_ = 0;

    void load(const Component& component, const TransportProblem& problem,
              const std::vector<std::uint32_t>& kept_offset, const std::vector<std::uint32_t>& kept,
              std::vector<std::uint32_t>& local_index) {
        consumers_ = static_cast<std::uint32_t>(component.consumers.size());
        suppliers_ = static_cast<std::uint32_t>(component.suppliers.size());
        // Each supplier belongs to one component, so components write disjoint entries.
        for (std::uint32_t i = 0; i < suppliers_; ++i) local_index[component.suppliers[i]] = i;

        consumer_offset_.assign(consumers_ + 1, 0);
        arc_supplier_.clear();
        arc_consumer_.clear();
        arc_input_.clear();
        arc_cost_.clear();
        demand_left_.assign(consumers_, 0);
        for (std::uint32_t v = 0; v < consumers_; ++v) {
            const std::uint32_t g = component.consumers[v];
            demand_left_[v] = problem.demand[g];
            for (std::uint32_t p = kept_offset[g]; p < kept_offset[g + 1]; ++p) {
                const TransportArc& arc = problem.arcs[kept[p]];
                arc_supplier_.push_back(local_index[arc.supplier]);
                arc_consumer_.push_back(v);
                arc_input_.push_back(kept[p]);
                arc_cost_.push_back(arc.cost);
            }
            consumer_offset_[v + 1] = static_cast<std::uint32_t>(arc_supplier_.size());
        }
        arc_flow_.assign(arc_supplier_.size(), 0);
        unmet_.assign(consumers_, 0);

        supply_left_.resize(suppliers_);
        for (std::uint32_t i = 0; i < suppliers_; ++i) supply_left_[i] = problem.supply[component.suppliers[i]];
        potential_.assign(suppliers_, Key{});
        if (in_links_.size() < suppliers_) in_links_.resize(suppliers_);
        if (served_.size() < suppliers_) served_.resize(suppliers_);
        for (std::uint32_t i = 0; i < suppliers_; ++i) {
            in_links_[i].clear();
            served_[i].clear();
        }
        served_count_.assign(suppliers_, 0);
        link_count_ = 0;

        dist_.resize(suppliers_);
        reached_.assign(suppliers_, 0);
        settled_.assign(suppliers_, 0);
        pred_forward_.assign(suppliers_, kNone);
        pred_served_.assign(suppliers_, kNone);
        search_ = 0;
    }

    Link& link(std::uint32_t from, std::uint32_t to) {
        for (const std::uint32_t id : in_links_[to])
            if (links_[id].from == from) return links_[id];
        if (link_count_ == links_.size()) links_.emplace_back();
        Link& created = links_[link_count_];
        created.from = from;
        created.valid = 0;
        created.heap.clear();
        in_links_[to].push_back(static_cast<std::uint32_t>(link_count_++));
        return created;
    }

    // Arc k = (i, j) starts carrying flow: i now serves j, so j's other suppliers gain a link to i.
    void on_served(std::uint32_t k) {
        const std::uint32_t i = arc_supplier_[k], j = arc_consumer_[k];
        ++served_count_[i];
        served_[i].push_back({arc_cost_[k], k});
        std::push_heap(served_[i].begin(), served_[i].end(), ServedBefore{});
        for (std::uint32_t other = consumer_offset_[j]; other < consumer_offset_[j + 1]; ++other) {
            if (other == k) continue;
            Link& l = link(arc_supplier_[other], i);
            ++l.valid;
            l.heap.push_back({arc_cost_[other] - arc_cost_[k], other, k});
            std::push_heap(l.heap.begin(), l.heap.end(), LinkAfter{});
        }
    }

    // Arc k = (i, j) stops carrying flow: its entries turn stale; heaps mostly stale are rebuilt.
    void on_unserved(std::uint32_t k) {
        const std::uint32_t i = arc_supplier_[k], j = arc_consumer_[k];
        --served_count_[i];
        if (served_[i].size() > 2 * std::size_t{served_count_[i]} + 16) {
            std::erase_if(served_[i], [&](const Served& s) { return arc_flow_[s.arc] == 0; });
            std::make_heap(served_[i].begin(), served_[i].end(), ServedBefore{});
        }
        for (std::uint32_t other = consumer_offset_[j]; other < consumer_offset_[j + 1]; ++other) {
            if (other == k) continue;
            Link& l = link(arc_supplier_[other], i);
            --l.valid;
            if (l.heap.size() > 2 * std::size_t{l.valid} + 16) compact(l);
        }
    }

    // Drops stale and repeated entries of a link's heap.
    void compact(Link& l) const {
        std::erase_if(l.heap, [&](const LinkEntry& e) { return arc_flow_[e.served] == 0; });
        std::sort(l.heap.begin(), l.heap.end(), [](const LinkEntry& a, const LinkEntry& b) {
            return a.served != b.served ? a.served < b.served : a.forward < b.forward;
        });
        l.heap.erase(std::unique(l.heap.begin(), l.heap.end(),
                                 [](const LinkEntry& a, const LinkEntry& b) {
                                     return a.served == b.served && a.forward == b.forward;
                                 }),
                     l.heap.end());
        std::make_heap(l.heap.begin(), l.heap.end(), LinkAfter{});
    }

    void add_flow(std::uint32_t k, std::int64_t delta) {
        const bool was_zero = arc_flow_[k] == 0;
        arc_flow_[k] += delta;
        if (arc_flow_[k] < 0) throw InternalError(kStage, "an augmenting path drives a flow negative");
        if (was_zero && arc_flow_[k] > 0) on_served(k);
        if (!was_zero && arc_flow_[k] == 0) on_unserved(k);
    }

    void push(std::uint32_t node, const Key& key) {
        heap_.push_back({key, node});
        std::push_heap(heap_.begin(), heap_.end(), HeapAfter{});
    }

    // Offers supplier `i` the distance `candidate`, over arcs (forward, served).
    void relax(std::uint32_t i, const Key& candidate, std::uint32_t forward, std::uint32_t served) {
        if (settled_[i] == search_) return;
        if (reached_[i] == search_ && !(candidate < dist_[i])) return;
        reached_[i] = search_;
        dist_[i] = candidate;
        pred_forward_[i] = forward;
        pred_served_[i] = served;
        push(i, candidate);
    }

    /// One shortest augmenting path into consumer `target`, augmented by its bottleneck.
    void augment(std::uint32_t target) {
        if (search_ == std::numeric_limits<std::uint32_t>::max()) {
            std::fill(reached_.begin(), reached_.end(), 0);
            std::fill(settled_.begin(), settled_.end(), 0);
            search_ = 0;
        }
        ++search_;
        heap_.clear();
        settled_nodes_.clear();

        // Distances are measured from the target with its potential taken as 0 (a shift of all).
        for (std::uint32_t k = consumer_offset_[target]; k < consumer_offset_[target + 1]; ++k) {
            const std::uint32_t i = arc_supplier_[k];
            relax(i, Key{0, arc_cost_[k]} + potential_[i], k, kNone);
        }
        Key unmet_dist{1, 0};             // U serves the target itself
        std::uint32_t unmet_via = kNone;  // or takes over this served arc (i, j) and i serves on
        std::uint32_t source = kNone;     // the supplier the path starts at (kNone: U)
        Key length;
        for (;;) {
            // U loses ties to real suppliers.
            if (heap_.empty() || unmet_dist < heap_.front().key) {
                length = unmet_dist;
                break;
            }
            const HeapEntry top = heap_.front();
            std::pop_heap(heap_.begin(), heap_.end(), HeapAfter{});
            heap_.pop_back();
            const std::uint32_t i = top.node;
            if (settled_[i] == search_ || dist_[i] < top.key) continue;  // stale entry
            if (supply_left_[i] > 0) {
                source = i;
                length = top.key;
                break;
            }
            settled_[i] = search_;
            settled_nodes_.push_back(i);
            const Key& pi = potential_[i];
            // U -> j -> i for the dearest j that i serves: cost (1, -c(i, j)).
            std::vector<Served>& served = served_[i];
            while (!served.empty() && arc_flow_[served.front().arc] == 0) {
                std::pop_heap(served.begin(), served.end(), ServedBefore{});
                served.pop_back();
            }
            if (!served.empty()) {
                const Served& s = served.front();
                const Key via = top.key + reduced(Key{1, -s.cost}, s.cost, Key{}, pi);
                if (via < unmet_dist) {
                    unmet_dist = via;
                    unmet_via = s.arc;
                }
            }
            for (const std::uint32_t id : in_links_[i]) {
                Link& l = links_[id];
                if (settled_[l.from] == search_) continue;
                while (!l.heap.empty() && arc_flow_[l.heap.front().served] == 0) {
                    std::pop_heap(l.heap.begin(), l.heap.end(), LinkAfter{});
                    l.heap.pop_back();
                }
                if (l.heap.empty()) continue;
                const LinkEntry& e = l.heap.front();
                const double magnitude = arc_cost_[e.forward] + arc_cost_[e.served];
                relax(l.from, top.key + reduced(Key{0, e.key}, magnitude, potential_[l.from], pi), e.forward, e.served);
            }
        }

        for (const std::uint32_t i : settled_nodes_) potential_[i] = potential_[i] + (length - dist_[i]);

        // The path runs source -> ... -> target; walk it back from the source: each supplier ships
        // more on pred_forward_ and, unless that reaches the target, less on pred_served_.
        std::int64_t delta = demand_left_[target];
        std::uint32_t first = source;
        if (source != kNone) {
            delta = std::min(delta, supply_left_[source]);
        } else if (unmet_via != kNone) {
            delta = std::min(delta, arc_flow_[unmet_via]);
            first = arc_supplier_[unmet_via];
        }
        for (std::uint32_t i = first; i != kNone && pred_served_[i] != kNone; i = arc_supplier_[pred_served_[i]])
            delta = std::min(delta, arc_flow_[pred_served_[i]]);
        if (delta <= 0) throw InternalError(kStage, "an augmenting path without capacity");

        if (source != kNone) {
            supply_left_[source] -= delta;
        } else if (unmet_via != kNone) {
            unmet_[arc_consumer_[unmet_via]] += delta;
            add_flow(unmet_via, -delta);
        } else {
            unmet_[target] += delta;
        }
        for (std::uint32_t i = first; i != kNone;) {
            const std::uint32_t forward = pred_forward_[i], served = pred_served_[i];
            add_flow(forward, delta);
            if (served == kNone) break;
            add_flow(served, -delta);
            i = arc_supplier_[served];
        }
        demand_left_[target] -= delta;
    }

    void store(const Component& component, const TransportProblem& problem, TransportSolution& solution) const {
        std::vector<std::int64_t> received(consumers_, 0), given(suppliers_, 0);
        for (std::size_t k = 0; k < arc_flow_.size(); ++k) {
            if (arc_flow_[k] < 0) throw InternalError(kStage, "a negative flow");
            received[arc_consumer_[k]] += arc_flow_[k];
            given[arc_supplier_[k]] += arc_flow_[k];
            solution.flow[arc_input_[k]] = arc_flow_[k];
        }
        for (std::uint32_t i = 0; i < suppliers_; ++i)
            if (given[i] + supply_left_[i] != problem.supply[component.suppliers[i]] || supply_left_[i] < 0)
                throw InternalError(kStage, "supplier " + std::to_string(component.suppliers[i]) + " ships " +
                                                std::to_string(given[i]) + " of a supply of " +
                                                std::to_string(problem.supply[component.suppliers[i]]));
        for (std::uint32_t v = 0; v < consumers_; ++v) {
            const std::uint32_t g = component.consumers[v];
            if (received[v] + unmet_[v] != problem.demand[g] || demand_left_[v] != 0)
                throw InternalError(kStage, "consumer " + std::to_string(g) + " receives " +
                                                std::to_string(received[v]) + " and misses " +
                                                std::to_string(unmet_[v]) + " of a demand of " +
                                                std::to_string(problem.demand[g]));
            solution.unmet[g] = unmet_[v];
        }
    }
};

/// Solves one component with LEMON's network simplex (TransportMethod::network_simplex, and the
/// fallback of successive_shortest_paths). Buffers are reused between the components a thread
/// solves.
///
/// Network: S -> supplier i (capacity supply[i], cost 0), supplier i -> consumer j (capacity
/// min(supply[i], demand[j]), the arc's cost), consumer j -> T (capacity demand[j], cost 0), and
/// S -> consumer j (capacity demand[j]) for demand left unmet, at a cost above that of any simple
/// path (node count x the largest cost): a flow that leaves one unit more unmet than necessary has
/// a negative cycle through that arc, so the cheapest flow of all the demand from S to T is a
/// maximum flow of the real arcs and the cheapest of those. Costs go to LEMON as integers:
/// multiples of a quantum small enough that the result is optimal to about 1e-12 of the largest
/// cost per unit, and large enough that no sum of costs along a path overflows LEMON's int64
/// potentials (see `quantum_bits`). Integers also mean no round-off in its pivots, whatever the
/// range of the costs. (LEMON's CostScaling, faster in the literature, does not compile as C++20:
/// it calls std::allocator::construct.)
class NetworkSimplexSolver {
public:
    void solve(const Component& component, const TransportProblem& problem,
               const std::vector<std::uint32_t>& kept_offset, const std::vector<std::uint32_t>& kept,
               std::vector<std::uint32_t>& local_index, TransportSolution& solution) {
        const auto consumers = static_cast<std::uint32_t>(component.consumers.size());
        const auto suppliers = static_cast<std::uint32_t>(component.suppliers.size());
        // Each supplier belongs to one component, so components write disjoint entries.
        for (std::uint32_t i = 0; i < suppliers; ++i) local_index[component.suppliers[i]] = i;

        // Capacities are clamped to what the component's consumers can take, so that no sum of
        // them overflows even for absurd supplies (the flow is the same).
        std::int64_t total_demand = 0;
        for (const std::uint32_t g : component.consumers)
            total_demand = saturating_add(total_demand, problem.demand[g]);
        if (total_demand > kMostUnits)
            throw InputError(kStage, "consumers " + std::to_string(component.consumers.front()) + ".." +
                                         std::to_string(component.consumers.back()) +
                                         " demand more than 2^61 units together");
        double largest_cost = 0;
        for (const std::uint32_t g : component.consumers)
            for (std::uint32_t p = kept_offset[g]; p < kept_offset[g + 1]; ++p)
                largest_cost = std::max(largest_cost, problem.arcs[kept[p]].cost);
        const std::size_t node_count = std::size_t{2} + suppliers + consumers;
        const double quantum = largest_cost > 0 ? largest_cost / std::ldexp(1.0, quantum_bits(node_count)) : 1.0;

        graph_.clear();
        graph_.reserveNode(static_cast<int>(node_count));
        graph_.reserveArc(static_cast<int>(suppliers + component.arc_count + 2 * consumers));
        const Graph::Node source = graph_.addNode(), sink = graph_.addNode();
        supplier_nodes_.clear();
        for (std::uint32_t i = 0; i < suppliers; ++i) supplier_nodes_.push_back(graph_.addNode());
        // Arcs in a fixed order (suppliers, then each consumer's arcs, then consumers): LEMON's
        // result depends on it, and it depends on nothing else, so neither does the flow.
        capacity_.clear();
        cost_.clear();
        for (std::uint32_t i = 0; i < suppliers; ++i) {
            graph_.addArc(source, supplier_nodes_[i]);
            capacity_.push_back(std::min(problem.supply[component.suppliers[i]], total_demand));
            cost_.push_back(0);
        }
        const std::size_t first_candidate = capacity_.size();
        candidate_input_.clear();
        consumer_nodes_.clear();
        for (std::uint32_t v = 0; v < consumers; ++v) consumer_nodes_.push_back(graph_.addNode());
        for (std::uint32_t v = 0; v < consumers; ++v) {
            const std::uint32_t g = component.consumers[v];
            for (std::uint32_t p = kept_offset[g]; p < kept_offset[g + 1]; ++p) {
                const TransportArc& arc = problem.arcs[kept[p]];
                graph_.addArc(supplier_nodes_[local_index[arc.supplier]], consumer_nodes_[v]);
                capacity_.push_back(std::min(problem.supply[arc.supplier], problem.demand[g]));
                cost_.push_back(static_cast<std::int64_t>(std::llround(arc.cost / quantum)));
                candidate_input_.push_back(kept[p]);
            }
        }
        for (std::uint32_t v = 0; v < consumers; ++v) {
            graph_.addArc(consumer_nodes_[v], sink);
            capacity_.push_back(problem.demand[component.consumers[v]]);
            cost_.push_back(0);
        }
        // Demand left unmet goes straight from S at a cost above any simple path's, so that the
        // cheapest flow leaves the least unmet (a maximum flow) and is the cheapest of those.
        const std::size_t first_unmet = capacity_.size();
        const std::int64_t unmet_cost = static_cast<std::int64_t>(node_count + 1) << quantum_bits(node_count);
        for (std::uint32_t v = 0; v < consumers; ++v) {
            graph_.addArc(source, consumer_nodes_[v]);
            capacity_.push_back(problem.demand[component.consumers[v]]);
            cost_.push_back(unmet_cost);
        }

        Graph::ArcMap<std::int64_t> capacity_map(graph_), cost_map(graph_);
        for (Graph::ArcIt arc(graph_); arc != lemon::INVALID; ++arc) {
            const auto id = static_cast<std::size_t>(Graph::id(arc));
            capacity_map[arc] = capacity_[id];
            cost_map[arc] = cost_[id];
        }

        lemon::NetworkSimplex<Graph, std::int64_t, std::int64_t> simplex(graph_);
        simplex.upperMap(capacity_map).costMap(cost_map).stSupply(source, sink, total_demand);
        if (const auto status = simplex.run(); status != decltype(simplex)::OPTIMAL)
            throw InternalError(kStage, std::string("the network simplex found the problem ") +
                                            (status == decltype(simplex)::INFEASIBLE ? "infeasible" : "unbounded"));

        std::vector<std::int64_t>& received = received_;
        received.assign(consumers, 0);
        given_.assign(suppliers, 0);
        for (std::size_t k = 0; k < candidate_input_.size(); ++k) {
            const Graph::Arc arc = Graph::arcFromId(static_cast<int>(first_candidate + k));
            const std::int64_t flow = simplex.flow(arc);
            if (flow < 0) throw InternalError(kStage, "a negative flow");
            const TransportArc& input = problem.arcs[candidate_input_[k]];
            received[static_cast<std::size_t>(Graph::id(graph_.target(arc))) - 2 - suppliers] += flow;
            given_[local_index[input.supplier]] += flow;
            solution.flow[candidate_input_[k]] = flow;
        }
        for (std::uint32_t i = 0; i < suppliers; ++i) {
            if (given_[i] > problem.supply[component.suppliers[i]])
                throw InternalError(kStage, "supplier " + std::to_string(component.suppliers[i]) + " ships " +
                                                std::to_string(given_[i]) + " of a supply of " +
                                                std::to_string(problem.supply[component.suppliers[i]]));
        }
        for (std::uint32_t v = 0; v < consumers; ++v) {
            const std::uint32_t g = component.consumers[v];
            const std::int64_t unmet = simplex.flow(Graph::arcFromId(static_cast<int>(first_unmet + v)));
            if (received[v] + unmet != problem.demand[g])
                throw InternalError(kStage, "consumer " + std::to_string(g) + " receives " +
                                                std::to_string(received[v]) + " and misses " + std::to_string(unmet) +
                                                " of a demand of " + std::to_string(problem.demand[g]));
            solution.unmet[g] = unmet;
        }
    }

private:
    using Graph = lemon::SmartDigraph;

    static std::int64_t saturating_add(std::int64_t a, std::int64_t b) noexcept {
        return a > std::numeric_limits<std::int64_t>::max() - b ? std::numeric_limits<std::int64_t>::max() : a + b;
    }

    /// The largest cost becomes 2^bits: 40 (costs exact to ~1e-12 of it) unless the component is
    /// so large that a potential (at most two unmet arcs of (n + 1) 2^bits and n arcs of 2^bits on
    /// a tree path) could pass 2^60: LEMON adds its artificial cost of 2^62 to such sums.
    static int quantum_bits(std::size_t node_count) noexcept {
        int bits = 0;
        while (bits < 40 && (std::size_t{1} << bits) < node_count + 1) ++bits;
        return std::clamp(58 - bits, 8, 40);
    }

    Graph graph_;
    std::vector<Graph::Node> supplier_nodes_, consumer_nodes_;
    std::vector<std::int64_t> capacity_, cost_, received_, given_;
    std::vector<std::uint32_t> candidate_input_;
};

void validate(const TransportProblem& problem) {
    if (problem.arcs.size() >= kNone || problem.supply.size() >= kNone || problem.demand.size() >= kNone)
        throw InputError(kStage, "more than 2^32 - 1 arcs, suppliers or consumers");
    for (std::size_t i = 0; i < problem.supply.size(); ++i)
        if (problem.supply[i] < 0)
            throw InputError(kStage, "supplier " + std::to_string(i) + " has a negative supply " +
                                         std::to_string(problem.supply[i]));
    for (std::size_t j = 0; j < problem.demand.size(); ++j)
        if (problem.demand[j] < 0)
            throw InputError(kStage, "consumer " + std::to_string(j) + " has a negative demand " +
                                         std::to_string(problem.demand[j]));
    for (std::size_t a = 0; a < problem.arcs.size(); ++a) {
        const TransportArc& arc = problem.arcs[a];
        if (arc.supplier >= problem.supply.size() || arc.consumer >= problem.demand.size())
            throw InputError(kStage, "arc " + std::to_string(a) + " joins supplier " + std::to_string(arc.supplier) +
                                         " and consumer " + std::to_string(arc.consumer) + " but there are " +
                                         std::to_string(problem.supply.size()) + " suppliers and " +
                                         std::to_string(problem.demand.size()) + " consumers");
        if (!std::isfinite(arc.cost) || arc.cost < 0)
            throw InputError(kStage, "arc " + std::to_string(a) + " (supplier " + std::to_string(arc.supplier) +
                                         ", consumer " + std::to_string(arc.consumer) + ") has cost " +
                                         std::to_string(arc.cost) + "; costs must be finite and >= 0");
    }
}

}  // namespace

TransportSolution solve_transport(const TransportProblem& problem) {
    validate(problem);
    const auto consumers = static_cast<std::uint32_t>(problem.demand.size());
    const auto suppliers = static_cast<std::uint32_t>(problem.supply.size());
    const auto arcs = static_cast<std::uint32_t>(problem.arcs.size());

    TransportSolution solution;
    solution.flow.assign(arcs, 0);
    solution.unmet = problem.demand;

    // Usable arcs (positive supply and demand) by consumer, in input order; of the arcs between
    // one supplier and one consumer the cheapest (the first of equally cheap ones) is kept.
    std::vector<std::uint32_t> kept_offset(std::size_t{consumers} + 1, 0);
    for (const TransportArc& arc : problem.arcs)
        if (problem.supply[arc.supplier] > 0 && problem.demand[arc.consumer] > 0) ++kept_offset[arc.consumer + 1];
    std::partial_sum(kept_offset.begin(), kept_offset.end(), kept_offset.begin());
    std::vector<std::uint32_t> kept(kept_offset.back());
    {
        std::vector<std::uint32_t> fill(kept_offset.begin(), kept_offset.end() - 1);
        for (std::uint32_t a = 0; a < arcs; ++a) {
            const TransportArc& arc = problem.arcs[a];
            if (problem.supply[arc.supplier] > 0 && problem.demand[arc.consumer] > 0) kept[fill[arc.consumer]++] = a;
        }
    }
    {
        std::uint32_t write = 0;
        for (std::uint32_t j = 0; j < consumers; ++j) {
            const auto begin = kept.begin() + kept_offset[j], end = kept.begin() + kept_offset[j + 1];
            std::sort(begin, end, [&](std::uint32_t a, std::uint32_t b) {
                const TransportArc &x = problem.arcs[a], &y = problem.arcs[b];
                if (x.supplier != y.supplier) return x.supplier < y.supplier;
                if (x.cost != y.cost) return x.cost < y.cost;
                return a < b;
            });
            kept_offset[j] = write;
            for (auto it = begin; it != end; ++it)
                if (it == begin || problem.arcs[*it].supplier != problem.arcs[*(it - 1)].supplier) kept[write++] = *it;
        }
        kept_offset[consumers] = write;
        kept.resize(write);
    }

    // Components of the usable arcs: nodes are consumers [0, c) and suppliers [c, c + s),
    // numbered in the order of their smallest consumer.
    boost::disjoint_sets_with_storage<> joined(std::size_t{consumers} + suppliers);  // Boost's union-find
    for (std::size_t n = 0; n < std::size_t{consumers} + suppliers; ++n) joined.make_set(n);
    for (const std::uint32_t a : kept) joined.union_set(problem.arcs[a].consumer, consumers + problem.arcs[a].supplier);
    const auto find_root = [&](std::size_t n) { return static_cast<std::uint32_t>(joined.find_set(n)); };
    std::vector<std::uint32_t> component_of_root(std::size_t{consumers} + suppliers, kNone);
    std::vector<Component> components;
    for (std::uint32_t j = 0; j < consumers; ++j) {
        if (kept_offset[j] == kept_offset[j + 1]) continue;
        const std::uint32_t root = find_root(j);
        if (component_of_root[root] == kNone) {
            component_of_root[root] = static_cast<std::uint32_t>(components.size());
            components.emplace_back();
        }
        Component& component = components[component_of_root[root]];
        component.consumers.push_back(j);
        component.arc_count += kept_offset[j + 1] - kept_offset[j];
    }
    std::vector<std::uint8_t> has_arc(suppliers, 0);
    for (const std::uint32_t a : kept) has_arc[problem.arcs[a].supplier] = 1;
    for (std::uint32_t i = 0; i < suppliers; ++i)
        if (has_arc[i]) components[component_of_root[find_root(consumers + i)]].suppliers.push_back(i);
    solution.components = components.size();

    // Largest components first, so that no thread is left with a big one at the end.
    std::vector<std::uint32_t> order(components.size());
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
        return components[a].arc_count > components[b].arc_count;
    });
    std::vector<std::uint32_t> local_index(suppliers, kNone);
    tbb::enumerable_thread_specific<ComponentSolver> solvers;
    tbb::enumerable_thread_specific<NetworkSimplexSolver> simplex_solvers;
    std::atomic<std::size_t> fallbacks{0};
    const auto solve_one = [&](const Component& component) {
        if (problem.method == TransportMethod::successive_shortest_paths) {
            try {
                solvers.local().solve(component, problem, kept_offset, kept, local_index, solution);
                return;
            } catch (const InternalError&) {
                // Round-off broke the potentials (costs of wildly different sizes): the integer
                // network simplex rewrites every flow and unmet entry of the component.
                ++fallbacks;
            }
        }
        simplex_solvers.local().solve(component, problem, kept_offset, kept, local_index, solution);
    };
    const auto work = [&] {
        tbb::parallel_for(tbb::blocked_range<std::size_t>(0, order.size(), 1),
                          [&](const tbb::blocked_range<std::size_t>& range) {
                              for (std::size_t c = range.begin(); c != range.end(); ++c)
                                  solve_one(components[order[c]]);
                          });
    };
    with_threads(problem.threads, work);

    solution.fallbacks = fallbacks.load();
    for (std::uint32_t a = 0; a < arcs; ++a) {
        solution.shipped += solution.flow[a];
        solution.cost += static_cast<double>(solution.flow[a]) * problem.arcs[a].cost;
    }
    return solution;
}

}  // namespace civgrid::algorithms
