#include <civgrid/algorithms/geos.hpp>
#include <civgrid/data/changes.hpp>
#include <civgrid/error.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace civgrid::data {

namespace {

constexpr const char* kStage = "data.changes";

io::LayerData& layer(SynthCity& city, const std::string& name) {
    for (io::LayerData& l : city.layers)
        if (l.name == name) return l;
    throw InputError(kStage, "the city has no layer '" + name + "'");
}

std::size_t field(const io::LayerData& l, const std::string& name) {
    for (std::size_t f = 0; f < l.fields.size(); ++f)
        if (l.fields[f].name == name) return f;
    throw InputError(kStage, "layer '" + l.name + "' has no field '" + name + "'");
}

std::int64_t integer(const FieldValue& value) {
    const auto* i = std::get_if<std::int64_t>(&value);
    return i != nullptr ? *i : 0;
}

std::vector<Point> building_points(const geos::Context& context, const io::LayerData& buildings) {
    std::vector<Point> points;
    points.reserve(buildings.geometries.size());
    for (const Wkb& wkb : buildings.geometries)
        points.push_back(geos::point_on_surface(context, geos::from_wkb(context, wkb).get()));
    return points;
}

ChangeReport change_households(SynthCity& city, std::mt19937_64& random) {
    io::LayerData& buildings = layer(city, "buildings");
    const std::size_t households = field(buildings, "households");
    std::vector<std::size_t> residential;
    for (std::size_t b = 0; b < buildings.rows.size(); ++b)
        if (integer(buildings.rows[b][households]) > 0) residential.push_back(b);
    std::shuffle(residential.begin(), residential.end(), random);
    residential.resize(std::max<std::size_t>(1, residential.size() / 100));
    ChangeReport report;
    std::bernoulli_distribution up(0.5);
    for (std::size_t b : residential) {
        const std::int64_t before = integer(buildings.rows[b][households]);
        const auto after = std::max<std::int64_t>(
            1, static_cast<std::int64_t>(std::llround(static_cast<double>(before) * (up(random) ? 1.3 : 0.7))));
        buildings.rows[b][households] = after;
        report.households_affected += std::max(before, after);
        ++report.buildings_affected;
    }
    report.description = std::to_string(report.buildings_affected) + " buildings' households changed by +-30 %";
    return report;
}

ChangeReport new_estate(SynthCity& city, std::mt19937_64& random) {
    const geos::Context context;
    io::LayerData& buildings = layer(city, "buildings");
    const io::LayerData& communities = layer(city, "communities");
    const io::LayerData& rivers = layer(city, "rivers");
    std::vector<geos::Geom> water;
    for (const Wkb& wkb : rivers.geometries) water.push_back(geos::from_wkb(context, wkb));
    std::int64_t next_id = 0;
    for (const auto& row : buildings.rows) next_id = std::max(next_id, integer(row[field(buildings, "building_id")]));
    // Existing footprints, to build between them (an estate on vacant land).
    std::vector<geos::Geom> footprints;
    geos::StrTree existing(context);
    for (const Wkb& wkb : buildings.geometries) footprints.push_back(geos::from_wkb(context, wkb));
    for (std::size_t b = 0; b < footprints.size(); ++b) existing.insert(footprints[b].get(), b);
    // Towers of about 100 households on a 6 x 5 lattice 45 m apart, around a random point of a
    // random community, keeping those inside it, off the water and 3 m clear of other buildings;
    // their households sum to 3,000.
    constexpr std::int64_t kHouseholds = 3'000;
    for (int attempt = 0; attempt < 400; ++attempt) {
        const std::size_t c = std::uniform_int_distribution<std::size_t>(0, communities.geometries.size() - 1)(random);
        const geos::Geom community = geos::from_wkb(context, communities.geometries[c]);
        const geos::Envelope box = geos::envelope(context, community.get());
        const Point centre{std::uniform_real_distribution<double>(box.min_x, box.max_x)(random),
                           std::uniform_real_distribution<double>(box.min_y, box.max_y)(random)};
        std::vector<Point> sites;
        for (int i = 0; i < 6; ++i)
            for (int j = 0; j < 5; ++j) {
                const Point p{centre.x + (i - 2.5) * 45.0, centre.y + (j - 2.0) * 45.0};
                const geos::Geom footprint = geos::polygon(
                    context, {{p.x - 10, p.y - 6}, {p.x + 10, p.y - 6}, {p.x + 10, p.y + 6}, {p.x - 10, p.y + 6}});
                if (GEOSContains_r(context.handle(), community.get(), footprint.get()) != 1) continue;
                if (std::any_of(water.begin(), water.end(), [&](const geos::Geom& w) {
                        return GEOSIntersects_r(context.handle(), w.get(), footprint.get()) == 1;
                    }))
                    continue;
                const geos::Geom clearance = geos::polygon(
                    context, {{p.x - 13, p.y - 9}, {p.x + 13, p.y - 9}, {p.x + 13, p.y + 9}, {p.x - 13, p.y + 9}});
                const auto near = existing.query(clearance.get());
                if (std::any_of(near.begin(), near.end(), [&](std::size_t b) {
                        return GEOSIntersects_r(context.handle(), footprints[b].get(), clearance.get()) == 1;
                    }))
                    continue;
                sites.push_back(p);
            }
        if (sites.size() < 20) continue;
        const auto count = static_cast<std::int64_t>(sites.size());
        for (std::int64_t k = 0; k < count; ++k) {
            const Point p = sites[static_cast<std::size_t>(k)];
            const std::int64_t households = kHouseholds / count + (k < kHouseholds % count ? 1 : 0);
            buildings.geometries.push_back(geos::to_wkb(
                context,
                geos::polygon(context,
                              {{p.x - 10, p.y - 6}, {p.x + 10, p.y - 6}, {p.x + 10, p.y + 6}, {p.x - 10, p.y + 6}})
                    .get()));
            std::vector<FieldValue> row(buildings.fields.size());
            row[field(buildings, "building_id")] = ++next_id;
            row[field(buildings, "households")] = households;
            row[field(buildings, "floors")] = std::int64_t{18};
            row[field(buildings, "units")] = std::int64_t{2};
            row[field(buildings, "kind")] = std::string("high_rise");
            buildings.rows.push_back(std::move(row));
        }
        ChangeReport report;
        report.buildings_affected = count;
        report.households_affected = kHouseholds;
        report.description = "a new estate of " + std::to_string(count) +
                             " buildings, 3,000 households, in community " +
                             std::get<std::string>(communities.rows[c][field(communities, "community_code")]);
        return report;
    }
    throw InputError(kStage, "no community has room for a new estate");
}

ChangeReport demolition(SynthCity& city, std::mt19937_64& random) {
    const geos::Context context;
    io::LayerData& buildings = layer(city, "buildings");
    const std::size_t households = field(buildings, "households");
    const std::vector<Point> points = building_points(context, buildings);
    const Point centre = points[std::uniform_int_distribution<std::size_t>(0, points.size() - 1)(random)];
    ChangeReport report;
    io::LayerData kept = buildings;
    kept.rows.clear();
    kept.geometries.clear();
    for (std::size_t b = 0; b < points.size(); ++b) {
        if (std::hypot(points[b].x - centre.x, points[b].y - centre.y) <= 120.0) {
            ++report.buildings_affected;
            report.households_affected += integer(buildings.rows[b][households]);
            continue;
        }
        kept.rows.push_back(buildings.rows[b]);
        kept.geometries.push_back(buildings.geometries[b]);
    }
    buildings = std::move(kept);
    report.description = std::to_string(report.buildings_affected) + " buildings within 120 m demolished";
    return report;
}

ChangeReport move_boundary(SynthCity& city, std::mt19937_64& random) {
    const geos::Context context;
    const GEOSContextHandle_t h = context.handle();
    io::LayerData& communities = layer(city, "communities");
    const io::LayerData& buildings = layer(city, "buildings");
    const std::size_t street = field(communities, "street_code"), code = field(communities, "community_code");
    const std::size_t households = field(buildings, "households");
    const std::size_t count = communities.geometries.size();
    std::vector<std::size_t> order(count);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::shuffle(order.begin(), order.end(), random);
    const std::vector<Point> points = building_points(context, buildings);
    for (std::size_t a : order) {
        const geos::Geom from = geos::from_wkb(context, communities.geometries[a]);
        for (std::size_t b = 0; b < count; ++b) {
            if (b == a || communities.rows[b][street] != communities.rows[a][street]) continue;
            const geos::Geom to = geos::from_wkb(context, communities.geometries[b]);
            const geos::Geom shared = geos::own_nullable(context, GEOSIntersection_r(h, from.get(), to.get()));
            if (!shared || geos::length(context, shared.get()) < 100.0) continue;
            // The strip of `from` within 80 m of the shared border moves to `to`.
            const geos::Geom band = geos::own(context, GEOSBuffer_r(h, shared.get(), 80.0, 8), "a border band");
            const geos::Geom strip = geos::own(context, GEOSIntersection_r(h, from.get(), band.get()), "the strip");
            const geos::Geom rest = geos::own(context, GEOSDifference_r(h, from.get(), strip.get()), "what is left");
            if (GEOSGeomTypeId_r(h, rest.get()) != GEOS_POLYGON || geos::area(context, rest.get()) < 1e4) continue;
            const geos::Geom grown = geos::own(context, GEOSUnion_r(h, to.get(), strip.get()), "the grown community");
            if (GEOSGeomTypeId_r(h, grown.get()) != GEOS_POLYGON) continue;
            ChangeReport report;
            const geos::Prepared inside = geos::prepare(context, strip.get());
            for (std::size_t k = 0; k < points.size(); ++k) {
                const geos::Geom p = geos::point(context, points[k]);
                if (GEOSPreparedIntersects_r(h, inside.get(), p.get()) == 1) {
                    ++report.buildings_affected;
                    report.households_affected += integer(buildings.rows[k][households]);
                }
            }
            if (report.households_affected == 0) continue;
            communities.geometries[a] = geos::to_wkb(context, rest.get());
            communities.geometries[b] = geos::to_wkb(context, grown.get());
            report.description = "an 80 m strip of community " + std::get<std::string>(communities.rows[a][code]) +
                                 " moved to " + std::get<std::string>(communities.rows[b][code]);
            return report;
        }
    }
    throw InputError(kStage, "no two neighbouring communities of one street to move a boundary between");
}

}  // namespace

CityChange parse_change(const std::string& name) {
    if (name == "households") return CityChange::households;
    if (name == "estate") return CityChange::estate;
    if (name == "demolition") return CityChange::demolition;
    if (name == "boundary") return CityChange::boundary;
    throw ConfigError(kStage, "unknown change '" + name + "': households, estate, demolition or boundary");
}

ChangeReport apply_change(SynthCity& city, CityChange change, std::uint64_t seed) {
    std::mt19937_64 random(seed * 0x9E3779B97F4A7C15ULL + static_cast<std::uint64_t>(change) + 1);
    switch (change) {
        case CityChange::households:
            return change_households(city, random);
        case CityChange::estate:
            return new_estate(city, random);
        case CityChange::demolition:
            return demolition(city, random);
        case CityChange::boundary:
            return move_boundary(city, random);
    }
    throw InternalError(kStage, "unknown change");
}

}  // namespace civgrid::data
