// The organic test city (see organic.hpp). A jittered lattice of blocks; each block is a park, a
// village of scattered houses or rows of walk-ups (a few of them towers); the admin levels are
// rectangles of whole blocks found by guillotine cuts (so they nest and share their vertices);
// a river, a band between two sine-sum curves, crosses the city west to east whatever the blocks.
#include <civgrid/data/organic.hpp>

#include "generator_support.hpp"

#include <civgrid/error.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <vector>

namespace civgrid::data {
namespace {

constexpr const char* kStage = "data.organic";
constexpr double kPi = 3.14159265358979323846;

/// Blocks [row0, row1) x [column0, column1) of the lattice.
struct BlockRect {
    std::size_t row0 = 0, row1 = 0, column0 = 0, column1 = 0;
};

/// The river: a band of `width` around y = centre(x).
struct River {
    double base = 0, amplitude1 = 0, wavelength1 = 1, phase1 = 0, amplitude2 = 0, wavelength2 = 1, phase2 = 0;
    double width = 0;
    [[nodiscard]] double centre(double x) const {
        return base + amplitude1 * std::sin(2 * kPi * x / wavelength1 + phase1) +
               amplitude2 * std::sin(2 * kPi * x / wavelength2 + phase2);
    }
    /// Whether the box comes within `margin` of the band (sampled every 2 m along x).
    [[nodiscard]] bool near(double min_x, double min_y, double max_x, double max_y, double margin) const {
        for (double x = min_x;; x = std::min(max_x, x + 2.0)) {
            const double y = centre(x);
            if (y - width / 2 - margin <= max_y && y + width / 2 + margin >= min_y) return true;
            if (x >= max_x) return false;
        }
    }
};

}  // namespace

// Long on purpose: the organic city's steps in order (street grid, major roads, river, parks,
// buildings), each a commented block with its own random stream.
SynthCity generate_organic_city(const OrganicConfig& config) {
    if (config.households < 5'000 || config.households > 20'000'000)
        throw ConfigError(kStage, "--households " + std::to_string(config.households) +
                                      " is out of range for --style organic: 5000 to 20000000");
    // About 105 households per block on average (walk-ups, towers, villages, parks).
    const double blocks_wanted = static_cast<double>(config.households) / 105.0;
    const auto columns = static_cast<std::size_t>(std::max(4.0, std::ceil(std::sqrt(blocks_wanted * 1.3))));
    const auto rows = static_cast<std::size_t>(std::max(4.0, std::ceil(blocks_wanted / static_cast<double>(columns))));
    const double size = config.block_size;
    detail::Rng rng(detail::splitmix64(config.seed ^ 0x4f5247414e4943ULL));  // "ORGANIC"

    // Lattice vertices; the outer ones stay on the city's rectangle.
    const auto vertex = [&](std::size_t r, std::size_t c) { return r * (columns + 1) + c; };
    std::vector<Point> vertices((rows + 1) * (columns + 1));
    for (std::size_t r = 0; r <= rows; ++r)
        for (std::size_t c = 0; c <= columns; ++c) {
            const double jx = (c == 0 || c == columns) ? 0.0 : config.jitter * size;
            const double jy = (r == 0 || r == rows) ? 0.0 : config.jitter * size;
            vertices[vertex(r, c)] = {config.origin_x + static_cast<double>(c) * size + rng.uniform(-jx, jx),
                                      config.origin_y + static_cast<double>(r) * size + rng.uniform(-jy, jy)};
        }
    const double width = static_cast<double>(columns) * size, height = static_cast<double>(rows) * size;
    River river;
    if (config.river) {
        river.base = config.origin_y + height * rng.uniform(0.35, 0.65);
        river.amplitude1 = height * rng.uniform(0.06, 0.14);
        river.wavelength1 = width * rng.uniform(0.4, 0.9);
        river.phase1 = rng.uniform(0, 2 * kPi);
        river.amplitude2 = size * rng.uniform(0.3, 0.8);
        river.wavelength2 = size * rng.uniform(2.5, 5.0);
        river.phase2 = rng.uniform(0, 2 * kPi);
        river.width = config.river_width;
    }

    // Buildings, block by block (each block its own randomness: a block's contents do not depend
    // on the others'). A point at (u, v) in [0, 1]^2 of a block is interpolated between its corners.
    io::LayerData buildings = detail::contract_layer("buildings");
    SynthCity city;
    city.crs = config.crs;
    std::vector<std::int64_t> block_households(rows * columns, 0);
    std::int64_t next_building = 1;
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < columns; ++c) {
            detail::Rng block(detail::splitmix64(config.seed * 0x9E3779B97F4A7C15ULL + r * columns + c + 1));
            const Point a = vertices[vertex(r, c)], b = vertices[vertex(r, c + 1)], d = vertices[vertex(r + 1, c)],
                        e = vertices[vertex(r + 1, c + 1)];
            const auto at = [&](double u, double v) {
                return Point{(1 - u) * (1 - v) * a.x + u * (1 - v) * b.x + (1 - u) * v * d.x + u * v * e.x,
                             (1 - u) * (1 - v) * a.y + u * (1 - v) * b.y + (1 - u) * v * d.y + u * v * e.y};
            };
            const auto add = [&](Point centre, double half_x, double half_y, std::int64_t households, int floors,
                                 int units, const char* kind) {
                if (config.river &&
                    river.near(centre.x - half_x, centre.y - half_y, centre.x + half_x, centre.y + half_y, 3.0))
                    return;  // under water
                const std::vector<Point> ring{{centre.x - half_x, centre.y - half_y},
                                              {centre.x + half_x, centre.y - half_y},
                                              {centre.x + half_x, centre.y + half_y},
                                              {centre.x - half_x, centre.y + half_y}};
                buildings.geometries.push_back(detail::wkb_polygon(ring));
                buildings.rows.push_back({next_building++, households, static_cast<std::int64_t>(floors),
                                          static_cast<std::int64_t>(units), std::string(kind)});
                block_households[r * columns + c] += households;
            };
            const double roll = block.uniform();
            if (roll < config.park_share) continue;
            constexpr double kSetback = 0.18;  // of the block: no footprint reaches a street
            if (roll < config.park_share + config.village_share) {
                // Scattered houses: random cells of a 5 x 5 grid, each somewhere inside its cell.
                std::vector<int> cells(25);
                for (int i = 0; i < 25; ++i) cells[static_cast<std::size_t>(i)] = i;
                block.shuffle(cells);
                const int houses = block.integer(8, 20);
                for (int h = 0; h < houses; ++h) {
                    const int cell = cells[static_cast<std::size_t>(h)];
                    const double u = kSetback + (1 - 2 * kSetback) * ((cell % 5) + block.uniform(0.3, 0.7)) / 5;
                    const double v = kSetback + (1 - 2 * kSetback) * ((cell / 5) + block.uniform(0.3, 0.7)) / 5;
                    add(at(u, v), block.uniform(3.5, 5.0), block.uniform(3.5, 5.0), block.integer(1, 3),
                        block.integer(1, 2), 1, "village");
                }
                continue;
            }
            const int across = block.integer(2, 3), up = block.integer(2, 3);
            for (int i = 0; i < across; ++i)
                for (int j = 0; j < up; ++j) {
                    const double u = kSetback + (1 - 2 * kSetback) * (i + 0.5) / across;
                    const double v = kSetback + (1 - 2 * kSetback) * (j + 0.5) / up;
                    if (block.chance(config.tower_share)) {
                        const int floors = block.integer(10, 33);
                        const auto households = static_cast<std::int64_t>(
                            std::clamp(std::lround(20 * std::exp(block.uniform(0, std::log(15.0)))), 20L, 300L));
                        add(at(u, v), block.uniform(8, 10), block.uniform(8, 10), households, floors,
                            block.integer(1, 4), "tower");
                    } else {
                        add(at(u, v), block.uniform(6, 9), block.uniform(4.5, 7), block.integer(6, 30),
                            block.integer(3, 6), block.integer(1, 3), "walk_up");
                    }
                }
        }

    // Households in any rectangle of blocks, from 2D prefix sums.
    std::vector<std::int64_t> prefix((rows + 1) * (columns + 1), 0);
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < columns; ++c)
            prefix[vertex(r + 1, c + 1)] = block_households[r * columns + c] + prefix[vertex(r, c + 1)] +
                                           prefix[vertex(r + 1, c)] - prefix[vertex(r, c)];
    const auto households_in = [&](const BlockRect& rect) {
        return prefix[vertex(rect.row1, rect.column1)] - prefix[vertex(rect.row0, rect.column1)] -
               prefix[vertex(rect.row1, rect.column0)] + prefix[vertex(rect.row0, rect.column0)];
    };
    // Guillotine cuts until each rectangle holds at most `most` households (or is one block):
    // across its longer side, at a random cut that leaves `least` on both sides where one does,
    // else at the cut nearest to halving its households.
    const auto split = [&](const BlockRect& whole, std::int64_t least, std::int64_t most) {
        std::vector<BlockRect> done;
        std::vector<BlockRect> todo{whole};
        while (!todo.empty()) {
            const BlockRect rect = todo.back();
            todo.pop_back();
            const std::size_t tall = rect.row1 - rect.row0, wide = rect.column1 - rect.column0;
            if (households_in(rect) <= most || (tall == 1 && wide == 1)) {
                done.push_back(rect);
                continue;
            }
            const bool by_rows = tall > wide || (tall == wide && rng.chance(0.5));
            const std::size_t length = by_rows ? tall : wide;
            const auto halves = [&](std::size_t cut) {
                BlockRect low = rect, high = rect;
                if (by_rows)
                    low.row1 = high.row0 = rect.row0 + cut;
                else
                    low.column1 = high.column0 = rect.column0 + cut;
                return std::pair{low, high};
            };
            std::vector<std::size_t> good;
            std::size_t nearest = 1;
            std::int64_t nearest_gap = -1;
            const std::int64_t total = households_in(rect);
            for (std::size_t cut = 1; cut < length; ++cut) {
                const auto [low, high] = halves(cut);
                const std::int64_t below = households_in(low), above = households_in(high);
                if (below >= least && above >= least) good.push_back(cut);
                const std::int64_t gap = std::abs(2 * below - total);
                if (nearest_gap < 0 || gap < nearest_gap) nearest = cut, nearest_gap = gap;
            }
            const std::size_t cut = good.empty() ? nearest : good[rng.index(good.size())];
            const auto [low, high] = halves(cut);
            todo.push_back(high);
            todo.push_back(low);
        }
        std::sort(done.begin(), done.end(), [](const BlockRect& x, const BlockRect& y) {
            return x.row0 != y.row0 ? x.row0 < y.row0 : x.column0 < y.column0;
        });
        return done;
    };
    // A rectangle's ring through the lattice vertices on its edges (shared with its neighbours).
    const auto outline = [&](const BlockRect& rect) {
        std::vector<Point> ring;
        for (std::size_t c = rect.column0; c < rect.column1; ++c) ring.push_back(vertices[vertex(rect.row0, c)]);
        for (std::size_t r = rect.row0; r < rect.row1; ++r) ring.push_back(vertices[vertex(r, rect.column1)]);
        for (std::size_t c = rect.column1; c > rect.column0; --c) ring.push_back(vertices[vertex(rect.row1, c)]);
        for (std::size_t r = rect.row1; r > rect.row0; --r) ring.push_back(vertices[vertex(r, rect.column0)]);
        return detail::wkb_polygon(ring);
    };
    const auto code = [](std::int64_t value, int digits) {
        char text[32];
        std::snprintf(text, sizeof text, "%0*lld", digits, static_cast<long long>(value));
        return std::string(text);
    };

