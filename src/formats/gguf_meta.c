/*
 * gguf_meta.c - reading and validating GGUF metadata: keys, values, nested arrays.
 *
 * Design notes
 *  - every value is walked once, here, with a bounded cursor; afterwards the getters
 *    (gguf_get.c) may trust the structure they walk again;
 *  - before looping over an array, its count is checked against the bytes that remain,
 *    using the least bytes one element can take (its size for scalars, 8 for a string,
 *    12 for an array), so a huge count fails at once and the walk costs O(file size);
 *  - nesting is bounded (HF_GGUF_MAX_ARRAY_DEPTH), and so is the recursion;
 *  - keys must be printable ASCII, space included (the spec asks for ASCII; its naming
 *    convention is not enforced, real files do not all follow it) and unique; scalar
 *    strings must be UTF-8 and are copied, NUL-terminated, into the arena; strings inside
 *    arrays are left in the file as bytes and not checked for UTF-8: vocabularies hold
 *    hundreds of thousands of them, some converters write raw byte tokens there, and ggml
 *    accepts those files;
 *  - general.alignment is a uint32 power of two of at least 8: ggml requires a power of
 *    two (any, 1 included), the specification a multiple of 8; both hold; 32 when absent;
 *  - arrays of strings or arrays, at any depth, get a mark every HFI_GGUF_MARK_EVERY
 *    elements so that element i is found within that many steps; an array of arrays also
 *    lists, by offset, those of its elements that have marks, so that the view
 *    hf_gguf_array_array gives keeps them (a nested array once walked from its start, and
 *    reading all n strings of a nested array cost n^2/2 steps: 5 s for 40k). Marks take
 *    at most 1/64 of an array's bytes, the lists at most 16 bytes per nested array of more
 *    than HFI_GGUF_MARK_EVERY elements (each at least 512 bytes) at each level above it;
 *  - a bool must be 0 or 1, as the spec requires.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "formats/ferror.h"
#include "formats/gguf_impl.h"
#include "formats/utf8.h"

static const unsigned scalar_sizes[13] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };
static const char *const type_names[13] = {
    "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string",
    "array", "uint64", "int64", "float64",
};

unsigned hfi_gguf_scalar_size(uint32_t type)
{
    return type < 13 ? scalar_sizes[type] : 0;
}

const char *hfi_gguf_type_name(uint32_t type)
{
    return type < 13 ? type_names[type] : "unknown";
}

/* What a value is read for: its key (for messages), and the entry when it is top-level. */
typedef struct value_ctx {
    hf_gguf_t *g;
    const char *key;
    hf_error_t *err;
} value_ctx_t;

static int verr(const value_ctx_t *c, int code, uint64_t at, const char *what)
{
    return hfi_ferr(c->err, code, c->g->src.name, "key \"%.80s\": byte %" PRIu64 ": %s", c->key, at,
                    what);
}

static int truncated(const value_ctx_t *c, const hfi_rd_t *r, uint64_t need, const char *what)
{
    return hfi_ferr(c->err, HF_EFORMAT, c->g->src.name,
                    "key \"%.80s\": byte %" PRIu64 ": %s needs %" PRIu64
                    " bytes, %" PRIu64 " remain", c->key, r->pos, what, need, hfi_rd_left(r));
}

static int read_value(const value_ctx_t *c, hfi_rd_t *r, uint32_t type, unsigned depth,
                      hfi_gguf_kv_t *kv, const hfi_gguf_marks_t **marks);

static int read_string(const value_ctx_t *c, hfi_rd_t *r, hfi_gguf_kv_t *kv)
{
    uint64_t at = r->pos, len;
    size_t bad;

    if (!hfi_rd_has(r, 8))
        return truncated(c, r, 8, "a string length");
    len = hfi_rd_u64(r);
    if (!hfi_rd_has(r, len))
        return hfi_ferr(c->err, HF_EFORMAT, c->g->src.name,
                        "key \"%.80s\": byte %" PRIu64 ": string length %" PRIu64
                        " runs past end of file (%" PRIu64 " bytes)", c->key, at, len, r->len);
    if (kv) {
        const unsigned char *s = hfi_rd_at(r);
        if ((bad = hfi_utf8_scan(s, (size_t)len, 0)) < len)
            return verr(c, HF_EFORMAT, r->pos + bad, "string is not valid UTF-8");
        kv->str = hfi_arena_strndup(&c->g->src.arena, (const char *)s, (size_t)len);
        if (!kv->str)
            return hfi_ferr(c->err, HF_ENOMEM, c->g->src.name, "out of memory");
        kv->str_len = len;
    }
    r->pos += len;
    return 0;
}

static int oom(const value_ctx_t *c)
{
    return hfi_ferr(c->err, HF_ENOMEM, c->g->src.name, "out of memory");
}

/* Walk the `count` strings or arrays of type `et` from the cursor (the array's bytes begin
 * at `start`), and set `*marks` to what finds element i within HFI_GGUF_MARK_EVERY steps:
 * NULL when walking from the start does (at most that many elements, none with marks). */
