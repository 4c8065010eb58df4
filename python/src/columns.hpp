// Layers across the Python boundary, column by column: geometry as WKB (one contiguous buffer
// with offsets going in, an array of bytes objects coming out, which shapely.from_wkb takes as
// it is) and attributes as NumPy arrays with a null mask, or lists of str for text.
#pragma once

#include <civgrid/io/layer.hpp>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

namespace civgrid::python {

namespace py = pybind11;

/// A layer with geometry from Python: `wkb` (uint8) holds feature i's geometry in bytes offsets[i]..offsets[i+1]
/// (empty = null); `columns` is a list of (name, kind, values, mask or None) with kind "integer"
/// (int64 array), "real" (float64 array) or "string" (a sequence of str or None). Needs the GIL.
[[nodiscard]] io::LayerData layer_from_python(const std::string& name, const py::handle& wkb, const py::handle& offsets,
                                              const py::list& columns);

/// A layer to Python: {"name", "crs" (WKT or ""), "geometry" (list of bytes or None per feature;
/// None for an attribute table), "columns": [(name, kind, values, mask)]} with the kinds above;
/// integers and reals come as NumPy arrays, text as a list. Needs the GIL.
[[nodiscard]] py::dict layer_to_python(const std::string& name, const std::string& crs,
                                       const std::vector<Field>& fields, const std::vector<Wkb>* geometries,
                                       const std::vector<std::vector<FieldValue>>& rows);

}  // namespace civgrid::python
