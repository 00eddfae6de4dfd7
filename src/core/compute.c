/*
 * compute.c - the compute pool: work-stealing workers, spin-then-park, spare workers.
 *
 * Design notes
 *  - each worker owns a Chase-Lev deque and a `next` slot. A continuation or posted task
 *    submitted from a worker of this pool goes to its `next` slot, and the task it
 *    displaces to the deque (LIFO for the owner, stolen FIFO by others). A task spawned
 *    with hf_async() from a worker goes to the deque itself and wakes an idle worker if
 *    nobody is looking (hfi_compute_spawn): the spawner usually goes on with its own half
 *    of the work before it joins, and the child must not wait for that half. The owner runs `next` first, so a chain of
 *    continuations stays on one core; a thief takes a `next` only if it finds the same
 *    task there on two steal rounds in a row (the owner is busy with something long).
 *    Tasks from any other thread go to the injection queue, from which a worker takes
 *    one and carries up to 32 more into its deque, where the others can steal them.
 *    A worker looks there first every 61st task, so that a chain that keeps its `next`
 *    busy (a kernel resubmitting itself) cannot starve what I/O threads submit;
 *  - counters: nrunning (running or searching), nsearching (spinning for work), nidle
 *    (parked), nblocked (asleep in hf_future_wait). The pool aims at nrunning ==
 *    parallelism: a thread that finds nrunning above it parks as surplus;
 *  - waking: after a submission, if nobody is searching, one idle worker is woken (it
 *    starts as a searcher, so concurrent submitters wake no more); if none is idle and
 *    fewer than `parallelism` run (the others are blocked in waits), a spare thread is
 *    started, up to max_threads. A searcher that finds work and was the last one wakes
 *    one more if work remains, so wake-ups cascade only as far as there is work;
 *  - parking is a Dekker pair with submission: the parker publishes itself (nidle++,
 *    seq_cst) and then re-checks every queue (seq_cst loads); a submitter publishes the
 *    task (seq_cst) and then reads nsearching/nidle. One of them sees the other;
 *  - the blocking-safe wait: a waiting worker first pops the tasks its running task
 *    pushed (its `next` and the deque above `frame_base`: the awaited task's own
 *    subtree), then steals like an idle worker (the awaited task may be running
 *    elsewhere with its subtasks in that deque), nested at most MAX_HELP_DEPTH deep;
 *    when nothing is left to run it counts itself blocked and wakes or starts a spare,
 *    so `parallelism` threads keep running;
 *  - shutdown: the flag stops the loops, the threads are joined, the executor is marked
 *    dead and every queued task is discarded (its future cancelled). The flag is set, and
 *    the threads to wake and join are counted, under idle_mu, where add_spare() checks
 *    the flag and publishes a spare, so no spare escapes the wake-up or the join. A
 *    submitter racing with that re-checks `dead` after its push (a seq_cst fence on both
 *    sides) and discards what it finds;
 *  - lock order: idle_mu, then (never nested) a worker's mu; inject.mu is a leaf;
 *  - fork: prepare holds idle_mu and inject.mu (the idle stack, nthreads and the
 *    injection queue stay consistent for the child's hf_runtime_free), not the workers'
 *    mu: a worker's mu/cv only pair `notified` with the parker's sleep, and nobody sleeps
 *    on them in the child (its pool is orphaned, no worker thread exists there). The child
 *    makes each one anew (another thread may have held it or slept on it at the instant of
 *    fork) and clears `notified`: wake_one() in the child (a fork from inside a task, whose
 *    thread is a worker) then signals a fresh condvar nobody waits on, and
 *    hfi_compute_destroy() destroys objects no thread is using.
 *
 * Known limits (scheduling policy, kept on purpose)
 *  - a waiting worker helps: it runs queued tasks on its own stack (first those its task
 *    spawned, then injected or stolen ones, which may be unrelated to what it awaits), and
 *    its wait cannot return before the task it picked up returns, whatever the timeout.
 *    If that task itself waits for something the waiting task does only after its wait
 *    returns (task A spawns C, which waits on a promise A resolves after waiting on
 *    another future), both are stuck until C's wait times out: a priority inversion that
 *    a thread-per-task design would not have. Workaround: settle what other tasks wait on
 *    before blocking; chain with hf_future_then() instead of waiting inside a task; give
 *    such waits a timeout; or run the blocking dependant on the I/O pool
 *    (hf_spawn_blocking), whose threads never help;
 *  - a continuation, or a task posted with hf_executor_post(), submitted from a worker goes
 *    to its `next` slot, which wakes nobody: the worker runs it as soon as its current
 *    task returns, so chains stay on one core and cost no wake-up, but an idle worker
 *    takes it only once it is displaced to the deque or has sat in `next` for two steal
 *    rounds of a worker that is searching anyway. Work meant to run beside its submitter
 *    is spawned with hf_async(), which wakes an idle worker.
 */
