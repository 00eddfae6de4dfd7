/*
 * hub.c - creating and freeing a hub; its statistics; the blocking shim.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
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
    hub->rt = rt;
    pthread_mutex_init(&hub->mu, NULL);
    if (hfi_hub_configure(hub, cfg, err) < 0 ||
        (hub->engine = hfi_engine_new(hub, rt, hub->engine_threads, err)) == NULL) {
        hfi_hub_unconfigure(hub);
        pthread_mutex_destroy(&hub->mu);
        hfi_free(hub);
        return NULL;
    }
    return hub;
}

void hf_hub_free(hf_hub_t *hub)
{
    if (!hub)
        return;
    hfi_engine_free(hub->engine);
    hfi_hub_unconfigure(hub);
    pthread_mutex_destroy(&hub->mu);
    hfi_free(hub);
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
    hf_future_t *g = hf_future_then_on(f, hf_runtime_io(hub->rt), HF_ON_ANY, fn, arg);
    if (!g)
        return HF_ENOMEM;
    hf_future_release(g);
    return 0;
}

hf_future_t *hfi_hub_retry_after(hf_hub_t *hub, const hfi_xfer_t *x, unsigned attempt,
                                 hf_then_fn fn, void *arg)
{
    uint64_t ms = (uint64_t)hub->backoff_ms << (attempt > 4 ? 3 : attempt ? attempt - 1 : 0);
    hf_future_t *d;

    if (x) {
        long ra = hfi_parse_retry_after(x->headers[HFI_H_RETRY_AFTER]);
        long rl = hfi_parse_ratelimit_reset(x->headers[HFI_H_RATELIMIT]);
        if (x->status == 429 && rl >= 0 && (uint64_t)rl * 1000 > ms)
            ms = (uint64_t)rl * 1000;
        if (ra >= 0)
            ms = (uint64_t)ra * 1000;
    }
    pthread_mutex_lock(&hub->mu);
    hub->retries++;
    pthread_mutex_unlock(&hub->mu);
    if ((d = hf_future_delay(ms)) == NULL || hfi_hub_then(hub, d, fn, arg) < 0) {
        /* no memory for a timer: go on at once rather than never */
        hf_future_release(d);
        d = hf_future_resolved(NULL, NULL);
        if (d)
            hfi_hub_then(hub, d, fn, arg);
    }
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
