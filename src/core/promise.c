/*
 * promise.c - the write end of a future.
 *
 * A promise is its future seen from the producer's side: hf_promise_t * and hf_future_t *
 * point to the same object, and the promise owns one reference, dropped by
 * hf_promise_free(). The promise handed to a continuation (`next`) is owned by the runtime
 * (HFI_FL_RT_OWNED): hf_promise_free() on it is ignored instead of freeing it twice.
 *
 * A promise that adopts a pending future (its `link` is set, hf_promise_adopt) is resolved
 * though not yet settled, as a JavaScript promise resolved with a thenable: resolve and
 * reject refuse it with HF_ESTATE, and hf_promise_free() lets it follow the adopted future
 * instead of breaking it. Its link is set once, under its lock, and cleared only when it
 * settles, so the check below needs no other lock.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "core/alloc.h"
#include "core/errfmt.h"
#include "core/future_impl.h"
#include "core/tls.h"

#define PF(p) ((hf_future_t *)(void *)(p))

/* Pending and adopting another future: settled by that future, by nobody else. */
static int adopting(hf_future_t *f)
{
    int r;

    hfi_spin_lock(&f->lock);
    r = hfi_load_relaxed(&f->state) == HF_FUTURE_PENDING && f->link != NULL;
    hfi_spin_unlock(&f->lock);
    return r;
}

hf_promise_t *hf_promise_new(void)
{
    return (hf_promise_t *)(void *)hfi_future_new();
}

hf_future_t *hf_promise_future(hf_promise_t *p)
{
    return p ? hf_future_retain(PF(p)) : NULL;
}

int hf_promise_resolve(hf_promise_t *p, void *value, void (*destroy)(void *))
{
    if (!p)
        return HF_EINVAL;
    if (adopting(PF(p)))
        return HF_ESTATE;
    return hfi_future_settle(PF(p), HF_FUTURE_FULFILLED, value, destroy, NULL, 0, NULL);
}

int hfi_promise_resolve_last(hf_promise_t *p, void *value, void (*destroy)(void *))
{
    if (!p)
        return HF_EINVAL;
    if (adopting(PF(p))) {
        hf_promise_free(p);
        return HF_ESTATE;
    }
    return hfi_future_settle_consume(PF(p), value, destroy);
}

int hf_promise_reject(hf_promise_t *p, const hf_error_t *err)
{
    if (!p || !err || err->code >= 0)
        return HF_EINVAL;
    if (adopting(PF(p)))
        return HF_ESTATE;
    return hfi_future_reject_copy(PF(p), err);
}

int hf_promise_rejectf(hf_promise_t *p, int code, int http_status, const char *fmt, ...)
{
    hf_error_t err;
    va_list ap;

    if (!p || code >= 0)
        return HF_EINVAL;
    if (adopting(PF(p)))
        return HF_ESTATE;
    va_start(ap, fmt);
    hfi_error_vset(&err, code, http_status, fmt, ap);
    va_end(ap);
    return hfi_future_reject_copy(PF(p), &err);
}

int hf_promise_adopt(hf_promise_t *p, hf_future_t *f)
{
    if (!p || !f)
        return HF_EINVAL;
    return hfi_future_adopt(PF(p), f);
}

typedef struct user_hook {
    void (*fn)(void *arg);
    void *arg;
} user_hook_t;

static void user_hook_call(hf_future_t *f, void *arg, int state)
{
    user_hook_t *h = arg;
    (void)f;
    if (state == HF_FUTURE_CANCELLED)
        h->fn(h->arg);
    hfi_obj_free(h, HFI_OBJ_SMALL);
}

int hf_promise_on_cancel(hf_promise_t *p, void (*fn)(void *arg), void *arg)
{
    user_hook_t *h;
    int rc;

    if (!p || !fn)
        return HF_EINVAL;
    if (hfi_state(PF(p)) == HF_FUTURE_CANCELLED) {
        fn(arg);
        return 0;
    }
    if ((h = hfi_obj_alloc(sizeof *h)) == NULL)
        return HF_ENOMEM;
    h->fn = fn;
    h->arg = arg;
    if ((rc = hfi_future_set_hook(PF(p), user_hook_call, h)) < 0) {
        hfi_obj_free(h, HFI_OBJ_SMALL);
        if (hfi_state(PF(p)) == HF_FUTURE_CANCELLED) {  /* cancelled meanwhile */
            fn(arg);
            return 0;
        }
    }
    return rc;
}

int hf_promise_is_cancelled(const hf_promise_t *p)
{
    return p && hfi_state((const hf_future_t *)(const void *)p) == HF_FUTURE_CANCELLED;
}

int hf_promise_bind_thread(hf_promise_t *p)
{
    if (!p)
        return HF_EINVAL;
    hfi_spin_lock(&PF(p)->lock);
    if (hfi_load_relaxed(&PF(p)->state) != HF_FUTURE_PENDING) {
        hfi_spin_unlock(&PF(p)->lock);
        return HF_ESTATE;
    }
    if (!(PF(p)->flags & HFI_FL_BOUND) ||
        atomic_load_explicit(&PF(p)->driver, memory_order_relaxed) != hfi_thread_token()) {
        PF(p)->flags |= HFI_FL_BOUND;
        hfi_tls.drives++;
    }
    atomic_store_explicit(&PF(p)->driver, hfi_thread_token(), memory_order_relaxed);
    hfi_spin_unlock(&PF(p)->lock);
    return 0;
}

void hf_promise_free(hf_promise_t *p)
{
    hf_future_t *f = PF(p);

    int rt_owned;

    if (!p)
        return;
    hfi_spin_lock(&f->lock);
    rt_owned = f->flags & HFI_FL_RT_OWNED;
    hfi_spin_unlock(&f->lock);
    if (rt_owned)                       /* a continuation's `next`: not the caller's */
        return;
    if (hfi_state(f) == HF_FUTURE_PENDING && !adopting(f))
        hfi_future_settle(f, HF_FUTURE_REJECTED, NULL, NULL, &hfi_err_broken, 0, NULL);
    hf_future_release(f);
}
