/*
 * arena.c - bump allocation in chunks, freed all at once.
 *
 * Design notes
 *  - a chunk is 64 KiB, or exactly the request when that is larger, so a big table costs
 *    no more than malloc would; only the newest chunk is bumped into;
 *  - every allocation is aligned to max_align_t.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hf/error.h"
#include "formats/arena.h"

#define CHUNK_SIZE (64u * 1024u)
#define ALIGN (sizeof(max_align_t))

struct hfi_arena_chunk {
    struct hfi_arena_chunk *next;
    size_t used, size;
    max_align_t mem[];
};

void *hfi_arena_alloc(hfi_arena_t *a, size_t size)
{
    struct hfi_arena_chunk *c = a->head;
    size_t need = (size + ALIGN - 1) / ALIGN * ALIGN;
    void *p;

    if (need < size)
        return NULL;
    if (!c || c->size - c->used < need) {
        size_t cap = need > CHUNK_SIZE ? need : CHUNK_SIZE;
        if (cap > SIZE_MAX - sizeof *c)
            return NULL;
        c = malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->used = 0;
        c->size = cap;
        if (a->head && need > CHUNK_SIZE) {
            /* a big one-off: keep bumping into the current chunk afterwards */
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
    }
    p = (char *)c->mem + c->used;
    c->used += need;
    return p;
}

char *hfi_arena_strndup(hfi_arena_t *a, const char *s, size_t len)
{
    char *p;

    if (len == SIZE_MAX)
        return NULL;
    p = hfi_arena_alloc(a, len + 1);
    if (!p)
        return NULL;
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void hfi_arena_free(hfi_arena_t *a)
{
    struct hfi_arena_chunk *c = a->head;

    while (c) {
        struct hfi_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}

int hfi_grow(void **v, size_t *cap, size_t n, size_t elem)
{
    size_t want = *cap ? *cap : 16;
    void *p;

    if (n <= *cap)
        return 0;
    while (want < n) {
        if (want > SIZE_MAX / 2)
            return HF_ENOMEM;
        want *= 2;
    }
    if (want > SIZE_MAX / elem)
        return HF_ENOMEM;
    p = realloc(*v, want * elem);
    if (!p)
        return HF_ENOMEM;
    *v = p;
    *cap = want;
    return 0;
}
