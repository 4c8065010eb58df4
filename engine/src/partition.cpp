#include "placement.hpp"
#include "values.hpp"

#include <civgrid/algorithms/balance_bound.hpp>
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/parallel.hpp>
#include <civgrid/algorithms/region_locator.hpp>
#include <civgrid/algorithms/unit_partition.hpp>
#include <civgrid/engine/pipeline.hpp>
#include <civgrid/error.hpp>

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>
#include <optional>

namespace civgrid::engine {

namespace {

constexpr const char* kStage = "engine.partition";

std::uint64_t hash_text(const std::string& text) {
    std::uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : text) h = (h ^ c) * 1099511628211ULL;
    return h;
}

// `total` shared among regions by households (largest remainder), at least one for each region
// with households.
std::vector<int> share_by_households(const std::vector<std::int64_t>& households, std::int64_t total) {
    std::vector<int> counts(households.size(), 1);
    const double sum = static_cast<double>(std::accumulate(households.begin(), households.end(), std::int64_t{0}));
    if (sum <= 0) return counts;
    std::vector<double> quota(households.size(), 0.0);
    std::int64_t assigned = 0;
    for (std::size_t r = 0; r < households.size(); ++r) {
        quota[r] = static_cast<double>(households[r]) / sum * static_cast<double>(total);
        counts[r] = std::max(1, static_cast<int>(std::floor(quota[r])));
        if (households[r] > 0) assigned += counts[r];
    }
    std::vector<std::size_t> order(households.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return quota[a] - counts[a] > quota[b] - counts[b]; });
    for (std::size_t i = 0; assigned < total && i < order.size(); ++i) {
        if (households[order[i]] <= 0) continue;
        ++counts[order[i]];
        ++assigned;
    }
    return counts;
}

// Micro-grids wanted per region: the region's count field, round(H / target), or the city-wide
// count shared by households; at least one per region, so every region is covered.
std::vector<int> requested_counts(const std::vector<std::int64_t>& households, const std::vector<Region>& regions,
                                  const PartitionConfig& config) {
    if (config.micro_grid_count > 0) return share_by_households(households, config.micro_grid_count);
    std::vector<int> counts(households.size(), 1);
    for (std::size_t r = 0; r < households.size(); ++r) {
        counts[r] =
            regions[r].requested_count > 0
                ? regions[r].requested_count
                : std::max(
                      1, static_cast<int>(std::lround(static_cast<double>(households[r]) / config.target_households)));
        if (config.hard_min_households > 0)  // every micro-grid can reach the hard minimum
            counts[r] = std::min(counts[r], std::max(1, static_cast<int>(static_cast<double>(households[r]) /
                                                                         config.hard_min_households)));
    }
    return counts;
}

// Grids wanted per region in count mode (the region's grid count field, or the city-wide count
// shared by households), at most one per micro-grid; 0 = by --grid-households.
std::vector<int> requested_grid_counts(const std::vector<std::int64_t>& households, const std::vector<Region>& regions,
                                       const PartitionConfig& config, const std::vector<int>& micro_counts) {
    std::vector<int> grids(households.size(), 0);
    if (config.grid_count > 0) grids = share_by_households(households, config.grid_count);
    for (std::size_t r = 0; r < households.size(); ++r) {
        if (regions[r].requested_grids > 0) grids[r] = regions[r].requested_grids;
        if (grids[r] > 0) grids[r] = std::min(grids[r], micro_counts[r]);
    }
    return grids;
}

