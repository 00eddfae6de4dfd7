/*
 * check_redirect.c - how the Hub client follows redirects, against hf-mock-hub on loopback:
 * the metadata request (HEAD) follows the Hub's own redirects and stops at the CDN's; the
 * body GETs follow whatever 3xx they meet, a bounded number of times; relative Locations
 * are resolved against the URL that was asked (RFC 3986); only http and https are ever
 * followed; the token never leaves the Hub's origin.
 *
 * Design notes
 *  - redirects are made by the mock's "location" faults ({hub}, {cdn}, {path}, {query} are
 *    replaced by the mock); "another host" is the same port under the name localhost
 *    (127.0.0.1 is the Hub's and the CDN's), which the client must treat as a different
 *    origin;
 *  - which request carried the token, and to which host, comes from the mock's request
 *    log (its "authorization" flag and the "host" header it recorded).
 */
#include "common/testutil.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mockhub.h"

#define TOKEN "hf_test_123"
#define MODEL_BIN 300000u
#define BIG (3u << 20)
#define NESTED "nested\n"
#define CONFIG "{\"a\": 1}\n"

static tu_mock_t mock;
static char cache[256];
static char cdn_alt[300], hub_alt[300];     /* the CDN and the Hub named localhost */
static hf_runtime_t *rt;

static void start(const char *mock_args)
{
    unsigned char *bin = tu_pattern(MODEL_BIN, 1), *big = tu_pattern(BIG, 2);

    tu_mock_root(&mock);
    tu_mock_file(&mock, "model", "org/model", "config.json", CONFIG, sizeof CONFIG - 1);
    tu_mock_file(&mock, "model", "org/model", "sub/nested.txt", NESTED, sizeof NESTED - 1);
    tu_mock_file(&mock, "model", "org/model", "model.bin", bin, MODEL_BIN);
    tu_mock_file(&mock, "model", "org/model", "big.bin", big, BIG);
    tu_mock_settings(&mock, "model", "org/model", "{\"lfs\": [\"*.bin\"]}");
    tu_mock_settings(&mock, "model", "oldorg/old-name", "{\"renamed_to\": \"org/model\"}");
    free(bin);
    free(big);
    tu_mock_start(&mock, mock_args);
    ck_assert_int_eq(strncmp(mock.hub, "http://127.0.0.1:", 17), 0);
    snprintf(hub_alt, sizeof hub_alt, "http://localhost:%s", mock.hub + 17);
    snprintf(cdn_alt, sizeof cdn_alt, "http://localhost:%s", strrchr(mock.cdn, ':') + 1);
    tu_tmpdir(cache, sizeof cache, "redir-cache");
    rt = tu_runtime(2);
}

static void setup(void)
{
    start(NULL);
}

static void setup_cdn_host(void)
{
    start("--cdn-host localhost");
}

static void teardown(void)
{
    hf_runtime_free(rt);
    tu_mock_stop(&mock);
    tu_rm_tree(cache);
}

static hf_hub_t *hub_with(const char *token)
{
    hf_hub_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_retries = 2;
    return tu_hub_at(rt, mock.hub, cache, token ? token : "", &cfg);
}

static void fault(const char *fmt, ...) HF_PRINTF(1, 2);
static void fault(const char *fmt, ...)
{
    char json[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(json, sizeof json, fmt, ap);
    va_end(ap);
    tu_mock_fault(&mock, json);
}

/* Download repo/path at main (forced: fetched again even if cached); the settled future. */
static hf_future_t *dl(hf_hub_t *h, const char *repo, const char *path, int force)
{
    hf_file_ref_t ref = { repo, HF_REPO_MODEL, NULL, path };
    hf_download_opts_t opts = { NULL, NULL, force };
    hf_future_t *f = hf_hub_download(h, &ref, &opts);
    ck_assert_ptr_nonnull(f);
    tu_settle(f);
    return f;
}

/* 0 if `f` was fulfilled, else its error code (and the message, for the test's log). */
static int code_of(hf_future_t *f)
{
    if (hf_future_state(f) == HF_FUTURE_FULFILLED)
        return 0;
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_REJECTED);
    return hf_future_error(f)->code;
}

static const char *message_of(hf_future_t *f)
{
    return hf_future_state(f) == HF_FUTURE_REJECTED ? hf_future_error(f)->message : "";
}

