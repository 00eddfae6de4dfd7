/*
 * download.c - hf_hub_download: one file, from metadata request to snapshot link.
 *
 * Design notes
 *  - checks of the caller's names happen in the calling thread (no I/O); everything else
 *    runs on the I/O pool, as steps chained on engine futures with HF_ON_ANY (so each step
 *    runs whatever happened, and owns the cleanup);
 *  - metadata: a HEAD to {endpoint}/{prefix}{repo}/resolve/{quote(rev)}/{quote(path)} with
 *    the token. A Location is resolved against the URL asked (RFC 3986: "/x", "x", "../x",
 *    "//host/x" alike) and refused unless it is http(s) (HF_EPROTO, nothing fetched); a
 *    target on the endpoint's origin (scheme, host and port; a renamed repo's 307, relative
 *    or absolute) is the Hub: followed with the token, at most 10 times; any other is the
 *    CDN: that 3xx's headers carry the metadata and its resolved Location is where the
 *    bytes come from (without the token; the blob download follows that GET's own
 *    redirects). X-Repo-Commit is required, and must be the revision when that is a
 *    commit (another is HF_EPROTO, nothing written: a commit never changes); the etag is
 *    X-Linked-Etag or ETag; the size X-Linked-Size, or Content-Length when not a 3xx, at
 *    most INT64_MAX (an off_t);
 *  - a revision that is a commit already in the cache makes no request; offline mode makes
 *    none at all, and refuses a forced download (HF_EOFFLINE, as huggingface_hub). When
 *    the HEAD fails (network, 5xx or 429 after retries, another 4xx without
 *    X-Error-Code, an answer without X-Repo-Commit, ETag or size: a proxy) the cache
 *    answers for the revision if it can, else the error stands, as huggingface_hub's
 *    _get_metadata_or_catch_error. Unlike it, RepoNotFound, GatedRepo and 401/403 are
 *    reported even when the file is cached (as RevisionNotFound and EntryNotFound are by
 *    both). Never a cached answer for a forced download or a metadata request;
 *  - EntryNotFound with a commit writes .no_exist/<commit>/<path>; refs/<rev> is written
 *    when the revision is not the commit (not for hf_hub_file_metadata, which writes
 *    nothing, as huggingface_hub's get_hf_file_metadata);
 *  - the bytes are fetched by a shared blob download (blob.c); then the snapshot link,
 *    made holding the blob's lock (<cache>/.locks/<folder>/<etag>.lock) from the check that
 *    blobs/<etag> is there until the link exists: hf_cache_remove (cache_remove.c) deletes a
 *    blob only under that lock, after looking again for links to it, so the link never
 *    dangles. The lock is tried, never waited for on an I/O thread while its holder may be
 *    a blob download of this process that needs one: when it is held (a writer of the
 *    blob, a removal, another link), we join a blob download instead, whose start waits
 *    for the lock and then finds the blob there or fetches it again, and link after it.
 *    Only after LINK_ROUNDS such rounds do we wait for the lock here (ending on cancel or
 *    hf_hub_free). Without flock, or without a lock file (a read-only cache, where a
 *    removal cannot lock, so delete, that blob either), the link is made unguarded;
 *  - lock order: the blob's lock is a leaf: taken with no mutex held and nothing else
 *    taken under it (blob.c holds it only while its download runs, then lets it go);
 *  - cancelling the returned future aborts the metadata request, or leaves the blob
 *    download (the last requester to leave cancels it);
 *  - once a cancel returns, the caller's progress callback never runs again: the blob
 *    drops it when we leave, and our own last event (done_path) goes through `gate`
 *    (callgate.h), whose drain the cancel waits on after turning events off; no lock is
 *    held during the call, so a callback may cancel any download, its own included;
 *  - `mu` guards `cur` and `blob`, the things a cancellation must reach.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/future_impl.h"
#include "hub/blob.h"
#include "hub/callgate.h"
#include "hub/cache.h"
#include "hub/headers.h"
#include "hub/hub_impl.h"
#include "hub/names.h"

#define MAX_HOPS 10
#define LINK_ROUNDS 8       /* blob downloads joined on a held lock before we wait for it */

