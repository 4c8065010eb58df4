// The road network: noding, snapping, nearest-road joins and shortest distances checked against
// Floyd-Warshall; and staffing along the roads choosing differently from straight lines where a
// river has no bridge nearby.
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/road_network.hpp>
#include <civgrid/algorithms/staffing.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace civgrid::algorithms {
namespace {

Wkb line(const std::vector<Point>& vertices) {
    const geos::Context context;
    return geos::to_wkb(context, geos::line_string(context, vertices).get());
}

Wkb square(double min_x, double min_y, double max_x, double max_y) {
    const geos::Context context;
    return geos::to_wkb(context,
                        geos::polygon(context, {{min_x, min_y}, {max_x, min_y}, {max_x, max_y}, {min_x, max_y}}).get());
}

// Long straight roads 0..400 m every 100 m each way, none split where they cross.
std::vector<Wkb> street_grid() {
    std::vector<Wkb> lines;
    for (int i = 0; i <= 4; ++i) {
        lines.push_back(line({{0, 100.0 * i}, {400, 100.0 * i}}));
        lines.push_back(line({{100.0 * i, 0}, {100.0 * i, 400}}));
    }
    return lines;
}

double along_from_node(const RoadNetwork& network, NetworkSearch& search, Point from, Point to) {
    const auto a = network.attach(from), b = network.attach(to);
    search.run(std::span(&*a, 1), std::span(&*b, 1), 1e9);
    return search.distance(*b);
}

TEST(RoadNetwork, CrossingRoadsAreNodedIntoOneGraph) {
    const RoadNetwork network(street_grid());
    EXPECT_EQ(network.node_count(), 25u);
    EXPECT_EQ(network.edge_count(), 40u);
    EXPECT_EQ(network.component_count(), 1u);
    // On a street grid the road distance between junctions is the Manhattan distance.
    NetworkSearch search(network);
    EXPECT_NEAR(along_from_node(network, search, {0, 0}, {300, 200}), 500.0, 1e-9);
    // Points between roads walk to the nearest road first: (150, 30) is 30 m from y = 0.
    const auto attached = network.attach({150, 30});
    ASSERT_TRUE(attached);
    EXPECT_NEAR(attached->access, 30.0, 1e-9);
    EXPECT_NEAR(along_from_node(network, search, {150, 30}, {150, 0}), 30.0, 1e-9);  // same road, no node
    EXPECT_NEAR(along_from_node(network, search, {150, 30}, {350, 390}), 30 + 50 + 550 + 10, 1e-9);
}

TEST(RoadNetwork, EndsWithinTheSnapToleranceJoin) {
    const std::vector<Wkb> gap_half_metre = {line({{0, 0}, {100, 0}}), line({{100.5, 0}, {200, 0}})};
    const std::vector<Wkb> gap_five_metres = {line({{0, 0}, {100, 0}}), line({{105, 0}, {200, 0}})};
    EXPECT_EQ(RoadNetwork(gap_half_metre).component_count(), 1u);
    EXPECT_EQ(RoadNetwork(gap_five_metres).component_count(), 2u);
    // Disconnected: no distance, however high the limit.
    const RoadNetwork apart(gap_five_metres);
    NetworkSearch search(apart);
    EXPECT_EQ(along_from_node(apart, search, {10, 0}, {190, 0}), kUnreached);
    EXPECT_TRUE(RoadNetwork({}).empty());
    EXPECT_FALSE(RoadNetwork({}).attach({0, 0}));
}

TEST(RoadNetwork, LimitStopsTheSearch) {
    const RoadNetwork network(street_grid());
    NetworkSearch search(network);
    const auto a = network.attach({0, 0}), far = network.attach({400, 400}), near = network.attach({100, 0});
    const std::vector<RoadNetwork::Attachment> targets = {*far, *near};
    search.run(std::span(&*a, 1), targets, 300.0);
    EXPECT_NEAR(search.distance(*near), 100.0, 1e-9);
    EXPECT_EQ(search.distance(*far), kUnreached);
}

// Random road layouts: the search's distances between random points equal those from
// Floyd-Warshall over the same nodes plus the same-edge shortcut.
TEST(RoadNetwork, DistancesMatchFloydWarshallOnRandomRoads) {
    std::mt19937_64 random(7);
    std::uniform_real_distribution<double> coordinate(0, 1000);
    for (int round = 0; round < 20; ++round) {
        std::vector<Wkb> lines;
        for (int i = 0; i < 12; ++i) {
            std::vector<Point> vertices;
            for (int v = 0; v < 3; ++v) vertices.push_back({coordinate(random), coordinate(random)});
            lines.push_back(line(vertices));
        }
        const RoadNetwork network(lines);
        const std::size_t n = network.node_count();
        std::vector<std::vector<double>> d(n, std::vector<double>(n, kUnreached));
        for (std::size_t i = 0; i < n; ++i) d[i][i] = 0;
        for (std::uint32_t e = 0; e < network.edge_count(); ++e) {
            const auto& edge = network.edge(e);
            d[edge.from][edge.to] = std::min(d[edge.from][edge.to], edge.length);
            d[edge.to][edge.from] = std::min(d[edge.to][edge.from], edge.length);
        }
        for (std::size_t k = 0; k < n; ++k)
            for (std::size_t i = 0; i < n; ++i)
                for (std::size_t j = 0; j < n; ++j) d[i][j] = std::min(d[i][j], d[i][k] + d[k][j]);
        NetworkSearch search(network);
        for (int pair = 0; pair < 20; ++pair) {
            const auto a = *network.attach({coordinate(random), coordinate(random)});
            const auto b = *network.attach({coordinate(random), coordinate(random)});
            const auto& ea = network.edge(a.edge);
            const auto& eb = network.edge(b.edge);
            double expected = kUnreached;
            const double a_ends[2][2] = {{static_cast<double>(ea.from), a.along},
                                         {static_cast<double>(ea.to), ea.length - a.along}};
            const double b_ends[2][2] = {{static_cast<double>(eb.from), b.along},
                                         {static_cast<double>(eb.to), eb.length - b.along}};
            for (const auto& x : a_ends)
                for (const auto& y : b_ends)
                    expected = std::min(
                        expected, x[1] + d[static_cast<std::size_t>(x[0])][static_cast<std::size_t>(y[0])] + y[1]);
            if (a.edge == b.edge) expected = std::min(expected, std::abs(a.along - b.along));
            expected += a.access + b.access;
            search.run(std::span(&a, 1), std::span(&b, 1), 1e9);
            if (expected == kUnreached)
                EXPECT_EQ(search.distance(b), kUnreached);
            else
                EXPECT_NEAR(search.distance(b), expected, 1e-6) << "round " << round << " pair " << pair;
        }
    }
}

// A micro-grid west of a river. Worker A lives just across the water (70 m in a straight line) but
// the only bridge is 1 km north; worker B lives 180 m up the micro-grid's own road.
TEST(StaffingAlongRoads, TheRiverMakesTheNearerWorkerFarther) {
    const std::vector<Wkb> roads = {line({{0, -1000}, {0, 1000}}), line({{60, -1000}, {60, 1000}}),
                                    line({{0, 1000}, {60, 1000}})};
    const RoadNetwork network(roads);
    StaffingInput input;
    input.micro_grids = {square(-80, -20, -5, 20)};
    input.micro_grid_group = {0};
    input.workers = {{65, 0}, {-10, 200}};
    input.worker_capacity = {1, 1};
    input.worker_group = {0, 0};

    const StaffingResult straight = assign_workers(input);
    ASSERT_EQ(straight.assignments.size(), 1u);
    EXPECT_EQ(straight.assignments[0].worker, 0u);
    EXPECT_NEAR(straight.assignments[0].distance_m, 70.0, 1e-6);
    EXPECT_FALSE(straight.along_roads);

    input.network = &network;
    const StaffingResult along = assign_workers(input);
    ASSERT_EQ(along.assignments.size(), 1u);
    EXPECT_TRUE(along.along_roads);
    EXPECT_EQ(along.assignments[0].worker, 1u);
    // 10 m to the road, 180 m down it, 5 m across to the micro-grid.
    EXPECT_NEAR(along.assignments[0].distance_m, 195.0, 1e-6);
    EXPECT_EQ(along.unreached_candidates, 0);
}

TEST(StaffingAlongRoads, WorkersWithNoRoadPathComeLast) {
    // The east bank's road has no bridge at all: worker A is unreachable, still offered last.
    const std::vector<Wkb> roads = {line({{0, -1000}, {0, 1000}}), line({{60, -1000}, {60, 1000}})};
    const RoadNetwork network(roads);
    StaffingInput input;
    input.micro_grids = {square(-80, -20, -5, 20), square(-80, 30, -5, 70)};
    input.micro_grid_group = {0, 0};
    input.workers = {{65, 0}, {-10, 200}};
    input.worker_capacity = {1, 1};
    input.worker_group = {0, 0};
    input.network = &network;
    const StaffingResult along = assign_workers(input);
    ASSERT_EQ(along.assignments.size(), 2u);
    EXPECT_TRUE(along.unstaffed.empty());
    EXPECT_GT(along.unreached_candidates, 0);
    EXPECT_EQ(along.off_road_assignments, 1);
    // Worker B goes to the micro-grid nearer along the road (the northern one); A takes the other.
    EXPECT_EQ(along.assignments[1].worker, 1u);
    EXPECT_EQ(along.assignments[0].worker, 0u);
    EXPECT_NEAR(along.assignments[1].distance_m, 145.0, 1e-6);
    EXPECT_NEAR(along.assignments[0].distance_m, 70.0, 1e-6) << "no road path: the straight line is reported";
}

}  // namespace
}  // namespace civgrid::algorithms

namespace civgrid::algorithms {
namespace {

// Workers in a tight cluster (a layer in another place, a mutated file) far from the micro-grid:
// the nearest-worker search once walked every empty grid cell between them, (distance / 1 m)^2 of
// them, and never ended.
TEST(Staffing, WorkersClusteredFarFromTheMicroGridsAreStillFound) {
    StaffingInput input;
    input.micro_grids = {square(0, 0, 10, 10)};
    input.micro_grid_group = {0};
    input.workers = {{480500, 3540500}, {480500.5, 3540500}, {480500, 3540500.5}};
    input.worker_capacity = {1, 1, 1};
    input.worker_group = {0, 0, 0};
    const StaffingResult result = assign_workers(input);
    ASSERT_EQ(result.assignments.size(), 1u);
    EXPECT_EQ(result.assignments[0].worker, 0u);
    EXPECT_NEAR(result.assignments[0].distance_m, std::hypot(480490.0, 3540490.0), 1e-3);
    EXPECT_TRUE(result.unstaffed.empty());
}

}  // namespace
}  // namespace civgrid::algorithms
