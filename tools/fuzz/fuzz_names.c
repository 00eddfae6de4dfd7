/*
 * fuzz_names.c - validation and encoding of what callers name, on arbitrary text (the
 * input, cut at its first NUL), given to every checker.
 *
 * Checks:
 *  - a path hfi_check_path accepts is relative and stays below its folder: no leading '/',
 *    no empty, "." or ".." segment (nor one that percent-decodes to "." or ".."), no
 *    backslash, no control character, valid UTF-8, at most 4096 bytes and 255 a segment;
 *  - a repo id hfi_check_repo_id accepts is "name" or "owner/name" of [A-Za-z0-9_.-], each
 *    1 to 96 characters, without "--" or ".."; its cache folder is "models--" and the
 *    parts joined by "--", without '/', and splits back into them;
 *  - a revision hfi_check_revision accepts is at most 255 bytes of printable ASCII without
 *    space or ~^:?*[\%, and keeps refs/<revision> inside refs/: no leading '/', no empty
 *    segment or one starting with '.', no "..", no trailing '/', '.' or ".lock";
 *  - hfi_url_encode, with and without keep_slash, gives only unreserved characters (and
 *    '/' when kept) and %XX escapes, and decodes back to the input;
 *  - refusals are HF_EINVAL with a message.
 */
#include "config.h"

#include "fuzz.h"

#include "core/alloc.h"
#include "formats/utf8.h"
#include "hub/names.h"

