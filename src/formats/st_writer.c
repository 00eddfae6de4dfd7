/*
 * st_writer.c - building safetensors files (and a sharded index) in memory.
 *
 * Design notes
 *  - the header is written by hand, not by cJSON, so that it is deterministic and integers
 *    print as integers: __metadata__ first, then the tensors in the order added;
 *  - tensors are packed from offset 0 with no gap, in the order added; the header is padded
 *    with spaces to a multiple of 8 bytes, as the reference writer does, so the data
 *    section starts 8-aligned;
 *  - sizes come from the dtype table the reader uses (dtype.c).
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "formats/arena.h"
#include "formats/bytes.h"
#include "formats/dtype.h"
#include "formats/writer.h"

struct hfi_st_writer {
    const char **meta;          /* key, value, ... */
    size_t n_meta, meta_cap;
    hfi_wtensors_t t;
    hfi_arena_t arena;          /* metadata strings */
    int error;
};

hfi_st_writer_t *hfi_st_writer_new(void)
{
    return calloc(1, sizeof(hfi_st_writer_t));
}

void hfi_st_writer_free(hfi_st_writer_t *w)
{
    if (!w)
        return;
    free(w->meta);
    hfi_wtensors_free(&w->t);
    hfi_arena_free(&w->arena);
    free(w);
}

static int add_metadata(hfi_st_writer_t *w, const char *key, const char *value)
{
    if (!key || !value)
        return HF_EINVAL;
    if (hfi_grow((void **)&w->meta, &w->meta_cap, 2 * w->n_meta + 2, sizeof *w->meta) < 0 ||
        !(w->meta[2 * w->n_meta] = hfi_arena_strndup(&w->arena, key, strlen(key))) ||
        !(w->meta[2 * w->n_meta + 1] = hfi_arena_strndup(&w->arena, value, strlen(value))))
        return HF_ENOMEM;
    w->n_meta++;
    return 0;
}

static int add_tensor(hfi_st_writer_t *w, const char *name, const char *dtype, unsigned ndim,
                      const uint64_t *shape, const void *data)
{
    const hfi_st_dtype_t *dt = dtype ? hfi_st_dtype(dtype) : NULL;
    uint64_t elements = 1, bits;
    hfi_wtensor_t *x;
    unsigned i;

    if (!name || !dt || ndim > HF_TENSOR_MAX_DIMS || (ndim && !shape))
        return HF_EINVAL;
    for (i = 0; i < ndim; i++)
        if (!hfi_mul_ok(elements, shape[i], &elements))
            return HF_EINVAL;
    if (!hfi_mul_ok(elements, dt->bits, &bits) || bits % 8 != 0)
        return HF_EINVAL;
    if (!(x = hfi_wtensors_add(&w->t, name, ndim, shape, data, bits / 8)))
        return HF_ENOMEM;
    x->dtype = dt->name;
    return 0;
}

void hfi_st_add_metadata(hfi_st_writer_t *w, const char *key, const char *value)
{
    if (!w->error)
        w->error = add_metadata(w, key, value);
}

void hfi_st_add_tensor(hfi_st_writer_t *w, const char *name, const char *dtype, unsigned ndim,
                       const uint64_t *shape, const void *data)
{
    if (!w->error)
        w->error = add_tensor(w, name, dtype, ndim, shape, data);
}

/* The JSON header, unpadded. */
static void put_header(const hfi_st_writer_t *w, hfi_buf_t *h)
{
    uint64_t offset = 0;
    size_t i;
    unsigned k;

    hfi_buf_put_u8(h, '{');
    if (w->n_meta) {
        hfi_buf_printf(h, "\"__metadata__\":{");
        for (i = 0; i < w->n_meta; i++) {
            hfi_buf_printf(h, "%s", i ? "," : "");
            hfi_buf_put_json_str(h, w->meta[2 * i]);
            hfi_buf_put_u8(h, ':');
            hfi_buf_put_json_str(h, w->meta[2 * i + 1]);
        }
        hfi_buf_printf(h, "}%s", w->t.n ? "," : "");
    }
    for (i = 0; i < w->t.n; i++) {
        const hfi_wtensor_t *x = &w->t.v[i];
        hfi_buf_printf(h, "%s", i ? "," : "");
        hfi_buf_put_json_str(h, x->name);
        hfi_buf_printf(h, ":{\"dtype\":\"%s\",\"shape\":[", x->dtype);
        for (k = 0; k < x->ndim; k++)
            hfi_buf_printf(h, "%s%" PRIu64, k ? "," : "", x->dims[k]);
        hfi_buf_printf(h, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", offset,
                       offset + x->nbytes);
        offset += x->nbytes;
    }
    hfi_buf_put_u8(h, '}');
}

int hfi_st_writer_finish(hfi_st_writer_t *w, hfi_buf_t *out)
{
    hfi_buf_t h = HFI_BUF_INIT;
    size_t i;
    int rc;

    if (w->error)
        return w->error;
    put_header(w, &h);
    while (!h.error && h.len % 8 != 0)
        hfi_buf_put_u8(&h, ' ');
    if ((rc = h.error) == 0) {
        hfi_buf_put_u64(out, h.len);
        hfi_buf_put(out, h.data, h.len);
        for (i = 0; i < w->t.n; i++)
            hfi_buf_put(out, w->t.v[i].data, (size_t)w->t.v[i].nbytes);
        rc = out->error;
    }
    hfi_buf_free(&h);
    return rc;
}

int hfi_st_index_write(hfi_buf_t *out, const char *const *tensors, const char *const *shards,
                       size_t n, uint64_t total_size)
{
    size_t i;

    hfi_buf_printf(out, "{\n  \"metadata\": {\n    \"total_size\": %" PRIu64 "\n  },\n"
                   "  \"weight_map\": {", total_size);
    for (i = 0; i < n; i++) {
        hfi_buf_printf(out, "%s\n    ", i ? "," : "");
        hfi_buf_put_json_str(out, tensors[i]);
        hfi_buf_printf(out, ": ");
        hfi_buf_put_json_str(out, shards[i]);
    }
    hfi_buf_printf(out, "\n  }\n}\n");
    return out->error;
}
