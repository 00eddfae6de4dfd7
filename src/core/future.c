/*
 * future.c - single-assignment futures: state, references, settlement, interest.
 *
 * Design notes
 *  - state moves PENDING -> {FULFILLED, REJECTED, CANCELLED} once, under the future's
 *    spinlock; readers load it lock-free (acquire), and the value/error fields are written
 *    before the releasing store of `state`, so a reader that sees a settled state sees them;
 *  - whoever settles detaches, under the lock, the watchers, the producer hook and the
 *    input link, and starts the continuation runner (then.c) if continuations are waiting;
 *    all of them run after the lock is dropped, inline callbacks through the trampoline;
 *  - `done` ends a settlement: what the settler runs after publishing the state (the
 *    producer hook, the watchers, dropping the input link) happens while it holds a
 *    reference of its own; it then drops that reference and publishes `done` in one
 *    critical section (settle_end), wakes the sleepers and only then starts the
 *    continuation runner (the consumers' code, which a wait does not wait for). A wait
 *    returns on `done`, not on the state, so a waiter finds that work over and no
 *    reference of the settler left (a producer that settles with hfi_promise_resolve_last
 *    hands its own over for this). A settlement with nothing to run publishes `done` with
 *    the state. A last release of a future whose `done` came from a critical section
 *    takes the lock once before freeing, as the settler may not have left it yet;
 *  - `link` is a reference: while pending, to the one input this future waits on (then,
 *    adopt; a then output is linked to its input even if that had settled, until its
 *    continuation starts); once settled, to the future owning a borrowed value or error;
 *  - the deadlock walk (hfi_future_needs_me) meets the calling thread at a future it
 *    drives, or at the settled input of a continuation that has not started
 *    (HFI_FL_QUEUED) while a continuation of that input runs on this thread;
 *  - interest: each dependent adds one to its input's `interest`; a dependent that is
 *    cancelled while its input is pending withdraws it, and the input is cancelled when the
 *    last one goes. The walk up the inputs is a loop, never a recursion;
 *  - adopt (hf_promise_adopt) links `out` to a pending input and watches it; an input that
 *    has already settled is mirrored inside the call, so a continuation that adopts a
 *    settled future has settled `next` when it returns, inline (trampoline) or not;
 *  - the last reference frees the value (destructor), an owned error, and the link, in a
 *    loop along the chain of links; a pending future losing its last reference is first
 *    cancelled, so its continuations and watchers always run;
 *  - lock order: a future's spinlock is a leaf; nothing else is taken while it is held,
 *    except in hfi_future_needs_me() and adopt's cycle check, which hold one future lock
 *    at a time.
 */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/errfmt.h"
#include "core/future_impl.h"
#include "core/parklot.h"
#include "core/tls.h"

const hf_error_t hfi_err_cancelled = { HF_ECANCELED, 0, "cancelled" };
const hf_error_t hfi_err_broken = { HF_EBROKEN, 0,
                                    "broken promise: freed or returned without being settled" };
const hf_error_t hfi_err_timedout = { HF_ETIMEDOUT, 0, "timed out" };
const hf_error_t hfi_err_nomem = { HF_ENOMEM, 0, "out of memory" };

void hfi_future_init(hf_future_t *f, uint32_t refs)
{
    atomic_init(&f->refs, refs);
    atomic_init(&f->state, HF_FUTURE_PENDING);
    atomic_init(&f->lock, 0);
    f->flags = 0;
    atomic_init(&f->done, HFI_DONE_NOT);
    atomic_init(&f->interest, 0);
    f->unused1 = 0;
    f->watchers = NULL;
    f->conts_head = f->conts_tail = NULL;
    f->value = NULL;
    f->destroy = NULL;
    f->error = NULL;
    f->link = NULL;
    f->hook = NULL;
    f->hook_arg = NULL;
    atomic_init(&f->driver, NULL);
}

hf_future_t *hfi_future_new(void)
{
    hf_future_t *f = hfi_obj_alloc(HFI_OBJ_LARGE);
    if (f)
        hfi_future_init(f, 1);
    return f;
}

size_t hf_future_sizeof(void)
{
    return sizeof(hf_future_t);
}

