/*
 * tls.h - what the library knows about the calling thread, and the inline trampoline.
 *
 * The trampoline turns recursion into iteration: an inline callback (a continuation on
 * HF_INLINE, a combinator's watcher, the passing-on of an error) that becomes runnable
 * while another one is running on the same thread is queued and run after it returns, so
 * a chain of any length settles in constant stack.
 */
#ifndef HFI_TLS_H
#define HFI_TLS_H

#include "core/task.h"
#include "hf/future.h"

struct hfi_worker;
struct hfi_io;

typedef struct hfi_tls {
    hf_executor_t *executor;        /* the pool this thread belongs to, or NULL */
    struct hfi_worker *worker;      /* set on compute workers */
    struct hfi_io *io;              /* set on I/O pool threads */
    hf_future_t *producing;         /* the future the running task/continuation settles */
    unsigned drives;                /* unsettled promises bound to this thread */
    int timer_thread;               /* the process's timer thread: it never waits */
    int tramp_active;
    hfi_task_t *run_head, *run_tail;        /* trampoline: tasks to run */
    hfi_task_t *drop_head, *drop_tail;      /* trampoline: tasks to discard */
} hfi_tls_t;

extern _Thread_local hfi_tls_t hfi_tls;

/* A token that identifies the calling thread while it lives. */
static inline const void *hfi_thread_token(void)
{
    return &hfi_tls;
}

/* Run (run=1) or discard (run=0) `t` on this thread now, or after the inline callback
 * that is already running here returns. */
void hfi_tramp_run(hfi_task_t *t, int run);

/* Become the trampoline's outer frame if none is active: returns 1 if this call did (the
 * caller then calls hfi_tramp_leave()), 0 if an outer frame exists already. */
int hfi_tramp_enter(void);
/* Run what was queued meanwhile and stop being the outer frame. */
void hfi_tramp_leave(void);

/* Run everything the trampoline has queued on this thread (used before blocking). */
void hfi_tramp_drain(void);

/* Discard every task of the list linked through `next` (a queue taken out at shutdown),
 * one frame for all, so that what the discards settle runs after them, never nested. */
void hfi_tramp_discard_list(hfi_task_t *list);

#endif /* HFI_TLS_H */