#include "config.h"

#include "core/compute.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/future_impl.h"
#include "core/parklot.h"
#include "core/thread.h"
#include "core/tls.h"

#define INJECT_EVERY 61         /* see find_task */
#define BATCH_MAX 32            /* tasks carried from the injection queue at once */
#define SPIN_NS 30000           /* how long a searcher spins before it parks */
#define MAX_HELP_DEPTH 256      /* nested helping in waits, bounded for the stack */

static void run_task(hfi_worker_t *w, hfi_task_t *t)
{
    int64_t saved = w->frame_base;
    uint64_t saved_frame = w->cur_frame;
    w->frame_base = hfi_deque_bottom(&w->dq);
    w->cur_frame = ++w->frame_seq;
    t->fn(t, 1);
    w->frame_base = saved;
    w->cur_frame = saved_frame;
    hfi_count(&w->tasks_run);
}

static uint64_t next_rand(hfi_worker_t *w)
{
    uint64_t x = w->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return w->rng = x;
}

/* Is there queued work anywhere? (seq_cst loads: the parker's half of the Dekker pair) */
static int work_available(hfi_compute_t *p)
{
    unsigned n = atomic_load(&p->nthreads);
    if (hfi_injectq_len(&p->inject) > 0)
        return 1;
    for (unsigned i = 0; i < n; i++) {
        hfi_deque_t *d = &p->workers[i]->dq;
        if (atomic_load(&d->bottom) - atomic_load(&d->top) > 0 ||
            atomic_load(&p->workers[i]->next) != NULL)
            return 1;
    }
    return 0;
}

static int wake_one(hfi_compute_t *p)
{
    hfi_worker_t *w;

    pthread_mutex_lock(&p->idle_mu);
    if ((w = p->idle) != NULL) {
        p->idle = w->idle_next;
        w->in_idle = 0;
        w->searching = 1;
        atomic_fetch_sub(&p->nidle, 1);
        atomic_fetch_add(&p->nrunning, 1);
        atomic_fetch_add(&p->nsearching, 1);
    }
    pthread_mutex_unlock(&p->idle_mu);
    if (!w)
        return 0;
    pthread_mutex_lock(&w->mu);
    w->notified = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    atomic_fetch_add_explicit(&p->wakeups, 1, memory_order_relaxed);
    return 1;
}

static void *worker_main(void *arg);

/* Create worker number nthreads. Caller holds idle_mu (or is hfi_compute_new). */
static int spawn_worker(hfi_compute_t *p)
{
    unsigned i = atomic_load(&p->nthreads);
    hfi_worker_t *w;

    if (i >= p->max_threads)
        return -1;
    if ((w = hfi_calloc_aligned(_Alignof(hfi_worker_t), sizeof *w)) == NULL)
        return -1;
    if (hfi_deque_init(&w->dq) < 0) {
        hfi_free(w);
        return -1;
    }
    w->pool = p;
    w->index = i;
    w->rng = 0x9E3779B97F4A7C15u * (i + 1);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    p->workers[i] = w;
    atomic_store_explicit(&p->nthreads, i + 1, memory_order_release);
    /* Once published, a worker stays in the array even if its thread fails to start:
     * thieves may already look at its (empty) deque. */
    if (hfi_thread_start(&w->thread, worker_main, w, 0) != 0)
        return -1;
    w->started = 1;
    if (i + 1 > p->parallelism && i + 1 - p->parallelism > p->spares_peak)
        p->spares_peak = i + 1 - p->parallelism;
    return 0;
}

