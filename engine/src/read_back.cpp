#include "read_back.hpp"

#include "values.hpp"

#include <civgrid/algorithms/geos.hpp>
#include <civgrid/error.hpp>

#include <cmath>
#include <optional>
#include <string>

namespace civgrid::engine::read_back {

std::string where(const io::FeatureTable& table, std::size_t row) {
    return "'" + table.source + "', layer '" + table.layer + "', feature " + std::to_string(table.fids[row]);
}

int required_field(const io::FeatureTable& table, std::string_view field, const char* stage) {
    const int index = table.field_index(field);
    if (index < 0)
        throw InputError(stage, "'" + table.source + "', layer '" + table.layer + "': no field '" + std::string(field) +
                                    "': not a civgrid output, or written by another version");
    return index;
}

namespace {

std::string shown(const FieldValue& value) {
    if (std::holds_alternative<std::monostate>(value)) return "NULL";
    const std::string text = as_text(value);
    return "'" + (text.size() > 40 ? text.substr(0, 40) + "..." : text) + "'";
}

std::string field_name(const io::FeatureTable& table, int field) {
    return table.fields[static_cast<std::size_t>(field)].name;
}

}  // namespace

std::int64_t count_at(const io::FeatureTable& table, std::size_t row, int field, const char* stage) {
    const FieldValue& value = table.rows[row][static_cast<std::size_t>(field)];
    const std::optional<std::int64_t> count = as_integer(value);
    if (!count || *count < 0 || *count > kMaxHouseholds)
        throw InputError(stage, where(table, row) + ", field '" + field_name(table, field) + "': " + shown(value) +
                                    " is not a count from 0 to " + std::to_string(kMaxHouseholds));
    return *count;
}

double target_at(const io::FeatureTable& table, std::size_t row, int field, const char* stage) {
    if (field < 0) return 0.0;
    const FieldValue& value = table.rows[row][static_cast<std::size_t>(field)];
    if (std::holds_alternative<std::monostate>(value)) return 0.0;
    const std::optional<double> target = as_number(value);
    if (!target || *target < 0 || *target > static_cast<double>(kMaxHouseholds))
        throw InputError(stage, where(table, row) + ", field '" + field_name(table, field) + "': " + shown(value) +
                                    " is not a household target from 0 to " + std::to_string(kMaxHouseholds));
    return *target;
}

std::optional<double> distance_at(const io::FeatureTable& table, std::size_t row, int field, const char* stage) {
    const FieldValue& value = table.rows[row][static_cast<std::size_t>(field)];
    if (std::holds_alternative<std::monostate>(value)) return std::nullopt;
    const std::optional<double> metres = as_number(value);
    if (!metres || *metres < 0 || *metres > kMaxAbsCoordinate)
        throw InputError(stage, where(table, row) + ", field '" + field_name(table, field) + "': " + shown(value) +
                                    " is not a distance in metres from 0 to 1e9");
    return metres;
}

void check_geometries(const io::FeatureTable& table, Shape shape, bool allow_null, const char* stage) {
    const geos::Context context;
    for (std::size_t row = 0; row < table.size(); ++row) {
        const Wkb& wkb = table.geometries[row];
        if (wkb.empty()) {
            if (allow_null) continue;
            throw InputError(stage, where(table, row) + ": no geometry (NULL, empty, or dropped as unreadable)");
        }
        const geos::Geom geometry = geos::from_wkb_nullable(context, wkb);
        if (!geometry) throw InputError(stage, where(table, row) + ": the geometry cannot be read");
        if (geos::is_empty(context, geometry.get())) {
            if (allow_null) continue;
            throw InputError(stage, where(table, row) + ": the geometry is empty");
        }
        const int type = geos::type_id(context, geometry.get());
        if (shape != Shape::any && type != GEOS_POLYGON && type != GEOS_MULTIPOLYGON)
            throw InputError(stage, where(table, row) + ": a " + geos::type_name(context, geometry.get()) +
                                        " where a Polygon or MultiPolygon belongs");
        const std::optional<geos::Envelope> box = geos::envelope_if_any(context, geometry.get());
        if (!box || !(std::abs(box->min_x) <= kMaxAbsCoordinate && std::abs(box->max_x) <= kMaxAbsCoordinate &&
                      std::abs(box->min_y) <= kMaxAbsCoordinate && std::abs(box->max_y) <= kMaxAbsCoordinate))
            throw InputError(stage, where(table, row) + ": coordinates beyond +-1e9 (or not numbers): corrupt");
        if (shape == Shape::valid_polygons)
            if (const auto why = geos::invalidity(context, geometry.get()))
                throw InputError(stage, where(table, row) + ": invalid polygon (" + *why + ")");
    }
}

}  // namespace civgrid::engine::read_back