static int file_bytes_ok(hf_future_t *f, const void *want, size_t n)
{
    return code_of(f) == 0 && tu_same_bytes(hf_future_value(f), want, n);
}

static int pattern_ok(hf_future_t *f, size_t n, unsigned seed)
{
    unsigned char *want = tu_pattern(n, seed);
    int ok = file_bytes_ok(f, want, n);
    free(want);
    return ok;
}

/* Requests in the mock's log on `port` ("hub"/"cdn") with `method` whose Host header
 * starts with `host` (NULL: any) and whose Authorization presence is `auth` (-1: any). */
static int logged(const char *port, const char *method, const char *host, int auth)
{
    char query[32], *text;
    cJSON *j, *e;
    int n = 0;

    snprintf(query, sizeof query, "port=%s", port);
    text = tu_mock_requests(&mock, query);
    j = cJSON_Parse(text);
    ck_assert_ptr_nonnull(j);
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "requests"))
    {
        const char *m = cJSON_GetStringValue(cJSON_GetObjectItem(e, "method"));
        const char *hh = cJSON_GetStringValue(
            cJSON_GetObjectItem(cJSON_GetObjectItem(e, "headers"), "host"));
        int a = cJSON_IsTrue(cJSON_GetObjectItem(e, "authorization"));
        if (m && strcmp(m, method) == 0 && (!host || (hh && strncmp(hh, host, strlen(host)) == 0)) &&
            (auth < 0 || a == auth))
            n++;
    }
    cJSON_Delete(j);
    free(text);
    return n;
}

/* The host[:port] part of an http:// base URL. */
static const char *host_of(const char *base)
{
    return base + 7;
}

static int exists_in(const char *dir, const char *name)
{
    char path[700];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return lstat(path, &st) == 0;
}

/* ---- the body GET ------------------------------------------------------------------------ */

START_TEST(a_cdn_redirect_on_the_body_get_is_followed_to_another_host)
{
    static const int statuses[] = { 301, 302, 303, 307, 308 };
    hf_hub_t *h = hub_with(TOKEN);

    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        hf_future_t *f;
        tu_mock_reset(&mock);
        fault("{\"path\": \"/repos/models/org/model/*\", \"port\": \"cdn\", \"method\": \"GET\", "
              "\"status\": %d, \"location\": \"%s{path}?{query}\", \"count\": 1}",
              statuses[i], cdn_alt);
        f = dl(h, "org/model", "model.bin", 1);
        ck_assert_msg(pattern_ok(f, MODEL_BIN, 1), "HTTP %d: %s", statuses[i], message_of(f));
        /* the first GET (127.0.0.1) was redirected, the second (localhost) served */
        ck_assert_int_eq(logged("cdn", "GET", host_of(mock.cdn), -1), 1);
        ck_assert_int_eq(logged("cdn", "GET", host_of(cdn_alt), -1), 1);
        ck_assert_int_eq(logged("cdn", "GET", NULL, 1), 0);     /* no token, ever */
        ck_assert_int_eq(logged("hub", "HEAD", NULL, 1), 1);    /* the Hub had it */
        hf_future_release(f);
    }
    ck_assert_int_eq(tu_count_files_named(cache, ".incomplete"), 0);
    hf_hub_free(h);
}
END_TEST

START_TEST(a_relative_cdn_redirect_is_resolved_against_the_cdn_url)
{
    hf_hub_t *h = hub_with(TOKEN);
    hf_future_t *f;

    /* "model.bin?..." from /repos/models/org/model/<sha>/model.bin: the same path */
    fault("{\"path\": \"/repos/models/org/model/*\", \"port\": \"cdn\", \"method\": \"GET\", "
          "\"status\": 302, \"location\": \"model.bin?{query}\", \"count\": 1}");
    f = dl(h, "org/model", "model.bin", 0);
    ck_assert_msg(pattern_ok(f, MODEL_BIN, 1), "%s", message_of(f));
    ck_assert_int_eq(logged("cdn", "GET", NULL, 0), 2);
    ck_assert_int_eq(logged("hub", "GET", NULL, -1), 0);    /* not against the Hub */
    hf_future_release(f);
    hf_hub_free(h);
}
END_TEST

