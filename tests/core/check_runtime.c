/*
 * check_runtime.c - runtime life cycle: configuration, shutdown with pending work, misuse.
 */
#include "common/testutil.h"

#include "core/alloc.h"
#include "core/compute.h"
#include "core/runtime_impl.h"

static atomic_int gate, ran;

static void *spin_until_gate(void *arg, hf_error_t *err)
{
    (void)arg;
    (void)err;
    while (!atomic_load(&gate))
        tu_sleep_ms(1);
    return NULL;
}

static void *count_run(void *arg, hf_error_t *err)
{
    (void)arg;
    (void)err;
    atomic_fetch_add(&ran, 1);
    return NULL;
}

static void count_then(hf_future_t *done, hf_promise_t *next, void *arg)
{
    (void)done;
    (void)arg;
    atomic_fetch_add(&ran, 1);
    hf_promise_resolve(next, NULL, NULL);
}

static void *open_gate_later(void *arg)
{
    (void)arg;
    tu_sleep_ms(50);
    atomic_store(&gate, 1);
    return NULL;
}

#define QUEUED 1000

START_TEST(freeing_a_busy_runtime_cancels_every_queued_future_and_leaks_nothing)
{
    hf_runtime_config_t cfg = { 1, 1, 0, 0 };
    hf_runtime_t *rt = hf_runtime_new(&cfg);
    hf_future_t *busy_cpu, *busy_io, *queued[QUEUED], *later[100];
    hf_promise_t *input = hf_promise_new();
    hf_future_t *in_f = hf_promise_future(input);
    hf_runtime_stats_t st;
    pthread_t opener;

    gate = ran = 0;
    busy_cpu = hf_async(hf_runtime_compute(rt), spin_until_gate, NULL);
    busy_io = hf_spawn_blocking(rt, spin_until_gate, NULL);
    TU_EVENTUALLY(hf_runtime_stats(rt, &st) == 0 && st.compute_queue_depth == 0 &&
                  st.io_queue_depth == 0 && st.io_threads == 1);
    for (int i = 0; i < QUEUED; i++)
        queued[i] = hf_async(i % 2 ? hf_runtime_compute(rt) : hf_runtime_io(rt), count_run,
                             NULL);
    /* continuations registered on a pending input, which settles after the free */
    for (int i = 0; i < 100; i++)
        later[i] = hf_future_then(in_f, i % 2 ? hf_runtime_compute(rt) : hf_runtime_io(rt),
                                  count_then, NULL);
    pthread_create(&opener, NULL, open_gate_later, NULL);
    hf_runtime_free(rt);        /* waits for the two running tasks, cancels the rest */
    pthread_join(opener, NULL);
    ck_assert_int_eq(hf_future_state(busy_cpu), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(hf_future_state(busy_io), HF_FUTURE_FULFILLED);
    for (int i = 0; i < QUEUED; i++) {
        ck_assert_int_eq(hf_future_state(queued[i]), HF_FUTURE_CANCELLED);
        hf_future_release(queued[i]);
    }
    hf_promise_resolve(input, NULL, NULL);
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(hf_future_state(later[i]), HF_FUTURE_CANCELLED);
        hf_future_release(later[i]);
    }
    ck_assert_int_eq(atomic_load(&ran), 0);
    hf_future_release(busy_cpu);
    hf_future_release(busy_io);
    hf_future_release(in_f);
    hf_promise_free(input);
}
END_TEST

START_TEST(configuration_is_honoured)
{
    hf_runtime_config_t cfg = { 3, 5, 2, 0 };
    hf_runtime_t *rt = hf_runtime_new(&cfg);
    hf_runtime_stats_t st;
    ck_assert_ptr_nonnull(rt);
    hf_runtime_stats(rt, &st);
    ck_assert_uint_eq(st.compute_parallelism, 3);
    ck_assert_uint_eq(st.compute_threads, 3);
    ck_assert_uint_eq(st.io_threads_max, 5);
    hf_runtime_free(rt);
}
END_TEST

