/*
 * engine.h - HTTP transfers on libcurl's multi interface, driven by a few loops that run
 * as long-lived tasks on the runtime's I/O pool.
 *
 * A transfer is described by an hfi_xfer_t; its callbacks run on the loop's thread; its
 * completion settles the future returned by hfi_engine_submit(). No libcurl function is
 * ever called outside a loop: submitters wake a loop through a pipe.
 */
#ifndef HFI_ENGINE_H
#define HFI_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "hf/hub.h"

typedef struct hfi_engine hfi_engine_t;
typedef struct hfi_xfer hfi_xfer_t;

/* The response headers the protocol reads (the last response's, after redirects). */
enum {
    HFI_H_REPO_COMMIT, HFI_H_ETAG, HFI_H_LINKED_ETAG, HFI_H_LINKED_SIZE, HFI_H_CONTENT_LENGTH,
    HFI_H_LOCATION, HFI_H_CONTENT_RANGE, HFI_H_RETRY_AFTER, HFI_H_RATELIMIT, HFI_H_ERROR_CODE,
    HFI_H_ERROR_MESSAGE, HFI_H_LINK, HFI_H_ACCEPT_RANGES, HFI_H_COUNT
};

struct hfi_xfer {
    /* request: set before submission, then read-only */
    const char *url;
    int head;                   /* HEAD instead of GET */
    int with_auth;              /* send the hub's token (same-origin requests only) */
    uint64_t range_from;        /* UINT64_MAX: no Range header */
    uint64_t range_to;          /* inclusive; UINT64_MAX: open-ended */
    const char *content_type;   /* with `post`: the request body's type */
    const char *post;           /* a POST body (NULL: none) */
    unsigned timeout_ms;        /* inactivity limit: no byte for this long fails it */
    unsigned buffer_size;       /* libcurl's receive buffer in bytes (0: its default,
                                   16 KiB): large bodies read in fewer, larger pieces */
    /* body sink (loop thread): return 0 to go on, an HF_E* code to abort with it. NULL:
     * the body is collected in `body` (at most max_body bytes, else HF_EPROTO). */
    int (*on_body)(hfi_xfer_t *x, const char *buf, size_t n);
    size_t max_body;
    void *arg;
    /* result: valid once the future has settled */
    long status;                /* HTTP status of the last response, 0 if none */
    char *headers[HFI_H_COUNT]; /* malloc'd values, NULL when absent */
    char *body;                 /* collected body (NUL-terminated), when on_body is NULL */
    size_t body_len;
    uint64_t bytes;             /* body bytes received */
    hf_error_t err;             /* why it failed (message has no token) */
    /* engine-private */
    void *priv;
    void *loop;                 /* the loop it was given to (lives as long as the engine) */
    _Atomic int abort;          /* hfi_engine_abort() was called */
};

hfi_engine_t *hfi_engine_new(hf_hub_t *hub, hf_runtime_t *rt, unsigned loops, hf_error_t *err);
/* Cancel every transfer, stop the loops and wait for them. */
void hfi_engine_free(hfi_engine_t *e);
/* Close: abort every transfer under way and refuse (as cancelled) every one submitted
 * from now on; the loops keep running until hfi_engine_free. */
void hfi_engine_close(hfi_engine_t *e);

/*
 * Start `x`. The future settles (on a loop thread) when the transfer ends: fulfilled
 * (value `x`) for any complete HTTP response, whatever its status; rejected with
 * HF_ENETWORK, HF_ETIMEDOUT, HF_ECANCELED or the code on_body returned. Cancelling the
 * future aborts the transfer. `x` must stay valid until the future settles; the caller
 * frees it with hfi_xfer_reset()/its own memory afterwards.
 */
hf_future_t *hfi_engine_submit(hfi_engine_t *e, hfi_xfer_t *x);

/*
 * Abort `x`: its future then settles as CANCELLED once the engine no longer touches `x`.
 * Use this, not hf_future_cancel() on the transfer's future, whenever `x` may be freed
 * right after that future settles: cancelling the future settles it at once, while the
 * loop may still be writing into `x`. Harmless once the transfer has ended.
 */
void hfi_engine_abort(hfi_xfer_t *x);

/* Initialise a request (no range, GET, defaults). */
void hfi_xfer_init(hfi_xfer_t *x, const char *url, unsigned timeout_ms);
/* Free the results (headers, body) and make `x` reusable. */
void hfi_xfer_reset(hfi_xfer_t *x);

/* Counters for hf_hub_stats(). */
void hfi_engine_stats(hfi_engine_t *e, hf_hub_stats_t *out);

#endif /* HFI_ENGINE_H */