static int is_alnum(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 :
           c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void check_refusal(int rc, const hf_error_t *err)
{
    HFZ_CHECK(rc == HF_EINVAL && err->code == HF_EINVAL && err->message[0] != '\0');
}

/* Segment [seg, seg + n) of an accepted path. */
static void check_path_segment(const char *seg, size_t n)
{
    char dec[256];
    size_t i, m = 0;

    HFZ_CHECK(n >= 1 && n <= 255);
    HFZ_CHECK(!(n == 1 && seg[0] == '.') && !(n == 2 && seg[0] == '.' && seg[1] == '.'));
    for (i = 0; i < n; i++) {       /* percent-decoded, it is no "." or ".." either */
        if (seg[i] == '%' && i + 2 < n && hexval(seg[i + 1]) >= 0 && hexval(seg[i + 2]) >= 0) {
            dec[m] = (char)(hexval(seg[i + 1]) * 16 + hexval(seg[i + 2]));
            HFZ_CHECK(dec[m] != '/' && dec[m] != '\\' && dec[m] != '\0');
            i += 2;
        } else {
            dec[m] = seg[i];
        }
        m++;
    }
    HFZ_CHECK(!(m == 1 && dec[0] == '.') && !(m == 2 && dec[0] == '.' && dec[1] == '.'));
}

static void check_path(const char *s)
{
    hf_error_t err;
    const char *seg = s, *end;
    size_t n = strlen(s), i;
    int rc = hfi_check_path(s, &err);

    if (rc != 0) {
        check_refusal(rc, &err);
        return;
    }
    HFZ_CHECK(n >= 1 && n <= 4096 && s[0] != '/');
    HFZ_CHECK(hfi_utf8_scan((const unsigned char *)s, n, 0) == n);
    for (i = 0; i < n; i++)
        HFZ_CHECK((unsigned char)s[i] >= 0x20 && s[i] != 0x7f && s[i] != '\\');
    for (;;) {
        end = strchr(seg, '/');
        check_path_segment(seg, end ? (size_t)(end - seg) : strlen(seg));
        if (!end)
            break;
        seg = end + 1;
    }
}

static void check_repo_part(const char *p, size_t n)
{
    size_t i;

    HFZ_CHECK(n >= 1 && n <= 96);
    for (i = 0; i < n; i++)
        HFZ_CHECK(is_alnum((unsigned char)p[i]) || p[i] == '_' || p[i] == '-' || p[i] == '.');
}

static void check_repo_id(const char *s)
{
    hf_error_t err;
    const char *slash;
    char *folder, *expect;
    int rc = hfi_check_repo_id(s, &err);

    if (rc != 0) {
        check_refusal(rc, &err);
        return;
    }
    HFZ_CHECK(strstr(s, "--") == NULL && strstr(s, "..") == NULL);
    slash = strchr(s, '/');
    if (slash) {
        HFZ_CHECK(strchr(slash + 1, '/') == NULL);
        check_repo_part(s, (size_t)(slash - s));
        check_repo_part(slash + 1, strlen(slash + 1));
        expect = hfi_strfmt("models--%.*s--%s", (int)(slash - s), s, slash + 1);
    } else {
        check_repo_part(s, strlen(s));
        expect = hfi_strfmt("models--%s", s);
    }
    folder = hfi_repo_folder(HF_REPO_MODEL, s);
    HFZ_CHECK(folder != NULL && expect != NULL);
    HFZ_CHECK(strcmp(folder, expect) == 0 && strchr(folder, '/') == NULL);
    /* "models--a--b" splits back into exactly the parts: none of them holds "--" */
    HFZ_CHECK(strstr(folder + 8, "--") == (slash ? folder + 8 + (slash - s) : NULL));
    hfi_free(folder);
    hfi_free(expect);
}

static void check_revision(const char *s)
{
    hf_error_t err;
    const char *seg = s, *end;
    size_t n = strlen(s), i;
    int rc = hfi_check_revision(s, &err);

    if (rc != 0) {
        check_refusal(rc, &err);
        return;
    }
    HFZ_CHECK(n >= 1 && n <= 255 && s[0] != '/' && s[n - 1] != '/' && s[n - 1] != '.');
    HFZ_CHECK(strstr(s, "..") == NULL && !(n >= 5 && strcmp(s + n - 5, ".lock") == 0));
    for (i = 0; i < n; i++)
        HFZ_CHECK(s[i] > 0x20 && s[i] < 0x7f && !strchr("~^:?*[\\%", s[i]));
    for (;;) {
        end = strchr(seg, '/');
        HFZ_CHECK(seg[0] != '/' && seg[0] != '\0' && seg[0] != '.');
        if (!end)
            break;
        seg = end + 1;
    }
}

static void check_encode(const char *s, int keep_slash)
{
    char *e = hfi_url_encode(s, keep_slash);
    size_t i, m = 0, n = strlen(s);

    HFZ_CHECK(e != NULL);
    for (i = 0; e[i]; i++, m++) {
        int c = (unsigned char)e[i];

        if (c == '%') {
            HFZ_CHECK(hexval(e[i + 1]) >= 0 && hexval(e[i + 2]) >= 0);
            HFZ_CHECK(!(e[i + 1] >= 'a' && e[i + 1] <= 'f') && !(e[i + 2] >= 'a' && e[i + 2] <= 'f'));
            c = hexval(e[i + 1]) * 16 + hexval(e[i + 2]);
            /* an escaped character is one that had to be */
            HFZ_CHECK(!(is_alnum(c) || c == '_' || c == '.' || c == '-' || c == '~' ||
                        (keep_slash && c == '/')));
            i += 2;
        } else {
            HFZ_CHECK(is_alnum(c) || c == '_' || c == '.' || c == '-' || c == '~' ||
                      (keep_slash && c == '/'));
        }
        HFZ_CHECK(m < n && (unsigned char)s[m] == c);
    }
    HFZ_CHECK(m == n);
    hfi_free(e);
}

int hfz_names(const uint8_t *data, size_t size)
{
    char *s = hfz_cstr(data, size);

    check_path(s);
    check_repo_id(s);
    check_revision(s);
    check_encode(s, 0);
    check_encode(s, 1);
    free(s);
    return 0;
}

HFZ_ENTRY(hfz_names)
