// civgrid_compare: partitions the adjacency graphs civgrid builds for a city with ONE method —
// civgrid, or METIS 5.1 (k-way, k-way with contiguity, recursive bisection) — and prints one JSON
// object of quality measures and partition timings on stdout. bench/compare_metis.py runs it once
// per method, each in its own process: Debian's METIS draws from the C library's rand(), so two
// methods in one process would not be independent, and one METIS crash would take both down.
//
// Every method gets the same input: the graph of algorithms::RegionCells (vertices = Voronoi atoms
// holding sites, weight = households; edges = boundaries shared inside one face, never across a
// hard barrier), restricted to the vertices of pieces with households, and the same k = the parts
// civgrid requests (RegionCells::piece_counts, summed per community, or per piece). METIS gets
// vertex weights = households and edge weights = shared boundary length in metres rounded to an
// integer >= 1. Every measure below is computed by the same code for every method:
//   - time of the partition step alone (graph to vertex parts, including building the method's
//     input arrays), summed over communities, one thread, median of --repeat runs;
//   - empty parts, parts not connected in the graph, parts whose polygon has several parts;
//   - balance against the nominal target (as civgrid's quality report): share within +-10 % and
//     +-20 %, max deviation excluding forced parts (one graph rule for all methods, forced_parts);
//   - edge cut (shared boundary length and edge count between different parts), and the share of
//     that length on edges crossing a minor road (boundaries that follow roads; civgrid's soft cost);
//   - Polsby-Popper 4 pi A / P^2 of the parts' polygons (RegionCells::assemble), mean and p10.
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/graph_partition.hpp>
#include <civgrid/algorithms/region_partition.hpp>
#include <civgrid/engine/config.hpp>
#include <civgrid/engine/pipeline.hpp>
#include <civgrid/error.hpp>

#include <metis.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <unistd.h>
#include <boost/program_options.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>
#include <numbers>
#include <numeric>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace po = boost::program_options;
using namespace civgrid;

namespace {

constexpr const char* kStage = "bench.compare";

enum class Method { civgrid, metis_kway, metis_kway_contig, metis_rb };

Method parse_method(const std::string& name) {
    if (name == "civgrid") return Method::civgrid;
    if (name == "metis-kway") return Method::metis_kway;
    if (name == "metis-kway-contig") return Method::metis_kway_contig;
    if (name == "metis-rb") return Method::metis_rb;
    throw ConfigError(kStage, "unknown method '" + name + "' (civgrid, metis-kway, metis-kway-contig, metis-rb)");
}

struct Settings {
    std::string city;
    std::string method_name = "civgrid";
    Method method = Method::civgrid;
    double target_households = 83.0;
    double tolerance = 0.2;
    std::uint64_t seed = 0;
    int ufactor = 30;         // METIS: max part weight <= (1 + ufactor / 1000) * average
    bool whole_city = false;  // METIS k-way / RB: one call on the union of all communities' graphs
    bool per_piece = false;   // METIS k-way / RB: one call per piece instead of per community
    int repeat = 3;           // timed partition runs; the median is reported
    int threads = 0;          // untimed stages (cells, polygons); 0 = all cores
};

// ---- timing --------------------------------------------------------------------------------------

double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

/// Wall and CPU time of the calling thread since construction.
class Stopwatch {
public:
    [[nodiscard]] double wall() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start_).count();
    }
    [[nodiscard]] double cpu() const { return thread_cpu_seconds() - cpu_start_; }

private:
    std::chrono::steady_clock::time_point wall_start_ = std::chrono::steady_clock::now();
    double cpu_start_ = thread_cpu_seconds();
};

double median(std::vector<double> values) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// ---- METIS ---------------------------------------------------------------------------------------

/// A graph in METIS's CSR arrays.
struct MetisGraph {
    std::vector<idx_t> xadj{0}, adjncy, vwgt, adjwgt;
    [[nodiscard]] idx_t vertices() const { return static_cast<idx_t>(vwgt.size()); }
};

idx_t edge_weight(double shared_length) {
    return std::max<idx_t>(1, static_cast<idx_t>(std::lround(shared_length)));
}

/// Appends the vertices `members` of `graph` (a set closed under adjacency: a piece, or all pieces
/// of a region) to `out`, in that order. `local` has one slot per graph vertex, all -1; it is
/// left that way.
void append_vertices(MetisGraph& out, const algorithms::WeightedGraph& graph, const std::vector<std::uint32_t>& members,
                     std::vector<idx_t>& local) {
    const idx_t base = out.vertices();
    for (std::size_t i = 0; i < members.size(); ++i) local[members[i]] = base + static_cast<idx_t>(i);
    for (std::uint32_t v : members) {
        out.vwgt.push_back(static_cast<idx_t>(graph.node_weight[v]));
        for (std::uint32_t e = graph.offsets[v]; e < graph.offsets[v + 1]; ++e) {
            const idx_t u = local[graph.neighbours[e]];
            if (u < 0) continue;  // outside the set: cannot happen for pieces, kept for safety
            out.adjncy.push_back(u);
            out.adjwgt.push_back(edge_weight(graph.shared_length[e]));
        }
        out.xadj.push_back(static_cast<idx_t>(out.adjncy.size()));
    }
    for (std::uint32_t v : members) local[v] = -1;
}

