/*
 * check_faults.c - the fault matrix: many downloads, each with one fault injected at the
 * mock Hub, drawn from a fixed seed; every download must end with a blob whose hash matches
 * or with a clear error, and the cache must hold nothing corrupt or stray afterwards.
 *
 * Design notes
 *  - each trial has its own file (LFS, served from the CDN port, or not), so faults are set
 *    per path and a batch of trials runs at once on one hub;
 *  - faults that need a ranged request (a wrong Content-Range, a 200 to a Range) start
 *    from a partial file left as a killed run would leave it; a third of the others too;
 *  - timeouts and backoff are lowered so that a stall or a retry costs milliseconds, but
 *    nothing asserts on time: a result is its bytes on disk, its error code, the audit.
 */
#include "common/testutil.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "common/mockhub.h"
#include "reliability/relutil.h"

#define REPO "org/faults"
#define BATCH 20

enum { F_RESET, F_STALL, F_5XX, F_429, F_FLIP, F_SHORT, F_CRANGE, F_RANGE200, F_KINDS };
static const char *const kind_name[F_KINDS] = { "reset", "stall", "5xx", "429", "flip",
                                                "short", "content-range", "200-to-range" };

typedef struct trial {
    char name[32];
    int lfs, kind;
    size_t size, prefix;
    unsigned char *data;
    char etag[65];
    int code;                   /* 0: completed */
} trial_t;

static tu_mock_t mock;
static char *cache;
static trial_t *trials;
static unsigned ntrials;

static const unsigned char *content_of(const char *etag, size_t *n, void *arg)
{
    (void)arg;
    for (unsigned i = 0; i < ntrials; i++) {
        if (strcmp(trials[i].etag, etag) == 0) {
            *n = trials[i].size;
            return trials[i].data;
        }
    }
    return NULL;
}

static void plan(uint32_t seed)
{
    uint32_t r = seed;
    tu_mock_root(&mock);
    trials = calloc(ntrials, sizeof *trials);
    ck_assert_ptr_nonnull(trials);
    for (unsigned i = 0; i < ntrials; i++) {
        trial_t *t = &trials[i];
        t->kind = (int)(rel_rand(&r) % F_KINDS);
        t->lfs = (int)(rel_rand(&r) & 1);
        t->size = 2048 + rel_rand(&r) % (160u << 10);
        snprintf(t->name, sizeof t->name, "t%03u.%s", i, t->lfs ? "lfs" : "txt");
        t->data = rel_pattern(t->size, seed + i);
        rel_etag(t->data, t->size, t->lfs, t->etag);
        if (t->kind == F_CRANGE || t->kind == F_RANGE200 || rel_rand(&r) % 3 == 0)
            t->prefix = 1 + rel_rand(&r) % (t->size - 1);
        tu_mock_file(&mock, "model", REPO, t->name, t->data, t->size);
    }
    tu_mock_settings(&mock, "model", REPO, "{\"lfs\": [\"*.lfs\"]}");
}

/* The fault JSON for trial `t` (offsets drawn from `r`). */
static void fault_for(const trial_t *t, uint32_t *r, char *out, size_t n)
{
    size_t left = t->size - t->prefix, at = rel_rand(r) % left;
    char what[160];
    static const int s5xx[] = { 500, 502, 503, 504 };

    switch (t->kind) {
    case F_RESET:
        snprintf(what, sizeof what, "\"reset_after\": %zu", at);
        break;
    case F_STALL:
        snprintf(what, sizeof what, "\"stall_ms\": 1500, \"stall_after\": %zu", at);
        break;
    case F_5XX:
        snprintf(what, sizeof what, "\"status\": %d, \"count\": %u", s5xx[rel_rand(r) % 4],
                 1 + rel_rand(r) % 3);
        break;
    case F_429:
        snprintf(what, sizeof what, "\"status\": 429, \"retry_after\": %u", rel_rand(r) % 2);
        break;
    case F_FLIP:
        snprintf(what, sizeof what, "\"flip_offset\": %zu", t->prefix + at);
        break;
    case F_SHORT:
        snprintf(what, sizeof what, "\"short_body\": %zu", at);
        break;
    case F_CRANGE:      /* claims the whole file while the body is the asked-for rest */
        snprintf(what, sizeof what, "\"content_range\": \"bytes 0-%zu/%zu\"", t->size - 1,
                 t->size);
        break;
    default:
        snprintf(what, sizeof what, "\"ignore_range\": true");
        break;
    }
    /* "count" given twice is fine: JSON keeps the last one */
    snprintf(out, n, "{\"path\": \"*/%s\", \"method\": \"GET\", \"count\": 1, %s}", t->name, what);
}

