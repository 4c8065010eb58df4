// civgrid command line: a thin layer over the engine API. Errors become exit codes here only.
#include <civgrid/data/changes.hpp>
#include <civgrid/data/organic.hpp>
#include <civgrid/data/parcels.hpp>
#include <civgrid/data/synth.hpp>
#include <civgrid/engine/output_schema.hpp>
#include <civgrid/engine/pipeline.hpp>
#include <civgrid/engine/repartition.hpp>
#include <civgrid/engine/roles.hpp>
#include <civgrid/engine/shards.hpp>
#include <civgrid/engine/version.hpp>
#include <civgrid/error.hpp>
#include <civgrid/io/html_report.hpp>
#include <civgrid/io/layer.hpp>
#include <civgrid/io/output_file.hpp>
#include <civgrid/io/versions.hpp>

#include <geos_c.h>
#include <unistd.h>
#include <boost/program_options.hpp>

#include "progress.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace po = boost::program_options;
using namespace civgrid;

namespace {

constexpr const char* kUsage = R"(civgrid - balanced governance micro-grids for a city

Usage:
  civgrid synth      --households N [--seed S] -o city.gpkg   generate a synthetic city
  civgrid partition  CITY.gpkg -o out.gpkg [options]          partition a city into micro-grids
  civgrid check      CITY.gpkg [options]                      validate the inputs, print the import report
  civgrid check      --communities FILE (or any layer)        check layers alone, without buildings
  civgrid repartition --previous old.gpkg CITY.gpkg -o new.gpkg [--lock ID]...
                                                               rerun after the city changed, keeping
                                                               micro-grids and codes that still hold
  civgrid report     out.gpkg [--html report.html]            recompute the quality report of an output;
                                                               --html: a map and figures in one offline page
  civgrid schema     [--json]                                 the layers and fields an output holds
  civgrid <command> --help                                    options of a command
  civgrid --version

Exit codes: 0 success, 1 internal error, 2 invalid options, 3 unusable input data,
            4 file cannot be read or written, 5 infeasible under --strict.
)";

int fail(const std::string& message, int code) {
    std::cerr << "civgrid: " << message << "\n";
    return code;
}

