/*
 * core_hfasync.c - the hfasync side of hf-bench's core suite, through the public API only.
 *
 * Every bench runs on one runtime with `threads` compute workers, set up for that bench.
 * Rows: all of them.
 *  - spawn_external: the main thread (not a pool thread) posts N tasks with
 *    hf_executor_post(); each decrements a counter, the last one resolves a promise that
 *    main waits on. ops = N tasks.
 *  - spawn_local: the same N tasks posted by one compute task onto its own pool, which
 *    then waits for them from inside the pool. ops = N tasks.
 *  - spawn_nested: fib(n) inside a compute task; each call with n >= 2 spawns fib(n-1)
 *    with hf_async(), computes fib(n-2) itself and joins the child with hf_future_wait().
 *    ops = the tasks spawned, fib(n+1) - 1.
 *  - chain: N `then` links (on the compute pool) built on a pending future, then the head
 *    resolved and the tail waited on. ops = links; chain_build and chain_run are the two
 *    halves of the same runs.
 *  - then_ready: an HF_INLINE `then` on a settled future, N times. ops = continuations.
 *  - ping_pong: two plain threads hand a message back and forth through fresh promises
 *    every round. ops = round trips.
 *  - fan_in: N promises, hf_future_all() over their futures, resolved by `threads`
 *    compute tasks; main waits on the all-future. ops = input futures.
 *
 * Ownership note: a promise is freed by the thread that settles it (it is handed over
 * with the task), so no promise is freed while another thread is inside a call on it.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "hfasync.h"
#include "bench.h"

#define IMPL "hfasync"

typedef struct env {
    hf_runtime_t *rt;
    hf_executor_t *cpu;
} env_t;

static void *setup(const bench_params_t *p)
{
    hf_runtime_config_t cfg = { 0 };
    env_t *e = calloc(1, sizeof *e);

    if (!e) {
        bench_fail(IMPL, "setup", "out of memory");
        return NULL;
    }
    cfg.compute_threads = p->threads;
    if ((e->rt = hf_runtime_new(&cfg)) == NULL) {
        bench_fail(IMPL, "setup", "hf_runtime_new failed");
        free(e);
        return NULL;
    }
    e->cpu = hf_runtime_compute(e->rt);
    return e;
}

static void teardown(void *env)
{
    env_t *e = env;
    hf_runtime_free(e->rt);
    free(e);
}

static const char *version(void)
{
    return PACKAGE_VERSION;
}

static int lib_mallocs(void *env, uint64_t *out)
{
    env_t *e = env;
    hf_runtime_stats_t s;

    if (hf_runtime_stats(e->rt, &s) < 0)
        return -1;
    *out = s.obj_mallocs;
    return 0;
}

/* Wait for `f`; 0 if it was fulfilled with `want` (any value if `check` is 0). */
static int wait_value(hf_future_t *f, const char *bench, int check, void *want, void **got)
{
    int rc = hf_future_wait(f, -1);
    const hf_error_t *err;

    if (rc < 0)
        return bench_fail(IMPL, bench, "hf_future_wait: %s", hf_strerror(rc));
    if (hf_future_state(f) != HF_FUTURE_FULFILLED) {
        err = hf_future_error(f);
        return bench_fail(IMPL, bench, "future not fulfilled: %s",
                          err ? err->message : "no error");
    }
    if (got)
        *got = hf_future_value(f);
    if (check && hf_future_value(f) != want)
        return bench_fail(IMPL, bench, "wrong value %lld, expected %lld",
                          (long long)(intptr_t)hf_future_value(f), (long long)(intptr_t)want);
    return 0;
}

/* Time fn(arg) run by hf_async() on the pool until its future is fulfilled (with `want`,
 * if `check`); `ops` goes into `out`. */
static int timed_async(env_t *e, hf_task_fn fn, void *arg, const char *bench, int check,
                       void *want, uint64_t ops, bench_rep_t *out)
{
    uint64_t t0 = bench_now_ns();
    hf_future_t *f = hf_async(e->cpu, fn, arg);
    int rc;

    if (!f)
        return bench_fail(IMPL, bench, "hf_async failed");
    rc = wait_value(f, bench, check, want, NULL);
    out->ns = bench_now_ns() - t0;
    out->ops = ops;
    hf_future_release(f);
    return rc;
}

/* ---- spawn_external, spawn_local ---------------------------------------------------------- */

typedef struct countdown {
    _Atomic uint64_t left;
    hf_promise_t *done;         /* owned by the task that brings `left` to zero */
} countdown_t;

