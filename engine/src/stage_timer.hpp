// The stages of a run, timed (wall and process CPU) and reported to an optional RunControl: one
// clock for compute_partition, compute_repartition and run_partition, so their timings mean the same.
#pragma once

#include <civgrid/engine/run_control.hpp>

#include <time.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace civgrid::engine {

/// CPU time of the whole process (every thread), in seconds.
inline double process_cpu_seconds() {
    timespec now{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

class StageTimer {
public:
    using Timings = std::vector<std::pair<std::string, double>>;

    /// `check_stage` names the cancel point in a CancelledError ("engine.pipeline").
    StageTimer(RunControl* control, std::string check_stage)
        : control_(control), check_stage_(std::move(check_stage)) {}

    /// A stage begins: shown by the control's progress display.
    void begin(const std::string& stage) const {
        if (control_ != nullptr) control_->begin(stage);
    }
    /// Stops with CancelledError once the control was cancelled.
    void check() const {
        if (control_ != nullptr) control_->check(check_stage_);
    }
    /// The stage since the last lap ends: its wall and CPU seconds are recorded; then a cancel check.
    void lap(const std::string& stage) {
        record(stage);
        check();
    }
    /// As lap, without the cancel check (the stage's work is committed).
    void record(const std::string& stage) {
        const auto now = Clock::now();
        const double cpu_now = process_cpu_seconds();
        wall_.emplace_back(stage, std::chrono::duration<double>(now - start_).count());
        cpu_.emplace_back(stage, cpu_now - cpu_start_);
        start_ = now;
        cpu_start_ = cpu_now;
    }
    [[nodiscard]] const Timings& wall() const { return wall_; }
    [[nodiscard]] const Timings& cpu() const { return cpu_; }

private:
    using Clock = std::chrono::steady_clock;
    RunControl* control_;
    std::string check_stage_;
    Clock::time_point start_ = Clock::now();
    double cpu_start_ = process_cpu_seconds();
    Timings wall_, cpu_;
};

}  // namespace civgrid::engine
