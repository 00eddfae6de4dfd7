/*
 * check_io.c - the I/O pool: its own threads, elastic up to a cap, idle exit, FIFO.
 */
#include "common/testutil.h"

#include "core/alloc.h"

static hf_runtime_t *io_runtime(unsigned cap, unsigned idle_ms)
{
    hf_runtime_config_t cfg;
    hf_runtime_t *rt;
    memset(&cfg, 0, sizeof cfg);
    cfg.compute_threads = 2;
    cfg.io_threads_max = cap;
    cfg.io_idle_ms = idle_ms;
    rt = hf_runtime_new(&cfg);
    ck_assert_ptr_nonnull(rt);
    return rt;
}

typedef struct where {
    char name[16], os_name[16];
    hf_executor_t *ex;
    int worker;
} where_t;

static void *where_io(void *arg, hf_error_t *err)
{
    where_t *w = arg;
    (void)err;
    tu_thread_names(w->name, w->os_name);
    w->ex = hf_current_executor();
    w->worker = hf_current_worker();
    return NULL;
}

START_TEST(blocking_tasks_run_on_io_threads_named_hfasync_io)
{
    hf_runtime_t *rt = io_runtime(4, 0);
    where_t w;
    hf_future_t *f;

    memset(&w, 0, sizeof w);
    f = hf_spawn_blocking(rt, where_io, &w);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_ptr_eq(w.ex, hf_runtime_io(rt));
    ck_assert_int_eq(w.worker, -1);                 /* not a compute worker */
    ck_assert_int_eq(strncmp(w.name, "hfasync-io/", 11), 0);
    ck_assert_str_eq(w.os_name, w.name);            /* where the kernel knows names */
    hf_future_release(f);
    hf_runtime_free(rt);
}
END_TEST

static hf_future_t *gate_f;
static atomic_int running, max_running, io_wrong_pool;

static void *gated(void *arg, hf_error_t *err)
{
    hf_runtime_t *rt = arg;
    int now = atomic_fetch_add(&running, 1) + 1;
    int m = atomic_load(&max_running);
    (void)err;
    while (now > m && !atomic_compare_exchange_weak(&max_running, &m, now))
        ;
    if (hf_current_executor() != hf_runtime_io(rt))
        atomic_fetch_add(&io_wrong_pool, 1);
    while (hf_future_state(gate_f) == HF_FUTURE_PENDING)   /* blocks like a slow read */
        tu_sleep_ms(1);
    atomic_fetch_sub(&running, 1);
    return NULL;
}

static void run_gated(unsigned cap, int ntasks, int expect_concurrency)
{
    hf_runtime_t *rt = io_runtime(cap, 0);
    hf_promise_t *gate = hf_promise_new();
    hf_future_t **fs = calloc((size_t)ntasks, sizeof *fs);
    hf_runtime_stats_t st;

    gate_f = hf_promise_future(gate);
    running = max_running = io_wrong_pool = 0;
    for (int i = 0; i < ntasks; i++)
        fs[i] = hf_spawn_blocking(rt, gated, rt);
    TU_EVENTUALLY(atomic_load(&running) == expect_concurrency);
    hf_runtime_stats(rt, &st);
    ck_assert_uint_eq(st.io_threads, (unsigned)expect_concurrency);
    ck_assert_uint_eq(st.io_queue_depth, (size_t)(ntasks - expect_concurrency));
    hf_promise_resolve(gate, NULL, NULL);
    for (int i = 0; i < ntasks; i++) {
        ck_assert_int_eq(tu_settle(fs[i]), HF_FUTURE_FULFILLED);
        hf_future_release(fs[i]);
    }
    ck_assert_int_eq(atomic_load(&max_running), expect_concurrency);
    ck_assert_int_eq(atomic_load(&io_wrong_pool), 0);
    hf_runtime_stats(rt, &st);
    ck_assert_uint_le(st.io_threads_peak, cap);
    free(fs);
    hf_future_release(gate_f);
    hf_promise_free(gate);
    hf_runtime_free(rt);
}

START_TEST(the_pool_grows_one_thread_per_blocked_task)
{
    run_gated(64, 12, 12);
}
END_TEST

START_TEST(the_pool_never_exceeds_its_cap)
{
    run_gated(4, 20, 4);
}
END_TEST

static void *quick(void *arg, hf_error_t *err)
{
    (void)arg;
    (void)err;
    return NULL;
}

