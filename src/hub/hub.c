/*
 * hub.c - creating and freeing a hub; its statistics; the blocking shim; retries.
 *
 * Design notes
 *  - closing: each operation object (download, blob download, API request, snapshot,
 *    model load) holds the hub from creation to destruction. hf_hub_free marks the hub
 *    closing (new operations get a cancelled future), closes the engine (every transfer
 *    under way and every one submitted from now on ends as cancelled), cancels the retry
 *    delays under way, and waits until no hold is left; only then are the engine and
 *    the hub freed, so that no continuation can find either gone;
 *  - retries: every request (metadata, API, a blob's single stream, each of its ranges)
 *    asks hfi_hub_retry_decide whether a failure is tried again, so the rules are one:
 *      - max_retries failures in a row that brought no new byte end the request. An
 *        attempt that wrote at least one byte past what the earlier ones had does not count
 *        (and starts the run, and its backoff, over): a CDN that cuts every body short
 *        still delivers the file, one resumed piece at a time;
 *      - HFI_TRIES_PER_RETRY x max_retries failures in all end it too, progress or not: a
 *        server that sends one byte per connection would otherwise keep a large range
 *        going for as many connections as it has bytes (with the defaults, 500 attempts,
 *        each after at least backoff_ms);
 *      - a server asking for a longer wait than max_retry_wait_ms (Retry-After, or
 *        RateLimit t= on a 429; both parsed up to 86400 s, overflow protection only) gets
 *        no retry: the request fails at once, with the code its last failure would have
 *        had and a message naming both waits, rather than sleeping for up to a day;
 *  - lock order: hub->mu is a leaf (blob.c takes a blob's mu after it, never before).
 */
#include "config.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/executor.h"
#include "hub/headers.h"
#include "hub/hub_impl.h"

hf_hub_t *hf_hub_new(hf_runtime_t *rt, const hf_hub_config_t *cfg, hf_error_t *err)
{
    hf_hub_config_t none;
    hf_hub_t *hub;

    if (!rt) {
        hf_error_set(err, HF_EINVAL, 0, "no runtime");
        return NULL;
    }
    if (!cfg) {
        memset(&none, 0, sizeof none);
        cfg = &none;
    }
    if ((hub = hfi_calloc(1, sizeof *hub)) == NULL) {
        hf_error_set(err, HF_ENOMEM, 0, "out of memory");
        return NULL;
    }
    static _Atomic uint64_t next_id = 1;
    hub->io = hf_runtime_io(rt);
    hub->compute = hf_runtime_compute(rt);
    hfi_executor_retain(hub->io);
    hfi_executor_retain(hub->compute);
    hub->id = atomic_fetch_add(&next_id, 1);
    pthread_mutex_init(&hub->mu, NULL);
    pthread_cond_init(&hub->idle, NULL);
    if (hfi_hub_configure(hub, cfg, err) < 0 ||
        (hub->engine = hfi_engine_new(hub, rt, hub->engine_threads, err)) == NULL) {
        hfi_hub_unconfigure(hub);
        pthread_cond_destroy(&hub->idle);
        pthread_mutex_destroy(&hub->mu);
        hfi_executor_release(hub->io);
        hfi_executor_release(hub->compute);
        hfi_free(hub);
        return NULL;
    }
    return hub;
}

typedef struct hfi_retry {
    struct hfi_retry *next, *prev;      /* in hub->retries_waiting, under hub->mu */
    hf_hub_t *hub;
    hf_then_fn fn;
    void *arg;
    hf_future_t *delay;
} retry_t;

void hf_hub_free(hf_hub_t *hub)
{
    hf_future_t **delays = NULL;
    size_t n = 0;

    if (!hub)
        return;
    pthread_mutex_lock(&hub->mu);
    hub->closing = 1;
    for (retry_t *r = hub->retries_waiting; r; r = r->next)
        n++;
    if (n && (delays = hfi_calloc(n, sizeof *delays)) != NULL) {
        n = 0;
        for (retry_t *r = hub->retries_waiting; r; r = r->next)
            delays[n++] = hf_future_retain(r->delay);
    }
    pthread_mutex_unlock(&hub->mu);
    hfi_engine_close(hub->engine);
    for (size_t i = 0; delays && i < n; i++) {
        hf_future_cancel(delays[i]);
        hf_future_release(delays[i]);
    }
    hfi_free(delays);
    pthread_mutex_lock(&hub->mu);
    while (hub->holds > 0)
        pthread_cond_wait(&hub->idle, &hub->mu);
    pthread_mutex_unlock(&hub->mu);
    hfi_engine_free(hub->engine);
    hfi_hub_unconfigure(hub);
    pthread_cond_destroy(&hub->idle);
    pthread_mutex_destroy(&hub->mu);
    hfi_executor_release(hub->io);
    hfi_executor_release(hub->compute);
    hfi_free(hub);
}