typedef struct dl {
    _Atomic int refs;
    hf_hub_t *hub;
    hf_promise_t *out;
    char *repo_id, *revision, *path;
    hf_repo_type_t type;
    hfi_cache_loc_t loc;
    int force;
    int meta_only;              /* hf_hub_file_metadata: stop after the HEAD */
    hf_progress_fn progress;
    void *progress_arg;
    hfi_callgate_t gate;        /* calling `progress` directly; gate.mu guards progress_off */
    int progress_off;
    char *url;                  /* the metadata URL being asked */
    char *download_url;
    unsigned hops;
    hfi_tries_t tries;          /* of the metadata request */
    unsigned link_rounds;       /* blob downloads joined because its lock was held */
    hfi_xfer_t x;
    char commit[41], etag[65];
    uint64_t size;
    _Atomic int cancelled;
    pthread_mutex_t mu;
    hfi_pending_t cur;          /* what a cancellation must stop (ours alone) */
    hfi_blob_t *blob;           /* the shared download we joined */
} dl_t;

static void dl_unref(dl_t *d)
{
    if (atomic_fetch_sub(&d->refs, 1) != 1)
        return;
    hfi_xfer_reset(&d->x);
    hf_promise_free(d->out);
    hfi_cache_loc_free(&d->loc);
    hfi_free(d->repo_id);
    hfi_free(d->revision);
    hfi_free(d->path);
    hfi_free(d->url);
    hfi_free(d->download_url);
    pthread_mutex_destroy(&d->mu);
    hfi_callgate_destroy(&d->gate);
    {
        hf_hub_t *hub = d->hub;
        hfi_free(d);
        hfi_hub_drop(hub);
    }
}

/* ---- the end ---------------------------------------------------------------------------- */

static void set_cur(dl_t *d, hf_future_t *f, hfi_xfer_t *x)
{
    pthread_mutex_lock(&d->mu);
    hfi_pending_set(&d->cur, f, x);
    if (f && atomic_load(&d->cancelled))
        hfi_pending_stop(&d->cur);
    pthread_mutex_unlock(&d->mu);
}

static void done_path(dl_t *d, char *path)
{
    hf_progress_t p;
    struct stat st;

    memset(&p, 0, sizeof p);
    p.repo_id = d->repo_id;
    p.path = d->path;
    p.file_total = p.file_done = stat(path, &st) == 0 ? (uint64_t)st.st_size : d->size;
    p.batch_total = p.batch_done = p.file_total;
    p.files_total = p.files_done = 1;
    pthread_mutex_lock(&d->gate.mu);
    if (d->progress && !d->progress_off && hfi_callgate_open(&d->gate, 1)) {
        hfi_callgate_call(&d->gate, 0, d->progress, &p, d->progress_arg);
        hfi_callgate_close(&d->gate);
    }
    pthread_mutex_unlock(&d->gate.mu);
    if (hf_promise_resolve(d->out, path, free) < 0)
        free(path);
    set_cur(d, NULL, NULL);
    dl_unref(d);
}

static void done_err(dl_t *d, const hf_error_t *e)
{
    if (atomic_load(&d->cancelled) || e->code == HF_ECANCELED)
        hf_future_cancel((hf_future_t *)(void *)d->out);
    else
        hf_promise_reject(d->out, e);
    set_cur(d, NULL, NULL);
    dl_unref(d);
}

static void done_errf(dl_t *d, int code, int status, const char *msg)
{
    hf_error_t e;
    hf_error_set(&e, code, status, "%s/%s: %s", d->repo_id, d->path, msg);
    done_err(d, &e);
}

/* The snapshot path, from malloc (not hfi_malloc: the future frees it with free()). */
static char *snapshot_path(dl_t *d, const char *commit)
{
    char *p = hfi_cache_snapshot_path(&d->loc, commit, d->path);
    char *copy = p ? strdup(p) : NULL;
    hfi_free(p);
    return copy;
}

/* Offline (or network down): the commit is the revision if it is one, else refs/<rev>. */
static int cached_answer(dl_t *d, char **path_out)
{
    char commit[41], *p;
    int rc;

    if (hfi_is_commit(d->revision))
        memcpy(commit, d->revision, 41);
    else if ((rc = hfi_cache_read_ref(&d->loc, d->revision, commit)) < 0)
        return rc == HF_ECORRUPT ? HF_ENOENT : rc;
    if ((p = hfi_cache_no_exist_path(&d->loc, commit, d->path)) == NULL)
        return HF_ENOMEM;
    rc = hfi_path_exists(p);
    hfi_free(p);
    if (rc)
        return HF_EENTRY_NOT_FOUND;
    /* a dangling link, or one that does not point at a blob (planted), is not cached */
    if (!hfi_cache_snapshot_entry_ok(&d->loc, commit, d->path))
        return HF_ENOENT;
    if ((p = snapshot_path(d, commit)) == NULL)
        return HF_ENOMEM;
    *path_out = p;
    return 0;
}

