// The QGIS styles of the output layers, embedded at build time from engine/styles/*.qml.
#pragma once

#include <string_view>
#include <vector>

namespace civgrid::engine::detail {

struct EmbeddedStyle {
    std::string_view layer;  ///< the output layer it is made for (the file's name)
    std::string_view qml;    ///< the QML document, UTF-8
};

/// Every embedded style, by layer name in alphabetical order.
[[nodiscard]] const std::vector<EmbeddedStyle>& embedded_styles();

}  // namespace civgrid::engine::detail
