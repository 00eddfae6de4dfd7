/*
 * json.h - cJSON behind the checks untrusted JSON needs: strict UTF-8 text, one value and
 * nothing after it, errors with byte offsets, integers that are exactly integers.
 */
#ifndef HF_FORMATS_JSON_H
#define HF_FORMATS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "hf/error.h"
#include "formats/arena.h"

/* Integers below 2^53 in magnitude are exact in a JSON number (a double); 2^53 is not
 * (2^53 + 1 rounds to it). */
#define HFI_JSON_INT_LIMIT 9007199254740992.0

/*
 * hfi_json_parse - parse `len` bytes of JSON text at `buf`. `base` is the file offset of
 * buf[0] (for messages), `file` and `what` ("header", or NULL) name it. The text must be
 * UTF-8 without control characters other than tab, CR and LF (a UTF-8 byte order mark is
 * allowed) and without a \u0000 escape in a string (cJSON's strings end at a NUL), hold
 * one value and then whitespace only. Returns 0 and the tree in `*root`
 * (the caller cJSON_Deletes it), or HF_EFORMAT naming the byte offset of the problem.
 */
int hfi_json_parse(const void *buf, size_t len, uint64_t base, const char *file,
                   const char *what, cJSON **root, hf_error_t *err);

/* hfi_json_uint - true and the value if `item` is a number that is an integer in [0, 2^53). */
bool hfi_json_uint(const cJSON *item, uint64_t *out);

/* hfi_json_int - true and the value if `item` is a number that is an integer in (-2^53, 2^53). */
bool hfi_json_int(const cJSON *item, int64_t *out);

/* hfi_json_type_name - "null", "bool", "number", "string", "array", "object" or "invalid". */
const char *hfi_json_type_name(const cJSON *item);

/* The first member of an object read from one JSON document (index, tokenizer, config). */
typedef struct hfi_json_obj {
    const char *name;           /* arena; "" if none */
    hfi_arena_t arena;
} hfi_json_obj_t;

/* How to make one kind of such object; `size` bytes, an hfi_json_obj_t first. */
typedef struct hfi_json_reader {
    size_t size;
    /* build obj from the tree; may keep the tree by taking *root (setting it NULL) */
    int (*read)(void *obj, cJSON **root, hf_error_t *err);
    void (*free)(void *obj);    /* free what read built, the arena, and obj */
} hfi_json_reader_t;

/*
 * hfi_json_open - parse the JSON file at `path` (mapped for the parse, then unmapped) or,
 * if `path` is NULL, the `len` bytes at `buf` under `name`; allocate a zeroed object of
 * `rd->size` bytes and run `rd->read`. Returns 0 and the object in `*out`, or a negative
 * HF_E* code (nothing is left allocated).
 */
int hfi_json_open(const hfi_json_reader_t *rd, const char *path, const void *buf, size_t len,
                  const char *name, void **out, hf_error_t *err);

#endif /* HF_FORMATS_JSON_H */
