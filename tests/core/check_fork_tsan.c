/*
 * check_fork_tsan.c - fork() while a large runtime is alive, in every build, ThreadSanitizer's
 * included.
 *
 * The library's pthread_atfork prepare must not hold more mutexes at once than TSan's
 * deadlock detector tracks (64: beyond that it aborts the process, "CHECK failed ...
 * n_all_locks_ < 64"), however many compute threads a runtime has and however many threads
 * sleep in waits. The child here only calls _exit(): TSan does not support starting
 * threads in the child of a multithreaded process, so what the child can do with the
 * library is check_fork's business (plain and ASan/UBSan builds only).
 */
#include "common/testutil.h"

#include <sys/wait.h>
#include <unistd.h>

#define NCOMPUTE 40     /* the workers alone would pass 64 if each had a mutex held */
#define NIO_WAITERS 4
#define NCPU_WAITERS 2

static void *plus_one(void *arg, hf_error_t *err)
{
    (void)err;
    return (void *)((intptr_t)arg + 1);
}

/* A task that sleeps in hf_future_wait() on the future `arg` and returns its value. */
static void *wait_for(void *arg, hf_error_t *err)
{
    hf_future_t *f = arg;
    (void)err;
    if (hf_future_wait(f, TU_DEADLINE_MS) != 0)
        return NULL;
    return hf_future_value(f);
}

static void *plain_waiter(void *arg)
{
    return wait_for(arg, NULL);
}

START_TEST(fork_with_many_compute_threads_and_parked_waits_leaves_the_parent_working)
{
    hf_runtime_t *rt = tu_runtime(NCOMPUTE);
    hf_promise_t *p = hf_promise_new();
    hf_future_t *gate = hf_promise_future(p);
    hf_future_t *io_waits[NIO_WAITERS], *cpu_waits[NCPU_WAITERS], *f;
    hf_runtime_stats_t st;
    pthread_t plain;
    void *plain_result = NULL;
    int status = -1;
    pid_t pid;

    /* threads asleep in waits on every kind of thread: I/O, compute, a plain one */
    for (int i = 0; i < NIO_WAITERS; i++)
        io_waits[i] = hf_spawn_blocking(rt, wait_for, gate);
    for (int i = 0; i < NCPU_WAITERS; i++)
        cpu_waits[i] = hf_async(hf_runtime_compute(rt), wait_for, gate);
    ck_assert_int_eq(pthread_create(&plain, NULL, plain_waiter, gate), 0);
    /* (a waiting worker may run the other waiting task nested while it helps: then only
     * the innermost of them sleeps) */
    TU_EVENTUALLY(hf_runtime_stats(rt, &st) == 0 && st.io_blocked == NIO_WAITERS &&
                  st.compute_blocked >= 1);
    ck_assert_uint_ge(st.compute_threads, NCOMPUTE);

    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);

    /* the parent's sleepers wake, and new work runs */
    ck_assert_int_eq(hf_promise_resolve(p, (void *)(intptr_t)7, NULL), 0);
    for (int i = 0; i < NIO_WAITERS; i++) {
        ck_assert_int_eq(tu_settle(io_waits[i]), HF_FUTURE_FULFILLED);
        ck_assert_int_eq((intptr_t)hf_future_value(io_waits[i]), 7);
        hf_future_release(io_waits[i]);
    }
    for (int i = 0; i < NCPU_WAITERS; i++) {
        ck_assert_int_eq(tu_settle(cpu_waits[i]), HF_FUTURE_FULFILLED);
        ck_assert_int_eq((intptr_t)hf_future_value(cpu_waits[i]), 7);
        hf_future_release(cpu_waits[i]);
    }
    ck_assert_int_eq(pthread_join(plain, &plain_result), 0);
    ck_assert_int_eq((intptr_t)plain_result, 7);
    f = hf_async(hf_runtime_compute(rt), plus_one, (void *)(intptr_t)41);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_int_eq((intptr_t)hf_future_value(f), 42);
    hf_future_release(f);
    f = hf_spawn_blocking(rt, plus_one, (void *)(intptr_t)1);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_int_eq((intptr_t)hf_future_value(f), 2);
    hf_future_release(f);

    hf_future_release(gate);
    hf_promise_free(p);
    hf_runtime_free(rt);
}
END_TEST

static Suite *fork_tsan_suite(void)
{
    Suite *s = suite_create("fork_tsan");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, fork_with_many_compute_threads_and_parked_waits_leaves_the_parent_working);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(fork_tsan_suite)
