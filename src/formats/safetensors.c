/*
 * safetensors.c - safetensors files: header length, JSON header, tensors, __metadata__.
 *
 * Design notes
 *  - layout: 8 bytes little-endian N, N bytes of UTF-8 JSON (an object), then the data
 *    section; every data_offsets pair is relative to the data section's first byte;
 *  - N is checked against the format's 100 MB cap and against the file before the header
 *    is touched; the JSON is checked by json.c (UTF-8, one value, trailing whitespace only)
 *    and then by the format's stricter rules: the header's first byte is '{' (no byte order
 *    mark, no leading whitespace) and only spaces (0x20) follow the object, which is how
 *    writers pad the header to 8 bytes;
 *  - in a tensor entry, "dtype", "shape" and "data_offsets" may each appear once (cJSON
 *    keeps duplicates; the reference implementation refuses them); other fields are
 *    ignored, as the reference implementation ignores them;
 *  - a tensor's byte size is elements x bits / 8 (F4 and the F6 types are narrower than a
 *    byte, and a tensor of them must end on a byte boundary), computed with overflow checks;
 *    empty tensors (a zero dimension) hold no bytes; a shape [] is a scalar;
 *  - "__metadata__" is an object of strings, or null for none (the reference implementation
 *    reads it as an optional map); given twice it is refused, null or not;
 *  - the format forbids overlapping ranges and duplicate names (cJSON keeps duplicates, so
 *    the tensor table catches them); gaps are legal here and reported by
 *    hf_safetensors_check_packed, the reference implementation's stricter rule;
 *  - names and metadata are copied into the arena and the JSON tree is freed before the
 *    object is handed out: what stays is the table and the mapping.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "formats/arena.h"
#include "formats/bytes.h"
#include "formats/dtype.h"
#include "formats/ferror.h"
#include "formats/json.h"
#include "formats/mapfile.h"
#include "formats/tensor_table.h"

struct hf_safetensors {
    hfi_source_t src;           /* the whole file, its name, the arena */
    uint64_t data_offset;       /* 8 + header length */
    hfi_tensor_table_t tensors;
    const char **meta;          /* key, value, key, value, ... */
    size_t n_meta, meta_cap;
    hfi_strmap_t meta_keys;     /* key -> entry */
    unsigned meta_seen;         /* __metadata__ objects read */
};

static int oom(const hf_safetensors_t *st, hf_error_t *err)
{
    return hfi_ferr(err, HF_ENOMEM, st->src.name, "out of memory");
}

static int read_metadata(hf_safetensors_t *st, const cJSON *obj, hf_error_t *err)
{
    const cJSON *m;
    int rc;

    if (!cJSON_IsObject(obj) && !cJSON_IsNull(obj))
        return hfi_ferr(err, HF_EFORMAT, st->src.name, "header: \"__metadata__\" is %s, not an "
                        "object", hfi_json_type_name(obj));
    if (st->meta_seen++)
        return hfi_ferr(err, HF_EFORMAT, st->src.name, "header: \"__metadata__\" appears twice");
    /* a null has no child: no entries */
    cJSON_ArrayForEach(m, obj) {
        const char *key, *value;

        if (!cJSON_IsString(m))
            return hfi_ferr(err, HF_EFORMAT, st->src.name, "header: \"__metadata__.%.80s\" is %s, "
                            "not a string", m->string, hfi_json_type_name(m));
        key = hfi_arena_strndup(&st->src.arena, m->string, strlen(m->string));
        value = hfi_arena_strndup(&st->src.arena, m->valuestring, strlen(m->valuestring));
        if (!key || !value ||
            hfi_grow((void **)&st->meta, &st->meta_cap, 2 * st->n_meta + 2, sizeof *st->meta))
            return oom(st, err);
        rc = hfi_strmap_put(&st->meta_keys, key, strlen(key), st->n_meta, NULL);
        if (rc < 0)
            return oom(st, err);
        if (rc == 1)
            return hfi_ferr(err, HF_EFORMAT, st->src.name, "header: \"__metadata__.%.80s\" appears "
                            "twice", key);
        st->meta[2 * st->n_meta] = key;
        st->meta[2 * st->n_meta + 1] = value;
        st->n_meta++;
    }
    return 0;
}

