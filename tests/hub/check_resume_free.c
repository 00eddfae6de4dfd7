/*
 * check_resume_free.c - a blob download stopped because its hub (hf_hub_free) or its
 * runtime (hf_runtime_free) is being freed keeps its blobs/<etag>.incomplete, flushed and
 * never under the blob's final name, and the next process resumes it with a Range from
 * the kept size; one cancelled by its requester (hf_future_cancel) still leaves nothing.
 * Against hf-mock-hub on loopback, the CDN throttled so that the download is under way.
 */
#include "common/testutil.h"

#include <sys/stat.h>
#include <unistd.h>

#include "common/mockhub.h"

#define BIG (3u << 20)

static tu_mock_t mock;
static char cache[256];
static unsigned char *content;

static void setup(void)
{
    content = tu_pattern(BIG, 7);
    tu_mock_root(&mock);
    tu_mock_file(&mock, "model", "org/model", "big.bin", content, BIG);
    tu_mock_settings(&mock, "model", "org/model", "{\"lfs\": [\"*.bin\"]}");
    tu_mock_start(&mock, NULL);
    tu_tmpdir(cache, sizeof cache, "resume-free-cache");
}

static void teardown(void)
{
    tu_mock_stop(&mock);
    tu_rm_tree(cache);
    free(content);
}

/* A hub on `rt` whose big.bin comes as one stream (no byte ranges). */
static hf_hub_t *hub_on(hf_runtime_t *rt)
{
    hf_hub_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.parallel_threshold = (uint64_t)BIG * 4;
    return tu_hub_at(rt, mock.hub, cache, "", &cfg);
}

static atomic_ullong seen_bytes;

static void note_progress(const hf_progress_t *p, void *arg)
{
    (void)arg;
    atomic_store(&seen_bytes, p->file_done);
}

static hf_future_t *download(hf_hub_t *h, int with_progress)
{
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "big.bin" };
    hf_download_opts_t o;
    hf_future_t *f;

    memset(&o, 0, sizeof o);
    if (with_progress)
        o.progress = note_progress;
    f = hf_hub_download(h, &ref, &o);
    ck_assert_ptr_nonnull(f);
    return f;
}

static void blob_paths(hf_hub_t *h, char blob[600], char partial[620])
{
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "big.bin" };
    hf_future_t *f = hf_hub_file_metadata(h, &ref);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    snprintf(blob, 600, "%s/models--org--model/blobs/%s", cache,
             ((const hf_file_metadata_t *)hf_future_value(f))->etag);
    snprintf(partial, 620, "%s.incomplete", blob);
    hf_future_release(f);
}