START_TEST(ranged_downloads_follow_a_cdn_redirect)
{
    hf_hub_config_t cfg;
    hf_hub_t *h;
    hf_future_t *f;

    memset(&cfg, 0, sizeof cfg);
    cfg.parallel_threshold = 1u << 20;
    cfg.conns_per_file = 2;
    cfg.max_retries = 2;
    h = tu_hub_at(rt, mock.hub, cache, TOKEN, &cfg);
    fault("{\"path\": \"/repos/models/org/model/*/big.bin\", \"port\": \"cdn\", \"method\": \"GET\", "
          "\"status\": 307, \"location\": \"%s{path}?{query}\", \"count\": 1}", cdn_alt);
    f = dl(h, "org/model", "big.bin", 0);
    ck_assert_msg(pattern_ok(f, BIG, 2), "%s", message_of(f));
    ck_assert_int_ge(logged("cdn", "GET", host_of(cdn_alt), 0), 1);
    ck_assert_int_eq(logged("cdn", "GET", NULL, 1), 0);
    ck_assert_int_eq(tu_count_files_named(cache, ".incomplete.ranged"), 0);
    hf_future_release(f);
    hf_hub_free(h);
}
END_TEST

START_TEST(the_token_follows_a_hub_get_redirect_only_on_the_hub_origin)
{
    hf_hub_t *h = hub_with(TOKEN);
    hf_future_t *f;

    /* the Hub's GET sends it on to another host (the same server, named localhost) */
    fault("{\"path\": \"/org/model/resolve/main/sub/nested.txt\", \"port\": \"hub\", "
          "\"method\": \"GET\", \"status\": 302, \"location\": \"%s{path}\", \"count\": 1}",
          hub_alt);
    f = dl(h, "org/model", "sub/nested.txt", 0);
    ck_assert_msg(file_bytes_ok(f, NESTED, sizeof NESTED - 1), "%s", message_of(f));
    ck_assert_int_eq(logged("hub", "GET", host_of(mock.hub), 1), 1);
    ck_assert_int_eq(logged("hub", "GET", host_of(hub_alt), 0), 1);
    ck_assert_int_eq(logged("hub", "GET", host_of(hub_alt), 1), 0);
    hf_future_release(f);

    /* to the Hub's own origin (an absolute URL): the token stays */
    tu_mock_reset(&mock);
    fault("{\"path\": \"/org/model/resolve/main/sub/nested.txt\", \"port\": \"hub\", "
          "\"method\": \"GET\", \"status\": 307, \"location\": \"{hub}{path}?again=1\", "
          "\"count\": 1}");
    f = dl(h, "org/model", "sub/nested.txt", 1);
    ck_assert_msg(file_bytes_ok(f, NESTED, sizeof NESTED - 1), "%s", message_of(f));
    ck_assert_int_eq(logged("hub", "GET", host_of(mock.hub), 1), 2);
    hf_future_release(f);
    hf_hub_free(h);
}
END_TEST

/* ---- the metadata request ---------------------------------------------------------------- */

START_TEST(a_relative_location_without_a_slash_is_resolved_against_the_request_url)
{
    hf_hub_t *h = hub_with(TOKEN);
    hf_future_t *f;

    /* /org/model/resolve/main/alias.txt -> "sub/nested.txt" = .../main/sub/nested.txt */
    fault("{\"path\": \"/org/model/resolve/main/alias.txt\", \"port\": \"hub\", "
          "\"status\": 307, \"location\": \"sub/nested.txt\"}");
    f = dl(h, "org/model", "alias.txt", 0);
    ck_assert_msg(file_bytes_ok(f, NESTED, sizeof NESTED - 1), "%s", message_of(f));
    ck_assert_int_eq(tu_mock_count(&mock, "HEAD", "/org/model/resolve/main/sub/nested.txt"), 1);
    hf_future_release(f);

    /* "../config.json" from .../main/sub/alias.json */
    fault("{\"path\": \"/org/model/resolve/main/sub/alias.json\", \"port\": \"hub\", "
          "\"status\": 307, \"location\": \"../config.json\"}");
    f = dl(h, "org/model", "sub/alias.json", 0);
    ck_assert_msg(file_bytes_ok(f, CONFIG, sizeof CONFIG - 1), "%s", message_of(f));
    hf_future_release(f);

    /* "//127.0.0.1:PORT/..." (no scheme): the request's scheme, the Hub's origin */
    fault("{\"path\": \"/org/model/resolve/main/alias2.json\", \"port\": \"hub\", "
          "\"status\": 307, \"location\": \"//%s/org/model/resolve/main/config.json\"}",
          host_of(mock.hub));
    f = dl(h, "org/model", "alias2.json", 0);
    ck_assert_msg(file_bytes_ok(f, CONFIG, sizeof CONFIG - 1), "%s", message_of(f));
    hf_future_release(f);
    ck_assert_int_eq(logged("hub", "HEAD", NULL, 0), 0);      /* every hop kept the token */
    ck_assert_int_eq(logged("cdn", "GET", NULL, -1), 0);
    hf_hub_free(h);
}
END_TEST

