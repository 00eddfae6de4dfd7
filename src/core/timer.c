/*
 * timer.c - one timer thread for the whole process; hf_future_timeout and hf_future_delay.
 *
 * Design notes
 *  - armed entries live in a binary min-heap ordered by (deadline, seq), under `T.mu`;
 *    each entry knows its heap index, so disarming is O(log n);
 *  - the thread sleeps on a CLOCK_MONOTONIC condvar (CLOCK_REALTIME where configure found
 *    no pthread_condattr_setclock: parklot.c) until the earliest deadline, pops due
 *    entries and fires them with the lock dropped; an entry is out of the heap before it
 *    fires, which is how hfi_timer_remove() tells "removed" from "firing";
 *  - the thread starts on the first hfi_timer_add() and exits after LINGER_MS with an
 *    empty heap (counted from when it emptied: a removal that empties it wakes the
 *    thread); the next add starts it again. One thread, never one per timer;
 *  - a timeout's state is shared by three parties (the timer, the watcher on the input,
 *    the hook on the output), each holding one reference. The timer is armed first, before
 *    the interest in the input, the hook and the watcher: arming is the only step that can
 *    fail, and a failure then leaves the input untouched (NULL is returned). The timer can
 *    fire before the hook is installed; the hook is then run by hand. Armed before the
 *    watcher is registered, the timer is always found armed or gone by the hook;
 *  - lock order: T.mu is a leaf; fire callbacks run without it.
 */
#include "config.h"

#include "core/timer.h"

#include <pthread.h>
#include <stdint.h>

#include "core/alloc.h"
#include "core/future_impl.h"
#include "core/parklot.h"
#include "core/runtime_impl.h"
#include "core/thread.h"
#include "core/tls.h"

#define LINGER_MS 200

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int cv_ready;
    hfi_timer_ent_t **heap;
    size_t n, cap;
    uint64_t seq;
    int alive;                  /* a thread was started and has not yet decided to exit */
    int running;                /* timer_main bodies between their first and last lock */
} T = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, NULL, 0, 0, 0, 0, 0 };

static int before(const hfi_timer_ent_t *a, const hfi_timer_ent_t *b)
{
    return a->deadline_ns < b->deadline_ns ||
           (a->deadline_ns == b->deadline_ns && a->seq < b->seq);
}

static void place(size_t i, hfi_timer_ent_t *e)
{
    T.heap[i] = e;
    e->idx = i;
}

static void sift_up(size_t i)
{
    hfi_timer_ent_t *e = T.heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(e, T.heap[parent]))
            break;
        place(i, T.heap[parent]);
        i = parent;
    }
    place(i, e);
}

static void sift_down(size_t i)
{
    hfi_timer_ent_t *e = T.heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= T.n)
            break;
        if (c + 1 < T.n && before(T.heap[c + 1], T.heap[c]))
            c++;
        if (!before(T.heap[c], e))
            break;
        place(i, T.heap[c]);
        i = c;
    }
    place(i, e);
}

static void heap_remove(hfi_timer_ent_t *e)
{
    size_t i = e->idx;
    hfi_timer_ent_t *last = T.heap[--T.n];
    e->idx = SIZE_MAX;
    if (i == T.n)
        return;
    place(i, last);
    if (i > 0 && before(last, T.heap[(i - 1) / 2]))
        sift_up(i);
    else
        sift_down(i);
}

static void *timer_main(void *arg)
{
    (void)arg;
    hfi_thread_set_name("hfasync-timer");
    hfi_tls.timer_thread = 1;       /* hf_future_wait refuses here: see wait.c */
    pthread_mutex_lock(&T.mu);
    T.running++;
    for (;;) {
        uint64_t now = hfi_now_ns();
        struct timespec ts;

        if (T.n == 0) {
            hfi_abstime(&ts, now + (uint64_t)LINGER_MS * 1000000u);
            pthread_cond_timedwait(&T.cv, &T.mu, &ts);
            if (T.n == 0)
                break;
            continue;
        }
        if (T.heap[0]->deadline_ns > now) {
            hfi_abstime(&ts, T.heap[0]->deadline_ns);
            pthread_cond_timedwait(&T.cv, &T.mu, &ts);
            continue;
        }
        {
            hfi_timer_ent_t *e = T.heap[0];
            heap_remove(e);
            pthread_mutex_unlock(&T.mu);
            e->fire(e);
            pthread_mutex_lock(&T.mu);
        }
    }
    T.alive = 0;
    T.running--;
    pthread_mutex_unlock(&T.mu);
    return NULL;
}