// --split-large-units: each unit of `input` (units mode) with more households than the upper bound
// becomes max(ceil(H / upper), round(H / target)) pieces (algorithms::split_unit), its households
// shared evenly, each piece a site at a point inside it; the sites of one building stay together.
void split_large_units(algorithms::RegionInput& input, std::int64_t& units, std::int64_t& pieces) {
    const double upper = input.options.upper(), target = input.options.target_households;
    std::vector<algorithms::Site> sites;
    std::vector<Wkb> areas;
    const geos::Context context;
    for (std::size_t s = 0; s < input.sites.size(); ++s) {
        const std::int64_t households = input.sites[s].households;
        std::vector<Wkb> parts;
        if (static_cast<double>(households) > upper && upper > 0) {
            const auto count = static_cast<int>(
                std::min<double>(std::max(std::ceil(static_cast<double>(households) / upper),
                                          std::round(static_cast<double>(households) / std::max(target, 1.0))),
                                 static_cast<double>(households)));
            parts = algorithms::split_unit(input.site_areas[s], count);
        }
        if (parts.size() <= 1) {
            sites.push_back(input.sites[s]);
            areas.push_back(std::move(input.site_areas[s]));
            continue;
        }
        ++units;
        const auto n = static_cast<std::int64_t>(parts.size());
        pieces += n;
        for (std::int64_t i = 0; i < n; ++i) {
            const geos::Geom piece = geos::from_wkb(context, parts[static_cast<std::size_t>(i)]);
            sites.push_back({geos::point_on_surface(context, piece.get()),
                             households / n + (i < households % n ? 1 : 0), input.sites[s].building});
            areas.push_back(std::move(parts[static_cast<std::size_t>(i)]));
        }
    }
    input.sites = std::move(sites);
    input.site_areas = std::move(areas);
}

}  // namespace

