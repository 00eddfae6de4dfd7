/*
 * check_wait.c - hf_future_wait from plain threads, compute workers and I/O threads.
 */
#include <sched.h>

#include "common/testutil.h"
#include "core/future_impl.h"

START_TEST(a_plain_thread_waits_with_a_timeout)
{
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);

    ck_assert_int_eq(hf_future_wait(f, 0), HF_ETIMEDOUT);       /* a poll */
    ck_assert_int_eq(hf_future_wait(f, 30), HF_ETIMEDOUT);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_PENDING);
    hf_promise_resolve(p, NULL, NULL);
    ck_assert_int_eq(hf_future_wait(f, 0), 0);
    ck_assert_int_eq(hf_future_wait(f, -1), 0);
    hf_promise_free(p);
    hf_future_release(f);
}
END_TEST

START_TEST(wait_returns_zero_for_every_settled_state)
{
    hf_promise_t *p = hf_promise_new();
    hf_future_t *c = hf_promise_future(p);
    hf_future_t *ok = hf_future_resolved(NULL, NULL);
    hf_future_t *bad = hf_future_rejected(HF_EIO, 0, "x");
    hf_future_cancel(c);
    ck_assert_int_eq(hf_future_wait(ok, -1), 0);
    ck_assert_int_eq(hf_future_wait(bad, -1), 0);
    ck_assert_int_eq(hf_future_wait(c, -1), 0);
    hf_future_release(ok);
    hf_future_release(bad);
    hf_future_release(c);
    hf_promise_free(p);
}
END_TEST

static void *sleeper(void *arg)
{
    tu_sleep_ms(20);
    hf_promise_resolve(arg, (void *)(intptr_t)5, NULL);
    return NULL;
}

START_TEST(a_plain_thread_sleeps_until_another_thread_settles)
{
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);
    pthread_t t;
    pthread_create(&t, NULL, sleeper, p);
    ck_assert_int_eq(hf_future_wait(f, -1), 0);
    ck_assert_int_eq((intptr_t)hf_future_value(f), 5);
    pthread_join(t, NULL);
    hf_promise_free(p);
    hf_future_release(f);
}
END_TEST

/* ---- P workers x 100 tasks, each waiting on a child that cannot run on the pool -------
 * The children are I/O tasks held behind a gate. The gate opens only once `P` parents are
 * running at the same time while another parent is blocked in its wait, which can happen
 * only if blocked workers lend their places: to a spare thread, or by running queued work
 * (another parent) on their own stack while they wait. Without either, the test hangs. */

#define PER_WORKER 100

static hf_runtime_t *wrt;
static unsigned P;
static hf_promise_t *gate;
static hf_future_t *gate_f;
static atomic_int active, blocked, max_active_while_blocked, done_parents;
/* parents blocked in their wait, per worker index; a parent that starts on a worker whose
 * count is not 0 runs inside that worker's wait (helping) */
#define MAX_WORKERS 256
static atomic_int blocked_on[MAX_WORKERS], helped;

static void *child_io(void *arg, hf_error_t *err)
{
    (void)arg;
    (void)err;
    hf_future_wait(gate_f, -1);
    return (void *)(intptr_t)1;
}

static void parent(void *arg)
{
    hf_future_t *kid;
    uint64_t until;
    int a, me = hf_current_worker();
    (void)arg;

    ck_assert(me >= 0 && me < MAX_WORKERS);
    if (atomic_load(&blocked_on[me]) > 0)
        atomic_store(&helped, 1);
    a = atomic_fetch_add(&active, 1) + 1;
    if (atomic_load(&blocked) > 0) {
        int m = atomic_load(&max_active_while_blocked);
        while (a > m && !atomic_compare_exchange_weak(&max_active_while_blocked, &m, a))
            ;
        if (a >= (int)P && hf_future_state(gate_f) == HF_FUTURE_PENDING)
            hf_promise_resolve(gate, NULL, NULL);
    }
    /* stay active a little, so that parents overlap */
    until = tu_now_ms() + 2;
    while (tu_now_ms() < until && hf_future_state(gate_f) == HF_FUTURE_PENDING)
        ;
    kid = hf_spawn_blocking(wrt, child_io, NULL);
    atomic_fetch_sub(&active, 1);
    atomic_fetch_add(&blocked, 1);
    atomic_fetch_add(&blocked_on[me], 1);
    ck_assert_int_eq(hf_future_wait(kid, -1), 0);
    atomic_fetch_sub(&blocked_on[me], 1);
    atomic_fetch_sub(&blocked, 1);
    ck_assert_int_eq((intptr_t)hf_future_value(kid), 1);
    hf_future_release(kid);
    atomic_fetch_add(&done_parents, 1);
}

