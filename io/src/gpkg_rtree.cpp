// The GeoPackage spatial index written in bulk. GDAL 3.6 fills a deferred index at close with one
// R*Tree insertion per row (3 of the 4.3 s of writing 400,000 buildings); a packed tree written
// straight into the R*Tree's tables takes a fraction of that and answers the same queries.
#include "gpkg_rtree.hpp"
#include "sqlite_handles.hpp"

#include <civgrid/error.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>

namespace civgrid::io::detail {
namespace {

constexpr const char* kStage = "io.write";
constexpr int kCellBytes = 8 + 4 * 4;  // id, then min x, max x, min y, max y as 32-bit floats
constexpr int kNodeHeaderBytes = 4;    // depth (root only), cell count

// rtree.c's rounding of an inserted row's coordinates: a minimum never rounds up, a maximum never
// down, so the float box contains the double one.
constexpr double kRoundTowards = 1.0 - 1.0 / 8388608.0;
constexpr double kRoundAway = 1.0 + 1.0 / 8388608.0;
float round_down(double d) {
    float f = static_cast<float>(d);
    if (f > d) f = static_cast<float>(d * (d < 0 ? kRoundAway : kRoundTowards));
    return f;
}
float round_up(double d) {
    float f = static_cast<float>(d);
    if (f < d) f = static_cast<float>(d * (d < 0 ? kRoundTowards : kRoundAway));
    return f;
}

struct Cell {
    std::int64_t id = 0;  // an entry's fid, or a child's index in the level below
    float min_x = 0, max_x = 0, min_y = 0, max_y = 0;
    [[nodiscard]] double centre_x() const { return (static_cast<double>(min_x) + max_x) / 2; }
    [[nodiscard]] double centre_y() const { return (static_cast<double>(min_y) + max_y) / 2; }
};

Cell bounds_of(const std::vector<Cell>& cells, std::int64_t id) {
    Cell box{id, cells.front().min_x, cells.front().max_x, cells.front().min_y, cells.front().max_y};
    for (const Cell& c : cells) {
        box.min_x = std::min(box.min_x, c.min_x);
        box.max_x = std::max(box.max_x, c.max_x);
        box.min_y = std::min(box.min_y, c.min_y);
        box.max_y = std::max(box.max_y, c.max_y);
    }
    return box;
}

// Sort-Tile-Recursive: vertical slices by centre x, each cut into nodes by centre y. Ties fall to
// the id, so the grouping does not depend on the input's order.
std::vector<std::vector<Cell>> tile(std::vector<Cell> cells, std::size_t capacity) {
    const auto by_x = [](const Cell& a, const Cell& b) {
        return a.centre_x() != b.centre_x() ? a.centre_x() < b.centre_x() : a.id < b.id;
    };
    const auto by_y = [](const Cell& a, const Cell& b) {
        return a.centre_y() != b.centre_y() ? a.centre_y() < b.centre_y() : a.id < b.id;
    };
    std::sort(cells.begin(), cells.end(), by_x);
    const std::size_t node_count = (cells.size() + capacity - 1) / capacity;
    const auto slices = static_cast<std::size_t>(std::ceil(std::sqrt(static_cast<double>(node_count))));
    const std::size_t per_slice = (node_count + slices - 1) / slices * capacity;
    std::vector<std::vector<Cell>> nodes;
    nodes.reserve(node_count + slices);
    for (std::size_t begin = 0; begin < cells.size(); begin += per_slice) {
        const auto first = cells.begin() + static_cast<std::ptrdiff_t>(begin);
        const auto last = cells.begin() + static_cast<std::ptrdiff_t>(std::min(cells.size(), begin + per_slice));
        std::sort(first, last, by_y);
        for (auto it = first; it < last;
             it += static_cast<std::ptrdiff_t>(std::min<std::size_t>(capacity, static_cast<std::size_t>(last - it))))
            nodes.emplace_back(it, it + static_cast<std::ptrdiff_t>(
                                            std::min<std::size_t>(capacity, static_cast<std::size_t>(last - it))));
    }
    return nodes;
}

void put_u16(unsigned char* at, unsigned value) {
    at[0] = static_cast<unsigned char>(value >> 8);
    at[1] = static_cast<unsigned char>(value);
}
void put_u32(unsigned char* at, std::uint32_t value) {
    for (int i = 0; i < 4; ++i) at[i] = static_cast<unsigned char>(value >> (24 - 8 * i));
}
void put_i64(unsigned char* at, std::int64_t value) {
    const auto bits = static_cast<std::uint64_t>(value);
    for (int i = 0; i < 8; ++i) at[i] = static_cast<unsigned char>(bits >> (56 - 8 * i));
}

std::vector<unsigned char> node_blob(const std::vector<Cell>& cells, int node_bytes, int depth,
                                     const std::vector<std::int64_t>* child_numbers) {
    std::vector<unsigned char> blob(static_cast<std::size_t>(node_bytes), 0);
    put_u16(blob.data(), static_cast<unsigned>(depth));
    put_u16(blob.data() + 2, static_cast<unsigned>(cells.size()));
    unsigned char* at = blob.data() + kNodeHeaderBytes;
    for (const Cell& c : cells) {
        put_i64(at, child_numbers != nullptr ? (*child_numbers)[static_cast<std::size_t>(c.id)] : c.id);
        put_u32(at + 8, std::bit_cast<std::uint32_t>(c.min_x));
        put_u32(at + 12, std::bit_cast<std::uint32_t>(c.max_x));
        put_u32(at + 16, std::bit_cast<std::uint32_t>(c.min_y));
        put_u32(at + 20, std::bit_cast<std::uint32_t>(c.max_y));
        at += kCellBytes;
    }
    return blob;
}

// SQLite handles owned, errors as IoError naming the file.
using Database = SqliteDatabase;
using Statement = SqliteStatement;

class Writer {
public:
    explicit Writer(const std::string& path) : path_(path) {
        sqlite3* db = nullptr;
        const int status = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
        owned_.reset(db);
        db_ = db;
        if (status != SQLITE_OK) fail("cannot open it to write the spatial indexes");
    }
    /// Over a connection the caller owns (GDAL's, while it writes the file).
    Writer(sqlite3* db, std::string path) : path_(std::move(path)), db_(db) {}
    void exec(const std::string& sql) {
        if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) fail(sql);
    }
    Statement prepare(const std::string& sql) {
        sqlite3_stmt* statement = nullptr;
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) fail(sql);
        return Statement(statement);
    }
    void step_done(sqlite3_stmt* statement, const char* what) {
        if (sqlite3_step(statement) != SQLITE_DONE) fail(what);
        sqlite3_reset(statement);
    }
    [[noreturn]] void fail(const std::string& what) const {
        throw IoError(kStage, "cannot finish '" + path_ + "' (spatial indexes, counts, extents): " + what + ": " +
                                  (db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory"));
    }
    sqlite3* get() const noexcept { return db_; }

private:
    std::string path_;
    Database owned_;  // empty over a borrowed connection
    sqlite3* db_ = nullptr;
};

// The triggers GDAL 3.6's GeoPackage driver creates with an index, word for word, so editing the
// layer later (in QGIS, GDAL) keeps the index up to date.
std::vector<std::string> trigger_sql(const std::string& rtree, const std::string& table, const std::string& geometry,
                                     const std::string& fid) {
    const std::string r = quoted_identifier(rtree), t = quoted_identifier(table), g = quoted_identifier(geometry),
                      f = quoted_identifier(fid);
    const std::string insert_new = "INSERT OR REPLACE INTO " + r + " VALUES (NEW." + f + ",ST_MinX(NEW." + g +
                                   "), ST_MaxX(NEW." + g + "),ST_MinY(NEW." + g + "), ST_MaxY(NEW." + g + "));";
    return {
        "CREATE TRIGGER " + quoted_identifier(rtree + "_insert") + " AFTER INSERT ON " + t + " WHEN (new." + g +
            " NOT NULL AND NOT ST_IsEmpty(NEW." + g + ")) BEGIN " + insert_new + " END",
        "CREATE TRIGGER " + quoted_identifier(rtree + "_update1") + " AFTER UPDATE OF " + g + " ON " + t +
            " WHEN OLD." + f + " = NEW." + f + " AND (NEW." + g + " NOTNULL AND NOT ST_IsEmpty(NEW." + g + ")) BEGIN " +
            insert_new + " END",
        "CREATE TRIGGER " + quoted_identifier(rtree + "_update2") + " AFTER UPDATE OF " + g + " ON " + t +
            " WHEN OLD." + f + " = NEW." + f + " AND (NEW." + g + " ISNULL OR ST_IsEmpty(NEW." + g +
            ")) BEGIN DELETE FROM " + r + " WHERE id = OLD." + f + "; END",
        "CREATE TRIGGER " + quoted_identifier(rtree + "_update3") + " AFTER UPDATE ON " + t + " WHEN OLD." + f +
            " != NEW." + f + " AND (NEW." + g + " NOTNULL AND NOT ST_IsEmpty(NEW." + g + ")) BEGIN DELETE FROM " + r +
            " WHERE id = OLD." + f + "; " + insert_new + " END",
        "CREATE TRIGGER " + quoted_identifier(rtree + "_update4") + " AFTER UPDATE ON " + t + " WHEN OLD." + f +
            " != NEW." + f + " AND (NEW." + g + " ISNULL OR ST_IsEmpty(NEW." + g + ")) BEGIN DELETE FROM " + r +
            " WHERE id IN (OLD." + f + ", NEW." + f + "); END",
        "CREATE TRIGGER " + quoted_identifier(rtree + "_delete") + " AFTER DELETE ON " + t + " WHEN old." + g +
            " NOT NULL BEGIN DELETE FROM " + r + " WHERE id = OLD." + f + "; END",
    };
}

int node_bits_of(const PackedRTree& tree) {
    return static_cast<int>(std::bit_width(static_cast<std::uint64_t>(tree.nodes.size())));
}

// The rows of an R*Tree's _rowid or _parent table as JSON arrays of (key << node_bits | value),
// for one statement each over json_each, at a third of the time of a statement per row; nothing
// when a key is too large to pack.
std::optional<std::vector<std::string>> packed_json(const std::vector<std::pair<std::int64_t, std::int64_t>>& pairs,
                                                    int node_bits) {
    const bool packable = std::all_of(pairs.begin(), pairs.end(), [&](const auto& pair) {
        return pair.first >= 0 &&
               static_cast<int>(std::bit_width(static_cast<std::uint64_t>(pair.first))) + node_bits <= 62;
    });
    if (!packable) return std::nullopt;
    constexpr std::size_t kPairsPerStatement = std::size_t{1} << 20;  // a JSON text of at most ~20 MB
    std::vector<std::string> texts;
    char number[24];
    for (std::size_t first = 0; first < pairs.size(); first += kPairsPerStatement) {
        std::string& json = texts.emplace_back("[");
        for (std::size_t i = first; i < std::min(pairs.size(), first + kPairsPerStatement); ++i) {
            const auto packed =
                static_cast<std::uint64_t>(pairs[i].first) << node_bits | static_cast<std::uint64_t>(pairs[i].second);
            json.append(number, std::to_chars(number, number + sizeof number, packed).ptr);
            json += ',';
        }
        json.back() = ']';
    }
    return texts;
}

PreparedIndex prepare_index(std::vector<RTreeEntry> entries, int node_bytes) {
    PreparedIndex prepared;
    prepared.tree = pack_rtree(std::move(entries), node_bytes);
    const int node_bits = node_bits_of(prepared.tree);
    prepared.entry_leaf_json = packed_json(prepared.tree.entry_leaf, node_bits);
    prepared.node_parent_json = packed_json(prepared.tree.node_parent, node_bits);
    return prepared;
}

void write_layer_index(Writer& db, SpatialIndexRows& layer) {
    const std::string rtree = "rtree_" + layer.table + "_" + layer.geometry_column;
    db.exec("CREATE VIRTUAL TABLE " + quoted_identifier(rtree) + " USING rtree(id, minx, maxx, miny, maxy)");
    // The node size SQLite chose for this file's pages; the module reads it back from the root.
    int node_bytes = 0;
    {
        const Statement size =
            db.prepare("SELECT length(data) FROM " + quoted_identifier(rtree + "_node") + " WHERE nodeno = 1");
        if (sqlite3_step(size.get()) != SQLITE_ROW) db.fail("reading the R*Tree's root");
        node_bytes = sqlite3_column_int(size.get(), 0);
    }
    PreparedIndex prepared;
    if (layer.packing.valid()) {
        prepared = layer.packing.get();  // rethrows what the packing threw
        if (node_bytes != kUsualNodeBytes) prepared = prepare_index(layer.entries, node_bytes);
    } else {
        prepared = prepare_index(layer.entries, node_bytes);
    }
    const PackedRTree& tree = prepared.tree;
    db.exec("DELETE FROM " + quoted_identifier(rtree + "_node"));
    const Statement node = db.prepare("INSERT INTO " + quoted_identifier(rtree + "_node") + " VALUES (?, ?)");
    for (std::size_t n = 0; n < tree.nodes.size(); ++n) {
        sqlite3_bind_int64(node.get(), 1, static_cast<sqlite3_int64>(n + 1));
        sqlite3_bind_blob(node.get(), 2, tree.nodes[n].data(), static_cast<int>(tree.nodes[n].size()), SQLITE_STATIC);
        db.step_done(node.get(), "writing a node");
    }
    // A row per entry and per node (400,000 for a city's buildings): a statement per JSON text
    // (packed_json), else per row.
    const auto node_bits = node_bits_of(tree);
    const auto write_pairs = [&](const std::string& table, const auto& pairs,
                                 const std::optional<std::vector<std::string>>& json) {
        if (json) {
            const std::string mask = std::to_string((std::uint64_t{1} << node_bits) - 1);
            const Statement rows = db.prepare("INSERT INTO " + quoted_identifier(rtree + table) + " SELECT value >> " +
                                              std::to_string(node_bits) + ", value & " + mask + " FROM json_each(?)");
            for (const std::string& text : *json) {
                sqlite3_bind_text(rows.get(), 1, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
                db.step_done(rows.get(), "writing the R*Tree's tables");
            }
            return;
        }
        const Statement row = db.prepare("INSERT INTO " + quoted_identifier(rtree + table) + " VALUES (?, ?)");
        for (const auto& [key, value] : pairs) {
            sqlite3_bind_int64(row.get(), 1, key);
            sqlite3_bind_int64(row.get(), 2, value);
            db.step_done(row.get(), "writing the R*Tree's tables");
        }
    };
    write_pairs("_rowid", tree.entry_leaf, prepared.entry_leaf_json);
    write_pairs("_parent", tree.node_parent, prepared.node_parent_json);
    for (const std::string& trigger : trigger_sql(rtree, layer.table, layer.geometry_column, layer.fid_column))
        db.exec(trigger);
    const Statement extension = db.prepare(
        "INSERT INTO gpkg_extensions (table_name, column_name, extension_name, definition, scope) VALUES "
        "(?, ?, 'gpkg_rtree_index', 'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')");
    sqlite3_bind_text(extension.get(), 1, layer.table.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(extension.get(), 2, layer.geometry_column.c_str(), -1, SQLITE_TRANSIENT);
    db.step_done(extension.get(), "registering the index in gpkg_extensions");
}

}  // namespace

PackedRTree pack_rtree(std::vector<RTreeEntry> entries, int node_bytes) {
    const int capacity = (node_bytes - kNodeHeaderBytes) / kCellBytes;
    if (capacity < 2)
        throw InternalError(kStage, "an R*Tree node of " + std::to_string(node_bytes) + " bytes holds no two cells");
    std::vector<Cell> cells;
    cells.reserve(entries.size());
    for (const RTreeEntry& e : entries)
        cells.push_back({e.id, round_down(e.min_x), round_up(e.max_x), round_down(e.min_y), round_up(e.max_y)});
    entries = {};

    // Levels bottom-up, each a list of nodes; the last holds the root alone.
    std::vector<std::vector<std::vector<Cell>>> levels;
    levels.push_back(cells.empty() ? std::vector<std::vector<Cell>>(1) : tile(std::move(cells), capacity));
    while (levels.back().size() > 1) {
        std::vector<Cell> parents;
        parents.reserve(levels.back().size());
        for (std::size_t i = 0; i < levels.back().size(); ++i)
            parents.push_back(bounds_of(levels.back()[i], static_cast<std::int64_t>(i)));
        levels.push_back(tile(std::move(parents), capacity));
    }
    // Node numbers top-down: the root is node 1.
    std::vector<std::vector<std::int64_t>> numbers(levels.size());
    std::int64_t next = 1;
    for (std::size_t l = levels.size(); l-- > 0;)
        for (std::size_t i = 0; i < levels[l].size(); ++i) numbers[l].push_back(next++);

    PackedRTree tree;
    tree.nodes.resize(static_cast<std::size_t>(next - 1));
    const int depth = static_cast<int>(levels.size()) - 1;
    for (std::size_t l = 0; l < levels.size(); ++l) {
        const std::vector<std::int64_t>* children = l == 0 ? nullptr : &numbers[l - 1];
        for (std::size_t i = 0; i < levels[l].size(); ++i) {
            const std::int64_t number = numbers[l][i];
            const bool root = l + 1 == levels.size();
            tree.nodes[static_cast<std::size_t>(number - 1)] =
                node_blob(levels[l][i], node_bytes, root ? depth : 0, children);
            for (const Cell& c : levels[l][i]) {
                if (children == nullptr)
                    tree.entry_leaf.emplace_back(c.id, number);
                else
                    tree.node_parent.emplace_back((*children)[static_cast<std::size_t>(c.id)], number);
            }
        }
    }
    std::sort(tree.entry_leaf.begin(), tree.entry_leaf.end());
    std::sort(tree.node_parent.begin(), tree.node_parent.end());
    return tree;
}

void write_layer_contents(const std::string& path, const std::vector<LayerContents>& layers) {
    if (layers.empty()) return;
    Writer db(path);
    db.exec("BEGIN");
    const Statement count =
        db.prepare("UPDATE gpkg_ogr_contents SET feature_count = ? WHERE lower(table_name) = lower(?)");
    const Statement extent = db.prepare(
        "UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ? WHERE lower(table_name) = lower(?)");
    for (const LayerContents& layer : layers) {
        sqlite3_bind_int64(count.get(), 1, layer.feature_count);
        sqlite3_bind_text(count.get(), 2, layer.table.c_str(), -1, SQLITE_TRANSIENT);
        db.step_done(count.get(), "setting a layer's feature count");
        if (!layer.has_extent) continue;
        sqlite3_bind_double(extent.get(), 1, layer.min_x);
        sqlite3_bind_double(extent.get(), 2, layer.min_y);
        sqlite3_bind_double(extent.get(), 3, layer.max_x);
        sqlite3_bind_double(extent.get(), 4, layer.max_y);
        sqlite3_bind_text(extent.get(), 5, layer.table.c_str(), -1, SQLITE_TRANSIENT);
        db.step_done(extent.get(), "setting a layer's extent");
    }
    db.exec("COMMIT");
}

void start_packing(SpatialIndexRows& layer) {
    layer.packing =
        std::async(std::launch::async, [entries = layer.entries] { return prepare_index(entries, kUsualNodeBytes); });
}

// The gpkg_extensions table as GDAL creates it, when the file has none yet.
void create_extensions_table(Writer& db) {
    db.exec(
        "CREATE TABLE IF NOT EXISTS gpkg_extensions (table_name TEXT,column_name TEXT,extension_name TEXT NOT "
        "NULL,definition TEXT NOT NULL,scope TEXT NOT NULL,CONSTRAINT ge_tce UNIQUE (table_name, column_name, "
        "extension_name))");
}

void write_spatial_indexes(const std::string& path, std::vector<SpatialIndexRows>& layers) {
    if (layers.empty()) return;
    Writer db(path);
    db.exec("BEGIN");
    create_extensions_table(db);
    for (SpatialIndexRows& layer : layers) write_layer_index(db, layer);
    db.exec("COMMIT");
}

void write_spatial_indexes(sqlite3* connection, const std::string& path, std::vector<SpatialIndexRows>& layers) {
    if (layers.empty()) return;
    Writer db(connection, path);
    create_extensions_table(db);
    for (SpatialIndexRows& layer : layers) write_layer_index(db, layer);
}

}  // namespace civgrid::io::detail
