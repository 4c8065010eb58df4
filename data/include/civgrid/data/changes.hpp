// Changes to a generated city between two partition runs, for reruns (civgrid repartition) in
// tests and benchmarks: the four scenarios planners meet. Each reports what it directly affects,
// the floor any rerun's churn is measured against.
#pragma once

#include <civgrid/data/synth.hpp>

#include <cstdint>
#include <string>

namespace civgrid::data {

enum class CityChange {
    households,  ///< 1 % of residential buildings' households change by +-30 %
    estate,      ///< a new estate of 3,000 households (new buildings, new ids) inside one community
    demolition,  ///< every building within 120 m of a random building is removed
    boundary,    ///< a strip about 80 m wide moves from one community to a neighbour in the same street
};

/// "households", "estate", "demolition" or "boundary"; ConfigError otherwise.
[[nodiscard]] CityChange parse_change(const std::string& name);

struct ChangeReport {
    std::string description;
    std::int64_t buildings_affected = 0;   ///< changed, new, removed, or in the moved strip
    std::int64_t households_affected = 0;  ///< their households (the larger of before and after)
};

/// Applies the change to `city` (same seed, same change). Throws InputError when the city offers
/// no place for it (no neighbouring communities in one street, say).
ChangeReport apply_change(SynthCity& city, CityChange change, std::uint64_t seed);

}  // namespace civgrid::data
