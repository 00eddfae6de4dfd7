/*
 * io.c - the I/O pool: elastic threads (0 up to a cap), one FIFO queue.
 *
 * Design notes
 *  - one mutex guards the queue and every counter; one condvar announces work;
 *  - a submission wakes an idle thread if there is one, and starts a new thread when the
 *    queue holds more tasks than there are idle threads and fewer than `cap` threads are
 *    working (threads asleep in hf_future_wait() do not count: a pool whose threads all
 *    wait on queued work would otherwise deadlock at the cap). Threads beyond `cap` thus
 *    exist only while others sleep in waits, and there is no fixed bound on them: any
 *    bound brings the deadlock back, only later (N threads all waiting on tasks queued
 *    behind them). `ids` grows with them;
 *  - if a thread is needed but cannot be started (no memory, no thread) while no live
 *    thread will come back for the queue (there are none, or all sleep in waits), the
 *    queue is cancelled rather than left for nobody: its futures settle CANCELLED;
 *  - an idle thread exits after idle_ms; exited threads are joined by the next thread
 *    start or by shutdown (a "zombie" list), so none is left unjoined;
 *  - tasks run in submission order; I/O threads never run compute tasks and vice versa;
 *  - shutdown: the executor is marked dead at once (later submissions are discarded, and
 *    hf_executor_post says HF_ECANCELED); the threads finish their current task and
 *    exit; queued tasks are discarded (their futures cancelled);
 *  - lock order: mu is a leaf; tasks run without it.
 */
#include "config.h"

#include "core/io.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/parklot.h"
#include "core/thread.h"
#include "core/tls.h"

struct hfi_io_thread {
    pthread_t th;
    hfi_io_t *io;
    unsigned id;
    hfi_io_thread_t *next;
};

static void unlink_thread(hfi_io_thread_t **list, hfi_io_thread_t *t)
{
    while (*list != t)
        list = &(*list)->next;
    *list = t->next;
}

static void join_zombies(hfi_io_t *io)   /* mu held */
{
    while (io->zombies) {
        hfi_io_thread_t *z = io->zombies;
        io->zombies = z->next;
        pthread_join(z->th, NULL);      /* it has left its loop: returns at once */
        hfi_free(z);
    }
}

static void *io_main(void *arg)
{
    hfi_io_thread_t *me = arg;
    hfi_io_t *io = me->io;
    char name[16];

    snprintf(name, sizeof name, "hfasync-io/%u", me->id);
    hfi_thread_set_name(name);
    hfi_tls.executor = &io->ex;
    hfi_tls.io = io;

    pthread_mutex_lock(&io->mu);
    for (;;) {
        hfi_task_t *t;
        while (!io->head && !io->shutdown) {
            struct timespec ts;
            int rc;
            hfi_abstime(&ts, hfi_now_ns() + (uint64_t)io->idle_ms * 1000000u);
            io->idle++;
            rc = pthread_cond_timedwait(&io->cv, &io->mu, &ts);
            io->idle--;
            if (rc == ETIMEDOUT && !io->head)
                goto out;
        }
        if (io->shutdown)
            break;
        t = io->head;
        io->head = hfi_load_relaxed(&t->next);
        if (!io->head)
            io->tail = NULL;
        io->depth--;
        pthread_mutex_unlock(&io->mu);
        t->fn(t, 1);
        pthread_mutex_lock(&io->mu);
        io->tasks_run++;
    }
out:
    io->live--;
    io->ids[me->id] = 0;
    unlink_thread(&io->threads, me);
    me->next = io->zombies;
    io->zombies = me;
    pthread_cond_broadcast(&io->cv_gone);
    pthread_mutex_unlock(&io->mu);
    hfi_tls.executor = NULL;
    hfi_tls.io = NULL;
    return NULL;
}

/* Start a thread if the queue needs one (see the design notes). If none can be started
 * and no thread is left that will take a task (every live one, if any, is asleep in a
 * wait), nothing would ever run what is queued: the queue is taken out and returned, for
 * the caller to discard (cancel) once it has released mu. Otherwise NULL. */
static hfi_task_t *maybe_start_thread(hfi_io_t *io)   /* mu held */
{
    hfi_io_thread_t *t;
    hfi_task_t *stuck;
    unsigned id = 0;

    if (io->shutdown || io->orphaned || io->depth <= io->idle ||
        io->live - io->blocked >= io->cap)
        return NULL;
    join_zombies(io);
    while (id < io->nids && io->ids[id])
        id++;
    if (id == io->nids) {       /* every number is taken: threads sleep in waits */
        unsigned char *ids = hfi_realloc(io->ids, 2 * (size_t)io->nids);
        if (!ids)
            goto failed;
        memset(ids + io->nids, 0, io->nids);
        io->ids = ids;
        io->nids *= 2;
    }
    if ((t = hfi_malloc(sizeof *t)) == NULL)
        goto failed;
    t->io = io;
    t->id = id;
    if (hfi_thread_start(&t->th, io_main, t, 0) != 0) {
        hfi_free(t);
        goto failed;
    }
    io->ids[id] = 1;
    t->next = io->threads;
    io->threads = t;
    if (++io->live > io->peak)
        io->peak = io->live;
    return NULL;
failed:
    if (io->live > io->blocked)
        return NULL;            /* a running thread will come back for the queue */
    stuck = io->head;
    io->head = io->tail = NULL;
    io->depth = 0;
    return stuck;
}

