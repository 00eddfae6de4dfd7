/*
 * check_download.c - the Hub client against hf-mock-hub on loopback: bytes on disk, links,
 * refs, markers, error codes, retries, resume, ranges, sharing, cancellation, thread roles,
 * and request counts at the server.
 */
#include "common/testutil.h"

#include <limits.h>
#include <unistd.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mockhub.h"
#include "hub/hash.h"

#define TOKEN "hf_test_123"
#define BIG (3u << 20)
#define MODEL_BIN 300000u
#define MANY 1000

static tu_mock_t mock;
static char cache[256];
static hf_runtime_t *rt;

static unsigned char *pattern(size_t n, unsigned seed)
{
    return tu_pattern(n, seed);
}

static void setup_with(const char *mock_args)
{
    unsigned char *bin = pattern(MODEL_BIN, 1), *big = pattern(BIG, 2);
    char name[64];

    tu_mock_root(&mock);
    tu_mock_file(&mock, "model", "org/model", "config.json", "{\"a\": 1}\n", 9);
    tu_mock_file(&mock, "model", "org/model", "sub/nested.txt", "nested\n", 7);
    tu_mock_file(&mock, "model", "org/model", "model.bin", bin, MODEL_BIN);
    tu_mock_file(&mock, "model", "org/model", "big.bin", big, BIG);
    tu_mock_settings(&mock, "model", "org/model",
                     "{\"lfs\": [\"*.bin\"], \"revisions\": {\"refs/pr/1\": {\"title\": \"Fix\"}}}");
    tu_mock_file(&mock, "model", "org/gated", "weights.bin", bin, 1000);
    tu_mock_settings(&mock, "model", "org/gated", "{\"gated\": \"manual\", \"lfs\": [\"*.bin\"], "
                     "\"tokens\": [\"" TOKEN "\"]}");
    tu_mock_file(&mock, "model", "org/private", "a.txt", "secret\n", 7);
    tu_mock_settings(&mock, "model", "org/private", "{\"private\": true, \"tokens\": [\"" TOKEN "\"]}");
    tu_mock_settings(&mock, "model", "oldorg/old-name", "{\"renamed_to\": \"org/model\"}");
    for (int i = 0; i < MANY; i++) {
        int n = snprintf(name, sizeof name, "f%04d.txt", i);
        tu_mock_file(&mock, "model", "org/many", name, name, (size_t)n);
    }
    free(bin);
    free(big);
    tu_mock_start(&mock, mock_args);
    tu_tmpdir(cache, sizeof cache, "dl-cache");
    rt = tu_runtime(2);
}

static void setup(void)
{
    setup_with(NULL);
}

/* The mock refuses a token it does not know, even for a public repo, as huggingface.co. */
static void setup_strict(void)
{
    setup_with("--strict-tokens");
}

static void teardown(void)
{
    hf_runtime_free(rt);
    tu_mock_stop(&mock);
    tu_rm_tree(cache);
}

static hf_hub_t *hub_with(const char *token, hf_hub_config_t *extra)
{
    return tu_hub_at(rt, mock.hub, cache, token ? token : "", extra);
}

static hf_future_t *dl(hf_hub_t *h, const char *repo, const char *rev, const char *path)
{
    hf_file_ref_t ref = { repo, HF_REPO_MODEL, rev, path };
    hf_future_t *f = hf_hub_download(h, &ref, NULL);
    ck_assert_ptr_nonnull(f);
    return f;
}

/* The request log with every space removed, so that it can be searched for
 * "key":value pairs whatever the server's JSON spacing. */
static char *requests(const char *query)
{
    char *log = tu_mock_requests(&mock, query), *o = log;
    for (const char *p = log; *p; p++)
        if (*p != ' ')
            *o++ = *p;
    *o = '\0';
    return log;
}

static void assert_no_roles_but_io(hf_hub_t *h)
{
    hf_hub_stats_t st;
    hf_hub_stats(h, &st);
    ck_assert_uint_gt(st.curl_calls_io, 0);
    ck_assert_uint_eq(st.curl_calls_compute, 0);
    ck_assert_uint_eq(st.curl_calls_other, 0);
}