static void countdown_hit(countdown_t *c, uint64_t k)
{
    if (atomic_fetch_sub_explicit(&c->left, k, memory_order_acq_rel) == k) {
        hf_promise_t *done = c->done;
        hf_promise_resolve(done, c, NULL);
        hf_promise_free(done);
    }
}

static void count_task(void *arg)
{
    countdown_hit(arg, 1);
}

/* Set up `c` for `n` tasks; returns the future to wait on (NULL: no memory). */
static hf_future_t *countdown_init(countdown_t *c, uint64_t n)
{
    hf_future_t *f;

    atomic_init(&c->left, n);
    if ((c->done = hf_promise_new()) == NULL)
        return NULL;
    if ((f = hf_promise_future(c->done)) == NULL)
        hf_promise_free(c->done);
    return f;
}

/* Post `n` count_tasks for `c` on `ex`; what could not be posted is counted down here. */
static int post_countdown(hf_executor_t *ex, countdown_t *c, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        int rc = hf_executor_post(ex, count_task, c);
        if (rc < 0) {
            countdown_hit(c, n - i);
            return rc;
        }
    }
    return 0;
}

/* Post n tasks on `ex` and wait for them all; 0 or -1. */
static int spawn_and_wait(hf_executor_t *ex, uint64_t n, const char *bench)
{
    countdown_t c;
    hf_future_t *f = countdown_init(&c, n);
    int rc;

    if (!f)
        return bench_fail(IMPL, bench, "out of memory");
    if ((rc = post_countdown(ex, &c, n)) < 0)
        bench_fail(IMPL, bench, "hf_executor_post: %s", hf_strerror(rc));
    if (wait_value(f, bench, 1, &c, NULL) < 0)
        rc = -1;
    else if (atomic_load(&c.left) != 0)
        rc = bench_fail(IMPL, bench, "%llu tasks did not run",
                        (unsigned long long)atomic_load(&c.left));
    hf_future_release(f);
    return rc < 0 ? -1 : 0;
}

static int spawn_external(void *env, const bench_params_t *p, bench_rep_t *out)
{
    env_t *e = env;
    uint64_t t0 = bench_now_ns();
    int rc = spawn_and_wait(e->cpu, p->n_spawn, "spawn_external");

    out->ns = bench_now_ns() - t0;
    out->ops = p->n_spawn;
    return rc;
}

static void *spawn_local_body(void *arg, hf_error_t *err)
{
    const bench_params_t *p = arg;
    if (spawn_and_wait(hf_current_executor(), p->n_spawn, "spawn_local") < 0)
        err->code = HF_EINVAL;
    return NULL;
}

static int spawn_local(void *env, const bench_params_t *p, bench_rep_t *out)
{
    return timed_async(env, spawn_local_body, (void *)p, "spawn_local", 0, NULL, p->n_spawn,
                       out);
}

/* ---- spawn_nested --------------------------------------------------------------------------- */

static int64_t fib_spawn(int n, hf_error_t *err);

static void *fib_task(void *arg, hf_error_t *err)
{
    return (void *)(intptr_t)fib_spawn((int)(intptr_t)arg, err);
}

static int64_t fib_spawn(int n, hf_error_t *err)
{
    hf_future_t *child;
    int64_t a, b;
    int rc;

    if (n < 2)
        return n;
    if ((child = hf_async(hf_current_executor(), fib_task, (void *)(intptr_t)(n - 1))) == NULL) {
        err->code = HF_ENOMEM;
        return 0;
    }
    b = fib_spawn(n - 2, err);
    rc = hf_future_wait(child, -1);
    if (rc < 0 || hf_future_state(child) != HF_FUTURE_FULFILLED) {
        const hf_error_t *ce = hf_future_error(child);
        err->code = rc < 0 ? rc : ce ? ce->code : HF_EBROKEN;
    }
    a = (intptr_t)hf_future_value(child);
    hf_future_release(child);
    return a + b;
}

static int spawn_nested(void *env, const bench_params_t *p, bench_rep_t *out)
{
    return timed_async(env, fib_task, (void *)(intptr_t)p->fib_n, "spawn_nested", 1,
                       (void *)(intptr_t)bench_fib(p->fib_n), bench_fib_spawns(p->fib_n), out);
}

/* ---- chain, then_ready ------------------------------------------------------------------- */