hf_future_t *hf_future_retain(hf_future_t *f)
{
    if (f)
        atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    return f;
}

hf_future_t *hfi_future_try_retain(hf_future_t *f)
{
    uint32_t n = atomic_load_explicit(&f->refs, memory_order_relaxed);
    while (n > 0)
        if (atomic_compare_exchange_weak_explicit(&f->refs, &n, n + 1, memory_order_relaxed,
                                                  memory_order_relaxed))
            return f;
    return NULL;                /* already on its way out */
}

/* Free a settled future whose count reached zero; returns its link to release next. */
static inline hf_future_t *future_free(hf_future_t *f)
{
    hf_future_t *next = f->link;

    if (f->value && f->destroy)
        f->destroy(f->value);
    if (f->flags & HFI_FL_ERR_OWNED)
        hfi_free((void *)f->error);
    hfi_obj_free(f, (f->flags & HFI_FL_XLARGE) ? HFI_OBJ_XLARGE : HFI_OBJ_LARGE);
    return next;
}

void hf_future_release(hf_future_t *f)
{
    while (f) {
        if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
            return;
        if (hfi_state(f) == HF_FUTURE_PENDING) {
            /* Nobody can settle it any more: cancel it so that its dependents and
             * watchers run, then drop the reference we take back for that. */
            atomic_store_explicit(&f->refs, 1, memory_order_relaxed);
            hfi_future_cancel(f);
            continue;
        }
        /* The settler may still be inside its last critical section (it dropped its
         * reference there): free only after its unlock. */
        if (atomic_load_explicit(&f->done, memory_order_acquire) != HFI_DONE_PLAIN) {
            hfi_spin_lock(&f->lock);
            hfi_spin_unlock(&f->lock);
        }
        f = future_free(f);
    }
}

/* The settlements whose synchronous part runs on this thread, innermost first. */
typedef struct settling {
    const hf_future_t *f;
    const struct settling *up;
    int kick;                   /* start the continuation runner once `done` is out */
} settling_t;

static _Thread_local const settling_t *settling_here;

int hfi_future_wait_over(const hf_future_t *f)
{
    if (atomic_load_explicit(&((hf_future_t *)f)->done, memory_order_acquire) != HFI_DONE_NOT)
        return 1;
    if (hfi_state(f) == HF_FUTURE_PENDING)
        return 0;
    for (const settling_t *s = settling_here; s; s = s->up)
        if (s->f == f)
            return 1;
    return 0;
}

/*
 * Settle under the lock and run what settlement triggers; hand back the detached input
 * link (a reference) for the caller to drop. When anything runs after the state is
 * published (hook, watchers, an input to drop, a consumed reference), the settler keeps
 * a reference and `fr` records the settlement: the caller ends it with settle_end() once
 * the input is dropped, and only then may a wait return (the continuations start after
 * that). Otherwise `done` is published with the state, fr->f is NULL, and the
 * continuations start here.
 */