START_TEST(a_regular_file_lands_as_blob_link_and_ref)
{
    hf_hub_t *h = hub_with(NULL, NULL);
    hf_future_t *f = dl(h, "org/model", NULL, "sub/nested.txt");
    char blob[1300], target[600], ref[600], commit[64];
    struct stat st;
    const char *path;
    ssize_t n;
    int fd;
    mode_t um = umask(022);
    umask(um);

    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    path = hf_future_value(f);
    ck_assert(tu_same_bytes(path, (const unsigned char *)"nested\n", 7));
    n = readlink(path, target, sizeof target - 1);
    ck_assert_int_gt(n, 0);
    target[n] = '\0';
    /* ../../../blobs/<git sha1 of "nested\n"> from snapshots/<commit>/sub/ */
    ck_assert_int_eq(strncmp(target, "../../../blobs/", 15), 0);
    snprintf(blob, sizeof blob, "%s/models--org--model/blobs/%s", cache, target + 15);
    ck_assert_int_eq(stat(blob, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0666 & ~um);
    {
        hfi_hash_t hh;
        char hex[65];
        ck_assert_int_eq(hfi_hash_init(&hh, target + 15, 7), 0);
        hfi_hash_update(&hh, "nested\n", 7);
        hfi_hash_final(&hh, hex);
        ck_assert_str_eq(hex, target + 15);     /* the blob is named by its git sha1 */
    }
    snprintf(ref, sizeof ref, "%s/models--org--model/refs/main", cache);
    fd = open(ref, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    n = read(fd, commit, sizeof commit);
    close(fd);
    ck_assert_int_eq(n, 40);
    commit[40] = '\0';
    ck_assert_ptr_nonnull(strstr(path, commit));
    ck_assert_int_eq(tu_count_files_named(cache, ".incomplete"), 0);
    ck_assert_int_eq(tu_count_files_named(cache, ".tmp"), 0);
    ck_assert_int_eq(tu_mock_count(&mock, "HEAD", "/org/model/resolve/main/sub/nested.txt"), 1);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/org/model/resolve/main/sub/nested.txt"), 1);
    hf_future_release(f);
    /* again: the metadata request, no body */
    f = dl(h, "org/model", NULL, "sub/nested.txt");
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/org/model/resolve/main/sub/nested.txt"), 1);
    hf_future_release(f);
    /* by commit, cached: no request at all */
    tu_mock_reset(&mock);
    f = dl(h, "org/model", commit, "sub/nested.txt");
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(tu_mock_count(&mock, "HEAD", "nested.txt"), 0);
    hf_future_release(f);
    assert_no_roles_but_io(h);
    hf_hub_free(h);
}
END_TEST

START_TEST(an_lfs_file_comes_from_the_cdn_without_the_token)
{
    hf_hub_t *h = hub_with(TOKEN, NULL);
    unsigned char *want = pattern(MODEL_BIN, 1);
    hf_future_t *f = dl(h, "org/model", NULL, "model.bin");
    char *log;

    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert(tu_same_bytes(hf_future_value(f), want, MODEL_BIN));
    ck_assert_int_eq(tu_mock_count(&mock, "HEAD", "/org/model/resolve/main/model.bin"), 1);
    log = requests("port=cdn");
    ck_assert_ptr_nonnull(strstr(log, "\"method\":\"GET\""));
    ck_assert_ptr_null(strstr(log, "\"authorization\":true"));     /* never to the CDN */
    free(log);
    log = requests("port=hub");
    ck_assert_ptr_nonnull(strstr(log, "\"authorization\":true"));  /* but to the Hub */
    ck_assert_ptr_null(strstr(log, TOKEN));
    free(log);
    {
        char target[600];
        ssize_t n = readlink(hf_future_value(f), target, sizeof target - 1);
        target[n] = '\0';
        ck_assert_uint_eq(strlen(target), strlen("../../blobs/") + 64);     /* sha256 name */
    }
    hf_future_release(f);
    free(want);
    hf_hub_free(h);
}
END_TEST

static void expect_error(hf_hub_t *h, const char *repo, const char *rev, const char *path, int code)
{
    hf_future_t *f = dl(h, repo, rev, path);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    ck_assert_msg(hf_future_error(f)->code == code, "%s/%s: got %s (%s), want %s", repo, path,
                  hf_strerror(hf_future_error(f)->code), hf_future_error(f)->message,
                  hf_strerror(code));
    ck_assert_ptr_nonnull(strstr(hf_future_error(f)->message, repo));
    hf_future_release(f);
}

START_TEST(hub_errors_map_to_distinct_codes)
{
    hf_hub_t *anon = hub_with(NULL, NULL), *auth = hub_with(TOKEN, NULL);
    hf_future_t *f;
    char marker[600];

    expect_error(anon, "org/nope", NULL, "x", HF_EREPO_NOT_FOUND);
    expect_error(anon, "org/model", "no-such-branch", "config.json", HF_EREVISION_NOT_FOUND);
    expect_error(anon, "org/model", NULL, "absent.json", HF_EENTRY_NOT_FOUND);
    expect_error(anon, "org/gated", NULL, "weights.bin", HF_EGATED);
    expect_error(anon, "org/private", NULL, "a.txt", HF_EREPO_NOT_FOUND);
    /* EntryNotFound left a .no_exist marker for that commit */
    ck_assert_int_eq(tu_count_files_named(cache, "absent.json"), 1);
    snprintf(marker, sizeof marker, "%s/models--org--model/.no_exist", cache);
    ck_assert_int_eq(tu_count_files_named(marker, "absent.json"), 1);
    /* with the token both open */
    f = dl(auth, "org/gated", NULL, "weights.bin");
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    hf_future_release(f);
    f = dl(auth, "org/private", NULL, "a.txt");
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert(tu_same_bytes(hf_future_value(f), (const unsigned char *)"secret\n", 7));
    hf_future_release(f);
    hf_hub_free(anon);
    hf_hub_free(auth);
}
END_TEST

START_TEST(a_renamed_repo_follows_the_relative_redirect)
{
    hf_hub_t *h = hub_with(NULL, NULL);
    hf_future_t *f = dl(h, "oldorg/old-name", NULL, "config.json");
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert(tu_same_bytes(hf_future_value(f), (const unsigned char *)"{\"a\": 1}\n", 9));
    ck_assert_ptr_nonnull(strstr(hf_future_value(f), "models--oldorg--old-name"));
    hf_future_release(f);
    hf_hub_free(h);
}
END_TEST

START_TEST(pull_request_and_commit_revisions)
{
    hf_hub_t *h = hub_with(NULL, NULL);
    hf_future_t *f = dl(h, "org/model", "refs/pr/1", "config.json"), *g;
    char ref[600], commit[41], *slash;
    FILE *fp;

    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(tu_mock_count(&mock, "HEAD", "/org/model/resolve/refs%2Fpr%2F1/config.json"), 1);
    snprintf(ref, sizeof ref, "%s/models--org--model/refs/refs/pr/1", cache);
    fp = fopen(ref, "r");
    ck_assert_ptr_nonnull(fp);
    ck_assert_int_eq((int)fread(commit, 1, 40, fp), 40);
    fclose(fp);
    commit[40] = '\0';
    slash = strstr(hf_future_value(f), commit);
    ck_assert_ptr_nonnull(slash);
    g = dl(h, "org/model", commit, "config.json");      /* cached: no request */
    ck_assert_int_eq(tu_settle(g), HF_FUTURE_FULFILLED);
    ck_assert_str_eq(hf_future_value(g), hf_future_value(f));
    ck_assert_int_eq(tu_mock_count(&mock, "HEAD", "config.json"), 1);
    hf_future_release(f);
    hf_future_release(g);
    hf_hub_free(h);
}
END_TEST

START_TEST(rate_limited_then_served)
{
    hf_hub_t *h = hub_with(NULL, NULL);
    hf_hub_stats_t st;
    hf_future_t *f;

    tu_mock_fault(&mock, "{\"path\": \"/org/model/resolve/main/config.json\", \"status\": 429, "
                         "\"retry_after\": 0, \"count\": 2}");
    f = dl(h, "org/model", NULL, "config.json");
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(tu_mock_count(&mock, "HEAD", "/org/model/resolve/main/config.json"), 3);
    hf_hub_stats(h, &st);
    ck_assert_uint_eq(st.retries, 2);
    hf_future_release(f);
    hf_hub_free(h);
}
END_TEST

/* huggingface_hub (file_download.py, _get_metadata_or_catch_error and
 * _hf_hub_download_to_cache_dir) answers from the cache when the HEAD fails: a 5xx, a
 * proxy's 4xx without X-Error-Code, or an answer without X-Repo-Commit (a proxy or a
 * captive portal) give back the cached file. RevisionNotFound is an error (hfasync also
 * reports RepoNotFound, GatedRepo and 401/403, where huggingface_hub serves the cache); a
 * forced download never falls back, and a metadata request (get_hf_file_metadata) has no
 * cache to fall back on. */
static void expect_cached(hf_hub_t *h, const char *fault, const char *want)
{
    hf_future_t *f;
    tu_mock_fault(&mock, fault);
    f = dl(h, "org/model", NULL, "config.json");
    ck_assert_msg(tu_settle(f) == HF_FUTURE_FULFILLED, "%s: %s", fault,
                  hf_future_state(f) == HF_FUTURE_REJECTED ? hf_future_error(f)->message : "?");
    ck_assert_str_eq(hf_future_value(f), want);
    hf_future_release(f);
}

START_TEST(a_cached_file_is_served_when_the_head_fails_but_not_for_a_missing_revision)
{
    hf_hub_t *h = hub_with(NULL, NULL);
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "config.json" };
    hf_download_opts_t force;
    hf_future_t *f;
    char *path;

#define HEAD_FAULT(rest) "{\"path\": \"/org/model/resolve/main/config.json\", \"method\": \"HEAD\", " \
                         "\"count\": 1, " rest "}"
    f = dl(h, "org/model", NULL, "config.json");
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    path = strdup(hf_future_value(f));
    hf_future_release(f);

    expect_cached(h, HEAD_FAULT("\"status\": 200"), path);     /* no X-Repo-Commit */
    expect_cached(h, HEAD_FAULT("\"status\": 404"), path);     /* not the Hub's: no code */
    expect_cached(h, HEAD_FAULT("\"status\": 400"), path);
    expect_cached(h, HEAD_FAULT("\"status\": 501"), path);

    /* the Hub refuses the repo or the token: reported, cached or not */
    tu_mock_fault(&mock, HEAD_FAULT("\"status\": 401, \"message\": \"Invalid credentials in "
                                    "Authorization header\""));
    f = dl(h, "org/model", NULL, "config.json");
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_EAUTH);
    hf_future_release(f);

    /* the revision is gone: an error, whatever the cache holds */
    tu_mock_fault(&mock, HEAD_FAULT("\"status\": 404, \"error_code\": \"RevisionNotFound\""));
    f = dl(h, "org/model", NULL, "config.json");
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_EREVISION_NOT_FOUND);
    hf_future_release(f);

    /* forced: never the cached copy */
    memset(&force, 0, sizeof force);
    force.force = 1;
    tu_mock_fault(&mock, HEAD_FAULT("\"status\": 401, \"error_code\": \"RepoNotFound\""));
    f = hf_hub_download(h, &ref, &force);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_EREPO_NOT_FOUND);
    hf_future_release(f);

    /* metadata: the error, never a cached path in place of the metadata */
    tu_mock_fault(&mock, "{\"path\": \"/org/model/resolve/main/config.json\", \"method\": \"HEAD\", "
                         "\"close\": true, \"count\": 10}");
    f = hf_hub_file_metadata(h, &ref);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_ENETWORK);
    hf_future_release(f);
