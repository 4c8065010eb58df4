#include <civgrid/engine/run_control.hpp>
#include <civgrid/error.hpp>

namespace civgrid::engine {

void RunControl::check(const std::string& stage) const {
    if (cancelled()) throw CancelledError(stage, "cancelled");
}

void RunControl::begin(const std::string& stage, std::size_t total) {
    const std::lock_guard lock(mutex_);
    stages_.push_back(stage);
    done_.store(0, std::memory_order_relaxed);
    total_.store(total, std::memory_order_relaxed);
}

RunControl::Snapshot RunControl::snapshot() const {
    const std::lock_guard lock(mutex_);  // begin() resets the counts under it: they match the stage
    return Snapshot{stages_, done_.load(std::memory_order_relaxed), total_.load(std::memory_order_relaxed)};
}

}  // namespace civgrid::engine
