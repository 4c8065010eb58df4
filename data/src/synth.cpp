// The synthetic city generator. See synth.hpp for the layer contract.
//
// Design in one paragraph: a warped grid of superblocks (~900 m) bounded by major roads; each
// superblock is split by minor roads into 4x4 blocks by bilinear interpolation, and every vertex
// of that fine grid is computed once and shared, so blocks, communities (2x2 blocks), streets and
// districts (unions of communities) tile and nest exactly. Buildings are placed per block with
// plain arithmetic in a block-local frame (half-plane setbacks from the block's road edges and
// segment distances to the river and railway centre lines), never with GEOS overlay. Block types
// follow a centre-to-periphery gradient whose high-rise share is tuned (density_knob) so the
// expected households meet the request; a short city gets central blocks upgraded to high-rise,
// then fit_households rescales households within each kind's range to hit the total exactly.
// Every random choice comes from a std::mt19937_64 stream derived from the seed and a purpose (and
// a block index), turned into numbers by our own formulas, so a config always gives the same city
// (bit-identical on one platform; libm's sin/cos/atan2 may differ in the last bit elsewhere).
#include <civgrid/data/synth.hpp>

#include "generator_support.hpp"

#include <civgrid/algorithms/geos.hpp>
#include <civgrid/error.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

namespace civgrid::data {
namespace {

using detail::contract_layer;
using detail::Rng;
using detail::splitmix64;
using detail::wkb_line;
using detail::wkb_point;
using detail::wkb_polygon;

constexpr const char* kStage = "data.synth";
constexpr double kPi = 3.14159265358979323846;

// ------------------------------------------------------------------------------------------------
// Parameters of the city model.
constexpr double kSuperblockSpacing = 900.0;  // metres between major roads
constexpr double kNodeJitter = 0.12;          // of the spacing
constexpr int kBlocksPerSide = 4;             // blocks per superblock side
constexpr double kHouseholdsPerCommunity = 2600.0;
constexpr double kCommunitiesPerStreet = 13.0;
constexpr double kStreetsPerDistrict = 8.5;
constexpr int kMaxDistricts = 12;
constexpr double kRoadSetback = 15.5;     // >= 15 m from any road centre line
constexpr double kRiverSetback = 10.5;    // >= 10 m from the river polygon
constexpr double kRailwaySetback = 12.5;  // >= 12 m from the railway
constexpr double kStationHouseholds =
    7'000.0;                             // households per station and utility (about 2,000 stations for a 3.4 M city)
constexpr double kStationReserve = 1.3;  // total capacity / households per utility
constexpr double kWorkerFactor = 1.12;   // non-mobile workers per planned micro-grid
constexpr double kMobilePerHousehold = 6000.0 / 3'400'000.0;
constexpr std::int64_t kMinHouseholds = 1'000;
constexpr std::int64_t kMaxHouseholds = 30'000'000;

enum class Stream : std::uint64_t {
    nodes = 1,
    grouping,
    names,
    block_type,
    block_layout,
    river,
    railway,
    households,
    stations,
    workers,
};

std::uint64_t stream_seed(std::uint64_t seed, Stream stream, std::uint64_t index = 0) noexcept {
    return splitmix64(splitmix64(seed) ^ splitmix64((static_cast<std::uint64_t>(stream) << 40U) + index));
}

// ------------------------------------------------------------------------------------------------
// Plane geometry on civgrid::Point.
Point operator+(Point a, Point b) {
    return {a.x + b.x, a.y + b.y};
}
Point operator-(Point a, Point b) {
    return {a.x - b.x, a.y - b.y};
}
Point operator*(double s, Point a) {
    return {s * a.x, s * a.y};
}
double dot(Point a, Point b) {
    return a.x * b.x + a.y * b.y;
}
double cross(Point a, Point b) {
    return a.x * b.y - a.y * b.x;
}
double norm(Point a) {
    return std::hypot(a.x, a.y);
}

double point_segment_distance(Point p, Point a, Point b) {
    const Point ab = b - a;
    const double len2 = dot(ab, ab);
    const double t = len2 > 0 ? std::clamp(dot(p - a, ab) / len2, 0.0, 1.0) : 0.0;
    return norm(p - (a + t * ab));
}

bool segments_cross(Point a, Point b, Point c, Point d) {
    const double d1 = cross(b - a, c - a), d2 = cross(b - a, d - a);
    const double d3 = cross(d - c, a - c), d4 = cross(d - c, b - c);
    return ((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0));
}

double segment_distance(Point a, Point b, Point c, Point d) {
    if (segments_cross(a, b, c, d)) return 0.0;
    return std::min({point_segment_distance(a, c, d), point_segment_distance(b, c, d), point_segment_distance(c, a, b),
                     point_segment_distance(d, a, b)});
}

using Quad = std::array<Point, 4>;  // counter-clockwise

bool inside_convex(const Quad& q, Point p) {
    for (std::size_t k = 0; k < 4; ++k)
        if (cross(q[(k + 1) % 4] - q[k], p - q[k]) < 0) return false;
    return true;
}

// ------------------------------------------------------------------------------------------------
// Names (UTF-8).
constexpr std::array<const char*, 64> kSyllables = {
    "新", "安", "和", "平", "华", "兴", "龙", "凤", "桥", "湖", "山", "水", "江", "河", "东", "西",
    "南", "北", "中", "金", "银", "玉", "春", "秋", "花", "园", "林", "泉", "石", "光", "明", "阳",
    "清", "溪", "梅", "桂", "竹", "松", "云", "月", "星", "福", "康", "宁", "瑞", "祥", "泰", "丰",
    "盛", "荣", "德", "仁", "义", "文", "武", "长", "乐", "朝", "天", "莲", "翠", "锦", "汉", "紫"};

struct DistrictName {
    const char* code;
    const char* name;
};
// Nanjing's districts, central ones first; the last one is made up.
constexpr std::array<DistrictName, kMaxDistricts> kDistrictNames = {{{"320102", "玄武区"},
                                                                     {"320104", "秦淮区"},
                                                                     {"320105", "建邺区"},
                                                                     {"320106", "鼓楼区"},
                                                                     {"320114", "雨花台区"},
                                                                     {"320113", "栖霞区"},
                                                                     {"320115", "江宁区"},
                                                                     {"320111", "浦口区"},
                                                                     {"320116", "六合区"},
                                                                     {"320117", "溧水区"},
                                                                     {"320118", "高淳区"},
                                                                     {"320119", "江北区"}}};

class NamePool {
public:
    explicit NamePool(std::uint64_t seed) : rng_(seed) {}
    /// A name not handed out before: two syllables (three once pairs run short) and the suffix.
    std::string unique(const std::string& suffix) {
        for (int syllables = 2;; ++syllables) {
            for (int attempt = 0; attempt < 64; ++attempt) {
                std::string name;
                for (int s = 0; s < syllables; ++s) name += kSyllables[rng_.index(kSyllables.size())];
                name += suffix;
                if (used_.insert(name).second) return name;
            }
        }
    }
    Rng& rng() { return rng_; }

private:
    Rng rng_;
    std::unordered_set<std::string> used_;
};

std::string padded(std::int64_t value, int width) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%0*lld", width, static_cast<long long>(value));
    return buffer;
}

// ------------------------------------------------------------------------------------------------
// Sizing.
struct Sizing {
    int nx = 1, ny = 1;  // superblocks
    int streets = 1, districts = 1;
};

Sizing choose_sizing(std::int64_t households, int districts) {
    const double target = static_cast<double>(households) / (kHouseholdsPerCommunity * 4.0);
    const double max_aspect = target >= 8.0 ? 1.5 : 3.0;
    Sizing best;
    long best_product = std::numeric_limits<long>::max();
    double best_aspect = 0;
    const int limit = static_cast<int>(std::ceil(target)) + 1;
    for (int nx = 1; nx <= limit; ++nx) {
        const int ny = std::max(1, static_cast<int>(std::ceil(target / nx - 1e-9)));
        const double aspect = static_cast<double>(std::max(nx, ny)) / std::min(nx, ny);
        if (aspect > max_aspect) continue;
        const long product = static_cast<long>(nx) * ny;
        if (product < best_product || (product == best_product && aspect < best_aspect) ||
            (product == best_product && aspect == best_aspect && nx > best.nx)) {
            best_product = product;
            best_aspect = aspect;
            best.nx = nx;
            best.ny = ny;
        }
    }
    const int superblocks = best.nx * best.ny;
    const int communities = 4 * superblocks;
    best.streets = std::clamp(static_cast<int>(std::lround(communities / kCommunitiesPerStreet)),
                              std::min(2, superblocks), superblocks);
    best.districts =
        std::clamp(static_cast<int>(std::ceil(best.streets / kStreetsPerDistrict - 1e-9)), 1, kMaxDistricts);
    if (best.streets >= 4) best.districts = std::max(best.districts, 2);
    if (districts > 0) {  // asked for: a street each at least
        best.districts = std::min(districts, superblocks);
        best.streets = std::max(best.streets, best.districts);
    }
    best.districts = std::min(best.districts, best.streets);
    return best;
}

// ------------------------------------------------------------------------------------------------
// The fine grid of block corners.
struct Grid {
    int nx = 0, ny = 0;  // superblocks
    double spacing = kSuperblockSpacing;
    Point origin;
    std::vector<Point> nodes;  // (4nx+1) x (4ny+1), row-major by J

