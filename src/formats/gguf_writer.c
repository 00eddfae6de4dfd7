/*
 * gguf_writer.c - building GGUF v3 files in memory.
 *
 * Design notes
 *  - metadata entries are encoded as they are added, into one buffer; tensors are kept
 *    (name, type, dims, a copy of the data) and laid out by the finishing call, because
 *    "general.alignment" may be added after them;
 *  - layout, as the spec draws it: header, metadata, tensor infos, zero padding to the
 *    alignment, then each tensor's data followed by zero padding to the alignment, so
 *    every tensor offset (relative to the data section) is a multiple of it;
 *  - sizes come from the same ggml type table the reader uses (dtype.c).
 */
#include "config.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "formats/dtype.h"
#include "formats/gguf_impl.h"
#include "formats/writer.h"

struct hfi_gguf_writer {
    uint32_t version;
    uint64_t alignment;
    uint64_t n_kv;
    hfi_buf_t kv;               /* the encoded metadata entries */
    hfi_wtensors_t t;
    int error;
};

hfi_gguf_writer_t *hfi_gguf_writer_new(void)
{
    hfi_gguf_writer_t *w = calloc(1, sizeof *w);

    if (w) {
        w->version = 3;
        w->alignment = HFI_GGUF_DEFAULT_ALIGNMENT;
    }
    return w;
}

void hfi_gguf_writer_free(hfi_gguf_writer_t *w)
{
    if (!w)
        return;
    hfi_buf_free(&w->kv);
    hfi_wtensors_free(&w->t);
    free(w);
}

void hfi_gguf_writer_set_version(hfi_gguf_writer_t *w, uint32_t version)
{
    w->version = version;
}

static bool failed(hfi_gguf_writer_t *w, int code)
{
    if (!w->error)
        w->error = code;
    return true;
}

/* Start an entry: its key and type. False (nothing written) after an error. */
static bool begin(hfi_gguf_writer_t *w, const char *key, uint32_t type)
{
    if (w->error)
        return false;
    if (!key && failed(w, HF_EINVAL))
        return false;
    hfi_buf_put_gguf_str(&w->kv, key, strlen(key));
    hfi_buf_put_u32(&w->kv, type);
    w->n_kv++;
    return true;
}

/* Append the little-endian bytes of an integer of GGUF scalar `type`. */
static void put_bits(hfi_buf_t *b, uint32_t type, uint64_t bits)
{
    unsigned size = hfi_gguf_scalar_size(type), i;

    for (i = 0; i < size; i++)
        hfi_buf_put_u8(b, (uint8_t)(bits >> (8 * i)));
}

void hfi_gguf_add_uint(hfi_gguf_writer_t *w, const char *key, hf_gguf_type_t type, uint64_t v)
{
    unsigned size = hfi_gguf_scalar_size(type);

    if ((type != HF_GGUF_UINT8 && type != HF_GGUF_UINT16 && type != HF_GGUF_UINT32 &&
         type != HF_GGUF_UINT64) || (size < 8 && v >> (8 * size)))
        failed(w, HF_EINVAL);
    if (!begin(w, key, type))
        return;
    put_bits(&w->kv, type, v);
    if (key && strcmp(key, "general.alignment") == 0 && type == HF_GGUF_UINT32 && v != 0 &&
        v % 8 == 0)
        w->alignment = v;
}

void hfi_gguf_add_int(hfi_gguf_writer_t *w, const char *key, hf_gguf_type_t type, int64_t v)
{
    unsigned size = hfi_gguf_scalar_size(type);
    int64_t lim = size < 8 ? (int64_t)1 << (8 * size - 1) : 0;

    if ((type != HF_GGUF_INT8 && type != HF_GGUF_INT16 && type != HF_GGUF_INT32 &&
         type != HF_GGUF_INT64) || (size < 8 && (v < -lim || v >= lim)))
        failed(w, HF_EINVAL);
    if (begin(w, key, type))
        put_bits(&w->kv, type, (uint64_t)v);
}

void hfi_gguf_add_float(hfi_gguf_writer_t *w, const char *key, hf_gguf_type_t type, double v)
{
    uint64_t bits = 0;

    if ((type != HF_GGUF_FLOAT32 && type != HF_GGUF_FLOAT64) ||
        (type == HF_GGUF_FLOAT32 && (v > FLT_MAX || v < -FLT_MAX)))
        failed(w, HF_EINVAL);
    if (!begin(w, key, type))
        return;
    if (type == HF_GGUF_FLOAT32) {
        float f = (float)v;
        uint32_t b32;
        memcpy(&b32, &f, sizeof b32);
        bits = b32;
    } else
        memcpy(&bits, &v, sizeof bits);
    put_bits(&w->kv, type, bits);
}

void hfi_gguf_add_bool(hfi_gguf_writer_t *w, const char *key, bool v)
{
    if (begin(w, key, HF_GGUF_BOOL))
        hfi_buf_put_u8(&w->kv, v ? 1 : 0);
}