    io::LayerData districts = detail::contract_layer("districts");
    io::LayerData streets = detail::contract_layer("streets");
    io::LayerData communities = detail::contract_layer("communities");
    const std::vector<BlockRect> district_rects = split({0, rows, 0, columns}, 40'000, 80'000);
    for (std::size_t d = 0; d < district_rects.size(); ++d) {
        const std::string district_code = "32" + code(static_cast<std::int64_t>(d + 1), 4);
        districts.geometries.push_back(outline(district_rects[d]));
        districts.rows.push_back({district_code, "Organic district " + std::to_string(d + 1)});
        const std::vector<BlockRect> street_rects = split(district_rects[d], 8'000, 20'000);
        for (std::size_t s = 0; s < street_rects.size(); ++s) {
            const std::string street_code = district_code + code(static_cast<std::int64_t>(s + 1), 3);
            streets.geometries.push_back(outline(street_rects[s]));
            streets.rows.push_back({street_code, district_code, "Organic street " + street_code});
            const std::vector<BlockRect> community_rects =
                split(street_rects[s], config.community_min, config.community_max);
            for (std::size_t k = 0; k < community_rects.size(); ++k) {
                const std::string community_code = street_code + code(static_cast<std::int64_t>(k + 1), 3);
                communities.geometries.push_back(outline(community_rects[k]));
                communities.rows.push_back(
                    {community_code, street_code, district_code, "Organic community " + community_code});
            }
        }
    }

