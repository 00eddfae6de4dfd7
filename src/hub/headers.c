/*
 * headers.c - parsers for the response headers the download protocol relies on.
 *
 * Design notes
 *  - input is untrusted and not NUL-guaranteed beyond the string passed: every parser
 *    reads the NUL-terminated value it is given, bounds every number (no overflow) and
 *    copies into caller buffers with an explicit capacity.
 */
#include "config.h"

#include "hub/headers.h"

#include <string.h>

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* Parse a decimal uint64 at *s; advances *s. Returns 0 or -1 (no digits or overflow). */
static int parse_u64(const char **s, uint64_t *out)
{
    const char *p = *s;
    uint64_t v = 0;
    if (*p < '0' || *p > '9')
        return -1;
    while (*p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        p++;
    }
    *s = p;
    *out = v;
    return 0;
}

int hfi_etag_normalize(const char *raw, char out[65])
{
    const char *s;
    size_t n;

    if (!raw)
        return HF_EPROTO;
    s = skip_ws(raw);
    if (s[0] == 'W' && s[1] == '/')
        s += 2;
    n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s++;
        n -= 2;
    }
    if (n != 40 && n != 64)
        return HF_EPROTO;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return HF_EPROTO;
        out[i] = c;
    }
    out[n] = '\0';
    return 0;
}

int hfi_parse_content_range(const char *v, uint64_t *first, uint64_t *last, uint64_t *total)
{
    const char *s;
    if (!v)
        return HF_EPROTO;
    s = skip_ws(v);
    if (strncmp(s, "bytes", 5) != 0)
        return HF_EPROTO;
    s = skip_ws(s + 5);
    if (parse_u64(&s, first) < 0 || *s++ != '-' || parse_u64(&s, last) < 0 || *s++ != '/')
        return HF_EPROTO;
    if (*s == '*') {
        *total = UINT64_MAX;
        s++;
    } else if (parse_u64(&s, total) < 0) {
        return HF_EPROTO;
    }
    s = skip_ws(s);
    if (*s != '\0' && *s != '\r' && *s != '\n')
        return HF_EPROTO;
    if (*last < *first || (*total != UINT64_MAX && *last >= *total))
        return HF_EPROTO;
    return 0;
}

long hfi_parse_retry_after(const char *v)
{
    const char *s;
    uint64_t n;
    if (!v)
        return -1;
    s = skip_ws(v);
    if (parse_u64(&s, &n) < 0)
        return -1;              /* the HTTP-date form: fall back to our own backoff */
    return n > 86400 ? 86400 : (long)n;
}

long hfi_parse_ratelimit_reset(const char *v)
{
    const char *s = v;
    if (!v)
        return -1;
    while ((s = strchr(s, ';')) != NULL) {
        uint64_t n;
        s = skip_ws(s + 1);
        if (s[0] == 't' && s[1] == '=') {
            s += 2;
            if (parse_u64(&s, &n) < 0)
                return -1;
            return n > 86400 ? 86400 : (long)n;
        }
    }
    return -1;
}

int hfi_parse_link_next(const char *v, char *out, size_t cap)
{
    const char *s = v;
    if (!v)
        return HF_ENOENT;
    while ((s = strchr(s, '<')) != NULL) {
        const char *end = strchr(s, '>');
        const char *params, *next_link;
        if (!end)
            return HF_EPROTO;
        params = end + 1;
        next_link = strchr(params, '<');
        {
            /* the parameters of this link run up to the next '<' (or the end) */
            size_t plen = next_link ? (size_t)(next_link - params) : strlen(params);
            const char *rel = params;
            int is_next = 0;
            while ((rel = strstr(rel, "rel=")) != NULL && rel < params + plen) {
                rel += 4;
                if (strncmp(rel, "\"next\"", 6) == 0 || strncmp(rel, "next", 4) == 0) {
                    is_next = 1;
                    break;
                }
            }
            if (is_next) {
                size_t n = (size_t)(end - s - 1);
                if (n + 1 > cap)
                    return HF_EPROTO;
                memcpy(out, s + 1, n);
                out[n] = '\0';
                return 0;
            }
        }
        s = end + 1;
    }
    return HF_ENOENT;
}

int hfi_http_error_code(long status, const char *x)
{
    if (x) {
        if (strcmp(x, "RepoNotFound") == 0)
            return HF_EREPO_NOT_FOUND;
        if (strcmp(x, "RevisionNotFound") == 0)
            return HF_EREVISION_NOT_FOUND;
        if (strcmp(x, "EntryNotFound") == 0)
            return HF_EENTRY_NOT_FOUND;
        if (strcmp(x, "GatedRepo") == 0)
            return HF_EGATED;
    }
    switch (status) {
    case 401:
    case 403:
        return HF_EAUTH;
    case 404:
        return HF_ENOENT;
    case 408:
    case 429:
        return HF_ENETWORK;
    default:
        return status >= 500 ? HF_ENETWORK : HF_EPROTO;
    }
}

int hfi_http_retryable(long status)
{
    return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
           status == 504;
}
