/*
 * strmap.c - open addressing with linear probing, FNV-1a hashes, load factor at most 1/2.
 *
 * Design notes
 *  - keys are borrowed (they live in the reader's arena or in the mapped file), so a slot
 *    is a pointer, a length, the hash and the value;
 *  - the table doubles when it would pass half full; nothing is ever removed.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "hf/error.h"
#include "formats/strmap.h"

struct hfi_strmap_slot {
    const char *key;            /* NULL: empty */
    size_t len;
    uint64_t hash;
    uint64_t value;
};

static uint64_t fnv1a(const char *s, size_t len)
{
    uint64_t h = 14695981039346656037ull;
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static struct hfi_strmap_slot *probe(struct hfi_strmap_slot *slots, size_t cap, const char *key,
                                     size_t len, uint64_t hash)
{
    size_t i = (size_t)hash & (cap - 1);

    while (slots[i].key &&
           !(slots[i].hash == hash && slots[i].len == len && memcmp(slots[i].key, key, len) == 0))
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

static int grow(hfi_strmap_t *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16, i;
    struct hfi_strmap_slot *slots;

    if (cap > SIZE_MAX / 2 / sizeof *slots)
        return HF_ENOMEM;
    slots = calloc(cap, sizeof *slots);
    if (!slots)
        return HF_ENOMEM;
    for (i = 0; i < m->cap; i++)
        if (m->slots[i].key)
            *probe(slots, cap, m->slots[i].key, m->slots[i].len, m->slots[i].hash) = m->slots[i];
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

int hfi_strmap_put(hfi_strmap_t *m, const char *key, size_t len, uint64_t value, uint64_t *old)
{
    uint64_t hash = fnv1a(key, len);
    struct hfi_strmap_slot *s;

    if ((m->n + 1) * 2 > m->cap) {
        int rc = grow(m);
        if (rc < 0)
            return rc;
    }
    s = probe(m->slots, m->cap, key, len, hash);
    if (s->key) {
        if (old)
            *old = s->value;
        return 1;
    }
    s->key = key;
    s->len = len;
    s->hash = hash;
    s->value = value;
    m->n++;
    return 0;
}

int hfi_strmap_get(const hfi_strmap_t *m, const char *key, size_t len, uint64_t *value)
{
    const struct hfi_strmap_slot *s;

    if (m->cap == 0)
        return 0;
    s = probe(m->slots, m->cap, key, len, fnv1a(key, len));
    if (!s->key)
        return 0;
    if (value)
        *value = s->value;
    return 1;
}

void hfi_strmap_free(hfi_strmap_t *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}
