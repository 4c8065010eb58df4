// Reading OGR layers into FeatureTables.
#include "gdal_handles.hpp"
#include "gpkg_table_reader.hpp"
#include "sqlite_handles.hpp"
#include "text_encoding.hpp"
#include "wkb_coordinates.hpp"

#include <civgrid/io/china_datum.hpp>
#include <civgrid/io/layer.hpp>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <mutex>
#include <numeric>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace civgrid::io {
using detail::Decoded;
using detail::Decoder;
using detail::is_ascii;
using detail::is_utf8;
namespace detail {

namespace {

/// A Shapefile is three files at least: GDAL reads a .shp without its .dbf as a layer with no
/// attributes (then every field is "missing") and fails on a missing .shx with a terse message.
void require_shapefile_parts(const std::string& path) {
    const std::filesystem::path shp(path);
    std::string extension = shp.extension().string();
    std::transform(extension.begin(), extension.end(), extension.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::error_code error;
    if (extension != ".shp" || !std::filesystem::is_regular_file(shp, error)) return;
    for (const char* part : {".dbf", ".shx"}) {
        std::string upper = part;
        std::transform(upper.begin(), upper.end(), upper.begin(),
                       [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        std::filesystem::path lower_path = shp, upper_path = shp;
        lower_path.replace_extension(part);
        upper_path.replace_extension(upper);
        if (std::filesystem::exists(lower_path, error) || std::filesystem::exists(upper_path, error)) continue;
        throw InputError("io.read", path + ": the Shapefile's " + part + " file '" + lower_path.string() +
                                        "' is missing (" +
                                        (std::string(part) == ".dbf" ? "it holds the attributes" : "the shape index") +
                                        "); a Shapefile needs its .shp, .shx and .dbf side by side");
    }
}

}  // namespace

DatasetPtr open_vector(const std::string& path, const std::vector<std::string>& open_options) {
    ensure_gdal_registered();
    require_shapefile_parts(path);
    GdalErrorCapture capture;
    std::vector<const char*> option_pointers;
    for (const std::string& option : open_options) option_pointers.push_back(option.c_str());
    option_pointers.push_back(nullptr);
    DatasetPtr dataset(GDALOpenEx(path.c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY | GDAL_OF_VERBOSE_ERROR, nullptr,
                                  option_pointers.data(), nullptr));
    if (!dataset) throw IoError("io.read", "cannot open '" + path + "': " + capture.message("not a vector source"));
    return dataset;
}

OGRLayerH find_layer(GDALDatasetH dataset, const std::string& path, const std::string& name) {
    const int count = GDALDatasetGetLayerCount(dataset);
    if (count <= 0) throw InputError("io.read", path + ": the source has no layer");
    if (name.empty()) return GDALDatasetGetLayer(dataset, 0);
    if (OGRLayerH layer = GDALDatasetGetLayerByName(dataset, name.c_str()); layer != nullptr) return layer;
    std::string available;
    for (int i = 0; i < count; ++i) {
        if (i > 0) available += ", ";
        available += std::string("'") + OGR_L_GetName(GDALDatasetGetLayer(dataset, i)) + "'";
    }
    throw InputError("io.read", path + ": no layer '" + name + "'; available layers: " + available);
}

}  // namespace detail

namespace {

bool path_exists(const std::string& path) {
    std::error_code ignored;
    return !path.empty() && std::filesystem::exists(path, ignored);
}

/// The family of a linear 2D geometry type, or nullptr for collections and others.
const char* family_of(OGRwkbGeometryType flat_type) {
    switch (flat_type) {
        case wkbPoint:
        case wkbMultiPoint:
            return "point";
        case wkbLineString:
        case wkbMultiLineString:
            return "line";
        case wkbPolygon:
        case wkbMultiPolygon:
            return "polygon";
        default:
            return nullptr;
    }
}

std::string join(const std::vector<std::string>& items) {
    std::string text;
    for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
    return text;
}

/// std::round(t) (halves away from zero, the sign of a zero kept) without a call into libm, which
/// was a twentieth of importing parcels of thousands of vertices: below 2^52 by truncating to an
/// integer (the fraction t - whole is exact there); beyond, t is whole already, or not finite.
/// Without a branch on the fraction: coordinates already on the grid give fractions just above 0
/// or just below 1 at random, and the mispredicted branch was half of snapping a layer.
double round_half_away(double t) {
    if (!(std::abs(t) < 4503599627370496.0)) return std::round(t);
    const auto whole = static_cast<double>(static_cast<std::int64_t>(t));
    const auto step = static_cast<double>(std::abs(t - whole) >= 0.5);  // 0 or 1
    return std::copysign(whole + std::copysign(step, t), t);
}

/// Rounds every vertex to a multiple of `grid`, through parts and rings.
void snap_to_grid(OGRGeometryH geometry, double grid) {
    if (const int parts = OGR_G_GetGeometryCount(geometry); parts > 0) {
        for (int i = 0; i < parts; ++i) snap_to_grid(OGR_G_GetGeometryRef(geometry, i), grid);
        return;
    }
    const int points = OGR_G_GetPointCount(geometry);
    for (int i = 0; i < points; ++i)
        OGR_G_SetPoint_2D(geometry, i, round_half_away(OGR_G_GetX(geometry, i) / grid) * grid,
                          round_half_away(OGR_G_GetY(geometry, i) / grid) * grid);
}

/// Snaps the coordinates of ISO WKB as OGR exports it (little-endian) to `grid` in place, as
/// snap_to_grid does the geometry. Why: OGR's accessors cost a call and a check per vertex, which
/// was a seventh of importing parcels of thousands of vertices; here it is a pass over the bytes.
/// False (and the WKB partly snapped) for what it does not walk: another byte order, an unknown
/// type, or truncated bytes; the caller then snaps the geometry and exports it again.
bool snap_wkb_to_grid(std::vector<unsigned char>& wkb, double grid) {
    std::uint32_t type = 0;
    return detail::walk_wkb_coordinates(wkb.data(), wkb.size(), detail::WkbWalkRules{}, type,
                                        [grid](unsigned char* xy, bool) {
                                            for (std::size_t c = 0; c < 2; ++c) {  // x and y; z and m stay
                                                double value;
                                                std::memcpy(&value, xy + c * sizeof value, sizeof value);
                                                value = round_half_away(value / grid) * grid;
                                                std::memcpy(xy + c * sizeof value, &value, sizeof value);
                                            }
                                        });
}

FieldType field_type_of(OGRFieldType type) {
    switch (type) {
        case OFTInteger:
        case OFTInteger64:
            return FieldType::integer;
        case OFTReal:
            return FieldType::real;
        default:
            return FieldType::string;
    }
}

}  // namespace

int FeatureTable::field_index(std::string_view name) const noexcept {
    const auto equal_ci = [](std::string_view a, std::string_view b) {
        return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
            return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
        });
    };
    for (std::size_t i = 0; i < fields.size(); ++i)
        if (equal_ci(fields[i].name, name)) return static_cast<int>(i);
    return -1;
}

LayerSpec parse_layer_spec(std::string_view text) {
    const std::string whole(text);
    if (path_exists(whole)) return {whole, {}};
    if (const auto colon = whole.rfind(':'); colon != std::string::npos && colon > 0) {
        std::string path = whole.substr(0, colon);
        if (path_exists(path)) return {std::move(path), whole.substr(colon + 1)};
    }
    return {whole, {}};
}

std::vector<std::string> list_layers(const std::string& path) {
    const detail::DatasetPtr dataset = detail::open_vector(path);
    std::vector<std::string> names;
    const int count = GDALDatasetGetLayerCount(dataset.get());
    names.reserve(static_cast<std::size_t>(std::max(count, 0)));
    for (int i = 0; i < count; ++i) names.emplace_back(OGR_L_GetName(GDALDatasetGetLayer(dataset.get(), i)));
    return names;
}

namespace {

// ---- Geometry clean-up before GEOS sees it ------------------------------------------------------

/// What sanitize() found in one geometry.
struct GeometryIssues {
    bool non_finite = false;       ///< NaN or infinite, or (in the target CRS) absurd coordinates: dropped
    bool unclosed_ring = false;    ///< closed by repeating the first vertex
    bool degenerate_part = false;  ///< a ring of fewer than 4 or a line of fewer than 2 vertices, removed
    bool empty_after = false;      ///< nothing usable is left: the feature is dropped
};

/// Largest coordinate magnitude read, in any CRS: 10^9 is over twenty times the Earth's
/// circumference in metres (and no angle in degrees). Beyond it a coordinate is corrupt, and the
/// distances and cell indices made from it overflow. Checked in the target CRS (reprojecting
/// such a coordinate fails first); engine/src/read_back.hpp reads outputs back with the same bound.
constexpr double kMaxAbsCoordinate = 1e9;

/// Whether every coordinate of a simple geometry's points is at most `limit` in magnitude (NaN
/// never is).
bool points_within(OGRGeometryH leaf, double limit) {
    const int count = OGR_G_GetPointCount(leaf);
    if (count <= 0) return true;
    // One call for the whole ring, not one per vertex (a city has millions).
    thread_local std::vector<double> xy;
    xy.resize(2 * static_cast<std::size_t>(count));
    OGR_G_GetPoints(leaf, xy.data(), 2 * sizeof(double), xy.data() + 1, 2 * sizeof(double), nullptr, 0);
    return std::all_of(xy.begin(), xy.end(), [limit](double v) { return std::abs(v) <= limit; });
}

bool all_within(OGRGeometryH geometry, double limit) {
    const int parts = OGR_G_GetGeometryCount(geometry);
    if (parts == 0) return points_within(geometry, limit);
    for (int i = 0; i < parts; ++i)
        if (!all_within(OGR_G_GetGeometryRef(geometry, i), limit)) return false;
    return true;
}

/// Whether every coordinate is finite, and the largest magnitude among them in `largest` (one pass:
/// it spares a second walk for the 1e9 bound when the coordinates do not change in between).
bool all_finite(OGRGeometryH geometry, double& largest) {
    if (const int parts = OGR_G_GetGeometryCount(geometry); parts > 0) {
        bool finite = true;
        for (int i = 0; i < parts; ++i) finite = all_finite(OGR_G_GetGeometryRef(geometry, i), largest) && finite;
        return finite;
    }
    const int count = OGR_G_GetPointCount(geometry);
    if (count <= 0) return true;
    thread_local std::vector<double> xy;
    xy.resize(2 * static_cast<std::size_t>(count));
    OGR_G_GetPoints(geometry, xy.data(), 2 * sizeof(double), xy.data() + 1, 2 * sizeof(double), nullptr, 0);
    bool finite = true;
    for (const double v : xy) {
        const double magnitude = std::abs(v);
        finite = finite && magnitude <= std::numeric_limits<double>::max();
        largest = magnitude > largest ? magnitude : largest;
    }
    return finite;
}

/// Closes open rings and removes rings and lines too short for GEOS, in place (linear 2D input).
void sanitize(OGRGeometryH geometry, GeometryIssues& issues) {
    const OGRwkbGeometryType type = wkbFlatten(OGR_G_GetGeometryType(geometry));
    if (type == wkbPolygon) {
        for (int r = 0; r < OGR_G_GetGeometryCount(geometry); ++r) {
            OGRGeometryH ring = OGR_G_GetGeometryRef(geometry, r);
            const int n = OGR_G_GetPointCount(ring);
            if (n >= 2 &&
                (OGR_G_GetX(ring, 0) != OGR_G_GetX(ring, n - 1) || OGR_G_GetY(ring, 0) != OGR_G_GetY(ring, n - 1)))
                issues.unclosed_ring = true;
        }
        if (issues.unclosed_ring) OGR_G_CloseRings(geometry);
        for (int r = OGR_G_GetGeometryCount(geometry) - 1; r >= 0; --r) {
            if (OGR_G_GetPointCount(OGR_G_GetGeometryRef(geometry, r)) >= 4) continue;
            issues.degenerate_part = true;
            if (r == 0) {  // no shell: the whole polygon goes
                while (OGR_G_GetGeometryCount(geometry) > 0) OGR_G_RemoveGeometry(geometry, 0, TRUE);
                break;
            }
            OGR_G_RemoveGeometry(geometry, r, TRUE);
        }
        return;
    }
    if (type == wkbLineString) {
        if (OGR_G_GetPointCount(geometry) < 2) {
            issues.degenerate_part = true;
            OGR_G_Empty(geometry);
        }
        return;
    }
    if (type == wkbMultiPolygon || type == wkbMultiLineString || type == wkbMultiPoint ||
        type == wkbGeometryCollection) {
        for (int i = OGR_G_GetGeometryCount(geometry) - 1; i >= 0; --i) {
            OGRGeometryH part = OGR_G_GetGeometryRef(geometry, i);
            sanitize(part, issues);
            if (OGR_G_IsEmpty(part)) OGR_G_RemoveGeometry(geometry, i, TRUE);
        }
    }
}

// ---- Datum shift (GCJ-02 / BD-09 to WGS84), in lon/lat ------------------------------------------

void shift_to_wgs84(OGRGeometryH geometry, Datum datum) {
    const int parts = OGR_G_GetGeometryCount(geometry);
    if (parts > 0) {
        for (int i = 0; i < parts; ++i) shift_to_wgs84(OGR_G_GetGeometryRef(geometry, i), datum);
        return;
    }
    const int count = OGR_G_GetPointCount(geometry);
    for (int i = 0; i < count; ++i) {
        const LonLat wgs = to_wgs84(datum, {OGR_G_GetX(geometry, i), OGR_G_GetY(geometry, i)});
        OGR_G_SetPoint_2D(geometry, i, wgs.lon, wgs.lat);
    }
}

// ---- Text encoding --------------------------------------------------------------------------

/// The .dbf beside a Shapefile layer ("x.shp" -> "x.dbf"; a folder source: "folder/layer.dbf").
std::filesystem::path shapefile_base(const std::string& path, const std::string& layer) {
    std::error_code ignored;
    std::filesystem::path base(path);
    if (std::filesystem::is_directory(base, ignored)) return base / layer;
    return base.replace_extension();
}

std::string read_small_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::string text;
    std::getline(in, text);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    return text;
}

/// The encoding a Shapefile declares: the .cpg, else its DBF language id; "" when it says nothing
/// (no .cpg, language id 0). `how` explains where it came from.
std::string declared_shapefile_encoding(const std::filesystem::path& base, std::string& how) {
    std::error_code ignored;
    for (const char* extension : {".cpg", ".CPG"}) {
        std::filesystem::path cpg = base;
        cpg += extension;
        if (std::filesystem::exists(cpg, ignored)) {
            const std::string value = read_small_file(cpg);
            if (!value.empty()) {
                how = "from the .cpg ('" + value + "')";
                return value;
            }
        }
    }
    unsigned char language_id = 0;
    for (const char* extension : {".dbf", ".DBF"}) {
        std::filesystem::path dbf = base;
        dbf += extension;
        std::ifstream in(dbf, std::ios::binary);
        char header[32] = {};
        if (in.read(header, sizeof header)) {
            language_id = static_cast<unsigned char>(header[29]);
            break;
        }
    }
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", language_id);
    how = std::string("from the DBF language id ") + hex;
    switch (language_id) {
        case 0x4D:
        case 0x7A:
            return "GB18030";  // code page 936 (GBK)
        case 0x4E:
            return "CP949";
        case 0x4F:
        case 0x78:
            return "BIG5";
        case 0x57:
        case 0x03:
            return "CP1252";
        case 0x01:
            return "CP437";
        case 0x02:
            return "CP850";
        default:
            break;
    }
    how = std::string("no .cpg, DBF language id ") + hex;
    return {};
}

/// The encoding of text a Shapefile does not declare, from its content: UTF-8 when every value is
/// UTF-8 (a character cut at a field's end allowed); else, of GB18030, Big5, Shift-JIS (CP932)
/// and EUC-KR (CP949), the one that decodes every value and scores highest on its common
/// characters (text_encoding.hpp: plausibility). `detail` says how sure it is; `rival` names a
/// second encoding that decodes everything and scores close to the first: the gap times the
/// square root of the characters seen (its resolution) below 0.3 (a warning: a few Hangul
/// syllables are also first-level hanzi, a whole layer of them is not mistaken).
struct Detection {
    std::string encoding, detail, rival;
};
Detection detect_encoding(const std::vector<const std::string*>& texts, const std::string& where) {
    const bool utf8 =
        std::all_of(texts.begin(), texts.end(), [](const std::string* text) { return is_utf8(*text, true); });
    if (utf8) return {"UTF-8", "", ""};
    std::vector<std::pair<double, std::string>> ranked;  // (score, encoding)
    std::size_t seen = 0;                                // non-ASCII characters
    for (const std::string_view candidate : detail::kEastAsianEncodings) {
        Decoder decoder{std::string(candidate)};
        double weight = 0;
        std::size_t characters = 0;
        bool valid = true;
        for (const std::string* text : texts) {
            if (is_ascii(*text)) continue;
            if (!detail::plausibility(*text, candidate, weight, characters) || decoder.decode(*text).invalid) {
                valid = false;
                break;
            }
        }
        if (!valid) continue;
        ranked.emplace_back(characters > 0 ? weight / static_cast<double>(characters) : 0.0, candidate);
        seen = std::max(seen, characters);
    }
    if (ranked.empty())
        throw InputError("io.encoding", where +
                                            ": cannot tell the text encoding (no .cpg, DBF language id 0): the "
                                            "attributes are neither UTF-8 nor GB18030, Big5, Shift-JIS or EUC-KR; "
                                            "pass --encoding (e.g. CP1252, ISO-8859-1) or add a .cpg file");
    std::stable_sort(ranked.begin(), ranked.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
    const auto score = [](double value) {
        char text[16];
        std::snprintf(text, sizeof text, "%.2f", value);
        return std::string(text);
    };
    Detection found{ranked[0].second, "plausibility " + score(ranked[0].first), ""};
    if (ranked.size() > 1) {
        found.detail += "; also decodes as " + ranked[1].second + ", " + score(ranked[1].first);
        if ((ranked[0].first - ranked[1].first) * std::sqrt(static_cast<double>(seen)) < 0.3)
            found.rival = ranked[1].second;
    } else {
        found.detail += "; no other of GB18030, BIG5, CP932, CP949 decodes it";
    }
    return found;
}

/// SQLite stores any value in any column: a lax writer can leave 12.7 or 'many' in an INTEGER
/// column, which GDAL then reads as 12 or 0 without a word. Such values are read as stored (a
/// real, or text) and reported, so the policies that follow see what the file holds. One query
/// scans the table for every numeric column at once (a scan per column was a full read of the
/// table each); should it fail, each column is asked alone, as before.
void recover_mistyped_values(GDALDatasetH dataset, OGRLayerH layer, FeatureTable& table, LayerReport& report) {
    const char* fid_column = OGR_L_GetFIDColumn(layer);
    if (fid_column == nullptr || *fid_column == '\0') return;
    struct Column {
        std::size_t field;
        FieldType declared;  // as declared: the values found may widen it
    };
    std::vector<Column> columns;
    for (std::size_t j = 0; j < table.fields.size(); ++j)
        if (table.fields[j].type != FieldType::string) columns.push_back({j, table.fields[j].type});
    if (columns.empty()) return;
    // What the query finds, per column in the order of the fields (the report lists a column's
    // values together, in the table's order, as the scan per column did).
    struct Found {
        std::size_t row;
        std::string text, stored;
    };
    std::vector<std::vector<Found>> found(columns.size());
    std::unordered_map<std::int64_t, std::size_t> row_of;
    const auto allowed = [](const Column& column) {
        return std::string(column.declared == FieldType::integer ? "'integer', 'null'" : "'integer', 'real', 'null'");
    };
    // One query for columns[first, last); false when SQLite or GDAL refuses it.
    const auto scan = [&](std::size_t first, std::size_t last) {
        std::string select, where;
        for (std::size_t c = first; c < last; ++c) {
            // The column's own name (the table holds it raw here, before text decoding).
            const std::string column = detail::quoted_identifier(table.fields[columns[c].field].name);
            select += ", CAST(" + column + " AS TEXT), typeof(" + column + ")";
            where +=
                std::string(c == first ? "" : " OR ") + "typeof(" + column + ") NOT IN (" + allowed(columns[c]) + ")";
        }
        // "+ 0" keeps GDAL from taking the key for the result's FID: it stays field 0.
        const std::string query = "SELECT " + detail::quoted_identifier(fid_column) + " + 0 AS key" + select +
                                  " FROM " + detail::quoted_identifier(table.layer) + " WHERE " + where;
        const detail::GdalErrorCapture quiet;  // a view or an odd schema: nothing to recover
        OGRLayerH result = GDALDatasetExecuteSQL(dataset, query.c_str(), nullptr, "SQLITE");
        if (result == nullptr) return false;
        const std::unique_ptr<std::remove_pointer_t<OGRLayerH>, std::function<void(OGRLayerH)>> release(
            result, [dataset](OGRLayerH l) { GDALDatasetReleaseResultSet(dataset, l); });
        while (true) {
            const detail::FeaturePtr feature(OGR_L_GetNextFeature(result));
            if (!feature) break;
            if (row_of.empty())
                for (std::size_t r = 0; r < table.size(); ++r) row_of.emplace(table.fids[r], r);
            const auto row = row_of.find(OGR_F_GetFieldAsInteger64(feature.get(), 0));
            if (row == row_of.end()) continue;  // filtered out
            for (std::size_t c = first; c < last; ++c) {
                const int at = 1 + 2 * static_cast<int>(c - first);
                std::string stored = OGR_F_GetFieldAsString(feature.get(), at + 1);
                if (stored == "integer" || stored == "null" ||
                    (stored == "real" && columns[c].declared == FieldType::real))
                    continue;  // this row is here for another column
                found[c].push_back({row->second, OGR_F_GetFieldAsString(feature.get(), at), std::move(stored)});
            }
        }
        return true;
    };
    // Columns a query at a time, well within SQLite's limits on result columns and expression depth.
    constexpr std::size_t kColumnsPerQuery = 100;
    for (std::size_t first = 0; first < columns.size(); first += kColumnsPerQuery) {
        const std::size_t last = std::min(columns.size(), first + kColumnsPerQuery);
        if (scan(first, last)) continue;
        for (std::size_t c = first; c < last; ++c) {
            found[c].clear();
            static_cast<void>(scan(c, c + 1));  // refused alone too: nothing to recover in it
        }
    }
    for (std::size_t c = 0; c < columns.size(); ++c) {
        Field& field = table.fields[columns[c].field];
        for (const Found& value_found : found[c]) {
            FieldValue& value = table.rows[value_found.row][columns[c].field];
            char* end = nullptr;
            const double number = std::strtod(value_found.text.c_str(), &end);
            // The column's type widens to hold what it holds, so the values can be written back.
            if (value_found.stored == "real" && end != nullptr && *end == '\0') {
                value = number;
                if (field.type == FieldType::integer) field.type = FieldType::real;
            } else {
                value = value_found.text;
                field.type = FieldType::string;
                field.boolean = false;
            }
            report.add("reported", "mistyped_value", Severity::warning,
                       "values stored with another type than their column's (a lax writer) are read as stored",
                       std::to_string(value_found.row) + " (field '" + field.name + "': " + value_found.stored + " '" +
                           value_found.text + "')");
        }
    }
}

// Rows in feature-id order, and the report's row ids (the leading number of each id) with them.
void sort_by_fid(FeatureTable& table) {
    std::vector<std::size_t> order(table.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return table.fids[a] < table.fids[b]; });
    std::vector<std::size_t> new_row(order.size());
    for (std::size_t k = 0; k < order.size(); ++k) new_row[order[k]] = k;
    auto permute = [&](auto& values) {
        std::remove_reference_t<decltype(values)> sorted;
        sorted.reserve(values.size());
        for (const std::size_t i : order) sorted.push_back(std::move(values[i]));
        values = std::move(sorted);
    };
    permute(table.fids);
    permute(table.geometries);
    permute(table.rows);
    for (Finding& finding : table.report.findings)
        for (std::string& id : finding.ids) {
            std::size_t digits = 0;
            while (digits < id.size() && id[digits] >= '0' && id[digits] <= '9') ++digits;
            if (digits == 0) continue;
            const auto row = static_cast<std::size_t>(std::stoull(id.substr(0, digits)));
            if (row < new_row.size()) id = std::to_string(new_row[row]) + id.substr(digits);
        }
}

// Takes back what the report says of row `id` (the last row read): the row is left out.
void forget_findings(LayerReport& report, const std::string& id) {
    for (Finding& finding : report.findings)
        while (!finding.ids.empty() && (finding.ids.back() == id || finding.ids.back().starts_with(id + " ")))
            finding.ids.pop_back();
    std::erase_if(report.findings, [](const Finding& finding) { return finding.ids.empty(); });
}
}  // namespace

