/*
 * core_glib.c - the GLib side of hf-bench's core suite (built only if configure found
 * GLib).
 *
 * Fairness rules (the same in every implementation file):
 *  - the same number of worker threads: g_thread_pool_new(func, data, threads, FALSE, NULL)
 *    (a shared, non-exclusive pool as the GThreadPool documentation suggests by default);
 *  - the same work per task as hfasync's rows: an atomic decrement; the last task signals
 *    completion through a GMutex/GCond that the submitting thread waits on;
 *  - GLib used as documented: g_thread_pool_push from the submitting thread, GAsyncQueue
 *    for handing data between two threads.
 *
 * Rows:
 *  - spawn_external: the main thread pushes N items to the pool. ops = N.
 *  - ping_pong: two threads hand a number back and forth through two GAsyncQueues
 *    (push, blocking pop). ops = round trips.
 *  - no spawn_local, spawn_nested: a GThreadPool task has no join; a task waiting in
 *    the pool for tasks it pushed can deadlock the pool (each waiter holds a thread),
 *    and a task pushing to its own pool is the same queue as spawn_external.
 *  - no chain, then_ready, fan_in: GLib's thread pool has no futures (GTask is a
 *    one-shot callback on a main context, not a composable future), so there is nothing
 *    to chain or to combine; the counter-and-condition join is spawn_external's.
 */
#include "config.h"

#include <glib.h>
#include <stdint.h>
#include <stdlib.h>

#include "bench.h"

#define IMPL "glib"

typedef struct env {
    GThreadPool *pool;
    GMutex mu;
    GCond cv;
    gint left;                  /* tasks still to run; g_atomic_int_* */
    gboolean done;              /* under mu */
} env_t;

static void task(gpointer data, gpointer user)
{
    env_t *e = user;
    (void)data;
    if (g_atomic_int_dec_and_test(&e->left)) {
        g_mutex_lock(&e->mu);
        e->done = TRUE;
        g_cond_signal(&e->cv);
        g_mutex_unlock(&e->mu);
    }
}

static void *setup(const bench_params_t *p)
{
    env_t *e = calloc(1, sizeof *e);
    GError *err = NULL;

    if (!e) {
        bench_fail(IMPL, "setup", "out of memory");
        return NULL;
    }
    g_mutex_init(&e->mu);
    g_cond_init(&e->cv);
    e->pool = g_thread_pool_new(task, e, (gint)p->threads, FALSE, &err);
    if (!e->pool) {
        bench_fail(IMPL, "setup", "g_thread_pool_new: %s", err ? err->message : "?");
        g_clear_error(&err);
        g_mutex_clear(&e->mu);
        g_cond_clear(&e->cv);
        free(e);
        return NULL;
    }
    return e;
}

static void teardown(void *env)
{
    env_t *e = env;
    g_thread_pool_free(e->pool, FALSE, TRUE);
    g_mutex_clear(&e->mu);
    g_cond_clear(&e->cv);
    free(e);
}

static const char *version(void)
{
    static char v[32];
    g_snprintf(v, sizeof v, "%u.%u.%u", glib_major_version, glib_minor_version,
               glib_micro_version);
    return v;
}

static int spawn_external(void *env, const bench_params_t *p, bench_rep_t *out)
{
    env_t *e = env;
    GError *err = NULL;
    uint64_t t0, pushed = 0;
    int left;

    if (p->n_spawn > G_MAXINT)
        return bench_fail(IMPL, "spawn_external", "too many tasks for a gint counter");
    g_atomic_int_set(&e->left, (gint)p->n_spawn);
    e->done = FALSE;
    t0 = bench_now_ns();
    for (; pushed < p->n_spawn; pushed++) {
        /* the item must not be NULL (GAsyncQueue); the task ignores it */
        if (!g_thread_pool_push(e->pool, e, &err))
            break;
    }
    g_mutex_lock(&e->mu);
    if (pushed < p->n_spawn && g_atomic_int_add(&e->left, -(gint)(p->n_spawn - pushed)) ==
                                   (gint)(p->n_spawn - pushed))
        e->done = TRUE;                 /* what was pushed has run: nothing to wait for */
    while (!e->done)
        g_cond_wait(&e->cv, &e->mu);
    g_mutex_unlock(&e->mu);
    out->ns = bench_now_ns() - t0;
    out->ops = p->n_spawn;
    if (err) {
        bench_fail(IMPL, "spawn_external", "g_thread_pool_push: %s", err->message);
        g_error_free(err);
        return -1;
    }
    if ((left = g_atomic_int_get(&e->left)) != 0)
        return bench_fail(IMPL, "spawn_external", "%d tasks did not run", left);
    return 0;
}

/* ---- ping_pong ------------------------------------------------------------------------- */

typedef struct pp {
    GAsyncQueue *ping, *pong;
    uint64_t n;
} pp_t;

static gpointer pong_main(gpointer arg)
{
    pp_t *pp = arg;
    for (uint64_t r = 0; r <= pp->n; r++)
        g_async_queue_push(pp->pong, g_async_queue_pop(pp->ping));
    return NULL;
}

/* Items are round + 1: a GAsyncQueue item must not be NULL. */
static int round_trip(pp_t *pp, uint64_t r)
{
    g_async_queue_push(pp->ping, GSIZE_TO_POINTER(r + 1));
    return GPOINTER_TO_SIZE(g_async_queue_pop(pp->pong)) == r + 1;
}

static int ping_pong(void *env, const bench_params_t *p, bench_rep_t *out)
{
    pp_t pp = { g_async_queue_new(), g_async_queue_new(), p->n_pingpong };
    GThread *th = g_thread_new("hf-bench-pong", pong_main, &pp);
    uint64_t t0, bad = 0;
    (void)env;

    /* Round 0 only starts the other thread; rounds 1..n are measured. */
    bad += !round_trip(&pp, 0);
    t0 = bench_now_ns();
    for (uint64_t r = 1; r <= p->n_pingpong; r++)
        bad += !round_trip(&pp, r);
    out->ns = bench_now_ns() - t0;
    out->ops = p->n_pingpong;
    g_thread_join(th);
    g_async_queue_unref(pp.ping);
    g_async_queue_unref(pp.pong);
    if (bad)
        return bench_fail(IMPL, "ping_pong", "%llu wrong replies", (unsigned long long)bad);
    return 0;
}

static const bench_case_t cases[] = {
    { "spawn_external", spawn_external, { NULL, NULL } },
    { "ping_pong", ping_pong, { NULL, NULL } },
    { NULL, NULL, { NULL, NULL } },
};

const bench_impl_t bench_impl_glib = {
    IMPL, version, setup, teardown, cases, NULL,
    "counts malloc() calls only: GAsyncQueue's list nodes come from g_slice",
};