struct MetisCall {
    int status = METIS_OK;  // METIS_OK, METIS_ERROR_INPUT, METIS_ERROR_MEMORY, METIS_ERROR, or kInvalidLabels
    double seconds = 0;     // the METIS function alone
    bool trivial = false;   // k = 1: every vertex in part 0 without calling METIS
};
constexpr int kInvalidLabels = -100;

const char* status_text(int status) {
    switch (status) {
        case METIS_OK:
            return "ok";
        case METIS_ERROR_INPUT:
            return "METIS_ERROR_INPUT";
        case METIS_ERROR_MEMORY:
            return "METIS_ERROR_MEMORY";
        case METIS_ERROR:
            return "METIS_ERROR";
        case kInvalidLabels:
            return "labels outside 0..k-1";
        default:
            return "unknown status";
    }
}

/// Partitions `graph` into `k` parts with METIS; `part` gets a label per vertex (-1 on failure).
MetisCall run_metis(Method method, MetisGraph& graph, int k, const Settings& settings, std::vector<idx_t>& part) {
    MetisCall call;
    idx_t vertices = graph.vertices();
    part.assign(static_cast<std::size_t>(vertices), 0);
    if (vertices == 0) return call;
    if (k <= 1) {
        // METIS 5.1 cannot do this one: k-way divides by zero (SIGFPE) and recursive bisection
        // labels every vertex 1. One part is every vertex, for every method.
        call.trivial = true;
        return call;
    }
    std::array<idx_t, METIS_NOPTIONS> options{};
    METIS_SetDefaultOptions(options.data());
    options[METIS_OPTION_NUMBERING] = 0;
    options[METIS_OPTION_UFACTOR] = settings.ufactor;
    options[METIS_OPTION_SEED] = static_cast<idx_t>(settings.seed & 0x7fffffff);
    if (method == Method::metis_kway_contig) options[METIS_OPTION_CONTIG] = 1;
    idx_t constraints = 1, parts = k, objective = 0;
    idx_t no_edge = 0;  // METIS reads adjncy even when a graph has no edge
    idx_t* adjncy = graph.adjncy.empty() ? &no_edge : graph.adjncy.data();
    idx_t* adjwgt = graph.adjwgt.empty() ? &no_edge : graph.adjwgt.data();
    const Stopwatch watch;
    if (method == Method::metis_rb)
        call.status =
            METIS_PartGraphRecursive(&vertices, &constraints, graph.xadj.data(), adjncy, graph.vwgt.data(), nullptr,
                                     adjwgt, &parts, nullptr, nullptr, options.data(), &objective, part.data());
    else
        call.status =
            METIS_PartGraphKway(&vertices, &constraints, graph.xadj.data(), adjncy, graph.vwgt.data(), nullptr, adjwgt,
                                &parts, nullptr, nullptr, options.data(), &objective, part.data());
    call.seconds = watch.wall();
    if (call.status == METIS_OK && std::any_of(part.begin(), part.end(), [k](idx_t p) { return p < 0 || p >= k; }))
        call.status = kInvalidLabels;
    if (call.status != METIS_OK) std::fill(part.begin(), part.end(), -1);
    return call;
}

// ---- the partition step --------------------------------------------------------------------------

struct Failure {
    std::string region;  // community code
    int piece = -1;      // -1: the call was on the whole community (or city)
    int k = 0;
    int vertices = 0;
    std::string status;
};

/// One method's partition of every region: per region, per vertex, a global part in
/// 0 .. part_count - 1 (-1 = in no part: pieces without households, or a failed call).
struct Partition {
    std::vector<std::vector<int>> vertex_part;
    int calls = 0, trivial_calls = 0;
    double metis_seconds = 0;
    double refused_seconds = 0;  // a whole-city contiguity call METIS refused (not in the partition time)
    std::vector<Failure> failures;
    friend bool operator==(const Partition& a, const Partition& b) { return a.vertex_part == b.vertex_part; }
};

struct Problem {
    const engine::City* city = nullptr;
    std::vector<algorithms::RegionInput> inputs;
    std::vector<std::optional<algorithms::RegionCells>> cells;
    std::vector<int> part_offset;  // first global part of each region
    int part_count = 0;            // parts requested in all: sum of piece_counts
};

