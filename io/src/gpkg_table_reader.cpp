// A GeoPackage feature table read straight from SQLite when it is plain (gpkg_table_reader.hpp).
#include "gpkg_table_reader.hpp"
#include "sqlite_handles.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <future>
#include <iterator>
#include <limits>
#include <memory>

namespace civgrid::io::detail {
namespace {

/// What a geometry's WKB is to read_layer: plain (kept byte for byte), empty (no coordinate at all:
/// a null geometry), or anything else (GDAL's path repairs or reports it).
enum class Verdict { plain, empty, not_plain };

/// Checks little-endian 2D WKB of types 1-6 as read_layer's sanitize() and coordinate checks would
/// find it: nothing to change, nothing to report.
class PlainWkb {
public:
    PlainWkb(const unsigned char* data, std::size_t size, double limit) : at_(data), end_(data + size), limit_(limit) {}

    Verdict check(std::uint32_t& type) {
        std::size_t coordinates = 0;
        if (!geometry(type, 0, coordinates) || at_ != end_) return Verdict::not_plain;
        if (coordinates == 0) return Verdict::empty;
        return empty_part_ ? Verdict::not_plain : Verdict::plain;
    }

private:
    bool count(std::uint32_t& value) {
        if (end_ - at_ < 4) return false;
        value = static_cast<std::uint32_t>(at_[0]) | static_cast<std::uint32_t>(at_[1]) << 8 |
                static_cast<std::uint32_t>(at_[2]) << 16 | static_cast<std::uint32_t>(at_[3]) << 24;
        at_ += 4;
        return true;
    }
    // n points, finite and within the limit; x and y of the first and last in `first`, `last`.
    bool points(std::uint32_t n, double* first = nullptr, double* last = nullptr) {
        if (static_cast<std::size_t>(end_ - at_) / 16 < n) return false;
        for (std::uint32_t i = 0; i < n; ++i, at_ += 16) {
            double xy[2];
            std::memcpy(xy, at_, sizeof xy);
            // NaN fails both comparisons; so does an infinity.
            if (!(std::abs(xy[0]) <= limit_) || !(std::abs(xy[1]) <= limit_)) return false;
            if (i == 0 && first != nullptr) first[0] = xy[0], first[1] = xy[1];
            if (i + 1 == n && last != nullptr) last[0] = xy[0], last[1] = xy[1];
        }
        return true;
    }
    bool geometry(std::uint32_t& type, int depth, std::size_t& coordinates) {
        if (end_ - at_ < 5 || *at_ != 1) return false;  // little-endian only
        ++at_;
        if (!count(type) || type < 1 || type > 6) return false;  // 2D point ... multi polygon
        std::uint32_t n = 0;
        switch (type) {
            case 1:
                ++coordinates;
                return points(1);
            case 2:
                if (!count(n)) return false;
                if (n == 0) {
                    empty_part_ = empty_part_ || depth > 0;
                    return true;
                }
                coordinates += n;
                return n >= 2 && points(n);  // a line of one vertex is removed by the repair
            case 3: {
                if (!count(n)) return false;
                if (n == 0) empty_part_ = empty_part_ || depth > 0;
                for (std::uint32_t ring = 0; ring < n; ++ring) {
                    std::uint32_t ring_points = 0;
                    double first[2] = {0, 0}, last[2] = {0, 0};
                    // Short or open rings are repaired and reported.
                    if (!count(ring_points) || ring_points < 4 || !points(ring_points, first, last) ||
                        first[0] != last[0] || first[1] != last[1])
                        return false;
                    coordinates += ring_points;
                }
                return true;
            }
            default: {  // multi point, line string, polygon: parts of their own type
                if (depth > 0 || !count(n)) return false;
                for (std::uint32_t part = 0; part < n; ++part) {
                    std::uint32_t part_type = 0;
                    std::size_t part_coordinates = 0;
                    if (!geometry(part_type, depth + 1, part_coordinates) || part_type != type - 3) return false;
                    if (part_coordinates == 0) empty_part_ = true;  // the repair removes it
                    coordinates += part_coordinates;
                }
                return true;
            }
        }
    }