/* ---- after the blob -------------------------------------------------------------------- */

/* Leave the shared download, once, whoever gets here first (the chain or a cancel). */
static void leave_blob(dl_t *d)
{
    hfi_blob_t *b;
    pthread_mutex_lock(&d->mu);
    b = d->blob;
    d->blob = NULL;
    pthread_mutex_unlock(&d->mu);
    if (b)
        hfi_blob_leave(b, d->progress, d->progress_arg);
}

static void fetch_blob(dl_t *d);

/* hfi_cache_lock_held's give_up for a try: never wait. */
static int never_wait(void *arg)
{
    (void)arg;
    return 1;
}

/* hfi_cache_lock_held's give_up for the last round's wait: cancelled, or the hub closing. */
static int stop_waiting(void *arg)
{
    dl_t *d = arg;
    return atomic_load(&d->cancelled) || hfi_hub_closing(d->hub);
}

/* 1 if blobs/<etag> is there: a regular file (a link is no blob) of the expected size. */
static int blob_present(dl_t *d)
{
    char *blob_path = hfi_cache_blob_path(&d->loc, d->etag);
    int ok = blob_path && hfi_cache_is_blob(blob_path, d->size);
    hfi_free(blob_path);
    return ok;
}

/* Link snapshots/<commit>/<path> to blobs/<etag> and finish, holding the blob's lock from
 * the check that the blob is there until the link exists (see the design notes); a held
 * lock or a blob gone (removed since it was committed) sends us to a blob download. */
static void link_or_fetch(dl_t *d)
{
    hf_error_t e;
    char *lock_path, *path;
    int fd, held = 0, rc, last = d->link_rounds >= LINK_ROUNDS;

    memset(&e, 0, sizeof e);
    int how = !d->hub->copy_instead_of_link ? HFI_LINK_SYMLINK
              : d->force                    ? HFI_LINK_COPY_AGAIN
                                            : HFI_LINK_COPY;

    if ((lock_path = hfi_cache_lock_path(d->hub->cache_dir, &d->loc, d->etag)) == NULL) {
        done_errf(d, HF_ENOMEM, 0, "out of memory");
        return;
    }
    fd = hfi_cache_lock_held(lock_path, 0, &held, last ? stop_waiting : never_wait, d, &e);
    hfi_free(lock_path);
    if (fd == HF_ECANCELED && !last && !atomic_load(&d->cancelled)) {
        d->link_rounds++;       /* held: join whoever writes the blob, then link */
        fetch_blob(d);
        return;
    }
    /* HF_EIO: no lock file to be had (a read-only cache): link unguarded, as without
     * flock; a removal cannot take that lock either, and so deletes nothing behind it */
    if (fd < 0 && fd != HF_EIO) {
        done_err(d, &e);
        return;
    }
    if (!blob_present(d)) {     /* removed since we saw it (or committed it) */
        hfi_cache_unlock(fd);
        if (last) {
            done_errf(d, HF_EIO, 0, "its blob was removed from the cache each time before "
                      "it could be linked");
            return;
        }
        d->link_rounds++;
        fetch_blob(d);
        return;
    }
    memset(&e, 0, sizeof e);
    rc = hfi_cache_link(&d->loc, d->commit, d->path, d->etag, how, &e);
    hfi_cache_unlock(fd);       /* the link exists: a removal now sees it (< 0: ignored) */
    if (rc < 0) {
        done_err(d, &e);
        return;
    }
    if ((path = snapshot_path(d, d->commit)) == NULL) {
        done_errf(d, HF_ENOMEM, 0, "out of memory");
        return;
    }
    done_path(d, path);
}

