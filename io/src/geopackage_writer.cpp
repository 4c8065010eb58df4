// Atomic GeoPackage writer: a temporary file beside the target, renamed over it in commit().
#include "gdal_handles.hpp"
#include "gpkg_rtree.hpp"
#include "sqlite_handles.hpp"
#include "wkb_coordinates.hpp"

#include <civgrid/io/layer.hpp>
#include <civgrid/io/output_file.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <system_error>

#ifdef __linux__
#include <fcntl.h>
#include <unistd.h>
#endif

namespace civgrid::io {
namespace {

constexpr const char* kStage = "io.write";
namespace fs = std::filesystem;

OGRwkbGeometryType ogr_type_of(GeometryKind kind) {
    switch (kind) {
        case GeometryKind::none:
            return wkbNone;
        case GeometryKind::point:
            return wkbPoint;
        case GeometryKind::line_string:
            return wkbLineString;
        case GeometryKind::polygon:
            return wkbPolygon;
        case GeometryKind::multi_line_string:
            return wkbMultiLineString;
        case GeometryKind::multi_polygon:
            return wkbMultiPolygon;
    }
    return wkbUnknown;
}

const char* name_of(FieldType type) {
    switch (type) {
        case FieldType::integer:
            return "an integer";
        case FieldType::real:
            return "a real";
        case FieldType::string:
            return "a string";
    }
    return "?";
}

bool iequals(std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
    });
}

/// Removes a SQLite database file and the journals SQLite may leave beside it.
void remove_database_files(const std::string& path) noexcept {
    std::error_code ignored;
    for (const char* suffix : {"", "-journal", "-wal", "-shm"}) fs::remove(path + suffix, ignored);
}

/// Until released: rolls back the open transaction (when started) and deletes the half-written
/// layer, so a failed add_layer leaves no trace in the file.
class LayerGuard {
public:
    LayerGuard(GDALDatasetH dataset, int layer_index) : dataset_(dataset), layer_index_(layer_index) {}
    ~LayerGuard() {
        if (dataset_ == nullptr) return;
        const detail::GdalErrorCapture quiet;  // nothing to report: an exception is already in flight
        if (in_transaction_) GDALDatasetRollbackTransaction(dataset_);
        GDALDatasetDeleteLayer(dataset_, layer_index_);
    }
    LayerGuard(const LayerGuard&) = delete;
    LayerGuard& operator=(const LayerGuard&) = delete;
    void transaction_started() noexcept { in_transaction_ = true; }
    void transaction_ended() noexcept { in_transaction_ = false; }
    void release() noexcept { dataset_ = nullptr; }

private:
    GDALDatasetH dataset_;
    int layer_index_;
    bool in_transaction_ = false;
};

/// Whether `value` can be written into a field of `type`: an integer widens into a real field,
/// and numbers are written as text into a string field (as OGR formats them); text never goes
/// into a numeric field and a real never into an integer one.
bool fits(const FieldValue& value, FieldType type) {
    switch (type) {
        case FieldType::integer:
            return !std::holds_alternative<double>(value) && !std::holds_alternative<std::string>(value);
        case FieldType::real:
            return !std::holds_alternative<std::string>(value);
        case FieldType::string:
            return true;
    }
    return false;
}

// Rows go into the layer's table through GDAL's own SQLite connection, inside GDAL's transaction,
// by one prepared statement: OGR's per-feature path (a geometry object built from the WKB and
// exported again, fields set and read back, SQL text formatted per row) was most of the writing.
using Statement = detail::SqliteStatement;
using detail::quoted_identifier;

