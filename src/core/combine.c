/*
 * combine.c - all, all_settled, any, race.
 *
 * Design notes
 *  - one shared state per combinator call: n watchers (one per input, each holding a
 *    reference to its input until the state is freed) and the output's producer hook;
 *    the state's reference count is n + 1 (the watchers and the hook);
 *  - the output is settled by whichever watcher decides it (settling is idempotent: the
 *    losers get HF_ESTATE and ignore it);
 *  - the hook runs once, when the output settles however (decided by a watcher, or
 *    cancelled by its consumer), and withdraws the combinator's interest from every input
 *    still pending: fail-fast `all`, the losers of `any` and `race`, everything on cancel;
 *  - counters are atomics; no lock of its own;
 *  - the hook can run while combine() is still registering watches (an early input may
 *    settle the output at once), so it reads the inputs from `in`, set before the hook is
 *    installed, never from w.src, which each registration writes.
 */
#include "config.h"

#include "core/alloc.h"
#include "core/future_impl.h"

enum { ALL, ALL_SETTLED, ANY, RACE };

typedef struct comb comb_t;

typedef struct comb_watch {
    hfi_watch_t w;              /* w.src is written by hfi_future_watch: only its own */
    hf_future_t *in;            /* the input, written before the hook can run, then read-only */
    comb_t *c;
} comb_watch_t;

struct comb {
    _Atomic size_t refs;        /* one per input watch and one for the output hook */
    _Atomic size_t count;       /* inputs still awaited (ALL, ALL_SETTLED) or failed (ANY) */
    int kind;
    size_t n;
    hf_future_t *out;           /* a reference */
    comb_watch_t ws[];
};

static void comb_unref(comb_t *c)
{
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < c->n; i++) {
        hf_future_release(c->ws[i].w.src);
        hf_future_release(c->ws[i].in);
    }
    hf_future_release(c->out);
    hfi_free(c);
}

/* ANY, all inputs failed: the lowest-index error, or cancelled if none was rejected. */
static void any_all_failed(comb_t *c)
{
    for (size_t i = 0; i < c->n; i++) {
        if (hfi_state(c->ws[i].in) == HF_FUTURE_REJECTED) {
            hfi_future_mirror(c->out, c->ws[i].in);
            return;
        }
    }
    hfi_future_cancel(c->out);
}

static void comb_input_settled(hfi_task_t *t, int run)
{
    comb_watch_t *cw = HFI_CONTAINER(t, comb_watch_t, w.task);
    comb_t *c = cw->c;
    hf_future_t *in = cw->w.src;
    int st = hfi_state(in);
    (void)run;

    switch (c->kind) {
    case ALL:
        if (st != HF_FUTURE_FULFILLED)
            hfi_future_mirror(c->out, in);
        else if (atomic_fetch_sub(&c->count, 1) == 1)
            hfi_future_settle(c->out, HF_FUTURE_FULFILLED, NULL, NULL, NULL, 0, NULL);
        break;
    case ALL_SETTLED:
        if (atomic_fetch_sub(&c->count, 1) == 1)
            hfi_future_settle(c->out, HF_FUTURE_FULFILLED, NULL, NULL, NULL, 0, NULL);
        break;
    case ANY:
        if (st == HF_FUTURE_FULFILLED)
            hfi_future_mirror(c->out, in);
        else if (atomic_fetch_add(&c->count, 1) + 1 == c->n)
            any_all_failed(c);
        break;
    default:
        hfi_future_mirror(c->out, in);
        break;
    }
    comb_unref(c);
}

static void comb_out_settled(hf_future_t *out, void *arg, int state)
{
    comb_t *c = arg;
    (void)out;
    (void)state;
    for (size_t i = 0; i < c->n; i++)
        if (hfi_state(c->ws[i].in) == HF_FUTURE_PENDING)
            hfi_future_withdraw(c->ws[i].in);
    comb_unref(c);
}

static hf_future_t *combine(hf_future_t *const *fs, size_t n, int kind)
{
    hf_future_t *out;
    comb_t *c;

    if (n > 0 && !fs)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!fs[i])
            return NULL;
    if ((out = hfi_future_new()) == NULL)
        return NULL;
    if (n == 0) {
        if (kind == ALL || kind == ALL_SETTLED) {
            hfi_future_settle(out, HF_FUTURE_FULFILLED, NULL, NULL, NULL, 0, NULL);
        } else {
            hf_error_t e = { HF_ENOENT, 0, "no input futures" };
            hfi_future_reject_copy(out, &e);
        }
        return out;
    }
    if (n > (SIZE_MAX - sizeof *c) / sizeof c->ws[0] ||
        (c = hfi_malloc(sizeof *c + n * sizeof c->ws[0])) == NULL) {
        hf_future_release(out);
        return NULL;
    }
    atomic_init(&c->refs, n + 1);
    atomic_init(&c->count, kind == ANY ? 0 : n);
    c->kind = kind;
    c->n = n;
    c->out = hf_future_retain(out);
    for (size_t i = 0; i < n; i++) {
        c->ws[i].c = c;
        c->ws[i].w.src = NULL;
        /* A reference until the watch holds its own, so the hook can read every input
         * (until comb_unref: all watches are registered by then). */
        c->ws[i].in = hf_future_retain(fs[i]);
        hfi_future_add_interest(fs[i]);
    }
    hfi_future_set_hook(out, comb_out_settled, c);
    for (size_t i = 0; i < n; i++)
        hfi_future_watch(c->ws[i].in, &c->ws[i].w, comb_input_settled);
    return out;
}

hf_future_t *hf_future_all(hf_future_t *const *fs, size_t n)
{
    return combine(fs, n, ALL);
}

hf_future_t *hf_future_all_settled(hf_future_t *const *fs, size_t n)
{
    return combine(fs, n, ALL_SETTLED);
}

hf_future_t *hf_future_any(hf_future_t *const *fs, size_t n)
{
    return combine(fs, n, ANY);
}

hf_future_t *hf_future_race(hf_future_t *const *fs, size_t n)
{
    return combine(fs, n, RACE);
}
