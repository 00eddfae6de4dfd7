/*
 * names.c - repo ids, file paths and revisions: checked before anything touches the disk
 * or the network, then encoded for URLs and cache folder names.
 *
 * Design notes
 *  - the rules follow the Hub's own: a repo id is "name" or "owner/name", each part made
 *    of [A-Za-z0-9_.-], 1 to 96 characters, not starting or ending with '-' or '.', and
 *    never containing "--" or ".." (the cache's folder name splits on "--"), and the
 *    whole id not ending with ".git" (case-sensitive; huggingface_hub's validate_repo_id
 *    refuses it: it names the repo's git URL);
 *  - a path is relative, '/'-separated, every segment non-empty and not "." or "..", no
 *    backslash, no control character, valid UTF-8 without Unicode look-alikes of '/', '\'
 *    or '.', no percent-encoded dot, slash, backslash or NUL; at most 4096 bytes, 255 per
 *    segment. Such a path cannot name anything outside `snapshots/<commit>/`. Also
 *    refused, because they alias other names on some systems or tools: a segment ending in
 *    '.' (Windows drops it: "a." is "a") and a ".git" segment in any case (no Hub repo can
 *    hold one, and a checkout tool would treat it as repository metadata);
 *  - the Unicode rule for paths: valid UTF-8 (no overlong forms, no surrogates) is allowed,
 *    letters of any script included, except (a) every C1 control, (b) the invisible and
 *    direction-changing format characters (soft hyphen, zero-width characters, bidi marks,
 *    embeddings, overrides and isolates, word joiners, BOM, interlinear annotation, tag
 *    characters), line and paragraph separators, and the noncharacters U+FFFE/U+FFFF, and
 *    (c) the characters that render as a slash, backslash or full stop (DIVISION SLASH,
 *    FRACTION SLASH, FULLWIDTH SOLIDUS / REVERSE SOLIDUS / FULL STOP, ONE and TWO DOT
 *    LEADER, ...; the list is in is_lookalike). A name that shows as "../x" on screen is
 *    refused, not just one that is "../x" in bytes. Repo ids and revisions are ASCII only;
 *  - the _n variants take a length and so see bytes past an embedded NUL (refused as a
 *    control character); the C API itself cannot carry one: its strings end at the NUL;
 *  - a revision follows git's ref-name rules closely enough that refs/<revision> stays
 *    inside the repo folder: printable ASCII, no space and none of ~^:?*[\%, no ".."
 *    segment, no empty segment, no ".lock" suffix, at most 255 bytes;
 *  - URL encoding is Python's quote(): unreserved characters (A-Za-z0-9_.-~) kept,
 *    everything else %XX, '/' kept for paths only.
 */
#include "config.h"

#include "hub/names.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

#define MAX_PART 96
#define MAX_PATH_LEN 4096
#define MAX_SEGMENT 255
#define MAX_REV 255

static int is_alnum(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Add the value refused to err's message, escaped (printable ASCII as is, '"' and '\\'
 * escaped, other bytes as \xNN) and cut at 64 bytes: `: "org/ti ny"`. Returns rc. */
static int naming(int rc, hf_error_t *err, const char *v, size_t n)
{
    char *m;
    size_t len, cap;

    if (rc >= 0 || !err || !v || n == 0)
        return rc;
    m = err->message;
    cap = sizeof err->message;
    len = strlen(m);
    len += (size_t)snprintf(m + len, cap - len, ": \"");
    for (size_t i = 0; i < n && i < 64 && len + 8 < cap; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '"' || c == '\\')
            len += (size_t)snprintf(m + len, cap - len, "\\%c", c);
        else if (c >= 0x20 && c < 0x7f)
            m[len++] = (char)c;
        else
            len += (size_t)snprintf(m + len, cap - len, "\\x%02x", c);
    }
    if (len + 5 < cap)
        snprintf(m + len, cap - len, n > 64 ? "...\"" : "\"");
    m[cap - 1] = '\0';
    return rc;
}