std::vector<std::vector<std::uint32_t>> piece_members(const algorithms::RegionCells& cells) {
    std::vector<std::vector<std::uint32_t>> members(cells.piece_counts().size());
    const std::vector<int>& piece = cells.vertex_piece();
    for (std::uint32_t v = 0; v < piece.size(); ++v)
        if (piece[v] >= 0) members[static_cast<std::size_t>(piece[v])].push_back(v);
    return members;
}

std::vector<std::uint32_t> region_members(const algorithms::RegionCells& cells) {
    std::vector<std::uint32_t> members;
    const std::vector<int>& piece = cells.vertex_piece();
    for (std::uint32_t v = 0; v < piece.size(); ++v)
        if (piece[v] >= 0) members.push_back(v);
    return members;
}

/// METIS on one community: one call on all its pieces with k = the community's parts, or one call
/// per piece with k = the piece's parts (always so for contiguity: METIS refuses a disconnected graph).
void metis_region(const Problem& problem, std::size_t r, const Settings& settings, Partition& out) {
    const algorithms::RegionCells& cells = *problem.cells[r];
    const algorithms::WeightedGraph& graph = cells.graph();
    std::vector<int>& vertex_part = out.vertex_part[r];
    vertex_part.assign(graph.node_count(), -1);
    std::vector<idx_t> local(graph.node_count(), -1);
    std::vector<idx_t> part;
    auto call = [&](const std::vector<std::uint32_t>& members, int k, int first_part, int piece) {
        MetisGraph input;
        append_vertices(input, graph, members, local);
        const MetisCall result = run_metis(settings.method, input, k, settings, part);
        ++out.calls;
        out.trivial_calls += result.trivial ? 1 : 0;
        out.metis_seconds += result.seconds;
        if (result.status != METIS_OK)
            out.failures.push_back({problem.city->regions[r].code, piece, k, static_cast<int>(members.size()),
                                    status_text(result.status)});
        for (std::size_t i = 0; i < members.size(); ++i)
            vertex_part[members[i]] = part[i] < 0 ? -1 : first_part + static_cast<int>(part[i]);
    };
    const std::vector<int>& counts = cells.piece_counts();
    if (settings.per_piece || settings.method == Method::metis_kway_contig) {
        const auto members = piece_members(cells);
        int first = problem.part_offset[r];
        for (std::size_t p = 0; p < members.size(); ++p) {
            call(members[p], counts[p], first, static_cast<int>(p));
            first += counts[p];
        }
    } else {
        call(region_members(cells), std::accumulate(counts.begin(), counts.end(), 0), problem.part_offset[r], -1);
    }
}

/// METIS on the whole city as one graph (the communities' graphs side by side), k = all parts.
void metis_city(const Problem& problem, const Settings& settings, Partition& out) {
    const std::size_t regions = problem.cells.size();
    MetisGraph input;
    std::vector<std::vector<std::uint32_t>> members(regions);
    for (std::size_t r = 0; r < regions; ++r) {
        out.vertex_part[r].assign(problem.cells[r] ? problem.cells[r]->graph().node_count() : 0, -1);
        if (!problem.cells[r]) continue;
        std::vector<idx_t> local(problem.cells[r]->graph().node_count(), -1);
        members[r] = region_members(*problem.cells[r]);
        append_vertices(input, problem.cells[r]->graph(), members[r], local);
    }
    std::vector<idx_t> part;
    const MetisCall result = run_metis(settings.method, input, problem.part_count, settings, part);
    ++out.calls;
    out.trivial_calls += result.trivial ? 1 : 0;
    out.metis_seconds += result.seconds;
    if (result.status != METIS_OK)
        out.failures.push_back(
            {"(whole city)", -1, problem.part_count, static_cast<int>(input.vertices()), status_text(result.status)});
    std::size_t i = 0;
    for (std::size_t r = 0; r < regions; ++r)
        for (std::uint32_t v : members[r]) out.vertex_part[r][v] = static_cast<int>(part[i++]);
}

Partition partition_all(const Problem& problem, const Settings& settings) {
    const std::size_t regions = problem.cells.size();
    Partition out;
    out.vertex_part.resize(regions);
    if (settings.method == Method::civgrid) {
        // civgrid splits piece by piece in every scope: the whole city is the same computation.
        for (std::size_t r = 0; r < regions; ++r) {
            if (!problem.cells[r]) continue;
            const algorithms::RegionInput& input = problem.inputs[r];
            int made = 0;
            std::vector<int> part = algorithms::partition_cells(*problem.cells[r], input.seed, input.options, &made);
            ++out.calls;
            for (int& p : part)
                if (p >= 0) p += problem.part_offset[r];
            out.vertex_part[r] = std::move(part);
        }
        return out;
    }
    if (settings.whole_city && settings.method != Method::metis_kway_contig) {
        metis_city(problem, settings, out);
        return out;
    }
    if (settings.whole_city) {
        // Asked for the whole city with contiguity, METIS refuses: the city's graph is not
        // connected (no edge crosses a community line or a hard barrier). Shown, then piece by piece.
        Partition refused;
        refused.vertex_part.resize(regions);
        const Stopwatch watch;
        metis_city(problem, settings, refused);
        out.refused_seconds = watch.wall();
        out.failures = std::move(refused.failures);
        out.calls = refused.calls;
    }
    for (std::size_t r = 0; r < regions; ++r)
        if (problem.cells[r]) metis_region(problem, r, settings, out);
    return out;
}

