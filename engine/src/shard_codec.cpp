// A shard's result as bytes, for a distributed driver to move between processes (encode_shard,
// decode_shard in engine/shards.hpp). One `fields` function per type lists its members once, for
// both directions, so writing and reading cannot drift apart.
#include <civgrid/engine/shards.hpp>
#include <civgrid/error.hpp>

#include <bit>
#include <cstring>
#include <type_traits>

namespace civgrid::engine {

namespace {

static_assert(std::endian::native == std::endian::little, "the shard codec writes the host's little endian");

constexpr const char* kStage = "engine.shards";
constexpr std::string_view kMagic = "civgrid-shard-2";
constexpr std::string_view kConfigMagic = "civgrid-config-1";
constexpr std::string_view kRerunMagic = "civgrid-rerun-shard-1";

template <typename A>
void fields(A& a, LayerSource& v) {
    a(v.path, v.layer, v.datum, v.encoding);
}
template <typename A>
void fields(A& a, BarrierRule& v) {
    a(v.filter);
}
template <typename A>
void fields(A& a, ShardSelection& v) {
    a(v.field, v.value, v.min_x, v.min_y, v.max_x, v.max_y);
}
// Every member, in declaration order. A member added to PartitionConfig must be added here: the
// size check below fails until it is (and the Python test of Config's bytes checks each field).
static_assert(sizeof(PartitionConfig) == 2504,
              "PartitionConfig changed: list the new member in fields(PartitionConfig) and update this size");
template <typename A>
void fields(A& a, PartitionConfig& v) {
    a(v.city, v.buildings, v.roads, v.rivers, v.railways, v.communities, v.streets, v.districts, v.staffing, v.strict,
      v.facilities, v.work_areas, v.facility_area_field, v.residents_field, v.persons_per_household, v.workers,
      v.worker_id_field, v.worker_kind_field, v.worker_capacity_field, v.stations, v.station_id_field, v.utility_field,
      v.station_capacity_field, v.worker_candidates, v.network_distance, v.building_id_field, v.households_field,
      v.units_field, v.community_code_field, v.street_code_field, v.district_code_field, v.name_field, v.hard_roads,
      v.hard_rivers, v.hard_railways, v.working_crs, v.assume_crs, v.coordinate_grid, v.dwelling_area, v.floors_field,
      v.max_building_households, v.region_level, v.units, v.split_large_units, v.coverage_tolerance,
      v.target_households, v.count_field, v.micro_grid_count, v.tolerance, v.min_households, v.max_households,
      v.hard_min_households, v.grid_households, v.grid_count, v.grid_count_field, v.split_piece_households,
      v.soft_barrier_weight, v.compactness, v.seed, v.threads, v.shard);
}
template <typename A>
void fields(A& a, Point& v) {
    a(v.x, v.y);
}
template <typename A>
void fields(A& a, Field& v) {
    a(v.name, v.type, v.boolean);
}
template <typename A>
void fields(A& a, Finding& v) {
    a(v.action, v.reason, v.severity, v.policy, v.ids);
}
template <typename A>
void fields(A& a, LayerReport& v) {
    a(v.role, v.source, v.layer, v.features, v.facts, v.findings);
}
template <typename A>
void fields(A& a, ImportReport& v) {
    a(v.layers);
}
template <typename A>
void fields(A& a, io::FeatureTable& v) {
    a(v.source, v.layer, v.crs, v.fields, v.fids, v.geometries, v.rows, v.report);
}
template <typename A>
void fields(A& a, Region& v) {
    a(v.code, v.name, v.street_code, v.district_code, v.boundary, v.feature_id, v.requested_count, v.requested_grids);
}
template <typename A>
void fields(A& a, algorithms::MicroGridShape& v) {
    a(v.polygon, v.households, v.target, v.piece, v.flags, v.label_point, v.grid);
}
template <typename A>
void fields(A& a, algorithms::GridShape& v) {
    a(v.polygon, v.households, v.micro_grids, v.piece, v.target, v.multipart, v.label_point);
}
template <typename A>
void fields(A& a, MicroGrid& v) {
    a(v.id, v.region, v.grid, v.shape, v.buildings);
}
template <typename A>
void fields(A& a, Grid& v) {
    a(v.id, v.region, v.shape, v.buildings);
}
template <typename A>
void fields(A& a, RegionSummary& v) {
    a(v.households, v.buildings, v.requested, v.micro_grids, v.grids, v.pieces, v.faces, v.target, v.best_within_10,
      v.best_within_10_in_bounds);
}
// What the merge needs of a shard's city: no staffing layers (assigned on the merged city).
template <typename A>
void fields(A& a, City& v) {
    a(v.crs, v.region_level, v.regions, v.buildings, v.building_households, v.building_units, v.building_points,
      v.building_region, v.hard_lines, v.hard_areas, v.soft_lines, v.road_lines, v.hard_line_keys, v.hard_area_keys,
      v.soft_line_keys, v.road_line_keys, v.building_residents, v.warnings, v.import_report, v.building_notes,
      v.inputs);
}
template <typename A>
void fields(A& a, PartitionResult& v) {
    a(v.micro_grids, v.grids, v.building_grid, v.building_split, v.building_split_households, v.building_region,
      v.regions, v.requested, v.warnings);
}
// A rerun shard's changes; its partition travels as a shard's (Repartition::result stays empty).
template <typename A>
void fields(A& a, MicroGridChange& v) {
    a(v.id, v.status, v.previous_ids, v.next_ids, v.households, v.buildings, v.polygon);
}
template <typename A>
void fields(A& a, LineageRow& v) {
    a(v.previous_id, v.new_id, v.households, v.buildings);
}
template <typename A>
void fields(A& a, Repartition& v) {
    a(v.changes, v.lineage, v.micro_grids_kept, v.micro_grids_redrawn, v.micro_grids_new, v.micro_grids_retired,
      v.zones, v.buildings_compared, v.buildings_moved, v.buildings_new, v.buildings_removed, v.households_compared,
      v.households_moved, v.households_new, v.households_removed, v.warnings);
}

class Writer {
public:
    std::string bytes;
    template <typename... T>
    void operator()(const T&... values) {
        (put(values), ...);
    }

private:
    template <typename T>
    void put(const T& value) {
        if constexpr (std::is_arithmetic_v<T> || std::is_enum_v<T>) {
            const auto* raw = reinterpret_cast<const char*>(&value);
            bytes.append(raw, sizeof(T));
        } else if constexpr (std::is_same_v<T, std::string>) {
            put(static_cast<std::uint64_t>(value.size()));
            bytes.append(value);
        } else {
            fields(*this, const_cast<T&>(value));  // fields() only reads through a Writer
        }
    }
    void put(const Wkb& value) {
        put(static_cast<std::uint64_t>(value.size()));
        bytes.append(reinterpret_cast<const char*>(value.data()), value.size());
    }
    template <typename T>
    void put(const std::vector<T>& values) {
        put(static_cast<std::uint64_t>(values.size()));
        for (const T& value : values) put(value);
    }
    template <typename A, typename B>
    void put(const std::pair<A, B>& pair) {
        put(pair.first), put(pair.second);
    }
    void put(const FieldValue& value) {
        put(static_cast<std::uint8_t>(value.index()));
        std::visit(
            [&](const auto& held) {
                if constexpr (!std::is_same_v<std::decay_t<decltype(held)>, std::monostate>) put(held);
            },
            value);
    }
};

class Reader {
public:
    explicit Reader(const std::string& bytes) : bytes_(bytes) {}
    template <typename... T>
    void operator()(T&... values) {
        (get(values), ...);
    }
    [[nodiscard]] bool done() const { return at_ == bytes_.size(); }
    void expect(std::string_view text) {
        need(text.size());
        if (bytes_.compare(at_, text.size(), text) != 0) fail();
        at_ += text.size();
    }

private:
    const std::string& bytes_;
    std::size_t at_ = 0;