START_TEST(workers_blocked_in_waits_lend_their_places_and_all_tasks_complete)
{
    hf_runtime_stats_t st;

    wrt = tu_runtime(0);
    hf_runtime_stats(wrt, &st);
    P = st.compute_parallelism;
    gate = hf_promise_new();
    gate_f = hf_promise_future(gate);
    active = blocked = max_active_while_blocked = done_parents = 0;
    for (unsigned i = 0; i < P * PER_WORKER; i++)
        hf_executor_post(hf_runtime_compute(wrt), parent, NULL);
    TU_EVENTUALLY(atomic_load(&done_parents) == (int)(P * PER_WORKER));
    ck_assert_int_eq(hf_future_state(gate_f), HF_FUTURE_FULFILLED);
    ck_assert_int_ge(atomic_load(&max_active_while_blocked), (int)P);
    hf_runtime_stats(wrt, &st);
    /* the places were lent one way or the other (which one depends on the timing) */
    ck_assert_msg(st.compute_spares_peak >= 1 || atomic_load(&helped),
                  "no spare started and no wait ran another parent");
    ck_assert_uint_eq(st.compute_blocked, 0);
    hf_future_release(gate_f);
    hf_promise_free(gate);
    hf_runtime_free(wrt);
}
END_TEST

/* ---- a spare takes the place of a blocked worker --------------------------------------- */

static hf_promise_t *held;
static atomic_int waiter_index = -1, later_index = -1;

static void *wait_for_held(void *arg, hf_error_t *err)
{
    (void)arg;
    (void)err;
    atomic_store(&waiter_index, hf_current_worker());
    return (void *)(intptr_t)hf_future_wait(hf_promise_future(held), -1);
}

static void *release_held(void *arg, hf_error_t *err)
{
    (void)arg;
    (void)err;
    atomic_store(&later_index, hf_current_worker());
    hf_promise_resolve(held, NULL, NULL);
    return NULL;
}

