// Partitioning one region (a community, or whatever region the engine splits) into contiguous,
// household-balanced micro-grids whose polygons tile the region exactly.
//
// How: the region is cut into faces by the hard barriers (polygonize of boundary + barrier lines).
// Inside each face, the Voronoi diagram of the sites is clipped to the face; all this linework is
// noded and polygonized ONCE, so every atom shares exact edges with its neighbours (a valid
// coverage: polygons are unions of atoms, with no gap or overlap). The adjacency graph is the dual
// of that coverage restricted to a face, so a connected set of graph nodes is a single polygon.
// Each connected component of the graph (a "piece") is split into its share of micro-grids by
// recursive bisection on random spanning trees, then refined by boundary moves that keep every
// part connected. Land without households (parks, water, slivers) joins the neighbour with which
// it shares the longest boundary, preferring its own face.
//
// Units: metres in the working CRS. Complexity: O(n log n) in sites per region.
#pragma once

#include <civgrid/algorithms/graph_partition.hpp>
#include <civgrid/types.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace civgrid::algorithms {

/// An indivisible group of households at one location: a building, or part of a large building
/// split by units. Sites with identical coordinates are merged into one graph node.
struct Site {
    Point location;               ///< inside the region, working CRS
    std::int64_t households = 0;  ///< >= 0
    std::uint32_t building = 0;   ///< caller's building index (several sites may share one)
};

struct PartitionOptions {
    double target_households = 83.0;  ///< ideal micro-grid size
    double tolerance = 0.2;           ///< bounds target * (1 -/+ tolerance), unless given below
    double min_households = 0;        ///< explicit lower bound (0 = from the tolerance)
    double max_households = 0;        ///< explicit upper bound (0 = from the tolerance)
    /// No part below this unless its piece is too small for one (0 = off): a piece gets at most
    /// households / hard minimum parts, and refinement treats falling below it as the worst case.
    double hard_min_households = 0;
    /// > 0: first split each piece into grids of about this many households, then each grid into
    /// its share of the micro-grids, so micro-grids nest in contiguous grids.
    double grid_households = 0;
    /// > 0: this many grids in the region instead (shared among its pieces by households).
    int grid_count = 0;
    double soft_barrier_weight = 1.0;  ///< how strongly cuts prefer to follow soft barriers (0 = ignore)
    double compactness = 0.6;          ///< GraphPartitionOptions::compactness
    int spanning_tree_trials = 4;      ///< candidate trees per bisection (the parts are regrown after)
    int refinement_passes = 12;        ///< boundary-move passes after bisection

    [[nodiscard]] double lower() const noexcept {
        return min_households > 0 ? min_households : target_households * (1.0 - tolerance);
    }
    [[nodiscard]] double upper() const noexcept {
        return max_households > 0 ? max_households : target_households * (1.0 + tolerance);
    }
};

struct RegionInput {
    Wkb boundary;  ///< Polygon or MultiPolygon of the region
    std::vector<Site> sites;
    std::vector<Wkb> hard_lines;  ///< barrier lines never crossed (major roads, railways, river lines)
    std::vector<Wkb> hard_areas;  ///< barrier polygons never crossed (rivers, lakes)
    std::vector<Wkb> soft_lines;  ///< lines the cuts prefer to follow (minor roads)
    /// Micro-grids wanted in the whole region; raised to the number of pieces when barriers cut
    /// the region into more pieces with households than that.
    int micro_grid_count = 1;
    std::uint64_t seed = 0;
    PartitionOptions options;
    /// Units mode (unit_partition.hpp): per site, the polygon it stands for, kept whole in one
    /// micro-grid; empty in the usual mode (Voronoi cells of the sites).
    std::vector<Wkb> site_areas;
};

/// Why a micro-grid is outside the balance bounds or otherwise special; empty when it is not.
enum class Flag : std::uint8_t {
    none = 0,
    forced_by_boundaries = 1,  ///< its piece (bounded by barriers and the region) cannot be split within the bounds
    large_building = 2,        ///< holds a site larger than the upper bound
    out_of_bounds = 4,         ///< the partitioner could not reach the bounds
    no_households = 8,         ///< the region has no households at all
    multipart = 16,            ///< the polygon has several parts (data forces it)
};

struct MicroGridShape {
    Wkb polygon;  ///< Polygon (MultiPolygon only when flagged multipart)
    std::int64_t households = 0;
    double target = 0;       ///< ideal size in its piece (piece households / piece parts)
    int piece = 0;           ///< index of the barrier-bounded piece it lies in
    std::uint8_t flags = 0;  ///< bitwise OR of Flag
    Point label_point;       ///< a point inside the polygon (for numbering and labels)
    int grid = -1;           ///< index into RegionResult::grids; -1 without a grid level
};

