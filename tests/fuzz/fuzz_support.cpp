#include "fuzz_support.hpp"

#include <civgrid/data/synth.hpp>
#include <civgrid/engine/pipeline.hpp>
#include <civgrid/error.hpp>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <gdal.h>
#include <gdal_utils.h>
#include <ogr_api.h>

#include <unistd.h>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>

namespace civgrid::fuzz {

std::uint32_t FuzzBytes::u32() noexcept {
    std::uint32_t value = 0;
    for (int i = 0; i < 4; ++i) value = (value << 8) | byte();
    return value;
}

namespace {

// The process's folder, removed when the process ends normally.
struct Folder {
    std::filesystem::path path;
    Folder() {
        // In memory when /dev/shm is there: every iteration writes a few GeoPackages.
        std::error_code no_shm;
        const std::filesystem::path base = std::filesystem::is_directory("/dev/shm", no_shm)
                                               ? std::filesystem::path("/dev/shm")
                                               : std::filesystem::temp_directory_path();
        std::string pattern = (base / "civgrid-fuzz-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) finding("cannot create a temporary folder");
        path = pattern;
    }
    ~Folder() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
    Folder(const Folder&) = delete;
    Folder& operator=(const Folder&) = delete;
};

Folder& folder() {
    static Folder instance;
    return instance;
}

Pristine make_pristine() {
    GDALAllRegister();
    // Mutants make GDAL complain on every iteration; the outcome is what is checked.
    CPLSetErrorHandler(CPLQuietErrorHandler);
    // Scratch files need no fsync: durability is not what is fuzzed, and syncs were a tenth of the time.
    CPLSetConfigOption("OGR_SQLITE_SYNCHRONOUS", "OFF");
    Pristine files;
    files.folder = folder().path;
    files.city = (files.folder / "pristine-city.gpkg").string();
    files.output = (files.folder / "pristine-output.gpkg").string();
    try {
        data::SynthConfig synth;
        synth.households = 1000;  // the generator's minimum: an iteration takes milliseconds
        synth.seed = 1;
        data::write_city(data::generate_city(synth), files.city);
        engine::PartitionConfig config;
        config.city = files.city;
        config.threads = 1;
        (void)engine::run_partition(config, files.output);
    } catch (const std::exception& error) {
        finding(std::string("the pristine city cannot be made: ") + error.what());
    }
    return files;
}

struct DatasetCloser {
    void operator()(void* dataset) const noexcept { GDALClose(dataset); }
};
using Dataset = std::unique_ptr<void, DatasetCloser>;

void execute(GDALDatasetH dataset, const std::string& sql) {
    if (OGRLayerH result = GDALDatasetExecuteSQL(dataset, sql.c_str(), nullptr, nullptr))
        GDALDatasetReleaseResultSet(dataset, result);
}

std::optional<std::string> query_text(GDALDatasetH dataset, const std::string& sql) {
    OGRLayerH result = GDALDatasetExecuteSQL(dataset, sql.c_str(), nullptr, nullptr);
    if (result == nullptr) return std::nullopt;
    std::optional<std::string> text;
    if (OGRFeatureH feature = OGR_L_GetNextFeature(result)) {
        if (OGR_F_GetFieldCount(feature) > 0 && OGR_F_IsFieldSetAndNotNull(feature, 0))
            text = OGR_F_GetFieldAsString(feature, 0);
        OGR_F_Destroy(feature);
    }
    GDALDatasetReleaseResultSet(dataset, result);
    return text;
}

std::string sql_name(const std::string& name) {
    std::string text = "\"";
    for (char c : name) text += c == '"' ? std::string("\"\"") : std::string(1, c);
    return text + "\"";
}

std::string to_hex(const std::vector<std::uint8_t>& bytes) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string text;
    for (std::uint8_t b : bytes) text += {digits[b >> 4], digits[b & 15]};
    return text;
}

std::vector<std::uint8_t> from_hex(const std::string& text) {
    std::vector<std::uint8_t> bytes;
    for (std::size_t i = 0; i + 1 < text.size(); i += 2)
        bytes.push_back(static_cast<std::uint8_t>(std::stoi(text.substr(i, 2), nullptr, 16)));
    return bytes;
}

void put_u32(std::vector<std::uint8_t>& bytes, std::size_t at, std::uint32_t value, bool little_endian) {
    for (std::size_t i = 0; i < 4 && at + i < bytes.size(); ++i)
        bytes[at + i] = static_cast<std::uint8_t>(little_endian ? value >> (8 * i) : value >> (8 * (3 - i)));
}

void put_double(std::vector<std::uint8_t>& bytes, std::size_t at, double value, bool little_endian) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &value, sizeof bits);
    for (std::size_t i = 0; i < 8 && at + i < bytes.size(); ++i)
        bytes[at + i] = static_cast<std::uint8_t>(little_endian ? bits >> (8 * i) : bits >> (8 * (7 - i)));
}

