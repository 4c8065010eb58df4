// The phases of a region's cells (algorithms/region_cells.hpp) on the communities of generated
// cities: what each phase hands the next must hold for the shortcuts the next one takes.
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/region_cells.hpp>
#include <civgrid/data/organic.hpp>
#include <civgrid/data/synth.hpp>
#include <civgrid/engine/pipeline.hpp>

#include "synth_file.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace civgrid::engine {
namespace {

namespace cells = algorithms::cells;

// Every region of the city in `path`, phase by phase. A whole Voronoi cell named as a node's
// (Atoms::node) must hold that node and no other, as locating every node among all atoms finds;
// most whole cells must be named (atom_graph then locates only the rest). Returns the atoms named.
// The phases before the atoms for every region of the city in `path`, handed to `visit`.
template <typename Visit>
void for_each_region(const std::string& path, Visit&& visit) {
    PartitionConfig config;
    config.city = path;
    const City city = load_city(config);
    const RegionProblems problems = region_problems(city, config);
    for (const algorithms::RegionInput& input : problems.inputs) {
        const geos::Context context;
        const cells::Outline outline(context, input.boundary);
        const geos::Geom hard = cells::hard_linework(context, input, outline);
        const cells::Faces faces = cells::faces(context, outline, hard.get());
        const cells::Nodes nodes = cells::nodes(context, input.sites, faces);
        visit(context, input, outline, hard.get(), faces, nodes);
    }
}

std::size_t check_named_cells(const std::string& path) {
    std::size_t named = 0, atoms_seen = 0;
    for_each_region(
        path, [&](const geos::Context& context, const algorithms::RegionInput& input, const cells::Outline& outline,
                  const GEOSGeometry* hard, const cells::Faces& faces, const cells::Nodes& nodes) {
            const cells::Atoms atoms = cells::voronoi_atoms(context, outline, hard, faces, nodes);
            EXPECT_EQ(atoms.node.size(), atoms.atoms.size());
            atoms_seen += atoms.atoms.size();
            // Which atoms cover each node, by GEOS, against all atoms.
            geos::StrTree tree(context);
            for (std::size_t a = 0; a < atoms.atoms.size(); ++a) tree.insert(atoms.atoms[a].get(), a);
            std::vector<int> nodes_inside(atoms.atoms.size(), 0);
            for (std::uint32_t v = 0; v < nodes.points.size(); ++v) {
                bool covered = false;
                for (std::size_t a : tree.query(nodes.points[v].get())) {
                    if (GEOSIntersects_r(context.handle(), atoms.atoms[a].get(), nodes.points[v].get()) != 1) continue;
                    covered = true;
                    ++nodes_inside[a];
                    // A node's named cell is the one atom covering it.
                    if (atoms.node[a] != cells::Atoms::kNoNode) {
                        EXPECT_EQ(atoms.node[a], v) << "atom " << a;
                    }
                }
                EXPECT_TRUE(covered) << "node " << v;
            }
            for (std::size_t a = 0; a < atoms.atoms.size(); ++a)
                if (atoms.node[a] != cells::Atoms::kNoNode) {
                    ++named;
                    EXPECT_EQ(nodes_inside[a], 1) << "atom " << a;
                }
            // The graph built with the shortcut has a vertex for every node's atom.
            const std::vector<cells::AtomEdge> adjacency = cells::adjacency(context, atoms.atoms);
            const cells::AtomGraph graph = cells::atom_graph(context, input, outline, hard, atoms, adjacency, nodes);
            for (std::uint32_t v = 0; v < nodes.points.size(); ++v) {
                const std::uint32_t atom = graph.vertex_atom[graph.node_vertex[v]];
                EXPECT_EQ(GEOSIntersects_r(context.handle(), atoms.atoms[atom].get(), nodes.points[v].get()), 1)
                    << "node " << v;
            }
        });
    EXPECT_GT(named, atoms_seen / 2) << named << " of " << atoms_seen;
    return named;
}

TEST(RegionCells, WholeVoronoiCellsKnowTheirSiteOnGeneratedCities) {
    test::TempDir dir;
    EXPECT_GT(check_named_cells(test::synth_city_file(dir, 30'000, 3)), 0u);
    data::OrganicConfig organic;
    organic.households = 20'000;
    organic.seed = 5;
    const std::string organic_path = dir.file("organic.gpkg");
    data::write_city(data::generate_organic_city(organic), organic_path);
    EXPECT_GT(check_named_cells(organic_path), 0u);
}

// Every region of the city in `path`, its atoms with the band noded exactly against GEOS's noding
// of it: the same atoms (areas and interior points, but for rounding in the cut points), tiling
// the region. Returns how many regions took the exact noding.
int check_exact_band(const std::string& path) {
    int exact_regions = 0;
    for_each_region(
        path, [&](const geos::Context& context, const algorithms::RegionInput&, const cells::Outline& outline,
                  const GEOSGeometry* hard, const cells::Faces& faces, const cells::Nodes& nodes) {
            const cells::Atoms exact = cells::voronoi_atoms(context, outline, hard, faces, nodes);
            const cells::Atoms by_geos =
                cells::voronoi_atoms(context, outline, hard, faces, nodes, cells::BandNoding::geos);
            EXPECT_FALSE(by_geos.band_noded_exactly);
            // An atom of some size in a face with nodes holds one: a sliver face between two nodes of
            // barriers a rounding error apart, given its neighbours' cells, once cut them again.
            for (const cells::Atoms* atoms : {&exact, &by_geos})
                for (std::size_t a = 0; a < atoms->atoms.size(); ++a) {
                    const GEOSGeometry* atom = atoms->atoms[a].get();
                    if (nodes.face_nodes[atoms->face[a]].empty() || geos::area(context, atom) < 1) continue;
                    bool holds_node = false;
                    for (std::uint32_t v : nodes.face_nodes[atoms->face[a]])
                        if (GEOSIntersects_r(context.handle(), atom, nodes.points[v].get()) == 1) {
                            holds_node = true;
                            break;
                        }
                    EXPECT_TRUE(holds_node) << "an atom of " << geos::area(context, atom) << " m2 without a node";
                }
            if (!exact.band_noded_exactly) return;
            ++exact_regions;
            // Each atom of one has an atom of the other at its interior point, of the same area but for
            // the cut points' rounding: GEOS cuts the band's lines extended a centimetre beyond the
            // outline, along a last segment that may meet it at a glancing angle.
            constexpr double kCutRounding = 1e-4;  // square metres
            const double region_area = geos::area(context, outline.region.get());
            auto check_against = [&](const cells::Atoms& from, const cells::Atoms& to) {
                geos::StrTree tree(context);
                for (std::size_t a = 0; a < to.atoms.size(); ++a) tree.insert(to.atoms[a].get(), a);
                double total = 0;
                for (const geos::Geom& atom : from.atoms) {
                    const double area = geos::area(context, atom.get());
                    total += area;
                    if (area < 1e-6) continue;  // a rounding sliver between two cut points
                    const geos::Geom inside = geos::point(context, geos::point_on_surface(context, atom.get()));
                    int matched = 0;
                    for (std::size_t a : tree.query(inside.get()))
                        if (GEOSIntersects_r(context.handle(), to.atoms[a].get(), inside.get()) == 1 &&
                            std::abs(geos::area(context, to.atoms[a].get()) - area) <= kCutRounding)
                            ++matched;
                    EXPECT_EQ(matched, 1) << "atom of area " << area;
                }
                EXPECT_NEAR(total, region_area, 1e-9 * region_area);
            };
            check_against(exact, by_geos);
            check_against(by_geos, exact);
        });
    return exact_regions;
}

TEST(RegionCells, BandNodedExactlyGivesGeosAtomsOnGeneratedCities) {
    test::TempDir dir;
    const std::string synth_path = test::synth_city_file(dir, 30'000, 3);
    const int synth_regions = check_exact_band(synth_path);
    EXPECT_GT(synth_regions, 0);
    // Its regions hold slivers between barriers' nodes a rounding error apart.
    EXPECT_GT(check_exact_band(test::synth_city_file(dir, 300'000, 1)), 0);
    data::OrganicConfig organic;
    organic.households = 20'000;
    organic.seed = 7;
    const std::string organic_path = dir.file("organic.gpkg");
    data::write_city(data::generate_organic_city(organic), organic_path);
    EXPECT_GT(check_exact_band(organic_path), 0);
}

}  // namespace
}  // namespace civgrid::engine
