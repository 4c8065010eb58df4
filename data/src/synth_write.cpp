// Writing a synthetic city to a GeoPackage. Kept apart from the generator so generate_city links
// without the io implementation.
#include <civgrid/data/synth.hpp>

namespace civgrid::data {

void write_city(const SynthCity& city, const std::string& path) {
    io::GeoPackageWriter writer(path, city.crs);
    for (const io::LayerData& layer : city.layers) writer.add_layer(layer);
    writer.commit();
}

}  // namespace civgrid::data
