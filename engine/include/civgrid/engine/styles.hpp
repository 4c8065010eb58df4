// QGIS styles of the output layers: which style goes with which layer of a civgrid output.
#pragma once

#include <civgrid/io/layer.hpp>

#include <string>
#include <vector>

namespace civgrid::engine {

/// The QGIS default style of each layer in `layers` that has one (micro_grids, grids, buildings,
/// communities, streets, barriers, stations, workers, changes), in the order of `layers`; layers
/// without a style (attribute tables) are skipped. The styles are the QML files of engine/styles,
/// embedded at build time:
/// - micro_grids: graduated on `deviation` (fixed classes at +-10, 20 and 40 %, blue below target,
///   white on it, red above), hatched when `flags` is set, labelled with `micro_grid_id` from
///   1:15,000 in;
/// - grids, communities, streets: outlines (communities and streets labelled with their names);
/// - barriers: purple dashes; buildings: grey footprints from 1:25,000 in;
/// - stations (categorized by `utility`), workers (by `role`), changes (by `status`).
/// The writer stores them in the `layer_styles` table (io::GeoPackageWriter::add_styles).
[[nodiscard]] std::vector<io::LayerStyle> layer_styles(const std::vector<std::string>& layers);

}  // namespace civgrid::engine
