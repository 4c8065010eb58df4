// Each pipeline stage at three sizes of generated city: one community (2,600 households, 4 small
// communities), one district (300,000: 120 communities) and the whole city (3,400,000: ~392k
// buildings, 1,320 communities, ~41k micro-grids). Names are BM_<Stage>/<size>; every size runs by
// default (about a minute), `bench/run_benchmarks.py --quick` leaves out the whole city. See
// bench/README.md.
//
// Stages, in the order they run for each size:
//   Generate      data::generate_city, in memory
//   Load          engine::load_city (TBB, 2 threads)
//   Problems      engine::region_problems: sites, barriers and counts per community
//   GraphBuild    algorithms::RegionCells of every region: Voronoi atoms and adjacency graph  } one thread,
//   Faces           its phases alone (region_cells.hpp): outline, barriers, faces, nodes       } regions one
//   Voronoi         ... the Voronoi atoms of every face                                         } after another
//   Adjacency       ... atoms sharing boundary                                                  }
//   AtomGraph       ... graph vertices and edges, pieces and their counts                       }
//   Partition     algorithms::partition_cells of every region                                  } regions one
//   Polygons      RegionCells::assemble of every region: micro-grid and grid coverage unions  } after another
//   PartitionCity engine::partition_city, 2 threads: the whole partition stage (all of the above)
//   Assess        engine::assess: the quality report (2 threads)
//   Write         engine::write_result: the output GeoPackage
// The per-region stages loop over the regions on the calling thread (in a one-slot TBB arena), so
// their times add up to the one-core cost of the partition stage and compare across runs.
//
// Benchmarks are registered size by size, and one size's inputs (city file, loaded city, cells,
// partitions, result) are built once and shared by its stages, then dropped when the next size
// starts. What a stage produces in its last iteration becomes the input of the next stage.
#include <civgrid/algorithms/region_cells.hpp>
#include <civgrid/algorithms/region_partition.hpp>
#include <civgrid/data/synth.hpp>
#include <civgrid/engine/pipeline.hpp>

#include <benchmark/benchmark.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace civgrid;

/// Threads of the stages that run in parallel (the benchmark machine has 2 cores).
constexpr int kThreads = 2;

// One region's cells built phase by phase (region_cells.hpp), each phase's result kept for the
// next phase's benchmark. The context owns the geometries, so it is declared first (freed last).
struct RegionPhases {
    std::unique_ptr<civgrid::geos::Context> context = std::make_unique<civgrid::geos::Context>();
    std::unique_ptr<algorithms::cells::Outline> outline;
    civgrid::geos::Geom hard_linework;
    std::optional<algorithms::cells::Faces> faces;
    std::optional<algorithms::cells::Nodes> nodes;
    std::optional<algorithms::cells::Atoms> atoms;
    std::optional<std::vector<algorithms::cells::AtomEdge>> adjacency;
    std::optional<algorithms::cells::AtomGraph> graph;
    std::optional<algorithms::cells::Pieces> pieces;
};

struct Size {
    const char* name;
    std::int64_t households;
};
constexpr Size kSizes[] = {{"community", 2'600}, {"district", 300'000}, {"city", 3'400'000}};
/// From this size on, every stage runs exactly once: a run takes seconds, and setup dominates.
constexpr std::int64_t kOneIterationFrom = 1'000'000;

// A generated city on disk (seed 1), made once per size and run.
const std::string& city_file(std::int64_t households) {
    static std::map<std::int64_t, std::string> files;
    auto it = files.find(households);
    if (it == files.end()) {
        const auto path =
            std::filesystem::temp_directory_path() / ("civgrid-bench-city-" + std::to_string(households) + ".gpkg");
        data::SynthConfig config;
        config.households = households;
        data::write_city(data::generate_city(config), path.string());
        it = files.emplace(households, path.string()).first;
    }
    return it->second;
}