int run_synth(const std::vector<std::string>& args) {
    data::SynthConfig config;
    std::string output;
    std::string change;
    std::uint64_t change_seed = 1;
    std::int64_t parcels = 0;
    std::string style = "planned";
    int dense_vertices = data::ParcelConfig{}.dense_vertices;
    double gap_share = 0, overlap_share = 0, dirt_width = data::ParcelConfig{}.dirt_width;
    po::options_description options("civgrid synth options");
    options.add_options()("help,h", "show this help")("households",
                                                      po::value(&config.households)->default_value(config.households),
                                                      "approximate number of households")(
        "seed", po::value(&config.seed)->default_value(config.seed), "random seed (same seed and size, same city)")(
        "crs", po::value(&config.crs)->default_value(config.crs), "projected CRS of the city")(
        "districts", po::value(&config.districts)->default_value(0),
        "districts (0: by size, at most 12); more make a province for distributed runs (codes 3202xx, ...)")(
        "output,o", po::value(&output)->required(), "output GeoPackage")(
        "change", po::value(&change),
        "then change the city, for reruns: households (1 % of buildings +-30 %), estate (3,000 new households), "
        "demolition (all within 120 m), boundary (a strip moves to a neighbouring community)")(
        "change-seed", po::value(&change_seed)->default_value(change_seed), "random seed of the change")(
        "parcels", po::value(&parcels)->default_value(0),
        "instead of a city: about N parcels that tile the ground (shared edges, 1 % with thousands of vertices, "
        "0.2 % invalid) as a buildings layer, to measure imports")(
        "dense-vertices", po::value(&dense_vertices)->default_value(dense_vertices),
        "with --parcels: vertices of the 1 % of dense parcels (issue 17 met parcels of 6,000-18,000)")(
        "gaps", po::value(&gap_share)->default_value(0),
        "with --parcels: this share of parcels (inside the lattice, straight edges, never side by side) shrunk by "
        "--dirt-width on every side, a gap all round")(
        "overlaps", po::value(&overlap_share)->default_value(0),
        "with --parcels: this share of parcels grown by --dirt-width, overlapping their neighbours")(
        "dirt-width", po::value(&dirt_width)->default_value(dirt_width, "0.5"), "with --gaps/--overlaps: metres")(
        "style", po::value(&style)->default_value(style),
        "planned (superblocks of high-rises, the sample city) or organic (communities of 1,500-2,600 households "
        "on a jittered grid of 125 m blocks, a major road every 3-5 streets, a meandering river cutting "
        "blocks into slivers, parks, villages, 2 % towers; no workers or stations)");
    po::variables_map vm;
    po::store(po::command_line_parser(args).options(options).run(), vm);
    if (vm.count("help")) {
        std::cout << "Usage: civgrid synth --households N [--seed S] -o city.gpkg\n\n" << options;
        return 0;
    }
    po::notify(vm);
    const auto start = std::chrono::steady_clock::now();
    if (parcels > 0) {
        data::ParcelConfig parcel_config;
        parcel_config.parcels = parcels;
        parcel_config.seed = config.seed;
        parcel_config.crs = config.crs;
        if (dense_vertices < 4 || dense_vertices > 1'000'000)
            throw ConfigError("cli",
                              "--dense-vertices " + std::to_string(dense_vertices) + " is out of range: 4 to 1000000");
        parcel_config.dense_vertices = dense_vertices;
        parcel_config.gap_share = gap_share;
        parcel_config.overlap_share = overlap_share;
        parcel_config.dirt_width = dirt_width;
        const data::SynthCity layer = data::generate_parcels(parcel_config);
        data::write_city(layer, output);
        std::printf("wrote %s: %lld parcels, %lld households (%.2f s)\n", output.c_str(),
                    static_cast<long long>(layer.summary.buildings), static_cast<long long>(layer.summary.households),
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        return 0;
    }
    if (style != "planned" && style != "organic")
        throw ConfigError("cli", "--style '" + style + "': planned or organic");
    if (style == "organic" && !change.empty())
        throw ConfigError("cli", "--change works on --style planned cities only");
    data::SynthCity city;
    if (style == "organic") {
        data::OrganicConfig organic;
        organic.households = config.households;
        organic.seed = config.seed;
        organic.crs = config.crs;
        city = data::generate_organic_city(organic);
    } else {
        city = data::generate_city(config);
    }
    if (!change.empty()) {
        const data::ChangeReport report = data::apply_change(city, data::parse_change(change), change_seed);
        std::printf("changed: %s (%lld buildings, %lld households directly affected)\n", report.description.c_str(),
                    static_cast<long long>(report.buildings_affected),
                    static_cast<long long>(report.households_affected));
    }
    data::write_city(city, output);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto& s = city.summary;
    std::printf(
        "wrote %s: %lld households in %lld buildings, %lld districts, %lld streets, %lld communities, %lld roads, "
        "%lld workers, %lld stations (%.2f s)\n",
        output.c_str(), static_cast<long long>(s.households), static_cast<long long>(s.buildings),
        static_cast<long long>(s.districts), static_cast<long long>(s.streets), static_cast<long long>(s.communities),
        static_cast<long long>(s.roads), static_cast<long long>(s.workers), static_cast<long long>(s.stations),
        seconds);
    return 0;
}

void barrier_rules(const std::vector<std::string>& rules, engine::PartitionConfig& config) {
    for (const std::string& rule : rules) {
        const auto colon = rule.find(':');
        const std::string role = rule.substr(0, colon);
        const std::string filter = colon == std::string::npos ? "" : rule.substr(colon + 1);
        if (role == "roads")
            config.hard_roads.filter = filter;
        else if (role == "rivers")
            config.hard_rivers.filter = filter;
        else if (role == "railways")
            config.hard_railways.filter = filter;
        else
            throw ConfigError("cli", "--hard-barriers '" + rule + "': the layer must be roads, rivers or railways");
    }
}

// "--datum gcj02" (every layer) or "--datum communities=gcj02" (one layer), repeatable.
void per_layer_settings(const std::vector<std::string>& settings, const char* option,
                        std::string engine::LayerSource::*member, engine::PartitionConfig& config) {
    for (const std::string& setting : settings) {
        const auto equals = setting.find('=');
        if (equals == std::string::npos) {
            for (const engine::InputRole& role : engine::kInputRoles) config.*(role.source).*member = setting;
            continue;
        }
        const engine::InputRole* role = engine::find_role(setting.substr(0, equals));
        if (role == nullptr)
            throw ConfigError(
                "cli", std::string(option) + " '" + setting + "': the layer must be one of " + engine::role_names());
        config.*(role->source).*member = setting.substr(equals + 1);
    }
}

// ---- --json -----------------------------------------------------------------------------------

std::string json_string(const std::string& text) {
    std::string quoted = "\"";
    for (const unsigned char c : text) {
        if (c == '"' || c == '\\') {
            quoted += '\\';
            quoted += static_cast<char>(c);
        } else if (c < 0x20) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
            quoted += escaped;
        } else {
            quoted += static_cast<char>(c);
        }
    }
    return quoted + "\"";
}

/// A report value as a JSON number when it is one, else a string.
std::string json_value(const std::string& text) {
    char* end = nullptr;
    const double number = std::strtod(text.c_str(), &end);
    const bool numeric = !text.empty() && end != nullptr && *end == '\0' && std::isfinite(number) &&
                         text.find_first_not_of("0123456789.eE+-") == std::string::npos;
    return numeric ? text : json_string(text);
}

