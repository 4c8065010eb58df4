// Reruns (civgrid repartition) on generated cities and the generator's four changes: every
// partition guarantee still holds, kept micro-grids keep code and polygon, churn stays within twice
// the households directly affected and below a fresh run's, retired codes are never reused, locks
// hold, and valid worker assignments are kept.
#include <civgrid/data/changes.hpp>
#include <civgrid/data/synth.hpp>
#include <civgrid/engine/repartition.hpp>
#include <civgrid/error.hpp>
#include <civgrid/io/layer.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace civgrid::engine {
namespace {

constexpr std::int64_t kHouseholds = 30'000;

// `empty`: micro-grids without households the first run had (a community with none at all).
void expect_guarantees(const algorithms::QualityReport& report, std::int64_t empty) {
    EXPECT_EQ(report.non_contiguous, 0);
    EXPECT_EQ(report.barrier_crossings, 0);
    EXPECT_EQ(report.outside_region, 0);
    EXPECT_EQ(report.invalid_polygons, 0);
    EXPECT_LE(report.empty, empty);
    EXPECT_LT(report.max_region_gap_overlap_m2, 1.0);
    EXPECT_EQ(report.buildings_unassigned, 0);
    EXPECT_EQ(report.grids_non_contiguous, 0);
    EXPECT_GE(report.share_within_20, 0.97);
}

std::map<std::string, std::string> column_by(const io::FeatureTable& table, const std::string& key,
                                             const std::string& value) {
    std::map<std::string, std::string> result;
    const int k = table.field_index(key), v = table.field_index(value);
    for (const auto& row : table.rows) {
        auto text = [](const FieldValue& field) {
            if (const auto* s = std::get_if<std::string>(&field)) return *s;
            if (const auto* i = std::get_if<std::int64_t>(&field)) return std::to_string(*i);
            return std::string();
        };
        result[text(row[static_cast<std::size_t>(k)])] = text(row[static_cast<std::size_t>(v)]);
    }
    return result;
}

// A 30,000-household city partitioned once; reruns start from its output.
class Rerun : public ::testing::Test {
protected:
    void SetUp() override {
        data::SynthConfig synth;
        synth.households = kHouseholds;
        synth.seed = 5;
        city_ = data::generate_city(synth);
        data::write_city(city_, dir_.file("city.gpkg"));
        PartitionConfig config;
        config.city = dir_.file("city.gpkg");
        first_ = run_partition(config, dir_.file("first.gpkg"));
    }

    // The city after `change`, written to a file of its own.
    std::string changed(data::CityChange change, data::ChangeReport& report) {
        data::SynthCity city = city_;
        report = data::apply_change(city, change, 3);
        const std::string path = dir_.file("changed-" + std::to_string(static_cast<int>(change)) + ".gpkg");
        data::write_city(city, path);
        return path;
    }