#undef HEAD_FAULT
    free(path);
    hf_hub_free(h);
}
END_TEST

START_TEST(a_stale_token_is_hf_eauth_naming_the_cause_even_when_the_file_is_cached)
{
    hf_hub_t *anon = hub_with(NULL, NULL), *stale = hub_with("hf_stale_token", NULL);
    hf_hub_t *good = hub_with(TOKEN, NULL);
    hf_future_t *f;

    f = dl(stale, "org/model", NULL, "config.json");             /* nothing cached */
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_EAUTH);
    ck_assert_msg(strstr(hf_future_error(f)->message, "Invalid credentials") != NULL, "%s",
                  hf_future_error(f)->message);
    hf_future_release(f);
    f = dl(anon, "org/model", NULL, "config.json");              /* no token: fine */
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    hf_future_release(f);
    f = dl(good, "org/gated", NULL, "weights.bin");              /* a token it knows */
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    hf_future_release(f);
    /* cached now, and still the Hub's refusal is the answer (hub.h: use offline mode) */
    f = dl(stale, "org/model", NULL, "config.json");
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_EAUTH);
    hf_future_release(f);
    hf_hub_free(anon);
    hf_hub_free(stale);
    hf_hub_free(good);
}
END_TEST

START_TEST(a_connection_reset_mid_body_resumes_with_range)
{
    hf_hub_t *h = hub_with(NULL, NULL);
    unsigned char *want = pattern(MODEL_BIN, 1);
    hf_future_t *f;
    char *log;

    tu_mock_fault(&mock, "{\"path\": \"*/model.bin\", \"port\": \"cdn\", \"method\": \"GET\", "
                         "\"reset_after\": 100000, \"count\": 1}");
    f = dl(h, "org/model", NULL, "model.bin");
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert(tu_same_bytes(hf_future_value(f), want, MODEL_BIN));
    log = requests("port=cdn");
    ck_assert_ptr_nonnull(strstr(log, "bytes=100000-"));     /* resumed where it stopped */
    free(log);
    ck_assert_int_eq(tu_count_files_named(cache, ".incomplete"), 0);
    hf_future_release(f);
    free(want);
    hf_hub_free(h);
}
END_TEST