static void after_blob(hf_future_t *done, hf_promise_t *next, void *arg)
{
    dl_t *d = arg;
    int st = hf_future_state(done);

    leave_blob(d);
    hf_promise_resolve(next, NULL, NULL);
    if (atomic_load(&d->cancelled) || st == HF_FUTURE_CANCELLED) {
        done_errf(d, HF_ECANCELED, 0, "cancelled");
    } else if (st == HF_FUTURE_REJECTED) {
        const hf_error_t *be = hf_future_error(done);
        hf_error_t e;
        hf_error_set(&e, be->code, be->http_status, "%s/%s: %s", d->repo_id, d->path, be->message);
        done_err(d, &e);
    } else {
        link_or_fetch(d);
    }
}

/* ---- after the metadata ---------------------------------------------------------------- */

static void metadata_free(void *p)
{
    hf_file_metadata_t *m = p;
    free(m->url);
    free(m);
}

static void answer_metadata(dl_t *d)
{
    hf_file_metadata_t *m = calloc(1, sizeof *m);
    if (!m || (m->url = strdup(d->download_url)) == NULL) {
        free(m);
        done_errf(d, HF_ENOMEM, 0, "out of memory");
        return;
    }
    memcpy(m->commit, d->commit, sizeof m->commit);
    memcpy(m->etag, d->etag, sizeof m->etag);
    m->size = d->size;
    if (hf_promise_resolve(d->out, m, metadata_free) < 0)
        metadata_free(m);
    set_cur(d, NULL, NULL);
    dl_unref(d);
}

/* Fetch the blob through a shared blob download (or join the one under way), then link. A
 * forced download fetches once: a later round (the blob removed meanwhile) need not. */
static void fetch_blob(dl_t *d)
{
    hfi_blob_req_t req;
    hf_future_t *bf;

    memset(&req, 0, sizeof req);
    req.loc = &d->loc;
    req.etag = d->etag;
    req.size = d->size;
    req.url = d->download_url;
    req.resolve_url = strcmp(d->url, d->download_url) != 0 ? d->url : NULL;
    req.repo_id = d->repo_id;
    req.path = d->path;
    req.progress = d->progress;
    req.progress_arg = d->progress_arg;
    req.force = d->force && d->link_rounds == 0;
    {
        hfi_blob_t *b = hfi_blob_join(d->hub, &req, &bf);
        pthread_mutex_lock(&d->mu);
        d->blob = b;            /* a cancellation may take it from here at any time */
        pthread_mutex_unlock(&d->mu);
        if (!b) {
            done_errf(d, HF_ENOMEM, 0, "out of memory");
            return;
        }
    }
    if (atomic_load(&d->cancelled))     /* cancelled while joining: leave at once */
        leave_blob(d);
    hfi_hub_then(d->hub, bf, after_blob, d);
    hf_future_release(bf);
}

static void have_metadata(dl_t *d)
{
    hf_error_t e;

    if (d->meta_only) {
        answer_metadata(d);
        return;
    }
    memset(&e, 0, sizeof e);
    if (!hfi_is_commit(d->revision) &&
        hfi_cache_write_ref(&d->loc, d->revision, d->commit, &e) < 0) {
        done_err(d, &e);
        return;
    }
    /* forced: fetched again and renamed over the blob, which serves until then (a failed
     * or cancelled forced download leaves the cache as it was) */
    if (!d->force && blob_present(d))
        link_or_fetch(d);       /* cached blob: only the link may be missing */
    else
        fetch_blob(d);
}

static void head_start(dl_t *d);

static void head_retry(hf_future_t *done, hf_promise_t *next, void *arg)
{
    dl_t *d = arg;
    (void)done;
    hf_promise_resolve(next, NULL, NULL);
    if (atomic_load(&d->cancelled)) {
        done_errf(d, HF_ECANCELED, 0, "cancelled");
        return;
    }
    head_start(d);
}

static void retry_later(dl_t *d)
{
    hf_future_t *f = hfi_hub_retry_after(d->hub, &d->x, d->tries.failed, head_retry, d);
    set_cur(d, f, NULL);
    hf_future_release(f);
}

/* The metadata request failed for good: answer from the cache if it can, else with `e`.
 * A forced download and a metadata request have no cached answer. */
static void fall_back(dl_t *d, const hf_error_t *e)
{
    char *path;
    if (!d->force && !d->meta_only && cached_answer(d, &path) == 0) {
        done_path(d, path);
        return;
    }
    done_err(d, e);
}

/* An answer without the Hub's metadata (a proxy or a portal): HF_EPROTO naming `msg`,
 * or the cache's answer, as fall_back() decides. */
