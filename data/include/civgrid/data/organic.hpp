// A second kind of test city, built unlike `generate_city` (issue 16): small communities
// (1,500-2,600 households) on a jittered grid of ~125 m blocks, a major road every few streets, a
// meandering river that cuts blocks and communities into slivers, parks, villages of scattered
// houses, and about 2 % towers of 20-300 households. Balance is judged on cities like these that
// civgrid was never tuned on: every seed gives a different one.
//
// Layers (the contract of synth.hpp, without railways, stations and workers):
//   districts, streets, communities   nested exactly (unions of whole blocks, shared vertices)
//   roads       LineString  road_id, class ("major" | "minor"), name   (every block edge)
//   rivers      Polygon     river_id, name                              (one, west to east)
//   buildings   Polygon     building_id, households, floors, units, kind
//                           (kind: tower | walk_up | village)
#pragma once

#include <civgrid/data/synth.hpp>

#include <cstdint>
#include <string>

namespace civgrid::data {

struct OrganicConfig {
    std::int64_t households = 100'000;  ///< approximate total households
    std::uint64_t seed = 1;
    std::string crs = "EPSG:4549";
    double origin_x = 480'000.0, origin_y = 3'540'000.0;
    double block_size = 125.0;                     ///< metres between streets, before jitter
    double jitter = 0.12;                          ///< lattice vertices move up to this share of a block
    std::int64_t community_min = 1'500;            ///< communities hold about this many households...
    std::int64_t community_max = 2'600;            ///< ...to this many (whole blocks: a few fall outside)
    int major_every_min = 3, major_every_max = 5;  ///< a major road every 3-5 streets
    bool river = true;
    double river_width = 45.0;
    double tower_share = 0.02;    ///< buildings that are towers of 20-300 households
    double park_share = 0.05;     ///< blocks left empty
    double village_share = 0.08;  ///< blocks of scattered houses of 1-3 households
};

/// Builds the city in memory (SynthSummary filled as for generate_city; `blocks` and
/// `empty_blocks` count the lattice's blocks). Throws ConfigError for households below 5,000 or
/// above 20,000,000.
[[nodiscard]] SynthCity generate_organic_city(const OrganicConfig& config);

}  // namespace civgrid::data