// ---- measures ------------------------------------------------------------------------------------

struct RegionPolygons {
    std::vector<int> part;  // global part of each micro-grid
    std::vector<double> area, perimeter;
    std::vector<int> polygons;  // polygon parts
    int civgrid_flagged = 0;    // assemble's own forced flags (civgrid's site-level rule), for information
};

/// The parts' polygons of one region, from RegionCells::assemble. assemble needs every part it is
/// given to hold a vertex (an empty part throws in point_on_surface), so the parts present are
/// renumbered 0 .. m-1 first; the empty ones are counted from the graph.
RegionPolygons region_polygons(const algorithms::RegionCells& cells, const std::vector<int>& vertex_part,
                               const geos::Context& context) {
    RegionPolygons out;
    std::vector<int> present;
    for (int p : vertex_part)
        if (p >= 0) present.push_back(p);
    std::sort(present.begin(), present.end());
    present.erase(std::unique(present.begin(), present.end()), present.end());
    if (present.empty()) return out;
    std::vector<int> local(vertex_part.size(), -1);
    for (std::size_t v = 0; v < vertex_part.size(); ++v)
        if (vertex_part[v] >= 0)
            local[v] =
                static_cast<int>(std::lower_bound(present.begin(), present.end(), vertex_part[v]) - present.begin());
    const algorithms::RegionResult result = cells.assemble(local, static_cast<int>(present.size()));
    constexpr std::uint8_t kForced = static_cast<std::uint8_t>(algorithms::Flag::forced_by_boundaries) |
                                     static_cast<std::uint8_t>(algorithms::Flag::large_building) |
                                     static_cast<std::uint8_t>(algorithms::Flag::no_households);
    for (std::size_t g = 0; g < result.micro_grids.size() && g < present.size(); ++g) {
        const geos::Geom polygon = geos::from_wkb(context, result.micro_grids[g].polygon);
        out.part.push_back(present[g]);
        out.area.push_back(geos::area(context, polygon.get()));
        out.perimeter.push_back(geos::length(context, polygon.get()));
        out.polygons.push_back(
            geos::is_empty(context, polygon.get()) ? 0 : GEOSGetNumGeometries_r(context.handle(), polygon.get()));
        out.civgrid_flagged += (result.micro_grids[g].flags & kForced) != 0 ? 1 : 0;
    }
    return out;
}

struct Measures {
    int requested = 0, nonempty = 0, empty = 0;
    int non_contiguous_graph = 0, non_contiguous_polygons = 0;
    int forced = 0, forced_out_of_bounds = 0, civgrid_flagged = 0;
    int spanning_regions = 0;  // parts in more than one community (whole-city METIS)
    double within_10 = 0, within_20 = 0, within_bounds = 0;
    double max_deviation = 0, max_deviation_unforced = 0;
    double cut_length = 0, total_length = 0;
    double cut_soft_length = 0;  // cut along minor roads (edges crossing a soft barrier)
    std::int64_t cut_edges = 0, total_edges = 0;
    double pp_mean = 0, pp_p10 = 0;
    int pp_parts = 0;
};

std::uint32_t find_root(std::vector<std::uint32_t>& parent, std::uint32_t v) {
    while (parent[v] != v) {
        parent[v] = parent[parent[v]];
        v = parent[v];
    }
    return v;
}