/* No idle worker to wake but fewer than `parallelism` running: start a spare. */
static void add_spare(hfi_compute_t *p)
{
    pthread_mutex_lock(&p->idle_mu);
    if (!atomic_load(&p->shutdown) && !p->orphaned && atomic_load(&p->nidle) == 0 &&
        atomic_load(&p->nrunning) < p->parallelism) {
        atomic_fetch_add(&p->nrunning, 1);
        if (spawn_worker(p) < 0)
            atomic_fetch_sub(&p->nrunning, 1);
    }
    pthread_mutex_unlock(&p->idle_mu);
}

static void notify(hfi_compute_t *p)
{
    /* Someone is already looking, or `parallelism` threads run and will get to it (a
     * running thread that is about to park re-checks the queues after counting itself
     * out, so it cannot miss this task). */
    if (atomic_load(&p->nsearching) != 0 || atomic_load(&p->nrunning) >= p->parallelism)
        return;
    if (atomic_load(&p->nidle) != 0) {
        if (wake_one(p))
            return;
    }
    if (atomic_load(&p->nrunning) < p->parallelism)
        add_spare(p);
}

/* Take everything out of the injection queue (shutdown). */
static hfi_task_t *take_all_injected(hfi_compute_t *p)
{
    hfi_task_t *head = NULL, **tail = &head, *t;
    pthread_mutex_lock(&p->inject.mu);
    while ((t = hfi_injectq_pop(&p->inject)) != NULL) {
        *tail = t;
        tail = (hfi_task_t **)&t->next;     /* re-used as a plain list link */
        hfi_store_relaxed(&t->next, NULL);
    }
    pthread_mutex_unlock(&p->inject.mu);
    return head;
}

/* Owner: make `t` stealable: onto its deque, or the injection queue when that is full. */
static void push_stealable(hfi_worker_t *w, hfi_task_t *t)
{
    if (hfi_deque_push(&w->dq, t) != 0)
        hfi_injectq_push(&w->pool->inject, t);
}

/* Owner: put `t` in the `next` slot; the task it displaces goes to the deque (or, if
 * that is full, to the injection queue). Returns 1 if a task became stealable. */
static int push_local(hfi_worker_t *w, hfi_task_t *t)
{
    hfi_task_t *prev = atomic_exchange(&w->next, t);
    w->next_seq = w->frame_seq;
    if (!prev)
        return 0;
    push_stealable(w, prev);
    return 1;
}

void hfi_compute_submit(hfi_compute_t *p, hfi_task_t *t)
{
    hfi_worker_t *w = hfi_tls.worker;

    if (w && w->pool == p) {
        /* The owner runs its `next` itself as soon as its current task returns: wake a
         * sleeper only for work others can take (as tokio's LIFO slot does). A thread
         * that blocks in a wait first makes its `next` stealable. */
        if (push_local(w, t)) {
            atomic_thread_fence(memory_order_seq_cst);
            notify(p);
        }
        return;
    }
    if (atomic_load(&p->ex.dead)) {
        hfi_tramp_run(t, 0);
        return;
    }
    hfi_injectq_push(&p->inject, t);
    /* Dekker pair with hfi_compute_shutdown (store `dead`, fence, take the queue): without
     * the fences the push's final link could still sit in this core's store buffer when
     * shutdown looks, while this load reads `dead` from before shutdown's store, and the
     * task would stay queued in a dead pool for good. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load(&p->ex.dead)) {         /* raced with hf_runtime_free */
        hfi_tramp_discard_list(take_all_injected(p));
        return;
    }
    notify(p);
}

void hfi_compute_spawn(hfi_compute_t *p, hfi_task_t *t)
{
    hfi_worker_t *w = hfi_tls.worker;

    if (!w || w->pool != p) {
        hfi_compute_submit(p, t);
        return;
    }
    /* Not the `next` slot: a spawner usually goes on with work of its own before it
     * joins, and the child should not wait for it (see the design notes). */
    push_stealable(w, t);
    atomic_thread_fence(memory_order_seq_cst);
    notify(p);
}

