// Internal: SQLite handles owned, and SQL identifiers quoted, for the places io/ talks to SQLite
// itself (the GeoPackage writer's rows and spatial indexes, the direct read, the mistyped-value scan).
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>
#include <string_view>

namespace civgrid::io::detail {

struct SqliteCloser {
    void operator()(sqlite3* db) const noexcept { sqlite3_close(db); }
};
struct SqliteFinalizer {
    void operator()(sqlite3_stmt* statement) const noexcept { sqlite3_finalize(statement); }
};
using SqliteDatabase = std::unique_ptr<sqlite3, SqliteCloser>;
using SqliteStatement = std::unique_ptr<sqlite3_stmt, SqliteFinalizer>;

/// `identifier` as an SQL name: in double quotes, a double quote inside doubled.
inline std::string quoted_identifier(std::string_view identifier) {
    std::string out = "\"";
    for (const char c : identifier) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + '"';
}

}  // namespace civgrid::io::detail
