// A split output (engine::write_result_per_district): write_result's layers, each row in the
// GeoPackage of its district, the rest and an index of the parts in one more file.
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/engine/output_schema.hpp>
#include <civgrid/engine/pipeline.hpp>
#include <civgrid/engine/styles.hpp>
#include <civgrid/error.hpp>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace civgrid::engine {

namespace field_name = schema::field_name;
namespace layer_name = schema::layer_name;

namespace {

constexpr const char* kStage = "engine.output";

std::string text_of(const FieldValue& value) {
    if (const auto* text = std::get_if<std::string>(&value)) return *text;
    if (const auto* number = std::get_if<std::int64_t>(&value)) return std::to_string(*number);
    return {};
}

int field_of(const io::LayerData& layer, std::string_view name) {
    for (std::size_t j = 0; j < layer.fields.size(); ++j)
        if (layer.fields[j].name == name) return static_cast<int>(j);
    return -1;
}

// A district code as part of a file name: letters, digits, '-', '_' and '.' kept, the rest '_'.
std::string file_safe(const std::string& code) {
    std::string safe = code;
    for (char& c : safe) {
        const bool keep = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
                          c == '_' || c == '.';
        if (!keep) c = '_';
    }
    return safe;
}

// Which district a row belongs to: its district_code, else its region's, else its micro-grid's,
// else its grid's.
class DistrictOfRow {
public:
    DistrictOfRow(const City& city, const PartitionResult& result) {
        for (std::size_t r = 0; r < city.regions.size(); ++r) {
            const Region& region = city.regions[r];
            std::string district = region.district_code;
            if (district.empty() && city.region_level == "district") district = region.code;
            if (district.empty() || region.code.empty()) continue;
            by_region_.emplace(region.code, district);
            if (r < result.regions.size()) requested_[district] += result.regions[r].requested;
        }
        for (const MicroGrid& grid : result.micro_grids) {
            const Region& region = city.regions[static_cast<std::size_t>(grid.region)];
            const auto found = by_region_.find(region.code);
            if (found == by_region_.end())
                throw ConfigError(kStage, "one file per district: micro-grid " + grid.id + " (" + city.region_level +
                                              " '" + region.code +
                                              "') has no district code; give the districts "
                                              "(district_code on the regions) or write one file");
            by_micro_grid_.emplace(grid.id, found->second);
        }
        for (const Grid& grid : result.grids) {
            const auto found = by_region_.find(city.regions[static_cast<std::size_t>(grid.region)].code);
            if (found != by_region_.end()) by_grid_.emplace(grid.id, found->second);
        }
    }

    /// The districts that get a file: those of the regions, in code order.
    [[nodiscard]] std::vector<std::string> districts() const {
        std::vector<std::string> codes;
        for (const auto& [region, district] : by_region_) codes.push_back(district);
        std::sort(codes.begin(), codes.end());
        codes.erase(std::unique(codes.begin(), codes.end()), codes.end());
        return codes;
    }

    struct Columns {
        int district = -1, region = -1, micro_grid = -1, grid = -1;
    };
    [[nodiscard]] static Columns columns(const io::LayerData& layer) {
        return {field_of(layer, field_name::district_code), field_of(layer, field_name::community_code),
                field_of(layer, field_name::micro_grid_id), field_of(layer, field_name::grid_id)};
    }

    /// Micro-grids its regions asked for (run_info's quality.requested of its file).
    [[nodiscard]] std::int64_t requested(const std::string& district) const {
        const auto found = requested_.find(district);
        return found == requested_.end() ? 0 : found->second;
    }