    [[nodiscard]] int fine_x() const { return kBlocksPerSide * nx; }
    [[nodiscard]] int fine_y() const { return kBlocksPerSide * ny; }
    [[nodiscard]] const Point& node(int i, int j) const {
        return nodes[static_cast<std::size_t>(j) * static_cast<std::size_t>(fine_x() + 1) +
                     static_cast<std::size_t>(i)];
    }
    [[nodiscard]] double width() const { return nx * spacing; }
    [[nodiscard]] double height() const { return ny * spacing; }
    [[nodiscard]] Quad block(int i, int j) const {
        return {node(i, j), node(i + 1, j), node(i + 1, j + 1), node(i, j + 1)};
    }
};

Grid make_grid(const SynthConfig& config, const Sizing& sizing) {
    Grid grid;
    grid.nx = sizing.nx;
    grid.ny = sizing.ny;
    grid.origin = {config.origin_x, config.origin_y};
    const double sp = grid.spacing;
    // Superblock corners: jittered inside, slid along the boundary on its sides, fixed at corners,
    // so the city outline is an exact rectangle.
    Rng rng(stream_seed(config.seed, Stream::nodes));
    const auto cx = static_cast<std::size_t>(grid.nx + 1);
    std::vector<Point> corners(cx * static_cast<std::size_t>(grid.ny + 1));
    for (int j = 0; j <= grid.ny; ++j) {
        for (int i = 0; i <= grid.nx; ++i) {
            double dx = rng.uniform(-kNodeJitter, kNodeJitter) * sp;
            double dy = rng.uniform(-kNodeJitter, kNodeJitter) * sp;
            if (i == 0 || i == grid.nx) dx = 0;
            if (j == 0 || j == grid.ny) dy = 0;
            corners[static_cast<std::size_t>(j) * cx + static_cast<std::size_t>(i)] = {grid.origin.x + i * sp + dx,
                                                                                       grid.origin.y + j * sp + dy};
        }
    }
    auto corner = [&](int i, int j) { return corners[static_cast<std::size_t>(j) * cx + static_cast<std::size_t>(i)]; };
    const int fx = grid.fine_x(), fy = grid.fine_y();
    grid.nodes.resize(static_cast<std::size_t>(fx + 1) * static_cast<std::size_t>(fy + 1));
    for (int fj = 0; fj <= fy; ++fj) {
        for (int fi = 0; fi <= fx; ++fi) {
            const int i = std::min(fi / kBlocksPerSide, grid.nx - 1), j = std::min(fj / kBlocksPerSide, grid.ny - 1);
            const double u = static_cast<double>(fi - kBlocksPerSide * i) / kBlocksPerSide;
            const double v = static_cast<double>(fj - kBlocksPerSide * j) / kBlocksPerSide;
            const Point p00 = corner(i, j), p10 = corner(i + 1, j), p11 = corner(i + 1, j + 1), p01 = corner(i, j + 1);
            Point p = (1 - u) * (1 - v) * p00 + u * (1 - v) * p10 + u * v * p11 + (1 - u) * v * p01;
            if (fi == 0) p.x = grid.origin.x;
            if (fi == fx) p.x = grid.origin.x + grid.width();
            if (fj == 0) p.y = grid.origin.y;
            if (fj == fy) p.y = grid.origin.y + grid.height();
            grid.nodes[static_cast<std::size_t>(fj) * static_cast<std::size_t>(fx + 1) + static_cast<std::size_t>(fi)] =
                p;
        }
    }
    return grid;
}

// ------------------------------------------------------------------------------------------------
// Administrative grouping: contiguous, roughly balanced regions on the superblock grid.

/// Splits `cells` (ids on an nx-wide grid, 4-connected) into `count` contiguous regions by
/// balanced growth from spread-out seeds. Returns the region of each cell, by position in `cells`.
std::vector<int> grow_regions(const std::vector<int>& cells, int nx, int count, Rng& rng) {
    const std::size_t n = cells.size();
    std::vector<int> region(n, -1);
    auto x_of = [nx](int cell) { return static_cast<double>(cell % nx); };
    auto y_of = [nx](int cell) { return static_cast<double>(cell / nx); };
    // Seeds by farthest-point sampling from a random first cell.
    std::vector<std::size_t> seeds{rng.index(n)};
    std::vector<double> nearest(n, std::numeric_limits<double>::max());
    while (static_cast<int>(seeds.size()) < count) {
        const std::size_t last = seeds.back();
        for (std::size_t k = 0; k < n; ++k) {
            const double d = std::hypot(x_of(cells[k]) - x_of(cells[last]), y_of(cells[k]) - y_of(cells[last]));
            nearest[k] = std::min(nearest[k], d);
        }
        std::size_t best = 0;
        double best_score = -1;
        for (std::size_t k = 0; k < n; ++k) {
            const double score = nearest[k] + rng.uniform(0.0, 0.3);
            if (score > best_score) {
                best_score = score;
                best = k;
            }
        }
        seeds.push_back(best);
    }
    std::vector<int> position_of_cell;  // grid cell id -> position in `cells`, or -1
    const int max_cell = *std::max_element(cells.begin(), cells.end());
    position_of_cell.assign(static_cast<std::size_t>(max_cell + 1), -1);
    for (std::size_t k = 0; k < n; ++k) position_of_cell[static_cast<std::size_t>(cells[k])] = static_cast<int>(k);
    std::vector<std::size_t> size(seeds.size(), 1);
    for (std::size_t r = 0; r < seeds.size(); ++r) region[seeds[r]] = static_cast<int>(r);
    std::size_t assigned = seeds.size();
    std::vector<bool> stuck(seeds.size(), false);
    while (assigned < n) {
        // The smallest region that can still grow takes its unassigned neighbour closest to its seed.
        std::size_t pick = seeds.size();
        for (std::size_t r = 0; r < seeds.size(); ++r)
            if (!stuck[r] && (pick == seeds.size() || size[r] < size[pick])) pick = r;
        if (pick == seeds.size()) throw InternalError(kStage, "grouping: cells are not connected");
        const int seed_cell = cells[seeds[pick]];
        int best = -1;
        double best_distance = 0;
        for (std::size_t k = 0; k < n; ++k) {
            if (region[k] != static_cast<int>(pick)) continue;
            const int cell = cells[k];
            const int cx = cell % nx, cy = cell / nx;
            const std::array<std::pair<int, int>, 4> steps = {{{1, 0}, {-1, 0}, {0, 1}, {0, -1}}};
            for (const auto& [sx, sy] : steps) {
                const int x = cx + sx, y = cy + sy;
                if (x < 0 || x >= nx || y < 0) continue;
                const int neighbour = y * nx + x;
                if (neighbour > max_cell) continue;
                const int pos = position_of_cell[static_cast<std::size_t>(neighbour)];
                if (pos < 0 || region[static_cast<std::size_t>(pos)] >= 0) continue;
                const double d = std::hypot(x - x_of(seed_cell), y - y_of(seed_cell));
                if (best < 0 || d < best_distance || (d == best_distance && pos < best)) {
                    best = pos;
                    best_distance = d;
                }
            }
        }
        if (best < 0) {
            stuck[pick] = true;
            continue;
        }
        region[static_cast<std::size_t>(best)] = static_cast<int>(pick);
        ++size[pick];
        ++assigned;
    }
    return region;
}

// ------------------------------------------------------------------------------------------------
// Buildings.
enum class Kind : std::uint8_t { high_rise, walk_up, village, non_residential };
enum class BlockType : std::uint8_t { high_rise, walk_up, village, non_residential, park };
constexpr int kBlockTypes = 5;

const char* kind_name(Kind kind) {
    switch (kind) {
        case Kind::high_rise:
            return "high_rise";
        case Kind::walk_up:
            return "walk_up";
        case Kind::village:
            return "village";
        case Kind::non_residential:
            return "non_residential";
    }
    return "non_residential";
}

std::pair<int, int> household_range(Kind kind) {
    switch (kind) {
        case Kind::high_rise:
            return {100, 300};
        case Kind::walk_up:
            return {18, 36};
        case Kind::village:
            return {1, 3};
        case Kind::non_residential:
            return {0, 0};
    }
    return {0, 0};
}

struct Building {
    Quad corners;
    int households = 0, floors = 0, units = 0;
    Kind kind = Kind::non_residential;
    bool removed = false;
    int block = 0;
};

/// Weights of the block types at normalised distance r (0 = centre, 1 = corner of the city);
/// `high_rise` scales the high-rise weight (the density knob).
std::array<double, kBlockTypes> type_weights(double r, double high_rise = 1.0) {
    return {high_rise * (0.22 - 0.17 * r),  // high-rise estates, denser in the centre
            0.36 - 0.16 * r,                // walk-ups
            0.12 + 0.55 * r,                // villages, mostly in the periphery
            0.14 - 0.06 * r,                // non-residential
            0.05};                          // parks and empty blocks
}

/// Households a block of each type holds on average before fitting (measured on large cities).
constexpr std::array<double, kBlockTypes> kExpectedBlockHouseholds = {2370.0, 460.0, 380.0, 0.0, 0.0};

/// The high-rise weight factor whose expected households per block meet `target`.
double density_knob(const std::vector<double>& block_r, double target) {
    auto expected = [&](double knob) {
        double sum = 0;
        for (double r : block_r) {
            const auto w = type_weights(r, knob);
            double households = 0;
            for (std::size_t t = 0; t < w.size(); ++t) households += w[t] * kExpectedBlockHouseholds[t];
            sum += households / std::accumulate(w.begin(), w.end(), 0.0);
        }
        return sum / static_cast<double>(block_r.size());
    };
    double lo = 0.5, hi = 2.0;
    if (expected(lo) >= target) return lo;
    if (expected(hi) <= target) return hi;
    for (int k = 0; k < 40; ++k) {
        const double mid = 0.5 * (lo + hi);
        (expected(mid) < target ? lo : hi) = mid;
    }
    return 0.5 * (lo + hi);
}

/// A polyline obstacle (river or railway centre line) and the clearance buildings keep from it.
struct Obstacle {
    std::vector<Point> line;
    double clearance = 0;
};

/// Places buildings in one block, in a local frame (origin, e1, e2) rotated by `angle`. The room
/// for buildings is the block quad shrunk by the road setback: four half-planes a*x + b*y >= h in
/// local coordinates, so the x-interval free for a row of given y-extent is exact arithmetic.
class BlockPlacer {
public:
    BlockPlacer(const Quad& block, double angle, const std::vector<const Obstacle*>& obstacles, int block_index,
                std::vector<Building>& out)
        : block_(block), out_(out), block_index_(block_index) {
        origin_ = 0.25 * (block[0] + block[1] + block[2] + block[3]);
        e1_ = {std::cos(angle), std::sin(angle)};
        e2_ = {-e1_.y, e1_.x};
        for (std::size_t k = 0; k < 4; ++k) {
            const Point edge = block[(k + 1) % 4] - block[k];
            normals_[k] = (1.0 / norm(edge)) * Point{-edge.y, edge.x};  // inward for a CCW quad
            // A small extra margin keeps the final world-coordinate check from rounding failures.
            planes_[k] = {dot(normals_[k], e1_), dot(normals_[k], e2_),
                          kRoadSetback + 0.01 - dot(normals_[k], origin_ - block[k])};
        }
        // The inset quad's corners (consecutive planes meet there) give the usable y-range; between
        // the second-lowest and second-highest corner a row spans the block from side to side.
        std::array<double, 4> ys{};
        for (std::size_t k = 0; k < 4; ++k) {
            const Plane& p = planes_[(k + 3) % 4];
            const Plane& q = planes_[k];
            const double det = p.a * q.b - p.b * q.a;
            ys[k] = std::abs(det) < 1e-12 ? 0.0 : (p.a * q.h - q.a * p.h) / det;
        }
        std::sort(ys.begin(), ys.end());
        y0_ = ys[0];
        full_y0_ = ys[1];
        full_y1_ = ys[2];
        y1_ = ys[3];
        // The obstacle segments that can come near this block.
        double bx0 = std::numeric_limits<double>::max(), by0 = bx0, bx1 = std::numeric_limits<double>::lowest(),
               by1 = bx1;
        for (const Point& c : block) {
            bx0 = std::min(bx0, c.x);
            by0 = std::min(by0, c.y);
            bx1 = std::max(bx1, c.x);
            by1 = std::max(by1, c.y);
        }
        for (const Obstacle* obstacle : obstacles) {
            const double m = obstacle->clearance + 1.0;
            for (std::size_t s = 0; s + 1 < obstacle->line.size(); ++s) {
                const Point a = obstacle->line[s], b = obstacle->line[s + 1];
                if (std::max(a.x, b.x) < bx0 - m || std::min(a.x, b.x) > bx1 + m || std::max(a.y, b.y) < by0 - m ||
                    std::min(a.y, b.y) > by1 + m)
                    continue;
                near_.push_back({a, b, obstacle->clearance});
            }
        }
    }

