/*
 * tls.c - per-thread state and the inline trampoline.
 *
 * Design notes
 *  - everything here is thread-local: no locks, no atomics;
 *  - invariant: while tramp_active is set, an outer frame of this thread is looping in
 *    hfi_tramp_run() and will run every task queued here before it returns.
 */
#include "config.h"

#include "core/tls.h"

_Thread_local hfi_tls_t hfi_tls;

static void enqueue(hfi_task_t **head, hfi_task_t **tail, hfi_task_t *t)
{
    hfi_store_relaxed(&t->next, NULL);
    if (*tail)
        hfi_store_relaxed(&(*tail)->next, t);
    else
        *head = t;
    *tail = t;
}

static hfi_task_t *dequeue(hfi_task_t **head, hfi_task_t **tail)
{
    hfi_task_t *t = *head;
    if (t) {
        *head = hfi_load_relaxed(&t->next);
        if (!*head)
            *tail = NULL;
    }
    return t;
}

static void drain(hfi_tls_t *tl)
{
    hfi_task_t *t;
    for (;;) {
        if ((t = dequeue(&tl->run_head, &tl->run_tail)) != NULL)
            t->fn(t, 1);
        else if ((t = dequeue(&tl->drop_head, &tl->drop_tail)) != NULL)
            t->fn(t, 0);
        else
            break;
    }
}

void hfi_tramp_run(hfi_task_t *t, int run)
{
    hfi_tls_t *tl = &hfi_tls;

    if (tl->tramp_active) {
        if (run)
            enqueue(&tl->run_head, &tl->run_tail, t);
        else
            enqueue(&tl->drop_head, &tl->drop_tail, t);
        return;
    }
    tl->tramp_active = 1;
    t->fn(t, run);
    drain(tl);
    tl->tramp_active = 0;
}

void hfi_tramp_drain(void)
{
    hfi_tls_t *tl = &hfi_tls;
    if (tl->tramp_active)
        drain(tl);
}

void hfi_tramp_discard_list(hfi_task_t *list)
{
    int outer;

    if (!list)
        return;
    outer = hfi_tramp_enter();
    while (list) {
        hfi_task_t *next = hfi_load_relaxed(&list->next);
        hfi_tramp_run(list, 0);
        list = next;
    }
    if (outer)
        hfi_tramp_leave();
}

int hfi_tramp_enter(void)
{
    hfi_tls_t *tl = &hfi_tls;
    if (tl->tramp_active)
        return 0;
    tl->tramp_active = 1;
    return 1;
}

void hfi_tramp_leave(void)
{
    hfi_tls_t *tl = &hfi_tls;
    drain(tl);
    tl->tramp_active = 0;
}
