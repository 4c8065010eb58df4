// Where a building goes once its parts are placed: shared by partition_city and reruns.
#pragma once

#include <civgrid/engine/pipeline.hpp>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace civgrid::engine {

/// Places building `b` from its parts (micro-grid index, households there): the micro-grid holding
/// most of it is its home (ties to the lower index), counted in that micro-grid and its grid; a
/// building in several keeps them all in building_split / building_split_households, by index.
inline void place_building(PartitionResult& result, std::size_t b, std::vector<std::pair<int, std::int64_t>> parts) {
    if (parts.empty()) return;
    std::sort(parts.begin(), parts.end());
    const auto main = std::max_element(parts.begin(), parts.end(), [](const auto& a, const auto& c) {
        return a.second < c.second || (a.second == c.second && a.first > c.first);
    });
    result.building_grid[b] = main->first;
    MicroGrid& home = result.micro_grids[static_cast<std::size_t>(main->first)];
    ++home.buildings;
    if (home.grid >= 0) ++result.grids[static_cast<std::size_t>(home.grid)].buildings;
    if (parts.size() < 2) return;
    std::string ids, households;
    for (const auto& [g, h] : parts) {
        ids += (ids.empty() ? "" : ";") + result.micro_grids[static_cast<std::size_t>(g)].id;
        households += (households.empty() ? "" : ";") + std::to_string(h);
    }
    result.building_split[b] = ids;
    result.building_split_households[b] = households;
}

}  // namespace civgrid::engine