START_TEST(work_posted_while_the_only_worker_is_blocked_runs_on_a_spare)
{
    hf_runtime_t *rt = tu_runtime(1);
    hf_runtime_stats_t st;
    hf_future_t *w, *r;

    held = hf_promise_new();
    w = hf_async(hf_runtime_compute(rt), wait_for_held, NULL);
    /* the worker is asleep in its wait, with nothing queued it could have run instead */
    TU_EVENTUALLY(hf_runtime_stats(rt, &st) == 0 && st.compute_blocked == 1);
    r = hf_async(hf_runtime_compute(rt), release_held, NULL);
    ck_assert_int_eq(tu_settle(r), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(tu_settle(w), HF_FUTURE_FULFILLED);
    ck_assert_int_eq((intptr_t)hf_future_value(w), 0);
    ck_assert_int_eq(atomic_load(&waiter_index), 0);
    ck_assert_int_eq(atomic_load(&later_index), 1);     /* a second thread: the spare */
    hf_runtime_stats(rt, &st);
    ck_assert_uint_eq(st.compute_parallelism, 1);
    ck_assert_uint_eq(st.compute_spares_peak, 1);
    ck_assert_uint_eq(st.compute_blocked, 0);
    hf_future_release(r);
    hf_future_release(w);
    hf_promise_free(held);
    hf_runtime_free(rt);
}
END_TEST

/* ---- nested waits ----------------------------------------------------------------------- */

static void *nest(void *arg, hf_error_t *err)
{
    intptr_t depth = (intptr_t)arg;
    hf_future_t *kid;
    intptr_t below;
    (void)err;
    if (depth == 0)
        return (void *)0;
    kid = hf_async(hf_current_executor(), nest, (void *)(depth - 1));
    if (hf_future_wait(kid, -1) != 0)
        return (void *)(intptr_t)-1000;
    below = (intptr_t)hf_future_value(kid);
    hf_future_release(kid);
    return (void *)(below + 1);
}

static void nested(unsigned threads)
{
    hf_runtime_t *rt = tu_runtime(threads);
    hf_future_t *f = hf_async(hf_runtime_compute(rt), nest, (void *)(intptr_t)64);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_int_eq((intptr_t)hf_future_value(f), 64);
    hf_future_release(f);
    hf_runtime_free(rt);
}

START_TEST(waits_nested_64_deep_complete_on_one_worker)
{
    nested(1);
}
END_TEST

START_TEST(waits_nested_64_deep_complete_on_the_default_pool)
{
    nested(0);
}
END_TEST

static void *fib(void *arg, hf_error_t *err)
{
    intptr_t n = (intptr_t)arg, a, b;
    hf_future_t *kid;
    (void)err;
    if (n < 2)
        return (void *)n;
    kid = hf_async(hf_current_executor(), fib, (void *)(n - 1));
    b = (intptr_t)fib((void *)(n - 2), err);
    hf_future_wait(kid, -1);
    a = (intptr_t)hf_future_value(kid);
    hf_future_release(kid);
    return (void *)(a + b);
}

START_TEST(fork_join_fib_through_futures_is_correct)
{
    hf_runtime_t *rt = tu_runtime(0);
    hf_future_t *f = hf_async(hf_runtime_compute(rt), fib, (void *)(intptr_t)22);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_int_eq((intptr_t)hf_future_value(f), 17711);
    hf_future_release(f);
    hf_runtime_free(rt);
}
END_TEST

static void *timed_wait_on_worker(void *arg, hf_error_t *err)
{
    hf_future_t *never = arg;
    (void)err;
    return (void *)(intptr_t)hf_future_wait(never, 30);
}

START_TEST(a_worker_waits_with_a_timeout_and_gets_its_place_back)
{
    hf_runtime_t *rt = tu_runtime(2);
    hf_promise_t *p = hf_promise_new();
    hf_future_t *never = hf_promise_future(p);
    hf_future_t *f = hf_async(hf_runtime_compute(rt), timed_wait_on_worker, never);
    hf_runtime_stats_t st;

    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_int_eq((intptr_t)hf_future_value(f), HF_ETIMEDOUT);
    hf_runtime_stats(rt, &st);
    ck_assert_uint_eq(st.compute_blocked, 0);
    hf_future_release(f);
    hf_future_release(never);
    hf_promise_free(p);
    hf_runtime_free(rt);
}
END_TEST

/* ---- a worker's timeout bounds its helping ------------------------------------------- */

#define HELPED 100

typedef struct helping {
    hf_runtime_t *rt;
    hf_future_t *never;
    atomic_int ran;             /* spawned tasks that have run */
    int rc;                     /* what the timed wait returned */
    int ran_when_it_returned;
} helping_t;

static void *spawned_5ms(void *arg, hf_error_t *err)
{
    helping_t *h = arg;
    (void)err;
    tu_sleep_ms(5);
    atomic_fetch_add(&h->ran, 1);
    return NULL;
}

static void *spawn_then_wait_10ms(void *arg, hf_error_t *err)
{
    helping_t *h = arg;
    hf_future_t *fs[HELPED];
    (void)err;

    for (int i = 0; i < HELPED; i++)
        fs[i] = hf_async(hf_runtime_compute(h->rt), spawned_5ms, h);
    h->rc = hf_future_wait(h->never, 10);
    h->ran_when_it_returned = atomic_load(&h->ran);
    for (int i = 0; i < HELPED; i++) {
        hf_future_wait(fs[i], -1);
        hf_future_release(fs[i]);
    }
    return NULL;
}

/* The only worker queues 100 tasks of 5 ms, then waits 10 ms on a future nobody settles:
 * it may run a few of them while it waits, not all 100 (half a second). */
START_TEST(a_workers_wait_stops_helping_once_its_timeout_passes)
{
    static helping_t h;
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f;

    h.rt = tu_runtime(1);
    h.never = hf_promise_future(p);
    atomic_store(&h.ran, 0);
    f = hf_async(hf_runtime_compute(h.rt), spawn_then_wait_10ms, &h);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(h.rc, HF_ETIMEDOUT);
    ck_assert_int_lt(h.ran_when_it_returned, HELPED);
    ck_assert_int_eq(atomic_load(&h.ran), HELPED);      /* the rest ran afterwards */
    hf_future_release(f);
    hf_future_release(h.never);
    hf_promise_free(p);
    hf_runtime_free(h.rt);
}
END_TEST

static void *resolve_after_50ms(void *arg)
{
    tu_sleep_ms(50);
    hf_promise_resolve(arg, (void *)(intptr_t)9, NULL);
    return NULL;
}

static void *wait_huge_on_worker(void *arg, hf_error_t *err)
{
    (void)err;
    return (void *)(intptr_t)hf_future_wait(arg, INT64_MAX);
}

/* INT64_MAX ms does not fit in nanoseconds: it is clamped, never wrapped to a deadline in
 * the past (which returned HF_ETIMEDOUT at once). */
START_TEST(a_timeout_too_large_for_nanoseconds_waits_until_settled)
{
    const int64_t huge[] = { INT64_MAX, INT64_MAX / 2, INT64_MAX / 1000 + 1 };
    hf_runtime_t *rt = tu_runtime(1);

    for (int i = 0; i < 3; i++) {
        hf_promise_t *p = hf_promise_new();
        hf_future_t *f = hf_promise_future(p), *w;
        pthread_t t;

        pthread_create(&t, NULL, resolve_after_50ms, p);
        ck_assert_int_eq(hf_future_wait(f, huge[i]), 0);
        ck_assert_int_eq(hf_future_state(f), HF_FUTURE_FULFILLED);
        pthread_join(t, NULL);
        hf_promise_free(p);
        hf_future_release(f);

        /* the same on a compute worker (it helps, then sleeps) */
        p = hf_promise_new();
        f = hf_promise_future(p);
        w = hf_async(hf_runtime_compute(rt), wait_huge_on_worker, f);
        pthread_create(&t, NULL, resolve_after_50ms, p);
        ck_assert_int_eq(tu_settle(w), HF_FUTURE_FULFILLED);
        ck_assert_int_eq((intptr_t)hf_future_value(w), 0);
        pthread_join(t, NULL);
        hf_future_release(w);
        hf_promise_free(p);
        hf_future_release(f);
    }
    hf_runtime_free(rt);
}
END_TEST

static void *wait_on_own_bound_promise(void *arg, hf_error_t *err)
{
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);
    hf_future_t *t;
    int *rc = arg;
    (void)err;

    hf_promise_bind_thread(p);          /* e.g. a transfer only this thread's loop drives */
    rc[0] = hf_future_wait(f, -1);
    rc[1] = hf_future_wait(f, 10);
    /* A timeout of it is not stuck: the timer can settle it. */
    t = hf_future_timeout(f, 10);
    rc[2] = hf_future_wait(t, -1);
    hf_promise_resolve(p, NULL, NULL);
    rc[3] = hf_future_wait(f, -1);
    hf_future_release(t);
    hf_future_release(f);
    hf_promise_free(p);
    return NULL;
}

