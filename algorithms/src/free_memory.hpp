// Internal: hands memory freed after the work on a detailed outline back to the system.
//
// Why: glibc raises its mmap threshold after a large block is freed (up to 32 MB), so the next
// vectors of a million points come from the heap and stay there once freed; a run along a
// 1,000,000-vertex boundary kept over 200 MB it no longer used, and its peak was that much higher.
// The executables allocate through TBB's scalable allocator (CIVGRID_TBB_MALLOC), which keeps
// freed blocks in its own caches: those are cleaned too.
#pragma once

#include <oneapi/tbb/scalable_allocator.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace civgrid::algorithms::detail {

inline void release_free_memory() noexcept {
    scalable_allocation_command(TBBMALLOC_CLEAN_ALL_BUFFERS, nullptr);
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

}  // namespace civgrid::algorithms::detail