    [[noreturn]] static void fail() {
        throw InputError(kStage, "bytes that are not a civgrid shard of this version (truncated or corrupt)");
    }
    void need(std::size_t count) const {
        if (count > bytes_.size() - at_) fail();
    }
    std::size_t length() {
        std::uint64_t size = 0;
        get(size);
        if (size > bytes_.size() - at_) fail();  // no element takes less than a byte
        return static_cast<std::size_t>(size);
    }
    template <typename T>
    void get(T& value) {
        if constexpr (std::is_arithmetic_v<T> || std::is_enum_v<T>) {
            need(sizeof(T));
            std::memcpy(&value, bytes_.data() + at_, sizeof(T));
            at_ += sizeof(T);
        } else if constexpr (std::is_same_v<T, std::string>) {
            const std::size_t size = length();
            value.assign(bytes_, at_, size);
            at_ += size;
        } else {
            fields(*this, value);
        }
    }
    void get(Wkb& value) {
        const std::size_t size = length();
        value.assign(bytes_.begin() + static_cast<std::ptrdiff_t>(at_),
                     bytes_.begin() + static_cast<std::ptrdiff_t>(at_ + size));
        at_ += size;
    }
    template <typename T>
    void get(std::vector<T>& values) {
        values.resize(length());
        for (T& value : values) get(value);
    }
    template <typename A, typename B>
    void get(std::pair<A, B>& pair) {
        get(pair.first), get(pair.second);
    }
    void get(FieldValue& value) {
        std::uint8_t index = 0;
        get(index);
        switch (index) {
            case 0:
                value = std::monostate{};
                break;
            case 1: {
                std::int64_t held = 0;
                get(held);
                value = held;
                break;
            }
            case 2: {
                double held = 0;
                get(held);
                value = held;
                break;
            }
            case 3: {
                std::string held;
                get(held);
                value = std::move(held);
                break;
            }
            default:
                fail();
        }
    }
};

}  // namespace

std::string encode_shard(const PartitionRun& shard) {
    Writer writer;
    writer.bytes.append(kMagic);
    auto& run = const_cast<PartitionRun&>(shard);  // only read: fields() through a Writer
    writer(run.city, run.result, run.timings, run.cpu_timings);
    return std::move(writer.bytes);
}

PartitionRun decode_shard(const std::string& bytes) {
    Reader reader(bytes);
    reader.expect(kMagic);
    PartitionRun run;
    reader(run.city, run.result, run.timings, run.cpu_timings);
    if (!reader.done()) throw InputError(kStage, "bytes that are not a civgrid shard of this version (trailing data)");
    run.config.working_crs = run.city.crs;
    return run;
}

std::string encode_repartition_shard(const RepartitionShard& shard) {
    Writer writer;
    writer.bytes.append(kRerunMagic);
    auto& rerun = const_cast<RepartitionShard&>(shard);  // only read: fields() through a Writer
    writer(rerun.run.city, rerun.run.result, rerun.run.timings, rerun.run.cpu_timings, rerun.changes,
           rerun.retired_fids, rerun.name, rerun.new_buildings, rerun.removed_buildings, rerun.previous_micro_grids);
    return std::move(writer.bytes);
}

RepartitionShard decode_repartition_shard(const std::string& bytes) {
    Reader reader(bytes);
    reader.expect(kRerunMagic);
    RepartitionShard shard;
    reader(shard.run.city, shard.run.result, shard.run.timings, shard.run.cpu_timings, shard.changes,
           shard.retired_fids, shard.name, shard.new_buildings, shard.removed_buildings, shard.previous_micro_grids);
    if (!reader.done())
        throw InputError(kStage, "bytes that are not a civgrid rerun shard of this version (trailing data)");
    shard.run.config.working_crs = shard.run.city.crs;
    return shard;
}

std::string encode_config(const PartitionConfig& config) {
    Writer writer;
    writer.bytes.append(kConfigMagic);
    writer(const_cast<PartitionConfig&>(config));  // only read: fields() through a Writer
    return std::move(writer.bytes);
}

PartitionConfig decode_config(const std::string& bytes) {
    Reader reader(bytes);
    reader.expect(kConfigMagic);
    PartitionConfig config;
    reader(config);
    if (!reader.done()) throw InputError(kStage, "bytes that are not a civgrid configuration of this version");
    return config;
}

}  // namespace civgrid::engine
