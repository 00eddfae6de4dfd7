/*
 * blob_fetch.c - what a blob's two ways of fetching share: starting a GET, deciding
 * whether a failure is worth another attempt, following redirects, asking the Hub for a
 * newly signed URL, and writing bytes into the partial file.
 *
 * Design notes
 *  - failures worth retrying (dropped connection, inactivity timeout, 408/429/5xx) wait
 *    (1, 2, 4, 8, 8 x backoff, or Retry-After / RateLimit t=) and resume where they
 *    stopped; whether they are tried again is hfi_hub_retry_decide's call (hub.c: the
 *    failures that wrote bytes are free, a server's wait past max_retry_wait_ms is not
 *    waited out);
 *  - a GET answered with a redirect (301, 302, 303, 307, 308: a CDN sending us on) follows
 *    its Location, resolved against the URL asked (RFC 3986) and only if http(s); the
 *    target becomes the blob's URL, so the ranges still to come go straight there. At most
 *    10 redirects in a row per transfer (then HF_EPROTO: a loop); the sinks never write a
 *    3xx body. The token goes with no request once a redirect has left the Hub's origin
 *    (and engine.c never sends it off that origin);
 *  - URLs replaced by a redirect or a refresh stay with the blob until it goes: a transfer
 *    may still point at one;
 *  - writes start going to disk every HFI_WRITEBACK_STEP bytes (hub/writeback.h), so that
 *    the fsync before the rename, when the hub asks for one (fsync_blobs), has little left;
 *  - b->url and b->with_auth are read and replaced under b->mu; a transfer started after
 *    the download was cancelled, or after one of its ranges failed (b->failed_code), is
 *    aborted at once (the check and the pending slot are under b->mu, as the stop is);
 *  - a redirect with an empty Location is refused at once (HF_EPROTO), as one without a
 *    Location is, instead of being resolved to the URL asked and followed ten times;
 *  - a step that starts on its own (the download's start, the hasher) is a continuation of a
 *    settled future (hfi_hub_step), not a posted task: if the runtime is freed while it is
 *    queued, a posted task would never run and the blob it owns would leak with its
 *    requesters' futures pending; the continuation runs then, on the discarding thread,
 *    and settles the download as cancelled.
 */
#include "config.h"

#include "hub/blob_impl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "hub/headers.h"
#include "hub/writeback.h"

/* ---- waiting between attempts ---------------------------------------------------------- */

int hfi_blob_worth_retrying(const hfi_xfer_t *x, int code)
{
    if (code == HF_ENETWORK || code == HF_ETIMEDOUT)
        return 1;
    return x->status && hfi_http_retryable(x->status);
}

/* Start a GET of b->url for bytes [from, to] (UINT64_MAX: no Range / open end) into
 * `sink(x, ...)` with `arg`; remember it in *slot (replacing the delay an attempt waited
 * on) so that a cancellation reaches it; continue with `then(done, next, then_arg)` on the
 * I/O pool. Returns 0 or HF_ENOMEM. */
void hfi_blob_pend(hfi_blob_t *b, hfi_pending_t *slot, hf_future_t *f, hfi_xfer_t *x)
{
    pthread_mutex_lock(&b->mu);
    hfi_pending_set(slot, f, x);
    if (atomic_load(&b->cancelled) || b->failed_code)
        hfi_pending_stop(slot);
    pthread_mutex_unlock(&b->mu);
}

int hfi_blob_submit_get(hfi_blob_t *b, hfi_xfer_t *x, int (*sink)(hfi_xfer_t *, const char *, size_t),
                      void *arg, uint64_t from, uint64_t to, hfi_pending_t *slot,
                      hf_then_fn then, void *then_arg)
{
    hf_future_t *f;

    hfi_xfer_reset(x);
    pthread_mutex_lock(&b->mu);         /* a refresh or a redirect may replace them */
    hfi_xfer_init(x, b->url, b->hub->download_timeout_ms);
    x->with_auth = b->with_auth;
    pthread_mutex_unlock(&b->mu);
    x->on_body = sink;
    x->arg = arg;
    x->range_from = from;
    x->range_to = to;
    /* bodies of a MiB and more come in 256 KiB reads, a quarter of the syscalls and
     * callbacks of the default; small files keep libcurl's 16 KiB (memory per transfer) */
    if ((to == UINT64_MAX ? b->size - from : to - from + 1) >= (1u << 20))
        x->buffer_size = 256u << 10;
    if ((f = hfi_engine_submit(b->hub->engine, x)) == NULL)
        return HF_ENOMEM;
    hfi_blob_pend(b, slot, f, x);   /* replaces the delay this attempt waited on, if any */
    hfi_hub_then(b->hub, f, then, then_arg);
    hf_future_release(f);
    return 0;
}

