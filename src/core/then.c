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
 *  - the runner holds one reference to the input while it runs; each continuation holds
 *    one to its output and one to its executor (a freed runtime's executor stays allocated
 *    until the last continuation naming it is gone, and discards them);
 *  - a continuation never runs inside the call that registers it unless its executor is
 *    HF_INLINE. A settled input with no runner active and HF_INLINE takes a fast path that
 *    allocates only the output future;
 *  - while user code runs, the output's `driver` is the running thread, so a wait on the
 *    output (or on what depends on it) from inside gets HF_EDEADLK;
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
} cont_t;

_Static_assert(sizeof(cont_t) <= HFI_OBJ_SMALL, "a continuation fits the small class");

static int wants(unsigned on, int state)
{
    return state != HF_FUTURE_PENDING && (on & (1u << (state - 1)));
}

/* Run the user function of a continuation whose input `src` settled in a state it
 * handles, or pass the state on to `out`. */
static void run_body(hf_future_t *src, hf_future_t *out, unsigned on, int linked,
                     hf_then_fn then, void (*fin)(hf_future_t *, void *), void *arg)
{
    hfi_tls_t *tl = &hfi_tls;
    hf_future_t *saved;
    int broken;

    if (hfi_state(out) != HF_FUTURE_PENDING)
        return;                 /* cancelled by its consumer meanwhile */
    if (!wants(on, hfi_state(src))) {
        hfi_future_mirror(out, src);
        return;
    }
    if (linked) {
        /* The input has served: detach it so that `fn` may adopt another future. */
        hf_future_t *in;
        hfi_spin_lock(&out->lock);
        in = out->link;
        out->link = NULL;
        hfi_spin_unlock(&out->lock);
        hf_future_release(in);
    }

    saved = tl->producing;
    tl->producing = out;
    atomic_store_explicit(&out->driver, hfi_thread_token(), memory_order_relaxed);
    if (on & ON_FINALLY) {
        fin(src, arg);
        hfi_future_mirror(out, src);
    } else {
        then(src, (hf_promise_t *)(void *)out, arg);
    }
    atomic_store_explicit(&out->driver, NULL, memory_order_relaxed);
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

    if (run)
        run_body(src, c->out, c->on, 1, c->fn.then, c->fn.fin, c->arg);
    else
        hfi_future_cancel(c->out);
    hf_future_release(c->out);
    hfi_executor_release(c->ex);
    hfi_obj_free(c, HFI_OBJ_SMALL);
    runner_next(src);
}

static void dispatch(cont_t *c)
{
    if (hfi_executor_is_inline(c->ex) || hfi_state(c->out) != HF_FUTURE_PENDING ||
        !wants(c->on, hfi_state(c->src)))
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

static hf_future_t *then_common(hf_future_t *f, hf_executor_t *ex, unsigned on,
                                hf_then_fn then, void (*fin)(hf_future_t *, void *),
                                void *arg)
{
    hf_future_t *out;
    cont_t *c;

    if (!f || !ex || !(then || fin) || !(on & HF_ON_ANY))
        return NULL;
    if ((out = hfi_future_new()) == NULL)
        return NULL;
    out->flags = HFI_FL_RT_OWNED;   /* not yet shared: no lock needed */

    if (hfi_executor_is_inline(ex) && hfi_state(f) != HF_FUTURE_PENDING && hfi_tramp_enter()) {
        int fast;
        hfi_spin_lock(&f->lock);
        fast = !(f->flags & HFI_FL_RUNNER);
        if (fast)
            f->flags |= HFI_FL_RUNNER;
        hfi_spin_unlock(&f->lock);
        if (fast) {
            hfi_task_t *t;
            run_body(f, out, on, 0, then, fin, arg);
            /* Continuations registered meanwhile wait for us: start the runner for them
             * (it takes its own reference), or end the run. */
            if ((t = hfi_future_next_cont(f)) != NULL) {
                hf_future_retain(f);
                dispatch(HFI_CONTAINER(t, cont_t, task));
            }
        }
        hfi_tramp_leave();
        if (fast)
            return out;
    }

    if ((c = hfi_obj_alloc(sizeof *c)) == NULL) {
        hf_future_release(out);
        return NULL;
    }
    c->task.fn = cont_run;
    c->src = f;
    c->ex = ex;
    hfi_executor_retain(ex);
    if (then)
        c->fn.then = then;
    else
        c->fn.fin = fin;
    c->arg = arg;
    c->out = hf_future_retain(out);
    c->on = on;
    hfi_future_set_input(out, f);
    hfi_future_add_cont(f, &c->task);
    return out;
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
