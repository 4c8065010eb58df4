// Internal: one walk over the coordinates of ISO WKB in place, for the reader (snapping to the
// coordinate grid) and the GeoPackage writer (the blob's envelope). No GDAL: bytes only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace civgrid::io::detail {

/// What a walk accepts besides little-endian 2D Point ... GeometryCollection (ISO types 1-7).
struct WkbWalkRules {
    /// Z, M and ZM coordinates (types + 1000, 2000, 3000); the visitor sees x and y of each.
    bool any_dimension = true;
    /// Curves and surfaces: circular string (8), compound curve (9), curve polygon (10), multi
    /// curve (11), multi surface (12), polyhedral surface (15), TIN (16), triangle (17).
    bool curves_and_surfaces = true;
    /// A multi point / line string / polygon holds only points / line strings / polygons.
    bool parts_of_their_type = false;
    /// Collections nested deeper than this are refused (0: the top geometry is no collection's part).
    int max_depth = std::numeric_limits<int>::max();
};

/// Walks the WKB in `data[0, size)`, calling `visit(xy, lone_point)` for every coordinate in
/// order: `xy` points at its x then y (doubles, unaligned; `Byte` const or not, so a visitor may
/// rewrite them), `lone_point` is true for a Point's (or a MultiPoint part's) coordinate. `type`
/// is the top geometry's WKB type. False for what it does not walk: big-endian bytes, a type the
/// rules refuse, truncated bytes or bytes left over; the visitor may have seen some coordinates.
template <typename Byte, typename Visit>
class WkbCoordinateWalker {
    static_assert(std::is_same_v<std::remove_const_t<Byte>, unsigned char>);

public:
    WkbCoordinateWalker(Byte* data, std::size_t size, const WkbWalkRules& rules, Visit& visit)
        : at_(data), end_(data + size), rules_(rules), visit_(visit) {}

    bool walk(std::uint32_t& type) { return geometry(type, 0) && at_ == end_; }

private:
    bool count(std::uint32_t& value) {
        if (static_cast<std::size_t>(end_ - at_) < sizeof value) return false;
        std::uint32_t read = 0;
        for (std::size_t b = 0; b < sizeof read; ++b) read |= static_cast<std::uint32_t>(at_[b]) << (8 * b);
        value = read;
        at_ += sizeof value;
        return true;
    }
    bool points(std::size_t n, std::size_t per_point, bool lone) {
        const std::size_t stride = per_point * sizeof(double);
        if (static_cast<std::size_t>(end_ - at_) / stride < n) return false;
        for (std::size_t i = 0; i < n; ++i, at_ += stride) visit_(at_, lone);
        return true;
    }
    bool geometry(std::uint32_t& type, int depth) {
        if (depth > rules_.max_depth || end_ - at_ < 5 || *at_ != 1) return false;  // little-endian only
        ++at_;
        static_cast<void>(count(type));
        const std::uint32_t dimensions = type / 1000;
        if (dimensions > 3 || (dimensions > 0 && !rules_.any_dimension)) return false;
        const std::size_t per_point = dimensions == 0 ? 2 : dimensions == 3 ? 4 : 3;  // XY, XYZ/XYM, XYZM
        const std::uint32_t kind = type % 1000;
        if (kind > 7 && !rules_.curves_and_surfaces) return false;
        std::uint32_t n = 0;
        switch (kind) {
            case 1:  // point
                return points(1, per_point, true);
            case 2:  // line string
            case 8:  // circular string
                return count(n) && points(n, per_point, false);
            case 3:   // polygon
            case 17:  // triangle
                if (!count(n)) return false;
                for (std::uint32_t ring = 0; ring < n; ++ring) {
                    std::uint32_t ring_points = 0;
                    if (!count(ring_points) || !points(ring_points, per_point, false)) return false;
                }
                return true;
            case 4:
            case 5:
            case 6:
            case 7:  // multi point, line string, polygon; collection
            case 9:
            case 10:
            case 11:
            case 12:  // compound curve, curve polygon, multi curve, multi surface
            case 15:
            case 16:  // polyhedral surface, TIN
                if (!count(n)) return false;
                for (std::uint32_t part = 0; part < n; ++part) {
                    std::uint32_t part_type = 0;
                    if (!geometry(part_type, depth + 1)) return false;
                    if (rules_.parts_of_their_type && kind >= 4 && kind <= 6 && part_type != type - 3) return false;
                }
                return true;
            default:
                return false;
        }
    }

    Byte* at_;
    Byte* end_;
    WkbWalkRules rules_;
    Visit& visit_;
};

/// walk over `data[0, size)` with `rules`, `visit(xy, lone_point)` per coordinate; see WkbCoordinateWalker.
template <typename Byte, typename Visit>
bool walk_wkb_coordinates(Byte* data, std::size_t size, const WkbWalkRules& rules, std::uint32_t& type, Visit&& visit) {
    return WkbCoordinateWalker<Byte, std::remove_reference_t<Visit>>(data, size, rules, visit).walk(type);
}

}  // namespace civgrid::io::detail