/* ---- redirects ----------------------------------------------------------------------------- */

#define MAX_REDIRECTS 10

/* Make `fresh` (hfi_malloc'd, taken) the URL of every transfer from now on; the old one
 * stays with the blob (transfers may still point at it). With b->mu held. */
static void replace_url(hfi_blob_t *b, char *fresh, struct old_url *o)
{
    o->url = b->url;
    o->next = b->old_urls;
    b->old_urls = o;
    b->url = fresh;
}

/* If `x` ended in a redirect (301, 302, 303, 307 or 308 with a Location), its target,
 * resolved against the URL asked, becomes the blob's URL: the caller starts its transfer
 * again (there, the ranges still to come go straight there too) and gets 1. 0: not a
 * redirect (the run of redirects `*hops` counts ends). An HF_E* code, in x->err: not to be
 * followed, as the 11th redirect in a row (a loop), an empty Location or one that is not
 * http(s).
 * Once a target leaves the Hub's origin, the token is never sent again (engine.c sends it
 * only to the Hub's origin anyway). */
int hfi_blob_follow_redirect(hfi_blob_t *b, hfi_xfer_t *x, unsigned *hops)
{
    const char *loc = x->headers[HFI_H_LOCATION];
    struct old_url *o;
    char *target;
    int rc;

    if (!hfi_http_redirect(x->status) || !loc) {
        *hops = 0;
        return 0;
    }
    if (++*hops > MAX_REDIRECTS)
        return hf_error_set(&x->err, HF_EPROTO, (int)x->status,
                            "%s: more than %d redirects (a redirect loop?)", b->path,
                            MAX_REDIRECTS);
    /* An empty Location names no target (RFC 3986 would resolve it to the URL asked,
     * and following that is a loop ten hops long): refused like a missing one. */
    if (loc[0] == '\0')
        return hf_error_set(&x->err, HF_EPROTO, (int)x->status,
                            "%s: HTTP %ld redirect with an empty Location", b->path, x->status);
    if ((rc = hfi_url_resolve(x->url, loc, &target)) < 0)
        return hf_error_set(&x->err, rc, (int)x->status, "%s: %s", b->path,
                            rc == HF_ENOMEM ? "out of memory"
                            : "redirect to a Location that is not an http(s) URL (not followed)");
    if ((o = hfi_malloc(sizeof *o)) == NULL) {
        hfi_free(target);
        return hf_error_set(&x->err, HF_ENOMEM, 0, "%s: out of memory", b->path);
    }
    pthread_mutex_lock(&b->mu);
    if (!hfi_same_origin(b->hub, target))
        b->with_auth = 0;
    replace_url(b, target, o);
    pthread_mutex_unlock(&b->mu);
    return 1;
}

/* ---- signed URLs that expire ------------------------------------------------------------- */

#define MAX_REFRESHES 16

/* A CDN's signed URL lives about an hour; a large file takes longer, and its later ranges
 * (or a retry) then get 403. Asking the Hub again (a HEAD of the resolve URL, with the
 * token) gives a freshly signed one; the transfer that met the 403 starts again with it.
 * Several transfers may refresh at once: each takes the newest URL there is. */
typedef struct refresh {
    hfi_blob_t *b;
    chunk_t *c;                 /* NULL: the single stream */
    hfi_xfer_t x;
    hf_error_t cause;           /* the 403, reported if the refresh does not help */
} refresh_t;

/* The transfer `c` (NULL: the single stream) ends with `err`. */
static void transfer_failed(hfi_blob_t *b, chunk_t *c, const hf_error_t *err)
{
    if (c)
        hfi_blob_chunk_settled(c, err->code, err);
    else
        hfi_blob_fail(b, err);
}