START_TEST(idle_io_threads_exit)
{
    hf_runtime_t *rt = io_runtime(8, 20);
    hf_runtime_stats_t st;
    hf_future_t *f = hf_spawn_blocking(rt, quick, NULL);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    hf_future_release(f);
    hf_runtime_stats(rt, &st);
    ck_assert_uint_eq(st.io_threads_peak, 1);
    TU_EVENTUALLY(hf_runtime_stats(rt, &st) == 0 && st.io_threads == 0);
    /* and the pool comes back */
    f = hf_spawn_blocking(rt, quick, NULL);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    hf_future_release(f);
    hf_runtime_free(rt);
}
END_TEST

#define NFIFO 200
static int fifo_log[NFIFO];
static int fifo_n;

static void *log_index(void *arg, hf_error_t *err)
{
    (void)err;
    fifo_log[fifo_n++] = (int)(intptr_t)arg;    /* one thread: cap 1 */
    return NULL;
}

START_TEST(tasks_run_in_submission_order)
{
    hf_runtime_t *rt = io_runtime(1, 0);
    hf_future_t *fs[NFIFO];
    fifo_n = 0;
    for (int i = 0; i < NFIFO; i++)
        fs[i] = hf_spawn_blocking(rt, log_index, (void *)(intptr_t)i);
    for (int i = 0; i < NFIFO; i++) {
        ck_assert_int_eq(tu_settle(fs[i]), HF_FUTURE_FULFILLED);
        hf_future_release(fs[i]);
    }
    for (int i = 0; i < NFIFO; i++)
        ck_assert_int_eq(fifo_log[i], i);
    hf_runtime_free(rt);
}
END_TEST

static void *compute_side(void *arg, hf_error_t *err)
{
    hf_runtime_t *rt = arg;
    (void)err;
    return (void *)(intptr_t)(hf_current_executor() == hf_runtime_compute(rt));
}

START_TEST(a_saturated_io_pool_does_not_slow_compute_work)
{
    hf_runtime_t *rt = io_runtime(2, 0);
    hf_promise_t *gate = hf_promise_new();
    hf_future_t *blockers[4], *work[100];

    gate_f = hf_promise_future(gate);
    running = max_running = io_wrong_pool = 0;
    for (int i = 0; i < 4; i++)
        blockers[i] = hf_spawn_blocking(rt, gated, rt);
    TU_EVENTUALLY(atomic_load(&running) == 2);
    /* With the I/O pool full of stuck tasks, compute tasks still all run, and on the
     * compute pool. */
    for (int i = 0; i < 100; i++)
        work[i] = hf_async(hf_runtime_compute(rt), compute_side, rt);
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(tu_settle(work[i]), HF_FUTURE_FULFILLED);
        ck_assert_int_eq((intptr_t)hf_future_value(work[i]), 1);
        hf_future_release(work[i]);
    }
    ck_assert_int_eq(atomic_load(&running), 2);
    hf_promise_resolve(gate, NULL, NULL);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(tu_settle(blockers[i]), HF_FUTURE_FULFILLED);
        hf_future_release(blockers[i]);
    }
    hf_future_release(gate_f);
    hf_promise_free(gate);
    hf_runtime_free(rt);
}
END_TEST

/* ---- a thread that cannot be started -------------------------------------------------- */

/* With no I/O thread alive, a failed thread start left the task queued for nobody: its
 * future stayed pending for good (a later submission would have run it, or not). */
START_TEST(a_task_no_thread_can_be_started_for_is_cancelled_not_lost)
{
    hf_runtime_t *rt = io_runtime(4, 0);
    hf_runtime_stats_t st;
    hf_future_t *f;

    hfi_test_fail_alloc_after(1);       /* the task's own object, then nothing */
    f = hf_spawn_blocking(rt, quick, NULL);
    hfi_test_fail_alloc_after(-1);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_ECANCELED);
    hf_future_release(f);
    hf_runtime_stats(rt, &st);
    ck_assert_uint_eq(st.io_threads, 0);
    ck_assert_uint_eq(st.io_queue_depth, 0);
    /* and the pool works again once threads can be started */
    f = hf_spawn_blocking(rt, quick, NULL);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    hf_future_release(f);
    hf_runtime_free(rt);
}
END_TEST