static void seed_partial(const trial_t *t)
{
    char path[512];
    if (!t->prefix)
        return;
    snprintf(path, sizeof path, "%s/models--org--faults/blobs/%s.incomplete", cache, t->etag);
    rel_write_file(path, t->data, t->prefix);
}

static int same_content(const char *path, const trial_t *t)
{
    char *s;
    int ok;
    if (rel_file_size(path) != (long long)t->size)
        return 0;
    s = rel_slurp(path);
    ok = memcmp(s, t->data, t->size) == 0;
    free(s);
    return ok;
}

static int clear_code(int code)
{
    switch (code) {
    case HF_ECORRUPT: case HF_EPROTO: case HF_ETIMEDOUT: case HF_ENETWORK: case HF_EIO:
        return 1;
    default:
        return 0;
    }
}

/* Run trials [from, to) at once; fill their codes. */
static void run_batch(hf_hub_t *hub, unsigned from, unsigned to, uint32_t *r)
{
    hf_future_t *fs[BATCH];
    char json[400];

    for (unsigned i = from; i < to; i++) {
        seed_partial(&trials[i]);
        fault_for(&trials[i], r, json, sizeof json);
        tu_mock_fault(&mock, json);
    }
    for (unsigned i = from; i < to; i++) {
        hf_file_ref_t ref = { REPO, HF_REPO_MODEL, NULL, trials[i].name };
        fs[i - from] = hf_hub_download(hub, &ref, NULL);
        ck_assert_ptr_nonnull(fs[i - from]);
    }
    for (unsigned i = from; i < to; i++) {
        hf_future_t *f = fs[i - from];
        trial_t *t = &trials[i];
        hf_future_state_t st = tu_settle(f);        /* every future settles */
        if (st == HF_FUTURE_FULFILLED) {
            ck_assert_msg(same_content(hf_future_value(f), t), "%s: wrong bytes", t->name);
            t->code = 0;
        } else {
            const hf_error_t *e = hf_future_error(f);
            ck_assert_int_eq(st, HF_FUTURE_REJECTED);
            t->code = e->code;
            ck_assert_msg(clear_code(e->code) && e->message[0],
                          "%s (%s): unclear error %d: %s", t->name, kind_name[t->kind], e->code,
                          e->message);
        }
        hf_future_release(f);
    }
    tu_mock_reset(&mock);       /* faults a trial did not use up do not leak into the next */
}

