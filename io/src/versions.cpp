#include <civgrid/io/versions.hpp>

#include <gdal.h>
#include <proj.h>

namespace civgrid::io {

std::string gdal_version() {
    return GDALVersionInfo("RELEASE_NAME");
}

std::string proj_version() {
    return proj_info().version;
}

}  // namespace civgrid::io