std::string json_number(double value) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.6g", std::isfinite(value) ? value : 0.0);
    return buffer;
}

void print_json(std::ostream& out, const std::string& output, const engine::RunSummary& summary,
                const engine::Repartition* changes, const std::vector<engine::OutputPart>* parts = nullptr) {
    out << "{\"output\": " << json_string(output) << ", \"crs\": " << json_string(summary.crs) << ",\n \"warnings\": [";
    for (std::size_t i = 0; i < summary.warnings.size(); ++i)
        out << (i == 0 ? "" : ", ") << json_string(summary.warnings[i]);
    out << "],\n \"quality\": {";
    const auto rows = summary.report.rows();
    for (std::size_t i = 0; i < rows.size(); ++i)
        out << (i == 0 ? "" : ", ") << json_string(rows[i].first) << ": " << json_value(rows[i].second);
    out << "},\n \"timings\": {";
    double total = 0;
    for (const auto& [stage, seconds] : summary.timings) {
        out << json_string(stage) << ": " << json_number(seconds) << ", ";
        total += seconds;
    }
    out << "\"total\": " << json_number(total) << "},\n \"cpu_timings\": {";
    for (std::size_t i = 0; i < summary.cpu_timings.size(); ++i)
        out << (i == 0 ? "" : ", ") << json_string(summary.cpu_timings[i].first) << ": "
            << json_number(summary.cpu_timings[i].second);
    // Each side of the overlapped stage alone: which one the stage waited for.
    out << "},\n \"overlapped\": {\"staffing\": " << json_number(summary.staffing_seconds)
        << ", \"assess\": " << json_number(summary.assess_seconds)
        << ", \"writing\": " << json_number(summary.writing_seconds) << "}";
    if (summary.staffing.present) {
        const auto& s = summary.staffing.workers;
        out << ",\n \"staffing\": {\"assignments\": " << s.assignments.size()
            << ", \"micro_grid_workers\": " << summary.staffing.micro_grid_workers
            << ", \"unstaffed\": " << s.unstaffed.size() << ", \"mean_distance_m\": " << json_number(s.mean_distance_m)
            << ", \"p95_distance_m\": " << json_number(s.p95_distance_m) << "}";
    }
    if (!summary.staffing.utilities.empty()) {
        out << ",\n \"utilities\": {";
        for (std::size_t i = 0; i < summary.staffing.utilities.size(); ++i) {
            const auto& u = summary.staffing.utilities[i];
            out << (i == 0 ? "" : ", ") << json_string(u.name) << ": {\"stations\": " << u.station_rows.size()
                << ", \"unassigned\": " << u.result.unassigned.size() << "}";
        }
        out << "}";
    }
    if (changes != nullptr)
        out << ",\n \"rerun\": {\"unchanged\": " << changes->micro_grids_kept
            << ", \"redrawn\": " << changes->micro_grids_redrawn << ", \"new\": " << changes->micro_grids_new
            << ", \"retired\": " << changes->micro_grids_retired
            << ", \"household_churn\": " << json_number(changes->household_churn()) << "}";
    if (parts != nullptr) {
        out << ",\n \"parts\": [";
        for (std::size_t i = 0; i < parts->size(); ++i) {
            const engine::OutputPart& part = (*parts)[i];
            out << (i == 0 ? "" : ", ") << "{\"district_code\": " << json_string(part.district_code)
                << ", \"path\": " << json_string(part.path) << ", \"micro_grids\": " << part.micro_grids
                << ", \"grids\": " << part.grids << ", \"buildings\": " << part.buildings
                << ", \"households\": " << part.households << "}";
        }
        out << "]";
    }
    out << "}\n";
}

enum class Mode { partition, check, rerun };

