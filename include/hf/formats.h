/*
 * hf/formats.h - readers for the files a model is made of: GGUF (v2, v3, split sets),
 * safetensors and its sharded index (model.safetensors.index.json), tokenizer.json and
 * config.json.
 *
 * Every reader treats its input as untrusted. It never reads outside the bytes it was given,
 * checks every count and size against overflow and against the bytes that remain (before
 * allocating anything for it), and reports the first problem it finds: HF_EFORMAT for a
 * malformed file, HF_EUNSUPPORTED for a valid one this library cannot read (a GGUF version,
 * an unknown tensor type), HF_EINVAL for bad arguments, HF_ENOENT / HF_EIO when the file
 * cannot be opened or mapped, HF_ENOMEM when memory is short. The message names the file
 * (when known), the byte offset or JSON key, and what was wrong:
 *
 *     model.gguf: tensor "blk.0.attn_q.weight": data range [4096, 8192) beyond end of
 *     file (6000 bytes)
 *
 * Files are opened by path and memory-mapped read-only; tensor data is never copied, and
 * each tensor's `data` points into the mapping. The *_parse functions read a caller's buffer
 * instead (tests, fuzzers): the buffer is borrowed, must not be NULL (even when empty) and
 * must outlive the object; they keep no state between calls, so a fuzz harness may call
 * them in a loop. A `name` given to a parse function is used in messages only and may be NULL.
 *
 * Opening and parsing return HF_EINVAL when `out` is NULL, or when both the path and the
 * buffer are NULL; `err` may always be NULL. The close and free functions ignore NULL. An
 * accessor given a NULL object answers as for an absent entry or an index out of range:
 * 0, -1, NULL, HF_EINVAL, or "" from the *_name functions.
 *
 * Objects are immutable once opened: any number of threads may read one concurrently. The
 * pointers an object hands out stay valid until it is closed or freed. A mapped file must
 * not be truncated while it is open (the cache's blobs never are). Separate objects may be
 * opened on separate threads at once; the one shared thing is cJSON's record of its last
 * parse error, a process-wide variable that this library writes (through cJSON) but never
 * reads.
 *
 * This layer depends on libc and cJSON only.
 */
#ifndef HF_FORMATS_H
#define HF_FORMATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hf/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- tensors, format-neutral ---------------------------------------------------------- */

/* Element types of both formats. GGUF's block-quantised types keep their ggml names. */
typedef enum hf_dtype {
    HF_DTYPE_UNKNOWN = 0,
    /* plain element types (both formats, unless marked) */
    HF_DTYPE_BOOL, HF_DTYPE_U8, HF_DTYPE_I8, HF_DTYPE_U16, HF_DTYPE_I16, HF_DTYPE_U32,
    HF_DTYPE_I32, HF_DTYPE_U64, HF_DTYPE_I64, HF_DTYPE_F16, HF_DTYPE_BF16, HF_DTYPE_F32,
    HF_DTYPE_F64,
    /* safetensors only: complex, 8-, 6- and 4-bit floats */
    HF_DTYPE_C64, HF_DTYPE_F8_E5M2, HF_DTYPE_F8_E4M3, HF_DTYPE_F8_E8M0, HF_DTYPE_F6_E2M3,
    HF_DTYPE_F6_E3M2, HF_DTYPE_F4,
    /* GGUF only: ggml block-quantised types */
    HF_DTYPE_Q4_0, HF_DTYPE_Q4_1, HF_DTYPE_Q5_0, HF_DTYPE_Q5_1, HF_DTYPE_Q8_0, HF_DTYPE_Q8_1,
    HF_DTYPE_Q2_K, HF_DTYPE_Q3_K, HF_DTYPE_Q4_K, HF_DTYPE_Q5_K, HF_DTYPE_Q6_K, HF_DTYPE_Q8_K,
    HF_DTYPE_IQ2_XXS, HF_DTYPE_IQ2_XS, HF_DTYPE_IQ3_XXS, HF_DTYPE_IQ1_S, HF_DTYPE_IQ4_NL,
    HF_DTYPE_IQ3_S, HF_DTYPE_IQ2_S, HF_DTYPE_IQ4_XS, HF_DTYPE_IQ1_M, HF_DTYPE_TQ1_0,
    HF_DTYPE_TQ2_0, HF_DTYPE_MXFP4,
    /* safetensors only, added later (appended: earlier values keep their numbers): 8-bit
     * floats without infinities or negative zero (AMD's FNUZ variants) */
    HF_DTYPE_F8_E4M3FNUZ, HF_DTYPE_F8_E5M2FNUZ,
    HF_DTYPE_COUNT
} hf_dtype_t;

