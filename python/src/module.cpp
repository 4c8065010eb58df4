// civgrid._core: the engine API (the same stages the CLI runs) for the civgrid Python package.
// Python objects are read and made only here, with the GIL held; the engine runs without it.
#include "columns.hpp"
#include "interruptible.hpp"

#include <civgrid/data/synth.hpp>
#include <civgrid/engine/output_schema.hpp>
#include <civgrid/engine/pipeline.hpp>
#include <civgrid/engine/repartition.hpp>
#include <civgrid/engine/roles.hpp>
#include <civgrid/engine/shards.hpp>
#include <civgrid/engine/version.hpp>
#include <civgrid/error.hpp>
#include <civgrid/io/memory_source.hpp>
#include <civgrid/io/output_file.hpp>
#include <civgrid/io/versions.hpp>

#include <geos_c.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace py = pybind11;
using namespace civgrid;
using namespace py::literals;

namespace {

/// What a rerun adds to a partition: what changed since the previous run.
struct Rerun {
    std::string previous;  ///< the previous run's output, as given
    engine::RepartitionOptions options;
    engine::Repartition changes;  ///< its result moved to Run::result
};

/// A partition held in memory: what the CLI writes, before it is written.
struct Run {
    engine::PartitionConfig config;
    engine::City city;
    engine::PartitionResult result;
    engine::Staffing staffing;
    algorithms::QualityReport report;
    std::vector<std::pair<std::string, double>> timings;
    std::shared_ptr<const Rerun> rerun;  ///< null unless a rerun (civgrid repartition)
    engine::ExtraOutput extra;           ///< a rerun's changes and lineage layers and run_info section
    /// A run whose split output was written as its shards came (engine::ShardMerge): the buildings'
    /// geometries and attributes are in the districts' files, not here, so it cannot be written again.
    bool buildings_in_parts = false;
};

// A ShardMerge that Python can drop before the garbage collector does (discard()): its temporary
// files go at once when a shard fails.
struct ShardMergeHandle {
    std::unique_ptr<engine::ShardMerge> merge;
    engine::ShardMerge& get() {
        if (!merge) throw ConfigError("python.distributed", "the shard merge was finished or discarded");
        return *merge;
    }
};

py::list parts_list(const std::vector<engine::OutputPart>& parts) {
    py::list out;
    for (const engine::OutputPart& part : parts)
        out.append(py::dict("district_code"_a = part.district_code, "path"_a = part.path,
                            "micro_grids"_a = part.micro_grids, "grids"_a = part.grids, "buildings"_a = part.buildings,
                            "households"_a = part.households));
    return out;
}

using Clock = std::chrono::steady_clock;

void refuse_streamed(const Run& r) {
    if (r.buildings_in_parts)
        throw ConfigError("python",
                          "this run's buildings were written to its districts' files as its shards came "
                          "(civgrid.distributed with output_per_district=True) and are not held: "
                          "read them there, or run again to write another output");
}

// WKB geometry type without byte order and dimension flags (1 point ... 6 multi-polygon); 0 if null.
int geometry_type(const Wkb& wkb) {
    if (wkb.size() < 5) return 0;
    std::uint32_t type = 0;
    for (int byte = 0; byte < 4; ++byte) {
        const std::uint8_t value = wkb[static_cast<std::size_t>(wkb[0] == 1 ? 1 + byte : 4 - byte)];
        type |= static_cast<std::uint32_t>(value) << (8 * byte);
    }
    return static_cast<int>(type % 1000);
}

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// A partition's Run from what the engine computed (compute_partition, or a merge of shards).
std::shared_ptr<Run> run_of(engine::PartitionRun computed) {
    auto run = std::make_shared<Run>();
    run->config = std::move(computed.config);
    run->city = std::move(computed.city);
    run->result = std::move(computed.result);
    run->staffing = std::move(computed.staffing);
    run->report = std::move(computed.report);
    run->timings = std::move(computed.timings);
    return run;
}

// The stages of `civgrid partition` but the writing (engine::compute_partition).
std::shared_ptr<Run> partition(const engine::PartitionConfig& config, engine::RunControl& control) {
    return run_of(engine::compute_partition(config, &control));
}

// The stages of `civgrid repartition` but the writing (engine::compute_repartition).
// A rerun's Run from what compute_repartition (or merge_repartition_shards) computed.
std::shared_ptr<Run> rerun_of(engine::RepartitionRun computed, const std::string& previous,
                              const engine::RepartitionOptions& options) {
    auto run = std::make_shared<Run>();
    run->config = std::move(computed.config);
    run->city = std::move(computed.city);
    run->result = std::move(computed.changes.result);
    computed.changes.result = {};
    run->staffing = std::move(computed.staffing);
    run->report = std::move(computed.report);
    run->timings = std::move(computed.timings);
    run->extra = std::move(computed.extra);
    auto rerun = std::make_shared<Rerun>();
    rerun->previous = previous;
    rerun->options = options;
    rerun->changes = std::move(computed.changes);
    run->rerun = std::move(rerun);
    return run;
}

std::shared_ptr<Run> repartition(const engine::PartitionConfig& config, const std::string& previous,
                                 const engine::RepartitionOptions& options, engine::RunControl& control) {
    return rerun_of(engine::compute_repartition(config, previous, options, &control), previous, options);
}

// Staffing again, with the layers named by `config`, on a copy of the partition.
std::shared_ptr<Run> assign(const Run& partitioned, const engine::PartitionConfig& config,
                            engine::RunControl& control) {
    auto run = std::make_shared<Run>(partitioned);
    run->config = config;
    run->config.staffing = true;
    control.begin("load");
    engine::load_staff_layers(run->city, run->config);
    control.check("python.assign");
    const auto start = Clock::now();
    control.begin("staffing");
    // A rerun keeps the previous run's assignments where still valid, as `civgrid repartition` does.
    std::optional<engine::StaffingKeep> keep;
    if (run->rerun) keep = engine::staffing_to_keep(engine::read_previous(run->rerun->previous, run->city.crs));
    run->staffing = engine::assign_staff(run->city, run->result, run->config, keep ? &*keep : nullptr);
    std::erase_if(run->timings, [](const auto& timing) { return timing.first == "staffing"; });
    run->timings.emplace_back("staffing", seconds_since(start));
    if (run->rerun)
        run->extra =
            engine::repartition_output(run->rerun->changes, run->rerun->previous, run->rerun->options, run->staffing);
    control.check("python.assign");
    return run;
}

py::dict table_to_python(const io::FeatureTable& table) {
    return python::layer_to_python(table.layer, table.crs, table.fields, &table.geometries, table.rows);
}

// A single polygon or line as the one part of a multi-geometry of WKB type `multi_type`.
Wkb as_multi(const Wkb& single, std::uint32_t multi_type) {
    Wkb multi;
    multi.reserve(9 + single.size());
    multi.push_back(1);  // little endian
    for (int byte = 0; byte < 4; ++byte) multi.push_back(static_cast<std::uint8_t>(multi_type >> (8 * byte)));
    multi.insert(multi.end(), {std::uint8_t{1}, std::uint8_t{0}, std::uint8_t{0}, std::uint8_t{0}});  // one part
    std::copy(single.begin(), single.end(), std::back_inserter(multi));
    return multi;
}

// A layer as the GeoPackage writer would store it: polygons in a multi-polygon layer become
// multi-polygons of one part (and lines likewise), so the GeoDataFrames match the file.
py::dict layer_data_to_python(const io::LayerData& layer, const std::string& crs) {
    const bool spatial = layer.geometry_kind != io::GeometryKind::none;
    const bool multi_polygon = layer.geometry_kind == io::GeometryKind::multi_polygon;
    const bool multi_line = layer.geometry_kind == io::GeometryKind::multi_line_string;
    if (!multi_polygon && !multi_line)
        return python::layer_to_python(layer.name, spatial ? crs : std::string(), layer.fields,
                                       spatial ? &layer.geometries : nullptr, layer.rows);
    std::vector<Wkb> geometries = layer.geometries;
    for (Wkb& geometry : geometries) {
        const int type = geometry_type(geometry);
        if (multi_polygon && type == 3) geometry = as_multi(geometry, 6);
        if (multi_line && type == 2) geometry = as_multi(geometry, 5);
    }
    return python::layer_to_python(layer.name, crs, layer.fields, &geometries, layer.rows);
}

// The exception classes, made once at import: Python classes with the built-in base that fits,
// so `except ValueError` also catches bad options and `except OSError` unreadable files. The
// module keeps them alive; these handles only point at them.
struct ErrorClasses {
    py::handle error, config, input, io, infeasible, internal;
};
ErrorClasses error_classes;

void register_errors(py::module_& m) {
    const py::object type = py::module_::import("builtins").attr("type");
    auto make = [&](const char* name, py::tuple bases, int exit_code, const char* doc) {
        py::object cls =
            type(name, bases, py::dict("__module__"_a = "civgrid", "__doc__"_a = doc, "exit_code"_a = exit_code));
        m.attr(name) = cls;
        return py::handle(cls);  // the module holds the reference
    };
    ErrorClasses& c = error_classes;
    c.error = make("Error", py::make_tuple(py::handle(PyExc_Exception)), 1,
                   "A civgrid error; the message is the CLI's (stage, file, layer, feature, field).");
    c.config = make("ConfigError", py::make_tuple(c.error, py::handle(PyExc_ValueError)), 2,
                    "Invalid options or parameters (the CLI's exit code 2).");
    c.input = make("InputError", py::make_tuple(c.error, py::handle(PyExc_ValueError)), 3,
                   "Unusable input data: a missing layer or field, a bad value or geometry (exit code 3).");
    c.io = make("IoError", py::make_tuple(c.error, py::handle(PyExc_OSError)), 4,
                "A file cannot be read or written (exit code 4).");
    c.infeasible = make("InfeasibleError", py::make_tuple(c.error), 5,
                        "The data make the result impossible under strict=True (exit code 5).");
    c.internal = make("InternalError", py::make_tuple(c.error, py::handle(PyExc_RuntimeError)), 1,
                      "A bug in civgrid (exit code 1).");
    py::register_exception_translator([](std::exception_ptr pointer) {
        try {
            if (pointer) std::rethrow_exception(pointer);
        } catch (const Error& error) {
            if (error.kind() == Error::Kind::cancelled) {
                PyErr_SetString(PyExc_KeyboardInterrupt, error.what());
                return;
            }
            const ErrorClasses& classes = error_classes;
            const py::handle* cls = &classes.internal;
            switch (error.kind()) {
                case Error::Kind::config:
                    cls = &classes.config;
                    break;
                case Error::Kind::input:
                    cls = &classes.input;
                    break;
                case Error::Kind::io:
                    cls = &classes.io;
                    break;
                case Error::Kind::infeasible:
                    cls = &classes.infeasible;
                    break;
                case Error::Kind::internal:
                case Error::Kind::cancelled:
                    break;
            }
            PyErr_SetString(cls->ptr(), error.what());
        }
    });
}

// Layer sources of a config by role, for Python to set (path, layer).
engine::LayerSource& source_of(engine::PartitionConfig& config, const std::string& role) {
    return engine::source_of(config, role, "python.config");
}

}  // namespace

