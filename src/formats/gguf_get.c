/*
 * gguf_get.c - typed access to GGUF metadata: scalar getters by key, array elements.
 *
 * Design notes
 *  - values were validated when the file was opened (gguf_meta.c); walking an array here
 *    still goes through a bounded cursor, so a view can never lead outside its bytes;
 *  - an element past the first HFI_GGUF_MARK_EVERY is reached from the mark before it
 *    (gguf_meta.c), at any depth: hf_gguf_array_array hands a nested array its own marks,
 *    found by binary search in its parent's list;
 *  - numbers are decoded from the file's little-endian bytes on every call: nothing is
 *    converted ahead of time, and a getter's rules (any integer type for u64/i64, either
 *    float type for f64) live in one place, num_u64 / num_i64 / num_f64, shared by the
 *    by-key getters and the array element getters.
 */
#include "config.h"

#include <inttypes.h>
#include <string.h>

#include "formats/ferror.h"
#include "formats/gguf_impl.h"

enum { NUM_OK = 0, NUM_TYPE = -1, NUM_RANGE = -2 };

static bool is_unsigned(uint32_t t)
{
    return t == HF_GGUF_UINT8 || t == HF_GGUF_UINT16 || t == HF_GGUF_UINT32 ||
           t == HF_GGUF_UINT64;
}

static bool is_signed(uint32_t t)
{
    return t == HF_GGUF_INT8 || t == HF_GGUF_INT16 || t == HF_GGUF_INT32 ||
           t == HF_GGUF_INT64;
}

/* The raw little-endian bits of an integer scalar, zero-extended. */
static uint64_t raw_bits(uint32_t t, const unsigned char *p)
{
    switch (hfi_gguf_scalar_size(t)) {
    case 1: return p[0];
    case 2: return hfi_le16(p);
    case 4: return hfi_le32(p);
    default: return hfi_le64(p);
    }
}

/* Two's complement of the low `bytes` bytes of `v`, without implementation-defined casts. */
static int64_t sign_extend(uint64_t v, unsigned bytes)
{
    uint64_t sign = (uint64_t)1 << (bytes * 8 - 1);
    uint64_t mask = bytes == 8 ? UINT64_MAX : (sign << 1) - 1;

    v &= mask;
    if (!(v & sign))
        return (int64_t)v;
    return -(int64_t)(~v & mask) - 1;      /* ~v & mask <= INT64_MAX when the sign is set */
}

static int num_i64(uint32_t t, const unsigned char *p, int64_t *out)
{
    uint64_t v;

    if (!is_unsigned(t) && !is_signed(t))
        return NUM_TYPE;
    v = raw_bits(t, p);
    if (is_signed(t)) {
        *out = sign_extend(v, hfi_gguf_scalar_size(t));
        return NUM_OK;
    }
    if (v > INT64_MAX)
        return NUM_RANGE;
    *out = (int64_t)v;
    return NUM_OK;
}

static int num_u64(uint32_t t, const unsigned char *p, uint64_t *out)
{
    int64_t s;

    if (is_unsigned(t)) {
        *out = raw_bits(t, p);
        return NUM_OK;
    }
    if (!is_signed(t))
        return NUM_TYPE;
    s = sign_extend(raw_bits(t, p), hfi_gguf_scalar_size(t));
    if (s < 0)
        return NUM_RANGE;
    *out = (uint64_t)s;
    return NUM_OK;
}

static int num_f64(uint32_t t, const unsigned char *p, double *out)
{
    if (t == HF_GGUF_FLOAT32) {
        uint32_t bits = hfi_le32(p);
        float f;
        memcpy(&f, &bits, sizeof f);
        *out = f;
        return NUM_OK;
    }
    if (t == HF_GGUF_FLOAT64) {
        uint64_t bits = hfi_le64(p);
        memcpy(out, &bits, sizeof *out);
        return NUM_OK;
    }
    return NUM_TYPE;
}

/* The entry of `key`, for a getter that stores into `out`. */
static int find_kv(const hf_gguf_t *g, const char *key, const void *out,
                   const hfi_gguf_kv_t **kv, hf_error_t *err)
{
    uint64_t i;

    if (!g || !key || !out)
        return hfi_ferr(err, HF_EINVAL, NULL, "NULL argument");
    if (!hfi_strmap_get(&g->keys, key, strlen(key), &i))
        return hfi_ferr(err, HF_ENOENT, g->src.name, "key \"%.80s\" not found", key);
    *kv = &g->kv[i];
    return 0;
}

