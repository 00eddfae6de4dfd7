/*
 * gguf_split.c - checking that GGUF parts form one split set.
 *
 * Design notes
 *  - the keys are the ones llama.cpp's gguf-split writes: split.no (0-based), split.count,
 *    split.tensors.count; they are read with hf_gguf_get_u64, so any integer type works;
 *  - parts may come in any order: split.no says where each belongs, and each number must
 *    be taken exactly once;
 *  - a part is named in messages by its 1-based position in the caller's array and its
 *    file name, so "part 2 (x-00002-of-00003.gguf)" is the second element given;
 *  - a file given alone is a whole model when it has no split keys, or a split.count of 0:
 *    gguf-split --merge copies the first part's keys into the file it writes and sets
 *    split.count to 0 so that the result is not taken for a part (llama.cpp reads any count
 *    below 2 as "not split"); in a set of several, a count of 0 is wrong like any other.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "formats/ferror.h"
#include "formats/gguf_impl.h"

/* Read split key `key` of part `i`: 0, or an error naming the part. */
static int split_key(const hf_gguf_t *const *parts, size_t i, const char *key, uint64_t *v,
                     hf_error_t *err)
{
    hf_error_t e;
    int rc = hf_gguf_get_u64(parts[i], key, v, &e);

    if (rc == HF_ENOENT)
        return hfi_ferr(err, HF_EFORMAT, NULL, "part %zu (%s): no %s", i + 1,
                        parts[i]->src.name, key);
    if (rc < 0)
        return hfi_ferr(err, rc, NULL, "part %zu: %s", i + 1, e.message);
    return 0;
}

/* Whether a file given alone says it is a part: it has split keys, and a split.count that
 * is not 0 (gguf-split --merge leaves 0 in the whole file it writes). */
static bool says_part(const hf_gguf_t *g)
{
    uint64_t count;

    if (hf_gguf_get_u64(g, "split.count", &count, NULL) == 0 && count == 0)
        return false;
    return hf_gguf_find_key(g, "split.count") >= 0 || hf_gguf_find_key(g, "split.no") >= 0;
}

/* No tensor name in two parts. */
static int check_names(const hf_gguf_t *const *parts, size_t n, hf_error_t *err)
{
    hfi_strmap_t seen = HFI_STRMAP_INIT;
    size_t i, k;
    uint64_t first;
    int rc = 0;

    for (i = 0; i < n && rc == 0; i++)
        for (k = 0; k < parts[i]->tensors.n && rc == 0; k++) {
            const char *name = parts[i]->tensors.v[k].name;
            rc = hfi_strmap_put(&seen, name, strlen(name), i, &first);
            if (rc == 1)
                rc = hfi_ferr(err, HF_EFORMAT, NULL, "tensor \"%s\" is in part %" PRIu64
                              " (%s) and in part %zu (%s)", name, first + 1,
                              parts[first]->src.name, i + 1, parts[i]->src.name);
            else if (rc < 0)
                rc = hfi_ferr(err, rc, NULL, "out of memory");
        }
    hfi_strmap_free(&seen);
    return rc;
}

/* Every part's split.count is n and its split.no is in [0, n), taken once. */
static int check_numbers(const hf_gguf_t *const *parts, size_t n, hf_error_t *err)
{
    size_t *owner = calloc(n, sizeof *owner), i;
    uint64_t count, no;
    int rc = 0;

    if (!owner)
        return hfi_ferr(err, HF_ENOMEM, NULL, "out of memory");
    for (i = 0; i < n && rc == 0; i++) {
        const char *name = parts[i]->src.name;

        if ((rc = split_key(parts, i, "split.count", &count, err)) < 0 ||
            (rc = split_key(parts, i, "split.no", &no, err)) < 0)
            break;
        if (count != n)
            rc = hfi_ferr(err, HF_EFORMAT, NULL, "part %zu (%s): split.count is %" PRIu64
                          ", but %zu parts were given", i + 1, name, count, n);
        else if (no >= n)
            rc = hfi_ferr(err, HF_EFORMAT, NULL, "part %zu (%s): split.no %" PRIu64 " is not "
                          "below split.count (%zu)", i + 1, name, no, n);
        else if (owner[no])
            rc = hfi_ferr(err, HF_EFORMAT, NULL, "part %zu (%s) and part %zu (%s) both have "
                          "split.no %" PRIu64, owner[no], parts[owner[no] - 1]->src.name, i + 1,
                          name, no);
        else
            owner[no] = i + 1;
    }
    free(owner);
    return rc;
}

/* Every part's split.tensors.count is the number of tensors in all parts. */
static int check_totals(const hf_gguf_t *const *parts, size_t n, hf_error_t *err)
{
    uint64_t total = 0, said;
    size_t i;
    int rc;

    for (i = 0; i < n; i++)
        total += parts[i]->tensors.n;
    for (i = 0; i < n; i++) {
        if ((rc = split_key(parts, i, "split.tensors.count", &said, err)) < 0)
            return rc;
        if (said != total)
            return hfi_ferr(err, HF_EFORMAT, NULL, "part %zu (%s): split.tensors.count is %"
                            PRIu64 ", but the %zu parts hold %" PRIu64 " tensors", i + 1,
                            parts[i]->src.name, said, n, total);
    }
    return 0;
}

int hf_gguf_check_split(const hf_gguf_t *const *parts, size_t n, hf_error_t *err)
{
    size_t i;
    int rc;

    if (!parts || n == 0)
        return hfi_ferr(err, HF_EINVAL, NULL, "no parts given");
    for (i = 0; i < n; i++)
        if (!parts[i])
            return hfi_ferr(err, HF_EINVAL, NULL, "part %zu is NULL", i + 1);
    if (n == 1 && !says_part(parts[0]))
        return 0;
    if ((rc = check_numbers(parts, n, err)) < 0 || (rc = check_totals(parts, n, err)) < 0)
        return rc;
    return check_names(parts, n, err);
}
