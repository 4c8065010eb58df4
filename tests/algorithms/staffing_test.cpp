// Micro-grid workers (algorithms::assign_workers) on hand-made and random cases: who lives inside
// is preferred, capacities hold, the total distance is the brute force's optimum, streets come
// first and then any worker with capacity left, kept pairs stay, any thread count gives the same.
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/staffing.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <random>

namespace civgrid::algorithms {
namespace {

Wkb square(const geos::Context& context, double x, double y, double side) {
    return geos::to_wkb(context,
                        geos::polygon(context, {{x, y}, {x + side, y}, {x + side, y + side}, {x, y + side}}).get());
}

// Distance from a home to a micro-grid polygon (0 inside), as the staffing measures it.
double distance(const geos::Context& context, const Wkb& polygon, Point home) {
    const geos::Geom g = geos::from_wkb(context, polygon);
    const geos::Geom p = geos::point(context, home);
    double d = 0;
    GEOSDistance_r(context.handle(), g.get(), p.get(), &d);
    return d;
}

TEST(Staffing, WhoLivesInsideIsPreferredAndCapacitiesHold) {
    geos::Context context;
    StaffingInput input;
    for (int i = 0; i < 3; ++i) input.micro_grids.push_back(square(context, 100.0 * i, 0, 100));
    input.micro_grid_group = {0, 0, 0};
    // One worker inside each micro-grid, and one just outside the first, nearer to it than the
    // others' homes are to it: the ones inside still take their own.
    input.workers = {{50, 50}, {150, 50}, {250, 50}, {-5, 50}};
    input.worker_capacity = {1, 1, 1, 1};
    input.worker_group = {0, 0, 0, 0};
    input.threads = 1;
    StaffingResult result = assign_workers(input);
    ASSERT_EQ(result.assignments.size(), 3u);
    for (std::uint32_t g = 0; g < 3; ++g) {
        EXPECT_EQ(result.assignments[g].micro_grid, g);
        EXPECT_EQ(result.assignments[g].worker, g);
        EXPECT_DOUBLE_EQ(result.assignments[g].distance_m, 0.0);
    }
    EXPECT_TRUE(result.unstaffed.empty());

    // One worker of capacity 2 for three micro-grids: two staffed, and which one is not is said.
    input.workers = {{150, 50}};
    input.worker_capacity = {2};
    input.worker_group = {0};
    result = assign_workers(input);
    EXPECT_EQ(result.assignments.size(), 2u);
    EXPECT_EQ(result.unstaffed.size(), 1u);
    for (const auto& a : result.assignments) EXPECT_EQ(a.worker, 0u);
    input.worker_capacity = {3};
    EXPECT_TRUE(assign_workers(input).unstaffed.empty());
}

TEST(Staffing, TotalDistanceIsTheBruteForceOptimum) {
    geos::Context context;
    std::mt19937_64 random(9);
    std::uniform_real_distribution<double> unit(0, 1);
    for (int instance = 0; instance < 60; ++instance) {
        StaffingInput input;
        const int grids = 2 + instance % 4, workers = 1 + instance % 6;
        for (int g = 0; g < grids; ++g)
            input.micro_grids.push_back(square(context, 1000 * unit(random), 1000 * unit(random), 80));
        input.micro_grid_group.assign(static_cast<std::size_t>(grids), 0);
        for (int w = 0; w < workers; ++w) {
            input.workers.push_back({1100 * unit(random), 1100 * unit(random)});
            input.worker_capacity.push_back(1 + static_cast<std::int64_t>(unit(random) * 2));
        }
        input.worker_group.assign(static_cast<std::size_t>(workers), 0);
        input.candidates = workers;  // every worker a candidate: the solver's optimum is the true one
        input.threads = 1;
        const StaffingResult result = assign_workers(input);

        // Brute force: each micro-grid gets a worker or none; most staffed first, then least distance.
        std::vector<std::int64_t> left = input.worker_capacity;
        int best_staffed = -1;
        double best_total = 0;
        std::function<void(int, int, double)> go = [&](int g, int staffed, double total) {
            if (g == grids) {
                if (staffed > best_staffed || (staffed == best_staffed && total < best_total - 1e-9))
                    best_staffed = staffed, best_total = total;
                return;
            }
            go(g + 1, staffed, total);
            for (int w = 0; w < workers; ++w) {
                if (left[static_cast<std::size_t>(w)] == 0) continue;
                --left[static_cast<std::size_t>(w)];
                go(g + 1, staffed + 1,
                   total + distance(context, input.micro_grids[static_cast<std::size_t>(g)],
                                    input.workers[static_cast<std::size_t>(w)]));
                ++left[static_cast<std::size_t>(w)];
            }
        };
        go(0, 0, 0);
        SCOPED_TRACE("instance " + std::to_string(instance));
        EXPECT_EQ(static_cast<int>(result.assignments.size()), best_staffed);
        EXPECT_NEAR(result.total_distance_m, best_total, 1e-6 * (1 + best_total));
        EXPECT_LE(result.total_distance_m, result.greedy_total_distance_m + 1e-6);
        std::vector<std::int64_t> used(input.workers.size(), 0);
        for (const auto& a : result.assignments) {
            ++used[a.worker];
            EXPECT_NEAR(a.distance_m, distance(context, input.micro_grids[a.micro_grid], input.workers[a.worker]),
                        1e-6);
        }
        for (std::size_t w = 0; w < used.size(); ++w) EXPECT_LE(used[w], input.worker_capacity[w]);
    }
}

TEST(Staffing, StreetsFirstThenAnyWorkerWithCapacityLeft) {
    geos::Context context;
    StaffingInput input;
    // Street 0: two micro-grids and a worker of capacity 2 far east; street 1: one micro-grid and
    // no worker of its own, next to street 0's micro-grids.
    input.micro_grids = {square(context, 0, 0, 100), square(context, 100, 0, 100), square(context, 200, 0, 100)};
    input.micro_grid_group = {0, 0, 1};
    input.workers = {{5000, 50}, {210, 50}};  // the second lives in street 1's micro-grid, street -1
    input.worker_capacity = {2, 1};
    input.worker_group = {0, -1};
    input.threads = 1;
    const StaffingResult result = assign_workers(input);
    EXPECT_TRUE(result.unstaffed.empty());
    ASSERT_EQ(result.assignments.size(), 3u);
    // Street 0's worker serves street 0 (its round comes first, however far); the worker living
    // in no street staffs the micro-grid of street 1 in the second round.
    EXPECT_EQ(result.assignments[0].worker, 0u);
    EXPECT_EQ(result.assignments[1].worker, 0u);
    EXPECT_EQ(result.assignments[2].worker, 1u);
    EXPECT_EQ(result.first_round_staffed, 2);
}

TEST(Staffing, KeptPairsStayAndCountAgainstCapacity) {
    geos::Context context;
    StaffingInput input;
    input.micro_grids = {square(context, 0, 0, 100), square(context, 100, 0, 100)};
    input.micro_grid_group = {0, 0};
    input.workers = {{50, 50}, {150, 50}};
    input.worker_capacity = {1, 1};
    input.worker_group = {0, 0};
    input.fixed = {{1, 0}};  // kept from a previous run: worker 1 on micro-grid 0, though not nearest
    input.threads = 1;
    const StaffingResult result = assign_workers(input);
    ASSERT_EQ(result.assignments.size(), 2u);
    EXPECT_EQ(result.fixed_assignments, 1);
    EXPECT_EQ(result.assignments[0].micro_grid, 0u);
    EXPECT_EQ(result.assignments[0].worker, 1u);
    EXPECT_EQ(result.assignments[1].worker, 0u);  // worker 1 is full: worker 0 takes micro-grid 1
}

TEST(Staffing, SameResultForAnyThreadCount) {
    geos::Context context;
    std::mt19937_64 random(4);
    std::uniform_real_distribution<double> unit(0, 1);
    StaffingInput input;
    for (int g = 0; g < 400; ++g) {
        input.micro_grids.push_back(square(context, 100.0 * (g % 20), 100.0 * (g / 20), 100));
        input.micro_grid_group.push_back(g / 100);
    }
    for (int w = 0; w < 380; ++w) {
        const Point home{2000 * unit(random), 2000 * unit(random)};
        input.workers.push_back(home);
        input.worker_capacity.push_back(1 + static_cast<std::int64_t>(unit(random) * 2));
        input.worker_group.push_back(static_cast<int>(std::min(3.0, std::floor(home.y / 500))));
    }
    input.threads = 1;
    const StaffingResult one = assign_workers(input);
    input.threads = 2;
    const StaffingResult two = assign_workers(input);
    ASSERT_EQ(one.assignments.size(), two.assignments.size());
    for (std::size_t i = 0; i < one.assignments.size(); ++i) {
        EXPECT_EQ(one.assignments[i].worker, two.assignments[i].worker);
        EXPECT_EQ(one.assignments[i].micro_grid, two.assignments[i].micro_grid);
    }
    EXPECT_EQ(one.unstaffed, two.unstaffed);
    EXPECT_EQ(one.total_distance_m, two.total_distance_m);
}

// The distance from `home` to the polygon of `rings` as a walk over every edge: 0 inside by the
// even-odd rule, else the smallest std::hypot of the home's offset from an edge's foot point.
double walk_distance(const std::vector<const std::vector<Point>*>& rings, Point home) {
    bool inside = false;
    double nearest = std::numeric_limits<double>::infinity();
    for (const std::vector<Point>* ring : rings)
        for (std::size_t i = 1; i < ring->size(); ++i) {
            const Point a = (*ring)[i - 1], b = (*ring)[i];
            if ((a.y > home.y) != (b.y > home.y) && home.x < (b.x - a.x) * (home.y - a.y) / (b.y - a.y) + a.x)
                inside = !inside;
            const double dx = b.x - a.x, dy = b.y - a.y, length = dx * dx + dy * dy;
            const double t =
                length > 0 ? std::clamp(((home.x - a.x) * dx + (home.y - a.y) * dy) / length, 0.0, 1.0) : 0.0;
            nearest = std::min(nearest, std::hypot(home.x - (a.x + t * dx), home.y - (a.y + t * dy)));
        }
    return inside ? 0.0 : nearest;
}

// A micro-grid along a detailed boundary (a zig-zag of 60,000 teeth, with a hole) measured from
// homes inside it, in its hole, beside its teeth, on an edge and far away: each distance is the
// walk over every edge (0 inside by the even-odd rule, else the nearest edge), of which the
// staffing skips the blocks that cannot matter; and GEOS's distance to the polygon.
TEST(Staffing, DistancesToADetailedMicroGridAreTheWalkOverEveryEdge) {
    geos::Context context;
    std::vector<Point> shell;
    constexpr int kTeeth = 60'000;
    for (int i = 0; i <= kTeeth; ++i) shell.push_back({i * 300.0 / kTeeth, i % 2 == 1 ? 0.03 : 0.0});
    shell.push_back({300, 200});
    shell.push_back({0, 200});
    shell.push_back(shell.front());
    const std::vector<Point> hole = {{100, 100}, {100, 150}, {150, 150}, {150, 100}, {100, 100}};
    StaffingInput input;
    input.micro_grids = {geos::to_wkb(context, geos::polygon(context, shell, {hole}).get())};
    input.micro_grid_group = {0};
    input.workers = {{50, 50},      {120, 120},  {120.0125, 0.01}, {120.0125, -0.02}, {37.5, -3},
                     {300.5, 100},  {-40, 250},  {5000, -7000},    {150, 125},        {0.005, 0.0},
                     {299.9, 0.02}, {100, 99.5}, {1e5, 1e5}};
    for (std::uint32_t w = 0; w < input.workers.size(); ++w) {
        input.worker_capacity.push_back(1);
        input.worker_group.push_back(0);
        input.fixed.emplace_back(w, 0);  // every home measured to the one micro-grid
    }
    input.demand = {static_cast<std::int64_t>(input.workers.size())};
    input.threads = 1;
    const StaffingResult result = assign_workers(input);
    ASSERT_EQ(result.assignments.size(), input.workers.size());
    for (const auto& assignment : result.assignments) {
        const Point home = input.workers[assignment.worker];
        EXPECT_EQ(assignment.distance_m, walk_distance({&shell, &hole}, home)) << assignment.worker;
        EXPECT_NEAR(assignment.distance_m, distance(context, input.micro_grids[0], home), 1e-9) << assignment.worker;
    }
}

// Ordinary micro-grids (stars of 5 to 400 vertices, some regular, so that homes on an axis of
// symmetry are equally near two edges to the last bit or nearly) measured from homes around and
// inside them: each distance is, to the bit, the walk's smallest std::hypot over every edge,
// though the staffing compares squared offsets and skips far edges by their boxes.
TEST(Staffing, DistancesToOrdinaryMicroGridsAreTheWalkOverEveryEdgeToTheBit) {
    geos::Context context;
    std::mt19937_64 random(11);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    for (int k = 0; k < 60; ++k) {
        const int n = 5 + (k * 37) % 400;
        const bool regular = k % 3 == 0;
        const Point centre{611000 + 1000 * unit(random), 3275000 + 1000 * unit(random)};
        std::vector<Point> shell;
        for (int i = 0; i < n; ++i) {
            const double angle = 2 * M_PI * (i + (regular ? 0.0 : 0.4 * unit(random))) / n;
            const double radius = regular ? 40.0 : 30 + 15 * unit(random);
            shell.push_back({centre.x + radius * std::cos(angle), centre.y + radius * std::sin(angle)});
        }
        shell.push_back(shell.front());
        StaffingInput input;
        input.micro_grids = {geos::to_wkb(context, geos::polygon(context, shell).get())};
        input.micro_grid_group = {0};
        for (int h = 0; h < 24; ++h) {
            // On the axes (ties between mirrored edges), beyond vertices, and at random.
            const double angle = h < 8 ? h * M_PI / 4 : 2 * M_PI * unit(random);
            const double reach = h % 4 == 0 ? 10.0 : 20 + 80 * unit(random);
            input.workers.push_back({centre.x + reach * std::cos(angle), centre.y + reach * std::sin(angle)});
            input.worker_capacity.push_back(1);
            input.worker_group.push_back(0);
            input.fixed.emplace_back(h, 0);
        }
        input.demand = {static_cast<std::int64_t>(input.workers.size())};
        input.threads = 1;
        const StaffingResult result = assign_workers(input);
        ASSERT_EQ(result.assignments.size(), input.workers.size());
        for (const auto& assignment : result.assignments)
            EXPECT_EQ(assignment.distance_m, walk_distance({&shell}, input.workers[assignment.worker]))
                << "star " << k << ", home " << assignment.worker;
    }
}

}  // namespace
}  // namespace civgrid::algorithms
