/*
 * hf/runtime.h - the runtime: a compute pool, an I/O pool, and the tasks that run on them.
 *
 * The compute pool runs inference: one worker per online CPU by default, each with a
 * work-stealing deque, plus an injection queue for submissions from other threads.
 * Workers spin briefly before they park; at most one sleeper is woken per submission.
 * The I/O pool runs everything that blocks (network, disk, hashing of finished files):
 * its threads come and go (0 up to a cap, idle ones exit) and take tasks in FIFO order.
 * The two pools never run each other's tasks.
 *
 * Threads are named "hfasync-cpu/N" and "hfasync-io/N" where the platform allows.
 *
 * Fork: the library installs pthread_atfork handlers. In the child, every runtime created
 * before the fork is orphaned: its threads do not exist there, hf_runtime_free() on it
 * releases its memory and settles its queued work as cancelled without joining anything,
 * and submissions to it are cancelled. Everything else (new runtimes, timers, futures)
 * works normally in the child.
 */
#ifndef HF_RUNTIME_H
#define HF_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "hf/error.h"
#include "hf/future.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hf_runtime hf_runtime_t;

typedef struct hf_runtime_config {
    unsigned compute_threads;   /* 0: one per online CPU (at most 4096) */
    unsigned io_threads_max;    /* 0: default cap (64): the most I/O threads running
                                   tasks; threads asleep in hf_future_wait(), and those
                                   that drive a hub's transfers (engine_threads per
                                   hf_hub_t), do not count: others start in their place */
    unsigned compute_spares_max;/* 0: default (4 per compute thread, at least 16): extra
                                   workers lent to compute threads blocked in a wait. With
                                   all of them in use, a worker that blocks lends its place
                                   to nobody: queued compute tasks wait for a worker to
                                   come back, and a wait that needs them ends only at its
                                   timeout or at hf_runtime_free */
    unsigned io_idle_ms;        /* 0: default (10,000): an idle I/O thread exits after this */
} hf_runtime_config_t;          /* zero-initialised = defaults */

/*
 * hf_runtime_new - start a runtime. `cfg` may be NULL (defaults).
 *
 * Compute workers start at once; I/O threads start on demand. Returns NULL if memory is
 * short, a thread cannot be created, or a count is out of range (compute_threads above
 * 4096, io_threads_max or compute_spares_max above 65536).
 */
HF_API hf_runtime_t *hf_runtime_new(const hf_runtime_config_t *cfg);

/*
 * hf_runtime_free - stop and free `rt`. Tasks already running finish, and this waits for
 * them: waits inside them return HF_ECANCELED, and so do their hf_executor_post()
 * calls, but a task blocked elsewhere (a read that never returns) keeps this from
 * returning. Queued tasks never run: the futures they would have settled, and
 * continuations registered on this runtime's executors, settle as CANCELLED, including
 * continuations whose input settles only later (the executors stay allocated for those);
 * a continuation that handles HF_ON_CANCEL (HF_ON_ANY, hf_future_finally) still runs its
 * function once, on the discarding thread, with its output cancelled, to clean up.
 * Its executor handles are invalid once this returns: naming one in a new call
 * (hf_future_then, hf_async, hf_executor_post, ...) is undefined (a use after free once
 * no continuation holds the executor any more). Must not be called from one of `rt`'s
 * own threads (it then returns without freeing anything). NULL is ignored; freeing `rt`
 * twice, or from two threads at once, is undefined.
 */
HF_API void hf_runtime_free(hf_runtime_t *rt);

/* The executors of `rt` (valid until hf_runtime_free()). NULL if `rt` is NULL. */
HF_API hf_executor_t *hf_runtime_compute(hf_runtime_t *rt);
HF_API hf_executor_t *hf_runtime_io(hf_runtime_t *rt);

/* hf_current_executor - the pool the calling thread belongs to (compute or I/O of some
 * runtime), or NULL for any other thread. */
HF_API hf_executor_t *hf_current_executor(void);

/* hf_executor_runtime - the runtime an executor belongs to (NULL for HF_INLINE). */
HF_API hf_runtime_t *hf_executor_runtime(hf_executor_t *ex);

