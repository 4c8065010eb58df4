// Runs engine work off the Python thread: the GIL is released while it computes, and the calling
// thread wakes every few milliseconds to report progress and to look for Ctrl-C, which cancels
// the run (RunControl) and raises KeyboardInterrupt once the work has stopped.
#pragma once

#include <civgrid/engine/run_control.hpp>

#include <pybind11/pybind11.h>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

namespace civgrid::python {

namespace py = pybind11;

/// Calls `progress(stage, done, total)` (when not None) for each stage begun, each change of its
/// step count, and once more when the work ends, always on the calling thread.
class ProgressReporter {
public:
    explicit ProgressReporter(py::object progress) : progress_(std::move(progress)) {}
    void report(const engine::RunControl& control) {
        if (progress_.is_none()) return;
        const engine::RunControl::Snapshot now = control.snapshot();
        if (shown_ < now.stages.size()) {
            // The stage shown last has ended: show it complete. Stages begun and ended between two
            // polls are still shown, in order.
            if (shown_ > 0 && done_ < total_) progress_(now.stages[shown_ - 1], total_, total_);
            for (; shown_ + 1 < now.stages.size(); ++shown_) progress_(now.stages[shown_], 0, 0);
            shown_ = now.stages.size();
        } else if (shown_ == 0 || (now.done == done_ && now.total == total_)) {
            return;
        }
        done_ = now.done, total_ = now.total;
        progress_(now.stages.back(), done_, total_);
    }

private:
    py::object progress_;
    std::size_t shown_ = 0, done_ = 0, total_ = 0;  // stages shown; steps shown of the last
};

/// Runs `work()` (which must not touch Python objects) on a thread of its own and returns its
/// value, or rethrows its exception. Needs the GIL; releases it while waiting.
template <typename Work>
auto run_interruptible(engine::RunControl& control, const py::object& progress, Work&& work) {
    using Value = decltype(work());
    std::optional<Value> value;
    std::exception_ptr error;
    std::mutex mutex;
    std::condition_variable finished_signal;
    bool finished = false;
    std::thread worker([&] {
        try {
            value.emplace(work());
        } catch (...) {
            error = std::current_exception();
        }
        const std::lock_guard lock(mutex);
        finished = true;
        finished_signal.notify_all();
    });
    // Every way out of this function (Ctrl-C, an exception in the progress callback) first stops
    // and joins the worker: it uses this frame's variables.
    struct StopAndJoin {
        std::thread& worker;
        engine::RunControl& control;
        ~StopAndJoin() {
            if (!worker.joinable()) return;
            control.cancel();
            const py::gil_scoped_release release;
            worker.join();
        }
    } stop_and_join{worker, control};

    ProgressReporter reporter(progress);
    constexpr auto kPoll = std::chrono::milliseconds(50);
    while (true) {
        reporter.report(control);
        bool done = false;
        {
            const py::gil_scoped_release release;
            std::unique_lock lock(mutex);
            done = finished_signal.wait_for(lock, kPoll, [&] { return finished; });
        }
        if (PyErr_CheckSignals() != 0) throw py::error_already_set();  // KeyboardInterrupt: cancels, joins
        if (done) break;
    }
    {
        const py::gil_scoped_release release;
        worker.join();
    }
    reporter.report(control);
    if (error) std::rethrow_exception(error);
    return std::move(*value);
}

}  // namespace civgrid::python
