/*
 * blob_impl.h - what the four files of one blob's download share: the blob, its ranges,
 * and the steps each file offers the others. blob.c joins, decides, verifies and commits;
 * blob_fetch.c holds what both ways of fetching need; blob_single.c fetches one stream;
 * blob_ranges.c fetches byte ranges and hashes them in order. Nothing else includes it.
 */
#ifndef HFI_BLOB_IMPL_H
#define HFI_BLOB_IMPL_H

#include <pthread.h>
#include <stdatomic.h>

#include "hub/blob.h"
#include "hub/callgate.h"
#include "hub/hash.h"

#define CHUNK_MIN (1u << 20)     /* ranges smaller than this are not worth a connection, and
                                    smaller files come in one stream */

typedef struct chunk {
    hfi_blob_t *b;
    uint64_t from, len, got;    /* got: bytes already written */
    uint64_t got_before;        /* `got` when its current attempt started */
    hfi_tries_t tries;          /* its failures (hub.c: those that wrote bytes are free) */
    unsigned hops;              /* redirects in a row */
    hfi_xfer_t x;
    hfi_pending_t cur;          /* under b->mu */
    int done;
} chunk_t;

struct hfi_blob {
    _Atomic int refs;
    hf_hub_t *hub;
    struct hfi_blob *tnext;     /* in hub->inflight */
    unsigned requesters;        /* under hub->mu */
    _Atomic int cancelled;
    hf_promise_t *done;
    char *blob_path, *partial_path, *lock_path, *url, *repo_id, *path;
    char *repo_dir;             /* no symlinked folder below it is written through */
    char *resolve_url;          /* the Hub URL that redirected to `url` (NULL: none) */
    struct old_url {            /* URLs replaced by a refresh or a redirect: transfers may
                                   still point at them, so they go with the blob */
        struct old_url *next;
        char *url;
    } *old_urls;
    unsigned refreshes;         /* under mu */
    char etag[65];
    uint64_t size;
    int with_auth;              /* under mu: 0 for good once a redirect left the Hub */
    int lock_fd, fd;
    int unlocked;               /* the lock file holds no lock: expect other writers */
    int resumed;                /* the partial file began with bytes of an earlier run */
    int force;                  /* fetch even if blobs/<etag> is there (its first request's) */

    pthread_mutex_t mu;
    hfi_pending_t cur;          /* single stream: the transfer (or delay) to stop */
    hfi_callgate_t gate;        /* calling the listeners; gate.mu guards them */
    struct listener {
        hf_progress_fn fn;
        void *arg;
        const char *repo_id, *path;     /* the requester's (borrowed until it leaves) */
        int gone;                       /* left while the gate was open: skipped */
    } *listeners;
    size_t nlisteners, listeners_cap;
    uint64_t reported;          /* bytes at the last progress report */
    uint64_t last_report_ns;

    /* single stream (one step at a time) */
    uint64_t offset;
    hfi_hash_t hash;
    hfi_xfer_t x;
    hfi_tries_t tries;          /* the stream's failures (hub.c: those that wrote bytes
                                   past `reached` are free) */
    uint64_t reached;           /* the furthest offset an attempt had written to when the
                                   current one started */
    unsigned restarts;          /* spoiled partial files fetched again (blob.c): at most
                                   max_retries, whatever the stream's tries */
    unsigned hops;              /* redirects in a row */
    int ranged_request;

    /* ranges */
    chunk_t *chunks;
    unsigned nchunks, next_chunk, running, finished;
    uint64_t base;              /* bytes before the first chunk: resumed, already in */
    uint64_t hashed;            /* the prefix hashed so far (by hash_step) */
    char *done_path;            /* ranged: <partial>.done, the prefix known written */
    int hashing;                /* a hash_step is posted or running */
    int ended;                  /* the download was settled (failure reported or commit) */
    int to_single;              /* a range was answered 200 (Range ignored): once the ranges
                                   have stopped, the rest comes as one stream */
    _Atomic int ranges_honoured;/* some range was answered 206 with bytes */
    int failed_code;
    hf_error_t failed_err;
    _Atomic uint64_t range_bytes;
};

/* ---- blob.c ---------------------------------------------------------------------------- */