static int settle_core(hf_future_t *f, int state, void *value, void (*destroy)(void *),
                       const hf_error_t *err, int err_owned, hf_future_t *owner, int consume,
                       hf_future_t **input, settling_t *fr)
{
    hfi_task_t *w, *fifo = NULL;
    hfi_hook_fn hook;
    void *hook_arg;
    int waiters = 0, kick, sync;

    *input = NULL;
    fr->f = NULL;
    hfi_spin_lock(&f->lock);
    if (hfi_load_relaxed(&f->state) != HF_FUTURE_PENDING) {
        hfi_spin_unlock(&f->lock);
        return HF_ESTATE;
    }
    *input = f->link;
    f->link = owner ? hf_future_retain(owner) : NULL;
    f->value = value;
    f->destroy = destroy;
    f->error = err;
    if (err_owned)
        f->flags |= HFI_FL_ERR_OWNED;
    if ((f->flags & HFI_FL_BOUND) &&
        atomic_load_explicit(&f->driver, memory_order_relaxed) == hfi_thread_token() &&
        hfi_tls.drives > 0)
        hfi_tls.drives--;
    atomic_store_explicit(&f->driver, NULL, memory_order_relaxed);
    w = f->watchers;
    f->watchers = NULL;
    hook = f->hook;
    hook_arg = f->hook_arg;
    f->hook = NULL;
    kick = f->conts_head != NULL && !(f->flags & HFI_FL_RUNNER);
    if (kick)
        f->flags |= HFI_FL_RUNNER;
    /* Once the state is visible, whoever sees it may drop the last reference (a waiter
     * freeing its promise): if anything below still uses `f`, hold it until done (a
     * consumed reference serves). The continuation runner gets a reference of its own. */
    sync = w || hook || *input || consume;
    if ((sync && !consume) || kick)
        atomic_fetch_add_explicit(&f->refs, (uint32_t)((sync && !consume) + kick),
                                  memory_order_relaxed);
    atomic_store_explicit(&f->state, (uint8_t)state, memory_order_release);
    if (!sync) {
        waiters = f->flags & HFI_FL_WAITERS;
        atomic_store_explicit(&f->done, HFI_DONE_PLAIN, memory_order_release);
    }
    hfi_spin_unlock(&f->lock);
    if (!sync) {
        if (waiters)            /* the parking lot uses `f` only as an address */
            hfi_parklot_wake(f);
        if (kick)               /* through the runner's own reference */
            hfi_conts_run_owned(f);
        return 0;
    }

    fr->f = f;
    fr->up = settling_here;
    fr->kick = kick;
    settling_here = fr;
    if (hook)
        hook(f, hook_arg, state);
    while (w) {                 /* watchers were pushed LIFO: run them oldest first */
        hfi_task_t *next = hfi_load_relaxed(&w->next);
        hfi_store_relaxed(&w->next, fifo);
        fifo = w;
        w = next;
    }
    while (fifo) {
        hfi_task_t *next = hfi_load_relaxed(&fifo->next);
        hfi_tramp_run(fifo, 1);
        fifo = next;
    }
    return 0;
}

/* End a settlement that settle_core() left open: drop the settler's reference and publish
 * `done` in one critical section, so that a wait that returns finds no reference of the
 * settler left; then wake the sleepers, and start the continuations (through the runner's
 * own reference: the settler does not touch `f` after its unlock, and a last release
 * elsewhere takes the lock first, see hf_future_release). The continuations are the
 * consumers' code, not part of the settlement: a wait does not wait for them, so an
 * HF_INLINE continuation may hand work to other threads that wait on `f`. */
static void settle_end(settling_t *fr)
{
    hf_future_t *f = (hf_future_t *)fr->f;
    uint32_t left;
    int waiters;

    if (!f)
        return;
    settling_here = fr->up;
    hfi_spin_lock(&f->lock);
    waiters = f->flags & HFI_FL_WAITERS;
    left = atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) - 1;
    atomic_store_explicit(&f->done, HFI_DONE_LOCKED, memory_order_release);
    hfi_spin_unlock(&f->lock);
    if (left == 0)              /* nobody else held it: nobody waits, no runner */
        hf_future_release(future_free(f));
    if (waiters)                /* the parking lot uses `f` only as an address */
        hfi_parklot_wake(f);
    if (fr->kick)
        hfi_conts_run_owned(f);
}

/* Drop a detached input link: withdraw interest if the input is still pending, cancelling
 * it (and walking further up) when that was its last interested dependent. */
static void drop_input(hf_future_t *in)
{
    while (in) {
        hf_future_t *next = NULL;
        if (hfi_state(in) == HF_FUTURE_PENDING) {
            uint32_t n = atomic_load_explicit(&in->interest, memory_order_relaxed);
            while (n > 0 && !atomic_compare_exchange_weak(&in->interest, &n, n - 1))
                ;
            if (n == 1) {
                settling_t fr;
                settle_core(in, HF_FUTURE_CANCELLED, NULL, NULL, NULL, 0, NULL, 0, &next, &fr);
                settle_end(&fr);
            }
        }
        hf_future_release(in);
        in = next;
    }
}

static int settle(hf_future_t *f, int state, void *value, void (*destroy)(void *),
                  const hf_error_t *err, int err_owned, hf_future_t *owner, int consume)
{
    hf_future_t *in;
    settling_t fr;
    int rc = settle_core(f, state, value, destroy, err, err_owned, owner, consume, &in, &fr);
    if (in)
        drop_input(in);
    if (fr.f)
        settle_end(&fr);
    return rc;
}

