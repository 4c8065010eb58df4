#include <civgrid/algorithms/graph_partition.hpp>
#include <civgrid/error.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>
#include <tuple>
#include <utility>

namespace civgrid::algorithms {

WeightedGraph make_graph(std::vector<std::int64_t> node_weight, std::vector<Point> location,
                         std::vector<EdgeInput> edges) {
    const std::size_t n = node_weight.size();
    if (location.size() != n) throw InternalError("algorithms.graph", "node weights and locations differ in size");
    for (auto& e : edges) {
        if (e.u > e.v) std::swap(e.u, e.v);
        if (e.v >= n) throw InternalError("algorithms.graph", "edge to node " + std::to_string(e.v) + " out of range");
    }
    std::sort(edges.begin(), edges.end(),
              [](const EdgeInput& a, const EdgeInput& b) { return std::tie(a.u, a.v) < std::tie(b.u, b.v); });
    // Merge duplicates; drop self loops.
    std::vector<EdgeInput> merged;
    merged.reserve(edges.size());
    for (const auto& e : edges) {
        if (e.u == e.v) continue;
        if (!merged.empty() && merged.back().u == e.u && merged.back().v == e.v) {
            merged.back().shared_length += e.shared_length;
            merged.back().crosses_soft = merged.back().crosses_soft || e.crosses_soft;
        } else {
            merged.push_back(e);
        }
    }
    WeightedGraph graph;
    graph.node_weight = std::move(node_weight);
    graph.location = std::move(location);
    graph.offsets.assign(n + 1, 0);
    for (const auto& e : merged) {
        ++graph.offsets[e.u + 1];
        ++graph.offsets[e.v + 1];
    }
    for (std::size_t v = 0; v < n; ++v) graph.offsets[v + 1] += graph.offsets[v];
    graph.neighbours.resize(graph.offsets[n]);
    graph.shared_length.resize(graph.offsets[n]);
    graph.crosses_soft.resize(graph.offsets[n]);
    std::vector<std::uint32_t> fill(graph.offsets.begin(), graph.offsets.end() - 1);
    auto put = [&](std::uint32_t from, std::uint32_t to, const EdgeInput& e) {
        const std::uint32_t slot = fill[from]++;
        graph.neighbours[slot] = to;
        graph.shared_length[slot] = e.shared_length;
        graph.crosses_soft[slot] = e.crosses_soft ? 1 : 0;
    };
    for (const auto& e : merged) {
        put(e.u, e.v, e);
        put(e.v, e.u, e);
    }
    return graph;
}

std::vector<int> connected_components(const WeightedGraph& graph, int* component_count) {
    const std::size_t n = graph.node_count();
    std::vector<int> component(n, -1);
    std::vector<std::uint32_t> stack;
    int count = 0;
    for (std::uint32_t start = 0; start < n; ++start) {
        if (component[start] >= 0) continue;
        component[start] = count;
        stack.push_back(start);
        while (!stack.empty()) {
            const std::uint32_t v = stack.back();
            stack.pop_back();
            for (std::uint32_t i = graph.offsets[v]; i < graph.offsets[v + 1]; ++i) {
                const std::uint32_t u = graph.neighbours[i];
                if (component[u] < 0) {
                    component[u] = count;
                    stack.push_back(u);
                }
            }
        }
        ++count;
    }
    if (component_count != nullptr) *component_count = count;
    return component;
}

bool parts_are_connected(const WeightedGraph& graph, const std::vector<int>& part) {
    const std::size_t n = graph.node_count();
    if (part.size() != n) return false;
    const int parts = n == 0 ? 0 : *std::max_element(part.begin(), part.end()) + 1;
    std::vector<char> seen_part(static_cast<std::size_t>(std::max(parts, 0)), 0);
    std::vector<char> visited(n, 0);
    std::vector<std::uint32_t> stack;
    for (std::uint32_t start = 0; start < n; ++start) {
        if (visited[start]) continue;
        const int p = part[start];
        if (p < 0) return false;
        if (seen_part[static_cast<std::size_t>(p)]) return false;  // a second component of part p
        seen_part[static_cast<std::size_t>(p)] = 1;
        visited[start] = 1;
        stack.push_back(start);
        while (!stack.empty()) {
            const std::uint32_t v = stack.back();
            stack.pop_back();
            for (std::uint32_t i = graph.offsets[v]; i < graph.offsets[v + 1]; ++i) {
                const std::uint32_t u = graph.neighbours[i];
                if (!visited[u] && part[u] == p) {
                    visited[u] = 1;
                    stack.push_back(u);
                }
            }
        }
    }
    return true;
}

namespace {

// A float's bits as an unsigned key that orders like the float: flipped when negative, the sign
// bit set otherwise.
std::uint32_t float_order_key(float value) {
    const auto bits = std::bit_cast<std::uint32_t>(value);
    return (bits & 0x80000000u) != 0 ? ~bits : bits | 0x80000000u;
}

// Uniform doubles from raw engine output: reproducible everywhere, unlike std distributions.
// SplitMix64: small, fast and plenty for drawing trees; the same sequence on every platform.
class Random {
public:
    explicit Random(std::uint64_t seed) : state_(seed) {}
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

private:
    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    std::uint64_t state_;
};

class Partitioner {
public:
    Partitioner(const WeightedGraph& graph, const GraphPartitionOptions& options, std::uint64_t seed)
        : graph_(graph),
          options_(options),
          random_(seed),
          local_(graph.node_count(), -1),
          part_(graph.node_count(), -1) {}