START_TEST(a_wait_that_only_the_waiting_io_thread_could_end_is_edeadlk)
{
    hf_runtime_t *rt = tu_runtime(2);
    int rc[4] = { 0, 0, 0, 0 };
    hf_future_t *f = hf_spawn_blocking(rt, wait_on_own_bound_promise, rc);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(rc[0], HF_EDEADLK);
    ck_assert_int_eq(rc[1], HF_EDEADLK);
    ck_assert_int_eq(rc[2], 0);
    ck_assert_int_eq(rc[3], 0);
    hf_future_release(f);
    hf_runtime_free(rt);
}
END_TEST

static void passthrough(hf_future_t *done, hf_promise_t *next, void *arg)
{
    (void)arg;
    hf_promise_adopt(next, done);
}

static void *wait_dep(void *arg, hf_error_t *err)
{
    hf_runtime_t *rt = arg;
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);
    hf_future_t *g = hf_future_then(f, HF_INLINE, passthrough, NULL);
    hf_future_t *h = hf_future_then(g, hf_runtime_compute(rt), passthrough, NULL);
    intptr_t rc;
    (void)err;
    hf_promise_bind_thread(p);
    rc = hf_future_wait(h, -1);     /* h waits on g waits on f, bound to this thread */
    hf_promise_resolve(p, NULL, NULL);
    hf_future_wait(h, -1);
    hf_future_release(h);
    hf_future_release(g);
    hf_future_release(f);
    hf_promise_free(p);
    return (void *)rc;
}

START_TEST(a_wait_on_a_dependent_of_a_bound_promise_is_edeadlk)
{
    hf_runtime_t *rt = tu_runtime(2);
    hf_future_t *f = hf_spawn_blocking(rt, wait_dep, rt);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_int_eq((intptr_t)hf_future_value(f), HF_EDEADLK);
    hf_future_release(f);
    hf_runtime_free(rt);
}
END_TEST

static void *wait_forever(void *arg, hf_error_t *err)
{
    atomic_int *rc = arg;
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);
    (void)err;
    atomic_store(rc, 1);
    atomic_store(rc, hf_future_wait(f, -1));
    hf_future_release(f);
    hf_promise_free(p);
    return NULL;
}

