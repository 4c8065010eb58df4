// The settled land of a city given without admin boundaries: the area near its buildings, so that
// micro-grids at the edge do not stretch over the sea or the next country (a bounding box did).
#pragma once

#include <civgrid/algorithms/geos.hpp>
#include <civgrid/types.hpp>

#include <vector>

namespace civgrid::algorithms {

struct SettledLandOptions {
    double cell = 100.0;  ///< metres: the grid the buildings are counted on
    int grow = 2;         ///< cells added around every cell holding a building (200 m by default)
};

/// The union of the grid cells (aligned on multiples of `cell`) within `grow` cells of a cell
/// holding one of `points`, as a Polygon or MultiPolygon (separate settlements stay apart; holes
/// where no building is near). The cell is doubled until at most 4,000,000 cells are needed.
/// Null when there are no points.
[[nodiscard]] geos::Geom settled_land(const geos::Context& context, const std::vector<Point>& points,
                                      SettledLandOptions options = {});

/// `land` (polygonal WKB) less the union of `water` (river and lake polygons): micro-grids stay on
/// land. `land` as it is when nothing is left of it (the water covered every building's cell) or
/// there is no water.
[[nodiscard]] Wkb without_water(const Wkb& land, const std::vector<Wkb>& water);

}  // namespace civgrid::algorithms