    // Roads along every lattice line; a major one every few lines each way.
    io::LayerData roads = detail::contract_layer("roads");
    const auto majors = [&](std::size_t lines) {
        std::vector<char> major(lines + 1, 0);
        for (std::size_t i = static_cast<std::size_t>(rng.integer(1, config.major_every_min)); i < lines;
             i += static_cast<std::size_t>(rng.integer(config.major_every_min, config.major_every_max)))
            major[i] = 1;
        return major;
    };
    const std::vector<char> major_rows = majors(rows), major_columns = majors(columns);
    std::int64_t road_id = 1;
    for (std::size_t r = 0; r <= rows; ++r) {
        std::vector<Point> line;
        for (std::size_t c = 0; c <= columns; ++c) line.push_back(vertices[vertex(r, c)]);
        roads.geometries.push_back(detail::wkb_line(line));
        roads.rows.push_back(
            {road_id++, std::string(major_rows[r] ? "major" : "minor"), "Row road " + std::to_string(r)});
    }
    for (std::size_t c = 0; c <= columns; ++c) {
        std::vector<Point> line;
        for (std::size_t r = 0; r <= rows; ++r) line.push_back(vertices[vertex(r, c)]);
        roads.geometries.push_back(detail::wkb_line(line));
        roads.rows.push_back(
            {road_id++, std::string(major_columns[c] ? "major" : "minor"), "Column road " + std::to_string(c)});
    }