static void not_the_hub(dl_t *d, long status, const char *msg)
{
    hf_error_t e;
    hf_error_set(&e, HF_EPROTO, (int)status, "%s/%s: %s", d->repo_id, d->path, msg);
    fall_back(d, &e);
}

static void head_done(hf_future_t *done, hf_promise_t *next, void *arg)
{
    dl_t *d = arg;
    hfi_xfer_t *x = &d->x;
    int st = hf_future_state(done);
    const char *v;
    hf_error_t e;

    hf_promise_resolve(next, NULL, NULL);
    if (atomic_load(&d->cancelled) || st == HF_FUTURE_CANCELLED) {
        done_errf(d, HF_ECANCELED, 0, "cancelled");
        return;
    }
    if (st == HF_FUTURE_REJECTED) {
        const hf_error_t *xe = hf_future_error(done);
        hf_error_set(&e, xe->code, 0, "%s/%s: %s", d->repo_id, d->path, xe->message);
        if (hfi_hub_retry_decide(d->hub, x, xe->code == HF_ENETWORK || xe->code == HF_ETIMEDOUT,
                                 0, &d->tries, &e) == 1) {
            retry_later(d);
            return;
        }
        fall_back(d, &e);
        return;
    }
    if (x->status >= 300 && x->status < 400) {
        char *target;
        int rc;
        if (!(v = x->headers[HFI_H_LOCATION])) {
            done_errf(d, HF_EPROTO, (int)x->status, "redirect without a Location");
            return;
        }
        /* relative to the URL asked (RFC 3986), and http(s) only */
        if ((rc = hfi_url_resolve(d->url, v, &target)) < 0) {
            done_errf(d, rc, (int)x->status, rc == HF_ENOMEM ? "out of memory"
                      : "redirect to a Location that is not an http(s) URL (not followed)");
            return;
        }
        if (hfi_same_origin(d->hub, target)) {
            if (++d->hops > MAX_HOPS) {
                hfi_free(target);
                done_errf(d, HF_EPROTO, (int)x->status, "more than 10 redirects");
                return;
            }
            hfi_free(d->url);
            d->url = target;
            head_start(d);
            return;
        }
        /* cross-origin: the CDN. The metadata is in this response. */
        hfi_free(d->download_url);
        d->download_url = target;
    } else if (x->status >= 400 || x->status < 200) {
        int code = hfi_http_error_code(x->status, x->headers[HFI_H_ERROR_CODE]);
        const char *msg = x->headers[HFI_H_ERROR_MESSAGE];
        char text[200], said[121];
        snprintf(text, sizeof text, "%s (HTTP %ld)%s%s", hf_strerror(code), x->status,
                 msg ? ": " : "", hfi_header_text(msg, said, sizeof said));
        hf_error_set(&e, code, (int)x->status, "%s/%s: %s", d->repo_id, d->path, text);
        if (hfi_hub_retry_decide(d->hub, x, hfi_http_retryable(x->status), 0, &d->tries,
                                 &e) == 1) {
            retry_later(d);
            return;
        }
        /* a metadata request writes nothing to the cache (hub.h) */
        if (code == HF_EENTRY_NOT_FOUND && !d->meta_only &&
            hfi_is_commit(x->headers[HFI_H_REPO_COMMIT]) &&
            (!hfi_is_commit(d->revision) ||
             strcmp(x->headers[HFI_H_REPO_COMMIT], d->revision) == 0)) {
            hfi_cache_mark_missing(&d->loc, x->headers[HFI_H_REPO_COMMIT], d->path);
            if (!hfi_is_commit(d->revision))
                hfi_cache_write_ref(&d->loc, d->revision, x->headers[HFI_H_REPO_COMMIT], NULL);
        }
        /* the Hub said the revision or the file is not there, or refused the repo or
         * the token: that answer stands (huggingface_hub would serve the cache for a
         * refusal too; hfasync reports it). Anything else (5xx and 429 after retries,
         * a proxy's 4xx without X-Error-Code) falls back to the cache */
        if (hfi_hub_refusal(code))
            done_err(d, &e);
        else
            fall_back(d, &e);
        return;
    } else {
        hfi_free(d->download_url);
        if ((d->download_url = hfi_strdup(d->url)) == NULL) {
            done_errf(d, HF_ENOMEM, 0, "out of memory");
            return;
        }
    }
    /* 2xx, or a 3xx to the CDN: read the metadata (an answer without it is a proxy or a
     * portal, not the Hub: the cache answers if it can) */
    v = x->headers[HFI_H_REPO_COMMIT];
    if (!v || !hfi_is_commit(v)) {
        not_the_hub(d, x->status, "no X-Repo-Commit in the answer (not a Hub?)");
        return;
    }
    /* a commit never changes: an answer for another one is a lie (linked there, the file
     * would be missing from the snapshot asked for, and another commit's folder made) */
    if (hfi_is_commit(d->revision) && strcmp(v, d->revision) != 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "the answer is for commit %s, not the commit asked for", v);
        done_errf(d, HF_EPROTO, (int)x->status, msg);
        return;
    }
    memcpy(d->commit, v, 41);
    v = x->headers[HFI_H_LINKED_ETAG] ? x->headers[HFI_H_LINKED_ETAG] : x->headers[HFI_H_ETAG];
    if (hfi_etag_normalize(v, d->etag) < 0) {
        not_the_hub(d, x->status, "missing or malformed ETag");
        return;
    }
    v = x->headers[HFI_H_LINKED_SIZE];
    if (!v && x->status < 300)
        v = x->headers[HFI_H_CONTENT_LENGTH];
    /* strtoull would take "-5" for 2^64 - 5, and " 5" or an overflow too */
    if (hfi_parse_size(v, &d->size) < 0) {
        not_the_hub(d, x->status, "missing or malformed size");
        return;
    }
    if (d->size > (uint64_t)INT64_MAX) {        /* no file (off_t) is that large */
        not_the_hub(d, x->status, "a size larger than any file can be");
        return;
    }
    have_metadata(d);
}