START_TEST(a_stalled_server_times_out)
{
    hf_hub_config_t cfg;
    hf_hub_t *h;
    hf_future_t *f;

    tu_use_poller(_i);
    memset(&cfg, 0, sizeof cfg);
    cfg.etag_timeout_ms = 300;
    cfg.max_retries = 1;
    h = hub_with(NULL, &cfg);
    tu_mock_fault(&mock, "{\"path\": \"/org/model/resolve/main/config.json\", \"stall_ms\": 3000}");
    f = dl(h, "org/model", NULL, "config.json");
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_ETIMEDOUT);
    hf_future_release(f);
    hf_hub_free(h);
}
END_TEST

START_TEST(a_flipped_byte_is_ecorrupt_and_nothing_is_committed)
{
    hf_hub_t *h = hub_with(NULL, NULL);
    hf_future_t *f;
    char blobs[600];

    tu_mock_fault(&mock, "{\"path\": \"*/model.bin\", \"port\": \"cdn\", \"flip_offset\": 1234}");
    f = dl(h, "org/model", NULL, "model.bin");
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_ECORRUPT);
    snprintf(blobs, sizeof blobs, "%s/models--org--model/blobs", cache);
    ck_assert_int_eq(tu_count_files_named(blobs, ""), 0);      /* no blob, no partial */
    snprintf(blobs, sizeof blobs, "%s/models--org--model/snapshots", cache);
    ck_assert_int_eq(tu_count_files_named(blobs, "model.bin"), 0);
    hf_future_release(f);
    hf_hub_free(h);
}
END_TEST

