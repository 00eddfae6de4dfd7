/*
 * wtensors.c - the tensors a writer holds until it lays the file out.
 *
 * Design notes
 *  - names and data are copied into one arena, so a caller's buffers may go away after
 *    the add; the table itself grows by doubling;
 *  - missing data is the fixed pattern hfi_writer_pattern(index, byte), so that files are
 *    deterministic and a test can tell tensors (and bytes) apart.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "formats/writer.h"

hfi_wtensor_t *hfi_wtensors_add(hfi_wtensors_t *t, const char *name, unsigned ndim,
                                const uint64_t *dims, const void *data, uint64_t nbytes)
{
    hfi_wtensor_t *x;
    unsigned char *copy;
    uint64_t j;

    if (ndim > HF_TENSOR_MAX_DIMS || nbytes > SIZE_MAX ||
        hfi_grow((void **)&t->v, &t->cap, t->n + 1, sizeof *t->v) < 0)
        return NULL;
    x = &t->v[t->n];
    memset(x, 0, sizeof *x);
    x->ndim = ndim;
    if (ndim)
        memcpy(x->dims, dims, ndim * sizeof *dims);
    x->nbytes = nbytes;
    x->name = hfi_arena_strndup(&t->arena, name, strlen(name));
    copy = hfi_arena_alloc(&t->arena, (size_t)nbytes);
    if (!x->name || !copy)
        return NULL;
    for (j = 0; j < nbytes; j++)
        copy[j] = data ? ((const unsigned char *)data)[j] : hfi_writer_pattern(t->n, j);
    x->data = copy;
    t->n++;
    return x;
}

void hfi_wtensors_free(hfi_wtensors_t *t)
{
    free(t->v);
    hfi_arena_free(&t->arena);
    t->v = NULL;
    t->n = t->cap = 0;
}