// The inputs of one size's stages, each built on first use.
struct SizeData {
    explicit SizeData(std::int64_t size_households) : households(size_households) {
        config.city = city_file(households);
        config.threads = kThreads;
    }
    std::int64_t households;
    engine::PartitionConfig config;
    std::optional<engine::City> city;
    std::optional<engine::RegionProblems> problems;
    std::optional<std::vector<algorithms::RegionCells>> cells;
    std::vector<RegionPhases> phases;  // per region, as far as the phase benchmarks went
    std::optional<std::vector<algorithms::CellPartition>> partitions;
    std::optional<engine::PartitionResult> result;
    std::optional<algorithms::QualityReport> report;
};

// Only one size is kept: the whole city's cells take gigabytes.
SizeData& size_data(std::int64_t households) {
    static std::unique_ptr<SizeData> current;
    if (!current || current->households != households) {
        current.reset();
        current = std::make_unique<SizeData>(households);
    }
    return *current;
}

const engine::City& city_of(SizeData& data) {
    if (!data.city) {
        // Keep the road lines too, for BM_StaffingAlongRoads; nothing else reads them.
        engine::PartitionConfig config = data.config;
        config.network_distance = true;
        data.city = engine::load_city(config);
    }
    return *data.city;
}

const std::vector<algorithms::RegionInput>& inputs_of(SizeData& data) {
    if (!data.problems) data.problems = engine::region_problems(city_of(data), data.config);
    return data.problems->inputs;
}

// Built in parallel when the GraphBuild benchmark did not run (filtered out).
const std::vector<algorithms::RegionCells>& cells_of(SizeData& data) {
    if (!data.cells) {
        const auto& inputs = inputs_of(data);
        std::vector<std::optional<algorithms::RegionCells>> built(inputs.size());
        tbb::task_arena(kThreads).execute([&] {
            tbb::parallel_for(std::size_t{0}, inputs.size(), [&](std::size_t r) { built[r].emplace(inputs[r]); });
        });
        data.cells.emplace();
        data.cells->reserve(built.size());
        for (auto& cells : built) data.cells->push_back(std::move(*cells));
    }
    return *data.cells;
}

const std::vector<algorithms::CellPartition>& partitions_of(SizeData& data) {
    if (!data.partitions) {
        const auto& inputs = inputs_of(data);
        const auto& cells = cells_of(data);
        std::vector<algorithms::CellPartition> partitions(cells.size());
        tbb::task_arena(kThreads).execute([&] {
            tbb::parallel_for(std::size_t{0}, cells.size(), [&](std::size_t r) {
                partitions[r] = algorithms::partition_cells(cells[r], inputs[r].seed, inputs[r].options);
            });
        });
        data.partitions = std::move(partitions);
    }
    return *data.partitions;
}

const engine::PartitionResult& result_of(SizeData& data) {
    if (!data.result) data.result = engine::partition_city(city_of(data), data.config);
    return *data.result;
}

const algorithms::QualityReport& report_of(SizeData& data) {
    if (!data.report) data.report = engine::assess(city_of(data), result_of(data), data.config);
    return *data.report;
}

// Runs `stage` once per iteration and hands what it returns to `keep` with the timer stopped:
// storing or freeing a large result is not the stage's work. Threads::one runs it in a one-slot
// TBB arena, so parallel loops inside the algorithms (the pieces of a region) stay on the calling
// thread; Threads::config leaves the threads to the stage (config.threads = kThreads).
enum class Threads { one, config };
template <class Stage, class Keep>
void run_timed(benchmark::State& state, Threads threads, Stage&& stage, Keep&& keep) {
    tbb::task_arena one_slot(1);
    for (auto _ : state) {
        auto output = threads == Threads::one ? one_slot.execute(stage) : stage();
        state.PauseTiming();
        keep(std::move(output));
        state.ResumeTiming();
    }
}