// The envelope of a little-endian 2D WKB geometry (types 1-7, parts of a multi of its type,
// nested two deep at most), read in place; walk() is false when the bytes are not such a geometry
// (big-endian, Z or M, unknown type, cut short). The empty point (NaN, NaN) widens nothing.
struct WkbEnvelope {
    bool walk(const Wkb& wkb, std::uint32_t& type) {
        *this = {};
        constexpr detail::WkbWalkRules kPlain{
            .any_dimension = false, .curves_and_surfaces = false, .parts_of_their_type = true, .max_depth = 2};
        return detail::walk_wkb_coordinates(wkb.data(), wkb.size(), kPlain, type,
                                            [this](const unsigned char* xy, bool lone_point) {
                                                double x = 0, y = 0;
                                                std::memcpy(&x, xy, sizeof x);
                                                std::memcpy(&y, xy + sizeof x, sizeof y);
                                                if (lone_point && std::isnan(x) && std::isnan(y)) return;
                                                add(x, y);
                                            });
    }
    [[nodiscard]] bool empty() const noexcept { return coordinates == 0; }
    void add(double x, double y) {
        ++coordinates;
        min_x = std::min(min_x, x);
        max_x = std::max(max_x, x);
        min_y = std::min(min_y, y);
        max_y = std::max(max_y, y);
    }
    double min_x = std::numeric_limits<double>::infinity(), min_y = min_x;
    double max_x = -std::numeric_limits<double>::infinity(), max_y = max_x;
    std::size_t coordinates = 0;
};

template <typename T>
void append_bytes(std::vector<unsigned char>& out, T value) {
    unsigned char bytes[sizeof(T)];
    std::memcpy(bytes, &value, sizeof(T));
    out.insert(out.end(), bytes, bytes + sizeof(T));
}

// One layer's rows through a prepared INSERT: the GeoPackage geometry blob (header with the
// layer's srs_id and, but for points and empty geometries, the XY envelope, as GDAL writes it;
// then the WKB), fields bound by type. Fills `index` and `contents` as the rows go.
class RowWriter {
public:
    RowWriter(sqlite3* db, OGRLayerH layer, const LayerData& data, OGRwkbGeometryType layer_type, std::string where)
        : db_(db),
          data_(data),
          layer_type_(layer_type),
          where_(std::move(where)),
          scratch_(OGR_F_Create(OGR_L_GetLayerDefn(layer))) {
        OGRFeatureDefnH definition = OGR_L_GetLayerDefn(layer);
        table_ = OGR_L_GetName(layer);
        const std::string& table = table_;
        std::string columns, values;
        const bool spatial = data.geometry_kind != GeometryKind::none;
        if (spatial) {
            columns = quoted_identifier(OGR_L_GetGeometryColumn(layer));
            values = "?";
            srs_id_ = srs_id_of(table);
        }
        for (int j = 0; j < OGR_FD_GetFieldCount(definition); ++j) {
            columns += (columns.empty() ? "" : ", ") +
                       quoted_identifier(OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(definition, j)));
            values += values.empty() ? "?" : ", ?";
        }
        const std::string sql = "INSERT INTO " + quoted_identifier(table) +
                                (columns.empty() ? " DEFAULT VALUES" : " (" + columns + ") VALUES (" + values + ")");
        insert_ = prepare(sql);
        // Rows kBatchRows at a time through one statement: a statement per row had SQLite update
        // the table's AUTOINCREMENT counter (sqlite_sequence) and run a statement's set-up per row.
        params_per_row_ = static_cast<int>(std::count(values.begin(), values.end(), '?'));
        if (params_per_row_ > 0)
            batch_rows_ = std::min<std::size_t>(
                kBatchRows,
                static_cast<std::size_t>(sqlite3_limit(db_, SQLITE_LIMIT_VARIABLE_NUMBER, -1) / params_per_row_));
        if (batch_rows_ > 1) {
            std::string rows;
            for (std::size_t r = 0; r < batch_rows_; ++r) rows += (r == 0 ? "(" : ", (") + values + ")";
            insert_batch_ = prepare("INSERT INTO " + quoted_identifier(table) + " (" + columns + ") VALUES " + rows);
        }
        blobs_.resize(std::max<std::size_t>(batch_rows_, 1));
        slots_.resize(blobs_.size());
    }

    void write(detail::SpatialIndexRows* index, detail::LayerContents& contents) {
        // GDAL's trigger counting rows into gpkg_ogr_contents would run an UPDATE per row: it is
        // set aside while the rows go in (the count is written once, at close) and put back as it was.
        std::string trigger_sql;
        const std::string trigger = "trigger_insert_feature_count_" + table_;
        {
            const Statement query = prepare("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?");
            sqlite3_bind_text(query.get(), 1, trigger.c_str(), -1, SQLITE_TRANSIENT);
            if (sqlite3_step(query.get()) == SQLITE_ROW)
                trigger_sql = reinterpret_cast<const char*>(sqlite3_column_text(query.get(), 0));
        }
        if (!trigger_sql.empty()) execute("DROP TRIGGER " + quoted_identifier(trigger));
        insert_rows(index, contents);
        if (!trigger_sql.empty()) execute(trigger_sql);
    }