// `partition --scheduler` (and `repartition --scheduler`: `previous` given): the Python driver
// (civgrid.distributed) runs the shards on the cluster.
// The options parsed here go to it whole (engine::encode_config) in a private file it removes; this
// process becomes the driver, so its exit code and messages are the run's.
int run_on_cluster(const engine::PartitionConfig& config, const std::string& output, const std::string& scheduler,
                   const std::string& shard_level, bool quiet, bool json, bool progress_json, bool split_output,
                   const std::string& report_html, const std::string& basemap, const std::string& previous,
                   const std::vector<std::string>& locked) {
    engine::validate_config(config);
    std::vector<io::NamedSource> inputs = engine::input_sources(config);
    if (!previous.empty()) inputs.push_back({"previous", previous});
    io::check_output_path(output, inputs);  // refused before any work
    const std::filesystem::path handoff =
        std::filesystem::temp_directory_path() / ("civgrid-config-" + std::to_string(::getpid()) + ".bin");
    {
        std::ofstream file(handoff, std::ios::binary | std::ios::trunc);
        const std::string bytes = engine::encode_config(config);
        file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        if (!file.flush())
            throw IoError("cli", "--scheduler: cannot write '" + handoff.string() + "': " + std::strerror(errno));
    }
    const char* python = std::getenv("CIVGRID_PYTHON");
    const std::string interpreter = python != nullptr && *python != '\0' ? python : CIVGRID_PYTHON_EXECUTABLE;
    // The build tree's package, when this is the build tree's CLI (an installed package is found anyway).
    if (std::filesystem::exists(CIVGRID_BUILD_PYTHON_DIR "/civgrid/distributed.py")) {
        const char* path = std::getenv("PYTHONPATH");
        const std::string joined =
            std::string(CIVGRID_BUILD_PYTHON_DIR) + (path != nullptr && *path != '\0' ? ":" + std::string(path) : "");
        ::setenv("PYTHONPATH", joined.c_str(), 1);
    }
    std::vector<std::string> arguments = {interpreter,      "-m",       "civgrid.distributed",
                                          "--scheduler",    scheduler,  "--config",
                                          handoff.string(), "--output", output};
    if (!shard_level.empty()) arguments.insert(arguments.end(), {"--shard-level", shard_level});
    if (!report_html.empty()) arguments.insert(arguments.end(), {"--report", report_html});
    if (!basemap.empty()) arguments.insert(arguments.end(), {"--basemap", basemap});
    if (quiet) arguments.emplace_back("--quiet");
    if (json) arguments.emplace_back("--json");
    if (progress_json) arguments.emplace_back("--progress-json");
    if (split_output) arguments.emplace_back("--split-output");
    if (!previous.empty()) arguments.insert(arguments.end(), {"--previous", previous});
    for (const std::string& lock : locked) arguments.insert(arguments.end(), {"--lock", lock});
    std::vector<char*> argv;
    for (std::string& argument : arguments) argv.push_back(argument.data());
    argv.push_back(nullptr);
    std::cout.flush();
    ::execvp(argv.front(), argv.data());
    const std::string reason = std::strerror(errno);
    std::filesystem::remove(handoff);
    throw IoError("cli", "--scheduler: cannot run the Python driver '" + interpreter + "': " + reason +
                             " (set CIVGRID_PYTHON to an interpreter with the civgrid package and dask.distributed)");
}

// The output's layers and fields (engine/output_schema.hpp), as text or JSON for scripts.
int run_schema(const std::vector<std::string>& args) {
    const bool json = args.size() == 1 && args[0] == "--json";
    if (!args.empty() && !json) return fail("schema: only --json is accepted", 2);
    using engine::schema::geometry_name;
    using engine::schema::type_name;
    if (!json) {
        for (const auto& layer : engine::schema::layers()) {
            std::cout << layer.name << " (" << geometry_name(layer.geometry) << "): " << layer.meaning << "\n";
            for (const auto& field : layer.fields)
                std::cout << "  " << field.name << " (" << type_name(field.type) << "): " << field.meaning << "\n";
        }
        return 0;
    }
    std::cout << "{";
    bool first_layer = true;
    for (const auto& layer : engine::schema::layers()) {
        std::cout << (first_layer ? "" : ",") << "\n  " << json_string(std::string(layer.name))
                  << ": {\"geometry\": " << json_string(std::string(geometry_name(layer.geometry)))
                  << ", \"meaning\": " << json_string(std::string(layer.meaning)) << ", \"fields\": [";
        bool first_field = true;
        for (const auto& field : layer.fields) {
            std::cout << (first_field ? "" : ", ") << "{\"name\": " << json_string(std::string(field.name))
                      << ", \"type\": " << json_string(std::string(type_name(field.type)))
                      << ", \"meaning\": " << json_string(std::string(field.meaning)) << "}";
            first_field = false;
        }
        std::cout << "]}";
        first_layer = false;
    }
    std::cout << "\n}\n";
    return 0;
}