START_TEST(a_large_file_arrives_as_parallel_ranges)
{
    hf_hub_config_t cfg;
    hf_hub_t *h;
    unsigned char *want = pattern(BIG, 2);
    hf_future_t *f;

    memset(&cfg, 0, sizeof cfg);
    cfg.parallel_threshold = 1u << 20;
    cfg.conns_per_file = 4;
    h = hub_with(NULL, &cfg);
    f = dl(h, "org/model", NULL, "big.bin");
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert(tu_same_bytes(hf_future_value(f), want, BIG));
    ck_assert_int_ge(tu_mock_count(&mock, "GET", "/big.bin"), 2);
    ck_assert_int_eq(tu_count_files_named(cache, ".incomplete"), 0);
    hf_future_release(f);
    free(want);
    hf_hub_free(h);
}
END_TEST

/* fsync_blobs changes nothing but durability; and a blob left short (as a power cut without
 * that fsync may leave it) is noticed by its size and fetched again. */
START_TEST(a_blob_cut_short_on_disk_is_fetched_again)
{
    hf_hub_config_t cfg;
    hf_hub_t *h;
    unsigned char *want = pattern(BIG, 2);
    hf_future_t *f;
    char blob[PATH_MAX];
    long gets;

    memset(&cfg, 0, sizeof cfg);
    cfg.parallel_threshold = 1u << 20;
    cfg.fsync_blobs = HF_YES;
    h = hub_with(NULL, &cfg);
    f = dl(h, "org/model", NULL, "big.bin");
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert(tu_same_bytes(hf_future_value(f), want, BIG));
    ck_assert_ptr_nonnull(realpath(hf_future_value(f), blob));   /* blobs/<sha256> */
    ck_assert_ptr_nonnull(strstr(blob, "/blobs/"));
    hf_future_release(f);
    hf_hub_free(h);

    ck_assert_int_eq(truncate(blob, BIG / 3), 0);
    gets = tu_mock_count(&mock, "GET", "/big.bin");
    h = hub_with(NULL, NULL);
    f = dl(h, "org/model", NULL, "big.bin");
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert(tu_same_bytes(hf_future_value(f), want, BIG));
    ck_assert_int_gt(tu_mock_count(&mock, "GET", "/big.bin"), gets);
    ck_assert_int_eq(tu_count_files_named(cache, ".incomplete"), 0);
    hf_future_release(f);
    free(want);
    hf_hub_free(h);
}
END_TEST

/* A hub that fetches files of 1 MiB and more (big.bin) as ranges over 2 connections. */
static hf_hub_t *ranged_hub(void)
{
    hf_hub_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.parallel_threshold = 1u << 20;
    cfg.conns_per_file = 2;
    return hub_with(NULL, &cfg);
}

/* big.bin downloaded again even if cached (force). */
static hf_future_t *forced(hf_hub_t *h)
{
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "big.bin" };
    hf_download_opts_t o;
    hf_future_t *f;
    memset(&o, 0, sizeof o);
    o.force = 1;
    f = hf_hub_download(h, &ref, &o);
    ck_assert_ptr_nonnull(f);
    return f;
}

/* Download big.bin over ranges into the cache once and give its blob path. */
static hf_hub_t *ranged_hub_and_blob(char blob[PATH_MAX])
{
    hf_hub_t *h = ranged_hub();
    hf_future_t *f = dl(h, "org/model", NULL, "big.bin");

    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_ptr_nonnull(realpath(hf_future_value(f), blob));
    hf_future_release(f);
    return h;
}

static void write_prefix(const char *path, const unsigned char *data, size_t n, size_t total)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    if (total > n)      /* the rest as a killed ranged run leaves it: holes, here zeros */
        ck_assert_int_eq(ftruncate(fileno(f), (off_t)total), 0);
    fclose(f);
}

/* Ranged downloads end through the hasher racing the last range's bookkeeping: repeat
 * them (forced, so each one downloads) so that a use after free shows under ASan. */
START_TEST(repeated_ranged_downloads_settle_cleanly)
{
    hf_hub_t *h = ranged_hub();
    unsigned char *want = pattern(BIG, 2);

    for (int i = 0; i < 20; i++) {
        hf_future_t *f = forced(h);
        ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
        ck_assert(tu_same_bytes(hf_future_value(f), want, BIG));
        hf_future_release(f);
    }
    ck_assert_int_eq(tu_count_files_named(cache, ".incomplete"), 0);
    free(want);
    hf_hub_free(h);
}
END_TEST

/* The lowest first byte of any ranged request for big.bin in the mock's log since its last
 * reset, or -1 if there was none. */
static long long lowest_range_start(void)
{
    char *log = requests(NULL);
    long long low = -1;
    for (const char *p = log; (p = strstr(p, "\"range\":\"bytes=")) != NULL; p++) {
        long long from = atoll(p + strlen("\"range\":\"bytes="));
        if (low < 0 || from < low)
            low = from;
    }
    free(log);
    return low;
}

