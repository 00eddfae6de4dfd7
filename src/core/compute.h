/*
 * compute.h - the work-stealing compute pool.
 */
#ifndef HFI_COMPUTE_H
#define HFI_COMPUTE_H

#include <pthread.h>

#include "core/deque.h"
#include "core/executor.h"
#include "core/injectq.h"
#include "hf/runtime.h"

typedef struct hfi_compute hfi_compute_t;

typedef struct hfi_worker {
    hfi_deque_t dq;
    _Atomic(hfi_task_t *) next; /* the owner's latest submission, run before the deque */
    uint64_t next_seq;          /* frame_seq when `next` was set (owner only) */
    uint64_t frame_seq;         /* frames started so far (owner only) */
    uint64_t cur_frame;         /* frame_seq of the running task (owner only) */
    hfi_task_t *seen_next;      /* a thief's candidate: another worker's `next`... */
    unsigned seen_victim;       /* ...seen there on its previous steal round */
    hfi_compute_t *pool;
    unsigned index;
    int started;                /* its thread exists */
    pthread_t thread;
    pthread_mutex_t mu;         /* parking: protects `notified` */
    pthread_cond_t cv;
    int notified;
    struct hfi_worker *idle_next;   /* under pool->idle_mu */
    int in_idle;                    /* under pool->idle_mu */
    int searching;              /* counted in pool->nsearching (set by a waker while parked) */
    int64_t frame_base;         /* deque bottom when the running task started */
    unsigned help_depth;
    unsigned tick;              /* tasks found: every INJECT_EVERY-th comes from the
                                   injection queue first, when it has any */
    uint64_t rng;
    _Atomic uint64_t tasks_run, steals, parks;
} hfi_worker_t;

struct hfi_compute {
    hf_executor_t ex;           /* first: the executor handle */
    unsigned parallelism;       /* target number of running workers */
    unsigned max_threads;       /* parallelism + spares */
    hfi_worker_t **workers;     /* [max_threads]; slot i is published before nthreads > i */
    _Atomic unsigned nthreads;
    hfi_injectq_t inject;
    pthread_mutex_t idle_mu;    /* idle stack, thread creation, spares_peak */
    hfi_worker_t *idle;
    unsigned spares_peak;
    int orphaned;               /* a fork child: the threads do not exist */
    _Alignas(HFI_CACHELINE) _Atomic unsigned nsearching;
    _Atomic unsigned nidle;
    _Atomic unsigned nrunning;  /* threads running tasks or looking for them */
    _Atomic unsigned nblocked;  /* threads asleep in hf_future_wait() */
    _Atomic int shutdown;
    _Atomic uint64_t wakeups;
};

hfi_compute_t *hfi_compute_new(hf_runtime_t *rt, unsigned threads, unsigned spares);
/* Tell the threads to stop after their current task (does not wait). */
void hfi_compute_stop(hfi_compute_t *p);
/* Stop the threads (joined), mark the executor dead, discard what is queued. */
void hfi_compute_shutdown(hfi_compute_t *p);
/* Free the memory (called on the executor's last release). */
void hfi_compute_destroy(hfi_compute_t *p);
void hfi_compute_submit(hfi_compute_t *p, hfi_task_t *t);
/* Queue a task spawned to run beside its submitter (hf_async): from a worker of `p`, onto
 * that worker's deque, where idle workers can take it at once, waking one if nobody is
 * looking; from any other thread, as hfi_compute_submit. */
void hfi_compute_spawn(hfi_compute_t *p, hfi_task_t *t);

/* The blocking-safe wait's part (wait.c): run the waiting task's own spawned tasks, then
 * other queued ones, while `f` is pending and `deadline_ns` (0: none) has not passed (a
 * task it started runs to its end); then lend this worker's place while it sleeps. */
void hfi_compute_help(hfi_worker_t *w, hf_future_t *f, uint64_t deadline_ns);
void hfi_compute_block_begin(hfi_worker_t *w);
void hfi_compute_block_end(hfi_worker_t *w);
int hfi_compute_interrupted(void *worker);

void hfi_compute_stats(hfi_compute_t *p, hf_runtime_stats_t *s);

void hfi_compute_atfork_prepare(hfi_compute_t *p);
void hfi_compute_atfork_parent(hfi_compute_t *p);
void hfi_compute_atfork_child(hfi_compute_t *p);

#endif /* HFI_COMPUTE_H */
