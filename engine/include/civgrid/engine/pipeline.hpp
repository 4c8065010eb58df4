// The partition pipeline, as one call (run_partition) and as its stages, for the CLI, the Python
// module, the benchmarks and notebooks. Geometry is WKB in the working CRS, metres.
#pragma once

#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/quality.hpp>
#include <civgrid/algorithms/region_partition.hpp>
#include <civgrid/algorithms/staffing.hpp>
#include <civgrid/algorithms/stations.hpp>
#include <civgrid/diagnostics.hpp>
#include <civgrid/engine/config.hpp>
#include <civgrid/engine/run_control.hpp>
#include <civgrid/io/layer.hpp>
#include <civgrid/io/output_file.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace civgrid::engine {

/// A region that is split into micro-grids: a community (or street, district, the whole city).
struct Region {
    std::string code;  ///< community code (or street / district code); "" for the city
    std::string name;
    std::string street_code, district_code;
    Wkb boundary;
    std::int64_t feature_id = -1;  ///< feature id in its input layer
    int requested_count = 0;       ///< micro-grids asked for by the count field; 0 = by the target
    int requested_grids = 0;       ///< grids asked for by the grid count field; 0 = by size
};

/// Everything read from the inputs, reprojected to the working CRS.
struct City {
    std::string crs;           ///< working CRS (as given to io, e.g. "EPSG:4549")
    std::string region_level;  ///< "community", "street", "district" or "city"
    std::vector<Region> regions;
    io::FeatureTable buildings;                     ///< as read, all attributes kept for the output
    std::vector<std::int64_t> building_households;  ///< per building (invalid values become 0, see warnings)
    std::vector<int> building_units;                ///< per building, >= 1
    std::vector<Point> building_points;             ///< one point inside each building
    /// Per building: the first region holding its point, -1 outside all (load_city finds them while
    /// checking; empty = not known, region_problems then locates the buildings itself).
    std::vector<int> building_region;
    std::vector<Wkb> hard_lines, hard_areas, soft_lines;
    std::vector<Wkb> road_lines;  ///< every road, hard and soft (kept only for network distances)
    /// Where each barrier above comes from in the read order (its layer, the hard or soft pass, its
    /// feature id; increasing as load_city adds them): a merge of shards puts them back in it.
    std::vector<std::int64_t> hard_line_keys, hard_area_keys, soft_line_keys, road_line_keys;
    io::FeatureTable workers;                ///< micro-grid and mobile workers, when given
    std::vector<Point> worker_points;        ///< each worker's home
    std::vector<double> building_residents;  ///< per building: its field, or households x persons per household
    io::FeatureTable facilities;             ///< service facilities (floor_area), when given
    io::FeatureTable work_areas;             ///< mobile workers' work areas (worker_id), when given
    std::vector<Point> work_area_points;
    std::vector<Point> facility_points;
    io::FeatureTable stations;  ///< utility stations, when given
    std::vector<Point> station_points;
    std::vector<std::string> warnings;  ///< data problems found while loading
    ImportReport import_report;         ///< per layer: facts and what was repaired, dropped, derived (ids)
    /// Per building: what import did to it ("dropped: duplicate of 12", "households derived"), or "".
    std::vector<std::string> building_notes;
    std::vector<std::pair<std::string, std::string>> inputs;  ///< (role, "file:layer (N features)")
};

/// Reads and reprojects every input layer named by the config, repairing what it can by the
/// documented policies and recording everything in City::import_report. Throws ConfigError,
/// InputError, IoError with file / layer / feature / field in the message.
[[nodiscard]] City load_city(const PartitionConfig& config);

/// `civgrid check`: loads the inputs and returns the import report, without partitioning.
[[nodiscard]] ImportReport check_inputs(const PartitionConfig& config);

/// Under --strict, throws InputError listing the report's warnings when it has any.
void enforce_strict(const ImportReport& report, const PartitionConfig& config);
/// Reads the staffing layers named by the config (workers, stations, facilities, work areas) into
/// `city`, replacing those it holds, reprojected to city.crs: to staff a partition again with
/// other workers or stations (Python's civgrid.assign).
void load_staff_layers(City& city, const PartitionConfig& config);

