#include <civgrid/algorithms/balance_bound.hpp>
#include <civgrid/algorithms/coverage_union.hpp>
#include <civgrid/algorithms/geometry_repair.hpp>
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/graph_partition.hpp>
#include <civgrid/algorithms/region_partition.hpp>
#include <civgrid/error.hpp>

#include "free_memory.hpp"
#include "region_cells_state.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <numeric>
#include <span>
#include <unordered_map>

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

namespace civgrid::algorithms {

namespace {

using geos::collect_lines;
using geos::collect_polygons;
using geos::Context;
using geos::Geom;
constexpr const char* kStage = "algorithms.partition";

std::uint64_t mix(std::uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

// The union of polygons that form a coverage (exact shared edges): CoverageUnion, or a full union
// when noding left them slightly off. A single Polygon unless the parts are apart (multipart set);
// noding slivers of no area are dropped. Empty input: an empty polygon. The parts are read where
// they are; only the fallbacks copy them into a collection.
Geom union_of_cover(const Context& context, std::span<const GEOSGeometry* const> parts, bool& multipart) {
    const auto handle = context.handle();
    multipart = false;
    if (parts.empty()) return geos::from_wkt(context, "POLYGON EMPTY");
    Geom polygon = coverage_union(context, parts);
    if (!polygon || !is_valid(context, polygon.get())) {
        const Geom collection = geos::collection(context, GEOS_GEOMETRYCOLLECTION, [&] {
            std::vector<Geom> copies;
            for (const GEOSGeometry* part : parts) copies.push_back(geos::clone(context, part));
            return copies;
        }());
        polygon = geos::own_nullable(context, GEOSUnaryUnion_r(handle, collection.get()));
        if (!polygon) {
            // An invalid cell (a ring folded on itself) breaks any overlay; made valid, the cells
            // unite, snap-rounded to a micrometre grid should floating-point noding still fail.
            const Geom repaired = geos::own(context, GEOSMakeValid_r(handle, collection.get()), "repairing cells");
            polygon = geos::own_nullable(context, GEOSUnaryUnion_r(handle, repaired.get()));
            constexpr double kGrid = 1e-6;
            if (!polygon)
                polygon = geos::own(context, GEOSUnaryUnionPrec_r(handle, repaired.get(), kGrid), "uniting cells");
        }
    }
    if (GEOSGeomTypeId_r(handle, polygon.get()) == GEOS_POLYGON) return polygon;
    std::vector<Geom> polygons;
    collect_polygons(context, polygon.get(), polygons);
    // Noding can leave a sliver of no area where cells meet a boundary one unit in the last place
    // apart; it is not a part anyone could see.
    constexpr double kSliverArea = 1e-6;  // m2
    if (polygons.size() > 1)
        std::erase_if(polygons, [&](const Geom& part) { return geos::area(context, part.get()) < kSliverArea; });
    if (polygons.empty()) collect_polygons(context, polygon.get(), polygons);
    if (polygons.size() == 1) return std::move(polygons.front());
    multipart = true;
    return geos::collection(context, GEOS_MULTIPOLYGON, std::move(polygons));
}

}  // namespace

RegionCells::RegionCells() : state_(std::make_unique<State>()) {}
RegionCells::RegionCells(RegionCells&&) noexcept = default;
RegionCells& RegionCells::operator=(RegionCells&&) noexcept = default;
RegionCells::~RegionCells() = default;
const WeightedGraph& RegionCells::graph() const noexcept {
    return state_->graph;
}
const std::vector<int>& RegionCells::vertex_piece() const noexcept {
    return state_->vertex_piece;
}
const std::vector<double>& RegionCells::piece_households() const noexcept {
    return state_->piece_households;
}
const std::vector<int>& RegionCells::piece_counts() const noexcept {
    return state_->piece_counts;
}
int RegionCells::faces() const noexcept {
    return state_->faces;
}
std::size_t RegionCells::atom_count() const noexcept {
    return state_->atoms.size();
}

RegionCells::RegionCells(const RegionInput& input) : state_(std::make_unique<State>()) {
    State& state = *state_;
    const Context& context = state.context;
    state.options = input.options;
    state.requested = input.micro_grid_count;
    const cells::Outline outline(context, input.boundary);
    const Geom hard_linework = cells::hard_linework(context, input, outline);
    const cells::Faces faces = cells::faces(context, outline, hard_linework.get());
    state.faces = static_cast<int>(faces.faces.size());
    const cells::Nodes nodes = cells::nodes(context, input.sites, faces);
    cells::Atoms atoms = cells::voronoi_atoms(context, outline, hard_linework.get(), faces, nodes);
    state.adjacency = cells::adjacency(context, atoms.atoms);
    cells::AtomGraph graph =
        cells::atom_graph(context, input, outline, hard_linework.get(), atoms, state.adjacency, nodes);
    state.atoms = std::move(atoms.atoms);
    state.atom_face = std::move(atoms.face);
    state.vertex_atom = std::move(graph.vertex_atom);
    state.graph = std::move(graph.graph);
    state.site_households.reserve(input.sites.size());
    state.site_vertex.reserve(input.sites.size());
    for (std::size_t s = 0; s < input.sites.size(); ++s) {
        state.site_households.push_back(std::max<std::int64_t>(input.sites[s].households, 0));
        state.site_vertex.push_back(graph.node_vertex[nodes.site_node[s]]);
    }
    cells::Pieces pieces = cells::pieces(state.graph, input);
    state.vertex_piece = std::move(pieces.vertex_piece);
    state.piece_households = std::move(pieces.households);
    state.piece_counts = std::move(pieces.counts);
}

namespace {

// The subgraph induced by `members` (vertices of `graph`); local[v] gets v's index in it.
WeightedGraph induced_subgraph(const WeightedGraph& graph, const std::vector<std::uint32_t>& members,
                               std::vector<int>& local) {
    for (std::size_t i = 0; i < members.size(); ++i) local[members[i]] = static_cast<int>(i);
    std::vector<std::int64_t> weights;
    std::vector<Point> locations;
    std::vector<EdgeInput> edges;
    weights.reserve(members.size());
    locations.reserve(members.size());
    for (std::uint32_t v : members) {
        weights.push_back(graph.node_weight[v]);
        locations.push_back(graph.location[v]);
        for (std::uint32_t e = graph.offsets[v]; e < graph.offsets[v + 1]; ++e) {
            const std::uint32_t u = graph.neighbours[e];
            if (v < u && local[u] >= 0)
                edges.push_back({static_cast<std::uint32_t>(local[v]), static_cast<std::uint32_t>(local[u]),
                                 graph.shared_length[e], graph.crosses_soft[e] != 0});
        }
    }
    WeightedGraph result = make_graph(std::move(weights), std::move(locations), std::move(edges));
    if (graph.has_shapes()) {
        // Edges to vertices outside the subgraph bound every part of it: outer length.
        result.area.reserve(members.size());
        result.outer_length.reserve(members.size());
        for (std::uint32_t v : members) {
            double outer = graph.outer_length[v];
            for (std::uint32_t e = graph.offsets[v]; e < graph.offsets[v + 1]; ++e)
                if (local[graph.neighbours[e]] < 0) outer += graph.shared_length[e];
            result.area.push_back(graph.area[v]);
            result.outer_length.push_back(outer);
        }
    }
    for (std::uint32_t v : members) local[v] = -1;
    return result;
}

// How a partition scores against the window and the bounds: micro-grids outside the window,
// households beyond the bounds, micro-grids beyond them.
struct WindowScore {
    int outside = 0;
    double beyond = 0;
    int beyond_parts = 0;
};
WindowScore window_score(const WeightedGraph& graph, const std::vector<int>& part, int parts,
                         const GraphPartitionOptions& options) {
    std::vector<double> weight(static_cast<std::size_t>(parts), 0.0);
    for (std::size_t v = 0; v < part.size(); ++v)
        weight[static_cast<std::size_t>(part[v])] += static_cast<double>(graph.node_weight[v]);
    WindowScore score;
    for (const double w : weight) {
        score.outside += w < options.window_low - 1e-9 || w > options.window_high + 1e-9 ? 1 : 0;
        double beyond = 0;
        if (options.lower_bound > 0 && w < options.lower_bound) beyond += options.lower_bound - w;
        if (options.upper_bound > 0 && w > options.upper_bound) beyond += w - options.upper_bound;
        score.beyond += beyond;
        score.beyond_parts += beyond > 1e-9 ? 1 : 0;
    }
    return score;
}

void refine_across_grids(const WeightedGraph& piece_graph, std::vector<int>& member_part,
                         const std::vector<int>& part_grid, const GraphPartitionOptions& options) {
    const int parts = static_cast<int>(part_grid.size());
    if (parts < 2 || member_part.size() != piece_graph.node_count() ||
        std::any_of(member_part.begin(), member_part.end(), [&](int p) { return p < 0 || p >= parts; }) ||
        !parts_are_connected(piece_graph, member_part))
        return;
    const WindowScore before = window_score(piece_graph, member_part, parts, options);
    if (before.outside == 0) return;
    std::vector<int> refined = member_part;
    refine_partition(piece_graph, refined, options);
    const WindowScore after = window_score(piece_graph, refined, parts, options);
    // Where the bounds cannot hold (more households than parts x the upper bound, in whole
    // households), households beyond them are forced: no more micro-grids beyond them is enough
    // (window_plan gives the excess to the fewest parts that keep each within twice the bound).
    double households = 0;
    for (const std::int64_t w : piece_graph.node_weight) households += static_cast<double>(w);
    const WithinRange bounds = bounds_range(options.lower_bound, options.upper_bound);
    const bool forced = options.upper_bound > 0 && households > static_cast<double>(parts * bounds.high);
    if (after.outside >= before.outside ||
        (forced ? after.beyond_parts > before.beyond_parts : after.beyond > before.beyond + 1e-9))
        return;
    std::vector<int> node_grid(refined.size());
    for (std::size_t v = 0; v < refined.size(); ++v) node_grid[v] = part_grid[static_cast<std::size_t>(refined[v])];
    if (!parts_are_connected(piece_graph, node_grid)) return;
    member_part = std::move(refined);
}

// A piece partitioned: its micro-grids (and their grids).
struct PieceOutcome {
    std::vector<int> member_part;  // per member of the piece
    int made = 0;
    std::vector<int> part_grid;  // per part made, its grid in the piece
    int grids = 0;
};

// How one try at a piece scores: micro-grids beyond the bounds, within the window, households
// beyond the bounds and the sum of their Polsby-Popper compactness (with shapes).
struct PieceScore {
    int beyond = 0, within = 0;
    double beyond_households = 0, compactness = 0;
    [[nodiscard]] bool better_than(const PieceScore& other) const {
        if (beyond != other.beyond) return beyond < other.beyond;
        if (within != other.within) return within > other.within;
        if (std::abs(beyond_households - other.beyond_households) > 1e-9)
            return beyond_households < other.beyond_households;
        return compactness > other.compactness + 1e-9;
    }
};

PieceScore piece_score(const WeightedGraph& graph, const PieceOutcome& outcome, const GraphPartitionOptions& options) {
    const auto parts = static_cast<std::size_t>(outcome.made);
    std::vector<double> weight(parts, 0.0), area(parts, 0.0), perimeter(parts, 0.0);
    const bool shapes = graph.has_shapes();
    for (std::size_t v = 0; v < graph.node_count(); ++v) {
        const auto p = static_cast<std::size_t>(outcome.member_part[v]);
        weight[p] += static_cast<double>(graph.node_weight[v]);
        if (!shapes) continue;
        area[p] += graph.area[v];
        perimeter[p] += graph.outer_length[v];
        for (std::uint32_t e = graph.offsets[v]; e < graph.offsets[v + 1]; ++e)
            if (outcome.member_part[graph.neighbours[e]] != outcome.member_part[v])
                perimeter[p] += graph.shared_length[e];
    }
    PieceScore score;
    for (std::size_t p = 0; p < parts; ++p) {
        const double w = weight[p];
        score.within += w >= options.window_low - 1e-9 && w <= options.window_high + 1e-9 ? 1 : 0;
        double out = 0;
        if (options.lower_bound > 0 && w < options.lower_bound - 1e-9) out = options.lower_bound - w;
        if (options.upper_bound > 0 && w > options.upper_bound + 1e-9) out = w - options.upper_bound;
        score.beyond += out > 0 ? 1 : 0;
        score.beyond_households += out;
        if (shapes && perimeter[p] > 0)
            score.compactness += 4 * std::numbers::pi * area[p] / (perimeter[p] * perimeter[p]);
    }
    return score;
}

// At most how many of the piece's `count` micro-grids can be within the window: whole buildings
// (best_within_whole_in_piece), keeping the bounds where they can hold.
int piece_bound(const WeightedGraph& graph, int count, const GraphPartitionOptions& options) {
    std::vector<std::int64_t> units;
    std::int64_t households = 0;
    for (const std::int64_t w : graph.node_weight)
        if (w > 0) {
            units.push_back(w);
            households += w;
        }
    // The whole households inside the window, rounded inwards as window_plan rounds it (74.4-91.3
    // is 75-91, not 74-91).
    const WithinRange window{static_cast<std::int64_t>(std::ceil(options.window_low - 1e-9)),
                             static_cast<std::int64_t>(std::floor(options.window_high + 1e-9))};
    const int whole = best_within_whole_in_piece(std::move(units), count, window)[static_cast<std::size_t>(count)];
    const WithinRange bounds = bounds_range(options.lower_bound, options.upper_bound);
    return std::min(whole, best_within_in_piece_bounded(households, count, window, bounds));
}

}  // namespace

CellPartition partition_cells(const RegionCells& cells, std::uint64_t seed, const PartitionOptions& options) {
    const WeightedGraph& graph = cells.graph();
    const std::vector<int>& vertex_piece = cells.vertex_piece();
    const std::size_t vertex_count = graph.node_count();
    const std::size_t pieces = cells.piece_households().size();
    std::vector<std::vector<std::uint32_t>> piece_members(pieces);
    for (std::uint32_t v = 0; v < vertex_count; ++v)
        if (vertex_piece[v] >= 0) piece_members[static_cast<std::size_t>(vertex_piece[v])].push_back(v);
    GraphPartitionOptions micro_options;
    micro_options.spanning_tree_trials = options.spanning_tree_trials;
    micro_options.refinement_passes = options.refinement_passes;
    micro_options.soft_barrier_weight = options.soft_barrier_weight;
    micro_options.compactness = options.compactness;
    micro_options.lower_bound = options.lower();
    micro_options.upper_bound = options.upper();
    micro_options.hard_minimum = options.hard_min_households;
    // The quality report's window: +-10 % of the region's target, in whole households.
    const WithinRange window = within_range(options.target_households);
    if (window.low <= window.high) {
        micro_options.window_low = static_cast<double>(window.low);
        micro_options.window_high = static_cast<double>(window.high);
    }
    GraphPartitionOptions grid_options = micro_options;
    grid_options.lower_bound = grid_options.upper_bound = grid_options.hard_minimum = 0;
    grid_options.window_low = grid_options.window_high = 0;
    // Grids are bisected, not regrown as well: their micro-grids are regrown, and the compactness
    // stage's pass across grid boundaries evens their shapes. Regrowing grids as well cost 0.7-1.6 s
    // of the whole city's CPU for Polsby-Popper within 0.0005 (bench/README.md, Fifth round).
    grid_options.growth_rounds = 0;
    // Nor do grids need the micro-grids' search effort: their cut is redone where it matters by
    // the micro-grids inside them and the pass across grid boundaries. Half the trees, half the
    // sweep directions and a third of the boundary passes take 8-12 % off the partition's CPU
    // (BM_Partition/district) with the same balance and compactness on forty generated cities
    // and the whole city (bench/README.md, Sixth round).
    grid_options.spanning_tree_trials = std::max(1, micro_options.spanning_tree_trials / 2);
    grid_options.sweep_directions = std::max(1, micro_options.sweep_directions / 2);
    grid_options.refinement_passes = std::max(1, micro_options.refinement_passes / 3);

    // Pieces are independent: in parallel (a whole city as one region has a thousand of them),
    // each into its own slot, numbered piece by piece afterwards, so threads do not change it.
    std::vector<PieceOutcome> outcomes(pieces);
    tbb::enumerable_thread_specific<std::vector<int>> locals([&] { return std::vector<int>(vertex_count, -1); });
    const bool with_grids = options.grid_households > 0 || options.grid_count > 0;
    // Count mode: the region's grids shared among its pieces by households.
    const std::vector<int> piece_grids =
        options.grid_count > 0 ? share_by_households(cells.piece_households(), options.grid_count) : std::vector<int>{};
    // One try at piece p: grids (when asked for), then micro-grids, from `try_seed`.
    const auto partition_piece = [&](std::size_t p, const WeightedGraph& piece_graph, std::uint64_t try_seed) {
        PieceOutcome outcome;
        const std::size_t member_count = piece_graph.node_count();
        const int count = cells.piece_counts()[p];
        if (!with_grids) {
            outcome.member_part = partition_connected_graph(piece_graph, count, mix(try_seed), micro_options);
            outcome.made = outcome.member_part.empty()
                               ? 0
                               : *std::max_element(outcome.member_part.begin(), outcome.member_part.end()) + 1;
            return outcome;
        }
        // Grids first, each of a whole number of micro-grids (as equal as can be) and weighted by
        // it, then each grid's micro-grids inside it: both levels balanced, micro-grids nested.
        const int by_size = options.grid_households > 0
                                ? static_cast<int>(std::lround(cells.piece_households()[p] / options.grid_households))
                                : 1;
        const int wanted_grids = std::clamp(piece_grids.empty() ? by_size : piece_grids[p], 1, count);
        std::vector<int> units(static_cast<std::size_t>(wanted_grids), count / wanted_grids);
        const int larger = count % wanted_grids;  // spread the larger grids evenly through the order
        for (int i = 0; i < larger; ++i)
            ++units[static_cast<std::size_t>(static_cast<long>(i) * wanted_grids / larger)];
        // A piece with more households than its micro-grids can hold within the bounds: a few of
        // them take the excess, the rest stay within the window (window_plan in
        // graph_partition.cpp, its edge target a quarter of the window inside the edge). The first
        // grid weighs the whole excess and its own plan spreads it, so the other grids' averages
        // lie inside the window (1,090 households in 11 as three grids of 99 each left 6 within).
        std::vector<double> shares;
        const double households = cells.piece_households()[p];
        const WithinRange bounds = bounds_range(micro_options.lower_bound, micro_options.upper_bound);
        if (wanted_grids > 1 && micro_options.window_high > micro_options.window_low && bounds.high > 0 &&
            households > static_cast<double>(count * bounds.high)) {
            const double edge = micro_options.window_high - (micro_options.window_high - micro_options.window_low) / 4;
            for (const int u : units) shares.push_back(u * edge);
            shares.front() += households - count * edge;
        }
        const std::vector<int> grid_of =
            partition_connected_graph(piece_graph, units, shares, mix(try_seed ^ 0x67726964ULL), grid_options);
        const int grids = grid_of.empty() ? 0 : *std::max_element(grid_of.begin(), grid_of.end()) + 1;
        std::vector<std::vector<std::uint32_t>> grid_members(static_cast<std::size_t>(grids));
        std::vector<int> grid_positive(static_cast<std::size_t>(grids), 0);
        for (std::size_t i = 0; i < member_count; ++i) {
            const auto g = static_cast<std::size_t>(grid_of[i]);
            grid_members[g].push_back(static_cast<std::uint32_t>(i));
            grid_positive[g] += piece_graph.node_weight[i] > 0 ? 1 : 0;
        }
        std::vector<int> grid_counts(units.begin(), units.begin() + grids);
        for (std::size_t g = 0; g < grid_counts.size(); ++g)
            grid_counts[g] = std::clamp(grid_counts[g], 1, std::max(1, grid_positive[g]));
        std::vector<int> piece_local(member_count, -1);
        outcome.member_part.assign(member_count, -1);
        for (int g = 0; g < grids; ++g) {
            const auto& inside = grid_members[static_cast<std::size_t>(g)];
            const WeightedGraph grid_graph = induced_subgraph(piece_graph, inside, piece_local);
            const std::vector<int> parts =
                partition_connected_graph(grid_graph, grid_counts[static_cast<std::size_t>(g)],
                                          mix(try_seed ^ mix(static_cast<std::uint64_t>(g) + 1)), micro_options);
            const int made = parts.empty() ? 0 : *std::max_element(parts.begin(), parts.end()) + 1;
            for (std::size_t i = 0; i < inside.size(); ++i) outcome.member_part[inside[i]] = outcome.made + parts[i];
            for (int m = 0; m < made; ++m) outcome.part_grid.push_back(g);
            outcome.made += made;
        }
        outcome.grids = grids;
        // Each grid's micro-grids were balanced inside it, so a grid a few households over its
        // share leaves its micro-grids outside the window with no neighbour in reach. Refined once
        // more across the grids of the piece (the grids follow their micro-grids), kept when more
        // micro-grids end within the window, none further beyond the bounds, every grid whole.
        if (grids > 1 && micro_options.window_high > 0)
            refine_across_grids(piece_graph, outcome.member_part, outcome.part_grid, micro_options);
        // Each grid's micro-grids were made compact inside it, against its fixed boundary; the
        // compactness stage once more over the piece lets them trade nodes across the grids'
        // boundaries too (the grids follow, each kept connected).
        if (grids > 1 && micro_options.window_high > 0 && piece_graph.has_shapes() &&
            static_cast<std::size_t>(outcome.made) == outcome.part_grid.size())
            improve_grouped_shapes(piece_graph, outcome.member_part, outcome.part_grid, micro_options);
        return outcome;
    };
    tbb::parallel_for(std::size_t{0}, pieces, [&](std::size_t p) {
        std::vector<int>& local = locals.local();
        const WeightedGraph piece_graph = induced_subgraph(graph, piece_members[p], local);
        const std::uint64_t piece_seed = seed ^ mix(p);
        outcomes[p] = partition_piece(p, piece_graph, piece_seed);
        // A piece with less room than its buildings need (910 households in 10 at a window of
        // 75-91: every micro-grid at exactly 91) is packed building by building, and where the
        // packing lands depends on the random trees: a piece that ends short of its bound is
        // partitioned again from other seeds, the best try kept (fewest micro-grids beyond the
        // bounds, then most within the window, then fewest households beyond, then the most
        // compact). Few pieces fall short on most cities, so the cost is small (bench/README.md,
        // "Second tries and forced pieces").
        constexpr int kExtraTries = 4;
        if (micro_options.window_high <= 0) return;
        const int count = cells.piece_counts()[p];
        const PieceScore first = piece_score(piece_graph, outcomes[p], micro_options);
        if (first.within >= count) return;
        const int bound = piece_bound(piece_graph, count, micro_options);
        if (first.within >= bound) return;
        PieceScore best = first;
        for (int t = 1; t <= kExtraTries && best.within < bound; ++t) {
            PieceOutcome candidate =
                partition_piece(p, piece_graph, piece_seed ^ mix(0x7472790000ULL + static_cast<std::uint64_t>(t)));
            const PieceScore score = piece_score(piece_graph, candidate, micro_options);
            if (score.better_than(best)) {
                best = score;
                outcomes[p] = std::move(candidate);
            }
        }
    });

    CellPartition result;
    result.vertex_part.assign(vertex_count, -1);
    for (std::size_t p = 0; p < pieces; ++p) {
        const PieceOutcome& outcome = outcomes[p];
        const std::vector<std::uint32_t>& members = piece_members[p];
        for (std::size_t i = 0; i < members.size(); ++i)
            result.vertex_part[members[i]] = result.part_count + outcome.member_part[i];
        for (int grid : outcome.part_grid) result.part_grid.push_back(result.grid_count + grid);
        result.part_count += outcome.made;
        result.grid_count += outcome.grids;
    }
    return result;
}

std::vector<int> partition_cells(const RegionCells& cells, std::uint64_t seed, const PartitionOptions& options,
                                 int* part_count) {
    CellPartition partition = partition_cells(cells, seed, options);
    if (part_count != nullptr) *part_count = partition.part_count;
    return std::move(partition.vertex_part);
}

RegionResult RegionCells::assemble(const std::vector<int>& vertex_part, int part_count) const {
    CellPartition partition;
    partition.vertex_part = vertex_part;
    partition.part_count = part_count;
    return assemble(partition);
}

// Long on purpose: steps 7-10 (targets, leftover land, polygons, sites and flags) read and fill
// one RegionResult in order; numbered below.
RegionResult RegionCells::assemble(const CellPartition& partition) const {
    const std::vector<int>& vertex_part = partition.vertex_part;
    const int part_count = partition.part_count;
    const State& state = *state_;
    const Context& context = state.context;
    const auto handle = context.handle();
    const std::vector<Geom>& atoms = state.atoms;
    const std::vector<std::size_t>& atom_face = state.atom_face;
    const std::vector<cells::AtomEdge>& adjacency = state.adjacency;
    const std::vector<std::uint32_t>& vertex_atom = state.vertex_atom;
    const std::size_t vertex_count = state.graph.node_count();
    if (vertex_part.size() != vertex_count)
        throw InternalError(kStage, "a partition of " + std::to_string(vertex_part.size()) +
                                        " vertices for a graph of " + std::to_string(vertex_count));
    RegionResult result;
    result.requested = state.requested;
    result.pieces = static_cast<int>(state.piece_households.size());
    result.faces = state.faces;
    result.site_micro_grid.assign(state.site_households.size(), -1);

    const PartitionOptions& options = state.options;
    const double lower = options.lower();
    const double upper = options.upper();

    // 7. Each part's piece and target: the piece's households shared by the parts in it.
    std::vector<int> atom_grid(atoms.size(), -1);
    std::vector<int> grid_piece(static_cast<std::size_t>(std::max(part_count, 0)), -1);
    for (std::size_t v = 0; v < vertex_count; ++v) {
        const int g = vertex_part[v];
        if (g < 0) continue;
        if (g >= part_count)
            throw InternalError(kStage,
                                "part " + std::to_string(g) + " beyond the part count " + std::to_string(part_count));
        atom_grid[vertex_atom[v]] = g;
        if (grid_piece[static_cast<std::size_t>(g)] < 0)
            grid_piece[static_cast<std::size_t>(g)] = state.vertex_piece[v];
    }
    std::vector<int> parts_in_piece(state.piece_households.size(), 0);
    for (int piece : grid_piece)
        if (piece >= 0) ++parts_in_piece[static_cast<std::size_t>(piece)];
    const double all_households = std::accumulate(state.piece_households.begin(), state.piece_households.end(), 0.0);
    std::vector<double> grid_target(grid_piece.size());
    for (std::size_t g = 0; g < grid_piece.size(); ++g)
        grid_target[g] = grid_piece[g] >= 0 ? state.piece_households[static_cast<std::size_t>(grid_piece[g])] /
                                                  parts_in_piece[static_cast<std::size_t>(grid_piece[g])]
                                            : all_households / std::max(part_count, 1);
    if (grid_piece.empty()) {  // no households anywhere in the region: one micro-grid covers it
        grid_piece.push_back(0);
        grid_target.push_back(0);
        if (vertex_count > 0)
            atom_grid[vertex_atom[0]] = 0;
        else
            atom_grid[0] = 0;
    }

    // 8. Leftover atoms (no households, fragments, water) join the neighbour with the longest
    // shared boundary, preferring their own face so no barrier separates them from it.
    std::vector<std::vector<std::pair<std::uint32_t, double>>> atom_neighbours(atoms.size());
    for (const cells::AtomEdge& e : adjacency) {
        atom_neighbours[e.a].emplace_back(e.b, e.length);
        atom_neighbours[e.b].emplace_back(e.a, e.length);
    }
    // In rounds, so that land grows from every side at the same pace (a park or a margin between
    // several micro-grids is shared among them, not flooded by the first one that reaches it).
    std::vector<std::uint32_t> frontier;
    std::vector<char> queued(atoms.size(), 0);
    auto enqueue_neighbours = [&](std::size_t a) {
        for (const auto& neighbour : atom_neighbours[a]) {
            const std::uint32_t b = neighbour.first;
            if (atom_grid[b] < 0 && !queued[b]) {
                queued[b] = 1;
                frontier.push_back(b);
            }
        }
    };
    for (std::size_t a = 0; a < atoms.size(); ++a)
        if (atom_grid[a] >= 0) enqueue_neighbours(a);
    while (!frontier.empty()) {
        std::sort(frontier.begin(), frontier.end());
        std::vector<std::pair<std::uint32_t, int>> decided;
        for (std::uint32_t a : frontier) {
            int best_grid = -1;
            double best_score = 0;
            for (const auto& [b, length] : atom_neighbours[a]) {
                const int g = atom_grid[b];
                if (g < 0) continue;
                const double score = length * (atom_face[a] == atom_face[b] ? 1e6 : 1.0);
                if (score > best_score || (score == best_score && g < best_grid)) {
                    best_score = score;
                    best_grid = g;
                }
            }
            if (best_grid >= 0) decided.emplace_back(a, best_grid);
        }
        for (const auto& [a, g] : decided) atom_grid[a] = g;
        frontier.clear();
        for (const auto& decision : decided) enqueue_neighbours(decision.first);
    }
    // Isolated islands: the nearest micro-grid. Many of them (units mode on scattered polygons
    // without households, where every pair would be measured) look up the nearest placed atom in
    // an STRtree of the atoms placed before; a few islands, as ever, measure every atom.
    std::vector<std::size_t> islands;
    for (std::size_t a = 0; a < atoms.size(); ++a)
        if (atom_grid[a] < 0) islands.push_back(a);
    constexpr double kMeasureAll = 1e7;  // island x atom distances
    if (static_cast<double>(islands.size()) * static_cast<double>(atoms.size()) > kMeasureAll) {
        std::unordered_map<const GEOSGeometry*, std::size_t> index_of;
        struct TreeDeleter {
            GEOSContextHandle_t context;
            void operator()(GEOSSTRtree* t) const noexcept { GEOSSTRtree_destroy_r(context, t); }
        };
        const std::unique_ptr<GEOSSTRtree, TreeDeleter> tree(GEOSSTRtree_create_r(handle, 10), TreeDeleter{handle});
        for (std::size_t b = 0; b < atoms.size(); ++b) {
            if (atom_grid[b] < 0) continue;
            GEOSSTRtree_insert_r(handle, tree.get(), atoms[b].get(), const_cast<GEOSGeometry*>(atoms[b].get()));
            index_of.emplace(atoms[b].get(), b);
        }
        std::vector<int> nearest_grid(islands.size(), -1);
        for (std::size_t i = 0; i < islands.size(); ++i) {
            const GEOSGeometry* nearest = GEOSSTRtree_nearest_r(handle, tree.get(), atoms[islands[i]].get());
            if (nearest != nullptr) nearest_grid[i] = atom_grid[index_of.at(nearest)];
        }
        for (std::size_t i = 0; i < islands.size(); ++i) atom_grid[islands[i]] = nearest_grid[i];
    }
    for (std::size_t a = 0; a < atoms.size(); ++a) {
        if (atom_grid[a] >= 0) continue;
        double best_distance = std::numeric_limits<double>::infinity();
        for (std::size_t b = 0; b < atoms.size(); ++b) {
            if (atom_grid[b] < 0) continue;
            double distance = 0;
            GEOSDistance_r(handle, atoms[a].get(), atoms[b].get(), &distance);
            if (distance < best_distance) {
                best_distance = distance;
                atom_grid[a] = atom_grid[b];
            }
        }
    }

    // 9. Polygons: the coverage union of each micro-grid's atoms, and of each grid's micro-grids.
    const std::size_t grid_count = grid_piece.size();
    std::vector<std::vector<std::size_t>> grid_atoms(grid_count);
    for (std::size_t a = 0; a < atoms.size(); ++a) grid_atoms[static_cast<std::size_t>(atom_grid[a])].push_back(a);
    result.micro_grids.resize(grid_count);
    // Grids as partitioned; a region without households, whose one micro-grid was made here, is
    // one grid when grids are asked for.
    std::vector<int> part_grid = partition.part_grid;
    int grid_level_count = partition.grid_count;
    if ((options.grid_households > 0 || options.grid_count > 0) && part_grid.size() != grid_count) {
        part_grid.assign(grid_count, 0);
        grid_level_count = 1;
    }
    const bool with_grids = !part_grid.empty() && part_grid.size() == grid_count;
    std::vector<std::vector<Geom>> grid_level_parts(with_grids ? static_cast<std::size_t>(grid_level_count) : 0);
    // Unions in parallel, each thread with its own GEOS context; polygons kept for the grids move
    // to this region's context (handles only report errors; all share one geometry factory).
    tbb::enumerable_thread_specific<Context> union_contexts;
    std::vector<Geom> micro_polygons(with_grids ? grid_count : 0);
    tbb::parallel_for(std::size_t{0}, grid_count, [&](std::size_t g) {
        const Context& local = union_contexts.local();
        MicroGridShape& shape = result.micro_grids[g];
        shape.piece = grid_piece[g];
        shape.target = grid_target[g];
        std::vector<const GEOSGeometry*> cells;
        cells.reserve(grid_atoms[g].size());
        for (std::size_t a : grid_atoms[g]) cells.push_back(atoms[a].get());
        bool multipart = false;
        Geom polygon = union_of_cover(local, cells, multipart);
        if (multipart) shape.flags |= static_cast<std::uint8_t>(Flag::multipart);
        if (!geos::is_empty(local, polygon.get())) shape.label_point = geos::point_on_surface(local, polygon.get());
        shape.polygon = geos::to_wkb(local, polygon.get());
        if (with_grids) {
            shape.grid = part_grid[g];
            micro_polygons[g] = Geom(polygon.release(), geos::GeomDeleter{handle});
        }
    });
    for (std::size_t g = 0; g < micro_polygons.size(); ++g)
        grid_level_parts[static_cast<std::size_t>(result.micro_grids[g].grid)].push_back(std::move(micro_polygons[g]));
    result.grids.resize(grid_level_parts.size());
    tbb::parallel_for(std::size_t{0}, grid_level_parts.size(), [&](std::size_t g) {
        const Context& local = union_contexts.local();
        GridShape& grid = result.grids[g];
        std::vector<const GEOSGeometry*> parts;
        for (const Geom& part : grid_level_parts[g]) parts.push_back(part.get());
        bool multipart = false;
        const Geom polygon = union_of_cover(local, parts, multipart);
        grid.multipart = multipart;
        if (!geos::is_empty(local, polygon.get())) grid.label_point = geos::point_on_surface(local, polygon.get());
        grid.polygon = geos::to_wkb(local, polygon.get());
    });
    for (const MicroGridShape& shape : result.micro_grids) {
        if (shape.grid < 0) continue;
        GridShape& grid = result.grids[static_cast<std::size_t>(shape.grid)];
        grid.micro_grids += 1;
        grid.piece = shape.piece;
    }

    // 10. Sites, households and flags.
    std::vector<std::int64_t> grid_largest_site(grid_count, 0);
    for (std::size_t s = 0; s < state.site_households.size(); ++s) {
        const std::uint32_t vertex = state.site_vertex[s];
        const int g = atom_grid[vertex_atom[vertex]];
        result.site_micro_grid[s] = g;
        result.micro_grids[static_cast<std::size_t>(g)].households += state.site_households[s];
        grid_largest_site[static_cast<std::size_t>(g)] =
            std::max(grid_largest_site[static_cast<std::size_t>(g)], state.site_households[s]);
    }
    for (std::size_t g = 0; g < grid_count; ++g) {
        MicroGridShape& shape = result.micro_grids[g];
        const auto households = static_cast<double>(shape.households);
        if (state.piece_households.empty()) {
            shape.flags |= static_cast<std::uint8_t>(Flag::no_households);
            continue;
        }
        if (households >= lower && households <= upper) continue;
        if (static_cast<double>(grid_largest_site[g]) > upper)
            shape.flags |= static_cast<std::uint8_t>(Flag::large_building);
        else if (shape.target < lower || shape.target > upper)
            shape.flags |= static_cast<std::uint8_t>(Flag::forced_by_boundaries);
        else
            shape.flags |= static_cast<std::uint8_t>(Flag::out_of_bounds);
    }
    if (!result.grids.empty()) {
        std::vector<int> grids_in_piece(state.piece_households.size(), 0);
        for (const MicroGridShape& shape : result.micro_grids)
            if (shape.grid >= 0) result.grids[static_cast<std::size_t>(shape.grid)].households += shape.households;
        for (const GridShape& grid : result.grids)
            if (grid.piece >= 0 && static_cast<std::size_t>(grid.piece) < grids_in_piece.size())
                ++grids_in_piece[static_cast<std::size_t>(grid.piece)];
        for (GridShape& grid : result.grids)
            if (grid.piece >= 0 && static_cast<std::size_t>(grid.piece) < grids_in_piece.size())
                grid.target = state.piece_households[static_cast<std::size_t>(grid.piece)] /
                              grids_in_piece[static_cast<std::size_t>(grid.piece)];
    }
    return result;
}

RegionResult partition_region(const RegionInput& input) {
    RegionResult result;
    {
        const RegionCells cells(input);
        result = cells.assemble(partition_cells(cells, input.seed, input.options));
    }
    // A detailed outline's transient vectors (millions of points) are handed back.
    constexpr std::size_t kBytesPerVertex = 16;  // WKB, 2D
    if (input.boundary.size() > kBytesPerVertex * kDetailedOutline) detail::release_free_memory();
    return result;
}

std::vector<Point> split_locations(const Wkb& footprint, int count) {
    Context context;
    count = std::max(count, 1);
    const Geom shape = geos::from_wkb(context, footprint);
    const Point centre = geos::point_on_surface(context, shape.get());
    if (count == 1) return {centre};
    // Long axis of the minimum rotated rectangle.
    const Geom rectangle = geos::own(context, GEOSMinimumRotatedRectangle_r(context.handle(), shape.get()),
                                     "computing a rotated rectangle");
    std::vector<Point> corners;
    if (GEOSGeomTypeId_r(context.handle(), rectangle.get()) == GEOS_POLYGON) {
        const GEOSCoordSequence* sequence =
            GEOSGeom_getCoordSeq_r(context.handle(), GEOSGetExteriorRing_r(context.handle(), rectangle.get()));
        unsigned size = 0;
        GEOSCoordSeq_getSize_r(context.handle(), sequence, &size);
        for (unsigned i = 0; i < size; ++i) {
            Point p;
            GEOSCoordSeq_getXY_r(context.handle(), sequence, i, &p.x, &p.y);
            corners.push_back(p);
        }
    }
    // A lattice over the rectangle, as many columns along the long side as its shape asks, so the
    // pieces a micro-grid takes together make a compact block, not a thin slice across the building.
    Point axis{1, 0}, across{0, 1};
    double half_length = 1.0, half_width = 1.0;
    if (corners.size() >= 4) {
        const Point a = corners[0], b = corners[1], c = corners[2];
        const double ab = std::hypot(b.x - a.x, b.y - a.y), bc = std::hypot(c.x - b.x, c.y - b.y);
        if (ab > 0 && bc > 0) {
            const bool first_longer = ab >= bc;
            axis = first_longer ? Point{(b.x - a.x) / ab, (b.y - a.y) / ab} : Point{(c.x - b.x) / bc, (c.y - b.y) / bc};
            across =
                first_longer ? Point{(c.x - b.x) / bc, (c.y - b.y) / bc} : Point{(b.x - a.x) / ab, (b.y - a.y) / ab};
            half_length = std::max(ab, bc) / 2;
            half_width = std::min(ab, bc) / 2;
        }
    }
    const double aspect = half_length / std::max(half_width, 1e-9);
    const int columns = std::clamp(static_cast<int>(std::lround(std::sqrt(count * aspect))), 1, count);
    const int rows = (count + columns - 1) / columns;
    const Point middle = geos::centroid(context, rectangle.get());
    const geos::Prepared prepared = geos::prepare(context, shape.get());
    std::vector<Point> result;
    for (int i = 0; i < count; ++i) {
        const int row = i / columns;
        const int in_row = i % columns;
        const int column = row % 2 == 0 ? in_row : columns - 1 - in_row;  // serpentine: neighbours stay close
        const int in_this_row = row == rows - 1 ? count - row * columns : columns;
        const double u = ((column + 0.5) / std::max(in_this_row, 1) - 0.5) * 2.0 * half_length * 0.9;
        const double v = ((row + 0.5) / rows - 0.5) * 2.0 * half_width * 0.9;
        Point p{middle.x + axis.x * u + across.x * v, middle.y + axis.y * u + across.y * v};
        const Geom probe = geos::point(context, p);
        // Irregular shapes: fall back to distinct points beside the point on surface.
        if (GEOSPreparedContains_r(context.handle(), prepared.get(), probe.get()) != 1)
            p = Point{centre.x + axis.x * 0.01 * i, centre.y + axis.y * 0.01 * i};
        result.push_back(p);
    }
    return result;
}

}  // namespace civgrid::algorithms
