// The seam for distributed runs: plan a city's shards, compute one shard from its own inputs,
// merge the shards into the city's result. A driver (Python's civgrid.distributed on dask) runs
// compute_shard wherever it likes, in any order: a region's micro-grids depend only on its own
// inputs and its feature id, so the merge equals compute_partition of the whole city.
#pragma once

#include <civgrid/engine/config.hpp>
#include <civgrid/engine/pipeline.hpp>

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
/// order, barriers once each; then staffing (workers and stations of the whole city, read here)
/// and the quality report, as compute_partition does. `config` is the run's (no shard).
[[nodiscard]] PartitionRun merge_shards(const PartitionConfig& config, std::vector<PartitionRun> shards,
                                        RunControl* control = nullptr);

/// A shard's result as bytes (little endian, versioned) for a driver to move between processes,
/// and back. decode_shard throws InputError on bytes that are not a shard of this version.
[[nodiscard]] std::string encode_shard(const PartitionRun& shard);
[[nodiscard]] PartitionRun decode_shard(const std::string& bytes);
/// A whole configuration as bytes, and back: for a driver in another process (the CLI's
/// --scheduler hands its parsed options to the Python driver; Python pickles a Config so).
[[nodiscard]] std::string encode_config(const PartitionConfig& config);
[[nodiscard]] PartitionConfig decode_config(const std::string& bytes);

}  // namespace civgrid::engine
