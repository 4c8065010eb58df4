// The configuration of a partition run: one struct shared by the CLI, Python and benchmarks.
#pragma once

#include <cstdint>
#include <string>

namespace civgrid::engine {

/// An input layer: any OGR source and layer, with an optional attribute filter.
struct LayerSource {
    std::string path;   ///< empty: the layer of the same role in PartitionConfig::city, if any
    std::string layer;  ///< empty: the role's standard name in `city`, or the file's only layer
    /// Datum of the coordinates: "" or "wgs84", "gcj02" (Amap, Tencent), "bd09" (Baidu); offset
    /// data are converted to WGS84 before reprojection (see io::ReadOptions::datum).
    std::string datum;
    /// Text encoding of a Shapefile's attributes; "" = .cpg, DBF language id, else detected.
    std::string encoding;
    [[nodiscard]] bool given() const noexcept { return !path.empty(); }
};

/// Which features of a layer are hard barriers: an OGR SQL attribute filter, "" = all of them,
/// or "none" = the layer is not a hard barrier at all.
struct BarrierRule {
    std::string filter;
    [[nodiscard]] bool disabled() const noexcept { return filter == "none"; }
};

/// One shard of a distributed run (engine/shards.hpp): the regions whose `field` equals `value`,
/// and every other layer's features whose bounding box meets the box (working CRS). Buildings,
/// workers and stations outside the shard's regions are left to the shards that hold them.
struct ShardSelection {
    std::string field;  ///< a field of the region layer (district_code, street_code, community_code)
    std::string value;
    double min_x = 0, min_y = 0, max_x = 0, max_y = 0;
    [[nodiscard]] bool given() const noexcept { return !field.empty(); }
    /// The OGR SQL attribute filter of the shard's regions: "field" = 'value'.
    [[nodiscard]] std::string filter() const;
};

struct PartitionConfig {
    /// One file holding the standard layers (buildings, roads, rivers, railways, communities,
    /// streets, districts); a LayerSource given below overrides a role.
    std::string city;
    LayerSource buildings, roads, rivers, railways, communities, streets, districts;
    /// Assign workers and utility stations when their layers are present (false: partition only).
    bool staffing = true;
    /// An unstaffed micro-grid (when workers had capacity for it) or a micro-grid no station could
    /// take is an InfeasibleError (exit code 5) instead of a reported shortfall; nothing is written.
    /// Every warning of the import report is an InputError (exit code 3).
    bool strict = false;
    /// Standards per community (reported): community workers per 10,000 residents against 18, and
    /// service-facility floor area per 100 households against 30 m2 (from `facilities`, floor_area).
    LayerSource facilities;
    /// Where mobile workers work (polygons or points with worker_id): preferred over their homes.
    LayerSource work_areas;
    std::string facility_area_field = "floor_area";
    std::string residents_field = "residents";  ///< buildings' residents; missing: households x persons_per_household
    double persons_per_household = 2.62;        ///< China's 2020 census mean household size
    /// Micro-grid workers (points: home); when present, each micro-grid gets workers (issue 4).
    LayerSource workers;
    std::string worker_id_field = "worker_id";
    std::string worker_kind_field = "kind";                 ///< "mobile" workers are not micro-grid workers
    std::string worker_capacity_field = "max_micro_grids";  ///< most micro-grids per worker; missing: 1
    /// Utility stations (points: utility, capacity in households): each micro-grid gets one per utility.
    LayerSource stations;
    std::string station_id_field = "station_id";
    std::string utility_field = "utility";
    std::string station_capacity_field = "capacity_households";
    int worker_candidates = 8;  ///< nearest workers offered to each micro-grid
    /// Workers' distances along the roads (all of the roads layer, hard and soft) instead of
    /// straight lines; needs a roads layer.
    bool network_distance = false;

    // Field names.
    std::string building_id_field = "building_id";  ///< empty or missing: the feature id is used
    std::string households_field = "households";
    std::string units_field = "units";  ///< entrances; optional
    std::string community_code_field = "community_code";
    std::string street_code_field = "street_code";
    std::string district_code_field = "district_code";
    std::string name_field = "name";

    // Barriers: roads matching `hard_roads` are hard, other roads soft (cuts prefer them).
    BarrierRule hard_roads{"class IN ('major','trunk','primary','motorway')"};
    BarrierRule hard_rivers{""};
    BarrierRule hard_railways{""};