struct MicroGrid {
    /// Community code + sequence, numbered in rows north to south, west to east; with grids,
    /// community code + grid sequence + sequence in the grid.
    std::string id;
    int region = 0;  ///< index into City::regions
    int grid = -1;   ///< index into PartitionResult::grids; -1 without a grid level
    algorithms::MicroGridShape shape;
    std::int64_t buildings = 0;
};

/// A grid (网格): whole, contiguous micro-grids of one community.
struct Grid {
    std::string id;  ///< community code + grid sequence
    int region = 0;
    algorithms::GridShape shape;
    std::int64_t buildings = 0;
};

struct RegionSummary {
    std::int64_t households = 0, buildings = 0;
    int requested = 0, micro_grids = 0, grids = 0, pieces = 0, faces = 0;
    double target = 0;  ///< micro-grid size aimed at in this region
    /// At most this many of its micro-grids could be within +-10 % of `target` with the same
    /// count, nested and barrier-respecting, each site (building, piece of a split tower, unit in
    /// units mode) whole in one micro-grid (algorithms::best_within_whole); -1 before partitioning.
    int best_within_10 = -1;
    /// The same for plans that keep every micro-grid within the balance bounds (--tolerance,
    /// --min/--max-households) where its piece allows (algorithms::best_within_whole_bounded).
    int best_within_10_in_bounds = -1;
};

struct PartitionResult {
    std::vector<MicroGrid> micro_grids;                  ///< ordered by region, then sequence
    std::vector<Grid> grids;                             ///< ordered by region, then sequence; empty without grids
    std::vector<int> building_grid;                      ///< per building: index into micro_grids, -1 when none
    std::vector<std::string> building_split;             ///< per building: "id1;id2" when split across micro-grids
    std::vector<std::string> building_split_households;  ///< per building: "40;60", its households in each
    std::vector<int> building_region;                    ///< per building: index into City::regions, -1 outside all
    std::vector<RegionSummary> regions;
    std::int64_t requested = 0;
    std::vector<std::string> warnings;
};

/// What partition_city solves before splitting: each region's problem as the algorithms see it
/// (sites with split buildings, nearby barriers, requested count, seed, options), in City::regions
/// order, and the buildings' regions and region totals in `result`. Benchmarks and the METIS
/// comparison partition these same inputs.
struct RegionProblems {
    std::vector<algorithms::RegionInput> inputs;
    std::vector<geos::Envelope> region_envelopes;
    PartitionResult result;  ///< building_region, regions (households, buildings, requested), requested, warnings
};
[[nodiscard]] RegionProblems region_problems(const City& city, const PartitionConfig& config);

/// Splits every region into micro-grids, regions in parallel (TBB). Identical for any thread count.
/// With a control: reports each region done, and stops with CancelledError once cancelled.
[[nodiscard]] PartitionResult partition_city(const City& city, const PartitionConfig& config,
                                             RunControl* control = nullptr);

