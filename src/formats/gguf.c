/*
 * gguf.c - GGUF files: the header, the order of the sections, lifetime and accessors.
 *
 * Design notes
 *  - a file is read in one pass, front to back, by a bounded cursor: header (magic,
 *    version, counts), metadata (gguf_meta.c), tensor infos and data ranges
 *    (gguf_tensors.c); the first problem ends the parse and everything is freed;
 *  - versions 2 and 3 share one layout (v3 only allows big-endian files, which cannot be
 *    told apart except by their version bytes: 00 00 00 03 read little-endian); version 1
 *    used 32-bit counts and is HF_EUNSUPPORTED, as is a big-endian file;
 *  - before any entry is read, the two counts are checked against the bytes left, each
 *    entry costing at least HFI_GGUF_MIN_KV / HFI_GGUF_MIN_TENSOR bytes; arrays then grow
 *    with the entries actually read;
 *  - tensor data is never copied: `data` points into the mapping (or the caller's buffer),
 *    which lives as long as the hf_gguf_t.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "formats/ferror.h"
#include "formats/gguf_impl.h"

static int read_header(hf_gguf_t *g, hfi_rd_t *r, uint64_t *n_tensors, uint64_t *n_kv,
                       hf_error_t *err)
{
    const unsigned char *p = g->src.base;
    uint64_t left;

    if (g->src.size < 24)
        return hfi_ferr(err, HF_EFORMAT, g->src.name, "%" PRIu64 " bytes: too short for a GGUF "
                        "header (24 bytes)", g->src.size);
    if (memcmp(p, "GGUF", 4) != 0)
        return hfi_ferr(err, HF_EFORMAT, g->src.name, "byte 0: not a GGUF file (magic %02x %02x "
                        "%02x %02x)", p[0], p[1], p[2], p[3]);
    r->pos = 4;
    g->version = hfi_rd_u32(r);
    if (g->version == 0x02000000u || g->version == 0x03000000u)
        return hfi_ferr(err, HF_EUNSUPPORTED, g->src.name, "byte 4: big-endian GGUF (version "
                        "bytes %02x %02x %02x %02x) is not supported", p[4], p[5], p[6], p[7]);
    if (g->version != 2 && g->version != 3)
        return hfi_ferr(err, HF_EUNSUPPORTED, g->src.name, "byte 4: GGUF version %" PRIu32
                        " is not supported (only 2 and 3)", g->version);
    *n_tensors = hfi_rd_u64(r);
    *n_kv = hfi_rd_u64(r);
    left = hfi_rd_left(r);
    if (*n_tensors > left / HFI_GGUF_MIN_TENSOR)
        return hfi_ferr(err, HF_EFORMAT, g->src.name, "byte 8: tensor count %" PRIu64 " cannot "
                        "fit in the remaining %" PRIu64 " bytes", *n_tensors, left);
    if (*n_kv > left / HFI_GGUF_MIN_KV)
        return hfi_ferr(err, HF_EFORMAT, g->src.name, "byte 16: metadata count %" PRIu64
                        " cannot fit in the remaining %" PRIu64 " bytes", *n_kv, left);
    if (*n_tensors * HFI_GGUF_MIN_TENSOR > left - *n_kv * HFI_GGUF_MIN_KV)
        return hfi_ferr(err, HF_EFORMAT, g->src.name, "byte 8: %" PRIu64 " tensors and %" PRIu64
                        " metadata entries cannot fit in the remaining %" PRIu64 " bytes",
                        *n_tensors, *n_kv, left);
    return 0;
}

static int parse(void *obj, hf_error_t *err)
{
    hf_gguf_t *g = obj;
    hfi_rd_t r = { g->src.base, g->src.size, 0 };
    uint64_t n_tensors = 0, n_kv = 0;
    int rc;

    g->alignment = HFI_GGUF_DEFAULT_ALIGNMENT;
    if ((rc = read_header(g, &r, &n_tensors, &n_kv, err)) < 0)
        return rc;
    if ((rc = hfi_gguf_read_kvs(g, &r, n_kv, err)) < 0)
        return rc;
    return hfi_gguf_read_tensors(g, &r, n_tensors, err);
}

static void close_obj(void *obj)
{
    hf_gguf_t *g = obj;

    free(g->kv);
    free(g->ggml_types);
    hfi_strmap_free(&g->keys);
    hfi_tt_free(&g->tensors);
    hfi_source_free(&g->src);
    free(g);
}

static const hfi_reader_t gguf_reader = { sizeof(hf_gguf_t), parse, close_obj };

int hf_gguf_parse(const void *buf, size_t len, const char *name, hf_gguf_t **out,
                  hf_error_t *err)
{
    void *g = NULL;
    int rc = hfi_source_open(&gguf_reader, NULL, buf, len, name, out ? &g : NULL, err);

    if (out)
        *out = g;
    return rc;
}

int hf_gguf_open(const char *path, hf_gguf_t **out, hf_error_t *err)
{
    void *g = NULL;
    int rc = hfi_source_open(&gguf_reader, path, NULL, 0, NULL, out ? &g : NULL, err);

    if (out)
        *out = g;
    return rc;
}

void hf_gguf_close(hf_gguf_t *g)
{
    if (g)
        close_obj(g);
}

const char *hf_gguf_name(const hf_gguf_t *g)
{
    return g ? g->src.name : "";
}

uint32_t hf_gguf_version(const hf_gguf_t *g)
{
    return g ? g->version : 0;
}

uint64_t hf_gguf_alignment(const hf_gguf_t *g)
{
    return g ? g->alignment : 0;
}

uint64_t hf_gguf_data_offset(const hf_gguf_t *g)
{
    return g ? g->data_offset : 0;
}

const void *hf_gguf_mapping(const hf_gguf_t *g, size_t *size)
{
    if (size)
        *size = g ? (size_t)g->src.size : 0;
    return g ? g->src.base : NULL;
}

size_t hf_gguf_kv_count(const hf_gguf_t *g)
{
    return g ? g->n_kv : 0;
}

const char *hf_gguf_kv_key(const hf_gguf_t *g, size_t i)
{
    return g && i < g->n_kv ? g->kv[i].key : NULL;
}

int hf_gguf_kv_type(const hf_gguf_t *g, size_t i)
{
    return g && i < g->n_kv ? (int)g->kv[i].type : -1;
}

long hf_gguf_find_key(const hf_gguf_t *g, const char *key)
{
    uint64_t i;

    if (!g || !key || !hfi_strmap_get(&g->keys, key, strlen(key), &i))
        return -1;
    return (long)i;
}

size_t hf_gguf_tensor_count(const hf_gguf_t *g)
{
    return g ? g->tensors.n : 0;
}

const hf_tensor_info_t *hf_gguf_tensor(const hf_gguf_t *g, size_t i)
{
    return g ? hfi_tt_get(&g->tensors, i) : NULL;
}

const hf_tensor_info_t *hf_gguf_find_tensor(const hf_gguf_t *g, const char *name)
{
    return g ? hfi_tt_find(&g->tensors, name) : NULL;
}

long hf_gguf_tensor_ggml_type(const hf_gguf_t *g, size_t i)
{
    return g && i < g->tensors.n ? (long)g->ggml_types[i] : -1;
}