/* The getters' one error path: NUM_TYPE and NUM_RANGE into a message naming the key. */
static int num_error(const hf_gguf_t *g, const hfi_gguf_kv_t *kv, int num, const char *want,
                     hf_error_t *err)
{
    if (num == NUM_TYPE)
        return hfi_ferr(err, HF_EFORMAT, g->src.name, "key \"%.80s\" is %s, not %s", kv->key,
                        hfi_gguf_type_name(kv->type), want);
    return hfi_ferr(err, HF_EFORMAT, g->src.name, "key \"%.80s\": %s value does not fit %s",
                    kv->key, hfi_gguf_type_name(kv->type), want);
}

int hf_gguf_get_u64(const hf_gguf_t *g, const char *key, uint64_t *out, hf_error_t *err)
{
    const hfi_gguf_kv_t *kv;
    int rc;

    if ((rc = find_kv(g, key, out, &kv, err)) < 0)
        return rc;
    if ((rc = num_u64(kv->type, kv->raw, out)) < 0)
        return num_error(g, kv, rc, "an unsigned integer", err);
    return 0;
}

int hf_gguf_get_i64(const hf_gguf_t *g, const char *key, int64_t *out, hf_error_t *err)
{
    const hfi_gguf_kv_t *kv;
    int rc;

    if ((rc = find_kv(g, key, out, &kv, err)) < 0)
        return rc;
    if ((rc = num_i64(kv->type, kv->raw, out)) < 0)
        return num_error(g, kv, rc, "an int64", err);
    return 0;
}

int hf_gguf_get_f64(const hf_gguf_t *g, const char *key, double *out, hf_error_t *err)
{
    const hfi_gguf_kv_t *kv;
    int rc;

    if ((rc = find_kv(g, key, out, &kv, err)) < 0)
        return rc;
    if ((rc = num_f64(kv->type, kv->raw, out)) < 0)
        return num_error(g, kv, rc, "a float", err);
    return 0;
}

int hf_gguf_get_bool(const hf_gguf_t *g, const char *key, bool *out, hf_error_t *err)
{
    const hfi_gguf_kv_t *kv;
    int rc;

    if ((rc = find_kv(g, key, out, &kv, err)) < 0)
        return rc;
    if (kv->type != HF_GGUF_BOOL)
        return num_error(g, kv, NUM_TYPE, "a bool", err);
    *out = kv->raw[0] != 0;
    return 0;
}

int hf_gguf_get_str(const hf_gguf_t *g, const char *key, const char **out, size_t *len,
                    hf_error_t *err)
{
    const hfi_gguf_kv_t *kv;
    int rc;

    if ((rc = find_kv(g, key, out, &kv, err)) < 0)
        return rc;
    if (kv->type != HF_GGUF_STRING)
        return num_error(g, kv, NUM_TYPE, "a string", err);
    *out = kv->str;
    if (len)
        *len = (size_t)kv->str_len;
    return 0;
}

int hf_gguf_get_array(const hf_gguf_t *g, const char *key, hf_gguf_array_t *out,
                      hf_error_t *err)
{
    const hfi_gguf_kv_t *kv;
    int rc;

    if ((rc = find_kv(g, key, out, &kv, err)) < 0)
        return rc;
    if (kv->type != HF_GGUF_ARRAY)
        return num_error(g, kv, NUM_TYPE, "an array", err);
    *out = kv->arr;
    return 0;
}

/* ---- array elements ----------------------------------------------------------------- */

/* Move past one value of `type`; -1 if it would leave the cursor's bytes. */
static int skip_value(hfi_rd_t *r, uint32_t type)
{
    unsigned size = hfi_gguf_scalar_size(type);
    uint64_t n, bytes, i;
    uint32_t et;

    if (size)
        n = size;
    else if (type == HF_GGUF_STRING) {
        if (!hfi_rd_has(r, 8))
            return -1;
        n = hfi_rd_u64(r);
    } else if (type == HF_GGUF_ARRAY) {
        if (!hfi_rd_has(r, 12))
            return -1;
        et = hfi_rd_u32(r);
        n = hfi_rd_u64(r);
        if (hfi_gguf_scalar_size(et)) {
            if (!hfi_mul_ok(n, hfi_gguf_scalar_size(et), &bytes) || !hfi_rd_has(r, bytes))
                return -1;
            r->pos += bytes;
            return 0;
        }
        for (i = 0; i < n; i++)
            if (skip_value(r, et) < 0)
                return -1;
        return 0;
    } else
        return -1;
    if (!hfi_rd_has(r, n))
        return -1;
    r->pos += n;
    return 0;
}