/// Workers for the micro-grids (algorithms::assign_workers on the city's workers, decomposed by
/// street). Empty when the city has no workers layer.
struct Staffing {
    bool present = false;
    std::vector<std::uint32_t> worker_rows;  ///< per solver worker: its row in City::workers
    algorithms::StaffingResult workers;      ///< assignments index worker_rows and PartitionResult::micro_grids
    std::vector<std::uint32_t> mobile_rows;  ///< per mobile solver worker: its row in City::workers
    /// Mobile workers to grids (assignments index mobile_rows and PartitionResult::grids; "unstaffed"
    /// are grids below their household share).
    algorithms::StaffingResult mobile;
    std::int64_t micro_grid_workers = 0, mobile_workers = 0;
    /// Per utility (electricity, water, ...): its stations (rows in City::stations) and which
    /// serves each micro-grid.
    struct Utility {
        std::string name;
        std::vector<std::uint32_t> station_rows;
        std::vector<std::int64_t> capacity;  ///< per station, households
        algorithms::StationResult result;
        std::int64_t kept = 0;  ///< micro-grids that kept their station from the previous run
    };
    std::vector<Utility> utilities;
    double seconds = 0;
};
/// Assignments a rerun keeps from the previous run where still valid (the worker or station still
/// exists, with room), by id; everything else is solved around them.
struct StaffingKeep {
    std::map<std::string, std::vector<std::string>> micro_grid_workers;   ///< micro-grid id -> worker ids
    std::map<std::string, std::vector<std::string>> grid_mobile_workers;  ///< grid id -> mobile worker ids
    std::map<std::pair<std::string, std::string>, std::string> stations;  ///< (utility, micro-grid id) -> station id
};
[[nodiscard]] Staffing assign_staff(const City& city, const PartitionResult& result, const PartitionConfig& config,
                                    const StaffingKeep* keep = nullptr);

/// The micro-grid size deviations are measured against: the target, or in count mode the city's
/// households divided by the count.
[[nodiscard]] double effective_target(const PartitionResult& result, const PartitionConfig& config);

/// The quality report of a result, computed from its geometry.
[[nodiscard]] algorithms::QualityReport assess(const City& city, const PartitionResult& result,
                                               const PartitionConfig& config);

/// Layers and run_info entries a caller adds to the output (a rerun's changes and lineage).
struct ExtraOutput {
    std::vector<io::LayerData> layers;
    std::vector<std::array<std::string, 3>> info;  ///< (section, key, value)
};

/// Receives the layers of a result one at a time: a GeoPackage writer, or Python's GeoDataFrames.
struct LayerSink {
    std::function<void(const io::LayerData&)> add_layer;
};

/// The standards per region: community workers per 10,000 residents (at least 18) and
/// service-facility floor area per 100 households (at least 30 m2), as the communities layer and
/// run_info report them.
struct RegionStandards {
    static constexpr double kWorkersPer10k = 18.0, kFacilityM2Per100 = 30.0;
    std::vector<double> residents, workers_per_10k, facility_m2_per_100;  ///< per region
    std::vector<std::int64_t> workers;  ///< distinct micro-grid workers on each region's micro-grids
    bool staffed = false, facilities = false;
    std::int64_t with_residents = 0, meeting_workers = 0, meeting_facilities = 0;
};
[[nodiscard]] RegionStandards standards_of(const City& city, const PartitionResult& result, const Staffing* staffing,
                                           const PartitionConfig& config);

/// The layers write_result writes (micro_grids, grids, buildings, barriers, communities, the
/// staffing layers, a rerun's extra layers, run_info), in that order, each handed to `sink`: the
/// three calls below, one after another.
void result_layers(const City& city, const PartitionResult& result, const algorithms::QualityReport& report,
                   const PartitionConfig& config, const std::vector<std::pair<std::string, double>>& timings,
                   const Staffing* staffing, const LayerSink& sink, const ExtraOutput* extra = nullptr);
/// The layers that need neither the staffing nor the quality report: micro_grids, grids, buildings,
/// barriers.
void partition_layers(const City& city, const PartitionResult& result, const PartitionConfig& config,
                      const LayerSink& sink);
/// The last of partition_layers alone: the barriers layer (the hard barrier lines used, barrier
/// areas' outlines as lines).
[[nodiscard]] io::LayerData barriers_layer(const City& city);
/// The layers that need the staffing (null: none): the region layer (communities, or the level
/// partitioned) with its standards, and the staffing layers when there are workers or stations.
void staffed_layers(const City& city, const PartitionResult& result, const PartitionConfig& config,
                    const Staffing* staffing, const RegionStandards& standards, const LayerSink& sink);
/// The layers that need the quality report: a rerun's extra layers, then run_info.
void closing_layers(const City& city, const PartitionResult& result, const algorithms::QualityReport& report,
                    const PartitionConfig& config, const std::vector<std::pair<std::string, double>>& timings,
                    const Staffing* staffing, const RegionStandards& standards, const LayerSink& sink,
                    const ExtraOutput* extra = nullptr);

