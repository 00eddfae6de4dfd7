/*
 * bytes.h - little-endian decoding, a bounded cursor and overflow-checked arithmetic, the
 * three things every binary reader here is built from.
 *
 * Design notes
 *  - a cursor never moves past `len`: callers ask hfi_rd_has(r, n) before touching n bytes,
 *    and the subtraction `len - pos` cannot wrap because pos <= len always holds;
 *  - offsets and sizes are uint64_t throughout (files may exceed 4 GiB); a size_t is only
 *    formed from a value already checked against a buffer's length;
 *  - hfi_add_ok / hfi_mul_ok return false instead of wrapping.
 */
#ifndef HF_FORMATS_BYTES_H
#define HF_FORMATS_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline uint16_t hfi_le16(const unsigned char *p)
{
    return (uint16_t)((unsigned)p[0] | ((unsigned)p[1] << 8));
}

static inline uint32_t hfi_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static inline uint64_t hfi_le64(const unsigned char *p)
{
    return (uint64_t)hfi_le32(p) | ((uint64_t)hfi_le32(p + 4) << 32);
}

static inline bool hfi_add_ok(uint64_t a, uint64_t b, uint64_t *sum)
{
    if (a > UINT64_MAX - b)
        return false;
    *sum = a + b;
    return true;
}

static inline bool hfi_mul_ok(uint64_t a, uint64_t b, uint64_t *product)
{
    if (b != 0 && a > UINT64_MAX / b)
        return false;
    *product = a * b;
    return true;
}

/* A read cursor over `len` bytes at `p`; `pos` is the next byte to read. */
typedef struct hfi_rd {
    const unsigned char *p;
    uint64_t len;
    uint64_t pos;
} hfi_rd_t;

static inline uint64_t hfi_rd_left(const hfi_rd_t *r)
{
    return r->len - r->pos;
}

static inline bool hfi_rd_has(const hfi_rd_t *r, uint64_t n)
{
    return n <= r->len - r->pos;
}

static inline const unsigned char *hfi_rd_at(const hfi_rd_t *r)
{
    return r->p + r->pos;
}

/* Unchecked reads: only after hfi_rd_has() said the bytes are there. */
static inline uint32_t hfi_rd_u32(hfi_rd_t *r)
{
    uint32_t v = hfi_le32(r->p + r->pos);
    r->pos += 4;
    return v;
}

static inline uint64_t hfi_rd_u64(hfi_rd_t *r)
{
    uint64_t v = hfi_le64(r->p + r->pos);
    r->pos += 8;
    return v;
}

#endif /* HF_FORMATS_BYTES_H */