// Values an attribute may be set to, as SQL literals: SQLite stores what it is given whatever the
// column's declared type, so text lands in numbers and reals in integers.
constexpr std::array kLiterals{"NULL",
                               "''",
                               "'abc'",
                               "-1",
                               "0",
                               "1",
                               "1.5",
                               "-0.5",
                               "1e300",
                               "-1e300",
                               "9223372036854775807",
                               "-9223372036854775808",
                               "4611686018427387904",
                               "9007199254740993",
                               "2147483648",
                               "X'00FF'",
                               "'玄武区'",
                               "'1e999'",
                               "'nan'",
                               "'-inf'",
                               "'9223372036854775807'",
                               "'1;2;3'",
                               "';;'",
                               "'320102001001'",
                               "' 12 '"};

// Geometries that replace a feature's: empty, foreign, self-intersecting, unclosed, degenerate,
// far away and huge.
constexpr std::array kForeignWkt{
    "POLYGON EMPTY",
    "MULTIPOLYGON EMPTY",
    "POINT(480500 3540500)",
    "POINT EMPTY",
    "LINESTRING(480100 3540100,480200 3540100)",
    "POLYGON((480100 3540100,480200 3540200,480200 3540100,480100 3540200,480100 3540100))",
    "POLYGON((480100 3540100,480110 3540100,480100 3540100))",
    "POLYGON((1e300 1e300,-1e300 1e300,0 -1e300,1e300 1e300))",
    "POLYGON((1e15 1e15,1e15 -1e15,-1e15 -1e15,-1e15 1e15,1e15 1e15))",
    "POLYGON((0 0,1e-9 0,1e-9 1e-9,0 1e-9,0 0))",
    "POINT(1e300 -1e300)",
    "POINT(-1e18 1e18)",
    "GEOMETRYCOLLECTION(POINT(1 1),POLYGON((0 0,1 0,1 1,0 0)))",
    "MULTIPOLYGON(((480100 3540100,480150 3540100,480150 3540150,480100 3540100)),"
    "((480100 3540100,480150 3540100,480150 3540150,480100 3540100)))",
    "POLYGON((480000 3540000,481000 3540000,481000 3541000,480000 3541000,480000 3540000),"
    "(479000 3539000,482000 3539000,482000 3542000,479000 3542000,479000 3539000))"};

struct LayerInfo {
    OGRLayerH handle = nullptr;
    std::string name, fid_column, geometry_column;
    GIntBig features = 0;
};

class GeoPackageMutator {
public:
    GeoPackageMutator(GDALDatasetH dataset, FuzzBytes& bytes) : dataset_(dataset), bytes_(bytes) {}