hfi_io_t *hfi_io_new(hf_runtime_t *rt, unsigned cap, unsigned idle_ms)
{
    hfi_io_t *io = hfi_calloc(1, sizeof *io);
    if (!io)
        return NULL;
    if ((io->ids = hfi_calloc(cap, 1)) == NULL) {
        hfi_free(io);
        return NULL;
    }
    hfi_executor_init(&io->ex, HFI_EX_IO, rt);
    pthread_mutex_init(&io->mu, NULL);
    hfi_cond_init(&io->cv);
    pthread_cond_init(&io->cv_gone, NULL);
    io->cap = cap;
    io->nids = cap;
    io->idle_ms = idle_ms;
    return io;
}

void hfi_io_submit(hfi_io_t *io, hfi_task_t *t)
{
    hfi_task_t *stuck;

    hfi_store_relaxed(&t->next, NULL);
    pthread_mutex_lock(&io->mu);
    if (io->shutdown || atomic_load(&io->ex.dead)) {
        pthread_mutex_unlock(&io->mu);
        hfi_tramp_run(t, 0);
        return;
    }
    if (io->tail)
        hfi_store_relaxed(&io->tail->next, t);
    else
        io->head = t;
    io->tail = t;
    io->depth++;
    if (io->idle > 0)
        pthread_cond_signal(&io->cv);
    stuck = maybe_start_thread(io);
    pthread_mutex_unlock(&io->mu);
    hfi_tramp_discard_list(stuck);
}

void hfi_io_stop(hfi_io_t *io)
{
    pthread_mutex_lock(&io->mu);
    io->shutdown = 1;
    /* From now on a submission is discarded at once, and hf_executor_post() says so
     * (HF_ECANCELED) to a task that still runs here. */
    atomic_store(&io->ex.dead, 1);
    pthread_cond_broadcast(&io->cv);
    pthread_mutex_unlock(&io->mu);
    hfi_parklot_wake_all();
}

void hfi_io_shutdown(hfi_io_t *io)
{
    hfi_task_t *list;

    hfi_io_stop(io);

    pthread_mutex_lock(&io->mu);
    if (!io->orphaned) {
        while (io->live > 0)
            pthread_cond_wait(&io->cv_gone, &io->mu);
        join_zombies(io);
    }
    atomic_store(&io->ex.dead, 1);
    list = io->head;
    io->head = io->tail = NULL;
    io->depth = 0;
    pthread_mutex_unlock(&io->mu);
    hfi_tramp_discard_list(list);
}

void hfi_io_destroy(hfi_io_t *io)
{
    while (io->zombies) {       /* only an orphaned pool can still have records */
        hfi_io_thread_t *z = io->zombies;
        io->zombies = z->next;
        hfi_free(z);
    }
    while (io->threads) {
        hfi_io_thread_t *z = io->threads;
        io->threads = z->next;
        hfi_free(z);
    }
    pthread_mutex_destroy(&io->mu);
    pthread_cond_destroy(&io->cv);
    pthread_cond_destroy(&io->cv_gone);
    hfi_free(io->ids);
    hfi_free(io);
}

void hfi_io_block_begin(hfi_io_t *io)
{
    hfi_task_t *stuck;

    pthread_mutex_lock(&io->mu);
    io->blocked++;
    stuck = maybe_start_thread(io);
    pthread_mutex_unlock(&io->mu);
    hfi_tramp_discard_list(stuck);
}

void hfi_io_block_end(hfi_io_t *io)
{
    pthread_mutex_lock(&io->mu);
    io->blocked--;
    pthread_mutex_unlock(&io->mu);
}

int hfi_io_interrupted(void *arg)
{
    hfi_io_t *io = arg;
    return atomic_load(&io->shutdown);
}

void hfi_io_stats(hfi_io_t *io, hf_runtime_stats_t *s)
{
    pthread_mutex_lock(&io->mu);
    s->io_threads = io->live;
    s->io_threads_idle = io->idle;
    s->io_threads_peak = io->peak;
    s->io_threads_max = io->cap;
    s->io_blocked = io->blocked;
    s->io_tasks_run = io->tasks_run;
    s->io_queue_depth = io->depth;
    pthread_mutex_unlock(&io->mu);
}

void hfi_io_atfork_prepare(hfi_io_t *io)
{
    pthread_mutex_lock(&io->mu);
}

void hfi_io_atfork_parent(hfi_io_t *io)
{
    pthread_mutex_unlock(&io->mu);
}

void hfi_io_atfork_child(hfi_io_t *io)
{
    hfi_cond_init(&io->cv);
    pthread_cond_init(&io->cv_gone, NULL);
    io->live = io->idle = io->blocked = 0;
    io->orphaned = 1;
    atomic_store(&io->ex.dead, 1);
    pthread_mutex_unlock(&io->mu);
}