namespace {

/// Takes each kept geometry to ISO WKB (little-endian) snapped to the coordinate grid, on a second
/// thread beside GDAL's read when one is allowed: the export, its memory's first touch and the
/// snapping were half of reading parcels of thousands of vertices, all on the reading thread. The
/// read hands over each feature (its geometry inside, or one made from it) after it is done with
/// it, in row order; the second thread exports, snaps and frees them in that order, so the bytes are
/// the same as exported in place. An export that fails is an InputError naming the feature, raised
/// by the next add() or by finish() (before any error of a later feature). With one thread, each
/// geometry is exported as it is added.
class WkbExporter {
public:
    WkbExporter(bool second_thread, double grid, std::string where)
        : grid_(grid), where_(std::move(where)), second_thread_(second_thread) {}
    WkbExporter(const WkbExporter&) = delete;
    WkbExporter& operator=(const WkbExporter&) = delete;
    ~WkbExporter() {
        pending_.clear();
        join();
    }

    /// Row `row`'s geometry (`geometry`, owned by `feature` or `owned`), for its WKB.
    void add(std::size_t row, GIntBig fid, detail::FeaturePtr feature, detail::GeometryPtr owned, OGRGeometryH geometry,
             const detail::GdalErrorCapture& capture) {
        Job job{row, fid, std::move(feature), std::move(owned), geometry};
        if (!second_thread_) {
            results_.emplace_back(row, export_one(job, capture));
            return;
        }
        if (!worker_.joinable()) worker_ = std::thread([this] { run(); });
        pending_bytes_ += static_cast<std::size_t>(std::max(OGR_G_WkbSize(geometry), 0));
        pending_.push_back(std::move(job));
        constexpr std::size_t kBatchJobs = 256, kBatchBytes = std::size_t{4} << 20;
        if ((pending_.size() >= kBatchJobs || pending_bytes_ >= kBatchBytes) && !hand_over()) rethrow_earlier_failure();
    }