/* The shape of tensor `name` into `t`: at most 8 exact non-negative integers. */
static int read_shape(hf_safetensors_t *st, const char *name, const cJSON *shape,
                      hf_tensor_info_t *t, hf_error_t *err)
{
    const cJSON *d;
    int n;

    if (!cJSON_IsArray(shape))
        return hfi_ferr(err, HF_EFORMAT, st->src.name, "tensor \"%.80s\": \"shape\" is %s, not an "
                        "array", name, hfi_json_type_name(shape));
    n = cJSON_GetArraySize(shape);
    if (n > HF_TENSOR_MAX_DIMS)
        return hfi_ferr(err, HF_EUNSUPPORTED, st->src.name, "tensor \"%.80s\": %d dimensions (at "
                        "most %d are supported)", name, n, HF_TENSOR_MAX_DIMS);
    t->ndim = 0;
    cJSON_ArrayForEach(d, shape) {
        if (!hfi_json_uint(d, &t->shape[t->ndim]))
            return hfi_ferr(err, HF_EFORMAT, st->src.name, "tensor \"%.80s\": shape[%u] is not an "
                            "integer in [0, 2^53)", name, t->ndim);
        t->ndim++;
    }
    return 0;
}

/* begin, end from "data_offsets"; then the size check of shape x dtype against them. */
static int read_range(hf_safetensors_t *st, const char *name, const cJSON *offsets,
                      const hfi_st_dtype_t *dt, hf_tensor_info_t *t, hf_error_t *err)
{
    uint64_t begin, end, elements = 1, bits, data_len = st->src.size - st->data_offset;
    char shape[160];
    unsigned i;

    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 ||
        !hfi_json_uint(cJSON_GetArrayItem(offsets, 0), &begin) ||
        !hfi_json_uint(cJSON_GetArrayItem(offsets, 1), &end))
        return hfi_ferr(err, HF_EFORMAT, st->src.name, "tensor \"%.80s\": \"data_offsets\" is not "
                        "two integers in [0, 2^53)", name);
    if (end < begin)
        return hfi_ferr(err, HF_EFORMAT, st->src.name, "tensor \"%.80s\": data_offsets [%" PRIu64
                        ", %" PRIu64 "] end before they begin", name, begin, end);
    for (i = 0; i < t->ndim; i++)
        if (!hfi_mul_ok(elements, t->shape[i], &elements))
            break;
    if (i < t->ndim || !hfi_mul_ok(elements, dt->bits, &bits))
        return hfi_ferr(err, HF_EFORMAT, st->src.name, "tensor \"%.80s\": shape %s of %s overflows",
                        name, hfi_tt_shape(shape, sizeof shape, t->ndim, t->shape), dt->name);
    if (bits % 8 != 0)
        return hfi_ferr(err, HF_EFORMAT, st->src.name, "tensor \"%.80s\": %" PRIu64 " %s elements "
                        "do not end on a byte boundary", name, elements, dt->name);
    if (end - begin != bits / 8)
        return hfi_ferr(err, HF_EFORMAT, st->src.name, "tensor \"%.80s\": data_offsets [%" PRIu64
                        ", %" PRIu64 ") hold %" PRIu64 " bytes, but shape %s of %s needs %"
                        PRIu64, name, begin, end, end - begin,
                        hfi_tt_shape(shape, sizeof shape, t->ndim, t->shape), dt->name, bits / 8);
    if (end > data_len)
        return hfi_ferr(err, HF_EFORMAT, st->src.name, "tensor \"%.80s\": data range [%" PRIu64
                        ", %" PRIu64 ") beyond end of file (%" PRIu64 " bytes)", name,
                        st->data_offset + begin, st->data_offset + end, st->src.size);
    t->offset = st->data_offset + begin;
    t->nbytes = end - begin;
    t->data = st->src.base + t->offset;
    return 0;
}

/* The fields of a tensor entry that the format defines; any other field is ignored. */
static const char *const tensor_fields[] = { "dtype", "shape", "data_offsets" };

