#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/stations.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

namespace civgrid::algorithms {
namespace {

// The best one-station-each assignment by enumeration (small cases only).
double brute_force(const StationInput& input) {
    const std::size_t g = input.micro_grids.size(), s = input.stations.size();
    double best = std::numeric_limits<double>::infinity();
    std::vector<std::size_t> choice(g, 0);
    while (true) {
        std::vector<std::int64_t> load(s, 0);
        double cost = 0;
        for (std::size_t i = 0; i < g; ++i) {
            load[choice[i]] += input.households[i];
            cost += static_cast<double>(input.households[i]) *
                    std::hypot(input.micro_grids[i].x - input.stations[choice[i]].x,
                               input.micro_grids[i].y - input.stations[choice[i]].y);
        }
        bool fits = true;
        for (std::size_t j = 0; j < s; ++j) fits = fits && load[j] <= input.capacity[j];
        if (fits) best = std::min(best, cost);
        std::size_t i = 0;
        while (i < g && ++choice[i] == s) choice[i++] = 0;
        if (i == g) break;
    }
    return best;
}

TEST(Stations, CapacitiesHeldAndCloseToTheBestOnRandomCases) {
    std::mt19937_64 random(11);
    std::uniform_real_distribution<double> coordinate(0, 1000);
    std::uniform_int_distribution<int> size(20, 120);
    int compared = 0;
    for (int round = 0; round < 60; ++round) {
        StationInput input;
        for (int i = 0; i < 7; ++i) {
            input.micro_grids.push_back({coordinate(random), coordinate(random)});
            input.households.push_back(size(random));
        }
        std::int64_t total = 0;
        for (auto h : input.households) total += h;
        for (int j = 0; j < 3; ++j) {
            input.stations.push_back({coordinate(random), coordinate(random)});
            input.capacity.push_back(total * 2 / 3);  // tight enough to bind, loose enough to fit
        }
        input.candidates = 3;
        const StationResult result = assign_stations(input);
        for (std::size_t j = 0; j < input.stations.size(); ++j) EXPECT_LE(result.load[j], input.capacity[j]);
        const double best = brute_force(input);
        if (std::isfinite(best) && result.unassigned.empty()) {
            ++compared;
            EXPECT_GE(result.weighted_distance, best - 1e-6);
            EXPECT_LE(result.weighted_distance, best * 1.5 + 1e-6) << "round " << round;
            EXPECT_LE(result.lower_bound, best + 1e-6);
        }
    }
    EXPECT_GE(compared, 40);  // the comparison is not vacuous
}

TEST(Stations, LooseCapacitiesGiveTheNearestStation) {
    StationInput input;
    input.micro_grids = {{0, 0}, {10, 0}, {100, 0}};
    input.households = {50, 60, 70};
    input.stations = {{1, 0}, {99, 0}};
    input.capacity = {1000, 1000};
    const StationResult result = assign_stations(input);
    EXPECT_EQ(result.station, (std::vector<int>{0, 0, 1}));
    EXPECT_TRUE(result.unassigned.empty());
}

TEST(Stations, DemandBeyondCapacityIsReportedNeverForced) {
    StationInput input;
    input.micro_grids = {{0, 0}, {10, 0}, {20, 0}};
    input.households = {50, 60, 70};
    input.stations = {{5, 0}};
    input.capacity = {115};
    const StationResult result = assign_stations(input);
    EXPECT_LE(result.load[0], 115);
    EXPECT_FALSE(result.unassigned.empty());
    std::int64_t served = 0;
    for (std::size_t g = 0; g < 3; ++g)
        if (result.station[g] >= 0) served += input.households[g];
    EXPECT_EQ(served, result.load[0]);
    StationInput no_stations;
    no_stations.micro_grids = input.micro_grids;
    no_stations.households = input.households;
    const StationResult none = assign_stations(no_stations);
    EXPECT_EQ(none.unassigned.size(), 3u);
}

TEST(Stations, ServiceAreasLimitWhoServesWhom) {
    StationInput input;
    input.micro_grids = {{0, 0}, {10, 0}, {100, 0}};
    input.households = {50, 60, 70};
    input.stations = {{1, 0}, {99, 0}};
    input.capacity = {1000, 1000};
    geos::Context context;
    // The near station may serve only x < 5; the far one everything: micro-grid 1 goes far.
    input.service_area = {
        geos::to_wkb(context, geos::from_wkt(context, "POLYGON((-5 -5, 5 -5, 5 5, -5 5, -5 -5))").get()), Wkb{}};
    StationResult result = assign_stations(input);
    EXPECT_EQ(result.station, (std::vector<int>{0, 1, 1}));
    // With both limited, a micro-grid in neither area is reported.
    input.service_area[1] =
        geos::to_wkb(context, geos::from_wkt(context, "POLYGON((90 -5, 110 -5, 110 5, 90 5, 90 -5))").get());
    result = assign_stations(input);
    EXPECT_EQ(result.station[1], -1);
    EXPECT_EQ(result.outside_service_areas, 1);
    EXPECT_EQ(result.unassigned, (std::vector<std::uint32_t>{1}));
}

// Stations that serve anywhere are found through a grid index; stations with a service area are
// each checked, as every station once was. A service area around everything makes every station
// take the checked path: both must give the same answer, station for station, on cities of
// clustered, collinear and stacked stations and micro-grids beyond the stations' box.
TEST(Stations, TheGridIndexOffersTheSameNearestStationsAsAFullScan) {
    std::mt19937_64 random(21);
    std::uniform_real_distribution<double> coordinate(0, 5000), near(-30, 30);
    std::uniform_int_distribution<int> size(20, 120);
    geos::Context context;
    const Wkb everywhere = geos::to_wkb(
        context, geos::from_wkt(context, "POLYGON((-1e6 -1e6, 1e6 -1e6, 1e6 1e6, -1e6 1e6, -1e6 -1e6))").get());
    int differing_from_nearest = 0;
    for (int round = 0; round < 24; ++round) {
        StationInput input;
        const int layout = round % 4;
        for (int j = 0; j < 150; ++j) {
            Point p{coordinate(random), coordinate(random)};
            if (layout == 1) p = {2500 + near(random), 2500 + near(random)};  // clustered
            if (layout == 2) p.y = 1000;                                      // along a line
            if (layout == 3 && j % 3 != 0) p = input.stations.back();         // stacked
            input.stations.push_back(p);
        }
        std::int64_t total = 0;
        for (int i = 0; i < 2000; ++i) {
            // A tenth beyond the stations' box, up to a city's width away.
            const double reach = i % 10 == 0 ? 3.0 : 1.0;
            input.micro_grids.push_back(
                {coordinate(random) * reach - 2500 * (reach - 1), coordinate(random) * reach - 2500 * (reach - 1)});
            input.households.push_back(size(random));
            total += input.households.back();
        }
        // Tight in half the rounds (capacity binds, candidates beyond the nearest are used).
        const std::int64_t each = round % 2 == 0 ? total : total * 3 / 2 / 150;
        input.capacity.assign(input.stations.size(), each);
        input.candidates = 1 + round % 6;
        const StationResult indexed = assign_stations(input);
        StationInput scanned = input;
        scanned.service_area.assign(input.stations.size(), everywhere);
        const StationResult full = assign_stations(scanned);
        EXPECT_EQ(indexed.station, full.station) << "round " << round;
        EXPECT_EQ(indexed.load, full.load) << "round " << round;
        EXPECT_DOUBLE_EQ(indexed.lower_bound, full.lower_bound) << "round " << round;
        // Loose capacity: each micro-grid at its nearest station (ties: the lower index).
        if (round % 2 == 0)
            for (std::size_t g = 0; g < input.micro_grids.size(); ++g) {
                std::size_t best = 0;
                double best_distance = std::numeric_limits<double>::infinity();
                for (std::size_t j = 0; j < input.stations.size(); ++j) {
                    const double d = std::hypot(input.micro_grids[g].x - input.stations[j].x,
                                                input.micro_grids[g].y - input.stations[j].y);
                    if (d < best_distance) {
                        best_distance = d;
                        best = j;
                    }
                }
                EXPECT_DOUBLE_EQ(indexed.distance_m[g], best_distance) << "round " << round << " micro-grid " << g;
                differing_from_nearest += indexed.station[g] != static_cast<int>(best) ? 1 : 0;
            }
    }
    EXPECT_EQ(differing_from_nearest, 0);  // ties (stacked stations): the lower index, as the scan
}

}  // namespace
}  // namespace civgrid::algorithms
