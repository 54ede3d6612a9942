// Definitions in the executable win over glibc's for every caller, the Swift runtime's
// shared libraries included (the linker exports them because those libraries reference
// them). Each one counts with a relaxed atomic (one uncontended locked add; the order of
// counts between threads does not matter) and forwards to glibc's own entry points, so
// memory from here and from glibc is one heap and glibc's free releases both.
#include "CTicklineAllocationCounter.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

static _Atomic uint64_t tl_allocations;

static inline void tl_count(void) { atomic_fetch_add_explicit(&tl_allocations, 1, memory_order_relaxed); }

uint64_t tl_allocation_count(void) { return atomic_load_explicit(&tl_allocations, memory_order_relaxed); }

void *malloc(size_t size) {
    tl_count();
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size) {
    tl_count();
    return __libc_calloc(count, size);
}

void *realloc(void *pointer, size_t size) {
    tl_count();
    return __libc_realloc(pointer, size);
}

void *memalign(size_t alignment, size_t size) {
    tl_count();
    return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    tl_count();
    return __libc_memalign(alignment, size);
}

int posix_memalign(void **result, size_t alignment, size_t size) {
    // POSIX: a power of two that is a multiple of sizeof(void *).
    if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0 || alignment == 0) return EINVAL;
    tl_count();
    void *pointer = __libc_memalign(alignment, size);
    if (pointer == NULL && size != 0) return ENOMEM;
    *result = pointer;
    return 0;
}

void *valloc(size_t size) {
    tl_count();
    return __libc_memalign((size_t)sysconf(_SC_PAGESIZE), size);
}

void *pvalloc(size_t size) {
    tl_count();
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return __libc_memalign(page, (size + page - 1) & ~(page - 1));
}