    /// Waits for every geometry added; rethrows the first failed export; puts each row's WKB in
    /// `geometries` (sized to the rows). `errors`: GDAL errors the second thread saw ("" if none).
    void finish(std::vector<Wkb>& geometries, std::string& errors) {
        rethrow_earlier_failure();
        for (auto& [row, wkb] : results_) geometries[row] = std::move(wkb);
        results_.clear();
        errors = std::move(worker_errors_);
    }

    /// Exports what was added, stops the second thread and rethrows its failure (an earlier
    /// feature's than any the read meets after handing it over), if it had one.
    void rethrow_earlier_failure() {
        hand_over();
        join();
        if (failure_) std::rethrow_exception(failure_);
    }

private:
    struct Job {
        std::size_t row;
        GIntBig fid;
        detail::FeaturePtr feature;
        detail::GeometryPtr owned;
        OGRGeometryH geometry;
    };

    Wkb export_one(const Job& job, const detail::GdalErrorCapture& capture) const {
        Wkb wkb;
        auto export_wkb = [&] {
            wkb.resize(static_cast<std::size_t>(OGR_G_WkbSize(job.geometry)));
            if (OGR_G_ExportToIsoWkb(job.geometry, wkbNDR, wkb.data()) != OGRERR_NONE)
                throw InputError("io.read", where_ + ", feature " + std::to_string(job.fid) +
                                                ": cannot export the geometry as WKB: " + capture.message());
        };
        export_wkb();
        if (grid_ > 0 && !snap_wkb_to_grid(wkb, grid_)) {
            snap_to_grid(job.geometry, grid_);
            export_wkb();
        }
        return wkb;
    }