START_TEST(an_api_listing_follows_a_relative_location_without_a_slash)
{
    hf_hub_t *h = hub_with(TOKEN);
    hf_file_ref_t ref = { "org/alias", HF_REPO_MODEL, NULL, NULL };
    hf_future_t *f;
    const hf_file_list_t *l;

    /* /api/models/org/alias/tree/main -> "../../model/tree/main?{query}"
     *                                  = /api/models/org/model/tree/main?... */
    fault("{\"path\": \"/api/models/org/alias/tree/main\", \"port\": \"hub\", "
          "\"status\": 307, \"location\": \"../../model/tree/main?{query}\"}");
    f = hf_hub_list_files(h, &ref);
    ck_assert_ptr_nonnull(f);
    tu_settle(f);
    ck_assert_msg(code_of(f) == 0, "%s", message_of(f));
    l = hf_future_value(f);
    ck_assert_uint_eq(l->n, 4);         /* config.json, sub/nested.txt, model.bin, big.bin */
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/api/models/org/model/tree/main"), 1);
    hf_future_release(f);
    hf_hub_free(h);
}
END_TEST

START_TEST(an_absolute_location_on_the_hubs_origin_is_the_hub)
{
    hf_hub_t *h = hub_with(TOKEN);
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "alias.txt" };
    hf_future_t *f;
    char upper[300];

    /* the scheme in capitals is the same origin (RFC 3986: case-insensitive) */
    snprintf(upper, sizeof upper, "HTTP://%s", host_of(mock.hub));
    fault("{\"path\": \"/org/model/resolve/main/alias.txt\", \"port\": \"hub\", "
          "\"status\": 302, \"location\": \"%s/org/model/resolve/main/sub/nested.txt\"}", upper);
    f = hf_hub_file_metadata(h, &ref);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    {
        const hf_file_metadata_t *m = hf_future_value(f);
        char want[300];
        snprintf(want, sizeof want, "%s/org/model/resolve/main/sub/nested.txt", mock.hub);
        ck_assert_str_eq(m->url, want);     /* the Hub's URL: fetched with the token */
        ck_assert_uint_eq(m->size, sizeof NESTED - 1);
    }
    hf_future_release(f);
    ck_assert_int_eq(logged("hub", "HEAD", NULL, 1), 2);
    f = dl(h, "org/model", "alias.txt", 0);
    ck_assert_msg(file_bytes_ok(f, NESTED, sizeof NESTED - 1), "%s", message_of(f));
    ck_assert_int_eq(logged("hub", "GET", NULL, 1), 1);
    hf_future_release(f);
    hf_hub_free(h);
}
END_TEST

START_TEST(a_renamed_repo_is_followed_with_relative_and_absolute_locations)
{
    hf_hub_t *h = hub_with(TOKEN);
    hf_future_t *f;

    /* the mock's own 307, relative with a leading slash; an LFS file then goes to the CDN */
    f = dl(h, "oldorg/old-name", "model.bin", 0);
    ck_assert_msg(pattern_ok(f, MODEL_BIN, 1), "%s", message_of(f));
    ck_assert_ptr_nonnull(strstr(hf_future_value(f), "models--oldorg--old-name"));
    hf_future_release(f);
    ck_assert_int_eq(logged("cdn", "GET", NULL, 0), 1);
    ck_assert_int_eq(logged("cdn", "GET", NULL, 1), 0);
    /* an absolute 307 to the new name */
    fault("{\"path\": \"/oldorg/abs-name/resolve/main/config.json\", \"port\": \"hub\", "
          "\"status\": 307, \"location\": \"{hub}/org/model/resolve/main/config.json\"}");
    f = dl(h, "oldorg/abs-name", "config.json", 0);
    ck_assert_msg(file_bytes_ok(f, CONFIG, sizeof CONFIG - 1), "%s", message_of(f));
    ck_assert_ptr_nonnull(strstr(hf_future_value(f), "models--oldorg--abs-name"));
    hf_future_release(f);
    ck_assert_int_eq(logged("hub", "HEAD", NULL, 0), 0);
    hf_hub_free(h);
}
END_TEST