    const unsigned char* at_;
    const unsigned char* end_;
    double limit_;
    bool empty_part_ = false;
};

const char* family_of(std::uint32_t type) {
    switch (type) {
        case 1:
        case 4:
            return "point";
        case 2:
        case 5:
            return "line";
        default:
            return "polygon";
    }
}

/// The WKB inside a GeoPackage blob (standard, not extended), or nullptr; `flagged_empty` from its
/// header.
const unsigned char* blob_wkb(const unsigned char* blob, std::size_t size, std::size_t& wkb_size, bool& flagged_empty) {
    if (size < 8 || blob[0] != 'G' || blob[1] != 'P' || blob[2] != 0) return nullptr;
    const unsigned flags = blob[3];
    if ((flags & 0xE0U) != 0) return nullptr;  // extended type, reserved bits
    flagged_empty = (flags & 0x10U) != 0;
    static constexpr std::size_t kEnvelopeBytes[] = {0, 32, 48, 48, 64};
    const unsigned envelope = (flags >> 1) & 7U;
    if (envelope > 4) return nullptr;
    const std::size_t header = 8 + kEnvelopeBytes[envelope];
    if (size <= header) return nullptr;
    wkb_size = size - header;
    return blob + header;
}

/// A little-endian 2D point whose coordinates are both NaN: WKB's empty point.
bool is_empty_point(const unsigned char* data, std::size_t size) {
    if (size != 21 || data[0] != 1 || data[1] != 1 || data[2] != 0 || data[3] != 0 || data[4] != 0) return false;
    double xy[2];
    std::memcpy(xy, data + 5, sizeof xy);
    return std::isnan(xy[0]) && std::isnan(xy[1]);
}

}  // namespace

namespace {

// The rows of `request`'s table whose rowid lies in [first, last] into `table`; false as soon as
// anything is not plain (read_plain_geopackage_table).
bool read_rows(const PlainTableRequest& request, std::int64_t first, std::int64_t last, std::size_t expected_rows,
               PlainTable& table) {
    sqlite3* raw = nullptr;
    const int opened = sqlite3_open_v2(request.path.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
    const SqliteDatabase db(raw);
    if (opened != SQLITE_OK) return false;
    const bool has_geometry = !request.geometry_column.empty();
    std::string select = "SELECT rowid, " + quoted_identifier(request.fid_column);
    if (has_geometry) select += ", " + quoted_identifier(request.geometry_column);
    for (const PlainColumn& column : request.columns) select += ", " + quoted_identifier(column.name);
    select += " FROM " + quoted_identifier(request.table) + " WHERE rowid BETWEEN ? AND ? ORDER BY rowid";
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db.get(), select.c_str(), -1, &statement, nullptr) != SQLITE_OK) return false;
    const SqliteStatement rows(statement);
    sqlite3_bind_int64(statement, 1, first);
    sqlite3_bind_int64(statement, 2, last);

    std::vector<char> accepted(7, request.accepted_families.empty() ? 1 : 0);
    for (std::uint32_t type = 1; type <= 6; ++type)
        for (const std::string& family : request.accepted_families)
            if (family == family_of(type)) accepted[type] = 1;

