// Internal to data/: the generators' deterministic randomness and direct WKB writing.
#pragma once

#include <civgrid/io/layer.hpp>
#include <civgrid/types.hpp>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace civgrid::data::detail {

// ------------------------------------------------------------------------------------------------
// Randomness: one mt19937_64 per purpose (and per block), numbers made by our own formulas.
constexpr std::uint64_t splitmix64(std::uint64_t x) noexcept {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30U)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27U)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31U);
}

class Rng {
public:
    explicit Rng(std::uint64_t seed) : engine_(seed) {}
    /// Uniform in [0, 1) from the top 53 bits of one draw.
    double uniform() { return static_cast<double>(engine_() >> 11U) * 0x1.0p-53; }
    double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
    /// Uniform integer in [lo, hi] (the modulo bias is below 2^-50 for our ranges).
    int integer(int lo, int hi) {
        const auto span = static_cast<std::uint64_t>(static_cast<std::int64_t>(hi) - lo + 1);
        return lo + static_cast<int>(engine_() % span);
    }
    std::size_t index(std::size_t size) { return static_cast<std::size_t>(engine_() % size); }
    bool chance(double p) { return uniform() < p; }
    template <class T>
    void shuffle(std::vector<T>& values) {
        for (std::size_t i = values.size(); i > 1; --i) std::swap(values[i - 1], values[index(i)]);
    }

private:
    std::mt19937_64 engine_;
};

// ------------------------------------------------------------------------------------------------
// WKB (ISO, 2D, little endian) written directly: cheaper than GEOS for 400,000 rectangles.
class WkbBuilder {
public:
    explicit WkbBuilder(std::size_t reserve) { bytes_.reserve(reserve); }
    void header(std::uint32_t type) {
        bytes_.push_back(1);
        u32(type);
    }
    void u32(std::uint32_t value) {
        for (unsigned i = 0; i < 4; ++i) bytes_.push_back(static_cast<std::uint8_t>(value >> (8U * i)));
    }
    void point(Point p) {
        f64(p.x);
        f64(p.y);
    }
    Wkb take() { return std::move(bytes_); }

private:
    void f64(double value) {
        const auto bits = std::bit_cast<std::uint64_t>(value);
        for (unsigned i = 0; i < 8; ++i) bytes_.push_back(static_cast<std::uint8_t>(bits >> (8U * i)));
    }
    Wkb bytes_;
};

inline Wkb wkb_point(Point p) {
    WkbBuilder b(21);
    b.header(1);
    b.point(p);
    return b.take();
}

inline Wkb wkb_line(std::span<const Point> vertices) {
    WkbBuilder b(9 + 16 * vertices.size());
    b.header(2);
    b.u32(static_cast<std::uint32_t>(vertices.size()));
    for (const Point& p : vertices) b.point(p);
    return b.take();
}

/// A one-ring polygon; `ring` is not closed (the closing vertex is written here).
inline Wkb wkb_polygon(std::span<const Point> ring) {
    WkbBuilder b(13 + 16 * (ring.size() + 1));
    b.header(3);
    b.u32(1);
    b.u32(static_cast<std::uint32_t>(ring.size() + 1));
    for (const Point& p : ring) b.point(p);
    b.point(ring.front());
    return b.take();
}

// ------------------------------------------------------------------------------------------------
// The layer contract of synth.hpp: each generated layer's name, geometry and fields, in one place.
inline io::LayerData contract_layer(const std::string& name) {
    const auto layer = [&](io::GeometryKind kind, std::vector<Field> fields) {
        return io::LayerData{name, kind, std::move(fields), {}, {}};
    };
    if (name == "districts")
        return layer(io::GeometryKind::polygon, {{"district_code", FieldType::string}, {"name", FieldType::string}});
    if (name == "streets")
        return layer(
            io::GeometryKind::polygon,
            {{"street_code", FieldType::string}, {"district_code", FieldType::string}, {"name", FieldType::string}});
    if (name == "communities")
        return layer(io::GeometryKind::polygon, {{"community_code", FieldType::string},
                                                 {"street_code", FieldType::string},
                                                 {"district_code", FieldType::string},
                                                 {"name", FieldType::string}});
    if (name == "roads")
        return layer(io::GeometryKind::line_string,
                     {{"road_id", FieldType::integer}, {"class", FieldType::string}, {"name", FieldType::string}});
    if (name == "rivers")
        return layer(io::GeometryKind::polygon, {{"river_id", FieldType::integer}, {"name", FieldType::string}});
    if (name == "buildings")
        return layer(io::GeometryKind::polygon, {{"building_id", FieldType::integer},
                                                 {"households", FieldType::integer},
                                                 {"floors", FieldType::integer},
                                                 {"units", FieldType::integer},
                                                 {"kind", FieldType::string}});
    return layer(io::GeometryKind::none, {});
}

}  // namespace civgrid::data::detail