int hfi_future_settle(hf_future_t *f, int state, void *value, void (*destroy)(void *),
                      const hf_error_t *err, int err_owned, hf_future_t *owner)
{
    return settle(f, state, value, destroy, err, err_owned, owner, 0);
}

int hfi_future_settle_consume(hf_future_t *f, void *value, void (*destroy)(void *))
{
    int rc = settle(f, HF_FUTURE_FULFILLED, value, destroy, NULL, 0, NULL, 1);
    if (rc < 0)
        hf_future_release(f);   /* not consumed by a settlement */
    return rc;
}

int hfi_future_cancel(hf_future_t *f)
{
    return hfi_future_settle(f, HF_FUTURE_CANCELLED, NULL, NULL, NULL, 0, NULL);
}

int hfi_future_mirror(hf_future_t *out, hf_future_t *src)
{
    switch (hfi_state(src)) {
    case HF_FUTURE_FULFILLED:
        return hfi_future_settle(out, HF_FUTURE_FULFILLED, src->value, NULL, NULL, 0, src);
    case HF_FUTURE_REJECTED:
        return hfi_future_settle(out, HF_FUTURE_REJECTED, NULL, NULL, src->error, 0, src);
    case HF_FUTURE_CANCELLED:
        return hfi_future_cancel(out);
    default:
        return HF_ESTATE;
    }
}

int hfi_future_reject_copy(hf_future_t *f, const hf_error_t *err)
{
    hf_error_t *copy;
    int rc;

    if (hfi_state(f) != HF_FUTURE_PENDING)
        return HF_ESTATE;
    if ((copy = hfi_malloc(sizeof *copy)) == NULL) {
        rc = hfi_future_settle(f, HF_FUTURE_REJECTED, NULL, NULL, &hfi_err_nomem, 0, NULL);
        return rc < 0 ? rc : HF_ENOMEM;
    }
    copy->code = err->code;
    copy->http_status = err->http_status;
    memcpy(copy->message, err->message, sizeof copy->message);
    copy->message[sizeof copy->message - 1] = '\0';
    rc = hfi_future_settle(f, HF_FUTURE_REJECTED, NULL, NULL, copy, 1, NULL);
    if (rc < 0)
        hfi_free(copy);
    return rc;
}

void hfi_future_add_interest(hf_future_t *f)
{
    atomic_fetch_add_explicit(&f->interest, 1, memory_order_relaxed);
}

void hfi_future_set_input(hf_future_t *out, hf_future_t *src)
{
    /* Linked even when settled: the deadlock walk follows it to the input's runner. */
    if (hfi_state(src) == HF_FUTURE_PENDING)
        hfi_future_add_interest(src);
    out->link = hf_future_retain(src);      /* `out` is new: nobody else sees it yet */
}

void hfi_future_withdraw(hf_future_t *f)
{
    drop_input(hf_future_retain(f));
}

int hfi_future_set_hook(hf_future_t *f, hfi_hook_fn fn, void *arg)
{
    int rc = 0;
    hfi_spin_lock(&f->lock);
    if (hfi_load_relaxed(&f->state) != HF_FUTURE_PENDING || f->hook)
        rc = HF_ESTATE;
    else {
        f->hook = fn;
        f->hook_arg = arg;
    }
    hfi_spin_unlock(&f->lock);
    return rc;
}

void hfi_future_watch(hf_future_t *f, hfi_watch_t *w, hfi_task_fn fn)
{
    w->task.fn = fn;
    w->src = hf_future_retain(f);
    hfi_spin_lock(&f->lock);
    if (hfi_load_relaxed(&f->state) == HF_FUTURE_PENDING) {
        hfi_store_relaxed(&w->task.next, f->watchers);
        f->watchers = &w->task;
        hfi_spin_unlock(&f->lock);
        return;
    }
    hfi_spin_unlock(&f->lock);
    hfi_tramp_run(&w->task, 1);
}

