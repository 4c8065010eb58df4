// A split output (engine::write_result_per_district): write_result's layers, each row in the
// GeoPackage of its district, the rest and an index of the parts in one more file. The files
// themselves (split::SplitFiles) also serve engine::ShardMerge, which writes a district as soon as
// its shards have come.
#include "split_files.hpp"

#include <civgrid/engine/output_schema.hpp>
#include <civgrid/engine/styles.hpp>
#include <civgrid/error.hpp>

#include <algorithm>
#include <filesystem>
#include <utility>

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

Wkb box_polygon(const geos::Context& context, const geos::Envelope& box) {
    const geos::Geom polygon = geos::polygon(
        context, {{box.min_x, box.min_y}, {box.max_x, box.min_y}, {box.max_x, box.max_y}, {box.min_x, box.max_y}});
    return geos::to_wkb(context, polygon.get());
}

}  // namespace

namespace split {

DistrictOfRow::DistrictOfRow(const City& city, const PartitionResult& result) {
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
            throw ConfigError(kStage, "one file per district: micro-grid " + grid.id + " (" + city.region_level + " '" +
                                          region.code +
                                          "') has no district code; give the districts "
                                          "(district_code on the regions) or write one file");
        by_micro_grid_.emplace(grid.id, found->second);
    }
    for (const Grid& grid : result.grids) {
        const auto found = by_region_.find(city.regions[static_cast<std::size_t>(grid.region)].code);
        if (found != by_region_.end()) by_grid_.emplace(grid.id, found->second);
    }
}

std::vector<std::string> DistrictOfRow::districts() const {
    std::vector<std::string> codes;
    for (const auto& [region, district] : by_region_) codes.push_back(district);
    std::sort(codes.begin(), codes.end());
    codes.erase(std::unique(codes.begin(), codes.end()), codes.end());
    return codes;
}

DistrictOfRow::Columns DistrictOfRow::columns(const io::LayerData& layer) {
    return {field_of(layer, field_name::district_code), field_of(layer, field_name::community_code),
            field_of(layer, field_name::micro_grid_id), field_of(layer, field_name::grid_id)};
}

std::int64_t DistrictOfRow::requested(const std::string& district) const {
    const auto found = requested_.find(district);
    return found == requested_.end() ? 0 : found->second;
}