// Long on purpose: the option table of partition, check and repartition (one per group), then
// one call into the engine per mode.
int run_partition(const std::vector<std::string>& args, Mode mode) {
    const bool check_only = mode == Mode::check, rerun = mode == Mode::rerun;
    engine::PartitionConfig config;
    std::string output;
    std::string previous;
    std::string report_html, basemap;
    engine::RepartitionOptions rerun_options;
    std::vector<std::string> hard_barriers, datums, encodings;
    po::options_description inputs("Inputs (FILE[:LAYER], any OGR source: GeoPackage, Shapefile, GeoJSON, FlatGeobuf)");
    inputs.add_options()("city", po::value(&config.city),
                         "one file with the standard layers (also the first positional argument)");
    for (const engine::InputRole& role : engine::kInputRoles)
        inputs.add_options()(role.option, po::value<std::string>(), role.help);
    po::options_description fields("Field names");
    fields.add_options()("id-field", po::value(&config.building_id_field)->default_value(config.building_id_field),
                         "building id")(
        "households-field", po::value(&config.households_field)->default_value(config.households_field),
        "households per building")("units-field", po::value(&config.units_field)->default_value(config.units_field),
                                   "entrances per building (optional)")(
        "community-code-field", po::value(&config.community_code_field)->default_value(config.community_code_field),
        "community code")("street-code-field",
                          po::value(&config.street_code_field)->default_value(config.street_code_field), "street code")(
        "district-code-field", po::value(&config.district_code_field)->default_value(config.district_code_field),
        "district code")("name-field", po::value(&config.name_field)->default_value(config.name_field), "region name");
    po::options_description partition("Partition");
    partition.add_options()(
        "target-households", po::value(&config.target_households)->default_value(config.target_households),
        "households per micro-grid")("micro-grids", po::value(&config.micro_grid_count)->default_value(0),
                                     "micro-grids for the whole city (instead of the target)")(
        "tolerance", po::value(&config.tolerance)->default_value(config.tolerance, "0.2"),
        "balance bounds: target * (1 -/+ tolerance)")("min-households",
                                                      po::value(&config.min_households)->default_value(0),
                                                      "lower balance bound in households (0 = from the tolerance)")(
        "max-households", po::value(&config.max_households)->default_value(0),
        "upper balance bound in households (0 = from the tolerance)")(
        "hard-min-households", po::value(&config.hard_min_households)->default_value(0),
        "no micro-grid below this many households unless the data forces it (e.g. 40; 0 = off)")(
        "grid-households", po::value(&config.grid_households)->default_value(config.grid_households, "400"),
        "grids (网格) of about this many households made of whole micro-grids (0 = no grid level)")(
        "no-staffing", "partition only: no workers or utility stations even when their layers are there")(
        "network-distance", "workers' distances along the roads layer instead of straight lines")(
        "strict",
        "import warnings are errors (exit 3); an unstaffed micro-grid or one no station can take is an error (exit 5)")(
        "compactness", po::value(&config.compactness)->default_value(config.compactness, "0.6"),
        "how much shorter boundaries weigh against balance (0 = balance only)")(
        "grids", po::value(&config.grid_count)->default_value(0),
        "grids for the whole city instead of --grid-households, shared among communities by households")(
        "grid-count-field", po::value(&config.grid_count_field), "region attribute with the grids it wants")(
        "count-field", po::value(&config.count_field),
        "region attribute with the micro-grids it wants (count mode per community)")(
        "level", po::value(&config.region_level),
        "regions split: community, street, district or city (default: the finest given)")(
        "units", po::value(&config.units),
        "what micro-grids are made of: buildings (Voronoi cells of their points; the default) or areas (the input "
        "polygons kept whole and united: parcels, census areas, blocks)")(
        "split-large-units",
        "with --units areas: split a unit with more households than the upper bound into pieces of about the target "
        "(its households shared evenly) instead of leaving it a flagged micro-grid of its own")(
        "coverage-tolerance", po::value(&config.coverage_tolerance)->default_value(1.0, "1"),
        "with --units areas: clean the tiling first: overlaps stay with the larger unit, gaps enclosed by units and at "
        "most this many metres wide join the unit sharing most of their edge (0: the units as read)")(
        "hard-barriers", po::value(&hard_barriers)->composing(),
        "LAYER:FILTER, repeatable: which features of roads|rivers|railways are hard barriers (OGR SQL; empty = all, "
        "'none' = not hard). Default roads:class IN ('major','trunk','primary','motorway'); rivers and railways all")(
        "soft-barrier-weight", po::value(&config.soft_barrier_weight)->default_value(config.soft_barrier_weight),
        "how strongly boundaries prefer minor roads (0 = ignore)")(
        "split-households", po::value(&config.split_piece_households)->default_value(config.split_piece_households),
        "split larger buildings into pieces of at most this many households, one per unit at least (0 = target / 8)")(
        "crs", po::value(&config.working_crs),
        "working CRS (default: CGCS2000 Gauss-Kruger or UTM zone from the data)")(
        "assume-crs", po::value(&config.assume_crs), "CRS of input layers that declare none")(
        "datum", po::value(&datums)->composing(),
        "[LAYER=]wgs84|gcj02|bd09, repeatable: coordinates offset like Amap/Tencent (gcj02) or Baidu (bd09) "
        "are converted to WGS84 first, whatever the .prj says")(
        "encoding", po::value(&encodings)->composing(),
        "[LAYER=]ENCODING, repeatable: text encoding of Shapefile attributes (GB18030, GBK, UTF-8, ...; default: "
        ".cpg, DBF language id, else detected)")(
        "dwelling-area", po::value(&config.dwelling_area)->default_value(0),
        "m2 per dwelling: buildings without households get floors x footprint / this (0 = off)")(
        "floors-field", po::value(&config.floors_field),
        "building floors (default: floors, floor, storeys, levels or building:levels)")(
        "max-building-households",
        po::value(&config.max_building_households)->default_value(config.max_building_households),
        "more households in one building are absurd: counted as 0 and reported")(
        "seed", po::value(&config.seed)->default_value(config.seed), "random seed")(
        "threads", po::value(&config.threads)->default_value(0),
        "worker threads (0 = all cores); results do not depend on it");
    po::options_description general("General");
    general.add_options()("help,h", "show this help")("output,o", po::value(&output),
                                                      "output GeoPackage (written atomically)")(
        "quiet,q", "print only errors (no progress, no report)")(
        "report", po::value(&report_html),
        "also write the self-contained HTML report (map, figures) of the output here, as civgrid report --html")(
        "basemap", po::value(&basemap),
        "with --report: a tile server's URL template drawn under the report's map (http(s), with {z} {x} {y}); the "
        "page then fetches its tiles")(
        "json", "print the result as one JSON object (output, CRS, warnings, quality, staffing, timings) for scripts")(
        "progress-json",
        "print progress on stderr as JSON lines ({\"stage\": ..., \"done\": N, \"total\": M}) for front ends");
    std::string scheduler, shard_level;
    po::options_description cluster("On a cluster (dask.distributed; needs the civgrid Python package)");
    cluster.add_options()(
        "scheduler", po::value(&scheduler),
        "run the shards on the dask scheduler at this address (tcp://HOST:8786); inputs must be files "
        "every worker can read")(
        "shard-level", po::value(&shard_level),
        "with --scheduler: district, street or community (default: the coarsest with two shards or more)")(
        "split-output",
        "write one GeoPackage per district beside the output (OUT-<district code>.gpkg), the output being their index "
        "(layer parts) with the rows of no district; for runs too large for one file");
    po::options_description rerun_group("Rerun");
    rerun_group.add_options()("previous", po::value(&previous)->required(),
                              "the previous run's output GeoPackage (its micro-grids, codes and assignments)")(
        "lock", po::value(&rerun_options.locked)->composing(),
        "repeatable: a micro-grid or grid id kept untouched whatever happens");
    po::options_description all;
    all.add(inputs).add(fields).add(partition).add(general);
    if (rerun) all.add(rerun_group);
    if (mode != Mode::check) all.add(cluster);
    po::positional_options_description positional;
    positional.add("city", 1);
    po::variables_map vm;
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
    if (vm.count("help") && rerun) {
        std::cout << "Usage: civgrid repartition --previous old.gpkg CITY.gpkg -o new.gpkg [--lock ID]... [options]\n"
                     "Keeps every previous micro-grid whose buildings are still in its community and whose households\n"
                     "are within the bounds (and their codes, workers and stations), re-partitions only the rest,\n"
                     "and writes the result with a `changes` layer and a `lineage` table.\n\n"
                  << all;
        return 0;
    }
    if (vm.count("help") && check_only) {
        std::cout
            << "Usage: civgrid check CITY.gpkg [options]\n"
               "Reads and validates the inputs as partition does and prints the import report (per layer: CRS,\n"
               "encoding, datum, features repaired, dropped, derived or reported, with their ids) without\n"
               "partitioning. Exit 0, or 3 under --strict when there are warnings. Partition options are accepted.\n\n"
            << all;
        return 0;
    }
    if (vm.count("help")) {
        std::cout << "Usage: civgrid partition CITY.gpkg -o out.gpkg [options]\n"
                     "Reads the layers buildings, roads, rivers, railways, communities, streets and districts of CITY\n"
                     "(each optional but buildings; any can come from another file instead), splits every community\n"
                     "into contiguous micro-grids balanced by households that never cross a hard barrier, and writes\n"
                     "micro_grids, buildings, communities, barriers and run_info to the output GeoPackage.\n\n"
                  << all;
        return 0;
    }
    po::notify(vm);
    if (!check_only && output.empty()) throw po::required_option("output");
    for (const engine::InputRole& role : engine::kInputRoles)
        if (vm.count(role.option)) (config.*(role.source)).path = vm[role.option].as<std::string>();
    if (vm.count("no-staffing")) config.staffing = false;
    if (vm.count("strict")) config.strict = true;
    if (vm.count("network-distance")) config.network_distance = true;
    if (vm.count("split-large-units")) config.split_large_units = true;
    barrier_rules(hard_barriers, config);
    per_layer_settings(datums, "--datum", &engine::LayerSource::datum, config);
    per_layer_settings(encodings, "--encoding", &engine::LayerSource::encoding, config);

    if (check_only) {
        const ImportReport report = engine::check_inputs(config);
        std::cout << report.to_text();
        engine::enforce_strict(report, config);
        return 0;
    }
    const bool quiet = vm.count("quiet") > 0, json = vm.count("json") > 0;
    if (!basemap.empty()) {  // refused before any work
        if (report_html.empty()) throw ConfigError("cli", "--basemap without --report: the basemap is the report's");
        io::check_basemap_template(basemap);
    }
    const bool split_output = vm.count("split-output") > 0;
    if (split_output && !report_html.empty())
        throw ConfigError("cli",
                          "--report with --split-output: report each district's file with civgrid report --html");
    if (!scheduler.empty())
        return run_on_cluster(config, output, scheduler, shard_level, quiet, json, vm.count("progress-json") > 0,
                              split_output, report_html, basemap, rerun ? previous : std::string(),
                              rerun_options.locked);
    std::vector<io::NamedSource> report_inputs;
    if (!report_html.empty()) {  // refused before any work, as the output is
        report_inputs = engine::input_sources(config);
        if (rerun) report_inputs.push_back({"previous", previous});
        io::check_output_path(report_html, report_inputs);
        const auto same = [](const std::string& a, const std::string& b) {
            return std::filesystem::weakly_canonical(a) == std::filesystem::weakly_canonical(b);
        };
        if (same(report_html, output))
            throw ConfigError("cli", "--report '" + report_html + "' is the output GeoPackage '" + output + "'");
    }
    engine::RepartitionSummary rerun_summary;
    engine::RunSummary summary;
    std::vector<engine::OutputPart> parts;
    {
        engine::RunControl control;
        const bool progress_json = vm.count("progress-json") > 0;
        const cli::TerminalProgress progress(control,
                                             !quiet && !progress_json && cli::TerminalProgress::is_terminal(stderr));
        const cli::JsonProgress json_progress(control, progress_json);
        if (rerun)
            rerun_summary = engine::run_repartition(config, previous, rerun_options, output, &control,
                                                    split_output ? &parts : nullptr);
        else if (split_output)
            summary = engine::run_partition_per_district(config, output, parts, &control);
        else
            summary = engine::run_partition(config, output, &control);
    }
    if (rerun) summary = rerun_summary.run;
    if (!report_html.empty())
        (void)engine::report_html_file(output, report_html, config.threads, report_inputs, basemap);
    if (json) {
        print_json(std::cout, output, summary, rerun ? &rerun_summary.changes : nullptr,
                   split_output ? &parts : nullptr);
        return 0;
    }
    if (quiet) return 0;
    if (rerun) {
        const engine::Repartition& c = rerun_summary.changes;
        std::printf(
            "Rerun against %s: %lld micro-grids unchanged, %lld redrawn (same code), %lld new, %lld retired, in %lld "
            "zones\n"
            "  buildings moved %lld, new %lld, removed %lld: %.2f %% of buildings, %.2f %% of households, %.2f %% of "
            "micro-grids changed\n",
            previous.c_str(), static_cast<long long>(c.micro_grids_kept), static_cast<long long>(c.micro_grids_redrawn),
            static_cast<long long>(c.micro_grids_new), static_cast<long long>(c.micro_grids_retired),
            static_cast<long long>(c.zones), static_cast<long long>(c.buildings_moved),
            static_cast<long long>(c.buildings_new), static_cast<long long>(c.buildings_removed),
            100 * c.building_churn(), 100 * c.household_churn(), 100 * c.micro_grid_churn());
    }
    for (const auto& warning : summary.warnings) std::cout << "warning: " << warning << "\n";
    std::cout << "wrote " << output << " (working CRS " << io::describe_crs(summary.crs) << ")\n";
    if (split_output)
        std::cout << "wrote " << parts.size() << " district files beside it, listed in its layer 'parts'\n";
    if (!report_html.empty()) std::cout << "wrote " << report_html << " (HTML report)\n";
    std::cout << summary.report.to_text();
    if (summary.staffing.present) {
        const auto& s = summary.staffing.workers;
        std::printf(
            "Staffing: %zu assignments of %lld micro-grid workers, %zu micro-grids unstaffed; distance (%s) "
            "mean %.0f m, p95 %.0f m, max %.0f m, total %.0f km (nearest-first: %.0f km, %lld unstaffed)\n",
            s.assignments.size(), static_cast<long long>(summary.staffing.micro_grid_workers), s.unstaffed.size(),
            s.along_roads ? "along the roads" : "straight line", s.mean_distance_m, s.p95_distance_m, s.max_distance_m,
            s.total_distance_m / 1000, s.greedy_total_distance_m / 1000, static_cast<long long>(s.greedy_unstaffed));
        if (s.fixed_assignments > 0)
            std::printf("  %lld of them kept from the previous run\n", static_cast<long long>(s.fixed_assignments));
        if (s.off_road_assignments > 0)
            std::printf("  %lld workers have no road path to their micro-grid; their straight-line distance counts\n",
                        static_cast<long long>(s.off_road_assignments));
        if (summary.staffing.mobile_workers > 0)
            std::printf(
                "Mobile workers: %zu of %lld assigned to grids (at most each grid's household share), distance mean "
                "%.0f m\n",
                summary.staffing.mobile.assignments.size(), static_cast<long long>(summary.staffing.mobile_workers),
                summary.staffing.mobile.mean_distance_m);
    }
    for (const auto& u : summary.staffing.utilities) {
        std::printf(
            "Utility %s: %zu stations, %zu micro-grids unassigned, %.0f household-km (fractional lower bound %.0f)\n",
            u.name.c_str(), u.station_rows.size(), u.result.unassigned.size(), u.result.weighted_distance / 1000,
            u.result.lower_bound / 1000);
    }
    std::cout << "Timings:";
    double total = 0;
    for (std::size_t i = 0; i < summary.timings.size(); ++i) {
        const auto& [stage, seconds] = summary.timings[i];
        if (i < summary.cpu_timings.size())  // CPU above wall: both cores busy; below: one idle
            std::printf(" %s %.2f s (CPU %.2f s),", stage.c_str(), seconds, summary.cpu_timings[i].second);
        else
            std::printf(" %s %.2f s,", stage.c_str(), seconds);
        total += seconds;
    }
    std::printf(" total %.2f s (alongside each other: staffing %.2f s then assess %.2f s, writing %.2f s)\n", total,
                summary.staffing_seconds, summary.assess_seconds, summary.writing_seconds);
    return 0;
}