/// The files a run reads, by role ("city", "buildings", ..., "facilities"), for
/// io::check_output_path: an output that is one of them is refused before any work.
[[nodiscard]] std::vector<io::NamedSource> input_sources(const PartitionConfig& config);

/// Writes micro_grids, buildings, communities, barriers and run_info to a GeoPackage, complete and
/// closed, into the temporary file of `output`; the caller then calls output.commit() to put it in
/// place (Python does so only once no Ctrl-C came).
/// With a control: stops with CancelledError between layers once cancelled, leaving no file.
void write_result(io::OutputReservation& output, const City& city, const PartitionResult& result,
                  const algorithms::QualityReport& report, const PartitionConfig& config,
                  const std::vector<std::pair<std::string, double>>& timings, const Staffing* staffing = nullptr,
                  const ExtraOutput* extra = nullptr, RunControl* control = nullptr);
/// As above, reserving `path` itself: refused when it is one of `config`'s inputs or not a
/// regular file (io::check_output_path), or when another run writes it.
void write_result(const std::string& path, const City& city, const PartitionResult& result,
                  const algorithms::QualityReport& report, const PartitionConfig& config,
                  const std::vector<std::pair<std::string, double>>& timings, const Staffing* staffing = nullptr,
                  const ExtraOutput* extra = nullptr, RunControl* control = nullptr);

/// One district's file of a split output (write_result_per_district).
struct OutputPart {
    std::string district_code;
    std::string path;  ///< beside the index: the index's stem, '-', the code (unsafe characters as '_'), .gpkg
    std::int64_t micro_grids = 0, grids = 0, buildings = 0, households = 0;
};

/// The output as one GeoPackage per district plus an index, for runs too large for one file. The
/// layers are write_result's; each row goes to the file of its district: its `district_code`, else
/// the district of its `community_code` (the region's), else of its `micro_grid_id`, else of its
/// `grid_id` (a mobile worker's assignment). Rows of no
/// district (barriers, workers and stations, which serve across districts, buildings outside every
/// region) go to the index, with the `parts` layer: a row per district with its file (a name beside
/// the index), its counts and the box of its micro-grids (working CRS). run_info goes to every file
/// (in a district's, quality.requested is its own, for civgrid report).
/// So the rows of the parts and the index together are write_result's, each once. Every file is
/// written to its temporary file first and renamed only when all are complete (the parts, then the
/// index), so a failure leaves none of them. Refused (ConfigError) when a micro-grid has no
/// district code or two codes make one file name; each file as write_result refuses its path,
/// and when it is one of `more_inputs` (a rerun's previous output). Returns the parts in
/// district-code order.
std::vector<OutputPart> write_result_per_district(const std::string& index_path, const City& city,
                                                  const PartitionResult& result,
                                                  const algorithms::QualityReport& report,
                                                  const PartitionConfig& config,
                                                  const std::vector<std::pair<std::string, double>>& timings,
                                                  const Staffing* staffing = nullptr,
                                                  const ExtraOutput* extra = nullptr, RunControl* control = nullptr,
                                                  const std::vector<io::NamedSource>& more_inputs = {});

struct RunSummary {
    algorithms::QualityReport report;
    /// (stage, seconds), one after another: load, partition, assess_and_write (the quality report
    /// is computed while the layers are written).
    std::vector<std::pair<std::string, double>> timings;
    /// The same stages' CPU seconds (all threads of the process): above the wall time when both
    /// cores work, below it when one idles.
    std::vector<std::pair<std::string, double>> cpu_timings;
    double assess_seconds = 0;  ///< the report alone, overlapping the writing
    /// Inside the overlapped stage, each side's work alone (wall seconds): staffing then the report
    /// on one thread, the layers written on the other. The stage lasts about the longer side.
    double staffing_seconds = 0;
    double writing_seconds = 0;  ///< the layers before run_info (run_info and the commit close the stage)
    Staffing staffing;
    std::vector<std::string> warnings;  ///< the import's, the partition's, and temporaries removed
    std::string crs;
};