START_TEST(a_killed_ranged_download_resumes_from_its_recorded_prefix)
{
    unsigned char *want = pattern(BIG, 2);
    char blob[PATH_MAX], ranged[PATH_MAX + 32], done[PATH_MAX + 40];
    hf_hub_t *h = ranged_hub_and_blob(blob);
    hf_future_t *f;
    FILE *d;

    snprintf(ranged, sizeof ranged, "%s.incomplete.ranged", blob);
    snprintf(done, sizeof done, "%s.done", ranged);
    write_prefix(ranged, want, BIG / 2, BIG);
    ck_assert_ptr_nonnull(d = fopen(done, "w"));
    fprintf(d, "%u\n", BIG / 2);
    fclose(d);
    tu_mock_reset(&mock);
    f = forced(h);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert(tu_same_bytes(hf_future_value(f), want, BIG));
    ck_assert_int_ge(lowest_range_start(), BIG / 2);      /* the first half was not fetched */
    ck_assert_int_ne(access(ranged, F_OK), 0);
    ck_assert_int_ne(access(done, F_OK), 0);
    ck_assert_int_eq(tu_count_files_named(cache, ".incomplete"), 0);
    hf_future_release(f);
    free(want);
    hf_hub_free(h);
}
END_TEST

/* An .incomplete prefix (an official client's, or a single-stream run's) is resumed by a
 * ranged download too; and a ranged download never leaves a full-size .incomplete file
 * with holes for an official client to take as finished. */
START_TEST(an_incomplete_prefix_is_resumed_over_ranges)
{
    unsigned char *want = pattern(BIG, 2);
    char blob[PATH_MAX], partial[PATH_MAX + 16];
    hf_hub_t *h = ranged_hub_and_blob(blob);
    hf_future_t *f;

    snprintf(partial, sizeof partial, "%s.incomplete", blob);
    write_prefix(partial, want, BIG / 3, 0);
    tu_mock_reset(&mock);
    f = forced(h);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert(tu_same_bytes(hf_future_value(f), want, BIG));
    ck_assert_int_ge(lowest_range_start(), BIG / 3);
    ck_assert_int_eq(tu_count_files_named(cache, ".incomplete"), 0);
    ck_assert_int_eq(tu_count_files_named(cache, ".ranged"), 0);
    hf_future_release(f);
    free(want);
    hf_hub_free(h);
}
END_TEST

START_TEST(a_partial_file_from_a_killed_run_is_resumed)
{
    hf_hub_t *h = hub_with(NULL, NULL);
    unsigned char *want = pattern(MODEL_BIN, 1);
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "model.bin" };
    hf_future_t *mf = hf_hub_file_metadata(h, &ref), *f;
    char partial[600], *log;
    FILE *fp;

    ck_assert_int_eq(tu_settle(mf), HF_FUTURE_FULFILLED);
    snprintf(partial, sizeof partial, "%s/models--org--model/blobs/%s.incomplete", cache,
             ((hf_file_metadata_t *)hf_future_value(mf))->etag);
    {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s/models--org--model/blobs'", cache);
        ck_assert_int_eq(system(cmd), 0);
    }
    fp = fopen(partial, "wb");
    fwrite(want, 1, 123456, fp);
    fclose(fp);
    f = dl(h, "org/model", NULL, "model.bin");
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert(tu_same_bytes(hf_future_value(f), want, MODEL_BIN));
    log = requests("port=cdn");
    ck_assert_ptr_nonnull(strstr(log, "bytes=123456-"));
    free(log);
    ck_assert_int_ne(access(partial, F_OK), 0);
    hf_future_release(f);
    hf_future_release(mf);
    free(want);
    hf_hub_free(h);
}
END_TEST

START_TEST(a_server_ignoring_range_restarts_from_zero)
{
    hf_hub_t *h = hub_with(NULL, NULL);
    unsigned char *want = pattern(MODEL_BIN, 1);
    hf_future_t *f;

    tu_mock_fault(&mock, "{\"path\": \"*/model.bin\", \"port\": \"cdn\", \"method\": \"GET\", "
                         "\"reset_after\": 50000, \"count\": 1}");
    tu_mock_fault(&mock, "{\"path\": \"*/model.bin\", \"port\": \"cdn\", \"ignore_range\": true}");
    f = dl(h, "org/model", NULL, "model.bin");
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert(tu_same_bytes(hf_future_value(f), want, MODEL_BIN));
    hf_future_release(f);
    free(want);
    hf_hub_free(h);
}
END_TEST