/* 1 if `x` met a 403 from a CDN whose URL the Hub can sign again. */
int hfi_blob_url_expired(hfi_blob_t *b, const hfi_xfer_t *x)
{
    int yes;
    pthread_mutex_lock(&b->mu);
    yes = x->status == 403 && !b->with_auth && b->resolve_url && b->refreshes < MAX_REFRESHES;
    if (yes)
        b->refreshes++;
    pthread_mutex_unlock(&b->mu);
    return yes;
}

static void refreshed(hf_future_t *done, hf_promise_t *next, void *arg)
{
    refresh_t *r = arg;
    hfi_blob_t *b = r->b;
    const char *loc = r->x.headers[HFI_H_LOCATION];
    char *fresh = NULL;
    struct old_url *o = NULL;

    /* a new CDN URL: the Location of a 3xx, resolved, http(s), off the Hub's origin */
    if (hf_future_state(done) == HF_FUTURE_FULFILLED && r->x.status >= 300 &&
        r->x.status < 400 && loc && hfi_url_resolve(b->resolve_url, loc, &fresh) == 0 &&
        (hfi_same_origin(b->hub, fresh) || (o = hfi_malloc(sizeof *o)) == NULL)) {
        hfi_free(fresh);
        fresh = NULL;
    }
    hf_promise_resolve(next, NULL, NULL);
    pthread_mutex_lock(&b->mu);
    hfi_pending_set(r->c ? &r->c->cur : &b->cur, NULL, NULL);
    if (fresh)
        replace_url(b, fresh, o);
    pthread_mutex_unlock(&b->mu);
    if (atomic_load(&b->cancelled)) {
        hf_error_set(&r->cause, HF_ECANCELED, 0, "cancelled");
        fresh = NULL;
    }
    if (!fresh)
        transfer_failed(b, r->c, &r->cause);
    else if (r->c)
        hfi_blob_chunk_start(r->c);
    else
        hfi_blob_single_start(b);
    hfi_xfer_reset(&r->x);
    hfi_free(r);
}

/* Ask the Hub for a new URL, then start `c` (or the single stream) again with it; if that
 * fails, the transfer ends with `cause`. */
void hfi_blob_refresh_url(hfi_blob_t *b, chunk_t *c, const hf_error_t *cause)
{
    refresh_t *r = hfi_calloc(1, sizeof *r);
    hf_future_t *f = NULL;

    if (r) {
        r->b = b;
        r->c = c;
        r->cause = *cause;
        hfi_xfer_init(&r->x, b->resolve_url, b->hub->etag_timeout_ms);
        r->x.head = 1;
        r->x.with_auth = 1;
        r->x.max_body = 0;
        f = hfi_engine_submit(b->hub->engine, &r->x);
    }
    if (!f) {
        hfi_free(r);
        transfer_failed(b, c, cause);
        return;
    }
    hfi_blob_pend(b, c ? &c->cur : &b->cur, f, &r->x);
    hfi_hub_then(b->hub, f, refreshed, r);
    hf_future_release(f);
}

/* ---- writing ----------------------------------------------------------------------------- */

/* pwrite all `n` bytes at `off` of the partial file; HF_EIO (in x->err) if it fails, as
 * when the disk is full. With fsync_blobs, each time the writes cross a multiple of
 * HFI_WRITEBACK_STEP the step just filled starts going to disk, so that the fsync before
 * the commit has little left to wait for. */
int hfi_blob_write_at(hfi_blob_t *b, hfi_xfer_t *x, const char *buf, size_t n, uint64_t off)
{
    uint64_t step_end = (off + n) / HFI_WRITEBACK_STEP * HFI_WRITEBACK_STEP;

    for (size_t done = 0; done < n;) {
        ssize_t w = pwrite(b->fd, buf + done, n - done, (off_t)(off + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return hf_error_set(&x->err, HF_EIO, 0, "cannot write %s: %s", b->partial_path,
                                strerror(errno));
        done += (size_t)w;
    }
    if (b->hub->fsync_blobs && step_end > off)
        hfi_writeback_start(b->fd, step_end - HFI_WRITEBACK_STEP, HFI_WRITEBACK_STEP);
    return 0;
}