static int read_tensor(hf_safetensors_t *st, const cJSON *entry, hf_error_t *err)
{
    const char *name = entry->string;
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype"), *f;
    const hfi_st_dtype_t *dt;
    hf_tensor_info_t t;
    unsigned seen = 0, k;
    size_t dup;
    int rc;

    memset(&t, 0, sizeof t);
    if (!cJSON_IsObject(entry))
        return hfi_ferr(err, HF_EFORMAT, st->src.name, "tensor \"%.80s\": entry is %s, not an "
                        "object", name, hfi_json_type_name(entry));
    cJSON_ArrayForEach(f, entry)
        for (k = 0; k < sizeof tensor_fields / sizeof tensor_fields[0]; k++)
            if (strcmp(f->string, tensor_fields[k]) == 0) {
                if (seen & (1u << k))
                    return hfi_ferr(err, HF_EFORMAT, st->src.name, "tensor \"%.80s\": field "
                                    "\"%s\" appears twice", name, tensor_fields[k]);
                seen |= 1u << k;
            }
    if (!cJSON_IsString(dtype))
        return hfi_ferr(err, HF_EFORMAT, st->src.name, "tensor \"%.80s\": \"dtype\" is %s, not a "
                        "string", name, dtype ? hfi_json_type_name(dtype) : "missing");
    if (!(dt = hfi_st_dtype(dtype->valuestring)))
        return hfi_ferr(err, HF_EUNSUPPORTED, st->src.name, "tensor \"%.80s\": unknown dtype "
                        "\"%.32s\"", name, dtype->valuestring);
    t.dtype = dt->dtype;
    t.dtype_name = dt->name;
    if ((rc = read_shape(st, name, cJSON_GetObjectItemCaseSensitive(entry, "shape"), &t,
                         err)) < 0 ||
        (rc = read_range(st, name, cJSON_GetObjectItemCaseSensitive(entry, "data_offsets"),
                         dt, &t, err)) < 0)
        return rc;
    if (!(t.name = hfi_arena_strndup(&st->src.arena, name, strlen(name))))
        return oom(st, err);
    rc = hfi_tt_push(&st->tensors, &t, &dup);
    if (rc < 0)
        return oom(st, err);
    if (rc == 1)
        return hfi_ferr(err, HF_EFORMAT, st->src.name, "tensor \"%.80s\" appears twice in the "
                        "header", name);
    return 0;
}

/* After the header's object, json.c allowed any JSON whitespace; the format allows spaces. */
static int check_padding(const hf_safetensors_t *st, uint64_t n, hf_error_t *err)
{
    const unsigned char *h = st->src.base + 8;
    uint64_t end = n, i;

    while (end > 0 && h[end - 1] != '}')    /* the object's last byte; whitespace after it */
        end--;
    for (i = end; i < n; i++)
        if (h[i] != ' ')
            return hfi_ferr(err, HF_EFORMAT, st->src.name, "header: byte %" PRIu64 ": 0x%02x "
                            "after the JSON object (only spaces may pad the header)", 8 + i, h[i]);
    return 0;
}

static int parse(void *obj, hf_error_t *err)
{
    hf_safetensors_t *st = obj;
    uint64_t n;
    cJSON *root = NULL;
    const cJSON *entry;
    int rc;

    if (st->src.size < 8)
        return hfi_ferr(err, HF_EFORMAT, st->src.name, "%" PRIu64 " bytes: too short for the "
                        "8-byte header length", st->src.size);
    n = hfi_le64(st->src.base);
    if (n > HF_SAFETENSORS_MAX_HEADER)
        return hfi_ferr(err, HF_EFORMAT, st->src.name, "byte 0: header length %" PRIu64 " exceeds "
                        "the format's cap of %u bytes", n, HF_SAFETENSORS_MAX_HEADER);
    if (n > st->src.size - 8)
        return hfi_ferr(err, HF_EFORMAT, st->src.name, "byte 0: header length %" PRIu64 " runs "
                        "past end of file (%" PRIu64 " bytes)", n, st->src.size);
    st->data_offset = 8 + n;
    if (n > 0 && st->src.base[8] != '{')
        return hfi_ferr(err, HF_EFORMAT, st->src.name, "header: byte 8: begins with 0x%02x, not "
                        "'{'", st->src.base[8]);
    rc = hfi_json_parse(st->src.base + 8, (size_t)n, 8, st->src.name, "header", &root, err);
    if (rc < 0)
        return rc;
    if (!cJSON_IsObject(root))
        rc = hfi_ferr(err, HF_EFORMAT, st->src.name, "header: %s, not a JSON object",
                      hfi_json_type_name(root));
    else
        rc = check_padding(st, n, err);
    for (entry = root->child; entry && rc == 0; entry = entry->next)
        rc = strcmp(entry->string, "__metadata__") == 0 ? read_metadata(st, entry, err)
                                                         : read_tensor(st, entry, err);
    cJSON_Delete(root);
    if (rc < 0)
        return rc;
    return hfi_tt_check_overlaps(&st->tensors, st->src.name, err);
}