#define HF_TENSOR_MAX_DIMS 8

/*
 * One tensor of a GGUF or safetensors file.
 *
 * `shape` is in the file's own order: safetensors lists the outermost dimension first
 * (row-major); GGUF lists ggml's ne[0] (the contiguous one) first. `offset` is absolute
 * (from the first byte of the file); `data` points at that byte of the mapping (or of the
 * buffer given to a parse function) and `nbytes` bytes follow it, all inside the file.
 */
typedef struct hf_tensor_info {
    const char *name;           /* NUL-terminated */
    hf_dtype_t dtype;
    const char *dtype_name;     /* the file's own name for the type: "BF16", "Q4_K", ... */
    unsigned ndim;              /* 0 (a scalar) to HF_TENSOR_MAX_DIMS; GGUF: at most 4 */
    uint64_t shape[HF_TENSOR_MAX_DIMS];   /* unused entries are 0 */
    uint64_t offset;
    uint64_t nbytes;
    const void *data;
} hf_tensor_info_t;

/* hf_dtype_name - "F32", "Q4_K", ...; "unknown" for values outside the enum. Never NULL. */
HF_API const char *hf_dtype_name(hf_dtype_t dtype);

/* ---- GGUF ------------------------------------------------------------------------------ */

typedef struct hf_gguf hf_gguf_t;

/* Metadata value types, with the numbers GGUF gives them. */
typedef enum hf_gguf_type {
    HF_GGUF_UINT8 = 0, HF_GGUF_INT8 = 1, HF_GGUF_UINT16 = 2, HF_GGUF_INT16 = 3,
    HF_GGUF_UINT32 = 4, HF_GGUF_INT32 = 5, HF_GGUF_FLOAT32 = 6, HF_GGUF_BOOL = 7,
    HF_GGUF_STRING = 8, HF_GGUF_ARRAY = 9, HF_GGUF_UINT64 = 10, HF_GGUF_INT64 = 11,
    HF_GGUF_FLOAT64 = 12
} hf_gguf_type_t;

/* Deepest nesting of metadata arrays accepted (an array of arrays is 2). */
#define HF_GGUF_MAX_ARRAY_DEPTH 8

/*
 * A metadata array: a view, copied by value, valid while its hf_gguf_t is open. Its
 * elements are read with the hf_gguf_array_* functions; the priv_ fields are theirs.
 */
typedef struct hf_gguf_array {
    hf_gguf_type_t type;        /* element type */
    uint64_t count;             /* number of elements */
    const unsigned char *priv_data;
    uint64_t priv_size;
    const void *priv_marks;
} hf_gguf_array_t;

/*
 * hf_gguf_open - map the GGUF file at `path` read-only and validate all of it.
 *
 * Checks the magic, the version (2 or 3; 1 is HF_EUNSUPPORTED, as is a file written
 * big-endian), every metadata key and value (nested arrays included, up to
 * HF_GGUF_MAX_ARRAY_DEPTH; keys must be printable ASCII (0x20-0x7e, space included) and
 * string values UTF-8; strings in arrays are bytes, not checked, as ggml takes them:
 * converters write raw byte tokens),
 * `general.alignment` (a uint32 power of two of at least 8: a power of two as ggml
 * requires, a multiple of 8 as the GGUF specification does; 32 when absent), every
 * tensor info (name, at most 4 dimensions each at most INT64_MAX, a known
 * ggml type, an offset that is a multiple of the alignment) and that every tensor's bytes
 * lie inside the file without overlapping another's. Duplicate keys or tensor names are
 * HF_EFORMAT; an unknown tensor type is HF_EUNSUPPORTED naming the tensor.
 *
 * Returns 0 and sets `*out`, or a negative HF_E* code with `*out` NULL and `err` filled.
 */