/*
 * hf_executor_post - run `fn(arg)` on `ex`, fire and forget. From a compute worker onto its
 * own pool, the task runs on that worker as soon as its current task returns (a chain of
 * posts stays on one core) and wakes no idle worker; from other threads it goes to the
 * pool's queue and wakes one. For work that should run beside the posting task, use
 * hf_async(). On
 * HF_INLINE, `fn` runs on the calling thread before this returns (from inside an inline
 * continuation, right after it). No allocation on the hot path (per-thread free lists).
 *
 * Returns 0, HF_EINVAL (NULL `ex` or `fn`), HF_ENOMEM, or HF_ECANCELED if the runtime
 * can run no more tasks (called from a task that still runs while hf_runtime_free() stops
 * the runtime, or on an orphaned runtime in a fork child; once hf_runtime_free() has
 * returned, `ex` is invalid). `fn` is then never called; the same holds for a task still
 * queued when the runtime is freed.
 */
HF_API int hf_executor_post(hf_executor_t *ex, void (*fn)(void *arg), void *arg);

/*
 * hf_async - run `fn(arg, err)` on `ex` and return a future of its result. `fn` rejects
 * by setting `err->code` to a negative HF_E* (and optionally a message); otherwise its
 * return value becomes the future's value, which the future does not free. Cancelling
 * the future before `fn` starts means `fn` never runs; while it runs, `fn` can poll
 * hf_cancel_requested(). A value `fn` returns after its future was cancelled (or while
 * rejecting) reaches nobody: a value that must be freed wants hf_async_owned(). On
 * HF_INLINE, `fn` runs as hf_executor_post() runs it there.
 * From a compute worker onto its own pool, the task goes where idle workers can take it
 * at once, and one is woken if none is looking: spawn a child, do your own half, then
 * hf_future_wait() for it (the wait runs the child itself if nobody took it yet).
 * Returns NULL for NULL `ex` or `fn`, or short memory.
 */
typedef void *(*hf_task_fn)(void *arg, hf_error_t *err);
HF_API hf_future_t *hf_async(hf_executor_t *ex, hf_task_fn fn, void *arg);

/*
 * hf_async_owned - like hf_async(), but the future frees the value with `destroy` (may be
 * NULL: then exactly hf_async()) when its last reference goes. A value `fn` returns while
 * rejecting, or after the future was cancelled, is freed at once, on `fn`'s thread.
 */
HF_API hf_future_t *hf_async_owned(hf_executor_t *ex, hf_task_fn fn, void *arg,
                                   void (*destroy)(void *));

/*
 * hf_spawn_blocking - hf_async() on `rt`'s I/O pool: for legacy blocking functions, which
 * then never occupy a compute worker. If the task needs a new I/O thread, none can be
 * started and no thread is left to take it (all sleep in waits, or none exist), the
 * future settles CANCELLED at once instead of staying queued for nobody. Returns NULL for
 * NULL `rt` or `fn`, or short memory.
 */
HF_API hf_future_t *hf_spawn_blocking(hf_runtime_t *rt, hf_task_fn fn, void *arg);

typedef struct hf_runtime_stats {
    /* compute pool */
    unsigned compute_parallelism;  /* target number of running workers */
    unsigned compute_threads;      /* live compute threads, spares included */
    unsigned compute_running;      /* threads running tasks or looking for them */
    unsigned compute_blocked;      /* threads sleeping in hf_future_wait() */
    unsigned compute_idle;         /* parked threads */
    unsigned compute_spares;       /* live threads beyond compute_parallelism */
    unsigned compute_spares_peak;  /* the most spares alive at once */
    uint64_t compute_tasks_run;
    uint64_t compute_steals;       /* tasks taken from another worker's deque */
    uint64_t compute_parks;        /* times a worker went to sleep */
    uint64_t compute_wakeups;      /* times a sleeper was woken for new work */
    uint64_t compute_injected;     /* tasks submitted from outside the pool */
    size_t   compute_queue_depth;  /* queued tasks (injection queue + deques), approximate */
    /* I/O pool */
    unsigned io_threads;           /* live I/O threads */
    unsigned io_threads_idle;
    unsigned io_threads_peak;
    unsigned io_threads_max;
    unsigned io_blocked;           /* I/O threads sleeping in hf_future_wait(), or
                                      driving a hub's transfers */
    uint64_t io_tasks_run;
    size_t   io_queue_depth;
    /* memory: small objects (futures, tasks, continuations) the free lists had to malloc */
    uint64_t obj_mallocs;
} hf_runtime_stats_t;

/* hf_runtime_stats - a snapshot of `rt`'s counters. Returns 0 or HF_EINVAL (NULL argument). */
HF_API int hf_runtime_stats(hf_runtime_t *rt, hf_runtime_stats_t *out);

/* hf_current_worker - the index of the calling compute worker (0-based), or -1. */
HF_API int hf_current_worker(void);

#ifdef __cplusplus
}
#endif

#endif /* HF_RUNTIME_H */
