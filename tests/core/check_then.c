/*
 * check_then.c - continuations: where they run, in which order, how states pass through.
 */
#include "common/testutil.h"

static hf_runtime_t *rt;

static void setup(void)
{
    rt = tu_runtime(2);
}

static void teardown(void)
{
    hf_runtime_free(rt);
    rt = NULL;
}

typedef struct where {
    hf_executor_t *ex;
    pthread_t thread;
    int ran;
} where_t;

static void record_where(hf_future_t *done, hf_promise_t *next, void *arg)
{
    where_t *w = arg;
    (void)done;
    w->ex = hf_current_executor();
    w->thread = pthread_self();
    w->ran = 1;
    hf_promise_resolve(next, NULL, NULL);
}

START_TEST(then_runs_on_the_executor_it_names)
{
    hf_executor_t *exs[2] = { hf_runtime_compute(rt), hf_runtime_io(rt) };
    for (int i = 0; i < 2; i++) {
        where_t w = { 0 };
        hf_promise_t *p = hf_promise_new();
        hf_future_t *f = hf_promise_future(p);
        hf_future_t *g = hf_future_then(f, exs[i], record_where, &w);
        hf_promise_resolve(p, NULL, NULL);
        ck_assert_int_eq(tu_settle(g), HF_FUTURE_FULFILLED);
        ck_assert_int_eq(w.ran, 1);
        ck_assert_ptr_eq(w.ex, exs[i]);
        ck_assert(!pthread_equal(w.thread, pthread_self()));
        hf_future_release(g);
        hf_future_release(f);
        hf_promise_free(p);
    }
}
END_TEST

START_TEST(then_on_a_settled_future_never_runs_inside_the_registering_call)
{
    hf_future_t *f = hf_future_resolved(NULL, NULL);
    for (int i = 0; i < 100; i++) {
        where_t w = { 0 };
        hf_future_t *g = hf_future_then(f, hf_runtime_compute(rt), record_where, &w);
        ck_assert_int_eq(tu_settle(g), HF_FUTURE_FULFILLED);
        ck_assert(!pthread_equal(w.thread, pthread_self()));
        ck_assert_ptr_eq(w.ex, hf_runtime_compute(rt));
        hf_future_release(g);
    }
    hf_future_release(f);
}
END_TEST

START_TEST(inline_then_on_a_settled_future_runs_inside_the_call)
{
    where_t w = { 0 };
    hf_future_t *f = hf_future_resolved(NULL, NULL);
    hf_future_t *g = hf_future_then(f, HF_INLINE, record_where, &w);
    ck_assert_int_eq(w.ran, 1);
    ck_assert(pthread_equal(w.thread, pthread_self()));
    ck_assert_ptr_null(w.ex);
    ck_assert_int_eq(hf_future_state(g), HF_FUTURE_FULFILLED);
    hf_future_release(g);
    hf_future_release(f);
}
END_TEST

static void *resolve_from_thread(void *arg)
{
    hf_promise_resolve(arg, NULL, NULL);
    return NULL;
}

START_TEST(inline_then_on_a_pending_future_runs_on_the_settling_thread)
{
    where_t w = { 0 };
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);
    hf_future_t *g = hf_future_then(f, HF_INLINE, record_where, &w);
    pthread_t t;

    ck_assert_int_eq(w.ran, 0);
    pthread_create(&t, NULL, resolve_from_thread, p);
    pthread_join(t, NULL);
    ck_assert_int_eq(w.ran, 1);
    ck_assert(pthread_equal(w.thread, t));
    hf_future_release(g);
    hf_future_release(f);
    hf_promise_free(p);
}
END_TEST

#define NCONT 300

typedef struct order_log {
    pthread_mutex_t mu;
    int n;
    int seen[NCONT];
} order_log_t;

typedef struct order_arg {
    order_log_t *log;
    int index;
} order_arg_t;

static void log_order(hf_future_t *done, hf_promise_t *next, void *arg)
{
    order_arg_t *a = arg;
    (void)done;
    pthread_mutex_lock(&a->log->mu);
    a->log->seen[a->log->n++] = a->index;
    pthread_mutex_unlock(&a->log->mu);
    hf_promise_resolve(next, NULL, NULL);
}

