// Fuzz target: `civgrid partition` (engine::run_partition) on a mutated copy of the pristine city,
// with one layer sometimes given as GeoJSON or Shapefile instead. A success must write an output
// that holds no invalid polygon and that `civgrid report` reads back.
#include "fuzz_support.hpp"

#include <civgrid/engine/pipeline.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace civgrid;
    const fuzz::Pristine& files = fuzz::pristine();
    fuzz::FuzzBytes bytes(data, size);
    const std::string city = fuzz::scratch("city.gpkg"), output = fuzz::scratch("out.gpkg");
    fuzz::copy_file(files.city, city);
    std::filesystem::remove(output);

    engine::PartitionConfig config;
    config.city = city;
    config.threads = 1;
    const std::uint8_t options = bytes.byte();
    config.network_distance = (options & 3) == 3;  // staffing along the roads a quarter of the time
    config.strict = (options & 4) != 0;
    config.staffing = (options & 8) == 0 || config.network_distance;
    if ((options & 48) == 48) config.region_level = "street";

    fuzz::mutate_geopackage(
        city, bytes,
        {"buildings", "communities", "roads", "rivers", "railways", "streets", "districts", "workers", "stations"});
    // Sometimes a layer comes from another format, which GDAL reads by another driver.
    const std::uint32_t format = bytes.below(8);
    if (format < 4) {
        const bool shapefile = format == 1;
        const std::string layer = format == 2 ? "communities" : format == 3 ? "workers" : "buildings";
        const std::string path = fuzz::scratch(layer + (shapefile ? ".shp" : ".geojson"));
        if (fuzz::export_layer(city, layer, path, shapefile ? "ESRI Shapefile" : "GeoJSON")) {
            engine::LayerSource& source = layer == "communities" ? config.communities
                                          : layer == "workers"   ? config.workers
                                                                 : config.buildings;
            source.path = path;
            fuzz::mutate_file_bytes(shapefile ? fuzz::scratch(layer + ".dbf") : path, bytes);
        }
    } else {
        fuzz::mutate_file_bytes(city, bytes);
    }

    engine::RunSummary summary;
    const bool succeeded = fuzz::clean_outcome([&] { summary = engine::run_partition(config, output); });
    fuzz::check_output(output, succeeded, succeeded ? &summary.report : nullptr);
    return 0;
}
