/*
 * gguf_tensors.c - GGUF tensor infos: names, shapes, types, offsets, byte ranges.
 *
 * Design notes
 *  - a name is at most 64 bytes of UTF-8 and unique; at most 4 dimensions (more is
 *    HF_EUNSUPPORTED: the spec says this may change); a type id without an entry in
 *    dtype.c is HF_EUNSUPPORTED naming the tensor;
 *  - a tensor's size is whole ggml blocks along ne[0] times the other dimensions, with
 *    each dimension and the element count bounded by INT64_MAX as ggml bounds them (its ne
 *    are int64_t) and the byte size by 2^64 (dtype.c);
 *  - the data section starts at the first multiple of the alignment after the tensor
 *    infos; offsets are relative to it and must be multiples of the alignment; a range is
 *    checked against the file before the table records it as absolute;
 *  - the padding bytes are not inspected: the spec asks writers for zeros, nothing depends
 *    on them.
 */
#include "config.h"

#include <inttypes.h>
#include <string.h>

#include "formats/dtype.h"
#include "formats/ferror.h"
#include "formats/gguf_impl.h"
#include "formats/utf8.h"

static int read_name(hf_gguf_t *g, hfi_rd_t *r, uint64_t i, const char **name, hf_error_t *err)
{
    uint64_t at = r->pos, len;
    size_t bad;

    if (!hfi_rd_has(r, 8))
        return hfi_ferr(err, HF_EFORMAT, g->src.name, "tensor #%" PRIu64 ": byte %" PRIu64
                        ": truncated name length", i, at);
    len = hfi_rd_u64(r);
    if (len > HFI_GGUF_MAX_NAME)
        return hfi_ferr(err, HF_EFORMAT, g->src.name, "tensor #%" PRIu64 ": byte %" PRIu64
                        ": name length %" PRIu64 " exceeds 64", i, at, len);
    if (!hfi_rd_has(r, len))
        return hfi_ferr(err, HF_EFORMAT, g->src.name, "tensor #%" PRIu64 ": byte %" PRIu64
                        ": name length %" PRIu64 " runs past end of file (%" PRIu64 " bytes)",
                        i, at, len, r->len);
    bad = hfi_utf8_scan(hfi_rd_at(r), (size_t)len, HFI_UTF8_NO_CONTROLS);
    if (bad < len)
        return hfi_ferr(err, HF_EFORMAT, g->src.name, "tensor #%" PRIu64 ": byte %" PRIu64
                        ": name is not valid UTF-8 text", i, r->pos + bad);
    *name = hfi_arena_strndup(&g->src.arena, (const char *)hfi_rd_at(r), (size_t)len);
    if (!*name)
        return hfi_ferr(err, HF_ENOMEM, g->src.name, "out of memory");
    r->pos += len;
    return 0;
}

/* Read one tensor info into `t` (offset relative to the data section) and its type id. */
static int read_info(hf_gguf_t *g, hfi_rd_t *r, uint64_t i, hf_tensor_info_t *t,
                     uint32_t *type_id, hf_error_t *err)
{
    const hfi_ggml_type_t *type;
    uint64_t at = r->pos, dims_at;
    uint32_t ndim, k;
    char shape[160];
    int rc;

    if ((rc = read_name(g, r, i, &t->name, err)) < 0)
        return rc;
    if (!hfi_rd_has(r, 4))
        goto truncated;
    ndim = hfi_rd_u32(r);
    if (ndim > HFI_GGUF_MAX_DIMS)
        return hfi_ferr(err, HF_EUNSUPPORTED, g->src.name, "tensor \"%s\": byte %" PRIu64
                        ": %" PRIu32 " dimensions (GGUF allows 4)", t->name, r->pos - 4, ndim);
    if (!hfi_rd_has(r, 8 * (uint64_t)ndim + 12))
        goto truncated;
    t->ndim = ndim;
    dims_at = r->pos;
    for (k = 0; k < ndim; k++)
        t->shape[k] = hfi_rd_u64(r);
    *type_id = hfi_rd_u32(r);
    t->offset = hfi_rd_u64(r);
    if (!(type = hfi_ggml_type(*type_id)))
        return hfi_ferr(err, HF_EUNSUPPORTED, g->src.name, "tensor \"%s\": byte %" PRIu64
                        ": unknown ggml type %" PRIu32, t->name, r->pos - 12, *type_id);
    t->dtype = type->dtype;
    t->dtype_name = type->name;
    rc = hfi_ggml_nbytes(type, ndim, t->shape, &t->nbytes);
    if (rc == -3)
        for (k = 0; k < ndim; k++)
            if (t->shape[k] > INT64_MAX)
                return hfi_ferr(err, HF_EFORMAT, g->src.name, "tensor \"%s\": byte %" PRIu64
                                ": ne[%" PRIu32 "] = %" PRIu64 " exceeds INT64_MAX", t->name,
                                dims_at + 8 * (uint64_t)k, k, t->shape[k]);
    if (rc == -1)
        return hfi_ferr(err, HF_EFORMAT, g->src.name, "tensor \"%s\": ne[0] = %" PRIu64
                        " is not a multiple of the %s block size (%" PRIu32 ")", t->name,
                        ndim ? t->shape[0] : 1, type->name, type->block);
    if (rc < 0)
        return hfi_ferr(err, HF_EFORMAT, g->src.name, "tensor \"%s\": shape %s of %s overflows",
                        t->name, hfi_tt_shape(shape, sizeof shape, ndim, t->shape), type->name);
    if (t->offset % g->alignment != 0)
        return hfi_ferr(err, HF_EFORMAT, g->src.name, "tensor \"%s\": byte %" PRIu64 ": offset %"
                        PRIu64 " is not a multiple of the alignment (%" PRIu64 ")", t->name,
                        r->pos - 8, t->offset, g->alignment);
    return 0;
truncated:
    return hfi_ferr(err, HF_EFORMAT, g->src.name, "tensor \"%s\" (info at byte %" PRIu64
                    "): truncated at byte %" PRIu64 " (%" PRIu64 " bytes)", t->name, at,
                    r->pos, r->len);
}