/// Everything a partition computes before it is written: the CLI writes it, Python keeps it.
struct PartitionRun {
    PartitionConfig config;
    City city;
    PartitionResult result;
    Staffing staffing;  ///< present == false and no utilities when the city has neither layer
    algorithms::QualityReport report;
    /// (stage, seconds), one after another: load, partition, then staffing and assess, or the
    /// Alongside stage that overlaps them.
    std::vector<std::pair<std::string, double>> timings;
    std::vector<std::pair<std::string, double>> cpu_timings;  ///< the same stages' process CPU seconds
    double assess_seconds = 0;                                ///< the quality report alone
    double staffing_seconds = 0;                              ///< assigning workers and utilities alone
    double writing_seconds = 0;         ///< the Alongside caller's work (the CLI's layers), 0 without one
    std::vector<std::string> warnings;  ///< the import's, then the partition's
};

/// Work a caller does on its own thread while compute_partition staffs, then assesses, on a second
/// thread: the CLI writes the layers that need neither, then those that need the staffing.
struct Alongside {
    std::string stage;  ///< the overlapped stage, in the timings and the progress display
    std::function<void(const City&, const PartitionResult&)> while_staffing;
    std::function<void(const City&, const PartitionResult&, const Staffing&)> while_assessing;
    /// Called only when the caller's thread would otherwise wait for the staffing or the report
    /// (the CLI writes its packed spatial indexes then); may be empty.
    std::function<void()> while_waiting;
};

/// The partition job but the writing, as named stages: load (then --strict), partition_city,
/// assign_staff, assess. The CLI, Python and every other driver call this. With `alongside`, the
/// last two run on a second thread beside its work. With a control: the stages for a progress
/// display, and a CancelledError between stages (and between regions) once cancelled.
/// Throws what the stages throw (ConfigError, InputError, IoError) with file, layer and feature.
[[nodiscard]] PartitionRun compute_partition(PartitionConfig config, RunControl* control = nullptr,
                                             const Alongside* alongside = nullptr);

/// The whole job: compute_partition, writing `output` alongside staffing and assessment. `output`
/// is checked against the inputs and reserved before anything is read (see io::check_output_path,
/// io::OutputReservation).
/// With a control: the stages (load, partition with a step per region, assess_and_write with a
/// step per layer) for a progress display; a cancel stops it between regions.
[[nodiscard]] RunSummary run_partition(const PartitionConfig& config, const std::string& output,
                                       RunControl* control = nullptr);

/// run_partition writing one GeoPackage per district and the index `index`
/// (write_result_per_district) after the run instead of one file alongside it; `parts` receives
/// the districts' files. `index` is checked against the inputs before any work.
[[nodiscard]] RunSummary run_partition_per_district(const PartitionConfig& config, const std::string& index,
                                                    std::vector<OutputPart>& parts, RunControl* control = nullptr);

/// Recomputes the quality report of an output GeoPackage written by civgrid.
[[nodiscard]] algorithms::QualityReport report_file(const std::string& path, int threads = 0);

/// Writes the self-contained HTML report (io/html_report.hpp) of the output GeoPackage `path` to
/// `html`: the micro-grids and communities reprojected to lon/lat, the quality report recomputed by
/// report_file, per-community figures from the micro-grids. `html` is refused when it is `path` or
/// one of `inputs` (io::check_output_path) and written atomically (io::OutputReservation). Returns
/// the quality report. `basemap`: a tile server's URL template drawn under the map (checked by
/// io::check_basemap_template, ConfigError before anything is read); empty: none, nothing fetched.
/// Throws InputError / IoError naming the file and layer.
algorithms::QualityReport report_html_file(const std::string& path, const std::string& html, int threads = 0,
                                           const std::vector<io::NamedSource>& inputs = {},
                                           const std::string& basemap = {});

}  // namespace civgrid::engine