static int walk_elements(const value_ctx_t *c, hfi_rd_t *r, uint32_t et, uint64_t count,
                         uint64_t start, unsigned depth, const hfi_gguf_marks_t **marks)
{
    uint64_t *pos = NULL, i;
    hfi_gguf_kid_t *kids = NULL, *copy = NULL;
    hfi_gguf_marks_t *m;
    size_t n_kids = 0, kids_cap = 0;
    int rc = 0;

    *marks = NULL;
    if (count > HFI_GGUF_MARK_EVERY) {
        /* count <= bytes left / 8, so this is at most 1/64 of the array's size */
        size_t n_pos = (size_t)((count - 1) / HFI_GGUF_MARK_EVERY + 1);
        if (!(pos = hfi_arena_alloc(&c->g->src.arena, n_pos * sizeof *pos)))
            return oom(c);
    }
    for (i = 0; i < count && rc == 0; i++) {
        const hfi_gguf_marks_t *kid = NULL;
        uint64_t at = r->pos - start;

        if (pos && i % HFI_GGUF_MARK_EVERY == 0)
            pos[i / HFI_GGUF_MARK_EVERY] = at;
        if ((rc = read_value(c, r, et, depth, NULL, &kid)) < 0 || !kid)
            continue;
        if (hfi_grow((void **)&kids, &kids_cap, n_kids + 1, sizeof *kids) < 0)
            rc = oom(c);
        else
            kids[n_kids++] = (hfi_gguf_kid_t){ at, kid };
    }
    if (rc == 0 && (pos || n_kids)) {
        m = hfi_arena_alloc(&c->g->src.arena, sizeof *m);
        if (n_kids && m)
            copy = hfi_arena_alloc(&c->g->src.arena, n_kids * sizeof *copy);
        if (!m || (n_kids && !copy)) {
            rc = oom(c);
        } else {
            if (n_kids)
                memcpy(copy, kids, n_kids * sizeof *copy);
            m->pos = pos;
            m->kids = copy;
            m->n_kids = n_kids;
            *marks = m;
        }
    }
    free(kids);
    return rc;
}

static int read_array(const value_ctx_t *c, hfi_rd_t *r, unsigned depth, hfi_gguf_kv_t *kv,
                      const hfi_gguf_marks_t **marks)
{
    uint64_t at = r->pos, count, min, start, i;
    uint32_t et;
    unsigned size;
    int rc;

    *marks = NULL;
    if (depth > HF_GGUF_MAX_ARRAY_DEPTH)
        return hfi_ferr(c->err, HF_EUNSUPPORTED, c->g->src.name, "key \"%.80s\": byte %" PRIu64
                        ": arrays nested more than %d deep", c->key, at, HF_GGUF_MAX_ARRAY_DEPTH);
    if (!hfi_rd_has(r, 12))
        return truncated(c, r, 12, "an array header");
    et = hfi_rd_u32(r);
    count = hfi_rd_u64(r);
    if (et > HF_GGUF_FLOAT64)
        return hfi_ferr(c->err, HF_EFORMAT, c->g->src.name,
                        "key \"%.80s\": byte %" PRIu64 ": unknown array element type %" PRIu32,
                        c->key, at, et);
    size = hfi_gguf_scalar_size(et);
    min = size ? size : et == HF_GGUF_STRING ? 8 : 12;
    if (count > hfi_rd_left(r) / min)
        return hfi_ferr(c->err, HF_EFORMAT, c->g->src.name,
                        "key \"%.80s\": byte %" PRIu64 ": array of %" PRIu64
                        " %s cannot fit in the remaining %" PRIu64 " bytes", c->key, at, count,
                        hfi_gguf_type_name(et), hfi_rd_left(r));
    start = r->pos;
    if (size) {
        if (et == HF_GGUF_BOOL)
            for (i = 0; i < count; i++)
                if (r->p[start + i] > 1)
                    return verr(c, HF_EFORMAT, start + i, "bool element is neither 0 nor 1");
        r->pos += count * size;
    } else if ((rc = walk_elements(c, r, et, count, start, depth, marks)) < 0) {
        return rc;
    }
    if (kv) {
        kv->arr.type = (hf_gguf_type_t)et;
        kv->arr.count = count;
        kv->arr.priv_data = r->p + start;
        kv->arr.priv_size = r->pos - start;
        kv->arr.priv_marks = *marks;
    }
    return 0;
}

/* Read one value of `type` at the cursor; `kv` is the entry for a top-level value. An
 * array's marks go to `*marks` (NULL for other values, and arrays that need none). */