START_TEST(bad_arguments_are_refused)
{
    hf_runtime_config_t cfg = { 100000, 0, 0, 0 };
    hf_runtime_stats_t st;
    ck_assert_ptr_null(hf_runtime_new(&cfg));
    ck_assert_int_eq(hf_runtime_stats(NULL, &st), HF_EINVAL);
    ck_assert_ptr_null(hf_runtime_compute(NULL));
    ck_assert_ptr_null(hf_runtime_io(NULL));
    ck_assert_ptr_null(hf_spawn_blocking(NULL, count_run, NULL));
    ck_assert_ptr_null(hf_async(NULL, count_run, NULL));
    ck_assert_ptr_null(hf_executor_runtime(NULL));
    ck_assert_ptr_null(hf_executor_runtime(HF_INLINE));
    hf_runtime_free(NULL);
}
END_TEST


START_TEST(counts_are_refused_just_above_their_documented_limits)
{
    hf_runtime_config_t cfg;
    hf_runtime_t *rt;

    memset(&cfg, 0, sizeof cfg);
    cfg.compute_threads = 4097;
    ck_assert_ptr_null(hf_runtime_new(&cfg));
    cfg.compute_threads = 1;
    cfg.io_threads_max = 65537;
    ck_assert_ptr_null(hf_runtime_new(&cfg));
    cfg.io_threads_max = 0;
    cfg.compute_spares_max = 65537;
    ck_assert_ptr_null(hf_runtime_new(&cfg));
    cfg.io_threads_max = 65536;
    cfg.compute_spares_max = 65536;
    rt = hf_runtime_new(&cfg);
    ck_assert_ptr_nonnull(rt);
    hf_runtime_free(rt);
}
END_TEST

static void *free_own_runtime(void *arg, hf_error_t *err)
{
    (void)err;
    hf_runtime_free(arg);       /* refused: would join this very thread */
    return (void *)(intptr_t)1;
}

START_TEST(freeing_a_runtime_from_its_own_thread_is_refused)
{
    hf_runtime_t *rt = tu_runtime(1);
    hf_future_t *f = hf_async(hf_runtime_compute(rt), free_own_runtime, rt);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    hf_future_release(f);
    f = hf_async(hf_runtime_compute(rt), count_run, NULL);    /* still alive */
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    hf_future_release(f);
    hf_runtime_free(rt);
}
END_TEST

START_TEST(short_memory_fails_cleanly)
{
    hf_runtime_t *rt = tu_runtime(1);
    hf_future_t *f;

    hfi_test_fail_alloc_after(0);
    ck_assert_ptr_null(hf_runtime_new(NULL));
    ck_assert_ptr_null(hf_async(hf_runtime_compute(rt), count_run, NULL));
    ck_assert_int_eq(hf_executor_post(hf_runtime_compute(rt), NULL, NULL), HF_EINVAL);
    ck_assert_ptr_null(hf_future_delay(1));
    for (long k = 1; k < 8; k++) {      /* fail a little later each time */
        hf_runtime_t *r2;
        hfi_test_fail_alloc_after(k);
        r2 = hf_runtime_new(NULL);
        hfi_test_fail_alloc_after(-1);
        hf_runtime_free(r2);            /* NULL or a working runtime: both fine */
    }
    hfi_test_fail_alloc_after(-1);
    f = hf_async(hf_runtime_compute(rt), count_run, NULL);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    hf_future_release(f);
    hf_runtime_free(rt);
}
END_TEST

START_TEST(many_runtimes_come_and_go)
{
    for (int i = 0; i < 30; i++) {
        hf_runtime_t *rt = tu_runtime(2);
        hf_future_t *a = hf_async(hf_runtime_compute(rt), count_run, NULL);
        hf_future_t *b = hf_spawn_blocking(rt, count_run, NULL);
        ck_assert_int_eq(tu_settle(a), HF_FUTURE_FULFILLED);
        ck_assert_int_eq(tu_settle(b), HF_FUTURE_FULFILLED);
        hf_future_release(a);
        hf_future_release(b);
        hf_runtime_free(rt);
    }
}
END_TEST

/* ---- freeing a runtime while its blocked workers start spares -------------------------- */

#define BLOCKERS 64

static atomic_int blocked_ran, blocked_interrupted;

static void *wait_forever(void *arg, hf_error_t *err)
{
    (void)err;
    atomic_fetch_add(&blocked_ran, 1);
    if (hf_future_wait(arg, -1) == HF_ECANCELED)
        atomic_fetch_add(&blocked_interrupted, 1);
    return NULL;
}

/* Each task blocks, so the pool starts a spare for the next one, and so on: the runtime
 * is freed while spares are being started. Every one must be woken and joined (one
 * published as the shutdown began was neither: AddressSanitizer saw it run in the freed
 * pool), and every task that ran must see its wait interrupted. */