HF_API int hf_gguf_open(const char *path, hf_gguf_t **out, hf_error_t *err);

/*
 * hf_gguf_parse - hf_gguf_open for `len` bytes at `buf` (borrowed: they must outlive the
 * returned object; nothing is copied). `name` appears in messages; may be NULL.
 */
HF_API int hf_gguf_parse(const void *buf, size_t len, const char *name, hf_gguf_t **out,
                         hf_error_t *err);

/* hf_gguf_close - unmap and free. NULL is a no-op. */
HF_API void hf_gguf_close(hf_gguf_t *g);

/* The file's name for messages (its base name, or the name given to parse; "" if none). */
HF_API const char *hf_gguf_name(const hf_gguf_t *g);
HF_API uint32_t hf_gguf_version(const hf_gguf_t *g);
HF_API uint64_t hf_gguf_alignment(const hf_gguf_t *g);
/* Absolute offset of the tensor data section (tensor offsets in the file are relative to it). */
HF_API uint64_t hf_gguf_data_offset(const hf_gguf_t *g);
/* The bytes the object reads: the whole mapping (or the parse buffer) and its size
 * (`size` may be NULL). */
HF_API const void *hf_gguf_mapping(const hf_gguf_t *g, size_t *size);

/* Metadata, in file order: count, and the key and type of entry `i` (NULL / -1 if out of range). */
HF_API size_t hf_gguf_kv_count(const hf_gguf_t *g);
HF_API const char *hf_gguf_kv_key(const hf_gguf_t *g, size_t i);
HF_API int hf_gguf_kv_type(const hf_gguf_t *g, size_t i);

/* hf_gguf_find_key - index of `key`, or -1 if absent. */
HF_API long hf_gguf_find_key(const hf_gguf_t *g, const char *key);

/*
 * Typed getters. Each returns 0 and stores the value, HF_ENOENT if the key is absent,
 * HF_EFORMAT if its value has another type or does not fit (err names the key and type),
 * HF_EINVAL for NULL arguments.
 *  - get_u64 reads any integer type whose value is >= 0 (GGUF counts are uint32 or uint64);
 *  - get_i64 reads any integer type whose value fits an int64_t;
 *  - get_f64 reads float32 and float64;
 *  - get_str gives the NUL-terminated value; `len` (may be NULL) its length in bytes;
 *  - get_array gives a view of an array of any element type.
 */
HF_API int hf_gguf_get_u64(const hf_gguf_t *g, const char *key, uint64_t *out, hf_error_t *err);
HF_API int hf_gguf_get_i64(const hf_gguf_t *g, const char *key, int64_t *out, hf_error_t *err);
HF_API int hf_gguf_get_f64(const hf_gguf_t *g, const char *key, double *out, hf_error_t *err);
HF_API int hf_gguf_get_bool(const hf_gguf_t *g, const char *key, bool *out, hf_error_t *err);
HF_API int hf_gguf_get_str(const hf_gguf_t *g, const char *key, const char **out, size_t *len,
                           hf_error_t *err);
HF_API int hf_gguf_get_array(const hf_gguf_t *g, const char *key, hf_gguf_array_t *out,
                             hf_error_t *err);

/*
 * Array elements, with the getters' rules for types. Each returns 0, HF_EINVAL if `i` is
 * out of range (or an argument NULL), HF_EFORMAT if the element type does not match.
 * Scalars are found in constant time; the i-th string or nested array of any array, nested
 * ones included, within 64 steps (hf_gguf_array_array also looks up the nested array's
 * marks, in O(log n)), so reading all n elements of an array costs O(n) steps.
 * hf_gguf_array_str gives the element's bytes, NOT NUL-terminated, and their length.
 */
HF_API int hf_gguf_array_u64(const hf_gguf_array_t *a, uint64_t i, uint64_t *out);
HF_API int hf_gguf_array_i64(const hf_gguf_array_t *a, uint64_t i, int64_t *out);
HF_API int hf_gguf_array_f64(const hf_gguf_array_t *a, uint64_t i, double *out);
HF_API int hf_gguf_array_bool(const hf_gguf_array_t *a, uint64_t i, bool *out);
HF_API int hf_gguf_array_str(const hf_gguf_array_t *a, uint64_t i, const char **out,
                             size_t *len);
