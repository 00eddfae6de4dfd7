/*
 * executor.c - submitting tasks to executors; hf_executor_post, hf_async.
 *
 * Design notes
 *  - an async future and its task are one 128-byte object (hfi_async_t): a submission
 *    takes one object from the thread's free list and no other allocation. With a value
 *    destructor (hf_async_owned) it is a 192-byte object that also holds the destructor:
 *    the future's own `destroy` field belongs to settlement until then;
 *  - the task holds one reference to its future until it has run or been discarded;
 *  - while the function runs, the thread is the future's `driver` (a wait on it from
 *    inside returns HF_EDEADLK) and hf_cancel_requested() watches it.
 */
#include "config.h"

#include "core/alloc.h"
#include "core/compute.h"
#include "core/executor.h"
#include "core/future_impl.h"
#include "core/io.h"
#include "core/tls.h"

static hf_executor_t inline_executor = { HFI_EX_INLINE, 1, 0, NULL };

hf_executor_t *hf_executor_inline(void)
{
    return &inline_executor;
}

void hfi_executor_init(hf_executor_t *ex, int kind, hf_runtime_t *rt)
{
    ex->kind = kind;
    atomic_init(&ex->refs, 1);
    atomic_init(&ex->dead, 0);
    ex->rt = rt;
}

void hfi_executor_submit(hf_executor_t *ex, hfi_task_t *t)
{
    switch (ex->kind) {
    case HFI_EX_COMPUTE:
        hfi_compute_submit((hfi_compute_t *)(void *)ex, t);
        break;
    case HFI_EX_IO:
        hfi_io_submit((hfi_io_t *)(void *)ex, t);
        break;
    default:
        hfi_tramp_run(t, 1);
        break;
    }
}

void hfi_executor_spawn(hf_executor_t *ex, hfi_task_t *t)
{
    if (ex->kind == HFI_EX_COMPUTE)
        hfi_compute_spawn((hfi_compute_t *)(void *)ex, t);
    else
        hfi_executor_submit(ex, t);
}

void hfi_executor_retain(hf_executor_t *ex)
{
    if (ex->kind != HFI_EX_INLINE)
        atomic_fetch_add_explicit(&ex->refs, 1, memory_order_relaxed);
}

void hfi_executor_release(hf_executor_t *ex)
{
    if (ex->kind == HFI_EX_INLINE)
        return;
    if (atomic_fetch_sub_explicit(&ex->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (ex->kind == HFI_EX_COMPUTE)
        hfi_compute_destroy((hfi_compute_t *)(void *)ex);
    else
        hfi_io_destroy((hfi_io_t *)(void *)ex);
}

hf_runtime_t *hf_executor_runtime(hf_executor_t *ex)
{
    return ex ? ex->rt : NULL;
}

hf_executor_t *hf_current_executor(void)
{
    return hfi_tls.executor;
}

/* ---- hf_executor_post ------------------------------------------------------------------ */

typedef struct post {
    hfi_task_t task;
    void (*fn)(void *arg);
    void *arg;
} post_t;

static void post_run(hfi_task_t *t, int run)
{
    post_t *p = HFI_CONTAINER(t, post_t, task);
    void (*fn)(void *) = p->fn;
    void *arg = p->arg;

    hfi_obj_free(p, HFI_OBJ_SMALL);
    if (run)
        fn(arg);
}

int hf_executor_post(hf_executor_t *ex, void (*fn)(void *arg), void *arg)
{
    post_t *p;

    if (!ex || !fn)
        return HF_EINVAL;
    if (atomic_load_explicit(&ex->dead, memory_order_acquire))
        return HF_ECANCELED;
    if ((p = hfi_obj_alloc(sizeof *p)) == NULL)
        return HF_ENOMEM;
    p->task.fn = post_run;
    p->fn = fn;
    p->arg = arg;
    hfi_executor_submit(ex, &p->task);
    return 0;
}

/* ---- hf_async -------------------------------------------------------------------------- */

typedef struct hfi_async {
    hf_future_t f;
    hfi_task_t task;
    hf_task_fn fn;
    void *arg;
} hfi_async_t;

/* hf_async_owned() with a destructor. The destructor stays here, read-only, until the
 * function has run: f->destroy is settlement's, written under the future's lock (a cancel
 * racing with the start of the task clears it), so the task must not read it from there. */
typedef struct hfi_async_owned {
    hfi_async_t a;
    void (*destroy)(void *);
} hfi_async_owned_t;

_Static_assert(sizeof(hfi_async_t) <= HFI_OBJ_LARGE, "an async future fits the large class");
_Static_assert(sizeof(hfi_async_owned_t) <= HFI_OBJ_XLARGE,
               "an owned async future fits the extra-large class");

static void async_body(hfi_async_t *a, int run, void (*destroy)(void *))
{
    hf_future_t *f = &a->f;

    if (!run) {
        hfi_future_cancel(f);
    } else if (hfi_state(f) == HF_FUTURE_PENDING) {
        hfi_tls_t *tl = &hfi_tls;
        hf_future_t *saved = tl->producing;
        hf_error_t err;
        void *v;

        err.code = 0;
        err.http_status = 0;
        err.message[0] = '\0';
        tl->producing = f;
        atomic_store_explicit(&f->driver, hfi_thread_token(), memory_order_relaxed);
        v = a->fn(a->arg, &err);
        atomic_store_explicit(&f->driver, NULL, memory_order_relaxed);
        tl->producing = saved;
        if (err.code < 0) {
            if (v && destroy)
                destroy(v);
            hfi_future_reject_copy(f, &err);
        } else if (hfi_future_settle(f, HF_FUTURE_FULFILLED, v, destroy, NULL, 0, NULL) < 0) {
            if (v && destroy)       /* cancelled while it ran: nobody will free it */
                destroy(v);
        }
    }
    hf_future_release(f);
}

static void async_run(hfi_task_t *t, int run)
{
    async_body(HFI_CONTAINER(t, hfi_async_t, task), run, NULL);
}

static void async_run_owned(hfi_task_t *t, int run)
{
    hfi_async_owned_t *o = HFI_CONTAINER(t, hfi_async_owned_t, a.task);
    async_body(&o->a, run, o->destroy);
}

hf_future_t *hf_async_owned(hf_executor_t *ex, hf_task_fn fn, void *arg,
                            void (*destroy)(void *))
{
    hfi_async_t *a;

    if (!ex || !fn)
        return NULL;
    if ((a = hfi_obj_alloc(destroy ? sizeof(hfi_async_owned_t) : sizeof *a)) == NULL)
        return NULL;
    hfi_future_init(&a->f, 2);          /* the caller's reference and the task's */
    a->f.flags = HFI_FL_RT_OWNED;
    a->task.fn = async_run;
    if (destroy) {
        a->f.flags |= HFI_FL_XLARGE;    /* freed as the class it was allocated in */
        ((hfi_async_owned_t *)(void *)a)->destroy = destroy;
        a->task.fn = async_run_owned;
    }
    a->fn = fn;
    a->arg = arg;
    hfi_executor_spawn(ex, &a->task);
    return &a->f;
}

hf_future_t *hf_async(hf_executor_t *ex, hf_task_fn fn, void *arg)
{
    return hf_async_owned(ex, fn, arg, NULL);
}