/* 1 if the file at `path` begins with the `n` bytes at `want`. */
static int same_prefix(const char *path, const void *want, size_t n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *got = malloc(n ? n : 1);
    int ok = f && got && fread(got, 1, n, f) == n && memcmp(got, want, n) == 0;
    if (f)
        fclose(f);
    free(got);
    return ok;
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Start big.bin throttled and wait until some of its bytes are on disk. */
static hf_future_t *start_slowly(hf_hub_t *h, const char *partial)
{
    hf_future_t *f;

    tu_mock_fault(&mock, "{\"path\": \"*/big.bin\", \"port\": \"cdn\", \"throttle_bps\": 200000}");
    atomic_store(&seen_bytes, 0);
    f = download(h, 1);
    TU_EVENTUALLY(atomic_load(&seen_bytes) > 0 && file_size(partial) > 0);
    return f;
}

/* The first byte of the one GET of big.bin in the mock's log since its last reset (the
 * number after "bytes="), or -1 if it asked for no range. */
static long long range_start_of_the_get(void)
{
    char *log = tu_mock_requests(&mock, "port=cdn"), *o = log;
    const char *p;
    long long from = -1;

    for (const char *q = log; *q; q++)      /* whatever the server's JSON spacing */
        if (*q != ' ')
            *o++ = *q;
    *o = '\0';
    if ((p = strstr(log, "\"range\":\"bytes=")) != NULL)
        from = atoll(p + strlen("\"range\":\"bytes="));
    free(log);
    return from;
}

/* The partial file is still there, holding 0 < kept < BIG bytes that are the blob's
 * prefix, and nothing is under the blob's final name; a new runtime and hub then fetch
 * the rest with one GET whose Range starts at the kept size. */
static void assert_kept_then_resumed(const char *blob, const char *partial)
{
    hf_runtime_t *rt;
    hf_hub_t *h;
    hf_future_t *f;
    hf_hub_stats_t st;
    long long kept = file_size(partial);

    ck_assert_msg(kept > 0 && kept < (long long)BIG, "partial file of %lld bytes", kept);
    ck_assert_int_eq(file_size(blob), -1);
    ck_assert(tu_same_bytes(partial, content, (size_t)kept));

    tu_mock_reset(&mock);
    rt = tu_runtime(2);
    h = hub_on(rt);
    f = download(h, 0);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert(tu_same_bytes(hf_future_value(f), content, BIG));
    ck_assert(tu_same_bytes(blob, content, BIG));
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/big.bin"), 1);
    ck_assert_int_eq(range_start_of_the_get(), kept);
    hf_hub_stats(h, &st);
    ck_assert_uint_le(st.bytes_received, (uint64_t)(BIG - kept) + 4096);
    ck_assert_int_eq(file_size(partial), -1);
    hf_future_release(f);
    hf_hub_free(h);
    hf_runtime_free(rt);
}

/* A download stopped by freeing its hub and runtime, in either order: it settles
 * CANCELLED, and its partial file is kept and resumed by the next process. */
static void stop_by_freeing(int runtime_first)
{
    hf_runtime_t *rt = tu_runtime(2);
    hf_hub_t *h = hub_on(rt);
    char blob[600], partial[620];
    hf_future_t *f;

    blob_paths(h, blob, partial);
    f = start_slowly(h, partial);
    if (runtime_first)
        hf_runtime_free(rt);
    else
        hf_hub_free(h);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_CANCELLED);
    hf_future_release(f);
    if (runtime_first)
        hf_hub_free(h);                 /* returns: nothing holds the hub any more */
    else
        hf_runtime_free(rt);
    assert_kept_then_resumed(blob, partial);
}

START_TEST(hf_hub_free_then_hf_runtime_free_keep_the_partial_file_for_the_next_process)
{
    stop_by_freeing(0);
}
END_TEST

START_TEST(hf_runtime_free_under_a_live_hub_keeps_the_partial_file_for_the_next_process)
{
    stop_by_freeing(1);
}
END_TEST

START_TEST(a_download_cancelled_by_its_requester_still_removes_its_partial_file)
{
    hf_runtime_t *rt = tu_runtime(2);
    hf_hub_t *h = hub_on(rt);
    char blob[600], partial[620];
    hf_hub_stats_t st;
    hf_future_t *f;

    blob_paths(h, blob, partial);
    f = start_slowly(h, partial);
    ck_assert_int_eq(hf_future_cancel(f), 0);
    TU_EVENTUALLY(hf_hub_stats(h, &st) == 0 && st.transfers_active == 0);
    TU_EVENTUALLY(file_size(partial) == -1);
    ck_assert_int_eq(file_size(blob), -1);
    hf_future_release(f);
    hf_hub_free(h);
    hf_runtime_free(rt);
    ck_assert_int_eq(tu_count_files_named(cache, ".incomplete"), 0);
}
END_TEST

/* Byte ranges: the ranged partial file (<etag>.incomplete.ranged) and its record of the
 * prefix written stay, nothing is under the blob's name, and the next process fetches no
 * range below that prefix. */
