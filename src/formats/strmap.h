/*
 * strmap.h - a hash map from byte strings to 64-bit values: name lookups and duplicate
 * detection for the readers.
 */
#ifndef HF_FORMATS_STRMAP_H
#define HF_FORMATS_STRMAP_H

#include <stddef.h>
#include <stdint.h>

/* A map; all zeros (HFI_STRMAP_INIT, calloc) is an empty one. */
typedef struct hfi_strmap {
    struct hfi_strmap_slot *slots;
    size_t cap;                 /* a power of two, or 0 */
    size_t n;
    uint64_t k0, k1;            /* the hash key, taken from the process key at the first put */
} hfi_strmap_t;

#define HFI_STRMAP_INIT { NULL, 0, 0, 0, 0 }

/*
 * hfi_strmap_put - map `key` (`len` bytes, borrowed: they must outlive the map) to `value`.
 * Returns 0 when added, 1 when the key was already there (its value is left as it was and
 * stored in `*old` if not NULL), HF_ENOMEM when memory is short.
 */
int hfi_strmap_put(hfi_strmap_t *m, const char *key, size_t len, uint64_t value, uint64_t *old);

/*
 * hfi_strmap_set - hfi_strmap_put, except that a key already there takes `value` (its
 * first `key` pointer is kept). Returns 0 when added, 1 when replaced, HF_ENOMEM.
 */
int hfi_strmap_set(hfi_strmap_t *m, const char *key, size_t len, uint64_t value);

/* hfi_strmap_get - 1 and the value if `key` is present, else 0. */
int hfi_strmap_get(const hfi_strmap_t *m, const char *key, size_t len, uint64_t *value);

void hfi_strmap_free(hfi_strmap_t *m);

/*
 * hfi_strmap_max_probe - the most slots a lookup of a present key compares: 1 + the
 * longest distance from a key's home slot to its slot (0 for an empty map). O(capacity);
 * for tests, which check that crafted keys cannot build long runs.
 */
size_t hfi_strmap_max_probe(const hfi_strmap_t *m);

/*
 * hfi_siphash - SipHash-c-d of `len` bytes at `p` under the 16-byte `key` (the map uses
 * c = 1, d = 3 and a per-process key); exposed for the tests' known-answer checks.
 */
uint64_t hfi_siphash(const unsigned char key[16], const void *p, size_t len, unsigned c,
                     unsigned d);

#endif /* HF_FORMATS_STRMAP_H */