static int check_id_part(const char *p, size_t n, const char *what, hf_error_t *err)
{
    if (n == 0 || n > MAX_PART)
        return hf_error_set(err, HF_EINVAL, 0, "repo id: %s must be 1 to %d characters", what,
                            MAX_PART);
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)p[i];
        if (!is_alnum(c) && c != '_' && c != '-' && c != '.')
            return hf_error_set(err, HF_EINVAL, 0,
                                "repo id: %s has a character the Hub does not allow (0x%02x)",
                                what, c);
    }
    if (p[0] == '-' || p[0] == '.' || p[n - 1] == '-' || p[n - 1] == '.')
        return hf_error_set(err, HF_EINVAL, 0, "repo id: %s may not start or end with '-' or '.'",
                            what);
    return 0;
}

int hfi_check_repo_id_n(const char *repo_id, size_t n, hf_error_t *err)
{
    char copy[2 * MAX_PART + 2];

    if (!repo_id)
        return hf_error_set(err, HF_EINVAL, 0, "repo id is empty");
    if (memchr(repo_id, '\0', n))
        return hf_error_set(err, HF_EINVAL, 0, "repo id has a NUL byte");
    if (n >= sizeof copy)
        return hf_error_set(err, HF_EINVAL, 0, "repo id is too long");
    memcpy(copy, repo_id, n);
    copy[n] = '\0';
    return hfi_check_repo_id(copy, err);
}

static int check_repo_id(const char *repo_id, hf_error_t *err)
{
    const char *slash;
    size_t n;

    if (!repo_id || !*repo_id)
        return hf_error_set(err, HF_EINVAL, 0, "repo id is empty");
    if (strstr(repo_id, "--") || strstr(repo_id, ".."))
        return hf_error_set(err, HF_EINVAL, 0, "repo id may not contain \"--\" or \"..\"");
    n = strlen(repo_id);
    if (n >= 4 && memcmp(repo_id + n - 4, ".git", 4) == 0)
        return hf_error_set(err, HF_EINVAL, 0, "repo id may not end with \".git\"");
    slash = strchr(repo_id, '/');
    if (!slash)
        return check_id_part(repo_id, strlen(repo_id), "name", err);
    if (strchr(slash + 1, '/'))
        return hf_error_set(err, HF_EINVAL, 0, "repo id has more than one '/'");
    if (check_id_part(repo_id, (size_t)(slash - repo_id), "owner", err) < 0)
        return HF_EINVAL;
    return check_id_part(slash + 1, strlen(slash + 1), "name", err);
}

int hfi_check_repo_id(const char *repo_id, hf_error_t *err)
{
    return naming(check_repo_id(repo_id, err), err, repo_id, repo_id ? strlen(repo_id) : 0);
}

int hfi_check_repo_type(hf_repo_type_t type, hf_error_t *err)
{
    if (type == HF_REPO_MODEL || type == HF_REPO_DATASET || type == HF_REPO_SPACE)
        return 0;
    return hf_error_set(err, HF_EINVAL, 0, "repo type %d is none of model, dataset, space",
                        (int)type);
}

/* Decode one UTF-8 sequence at s (n bytes left); returns its length, 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, size_t n, unsigned long *cp)
{
    size_t len;
    unsigned long c;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        len = 2;
        c = s[0] & 0x1F;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        len = 3;
        c = s[0] & 0x0F;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        len = 4;
        c = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
        (c >= 0xD800 && c <= 0xDFFF))
        return 0;               /* overlong, out of range, or a surrogate */
    *cp = c;
    return len;
}