/* The continuation of both: resolve `next` with the input's value plus one. */
static void add_one(hf_future_t *done, hf_promise_t *next, void *arg)
{
    (void)arg;
    hf_promise_resolve(next, (void *)((intptr_t)hf_future_value(done) + 1), NULL);
}

static int chain(void *env, const bench_params_t *p, bench_rep_t *out)
{
    env_t *e = env;
    hf_promise_t *head = hf_promise_new();
    hf_future_t *f = hf_promise_future(head);
    uint64_t t0, t1, t2, built = 0;
    int rc = 0;

    if (!f) {
        hf_promise_free(head);
        return bench_fail(IMPL, "chain", "out of memory");
    }
    t0 = bench_now_ns();
    for (; built < p->n_chain; built++) {
        hf_future_t *g = hf_future_then(f, e->cpu, add_one, NULL);
        if (!g) {
            rc = bench_fail(IMPL, "chain", "hf_future_then failed at link %llu",
                            (unsigned long long)built);
            break;
        }
        hf_future_release(f);
        f = g;
    }
    t1 = bench_now_ns();
    hf_promise_resolve(head, (void *)0, NULL);
    if (wait_value(f, "chain", 1, (void *)(intptr_t)built, NULL) < 0)
        rc = -1;
    t2 = bench_now_ns();
    hf_future_release(f);
    hf_promise_free(head);
    out->ns = t2 - t0;
    out->part_ns[0] = t1 - t0;
    out->part_ns[1] = t2 - t1;
    out->ops = p->n_chain;
    return rc;
}

static int then_ready(void *env, const bench_params_t *p, bench_rep_t *out)
{
    hf_future_t *f = hf_future_resolved((void *)(intptr_t)1, NULL);
    uint64_t t0, bad = 0;
    (void)env;

    if (!f)
        return bench_fail(IMPL, "then_ready", "out of memory");
    t0 = bench_now_ns();
    for (uint64_t i = 0; i < p->n_then; i++) {
        hf_future_t *g = hf_future_then(f, HF_INLINE, add_one, NULL);
        if (!g || hf_future_state(g) != HF_FUTURE_FULFILLED ||
            hf_future_value(g) != (void *)(intptr_t)2)
            bad++;
        hf_future_release(g);
    }
    out->ns = bench_now_ns() - t0;
    out->ops = p->n_then;
    hf_future_release(f);
    if (bad)
        return bench_fail(IMPL, "then_ready", "%llu continuations did not settle inline to 2",
                          (unsigned long long)bad);
    return 0;
}

/* ---- ping_pong ---------------------------------------------------------------------------- */

/* The message of one round, on the ping thread's stack until the reply comes. */
typedef struct pp_msg {
    hf_promise_t *reply;        /* handed to the pong thread, which settles and frees it */
    hf_future_t *next;          /* the next round's request, or NULL to stop */
    intptr_t round;
} pp_msg_t;

typedef struct pp {
    hf_future_t *first;
    int failed;
} pp_t;

static void *pong_main(void *arg)
{
    pp_t *pp = arg;
    hf_future_t *f = pp->first;

    while (f) {
        pp_msg_t *m;
        hf_promise_t *reply;
        hf_future_t *next;
        intptr_t round;

        if (wait_value(f, "ping_pong", 0, NULL, (void **)&m) < 0) {
            pp->failed = 1;             /* the ping side then waits forever: a real bug */
            hf_future_release(f);
            break;
        }
        reply = m->reply;
        next = m->next;
        round = m->round;
        hf_future_release(f);
        hf_promise_resolve(reply, (void *)round, NULL);     /* `m` is gone after this */
        hf_promise_free(reply);
        f = next;
    }
    return NULL;
}

static int ping_pong(void *env, const bench_params_t *p, bench_rep_t *out)
{
    hf_promise_t *req = hf_promise_new();
    pp_t pp = { hf_promise_future(req), 0 };
    pthread_t pong;
    uint64_t t0 = 0;
    int rc = 0;
    (void)env;

    if (!pp.first || pthread_create(&pong, NULL, pong_main, &pp) != 0) {
        hf_future_release(pp.first);
        hf_promise_free(req);
        return bench_fail(IMPL, "ping_pong", "setup failed");
    }
    /* Round 0 only starts the pong thread; rounds 1..n are measured. */
    for (uint64_t r = 0; r <= p->n_pingpong; r++) {
        hf_promise_t *next = r < p->n_pingpong ? hf_promise_new() : NULL;
        pp_msg_t m = { hf_promise_new(), next ? hf_promise_future(next) : NULL,
                       (intptr_t)r };
        hf_future_t *reply = hf_promise_future(m.reply);

        if (r == 1)
            t0 = bench_now_ns();
        if (!reply || (r < p->n_pingpong && !m.next)) {
            rc = bench_fail(IMPL, "ping_pong", "out of memory");
            m.next = NULL;              /* tell the pong thread to stop */
        }
        hf_promise_resolve(req, &m, NULL);
        hf_promise_free(req);
        if (wait_value(reply, "ping_pong", 1, (void *)(intptr_t)r, NULL) < 0)
            rc = -1;
        hf_future_release(reply);
        req = next;
        if (rc < 0)
            break;
    }
    out->ns = bench_now_ns() - t0;
    out->ops = p->n_pingpong;
    hf_promise_free(req);           /* after a failure: breaks the promise, the pong ends */
    pthread_join(pong, NULL);
    return rc < 0 || pp.failed ? -1 : 0;
}

