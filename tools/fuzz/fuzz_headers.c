/*
 * fuzz_headers.c - the response header parsers on arbitrary text (the input, cut at its
 * first NUL), each parser given the same value.
 *
 * Checks: an accepted ETag is 40 or 64 lowercase hex digits; an accepted Content-Range
 * has first <= last < total (or an unknown total); Retry-After and RateLimit's t= are -1
 * or in [0, 86400]; a Link rel="next" URL (a new string, of any length) is not empty,
 * holds no '>' and appears in the value between '<' and '>', asking without an output
 * gives the same answer, and a failure leaves no string; X-Error-Code maps to an HF_E*
 * code.
 */
#include "config.h"

#include "fuzz.h"

#include "core/alloc.h"
#include "hub/headers.h"

static int lower_hex(const char *s)
{
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

static void check_link(const char *v)
{
    char *out = (char *)1;
    int rc = hfi_parse_link_next(v, &out);

    HFZ_CHECK(rc == 0 || rc == HF_ENOENT || rc == HF_EPROTO || rc == HF_ENOMEM);
    HFZ_CHECK(hfi_parse_link_next(v, NULL) == rc || rc == HF_ENOMEM);
    if (rc == 0) {
        size_t n = strlen(out);
        char *quoted;

        HFZ_CHECK(n > 0 && strchr(out, '>') == NULL);
        quoted = malloc(n + 3);
        HFZ_CHECK(quoted != NULL);
        quoted[0] = '<';
        memcpy(quoted + 1, out, n);
        quoted[n + 1] = '>';
        quoted[n + 2] = '\0';
        HFZ_CHECK(strstr(v, quoted) != NULL);
        free(quoted);
        hfi_free(out);
    } else {
        HFZ_CHECK(out == NULL);
    }
}

int hfz_headers(const uint8_t *data, size_t size)
{
    char *v = hfz_cstr(data, size);
    char etag[65];
    uint64_t first, last, total;
    long secs, status;
    int rc;

    rc = hfi_etag_normalize(v, etag);
    HFZ_CHECK(rc == 0 || rc == HF_EPROTO);
    if (rc == 0)
        HFZ_CHECK((strlen(etag) == 40 || strlen(etag) == 64) && lower_hex(etag));

    rc = hfi_parse_content_range(v, &first, &last, &total);
    HFZ_CHECK(rc == 0 || rc == HF_EPROTO);
    if (rc == 0)
        HFZ_CHECK(first <= last && (total == UINT64_MAX || last < total));

    secs = hfi_parse_retry_after(v);
    HFZ_CHECK(secs == -1 || (secs >= 0 && secs <= 86400));
    secs = hfi_parse_ratelimit_reset(v);
    HFZ_CHECK(secs == -1 || (secs >= 0 && secs <= 86400));

    check_link(v);

    status = size >= 2 ? 100 + (long)((data[0] | data[1] << 8) % 500) : 404;
    rc = hfi_http_error_code(status, v);
    HFZ_CHECK(rc >= HF_ERR_MIN && rc < 0);
    rc = hfi_http_error_code(status, NULL);
    HFZ_CHECK(rc >= HF_ERR_MIN && rc < 0);
    free(v);
    return 0;
}

HFZ_ENTRY(hfz_headers)
