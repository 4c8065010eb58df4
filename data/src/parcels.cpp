// Parcels that tile the ground (see parcels.hpp). A jittered lattice of vertices; each lattice
// edge is built once (straight, or for a dense parcel's edges a long wiggle of many vertices) and
// both parcels beside it use that same vertex sequence, so they share the edge exactly.
#include <civgrid/data/parcels.hpp>

#include "generator_support.hpp"

#include <civgrid/error.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

namespace civgrid::data {
namespace {

constexpr const char* kStage = "data.parcels";
constexpr double kPi = 3.14159265358979323846;

/// The vertices strictly between `a` and `b`: none, or `count` along the segment wiggling up to
/// `amplitude` metres to either side (calm near the ends, so edges meeting at a corner never cross).
std::vector<Point> edge_between(Point a, Point b, int count, double amplitude) {
    std::vector<Point> inner;
    if (count <= 0) return inner;
    const double dx = b.x - a.x, dy = b.y - a.y, length = std::hypot(dx, dy);
    const double nx = -dy / length, ny = dx / length;
    inner.reserve(static_cast<std::size_t>(count));
    for (int k = 1; k <= count; ++k) {
        const double t = static_cast<double>(k) / (count + 1);
        const double offset = amplitude * std::sin(kPi * t) * std::sin(40.0 * t);
        inner.push_back({a.x + t * dx + offset * nx, a.y + t * dy + offset * ny});
    }
    return inner;
}

/// A convex counter-clockwise ring moved `d` metres inwards on every side (outwards when d < 0):
/// each edge's line shifted along its normal, the corners where consecutive lines meet.
std::vector<Point> offset_ring(const std::vector<Point>& ring, double d) {
    const std::size_t n = ring.size();
    std::vector<Point> moved(n);
    const auto shifted = [&](std::size_t i) {  // edge i -> i + 1, moved: a point on it and its direction
        const Point a = ring[i], b = ring[(i + 1) % n];
        const double dx = b.x - a.x, dy = b.y - a.y, length = std::hypot(dx, dy);
        return std::pair<Point, Point>{{a.x - dy / length * d, a.y + dx / length * d}, {dx, dy}};
    };
    for (std::size_t i = 0; i < n; ++i) {
        const auto [p, u] = shifted((i + n - 1) % n);
        const auto [q, v] = shifted(i);
        const double cross = u.x * v.y - u.y * v.x;
        const double t = ((q.x - p.x) * v.y - (q.y - p.y) * v.x) / cross;
        moved[i] = {p.x + t * u.x, p.y + t * u.y};
    }
    return moved;
}

SynthCity generate(const ParcelConfig& config, ParcelDirt* dirt_out) {
    if (config.parcels < 4 || config.parcels > 10'000'000)
        throw ConfigError(kStage, "--parcels " + std::to_string(config.parcels) + " is out of range: 4 to 10000000");
    if (!(config.gap_share >= 0) || !(config.overlap_share >= 0) || config.gap_share + config.overlap_share > 1)
        throw ConfigError(kStage, "--gaps and --overlaps are shares of parcels: each 0 or more, together at most 1");
    if (!(config.dirt_width > 0) || config.dirt_width > 0.1 * config.parcel_size)
        throw ConfigError(kStage, "--dirt-width " + std::to_string(config.dirt_width) +
                                      " is out of range: above 0 and at most a tenth of the parcel size");
    const auto columns = static_cast<std::size_t>(std::ceil(std::sqrt(static_cast<double>(config.parcels))));
    const std::size_t rows = (static_cast<std::size_t>(config.parcels) + columns - 1) / columns;
    detail::Rng rng(detail::splitmix64(config.seed ^ 0x50415243454cULL));  // "PARCEL"

    // Lattice vertices, jittered by up to a quarter of the spacing (neighbours stay convex-ish).
    const auto vertex_index = [&](std::size_t r, std::size_t c) { return r * (columns + 1) + c; };
    std::vector<Point> vertices((rows + 1) * (columns + 1));
    for (std::size_t r = 0; r <= rows; ++r)
        for (std::size_t c = 0; c <= columns; ++c) {
            const double jitter = (r == 0 || c == 0 || r == rows || c == columns) ? 0.0 : 0.25 * config.parcel_size;
            vertices[vertex_index(r, c)] = {
                config.origin_x + static_cast<double>(c) * config.parcel_size + rng.uniform(-jitter, jitter),
                config.origin_y + static_cast<double>(r) * config.parcel_size + rng.uniform(-jitter, jitter)};
        }

    // Which parcels are dense and which invalid.
    std::vector<char> dense(rows * columns), invalid(rows * columns);
    for (std::size_t p = 0; p < dense.size(); ++p) {
        dense[p] = rng.chance(config.dense_share);
        invalid[p] = rng.chance(config.invalid_share);
    }
    const auto is_dense = [&](std::size_t r, std::size_t c) {
        return r < rows && c < columns && dense[r * columns + c];
    };
    const int dense_per_edge = std::max(1, config.dense_vertices / 4);

    // Dirt (its own random stream, so the rest of the layer is the same with or without): 1 gap,
    // 2 overlap, per parcel.
    std::vector<char> dirt(rows * columns, 0);
    if (config.gap_share > 0 || config.overlap_share > 0) {
        detail::Rng dirt_rng(detail::splitmix64(config.seed ^ 0x44495254ULL));  // "DIRT"
        for (std::size_t r = 1; r + 1 < rows; ++r)
            for (std::size_t c = 1; c + 1 < columns; ++c) {
                const double draw = dirt_rng.uniform();
                const std::size_t p = r * columns + c;
                if (dense[p] || invalid[p] || is_dense(r - 1, c) || is_dense(r + 1, c) || is_dense(r, c - 1) ||
                    is_dense(r, c + 1))
                    continue;
                bool apart = true;
                for (std::size_t rr = r - 1; rr <= r + 1; ++rr)
                    for (std::size_t cc = c - 1; cc <= c + 1; ++cc) apart = apart && !dirt[rr * columns + cc];
                if (!apart) continue;
                if (draw < config.gap_share)
                    dirt[p] = 1;
                else if (draw < config.gap_share + config.overlap_share)
                    dirt[p] = 2;
            }
    }

    // Every edge once: horizontal ones from (r, c) to (r, c + 1), vertical ones from (r, c) to (r + 1, c).
    std::vector<std::vector<Point>> horizontal((rows + 1) * columns), vertical(rows * (columns + 1));
    for (std::size_t r = 0; r <= rows; ++r)
        for (std::size_t c = 0; c < columns; ++c) {
            const bool wiggly = is_dense(r, c) || (r > 0 && is_dense(r - 1, c));
            horizontal[r * columns + c] = edge_between(vertices[vertex_index(r, c)], vertices[vertex_index(r, c + 1)],
                                                       wiggly ? dense_per_edge : 0, 0.5);
        }
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c <= columns; ++c) {
            const bool wiggly = is_dense(r, c) || (c > 0 && is_dense(r, c - 1));
            vertical[r * (columns + 1) + c] = edge_between(
                vertices[vertex_index(r, c)], vertices[vertex_index(r + 1, c)], wiggly ? dense_per_edge : 0, 0.5);
        }