/* ---- loops and refusals ------------------------------------------------------------------ */

START_TEST(a_metadata_redirect_loop_fails_with_a_clear_error)
{
    hf_hub_t *h = hub_with(TOKEN);
    hf_future_t *f;

    static const char *const to_self[] = { "{path}", "loop.txt", "{hub}{path}" };

    for (size_t i = 0; i < sizeof to_self / sizeof to_self[0]; i++) {
        tu_mock_reset(&mock);
        fault("{\"path\": \"/org/model/resolve/main/loop.txt\", \"port\": \"hub\", "
              "\"status\": 307, \"location\": \"%s\"}", to_self[i]);
        f = dl(h, "org/model", "loop.txt", 0);
        ck_assert_int_eq(code_of(f), HF_EPROTO);
        ck_assert_msg(strstr(message_of(f), "redirects") != NULL, "%s: %s", to_self[i],
                      message_of(f));
        ck_assert_int_eq(tu_mock_count(&mock, "HEAD", "/org/model/resolve/main/loop.txt"), 11);
        ck_assert_int_eq(tu_mock_count(&mock, "GET", "/org/model/resolve/main/loop.txt"), 0);
        hf_future_release(f);
    }
    hf_hub_free(h);
}
END_TEST

START_TEST(a_body_redirect_loop_fails_cleanly_after_ten_hops)
{
    hf_hub_t *h = hub_with(TOKEN);
    hf_future_t *f;

    /* ten redirects are followed ... */
    fault("{\"path\": \"/repos/models/org/model/*\", \"port\": \"cdn\", \"method\": \"GET\", "
          "\"status\": 302, \"location\": \"{cdn}{path}?{query}\", \"count\": 10}");
    f = dl(h, "org/model", "model.bin", 0);
    ck_assert_msg(pattern_ok(f, MODEL_BIN, 1), "%s", message_of(f));
    ck_assert_int_eq(logged("cdn", "GET", NULL, -1), 11);
    hf_future_release(f);

    /* ... an endless loop (between two hosts) is not */
    tu_rm_tree(cache);
    tu_mock_reset(&mock);
    fault("{\"path\": \"/repos/models/org/model/*\", \"port\": \"cdn\", \"method\": \"GET\", "
          "\"status\": 308, \"location\": \"%s{path}?{query}\"}", cdn_alt);
    f = dl(h, "org/model", "model.bin", 0);
    ck_assert_int_eq(code_of(f), HF_EPROTO);
    ck_assert_msg(strstr(message_of(f), "redirects") != NULL, "%s", message_of(f));
    ck_assert_int_eq(logged("cdn", "GET", NULL, -1), 11);
    ck_assert_int_eq(logged("cdn", "GET", NULL, 1), 0);
    /* nothing where the complete file is expected: no blob, no snapshot link */
    ck_assert_int_eq(exists_in(cache, "models--org--model/snapshots"), 0);
    {
        char cmd[600], out[64] = "";
        FILE *p;
        snprintf(cmd, sizeof cmd, "ls '%s/models--org--model/blobs' 2>/dev/null | "
                                  "grep -v '\\.incomplete' | wc -l", cache);
        p = popen(cmd, "r");
        ck_assert_ptr_nonnull(p);
        ck_assert_ptr_nonnull(fgets(out, sizeof out, p));
        pclose(p);
        ck_assert_int_eq(atoi(out), 0);
    }
    hf_future_release(f);
    hf_hub_free(h);
}
END_TEST

