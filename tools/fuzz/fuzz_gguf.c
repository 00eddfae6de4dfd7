/*
 * fuzz_gguf.c - hf_gguf_parse on arbitrary bytes.
 *
 * On success, every accessor is walked and checked against the buffer: each key is found
 * again by name and its getter of the stored type succeeds (the others refuse with
 * HF_EFORMAT); array elements (the first 64 and the last of each array, nested arrays to
 * their depth) are read with the matching element getter, strings pointing inside the
 * buffer; every tensor lies inside the buffer (offset + nbytes <= size, data == buf +
 * offset) in the data section, at a multiple of the alignment, findable by its name, and
 * no two non-empty tensors overlap. On failure, the code is a reader's and the message set.
 */
#include "config.h"

#include "fuzz.h"

#include "hf/formats.h"

#define SAMPLE 64               /* array elements read from the front of each array */

typedef struct ctx {
    const uint8_t *buf;
    size_t size;
} ctx_t;

static int is_int_type(hf_gguf_type_t t)
{
    return t == HF_GGUF_UINT8 || t == HF_GGUF_INT8 || t == HF_GGUF_UINT16 ||
           t == HF_GGUF_INT16 || t == HF_GGUF_UINT32 || t == HF_GGUF_INT32 ||
           t == HF_GGUF_UINT64 || t == HF_GGUF_INT64;
}

static int is_float_type(hf_gguf_type_t t)
{
    return t == HF_GGUF_FLOAT32 || t == HF_GGUF_FLOAT64;
}

static void check_array(const ctx_t *c, const hf_gguf_array_t *a, unsigned depth);

/* Element `i` of `a`, read with every getter: the one of its type succeeds. */
static void check_element(const ctx_t *c, const hf_gguf_array_t *a, uint64_t i, unsigned depth)
{
    uint64_t u;
    int64_t s;
    double d;
    bool b;
    const char *str;
    size_t len;
    hf_gguf_array_t sub;
    int ru = hf_gguf_array_u64(a, i, &u), rs = hf_gguf_array_i64(a, i, &s);
    int rd = hf_gguf_array_f64(a, i, &d), rb = hf_gguf_array_bool(a, i, &b);
    int rstr = hf_gguf_array_str(a, i, &str, &len), rarr = hf_gguf_array_array(a, i, &sub);

    HFZ_CHECK(ru == 0 || ru == HF_EFORMAT);
    HFZ_CHECK(rs == 0 || rs == HF_EFORMAT);
    HFZ_CHECK((rd == 0) == is_float_type(a->type) && (rd == 0 || rd == HF_EFORMAT));
    HFZ_CHECK((rb == 0) == (a->type == HF_GGUF_BOOL) && (rb == 0 || rb == HF_EFORMAT));
    HFZ_CHECK((rstr == 0) == (a->type == HF_GGUF_STRING) && (rstr == 0 || rstr == HF_EFORMAT));
    HFZ_CHECK((rarr == 0) == (a->type == HF_GGUF_ARRAY) && (rarr == 0 || rarr == HF_EFORMAT));
    if (is_int_type(a->type))
        HFZ_CHECK(ru == 0 || rs == 0);  /* every integer fits one of them */
    else
        HFZ_CHECK(ru == HF_EFORMAT && rs == HF_EFORMAT);
    if (rstr == 0)
        HFZ_CHECK(hfz_inside(str, len, c->buf, c->size));
    if (rarr == 0) {
        HFZ_CHECK(depth < HF_GGUF_MAX_ARRAY_DEPTH);
        check_array(c, &sub, depth + 1);
    }
}

static void check_array(const ctx_t *c, const hf_gguf_array_t *a, unsigned depth)
{
    uint64_t i, u;

    HFZ_CHECK(a->type <= HF_GGUF_FLOAT64);
    HFZ_CHECK(hfz_inside(a->priv_data, a->priv_size, c->buf, c->size));
    for (i = 0; i < a->count && i < SAMPLE; i++)
        check_element(c, a, i, depth);
    if (a->count > SAMPLE)
        check_element(c, a, a->count - 1, depth);
    HFZ_CHECK(hf_gguf_array_u64(a, a->count, &u) == HF_EINVAL);
}