HF_API int hf_gguf_array_array(const hf_gguf_array_t *a, uint64_t i, hf_gguf_array_t *out);

/* Tensors, in file order. hf_gguf_tensor gives NULL if `i` is out of range. */
HF_API size_t hf_gguf_tensor_count(const hf_gguf_t *g);
HF_API const hf_tensor_info_t *hf_gguf_tensor(const hf_gguf_t *g, size_t i);
/* hf_gguf_find_tensor - the tensor called `name`, or NULL. */
HF_API const hf_tensor_info_t *hf_gguf_find_tensor(const hf_gguf_t *g, const char *name);
/* The ggml type id of tensor `i` (as stored in the file), or -1 if `i` is out of range. */
HF_API long hf_gguf_tensor_ggml_type(const hf_gguf_t *g, size_t i);

/*
 * hf_gguf_check_split - check that `parts` (n open files, in any order) form one whole
 * split set: each has `split.count` == n, their `split.no` (0-based) are 0..n-1 with no
 * duplicate, each has `split.tensors.count` equal to the sum of the parts' tensor counts,
 * and no tensor name appears in two parts. A single file without split keys, or with a
 * split.count of 0 (what gguf-split --merge writes into a merged file), passes with n == 1.
 * Returns 0 or HF_EFORMAT naming the part ("part 2 (name.gguf)": its 1-based
 * position in `parts` and its name); HF_EINVAL if `parts` is NULL, n is 0 or an element
 * is NULL.
 */
HF_API int hf_gguf_check_split(const hf_gguf_t *const *parts, size_t n, hf_error_t *err);

/* ---- safetensors ----------------------------------------------------------------------- */

typedef struct hf_safetensors hf_safetensors_t;

/* The cap on the JSON header's length, in bytes (the format's own limit). */
#define HF_SAFETENSORS_MAX_HEADER 100000000u

/*
 * hf_safetensors_open - map the safetensors file at `path` read-only and validate it.
 *
 * Checks the 8-byte little-endian header length (at most HF_SAFETENSORS_MAX_HEADER and
 * inside the file), that the header is UTF-8 JSON (one object, starting with its '{' at
 * byte 8, followed by spaces (0x20) only; no \u0000 escape), `__metadata__` (an object of
 * strings, or null for none, as the reference implementation reads it), and each tensor: a known dtype (unknown is HF_EUNSUPPORTED), a shape of at most
 * HF_TENSOR_MAX_DIMS exact non-negative integers, `data_offsets` [begin, end] relative to
 * the first byte after the header, with end - begin == elements x dtype size, inside the
 * file, overlapping no other tensor. Duplicate names, and a field of a tensor entry given
 * twice, are HF_EFORMAT; fields the format does not define are ignored. Gaps between
 * tensors are allowed here; hf_safetensors_check_packed reports them.
 *
 * Returns 0 and sets `*out`, or a negative HF_E* code with `*out` NULL and `err` filled.
 */
HF_API int hf_safetensors_open(const char *path, hf_safetensors_t **out, hf_error_t *err);

/* hf_safetensors_parse - hf_safetensors_open for a borrowed buffer; see hf_gguf_parse. */
HF_API int hf_safetensors_parse(const void *buf, size_t len, const char *name,
                                hf_safetensors_t **out, hf_error_t *err);

/* hf_safetensors_close - unmap and free. NULL is a no-op. */
HF_API void hf_safetensors_close(hf_safetensors_t *st);

HF_API const char *hf_safetensors_name(const hf_safetensors_t *st);
/* Absolute offset of the data section: 8 + the header length. */
HF_API uint64_t hf_safetensors_data_offset(const hf_safetensors_t *st);
HF_API const void *hf_safetensors_mapping(const hf_safetensors_t *st, size_t *size);

/* Tensors, in header order; NULL if `i` is out of range / `name` absent. */
HF_API size_t hf_safetensors_tensor_count(const hf_safetensors_t *st);
HF_API const hf_tensor_info_t *hf_safetensors_tensor(const hf_safetensors_t *st, size_t i);
HF_API const hf_tensor_info_t *hf_safetensors_find_tensor(const hf_safetensors_t *st,
                                                          const char *name);