START_TEST(freeing_a_runtime_while_its_workers_start_spares_joins_every_thread)
{
    hf_promise_t *never = hf_promise_new();
    hf_future_t *nf = hf_promise_future(never);
    hf_runtime_config_t cfg;

    memset(&cfg, 0, sizeof cfg);
    cfg.compute_threads = 1;
    cfg.compute_spares_max = BLOCKERS;
    atomic_store(&blocked_ran, 0);
    atomic_store(&blocked_interrupted, 0);
    for (int round = 0; round < 2000; round++) {
        hf_runtime_t *rt = hf_runtime_new(&cfg);
        hf_future_t *fs[BLOCKERS];

        ck_assert_ptr_nonnull(rt);
        for (int i = 0; i < BLOCKERS; i++)
            fs[i] = hf_async(hf_runtime_compute(rt), wait_forever, nf);
        if (round % 5)
            tu_sleep_ms((unsigned)(round % 3));     /* free at different points */
        hf_runtime_free(rt);
        for (int i = 0; i < BLOCKERS; i++) {
            ck_assert_int_eq(hf_future_wait(fs[i], TU_DEADLINE_MS), 0);
            hf_future_release(fs[i]);
        }
    }
    ck_assert_int_eq(atomic_load(&blocked_interrupted), atomic_load(&blocked_ran));
    hf_future_release(nf);
    hf_promise_free(never);
}
END_TEST

/* ---- a task that still runs while its runtime is freed ---------------------------------- */

static void *noop(void *arg, hf_error_t *err)
{
    (void)arg;
    (void)err;
    return NULL;
}

static void count_post(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
}

/* Return once hf_runtime_free(rt) has begun: it stops both pools before it joins
 * anything, and from then on a new blocking task is cancelled as it is submitted. */
static void await_free(hf_runtime_t *rt)
{
    for (;;) {
        hf_future_t *f = hf_spawn_blocking(rt, noop, NULL);
        int stopped = hf_future_state(f) == HF_FUTURE_CANCELLED;
        hf_future_release(f);
        if (stopped)
            return;
        tu_sleep_ms(1);
    }
}

typedef struct outliver {
    hf_runtime_t *rt;
    hf_future_t *never;
    atomic_int started;
    int post_cpu, post_io, wait_rc;
} outliver_t;

static void *post_after_free_began(void *arg, hf_error_t *err)
{
    outliver_t *o = arg;
    (void)err;
    atomic_store(&o->started, 1);
    await_free(o->rt);
    o->post_cpu = hf_executor_post(hf_runtime_compute(o->rt), count_post, NULL);
    o->post_io = hf_executor_post(hf_runtime_io(o->rt), count_post, NULL);
    return NULL;
}

static void run_outliver(hf_task_fn fn, int on_io, outliver_t *o)
{
    hf_runtime_config_t cfg = { 1, 1, 0, 0 };
    hf_promise_t *never = hf_promise_new();
    hf_future_t *f, *queued[4];

    memset(o, 0, sizeof *o);
    o->rt = hf_runtime_new(&cfg);
    o->never = hf_promise_future(never);
    ran = 0;
    f = on_io ? hf_spawn_blocking(o->rt, fn, o) : hf_async(hf_runtime_compute(o->rt), fn, o);
    TU_EVENTUALLY(atomic_load(&o->started));
    /* Queued behind `fn` on its pool's single thread: never to run. */
    for (int i = 0; i < 4; i++)
        queued[i] = hf_async(on_io ? hf_runtime_io(o->rt) : hf_runtime_compute(o->rt),
                             count_run, NULL);
    hf_runtime_free(o->rt);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_FULFILLED);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(hf_future_state(queued[i]), HF_FUTURE_CANCELLED);
        hf_future_release(queued[i]);
    }
    hf_future_release(f);
    hf_future_release(o->never);
    hf_promise_free(never);
}

/* hf_executor_post() promised HF_ECANCELED here, but said 0 for a task that then never
 * ran: the executors were marked dead only after the threads had been joined. */
