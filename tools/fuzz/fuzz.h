/*
 * fuzz.h - what the fuzz targets share: the targets themselves, the invariant check, and
 * NUL-terminated copies of the input.
 *
 * Each tools/fuzz/fuzz_<name>.c defines `int hfz_<name>(const uint8_t *data, size_t size)`,
 * which feeds one input to the code under test and checks what it gives back. Built with
 * HFZ_LIBFUZZER defined (tools/fuzz/fuzz.mk, clang, -fsanitize=fuzzer,address,undefined),
 * the file also defines libFuzzer's entry point; built without it, the targets are plain
 * functions that tests/formats/check_regressions calls on every file of the corpus.
 *
 * A target returns 0 (libFuzzer's convention) and never fails quietly: a broken invariant
 * prints where and what, then abort()s, which libFuzzer (or Check) reports as a crash.
 */
#ifndef HF_FUZZ_H
#define HF_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hf/error.h"

int hfz_gguf(const uint8_t *data, size_t size);
int hfz_safetensors(const uint8_t *data, size_t size);
int hfz_st_index(const uint8_t *data, size_t size);
int hfz_tokenizer(const uint8_t *data, size_t size);
int hfz_config(const uint8_t *data, size_t size);
int hfz_headers(const uint8_t *data, size_t size);
int hfz_names(const uint8_t *data, size_t size);
int hfz_url(const uint8_t *data, size_t size);
int hfz_glob(const uint8_t *data, size_t size);

/* Abort, saying which invariant broke, if `cond` is false. */
#define HFZ_CHECK(cond)                                                                 \
    do {                                                                                \
        if (!(cond))                                                                    \
            hfz_fail(__FILE__, __LINE__, #cond);                                        \
    } while (0)

static inline void hfz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: fuzz invariant broken: %s\n", file, line, what);
    abort();
}

/* A malloc'd NUL-terminated copy of `size` bytes (the string ends at the first NUL). */
static inline char *hfz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    HFZ_CHECK(s != NULL);
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/*
 * Whether a reader refused its input, checking either outcome: success (`rc` 0) gives an
 * object; a refusal gives none, a reader's code (HF_EFORMAT, HF_EUNSUPPORTED or HF_ENOMEM)
 * and `err` holding it with a non-empty, terminated message.
 */
static inline int hfz_refused(int rc, const void *obj, const hf_error_t *err)
{
    if (rc == 0) {
        HFZ_CHECK(obj != NULL);
        return 0;
    }
    HFZ_CHECK(obj == NULL);
    HFZ_CHECK(rc == HF_EFORMAT || rc == HF_EUNSUPPORTED || rc == HF_ENOMEM);
    HFZ_CHECK(err->code == rc);
    HFZ_CHECK(memchr(err->message, '\0', sizeof err->message) != NULL);
    HFZ_CHECK(err->message[0] != '\0');
    return 1;
}

/* A byte range [begin, end) of a tensor. */
typedef struct hfz_range {
    uint64_t begin, end;
} hfz_range_t;

static inline int hfz_by_begin(const void *a, const void *b)
{
    const hfz_range_t *x = a, *y = b;

    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Sort `n` ranges by their start; abort if two overlap. */
static inline void hfz_sort_disjoint(hfz_range_t *r, size_t n)
{
    size_t i;

    qsort(r, n, sizeof *r, hfz_by_begin);
    for (i = 1; i < n; i++)
        HFZ_CHECK(r[i].begin >= r[i - 1].end);
}

/* Whether [p, p + n) lies inside [base, base + size). */
static inline int hfz_inside(const void *p, uint64_t n, const void *base, size_t size)
{
    uintptr_t b = (uintptr_t)base, q = (uintptr_t)p;

    return q >= b && q - b <= size && n <= size - (q - b);
}

/* libFuzzer's entry point, calling target `fn`, when built as a fuzzer. */
#ifdef HFZ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#define HFZ_ENTRY(fn)                                                                   \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)                        \
    {                                                                                   \
        return fn(data, size);                                                          \
    }
#else
#define HFZ_ENTRY(fn)
#endif

#endif /* HF_FUZZ_H */