START_TEST(a_location_that_is_not_http_is_refused)
{
    static const char *const bad[] = { "file:///etc/passwd", "ftp://127.0.0.1/model.bin",
                                       "gopher://127.0.0.1:70/x", "http:no-host" };
    hf_hub_t *h = hub_with(TOKEN);
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "model.bin" };
    char commit[41], etag[65];
    hf_future_t *f;

    f = hf_hub_file_metadata(h, &ref);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    memcpy(commit, ((const hf_file_metadata_t *)hf_future_value(f))->commit, sizeof commit);
    memcpy(etag, ((const hf_file_metadata_t *)hf_future_value(f))->etag, sizeof etag);
    hf_future_release(f);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        /* on the metadata request: a 302 that looks like the CDN's in every other way */
        tu_mock_reset(&mock);
        fault("{\"path\": \"/org/model/resolve/main/model.bin\", \"port\": \"hub\", "
              "\"status\": 302, \"location\": \"%s\", \"headers\": {\"X-Repo-Commit\": \"%s\", "
              "\"X-Linked-Etag\": \"\\\"%s\\\"\", \"X-Linked-Size\": \"%u\"}}",
              bad[i], commit, etag, MODEL_BIN);
        f = hf_hub_file_metadata(h, &ref);
        tu_settle(f);
        ck_assert_msg(code_of(f) == HF_EPROTO, "%s: metadata %d", bad[i], code_of(f));
        ck_assert_msg(strstr(message_of(f), "http") != NULL, "%s", message_of(f));
        hf_future_release(f);
        f = dl(h, "org/model", "model.bin", 0);
        ck_assert_msg(code_of(f) == HF_EPROTO, "%s: download %d", bad[i], code_of(f));
        hf_future_release(f);
        ck_assert_int_eq(logged("hub", "HEAD", NULL, -1), 2);       /* no retry, no GET */
        ck_assert_int_eq(logged("hub", "GET", NULL, -1), 0);
        ck_assert_int_eq(logged("cdn", "GET", NULL, -1), 0);

        /* on the body GET, from the CDN */
        tu_mock_reset(&mock);
        fault("{\"path\": \"/repos/models/org/model/*\", \"port\": \"cdn\", \"method\": \"GET\", "
              "\"status\": 302, \"location\": \"%s\"}", bad[i]);
        f = dl(h, "org/model", "model.bin", 0);
        ck_assert_msg(code_of(f) == HF_EPROTO, "%s: body %d", bad[i], code_of(f));
        ck_assert_msg(strstr(message_of(f), "not followed") != NULL, "%s", message_of(f));
        ck_assert_int_eq(logged("cdn", "GET", NULL, -1), 1);
        hf_future_release(f);
    }
    hf_hub_free(h);
}
END_TEST

/* ---- the CDN on another host ------------------------------------------------------------- */

START_TEST(the_cdn_on_another_host_and_port_gets_no_token)
{
    hf_hub_t *h = hub_with(TOKEN);
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "model.bin" };
    hf_future_t *f = hf_hub_file_metadata(h, &ref);

    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    {
        const hf_file_metadata_t *m = hf_future_value(f);
        ck_assert_uint_eq(m->size, MODEL_BIN);
        ck_assert_uint_eq(strlen(m->etag), 64);
        ck_assert_int_eq(strncmp(m->url, "http://localhost:", 17), 0);
    }
    hf_future_release(f);
    f = dl(h, "org/model", "model.bin", 0);
    ck_assert_msg(pattern_ok(f, MODEL_BIN, 1), "%s", message_of(f));
    hf_future_release(f);
    ck_assert_int_eq(logged("cdn", "GET", "localhost:", 0), 1);
    ck_assert_int_eq(logged("cdn", "GET", NULL, 1), 0);
    ck_assert_int_eq(logged("hub", "HEAD", NULL, 1), 2);
    hf_hub_free(h);
}
END_TEST

/* ---- what a hostile server may put in our messages ---------------------------------------- */

/* 1 if `s` holds a control character (ESC, BEL, CR, ...) or DEL, which a terminal obeys. */
static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
            return 1;
    return 0;
}