static void check_kv(const ctx_t *c, const hf_gguf_t *g, size_t i)
{
    const char *key = hf_gguf_kv_key(g, i), *str;
    int type = hf_gguf_kv_type(g, i);
    hf_error_t err;
    uint64_t u;
    int64_t s;
    double d;
    bool b;
    size_t len;
    hf_gguf_array_t arr;
    int ru, rs, rd, rb, rstr, rarr;

    HFZ_CHECK(key != NULL && key[0] != '\0');
    HFZ_CHECK(hf_gguf_find_key(g, key) == (long)i);
    HFZ_CHECK(type >= HF_GGUF_UINT8 && type <= HF_GGUF_FLOAT64);
    ru = hf_gguf_get_u64(g, key, &u, &err);
    rs = hf_gguf_get_i64(g, key, &s, &err);
    rd = hf_gguf_get_f64(g, key, &d, &err);
    rb = hf_gguf_get_bool(g, key, &b, &err);
    rstr = hf_gguf_get_str(g, key, &str, &len, &err);
    rarr = hf_gguf_get_array(g, key, &arr, &err);
    HFZ_CHECK(ru == 0 || ru == HF_EFORMAT);
    HFZ_CHECK(rs == 0 || rs == HF_EFORMAT);
    HFZ_CHECK(rd == 0 ? is_float_type((hf_gguf_type_t)type) : rd == HF_EFORMAT);
    HFZ_CHECK(rb == 0 ? type == HF_GGUF_BOOL : rb == HF_EFORMAT);
    HFZ_CHECK(rstr == 0 ? type == HF_GGUF_STRING : rstr == HF_EFORMAT);
    HFZ_CHECK(rarr == 0 ? type == HF_GGUF_ARRAY : rarr == HF_EFORMAT);
    if (is_int_type((hf_gguf_type_t)type))
        HFZ_CHECK(ru == 0 || rs == 0);
    else
        HFZ_CHECK(ru == HF_EFORMAT && rs == HF_EFORMAT);
    if (rstr == 0)
        HFZ_CHECK(str != NULL && str[len] == '\0' && strlen(str) <= len);
    if (rarr == 0)
        check_array(c, &arr, 1);
}

static void check_tensors(const ctx_t *c, const hf_gguf_t *g)
{
    size_t n = hf_gguf_tensor_count(g), i, k = 0;
    uint64_t align = hf_gguf_alignment(g), data = hf_gguf_data_offset(g);
    hfz_range_t *r = malloc((n ? n : 1) * sizeof *r);

    HFZ_CHECK(r != NULL);
    for (i = 0; i < n; i++) {
        const hf_tensor_info_t *t = hf_gguf_tensor(g, i);

        HFZ_CHECK(t != NULL && t->name != NULL && strlen(t->name) <= 64);
        HFZ_CHECK(hf_gguf_find_tensor(g, t->name) == t);
        HFZ_CHECK(t->ndim <= 4 && t->dtype != HF_DTYPE_UNKNOWN && t->dtype_name != NULL);
        HFZ_CHECK(hf_gguf_tensor_ggml_type(g, i) >= 0);
        /* inside the buffer, in the data section, aligned */
        HFZ_CHECK(t->nbytes <= c->size && t->offset <= c->size - t->nbytes);
        HFZ_CHECK(t->data == c->buf + t->offset);
        HFZ_CHECK(hfz_inside(t->data, t->nbytes, c->buf, c->size));
        HFZ_CHECK(t->offset >= data && (t->offset - data) % align == 0);
        if (t->nbytes) {
            r[k].begin = t->offset;
            r[k++].end = t->offset + t->nbytes;
        }
    }
    HFZ_CHECK(hf_gguf_tensor(g, n) == NULL && hf_gguf_tensor_ggml_type(g, n) == -1);
    hfz_sort_disjoint(r, k);
    free(r);
}

int hfz_gguf(const uint8_t *data, size_t size)
{
    hf_gguf_t *g = NULL;
    hf_error_t err;
    ctx_t c = { data, size };
    const hf_gguf_t *parts[1];
    size_t n, i, mapped;
    uint64_t align;
    int rc = hf_gguf_parse(data, size, "fuzz.gguf", &g, &err);

    if (hfz_refused(rc, g, &err))
        return 0;
    HFZ_CHECK(hf_gguf_version(g) == 2 || hf_gguf_version(g) == 3);
    HFZ_CHECK(hf_gguf_mapping(g, &mapped) == data && mapped == size);
    align = hf_gguf_alignment(g);
    HFZ_CHECK(align != 0 && align % 8 == 0 && align <= UINT32_MAX);
    HFZ_CHECK(hf_gguf_data_offset(g) <= size);
    HFZ_CHECK(hf_gguf_data_offset(g) % align == 0 || hf_gguf_data_offset(g) == size);
    n = hf_gguf_kv_count(g);
    for (i = 0; i < n; i++)
        check_kv(&c, g, i);
    HFZ_CHECK(hf_gguf_kv_key(g, n) == NULL && hf_gguf_kv_type(g, n) == -1);
    check_tensors(&c, g);
    parts[0] = g;
    rc = hf_gguf_check_split(parts, 1, &err);
    HFZ_CHECK(rc == 0 || rc == HF_EFORMAT);
    hf_gguf_close(g);
    return 0;
}

HFZ_ENTRY(hfz_gguf)
