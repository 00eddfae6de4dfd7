/*
 * st_index.c - model.safetensors.index.json: which shard holds which tensor, and whether
 * the shards agree.
 *
 * Design notes
 *  - the index is {"metadata": {"total_size": N, ...}, "weight_map": {tensor: shard}};
 *    only weight_map is required; other keys are ignored;
 *  - shard names are paths the Hub client will fetch and join to a snapshot directory, so
 *    an absolute path or a ".." segment is refused here, where the untrusted JSON enters;
 *  - strings are copied into the arena and the JSON tree freed: the object is two tables
 *    (tensors in map order, distinct shards in order of first mention) and two hash maps;
 *  - hf_st_index_check looks at both directions: every tensor of the map where the map says,
 *    and every tensor of every given shard known to the map at that shard.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hf/formats.h"
#include "formats/arena.h"
#include "formats/ferror.h"
#include "formats/json.h"
#include "formats/strmap.h"

struct hf_st_index {
    hfi_json_obj_t obj;         /* name, arena */
    const char **tensors;       /* tensor, shard, tensor, shard, ... */
    size_t n_tensors, tensors_cap;
    const char **shards;
    size_t n_shards, shards_cap;
    hfi_strmap_t by_tensor;     /* tensor -> index in tensors */
    hfi_strmap_t by_shard;      /* shard -> index in shards */
    bool has_total;
    uint64_t total;
};

/* A shard name must stay inside the repository: relative, no empty or ".." segment. */
static bool safe_path(const char *p)
{
    const char *seg = p;

    if (*p == '\0' || *p == '/')
        return false;
    for (;;) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        if (n == 0 || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        if (!end)
            return true;
        seg = end + 1;
    }
}

static int add_entry(hf_st_index_t *idx, const cJSON *m, hf_error_t *err)
{
    const char *tensor, *shard;
    uint64_t si;
    int rc;

    if (!cJSON_IsString(m))
        return hfi_ferr(err, HF_EFORMAT, idx->obj.name, "weight_map.\"%.80s\" is %s, not a string",
                        m->string, hfi_json_type_name(m));
    if (!safe_path(m->valuestring))
        return hfi_ferr(err, HF_EFORMAT, idx->obj.name, "weight_map.\"%.80s\": shard \"%.80s\" is "
                        "not a relative path inside the repository", m->string, m->valuestring);
    if (!hfi_strmap_get(&idx->by_shard, m->valuestring, strlen(m->valuestring), &si)) {
        if (!(shard = hfi_arena_strndup(&idx->obj.arena, m->valuestring, strlen(m->valuestring))) ||
            hfi_grow((void **)&idx->shards, &idx->shards_cap, idx->n_shards + 1,
                     sizeof *idx->shards) ||
            hfi_strmap_put(&idx->by_shard, shard, strlen(shard), idx->n_shards, NULL) < 0)
            return hfi_ferr(err, HF_ENOMEM, idx->obj.name, "out of memory");
        si = idx->n_shards;
        idx->shards[idx->n_shards++] = shard;
    }
    if (!(tensor = hfi_arena_strndup(&idx->obj.arena, m->string, strlen(m->string))) ||
        hfi_grow((void **)&idx->tensors, &idx->tensors_cap, 2 * idx->n_tensors + 2,
                 sizeof *idx->tensors))
        return hfi_ferr(err, HF_ENOMEM, idx->obj.name, "out of memory");
    rc = hfi_strmap_put(&idx->by_tensor, tensor, strlen(tensor), idx->n_tensors, NULL);
    if (rc < 0)
        return hfi_ferr(err, HF_ENOMEM, idx->obj.name, "out of memory");
    if (rc == 1)
        return hfi_ferr(err, HF_EFORMAT, idx->obj.name, "weight_map: tensor \"%.80s\" is listed "
                        "twice", tensor);
    idx->tensors[2 * idx->n_tensors] = tensor;
    idx->tensors[2 * idx->n_tensors + 1] = idx->shards[si];
    idx->n_tensors++;
    return 0;
}

static int read_index(hf_st_index_t *idx, const cJSON *root, hf_error_t *err)
{
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    const cJSON *total = cJSON_GetObjectItemCaseSensitive(meta, "total_size");
    const cJSON *m;
    int rc;

    if (!cJSON_IsObject(root))
        return hfi_ferr(err, HF_EFORMAT, idx->obj.name, "%s, not a JSON object",
                        hfi_json_type_name(root));
    if (!cJSON_IsObject(map))
        return hfi_ferr(err, HF_EFORMAT, idx->obj.name, "\"weight_map\" is %s, not an object",
                        map ? hfi_json_type_name(map) : "missing");
    if (meta && !cJSON_IsObject(meta) && !cJSON_IsNull(meta))
        return hfi_ferr(err, HF_EFORMAT, idx->obj.name, "\"metadata\" is %s, not an object",
                        hfi_json_type_name(meta));
    /* an informative field that loaders never read (transformers does not; some 4-bit
     * exports write a fraction): one that is no integer in [0, 2^53) counts as absent */
    if (total && hfi_json_uint(total, &idx->total))
        idx->has_total = true;
    cJSON_ArrayForEach(m, map)
        if ((rc = add_entry(idx, m, err)) < 0)
            return rc;
    return 0;
}

static int read_obj(void *obj, cJSON **root, hf_error_t *err)
{
    return read_index(obj, *root, err);
}

static void free_obj(void *obj)
{
    hf_st_index_t *idx = obj;

    free(idx->tensors);
    free(idx->shards);
    hfi_strmap_free(&idx->by_tensor);
    hfi_strmap_free(&idx->by_shard);
    hfi_arena_free(&idx->obj.arena);
    free(idx);
}

