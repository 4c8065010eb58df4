// The partition job as named stages (compute_partition), and the CLI's whole run around it
// (run_partition): the one sequence every front end calls.
#include "stage_timer.hpp"

#include <civgrid/engine/pipeline.hpp>
#include <civgrid/engine/styles.hpp>
#include <civgrid/io/output_file.hpp>

#include <chrono>
#include <future>
#include <optional>

namespace civgrid::engine {

namespace {

constexpr const char* kStage = "engine.pipeline";

/// Staffing, then the quality report, on a second thread while `alongside` runs on this one. Both
/// read `run.city` and `run.result`, which nothing writes meanwhile.
double seconds_since(std::chrono::steady_clock::time_point begin) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
}

void staff_and_assess_alongside(PartitionRun& run, const Alongside& alongside) {
    std::promise<Staffing> staffing_promise;
    std::future<Staffing> staffing = staffing_promise.get_future();
    double assess_seconds = 0, staffing_seconds = 0;
    std::future<algorithms::QualityReport> report = std::async(std::launch::async, [&] {
        const auto staffing_begin = std::chrono::steady_clock::now();
        try {
            staffing_promise.set_value(assign_staff(run.city, run.result, run.config));
        } catch (...) {
            staffing_promise.set_exception(std::current_exception());
        }
        staffing_seconds = seconds_since(staffing_begin);
        const auto begin = std::chrono::steady_clock::now();
        algorithms::QualityReport computed = assess(run.city, run.result, run.config);
        assess_seconds = seconds_since(begin);
        return computed;
    });
    double writing_seconds = 0;  // the caller's work alone, not its wait for the staffing
    try {
        auto begin = std::chrono::steady_clock::now();
        if (alongside.while_staffing) alongside.while_staffing(run.city, run.result);
        writing_seconds += seconds_since(begin);
        const auto fill_wait = [&](const auto& awaited) {
            if (!alongside.while_waiting || awaited.wait_for(std::chrono::seconds(0)) == std::future_status::ready)
                return;
            begin = std::chrono::steady_clock::now();
            alongside.while_waiting();
            writing_seconds += seconds_since(begin);
        };
        fill_wait(staffing);
        run.staffing = staffing.get();
        begin = std::chrono::steady_clock::now();
        if (alongside.while_assessing) alongside.while_assessing(run.city, run.result, run.staffing);
        writing_seconds += seconds_since(begin);
        fill_wait(report);
    } catch (...) {
        report.wait();  // it reads run.city and run.result
        throw;
    }
    run.report = report.get();
    run.assess_seconds = assess_seconds;
    run.staffing_seconds = staffing_seconds;
    run.writing_seconds = writing_seconds;
}

}  // namespace

PartitionRun compute_partition(PartitionConfig config, RunControl* control, const Alongside* alongside) {
    PartitionRun run;
    run.config = std::move(config);
    StageTimer timer(control, kStage);
    timer.begin("load");
    run.city = load_city(run.config);
    enforce_strict(run.city.import_report, run.config);
    timer.lap("load");
    run.result = partition_city(run.city, run.config, control);  // begins its own stage, a step per region
    timer.lap("partition");
    if (alongside != nullptr) {
        timer.begin(alongside->stage);
        staff_and_assess_alongside(run, *alongside);
        timer.lap(alongside->stage);
    } else {
        timer.begin("staffing");
        const auto staffing_begin = std::chrono::steady_clock::now();
        run.staffing = assign_staff(run.city, run.result, run.config);
        run.staffing_seconds = seconds_since(staffing_begin);
        timer.lap("staffing");
        timer.begin("assess");
        const auto begin = std::chrono::steady_clock::now();
        run.report = assess(run.city, run.result, run.config);
        run.assess_seconds = seconds_since(begin);
        timer.lap("assess");
    }
    run.timings = timer.wall();
    run.cpu_timings = timer.cpu();
    run.warnings = run.city.warnings;
    run.warnings.insert(run.warnings.end(), run.result.warnings.begin(), run.result.warnings.end());
    return run;
}

