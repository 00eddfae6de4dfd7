/*
 * callgate.c - progress callbacks called one at a time with no lock held (callgate.h).
 *
 * Design notes
 *  - state (active, caller, calling) changes only under `mu`; `cv` is broadcast after each
 *    call and when the caller closes, which is when a drainer or a waiting opener may go on;
 *  - a drainer waits only for a call of its own listener, never for the gate as a whole,
 *    so two requesters of one download that cancel themselves from their callbacks on
 *    two threads do not wait for each other;
 *  - listener numbers are the owner's: it must not renumber its listeners while the gate
 *    is open (blob.c compacts its table only when it is closed);
 *  - lock order: `mu` is a leaf; it is never held while a callback runs.
 */
#include "config.h"

#include "hub/callgate.h"

void hfi_callgate_init(hfi_callgate_t *g)
{
    g->active = 0;
    g->calling = HFI_GATE_NONE;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
}

void hfi_callgate_destroy(hfi_callgate_t *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

int hfi_callgate_open(hfi_callgate_t *g, int wait)
{
    pthread_t self = pthread_self();

    if (g->active && (pthread_equal(g->caller, self) || !wait))
        return 0;
    while (g->active)
        pthread_cond_wait(&g->cv, &g->mu);
    g->active = 1;
    g->caller = self;
    return 1;
}

void hfi_callgate_call(hfi_callgate_t *g, size_t who, hf_progress_fn fn,
                       const hf_progress_t *p, void *arg)
{
    g->calling = who;
    pthread_mutex_unlock(&g->mu);
    fn(p, arg);
    pthread_mutex_lock(&g->mu);
    g->calling = HFI_GATE_NONE;
    pthread_cond_broadcast(&g->cv);
}

void hfi_callgate_close(hfi_callgate_t *g)
{
    g->active = 0;
    pthread_cond_broadcast(&g->cv);
}

void hfi_callgate_drain(hfi_callgate_t *g, size_t who)
{
    if (g->active && pthread_equal(g->caller, pthread_self()))
        return;
    while (g->active && g->calling == who)
        pthread_cond_wait(&g->cv, &g->mu);
}