START_TEST(two_requests_for_one_blob_make_one_get)
{
    hf_hub_t *h = hub_with(NULL, NULL);
    hf_future_t *a, *b;
    hf_hub_stats_t st;

    tu_mock_fault(&mock, "{\"path\": \"*/model.bin\", \"port\": \"cdn\", \"throttle_bps\": 2000000}");
    a = dl(h, "org/model", NULL, "model.bin");
    b = dl(h, "org/model", NULL, "model.bin");
    ck_assert_int_eq(tu_settle(a), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(tu_settle(b), HF_FUTURE_FULFILLED);
    ck_assert_str_eq(hf_future_value(a), hf_future_value(b));
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/model.bin"), 1);
    hf_hub_stats(h, &st);
    ck_assert_uint_eq(st.downloads_shared, 1);
    ck_assert_uint_eq(st.blobs_committed, 1);
    hf_future_release(a);
    hf_future_release(b);
    hf_hub_free(h);
}
END_TEST

static atomic_ullong seen_bytes;

static void note_progress(const hf_progress_t *p, void *arg)
{
    (void)arg;
    atomic_store(&seen_bytes, p->file_done);
}

START_TEST(cancelling_a_download_aborts_it_and_removes_its_partial_file)
{
    hf_hub_t *h;
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "big.bin" };
    hf_download_opts_t o;
    hf_future_t *f;

    tu_use_poller(_i);
    h = hub_with(NULL, NULL);
    memset(&o, 0, sizeof o);
    o.progress = note_progress;
    seen_bytes = 0;
    tu_mock_fault(&mock, "{\"path\": \"*/big.bin\", \"port\": \"cdn\", \"throttle_bps\": 200000}");
    f = hf_hub_download(h, &ref, &o);
    TU_EVENTUALLY(atomic_load(&seen_bytes) > 0);
    ck_assert_int_eq(hf_future_cancel(f), 0);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_CANCELLED);
    TU_EVENTUALLY(tu_count_files_named(cache, ".incomplete") == 0);
    {
        hf_hub_stats_t st;
        TU_EVENTUALLY(hf_hub_stats(h, &st) == 0 && st.transfers_active == 0);
        ck_assert_uint_lt(st.bytes_received, BIG);
    }
    ck_assert_int_eq(tu_count_files_named(cache, "big.bin"), 0);
    hf_future_release(f);
    hf_hub_free(h);
}
END_TEST

static void *blocking_from_worker(void *arg, hf_error_t *err)
{
    hf_hub_t *h = arg;
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "config.json" };
    char *path = NULL;
    int rc = hf_hub_download_blocking(h, &ref, NULL, &path, err);
    if (rc < 0)
        return NULL;
    if (hf_current_worker() < 0) {      /* it must have run on a compute worker */
        free(path);
        hf_error_set(err, HF_ESTATE, 0, "not on a worker");
        return NULL;
    }
    return path;
}

START_TEST(the_blocking_shim_works_inside_a_compute_worker)
{
    hf_hub_t *h = hub_with(NULL, NULL);
    hf_future_t *f = hf_async_owned(hf_runtime_compute(rt), blocking_from_worker, h, free);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert(tu_same_bytes(hf_future_value(f), (const unsigned char *)"{\"a\": 1}\n", 9));
    assert_no_roles_but_io(h);
    hf_future_release(f);
    hf_hub_free(h);
}
END_TEST

START_TEST(a_thousand_concurrent_downloads_on_four_io_threads)
{
    hf_runtime_config_t rcfg = { 2, 4, 0, 0 };
    hf_runtime_t *small = hf_runtime_new(&rcfg);
    hf_hub_config_t cfg;
    hf_hub_t *h;
    hf_future_t **fs = calloc(MANY, sizeof *fs), *all;
    hf_hub_stats_t st;
    hf_runtime_stats_t rs;
    struct rlimit rl;

    tu_use_poller(_i);
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    ck_assert_uint_ge(rl.rlim_cur, 2 * MANY + 64);
    memset(&cfg, 0, sizeof cfg);
    cfg.endpoint = mock.hub;
    cfg.cache_dir = cache;
    cfg.token = "";
    cfg.offline = HF_NO;
    cfg.conns_total = 2 * MANY;
    cfg.etag_timeout_ms = 60000;
    cfg.download_timeout_ms = 60000;
    h = hf_hub_new(small, &cfg, NULL);
    ck_assert_ptr_nonnull(h);
    /* Every HEAD is held 3 s or more by the server, so all 1,000 are in flight at once;
     * the holds end in ten waves of 100 (a Python server woken 1,000 times in the same
     * instant spends its time fighting over the GIL). */
    for (int g = 0; g < 10; g++) {
        char fault[200];
        snprintf(fault, sizeof fault, "{\"path\": \"/org/many/resolve/main/f0%d??.txt\", "
                 "\"method\": \"HEAD\", \"stall_ms\": %d}", g, 3000 + 300 * g);
        tu_mock_fault(&mock, fault);
    }
    for (int i = 0; i < MANY; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%04d.txt", i);
        fs[i] = dl(h, "org/many", NULL, name);
    }
    all = hf_future_all(fs, MANY);
    ck_assert_int_eq(tu_settle(all), HF_FUTURE_FULFILLED);
    for (int i = 0; i < MANY; i++) {
        char name[32];
        int n = snprintf(name, sizeof name, "f%04d.txt", i);
        ck_assert(tu_same_bytes(hf_future_value(fs[i]), (const unsigned char *)name, (size_t)n));
        hf_future_release(fs[i]);
    }
    hf_hub_stats(h, &st);
    hf_runtime_stats(small, &rs);
    ck_assert_uint_ge(st.transfers_peak, MANY);
    /* the cap of 4 for the I/O tasks, and the hub's two transfer loops, which do not
     * count toward it (runtime.h): 1,000 transfers, not a thread each */
    ck_assert_uint_le(rs.io_threads_peak, 4 + 2);
    ck_assert_uint_eq(st.curl_calls_compute, 0);
    ck_assert_uint_eq(st.curl_calls_other, 0);
    hf_future_release(all);
    free(fs);
    hf_hub_free(h);
    hf_runtime_free(small);
}
END_TEST