std::int64_t site_households(const std::vector<algorithms::RegionInput>& inputs) {
    std::int64_t households = 0;
    for (const auto& input : inputs)
        for (const auto& site : input.sites) households += site.households;
    return households;
}

// The counters of the per-region stages: regions, graph vertices and edges, micro-grids, households.
void count_regions(benchmark::State& state, SizeData& data, std::int64_t micro_grids) {
    const auto& inputs = inputs_of(data);
    const auto& cells = cells_of(data);
    double vertices = 0, edges = 0;
    for (const auto& c : cells) {
        vertices += static_cast<double>(c.graph().node_count());
        edges += static_cast<double>(c.graph().neighbours.size()) / 2.0;
    }
    state.counters["regions"] = static_cast<double>(inputs.size());
    state.counters["vertices"] = vertices;
    state.counters["edges"] = edges;
    state.counters["micro_grids"] = static_cast<double>(micro_grids);
    state.counters["households"] = static_cast<double>(site_households(inputs));
}

void BM_Generate(benchmark::State& state, std::int64_t households) {
    data::SynthConfig config;
    config.households = households;
    std::int64_t buildings = 0;
    run_timed(
        state, Threads::one, [&] { return data::generate_city(config); },
        [&](data::SynthCity city) { buildings = city.summary.buildings; });
    state.counters["buildings"] = static_cast<double>(buildings);
}

void BM_Load(benchmark::State& state, std::int64_t households) {
    SizeData& data = size_data(households);
    run_timed(
        state, Threads::config, [&] { return engine::load_city(data.config); },
        [&](engine::City city) { data.city = std::move(city); });
    state.counters["buildings"] = static_cast<double>(city_of(data).buildings.size());
    state.counters["regions"] = static_cast<double>(city_of(data).regions.size());
}

void BM_Problems(benchmark::State& state, std::int64_t households) {
    SizeData& data = size_data(households);
    const engine::City& city = city_of(data);
    run_timed(
        state, Threads::one, [&] { return engine::region_problems(city, data.config); },
        [&](engine::RegionProblems problems) { data.problems = std::move(problems); });
    std::size_t sites = 0;
    for (const auto& input : data.problems->inputs) sites += input.sites.size();
    state.counters["regions"] = static_cast<double>(data.problems->inputs.size());
    state.counters["sites"] = static_cast<double>(sites);
    state.counters["households"] = static_cast<double>(site_households(data.problems->inputs));
}

void BM_GraphBuild(benchmark::State& state, std::int64_t households) {
    SizeData& data = size_data(households);
    const auto& inputs = inputs_of(data);
    run_timed(
        state, Threads::one,
        [&] {
            std::vector<algorithms::RegionCells> cells;
            cells.reserve(inputs.size());
            for (const auto& input : inputs) cells.emplace_back(input);
            return cells;
        },
        [&](std::vector<algorithms::RegionCells> cells) { data.cells = std::move(cells); });
    std::int64_t requested = 0;
    for (const auto& c : cells_of(data))
        for (int count : c.piece_counts()) requested += count;
    count_regions(state, data, requested);
}

// The phases of region_cells.hpp, in order; each phase's benchmark times it for every region
// on the calling thread, with the phases before it built (untimed) when no benchmark did.
enum class Phase { faces, voronoi, adjacency, graph };

bool has_phase(const RegionPhases& region, Phase phase) {
    switch (phase) {
        case Phase::faces:
            return region.nodes.has_value();
        case Phase::voronoi:
            return region.atoms.has_value();
        case Phase::adjacency:
            return region.adjacency.has_value();
        case Phase::graph:
            return region.pieces.has_value();
    }
    return false;
}

