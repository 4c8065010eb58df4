// Square cells of a uniform grid over the plane, keyed for a hash map: the bucketing behind the
// nearest-point, segment and road indexes.
#pragma once

#include <civgrid/types.hpp>

#include <cmath>
#include <cstdint>

namespace civgrid::algorithms {

struct CellGrid {
    Point origin;
    double cell = 1;
    [[nodiscard]] std::int64_t column(double x) const {
        return static_cast<std::int64_t>(std::floor((x - origin.x) / cell));
    }
    [[nodiscard]] std::int64_t row(double y) const {
        return static_cast<std::int64_t>(std::floor((y - origin.y) / cell));
    }
    [[nodiscard]] static std::int64_t key(std::int64_t column, std::int64_t row) {
        return column * 0x100000000LL + row;
    }
};

}  // namespace civgrid::algorithms