// Long on purpose: four numbered steps (buildings to regions, sites per region, barriers near each
// region, the problems) share the per-building and per-region vectors they build. Steps 2 and 4 run
// region by region in parallel (a region's buildings and slots are its own), so the partition does
// not wait on one core for the towers' split locations and the barriers' tests.
RegionProblems region_problems(const City& city, const PartitionConfig& config) {
    RegionProblems problems;
    PartitionResult& result = problems.result;
    const std::size_t region_count = city.regions.size();
    const std::size_t building_count = city.buildings.size();
    result.building_region.assign(building_count, -1);
    result.building_grid.assign(building_count, -1);
    result.building_split.assign(building_count, {});
    result.building_split_households.assign(building_count, {});

    // 1. Each building to the first region containing its point.
    std::int64_t outside = 0;
    std::string outside_ids;
    const int id_field = city.buildings.field_index(config.building_id_field);
    auto building_label = [&](std::size_t b) {
        return id_field >= 0 ? std::to_string(city.buildings.fids[b]) + " (" + config.building_id_field + " " +
                                   [&] {
                                       const FieldValue& v = city.buildings.rows[b][static_cast<std::size_t>(id_field)];
                                       if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
                                       if (const auto* s = std::get_if<std::string>(&v)) return *s;
                                       return std::string("null");
                                   }() +
                                   ")"
                             : std::to_string(city.buildings.fids[b]);
    };
    const bool located = city.building_region.size() == building_count;  // by load_city, the same test
    std::optional<algorithms::RegionLocator> locator;
    if (!located) {
        std::vector<Wkb> boundaries;
        for (const Region& region : city.regions) boundaries.push_back(region.boundary);
        locator.emplace(std::move(boundaries));
    }
    std::vector<std::vector<std::uint32_t>> region_buildings(region_count);  // in building order
    for (std::size_t b = 0; b < building_count; ++b) {
        if (city.buildings.geometries[b].empty()) continue;
        const int r = located ? city.building_region[b] : locator->locate(city.building_points[b]);
        result.building_region[b] = r;
        if (r >= 0) region_buildings[static_cast<std::size_t>(r)].push_back(static_cast<std::uint32_t>(b));
        if (r < 0 && city.building_households[b] >= 0) {
            if (outside < 20) outside_ids += (outside_ids.empty() ? "" : ", ") + building_label(b);
            ++outside;
        }
    }
    if (outside > 0)
        result.warnings.push_back(std::to_string(outside) + " buildings lie outside every " + city.region_level +
                                  " and get no micro-grid; feature ids: " + outside_ids +
                                  (outside > 20 ? ", ..." : ""));

    // 2. Sites per region. Buildings larger than an entrance-sized piece are split (at least one
    // piece per unit): indivisible towers of 80-300 households would leave parts far off balance.
    const auto piece_limit = static_cast<std::int64_t>(config.split_piece_households > 0
                                                           ? config.split_piece_households
                                                           : std::max(1L, std::lround(config.target_households / 8.0)));
    std::vector<std::vector<algorithms::Site>> region_sites(region_count);
    std::vector<geos::Envelope> region_envelopes(region_count);
    result.regions.assign(region_count, RegionSummary{});
    // Sites around one point (a point building's pieces, or buildings geocoded to one address) lie
    // on a sunflower spiral a few centimetres across, so each gets a Voronoi cell of its own and
    // micro-grids can divide them (stacked, they were one cell: a micro-grid 808 % over target).
    // `spiral_start`: per building, the first spiral position its sites take at its point (0 but
    // for the second and later buildings at one point, in building order); the first building at
    // a point that is not split keeps the point exactly. Buildings at one point share its region.
    constexpr double kGoldenAngle = 2.399963229728653;
    constexpr double kSpacing = 0.05;  // metres: close enough that no road runs between them
    const auto on_spiral = [&](Point centre, int index) {
        const double radius = kSpacing * std::sqrt(index + 0.5), angle = kGoldenAngle * index;
        return Point{centre.x + radius * std::cos(angle), centre.y + radius * std::sin(angle)};
    };
    const auto pieces_of = [&](std::size_t b) {
        const std::int64_t households = city.building_households[b];
        return households <= piece_limit ? 1
                                         : static_cast<int>(std::max<std::int64_t>(
                                               city.building_units[b], (households + piece_limit - 1) / piece_limit));
    };
    std::vector<int> spiral_start(building_count, 0);
    // Units mode: each building polygon is one site, whole, at its point (never split or spread).
    const bool areas = config.units == "areas";
    std::vector<std::vector<Wkb>> region_areas(areas ? region_count : 0);
    // The first building of a region that units mode refuses, by building order (the same error
    // for any thread count).
    std::vector<std::size_t> refused(region_count, building_count);
    tbb::enumerable_thread_specific<geos::Context> contexts;
    auto sites_of_region = [&](std::size_t r) {
        const geos::Context& context = contexts.local();
        const geos::Geom region_shape = geos::from_wkb(context, city.regions[r].boundary);
        region_envelopes[r] = geos::envelope(context, region_shape.get());
        std::optional<geos::Prepared> region_prepared;  // for split buildings only
        const std::vector<std::uint32_t>& buildings = region_buildings[r];
        {
            std::vector<std::uint32_t> order = buildings;
            const auto point_less = [&](std::uint32_t a, std::uint32_t b) {
                const Point p = city.building_points[a], q = city.building_points[b];
                return p.x != q.x ? p.x < q.x : p.y != q.y ? p.y < q.y : a < b;
            };
            std::sort(order.begin(), order.end(), point_less);
            for (std::size_t i = 1; i < order.size(); ++i) {
                const Point p = city.building_points[order[i - 1]], q = city.building_points[order[i]];
                if (p.x == q.x && p.y == q.y)
                    spiral_start[order[i]] = spiral_start[order[i - 1]] + pieces_of(order[i - 1]);
            }
        }
        auto& sites = region_sites[r];
        RegionSummary& summary = result.regions[r];
        for (const std::uint32_t b : buildings) {
            const std::int64_t households = city.building_households[b];
            summary.households += households;
            summary.buildings += 1;
            const int type = wkb_geometry_type(city.buildings.geometries[b]);
            if (areas) {
                if (type != 3 && type != 6) {
                    refused[r] = b;
                    return;
                }
                sites.push_back({city.building_points[b], households, b});
                region_areas[r].push_back(city.buildings.geometries[b]);
                continue;
            }
            if (households <= piece_limit) {
                const Point at = city.building_points[b];
                sites.push_back({spiral_start[b] == 0 ? at : on_spiral(at, spiral_start[b]), households, b});
                continue;
            }
            const int pieces = pieces_of(b);
            std::vector<Point> locations;
            if (type == 1 || type == 4) {
                // A point: its pieces on the spiral (not a circle: cocircular sites make Voronoi
                // cells degenerate), after any sites already around the point.
                for (int i = 0; i < pieces; ++i)
                    locations.push_back(on_spiral(city.building_points[b], spiral_start[b] + i));
            } else {
                locations = algorithms::split_locations(city.buildings.geometries[b], pieces);
            }
            if (!region_prepared) region_prepared.emplace(geos::prepare(context, region_shape.get()));
            for (int i = 0; i < pieces; ++i) {
                const std::int64_t share = households / pieces + (i < households % pieces ? 1 : 0);
                // A building straddling the region's edge keeps its outside pieces at its own
                // point, inside the region: they must not start a piece of land it does not reach.
                Point location = locations[static_cast<std::size_t>(i)];
                const geos::Geom probe = geos::point(context, location);
                if (!geos::prepared_intersects(context, *region_prepared, probe.get()))
                    location = city.building_points[b];
                sites.push_back({location, share, b});
            }
        }
    };
    algorithms::with_threads(config.threads, [&] {
        tbb::parallel_for(std::size_t{0}, region_count, [&](std::size_t r) { sites_of_region(r); });
    });
    if (const auto first = std::min_element(refused.begin(), refused.end());
        first != refused.end() && *first < building_count)
        throw InputError(kStage, city.buildings.source + ", layer '" + city.buildings.layer +
                                     "': --units areas keeps input polygons whole, but feature " +
                                     building_label(*first) + " is not a polygon: give polygons, or --units buildings");

    // 3. Barriers near each region (by envelope; the region clips them exactly).
    auto envelopes_of = [&](const std::vector<Wkb>& geometries) {
        std::vector<geos::Envelope> envelopes(geometries.size());
        algorithms::with_threads(config.threads, [&] {
            tbb::parallel_for(std::size_t{0}, geometries.size(), [&](std::size_t i) {
                const geos::Context& context = contexts.local();
                envelopes[i] = geos::envelope(context, geos::from_wkb(context, geometries[i]).get());
            });
        });
        return envelopes;
    };
    const auto hard_line_envelopes = envelopes_of(city.hard_lines);
    const auto hard_area_envelopes = envelopes_of(city.hard_areas);
    const auto soft_line_envelopes = envelopes_of(city.soft_lines);
    // Those that meet the region's envelope itself, not only with theirs: a shard's read keeps
    // exactly these (GDAL's spatial filter tests the geometry), so a shard and the city agree.
    auto nearby = [&](const std::vector<Wkb>& geometries, const std::vector<geos::Envelope>& envelopes,
                      const geos::Envelope& region) {
        const geos::Context& context = contexts.local();
        std::vector<Wkb> result_geometries;
        for (std::size_t i = 0; i < geometries.size(); ++i) {
            if (!envelopes[i].intersects(region)) continue;
            const bool inside = envelopes[i].min_x >= region.min_x && envelopes[i].max_x <= region.max_x &&
                                envelopes[i].min_y >= region.min_y && envelopes[i].max_y <= region.max_y;
            if (!inside && !geos::meets_box(context, geos::from_wkb(context, geometries[i]).get(), region)) continue;
            result_geometries.push_back(geometries[i]);
        }
        return result_geometries;
    };

    std::vector<std::int64_t> region_households(region_count);
    for (std::size_t r = 0; r < region_count; ++r) region_households[r] = result.regions[r].households;
    if (config.micro_grid_count > 0) {
        const std::int64_t total = std::accumulate(region_households.begin(), region_households.end(), std::int64_t{0});
        if (config.micro_grid_count > total)
            throw ConfigError("engine.partition", "--micro-grids " + std::to_string(config.micro_grid_count) +
                                                      " is more than the city's " + std::to_string(total) +
                                                      " households: at most one micro-grid per household");
    }
    const std::vector<int> counts = requested_counts(region_households, city.regions, config);
    const std::vector<int> grid_counts = requested_grid_counts(region_households, city.regions, config, counts);
    for (std::size_t r = 0; r < region_count; ++r) {
        result.regions[r].requested = counts[r];
        result.requested += counts[r];
    }

    // 4. The problem of each region, as the algorithms see it.
    problems.inputs.resize(region_count);
    std::vector<char> without_grids(region_count, 0);
    std::vector<std::pair<std::int64_t, std::int64_t>> split(region_count);  // units mode: units, pieces
    auto problem_of_region = [&](std::size_t r) {
        algorithms::RegionInput& input = problems.inputs[r];
        input.boundary = city.regions[r].boundary;
        input.sites = std::move(region_sites[r]);
        if (areas) input.site_areas = std::move(region_areas[r]);
        input.hard_lines = nearby(city.hard_lines, hard_line_envelopes, region_envelopes[r]);
        input.hard_areas = nearby(city.hard_areas, hard_area_envelopes, region_envelopes[r]);
        input.soft_lines = nearby(city.soft_lines, soft_line_envelopes, region_envelopes[r]);
        input.micro_grid_count = counts[r];
        // By the region's code alone, not its place in the list or its feature id: a shard of a
        // distributed run (a district's regions alone) and the same data in another format (a
        // GeoDataFrame, a Shapefile) draw the same numbers as the whole city from its file.
        input.seed = config.seed ^ hash_text(city.regions[r].code);
        // Count mode aims at the households per micro-grid the count implies.
        const bool counted = config.micro_grid_count > 0 || city.regions[r].requested_count > 0;
        input.options.target_households = counted && region_households[r] > 0 && counts[r] > 0
                                              ? static_cast<double>(region_households[r]) / counts[r]
                                              : config.target_households;
        input.options.tolerance = config.tolerance;
        input.options.min_households = config.min_households;
        input.options.max_households = config.max_households;
        input.options.hard_min_households = config.hard_min_households;
        // A grid must hold two micro-grids at least: a grid level of one micro-grid per grid (a
        // target near --grid-households) is no level at all, so it is turned off, and said.
        input.options.grid_households = config.grid_households;
        if (config.grid_households > 0 && config.grid_count <= 0 &&
            config.grid_households < 2 * input.options.target_households) {
            input.options.grid_households = 0;
            without_grids[r] = 1;
        }
        input.options.grid_count = grid_counts[r];
        input.options.soft_barrier_weight = config.soft_barrier_weight;
        input.options.compactness = config.compactness;
        result.regions[r].target = input.options.target_households;
        if (areas && config.split_large_units) split_large_units(input, split[r].first, split[r].second);
    };
    algorithms::with_threads(config.threads, [&] {
        tbb::parallel_for(std::size_t{0}, region_count, [&](std::size_t r) { problem_of_region(r); });
    });
    const auto regions_without_grids = std::count(without_grids.begin(), without_grids.end(), 1);
    std::int64_t split_units = 0, split_pieces = 0;
    for (const auto& [units, pieces] : split) {
        split_units += units;
        split_pieces += pieces;
    }
    if (split_units > 0)
        result.warnings.push_back(std::to_string(split_units) + " units with more households than the upper bound " +
                                  "were split into " + std::to_string(split_pieces) +
                                  " pieces (--split-large-units); the output's split_micro_grids lists their "
                                  "micro-grids");
    if (regions_without_grids > 0)
        result.warnings.push_back("no grid level in " + std::to_string(regions_without_grids) + " of " +
                                  std::to_string(region_count) + " " + city.region_level +
                                  " regions: --grid-households " + number_text(config.grid_households) +
                                  " is less than two micro-grids of their target; give --grid-households at least "
                                  "twice the target (or 0 for none)");
    problems.region_envelopes = std::move(region_envelopes);
    return problems;
}