Measures measure(const Problem& problem, const Partition& partition, const std::vector<RegionPolygons>& polygons,
                 const Settings& settings) {
    Measures m;
    const auto parts = static_cast<std::size_t>(problem.part_count);
    m.requested = problem.part_count;
    const double target = settings.target_households;
    const double lower = target * (1.0 - settings.tolerance), upper = target * (1.0 + settings.tolerance);
    std::vector<std::int64_t> households(parts, 0);
    std::vector<int> components(parts, 0);
    std::vector<char> forced(parts, 0);
    std::vector<int> part_regions(parts, 0), last_region(parts, -1);
    for (std::size_t r = 0; r < problem.cells.size(); ++r) {
        if (!problem.cells[r]) continue;
        const algorithms::RegionCells& cells = *problem.cells[r];
        const algorithms::WeightedGraph& graph = cells.graph();
        const std::vector<int>& part = partition.vertex_part[r];
        // Forced, one rule for every method: a part holding a vertex heavier than the upper bound,
        // or a vertex of a piece whose households / parts lies outside the bounds.
        std::vector<char> piece_forced(cells.piece_counts().size(), 0);
        for (std::size_t p = 0; p < piece_forced.size(); ++p) {
            const double piece_target = cells.piece_households()[p] / std::max(1, cells.piece_counts()[p]);
            piece_forced[p] = piece_target < lower || piece_target > upper ? 1 : 0;
        }
        std::vector<std::uint32_t> parent(graph.node_count());
        std::iota(parent.begin(), parent.end(), 0U);
        for (std::uint32_t v = 0; v < graph.node_count(); ++v) {
            const int pv = part[v];
            if (pv < 0) continue;
            households[static_cast<std::size_t>(pv)] += graph.node_weight[v];
            if (last_region[static_cast<std::size_t>(pv)] != static_cast<int>(r)) {
                last_region[static_cast<std::size_t>(pv)] = static_cast<int>(r);
                ++part_regions[static_cast<std::size_t>(pv)];
            }
            const int piece = cells.vertex_piece()[v];
            if (static_cast<double>(graph.node_weight[v]) > upper ||
                (piece >= 0 && piece_forced[static_cast<std::size_t>(piece)] != 0))
                forced[static_cast<std::size_t>(pv)] = 1;
            for (std::uint32_t e = graph.offsets[v]; e < graph.offsets[v + 1]; ++e) {
                const std::uint32_t u = graph.neighbours[e];
                if (u <= v || part[u] < 0) continue;
                ++m.total_edges;
                m.total_length += graph.shared_length[e];
                if (part[u] == pv) {
                    parent[find_root(parent, u)] = find_root(parent, v);
                } else {
                    ++m.cut_edges;
                    m.cut_length += graph.shared_length[e];
                    if (graph.crosses_soft[e] != 0) m.cut_soft_length += graph.shared_length[e];
                }
            }
        }
        for (std::uint32_t v = 0; v < graph.node_count(); ++v)
            if (part[v] >= 0 && find_root(parent, v) == v) ++components[static_cast<std::size_t>(part[v])];
    }
    for (std::size_t p = 0; p < parts; ++p) {
        const double h = static_cast<double>(households[p]);
        const double deviation = std::abs(h - target) / target;
        m.empty += households[p] == 0 ? 1 : 0;
        m.non_contiguous_graph += components[p] > 1 ? 1 : 0;
        m.spanning_regions += part_regions[p] > 1 ? 1 : 0;
        m.forced += forced[p];
        m.forced_out_of_bounds += forced[p] != 0 && (h < lower || h > upper) ? 1 : 0;
        m.within_10 += deviation <= 0.10 + 1e-12 ? 1 : 0;
        m.within_20 += deviation <= 0.20 + 1e-12 ? 1 : 0;
        m.within_bounds += deviation <= settings.tolerance + 1e-12 ? 1 : 0;
        m.max_deviation = std::max(m.max_deviation, deviation);
        if (forced[p] == 0) m.max_deviation_unforced = std::max(m.max_deviation_unforced, deviation);
    }
    m.nonempty = m.requested - m.empty;
    const double count = std::max(1.0, static_cast<double>(parts));
    m.within_10 /= count;
    m.within_20 /= count;
    m.within_bounds /= count;

    // Polygons: a part spread over several communities (whole-city METIS) sums its areas,
    // perimeters and polygon parts.
    std::vector<double> area(parts, 0), perimeter(parts, 0);
    std::vector<int> polygon_parts(parts, 0);
    for (const RegionPolygons& region : polygons) {
        m.civgrid_flagged += region.civgrid_flagged;
        for (std::size_t i = 0; i < region.part.size(); ++i) {
            const auto p = static_cast<std::size_t>(region.part[i]);
            area[p] += region.area[i];
            perimeter[p] += region.perimeter[i];
            polygon_parts[p] += region.polygons[i];
        }
    }
    std::vector<double> compactness;
    for (std::size_t p = 0; p < parts; ++p) {
        m.non_contiguous_polygons += polygon_parts[p] > 1 ? 1 : 0;
        if (perimeter[p] > 0) compactness.push_back(4 * std::numbers::pi * area[p] / (perimeter[p] * perimeter[p]));
    }
    m.pp_parts = static_cast<int>(compactness.size());
    if (!compactness.empty()) {
        m.pp_mean =
            std::accumulate(compactness.begin(), compactness.end(), 0.0) / static_cast<double>(compactness.size());
        std::sort(compactness.begin(), compactness.end());
        m.pp_p10 = compactness[static_cast<std::size_t>(
            0.1 * static_cast<double>(compactness.size() - 1))];  // as the quality report
    }
    return m;
}

