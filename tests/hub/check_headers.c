/*
 * check_headers.c - parsing ETag, Content-Range, Retry-After, RateLimit, Link, error codes,
 * and resolving a redirect's Location.
 */
#include "common/testutil.h"

#include "core/alloc.h"
#include "hub/headers.h"

START_TEST(etags_are_normalised_or_refused)
{
    char out[65];
    ck_assert_int_eq(hfi_etag_normalize("\"0123456789abcdef0123456789abcdef01234567\"", out), 0);
    ck_assert_str_eq(out, "0123456789abcdef0123456789abcdef01234567");
    ck_assert_int_eq(hfi_etag_normalize("W/\"0123456789ABCDEF0123456789abcdef01234567\"", out), 0);
    ck_assert_str_eq(out, "0123456789abcdef0123456789abcdef01234567");
    ck_assert_int_eq(hfi_etag_normalize(
                         "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"", out),
                     0);
    ck_assert_int_eq(hfi_etag_normalize("\"abc\"", out), HF_EPROTO);
    ck_assert_int_eq(hfi_etag_normalize("\"../../etc/passwd0123456789abcdef01234567\"", out),
                     HF_EPROTO);
    ck_assert_int_eq(hfi_etag_normalize(NULL, out), HF_EPROTO);
    ck_assert_int_eq(hfi_etag_normalize("", out), HF_EPROTO);
}
END_TEST

START_TEST(content_range_is_parsed_strictly)
{
    uint64_t a, b, t;
    ck_assert_int_eq(hfi_parse_content_range("bytes 0-0/1234", &a, &b, &t), 0);
    ck_assert(a == 0 && b == 0 && t == 1234);
    ck_assert_int_eq(hfi_parse_content_range("bytes 100-199/*", &a, &b, &t), 0);
    ck_assert(t == UINT64_MAX);
    ck_assert_int_eq(hfi_parse_content_range("bytes 5-4/10", &a, &b, &t), HF_EPROTO);
    ck_assert_int_eq(hfi_parse_content_range("bytes 0-10/10", &a, &b, &t), HF_EPROTO);
    ck_assert_int_eq(hfi_parse_content_range("bytes 0-1/99999999999999999999999", &a, &b, &t),
                     HF_EPROTO);
    ck_assert_int_eq(hfi_parse_content_range("items 0-1/2", &a, &b, &t), HF_EPROTO);
    ck_assert_int_eq(hfi_parse_content_range("bytes 0-1/2 junk", &a, &b, &t), HF_EPROTO);
    ck_assert_int_eq(hfi_parse_content_range(NULL, &a, &b, &t), HF_EPROTO);
}
END_TEST

/* X-Linked-Size / Content-Length: what strtoull would also take ("-5" as 2^64 - 5, a
 * leading space, an overflow clamped to ULLONG_MAX) is refused. */
START_TEST(sizes_are_parsed_strictly)
{
    uint64_t n = 7;
    ck_assert_int_eq(hfi_parse_size("0", &n), 0);
    ck_assert(n == 0);
    ck_assert_int_eq(hfi_parse_size("18446744073709551615", &n), 0);
    ck_assert(n == UINT64_MAX);
    n = 7;
    ck_assert_int_eq(hfi_parse_size("-5", &n), HF_EPROTO);
    ck_assert_int_eq(hfi_parse_size("+5", &n), HF_EPROTO);
    ck_assert_int_eq(hfi_parse_size(" 5", &n), HF_EPROTO);
    ck_assert_int_eq(hfi_parse_size("5 ", &n), HF_EPROTO);
    ck_assert_int_eq(hfi_parse_size("0x10", &n), HF_EPROTO);
    ck_assert_int_eq(hfi_parse_size("18446744073709551616", &n), HF_EPROTO);
    ck_assert_int_eq(hfi_parse_size("", &n), HF_EPROTO);
    ck_assert_int_eq(hfi_parse_size(NULL, &n), HF_EPROTO);
    ck_assert(n == 7);
}
END_TEST

START_TEST(retry_hints_are_read)
{
    ck_assert_int_eq(hfi_parse_retry_after("3"), 3);
    ck_assert_int_eq(hfi_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), -1);
    ck_assert_int_eq(hfi_parse_retry_after(NULL), -1);
    ck_assert_int_eq(hfi_parse_retry_after("99999999999"), 86400);
    ck_assert_int_eq(hfi_parse_ratelimit_reset("\"resolvers\";r=0;t=55"), 55);
    ck_assert_int_eq(hfi_parse_ratelimit_reset("\"api\";r=10"), -1);
    ck_assert_int_eq(hfi_parse_ratelimit_reset(NULL), -1);
    /* both hints are capped at a day, against overflow (the hub's max_retry_wait_ms
     * decides what is waited for) */
    ck_assert_int_eq(hfi_parse_ratelimit_reset("\"api\";r=0;t=99999999999999999999"), -1);
    ck_assert_int_eq(hfi_parse_ratelimit_reset("\"api\";r=0;t=99999999999"), 86400);
}
END_TEST

