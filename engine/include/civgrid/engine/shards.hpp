// The seam for distributed runs: plan a city's shards, compute one shard from its own inputs,
// merge the shards into the city's result. A driver (Python's civgrid.distributed on dask) runs
// compute_shard wherever it likes, in any order: a region's micro-grids depend only on its own
// inputs and its feature id, so the merge equals compute_partition of the whole city.
#pragma once

#include <civgrid/engine/config.hpp>
#include <civgrid/engine/pipeline.hpp>
#include <civgrid/engine/repartition.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace civgrid::engine {

struct Shard {
    ShardSelection selection;  ///< unset: the whole city in one shard
    std::int64_t regions = 0;  ///< regions of the region layer in it
};

struct ShardPlan {
    std::string working_crs;  ///< chosen once for every shard (as load_city would for the city)
    std::string region_level;
    std::string level;  ///< what a shard is: "district", "street", "community" or "city"
    std::vector<Shard> shards;
};

/// Reads the region layer only (not the buildings) and groups its regions into shards: by district
/// code when `level` is "district", or "" and there are at least two districts; else by street
/// code, else one community each. Every region has the key, or the next finer level is used.
/// Without an admin layer the city is one shard. Throws as load_city does.
[[nodiscard]] ShardPlan plan_shards(const PartitionConfig& config, const std::string& level = "");

/// One shard's config: `config` with the plan's working CRS and the shard's selection, and no
/// staffing (workers and stations are assigned on the merged city).
[[nodiscard]] PartitionConfig shard_config(const PartitionConfig& config, const ShardPlan& plan, const Shard& shard);

/// Load and partition of one shard (config from shard_config): its regions, the buildings they
/// hold, the barriers near them. No staffing, no quality report.
[[nodiscard]] PartitionRun compute_shard(const PartitionConfig& shard_config, RunControl* control = nullptr);

/// The city from its shards, in any order: regions in feature-id order, buildings in feature-id
/// order, barriers once each; then --strict on the merged import report (the shards' and the
/// staffing layers': the single machine's InputError), staffing (workers and stations of the whole
/// city, read here) and the quality report, as compute_partition does. `config` is the run's (no shard).
[[nodiscard]] PartitionRun merge_shards(const PartitionConfig& config, std::vector<PartitionRun> shards,
                                        RunControl* control = nullptr);

/// The merge of a run's shards as they arrive, for a driver that receives them one at a time: it
/// holds what the rest of the run needs and no more, so a client's memory is not the province's.
///
/// Without a split output it keeps each shard decoded (the driver drops the bytes) and finish()
/// is merge_shards. With a split output (`split_index`, the index's path) and district shards,
/// a district's shard is written to its own file as soon as it comes (micro_grids, grids and
/// buildings, the rows write_result_per_district gives it), and only what staffing, the quality
/// report and the remaining layers need is kept: regions, micro-grids and grids with their
/// polygons, barriers, the import report, and per building its feature id, point, households,
/// units, residents, region and micro-grid (not its geometry, attributes, note or split). finish()
/// then merges those in feature-id order, staffs and assesses the whole city as merge_shards does,
/// writes each district's remaining layers (communities, staffing, run_info) and the index, and
/// renames every file into place: the files of write_result_per_district on the merged run,
/// whatever the shards' order. With shards finer than districts (a city of one district, or a
/// level forced), the split output is written by write_result_per_district after merge_shards.
/// Destroyed before finish(), it leaves no file.
class ShardMerge {
public:
    /// `config` is the run's (no shard); `level` the plan's (ShardPlan::level); `more_inputs` are
    /// files the outputs must not be (a rerun's previous output). The index path is checked and
    /// reserved here, before any shard.
    ShardMerge(const PartitionConfig& config, std::string level, std::string split_index = {},
               std::vector<io::NamedSource> more_inputs = {});
    ~ShardMerge();
    ShardMerge(const ShardMerge&) = delete;
    ShardMerge& operator=(const ShardMerge&) = delete;

    /// One shard (decode_shard's), in any order; `position` is its place in the plan (the merge
    /// takes the run-wide facts, e.g. run_info's inputs, from the first). Returns the districts
    /// written by this call.
    std::vector<std::string> add(PartitionRun shard, std::size_t position, RunControl* control = nullptr);

