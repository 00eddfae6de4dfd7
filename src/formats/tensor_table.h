/*
 * tensor_table.h - the table of tensors a GGUF or safetensors reader builds: names that
 * must be unique, byte ranges that must not overlap, lookup by name.
 */
#ifndef HF_FORMATS_TENSOR_TABLE_H
#define HF_FORMATS_TENSOR_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "hf/formats.h"
#include "formats/strmap.h"

typedef struct hfi_tensor_table {
    hf_tensor_info_t *v;
    size_t n, cap;
    hfi_strmap_t names;
} hfi_tensor_table_t;

#define HFI_TENSOR_TABLE_INIT { NULL, 0, 0, HFI_STRMAP_INIT }

/*
 * hfi_tt_push - append a copy of `info` (its name must outlive the table). Returns 0, 1 if
 * the name is taken (by the tensor at `*dup`; nothing appended), or HF_ENOMEM.
 */
int hfi_tt_push(hfi_tensor_table_t *t, const hf_tensor_info_t *info, size_t *dup);

const hf_tensor_info_t *hfi_tt_get(const hfi_tensor_table_t *t, size_t i);
const hf_tensor_info_t *hfi_tt_find(const hfi_tensor_table_t *t, const char *name);

/*
 * hfi_tt_order - a malloc'd array of the table's indices sorted by offset (then size), or
 * NULL if memory is short (or the table is empty).
 */
size_t *hfi_tt_order(const hfi_tensor_table_t *t);

/*
 * hfi_tt_check_overlaps - HF_EFORMAT (naming both tensors and their ranges) if the byte
 * ranges of two tensors with data overlap; 0 if none do; HF_ENOMEM.
 */
int hfi_tt_check_overlaps(const hfi_tensor_table_t *t, const char *file, hf_error_t *err);

/* hfi_tt_shape - "[4096, 32000]": the first `ndim` entries of `shape`, in `buf`. */
const char *hfi_tt_shape(char *buf, size_t size, unsigned ndim, const uint64_t *shape);

void hfi_tt_free(hfi_tensor_table_t *t);

#endif /* HF_FORMATS_TENSOR_TABLE_H */