START_TEST(link_next_is_found)
{
    char *out, big[5000];
    const struct { const char *v; int rc; const char *url; } t[] = {
        { "<https://h/api/x?cursor=abc>; rel=\"next\"", 0, "https://h/api/x?cursor=abc" },
        { "<https://h/a>; rel=\"prev\", <https://h/b>; rel=\"next\"", 0, "https://h/b" },
        { "<https://h/a>; rel=next", 0, "https://h/a" },
        { "<https://h/a>;rel = \"prefetch NEXT\"", 0, "https://h/a" },  /* a list, any case */
        { "<https://h/a>; title=\"rel=next\"; rel=prev", HF_ENOENT, NULL },
        { "<https://h/a>; rel=nextpage", HF_ENOENT, NULL },
        { "<https://h/a>; rel=prev; rel=next", HF_ENOENT, NULL },  /* only the first rel */
        { "<https://h/a>; rel=\"prev\"", HF_ENOENT, NULL },
        { "<https://h/a; rel=\"next\"", HF_EPROTO, NULL },
        { "<>; rel=next", HF_EPROTO, NULL },
        { "", HF_ENOENT, NULL },
    };

    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        out = (char *)1;
        ck_assert_msg(hfi_parse_link_next(t[i].v, &out) == t[i].rc, "%s", t[i].v);
        if (t[i].url) {
            ck_assert_str_eq(out, t[i].url);
            hfi_free(out);
        } else {
            ck_assert_ptr_null(out);
        }
        ck_assert_int_eq(hfi_parse_link_next(t[i].v, NULL), t[i].rc);
    }
    ck_assert_int_eq(hfi_parse_link_next(NULL, &out), HF_ENOENT);
    /* no length limit of its own */
    memcpy(big, "<https://h/x?cursor=", 20);
    memset(big + 20, 'A', 4000);
    strcpy(big + 4020, ">; rel=\"next\"");
    ck_assert_int_eq(hfi_parse_link_next(big, &out), 0);
    ck_assert_uint_eq(strlen(out), 4019);
    hfi_free(out);
}
END_TEST

START_TEST(hub_error_codes_map_to_distinct_codes)
{
    ck_assert_int_eq(hfi_http_error_code(401, "RepoNotFound"), HF_EREPO_NOT_FOUND);
    ck_assert_int_eq(hfi_http_error_code(404, "RevisionNotFound"), HF_EREVISION_NOT_FOUND);
    ck_assert_int_eq(hfi_http_error_code(404, "EntryNotFound"), HF_EENTRY_NOT_FOUND);
    ck_assert_int_eq(hfi_http_error_code(403, "GatedRepo"), HF_EGATED);
    ck_assert_int_eq(hfi_http_error_code(401, NULL), HF_EAUTH);
    ck_assert_int_eq(hfi_http_error_code(503, NULL), HF_ENETWORK);
    ck_assert_int_eq(hfi_http_error_code(400, NULL), HF_EPROTO);
    ck_assert(hfi_http_retryable(429) && hfi_http_retryable(408) && hfi_http_retryable(502));
    ck_assert(!hfi_http_retryable(404) && !hfi_http_retryable(401) && !hfi_http_retryable(501));
}
END_TEST

/* hfi_url_resolve(base, ref) is `want` (NULL: refused with HF_EPROTO). */
static void resolves(const char *base, const char *ref, const char *want)
{
    char *got = NULL;
    int rc = hfi_url_resolve(base, ref, &got);
    if (!want) {
        ck_assert_msg(rc == HF_EPROTO && got == NULL, "%s: not refused (%d, %s)", ref, rc,
                      got ? got : "");
        return;
    }
    ck_assert_msg(rc == 0, "%s: refused (%d)", ref, rc);
    ck_assert_msg(strcmp(got, want) == 0, "%s -> %s, not %s", ref, got, want);
    hfi_free(got);
}

