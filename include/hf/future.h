/*
 * hf/future.h - single-assignment futures, their promises, continuations and combinators.
 *
 * A future is PENDING, then exactly one of FULFILLED (a value and its destructor),
 * REJECTED (an hf_error_t) or CANCELLED, and never changes again. It is reference counted:
 * every function returning hf_future_t * returns a new reference that the caller releases
 * with hf_future_release(); no function consumes the references it is given.
 *
 * A promise is the write end of one future. hf_promise_new() returns a promise that the
 * caller owns and frees with hf_promise_free() after (or instead of) settling it; freeing
 * an unsettled promise rejects its future with HF_EBROKEN ("broken promise"), unless it
 * adopts another future (hf_promise_adopt): it then still settles as that future does.
 *
 * Continuations run on the executor they name (see hf/runtime.h), never inside the call
 * that registers them, unless that executor is HF_INLINE. The continuations of one future
 * run one after another in registration order, each on its own executor. Continuations
 * that do not handle the state a future settled in are skipped and pass the state on, so
 * an error travels down a chain of `then`s to the first `catch`.
 *
 * Cancellation flows both ways. Downstream: a cancelled future cancels the futures derived
 * from it. Upstream: each derived future (then, catch, finally, combinators, timeout, adopt)
 * registers its interest in its inputs; when a derived future is cancelled it withdraws that
 * interest, and an input that is still pending and that no other dependent is interested in
 * is cancelled in turn, up to the producer, which learns of it through
 * hf_promise_on_cancel() (the Hub client aborts the transfer). Holding a plain reference is
 * not interest: a future that nobody chained on is only cancelled by hf_future_cancel().
 */
#ifndef HF_FUTURE_H
#define HF_FUTURE_H

#include <stddef.h>
#include <stdint.h>

#include "hf/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hf_future hf_future_t;
typedef struct hf_promise hf_promise_t;
typedef struct hf_executor hf_executor_t;

typedef enum {
    HF_FUTURE_PENDING,
    HF_FUTURE_FULFILLED,
    HF_FUTURE_REJECTED,
    HF_FUTURE_CANCELLED
} hf_future_state_t;

/*
 * hf_executor_inline - the pseudo-executor that runs a continuation on whichever thread
 * settles the future, or inside the registering call when the future is already settled
 * and none of its earlier continuations is still running (registration order comes first:
 * otherwise it runs right after them, on the thread running them).
 * Deep inline chains are run iteratively (a per-thread trampoline), never recursively: so
 * inline work started from inside an inline continuation (a then on a settled future, an
 * hf_executor_post or hf_async on HF_INLINE) runs right after that continuation returns,
 * on the same thread, not inside the call that registered it.
 */
HF_API hf_executor_t *hf_executor_inline(void);
#define HF_INLINE (hf_executor_inline())

/* ---- promises --------------------------------------------------------------------- */

/*
 * hf_promise_new - a new pending promise, owned by the caller.
 *
 * Returns NULL if memory is short.
 */
HF_API hf_promise_t *hf_promise_new(void);

/*
 * hf_promise_future - the future of `p` (a new reference). May be called any number of
 * times, before or after settling. Returns NULL if `p` is NULL.
 */
HF_API hf_future_t *hf_promise_future(hf_promise_t *p);

/*
 * hf_promise_resolve - fulfil with `value`; `destroy` (may be NULL) frees it when the last
 * reference to the future goes, on whichever thread that is.
 *
 * Returns 0, HF_EINVAL if `p` is NULL, or HF_ESTATE if the future is already settled or
 * adopts another future (the value then still belongs to the caller and `destroy` is not
 * called).
 */
HF_API int hf_promise_resolve(hf_promise_t *p, void *value, void (*destroy)(void *));

/*
 * hf_promise_reject - reject with a copy of `err` (its code must be negative).
 *
 * Returns 0, HF_EINVAL (NULL argument or a code >= 0), HF_ESTATE (already settled, or
 * adopting another future) or HF_ENOMEM (the future is then rejected with a static HF_ENOMEM error instead).
 */
HF_API int hf_promise_reject(hf_promise_t *p, const hf_error_t *err);

/*
 * hf_promise_rejectf - reject with `code`, `http_status` and a formatted message.
 * Same returns as hf_promise_reject().
 */
HF_API int hf_promise_rejectf(hf_promise_t *p, int code, int http_status, const char *fmt, ...)
    HF_PRINTF(4, 5);