static void head_start(dl_t *d)
{
    hf_future_t *f;

    hfi_xfer_reset(&d->x);
    hfi_xfer_init(&d->x, d->url, d->hub->etag_timeout_ms);
    d->x.head = 1;
    d->x.with_auth = 1;
    d->x.max_body = 0;
    if ((f = hfi_engine_submit(d->hub->engine, &d->x)) == NULL) {
        done_errf(d, HF_ENOMEM, 0, "out of memory");
        return;
    }
    set_cur(d, f, &d->x);
    hfi_hub_then(d->hub, f, head_done, d);
    hf_future_release(f);
}

/* ---- the beginning (I/O pool) ------------------------------------------------------------ */

static void begin(dl_t *d);

/* begin as a step of its own (hfi_hub_step): a runtime freed while it waited in the queue
 * still runs this, and the download settles cancelled instead of leaking */
static void begin_step(hf_future_t *done, hf_promise_t *next, void *arg)
{
    (void)done;
    if (hfi_hub_step_discarded(next))
        done_errf(arg, HF_ECANCELED, 0, "runtime shut down");
    else
        begin(arg);
}

static void begin(dl_t *d)
{
    char *path, *rev, *p;

    if (atomic_load(&d->cancelled)) {
        done_errf(d, HF_ECANCELED, 0, "cancelled");
        return;
    }
    if (d->hub->offline && d->meta_only) {
        done_errf(d, HF_EOFFLINE, 0, "offline mode: no metadata request is made");
        return;
    }
    if (d->hub->offline && d->force) {      /* hub.h: `force` never takes the cached file */
        done_errf(d, HF_EOFFLINE, 0, "offline mode: a forced download cannot be made");
        return;
    }
    if (d->hub->offline) {
        int rc = cached_answer(d, &path);
        if (rc == 0)
            done_path(d, path);
        else if (rc == HF_EENTRY_NOT_FOUND)
            done_errf(d, rc, 0, "does not exist at this revision (cached answer)");
        else
            done_errf(d, HF_EOFFLINE, 0, "offline mode and not in the cache");
        return;
    }
    if (!d->force && !d->meta_only && hfi_is_commit(d->revision) && cached_answer(d, &path) == 0) {
        done_path(d, path);     /* a commit never changes: no request */
        return;
    }
    rev = hfi_url_encode(d->revision, 0);
    p = hfi_url_encode(d->path, 1);
    d->url = rev && p ? hfi_strfmt("%s/%s%s/resolve/%s/%s", d->hub->endpoint,
                                   hfi_url_prefix(d->type), d->repo_id, rev, p)
                      : NULL;
    hfi_free(rev);
    hfi_free(p);
    if (!d->url) {
        done_errf(d, HF_ENOMEM, 0, "out of memory");
        return;
    }
    head_start(d);
}