    io::LayerData layer{"buildings",
                        io::GeometryKind::polygon,
                        {{"building_id", FieldType::integer}, {"households", FieldType::integer}},
                        {},
                        {}};
    SynthCity city;
    city.crs = config.crs;
    std::vector<Point> ring;
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < columns; ++c) {
            // Counter-clockwise: the bottom edge forward, the right one up, the top one back, the left one down.
            ring.clear();
            const auto append = [&](Point corner, const std::vector<Point>& inner, bool reversed) {
                ring.push_back(corner);
                if (reversed)
                    ring.insert(ring.end(), inner.rbegin(), inner.rend());
                else
                    ring.insert(ring.end(), inner.begin(), inner.end());
            };
            append(vertices[vertex_index(r, c)], horizontal[r * columns + c], false);
            append(vertices[vertex_index(r, c + 1)], vertical[r * (columns + 1) + c + 1], false);
            append(vertices[vertex_index(r + 1, c + 1)], horizontal[(r + 1) * columns + c], true);
            append(vertices[vertex_index(r + 1, c)], vertical[r * (columns + 1) + c], true);
            if (invalid[r * columns + c]) std::swap(ring[1], ring[ring.size() / 2]);  // a bow-tie
            if (const char d = dirt[r * columns + c]; d != 0) {
                ring = offset_ring(ring, d == 1 ? config.dirt_width : -config.dirt_width);
                if (dirt_out != nullptr)
                    (d == 1 ? dirt_out->gaps : dirt_out->overlaps)
                        .push_back(static_cast<std::int64_t>(r * columns + c + 1));
            }
            const std::int64_t households = rng.chance(0.2) ? 0 : rng.integer(1, 40);
            layer.geometries.push_back(detail::wkb_polygon(ring));
            layer.rows.push_back({static_cast<std::int64_t>(r * columns + c + 1), households});
            city.summary.households += households;
        }
    city.summary.buildings = static_cast<std::int64_t>(layer.rows.size());
    city.summary.min_x = config.origin_x;
    city.summary.min_y = config.origin_y;
    city.summary.max_x = config.origin_x + static_cast<double>(columns) * config.parcel_size;
    city.summary.max_y = config.origin_y + static_cast<double>(rows) * config.parcel_size;
    city.layers.push_back(std::move(layer));
    return city;
}

}  // namespace

SynthCity generate_parcels(const ParcelConfig& config) {
    return generate(config, nullptr);
}

ParcelDirt parcel_dirt(const ParcelConfig& config) {
    ParcelDirt dirt;
    static_cast<void>(generate(config, &dirt));
    return dirt;
}

}  // namespace civgrid::data