START_TEST(every_faulty_download_ends_verified_or_with_a_clear_error)
{
    uint32_t seed = rel_seed("fault matrix", 20240601u), r;
    hf_runtime_t *rt;
    hf_hub_t *hub;
    hf_hub_config_t cfg;
    hf_error_t e;
    rel_audit_t a;
    unsigned done = 0, by_code[1 - HF_ERR_MIN], by_kind[F_KINDS][2];

    ntrials = rel_trials(40, 200);
    plan(seed);
    r = seed ^ 0x9e3779b9u;
    tu_mock_start(&mock, NULL);
    cache = rel_tmpdir("faults-cache");
    rt = tu_runtime(2);
    memset(&cfg, 0, sizeof cfg);
    cfg.endpoint = mock.hub;
    cfg.cache_dir = cache;
    cfg.token = "";
    cfg.offline = HF_NO;
    cfg.download_timeout_ms = 300;      /* the stall fault sleeps 1500 ms */
    cfg.etag_timeout_ms = 5000;
    cfg.backoff_ms = 5;
    cfg.max_retries = 4;
    hub = hf_hub_new(rt, &cfg, &e);
    ck_assert_msg(hub != NULL, "%s", e.message);

    memset(by_code, 0, sizeof by_code);
    memset(by_kind, 0, sizeof by_kind);
    for (unsigned i = 0; i < ntrials; i += BATCH)
        run_batch(hub, i, i + BATCH < ntrials ? i + BATCH : ntrials, &r);
    for (unsigned i = 0; i < ntrials; i++) {
        trial_t *t = &trials[i];
        done += t->code == 0;
        by_code[-t->code]++;
        by_kind[t->kind][t->code != 0]++;
        /* faults a retry or a restart gets past must be got past */
        if (t->kind != F_FLIP && t->kind != F_CRANGE)
            ck_assert_msg(t->code == 0, "%s (%s, prefix %zu): failed with %d", t->name,
                          kind_name[t->kind], t->prefix, t->code);
    }

    rel_audit(cache, content_of, NULL, &a);
    printf("fault matrix: trials %u, completed %u, failed %u (", ntrials, done, ntrials - done);
    for (int c = 1; c <= -HF_ERR_MIN; c++)
        if (by_code[c])
            printf(" %s %u", hf_strerror(-c), by_code[c]);
    printf(" ), corrupt = %u, resumable partials %u, stray %u\n", a.corrupt, a.partials, a.stray);
    printf("fault matrix by kind (completed/failed):");
    for (int k = 0; k < F_KINDS; k++)
        printf(" %s %u/%u", kind_name[k], by_kind[k][0], by_kind[k][1]);
    printf("\n");
    fflush(stdout);
    ck_assert_uint_eq(a.corrupt, 0);
    ck_assert_uint_eq(a.stray, 0);
    ck_assert_uint_eq(a.bad_partials, 0);
    ck_assert_uint_eq(a.held_locks, 0);
    ck_assert_uint_eq(a.blobs, done);
    ck_assert_uint_eq(a.links, done);

    /* without faults, every failed download completes (from its partial file if kept) */
    for (unsigned i = 0; i < ntrials; i++) {
        hf_file_ref_t ref = { REPO, HF_REPO_MODEL, NULL, trials[i].name };
        char *path = NULL;
        if (trials[i].code == 0)
            continue;
        ck_assert_int_eq(hf_hub_download_blocking(hub, &ref, NULL, &path, &e), 0);
        ck_assert(same_content(path, &trials[i]));
        free(path);
    }
    rel_expect_clean(cache, ntrials, ntrials);

    hf_hub_free(hub);
    hf_runtime_free(rt);
    tu_mock_stop(&mock);
    rel_rmtree(cache);
    free(cache);
    for (unsigned i = 0; i < ntrials; i++)
        free(trials[i].data);
    free(trials);
}
END_TEST


/* ---- single faults at the edges, one download each ----------------------------------- */

#define EDGE_REPO "org/edges"

static tu_mock_t emock;
static char *ecache;
static hf_runtime_t *ert;
static unsigned char *edata;
static size_t esize;

/* A mock serving big.lfs (`size` bytes, LFS: from the CDN port) and small.txt. */
static void edge_start(size_t size)
{
    static const char small[] = "small file\n";
    esize = size;
    edata = rel_pattern(size, 77);
    tu_mock_root(&emock);
    tu_mock_file(&emock, "model", EDGE_REPO, "big.lfs", edata, size);
    tu_mock_file(&emock, "model", EDGE_REPO, "small.txt", small, sizeof small - 1);
    tu_mock_settings(&emock, "model", EDGE_REPO, "{\"lfs\": [\"*.lfs\"]}");
    tu_mock_start(&emock, NULL);
    ecache = rel_tmpdir("edges-cache");
    ert = tu_runtime(2);
}

static void edge_stop(void)
{
    hf_runtime_free(ert);
    tu_mock_stop(&emock);
    rel_rmtree(ecache);
    free(ecache);
    free(edata);
}

