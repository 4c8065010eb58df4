#include "columns.hpp"

#include <civgrid/error.hpp>

#include <cmath>
#include <cstdint>

namespace civgrid::python {

namespace {

constexpr const char* kStage = "python.columns";

using Int64Array = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;
using RealArray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using BoolArray = py::array_t<bool, py::array::c_style | py::array::forcecast>;
using ByteArray = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>;

// Text of a value written into a text column (a number where the column is text).
std::string text_of(const FieldValue& value) {
    if (const auto* text = std::get_if<std::string>(&value)) return *text;
    if (const auto* integer = std::get_if<std::int64_t>(&value)) return std::to_string(*integer);
    if (const auto* real = std::get_if<double>(&value)) return py::str(py::float_(*real));
    return {};
}

}  // namespace

io::LayerData layer_from_python(const std::string& name, const py::handle& wkb, const py::handle& offsets,
                                const py::list& columns) {
    io::LayerData layer;
    layer.name = name;
    layer.geometry_kind = io::GeometryKind::polygon;  // any type goes into a MemorySource
    std::size_t rows = 0;
    {
        const auto bytes = py::cast<ByteArray>(wkb);
        const auto ends = py::cast<Int64Array>(offsets);
        if (ends.ndim() != 1 || ends.size() < 1)
            throw InternalError(kStage, name + ": WKB offsets must be a 1-D array of n + 1 values");
        rows = static_cast<std::size_t>(ends.size() - 1);
        const std::uint8_t* data = bytes.data();
        const auto* end = ends.data();
        layer.geometries.resize(rows);
        for (std::size_t i = 0; i < rows; ++i) {
            const std::int64_t begin = end[i], stop = end[i + 1];
            if (begin < 0 || stop < begin || stop > bytes.size())
                throw InternalError(kStage, name + ": WKB offsets out of range at row " + std::to_string(i));
            layer.geometries[i].assign(data + begin, data + stop);
        }
    }
    layer.rows.clear();
    for (const py::handle item : columns) {
        const auto column = py::cast<py::tuple>(item);
        if (column.size() != 4) throw InternalError(kStage, name + ": a column is (name, kind, values, mask)");
        const auto field_name = py::cast<std::string>(column[0]);
        const auto kind = py::cast<std::string>(column[1]);
        const py::handle values = column[2];
        const std::size_t count = py::len(values);
        if (count != rows)
            throw InternalError(kStage, name + ", column '" + field_name + "': " + std::to_string(count) +
                                            " values for " + std::to_string(rows) + " rows");
        if (layer.rows.empty()) layer.rows.resize(rows);
        std::vector<bool> null(rows, false);
        if (!column[3].is_none()) {
            const auto mask = py::cast<BoolArray>(column[3]);
            if (static_cast<std::size_t>(mask.size()) != rows)
                throw InternalError(kStage, name + ", column '" + field_name + "': mask of the wrong length");
            for (std::size_t i = 0; i < rows; ++i) null[i] = mask.data()[i];
        }
        if (kind == "integer" || kind == "boolean") {
            layer.fields.push_back({field_name, FieldType::integer, kind == "boolean"});
            const auto array = py::cast<Int64Array>(values);
            for (std::size_t i = 0; i < rows; ++i)
                layer.rows[i].push_back(null[i] ? FieldValue{} : FieldValue{array.data()[i]});
        } else if (kind == "real") {
            layer.fields.push_back({field_name, FieldType::real});
            const auto array = py::cast<RealArray>(values);
            for (std::size_t i = 0; i < rows; ++i) {
                const double value = array.data()[i];
                layer.rows[i].push_back(null[i] || std::isnan(value) ? FieldValue{} : FieldValue{value});
            }
        } else if (kind == "string") {
            layer.fields.push_back({field_name, FieldType::string});
            const auto sequence = py::reinterpret_borrow<py::sequence>(values);
            for (std::size_t i = 0; i < rows; ++i) {
                const py::object value = sequence[i];
                layer.rows[i].push_back(null[i] || value.is_none() ? FieldValue{}
                                                                   : FieldValue{py::cast<std::string>(py::str(value))});
            }
        } else {
            throw InternalError(kStage, name + ", column '" + field_name + "': unknown kind '" + kind + "'");
        }
    }
    if (layer.rows.size() < rows) layer.rows.resize(rows);  // no attribute columns at all
    return layer;
}

py::dict layer_to_python(const std::string& name, const std::string& crs, const std::vector<Field>& fields,
                         const std::vector<Wkb>* geometries, const std::vector<std::vector<FieldValue>>& rows) {
    py::dict layer;
    layer["name"] = name;
    layer["crs"] = crs;
    if (geometries != nullptr) {
        py::list wkb(geometries->size());
        for (std::size_t i = 0; i < geometries->size(); ++i) {
            const Wkb& g = (*geometries)[i];
            if (g.empty())
                wkb[i] = py::none();
            else
                wkb[i] = py::bytes(reinterpret_cast<const char*>(g.data()), g.size());
        }
        layer["geometry"] = std::move(wkb);
    } else {
        layer["geometry"] = py::none();
    }
    py::list columns;
    const auto n = static_cast<py::ssize_t>(rows.size());
    for (std::size_t j = 0; j < fields.size(); ++j) {
        BoolArray mask(n);
        bool* is_null = mask.mutable_data();
        for (std::size_t i = 0; i < rows.size(); ++i) is_null[i] = std::holds_alternative<std::monostate>(rows[i][j]);
        switch (fields[j].type) {
            case FieldType::integer: {
                Int64Array values(n);
                std::int64_t* out = values.mutable_data();
                for (std::size_t i = 0; i < rows.size(); ++i) {
                    const FieldValue& v = rows[i][j];
                    out[i] = std::holds_alternative<std::int64_t>(v) ? std::get<std::int64_t>(v) : 0;
                }
                columns.append(py::make_tuple(fields[j].name, "integer", values, mask));
                break;
            }
            case FieldType::real: {
                RealArray values(n);
                double* out = values.mutable_data();
                for (std::size_t i = 0; i < rows.size(); ++i) {
                    const FieldValue& v = rows[i][j];
                    out[i] = std::holds_alternative<double>(v)         ? std::get<double>(v)
                             : std::holds_alternative<std::int64_t>(v) ? static_cast<double>(std::get<std::int64_t>(v))
                                                                       : std::nan("");
                }
                columns.append(py::make_tuple(fields[j].name, "real", values, mask));
                break;
            }
            case FieldType::string: {
                py::list values(rows.size());
                for (std::size_t i = 0; i < rows.size(); ++i) {
                    if (is_null[i])
                        values[i] = py::none();
                    else
                        values[i] = py::str(text_of(rows[i][j]));
                }
                columns.append(py::make_tuple(fields[j].name, "string", values, mask));
                break;
            }
        }
    }
    layer["columns"] = std::move(columns);
    return layer;
}

}  // namespace civgrid::python