    void edit(LayerInfo& layer) {
        const GIntBig fid = 1 + static_cast<GIntBig>(bytes_.below(static_cast<std::uint32_t>(
                                    std::clamp<GIntBig>(layer.features, 1, std::numeric_limits<std::int32_t>::max()))));
        const std::string where = " WHERE " + sql_name(layer.fid_column) + " = " + std::to_string(fid);
        const std::string table = sql_name(layer.name);
        OGRFeatureDefnH definition = OGR_L_GetLayerDefn(layer.handle);
        const int fields = OGR_FD_GetFieldCount(definition);
        auto some_field = [&]() -> std::string {
            return fields > 0 ? OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(
                                    definition, static_cast<int>(bytes_.below(static_cast<std::uint32_t>(fields)))))
                              : std::string();
        };
        switch (bytes_.below(12)) {
            case 0:
            case 1:
            case 2: {  // an attribute value
                const std::string field = some_field();
                if (field.empty()) return;
                const std::uint8_t choice = bytes_.byte();
                const std::string value =
                    choice < kLiterals.size() * 8
                        ? kLiterals[choice % kLiterals.size()]
                        : std::to_string(static_cast<std::int32_t>(bytes_.u32()));  // any 32-bit number
                execute(dataset_, "UPDATE " + table + " SET " + sql_name(field) + " = " + value + where);
                return;
            }
            case 3: {  // a value copied from another feature: duplicate ids, codes, split lists
                const std::string field = some_field();
                if (field.empty()) return;
                const GIntBig other =
                    1 + static_cast<GIntBig>(
                            bytes_.below(static_cast<std::uint32_t>(std::clamp<GIntBig>(layer.features, 1, 1 << 30))));
                execute(dataset_, "UPDATE " + table + " SET " + sql_name(field) + " = (SELECT " + sql_name(field) +
                                      " FROM " + table + " WHERE " + sql_name(layer.fid_column) + " = " +
                                      std::to_string(other) + ")" + where);
                return;
            }
            case 4: {  // a field renamed (another case, a suffix, a name the layer already has) or dropped
                if (fields == 0) return;
                const int index = static_cast<int>(bytes_.below(static_cast<std::uint32_t>(fields)));
                const std::string name = OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(definition, index));
                const std::uint32_t how = bytes_.below(4);
                if (how == 0) {
                    OGR_L_DeleteField(layer.handle, index);
                    return;
                }
                std::string renamed = how == 1 ? name + "_x" : how == 2 ? some_field() : name;
                if (how == 3)
                    for (char& c : renamed) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
                OGRFieldDefnH field = OGR_Fld_Create(renamed.c_str(), OFTString);
                OGR_L_AlterFieldDefn(layer.handle, index, field, ALTER_NAME_FLAG);
                OGR_Fld_Destroy(field);
                return;
            }
            case 5:
            case 6:
            case 7:
                if (!layer.geometry_column.empty()) edit_geometry(layer, where);
                return;
            case 8:  // a feature deleted
                execute(dataset_, "DELETE FROM " + table + where);
                return;
            case 9: {  // a feature duplicated (same attributes and geometry, new fid)
                std::string columns = layer.geometry_column.empty() ? "" : sql_name(layer.geometry_column);
                for (int f = 0; f < fields; ++f)
                    columns +=
                        (columns.empty() ? "" : ",") + sql_name(OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(definition, f)));
                if (columns.empty()) return;
                execute(dataset_,
                        "INSERT INTO " + table + " (" + columns + ") SELECT " + columns + " FROM " + table + where);
                ++layer.features;
                return;
            }
            case 10: {  // the layer's CRS changed, or every feature gone
                const std::uint32_t how = bytes_.below(6);
                if (how == 0) {
                    execute(dataset_, "DELETE FROM " + table);
                    return;
                }
                if (layer.geometry_column.empty()) return;
                static constexpr std::array srs{"0", "-1", "4326", "3857", "99999"};
                const std::string sql_where = " WHERE table_name = '" + layer.name + "'";
                execute(dataset_,
                        std::string("UPDATE gpkg_geometry_columns SET srs_id = ") + srs[how % srs.size()] + sql_where);
                execute(dataset_,
                        std::string("UPDATE gpkg_contents SET srs_id = ") + srs[how % srs.size()] + sql_where);
                return;
            }
            default:  // the whole layer dropped (rarely: most edits should reach deeper)
                if (bytes_.below(4) == 0) dropped_.push_back(layer.name);
                return;
        }
    }

    [[nodiscard]] const std::vector<std::string>& dropped() const noexcept { return dropped_; }