/* ---- fan_in ------------------------------------------------------------------------------- */

typedef struct fan_slice {
    hf_promise_t **ps;          /* [lo, hi) are handed to this task, which frees them */
    size_t lo, hi;
    _Atomic unsigned *busy;
} fan_slice_t;

static void fan_resolve(void *arg)
{
    fan_slice_t *s = arg;
    for (size_t i = s->lo; i < s->hi; i++) {
        hf_promise_resolve(s->ps[i], (void *)(uintptr_t)(i + 1), NULL);
        hf_promise_free(s->ps[i]);
    }
    atomic_fetch_sub_explicit(s->busy, 1, memory_order_release);
}

static int fan_in(void *env, const bench_params_t *p, bench_rep_t *out)
{
    env_t *e = env;
    size_t n = p->n_fanin, k = p->threads;
    hf_promise_t **ps = calloc(n, sizeof *ps);
    hf_future_t **fs = calloc(n, sizeof *fs), *all = NULL;
    fan_slice_t *sl = calloc(k, sizeof *sl);
    _Atomic unsigned busy;
    uint64_t t0, bad = 0;
    int rc = 0;

    if (!ps || !fs || !sl) {
        free(ps);
        free(fs);
        free(sl);
        return bench_fail(IMPL, "fan_in", "out of memory");
    }
    atomic_init(&busy, (unsigned)k);
    t0 = bench_now_ns();
    for (size_t i = 0; i < n; i++) {
        if ((ps[i] = hf_promise_new()) == NULL || (fs[i] = hf_promise_future(ps[i])) == NULL)
            rc = -1;
    }
    if (rc == 0 && (all = hf_future_all(fs, n)) == NULL)
        rc = -1;
    for (size_t j = 0; j < k; j++) {
        fan_slice_t s = { ps, n * j / k, n * (j + 1) / k, &busy };
        sl[j] = s;
        if (rc < 0 || hf_executor_post(e->cpu, fan_resolve, &sl[j]) < 0) {
            rc = -1;
            fan_resolve(&sl[j]);
        }
    }
    if (rc < 0)
        bench_fail(IMPL, "fan_in", "setup failed (memory or post)");
    else if (wait_value(all, "fan_in", 1, NULL, NULL) < 0)
        rc = -1;
    while (atomic_load_explicit(&busy, memory_order_acquire) != 0)
        ;                               /* the resolvers return right after their last */
    for (size_t i = 0; i < n; i++) {
        if (hf_future_value(fs[i]) != (void *)(uintptr_t)(i + 1))
            bad++;
        hf_future_release(fs[i]);
    }
    hf_future_release(all);
    out->ns = bench_now_ns() - t0;
    out->ops = n;
    free(ps);
    free(fs);
    free(sl);
    if (bad && rc == 0)
        rc = bench_fail(IMPL, "fan_in", "%llu inputs not fulfilled with their value",
                        (unsigned long long)bad);
    return rc;
}

static const bench_case_t cases[] = {
    { "spawn_external", spawn_external, { NULL, NULL } },
    { "spawn_local", spawn_local, { NULL, NULL } },
    { "spawn_nested", spawn_nested, { NULL, NULL } },
    { "chain", chain, { "chain_build", "chain_run" } },
    { "then_ready", then_ready, { NULL, NULL } },
    { "ping_pong", ping_pong, { NULL, NULL } },
    { "fan_in", fan_in, { NULL, NULL } },
    { NULL, NULL, { NULL, NULL } },
};

const bench_impl_t bench_impl_hfasync = {
    IMPL, version, setup, teardown, cases, lib_mallocs, NULL,
};