/* Characters that look like '/', '\' or '.' (or are invisible) in a file name. */
static int is_lookalike(unsigned long cp)
{
    static const unsigned long bad[] = {
        0x2215, 0x2044, 0x29F8, 0xFF0F, 0x2571, 0x1735, 0x2F03, 0x3033,  /* slashes */
        0x29F5, 0x29F9, 0xFF3C, 0x2216, 0xFE68, 0x2572,                  /* backslashes */
        0x2024, 0x2025, 0xFF0E, 0xFE52, 0x0701, 0x0702, 0x2E31, 0x00B7,  /* dots */
        0xFEFF, 0x061C, 0x00AD, 0x180E, 0xFFFE, 0xFFFF,                  /* invisible */
    };
    if (cp >= 0x80 && cp <= 0x9F)   /* C1 controls */
        return 1;
    if ((cp >= 0x200B && cp <= 0x200F) ||   /* zero-width characters, LRM, RLM */
        (cp >= 0x2028 && cp <= 0x202E) ||   /* line/paragraph separators, bidi embeddings */
        (cp >= 0x2060 && cp <= 0x206F) ||   /* word joiners, bidi isolates, deprecated formats */
        (cp >= 0xFFF9 && cp <= 0xFFFB) ||   /* interlinear annotation */
        (cp >= 0xE0000 && cp <= 0xE007F))   /* tag characters */
        return 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (cp == bad[i])
            return 1;
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A segment whose percent-decoding is ".", "..", or holds '/', '\' or NUL. */
static int sneaky_percent(const char *seg, size_t n)
{
    char dec[MAX_SEGMENT + 1];
    size_t m = 0, i = 0;
    int had_escape = 0;

    while (i < n && m < MAX_SEGMENT) {
        if (seg[i] == '%' && i + 2 < n && hexval(seg[i + 1]) >= 0 &&
            hexval(seg[i + 2]) >= 0) {
            int v = hexval(seg[i + 1]) * 16 + hexval(seg[i + 2]);
            if (v == '/' || v == '\\' || v == 0)
                return 1;
            dec[m++] = (char)v;
            i += 3;
            had_escape = 1;
        } else {
            dec[m++] = seg[i++];
        }
    }
    dec[m] = '\0';
    return had_escape && (strcmp(dec, ".") == 0 || strcmp(dec, "..") == 0);
}

int hfi_check_path(const char *path, hf_error_t *err)
{
    return hfi_check_path_n(path, path ? strlen(path) : 0, err);
}

/* ".git" in any case. */
static int is_git_segment(const char *seg, size_t len)
{
    static const char git[] = ".git";
    if (len != 4)
        return 0;
    for (size_t i = 0; i < 4; i++)
        if ((seg[i] | 0x20) != git[i])     /* '.' | 0x20 is '.' */
            return 0;
    return 1;
}

static int check_path(const char *path, size_t n, hf_error_t *err);

int hfi_check_path_n(const char *path, size_t n, hf_error_t *err)
{
    return naming(check_path(path, n, err), err, path, n);
}

static int check_path(const char *path, size_t n, hf_error_t *err)
{
    const unsigned char *s = (const unsigned char *)path;
    size_t seg_start = 0;

    if (!path || n == 0)
        return hf_error_set(err, HF_EINVAL, 0, "file path is empty");
    if (n > MAX_PATH_LEN)
        return hf_error_set(err, HF_EINVAL, 0, "file path is longer than %d bytes", MAX_PATH_LEN);
    if (path[0] == '/')
        return hf_error_set(err, HF_EINVAL, 0, "file path must be relative");
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '/') {
            size_t len = i - seg_start;
            const char *seg = path + seg_start;
            if (len == 0)
                return hf_error_set(err, HF_EINVAL, 0, "file path has an empty segment");
            if (len > MAX_SEGMENT)
                return hf_error_set(err, HF_EINVAL, 0,
                                    "file path segment longer than %d bytes", MAX_SEGMENT);
            if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
                return hf_error_set(err, HF_EINVAL, 0,
                                    "file path may not have \".\" or \"..\" segments");
            if (seg[len - 1] == '.')
                return hf_error_set(err, HF_EINVAL, 0, "file path segment may not end with '.'");
            if (is_git_segment(seg, len))
                return hf_error_set(err, HF_EINVAL, 0, "file path may not have a \".git\" segment");
            if (sneaky_percent(seg, len))
                return hf_error_set(err, HF_EINVAL, 0,
                                    "file path has a percent-encoded dot, slash or NUL");
            seg_start = i + 1;
            continue;
        }
        if (s[i] < 0x20 || s[i] == 0x7F)
            return hf_error_set(err, HF_EINVAL, 0, "file path has a control character");
        if (s[i] == '\\')
            return hf_error_set(err, HF_EINVAL, 0, "file path has a backslash");
        if (s[i] >= 0x80) {
            unsigned long cp;
            size_t len = utf8_decode(s + i, n - i, &cp);
            if (len == 0)
                return hf_error_set(err, HF_EINVAL, 0, "file path is not valid UTF-8");
            if (is_lookalike(cp))
                return hf_error_set(err, HF_EINVAL, 0,
                                    "file path has a look-alike or invisible character U+%04lX",
                                    cp);
            i += len - 1;
        }
    }
    return 0;
}