int run_report(const std::vector<std::string>& args) {
    std::string path;
    std::string html, basemap;
    int threads = 0;
    po::options_description options("civgrid report options");
    options.add_options()("help,h", "show this help")("file", po::value(&path)->required(),
                                                      "civgrid output GeoPackage")(
        "threads", po::value(&threads)->default_value(0), "worker threads (0 = all cores)")(
        "html", po::value(&html),
        "also write a self-contained HTML report here: map of the micro-grids by deviation, the quality report, "
        "a histogram, a table per community; opens offline in any browser")(
        "basemap", po::value(&basemap),
        "with --html: a tile server's URL template drawn under the map (http(s), with {z} {x} {y}, e.g. "
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png); the page then fetches its tiles, and nothing else");
    po::positional_options_description positional;
    positional.add("file", 1);
    po::variables_map vm;
    po::store(po::command_line_parser(args).options(options).positional(positional).run(), vm);
    if (vm.count("help")) {
        std::cout << "Usage: civgrid report out.gpkg [--html report.html]\nRecomputes the quality report from the "
                     "output's geometry.\n\n"
                  << options;
        return 0;
    }
    po::notify(vm);
    if (!basemap.empty() && html.empty())
        throw ConfigError("cli", "--basemap without --html: the basemap is the page's");
    if (html.empty()) {
        std::cout << engine::report_file(path, threads).to_text();
        return 0;
    }
    std::cout << engine::report_html_file(path, html, threads, {}, basemap).to_text();
    std::cout << "wrote " << html << " (HTML report)\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    // Ctrl-C, SIGTERM or a closed terminal during a run remove its temporary output file.
    io::remove_temporary_files_on_signals();
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
        std::cout << kUsage;
        return args.empty() ? 2 : 0;
    }
    if (args[0] == "--version") {
        std::cout << "civgrid " << engine::kVersion << " (GEOS " << GEOSversion() << ", GDAL " << io::gdal_version()
                  << ", PROJ " << io::proj_version() << ")\n";
        return 0;
    }
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    try {
        if (args[0] == "synth") return run_synth(rest);
        if (args[0] == "partition") return run_partition(rest, Mode::partition);
        if (args[0] == "check") return run_partition(rest, Mode::check);
        if (args[0] == "repartition") return run_partition(rest, Mode::rerun);
        if (args[0] == "report") return run_report(rest);
        if (args[0] == "schema") return run_schema(rest);
        return fail("unknown command '" + args[0] + "'\n" + kUsage, 2);
    } catch (const po::error& error) {
        return fail(args[0] + ": " + error.what() + " (see civgrid " + args[0] + " --help)", 2);
    } catch (const Error& error) {
        return fail(error.what(), exit_code(error.kind()));
    } catch (const std::bad_alloc&) {
        return fail("out of memory", 1);
    } catch (const std::exception& error) {
        return fail(std::string("internal error: ") + error.what(), 1);
    }
}