START_TEST(an_error_message_from_the_server_loses_its_control_characters)
{
    hf_hub_t *h = hub_with(TOKEN);
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, NULL };
    hf_future_t *f;

    /* X-Error-Message with terminal escapes (colour, window title, BEL) */
    fault("{\"path\": \"/org/model/resolve/main/evil.txt\", \"port\": \"hub\", \"status\": 404, "
          "\"error_code\": \"EntryNotFound\", "
          "\"message\": \"\\u001b[2J\\u001b]0;pwned\\u0007gone\\u001b[0m\"}");
    f = dl(h, "org/model", "evil.txt", 0);
    ck_assert_int_eq(code_of(f), HF_EENTRY_NOT_FOUND);
    ck_assert_msg(!has_control(message_of(f)), "escape in: %s", message_of(f));
    ck_assert_ptr_nonnull(strstr(message_of(f), "gone"));
    hf_future_release(f);

    fault("{\"path\": \"/api/models/org/model/revision/main\", \"port\": \"hub\", \"status\": 401, "
          "\"error_code\": \"RepoNotFound\", \"message\": \"no\\u001b[31m such\\u009b1m repo\"}");
    f = hf_hub_repo_info(h, &ref);
    ck_assert_ptr_nonnull(f);
    tu_settle(f);
    ck_assert_int_eq(code_of(f), HF_EREPO_NOT_FOUND);
    ck_assert_msg(!has_control(message_of(f)), "escape in: %s", message_of(f));
    /* a C1 CSI (U+009B, the one-byte form of ESC [) is no text either */
    ck_assert_msg(strchr(message_of(f), '\x9b') == NULL, "C1 CSI in: %s", message_of(f));
    ck_assert_ptr_nonnull(strstr(message_of(f), "repo"));
    hf_future_release(f);
    hf_hub_free(h);
}
END_TEST

START_TEST(listing_a_files_path_says_it_is_not_a_folder)
{
    hf_hub_t *h = hub_with(TOKEN);
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "config.json" };
    hf_future_t *f;

    /* the Hub answers tree/<rev>/<file> with 404 EntryNotFound, as for a missing folder */
    f = hf_hub_list_files(h, &ref);
    ck_assert_ptr_nonnull(f);
    tu_settle(f);
    ck_assert_int_eq(code_of(f), HF_EENTRY_NOT_FOUND);
    ck_assert_msg(strstr(message_of(f), "file not found") == NULL &&
                  strstr(message_of(f), "no folder") != NULL, "%s", message_of(f));
    hf_future_release(f);
    hf_hub_free(h);
}
END_TEST

/* ---- a server that answers any request with one canned JSON body ---------------------- */

typedef struct canned {
    int fd;                     /* listening on 127.0.0.1 */
    _Atomic int stop;
    const char *body;
    pthread_t thread;
    char url[64];
} canned_t;

static void *canned_run(void *arg)
{
    canned_t *c = arg;
    while (!atomic_load(&c->stop)) {
        struct pollfd p = { c->fd, POLLIN, 0 };
        char req[8192], head[256];
        size_t got = 0;
        int conn;
        if (poll(&p, 1, 50) <= 0 || (conn = accept(c->fd, NULL, NULL)) < 0)
            continue;
        while (got < sizeof req - 1) {          /* up to the end of the request's headers */
            ssize_t n = read(conn, req + got, sizeof req - 1 - got);
            if (n <= 0)
                break;
            got += (size_t)n;
            req[got] = '\0';
            if (strstr(req, "\r\n\r\n"))
                break;
        }
        snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\n\r\n", strlen(c->body));
        if (write(conn, head, strlen(head)) < 0 || write(conn, c->body, strlen(c->body)) < 0)
            (void)0;
        close(conn);
    }
    return NULL;
}

static void canned_start(canned_t *c, const char *body)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;

    memset(c, 0, sizeof *c);
    c->body = body;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_ge(c->fd = socket(AF_INET, SOCK_STREAM, 0), 0);
    ck_assert_int_eq(bind(c->fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(c->fd, 16), 0);
    ck_assert_int_eq(getsockname(c->fd, (struct sockaddr *)&a, &len), 0);
    snprintf(c->url, sizeof c->url, "http://127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
    ck_assert_int_eq(pthread_create(&c->thread, NULL, canned_run, c), 0);
}

static void canned_stop(canned_t *c)
{
    atomic_store(&c->stop, 1);
    pthread_join(c->thread, NULL);
    close(c->fd);
}

/* hf_hub_repo_info against a server whose answer is `body`: the settled future. */
static hf_future_t *info_from(const char *body)
{
    canned_t c;
    hf_hub_config_t cfg;
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, NULL };
    hf_hub_t *h;
    hf_future_t *f;

    canned_start(&c, body);
    memset(&cfg, 0, sizeof cfg);
    cfg.max_retries = 1;
    h = tu_hub_at(rt, c.url, cache, "", &cfg);
    f = hf_hub_repo_info(h, &ref);
    ck_assert_ptr_nonnull(f);
    tu_settle(f);
    hf_hub_free(h);
    canned_stop(&c);
    return f;
}