static int read_value(const value_ctx_t *c, hfi_rd_t *r, uint32_t type, unsigned depth,
                      hfi_gguf_kv_t *kv, const hfi_gguf_marks_t **marks)
{
    unsigned size = hfi_gguf_scalar_size(type);

    *marks = NULL;
    if (type == HF_GGUF_STRING)
        return read_string(c, r, kv);
    if (type == HF_GGUF_ARRAY)
        return read_array(c, r, depth + 1, kv, marks);
    if (size == 0)
        return hfi_ferr(c->err, HF_EFORMAT, c->g->src.name,
                        "key \"%.80s\": byte %" PRIu64 ": unknown value type %" PRIu32, c->key,
                        r->pos - 4, type);
    if (!hfi_rd_has(r, size))
        return truncated(c, r, size, "the value");
    if (type == HF_GGUF_BOOL && r->p[r->pos] > 1)
        return verr(c, HF_EFORMAT, r->pos, "bool value is neither 0 nor 1");
    if (kv)
        kv->raw = hfi_rd_at(r);
    r->pos += size;
    return 0;
}

static int read_key(hf_gguf_t *g, hfi_rd_t *r, uint64_t i, hfi_gguf_kv_t *kv, hf_error_t *err)
{
    uint64_t len, j;
    const unsigned char *s;

    if (!hfi_rd_has(r, 8))
        return hfi_ferr(err, HF_EFORMAT, g->src.name, "key #%" PRIu64 ": byte %" PRIu64
                        ": truncated key length", i, r->pos);
    len = hfi_rd_u64(r);
    if (len == 0 || len > HFI_GGUF_MAX_KEY)
        return hfi_ferr(err, HF_EFORMAT, g->src.name, "key #%" PRIu64 ": byte %" PRIu64
                        ": key length %" PRIu64 " is not in [1, 65535]", i, kv->at, len);
    if (!hfi_rd_has(r, len))
        return hfi_ferr(err, HF_EFORMAT, g->src.name, "key #%" PRIu64 ": byte %" PRIu64
                        ": key length %" PRIu64 " runs past end of file (%" PRIu64 " bytes)",
                        i, kv->at, len, r->len);
    s = hfi_rd_at(r);
    for (j = 0; j < len; j++)
        if (s[j] < 0x20 || s[j] >= 0x7f)
            return hfi_ferr(err, HF_EFORMAT, g->src.name, "key #%" PRIu64 ": byte %" PRIu64
                            ": key is not printable ASCII (0x%02x)", i, r->pos + j, s[j]);
    kv->key = hfi_arena_strndup(&g->src.arena, (const char *)s, (size_t)len);
    if (!kv->key)
        return hfi_ferr(err, HF_ENOMEM, g->src.name, "out of memory");
    r->pos += len;
    return 0;
}

static int read_alignment(hf_gguf_t *g, hf_error_t *err)
{
    uint64_t i;
    uint32_t a;
    const hfi_gguf_kv_t *kv;

    g->alignment = HFI_GGUF_DEFAULT_ALIGNMENT;
    if (!hfi_strmap_get(&g->keys, "general.alignment", 17, &i))
        return 0;
    kv = &g->kv[i];
    if (kv->type != HF_GGUF_UINT32)
        return hfi_ferr(err, HF_EFORMAT, g->src.name, "key \"general.alignment\": byte %" PRIu64
                        ": type %s, must be uint32", kv->at, hfi_gguf_type_name(kv->type));
    a = hfi_le32(kv->raw);
    if (a < 8 || (a & (a - 1)) != 0)        /* powers of two from 8 up: multiples of 8 */
        return hfi_ferr(err, HF_EFORMAT, g->src.name, "key \"general.alignment\": byte %" PRIu64
                        ": %" PRIu32 " is not a power of two of at least 8", kv->at, a);
    g->alignment = a;
    return 0;
}

int hfi_gguf_read_kvs(hf_gguf_t *g, hfi_rd_t *r, uint64_t n, hf_error_t *err)
{
    uint64_t i, old;
    int rc;

    for (i = 0; i < n; i++) {
        const hfi_gguf_marks_t *marks;
        hfi_gguf_kv_t *kv;
        value_ctx_t c;
        uint32_t type;

        if ((rc = hfi_grow((void **)&g->kv, &g->kv_cap, g->n_kv + 1, sizeof *g->kv)) < 0)
            return hfi_ferr(err, rc, g->src.name, "out of memory");
        kv = &g->kv[g->n_kv];
        memset(kv, 0, sizeof *kv);
        kv->at = r->pos;
        if ((rc = read_key(g, r, i, kv, err)) < 0)
            return rc;
        rc = hfi_strmap_put(&g->keys, kv->key, strlen(kv->key), g->n_kv, &old);
        if (rc < 0)
            return hfi_ferr(err, rc, g->src.name, "out of memory");
        if (rc == 1)
            return hfi_ferr(err, HF_EFORMAT, g->src.name, "key \"%.80s\": byte %" PRIu64
                            ": duplicate key (first at byte %" PRIu64 ")", kv->key, kv->at,
                            g->kv[old].at);
        g->n_kv++;              /* from here on the entry is findable */
        c.g = g;
        c.key = kv->key;
        c.err = err;
        if (!hfi_rd_has(r, 4))
            return truncated(&c, r, 4, "the value type");
        type = hfi_rd_u32(r);
        kv->type = (hf_gguf_type_t)type;
        if ((rc = read_value(&c, r, type, 0, kv, &marks)) < 0)
            return rc;
    }
    return read_alignment(g, err);
}