/* Point `r` at element `i` of `a`, for an element getter that stores into `out`. */
static int seek(const hf_gguf_array_t *a, uint64_t i, const void *out, hfi_rd_t *r)
{
    const hfi_gguf_marks_t *m = a ? a->priv_marks : NULL;
    unsigned size;
    uint64_t j = 0;

    if (!a || !out || i >= a->count)
        return HF_EINVAL;
    r->p = a->priv_data;
    r->len = a->priv_size;
    r->pos = 0;
    size = hfi_gguf_scalar_size(a->type);
    if (size) {
        if (!hfi_rd_has(r, (i + 1) * size))     /* cannot overflow: i < count <= bytes */
            return HF_EFORMAT;
        r->pos = i * size;
        return 0;
    }
    if (m && m->pos) {
        j = i / HFI_GGUF_MARK_EVERY * HFI_GGUF_MARK_EVERY;
        r->pos = m->pos[i / HFI_GGUF_MARK_EVERY];
    }
    for (; j < i; j++)
        if (skip_value(r, a->type) < 0)
            return HF_EFORMAT;
    return 0;
}

int hf_gguf_array_u64(const hf_gguf_array_t *a, uint64_t i, uint64_t *out)
{
    hfi_rd_t r;
    int rc;

    if ((rc = seek(a, i, out, &r)) < 0)
        return rc;
    return num_u64(a->type, hfi_rd_at(&r), out) < 0 ? HF_EFORMAT : 0;
}

int hf_gguf_array_i64(const hf_gguf_array_t *a, uint64_t i, int64_t *out)
{
    hfi_rd_t r;
    int rc;

    if ((rc = seek(a, i, out, &r)) < 0)
        return rc;
    return num_i64(a->type, hfi_rd_at(&r), out) < 0 ? HF_EFORMAT : 0;
}

int hf_gguf_array_f64(const hf_gguf_array_t *a, uint64_t i, double *out)
{
    hfi_rd_t r;
    int rc;

    if ((rc = seek(a, i, out, &r)) < 0)
        return rc;
    return num_f64(a->type, hfi_rd_at(&r), out) < 0 ? HF_EFORMAT : 0;
}

int hf_gguf_array_bool(const hf_gguf_array_t *a, uint64_t i, bool *out)
{
    hfi_rd_t r;
    int rc;

    if ((rc = seek(a, i, out, &r)) < 0)
        return rc;
    if (a->type != HF_GGUF_BOOL)
        return HF_EFORMAT;
    *out = *hfi_rd_at(&r) != 0;
    return 0;
}

int hf_gguf_array_str(const hf_gguf_array_t *a, uint64_t i, const char **out, size_t *len)
{
    hfi_rd_t r;
    uint64_t n;
    int rc;

    if (!len)
        return HF_EINVAL;
    if ((rc = seek(a, i, out, &r)) < 0)
        return rc;
    if (a->type != HF_GGUF_STRING)
        return HF_EFORMAT;
    if (!hfi_rd_has(&r, 8))
        return HF_EFORMAT;
    n = hfi_rd_u64(&r);
    if (!hfi_rd_has(&r, n))
        return HF_EFORMAT;
    *out = (const char *)hfi_rd_at(&r);
    *len = (size_t)n;
    return 0;
}

/* The marks of the nested array whose header is at offset `at` of `a`, or NULL. */
static const hfi_gguf_marks_t *kid_marks(const hf_gguf_array_t *a, uint64_t at)
{
    const hfi_gguf_marks_t *m = a->priv_marks;
    size_t lo = 0, hi = m ? m->n_kids : 0;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->kids[mid].at == at)
            return m->kids[mid].marks;
        if (m->kids[mid].at < at)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int hf_gguf_array_array(const hf_gguf_array_t *a, uint64_t i, hf_gguf_array_t *out)
{
    hfi_rd_t r;
    uint64_t start;
    int rc;

    if ((rc = seek(a, i, out, &r)) < 0)
        return rc;
    if (a->type != HF_GGUF_ARRAY)
        return HF_EFORMAT;
    start = r.pos;
    if (skip_value(&r, HF_GGUF_ARRAY) < 0)
        return HF_EFORMAT;
    out->type = (hf_gguf_type_t)hfi_le32(a->priv_data + start);
    out->count = hfi_le64(a->priv_data + start + 4);
    out->priv_data = a->priv_data + start + 12;
    out->priv_size = r.pos - start - 12;
    out->priv_marks = kid_marks(a, start);
    return 0;
}