/* The hook of the returned future: on cancellation, abort what is in flight. */
static void on_settled(hf_future_t *f, void *arg, int state)
{
    dl_t *d = arg;

    (void)f;
    if (state != HF_FUTURE_CANCELLED) {
        dl_unref(d);            /* the hook's reference */
        return;
    }
    atomic_store(&d->cancelled, 1);
    pthread_mutex_lock(&d->gate.mu);    /* after this, no progress event from here... */
    d->progress_off = 1;
    hfi_callgate_drain(&d->gate, 0);
    pthread_mutex_unlock(&d->gate.mu);
    pthread_mutex_lock(&d->mu);
    hfi_pending_stop(&d->cur);
    pthread_mutex_unlock(&d->mu);
    leave_blob(d);              /* ...nor from the blob */
    dl_unref(d);                /* the hook's reference */
}

static hf_future_t *start(hf_hub_t *hub, const hf_file_ref_t *ref,
                          const hf_download_opts_t *opts, int meta_only)
{
    hf_error_t e;
    dl_t *d;
    hf_future_t *f;
    const char *rev;

    if (!hub || !ref)
        return NULL;
    rev = ref->revision ? ref->revision : "main";
    memset(&e, 0, sizeof e);
    if (hfi_check_repo_id(ref->repo_id, &e) < 0 || hfi_check_path(ref->path, &e) < 0 ||
        hfi_check_revision(rev, &e) < 0 || hfi_check_repo_type(ref->repo_type, &e) < 0)
        return hf_future_rejected(HF_EINVAL, 0, "%s", e.message);
    if (hfi_hub_hold(hub, 0) < 0)
        return hfi_hub_closed_future();
    if ((d = hfi_calloc(1, sizeof *d)) == NULL) {
        hfi_hub_drop(hub);
        return NULL;
    }
    atomic_init(&d->refs, 2);   /* the chain's and the cancel hook's */
    d->hub = hub;
    d->type = ref->repo_type;
    pthread_mutex_init(&d->mu, NULL);
    hfi_callgate_init(&d->gate);
    d->repo_id = hfi_strdup(ref->repo_id);
    d->revision = hfi_strdup(rev);
    d->path = hfi_strdup(ref->path);
    d->out = hf_promise_new();
    d->meta_only = meta_only;
    if (opts) {
        d->force = opts->force;
        d->progress = opts->progress;
        d->progress_arg = opts->progress_arg;
    }
    if (!d->repo_id || !d->revision || !d->path || !d->out ||
        hfi_cache_loc_init(&d->loc, hub->cache_dir, d->type, d->repo_id) < 0) {
        atomic_store(&d->refs, 1);
        dl_unref(d);
        return NULL;
    }
    f = hf_promise_future(d->out);
    hfi_future_set_hook((hf_future_t *)(void *)d->out, on_settled, d);
    if (hfi_hub_step(hub, begin_step, d) < 0) {
        hf_future_cancel(f);
        dl_unref(d);
    }
    return f;
}

hf_future_t *hf_hub_download(hf_hub_t *hub, const hf_file_ref_t *ref,
                             const hf_download_opts_t *opts)
{
    return start(hub, ref, opts, 0);
}

hf_future_t *hf_hub_file_metadata(hf_hub_t *hub, const hf_file_ref_t *ref)
{
    return start(hub, ref, NULL, 1);
}

int hf_hub_try_cache(hf_hub_t *hub, const hf_file_ref_t *ref, char **path_out)
{
    dl_t d;
    int rc;

    if (!hub || !ref || !path_out)
        return HF_EINVAL;
    memset(&d, 0, sizeof d);
    d.revision = (char *)(ref->revision ? ref->revision : "main");
    d.path = (char *)ref->path;
    if (hfi_check_repo_id(ref->repo_id, NULL) < 0 || hfi_check_path(ref->path, NULL) < 0 ||
        hfi_check_revision(d.revision, NULL) < 0 || hfi_check_repo_type(ref->repo_type, NULL) < 0)
        return HF_EINVAL;
    if (hfi_cache_loc_init(&d.loc, hub->cache_dir, ref->repo_type, ref->repo_id) < 0)
        return HF_ENOMEM;
    rc = cached_answer(&d, path_out);
    hfi_cache_loc_free(&d.loc);
    return rc;
}
