// `civgrid report OUT.gpkg --html report.html`: reads an output back (nothing in it trusted, see
// read_back.hpp), reprojects what the map shows to lon/lat and hands plain data to io's writer.
#include "read_back.hpp"
#include "values.hpp"

#include <civgrid/algorithms/coverage_simplify.hpp>
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/engine/pipeline.hpp>
#include <civgrid/error.hpp>
#include <civgrid/io/html_report.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <tuple>

namespace civgrid::engine {
namespace {

constexpr const char* kStage = "engine.report_html";

std::string percent(double share) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.2f %%", 100 * share);
    return buffer;
}

// Above this many micro-grids the overview is simplified ($CIVGRID_REPORT_SIMPLIFY_ABOVE, for tests).
std::int64_t overview_threshold() {
    constexpr std::int64_t kDefault = 5000;
    const char* set = std::getenv("CIVGRID_REPORT_SIMPLIFY_ABOVE");
    if (set == nullptr || *set == '\0') return kDefault;
    char* end = nullptr;
    const long long value = std::strtoll(set, &end, 10);
    if (end == set || *end != '\0' || value < 0)
        throw ConfigError(kStage, std::string("CIVGRID_REPORT_SIMPLIFY_ABOVE='") + set + "': not a count");
    return value;
}

// The overview of a large city: the micro-grids, grids, communities, streets, districts and
// changes drawn with each edge between two nodes of the micro-grids' coverage simplified once
// (algorithms::CoverageSimplifier), so neighbours still meet without gap or overlap. The tolerance
// grows with the city's extent (its diagonal / 20,000, from 0.5 m to 5 m): about a pixel at the
// zoom that shows a street.
void simplify_overview(io::HtmlReportData& data) {
    const geos::Context context;
    std::vector<Wkb> coverage;
    coverage.reserve(data.micro_grids.size());
    double west = 180, east = -180, south = 90, north = -90;
    for (const auto& m : data.micro_grids) {
        coverage.push_back(m.geometry);
        if (m.geometry.empty()) continue;
        const geos::Geom g = geos::from_wkb_nullable(context, m.geometry);
        if (!g) continue;
        if (const auto box = geos::envelope_if_any(context, g.get())) {
            west = std::min(west, box->min_x);
            east = std::max(east, box->max_x);
            south = std::min(south, box->min_y);
            north = std::max(north, box->max_y);
        }
    }
    if (west > east) return;
    constexpr double kMetresPerDegree = 111'320;  // of latitude; a degree of longitude is shorter
    const double middle = (south + north) / 2 * 3.14159265358979323846 / 180;
    const double diagonal_m = std::hypot((east - west) * std::cos(middle), north - south) * kMetresPerDegree;
    const double tolerance_m = std::clamp(diagonal_m / 8000, 0.5, 5.0);
    const double tolerance = tolerance_m / kMetresPerDegree;
    const algorithms::CoverageSimplifier simplifier(context, coverage);
    coverage.clear();
    coverage.shrink_to_fit();
    const auto count = [&](const Wkb& wkb) {
        return static_cast<std::int64_t>(algorithms::vertex_count(context, wkb));
    };
    for (auto& m : data.micro_grids) {
        data.vertices_before += count(m.geometry);
        m.geometry = simplifier.simplify(m.geometry, tolerance);
        data.vertices_after += count(m.geometry);
    }
    for (auto& c : data.communities) c.geometry = simplifier.simplify(c.geometry, tolerance);
    for (auto* areas : {&data.streets, &data.districts})
        for (auto& a : *areas) a.geometry = simplifier.simplify(a.geometry, tolerance);
    for (auto& g : data.grids) g = simplifier.simplify(g, tolerance);
    for (auto& c : data.changes) c.geometry = simplifier.simplify(c.geometry, tolerance);
    data.simplified_m = tolerance_m;
}

// Mean, median, 95th percentile (as algorithms' staffing has it) and maximum of `metres` into `figures`.
void summarise(io::HtmlReportData::Distances& figures, std::vector<double>& metres) {
    figures.known = static_cast<std::int64_t>(metres.size());
    if (metres.empty()) return;
    std::sort(metres.begin(), metres.end());
    double sum = 0;
    for (const double m : metres) sum += m;
    figures.mean = sum / static_cast<double>(metres.size());
    const auto at = [&](double q) {
        return metres[static_cast<std::size_t>(q * static_cast<double>(metres.size() - 1))];
    };
    figures.median = at(0.5);
    figures.p95 = at(0.95);
    figures.max = metres.back();
}

// The rerun's layers: `changes` (every micro-grid now and every retired one, with its status) and
// `lineage` (households and building parts from each previous micro-grid to each one now). The churn
// is recomputed from them; the run's own record (run_info, section repartition) is shown beside it.
void read_rerun(const std::string& path, const io::FeatureTable& info, int section, int key, int value,
                io::HtmlReportData& data) {
    const io::ReadOptions lonlat{.target_crs = "EPSG:4326", .coordinate_grid = 1e-6};
    const io::FeatureTable changes = io::read_layer({path, "changes"}, lonlat);
    const int id = read_back::required_field(changes, "micro_grid_id", kStage),
              status = read_back::required_field(changes, "status", kStage),
              previous = read_back::required_field(changes, "previous_ids", kStage),
              next = read_back::required_field(changes, "next_ids", kStage),
              households = read_back::required_field(changes, "households", kStage),
              buildings = read_back::required_field(changes, "buildings", kStage);
    data.rerun = true;
    std::map<std::string, std::int64_t> by_status;
    for (const char* known : io::kChangeStatuses) by_status[known] = 0;
    for (std::size_t i = 0; i < changes.size(); ++i) {
        const auto& row = changes.rows[i];
        io::HtmlReportData::Change c;
        c.geometry = changes.geometries[i];
        c.code = as_text(row[static_cast<std::size_t>(id)]);
        c.status = as_text(row[static_cast<std::size_t>(status)]);
        if (c.code.empty())
            throw InputError(kStage, read_back::where(changes, i) + ", field 'micro_grid_id': empty (NULL)");
        const auto found = by_status.find(c.status);
        if (found == by_status.end())
            throw InputError(kStage, read_back::where(changes, i) + ", field 'status': '" + c.status.substr(0, 40) +
                                         "' is not a status of a rerun (unchanged, redrawn, split, merged, "
                                         "regrouped, new, retired)");
        ++found->second;
        c.previous_ids = as_text(row[static_cast<std::size_t>(previous)]);
        c.next_ids = as_text(row[static_cast<std::size_t>(next)]);
        c.households = read_back::count_at(changes, i, households, kStage);
        c.buildings = read_back::count_at(changes, i, buildings, kStage);
        data.changes.push_back(std::move(c));
    }
    const std::int64_t now = static_cast<std::int64_t>(data.changes.size()) - by_status["retired"];
    data.churn.emplace_back("micro_grids_now", std::to_string(now));
    for (const char* known : io::kChangeStatuses)
        data.churn.emplace_back(std::string("micro_grids_") + known, std::to_string(by_status[known]));
    data.churn.emplace_back(
        "micro_grid_churn",
        percent(now > 0 ? static_cast<double>(now - by_status["unchanged"]) / static_cast<double>(now) : 0.0));

    const auto layers = io::list_layers(path);
    if (std::find(layers.begin(), layers.end(), "lineage") == layers.end())
        throw InputError(kStage, "'" + path + "': a 'changes' layer without its 'lineage' layer: not a civgrid rerun");
    const io::FeatureTable lineage = io::read_layer({path, "lineage"}, {.attributes_only = true});
    const int from = read_back::required_field(lineage, "previous_id", kStage),
              to = read_back::required_field(lineage, "new_id", kStage),
              moved = read_back::required_field(lineage, "households", kStage),
              parts = read_back::required_field(lineage, "buildings", kStage);
    std::int64_t compared = 0, households_moved = 0, households_new = 0, households_removed = 0;
    std::int64_t parts_compared = 0, parts_moved = 0, parts_new = 0, parts_removed = 0;
    for (std::size_t i = 0; i < lineage.size(); ++i) {
        io::HtmlReportData::Lineage l;
        l.previous = as_text(lineage.rows[i][static_cast<std::size_t>(from)]);
        l.now = as_text(lineage.rows[i][static_cast<std::size_t>(to)]);
        l.households = read_back::count_at(lineage, i, moved, kStage);
        l.building_parts = read_back::count_at(lineage, i, parts, kStage);
        if (l.previous.empty() && l.now.empty())
            throw InputError(kStage, read_back::where(lineage, i) +
                                         ": neither 'previous_id' nor 'new_id' (a lineage row links one to the other)");
        if (l.previous.empty()) {
            households_new += l.households;
            parts_new += l.building_parts;
        } else if (l.now.empty()) {
            households_removed += l.households;
            parts_removed += l.building_parts;
        } else {
            compared += l.households;
            parts_compared += l.building_parts;
            if (l.previous != l.now) {
                households_moved += l.households;
                parts_moved += l.building_parts;
            }
        }
        if (l.previous == l.now)
            ++data.lineage_kept_rows;
        else
            data.lineage.push_back(std::move(l));
    }
    const auto churn = [](std::int64_t changed, std::int64_t all) {
        return percent(all > 0 ? static_cast<double>(changed) / static_cast<double>(all) : 0.0);
    };
    data.churn.emplace_back("households_moved", std::to_string(households_moved));
    data.churn.emplace_back("households_new", std::to_string(households_new));
    data.churn.emplace_back("households_removed", std::to_string(households_removed));
    data.churn.emplace_back("household_churn", churn(households_moved + households_new + households_removed,
                                                     compared + households_new + households_removed));
    data.churn.emplace_back("building_parts_moved", std::to_string(parts_moved));
    data.churn.emplace_back("building_parts_new", std::to_string(parts_new));
    data.churn.emplace_back("building_parts_removed", std::to_string(parts_removed));
    data.churn.emplace_back("building_part_churn",
                            churn(parts_moved + parts_new + parts_removed, parts_compared + parts_new + parts_removed));

    for (std::size_t i = 0; i < info.size(); ++i)
        if (as_text(info.rows[i][static_cast<std::size_t>(section)]) == "repartition")
            data.rerun_record.emplace_back(as_text(info.rows[i][static_cast<std::size_t>(key)]),
                                           as_text(info.rows[i][static_cast<std::size_t>(value)]));
}

// The streets' boundaries (the streets layer) and the districts' (the union of their streets, in
// lon/lat on the report's 1e-6 degree grid; a district whose union fails is drawn as its streets).
void read_street_boundaries(const std::string& path, io::HtmlReportData& data) {
    const io::ReadOptions lonlat{.target_crs = "EPSG:4326", .coordinate_grid = 1e-6};
    const io::FeatureTable streets = io::read_layer({path, "streets"}, lonlat);
    read_back::check_geometries(streets, read_back::Shape::polygons, true, kStage);
    const int code = read_back::required_field(streets, "street_code", kStage),
              district = streets.field_index("district_code");
    std::map<std::string, std::size_t> street_row;
    for (std::size_t s = 0; s < data.streets.size(); ++s) street_row.emplace(data.streets[s].code, s);
    std::map<std::string, std::size_t> district_row;
    for (std::size_t d = 0; d < data.districts.size(); ++d) district_row.emplace(data.districts[d].code, d);
    const geos::Context context;
    std::map<std::string, std::vector<geos::Geom>> parts;
    for (std::size_t i = 0; i < streets.size(); ++i) {
        if (streets.geometries[i].empty()) continue;
        const std::string street = as_text(streets.rows[i][static_cast<std::size_t>(code)]);
        const auto found = street_row.find(street);
        if (found == street_row.end()) {  // a street without micro-grids: drawn, counted as empty
            street_row.emplace(street, data.streets.size());
            io::HtmlReportData::Area area;
            area.code = street;
            area.geometry = streets.geometries[i];
            data.streets.push_back(std::move(area));
        } else {
            data.streets[found->second].geometry = streets.geometries[i];
        }
        const std::string in = district >= 0 ? as_text(streets.rows[i][static_cast<std::size_t>(district)]) : "";
        if (!in.empty() && district_row.count(in) > 0)
            parts[in].push_back(geos::from_wkb(context, streets.geometries[i]));
    }
    for (auto& [name, geometries] : parts) {
        const geos::Geom all = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(geometries));
        Wkb outline;
        try {
            outline = geos::to_wkb(context, geos::unary_union(context, all.get(), 1e-6, "a district's streets").get());
        } catch (const Error&) {
            outline = geos::to_wkb(context, all.get());
        }
        data.districts[district_row.at(name)].geometry = std::move(outline);
    }
}

}  // namespace