static void check_registration_order(int settle_first)
{
    static order_log_t log;
    static order_arg_t args[NCONT];
    hf_future_t *outs[NCONT];
    hf_executor_t *exs[3] = { hf_runtime_compute(rt), hf_runtime_io(rt), HF_INLINE };
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);

    pthread_mutex_init(&log.mu, NULL);
    log.n = 0;
    if (settle_first)
        hf_promise_resolve(p, NULL, NULL);
    for (int i = 0; i < NCONT; i++) {
        args[i].log = &log;
        args[i].index = i;
        outs[i] = hf_future_then(f, exs[i % 3], log_order, &args[i]);
    }
    if (!settle_first)
        hf_promise_resolve(p, NULL, NULL);
    for (int i = 0; i < NCONT; i++) {
        ck_assert_int_eq(tu_settle(outs[i]), HF_FUTURE_FULFILLED);
        hf_future_release(outs[i]);
    }
    ck_assert_int_eq(log.n, NCONT);
    for (int i = 0; i < NCONT; i++)
        ck_assert_int_eq(log.seen[i], i);
    hf_future_release(f);
    hf_promise_free(p);
}

START_TEST(continuations_run_in_registration_order_across_executors)
{
    check_registration_order(0);
}
END_TEST

START_TEST(continuations_on_a_settled_future_run_in_registration_order)
{
    check_registration_order(1);
}
END_TEST

static void add_one(hf_future_t *done, hf_promise_t *next, void *arg)
{
    (void)arg;
    hf_promise_resolve(next, (void *)((intptr_t)hf_future_value(done) + 1), NULL);
}

static void reject_it(hf_future_t *done, hf_promise_t *next, void *arg)
{
    (void)done;
    (void)arg;
    hf_promise_rejectf(next, HF_EIO, 0, "disk went away");
}

static void adopt_arg(hf_future_t *done, hf_promise_t *next, void *arg)
{
    (void)done;
    ck_assert_int_eq(hf_promise_adopt(next, arg), 0);
}

START_TEST(a_continuation_can_resolve_reject_or_adopt)
{
    hf_future_t *f = hf_future_resolved((void *)(intptr_t)41, NULL);
    hf_promise_t *later = hf_promise_new();
    hf_future_t *lf = hf_promise_future(later);
    hf_future_t *a = hf_future_then(f, hf_runtime_compute(rt), add_one, NULL);
    hf_future_t *b = hf_future_then(f, hf_runtime_io(rt), reject_it, NULL);
    hf_future_t *c = hf_future_then(f, hf_runtime_compute(rt), adopt_arg, lf);

    ck_assert_int_eq(tu_settle(a), HF_FUTURE_FULFILLED);
    ck_assert_int_eq((intptr_t)hf_future_value(a), 42);
    ck_assert_int_eq(tu_settle(b), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(b)->code, HF_EIO);
    ck_assert_str_eq(hf_future_error(b)->message, "disk went away");
    ck_assert_int_eq(hf_future_wait(c, 50), HF_ETIMEDOUT);     /* adopted, still pending */
    hf_promise_resolve(later, (void *)(intptr_t)7, NULL);
    ck_assert_int_eq(tu_settle(c), HF_FUTURE_FULFILLED);
    ck_assert_int_eq((intptr_t)hf_future_value(c), 7);
    hf_future_release(a);
    hf_future_release(b);
    hf_future_release(c);
    hf_future_release(lf);
    hf_future_release(f);
    hf_promise_free(later);
}
END_TEST

static void pass_by_adopting(hf_future_t *done, hf_promise_t *next, void *arg)
{
    (void)arg;
    ck_assert_int_eq(hf_promise_adopt(next, done), 0);
}

/* An inline continuation runs inside the thread's trampoline; adopting a future that has
 * already settled must settle `next` before it returns, not leave it to be broken. */
