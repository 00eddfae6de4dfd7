/*
 * fuzz_safetensors.c - hf_safetensors_parse on arbitrary bytes.
 *
 * On success: the data section starts after the header, inside the buffer; every tensor
 * lies inside the data section (offset + nbytes <= size, data == buf + offset), has a
 * known dtype and at most 8 dimensions, is found again by its name, and no two non-empty
 * tensors overlap; every __metadata__ entry is found again by its key;
 * hf_safetensors_check_packed answers 0 exactly when the tensors cover the data section
 * without a gap. On failure, the code is a reader's and the message set.
 */
#include "config.h"

#include "fuzz.h"

#include "hf/formats.h"

/* The tensors' ranges, checked disjoint; returns whether they cover [data, size) exactly. */
static int check_tensors(const hf_safetensors_t *st, const uint8_t *buf, size_t size)
{
    size_t n = hf_safetensors_tensor_count(st), i, k = 0;
    uint64_t data = hf_safetensors_data_offset(st), next = data;
    hfz_range_t *r = malloc((n ? n : 1) * sizeof *r);

    HFZ_CHECK(r != NULL);
    for (i = 0; i < n; i++) {
        const hf_tensor_info_t *t = hf_safetensors_tensor(st, i);

        HFZ_CHECK(t != NULL && t->name != NULL);
        HFZ_CHECK(hf_safetensors_find_tensor(st, t->name) == t);
        HFZ_CHECK(t->ndim <= HF_TENSOR_MAX_DIMS && t->dtype != HF_DTYPE_UNKNOWN);
        HFZ_CHECK(t->dtype_name != NULL && strcmp(t->dtype_name, hf_dtype_name(t->dtype)) == 0);
        HFZ_CHECK(t->nbytes <= size && t->offset <= size - t->nbytes && t->offset >= data);
        HFZ_CHECK(t->data == buf + t->offset);
        HFZ_CHECK(hfz_inside(t->data, t->nbytes, buf, size));
        if (t->nbytes) {
            r[k].begin = t->offset;
            r[k++].end = t->offset + t->nbytes;
        }
    }
    HFZ_CHECK(hf_safetensors_tensor(st, n) == NULL);
    hfz_sort_disjoint(r, k);
    for (i = 0; i < k && r[i].begin == next; i++)
        next = r[i].end;
    free(r);
    return i == k && next == size;
}

int hfz_safetensors(const uint8_t *data, size_t size)
{
    hf_safetensors_t *st = NULL;
    hf_error_t err;
    size_t n, i, mapped;
    int packed, rc = hf_safetensors_parse(data, size, "fuzz.safetensors", &st, &err);

    if (hfz_refused(rc, st, &err))
        return 0;
    HFZ_CHECK(hf_safetensors_mapping(st, &mapped) == data && mapped == size);
    HFZ_CHECK(hf_safetensors_data_offset(st) >= 8 && hf_safetensors_data_offset(st) <= size);
    HFZ_CHECK(hf_safetensors_data_offset(st) - 8 <= HF_SAFETENSORS_MAX_HEADER);
    n = hf_safetensors_metadata_count(st);
    for (i = 0; i < n; i++) {
        const char *key = NULL, *value = NULL;

        HFZ_CHECK(hf_safetensors_metadata_at(st, i, &key, &value) == 0);
        HFZ_CHECK(key != NULL && value != NULL);
        HFZ_CHECK(hf_safetensors_metadata_get(st, key) == value);
    }
    HFZ_CHECK(hf_safetensors_metadata_at(st, n, NULL, NULL) == HF_EINVAL);
    packed = check_tensors(st, data, size);
    rc = hf_safetensors_check_packed(st, &err);
    HFZ_CHECK(rc == (packed ? 0 : HF_EFORMAT));
    hf_safetensors_close(st);
    return 0;
}

HFZ_ENTRY(hfz_safetensors)