    test::TempDir dir_;
    data::SynthCity city_;
    RunSummary first_;
};

TEST_F(Rerun, NothingChangedKeepsEverything) {
    PartitionConfig config;
    config.city = dir_.file("city.gpkg");
    const RepartitionSummary again = run_repartition(config, dir_.file("first.gpkg"), {}, dir_.file("again.gpkg"));
    EXPECT_EQ(again.changes.micro_grids_kept, first_.report.micro_grids);
    EXPECT_EQ(again.changes.micro_grids_new + again.changes.micro_grids_redrawn + again.changes.micro_grids_retired, 0);
    EXPECT_EQ(again.changes.household_churn(), 0.0);
    EXPECT_EQ(again.changes.zones, 0);
    // The same codes and polygons; every worker and station assignment kept.
    const io::FeatureTable before = io::read_layer({dir_.file("first.gpkg"), "micro_grids"});
    const io::FeatureTable after = io::read_layer({dir_.file("again.gpkg"), "micro_grids"});
    ASSERT_EQ(before.size(), after.size());
    EXPECT_EQ(column_by(before, "micro_grid_id", "households"), column_by(after, "micro_grid_id", "households"));
    EXPECT_EQ(before.geometries, after.geometries);
    EXPECT_EQ(column_by(io::read_layer({dir_.file("first.gpkg"), "buildings"}), "building_id", "micro_grid_id"),
              column_by(io::read_layer({dir_.file("again.gpkg"), "buildings"}), "building_id", "micro_grid_id"));
    EXPECT_EQ(again.run.staffing.workers.fixed_assignments,
              static_cast<std::int64_t>(again.run.staffing.workers.assignments.size()));
    for (const auto& utility : again.run.staffing.utilities)
        EXPECT_EQ(utility.kept, static_cast<std::int64_t>(again.changes.result.micro_grids.size())) << utility.name;
    expect_guarantees(again.run.report, first_.report.empty);
}

TEST_F(Rerun, EachChangeKeepsGuaranteesAndChurnsLittle) {
    const io::FeatureTable previous_grids = io::read_layer({dir_.file("first.gpkg"), "micro_grids"});
    std::set<std::string> previous_ids;
    for (const auto& [id, households] : column_by(previous_grids, "micro_grid_id", "households"))
        previous_ids.insert(id);
    for (const auto change : {data::CityChange::households, data::CityChange::estate, data::CityChange::demolition,
                              data::CityChange::boundary}) {
        data::ChangeReport report;
        PartitionConfig config;
        config.city = changed(change, report);
        SCOPED_TRACE(report.description);
        const std::string out = dir_.file("rerun.gpkg");
        const RepartitionSummary rerun = run_repartition(config, dir_.file("first.gpkg"), {}, out);
        const Repartition& c = rerun.changes;
        expect_guarantees(rerun.run.report, first_.report.empty);
        EXPECT_EQ(report_file(out).non_contiguous, 0);

        // Churn: at most twice what the change touches directly, and below a fresh run's.
        const double total = static_cast<double>(c.households_compared + c.households_new + c.households_removed);
        const double direct = static_cast<double>(report.households_affected) / total;
        EXPECT_LE(c.household_churn(), 2.0 * direct) << "churn " << c.household_churn() << ", direct " << direct;
        const RunSummary fresh = run_partition(config, dir_.file("fresh.gpkg"));
        const auto fresh_codes =
            column_by(io::read_layer({dir_.file("fresh.gpkg"), "buildings"}), "building_id", "micro_grid_id");
        const auto first_codes =
            column_by(io::read_layer({dir_.file("first.gpkg"), "buildings"}), "building_id", "micro_grid_id");
        const auto rerun_codes = column_by(io::read_layer({out, "buildings"}), "building_id", "micro_grid_id");
        int fresh_moved = 0, rerun_moved = 0;
        for (const auto& [building, code] : first_codes) {
            const auto f = fresh_codes.find(building), r = rerun_codes.find(building);
            fresh_moved += f != fresh_codes.end() && f->second != code ? 1 : 0;
            rerun_moved += r != rerun_codes.end() && r->second != code ? 1 : 0;
        }
        EXPECT_LE(rerun_moved, fresh_moved);
        EXPECT_EQ(rerun_moved, c.buildings_moved);

        // Kept micro-grids keep code and polygon; new codes never reuse a previous one.
        std::map<std::string, Wkb> before;
        const int id_field = previous_grids.field_index("micro_grid_id");
        for (std::size_t g = 0; g < previous_grids.size(); ++g)
            before[std::get<std::string>(previous_grids.rows[g][static_cast<std::size_t>(id_field)])] =
                previous_grids.geometries[g];
        std::int64_t households = 0;
        for (std::size_t g = 0; g < c.result.micro_grids.size(); ++g) {
            const MicroGrid& grid = c.result.micro_grids[g];
            households += grid.shape.households;
            const std::string& status = c.changes[g].status;
            EXPECT_EQ(c.changes[g].id, grid.id);
            // Kept ones keep their code; a one-for-one redraw may (within its community); the rest
            // never reuse one.
            if (status == "unchanged") {
                EXPECT_TRUE(previous_ids.contains(grid.id)) << grid.id;
            } else if (status != "redrawn") {
                EXPECT_FALSE(previous_ids.contains(grid.id)) << status << " " << grid.id << " reuses a code";
            }
        }
        // The lineage accounts for every household now, micro-grid by micro-grid (two zones of one
        // community number their micro-grids alike: their split buildings' parts must not mix).
        std::int64_t lineage_households = 0;
        std::map<std::string, std::int64_t> reaching;
        for (const LineageRow& row : c.lineage)
            if (!row.new_id.empty()) lineage_households += row.households, reaching[row.new_id] += row.households;
        EXPECT_EQ(lineage_households, households);
        for (const MicroGrid& grid : c.result.micro_grids)
            EXPECT_EQ(reaching[grid.id], grid.shape.households) << grid.id;
        // Retired micro-grids name where their buildings went (none for a demolished block).
        for (const MicroGridChange& change_row : c.changes)
            if (change_row.status == "retired") {
                EXPECT_TRUE(previous_ids.contains(change_row.id));
            }
        const auto layers = io::list_layers(out);
        EXPECT_NE(std::find(layers.begin(), layers.end(), "changes"), layers.end());
        EXPECT_NE(std::find(layers.begin(), layers.end(), "lineage"), layers.end());
    }
}

TEST_F(Rerun, LockedMicroGridsStayWhateverHappens) {
    data::ChangeReport report;
    PartitionConfig config;
    config.city = changed(data::CityChange::estate, report);
    const RepartitionSummary free = run_repartition(config, dir_.file("first.gpkg"), {}, dir_.file("free.gpkg"));
    // Lock every previous micro-grid the free rerun redrew or retired: the estate must go elsewhere.
    RepartitionOptions options;
    for (const MicroGridChange& change : free.changes.changes)
        if (change.status == "retired" || change.status == "redrawn") options.locked.push_back(change.id);
    ASSERT_FALSE(options.locked.empty());
    const RepartitionSummary locked =
        run_repartition(config, dir_.file("first.gpkg"), options, dir_.file("locked.gpkg"));
    const io::FeatureTable before = io::read_layer({dir_.file("first.gpkg"), "micro_grids"});
    const io::FeatureTable after = io::read_layer({dir_.file("locked.gpkg"), "micro_grids"});
    std::map<std::string, Wkb> after_shapes;
    for (std::size_t g = 0; g < after.size(); ++g)
        after_shapes[std::get<std::string>(
            after.rows[g][static_cast<std::size_t>(after.field_index("micro_grid_id"))])] = after.geometries[g];
    for (const std::string& id : options.locked) {
        ASSERT_TRUE(after_shapes.contains(id)) << id << " was locked but is gone";
        const int id_field = before.field_index("micro_grid_id");
        for (std::size_t g = 0; g < before.size(); ++g) {
            if (std::get<std::string>(before.rows[g][static_cast<std::size_t>(id_field)]) != id) continue;
            EXPECT_EQ(after_shapes[id], before.geometries[g]) << id << " was locked but was redrawn";
        }
    }
    EXPECT_EQ(locked.run.report.non_contiguous, 0);
    EXPECT_LT(locked.run.report.max_region_gap_overlap_m2, 1.0);

    options.locked = {"no-such-micro-grid"};
    EXPECT_THROW((void)run_repartition(config, dir_.file("first.gpkg"), options, dir_.file("bad.gpkg")), ConfigError);
    EXPECT_FALSE(std::filesystem::exists(dir_.file("bad.gpkg")));
}

}  // namespace
}  // namespace civgrid::engine