// The best balance the same count allows (the quality report's upper bounds), for region `r`
// partitioned as `region_result`. Every site (a building, a piece of a split tower, a unit in units
// mode) lies whole in one micro-grid of its piece, so the bound knows each piece's sites, not only
// its households (issue 16: "buildings split only as civgrid splits them").
void set_best_within(RegionSummary& summary, const algorithms::RegionInput& input,
                     const algorithms::RegionResult& region_result) {
    const std::size_t k = region_result.micro_grids.size();
    std::vector<std::vector<std::int64_t>> piece_units;
    const std::vector<algorithms::Site>& sites = input.sites;
    for (std::size_t s = 0; s < sites.size() && s < region_result.site_micro_grid.size(); ++s) {
        const int grid = region_result.site_micro_grid[s];
        if (grid < 0 || sites[s].households <= 0) continue;
        const auto piece =
            static_cast<std::size_t>(std::max(region_result.micro_grids[static_cast<std::size_t>(grid)].piece, 0));
        if (piece >= piece_units.size()) piece_units.resize(piece + 1);
        piece_units[piece].push_back(sites[s].households);
    }
    std::erase_if(piece_units, [](const std::vector<std::int64_t>& units) { return units.empty(); });
    const double target = summary.target;
    const double lower = input.options.lower(), upper = input.options.upper();
    summary.best_within_10 = k == 0 ? 0 : algorithms::best_within_whole(piece_units, static_cast<int>(k), target);
    summary.best_within_10_in_bounds =
        k == 0 ? 0 : algorithms::best_within_whole_bounded(piece_units, static_cast<int>(k), target, lower, upper);
}

