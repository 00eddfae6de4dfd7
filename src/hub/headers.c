/*
 * headers.c - parsers for the response headers the download protocol relies on.
 *
 * Design notes
 *  - input is untrusted and not NUL-guaranteed beyond the string passed: every parser
 *    reads the NUL-terminated value it is given, bounds every number (no overflow) and
 *    copies into caller buffers with an explicit capacity;
 *  - a Location is resolved by the letter of RFC 3986 (section 5.2, remove_dot_segments
 *    included), never by guessing: whatever is not an http(s) URL with a host once
 *    resolved is refused, so a redirect can never lead to file://, ftp:// or a URL that
 *    libcurl would complete by guesswork (a missing scheme, a bare word taken for a host);
 *  - text the server chose (X-Error-Message) reaches our messages only through
 *    hfi_header_text, as printable ASCII: no terminal escape survives it.
 */
#include "config.h"

#include "hub/headers.h"

#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "hub/names.h"

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

int hfi_parse_size(const char *v, uint64_t *out)
{
    const char *p = v;
    uint64_t n;
    if (!v || parse_u64(&p, &n) < 0 || *p != '\0')
        return HF_EPROTO;
    *out = n;
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

/* 1 if the parameters [p, end) of one link (`; name=value` pairs, RFC 8288 section 3)
 * have a rel whose space-separated list of relation types holds "next" (quoted or bare,
 * any case). Only the first rel counts, as RFC 8288 says. */
static int rel_has_next(const char *p, const char *end)
{
    while (p < end) {
        const char *name, *val, *vend;
        size_t nlen;
        while (p < end && (*p == ';' || *p == ' ' || *p == '\t' || *p == ','))
            p++;
        name = p;
        while (p < end && *p != '=' && *p != ';')
            p++;
        nlen = (size_t)(p - name);
        while (nlen && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t'))
            nlen--;
        if (p >= end || *p != '=')
            continue;                   /* a parameter without a value */
        p++;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p < end && *p == '"') {
            val = ++p;
            while (p < end && *p != '"')
                p++;
            vend = p;
            if (p < end)
                p++;
        } else {
            val = p;
            while (p < end && *p != ';' && *p != ',' && *p != ' ' && *p != '\t')
                p++;
            vend = p;
        }
        if (nlen == 3 && strncasecmp(name, "rel", 3) == 0) {
            while (val < vend) {
                const char *t = val;
                while (t < vend && *t != ' ' && *t != '\t')
                    t++;
                if (t - val == 4 && strncasecmp(val, "next", 4) == 0)
                    return 1;
                val = t < vend ? t + 1 : t;
            }
            return 0;
        }
    }
    return 0;
}

int hfi_parse_link_next(const char *v, char **out)
{
    const char *s = v;
    if (out)
        *out = NULL;
    if (!v)
        return HF_ENOENT;
    while ((s = strchr(s, '<')) != NULL) {
        const char *end = strchr(s, '>');
        const char *params, *next_link;
        if (!end)
            return HF_EPROTO;
        params = end + 1;
        /* the parameters of this link run up to the next '<' (or the end) */
        next_link = strchr(params, '<');
        if (rel_has_next(params, next_link ? next_link : params + strlen(params))) {
            size_t n = (size_t)(end - s - 1);
            if (n == 0)
                return HF_EPROTO;
            if (out) {
                if ((*out = hfi_malloc(n + 1)) == NULL)
                    return HF_ENOMEM;
                memcpy(*out, s + 1, n);
                (*out)[n] = '\0';
            }
            return 0;
        }
        s = end + 1;
    }
    return HF_ENOENT;
}

char *hfi_header_text(const char *v, char *out, size_t cap)
{
    size_t n = 0;

    for (; v && *v && n + 1 < cap; v++) {
        unsigned char c = (unsigned char)*v;
        out[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[n] = '\0';
    return out;
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

int hfi_hub_refusal(int code)
{
    return code == HF_EREVISION_NOT_FOUND || code == HF_EENTRY_NOT_FOUND ||
           code == HF_EREPO_NOT_FOUND || code == HF_EGATED || code == HF_EAUTH;
}

int hfi_http_retryable(long status)
{
    return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
           status == 504;
}

int hfi_http_redirect(long status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* ---- RFC 3986 reference resolution --------------------------------------------------- */

typedef struct {
    const char *p;
    size_t n;
    int set;                    /* the component is defined (maybe empty) */
} part_t;

typedef struct {
    part_t scheme, auth, path, query;
} uri_t;

/* Split `s` as RFC 3986 appendix B does; the fragment is left out. -1 if a scheme is
 * there but not a valid one. */
static int uri_split(const char *s, uri_t *u)
{
    size_t n;

    memset(u, 0, sizeof *u);
    n = strcspn(s, ":/?#");
    if (s[n] == ':' && n > 0) {
        if (!((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z'))
            return -1;
        for (size_t i = 1; i < n; i++) {
            char c = s[i];
            if (!((c | 0x20) >= 'a' && (c | 0x20) <= 'z') && !(c >= '0' && c <= '9') &&
                c != '+' && c != '-' && c != '.')
                return -1;
        }
        u->scheme = (part_t){ s, n, 1 };
        s += n + 1;
    }
    if (s[0] == '/' && s[1] == '/') {
        s += 2;
        n = strcspn(s, "/?#");
        u->auth = (part_t){ s, n, 1 };
        s += n;
    }
    n = strcspn(s, "?#");
    u->path = (part_t){ s, n, 1 };
    s += n;
    if (*s == '?') {
        s++;
        n = strcspn(s, "#");
        u->query = (part_t){ s, n, 1 };
    }
    return 0;
}

/* remove_dot_segments (RFC 3986 5.2.4) of the path in buf[0..n), in place (the output
 * never outgrows what it has read); returns the output length. */
static size_t remove_dots(char *buf, size_t n)
{
    char *in = buf, *end = buf + n;
    size_t o = 0;

#define LEFT ((size_t)(end - in))
#define AT(lit) (LEFT >= sizeof lit - 1 && memcmp(in, lit, sizeof lit - 1) == 0)
    while (in < end) {
        if (AT("../")) {                                /* A */
            in += 3;
        } else if (AT("./")) {
            in += 2;
        } else if (AT("/./")) {                         /* B: "/./x" -> "/x" */
            in += 2;
        } else if (LEFT == 2 && AT("/.")) {             /* "/." -> "/" */
            in += 1;
            *in = '/';
        } else if (AT("/../") || (LEFT == 3 && AT("/.."))) {    /* C: up one segment */
            if (LEFT == 3) {
                in += 2;
                *in = '/';
            } else {
                in += 3;
            }
            while (o > 0 && buf[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
        } else if ((LEFT == 1 && AT(".")) || (LEFT == 2 && AT(".."))) {     /* D */
            in = end;
        } else {                                        /* E: move one segment */
            buf[o++] = *in++;
            while (in < end && *in != '/')
                buf[o++] = *in++;
        }
    }
#undef AT
#undef LEFT
    return o;
}

int hfi_url_resolve(const char *base, const char *ref, char **out)
{
    uri_t b, r, t;
    char *merged = NULL, *path, *res;
    size_t plen, n;
    const char *scheme;

    if (!base || !ref)
        return HF_EPROTO;
    for (const char *c = ref; *c; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f || *c == '\\')
            return HF_EPROTO;
    if (uri_split(base, &b) < 0 || uri_split(ref, &r) < 0 || !b.scheme.set || !b.auth.set)
        return HF_EPROTO;
    if (r.scheme.set) {
        t = r;
    } else {
        t.scheme = b.scheme;
        if (r.auth.set) {
            t.auth = r.auth;
            t.path = r.path;
            t.query = r.query;
        } else {
            t.auth = b.auth;
            if (r.path.n == 0) {
                t.path = b.path;
                t.query = r.query.set ? r.query : b.query;
            } else {
                t.query = r.query;
                if (r.path.p[0] == '/') {
                    t.path = r.path;
                } else {
                    /* merge: the base path up to its last '/', then the reference's */
                    size_t keep = b.path.n;
                    while (keep > 0 && b.path.p[keep - 1] != '/')
                        keep--;
                    if ((merged = hfi_malloc(keep + r.path.n + 2)) == NULL)
                        return HF_ENOMEM;
                    n = 0;
                    if (keep == 0)
                        merged[n++] = '/';      /* an empty base path with an authority */
                    memcpy(merged + n, b.path.p, keep);
                    memcpy(merged + n + keep, r.path.p, r.path.n);
                    t.path = (part_t){ merged, n + keep + r.path.n, 1 };
                }
            }
        }
    }
    /* only http(s), with a host and without user info */
    scheme = t.scheme.n == 4 && strncasecmp(t.scheme.p, "http", 4) == 0    ? "http"
             : t.scheme.n == 5 && strncasecmp(t.scheme.p, "https", 5) == 0 ? "https"
                                                                           : NULL;
    if (!scheme || !t.auth.set || t.auth.n == 0 || t.auth.p[0] == ':' ||
        memchr(t.auth.p, '@', t.auth.n)) {
        hfi_free(merged);
        return HF_EPROTO;
    }
    if ((path = hfi_malloc(t.path.n + 1)) == NULL) {
        hfi_free(merged);
        return HF_ENOMEM;
    }
    memcpy(path, t.path.p, t.path.n);
    plen = remove_dots(path, t.path.n);
    hfi_free(merged);
    res = hfi_strfmt("%s://%.*s%s%.*s%s%.*s", scheme, (int)t.auth.n, t.auth.p,
                     plen ? "" : "/", (int)plen, path, t.query.set ? "?" : "",
                     (int)(t.query.set ? t.query.n : 0), t.query.set ? t.query.p : "");
    hfi_free(path);
    if (!res)
        return HF_ENOMEM;
    *out = res;
    return 0;
}
