/*
 * fork.c - the registry of live runtimes and the pthread_atfork handlers.
 *
 * Design notes
 *  - prepare holds the mutexes that guard data the child reads, in one order: the
 *    registry, the adopt mutex, each runtime's compute idle_mu and inject.mu and its I/O
 *    pool mutex, the timer, the small-object depot. That is 4 + 3 per live runtime,
 *    whatever the number of threads (ThreadSanitizer's deadlock detector tracks at most 64
 *    held at once and aborts on the 65th: fine up to 20 live runtimes). The parent
 *    releases them; the child releases them too and then orphans every runtime (its
 *    threads are not in the child: hf_runtime_free on it frees memory and cancels queued
 *    work without joining) and forgets the timer thread;
 *  - mutexes that only pair a sleep with its wake-up are not held: the parking-lot
 *    buckets (parklot.c) and each compute worker's parking mu (compute.c). They guard no
 *    data the child reads (futures' states are atomic; a worker's `notified` is reset), so
 *    the child makes them, and their condvars, anew: one may have been held by a thread of
 *    the parent at the instant of fork, and that thread is not in the child. The forking
 *    thread holds none of them (they are taken only inside the library, around no user
 *    code). The buckets are re-made first, before anything in the child can settle a
 *    future. Since no bucket is held, prepare has no lock order with them (a waiter's
 *    `interrupted` callback, run under its bucket, takes no lock either);
 *  - future spinlocks cannot be taken here; one held by another thread at the instant of
 *    fork stays held in the child. Their critical sections are a few stores long.
 */
#include "config.h"

#include <pthread.h>

#include "core/alloc.h"
#include "core/future_impl.h"
#include "core/parklot.h"
#include "core/runtime_impl.h"
#include "core/timer.h"

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static hf_runtime_t *registry;
static pthread_once_t handlers_once = PTHREAD_ONCE_INIT;

void hfi_registry_add(hf_runtime_t *rt)
{
    pthread_mutex_lock(&registry_mu);
    rt->next = registry;
    registry = rt;
    pthread_mutex_unlock(&registry_mu);
}

int hfi_registry_remove(hf_runtime_t *rt)
{
    hf_runtime_t **pp;
    int left;
    pthread_mutex_lock(&registry_mu);
    for (pp = &registry; *pp; pp = &(*pp)->next) {
        if (*pp == rt) {
            *pp = rt->next;
            break;
        }
    }
    left = registry != NULL;
    pthread_mutex_unlock(&registry_mu);
    return left;
}

static void prepare(void)
{
    hfi_parklot_atfork_prepare();
    pthread_mutex_lock(&registry_mu);
    hfi_future_atfork_prepare();
    for (hf_runtime_t *rt = registry; rt; rt = rt->next) {
        hfi_compute_atfork_prepare(rt->compute);
        hfi_io_atfork_prepare(rt->io);
    }
    hfi_timer_atfork_prepare();
    hfi_alloc_atfork_prepare();
}

static void parent(void)
{
    hfi_alloc_atfork_parent();
    hfi_timer_atfork_parent();
    for (hf_runtime_t *rt = registry; rt; rt = rt->next) {
        hfi_io_atfork_parent(rt->io);
        hfi_compute_atfork_parent(rt->compute);
    }
    hfi_future_atfork_parent();
    pthread_mutex_unlock(&registry_mu);
}

static void child(void)
{
    hfi_parklot_atfork_child();
    hfi_alloc_atfork_child();
    hfi_timer_atfork_child();
    for (hf_runtime_t *rt = registry; rt; rt = rt->next) {
        hfi_io_atfork_child(rt->io);
        hfi_compute_atfork_child(rt->compute);
    }
    hfi_future_atfork_child();
    pthread_mutex_unlock(&registry_mu);
}

static void install(void)
{
    pthread_atfork(prepare, parent, child);
}

void hfi_fork_handlers_install(void)
{
    pthread_once(&handlers_once, install);
}
