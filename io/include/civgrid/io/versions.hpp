// Versions of the format libraries, for run_info and `civgrid --version`.
#pragma once

#include <string>

namespace civgrid::io {

[[nodiscard]] std::string gdal_version();
[[nodiscard]] std::string proj_version();

}  // namespace civgrid::io