    /// Local y-range of the room for buildings.
    [[nodiscard]] double y0() const { return y0_; }
    [[nodiscard]] double y1() const { return y1_; }
    /// Local y-range where rows run from side to side (no corner wedge).
    [[nodiscard]] double full_y0() const { return full_y0_; }
    [[nodiscard]] double full_y1() const { return full_y1_; }

    /// The x-interval where a rectangle spanning [ya, yb] keeps the road setbacks; empty when
    /// first > second.
    [[nodiscard]] std::pair<double, double> row(double ya, double yb) const {
        double lo = std::numeric_limits<double>::lowest(), hi = std::numeric_limits<double>::max();
        for (const Plane& p : planes_) {
            const double worst_lo = std::max((p.h - p.b * ya), (p.h - p.b * yb));  // needs a*x >= this
            if (std::abs(p.a) < 1e-12) {
                if (worst_lo > 0) return {1.0, 0.0};
            } else if (p.a > 0) {
                lo = std::max(lo, worst_lo / p.a);
            } else {
                hi = std::min(hi, worst_lo / p.a);
            }
        }
        return {lo, hi};
    }

    /// Places the local rectangle [lx0, lx1] x [ly0, ly1] if it keeps every setback.
    bool place(double lx0, double ly0, double lx1, double ly1, Kind kind, int households, int floors, int units) {
        const Quad q = {world(lx0, ly0), world(lx1, ly0), world(lx1, ly1), world(lx0, ly1)};
        for (const Point& p : q)
            for (std::size_t k = 0; k < 4; ++k)
                if (dot(normals_[k], p - block_[k]) < kRoadSetback) return false;
        for (const NearSegment& s : near_) {
            if (inside_convex(q, s.a)) return false;
            for (std::size_t k = 0; k < 4; ++k)
                if (segment_distance(q[k], q[(k + 1) % 4], s.a, s.b) < s.clearance) return false;
        }
        out_.push_back({q, households, floors, units, kind, false, block_index_});
        return true;
    }

private:
    struct NearSegment {
        Point a, b;
        double clearance;
    };
    struct Plane {
        double a, b, h;
    };
    [[nodiscard]] Point world(double lx, double ly) const { return origin_ + lx * e1_ + ly * e2_; }