private:
    void execute(const std::string& sql) {
        if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK)
            throw IoError(kStage, where_ + ": '" + sql + "' failed: " + sqlite3_errmsg(db_));
    }

    void insert_rows(detail::SpatialIndexRows* index, detail::LayerContents& contents) {
        const std::size_t n = data_.rows.size();
        std::size_t i = 0;
        if (insert_batch_)
            for (; n - i >= batch_rows_; i += batch_rows_) {
                for (std::size_t r = 0; r < batch_rows_; ++r)
                    bind_row(insert_batch_.get(), i + r, 1 + static_cast<int>(r) * params_per_row_, r);
                const int status = sqlite3_step(insert_batch_.get());
                sqlite3_reset(insert_batch_.get());
                if (status != SQLITE_DONE) break;  // undone as a whole: row by row below names the row
                // One statement's rows take consecutive row ids, the last of them the last inserted.
                const sqlite3_int64 last = sqlite3_last_insert_rowid(db_);
                for (std::size_t r = 0; r < batch_rows_; ++r)
                    add_to_index(index, r, last - static_cast<sqlite3_int64>(batch_rows_ - 1 - r), contents);
            }
        for (; i < n; ++i) {
            bind_row(insert_.get(), i, 1, 0);
            if (sqlite3_step(insert_.get()) != SQLITE_DONE)
                throw IoError(kStage, where_ + ", row " + std::to_string(i) +
                                          ": cannot write the feature: " + sqlite3_errmsg(db_));
            sqlite3_reset(insert_.get());
            sqlite3_clear_bindings(insert_.get());
            add_to_index(index, 0, sqlite3_last_insert_rowid(db_), contents);
        }
    }

    // Binds row i from parameter `first` on, its geometry's blob and envelope kept in slot `slot`.
    void bind_row(sqlite3_stmt* statement, std::size_t i, int first, std::size_t slot) {
        int column = first;
        slots_[slot].indexed = false;
        if (data_.geometry_kind != GeometryKind::none)
            slots_[slot].indexed = bind_geometry(statement, i, column++, slot);
        const auto& row = data_.rows[i];
        for (std::size_t j = 0; j < row.size(); ++j) bind_value(statement, column++, static_cast<int>(j), row[j]);
    }

    // Counts row `rowid` (slot `slot` bound it) and adds its envelope to the index and the extent.
    void add_to_index(detail::SpatialIndexRows* index, std::size_t slot, sqlite3_int64 rowid,
                      detail::LayerContents& contents) {
        ++contents.feature_count;
        const Slot& bound = slots_[slot];
        if (!bound.indexed) return;
        if (!contents.has_extent) {
            contents.has_extent = true;
            contents.min_x = bound.min_x;
            contents.min_y = bound.min_y;
            contents.max_x = bound.max_x;
            contents.max_y = bound.max_y;
        } else {
            contents.min_x = std::min(contents.min_x, bound.min_x);
            contents.min_y = std::min(contents.min_y, bound.min_y);
            contents.max_x = std::max(contents.max_x, bound.max_x);
            contents.max_y = std::max(contents.max_y, bound.max_y);
        }
        if (index != nullptr) index->entries.push_back({rowid, bound.min_x, bound.max_x, bound.min_y, bound.max_y});
    }

    Statement prepare(const std::string& sql) {
        sqlite3_stmt* statement = nullptr;
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK)
            throw IoError(kStage, where_ + ": cannot prepare '" + sql + "': " + sqlite3_errmsg(db_));
        return Statement(statement);
    }

    int srs_id_of(const std::string& table) {
        const Statement query = prepare("SELECT srs_id FROM gpkg_geometry_columns WHERE lower(table_name) = lower(?)");
        sqlite3_bind_text(query.get(), 1, table.c_str(), -1, SQLITE_TRANSIENT);
        if (sqlite3_step(query.get()) != SQLITE_ROW)
            throw IoError(kStage, where_ + ": the layer has no row in gpkg_geometry_columns");
        return sqlite3_column_int(query.get(), 0);
    }

    // Binds row i's geometry; true when it has an envelope for the spatial index.
    bool bind_geometry(sqlite3_stmt* statement, std::size_t i, int column, std::size_t slot) {
        const Wkb& given = data_.geometries[i];
        if (given.empty()) {
            sqlite3_bind_null(statement, column);
            return false;
        }
        const Wkb* wkb = &given;
        std::uint32_t type = 0;
        WkbEnvelope walker;
        if (!walker.walk(given, type)) {
            // Not plain little-endian 2D WKB: OGR reads it and writes it so (Z and M dropped, as
            // the layer is 2D).
            normalised_ = normalise(given, i);
            wkb = &normalised_;
            if (!walker.walk(*wkb, type))
                throw InternalError(kStage, where_ + ", row " + std::to_string(i) + ": unreadable geometry");
        }
        const auto wanted = static_cast<std::uint32_t>(layer_type_);
        std::uint32_t wrap = 0;  // a polygon in a multipolygon layer goes in as a multipolygon of one
        if (type != wanted) {
            if ((type == wkbPolygon && wanted == wkbMultiPolygon) ||
                (type == wkbLineString && wanted == wkbMultiLineString))
                wrap = wanted;
            else
                throw InternalError(kStage, where_ + ", row " + std::to_string(i) + ": geometry type " +
                                                OGRGeometryTypeToName(static_cast<OGRwkbGeometryType>(type)) +
                                                " in a " + OGRGeometryTypeToName(layer_type_) + " layer");
        }
        const bool empty = walker.empty();
        const bool envelope = !empty && type != wkbPoint;
        std::vector<unsigned char>& blob = blobs_[slot];  // bound SQLITE_STATIC: kept until the step
        blob.clear();
        blob.push_back('G');
        blob.push_back('P');
        blob.push_back(0);  // version 1
        blob.push_back(static_cast<unsigned char>(0x01 | (envelope ? 0x02 : 0) | (empty ? 0x10 : 0)));
        append_bytes<std::int32_t>(blob, srs_id_);
        if (envelope) {
            append_bytes(blob, walker.min_x);
            append_bytes(blob, walker.max_x);
            append_bytes(blob, walker.min_y);
            append_bytes(blob, walker.max_y);
        }
        if (wrap != 0) {
            blob.push_back(1);
            append_bytes<std::uint32_t>(blob, wrap);
            append_bytes<std::uint32_t>(blob, 1);
        }
        blob.insert(blob.end(), wkb->begin(), wkb->end());
        sqlite3_bind_blob(statement, column, blob.data(), static_cast<int>(blob.size()), SQLITE_STATIC);
        if (empty) return false;
        slots_[slot].min_x = walker.min_x;
        slots_[slot].max_x = walker.max_x;
        slots_[slot].min_y = walker.min_y;
        slots_[slot].max_y = walker.max_y;
        return true;
    }

    Wkb normalise(const Wkb& wkb, std::size_t i) const {
        detail::GdalErrorCapture capture;
        OGRGeometryH geometry = nullptr;
        if (OGR_G_CreateFromWkbEx(wkb.data(), nullptr, &geometry, wkb.size()) != OGRERR_NONE || geometry == nullptr)
            throw InternalError(kStage, where_ + ", row " + std::to_string(i) + ": invalid WKB (" +
                                            std::to_string(wkb.size()) + " bytes): " + capture.message());
        const detail::GeometryPtr owned(geometry);
        if (OGR_G_Is3D(geometry)) OGR_G_FlattenTo2D(geometry);
        if (OGR_G_IsMeasured(geometry)) OGR_G_SetMeasured(geometry, FALSE);
        Wkb out(static_cast<std::size_t>(OGR_G_WkbSizeEx(geometry)));
        if (OGR_G_ExportToIsoWkb(geometry, wkbNDR, out.data()) != OGRERR_NONE)
            throw InternalError(kStage, where_ + ", row " + std::to_string(i) + ": cannot export the geometry");
        return out;
    }

    void bind_value(sqlite3_stmt* statement, int column, int field, const FieldValue& value) {
        const FieldType type = data_.fields[static_cast<std::size_t>(field)].type;
        if (std::holds_alternative<std::monostate>(value)) {
            sqlite3_bind_null(statement, column);
        } else if (type == FieldType::string) {
            if (const auto* text = std::get_if<std::string>(&value)) {
                sqlite3_bind_text(statement, column, text->data(), static_cast<int>(text->size()), SQLITE_STATIC);
            } else {  // a number in a text field: written as OGR formats it
                detail::set_field(scratch_.get(), field, type, value);
                sqlite3_bind_text(statement, column, OGR_F_GetFieldAsString(scratch_.get(), field), -1,
                                  SQLITE_TRANSIENT);
            }
        } else if (const auto* integer = std::get_if<std::int64_t>(&value)) {
            if (type == FieldType::real)
                sqlite3_bind_double(statement, column, static_cast<double>(*integer));
            else
                sqlite3_bind_int64(statement, column, *integer);
        } else {
            sqlite3_bind_double(statement, column, std::get<double>(value));
        }
    }

    sqlite3* db_;
    std::string table_;
    const LayerData& data_;
    OGRwkbGeometryType layer_type_;
    std::string where_;
    detail::FeaturePtr scratch_;
    Statement insert_;
    Statement insert_batch_;  // batch_rows_ rows at once; null when rows go one at a time
    static constexpr std::size_t kBatchRows = 32;
    std::size_t batch_rows_ = 1;
    int params_per_row_ = 0;
    int srs_id_ = 0;
    // Per row of a batch: its geometry's blob, and whether it has an envelope for the index.
    struct Slot {
        bool indexed = false;
        double min_x = 0, max_x = 0, min_y = 0, max_y = 0;
    };
    std::vector<std::vector<unsigned char>> blobs_;
    std::vector<Slot> slots_;
    Wkb normalised_;
};