private:
    void edit_geometry(const LayerInfo& layer, const std::string& where) {
        const std::string table = sql_name(layer.name), column = sql_name(layer.geometry_column);
        const std::uint32_t how = bytes_.below(10);
        if (how == 0) {
            execute(dataset_, "UPDATE " + table + " SET " + column + " = NULL" + where);
            return;
        }
        const std::optional<std::string> hex = query_text(dataset_, "SELECT hex(" + column + ") FROM " + table + where);
        if (!hex) return;
        std::vector<std::uint8_t> blob = from_hex(*hex);
        if (blob.size() < 8) return;
        // GeoPackage blob: "GP", version, flags (bit 0 byte order, bits 1-3 envelope), srs_id, envelope, WKB.
        static constexpr std::array<std::size_t, 8> envelope_bytes{0, 32, 48, 48, 64, 0, 0, 0};
        const std::size_t header = 8 + envelope_bytes[(blob[3] >> 1) & 7];
        if (blob.size() <= header + 5) return;
        const bool little = blob[header] == 1;
        const std::size_t wkb_size = blob.size() - header;
        const std::uint32_t type = little ? blob[header + 1] | blob[header + 2] << 8 : blob[header + 4];
        // Where the first coordinate and the first count are, for the types civgrid writes.
        const std::size_t first_double = header + (type == 1 ? 5 : type == 2 ? 9 : type == 3 ? 13 : 22);
        switch (how) {
            case 1:  // bytes flipped inside the WKB
                for (std::uint32_t k = 0, n = 1 + bytes_.below(4); k < n; ++k)
                    blob[header + bytes_.below(static_cast<std::uint32_t>(wkb_size))] = bytes_.byte();
                break;
            case 2:  // truncated
                blob.resize(header + bytes_.below(static_cast<std::uint32_t>(wkb_size)));
                break;
            case 3: {  // another geometry type code, the data unchanged
                static constexpr std::array<std::uint32_t, 15> types{
                    0, 1, 2, 3, 4, 5, 6, 7, 15, 17, 1003, 2003, 0x20000003, 0x80000006, 0xFFFFFFFF};
                put_u32(blob, header + 1, types[bytes_.below(types.size())], little);
                break;
            }
            case 4: {  // a coordinate not finite, huge or tiny
                static constexpr std::array<double, 9> values{std::numeric_limits<double>::quiet_NaN(),
                                                              std::numeric_limits<double>::infinity(),
                                                              -std::numeric_limits<double>::infinity(),
                                                              1e300,
                                                              -1e300,
                                                              9.2e18,
                                                              1e-310,
                                                              0.0,
                                                              4e15};
                if (first_double + 8 > blob.size()) break;
                const std::size_t doubles = (blob.size() - first_double) / 8;
                for (std::uint32_t k = 0, n = 1 + bytes_.below(3); k < n; ++k)
                    put_double(blob, first_double + 8 * bytes_.below(static_cast<std::uint32_t>(doubles)),
                               values[bytes_.below(values.size())], little);
                break;
            }
            case 5: {  // a count (parts, rings, points) changed with no data behind it
                static constexpr std::array<std::uint32_t, 8> counts{0,       1,          2,          3,
                                                                     1000000, 0x10000000, 0x7FFFFFFF, 0xFFFFFFFF};
                static constexpr std::array<std::size_t, 4> at{5, 9, 14, 18};
                put_u32(blob, header + at[bytes_.below(at.size())], counts[bytes_.below(counts.size())], little);
                break;
            }
            case 6:  // the byte order flag
                blob[header] = static_cast<std::uint8_t>(bytes_.below(3) == 0 ? 2 : !little);
                break;
            case 7: {  // the GeoPackage header: magic, flags (empty bit, envelope size), srs id
                const std::uint32_t at = bytes_.below(8);
                blob[at] = bytes_.byte();
                break;
            }
            default: {  // a foreign geometry
                const char* wkt = kForeignWkt[bytes_.below(kForeignWkt.size())];
                OGRGeometryH geometry = nullptr;
                char* text = const_cast<char*>(wkt);
                if (OGR_G_CreateFromWkt(&text, nullptr, &geometry) != OGRERR_NONE) return;
                std::vector<std::uint8_t> wkb(static_cast<std::size_t>(OGR_G_WkbSize(geometry)));
                OGR_G_ExportToIsoWkb(geometry, wkbNDR, wkb.data());
                OGR_G_DestroyGeometry(geometry);
                blob.resize(8);
                blob[3] = 1;  // little endian, no envelope
                blob.insert(blob.end(), wkb.begin(), wkb.end());
                break;
            }
        }
        execute(dataset_, "UPDATE " + table + " SET " + column + " = X'" + to_hex(blob) + "'" + where);
    }

    GDALDatasetH dataset_;
    FuzzBytes& bytes_;
    std::vector<std::string> dropped_;
};

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

const Pristine& pristine() {
    static const Pristine files = make_pristine();
    return files;
}

std::string scratch(const std::string& name) {
    return (folder().path / name).string();
}

void copy_file(const std::string& from, const std::string& to) {
    std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
}

void mutate_geopackage(const std::string& path, FuzzBytes& bytes, const std::vector<std::string>& layers) {
    const Dataset dataset(GDALOpenEx(path.c_str(), GDAL_OF_VECTOR | GDAL_OF_UPDATE, nullptr, nullptr, nullptr));
    if (!dataset) return;
    std::vector<LayerInfo> present;
    for (const std::string& name : layers) {
        OGRLayerH handle = GDALDatasetGetLayerByName(dataset.get(), name.c_str());
        if (handle == nullptr) continue;
        const char* fid = OGR_L_GetFIDColumn(handle);
        present.push_back({handle, name, fid != nullptr && *fid != 0 ? fid : "fid", OGR_L_GetGeometryColumn(handle),
                           OGR_L_GetFeatureCount(handle, TRUE)});
    }
    if (present.empty()) return;
    GeoPackageMutator mutator(dataset.get(), bytes);
    const std::uint32_t edits = 1 + bytes.below(8);
    for (std::uint32_t e = 0; e < edits && !bytes.exhausted(); ++e)
        mutator.edit(present[bytes.below(static_cast<std::uint32_t>(present.size()))]);
    for (const std::string& name : mutator.dropped()) {
        for (int i = 0; i < GDALDatasetGetLayerCount(dataset.get()); ++i)
            if (name == OGR_L_GetName(GDALDatasetGetLayer(dataset.get(), i))) {
                GDALDatasetDeleteLayer(dataset.get(), i);
                break;
            }
    }
}

