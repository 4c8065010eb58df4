#include <civgrid/algorithms/coverage_union.hpp>
#include <civgrid/algorithms/settled_land.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace civgrid::algorithms {

geos::Geom settled_land(const geos::Context& context, const std::vector<Point>& points, SettledLandOptions options) {
    if (points.empty()) return {};
    double min_x = std::numeric_limits<double>::infinity(), min_y = min_x, max_x = -min_x, max_y = -min_x;
    for (const Point& p : points) {
        min_x = std::min(min_x, p.x), min_y = std::min(min_y, p.y);
        max_x = std::max(max_x, p.x), max_y = std::max(max_y, p.y);
    }
    double cell = std::max(options.cell, 1.0);
    const int grow = std::max(options.grow, 0);
    // Cells on multiples of `cell`, so that neighbouring squares share their corners exactly.
    const auto index = [&](double v) { return static_cast<std::int64_t>(std::floor(v / cell)); };
    constexpr double kMostCells = 4e6;
    while ((static_cast<double>(index(max_x) - index(min_x)) + 1 + 2 * grow) *
               (static_cast<double>(index(max_y) - index(min_y)) + 1 + 2 * grow) >
           kMostCells)
        cell *= 2;
    const std::int64_t x0 = index(min_x) - grow, y0 = index(min_y) - grow;
    const std::int64_t columns = index(max_x) + grow - x0 + 1, rows = index(max_y) + grow - y0 + 1;
    std::vector<std::uint8_t> settled(static_cast<std::size_t>(columns * rows), 0);
    for (const Point& p : points) {
        const std::int64_t cx = index(p.x) - x0, cy = index(p.y) - y0;
        for (std::int64_t dy = -grow; dy <= grow; ++dy)
            for (std::int64_t dx = -grow; dx <= grow; ++dx)
                settled[static_cast<std::size_t>((cy + dy) * columns + cx + dx)] = 1;
    }
    std::vector<geos::Geom> squares;
    for (std::int64_t y = 0; y < rows; ++y)
        for (std::int64_t x = 0; x < columns; ++x) {
            if (!settled[static_cast<std::size_t>(y * columns + x)]) continue;
            const double left = static_cast<double>(x0 + x) * cell, right = static_cast<double>(x0 + x + 1) * cell;
            const double bottom = static_cast<double>(y0 + y) * cell, top = static_cast<double>(y0 + y + 1) * cell;
            squares.push_back(geos::polygon(context, {{left, bottom}, {right, bottom}, {right, top}, {left, top}}));
        }
    const geos::Geom all = geos::collection(context, GEOS_MULTIPOLYGON, std::move(squares));
    geos::Geom land = coverage_union(context, all.get());
    if (!land || GEOSisValid_r(context.handle(), land.get()) != 1)
        land = geos::own(context, GEOSUnaryUnion_r(context.handle(), all.get()), "settled land");
    return land;
}

Wkb without_water(const Wkb& land, const std::vector<Wkb>& water) {
    if (water.empty()) return land;
    geos::Context context;
    std::vector<geos::Geom> parts;
    for (const Wkb& area : water)
        if (!area.empty()) parts.push_back(geos::from_wkb(context, area));
    if (parts.empty()) return land;
    const geos::Geom all = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(parts));
    const geos::Geom united = geos::own(context, GEOSUnaryUnion_r(context.handle(), all.get()), "the water");
    const geos::Geom whole = geos::from_wkb(context, land);
    const geos::Geom dry =
        geos::own(context, GEOSDifference_r(context.handle(), whole.get(), united.get()), "the land less the water");
    if (geos::is_empty(context, dry.get()) || !(geos::area(context, dry.get()) > 0)) return land;
    return geos::to_wkb(context, dry.get());
}

}  // namespace civgrid::algorithms