/* Drop a reference; the last frees the blob (and the hub's reference it holds). */
void hfi_blob_unref(hfi_blob_t *b);
/* Let go of the chunk table, none of whose chunks is live any more. */
void hfi_blob_free_chunks(hfi_blob_t *b);
/* Tell the listeners `done` bytes are in: at most every PROGRESS_NS, unless `force`. */
void hfi_blob_report(hfi_blob_t *b, uint64_t done, int force);
/* The download failed with `err` (once: later calls do nothing). */
void hfi_blob_fail(hfi_blob_t *b, const hf_error_t *err);
void hfi_blob_fail_msg(hfi_blob_t *b, int code, const char *msg);
/* Start the partial file over, empty (a new file where other writers may share it).
 * Returns 0 or HF_EIO. */
int hfi_blob_rewind_partial(hfi_blob_t *b);
/* All bytes are in and hash to `hex`: check it against the etag and size, then rename the
 * partial file into blobs/<etag>, or fail. */
void hfi_blob_commit(hfi_blob_t *b, const char *hex);
/* Open (or create) the partial file at `path`, never through a symlink. Returns the
 * descriptor or a negative HF_E* (in `err`). */
int hfi_blob_open_partial(const char *path, hf_error_t *err);

/* ---- blob_fetch.c ---------------------------------------------------------------------- */

/* Remember in `slot` what a step now waits on (`f`; `x` if it is a transfer), so that a
 * cancellation reaches it, and stop it at once if the download is already over
 * (cancelled, or one of its ranges failed: b->failed_code). Takes b->mu. */
void hfi_blob_pend(hfi_blob_t *b, hfi_pending_t *slot, hf_future_t *f, hfi_xfer_t *x);
/* Whether a transfer that failed with `code` is worth another attempt. */
int hfi_blob_worth_retrying(const hfi_xfer_t *x, int code);
/* Start a GET of b->url for bytes [from, to] (UINT64_MAX: no Range / open end) into
 * `sink(x, ...)` with `arg`; remember it in *slot so that a cancellation reaches it; go on
 * with `then(done, next, then_arg)` on the I/O pool. Returns 0 or HF_ENOMEM. */
int hfi_blob_submit_get(hfi_blob_t *b, hfi_xfer_t *x,
                        int (*sink)(hfi_xfer_t *, const char *, size_t), void *arg,
                        uint64_t from, uint64_t to, hfi_pending_t *slot, hf_then_fn then,
                        void *then_arg);
/* If `x` was answered with a redirect to follow, make its target the blob's URL and
 * return 1 (the caller asks again); 0 if it was no redirect; negative (in x->err) if it
 * cannot be followed. `hops` counts the redirects in a row. */
int hfi_blob_follow_redirect(hfi_blob_t *b, hfi_xfer_t *x, unsigned *hops);
/* Whether `x` failed as a signed URL that expired does (a 403 from the CDN). */
int hfi_blob_url_expired(hfi_blob_t *b, const hfi_xfer_t *x);
/* Ask the Hub for a newly signed URL, then start the transfer `c` (NULL: the single
 * stream) again with it; `cause` is reported if that does not help. */
void hfi_blob_refresh_url(hfi_blob_t *b, chunk_t *c, const hf_error_t *cause);
/* pwrite all `n` bytes at `off` of the partial file. Returns 0 or HF_EIO (in x->err). */
int hfi_blob_write_at(hfi_blob_t *b, hfi_xfer_t *x, const char *buf, size_t n, uint64_t off);

/* ---- blob_single.c --------------------------------------------------------------------- */

/* Fetch the blob from b->offset as one stream. */
void hfi_blob_single_start(hfi_blob_t *b);

/* ---- blob_ranges.c --------------------------------------------------------------------- */

/* Fetch the blob as byte ranges (the partial file is open and locked). */
void hfi_blob_ranged_start(hfi_blob_t *b);
/* Fetch every range again from byte 0 (a resumed whole failed its hash). */
void hfi_blob_ranged_restart(hfi_blob_t *b);
/* (Re)start the transfer of one range. */
void hfi_blob_chunk_start(chunk_t *c);
/* One range ended with `code` (0: all its bytes are in). */
void hfi_blob_chunk_settled(chunk_t *c, int code, const hf_error_t *err);

#endif /* HFI_BLOB_IMPL_H */
