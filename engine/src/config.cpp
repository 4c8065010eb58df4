// The options' sane ranges, checked once before any work (CLI, Python and benchmarks alike).
#include <civgrid/engine/config.hpp>
#include <civgrid/error.hpp>
#include <civgrid/io/layer.hpp>

#include <cmath>
#include <cstdio>
#include <string>

namespace civgrid::engine {
namespace {

constexpr const char* kStage = "engine.config";

std::string number_text(double value) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.15g", value);
    return buffer;
}

/// Refuses `value` outside [low, high] (or not finite) with the option's name and range.
void within(const char* option, double value, double low, double high, const char* meaning = "") {
    if (std::isfinite(value) && value >= low && value <= high) return;
    throw ConfigError(kStage, std::string(option) + " " + number_text(value) + " is out of range: it must be from " +
                                  number_text(low) + " to " + number_text(high) + meaning);
}

}  // namespace

void validate_config(const PartitionConfig& config) {
    within("--target-households", config.target_households, 1, 1e6, " households per micro-grid");
    within("--tolerance", config.tolerance, 0, 0.99);
    within("--micro-grids", static_cast<double>(config.micro_grid_count), 0, 1e7, " (0 = from the target)");
    within("--grids", static_cast<double>(config.grid_count), 0, 1e7, " (0 = from --grid-households)");
    within("--min-households", config.min_households, 0, 1e6, " (0 = from the tolerance)");
    within("--max-households", config.max_households, 0, 1e7, " (0 = from the tolerance)");
    within("--hard-min-households", config.hard_min_households, 0, 1e6, " (0 = off)");
    within("--grid-households", config.grid_households, 0, 1e8, " (0 = no grid level)");
    within("--compactness", config.compactness, 0, 100, " (0 = balance only)");
    within("--soft-barrier-weight", config.soft_barrier_weight, 0, 1000, " (0 = ignore minor roads)");
    within("--split-households", config.split_piece_households, 0, 1e6, " (0 = target / 8)");
    within("--threads", config.threads, 0, 4096, " (0 = all cores)");
    within("--dwelling-area", config.dwelling_area, 0, 1e5, " m2 (0 = off)");
    within("--max-building-households", static_cast<double>(config.max_building_households), 1, 1e9);
    within("coordinate_grid", config.coordinate_grid, 0, 1000, " metres (0 = as read)");
    within("persons_per_household", config.persons_per_household, 0.1, 100);
    within("worker_candidates", config.worker_candidates, 1, 1000);
    if (!config.region_level.empty() && config.region_level != "community" && config.region_level != "street" &&
        config.region_level != "district" && config.region_level != "city")
        throw ConfigError(kStage,
                          "--level must be community, street, district or city, not '" + config.region_level + "'");
    if (!config.units.empty() && config.units != "buildings" && config.units != "areas")
        throw ConfigError(kStage, "--units must be buildings or areas, not '" + config.units + "'");
    within("--coverage-tolerance", config.coverage_tolerance, 0, 100, " metres (0 = units as read)");
    if (config.split_large_units && config.units != "areas")
        throw ConfigError(kStage, "--split-large-units splits units of --units areas: give --units areas too");
    if (config.max_households > 0 && config.min_households > config.max_households)
        throw ConfigError(kStage, "--min-households " + number_text(config.min_households) +
                                      " is above --max-households " + number_text(config.max_households));
    if (config.max_households > 0 && config.max_households < config.target_households)
        throw ConfigError(kStage, "--max-households " + number_text(config.max_households) + " is below the target " +
                                      number_text(config.target_households));
    if (config.min_households > config.target_households)
        throw ConfigError(kStage, "--min-households " + number_text(config.min_households) + " is above the target " +
                                      number_text(config.target_households));
    // CRSs are parsed now, not when (or whether) a layer needs them.
    for (const auto& [option, crs] : {std::pair<const char*, const std::string*>{"--crs", &config.working_crs},
                                      {"--assume-crs", &config.assume_crs}})
        if (!crs->empty()) {
            try {
                static_cast<void>(io::describe_crs(*crs));
            } catch (const ConfigError& error) {
                throw ConfigError(kStage, std::string(option) + ": " + error.what());
            }
        }
    for (const auto& [option, rule] : {std::pair<const char*, const BarrierRule*>{"roads", &config.hard_roads},
                                       {"rivers", &config.hard_rivers},
                                       {"railways", &config.hard_railways}})
        check_barrier_filter(option, rule->filter);
    if (config.shard.given()) {
        const ShardSelection& shard = config.shard;
        if (config.working_crs.empty())
            throw ConfigError(kStage, "a shard needs the working CRS of its whole run (plan_shards gives it)");
        if (!(shard.min_x <= shard.max_x && shard.min_y <= shard.max_y))
            throw ConfigError(kStage, "shard " + shard.field + " = " + shard.value + ": its box is empty");
        if (config.micro_grid_count > 0 || config.grid_count > 0)
            throw ConfigError(kStage,
                              "--micro-grids / --grids share one count over the whole city: not by shard (give the "
                              "count per region with --count-field / --grid-count-field, or run on one machine)");
    }
}

std::string ShardSelection::filter() const {
    std::string quoted_field = "\"", quoted_value = "'";
    for (const char c : field) quoted_field += c == '"' ? std::string("\"\"") : std::string(1, c);
    for (const char c : value) quoted_value += c == '\'' ? std::string("''") : std::string(1, c);
    return quoted_field + "\" = " + quoted_value + "'";
}

void check_barrier_filter(const std::string& layer, const std::string& filter) {
    // One OGR SQL expression: a ';' outside quotes would end it early and SQLite would silently
    // ignore the rest, so the filter would not be what was written.
    char quote = 0;
    int depth = 0;
    for (const char c : filter) {
        if (quote != 0) {
            if (c == quote) quote = 0;  // a doubled quote reopens at once: same result
            continue;
        }
        if (c == '\'' || c == '"')
            quote = c;
        else if (c == '(')
            ++depth;
        else if (c == ')' && --depth < 0)
            break;
        else if (c == ';')
            throw ConfigError(kStage, "--hard-barriers '" + layer + ":" + filter +
                                          "': a filter is one OGR SQL expression (e.g. class IN ('major','trunk')); "
                                          "';' is not allowed");
    }
    if (quote != 0 || depth != 0)
        throw ConfigError(kStage, "--hard-barriers '" + layer + ":" + filter + "': unbalanced " +
                                      (quote != 0 ? "quotes" : "parentheses"));
}

}  // namespace civgrid::engine