START_TEST(freeing_the_runtime_interrupts_waits_on_its_threads)
{
    hf_runtime_t *rt = tu_runtime(2);
    atomic_int rc_cpu = 0, rc_io = 0;
    hf_future_t *a = hf_async(hf_runtime_compute(rt), wait_forever, &rc_cpu);
    hf_future_t *b = hf_spawn_blocking(rt, wait_forever, &rc_io);
    TU_EVENTUALLY(atomic_load(&rc_cpu) == 1 && atomic_load(&rc_io) == 1);
    hf_runtime_free(rt);
    ck_assert_int_eq(atomic_load(&rc_cpu), HF_ECANCELED);
    ck_assert_int_eq(atomic_load(&rc_io), HF_ECANCELED);
    ck_assert_int_eq(hf_future_state(a), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(hf_future_state(b), HF_FUTURE_FULFILLED);
    hf_future_release(a);
    hf_future_release(b);
}
END_TEST

typedef struct pingpong {
    hf_promise_t *ping[1000], *pong[1000];
} pingpong_t;

static void *ponger(void *arg)
{
    pingpong_t *pp = arg;
    for (int i = 0; i < 1000; i++) {
        hf_future_t *f = hf_promise_future(pp->ping[i]);
        hf_future_wait(f, -1);
        hf_promise_resolve(pp->pong[i], (void *)((intptr_t)hf_future_value(f) + 1), NULL);
        hf_future_release(f);
    }
    return NULL;
}

START_TEST(a_thousand_round_trips_between_two_threads)
{
    static pingpong_t pp;
    pthread_t t;
    for (int i = 0; i < 1000; i++) {
        pp.ping[i] = hf_promise_new();
        pp.pong[i] = hf_promise_new();
    }
    pthread_create(&t, NULL, ponger, &pp);
    for (int i = 0; i < 1000; i++) {
        hf_future_t *f = hf_promise_future(pp.pong[i]);
        hf_promise_resolve(pp.ping[i], (void *)(intptr_t)i, NULL);
        ck_assert_int_eq(hf_future_wait(f, TU_DEADLINE_MS), 0);
        ck_assert_int_eq((intptr_t)hf_future_value(f), i + 1);
        hf_future_release(f);
    }
    pthread_join(t, NULL);
    for (int i = 0; i < 1000; i++) {
        hf_promise_free(pp.ping[i]);
        hf_promise_free(pp.pong[i]);
    }
}
END_TEST


/* ---- contract audit: timeouts on pool threads ---------------------------------------------- */

static void *io_waits_with_timeouts(void *arg, hf_error_t *err)
{
    int *rc = arg;
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);
    (void)err;
    rc[0] = hf_future_wait(f, 0);
    rc[1] = hf_future_wait(f, 20);
    hf_promise_resolve(p, NULL, NULL);
    rc[2] = hf_future_wait(f, 20);
    hf_future_release(f);
    hf_promise_free(p);
    return NULL;
}

static void *noop_task(void *arg, hf_error_t *err)
{
    (void)err;
    return arg;
}

