// Counts heap allocations in the whole process, for benchmarks only: linking this target
// replaces malloc, calloc, realloc, memalign, posix_memalign, aligned_alloc, valloc and
// pvalloc with versions that count and forward to glibc. The product links it only with the
// `AllocationCounter` package trait (`swift build --traits AllocationCounter`).
#ifndef C_TICKLINE_ALLOCATION_COUNTER_H
#define C_TICKLINE_ALLOCATION_COUNTER_H

#include <stdint.h>

/// Allocation calls made so far by every thread of the process (realloc counts as one).
uint64_t tl_allocation_count(void);

#endif
