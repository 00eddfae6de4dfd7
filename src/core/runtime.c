/*
 * runtime.c - creating and freeing runtimes; stats; hf_spawn_blocking.
 *
 * Design notes
 *  - a runtime is two pools and nothing else; timers are process-wide (timer.c) because
 *    hf_future_timeout() names no runtime;
 *  - each runtime has a unique id (a process-wide counter), which names it where an
 *    address could be reused (the model memo's keys);
 *  - hf_runtime_free: stop both pools and mark both executors dead (no task submitted
 *    from then on runs, not even one a still-running task submits), join the compute
 *    threads, then the I/O threads (both discard what is queued, cancelling its
 *    futures), then drop the runtime's references
 *    to the two executors; continuations still registered with them keep them allocated
 *    (dead) until they are discarded.
 */
#include "config.h"

#include <stdatomic.h>
#include <string.h>

#include "core/alloc.h"
#include "core/runtime_impl.h"
#include "core/thread.h"
#include "core/tls.h"

#define IO_CAP_DEFAULT 64
#define COMPUTE_THREADS_MAX 4096      /* the most compute_threads accepted */
#define IO_IDLE_MS_DEFAULT 10000

hf_runtime_t *hf_runtime_new(const hf_runtime_config_t *cfg)
{
    static _Atomic uint64_t next_id = 1;
    hf_runtime_config_t c;
    hf_runtime_t *rt;
    unsigned spares;

    if (cfg)
        c = *cfg;
    else
        memset(&c, 0, sizeof c);
    if (c.compute_threads == 0) {   /* the default: one per CPU, up to the limit */
        c.compute_threads = hfi_cpu_count();
        if (c.compute_threads > COMPUTE_THREADS_MAX)
            c.compute_threads = COMPUTE_THREADS_MAX;
    }
    if (c.io_threads_max == 0)
        c.io_threads_max = IO_CAP_DEFAULT;
    if (c.io_idle_ms == 0)
        c.io_idle_ms = IO_IDLE_MS_DEFAULT;
    spares = c.compute_spares_max;
    if (spares == 0)
        spares = 4 * c.compute_threads < 16 ? 16 : 4 * c.compute_threads;
    if (c.compute_threads > COMPUTE_THREADS_MAX || c.io_threads_max > 65536 || spares > 65536)
        return NULL;

    hfi_fork_handlers_install();
    if ((rt = hfi_calloc(1, sizeof *rt)) == NULL)
        return NULL;
    rt->id = atomic_fetch_add(&next_id, 1);
    if ((rt->io = hfi_io_new(rt, c.io_threads_max, c.io_idle_ms)) == NULL) {
        hfi_free(rt);
        return NULL;
    }
    if ((rt->compute = hfi_compute_new(rt, c.compute_threads, spares)) == NULL) {
        hfi_io_shutdown(rt->io);
        hfi_executor_release(&rt->io->ex);
        hfi_free(rt);
        return NULL;
    }
    hfi_registry_add(rt);
    return rt;
}

void hf_runtime_free(hf_runtime_t *rt)
{
    hf_executor_t *self = hfi_tls.executor;
    int others;

    if (!rt)
        return;
    if (self && self->rt == rt)
        return;                 /* cannot join the thread we are running on */
    others = hfi_registry_remove(rt);
    hfi_compute_stop(rt->compute);      /* both pools stop taking tasks at once */
    /* ...and say so: hf_executor_post() from a task that still runs returns HF_ECANCELED
     * from here on (the I/O pool marks itself in hfi_io_stop). Marking the compute pool
     * before the I/O one means a task that sees the I/O pool stopped sees this too. */
    atomic_store(&rt->compute->ex.dead, 1);
    hfi_io_stop(rt->io);
    hfi_compute_shutdown(rt->compute);
    hfi_io_shutdown(rt->io);
    hfi_executor_release(&rt->compute->ex);
    hfi_executor_release(&rt->io->ex);
    hfi_free(rt);
    if (!others)
        hfi_obj_trim();         /* the last runtime: give the spare objects back */
}

uint64_t hfi_runtime_id(const hf_runtime_t *rt)
{
    return rt->id;
}

hf_executor_t *hf_runtime_compute(hf_runtime_t *rt)
{
    return rt ? &rt->compute->ex : NULL;
}

hf_executor_t *hf_runtime_io(hf_runtime_t *rt)
{
    return rt ? &rt->io->ex : NULL;
}

hf_future_t *hf_spawn_blocking(hf_runtime_t *rt, hf_task_fn fn, void *arg)
{
    return rt ? hf_async(&rt->io->ex, fn, arg) : NULL;
}

int hf_runtime_stats(hf_runtime_t *rt, hf_runtime_stats_t *out)
{
    if (!rt || !out)
        return HF_EINVAL;
    memset(out, 0, sizeof *out);
    hfi_compute_stats(rt->compute, out);
    hfi_io_stats(rt->io, out);
    out->obj_mallocs = hfi_obj_mallocs();
    return 0;
}

int hf_current_worker(void)
{
    return hfi_tls.worker ? (int)hfi_tls.worker->index : -1;
}
