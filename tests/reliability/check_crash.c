/*
 * check_crash.c - crash and restart: a process downloading a large file is killed with
 * SIGKILL at a random moment; a new process finishes the download from the partial file
 * the first one left, fetching only what remained.
 *
 * Design notes
 *  - the first run's CDN body is throttled (a one-shot fault) so that the kill lands
 *    anywhere from before the first byte to after the commit; the second run is not;
 *  - "remaining" is the file's size less the partial file's size after the kill; the
 *    second run's body bytes come from its own hf_hub_stats and must not exceed it (plus
 *    a small slack), and its CDN request must ask for the rest with Range.
 */
#include "common/testutil.h"

#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mockhub.h"
#include "reliability/relutil.h"

#define REPO "org/big"
#define SIZE (4u << 20)
#define SLACK (64u << 10)

/* The mock Hub serving REPO with big.bin (`data`, SIZE bytes, an LFS file from the CDN);
 * its etag into `etag`. */
static void start_big_repo(tu_mock_t *mock, const unsigned char *data, char etag[65])
{
    rel_etag(data, SIZE, 1, etag);
    tu_mock_root(mock);
    tu_mock_file(mock, "model", REPO, "big.bin", data, SIZE);
    tu_mock_settings(mock, "model", REPO, "{\"lfs\": [\"*.bin\"]}");
    tu_mock_start(mock, NULL);
}

START_TEST(a_killed_download_resumes_in_the_next_process_without_refetching)
{
    uint32_t seed = rel_seed("crash and restart", 777u), r = seed;
    unsigned n = rel_trials(4, 20), resumed = 0;
    unsigned char *data = rel_pattern(SIZE, seed);
    unsigned long long sum_remaining = 0, sum_fetched = 0;
    char etag[65], partial[512], out[512], fault[256];
    tu_mock_t mock;

    start_big_repo(&mock, data, etag);
    for (unsigned i = 0; i < n; i++) {
        char *cache = rel_tmpdir("crash-cache"), *log;
        const char *args[] = { NULL, "-b", "10", mock.hub, cache, REPO, "big.bin", NULL };
        unsigned kill_ms = rel_rand(&r) % 1300;
        long long left, fetched;
        pid_t pid;
        int st, first;

        snprintf(partial, sizeof partial, "%s/models--org--big/blobs/%s.incomplete", cache, etag);
        snprintf(out, sizeof out, "%s.out", cache);
        tu_mock_reset(&mock);
        snprintf(fault, sizeof fault, "{\"path\": \"*/big.bin\", \"port\": \"cdn\", "
                 "\"method\": \"GET\", \"throttle_bps\": %u, \"count\": 1}", SIZE);
        tu_mock_fault(&mock, fault);
        pid = rel_spawn(args, out, -1);
        tu_sleep_ms(kill_ms);
        kill(pid, SIGKILL);
        first = rel_wait(pid);
        left = rel_file_size(partial);
        left = left < 0 ? SIZE : SIZE - left;
        if (first == 0)                 /* it finished before the kill */
            left = 0;
        tu_mock_reset(&mock);

        pid = rel_spawn(args, out, -1);
        st = rel_wait(pid);
        log = rel_slurp(out);
        ck_assert_msg(st == 0, "second run failed (%d): %s", st, log);
        fetched = rel_transcript_num(log, "bytes");
        ck_assert_int_ge(fetched, 0);
        free(log);
        printf("crash trial %u: killed at %u ms (status %d), remaining %lld, second run fetched "
               "%lld\n", i, kill_ms, first, left, fetched);
        ck_assert_msg(fetched <= left + SLACK, "refetched %lld bytes, only %lld remained",
                      fetched, left);
        if (left > 0 && left < SIZE) {
            char want[64];
            resumed++;
            snprintf(want, sizeof want, "bytes=%lld-", (long long)SIZE - left);
            log = tu_mock_requests(&mock, "port=cdn");
            ck_assert_msg(strstr(log, want) != NULL, "no %s request: %s", want, log);
            free(log);
        }
        sum_remaining += (unsigned long long)left;
        sum_fetched += (unsigned long long)fetched;

        rel_expect_clean(cache, 1, 1);          /* the blob hashes to its name, no leftovers */
        unlink(out);
        rel_rmtree(cache);
        free(cache);
    }
    printf("crash and restart: trials %u, resumed from a partial file %u, bytes remaining "
           "%llu, refetched by the second runs %llu\n", n, resumed, sum_remaining, sum_fetched);
    fflush(stdout);
    tu_mock_stop(&mock);
    free(data);
}
END_TEST

