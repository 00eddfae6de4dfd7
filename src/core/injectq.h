/*
 * injectq.h - the compute pool's injection queue: many producers (any thread), consumers
 * one at a time (workers take turns under a try-lock and carry batches away).
 */
#ifndef HFI_INJECTQ_H
#define HFI_INJECTQ_H

#include <pthread.h>
#include <stddef.h>

#include "core/atomics.h"
#include "core/task.h"

typedef struct hfi_injectq {
    _Alignas(HFI_CACHELINE) _Atomic(hfi_task_t *) tail;   /* producers swap themselves in */
    _Atomic size_t len;
    _Alignas(HFI_CACHELINE) hfi_task_t *head;             /* consumer side, under `mu` */
    hfi_task_t stub;
    pthread_mutex_t mu;
} hfi_injectq_t;

void hfi_injectq_init(hfi_injectq_t *q);
void hfi_injectq_destroy(hfi_injectq_t *q);
/* Any thread; wait-free apart from one atomic exchange. */
void hfi_injectq_push(hfi_injectq_t *q, hfi_task_t *t);
/* Consumer, with `mu` held. NULL if empty (or a producer is between its two steps). */
hfi_task_t *hfi_injectq_pop(hfi_injectq_t *q);

static inline size_t hfi_injectq_len(hfi_injectq_t *q)
{
    return atomic_load_explicit(&q->len, memory_order_seq_cst);
}

#endif /* HFI_INJECTQ_H */