// Frees a phase's result (untimed, before the phase runs again).
void clear_phase(RegionPhases& region, Phase phase) {
    switch (phase) {
        case Phase::faces:
            region.nodes.reset(), region.faces.reset(), region.hard_linework.reset(), region.outline.reset();
            break;
        case Phase::voronoi:
            region.atoms.reset();
            break;
        case Phase::adjacency:
            region.adjacency.reset();
            break;
        case Phase::graph:
            region.pieces.reset(), region.graph.reset();
            break;
    }
}

void run_phase(RegionPhases& region, const algorithms::RegionInput& input, Phase phase) {
    namespace cells = algorithms::cells;
    const civgrid::geos::Context& context = *region.context;
    switch (phase) {
        case Phase::faces:
            region.outline = std::make_unique<cells::Outline>(context, input.boundary);
            region.hard_linework = cells::hard_linework(context, input, *region.outline);
            region.faces = cells::faces(context, *region.outline, region.hard_linework.get());
            region.nodes = cells::nodes(context, input.sites, *region.faces);
            break;
        case Phase::voronoi:
            region.atoms = cells::voronoi_atoms(context, *region.outline, region.hard_linework.get(), *region.faces,
                                                *region.nodes);
            break;
        case Phase::adjacency:
            region.adjacency = cells::adjacency(context, region.atoms->atoms);
            break;
        case Phase::graph:
            region.graph = cells::atom_graph(context, input, *region.outline, region.hard_linework.get(), *region.atoms,
                                             *region.adjacency, *region.nodes);
            region.pieces = cells::pieces(region.graph->graph, input);
            break;
    }
}

void BM_Phase(benchmark::State& state, std::int64_t households, Phase phase) {
    SizeData& data = size_data(households);
    const auto& inputs = inputs_of(data);
    std::vector<RegionPhases>& regions = data.phases;
    if (regions.size() != inputs.size()) regions = std::vector<RegionPhases>(inputs.size());
    for (Phase earlier = Phase::faces; earlier < phase; earlier = static_cast<Phase>(static_cast<int>(earlier) + 1))
        for (std::size_t r = 0; r < regions.size(); ++r)
            if (!has_phase(regions[r], earlier)) run_phase(regions[r], inputs[r], earlier);
    tbb::task_arena one_slot(1);
    for (auto _ : state) {
        state.PauseTiming();
        for (RegionPhases& region : regions) clear_phase(region, phase);
        state.ResumeTiming();
        one_slot.execute([&] {
            for (std::size_t r = 0; r < regions.size(); ++r) run_phase(regions[r], inputs[r], phase);
        });
    }
    double faces = 0, atoms = 0, whole_cells = 0, adjacent_pairs = 0, vertices = 0, edges = 0;
    for (const RegionPhases& region : regions) {
        if (region.faces) faces += static_cast<double>(region.faces->faces.size());
        if (region.atoms) atoms += static_cast<double>(region.atoms->atoms.size());
        if (region.atoms)
            for (std::uint32_t node : region.atoms->node)
                whole_cells += node != algorithms::cells::Atoms::kNoNode ? 1 : 0;
        if (region.adjacency) adjacent_pairs += static_cast<double>(region.adjacency->size());
        if (region.graph) vertices += static_cast<double>(region.graph->graph.node_count());
        if (region.graph) edges += static_cast<double>(region.graph->graph.neighbours.size()) / 2.0;
    }
    state.counters["regions"] = static_cast<double>(regions.size());
    state.counters["faces"] = faces;
    if (phase >= Phase::voronoi) state.counters["atoms"] = atoms, state.counters["whole_cells"] = whole_cells;
    if (phase >= Phase::adjacency) state.counters["adjacent_pairs"] = adjacent_pairs;
    if (phase >= Phase::graph) state.counters["vertices"] = vertices, state.counters["edges"] = edges;
    // The last phase: the phases' geometries go (a whole city's are gigabytes beside its cells).
    if (phase == Phase::graph) regions.clear();
}

