/*
 * json.c - checked JSON parsing on top of cJSON.
 *
 * Design notes
 *  - cJSON accepts raw control characters in strings and does not check UTF-8, so the
 *    text is scanned first (utf8.c); that also keeps NUL bytes out of cJSON's C strings;
 *  - cJSON decodes a \u0000 escape into a NUL that ends its C string, so "a\u0000b" would
 *    silently become "a" (a tensor name, a key such as "__metadata__\u0000x"): such an
 *    escape is refused, before parsing, at its byte offset;
 *  - cJSON_ParseWithLengthOpts never reads past `len` and, on failure, reports the position
 *    of the problem through its end pointer, which is what the message quotes. (It also
 *    records that position in a process-wide variable nobody here reads.)
 *  - numbers are doubles in cJSON: an integer field is accepted only if the double is an
 *    integer below 2^53 in magnitude, where doubles are exact (2^53 itself is refused: it
 *    is also what 2^53 + 1 becomes); files are far below 2^53 bytes, so no real offset or
 *    shape is refused;
 *  - nesting deeper than cJSON's limit (1000) fails like any other syntax error.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "formats/ferror.h"
#include "formats/json.h"
#include "formats/mapfile.h"
#include "formats/utf8.h"

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Offset of the first \u0000 escape in `len` bytes at `s`, or `len`. A backslash and the
 * byte after it go together, so "\\u0000" (an escaped backslash, then text) is no escape. */
static size_t nul_escape(const unsigned char *s, size_t len)
{
    const unsigned char *p = s, *end = s + len;

    while ((p = memchr(p, '\\', (size_t)(end - p))) != NULL) {
        if (end - p >= 6 && memcmp(p + 1, "u0000", 5) == 0)
            return (size_t)(p - s);
        if (end - p <= 2)
            break;
        p += 2;
    }
    return len;
}

int hfi_json_parse(const void *buf, size_t len, uint64_t base, const char *file,
                   const char *what, cJSON **root, hf_error_t *err)
{
    const unsigned char *s = buf;
    const char *end = NULL;
    const char *label = what ? what : "JSON";
    size_t bad, skip = 0, i;
    cJSON *tree;

    *root = NULL;
    if (len >= 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf)
        skip = 3;
    bad = skip + hfi_utf8_scan(s + skip, len - skip, HFI_UTF8_NO_CONTROLS);
    if (bad < len)
        return hfi_ferr(err, HF_EFORMAT, file, "%s: byte %ju: %s (0x%02x)", label,
                        (uintmax_t)(base + bad), s[bad] < 0x20 ? "control character" :
                        "invalid UTF-8", s[bad]);
    if ((bad = nul_escape(s, len)) < len)
        return hfi_ferr(err, HF_EFORMAT, file, "%s: byte %ju: \\u0000 escape (a NUL would end "
                        "the string there)", label, (uintmax_t)(base + bad));
    for (i = skip; i < len && is_ws(s[i]); i++)
        ;
    if (i == len)
        return hfi_ferr(err, HF_EFORMAT, file, "%s: no JSON value in %zu bytes",
                        label, len);
    tree = cJSON_ParseWithLengthOpts((const char *)s, len, &end, 0);
    if (!tree) {
        size_t at = end && end >= (const char *)s ? (size_t)(end - (const char *)s) : 0;
        return hfi_ferr(err, HF_EFORMAT, file, "%s: byte %ju: invalid JSON", label,
                        (uintmax_t)(base + at));
    }
    for (i = (size_t)(end - (const char *)s); i < len; i++)
        if (!is_ws(s[i])) {
            cJSON_Delete(tree);
            return hfi_ferr(err, HF_EFORMAT, file, "%s: byte %ju: data after the JSON value",
                            label, (uintmax_t)(base + i));
        }
    *root = tree;
    return 0;
}

bool hfi_json_int(const cJSON *item, int64_t *out)
{
    double d;

    if (!cJSON_IsNumber(item))
        return false;
    d = item->valuedouble;
    if (!(d > -HFI_JSON_INT_LIMIT && d < HFI_JSON_INT_LIMIT) || d != (double)(int64_t)d)
        return false;
    *out = (int64_t)d;
    return true;
}

bool hfi_json_uint(const cJSON *item, uint64_t *out)
{
    int64_t v;

    if (!hfi_json_int(item, &v) || v < 0)
        return false;
    *out = (uint64_t)v;
    return true;
}

const char *hfi_json_type_name(const cJSON *item)
{
    if (cJSON_IsNull(item))
        return "null";
    if (cJSON_IsBool(item))
        return "bool";
    if (cJSON_IsNumber(item))
        return "number";
    if (cJSON_IsString(item))
        return "string";
    if (cJSON_IsArray(item))
        return "array";
    if (cJSON_IsObject(item))
        return "object";
    return "invalid";
}

/* Parse `len` bytes at `buf` into a new object; `*out` is set only on success. */
static int open_bytes(const hfi_json_reader_t *rd, const void *buf, size_t len, const char *name,
                      void **out, hf_error_t *err)
{
    hfi_json_obj_t *obj;
    cJSON *root;
    int rc;

    if ((rc = hfi_json_parse(buf, len, 0, name, NULL, &root, err)) < 0)
        return rc;
    obj = calloc(1, rd->size);
    if (!obj) {
        cJSON_Delete(root);
        return hfi_ferr(err, HF_ENOMEM, name, "out of memory");
    }
    obj->name = hfi_arena_strndup(&obj->arena, name ? name : "", name ? strlen(name) : 0);
    rc = obj->name ? rd->read(obj, &root, err) : hfi_ferr(err, HF_ENOMEM, name, "out of memory");
    cJSON_Delete(root);
    if (rc < 0) {
        rd->free(obj);
        return rc;
    }
    *out = obj;
    return 0;
}

int hfi_json_open(const hfi_json_reader_t *rd, const char *path, const void *buf, size_t len,
                  const char *name, void **out, hf_error_t *err)
{
    hfi_map_t m;
    int rc;

    if (!out || (!path && !buf))
        return hfi_ferr(err, HF_EINVAL, path ? path : name, "NULL argument");
    *out = NULL;
    if (!path)
        return open_bytes(rd, buf, len, name, out, err);
    if ((rc = hfi_map_open(path, &m, err)) < 0)
        return rc;
    rc = open_bytes(rd, m.data ? (const void *)m.data : (const void *)"", m.size,
                    hfi_basename(path), out, err);
    hfi_map_close(&m);
    return rc;
}