std::string DistrictOfRow::operator()(const Columns& columns, const std::vector<FieldValue>& row) const {
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

// One district's file: written layer by layer as they come.
struct SplitFiles::Part {
    OutputPart summary;
    io::OutputReservation output;
    io::GeoPackageWriter writer;
    std::optional<geos::Envelope> box;  ///< of its micro-grids
    Part(const std::string& path, const std::string& crs) : output(path), writer(output, crs) {}
};

SplitFiles::SplitFiles(std::string index_path, std::vector<io::NamedSource> inputs, std::string crs)
    : index_path_(std::move(index_path)), crs_(std::move(crs)), inputs_(std::move(inputs)) {
    const std::filesystem::path index(index_path_);
    stem_ = (index.parent_path() / index.stem()).string();
    io::check_output_path(index_path_, inputs_);
    index_output_ = std::make_unique<io::OutputReservation>(index_path_);
}

SplitFiles::~SplitFiles() = default;

void SplitFiles::open(const std::string& district) {
    if (parts_.contains(district)) return;
    const std::string path = stem_ + "-" + file_safe(district) + ".gpkg";
    const auto [clash, added] = code_of_file_.emplace(path, district);
    if (!added)
        throw ConfigError(kStage, "one file per district: districts '" + clash->second + "' and '" + district +
                                      "' would both be written to '" + path + "'");
    io::check_output_path(path, inputs_);
    auto part = std::make_unique<Part>(path, crs_);
    part->summary.district_code = district;
    part->summary.path = path;
    parts_.emplace(district, std::move(part));
    order_.push_back(district);
}

bool SplitFiles::is_open(const std::string& district) const {
    return parts_.contains(district);
}

SplitFiles::Part& SplitFiles::part(const std::string& district) {
    const auto found = parts_.find(district);
    if (found == parts_.end())
        throw InternalError(kStage, "one file per district: district '" + district + "' not open");
    return *found->second;
}

io::LayerData& SplitFiles::index_layer(const io::LayerData& like) {
    for (io::LayerData& layer : index_layers_)
        if (layer.name == like.name) return layer;
    index_layers_.push_back(empty_like(like));
    return index_layers_.back();
}

void SplitFiles::route(const io::LayerData& layer, const DistrictOfRow& district_of, const std::string* only,
                       RunControl* control) {
    if (control != nullptr) control->check(kStage);
    // The layer as each district's file gets it; a district's rows are copied once, then written.
    std::map<std::string, io::LayerData> own;
    if (only != nullptr)
        own.emplace(*only, empty_like(layer));
    else
        for (const std::string& district : order_) own.emplace(district, empty_like(layer));
    io::LayerData& index = index_layer(layer);
    const DistrictOfRow::Columns columns = DistrictOfRow::columns(layer);
    const int households = field_of(layer, field_name::households);
    for (std::size_t row = 0; row < layer.rows.size(); ++row) {
        const std::string district = district_of(columns, layer.rows[row]);
        if (only != nullptr && !district.empty() && district != *only)
            throw InternalError(kStage, "one file per district: a row of layer '" + layer.name + "' of district '" +
                                            district + "' came with district '" + *only + "'");
        const auto found = own.find(district);
        if (found == own.end()) {  // no district, or one without a file (not a region's)
            copy_row(layer, row, index);
            continue;
        }
        Part& part = this->part(district);
        if (layer.name == layer_name::micro_grids) {
            ++part.summary.micro_grids;
            if (households >= 0)
                if (const auto* value =
                        std::get_if<std::int64_t>(&layer.rows[row][static_cast<std::size_t>(households)]))
                    part.summary.households += *value;
            if (row < layer.geometries.size()) {
                const geos::Geom polygon = geos::from_wkb(context_, layer.geometries[row]);
                if (const auto box = geos::envelope_if_any(context_, polygon.get())) {
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
        copy_row(layer, row, found->second);
    }
    for (auto& [district, rows] : own) {
        if (control != nullptr) control->check(kStage);
        part(district).writer.add_layer(rows);
        rows = io::LayerData();  // written: its memory goes now
    }
}

void SplitFiles::add_layer(const io::LayerData& layer, const DistrictOfRow& district_of, RunControl* control) {
    if (layer.name != layer_name::run_info) {
        route(layer, district_of, nullptr, control);
        return;
    }
    // A district's file: the run's run_info, but the micro-grids requested are its own, so that
    // civgrid report recomputes its quality report alone.
    const int section = field_of(layer, field_name::section), key = field_of(layer, field_name::key),
              value = field_of(layer, field_name::value);
    for (const std::string& district : order_) {
        io::LayerData info = layer;
        for (std::vector<FieldValue>& row : info.rows)
            if (section >= 0 && key >= 0 && value >= 0 &&
                text_of(row[static_cast<std::size_t>(section)]) == "quality" &&
                text_of(row[static_cast<std::size_t>(key)]) == "requested")
                row[static_cast<std::size_t>(value)] = std::to_string(district_of.requested(district));
        info.rows.push_back({std::string("output"), std::string("district"), district});
        part(district).writer.add_layer(info);
    }
    io::LayerData info = layer;
    info.rows.push_back({std::string("output"), std::string("districts"), static_cast<std::int64_t>(order_.size())});
    index_layers_.push_back(std::move(info));
}

void SplitFiles::add_district_layer(const std::string& district, const io::LayerData& layer,
                                    const DistrictOfRow& district_of, RunControl* control) {
    route(layer, district_of, &district, control);
}

std::vector<OutputPart> SplitFiles::commit(RunControl* control) {
    // The index of the parts, first in the index file.
    std::vector<std::string> districts = order_;
    std::sort(districts.begin(), districts.end());
    io::LayerData parts_layer = schema::empty_layer(layer_name::parts);
    for (const std::string& district : districts) {
        const Part& part = *parts_.at(district);
        const OutputPart& s = part.summary;
        parts_layer.geometries.push_back(part.box ? box_polygon(context_, *part.box) : Wkb{});
        parts_layer.rows.push_back({s.district_code, std::filesystem::path(s.path).filename().string(), s.micro_grids,
                                    s.grids, s.buildings, s.households});
    }
    index_layers_.insert(index_layers_.begin(), std::move(parts_layer));

    // Each file complete in its temporary, then the renames: parts first, the index last.
    auto close = [&](io::GeoPackageWriter& writer) {
        if (control != nullptr) control->check(kStage);
        writer.add_styles(layer_styles(writer.layers()));
        writer.close();
        if (control != nullptr) control->step();
    };
    for (const std::string& district : order_) close(parts_.at(district)->writer);
    {
        io::GeoPackageWriter index(*index_output_, crs_);
        for (io::LayerData& layer : index_layers_) {
            index.add_layer(layer);
            layer = io::LayerData();
        }
        close(index);
    }
    if (control != nullptr) control->check(kStage);
    for (const std::string& district : order_) parts_.at(district)->output.commit();
    index_output_->commit();

    std::vector<OutputPart> summaries;
    summaries.reserve(districts.size());
    for (const std::string& district : districts) summaries.push_back(parts_.at(district)->summary);
    return summaries;
}

}  // namespace split

std::vector<OutputPart> write_result_per_district(
    const std::string& index_path, const City& city, const PartitionResult& result,
    const algorithms::QualityReport& report, const PartitionConfig& config,
    const std::vector<std::pair<std::string, double>>& timings, const Staffing* staffing, const ExtraOutput* extra,
    RunControl* control, const std::vector<io::NamedSource>& more_inputs) {
    const split::DistrictOfRow district_of(city, result);
    std::vector<io::NamedSource> inputs = input_sources(config);
    inputs.insert(inputs.end(), more_inputs.begin(), more_inputs.end());
    // The files, named and checked before any is written.
    split::SplitFiles files(index_path, std::move(inputs), city.crs);
    for (const std::string& district : district_of.districts()) files.open(district);
    if (control != nullptr) control->begin("write");
    const LayerSink sink{[&](const io::LayerData& layer) {
        files.add_layer(layer, district_of, control);
        if (control != nullptr) control->step();
    }};
    result_layers(city, result, report, config, timings, staffing, sink, extra);
    return files.commit(control);
}

}  // namespace civgrid::engine