void BM_Faces(benchmark::State& state, std::int64_t households) {
    BM_Phase(state, households, Phase::faces);
}
void BM_Voronoi(benchmark::State& state, std::int64_t households) {
    BM_Phase(state, households, Phase::voronoi);
}
void BM_Adjacency(benchmark::State& state, std::int64_t households) {
    BM_Phase(state, households, Phase::adjacency);
}
void BM_AtomGraph(benchmark::State& state, std::int64_t households) {
    BM_Phase(state, households, Phase::graph);
}

void BM_Partition(benchmark::State& state, std::int64_t households) {
    SizeData& data = size_data(households);
    const auto& inputs = inputs_of(data);
    const auto& cells = cells_of(data);
    run_timed(
        state, Threads::one,
        [&] {
            std::vector<algorithms::CellPartition> partitions;
            partitions.reserve(cells.size());
            for (std::size_t r = 0; r < cells.size(); ++r)
                partitions.push_back(algorithms::partition_cells(cells[r], inputs[r].seed, inputs[r].options));
            return partitions;
        },
        [&](std::vector<algorithms::CellPartition> partitions) { data.partitions = std::move(partitions); });
    std::int64_t parts = 0;
    for (const auto& p : partitions_of(data)) parts += p.part_count;
    count_regions(state, data, parts);
}

void BM_Polygons(benchmark::State& state, std::int64_t households) {
    SizeData& data = size_data(households);
    const auto& cells = cells_of(data);
    const auto& partitions = partitions_of(data);
    std::int64_t micro_grids = 0, grids = 0;
    run_timed(
        state, Threads::one,
        [&] {
            std::vector<algorithms::RegionResult> results;
            results.reserve(cells.size());
            for (std::size_t r = 0; r < cells.size(); ++r) results.push_back(cells[r].assemble(partitions[r]));
            return results;
        },
        [&](std::vector<algorithms::RegionResult> results) {
            micro_grids = grids = 0;
            for (const auto& result : results) {
                micro_grids += static_cast<std::int64_t>(result.micro_grids.size());
                grids += static_cast<std::int64_t>(result.grids.size());
            }
        });
    count_regions(state, data, micro_grids);
    state.counters["grids"] = static_cast<double>(grids);
}

void BM_PartitionCity(benchmark::State& state, std::int64_t households) {
    SizeData& data = size_data(households);
    const engine::City& city = city_of(data);
    run_timed(
        state, Threads::config, [&] { return engine::partition_city(city, data.config); },
        [&](engine::PartitionResult result) { data.result = std::move(result); });
    std::int64_t region_households = 0;
    for (const auto& region : data.result->regions) region_households += region.households;
    state.counters["regions"] = static_cast<double>(city.regions.size());
    state.counters["micro_grids"] = static_cast<double>(data.result->micro_grids.size());
    state.counters["grids"] = static_cast<double>(data.result->grids.size());
    state.counters["households"] = static_cast<double>(region_households);
    state.counters["threads"] = kThreads;
}

void BM_Assess(benchmark::State& state, std::int64_t households) {
    SizeData& data = size_data(households);
    const engine::City& city = city_of(data);
    const engine::PartitionResult& result = result_of(data);
    run_timed(
        state, Threads::config, [&] { return engine::assess(city, result, data.config); },
        [&](algorithms::QualityReport report) { data.report = std::move(report); });
    state.counters["micro_grids"] = static_cast<double>(result.micro_grids.size());
}

// Workers (micro-grid and mobile) and the four utilities' stations, all of them (issue 4).
void BM_Staffing(benchmark::State& state, std::int64_t households) {
    SizeData& data = size_data(households);
    const engine::City& city = city_of(data);
    const engine::PartitionResult& result = result_of(data);
    engine::Staffing staffing;
    for (auto _ : state) {
        staffing = engine::assign_staff(city, result, data.config);
        benchmark::DoNotOptimize(staffing);
    }
    state.counters["micro_grids"] = static_cast<double>(result.micro_grids.size());
    state.counters["workers"] = static_cast<double>(staffing.micro_grid_workers + staffing.mobile_workers);
    state.counters["stations"] = static_cast<double>(city.stations.size());
    state.counters["unstaffed"] = static_cast<double>(staffing.workers.unstaffed.size());
}