static void *wait_on_a_queued_sibling(void *arg, hf_error_t *err)
{
    hf_runtime_t *rt = arg;
    hf_future_t *sib = hf_spawn_blocking(rt, quick, NULL);     /* queued: the cap is 1 */
    intptr_t rc;
    (void)err;
    hfi_test_fail_alloc_after(0);       /* the spare thread this wait asks for fails */
    rc = hf_future_wait(sib, TU_DEADLINE_MS);
    hfi_test_fail_alloc_after(-1);
    rc = rc < 0 ? rc : (intptr_t)hf_future_state(sib);
    hf_future_release(sib);
    return (void *)rc;
}

/* The only I/O thread waits on a task queued behind it; the thread that should take its
 * place cannot be started. The queued task was left for nobody and the wait hung. */
START_TEST(a_wait_on_a_task_queued_for_no_thread_ends_with_it_cancelled)
{
    hf_runtime_t *rt = io_runtime(1, 0);
    hf_runtime_stats_t st;
    hf_future_t *f = hf_spawn_blocking(rt, wait_on_a_queued_sibling, rt);

    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_int_eq((intptr_t)hf_future_value(f), HF_FUTURE_CANCELLED);
    hf_future_release(f);
    TU_EVENTUALLY(hf_runtime_stats(rt, &st) == 0 && st.io_blocked == 0 &&
                  st.io_queue_depth == 0 && st.io_threads == 1);
    hf_runtime_free(rt);
}
END_TEST

/* ---- waits on I/O threads ----------------------------------------------------------------- */

#define NPARENTS 8
static atomic_int parents_go;

static void *wait_on_own_child(void *arg, hf_error_t *err)
{
    hf_runtime_t *rt = arg;
    hf_future_t *child;
    intptr_t rc;
    (void)err;
    while (!atomic_load(&parents_go))       /* every parent is queued before any child */
        tu_sleep_ms(1);
    child = hf_spawn_blocking(rt, quick, NULL);
    rc = hf_future_wait(child, -1);
    hf_future_release(child);
    return (void *)rc;
}

/* Each parent waits on a child queued behind all the other parents, so every parent needs
 * a thread of its own and the children one more. The pool stopped at 2 * cap threads, all
 * asleep in waits on tasks queued behind them: a deadlock. */
START_TEST(io_threads_waiting_on_tasks_queued_behind_them_never_deadlock_the_pool)
{
    hf_runtime_t *rt = io_runtime(1, 0);
    hf_future_t *fs[NPARENTS];
    hf_runtime_stats_t st;

    atomic_store(&parents_go, 0);
    for (int i = 0; i < NPARENTS; i++)
        fs[i] = hf_spawn_blocking(rt, wait_on_own_child, rt);
    atomic_store(&parents_go, 1);
    for (int i = 0; i < NPARENTS; i++) {
        ck_assert_int_eq(tu_settle(fs[i]), HF_FUTURE_FULFILLED);
        ck_assert_int_eq((intptr_t)hf_future_value(fs[i]), 0);
        hf_future_release(fs[i]);
    }
    hf_runtime_stats(rt, &st);
    ck_assert_uint_gt(st.io_threads_peak, 2);       /* beyond the cap: one per waiter */
    ck_assert_uint_eq(st.io_threads_max, 1);
    TU_EVENTUALLY(hf_runtime_stats(rt, &st) == 0 && st.io_blocked == 0 &&
                  st.io_queue_depth == 0);
    hf_runtime_free(rt);
}
END_TEST

static Suite *io_suite(void)
{
    Suite *s = suite_create("io");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, blocking_tasks_run_on_io_threads_named_hfasync_io);
    tcase_add_test(tc, the_pool_grows_one_thread_per_blocked_task);
    tcase_add_test(tc, the_pool_never_exceeds_its_cap);
    tcase_add_test(tc, idle_io_threads_exit);
    tcase_add_test(tc, tasks_run_in_submission_order);
    tcase_add_test(tc, a_saturated_io_pool_does_not_slow_compute_work);
    tcase_add_test(tc, a_task_no_thread_can_be_started_for_is_cancelled_not_lost);
    tcase_add_test(tc, a_wait_on_a_task_queued_for_no_thread_ends_with_it_cancelled);
    tcase_add_test(tc, io_threads_waiting_on_tasks_queued_behind_them_never_deadlock_the_pool);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(io_suite)
