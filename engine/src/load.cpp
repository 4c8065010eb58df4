#include "values.hpp"

#include <civgrid/algorithms/geos.hpp>
#include <civgrid/engine/pipeline.hpp>
#include <civgrid/error.hpp>

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <limits>
#include <optional>

namespace civgrid::engine {

namespace {

constexpr const char* kStage = "engine.load";

// Resolves a role to a layer: the explicit source, else the standard layer of the city file.
std::optional<io::LayerSpec> resolve(const PartitionConfig& config, const LayerSource& source, const std::string& role,
                                     const std::vector<std::string>& city_layers) {
    if (source.given()) {
        io::LayerSpec spec = io::parse_layer_spec(source.path);
        if (!source.layer.empty()) spec.layer = source.layer;
        return spec;
    }
    if (config.city.empty()) return std::nullopt;
    const std::string name = source.layer.empty() ? role : source.layer;
    if (std::find(city_layers.begin(), city_layers.end(), name) == city_layers.end()) return std::nullopt;
    return io::LayerSpec{config.city, name};
}

std::string describe(const io::FeatureTable& table) {
    return table.source + ":" + table.layer + " (" + std::to_string(table.size()) + " features)";
}

int required_field(const io::FeatureTable& table, const std::string& field, const std::string& option) {
    const int index = table.field_index(field);
    if (index >= 0) return index;
    std::string available;
    for (const Field& f : table.fields) available += (available.empty() ? "" : ", ") + f.name;
    throw InputError(kStage, table.source + ", layer '" + table.layer + "': no field '" + field + "' (set it with " +
                                 option + "; fields are: " + available + ")");
}

std::vector<Region> read_regions(const io::FeatureTable& table, const std::string& level, const PartitionConfig& config,
                                 std::vector<std::string>& warnings) {
    const std::string& code_field = level == "community" ? config.community_code_field
                                    : level == "street"  ? config.street_code_field
                                                         : config.district_code_field;
    const std::string option = level == "community" ? "--community-code-field"
                               : level == "street"  ? "--street-code-field"
                                                    : "--district-code-field";
    const int code = required_field(table, code_field, option);
    const int name = table.field_index(config.name_field);
    const int count = config.count_field.empty() ? -1 : required_field(table, config.count_field, "--count-field");
    const int grid_count =
        config.grid_count_field.empty() ? -1 : required_field(table, config.grid_count_field, "--grid-count-field");
    const int street = level == "community" ? table.field_index(config.street_code_field) : -1;
    const int district = level != "district" ? table.field_index(config.district_code_field) : code;
    std::vector<Region> regions;
    std::string skipped;
    for (std::size_t i = 0; i < table.size(); ++i) {
        if (table.geometries[i].empty()) {  // cannot be split; said in the warnings, never silently
            skipped += (skipped.empty() ? "" : ", ") + std::to_string(table.fids[i]);
            continue;
        }
        Region region;
        region.code = as_text(table.rows[i][static_cast<std::size_t>(code)]);
        if (region.code.empty()) region.code = "F" + std::to_string(table.fids[i]);
        if (name >= 0) region.name = as_text(table.rows[i][static_cast<std::size_t>(name)]);
        if (street >= 0) region.street_code = as_text(table.rows[i][static_cast<std::size_t>(street)]);
        if (level == "street") region.street_code = region.code;
        if (district >= 0) region.district_code = as_text(table.rows[i][static_cast<std::size_t>(district)]);
        if (count >= 0) {
            const std::optional<std::int64_t> wanted = as_integer(table.rows[i][static_cast<std::size_t>(count)]);
            if (wanted && *wanted > 0)
                region.requested_count = static_cast<int>(std::min<std::int64_t>(*wanted, 1'000'000));
            else
                warnings.push_back(table.source + ", layer '" + table.layer + "', feature " +
                                   std::to_string(table.fids[i]) + ", field '" + config.count_field +
                                   "': no positive count, the target decides");
        }
        if (grid_count >= 0) {
            const std::optional<std::int64_t> wanted = as_integer(table.rows[i][static_cast<std::size_t>(grid_count)]);
            if (wanted && *wanted > 0)
                region.requested_grids = static_cast<int>(std::min<std::int64_t>(*wanted, 1'000'000));
            else
                warnings.push_back(table.source + ", layer '" + table.layer + "', feature " +
                                   std::to_string(table.fids[i]) + ", field '" + config.grid_count_field +
                                   "': no positive grid count, --grid-households decides");
        }
        region.boundary = table.geometries[i];
        region.feature_id = table.fids[i];
        regions.push_back(std::move(region));
    }
    if (!skipped.empty())
        warnings.push_back(table.source + ", layer '" + table.layer +
                           "': features without geometry are left out (feature ids " + skipped + ")");
    return regions;
}

// A layer of points (workers, stations): the table and a point per feature (NaN without geometry,
// said in the warnings with the feature ids).
void read_points(const std::optional<io::LayerSpec>& spec, const io::ReadOptions& options, const std::string& role,
                 City& city, io::FeatureTable& table, std::vector<Point>& points) {
    if (!spec) return;
    table = io::read_layer(*spec, options);
    city.inputs.emplace_back(role, describe(table));
    geos::Context context;
    std::string missing;
    std::int64_t missing_count = 0;
    points.resize(table.size());
    for (std::size_t i = 0; i < table.size(); ++i) {
        if (table.geometries[i].empty()) {
            if (++missing_count <= 20) missing += (missing.empty() ? "" : ", ") + std::to_string(table.fids[i]);
            points[i] = {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN()};
            continue;
        }
        const geos::Geom geometry = geos::from_wkb(context, table.geometries[i]);
        points[i] = GEOSGeomTypeId_r(context.handle(), geometry.get()) == GEOS_POINT
                        ? geos::point_xy(context, geometry.get())
                        : geos::point_on_surface(context, geometry.get());
    }
    if (missing_count > 0)
        city.warnings.push_back(table.source + ", layer '" + table.layer + "': " + std::to_string(missing_count) + " " +
                                role + " without geometry are left out (feature ids " + missing +
                                (missing_count > 20 ? ", ..." : "") + ")");
}

}  // namespace

City load_city(const PartitionConfig& config) {
    if (config.target_households <= 0) throw ConfigError(kStage, "--target-households must be positive");
    if (config.tolerance < 0 || config.tolerance >= 1) throw ConfigError(kStage, "--tolerance must be in [0, 1)");
    if (!config.region_level.empty() && config.region_level != "community" && config.region_level != "street" &&
        config.region_level != "district" && config.region_level != "city")
        throw ConfigError(kStage,
                          "--level must be community, street, district or city, not '" + config.region_level + "'");
    if (config.grid_count < 0) throw ConfigError(kStage, "--grids must not be negative");
    if (config.min_households < 0 || config.max_households < 0 || config.hard_min_households < 0 ||
        config.grid_households < 0)
        throw ConfigError(
            kStage,
            "--min-households, --max-households, --hard-min-households and --grid-households must not be negative");
    if (config.max_households > 0 && config.min_households > config.max_households)
        throw ConfigError(kStage, "--min-households " + std::to_string(config.min_households) +
                                      " is above --max-households " + std::to_string(config.max_households));
    if (config.max_households > 0 && config.max_households < config.target_households)
        throw ConfigError(kStage, "--max-households is below the target");
    if (config.min_households > config.target_households)
        throw ConfigError(kStage, "--min-households is above the target");
    const std::vector<std::string> city_layers =
        config.city.empty() ? std::vector<std::string>{} : io::list_layers(config.city);
    const auto buildings_spec = resolve(config, config.buildings, "buildings", city_layers);
    if (!buildings_spec)
        throw ConfigError(kStage,
                          config.city.empty()
                              ? "no buildings given: pass a city file or --buildings FILE[:LAYER]"
                              : "'" + config.city + "' has no layer 'buildings' (pass --buildings FILE[:LAYER])");

    City city;
    city.crs = config.working_crs.empty()
                   ? io::choose_metric_crs(io::geographic_extent(*buildings_spec, config.assume_crs))
                   : config.working_crs;
    io::ReadOptions options;
    options.target_crs = city.crs;
    options.assume_crs = config.assume_crs;
    options.coordinate_grid = config.coordinate_grid;

    // Buildings: polygons or points, households per feature.
    options.accepted_families = {"polygon", "point"};
    city.buildings = io::read_layer(*buildings_spec, options);
    city.inputs.emplace_back("buildings", describe(city.buildings));
    const io::FeatureTable& buildings = city.buildings;
    const int households_field = required_field(buildings, config.households_field, "--households-field");
    const int units_field = config.units_field.empty() ? -1 : buildings.field_index(config.units_field);
    const int residents_field = config.residents_field.empty() ? -1 : buildings.field_index(config.residents_field);
    city.building_households.resize(buildings.size());
    city.building_units.resize(buildings.size(), 1);
    std::int64_t bad_households = 0;
    std::string bad_example;
    for (std::size_t i = 0; i < buildings.size(); ++i) {
        const auto households = as_integer(buildings.rows[i][static_cast<std::size_t>(households_field)]);
        if (!households || *households < 0) {
            if (bad_households++ == 0)
                bad_example = "feature " + std::to_string(buildings.fids[i]) + " has '" +
                              as_text(buildings.rows[i][static_cast<std::size_t>(households_field)]) + "'";
        }
        city.building_households[i] = households && *households > 0 ? *households : 0;
        if (units_field >= 0) {
            const auto units = as_integer(buildings.rows[i][static_cast<std::size_t>(units_field)]);
            city.building_units[i] = units && *units > 0 ? static_cast<int>(std::min<std::int64_t>(*units, 1000)) : 1;
        }
    }
    if (bad_households > 0)
        city.warnings.push_back(buildings.source + ", layer '" + buildings.layer + "', field '" +
                                config.households_field + "': " + std::to_string(bad_households) +
                                " null, negative or non-numeric values counted as 0 households (" + bad_example + ")");

    // Residents: the buildings' own figure where there is one, else households x persons per household.
    city.building_residents.resize(buildings.size());
    for (std::size_t i = 0; i < buildings.size(); ++i) {
        const auto residents = residents_field >= 0
                                   ? as_integer(buildings.rows[i][static_cast<std::size_t>(residents_field)])
                                   : std::nullopt;
        city.building_residents[i] = residents && *residents >= 0 ? static_cast<double>(*residents)
                                                                  : static_cast<double>(city.building_households[i]) *
                                                                        config.persons_per_household;
    }

    // A point inside each building, in parallel (one GEOS context per thread).
    city.building_points.resize(buildings.size());
    std::vector<char> null_geometry(buildings.size(), 0);
    tbb::enumerable_thread_specific<geos::Context> contexts;
    auto locate = [&] {
        tbb::parallel_for(tbb::blocked_range<std::size_t>(0, buildings.size(), 2048),
                          [&](const tbb::blocked_range<std::size_t>& range) {
                              const geos::Context& context = contexts.local();
                              for (std::size_t i = range.begin(); i < range.end(); ++i) {
                                  if (buildings.geometries[i].empty()) {
                                      null_geometry[i] = 1;
                                      continue;
                                  }
                                  const geos::Geom geometry = geos::from_wkb(context, buildings.geometries[i]);
                                  if (geos::is_empty(context, geometry.get())) {
                                      null_geometry[i] = 1;
                                      continue;
                                  }
                                  city.building_points[i] =
                                      GEOSGeomTypeId_r(context.handle(), geometry.get()) == GEOS_POINT
                                          ? geos::point_xy(context, geometry.get())
                                          : geos::point_on_surface(context, geometry.get());
                              }
                          });
    };
    if (config.threads > 0)
        tbb::task_arena(config.threads).execute(locate);
    else
        locate();
    const auto nulls = std::count(null_geometry.begin(), null_geometry.end(), 1);
    if (nulls > 0) {
        for (std::size_t i = 0; i < buildings.size(); ++i)
            if (null_geometry[i]) city.building_households[i] = 0;
        city.warnings.push_back(buildings.source + ", layer '" + buildings.layer + "': " + std::to_string(nulls) +
                                " buildings without geometry are left out of every micro-grid");
    }

    // Regions: the level asked for, or the finest admin level given.
    options.accepted_families = {"polygon"};
    for (const auto& [level, source] : {std::pair<std::string, const LayerSource*>{"community", &config.communities},
                                        {"street", &config.streets},
                                        {"district", &config.districts}}) {
        if (!config.region_level.empty() && config.region_level != level) continue;
        const std::string role = level == "community" ? "communities" : level == "street" ? "streets" : "districts";
        const auto spec = resolve(config, *source, role, city_layers);
        if (!spec) {
            if (!config.region_level.empty())
                throw ConfigError(kStage,
                                  "--level " + level + ": no " + role + " layer (pass --" + role + " FILE[:LAYER])");
            continue;
        }
        const io::FeatureTable table = io::read_layer(*spec, options);
        city.inputs.emplace_back(role, describe(table));
        city.regions = read_regions(table, level, config, city.warnings);
        city.region_level = level;
        break;
    }
    if (city.regions.empty()) {
        // No admin layer: the whole city (the buildings' extent with a margin) is one region.
        geos::Context context;
        double min_x = 1e300, min_y = 1e300, max_x = -1e300, max_y = -1e300;
        for (std::size_t i = 0; i < buildings.size(); ++i) {
            if (null_geometry[i]) continue;
            const geos::Geom geometry = geos::from_wkb(context, buildings.geometries[i]);
            const geos::Envelope e = geos::envelope(context, geometry.get());
            min_x = std::min(min_x, e.min_x), min_y = std::min(min_y, e.min_y);
            max_x = std::max(max_x, e.max_x), max_y = std::max(max_y, e.max_y);
        }
        if (min_x > max_x)
            throw InputError(kStage,
                             buildings.source + ", layer '" + buildings.layer + "': no building has a geometry");
        constexpr double kMargin = 50.0;
        const geos::Geom box = geos::polygon(context, {{min_x - kMargin, min_y - kMargin},
                                                       {max_x + kMargin, min_y - kMargin},
                                                       {max_x + kMargin, max_y + kMargin},
                                                       {min_x - kMargin, max_y + kMargin}});
        city.regions.push_back(Region{"", "city", "", "", geos::to_wkb(context, box.get()), -1});
        city.region_level = "city";
    }

    // Barriers.
    options.accepted_families = {"line", "polygon"};
    auto read_barriers = [&](const LayerSource& source, const std::string& role, const BarrierRule& rule,
                             bool soft_rest) {
        const auto spec = resolve(config, source, role, city_layers);
        if (!spec) return;
        io::ReadOptions hard_options = options;
        if (rule.disabled()) {
            if (!soft_rest) return;
            const io::FeatureTable all = io::read_layer(*spec, options);
            city.inputs.emplace_back(role, describe(all) + ", all soft");
            for (const Wkb& g : all.geometries) city.soft_lines.push_back(g);
            return;
        }
        hard_options.attribute_filter = rule.filter;
        const io::FeatureTable hard = io::read_layer(*spec, hard_options);
        city.inputs.emplace_back(role, describe(hard) + (rule.filter.empty() ? "" : " hard where " + rule.filter));
        for (const Wkb& g : hard.geometries) {
            if (g.empty()) continue;
            const int type = wkb_geometry_type(g);
            (type == 3 || type == 6 ? city.hard_areas : city.hard_lines).push_back(g);
        }
        if (soft_rest && !rule.filter.empty()) {
            const io::FeatureTable all = io::read_layer(*spec, options);
            std::vector<std::int64_t> hard_ids = hard.fids;
            std::sort(hard_ids.begin(), hard_ids.end());
            for (std::size_t i = 0; i < all.size(); ++i)
                if (!all.geometries[i].empty() && !std::binary_search(hard_ids.begin(), hard_ids.end(), all.fids[i]))
                    city.soft_lines.push_back(all.geometries[i]);
        }
    };
    read_barriers(config.roads, "roads", config.hard_roads, true);
    read_barriers(config.rivers, "rivers", config.hard_rivers, false);
    read_barriers(config.railways, "railways", config.hard_railways, false);

    // Workers (a home each) and stations: points; a polygon stands for its point on surface.
    options.accepted_families = {"point", "polygon"};
    if (config.staffing) {
        read_points(resolve(config, config.workers, "workers", city_layers), options, "workers", city, city.workers,
                    city.worker_points);
        read_points(resolve(config, config.stations, "stations", city_layers), options, "stations", city, city.stations,
                    city.station_points);
        read_points(resolve(config, config.facilities, "facilities", city_layers), options, "facilities", city,
                    city.facilities, city.facility_points);
        read_points(resolve(config, config.work_areas, "work_areas", city_layers), options, "work_areas", city,
                    city.work_areas, city.work_area_points);
    }
    return city;
}

void load_staff_layers(City& city, const PartitionConfig& config) {
    const std::vector<std::string> city_layers =
        config.city.empty() ? std::vector<std::string>{} : io::list_layers(config.city);
    io::ReadOptions options;
    options.target_crs = city.crs;
    options.assume_crs = config.assume_crs;
    options.coordinate_grid = config.coordinate_grid;
    options.accepted_families = {"point", "polygon"};
    city.workers = {}, city.stations = {}, city.facilities = {}, city.work_areas = {};
    city.worker_points.clear(), city.station_points.clear(), city.facility_points.clear();
    city.work_area_points.clear();
    std::erase_if(city.inputs, [](const auto& input) {
        return input.first == "workers" || input.first == "stations" || input.first == "facilities" ||
               input.first == "work_areas";
    });
    read_points(resolve(config, config.workers, "workers", city_layers), options, "workers", city, city.workers,
                city.worker_points);
    read_points(resolve(config, config.stations, "stations", city_layers), options, "stations", city, city.stations,
                city.station_points);
    read_points(resolve(config, config.facilities, "facilities", city_layers), options, "facilities", city,
                city.facilities, city.facility_points);
    read_points(resolve(config, config.work_areas, "work_areas", city_layers), options, "work_areas", city,
                city.work_areas, city.work_area_points);
}

}  // namespace civgrid::engine
