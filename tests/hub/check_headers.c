/*
 * check_headers.c - parsing ETag, Content-Range, Retry-After, RateLimit, Link, error codes.
 */
#include "common/testutil.h"

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

START_TEST(retry_hints_are_read)
{
    ck_assert_int_eq(hfi_parse_retry_after("3"), 3);
    ck_assert_int_eq(hfi_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), -1);
    ck_assert_int_eq(hfi_parse_retry_after(NULL), -1);
    ck_assert_int_eq(hfi_parse_retry_after("99999999999"), 86400);
    ck_assert_int_eq(hfi_parse_ratelimit_reset("\"resolvers\";r=0;t=55"), 55);
    ck_assert_int_eq(hfi_parse_ratelimit_reset("\"api\";r=10"), -1);
    ck_assert_int_eq(hfi_parse_ratelimit_reset(NULL), -1);
}
END_TEST

START_TEST(link_next_is_found)
{
    char out[256];
    ck_assert_int_eq(hfi_parse_link_next("<https://h/api/x?cursor=abc>; rel=\"next\"", out,
                                         sizeof out), 0);
    ck_assert_str_eq(out, "https://h/api/x?cursor=abc");
    ck_assert_int_eq(hfi_parse_link_next("<https://h/a>; rel=\"prev\", <https://h/b>; rel=\"next\"",
                                         out, sizeof out), 0);
    ck_assert_str_eq(out, "https://h/b");
    ck_assert_int_eq(hfi_parse_link_next("<https://h/a>; rel=\"prev\"", out, sizeof out), HF_ENOENT);
    ck_assert_int_eq(hfi_parse_link_next("<https://h/a; rel=\"next\"", out, sizeof out), HF_EPROTO);
    ck_assert_int_eq(hfi_parse_link_next("<https://a-very-long-url/>; rel=next", out, 8), HF_EPROTO);
    ck_assert_int_eq(hfi_parse_link_next(NULL, out, sizeof out), HF_ENOENT);
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

static Suite *headers_suite(void)
{
    Suite *s = suite_create("headers");
    TCase *tc = tcase_create("hub");
    tcase_add_test(tc, etags_are_normalised_or_refused);
    tcase_add_test(tc, content_range_is_parsed_strictly);
    tcase_add_test(tc, retry_hints_are_read);
    tcase_add_test(tc, link_next_is_found);
    tcase_add_test(tc, hub_error_codes_map_to_distinct_codes);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(headers_suite)
