#pragma once

namespace civgrid::engine {
inline constexpr const char* kVersion = "0.1.0";
}  // namespace civgrid::engine
