/*
 * alloc.h - memory for the library: malloc wrappers with failure injection for tests, and
 * per-thread free lists for the small objects of the hot paths (futures, continuations,
 * posted tasks), so that submitting a task does not call malloc.
 */
#ifndef HFI_ALLOC_H
#define HFI_ALLOC_H

#include <stddef.h>
#include <stdint.h>

/* Small-object classes: every object of the hot paths fits in one of these. */
#define HFI_OBJ_SMALL 64
#define HFI_OBJ_LARGE 128
#define HFI_OBJ_XLARGE 192

/* An object of at most HFI_OBJ_XLARGE bytes (NULL if memory is short). Not zeroed. */
void *hfi_obj_alloc(size_t size);
/* Return an object from hfi_obj_alloc(); `size` is the size it was allocated with. */
void hfi_obj_free(void *p, size_t size);

/* Return the depot's spare objects to the system (when the last runtime goes). */
void hfi_obj_trim(void);

/* malloc/calloc/realloc/strdup/free with the same failure injection. */
void *hfi_malloc(size_t n);
void *hfi_calloc(size_t n, size_t size);
/* calloc for a type whose alignment exceeds malloc's (a struct with cache-line-aligned
 * members): `align` is a power of two, a multiple of sizeof(void *). Freed with hfi_free. */
void *hfi_calloc_aligned(size_t align, size_t size);
void *hfi_realloc(void *p, size_t n);
char *hfi_strdup(const char *s);
void hfi_free(void *p);

/* How many times the small-object lists had to call malloc, process-wide. */
uint64_t hfi_obj_mallocs(void);
/* Small objects taken from malloc and not yet given back to free(), process-wide: in use,
 * in some thread's lists, or in the depot (for tests: a thread's exit gives its lists back). */
uint64_t hfi_obj_held(void);

/*
 * Test hook: make the calling thread's allocations fail after `n` more succeed
 * (n < 0: never fail; the default).
 */
void hfi_test_fail_alloc_after(long n);

/* fork support (see fork.c) */
void hfi_alloc_atfork_prepare(void);
void hfi_alloc_atfork_parent(void);
void hfi_alloc_atfork_child(void);

#endif /* HFI_ALLOC_H */