    // Queues the batch being filled; false (the batch dropped) when the second thread has failed.
    bool hand_over() {
        if (!worker_.joinable()) return true;
        std::unique_lock lock(mutex_);
        constexpr std::size_t kBatchesWaiting = 4;  // bounds the features held in memory
        room_.wait(lock, [&] { return queue_.size() < kBatchesWaiting || failed_; });
        if (failed_) {
            pending_.clear();
            pending_bytes_ = 0;
            return false;
        }
        if (!pending_.empty()) queue_.push_back(std::move(pending_));
        pending_.clear();
        pending_bytes_ = 0;
        ready_.notify_one();
        return true;
    }

    void join() noexcept {
        if (!worker_.joinable()) return;
        {
            const std::scoped_lock lock(mutex_);
            done_ = true;
        }
        ready_.notify_one();
        worker_.join();
    }

    void run() {
        const detail::GdalErrorCapture capture;  // this thread's GDAL messages
        while (true) {
            std::vector<Job> batch;
            {
                std::unique_lock lock(mutex_);
                ready_.wait(lock, [&] { return !queue_.empty() || done_; });
                if (queue_.empty()) break;
                batch = std::move(queue_.front());
                queue_.pop_front();
                room_.notify_one();
            }
            for (const Job& job : batch) {
                if (failure_) break;
                try {
                    results_.emplace_back(job.row, export_one(job, capture));
                } catch (...) {
                    failure_ = std::current_exception();
                    const std::scoped_lock lock(mutex_);
                    failed_ = true;
                    room_.notify_one();
                }
            }
            batch.clear();  // the features are freed here, off the reading thread
        }
        if (capture.has_error()) worker_errors_ = capture.message();
    }

