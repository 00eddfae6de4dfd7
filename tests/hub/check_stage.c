/*
 * check_stage.c - the write stage (hub/stage.h): which bytes are in the file, and where,
 * after each write, flush and drop; and what a failing write reports.
 *
 * The file's size and bytes show what reached it: a staged piece is not there yet.
 */
#include "common/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hub/stage.h"

#define CAP 4096u

static char path[64];
static int fd = -1;
static unsigned char *pat;

static void setup(void)
{
    strcpy(path, "/tmp/hfasync-stage-XXXXXX");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    pat = tu_pattern(4 * CAP, 7);
}

static void teardown(void)
{
    close(fd);
    unlink(path);
    free(pat);
}

static off_t file_size(void)
{
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    return st.st_size;
}

/* The file's bytes [off, off + n) equal pat[off ..]. */
static void expect_bytes(uint64_t off, size_t n)
{
    unsigned char *got = malloc(n);
    ck_assert_ptr_nonnull(got);
    ck_assert_int_eq(pread(fd, got, n, (off_t)off), (ssize_t)n);
    ck_assert_msg(memcmp(got, pat + off, n) == 0, "bytes at %llu differ", (unsigned long long)off);
    free(got);
}

START_TEST(pieces_that_continue_each_other_reach_the_file_when_the_stage_fills)
{
    hfi_stage_t s;
    hfi_stage_init(&s, CAP, 0);
    /* 1000 + 1000 + 1000: staged, none in the file */
    for (unsigned i = 0; i < 3; i++)
        ck_assert_int_eq(hfi_stage_write(&s, fd, pat + i * 1000, 1000, i * 1000), 0);
    ck_assert_int_eq(file_size(), 0);
    /* 1096 more fill it exactly: all of it is written at once */
    ck_assert_int_eq(hfi_stage_write(&s, fd, pat + 3000, CAP - 3000, 3000), 0);
    ck_assert_int_eq(file_size(), CAP);
    expect_bytes(0, CAP);
    /* the next piece starts a new stage */
    ck_assert_int_eq(hfi_stage_write(&s, fd, pat + CAP, 10, CAP), 0);
    ck_assert_int_eq(file_size(), CAP);
    ck_assert_int_eq(hfi_stage_flush(&s, fd), 0);
    ck_assert_int_eq(file_size(), CAP + 10);
    expect_bytes(0, CAP + 10);
    ck_assert_ptr_null(s.buf);
}
END_TEST

START_TEST(a_piece_that_does_not_fit_or_does_not_continue_writes_the_stage_out_first)
{
    hfi_stage_t s;
    hfi_stage_init(&s, CAP, 0);
    ck_assert_int_eq(hfi_stage_write(&s, fd, pat, 3000, 0), 0);
    /* 2000 more do not fit after 3000: the 3000 go out, the 2000 are staged */
    ck_assert_int_eq(hfi_stage_write(&s, fd, pat + 3000, 2000, 3000), 0);
    ck_assert_int_eq(file_size(), 3000);
    expect_bytes(0, 3000);
    /* a piece elsewhere in the file (another range): the 2000 go out first */
    ck_assert_int_eq(hfi_stage_write(&s, fd, pat + 3 * CAP, 100, 3 * CAP), 0);
    ck_assert_int_eq(file_size(), 5000);
    expect_bytes(0, 5000);
    ck_assert_int_eq(hfi_stage_flush(&s, fd), 0);
    ck_assert_int_eq(file_size(), 3 * CAP + 100);
    expect_bytes(3 * CAP, 100);
}
END_TEST

