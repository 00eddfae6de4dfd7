/*
 * writer.h - small writers of valid GGUF v3 and safetensors files (and a sharded index),
 * for tests that then corrupt the bytes, and for the fixture generator.
 *
 * Output is deterministic: the same calls give the same bytes, byte for byte (entries in
 * the order they were added, no timestamps, tensor data either given or a fixed pattern).
 * Writers build the whole file in memory: they are meant for small files.
 *
 * Errors are sticky: an add that fails (bad argument, memory short) is remembered, later
 * adds do nothing, and the finishing call returns the first error.
 */
#ifndef HF_FORMATS_WRITER_H
#define HF_FORMATS_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hf/formats.h"
#include "formats/arena.h"

/* ---- a growable byte buffer --------------------------------------------------------------- */

typedef struct hfi_buf {
    unsigned char *data;
    size_t len, cap;
    int error;                  /* 0, or the first HF_E* an append met (HF_ENOMEM) */
} hfi_buf_t;

#define HFI_BUF_INIT { NULL, 0, 0, 0 }

void hfi_buf_free(hfi_buf_t *b);
/* Appends: on failure set b->error and do nothing (now and on every later append). */
void hfi_buf_put(hfi_buf_t *b, const void *p, size_t n);
void hfi_buf_put_zeros(hfi_buf_t *b, size_t n);
void hfi_buf_put_u8(hfi_buf_t *b, uint8_t v);
void hfi_buf_put_u32(hfi_buf_t *b, uint32_t v);      /* little-endian, like the others */
void hfi_buf_put_u64(hfi_buf_t *b, uint64_t v);
/* A GGUF string: its length as a u64, then the bytes. */
void hfi_buf_put_gguf_str(hfi_buf_t *b, const char *s, size_t len);
/* A JSON string literal: quoted, with ", \ and control characters escaped. */
void hfi_buf_put_json_str(hfi_buf_t *b, const char *s);
void hfi_buf_printf(hfi_buf_t *b, const char *fmt, ...) HF_PRINTF(2, 3);

/* hfi_buf_write_file - write the buffer to `path` (created or truncated). 0 or HF_EIO. */
int hfi_buf_write_file(const hfi_buf_t *b, const char *path, hf_error_t *err);

/* The fixed pattern of tensor data when none is given: byte j of tensor k. */
static inline uint8_t hfi_writer_pattern(size_t k, uint64_t j)
{
    return (uint8_t)(k * 131u + j * 7u + 1u);
}

/* A tensor held by a writer until the file is laid out. */
typedef struct hfi_wtensor {
    const char *name;
    uint32_t type;              /* GGUF: the ggml type id */
    const char *dtype;          /* safetensors: the dtype name */
    unsigned ndim;
    uint64_t dims[HF_TENSOR_MAX_DIMS];
    const unsigned char *data;
    uint64_t nbytes;
} hfi_wtensor_t;

/* The tensors of a writer, in the order added, with copies of their names and data. */
typedef struct hfi_wtensors {
    hfi_wtensor_t *v;
    size_t n, cap;
    hfi_arena_t arena;
} hfi_wtensors_t;

/*
 * hfi_wtensors_add - append a tensor called `name` with `ndim` (<= HF_TENSOR_MAX_DIMS)
 * dimensions `dims` and `nbytes` bytes copied from `data`, or hfi_writer_pattern() if
 * `data` is NULL. Returns the new entry (for the caller's type fields) or NULL if memory
 * is short.
 */
hfi_wtensor_t *hfi_wtensors_add(hfi_wtensors_t *t, const char *name, unsigned ndim,
                                const uint64_t *dims, const void *data, uint64_t nbytes);
void hfi_wtensors_free(hfi_wtensors_t *t);

/* ---- GGUF v3 ------------------------------------------------------------------------------ */

typedef struct hfi_gguf_writer hfi_gguf_writer_t;

/* A writer of an empty GGUF v3 file; NULL if memory is short. */
hfi_gguf_writer_t *hfi_gguf_writer_new(void);
void hfi_gguf_writer_free(hfi_gguf_writer_t *w);

/* Write `version` into the header instead of 3 (2 has the same layout; others for tests). */
void hfi_gguf_writer_set_version(hfi_gguf_writer_t *w, uint32_t version);

