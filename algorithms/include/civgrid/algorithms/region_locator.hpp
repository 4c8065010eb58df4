// Which region holds a point: the one question the import, the partition, the staffing and the
// standards all ask of the region layer, answered in one place.
#pragma once

#include <civgrid/types.hpp>

#include <memory>
#include <vector>

namespace civgrid::algorithms {

/// Regions (WKB polygons, in the working CRS) indexed once (an STR-tree of prepared geometries);
/// a point is located in the first region, in the given order, whose interior or boundary holds
/// it, so a point on an edge two regions share goes to the earlier one. Safe to use from several
/// threads at once: each thread builds its own GEOS copies on first use.
class RegionLocator {
public:
    explicit RegionLocator(std::vector<Wkb> regions);
    ~RegionLocator();
    RegionLocator(const RegionLocator&) = delete;
    RegionLocator& operator=(const RegionLocator&) = delete;

    /// The region holding `point`, or -1 when none does (or the point is not finite).
    [[nodiscard]] int locate(Point point) const;
    /// locate() of every point, in parallel on `threads` (0 = every core); `skip[i]` true leaves
    /// point i at -1 without testing it (a building without geometry). Same answer for any count.
    [[nodiscard]] std::vector<int> locate_all(const std::vector<Point>& points, int threads,
                                              const std::vector<char>* skip = nullptr) const;

private:
    struct Index;
    std::unique_ptr<Index> index_;
};

}  // namespace civgrid::algorithms
