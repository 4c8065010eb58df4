// The files of a split output (engine::write_result_per_district, engine::ShardMerge): one
// GeoPackage per district, each written as its rows come, and the index, written last.
#pragma once

#include <civgrid/algorithms/geos.hpp>
#include <civgrid/engine/pipeline.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace civgrid::engine::split {

/// Which district a row belongs to: its district_code, else its region's, else its micro-grid's,
/// else its grid's. Throws ConfigError when a micro-grid's region has no district code.
class DistrictOfRow {
public:
    DistrictOfRow(const City& city, const PartitionResult& result);

    /// The districts that get a file: those of the regions, in code order.
    [[nodiscard]] std::vector<std::string> districts() const;

    struct Columns {
        int district = -1, region = -1, micro_grid = -1, grid = -1;
    };
    [[nodiscard]] static Columns columns(const io::LayerData& layer);

    /// Micro-grids its regions asked for (run_info's quality.requested of its file).
    [[nodiscard]] std::int64_t requested(const std::string& district) const;

    /// "" when the row names no district (it then goes to the index).
    [[nodiscard]] std::string operator()(const Columns& columns, const std::vector<FieldValue>& row) const;

private:
    std::map<std::string, std::string> by_region_, by_micro_grid_, by_grid_;
    std::map<std::string, std::int64_t> requested_;
};

/// The files while they are written. A district's file is reserved by open() and gets its rows
/// as layers come (written at once: only the index's rows are held until commit()); nothing is
/// renamed into place before commit(), and destroying the object first removes every temporary.
class SplitFiles {
public:
    /// Checks the index path against `inputs` (as write_result does) and reserves it.
    SplitFiles(std::string index_path, std::vector<io::NamedSource> inputs, std::string crs);
    ~SplitFiles();
    SplitFiles(const SplitFiles&) = delete;
    SplitFiles& operator=(const SplitFiles&) = delete;

    /// Reserves a district's file beside the index: refused (ConfigError) when another district's
    /// code gives the same file name, and as write_result refuses its path.
    void open(const std::string& district);
    [[nodiscard]] bool is_open(const std::string& district) const;
    [[nodiscard]] std::size_t opened() const noexcept { return order_.size(); }

    /// Every row of `layer` to the file of its district (which must be open) or to the index;
    /// every open district's file gets the layer, empty or not. run_info goes to every file: a
    /// district's with its own quality.requested and an output row naming it.
    void add_layer(const io::LayerData& layer, const DistrictOfRow& district_of, RunControl* control);
    /// The rows of `layer` that belong to `district` to its file only (the layer is added to no
    /// other district's), rows of no district to the index; rows of another district are an
    /// InternalError. For a district written as soon as its shards came.
    void add_district_layer(const std::string& district, const io::LayerData& layer, const DistrictOfRow& district_of,
                            RunControl* control);

    /// The index (the `parts` layer first, then its rows), each file closed, then every file
    /// renamed into place, the index last. Returns the parts in district-code order.
    std::vector<OutputPart> commit(RunControl* control);

private:
    struct Part;
    Part& part(const std::string& district);
    void route(const io::LayerData& layer, const DistrictOfRow& district_of, const std::string* only,
               RunControl* control);
    io::LayerData& index_layer(const io::LayerData& like);

    std::string index_path_, stem_, crs_;
    std::vector<io::NamedSource> inputs_;
    std::unique_ptr<io::OutputReservation> index_output_;
    std::map<std::string, std::unique_ptr<Part>> parts_;  ///< by district code
    std::vector<std::string> order_;                      ///< districts as opened
    std::map<std::string, std::string> code_of_file_;
    std::vector<io::LayerData> index_layers_;
    geos::Context context_;
};

}  // namespace civgrid::engine::split
