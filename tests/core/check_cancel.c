/*
 * check_cancel.c - cancellation downstream to dependents and upstream to producers.
 */
#include "common/testutil.h"

static atomic_int calls;

static void count_and_resolve(hf_future_t *done, hf_promise_t *next, void *arg)
{
    (void)done;
    (void)arg;
    atomic_fetch_add(&calls, 1);
    hf_promise_resolve(next, NULL, NULL);
}

static void set_flag(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
}

START_TEST(cancel_settles_a_pending_future_once)
{
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);
    ck_assert_int_eq(hf_future_cancel(f), 0);
    ck_assert_int_eq(hf_future_cancel(f), HF_ESTATE);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_CANCELLED);
    hf_promise_free(p);
    hf_future_release(f);
}
END_TEST

START_TEST(cancel_flows_downstream_to_every_dependent)
{
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);
    hf_future_t *g = hf_future_then(f, HF_INLINE, count_and_resolve, NULL);
    hf_future_t *h = hf_future_then(g, HF_INLINE, count_and_resolve, NULL);
    hf_future_t *k = hf_future_then(f, HF_INLINE, count_and_resolve, NULL);

    calls = 0;
    hf_future_cancel(f);
    ck_assert_int_eq(hf_future_state(g), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(hf_future_state(h), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(hf_future_state(k), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(calls, 0);
    hf_future_release(g);
    hf_future_release(h);
    hf_future_release(k);
    hf_future_release(f);
    hf_promise_free(p);
}
END_TEST

START_TEST(cancel_reaches_the_producer_when_no_other_consumer_wants_it)
{
    atomic_int told = 0;
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);
    hf_future_t *g = hf_future_then(f, HF_INLINE, count_and_resolve, NULL);
    hf_future_t *h = hf_future_then(g, HF_INLINE, count_and_resolve, NULL);

    hf_promise_on_cancel(p, set_flag, &told);
    ck_assert_int_eq(hf_future_cancel(h), 0);
    ck_assert_int_eq(hf_future_state(g), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(told, 1);
    ck_assert_int_eq(hf_promise_is_cancelled(p), 1);
    hf_future_release(g);
    hf_future_release(h);
    hf_future_release(f);
    hf_promise_free(p);
}
END_TEST

START_TEST(cancel_stops_at_an_input_another_consumer_still_wants)
{
    atomic_int told = 0;
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);
    hf_future_t *a = hf_future_then(f, HF_INLINE, count_and_resolve, NULL);
    hf_future_t *b = hf_future_then(f, HF_INLINE, count_and_resolve, NULL);

    hf_promise_on_cancel(p, set_flag, &told);
    hf_future_cancel(a);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_PENDING);
    ck_assert_int_eq(told, 0);
    hf_future_cancel(b);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(told, 1);
    hf_future_release(a);
    hf_future_release(b);
    hf_future_release(f);
    hf_promise_free(p);
}
END_TEST

START_TEST(a_settled_dependent_keeps_no_interest)
{
    hf_promise_t *p = hf_promise_new(), *q = hf_promise_new();
    hf_future_t *f = hf_promise_future(p), *qf = hf_promise_future(q);
    hf_future_t *all;
    hf_future_t *ins[2];

    /* A dependent that settled by itself (here: an `all` that failed on another input)
     * withdrew; a second cancel changes nothing. */
    ins[0] = f;
    ins[1] = qf;
    all = hf_future_all(ins, 2);
    hf_promise_rejectf(q, HF_EIO, 0, "x");
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(hf_future_cancel(all), HF_ESTATE);
    hf_future_release(all);
    hf_future_release(f);
    hf_future_release(qf);
    hf_promise_free(p);
    hf_promise_free(q);
}
END_TEST

#define DEEP 10000

static void *cancel_chain_thread(void *arg)
{
    atomic_int *told = arg;
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p), *cur = hf_future_retain(f);

    hf_promise_on_cancel(p, set_flag, told);
    for (int i = 0; i < DEEP; i++) {
        hf_future_t *next = hf_future_then(cur, HF_INLINE, count_and_resolve, NULL);
        hf_future_release(cur);
        cur = next;
    }
    hf_future_cancel(cur);      /* walks 10,000 inputs up to the producer */
    if (hf_future_state(f) != HF_FUTURE_CANCELLED)
        atomic_store(told, -100);
    hf_future_release(cur);
    hf_future_release(f);
    hf_promise_free(p);
    return NULL;
}