int hfi_timer_add(hfi_timer_ent_t *e, uint64_t ms)
{
    uint64_t now = hfi_now_ns();
    uint64_t delta = hfi_ms_to_ns(ms);

    hfi_fork_handlers_install();
    pthread_mutex_lock(&T.mu);
    if (!T.cv_ready) {
        hfi_cond_init(&T.cv);
        T.cv_ready = 1;
    }
    if (T.n == T.cap) {
        size_t cap = T.cap ? 2 * T.cap : 64;
        hfi_timer_ent_t **h = hfi_realloc(T.heap, cap * sizeof *h);
        if (!h) {
            pthread_mutex_unlock(&T.mu);
            return HF_ENOMEM;
        }
        T.heap = h;
        T.cap = cap;
    }
    if (!T.alive) {
        pthread_t th;
        if (hfi_thread_start(&th, timer_main, NULL, 1) != 0) {
            pthread_mutex_unlock(&T.mu);
            return HF_EIO;
        }
        T.alive = 1;
    }
    e->deadline_ns = now + delta;
    e->seq = T.seq++;
    T.heap[T.n] = e;
    e->idx = T.n++;
    sift_up(e->idx);
    if (T.heap[0] == e)
        pthread_cond_signal(&T.cv);
    pthread_mutex_unlock(&T.mu);
    return 0;
}

int hfi_timer_remove(hfi_timer_ent_t *e)
{
    int removed = 0;
    pthread_mutex_lock(&T.mu);
    if (e->idx != SIZE_MAX) {
        heap_remove(e);
        removed = 1;
        /* the thread sleeps until the deadline of what was the earliest entry: with the
         * heap empty it must linger from now, not from then (a 10-minute timeout that is
         * cancelled at once kept the thread for 10 minutes) */
        if (T.n == 0)
            pthread_cond_signal(&T.cv);
    }
    pthread_mutex_unlock(&T.mu);
    return removed;
}

size_t hfi_timer_pending(void)
{
    size_t n;
    pthread_mutex_lock(&T.mu);
    n = T.n;
    pthread_mutex_unlock(&T.mu);
    return n;
}

int hfi_timer_thread_alive(void)
{
    int a;
    pthread_mutex_lock(&T.mu);
    a = T.alive;
    pthread_mutex_unlock(&T.mu);
    return a;
}

int hfi_timer_threads(void)
{
    int n;
    pthread_mutex_lock(&T.mu);
    n = T.running;
    pthread_mutex_unlock(&T.mu);
    return n;
}

void hfi_timer_atfork_prepare(void)
{
    pthread_mutex_lock(&T.mu);
}

void hfi_timer_atfork_parent(void)
{
    pthread_mutex_unlock(&T.mu);
}

void hfi_timer_atfork_child(void)
{
    /* The timer thread does not exist here: the next add starts one, and it fires what
     * was armed before the fork. */
    T.alive = 0;
    T.running = 0;
    if (T.cv_ready)
        hfi_cond_init(&T.cv);
    pthread_mutex_unlock(&T.mu);
}

/* ---- hf_future_timeout ---------------------------------------------------------------- */

typedef struct timeout {
    hfi_timer_ent_t ent;
    hfi_watch_t w;              /* on the input; w.src is written by hfi_future_watch */
    hf_future_t *in;            /* the input (a reference), set before the hook can run */
    hf_future_t *out;           /* a reference */
    _Atomic uint32_t refs;      /* timer side, watcher side, hook side */
} timeout_t;

static void timeout_unref(timeout_t *t)
{
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1) {
        hf_future_release(t->w.src);
        hf_future_release(t->in);
        hf_future_release(t->out);
        hfi_free(t);
    }
}

static void timeout_fire(hfi_timer_ent_t *e)
{
    timeout_t *t = HFI_CONTAINER(e, timeout_t, ent);
    hfi_future_settle(t->out, HF_FUTURE_REJECTED, NULL, NULL, &hfi_err_timedout, 0, NULL);
    timeout_unref(t);
}

static void timeout_input_settled(hfi_task_t *task, int run)
{
    timeout_t *t = HFI_CONTAINER(task, timeout_t, w.task);
    (void)run;
    hfi_future_mirror(t->out, t->w.src);
    timeout_unref(t);
}

