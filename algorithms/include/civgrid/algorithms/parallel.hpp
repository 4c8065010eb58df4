// The one place a thread count becomes TBB parallelism: every front end passes its --threads
// (PartitionConfig::threads, the inputs' `threads`) down, and each parallel stage runs its body here.
#pragma once

#include <tbb/task_arena.h>

#include <utility>

namespace civgrid::algorithms {

/// Runs `body` (which may use tbb::parallel_for and friends) on `threads` threads, or on TBB's
/// default (every core) when `threads` <= 0. Results never depend on the count: parallel loops
/// write per-index slots and combine them in index order.
template <typename Body>
void with_threads(int threads, Body&& body) {
    if (threads > 0)
        tbb::task_arena(threads).execute(std::forward<Body>(body));
    else
        std::forward<Body>(body)();
}

}  // namespace civgrid::algorithms
