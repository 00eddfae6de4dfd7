/*
 * hub_impl.h - the hub object, shared by the files of src/hub.
 */
#ifndef HFI_HUB_IMPL_H
#define HFI_HUB_IMPL_H

#include <pthread.h>

#include "hf/hub.h"
#include "hub/engine.h"

struct hf_hub {
    hf_executor_t *io, *compute;    /* its runtime's pools, retained: they stay allocated
                                       (dead) after hf_runtime_free, where the runtime
                                       itself is gone, so the hub can tell it happened */
    char *endpoint;             /* scheme://host[:port][/path], no trailing '/' */
    char *origin;               /* scheme://host:port of the endpoint (for same-origin tests) */
    char *cache_dir;
    char *token;                /* NULL: none. Never printed. */
    char *auth_header;          /* "Authorization: Bearer <token>" or NULL */
    char *ca_file;
    char *user_agent;
    int offline;
    int copy_instead_of_link;
    int fsync_blobs;
    unsigned etag_timeout_ms, download_timeout_ms, max_retries, backoff_ms;
    unsigned max_retry_wait_ms; /* the longest wait a server may ask for before a retry */
    uint64_t parallel_threshold;
    unsigned conns_per_file, conns_total, engine_threads;
    hfi_engine_t *engine;

    pthread_mutex_t mu;         /* in-flight blob downloads (dedup) and stats */
    struct hfi_blob *inflight;  /* blob downloads under way, under mu */
    uint64_t blobs_committed, downloads_shared, retries;
    uint64_t id;                /* unique for the process's life (hub addresses are reused) */

    /* Closing (see hub.c): every object that uses the hub from a continuation holds it
     * (under mu); hf_hub_free sets `closing`, aborts what is under way and waits for
     * `holds` to reach zero before it frees anything. */
    unsigned long holds;
    int closing;
    pthread_cond_t idle;
    struct hfi_retry *retries_waiting;  /* retry delays under way, cancelled when closing */
};

/* config.c: fill the settings from `cfg` and the environment. */
int hfi_hub_configure(hf_hub_t *hub, const hf_hub_config_t *cfg, hf_error_t *err);
void hfi_hub_unconfigure(hf_hub_t *hub);

/* hub.c: holding the hub for the life of an operation (a download, a blob download, an
 * API request, a snapshot, a model load). Returns 0, or HF_ECANCELED if the hub is
 * closing (unless `even_closing`: for an object created on behalf of one that already
 * holds it). Every successful hold is matched by one drop, the last thing its holder
 * does with the hub. */
int hfi_hub_hold(hf_hub_t *hub, int even_closing);
void hfi_hub_drop(hf_hub_t *hub);
/* 1 once hf_hub_free has begun. */
int hfi_hub_closing(hf_hub_t *hub);
/* 1 once hf_hub_free or hf_runtime_free of the hub's runtime has begun: what stops a
 * download then is a shutdown, never its requesters giving up. */
int hfi_hub_stopping(hf_hub_t *hub);

/* A future that is already cancelled ("the hub is closing"); NULL if memory is short. */
hf_future_t *hfi_hub_closed_future(void);
/* The hub's unique id. */
uint64_t hfi_hub_id(const hf_hub_t *hub);

/* snapshot.c's test hook: make `n` (0: the default, 50,000) the longest siblings list a
 * snapshot trusts (longer ones are listed from the tree); returns the previous value. */
size_t hfi_snapshot_set_large_repo_files(size_t n);

/* hub.c: small shared steps.
 * Continue with `fn(done, next, arg)` on the I/O pool once `f` settles, whatever its
 * state (HF_ON_ANY). Consumes nothing; returns 0 or HF_ENOMEM. */
int hfi_hub_then(hf_hub_t *hub, hf_future_t *f, hf_then_fn fn, void *arg);
/* Run `fn(done, next, arg)` on the I/O pool as a step of its own: an HF_ON_ANY
 * continuation of a settled future, never a posted task. If the runtime is freed while it
 * waits in the queue (a posted task would then be dropped, and what it owns with it), it
 * still runs once, on the discarding thread, where hfi_hub_step_discarded() says so and
 * the step must only clean up. Returns 0, or HF_ENOMEM (`fn` never runs). */