START_TEST(adopting_a_settled_future_in_an_inline_continuation_settles_next)
{
    int v = 7;
    hf_future_t *g = hf_future_resolved(&v, NULL);
    hf_future_t *in = hf_future_resolved(NULL, NULL);
    hf_promise_t *p = hf_promise_new();
    hf_future_t *pf = hf_promise_future(p);
    hf_future_t *now = hf_future_then(in, HF_INLINE, adopt_arg, g);      /* settled input */
    hf_future_t *later = hf_future_then(pf, HF_INLINE, adopt_arg, g);    /* pending input */
    hf_future_t *first, *cur;

    ck_assert_int_eq(hf_future_state(now), HF_FUTURE_FULFILLED);
    ck_assert_ptr_eq(hf_future_value(now), &v);
    hf_promise_resolve(p, NULL, NULL);
    ck_assert_int_eq(hf_future_state(later), HF_FUTURE_FULFILLED);
    ck_assert_ptr_eq(hf_future_value(later), &v);

    /* A chain of pass-through links that adopt their input, inline and on the pool. */
    hf_promise_free(p);
    p = hf_promise_new();
    first = hf_promise_future(p);
    cur = hf_future_retain(first);
    for (int i = 0; i < 1000; i++) {
        hf_future_t *next = hf_future_then(cur, (i % 3) ? HF_INLINE : hf_runtime_compute(rt),
                                           pass_by_adopting, NULL);
        hf_future_release(cur);
        cur = next;
    }
    hf_promise_resolve(p, &v, NULL);
    ck_assert_int_eq(tu_settle(cur), HF_FUTURE_FULFILLED);
    ck_assert_ptr_eq(hf_future_value(cur), &v);

    hf_future_release(cur);
    hf_future_release(first);
    hf_promise_free(p);
    hf_future_release(now);
    hf_future_release(later);
    hf_future_release(pf);
    hf_future_release(in);
    hf_future_release(g);
}
END_TEST

static atomic_int value_calls;

static void value_only(hf_future_t *done, hf_promise_t *next, void *arg)
{
    (void)done;
    (void)arg;
    atomic_fetch_add(&value_calls, 1);
    hf_promise_resolve(next, NULL, NULL);
}

static void recover(hf_future_t *done, hf_promise_t *next, void *arg)
{
    int *code = arg;
    *code = hf_future_error(done)->code;
    hf_promise_resolve(next, (void *)(intptr_t)99, NULL);
}

START_TEST(errors_skip_value_continuations_until_a_catch)
{
    int caught = 0;
    hf_future_t *f = hf_future_rejected(HF_ENETWORK, 0, "connection reset");
    hf_future_t *a, *b, *c, *d;

    value_calls = 0;
    a = hf_future_then(f, hf_runtime_compute(rt), value_only, NULL);
    b = hf_future_then(a, hf_runtime_io(rt), value_only, NULL);
    c = hf_future_catch(b, hf_runtime_compute(rt), recover, &caught);
    d = hf_future_then(c, hf_runtime_compute(rt), add_one, NULL);
    ck_assert_int_eq(tu_settle(d), HF_FUTURE_FULFILLED);
    ck_assert_int_eq((intptr_t)hf_future_value(d), 100);
    ck_assert_int_eq(caught, HF_ENETWORK);
    ck_assert_int_eq(value_calls, 0);
    ck_assert_int_eq(hf_future_state(b), HF_FUTURE_REJECTED);
    ck_assert_str_eq(hf_future_error(b)->message, "connection reset");
    hf_future_release(a);
    hf_future_release(b);
    hf_future_release(c);
    hf_future_release(d);
    hf_future_release(f);
}
END_TEST