    /// Working CRS (EPSG code, WKT or PROJ string); empty chooses a metric CRS from the data's
    /// extent (CGCS2000 3-degree Gauss-Kruger in China, UTM elsewhere).
    std::string working_crs;
    /// CRS assumed for layers that declare none; empty makes such a layer an error.
    std::string assume_crs;
    /// Coordinates in the working CRS are rounded to this grid (metres) as they are read, so the same
    /// data in any CRS (EPSG:4326, 4490, 4549, ...) gives the same micro-grids; 0 keeps them as read.
    double coordinate_grid = 0.001;

    // Import policies (see README, "Import: quirks and policies").
    /// Floor area of one dwelling in m2: buildings without households but with floors get
    /// round(floors x footprint area / dwelling_area) households. 0 = no derivation.
    double dwelling_area = 0.0;
    /// Building floors; empty = the first of floors, floor, storeys, levels, building:levels.
    std::string floors_field;
    /// More households than this in one building is absurd: counted as 0 and reported.
    std::int64_t max_building_households = 5000;

    /// The regions split: "community", "street", "district", "city" (the whole city as one
    /// region), or "" for the finest admin layer given.
    std::string region_level;
    /// What a micro-grid is made of: "buildings" (Voronoi cells of the buildings' points, cut
    /// through anything), "areas" (whole input polygons — parcels, census small areas, blocks —
    /// united, boundaries following theirs: algorithms/unit_partition.hpp), or "" = buildings, and
    /// the import report suggests areas when the building polygons form a coverage.
    std::string units;
    /// Units mode: a unit with more households than the upper bound is split into pieces of equal
    /// area (algorithms::split_unit, its households shared evenly, max(ceil(H / upper),
    /// round(H / target)) pieces) that micro-grids take like units, instead of being a flagged
    /// micro-grid of its own (--split-large-units). Its pieces' micro-grids are listed in the
    /// output's split_micro_grids.
    bool split_large_units = false;
    /// Units mode: a dirty tiling is cleaned before the partition (algorithms/coverage_clean.hpp):
    /// overlaps between units stay with the larger unit, and gaps enclosed by units at most this
    /// wide (metres) join the unit sharing most of their edge (--coverage-tolerance). 0: the units
    /// as read (gaps and overlaps stay, as do their consequences).
    double coverage_tolerance = 1.0;

    double target_households = 83.0;  ///< micro-grid size; count per community = round(H / target)
    /// A region attribute holding the number of micro-grids it wants (count mode per community);
    /// empty, or a null / non-positive value, falls back to the target.
    std::string count_field;
    std::int64_t micro_grid_count = 0;  ///< > 0: this many micro-grids for the whole city instead
    double tolerance = 0.2;             ///< balance bounds: target * (1 -/+ tolerance)
    /// Explicit balance bounds in households (0 = from the tolerance). A micro-grid outside them is
    /// flagged with the reason the data forces, or out_of_bounds.
    double min_households = 0, max_households = 0;
    /// No micro-grid below this many households unless the data forces it (like the UK census's 40
    /// for Output Areas): counts are lowered where a piece cannot give every part this many. 0 = off.
    double hard_min_households = 0;
    /// Grids (网格) of about this many households made of whole, contiguous micro-grids in each
    /// community; 0 = no grid level.
    double grid_households = 400.0;
    /// Count mode for grids: this many grids for the whole city, shared among communities by
    /// households (0 = by grid_households).
    std::int64_t grid_count = 0;
    /// A region attribute holding the number of grids it wants (0 or null: as above).
    std::string grid_count_field;
    /// Buildings with more households than this are split into pieces of at most this many
    /// households (at least one piece per unit, along the long axis), so they can be balanced.
    /// 0 = automatic: a fifth of the target, so parts can hit the target within about 10 %.
    int split_piece_households = 0;
    double soft_barrier_weight = 1.0;  ///< 0 ignores minor roads
    /// How much shorter boundaries weigh against balance when refining (0 = balance only).
    double compactness = 0.6;
    std::uint64_t seed = 0;
    int threads = 0;  ///< 0 = all cores; results are identical for any count
    /// Unset: the whole city. Set (by a distributed driver): one shard; needs working_crs.
    ShardSelection shard;
};

/// Refuses (ConfigError, exit code 2) an option outside its sane range, naming the option and the
/// range, and a hard-barrier filter that is not one expression. Every run calls it before any work.
void validate_config(const PartitionConfig& config);

/// Refuses a hard-barrier filter with ';' outside quotes or unbalanced quotes or parentheses.
void check_barrier_filter(const std::string& layer, const std::string& filter);

}  // namespace civgrid::engine