START_TEST(an_io_thread_waits_with_a_timeout_and_counts_again_against_its_cap)
{
    hf_runtime_config_t cfg;
    hf_runtime_t *rt;
    hf_runtime_stats_t st;
    int rc[3] = { 1, 1, 1 };
    hf_future_t *f, *g;

    memset(&cfg, 0, sizeof cfg);
    cfg.compute_threads = 1;
    cfg.io_threads_max = 1;
    rt = hf_runtime_new(&cfg);
    ck_assert_ptr_nonnull(rt);
    f = hf_spawn_blocking(rt, io_waits_with_timeouts, rc);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(rc[0], HF_ETIMEDOUT);
    ck_assert_int_eq(rc[1], HF_ETIMEDOUT);
    ck_assert_int_eq(rc[2], 0);
    ck_assert_int_eq(hf_runtime_stats(rt, &st), 0);
    ck_assert_uint_eq(st.io_blocked, 0);
    g = hf_spawn_blocking(rt, noop_task, NULL);
    ck_assert_int_eq(tu_settle(g), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(hf_runtime_stats(rt, &st), 0);
    ck_assert_uint_le(st.io_threads_peak, 1);
    hf_future_release(f);
    hf_future_release(g);
    hf_runtime_free(rt);
}
END_TEST

static void *where_task(void *arg, hf_error_t *err)
{
    (void)arg;
    (void)err;
    return (void *)(intptr_t)hf_current_worker();
}

static void *worker_polls(void *arg, hf_error_t *err)
{
    int *out = arg;
    hf_promise_t *p = hf_promise_new();
    hf_future_t *pending = hf_promise_future(p);
    hf_future_t *child = hf_async(hf_current_executor(), where_task, NULL);
    (void)err;
    out[0] = hf_future_wait(pending, 0);
    out[1] = hf_future_state(child) == HF_FUTURE_PENDING;   /* a poll runs no task */
    out[2] = hf_future_wait(child, -1);
    out[1] &= (intptr_t)hf_future_value(child) == hf_current_worker();   /* it ran the child */
    out[3] = hf_future_wait(pending, 10);
    hf_future_release(child);
    hf_future_release(pending);
    hf_promise_free(p);
    return NULL;
}

START_TEST(a_compute_workers_zero_timeout_wait_only_polls)
{
    hf_runtime_t *rt = tu_runtime(1);
    int out[4] = { 1, 0, 1, 1 };
    hf_future_t *f = hf_async(hf_runtime_compute(rt), worker_polls, out);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(out[0], HF_ETIMEDOUT);
    ck_assert_int_eq(out[1], 1);
    ck_assert_int_eq(out[2], 0);
    ck_assert_int_eq(out[3], HF_ETIMEDOUT);
    hf_future_release(f);
    hf_runtime_free(rt);
}
END_TEST

START_TEST(a_null_future_is_einval_and_any_negative_timeout_waits_until_settled)
{
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);
    pthread_t t;

    ck_assert_int_eq(hf_future_wait(NULL, 0), HF_EINVAL);
    ck_assert_int_eq(hf_future_wait(NULL, -1), HF_EINVAL);
    pthread_create(&t, NULL, sleeper, p);
    ck_assert_int_eq(hf_future_wait(f, INT64_MIN), 0);
    ck_assert_int_eq((intptr_t)hf_future_value(f), 5);
    pthread_join(t, NULL);
    hf_promise_free(p);
    hf_future_release(f);
}
END_TEST


static void wait_fwd(hf_future_t *done, hf_promise_t *next, void *arg)
{
    (void)arg;
    hf_promise_adopt(next, done);
}

typedef struct self_wait {
    _Atomic(hf_future_t *) self;
    int rc_self, rc_dep;
} self_wait_t;

static void *wait_on_own_future(void *arg, hf_error_t *err)
{
    self_wait_t *s = arg;
    hf_future_t *me, *dep;
    (void)err;
    while ((me = atomic_load(&s->self)) == NULL)
        tu_sleep_ms(1);
    dep = hf_future_then(me, HF_INLINE, wait_fwd, NULL);
    s->rc_self = hf_future_wait(me, 30000);
    s->rc_dep = hf_future_wait(dep, 30000);
    hf_future_release(dep);
    return NULL;
}

/* A task waiting on its own future, or on a continuation of it, gets HF_EDEADLK at once
 * (the timeout would otherwise run out), on either pool. */
START_TEST(an_async_task_waiting_on_its_own_future_is_edeadlk)
{
    hf_runtime_t *rt = tu_runtime(1);
    for (int i = 0; i < 2; i++) {
        self_wait_t s = { NULL, 1, 1 };
        hf_executor_t *ex = i ? hf_runtime_io(rt) : hf_runtime_compute(rt);
        hf_future_t *f = hf_async(ex, wait_on_own_future, &s);
        atomic_store(&s.self, f);
        ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
        ck_assert_int_eq(s.rc_self, HF_EDEADLK);
        ck_assert_int_eq(s.rc_dep, HF_EDEADLK);
        hf_future_release(f);
    }
    hf_runtime_free(rt);
}
END_TEST

/* ---- a wait returns once the settlement is over --------------------------------------- */

static atomic_int slow_hook_done;

static void slow_cancel_hook(void *arg)
{
    (void)arg;
    tu_sleep_ms(100);
    atomic_store(&slow_hook_done, 1);
}

static void *cancel_it(void *arg)
{
    hf_future_cancel(arg);
    return NULL;
}

/* A waiter that sees the state already published (it spins, it does not sleep) still
 * returns only after the producer's cancel hook, which runs on the cancelling thread:
 * "what settlement runs synchronously has happened when a wait returns" (model.h counts
 * on it: a failed load has cancelled its downloads by then). A poll in between is
 * HF_ETIMEDOUT, or 0 only once the hook is over. */
