/*
 * parklot.c - sleeping on futures.
 *
 * Design notes
 *  - a waiter sets HFI_FL_WAITERS under the future's lock (checking that its settlement
 *    is not done), then sleeps on its bucket's condvar, re-checking `done` under the
 *    bucket mutex. The settler publishes `done` and reads the flag in one critical
 *    section of the same future lock, and broadcasts under the bucket mutex: a waiter
 *    either sees `done` or is already asleep when the broadcast comes. No wake-up is
 *    lost. Waiting for `done` rather than the state means a wait returns only once the
 *    synchronous part of the settlement is over (future.c);
 *  - buckets are shared by unrelated futures; a spurious wake-up only costs a re-check;
 *  - lock order: bucket mutex is a leaf (the future lock is never held with it; the
 *    `interrupted` callbacks that run under it are atomic loads and take no lock);
 *  - fork: the buckets are NOT held across fork() (64 of them would exceed what
 *    ThreadSanitizer's deadlock detector tracks, see fork.c). A bucket guards no data: the
 *    state a waiter re-checks is the future's atomic state, and the mutex only pairs the
 *    re-check with the settler's broadcast. So a bucket that another thread held (or slept
 *    on) at the instant of fork protects nothing the child needs; the child makes every
 *    mutex and condvar anew (hfi_parklot_atfork_child), before anything can use them. The
 *    forking thread holds none of them: it calls fork() from outside this file's
 *    functions, and nothing here runs user code under a bucket mutex. Prepare only makes
 *    sure the table is initialised, so that the child re-makes live objects.
 */
#include "config.h"

#include "core/parklot.h"

#include <errno.h>
#include <time.h>

#include "core/future_impl.h"

#define NBUCKETS 64

typedef struct bucket {
    _Alignas(HFI_CACHELINE) pthread_mutex_t mu;
    pthread_cond_t cv;
} bucket_t;

static bucket_t buckets[NBUCKETS];
static pthread_once_t buckets_once = PTHREAD_ONCE_INIT;

#if defined(HAVE_PTHREAD_CONDATTR_SETCLOCK) && defined(CLOCK_MONOTONIC)
#define HFI_CLOCK CLOCK_MONOTONIC
#else
#define HFI_CLOCK CLOCK_REALTIME
#endif

uint64_t hfi_now_ns(void)
{
    struct timespec ts;
    clock_gettime(HFI_CLOCK, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void hfi_abstime(struct timespec *ts, uint64_t deadline_ns)
{
    ts->tv_sec = (time_t)(deadline_ns / 1000000000u);
    ts->tv_nsec = (long)(deadline_ns % 1000000000u);
}

int hfi_cond_init(pthread_cond_t *cv)
{
#if defined(HAVE_PTHREAD_CONDATTR_SETCLOCK) && defined(CLOCK_MONOTONIC)
    pthread_condattr_t a;
    int rc;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    rc = pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
    return rc;
#else
    return pthread_cond_init(cv, NULL);
#endif
}

static void buckets_init(void)
{
    for (int i = 0; i < NBUCKETS; i++) {
        pthread_mutex_init(&buckets[i].mu, NULL);
        hfi_cond_init(&buckets[i].cv);
    }
}

static bucket_t *bucket_of(const void *key)
{
    uintptr_t h = (uintptr_t)key;
    h ^= h >> 17;
    h *= (uintptr_t)0x9E3779B97F4A7C15u;
    pthread_once(&buckets_once, buckets_init);
    return &buckets[(h >> 24) % NBUCKETS];
}

int hfi_parklot_wait(hf_future_t *f, uint64_t deadline_ns, int (*interrupted)(void *), void *arg)
{
    bucket_t *b = bucket_of(f);
    int rc = 0;

    hfi_spin_lock(&f->lock);
    if (hfi_load_relaxed(&f->done) == HFI_DONE_NOT)
        f->flags |= HFI_FL_WAITERS;
    hfi_spin_unlock(&f->lock);

    pthread_mutex_lock(&b->mu);
    while (atomic_load_explicit(&f->done, memory_order_acquire) == HFI_DONE_NOT) {
        if (interrupted && interrupted(arg)) {
            rc = HF_ECANCELED;
            break;
        }
        if (deadline_ns) {
            struct timespec ts;
            if (hfi_now_ns() >= deadline_ns) {
                rc = HF_ETIMEDOUT;
                break;
            }
            hfi_abstime(&ts, deadline_ns);
            pthread_cond_timedwait(&b->cv, &b->mu, &ts);
        } else {
            pthread_cond_wait(&b->cv, &b->mu);
        }
    }
    pthread_mutex_unlock(&b->mu);
    return rc;
}

void hfi_parklot_wake(const void *key)
{
    bucket_t *b = bucket_of(key);
    pthread_mutex_lock(&b->mu);
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

void hfi_parklot_wake_all(void)
{
    pthread_once(&buckets_once, buckets_init);
    for (int i = 0; i < NBUCKETS; i++) {
        pthread_mutex_lock(&buckets[i].mu);
        pthread_cond_broadcast(&buckets[i].cv);
        pthread_mutex_unlock(&buckets[i].mu);
    }
}

void hfi_parklot_atfork_prepare(void)
{
    /* Takes no bucket (see the design notes): only completes the one-time set-up, so that
     * it is not half done in the child and the child's re-make below covers the table. */
    pthread_once(&buckets_once, buckets_init);
}

void hfi_parklot_atfork_child(void)
{
    /* Only the forking thread exists here, and it is in none of the buckets' critical
     * sections; the other threads of the parent may have held a mutex or slept on a
     * condvar: both are made anew, on memory no thread of the child uses. */
    for (int i = 0; i < NBUCKETS; i++) {
        pthread_mutex_init(&buckets[i].mu, NULL);
        hfi_cond_init(&buckets[i].cv);
    }
}