static hfi_task_t *take_injected(hfi_worker_t *w)
{
    hfi_compute_t *p = w->pool;
    hfi_task_t *t;

    if (pthread_mutex_trylock(&p->inject.mu) != 0)
        return NULL;
    if ((t = hfi_injectq_pop(&p->inject)) != NULL) {
        size_t k = hfi_injectq_len(&p->inject) / p->parallelism;
        int64_t room = HFI_DEQUE_CAP - 1 - hfi_deque_size(&w->dq);
        if (k > BATCH_MAX)
            k = BATCH_MAX;
        if ((int64_t)k > room)
            k = room > 0 ? (size_t)room : 0;
        while (k-- > 0) {
            hfi_task_t *x = hfi_injectq_pop(&p->inject);
            if (!x)
                break;
            hfi_deque_push(&w->dq, x);      /* room was checked: cannot fail */
        }
    }
    pthread_mutex_unlock(&p->inject.mu);
    return t;
}

static hfi_task_t *steal(hfi_worker_t *w)
{
    hfi_compute_t *p = w->pool;
    unsigned n = atomic_load_explicit(&p->nthreads, memory_order_acquire);
    unsigned start;

    if (n <= 1)
        return NULL;
    start = (unsigned)(next_rand(w) % n);
    for (unsigned i = 0; i < n; i++) {
        hfi_worker_t *v = p->workers[(start + i) % n];
        hfi_task_t *t = HFI_STEAL_RETRY;
        if (v == w)
            continue;
        for (int tries = 0; tries < 4 && t == HFI_STEAL_RETRY; tries++)
            t = hfi_deque_steal(&v->dq);
        if (t && t != HFI_STEAL_RETRY) {
            hfi_count(&w->steals);
            return t;
        }
    }
    /* No deque had work: look at the `next` slots. Take one only if it holds the task it
     * held on our previous round, i.e. its owner has been busy for a while. */
    for (unsigned i = 0; i < n; i++) {
        unsigned vi = (start + i) % n;
        hfi_worker_t *v = p->workers[vi];
        hfi_task_t *t;
        if (v == w || (t = atomic_load(&v->next)) == NULL)
            continue;
        if (t == w->seen_next && vi == w->seen_victim) {
            w->seen_next = NULL;
            if (atomic_compare_exchange_strong(&v->next, &t, NULL)) {
                hfi_count(&w->steals);
                return t;
            }
        } else {
            w->seen_next = t;
            w->seen_victim = vi;
        }
        break;
    }
    return NULL;
}

static hfi_task_t *find_task(hfi_worker_t *w)
{
    hfi_task_t *t;
    /* fairness: a worker busy with its own chain (next, deque) still takes what other
     * threads submit (I/O completions, timers), and what `next` displaced into its
     * deque, every INJECT_EVERY tasks */
    if (++w->tick % INJECT_EVERY == 0) {
        if (hfi_injectq_len(&w->pool->inject) > 0 && (t = take_injected(w)) != NULL)
            return t;
        if ((t = hfi_deque_pop(&w->dq)) != NULL)
            return t;
    }
    if (atomic_load_explicit(&w->next, memory_order_relaxed) &&
        (t = atomic_exchange(&w->next, NULL)) != NULL)
        return t;
    if ((t = hfi_deque_pop(&w->dq)) != NULL)
        return t;
    if (hfi_injectq_len(&w->pool->inject) > 0 && (t = take_injected(w)) != NULL)
        return t;
    return steal(w);
}

static void found_work(hfi_worker_t *w)
{
    hfi_compute_t *p = w->pool;
    if (!w->searching)
        return;
    w->searching = 0;
    if (atomic_fetch_sub(&p->nsearching, 1) == 1 && atomic_load(&p->nidle) > 0 &&
        work_available(p))
        wake_one(p);
}

