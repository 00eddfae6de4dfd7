/*
 * fmtutil.h - helpers shared by the format suites: temporary files, byte patching, message
 * checks, and the small valid files the corruption tests start from.
 */
#ifndef HF_FMTUTIL_H
#define HF_FMTUTIL_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/testutil.h"
#include "formats/writer.h"

/* Whether `message` holds `needle` (NULL: anything does). */
static inline int fu_holds(const char *message, const char *needle)
{
    return needle == NULL || strstr(message, needle) != NULL;
}

/* Assert `rc` is `code` and the message holds `needle` (NULL: anything). */
#define FU_ASSERT_ERR(rc, code, err, needle)                                            \
    do {                                                                                \
        int fu_rc_ = (rc);                                                              \
        const char *fu_needle_ = (needle);                                              \
        ck_assert_msg(fu_rc_ == (code), "got %d (%s), want %d; message: %s", fu_rc_,    \
                      hf_strerror(fu_rc_), (code), (err).message);                      \
        ck_assert_msg(fu_holds((err).message, fu_needle_), "message \"%s\" lacks \"%s\"", \
                      (err).message, fu_needle_ ? fu_needle_ : "");                    \
    } while (0)

/* A fresh temporary directory (removed by fu_rmdir). */
static inline char *fu_tmpdir(void)
{
    char *d = strdup("/tmp/hf-formats-XXXXXX");
    ck_assert_ptr_nonnull(d);
    ck_assert_ptr_nonnull(mkdtemp(d));
    return d;
}

/* `dir`/`name`, malloc'd. */
static inline char *fu_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    ck_assert_ptr_nonnull(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Write `len` bytes to `dir`/`name`; the path, malloc'd. */
static inline char *fu_write(const char *dir, const char *name, const void *data, size_t len)
{
    char *p = fu_path(dir, name);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    return p;
}

/* Remove the files named and then `dir`; frees the paths and `dir`. */
static inline void fu_cleanup(char *dir, char **paths, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unlink(paths[i]);
        free(paths[i]);
    }
    rmdir(dir);
    free(dir);
}

/* Offset of the first `n` bytes equal to `needle` in `buf`, or -1. */
static inline long fu_find(const unsigned char *buf, size_t len, const void *needle, size_t n)
{
    size_t i;
    for (i = 0; n <= len && i <= len - n; i++)
        if (memcmp(buf + i, needle, n) == 0)
            return (long)i;
    return -1;
}

