/*
 * injectq.c - intrusive multi-producer queue (after Vyukov's non-intrusive MPSC design).
 *
 * Design notes
 *  - a push is: clear the task's link, swap it into `tail` (one atomic exchange), link the
 *    old tail to it. Between those two steps the queue looks shorter to the consumer,
 *    never broken: the consumer reports "empty" and the producer's own wake-up check, which
 *    runs after the link, makes sure somebody looks again;
 *  - `len` counts pushed-but-not-popped tasks (seq_cst: it is half of the Dekker pair
 *    with a parking worker's re-check);
 *  - consumers serialise on `mu` (try-lock in workers), so the pop side is single-consumer;
 *  - the stub node keeps the list non-empty; it is re-pushed when the consumer reaches it.
 */
#include "config.h"

#include "core/injectq.h"

void hfi_injectq_init(hfi_injectq_t *q)
{
    atomic_init(&q->stub.next, NULL);
    q->stub.fn = NULL;
    atomic_init(&q->tail, &q->stub);
    atomic_init(&q->len, 0);
    q->head = &q->stub;
    pthread_mutex_init(&q->mu, NULL);
}

void hfi_injectq_destroy(hfi_injectq_t *q)
{
    pthread_mutex_destroy(&q->mu);
}

void hfi_injectq_push(hfi_injectq_t *q, hfi_task_t *t)
{
    hfi_task_t *prev;

    atomic_fetch_add_explicit(&q->len, 1, memory_order_seq_cst);
    hfi_store_relaxed(&t->next, NULL);
    prev = atomic_exchange_explicit(&q->tail, t, memory_order_acq_rel);
    atomic_store_explicit(&prev->next, t, memory_order_release);
}

hfi_task_t *hfi_injectq_pop(hfi_injectq_t *q)
{
    hfi_task_t *head = q->head;
    hfi_task_t *next = hfi_load_acquire(&head->next);

    if (head == &q->stub) {
        if (!next)
            return NULL;
        q->head = next;
        head = next;
        next = hfi_load_acquire(&next->next);
    }
    if (next) {
        q->head = next;
        atomic_fetch_sub_explicit(&q->len, 1, memory_order_relaxed);
        return head;
    }
    if (head != hfi_load_acquire(&q->tail))
        return NULL;                /* a producer is between exchange and link */
    hfi_store_relaxed(&q->stub.next, NULL);
    {
        hfi_task_t *prev = atomic_exchange_explicit(&q->tail, &q->stub, memory_order_acq_rel);
        atomic_store_explicit(&prev->next, &q->stub, memory_order_release);
    }
    next = hfi_load_acquire(&head->next);
    if (next) {
        q->head = next;
        atomic_fetch_sub_explicit(&q->len, 1, memory_order_relaxed);
        return head;
    }
    return NULL;
}