/*
 * Metadata, in the order added. The integer and float adders take the GGUF type to store
 * (HF_GGUF_UINT8 ... HF_GGUF_UINT64 / HF_GGUF_INT8 ... / HF_GGUF_FLOAT32, HF_GGUF_FLOAT64)
 * and refuse values that do not fit it. A uint32 "general.alignment" that is a non-zero
 * multiple of 8 also sets the alignment the writer lays tensors out with (default 32).
 */
void hfi_gguf_add_uint(hfi_gguf_writer_t *w, const char *key, hf_gguf_type_t type, uint64_t v);
void hfi_gguf_add_int(hfi_gguf_writer_t *w, const char *key, hf_gguf_type_t type, int64_t v);
void hfi_gguf_add_float(hfi_gguf_writer_t *w, const char *key, hf_gguf_type_t type, double v);
void hfi_gguf_add_bool(hfi_gguf_writer_t *w, const char *key, bool v);
void hfi_gguf_add_str(hfi_gguf_writer_t *w, const char *key, const char *v);
/*
 * An array of `count` scalars of `type`, read from `elems` as the matching C type
 * (uint8_t[], int16_t[], float[], double[], bool[] for HF_GGUF_BOOL, ...).
 */
void hfi_gguf_add_array(hfi_gguf_writer_t *w, const char *key, hf_gguf_type_t type,
                        const void *elems, uint64_t count);
void hfi_gguf_add_str_array(hfi_gguf_writer_t *w, const char *key, const char *const *v,
                            size_t count);
/*
 * A value given already encoded: `type` is written, then `len` bytes as they are. For
 * nested arrays (build them with the hfi_buf_put_* functions) and deliberate nonsense.
 */
void hfi_gguf_add_raw(hfi_gguf_writer_t *w, const char *key, uint32_t type, const void *value,
                      size_t len);

/*
 * A tensor of ggml type id `type` and `ndim` dimensions `dims` (ne[0] first). Its size
 * comes from the type (an unknown id, or ne[0] not a whole number of blocks, is
 * HF_EINVAL); `data` gives that many bytes, or NULL for hfi_writer_pattern(). Tensors are
 * laid out in the order added, each at the next multiple of the alignment.
 */
void hfi_gguf_add_tensor(hfi_gguf_writer_t *w, const char *name, uint32_t type, unsigned ndim,
                         const uint64_t *dims, const void *data);

/* hfi_gguf_writer_finish - the file's bytes, appended to `out`. 0 or the first error. */
int hfi_gguf_writer_finish(hfi_gguf_writer_t *w, hfi_buf_t *out);

/* ---- safetensors -------------------------------------------------------------------------- */

typedef struct hfi_st_writer hfi_st_writer_t;

hfi_st_writer_t *hfi_st_writer_new(void);
void hfi_st_writer_free(hfi_st_writer_t *w);

/* An entry of __metadata__ (written first in the header when there is any). */
void hfi_st_add_metadata(hfi_st_writer_t *w, const char *key, const char *value);

/*
 * A tensor of safetensors dtype `dtype` ("BF16", ...) and shape `shape` (outermost first,
 * `ndim` <= 8). Its size is elements x dtype width (an unknown dtype or a size that does
 * not end on a byte is HF_EINVAL); `data` gives the bytes or NULL for hfi_writer_pattern().
 * Tensors are packed in the order added, from offset 0, with no gaps.
 */
void hfi_st_add_tensor(hfi_st_writer_t *w, const char *name, const char *dtype, unsigned ndim,
                       const uint64_t *shape, const void *data);

/*
 * hfi_st_writer_finish - the file's bytes, appended to `out`: the header length, the JSON
 * header padded with spaces to a multiple of 8 bytes, the data. 0 or the first error.
 */
int hfi_st_writer_finish(hfi_st_writer_t *w, hfi_buf_t *out);

/*
 * hfi_st_index_write - append a model.safetensors.index.json to `out`:
 * {"metadata": {"total_size": total_size}, "weight_map": {tensors[i]: shards[i], ...}}.
 * 0 or the buffer's error.
 */
int hfi_st_index_write(hfi_buf_t *out, const char *const *tensors, const char *const *shards,
                       size_t n, uint64_t total_size);

#endif /* HF_FORMATS_WRITER_H */
