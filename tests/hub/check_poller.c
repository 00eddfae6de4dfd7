/*
 * check_poller.c - the transfer engine's readiness poller, epoll and poll() backends alike.
 *
 * Each behaviour runs once per backend: "default" (epoll where configure found it) and
 * "poll" (HFASYNC_POLLER=poll, the portable fallback). Check forks per test, so setting
 * the variable only affects the test that sets it.
 */
#include "common/testutil.h"

#include <stdlib.h>
#include <unistd.h>

#include "hub/poller.h"


static hfi_poller_t *poller_for(int i)
{
    hfi_poller_t *p;
    tu_use_poller(i);
    p = hfi_poller_new();
    ck_assert_ptr_nonnull(p);
    if (i == 1)
        ck_assert_str_eq(hfi_poller_backend(p), "poll");
#ifdef HAVE_EPOLL_CREATE1
    else
        ck_assert_str_eq(hfi_poller_backend(p), "epoll");
#endif
    return p;
}

static void put(int fd)
{
    ck_assert_int_eq(write(fd, "x", 1), 1);
}

START_TEST(reports_only_the_descriptors_that_are_ready)
{
    hfi_poller_t *p = poller_for(_i);
    int a[2], b[2], c[2];
    hfi_pollev_t ev[8];

    ck_assert_int_eq(pipe(a), 0);
    ck_assert_int_eq(pipe(b), 0);
    ck_assert_int_eq(pipe(c), 0);
    ck_assert_int_eq(hfi_poller_set(p, a[0], HFI_POLL_IN), 0);
    ck_assert_int_eq(hfi_poller_set(p, b[0], HFI_POLL_IN), 0);
    ck_assert_int_eq(hfi_poller_set(p, c[0], HFI_POLL_IN), 0);
    /* nothing ready: the wait times out */
    ck_assert_int_eq(hfi_poller_wait(p, 10, ev, 8), 0);
    put(b[1]);
    ck_assert_int_eq(hfi_poller_wait(p, 1000, ev, 8), 1);
    ck_assert_int_eq(ev[0].fd, b[0]);
    ck_assert_uint_eq(ev[0].events & HFI_POLL_IN, HFI_POLL_IN);
    /* level-triggered: still ready until read */
    ck_assert_int_eq(hfi_poller_wait(p, 0, ev, 8), 1);
    put(a[1]);
    put(c[1]);
    ck_assert_int_eq(hfi_poller_wait(p, 1000, ev, 8), 3);
    /* at most `max` at a time; the rest come next */
    ck_assert_int_eq(hfi_poller_wait(p, 0, ev, 2), 2);
    ck_assert_int_eq(hfi_poller_wait(p, 0, ev, 0), 0);
    for (int i = 0; i < 2; i++) {
        close(a[i]);
        close(b[i]);
        close(c[i]);
    }
    hfi_poller_free(p);
}
END_TEST

START_TEST(removing_or_changing_interest_takes_effect)
{
    hfi_poller_t *p = poller_for(_i);
    int a[2];
    hfi_pollev_t ev[4];

    ck_assert_int_eq(pipe(a), 0);
    ck_assert_int_eq(hfi_poller_set(p, a[0], HFI_POLL_IN), 0);
    put(a[1]);
    ck_assert_int_eq(hfi_poller_wait(p, 1000, ev, 4), 1);
    ck_assert_int_eq(hfi_poller_set(p, a[0], 0), 0);
    ck_assert_int_eq(hfi_poller_wait(p, 10, ev, 4), 0);
    /* removing twice, or something never added, is harmless */
    ck_assert_int_eq(hfi_poller_set(p, a[0], 0), 0);
    ck_assert_int_eq(hfi_poller_set(p, 12345, 0), 0);
    /* watched for writing: a pipe's write end is writable at once */
    ck_assert_int_eq(hfi_poller_set(p, a[1], HFI_POLL_OUT), 0);
    ck_assert_int_eq(hfi_poller_wait(p, 1000, ev, 4), 1);
    ck_assert_int_eq(ev[0].fd, a[1]);
    ck_assert_uint_eq(ev[0].events & HFI_POLL_OUT, HFI_POLL_OUT);
    /* changed to reading only: a write end never becomes readable */
    ck_assert_int_eq(hfi_poller_set(p, a[1], HFI_POLL_IN), 0);
    ck_assert_int_eq(hfi_poller_wait(p, 10, ev, 4), 0);
    close(a[0]);
    close(a[1]);
    hfi_poller_free(p);
}
END_TEST

