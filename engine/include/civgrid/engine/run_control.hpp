// Progress and cancellation of a long run, shared between the thread running the pipeline and an
// observer (Python's progress bar and Ctrl-C handler). The pipeline never waits for the observer:
// it records where it is, and checks for a cancel request between stages and between regions.
#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

namespace civgrid::engine {

class RunControl {
public:
    /// Where a run is: the stages begun so far, in order, and the steps of the current one.
    struct Snapshot {
        std::vector<std::string> stages;  ///< e.g. load, partition, staffing, assess, write
        std::size_t done = 0, total = 0;  ///< steps of the last stage (regions, layers); total 0 = unknown
    };

    /// Asks the run to stop at its next check. Safe from any thread, and from a signal handler.
    void cancel() noexcept { cancelled_.store(true, std::memory_order_relaxed); }
    [[nodiscard]] bool cancelled() const noexcept { return cancelled_.load(std::memory_order_relaxed); }
    /// Throws CancelledError naming `stage` when cancel() was called.
    void check(const std::string& stage) const;

    /// A new stage of `total` steps begins (0 = not counted).
    void begin(const std::string& stage, std::size_t total = 0);
    /// One more step of the current stage is done. Safe from any thread.
    void step() noexcept { done_.fetch_add(1, std::memory_order_relaxed); }

    [[nodiscard]] Snapshot snapshot() const;

private:
    std::atomic<bool> cancelled_{false};
    std::atomic<std::size_t> done_{0}, total_{0};
    mutable std::mutex mutex_;  // guards stages_
    std::vector<std::string> stages_;
};

}  // namespace civgrid::engine
