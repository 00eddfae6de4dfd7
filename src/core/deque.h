/*
 * deque.h - a Chase-Lev work-stealing deque of tasks, fixed capacity.
 *
 * The owner pushes and pops at the bottom (LIFO); any thread steals at the top (FIFO).
 * After Chase & Lev (SPAA 2005) and the C11 formulation of Le, Pop, Cohen and Zappa
 * Nardelli (PPoPP 2013), with seq_cst operations in place of standalone fences so that
 * ThreadSanitizer understands every ordering.
 */
#ifndef HFI_DEQUE_H
#define HFI_DEQUE_H

#include <stdint.h>

#include "core/atomics.h"
#include "core/task.h"

#define HFI_DEQUE_CAP 4096      /* power of two */

typedef struct hfi_deque {
    _Alignas(HFI_CACHELINE) _Atomic int64_t top;
    _Alignas(HFI_CACHELINE) _Atomic int64_t bottom;
    _Atomic(hfi_task_t *) *buf;
    int64_t top_seen;           /* owner only: a value `top` had (top never decreases) */
} hfi_deque_t;

#define HFI_STEAL_RETRY ((hfi_task_t *)(uintptr_t)1)

int hfi_deque_init(hfi_deque_t *d);
void hfi_deque_destroy(hfi_deque_t *d);
/* Owner only. Returns 0, or -1 if full. */
int hfi_deque_push(hfi_deque_t *d, hfi_task_t *t);
/* Owner only. NULL if empty. */
hfi_task_t *hfi_deque_pop(hfi_deque_t *d);
/* Any thread. NULL if empty, HFI_STEAL_RETRY if it lost a race. */
hfi_task_t *hfi_deque_steal(hfi_deque_t *d);

/* Owner: the current bottom index. */
static inline int64_t hfi_deque_bottom(hfi_deque_t *d)
{
    return hfi_load_relaxed(&d->bottom);
}

/* Any thread: approximate number of tasks. */
static inline int64_t hfi_deque_size(hfi_deque_t *d)
{
    int64_t n = hfi_load_acquire(&d->bottom) - hfi_load_acquire(&d->top);
    return n > 0 ? n : 0;
}

#endif /* HFI_DEQUE_H */