static const hfi_json_reader_t index_reader = { sizeof(hf_st_index_t), read_obj, free_obj };

int hf_st_index_parse(const void *buf, size_t len, const char *name, hf_st_index_t **out,
                      hf_error_t *err)
{
    void *idx = NULL;
    int rc = hfi_json_open(&index_reader, NULL, buf, len, name, out ? &idx : NULL, err);

    if (out)
        *out = idx;
    return rc;
}

int hf_st_index_load(const char *path, hf_st_index_t **out, hf_error_t *err)
{
    void *idx = NULL;
    int rc = hfi_json_open(&index_reader, path, NULL, 0, NULL, out ? &idx : NULL, err);

    if (out)
        *out = idx;
    return rc;
}

void hf_st_index_free(hf_st_index_t *idx)
{
    if (idx)
        free_obj(idx);
}

size_t hf_st_index_shard_count(const hf_st_index_t *idx)
{
    return idx ? idx->n_shards : 0;
}

const char *hf_st_index_shard(const hf_st_index_t *idx, size_t i)
{
    return idx && i < idx->n_shards ? idx->shards[i] : NULL;
}

size_t hf_st_index_tensor_count(const hf_st_index_t *idx)
{
    return idx ? idx->n_tensors : 0;
}

int hf_st_index_tensor(const hf_st_index_t *idx, size_t i, const char **name, const char **shard)
{
    if (!idx || i >= idx->n_tensors)
        return HF_EINVAL;
    if (name)
        *name = idx->tensors[2 * i];
    if (shard)
        *shard = idx->tensors[2 * i + 1];
    return 0;
}

const char *hf_st_index_shard_of(const hf_st_index_t *idx, const char *tensor)
{
    uint64_t i;

    if (!idx || !tensor || !hfi_strmap_get(&idx->by_tensor, tensor, strlen(tensor), &i))
        return NULL;
    return idx->tensors[2 * i + 1];
}

int hf_st_index_total_size(const hf_st_index_t *idx, uint64_t *out)
{
    if (!idx || !out)
        return HF_EINVAL;
    if (!idx->has_total)
        return HF_ENOENT;
    *out = idx->total;
    return 0;
}

/* Every shard of the map is given, and every tensor of the map is in the shard it names. */
static int check_map(const hf_st_index_t *idx, const hf_safetensors_t *const *shards,
                     const char *const *names, size_t n, const hfi_strmap_t *given,
                     hf_error_t *err)
{
    size_t i, k;
    uint64_t s;

    for (i = 0; i < idx->n_tensors; i++) {
        const char *t = idx->tensors[2 * i], *want = idx->tensors[2 * i + 1];
        if (!hfi_strmap_get(given, want, strlen(want), &s))
            return hfi_ferr(err, HF_EFORMAT, idx->obj.name, "shard \"%.80s\" is missing (the index "
                            "puts tensor \"%.80s\" there)", want, t);
        if (hf_safetensors_find_tensor(shards[s], t))
            continue;
        for (k = 0; k < n; k++)
            if (k != s && hf_safetensors_find_tensor(shards[k], t))
                return hfi_ferr(err, HF_EFORMAT, idx->obj.name, "tensor \"%.80s\" is in shard "
                                "\"%.80s\", but the index puts it in \"%.80s\"", t, names[k],
                                want);
        return hfi_ferr(err, HF_EFORMAT, idx->obj.name, "tensor \"%.80s\" is missing from shard "
                        "\"%.80s\"", t, want);
    }
    return 0;
}

/* Every tensor of every given shard is one the map puts in that shard. */
static int check_shards(const hf_st_index_t *idx, const hf_safetensors_t *const *shards,
                        const char *const *names, size_t n, hf_error_t *err)
{
    size_t i, k;

    for (i = 0; i < n; i++)
        for (k = 0; k < hf_safetensors_tensor_count(shards[i]); k++) {
            const char *t = hf_safetensors_tensor(shards[i], k)->name;
            const char *want = hf_st_index_shard_of(idx, t);
            if (!want)
                return hfi_ferr(err, HF_EFORMAT, idx->obj.name, "shard \"%.80s\" holds tensor "
                                "\"%.80s\", which the index does not list", names[i], t);
            if (strcmp(want, names[i]) != 0)
                return hfi_ferr(err, HF_EFORMAT, idx->obj.name, "shard \"%.80s\" holds tensor "
                                "\"%.80s\", which the index puts in \"%.80s\"", names[i], t,
                                want);
        }
    return 0;
}

int hf_st_index_check(const hf_st_index_t *idx, const hf_safetensors_t *const *shards,
                      const char *const *names, size_t n, hf_error_t *err)
{
    hfi_strmap_t given = HFI_STRMAP_INIT;
    size_t i;
    int rc = 0;

    if (!idx || (n && (!shards || !names)))
        return hfi_ferr(err, HF_EINVAL, NULL, "NULL argument");
    for (i = 0; i < n && rc == 0; i++) {
        if (!shards[i] || !names[i])
            rc = hfi_ferr(err, HF_EINVAL, idx->obj.name, "shard %zu is NULL", i + 1);
        else if ((rc = hfi_strmap_put(&given, names[i], strlen(names[i]), i, NULL)) == 1)
            rc = hfi_ferr(err, HF_EINVAL, idx->obj.name, "shard \"%.80s\" is given twice",
                          names[i]);
        else if (rc < 0)
            rc = hfi_ferr(err, rc, idx->obj.name, "out of memory");
    }
    if (rc == 0)
        rc = check_map(idx, shards, names, n, &given, err);
    if (rc == 0)
        rc = check_shards(idx, shards, names, n, err);
    hfi_strmap_free(&given);
    return rc;
}
