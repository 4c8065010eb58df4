// Internal: reading 2D little-endian ISO WKB polygons in place (what io writes), so checks that
// find nothing wrong build no GEOS geometry; anything else (big-endian, Z, curves, other types)
// is left to GEOS by the callers.
#pragma once

#include <civgrid/types.hpp>

#include <bit>
#include <cstdint>
#include <cstring>
#include <vector>

namespace civgrid::algorithms::detail {

struct Rings {
    std::vector<Point> points;
    std::vector<std::size_t> ring_end;     ///< per ring: one past its last point
    std::vector<std::size_t> polygon_end;  ///< per polygon: one past its last ring
};

class WkbCursor {
public:
    explicit WkbCursor(const Wkb& wkb) : data_(wkb.data()), size_(wkb.size()) {}
    bool u8(std::uint8_t& value) {
        if (at_ + 1 > size_) return false;
        value = data_[at_++];
        return true;
    }
    bool u32(std::uint32_t& value) {
        if (at_ + 4 > size_) return false;
        value = static_cast<std::uint32_t>(data_[at_]) | static_cast<std::uint32_t>(data_[at_ + 1]) << 8 |
                static_cast<std::uint32_t>(data_[at_ + 2]) << 16 | static_cast<std::uint32_t>(data_[at_ + 3]) << 24;
        at_ += 4;
        return true;
    }
    bool points(std::uint32_t count, std::vector<Point>& out) {
        if (count > (size_ - at_) / 16) return false;
        const std::size_t first = out.size();
        out.resize(first + count);
        std::memcpy(out.data() + first, data_ + at_, std::size_t{count} * 16);  // x, y doubles, as Point
        at_ += std::size_t{count} * 16;
        return true;
    }
    /// Skips `count` points, `first` pointing at them in place.
    bool points(std::uint32_t count, const std::uint8_t*& first) {
        if (count > (size_ - at_) / 16) return false;
        first = data_ + at_;
        at_ += std::size_t{count} * 16;
        return true;
    }
    [[nodiscard]] bool at_end() const noexcept { return at_ == size_; }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t at_ = 0;
};
static_assert(sizeof(Point) == 16 && std::endian::native == std::endian::little,
              "WKB coordinates are copied into Points as they are");

inline bool read_polygon(WkbCursor& cursor, Rings& out) {
    std::uint8_t order = 0;
    std::uint32_t type = 0, ring_count = 0;
    if (!cursor.u8(order) || order != 1 || !cursor.u32(type) || type != 3 || !cursor.u32(ring_count)) return false;
    for (std::uint32_t r = 0; r < ring_count; ++r) {
        std::uint32_t point_count = 0;
        if (!cursor.u32(point_count) || !cursor.points(point_count, out.points)) return false;
        out.ring_end.push_back(out.points.size());
    }
    out.polygon_end.push_back(out.ring_end.size());
    return true;
}

// Reads a 2D little-endian Polygon or MultiPolygon into `out` (cleared first); false for anything else.
inline bool read_polygonal(const Wkb& wkb, Rings& out) {
    out.points.clear();
    out.ring_end.clear();
    out.polygon_end.clear();
    WkbCursor cursor(wkb);
    std::uint8_t order = 0;
    std::uint32_t type = 0;
    if (!cursor.u8(order) || order != 1 || !cursor.u32(type)) return false;
    if (type == 3) {
        WkbCursor whole(wkb);
        return read_polygon(whole, out) && whole.at_end();
    }
    std::uint32_t count = 0;
    if (type != 6 || !cursor.u32(count)) return false;
    for (std::uint32_t p = 0; p < count; ++p)
        if (!read_polygon(cursor, out)) return false;
    return cursor.at_end();
}

}  // namespace civgrid::algorithms::detail