int hfi_check_revision(const char *rev, hf_error_t *err)
{
    return hfi_check_revision_n(rev, rev ? strlen(rev) : 0, err);
}

static int check_revision(const char *rev, size_t n, hf_error_t *err);

int hfi_check_revision_n(const char *rev, size_t n, hf_error_t *err)
{
    return naming(check_revision(rev, n, err), err, rev, n);
}

static int check_revision(const char *rev, size_t n, hf_error_t *err)
{
    size_t seg_start = 0;

    if (!rev || n == 0)
        return hf_error_set(err, HF_EINVAL, 0, "revision is empty");
    if (n > MAX_REV)
        return hf_error_set(err, HF_EINVAL, 0, "revision is longer than %d bytes", MAX_REV);
    if (rev[0] == '/' || rev[n - 1] == '/' || rev[n - 1] == '.')
        return hf_error_set(err, HF_EINVAL, 0, "revision may not start or end with '/' or end with '.'");
    if (n >= 5 && memcmp(rev + n - 5, ".lock", 5) == 0)
        return hf_error_set(err, HF_EINVAL, 0, "revision may not end with \".lock\"");
    for (size_t i = 0; i <= n; i++) {
        int c = i < n ? (unsigned char)rev[i] : '/';
        if (c == '/') {
            size_t len = i - seg_start;
            if (len == 0 || (len == 1 && rev[seg_start] == '.') ||
                (len == 2 && rev[seg_start] == '.' && rev[seg_start + 1] == '.') ||
                rev[seg_start] == '.')
                return hf_error_set(err, HF_EINVAL, 0,
                                    "revision has an empty, \".\" or \"..\" segment");
            seg_start = i + 1;
            continue;
        }
        if (c <= 0x20 || c >= 0x7F || strchr("~^:?*[\\%", c))
            return hf_error_set(err, HF_EINVAL, 0,
                                "revision has a character git does not allow (0x%02x)", c);
        if (c == '.' && i + 1 < n && rev[i + 1] == '.')
            return hf_error_set(err, HF_EINVAL, 0, "revision may not contain \"..\"");
    }
    return 0;
}

int hfi_is_hex(const char *s, size_t n)
{
    if (!s || strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

int hfi_is_commit(const char *rev)
{
    return hfi_is_hex(rev, 40);
}

const char *hfi_url_prefix(hf_repo_type_t type)
{
    switch (type) {
    case HF_REPO_DATASET: return "datasets/";
    case HF_REPO_SPACE: return "spaces/";
    default: return "";
    }
}

const char *hf_repo_type_name(hf_repo_type_t t)
{
    switch (t) {
    case HF_REPO_DATASET: return "dataset";
    case HF_REPO_SPACE: return "space";
    default: return "model";
    }
}

char *hfi_strfmt(const char *fmt, ...)
{
    va_list ap;
    int n;
    char *s;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || (s = hfi_malloc((size_t)n + 1)) == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

char *hfi_repo_folder(hf_repo_type_t type, const char *repo_id)
{
    const char *slash = strchr(repo_id, '/');
    if (!slash)
        return hfi_strfmt("%ss--%s", hf_repo_type_name(type), repo_id);
    return hfi_strfmt("%ss--%.*s--%s", hf_repo_type_name(type), (int)(slash - repo_id),
                      repo_id, slash + 1);
}

char *hfi_url_encode(const char *s, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = hfi_malloc(3 * n + 1), *o = out;

    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int c = *p;
        if (is_alnum(c) || c == '_' || c == '.' || c == '-' || c == '~' ||
            (keep_slash && c == '/')) {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}
