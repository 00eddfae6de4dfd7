/*
 * blob_single.c - a blob fetched as one stream: one GET from what the partial file already
 * holds, hashed as it arrives.
 *
 * Design notes
 *  - a resumed request asks for bytes from b->offset; a 200 to it (the server ignored the
 *    Range) or a 416 (the partial file is not a prefix of the blob) starts over from byte 0;
 *  - one step at a time: the sink runs on an engine loop thread, the steps after each
 *    attempt on the I/O pool, never at once, so b->offset and b->hash need no lock;
 *  - a failed attempt counts against max_retries only if it brought the stream no further
 *    than the earlier attempts had (b->reached): a body cut short resumes, and an attempt
 *    that started over (a 200 to our Range) and refetched bytes already had is no
 *    progress. hub.c bounds the attempts in all (hfi_hub_retry_decide).
 */
#include "config.h"

#include "hub/blob_impl.h"

#include <stdio.h>
#include <string.h>

#include "hub/headers.h"

/* ---- single stream ----------------------------------------------------------------------- */

/* A 416 to a resumed request: the partial file is not a prefix of the blob. Once there is
 * nothing to resume, a 416 is an error like any other (a server repeating it cannot loop
 * us). */
static int resume_refused(const hfi_blob_t *b, const hfi_xfer_t *x)
{
    return x->status == 416 && b->offset > 0;
}

static int single_sink(hfi_xfer_t *x, const char *buf, size_t n)
{
    hfi_blob_t *b = x->arg;

    if (resume_refused(b, x))
        return 0;               /* its body is an error page (a CDN's XML): single_done
                                   starts over */
    if (x->status >= 300)
        return hf_error_set(&x->err, hfi_http_error_code(x->status, x->headers[HFI_H_ERROR_CODE]),
                            (int)x->status, "HTTP %ld for %s", x->status, b->path);
    if (b->ranged_request && x->status == 200) {
        /* The server ignored our Range: start over from byte 0 (keeping nothing of
         * what we had, which this body repeats). */
        b->ranged_request = 0;
        if (hfi_blob_rewind_partial(b) < 0)
            return hf_error_set(&x->err, HF_EIO, 0, "cannot restart %s", b->partial_path);
    }
    if (b->ranged_request && x->bytes == n) {   /* the first bytes of a resumed body */
        uint64_t first, last, total;
        if (hfi_parse_content_range(x->headers[HFI_H_CONTENT_RANGE], &first, &last, &total) < 0 ||
            first != b->offset || total != b->size)
            return hf_error_set(&x->err, HF_EPROTO, (int)x->status,
                                "wrong Content-Range for %s", b->path);
    }
    if (b->offset + n > b->size)
        return hf_error_set(&x->err, HF_ECORRUPT, 0, "%s: more bytes than its size (%llu)",
                            b->path, (unsigned long long)b->size);
    if (hfi_blob_write_at(b, x, buf, n, b->offset) < 0)
        return x->err.code;
    hfi_hash_update(&b->hash, buf, n);
    b->offset += n;
    hfi_blob_report(b, b->offset, 0);
    return 0;
}

static void single_retry(hf_future_t *done, hf_promise_t *next, void *arg)
{
    hfi_blob_t *b = arg;
    (void)done;
    hf_promise_resolve(next, NULL, NULL);
    if (atomic_load(&b->cancelled)) {
        hfi_blob_fail_msg(b, HF_ECANCELED, "cancelled");
        return;
    }
    hfi_blob_single_start(b);
}

static void single_done(hf_future_t *done, hf_promise_t *next, void *arg)
{
    hfi_blob_t *b = arg;
    hfi_xfer_t *x = &b->x;
    int code = hfi_future_code(done), progressed;

    hf_promise_resolve(next, NULL, NULL);
    pthread_mutex_lock(&b->mu);
    hfi_pending_set(&b->cur, NULL, NULL);
    pthread_mutex_unlock(&b->mu);
    if (atomic_load(&b->cancelled) || code == HF_ECANCELED) {
        hfi_blob_fail_msg(b, HF_ECANCELED, "cancelled");
        return;
    }
    switch (hfi_blob_follow_redirect(b, x, &b->hops)) {      /* its body (if any) was not written */
    case 0:
        break;
    case 1:
        hfi_blob_single_start(b);
        return;
    default:
        hfi_blob_fail(b, &x->err);
        return;
    }
    if (code == 0 && resume_refused(b, x)) {         /* start over */
        if (hfi_blob_rewind_partial(b) < 0) {
            hfi_blob_fail_msg(b, HF_EIO, "cannot restart its partial file");
            return;
        }
        hfi_blob_single_start(b);
        return;
    }
    if (code == 0 && x->status >= 300)
        code = hf_error_set(&x->err, hfi_http_error_code(x->status, x->headers[HFI_H_ERROR_CODE]),
                            (int)x->status, "HTTP %ld downloading %s", x->status, b->path);
    if (code == 0 && b->offset < b->size)       /* a short body: resume */
        code = hf_error_set(&x->err, HF_ENETWORK, 0, "%s: body ended early", b->path);
    if (code == 0) {
        char hex[65];
        if (hfi_hash_final(&b->hash, hex) < 0) {
            hfi_blob_fail_msg(b, HF_ENOMEM, "cannot hash");
            return;
        }
        hfi_blob_commit(b, hex);
        return;
    }
    if (code != 0 && hfi_blob_url_expired(b, x)) {
        hfi_blob_refresh_url(b, NULL, &x->err);
        return;
    }
    progressed = b->offset > b->reached;
    if (hfi_hub_retry_decide(b->hub, x, code != HF_ECORRUPT && hfi_blob_worth_retrying(x, code),
                             progressed, &b->tries, &x->err) == 1) {
        hf_future_t *d = hfi_hub_retry_after(b->hub, x, b->tries.failed, single_retry, b);
        hfi_blob_pend(b, &b->cur, d, NULL);
        hf_future_release(d);
        return;
    }
    hfi_blob_fail(b, &x->err);
}

void hfi_blob_single_start(hfi_blob_t *b)
{
    if (b->offset > b->reached)
        b->reached = b->offset;
    b->ranged_request = b->offset > 0;
    if (hfi_blob_submit_get(b, &b->x, single_sink, b, b->offset > 0 ? b->offset : UINT64_MAX, UINT64_MAX,
                   &b->cur, single_done, b) < 0)
        hfi_blob_fail_msg(b, HF_ENOMEM, "out of memory");
}
