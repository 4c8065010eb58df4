// Points in a uniform grid of square cells, for "the nearest few" queries (workers of a
// micro-grid in staffing, stations of a micro-grid in assign_stations).
#pragma once

#include <civgrid/algorithms/cell_grid.hpp>
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/types.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <unordered_map>
#include <vector>

namespace civgrid::algorithms {

// Points in a uniform grid of square cells, for "the nearest few" queries.
class PointGrid {
public:
    PointGrid(const std::vector<Point>& points, std::vector<std::uint32_t> members)
        : points_(points), members_(std::move(members)) {
        if (members_.empty()) return;
        double min_x = points_[members_[0]].x, min_y = points_[members_[0]].y, max_x = min_x, max_y = min_y;
        for (std::uint32_t i : members_) {
            min_x = std::min(min_x, points_[i].x), min_y = std::min(min_y, points_[i].y);
            max_x = std::max(max_x, points_[i].x), max_y = std::max(max_y, points_[i].y);
        }
        grid_.origin = {min_x, min_y};
        bounds_ = {min_x, min_y, max_x, max_y};
        extent_ = std::max({max_x - min_x, max_y - min_y, 1.0});
        // About two points per cell.
        // Finite even when the points span more than the largest double (homes at +-1e308).
        grid_.cell =
            std::min(std::max(1.0, extent_ / std::max(1.0, std::sqrt(static_cast<double>(members_.size()) / 2.0))),
                     std::numeric_limits<double>::max());
        for (std::uint32_t i : members_) cells_[key(column(points_[i].x), row(points_[i].y))].push_back(i);
    }
    [[nodiscard]] bool empty() const noexcept { return members_.empty(); }
    [[nodiscard]] double cell() const noexcept { return grid_.cell; }
    [[nodiscard]] double extent() const noexcept { return extent_; }
    [[nodiscard]] const geos::Envelope& bounds() const noexcept { return bounds_; }
    // Calls visit(i) for every point in cells meeting the box. Only cells within the points' bounds
    // are visited: a polygon far from a tight cluster of points (a worker layer in another place)
    // would otherwise walk (distance / cell)^2 empty cells.
    template <class Visit>
    void in_box(const geos::Envelope& box, Visit&& visit) const {
        // Only cells that can hold points: a box far larger than the points' extent (a micro-grid
        // far from a small cloud of workers) would otherwise visit millions of empty cells.
        if (members_.empty() || !box.intersects(bounds_)) return;
        const std::int64_t first_column = column(std::max(box.min_x, bounds_.min_x));
        const std::int64_t last_column = column(std::min(box.max_x, bounds_.max_x));
        const std::int64_t first_row = row(std::max(box.min_y, bounds_.min_y));
        const std::int64_t last_row = row(std::min(box.max_y, bounds_.max_y));
        // A box of more cells than there are points (points so far apart that the cell size
        // saturates, homes at +-1e308): the points themselves are fewer to look at.
        if (static_cast<double>(last_column - first_column + 1) * static_cast<double>(last_row - first_row + 1) >
            static_cast<double>(members_.size())) {
            for (std::uint32_t i : members_)
                if (points_[i].x >= box.min_x && points_[i].x <= box.max_x && points_[i].y >= box.min_y &&
                    points_[i].y <= box.max_y)
                    visit(i);
            return;
        }
        for (std::int64_t c = first_column; c <= last_column; ++c)
            for (std::int64_t r = first_row; r <= last_row; ++r) {
                const auto it = cells_.find(key(c, r));
                if (it != cells_.end())
                    for (std::uint32_t i : it->second) visit(i);
            }
    }

private:
    [[nodiscard]] std::int64_t column(double x) const { return grid_.column(x); }
    [[nodiscard]] std::int64_t row(double y) const { return grid_.row(y); }
    [[nodiscard]] static std::int64_t key(std::int64_t c, std::int64_t r) { return CellGrid::key(c, r); }
    const std::vector<Point>& points_;
    std::vector<std::uint32_t> members_;
    CellGrid grid_;
    geos::Envelope bounds_;
    double extent_ = 1;
    std::unordered_map<std::int64_t, std::vector<std::uint32_t>> cells_;
};

}  // namespace civgrid::algorithms