#define SHA "0123456789abcdef0123456789abcdef01234567"

START_TEST(repo_info_with_terminal_escapes_in_its_id_is_refused)
{
    hf_future_t *f;

    /* hf-fetch info prints the id: an escape in it would reach the terminal */
    f = info_from("{\"id\": \"org/\\u001b]0;pwned\\u0007model\", \"sha\": \"" SHA "\", "
                  "\"siblings\": []}");
    ck_assert_msg(code_of(f) == HF_EPROTO, "state %d: id %s", hf_future_state(f),
                  hf_future_state(f) == HF_FUTURE_FULFILLED
                      ? ((const hf_repo_info_t *)hf_future_value(f))->id : message_of(f));
    hf_future_release(f);

    /* what was right stays right: a plain id, and a sha that is not a string */
    f = info_from("{\"id\": \"org/model\", \"sha\": \"" SHA "\", \"siblings\": "
                  "[{\"rfilename\": \"config.json\", \"size\": 3}]}");
    ck_assert_msg(code_of(f) == 0, "%s", message_of(f));
    ck_assert_str_eq(((const hf_repo_info_t *)hf_future_value(f))->id, "org/model");
    ck_assert_uint_eq(((const hf_repo_info_t *)hf_future_value(f))->nfiles, 1);
    hf_future_release(f);
    f = info_from("{\"id\": \"org/model\", \"sha\": 12, \"siblings\": []}");
    ck_assert_int_eq(code_of(f), HF_EPROTO);
    hf_future_release(f);
}
END_TEST

START_TEST(a_size_no_file_can_have_is_a_protocol_error)
{
    hf_hub_t *h = hub_with(TOKEN);
    hf_future_t *f;
    static const char *const sizes[] = { "18446744073709551615", "9223372036854775808" };

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        tu_mock_reset(&mock);
        fault("{\"path\": \"/org/model/resolve/main/big.bin\", \"port\": \"hub\", "
              "\"method\": \"HEAD\", \"headers\": {\"X-Linked-Size\": \"%s\"}}", sizes[i]);
        f = dl(h, "org/model", "big.bin", 1);
        ck_assert_msg(code_of(f) == HF_EPROTO, "%s: %d %s", sizes[i], code_of(f), message_of(f));
        ck_assert_int_eq(tu_mock_count(&mock, "GET", "/big.bin"), 0);
        hf_future_release(f);
    }
    hf_hub_free(h);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("redirect");
    TCase *tc = tcase_create("redirect");
    TCase *host = tcase_create("cdn_host");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, a_cdn_redirect_on_the_body_get_is_followed_to_another_host);
    tcase_add_test(tc, a_relative_cdn_redirect_is_resolved_against_the_cdn_url);
    tcase_add_test(tc, ranged_downloads_follow_a_cdn_redirect);
    tcase_add_test(tc, the_token_follows_a_hub_get_redirect_only_on_the_hub_origin);
    tcase_add_test(tc, a_relative_location_without_a_slash_is_resolved_against_the_request_url);
    tcase_add_test(tc, an_absolute_location_on_the_hubs_origin_is_the_hub);
    tcase_add_test(tc, a_renamed_repo_is_followed_with_relative_and_absolute_locations);
    tcase_add_test(tc, a_metadata_redirect_loop_fails_with_a_clear_error);
    tcase_add_test(tc, a_body_redirect_loop_fails_cleanly_after_ten_hops);
    tcase_add_test(tc, a_location_that_is_not_http_is_refused);
    tcase_add_test(tc, an_api_listing_follows_a_relative_location_without_a_slash);
    tcase_add_test(tc, an_error_message_from_the_server_loses_its_control_characters);
    tcase_add_test(tc, listing_a_files_path_says_it_is_not_a_folder);
    tcase_add_test(tc, repo_info_with_terminal_escapes_in_its_id_is_refused);
    tcase_add_test(tc, a_size_no_file_can_have_is_a_protocol_error);
    suite_add_tcase(s, tc);
    tcase_add_checked_fixture(host, setup_cdn_host, teardown);
    tcase_set_timeout(host, 120);
    tcase_add_test(host, the_cdn_on_another_host_and_port_gets_no_token);
    suite_add_tcase(s, host);
    return s;
}

TU_MAIN(suite)