START_TEST(a_wait_that_finds_the_state_published_returns_after_the_hook)
{
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);
    pthread_t t;
    int polled, done_after_poll;

    atomic_store(&slow_hook_done, 0);
    ck_assert_int_eq(hf_promise_on_cancel(p, slow_cancel_hook, NULL), 0);
    ck_assert_int_eq(pthread_create(&t, NULL, cancel_it, f), 0);
    while (hf_future_state(f) == HF_FUTURE_PENDING)
        sched_yield();
    polled = hf_future_wait(f, 0);
    done_after_poll = atomic_load(&slow_hook_done);
    ck_assert_msg(polled == HF_ETIMEDOUT || (polled == 0 && done_after_poll),
                  "poll %d with the hook done %d", polled, done_after_poll);
    ck_assert_int_eq(hf_future_wait(f, -1), 0);
    ck_assert_int_eq(atomic_load(&slow_hook_done), 1);
    pthread_join(t, NULL);
    hf_future_release(f);
    hf_promise_free(p);
}
END_TEST

static atomic_int own_wait_rc, own_poll_rc;

static void hook_waits_on_its_own_future(void *arg)
{
    atomic_store(&own_poll_rc, hf_future_wait(arg, 0));
    atomic_store(&own_wait_rc, hf_future_wait(arg, 10000));
}

static void cont_waits_on_its_input(hf_future_t *done, hf_promise_t *next, void *arg)
{
    (void)arg;
    atomic_store(&own_wait_rc, hf_future_wait(done, 10000));
    hf_promise_resolve(next, NULL, NULL);
}

static void *waits_on_it(void *arg)
{
    atomic_store(&own_poll_rc, hf_future_wait(arg, 10000));
    return NULL;
}

/* An inline continuation that has another thread wait on its input, and joins it. */
static void cont_hands_its_input_to_a_thread(hf_future_t *done, hf_promise_t *next, void *arg)
{
    pthread_t t;
    (void)arg;
    if (pthread_create(&t, NULL, waits_on_it, done) == 0)
        pthread_join(t, NULL);
    hf_promise_resolve(next, NULL, NULL);
}

/* Resolve a new promise whose future has the HF_INLINE continuation `fn`, which records
 * the result of its wait in *rc (set to 1 first): that result, the continuation done. */
static int inline_cont_wait_rc(hf_then_fn fn, atomic_int *rc)
{
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);
    hf_future_t *g = hf_future_then(f, HF_INLINE, fn, NULL);

    atomic_store(rc, 1);
    ck_assert_ptr_nonnull(g);
    hf_promise_resolve(p, NULL, NULL);
    ck_assert_int_eq(hf_future_state(g), HF_FUTURE_FULFILLED);
    hf_future_release(g);
    hf_future_release(f);
    hf_promise_free(p);
    return atomic_load(rc);
}

/* Code that the settlement runs (a cancel hook) and that waits on the future being settled
 * finds it settled at once: it is the thread that would end the settlement, so it must
 * not wait for that (it would time out, 10 s later). Continuations, HF_INLINE ones
 * included, run once the settlement is over: one waiting on its input, or having another
 * thread wait on it, finds it settled too. */
START_TEST(a_wait_inside_the_settlement_on_its_own_future_returns_at_once)
{
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);

    atomic_store(&own_wait_rc, 1);
    atomic_store(&own_poll_rc, 1);
    ck_assert_int_eq(hf_promise_on_cancel(p, hook_waits_on_its_own_future, f), 0);
    hf_future_cancel(f);
    ck_assert_int_eq(atomic_load(&own_poll_rc), 0);
    ck_assert_int_eq(atomic_load(&own_wait_rc), 0);
    hf_future_release(f);
    hf_promise_free(p);

    ck_assert_int_eq(inline_cont_wait_rc(cont_waits_on_its_input, &own_wait_rc), 0);
    ck_assert_int_eq(inline_cont_wait_rc(cont_hands_its_input_to_a_thread, &own_poll_rc), 0);
}
END_TEST

static void slow_internal_hook(hf_future_t *f, void *arg, int state)
{
    (void)f;
    (void)arg;
    (void)state;
    tu_sleep_ms(50);
}

typedef struct resolve_last_arg {
    hf_promise_t *p;
    tu_value_t *v;
} resolve_last_arg_t;

