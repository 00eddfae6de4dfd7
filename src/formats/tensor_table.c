/*
 * tensor_table.c - tensors of a file: unique names, disjoint byte ranges.
 *
 * Design notes
 *  - names are checked for duplicates as they are added, through the same map that
 *    serves hfi_tt_find;
 *  - overlaps are found by sorting the ranges by offset and comparing each range with the
 *    furthest end seen so far, so one pass finds any overlapping pair; empty tensors
 *    (nbytes 0) hold no bytes and overlap nothing.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/arena.h"
#include "formats/ferror.h"
#include "formats/tensor_table.h"

int hfi_tt_push(hfi_tensor_table_t *t, const hf_tensor_info_t *info, size_t *dup)
{
    uint64_t old;
    int rc;

    if ((rc = hfi_grow((void **)&t->v, &t->cap, t->n + 1, sizeof *t->v)) < 0)
        return rc;
    rc = hfi_strmap_put(&t->names, info->name, strlen(info->name), t->n, &old);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        *dup = (size_t)old;
        return 1;
    }
    t->v[t->n++] = *info;
    return 0;
}

const hf_tensor_info_t *hfi_tt_get(const hfi_tensor_table_t *t, size_t i)
{
    return i < t->n ? &t->v[i] : NULL;
}

const hf_tensor_info_t *hfi_tt_find(const hfi_tensor_table_t *t, const char *name)
{
    uint64_t i;

    if (!name || !hfi_strmap_get(&t->names, name, strlen(name), &i))
        return NULL;
    return &t->v[i];
}

typedef struct range {
    uint64_t begin, size;
    size_t index;
} range_t;

static int by_begin(const void *a, const void *b)
{
    const range_t *x = a, *y = b;

    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->size != y->size)
        return x->size < y->size ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

size_t *hfi_tt_order(const hfi_tensor_table_t *t)
{
    range_t *r;
    size_t *order, i;

    if (t->n == 0)
        return NULL;
    r = malloc(t->n * sizeof *r);
    order = malloc(t->n * sizeof *order);
    if (!r || !order) {
        free(r);
        free(order);
        return NULL;
    }
    for (i = 0; i < t->n; i++) {
        r[i].begin = t->v[i].offset;
        r[i].size = t->v[i].nbytes;
        r[i].index = i;
    }
    qsort(r, t->n, sizeof *r, by_begin);
    for (i = 0; i < t->n; i++)
        order[i] = r[i].index;
    free(r);
    return order;
}

int hfi_tt_check_overlaps(const hfi_tensor_table_t *t, const char *file, hf_error_t *err)
{
    const hf_tensor_info_t *far = NULL;     /* the tensor reaching furthest so far */
    size_t *order, i;
    int rc = 0;

    if (t->n < 2)
        return 0;
    if (!(order = hfi_tt_order(t)))
        return hfi_ferr(err, HF_ENOMEM, file, "out of memory");
    for (i = 0; i < t->n && rc == 0; i++) {
        const hf_tensor_info_t *x = &t->v[order[i]];
        if (x->nbytes == 0)
            continue;
        if (far && x->offset < far->offset + far->nbytes)
            rc = hfi_ferr(err, HF_EFORMAT, file,
                          "tensors \"%.64s\" [%" PRIu64 ", %" PRIu64 ") and \"%.64s\" [%" PRIu64
                          ", %" PRIu64 ") overlap", far->name, far->offset,
                          far->offset + far->nbytes, x->name, x->offset, x->offset + x->nbytes);
        else if (!far || x->offset + x->nbytes > far->offset + far->nbytes)
            far = x;
    }
    free(order);
    return rc;
}

const char *hfi_tt_shape(char *buf, size_t size, unsigned ndim, const uint64_t *shape)
{
    size_t used = 1;
    unsigned i;

    if (size < 3)
        return "[]";
    buf[0] = '[';
    buf[1] = '\0';
    for (i = 0; i < ndim && used < size; i++) {
        int n = snprintf(buf + used, size - used, "%s%" PRIu64, i ? ", " : "", shape[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (used + 1 < size) {
        buf[used] = ']';
        buf[used + 1] = '\0';
    }
    return buf;
}

void hfi_tt_free(hfi_tensor_table_t *t)
{
    free(t->v);
    hfi_strmap_free(&t->names);
    t->v = NULL;
    t->n = t->cap = 0;
}
