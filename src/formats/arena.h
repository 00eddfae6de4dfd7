/*
 * arena.h - the memory a reader keeps: many small allocations freed together (an arena),
 * and arrays that grow as entries are parsed.
 */
#ifndef HF_FORMATS_ARENA_H
#define HF_FORMATS_ARENA_H

#include <stddef.h>

typedef struct hfi_arena {
    struct hfi_arena_chunk *head;
} hfi_arena_t;

#define HFI_ARENA_INIT { NULL }

/* hfi_arena_alloc - `size` bytes aligned for any type, or NULL if memory is short. */
void *hfi_arena_alloc(hfi_arena_t *a, size_t size);

/* hfi_arena_strndup - a NUL-terminated copy of `len` bytes at `s` (which may hold NULs). */
char *hfi_arena_strndup(hfi_arena_t *a, const char *s, size_t len);

/* hfi_arena_free - free everything; the arena is empty and reusable afterwards. */
void hfi_arena_free(hfi_arena_t *a);

/*
 * hfi_grow - make the malloc'd array `*v` (capacity `*cap` elements of `elem` bytes) hold
 * at least `n` elements, doubling. Arrays grow with what was actually parsed, never to a
 * count a file merely declares. Returns 0 or HF_ENOMEM (the array is left as it was).
 */
int hfi_grow(void **v, size_t *cap, size_t n, size_t elem);

#endif /* HF_FORMATS_ARENA_H */