START_TEST(upstream_cancel_of_a_10000_deep_chain_is_iterative)
{
    atomic_int told = 0;
    pthread_attr_t a;
    pthread_t t;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 256 * 1024);
    ck_assert_int_eq(pthread_create(&t, &a, cancel_chain_thread, &told), 0);
    pthread_join(t, NULL);
    pthread_attr_destroy(&a);
    ck_assert_int_eq(told, 1);
}
END_TEST

static atomic_int gate;
static atomic_int ran_after_cancel;

static void *block_worker(void *arg, hf_error_t *err)
{
    (void)arg;
    (void)err;
    while (!atomic_load(&gate))
        tu_sleep_ms(1);
    return NULL;
}

static void *mark_ran(void *arg, hf_error_t *err)
{
    (void)arg;
    (void)err;
    atomic_fetch_add(&ran_after_cancel, 1);
    return NULL;
}

START_TEST(an_async_task_cancelled_before_it_starts_never_runs)
{
    hf_runtime_t *rt = tu_runtime(1);
    hf_future_t *blocker, *victim, *witness;
    hf_runtime_stats_t st;

    gate = 0;
    ran_after_cancel = 0;
    blocker = hf_async(hf_runtime_compute(rt), block_worker, NULL);
    TU_EVENTUALLY(hf_runtime_stats(rt, &st) == 0 && st.compute_queue_depth == 0 &&
                  st.compute_idle == 0);
    victim = hf_async(hf_runtime_compute(rt), mark_ran, NULL);
    witness = hf_async(hf_runtime_compute(rt), mark_ran, NULL);
    ck_assert_int_eq(hf_future_cancel(victim), 0);
    atomic_store(&gate, 1);
    ck_assert_int_eq(tu_settle(witness), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(tu_settle(blocker), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(ran_after_cancel, 1);          /* the witness only */
    ck_assert_int_eq(hf_future_state(victim), HF_FUTURE_CANCELLED);
    hf_future_release(blocker);
    hf_future_release(victim);
    hf_future_release(witness);
    hf_runtime_free(rt);
}
END_TEST

static void *until_cancelled(void *arg, hf_error_t *err)
{
    atomic_int *state = arg;
    atomic_store(state, 1);
    while (!hf_cancel_requested())
        tu_sleep_ms(1);
    atomic_store(state, 2);
    err->code = HF_ECANCELED;
    return NULL;
}

START_TEST(a_running_async_task_learns_of_its_cancellation)
{
    hf_runtime_t *rt = tu_runtime(1);
    atomic_int state = 0;
    hf_future_t *f = hf_spawn_blocking(rt, until_cancelled, &state);

    TU_EVENTUALLY(atomic_load(&state) == 1);
    ck_assert_int_eq(hf_cancel_requested(), 0);     /* not inside a task */
    hf_future_cancel(f);
    TU_EVENTUALLY(atomic_load(&state) == 2);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_CANCELLED);
    hf_future_release(f);
    hf_runtime_free(rt);
}
END_TEST


START_TEST(adopting_into_a_cancelled_promise_cancels_the_adopted_producer)
{
    atomic_int told = 0, told_kept = 0;
    hf_promise_t *cancelled = hf_promise_new(), *prod = hf_promise_new();
    hf_promise_t *wanted = hf_promise_new(), *other = hf_promise_new();
    hf_future_t *cf = hf_promise_future(cancelled), *pf = hf_promise_future(prod);
    hf_future_t *wf = hf_promise_future(wanted), *keeper;

    hf_promise_on_cancel(prod, set_flag, &told);
    hf_promise_on_cancel(wanted, set_flag, &told_kept);
    ck_assert_int_eq(hf_future_cancel(cf), 0);
    /* nobody else wants pf: the cancelled promise's refusal cancels it */
    ck_assert_int_eq(hf_promise_adopt(cancelled, pf), HF_ESTATE);
    ck_assert_int_eq(hf_future_state(pf), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(told, 1);
    /* another consumer still wants wf: it is left alone */
    keeper = hf_future_then(wf, HF_INLINE, count_and_resolve, NULL);
    ck_assert_int_eq(hf_promise_adopt(cancelled, wf), HF_ESTATE);
    ck_assert_int_eq(hf_future_state(wf), HF_FUTURE_PENDING);
    ck_assert_int_eq(told_kept, 0);
    /* a fulfilled promise refuses without touching the adopted future */
    hf_promise_resolve(other, NULL, NULL);
    ck_assert_int_eq(hf_promise_adopt(other, wf), HF_ESTATE);
    ck_assert_int_eq(hf_future_state(wf), HF_FUTURE_PENDING);
    hf_promise_resolve(wanted, NULL, NULL);
    ck_assert_int_eq(hf_future_state(keeper), HF_FUTURE_FULFILLED);
    hf_future_release(keeper);
    hf_future_release(cf);
    hf_future_release(pf);
    hf_future_release(wf);
    hf_promise_free(cancelled);
    hf_promise_free(prod);
    hf_promise_free(wanted);
    hf_promise_free(other);
}
END_TEST

/* What a continuation saw when it ran: the input's state, hf_cancel_requested(), what
 * settling its promise returned, and whether it ran on the executor it named. */
typedef struct seen {
    atomic_int runs, state, cancel_requested, resolve_rc, on_compute;
} seen_t;

static void record(hf_future_t *done, hf_promise_t *next, void *arg)
{
    seen_t *s = arg;
    atomic_store(&s->state, (int)hf_future_state(done));
    atomic_store(&s->cancel_requested, hf_cancel_requested());
    atomic_store(&s->on_compute, hf_current_worker() >= 0);
    atomic_store(&s->resolve_rc, hf_promise_resolve(next, NULL, NULL));
    atomic_fetch_add(&s->runs, 1);
}

static void record_finally(hf_future_t *done, void *arg)
{
    seen_t *s = arg;
    atomic_store(&s->state, (int)hf_future_state(done));
    atomic_fetch_add(&s->runs, 1);
}

START_TEST(an_any_state_continuation_runs_once_even_if_its_output_is_cancelled_first)
{
    hf_runtime_t *rt = tu_runtime(1);
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p), *any, *fin, *value_only, *keeper;
    seen_t a, b;

    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    calls = 0;
    /* keeper keeps interest in f, so cancelling the others does not cancel f */
    keeper = hf_future_then(f, HF_INLINE, count_and_resolve, NULL);
    any = hf_future_then_on(f, hf_runtime_compute(rt), HF_ON_ANY, record, &a);
    fin = hf_future_finally(f, hf_runtime_compute(rt), record_finally, &b);
    value_only = hf_future_then(f, hf_runtime_compute(rt), count_and_resolve, NULL);
    ck_assert_int_eq(hf_future_cancel(any), 0);
    ck_assert_int_eq(hf_future_cancel(fin), 0);
    ck_assert_int_eq(hf_future_cancel(value_only), 0);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_PENDING);
    ck_assert_int_eq(atomic_load(&a.runs), 0);      /* not before its input settles */

    ck_assert_int_eq(hf_promise_resolve(p, NULL, NULL), 0);
    TU_EVENTUALLY(atomic_load(&a.runs) == 1 && atomic_load(&b.runs) == 1);
    ck_assert_int_eq(tu_settle(keeper), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(atomic_load(&a.state), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(atomic_load(&a.cancel_requested), 1);
    ck_assert_int_eq(atomic_load(&a.resolve_rc), HF_ESTATE);
    ck_assert_int_eq(atomic_load(&a.on_compute), 1);
    ck_assert_int_eq(atomic_load(&b.state), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(atomic_load(&calls), 1);       /* the keeper; never value_only */
    ck_assert_int_eq(hf_future_state(any), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(hf_future_state(fin), HF_FUTURE_CANCELLED);
    hf_future_release(keeper);
    hf_future_release(any);
    hf_future_release(fin);
    hf_future_release(value_only);
    hf_future_release(f);
    hf_promise_free(p);
    hf_runtime_free(rt);
    ck_assert_int_eq(atomic_load(&a.runs), 1);
    ck_assert_int_eq(atomic_load(&b.runs), 1);
}
END_TEST

START_TEST(an_any_state_continuation_whose_cancel_reaches_its_input_sees_it_cancelled)
{
    hf_runtime_t *rt = tu_runtime(1);
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p), *any;
    seen_t a;

    memset(&a, 0, sizeof a);
    any = hf_future_then_on(f, hf_runtime_compute(rt), HF_ON_ANY, record, &a);
    ck_assert_int_eq(hf_future_cancel(any), 0);     /* the only consumer: f is cancelled */
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_CANCELLED);
    TU_EVENTUALLY(atomic_load(&a.runs) == 1);
    ck_assert_int_eq(atomic_load(&a.state), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(atomic_load(&a.on_compute), 1);
    hf_future_release(any);
    hf_future_release(f);
    hf_promise_free(p);
    hf_runtime_free(rt);
    ck_assert_int_eq(atomic_load(&a.runs), 1);
}
END_TEST


/* Inside an inline continuation (the trampoline is running), settle `src` and cancel the
 * output of its HF_ON_CANCEL continuation: the continuation was dispatched to pass the
 * value on, and waits in the trampoline while its output is cancelled. */
typedef struct queued_cancel {
    hf_promise_t *src;
    hf_future_t *out;
} queued_cancel_t;

static void settle_then_cancel(hf_future_t *done, hf_promise_t *next, void *arg)
{
    queued_cancel_t *q = arg;
    (void)done;
    ck_assert_int_eq(hf_promise_resolve(q->src, NULL, NULL), 0);
    ck_assert_int_eq(hf_future_cancel(q->out), 0);
    hf_promise_resolve(next, NULL, NULL);
}

/* then_on(HF_ON_CANCEL) promises that a continuation whose output is cancelled before
 * it starts still runs once its input settles. Before the fix it was skipped when the
 * cancel came after the runner had decided to pass the input's value on (here: while
 * that pass-on waited in the trampoline; elsewhere, a cancel from another thread in the
 * same window), so whatever its argument owned was never released. */
START_TEST(an_on_cancel_continuation_runs_if_its_output_is_cancelled_as_the_value_passes)
{
    hf_runtime_t *rt = tu_runtime(1);
    hf_executor_t *ex = _i == 0 ? HF_INLINE : hf_runtime_compute(rt);
    hf_promise_t *trigger = hf_promise_new(), *src = hf_promise_new();
    hf_future_t *t = hf_promise_future(trigger), *f = hf_promise_future(src), *out, *step;
    queued_cancel_t q;
    seen_t a;

    memset(&a, 0, sizeof a);
    out = hf_future_then_on(f, ex, HF_ON_CANCEL, record, &a);
    q.src = src;
    q.out = out;
    step = hf_future_then(t, HF_INLINE, settle_then_cancel, &q);
    ck_assert_int_eq(hf_promise_resolve(trigger, NULL, NULL), 0);
    ck_assert_int_eq(hf_future_state(step), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(hf_future_state(out), HF_FUTURE_CANCELLED);
    if (_i == 0)
        ck_assert_int_eq(atomic_load(&a.runs), 1);     /* inline: done by now */
    TU_EVENTUALLY(atomic_load(&a.runs) == 1);
    ck_assert_int_eq(atomic_load(&a.state), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(atomic_load(&a.cancel_requested), 1);
    ck_assert_int_eq(atomic_load(&a.resolve_rc), HF_ESTATE);
    ck_assert_int_eq(atomic_load(&a.on_compute), _i == 1);
    hf_future_release(step);
    hf_future_release(out);
    hf_future_release(f);
    hf_future_release(t);
    hf_promise_free(src);
    hf_promise_free(trigger);
    hf_runtime_free(rt);
    ck_assert_int_eq(atomic_load(&a.runs), 1);
}
END_TEST


/* ---- cancelling owned async tasks as they start --------------------------------------- */

#define OWNED 64

static atomic_int owned_made, owned_freed;
static hf_future_t *owned[OWNED];
static pthread_barrier_t owned_go;

static void owned_free(void *v)
{
    free(v);
    atomic_fetch_add(&owned_freed, 1);
}

static void *owned_value(void *arg, hf_error_t *err)
{
    int *v = malloc(sizeof *v);
    (void)err;
    if (arg)
        tu_sleep_ms(1);         /* some are still running when the cancels come */
    ck_assert_ptr_nonnull(v);
    atomic_fetch_add(&owned_made, 1);
    return v;
}

static void *cancel_them_all(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&owned_go);
    for (int i = 0; i < OWNED; i++)
        if (i % 4 != 3)         /* a quarter always runs, whoever wins the races */
            hf_future_cancel(owned[i]);
    return NULL;
}

/* A cancel racing with the start of an hf_async_owned() task (ThreadSanitizer saw the
 * task read the destructor that the cancel cleared): each value is freed exactly once,
 * by the future that kept it or by the task whose future was cancelled while it ran. */
START_TEST(cancelling_owned_async_tasks_as_they_start_frees_every_value_once)
{
    hf_runtime_t *rt = tu_runtime(2);

    atomic_store(&owned_made, 0);
    atomic_store(&owned_freed, 0);
    pthread_barrier_init(&owned_go, NULL, 2);
    for (int round = 0; round < 30; round++) {
        pthread_t t;
        for (int i = 0; i < OWNED; i++)
            owned[i] = hf_async_owned(hf_runtime_compute(rt), owned_value,
                                      (void *)(intptr_t)(i % 8 == 0), owned_free);
        pthread_create(&t, NULL, cancel_them_all, NULL);
        pthread_barrier_wait(&owned_go);
        pthread_join(t, NULL);
        for (int i = 0; i < OWNED; i++) {
            ck_assert_int_eq(hf_future_wait(owned[i], TU_DEADLINE_MS), 0);
            hf_future_release(owned[i]);
        }
    }
    hf_runtime_free(rt);
    pthread_barrier_destroy(&owned_go);
    ck_assert_int_gt(atomic_load(&owned_made), 0);
    ck_assert_int_eq(atomic_load(&owned_freed), atomic_load(&owned_made));
}
END_TEST


/* ---- contract audit: who frees an async task's value ------------------------------------- */

static atomic_int audit_freed;

static void *make_value(void *arg, hf_error_t *err)
{
    (void)err;
    return tu_value_new(&audit_freed, (int)(intptr_t)arg);
}

static void *make_value_and_fail(void *arg, hf_error_t *err)
{
    (void)arg;
    hf_error_set(err, HF_EFORMAT, 0, "bad header");
    return tu_value_new(&audit_freed, 1);
}

START_TEST(an_owned_async_value_is_freed_with_its_future_and_a_plain_one_never)
{
    hf_future_t *f;
    tu_value_t *v;

    atomic_store(&audit_freed, 0);
    f = hf_async_owned(HF_INLINE, make_value, (void *)(intptr_t)3, tu_value_free);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(((tu_value_t *)hf_future_value(f))->payload, 3);
    ck_assert_int_eq(atomic_load(&audit_freed), 0);
    hf_future_release(f);
    ck_assert_int_eq(atomic_load(&audit_freed), 1);

    f = hf_async(HF_INLINE, make_value, (void *)(intptr_t)4);
    v = hf_future_value(f);
    ck_assert_ptr_nonnull(v);
    hf_future_release(f);
    ck_assert_int_eq(atomic_load(&audit_freed), 1);    /* still the caller's */
    ck_assert_int_eq(v->payload, 4);
    tu_value_free(v);
}
END_TEST

START_TEST(an_owned_async_value_returned_while_rejecting_is_freed_at_once)
{
    hf_future_t *f;

    atomic_store(&audit_freed, 0);
    f = hf_async_owned(HF_INLINE, make_value_and_fail, NULL, tu_value_free);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_EFORMAT);
    ck_assert_str_eq(hf_future_error(f)->message, "bad header");
    ck_assert_int_eq(atomic_load(&audit_freed), 1);
    hf_future_release(f);
    ck_assert_int_eq(atomic_load(&audit_freed), 1);
}
END_TEST

static void *value_once_cancelled(void *arg, hf_error_t *err)
{
    atomic_int *state = arg;
    (void)err;
    atomic_store(state, 1);
    while (!hf_cancel_requested())
        tu_sleep_ms(1);
    return tu_value_new(&audit_freed, 9);
}

START_TEST(an_owned_async_value_returned_after_a_cancel_is_freed_by_the_task)
{
    hf_runtime_t *rt = tu_runtime(1);
    atomic_int state = 0;
    hf_future_t *f;

    atomic_store(&audit_freed, 0);
    f = hf_async_owned(hf_runtime_io(rt), value_once_cancelled, &state, tu_value_free);
    TU_EVENTUALLY(atomic_load(&state) == 1);
    ck_assert_int_eq(hf_future_cancel(f), 0);
    TU_EVENTUALLY(atomic_load(&audit_freed) == 1);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_CANCELLED);
    ck_assert_ptr_null(hf_future_value(f));
    hf_future_release(f);
    hf_runtime_free(rt);
    ck_assert_int_eq(atomic_load(&audit_freed), 1);
}
END_TEST

static void pass_value(hf_future_t *done, hf_promise_t *next, void *arg)
{
    (void)arg;
    hf_promise_adopt(next, done);
}

START_TEST(an_async_task_whose_only_dependent_is_cancelled_never_runs)
{
    hf_runtime_t *rt = tu_runtime(1);
    hf_future_t *blocker, *victim, *dep, *witness;
    hf_runtime_stats_t st;

    gate = 0;
    ran_after_cancel = 0;
    blocker = hf_async(hf_runtime_compute(rt), block_worker, NULL);
    TU_EVENTUALLY(hf_runtime_stats(rt, &st) == 0 && st.compute_queue_depth == 0 &&
                  st.compute_idle == 0);
    victim = hf_async(hf_runtime_compute(rt), mark_ran, NULL);
    dep = hf_future_then(victim, hf_runtime_compute(rt), pass_value, NULL);
    witness = hf_async(hf_runtime_compute(rt), mark_ran, NULL);
    ck_assert_int_eq(hf_future_cancel(dep), 0);
    ck_assert_int_eq(hf_future_state(victim), HF_FUTURE_CANCELLED);
    atomic_store(&gate, 1);
    ck_assert_int_eq(tu_settle(witness), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(tu_settle(blocker), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(ran_after_cancel, 1);          /* the witness only */
    hf_future_release(blocker);
    hf_future_release(victim);
    hf_future_release(dep);
    hf_future_release(witness);
    hf_runtime_free(rt);
}
END_TEST


static void fin_nothing(hf_future_t *done, void *arg)
{
    (void)done;
    (void)arg;
}

static void fwd(hf_future_t *done, hf_promise_t *next, void *arg)
{
    (void)arg;
    hf_promise_adopt(next, done);
}

/* Upstream withdrawal passes through every kind of derived future, one after another. */
START_TEST(cancelling_the_end_of_a_mixed_chain_reaches_its_producer)
{
    atomic_int told = 0;
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);
    hf_future_t *all = hf_future_all(&f, 1);
    hf_future_t *race = hf_future_race(&all, 1);
    hf_future_t *t = hf_future_timeout(race, 60000);
    hf_future_t *c = hf_future_catch(t, HF_INLINE, fwd, NULL);
    hf_future_t *fin = hf_future_then_on(c, HF_INLINE, HF_ON_VALUE | HF_ON_ERROR, fwd, NULL);

    ck_assert_int_eq(hf_promise_on_cancel(p, set_flag, &told), 0);
    ck_assert_int_eq(hf_future_cancel(fin), 0);
    ck_assert_int_eq(atomic_load(&told), 1);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(hf_future_state(all), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(hf_future_state(race), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(hf_future_state(t), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(hf_future_state(c), HF_FUTURE_CANCELLED);
    hf_future_release(fin);
    hf_future_release(c);
    hf_future_release(t);
    hf_future_release(race);
    hf_future_release(all);
    hf_future_release(f);
    hf_promise_free(p);
}
END_TEST


/* ---- a shared input whose dependents are cancelled while it settles ------------------------ */

#define SHARED_DEPS 7
#define SHARED_ROUNDS 300

typedef struct shared_round {
    hf_promise_t *p;
    hf_future_t *deps[SHARED_DEPS];
    pthread_barrier_t go;
    int resolve_rc;
} shared_round_t;

static void *cancel_every_dep(void *arg)
{
    shared_round_t *r = arg;
    pthread_barrier_wait(&r->go);
    for (int i = 0; i < SHARED_DEPS; i++)
        hf_future_cancel(r->deps[i]);
    return NULL;
}

static void *settle_shared(void *arg)
{
    shared_round_t *r = arg;
    pthread_barrier_wait(&r->go);
    r->resolve_rc = hf_promise_resolve(r->p, NULL, NULL);
    return NULL;
}

/* Every dependent settles; the input is cancelled (and its producer told, once) exactly
 * when it was not fulfilled, which happens only if every dependent withdrew first. */
START_TEST(a_shared_input_settling_while_its_dependents_are_cancelled_stays_consistent)
{
    hf_runtime_t *rt = tu_runtime(2);
    hf_executor_t *cpu = hf_runtime_compute(rt), *io = hf_runtime_io(rt);

    for (int round = 0; round < SHARED_ROUNDS; round++) {
        shared_round_t r;
        atomic_int told = 0;
        hf_promise_t *other = hf_promise_new();
        hf_future_t *x, *y = hf_promise_future(other), *two[2];
        pthread_t a, b;
        int cancelled;

        r.p = hf_promise_new();
        x = hf_promise_future(r.p);
        ck_assert_int_eq(hf_promise_on_cancel(r.p, set_flag, &told), 0);
        two[0] = x;
        two[1] = y;
        r.deps[0] = hf_future_then(x, cpu, fwd, NULL);
        r.deps[1] = hf_future_then_on(x, io, HF_ON_ANY, fwd, NULL);
        r.deps[2] = hf_future_all(two, 2);
        r.deps[3] = hf_future_race(&x, 1);
        r.deps[4] = hf_future_timeout(x, 60000);
        r.deps[5] = hf_future_finally(x, HF_INLINE, fin_nothing, NULL);
        r.deps[6] = hf_future_any(two, 2);
        pthread_barrier_init(&r.go, NULL, 2);
        pthread_create(&a, NULL, cancel_every_dep, &r);
        pthread_create(&b, NULL, settle_shared, &r);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        for (int i = 0; i < SHARED_DEPS; i++)
            tu_settle(r.deps[i]);
        cancelled = hf_future_state(x) == HF_FUTURE_CANCELLED;
        ck_assert(cancelled || hf_future_state(x) == HF_FUTURE_FULFILLED);
        ck_assert_int_eq(atomic_load(&told), cancelled);
        ck_assert_int_eq(r.resolve_rc, cancelled ? HF_ESTATE : 0);
        if (cancelled)
            for (int i = 0; i < SHARED_DEPS; i++)
                ck_assert_int_eq(hf_future_state(r.deps[i]), HF_FUTURE_CANCELLED);
        hf_future_cancel(y);
        for (int i = 0; i < SHARED_DEPS; i++)
            hf_future_release(r.deps[i]);
        pthread_barrier_destroy(&r.go);
        hf_future_release(x);
        hf_future_release(y);
        hf_promise_free(r.p);
        hf_promise_free(other);
    }
    hf_runtime_free(rt);
}
END_TEST

static Suite *cancel_suite(void)
{
    Suite *s = suite_create("cancel");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, cancel_settles_a_pending_future_once);
    tcase_add_test(tc, cancel_flows_downstream_to_every_dependent);
    tcase_add_test(tc, cancel_reaches_the_producer_when_no_other_consumer_wants_it);
    tcase_add_test(tc, cancel_stops_at_an_input_another_consumer_still_wants);
    tcase_add_test(tc, a_settled_dependent_keeps_no_interest);
    tcase_add_test(tc, upstream_cancel_of_a_10000_deep_chain_is_iterative);
    tcase_add_test(tc, an_async_task_cancelled_before_it_starts_never_runs);
    tcase_add_test(tc, a_running_async_task_learns_of_its_cancellation);
    tcase_add_test(tc, an_any_state_continuation_runs_once_even_if_its_output_is_cancelled_first);
    tcase_add_test(tc, an_any_state_continuation_whose_cancel_reaches_its_input_sees_it_cancelled);
    tcase_add_test(tc, adopting_into_a_cancelled_promise_cancels_the_adopted_producer);
    tcase_add_loop_test(tc, an_on_cancel_continuation_runs_if_its_output_is_cancelled_as_the_value_passes,
                        0, 2);
    tcase_add_test(tc, cancelling_owned_async_tasks_as_they_start_frees_every_value_once);
    tcase_add_test(tc, an_owned_async_value_is_freed_with_its_future_and_a_plain_one_never);
    tcase_add_test(tc, an_owned_async_value_returned_while_rejecting_is_freed_at_once);
    tcase_add_test(tc, an_owned_async_value_returned_after_a_cancel_is_freed_by_the_task);
    tcase_add_test(tc, an_async_task_whose_only_dependent_is_cancelled_never_runs);
    tcase_add_test(tc, cancelling_the_end_of_a_mixed_chain_reaches_its_producer);
    tcase_add_test(tc, a_shared_input_settling_while_its_dependents_are_cancelled_stays_consistent);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(cancel_suite)
