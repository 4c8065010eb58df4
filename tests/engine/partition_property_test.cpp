// Property tests of the partitioner on generated cities: for every community and every micro-grid,
// the guarantees of the README (one polygon each, nesting and exact tiling, no hard barrier between
// the households of a micro-grid, exact counts, balance, every household building in exactly one
// micro-grid, the same result for any thread count). They are checked from the output geometry and
// the input buildings with GEOS, independently of how the partitioner works: faces come from
// cutting each community by thin buffers of the barrier lines (no polygonize), buildings are located
// by point in polygon, requested counts are recomputed from the households.
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/quality.hpp>
#include <civgrid/algorithms/region_partition.hpp>
#include <civgrid/data/synth.hpp>
#include <civgrid/engine/pipeline.hpp>

#include "test_support.hpp"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <ostream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace civgrid::engine {
namespace {

using algorithms::Flag;
using geos::Geom;

constexpr std::uint8_t bit(Flag flag) {
    return static_cast<std::uint8_t>(flag);
}

// ------------------------------------------------------------------------------------------------
// The cities.

/// How the regions of a generated city are shaped.
enum class Shapes {
    communities,  ///< the generator's communities (2x2 blocks of a warped grid, rivers and railway across some)
    streets,      ///< no community layer: streets are split, large regions with major roads inside
    carved,       ///< communities reshaped in the test: L-shapes, holes, two-part MultiPolygons, empty outer rings
};

struct CityCase {
    std::uint64_t seed = 11;
    std::int64_t households = 20'000;
    double target = 83.0;    ///< PartitionConfig::target_households
    double tolerance = 0.2;  ///< PartitionConfig::tolerance
    Shapes shapes = Shapes::communities;
};

std::string describe(const CityCase& c) {
    const char* shapes = c.shapes == Shapes::communities ? "communities"
                         : c.shapes == Shapes::streets   ? "streets"
                                                         : "carved";
    std::ostringstream text;
    text << "seed " << c.seed << ", " << c.households << " households, target " << c.target << ", tolerance "
         << c.tolerance << ", " << shapes;
    return text.str();
}

Geom box(const geos::Context& context, double min_x, double min_y, double max_x, double max_y) {
    return geos::polygon(context, {{min_x, min_y}, {max_x, min_y}, {max_x, max_y}, {min_x, max_y}});
}

// Reshapes four communities in five: an L (north-east quadrant removed), a ring (a hole a third of
// its width in the middle), two halves (a 30 m strip removed north to south through the middle),
// or an empty outer ring around a core (the band 10-40 m inside the boundary removed: no building
// point lies within 15 m of a road, so the outer ring has no households and must join a micro-grid
// of the core as a flagged second part). Buildings left outside every community get no micro-grid.
void carve_communities(io::LayerData& layer) {
    const geos::Context context;
    const auto handle = context.handle();
    for (std::size_t k = 0; k < layer.geometries.size(); ++k) {
        const Geom shape = geos::from_wkb(context, layer.geometries[k]);
        const geos::Envelope e = geos::envelope(context, shape.get());
        const Point c = geos::centroid(context, shape.get());
        const double w = e.max_x - e.min_x, h = e.max_y - e.min_y;
        Geom cut;
        switch (k % 5) {
            case 1:
                cut = box(context, c.x, c.y, e.max_x + 1, e.max_y + 1);
                break;
            case 2:
                cut = box(context, c.x - w / 6, c.y - h / 6, c.x + w / 6, c.y + h / 6);
                break;
            case 3:
                cut = box(context, c.x - 15, e.min_y - 1, c.x + 15, e.max_y + 1);
                break;
            case 4: {
                const Geom outer =
                    geos::own(context, GEOSBuffer_r(handle, shape.get(), -10.0, 8), "shrinking a community");
                const Geom inner =
                    geos::own(context, GEOSBuffer_r(handle, shape.get(), -40.0, 8), "shrinking a community");
                cut =
                    geos::own(context, GEOSDifference_r(handle, outer.get(), inner.get()), "a band inside a community");
                break;
            }
            default:
                break;
        }
        if (!cut) continue;
        const Geom carved = geos::own(context, GEOSDifference_r(handle, shape.get(), cut.get()), "carving a community");
        layer.geometries[k] = geos::to_wkb(context, carved.get());
    }
    layer.geometry_kind = io::GeometryKind::multi_polygon;
}

std::string write_city(const test::TempDir& dir, const CityCase& c) {
    data::SynthConfig synth;
    synth.households = c.households;
    synth.seed = c.seed;
    data::SynthCity city = data::generate_city(synth);
    auto communities = std::find_if(city.layers.begin(), city.layers.end(),
                                    [](const io::LayerData& l) { return l.name == "communities"; });
    if (communities == city.layers.end()) throw std::runtime_error("the generated city has no communities layer");
    if (c.shapes == Shapes::streets) city.layers.erase(communities);
    if (c.shapes == Shapes::carved) carve_communities(*communities);
    const std::string path = dir.file("city-" + std::to_string(c.seed) + "-" + std::to_string(c.households) + ".gpkg");
    data::write_city(city, path);
    return path;
}

PartitionConfig config_for(const std::string& city_file, const CityCase& c) {
    PartitionConfig config;
    config.city = city_file;
    config.target_households = c.target;
    config.tolerance = c.tolerance;
    return config;
}

// ------------------------------------------------------------------------------------------------
// Reporting: every violation names the case, the property, the community and the micro-grid; the
// first few of each property are shown, then the total.

class Violations {
public:
    explicit Violations(std::string label) : label_(std::move(label)) {}
    Violations(const Violations&) = delete;
    Violations& operator=(const Violations&) = delete;
    ~Violations() {
        for (const auto& [property, count] : counts_)
            if (count > kShown)
                ADD_FAILURE() << label_ << ": " << count << " violations of '" << property << "' in all";
    }
    void add(const std::string& property, const std::string& message) {
        if (++counts_[property] <= kShown) ADD_FAILURE() << label_ << ": " << property << ": " << message;
    }

private:
    static constexpr int kShown = 8;
    std::string label_;
    std::map<std::string, int> counts_;
};

std::string grid_name(const City& city, const MicroGrid& grid) {
    const std::string code = grid.region >= 0 && static_cast<std::size_t>(grid.region) < city.regions.size()
                                 ? city.regions[static_cast<std::size_t>(grid.region)].code
                                 : "?";
    return city.region_level + " " + code + ", micro-grid " + grid.id;
}

std::string building_name(const City& city, std::size_t b) {
    const int id_field = city.buildings.field_index("building_id");
    std::string id = std::to_string(city.buildings.fids[b]);
    if (id_field >= 0) {
        const FieldValue& value = city.buildings.rows[b][static_cast<std::size_t>(id_field)];
        if (const auto* i = std::get_if<std::int64_t>(&value)) id = std::to_string(*i);
    }
    return "building " + id;
}

std::vector<std::string> split_ids(const std::string& text) {
    std::vector<std::string> ids;
    std::size_t start = 0;
    while (start <= text.size() && !text.empty()) {
        const std::size_t end = std::min(text.find(';', start), text.size());
        ids.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return ids;
}

struct Coverage {
    int regions = 0, regions_with_households = 0, regions_cut = 0, forced_pieces = 0;
    int micro_grids = 0, flagged = 0, multipart = 0, out_of_bounds = 0;
    std::int64_t households = 0;
};

// ------------------------------------------------------------------------------------------------
// The properties.

/// The region cut by every hard barrier line (river outlines included) into faces: the region
/// minus 1 cm buffers of the lines. Buildings stand at least 10 m from any barrier.
std::vector<Geom> barrier_faces(const geos::Context& context, const GEOSGeometry* region,
                                const std::vector<Geom>& barriers) {
    const auto handle = context.handle();
    const geos::Envelope e = geos::envelope(context, region);
    std::vector<Geom> lines;
    for (const Geom& barrier : barriers) {
        if (!geos::envelope(context, barrier.get()).intersects(e)) continue;
        Geom clipped = geos::own(
            context, GEOSClipByRect_r(handle, barrier.get(), e.min_x - 1, e.min_y - 1, e.max_x + 1, e.max_y + 1),
            "clipping a barrier");
        geos::collect_lines(context, clipped.get(), lines);
    }
    std::vector<Geom> faces;
    if (lines.empty()) {
        geos::collect_polygons(context, region, faces);
        return faces;
    }
    const Geom all = geos::collection(context, GEOS_MULTILINESTRING, std::move(lines));
    const Geom strips = geos::own(context, GEOSBuffer_r(handle, all.get(), 0.01, 2), "buffering barriers");
    const Geom cut = geos::own(context, GEOSDifference_r(handle, region, strips.get()), "cutting a region by barriers");
    geos::collect_polygons(context, cut.get(), faces);
    return faces;
}

/// Checks every property on one partitioned city; returns what it covered.
Coverage check_partition(const City& city, const PartitionResult& result, const PartitionConfig& config,
                         const std::string& label) {
    Violations violations(label);
    Coverage coverage;
    const geos::Context context;
    const auto handle = context.handle();
    const std::size_t region_count = city.regions.size(), grid_count = result.micro_grids.size(),
                      building_count = city.buildings.size();
    EXPECT_EQ(result.regions.size(), region_count) << label;
    EXPECT_EQ(result.building_grid.size(), building_count) << label;
    EXPECT_EQ(result.building_split.size(), building_count) << label;
    EXPECT_EQ(result.building_region.size(), building_count) << label;
    if (result.regions.size() != region_count || result.building_grid.size() != building_count ||
        result.building_split.size() != building_count || result.building_region.size() != building_count)
        return coverage;
    coverage.regions = static_cast<int>(region_count);
    coverage.micro_grids = static_cast<int>(grid_count);

    // Regions, micro-grids and barriers as GEOS geometries.
    std::vector<Geom> regions;
    std::vector<geos::Prepared> regions_prepared;
    for (const Region& region : city.regions) regions.push_back(geos::from_wkb(context, region.boundary));
    geos::StrTree region_tree(context);
    for (std::size_t r = 0; r < region_count; ++r) {
        regions_prepared.push_back(geos::prepare(context, regions[r].get()));
        region_tree.insert(regions[r].get(), r);
    }
    std::vector<Geom> grids;
    std::vector<geos::Prepared> grids_prepared;
    std::map<std::string, int> grid_by_id;
    std::vector<std::vector<std::size_t>> region_grids(region_count);
    for (std::size_t g = 0; g < grid_count; ++g) {
        const MicroGrid& grid = result.micro_grids[g];
        grids.push_back(geos::from_wkb(context, grid.shape.polygon));
        if (!grid_by_id.emplace(grid.id, static_cast<int>(g)).second)
            violations.add("unique ids", grid_name(city, grid) + " appears twice");
        if (grid.region < 0 || static_cast<std::size_t>(grid.region) >= region_count) {
            violations.add("nesting",
                           grid_name(city, grid) + " has no region (index " + std::to_string(grid.region) + ")");
            continue;
        }
        region_grids[static_cast<std::size_t>(grid.region)].push_back(g);
        if (grid.id.rfind(city.regions[static_cast<std::size_t>(grid.region)].code, 0) != 0)
            violations.add("unique ids", grid_name(city, grid) + ": the id does not start with the community code");
    }
    geos::StrTree grid_tree(context);
    for (std::size_t g = 0; g < grid_count; ++g) {
        grids_prepared.push_back(geos::prepare(context, grids[g].get()));
        grid_tree.insert(grids[g].get(), g);
    }
    std::vector<Geom> barriers;
    for (const Wkb& line : city.hard_lines) barriers.push_back(geos::from_wkb(context, line));
    for (const Wkb& area : city.hard_areas) barriers.push_back(geos::from_wkb(context, area));
    EXPECT_FALSE(barriers.empty()) << label << ": the city has no hard barrier, so the barrier property tests nothing";

    std::vector<std::vector<Geom>> faces(region_count);
    std::vector<std::vector<geos::Prepared>> faces_prepared(region_count);
    for (std::size_t r = 0; r < region_count; ++r) {
        faces[r] = barrier_faces(context, regions[r].get(), barriers);
        for (const Geom& face : faces[r]) faces_prepared[r].push_back(geos::prepare(context, face.get()));
    }

    // 6. Buildings: each located independently in its region, its face and the micro-grids
    // covering its point.
    std::vector<std::int64_t> region_households(region_count, 0), region_buildings(region_count, 0);
    std::vector<std::set<std::size_t>> region_faces_used(region_count);
    std::vector<std::int64_t> grid_whole_households(grid_count, 0);  // buildings not split, by point in polygon
    std::vector<std::int64_t> grid_split_households(grid_count, 0);  // split buildings listing the micro-grid
    std::vector<char> grid_has_split(grid_count, 0);
    std::vector<std::map<std::size_t, std::size_t>> grid_faces(grid_count);  // face -> a building in it
    std::int64_t outside_buildings = 0;
    for (std::size_t b = 0; b < building_count; ++b) {
        if (city.buildings.geometries[b].empty()) continue;
        const std::int64_t households = city.building_households[b];
        const Geom point = geos::point(context, city.building_points[b]);
        int region = -1;
        for (std::size_t r : region_tree.query(point.get())) {
            if (GEOSPreparedIntersects_r(handle, regions_prepared[r].get(), point.get()) == 1) {
                region = static_cast<int>(r);
                break;
            }
        }
        if (region < 0) {
            ++outside_buildings;
            if (result.building_grid[b] >= 0)
                violations.add("buildings",
                               building_name(city, b) + " lies outside every region but has micro-grid " +
                                   result.micro_grids[static_cast<std::size_t>(result.building_grid[b])].id);
            continue;
        }
        const auto r = static_cast<std::size_t>(region);
        const std::string& code = city.regions[r].code;
        region_households[r] += households;
        region_buildings[r] += 1;
        if (result.building_region[b] != region)
            violations.add("buildings", building_name(city, b) + " lies in " + city.region_level + " " + code +
                                            " but the result puts it in region " +
                                            std::to_string(result.building_region[b]));
        if (households <= 0) continue;
        const int g = result.building_grid[b];
        if (g < 0 || static_cast<std::size_t>(g) >= grid_count) {
            violations.add("buildings", building_name(city, b) + " (" + std::to_string(households) +
                                            " households) in community " + code + " has no micro-grid");
            continue;
        }
        const MicroGrid& main = result.micro_grids[static_cast<std::size_t>(g)];
        if (main.region != region)
            violations.add("buildings", building_name(city, b) + " in " + city.region_level + " " + code +
                                            " is assigned to " + grid_name(city, main));
        // The micro-grids whose polygons cover its point: exactly one.
        std::vector<std::size_t> covering;
        for (std::size_t candidate : grid_tree.query(point.get()))
            if (GEOSPreparedIntersects_r(handle, grids_prepared[candidate].get(), point.get()) == 1)
                covering.push_back(candidate);
        if (covering.size() != 1) {
            std::string ids;
            for (std::size_t c : covering) ids += " " + result.micro_grids[c].id;
            violations.add("buildings", building_name(city, b) + " in " + city.region_level + " " + code +
                                            ": its point lies in " + std::to_string(covering.size()) +
                                            " micro-grids (" + ids + " ), not exactly one");
        }
        const std::vector<std::string> split = split_ids(result.building_split[b]);
        std::vector<std::size_t> holders;  // every micro-grid holding households of this building
        if (split.empty()) {
            holders.push_back(static_cast<std::size_t>(g));
            if (covering.size() == 1 && covering.front() != static_cast<std::size_t>(g))
                violations.add("buildings", building_name(city, b) + " in " + city.region_level + " " + code +
                                                " is assigned to " + grid_name(city, main) + " but its point lies in " +
                                                result.micro_grids[covering.front()].id);
            else if (covering.size() == 1)
                grid_whole_households[static_cast<std::size_t>(g)] += households;
        } else {
            if (std::find(split.begin(), split.end(), main.id) == split.end())
                violations.add("buildings", building_name(city, b) + ": split across '" + result.building_split[b] +
                                                "' without its micro-grid " + main.id);
            // Every micro-grid holding a part of it reaches its footprint.
            const Geom footprint = geos::from_wkb(context, city.buildings.geometries[b]);
            for (const std::string& id : split) {
                const auto it = grid_by_id.find(id);
                if (it == grid_by_id.end() ||
                    result.micro_grids[static_cast<std::size_t>(it->second)].region != region) {
                    violations.add("buildings", building_name(city, b) + " in " + city.region_level + " " + code +
                                                    " is split onto micro-grid '" + id +
                                                    "' of another community or none");
                    continue;
                }
                if (GEOSPreparedIntersects_r(handle, grids_prepared[static_cast<std::size_t>(it->second)].get(),
                                             footprint.get()) != 1)
                    violations.add("buildings",
                                   grid_name(city, result.micro_grids[static_cast<std::size_t>(it->second)]) +
                                       " holds households of " + building_name(city, b) + " (" +
                                       std::to_string(households) + " households, split across " +
                                       result.building_split[b] + ") but does not reach its footprint");
                holders.push_back(static_cast<std::size_t>(it->second));
                grid_split_households[static_cast<std::size_t>(it->second)] += households;
                grid_has_split[static_cast<std::size_t>(it->second)] = 1;
            }
        }
        // Its face (the community cut by hard barriers).
        std::size_t face = faces[r].size();
        for (std::size_t f = 0; f < faces[r].size(); ++f)
            if (GEOSPreparedIntersects_r(handle, faces_prepared[r][f].get(), point.get()) == 1) {
                face = f;
                break;
            }
        if (face == faces[r].size()) {
            violations.add("barriers", building_name(city, b) + " in " + city.region_level + " " + code +
                                           " lies on a hard barrier");
            continue;
        }
        region_faces_used[r].insert(face);
        for (std::size_t holder : holders) grid_faces[holder].emplace(face, b);
    }

    // Micro-grid by micro-grid.
    const double tolerance = config.tolerance;
    for (std::size_t g = 0; g < grid_count; ++g) {
        const MicroGrid& grid = result.micro_grids[g];
        const std::string name = grid_name(city, grid);
        const GEOSGeometry* polygon = grids[g].get();
        const bool multipart_flag = (grid.shape.flags & bit(Flag::multipart)) != 0;
        coverage.multipart += multipart_flag ? 1 : 0;
        coverage.flagged += grid.shape.flags != 0 ? 1 : 0;
        coverage.out_of_bounds += (grid.shape.flags & bit(Flag::out_of_bounds)) != 0 ? 1 : 0;
        // 1. Contiguity and validity.
        const int type = GEOSGeomTypeId_r(handle, polygon);
        if (type != GEOS_POLYGON && !(type == GEOS_MULTIPOLYGON && multipart_flag))
            violations.add("contiguity", name + " is a " + GEOSGeomType_r(handle, polygon) + " with " +
                                             std::to_string(GEOSGetNumGeometries_r(handle, polygon)) +
                                             " parts without the multipart flag");
        if (multipart_flag && !(type == GEOS_MULTIPOLYGON && GEOSGetNumGeometries_r(handle, polygon) > 1))
            violations.add("contiguity", name + " is flagged multipart but is one polygon");
        if (GEOSisValid_r(handle, polygon) != 1) {
            char* reason = GEOSisValidReason_r(handle, polygon);
            violations.add("validity", name + " is invalid: " + (reason != nullptr ? reason : "?"));
            GEOSFree_r(handle, reason);
        }
        if (geos::area(context, polygon) <= 0) violations.add("validity", name + " has no area");
        if (grid.region < 0) continue;
        const auto r = static_cast<std::size_t>(grid.region);
        // 2. Nesting.
        const Geom outside =
            geos::own(context, GEOSDifference_r(handle, polygon, regions[r].get()), "micro-grid outside its region");
        if (const double area = geos::area(context, outside.get()); area >= 1e-3)
            violations.add("nesting", name + " reaches " + std::to_string(area) + " m2 outside its community");
        // 3. Barriers: the households of a micro-grid all lie in one face of its community.
        if (grid_faces[g].size() > 1) {
            const auto first = grid_faces[g].begin(), second = std::next(first);
            violations.add("barriers", name + " holds households in " + std::to_string(grid_faces[g].size()) +
                                           " faces separated by hard barriers (e.g. " +
                                           building_name(city, first->second) + " and " +
                                           building_name(city, second->second) + ")");
        }
        // 4. No empty micro-grid in a community with households; its households are really there.
        if (result.regions[r].households > 0) {
            if (grid.shape.households <= 0) violations.add("counts", name + " has no households");
            if (grid_whole_households[g] + grid_split_households[g] <= 0)
                violations.add("counts", name + " covers no building with households");
        }
        if (!grid_has_split[g] && grid.shape.households != grid_whole_households[g])
            violations.add("households", name + " reports " + std::to_string(grid.shape.households) +
                                             " households, its buildings hold " +
                                             std::to_string(grid_whole_households[g]));
        if (grid_has_split[g] && (grid.shape.households < grid_whole_households[g] ||
                                  grid.shape.households > grid_whole_households[g] + grid_split_households[g]))
            violations.add("households", name + " reports " + std::to_string(grid.shape.households) +
                                             " households, its buildings hold " +
                                             std::to_string(grid_whole_households[g]) + " plus up to " +
                                             std::to_string(grid_split_households[g]) + " in split buildings");
        // 5. Balance: an unflagged micro-grid is within the bounds around its region's target (the
        // configured target, or households / count in count mode), which flags are defined against.
        if (grid.shape.flags == 0) {
            const auto households = static_cast<double>(grid.shape.households);
            const double target = result.regions[r].target;
            if (households < target * (1 - tolerance) - 1e-9 || households > target * (1 + tolerance) + 1e-9)
                violations.add("balance", name + " is unflagged with " + std::to_string(grid.shape.households) +
                                              " households, outside " + std::to_string(target) + " x (1 -/+ " +
                                              std::to_string(tolerance) + ")");
        }
    }

    // Community by community.
    for (std::size_t r = 0; r < region_count; ++r) {
        const std::string name = city.region_level + " " + city.regions[r].code;
        const RegionSummary& summary = result.regions[r];
        const std::vector<std::size_t>& members = region_grids[r];
        coverage.regions_with_households += region_households[r] > 0 ? 1 : 0;
        coverage.households += region_households[r];
        // 6. Households and buildings conserved.
        std::int64_t households = 0, buildings = 0;
        for (std::size_t g : members) {
            households += result.micro_grids[g].shape.households;
            buildings += result.micro_grids[g].buildings;
        }
        if (households != region_households[r] || summary.households != region_households[r])
            violations.add("households", name + ": its buildings hold " + std::to_string(region_households[r]) +
                                             " households, its micro-grids " + std::to_string(households) +
                                             ", its summary " + std::to_string(summary.households));
        if (buildings != region_buildings[r] || summary.buildings != region_buildings[r])
            violations.add("buildings", name + ": " + std::to_string(region_buildings[r]) +
                                            " buildings, its micro-grids count " + std::to_string(buildings) +
                                            ", its summary " + std::to_string(summary.buildings));
        // 4. Exact counts: round(H / target) micro-grids (at least one), or one per barrier-bounded
        // piece with households when there are more pieces.
        const int requested = std::max(
            1, static_cast<int>(std::lround(static_cast<double>(region_households[r]) / config.target_households)));
        const auto made = static_cast<int>(members.size());
        if (summary.requested != requested)
            violations.add("counts", name + ": requested " + std::to_string(summary.requested) + ", expected round(" +
                                         std::to_string(region_households[r]) +
                                         " / target) = " + std::to_string(requested));
        if (summary.micro_grids != made)
            violations.add("counts", name + ": summary says " + std::to_string(summary.micro_grids) +
                                         " micro-grids, there are " + std::to_string(made));
        const int occupied_faces = static_cast<int>(region_faces_used[r].size());
        if (region_households[r] > 0) {
            if (made != std::max(summary.requested, summary.pieces))
                violations.add("counts", name + ": " + std::to_string(made) + " micro-grids for " +
                                             std::to_string(summary.requested) + " requested and " +
                                             std::to_string(summary.pieces) + " pieces (" +
                                             std::to_string(region_households[r]) + " households)");
            if (summary.pieces != occupied_faces)
                violations.add("counts", name + ": " + std::to_string(summary.pieces) +
                                             " pieces (as the partitioner counts them), but " +
                                             "its household buildings lie in " + std::to_string(occupied_faces) +
                                             " faces between hard barriers: a piece that barriers do not force");
            coverage.forced_pieces += summary.pieces > summary.requested ? 1 : 0;
            coverage.regions_cut += occupied_faces > 1 ? 1 : 0;
        } else {
            if (made != 1)
                violations.add("counts",
                               name + " has no households and " + std::to_string(made) + " micro-grids, not one");
            for (std::size_t g : members)
                if ((result.micro_grids[g].shape.flags & bit(Flag::no_households)) == 0)
                    violations.add("counts", grid_name(city, result.micro_grids[g]) + " lacks the no_households flag");
        }
        // 2. Tiling: no gap, no overlap.
        if (members.empty()) {
            violations.add("tiling", name + " has no micro-grid");
            continue;
        }
        const double region_area = geos::area(context, regions[r].get());
        double area_sum = 0;
        std::vector<Geom> copies;
        for (std::size_t g : members) {
            area_sum += geos::area(context, grids[g].get());
            copies.push_back(geos::clone(context, grids[g].get()));
        }
        const Geom all = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(copies));
        const Geom united = geos::own(context, GEOSUnaryUnion_r(handle, all.get()), "uniting micro-grids");
        const double united_area = geos::area(context, united.get());
        const Geom gap = geos::own(context, GEOSDifference_r(handle, regions[r].get(), united.get()), "gap");
        const double gap_area = geos::area(context, gap.get());
        if (std::abs(united_area - region_area) > 1e-3 * region_area || gap_area > 1e-3 * region_area)
            violations.add("tiling", name + ": its micro-grids cover " + std::to_string(united_area) + " m2 of its " +
                                         std::to_string(region_area) + " m2 (gap " + std::to_string(gap_area) + " m2)");
        if (std::abs(area_sum - region_area) > 1e-3 * region_area)
            violations.add("tiling", name + ": its micro-grids' areas sum to " + std::to_string(area_sum) +
                                         " m2 for its " + std::to_string(region_area) + " m2 (overlap " +
                                         std::to_string(area_sum - united_area) + " m2)");
    }

    // The quality report agrees: it is the same guarantees measured the engine's way.
    const algorithms::QualityReport report = assess(city, result, config);
    EXPECT_EQ(report.barrier_crossings, 0) << label;
    EXPECT_EQ(report.non_contiguous, coverage.multipart) << label;
    EXPECT_EQ(report.invalid_polygons, 0) << label;
    EXPECT_EQ(report.outside_region, 0) << label;
    EXPECT_LT(report.max_region_gap_overlap_m2, 1.0) << label;
    EXPECT_EQ(report.buildings_unassigned, outside_buildings) << label;
    return coverage;
}

// Runs one case end to end and prints what it covered.
Coverage run_case(const CityCase& c) {
    const auto start = std::chrono::steady_clock::now();
    test::TempDir dir;
    const PartitionConfig config = config_for(write_city(dir, c), c);
    const City city = load_city(config);
    const PartitionResult result = partition_city(city, config);
    const Coverage coverage = check_partition(city, result, config, describe(c));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "[ coverage ] " << describe(c) << ": " << coverage.regions << " " << city.region_level << " regions ("
              << coverage.regions_with_households << " with households, " << coverage.regions_cut
              << " with households on several sides of hard barriers, " << coverage.forced_pieces
              << " with more pieces than requested), " << coverage.micro_grids << " micro-grids (" << coverage.flagged
              << " flagged, " << coverage.multipart << " multipart, " << coverage.out_of_bounds << " out of bounds), "
              << coverage.households << " households; " << seconds << " s\n";
    ::testing::Test::RecordProperty("regions", coverage.regions);
    ::testing::Test::RecordProperty("micro_grids", coverage.micro_grids);
    return coverage;
}

// ------------------------------------------------------------------------------------------------
// The cases.

// Each test runs one case end to end (CTest runs every test in its own process, so a city is never
// shared between tests). Every case must cover regions with households and split them.
void expect_properties(const CityCase& c) {
    const Coverage coverage = run_case(c);
    EXPECT_GE(coverage.regions_with_households, 1);
    EXPECT_GT(coverage.micro_grids, coverage.regions);
}

// Six cities of 15,000 to 40,000 households (each with a river, major and minor roads, a railway,
// towers, walk-ups and villages, parks): 72 communities at the default target.
TEST(PartitionProperties, Seed11City15k) {
    expect_properties({.seed = 11, .households = 15'000});
}
TEST(PartitionProperties, Seed12City20k) {
    expect_properties({.seed = 12, .households = 20'000});
}
TEST(PartitionProperties, Seed13City25k) {
    expect_properties({.seed = 13, .households = 25'000});
}
TEST(PartitionProperties, Seed14City30k) {
    expect_properties({.seed = 14, .households = 30'000});
}
TEST(PartitionProperties, Seed15City35k) {
    expect_properties({.seed = 15, .households = 35'000});
}
TEST(PartitionProperties, Seed16City40k) {
    expect_properties({.seed = 16, .households = 40'000});
}

// Small and large micro-grids, micro-grids so large that barriers force more of them than
// requested, tighter balance bounds, larger regions with major roads inside, and community shapes
// the generator does not make (L-shapes, holes, two parts, an empty detached ring).
TEST(PartitionProperties, Seed11Target40) {
    expect_properties({.seed = 11, .households = 15'000, .target = 40.0});
}
TEST(PartitionProperties, Seed12Target150) {
    expect_properties({.seed = 12, .households = 20'000, .target = 150.0});
}
TEST(PartitionProperties, Seed16Target1500BarriersForcePieces) {
    expect_properties({.seed = 16, .households = 40'000, .target = 1500.0});
}
TEST(PartitionProperties, Seed15Tolerance10Percent) {
    expect_properties({.seed = 15, .households = 35'000, .tolerance = 0.1});
}
TEST(PartitionProperties, Seed13StreetsAsRegions) {
    expect_properties({.seed = 13, .households = 25'000, .shapes = Shapes::streets});
}
TEST(PartitionProperties, Seed14CarvedCommunities) {
    expect_properties({.seed = 14, .households = 20'000, .shapes = Shapes::carved});
}
TEST(PartitionProperties, Seed17CarvedCommunities) {
    expect_properties({.seed = 17, .households = 30'000, .shapes = Shapes::carved});
}

// 7. The same micro-grids, byte for byte, for one and two threads.
TEST(PartitionDeterminism, SameResultForOneAndTwoThreads) {
    const CityCase c{.seed = 15, .households = 35'000};
    test::TempDir dir;
    PartitionConfig config = config_for(write_city(dir, c), c);
    config.threads = 1;
    const City city = load_city(config);
    const PartitionResult one = partition_city(city, config);
    config.threads = 2;
    const PartitionResult two = partition_city(load_city(config), config);
    ASSERT_EQ(one.micro_grids.size(), two.micro_grids.size());
    ASSERT_GT(one.micro_grids.size(), 100u);
    for (std::size_t g = 0; g < one.micro_grids.size(); ++g) {
        const MicroGrid& a = one.micro_grids[g];
        const MicroGrid& b = two.micro_grids[g];
        const std::string name = grid_name(city, a);
        EXPECT_EQ(a.id, b.id) << name;
        EXPECT_EQ(a.region, b.region) << name;
        EXPECT_EQ(a.shape.households, b.shape.households) << name;
        EXPECT_EQ(a.shape.flags, b.shape.flags) << name;
        EXPECT_EQ(a.shape.piece, b.shape.piece) << name;
        EXPECT_EQ(a.shape.target, b.shape.target) << name;
        EXPECT_EQ(a.buildings, b.buildings) << name;
        EXPECT_TRUE(a.shape.polygon == b.shape.polygon) << name << ": the polygon WKB differs";
    }
    EXPECT_EQ(one.building_grid, two.building_grid);
    EXPECT_EQ(one.building_split, two.building_split);
    EXPECT_EQ(one.building_region, two.building_region);
    ASSERT_EQ(one.regions.size(), two.regions.size());
    for (std::size_t r = 0; r < one.regions.size(); ++r) {
        EXPECT_EQ(one.regions[r].micro_grids, two.regions[r].micro_grids) << "community " << city.regions[r].code;
        EXPECT_EQ(one.regions[r].pieces, two.regions[r].pieces) << "community " << city.regions[r].code;
    }
}

// ------------------------------------------------------------------------------------------------
// The checks can fail: each property is broken on purpose in a copy of a real result, and the
// failure must name the property and the community or micro-grid.

/// The failure messages `check` reports, intercepted (the test itself does not fail).
std::vector<std::string> failures_of(const std::function<void()>& check) {
    ::testing::TestPartResultArray results;
    {
        const ::testing::ScopedFakeTestPartResultReporter reporter(
            ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
        check();
    }
    std::vector<std::string> messages;
    for (int i = 0; i < results.size(); ++i) messages.emplace_back(results.GetTestPartResult(i).message());
    return messages;
}

::testing::AssertionResult reported(const std::vector<std::string>& failures, const std::string& property,
                                    const std::string& object) {
    for (const std::string& failure : failures)
        if (failure.find(property) != std::string::npos && failure.find(object) != std::string::npos)
            return ::testing::AssertionSuccess();
    std::string all;
    for (const std::string& failure : failures) all += "\n  " + failure;
    return ::testing::AssertionFailure() << "no failure of '" << property << "' naming " << object << " among "
                                         << failures.size() << ":" << all;
}

TEST(PartitionPropertyChecks, ReportBrokenPartitions) {
    const CityCase c{.seed = 12, .households = 20'000};
    test::TempDir dir;
    const PartitionConfig config = config_for(write_city(dir, c), c);
    const City city = load_city(config);
    const PartitionResult good = partition_city(city, config);
    const geos::Context context;
    const auto handle = context.handle();
    auto failures = [&](const PartitionResult& broken) {
        return failures_of([&] { (void)check_partition(city, broken, config, "broken"); });
    };
    ASSERT_GT(good.micro_grids.size(), 10u);
    // A micro-grid and a community it lies in: the first unflagged micro-grid on the community boundary.
    std::size_t g = 0;
    for (; g < good.micro_grids.size(); ++g) {
        const Geom polygon = geos::from_wkb(context, good.micro_grids[g].shape.polygon);
        const Geom region =
            geos::from_wkb(context, city.regions[static_cast<std::size_t>(good.micro_grids[g].region)].boundary);
        const Geom outline = geos::own(context, GEOSBoundary_r(handle, region.get()), "outline");
        if (good.micro_grids[g].shape.flags == 0 && GEOSIntersects_r(handle, outline.get(), polygon.get()) == 1) break;
    }
    ASSERT_LT(g, good.micro_grids.size());
    const MicroGrid& grid = good.micro_grids[g];
    const auto r = static_cast<std::size_t>(grid.region);
    const std::string code = city.regions[r].code;
    const Geom polygon = geos::from_wkb(context, grid.shape.polygon);
    // Unbroken, nothing is reported about them.
    const std::vector<std::string> unbroken = failures(good);
    EXPECT_FALSE(reported(unbroken, "", grid.id));
    EXPECT_FALSE(reported(unbroken, "", "community " + code + ":"));
    auto with_polygon = [&](const GEOSGeometry* geometry) {
        PartitionResult broken = good;
        broken.micro_grids[g].shape.polygon = geos::to_wkb(context, geometry);
        return broken;
    };

    {  // 1. Two parts without the multipart flag.
        const geos::Envelope e = geos::envelope(context, polygon.get());
        std::vector<Geom> parts;
        parts.push_back(geos::clone(context, polygon.get()));
        parts.push_back(box(context, e.max_x + 100, e.max_y + 100, e.max_x + 110, e.max_y + 110));
        const Geom two = geos::collection(context, GEOS_MULTIPOLYGON, std::move(parts));
        EXPECT_TRUE(reported(failures(with_polygon(two.get())), "contiguity", grid.id));
    }
    {  // 2. Beyond the community (and over its neighbours).
        const Geom grown = geos::own(context, GEOSBuffer_r(handle, polygon.get(), 5.0, 2), "growing");
        const auto found = failures(with_polygon(grown.get()));
        EXPECT_TRUE(reported(found, "nesting", grid.id));
        EXPECT_TRUE(reported(found, "tiling", "community " + code));
    }
    {  // 2. A gap.
        const Geom shrunk = geos::own(context, GEOSBuffer_r(handle, polygon.get(), -3.0, 2), "shrinking");
        EXPECT_TRUE(reported(failures(with_polygon(shrunk.get())), "tiling", "community " + code));
    }
    {  // 3. A building moved to a micro-grid on the other side of a hard barrier.
        std::vector<Geom> barriers;
        for (const Wkb& line : city.hard_lines) barriers.push_back(geos::from_wkb(context, line));
        for (const Wkb& area : city.hard_areas) barriers.push_back(geos::from_wkb(context, area));
        bool moved = false;
        for (std::size_t region = 0; region < city.regions.size() && !moved; ++region) {
            const Geom shape = geos::from_wkb(context, city.regions[region].boundary);
            const std::vector<Geom> faces = barrier_faces(context, shape.get(), barriers);
            std::map<std::size_t, std::pair<std::size_t, int>> first_in_face;  // face -> (building, micro-grid)
            for (std::size_t b = 0; b < city.buildings.size(); ++b) {
                if (good.building_region[b] != static_cast<int>(region) || city.building_households[b] <= 0 ||
                    !good.building_split[b].empty())
                    continue;
                const Geom point = geos::point(context, city.building_points[b]);
                for (std::size_t f = 0; f < faces.size(); ++f)
                    if (GEOSIntersects_r(handle, faces[f].get(), point.get()) == 1)
                        first_in_face.emplace(f, std::pair{b, good.building_grid[b]});
            }
            if (first_in_face.size() < 2) continue;
            const auto [b, from] = first_in_face.begin()->second;
            const int to = std::next(first_in_face.begin())->second.second;
            PartitionResult broken = good;
            broken.building_grid[b] = to;
            broken.micro_grids[static_cast<std::size_t>(from)].shape.households -= city.building_households[b];
            broken.micro_grids[static_cast<std::size_t>(to)].shape.households += city.building_households[b];
            EXPECT_TRUE(reported(failures(broken), "barriers", good.micro_grids[static_cast<std::size_t>(to)].id));
            moved = true;
        }
        EXPECT_TRUE(moved) << "no community of this city has households on two sides of a hard barrier";
    }
    {  // 4. A micro-grid without households; a wrong requested count.
        PartitionResult broken = good;
        const std::size_t other =
            g + 1 < good.micro_grids.size() && good.micro_grids[g + 1].region == grid.region ? g + 1 : g - 1;
        broken.micro_grids[other].shape.households += broken.micro_grids[g].shape.households;
        broken.micro_grids[g].shape.households = 0;
        EXPECT_TRUE(reported(failures(broken), "counts", grid.id));
        broken = good;
        broken.regions[r].requested += 1;
        EXPECT_TRUE(reported(failures(broken), "counts", "community " + code));
    }
    {  // 5. Out of balance without a flag.
        PartitionResult broken = good;
        broken.micro_grids[g].shape.flags = 0;
        broken.micro_grids[g].shape.households = static_cast<std::int64_t>(broken.regions[r].target * 2);
        EXPECT_TRUE(reported(failures(broken), "balance", grid.id));
    }
    {  // 6. A building without a micro-grid; households not conserved.
        std::size_t b = 0;
        while (b < city.buildings.size() && (good.building_region[b] < 0 || city.building_households[b] <= 0)) ++b;
        ASSERT_LT(b, city.buildings.size());
        PartitionResult broken = good;
        broken.building_grid[b] = -1;
        EXPECT_TRUE(reported(failures(broken), "buildings", building_name(city, b)));
        broken = good;
        broken.regions[r].households += 1;
        EXPECT_TRUE(reported(failures(broken), "households", "community " + code));
    }
}

}  // namespace
}  // namespace civgrid::engine