START_TEST(a_piece_as_large_as_the_stage_goes_straight_to_the_file)
{
    hfi_stage_t s;
    hfi_stage_init(&s, CAP, 0);
    ck_assert_int_eq(hfi_stage_write(&s, fd, pat, 2 * CAP, 0), 0);
    ck_assert_int_eq(file_size(), 2 * CAP);
    ck_assert_ptr_null(s.buf);          /* never needed one */
    expect_bytes(0, 2 * CAP);
    /* with bytes staged: they go first, then the large piece, in order */
    ck_assert_int_eq(hfi_stage_write(&s, fd, pat + 2 * CAP, 10, 2 * CAP), 0);
    ck_assert_int_eq(hfi_stage_write(&s, fd, pat + 2 * CAP + 10, CAP, 2 * CAP + 10), 0);
    ck_assert_int_eq(file_size(), 3 * CAP + 10);
    expect_bytes(0, 3 * CAP + 10);
    ck_assert_int_eq(hfi_stage_flush(&s, fd), 0);
    ck_assert_int_eq(file_size(), 3 * CAP + 10);
}
END_TEST

START_TEST(without_a_stage_every_piece_is_written_at_once)
{
    hfi_stage_t s;
    hfi_stage_init(&s, 0, 0);
    ck_assert_int_eq(hfi_stage_write(&s, fd, pat, 1, 0), 0);
    ck_assert_int_eq(file_size(), 1);
    ck_assert_int_eq(hfi_stage_write(&s, fd, pat + 1, 99, 1), 0);
    ck_assert_int_eq(file_size(), 100);
    expect_bytes(0, 100);
    ck_assert_ptr_null(s.buf);
    ck_assert_int_eq(hfi_stage_flush(&s, fd), 0);
}
END_TEST

START_TEST(dropped_bytes_never_reach_the_file)
{
    hfi_stage_t s;
    hfi_stage_init(&s, CAP, 0);
    ck_assert_int_eq(hfi_stage_write(&s, fd, pat, 500, 0), 0);
    hfi_stage_drop(&s);
    ck_assert_ptr_null(s.buf);
    ck_assert_int_eq(hfi_stage_flush(&s, fd), 0);
    ck_assert_int_eq(file_size(), 0);
}
END_TEST

START_TEST(a_failing_write_reports_its_errno_and_drops_the_staged_bytes)
{
    hfi_stage_t s;
    int ro = open(path, O_RDONLY);

    ck_assert_int_ge(ro, 0);
    hfi_stage_init(&s, CAP, 1);
    ck_assert_int_eq(hfi_stage_write(&s, ro, pat, 100, 0), 0);      /* staged: no write yet */
    errno = 0;
    ck_assert_int_eq(hfi_stage_flush(&s, ro), -1);
    ck_assert_int_eq(errno, EBADF);
    ck_assert_ptr_null(s.buf);
    /* a piece the stage cannot take fails at once */
    errno = 0;
    ck_assert_int_eq(hfi_stage_write(&s, ro, pat, CAP, 0), -1);
    ck_assert_int_eq(errno, EBADF);
    /* a write failing while a new piece waits: the staged bytes are gone too */
    ck_assert_int_eq(hfi_stage_write(&s, ro, pat, 100, 0), 0);
    ck_assert_int_eq(hfi_stage_write(&s, ro, pat + 500, 10, 500), -1);
    ck_assert_int_eq(hfi_stage_flush(&s, fd), 0);
    ck_assert_int_eq(file_size(), 0);
    close(ro);
}
END_TEST

static Suite *stage_suite(void)
{
    Suite *s = suite_create("stage");
    TCase *tc = tcase_create("stage");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, pieces_that_continue_each_other_reach_the_file_when_the_stage_fills);
    tcase_add_test(tc, a_piece_that_does_not_fit_or_does_not_continue_writes_the_stage_out_first);
    tcase_add_test(tc, a_piece_as_large_as_the_stage_goes_straight_to_the_file);
    tcase_add_test(tc, without_a_stage_every_piece_is_written_at_once);
    tcase_add_test(tc, dropped_bytes_never_reach_the_file);
    tcase_add_test(tc, a_failing_write_reports_its_errno_and_drops_the_staged_bytes);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(stage_suite)
