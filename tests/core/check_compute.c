/*
 * check_compute.c - the compute pool: threads, names, stealing, wake-ups, allocation.
 */
#include "common/testutil.h"

#include <unistd.h>

typedef struct seen {
    char name[16], os_name[16];
    hf_executor_t *ex;
    int worker;
} seen_t;

static void *who_am_i(void *arg, hf_error_t *err)
{
    seen_t *s = arg;
    (void)err;
    tu_thread_names(s->name, s->os_name);
    s->ex = hf_current_executor();
    s->worker = hf_current_worker();
    return NULL;
}

START_TEST(tasks_run_on_compute_threads_named_hfasync_cpu)
{
    hf_runtime_t *rt = tu_runtime(3);
    seen_t s;
    hf_future_t *f;

    memset(&s, 0, sizeof s);
    f = hf_async(hf_runtime_compute(rt), who_am_i, &s);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_ptr_eq(s.ex, hf_runtime_compute(rt));
    ck_assert_int_ge(s.worker, 0);
    ck_assert_int_lt(s.worker, 3);
    ck_assert_int_eq(strncmp(s.name, "hfasync-cpu/", 12), 0);
    ck_assert_int_eq(atoi(s.name + 12), s.worker);
    ck_assert_str_eq(s.os_name, s.name);            /* where the kernel knows names */
    ck_assert_ptr_null(hf_current_executor());
    ck_assert_int_eq(hf_current_worker(), -1);
    ck_assert_ptr_eq(hf_executor_runtime(hf_runtime_compute(rt)), rt);
    hf_future_release(f);
    hf_runtime_free(rt);
}
END_TEST