    table.fids.reserve(expected_rows);
    table.geometries.reserve(expected_rows);
    table.rows.reserve(expected_rows);
    const int first_value = has_geometry ? 3 : 2;
    int status = SQLITE_ROW;
    while ((status = sqlite3_step(statement)) == SQLITE_ROW) {
        if (sqlite3_column_type(statement, 1) != SQLITE_INTEGER ||
            sqlite3_column_int64(statement, 0) != sqlite3_column_int64(statement, 1))
            return false;
        Wkb wkb;
        if (has_geometry && sqlite3_column_type(statement, 2) != SQLITE_NULL) {
            if (sqlite3_column_type(statement, 2) != SQLITE_BLOB) return false;
            const auto* blob = static_cast<const unsigned char*>(sqlite3_column_blob(statement, 2));
            std::size_t size = 0;
            bool flagged_empty = false;
            const unsigned char* data =
                blob_wkb(blob, static_cast<std::size_t>(sqlite3_column_bytes(statement, 2)), size, flagged_empty);
            if (data == nullptr) return false;
            std::uint32_t type = 0;
            // GDAL writes an empty point as NaN coordinates, flagged empty.
            const Verdict verdict = flagged_empty && is_empty_point(data, size)
                                        ? Verdict::empty
                                        : PlainWkb(data, size, request.max_abs_coordinate).check(type);
            if (flagged_empty && verdict != Verdict::empty) return false;
            if (verdict == Verdict::not_plain || (verdict == Verdict::plain && accepted[type] == 0)) return false;
            if (verdict == Verdict::plain) {
                wkb.assign(data, data + size);
                if (request.finish_geometry && !request.finish_geometry(wkb)) return false;
            }
        }
        std::vector<FieldValue> values(request.columns.size());
        for (std::size_t c = 0; c < request.columns.size(); ++c) {
            const int at = first_value + static_cast<int>(c);
            const PlainColumn& column = request.columns[c];
            switch (sqlite3_column_type(statement, at)) {
                case SQLITE_NULL:
                    break;
                case SQLITE_INTEGER: {
                    if (column.type == FieldType::string) return false;
                    const sqlite3_int64 value = sqlite3_column_int64(statement, at);
                    if (column.type == FieldType::real) {
                        values[c] = sqlite3_column_double(statement, at);
                    } else {
                        if (column.int32 && (value < std::numeric_limits<std::int32_t>::min() ||
                                             value > std::numeric_limits<std::int32_t>::max()))
                            return false;
                        values[c] = std::int64_t{value};
                    }
                    break;
                }
                case SQLITE_FLOAT:
                    if (column.type != FieldType::real) return false;
                    values[c] = sqlite3_column_double(statement, at);
                    break;
                case SQLITE_TEXT:
                    if (column.type != FieldType::string) return false;
                    // As GDAL sets it: a C string, up to a NUL byte.
                    values[c] = std::string(reinterpret_cast<const char*>(sqlite3_column_text(statement, at)));
                    break;
                default:
                    return false;
            }
        }
        table.fids.push_back(sqlite3_column_int64(statement, 1));
        table.geometries.push_back(std::move(wkb));
        table.rows.push_back(std::move(values));
    }
    return status == SQLITE_DONE;
}

}  // namespace

std::optional<PlainTable> read_plain_geopackage_table(const PlainTableRequest& request) {
    std::int64_t first = 0, last = -1;
    {
        sqlite3* raw = nullptr;
        const int opened =
            sqlite3_open_v2(request.path.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
        const SqliteDatabase db(raw);
        if (opened != SQLITE_OK || request.fid_column.empty()) return std::nullopt;
        // A table (not a view), its fid the rowid: GDAL reads it in the same order, one row per feature.
        sqlite3_stmt* statement = nullptr;
        const std::string sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?";
        if (sqlite3_prepare_v2(db.get(), sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) return std::nullopt;
        const SqliteStatement owned(statement);
        sqlite3_bind_text(statement, 1, request.table.c_str(), -1, SQLITE_TRANSIENT);
        if (sqlite3_step(statement) != SQLITE_ROW) return std::nullopt;
        const std::string range = "SELECT min(rowid), max(rowid) FROM " + quoted_identifier(request.table);
        sqlite3_stmt* bounds = nullptr;
        if (sqlite3_prepare_v2(db.get(), range.c_str(), -1, &bounds, nullptr) != SQLITE_OK) return std::nullopt;
        const SqliteStatement owned_bounds(bounds);
        if (sqlite3_step(bounds) != SQLITE_ROW) return std::nullopt;
        if (sqlite3_column_type(bounds, 0) == SQLITE_NULL) return PlainTable{};  // no rows
        first = sqlite3_column_int64(bounds, 0);
        last = sqlite3_column_int64(bounds, 1);
    }
    // Two rowid ranges on two connections at once for a large table: a city's buildings, or
    // parcels of thousands of vertices, where copying the blobs out is most of the read.
    constexpr std::size_t kTwoRanges = 20'000;  // rows
    if (!request.two_threads || request.expected_rows < kTwoRanges || last - first < 2) {
        PlainTable table;
        if (!read_rows(request, first, last, request.expected_rows, table)) return std::nullopt;
        return table;
    }
    const std::int64_t middle = first + (last - first) / 2;
    PlainTable second;
    std::future<bool> second_read = std::async(std::launch::async, [&] {
        return read_rows(request, middle + 1, last, request.expected_rows / 2 + 1, second);
    });
    PlainTable table;
    const bool first_read = read_rows(request, first, middle, request.expected_rows / 2 + 1, table);
    if (!second_read.get() || !first_read) return std::nullopt;
    table.fids.insert(table.fids.end(), second.fids.begin(), second.fids.end());
    std::move(second.geometries.begin(), second.geometries.end(), std::back_inserter(table.geometries));
    std::move(second.rows.begin(), second.rows.end(), std::back_inserter(table.rows));
    return table;
}

}  // namespace civgrid::io::detail
