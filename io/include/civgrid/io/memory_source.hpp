// Layers that live in memory (Python's GeoDataFrames) as sources read_layer opens like any file:
// a GeoPackage in GDAL's in-memory file system (/vsimem/). Every reader, CRS rule and error
// message then works on them exactly as on files.
#pragma once

#include <civgrid/io/layer.hpp>

#include <string>

namespace civgrid::io {

/// One layer in /vsimem/, removed when the MemorySource is destroyed. Feature i gets feature id i,
/// so errors name the row of the original table.
class MemorySource {
public:
    /// `data.geometries` are WKB in `crs` (EPSG code, WKT or PROJ string; empty: no CRS), of any
    /// geometry type (`data.geometry_kind` is not used, but must not be none: attribute tables are
    /// not supported). Throws ConfigError for an invalid CRS or a layer without geometry,
    /// InputError for invalid WKB (naming the row), IoError when GDAL cannot write.
    MemorySource(const LayerData& data, const std::string& crs);
    ~MemorySource();
    MemorySource(const MemorySource&) = delete;
    MemorySource& operator=(const MemorySource&) = delete;

    /// The path and layer to give read_layer (or a LayerSource).
    [[nodiscard]] const LayerSpec& spec() const noexcept { return spec_; }

private:
    LayerSpec spec_;
};

}  // namespace civgrid::io
