// Small exact-enough helpers on closed rings of points, shared by the coverage union and the
// polygonizer of detailed outlines.
#pragma once

#include <civgrid/types.hpp>

#include <vector>

namespace civgrid::algorithms::detail {

/// Twice the signed area of a closed ring (positive counter-clockwise), relative to its first
/// vertex for precision; 0 for fewer than 4 vertices.
inline double twice_signed_area(const std::vector<Point>& ring) {
    if (ring.size() < 4) return 0.0;
    const Point o = ring.front();
    double sum = 0;
    for (std::size_t i = 1; i + 1 < ring.size(); ++i)
        sum += (ring[i].x - o.x) * (ring[i + 1].y - o.y) - (ring[i + 1].x - o.x) * (ring[i].y - o.y);
    return sum;
}

/// Whether `p` lies inside the closed ring (crossing number; a point on the ring may go either
/// way: callers test points that lie off it).
inline bool ring_contains(const std::vector<Point>& ring, Point p) {
    bool inside = false;
    for (std::size_t i = 1; i < ring.size(); ++i) {
        const Point a = ring[i - 1], b = ring[i];
        if ((a.y > p.y) != (b.y > p.y) && p.x < a.x + (p.y - a.y) * (b.x - a.x) / (b.y - a.y)) inside = !inside;
    }
    return inside;
}

}  // namespace civgrid::algorithms::detail