/* A hub for the edge tests: 1 MiB ranges from 1 MiB up, `conns` connections (0: two),
 * short waits; servers may ask for waits of up to `max_wait_ms` (0: the default, 60 s). */
static hf_hub_t *edge_hub_with(unsigned max_retries, unsigned max_wait_ms, unsigned conns)
{
    hf_hub_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.download_timeout_ms = 300;
    cfg.etag_timeout_ms = 5000;
    cfg.backoff_ms = 5;
    cfg.max_retries = max_retries;
    cfg.parallel_threshold = 1u << 20;
    cfg.conns_per_file = conns ? conns : 2;
    cfg.max_retry_wait_ms = max_wait_ms;
    return tu_hub_at(ert, emock.hub, ecache, "", &cfg);
}

static hf_hub_t *edge_hub(unsigned max_retries)
{
    return edge_hub_with(max_retries, 0, 0);
}

/* Download `path`; 0 and the bytes checked against edata (big.lfs), or the error code with
 * its message in `msg`. */
static int edge_download(hf_hub_t *hub, const char *path, char *msg, size_t n)
{
    hf_file_ref_t ref = { EDGE_REPO, HF_REPO_MODEL, NULL, path };
    hf_future_t *f = hf_hub_download(hub, &ref, NULL);
    int code = 0;

    msg[0] = '\0';
    if (tu_settle(f) == HF_FUTURE_FULFILLED) {
        if (strcmp(path, "big.lfs") == 0) {
            char *s = rel_slurp(hf_future_value(f));
            ck_assert_int_eq(rel_file_size(hf_future_value(f)), (long long)esize);
            ck_assert_msg(memcmp(s, edata, esize) == 0, "wrong bytes committed");
            free(s);
        }
    } else {
        ck_assert_int_eq(hf_future_state(f), HF_FUTURE_REJECTED);
        code = hf_future_error(f)->code;
        snprintf(msg, n, "%s", hf_future_error(f)->message);
    }
    hf_future_release(f);
    return code;
}

START_TEST(ranged_download_survives_a_200_to_one_range)
{
    hf_hub_t *hub;
    char msg[256];

    edge_start((7u << 19) + 123);       /* 3.5 MiB and a bit: 4 ranges */
    hub = edge_hub(3);
    tu_mock_fault(&emock, "{\"path\": \"*/big.lfs\", \"port\": \"cdn\", \"method\": \"GET\", "
                          "\"skip\": 1, \"count\": 1, \"ignore_range\": true}");
    ck_assert_msg(edge_download(hub, "big.lfs", msg, sizeof msg) == 0, "%s", msg);
    hf_hub_free(hub);
    edge_stop();
}
END_TEST

/* A 3xx whose Location is empty names no target: it fails at the first answer, as one
 * with no Location does, instead of being resolved to the URL asked and followed ten times. */
START_TEST(a_redirect_with_an_empty_location_fails_at_once)
{
    hf_hub_t *hub;
    char msg[256];

    edge_start(300000);
    hub = edge_hub(3);
    tu_mock_fault(&emock, "{\"path\": \"*/big.lfs\", \"port\": \"cdn\", \"method\": \"GET\", "
                          "\"status\": 302, \"headers\": {\"Location\": \"\"}}");
    ck_assert_int_eq(edge_download(hub, "big.lfs", msg, sizeof msg), HF_EPROTO);
    ck_assert_msg(strstr(msg, "empty Location"), "%s", msg);
    ck_assert_int_eq(tu_mock_count(&emock, "GET", "/big.lfs"), 1);
    hf_hub_free(hub);
    edge_stop();
}
END_TEST

/* One range fails for good (a 404) while another waits out an hour's Retry-After: the
 * download fails now, with the 404, and the waiting range is never asked for again. */