static void timeout_out_settled(hf_future_t *out, void *arg, int state)
{
    timeout_t *t = arg;
    (void)out;
    (void)state;
    if (hfi_timer_remove(&t->ent))
        timeout_unref(t);       /* the timer's share: it will never fire */
    if (hfi_state(t->in) == HF_FUTURE_PENDING)
        hfi_future_withdraw(t->in);
    timeout_unref(t);
}

hf_future_t *hf_future_timeout(hf_future_t *f, uint64_t ms)
{
    timeout_t *t;
    hf_future_t *out;

    if (!f)
        return NULL;
    if ((out = hfi_future_new()) == NULL)
        return NULL;
    if (hfi_state(f) != HF_FUTURE_PENDING) {
        hfi_future_mirror(out, f);
        return out;
    }
    if ((t = hfi_malloc(sizeof *t)) == NULL) {
        hf_future_release(out);
        return NULL;
    }
    t->ent.idx = SIZE_MAX;
    t->ent.fire = timeout_fire;
    t->in = hf_future_retain(f);
    t->out = hf_future_retain(out);
    atomic_init(&t->refs, 3);
    t->w.src = NULL;
    /* Arm first, while nothing else knows of `t`: arming is the one step that can fail
     * (the heap grows, the thread starts), and failing must leave `f` untouched. Settling
     * a failed timeout with its hook installed would withdraw an interest from `f`, and
     * cancel the caller's input whenever it had no other dependent. */
    if (hfi_timer_add(&t->ent, ms) < 0) {
        hf_future_release(t->in);
        hf_future_release(t->out);
        hfi_free(t);
        hf_future_release(out);
        return NULL;
    }
    hfi_future_add_interest(f);
    /* The timer may have fired already and settled `out` with no hook to run: run it here
     * (it withdraws from `f`, as when the timer fires later). */
    if (hfi_future_set_hook(out, timeout_out_settled, t) < 0)
        timeout_out_settled(out, t, hfi_state(out));
    /* Watch only now that the timer is armed: `f` may settle at any moment, and the
     * watcher then settles `out`, whose hook disarms the timer; armed after that, it would
     * stay armed for the whole timeout, holding `out`, `f` and its value. (The timer may
     * fire first: the hook then withdraws from `f`, and the watcher finds `out` settled.) */
    hfi_future_watch(f, &t->w, timeout_input_settled);     /* sets t->w.src */
    return out;
}

/* ---- hf_future_delay ------------------------------------------------------------------- */

typedef struct delay {
    hfi_timer_ent_t ent;
    hf_future_t *out;
    _Atomic uint32_t refs;      /* timer side, hook side */
} delay_t;

static void delay_unref(delay_t *d)
{
    if (atomic_fetch_sub_explicit(&d->refs, 1, memory_order_acq_rel) == 1) {
        hf_future_release(d->out);
        hfi_free(d);
    }
}

static void delay_fire(hfi_timer_ent_t *e)
{
    delay_t *d = HFI_CONTAINER(e, delay_t, ent);
    hfi_future_settle(d->out, HF_FUTURE_FULFILLED, NULL, NULL, NULL, 0, NULL);
    delay_unref(d);
}

static void delay_out_settled(hf_future_t *out, void *arg, int state)
{
    delay_t *d = arg;
    (void)out;
    (void)state;
    if (hfi_timer_remove(&d->ent))
        delay_unref(d);
    delay_unref(d);
}

hf_future_t *hf_future_delay(uint64_t ms)
{
    delay_t *d;
    hf_future_t *out;

    if ((out = hfi_future_new()) == NULL)
        return NULL;
    if ((d = hfi_malloc(sizeof *d)) == NULL) {
        hf_future_release(out);
        return NULL;
    }
    d->ent.idx = SIZE_MAX;
    d->ent.fire = delay_fire;
    d->out = hf_future_retain(out);
    atomic_init(&d->refs, 2);
    /* Arm before installing the hook, so that a failure to arm (memory short) can undo
     * everything and return NULL as documented. */
    if (hfi_timer_add(&d->ent, ms) < 0) {
        hf_future_release(d->out);
        hfi_free(d);
        hf_future_release(out);
        return NULL;
    }
    if (hfi_future_set_hook(out, delay_out_settled, d) < 0)   /* fired already */
        delay_out_settled(out, d, hfi_state(out));
    return out;
}