START_TEST(one_worker_per_online_cpu_by_default)
{
    hf_runtime_t *rt = hf_runtime_new(NULL);
    hf_runtime_stats_t st;
    ck_assert_ptr_nonnull(rt);
    ck_assert_int_eq(hf_runtime_stats(rt, &st), 0);
    ck_assert_uint_eq(st.compute_parallelism, (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
    ck_assert_uint_eq(st.compute_threads, st.compute_parallelism);
    ck_assert_uint_eq(st.compute_spares, 0);
    ck_assert_uint_eq(st.io_threads, 0);            /* I/O threads start on demand */
    ck_assert_uint_eq(st.io_threads_max, 64);
    hf_runtime_free(rt);
}
END_TEST

static atomic_int counter;

static void bump(void *arg)
{
    (void)arg;
    atomic_fetch_add(&counter, 1);
}

#define POSTS 200000

START_TEST(every_task_posted_from_outside_runs_once)
{
    hf_runtime_t *rt = tu_runtime(2);
    hf_runtime_stats_t st;

    counter = 0;
    for (int i = 0; i < POSTS; i++)
        ck_assert_int_eq(hf_executor_post(hf_runtime_compute(rt), bump, NULL), 0);
    TU_EVENTUALLY(atomic_load(&counter) == POSTS);
    hf_runtime_stats(rt, &st);
    ck_assert_uint_ge(st.compute_tasks_run, POSTS);
    ck_assert_int_eq(hf_executor_post(NULL, bump, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_executor_post(hf_runtime_compute(rt), NULL, NULL), HF_EINVAL);
    hf_runtime_free(rt);
    ck_assert_int_eq(atomic_load(&counter), POSTS);
}
END_TEST

/* Children pushed on one worker's deque each wait until two different workers have run
 * children: only a steal can let them finish. */
static atomic_int mask;

static void child(void *arg)
{
    (void)arg;
    atomic_fetch_or(&mask, 1 << hf_current_worker());
    while (atomic_load(&mask) != 3)         /* workers 0 and 1 */
        tu_sleep_ms(1);
    atomic_fetch_add(&counter, 1);
}

static void spawner(void *arg)
{
    hf_executor_t *ex = arg;
    for (int i = 0; i < 100; i++)
        hf_executor_post(ex, child, NULL);
}

START_TEST(idle_workers_steal_from_a_busy_one)
{
    hf_runtime_t *rt = tu_runtime(2);
    hf_runtime_stats_t st;

    counter = 0;
    mask = 0;
    hf_executor_post(hf_runtime_compute(rt), spawner, hf_runtime_compute(rt));
    TU_EVENTUALLY(atomic_load(&counter) == 100);
    hf_runtime_stats(rt, &st);
    ck_assert_uint_ge(st.compute_steals, 1);
    ck_assert_int_eq(atomic_load(&mask), 3);
    hf_runtime_free(rt);
}
END_TEST

START_TEST(idle_workers_park_and_a_submission_wakes_one)
{
    hf_runtime_t *rt = tu_runtime(2);
    hf_runtime_stats_t st;
    uint64_t wakeups;

    counter = 0;
    /* a parker joins the idle stack (compute_idle) just before it counts its park */
    TU_EVENTUALLY(hf_runtime_stats(rt, &st) == 0 && st.compute_idle == 2 &&
                  st.compute_parks >= 2);
    ck_assert_uint_eq(st.compute_running, 0);
    wakeups = st.compute_wakeups;
    hf_executor_post(hf_runtime_compute(rt), bump, NULL);
    TU_EVENTUALLY(atomic_load(&counter) == 1);
    hf_runtime_stats(rt, &st);
    ck_assert_uint_ge(st.compute_wakeups, wakeups + 1);
    hf_runtime_free(rt);
}
END_TEST

static hf_promise_t *round_done;
static atomic_int round_left;

static void round_task(void *arg)
{
    (void)arg;
    if (atomic_fetch_sub(&round_left, 1) == 1)
        hf_promise_resolve(round_done, NULL, NULL);
}

static void run_round(hf_runtime_t *rt, int n)
{
    hf_future_t *f;
    round_done = hf_promise_new();
    f = hf_promise_future(round_done);
    atomic_store(&round_left, n);
    for (int i = 0; i < n; i++)
        hf_executor_post(hf_runtime_compute(rt), round_task, NULL);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    hf_future_release(f);
    hf_promise_free(round_done);
}

START_TEST(steady_state_submission_does_not_malloc_per_task)
{
    hf_runtime_stats_t before, after;
    hf_runtime_t *rt;
    const int rounds = 60, per_round = 1000;

    rt = tu_runtime(2);
    hf_runtime_stats(rt, &before);
    for (int r = 0; r < rounds; r++)
        run_round(rt, per_round);
    hf_runtime_stats(rt, &after);
#ifdef HF_SANITIZE
    /* Sanitizer builds bypass the free lists on purpose (every object is malloc'd so
     * ASan sees each use after free): the counter must then see every task. */
    ck_assert_uint_ge(after.obj_mallocs - before.obj_mallocs, (uint64_t)rounds * per_round);
#else
    /* 60,000 tasks, at most 1,000 in flight. Objects migrate from the submitting thread to
     * the workers' free lists and come back through the depot; each of the three threads
     * keeps at most 2 * 64 objects of a class. So the lists never need more than the
     * tasks in flight plus those, whatever the number of tasks: no malloc per task. */
    ck_assert_uint_le(after.obj_mallocs - before.obj_mallocs,
                      (uint64_t)per_round + 3 * 2 * 64 + 64 + 2 * rounds);
#endif
    hf_runtime_free(rt);
}
END_TEST

static void *spawn_children(void *arg, hf_error_t *err)
{
    hf_executor_t *ex = hf_current_executor();
    static seen_t seen[8];
    hf_future_t *kids[8];
    intptr_t sum = 0;
    (void)arg;
    (void)err;
    for (int i = 0; i < 8; i++)
        kids[i] = hf_async(ex, who_am_i, &seen[i]);
    for (int i = 0; i < 8; i++) {
        hf_future_wait(kids[i], -1);
        sum += hf_future_state(kids[i]) == HF_FUTURE_FULFILLED;
        hf_future_release(kids[i]);
    }
    return (void *)sum;
}

START_TEST(tasks_spawned_by_a_worker_complete_and_are_joined)
{
    hf_runtime_t *rt = tu_runtime(2);
    hf_future_t *f = hf_async(hf_runtime_compute(rt), spawn_children, NULL);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_int_eq((intptr_t)hf_future_value(f), 8);
    hf_future_release(f);
    hf_runtime_free(rt);
}
END_TEST

/* A kernel that keeps resubmitting itself from its worker (so always into `next`) until
 * told to stop: what an inference loop of short chunks looks like. */
static atomic_int chain_stop, chain_links;
static hf_executor_t *chain_ex;

static void chain_link(void *arg)
{
    (void)arg;
    atomic_fetch_add(&chain_links, 1);
    if (!atomic_load(&chain_stop))
        ck_assert_int_eq(hf_executor_post(chain_ex, chain_link, NULL), 0);
}

static void stop_chains(void *arg)
{
    (void)arg;
    atomic_store(&chain_stop, 1);
}

START_TEST(a_self_resubmitting_chain_does_not_starve_outside_submissions)
{
    hf_runtime_t *rt = tu_runtime(2);
    chain_ex = hf_runtime_compute(rt);
    atomic_store(&chain_stop, 0);
    atomic_store(&chain_links, 0);
    /* one chain per worker: both are always busy with their own `next` */
    ck_assert_int_eq(hf_executor_post(chain_ex, chain_link, NULL), 0);
    ck_assert_int_eq(hf_executor_post(chain_ex, chain_link, NULL), 0);
    TU_EVENTUALLY(atomic_load(&chain_links) > 10000);
    /* a task from outside (as an I/O completion would be) still gets to run */
    ck_assert_int_eq(hf_executor_post(chain_ex, stop_chains, NULL), 0);
    TU_EVENTUALLY(atomic_load(&chain_stop) == 1);
    hf_runtime_free(rt);
}
END_TEST

/* "Spawn one child, do my own half, then join" on an idle pool: the child must run on the
 * other worker while its parent is still busy with its half, although that worker was
 * parked when the child was spawned. The parent's half is a loop that sleeps in the OS
 * (not in the library, which would let it run the child itself) until the child has run,
 * for at most 10 s: the value says whether the halves overlapped. */
static atomic_int half_child_worker, half_parent_worker;

static void *half_child(void *arg, hf_error_t *err)
{
    (void)arg;
    (void)err;
    atomic_store(&half_child_worker, hf_current_worker());
    return NULL;
}

static void *half_parent(void *arg, hf_error_t *err)
{
    hf_executor_t *ex = arg;
    hf_future_t *c = hf_async(ex, half_child, NULL);
    uint64_t until = tu_now_ms() + 10000;
    intptr_t overlapped = 0;

    (void)err;
    atomic_store(&half_parent_worker, hf_current_worker());
    ck_assert_ptr_nonnull(c);
    while (tu_now_ms() < until && !(overlapped = atomic_load(&half_child_worker) >= 0))
        tu_sleep_ms(1);
    ck_assert_int_eq(tu_settle(c), HF_FUTURE_FULFILLED);
    hf_future_release(c);
    return (void *)overlapped;
}

START_TEST(a_child_spawned_by_a_busy_worker_runs_on_an_idle_one)
{
    hf_runtime_t *rt = tu_runtime(2);
    hf_runtime_stats_t st;
    hf_future_t *f;

    atomic_store(&half_child_worker, -1);
    TU_EVENTUALLY(hf_runtime_stats(rt, &st) == 0 && st.compute_idle == 2 &&
                  st.compute_parks >= 2);
    f = hf_async(hf_runtime_compute(rt), half_parent, hf_runtime_compute(rt));
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_msg((intptr_t)hf_future_value(f) == 1,
                  "the child waited for its parent's half: the halves ran one after the other");
    ck_assert_int_ge(atomic_load(&half_child_worker), 0);
    ck_assert_int_ne(atomic_load(&half_child_worker), atomic_load(&half_parent_worker));
    hf_future_release(f);
    hf_runtime_free(rt);
}
END_TEST

static Suite *compute_suite(void)
{
    Suite *s = suite_create("compute");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, tasks_run_on_compute_threads_named_hfasync_cpu);
    tcase_add_test(tc, one_worker_per_online_cpu_by_default);
    tcase_add_test(tc, every_task_posted_from_outside_runs_once);
    tcase_add_test(tc, idle_workers_steal_from_a_busy_one);
    tcase_add_test(tc, idle_workers_park_and_a_submission_wakes_one);
    tcase_add_test(tc, steady_state_submission_does_not_malloc_per_task);
    tcase_add_test(tc, tasks_spawned_by_a_worker_complete_and_are_joined);
    tcase_add_test(tc, a_self_resubmitting_chain_does_not_starve_outside_submissions);
    tcase_add_test(tc, a_child_spawned_by_a_busy_worker_runs_on_an_idle_one);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(compute_suite)