// The kernel starts writing the file's pages to disk now, while the run computes: the commit's
// flush (fdatasync) of a city's output was a tenth of a second at the end, with nothing else to do.
// Only a hint: any failure is left to that flush to report.
void start_writeback(const std::string& path) {
#ifdef __linux__
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    static_cast<void>(::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE));
    ::close(fd);
#else
    static_cast<void>(path);
#endif
}

}  // namespace

void GeoPackageWriter::DatasetDeleter::operator()(void* dataset) const noexcept {
    if (dataset != nullptr) GDALClose(dataset);
}

GeoPackageWriter::GeoPackageWriter(std::string path, std::string crs)
    : owned_output_(std::make_unique<OutputReservation>(std::move(path))),
      output_(owned_output_.get()),
      path_(output_->path()),
      crs_(std::move(crs)) {
    open();
}

GeoPackageWriter::GeoPackageWriter(OutputReservation& output, std::string crs)
    : output_(&output), path_(output.path()), crs_(std::move(crs)) {
    open();
}

void GeoPackageWriter::open() {
    detail::ensure_gdal_registered();
    if (!crs_.empty()) static_cast<void>(detail::make_srs(crs_, kStage, "output CRS of '" + path_ + "'"));
    // The reservation's empty placeholder makes way for the GeoPackage.
    const std::string& temp_path = output_->temp_path();
    remove_database_files(temp_path);
    GDALDriverH driver = GDALGetDriverByName("GPKG");
    if (driver == nullptr) throw IoError(kStage, "cannot create '" + path_ + "': GDAL has no GPKG driver");
    detail::GdalErrorCapture capture;
    dataset_.reset(GDALCreate(driver, temp_path.c_str(), 0, 0, 0, GDT_Unknown, nullptr));
    if (!dataset_) {
        const std::string message = capture.message("GDALCreate failed");
        throw IoError(kStage, "cannot create '" + path_ + "' (temporary file '" + temp_path + "'): " + message);
    }
}