algorithms::QualityReport report_html_file(const std::string& path, const std::string& html, int threads,
                                           const std::vector<io::NamedSource>& inputs, const std::string& basemap) {
    constexpr const char* stage = kStage;
    if (!basemap.empty()) io::check_basemap_template(basemap);
    std::vector<io::NamedSource> sources = inputs;
    sources.push_back({"report", path});
    io::check_output_path(html, sources);
    io::OutputReservation output(html);

    algorithms::QualityReport report = report_file(path, threads);

    io::HtmlReportData data;
    data.title = "civgrid report: " + std::filesystem::path(path).filename().string();
    data.source = path;
    data.quality = report.rows();
    data.basemap = basemap;

    // The run's parameters (report_file checked them): the target of micro-grids without their own.
    const io::FeatureTable info = io::read_layer({path, "run_info"});
    const int section = read_back::required_field(info, "section", stage),
              key = read_back::required_field(info, "key", stage),
              value = read_back::required_field(info, "value", stage);
    double effective_target = 0;
    for (std::size_t i = 0; i < info.size(); ++i) {
        const std::string name = as_text(info.rows[i][static_cast<std::size_t>(section)]) + "." +
                                 as_text(info.rows[i][static_cast<std::size_t>(key)]);
        const auto number = as_number(info.rows[i][static_cast<std::size_t>(value)]);
        if (name == "parameters.effective_target" && number) effective_target = *number;
        if (name == "parameters.tolerance" && number) data.tolerance = *number;
    }

    const io::ReadOptions lonlat{.target_crs = "EPSG:4326", .coordinate_grid = 1e-6};
    const io::FeatureTable communities = io::read_layer({path, "communities"}, lonlat);
    const int community_code = read_back::required_field(communities, "community_code", stage),
              best = communities.field_index("best_within_10"),
              workers_per_10k = communities.field_index("workers_per_10k_residents"),
              facility_m2 = communities.field_index("facility_m2_per_100_households"),
              community_street = communities.field_index("street_code"),
              community_district = communities.field_index("district_code"),
              requested = communities.field_index("requested");
    std::map<std::string, std::size_t> community_index;
    // Streets and districts: their communities and the micro-grids those requested.
    std::map<std::string, io::HtmlReportData::Area> streets, districts;
    const auto text_at = [](const io::FeatureTable& table, std::size_t row, int field) {
        return field >= 0 ? as_text(table.rows[row][static_cast<std::size_t>(field)]) : std::string();
    };
    for (std::size_t r = 0; r < communities.size(); ++r) {
        io::HtmlReportData::Community c;
        c.geometry = communities.geometries[r];
        c.code = as_text(communities.rows[r][static_cast<std::size_t>(community_code)]);
        if (best >= 0) {
            const auto bound = as_integer(communities.rows[r][static_cast<std::size_t>(best)]);
            c.best_within_10 = bound && *bound >= 0 ? *bound : -1;
        }
        // The standards as the run computed them; a missing or non-finite value is not known.
        const auto known = [&](int field) {
            if (field < 0) return -1.0;
            const auto number = as_number(communities.rows[r][static_cast<std::size_t>(field)]);
            return number && std::isfinite(*number) && *number >= 0 ? *number : -1.0;
        };
        c.workers_per_10k = known(workers_per_10k);
        c.facility_m2_per_100 = known(facility_m2);
        const std::int64_t asked = requested >= 0 ? read_back::count_at(communities, r, requested, stage) : -1;
        const auto count_in = [&](io::HtmlReportData::Area& area) {
            ++area.communities;
            area.requested = asked < 0 || area.requested < -1 ? -2 : std::max<std::int64_t>(area.requested, 0) + asked;
        };
        if (const std::string street = text_at(communities, r, community_street); !street.empty()) {
            auto& area = streets[street];
            area.code = street;
            area.district = text_at(communities, r, community_district);
            count_in(area);
        }
        if (const std::string district = text_at(communities, r, community_district); !district.empty()) {
            auto& area = districts[district];
            area.code = district;
            count_in(area);
        }
        community_index.emplace(c.code, data.communities.size());
        data.communities.push_back(std::move(c));
    }

    const io::FeatureTable grids = io::read_layer({path, "micro_grids"}, lonlat);
    const int id = read_back::required_field(grids, "micro_grid_id", stage),
              region = read_back::required_field(grids, "community_code", stage),
              households = read_back::required_field(grids, "households", stage), grid = grids.field_index("grid_id"),
              flags = grids.field_index("flags"), target = grids.field_index("target"),
              street_code = grids.field_index("street_code"), district_code = grids.field_index("district_code");
    data.micro_grids.reserve(grids.size());
    for (std::size_t g = 0; g < grids.size(); ++g) {
        const auto& row = grids.rows[g];
        io::HtmlReportData::MicroGrid m;
        m.geometry = grids.geometries[g];
        m.code = as_text(row[static_cast<std::size_t>(id)]);
        m.community = as_text(row[static_cast<std::size_t>(region)]);
        m.grid = grid >= 0 ? as_text(row[static_cast<std::size_t>(grid)]) : "";
        m.flags = flags >= 0 ? as_text(row[static_cast<std::size_t>(flags)]) : "";
        m.households = read_back::count_at(grids, g, households, stage);
        const double own = read_back::target_at(grids, g, target, stage);
        m.target = own > 0 ? own : effective_target;
        m.deviation = m.target > 0 ? (static_cast<double>(m.households) - m.target) / m.target : 0;
        if (const auto found = community_index.find(m.community); found != community_index.end()) {
            auto& c = data.communities[found->second];
            c.households += m.households;
            ++c.micro_grids;
            if (std::abs(m.deviation) <= 0.10 + 1e-12) ++c.within_10;  // as algorithms::compute_quality
            if (!m.flags.empty()) ++c.flags;
        }
        const bool within = std::abs(m.deviation) <= 0.10 + 1e-12;
        for (auto [field, areas] : {std::pair{street_code, &streets}, std::pair{district_code, &districts}}) {
            const std::string code = text_at(grids, g, field);
            if (code.empty()) continue;
            auto& area = (*areas)[code];
            area.code = code;
            if (areas == &streets && area.district.empty()) area.district = text_at(grids, g, district_code);
            area.households += m.households;
            ++area.micro_grids;
            area.within_10 += within ? 1 : 0;
            area.flags += m.flags.empty() ? 0 : 1;
        }
        data.micro_grids.push_back(std::move(m));
    }
    // A sum over communities of which one had no request is not known (-2 marks it while summing).
    for (auto* areas : {&streets, &districts})
        for (auto& [code, area] : *areas) {
            if (area.requested < 0) area.requested = -1;
            (areas == &streets ? data.streets : data.districts).push_back(std::move(area));
        }

    // Staffing, when the run had it: each micro-grid's workers and its station per utility (ids as
    // text; a row naming no micro-grid of the file is left out).
    std::map<std::string, std::size_t> grid_row;
    for (std::size_t g = 0; g < data.micro_grids.size(); ++g) grid_row.emplace(data.micro_grids[g].code, g);
    const auto layers = io::list_layers(path);
    const auto has = [&](const char* name) { return std::find(layers.begin(), layers.end(), name) != layers.end(); };
    const auto append = [](std::string& list, const std::string& item) {
        if (item.empty()) return;
        list += (list.empty() ? "" : "; ") + item;
    };
    std::vector<double> worker_metres, mobile_metres;
    io::HtmlReportData::Distances workers{.what = "micro-grid workers"}, mobile{.what = "mobile workers"};
    if (has("worker_assignments")) {
        const io::FeatureTable table = io::read_layer({path, "worker_assignments"});
        const int worker = read_back::required_field(table, "worker_id", stage),
                  micro_grid = read_back::required_field(table, "micro_grid_id", stage),
                  distance = table.field_index("distance_m");
        std::vector<std::int64_t> staff(data.micro_grids.size(), 0);
        for (std::size_t i = 0; i < table.size(); ++i) {
            const std::string on = as_text(table.rows[i][static_cast<std::size_t>(micro_grid)]);
            const std::optional<double> metres =
                distance >= 0 ? read_back::distance_at(table, i, distance, stage) : std::nullopt;
            // A row without a micro-grid is a mobile worker's (on a grid).
            auto [figures, all] = on.empty() ? std::tie(mobile, mobile_metres) : std::tie(workers, worker_metres);
            ++figures.assignments;
            if (metres) all.push_back(*metres);
            if (const auto found = grid_row.find(on); found != grid_row.end()) {
                append(data.micro_grids[found->second].workers,
                       as_text(table.rows[i][static_cast<std::size_t>(worker)]));
                ++staff[found->second];
            }
        }
        data.staffing.present = true;
        std::map<std::int64_t, std::int64_t> histogram;
        for (std::size_t g = 0; g < staff.size(); ++g) {
            ++histogram[staff[g]];
            if (staff[g] == 0) data.staffing.unstaffed.push_back(g);
        }
        data.staffing.workers_per_micro_grid.assign(histogram.begin(), histogram.end());
        summarise(workers, worker_metres);
        data.staffing.distances.push_back(workers);
        if (mobile.assignments > 0) {
            summarise(mobile, mobile_metres);
            data.staffing.distances.push_back(mobile);
        }
    }
    if (has("service_assignments")) {
        const io::FeatureTable table = io::read_layer({path, "service_assignments"});
        const int micro_grid = read_back::required_field(table, "micro_grid_id", stage),
                  utility = read_back::required_field(table, "utility", stage),
                  station = read_back::required_field(table, "station_id", stage);
        const int distance = table.field_index("distance_m");
        std::map<std::string, std::pair<io::HtmlReportData::Distances, std::vector<double>>> utilities;
        for (std::size_t i = 0; i < table.size(); ++i) {
            const auto found = grid_row.find(as_text(table.rows[i][static_cast<std::size_t>(micro_grid)]));
            if (found == grid_row.end()) continue;
            const std::string station_id = as_text(table.rows[i][static_cast<std::size_t>(station)]);
            const std::string name = as_text(table.rows[i][static_cast<std::size_t>(utility)]);
            auto& [figures, metres] = utilities[name];
            figures.what = name;
            figures.unassigned = std::max<std::int64_t>(figures.unassigned, 0) + (station_id.empty() ? 1 : 0);
            ++figures.assignments;
            if (distance >= 0 && !station_id.empty())
                if (const auto known = read_back::distance_at(table, i, distance, stage)) metres.push_back(*known);
            append(data.micro_grids[found->second].stations, name + ": " + (station_id.empty() ? "none" : station_id));
        }
        for (auto& [name, figures] : utilities) {
            summarise(figures.first, figures.second);
            data.staffing.distances.push_back(figures.first);
        }
    }

    if (has("stations")) {
        const io::FeatureTable table = io::read_layer({path, "stations"}, {.attributes_only = true});
        const int station = read_back::required_field(table, "station_id", stage),
                  utility = read_back::required_field(table, "utility", stage),
                  capacity = read_back::required_field(table, "capacity_households", stage),
                  load = read_back::required_field(table, "load_households", stage),
                  served = read_back::required_field(table, "micro_grids", stage);
        for (std::size_t i = 0; i < table.size(); ++i)
            data.stations.push_back({as_text(table.rows[i][static_cast<std::size_t>(station)]),
                                     as_text(table.rows[i][static_cast<std::size_t>(utility)]),
                                     read_back::count_at(table, i, capacity, stage),
                                     read_back::count_at(table, i, load, stage),
                                     read_back::count_at(table, i, served, stage)});
    }

    if (has("streets")) read_street_boundaries(path, data);

    // A rerun: what changed (the changes layer), the lineage and the churn recomputed from them.
    if (has("changes")) read_rerun(path, info, section, key, value, data);

    // Grids and hard barriers: drawn only, so any geometry OGR reads is taken as it is.
    if (has("grids")) data.grids = io::read_layer({path, "grids"}, lonlat).geometries;
    data.barriers = io::read_layer({path, "barriers"}, lonlat).geometries;

    if (static_cast<std::int64_t>(data.micro_grids.size()) > overview_threshold()) simplify_overview(data);

    // The bound never below what was reached nor above the count (as the quality report has it).
    for (auto& c : data.communities)
        if (c.best_within_10 >= 0) c.best_within_10 = std::clamp(c.best_within_10, c.within_10, c.micro_grids);

    io::write_html_report(output, data);
    output.commit();
    return report;
}

}  // namespace civgrid::engine
