/*
 * core_libuv.c - the libuv side of hf-bench's core suite (built only if configure found
 * libuv).
 *
 * Fairness rules (the same in every implementation file):
 *  - the same number of worker threads: libuv's one process-wide thread pool, sized by
 *    UV_THREADPOOL_SIZE, which hf-bench sets to `threads` before libuv is first used;
 *  - the same work per task as hfasync's rows: the work callback decrements an atomic
 *    counter; completion is counted by the after_work callbacks on the loop, which the
 *    submitting thread runs (uv_run returns once every request has completed);
 *  - libuv used as documented: uv_queue_work on a loop, uv_async_send to wake another
 *    loop's thread. The uv_work_t requests are allocated once, outside the measured
 *    region, which spares libuv a malloc per task that a real caller would usually pay.
 *
 * Rows:
 *  - spawn_external: the loop thread queues N work requests, then runs the loop until
 *    their after_work callbacks have all run. ops = N.
 *  - ping_pong: two loops in two threads wake each other with uv_async_send, a number
 *    going one way and its echo the other. ops = round trips.
 *  - no spawn_local, spawn_nested: a work callback cannot queue work (the loop is not
 *    thread-safe) nor wait for other work without holding a pool thread (deadlock).
 *  - no chain, then_ready, fan_in: libuv has no futures to chain or to combine; the
 *    counting join is spawn_external's.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <uv.h>

#include "bench.h"

#define IMPL "libuv"

typedef struct env {
    uv_loop_t loop;
    uv_work_t *reqs;
    size_t nreqs;
    _Atomic uint64_t left;      /* decremented by the work callbacks (pool threads) */
    uint64_t completed;         /* counted by the after_work callbacks (loop thread) */
    uint64_t failed;            /* after_work callbacks with a status */
} env_t;

static void work_cb(uv_work_t *req)
{
    env_t *e = req->data;
    atomic_fetch_sub_explicit(&e->left, 1, memory_order_acq_rel);
}

static void after_work_cb(uv_work_t *req, int status)
{
    env_t *e = req->data;
    e->completed++;
    e->failed += status != 0;
}

static void *setup(const bench_params_t *p)
{
    env_t *e = calloc(1, sizeof *e);
    int rc;

    if (!e || (e->reqs = calloc(p->n_spawn, sizeof *e->reqs)) == NULL) {
        free(e);
        bench_fail(IMPL, "setup", "out of memory");
        return NULL;
    }
    e->nreqs = p->n_spawn;
    for (size_t i = 0; i < e->nreqs; i++)
        e->reqs[i].data = e;
    if ((rc = uv_loop_init(&e->loop)) < 0) {
        bench_fail(IMPL, "setup", "uv_loop_init: %s", uv_strerror(rc));
        free(e->reqs);
        free(e);
        return NULL;
    }
    return e;
}

static void teardown(void *env)
{
    env_t *e = env;
    uv_loop_close(&e->loop);
    free(e->reqs);
    free(e);
}

static const char *version(void)
{
    return uv_version_string();
}

static int spawn_external(void *env, const bench_params_t *p, bench_rep_t *out)
{
    env_t *e = env;
    uint64_t t0, queued = 0;
    int rc = 0;

    if (p->n_spawn > e->nreqs)
        return bench_fail(IMPL, "spawn_external", "more tasks than requests");
    atomic_store(&e->left, p->n_spawn);
    e->completed = e->failed = 0;
    t0 = bench_now_ns();
    for (; queued < p->n_spawn; queued++) {
        if ((rc = uv_queue_work(&e->loop, &e->reqs[queued], work_cb, after_work_cb)) < 0)
            break;
    }
    uv_run(&e->loop, UV_RUN_DEFAULT);
    out->ns = bench_now_ns() - t0;
    out->ops = p->n_spawn;
    if (rc < 0)
        return bench_fail(IMPL, "spawn_external", "uv_queue_work: %s", uv_strerror(rc));
    if (atomic_load(&e->left) != 0 || e->completed != p->n_spawn || e->failed)
        return bench_fail(IMPL, "spawn_external", "%llu work callbacks did not run, "
                          "%llu of %llu completed, %llu with an error",
                          (unsigned long long)atomic_load(&e->left),
                          (unsigned long long)e->completed, (unsigned long long)p->n_spawn,
                          (unsigned long long)e->failed);
    return 0;
}

/* ---- ping_pong ------------------------------------------------------------------------- */

typedef struct pp {
    uv_async_t a;               /* on the main loop: the echo has come */
    uv_async_t b;               /* on the other thread's loop: a number has come */
    uv_loop_t loop_b;
    _Atomic int64_t ping, pong; /* the number sent each way */
    int64_t round, n;
    uint64_t t0, t1, bad;
} pp_t;

static void b_cb(uv_async_t *h)
{
    pp_t *pp = h->data;
    int64_t r = atomic_load(&pp->ping);

    atomic_store(&pp->pong, r);
    uv_async_send(&pp->a);
    if (r == pp->n)
        uv_close((uv_handle_t *)h, NULL);
}

static void a_cb(uv_async_t *h)
{
    pp_t *pp = h->data;

    pp->bad += atomic_load(&pp->pong) != pp->round;
    if (pp->round == 0)         /* round 0 only starts the other loop */
        pp->t0 = bench_now_ns();
    if (++pp->round > pp->n) {
        pp->t1 = bench_now_ns();
        uv_close((uv_handle_t *)h, NULL);
        return;
    }
    atomic_store(&pp->ping, pp->round);
    uv_async_send(&pp->b);
}

static void loop_b_main(void *arg)
{
    pp_t *pp = arg;
    uv_run(&pp->loop_b, UV_RUN_DEFAULT);
}

static int ping_pong(void *env, const bench_params_t *p, bench_rep_t *out)
{
    env_t *e = env;
    pp_t *pp = calloc(1, sizeof *pp);
    uv_thread_t th;
    int rc;

    if (!pp)
        return bench_fail(IMPL, "ping_pong", "out of memory");
    pp->n = (int64_t)p->n_pingpong;
    pp->a.data = pp->b.data = pp;
    if ((rc = uv_loop_init(&pp->loop_b)) < 0 ||
        (rc = uv_async_init(&e->loop, &pp->a, a_cb)) < 0 ||
        (rc = uv_async_init(&pp->loop_b, &pp->b, b_cb)) < 0 ||
        (rc = uv_thread_create(&th, loop_b_main, pp)) < 0) {
        free(pp);                           /* a setup failure is fatal anyway */
        return bench_fail(IMPL, "ping_pong", "setup: %s", uv_strerror(rc));
    }
    atomic_store(&pp->ping, 0);
    uv_async_send(&pp->b);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    uv_thread_join(&th);
    uv_loop_close(&pp->loop_b);
    out->ns = pp->t1 - pp->t0;
    out->ops = p->n_pingpong;
    rc = pp->bad ? bench_fail(IMPL, "ping_pong", "%llu wrong echoes",
                              (unsigned long long)pp->bad) : 0;
    free(pp);
    return rc;
}

static const bench_case_t cases[] = {
    { "spawn_external", spawn_external, { NULL, NULL } },
    { "ping_pong", ping_pong, { NULL, NULL } },
    { NULL, NULL, { NULL, NULL } },
};

const bench_impl_t bench_impl_libuv = {
    IMPL, version, setup, teardown, cases, NULL,
    "the uv_work_t requests are allocated by hf-bench once, outside the count",
};