void mutate_file_bytes(const std::string& path, FuzzBytes& bytes) {
    const std::uint32_t how = bytes.below(16);
    if (how >= 2) return;  // most mutants keep a readable file, so edits reach the engine
    std::string content = read_all(path);
    if (content.empty()) return;
    if (how == 0) {
        for (std::uint32_t k = 0, n = 1 + bytes.below(16); k < n; ++k)
            content[bytes.below(static_cast<std::uint32_t>(content.size()))] = static_cast<char>(bytes.byte());
    } else {
        content.resize(bytes.below(static_cast<std::uint32_t>(content.size())));
    }
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

bool export_layer(const std::string& source, const std::string& layer, const std::string& path,
                  const std::string& driver) {
    const Dataset input(GDALOpenEx(source.c_str(), GDAL_OF_VECTOR, nullptr, nullptr, nullptr));
    if (!input) return false;
    std::error_code ignored;
    if (driver == "ESRI Shapefile")
        for (const char* extension : {".shp", ".shx", ".dbf", ".prj", ".cpg"})
            std::filesystem::remove(std::filesystem::path(path).replace_extension(extension), ignored);
    std::filesystem::remove(path, ignored);
    std::vector<std::string> arguments{"-f", driver, layer};
    std::vector<char*> argv;
    for (std::string& argument : arguments) argv.push_back(argument.data());
    argv.push_back(nullptr);
    GDALVectorTranslateOptions* options = GDALVectorTranslateOptionsNew(argv.data(), nullptr);
    if (options == nullptr) return false;
    GDALDatasetH sources[] = {input.get()};
    int usage_error = 0;
    const Dataset output(GDALVectorTranslate(path.c_str(), nullptr, 1, sources, options, &usage_error));
    GDALVectorTranslateOptionsFree(options);
    return output != nullptr;
}

void finding(const std::string& what) {
    std::fprintf(stderr, "\ncivgrid fuzz finding: %s\n", what.c_str());
    std::fflush(stderr);
    __builtin_trap();
}

bool clean_outcome(const std::function<void()>& job) {
    try {
        job();
        return true;
    } catch (const Error& error) {
        if (error.kind() == Error::Kind::internal) finding(std::string("internal error (exit 1): ") + error.what());
    } catch (const std::exception& error) {
        finding(std::string("an exception that is not a civgrid::Error (exit 1): ") + error.what());
    } catch (...) {
        finding("an unknown exception (exit 1)");
    }
    return false;
}

void check_report(const algorithms::QualityReport& report, const std::string& what) {
    const double numbers[] = {report.max_abs_deviation, report.max_abs_deviation_unflagged, report.share_within_10,
                              report.share_within_20,   report.share_within_bounds,         report.gap_area_m2,
                              report.overlap_area_m2,   report.max_region_gap_overlap_m2,   report.polsby_popper_mean,
                              report.polsby_popper_p10, report.grids_share_within_20};
    for (double number : numbers)
        if (!std::isfinite(number)) finding(what + ": a quality report with a number that is not finite");
    const std::int64_t counts[] = {report.micro_grids,    report.requested,           report.empty,
                                   report.flagged,        report.non_contiguous,      report.barrier_crossings,
                                   report.outside_region, report.invalid_polygons,    report.buildings_unassigned,
                                   report.grids,          report.grids_non_contiguous};
    for (std::int64_t count : counts)
        if (count < 0) finding(what + ": a quality report with a negative count");
}

void check_output(const std::string& output, bool succeeded, const algorithms::QualityReport* report) {
    if (!succeeded) {
        if (std::filesystem::exists(output)) finding("a failed run left its output behind");
        return;
    }
    if (!std::filesystem::exists(output)) finding("a successful run wrote no output");
    if (report != nullptr) {
        check_report(*report, "the run's report");
        if (report->invalid_polygons > 0) finding("a successful run wrote invalid polygons");
    }
    // What civgrid writes, civgrid must read back.
    try {
        const algorithms::QualityReport again = engine::report_file(output, 1);
        check_report(again, "report of a successful run's output");
        if (report != nullptr && again.micro_grids != report->micro_grids)
            finding("report reads back another number of micro-grids than the run wrote");
    } catch (const std::exception& error) {
        finding(std::string("report cannot read a successful run's output: ") + error.what());
    }
}

}  // namespace civgrid::fuzz