START_TEST(listing_follows_pages_and_snapshots_filter_with_globs)
{
    hf_hub_t *h = hub_with(NULL, NULL);
    hf_file_ref_t ref = { "org/many", HF_REPO_MODEL, NULL, NULL };
    hf_future_t *l = hf_hub_list_files(h, &ref), *s;
    const char *inc[] = { "f00[0-1]?.txt" };
    hf_snapshot_opts_t so;
    const hf_file_list_t *fl;

    ck_assert_int_eq(tu_settle(l), HF_FUTURE_FULFILLED);
    fl = hf_future_value(l);
    ck_assert_uint_eq(fl->n, MANY);
    ck_assert_str_eq(fl->files[0].path, "f0000.txt");
    ck_assert_str_eq(fl->files[MANY - 1].path, "f0999.txt");
    ck_assert_int_ge(tu_mock_count(&mock, "GET", "/api/models/org/many/tree/main"), MANY / 50);
    memset(&so, 0, sizeof so);
    so.include = inc;
    so.ninclude = 1;
    s = hf_hub_snapshot(h, &ref, &so);
    ck_assert_int_eq(tu_settle(s), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(tu_count_files_named(hf_future_value(s), ".txt"), 20);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", ".txt"), 20);
    hf_future_release(l);
    hf_future_release(s);
    hf_hub_free(h);
}
END_TEST

/* hub.h: hf_hub_file_metadata writes nothing to the cache, as huggingface_hub's
 * get_hf_file_metadata (only hf_hub_download records a .no_exist marker and the ref). */
START_TEST(a_metadata_request_for_a_missing_file_writes_nothing)
{
    hf_hub_t *h = hub_with(NULL, NULL);
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "absent.json" };
    hf_future_t *f = hf_hub_file_metadata(h, &ref);

    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_EENTRY_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(hf_future_error(f)->message, "org/model/absent.json"));
    ck_assert_int_eq(tu_count_files_named(cache, ""), 0);      /* no marker, no ref */
    hf_future_release(f);
    hf_hub_free(h);
}
END_TEST

static Suite *download_suite(void)
{
    Suite *s = suite_create("download");
    TCase *tc = tcase_create("mock");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_regular_file_lands_as_blob_link_and_ref);
    tcase_add_test(tc, an_lfs_file_comes_from_the_cdn_without_the_token);
    tcase_add_test(tc, hub_errors_map_to_distinct_codes);
    tcase_add_test(tc, a_metadata_request_for_a_missing_file_writes_nothing);
    tcase_add_test(tc, a_renamed_repo_follows_the_relative_redirect);
    tcase_add_test(tc, pull_request_and_commit_revisions);
    tcase_add_test(tc, rate_limited_then_served);
    tcase_add_test(tc, a_cached_file_is_served_when_the_head_fails_but_not_for_a_missing_revision);
    tcase_add_test(tc, a_connection_reset_mid_body_resumes_with_range);
    tcase_add_loop_test(tc, a_stalled_server_times_out, 0, TU_POLLERS);
    tcase_add_test(tc, a_flipped_byte_is_ecorrupt_and_nothing_is_committed);
    tcase_add_test(tc, a_large_file_arrives_as_parallel_ranges);
    tcase_add_test(tc, a_blob_cut_short_on_disk_is_fetched_again);
    tcase_add_test(tc, repeated_ranged_downloads_settle_cleanly);
    tcase_add_test(tc, a_killed_ranged_download_resumes_from_its_recorded_prefix);
    tcase_add_test(tc, an_incomplete_prefix_is_resumed_over_ranges);
    tcase_add_test(tc, a_partial_file_from_a_killed_run_is_resumed);
    tcase_add_test(tc, a_server_ignoring_range_restarts_from_zero);
    tcase_add_test(tc, two_requests_for_one_blob_make_one_get);
    tcase_add_loop_test(tc, cancelling_a_download_aborts_it_and_removes_its_partial_file, 0,
                        TU_POLLERS);
    tcase_add_test(tc, the_blocking_shim_works_inside_a_compute_worker);
    tcase_add_test(tc, listing_follows_pages_and_snapshots_filter_with_globs);
    suite_add_tcase(s, tc);
    tc = tcase_create("strict");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup_strict, teardown);
    tcase_add_test(tc, a_stale_token_is_hf_eauth_naming_the_cause_even_when_the_file_is_cached);
    suite_add_tcase(s, tc);
    tc = tcase_create("many");
    tcase_set_timeout(tc, 180);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, a_thousand_concurrent_downloads_on_four_io_threads, 0, TU_POLLERS);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(download_suite)