/* Spin for a while as a searcher; NULL if nothing turned up. */
static hfi_task_t *spin(hfi_worker_t *w)
{
    hfi_compute_t *p = w->pool;
    uint64_t deadline = 0;
    hfi_task_t *t;

    if (!w->searching) {
        unsigned s = atomic_load(&p->nsearching);
        if (p->parallelism > 1 && 2 * s >= p->parallelism)
            return NULL;            /* enough searchers already */
        atomic_fetch_add(&p->nsearching, 1);
        w->searching = 1;
    }
    for (unsigned i = 0;; i++) {
        for (int k = 0; k < 16; k++)
            hfi_cpu_relax();
        if ((t = find_task(w)) != NULL)
            return t;
        if (atomic_load_explicit(&p->shutdown, memory_order_relaxed))
            return NULL;
        if ((i & 7) == 7) {
            uint64_t now = hfi_now_ns();
            if (!deadline)
                deadline = now + SPIN_NS;
            else if (now >= deadline)
                return NULL;
            sched_yield();
        }
    }
}

/* Take `w` off the idle stack if it is still there (a waker may have taken it already).
 * Returns 1 if it was. */
static int leave_idle(hfi_worker_t *w)
{
    hfi_compute_t *p = w->pool;
    int removed = 0;

    pthread_mutex_lock(&p->idle_mu);
    if (w->in_idle) {
        hfi_worker_t **pp = &p->idle;
        while (*pp != w)
            pp = &(*pp)->idle_next;
        *pp = w->idle_next;
        w->in_idle = 0;
        atomic_fetch_sub(&p->nidle, 1);
        atomic_fetch_add(&p->nrunning, 1);
        removed = 1;
    }
    pthread_mutex_unlock(&p->idle_mu);
    return removed;
}

static void park(hfi_worker_t *w)
{
    hfi_compute_t *p = w->pool;
    int notified;

    if (w->searching) {
        w->searching = 0;
        atomic_fetch_sub(&p->nsearching, 1);
    }
    pthread_mutex_lock(&p->idle_mu);
    w->idle_next = p->idle;
    p->idle = w;
    w->in_idle = 1;
    atomic_fetch_add(&p->nidle, 1);
    atomic_fetch_sub(&p->nrunning, 1);
    pthread_mutex_unlock(&p->idle_mu);

    if (atomic_load(&p->shutdown) ||
        (atomic_load(&p->nrunning) < p->parallelism && work_available(p))) {
        if (leave_idle(w))
            return;
        /* else a waker took us out of the stack: its notification is on its way */
    }
    hfi_count(&w->parks);
    pthread_mutex_lock(&w->mu);
    while (!w->notified && !atomic_load(&p->shutdown))
        pthread_cond_wait(&w->cv, &w->mu);
    notified = w->notified;
    w->notified = 0;
    pthread_mutex_unlock(&w->mu);
    if (!notified) {
        /* Woken by shutdown, not by a waker: leave the idle stack under idle_mu, so that a
         * waker cannot pop (and write) this worker while it exits, and whatever a waker
         * already wrote (w->searching) is ordered before our reads. */
        leave_idle(w);
    }
}

static void *worker_main(void *arg)
{
    hfi_worker_t *w = arg;
    hfi_compute_t *p = w->pool;
    char name[16];

    snprintf(name, sizeof name, "hfasync-cpu/%u", w->index);
    hfi_thread_set_name(name);
    hfi_tls.executor = &p->ex;
    hfi_tls.worker = w;
    for (;;) {
        hfi_task_t *t;
        if (atomic_load_explicit(&p->shutdown, memory_order_acquire))
            break;
        if (atomic_load(&p->nrunning) > p->parallelism) {
            park(w);                /* surplus: a blocked waiter came back */
            continue;
        }
        if ((t = find_task(w)) == NULL)
            t = spin(w);
        if (t) {
            found_work(w);
            run_task(w, t);
            continue;
        }
        park(w);
    }
    if (w->searching) {
        w->searching = 0;
        atomic_fetch_sub(&p->nsearching, 1);
    }
    hfi_tls.worker = NULL;
    hfi_tls.executor = NULL;
    return NULL;
}