START_TEST(a_task_still_running_while_its_runtime_is_freed_is_told_its_posts_are_cancelled)
{
    outliver_t o;
    for (int on_io = 0; on_io < 2; on_io++) {
        run_outliver(post_after_free_began, on_io, &o);
        ck_assert_int_eq(o.post_cpu, HF_ECANCELED);
        ck_assert_int_eq(o.post_io, HF_ECANCELED);
        ck_assert_int_eq(atomic_load(&ran), 0);
    }
}
END_TEST

static void *wait_after_free_began(void *arg, hf_error_t *err)
{
    outliver_t *o = arg;
    (void)err;
    atomic_store(&o->started, 1);
    await_free(o->rt);
    o->wait_rc = hf_future_wait(o->never, -1);
    return NULL;
}

/* A compute worker's wait helped: it ran the queued tasks that hf_runtime_free() had
 * just promised never to run, before it noticed the shutdown. */
START_TEST(a_wait_on_a_worker_while_its_runtime_is_freed_runs_no_queued_task)
{
    outliver_t o;
    for (int on_io = 0; on_io < 2; on_io++) {
        run_outliver(wait_after_free_began, on_io, &o);
        ck_assert_int_eq(o.wait_rc, HF_ECANCELED);
        ck_assert_int_eq(atomic_load(&ran), 0);
    }
}
END_TEST

/* A continuation that records how it ran: how often, on which thread, whether it saw
 * its output cancelled. */
typedef struct cleanup {
    atomic_int runs;
    int cancel_seen, next_rc;
    pthread_t thread;
} cleanup_t;

static int runs_of(cleanup_t *c)
{
    return atomic_load(&c->runs);
}

static void cleanup_then(hf_future_t *done, hf_promise_t *next, void *arg)
{
    cleanup_t *c = arg;
    (void)done;
    c->cancel_seen = hf_cancel_requested();
    c->thread = pthread_self();
    c->next_rc = hf_promise_resolve(next, NULL, NULL);
    atomic_fetch_add(&c->runs, 1);
}

static void cleanup_finally(hf_future_t *done, void *arg)
{
    cleanup_t *c = arg;
    (void)done;
    c->cancel_seen = hf_cancel_requested();
    c->thread = pthread_self();
    atomic_fetch_add(&c->runs, 1);
}

