// Units mode end to end on generated parcels (`civgrid synth --parcels`): polygons that tile the
// ground, share edges vertex for vertex, a few with hundreds of vertices and a few invalid bow-ties
// (issue 17, item 1).
#include <civgrid/algorithms/balance_bound.hpp>
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/region_partition.hpp>
#include <civgrid/data/parcels.hpp>
#include <civgrid/data/synth.hpp>
#include <civgrid/engine/pipeline.hpp>
#include <civgrid/engine/repartition.hpp>
#include <civgrid/error.hpp>
#include <civgrid/io/layer.hpp>

#include "synth_file.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

namespace civgrid::engine {
namespace {

constexpr std::int64_t kLargeHouseholds = 600;

// About `parcels` parcels of 40 m; parcel `large` (0-based, row-major) gets kLargeHouseholds.
// With `communities`, two communities split the ground at x = origin + 0.5 x width, across
// parcels (the line ignores the jittered parcel edges).
data::SynthCity parcel_city(std::int64_t parcels, std::size_t large, bool communities) {
    data::ParcelConfig config;
    config.parcels = parcels;
    config.dense_vertices = 400;
    config.seed = 3;
    data::SynthCity city = data::generate_parcels(config);
    io::LayerData& buildings = city.layers.front();
    buildings.rows.at(large).at(1) = FieldValue{kLargeHouseholds};
    if (communities) {
        const auto& s = city.summary;
        const double middle = (s.min_x + s.max_x) / 2;
        geos::Context context;
        io::LayerData layer{"communities",
                            io::GeometryKind::polygon,
                            {{"community_code", FieldType::string},
                             {"street_code", FieldType::string},
                             {"district_code", FieldType::string},
                             {"name", FieldType::string}},
                            {},
                            {}};
        const auto box = [&](double x0, double x1) {
            return geos::to_wkb(
                context,
                geos::polygon(
                    context,
                    {{x0, s.min_y - 1}, {x1, s.min_y - 1}, {x1, s.max_y + 1}, {x0, s.max_y + 1}, {x0, s.min_y - 1}})
                    .get());
        };
        layer.geometries = {box(s.min_x - 1, middle), box(middle, s.max_x + 1)};
        layer.rows = {{std::string("320102001001"), std::string("320102001"), std::string("320102"), std::string("A")},
                      {std::string("320102001002"), std::string("320102001"), std::string("320102"), std::string("B")}};
        city.layers.push_back(std::move(layer));
    }
    return city;
}

std::string parcel_file(const test::TempDir& dir, const std::string& name, std::int64_t parcels, std::size_t large,
                        bool communities) {
    const std::string path = dir.file(name);
    data::write_city(parcel_city(parcels, large, communities), path);
    return path;
}

// Every unit whole in exactly one micro-grid (>= 99.99 % of its area inside it, and its
// micro-grid's polygon the union of its units to 1e-6 of the area), households conserved.
void expect_units_whole(const City& city, const PartitionResult& result) {
    geos::Context context;
    std::map<int, std::vector<std::size_t>> members;
    std::int64_t households = 0, in_micro_grids = 0;
    for (std::size_t b = 0; b < city.buildings.size(); ++b) {
        if (city.buildings.geometries[b].empty()) continue;
        ASSERT_GE(result.building_grid[b], 0) << "unit " << b << " in no micro-grid";
        EXPECT_TRUE(result.building_split[b].empty()) << "unit " << b << " split: " << result.building_split[b];
        members[result.building_grid[b]].push_back(b);
        households += city.building_households[b];
    }
    for (std::size_t g = 0; g < result.micro_grids.size(); ++g) {
        const MicroGrid& micro_grid = result.micro_grids[g];
        in_micro_grids += micro_grid.shape.households;
        const geos::Geom polygon = geos::from_wkb(context, micro_grid.shape.polygon);
        std::vector<geos::Geom> units;
        for (std::size_t b : members[static_cast<int>(g)]) {
            geos::Geom unit = geos::from_wkb(context, city.buildings.geometries[b]);
            const double area = geos::area(context, unit.get());
            const geos::Geom inside =
                geos::own(context, GEOSIntersection_r(context.handle(), unit.get(), polygon.get()), "intersection");
            EXPECT_GE(geos::area(context, inside.get()), 0.9999 * area) << "unit " << b << " of " << micro_grid.id;
            units.push_back(std::move(unit));
        }
        const geos::Geom all = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(units));
        const geos::Geom united = geos::own(context, GEOSUnaryUnion_r(context.handle(), all.get()), "union");
        const double area = geos::area(context, united.get());
        EXPECT_NEAR(geos::area(context, polygon.get()), area, 1e-6 * area) << micro_grid.id;
        const geos::Geom difference =
            geos::own(context, GEOSSymDifference_r(context.handle(), united.get(), polygon.get()), "difference");
        EXPECT_LT(geos::area(context, difference.get()), 1e-6 * area) << micro_grid.id;
    }
    EXPECT_EQ(in_micro_grids, households);
}

TEST(Units, ParcelsAreKeptWholeContiguousAndBalanced) {
    test::TempDir dir;
    const std::size_t large = 1234;
    PartitionConfig config;
    config.city = parcel_file(dir, "parcels.gpkg", 2'500, large, false);
    config.units = "areas";
    config.threads = 2;
    const City city = load_city(config);
    ASSERT_EQ(city.region_level, "city");
    const PartitionResult result = partition_city(city, config);
    expect_units_whole(city, result);

    // The unit over the bound is a micro-grid of its own, flagged.
    const int g = result.building_grid[large];
    ASSERT_GE(g, 0);
    const MicroGrid& alone = result.micro_grids[static_cast<std::size_t>(g)];
    EXPECT_NE(alone.shape.flags & static_cast<std::uint8_t>(algorithms::Flag::large_building), 0);
    std::int64_t with_households = 0;
    for (std::size_t b = 0; b < city.buildings.size(); ++b)
        if (result.building_grid[b] == g && city.building_households[b] > 0) ++with_households;
    EXPECT_EQ(with_households, 1) << "the large unit shares its micro-grid with other households";
    EXPECT_EQ(alone.shape.households, kLargeHouseholds);

    // The run's report: contiguous, nothing outside, no gap, most micro-grids within the bounds.
    const RunSummary summary = run_partition(config, dir.file("out.gpkg"));
    const algorithms::QualityReport& report = summary.report;
    EXPECT_EQ(report.micro_grids, static_cast<std::int64_t>(result.micro_grids.size()));
    // A micro-grid has several parts only where a unit has (a bow-tie made valid is two triangles
    // meeting at a point), flagged multipart.
    {
        geos::Context context;
        std::set<int> with_multipart_unit;
        for (std::size_t b = 0; b < city.buildings.size(); ++b)
            if (!city.buildings.geometries[b].empty() &&
                geos::type_id(context, geos::from_wkb(context, city.buildings.geometries[b]).get()) ==
                    GEOS_MULTIPOLYGON)
                with_multipart_unit.insert(result.building_grid[b]);
        std::int64_t multipart = 0;
        for (std::size_t i = 0; i < result.micro_grids.size(); ++i) {
            if (geos::type_id(context, geos::from_wkb(context, result.micro_grids[i].shape.polygon).get()) !=
                GEOS_MULTIPOLYGON)
                continue;
            ++multipart;
            EXPECT_TRUE(with_multipart_unit.contains(static_cast<int>(i))) << result.micro_grids[i].id;
            EXPECT_NE(result.micro_grids[i].shape.flags & static_cast<std::uint8_t>(algorithms::Flag::multipart), 0);
        }
        EXPECT_EQ(report.non_contiguous, multipart);
        EXPECT_LE(multipart, static_cast<std::int64_t>(with_multipart_unit.size()));
    }
    EXPECT_EQ(report.invalid_polygons, 0);
    EXPECT_EQ(report.buildings_unassigned, 0);
    EXPECT_LT(report.max_region_gap_overlap_m2, 1.0);
    EXPECT_GE(report.share_within_bounds, 0.9);
    EXPECT_GE(report.flagged, 1);
    EXPECT_LE(std::abs(static_cast<double>(report.micro_grids - report.requested)),
              0.05 * static_cast<double>(report.requested));

    // The same micro-grids on one thread.
    PartitionConfig one = config;
    one.threads = 1;
    const PartitionResult again = partition_city(load_city(one), one);
    ASSERT_EQ(again.micro_grids.size(), result.micro_grids.size());
    for (std::size_t i = 0; i < result.micro_grids.size(); ++i) {
        EXPECT_EQ(again.micro_grids[i].id, result.micro_grids[i].id);
        EXPECT_EQ(again.micro_grids[i].shape.polygon, result.micro_grids[i].shape.polygon);
        EXPECT_EQ(again.micro_grids[i].shape.households, result.micro_grids[i].shape.households);
    }
    EXPECT_EQ(again.building_grid, result.building_grid);
}

// The report's bound in units mode is for whole units: with a target near the parcels' own size
// (30 households; parcels hold 0-40) whole units cannot reach the share divided households could,
// and the bound stays at or above what the run achieves.
TEST(Units, BestShareIsTheBoundForWholeUnits) {
    test::TempDir dir;
    PartitionConfig config;
    config.city = parcel_file(dir, "parcels.gpkg", 1'500, 700, true);
    config.units = "areas";
    config.target_households = 30;
    config.threads = 2;
    const City city = load_city(config);
    const PartitionResult result = partition_city(city, config);
    ASSERT_EQ(result.regions.size(), 2U);
    std::int64_t whole_bound = 0, divisible_bound = 0, achieved = 0;
    for (std::size_t r = 0; r < result.regions.size(); ++r) {
        const RegionSummary& region = result.regions[r];
        std::vector<std::int64_t> piece_households;
        int micro_grids = 0, within = 0;
        for (const MicroGrid& micro_grid : result.micro_grids) {
            if (micro_grid.region != static_cast<int>(r)) continue;
            ++micro_grids;
            if (algorithms::is_within(micro_grid.shape.households, region.target)) ++within;
            const auto piece = static_cast<std::size_t>(micro_grid.shape.piece);
            if (piece >= piece_households.size()) piece_households.resize(piece + 1, 0);
            piece_households[piece] += micro_grid.shape.households;
        }
        std::erase(piece_households, 0);
        const int divisible = algorithms::best_within(piece_households, micro_grids, region.target);
        EXPECT_GE(region.best_within_10, within) << "region " << r;
        EXPECT_LE(region.best_within_10, divisible) << "region " << r;
        EXPECT_GE(region.best_within_10_in_bounds, 0) << "region " << r;
        EXPECT_LE(region.best_within_10_in_bounds, region.best_within_10) << "region " << r;
        whole_bound += region.best_within_10;
        divisible_bound += divisible;
        achieved += within;
    }
    EXPECT_LT(whole_bound, divisible_bound);
    EXPECT_GT(achieved, 0);

    // The written report carries it: best share at or above the achieved one, below the divisible.
    const RunSummary summary = run_partition(config, dir.file("out.gpkg"));
    const auto micro_grids = static_cast<double>(summary.report.micro_grids);
    EXPECT_NEAR(summary.report.best_share_within_10, static_cast<double>(whole_bound) / micro_grids, 1e-9);
    EXPECT_GE(summary.report.best_share_within_10, summary.report.share_within_10);
    EXPECT_LT(summary.report.best_share_within_10, static_cast<double>(divisible_bound) / micro_grids);
}

TEST(Units, WithCommunitiesEachUnitGoesWholeToTheCommunityOfItsPoint) {
    test::TempDir dir;
    PartitionConfig config;
    config.city = parcel_file(dir, "parcels.gpkg", 900, 10, true);
    config.units = "areas";
    const City city = load_city(config);
    ASSERT_EQ(city.regions.size(), 2u);
    const PartitionResult result = partition_city(city, config);
    expect_units_whole(city, result);
    for (std::size_t b = 0; b < city.buildings.size(); ++b) {
        if (result.building_grid[b] < 0) continue;
        EXPECT_EQ(result.micro_grids[static_cast<std::size_t>(result.building_grid[b])].region,
                  city.building_region[b]);
    }
}

// --split-large-units: the unit over the bound is cut into pieces of about the target that
// micro-grids take like units, instead of a flagged micro-grid of its own.
TEST(Units, SplitLargeUnitsCutsAUnitOverTheBound) {
    test::TempDir dir;
    const std::size_t large = 410;
    PartitionConfig config;
    config.city = parcel_file(dir, "parcels.gpkg", 900, large, false);
    config.units = "areas";
    config.split_large_units = true;
    const City city = load_city(config);
    const PartitionResult result = partition_city(city, config);
    // max(ceil(600 / 99.6), round(600 / 83)) = 7 pieces, each in a micro-grid; households kept.
    const std::vector<std::string> ids = [&] {
        std::vector<std::string> parts;
        const std::string& text = result.building_split[large];
        for (std::size_t start = 0; start < text.size();) {
            const std::size_t end = std::min(text.find(';', start), text.size());
            parts.push_back(text.substr(start, end - start));
            start = end + 1;
        }
        return parts;
    }();
    EXPECT_GE(ids.size(), 2U) << result.building_split[large];
    EXPECT_LE(ids.size(), 7U);
    std::int64_t households = 0, in_micro_grids = 0;
    for (std::size_t b = 0; b < city.buildings.size(); ++b) households += city.building_households[b];
    geos::Context context;
    const geos::Geom unit = geos::from_wkb(context, city.buildings.geometries[large]);
    double covered = 0;
    for (const MicroGrid& micro_grid : result.micro_grids) {
        in_micro_grids += micro_grid.shape.households;
        EXPECT_EQ(micro_grid.shape.flags & static_cast<std::uint8_t>(algorithms::Flag::large_building), 0)
            << micro_grid.id;
        const geos::Geom polygon = geos::from_wkb(context, micro_grid.shape.polygon);
        const geos::Geom inside =
            geos::own(context, GEOSIntersection_r(context.handle(), unit.get(), polygon.get()), "intersection");
        const double area = geos::area(context, inside.get());
        if (area > 1e-3) {
            covered += area;
            EXPECT_NE(std::find(ids.begin(), ids.end(), micro_grid.id), ids.end()) << micro_grid.id;
        }
    }
    EXPECT_EQ(in_micro_grids, households);
    // The micro-grids holding its pieces cover the unit once (no gap, no overlap among them).
    EXPECT_NEAR(covered, geos::area(context, unit.get()), 1e-4 * geos::area(context, unit.get()));
    // Every other unit stays whole.
    for (std::size_t b = 0; b < city.buildings.size(); ++b)
        if (b != large && !city.buildings.geometries[b].empty()) {
            EXPECT_TRUE(result.building_split[b].empty()) << b;
        }
    EXPECT_TRUE(std::any_of(result.warnings.begin(), result.warnings.end(),
                            [](const std::string& w) { return w.find("--split-large-units") != std::string::npos; }));
    // Without the option the unit is a micro-grid of its own, flagged.
    config.split_large_units = false;
    const PartitionResult whole = partition_city(city, config);
    ASSERT_GE(whole.building_grid[large], 0);
    EXPECT_NE(whole.micro_grids[static_cast<std::size_t>(whole.building_grid[large])].shape.flags &
                  static_cast<std::uint8_t>(algorithms::Flag::large_building),
              0);
    // The CLI: the option, and refused without --units areas.
    std::string output;
    EXPECT_EQ(test::run_cli("partition " + config.city + " -o " + dir.file("split.gpkg") +
                                " --units areas --split-large-units -q",
                            output, dir),
              0)
        << output;
    EXPECT_EQ(
        test::run_cli("partition " + config.city + " -o " + dir.file("bad.gpkg") + " --split-large-units", output, dir),
        2);
    EXPECT_CONTAINS(output, "--split-large-units");
}

// Text of a field, whatever its type.
std::string text_of(const FieldValue& value) {
    if (const auto* s = std::get_if<std::string>(&value)) return *s;
    if (const auto* i = std::get_if<std::int64_t>(&value)) return std::to_string(*i);
    return {};
}

// building_id -> micro_grid_id of an output's buildings layer.
std::map<std::string, std::string> unit_micro_grids(const std::string& path) {
    const io::FeatureTable buildings = io::read_layer({path, "buildings"}, {.attributes_only = true});
    const int id = buildings.field_index("building_id"), grid = buildings.field_index("micro_grid_id");
    std::map<std::string, std::string> result;
    for (const auto& row : buildings.rows)
        result[text_of(row[static_cast<std::size_t>(id)])] = text_of(row[static_cast<std::size_t>(grid)]);
    return result;
}

// A rerun in units mode (issue 17): units stay whole, micro-grids that still hold are kept with
// their codes and polygons, and few units move — far fewer than a fresh partition of the changed
// city moves.
TEST(Units, RerunKeepsUnitsWholeAndMovesFew) {
    test::TempDir dir;
    data::SynthCity city = parcel_city(1'600, 300, true);
    data::write_city(city, dir.file("before.gpkg"));
    PartitionConfig config;
    config.city = dir.file("before.gpkg");
    config.units = "areas";
    config.threads = 2;
    const RunSummary first = run_partition(config, dir.file("first.gpkg"));
    const std::map<std::string, std::string> before = unit_micro_grids(dir.file("first.gpkg"));

    // The same city again: everything kept, polygons byte for byte.
    {
        const RepartitionSummary again = run_repartition(config, dir.file("first.gpkg"), {}, dir.file("again.gpkg"));
        EXPECT_EQ(again.changes.micro_grids_kept, first.report.micro_grids);
        EXPECT_EQ(again.changes.zones, 0);
        EXPECT_EQ(again.changes.buildings_moved, 0);
        EXPECT_EQ(io::read_layer({dir.file("first.gpkg"), "micro_grids"}).geometries,
                  io::read_layer({dir.file("again.gpkg"), "micro_grids"}).geometries);
        EXPECT_EQ(unit_micro_grids(dir.file("again.gpkg")), before);
    }

    // The changed city: 40 parcels of the first rows gain 15 households each (their micro-grids
    // grow out of the bounds), 12 elsewhere are removed, 8 are registered under new ids.
    io::LayerData& parcels = city.layers.front();
    std::set<std::string> changed;
    for (std::size_t k = 0; k < 40; ++k) {
        const std::size_t i = (k / 10) * 40 + k % 10;
        auto& households = std::get<std::int64_t>(parcels.rows[i][1]);
        households += 15;
        changed.insert(text_of(parcels.rows[i][0]));
    }
    for (std::size_t k = 0; k < 8; ++k) {
        const std::size_t i = 1'000 + 7 * k;
        changed.insert(text_of(parcels.rows[i][0]));
        parcels.rows[i][0] = FieldValue{std::int64_t{900'000} + static_cast<std::int64_t>(k)};
    }
    for (std::size_t k = 0; k < 12; ++k) {
        const std::size_t i = 1'500 - 3 * k;  // from the back, so the indices above hold
        changed.insert(text_of(parcels.rows[i][0]));
        parcels.rows.erase(parcels.rows.begin() + static_cast<std::ptrdiff_t>(i));
        parcels.geometries.erase(parcels.geometries.begin() + static_cast<std::ptrdiff_t>(i));
    }
    data::write_city(city, dir.file("after.gpkg"));
    config.city = dir.file("after.gpkg");
    const RepartitionSummary rerun = run_repartition(config, dir.file("first.gpkg"), {}, dir.file("rerun.gpkg"));
    const City now = load_city(config);
    expect_units_whole(now, rerun.changes.result);
    const algorithms::QualityReport& report = rerun.run.report;
    EXPECT_EQ(report.buildings_unassigned, 0);
    EXPECT_EQ(report.invalid_polygons, 0);
    EXPECT_GE(report.share_within_bounds, first.report.share_within_bounds - 0.05);
    EXPECT_GT(rerun.changes.zones, 0);

    // Unchanged micro-grids keep code and polygon (one that took in units without households, or
    // lost a removed unit, is redrawn); micro-grids that held no changed parcel mostly stay.
    std::set<std::string> touched;
    for (const auto& [unit, grid] : before)
        if (changed.contains(unit)) touched.insert(grid);
    const io::FeatureTable old_grids = io::read_layer({dir.file("first.gpkg"), "micro_grids"});
    const io::FeatureTable new_grids = io::read_layer({dir.file("rerun.gpkg"), "micro_grids"});
    std::map<std::string, Wkb> old_polygon;
    for (std::size_t i = 0; i < old_grids.size(); ++i)
        old_polygon[text_of(old_grids.rows[i][static_cast<std::size_t>(old_grids.field_index("micro_grid_id"))])] =
            old_grids.geometries[i];
    std::map<std::string, Wkb> new_polygon;
    for (std::size_t i = 0; i < new_grids.size(); ++i)
        new_polygon[text_of(new_grids.rows[i][static_cast<std::size_t>(new_grids.field_index("micro_grid_id"))])] =
            new_grids.geometries[i];
    std::int64_t unchanged = 0;
    for (const MicroGridChange& change : rerun.changes.changes) {
        if (change.status != "unchanged") continue;
        ++unchanged;
        ASSERT_TRUE(old_polygon.contains(change.id)) << change.id;
        EXPECT_EQ(new_polygon.at(change.id), old_polygon.at(change.id)) << change.id;
    }
    const auto untouched = static_cast<std::int64_t>(old_polygon.size() - touched.size());
    EXPECT_GE(unchanged, untouched * 8 / 10) << "of " << untouched << " micro-grids without a changed parcel";

    // Units moved (same id, another micro-grid) against a fresh partition of the changed city.
    auto moved = [&](const std::map<std::string, std::string>& after) {
        std::int64_t count = 0;
        for (const auto& [unit, grid] : after)
            if (const auto it = before.find(unit); it != before.end() && it->second != grid) ++count;
        return count;
    };
    const std::int64_t rerun_moved = moved(unit_micro_grids(dir.file("rerun.gpkg")));
    (void)run_partition(config, dir.file("fresh.gpkg"));
    const std::int64_t fresh_moved = moved(unit_micro_grids(dir.file("fresh.gpkg")));
    std::int64_t in_touched = 0;
    for (const auto& [unit, grid] : before) in_touched += touched.contains(grid) ? 1 : 0;
    EXPECT_LE(rerun_moved, 2 * in_touched) << in_touched << " units in micro-grids with a changed parcel";
    EXPECT_LT(5 * rerun_moved, fresh_moved) << "a fresh partition moved " << fresh_moved;
    // A lock holds in units mode too: a micro-grid whose parcels grew keeps its code and its units.
    const std::string locked = before.at(text_of(parcels.rows[0][0]));
    RepartitionOptions lock;
    lock.locked = {locked};
    const RepartitionSummary held = run_repartition(config, dir.file("first.gpkg"), lock, dir.file("locked.gpkg"));
    const auto status = std::find_if(held.changes.changes.begin(), held.changes.changes.end(),
                                     [&](const MicroGridChange& c) { return c.id == locked; });
    ASSERT_NE(status, held.changes.changes.end());
    EXPECT_EQ(status->status, "unchanged");
    const auto unlocked = std::find_if(rerun.changes.changes.begin(), rerun.changes.changes.end(),
                                       [&](const MicroGridChange& c) { return c.id == locked; });
    EXPECT_TRUE(unlocked == rerun.changes.changes.end() || unlocked->status != "unchanged")
        << "without the lock it would have stayed anyway";
    const std::map<std::string, std::string> with_lock = unit_micro_grids(dir.file("locked.gpkg"));
    for (const auto& [unit, grid] : before)
        if (grid == locked && with_lock.contains(unit)) {
            EXPECT_EQ(with_lock.at(unit), locked) << unit;
        }
    std::printf(
        "units rerun: %lld of %zu units moved (fresh partition %lld), %lld in micro-grids with a change; "
        "%lld of %zu micro-grids unchanged\n",
        static_cast<long long>(rerun_moved), before.size(), static_cast<long long>(fresh_moved),
        static_cast<long long>(in_touched), static_cast<long long>(unchanged), old_polygon.size());
}

// A tiling digitised parcel by parcel (`civgrid synth --parcels --gaps --overlaps`): 2 % of the
// parcels shrunk by 0.5 m (a gap all round), 2 % grown by 0.5 m (overlapping their neighbours).
// Cleaned, each gap joins its parcel, whose micro-grid is one part; no land is in two
// micro-grids; the report counts exactly the dirt a GEOS overlay of the file finds. Without the
// cleaning (--coverage-tolerance 0) the same checks fail.
TEST(Units, DirtyTilingIsCleanedIntoACoverage) {
    test::TempDir dir;
    data::ParcelConfig parcels;
    parcels.parcels = 2'500;
    parcels.dense_vertices = 400;
    parcels.seed = 3;
    parcels.gap_share = 0.02;
    parcels.overlap_share = 0.02;
    parcels.dirt_width = 0.5;
    const data::ParcelDirt dirt = data::parcel_dirt(parcels);
    ASSERT_GE(dirt.gaps.size(), 20u);
    ASSERT_GE(dirt.overlaps.size(), 20u);
    const data::SynthCity layer = data::generate_parcels(parcels);
    PartitionConfig config;
    config.city = dir.file("dirty.gpkg");
    data::write_city(layer, config.city);
    config.units = "areas";
    config.threads = 2;

    // The dirt, measured independently on the generated layer: pairs of parcels overlapping by
    // more than a square centimetre (GEOS intersections of every pair whose boxes meet).
    std::set<std::int64_t> overlapping_parcels;
    std::size_t overlapping_pairs = 0;
    {
        geos::Context context;
        const io::LayerData& buildings = layer.layers.front();
        std::vector<geos::Geom> shapes;
        geos::StrTree tree(context);
        for (std::size_t i = 0; i < buildings.geometries.size(); ++i) {
            geos::Geom g = geos::from_wkb(context, buildings.geometries[i]);
            if (GEOSisValid_r(context.handle(), g.get()) != 1)
                g = geos::own(context, GEOSMakeValid_r(context.handle(), g.get()), "valid");
            shapes.push_back(std::move(g));
        }
        for (std::size_t i = 0; i < shapes.size(); ++i) tree.insert(shapes[i].get(), i);
        for (std::size_t i = 0; i < shapes.size(); ++i)
            for (std::size_t j : tree.query(shapes[i].get())) {
                if (j <= i) continue;
                const geos::Geom x = geos::intersection_or_null(context, shapes[i].get(), shapes[j].get());
                if (!x || !(geos::area(context, x.get()) > 1e-4)) continue;
                ++overlapping_pairs;
                overlapping_parcels.insert(std::get<std::int64_t>(buildings.rows[i][0]));
                overlapping_parcels.insert(std::get<std::int64_t>(buildings.rows[j][0]));
            }
    }
    ASSERT_GE(overlapping_pairs, 4 * dirt.overlaps.size());  // each grown parcel: 4 sides, corners
    for (std::int64_t id : dirt.overlaps) EXPECT_TRUE(overlapping_parcels.contains(id)) << id;

    const City city = load_city(config);
    const LayerReport* buildings = city.import_report.layer("buildings");
    ASSERT_NE(buildings, nullptr);
    const Finding* gaps = buildings->find("units_gap_closed");
    ASSERT_NE(gaps, nullptr) << city.import_report.to_text();
    ASSERT_EQ(gaps->ids.size(), dirt.gaps.size());
    // Each gap all round a shrunk parcel goes to that parcel (it borders the whole gap); the fid
    // is the building_id here.
    for (std::size_t k = 0; k < dirt.gaps.size(); ++k)
        EXPECT_EQ(gaps->ids[k].substr(0, gaps->ids[k].find(' ')), std::to_string(dirt.gaps[k])) << gaps->ids[k];
    const Finding* overlaps = buildings->find("units_overlap_removed");
    ASSERT_NE(overlaps, nullptr);
    EXPECT_EQ(overlaps->ids.size(), overlapping_pairs);
    EXPECT_EQ(buildings->find("units_overlap_left"), nullptr);

    const PartitionResult result = partition_city(city, config);
    expect_units_whole(city, result);
    geos::Context context;
    const auto multipart_unit = [&](std::size_t b) {
        return geos::type_id(context, geos::from_wkb(context, city.buildings.geometries[b]).get()) == GEOS_MULTIPOLYGON;
    };
    // Each shrunk or grown parcel's micro-grid is one polygon (but where a bow-tie of two parts is
    // in it): a grown corner cut off by its neighbours' strips went to the parcel beside it.
    std::vector<std::int64_t> dirty_parcels = dirt.gaps;
    dirty_parcels.insert(dirty_parcels.end(), dirt.overlaps.begin(), dirt.overlaps.end());
    for (std::int64_t id : dirty_parcels) {
        const auto b = static_cast<std::size_t>(id - 1);
        EXPECT_EQ(geos::type_id(context, geos::from_wkb(context, city.buildings.geometries[b]).get()), GEOS_POLYGON)
            << "parcel " << id;
        const int g = result.building_grid[b];
        ASSERT_GE(g, 0);
        bool with_multipart_unit = false;
        for (std::size_t o = 0; o < city.buildings.size(); ++o)
            with_multipart_unit = with_multipart_unit || (result.building_grid[o] == g && multipart_unit(o));
        if (with_multipart_unit) continue;
        EXPECT_EQ(
            geos::type_id(context,
                          geos::from_wkb(context, result.micro_grids[static_cast<std::size_t>(g)].shape.polygon).get()),
            GEOS_POLYGON)
            << "parcel " << id;
    }
    // The micro-grids form a coverage: the sum of their areas is their union's.
    const auto areas = [&](const PartitionResult& r) {
        std::vector<geos::Geom> polygons;
        double sum = 0;
        for (const MicroGrid& m : r.micro_grids) {
            polygons.push_back(geos::from_wkb(context, m.shape.polygon));
            sum += geos::area(context, polygons.back().get());
        }
        const geos::Geom all = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(polygons));
        return std::pair{sum, geos::area(context, geos::unary_union(context, all.get(), "union").get())};
    };
    const auto [sum, united] = areas(result);
    EXPECT_NEAR(sum, united, 1e-6 * united);
    const RunSummary summary = run_partition(config, dir.file("out.gpkg"));
    EXPECT_LT(summary.report.overlap_area_m2, 1e-3);
    EXPECT_LT(summary.report.max_region_gap_overlap_m2, 1e-3);

    // Without the cleaning: overlaps in the micro-grids, and shrunk parcels left apart.
    PartitionConfig raw = config;
    raw.coverage_tolerance = 0;
    const City raw_city = load_city(raw);
    EXPECT_EQ(raw_city.import_report.layer("buildings")->find("units_gap_closed"), nullptr);
    const PartitionResult raw_result = partition_city(raw_city, raw);
    const auto [raw_sum, raw_united] = areas(raw_result);
    EXPECT_GT(raw_sum - raw_united, 1.0);
}

TEST(Units, ImportSuggestsUnitsModeForACoverageOnly) {
    test::TempDir dir;
    PartitionConfig config;
    config.city = parcel_file(dir, "parcels.gpkg", 900, 10, false);
    const ImportReport parcels = check_inputs(config);
    const LayerReport* buildings = parcels.layer("buildings");
    ASSERT_NE(buildings, nullptr);
    const Finding* finding = buildings->find("polygons_tile_the_ground");
    ASSERT_NE(finding, nullptr) << parcels.to_text();
    EXPECT_EQ(finding->severity, Severity::warning);
    EXPECT_CONTAINS(finding->policy, "--units areas");
    // Given either way, no suggestion.
    for (const char* units : {"buildings", "areas"}) {
        config.units = units;
        const ImportReport given = check_inputs(config);
        EXPECT_EQ(given.layer("buildings")->find("polygons_tile_the_ground"), nullptr) << units;
    }
    // Footprints of a city are no coverage; units mode on them is warned about.
    PartitionConfig sample;
    sample.city = test::synth_city_file(dir, 3'000, 1);
    const ImportReport footprints = check_inputs(sample);
    EXPECT_EQ(footprints.layer("buildings")->find("polygons_tile_the_ground"), nullptr) << footprints.to_text();
    EXPECT_EQ(footprints.layer("buildings")->find("units_not_a_coverage"), nullptr);
    sample.units = "areas";
    const Finding* misuse = check_inputs(sample).layer("buildings")->find("units_not_a_coverage");
    ASSERT_NE(misuse, nullptr);
    EXPECT_EQ(misuse->severity, Severity::warning);
    config.units = "areas";
    EXPECT_EQ(check_inputs(config).layer("buildings")->find("units_not_a_coverage"), nullptr);
}

TEST(Units, CliOptionChecked) {
    test::TempDir dir;
    const std::string parcels = parcel_file(dir, "parcels.gpkg", 400, 10, false);
    std::string output;
    EXPECT_EQ(test::run_cli("partition " + parcels + " -o " + dir.file("out.gpkg") + " --units areas -q", output, dir),
              0)
        << output;
    EXPECT_EQ(test::run_cli("partition " + parcels + " -o " + dir.file("bad.gpkg") + " --units blocks", output, dir),
              2);
    EXPECT_CONTAINS(output, "--units must be buildings or areas");
    EXPECT_EQ(test::run_cli("repartition --previous " + dir.file("out.gpkg") + " " + parcels + " -o " +
                                dir.file("rerun.gpkg") + " --units areas -q",
                            output, dir),
              0)
        << output;
    // Building points cannot be kept whole.
    data::SynthCity point_city;
    point_city.crs = "EPSG:4549";
    io::LayerData layer{"buildings",
                        io::GeometryKind::point,
                        {{"building_id", FieldType::integer}, {"households", FieldType::integer}},
                        {},
                        {}};
    geos::Context context;
    for (int i = 0; i < 30; ++i) {
        layer.geometries.push_back(
            geos::to_wkb(context, geos::point(context, {480'000.0 + 20 * (i % 6), 3'540'000.0 + 20 * (i / 6)}).get()));
        layer.rows.push_back({std::int64_t{i + 1}, std::int64_t{10}});
    }
    point_city.layers.push_back(std::move(layer));
    PartitionConfig points;
    points.city = dir.file("points.gpkg");
    data::write_city(point_city, points.city);
    points.units = "areas";
    EXPECT_CONTAINS(test::message_of<InputError>([&] { (void)run_partition(points, dir.file("points-out.gpkg")); }),
                    "--units areas");
}

}  // namespace
}  // namespace civgrid::engine
