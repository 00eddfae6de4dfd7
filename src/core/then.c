/*
 * then.c - continuations: then, catch, then_on, finally, and the runner that runs the
 * continuations of one future in registration order.
 *
 * Design notes
 *  - a continuation (cont_t) is appended to its input's FIFO list. Once the input has
 *    settled, exactly one runner per future (HFI_FL_RUNNER, set under the future's lock)
 *    pops continuations one at a time: a continuation that must run user code on a pool is
 *    submitted there, and the next one is popped only after it returned; one that runs
 *    inline, or that only passes the state on, runs through the trampoline. So the
 *    continuations of one future start in registration order, each on its own executor;
 *  - a continuation is allocated inside its output future (then_obj_t: one allocation
 *    per link); the runner holds one reference to the input while it runs; each
 *    continuation holds one to its output (which keeps its own memory alive) and one to
 *    its executor (a freed runtime's executor stays allocated
 *    until the last continuation naming it is gone, and discards them);
 *  - a continuation never runs inside the call that registers it unless its executor is
 *    HF_INLINE. A settled input with no runner active and HF_INLINE takes a fast path that
 *    allocates only the output future;
 *  - a continuation that handles HF_ON_CANCEL runs if its output is cancelled before its
 *    input's state was passed on to it, even after dispatch() decided to pass it on:
 *    cont_run() passes the state on itself and resubmits the task to run the function
 *    when that fails;
 *  - a continuation discarded because its executor's runtime was freed (queued when
 *    hf_runtime_free stopped the pool, or submitted to it afterwards) has its output
 *    cancelled; if it handles HF_ON_CANCEL its function then runs on the discarding thread
 *    (hf_runtime_free's caller, or the one that settled its input), seeing its output
 *    cancelled: so an HF_ON_ANY or finally continuation runs exactly once, always;
 *  - while user code runs, the output's `driver` is the running thread, so a wait on the
 *    output (or on what depends on it) from inside gets HF_EDEADLK; and the input is on
 *    the thread's list of runners it holds up (`running_here`), so does a wait on a later
 *    continuation of the same input (HFI_FL_QUEUED: not started, `link` is its input),
 *    which cannot start before this one returns;
 *  - lock order: only the input's or the output's spinlock, never both.
 */
#include "config.h"

#include "core/alloc.h"
#include "core/executor.h"
#include "core/future_impl.h"
#include "core/tls.h"

#define ON_FINALLY 8u

typedef struct cont {
    hfi_task_t task;
    hf_future_t *src;           /* no reference of its own: the runner holds one */
    hf_executor_t *ex;          /* a reference */
    union {
        hf_then_fn then;
        void (*fin)(hf_future_t *done, void *arg);
    } fn;
    void *arg;
    hf_future_t *out;           /* a reference */
    unsigned on;
    int call;                   /* set by dispatch(): the user function runs */
} cont_t;

/* A continuation and its output, allocated together: one allocation per link, and the
 * two are adjacent in memory when the link runs. */
typedef struct then_obj {
    hf_future_t f;
    cont_t c;
} then_obj_t;

_Static_assert(sizeof(then_obj_t) <= HFI_OBJ_XLARGE, "a link fits the extra-large class");

/* The inputs whose runners wait for a continuation running on this thread, innermost
 * first (a wait in one may run another: a compute worker helps). */
typedef struct run_frame {
    const hf_future_t *src;
    const struct run_frame *up;
} run_frame_t;

static _Thread_local const run_frame_t *running_here;

int hfi_then_running_here(const hf_future_t *src)
{
    for (const run_frame_t *fr = running_here; fr; fr = fr->up)
        if (fr->src == src)
            return 1;
    return 0;
}

static int wants(unsigned on, int state)
{
    return state != HF_FUTURE_PENDING && (on & (1u << (state - 1)));
}

/* Run the user function of a continuation whose input `src` settled, if `call` (decided
 * when it was dispatched, see dispatch()), or pass the state on to `out`. A continuation
 * that handles cancellation runs even when `out` was cancelled first, so that it can
 * always release what its argument owns; the others are skipped then. */
