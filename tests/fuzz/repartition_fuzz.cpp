// Fuzz target: `civgrid repartition --previous` (engine::run_repartition) on the pristine city
// against a mutated copy of its own output; a quarter of the time the city's buildings, workers
// and stations are mutated too. Reading the previous output back must trust nothing in it.
#include "fuzz_support.hpp"

#include <civgrid/engine/repartition.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace civgrid;
    const fuzz::Pristine& files = fuzz::pristine();
    fuzz::FuzzBytes bytes(data, size);
    const std::string city = fuzz::scratch("city.gpkg"), previous = fuzz::scratch("previous.gpkg"),
                      output = fuzz::scratch("out.gpkg");
    fuzz::copy_file(files.city, city);
    fuzz::copy_file(files.output, previous);
    std::filesystem::remove(output);

    fuzz::mutate_geopackage(
        previous, bytes,
        {"micro_grids", "buildings", "communities", "grids", "worker_assignments", "service_assignments", "run_info"});
    if (bytes.below(4) == 0) fuzz::mutate_geopackage(city, bytes, {"buildings", "workers", "stations"});
    fuzz::mutate_file_bytes(previous, bytes);

    engine::PartitionConfig config;
    config.city = city;
    config.threads = 1;
    engine::RepartitionSummary summary;
    const bool succeeded =
        fuzz::clean_outcome([&] { summary = engine::run_repartition(config, previous, {}, output); });
    fuzz::check_output(output, succeeded, succeeded ? &summary.run.report : nullptr);
    return 0;
}