/* The blob's bytes, for the audit's check of partial files. */
typedef struct known {
    const char *etag;
    const unsigned char *data;
    size_t n;
} known_t;

static const unsigned char *known_content(const char *etag, size_t *n, void *arg)
{
    const known_t *k = arg;
    if (strcmp(etag, k->etag) != 0)
        return NULL;
    *n = k->n;
    return k->data;
}

/* The same with the file fetched as byte ranges over several connections: whenever the
 * kill lands, the ranged partial file holds the bytes its .done file says it does, nothing
 * else is left, and the next process finishes the blob. */
START_TEST(a_killed_ranged_download_leaves_a_consistent_partial_and_finishes)
{
    uint32_t seed = rel_seed("ranged crash and restart", 991u), r = seed;
    unsigned n = rel_trials(3, 12), partials = 0;
    unsigned char *data = rel_pattern(SIZE, seed);
    char etag[65], out[512], fault[256];
    known_t k = { etag, data, SIZE };
    tu_mock_t mock;

    start_big_repo(&mock, data, etag);
    for (unsigned i = 0; i < n; i++) {
        char *cache = rel_tmpdir("crash-ranged"), *log;
        const char *args[] = { NULL, "-b", "10", "-p", "1048576", mock.hub, cache, REPO,
                               "big.bin", NULL };
        unsigned kill_ms = rel_rand(&r) % 1500;
        rel_audit_t a;
        pid_t pid;
        int st;

        snprintf(out, sizeof out, "%s.out", cache);
        tu_mock_reset(&mock);
        /* every range slowed to 1 MiB/s: the whole takes about a second */
        snprintf(fault, sizeof fault, "{\"path\": \"*/big.bin\", \"port\": \"cdn\", "
                 "\"method\": \"GET\", \"throttle_bps\": %u}", 1u << 20);
        tu_mock_fault(&mock, fault);
        pid = rel_spawn(args, out, -1);
        tu_sleep_ms(kill_ms);
        kill(pid, SIGKILL);
        rel_wait(pid);
        rel_audit(cache, known_content, &k, &a);
        ck_assert_uint_eq(a.corrupt, 0);
        ck_assert_uint_eq(a.bad_partials, 0);
        ck_assert_uint_eq(a.stray, 0);
        partials += a.partials;

        tu_mock_reset(&mock);
        pid = rel_spawn(args, out, -1);
        st = rel_wait(pid);
        log = rel_slurp(out);
        ck_assert_msg(st == 0, "second run failed (%d): %s", st, log);
        free(log);
        rel_expect_clean(cache, 1, 1);
        unlink(out);
        rel_rmtree(cache);
        free(cache);
    }
    printf("ranged crash and restart: trials %u, partial files left by the kills %u\n", n,
           partials);
    fflush(stdout);
    tu_mock_stop(&mock);
    free(data);
}
END_TEST

static Suite *crash_suite(void)
{
    Suite *s = suite_create("crash");
    TCase *tc = tcase_create("restart");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, a_killed_download_resumes_in_the_next_process_without_refetching);
    tcase_add_test(tc, a_killed_ranged_download_leaves_a_consistent_partial_and_finishes);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(crash_suite)
