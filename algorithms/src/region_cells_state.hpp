// Internal: what a RegionCells holds, shared by its two ways of being built — Voronoi atoms
// (region_cells.cpp) and whole input polygons (unit_partition.cpp) — and by assemble.
#pragma once

#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/graph_partition.hpp>
#include <civgrid/algorithms/region_cells.hpp>
#include <civgrid/algorithms/region_partition.hpp>

#include <cstdint>
#include <vector>

namespace civgrid::algorithms {

struct RegionCells::State {
    geos::Context context;
    PartitionOptions options;
    int requested = 0;
    int faces = 0;
    std::vector<std::int64_t> site_households;
    std::vector<std::uint32_t> site_vertex;  // per site
    std::vector<geos::Geom> atoms;
    std::vector<std::size_t> atom_face;  // atoms of one face may share a micro-grid without a barrier between
    std::vector<cells::AtomEdge> adjacency;
    std::vector<std::uint32_t> vertex_atom;
    WeightedGraph graph;
    std::vector<int> vertex_piece;
    std::vector<double> piece_households;
    std::vector<int> piece_counts;
};

}  // namespace civgrid::algorithms