/* Make the relative offset of `t` absolute once its range is known to lie in the file. */
static int place(hf_gguf_t *g, hf_tensor_info_t *t, hf_error_t *err)
{
    uint64_t begin, end;

    if (!hfi_add_ok(g->data_offset, t->offset, &begin) || !hfi_add_ok(begin, t->nbytes, &end))
        return hfi_ferr(err, HF_EFORMAT, g->src.name, "tensor \"%s\": data offset %" PRIu64
                        " + size %" PRIu64 " overflows", t->name, t->offset, t->nbytes);
    if (end > g->src.size)
        return hfi_ferr(err, HF_EFORMAT, g->src.name, "tensor \"%s\": data range [%" PRIu64 ", %"
                        PRIu64 ") beyond end of file (%" PRIu64 " bytes)", t->name, begin, end,
                        g->src.size);
    t->offset = begin;
    t->data = g->src.base + begin;
    return 0;
}

int hfi_gguf_read_tensors(hf_gguf_t *g, hfi_rd_t *r, uint64_t n, hf_error_t *err)
{
    uint64_t i;
    size_t k, dup;
    int rc;

    for (i = 0; i < n; i++) {
        hf_tensor_info_t t;
        uint32_t type_id = 0;

        memset(&t, 0, sizeof t);
        t.name = "";
        if ((rc = read_info(g, r, i, &t, &type_id, err)) < 0)
            return rc;
        if ((rc = hfi_grow((void **)&g->ggml_types, &g->types_cap, g->tensors.n + 1,
                           sizeof *g->ggml_types)) < 0)
            return hfi_ferr(err, rc, g->src.name, "out of memory");
        g->ggml_types[g->tensors.n] = type_id;
        rc = hfi_tt_push(&g->tensors, &t, &dup);
        if (rc < 0)
            return hfi_ferr(err, rc, g->src.name, "out of memory");
        if (rc == 1)
            return hfi_ferr(err, HF_EFORMAT, g->src.name, "tensor #%" PRIu64 " \"%s\": duplicate "
                            "name (also tensor #%zu)", i, t.name, dup);
    }
    /* r->pos <= size and alignment <= 2^32: no overflow */
    g->data_offset = (r->pos + g->alignment - 1) / g->alignment * g->alignment;
    if (n == 0 && g->data_offset > g->src.size)
        g->data_offset = g->src.size;       /* no data section; the padding may be left out */
    if (g->data_offset > g->src.size)
        return hfi_ferr(err, HF_EFORMAT, g->src.name, "tensor data would start at byte %" PRIu64
                        ", beyond end of file (%" PRIu64 " bytes)", g->data_offset, g->src.size);
    for (k = 0; k < g->tensors.n; k++)
        if ((rc = place(g, &g->tensors.v[k], err)) < 0)
            return rc;
    return hfi_tt_check_overlaps(&g->tensors, g->src.name, err);
}
