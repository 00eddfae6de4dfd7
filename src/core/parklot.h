/*
 * parklot.h - where threads sleep until a future settles: a fixed table of mutex+condvar
 * buckets keyed by the future's address, so a future carries one flag bit, not a condvar.
 */
#ifndef HFI_PARKLOT_H
#define HFI_PARKLOT_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "hf/future.h"

/* Sleep until `f` settles, `deadline_ns` (CLOCK_MONOTONIC; 0: none) passes, or
 * `interrupted(arg)` returns non-zero after a wake-up. Returns 0, HF_ETIMEDOUT or
 * HF_ECANCELED. Sets the future's waiter flag itself. */
int hfi_parklot_wait(hf_future_t *f, uint64_t deadline_ns, int (*interrupted)(void *), void *arg);
/* Wake every thread sleeping on `f` (and its bucket neighbours, who re-check). */
void hfi_parklot_wake(const void *key);
/* Wake every sleeper (runtime shutdown: they check their interruption). */
void hfi_parklot_wake_all(void);

uint64_t hfi_now_ns(void);
/* `ms` in nanoseconds, clamped to UINT64_MAX / 2 (some 292 years) so that hfi_now_ns()
 * plus the result cannot overflow: a huge timeout is a deadline that never comes. */
static inline uint64_t hfi_ms_to_ns(uint64_t ms)
{
    return ms > UINT64_MAX / 2000000u ? UINT64_MAX / 2 : ms * 1000000u;
}
/* Fill an absolute timespec for pthread_cond_timedwait on a condvar made by hfi_cond_init. */
void hfi_abstime(struct timespec *ts, uint64_t deadline_ns);
/* A condvar that waits on CLOCK_MONOTONIC where the platform allows. */
int hfi_cond_init(pthread_cond_t *cv);

/* fork(): prepare holds no bucket (it only finishes the table's set-up); the child makes
 * every bucket's mutex and condvar anew. There is nothing to do in the parent. */
void hfi_parklot_atfork_prepare(void);
void hfi_parklot_atfork_child(void);

#endif /* HFI_PARKLOT_H */