void hfi_future_add_cont(hf_future_t *f, hfi_task_t *c)
{
    int kick;

    hfi_store_relaxed(&c->next, NULL);
    hfi_spin_lock(&f->lock);
    if (f->conts_tail)
        hfi_store_relaxed(&f->conts_tail->next, c);
    else
        f->conts_head = c;
    f->conts_tail = c;
    kick = hfi_load_relaxed(&f->state) != HF_FUTURE_PENDING && !(f->flags & HFI_FL_RUNNER);
    if (kick)
        f->flags |= HFI_FL_RUNNER;
    hfi_spin_unlock(&f->lock);
    if (kick)
        hfi_conts_run(f);
}

hfi_task_t *hfi_future_next_cont(hf_future_t *f)
{
    hfi_task_t *c;

    hfi_spin_lock(&f->lock);
    if ((c = f->conts_head) != NULL) {
        f->conts_head = hfi_load_relaxed(&c->next);
        if (!f->conts_head)
            f->conts_tail = NULL;
    } else {
        f->flags &= ~HFI_FL_RUNNER;
    }
    hfi_spin_unlock(&f->lock);
    return c;
}

/* Walk from `f` up its chain of pending inputs; 1 if it meets `target` or a future that
 * only the thread `driver` can settle (the calling thread): one it drives, or the settled
 * input of a continuation that has not started while a continuation of that input runs
 * on this thread (the input's runner starts the next one only when that one returns). */
static int chain_meets(hf_future_t *f, const hf_future_t *target, const void *driver)
{
    hf_future_t *cur = hf_future_retain(f), *next;
    int met = 0, queued = 0;

    while (cur) {
        hfi_spin_lock(&cur->lock);
        if (hfi_load_relaxed(&cur->state) != HF_FUTURE_PENDING) {
            hfi_spin_unlock(&cur->lock);
            met = queued && driver && hfi_then_running_here(cur);
            break;
        }
        if (cur == target ||
            (driver && atomic_load_explicit(&cur->driver, memory_order_relaxed) == driver)) {
            hfi_spin_unlock(&cur->lock);
            met = 1;
            break;
        }
        queued = (cur->flags & HFI_FL_QUEUED) != 0;   /* and `link` is its input */
        next = hf_future_retain(cur->link);
        hfi_spin_unlock(&cur->lock);
        hf_future_release(cur);
        cur = next;
    }
    hf_future_release(cur);
    return met;
}

int hfi_future_needs_me(hf_future_t *f)
{
    /* Only a thread that drives something (a bound promise, or the output of the task or
     * continuation it is running) can be the one a future waits for: skip the walk
     * otherwise, which keeps a wait on the end of a long pending chain O(1). */
    if (!hfi_tls.producing && hfi_tls.drives == 0)
        return 0;
    return chain_meets(f, NULL, hfi_thread_token());
}

/* ---- adopt -------------------------------------------------------------------------- */

/* Adopt links are made under one mutex, so two adopts cannot close a cycle between them
 * unseen. Every other link (then, catch, finally) is fixed when its future is created. */
static pthread_mutex_t adopt_mu = PTHREAD_MUTEX_INITIALIZER;

typedef struct adopt {
    hfi_watch_t w;
    hf_future_t *out;
} adopt_t;

static void adopt_fire(hfi_task_t *t, int run)
{
    adopt_t *a = HFI_CONTAINER(t, adopt_t, w.task);
    (void)run;
    hfi_future_mirror(a->out, a->w.src);
    hf_future_release(a->w.src);
    hf_future_release(a->out);
    hfi_obj_free(a, HFI_OBJ_SMALL);
}

/* `out` refused to adopt `g` because it had settled: if it was cancelled, it withdraws the
 * interest it would have held, which cancels `g` if nobody else wants it. */
static int adopt_refused(hf_future_t *out, hf_future_t *g)
{
    if (hfi_state(out) == HF_FUTURE_CANCELLED && hfi_state(g) == HF_FUTURE_PENDING) {
        hfi_future_add_interest(g);
        hfi_future_withdraw(g);
    }
    return HF_ESTATE;
}

/* A settled `g` is mirrored inside this call, never through a watcher: the watcher would
 * only be queued when an inline continuation adopts (its trampoline is running), and the
 * continuation would return with `out` still pending and no link, i.e. broken. */