hfi_compute_t *hfi_compute_new(hf_runtime_t *rt, unsigned threads, unsigned spares)
{
    hfi_compute_t *p = hfi_calloc_aligned(_Alignof(hfi_compute_t), sizeof *p);

    if (!p)
        return NULL;
    hfi_executor_init(&p->ex, HFI_EX_COMPUTE, rt);
    p->parallelism = threads;
    p->max_threads = threads + spares;
    if ((p->workers = hfi_calloc(p->max_threads, sizeof *p->workers)) == NULL) {
        hfi_free(p);
        return NULL;
    }
    hfi_injectq_init(&p->inject);
    pthread_mutex_init(&p->idle_mu, NULL);
    atomic_init(&p->nthreads, 0);
    atomic_init(&p->nrunning, threads);
    for (unsigned i = 0; i < threads; i++) {
        if (spawn_worker(p) < 0) {
            /* The threads that did start are stopped and joined; the pool is freed. */
            atomic_store(&p->nrunning, i);
            hfi_compute_shutdown(p);
            hfi_executor_release(&p->ex);
            return NULL;
        }
    }
    return p;
}

void hfi_compute_stop(hfi_compute_t *p)
{
    unsigned n;

    /* Under idle_mu, where add_spare() checks the flag and publishes a spare: a spare is
     * either counted in `n` (and woken below) or never created. */
    pthread_mutex_lock(&p->idle_mu);
    atomic_store(&p->shutdown, 1);
    n = atomic_load(&p->nthreads);
    pthread_mutex_unlock(&p->idle_mu);
    if (p->orphaned)
        return;
    for (unsigned i = 0; i < n; i++) {
        hfi_worker_t *w = p->workers[i];
        pthread_mutex_lock(&w->mu);
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
    hfi_parklot_wake_all();
}

void hfi_compute_shutdown(hfi_compute_t *p)
{
    unsigned n;
    hfi_task_t *list;

    hfi_compute_stop(p);
    n = atomic_load(&p->nthreads);
    if (!p->orphaned) {
        for (unsigned i = 0; i < n; i++)
            if (p->workers[i]->started)
                pthread_join(p->workers[i]->thread, NULL);
    }
    atomic_store(&p->ex.dead, 1);
    /* The other half of the submitter's fence (hfi_compute_submit): its link in the
     * injection queue is a release store, not seq_cst. */
    atomic_thread_fence(memory_order_seq_cst);
    list = take_all_injected(p);
    for (unsigned i = 0; i < n; i++) {
        hfi_task_t *t = atomic_exchange(&p->workers[i]->next, NULL);
        if (t) {
            hfi_store_relaxed(&t->next, list);
            list = t;
        }
        while ((t = hfi_deque_steal(&p->workers[i]->dq)) != NULL) {
            if (t == HFI_STEAL_RETRY)
                continue;
            hfi_store_relaxed(&t->next, list);
            list = t;
        }
    }
    hfi_tramp_discard_list(list);
}

void hfi_compute_destroy(hfi_compute_t *p)
{
    unsigned n = atomic_load(&p->nthreads);
    for (unsigned i = 0; i < n; i++) {
        hfi_worker_t *w = p->workers[i];
        hfi_deque_destroy(&w->dq);
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        hfi_free(w);
    }
    hfi_injectq_destroy(&p->inject);
    pthread_mutex_destroy(&p->idle_mu);
    hfi_free(p->workers);
    hfi_free(p);
}

/* ---- the blocking-safe wait's part -------------------------------------------------------- */

void hfi_compute_help(hfi_worker_t *w, hf_future_t *f, uint64_t deadline_ns)
{
    /* Queued tasks never run once the runtime is being freed: stop helping then too. */
    while (hfi_state(f) == HF_FUTURE_PENDING && w->help_depth < MAX_HELP_DEPTH &&
           !atomic_load_explicit(&w->pool->shutdown, memory_order_relaxed) &&
           !(deadline_ns && hfi_now_ns() >= deadline_ns)) {
        hfi_task_t *t = NULL;
        /* First what the waiting task (or what it ran) spawned: the awaited subtree. */
        if (w->next_seq >= w->cur_frame && atomic_load_explicit(&w->next, memory_order_relaxed))
            t = atomic_exchange(&w->next, NULL);
        if (!t && hfi_deque_bottom(&w->dq) > w->frame_base)
            t = hfi_deque_pop(&w->dq);
        /* Then other queued work, as a thief (the awaited task may be running elsewhere,
         * and its own subtasks are then in that worker's deque). */
        if (!t && hfi_injectq_len(&w->pool->inject) > 0)
            t = take_injected(w);
        if (!t)
            t = steal(w);
        if (!t)
            break;
        w->help_depth++;
        run_task(w, t);
        w->help_depth--;
    }
}

void hfi_compute_block_begin(hfi_worker_t *w)
{
    hfi_compute_t *p = w->pool;
    hfi_task_t *t = atomic_exchange(&w->next, NULL);

    /* While this thread sleeps, its `next` must be stealable like the rest. */
    if (t)
        push_stealable(w, t);
    atomic_fetch_add(&p->nblocked, 1);
    atomic_fetch_sub(&p->nrunning, 1);
    if (atomic_load(&p->nsearching) == 0 && work_available(p) && !wake_one(p))
        add_spare(p);
}

void hfi_compute_block_end(hfi_worker_t *w)
{
    hfi_compute_t *p = w->pool;
    atomic_fetch_sub(&p->nblocked, 1);
    atomic_fetch_add(&p->nrunning, 1);
}

int hfi_compute_interrupted(void *worker)
{
    hfi_worker_t *w = worker;
    return atomic_load(&w->pool->shutdown);
}

void hfi_compute_stats(hfi_compute_t *p, hf_runtime_stats_t *s)
{
    unsigned n = atomic_load_explicit(&p->nthreads, memory_order_acquire);
    size_t depth = hfi_injectq_len(&p->inject);

    s->compute_parallelism = p->parallelism;
    s->compute_threads = n;
    s->compute_running = atomic_load(&p->nrunning);
    s->compute_blocked = atomic_load(&p->nblocked);
    s->compute_idle = atomic_load(&p->nidle);
    s->compute_spares = n > p->parallelism ? n - p->parallelism : 0;
    pthread_mutex_lock(&p->idle_mu);
    s->compute_spares_peak = p->spares_peak;
    pthread_mutex_unlock(&p->idle_mu);
    s->compute_wakeups = atomic_load(&p->wakeups);
    s->compute_tasks_run = s->compute_steals = s->compute_parks = 0;
    for (unsigned i = 0; i < n; i++) {
        hfi_worker_t *w = p->workers[i];
        s->compute_tasks_run += hfi_load_relaxed(&w->tasks_run);
        s->compute_steals += hfi_load_relaxed(&w->steals);
        s->compute_parks += hfi_load_relaxed(&w->parks);
        depth += (size_t)hfi_deque_size(&w->dq) + (atomic_load(&w->next) != NULL);
    }
    s->compute_queue_depth = depth;
}

/* ---- fork ---------------------------------------------------------------------------------- */

void hfi_compute_atfork_prepare(hfi_compute_t *p)
{
    /* Not the workers' mu (see the design notes): two mutexes per pool, whatever its size. */
    pthread_mutex_lock(&p->idle_mu);
    pthread_mutex_lock(&p->inject.mu);
}

void hfi_compute_atfork_parent(hfi_compute_t *p)
{
    pthread_mutex_unlock(&p->inject.mu);
    pthread_mutex_unlock(&p->idle_mu);
}

void hfi_compute_atfork_child(hfi_compute_t *p)
{
    /* idle_mu is held: nthreads and the workers it counts are stable, each with its mu
     * initialised before it was published. */
    unsigned n = atomic_load(&p->nthreads);
    for (unsigned i = 0; i < n; i++) {
        hfi_worker_t *w = p->workers[i];
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv, NULL);
        w->notified = 0;
        w->started = 0;
    }
    pthread_mutex_unlock(&p->inject.mu);
    pthread_mutex_unlock(&p->idle_mu);
    p->orphaned = 1;
    atomic_store(&p->ex.dead, 1);
}
