/*
 * io.h - the elastic FIFO pool for blocking work.
 */
#ifndef HFI_IO_H
#define HFI_IO_H

#include <pthread.h>

#include "core/executor.h"
#include "hf/runtime.h"

typedef struct hfi_io_thread hfi_io_thread_t;

typedef struct hfi_io {
    hf_executor_t ex;           /* first: the executor handle */
    pthread_mutex_t mu;         /* everything below */
    pthread_cond_t cv;          /* work arrived, or shutdown */
    pthread_cond_t cv_gone;     /* a thread exited */
    hfi_task_t *head, *tail;
    size_t depth;
    unsigned cap, live, idle, blocked, peak;
    unsigned idle_ms;
    unsigned char *ids;         /* [nids]: thread numbers in use */
    unsigned nids;              /* cap at first; doubled when threads asleep in waits
                                   have taken every number */
    hfi_io_thread_t *threads;   /* live threads */
    hfi_io_thread_t *zombies;   /* exited, not yet joined */
    uint64_t tasks_run;
    _Atomic int shutdown;
    int orphaned;
} hfi_io_t;

hfi_io_t *hfi_io_new(hf_runtime_t *rt, unsigned cap, unsigned idle_ms);
/* Tell the threads to stop after their current task (does not wait). */
void hfi_io_stop(hfi_io_t *io);
/* Stop and join the threads, discard what is queued. */
void hfi_io_shutdown(hfi_io_t *io);
void hfi_io_destroy(hfi_io_t *io);
void hfi_io_submit(hfi_io_t *io, hfi_task_t *t);
/* A pool thread is about to sleep in hf_future_wait(): it stops counting against the cap. */
void hfi_io_block_begin(hfi_io_t *io);
void hfi_io_block_end(hfi_io_t *io);
int hfi_io_interrupted(void *io);
void hfi_io_stats(hfi_io_t *io, hf_runtime_stats_t *s);

void hfi_io_atfork_prepare(hfi_io_t *io);
void hfi_io_atfork_parent(hfi_io_t *io);
void hfi_io_atfork_child(hfi_io_t *io);

#endif /* HFI_IO_H */