    // Part p gets a share of the weight proportional to units[p].
    std::vector<int> run(const std::vector<int>& units) {
        units_prefix_.assign(units.size() + 1, 0.0);
        for (std::size_t p = 0; p < units.size(); ++p) units_prefix_[p + 1] = units_prefix_[p] + std::max(units[p], 1);
        equal_units_ = std::all_of(units.begin(), units.end(),
                                   [&](int u) { return std::max(u, 1) == std::max(units.front(), 1); });
        std::vector<std::uint32_t> all(graph_.node_count());
        std::iota(all.begin(), all.end(), 0u);
        int next = 0;
        bisect(all, static_cast<int>(units.size()), next);
        refine(next);
        return std::move(part_);
    }

private:
    struct LocalEdge {
        std::uint32_t a, b;
        double length;
        bool soft;
    };

    // A random Kruskal key in 1/2^24 units of a uniform draw; a soft-barrier edge adds its weight,
    // so trees cross minor roads rarely and cuts follow them.
    [[nodiscard]] std::uint32_t random_key(bool soft) {
        constexpr double kScale = 16777216.0;  // 2^24
        const double penalty = soft ? std::clamp(options_.soft_barrier_weight, 0.0, 255.0) : 0.0;
        return static_cast<std::uint32_t>((random_.uniform() + penalty) * kScale);
    }

    // Indices 0..n-1 ordered by (key, index): the hot loop of the bisection. A stable LSD radix
    // sort in byte passes, skipping a byte every key shares, gives exactly the order of sorting
    // packed (key << 32 | index) integers at a fraction of the comparisons; tiny sets still sort.
    void radix_order(const std::vector<std::uint32_t>& keys, std::vector<std::uint32_t>& order) {
        const std::size_t n = keys.size();
        order.resize(n);
        constexpr std::size_t kRadixFrom = 64;
        if (n < kRadixFrom) {
            packed_.resize(n);
            for (std::size_t i = 0; i < n; ++i) packed_[i] = (static_cast<std::uint64_t>(keys[i]) << 32) | i;
            std::sort(packed_.begin(), packed_.end());
            for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<std::uint32_t>(packed_[i]);
            return;
        }
        constexpr int kPasses = 4;
        for (auto& count : radix_count_) count.fill(0);
        for (const std::uint32_t key : keys)
            for (int pass = 0; pass < kPasses; ++pass) ++radix_count_[pass][(key >> (8 * pass)) & 0xFFu];
        std::iota(order.begin(), order.end(), 0u);
        radix_scratch_.resize(n);
        std::vector<std::uint32_t>* from = &order;
        std::vector<std::uint32_t>* to = &radix_scratch_;
        for (int pass = 0; pass < kPasses; ++pass) {
            const int shift = 8 * pass;
            std::array<std::uint32_t, 256>& count = radix_count_[pass];
            if (count[(keys.front() >> shift) & 0xFFu] == n) continue;  // one byte for all: no reordering
            std::uint32_t offset = 0;
            for (std::uint32_t& c : count) offset += std::exchange(c, offset);
            for (const std::uint32_t i : *from) (*to)[count[(keys[i] >> shift) & 0xFFu]++] = i;
            std::swap(from, to);
        }
        if (from != &order) order.swap(radix_scratch_);
    }

    [[nodiscard]] double weight(std::uint32_t v, bool by_count) const {
        return by_count ? 1.0 : static_cast<double>(graph_.node_weight[v]);
    }

