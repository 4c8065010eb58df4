#include "styles_data.hpp"

#include <civgrid/engine/styles.hpp>

#include <algorithm>

namespace civgrid::engine {

std::vector<io::LayerStyle> layer_styles(const std::vector<std::string>& layers) {
    const auto& embedded = detail::embedded_styles();
    std::vector<io::LayerStyle> styles;
    for (const std::string& layer : layers) {
        const auto found = std::find_if(embedded.begin(), embedded.end(),
                                        [&](const detail::EmbeddedStyle& style) { return style.layer == layer; });
        if (found == embedded.end()) continue;
        styles.push_back({.layer = layer,
                          .name = "civgrid " + layer,
                          .qml = std::string(found->qml),
                          .description = "civgrid's style of the " + layer + " layer",
                          .use_as_default = true});
    }
    return styles;
}

}  // namespace civgrid::engine
