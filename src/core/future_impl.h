/*
 * future_impl.h - the future object, shared by the files of src/core.
 */
#ifndef HFI_FUTURE_IMPL_H
#define HFI_FUTURE_IMPL_H

#include <stdint.h>

#include "core/atomics.h"
#include "core/task.h"
#include "hf/future.h"

enum {
    HFI_FL_WAITERS = 1,     /* a thread may sleep in the parking lot on this future */
    HFI_FL_RUNNER = 2,      /* a continuation runner is active (see then.c) */
    HFI_FL_ERR_OWNED = 4,   /* `error` was allocated for this future */
    HFI_FL_RT_OWNED = 8,    /* its promise belongs to the runtime (then output, async) */
    HFI_FL_BOUND = 16,      /* hf_promise_bind_thread(): `driver` counts in its hfi_tls.drives */
    HFI_FL_XLARGE = 32,     /* allocated as HFI_OBJ_XLARGE (with its continuation, then.c,
                               or an owned async's destructor, executor.c) */
    HFI_FL_QUEUED = 64      /* a then/catch/then_on/finally output whose continuation has
                               not started: `link` is its input, whose runner starts it */
};

/* How far a settlement has got, beyond `state`: a wait returns once `done` is set, that is
 * once the settling thread has run what settlement runs synchronously (future.c). */
enum {
    HFI_DONE_NOT = 0,       /* pending, or settled with the synchronous part still running */
    HFI_DONE_PLAIN = 1,     /* settled with nothing run after it: the settler is gone */
    HFI_DONE_LOCKED = 2     /* published by the settler's last critical section: a last
                               release takes the lock once, so it frees after that unlock */
};

/* Producer hook: called once, when `f` settles, with the state it settled in. */
typedef void (*hfi_hook_fn)(hf_future_t *f, void *arg, int state);

struct hf_future {
    _Atomic uint32_t refs;
    _Atomic uint8_t state;          /* hf_future_state_t; written under `lock` */
    hfi_spin_t lock;
    uint8_t flags;                  /* HFI_FL_*, under lock */
    _Atomic uint8_t done;           /* HFI_DONE_*: written under `lock` (see future.c) */
    _Atomic uint32_t interest;      /* dependents that still want the result */
    uint32_t unused1;
    hfi_task_t *watchers;           /* under lock: internal callbacks, run at settlement */
    hfi_task_t *conts_head;         /* under lock: continuations, FIFO */
    hfi_task_t *conts_tail;
    void *value;
    void (*destroy)(void *);
    const hf_error_t *error;
    hf_future_t *link;              /* under lock. pending: the one input (then, adopt) that
                                       this future waits on; settled: the future owning a
                                       borrowed value or error. A reference either way. */
    hfi_hook_fn hook;               /* under lock */
    void *hook_arg;
    _Atomic(const void *) driver;   /* thread token of the only thread that can settle it */
};

/* An internal callback on a future's settlement. Holds a reference to `src`. */
typedef struct hfi_watch {
    hfi_task_t task;
    hf_future_t *src;
} hfi_watch_t;

extern const hf_error_t hfi_err_cancelled;
extern const hf_error_t hfi_err_broken;
extern const hf_error_t hfi_err_timedout;
extern const hf_error_t hfi_err_nomem;

static inline int hfi_state(const hf_future_t *f)
{
    return atomic_load_explicit(&((hf_future_t *)f)->state, memory_order_acquire);
}

/* A new pending future with one reference, in a HFI_OBJ_LARGE object (NULL: no memory). */
hf_future_t *hfi_future_new(void);
/* A new reference unless the count already reached zero (then NULL): for weak pointers
 * that are dropped, under their owner's lock, before the future's memory is freed. */
hf_future_t *hfi_future_try_retain(hf_future_t *f);
/* The reference count as it is now: 0 means on its way out, for good (for the same weak
 * pointers, read under the same lock). */