START_TEST(hf_runtime_free_keeps_a_ranged_partial_file_and_its_prefix_for_the_next_process)
{
    hf_runtime_t *rt = tu_runtime(2);
    hf_hub_config_t cfg;
    hf_hub_t *h;
    char blob[600], partial[620], ranged[640], done[660], line[40] = "";
    long long prefix, low = -1;
    hf_future_t *f;
    FILE *d;
    char *log;

    memset(&cfg, 0, sizeof cfg);
    cfg.parallel_threshold = 1u << 20;
    cfg.conns_per_file = 2;
    h = tu_hub_at(rt, mock.hub, cache, "", &cfg);
    blob_paths(h, blob, partial);
    snprintf(ranged, sizeof ranged, "%s.ranged", partial);
    snprintf(done, sizeof done, "%s.done", ranged);
    tu_mock_fault(&mock, "{\"path\": \"*/big.bin\", \"port\": \"cdn\", \"throttle_bps\": 2000000}");
    f = download(h, 0);
    TU_EVENTUALLY(file_size(done) > 0);     /* a first range is in and recorded */
    hf_runtime_free(rt);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_CANCELLED);
    hf_future_release(f);
    hf_hub_free(h);
    ck_assert_int_eq(file_size(blob), -1);
    ck_assert_int_eq(file_size(ranged), BIG);
    ck_assert_ptr_nonnull(d = fopen(done, "r"));
    ck_assert_ptr_nonnull(fgets(line, sizeof line, d));
    fclose(d);
    prefix = atoll(line);
    ck_assert_msg(prefix > 0 && prefix < (long long)BIG, "recorded prefix %lld", prefix);
    ck_assert(same_prefix(ranged, content, (size_t)prefix));

    tu_mock_reset(&mock);
    rt = tu_runtime(2);
    h = tu_hub_at(rt, mock.hub, cache, "", &cfg);
    f = download(h, 0);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert(tu_same_bytes(blob, content, BIG));
    log = tu_mock_requests(&mock, "port=cdn");
    for (const char *p = log; (p = strstr(p, "bytes=")) != NULL; p++)
        if (low < 0 || atoll(p + 6) < low)
            low = atoll(p + 6);
    free(log);
    ck_assert_int_ge(low, prefix);          /* nothing below the kept prefix again */
    ck_assert_int_eq(tu_count_files_named(cache, ".ranged"), 0);
    hf_future_release(f);
    hf_hub_free(h);
    hf_runtime_free(rt);
}
END_TEST

/* Its runtime freed, the hub still takes calls until hf_hub_free: each settles CANCELLED
 * (its steps would run on the freed runtime's pools), without a request, a file, or a
 * use of the freed runtime. */
START_TEST(a_call_on_a_hub_whose_runtime_was_freed_ends_cancelled)
{
    hf_runtime_t *rt = tu_runtime(2);
    hf_hub_t *h = hub_on(rt);
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "big.bin" };
    hf_future_t *f, *g;

    hf_runtime_free(rt);
    f = download(h, 0);
    g = hf_hub_file_metadata(h, &ref);
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(tu_settle(g), HF_FUTURE_CANCELLED);
    hf_future_release(f);
    hf_future_release(g);
    hf_hub_free(h);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", ""), 0);
    ck_assert_int_eq(tu_mock_count(&mock, "HEAD", ""), 0);
    ck_assert_int_eq(tu_count_files_named(cache, ".incomplete"), 0);
}
END_TEST

static Suite *resume_free_suite(void)
{
    Suite *s = suite_create("resume_free");
    TCase *tc = tcase_create("free");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, hf_hub_free_then_hf_runtime_free_keep_the_partial_file_for_the_next_process);
    tcase_add_test(tc, hf_runtime_free_under_a_live_hub_keeps_the_partial_file_for_the_next_process);
    tcase_add_test(tc, hf_runtime_free_keeps_a_ranged_partial_file_and_its_prefix_for_the_next_process);
    tcase_add_test(tc, a_download_cancelled_by_its_requester_still_removes_its_partial_file);
    tcase_add_test(tc, a_call_on_a_hub_whose_runtime_was_freed_ends_cancelled);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(resume_free_suite)