/* `__metadata__`: count, entry `i` (0 or HF_EINVAL; `key` and `value` may be NULL), and
 * the value of `key` or NULL. */
HF_API size_t hf_safetensors_metadata_count(const hf_safetensors_t *st);
HF_API int hf_safetensors_metadata_at(const hf_safetensors_t *st, size_t i, const char **key,
                                      const char **value);
HF_API const char *hf_safetensors_metadata_get(const hf_safetensors_t *st, const char *key);

/*
 * hf_safetensors_check_packed - the stricter rule of the reference implementation: the
 * tensors cover the data section exactly, from its first byte to the end of the file, with
 * no gap. Returns 0 or HF_EFORMAT naming the first gap (its byte range) or the trailing bytes.
 */
HF_API int hf_safetensors_check_packed(const hf_safetensors_t *st, hf_error_t *err);

/* ---- model.safetensors.index.json ------------------------------------------------------ */

typedef struct hf_st_index hf_st_index_t;

/*
 * hf_st_index_load - read a sharded-checkpoint index: a JSON object whose `weight_map`
 * maps each tensor name to the shard file holding it, and whose optional `metadata` may
 * hold `total_size`. Shard names must be relative paths that stay inside the repository
 * (no "..", no leading "/"). Returns 0 and sets `*out`, or a negative HF_E* code.
 */
HF_API int hf_st_index_load(const char *path, hf_st_index_t **out, hf_error_t *err);
HF_API int hf_st_index_parse(const void *buf, size_t len, const char *name,
                             hf_st_index_t **out, hf_error_t *err);
HF_API void hf_st_index_free(hf_st_index_t *idx);

/* Distinct shard names, in order of first mention in weight_map. */
HF_API size_t hf_st_index_shard_count(const hf_st_index_t *idx);
HF_API const char *hf_st_index_shard(const hf_st_index_t *idx, size_t i);
/* Tensors in weight_map order: name, and the shard the map puts it in (either out pointer
 * may be NULL). hf_st_index_tensor returns 0, or HF_EINVAL if `i` is out of range. */
HF_API size_t hf_st_index_tensor_count(const hf_st_index_t *idx);
HF_API int hf_st_index_tensor(const hf_st_index_t *idx, size_t i, const char **name,
                              const char **shard);
/* hf_st_index_shard_of - the shard `tensor` is mapped to, or NULL. */
HF_API const char *hf_st_index_shard_of(const hf_st_index_t *idx, const char *tensor);
/* `metadata.total_size`: 0, HF_ENOENT if the index has none or one that is no integer in
 * [0, 2^53) (a fraction, a string: loaders never read the field, so such an index loads),
 * HF_EINVAL for NULLs. */
HF_API int hf_st_index_total_size(const hf_st_index_t *idx, uint64_t *out);

/*
 * hf_st_index_check - check an index against its opened shards: `shards[i]` is the file
 * the index calls `names[i]`. Every shard the index names must be given; every tensor it
 * lists must be in the shard it names; no given shard may hold a tensor that the index puts
 * in another shard or does not list. Returns 0 or HF_EFORMAT naming the tensor and the
 * shard(s); HF_EINVAL for NULL arguments or a name given twice.
 */
HF_API int hf_st_index_check(const hf_st_index_t *idx, const hf_safetensors_t *const *shards,
                             const char *const *names, size_t n, hf_error_t *err);

/* ---- tokenizer.json -------------------------------------------------------------------- */

typedef struct hf_tokenizer hf_tokenizer_t;

/*
 * hf_tokenizer_load - read the vocabulary of a tokenizers-library tokenizer.json:
 * `model.vocab` (an object token -> id, as BPE, WordPiece and WordLevel write it, or an
 * array of [token, score] pairs whose ids are their positions, as Unigram writes it) and
 * `added_tokens` (objects with an integer `id` and a string `content`). Ids are integers
 * in [0, 2^31). A text may appear more than once (an added token is often in model.vocab
 * too): it has the id the tokenizers library gives it on loading the file, which is its
 * id in model.vocab (the last one listed there) if model.vocab has it, else the id of its
 * first entry in added_tokens (the library only warns about an added token whose file id
 * differs, and such files load there). Returns 0 and sets `*out`, or a negative HF_E*
 * code naming the key.
 */