/*
 * hf_promise_adopt - settle `p` as `f` settles (flattening): same state, the same value
 * (still owned by `f`, kept alive as long as `p`'s future) or the same error. If `f` has
 * already settled, `p` settles inside this call (so a continuation that adopts a settled
 * future into `next` has settled it, on any executor, HF_INLINE included). Once it adopts a
 * pending future, `p` is settled by that future alone: hf_promise_resolve() and
 * hf_promise_reject() on it return HF_ESTATE, and hf_promise_free() does not break it;
 * cancelling `p`'s future still cancels it (and withdraws its interest in `f`).
 *
 * Returns 0; HF_EINVAL for NULL arguments; HF_EDEADLK if `f` is `p`'s own future
 * (whatever its state: this is checked first); HF_ESTATE if `p` is already settled (if it
 * was cancelled, `f` is then cancelled too unless another consumer holds interest in it,
 * exactly as if `p`'s future had depended on it and been cancelled) or already adopts
 * another future; HF_EDEADLK if `f` depends on `p`'s future (a cycle), in which case `p`
 * stays pending; HF_ENOMEM.
 *
 * The cycle check follows each pending future's single input: that of a hf_future_then(),
 * catch, then_on or finally output until its continuation starts, and the future it
 * adopts. It does not see through hf_future_all/all_settled/any/race or
 * hf_future_timeout outputs (they have several inputs, or a timer): adopting, say,
 * hf_future_all() of `p`'s own future is accepted, and nothing in that cycle settles
 * unless one of its futures is cancelled or a timeout in it fires.
 */
HF_API int hf_promise_adopt(hf_promise_t *p, hf_future_t *f);

/*
 * hf_promise_on_cancel - have `fn(arg)` called once if `p`'s future is cancelled
 * (directly, or because no dependent is interested any more). This is how a producer
 * learns to stop work. The hook is dropped without a call when the future settles
 * otherwise. If the future is already cancelled, `fn` runs inside this call (even if an
 * earlier hook ran already: each call that returns 0 has its `fn` called once).
 *
 * Returns 0, HF_EINVAL (NULL `p` or `fn`), HF_ESTATE (already fulfilled or rejected,
 * or still pending with a hook already set; `fn` is then never called).
 */
HF_API int hf_promise_on_cancel(hf_promise_t *p, void (*fn)(void *arg), void *arg);

/*
 * hf_promise_is_cancelled - 1 if `p`'s future was cancelled, else 0 (also for a NULL `p`).
 * For producers that poll.
 */
HF_API int hf_promise_is_cancelled(const hf_promise_t *p);

/*
 * hf_promise_bind_thread - declare that only the calling thread will ever settle `p`
 * (an event loop's own operations, a transfer engine's requests). A wait on `p`'s future,
 * or on a future that depends on it through single-input links (then, catch, then_on,
 * finally, adopt: see hf_promise_adopt), from that same thread then returns HF_EDEADLK at
 * once instead of hanging. A wait on a combinator (hf_future_all, ...) over it is not
 * detected and blocks until its own timeout; a wait on a hf_future_timeout() of it ends
 * when the timer fires. The binding ends when the promise settles.
 * Returns 0, HF_EINVAL (NULL `p`) or HF_ESTATE (already settled).
 */
HF_API int hf_promise_bind_thread(hf_promise_t *p);

/*
 * hf_promise_free - drop the caller's ownership of `p`. An unsettled promise first rejects
 * its future with HF_EBROKEN, except one that adopts a pending future: that one settles
 * later as the adopted future does (adopt, then free, is the way to hand a promise's
 * outcome over to another future). NULL is ignored.
 */
HF_API void hf_promise_free(hf_promise_t *p);

/* ---- ready-made futures ------------------------------------------------------------ */

/* A future already fulfilled with `value` (freed by `destroy`), or NULL if memory is short
 * (`value` then still belongs to the caller and `destroy` is not called). */
HF_API hf_future_t *hf_future_resolved(void *value, void (*destroy)(void *));

/*
 * hf_future_rejected - a future already rejected with `code`, `http_status` and a formatted
 * message. If memory for the error is short, the future is rejected with a static HF_ENOMEM
 * error instead (as hf_promise_reject() does). Returns NULL if `code` >= 0 or the future
 * itself cannot be allocated.
 */
HF_API hf_future_t *hf_future_rejected(int code, int http_status, const char *fmt, ...)
    HF_PRINTF(3, 4);

/* ---- continuations ------------------------------------------------------------------ */

/*
 * hf_then_fn - a continuation. `done` is the settled input (borrowed for the call);
 * `next` is the promise of the future that hf_future_then() returned. It belongs to the
 * runtime: settle it (resolve, reject or adopt), never free it. Returning without settling
 * it rejects it with HF_EBROKEN; a successful hf_promise_adopt() counts as settling it.
 */
typedef void (*hf_then_fn)(hf_future_t *done, hf_promise_t *next, void *arg);

/* Which settled states call the continuation; the others pass through unchanged. */
enum {
    HF_ON_VALUE = 1,    /* FULFILLED */
    HF_ON_ERROR = 2,    /* REJECTED */
    HF_ON_CANCEL = 4,   /* CANCELLED */
    HF_ON_ANY = 7
};