// ---- JSON ----------------------------------------------------------------------------------------

std::string quoted(const std::string& text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char buffer[8];
            std::snprintf(buffer, sizeof buffer, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
            out += buffer;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

/// A JSON object written member by member, in order.
class JsonObject {
public:
    JsonObject& raw(const std::string& key, const std::string& value) {
        text_ += (text_.empty() ? "{" : ", ") + quoted(key) + ": " + value;
        return *this;
    }
    JsonObject& add(const std::string& key, const std::string& value) { return raw(key, quoted(value)); }
    JsonObject& add(const std::string& key, const char* value) { return raw(key, quoted(value)); }
    JsonObject& add(const std::string& key, bool value) { return raw(key, value ? "true" : "false"); }
    JsonObject& add(const std::string& key, std::int64_t value) { return raw(key, std::to_string(value)); }
    JsonObject& add(const std::string& key, int value) { return raw(key, std::to_string(value)); }
    JsonObject& add(const std::string& key, double value) {
        char buffer[64];
        std::snprintf(buffer, sizeof buffer, "%.6g", std::isfinite(value) ? value : 0.0);
        return raw(key, buffer);
    }
    [[nodiscard]] std::string str() const { return text_.empty() ? "{}" : text_ + "}"; }

private:
    std::string text_;
};

struct FileCloser {
    void operator()(std::FILE* file) const noexcept {
        if (file != nullptr) std::fclose(file);
    }
};

int run(const Settings& settings, std::FILE* json_out) {
    const Stopwatch total;
    engine::PartitionConfig config;
    config.city = settings.city;
    config.target_households = settings.target_households;
    config.tolerance = settings.tolerance;
    config.seed = settings.seed;
    config.threads = settings.threads;
    // One level, as METIS makes: civgrid's grids (网格) nest micro-grids in grids, a constraint
    // METIS does not have; the comparison is of micro-grids alone.
    config.grid_households = 0;
    tbb::task_arena arena(settings.threads > 0 ? settings.threads : tbb::task_arena::automatic);

    // 1. Load, and each community's problem as civgrid's pipeline poses it (untimed for the comparison).
    Stopwatch watch;
    const engine::City city = engine::load_city(config);
    engine::RegionProblems problems = engine::region_problems(city, config);
    const double load_seconds = watch.wall();
    std::cerr << "civgrid_compare: " << settings.method_name << ": loaded " << city.regions.size() << " regions ("
              << city.region_level << " level, " << load_seconds << " s)\n";

    // 2. The cells and the graph of every community, in parallel (untimed).
    watch = Stopwatch();
    Problem problem;
    problem.city = &city;
    problem.inputs = std::move(problems.inputs);
    const std::size_t regions = problem.inputs.size();
    problem.cells.resize(regions);
    std::vector<std::string> errors(regions);
    arena.execute([&] {
        tbb::parallel_for(std::size_t{0}, regions, [&](std::size_t r) {
            try {
                algorithms::RegionCells cells(problem.inputs[r]);
                if (!cells.piece_counts().empty())
                    problem.cells[r].emplace(std::move(cells));  // no households: no part, for any method
            } catch (const Error& error) {
                errors[r] = error.what();
            }
        });
    });
    for (std::size_t r = 0; r < regions; ++r)
        if (!errors[r].empty())
            throw InputError(kStage, city.region_level + " '" + city.regions[r].code + "': " + errors[r]);
    problem.part_offset.assign(regions, 0);
    std::int64_t vertices = 0, vertices_in_pieces = 0, edges = 0;
    int pieces = 0, regions_with_households = 0, regions_with_several_pieces = 0;
    for (std::size_t r = 0; r < regions; ++r) {
        problem.part_offset[r] = problem.part_count;
        if (!problem.cells[r]) continue;
        const algorithms::RegionCells& cells = *problem.cells[r];
        const std::vector<int>& counts = cells.piece_counts();
        problem.part_count += std::accumulate(counts.begin(), counts.end(), 0);
        ++regions_with_households;
        pieces += static_cast<int>(counts.size());
        regions_with_several_pieces += counts.size() > 1 ? 1 : 0;
        vertices += static_cast<std::int64_t>(cells.graph().node_count());
        for (int p : cells.vertex_piece()) vertices_in_pieces += p >= 0 ? 1 : 0;
        edges += static_cast<std::int64_t>(cells.graph().neighbours.size() / 2);
    }
    const double cells_seconds = watch.wall();
    std::cerr << "civgrid_compare: " << settings.method_name << ": graphs of " << regions_with_households
              << " regions, " << vertices_in_pieces << " vertices, " << problem.part_count << " parts requested ("
              << cells_seconds << " s)\n";

    // 3. The partition step, timed, on this thread alone (TBB limited to one thread besides).
    std::vector<double> wall_times, cpu_times;
    std::optional<Partition> partition;
    bool repeat_identical = true;
    {
        const tbb::global_control one_thread(tbb::global_control::max_allowed_parallelism, 1);
        for (int i = 0; i < std::max(1, settings.repeat); ++i) {
            const Stopwatch timed;
            Partition result = partition_all(problem, settings);
            wall_times.push_back(timed.wall());
            cpu_times.push_back(timed.cpu());
            if (!partition)
                partition = std::move(result);
            else
                repeat_identical = repeat_identical && result == *partition;
        }
    }
    std::cerr << "civgrid_compare: " << settings.method_name << ": partition " << median(wall_times) << " s (median of "
              << wall_times.size() << ")\n";

    // 4. Polygons of the parts (RegionCells::assemble), in parallel (untimed).
    watch = Stopwatch();
    std::vector<RegionPolygons> polygons(regions);
    tbb::enumerable_thread_specific<geos::Context> contexts;
    arena.execute([&] {
        tbb::parallel_for(std::size_t{0}, regions, [&](std::size_t r) {
            try {
                if (problem.cells[r])
                    polygons[r] = region_polygons(*problem.cells[r], partition->vertex_part[r], contexts.local());
            } catch (const Error& error) {
                errors[r] = error.what();
            }
        });
    });
    for (std::size_t r = 0; r < regions; ++r)
        if (!errors[r].empty())
            throw InternalError(kStage,
                                "polygons of " + city.region_level + " '" + city.regions[r].code + "': " + errors[r]);
    const double polygon_seconds = watch.wall();
    watch = Stopwatch();
    const Measures m = measure(problem, *partition, polygons, settings);
    const double measure_seconds = watch.wall();

    // 5. One JSON object on the real stdout.
    JsonObject seconds;
    seconds.add("load", load_seconds)
        .add("cells", cells_seconds)
        .add("partition_median", median(wall_times))
        .add("polygons", polygon_seconds)
        .add("measures", measure_seconds)
        .add("total", total.wall());
    std::string runs = "[";
    for (std::size_t i = 0; i < wall_times.size(); ++i)
        runs += (i == 0 ? "" : ", ") + JsonObject().add("wall", wall_times[i]).add("cpu", cpu_times[i]).str();
    runs += "]";
    std::string failures = "[";
    for (std::size_t i = 0; i < partition->failures.size() && i < 50; ++i) {
        const Failure& f = partition->failures[i];
        failures += (i == 0 ? "" : ", ") + JsonObject()
                                               .add("region", f.region)
                                               .add("piece", f.piece)
                                               .add("k", f.k)
                                               .add("vertices", f.vertices)
                                               .add("status", f.status)
                                               .str();
    }
    failures += "]";
    const char* scope = settings.method == Method::civgrid ? "piece (civgrid always partitions piece by piece)"
                        : settings.method == Method::metis_kway_contig
                            ? (settings.whole_city ? "whole city refused by METIS (disconnected), then piece"
                                                   : "piece (METIS refuses contiguity on a disconnected community)")
                        : settings.whole_city ? "whole city"
                        : settings.per_piece  ? "piece"
                                              : "community";
    JsonObject json;
    json.add("method", settings.method_name)
        .add("city", settings.city)
        .add("scope", scope)
        .add("whole_city", settings.whole_city)
        .add("target_households", settings.target_households)
        .add("tolerance", settings.tolerance)
        .add("seed", static_cast<std::int64_t>(settings.seed))
        .add("metis_ufactor", settings.ufactor)
        .add("metis_version", std::to_string(METIS_VER_MAJOR) + "." + std::to_string(METIS_VER_MINOR) + "." +
                                  std::to_string(METIS_VER_SUBMINOR))
        .add("regions", static_cast<int>(regions))
        .add("regions_with_households", regions_with_households)
        .add("regions_with_several_pieces", regions_with_several_pieces)
        .add("pieces", pieces)
        .add("graph_vertices", vertices)
        .add("graph_vertices_in_pieces", vertices_in_pieces)
        .add("graph_edges", edges)
        .add("parts_requested", m.requested)
        .add("parts_nonempty", m.nonempty)
        .add("partition_seconds", median(wall_times))
        .add("partition_cpu_seconds", median(cpu_times))
        .add("partition_seconds_min", *std::min_element(wall_times.begin(), wall_times.end()))
        .add("metis_call_seconds", partition->metis_seconds)
        .add("refused_call_seconds", partition->refused_seconds)
        .add("repeat", static_cast<int>(wall_times.size()))
        .add("repeat_identical", repeat_identical)
        .raw("runs", runs)
        .add("calls", partition->calls)
        .add("trivial_calls", partition->trivial_calls)
        .add("failed_calls", static_cast<int>(partition->failures.size()))
        .raw("failures", failures)
        .add("empty_parts", m.empty)
        .add("non_contiguous_graph", m.non_contiguous_graph)
        .add("non_contiguous_polygons", m.non_contiguous_polygons)
        .add("parts_spanning_regions", m.spanning_regions)
        .add("share_within_10", m.within_10)
        .add("share_within_20", m.within_20)
        .add("share_within_tolerance", m.within_bounds)
        .add("max_abs_deviation", m.max_deviation)
        .add("max_abs_deviation_unforced", m.max_deviation_unforced)
        .add("forced_parts", m.forced)
        .add("forced_parts_out_of_bounds", m.forced_out_of_bounds)
        .add("assemble_flagged_forced", m.civgrid_flagged)
        .add("edge_cut_length_m", m.cut_length)
        .add("edge_cut_edges", m.cut_edges)
        .add("edge_cut_soft_length_m", m.cut_soft_length)
        .add("edge_cut_soft_share", m.cut_length > 0 ? m.cut_soft_length / m.cut_length : 0.0)
        .add("edge_length_m", m.total_length)
        .add("edges_between_assigned", m.total_edges)
        .add("polsby_popper_mean", m.pp_mean)
        .add("polsby_popper_p10", m.pp_p10)
        .add("polsby_popper_parts", m.pp_parts)
        .raw("seconds", seconds.str());
    std::fprintf(json_out, "%s\n", json.str().c_str());
    std::fflush(json_out);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    // METIS, GEOS and GDAL may print to stdout: they get stderr, the JSON alone the real stdout.
    std::cout.flush();
    std::unique_ptr<std::FILE, FileCloser> json_out(fdopen(dup(STDOUT_FILENO), "w"));
    if (!json_out || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
        std::cerr << "civgrid_compare: cannot set up the output streams\n";
        return 1;
    }
    Settings settings;
    po::options_description options(
        "civgrid_compare: one partition method on civgrid's adjacency graphs of a city; one JSON object on stdout\n\n"
        "Usage: civgrid_compare --city city.gpkg --method civgrid|metis-kway|metis-kway-contig|metis-rb "
        "[options]\n\nOptions");
    options.add_options()("help,h", "show this help")(
        "city", po::value(&settings.city)->required(),
        "city GeoPackage with the standard layers (civgrid synth writes one)")(
        "method", po::value(&settings.method_name)->default_value(settings.method_name),
        "civgrid, metis-kway, metis-kway-contig or metis-rb")(
        "target-households", po::value(&settings.target_households)->default_value(settings.target_households),
        "households per part; a community gets round(H / target) parts")(
        "tolerance", po::value(&settings.tolerance)->default_value(settings.tolerance),
        "balance bounds target * (1 -/+ T), for the forced rule")(
        "seed", po::value(&settings.seed)->default_value(settings.seed), "civgrid's seed, and METIS_OPTION_SEED")(
        "ufactor", po::value(&settings.ufactor)->default_value(settings.ufactor),
        "METIS_OPTION_UFACTOR: imbalance in 1/1000 (30 = 3 %)")(
        "whole-city", po::bool_switch(&settings.whole_city),
        "METIS: one call on the whole city's graph instead of one per community")(
        "per-piece", po::bool_switch(&settings.per_piece),
        "METIS k-way / RB: one call per piece with its own k (contiguity always is)")(
        "repeat", po::value(&settings.repeat)->default_value(settings.repeat),
        "timed partition runs; the median is reported")(
        "threads", po::value(&settings.threads)->default_value(settings.threads),
        "threads for the untimed stages (cells, polygons); 0 = all cores");
    try {
        po::variables_map vm;
        po::store(po::parse_command_line(argc, argv, options), vm);
        if (vm.count("help")) {
            std::ostringstream help;
            help << options << "\n";
            std::fputs(help.str().c_str(), json_out.get());
            return 0;
        }
        po::notify(vm);
        settings.method = parse_method(settings.method_name);
        if (settings.target_households <= 0) throw ConfigError(kStage, "--target-households must be positive");
        if (settings.ufactor < 1) throw ConfigError(kStage, "--ufactor must be at least 1");
        return run(settings, json_out.get());
    } catch (const po::error& error) {
        std::cerr << "civgrid_compare: " << error.what() << " (see --help)\n";
        return 2;
    } catch (const Error& error) {
        std::cerr << "civgrid_compare: " << error.what() << "\n";
        return exit_code(error.kind());
    } catch (const std::exception& error) {
        std::cerr << "civgrid_compare: internal error: " << error.what() << "\n";
        return 1;
    }
}