static inline uint32_t hfi_future_refs(const hf_future_t *f)
{
    return atomic_load_explicit(&((hf_future_t *)f)->refs, memory_order_relaxed);
}
/* Initialise the future part of an object the caller allocated (refs = `refs`). */
void hfi_future_init(hf_future_t *f, uint32_t refs);

/*
 * Settle `f`. `err` is borrowed unless err_owned (then freed with the future); `owner`, if
 * not NULL, is retained for as long as `f` lives (it owns the borrowed value or error).
 * Returns 0 or HF_ESTATE. The caller must hold a reference to `f`.
 */
int hfi_future_settle(hf_future_t *f, int state, void *value, void (*destroy)(void *),
                      const hf_error_t *err, int err_owned, hf_future_t *owner);
/* hf_promise_resolve, then hf_promise_free, with the promise's reference dropped as part
 * of the settlement: by the time a wait on the future returns, the producer holds none.
 * The reference is dropped whatever the result. */
int hfi_promise_resolve_last(hf_promise_t *p, void *value, void (*destroy)(void *));
/* Fulfil `f`, taking over the caller's reference as above (dropped on HF_ESTATE too). */
int hfi_future_settle_consume(hf_future_t *f, void *value, void (*destroy)(void *));
/* 1 once `f` has settled and what its settlement runs synchronously is over (a wait may
 * return); also 1 on the thread that is running that part (a hook or an inline
 * continuation waiting on it must not wait for itself). */
int hfi_future_wait_over(const hf_future_t *f);
/* Settle `out` exactly as the settled `src`, borrowing its value or error. */
int hfi_future_mirror(hf_future_t *out, hf_future_t *src);
/* Reject with a private copy of `err` (static HF_ENOMEM error if memory is short). */
int hfi_future_reject_copy(hf_future_t *f, const hf_error_t *err);
/* Cancel; iterative up the chain of inputs that lose their last interested dependent. */
int hfi_future_cancel(hf_future_t *f);

/* Settle `out` as `g` settles (hf_promise_adopt). HF_EDEADLK on a cycle. */
int hfi_future_adopt(hf_future_t *out, hf_future_t *g);

/* Make `src` the input of `out` (for cancellation and the deadlock walk), registering
 * `out`'s interest in it if it is pending. `out` must be new and pending. */
void hfi_future_set_input(hf_future_t *out, hf_future_t *src);
/* Register interest in `f` without linking (combinators, timeouts). */
void hfi_future_add_interest(hf_future_t *f);
/* Withdraw one dependent's interest; cancels `f` if it was the last and `f` is pending. */
void hfi_future_withdraw(hf_future_t *f);

/* Set the producer hook; HF_ESTATE if `f` has settled or already has one. */
int hfi_future_set_hook(hf_future_t *f, hfi_hook_fn fn, void *arg);

/* Call `fn(&w->task, 1)` once `f` settles (through the trampoline; at once if it has).
 * Retains `f` into w->src; the callback releases it. */
void hfi_future_watch(hf_future_t *f, hfi_watch_t *w, hfi_task_fn fn);

/* Continuations (then.c): append one; the runner pops them in order. */
void hfi_future_add_cont(hf_future_t *f, hfi_task_t *cont);
/* Pop the next continuation of a settled `f` whose runner is active; NULL ends the run. */
hfi_task_t *hfi_future_next_cont(hf_future_t *f);
/* Start the runner of `f` (then.c); the caller has set HFI_FL_RUNNER. The _owned form
 * takes over a reference the caller already holds for the runner. */
void hfi_conts_run(hf_future_t *f);
void hfi_conts_run_owned(hf_future_t *f);

/* 1 if a continuation of `src` is running on the calling thread (then.c): the runner of
 * `src` starts no other continuation of it before that one returns. */
int hfi_then_running_here(const hf_future_t *src);

/* The deadlock walk (wait.c): 1 if `f` or an input it waits on can only be settled by
 * the calling thread. */
int hfi_future_needs_me(hf_future_t *f);

/* fork support */
void hfi_future_atfork_prepare(void);
void hfi_future_atfork_parent(void);
void hfi_future_atfork_child(void);

#endif /* HFI_FUTURE_IMPL_H */
