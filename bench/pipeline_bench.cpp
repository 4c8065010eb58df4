// Each pipeline stage on generated cities: one community (~2,600 households), a street-sized
// city (30,000) and a district-sized city (300,000). The whole city (3.4 M) is measured through
// the CLI; see the README.
#include <civgrid/data/synth.hpp>
#include <civgrid/engine/pipeline.hpp>

#include <benchmark/benchmark.h>

#include <filesystem>
#include <map>

namespace {

using namespace civgrid;

// A generated city on disk, made once per size for the whole run.
const std::string& city_file(std::int64_t households) {
    static std::map<std::int64_t, std::string> files;
    auto it = files.find(households);
    if (it == files.end()) {
        const auto path = std::filesystem::temp_directory_path() / ("civgrid-bench-city-" + std::to_string(households) + ".gpkg");
        data::SynthConfig config;
        config.households = households;
        data::write_city(data::generate_city(config), path.string());
        it = files.emplace(households, path.string()).first;
    }
    return it->second;
}

engine::PartitionConfig config_for(std::int64_t households) {
    engine::PartitionConfig config;
    config.city = city_file(households);
    return config;
}

void BM_Generate(benchmark::State& state) {
    data::SynthConfig config;
    config.households = state.range(0);
    for (auto _ : state) benchmark::DoNotOptimize(data::generate_city(config));
}
BENCHMARK(BM_Generate)->Arg(30'000)->Arg(300'000)->Unit(benchmark::kMillisecond);

void BM_Load(benchmark::State& state) {
    const auto config = config_for(state.range(0));
    for (auto _ : state) benchmark::DoNotOptimize(engine::load_city(config));
}
BENCHMARK(BM_Load)->Arg(2'600)->Arg(30'000)->Arg(300'000)->Unit(benchmark::kMillisecond);

void BM_Partition(benchmark::State& state) {
    auto config = config_for(state.range(0));
    config.threads = static_cast<int>(state.range(1));
    const engine::City city = engine::load_city(config);
    std::size_t grids = 0;
    for (auto _ : state) {
        const auto result = engine::partition_city(city, config);
        grids = result.micro_grids.size();
    }
    state.counters["micro_grids"] = static_cast<double>(grids);
    state.counters["buildings"] = static_cast<double>(city.buildings.size());
}
BENCHMARK(BM_Partition)->Args({2'600, 1})->Args({30'000, 1})->Args({30'000, 2})->Args({300'000, 2})->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Assess(benchmark::State& state) {
    const auto config = config_for(state.range(0));
    const engine::City city = engine::load_city(config);
    const auto result = engine::partition_city(city, config);
    for (auto _ : state) benchmark::DoNotOptimize(engine::assess(city, result, config));
}
BENCHMARK(BM_Assess)->Arg(30'000)->Arg(300'000)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Write(benchmark::State& state) {
    const auto config = config_for(state.range(0));
    const engine::City city = engine::load_city(config);
    const auto result = engine::partition_city(city, config);
    const auto report = engine::assess(city, result, config);
    const auto path = std::filesystem::temp_directory_path() / "civgrid-bench-out.gpkg";
    for (auto _ : state) engine::write_result(path.string(), city, result, report, config, {});
    std::filesystem::remove(path);
}
BENCHMARK(BM_Write)->Arg(30'000)->Arg(300'000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