void hfi_gguf_add_str(hfi_gguf_writer_t *w, const char *key, const char *v)
{
    if (!v)
        failed(w, HF_EINVAL);
    if (begin(w, key, HF_GGUF_STRING))
        hfi_buf_put_gguf_str(&w->kv, v, strlen(v));
}

void hfi_gguf_add_array(hfi_gguf_writer_t *w, const char *key, hf_gguf_type_t type,
                        const void *elems, uint64_t count)
{
    unsigned size = hfi_gguf_scalar_size(type);
    size_t stride = type == HF_GGUF_BOOL ? sizeof(bool) : size;
    const unsigned char *p = elems;
    uint64_t i;

    if (size == 0 || (count && !elems))
        failed(w, HF_EINVAL);
    if (!begin(w, key, HF_GGUF_ARRAY))
        return;
    hfi_buf_put_u32(&w->kv, type);
    hfi_buf_put_u64(&w->kv, count);
    for (i = 0; i < count; i++, p += stride) {
        uint64_t bits = 0;
        if (type == HF_GGUF_BOOL)
            bits = *(const bool *)(const void *)p ? 1 : 0;
        else if (size == 1)
            bits = *p;
        else if (size == 2) {
            uint16_t v;
            memcpy(&v, p, 2);
            bits = v;
        } else if (size == 4) {
            uint32_t v;
            memcpy(&v, p, 4);
            bits = v;
        } else
            memcpy(&bits, p, 8);
        put_bits(&w->kv, type, bits);
    }
}

void hfi_gguf_add_str_array(hfi_gguf_writer_t *w, const char *key, const char *const *v,
                            size_t count)
{
    size_t i;

    for (i = 0; i < count; i++)
        if (!v[i])
            failed(w, HF_EINVAL);
    if (!begin(w, key, HF_GGUF_ARRAY))
        return;
    hfi_buf_put_u32(&w->kv, HF_GGUF_STRING);
    hfi_buf_put_u64(&w->kv, count);
    for (i = 0; i < count; i++)
        hfi_buf_put_gguf_str(&w->kv, v[i], strlen(v[i]));
}

void hfi_gguf_add_raw(hfi_gguf_writer_t *w, const char *key, uint32_t type, const void *value,
                      size_t len)
{
    if (len && !value)
        failed(w, HF_EINVAL);
    if (begin(w, key, type))
        hfi_buf_put(&w->kv, value, len);
}

static int add_tensor(hfi_gguf_writer_t *w, const char *name, uint32_t type, unsigned ndim,
                      const uint64_t *dims, const void *data)
{
    const hfi_ggml_type_t *t = hfi_ggml_type(type);
    uint64_t shape[HFI_GGUF_MAX_DIMS] = { 0 }, nbytes;
    hfi_wtensor_t *x;

    if (!name || strlen(name) > HFI_GGUF_MAX_NAME || ndim > HFI_GGUF_MAX_DIMS ||
        (ndim && !dims) || !t)
        return HF_EINVAL;
    if (ndim)
        memcpy(shape, dims, ndim * sizeof *dims);
    if (hfi_ggml_nbytes(t, ndim, shape, &nbytes) < 0)
        return HF_EINVAL;
    if (!(x = hfi_wtensors_add(&w->t, name, ndim, shape, data, nbytes)))
        return HF_ENOMEM;
    x->type = type;
    return 0;
}

void hfi_gguf_add_tensor(hfi_gguf_writer_t *w, const char *name, uint32_t type, unsigned ndim,
                         const uint64_t *dims, const void *data)
{
    if (!w->error)
        w->error = add_tensor(w, name, type, ndim, dims, data);
}

static uint64_t pad_to(uint64_t n, uint64_t a)
{
    return (a - n % a) % a;
}

int hfi_gguf_writer_finish(hfi_gguf_writer_t *w, hfi_buf_t *out)
{
    uint64_t offset = 0;
    size_t start = out->len, i;
    unsigned k;

    if (w->error || w->kv.error)
        return w->error ? w->error : w->kv.error;
    hfi_buf_put(out, "GGUF", 4);
    hfi_buf_put_u32(out, w->version);
    hfi_buf_put_u64(out, w->t.n);
    hfi_buf_put_u64(out, w->n_kv);
    hfi_buf_put(out, w->kv.data, w->kv.len);
    for (i = 0; i < w->t.n; i++) {
        const hfi_wtensor_t *x = &w->t.v[i];
        hfi_buf_put_gguf_str(out, x->name, strlen(x->name));
        hfi_buf_put_u32(out, x->ndim);
        for (k = 0; k < x->ndim; k++)
            hfi_buf_put_u64(out, x->dims[k]);
        hfi_buf_put_u32(out, x->type);
        hfi_buf_put_u64(out, offset);
        offset += x->nbytes + pad_to(x->nbytes, w->alignment);
    }
    hfi_buf_put_zeros(out, (size_t)pad_to(out->len - start, w->alignment));
    for (i = 0; i < w->t.n; i++) {
        hfi_buf_put(out, w->t.v[i].data, (size_t)w->t.v[i].nbytes);
        hfi_buf_put_zeros(out, (size_t)pad_to(w->t.v[i].nbytes, w->alignment));
    }
    return out->error;
}