GeoPackageWriter::~GeoPackageWriter() {
    if (committed_) return;
    const detail::GdalErrorCapture quiet;
    dataset_.reset();  // the reservation removes the temporary file
}

void GeoPackageWriter::add_layer(const LayerData& data) {
    if (committed_ || !dataset_)
        throw InternalError(kStage, "'" + path_ + "': add_layer('" + data.name + "') after close or commit");
    const std::string where = path_ + ", layer '" + data.name + "'";
    if (data.name.empty()) throw InternalError(kStage, path_ + ": a layer needs a name");
    const bool spatial = data.geometry_kind != GeometryKind::none;
    if (spatial && data.geometries.size() != data.rows.size())
        throw InternalError(kStage, where + ": " + std::to_string(data.geometries.size()) + " geometries for " +
                                        std::to_string(data.rows.size()) + " rows");
    if (!spatial && !data.geometries.empty())
        throw InternalError(kStage, where + ": geometries given for an attribute table");
    for (std::size_t i = 0; i < data.rows.size(); ++i) {
        if (data.rows[i].size() != data.fields.size())
            throw InternalError(kStage, where + ", row " + std::to_string(i) + ": " +
                                            std::to_string(data.rows[i].size()) + " values for " +
                                            std::to_string(data.fields.size()) + " fields");
        for (std::size_t j = 0; j < data.fields.size(); ++j)
            if (!fits(data.rows[i][j], data.fields[j].type))
                throw InternalError(kStage, where + ", row " + std::to_string(i) + ", field '" + data.fields[j].name +
                                                "': a value of the wrong type for " + name_of(data.fields[j].type) +
                                                " field");
    }

    GDALDatasetH dataset = dataset_.get();
    detail::GdalErrorCapture capture;

    // The FID column must not collide (case-insensitively) with an attribute field.
    std::string fid_column = "fid";
    for (int n = 1; std::any_of(data.fields.begin(), data.fields.end(),
                                [&](const Field& f) { return iequals(f.name, fid_column); });
         ++n)
        fid_column = "fid_" + std::to_string(n);
    const std::string fid_option = "FID=" + fid_column;
    // The spatial index is written in bulk after GDAL closes the file (write_spatial_indexes):
    // GDAL 3.6 would fill it at close one R*Tree insertion per row.
    const char* layer_options[] = {fid_option.c_str(), "SPATIAL_INDEX=NO", nullptr};

    detail::SrsPtr srs;
    if (spatial && !crs_.empty()) srs = detail::make_srs(crs_, kStage, "output CRS");
    const OGRwkbGeometryType layer_type = ogr_type_of(data.geometry_kind);
    OGRLayerH layer =
        GDALDatasetCreateLayer(dataset, data.name.c_str(), srs.get(), layer_type, const_cast<char**>(layer_options));
    if (layer == nullptr) throw IoError(kStage, where + ": cannot create the layer: " + capture.message());
    LayerGuard guard(dataset, GDALDatasetGetLayerCount(dataset) - 1);

    detail::create_fields(layer, data.fields, kStage, where);

    // GDAL creates the table when it first needs it: now, so that the rows can go straight in.
    if (OGR_L_SyncToDisk(layer) != OGRERR_NONE)
        throw IoError(kStage, where + ": cannot create the table: " + capture.message());
    auto* db = static_cast<sqlite3*>(GDALGetInternalHandle(dataset, "SQLITE_HANDLE"));
    if (db == nullptr) throw InternalError(kStage, where + ": GDAL's GeoPackage driver gave no SQLite handle");

    if (GDALDatasetStartTransaction(dataset, FALSE) != OGRERR_NONE)
        throw IoError(kStage, where + ": cannot start a transaction: " + capture.message());
    guard.transaction_started();

    detail::SpatialIndexRows index;
    if (spatial) {
        index.table = data.name;
        index.geometry_column = OGR_L_GetGeometryColumn(layer);
        index.fid_column = fid_column;
        index.entries.reserve(data.rows.size());
    }
    detail::LayerContents contents;
    contents.table = data.name;
    {
        RowWriter rows(db, layer, data, layer_type, where);
        rows.write(spatial ? &index : nullptr, contents);
    }

    if (GDALDatasetCommitTransaction(dataset) != OGRERR_NONE)
        throw IoError(kStage, where + ": cannot commit the transaction: " + capture.message());
    guard.transaction_ended();
    if (capture.has_error()) throw IoError(kStage, where + ": " + capture.message());
    guard.release();
    layers_.push_back(data.name);
    contents_.push_back(std::move(contents));
    if (spatial) {
        // A city's buildings: packed beside the rest of the writing, not in the close after it.
        constexpr std::size_t kPackedAside = 10'000;  // entries
        if (index.entries.size() >= kPackedAside) {
            detail::start_packing(index);
            start_writeback(output_->temp_path());
        }
        spatial_indexes_.push_back(std::move(index));
    }
}

