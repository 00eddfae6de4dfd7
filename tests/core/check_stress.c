/*
 * check_stress.c - randomized stress of futures for ThreadSanitizer (and ASan): random
 * graphs of chains, combinators and timeouts, settled, cancelled and shut down from
 * several threads at once.
 *
 * Design notes
 *  - one seed drives everything that is chosen (graph shape, actions, who settles what,
 *    when the runtime is freed): HF_STRESS_SEED overrides the default, HF_STRESS_ROUNDS
 *    the number of rounds; every assertion message carries the seed and the round, so a
 *    failure can be replayed (the thread interleaving, of course, cannot);
 *  - a round builds `LEAVES` promises and `DERIVED` futures on top of them, each derived
 *    future made from earlier ones only (a DAG): then/then_on/finally on the compute or
 *    the I/O pool (the continuation resolves with a fresh counted value, rejects, or
 *    adopts an earlier future), all, all_settled, any, race, timeout of 0-3 ms;
 *  - every future gets an HF_INLINE HF_ON_ANY observer that counts its settlements:
 *    each count must end at exactly 1;
 *  - settler threads settle the leaves in a random order (value, error, or nothing: the
 *    promise is then freed unsettled, a broken promise), a canceller thread cancels
 *    random futures meanwhile, and in some rounds the runtime is freed while all that
 *    is under way (continuations then settle as cancelled);
 *  - every value is a tu_value_t whose destructor counts: after the last release,
 *    freed == created, so no value is leaked or freed twice (ASan would see the rest).
 */
#include "common/testutil.h"

#include <inttypes.h>

#define LEAVES 24
#define DERIVED 72
#define ALL (LEAVES + DERIVED)
#define DEFAULT_SEED 0x5EED2024u
#define DEFAULT_ROUNDS 60
#define SETTLERS 2

typedef struct round round_t;

typedef struct node {
    round_t *r;
    unsigned idx;
    unsigned action;            /* for continuations: 0 value, 1 error, 2 adopt */
    unsigned adopt;             /* index of the future to adopt */
    atomic_int settled;         /* observer calls */
} node_t;

struct round {
    uint64_t seed;
    unsigned no;
    hf_runtime_t *rt;
    hf_promise_t *leaf[LEAVES];
    atomic_int leaf_taken[LEAVES];
    hf_future_t *f[ALL];
    hf_future_t *observer[ALL];
    node_t node[ALL];
    atomic_int created, freed;
    atomic_int stop_cancelling;
};

