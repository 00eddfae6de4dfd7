/*
 * check_fork.c - after fork(), the child has a fresh, usable library.
 *
 * (Not part of the ThreadSanitizer run: TSan does not support fork() in a process that
 * has threads; the plain and ASan/UBSan runs cover it.)
 *
 * The parent forks while a task runs on the I/O pool, the compute workers are parked and a
 * timer is armed, but only once every thread has finished starting up: a thread that is
 * inside malloc at the instant of fork leaves the allocator's lock held in the child.
 * glibc's malloc takes its locks around fork() and is safe; the ASan allocator of clang
 * before 18 (Debian's clang 14 among them) does not (llvm-project issue 63224, fixed by
 * pull request 75290), and the child's first pthread_create then deadlocks in it. The
 * library's own locks that guard data are taken around fork(), and those that only pair a
 * sleep with its wake-up are made anew in the child (fork.c), which is what this test checks.
 */
#include "common/testutil.h"

#include <sys/wait.h>
#include <unistd.h>

static void *plus_one(void *arg, hf_error_t *err)
{
    (void)err;
    return (void *)((intptr_t)arg + 1);
}

static void *block_until_freed(void *arg, hf_error_t *err)
{
    (void)err;
    atomic_store((atomic_int *)arg, 1);
    tu_sleep_ms(200);
    return NULL;
}

/* Exit status tells the parent which step failed (0: all good). */
static int child_main(hf_runtime_t *inherited)
{
    hf_runtime_t *rt = hf_runtime_new(NULL);
    hf_future_t *f, *d, *stale;

    if (!rt)
        return 1;
    f = hf_async(hf_runtime_compute(rt), plus_one, (void *)(intptr_t)41);
    if (hf_future_wait(f, TU_DEADLINE_MS) != 0 || (intptr_t)hf_future_value(f) != 42)
        return 2;
    hf_future_release(f);
    f = hf_spawn_blocking(rt, plus_one, (void *)(intptr_t)1);
    if (hf_future_wait(f, TU_DEADLINE_MS) != 0 || (intptr_t)hf_future_value(f) != 2)
        return 3;
    hf_future_release(f);
    d = hf_future_delay(5);
    if (hf_future_wait(d, TU_DEADLINE_MS) != 0 || hf_future_state(d) != HF_FUTURE_FULFILLED)
        return 4;
    hf_future_release(d);
    /* The inherited runtime has no threads here: its work is cancelled, its free does not
     * try to join anything. */
    stale = hf_async(hf_runtime_compute(inherited), plus_one, NULL);
    if (hf_future_state(stale) != HF_FUTURE_CANCELLED)
        return 5;
    hf_future_release(stale);
    hf_runtime_free(inherited);
    hf_runtime_free(rt);
    return 0;
}

START_TEST(the_child_of_a_fork_gets_a_fresh_usable_state)
{
    hf_runtime_t *rt = tu_runtime(2);
    atomic_int running = 0;
    hf_future_t *busy, *timer, *f;
    hf_runtime_stats_t st;
    int status = 0;
    pid_t pid;

    /* start the timer thread and let it go back to sleep */
    timer = hf_future_delay(1);
    ck_assert_int_eq(tu_settle(timer), HF_FUTURE_FULFILLED);
    hf_future_release(timer);
    busy = hf_spawn_blocking(rt, block_until_freed, &running);
    TU_EVENTUALLY(atomic_load(&running) && hf_runtime_stats(rt, &st) == 0 &&
                  st.compute_idle == st.compute_threads);
    timer = hf_future_delay(10);

    /* threads are busy, parked, and timing while we fork */
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(child_main(rt));
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    /* the parent is unaffected */
    f = hf_async(hf_runtime_compute(rt), plus_one, (void *)(intptr_t)1);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_int_eq((intptr_t)hf_future_value(f), 2);
    ck_assert_int_eq(tu_settle(timer), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(tu_settle(busy), HF_FUTURE_FULFILLED);
    hf_future_release(f);
    hf_future_release(timer);
    hf_future_release(busy);
    hf_runtime_free(rt);
}
END_TEST

static Suite *fork_suite(void)
{
    Suite *s = suite_create("fork");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, the_child_of_a_fork_gets_a_fresh_usable_state);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(fork_suite)