    /// "" when the row names no district (it then goes to the index).
    [[nodiscard]] std::string operator()(const Columns& columns, const std::vector<FieldValue>& row) const {
        auto value = [&](int column) {
            return column >= 0 && static_cast<std::size_t>(column) < row.size()
                       ? text_of(row[static_cast<std::size_t>(column)])
                       : std::string();
        };
        if (std::string district = value(columns.district); !district.empty()) return district;
        if (const std::string region = value(columns.region); !region.empty()) {
            const auto found = by_region_.find(region);
            if (found != by_region_.end()) return found->second;
        }
        if (const std::string grid = value(columns.micro_grid); !grid.empty()) {
            const auto found = by_micro_grid_.find(grid);
            if (found != by_micro_grid_.end()) return found->second;
        }
        if (const std::string grid = value(columns.grid); !grid.empty()) {  // a mobile worker's grid
            const auto found = by_grid_.find(grid);
            if (found != by_grid_.end()) return found->second;
        }
        return {};
    }

private:
    std::map<std::string, std::string> by_region_, by_micro_grid_, by_grid_;
    std::map<std::string, std::int64_t> requested_;
};

io::LayerData empty_like(const io::LayerData& layer) {
    io::LayerData copy;
    copy.name = layer.name;
    copy.geometry_kind = layer.geometry_kind;
    copy.fields = layer.fields;
    return copy;
}

void copy_row(const io::LayerData& from, std::size_t row, io::LayerData& to) {
    if (row < from.geometries.size()) to.geometries.push_back(from.geometries[row]);
    to.rows.push_back(from.rows[row]);
}

// One file of the split output: its layers as they come, written when all have come.
struct Part {
    OutputPart summary;
    std::vector<io::LayerData> layers;
    std::optional<geos::Envelope> box;  ///< of its micro-grids
};

Wkb box_polygon(const geos::Context& context, const geos::Envelope& box) {
    const geos::Geom polygon = geos::polygon(
        context, {{box.min_x, box.min_y}, {box.max_x, box.min_y}, {box.max_x, box.max_y}, {box.min_x, box.max_y}});
    return geos::to_wkb(context, polygon.get());
}

}  // namespace