/// A grid (网格): whole, contiguous micro-grids of one piece.
struct GridShape {
    Wkb polygon;
    std::int64_t households = 0;
    int micro_grids = 0;
    int piece = 0;
    double target = 0;  ///< ideal grid size in its piece
    bool multipart = false;
    Point label_point;
};

struct RegionResult {
    std::vector<MicroGridShape> micro_grids;
    std::vector<GridShape> grids;      ///< empty without a grid level
    std::vector<int> site_micro_grid;  ///< per input site: index into micro_grids
    int requested = 0;                 ///< micro_grid_count as given
    int pieces = 0;                    ///< pieces with households
    int faces = 0;                     ///< faces after cutting by hard barriers
};

struct CellPartition;

/// A region cut into atoms — the Voronoi cells of its sites clipped by the region and the hard
/// barriers, an exact coverage — with the adjacency graph of the atoms that hold sites. It is the
/// common input of every partitioning method (civgrid's, or METIS's in the comparison bench), and
/// turns any partition of its graph into micro-grid polygons. Holds its own GEOS context.
class RegionCells {
public:
    /// Steps 1-6 of partition_region. Throws InputError on an unusable boundary.
    explicit RegionCells(const RegionInput& input);
    /// Units mode: the atoms are the sites' own polygons (input.site_areas), one vertex each, kept
    /// whole; neighbours as unit_adjacency finds them with `gap` and `min_contact` (metres), less
    /// the pairs a hard barrier separates. A unit above the upper bound is a piece of its own with
    /// one micro-grid. Defined in unit_partition.cpp. Throws InputError when site_areas and sites
    /// differ in number.
    [[nodiscard]] static RegionCells from_units(const RegionInput& input, double gap, double min_contact);
    RegionCells(RegionCells&&) noexcept;
    RegionCells& operator=(RegionCells&&) noexcept;
    ~RegionCells();

    /// Vertices: atoms holding sites (weight = households, location = a site). Edges join
    /// neighbouring atoms of one face whose sites no hard barrier separates.
    [[nodiscard]] const WeightedGraph& graph() const noexcept;
    /// Per vertex: its piece (connected component with households), or -1.
    [[nodiscard]] const std::vector<int>& vertex_piece() const noexcept;
    [[nodiscard]] const std::vector<double>& piece_households() const noexcept;
    /// Micro-grids each piece gets (the requested count shared by households, at least one).
    [[nodiscard]] const std::vector<int>& piece_counts() const noexcept;
    [[nodiscard]] int faces() const noexcept;
    [[nodiscard]] std::size_t atom_count() const noexcept;

    /// Micro-grids from a partition of the graph's vertices into parts 0 .. part_count-1 (-1:
    /// none; such vertices join a neighbour as land without households does). Parts may be empty
    /// or disconnected — other methods' are — and the result shows it (empty polygon, multipart).
    [[nodiscard]] RegionResult assemble(const std::vector<int>& vertex_part, int part_count) const;
    /// The same, with grids when the partition has them.
    [[nodiscard]] RegionResult assemble(const CellPartition& partition) const;

private:
    struct State;  // algorithms/src/region_cells_state.hpp
    RegionCells();
    std::unique_ptr<State> state_;
};

/// A partition of a RegionCells graph: micro-grid per vertex, and their grids when asked for.
struct CellPartition {
    std::vector<int> vertex_part;  ///< per vertex: micro-grid 0 .. part_count-1, or -1
    int part_count = 0;
    std::vector<int> part_grid;  ///< per micro-grid: grid 0 .. grid_count-1; empty without grids
    int grid_count = 0;
};

/// civgrid's partition of the cells: each piece split into its count by partition_connected_graph
/// (first into grids when options.grid_households > 0), parts numbered piece by piece.
[[nodiscard]] CellPartition partition_cells(const RegionCells& cells, std::uint64_t seed,
                                            const PartitionOptions& options);
/// The micro-grid level only: the part of each vertex; *part_count gets their number.
[[nodiscard]] std::vector<int> partition_cells(const RegionCells& cells, std::uint64_t seed,
                                               const PartitionOptions& options, int* part_count);

/// Partitions one region (RegionCells, partition_cells, assemble). Deterministic for a given input and seed; uses its
/// own GEOS context, so regions can run in parallel. Throws InputError on an unusable boundary.
[[nodiscard]] RegionResult partition_region(const RegionInput& input);

/// Splits a building footprint into `count` site locations spread along its long axis, each
/// inside the footprint where the shape allows (used for buildings larger than a micro-grid).
[[nodiscard]] std::vector<Point> split_locations(const Wkb& footprint, int count);

}  // namespace civgrid::algorithms
