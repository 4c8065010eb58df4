// A generated city written to a test's folder: for the suites that link civgrid::data.
#pragma once

#include <civgrid/data/synth.hpp>

#include "test_support.hpp"

#include <cstdint>
#include <string>

namespace civgrid::test {

/// `civgrid synth --households H --seed S` as city-S.gpkg in `dir`; returns its path.
inline std::string synth_city_file(const TempDir& dir, std::int64_t households, std::uint64_t seed) {
    data::SynthConfig config;
    config.households = households;
    config.seed = seed;
    const std::string path = dir.file("city-" + std::to_string(seed) + ".gpkg");
    data::write_city(data::generate_city(config), path);
    return path;
}

}  // namespace civgrid::test
