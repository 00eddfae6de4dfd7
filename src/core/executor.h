/*
 * executor.h - the executor handle: a kind, a reference count and a "dead" flag.
 *
 * The compute and I/O pools embed one as their first member. The runtime holds one
 * reference to each; every continuation registered with a pool executor holds another, so
 * a continuation whose input settles after hf_runtime_free() still finds the (dead)
 * executor in memory, and is discarded instead of run.
 */
#ifndef HFI_EXECUTOR_H
#define HFI_EXECUTOR_H

#include "core/atomics.h"
#include "core/task.h"
#include "hf/runtime.h"

enum { HFI_EX_INLINE, HFI_EX_COMPUTE, HFI_EX_IO };

struct hf_executor {
    int kind;
    _Atomic uint32_t refs;
    _Atomic int dead;           /* its runtime was freed: tasks are discarded */
    hf_runtime_t *rt;
};

static inline int hfi_executor_is_inline(const hf_executor_t *ex)
{
    return ex->kind == HFI_EX_INLINE;
}

void hfi_executor_init(hf_executor_t *ex, int kind, hf_runtime_t *rt);
/* Queue `t` on `ex` (inline: run it through the trampoline). A dead executor discards it. */
void hfi_executor_submit(hf_executor_t *ex, hfi_task_t *t);
/* The same for a task that is to run beside its submitter (hf_async): on a compute
 * executor, hfi_compute_spawn. */
void hfi_executor_spawn(hf_executor_t *ex, hfi_task_t *t);
void hfi_executor_retain(hf_executor_t *ex);
/* The last release frees the pool behind it. */
void hfi_executor_release(hf_executor_t *ex);

#endif /* HFI_EXECUTOR_H */