// The same with distances along the roads (--network-distance): road graph, one bounded Dijkstra
// per micro-grid and grid, both rounds.
void BM_StaffingAlongRoads(benchmark::State& state, std::int64_t households) {
    SizeData& data = size_data(households);
    const engine::City& city = city_of(data);
    const engine::PartitionResult& result = result_of(data);
    engine::PartitionConfig config = data.config;
    config.network_distance = true;
    engine::Staffing staffing;
    for (auto _ : state) {
        staffing = engine::assign_staff(city, result, config);
        benchmark::DoNotOptimize(staffing);
    }
    state.counters["micro_grids"] = static_cast<double>(result.micro_grids.size());
    state.counters["unstaffed"] = static_cast<double>(staffing.workers.unstaffed.size());
    state.counters["mean_m"] = staffing.workers.mean_distance_m;
    state.counters["off_road"] = static_cast<double>(staffing.workers.off_road_assignments);
}

void BM_Write(benchmark::State& state, std::int64_t households) {
    SizeData& data = size_data(households);
    const engine::City& city = city_of(data);
    const engine::PartitionResult& result = result_of(data);
    const algorithms::QualityReport& report = report_of(data);
    const auto path =
        std::filesystem::temp_directory_path() / ("civgrid-bench-out-" + std::to_string(households) + ".gpkg");
    for (auto _ : state) engine::write_result(path.string(), city, result, report, data.config, {});
    state.counters["bytes"] = static_cast<double>(std::filesystem::file_size(path));
    std::filesystem::remove(path);
    state.counters["micro_grids"] = static_cast<double>(result.micro_grids.size());
    state.counters["buildings"] = static_cast<double>(city.buildings.size());
}

// Size by size, every stage: BM_<Stage>/<size>. Times in milliseconds, wall clock (the iteration
// count is chosen on it); the CPU column is the calling thread's for the one-thread stages, the
// whole process's for the stages that run threads of their own (TBB, or GDAL's).
[[maybe_unused]] const bool registered = [] {
    using Function = void (*)(benchmark::State&, std::int64_t);
    struct Stage {
        const char* name;
        Function function;
        bool process_cpu;
    };
    const Stage stages[] = {
        {"BM_Generate", BM_Generate, false},
        {"BM_Load", BM_Load, true},
        {"BM_Problems", BM_Problems, false},
        {"BM_GraphBuild", BM_GraphBuild, false},
        {"BM_Faces", BM_Faces, false},
        {"BM_Voronoi", BM_Voronoi, false},
        {"BM_Adjacency", BM_Adjacency, false},
        {"BM_AtomGraph", BM_AtomGraph, false},
        {"BM_Partition", BM_Partition, false},
        {"BM_Polygons", BM_Polygons, false},
        {"BM_PartitionCity", BM_PartitionCity, true},
        {"BM_Assess", BM_Assess, true},
        {"BM_Staffing", BM_Staffing, true},
        {"BM_StaffingAlongRoads", BM_StaffingAlongRoads, true},
        {"BM_Write", BM_Write, true},
    };
    for (const Size& size : kSizes)
        for (const Stage& stage : stages) {
            const std::string name = std::string(stage.name) + "/" + size.name;
            auto* benchmark = benchmark::RegisterBenchmark(name.c_str(), stage.function, size.households);
            benchmark->Unit(benchmark::kMillisecond)->UseRealTime();
            if (stage.process_cpu) benchmark->MeasureProcessCPUTime();
            if (size.households >= kOneIterationFrom) benchmark->Iterations(1);
        }
    return true;
}();

}  // namespace
