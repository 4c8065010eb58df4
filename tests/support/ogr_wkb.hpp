// For the io tests (which link GDAL): ISO WKB of a WKT, built with OGR.
#pragma once

#include <civgrid/types.hpp>

#include <gtest/gtest.h>
#include <ogr_api.h>

#include <string>

namespace civgrid::test {

/// ISO WKB (little endian) of a WKT, built with OGR; a failure and empty WKB for bad WKT.
inline Wkb wkb_of(const std::string& wkt) {
    OGRGeometryH geometry = nullptr;
    char* text = const_cast<char*>(wkt.c_str());
    if (OGR_G_CreateFromWkt(&text, nullptr, &geometry) != OGRERR_NONE) {
        ADD_FAILURE() << "bad WKT " << wkt;
        return {};
    }
    Wkb wkb(static_cast<std::size_t>(OGR_G_WkbSize(geometry)));
    OGR_G_ExportToIsoWkb(geometry, wkbNDR, wkb.data());
    OGR_G_DestroyGeometry(geometry);
    return wkb;
}

}  // namespace civgrid::test
