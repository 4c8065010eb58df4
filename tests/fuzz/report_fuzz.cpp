// Fuzz target: `civgrid report` (engine::report_file) on a mutated copy of a civgrid output. It must
// end in a clean InputError or IoError naming what is wrong, or a report of finite numbers.
#include "fuzz_support.hpp"

#include <civgrid/engine/pipeline.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace civgrid;
    const fuzz::Pristine& files = fuzz::pristine();
    fuzz::FuzzBytes bytes(data, size);
    const std::string output = fuzz::scratch("output.gpkg");
    fuzz::copy_file(files.output, output);
    fuzz::mutate_geopackage(output, bytes,
                            {"micro_grids", "buildings", "communities", "barriers", "grids", "run_info"});
    fuzz::mutate_file_bytes(output, bytes);

    algorithms::QualityReport report;
    if (fuzz::clean_outcome([&] { report = engine::report_file(output, 1); })) fuzz::check_report(report, "report");
    return 0;
}