HF_API int hf_tokenizer_load(const char *path, hf_tokenizer_t **out, hf_error_t *err);
HF_API int hf_tokenizer_parse(const void *buf, size_t len, const char *name,
                              hf_tokenizer_t **out, hf_error_t *err);
HF_API void hf_tokenizer_free(hf_tokenizer_t *tok);

/* Vocabulary size: the highest id of model.vocab and added_tokens, plus one (0 if none). */
HF_API uint64_t hf_tokenizer_vocab_size(const hf_tokenizer_t *tok);
/* Number of entries of added_tokens. */
HF_API size_t hf_tokenizer_added_count(const hf_tokenizer_t *tok);
/* `model.type` ("BPE", "Unigram", ...), or NULL when absent. */
HF_API const char *hf_tokenizer_model_type(const hf_tokenizer_t *tok);

/*
 * hf_tokenizer_token_id - the id of the token whose text is exactly `text`
 * ("<|endoftext|>"), in model.vocab or added_tokens (a text has one id: see
 * hf_tokenizer_load).
 * Returns 0 and sets `*id`, HF_ENOENT if no token has that text, HF_EINVAL for NULLs.
 */
HF_API int hf_tokenizer_token_id(const hf_tokenizer_t *tok, const char *text, uint32_t *id);

/* ---- config.json (and any JSON document) ------------------------------------------------ */

typedef struct hf_config hf_config_t;

/* JSON value types, for hf_config_type. */
typedef enum hf_json_type {
    HF_JSON_NULL = 0, HF_JSON_BOOL, HF_JSON_NUMBER, HF_JSON_STRING, HF_JSON_ARRAY, HF_JSON_OBJECT
} hf_json_type_t;

/*
 * hf_config_load - read a JSON document (config.json, generation_config.json, ...). The text
 * must be UTF-8 without control characters (tab, CR and LF aside) and without a \u0000
 * escape, one value, then whitespace only. Returns 0 and sets `*out`, or HF_EFORMAT naming
 * the byte offset of the first problem.
 */
HF_API int hf_config_load(const char *path, hf_config_t **out, hf_error_t *err);
HF_API int hf_config_parse(const void *buf, size_t len, const char *name, hf_config_t **out,
                           hf_error_t *err);
HF_API void hf_config_free(hf_config_t *cfg);

/*
 * Typed access by path: keys joined with '.', a decimal segment indexing an array
 * ("text_config.vocab_size", "architectures.0"); "" is the document itself. A key given
 * twice in an object means its last value, as Python's json module reads it. Each returns 0
 * and stores the value, HF_ENOENT if the path leads nowhere or to null, HF_EFORMAT if the
 * value has another type (err names the path and both types), HF_EINVAL for NULLs.
 *  - get_int: a number that is an integer of magnitude below 2^53;
 *  - get_str: the NUL-terminated string, valid until hf_config_free;
 *  - get_array_len: the number of elements of an array.
 * hf_config_type gives the hf_json_type_t at `path`, HF_ENOENT (for null too, as for the
 * getters: it never gives HF_JSON_NULL) or HF_EINVAL.
 */
HF_API int hf_config_type(const hf_config_t *cfg, const char *path);
HF_API int hf_config_get_int(const hf_config_t *cfg, const char *path, int64_t *out,
                             hf_error_t *err);
HF_API int hf_config_get_float(const hf_config_t *cfg, const char *path, double *out,
                               hf_error_t *err);
HF_API int hf_config_get_bool(const hf_config_t *cfg, const char *path, bool *out,
                              hf_error_t *err);
HF_API int hf_config_get_str(const hf_config_t *cfg, const char *path, const char **out,
                             hf_error_t *err);
HF_API int hf_config_get_array_len(const hf_config_t *cfg, const char *path, size_t *out,
                                   hf_error_t *err);

#ifdef __cplusplus
}
#endif

#endif /* HF_FORMATS_H */