PartitionResult partition_city(const City& city, const PartitionConfig& config, RunControl* control) {
    RegionProblems problems = region_problems(city, config);
    PartitionResult result = std::move(problems.result);
    const std::size_t region_count = city.regions.size();
    if (control != nullptr) control->begin("partition", region_count);
    const auto& region_envelopes = problems.region_envelopes;

    // Regions in parallel; each writes only its own slot, so the result is independent of threads.
    // Largest first (by sites), each worker taking the next region as it finishes one: a large
    // region started last would keep one core busy while the other idles.
    std::vector<algorithms::RegionResult> region_results(region_count);
    std::vector<std::string> region_errors(region_count);
    std::vector<std::size_t> largest_first(region_count);
    std::iota(largest_first.begin(), largest_first.end(), std::size_t{0});
    std::stable_sort(largest_first.begin(), largest_first.end(), [&](std::size_t a, std::size_t b) {
        return problems.inputs[a].sites.size() > problems.inputs[b].sites.size();
    });
    auto partition_one = [&](std::size_t r) {
        if (control != nullptr && control->cancelled()) return;  // reported below
        try {
            region_results[r] = config.units == "areas" ? algorithms::partition_units(problems.inputs[r])
                                                        : algorithms::partition_region(problems.inputs[r]);
            set_best_within(result.regions[r], problems.inputs[r], region_results[r]);  // in parallel too
        } catch (const Error& error) {
            region_errors[r] = error.what();
        }
        if (control != nullptr) control->step();
    };
    auto work = [&] {
        std::atomic<std::size_t> next{0};
        tbb::task_group workers;
        for (int w = 0; w < tbb::this_task_arena::max_concurrency(); ++w)
            workers.run([&] {
                for (std::size_t i = next++; i < region_count; i = next++) partition_one(largest_first[i]);
            });
        workers.wait();
    };
    algorithms::with_threads(config.threads, work);
    if (control != nullptr) control->check(kStage);
    for (std::size_t r = 0; r < region_count; ++r)
        if (!region_errors[r].empty())
            throw InputError(kStage, city.region_level + " '" + city.regions[r].code + "' (feature " +
                                         std::to_string(city.regions[r].feature_id) + "): " + region_errors[r]);

    // 5. Numbering, rows north to south and west to east within a row: community code + sequence,
    // or with grids, community code + grid sequence + sequence in the grid.
    auto sequence_text = [](std::size_t index, std::size_t width) {
        std::string sequence = std::to_string(index + 1);
        sequence.insert(0, width > sequence.size() ? width - sequence.size() : 0, '0');
        return sequence;
    };
    for (std::size_t r = 0; r < region_count; ++r) {
        algorithms::RegionResult& region_result = region_results[r];
        const geos::Envelope& envelope = region_envelopes[r];
        const std::size_t k = region_result.micro_grids.size();
        const double area = (envelope.max_x - envelope.min_x) * (envelope.max_y - envelope.min_y);
        // Items in reading order: rows about one item high (`per_region` items of that kind tile
        // the region), north to south, then west to east.
        auto reading_order = [&](const std::vector<std::size_t>& items, const auto& label_of, std::size_t per_region) {
            const double row_height =
                std::max(1.0, std::sqrt(area / static_cast<double>(std::max<std::size_t>(per_region, 1))));
            std::vector<std::size_t> order = items;
            auto row = [&](std::size_t i) {
                return static_cast<long>(std::floor((envelope.max_y - label_of(i).y) / row_height));
            };
            std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
                const long ra = row(a), rb = row(b);
                if (ra != rb) return ra < rb;
                return label_of(a).x < label_of(b).x;
            });
            return order;
        };
        auto micro_label = [&](std::size_t g) { return region_result.micro_grids[g].label_point; };
        std::vector<int> new_index(k);
        auto add_micro_grid = [&](std::size_t g, std::string id, int grid) {
            MicroGrid micro_grid;
            micro_grid.id = std::move(id);
            micro_grid.region = static_cast<int>(r);
            micro_grid.grid = grid;
            micro_grid.shape = std::move(region_result.micro_grids[g]);
            new_index[g] = static_cast<int>(result.micro_grids.size());
            result.micro_grids.push_back(std::move(micro_grid));
        };
        if (region_result.grids.empty()) {
            std::vector<std::size_t> all(k);
            std::iota(all.begin(), all.end(), std::size_t{0});
            const std::size_t width = std::max<std::size_t>(3, std::to_string(k).size());
            const std::vector<std::size_t> order = reading_order(all, micro_label, k);
            for (std::size_t i = 0; i < k; ++i)
                add_micro_grid(order[i], city.regions[r].code + sequence_text(i, width), -1);
        } else {
            const std::size_t grid_count = region_result.grids.size();
            std::vector<std::vector<std::size_t>> members(grid_count);
            std::size_t most = 0;
            for (std::size_t g = 0; g < k; ++g)
                members[static_cast<std::size_t>(region_result.micro_grids[g].grid)].push_back(g);
            for (const auto& m : members) most = std::max(most, m.size());
            std::vector<std::size_t> all_grids(grid_count);
            std::iota(all_grids.begin(), all_grids.end(), std::size_t{0});
            const std::vector<std::size_t> grid_order = reading_order(
                all_grids, [&](std::size_t g) { return region_result.grids[g].label_point; }, grid_count);
            const std::size_t grid_width = std::max<std::size_t>(2, std::to_string(grid_count).size());
            const std::size_t micro_width = std::max<std::size_t>(2, std::to_string(most).size());
            for (std::size_t i = 0; i < grid_count; ++i) {
                Grid grid;
                grid.id = city.regions[r].code + sequence_text(i, grid_width);
                grid.region = static_cast<int>(r);
                grid.shape = std::move(region_result.grids[grid_order[i]]);
                const int grid_index = static_cast<int>(result.grids.size());
                const std::vector<std::size_t> order = reading_order(members[grid_order[i]], micro_label, k);
                for (std::size_t j = 0; j < order.size(); ++j)
                    add_micro_grid(order[j], grid.id + sequence_text(j, micro_width), grid_index);
                result.grids.push_back(std::move(grid));
            }
            result.regions[r].grids = static_cast<int>(grid_count);
        }
        result.regions[r].micro_grids = static_cast<int>(k);
        result.regions[r].pieces = region_result.pieces;
        result.regions[r].faces = region_result.faces;
        // Sites back to buildings: a split building takes the micro-grid holding most of it.
        const auto& sites = problems.inputs[r].sites;
        std::size_t s = 0;
        while (s < sites.size()) {
            const std::uint32_t b = sites[s].building;
            std::vector<std::pair<int, std::int64_t>> shares;
            for (; s < sites.size() && sites[s].building == b; ++s) {
                const int g = new_index[static_cast<std::size_t>(region_result.site_micro_grid[s])];
                auto it = std::find_if(shares.begin(), shares.end(), [g](const auto& p) { return p.first == g; });
                if (it == shares.end())
                    shares.emplace_back(g, sites[s].households);
                else
                    it->second += sites[s].households;
            }
            place_building(result, b, std::move(shares));
        }
    }
    return result;
}