static void run_body(hf_future_t *src, hf_future_t *out, unsigned on, int linked, int call,
                     hf_then_fn then, void (*fin)(hf_future_t *, void *), void *arg)
{
    hfi_tls_t *tl = &hfi_tls;
    hf_future_t *saved;
    run_frame_t frame;
    int broken;

    if (hfi_state(out) != HF_FUTURE_PENDING && !(on & HF_ON_CANCEL))
        return;                 /* cancelled by its consumer meanwhile */
    if (!call) {
        if (hfi_state(out) == HF_FUTURE_PENDING)
            hfi_future_mirror(out, src);
        return;
    }
    if (linked) {
        /* The input has served: detach it so that `fn` may adopt another future. */
        hf_future_t *in;
        hfi_spin_lock(&out->lock);
        in = out->link;
        out->link = NULL;
        out->flags &= ~HFI_FL_QUEUED;
        hfi_spin_unlock(&out->lock);
        hf_future_release(in);
    }

    saved = tl->producing;
    tl->producing = out;
    frame.src = src;
    frame.up = running_here;
    running_here = &frame;
    atomic_store_explicit(&out->driver, hfi_thread_token(), memory_order_relaxed);
    if (on & ON_FINALLY) {
        fin(src, arg);
        hfi_future_mirror(out, src);
    } else {
        then(src, (hf_promise_t *)(void *)out, arg);
    }
    atomic_store_explicit(&out->driver, NULL, memory_order_relaxed);
    running_here = frame.up;
    tl->producing = saved;

    broken = 0;
    if (hfi_state(out) == HF_FUTURE_PENDING) {     /* not settled: adopting, or broken */
        hfi_spin_lock(&out->lock);
        broken = hfi_load_relaxed(&out->state) == HF_FUTURE_PENDING && out->link == NULL;
        hfi_spin_unlock(&out->lock);
    }
    if (broken)
        hfi_future_settle(out, HF_FUTURE_REJECTED, NULL, NULL, &hfi_err_broken, 0, NULL);
}

static void runner_next(hf_future_t *src);

static void cont_run(hfi_task_t *t, int run)
{
    cont_t *c = HFI_CONTAINER(t, cont_t, task);
    hf_future_t *src = c->src;

    hf_future_t *out = c->out;
    hf_executor_t *ex = c->ex;

    if (run && !c->call && (c->on & HF_ON_CANCEL) && hfi_future_mirror(out, src) < 0) {
        /* Its output was cancelled after dispatch() decided to pass the state on (this
         * task may have waited in the trampoline meanwhile): a continuation that handles
         * cancellation must still run, on its own executor. */
        c->call = 1;
        if (!hfi_executor_is_inline(ex)) {
            hfi_executor_submit(ex, &c->task);
            return;
        }
    }
    if (run) {
        run_body(src, out, c->on, 1, c->call, c->fn.then, c->fn.fin, c->arg);
    } else {
        /* discarded (its runtime freed): the output is cancelled; one that handles
         * cancellation still runs, here, so that it can release what its argument owns */
        hfi_future_cancel(out);
        if (c->on & HF_ON_CANCEL)
            run_body(src, out, c->on, 1, 1, c->fn.then, c->fn.fin, c->arg);
    }
    hfi_executor_release(ex);
    hf_future_release(out);     /* last: `c` lives in the output's allocation */
    runner_next(src);
}

/* Decide once whether the user function runs: it does if the input settled in a state it
 * handles, or if its own output was cancelled first and it handles cancellation. Only then
 * does it go to its executor; passing a state on runs through the trampoline. */
static void dispatch(cont_t *c)
{
    c->call = hfi_state(c->out) == HF_FUTURE_PENDING ? wants(c->on, hfi_state(c->src))
                                                      : (c->on & HF_ON_CANCEL) != 0;
    if (hfi_executor_is_inline(c->ex) || !c->call)
        hfi_tramp_run(&c->task, 1);
    else
        hfi_executor_submit(c->ex, &c->task);
}

static void runner_next(hf_future_t *src)
{
    hfi_task_t *t = hfi_future_next_cont(src);
    if (!t) {
        hf_future_release(src);     /* the runner's reference */
        return;
    }
    dispatch(HFI_CONTAINER(t, cont_t, task));
}