/* Offset of the bytes just after the GGUF string `s` (its u64 length, then `s`), or -1. */
static inline long fu_after_gguf_str(const unsigned char *buf, size_t len, const char *s)
{
    size_t n = strlen(s);
    unsigned char *enc = malloc(n + 8);
    long at;
    size_t i;
    ck_assert_ptr_nonnull(enc);
    for (i = 0; i < 8; i++)
        enc[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(enc + 8, s, n);
    at = fu_find(buf, len, enc, n + 8);
    free(enc);
    return at < 0 ? -1 : at + (long)(n + 8);
}

static inline void fu_put_le32(unsigned char *p, uint32_t v)
{
    unsigned i;
    for (i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline void fu_put_le64(unsigned char *p, uint64_t v)
{
    fu_put_le32(p, (uint32_t)v);
    fu_put_le32(p + 4, (uint32_t)(v >> 32));
}

/* A malloc'd copy of `len` bytes. */
static inline unsigned char *fu_dup(const void *p, size_t len)
{
    unsigned char *c = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(c);
    memcpy(c, p, len);
    return c;
}

/*
 * The small valid GGUF the corruption tests start from: a few metadata entries of several
 * types ("general.architecture", "tok.ids" (int32 array), "tok.words" (string array),
 * "general.flag" (bool)) and two tensors, "blk.0.q" (Q8_0 [32, 1]: 34 bytes, padded to
 * 64) then "blk.0.w" (F32 [8, 2]: 64 bytes), which ends exactly at the end of the file, so
 * that every shorter prefix cuts a tensor.
 */
static inline void fu_small_gguf(hfi_buf_t *out)
{
    hfi_gguf_writer_t *w = hfi_gguf_writer_new();
    static const int32_t ids[3] = { 7, -1, 151643 };
    static const char *const words[2] = { "hello", "wörld" };
    uint64_t d1[2] = { 8, 2 }, d2[2] = { 32, 1 };
    unsigned char q[34];

    ck_assert_ptr_nonnull(w);
    memset(q, 0x5a, sizeof q);
    hfi_gguf_add_str(w, "general.architecture", "llama");
    hfi_gguf_add_array(w, "tok.ids", HF_GGUF_INT32, ids, 3);
    hfi_gguf_add_str_array(w, "tok.words", words, 2);
    hfi_gguf_add_bool(w, "general.flag", true);
    hfi_gguf_add_tensor(w, "blk.0.q", 8, 2, d2, q);         /* Q8_0: 34 bytes, padded */
    hfi_gguf_add_tensor(w, "blk.0.w", 0, 2, d1, NULL);      /* F32: 64 bytes, last */
    ck_assert_int_eq(hfi_gguf_writer_finish(w, out), 0);
    hfi_gguf_writer_free(w);
}

/*
 * The small valid safetensors file: __metadata__ {"format": "pt"}, "a" (F32 [2, 3],
 * 24 bytes), "b" (BF16 [4], 8 bytes), "c" (U8 [2], 2 bytes), packed in that order.
 */
static inline void fu_small_st(hfi_buf_t *out)
{
    hfi_st_writer_t *w = hfi_st_writer_new();
    uint64_t sa[2] = { 2, 3 }, sb[1] = { 4 }, sc[1] = { 2 };

    ck_assert_ptr_nonnull(w);
    hfi_st_add_metadata(w, "format", "pt");
    hfi_st_add_tensor(w, "a", "F32", 2, sa, NULL);
    hfi_st_add_tensor(w, "b", "BF16", 1, sb, NULL);
    hfi_st_add_tensor(w, "c", "U8", 1, sc, NULL);
    ck_assert_int_eq(hfi_st_writer_finish(w, out), 0);
    hfi_st_writer_free(w);
}

/* Assert tensor `t` lies in the mapping [base, base + size) and holds the bytes `orig` has
 * at the same offset: data that was mapped, not copied. */
static inline void fu_assert_mapped(const hf_tensor_info_t *t, const void *base, size_t size,
                                    const unsigned char *orig)
{
    const unsigned char *b = base, *d = t->data;

    ck_assert_ptr_eq(d, b + t->offset);
    ck_assert_msg(d >= b && d + t->nbytes <= b + size, "tensor \"%s\" outside the mapping",
                  t->name);
    ck_assert(memcmp(d, orig + t->offset, (size_t)t->nbytes) == 0);
}

/* ---- corruption drivers ------------------------------------------------------------------ */

/* A format's parse of an exact-size heap copy of `len` bytes (so ASan sees any over-read). */
typedef int (*fu_parse_fn)(const unsigned char *bytes, size_t len, hf_error_t *err);

/* The check of one row of a corruption table: `code`, and a message that names the file
 * (`file`: ") and holds `needle`. */
static inline void fu_assert_refused(const char *what, int rc, const hf_error_t *err, int code,
                                     const char *needle, const char *file)
{
    ck_assert_msg(rc == code, "%s: got %d (%s), want %d", what, rc, err->message, code);
    ck_assert_msg(strstr(err->message, needle) != NULL, "%s: message \"%s\" lacks \"%s\"", what,
                  err->message, needle);
    ck_assert_msg(strncmp(err->message, file, strlen(file)) == 0 &&
                  strncmp(err->message + strlen(file), ": ", 2) == 0,
                  "%s: message \"%s\" does not name %s", what, err->message, file);
}

/* Every proper prefix of a valid file is refused with HF_EFORMAT. */
static inline void fu_every_prefix_refused(const unsigned char *bytes, size_t len,
                                           fu_parse_fn parse)
{
    hf_error_t err;
    size_t n;

    ck_assert_int_eq(parse(bytes, len, &err), 0);
    for (n = 0; n < len; n++) {
        int rc = parse(bytes, n, &err);
        ck_assert_msg(rc == HF_EFORMAT, "prefix of %zu bytes: %d (%s)", n, rc, err.message);
    }
}

/* Setting any one byte to any of `values` gives success or a refusal, never a crash. */
static inline void fu_byte_changes_are_safe(const unsigned char *bytes, size_t len,
                                            const unsigned char *values, size_t nvalues,
                                            fu_parse_fn parse)
{
    hf_error_t err;
    size_t i, v;

    for (i = 0; i < len; i++)
        for (v = 0; v < nvalues; v++) {
            unsigned char *m = fu_dup(bytes, len);
            int rc;
            m[i] = values[v];
            rc = parse(m, len, &err);
            ck_assert_msg(rc == 0 || rc == HF_EFORMAT || rc == HF_EUNSUPPORTED,
                          "byte %zu = 0x%02x: %d (%s)", i, values[v], rc, err.message);
            free(m);
        }
}

/* A safetensors file from a literal header (no padding) and `data_len` pattern bytes. */
static inline void fu_st_from_header(hfi_buf_t *out, const char *header, size_t data_len)
{
    size_t i;
    hfi_buf_put_u64(out, strlen(header));
    hfi_buf_put(out, header, strlen(header));
    for (i = 0; i < data_len; i++)
        hfi_buf_put_u8(out, (uint8_t)i);
    ck_assert_int_eq(out->error, 0);
}

#endif /* HF_FMTUTIL_H */
