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
 *  - the wait-for graph: one process-wide list, under `graph_mu`, of the threads that wait
 *    in a drain or an open with `wait`, each with the thread it waits for (the caller of its
 *    gate) while its edge is `on`. Only the slow path touches it: a wait that is needed, and
 *    a caller ending a call or its turn on a gate with `waiters`. Invariants:
 *      * an edge is on only while its wait's condition holds: the waiter publishes it under
 *        its gate's `mu` after finding the condition true, and the caller turns every edge
 *        on its gate off, under the same `mu`, whenever it ends a call or closes (the only
 *        changes that can end such a wait), then broadcasts, so each waiter whose edge went
 *        off looks again. A stale edge would make a thread skip a wait that would have
 *        ended; an edge on means its target is inside a call (or a turn), so alive;
 *      * the graph never holds a cycle: a waiter checks the chain from its target and
 *        publishes its edge in one hold of `graph_mu`, and does not wait when the chain
 *        comes back to it. Of the threads closing a ring, all but the last find a chain
 *        that ends; the last finds the ring, and only it skips its wait;
 *      * the waiter re-publishes (and re-checks) its edge on every round of its loop, woken
 *        or not: the caller it waits for may have changed while it slept (open: one caller
 *        closed, another opened);
 *      * a waiter's node lives on its stack, linked in from its first round to its return;
 *        a thread waits in at most one place, so it has at most one node;
 *  - fork: the child empties the graph and makes graph_mu anew (not held across fork:
 *    it guards only the parent's waiters, which the child does not have);
 *  - lock order: a gate's `mu` before `graph_mu`; `graph_mu` is a leaf (nothing else is
 *    taken under it, no wait under it); `mu` is never held while a callback runs.
 */
#include "config.h"

#include "hub/callgate.h"

typedef struct gate_wait {
    pthread_t self, target;
    const hfi_callgate_t *gate;
    int on;                         /* the edge self -> target holds now */
    struct gate_wait *next;
} gate_wait_t;

static pthread_mutex_t graph_mu = PTHREAD_MUTEX_INITIALIZER;
static gate_wait_t *graph;          /* the threads in a wait (their nodes), under graph_mu */
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

/* fork(): the waiters are threads of the parent, absent from the child, and one of them
 * may hold graph_mu at the instant of fork. The forking thread waits in no gate (no user
 * code runs in a wait): the child starts with an empty graph and a new mutex. */
static void graph_atfork_child(void)
{
    graph = NULL;
    pthread_mutex_init(&graph_mu, NULL);
}

static void graph_install(void)
{
    pthread_atfork(NULL, NULL, graph_atfork_child);
}

/* With graph_mu held: 1 if the chain of edges from `t` reaches `self`. The graph has no
 * cycle, so the walk ends; `limit` (the node count) bounds it all the same. */
static int chain_reaches(pthread_t t, pthread_t self)
{
    size_t limit = 0;

    for (gate_wait_t *w = graph; w; w = w->next)
        limit++;
    for (size_t hops = 0; hops <= limit; hops++) {
        gate_wait_t *w;

        if (pthread_equal(t, self))
            return 1;
        for (w = graph; w; w = w->next)
            if (w->on && pthread_equal(w->self, t))
                break;
        if (!w)
            return 0;
        t = w->target;
    }
    return 1;                       /* unreachable: a longer chain would be a cycle */
}

/* With g->mu held and the wait's condition true: publish w's edge to g's caller, or, if
 * that caller waits (along a chain) for this thread, take w out of the graph and return 0:
 * the wait would never end. `*linked` says whether w is in the graph. */
static int may_wait(hfi_callgate_t *g, gate_wait_t *w, int *linked)
{
    int ok;

    pthread_mutex_lock(&graph_mu);
    if (!*linked) {
        w->self = pthread_self();
        w->gate = g;
        w->next = graph;
        graph = w;
        g->waiters++;
        *linked = 1;
    }
    w->target = g->caller;
    ok = !chain_reaches(w->target, w->self);
    w->on = ok;
    pthread_mutex_unlock(&graph_mu);
    return ok;
}

/* With g->mu held: take w out of the graph if it is in. */
static void unlink_wait(hfi_callgate_t *g, gate_wait_t *w, int linked)
{
    gate_wait_t **pp;

    if (!linked)
        return;
    pthread_mutex_lock(&graph_mu);
    for (pp = &graph; *pp != w; pp = &(*pp)->next)
        ;
    *pp = w->next;
    g->waiters--;
    pthread_mutex_unlock(&graph_mu);
}

/* With g->mu held, as the caller, after a change that may end waits on g: their edges go
 * off until they look again. */
static void edges_off(hfi_callgate_t *g)
{
    if (!g->waiters)
        return;
    pthread_mutex_lock(&graph_mu);
    for (gate_wait_t *w = graph; w; w = w->next)
        if (w->gate == g)
            w->on = 0;
    pthread_mutex_unlock(&graph_mu);
}

void hfi_callgate_init(hfi_callgate_t *g)
{
    g->active = 0;
    g->calling = HFI_GATE_NONE;
    g->waiters = 0;
    pthread_once(&fork_once, graph_install);
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
    gate_wait_t w;
    int linked = 0, ok = 1;

    if (g->active && (pthread_equal(g->caller, self) || !wait))
        return 0;
    while (g->active) {
        if (!(ok = may_wait(g, &w, &linked)))
            break;
        pthread_cond_wait(&g->cv, &g->mu);
    }
    unlink_wait(g, &w, linked);
    if (!ok)
        return 0;
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
    edges_off(g);
    pthread_cond_broadcast(&g->cv);
}

void hfi_callgate_close(hfi_callgate_t *g)
{
    g->active = 0;
    edges_off(g);
    pthread_cond_broadcast(&g->cv);
}

void hfi_callgate_drain(hfi_callgate_t *g, size_t who)
{
    gate_wait_t w;
    int linked = 0;

    if (g->active && pthread_equal(g->caller, pthread_self()))
        return;
    while (g->active && g->calling == who) {
        if (!may_wait(g, &w, &linked))
            break;
        pthread_cond_wait(&g->cv, &g->mu);
    }
    unlink_wait(g, &w, linked);
}