int hfi_hub_closing(hf_hub_t *hub)
{
    int closing;
    pthread_mutex_lock(&hub->mu);
    closing = hub->closing;
    pthread_mutex_unlock(&hub->mu);
    return closing;
}

int hfi_hub_stopping(hf_hub_t *hub)
{
    /* hf_runtime_free marks the compute pool dead first, then the I/O pool */
    return atomic_load(&hub->compute->dead) || atomic_load(&hub->io->dead) ||
           hfi_hub_closing(hub);
}

int hfi_hub_hold(hf_hub_t *hub, int even_closing)
{
    int rc = 0;
    pthread_mutex_lock(&hub->mu);
    if (hub->closing && !even_closing)
        rc = HF_ECANCELED;
    else
        hub->holds++;
    pthread_mutex_unlock(&hub->mu);
    return rc;
}

void hfi_hub_drop(hf_hub_t *hub)
{
    pthread_mutex_lock(&hub->mu);
    if (--hub->holds == 0 && hub->closing)
        pthread_cond_broadcast(&hub->idle);
    pthread_mutex_unlock(&hub->mu);
}

hf_future_t *hfi_hub_closed_future(void)
{
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f;
    if (!p)
        return NULL;
    f = hf_promise_future(p);
    hf_future_cancel(f);
    hf_promise_free(p);
    return f;
}

uint64_t hfi_hub_id(const hf_hub_t *hub)
{
    return hub->id;
}

const char *hf_hub_endpoint(const hf_hub_t *hub)
{
    return hub ? hub->endpoint : NULL;
}

const char *hf_hub_cache_dir(const hf_hub_t *hub)
{
    return hub ? hub->cache_dir : NULL;
}

int hf_hub_is_offline(const hf_hub_t *hub)
{
    return hub && hub->offline;
}

int hf_hub_has_token(const hf_hub_t *hub)
{
    return hub && hub->token != NULL;
}

int hf_hub_stats(hf_hub_t *hub, hf_hub_stats_t *out)
{
    if (!hub || !out)
        return HF_EINVAL;
    memset(out, 0, sizeof *out);
    hfi_engine_stats(hub->engine, out);
    pthread_mutex_lock(&hub->mu);
    out->retries = hub->retries;
    out->blobs_committed = hub->blobs_committed;
    out->downloads_shared = hub->downloads_shared;
    pthread_mutex_unlock(&hub->mu);
    return 0;
}

int hf_hub_download_blocking(hf_hub_t *hub, const hf_file_ref_t *ref,
                             const hf_download_opts_t *opts, char **path_out, hf_error_t *err)
{
    hf_future_t *f;
    int rc;

    if (!hub || !ref || !path_out)
        return hf_error_set(err, HF_EINVAL, 0, "missing argument");
    *path_out = NULL;
    if ((f = hf_hub_download(hub, ref, opts)) == NULL)
        return hf_error_set(err, HF_ENOMEM, 0, "out of memory");
    rc = hf_future_wait(f, -1);     /* the blocking-safe wait: fine on a compute worker */
    if (rc == 0) {
        switch (hf_future_state(f)) {
        case HF_FUTURE_FULFILLED:
            if ((*path_out = strdup(hf_future_value(f))) == NULL)
                rc = hf_error_set(err, HF_ENOMEM, 0, "out of memory");
            break;
        default: {
            const hf_error_t *e = hf_future_error(f);
            rc = e->code;
            if (err)
                *err = *e;
            break;
        }
        }
    } else {
        hf_future_cancel(f);
        hf_error_set(err, rc, 0, "%s", hf_strerror(rc));
    }
    hf_future_release(f);
    return rc;
}

int hfi_hub_then(hf_hub_t *hub, hf_future_t *f, hf_then_fn fn, void *arg)
{
    hf_future_t *g = hf_future_then_on(f, hub->io, HF_ON_ANY, fn, arg);
    if (!g)
        return HF_ENOMEM;
    hf_future_release(g);
    return 0;
}

int hfi_hub_step(hf_hub_t *hub, hf_then_fn fn, void *arg)
{
    hf_future_t *f = hf_future_resolved(NULL, NULL);
    int rc = f ? hfi_hub_then(hub, f, fn, arg) : HF_ENOMEM;

    hf_future_release(f);
    return rc;
}

int hfi_hub_step_discarded(hf_promise_t *next)
{
    /* a discarded continuation's output is cancelled before it runs, and nobody else holds
     * it (hfi_hub_then let it go): that is the only way this can fail */
    return hf_promise_resolve(next, NULL, NULL) < 0;
}

static void retry_unlink(retry_t *r)
{
    hf_hub_t *hub = r->hub;
    pthread_mutex_lock(&hub->mu);
    if (r->prev)
        r->prev->next = r->next;
    else
        hub->retries_waiting = r->next;
    if (r->next)
        r->next->prev = r->prev;
    pthread_mutex_unlock(&hub->mu);
}

