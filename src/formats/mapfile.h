/*
 * mapfile.h - the bytes a reader reads: a whole file mapped read-only, or a caller's
 * buffer; and the open/parse/close pattern the readers share.
 */
#ifndef HF_FORMATS_MAPFILE_H
#define HF_FORMATS_MAPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "hf/error.h"
#include "formats/arena.h"

typedef struct hfi_map {
    const unsigned char *data;  /* NULL for an empty file */
    size_t size;
} hfi_map_t;

/*
 * hfi_map_open - map the regular file at `path` read-only (PROT_READ, MAP_PRIVATE). An
 * empty file gives data NULL and size 0. Returns 0, HF_ENOENT if it does not exist,
 * HF_EIO for any other failure (the message names the path and the reason).
 */
int hfi_map_open(const char *path, hfi_map_t *m, hf_error_t *err);

/* hfi_map_close - unmap; the map is empty afterwards. */
void hfi_map_close(hfi_map_t *m);

/* hfi_map_live - mappings hfi_map_open() made and hfi_map_close() has not yet undone, in
 * this process (for tests). */
size_t hfi_map_live(void);

/*
 * The first member of a reader object that keeps its bytes (GGUF, safetensors): where the
 * bytes are, the name for messages, and the arena the object's strings live in.
 */
typedef struct hfi_source {
    const char *name;           /* arena; "" if none */
    const unsigned char *base;
    uint64_t size;
    hfi_map_t map;              /* when opened by path */
    hfi_arena_t arena;
} hfi_source_t;

/* How to make one kind of reader object; `size` bytes, an hfi_source_t first. */
typedef struct hfi_reader {
    size_t size;
    int (*parse)(void *obj, hf_error_t *err);   /* validate obj's bytes; 0 or HF_E* */
    void (*close)(void *obj);                   /* free what parse built, and obj */
} hfi_reader_t;

/*
 * hfi_source_open - allocate a zeroed object of `rd->size` bytes, give it the bytes of the
 * file at `path` (mapped) or, if `path` is NULL, the borrowed `len` bytes at `buf` under
 * `name`, and parse them. Returns 0 and the object in `*out`, or a negative HF_E* code
 * after closing it.
 */
int hfi_source_open(const hfi_reader_t *rd, const char *path, const void *buf, size_t len,
                    const char *name, void **out, hf_error_t *err);

/* hfi_source_free - unmap and free the arena (for a reader's close). */
void hfi_source_free(hfi_source_t *src);

#endif /* HF_FORMATS_MAPFILE_H */