START_TEST(a_continuation_handling_cancel_runs_once_when_its_runtime_is_freed_before_its_input_settles)
{
    hf_runtime_config_t cfg = { 1, 1, 0, 0 };
    hf_runtime_t *r = hf_runtime_new(&cfg);
    hf_promise_t *p = hf_promise_new();
    hf_future_t *in = hf_promise_future(p), *g_any, *g_fin, *g_val;
    cleanup_t any, fin, val;

    memset(&any, 0, sizeof any);
    memset(&fin, 0, sizeof fin);
    memset(&val, 0, sizeof val);
    g_any = hf_future_then_on(in, hf_runtime_compute(r), HF_ON_ANY, cleanup_then, &any);
    g_fin = hf_future_finally(in, hf_runtime_io(r), cleanup_finally, &fin);
    g_val = hf_future_then(in, hf_runtime_compute(r), cleanup_then, &val);
    ck_assert_ptr_nonnull(g_any);
    ck_assert_ptr_nonnull(g_fin);
    ck_assert_ptr_nonnull(g_val);
    hf_runtime_free(r);
    /* settled here, after the free: each continuation is discarded on this thread */
    ck_assert_int_eq(hf_promise_resolve(p, NULL, NULL), 0);
    ck_assert_int_eq(tu_settle(g_any), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(tu_settle(g_fin), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(tu_settle(g_val), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(runs_of(&any), 1);
    ck_assert_int_eq(any.cancel_seen, 1);
    ck_assert_int_eq(any.next_rc, HF_ESTATE);
    ck_assert(pthread_equal(any.thread, pthread_self()));
    ck_assert_int_eq(runs_of(&fin), 1);
    ck_assert_int_eq(fin.cancel_seen, 1);
    ck_assert(pthread_equal(fin.thread, pthread_self()));
    ck_assert_int_eq(runs_of(&val), 0);      /* values only: skipped */
    hf_future_release(g_any);
    hf_future_release(g_fin);
    hf_future_release(g_val);
    hf_future_release(in);
    hf_promise_free(p);
}
END_TEST

static atomic_int gate;

static void *hold_the_worker(void *arg, hf_error_t *err)
{
    (void)arg;
    (void)err;
    atomic_store(&gate, 1);
    while (atomic_load(&gate) != 2)
        tu_sleep_ms(1);
    return NULL;
}

static void *free_runtime(void *arg)
{
    hf_runtime_free(arg);
    return NULL;
}

START_TEST(a_continuation_handling_cancel_queued_when_its_runtime_is_freed_runs_once)
{
    hf_runtime_config_t cfg = { 1, 1, 0, 0 };
    hf_runtime_t *r = hf_runtime_new(&cfg);
    hf_future_t *busy, *in = hf_future_resolved(NULL, NULL), *g_any, *g_val;
    cleanup_t any, val;
    pthread_t freer;

    memset(&any, 0, sizeof any);
    memset(&val, 0, sizeof val);
    atomic_store(&gate, 0);
    busy = hf_async(hf_runtime_compute(r), hold_the_worker, NULL);
    TU_EVENTUALLY(atomic_load(&gate) == 1);
    /* queued behind the busy task on the pool's only worker */
    g_any = hf_future_then_on(in, hf_runtime_compute(r), HF_ON_ANY, cleanup_then, &any);
    g_val = hf_future_then(in, hf_runtime_compute(r), cleanup_then, &val);
    ck_assert_int_eq(pthread_create(&freer, NULL, free_runtime, r), 0);
    await_free(r);              /* r lives on: its free waits for the busy task */
    atomic_store(&gate, 2);
    ck_assert_int_eq(pthread_join(freer, NULL), 0);
    ck_assert_int_eq(hf_future_state(busy), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(tu_settle(g_any), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(tu_settle(g_val), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(runs_of(&any), 1);
    ck_assert_int_eq(any.cancel_seen, 1);
    ck_assert_int_eq(any.next_rc, HF_ESTATE);
    ck_assert_int_eq(runs_of(&val), 0);
    hf_future_release(busy);
    hf_future_release(g_any);
    hf_future_release(g_val);
    hf_future_release(in);
}
END_TEST

/* ---- waits that never end, on both pools, when the runtime is freed ------------------- */

START_TEST(waits_on_futures_that_never_settle_end_cancelled_on_both_pools_at_free)
{
    hf_promise_t *never = hf_promise_new();
    hf_future_t *nf = hf_promise_future(never);
    hf_runtime_config_t cfg = { 2, 1, 1, 0 };
    hf_runtime_t *rt = hf_runtime_new(&cfg);
    hf_future_t *fs[6];
    hf_runtime_stats_t st;

    atomic_store(&blocked_ran, 0);
    atomic_store(&blocked_interrupted, 0);
    for (int i = 0; i < 6; i++)     /* more than the caps: waiters do not count */
        fs[i] = i % 2 ? hf_spawn_blocking(rt, wait_forever, nf)
                      : hf_async(hf_runtime_compute(rt), wait_forever, nf);
    /* A compute waiter may run another one nested in its helping wait. */
    TU_EVENTUALLY(atomic_load(&blocked_ran) == 6 && hf_runtime_stats(rt, &st) == 0 &&
                  st.io_blocked == 3 && st.compute_queue_depth == 0);
    ck_assert_uint_eq(st.io_threads, 3);
    ck_assert_uint_le(st.compute_threads, 3);   /* 2 + the one spare allowed */
    ck_assert_uint_le(st.compute_spares_peak, 1);
    ck_assert_uint_le(st.compute_blocked, st.compute_threads);
    hf_runtime_free(rt);
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(hf_future_state(fs[i]), HF_FUTURE_FULFILLED);
        hf_future_release(fs[i]);
    }
    ck_assert_int_eq(atomic_load(&blocked_ran), 6);
    ck_assert_int_eq(atomic_load(&blocked_interrupted), 6);
    hf_future_release(nf);
    hf_promise_free(never);
}
END_TEST

/* ---- thread identity ------------------------------------------------------------------- */

typedef struct ident {
    hf_runtime_t *rt;
    hf_executor_t *ex[8];
    int worker[8];
} ident_t;

static void note_ident(ident_t *id, int slot)
{
    id->ex[slot] = hf_current_executor();
    id->worker[slot] = hf_current_worker();
}

static void ident_then(hf_future_t *done, hf_promise_t *next, void *arg)
{
    (void)done;
    note_ident(arg, (int)(intptr_t)hf_future_value(done));
    hf_promise_resolve(next, NULL, NULL);
}

static void *ident_child(void *arg, hf_error_t *err)
{
    (void)err;
    note_ident(arg, 2);
    return NULL;
}

static void *ident_io(void *arg, hf_error_t *err)
{
    (void)err;
    note_ident(arg, 3);
    return (void *)(intptr_t)5;         /* the slot of its continuation */
}

/* Spawns a child on its own pool and helps while it waits for it (the pool's only worker
 * is this one): the child runs on this thread, as this worker. */
static void *ident_compute(void *arg, hf_error_t *err)
{
    ident_t *id = arg;
    hf_future_t *child, *io;
    (void)err;
    note_ident(id, 0);
    child = hf_async(hf_runtime_compute(id->rt), ident_child, id);
    io = hf_spawn_blocking(id->rt, ident_io, id);
    hf_future_wait(child, -1);
    hf_future_wait(io, -1);
    note_ident(id, 1);
    hf_future_release(child);
    hf_future_release(io);
    return (void *)(intptr_t)4;         /* the slot of its continuation */
}

START_TEST(each_thread_knows_its_pool_and_worker_index)
{
    hf_runtime_config_t cfg = { 1, 1, 1, 0 };
    ident_t id;
    hf_future_t *c, *ci, *i, *ii;

    memset(&id, 0, sizeof id);
    id.rt = hf_runtime_new(&cfg);
    ck_assert_ptr_nonnull(id.rt);
    c = hf_async(hf_runtime_compute(id.rt), ident_compute, &id);
    ck_assert_int_eq(tu_settle(c), HF_FUTURE_FULFILLED);
    ci = hf_future_then(c, hf_runtime_compute(id.rt), ident_then, &id);
    i = hf_spawn_blocking(id.rt, ident_io, &id);
    ck_assert_int_eq(tu_settle(i), HF_FUTURE_FULFILLED);
    ii = hf_future_then(i, hf_runtime_io(id.rt), ident_then, &id);
    ck_assert_int_eq(tu_settle(ci), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(tu_settle(ii), HF_FUTURE_FULFILLED);
    for (int k = 0; k < 6; k++) {
        int on_io = k == 3 || k == 5;
        ck_assert_msg(id.ex[k] == (on_io ? hf_runtime_io(id.rt) : hf_runtime_compute(id.rt)),
                      "slot %d", k);
        if (on_io)
            ck_assert_int_eq(id.worker[k], -1);
        else
            ck_assert_int_ge(id.worker[k], 0);
    }
    ck_assert_int_eq(id.worker[1], id.worker[0]);
    ck_assert_int_eq(id.worker[2], id.worker[0]);  /* run by the wait that helped */
    ck_assert_ptr_eq(hf_executor_runtime(id.ex[3]), id.rt);
    ck_assert_ptr_null(hf_current_executor());
    ck_assert_int_eq(hf_current_worker(), -1);
    hf_future_release(c);
    hf_future_release(ci);
    hf_future_release(i);
    hf_future_release(ii);
    hf_runtime_free(id.rt);
}
END_TEST

/* ---- plain threads posting while the runtime is freed ---------------------------------- */

#define RACERS 4

typedef struct racer {
    hf_executor_t *ex;
    atomic_int *go;
    int last_rc;
    long posts;
} racer_t;

static void *post_until_refused(void *arg)
{
    racer_t *r = arg;
    while (!atomic_load(r->go))
        ;
    do {
        r->last_rc = hf_executor_post(r->ex, count_post, NULL);
        r->posts++;
    } while (r->last_rc == 0);
    return NULL;
}

static void then_noop(hf_future_t *done, hf_promise_t *next, void *arg)
{
    (void)done;
    (void)arg;
    hf_promise_resolve(next, NULL, NULL);
}

/* Continuations still registered keep the executors allocated after the free (see
 * hf_runtime_free), so a post that races with it touches live memory: it must be
 * refused or run or be discarded, never lost half-way (LeakSanitizer) or crash. */
START_TEST(plain_threads_posting_while_the_runtime_is_freed_are_refused_cleanly)
{
    for (int round = 0; round < 50; round++) {
        hf_runtime_config_t cfg = { 2, 2, 0, 0 };
        hf_runtime_t *rt = hf_runtime_new(&cfg);
        hf_promise_t *p = hf_promise_new();
        hf_future_t *in = hf_promise_future(p), *keep[2];
        pthread_t th[RACERS];
        racer_t rs[RACERS];
        atomic_int go;

        ck_assert_ptr_nonnull(rt);
        keep[0] = hf_future_then(in, hf_runtime_compute(rt), then_noop, NULL);
        keep[1] = hf_future_then(in, hf_runtime_io(rt), then_noop, NULL);
        atomic_init(&go, 0);
        for (int i = 0; i < RACERS; i++) {
            rs[i].ex = i % 2 ? hf_runtime_io(rt) : hf_runtime_compute(rt);
            rs[i].go = &go;
            rs[i].posts = 0;
            ck_assert_int_eq(pthread_create(&th[i], NULL, post_until_refused, &rs[i]), 0);
        }
        atomic_store(&go, 1);
        tu_sleep_ms((unsigned)(round % 3));
        hf_runtime_free(rt);
        for (int i = 0; i < RACERS; i++) {
            pthread_join(th[i], NULL);
            ck_assert_int_eq(rs[i].last_rc, HF_ECANCELED);
        }
        hf_promise_resolve(p, NULL, NULL);
        for (int i = 0; i < 2; i++) {
            ck_assert_int_eq(tu_settle(keep[i]), HF_FUTURE_CANCELLED);
            hf_future_release(keep[i]);
        }
        hf_future_release(in);
        hf_promise_free(p);
    }
}
END_TEST

/* The pool and each worker hold cache-line-aligned members (the deque's two ends, the
 * shared counters) that keep thieves' writes off the owner's lines: they must really sit
 * at their type's alignment, which calloc does not give (UB, and false sharing). */
START_TEST(the_compute_pool_and_its_workers_sit_at_their_types_alignment)
{
    hf_runtime_config_t cfg = { 0 };
    hf_runtime_t *rt;
    hfi_compute_t *p;

    cfg.compute_threads = 8;
    cfg.compute_spares_max = 4;
    for (int round = 0; round < 20; round++) {
        ck_assert_ptr_nonnull(rt = hf_runtime_new(&cfg));
        p = rt->compute;
        ck_assert_uint_eq((uintptr_t)p % _Alignof(hfi_compute_t), 0);
        ck_assert_uint_eq((uintptr_t)&p->nsearching % HFI_CACHELINE, 0);
        ck_assert_uint_eq(atomic_load(&p->nthreads), 8);
        for (unsigned i = 0; i < 8; i++) {
            hfi_worker_t *w = p->workers[i];
            ck_assert_uint_eq((uintptr_t)w % _Alignof(hfi_worker_t), 0);
            ck_assert_uint_eq((uintptr_t)&w->dq.top % HFI_CACHELINE, 0);
            ck_assert_uint_eq((uintptr_t)&w->dq.bottom % HFI_CACHELINE, 0);
        }
        hf_runtime_free(rt);
    }
}
END_TEST

static Suite *runtime_suite(void)
{
    Suite *s = suite_create("runtime");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, freeing_a_busy_runtime_cancels_every_queued_future_and_leaks_nothing);
    tcase_add_test(tc, configuration_is_honoured);
    tcase_add_test(tc, bad_arguments_are_refused);
    tcase_add_test(tc, counts_are_refused_just_above_their_documented_limits);
    tcase_add_test(tc, freeing_a_runtime_from_its_own_thread_is_refused);
    tcase_add_test(tc, short_memory_fails_cleanly);
    tcase_add_test(tc, many_runtimes_come_and_go);
    tcase_add_test(tc, freeing_a_runtime_while_its_workers_start_spares_joins_every_thread);
    tcase_add_test(tc, a_task_still_running_while_its_runtime_is_freed_is_told_its_posts_are_cancelled);
    tcase_add_test(tc, a_wait_on_a_worker_while_its_runtime_is_freed_runs_no_queued_task);
    tcase_add_test(tc, a_continuation_handling_cancel_runs_once_when_its_runtime_is_freed_before_its_input_settles);
    tcase_add_test(tc, a_continuation_handling_cancel_queued_when_its_runtime_is_freed_runs_once);
    tcase_add_test(tc, waits_on_futures_that_never_settle_end_cancelled_on_both_pools_at_free);
    tcase_add_test(tc, each_thread_knows_its_pool_and_worker_index);
    tcase_add_test(tc, plain_threads_posting_while_the_runtime_is_freed_are_refused_cleanly);
    tcase_add_test(tc, the_compute_pool_and_its_workers_sit_at_their_types_alignment);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(runtime_suite)
