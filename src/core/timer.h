/*
 * timer.h - the process-wide timer thread: a binary min-heap of deadlines.
 */
#ifndef HFI_TIMER_H
#define HFI_TIMER_H

#include <stddef.h>
#include <stdint.h>

typedef struct hfi_timer_ent hfi_timer_ent_t;
struct hfi_timer_ent {
    uint64_t deadline_ns;
    uint64_t seq;               /* ties broken in insertion order */
    size_t idx;                 /* heap position; SIZE_MAX when not in the heap */
    void (*fire)(hfi_timer_ent_t *e);   /* called on the timer thread, no lock held */
};

/* Arm `e` to fire `ms` from now. Returns 0, HF_ENOMEM, or HF_EIO (no timer thread). */
int hfi_timer_add(hfi_timer_ent_t *e, uint64_t ms);
/* Disarm: 1 if removed before firing (fire will not be called), 0 if it fired or is
 * firing. */
int hfi_timer_remove(hfi_timer_ent_t *e);
/* Number of armed timers (for tests). */
size_t hfi_timer_pending(void);
/* 1 while the timer thread exists (for tests: it exits when idle). */
int hfi_timer_thread_alive(void);
/* Timer threads running now, counted by the library itself on every platform (for tests:
 * never more than one, none once idle). */
int hfi_timer_threads(void);

void hfi_timer_atfork_prepare(void);
void hfi_timer_atfork_parent(void);
void hfi_timer_atfork_child(void);

#endif /* HFI_TIMER_H */
