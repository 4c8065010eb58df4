// Square cells of a uniform grid over the plane, keyed for a hash map: the bucketing behind the
// nearest-point, segment and road indexes.
#pragma once

#include <civgrid/types.hpp>

#include <cmath>
#include <cstdint>

namespace civgrid::algorithms {

struct CellGrid {
    /// Cell indices are clamped to +-2^30: coordinates absurdly far out (1e300 m, or an overflow to
    /// infinity; NaN too) share the outermost cells instead of overflowing the int64 conversion and
    /// key(). Real data are millions of cells from that bound.
    static constexpr double kIndexLimit = 1073741824.0;  // 2^30

    Point origin;
    double cell = 1;
    /// The cell index of `cells`, a position measured in cells (floor, clamped; NaN gives -2^30).
    [[nodiscard]] static std::int64_t index(double cells) {
        const double floored = std::floor(cells);
        if (!(floored > -kIndexLimit)) return -static_cast<std::int64_t>(kIndexLimit);
        if (floored > kIndexLimit) return static_cast<std::int64_t>(kIndexLimit);
        return static_cast<std::int64_t>(floored);
    }
    [[nodiscard]] std::int64_t column(double x) const { return index((x - origin.x) / cell); }
    [[nodiscard]] std::int64_t row(double y) const { return index((y - origin.y) / cell); }
    /// One key per (column, row) for indices within +-2^31 (clamped ones and their neighbours).
    [[nodiscard]] static std::int64_t key(std::int64_t column, std::int64_t row) {
        return column * 0x100000000LL + row;
    }
};

}  // namespace civgrid::algorithms