void hfi_conts_run(hf_future_t *f)
{
    runner_next(hf_future_retain(f));
}

void hfi_conts_run_owned(hf_future_t *f)
{
    runner_next(f);
}

/* HF_INLINE on a settled future with no runner active: run it here, allocating only the
 * output. Returns the output, or NULL when the fast path does not apply (or memory is
 * short: *oom is then set). */
static hf_future_t *then_now(hf_future_t *f, unsigned on, hf_then_fn then,
                             void (*fin)(hf_future_t *, void *), void *arg, int *oom)
{
    hf_future_t *out = NULL;
    hfi_task_t *t;
    int fast;

    if (!hfi_tramp_enter())
        return NULL;            /* inside an inline callback: queue it, do not recurse */
    hfi_spin_lock(&f->lock);
    fast = !(f->flags & HFI_FL_RUNNER);
    if (fast)
        f->flags |= HFI_FL_RUNNER;
    hfi_spin_unlock(&f->lock);
    if (fast) {
        if ((out = hfi_future_new()) != NULL) {
            out->flags = HFI_FL_RT_OWNED;   /* not yet shared: no lock needed */
            run_body(f, out, on, 0, wants(on, hfi_state(f)), then, fin, arg);
        } else {
            *oom = 1;
        }
        /* Continuations registered meanwhile wait for us: start the runner for them (it
         * takes its own reference), or end the run. */
        if ((t = hfi_future_next_cont(f)) != NULL) {
            hf_future_retain(f);
            dispatch(HFI_CONTAINER(t, cont_t, task));
        }
    }
    hfi_tramp_leave();
    return out;
}

static hf_future_t *then_common(hf_future_t *f, hf_executor_t *ex, unsigned on,
                                hf_then_fn then, void (*fin)(hf_future_t *, void *),
                                void *arg)
{
    then_obj_t *o;
    cont_t *c;

    if (!f || !ex || !(then || fin) || !(on & HF_ON_ANY))
        return NULL;
    if (hfi_executor_is_inline(ex) && hfi_state(f) != HF_FUTURE_PENDING) {
        int oom = 0;
        hf_future_t *out = then_now(f, on, then, fin, arg, &oom);
        if (out || oom)
            return out;
    }
    /* A link: the continuation and its output in one object. */
    if ((o = hfi_obj_alloc(sizeof *o)) == NULL)
        return NULL;
    hfi_future_init(&o->f, 2);          /* the caller's reference and the link's */
    o->f.flags = HFI_FL_RT_OWNED | HFI_FL_XLARGE | HFI_FL_QUEUED;
    c = &o->c;
    c->task.fn = cont_run;
    c->src = f;
    c->ex = ex;
    hfi_executor_retain(ex);
    if (then)
        c->fn.then = then;
    else
        c->fn.fin = fin;
    c->arg = arg;
    c->out = &o->f;
    c->on = on;
    hfi_future_set_input(&o->f, f);
    hfi_future_add_cont(f, &c->task);
    return &o->f;
}

hf_future_t *hf_future_then(hf_future_t *f, hf_executor_t *ex, hf_then_fn fn, void *arg)
{
    return fn ? then_common(f, ex, HF_ON_VALUE, fn, NULL, arg) : NULL;
}

hf_future_t *hf_future_catch(hf_future_t *f, hf_executor_t *ex, hf_then_fn fn, void *arg)
{
    return fn ? then_common(f, ex, HF_ON_ERROR, fn, NULL, arg) : NULL;
}

hf_future_t *hf_future_then_on(hf_future_t *f, hf_executor_t *ex, unsigned on,
                               hf_then_fn fn, void *arg)
{
    return fn ? then_common(f, ex, on & HF_ON_ANY, fn, NULL, arg) : NULL;
}

hf_future_t *hf_future_finally(hf_future_t *f, hf_executor_t *ex,
                               void (*fn)(hf_future_t *done, void *arg), void *arg)
{
    return fn ? then_common(f, ex, HF_ON_ANY | ON_FINALLY, NULL, fn, arg) : NULL;
}
