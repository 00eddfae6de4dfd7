/*
 * check_localfail.c - local failures: a file size limit that makes writes fail mid-blob
 * (RLIMIT_FSIZE, SIGXFSZ ignored: the way a full disk looks to write()), and a read-only
 * cache folder.
 *
 * Design notes
 *  - both run in dl_child, so the limit and the user change stay in that process;
 *  - as root, permissions do not stop writes: the child then drops to uid/gid 65534 first,
 *    so that the read-only folder really is read-only to it (the test never skips).
 */
#include "common/testutil.h"

#include <sys/stat.h>
#include <unistd.h>

#include "common/mockhub.h"
#include "reliability/relutil.h"

#define REPO "org/local"
#define BIG (1u << 20)
#define SMALL 300000u
#define TAIL (BIG + 50000u)     /* a 1 MiB body and a short tail */
#define TAIL2 (2 * BIG + 50000u)

static tu_mock_t mock;
static unsigned char *big, *small, *tail, *tail2;
static char *cache;
static char out[512];

static void setup(void)
{
    big = rel_pattern(BIG, 11);
    small = rel_pattern(SMALL, 12);
    tail = rel_pattern(TAIL, 13);
    tail2 = rel_pattern(TAIL2, 14);
    tu_mock_root(&mock);
    tu_mock_file(&mock, "model", REPO, "w.bin", big, BIG);
    tu_mock_file(&mock, "model", REPO, "notes.txt", small, SMALL);
    tu_mock_file(&mock, "model", REPO, "tail.bin", tail, TAIL);
    tu_mock_file(&mock, "model", REPO, "tail2.bin", tail2, TAIL2);
    tu_mock_settings(&mock, "model", REPO, "{\"lfs\": [\"*.bin\"]}");
    tu_mock_start(&mock, NULL);
    cache = rel_tmpdir("local-cache");
    snprintf(out, sizeof out, "%s.out", cache);
}

static void teardown(void)
{
    tu_mock_stop(&mock);
    rel_rmtree(cache);
    free(cache);
    unlink(out);
    free(big);
    free(small);
    free(tail);
    free(tail2);
}

/* Run dl_child with `opts` (NULL-terminated, may be empty) on `files`; its transcript
 * (malloc'd) and exit status. */
static char *child(const char *const *opts, const char *const *files, int *status)
{
    const char *args[24] = { NULL };
    int k = 1;
    for (; *opts; opts++)
        args[k++] = *opts;
    args[k++] = mock.hub;
    args[k++] = cache;
    args[k++] = REPO;
    for (; *files; files++)
        args[k++] = *files;
    *status = rel_wait(rel_spawn(args, out, -1));
    return rel_slurp(out);
}

START_TEST(a_write_failing_mid_blob_is_an_io_error_and_leaves_the_cache_unchanged)
{
    const char *limited[] = { "-f", "200000", NULL }, *none[] = { NULL };
    const char *files[] = { "w.bin", "notes.txt", NULL };
    char err[32];
    int st;
    char *log = child(limited, files, &st);

    ck_assert_msg(st == 1, "exit %d: %s", st, log);
    snprintf(err, sizeof err, "err %d ", HF_EIO);
    /* both files fail with an I/O error */
    ck_assert_msg(strstr(log, err) && strstr(strstr(log, err) + 1, err), "%s", log);
    printf("disk full: %s", log);
    free(log);
    rel_expect_clean(cache, 0, 0);

    log = child(none, files, &st);          /* with room, the next run succeeds */
    ck_assert_msg(st == 0, "exit %d: %s", st, log);
    free(log);
    rel_expect_clean(cache, 2, 2);
}
END_TEST

/* `file` fails with HF_EIO under `limited` and leaves the cache clean; then, under `ok`,
 * it downloads. */
