// The phases that build a region's cells (RegionCells in region_partition.hpp), each a function
// of the phases before it, so that a benchmark can run one alone (bench/pipeline_bench.cpp):
//
//   Outline        the region boundary, made valid, and what clips and locates against it
//   hard_linework  1. hard barriers (lines, outlines of barrier areas) clipped to the region
//   faces          2. the region cut by the hard barriers
//   nodes          3. sites merged by location, each located in a face
//   voronoi_atoms  4. each face's Voronoi cells cut by the face: atoms sharing exact edges
//   adjacency      5. atoms sharing boundary, and how much
//   atom_graph     6. graph vertices (atoms holding nodes) and edges (not across hard barriers)
//   pieces         7. connected components with households, and their micro-grid counts
//
// All geometries belong to the caller's GEOS context, which must outlive them. Results depend on
// the inputs only (not on threads): voronoi_atoms runs faces in parallel and merges in face order.
#pragma once

#include <civgrid/algorithms/detailed_outline.hpp>
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/graph_partition.hpp>
#include <civgrid/algorithms/region_partition.hpp>
#include <civgrid/types.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace civgrid::algorithms::cells {

/// The region's boundary, made valid, with its prepared form and, for a detailed outline (more
/// than kDetailedOutline vertices), the clipper that replaces GEOS overlays along it. Not movable:
/// the prepared geometry and the clipper point into it.
class Outline {
public:
    Outline(const geos::Context& context, const Wkb& boundary);
    Outline(const Outline&) = delete;
    Outline& operator=(const Outline&) = delete;

    geos::Geom region;
    geos::Prepared prepared;
    geos::Geom boundary;  ///< the region's rings as a MultiLineString

    [[nodiscard]] bool detailed() const noexcept { return clipper_.has_value(); }
    /// The detailed outline's clipper, or null.
    [[nodiscard]] const OutlineClipper* detailed_clipper() const noexcept { return clipper_ ? &*clipper_ : nullptr; }

private:
    std::optional<OutlineClipper> clipper_;
};

/// 1. The hard barriers of `input` (lines, and the outlines of barrier areas) clipped to the
/// region with a small overhang; null when none crosses it.
[[nodiscard]] geos::Geom hard_linework(const geos::Context& context, const RegionInput& input, const Outline& outline);

/// 2. Faces: the region cut by the hard barriers, and what locates a point in them.
struct Faces {
    std::vector<geos::Geom> faces;
    std::vector<geos::Prepared> prepared;
    std::vector<std::unique_ptr<AreaLocator>> areas;  ///< locators of detailed faces, null for most
    std::unique_ptr<geos::StrTree> tree;              ///< over many faces; null for a few
    std::vector<geos::Envelope> boxes;
    /// The noded lines (the region's rings and barriers) whose faces these are, each face's ring
    /// made of their segments; null for a detailed outline, whose lines are noded in stretches.
    geos::Geom linework;

    /// The first face (in index order) covering the point, else the nearest.
    [[nodiscard]] std::size_t locate(const geos::Context& context, const GEOSGeometry* point) const;
};
[[nodiscard]] Faces faces(const geos::Context& context, const Outline& outline, const GEOSGeometry* hard_linework);

/// 3. Nodes: sites at one location merged (households added), each located in a face.
struct Nodes {
    std::vector<std::uint32_t> site_node;                ///< per site
    std::vector<Point> location;                         ///< per node
    std::vector<std::int64_t> households;                ///< per node (negative counts taken as 0)
    std::vector<geos::Geom> points;                      ///< per node, its location as a GEOS point
    std::vector<std::vector<std::uint32_t>> face_nodes;  ///< per face, its nodes in order
};
[[nodiscard]] Nodes nodes(const geos::Context& context, const std::vector<Site>& sites, const Faces& faces);

/// 4. Atoms: each face's Voronoi cells of its nodes, cut by the face (a face without nodes by the
/// cells of its neighbours' nodes), polygons that share exact edges and tile the region.
struct Atoms {
    static constexpr std::uint32_t kNoNode = UINT32_MAX;
    std::vector<geos::Geom> atoms;
    std::vector<std::size_t> face;  ///< per atom
    /// Per atom: the one node inside it when the atom is a whole Voronoi cell (the cell's site,
    /// found by its box and ring), else kNoNode (atoms cut by face boundaries: nodes are located
    /// in those by atom_graph).
    std::vector<std::uint32_t> node;
    /// Whether the band was noded exactly (BandNoding) rather than by GEOS.
    bool band_noded_exactly = false;
};
/// How the cells along face boundaries (the band) are noded with the boundaries.
/// exact_when_possible: each band piece ends where the face's clipper cut it, and the faces'
/// linework is split at those points, so no GEOS noding is needed; taken when the faces' linework
/// bounds faces only (no barrier ends inside a face) and the result checks as noded, else GEOS's
/// noding (a union) of the band with the region's linework, as `geos` always does. Both give the
/// same atoms but for rounding in the cut points.
enum class BandNoding { exact_when_possible, geos };
[[nodiscard]] Atoms voronoi_atoms(const geos::Context& context, const Outline& outline,
                                  const GEOSGeometry* hard_linework, const Faces& faces, const Nodes& nodes,
                                  BandNoding noding = BandNoding::exact_when_possible);

/// 5. Two atoms sharing boundary, and how much (metres).
struct AtomEdge {
    std::uint32_t a, b;
    double length;
};
/// Adjacency of polygons that share exactly identical segments (the atoms of one polygonize, or
/// units of a coverage): segments hashed, each pair once (a < b), lengths added up, sorted by
/// pair. O(n) in vertices.
[[nodiscard]] std::vector<AtomEdge> adjacency(const geos::Context& context, const std::vector<geos::Geom>& atoms);

/// 6. The graph: a vertex per atom holding nodes (their households added), an edge per pair of
/// adjacent atoms of one face whose sites' segment crosses no hard barrier (marked when it crosses
/// a soft line of `input`), weighted by shared boundary.
struct AtomGraph {
    WeightedGraph graph;
    std::vector<std::uint32_t> vertex_atom;  ///< per vertex
    std::vector<std::uint32_t> node_vertex;  ///< per node
};
[[nodiscard]] AtomGraph atom_graph(const geos::Context& context, const RegionInput& input, const Outline& outline,
                                   const GEOSGeometry* hard_linework, const Atoms& atoms,
                                   const std::vector<AtomEdge>& adjacency, const Nodes& nodes);

/// 7. Pieces: connected components of the graph with households, and the micro-grids of each
/// (share_count of input.micro_grid_count, at least one, at most one per vertex with households).
struct Pieces {
    std::vector<int> vertex_piece;  ///< per vertex, -1 in a component without households
    std::vector<double> households;
    std::vector<int> counts;
};
[[nodiscard]] Pieces pieces(const WeightedGraph& graph, const RegionInput& input);

}  // namespace civgrid::algorithms::cells
