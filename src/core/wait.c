/*
 * wait.c - hf_future_wait: the blocking-safe wait.
 *
 * Design notes
 *  - first, inline work this thread's trampoline has queued runs (it may be what settles
 *    the future);
 *  - HF_EDEADLK at once when the future, or an input it waits on, can only be settled by
 *    this thread (a promise bound to it, the output of the continuation or task running
 *    on it, a continuation of the same input registered after the one running on it);
 *  - a compute worker runs the tasks its current task spawned (the awaited task's own
 *    subtree, most recent first), then other queued ones, while the future is pending and
 *    the deadline has not passed. A task it picked up runs to its end: the wait returns
 *    at the latest when the task running at the deadline returns (see compute.c);
 *  - a timeout too large for nanoseconds is clamped (hfi_ms_to_ns), as timers are;
 *  - a wait returns once the settlement is over: the state is published, and what the
 *    settling thread runs synchronously after that (the producer hook, watchers,
 *    withdrawing from inputs) has returned (`done`, future.c); not the continuations. A
 *    wait on the thread running that part (a hook waiting on its own future), or on the
 *    timer thread, returns once the state is published, as it cannot wait for itself;
 *  - then a short spin (a round trip between two running threads is faster than a sleep
 *    and wake-up), then sleep in the parking lot. A compute worker counts itself blocked
 *    for that time, which wakes or starts a spare so the pool keeps its parallelism; an
 *    I/O thread stops counting against its pool's cap;
 *  - a pool thread's wait is interrupted (HF_ECANCELED) when its runtime shuts down; a
 *    compute worker's wait that starts after that returns at once, without helping
 *    (queued tasks never run once shutdown has begun).
 */
#include "config.h"

#include "core/compute.h"
#include "core/future_impl.h"
#include "core/io.h"
#include "core/parklot.h"
#include "core/tls.h"

#define SPIN_NS_PLAIN 50000     /* a plain thread spins this long before sleeping */
#define SPIN_NS_WORKER 5000     /* a compute worker, whose place a spare could take, less */

static int spin_until(hf_future_t *f, uint64_t spin_ns, uint64_t deadline_ns)
{
    uint64_t until = hfi_now_ns() + spin_ns;
    if (deadline_ns && deadline_ns < until)
        until = deadline_ns;
    for (unsigned i = 0;; i++) {
        if (hfi_future_wait_over(f))
            return 1;
        hfi_cpu_relax();
        if ((i & 63) == 63 && hfi_now_ns() >= until)
            return 0;
    }
}

int hf_future_wait(hf_future_t *f, int64_t timeout_ms)
{
    hfi_tls_t *tl = &hfi_tls;
    uint64_t deadline = 0;
    int rc;

    if (!f)
        return HF_EINVAL;
    if (hfi_future_wait_over(f))
        return 0;
    hfi_tramp_drain();
    if (hfi_future_wait_over(f))
        return 0;
    /* The timer thread runs the inline continuations of the futures it settles; one that
     * waits there stops every timer in the process (the one it may wait for included).
     * Nor does it wait for another thread to end a settlement. */
    if (tl->timer_thread)
        return hfi_state(f) != HF_FUTURE_PENDING ? 0 : HF_EDEADLK;
    if (hfi_future_needs_me(f))
        return HF_EDEADLK;
    if (timeout_ms == 0)
        return HF_ETIMEDOUT;
    if (timeout_ms > 0)
        deadline = hfi_now_ns() + hfi_ms_to_ns((uint64_t)timeout_ms);

    if (tl->worker) {
        /* Helping would run queued tasks, which never run once hf_runtime_free() has
         * begun: a wait there ends at once. */
        if (hfi_compute_interrupted(tl->worker))
            return HF_ECANCELED;
        hfi_compute_help(tl->worker, f, deadline);
        if (hfi_future_wait_over(f))
            return 0;
        if (deadline && hfi_now_ns() >= deadline)
            return HF_ETIMEDOUT;    /* it ran out while helping */
        if (spin_until(f, SPIN_NS_WORKER, deadline))
            return 0;
        hfi_compute_block_begin(tl->worker);
        rc = hfi_parklot_wait(f, deadline, hfi_compute_interrupted, tl->worker);
        hfi_compute_block_end(tl->worker);
    } else if (tl->io) {
        if (spin_until(f, SPIN_NS_WORKER, deadline))
            return 0;
        hfi_io_block_begin(tl->io);
        rc = hfi_parklot_wait(f, deadline, hfi_io_interrupted, tl->io);
        hfi_io_block_end(tl->io);
    } else {
        if (spin_until(f, SPIN_NS_PLAIN, deadline))
            return 0;
        rc = hfi_parklot_wait(f, deadline, NULL, NULL);
    }
    return rc;
}