    io::LayerData rivers = detail::contract_layer("rivers");
    if (config.river) {
        // The band from beyond the west edge to beyond the east one, sampled every 10 m.
        std::vector<Point> ring;
        const double west = config.origin_x - 50, east = config.origin_x + width + 50;
        const auto samples = static_cast<std::size_t>(std::ceil((east - west) / 10.0));
        for (std::size_t i = 0; i <= samples; ++i) {
            const double x = west + (east - west) * static_cast<double>(i) / static_cast<double>(samples);
            ring.push_back({x, river.centre(x) - river.width / 2});
        }
        for (std::size_t i = samples + 1; i-- > 0;) {
            const double x = west + (east - west) * static_cast<double>(i) / static_cast<double>(samples);
            ring.push_back({x, river.centre(x) + river.width / 2});
        }
        rivers.geometries.push_back(detail::wkb_polygon(ring));
        rivers.rows.push_back({std::int64_t{1}, std::string("Organic river")});
    }

    SynthSummary& summary = city.summary;
    for (const auto& row : buildings.rows) summary.households += std::get<std::int64_t>(row[1]);
    summary.buildings = static_cast<std::int64_t>(buildings.rows.size());
    summary.districts = static_cast<std::int64_t>(districts.rows.size());
    summary.streets = static_cast<std::int64_t>(streets.rows.size());
    summary.communities = static_cast<std::int64_t>(communities.rows.size());
    summary.roads = static_cast<std::int64_t>(roads.rows.size());
    summary.blocks = static_cast<std::int64_t>(rows * columns);
    summary.empty_blocks = std::count(block_households.begin(), block_households.end(), 0);
    summary.min_x = config.origin_x;
    summary.min_y = config.origin_y;
    summary.max_x = config.origin_x + width;
    summary.max_y = config.origin_y + height;
    city.layers.push_back(std::move(districts));
    city.layers.push_back(std::move(streets));
    city.layers.push_back(std::move(communities));
    city.layers.push_back(std::move(roads));
    city.layers.push_back(std::move(rivers));
    city.layers.push_back(std::move(buildings));
    return city;
}

}  // namespace civgrid::data