/*
 * hf_future_then - run `fn` on `ex` once `f` is fulfilled.
 *
 * If `f` is rejected or cancelled, `fn` does not run and the returned future settles the
 * same way. Never runs `fn` inside this call unless `ex` is HF_INLINE. Thread-safe; does
 * not consume `f`.
 *
 * Returns a new reference, or NULL if `f`, `ex` or `fn` is NULL or memory is short.
 * `ex` must be HF_INLINE or an executor of a runtime not yet freed: executors are valid
 * only until hf_runtime_free() (see hf/runtime.h), and passing a freed runtime's executor
 * is a use after free. A continuation registered before the runtime was freed is
 * discarded instead of run, and its result is cancelled (one that handles HF_ON_CANCEL
 * still runs once, to clean up: see hf_future_then_on()).
 */
HF_API hf_future_t *hf_future_then(hf_future_t *f, hf_executor_t *ex, hf_then_fn fn, void *arg);

/*
 * hf_future_catch - run `fn` on `ex` only if `f` is rejected (an error); a value or a
 * cancellation passes through. `fn` may resolve `next` to recover. Otherwise as
 * hf_future_then(), NULL returns included.
 */
HF_API hf_future_t *hf_future_catch(hf_future_t *f, hf_executor_t *ex, hf_then_fn fn, void *arg);

/*
 * hf_future_then_on - run `fn` on `ex` when `f` settles in one of the states in `on`
 * (HF_ON_* bits); other states pass through. then = HF_ON_VALUE, catch = HF_ON_ERROR.
 * Returns NULL if `on` has no valid bit, and as hf_future_then() does.
 *
 * If the returned future is cancelled before `fn` starts, a continuation that handles
 * HF_ON_CANCEL still runs once `f` settles (inside it hf_cancel_requested() returns 1 and
 * settling `next` returns HF_ESTATE); any other continuation is then skipped. So one
 * registered with HF_ON_ANY (or hf_future_finally) runs exactly once, and can always
 * release what `arg` owns: even when its executor's runtime is freed first, it then runs,
 * with its returned future already cancelled, on the thread that discards it (the one
 * calling hf_runtime_free(), or the one that settles `f` later), and should do no more
 * than clean up there.
 */
HF_API hf_future_t *hf_future_then_on(hf_future_t *f, hf_executor_t *ex, unsigned on,
                                      hf_then_fn fn, void *arg);

/*
 * hf_future_finally - run `fn(done, arg)` on `ex` whatever `f` settles as; the returned
 * future then settles exactly as `f` did (same value, error or cancellation). Returns NULL
 * as hf_future_then() does.
 */
HF_API hf_future_t *hf_future_finally(hf_future_t *f, hf_executor_t *ex,
                                      void (*fn)(hf_future_t *done, void *arg), void *arg);

/* ---- combinators -------------------------------------------------------------------- */

/*
 * hf_future_all - fulfils (value NULL) once every input is fulfilled; fails fast: as soon
 * as one input is rejected (or cancelled) the result is rejected with that input's error
 * (or cancelled), and it withdraws its interest from the others, which cancels those that
 * no one else depends on. The inputs keep their own values. n == 0: fulfilled at once.
 * Returns NULL if `fs` is NULL with n > 0, an element is NULL, or memory is short.
 */
HF_API hf_future_t *hf_future_all(hf_future_t *const *fs, size_t n);

/* hf_future_all_settled - fulfils (value NULL) once every input has settled, however.
 * n == 0: fulfilled at once. Returns NULL as hf_future_all() does. */
HF_API hf_future_t *hf_future_all_settled(hf_future_t *const *fs, size_t n);

/*
 * hf_future_any - fulfils with the value of the first input to fulfil (the value stays
 * owned by that input, which the result keeps alive) and withdraws from the others.
 * Rejects once all inputs have failed, with the error of the lowest-index rejected input;
 * cancelled if all were cancelled. n == 0: rejected with HF_ENOENT. Returns NULL as
 * hf_future_all() does.
 */
HF_API hf_future_t *hf_future_any(hf_future_t *const *fs, size_t n);

/*
 * hf_future_race - settles as the first input to settle (value, error or cancellation)
 * and withdraws from the others. n == 0: rejected with HF_ENOENT. Returns NULL as
 * hf_future_all() does.
 */
HF_API hf_future_t *hf_future_race(hf_future_t *const *fs, size_t n);

/* ---- time ---------------------------------------------------------------------------- */