static void retry_fire(hf_future_t *done, hf_promise_t *next, void *arg)
{
    retry_t *r = arg;
    retry_unlink(r);
    hf_future_release(r->delay);
    r->fn(done, next, r->arg);
    hfi_free(r);
}

/* The wait in seconds the response in `x` asks for before a retry: its Retry-After
 * (*replaces = 1: it replaces our backoff), else on a 429 its RateLimit t= (*replaces = 0:
 * it only lengthens our backoff); -1 if none. */
static long server_wait_s(const hfi_xfer_t *x, int *replaces)
{
    long ra;
    *replaces = 0;
    if (!x)
        return -1;
    if ((ra = hfi_parse_retry_after(x->headers[HFI_H_RETRY_AFTER])) >= 0) {
        *replaces = 1;
        return ra;
    }
    return x->status == 429 ? hfi_parse_ratelimit_reset(x->headers[HFI_H_RATELIMIT]) : -1;
}

/* Append to the message of `e`, truncated to fit. */
static void HF_PRINTF(2, 3) append_note(hf_error_t *e, const char *fmt, ...)
{
    size_t used = strnlen(e->message, sizeof e->message - 1);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message + used, sizeof e->message - used, fmt, ap);
    va_end(ap);
}

int hfi_hub_retry_decide(hf_hub_t *hub, const hfi_xfer_t *x, int retryable, int progressed,
                         hfi_tries_t *t, hf_error_t *err)
{
    uint64_t most = (uint64_t)HFI_TRIES_PER_RETRY * hub->max_retries;
    unsigned limit = hub->max_retry_wait_ms;
    long asked;
    int replaces;

    t->total++;
    t->failed = progressed ? 0 : t->failed + 1;
    if (!retryable || t->failed > hub->max_retries)
        return 0;
    if (t->total > most) {
        if (err)
            append_note(err, "; gave up after %u attempts", t->total);
        return 0;
    }
    if ((asked = server_wait_s(x, &replaces)) >= 0 && (uint64_t)asked * 1000 > limit) {
        if (err)
            append_note(err, "; the server asked to retry after %ld s, more than the "
                             "limit of %u%s%.*u s", asked, limit / 1000, limit % 1000 ? "." : "",
                             limit % 1000 ? 3 : 0, limit % 1000);
        return HFI_RETRY_TOO_LONG;
    }
    return 1;
}

hf_future_t *hfi_hub_retry_after(hf_hub_t *hub, const hfi_xfer_t *x, unsigned attempt,
                                 hf_then_fn fn, void *arg)
{
    retry_t *r = NULL;
    uint64_t ms = (uint64_t)hub->backoff_ms << (attempt > 4 ? 3 : attempt ? attempt - 1 : 0);
    hf_future_t *d = NULL;
    int replaces;
    long asked = server_wait_s(x, &replaces);

    if (asked >= 0 && (replaces || (uint64_t)asked * 1000 > ms))
        ms = (uint64_t)asked * 1000;
    pthread_mutex_lock(&hub->mu);
    hub->retries++;
    if (hub->closing)
        ms = 0;                 /* the retry's transfer will be refused at once */
    pthread_mutex_unlock(&hub->mu);
    if ((r = hfi_calloc(1, sizeof *r)) != NULL && (d = hf_future_delay(ms)) != NULL) {
        r->hub = hub;
        r->fn = fn;
        r->arg = arg;
        r->delay = hf_future_retain(d);
        pthread_mutex_lock(&hub->mu);
        r->next = hub->retries_waiting;
        if (r->next)
            r->next->prev = r;
        hub->retries_waiting = r;
        pthread_mutex_unlock(&hub->mu);
        if (hfi_hub_then(hub, d, retry_fire, r) == 0)
            return d;
        retry_unlink(r);
        hf_future_release(r->delay);
        hf_future_release(d);
    }
    /* no memory for a timer: go on at once rather than never */
    hfi_free(r);
    d = hf_future_resolved(NULL, NULL);
    if (d)
        hfi_hub_then(hub, d, fn, arg);
    return d;
}

int hfi_future_code(hf_future_t *f)
{
    switch (hf_future_state(f)) {
    case HF_FUTURE_FULFILLED:
        return 0;
    case HF_FUTURE_CANCELLED:
        return HF_ECANCELED;
    default:
        return hf_future_error(f)->code;
    }
}

void hfi_pending_set(hfi_pending_t *p, hf_future_t *f, hfi_xfer_t *x)
{
    hf_future_release(p->f);
    p->f = hf_future_retain(f);
    p->x = f ? x : NULL;
}

void hfi_pending_stop(hfi_pending_t *p)
{
    if (p->x)
        hfi_engine_abort(p->x);     /* settles once the engine lets go of the request */
    else if (p->f)
        hf_future_cancel(p->f);
}