START_TEST(a_failed_range_ends_the_others_waiting_to_retry)
{
    hf_hub_t *hub;
    char msg[256];

    edge_start(3u << 20);
    hub = edge_hub_with(3, 7200u * 1000, 0);    /* an hour's wait is within its limit */
    tu_mock_fault(&emock, "{\"path\": \"*/big.lfs\", \"port\": \"cdn\", \"method\": \"GET\", "
                          "\"count\": 1, \"status\": 503, \"retry_after\": 3600}");
    tu_mock_fault(&emock, "{\"path\": \"*/big.lfs\", \"port\": \"cdn\", \"method\": \"GET\", "
                          "\"skip\": 1, \"count\": 1, \"status\": 404}");
    ck_assert_int_eq(edge_download(hub, "big.lfs", msg, sizeof msg), HF_ENOENT);
    ck_assert_msg(strstr(msg, "HTTP 404"), "%s", msg);
    ck_assert_int_eq(tu_mock_count(&emock, "GET", "/big.lfs"), 2);
    hf_hub_free(hub);
    edge_stop();
}
END_TEST

/* ---- the server's wait, and bodies cut short ---------------------------------------------- */

#define HOUR_WAIT "more than the limit of 60 s"

/* A server asking for an hour's wait (Retry-After, or RateLimit t= on a 429) gets no retry:
 * the metadata request, the single stream and the API request each fail at once, with the
 * code a 429 has after its retries and a message naming both waits, after one request. */
START_TEST(a_wait_past_the_limit_fails_at_once_without_a_retry)
{
    hf_hub_t *hub;
    hf_file_ref_t ref = { EDGE_REPO, HF_REPO_MODEL, NULL, NULL };
    hf_future_t *f;
    char msg[256];

    edge_start(300000);                 /* below the threshold: one stream */
    hub = edge_hub(3);

    tu_mock_fault(&emock, "{\"path\": \"*/small.txt\", \"method\": \"HEAD\", \"status\": 429, "
                          "\"retry_after\": 3600}");
    ck_assert_int_eq(edge_download(hub, "small.txt", msg, sizeof msg), HF_ENETWORK);
    ck_assert_msg(strstr(msg, "HTTP 429") && strstr(msg, "retry after 3600 s, " HOUR_WAIT), "%s",
                  msg);
    ck_assert_int_eq(tu_mock_count(&emock, "HEAD", "/small.txt"), 1);

    tu_mock_fault(&emock, "{\"path\": \"*/big.lfs\", \"port\": \"cdn\", \"method\": \"GET\", "
                          "\"status\": 429, \"retry_after\": 3600}");
    ck_assert_int_eq(edge_download(hub, "big.lfs", msg, sizeof msg), HF_ENETWORK);
    ck_assert_msg(strstr(msg, "HTTP 429") && strstr(msg, "retry after 3600 s, " HOUR_WAIT), "%s",
                  msg);
    ck_assert_int_eq(tu_mock_count(&emock, "GET", "/big.lfs"), 1);

    tu_mock_fault(&emock, "{\"path\": \"/api/models/org/edges/revision/main\", \"method\": \"GET\", "
                          "\"status\": 429, \"ratelimit\": \"\\\"api\\\";r=0;t=3600\"}");
    f = hf_hub_repo_info(hub, &ref);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_ENETWORK);
    ck_assert_msg(strstr(hf_future_error(f)->message, "retry after 3600 s, " HOUR_WAIT), "%s",
                  hf_future_error(f)->message);
    ck_assert_int_eq(tu_mock_count(&emock, "GET", "/api/models/org/edges/revision/main"), 1);
    hf_future_release(f);

    hf_hub_free(hub);
    edge_stop();
}
END_TEST

/* The same for a ranged download: its first range asked to wait an hour ends it at once. */
START_TEST(a_range_asked_to_wait_past_the_limit_fails_at_once)
{
    hf_hub_t *hub;
    char msg[256];

    edge_start(2u << 20);               /* two ranges, one after the other */
    hub = edge_hub_with(3, 5000, 1);
    tu_mock_fault(&emock, "{\"path\": \"*/big.lfs\", \"port\": \"cdn\", \"method\": \"GET\", "
                          "\"status\": 503, \"retry_after\": 3600}");
    ck_assert_int_eq(edge_download(hub, "big.lfs", msg, sizeof msg), HF_ENETWORK);
    ck_assert_msg(strstr(msg, "retry after 3600 s, more than the limit of 5 s"), "%s", msg);
    ck_assert_int_eq(tu_mock_count(&emock, "GET", "/big.lfs"), 1);
    hf_hub_free(hub);
    edge_stop();
}
END_TEST

