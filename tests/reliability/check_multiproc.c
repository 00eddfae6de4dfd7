/*
 * check_multiproc.c - many processes, one cache: eight processes download the same repo
 * into one cache at once; each gets correct files, the Hub sees one GET per blob, nothing
 * is left behind. Then again with flock skipped (a test hook) to show that the hash check
 * alone keeps the cache correct.
 *
 * Design notes
 *  - the processes wait on a pipe until every one has started, and bodies are throttled,
 *    so the downloads overlap;
 *  - GETs are counted at the mock per file path on both ports (the Hub answers small files
 *    itself, the CDN serves LFS ones).
 */
#include "common/testutil.h"

#include <fcntl.h>
#include <unistd.h>

#include "common/mockhub.h"
#include "reliability/relutil.h"

#define REPO "org/shared"
#define PROCS 8
#define NFILES 6

static const char *const names[NFILES] = { "a.bin", "b.bin", "c.bin", "x.txt", "y.json", "z.md" };
static const size_t sizes[NFILES] = { 1u << 20, 600000, 300000, 20000, 3000, 100 };

static void many_processes_one_cache(int no_flock)
{
    uint32_t seed = rel_seed(no_flock ? "many processes, flock skipped" : "many processes",
                             4242u);
    unsigned char *data[NFILES];
    tu_mock_t mock;
    char *cache, out[PROCS][512];
    pid_t pids[PROCS];
    int barrier[2];
    long gets = 0;

    tu_mock_root(&mock);
    for (int i = 0; i < NFILES; i++) {
        data[i] = rel_pattern(sizes[i], seed + (uint32_t)i);
        tu_mock_file(&mock, "model", REPO, names[i], data[i], sizes[i]);
    }
    tu_mock_settings(&mock, "model", REPO, "{\"lfs\": [\"*.bin\"]}");
    tu_mock_start(&mock, NULL);
    tu_mock_fault(&mock, "{\"path\": \"*\", \"method\": \"GET\", \"throttle_bps\": 2000000}");
    cache = rel_tmpdir("multi-cache");
    ck_assert_int_eq(pipe(barrier), 0);
    /* only the read end reaches the children (rel_spawn keeps it open), or none sees EOF */
    fcntl(barrier[0], F_SETFD, FD_CLOEXEC);
    fcntl(barrier[1], F_SETFD, FD_CLOEXEC);
    for (int p = 0; p < PROCS; p++) {
        char fd[16];
        const char *args[6 + NFILES + 2] = { NULL };
        int k = 1;
        snprintf(fd, sizeof fd, "%d", barrier[0]);
        if (no_flock)
            args[k++] = "-n";
        args[k++] = "-w";
        args[k++] = fd;
        args[k++] = mock.hub;
        args[k++] = cache;
        args[k++] = REPO;
        for (int i = 0; i < NFILES; i++)
            args[k++] = names[i];
        snprintf(out[p], sizeof out[p], "%s.out%d", cache, p);
        pids[p] = rel_spawn(args, out[p], barrier[0]);
    }
    close(barrier[0]);
    close(barrier[1]);          /* every process starts now */
    for (int p = 0; p < PROCS; p++) {
        int st = rel_wait(pids[p]);
        char *log = rel_slurp(out[p]), *line = log;
        ck_assert_msg(st == 0, "process %d failed (%d): %s", p, st, log);
        for (int i = 0; i < NFILES; i++) {      /* "ok <path>" in request order */
            char *nl = strchr(line, '\n');
            ck_assert_ptr_nonnull(nl);
            *nl = '\0';
            ck_assert_msg(strncmp(line, "ok ", 3) == 0, "process %d: %s", p, line);
            ck_assert_int_eq(rel_file_size(line + 3), (long long)sizes[i]);
            {
                char *got = rel_slurp(line + 3);
                ck_assert_msg(memcmp(got, data[i], sizes[i]) == 0, "process %d: %s differs",
                              p, names[i]);
                free(got);
            }
            line = nl + 1;
        }
        free(log);
        unlink(out[p]);
    }
    printf("%s: GETs per blob:", no_flock ? "many processes, flock skipped" : "many processes");
    for (int i = 0; i < NFILES; i++) {
        char suffix[64];
        long n;
        snprintf(suffix, sizeof suffix, "/%s", names[i]);
        n = tu_mock_count(&mock, "GET", suffix);
        printf(" %s %ld", names[i], n);
        gets += n;
        if (!no_flock)
            ck_assert_msg(n == 1, "%s fetched %ld times", names[i], n);
        else
            ck_assert_int_ge(n, 1);
    }
    printf(" (total %ld for %d blobs, %d processes)\n", gets, NFILES, PROCS);
    fflush(stdout);
    rel_expect_clean(cache, NFILES, NFILES);
    tu_mock_stop(&mock);
    rel_rmtree(cache);
    free(cache);
    for (int i = 0; i < NFILES; i++)
        free(data[i]);
}

START_TEST(eight_processes_share_one_cache_with_one_get_per_blob)
{
    many_processes_one_cache(0);
}
END_TEST

START_TEST(without_flock_the_hash_check_keeps_the_cache_correct)
{
    unsigned rounds = rel_trials(2, 10);
    for (unsigned i = 0; i < rounds; i++)
        many_processes_one_cache(1);
}
END_TEST

static Suite *multiproc_suite(void)
{
    Suite *s = suite_create("multiproc");
    TCase *tc = tcase_create("one cache");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, eight_processes_share_one_cache_with_one_get_per_blob);
    tcase_add_test(tc, without_flock_the_hash_check_keeps_the_cache_correct);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(multiproc_suite)
