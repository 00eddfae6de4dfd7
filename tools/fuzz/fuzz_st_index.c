/*
 * fuzz_st_index.c - hf_st_index_parse on arbitrary bytes.
 *
 * On success: every shard name is a relative path that stays inside the repository (not
 * empty, no leading '/', no empty or ".." segment); shards are distinct; every tensor maps
 * to one of them, is found again by name, and hf_st_index_check against no shards names
 * a missing shard exactly when the index lists any tensor. On failure, the code is a
 * reader's and the message set.
 */
#include "config.h"

#include "fuzz.h"

#include "hf/formats.h"

static void check_shard_name(const char *p)
{
    const char *seg = p;

    HFZ_CHECK(p[0] != '\0' && p[0] != '/');
    for (;;) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);

        HFZ_CHECK(n != 0);
        HFZ_CHECK(!(n == 2 && seg[0] == '.' && seg[1] == '.'));
        if (!end)
            break;
        seg = end + 1;
    }
}

/* The index of `shard` among the index's shards (compared by pointer); aborts if absent. */
static size_t shard_index(const hf_st_index_t *idx, const char *shard)
{
    size_t i, n = hf_st_index_shard_count(idx);

    for (i = 0; i < n; i++)
        if (hf_st_index_shard(idx, i) == shard)
            return i;
    hfz_fail(__FILE__, __LINE__, "a tensor's shard is not among the shards");
    return n;
}

int hfz_st_index(const uint8_t *data, size_t size)
{
    hf_st_index_t *idx = NULL;
    hf_error_t err;
    size_t n, i, k;
    uint64_t total;
    int rc = hf_st_index_parse(data, size, "fuzz.index.json", &idx, &err);

    if (hfz_refused(rc, idx, &err))
        return 0;
    n = hf_st_index_shard_count(idx);
    for (i = 0; i < n; i++) {
        const char *s = hf_st_index_shard(idx, i);

        HFZ_CHECK(s != NULL);
        check_shard_name(s);
        for (k = 0; k < i && k < 64; k++)
            HFZ_CHECK(strcmp(hf_st_index_shard(idx, k), s) != 0);
    }
    HFZ_CHECK(hf_st_index_shard(idx, n) == NULL);
    n = hf_st_index_tensor_count(idx);
    for (i = 0; i < n; i++) {
        const char *name = NULL, *shard = NULL;

        HFZ_CHECK(hf_st_index_tensor(idx, i, &name, &shard) == 0);
        HFZ_CHECK(name != NULL && shard != NULL);
        HFZ_CHECK(hf_st_index_shard_of(idx, name) == shard);
        if (i < 256)
            (void)shard_index(idx, shard);
    }
    HFZ_CHECK(hf_st_index_tensor(idx, n, NULL, NULL) == HF_EINVAL);
    HFZ_CHECK(n > 0 || hf_st_index_shard_count(idx) == 0);
    rc = hf_st_index_total_size(idx, &total);
    HFZ_CHECK(rc == 0 || rc == HF_ENOENT);
    if (rc == 0)
        HFZ_CHECK(total < ((uint64_t)1 << 53));
    rc = hf_st_index_check(idx, NULL, NULL, 0, &err);
    HFZ_CHECK(rc == (n ? HF_EFORMAT : 0));
    hf_st_index_free(idx);
    return 0;
}

HFZ_ENTRY(hfz_st_index)