/* A wait within the limit is waited out: the retry comes, and the download completes. */
START_TEST(a_wait_within_the_limit_is_waited_out)
{
    hf_hub_t *hub;
    char msg[256];

    edge_start(300000);
    hub = edge_hub_with(3, 5000, 0);
    tu_mock_fault(&emock, "{\"path\": \"*/big.lfs\", \"port\": \"cdn\", \"method\": \"GET\", "
                          "\"count\": 1, \"status\": 429, \"retry_after\": 1}");
    ck_assert_msg(edge_download(hub, "big.lfs", msg, sizeof msg) == 0, "%s", msg);
    ck_assert_int_eq(tu_mock_count(&emock, "GET", "/big.lfs"), 2);
    hf_hub_free(hub);
    edge_stop();
}
END_TEST

/* Every body cut short after `cut` bytes (`how`: "short_body", a clean end, or
 * "reset_after", a reset): the download still completes, one resumed piece per request,
 * however many more than max_retries + 1 it takes. `gets`: the requests that takes when
 * every piece arrives whole (a reset may lose bytes in flight: then at least that many). */
static void cut_short_completes(size_t size, unsigned conns, const char *how, size_t cut,
                                long gets)
{
    hf_hub_t *hub;
    char msg[256], json[200];
    long n;

    edge_start(size);
    hub = edge_hub_with(2, 0, conns);
    snprintf(json, sizeof json, "{\"path\": \"*/big.lfs\", \"port\": \"cdn\", \"method\": "
             "\"GET\", \"%s\": %zu}", how, cut);
    tu_mock_fault(&emock, json);
    ck_assert_msg(edge_download(hub, "big.lfs", msg, sizeof msg) == 0, "%s", msg);
    n = tu_mock_count(&emock, "GET", "/big.lfs");
    if (strcmp(how, "short_body") == 0)
        ck_assert_int_eq(n, gets);
    else
        ck_assert_int_ge(n, gets);
    rel_expect_clean(ecache, 1, 1);
    hf_hub_free(hub);
    edge_stop();
}

START_TEST(a_stream_cut_short_every_time_still_completes)
{
    cut_short_completes(300000, 0, "short_body", 40000, 8);     /* 7 x 40000, then 20000 */
}
END_TEST

START_TEST(a_stream_reset_every_time_still_completes)
{
    cut_short_completes(300000, 0, "reset_after", 40000, 8);
}
END_TEST

START_TEST(a_range_cut_short_every_time_still_completes)
{
    cut_short_completes(2u << 20, 1, "short_body", 128u << 10, 16);  /* 2 ranges x 8 */
}
END_TEST

/* Bodies that bring nothing before the reset: max_retries + 1 requests, then HF_ENETWORK
 * (ranged: the first range's, which ends the download before the second starts). */
static void nothing_fails_after_the_retries(size_t size)
{
    hf_hub_t *hub;
    char msg[256];

    edge_start(size);
    hub = edge_hub_with(2, 0, 1);
    tu_mock_fault(&emock, "{\"path\": \"*/big.lfs\", \"port\": \"cdn\", \"method\": \"GET\", "
                          "\"reset_after\": 0}");
    ck_assert_int_eq(edge_download(hub, "big.lfs", msg, sizeof msg), HF_ENETWORK);
    ck_assert_int_eq(tu_mock_count(&emock, "GET", "/big.lfs"), 3);
    hf_hub_free(hub);
    edge_stop();
}

START_TEST(a_stream_that_brings_nothing_fails_after_the_retries)
{
    nothing_fails_after_the_retries(300000);
}
END_TEST

