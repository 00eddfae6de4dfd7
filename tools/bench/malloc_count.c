/*
 * malloc_count.c - count every heap allocation of the hf-bench process.
 *
 * Where glibc exports its allocator under the __libc_* names (configure's
 * HAVE___LIBC_MALLOC), this file defines malloc, calloc, realloc, free and the aligned
 * allocators, forwarding each to glibc's own and counting the allocating calls in one
 * atomic counter. Defined in the executable, they interpose for the whole process:
 * libhfasync and the competitors' libraries allocate through them too. Sanitizer builds
 * bring their own allocator, so counting is off there (bench_malloc_count() returns -1),
 * as it is without glibc.
 */
#include "config.h"

#include <stdint.h>

#include "bench.h"

#if defined(HAVE___LIBC_MALLOC) && !defined(HF_SANITIZE)

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

void *__libc_malloc(size_t size);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t size);
void *__libc_memalign(size_t alignment, size_t size);
void __libc_free(void *p);

static _Atomic uint64_t allocs;

static void counted(void)
{
    atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
}

void *malloc(size_t size)
{
    counted();
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    counted();
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
    counted();
    return __libc_realloc(p, size);
}

void free(void *p)
{
    __libc_free(p);
}

void *aligned_alloc(size_t alignment, size_t size)
{
    counted();
    return __libc_memalign(alignment, size);
}

int posix_memalign(void **out, size_t alignment, size_t size)
{
    void *p;

    if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0)
        return EINVAL;
    counted();
    if ((p = __libc_memalign(alignment, size)) == NULL)
        return ENOMEM;
    *out = p;
    return 0;
}

int bench_malloc_count(uint64_t *out)
{
    *out = atomic_load_explicit(&allocs, memory_order_relaxed);
    return 0;
}

#else

int bench_malloc_count(uint64_t *out)
{
    *out = 0;
    return -1;
}

#endif