int hfi_future_adopt(hf_future_t *out, hf_future_t *g)
{
    adopt_t *a = NULL;
    int rc = 0, settled = 0, linked = 0;

    if (g == out)
        return HF_EDEADLK;
    if (hfi_state(out) != HF_FUTURE_PENDING)
        return adopt_refused(out, g);
    /* a watcher only for a pending `g` (once settled, it stays settled) */
    if (hfi_state(g) == HF_FUTURE_PENDING && (a = hfi_obj_alloc(sizeof *a)) == NULL)
        return HF_ENOMEM;
    pthread_mutex_lock(&adopt_mu);
    if (chain_meets(g, out, NULL)) {
        rc = HF_EDEADLK;
    } else {
        hfi_spin_lock(&out->lock);
        if (hfi_load_relaxed(&out->state) != HF_FUTURE_PENDING) {
            rc = HF_ESTATE;
            settled = 1;
        } else if (out->link) {
            rc = HF_ESTATE;     /* already adopting another */
        } else if (a) {
            /* interest before the link: a cancel of `out` from now on withdraws it */
            hfi_future_add_interest(g);
            if (hfi_state(g) == HF_FUTURE_PENDING) {
                out->link = hf_future_retain(g);
                linked = 1;
            }
        }
        hfi_spin_unlock(&out->lock);
    }
    pthread_mutex_unlock(&adopt_mu);
    if (rc < 0) {
        if (a)
            hfi_obj_free(a, HFI_OBJ_SMALL);
        return settled ? adopt_refused(out, g) : rc;
    }
    if (!linked) {
        /* `g` has settled: settle `out` now (HF_ESTATE if it was cancelled meanwhile:
         * the adopt was accepted all the same, as when a watcher's mirror loses) */
        if (a)
            hfi_obj_free(a, HFI_OBJ_SMALL);
        hfi_future_mirror(out, g);
        return 0;
    }
    a->out = hf_future_retain(out);
    hfi_future_watch(g, &a->w, adopt_fire);
    return 0;
}

void hfi_future_atfork_prepare(void)
{
    pthread_mutex_lock(&adopt_mu);
}

void hfi_future_atfork_parent(void)
{
    pthread_mutex_unlock(&adopt_mu);
}

void hfi_future_atfork_child(void)
{
    pthread_mutex_unlock(&adopt_mu);
}

/* ---- public inspection ----------------------------------------------------------------- */

hf_future_state_t hf_future_state(const hf_future_t *f)
{
    return f ? (hf_future_state_t)hfi_state(f) : HF_FUTURE_PENDING;
}

void *hf_future_value(const hf_future_t *f)
{
    return f && hfi_state(f) == HF_FUTURE_FULFILLED ? f->value : NULL;
}

const hf_error_t *hf_future_error(const hf_future_t *f)
{
    if (!f)
        return NULL;
    switch (hfi_state(f)) {
    case HF_FUTURE_REJECTED:
        return f->error;
    case HF_FUTURE_CANCELLED:
        return &hfi_err_cancelled;
    default:
        return NULL;
    }
}

int hf_future_cancel(hf_future_t *f)
{
    if (!f)
        return HF_EINVAL;
    return hfi_future_cancel(f);
}

int hf_cancel_requested(void)
{
    hf_future_t *f = hfi_tls.producing;
    return f && hfi_state(f) == HF_FUTURE_CANCELLED;
}

hf_future_t *hf_future_resolved(void *value, void (*destroy)(void *))
{
    hf_future_t *f = hfi_future_new();
    if (f)
        hfi_future_settle(f, HF_FUTURE_FULFILLED, value, destroy, NULL, 0, NULL);
    return f;
}

hf_future_t *hf_future_rejected(int code, int http_status, const char *fmt, ...)
{
    hf_future_t *f;
    hf_error_t *err;
    va_list ap;

    if (code >= 0)
        return NULL;
    if ((f = hfi_future_new()) == NULL)
        return NULL;
    if ((err = hfi_malloc(sizeof *err)) == NULL) {
        hfi_future_settle(f, HF_FUTURE_REJECTED, NULL, NULL, &hfi_err_nomem, 0, NULL);
        return f;
    }
    va_start(ap, fmt);
    hfi_error_vset(err, code, http_status, fmt, ap);
    va_end(ap);
    hfi_future_settle(f, HF_FUTURE_REJECTED, NULL, NULL, err, 1, NULL);
    return f;
}