static void *resolve_it_last(void *arg)
{
    resolve_last_arg_t *a = arg;
    ck_assert_int_eq(hfi_promise_resolve_last(a->p, a->v, tu_value_free), 0);
    return NULL;
}

/* hfi_promise_resolve_last (what a model load fulfils its future with): when the wait
 * returns, the waiter's reference is the only one left, though the settlement ran a slow
 * hook after publishing the state (round 0 sleeps in the wait, the others find the state
 * published); so the waiter's release frees the value, in that
 * call. With resolve and then free, the promise's reference was still there. */
START_TEST(a_wait_returns_with_no_reference_of_a_producer_that_resolved_last)
{
    for (int round = 0; round < 3; round++) {
        atomic_int freed = 0;
        resolve_last_arg_t a;
        hf_future_t *f;
        pthread_t t;

        a.p = hf_promise_new();
        a.v = tu_value_new(&freed, round);
        f = hf_promise_future(a.p);
        ck_assert_int_eq(hfi_future_set_hook(f, slow_internal_hook, NULL), 0);
        ck_assert_int_eq(pthread_create(&t, NULL, resolve_it_last, &a), 0);
        if (round > 0)          /* the waiter that finds the state published: it spins */
            while (hf_future_state(f) == HF_FUTURE_PENDING)
                sched_yield();
        ck_assert_int_eq(hf_future_wait(f, -1), 0);
        ck_assert_uint_eq(hfi_future_refs(f), 1);
        ck_assert_int_eq(((tu_value_t *)hf_future_value(f))->payload, round);
        ck_assert_int_eq(atomic_load(&freed), 0);
        hf_future_release(f);
        ck_assert_int_eq(atomic_load(&freed), 1);
        pthread_join(t, NULL);
    }
    {   /* a settled promise: HF_ESTATE, and its reference is dropped all the same */
        hf_promise_t *p = hf_promise_new();
        hf_future_t *f = hf_promise_future(p);
        hf_future_cancel(f);
        ck_assert_int_eq(hfi_promise_resolve_last(p, NULL, NULL), HF_ESTATE);
        ck_assert_uint_eq(hfi_future_refs(f), 1);
        hf_future_release(f);
    }
    ck_assert_int_eq(hfi_promise_resolve_last(NULL, NULL, NULL), HF_EINVAL);
}
END_TEST

static Suite *wait_suite(void)
{
    Suite *s = suite_create("wait");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, a_plain_thread_waits_with_a_timeout);
    tcase_add_test(tc, wait_returns_zero_for_every_settled_state);
    tcase_add_test(tc, a_plain_thread_sleeps_until_another_thread_settles);
    tcase_add_test(tc, workers_blocked_in_waits_lend_their_places_and_all_tasks_complete);
    tcase_add_test(tc, work_posted_while_the_only_worker_is_blocked_runs_on_a_spare);
    tcase_add_test(tc, waits_nested_64_deep_complete_on_one_worker);
    tcase_add_test(tc, waits_nested_64_deep_complete_on_the_default_pool);
    tcase_add_test(tc, fork_join_fib_through_futures_is_correct);
    tcase_add_test(tc, a_worker_waits_with_a_timeout_and_gets_its_place_back);
    tcase_add_test(tc, a_workers_wait_stops_helping_once_its_timeout_passes);
    tcase_add_test(tc, a_timeout_too_large_for_nanoseconds_waits_until_settled);
    tcase_add_test(tc, a_wait_that_only_the_waiting_io_thread_could_end_is_edeadlk);
    tcase_add_test(tc, a_wait_on_a_dependent_of_a_bound_promise_is_edeadlk);
    tcase_add_test(tc, freeing_the_runtime_interrupts_waits_on_its_threads);
    tcase_add_test(tc, a_thousand_round_trips_between_two_threads);
    tcase_add_test(tc, an_io_thread_waits_with_a_timeout_and_counts_again_against_its_cap);
    tcase_add_test(tc, a_compute_workers_zero_timeout_wait_only_polls);
    tcase_add_test(tc, a_null_future_is_einval_and_any_negative_timeout_waits_until_settled);
    tcase_add_test(tc, an_async_task_waiting_on_its_own_future_is_edeadlk);
    tcase_add_test(tc, a_wait_that_finds_the_state_published_returns_after_the_hook);
    tcase_add_test(tc, a_wait_inside_the_settlement_on_its_own_future_returns_at_once);
    tcase_add_test(tc, a_wait_returns_with_no_reference_of_a_producer_that_resolved_last);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(wait_suite)