static void io_error_then_success(const char *const *limited, const char *const *ok,
                                  const char *file)
{
    const char *files[] = { file, NULL };
    char err[32];
    int st;
    char *log = child(limited, files, &st);

    ck_assert_msg(st == 1, "exit %d: %s", st, log);
    snprintf(err, sizeof err, "err %d ", HF_EIO);
    ck_assert_msg(strstr(log, err) != NULL, "%s", log);
    free(log);
    rel_expect_clean(cache, 0, 0);

    log = child(ok, files, &st);
    ck_assert_msg(st == 0, "exit %d: %s", st, log);
    free(log);
    rel_expect_clean(cache, 1, 1);
}

/* A write failing on the last bytes of a body is an I/O error like one mid-way, and leaves
 * nothing behind either. */
START_TEST(a_write_failing_on_the_last_bytes_of_a_blob_is_an_io_error_too)
{
    char limit[32];
    const char *limited[] = { "-f", limit, NULL }, *none[] = { NULL };

    snprintf(limit, sizeof limit, "%u", TAIL - 10);
    io_error_then_success(limited, none, "tail.bin");
}
END_TEST

/* The same in a download split in ranges (1 MiB each: the last one is short), its writes
 * failing near the end of the second range. */
START_TEST(a_write_failing_in_a_ranged_download_is_an_io_error_too)
{
    char limit[32];
    const char *limited[] = { "-p", "1048576", "-f", limit, NULL };
    const char *ranged[] = { "-p", "1048576", NULL };

    snprintf(limit, sizeof limit, "%u", 2 * BIG - 10);
    io_error_then_success(limited, ranged, "tail2.bin");
}
END_TEST

START_TEST(a_read_only_cache_answers_offline_and_refuses_downloads_clearly)
{
    const char *none[] = { NULL }, *first[] = { "w.bin", NULL }, *both[] = { "w.bin", "notes.txt", NULL };
    const char *as_nobody[] = { "-u", "65534", NULL }, *offline_nobody[] = { "-u", "65534", "-o", NULL };
    const char *offline[] = { "-o", NULL };
    const int root = geteuid() == 0;
    char cmd[600], err[32];
    int st;
    char *log = child(none, first, &st);

    ck_assert_msg(st == 0, "exit %d: %s", st, log);
    free(log);
    snprintf(cmd, sizeof cmd, "chmod -R a-w,a+rX '%s'", cache);
    ck_assert_int_eq(system(cmd), 0);

    /* offline: the cached file is found, the other one is not */
    log = child(root ? offline_nobody : offline, both, &st);
    ck_assert_msg(st == 1, "exit %d: %s", st, log);
    ck_assert_msg(strncmp(log, "ok ", 3) == 0, "%s", log);
    snprintf(err, sizeof err, "err %d ", HF_ENOENT);
    ck_assert_msg(strstr(log, err) != NULL, "%s", log);
    free(log);

    /* online: the cached file is served, the new one fails with an I/O error */
    log = child(root ? as_nobody : none, both, &st);
    printf("read-only cache%s: %s", root ? " (as uid 65534)" : "", log);
    ck_assert_msg(st == 1, "exit %d: %s", st, log);
    ck_assert_msg(strncmp(log, "ok ", 3) == 0, "%s", log);
    snprintf(err, sizeof err, "err %d ", HF_EIO);
    ck_assert_msg(strstr(log, err) != NULL, "%s", log);
    free(log);
    rel_expect_clean(cache, 1, 1);
}
END_TEST

static Suite *localfail_suite(void)
{
    Suite *s = suite_create("localfail");
    TCase *tc = tcase_create("local");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, a_write_failing_mid_blob_is_an_io_error_and_leaves_the_cache_unchanged);
    tcase_add_test(tc, a_write_failing_on_the_last_bytes_of_a_blob_is_an_io_error_too);
    tcase_add_test(tc, a_write_failing_in_a_ranged_download_is_an_io_error_too);
    tcase_add_test(tc, a_read_only_cache_answers_offline_and_refuses_downloads_clearly);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(localfail_suite)