void GeoPackageWriter::add_styles(const std::vector<LayerStyle>& styles) {
    constexpr const char* kTable = "layer_styles";
    if (committed_ || !dataset_) throw InternalError(kStage, "'" + path_ + "': add_styles after close or commit");
    const std::string where = path_ + ", layer '" + kTable + "'";
    if (std::find(layers_.begin(), layers_.end(), kTable) != layers_.end())
        throw InternalError(kStage, where + ": styles written twice");
    GDALDatasetH dataset = dataset_.get();
    detail::GdalErrorCapture capture;

    // The geometry column of each styled layer: QGIS matches f_table_name and f_geometry_column.
    std::vector<std::string> geometry_columns;
    for (const LayerStyle& style : styles) {
        OGRLayerH styled = GDALDatasetGetLayerByName(dataset, style.layer.c_str());
        const char* column = styled != nullptr ? OGR_L_GetGeometryColumn(styled) : nullptr;
        if (column == nullptr || *column == '\0')
            throw InternalError(
                kStage, where + ": a style for '" + style.layer + "', which is not a spatial layer of the file");
        if (style.name.empty() || style.name.size() > 30)
            throw InternalError(kStage, where + ": style name '" + style.name + "' of layer '" + style.layer +
                                            "' must have 1 to 30 characters");
        geometry_columns.emplace_back(column);
    }

    // The table as QGIS's OGR provider creates it (QgsOgrProviderMetadata::saveStyle).
    const char* layer_options[] = {"FID=id", nullptr};
    OGRLayerH layer = GDALDatasetCreateLayer(dataset, kTable, nullptr, wkbNone, const_cast<char**>(layer_options));
    if (layer == nullptr) throw IoError(kStage, where + ": cannot create the table: " + capture.message());
    LayerGuard guard(dataset, GDALDatasetGetLayerCount(dataset) - 1);
    struct Column {
        const char* name;
        OGRFieldType type;
        int width;
        OGRFieldSubType subtype;
    };
    constexpr Column columns[] = {
        {"f_table_catalog", OFTString, 256, OFSTNone},
        {"f_table_schema", OFTString, 256, OFSTNone},
        {"f_table_name", OFTString, 256, OFSTNone},
        {"f_geometry_column", OFTString, 256, OFSTNone},
        {"styleName", OFTString, 30, OFSTNone},
        {"styleQML", OFTString, 0, OFSTNone},
        {"styleSLD", OFTString, 0, OFSTNone},
        {"useAsDefault", OFTInteger, 0, OFSTBoolean},
        {"description", OFTString, 0, OFSTNone},
        {"owner", OFTString, 30, OFSTNone},
        {"ui", OFTString, 30, OFSTNone},
        {"update_time", OFTDateTime, 0, OFSTNone},
    };
    for (const Column& column : columns) {
        const detail::FieldDefnPtr definition(OGR_Fld_Create(column.name, column.type));
        OGR_Fld_SetWidth(definition.get(), column.width);
        OGR_Fld_SetSubType(definition.get(), column.subtype);
        if (column.type == OFTDateTime) OGR_Fld_SetDefault(definition.get(), "CURRENT_TIMESTAMP");
        if (OGR_L_CreateField(layer, definition.get(), TRUE) != OGRERR_NONE)
            throw IoError(kStage, where + ", field '" + column.name + "': cannot create it: " + capture.message());
    }

    if (GDALDatasetStartTransaction(dataset, FALSE) != OGRERR_NONE)
        throw IoError(kStage, where + ": cannot start a transaction: " + capture.message());
    guard.transaction_started();
    const detail::FeaturePtr feature(OGR_F_Create(OGR_L_GetLayerDefn(layer)));
    if (!feature) throw InternalError(kStage, where + ": cannot allocate a feature");
    for (std::size_t i = 0; i < styles.size(); ++i) {
        const LayerStyle& style = styles[i];
        OGR_F_SetFID(feature.get(), OGRNullFID);
        OGR_F_SetFieldString(feature.get(), 0, "");
        OGR_F_SetFieldString(feature.get(), 1, "");
        OGR_F_SetFieldString(feature.get(), 2, style.layer.c_str());
        OGR_F_SetFieldString(feature.get(), 3, geometry_columns[i].c_str());
        OGR_F_SetFieldString(feature.get(), 4, style.name.c_str());
        OGR_F_SetFieldString(feature.get(), 5, style.qml.c_str());
        OGR_F_SetFieldString(feature.get(), 6, "");
        OGR_F_SetFieldInteger(feature.get(), 7, style.use_as_default ? 1 : 0);
        OGR_F_SetFieldString(feature.get(), 8, style.description.c_str());
        OGR_F_SetFieldString(feature.get(), 9, "");
        OGR_F_SetFieldNull(feature.get(), 10);
        OGR_F_UnsetField(feature.get(), 11);  // the column's default: the time of writing
        if (OGR_L_CreateFeature(layer, feature.get()) != OGRERR_NONE)
            throw IoError(kStage,
                          where + ", style of layer '" + style.layer + "': cannot write it: " + capture.message());
    }
    if (GDALDatasetCommitTransaction(dataset) != OGRERR_NONE)
        throw IoError(kStage, where + ": cannot commit the transaction: " + capture.message());
    guard.transaction_ended();
    if (capture.has_error()) throw IoError(kStage, where + ": " + capture.message());
    guard.release();
    layers_.emplace_back(kTable);
}

void GeoPackageWriter::close() {
    if (committed_ || !dataset_) throw InternalError(kStage, "'" + path_ + "': closed twice");
    detail::GdalErrorCapture capture;
    dataset_.reset();  // GDALClose: flushes, closes SQLite
    if (capture.has_error())
        throw IoError(kStage, "cannot write '" + path_ + "' (temporary file '" + output_->temp_path() +
                                  "'): " + capture.message());
    detail::write_layer_contents(output_->temp_path(), contents_);
    contents_.clear();
    detail::write_spatial_indexes(output_->temp_path(), spatial_indexes_);
    spatial_indexes_.clear();
}

void GeoPackageWriter::commit() {
    close();
    output_->commit();
    committed_ = true;
}

}  // namespace civgrid::io
