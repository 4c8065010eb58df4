// Distributed runs' seam (engine/shards.hpp): the shards of a generated city, computed alone and
// merged in any order, give compute_partition's micro-grids, codes, households and geometry.
#include <civgrid/data/changes.hpp>
#include <civgrid/data/synth.hpp>
#include <civgrid/engine/shards.hpp>
#include <civgrid/error.hpp>
#include <civgrid/io/layer.hpp>

#include "synth_file.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>

namespace civgrid::engine {
namespace {

std::string generate(const test::TempDir& dir, std::int64_t households, std::uint64_t seed) {
    return test::synth_city_file(dir, households, seed);
}

// A province of `districts` districts written into `dir`: the config that partitions it.
PartitionConfig province(const test::TempDir& dir, std::int64_t households, std::uint64_t seed, int districts) {
    data::SynthConfig synth;
    synth.households = households;
    synth.seed = seed;
    synth.districts = districts;
    PartitionConfig config;
    config.city = dir.file("province.gpkg");
    data::write_city(data::generate_city(synth), config.city);
    return config;
}

void expect_same_partition(const PartitionRun& whole, const PartitionRun& merged) {
    ASSERT_EQ(whole.result.micro_grids.size(), merged.result.micro_grids.size());
    for (std::size_t m = 0; m < whole.result.micro_grids.size(); ++m) {
        const MicroGrid& a = whole.result.micro_grids[m];
        const MicroGrid& b = merged.result.micro_grids[m];
        ASSERT_EQ(a.id, b.id) << m;
        EXPECT_EQ(a.shape.households, b.shape.households) << a.id;
        EXPECT_EQ(a.shape.polygon, b.shape.polygon) << a.id;
        EXPECT_EQ(a.buildings, b.buildings) << a.id;
        EXPECT_EQ(whole.city.regions[static_cast<std::size_t>(a.region)].code,
                  merged.city.regions[static_cast<std::size_t>(b.region)].code);
    }
    ASSERT_EQ(whole.result.grids.size(), merged.result.grids.size());
    for (std::size_t g = 0; g < whole.result.grids.size(); ++g) {
        EXPECT_EQ(whole.result.grids[g].id, merged.result.grids[g].id);
        EXPECT_EQ(whole.result.grids[g].shape.polygon, merged.result.grids[g].shape.polygon);
    }
    EXPECT_EQ(whole.city.buildings.fids, merged.city.buildings.fids);
    // Barriers each once, in the read order of one machine (the output's barriers layer).
    EXPECT_EQ(whole.city.hard_lines, merged.city.hard_lines);
    EXPECT_EQ(whole.city.hard_areas, merged.city.hard_areas);
    EXPECT_EQ(whole.city.soft_lines, merged.city.soft_lines);
    EXPECT_EQ(whole.city.hard_line_keys, merged.city.hard_line_keys);
    EXPECT_EQ(whole.result.building_grid, merged.result.building_grid);
    EXPECT_EQ(whole.result.building_split, merged.result.building_split);
    EXPECT_EQ(whole.report.micro_grids, merged.report.micro_grids);
    EXPECT_EQ(whole.report.share_within_10, merged.report.share_within_10);
    EXPECT_EQ(whole.report.best_share_within_10, merged.report.best_share_within_10);
    EXPECT_EQ(whole.report.barrier_crossings, 0);
    EXPECT_EQ(merged.report.barrier_crossings, 0);
    EXPECT_EQ(merged.report.non_contiguous, 0);
    EXPECT_LT(merged.report.max_region_gap_overlap_m2, 1.0);
}

TEST(Shards, MergedShardsEqualTheWholeCityInAnyOrder) {
    test::TempDir dir;
    PartitionConfig config;
    config.city = generate(dir, 60'000, 3);
    const PartitionRun whole = compute_partition(config);

    for (const std::string level : {"", "community"}) {
        const ShardPlan plan = plan_shards(config, level);
        EXPECT_EQ(plan.region_level, "community");
        EXPECT_EQ(plan.working_crs, whole.city.crs);
        ASSERT_GE(plan.shards.size(), 2U) << level;
        EXPECT_EQ(plan.level, level.empty() ? "street" : level);
        std::int64_t regions = 0;
        for (const Shard& shard : plan.shards) regions += shard.regions;
        EXPECT_EQ(static_cast<std::size_t>(regions), whole.city.regions.size());

        // Computed in reverse order and moved as bytes, as a cluster would.
        std::vector<PartitionRun> shards;
        for (auto shard = plan.shards.rbegin(); shard != plan.shards.rend(); ++shard)
            shards.push_back(decode_shard(encode_shard(compute_shard(shard_config(config, plan, *shard)))));
        std::size_t buildings = 0;
        for (const PartitionRun& shard : shards) {
            EXPECT_FALSE(shard.city.regions.empty());
            buildings += shard.city.buildings.size();
        }
        EXPECT_EQ(buildings, whole.city.buildings.size()) << "every building in exactly one shard";
        const PartitionRun merged = merge_shards(config, std::move(shards));
        expect_same_partition(whole, merged);
        EXPECT_TRUE(merged.staffing.present);
        EXPECT_EQ(merged.staffing.workers.assignments.size(), whole.staffing.workers.assignments.size());
    }
}

TEST(Shards, CorruptBytesAndCityWideCountsAreRefused) {
    test::TempDir dir;
    PartitionConfig config;
    config.city = generate(dir, 30'000, 1);
    const ShardPlan plan = plan_shards(config, "community");
    ASSERT_GE(plan.shards.size(), 2U);
    const std::string bytes = encode_shard(compute_shard(shard_config(config, plan, plan.shards.front())));
    EXPECT_THROW((void)decode_shard(bytes.substr(0, bytes.size() / 2)), InputError);
    EXPECT_THROW((void)decode_shard("not a shard"), InputError);
    EXPECT_THROW((void)decode_shard(bytes + "x"), InputError);
    config.micro_grid_count = 300;
    EXPECT_THROW((void)compute_shard(shard_config(config, plan, plan.shards.front())), ConfigError);
}

// A rerun's shards (each against the previous output's micro-grids of its shard), computed in
// reverse order and moved as bytes, give compute_repartition's micro-grids, changes and lineage.
TEST(Shards, MergedRerunShardsEqualTheWholeRerun) {
    test::TempDir dir;
    PartitionConfig config;
    config.city = generate(dir, 60'000, 3);
    const std::string previous = dir.file("previous.gpkg");
    (void)run_partition(config, previous);
    data::SynthConfig synth;
    synth.households = 60'000;
    synth.seed = 3;
    data::SynthCity changed = data::generate_city(synth);
    (void)data::apply_change(changed, data::parse_change("estate"), 2);
    config.city = dir.file("changed.gpkg");
    data::write_city(changed, config.city);
    const RepartitionRun whole = compute_repartition(config, previous, {});
    ASSERT_GT(whole.changes.micro_grids_kept, 0);
    ASSERT_GT(whole.changes.micro_grids_new, 0);

    PartitionConfig with_crs = config;
    with_crs.working_crs = previous_crs(previous);
    const ShardPlan plan = plan_shards(with_crs, "community");
    ASSERT_GE(plan.shards.size(), 2U);
    std::vector<RepartitionShard> shards;
    for (auto shard = plan.shards.rbegin(); shard != plan.shards.rend(); ++shard)
        shards.push_back(decode_repartition_shard(
            encode_repartition_shard(compute_repartition_shard(shard_config(with_crs, plan, *shard), previous, {}))));
    const RepartitionRun merged = merge_repartition_shards(config, previous, {}, std::move(shards));
    const Repartition& a = whole.changes;
    const Repartition& b = merged.changes;
    ASSERT_EQ(a.result.micro_grids.size(), b.result.micro_grids.size());
    for (std::size_t m = 0; m < a.result.micro_grids.size(); ++m) {
        ASSERT_EQ(a.result.micro_grids[m].id, b.result.micro_grids[m].id) << m;
        EXPECT_EQ(a.result.micro_grids[m].shape.households, b.result.micro_grids[m].shape.households);
        EXPECT_EQ(a.result.micro_grids[m].shape.polygon, b.result.micro_grids[m].shape.polygon);
    }
    ASSERT_EQ(a.changes.size(), b.changes.size());
    for (std::size_t c = 0; c < a.changes.size(); ++c) {
        EXPECT_EQ(a.changes[c].id, b.changes[c].id) << c;
        EXPECT_EQ(a.changes[c].status, b.changes[c].status) << a.changes[c].id;
        EXPECT_EQ(a.changes[c].previous_ids, b.changes[c].previous_ids) << a.changes[c].id;
        EXPECT_EQ(a.changes[c].polygon, b.changes[c].polygon) << a.changes[c].id;
    }
    ASSERT_EQ(a.lineage.size(), b.lineage.size());
    for (std::size_t l = 0; l < a.lineage.size(); ++l) {
        EXPECT_EQ(a.lineage[l].previous_id, b.lineage[l].previous_id) << l;
        EXPECT_EQ(a.lineage[l].new_id, b.lineage[l].new_id) << l;
        EXPECT_EQ(a.lineage[l].households, b.lineage[l].households) << l;
    }
    EXPECT_EQ(a.micro_grids_kept, b.micro_grids_kept);
    EXPECT_EQ(a.micro_grids_new, b.micro_grids_new);
    EXPECT_EQ(a.micro_grids_retired, b.micro_grids_retired);
    EXPECT_EQ(a.households_moved, b.households_moved);
    EXPECT_EQ(whole.report.share_within_10, merged.report.share_within_10);
    EXPECT_THROW((void)decode_repartition_shard("not a shard"), InputError);
}

// Features a load read from a role's layer: city.inputs holds (role, "file:layer (N features)...").
std::int64_t features_read(const City& city, const std::string& role) {
    for (const auto& [name, description] : city.inputs) {
        if (name != role) continue;
        const std::size_t end = description.find(" features)");
        const std::size_t open = end == std::string::npos ? end : description.rfind(" (", end);
        if (open == std::string::npos) break;
        return std::stoll(description.substr(open + 2, end - open - 2));
    }
    ADD_FAILURE() << "no input " << role;
    return -1;
}

// A shard task reads its own features, not the whole layers: its regions by the attribute filter,
// buildings (and barriers: a synthetic city's few roads cross it) by the spatial filter of its box.
TEST(Shards, EachShardReadsOnlyItsOwnFeatures) {
    test::TempDir dir;
    const PartitionConfig config = province(dir, 40'000, 4, 4);
    const City whole = load_city(config);
    const std::int64_t all_buildings = features_read(whole, "buildings"),
                       all_communities = features_read(whole, "communities");
    ASSERT_EQ(all_buildings, static_cast<std::int64_t>(whole.buildings.size()));

    const ShardPlan plan = plan_shards(config, "district");
    ASSERT_EQ(plan.shards.size(), 4U);
    std::int64_t buildings_read = 0, buildings_kept = 0, communities_read = 0;
    for (const Shard& shard : plan.shards) {
        const PartitionRun run = compute_shard(shard_config(config, plan, shard));
        const std::int64_t buildings = features_read(run.city, "buildings");
        const std::int64_t communities = features_read(run.city, "communities");
        SCOPED_TRACE(shard.selection.filter() + ": " + std::to_string(buildings) + " of " +
                     std::to_string(all_buildings) + " buildings");
        EXPECT_EQ(communities, shard.regions);  // the attribute filter: its regions only
        EXPECT_LT(buildings, all_buildings / 2);
        EXPECT_GE(buildings, static_cast<std::int64_t>(run.city.buildings.size()));
        buildings_read += buildings;
        buildings_kept += static_cast<std::int64_t>(run.city.buildings.size());
        communities_read += communities;
    }
    EXPECT_EQ(communities_read, all_communities);
    EXPECT_EQ(buildings_kept, all_buildings);          // each building in one shard
    EXPECT_LT(buildings_read, all_buildings * 3 / 2);  // boxes overlap a little, not a city each
}

// Two GeoPackages hold the same layers, row by row (run_info aside: its timings are the run's).
void expect_same_files(const std::string& expected, const std::string& actual) {
    SCOPED_TRACE(actual);
    const std::vector<std::string> layers = io::list_layers(expected);
    ASSERT_EQ(layers, io::list_layers(actual));
    for (const std::string& layer : layers) {
        if (layer == "run_info" || layer == "layer_styles") continue;
        const io::FeatureTable a = io::read_layer({expected, layer});
        const io::FeatureTable b = io::read_layer({actual, layer});
        ASSERT_EQ(a.size(), b.size()) << layer;
        EXPECT_TRUE(a.geometries == b.geometries) << layer;
        EXPECT_TRUE(a.rows == b.rows) << layer;
    }
}

// With one file per district, the client writes each district's file as its shard comes and keeps
// no building's geometry or attributes (what it holds, seen after each shard), and the files are
// write_result_per_district's of the whole city, whatever the order the shards came in.
TEST(Shards, SplitOutputIsWrittenDistrictByDistrictAsShardsCome) {
    test::TempDir dir;
    const PartitionConfig config = province(dir, 40'000, 4, 4);
    const PartitionRun whole = compute_partition(config);
    // Beside each other in two folders, so that the index's `file` names are the same.
    std::filesystem::create_directory(dir.path() / "single");
    std::filesystem::create_directory(dir.path() / "streamed");
    const std::vector<OutputPart> single =
        write_result_per_district(dir.file("single/out.gpkg"), whole.city, whole.result, whole.report, whole.config,
                                  whole.timings, &whole.staffing);
    ASSERT_EQ(single.size(), 4U);

    const ShardPlan plan = plan_shards(config, "district");
    ASSERT_EQ(plan.level, "district");
    const std::string index = dir.file("streamed/out.gpkg");
    ShardMerge merge(config, plan.level, index);
    std::size_t came = 0;
    for (std::size_t s = plan.shards.size(); s-- > 0;) {  // the last first
        const Shard& shard = plan.shards[s];
        std::vector<std::string> written =
            merge.add(decode_shard(encode_shard(compute_shard(shard_config(config, plan, shard)))), s);
        ++came;
        EXPECT_EQ(written, std::vector<std::string>{shard.selection.value});
        const ShardMerge::Held held = merge.held();
        EXPECT_EQ(held.whole_shards, 0U);
        EXPECT_EQ(held.districts_written, came);
        EXPECT_EQ(held.building_rows, 0U);
        // Written to its temporary: in place only when the run is complete.
        EXPECT_FALSE(std::filesystem::exists(dir.file("streamed/out-" + shard.selection.value + ".gpkg")));
    }
    const PartitionRun run = merge.finish();
    EXPECT_EQ(run.city.buildings.size(), 0U);  // in the districts' files
    EXPECT_EQ(run.result.building_grid, whole.result.building_grid);
    EXPECT_EQ(run.report.micro_grids, whole.report.micro_grids);
    EXPECT_EQ(run.report.share_within_10, whole.report.share_within_10);
    EXPECT_EQ(run.report.buildings_unassigned, whole.report.buildings_unassigned);
    EXPECT_EQ(run.staffing.workers.assignments.size(), whole.staffing.workers.assignments.size());
    const std::vector<OutputPart>& parts = merge.parts();
    ASSERT_EQ(parts.size(), single.size());
    for (std::size_t d = 0; d < parts.size(); ++d) {
        EXPECT_EQ(parts[d].district_code, single[d].district_code);
        EXPECT_EQ(parts[d].micro_grids, single[d].micro_grids);
        EXPECT_EQ(parts[d].buildings, single[d].buildings);
        EXPECT_EQ(parts[d].households, single[d].households);
        expect_same_files(single[d].path, parts[d].path);
    }
    expect_same_files(dir.file("single/out.gpkg"), index);
}

// Destroyed before finish (a shard failed), a streamed split output leaves no file.
TEST(Shards, AnUnfinishedSplitOutputLeavesNoFile) {
    test::TempDir dir;
    const PartitionConfig config = province(dir, 20'000, 5, 2);
    const ShardPlan plan = plan_shards(config, "district");
    ASSERT_EQ(plan.shards.size(), 2U);
    {
        ShardMerge merge(config, plan.level, dir.file("out.gpkg"));
        (void)merge.add(compute_shard(shard_config(config, plan, plan.shards.front())), 0);
        EXPECT_EQ(merge.held().districts_written, 1U);
    }
    for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
        EXPECT_EQ(entry.path().filename(), "province.gpkg");
}

}  // namespace
}  // namespace civgrid::engine