/*
 * hf_future_timeout - a future that settles as `f` if `f` settles within `ms`
 * milliseconds, else is rejected with HF_ETIMEDOUT (and withdraws its interest in `f`).
 * All timers of the process share one timer thread (a binary heap), started on first use
 * and stopped when no timer is left. Returns NULL if `f` is NULL or memory is short (or
 * the timer thread cannot start); `f` is then left as it was, its interests unchanged.
 */
HF_API hf_future_t *hf_future_timeout(hf_future_t *f, uint64_t ms);

/* hf_future_delay - a future fulfilled (value NULL) after `ms` milliseconds; cancelling it
 * removes its timer. Returns NULL if memory is short (or the timer thread cannot start). */
HF_API hf_future_t *hf_future_delay(uint64_t ms);

/* ---- cancellation, waiting, inspection ---------------------------------------------- */

/*
 * hf_future_cancel - cancel `f` if it is still pending: it settles as CANCELLED, its
 * dependents are cancelled, its producer is told (hf_promise_on_cancel) and its interest
 * in its own inputs is withdrawn.
 *
 * Returns 0 if this call cancelled it, HF_ESTATE if it had already settled, HF_EINVAL
 * if `f` is NULL.
 */
HF_API int hf_future_cancel(hf_future_t *f);

/*
 * hf_future_wait - wait until `f` settles, for at most `timeout_ms` milliseconds
 * (< 0: forever; 0: just poll; a timeout too large to count in nanoseconds, such as
 * INT64_MAX, is clamped to some 292 years). Safe from any thread:
 *  - a plain thread spins briefly, then sleeps;
 *  - a compute worker first runs queued tasks (those the waiting task itself spawned
 *    first), then lends its place to a spare worker while it sleeps, so the pool keeps
 *    its parallelism. It stops taking tasks once the timeout has passed, but a task it
 *    has started runs to its end first, so the wait may last longer than `timeout_ms`
 *    by the length of one such task;
 *  - a thread whose own work is needed to settle `f` (see hf_promise_bind_thread(), or a
 *    continuation waiting on its own output, or on that of a continuation registered
 *    after it on the same future, which starts only once it returns) gets HF_EDEADLK at
 *    once. The check follows single-input links only (then, catch, then_on, finally,
 *    adopt; see hf_promise_adopt): through a combinator it is not detected, and the wait
 *    blocks until its own timeout (through a hf_future_timeout(), until that timer fires);
 *  - the timer thread, which runs the HF_INLINE continuations of the futures timers
 *    settle (hf_future_delay, hf_future_timeout), gets HF_EDEADLK for any wait on a
 *    pending future: waiting there would stop every timer of the process.
 * The wait ends once the settlement is over, not merely published: what the settling
 * thread runs in that call (a cancel hook set with hf_promise_on_cancel, the cancelling
 * of inputs nobody else wants) has returned, and the settling call holds no reference to
 * `f` any more. So hf_future_state() may already say settled while a poll (timeout 0)
 * still gives HF_ETIMEDOUT, for that short time. `f`'s continuations, HF_INLINE ones
 * included, are not part of it: they may still be running when the wait returns. A hook
 * that waits on `f` itself (on the settling thread), and the timer thread, return as
 * soon as the state is published.
 *
 * Returns 0 once `f` has settled (in any state), HF_ETIMEDOUT, HF_EDEADLK, HF_EINVAL
 * (NULL `f`), or HF_ECANCELED when the waiting thread belongs to a runtime being freed.
 */
HF_API int hf_future_wait(hf_future_t *f, int64_t timeout_ms);

/* The state of `f` (HF_FUTURE_PENDING for NULL). Lock-free. */
HF_API hf_future_state_t hf_future_state(const hf_future_t *f);

/* The value of a fulfilled future (NULL otherwise). Valid while a reference is held. */
HF_API void *hf_future_value(const hf_future_t *f);

/*
 * hf_future_error - the error of a rejected future, a static HF_ECANCELED error for a
 * cancelled one, NULL for pending or fulfilled ones. Valid while a reference is held.
 */
HF_API const hf_error_t *hf_future_error(const hf_future_t *f);

/* hf_future_retain - a new reference to `f` (which is returned; NULL stays NULL). */
HF_API hf_future_t *hf_future_retain(hf_future_t *f);

/* hf_future_release - drop a reference; the last one frees the future and its value
 * (through its destructor). NULL is ignored. Never recursive, whatever the chain length. */
HF_API void hf_future_release(hf_future_t *f);

/*
 * hf_cancel_requested - 1 if the future that the calling task (an hf_async() function or
 * a continuation) is producing has been cancelled, so long-running work can stop early;
 * 0 otherwise, and outside such a task.
 */
HF_API int hf_cancel_requested(void);

/* The size in bytes of one future object (for benchmarks and the curious). */
HF_API size_t hf_future_sizeof(void);

#ifdef __cplusplus
}
#endif

#endif /* HF_FUTURE_H */