int hfi_hub_step(hf_hub_t *hub, hf_then_fn fn, void *arg);
/* At the top of a step run by hfi_hub_step or hfi_hub_then: settle `next` (nothing else
 * does), and return 1 if the step was discarded by a freed runtime, 0 if it runs as
 * usual. */
int hfi_hub_step_discarded(hf_promise_t *next);
/* Wait before retry number `attempt` (1-based) after the response in `x` (NULL if none):
 * backoff_ms doubled per attempt up to 8x, or the server's Retry-After, or RateLimit t=
 * on a 429. Counts the retry. Returns the delay future (to cancel), continuing as above.
 * Closing the hub cancels the delay (fn then sees it cancelled). Ask hfi_hub_retry_decide
 * first: it refuses the waits longer than max_retry_wait_ms. */
hf_future_t *hfi_hub_retry_after(hf_hub_t *hub, const hfi_xfer_t *x, unsigned attempt,
                                 hf_then_fn fn, void *arg);

/* How many times one request (a metadata or API request, the single stream of a blob, one
 * of its ranges) has failed; zero-initialised. */
typedef struct hfi_tries {
    unsigned failed;            /* failures in a row that brought no new byte; the retry
                                   delay grows with it */
    unsigned total;             /* failures in all, progress or not */
} hfi_tries_t;

/* Each request's attempts in all are bounded at this many times max_retries (see hub.c). */
#define HFI_TRIES_PER_RETRY 100u

/* The one retry decision of every request of the hub. The request failed: `retryable` says
 * whether the failure is of a kind worth another attempt (a dropped connection, a timeout,
 * 408/429/5xx: the caller knows); `progressed` whether this attempt wrote at least one byte
 * past what the earlier ones had (0 for requests without a body to resume). Counts the
 * failure in `*t`. Returns 1: retry, waiting hfi_hub_retry_after(hub, x, t->failed, ...).
 * 0: fail with `err` as it is: not retryable, max_retries failures in a row without
 * progress, or HFI_TRIES_PER_RETRY x max_retries in all (then noted in `err`'s message).
 * HFI_RETRY_TOO_LONG: the response in `x` asks (Retry-After, or RateLimit t= on a 429)
 * for a longer wait than max_retry_wait_ms: fail at once with `err`, whose code is kept
 * and whose message is given "; the server asked to retry after N s, more than the limit
 * of M s". `x` may be NULL (no response); `err` may be NULL. */
#define HFI_RETRY_TOO_LONG 2
int hfi_hub_retry_decide(hf_hub_t *hub, const hfi_xfer_t *x, int retryable, int progressed,
                         hfi_tries_t *t, hf_error_t *err);
/* What a cancellation must stop: a transfer (its future and the request, aborted through
 * the engine) or a delay (cancelled). The owner guards it with its own mutex. */
typedef struct hfi_pending {
    hf_future_t *f;             /* a reference, or NULL */
    hfi_xfer_t *x;              /* the transfer behind `f`, or NULL for a delay */
} hfi_pending_t;
/* Replace what is pending (retaining `f`, releasing the previous one). */
void hfi_pending_set(hfi_pending_t *p, hf_future_t *f, hfi_xfer_t *x);
/* Stop it: abort the transfer, or cancel the delay. Leaves `p` as it is. */
void hfi_pending_stop(hfi_pending_t *p);

/* 0 for a fulfilled future, HF_ECANCELED for a cancelled one, else its error code. */
int hfi_future_code(hf_future_t *f);

/* "scheme://host:port" of a URL (malloc'd), the port made explicit; NULL if not http(s)
 * or its host is missing, holds credentials or is an unclosed IPv6 literal. */
char *hfi_url_origin(const char *url);
/* 1 if `url` has the same origin as the hub's endpoint. */
int hfi_same_origin(const hf_hub_t *hub, const char *url);

#endif /* HFI_HUB_IMPL_H */
