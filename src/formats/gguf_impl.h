/*
 * gguf_impl.h - the parsed form of a GGUF file, shared by gguf.c (header, tensors),
 * gguf_meta.c (metadata) and gguf_split.c (split sets).
 */
#ifndef HF_FORMATS_GGUF_IMPL_H
#define HF_FORMATS_GGUF_IMPL_H

#include <stdint.h>

#include "hf/formats.h"
#include "formats/arena.h"
#include "formats/bytes.h"
#include "formats/mapfile.h"
#include "formats/strmap.h"
#include "formats/tensor_table.h"

#define HFI_GGUF_DEFAULT_ALIGNMENT 32u
#define HFI_GGUF_MAX_KEY 65535u         /* bytes in a key */
#define HFI_GGUF_MAX_NAME 64u           /* bytes in a tensor name */
#define HFI_GGUF_MAX_DIMS 4u
#define HFI_GGUF_MARK_EVERY 64u         /* a mark every this many strings/arrays of an array */

/* The least bytes one metadata entry / one tensor info can take (for the count guards). */
#define HFI_GGUF_MIN_KV 13u             /* key length 8, type 4, a one-byte value */
#define HFI_GGUF_MIN_TENSOR 24u         /* name length 8, n_dims 4, type 4, offset 8 */

/*
 * What makes element i of an array of strings or arrays quick to find (an array's
 * priv_marks): where every HFI_GGUF_MARK_EVERY-th element starts, and the marks of those
 * elements that are arrays with marks of their own, so that a nested view gets them too.
 * Built once by gguf_meta.c, in the arena.
 */
typedef struct hfi_gguf_kid {
    uint64_t at;                /* the element's offset in the parent's bytes */
    const struct hfi_gguf_marks *marks;
} hfi_gguf_kid_t;

typedef struct hfi_gguf_marks {
    const uint64_t *pos;        /* pos[k]: offset of element k * MARK_EVERY; NULL if count <= it */
    const hfi_gguf_kid_t *kids; /* by increasing `at` */
    size_t n_kids;
} hfi_gguf_marks_t;

typedef struct hfi_gguf_kv {
    const char *key;            /* arena, NUL-terminated */
    uint64_t at;                /* file offset of the entry */
    hf_gguf_type_t type;
    const unsigned char *raw;   /* scalars: the value's bytes in the file */
    const char *str;            /* strings: arena copy, NUL-terminated */
    uint64_t str_len;
    hf_gguf_array_t arr;        /* arrays */
} hfi_gguf_kv_t;

struct hf_gguf {
    hfi_source_t src;           /* the whole file, its name, the arena */
    uint32_t version;
    uint64_t alignment;
    uint64_t data_offset;
    hfi_gguf_kv_t *kv;
    size_t n_kv, kv_cap;
    hfi_strmap_t keys;          /* key -> index into kv */
    hfi_tensor_table_t tensors;
    uint32_t *ggml_types;       /* per tensor, as stored */
    size_t types_cap;
};

/* Bytes of a scalar of `type`, or 0 for strings, arrays and unknown types. */
unsigned hfi_gguf_scalar_size(uint32_t type);

/* "uint8", ..., "float64"; "unknown" for other values. */
const char *hfi_gguf_type_name(uint32_t type);

/*
 * hfi_gguf_read_kvs - read `n` metadata entries at the cursor into g->kv, validating every
 * value; then set g->alignment from general.alignment. 0 or a negative HF_E* code.
 */
int hfi_gguf_read_kvs(hf_gguf_t *g, hfi_rd_t *r, uint64_t n, hf_error_t *err);

/*
 * hfi_gguf_read_tensors - read `n` tensor infos at the cursor, place the data section after
 * them, and check every tensor's type, shape, offset and byte range. 0 or HF_E*.
 */
int hfi_gguf_read_tensors(hf_gguf_t *g, hfi_rd_t *r, uint64_t n, hf_error_t *err);

#endif /* HF_FORMATS_GGUF_IMPL_H */