double effective_target(const PartitionResult& result, const PartitionConfig& config) {
    if (config.micro_grid_count <= 0) return config.target_households;
    std::int64_t households = 0;
    for (const RegionSummary& region : result.regions) households += region.households;
    return static_cast<double>(households) / static_cast<double>(config.micro_grid_count);
}

algorithms::QualityReport assess(const City& city, const PartitionResult& result, const PartitionConfig& config) {
    algorithms::QualityInput input;
    input.target_households = effective_target(result, config);
    input.tolerance = config.tolerance;
    input.requested = result.requested;
    input.threads = config.threads;
    for (const Region& region : city.regions) input.regions.push_back(region.boundary);
    constexpr std::uint8_t kForced = static_cast<std::uint8_t>(algorithms::Flag::forced_by_boundaries) |
                                     static_cast<std::uint8_t>(algorithms::Flag::large_building) |
                                     static_cast<std::uint8_t>(algorithms::Flag::no_households);
    for (const MicroGrid& grid : result.micro_grids)
        input.micro_grids.push_back(
            {grid.shape.polygon, grid.region, grid.shape.households, (grid.shape.flags & kForced) != 0,
             result.regions[static_cast<std::size_t>(grid.region)].target,
             (grid.shape.flags & static_cast<std::uint8_t>(algorithms::Flag::out_of_bounds)) != 0,
             (grid.shape.flags & static_cast<std::uint8_t>(algorithms::Flag::multipart)) != 0});
    for (const Grid& grid : result.grids)
        input.grids.push_back({grid.shape.polygon, grid.shape.households,
                               grid.shape.micro_grids * result.regions[static_cast<std::size_t>(grid.region)].target});
    input.building_points = city.building_points;
    input.building_grid = result.building_grid;
    input.building_households = city.building_households;
    input.barriers = city.hard_lines;
    input.barriers.insert(input.barriers.end(), city.hard_areas.begin(), city.hard_areas.end());
    for (std::size_t r = 0; r < city.regions.size(); ++r) {
        input.region_best_within_10.push_back(result.regions[r].best_within_10);
        input.region_best_within_10_in_bounds.push_back(result.regions[r].best_within_10_in_bounds);
        input.region_codes.push_back(city.regions[r].code);
    }
    return algorithms::compute_quality(input);
}

}  // namespace civgrid::engine