    double grid_;
    std::string where_;
    bool second_thread_;
    std::vector<Job> pending_;  // the batch being filled by the reading thread
    std::size_t pending_bytes_ = 0;
    std::thread worker_;
    std::mutex mutex_;
    std::condition_variable ready_, room_;
    std::deque<std::vector<Job>> queue_;  // under mutex_
    bool done_ = false, failed_ = false;  // under mutex_
    // The second thread's, read by the first after join() (or, failure_, once failed_ is seen).
    std::vector<std::pair<std::size_t, Wkb>> results_;
    std::exception_ptr failure_;
    std::string worker_errors_;
};

}  // namespace

namespace {

/// Whether `transformation` gives sample coordinates back to the bit: the corners and middle of
/// the layer's extent when GDAL knows it without reading, and a few fixed points.
bool is_identity(OGRCoordinateTransformationH transformation, OGRLayerH layer) {
    std::vector<double> xs = {0.0, 500'000.0, 123'456.789, -98'765.4321, 1.5},
                        ys = {0.0, 3'000'000.0, 3'456'789.123, 4'321.987, 0.25};
    if (OGREnvelope extent; OGR_L_GetExtent(layer, &extent, FALSE) == OGRERR_NONE) {
        xs.insert(xs.end(), {extent.MinX, extent.MaxX, (extent.MinX + extent.MaxX) / 2});
        ys.insert(ys.end(), {extent.MinY, extent.MaxY, (extent.MinY + extent.MaxY) / 2});
    }
    std::vector<double> x = xs, y = ys;
    detail::GdalErrorCapture quiet;
    if (OCTTransform(transformation, static_cast<int>(x.size()), x.data(), y.data(), nullptr) == FALSE) return false;
    for (std::size_t i = 0; i < x.size(); ++i)
        if (std::bit_cast<std::uint64_t>(x[i]) != std::bit_cast<std::uint64_t>(xs[i]) ||
            std::bit_cast<std::uint64_t>(y[i]) != std::bit_cast<std::uint64_t>(ys[i]))
            return false;
    return true;
}

/// read_layer's rows from a plain GeoPackage table (gpkg_table_reader.hpp), snapped to the
/// coordinate grid as the export does; false, and `table` as it was, when the table is not plain.
bool read_plain_geopackage(OGRLayerH layer, const std::string& path, bool has_geometry, const ReadOptions& options,
                           std::size_t expected_rows, FeatureTable& table) {
    detail::PlainTableRequest request;
    request.expected_rows = expected_rows;
    request.path = path;
    request.table = table.layer;
    const char* fid_column = OGR_L_GetFIDColumn(layer);
    request.fid_column = fid_column != nullptr ? fid_column : "";
    if (has_geometry) {
        const char* geometry_column = OGR_L_GetGeometryColumn(layer);
        if (geometry_column == nullptr || *geometry_column == '\0') return false;
        request.geometry_column = geometry_column;
    }
    OGRFeatureDefnH definition = OGR_L_GetLayerDefn(layer);
    for (int i = 0; i < OGR_FD_GetFieldCount(definition); ++i) {
        OGRFieldDefnH field = OGR_FD_GetFieldDefn(definition, i);
        const OGRFieldType type = OGR_Fld_GetType(field);
        if (type != OFTInteger && type != OFTInteger64 && type != OFTReal && type != OFTString) return false;
        request.columns.push_back({OGR_Fld_GetNameRef(field), field_type_of(type), type == OFTInteger});
    }
    request.accepted_families = options.accepted_families;
    request.max_abs_coordinate = kMaxAbsCoordinate;
    if (options.coordinate_grid > 0)
        request.finish_geometry = [grid = options.coordinate_grid](Wkb& wkb) { return snap_wkb_to_grid(wkb, grid); };
    request.two_threads = options.threads != 1 && std::thread::hardware_concurrency() > 1;
    std::optional<detail::PlainTable> read = detail::read_plain_geopackage_table(request);
    if (!read) return false;
    table.fids = std::move(read->fids);
    table.geometries = std::move(read->geometries);
    table.rows = std::move(read->rows);
    return true;
}

}  // namespace

// Long (about 350 lines) on purpose: the per-feature pipeline (linearise, flatten, family check,
// sanitise, datum, reprojection, shard box, WKB) must run in this order inside one loop over GDAL's
// features; the decisions it makes are in the helpers above.
FeatureTable read_layer(const LayerSpec& spec, const ReadOptions& options) {
    constexpr const char* stage = "io.read";
    for (const auto& family : options.accepted_families)
        if (family != "point" && family != "line" && family != "polygon")
            throw ConfigError(stage, "unknown geometry family '" + family + "' (expected point, line or polygon)");
    const Datum datum = parse_datum(options.datum);

    detail::DatasetPtr dataset = detail::open_vector(spec.path);
    const std::string driver = GDALGetDriverShortName(GDALGetDatasetDriver(dataset.get()));
    const bool shapefile = driver == "ESRI Shapefile";
    if (shapefile) dataset = detail::open_vector(spec.path, {"ENCODING="});  // raw bytes: we decode them
    OGRLayerH layer = detail::find_layer(dataset.get(), spec.path, spec.layer);

    FeatureTable table;
    table.source = spec.path;
    table.layer = OGR_L_GetName(layer);
    const std::string where = spec.path + ", layer '" + table.layer + "'";
    LayerReport& report = table.report;
    report.source = table.source;
    report.layer = table.layer;
    report.fact("format", driver);

    // CRS: the layer's own, else the assumed one; reproject when a target is given.
    detail::SrsPtr source_srs;
    if (OGRSpatialReferenceH layer_srs = detail::declared_srs(layer); layer_srs != nullptr)
        source_srs = detail::clone_srs(layer_srs);
    else if (!options.assume_crs.empty())
        source_srs = detail::make_srs(options.assume_crs, "io.crs", "--assume-crs");
    if (source_srs) {
        report.fact("crs", describe_crs(detail::srs_to_wkt(source_srs.get())) +
                               (detail::declared_srs(layer) == nullptr ? " (--assume-crs)" : ""));
        detail::GdalErrorCapture quiet;
        if (OGREnvelope envelope;
            OSRIsProjected(source_srs.get()) != 0 && OGR_L_GetExtent(layer, &envelope, TRUE) == OGRERR_NONE)
            detail::check_zone_prefix(source_srs.get(), envelope, where);
    }
    detail::SrsPtr target_srs;
    detail::TransformationPtr transformation;
    if (!options.target_crs.empty()) {
        if (!source_srs)
            throw InputError(stage, where +
                                        ": layer has no CRS; pass --assume-crs (e.g. EPSG:4326 or EPSG:4549) "
                                        "to say which CRS its coordinates are in");
        target_srs = detail::make_srs(options.target_crs, "io.crs", "target CRS");
    }
    // Offset datums: source -> WGS84 lon/lat, shift, WGS84 -> target (or back to the source).
    detail::TransformationPtr to_lonlat;
    if (datum != Datum::wgs84) {
        if (!source_srs)
            throw InputError("io.datum", where + ": --datum " + datum_name(datum) +
                                             " needs a CRS; pass --assume-crs (e.g. EPSG:4326)");
        const detail::SrsPtr wgs84 = detail::make_srs("EPSG:4326", "io.crs", "WGS84");
        detail::GdalErrorCapture capture;
        to_lonlat.reset(OCTNewCoordinateTransformation(source_srs.get(), wgs84.get()));
        OGRSpatialReferenceH final_srs = target_srs ? target_srs.get() : source_srs.get();
        transformation.reset(OCTNewCoordinateTransformation(wgs84.get(), final_srs));
        if (!to_lonlat || !transformation)
            throw InputError("io.crs", where + ": cannot transform to and from WGS84: " + capture.message());
        report.fact("datum",
                    datum_name(datum) + ", converted to WGS84 (iterative inversion, residual < 1e-10 degrees)");
    } else if (target_srs) {
        detail::GdalErrorCapture capture;
        transformation.reset(OCTNewCoordinateTransformation(source_srs.get(), target_srs.get()));
        if (!transformation)
            throw InputError("io.crs", where + ": cannot transform from '" + std::string(OSRGetName(source_srs.get())) +
                                           "' to '" + options.target_crs + "': " + capture.message());
        // The usual case: the working CRS is the layer's own. Then PROJ's operation gives every
        // coordinate back as it is, and OGR's walk over every vertex (a twentieth of importing
        // parcels) is skipped; kept whenever sample points do not come back to the bit.
        if (OSRIsSame(source_srs.get(), target_srs.get()) != 0 && is_identity(transformation.get(), layer))
            transformation.reset();
    }
    if (target_srs)
        table.crs = detail::srs_to_wkt(target_srs.get());
    else if (source_srs)
        table.crs = detail::srs_to_wkt(source_srs.get());

    detail::GdalErrorCapture capture;
    if (!options.attribute_filter.empty() &&
        OGR_L_SetAttributeFilter(layer, options.attribute_filter.c_str()) != OGRERR_NONE)
        throw ConfigError(
            stage, where + ": invalid attribute filter \"" + options.attribute_filter + "\": " + capture.message());

    // A shard: GDAL skips what lies far from the box (taken to the layer's CRS, 1 % wider each way,
    // so rounding at the edges keeps every candidate); the exact test is made after reprojection.
    if (options.extent && datum == Datum::wgs84) {
        const Box& box = *options.extent;
        double min_x = box.min_x, min_y = box.min_y, max_x = box.max_x, max_y = box.max_y;
        bool known = true;
        if (transformation) {
            const detail::TransformationPtr back(OCTNewCoordinateTransformation(target_srs.get(), source_srs.get()));
            known = back && OCTTransformBounds(back.get(), box.min_x, box.min_y, box.max_x, box.max_y, &min_x, &min_y,
                                               &max_x, &max_y, 21) != 0;
        }
        if (known) {
            const double margin_x = 0.01 * (max_x - min_x), margin_y = 0.01 * (max_y - min_y);
            OGR_L_SetSpatialFilterRect(layer, min_x - margin_x, min_y - margin_y, max_x + margin_x, max_y + margin_y);
        }
        capture.clear();
    }

    // Fields (names decoded with the values, below).
    OGRFeatureDefnH definition = OGR_L_GetLayerDefn(layer);
    const int field_count = OGR_FD_GetFieldCount(definition);
    table.fields.reserve(static_cast<std::size_t>(field_count));
    for (int i = 0; i < field_count; ++i) {
        OGRFieldDefnH field = OGR_FD_GetFieldDefn(definition, i);
        table.fields.push_back(Field{OGR_Fld_GetNameRef(field), field_type_of(OGR_Fld_GetType(field)),
                                     OGR_Fld_GetSubType(field) == OFSTBoolean});
    }
    if (options.attributes_only) {
        const char* ignored[] = {"OGR_GEOMETRY", nullptr};
        OGR_L_SetIgnoredFields(layer, ignored);
    }
    const bool has_geometry = OGR_FD_GetGeomFieldCount(definition) > 0 && !options.attributes_only;

    std::size_t expected_rows = 0;  // what the driver knows without reading, else 0
    if (const GIntBig count = OGR_L_GetFeatureCount(layer, FALSE); count > 0)
        expected_rows = static_cast<std::size_t>(std::min<GIntBig>(count, GIntBig{1} << 28));

    // A plain GeoPackage table straight from SQLite (gpkg_table_reader.hpp), else GDAL's features.
    const bool plain = driver == "GPKG" && options.direct_geopackage && options.attribute_filter.empty() &&
                       !options.extent && datum == Datum::wgs84 && !transformation &&
                       read_plain_geopackage(layer, spec.path, has_geometry, options, expected_rows, table);
    if (!plain) {
        table.fids.reserve(expected_rows);
        table.geometries.reserve(expected_rows);
        table.rows.reserve(expected_rows);
        const auto feature_where = [&](GIntBig fid) { return where + ", feature " + std::to_string(fid); };
        WkbExporter exporter(options.threads != 1 && std::thread::hardware_concurrency() > 1, options.coordinate_grid,
                             where);
        OGR_L_ResetReading(layer);
        try {
            while (true) {
                detail::FeaturePtr feature(OGR_L_GetNextFeature(layer));
                if (!feature) break;
                const GIntBig fid = OGR_F_GetFID(feature.get());
                const std::string id = std::to_string(table.fids.size());  // the row; becomes the feature id below

                // Geometry: linear, 2D, in the target CRS, as ISO WKB little endian (by the exporter).
                bool exported = false;
                OGRGeometryH geometry = has_geometry ? OGR_F_GetGeometryRef(feature.get()) : nullptr;
                detail::GeometryPtr owned;  // set when the geometry had to be replaced by a new one
                if (geometry != nullptr && !OGR_G_IsEmpty(geometry)) {
                    OGRwkbGeometryType type = wkbFlatten(OGR_G_GetGeometryType(geometry));
                    if (OGR_G_HasCurveGeometry(geometry, TRUE)) {  // also curves inside a GeometryCollection
                        owned.reset(OGR_G_GetLinearGeometry(geometry, 0.0, nullptr));
                        if (!owned)
                            throw InputError(stage, feature_where(fid) + ": cannot linearise geometry type " +
                                                        OGRGeometryTypeToName(type) + ": " + capture.message());
                        geometry = owned.get();
                        report.add("converted", "curve_linearised", Severity::info,
                                   "curves are replaced by line segments (GDAL's default step)", id);
                    } else if (type == wkbPolyhedralSurface || type == wkbTIN) {
                        owned.reset(OGR_G_ForceTo(OGR_G_Clone(geometry), wkbMultiPolygon, nullptr));
                        geometry = owned.get();
                    } else if (type == wkbTriangle) {
                        owned.reset(OGR_G_ForceTo(OGR_G_Clone(geometry), wkbPolygon, nullptr));
                        geometry = owned.get();
                    }
                    if (OGR_G_Is3D(geometry) || OGR_G_IsMeasured(geometry)) {
                        report.add("converted", "z_or_m_dropped", Severity::info,
                                   "Z and M values are dropped (2D only)", id);
                        if (OGR_G_Is3D(geometry)) OGR_G_FlattenTo2D(geometry);
                        if (OGR_G_IsMeasured(geometry)) OGR_G_SetMeasured(geometry, FALSE);
                    }
                    type = wkbFlatten(OGR_G_GetGeometryType(geometry));

                    bool keep = true;
                    if (!options.accepted_families.empty()) {
                        const char* family = family_of(type);
                        if (family == nullptr ||
                            std::find(options.accepted_families.begin(), options.accepted_families.end(), family) ==
                                options.accepted_families.end()) {
                            if (!options.drop_other_families)
                                throw InputError(stage, feature_where(fid) + ": geometry type " +
                                                            OGRGeometryTypeToName(type) + " is not one of " +
                                                            join(options.accepted_families));
                            report.add("dropped", "wrong_geometry_type", Severity::warning,
                                       "features that are not " + join(options.accepted_families) +
                                           " are left out (kept in the output without geometry)",
                                       id + " (" + OGRGeometryTypeToName(type) + ")");
                            keep = false;
                        }
                    }
                    GeometryIssues issues;
                    double largest = 0;  // coordinate magnitude, as read
                    if (keep) {
                        issues.non_finite = !all_finite(geometry, largest);
                        if (!issues.non_finite) sanitize(geometry, issues);
                        issues.empty_after = !issues.non_finite && OGR_G_IsEmpty(geometry);
                        if (issues.unclosed_ring)
                            report.add("repaired", "unclosed_ring", Severity::warning,
                                       "open rings are closed by repeating their first vertex", id);
                        if (issues.degenerate_part && !issues.empty_after)
                            report.add("repaired", "too_few_points", Severity::warning,
                                       "rings of fewer than 4 and lines of fewer than 2 vertices are removed", id);
                        if (issues.empty_after)
                            report.add("dropped", "too_few_points", Severity::warning,
                                       "geometries with no ring of 4 or line of 2 vertices are left out", id);
                        keep = !issues.non_finite && !issues.empty_after;
                    }
                    if (keep && datum != Datum::wgs84) {
                        if (OGR_G_Transform(geometry, to_lonlat.get()) != OGRERR_NONE)
                            throw InputError(stage, feature_where(fid) + ": cannot convert the geometry to WGS84: " +
                                                        capture.message("coordinates out of range"));
                        shift_to_wgs84(geometry, datum);
                    }
                    // A geometry the working CRS cannot hold lies far outside its zone (a geocode in
                    // another country): left out and reported, not the end of the import.
                    if (keep && transformation && OGR_G_Transform(geometry, transformation.get()) != OGRERR_NONE) {
                        report.add("dropped", "unprojectable", Severity::warning,
                                   "geometries the working CRS cannot hold (far outside its area: a geocode in another "
                                   "country?) are left out",
                                   id);
                        capture.clear();  // the finding says it
                        keep = false;
                    }
                    // In the target CRS, absurd coordinates are corrupt too (a reprojection would have
                    // failed on them, with an error naming the feature). Coordinates neither converted
                    // nor reprojected are those read (closing a ring repeats one, removing drops some):
                    // within the bound when all read were.
                    const bool moved = datum != Datum::wgs84 || transformation != nullptr;
                    if (keep && !issues.non_finite && (moved || !(largest <= kMaxAbsCoordinate)) &&
                        !all_within(geometry, kMaxAbsCoordinate))
                        issues.non_finite = true, keep = false;
                    if (issues.non_finite)
                        report.add("dropped", "invalid_coordinates", Severity::warning,
                                   "geometries with NaN, infinite or absurd (beyond 1e9) coordinates (or none after "
                                   "reprojection) are "
                                   "left out",
                                   id);
                    if (keep && options.extent) {
                        OGREnvelope envelope;
                        OGR_G_GetEnvelope(geometry, &envelope);
                        const Box& box = *options.extent;
                        if (envelope.MaxX < box.min_x || envelope.MinX > box.max_x || envelope.MaxY < box.min_y ||
                            envelope.MinY > box.max_y) {
                            forget_findings(report, id);  // another shard's: it reports them
                            continue;
                        }
                    }
                    exported = keep;  // below, once the attributes are read
                }

                if (options.extent && !exported) {  // no geometry: in no shard
                    forget_findings(report, id);
                    continue;
                }

                // Attributes (text raw here, decoded below).
                std::vector<FieldValue> row(static_cast<std::size_t>(field_count));
                for (int i = 0; i < field_count; ++i) {
                    if (!OGR_F_IsFieldSetAndNotNull(feature.get(), i)) continue;
                    auto& value = row[static_cast<std::size_t>(i)];
                    switch (table.fields[static_cast<std::size_t>(i)].type) {
                        case FieldType::integer:
                            value = std::int64_t{OGR_F_GetFieldAsInteger64(feature.get(), i)};
                            break;
                        case FieldType::real:
                            value = OGR_F_GetFieldAsDouble(feature.get(), i);
                            break;
                        case FieldType::string:
                            value = std::string(OGR_F_GetFieldAsString(feature.get(), i));
                            break;
                    }
                }

                if (exported)
                    exporter.add(table.fids.size(), fid, std::move(feature), std::move(owned), geometry, capture);
                table.fids.push_back(std::int64_t{fid});
                table.geometries.emplace_back();
                table.rows.push_back(std::move(row));
            }
        } catch (...) {
            exporter.rethrow_earlier_failure();
            throw;
        }
        std::string export_errors;
        exporter.finish(table.geometries, export_errors);
        if (!export_errors.empty()) {
            // GDAL's complaints during the export, on the second thread: as if seen by the read.
            CPLError(CE_Failure, CPLE_AppDefined, "%s", export_errors.c_str());
        }
        if (capture.has_error()) {
            // Some drivers (GeoPackage, SQL-based ones) only reject a filter when the query runs.
            if (!options.attribute_filter.empty() && table.size() == 0)
                throw ConfigError(stage, where + ": invalid attribute filter \"" + options.attribute_filter +
                                             "\": " + capture.message());
            throw IoError(stage, where + ": error while reading features (after " + std::to_string(table.size()) +
                                     " features): " + capture.message());
        }
    }

    // A spatial filter reads in the index's order: back to feature-id order, which a whole read
    // gives, so a shard sees its features in the same order as the city does.
    if (options.extent && !std::is_sorted(table.fids.begin(), table.fids.end())) sort_by_fid(table);

    // A plain table's values were stored as declared.
    if (driver == "GPKG" && field_count > 0 && !plain) recover_mistyped_values(dataset.get(), layer, table, report);

    // Text: Shapefiles in the encoding given, declared or detected; other formats are UTF-8. Every
    // value comes out as valid UTF-8; a character a byte-limited field cut in half is removed.
    std::string encoding = options.encoding, how = "--encoding";
    if (shapefile && encoding.empty()) {
        encoding = declared_shapefile_encoding(shapefile_base(spec.path, table.layer), how);
        if (encoding.empty()) {
            std::vector<const std::string*> texts;
            for (const Field& field : table.fields) texts.push_back(&field.name);
            for (const auto& row : table.rows)
                for (const FieldValue& value : row)
                    if (const auto* text = std::get_if<std::string>(&value)) texts.push_back(text);
            const Detection detection = detect_encoding(texts, where);
            encoding = detection.encoding;
            how = "detected from the content (" + how + (detection.detail.empty() ? "" : "; " + detection.detail) + ")";
            if (!detection.rival.empty()) {
                // Name the first value that reads differently, so the user can look at it.
                std::string example = "0";
                for (std::size_t r = 0; r < table.size() && example == "0"; ++r)
                    for (std::size_t j = 0; j < table.rows[r].size(); ++j)
                        if (const auto* text = std::get_if<std::string>(&table.rows[r][j]);
                            text != nullptr && !is_ascii(*text)) {
                            example = std::to_string(r) + " (field '" + table.fields[j].name + "')";
                            break;
                        }
                report.add("reported", "ambiguous_encoding", Severity::warning,
                           "the text reads as " + encoding + " and almost as well as " + detection.rival +
                               ": if names look wrong, pass --encoding " + detection.rival + " or add a .cpg file",
                           example);
            }
        }
    } else if (!shapefile) {
        encoding = "UTF-8";
        how = "the format's own";
    }
    Decoder decoder = [&] {
        try {
            return Decoder(encoding);
        } catch (const ConfigError& error) {
            throw ConfigError("io.encoding", where + ": --encoding: " +
                                                 std::string(error.what()).substr(std::string("io.encoding: ").size()));
        }
    }();
    report.fact("encoding", decoder.encoding() + " (" + how + ")");
    for (Field& field : table.fields) field.name = decoder.decode(field.name).text;
    for (std::size_t r = 0; r < table.size(); ++r)
        for (std::size_t j = 0; j < table.rows[r].size(); ++j) {
            auto* text = std::get_if<std::string>(&table.rows[r][j]);
            if (text == nullptr || (decoder.encoding() == "UTF-8" && is_utf8(*text, false))) continue;
            Decoded decoded = decoder.decode(*text);
            const std::string id = std::to_string(r) + " (field '" + table.fields[j].name + "')";
            if (decoded.truncated)
                report.add("repaired", "cut_character", Severity::info,
                           "a character cut in half at the end of a byte-limited field is removed", id);
            if (decoded.invalid)
                report.add("repaired", "invalid_text", Severity::warning,
                           "bytes that are not " + decoder.encoding() + " are replaced with U+FFFD", id);
            *text = std::move(decoded.text);
        }
    // Findings name rows so far; they name feature ids from here. Ids that are not unique (tiled
    // GeoJSON exports repeat OSM ids) are replaced by the reading order, so every id names one feature.
    std::vector<std::int64_t> sorted = table.fids;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
        for (std::size_t r = 0; r < table.size(); ++r) table.fids[r] = static_cast<std::int64_t>(r);
        report.fact("feature ids", "not unique in the source: features are numbered 0 to " +
                                       std::to_string(table.size() - 1) + " in reading order");
    }
    for (Finding& finding : report.findings)
        for (std::string& label : finding.ids) {
            const std::size_t end = label.find(' ');
            const auto row = static_cast<std::size_t>(std::stoull(label.substr(0, end)));
            label = std::to_string(table.fids[row]) + (end == std::string::npos ? "" : label.substr(end));
        }
    report.features = static_cast<std::int64_t>(table.size());
    return table;
}

}  // namespace civgrid::io