    /// What it holds now: shards kept whole (not yet written), districts written, and buildings
    /// whose geometry and attributes it holds.
    struct Held {
        std::size_t whole_shards = 0, districts_written = 0, building_rows = 0;
    };
    [[nodiscard]] Held held() const;

    /// The merged run (with a streamed split output: without the buildings' geometries and
    /// attributes, which are in the districts' files; city.buildings is then empty, the
    /// per-building arrays kept), staffed and assessed; the split output written and committed.
    [[nodiscard]] PartitionRun finish(RunControl* control = nullptr);
    /// The districts' files of a split output, in district-code order, once finish() has run.
    [[nodiscard]] const std::vector<OutputPart>& parts() const noexcept { return parts_; }

private:
    struct Files;
    PartitionConfig config_;
    std::string level_, split_index_;
    std::vector<io::NamedSource> more_inputs_;
    bool streamed_ = false;
    std::vector<PartitionRun> shards_;    ///< whole, or (streamed) what finish() needs of each
    std::vector<std::size_t> positions_;  ///< of shards_ in the plan
    std::unique_ptr<Files> files_;
    std::size_t written_ = 0;
    std::vector<OutputPart> parts_;
};

/// One shard of a rerun (civgrid repartition): its partition as compute_shard gives it, what
/// changed (changes.result is empty: the partition is `run.result`), and the previous feature id
/// of each retired micro-grid, so that the merge lists them in the previous run's order.
struct RepartitionShard {
    PartitionRun run;
    Repartition changes;
    std::vector<std::int64_t> retired_fids;
    std::string name;  ///< the shard's selection ("district_code = 320102"), for messages
    /// Ids of the buildings new in the shard and of those gone from it: one in both lists of two
    /// shards moved between them, which the merge refuses (one rerun would count it as moved).
    std::vector<std::string> new_buildings, removed_buildings;
    std::int64_t previous_micro_grids = 0;  ///< the previous run's micro-grids in the shard
};

/// The previous run restricted to one shard: its micro-grids, grids and regions whose
/// `selection.field` is `selection.value`, the buildings of those micro-grids; no assignments
/// (kept on the merged city). Throws InputError when the previous output lacks the field.
[[nodiscard]] PreviousRun previous_of_shard(PreviousRun previous, const ShardSelection& selection);

/// Load and rerun of one shard (config from shard_config, working CRS the previous run's): the
/// shard's city against previous_of_shard, locks restricted to the shard's ids. A rerun's zones
/// nest in communities, so a shard's micro-grids, codes and lineage depend on its own data only.
/// No staffing, no quality report.
[[nodiscard]] RepartitionShard compute_repartition_shard(const PartitionConfig& shard_config,
                                                         const std::string& previous_path,
                                                         const RepartitionOptions& options,
                                                         RunControl* control = nullptr);

/// The rerun of the city from its shards, in any order, as compute_repartition gives it: checks
/// the locks against the whole previous run; throws ConfigError, naming the building and both
/// shards, when a building moved between shards (use a coarser shard level or one machine), and
/// when previous micro-grids lie in no shard (their region is gone); merges as merge_shards does (changes in the merged
/// micro-grids' order, then the retired ones in the previous run's order; lineage in its order;
/// counts added), then staffs keeping the previous run's valid assignments and assesses.
[[nodiscard]] RepartitionRun merge_repartition_shards(const PartitionConfig& config, const std::string& previous_path,
                                                      const RepartitionOptions& options,
                                                      std::vector<RepartitionShard> shards,
                                                      RunControl* control = nullptr);

/// A shard's result as bytes (little endian, versioned) for a driver to move between processes,
/// and back. decode_shard throws InputError on bytes that are not a shard of this version.
[[nodiscard]] std::string encode_shard(const PartitionRun& shard);
[[nodiscard]] PartitionRun decode_shard(const std::string& bytes);
[[nodiscard]] std::string encode_repartition_shard(const RepartitionShard& shard);
[[nodiscard]] RepartitionShard decode_repartition_shard(const std::string& bytes);
/// A whole configuration as bytes, and back: for a driver in another process (the CLI's
/// --scheduler hands its parsed options to the Python driver; Python pickles a Config so).
[[nodiscard]] std::string encode_config(const PartitionConfig& config);
[[nodiscard]] PartitionConfig decode_config(const std::string& bytes);

}  // namespace civgrid::engine