START_TEST(a_range_that_brings_nothing_fails_after_the_retries)
{
    nothing_fails_after_the_retries(2u << 20);
}
END_TEST

/* A server sending a few bytes per connection does not keep a download going for as many
 * connections as the file has pieces: 100 x max_retries failures in all end it. */
START_TEST(a_trickle_of_bytes_per_connection_is_bounded)
{
    hf_hub_t *hub;
    char msg[256];

    edge_start(300000);                 /* 300 pieces of 1000 bytes */
    hub = edge_hub(1);
    tu_mock_fault(&emock, "{\"path\": \"*/big.lfs\", \"port\": \"cdn\", \"method\": \"GET\", "
                          "\"short_body\": 1000}");
    ck_assert_int_eq(edge_download(hub, "big.lfs", msg, sizeof msg), HF_ENETWORK);
    ck_assert_msg(strstr(msg, "gave up after 101 attempts"), "%s", msg);
    ck_assert_int_eq(tu_mock_count(&emock, "GET", "/big.lfs"), 101);
    hf_hub_free(hub);
    edge_stop();
}
END_TEST

/* ---- hostile answers to ranged and resumed requests ------------------------------------- */

/* The path of big.lfs's partial file `suffix` (".incomplete", ".incomplete.ranged"). */
static void edge_partial(char *out, size_t n, const char *suffix)
{
    char etag[65];
    rel_etag(edata, esize, 1, etag);
    snprintf(out, n, "%s/models--org--edges/blobs/%s%s", ecache, etag, suffix);
}

/* A partial file longer than the blob (not a prefix of it: an earlier run met a server that
 * sent too much, or another client left it) is started over, over ranges as in one stream:
 * the download completes, and the cache holds the blob alone. */
static void longer_partial_is_refetched(size_t size)
{
    hf_hub_t *hub;
    char msg[256], partial[1024];
    unsigned char *junk;

    edge_start(size);
    hub = edge_hub(2);
    edge_partial(partial, sizeof partial, ".incomplete");
    junk = rel_pattern(size + 4096, 5);
    rel_write_file(partial, junk, size + 4096);
    free(junk);
    ck_assert_msg(edge_download(hub, "big.lfs", msg, sizeof msg) == 0, "%s", msg);
    rel_expect_clean(ecache, 1, 1);
    hf_hub_free(hub);
    edge_stop();
}

START_TEST(a_partial_file_longer_than_the_blob_is_fetched_again)
{
    longer_partial_is_refetched(300000);        /* one stream */
}
END_TEST

START_TEST(a_partial_file_longer_than_the_blob_is_fetched_again_over_ranges)
{
    longer_partial_is_refetched(3u << 20);      /* ranges */
}
END_TEST

/* A CDN (or a mirror behind HF_ENDPOINT) that ignores every Range answers each range with
 * 200 and the whole body: that means start over, here as one stream, and the download
 * completes (it failed with "HTTP 200 to a range request" after the retries). One 200 per
 * connection, then the stream: from byte 0, or, past a resumed prefix (`prefix` bytes of an
 * .incomplete file), asked from its end and answered 200 too, from byte 0 then. */
static void ignoring_every_range_delivers(size_t prefix)
{
    hf_hub_t *hub;
    char msg[256], partial[1024];

    edge_start((7u << 19) + 123);       /* 4 ranges */
    hub = edge_hub(2);
    if (prefix) {
        edge_partial(partial, sizeof partial, ".incomplete");
        rel_write_file(partial, edata, prefix);
    }
    tu_mock_fault(&emock, "{\"path\": \"*/big.lfs\", \"port\": \"cdn\", \"method\": \"GET\", "
                          "\"ignore_range\": true}");
    ck_assert_msg(edge_download(hub, "big.lfs", msg, sizeof msg) == 0, "%s", msg);
    ck_assert_int_le(tu_mock_count(&emock, "GET", "/big.lfs"), 2 + (prefix ? 2 : 1));
    rel_expect_clean(ecache, 1, 1);
    hf_hub_free(hub);
    edge_stop();
}

