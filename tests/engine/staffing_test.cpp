// Micro-grid workers on generated cities: everyone staffed when enough workers exist, capacities
// held, residents preferred, never worse than nearest-first, the same for any thread count.
#include <civgrid/data/synth.hpp>
#include <civgrid/engine/pipeline.hpp>
#include <civgrid/error.hpp>
#include <civgrid/io/layer.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

namespace civgrid::engine {
namespace {

// A generated city in memory.
data::SynthCity generated(std::int64_t households, std::uint64_t seed) {
    data::SynthConfig synth;
    synth.households = households;
    synth.seed = seed;
    return data::generate_city(synth);
}

// The index of a field of a generated layer.
std::size_t field_index(const io::LayerData& layer, const std::string& name) {
    for (std::size_t f = 0; f < layer.fields.size(); ++f)
        if (layer.fields[f].name == name) return f;
    ADD_FAILURE() << layer.name << " has no field " << name;
    return 0;
}

struct StaffedCity {
    City city;
    PartitionResult result;
    Staffing staffing;
};

StaffedCity staffed_city(const test::TempDir& dir, std::int64_t households, std::uint64_t seed, int threads = 0) {
    const std::string path = dir.file("city-" + std::to_string(seed) + ".gpkg");
    data::write_city(generated(households, seed), path);
    PartitionConfig config;
    config.city = path;
    config.threads = threads;
    StaffedCity run{load_city(config), {}, {}};
    run.result = partition_city(run.city, config);
    run.staffing = assign_staff(run.city, run.result, config);
    return run;
}

TEST(Staffing, EveryMicroGridGetsAWorkerWithinCapacity) {
    test::TempDir dir;
    const StaffedCity run = staffed_city(dir, 30'000, 31);
    ASSERT_TRUE(run.staffing.present);
    const auto& workers = run.city.workers;
    const int capacity_field = workers.field_index("max_micro_grids");
    const int kind_field = workers.field_index("kind");
    ASSERT_GE(capacity_field, 0);
    std::int64_t capacity = 0;
    for (std::uint32_t row : run.staffing.worker_rows)
        capacity += std::get<std::int64_t>(workers.rows[row][static_cast<std::size_t>(capacity_field)]);
    ASSERT_GE(capacity, static_cast<std::int64_t>(run.result.micro_grids.size()))
        << "the generator plans enough workers";
    EXPECT_TRUE(run.staffing.workers.unstaffed.empty());

    std::map<std::uint32_t, std::int64_t> load;
    std::map<std::uint32_t, int> per_grid;
    for (const auto& a : run.staffing.workers.assignments) {
        ++load[a.worker];
        ++per_grid[a.micro_grid];
        const std::uint32_t row = run.staffing.worker_rows[a.worker];
        EXPECT_NE(std::get<std::string>(workers.rows[row][static_cast<std::size_t>(kind_field)]), "mobile");
        EXPECT_GE(a.distance_m, 0.0);
    }
    for (const auto& [worker, count] : load) {
        const std::uint32_t row = run.staffing.worker_rows[worker];
        EXPECT_LE(count, std::get<std::int64_t>(workers.rows[row][static_cast<std::size_t>(capacity_field)]))
            << "worker row " << row;
    }
    EXPECT_EQ(per_grid.size(), run.result.micro_grids.size());
    // Mobile workers go to grids, none beyond its household share (rounded up), all placed.
    ASSERT_GT(run.staffing.mobile_workers, 0);
    EXPECT_EQ(static_cast<std::int64_t>(run.staffing.mobile.assignments.size()), run.staffing.mobile_workers);
    std::int64_t households = 0;
    for (const Grid& grid : run.result.grids) households += grid.shape.households;
    std::map<std::uint32_t, std::int64_t> per_grid_mobile;
    for (const auto& a : run.staffing.mobile.assignments) ++per_grid_mobile[a.micro_grid];
    for (const auto& [g, count] : per_grid_mobile) {
        const double share = static_cast<double>(run.staffing.mobile_workers) *
                             static_cast<double>(run.result.grids[g].shape.households) /
                             static_cast<double>(households);
        EXPECT_LE(static_cast<double>(count), std::ceil(share - 1e-9)) << run.result.grids[g].id;
    }
    // Utilities: the four of the generator, capacities held, every micro-grid served or reported.
    ASSERT_EQ(run.staffing.utilities.size(), 4u);
    for (const auto& u : run.staffing.utilities) {
        for (std::size_t s = 0; s < u.station_rows.size(); ++s) EXPECT_LE(u.result.load[s], u.capacity[s]) << u.name;
        std::size_t unassigned = 0;
        for (int station : u.result.station) unassigned += station < 0 ? 1 : 0;
        EXPECT_EQ(unassigned, u.result.unassigned.size()) << u.name;
        EXPECT_GE(u.result.weighted_distance, 0.0);
    }
    // Optimal on the streets' candidates: never more distance than nearest-first when it staffs as many.
    const auto& s = run.staffing.workers;
    EXPECT_LE(s.first_round_distance_m, s.greedy_total_distance_m + 1e-6);
    EXPECT_LE(s.mean_distance_m, s.p95_distance_m + 1e-9);
    EXPECT_LE(s.p95_distance_m, s.max_distance_m + 1e-9);
}

TEST(Staffing, SameForOneAndTwoThreadsAndWrittenToTheOutput) {
    test::TempDir dir;
    const StaffedCity one = staffed_city(dir, 20'000, 32, 1);
    const StaffedCity two = staffed_city(dir, 20'000, 32, 2);
    ASSERT_EQ(one.staffing.workers.assignments.size(), two.staffing.workers.assignments.size());
    for (std::size_t i = 0; i < one.staffing.workers.assignments.size(); ++i) {
        EXPECT_EQ(one.staffing.workers.assignments[i].worker, two.staffing.workers.assignments[i].worker);
        EXPECT_EQ(one.staffing.workers.assignments[i].micro_grid, two.staffing.workers.assignments[i].micro_grid);
    }
    PartitionConfig config;
    config.city = dir.file("city-32.gpkg");
    const RunSummary summary = run_partition(config, dir.file("out.gpkg"));
    const io::FeatureTable rows = io::read_layer({dir.file("out.gpkg"), "worker_assignments"});
    EXPECT_EQ(rows.size(), summary.staffing.workers.assignments.size() + summary.staffing.mobile.assignments.size());
    EXPECT_GE(rows.field_index("micro_grid_id"), 0);
    EXPECT_GE(rows.field_index("distance_m"), 0);
    const io::FeatureTable service = io::read_layer({dir.file("out.gpkg"), "service_assignments"});
    EXPECT_EQ(service.size(),
              summary.staffing.utilities.size() * io::read_layer({dir.file("out.gpkg"), "micro_grids"}).size());
    EXPECT_GT(io::read_layer({dir.file("out.gpkg"), "stations"}).size(), 0u);
    const io::FeatureTable communities = io::read_layer({dir.file("out.gpkg"), "communities"});
    const int workers_column = communities.field_index("micro_grid_workers");
    ASSERT_GE(workers_column, 0);
    std::int64_t community_workers = 0;
    for (const auto& row : communities.rows)
        community_workers += std::get<std::int64_t>(row[static_cast<std::size_t>(workers_column)]);
    EXPECT_GT(community_workers, 0);
    // Partition only, on request.
    config.staffing = false;
    const RunSummary bare = run_partition(config, dir.file("bare.gpkg"));
    EXPECT_FALSE(bare.staffing.present);
    const auto layers = io::list_layers(dir.file("bare.gpkg"));
    EXPECT_EQ(std::find(layers.begin(), layers.end(), "worker_assignments"), layers.end());
}

}  // namespace
}  // namespace civgrid::engine

namespace civgrid::engine {
namespace {

TEST(Staffing, StrictTurnsShortfallsIntoErrorsAndWritesNothing) {
    test::TempDir dir;
    data::SynthCity city = generated(15'000, 33);
    for (io::LayerData& layer : city.layers) {
        if (layer.name != "stations") continue;
        const std::size_t capacity = field_index(layer, "capacity_households");
        for (auto& row : layer.rows) row[capacity] = std::int64_t{500};  // far too little for the city
    }
    PartitionConfig config;
    config.city = dir.file("city.gpkg");
    data::write_city(city, config.city);
    // Best effort: the shortfall is reported by id, capacities held.
    const RunSummary summary = run_partition(config, dir.file("out.gpkg"));
    ASSERT_FALSE(summary.staffing.utilities.empty());
    for (const auto& u : summary.staffing.utilities) {
        EXPECT_FALSE(u.result.unassigned.empty()) << u.name;
        for (std::size_t s = 0; s < u.capacity.size(); ++s) EXPECT_LE(u.result.load[s], 500) << u.name;
    }
    // Strict: an error naming micro-grids, and no output file.
    config.strict = true;
    try {
        (void)run_partition(config, dir.file("strict.gpkg"));
        FAIL() << "no error under --strict";
    } catch (const InfeasibleError& error) {
        EXPECT_TRUE(test::contains(error.what(), "station can take"));
        EXPECT_TRUE(test::contains(error.what(), summary.staffing.utilities.front().name));
    }
    EXPECT_FALSE(std::filesystem::exists(dir.file("strict.gpkg")));
}

}  // namespace
}  // namespace civgrid::engine

namespace civgrid::engine {
namespace {

TEST(Staffing, StandardsPerCommunity) {
    test::TempDir dir;
    data::SynthCity city = generated(15'000, 34);
    // One facility of 10,000 m2 in the first community (at its first building), none elsewhere.
    Wkb first_building;
    for (const io::LayerData& layer : city.layers)
        if (layer.name == "buildings") first_building = layer.geometries.front();
    ASSERT_FALSE(first_building.empty());
    city.layers.push_back(io::LayerData{
        "facilities", io::GeometryKind::polygon, {{"area_m2", FieldType::real}}, {first_building}, {{10'000.0}}});
    PartitionConfig config;
    config.city = dir.file("city.gpkg");
    config.facility_area_field = "area_m2";  // a field name of the user's
    data::write_city(city, config.city);
    (void)run_partition(config, dir.file("out.gpkg"));
    const io::FeatureTable communities = io::read_layer({dir.file("out.gpkg"), "communities"});
    const int facility = communities.field_index("meets_facility_standard");
    const int workers = communities.field_index("workers_per_10k_residents");
    const int residents = communities.field_index("residents");
    ASSERT_GE(facility, 0);
    ASSERT_GE(workers, 0);
    int meeting = 0;
    for (const auto& row : communities.rows) {
        meeting += std::get<std::int64_t>(row[static_cast<std::size_t>(facility)]) == 1 ? 1 : 0;
        EXPECT_GE(std::get<double>(row[static_cast<std::size_t>(workers)]), 0.0);
        EXPECT_GT(std::get<double>(row[static_cast<std::size_t>(residents)]), 0.0);
    }
    EXPECT_EQ(meeting, 1);  // only the community holding the facility
}

}  // namespace
}  // namespace civgrid::engine

namespace civgrid::engine {
namespace {

TEST(Staffing, MobileWorkersPreferTheirWorkArea) {
    test::TempDir dir;
    data::SynthCity city = generated(20'000, 35);
    // Mobile worker i works in community (i * 5 + 3) mod n, wherever they live.
    std::vector<Wkb> communities;
    std::vector<std::string> mobile_ids;
    for (const io::LayerData& layer : city.layers) {
        if (layer.name == "communities") communities = layer.geometries;
        if (layer.name != "workers") continue;
        const std::size_t id = field_index(layer, "worker_id"), kind = field_index(layer, "kind");
        for (const auto& row : layer.rows)
            if (std::get<std::string>(row[kind]) == "mobile")
                mobile_ids.push_back(std::holds_alternative<std::string>(row[id])
                                         ? std::get<std::string>(row[id])
                                         : std::to_string(std::get<std::int64_t>(row[id])));
    }
    ASSERT_FALSE(mobile_ids.empty());
    ASSERT_GT(communities.size(), 3u);
    io::LayerData work_areas{"work_areas", io::GeometryKind::polygon, {{"worker_id", FieldType::string}}, {}, {}};
    for (std::size_t i = 0; i < mobile_ids.size(); ++i) {
        work_areas.geometries.push_back(communities[(i * 5 + 3) % communities.size()]);
        work_areas.rows.push_back({mobile_ids[i]});
    }
    city.layers.push_back(work_areas);
    PartitionConfig config;
    config.city = dir.file("city.gpkg");
    data::write_city(city, config.city);
    const City loaded = load_city(config);
    ASSERT_EQ(loaded.work_areas.size(), mobile_ids.size());
    const PartitionResult result = partition_city(loaded, config);
    const Staffing with_areas = assign_staff(loaded, result, config);
    City without = loaded;
    without.work_areas = {};
    without.work_area_points.clear();
    const Staffing by_home = assign_staff(without, result, config);
    // How far the grids they get lie from where they work: nearer when work areas count.
    std::map<std::string, Point> work_point;
    for (std::size_t a = 0; a < loaded.work_areas.size(); ++a)
        work_point[std::get<std::string>(loaded.work_areas.rows[a][0])] = loaded.work_area_points[a];
    const int id_field = loaded.workers.field_index("worker_id");
    auto mean_distance = [&](const Staffing& s) {
        double sum = 0;
        for (const auto& a : s.mobile.assignments) {
            const auto& row = loaded.workers.rows[s.mobile_rows[a.worker]];
            const std::string id = std::to_string(std::get<std::int64_t>(row[static_cast<std::size_t>(id_field)]));
            const Point w = work_point.at(id), g = result.grids[a.micro_grid].shape.label_point;
            sum += std::hypot(w.x - g.x, w.y - g.y);
        }
        return sum / static_cast<double>(std::max<std::size_t>(1, s.mobile.assignments.size()));
    };
    EXPECT_EQ(with_areas.mobile.assignments.size(), mobile_ids.size())
        << with_areas.mobile.unstaffed.size() << " grids short";
    EXPECT_LT(mean_distance(with_areas), 0.5 * mean_distance(by_home));
}

}  // namespace
}  // namespace civgrid::engine

namespace civgrid::engine {
namespace {

// --network-distance: distances run along the generated roads, never shorter than the straight
// line, and the run still staffs every micro-grid.
TEST(Staffing, AlongTheRoadsNeverShorterThanStraightAndStillComplete) {
    test::TempDir dir;
    const std::string path = dir.file("city.gpkg");
    data::write_city(generated(20'000, 34), path);
    PartitionConfig config;
    config.city = path;
    config.network_distance = true;
    const City city = load_city(config);
    ASSERT_FALSE(city.road_lines.empty());
    const PartitionResult result = partition_city(city, config);
    const Staffing staffing = assign_staff(city, result, config);
    ASSERT_TRUE(staffing.workers.along_roads);
    EXPECT_TRUE(staffing.workers.unstaffed.empty());
    EXPECT_TRUE(staffing.mobile.along_roads);

    geos::Context context;
    int longer = 0;
    for (const auto& a : staffing.workers.assignments) {
        const geos::Geom grid = geos::from_wkb(context, result.micro_grids[a.micro_grid].shape.polygon);
        const geos::Geom home = geos::point(context, city.worker_points[staffing.worker_rows[a.worker]]);
        double straight = 0;
        ASSERT_EQ(GEOSDistance_r(context.handle(), grid.get(), home.get(), &straight), 1);
        EXPECT_GE(a.distance_m, straight - 1e-6);
        if (straight == 0) {
            EXPECT_EQ(a.distance_m, 0.0) << "a worker living inside travels nowhere";
        }
        longer += a.distance_m > straight + 1.0 ? 1 : 0;
    }
    EXPECT_GT(longer, 0) << "some homes are off the roads, so some distances must grow";

    // Written and labelled in run_info.
    const RunSummary summary = run_partition(config, dir.file("out.gpkg"));
    const io::FeatureTable info = io::read_layer({dir.file("out.gpkg"), "run_info"});
    bool labelled = false;
    for (const auto& row : info.rows)
        for (const auto& value : row)
            if (std::holds_alternative<std::string>(value) && std::get<std::string>(value) == "along the roads")
                labelled = true;
    EXPECT_TRUE(labelled);
    EXPECT_EQ(summary.staffing.workers.assignments.size(), staffing.workers.assignments.size());
}

TEST(Staffing, AlongTheRoadsNeedsRoads) {
    test::TempDir dir;
    data::SynthCity city = generated(5'000, 35);
    std::erase_if(city.layers, [](const io::LayerData& layer) { return layer.name == "roads"; });
    const std::string path = dir.file("city.gpkg");
    data::write_city(city, path);
    PartitionConfig config;
    config.city = path;
    config.network_distance = true;
    try {
        (void)load_city(config);
        FAIL() << "no roads: expected a ConfigError";
    } catch (const ConfigError& error) {
        EXPECT_NE(std::string(error.what()).find("--network-distance"), std::string::npos) << error.what();
    }
    config.staffing = false;  // partition only: the option has nothing to measure
    EXPECT_NO_THROW((void)load_city(config));
}

}  // namespace
}  // namespace civgrid::engine
