// Rerunning a partition when the city changed (civgrid repartition): keep every previous
// micro-grid that still holds, re-partition only the zones that must change, keep codes, and
// record what changed. See algorithms/repartition.hpp for which micro-grids stay.
#pragma once

#include <civgrid/engine/pipeline.hpp>
#include <civgrid/io/layer.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace civgrid::engine {

/// A previous civgrid output, read back in the working CRS.
struct PreviousRun {
    std::string path;
    io::FeatureTable micro_grids, buildings;
    io::FeatureTable regions, grids;  ///< its `communities` (the regions it split) and `grids` layers
    io::FeatureTable worker_assignments, service_assignments;  ///< empty when the run had none
};

/// The CRS of a civgrid output (its micro_grids layer), as WKT: a rerun works in it, so kept
/// polygons come back exactly. Throws InputError when `path` is not a civgrid output.
[[nodiscard]] std::string previous_crs(const std::string& path);
[[nodiscard]] PreviousRun read_previous(const std::string& path, const std::string& crs);

struct RepartitionOptions {
    /// Micro-grid or grid ids kept whatever happens (--lock); an id the previous run does not have
    /// is a ConfigError.
    std::vector<std::string> locked;
};

/// What happened to a micro-grid between the runs.
struct MicroGridChange {
    std::string id;                      ///< its code (new, or the kept / retired one)
    std::string status;                  ///< unchanged, redrawn, split, merged, regrouped, new, retired
    std::string previous_ids, next_ids;  ///< ";"-joined codes it came from / went to
    std::int64_t households = 0, buildings = 0;
    Wkb polygon;  ///< now; the previous polygon for a retired one
};

/// One (previous micro-grid, new micro-grid) pair sharing buildings; "" for a new or removed building.
struct LineageRow {
    std::string previous_id, new_id;
    std::int64_t households = 0, buildings = 0;
};

struct Repartition {
    PartitionResult result;
    std::vector<MicroGridChange> changes;  ///< every micro-grid of the result, then the retired ones
    std::vector<LineageRow> lineage;
    std::int64_t micro_grids_kept = 0, micro_grids_redrawn = 0, micro_grids_new = 0, micro_grids_retired = 0;
    std::int64_t zones = 0;
    // Churn over every building of either run: moved (another code), new, removed.
    std::int64_t buildings_compared = 0, buildings_moved = 0, buildings_new = 0, buildings_removed = 0;
    std::int64_t households_compared = 0, households_moved = 0, households_new = 0, households_removed = 0;
    [[nodiscard]] double building_churn() const;    ///< (moved + new + removed) / all, 0-1
    [[nodiscard]] double household_churn() const;   ///< the same weighted by households
    [[nodiscard]] double micro_grid_churn() const;  ///< micro-grids not unchanged / micro-grids now
    std::vector<std::string> warnings;
};

/// Re-partitions `city` against `previous` (read in city.crs). Throws ConfigError for a lock id
/// the previous run lacks or buildings without ids.
[[nodiscard]] Repartition repartition_city(const City& city, const PreviousRun& previous, const PartitionConfig& config,
                                           const RepartitionOptions& options);

/// Worker and station assignments of the previous run that a rerun keeps where still valid.
[[nodiscard]] StaffingKeep staffing_to_keep(const PreviousRun& previous);

/// The changes and lineage layers and the run_info `repartition` section of a rerun's output, as
/// run_repartition writes them (`staffing` gives the kept worker and station counts).
[[nodiscard]] ExtraOutput repartition_output(const Repartition& changes, const std::string& previous_path,
                                             const RepartitionOptions& options, const Staffing& staffing);

/// Everything run_repartition computes before writing: the CLI writes it, Python keeps it.
struct RepartitionRun {
    PartitionConfig config;  ///< as given, with the working CRS chosen (the previous run's unless given)
    City city;
    Repartition changes;  ///< changes.result is the partition
    Staffing staffing;
    algorithms::QualityReport report;
    ExtraOutput extra;                                    ///< repartition_output(changes, ...)
    std::vector<std::pair<std::string, double>> timings;  ///< load, repartition, staffing, assess
    std::vector<std::string> warnings;                    ///< the city's, the partition's, then the rerun's
};

/// The stages of run_repartition but the writing: load (in the previous run's CRS unless config
/// names one), repartition, staff (keeping valid assignments), assess. With a control: reports
/// the stages load, repartition, staffing, assess and stops with CancelledError between them once
/// cancelled.
[[nodiscard]] RepartitionRun compute_repartition(PartitionConfig config, const std::string& previous_path,
                                                 const RepartitionOptions& options, RunControl* control = nullptr);

struct RepartitionSummary {
    RunSummary run;
    Repartition changes;
};

/// The whole job: compute_repartition, then write `output` with `changes` and `lineage` layers.
/// With a control: its stages and steps, for a progress display. With `parts`: one GeoPackage per
/// district and the index `output` instead (write_result_per_district), the parts listed there.
[[nodiscard]] RepartitionSummary run_repartition(PartitionConfig config, const std::string& previous_path,
                                                 const RepartitionOptions& options, const std::string& output,
                                                 RunControl* control = nullptr,
                                                 std::vector<OutputPart>* parts = nullptr);

}  // namespace civgrid::engine
