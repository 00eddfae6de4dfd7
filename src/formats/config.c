/*
 * config.c - typed access to a JSON document by dotted path (config.json and friends).
 *
 * Design notes
 *  - the document is kept as cJSON's tree (config files are small); a path is walked one
 *    segment at a time without copying: object members are matched by length and bytes,
 *    a decimal segment indexes an array;
 *  - a JSON null is treated as absent (HF_ENOENT): "sliding_window": null means "not set";
 *  - when a key appears twice in an object, the last one counts, as in Python's json module
 *    (transformers reads config.json with it) and in serde_json's maps; cJSON's own lookups
 *    would give the first, so members are matched here;
 *  - integers must be exact (|v| < 2^53) because that is all a double carries.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "hf/formats.h"
#include "formats/ferror.h"
#include "formats/json.h"

struct hf_config {
    hfi_json_obj_t obj;         /* name, arena */
    cJSON *root;
};

/* The last member called `key` (`len` bytes) of `obj`, or NULL. */
static const cJSON *member(const cJSON *obj, const char *key, size_t len)
{
    const cJSON *m, *found = NULL;

    cJSON_ArrayForEach(m, obj)
        if (m->string && strlen(m->string) == len && memcmp(m->string, key, len) == 0)
            found = m;
    return found;
}

static const cJSON *element(const cJSON *arr, const char *seg, size_t len)
{
    size_t i, index = 0;

    if (len == 0 || len > 9)
        return NULL;
    for (i = 0; i < len; i++) {
        if (seg[i] < '0' || seg[i] > '9')
            return NULL;
        index = index * 10 + (size_t)(seg[i] - '0');
    }
    return cJSON_GetArrayItem(arr, (int)index);
}

/* The value at `path`, or NULL if there is none (or it is null). */
static const cJSON *lookup(const hf_config_t *cfg, const char *path)
{
    const cJSON *cur = cfg->root;
    const char *seg = path;

    if (*path == '\0')
        return cJSON_IsNull(cur) ? NULL : cur;  /* the document itself: null is absent too */
    while (cur) {
        const char *dot = strchr(seg, '.');
        size_t len = dot ? (size_t)(dot - seg) : strlen(seg);

        if (cJSON_IsObject(cur))
            cur = member(cur, seg, len);
        else if (cJSON_IsArray(cur))
            cur = element(cur, seg, len);
        else
            cur = NULL;
        if (!dot)
            break;
        seg = dot + 1;
    }
    return cJSON_IsNull(cur) ? NULL : cur;
}

int hf_config_type(const hf_config_t *cfg, const char *path)
{
    const cJSON *v;

    if (!cfg || !path)
        return HF_EINVAL;
    if (!(v = lookup(cfg, path)))
        return HF_ENOENT;
    if (cJSON_IsBool(v))
        return HF_JSON_BOOL;
    if (cJSON_IsNumber(v))
        return HF_JSON_NUMBER;
    if (cJSON_IsString(v))
        return HF_JSON_STRING;
    if (cJSON_IsArray(v))
        return HF_JSON_ARRAY;
    return HF_JSON_OBJECT;
}

/* The value at `path` for a getter storing into `out`; `want` names the type it needs. */
static int get(const hf_config_t *cfg, const char *path, const void *out,
               cJSON_bool (*is)(const cJSON *), const char *want, const cJSON **v,
               hf_error_t *err)
{
    if (!cfg || !path || !out)
        return hfi_ferr(err, HF_EINVAL, NULL, "NULL argument");
    if (!(*v = lookup(cfg, path)))
        return hfi_ferr(err, HF_ENOENT, cfg->obj.name, "\"%.80s\" not found", path);
    if (!is(*v))
        return hfi_ferr(err, HF_EFORMAT, cfg->obj.name, "\"%.80s\" is %s, not %s", path,
                        hfi_json_type_name(*v), want);
    return 0;
}

int hf_config_get_int(const hf_config_t *cfg, const char *path, int64_t *out, hf_error_t *err)
{
    const cJSON *v;
    int rc;

    if ((rc = get(cfg, path, out, cJSON_IsNumber, "a number", &v, err)) < 0)
        return rc;
    if (!hfi_json_int(v, out))
        return hfi_ferr(err, HF_EFORMAT, cfg->obj.name, "\"%.80s\" is %g, not an integer of "
                        "magnitude below 2^53", path, v->valuedouble);
    return 0;
}

int hf_config_get_float(const hf_config_t *cfg, const char *path, double *out, hf_error_t *err)
{
    const cJSON *v;
    int rc;

    if ((rc = get(cfg, path, out, cJSON_IsNumber, "a number", &v, err)) < 0)
        return rc;
    *out = v->valuedouble;
    return 0;
}

int hf_config_get_bool(const hf_config_t *cfg, const char *path, bool *out, hf_error_t *err)
{
    const cJSON *v;
    int rc;

    if ((rc = get(cfg, path, out, cJSON_IsBool, "a bool", &v, err)) < 0)
        return rc;
    *out = cJSON_IsTrue(v);
    return 0;
}

int hf_config_get_str(const hf_config_t *cfg, const char *path, const char **out,
                      hf_error_t *err)
{
    const cJSON *v;
    int rc;

    if ((rc = get(cfg, path, out, cJSON_IsString, "a string", &v, err)) < 0)
        return rc;
    *out = v->valuestring;
    return 0;
}

int hf_config_get_array_len(const hf_config_t *cfg, const char *path, size_t *out,
                            hf_error_t *err)
{
    const cJSON *v;
    int rc;

    if ((rc = get(cfg, path, out, cJSON_IsArray, "an array", &v, err)) < 0)
        return rc;
    *out = (size_t)cJSON_GetArraySize(v);
    return 0;
}

static int read_obj(void *obj, cJSON **root, hf_error_t *err)
{
    hf_config_t *cfg = obj;

    (void)err;
    cfg->root = *root;          /* kept: the getters walk it */
    *root = NULL;
    return 0;
}

static void free_obj(void *obj)
{
    hf_config_t *cfg = obj;

    cJSON_Delete(cfg->root);
    hfi_arena_free(&cfg->obj.arena);
    free(cfg);
}

static const hfi_json_reader_t config_reader = { sizeof(hf_config_t), read_obj, free_obj };

int hf_config_parse(const void *buf, size_t len, const char *name, hf_config_t **out,
                    hf_error_t *err)
{
    void *cfg = NULL;
    int rc = hfi_json_open(&config_reader, NULL, buf, len, name, out ? &cfg : NULL, err);

    if (out)
        *out = cfg;
    return rc;
}

int hf_config_load(const char *path, hf_config_t **out, hf_error_t *err)
{
    void *cfg = NULL;
    int rc = hfi_json_open(&config_reader, path, NULL, 0, NULL, out ? &cfg : NULL, err);

    if (out)
        *out = cfg;
    return rc;
}

void hf_config_free(hf_config_t *cfg)
{
    if (cfg)
        free_obj(cfg);
}