START_TEST(locations_resolve_as_rfc_3986_says)
{
    /* RFC 3986 section 5.4, base http://a/b/c/d;p?q (fragments dropped, "//g" gets its /) */
    static const char *const cases[][2] = {
        { "g", "http://a/b/c/g" }, { "./g", "http://a/b/c/g" }, { "g/", "http://a/b/c/g/" },
        { "/g", "http://a/g" }, { "//g", "http://g/" }, { "?y", "http://a/b/c/d;p?y" },
        { "g?y", "http://a/b/c/g?y" }, { "#s", "http://a/b/c/d;p?q" },
        { "g#s", "http://a/b/c/g" }, { "g?y#s", "http://a/b/c/g?y" },
        { ";x", "http://a/b/c/;x" }, { "g;x", "http://a/b/c/g;x" },
        { "g;x?y#s", "http://a/b/c/g;x?y" }, { "", "http://a/b/c/d;p?q" },
        { ".", "http://a/b/c/" }, { "./", "http://a/b/c/" }, { "..", "http://a/b/" },
        { "../", "http://a/b/" }, { "../g", "http://a/b/g" }, { "../..", "http://a/" },
        { "../../", "http://a/" }, { "../../g", "http://a/g" },
        { "../../../g", "http://a/g" }, { "../../../../g", "http://a/g" },
        { "/./g", "http://a/g" }, { "/../g", "http://a/g" }, { "g.", "http://a/b/c/g." },
        { ".g", "http://a/b/c/.g" }, { "g..", "http://a/b/c/g.." }, { "..g", "http://a/b/c/..g" },
        { "./../g", "http://a/b/g" }, { "./g/.", "http://a/b/c/g/" },
        { "g/./h", "http://a/b/c/g/h" }, { "g/../h", "http://a/b/c/h" },
        { "g;x=1/./y", "http://a/b/c/g;x=1/y" }, { "g;x=1/../y", "http://a/b/c/y" },
        { "g?y/./x", "http://a/b/c/g?y/./x" }, { "g?y/../x", "http://a/b/c/g?y/../x" },
        { "g#s/./x", "http://a/b/c/g" }, { "g#s/../x", "http://a/b/c/g" },
        { "http://a/b/../c/./d?x#f", "http://a/c/d?x" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        resolves("http://a/b/c/d;p?q", cases[i][0], cases[i][1]);

    /* what the Hub and CDNs send */
    resolves("https://huggingface.co/org/m/resolve/main/x.bin",
             "/api/resolve-cache/models/org/m/0123/x.bin?etag=%22e%22",
             "https://huggingface.co/api/resolve-cache/models/org/m/0123/x.bin?etag=%22e%22");
    resolves("https://huggingface.co/old/m/resolve/main/x", "/New/m/resolve/main/x",
             "https://huggingface.co/New/m/resolve/main/x");
    resolves("https://huggingface.co/org/m/resolve/main/x", "https://cdn-lfs.hf.co/r/s?X=1&Y=2",
             "https://cdn-lfs.hf.co/r/s?X=1&Y=2");
    resolves("http://127.0.0.1:8/org/m/resolve/main/x", "HTTP://127.0.0.1:8/y",
             "http://127.0.0.1:8/y");
    resolves("https://h/a/b", "HtTpS://Other.Host:444", "https://Other.Host:444/");
    resolves("https://h:1/a/b", "//cdn:2/p", "https://cdn:2/p");
    resolves("http://h", "x", "http://h/x");
    resolves("http://h/a?q", "?", "http://h/a?");

    /* refused: other schemes, no host, user info, what a URL cannot hold, a bad base */
    resolves("https://h/a", "file:///etc/passwd", NULL);
    resolves("https://h/a", "ftp://h/x", NULL);
    resolves("https://h/a", "FILE:/etc/passwd", NULL);
    resolves("https://h/a", "javascript:alert(1)", NULL);
    resolves("https://h/a", "g:h", NULL);
    resolves("https://h/a", "http:g", NULL);
    resolves("https://h/a", "http:", NULL);
    resolves("https://h/a", "http:///x", NULL);
    resolves("https://h/a", "http://:80/x", NULL);
    resolves("https://h/a", "1http://h/x", NULL);
    resolves("https://h/a", "https://user:pw@evil/x", NULL);
    resolves("https://h/a", "//evil@h/x", NULL);
    resolves("https://h/a", "/a b", NULL);
    resolves("https://h/a", "/a\r\nX-Injected: 1", NULL);
    resolves("https://h/a", "\\\\evil/x", NULL);
    resolves("https://h/a", "/a\tb", NULL);
    resolves("file:///etc/x", "y", NULL);
    resolves("/relative/base", "y", NULL);
    ck_assert_int_eq(hfi_url_resolve(NULL, "x", &(char *){ NULL }), HF_EPROTO);
    ck_assert_int_eq(hfi_url_resolve("http://h/", NULL, &(char *){ NULL }), HF_EPROTO);

    ck_assert(hfi_http_redirect(301) && hfi_http_redirect(302) && hfi_http_redirect(303) &&
              hfi_http_redirect(307) && hfi_http_redirect(308));
    ck_assert(!hfi_http_redirect(300) && !hfi_http_redirect(304) && !hfi_http_redirect(305) &&
              !hfi_http_redirect(200) && !hfi_http_redirect(404));
}
END_TEST

static Suite *headers_suite(void)
{
    Suite *s = suite_create("headers");
    TCase *tc = tcase_create("hub");
    tcase_add_test(tc, etags_are_normalised_or_refused);
    tcase_add_test(tc, content_range_is_parsed_strictly);
    tcase_add_test(tc, sizes_are_parsed_strictly);
    tcase_add_test(tc, retry_hints_are_read);
    tcase_add_test(tc, link_next_is_found);
    tcase_add_test(tc, hub_error_codes_map_to_distinct_codes);
    tcase_add_test(tc, locations_resolve_as_rfc_3986_says);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(headers_suite)