    Quad block_;
    std::vector<Building>& out_;
    int block_index_;
    Point origin_, e1_, e2_;
    std::array<Point, 4> normals_{};
    std::array<Plane, 4> planes_{};
    double y0_ = 0, y1_ = 0, full_y0_ = 0, full_y1_ = 0;
    std::vector<NearSegment> near_;
};

/// A row of shops along the block's local bottom edge; returns the y where the rest may start.
double place_shops(BlockPlacer& placer, Rng& rng) {
    const double depth = rng.uniform(10.0, 14.0);
    const double y = placer.full_y0();
    const auto [x0, x1] = placer.row(y, y + depth);
    double x = x0 + rng.uniform(0.0, 6.0);
    while (true) {
        const double length = rng.uniform(15.0, 32.0);
        if (x + length > x1) break;
        placer.place(x, y, x + length, y + depth, Kind::non_residential, 0, rng.integer(1, 3), 1);
        x += length + rng.uniform(3.0, 8.0);
    }
    return y + depth + rng.uniform(10.0, 16.0);
}

void layout_high_rise(BlockPlacer& placer, Rng& rng) {
    double y = rng.chance(0.6) ? place_shops(placer, rng) : placer.y0() + rng.uniform(0.0, 8.0);
    const double depth = rng.uniform(16.0, 22.0), gap_y = rng.uniform(28.0, 40.0), gap_x = rng.uniform(12.0, 24.0);
    for (; y + depth <= placer.y1(); y += depth + gap_y) {
        const auto [x0, x1] = placer.row(y, y + depth);
        double x = x0 + rng.uniform(0.0, 8.0);
        while (true) {
            const int units = rng.integer(2, 6);
            const double length = 12.0 + 7.0 * units + rng.uniform(-2.0, 2.0);
            if (x + length > x1) break;
            const int floors = rng.integer(18, 33);
            const int households =
                std::clamp(static_cast<int>(std::lround(floors * units * rng.uniform(2.2, 3.2))), 100, 300);
            placer.place(x, y, x + length, y + depth, Kind::high_rise, households, floors, units);
            x += length + gap_x;
        }
    }
}

void layout_walk_up(BlockPlacer& placer, Rng& rng) {
    double y = rng.chance(0.6) ? place_shops(placer, rng) : placer.y0() + rng.uniform(0.0, 6.0);
    const double depth = rng.uniform(11.0, 13.0), gap_y = rng.uniform(14.0, 20.0), gap_x = rng.uniform(8.0, 14.0);
    for (; y + depth <= placer.y1(); y += depth + gap_y) {
        const auto [x0, x1] = placer.row(y, y + depth);
        double x = x0 + rng.uniform(0.0, 6.0);
        while (true) {
            const int units = rng.chance(0.6) ? 3 : 2;
            const double length = 20.0 * units + rng.uniform(-2.0, 4.0);
            if (x + length > x1) break;
            const int households = std::clamp(static_cast<int>(std::lround(6 * units * rng.uniform(1.8, 2.0))), 18, 36);
            placer.place(x, y, x + length, y + depth, Kind::walk_up, households, 6, units);
            x += length + gap_x;
        }
    }
}

void layout_village(BlockPlacer& placer, Rng& rng) {
    const double pitch = rng.uniform(12.5, 14.5), occupancy = rng.uniform(0.78, 0.94);
    for (double y = placer.y0(); y + pitch - 2.0 <= placer.y1(); y += pitch) {
        const auto [x0, x1] = placer.row(y, y + pitch - 2.0);
        for (double x = x0; x + pitch - 2.0 <= x1; x += pitch) {
            if (!rng.chance(occupancy)) continue;
            // A house of 8-12 m somewhere in its cell, leaving at least 2 m to the next cell.
            const double w = std::min(rng.uniform(8.0, 12.0), pitch - 2.0);
            const double h = std::min(rng.uniform(8.0, 12.0), pitch - 2.0);
            const double ox = x + rng.uniform(0.0, pitch - 2.0 - w), oy = y + rng.uniform(0.0, pitch - 2.0 - h);
            const int floors = rng.integer(1, 3);
            const double u = rng.uniform();
            const int households = u < 0.1 ? 1 : (u < 0.45 ? 2 : 3);
            placer.place(ox, oy, ox + w, oy + h, Kind::village, households, floors, 1);
        }
    }
}

void layout_non_residential(BlockPlacer& placer, Rng& rng) {
    const int cols = rng.integer(2, 3), rows = rng.integer(2, 3);
    const bool full = placer.full_y1() - placer.full_y0() > 60.0;
    const double ya = full ? placer.full_y0() : placer.y0(), yb = full ? placer.full_y1() : placer.y1();
    const double ch = (yb - ya) / rows;
    for (int r = 0; r < rows; ++r) {
        const double y = ya + r * ch;
        const auto [x0, x1] = placer.row(y, y + ch);
        const double cw = (x1 - x0) / cols;
        if (cw < 20.0) continue;
        for (int c = 0; c < cols; ++c) {
            if (!rng.chance(0.85)) continue;
            const double w = cw * rng.uniform(0.45, 0.8), h = ch * rng.uniform(0.45, 0.8);
            const double ox = x0 + c * cw + 3.0 + rng.uniform(0.0, std::max(0.0, cw - w - 6.0));
            const double oy = y + 3.0 + rng.uniform(0.0, std::max(0.0, ch - h - 6.0));
            placer.place(ox, oy, ox + w, oy + h, Kind::non_residential, 0, rng.integer(2, 20), 1);
        }
    }
}

/// Rescales households to land on `target` (thinning first when far too many), keeping every
/// building inside its kind's range.
void fit_households(std::vector<Building>& buildings, std::int64_t target, Rng& rng) {
    std::vector<std::size_t> residential;
    std::int64_t total = 0;
    for (std::size_t k = 0; k < buildings.size(); ++k) {
        if (buildings[k].kind == Kind::non_residential) continue;
        residential.push_back(k);
        total += buildings[k].households;
    }
    if (residential.empty() || total == 0) throw InternalError(kStage, "no residential building could be placed");
    const auto t = static_cast<double>(target);
    if (static_cast<double>(total) > 1.3 * t) {
        std::vector<std::size_t> order = residential;
        rng.shuffle(order);
        for (std::size_t k : order) {
            if (static_cast<double>(total) <= 1.1 * t) break;
            buildings[k].removed = true;
            total -= buildings[k].households;
        }
        std::erase_if(residential, [&](std::size_t k) { return buildings[k].removed; });
    }
    const double factor = t / static_cast<double>(total);
    total = 0;
    for (std::size_t k : residential) {
        Building& b = buildings[k];
        const double value = b.households * factor;
        const double base = std::floor(value);
        const auto [lo, hi] = household_range(b.kind);
        b.households = std::clamp(static_cast<int>(base) + (rng.uniform() < value - base ? 1 : 0), lo, hi);
        total += b.households;
    }
    std::int64_t residual = target - total;
    std::vector<std::size_t> order = residential;
    rng.shuffle(order);
    bool changed = true;
    while (residual != 0 && changed) {
        changed = false;
        for (std::size_t k : order) {
            if (residual == 0) break;
            Building& b = buildings[k];
            const auto [lo, hi] = household_range(b.kind);
            if (residual > 0 && b.households < hi) {
                ++b.households;
                --residual;
                changed = true;
            } else if (residual < 0 && b.households > lo) {
                --b.households;
                ++residual;
                changed = true;
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------
// River and railway.
struct River {
    Obstacle centre;  // centre line with clearance = max half width + setback
    std::vector<Point> outline;
};

River make_river(const SynthConfig& config, const Grid& grid) {
    Rng rng(stream_seed(config.seed, Stream::river));
    const double w = grid.width(), h = grid.height();
    const double mid = grid.origin.y + h * rng.uniform(0.38, 0.62);
    const double a1 = std::min(0.16 * h, 700.0), a2 = 0.25 * a1;
    const double l1 = std::clamp(w / 2.5, 1800.0, 5000.0) * rng.uniform(0.85, 1.15);
    const double l2 = l1 / rng.uniform(2.3, 2.9);
    const double lw = rng.uniform(1500.0, 3000.0);
    const double p1 = rng.uniform(0.0, 2 * kPi), p2 = rng.uniform(0.0, 2 * kPi), pw = rng.uniform(0.0, 2 * kPi);
    auto centre_y = [&](double x) {
        return mid + a1 * std::sin(2 * kPi * x / l1 + p1) + a2 * std::sin(2 * kPi * x / l2 + p2);
    };
    auto half_width = [&](double x) { return 40.0 + 7.5 * std::sin(2 * kPi * x / lw + pw); };  // 65-95 m wide
    River river;
    const double step = 20.0, x_start = grid.origin.x - 160.0;
    const int count = static_cast<int>(std::ceil((w + 320.0) / step)) + 1;
    std::vector<Point> line;
    for (int k = 0; k < count; ++k) {
        const double x = x_start + k * step;
        line.push_back({x, centre_y(x - grid.origin.x)});
    }
    std::vector<Point> left, right;
    for (std::size_t k = 0; k < line.size(); ++k) {
        const Point a = line[k == 0 ? 0 : k - 1], b = line[k + 1 < line.size() ? k + 1 : k];
        const Point tangent = (1.0 / norm(b - a)) * (b - a);
        const Point normal{-tangent.y, tangent.x};
        const double r = half_width(line[k].x - grid.origin.x);
        left.push_back(line[k] + r * normal);
        right.push_back(line[k] - r * normal);
    }
    river.outline = right;
    river.outline.insert(river.outline.end(), left.rbegin(), left.rend());
    river.centre.line = std::move(line);
    river.centre.clearance = 47.5 + kRiverSetback;
    return river;
}

Obstacle make_railway(const SynthConfig& config, const Grid& grid) {
    Rng rng(stream_seed(config.seed, Stream::railway));
    const double w = grid.width(), h = grid.height();
    double y0 = h * rng.uniform(0.1, 0.3), y1 = h * rng.uniform(0.7, 0.9);
    if (rng.chance(0.5)) std::swap(y0, y1);
    const Point a{grid.origin.x, grid.origin.y + y0}, b{grid.origin.x + w, grid.origin.y + y1};
    const Point d = b - a;
    const Point normal = (1.0 / norm(d)) * Point{-d.y, d.x};
    Point control = 0.5 * (a + b) + rng.uniform(-0.15, 0.15) * std::min(w, h) * normal;
    control.x = std::clamp(control.x, grid.origin.x + 0.1 * w, grid.origin.x + 0.9 * w);
    control.y = std::clamp(control.y, grid.origin.y + 0.05 * h, grid.origin.y + 0.95 * h);
    Obstacle railway;
    const int count = 64;
    for (int k = 0; k <= count; ++k) {
        const double t = static_cast<double>(k) / count;
        railway.line.push_back((1 - t) * (1 - t) * a + 2 * (1 - t) * t * control + t * t * b);
    }
    railway.line.front() = a;
    railway.line.back() = b;
    railway.clearance = kRailwaySetback;
    return railway;
}

// ------------------------------------------------------------------------------------------------
// Layers.
io::LayerData make_layer(std::string name, io::GeometryKind kind, std::vector<Field> fields) {
    io::LayerData layer;
    layer.name = std::move(name);
    layer.geometry_kind = kind;
    layer.fields = std::move(fields);
    return layer;
}

geos::Geom coverage_union(const geos::Context& context, std::vector<geos::Geom> parts, const std::string& what) {
    geos::Geom collection = geos::collection(context, GEOS_MULTIPOLYGON, std::move(parts));
    geos::Geom result = geos::own(context, GEOSCoverageUnion_r(context.handle(), collection.get()), "coverage union");
    if (GEOSGeomTypeId_r(context.handle(), result.get()) != GEOS_POLYGON)
        throw InternalError(kStage, what + " is not one polygon");
    return result;
}

}  // namespace

// ================================================================================================
// Long (about 500 lines) on purpose: the generator's steps in order (grid, admin areas, roads,
// river, blocks, buildings, workers, stations), each a commented block drawing from its own random
// stream, so a step can change without shifting the others' numbers.
SynthCity generate_city(const SynthConfig& config) {
    if (config.households < kMinHouseholds)
        throw ConfigError(kStage, "households must be at least 1,000 (got " + std::to_string(config.households) + ")");
    if (config.households > kMaxHouseholds)
        throw ConfigError(kStage,
                          "households must be at most 30,000,000 (got " + std::to_string(config.households) + ")");
    if (!(config.target_households > 0) || !std::isfinite(config.target_households))
        throw ConfigError(kStage, "target_households must be positive");
    if (!std::isfinite(config.origin_x) || !std::isfinite(config.origin_y))
        throw ConfigError(kStage, "origin must be finite");
    if (config.crs.empty()) throw ConfigError(kStage, "crs must not be empty");
    if (config.districts < 0 || config.districts > 1000)
        throw ConfigError(kStage,
                          "districts must be from 0 (by size) to 1,000 (got " + std::to_string(config.districts) + ")");

    const Sizing sizing = choose_sizing(config.households, config.districts);
    const Grid grid = make_grid(config, sizing);
    const int nx = grid.nx, ny = grid.ny, fx = grid.fine_x(), fy = grid.fine_y();
    const int superblocks = nx * ny;
    const Point city_centre = grid.origin + Point{grid.width() / 2, grid.height() / 2};
    const double half_diagonal = std::hypot(grid.width() / 2, grid.height() / 2);

    SynthCity city;
    city.crs = config.crs;
    SynthSummary& summary = city.summary;
    geos::Context context;
    NamePool names(stream_seed(config.seed, Stream::names));

    // --- Administrative grouping on superblocks --------------------------------------------------
    Rng group_rng(stream_seed(config.seed, Stream::grouping));
    std::vector<int> all_cells(static_cast<std::size_t>(superblocks));
    std::iota(all_cells.begin(), all_cells.end(), 0);
    const std::vector<int> sb_district = grow_regions(all_cells, nx, sizing.districts, group_rng);
    // District order: central first (they get the central districts' codes).
    std::vector<std::vector<int>> district_cells(static_cast<std::size_t>(sizing.districts));
    for (int s = 0; s < superblocks; ++s)
        district_cells[static_cast<std::size_t>(sb_district[static_cast<std::size_t>(s)])].push_back(s);
    auto cells_centre = [&](const std::vector<int>& cells) {
        Point c;
        for (int s : cells) c = c + Point{(s % nx + 0.5) * grid.spacing, (s / nx + 0.5) * grid.spacing};
        return (1.0 / static_cast<double>(cells.size())) * c;
    };
    std::vector<int> district_order(static_cast<std::size_t>(sizing.districts));
    std::iota(district_order.begin(), district_order.end(), 0);
    {
        const Point half{grid.width() / 2, grid.height() / 2};
        std::vector<double> distance;
        for (const auto& cells : district_cells) distance.push_back(norm(cells_centre(cells) - half));
        std::stable_sort(district_order.begin(), district_order.end(), [&](int a, int b) {
            return distance[static_cast<std::size_t>(a)] < distance[static_cast<std::size_t>(b)];
        });
    }
    // Streets per district: proportional to size (largest remainder), at least 1, at most its cells.
    std::vector<int> street_count(static_cast<std::size_t>(sizing.districts), 1);
    {
        int remaining = sizing.streets - sizing.districts;
        std::vector<std::pair<double, int>> remainders;
        for (int d = 0; d < sizing.districts; ++d) {
            const auto cells = static_cast<int>(district_cells[static_cast<std::size_t>(d)].size());
            const double share = static_cast<double>(sizing.streets) * cells / superblocks - 1.0;
            const int whole = std::clamp(static_cast<int>(std::floor(std::max(0.0, share))), 0, cells - 1);
            const int take = std::min(whole, remaining);
            street_count[static_cast<std::size_t>(d)] += take;
            remaining -= take;
            remainders.push_back({share - whole, d});
        }
        std::stable_sort(remainders.begin(), remainders.end(),
                         [](const auto& a, const auto& b) { return a.first > b.first; });
        while (remaining > 0) {
            bool progress = false;
            for (const auto& [fraction, d] : remainders) {
                if (remaining == 0) break;
                const auto du = static_cast<std::size_t>(d);
                if (street_count[du] < static_cast<int>(district_cells[du].size())) {
                    ++street_count[du];
                    --remaining;
                    progress = true;
                }
            }
            if (!progress) break;
        }
    }
    // Streets inside each district, in district order; codes follow.
    struct Street {
        int district = 0;
        std::vector<int> cells;
        std::string code, name;
    };
    struct District {
        std::string code, name;
        std::vector<int> streets;
    };
    std::vector<District> districts;
    std::vector<Street> streets;
    std::vector<int> sb_street(static_cast<std::size_t>(superblocks), -1);
    for (std::size_t rank = 0; rank < district_order.size(); ++rank) {
        const auto d = static_cast<std::size_t>(district_order[rank]);
        District district;
        if (rank < kDistrictNames.size()) {
            district.code = kDistrictNames[rank].code;
            district.name = kDistrictNames[rank].name;
        } else {  // a province: the cities after Nanjing (3202, 3203, ...), 99 districts each
            const auto extra = static_cast<std::int64_t>(rank - kDistrictNames.size());
            district.code = "32" + padded(2 + extra / 99, 2) + padded(1 + extra % 99, 2);
            district.name = names.unique("区");
        }
        const std::vector<int>& cells = district_cells[d];
        const std::vector<int> local = grow_regions(cells, nx, street_count[d], group_rng);
        std::vector<Street> group(static_cast<std::size_t>(street_count[d]));
        for (std::size_t k = 0; k < cells.size(); ++k)
            group[static_cast<std::size_t>(local[k])].cells.push_back(cells[k]);
        // Reading order inside the district: north to south, then west to east.
        std::stable_sort(group.begin(), group.end(), [&](const Street& a, const Street& b) {
            const Point ca = cells_centre(a.cells), cb = cells_centre(b.cells);
            return ca.y != cb.y ? ca.y > cb.y : ca.x < cb.x;
        });
        for (std::size_t k = 0; k < group.size(); ++k) {
            Street& street = group[k];
            street.district = static_cast<int>(districts.size());
            street.code = district.code + padded(static_cast<std::int64_t>(k + 1), 3);
            street.name = names.unique("街道");
            for (int s : street.cells) sb_street[static_cast<std::size_t>(s)] = static_cast<int>(streets.size());
            district.streets.push_back(static_cast<int>(streets.size()));
            streets.push_back(std::move(street));
        }
        districts.push_back(std::move(district));
    }

    // Communities: 2x2 blocks; numbered inside their street north to south, west to east.
    struct Community {
        int ci = 0, cj = 0, street = 0;
        std::string code, name;
    };
    std::vector<Community> communities;
    {
        std::vector<std::vector<std::pair<int, int>>> by_street(streets.size());
        for (int cj = 2 * ny - 1; cj >= 0; --cj)
            for (int ci = 0; ci < 2 * nx; ++ci)
                by_street[static_cast<std::size_t>(sb_street[static_cast<std::size_t>((cj / 2) * nx + ci / 2)])]
                    .push_back({ci, cj});
        for (std::size_t s = 0; s < streets.size(); ++s) {
            for (std::size_t k = 0; k < by_street[s].size(); ++k) {
                Community community;
                community.ci = by_street[s][k].first;
                community.cj = by_street[s][k].second;
                community.street = static_cast<int>(s);
                community.code = streets[s].code + padded(static_cast<std::int64_t>(k + 1), 3);
                community.name = names.unique("社区");
                communities.push_back(std::move(community));
            }
        }
    }

    // --- Admin polygons: built from the shared fine-grid vertices -----------------------------------
    io::LayerData district_layer = contract_layer("districts");
    io::LayerData street_layer = contract_layer("streets");
    io::LayerData community_layer = contract_layer("communities");
    std::vector<std::vector<Point>> community_rings;
    for (const Community& c : communities) {
        const int i = 2 * c.ci, j = 2 * c.cj;
        community_rings.push_back({grid.node(i, j), grid.node(i + 1, j), grid.node(i + 2, j), grid.node(i + 2, j + 1),
                                   grid.node(i + 2, j + 2), grid.node(i + 1, j + 2), grid.node(i, j + 2),
                                   grid.node(i, j + 1)});
    }
    std::vector<std::vector<std::size_t>> street_communities(streets.size());
    for (std::size_t k = 0; k < communities.size(); ++k)
        street_communities[static_cast<std::size_t>(communities[k].street)].push_back(k);
    for (const District& district : districts) {
        std::vector<geos::Geom> district_parts;
        for (int s : district.streets) {
            const Street& street = streets[static_cast<std::size_t>(s)];
            std::vector<geos::Geom> parts;
            for (std::size_t k : street_communities[static_cast<std::size_t>(s)]) {
                parts.push_back(geos::polygon(context, community_rings[k]));
                district_parts.push_back(geos::polygon(context, community_rings[k]));
            }
            geos::Geom polygon = coverage_union(context, std::move(parts), "street " + street.code);
            street_layer.geometries.push_back(geos::to_wkb(context, polygon.get()));
            street_layer.rows.push_back({street.code, district.code, street.name});
        }
        geos::Geom polygon = coverage_union(context, std::move(district_parts), "district " + district.code);
        district_layer.geometries.push_back(geos::to_wkb(context, polygon.get()));
        district_layer.rows.push_back({district.code, district.name});
    }
    for (std::size_t k = 0; k < communities.size(); ++k) {
        const Community& c = communities[k];
        const Street& street = streets[static_cast<std::size_t>(c.street)];
        community_layer.geometries.push_back(wkb_polygon(community_rings[k]));
        community_layer.rows.push_back(
            {c.code, street.code, districts[static_cast<std::size_t>(street.district)].code, c.name});
    }
    // Features in code order (codes already sort in generation order, this keeps it explicit).
    auto sort_by_first_field = [](io::LayerData& layer) {
        std::vector<std::size_t> order(layer.rows.size());
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
            return std::get<std::string>(layer.rows[a][0]) < std::get<std::string>(layer.rows[b][0]);
        });
        io::LayerData sorted = make_layer(layer.name, layer.geometry_kind, layer.fields);
        for (std::size_t k : order) {
            sorted.geometries.push_back(std::move(layer.geometries[k]));
            sorted.rows.push_back(std::move(layer.rows[k]));
        }
        layer = std::move(sorted);
    };
    sort_by_first_field(district_layer);
    sort_by_first_field(street_layer);
    sort_by_first_field(community_layer);

    // --- Roads -------------------------------------------------------------------------------------
    io::LayerData road_layer = contract_layer("roads");
    auto add_road = [&](const std::vector<Point>& vertices, bool major) {
        const auto id = static_cast<std::int64_t>(road_layer.rows.size() + 1);
        std::string name = major ? names.unique(names.rng().chance(0.3) ? "大道" : "路")
                                 : names.unique(names.rng().chance(0.5) ? "街" : "巷");
        road_layer.geometries.push_back(wkb_line(vertices));
        road_layer.rows.push_back({id, std::string(major ? "major" : "minor"), std::move(name)});
    };
    for (int i = 0; i <= nx; ++i) {  // major roads along superblock columns (south to north)
        std::vector<Point> line;
        for (int j = 0; j <= fy; ++j) line.push_back(grid.node(kBlocksPerSide * i, j));
        add_road(line, true);
    }
    for (int j = 0; j <= ny; ++j) {  // and rows (west to east)
        std::vector<Point> line;
        for (int i = 0; i <= fx; ++i) line.push_back(grid.node(i, kBlocksPerSide * j));
        add_road(line, true);
    }
    for (int sj = 0; sj < ny; ++sj) {  // minor roads inside each superblock
        for (int si = 0; si < nx; ++si) {
            for (int a = 1; a < kBlocksPerSide; ++a) {
                std::vector<Point> vertical, horizontal;
                for (int b = 0; b <= kBlocksPerSide; ++b) {
                    vertical.push_back(grid.node(kBlocksPerSide * si + a, kBlocksPerSide * sj + b));
                    horizontal.push_back(grid.node(kBlocksPerSide * si + b, kBlocksPerSide * sj + a));
                }
                add_road(vertical, false);
                add_road(horizontal, false);
            }
        }
    }

    // --- River and railway ---------------------------------------------------------------------------
    const River river = make_river(config, grid);
    const Obstacle railway = make_railway(config, grid);
    io::LayerData railway_layer = make_layer("railways", io::GeometryKind::line_string,
                                             {{"railway_id", FieldType::integer}, {"name", FieldType::string}});
    railway_layer.geometries.push_back(wkb_line(railway.line));
    railway_layer.rows.push_back({std::int64_t{1}, std::string("京沪铁路")});
    io::LayerData river_layer = contract_layer("rivers");
    {
        geos::Geom outline = geos::polygon(context, river.outline);
        if (GEOSisValid_r(context.handle(), outline.get()) != 1)
            throw InternalError(kStage, "the river outline is invalid");
        geos::Geom clipped = geos::own(context,
                                       GEOSClipByRect_r(context.handle(), outline.get(), grid.origin.x, grid.origin.y,
                                                        grid.origin.x + grid.width(), grid.origin.y + grid.height()),
                                       "clipping the river");
        // Keep the largest polygon should clipping ever split it.
        std::vector<geos::Geom> pieces = geos::parts(context, clipped.get());
        std::size_t best = 0;
        double best_area = -1;
        for (std::size_t k = 0; k < pieces.size(); ++k) {
            if (GEOSGeomTypeId_r(context.handle(), pieces[k].get()) != GEOS_POLYGON) continue;
            const double a = geos::area(context, pieces[k].get());
            if (a > best_area) {
                best_area = a;
                best = k;
            }
        }
        if (best_area <= 0) throw InternalError(kStage, "the river does not cross the city");
        river_layer.geometries.push_back(geos::to_wkb(context, pieces[best].get()));
        river_layer.rows.push_back({std::int64_t{1}, std::string("秦淮河")});
    }

    // --- Blocks: types and buildings ---------------------------------------------------------------
    const int block_count = fx * fy;
    std::vector<BlockType> block_types(static_cast<std::size_t>(block_count));
    std::vector<double> block_r(static_cast<std::size_t>(block_count));
    for (int j = 0; j < fy; ++j) {
        for (int i = 0; i < fx; ++i) {
            const Quad q = grid.block(i, j);
            const Point centre = 0.25 * (q[0] + q[1] + q[2] + q[3]);
            block_r[static_cast<std::size_t>(j * fx + i)] = std::min(1.0, norm(centre - city_centre) / half_diagonal);
        }
    }
    const double knob = density_knob(block_r, static_cast<double>(config.households) / block_count);
    for (int j = 0; j < fy; ++j) {
        for (int i = 0; i < fx; ++i) {
            const int b = j * fx + i;
            Rng rng(stream_seed(config.seed, Stream::block_type, static_cast<std::uint64_t>(b)));
            const auto w = type_weights(block_r[static_cast<std::size_t>(b)], knob);
            double pick = rng.uniform() * std::accumulate(w.begin(), w.end(), 0.0);
            int type = 0;
            while (type + 1 < kBlockTypes && pick >= w[static_cast<std::size_t>(type)])
                pick -= w[static_cast<std::size_t>(type++)];
            block_types[static_cast<std::size_t>(b)] = static_cast<BlockType>(type);
        }
    }
    // Every type at least once (when there are enough blocks): take the block that suits it best
    // among those of a type present more than once.
    if (block_count >= 16) {
        std::vector<bool> forced(static_cast<std::size_t>(block_count), false);
        for (int t = 0; t < kBlockTypes; ++t) {
            std::array<int, kBlockTypes> counts{};
            for (BlockType bt : block_types) ++counts[static_cast<std::size_t>(bt)];
            if (counts[static_cast<std::size_t>(t)] > 0) continue;
            int best = -1;
            double best_weight = -1;
            for (int b = 0; b < block_count; ++b) {
                const auto bu = static_cast<std::size_t>(b);
                if (forced[bu] || counts[static_cast<std::size_t>(block_types[bu])] < 2) continue;
                const double weight = type_weights(block_r[bu], knob)[static_cast<std::size_t>(t)];
                if (weight > best_weight) {
                    best_weight = weight;
                    best = b;
                }
            }
            if (best >= 0) {
                block_types[static_cast<std::size_t>(best)] = static_cast<BlockType>(t);
                forced[static_cast<std::size_t>(best)] = true;
            }
        }
    }
    const std::vector<const Obstacle*> obstacles{&river.centre, &railway};
    auto layout_block = [&](int b) {
        std::vector<Building> placed;
        const BlockType type = block_types[static_cast<std::size_t>(b)];
        if (type == BlockType::park) return placed;
        Rng rng(stream_seed(config.seed, Stream::block_layout, static_cast<std::uint64_t>(b)));
        const Quad q = grid.block(b % fx, b / fx);
        const Point along = (q[1] - q[0]) + (q[2] - q[3]);
        const double angle = rng.chance(0.5) ? std::atan2(along.y, along.x) : 0.0;
        BlockPlacer placer(q, angle, obstacles, b, placed);
        switch (type) {
            case BlockType::high_rise:
                layout_high_rise(placer, rng);
                break;
            case BlockType::walk_up:
                layout_walk_up(placer, rng);
                break;
            case BlockType::village:
                layout_village(placer, rng);
                break;
            case BlockType::non_residential:
                layout_non_residential(placer, rng);
                break;
            case BlockType::park:
                break;
        }
        return placed;
    };
    std::vector<std::vector<Building>> block_buildings(static_cast<std::size_t>(block_count));
    std::int64_t base_households = 0;
    for (int b = 0; b < block_count; ++b) {
        block_buildings[static_cast<std::size_t>(b)] = layout_block(b);
        for (const Building& building : block_buildings[static_cast<std::size_t>(b)])
            base_households += building.households;
    }
    // Too few households for the kinds' ranges (small cities vary a lot): turn the most central
    // walk-up and village blocks into high-rise estates until the layout holds nearly enough
    // (fit_households scales the last few percent).
    {
        std::vector<int> candidates;
        for (int b = 0; b < block_count; ++b) {
            const BlockType type = block_types[static_cast<std::size_t>(b)];
            if (type == BlockType::walk_up || type == BlockType::village) candidates.push_back(b);
        }
        std::stable_sort(candidates.begin(), candidates.end(), [&](int a, int b) {
            return block_r[static_cast<std::size_t>(a)] < block_r[static_cast<std::size_t>(b)];
        });
        std::array<int, kBlockTypes> counts{};
        for (BlockType bt : block_types) ++counts[static_cast<std::size_t>(bt)];
        for (int b : candidates) {
            if (static_cast<double>(base_households) >= 0.92 * static_cast<double>(config.households)) break;
            const auto bu = static_cast<std::size_t>(b);
            const auto type = static_cast<std::size_t>(block_types[bu]);
            if (counts[type] < 2) continue;
            --counts[type];
            block_types[bu] = BlockType::high_rise;
            for (const Building& building : block_buildings[bu]) base_households -= building.households;
            block_buildings[bu] = layout_block(b);
            for (const Building& building : block_buildings[bu]) base_households += building.households;
        }
    }
    std::vector<Building> buildings;
    {
        std::size_t count = 0;
        for (const auto& placed : block_buildings) count += placed.size();
        buildings.reserve(count);
        for (auto& placed : block_buildings) {
            buildings.insert(buildings.end(), placed.begin(), placed.end());
            placed = {};
        }
    }
    {
        Rng rng(stream_seed(config.seed, Stream::households));
        fit_households(buildings, config.households, rng);
    }
    std::erase_if(buildings, [](const Building& b) { return b.removed; });

    io::LayerData building_layer = contract_layer("buildings");
    building_layer.geometries.reserve(buildings.size());
    building_layer.rows.reserve(buildings.size());
    std::vector<bool> block_used(static_cast<std::size_t>(block_count), false);
    std::int64_t total_households = 0;
    for (std::size_t k = 0; k < buildings.size(); ++k) {
        const Building& b = buildings[k];
        building_layer.geometries.push_back(wkb_polygon(b.corners));
        building_layer.rows.push_back({static_cast<std::int64_t>(k + 1), std::int64_t{b.households},
                                       std::int64_t{b.floors}, std::int64_t{b.units}, std::string(kind_name(b.kind))});
        block_used[static_cast<std::size_t>(b.block)] = true;
        total_households += b.households;
    }

    // --- Stations: at block corners, a little inside the block ----------------------------------------
    io::LayerData station_layer = make_layer("stations", io::GeometryKind::point,
                                             {{"station_id", FieldType::string},
                                              {"utility", FieldType::string},
                                              {"capacity_households", FieldType::integer}});
    {
        Rng rng(stream_seed(config.seed, Stream::stations));
        const std::array<std::pair<const char*, char>, 4> utilities = {
            {{"electricity", 'E'}, {"water", 'W'}, {"gas", 'G'}, {"telecom", 'T'}}};
        const int per_utility =
            std::max(2, static_cast<int>(std::lround(static_cast<double>(total_households) / kStationHouseholds)));
        auto clear_of = [](const Obstacle& obstacle, Point p, double distance) {
            for (std::size_t s = 0; s + 1 < obstacle.line.size(); ++s)
                if (point_segment_distance(p, obstacle.line[s], obstacle.line[s + 1]) < distance) return false;
            return true;
        };
        for (const auto& [utility, prefix] : utilities) {
            std::vector<double> weights;
            for (int k = 0; k < per_utility; ++k) weights.push_back(rng.uniform(0.7, 1.3));
            const double weight_sum = std::accumulate(weights.begin(), weights.end(), 0.0);
            for (int k = 0; k < per_utility; ++k) {
                Point p;
                for (int attempt = 0; attempt < 50; ++attempt) {
                    const int b = rng.integer(0, block_count - 1);
                    const Quad q = grid.block(b % fx, b / fx);
                    const Point corner = q[static_cast<std::size_t>(rng.integer(0, 3))];
                    const Point centre = 0.25 * (q[0] + q[1] + q[2] + q[3]);
                    p = corner + (8.0 / norm(centre - corner)) * (centre - corner);
                    if (clear_of(river.centre, p, 47.5 + 3.0) && clear_of(railway, p, 3.0)) break;
                }
                const auto capacity =
                    static_cast<std::int64_t>(std::ceil(kStationReserve * static_cast<double>(total_households) *
                                                        weights[static_cast<std::size_t>(k)] / weight_sum));
                char id[16];
                std::snprintf(id, sizeof id, "%c%04d", prefix, k + 1);
                station_layer.geometries.push_back(wkb_point(p));
                station_layer.rows.push_back({std::string(id), std::string(utility), capacity});
            }
        }
    }

    // --- Workers: homes inside residential buildings, drawn by households ---------------------------
    io::LayerData worker_layer = make_layer(
        "workers", io::GeometryKind::point,
        {{"worker_id", FieldType::integer}, {"kind", FieldType::string}, {"max_micro_grids", FieldType::integer}});
    {
        Rng rng(stream_seed(config.seed, Stream::workers));
        std::vector<std::int64_t> cumulative;
        cumulative.reserve(buildings.size());
        std::int64_t running = 0;
        for (const Building& b : buildings) cumulative.push_back(running += b.households);
        const auto th = static_cast<double>(total_households);
        const auto settled = static_cast<std::int64_t>(std::lround(th / config.target_households * kWorkerFactor));
        const auto mobile = static_cast<std::int64_t>(std::lround(th * kMobilePerHousehold));
        for (std::int64_t w = 0; w < settled + mobile; ++w) {
            const auto draw = static_cast<std::int64_t>(rng.uniform() * th);
            const auto k = static_cast<std::size_t>(std::upper_bound(cumulative.begin(), cumulative.end(), draw) -
                                                    cumulative.begin());
            const Quad& q = buildings[std::min(k, buildings.size() - 1)].corners;
            const double s = rng.uniform(0.15, 0.85), t = rng.uniform(0.15, 0.85);
            const Point home = q[0] + s * (q[1] - q[0]) + t * (q[3] - q[0]);
            std::string kind;
            std::int64_t max_grids = 1;
            if (w < settled) {
                kind = rng.chance(0.3) ? "party_member" : "resident";
                const double u = rng.uniform();
                max_grids = u < 0.55 ? 1 : (u < 0.85 ? 2 : 3);
            } else {
                kind = "mobile";
            }
            worker_layer.geometries.push_back(wkb_point(home));
            worker_layer.rows.push_back({w + 1, std::move(kind), max_grids});
        }
    }

    // --- Summary and layer order ---------------------------------------------------------------------
    summary.households = total_households;
    summary.buildings = static_cast<std::int64_t>(buildings.size());
    summary.districts = static_cast<std::int64_t>(district_layer.rows.size());
    summary.streets = static_cast<std::int64_t>(street_layer.rows.size());
    summary.communities = static_cast<std::int64_t>(community_layer.rows.size());
    summary.roads = static_cast<std::int64_t>(road_layer.rows.size());
    summary.workers = static_cast<std::int64_t>(worker_layer.rows.size());
    summary.stations = static_cast<std::int64_t>(station_layer.rows.size());
    summary.blocks = block_count;
    summary.empty_blocks = std::count(block_used.begin(), block_used.end(), false);
    summary.min_x = grid.origin.x;
    summary.min_y = grid.origin.y;
    summary.max_x = grid.origin.x + grid.width();
    summary.max_y = grid.origin.y + grid.height();

    city.layers.push_back(std::move(district_layer));
    city.layers.push_back(std::move(street_layer));
    city.layers.push_back(std::move(community_layer));
    city.layers.push_back(std::move(road_layer));
    city.layers.push_back(std::move(railway_layer));
    city.layers.push_back(std::move(river_layer));
    city.layers.push_back(std::move(building_layer));
    city.layers.push_back(std::move(station_layer));
    city.layers.push_back(std::move(worker_layer));
    return city;
}

}  // namespace civgrid::data