// Long on purpose: the module's bindings, one after another; each calls one engine function.
PYBIND11_MODULE(_core, m) {
    m.doc() = "civgrid engine bindings; use the civgrid package, not this module.";
    register_errors(m);
    // SIGTERM (and SIGHUP) while writing remove the temporary file, where the host left them at
    // their default; Ctrl-C is Python's KeyboardInterrupt, which cancels the run cleanly.
    io::remove_temporary_files_on_signals();
    m.attr("__version__") = engine::kVersion;
    m.def("versions", [] {
        return py::dict("civgrid"_a = engine::kVersion, "geos"_a = GEOSversion(), "gdal"_a = io::gdal_version(),
                        "proj"_a = io::proj_version());
    });

    py::class_<engine::PartitionConfig> config_class(m, "Config", "engine::PartitionConfig, field by field");
    config_class.def(py::init<>())
        .def(
            "set_source",
            [](engine::PartitionConfig& c, const std::string& role, const std::string& path, const std::string& layer) {
                engine::LayerSource& source = source_of(c, role);
                source.path = path;
                source.layer = layer;
            },
            "role"_a, "path"_a, "layer"_a = "")
        .def(
            "set_layer_setting",
            // --datum / --encoding of one layer: "datum" (wgs84, gcj02, bd09) or "encoding".
            [](engine::PartitionConfig& c, const std::string& role, const std::string& setting,
               const std::string& value) {
                engine::LayerSource& source = source_of(c, role);
                if (setting == "datum")
                    source.datum = value;
                else if (setting == "encoding")
                    source.encoding = value;
                else
                    throw ConfigError("python.config", "unknown layer setting '" + setting + "'");
            },
            "role"_a, "setting"_a, "value"_a)
        // Pickled as engine::encode_config's bytes: a dask task carries the whole config.
        .def(py::pickle([](const engine::PartitionConfig& c) { return py::bytes(engine::encode_config(c)); },
                        [](const py::bytes& state) { return engine::decode_config(std::string(state)); }))
        .def("source",
             [](engine::PartitionConfig& c, const std::string& role) {
                 const engine::LayerSource& source = source_of(c, role);
                 return py::make_tuple(source.path, source.layer);
             })
        .def_property(
            "hard_roads", [](const engine::PartitionConfig& c) { return c.hard_roads.filter; },
            [](engine::PartitionConfig& c, const std::string& f) { c.hard_roads.filter = f; })
        .def_property(
            "hard_rivers", [](const engine::PartitionConfig& c) { return c.hard_rivers.filter; },
            [](engine::PartitionConfig& c, const std::string& f) { c.hard_rivers.filter = f; })
        .def_property(
            "hard_railways", [](const engine::PartitionConfig& c) { return c.hard_railways.filter; },
            [](engine::PartitionConfig& c, const std::string& f) { c.hard_railways.filter = f; });
#define CIVGRID_FIELD(name) config_class.def_readwrite(#name, &engine::PartitionConfig::name)
    CIVGRID_FIELD(city);
    CIVGRID_FIELD(staffing);
    CIVGRID_FIELD(strict);
    CIVGRID_FIELD(facility_area_field);
    CIVGRID_FIELD(residents_field);
    CIVGRID_FIELD(persons_per_household);
    CIVGRID_FIELD(worker_id_field);
    CIVGRID_FIELD(worker_kind_field);
    CIVGRID_FIELD(worker_capacity_field);
    CIVGRID_FIELD(station_id_field);
    CIVGRID_FIELD(utility_field);
    CIVGRID_FIELD(station_capacity_field);
    CIVGRID_FIELD(worker_candidates);
    CIVGRID_FIELD(building_id_field);
    CIVGRID_FIELD(households_field);
    CIVGRID_FIELD(units_field);
    CIVGRID_FIELD(community_code_field);
    CIVGRID_FIELD(street_code_field);
    CIVGRID_FIELD(district_code_field);
    CIVGRID_FIELD(name_field);
    CIVGRID_FIELD(working_crs);
    CIVGRID_FIELD(assume_crs);
    CIVGRID_FIELD(coordinate_grid);
    CIVGRID_FIELD(region_level);
    CIVGRID_FIELD(units);
    CIVGRID_FIELD(split_large_units);
    CIVGRID_FIELD(coverage_tolerance);
    CIVGRID_FIELD(target_households);
    CIVGRID_FIELD(count_field);
    CIVGRID_FIELD(micro_grid_count);
    CIVGRID_FIELD(tolerance);
    CIVGRID_FIELD(min_households);
    CIVGRID_FIELD(max_households);
    CIVGRID_FIELD(hard_min_households);
    CIVGRID_FIELD(grid_households);
    CIVGRID_FIELD(grid_count);
    CIVGRID_FIELD(grid_count_field);
    CIVGRID_FIELD(split_piece_households);
    CIVGRID_FIELD(soft_barrier_weight);
    CIVGRID_FIELD(compactness);
    CIVGRID_FIELD(seed);
    CIVGRID_FIELD(threads);
    CIVGRID_FIELD(network_distance);
    CIVGRID_FIELD(dwelling_area);
    CIVGRID_FIELD(floors_field);
    CIVGRID_FIELD(max_building_households);
#undef CIVGRID_FIELD

    py::class_<io::MemorySource, std::shared_ptr<io::MemorySource>>(
        m, "MemorySource", "A layer from Python in GDAL's in-memory file system, readable like a file")
        .def(py::init([](const std::string& name, const std::string& crs, const py::handle& wkb,
                         const py::handle& offsets, const py::list& columns) {
                 const io::LayerData data = python::layer_from_python(name, wkb, offsets, columns);
                 const py::gil_scoped_release release;
                 return std::make_shared<io::MemorySource>(data, crs);
             }),
             "name"_a, "crs"_a, "wkb"_a, "offsets"_a, "columns"_a)
        .def_property_readonly("path", [](const io::MemorySource& s) { return s.spec().path; })
        .def_property_readonly("layer", [](const io::MemorySource& s) { return s.spec().layer; });

    py::class_<Run, std::shared_ptr<Run>>(m, "Run", "A partition in memory (engine City, PartitionResult, Staffing)")
        .def_property_readonly("crs", [](const Run& r) { return r.city.crs; })
        .def_property_readonly("region_level", [](const Run& r) { return r.city.region_level; })
        .def_property_readonly("config", [](const Run& r) { return r.config; })
        .def_property_readonly("timings", [](const Run& r) { return r.timings; })
        .def_property_readonly("report", [](const Run& r) { return r.report.rows(); })
        .def_property_readonly("report_text", [](const Run& r) { return r.report.to_text(); })
        .def_property_readonly("staffed", [](const Run& r) { return r.staffing.present; })
        .def_property_readonly("warnings",
                               [](const Run& r) {
                                   std::vector<std::string> warnings = r.city.warnings;
                                   warnings.insert(warnings.end(), r.result.warnings.begin(), r.result.warnings.end());
                                   if (r.rerun)
                                       warnings.insert(warnings.end(), r.rerun->changes.warnings.begin(),
                                                       r.rerun->changes.warnings.end());
                                   return warnings;
                               })
        .def(
            "layers",
            [](const Run& r) {
                std::vector<io::LayerData> layers;
                {
                    const py::gil_scoped_release release;
                    engine::result_layers(r.city, r.result, r.report, r.config, r.timings, &r.staffing,
                                          engine::LayerSink{[&](const io::LayerData& l) { layers.push_back(l); }},
                                          r.rerun ? &r.extra : nullptr);
                }
                py::list out;
                for (const io::LayerData& layer : layers) out.append(layer_data_to_python(layer, r.city.crs));
                return out;
            },
            "The output layers, as write() writes them")
        .def(
            "write",
            [](const Run& r, const std::string& path, const py::object& progress) {
                refuse_streamed(r);
                // As the CLI: an output that is an input (or the previous run), a link or a device is
                // refused, and a second writer of the same path is told. Ctrl-C stops the writing
                // between layers and the reservation removes the temporary file.
                std::vector<io::NamedSource> inputs = engine::input_sources(r.config);
                if (r.rerun) inputs.push_back({"previous", r.rerun->previous});
                io::check_output_path(path, inputs);
                io::OutputReservation output(path);
                engine::RunControl control;
                python::run_interruptible(control, progress, [&] {
                    engine::write_result(output, r.city, r.result, r.report, r.config, r.timings, &r.staffing,
                                         r.rerun ? &r.extra : nullptr, &control);
                    return true;
                });
                // The file is complete; it replaces `path` only if no Ctrl-C came meanwhile.
                if (PyErr_CheckSignals() != 0) throw py::error_already_set();
                output.commit();
            },
            "path"_a, "progress"_a = py::none(), "Writes the GeoPackage atomically (engine::write_result)")
        .def(
            "write_per_district",
            [](const Run& r, const std::string& path, const py::object& progress) {
                refuse_streamed(r);
                // One GeoPackage per district and the index at `path`, each checked and written as
                // write() writes one; renamed only once all are complete and no Ctrl-C came.
                std::vector<io::NamedSource> previous;
                if (r.rerun) previous.push_back({"previous", r.rerun->previous});
                engine::RunControl control;
                const std::vector<engine::OutputPart> parts = python::run_interruptible(control, progress, [&] {
                    return engine::write_result_per_district(path, r.city, r.result, r.report, r.config, r.timings,
                                                             &r.staffing, r.rerun ? &r.extra : nullptr, &control,
                                                             previous);
                });
                return parts_list(parts);
            },
            "path"_a, "progress"_a = py::none(),
            "Writes one GeoPackage per district and the index `path` (engine::write_result_per_district); "
            "returns the parts")
        .def_property_readonly(
            "churn",
            [](const Run& r) -> py::object {
                if (!r.rerun) return py::none();
                const engine::Repartition& c = r.rerun->changes;
                return py::dict(
                    "micro_grids_unchanged"_a = c.micro_grids_kept, "micro_grids_redrawn"_a = c.micro_grids_redrawn,
                    "micro_grids_new"_a = c.micro_grids_new, "micro_grids_retired"_a = c.micro_grids_retired,
                    "zones"_a = c.zones, "buildings_moved"_a = c.buildings_moved, "buildings_new"_a = c.buildings_new,
                    "buildings_removed"_a = c.buildings_removed, "households_moved"_a = c.households_moved,
                    "households_new"_a = c.households_new, "households_removed"_a = c.households_removed,
                    "building_churn"_a = c.building_churn(), "household_churn"_a = c.household_churn(),
                    "micro_grid_churn"_a = c.micro_grid_churn());
            },
            "A rerun's churn counts and shares (None for a partition)")
        .def_property_readonly("previous",
                               [](const Run& r) -> py::object {
                                   if (!r.rerun) return py::none();
                                   return py::str(r.rerun->previous);
                               })
        .def(
            "assign",
            [](const Run& r, const engine::PartitionConfig& config, const py::object& progress) {
                engine::RunControl control;
                return python::run_interruptible(control, progress, [&] { return assign(r, config, control); });
            },
            "config"_a, "progress"_a = py::none());

    m.def(
        "partition",
        [](const engine::PartitionConfig& config, const py::object& progress) {
            engine::RunControl control;
            return python::run_interruptible(control, progress, [&] { return partition(config, control); });
        },
        "config"_a, "progress"_a = py::none(), "engine::compute_partition: load, partition, staffing, assess");

    m.def(
        "repartition",
        [](const engine::PartitionConfig& config, const std::string& previous, const std::vector<std::string>& locked,
           const py::object& progress) {
            engine::RepartitionOptions options;
            options.locked = locked;
            engine::RunControl control;
            return python::run_interruptible(control, progress,
                                             [&] { return repartition(config, previous, options, control); });
        },
        "config"_a, "previous"_a, "locked"_a = std::vector<std::string>{}, "progress"_a = py::none(),
        "engine::compute_repartition: load, repartition, staffing, assess against a previous output");

    // Distributed runs (civgrid.distributed): plan on the client, a shard on each worker, merge.
    m.def(
        "input_roles",
        [] {
            std::vector<std::string> names;
            for (const engine::InputRole& role : engine::kInputRoles) names.emplace_back(role.name);
            return names;
        },
        "The input layers by role, in order (engine::kInputRoles)");
    m.def(
        "output_schema",
        [] {
            // [(layer, geometry, meaning, [(field, type, meaning), ...]), ...] in the order written.
            py::list layers;
            for (const auto& layer : engine::schema::layers()) {
                py::list fields;
                for (const auto& field : layer.fields)
                    fields.append(py::make_tuple(std::string(field.name),
                                                 std::string(engine::schema::type_name(field.type)),
                                                 std::string(field.meaning)));
                layers.append(py::make_tuple(std::string(layer.name),
                                             layer.geometry == io::GeometryKind::none ? "none" : "geometry",
                                             std::string(layer.meaning), fields));
            }
            return layers;
        },
        "The output layers and their fields (engine/output_schema.hpp)");
    m.def(
        "decode_config", [](const py::bytes& bytes) { return engine::decode_config(std::string(bytes)); }, "bytes"_a,
        "A Config from engine::encode_config's bytes (the CLI's --scheduler hands its options over so)");
    m.def(
        "plan_shards",
        [](const engine::PartitionConfig& config, const std::string& level) {
            const engine::ShardPlan plan = [&] {
                const py::gil_scoped_release release;
                return engine::plan_shards(config, level);
            }();
            py::list shards;
            for (const engine::Shard& shard : plan.shards) {
                const engine::ShardSelection& s = shard.selection;
                shards.append(py::make_tuple(s.field, s.value, py::make_tuple(s.min_x, s.min_y, s.max_x, s.max_y),
                                             shard.regions));
            }
            return py::dict("working_crs"_a = plan.working_crs, "region_level"_a = plan.region_level,
                            "level"_a = plan.level, "shards"_a = shards);
        },
        "config"_a, "level"_a = "",
        "engine::plan_shards: the shards of a city (field, value, (min_x, min_y, max_x, max_y), regions)");
    m.def(
        "compute_shard",
        [](const engine::PartitionConfig& config, const std::string& working_crs, const std::string& region_level,
           const std::string& field, const std::string& value, const std::array<double, 4>& box) {
            engine::ShardPlan plan;
            plan.working_crs = working_crs;
            plan.region_level = region_level;
            const engine::Shard shard{engine::ShardSelection{field, value, box[0], box[1], box[2], box[3]}, 0};
            std::string bytes;
            {
                const py::gil_scoped_release release;
                bytes = engine::encode_shard(engine::compute_shard(engine::shard_config(config, plan, shard)));
            }
            return py::bytes(bytes);
        },
        "config"_a, "working_crs"_a, "region_level"_a, "field"_a, "value"_a, "box"_a,
        "engine::compute_shard of one shard, encoded (engine::encode_shard) for the trip to the client");
    m.def(
        "merge_shards",
        [](const engine::PartitionConfig& config, const std::vector<py::bytes>& shards, const py::object& progress) {
            std::vector<std::string> encoded;
            encoded.reserve(shards.size());
            for (const py::bytes& shard : shards) encoded.emplace_back(shard);
            engine::RunControl control;
            return python::run_interruptible(control, progress, [&] {
                std::vector<engine::PartitionRun> runs;
                runs.reserve(encoded.size());
                for (std::string& bytes : encoded) {
                    runs.push_back(engine::decode_shard(bytes));
                    bytes = std::string();  // decoded: its memory goes now
                }
                return run_of(engine::merge_shards(config, std::move(runs), &control));
            });
        },
        "config"_a, "shards"_a, "progress"_a = py::none(),
        "engine::merge_shards: the city's Run from its encoded shards, then staffing and the quality report");
    py::class_<ShardMergeHandle>(m, "ShardMerge",
                                 "engine::ShardMerge: a run's shards merged as they come; with a split output "
                                 "and district shards, each district written as soon as its shard comes")
        .def(py::init([](const engine::PartitionConfig& config, const std::string& level,
                         const std::string& split_index, const std::string& previous) {
                 std::vector<io::NamedSource> more;
                 if (!previous.empty()) more.push_back({"previous", previous});
                 return ShardMergeHandle{std::make_unique<engine::ShardMerge>(config, level, split_index, more)};
             }),
             "config"_a, "level"_a, "split_index"_a = "", "previous"_a = "")
        .def(
            "add",
            [](ShardMergeHandle& handle, const py::bytes& shard, std::size_t position) {
                engine::ShardMerge& merge = handle.get();
                std::string bytes(shard);
                const py::gil_scoped_release release;
                engine::PartitionRun run = engine::decode_shard(bytes);
                bytes = std::string();  // decoded: its memory goes now
                return merge.add(std::move(run), position);
            },
            "shard"_a, "position"_a, "One shard's bytes (encode_shard), its place in the plan; the districts written")
        .def_property_readonly("held",
                               [](ShardMergeHandle& handle) {
                                   const engine::ShardMerge::Held held = handle.get().held();
                                   return py::dict("whole_shards"_a = held.whole_shards,
                                                   "districts_written"_a = held.districts_written,
                                                   "building_rows"_a = held.building_rows);
                               })
        .def(
            "finish",
            [](ShardMergeHandle& handle, const py::object& progress) {
                engine::ShardMerge& merge = handle.get();
                engine::RunControl control;
                auto run = python::run_interruptible(control, progress, [&] { return run_of(merge.finish(&control)); });
                py::object parts = py::none();
                if (!merge.parts().empty()) parts = parts_list(merge.parts());
                run->buildings_in_parts =
                    !merge.parts().empty() && run->city.buildings.size() == 0 && !run->result.building_grid.empty();
                handle.merge.reset();
                return py::make_tuple(run, parts);
            },
            "progress"_a = py::none(), "The merged Run and the parts written (None without a split output)")
        .def(
            "discard", [](ShardMergeHandle& handle) { handle.merge.reset(); },
            "Drops what it holds; a split output not finished leaves no file");
    m.def(
        "compute_repartition_shard",
        [](const engine::PartitionConfig& config, const std::string& working_crs, const std::string& region_level,
           const std::string& field, const std::string& value, const std::array<double, 4>& box,
           const std::string& previous, const std::vector<std::string>& locked) {
            engine::ShardPlan plan;
            plan.working_crs = working_crs;
            plan.region_level = region_level;
            const engine::Shard shard{engine::ShardSelection{field, value, box[0], box[1], box[2], box[3]}, 0};
            engine::RepartitionOptions options;
            options.locked = locked;
            std::string bytes;
            {
                const py::gil_scoped_release release;
                bytes = engine::encode_repartition_shard(
                    engine::compute_repartition_shard(engine::shard_config(config, plan, shard), previous, options));
            }
            return py::bytes(bytes);
        },
        "config"_a, "working_crs"_a, "region_level"_a, "field"_a, "value"_a, "box"_a, "previous"_a,
        "locked"_a = std::vector<std::string>{},
        "engine::compute_repartition_shard of one shard against the previous output, encoded for the trip");
    m.def(
        "merge_repartition_shards",
        [](const engine::PartitionConfig& config, const std::string& previous, const std::vector<std::string>& locked,
           const std::vector<py::bytes>& shards, const py::object& progress) {
            std::vector<std::string> encoded;
            encoded.reserve(shards.size());
            for (const py::bytes& shard : shards) encoded.emplace_back(shard);
            engine::RepartitionOptions options;
            options.locked = locked;
            engine::RunControl control;
            return python::run_interruptible(control, progress, [&] {
                std::vector<engine::RepartitionShard> runs;
                runs.reserve(encoded.size());
                for (std::string& bytes : encoded) {
                    runs.push_back(engine::decode_repartition_shard(bytes));
                    bytes = std::string();  // decoded: its memory goes now
                }
                return rerun_of(engine::merge_repartition_shards(config, previous, options, std::move(runs), &control),
                                previous, options);
            });
        },
        "config"_a, "previous"_a, "locked"_a, "shards"_a, "progress"_a = py::none(),
        "engine::merge_repartition_shards: the rerun's Run from its encoded shards, staffing and the report");
    m.def(
        "previous_crs", [](const std::string& path) { return engine::previous_crs(path); }, "path"_a,
        "engine::previous_crs: the working CRS of a civgrid output (a rerun's, unless crs= is given)");

    m.def(
        "check_output",
        [](const engine::PartitionConfig& config, const std::string& path, const std::string& previous) {
            engine::validate_config(config);
            std::vector<io::NamedSource> inputs = engine::input_sources(config);
            if (!previous.empty()) inputs.push_back({"previous", previous});
            io::check_output_path(path, inputs);
        },
        "config"_a, "path"_a, "previous"_a = "",
        "Refuses, before any work, an output that is an input (or the previous run), a link or a device");
    m.def(
        "list_layers",
        [](const std::string& path) {
            const py::gil_scoped_release release;
            return io::list_layers(path);
        },
        "path"_a);
    m.def(
        "read_layer",
        [](const std::string& path, const std::string& layer) {
            io::FeatureTable table;
            {
                const py::gil_scoped_release release;
                table = io::read_layer({path, layer});
            }
            return table_to_python(table);
        },
        "path"_a, "layer"_a = "", "A layer as stored (no reprojection)");
    m.def(
        "synth_city",
        [](std::int64_t households, std::uint64_t seed, const std::string& crs) {
            data::SynthConfig config;
            config.households = households;
            config.seed = seed;
            if (!crs.empty()) config.crs = crs;
            data::SynthCity city;
            {
                const py::gil_scoped_release release;
                city = data::generate_city(config);
            }
            py::list layers;
            for (const io::LayerData& layer : city.layers) layers.append(layer_data_to_python(layer, city.crs));
            return layers;
        },
        "households"_a, "seed"_a, "crs"_a = "");
    m.def(
        "report",
        [](const std::string& path, int threads) {
            algorithms::QualityReport report;
            {
                const py::gil_scoped_release release;
                report = engine::report_file(path, threads);
            }
            return py::make_tuple(report.rows(), report.to_text());
        },
        "path"_a, "threads"_a = 0, "engine::report_file: (rows, text)");
    m.def(
        "report_html",
        [](const std::string& path, const std::string& html, int threads, const std::string& basemap) {
            algorithms::QualityReport report;
            {
                const py::gil_scoped_release release;
                report = engine::report_html_file(path, html, threads, {}, basemap);
            }
            return py::make_tuple(report.rows(), report.to_text());
        },
        "path"_a, "html"_a, "threads"_a = 0, "basemap"_a = "",
        "engine::report_html_file: writes the HTML report (a basemap URL template or \"\"); (rows, text)");
}
