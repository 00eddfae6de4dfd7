/*
 * fuzz_config.c - hf_config_parse on arbitrary bytes.
 *
 * On success the same bytes are parsed again with cJSON and the document is walked (the
 * first 64 members or elements of each container, 16 levels deep): for every value that a
 * dotted path can name (keys without '.', the last of duplicate keys), hf_config_type
 * gives the tree's type, the getter of that type gives the tree's value, and the other
 * getters refuse with HF_EFORMAT (HF_ENOENT for null). On failure, the code is a reader's
 * and the message set.
 */
#include "config.h"

#include <cjson/cJSON.h>

#include "fuzz.h"

#include "hf/formats.h"

#define MAX_WIDTH 64            /* members / elements visited per container */
#define MAX_DEPTH 16
#define MAX_PATH 512

static int expected_type(const cJSON *v)
{
    if (cJSON_IsNull(v))
        return HF_ENOENT;
    if (cJSON_IsBool(v))
        return HF_JSON_BOOL;
    if (cJSON_IsNumber(v))
        return HF_JSON_NUMBER;
    if (cJSON_IsString(v))
        return HF_JSON_STRING;
    if (cJSON_IsArray(v))
        return HF_JSON_ARRAY;
    HFZ_CHECK(cJSON_IsObject(v));
    return HF_JSON_OBJECT;
}

/* Whether `d` is an integer of magnitude below 2^53 (exact in a double). */
static int exact_int(double d)
{
    return d > -9007199254740992.0 && d < 9007199254740992.0 && d == (double)(int64_t)d;
}

/* The getter of the value's type succeeds with its value; the others refuse. */
static void check_value(const hf_config_t *cfg, const char *path, const cJSON *v)
{
    int type = expected_type(v), miss = type == HF_ENOENT ? HF_ENOENT : HF_EFORMAT;
    hf_error_t err;
    int64_t i;
    double d;
    bool b;
    const char *s;
    size_t n;
    int ri, rd, rb, rs, rn;

    HFZ_CHECK(hf_config_type(cfg, path) == type);
    ri = hf_config_get_int(cfg, path, &i, &err);
    rd = hf_config_get_float(cfg, path, &d, &err);
    rb = hf_config_get_bool(cfg, path, &b, &err);
    rs = hf_config_get_str(cfg, path, &s, &err);
    rn = hf_config_get_array_len(cfg, path, &n, &err);
    if (type == HF_JSON_NUMBER) {
        HFZ_CHECK(rd == 0 && memcmp(&d, &v->valuedouble, sizeof d) == 0);
        if (ri == 0)
            HFZ_CHECK((double)i == v->valuedouble && llabs(i) < ((int64_t)1 << 53));
        else
            HFZ_CHECK(ri == HF_EFORMAT && !exact_int(v->valuedouble));
    } else {
        HFZ_CHECK(ri == miss && rd == miss);
    }
    HFZ_CHECK(type == HF_JSON_BOOL ? rb == 0 && b == (bool)cJSON_IsTrue(v) : rb == miss);
    HFZ_CHECK(type == HF_JSON_STRING ? rs == 0 && strcmp(s, v->valuestring) == 0 : rs == miss);
    HFZ_CHECK(type == HF_JSON_ARRAY ? rn == 0 && n == (size_t)cJSON_GetArraySize(v)
                                    : rn == miss);
}

/* Whether a later member of `v`'s object has `v`'s key (the last one counts, as in
 * Python's json module). */
static int shadowed(const cJSON *v)
{
    const cJSON *m;

    for (m = v->next; m; m = m->next)
        if (strcmp(m->string, v->string) == 0)
            return 1;
    return 0;
}

static void walk(const hf_config_t *cfg, const cJSON *node, char *path, size_t len,
                 unsigned depth)
{
    const cJSON *c;
    unsigned k = 0;

    check_value(cfg, path, node);
    if (depth >= MAX_DEPTH || !(cJSON_IsObject(node) || cJSON_IsArray(node)))
        return;
    for (c = node->child; c && k < MAX_WIDTH; c = c->next, k++) {
        char seg[24];
        const char *name = seg;
        size_t n, m;

        if (cJSON_IsObject(node)) {
            name = c->string;
            if (strchr(name, '.') || (depth == 0 && name[0] == '\0') || shadowed(c))
                continue;
        } else {
            snprintf(seg, sizeof seg, "%u", k);
        }
        n = strlen(name);
        m = len + (depth ? 1 : 0) + n;
        if (m >= MAX_PATH)
            continue;
        if (depth)
            path[len] = '.';
        memcpy(path + len + (depth ? 1 : 0), name, n);
        path[m] = '\0';
        walk(cfg, c, path, m, depth + 1);
        path[len] = '\0';
    }
}

int hfz_config(const uint8_t *data, size_t size)
{
    hf_config_t *cfg = NULL;
    hf_error_t err;
    cJSON *root;
    char path[MAX_PATH];
    int rc = hf_config_parse(data, size, "config.json", &cfg, &err);

    if (hfz_refused(rc, cfg, &err))
        return 0;
    HFZ_CHECK(hf_config_type(cfg, NULL) == HF_EINVAL);
    root = cJSON_ParseWithLength((const char *)data, size);
    HFZ_CHECK(root != NULL);
    path[0] = '\0';
    walk(cfg, root, path, 0, 0);
    cJSON_Delete(root);
    hf_config_free(cfg);
    return 0;
}

HFZ_ENTRY(hfz_config)