    // Splits `nodes` (connected) into k parts by cutting one edge of the best of several random
    // spanning trees: both sides of a tree edge are connected, so contiguity holds by construction.
    void bisect(const std::vector<std::uint32_t>& nodes, int k, int& next) {
        if (k <= 1 || nodes.size() <= 1) {
            for (std::uint32_t v : nodes) part_[v] = next;
            ++next;
            return;
        }
        const auto n = static_cast<std::uint32_t>(nodes.size());
        for (std::uint32_t i = 0; i < n; ++i) local_[nodes[i]] = static_cast<int>(i);

        double total = 0;
        std::uint32_t positive_total = 0;  // every part needs one node with weight
        for (std::uint32_t v : nodes) {
            total += static_cast<double>(graph_.node_weight[v]);
            positive_total += graph_.node_weight[v] > 0 ? 1 : 0;
        }
        const bool by_count = total <= 0;
        if (by_count) {
            total = n;
            positive_total = n;
        }

        // Buffers live in the partitioner and are reused: bisections are many and small. They are
        // free again before the recursive calls at the end.
        std::vector<LocalEdge>& edges = buffers_.edges;
        edges.clear();
        for (std::uint32_t i = 0; i < n; ++i) {
            const std::uint32_t v = nodes[i];
            for (std::uint32_t e = graph_.offsets[v]; e < graph_.offsets[v + 1]; ++e) {
                const int j = local_[graph_.neighbours[e]];
                if (j > static_cast<int>(i))
                    edges.push_back(
                        {i, static_cast<std::uint32_t>(j), graph_.shared_length[e], graph_.crosses_soft[e] != 0});
            }
        }

        // This call makes parts first .. first+k-1; `share(j)` is the weight fraction of the first j.
        const int first = next;
        const double units_here =
            units_prefix_[static_cast<std::size_t>(first + k)] - units_prefix_[static_cast<std::size_t>(first)];
        auto share = [&](int j) {
            if (equal_units_) return static_cast<double>(j) / k;
            return (units_prefix_[static_cast<std::size_t>(first + j)] -
                    units_prefix_[static_cast<std::size_t>(first)]) /
                   units_here;
        };
        auto nearest_count = [&](double fraction) {  // j in 1 .. k-1 whose share is closest
            if (equal_units_) return std::clamp(static_cast<int>(std::lround(fraction * k)), 1, k - 1);
            int lo = 1, hi = k - 1;
            while (lo < hi) {
                const int mid = (lo + hi) / 2;
                if (share(mid) < fraction)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (lo > 1 && std::abs(share(lo - 1) - fraction) <= std::abs(share(lo) - fraction)) --lo;
            return lo;
        };
        const int low = std::max(1, static_cast<int>(std::floor(k * 0.3)));
        const int high = std::min(k - 1, static_cast<int>(std::ceil(k * 0.7)));

        Scratch& buffers = buffers_;
        std::vector<std::uint32_t>& key = buffers.key;
        std::vector<std::uint32_t>& order = buffers.order;
        std::vector<std::uint32_t>& dsu = buffers.dsu;
        std::vector<std::uint32_t>& tree_offsets = buffers.tree_offsets;
        std::vector<std::uint32_t>& tree_adjacent = buffers.tree_adjacent;
        std::vector<std::uint32_t>& parent = buffers.parent;
        std::vector<std::uint32_t>& preorder = buffers.preorder;
        std::vector<std::uint32_t>& position = buffers.position;
        std::vector<std::uint32_t>& subtree_count = buffers.subtree_count;
        std::vector<std::uint32_t>& subtree_positive = buffers.subtree_positive;
        std::vector<double>& subtree_weight = buffers.subtree_weight;
        key.resize(edges.size());
        order.resize(edges.size());
        dsu.resize(n);
        tree_offsets.resize(n + 1);
        tree_adjacent.resize(2 * static_cast<std::size_t>(n));
        parent.resize(n);
        preorder.resize(n);
        position.resize(n);
        subtree_count.assign(n, 0);
        subtree_positive.assign(n, 0);
        subtree_weight.assign(n, 0.0);
        std::vector<char>& best_side = buffers.best_side;
        std::vector<char>& side = buffers.side;
        best_side.clear();
        int best_parts = 0;
        double best_bucket = std::numeric_limits<double>::infinity();
        double best_cut = std::numeric_limits<double>::infinity();

        // A candidate cut (`side`, with `parts_inside` parts inside): balanced splits first, then
        // balance in 2 % buckets, then the shortest cut (minor roads count half) — compact parts
        // along roads. The winner is swapped into best_side.
        auto consider = [&](double score, int parts_inside) {
            double cut = 0;
            for (const auto& e : edges)
                if (side[e.a] != side[e.b]) cut += e.length * (e.soft ? 0.5 : 1.0);
            const double bucket = std::floor(score / 0.02);
            if (bucket < best_bucket || (bucket == best_bucket && cut < best_cut)) {
                best_bucket = bucket;
                best_cut = cut;
                best_side.swap(side);
                best_parts = parts_inside;
            }
        };

        auto find = [&](std::uint32_t x) {
            while (dsu[x] != x) x = dsu[x] = dsu[dsu[x]];
            return x;
        };

        // Big node sets (a whole city as one region) take fewer trees: their balance is found in one
        // tree, and the parts' shapes are settled by the many small bisections below them.
        constexpr std::uint32_t kFullTrialsUpTo = 4096;
        const int base_trials = options_.spanning_tree_trials;
        const int trials =
            std::max(1, n <= kFullTrialsUpTo ? base_trials : static_cast<int>(base_trials * kFullTrialsUpTo / n));
        // The set's principal axis: compact halves come from cutting across it.
        double sum_w = 0, mean_x = 0, mean_y = 0;
        for (std::uint32_t i = 0; i < n; ++i) {
            const double w = weight(nodes[i], by_count) + 1e-9;
            const Point p = graph_.location[nodes[i]];
            sum_w += w;
            mean_x += w * p.x;
            mean_y += w * p.y;
        }
        mean_x /= sum_w;
        mean_y /= sum_w;
        double sxx = 0, syy = 0, sxy = 0;
        for (std::uint32_t i = 0; i < n; ++i) {
            const double w = weight(nodes[i], by_count) + 1e-9;
            const Point p = graph_.location[nodes[i]];
            sxx += w * (p.x - mean_x) * (p.x - mean_x);
            syy += w * (p.y - mean_y) * (p.y - mean_y);
            sxy += w * (p.x - mean_x) * (p.y - mean_y);
        }
        const double axis_angle = 0.5 * std::atan2(2 * sxy, sxx - syy);
        std::vector<double>& projection = buffers.projection;
        std::vector<std::uint32_t>& by_projection = buffers.by_projection;
        projection.resize(n);
        by_projection.resize(n);

        for (int trial = 0; trial < trials; ++trial) {
            // A spanning tree by Kruskal. Most trials are guided: edges far from a line across the
            // principal axis (at the weighted quantile of a balanced split) join first and edges
            // near it last, so the tree's cut edges trace a short, straight boundary; a few trials
            // are purely random for shapes the line fits badly. Soft-barrier edges cost more, so
            // the tree crosses minor roads rarely and a cut there follows the road.
            const bool guided = trial < trials - std::min(2, trials / 4);
            if (guided) {
                constexpr double kSpread = 0.7853981633974483;  // directions within +-22.5 degrees
                const double angle = axis_angle + (trial == 0 ? 0.0 : (random_.uniform() - 0.5) * kSpread);
                const double dx = std::cos(angle), dy = std::sin(angle);
                // Projections relative to the weighted centre, ordered by (projection as a float,
                // index).
                std::vector<std::uint32_t>& projection_key = buffers.projection_key;
                projection_key.resize(n);
                for (std::uint32_t i = 0; i < n; ++i) {
                    const Point p = graph_.location[nodes[i]];
                    projection[i] = (p.x - mean_x) * dx + (p.y - mean_y) * dy;
                    projection_key[i] = float_order_key(static_cast<float>(projection[i]));
                }
                radix_order(projection_key, by_projection);
                const int half = (k / 2) + ((k % 2 == 1 && trial % 2 == 1) ? 1 : 0);
                const double wanted = share(std::clamp(half, 1, k - 1)) * total;
                double running = 0, line = projection[by_projection[n / 2]];
                for (std::uint32_t i : by_projection) {
                    running += weight(nodes[i], by_count);
                    if (running >= wanted) {
                        line = projection[i];
                        break;
                    }
                }
                const double spread =
                    std::max(projection[by_projection.back()] - projection[by_projection.front()], 1e-9);
                constexpr double kNoise = 0.15, kScale = 16777216.0;  // 2^24 key units per unit
                for (std::size_t e = 0; e < edges.size(); ++e) {
                    const double middle = 0.5 * (projection[edges[e].a] + projection[edges[e].b]);
                    const double closeness = 1.0 - std::min(1.0, std::abs(middle - line) / spread);
                    const double penalty = edges[e].soft ? std::clamp(options_.soft_barrier_weight, 0.0, 254.0) : 0.0;
                    key[e] = static_cast<std::uint32_t>(
                        (closeness * (1.0 - kNoise) + random_.uniform() * kNoise + penalty) * kScale);
                }
            } else {
                for (std::size_t e = 0; e < edges.size(); ++e) key[e] = random_key(edges[e].soft);
            }
            radix_order(key, order);
            std::iota(dsu.begin(), dsu.end(), 0u);
            std::vector<std::uint32_t> tree_edges;
            tree_edges.reserve(n);
            for (std::uint32_t e : order) {
                const std::uint32_t ra = find(edges[e].a), rb = find(edges[e].b);
                if (ra == rb) continue;
                dsu[ra] = rb;
                tree_edges.push_back(e);
                if (tree_edges.size() + 1 == n) break;
            }
            if (tree_edges.size() + 1 != n)
                throw InternalError("algorithms.partition", "bisection called on a disconnected node set");

            std::fill(tree_offsets.begin(), tree_offsets.end(), 0u);
            for (std::uint32_t e : tree_edges) {
                ++tree_offsets[edges[e].a + 1];
                ++tree_offsets[edges[e].b + 1];
            }
            for (std::uint32_t v = 0; v < n; ++v) tree_offsets[v + 1] += tree_offsets[v];
            std::vector<std::uint32_t> fill(tree_offsets.begin(), tree_offsets.end() - 1);
            for (std::uint32_t e : tree_edges) {
                tree_adjacent[fill[edges[e].a]++] = edges[e].b;
                tree_adjacent[fill[edges[e].b]++] = edges[e].a;
            }

            // Preorder from a random root; subtree sums in reverse preorder.
            const auto root = static_cast<std::uint32_t>(random_.uniform() * n) % n;
            std::uint32_t count = 0;
            std::vector<std::uint32_t> stack{root};
            parent[root] = root;
            while (!stack.empty()) {
                const std::uint32_t v = stack.back();
                stack.pop_back();
                position[v] = count;
                preorder[count++] = v;
                for (std::uint32_t i = tree_offsets[v]; i < tree_offsets[v + 1]; ++i) {
                    const std::uint32_t u = tree_adjacent[i];
                    if (u != parent[v]) {
                        parent[u] = v;
                        stack.push_back(u);
                    }
                }
            }
            for (std::uint32_t i = n; i-- > 0;) {
                const std::uint32_t v = preorder[i];
                subtree_weight[v] += weight(nodes[v], by_count);
                subtree_count[v] += 1;
                subtree_positive[v] += (by_count || graph_.node_weight[nodes[v]] > 0) ? 1 : 0;
                if (v != root) {
                    subtree_weight[parent[v]] += subtree_weight[v];
                    subtree_count[parent[v]] += subtree_count[v];
                    subtree_positive[parent[v]] += subtree_positive[v];
                }
            }

            // The best cut of this tree: a subtree whose weight is closest to a whole number of parts.
            // Cuts that split the parts 30/70 or closer are preferred: a lopsided cut scores 5 %
            // worse. Always taking the most exact cut peels one part off a large set at a time, which
            // makes the recursion O(n k) and leaves stringy remainders; never allowing it leaves
            // graphs with heavy nodes unbalanced.
            std::uint32_t chosen = n;
            int chosen_parts = 0;
            double chosen_score = std::numeric_limits<double>::infinity();
            for (std::uint32_t v = 0; v < n; ++v) {
                if (v == root) continue;
                const double w = subtree_weight[v];
                if (!by_count && (w <= 0 || w >= total)) continue;
                // Each side must hold at least one weighted node per part it will make.
                const int inside_positive = static_cast<int>(subtree_positive[v]);
                const int feasible_low = std::max(1, k - static_cast<int>(positive_total) + inside_positive);
                const int feasible_high = std::min(k - 1, inside_positive);
                if (feasible_low > feasible_high) continue;
                const int natural = nearest_count(w / total);
                const int preferred_low = std::max(low, feasible_low), preferred_high = std::min(high, feasible_high);
                const int parts_here = std::clamp(natural, feasible_low, feasible_high);
                const bool lopsided = parts_here < preferred_low || parts_here > preferred_high;
                const double ideal = total * share(parts_here);
                const double score = std::abs(w - ideal) / ideal + (lopsided ? kLopsidedPenalty : 0.0);
                if (score < chosen_score) {
                    chosen_score = score;
                    chosen = v;
                    chosen_parts = parts_here;
                }
            }
            if (chosen < n) {
                side.assign(n, 0);
                for (std::uint32_t i = position[chosen]; i < position[chosen] + subtree_count[chosen]; ++i)
                    side[preorder[i]] = 1;
                consider(chosen_score, chosen_parts);
            }
            std::fill(subtree_weight.begin(), subtree_weight.end(), 0.0);
            std::fill(subtree_count.begin(), subtree_count.end(), 0u);
            std::fill(subtree_positive.begin(), subtree_positive.end(), 0u);
        }

        // Straight cuts: sweep a line across the set in several directions and cut where the
        // weight reaches a balanced share. Taken (by the same balance-then-cut rule as the trees)
        // only when both sides are connected; then they give the most compact parts.
        const int sweep_directions = options_.sweep_directions;
        if (sweep_directions > 0 && n <= kSweepUpTo) {
            std::vector<std::uint32_t>& adjacency_offsets = buffers.adjacency_offsets;
            std::vector<std::uint32_t>& adjacency = buffers.adjacency;
            adjacency_offsets.assign(n + 1, 0);
            for (const auto& e : edges) {
                ++adjacency_offsets[e.a + 1];
                ++adjacency_offsets[e.b + 1];
            }
            for (std::uint32_t v = 0; v < n; ++v) adjacency_offsets[v + 1] += adjacency_offsets[v];
            adjacency.resize(2 * edges.size());
            std::vector<std::uint32_t> fill_at(adjacency_offsets.begin(), adjacency_offsets.end() - 1);
            for (const auto& e : edges) {
                adjacency[fill_at[e.a]++] = e.b;
                adjacency[fill_at[e.b]++] = e.a;
            }
            // Both sides of `side` connected?
            auto connected_sides = [&](const std::vector<char>& marks) {
                std::vector<char>& seen = buffers.seen;
                for (char value : {char{0}, char{1}}) {
                    seen.assign(n, 0);
                    std::uint32_t start = n, size = 0, reached = 0;
                    for (std::uint32_t v = 0; v < n; ++v)
                        if (marks[v] == value) {
                            ++size;
                            if (start == n) start = v;
                        }
                    if (size == 0) return false;
                    std::vector<std::uint32_t>& stack = buffers.stack;
                    stack.assign(1, start);
                    seen[start] = 1;
                    while (!stack.empty()) {
                        const std::uint32_t v = stack.back();
                        stack.pop_back();
                        ++reached;
                        for (std::uint32_t i = adjacency_offsets[v]; i < adjacency_offsets[v + 1]; ++i) {
                            const std::uint32_t u = adjacency[i];
                            if (!seen[u] && marks[u] == value) {
                                seen[u] = 1;
                                stack.push_back(u);
                            }
                        }
                    }
                    if (reached != size) return false;
                }
                return true;
            };
            std::vector<std::uint32_t>& swept = buffers.swept;  // indices in sweep order
            std::vector<std::uint32_t>& projection_key = buffers.projection_key;
            for (int d = 0; d < sweep_directions; ++d) {
                const double angle = axis_angle + 3.141592653589793 * d / sweep_directions;
                const double dx = std::cos(angle), dy = std::sin(angle);
                projection_key.resize(n);
                for (std::uint32_t i = 0; i < n; ++i) {
                    const Point p = graph_.location[nodes[i]];
                    projection_key[i] = float_order_key(static_cast<float>((p.x - mean_x) * dx + (p.y - mean_y) * dy));
                }
                radix_order(projection_key, swept);
                for (int j : {k / 2, (k + 1) / 2}) {
                    if (j < 1 || j > k - 1) continue;
                    const double wanted = share(j) * total;
                    double running = 0;
                    std::uint32_t count = 0, positive = 0;
                    while (count < n && running + 0.5 * weight(nodes[swept[count]], by_count) < wanted) {
                        const std::uint32_t i = swept[count];
                        running += weight(nodes[i], by_count);
                        positive += (by_count || graph_.node_weight[nodes[i]] > 0) ? 1 : 0;
                        ++count;
                    }
                    if (count == 0 || count == n) continue;
                    const int feasible_low =
                        std::max(1, k - static_cast<int>(positive_total) + static_cast<int>(positive));
                    const int feasible_high = std::min(k - 1, static_cast<int>(positive));
                    if (j < feasible_low || j > feasible_high) continue;
                    side.assign(n, 0);
                    for (std::uint32_t c = 0; c < count; ++c) side[swept[c]] = 1;
                    if (!connected_sides(side)) continue;
                    const double ideal = total * share(j);
                    const bool lopsided = j < low || j > high;
                    consider(std::abs(running - ideal) / ideal + (lopsided ? kLopsidedPenalty : 0.0), j);
                }
            }
        }

        std::vector<std::uint32_t> inside, outside;
        // A weighted node without weighted descendants always gives a feasible one-part cut, so
        // with k <= weighted nodes (the caller clamps) some cut was found.
        if (best_side.empty())
            throw InternalError("algorithms.partition", "no feasible bisection of " + std::to_string(n) +
                                                            " nodes into " + std::to_string(k) + " parts");
        for (std::uint32_t i = 0; i < n; ++i) (best_side[i] ? inside : outside).push_back(nodes[i]);
        for (std::uint32_t v : nodes) local_[v] = -1;
        bisect(inside, best_parts, next);
        bisect(outside, k - best_parts, next);
    }

    // Would part p stay connected without node v?
    bool stays_connected_without(std::uint32_t v, int p) {
        std::uint32_t start = 0;
        int inside_neighbours = 0;
        for (std::uint32_t e = graph_.offsets[v]; e < graph_.offsets[v + 1]; ++e) {
            if (part_[graph_.neighbours[e]] == p) {
                start = graph_.neighbours[e];
                ++inside_neighbours;
            }
        }
        if (inside_neighbours <= 1) return true;
        ++stamp_;
        if (mark_.size() != graph_.node_count()) mark_.assign(graph_.node_count(), 0);
        mark_[v] = stamp_;
        mark_[start] = stamp_;
        std::vector<std::uint32_t>& stack = scratch_;
        stack.assign(1, start);
        std::size_t reached = 1;
        while (!stack.empty()) {
            const std::uint32_t x = stack.back();
            stack.pop_back();
            for (std::uint32_t e = graph_.offsets[x]; e < graph_.offsets[x + 1]; ++e) {
                const std::uint32_t u = graph_.neighbours[e];
                if (part_[u] == p && mark_[u] != stamp_) {
                    mark_[u] = stamp_;
                    ++reached;
                    stack.push_back(u);
                }
            }
        }
        return reached + 1 == part_size_[static_cast<std::size_t>(p)];
    }

    // Boundary moves that reduce the squared deviation from the mean (plus a small compactness
    // term), never emptying or disconnecting a part.
    void refine(int parts) {
        const std::size_t n = graph_.node_count();
        part_weight_.assign(static_cast<std::size_t>(parts), 0.0);
        part_size_.assign(static_cast<std::size_t>(parts), 0);
        double total = 0;
        for (std::size_t v = 0; v < n; ++v) {
            part_weight_[static_cast<std::size_t>(part_[v])] += static_cast<double>(graph_.node_weight[v]);
            ++part_size_[static_cast<std::size_t>(part_[v])];
            total += static_cast<double>(graph_.node_weight[v]);
        }
        if (parts <= 1 || total <= 0) return;
        const double all_units = units_prefix_.back();
        auto target_of = [&](int p) {
            const auto i = static_cast<std::size_t>(p);
            return total * (units_prefix_[i + 1] - units_prefix_[i]) / all_units;
        };
        // Squared deviation from the mean, plus steep penalties outside the bounds and below the
        // hard minimum: refinement first brings every part inside, then evens them out.
        constexpr double kOutsideBounds = 20.0, kBelowHardMinimum = 400.0;
        const double lower = options_.lower_bound, upper = options_.upper_bound, hard = options_.hard_minimum;
        // How far a part of weight w lies outside the bounds (the hard minimum counting most).
        auto violation = [&](double w) {
            double v = 0;
            if (lower > 0 && w < lower) v += lower - w;
            if (upper > 0 && w > upper) v += w - upper;
            if (hard > 0 && w < hard) v += 10 * (hard - w);
            return v;
        };
        auto cost = [&](double w, int p) {
            const double target = target_of(p);
            double c = (w - target) * (w - target);
            if (lower > 0 && w < lower) c += kOutsideBounds * (lower - w) * (lower - w);
            if (upper > 0 && w > upper) c += kOutsideBounds * (w - upper) * (w - upper);
            if (hard > 0 && w < hard) c += kBelowHardMinimum * (hard - w) * (hard - w);
            return c / (target * target);
        };
        // Cut length a move adds, in parts' boundaries; 0.2 of a boundary weighs like 2 % of balance
        // squared: it evens out ragged edges without giving up the balance.
        const double kCompactness = options_.compactness;

        double total_length = 0;
        for (double length : graph_.shared_length) total_length += length;
        const double perimeter_scale = total_length / parts;  // about one part's boundary
        std::vector<std::pair<int, double>> touching;         // (part, shared length)
        for (int pass = 0; pass < options_.refinement_passes; ++pass) {
            int moves = 0;
            for (std::uint32_t v = 0; v < n; ++v) {
                const int p = part_[v];
                if (part_size_[static_cast<std::size_t>(p)] <= 1) continue;
                touching.clear();
                double own_length = 0;
                for (std::uint32_t e = graph_.offsets[v]; e < graph_.offsets[v + 1]; ++e) {
                    const int q = part_[graph_.neighbours[e]];
                    const double length = graph_.shared_length[e];
                    if (q == p) {
                        own_length += length;
                        continue;
                    }
                    auto it =
                        std::find_if(touching.begin(), touching.end(), [q](const auto& t) { return t.first == q; });
                    if (it == touching.end())
                        touching.emplace_back(q, length);
                    else
                        it->second += length;
                }
                if (touching.empty()) continue;
                const double w = static_cast<double>(graph_.node_weight[v]);
                const double wp = part_weight_[static_cast<std::size_t>(p)];
                int best_q = -1;
                double best_delta = -1e-12;
                for (const auto& [q, length] : touching) {
                    const double wq = part_weight_[static_cast<std::size_t>(q)];
                    // Bounds are hard for compactness: no move takes a part further outside them.
                    if (violation(wp - w) > violation(wp) + 1e-9 || violation(wq + w) > violation(wq) + 1e-9) continue;
                    const double balance = cost(wp - w, p) + cost(wq + w, q) - cost(wp, p) - cost(wq, q);
                    const double compact = (own_length - length) / perimeter_scale;
                    const double delta = balance + kCompactness * compact;
                    if (delta < best_delta || (delta == best_delta && best_q >= 0 && q < best_q)) {
                        best_delta = delta;
                        best_q = q;
                    }
                }
                if (best_q < 0 || (w > 0 && part_weight_[static_cast<std::size_t>(p)] - w <= 0) ||
                    !stays_connected_without(v, p))
                    continue;
                part_[v] = best_q;
                part_weight_[static_cast<std::size_t>(p)] -= w;
                part_weight_[static_cast<std::size_t>(best_q)] += w;
                --part_size_[static_cast<std::size_t>(p)];
                ++part_size_[static_cast<std::size_t>(best_q)];
                ++moves;
            }
            if (moves == 0) break;
        }
    }

    const WeightedGraph& graph_;
    GraphPartitionOptions options_;
    Random random_;
    std::vector<int> local_;
    std::vector<int> part_;
    std::vector<double> part_weight_;
    std::vector<std::size_t> part_size_;
    std::vector<std::uint32_t> mark_;
    std::uint32_t stamp_ = 0;
    std::vector<std::uint32_t> scratch_;
    std::vector<std::uint32_t> radix_scratch_;
    std::array<std::array<std::uint32_t, 256>, 4> radix_count_{};
    std::vector<double> units_prefix_;  // prefix sums of the parts' units
    bool equal_units_ = true;
    static constexpr std::uint32_t kSweepUpTo = 1U << 20;  // sweeps sort the set once per direction
    // A cut that splits the parts more lopsidedly than 30/70 scores 5 % worse (see bisect).
    static constexpr double kLopsidedPenalty = 0.05;
    struct Scratch {
        std::vector<LocalEdge> edges;
        std::vector<std::uint32_t> key, order, dsu, tree_offsets, tree_adjacent, parent, preorder, position,
            subtree_count, subtree_positive, by_projection;
        std::vector<double> subtree_weight, projection;
        std::vector<std::uint32_t> projection_key, swept;
        std::vector<std::uint32_t> adjacency_offsets, adjacency, stack;
        std::vector<char> seen;
        std::vector<char> best_side, side;
    } buffers_;
    std::vector<std::uint64_t> packed_;
};

}  // namespace

std::vector<int> partition_connected_graph(const WeightedGraph& graph, int parts, std::uint64_t seed,
                                           const GraphPartitionOptions& options) {
    const std::size_t n = graph.node_count();
    if (n == 0) return {};
    // Every part needs a node with weight (any node, when no node has weight).
    std::size_t usable = 0;
    for (std::int64_t w : graph.node_weight) usable += w > 0 ? 1 : 0;
    if (usable == 0) usable = n;
    parts = std::clamp(parts, 1, static_cast<int>(std::min<std::size_t>(usable, std::numeric_limits<int>::max())));
    Partitioner partitioner(graph, options, seed);
    return partitioner.run(std::vector<int>(static_cast<std::size_t>(parts), 1));
}

std::vector<int> partition_connected_graph(const WeightedGraph& graph, const std::vector<int>& units,
                                           std::uint64_t seed, const GraphPartitionOptions& options) {
    const std::size_t n = graph.node_count();
    if (n == 0 || units.empty()) return std::vector<int>(n, 0);
    std::size_t usable = 0;
    for (std::int64_t w : graph.node_weight) usable += w > 0 ? 1 : 0;
    if (usable == 0) usable = n;
    std::vector<int> clamped = units;
    if (clamped.size() > usable) clamped.resize(usable);  // every part needs a node with weight
    Partitioner partitioner(graph, options, seed);
    return partitioner.run(clamped);
}

}  // namespace civgrid::algorithms
