"""Layers across the boundary with the C++ engine, column by column.

Geometry goes in as one contiguous WKB buffer with offsets and comes out as an array of WKB
``bytes`` that ``GeoSeries.from_wkb`` reads in one call; attributes travel as NumPy arrays
(integers and reals, with a null mask) or lists of ``str`` (text). No Python object per feature
crosses into C++.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

import geopandas as gpd
import numpy as np
import pandas as pd

from . import _core

Column = Tuple[str, str, Any, Optional[np.ndarray]]


def frame_from_layer(layer: dict) -> pd.DataFrame:
    """A GeoDataFrame (a DataFrame for an attribute table) from a layer the engine returned."""
    data = {}
    for name, kind, values, mask in layer["columns"]:
        if kind == "integer":
            data[name] = pd.arrays.IntegerArray(values, mask) if mask.any() else values
        elif kind == "real":
            data[name] = values  # nulls are NaN
        else:
            data[name] = pd.Series(values, dtype=object)
    if layer["geometry"] is None:
        return pd.DataFrame(data)
    crs = layer["crs"] or None
    geometry = gpd.GeoSeries.from_wkb(np.array(layer["geometry"], dtype=object), crs=crs)
    frame = gpd.GeoDataFrame(data, geometry=geometry, crs=crs)
    return frame


def _column(name: str, series: pd.Series) -> Column:
    mask = series.isna().to_numpy(dtype=bool)
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return name, "boolean", series.fillna(False).to_numpy(dtype=np.int64), mask
    if pd.api.types.is_integer_dtype(dtype):
        return name, "integer", series.fillna(0).to_numpy(dtype=np.int64), mask
    if pd.api.types.is_float_dtype(dtype):
        return name, "real", series.to_numpy(dtype=np.float64, na_value=np.nan), mask
    text = series.astype(object).where(~mask, None)
    return name, "string", [None if value is None else str(value) for value in text.tolist()], mask


def memory_source(frame: gpd.GeoDataFrame, name: str) -> "_core.MemorySource":
    """Hands a GeoDataFrame to the engine as an in-memory layer it reads like a file.

    Feature ids are row positions, so an error's "feature N" is ``frame.iloc[N]``.
    """
    if frame.columns.has_duplicates:
        repeated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise _core.ConfigError(f"python.input: GeoDataFrame '{name}': columns {', '.join(map(repr, repeated))} "
                                "appear more than once; rename or drop the copies")
    columns: List[Column] = []
    geometry_name = frame.geometry.name
    for column in frame.columns:
        if column == geometry_name:
            continue
        columns.append(_column(str(column), frame[column]))
    crs = frame.crs.to_wkt() if frame.crs is not None else ""
    wkb = frame.geometry.to_wkb().to_numpy(dtype=object)
    lengths = np.fromiter((0 if item is None else len(item) for item in wkb), dtype=np.int64, count=len(wkb))
    offsets = np.zeros(len(frame) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    buffer = np.frombuffer(b"".join(item for item in wkb if item is not None), dtype=np.uint8)
    return _core.MemorySource(name, crs, buffer, offsets, columns)
