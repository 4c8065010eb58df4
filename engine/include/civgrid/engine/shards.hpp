// The seam for distributed runs: plan a city's shards, compute one shard from its own inputs,
// merge the shards into the city's result. A driver (Python's civgrid.distributed on dask) runs
// compute_shard wherever it likes, in any order: a region's micro-grids depend only on its own
// inputs and its feature id, so the merge equals compute_partition of the whole city.
#pragma once

#include <civgrid/engine/config.hpp>
#include <civgrid/engine/pipeline.hpp>
#include <civgrid/engine/repartition.hpp>

#include <cstdint>
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