RunSummary run_partition(const PartitionConfig& config, const std::string& output, RunControl* control) {
    // Before any work: an output that is an input, a link or a device is refused, and the output
    // is claimed for the whole run (a second run writing it is refused, not silently overwritten).
    validate_config(config);
    io::check_output_path(output, input_sources(config));
    io::OutputReservation reservation(output);
    // The layers are written (SQLite writes on one thread) while workers are assigned and the report
    // computed on a second thread; those that need them, and run_info, go last.
    std::optional<io::GeoPackageWriter> writer;
    const LayerSink sink{[&](const io::LayerData& layer) {
        writer->add_layer(layer);
        if (control != nullptr) control->step();
    }};
    std::optional<RegionStandards> standards;
    Alongside write_alongside{"assess_and_write",  // one progress step per layer written
                              [&](const City& city, const PartitionResult& result) {
                                  writer.emplace(reservation, city.crs);
                                  partition_layers(city, result, config, sink);
                              },
                              [&](const City& city, const PartitionResult& result, const Staffing& staffing) {
                                  standards = standards_of(city, result, &staffing, config);
                                  staffed_layers(city, result, config, &staffing, *standards, sink);
                              },
                              [&] { writer->write_packed_indexes(); }};
    PartitionRun run = compute_partition(config, control, &write_alongside);
    StageTimer closing(control, kStage);

    RunSummary summary;
    summary.timings = run.timings;
    summary.cpu_timings = run.cpu_timings;
    summary.assess_seconds = run.assess_seconds;
    summary.staffing_seconds = run.staffing_seconds;
    summary.writing_seconds = run.writing_seconds;
    auto timings = summary.timings;
    timings.emplace_back("assess_alone", run.assess_seconds);
    timings.emplace_back("staffing_alone", run.staffing_seconds);
    timings.emplace_back("writing_alone", run.writing_seconds);
    for (const auto& [stage, seconds] : summary.cpu_timings) timings.emplace_back(stage + "_cpu", seconds);
    closing_layers(run.city, run.result, run.report, run.config, timings, &run.staffing, *standards, sink);
    writer->add_styles(layer_styles(writer->layers()));  // QGIS opens every layer styled
    writer->commit();
    // run_info and the commit belong to the last stage (assess_and_write).
    closing.record("closing");
    summary.timings.back().second += closing.wall().back().second;
    summary.cpu_timings.back().second += closing.cpu().back().second;
    summary.report = std::move(run.report);
    summary.staffing = std::move(run.staffing);
    summary.crs = run.city.crs;
    summary.warnings = std::move(run.warnings);
    const auto removed = reservation.warnings();
    summary.warnings.insert(summary.warnings.end(), removed.begin(), removed.end());
    return summary;
}

RunSummary run_partition_per_district(const PartitionConfig& config, const std::string& index,
                                      std::vector<OutputPart>& parts, RunControl* control) {
    validate_config(config);
    io::check_output_path(index, input_sources(config));  // refused before any work; each part when written
    PartitionRun run = compute_partition(config, control);
    RunSummary summary;
    summary.timings = run.timings;
    summary.cpu_timings = run.cpu_timings;
    summary.assess_seconds = run.assess_seconds;
    StageTimer writing(control, kStage);
    parts = write_result_per_district(index, run.city, run.result, run.report, run.config, run.timings, &run.staffing,
                                      nullptr, control);
    writing.record("write");
    summary.timings.push_back(writing.wall().back());
    summary.cpu_timings.push_back(writing.cpu().back());
    summary.report = std::move(run.report);
    summary.staffing = std::move(run.staffing);
    summary.crs = run.city.crs;
    summary.warnings = std::move(run.warnings);
    return summary;
}

}  // namespace civgrid::engine
