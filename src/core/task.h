/*
 * task.h - the intrusive unit of work that every executor queue holds.
 *
 * A task is embedded in whatever owns it (a continuation, an async future, a posted
 * function), so queueing never allocates. `fn(t, 1)` runs it; `fn(t, 0)` discards it
 * (its runtime shut down before it could run): the owner then settles whatever the task
 * would have settled as cancelled and frees itself. Either way `fn` is called exactly once.
 */
#ifndef HFI_TASK_H
#define HFI_TASK_H

#include <stddef.h>

#include "core/atomics.h"

typedef struct hfi_task hfi_task_t;
typedef void (*hfi_task_fn)(hfi_task_t *t, int run);

struct hfi_task {
    _Atomic(hfi_task_t *) next;     /* queue link; owned by whichever queue holds the task */
    hfi_task_fn fn;
};

#define HFI_CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#endif /* HFI_TASK_H */