START_TEST(a_closed_descriptor_number_can_be_watched_again)
{
    /* libcurl closes a socket and may get the same number for the next one */
    hfi_poller_t *p = poller_for(_i);
    int a[2], b[2];
    hfi_pollev_t ev[4];

    ck_assert_int_eq(pipe(a), 0);
    ck_assert_int_eq(hfi_poller_set(p, a[0], HFI_POLL_IN), 0);
    ck_assert_int_eq(hfi_poller_set(p, a[0], 0), 0);
    close(a[0]);
    close(a[1]);
    ck_assert_int_eq(pipe(b), 0);
    ck_assert_int_eq(b[0], a[0]);               /* the lowest free numbers come back */
    ck_assert_int_eq(hfi_poller_set(p, b[0], HFI_POLL_IN), 0);
    put(b[1]);
    ck_assert_int_eq(hfi_poller_wait(p, 1000, ev, 4), 1);
    ck_assert_int_eq(ev[0].fd, b[0]);
    close(b[0]);
    close(b[1]);
    hfi_poller_free(p);
}
END_TEST

START_TEST(a_number_closed_without_a_word_is_watched_again)
{
    /* libcurl 7.88 closes the socket of a transfer still connecting and only then says
     * "stop watching" it, or says nothing before the number is handed out again */
    hfi_poller_t *p = poller_for(_i);
    int a[2], b[2], c[2];
    hfi_pollev_t ev[4];

    ck_assert_int_eq(pipe(a), 0);
    ck_assert_int_eq(hfi_poller_set(p, a[0], HFI_POLL_IN), 0);
    close(a[0]);
    close(a[1]);
    ck_assert_int_eq(hfi_poller_set(p, a[0], 0), 0);    /* the late removal */
    ck_assert_int_eq(hfi_poller_set(p, a[0], 0), 0);    /* and again: nothing watched */
    ck_assert_int_eq(pipe(b), 0);
    ck_assert_int_eq(b[0], a[0]);
    ck_assert_int_eq(hfi_poller_set(p, b[0], HFI_POLL_IN), 0);
    close(b[0]);                                        /* no removal this time */
    close(b[1]);
    ck_assert_int_eq(pipe(c), 0);
    ck_assert_int_eq(c[0], a[0]);
    ck_assert_int_eq(hfi_poller_set(p, c[0], HFI_POLL_IN), 0);
    ck_assert_int_eq(hfi_poller_wait(p, 0, ev, 4), 0);
    put(c[1]);
    ck_assert_int_eq(hfi_poller_wait(p, 1000, ev, 4), 1);
    ck_assert_int_eq(ev[0].fd, c[0]);
    ck_assert(ev[0].events & HFI_POLL_IN);
    ck_assert_int_eq(hfi_poller_set(p, c[0], 0), 0);
    ck_assert_int_eq(hfi_poller_wait(p, 0, ev, 4), 0);  /* unwatched though readable */
    ck_assert_int_eq(hfi_poller_set(p, -1, HFI_POLL_IN), HF_EINVAL);
    close(c[0]);
    close(c[1]);
    hfi_poller_free(p);
}
END_TEST

START_TEST(hundreds_of_descriptors)
{
    enum { N = 300 };
    hfi_poller_t *p = poller_for(_i);
    int fds[N][2], seen = 0;
    hfi_pollev_t ev[64];

    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(pipe(fds[i]), 0);
        ck_assert_int_eq(hfi_poller_set(p, fds[i][0], HFI_POLL_IN), 0);
    }
    /* every seventh becomes ready; each is reported, then drained and removed */
    for (int i = 0; i < N; i += 7)
        put(fds[i][1]);
    for (int n; (n = hfi_poller_wait(p, 100, ev, 64)) > 0;) {
        for (int k = 0; k < n; k++) {
            char c;
            ck_assert_int_eq(read(ev[k].fd, &c, 1), 1);
            ck_assert_int_eq(hfi_poller_set(p, ev[k].fd, 0), 0);
            seen++;
        }
    }
    ck_assert_int_eq(seen, (N + 6) / 7);
    for (int i = 0; i < N; i++) {
        close(fds[i][0]);
        close(fds[i][1]);
    }
    hfi_poller_free(p);
}
END_TEST

static Suite *poller_suite(void)
{
    Suite *s = suite_create("poller");
    TCase *tc = tcase_create("backends");
    int n = TU_POLLERS;
    tcase_add_loop_test(tc, reports_only_the_descriptors_that_are_ready, 0, n);
    tcase_add_loop_test(tc, removing_or_changing_interest_takes_effect, 0, n);
    tcase_add_loop_test(tc, a_closed_descriptor_number_can_be_watched_again, 0, n);
    tcase_add_loop_test(tc, a_number_closed_without_a_word_is_watched_again, 0, n);
    tcase_add_loop_test(tc, hundreds_of_descriptors, 0, n);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(poller_suite)