static void close_obj(void *obj)
{
    hf_safetensors_t *st = obj;

    hfi_tt_free(&st->tensors);
    free(st->meta);
    hfi_strmap_free(&st->meta_keys);
    hfi_source_free(&st->src);
    free(st);
}

static const hfi_reader_t st_reader = { sizeof(hf_safetensors_t), parse, close_obj };

int hf_safetensors_parse(const void *buf, size_t len, const char *name, hf_safetensors_t **out,
                         hf_error_t *err)
{
    void *st = NULL;
    int rc = hfi_source_open(&st_reader, NULL, buf, len, name, out ? &st : NULL, err);

    if (out)
        *out = st;
    return rc;
}

int hf_safetensors_open(const char *path, hf_safetensors_t **out, hf_error_t *err)
{
    void *st = NULL;
    int rc = hfi_source_open(&st_reader, path, NULL, 0, NULL, out ? &st : NULL, err);

    if (out)
        *out = st;
    return rc;
}

void hf_safetensors_close(hf_safetensors_t *st)
{
    if (st)
        close_obj(st);
}

const char *hf_safetensors_name(const hf_safetensors_t *st)
{
    return st ? st->src.name : "";
}

uint64_t hf_safetensors_data_offset(const hf_safetensors_t *st)
{
    return st ? st->data_offset : 0;
}

const void *hf_safetensors_mapping(const hf_safetensors_t *st, size_t *size)
{
    if (size)
        *size = st ? (size_t)st->src.size : 0;
    return st ? st->src.base : NULL;
}

size_t hf_safetensors_tensor_count(const hf_safetensors_t *st)
{
    return st ? st->tensors.n : 0;
}

const hf_tensor_info_t *hf_safetensors_tensor(const hf_safetensors_t *st, size_t i)
{
    return st ? hfi_tt_get(&st->tensors, i) : NULL;
}

const hf_tensor_info_t *hf_safetensors_find_tensor(const hf_safetensors_t *st, const char *name)
{
    return st ? hfi_tt_find(&st->tensors, name) : NULL;
}

size_t hf_safetensors_metadata_count(const hf_safetensors_t *st)
{
    return st ? st->n_meta : 0;
}

int hf_safetensors_metadata_at(const hf_safetensors_t *st, size_t i, const char **key,
                               const char **value)
{
    if (!st || i >= st->n_meta)
        return HF_EINVAL;
    if (key)
        *key = st->meta[2 * i];
    if (value)
        *value = st->meta[2 * i + 1];
    return 0;
}

const char *hf_safetensors_metadata_get(const hf_safetensors_t *st, const char *key)
{
    uint64_t i;

    if (!st || !key || !hfi_strmap_get(&st->meta_keys, key, strlen(key), &i))
        return NULL;
    return st->meta[2 * i + 1];
}

int hf_safetensors_check_packed(const hf_safetensors_t *st, hf_error_t *err)
{
    uint64_t next;
    size_t *order, i;
    int rc = 0;

    if (!st)
        return hfi_ferr(err, HF_EINVAL, NULL, "NULL argument");
    next = st->data_offset;
    order = hfi_tt_order(&st->tensors);
    if (!order && st->tensors.n)
        return oom(st, err);
    for (i = 0; i < st->tensors.n && rc == 0; i++) {
        const hf_tensor_info_t *t = &st->tensors.v[order[i]];
        if (t->offset > next)
            rc = hfi_ferr(err, HF_EFORMAT, st->src.name, "bytes [%" PRIu64 ", %" PRIu64 ") before "
                          "tensor \"%.80s\" belong to no tensor", next, t->offset, t->name);
        else if (t->offset + t->nbytes > next)
            next = t->offset + t->nbytes;
    }
    free(order);
    if (rc == 0 && next < st->src.size)
        rc = hfi_ferr(err, HF_EFORMAT, st->src.name, "bytes [%" PRIu64 ", %" PRIu64 ") after the "
                      "last tensor belong to no tensor", next, st->src.size);
    return rc;
}