std::vector<OutputPart> write_result_per_district(
    const std::string& index_path, const City& city, const PartitionResult& result,
    const algorithms::QualityReport& report, const PartitionConfig& config,
    const std::vector<std::pair<std::string, double>>& timings, const Staffing* staffing, const ExtraOutput* extra,
    RunControl* control, const std::vector<io::NamedSource>& more_inputs) {
    const DistrictOfRow district_of(city, result);
    const std::vector<std::string> districts = district_of.districts();

    // The files, named and checked before any is written.
    const std::filesystem::path index(index_path);
    const std::string stem = (index.parent_path() / index.stem()).string();
    std::vector<Part> parts(districts.size());
    std::map<std::string, std::size_t> part_of;
    std::map<std::string, std::string> code_of_file;
    for (std::size_t d = 0; d < districts.size(); ++d) {
        OutputPart& summary = parts[d].summary;
        summary.district_code = districts[d];
        summary.path = stem + "-" + file_safe(districts[d]) + ".gpkg";
        const auto [clash, added] = code_of_file.emplace(summary.path, districts[d]);
        if (!added)
            throw ConfigError(kStage, "one file per district: districts '" + clash->second + "' and '" + districts[d] +
                                          "' would both be written to '" + summary.path + "'");
        part_of.emplace(districts[d], d);
    }
    std::vector<io::NamedSource> inputs = input_sources(config);
    inputs.insert(inputs.end(), more_inputs.begin(), more_inputs.end());
    io::check_output_path(index_path, inputs);
    for (const Part& part : parts) io::check_output_path(part.summary.path, inputs);
    io::OutputReservation index_output(index_path);
    std::vector<std::unique_ptr<io::OutputReservation>> outputs;
    outputs.reserve(parts.size());
    for (const Part& part : parts) outputs.push_back(std::make_unique<io::OutputReservation>(part.summary.path));

    // Every layer's rows to their files; run_info to every file.
    geos::Context context;
    std::vector<io::LayerData> index_layers;
    const LayerSink sink{[&](const io::LayerData& whole) {
        if (control != nullptr) control->check(kStage);
        if (whole.name == layer_name::run_info) {
            // A district's file: the run's run_info, but the micro-grids requested are its own, so
            // that civgrid report recomputes its quality report alone.
            const int section = field_of(whole, field_name::section), key = field_of(whole, field_name::key),
                      value = field_of(whole, field_name::value);
            for (std::size_t d = 0; d < parts.size(); ++d) {
                io::LayerData info = whole;
                for (std::vector<FieldValue>& row : info.rows)
                    if (section >= 0 && key >= 0 && value >= 0 &&
                        text_of(row[static_cast<std::size_t>(section)]) == "quality" &&
                        text_of(row[static_cast<std::size_t>(key)]) == "requested")
                        row[static_cast<std::size_t>(value)] = std::to_string(district_of.requested(districts[d]));
                info.rows.push_back({std::string("output"), std::string("district"), districts[d]});
                parts[d].layers.push_back(std::move(info));
            }
            io::LayerData info = whole;
            info.rows.push_back(
                {std::string("output"), std::string("districts"), static_cast<std::int64_t>(districts.size())});
            index_layers.push_back(std::move(info));
            return;
        }
        const io::LayerData& layer = whole;
        for (Part& part : parts) part.layers.push_back(empty_like(layer));
        index_layers.push_back(empty_like(layer));
        const DistrictOfRow::Columns columns = DistrictOfRow::columns(layer);
        const int households = field_of(layer, field_name::households);
        for (std::size_t row = 0; row < layer.rows.size(); ++row) {
            const auto found = part_of.find(district_of(columns, layer.rows[row]));
            if (found == part_of.end()) {
                copy_row(layer, row, index_layers.back());
                continue;
            }
            Part& part = parts[found->second];
            if (layer.name == layer_name::micro_grids) {
                ++part.summary.micro_grids;
                if (households >= 0)
                    if (const auto* value =
                            std::get_if<std::int64_t>(&layer.rows[row][static_cast<std::size_t>(households)]))
                        part.summary.households += *value;
                if (row < layer.geometries.size()) {
                    const geos::Geom polygon = geos::from_wkb(context, layer.geometries[row]);
                    if (const auto box = geos::envelope_if_any(context, polygon.get())) {
                        if (!part.box) part.box = box;
                        part.box->min_x = std::min(part.box->min_x, box->min_x);
                        part.box->min_y = std::min(part.box->min_y, box->min_y);
                        part.box->max_x = std::max(part.box->max_x, box->max_x);
                        part.box->max_y = std::max(part.box->max_y, box->max_y);
                    }
                }
            } else if (layer.name == layer_name::grids) {
                ++part.summary.grids;
            } else if (layer.name == layer_name::buildings) {
                ++part.summary.buildings;
            }
            copy_row(layer, row, part.layers.back());
        }
    }};
    result_layers(city, result, report, config, timings, staffing, sink, extra);

    // The index of the parts, first in the index file.
    io::LayerData index_layer = schema::empty_layer(layer_name::parts);
    for (const Part& part : parts) {
        const OutputPart& s = part.summary;
        index_layer.geometries.push_back(part.box ? box_polygon(context, *part.box) : Wkb{});
        index_layer.rows.push_back({s.district_code, std::filesystem::path(s.path).filename().string(), s.micro_grids,
                                    s.grids, s.buildings, s.households});
    }
    index_layers.insert(index_layers.begin(), std::move(index_layer));

    // Each file complete in its temporary, then the renames: parts first, the index last.
    if (control != nullptr) control->begin("write", parts.size() + 1);
    auto write = [&](io::OutputReservation& output, std::vector<io::LayerData>& layers) {
        if (control != nullptr) control->check(kStage);
        io::GeoPackageWriter writer(output, city.crs);
        for (io::LayerData& layer : layers) {
            writer.add_layer(layer);
            layer = io::LayerData();  // written: its memory goes now
        }
        writer.add_styles(layer_styles(writer.layers()));
        writer.close();
        if (control != nullptr) control->step();
    };
    for (std::size_t d = 0; d < parts.size(); ++d) write(*outputs[d], parts[d].layers);
    write(index_output, index_layers);
    if (control != nullptr) control->check(kStage);
    for (const auto& output : outputs) output->commit();
    index_output.commit();

    std::vector<OutputPart> summaries;
    summaries.reserve(parts.size());
    for (Part& part : parts) summaries.push_back(std::move(part.summary));
    return summaries;
}

}  // namespace civgrid::engine