static uint64_t next_rand(uint64_t *s)
{
    /* splitmix64: good enough, and the same everywhere */
    uint64_t z = (*s += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static unsigned pick(uint64_t *s, unsigned n)
{
    return (unsigned)(next_rand(s) % n);
}

static uint64_t env_u64(const char *name, uint64_t def)
{
    const char *v = getenv(name);
    char *end;
    unsigned long long x;
    if (!v || !*v)
        return def;
    x = strtoull(v, &end, 0);
    return *end ? def : (uint64_t)x;
}

static void observe(hf_future_t *done, hf_promise_t *next, void *arg)
{
    node_t *n = arg;
    (void)done;
    atomic_fetch_add(&n->settled, 1);
    hf_promise_resolve(next, NULL, NULL);
}

static void continuation(hf_future_t *done, hf_promise_t *next, void *arg)
{
    node_t *n = arg;
    round_t *r = n->r;
    (void)done;
    switch (n->action) {
    case 0: {
        tu_value_t *v = tu_value_new(&r->freed, (int)n->idx);
        atomic_fetch_add(&r->created, 1);
        if (hf_promise_resolve(next, v, tu_value_free) < 0)
            tu_value_free(v);   /* cancelled meanwhile: still ours */
        break;
    }
    case 1:
        hf_promise_rejectf(next, HF_EIO, 0, "node %u fails", n->idx);
        break;
    default:
        hf_promise_adopt(next, r->f[n->adopt]);
        break;
    }
}

static void on_finally(hf_future_t *done, void *arg)
{
    (void)done;
    (void)arg;
}

/* An earlier future, at random. */
static hf_future_t *earlier(round_t *r, uint64_t *s, unsigned below)
{
    return r->f[pick(s, below)];
}

static void build(round_t *r, uint64_t *s)
{
    for (unsigned i = 0; i < ALL; i++) {     /* before anything can run */
        r->node[i].r = r;
        r->node[i].idx = i;
    }
    for (unsigned i = 0; i < LEAVES; i++) {
        r->leaf[i] = hf_promise_new();
        ck_assert_ptr_nonnull(r->leaf[i]);
        r->f[i] = hf_promise_future(r->leaf[i]);
    }
    for (unsigned i = LEAVES; i < ALL; i++) {
        node_t *n = &r->node[i];
        hf_executor_t *ex = pick(s, 2) ? hf_runtime_compute(r->rt) : hf_runtime_io(r->rt);
        hf_future_t *in[4];
        unsigned k = 2 + pick(s, 3);
        for (unsigned j = 0; j < k; j++)
            in[j] = earlier(r, s, i);
        n->action = pick(s, 3);
        n->adopt = pick(s, i);
        switch (pick(s, 9)) {
        case 0: r->f[i] = hf_future_then(in[0], ex, continuation, n); break;
        case 1: r->f[i] = hf_future_then_on(in[0], ex, HF_ON_ANY, continuation, n); break;
        case 2: r->f[i] = hf_future_catch(in[0], ex, continuation, n); break;
        case 3: r->f[i] = hf_future_finally(in[0], ex, on_finally, n); break;
        case 4: r->f[i] = hf_future_all(in, k); break;
        case 5: r->f[i] = hf_future_all_settled(in, k); break;
        case 6: r->f[i] = hf_future_any(in, k); break;
        case 7: r->f[i] = hf_future_race(in, k); break;
        default: r->f[i] = hf_future_timeout(in[0], pick(s, 4)); break;
        }
        ck_assert_msg(r->f[i] != NULL, "seed %" PRIu64 " round %u: node %u not made", r->seed,
                      r->no, i);
    }
    for (unsigned i = 0; i < ALL; i++) {
        r->observer[i] = hf_future_then_on(r->f[i], HF_INLINE, HF_ON_ANY, observe, &r->node[i]);
        ck_assert_ptr_nonnull(r->observer[i]);
    }
}

typedef struct worker {
    round_t *r;
    uint64_t seed;
    pthread_t th;
} worker_t;

/* Settle leaves in a random order; each leaf is taken by one settler only. */
static void *settler(void *arg)
{
    worker_t *w = arg;
    round_t *r = w->r;
    uint64_t s = w->seed;
    for (unsigned k = 0; k < LEAVES; k++) {
        unsigned i = pick(&s, LEAVES);
        if (atomic_exchange(&r->leaf_taken[i], 1))
            continue;
        switch (pick(&s, 3)) {
        case 0: {
            tu_value_t *v = tu_value_new(&r->freed, (int)i);
            atomic_fetch_add(&r->created, 1);
            if (hf_promise_resolve(r->leaf[i], v, tu_value_free) < 0)
                tu_value_free(v);
            break;
        }
        case 1:
            hf_promise_rejectf(r->leaf[i], HF_EPROTO, 0, "leaf %u fails", i);
            break;
        default:
            break;              /* freed unsettled below: a broken promise */
        }
        if (pick(&s, 4) == 0)
            sched_yield();
    }
    return NULL;
}

static void *canceller(void *arg)
{
    worker_t *w = arg;
    round_t *r = w->r;
    uint64_t s = w->seed;
    for (unsigned k = 0; k < ALL / 6 && !atomic_load(&r->stop_cancelling); k++) {
        hf_future_cancel(r->f[pick(&s, ALL)]);
        if (pick(&s, 2))
            sched_yield();
    }
    return NULL;
}

static void run_round(uint64_t seed, unsigned no)
{
    round_t *r = calloc(1, sizeof *r);
    uint64_t s = seed ^ (0xA24BAED4963EE407u * (no + 1));
    worker_t settlers[SETTLERS], canc;
    int shutdown_early;

    ck_assert_ptr_nonnull(r);
    r->seed = seed;
    r->no = no;
    r->rt = tu_runtime(2);
    build(r, &s);
    shutdown_early = pick(&s, 4) == 0;
    for (int t = 0; t < SETTLERS; t++) {
        settlers[t].r = r;
        settlers[t].seed = next_rand(&s);
        ck_assert_int_eq(pthread_create(&settlers[t].th, NULL, settler, &settlers[t]), 0);
    }
    canc.r = r;
    canc.seed = next_rand(&s);
    ck_assert_int_eq(pthread_create(&canc.th, NULL, canceller, &canc), 0);
    if (shutdown_early) {
        /* the runtime goes while leaves are being settled and futures cancelled */
        hf_runtime_free(r->rt);
        r->rt = NULL;
    }
    for (int t = 0; t < SETTLERS; t++)
        pthread_join(settlers[t].th, NULL);
    atomic_store(&r->stop_cancelling, 1);
    pthread_join(canc.th, NULL);
    for (unsigned i = 0; i < LEAVES; i++)
        hf_promise_free(r->leaf[i]);    /* the ones nobody settled: broken */

    for (unsigned i = 0; i < ALL; i++) {
        ck_assert_msg(hf_future_wait(r->f[i], TU_DEADLINE_MS) == 0,
                      "seed %" PRIu64 " round %u: future %u never settled", seed, no, i);
        ck_assert_msg(hf_future_wait(r->observer[i], TU_DEADLINE_MS) == 0,
                      "seed %" PRIu64 " round %u: observer %u never ran", seed, no, i);
        ck_assert_msg(hf_future_state(r->f[i]) != HF_FUTURE_PENDING,
                      "seed %" PRIu64 " round %u: future %u pending", seed, no, i);
        ck_assert_msg(atomic_load(&r->node[i].settled) == 1,
                      "seed %" PRIu64 " round %u: future %u settled %d times", seed, no, i,
                      atomic_load(&r->node[i].settled));
    }
    for (unsigned i = 0; i < ALL; i++) {
        hf_future_release(r->observer[i]);
        hf_future_release(r->f[i]);
    }
    if (r->rt)
        hf_runtime_free(r->rt);
    /* Continuations may still hold references while they unwind on a pool thread until
     * the runtime is freed; after that every value must be gone. */
    ck_assert_msg(atomic_load(&r->freed) == atomic_load(&r->created),
                  "seed %" PRIu64 " round %u: %d values made, %d freed", seed, no,
                  atomic_load(&r->created), atomic_load(&r->freed));
    for (unsigned i = 0; i < ALL; i++)  /* no late second settlement either */
        ck_assert_msg(atomic_load(&r->node[i].settled) == 1,
                      "seed %" PRIu64 " round %u: future %u settled twice", seed, no, i);
    free(r);
}

START_TEST(random_future_graphs_settle_once_and_free_every_value)
{
    uint64_t seed = env_u64("HF_STRESS_SEED", DEFAULT_SEED);
    unsigned rounds = (unsigned)env_u64("HF_STRESS_ROUNDS", DEFAULT_ROUNDS);
    for (unsigned no = 0; no < rounds; no++)
        run_round(seed, no);
}
END_TEST

/* The same races, one future at a time, many times: settle vs cancel vs timeout. */
typedef struct duel {
    hf_promise_t *p;
    hf_future_t *f, *t;
    atomic_int *created, *freed;
    atomic_int go;
    atomic_int seen;
} duel_t;

static void duel_after(hf_future_t *done, hf_promise_t *next, void *arg)
{
    duel_t *d = arg;
    (void)done;
    atomic_fetch_add(&d->seen, 1);
    hf_promise_resolve(next, NULL, NULL);
}

static void *duel_settle(void *arg)
{
    duel_t *d = arg;
    tu_value_t *v = tu_value_new(d->freed, 1);
    atomic_fetch_add(d->created, 1);
    while (!atomic_load(&d->go))
        ;
    if (hf_promise_resolve(d->p, v, tu_value_free) < 0)
        tu_value_free(v);
    return NULL;
}

static void *duel_cancel(void *arg)
{
    duel_t *d = arg;
    while (!atomic_load(&d->go))
        ;
    hf_future_cancel(d->t);
    return NULL;
}

START_TEST(settle_cancel_and_timeout_race_on_one_future)
{
    uint64_t seed = env_u64("HF_STRESS_SEED", DEFAULT_SEED), s = seed;
    unsigned rounds = (unsigned)env_u64("HF_STRESS_ROUNDS", DEFAULT_ROUNDS) * 10;
    atomic_int created = 0, freed = 0;
    hf_runtime_t *rt = tu_runtime(2);

    for (unsigned i = 0; i < rounds; i++) {
        duel_t d;
        pthread_t a, b;
        hf_future_t *chained;
        d.p = hf_promise_new();
        d.f = hf_promise_future(d.p);
        d.t = hf_future_timeout(d.f, pick(&s, 2));
        d.created = &created;
        d.freed = &freed;
        atomic_init(&d.go, 0);
        atomic_init(&d.seen, 0);
        chained = hf_future_then_on(d.t, pick(&s, 2) ? hf_runtime_compute(rt) : hf_runtime_io(rt),
                                    HF_ON_ANY, duel_after, &d);
        ck_assert_ptr_nonnull(chained);
        pthread_create(&a, NULL, duel_settle, &d);
        pthread_create(&b, NULL, duel_cancel, &d);
        atomic_store(&d.go, 1);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        ck_assert_msg(hf_future_wait(chained, TU_DEADLINE_MS) == 0, "seed %" PRIu64 " duel %u",
                      seed, i);
        ck_assert_msg(atomic_load(&d.seen) == 1, "seed %" PRIu64 " duel %u: continuation ran %d "
                      "times", seed, i, atomic_load(&d.seen));
        switch (hf_future_state(d.t)) {
        case HF_FUTURE_FULFILLED:   /* the value went through, the very same */
            ck_assert_ptr_eq(hf_future_value(d.t), hf_future_value(d.f));
            break;
        case HF_FUTURE_REJECTED:
            ck_assert_int_eq(hf_future_error(d.t)->code, HF_ETIMEDOUT);
            break;
        case HF_FUTURE_CANCELLED:
            break;
        default:
            ck_abort_msg("seed %" PRIu64 " duel %u: timeout future pending", seed, i);
        }
        hf_promise_free(d.p);
        ck_assert_msg(hf_future_wait(d.f, TU_DEADLINE_MS) == 0, "seed %" PRIu64 " duel %u", seed, i);
        hf_future_release(chained);
        hf_future_release(d.t);
        hf_future_release(d.f);
    }
    hf_runtime_free(rt);
    ck_assert_msg(atomic_load(&freed) == atomic_load(&created),
                  "seed %" PRIu64 ": %d values made, %d freed", seed, atomic_load(&created),
                  atomic_load(&freed));
}
END_TEST

/* ---- executors: lost wake-ups ------------------------------------------------------------ */

#define POSTERS 6
#define POST_ROUNDS 300

typedef struct poster {
    hf_runtime_t *rt;
    hf_executor_t *ex;
    unsigned seed;
    int bad;                    /* a task ran on the wrong pool, or a wait failed */
} poster_t;

static void *note_pool(void *arg, hf_error_t *err)
{
    poster_t *p = arg;
    (void)err;
    return (void *)(intptr_t)(hf_current_executor() == p->ex &&
                              (hf_current_worker() >= 0) ==
                                  (p->ex == hf_runtime_compute(p->rt)));
}

static atomic_int posted_ran;

static void count_post(void *arg)
{
    (void)arg;
    atomic_fetch_add(&posted_ran, 1);
}

/* Each round submits one task and waits for it with no timeout, pausing now and then so
 * that the pool's workers spin out and park: a wake-up lost there hangs the round. */
static void *poster_main(void *arg)
{
    poster_t *p = arg;
    for (int i = 0; i < POST_ROUNDS; i++) {
        hf_future_t *f = hf_async(p->ex, note_pool, p);
        if (!f || hf_executor_post(p->ex, count_post, NULL) != 0) {
            p->bad = 1;
            break;
        }
        if (hf_future_wait(f, TU_DEADLINE_MS) != 0 ||
            hf_future_state(f) != HF_FUTURE_FULFILLED || hf_future_value(f) == NULL)
            p->bad = 1;
        hf_future_release(f);
        p->seed = p->seed * 1103515245u + 12345u;
        if ((p->seed >> 16) % 8 == 0)
            tu_sleep_ms(1 + (p->seed >> 20) % 3);  /* long enough for workers to park */
    }
    return NULL;
}

static void post_from_plain_threads(hf_runtime_t *rt, hf_executor_t *ex)
{
    pthread_t th[POSTERS];
    poster_t ps[POSTERS];

    atomic_store(&posted_ran, 0);
    for (int i = 0; i < POSTERS; i++) {
        ps[i].rt = rt;
        ps[i].ex = ex;
        ps[i].seed = 7u * (unsigned)i + 1u;
        ps[i].bad = 0;
        ck_assert_int_eq(pthread_create(&th[i], NULL, poster_main, &ps[i]), 0);
    }
    for (int i = 0; i < POSTERS; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(!ps[i].bad, "poster %d", i);
    }
    TU_EVENTUALLY(atomic_load(&posted_ran) == POSTERS * POST_ROUNDS);
}

START_TEST(plain_threads_posting_while_workers_park_lose_no_wake_up)
{
    hf_runtime_config_t cfg;
    hf_runtime_stats_t st;
    hf_runtime_t *rt;

    memset(&cfg, 0, sizeof cfg);
    cfg.compute_threads = 3;
    cfg.io_threads_max = 2;
    cfg.io_idle_ms = 1;         /* I/O threads exit while tasks arrive */
    rt = hf_runtime_new(&cfg);
    ck_assert_ptr_nonnull(rt);
    post_from_plain_threads(rt, hf_runtime_compute(rt));
    post_from_plain_threads(rt, hf_runtime_io(rt));
    TU_EVENTUALLY(hf_runtime_stats(rt, &st) == 0 && st.compute_queue_depth == 0 &&
                  st.io_queue_depth == 0 && st.compute_blocked == 0 && st.io_blocked == 0);
    ck_assert_uint_le(st.compute_running + st.compute_idle, st.compute_threads);
    ck_assert_uint_le(st.compute_threads, 3 + 12);
    ck_assert_uint_le(st.io_threads, st.io_threads_peak);
    ck_assert_uint_le(st.io_threads_peak, 2);
    ck_assert_uint_ge(st.compute_tasks_run, 2u * POSTERS * POST_ROUNDS);
    ck_assert_uint_ge(st.io_tasks_run, 2u * POSTERS * POST_ROUNDS);
    hf_runtime_free(rt);
}
END_TEST

/* ---- executors: a ping-pong of waits between the two pools ------------------------------ */

#define PING_ROUNDS 200

typedef struct pingpong {
    hf_runtime_t *rt;
    atomic_int bad;
} pingpong_t;

static void *pong_leaf(void *arg, hf_error_t *err)
{
    pingpong_t *pp = arg;
    (void)err;
    if (hf_current_executor() != hf_runtime_compute(pp->rt) || hf_current_worker() < 0)
        atomic_store(&pp->bad, 1);
    return (void *)(intptr_t)1;
}

/* On the I/O pool: wait for a compute task. */
static void *pong_io(void *arg, hf_error_t *err)
{
    pingpong_t *pp = arg;
    hf_future_t *f;
    intptr_t v = 0;
    (void)err;
    if (hf_current_executor() != hf_runtime_io(pp->rt) || hf_current_worker() != -1)
        atomic_store(&pp->bad, 2);
    f = hf_async(hf_runtime_compute(pp->rt), pong_leaf, pp);
    if (hf_future_wait(f, TU_DEADLINE_MS) == 0 && hf_future_state(f) == HF_FUTURE_FULFILLED)
        v = (intptr_t)hf_future_value(f);
    hf_future_release(f);
    if (hf_current_executor() != hf_runtime_io(pp->rt))
        atomic_store(&pp->bad, 3);
    return (void *)v;
}

/* On the compute pool: wait, round after round, for an I/O task that waits for us. */
static void *ping_compute(void *arg, hf_error_t *err)
{
    pingpong_t *pp = arg;
    int worker = hf_current_worker();
    intptr_t sum = 0;
    (void)err;
    for (int i = 0; i < PING_ROUNDS; i++) {
        hf_future_t *f = hf_spawn_blocking(pp->rt, pong_io, pp);
        if (hf_future_wait(f, TU_DEADLINE_MS) == 0 && hf_future_state(f) == HF_FUTURE_FULFILLED)
            sum += (intptr_t)hf_future_value(f);
        hf_future_release(f);
        if (hf_current_worker() != worker ||
            hf_current_executor() != hf_runtime_compute(pp->rt))
            atomic_store(&pp->bad, 4);
    }
    return (void *)sum;
}

START_TEST(a_ping_pong_of_waits_between_compute_and_io_completes)
{
    hf_runtime_config_t cfg;
    pingpong_t pp;
    hf_future_t *f[2];
    hf_runtime_stats_t st;

    memset(&cfg, 0, sizeof cfg);
    cfg.compute_threads = 1;
    cfg.compute_spares_max = 2;  /* both pings asleep in waits, and one thread for leaves */
    cfg.io_threads_max = 1;
    cfg.io_idle_ms = 1;
    pp.rt = hf_runtime_new(&cfg);
    ck_assert_ptr_nonnull(pp.rt);
    atomic_init(&pp.bad, 0);
    for (int i = 0; i < 2; i++)     /* the second from inside the first's helping wait */
        f[i] = hf_async(hf_runtime_compute(pp.rt), ping_compute, &pp);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(tu_settle(f[i]), HF_FUTURE_FULFILLED);
        ck_assert_int_eq((intptr_t)hf_future_value(f[i]), PING_ROUNDS);
        hf_future_release(f[i]);
    }
    ck_assert_int_eq(atomic_load(&pp.bad), 0);
    TU_EVENTUALLY(hf_runtime_stats(pp.rt, &st) == 0 && st.compute_blocked == 0 &&
                  st.io_blocked == 0 && st.compute_queue_depth == 0 && st.io_queue_depth == 0);
    ck_assert_uint_le(st.compute_spares_peak, 2);
    ck_assert_uint_le(st.compute_threads, 3);
    hf_runtime_free(pp.rt);
}
END_TEST

static Suite *stress_suite(void)
{
    Suite *s = suite_create("stress");
    TCase *tc = tcase_create("futures");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, random_future_graphs_settle_once_and_free_every_value);
    tcase_add_test(tc, settle_cancel_and_timeout_race_on_one_future);
    suite_add_tcase(s, tc);
    tc = tcase_create("executors");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, plain_threads_posting_while_workers_park_lose_no_wake_up);
    tcase_add_test(tc, a_ping_pong_of_waits_between_compute_and_io_completes);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(stress_suite)
