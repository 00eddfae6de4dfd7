/*
 * dtype.h - the element types of GGUF (ggml types) and safetensors, and their sizes.
 */
#ifndef HF_FORMATS_DTYPE_H
#define HF_FORMATS_DTYPE_H

#include <stdint.h>

#include "hf/formats.h"

/* A ggml tensor type: `block` elements (along ne[0]) are stored in `size` bytes. */
typedef struct hfi_ggml_type {
    const char *name;
    uint32_t block;
    uint32_t size;
    hf_dtype_t dtype;
} hfi_ggml_type_t;

/* hfi_ggml_type - the type with ggml id `id`, or NULL for ids unknown or removed. */
const hfi_ggml_type_t *hfi_ggml_type(uint32_t id);

/*
 * hfi_ggml_nbytes - bytes of a tensor of type `t` and `ndim` dimensions `dims` (ne[0]
 * first). Returns 0 and sets `*nbytes`; -3 if a dimension exceeds INT64_MAX (ggml's ne are
 * int64_t); -2 if the element count exceeds INT64_MAX or the byte size overflows 64 bits;
 * -1 if ne[0] is not a whole number of blocks.
 */
int hfi_ggml_nbytes(const hfi_ggml_type_t *t, unsigned ndim, const uint64_t *dims,
                    uint64_t *nbytes);

/* A safetensors dtype and its width in bits (4, 6, 8, ... 64). */
typedef struct hfi_st_dtype {
    const char *name;
    unsigned bits;
    hf_dtype_t dtype;
} hfi_st_dtype_t;

/* hfi_st_dtype - the safetensors dtype called `name` (case-sensitive), or NULL. */
const hfi_st_dtype_t *hfi_st_dtype(const char *name);

#endif /* HF_FORMATS_DTYPE_H */