START_TEST(catch_lets_values_and_cancellation_pass)
{
    int caught = 0;
    hf_future_t *ok = hf_future_resolved((void *)(intptr_t)5, NULL);
    hf_promise_t *p = hf_promise_new();
    hf_future_t *pf = hf_promise_future(p);
    hf_future_t *a = hf_future_catch(ok, hf_runtime_compute(rt), recover, &caught);
    hf_future_t *b = hf_future_catch(pf, hf_runtime_compute(rt), recover, &caught);

    hf_future_cancel(pf);
    ck_assert_int_eq(tu_settle(a), HF_FUTURE_FULFILLED);
    ck_assert_int_eq((intptr_t)hf_future_value(a), 5);
    ck_assert_int_eq(tu_settle(b), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(caught, 0);
    hf_future_release(a);
    hf_future_release(b);
    hf_future_release(ok);
    hf_future_release(pf);
    hf_promise_free(p);
}
END_TEST

static atomic_int finally_calls;

static void count_finally(hf_future_t *done, void *arg)
{
    (void)done;
    (void)arg;
    atomic_fetch_add(&finally_calls, 1);
}

START_TEST(finally_runs_for_every_state_and_passes_it_on)
{
    hf_future_t *ins[3];
    hf_promise_t *p = hf_promise_new();

    finally_calls = 0;
    ins[0] = hf_future_resolved((void *)(intptr_t)3, NULL);
    ins[1] = hf_future_rejected(HF_ECORRUPT, 0, "bad hash");
    ins[2] = hf_promise_future(p);
    hf_future_cancel(ins[2]);
    for (int i = 0; i < 3; i++) {
        hf_future_t *g = hf_future_finally(ins[i], hf_runtime_io(rt), count_finally, NULL);
        hf_future_state_t st = tu_settle(g);
        ck_assert_int_eq(st, hf_future_state(ins[i]));
        if (st == HF_FUTURE_FULFILLED)
            ck_assert_int_eq((intptr_t)hf_future_value(g), 3);
        if (st == HF_FUTURE_REJECTED)
            ck_assert_int_eq(hf_future_error(g)->code, HF_ECORRUPT);
        hf_future_release(g);
        hf_future_release(ins[i]);
    }
    ck_assert_int_eq(finally_calls, 3);
    hf_promise_free(p);
}
END_TEST

START_TEST(then_on_handles_only_the_states_asked_for)
{
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);
    hf_future_t *g;

    value_calls = 0;
    g = hf_future_then_on(f, hf_runtime_compute(rt), HF_ON_CANCEL, value_only, NULL);
    hf_future_cancel(f);
    ck_assert_int_eq(tu_settle(g), HF_FUTURE_FULFILLED);      /* the handler resolved it */
    ck_assert_int_eq(value_calls, 1);
    hf_future_release(g);
    hf_future_release(f);
    hf_promise_free(p);
}
END_TEST

static void forget_next(hf_future_t *done, hf_promise_t *next, void *arg)
{
    (void)done;
    (void)next;
    (void)arg;
    hf_promise_free(next);  /* misuse: ignored, `next` belongs to the runtime */
}

START_TEST(returning_without_settling_next_rejects_it_as_broken)
{
    hf_future_t *f = hf_future_resolved(NULL, NULL);
    hf_future_t *g = hf_future_then(f, hf_runtime_compute(rt), forget_next, NULL);
    ck_assert_int_eq(tu_settle(g), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(g)->code, HF_EBROKEN);
    hf_future_release(g);
    hf_future_release(f);
}
END_TEST

#define DEEP 10000

typedef struct chain_ctx {
    hf_executor_t *ex;
    intptr_t result;
    int state;
} chain_ctx_t;

/* On a 256 KiB stack: a 10,000-deep chain that recursed would overflow it. */
static void *chain_thread(void *arg)
{
    chain_ctx_t *ctx = arg;
    hf_promise_t *p = hf_promise_new();
    hf_future_t *first = hf_promise_future(p), *cur = hf_future_retain(first);

    for (int i = 0; i < DEEP; i++) {
        hf_future_t *next = hf_future_then(cur, ctx->ex, add_one, NULL);
        hf_future_release(cur);
        cur = next;
    }
    hf_promise_resolve(p, (void *)(intptr_t)0, NULL);
    hf_future_wait(cur, TU_DEADLINE_MS);
    ctx->state = hf_future_state(cur);
    ctx->result = (intptr_t)hf_future_value(cur);
    hf_future_release(cur);
    hf_future_release(first);
    hf_promise_free(p);
    return NULL;
}

static void run_chain(hf_executor_t *ex)
{
    chain_ctx_t ctx = { ex, 0, 0 };
    pthread_attr_t a;
    pthread_t t;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 256 * 1024);
    ck_assert_int_eq(pthread_create(&t, &a, chain_thread, &ctx), 0);
    pthread_join(t, NULL);
    pthread_attr_destroy(&a);
    ck_assert_int_eq(ctx.state, HF_FUTURE_FULFILLED);
    ck_assert_int_eq(ctx.result, DEEP);
}

START_TEST(inline_chain_10000_deep_runs_without_stack_growth)
{
    run_chain(HF_INLINE);
}
END_TEST

START_TEST(compute_chain_10000_deep_runs)
{
    run_chain(hf_runtime_compute(rt));
}
END_TEST