START_TEST(a_cdn_ignoring_every_range_still_delivers_a_ranged_file)
{
    ignoring_every_range_delivers(0);
}
END_TEST

START_TEST(a_cdn_ignoring_every_range_still_delivers_a_resumed_ranged_file)
{
    ignoring_every_range_delivers(1500000);
}
END_TEST

/* Once the CDN has honoured a range of this download, a 200 to another is one node's
 * hiccup, not a server that ignores Range: that range alone is asked for again and the
 * download stays parallel (no request for the rest as one stream, whose Range is open). */
START_TEST(a_200_after_ranges_were_honoured_asks_for_that_range_again)
{
    hf_hub_t *hub;
    char msg[256], *log;
    cJSON *doc, *r;
    int gets = 0;

    edge_start((7u << 19) + 123);       /* 4 ranges over 2 connections */
    hub = edge_hub(3);
    /* the third GET is sent once one of the first two has brought its 206 */
    tu_mock_fault(&emock, "{\"path\": \"*/big.lfs\", \"port\": \"cdn\", \"method\": \"GET\", "
                          "\"skip\": 2, \"count\": 1, \"ignore_range\": true}");
    ck_assert_msg(edge_download(hub, "big.lfs", msg, sizeof msg) == 0, "%s", msg);
    log = tu_mock_requests(&emock, "port=cdn&path=*/big.lfs");
    ck_assert_ptr_nonnull(doc = cJSON_Parse(log));
    cJSON_ArrayForEach(r, cJSON_GetObjectItem(doc, "requests")) {
        const char *range = cJSON_GetStringValue(cJSON_GetObjectItem(r, "range"));
        unsigned long long a, b;
        char end;
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(r, "method")), "GET") != 0)
            continue;
        gets++;
        ck_assert_msg(range && sscanf(range, "bytes=%llu-%llu%c", &a, &b, &end) == 2,
                      "a GET that is not for one range: %s", range ? range : "(no Range)");
    }
    ck_assert_int_eq(gets, 5);          /* the 4 ranges and the one asked again */
    cJSON_Delete(doc);
    free(log);
    rel_expect_clean(ecache, 1, 1);
    hf_hub_free(hub);
    edge_stop();
}
END_TEST

static Suite *faults_suite(void)
{
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("matrix");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, every_faulty_download_ends_verified_or_with_a_clear_error);
    suite_add_tcase(s, tc);
    tc = tcase_create("edges");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, ranged_download_survives_a_200_to_one_range);
    tcase_add_test(tc, a_redirect_with_an_empty_location_fails_at_once);
    tcase_add_test(tc, a_failed_range_ends_the_others_waiting_to_retry);
    tcase_add_test(tc, a_wait_past_the_limit_fails_at_once_without_a_retry);
    tcase_add_test(tc, a_range_asked_to_wait_past_the_limit_fails_at_once);
    tcase_add_test(tc, a_wait_within_the_limit_is_waited_out);
    tcase_add_test(tc, a_stream_cut_short_every_time_still_completes);
    tcase_add_test(tc, a_stream_reset_every_time_still_completes);
    tcase_add_test(tc, a_range_cut_short_every_time_still_completes);
    tcase_add_test(tc, a_stream_that_brings_nothing_fails_after_the_retries);
    tcase_add_test(tc, a_range_that_brings_nothing_fails_after_the_retries);
    tcase_add_test(tc, a_trickle_of_bytes_per_connection_is_bounded);
    tcase_add_test(tc, a_partial_file_longer_than_the_blob_is_fetched_again);
    tcase_add_test(tc, a_partial_file_longer_than_the_blob_is_fetched_again_over_ranges);
    tcase_add_test(tc, a_cdn_ignoring_every_range_still_delivers_a_ranged_file);
    tcase_add_test(tc, a_cdn_ignoring_every_range_still_delivers_a_resumed_ranged_file);
    tcase_add_test(tc, a_200_after_ranges_were_honoured_asks_for_that_range_again);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(faults_suite)