START_TEST(error_through_10000_links_is_iterative)
{
    hf_future_t *f = hf_future_rejected(HF_EAUTH, 401, "no");
    hf_future_t *cur = hf_future_retain(f);
    for (int i = 0; i < DEEP; i++) {
        hf_future_t *next = hf_future_then(cur, HF_INLINE, add_one, NULL);
        hf_future_release(cur);
        cur = next;
    }
    ck_assert_int_eq(hf_future_state(cur), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(cur)->http_status, 401);
    hf_future_release(f);
    hf_future_release(cur);     /* releases a chain of 10,000 borrowed errors */
}
END_TEST

static void wait_own_output(hf_future_t *done, hf_promise_t *next, void *arg)
{
    hf_future_t *mine = hf_promise_future(next);
    hf_future_t *later = hf_future_then(mine, HF_INLINE, add_one, NULL);
    (void)done;
    *(int *)arg = hf_future_wait(mine, 1000) * 1000 + hf_future_wait(later, 1000);
    hf_promise_resolve(next, NULL, NULL);
    hf_future_release(later);
    hf_future_release(mine);
}

START_TEST(waiting_on_its_own_output_inside_a_continuation_is_edeadlk)
{
    int rc = 0;
    hf_future_t *f = hf_future_resolved(NULL, NULL);
    hf_future_t *g = hf_future_then(f, hf_runtime_compute(rt), wait_own_output, &rc);
    ck_assert_int_eq(tu_settle(g), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(rc, HF_EDEADLK * 1000 + HF_EDEADLK);
    hf_future_release(g);
    hf_future_release(f);
}
END_TEST

/* The continuations of one future run one after another: one registered after the running
 * one cannot start before it returns, so a wait for it from inside is HF_EDEADLK (a hang
 * otherwise), whether the input had settled when it was registered or not, and also through
 * a further link. A wait on an earlier sibling, which has started and adopted a future that
 * another thread settles, is no deadlock and returns 0. */
typedef struct sibling {
    hf_executor_t *ex;          /* where the later sibling runs */
    hf_future_t *later;         /* NULL: the continuation registers it itself */
    hf_future_t *earlier;       /* an earlier sibling to wait for (no deadlock) */
    int rc_later, rc_beyond, rc_earlier;
    atomic_int later_ran;
} sibling_t;

static void later_sibling(hf_future_t *done, hf_promise_t *next, void *arg)
{
    sibling_t *s = arg;
    (void)done;
    atomic_store(&s->later_ran, 1);
    hf_promise_resolve(next, NULL, NULL);
}

static void wait_on_siblings(hf_future_t *done, hf_promise_t *next, void *arg)
{
    sibling_t *s = arg;
    hf_future_t *beyond;

    if (!s->later)
        s->later = hf_future_then(done, s->ex, later_sibling, s);
    beyond = hf_future_then(s->later, HF_INLINE, add_one, NULL);
    s->rc_later = hf_future_wait(s->later, 10000);
    s->rc_beyond = hf_future_wait(beyond, 10000);
    s->rc_earlier = s->earlier ? hf_future_wait(s->earlier, TU_DEADLINE_MS) : 0;
    hf_future_release(beyond);
    hf_promise_resolve(next, NULL, NULL);
}

static void check_later_sibling(sibling_t *s)
{
    ck_assert_int_eq(s->rc_later, HF_EDEADLK);
    ck_assert_int_eq(s->rc_beyond, HF_EDEADLK);
    ck_assert_int_eq(s->rc_earlier, 0);
    /* nothing is lost: the later sibling runs once the waiting one has returned */
    ck_assert_int_eq(tu_settle(s->later), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(atomic_load(&s->later_ran), 1);
    hf_future_release(s->later);
}

START_TEST(waiting_inside_a_continuation_on_a_later_one_of_the_same_future_is_edeadlk)
{
    hf_executor_t *exs[3] = { hf_runtime_compute(rt), hf_runtime_io(rt), HF_INLINE };

    /* input settled before the waiting continuation registers its sibling */
    for (int i = 0; i < 3; i++) {
        sibling_t s = { .ex = exs[(i + 1) % 3] };
        hf_future_t *f = hf_future_resolved(NULL, NULL);
        hf_future_t *t = hf_future_then(f, exs[i], wait_on_siblings, &s);
        ck_assert_int_eq(tu_settle(t), HF_FUTURE_FULFILLED);
        check_later_sibling(&s);
        hf_future_release(t);
        hf_future_release(f);
    }
    /* input pending when both are registered; an earlier sibling adopts a timer's future */
    for (int i = 0; i < 3; i++) {
        sibling_t s = { .ex = exs[(i + 2) % 3] };
        hf_promise_t *p = hf_promise_new();
        hf_future_t *f = hf_promise_future(p);
        hf_future_t *g = hf_future_delay(20);
        hf_future_t *t;

        s.earlier = hf_future_then(f, hf_runtime_io(rt), adopt_arg, g);
        t = hf_future_then(f, exs[i], wait_on_siblings, &s);
        s.later = hf_future_then(f, s.ex, later_sibling, &s);
        hf_promise_resolve(p, NULL, NULL);
        ck_assert_int_eq(tu_settle(t), HF_FUTURE_FULFILLED);
        check_later_sibling(&s);
        ck_assert_int_eq(hf_future_state(s.earlier), HF_FUTURE_FULFILLED);
        hf_future_release(s.earlier);
        hf_future_release(g);
        hf_future_release(t);
        hf_future_release(f);
        hf_promise_free(p);
    }
}
END_TEST

static void poll_cancel(hf_future_t *done, hf_promise_t *next, void *arg)
{
    atomic_int *state = arg;
    (void)done;
    atomic_store(state, 1);                     /* running */
    while (!hf_cancel_requested())
        tu_sleep_ms(1);
    atomic_store(state, 2);                     /* saw the cancellation */
    ck_assert_int_eq(hf_promise_resolve(next, NULL, NULL), HF_ESTATE);
}

START_TEST(a_running_continuation_sees_its_output_cancelled)
{
    atomic_int state = 0;
    hf_future_t *f = hf_future_resolved(NULL, NULL);
    hf_future_t *g = hf_future_then(f, hf_runtime_compute(rt), poll_cancel, &state);
    TU_EVENTUALLY(atomic_load(&state) == 1);
    ck_assert_int_eq(hf_future_cancel(g), 0);
    TU_EVENTUALLY(atomic_load(&state) == 2);
    ck_assert_int_eq(hf_future_state(g), HF_FUTURE_CANCELLED);
    hf_future_release(g);
    hf_future_release(f);
}
END_TEST


/* ---- contract audit: HF_INLINE work registered from inside an inline continuation -------- */

typedef struct nested {
    int inner_ran;              /* set by the nested function */
    int ran_inside_call;        /* its value right after the nested call returned */
    pthread_t thread;
} nested_t;

static void nested_post_fn(void *arg)
{
    nested_t *n = arg;
    n->inner_ran = 1;
    n->thread = pthread_self();
}

static void nested_then_fn(hf_future_t *done, hf_promise_t *next, void *arg)
{
    (void)done;
    nested_post_fn(arg);
    hf_promise_resolve(next, NULL, NULL);
}

static void outer_posts(hf_future_t *done, hf_promise_t *next, void *arg)
{
    nested_t *n = arg;
    (void)done;
    ck_assert_int_eq(hf_executor_post(HF_INLINE, nested_post_fn, n), 0);
    n->ran_inside_call = n->inner_ran;
    hf_promise_resolve(next, NULL, NULL);
}

static void outer_thens(hf_future_t *done, hf_promise_t *next, void *arg)
{
    nested_t *n = arg;
    hf_future_t *g = hf_future_then(done, HF_INLINE, nested_then_fn, n);   /* settled */
    n->ran_inside_call = n->inner_ran;
    hf_future_release(g);
    hf_promise_resolve(next, NULL, NULL);
}

/* Inside an inline continuation, HF_INLINE work (a post, or a then on a settled future)
 * runs right after that continuation returns, on the same thread, before the call that
 * started the inline run returns: never nested inside it (the trampoline). */
START_TEST(inline_work_registered_inside_an_inline_continuation_runs_right_after_it)
{
    for (int i = 0; i < 2; i++) {
        nested_t n = { 0, -1, pthread_self() };
        hf_promise_t *p = hf_promise_new();
        hf_future_t *f = hf_promise_future(p);
        hf_future_t *g = hf_future_then(f, HF_INLINE, i ? outer_thens : outer_posts, &n);

        ck_assert_int_eq(n.inner_ran, 0);
        hf_promise_resolve(p, NULL, NULL);
        ck_assert_int_eq(n.ran_inside_call, 0);
        ck_assert_int_eq(n.inner_ran, 1);
        ck_assert(pthread_equal(n.thread, pthread_self()));
        ck_assert_int_eq(hf_future_state(g), HF_FUTURE_FULFILLED);
        hf_future_release(g);
        hf_future_release(f);
        hf_promise_free(p);
    }
}
END_TEST


static atomic_int hold_gate, hold_started;

static void hold_until_gate(hf_future_t *done, hf_promise_t *next, void *arg)
{
    (void)done;
    (void)arg;
    atomic_store(&hold_started, 1);
    while (!atomic_load(&hold_gate))
        tu_sleep_ms(1);
    hf_promise_resolve(next, NULL, NULL);
}

/* Registration order wins: an HF_INLINE then on a settled future whose earlier
 * continuation still runs does not run inside the registering call, but right after that
 * one, on its thread. */
START_TEST(inline_then_behind_a_running_continuation_runs_after_it_on_its_thread)
{
    hf_future_t *f = hf_future_resolved(NULL, NULL);
    hf_future_t *first, *second;
    where_t w = { 0 };

    atomic_store(&hold_gate, 0);
    atomic_store(&hold_started, 0);
    first = hf_future_then(f, hf_runtime_compute(rt), hold_until_gate, NULL);
    TU_EVENTUALLY(atomic_load(&hold_started));
    second = hf_future_then(f, HF_INLINE, record_where, &w);
    ck_assert_int_eq(w.ran, 0);
    ck_assert_int_eq(hf_future_state(second), HF_FUTURE_PENDING);
    atomic_store(&hold_gate, 1);
    ck_assert_int_eq(tu_settle(second), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(w.ran, 1);
    ck_assert(!pthread_equal(w.thread, pthread_self()));
    ck_assert_ptr_eq(w.ex, hf_runtime_compute(rt));
    ck_assert_int_eq(tu_settle(first), HF_FUTURE_FULFILLED);
    hf_future_release(first);
    hf_future_release(second);
    hf_future_release(f);
}
END_TEST

static Suite *then_suite(void)
{
    Suite *s = suite_create("then");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, inline_work_registered_inside_an_inline_continuation_runs_right_after_it);
    tcase_add_test(tc, inline_then_behind_a_running_continuation_runs_after_it_on_its_thread);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, then_runs_on_the_executor_it_names);
    tcase_add_test(tc, then_on_a_settled_future_never_runs_inside_the_registering_call);
    tcase_add_test(tc, inline_then_on_a_settled_future_runs_inside_the_call);
    tcase_add_test(tc, inline_then_on_a_pending_future_runs_on_the_settling_thread);
    tcase_add_test(tc, continuations_run_in_registration_order_across_executors);
    tcase_add_test(tc, continuations_on_a_settled_future_run_in_registration_order);
    tcase_add_test(tc, a_continuation_can_resolve_reject_or_adopt);
    tcase_add_test(tc, adopting_a_settled_future_in_an_inline_continuation_settles_next);
    tcase_add_test(tc, errors_skip_value_continuations_until_a_catch);
    tcase_add_test(tc, catch_lets_values_and_cancellation_pass);
    tcase_add_test(tc, finally_runs_for_every_state_and_passes_it_on);
    tcase_add_test(tc, then_on_handles_only_the_states_asked_for);
    tcase_add_test(tc, returning_without_settling_next_rejects_it_as_broken);
    tcase_add_test(tc, inline_chain_10000_deep_runs_without_stack_growth);
    tcase_add_test(tc, compute_chain_10000_deep_runs);
    tcase_add_test(tc, error_through_10000_links_is_iterative);
    tcase_add_test(tc, waiting_on_its_own_output_inside_a_continuation_is_edeadlk);
    tcase_add_test(tc, waiting_inside_a_continuation_on_a_later_one_of_the_same_future_is_edeadlk);
    tcase_add_test(tc, a_running_continuation_sees_its_output_cancelled);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(then_suite)
