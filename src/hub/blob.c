/*
 * blob.c - one blob's download: lock, resume or restart, stream or split in ranges, hash,
 * verify, commit. Shared by every request for the same blob in this process.
 *
 * Design notes
 *  - a blob download is found in hub->inflight (under hub->mu) by its final path; a request
 *    joins it (requesters++) instead of starting another. The last requester to leave
 *    cancels it. It leaves the table when it settles;
 *  - under the blob's lock (<cache>/.locks/...): if blobs/<etag> appeared meanwhile (another
 *    process), it is done. Otherwise bytes go to blobs/<etag>.incomplete (opened O_NOFOLLOW,
 *    never through a symlink), kept across runs: a killed download resumes from its size,
 *    after re-hashing that prefix. A 200 to a ranged request, or a 416, starts over;
 *  - files of at least `parallel_threshold` bytes are fetched as byte ranges (8 per
 *    connection, handed out in order) over up to `conns_per_file` connections to the
 *    final (CDN) URL and written with pwrite. One hasher at a time (hash_step, on the I/O
 *    pool) reads back and hashes the prefix whose ranges are all in, while later ranges
 *    still download, so little is left to hash when the last one lands;
 *  - writes start going to disk every HFI_WRITEBACK_STEP bytes (hub/writeback.h), so that
 *    the fsync before the rename, when the hub asks for one (fsync_blobs), has little left;
 *  - the hash (sha256 or git sha1, from the etag's length) and the size are checked before
 *    the rename into blobs/<etag>; a mismatch is HF_ECORRUPT, deletes the partial file and
 *    commits nothing. The lock is an optimisation: when it holds nothing (flock unsupported,
 *    or the test hook), the commit renames only the file this download wrote (same inode
 *    at the partial path) after re-hashing it on disk, accepts a blob another writer
 *    committed once it hashes right, and otherwise fetches again; a partial file is
 *    started over by replacing it, never by truncating a file another writer may share;
 *  - a resumed download whose whole fails the hash is fetched once more from byte 0, in
 *    one stream or in ranges as before: the prefix an earlier run left may be the wrong
 *    part;
 *  - a GET answered with a redirect (301, 302, 303, 307, 308: a CDN sending us on) follows
 *    its Location, resolved against the URL asked (RFC 3986) and only if http(s); the
 *    target becomes the blob's URL, so the ranges still to come go straight there. At most
 *    10 redirects in a row per transfer (then HF_EPROTO: a loop); the sinks never write a
 *    3xx body. The token goes with no request once a redirect has left the Hub's origin
 *    (and engine.c never sends it off that origin);
 *  - failures worth retrying (dropped connection, inactivity timeout, 408/429/5xx) wait
 *    (1, 2, 4, 8, 8 x backoff, or Retry-After / RateLimit t=) and resume where they
 *    stopped; other failures keep the partial file for the next run, except a cancellation
 *    by the requesters (they no longer want it: hf_hub_free is not one), a corrupt file
 *    and a local write failure (a full disk), which delete it -- only ever a partial file
 *    this download opened under the lock;
 *  - steps run on the I/O pool (continuations with HF_ON_ANY on engine futures, so each
 *    step always runs and owns its cleanup); the body sinks run on engine loop threads;
 *    `mu` guards the chunk table, the hasher's progress and the futures to cancel; the
 *    last of the chunks and the hasher to stop reports a failure (`ended`: once);
 *  - progress listeners (one per requester that gave a callback, with that requester's
 *    repo and path) live under `gate` (callgate.h): one thread at a time calls them, with
 *    no lock held during a call. A requester leaving marks its listener gone and waits out
 *    a call of it under way on another thread, so once hfi_blob_leave returns its callback
 *    never runs again; a callback may cancel, and so leave, any call (its own included)
 *    without a lock cycle. The table is compacted only while nobody is calling;
 *  - lock order: hub->mu before b->mu; neither is held while calling out; gate.mu is a
 *    leaf, taken with neither held.
 */
#include "config.h"

#include "hub/blob.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/parklot.h"
#include "hub/callgate.h"
#include "hub/hash.h"
#include "hub/headers.h"
#include "hub/names.h"
#include "hub/writeback.h"


#define CHUNK_MIN (1u << 20)     /* ranges smaller than this are not worth a connection */
#define CHUNKS_PER_CONN 32       /* ranges per connection: they end one after another, so the
                                    hashed prefix follows the download closely */
#define PROGRESS_NS 100000000u

typedef struct chunk {
    hfi_blob_t *b;
    uint64_t from, len, got;    /* got: bytes already written */
    unsigned attempt;
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
    unsigned attempt;
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
    int failed_code;
    hf_error_t failed_err;
    _Atomic uint64_t range_bytes;
};

/* Let go of the chunk table, none of whose chunks is live any more. */
static void free_chunks(hfi_blob_t *b)
{
    for (unsigned i = 0; i < b->nchunks; i++) {
        hfi_xfer_reset(&b->chunks[i].x);
        hfi_pending_set(&b->chunks[i].cur, NULL, NULL);
    }
    hfi_free(b->chunks);
    b->chunks = NULL;
    b->nchunks = 0;
}

static void blob_unref(hfi_blob_t *b)
{
    if (atomic_fetch_sub(&b->refs, 1) != 1)
        return;
    hfi_hash_free(&b->hash);
    hfi_xfer_reset(&b->x);
    hfi_pending_set(&b->cur, NULL, NULL);
    free_chunks(b);
    hf_promise_free(b->done);
    hfi_free(b->blob_path);
    hfi_free(b->partial_path);
    hfi_free(b->done_path);
    hfi_free(b->repo_dir);
    hfi_free(b->lock_path);
    hfi_free(b->url);
    hfi_free(b->resolve_url);
    while (b->old_urls) {
        struct old_url *o = b->old_urls;
        b->old_urls = o->next;
        hfi_free(o->url);
        hfi_free(o);
    }
    hfi_free(b->repo_id);
    hfi_free(b->path);
    pthread_mutex_destroy(&b->mu);
    hfi_callgate_destroy(&b->gate);
    hfi_free(b->listeners);
    {
        hf_hub_t *hub = b->hub;
        hfi_free(b);
        hfi_hub_drop(hub);
    }
}

/* ---- progress --------------------------------------------------------------------------- */

/* Drop the listeners marked gone, unless someone is calling (numbers must hold then).
 * With gate.mu held. */
static void compact_listeners(hfi_blob_t *b)
{
    size_t k = 0;

    if (b->gate.active)
        return;
    for (size_t i = 0; i < b->nlisteners; i++)
        if (!b->listeners[i].gone)
            b->listeners[k++] = b->listeners[i];
    b->nlisteners = k;
}

static void report(hfi_blob_t *b, uint64_t done, int force)
{
    hf_progress_t p;
    uint64_t now = hfi_now_ns();

    pthread_mutex_lock(&b->mu);
    if (!force && now - b->last_report_ns < PROGRESS_NS) {
        pthread_mutex_unlock(&b->mu);
        return;
    }
    b->last_report_ns = now;
    b->reported = done;
    pthread_mutex_unlock(&b->mu);
    memset(&p, 0, sizeof p);
    p.file_done = done;
    p.file_total = b->size;
    p.batch_done = done;
    p.batch_total = b->size;
    p.files_total = 1;
    p.files_done = done == b->size && force;
    pthread_mutex_lock(&b->gate.mu);
    /* a routine report while another thread calls is skipped; the final one waits */
    if (hfi_callgate_open(&b->gate, force)) {
        /* by index, n read each time: a callback may make a requester join or leave */
        for (size_t i = 0; i < b->nlisteners; i++) {
            struct listener l = b->listeners[i];
            if (l.gone)
                continue;
            p.repo_id = l.repo_id;
            p.path = l.path;
            hfi_callgate_call(&b->gate, i, l.fn, &p, l.arg);
        }
        hfi_callgate_close(&b->gate);
        compact_listeners(b);
    }
    pthread_mutex_unlock(&b->gate.mu);
}

static void listen(hfi_blob_t *b, const hfi_blob_req_t *req)
{
    pthread_mutex_lock(&b->gate.mu);
    if (b->nlisteners == b->listeners_cap) {
        size_t cap = b->listeners_cap ? 2 * b->listeners_cap : 4;
        struct listener *nl = hfi_realloc(b->listeners, cap * sizeof *nl);
        if (nl) {
            b->listeners = nl;
            b->listeners_cap = cap;
        }
    }
    if (b->nlisteners < b->listeners_cap) {     /* else: no progress for it (no memory) */
        struct listener *l = &b->listeners[b->nlisteners++];
        l->fn = req->progress;
        l->arg = req->progress_arg;
        l->repo_id = req->repo_id;
        l->path = req->path;
        l->gone = 0;
    }
    pthread_mutex_unlock(&b->gate.mu);
}

static void unlisten(hfi_blob_t *b, hf_progress_fn fn, void *arg)
{
    pthread_mutex_lock(&b->gate.mu);
    for (size_t i = 0; i < b->nlisteners; i++) {
        struct listener *l = &b->listeners[i];
        if (!l->gone && l->fn == fn && l->arg == arg) {
            l->gone = 1;
            hfi_callgate_drain(&b->gate, i);
            compact_listeners(b);
            break;
        }
    }
    pthread_mutex_unlock(&b->gate.mu);
}

/* ---- the end ---------------------------------------------------------------------------- */

static void leave_table(hfi_blob_t *b)
{
    hf_hub_t *hub = b->hub;
    pthread_mutex_lock(&hub->mu);
    for (hfi_blob_t **pp = &hub->inflight; *pp; pp = &(*pp)->tnext) {
        if (*pp == b) {
            *pp = b->tnext;
            break;
        }
    }
    pthread_mutex_unlock(&hub->mu);
}

/* Close the partial file and let go of the lock. `remove_partial` deletes the partial
 * file only if this download opened it (under the lock): before that, the file at that
 * path is another process's download in progress. */
static void close_files(hfi_blob_t *b, int remove_partial)
{
    if (b->fd >= 0) {
        if (remove_partial)
            unlink(b->partial_path);
        if (b->done_path && remove_partial)
            unlink(b->done_path);
        close(b->fd);
        b->fd = -1;
    }
    if (b->lock_fd >= 0) {
        hfi_cache_unlock(b->lock_fd);
        b->lock_fd = -1;
    }
}

static void fail(hfi_blob_t *b, const hf_error_t *err)
{
    int cancelled = atomic_load(&b->cancelled) || err->code == HF_ECANCELED;
    /* kept for the next run: a partial file cut short by the network or by hf_hub_free
     * (a clean shutdown keeps what a kill would); removed: one that is wrong (corrupt),
     * unwanted (cancelled by its requesters) or could not be written (a full disk) */
    close_files(b, (cancelled && !hfi_hub_closing(b->hub)) || err->code == HF_ECORRUPT ||
                       err->code == HF_EIO);
    leave_table(b);
    if (cancelled)
        hf_future_cancel((hf_future_t *)(void *)b->done);
    else
        hf_promise_reject(b->done, err);
    blob_unref(b);
}

static void fail_msg(hfi_blob_t *b, int code, const char *msg)
{
    hf_error_t e;
    hf_error_set(&e, code, 0, "%s: %s", b->path, msg);
    fail(b, &e);
}

static void single_start(hfi_blob_t *b);

/* The blob is in blobs/<etag> (`committed`: by us). */
static void succeed(hfi_blob_t *b, int committed)
{
    if (b->done_path)
        unlink(b->done_path);
    close_files(b, 0);
    if (committed) {
        pthread_mutex_lock(&b->hub->mu);
        b->hub->blobs_committed++;
        pthread_mutex_unlock(&b->hub->mu);
    }
    report(b, b->size, 1);
    leave_table(b);
    hf_promise_resolve(b->done, NULL, NULL);
    blob_unref(b);
}

/* Start the partial file over, empty. A new file replaces it rather than truncating it in
 * place: a writer that ignored the lock may share the old one, and its bytes stay whole. */
static int rewind_partial(hfi_blob_t *b)
{
    int fd;

    b->offset = 0;
    b->resumed = 0;
    hfi_hash_free(&b->hash);
    unlink(b->partial_path);
    fd = open(b->partial_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0)
        return HF_EIO;
    close(b->fd);
    b->fd = fd;
    if (ftruncate(fd, 0) < 0 || hfi_hash_init(&b->hash, b->etag, b->size) < 0)
        return HF_EIO;
    return 0;
}

/* 1 if the file open at `fd` is `size` bytes that hash to `etag`. */
static int verified_on_disk(int fd, const char *etag, uint64_t size)
{
    struct stat st;
    hfi_hash_t h = { 0 };
    char hex[65] = "";

    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != size ||
        hfi_hash_init(&h, etag, size) < 0)
        return 0;
    if (hfi_hash_fd(&h, fd, 0, size) < 0 || hfi_hash_final(&h, hex) < 0)
        hfi_hash_free(&h);
    return strcmp(hex, etag) == 0;
}

/* 1 if partial_path still names the file we wrote (another writer that ignored the lock
 * may have committed it, and yet another put a new partial file there). */
static int partial_is_ours(hfi_blob_t *b)
{
    struct stat mine, there;
    return fstat(b->fd, &mine) == 0 && lstat(b->partial_path, &there) == 0 &&
           mine.st_dev == there.st_dev && mine.st_ino == there.st_ino;
}

/* 1 if blobs/<etag> is there now, whole and hashing to its name. */
static int blob_verified(hfi_blob_t *b)
{
    int fd = open(b->blob_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), ok;
    if (fd < 0)
        return 0;
    ok = verified_on_disk(fd, b->etag, b->size);
    close(fd);
    return ok;
}

static void ranged_restart(hfi_blob_t *b);

/* Verify the finished partial file, then rename it into blobs/<etag>. */
static void commit(hfi_blob_t *b, const char *hex)
{
    struct stat st;
    hf_error_t e;
    int bad_size = fstat(b->fd, &st) < 0 || (uint64_t)st.st_size != b->size;

    if ((bad_size || strcmp(hex, b->etag) != 0) && b->resumed) {
        /* the prefix an earlier run left may be what is wrong: fetch it all once more */
        if (b->done_path)
            unlink(b->done_path);
        if (rewind_partial(b) < 0) {
            fail_msg(b, HF_EIO, "cannot restart its partial file");
            return;
        }
        if (b->nchunks)
            ranged_restart(b);
        else
            single_start(b);
        return;
    }
    if (bad_size) {
        hf_error_set(&e, HF_ECORRUPT, 0, "%s: size %llu, expected %llu", b->path,
                     (unsigned long long)st.st_size, (unsigned long long)b->size);
        fail(b, &e);
        return;
    }
    if (strcmp(hex, b->etag) != 0) {
        hf_error_set(&e, HF_ECORRUPT, 0, "%s: content hashes to %.12s..., expected %.12s...",
                     b->path, hex, b->etag);
        fail(b, &e);
        return;
    }
    if (b->hub->fsync_blobs && fsync(b->fd) < 0) {
        hf_error_set(&e, HF_EIO, 0, "cannot sync %s: %s", b->partial_path, strerror(errno));
        fail(b, &e);
        return;
    }
    /* Without the lock, others may have written into our file too: what is committed is
     * what is on disk, so that is what must hash right. */
    if (b->unlocked && (!partial_is_ours(b) || !verified_on_disk(b->fd, b->etag, b->size))) {
        if (blob_verified(b)) {         /* another writer committed it */
            succeed(b, 0);
            return;
        }
        if (!b->nchunks && b->attempt++ < b->hub->max_retries && rewind_partial(b) == 0) {
            single_start(b);            /* fetched again, never committed spoiled */
            return;
        }
        fail_msg(b, HF_ECORRUPT, "its partial file was spoiled by another writer");
        return;
    }
    if (rename(b->partial_path, b->blob_path) < 0) {
        if (errno == ENOENT && blob_verified(b)) {
            succeed(b, 0);
            return;
        }
        hf_error_set(&e, HF_EIO, 0, "cannot commit %s: %s", b->blob_path, strerror(errno));
        fail(b, &e);
        return;
    }
    succeed(b, 1);
}

/* ---- waiting between attempts ---------------------------------------------------------- */

static int worth_retrying(const hfi_xfer_t *x, int code)
{
    if (code == HF_ENETWORK || code == HF_ETIMEDOUT)
        return 1;
    return x->status && hfi_http_retryable(x->status);
}

/* Start a GET of b->url for bytes [from, to] (UINT64_MAX: no Range / open end) into
 * `sink(x, ...)` with `arg`; remember it in *slot (replacing the delay an attempt waited
 * on) so that a cancellation reaches it; continue with `then(done, next, then_arg)` on the
 * I/O pool. Returns 0 or HF_ENOMEM. */
static int submit_get(hfi_blob_t *b, hfi_xfer_t *x, int (*sink)(hfi_xfer_t *, const char *, size_t),
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
    pthread_mutex_lock(&b->mu);
    hfi_pending_set(slot, f, x);     /* replaces the delay this attempt waited on, if any */
    if (atomic_load(&b->cancelled))
        hfi_engine_abort(x);
    pthread_mutex_unlock(&b->mu);
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
 * followed, as the 11th redirect in a row (a loop) or a Location that is not http(s).
 * Once a target leaves the Hub's origin, the token is never sent again (engine.c sends it
 * only to the Hub's origin anyway). */
static int follow_redirect(hfi_blob_t *b, hfi_xfer_t *x, unsigned *hops)
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

static void chunk_settled(chunk_t *c, int code, const hf_error_t *err);
static void single_start(hfi_blob_t *b);
static void chunk_start(chunk_t *c);

/* The transfer `c` (NULL: the single stream) ends with `err`. */
static void transfer_failed(hfi_blob_t *b, chunk_t *c, const hf_error_t *err)
{
    if (c)
        chunk_settled(c, err->code, err);
    else
        fail(b, err);
}

/* 1 if `x` met a 403 from a CDN whose URL the Hub can sign again. */
static int url_expired(hfi_blob_t *b, const hfi_xfer_t *x)
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
        chunk_start(r->c);
    else
        single_start(b);
    hfi_xfer_reset(&r->x);
    hfi_free(r);
}

/* Ask the Hub for a new URL, then start `c` (or the single stream) again with it; if that
 * fails, the transfer ends with `cause`. */
static void refresh_url(hfi_blob_t *b, chunk_t *c, const hf_error_t *cause)
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
    pthread_mutex_lock(&b->mu);
    hfi_pending_set(c ? &c->cur : &b->cur, f, &r->x);
    if (atomic_load(&b->cancelled))
        hfi_engine_abort(&r->x);
    pthread_mutex_unlock(&b->mu);
    hfi_hub_then(b->hub, f, refreshed, r);
    hf_future_release(f);
}

/* ---- single stream ----------------------------------------------------------------------- */

/* pwrite all `n` bytes at `off` of the partial file; HF_EIO (in x->err) if it fails, as
 * when the disk is full. With fsync_blobs, each time the writes cross a multiple of
 * HFI_WRITEBACK_STEP the step just filled starts going to disk, so that the fsync before
 * the commit has little left to wait for. */
static int write_at(hfi_blob_t *b, hfi_xfer_t *x, const char *buf, size_t n, uint64_t off)
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
        if (rewind_partial(b) < 0)
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
    if (write_at(b, x, buf, n, b->offset) < 0)
        return x->err.code;
    hfi_hash_update(&b->hash, buf, n);
    b->offset += n;
    report(b, b->offset, 0);
    return 0;
}

static void single_retry(hf_future_t *done, hf_promise_t *next, void *arg)
{
    hfi_blob_t *b = arg;
    (void)done;
    hf_promise_resolve(next, NULL, NULL);
    if (atomic_load(&b->cancelled)) {
        fail_msg(b, HF_ECANCELED, "cancelled");
        return;
    }
    single_start(b);
}

static void single_done(hf_future_t *done, hf_promise_t *next, void *arg)
{
    hfi_blob_t *b = arg;
    hfi_xfer_t *x = &b->x;
    int code = hfi_future_code(done);

    hf_promise_resolve(next, NULL, NULL);
    pthread_mutex_lock(&b->mu);
    hfi_pending_set(&b->cur, NULL, NULL);
    pthread_mutex_unlock(&b->mu);
    if (atomic_load(&b->cancelled) || code == HF_ECANCELED) {
        fail_msg(b, HF_ECANCELED, "cancelled");
        return;
    }
    switch (follow_redirect(b, x, &b->hops)) {      /* its body (if any) was not written */
    case 0:
        break;
    case 1:
        single_start(b);
        return;
    default:
        fail(b, &x->err);
        return;
    }
    if (code == 0 && resume_refused(b, x)) {         /* start over */
        if (rewind_partial(b) < 0) {
            fail_msg(b, HF_EIO, "cannot restart its partial file");
            return;
        }
        single_start(b);
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
            fail_msg(b, HF_ENOMEM, "cannot hash");
            return;
        }
        commit(b, hex);
        return;
    }
    if (code != 0 && url_expired(b, x)) {
        refresh_url(b, NULL, &x->err);
        return;
    }
    if (code != HF_ECORRUPT && worth_retrying(x, code) && b->attempt < b->hub->max_retries) {
        hf_future_t *d = hfi_hub_retry_after(b->hub, x, ++b->attempt, single_retry, b);
        pthread_mutex_lock(&b->mu);
        hfi_pending_set(&b->cur, d, NULL);
        if (atomic_load(&b->cancelled))
            hfi_pending_stop(&b->cur);
        pthread_mutex_unlock(&b->mu);
        hf_future_release(d);
        return;
    }
    fail(b, &x->err);
}

static void single_start(hfi_blob_t *b)
{
    b->ranged_request = b->offset > 0;
    if (submit_get(b, &b->x, single_sink, b, b->offset > 0 ? b->offset : UINT64_MAX, UINT64_MAX,
                   &b->cur, single_done, b) < 0)
        fail_msg(b, HF_ENOMEM, "out of memory");
}

/* ---- ranges ------------------------------------------------------------------------------ */

static void chunk_start(chunk_t *c);

static int chunk_sink(hfi_xfer_t *x, const char *buf, size_t n)
{
    chunk_t *c = x->arg;
    hfi_blob_t *b = c->b;
    uint64_t first, last, total;

    if (x->status != 206)       /* 200: the server ignores ranges; the rest: errors */
        return hf_error_set(&x->err, x->status == 200 ? HF_EPROTO
                                                      : hfi_http_error_code(x->status, NULL),
                            (int)x->status, "HTTP %ld to a range request for %s", x->status,
                            b->path);
    if (c->got == 0 || x->bytes == n) {
        if (hfi_parse_content_range(x->headers[HFI_H_CONTENT_RANGE], &first, &last, &total) < 0 ||
            first != c->from + c->got || total != b->size)
            return hf_error_set(&x->err, HF_EPROTO, (int)x->status,
                                "wrong Content-Range for %s", b->path);
    }
    if (c->got + n > c->len)
        return hf_error_set(&x->err, HF_EPROTO, 0, "%s: range longer than asked", b->path);
    if (write_at(b, x, buf, n, c->from + c->got) < 0)
        return x->err.code;
    c->got += n;
    report(b, atomic_fetch_add(&b->range_bytes, n) + n, 0);
    return 0;
}

/* Start chunks while there are some left and connections to spare. */
static void pump_chunks(hfi_blob_t *b)
{
    atomic_fetch_add(&b->refs, 1);      /* a chunk failing at once must not free `b` here */
    for (;;) {
        chunk_t *next = NULL;
        pthread_mutex_lock(&b->mu);
        if (b->next_chunk < b->nchunks && b->running < b->hub->conns_per_file &&
            !b->failed_code && !atomic_load(&b->cancelled)) {
            next = &b->chunks[b->next_chunk++];
            b->running++;
        }
        pthread_mutex_unlock(&b->mu);
        if (!next)
            break;
        chunk_start(next);
    }
    blob_unref(b);
}

/* The end of the prefix of the file whose chunks are all done (b->mu held). */
static uint64_t done_prefix(const hfi_blob_t *b)
{
    uint64_t end = b->base;
    for (unsigned i = 0; i < b->nchunks && b->chunks[i].done; i++)
        end = b->chunks[i].from + b->chunks[i].len;
    return end;
}

static void hash_step(void *arg);

/* Write down, beside the ranged partial file, that its first `n` bytes are in: a run
 * killed later resumes from there. Best effort (a lost record only costs a refetch; what
 * is resumed is hashed again and checked with the rest). */
static void record_prefix(hfi_blob_t *b, uint64_t n)
{
    char tmp[40];
    int fd, len = snprintf(tmp, sizeof tmp, "%llu\n", (unsigned long long)n);
    if ((fd = open(b->done_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0666)) < 0)
        return;
    if (write(fd, tmp, (size_t)len) != len)
        (void)ftruncate(fd, 0);
    close(fd);
}

/* The prefix a killed ranged run recorded for `b`, if its partial file holds it; else 0. */
static uint64_t recorded_prefix(const hfi_blob_t *b, const struct stat *partial)
{
    char buf[40] = "";
    unsigned long long n = 0;
    ssize_t got;
    int fd = open(b->done_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    got = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (got <= 0 || sscanf(buf, "%llu", &n) != 1 || n > b->size ||
        n > (unsigned long long)partial->st_size)
        return 0;
    return (uint64_t)n;
}

/* With b->mu held, after a chunk or the hasher changed the state: what happens next.
 * Exactly one of the calls that see the end of the download settles it. */
enum { NEXT_NOTHING, NEXT_PUMP, NEXT_HASH, NEXT_FAIL };

static int next_step(hfi_blob_t *b)
{
    if (b->ended)
        return NEXT_NOTHING;
    if (b->failed_code || atomic_load(&b->cancelled)) {
        if (b->running > 0 || b->hashing)
            return NEXT_NOTHING;        /* the last one out reports */
        b->ended = 1;
        return NEXT_FAIL;
    }
    if (!b->hashing && done_prefix(b) > b->hashed) {
        b->hashing = 1;
        return NEXT_HASH;
    }
    return b->finished < b->nchunks ? NEXT_PUMP : NEXT_NOTHING;
}

static void do_next(hfi_blob_t *b, int what)
{
    switch (what) {
    case NEXT_FAIL:
        if (atomic_load(&b->cancelled))
            fail_msg(b, HF_ECANCELED, "cancelled");
        else
            fail(b, &b->failed_err);
        break;
    case NEXT_HASH:
        pump_chunks(b);                 /* first: once posted, the hasher may finish it all */
        atomic_fetch_add(&b->refs, 1);  /* the hasher's */
        if (hf_executor_post(hf_runtime_io(b->hub->rt), hash_step, b) < 0) {
            pthread_mutex_lock(&b->mu);
            b->hashing = 0;
            if (!b->failed_code) {
                b->failed_code = HF_ECANCELED;
                hf_error_set(&b->failed_err, HF_ECANCELED, 0, "runtime shut down");
            }
            what = next_step(b);
            pthread_mutex_unlock(&b->mu);
            do_next(b, what);
            blob_unref(b);
            return;
        }
        break;
    case NEXT_PUMP:
        pump_chunks(b);
        break;
    default:
        break;
    }
}

/* A chunk ended (well or not): start the next ones, hash what is contiguous, or finish. */
static void chunk_settled(chunk_t *c, int code, const hf_error_t *err)
{
    hfi_blob_t *b = c->b;
    int what;

    pthread_mutex_lock(&b->mu);
    b->running--;
    if (code == 0) {
        c->done = 1;
        b->finished++;
    } else if (!b->failed_code) {
        b->failed_code = code;
        b->failed_err = *err;
    }
    what = next_step(b);
    /* Once this chunk counts as done, the hasher may end the download and drop its
     * reference: keep `b` alive for what follows. */
    atomic_fetch_add(&b->refs, 1);
    pthread_mutex_unlock(&b->mu);
    do_next(b, what);
    blob_unref(b);
}

/* On the I/O pool, one at a time: hash the done prefix past what is hashed, while the
 * later chunks still download; once the whole file is hashed, verify and commit. */
static void hash_step(void *arg)
{
    hfi_blob_t *b = arg;
    int what;

    for (;;) {
        uint64_t from, to;
        pthread_mutex_lock(&b->mu);
        from = b->hashed;
        to = done_prefix(b);
        if (b->failed_code || atomic_load(&b->cancelled) || to <= from) {
            b->hashing = 0;
            if (!b->failed_code && !atomic_load(&b->cancelled) && from == b->size) {
                b->ended = 1;
                pthread_mutex_unlock(&b->mu);
                {
                    char hex[65];
                    if (hfi_hash_final(&b->hash, hex) < 0)
                        fail_msg(b, HF_EIO, "cannot finish its hash");
                    else
                        commit(b, hex);
                }
                blob_unref(b);          /* the hasher's */
                return;
            }
            what = next_step(b);
            pthread_mutex_unlock(&b->mu);
            do_next(b, what);
            blob_unref(b);              /* the hasher's */
            return;
        }
        pthread_mutex_unlock(&b->mu);
        if (hfi_hash_fd(&b->hash, b->fd, from, to - from) < 0) {
            pthread_mutex_lock(&b->mu);
            if (!b->failed_code) {
                b->failed_code = HF_EIO;
                hf_error_set(&b->failed_err, HF_EIO, 0, "cannot read back %s", b->partial_path);
            }
            pthread_mutex_unlock(&b->mu);
            continue;                   /* and report it on the way out */
        }
        pthread_mutex_lock(&b->mu);
        b->hashed = to;
        pthread_mutex_unlock(&b->mu);
        record_prefix(b, to);
    }
}

static void chunk_retry(hf_future_t *done, hf_promise_t *next, void *arg)
{
    chunk_t *c = arg;
    (void)done;
    hf_promise_resolve(next, NULL, NULL);
    if (atomic_load(&c->b->cancelled)) {
        hf_error_t e;
        hf_error_set(&e, HF_ECANCELED, 0, "cancelled");
        chunk_settled(c, HF_ECANCELED, &e);
        return;
    }
    chunk_start(c);
}

static void chunk_done(hf_future_t *done, hf_promise_t *next, void *arg)
{
    chunk_t *c = arg;
    hfi_blob_t *b = c->b;
    hfi_xfer_t *x = &c->x;
    int code = hfi_future_code(done);

    hf_promise_resolve(next, NULL, NULL);
    pthread_mutex_lock(&b->mu);
    hfi_pending_set(&c->cur, NULL, NULL);
    pthread_mutex_unlock(&b->mu);
    if (code != HF_ECANCELED && !atomic_load(&b->cancelled)) {
        int r = follow_redirect(b, x, &c->hops);   /* its body (if any) was not written */
        if (r > 0) {
            chunk_start(c);
            return;
        }
        if (r < 0) {
            chunk_settled(c, r, &x->err);
            return;
        }
    }
    if (code == 0 && x->status != 206)
        code = hf_error_set(&x->err, hfi_http_error_code(x->status, x->headers[HFI_H_ERROR_CODE]),
                            (int)x->status, "HTTP %ld for a range of %s", x->status, b->path);
    if (code == 0 && c->got < c->len)
        code = hf_error_set(&x->err, HF_ENETWORK, 0, "%s: range ended early", b->path);
    if (code == 0 || code == HF_ECANCELED || atomic_load(&b->cancelled)) {
        chunk_settled(c, code, &x->err);
        return;
    }
    if (url_expired(b, x)) {
        refresh_url(b, c, &x->err);
        return;
    }
    if (worth_retrying(x, code) && c->attempt < b->hub->max_retries) {
        hf_future_t *d = hfi_hub_retry_after(b->hub, x, ++c->attempt, chunk_retry, c);
        pthread_mutex_lock(&b->mu);
        hfi_pending_set(&c->cur, d, NULL);
        if (atomic_load(&b->cancelled))
            hfi_pending_stop(&c->cur);
        pthread_mutex_unlock(&b->mu);
        hf_future_release(d);
        return;
    }
    chunk_settled(c, code, &x->err);
}

static void chunk_start(chunk_t *c)
{
    if (submit_get(c->b, &c->x, chunk_sink, c, c->from + c->got, c->from + c->len - 1, &c->cur,
                   chunk_done, c) < 0) {
        hf_error_t e;
        hf_error_set(&e, HF_ENOMEM, 0, "out of memory");
        chunk_settled(c, HF_ENOMEM, &e);
    }
}

static int open_partial(const char *path, hf_error_t *err);

/* A ranged download writes into <blob>.incomplete.ranged, never into <blob>.incomplete:
 * its file is full-size with holes until the end, and the official clients would take an
 * .incomplete file that long for finished. Its first bytes resume: those of an earlier
 * ranged run (as far as its .done record says), else those of an .incomplete file (ours
 * or an official client's), which becomes the ranged file. */
static int ranged_open(hfi_blob_t *b)
{
    char *ranged = hfi_strfmt("%s.ranged", b->partial_path);
    struct stat st;
    hf_error_t e;
    int fd;

    if (!ranged || (b->done_path = hfi_strfmt("%s.done", ranged)) == NULL) {
        hfi_free(ranged);
        return HF_ENOMEM;
    }
    memset(&e, 0, sizeof e);
    if (lstat(ranged, &st) == 0 && S_ISREG(st.st_mode) &&
        (b->base = recorded_prefix(b, &st)) > 0 && (fd = open_partial(ranged, &e)) >= 0) {
        if (fstat(b->fd, &st) == 0 && st.st_size == 0)
            unlink(b->partial_path);    /* made just now; one with bytes stays for its owner */
        close(b->fd);
        b->fd = fd;
    } else if (fstat(b->fd, &st) == 0 && (uint64_t)st.st_size <= b->size &&
               rename(b->partial_path, ranged) == 0) {
        b->base = (uint64_t)st.st_size;
        unlink(b->done_path);
    } else {
        hfi_free(ranged);
        return HF_EIO;
    }
    hfi_free(b->partial_path);
    b->partial_path = ranged;
    return 0;
}

/* The hasher reads back bytes just written, which the page cache holds: readahead would
 * only read on into the holes of the chunks still downloading, zero-filling pages for
 * nothing (seen in hf-bench models under the hasher's pread). */
static void no_readahead(int fd)
{
#ifdef HAVE_POSIX_FADVISE
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
#else
    (void)fd;
#endif
}

/* Cut what is past b->base into chunks and start them (the hash is initialised). */
static void ranged_plan(hfi_blob_t *b)
{
    uint64_t chunk = b->size / ((uint64_t)b->hub->conns_per_file * CHUNKS_PER_CONN), rest;
    unsigned n;
    int rc;

    if (chunk < CHUNK_MIN)
        chunk = CHUNK_MIN;
    no_readahead(b->fd);
    rest = b->size - b->base;
    n = rest ? (unsigned)((rest + chunk - 1) / chunk) : 0;
    if ((b->chunks = hfi_calloc(n ? n : 1, sizeof *b->chunks)) == NULL) {
        fail_msg(b, HF_ENOMEM, "out of memory");
        return;
    }
    if (ftruncate(b->fd, (off_t)b->size) < 0) {
        fail_msg(b, HF_EIO, "cannot size its partial file");
        return;
    }
    for (unsigned i = 0; i < n; i++) {
        b->chunks[i].b = b;
        b->chunks[i].from = b->base + (uint64_t)i * chunk;
        b->chunks[i].len = i + 1 < n ? chunk : rest - (uint64_t)i * chunk;
    }
    pthread_mutex_lock(&b->mu);
    b->nchunks = n;
    rc = next_step(b);          /* a resumed prefix is hashed at once */
    pthread_mutex_unlock(&b->mu);
    do_next(b, rc);
}

static void ranged_start(hfi_blob_t *b)
{
    int rc;

    if (hfi_hash_init(&b->hash, b->etag, b->size) < 0) {
        fail_msg(b, HF_EPROTO, "not a sha1 or sha256 etag");
        return;
    }
    if ((rc = ranged_open(b)) < 0) {
        fail_msg(b, rc, rc == HF_ENOMEM ? "out of memory" : "cannot set its ranged file up");
        return;
    }
    b->resumed = b->base > 0;
    ranged_plan(b);
}

/* After a resumed prefix spoiled the whole (commit): every chunk again, from byte 0, into
 * the partial file rewind_partial() made empty. Every chunk has ended, so none is live. */
static void ranged_restart(hfi_blob_t *b)
{
    pthread_mutex_lock(&b->mu);
    free_chunks(b);
    b->next_chunk = b->running = b->finished = 0;
    b->base = b->hashed = 0;
    b->hashing = b->ended = 0;
    pthread_mutex_unlock(&b->mu);
    atomic_store(&b->range_bytes, 0);
    ranged_plan(b);
}

/* ---- start: lock, then decide ------------------------------------------------------------ */

/* Open (or create) the partial file, never through a symlink: a link or anything else
 * that is not a regular file at its path (planted: we hold the blob's lock) is removed and
 * the file created afresh with O_EXCL. */
static int open_partial(const char *path, hf_error_t *err)
{
    struct stat st;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);

    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
        return fd;
    if (fd >= 0)
        close(fd);
    if (lstat(path, &st) == 0 && !S_ISDIR(st.st_mode) && unlink(path) < 0)
        return hf_error_set(err, HF_EIO, 0, "cannot remove %s (not a regular file): %s", path,
                            strerror(errno));
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0)
        return hf_error_set(err, HF_EIO, 0, "cannot create %s: %s", path, strerror(errno));
    return fd;
}

/* Waiting for another process's lock ends when nobody wants the blob any more, or the hub
 * closes (hf_hub_free must not wait for another process). */
static int stop_waiting(void *arg)
{
    hfi_blob_t *b = arg;
    return atomic_load(&b->cancelled) || hfi_hub_closing(b->hub);
}

static void blob_start(void *arg)
{
    hfi_blob_t *b = arg;
    hf_error_t e;
    struct stat st;
    int held = 0;

    if (atomic_load(&b->cancelled)) {
        fail_msg(b, HF_ECANCELED, "cancelled");
        return;
    }
    memset(&e, 0, sizeof e);
    if (hfi_mkdirs_for(b->blob_path, &e) < 0 ||
        (b->lock_fd = hfi_cache_lock_held(b->lock_path, 0, &held, stop_waiting, b, &e)) < 0) {
        b->lock_fd = -1;
        fail(b, &e);
        return;
    }
    b->unlocked = !held;
    if (hfi_cache_check_no_links(&(hfi_cache_loc_t){ b->repo_dir, NULL }, b->partial_path,
                                 &e) < 0) {
        fail(b, &e);
        return;
    }
    if (!b->force && lstat(b->blob_path, &st) == 0 && S_ISREG(st.st_mode) &&
        (uint64_t)st.st_size == b->size && (held || blob_verified(b))) {
        succeed(b, 0);          /* another process committed it meanwhile */
        return;
    }
    if ((b->fd = open_partial(b->partial_path, &e)) < 0) {
        fail(b, &e);
        return;
    }
    if (fstat(b->fd, &st) < 0) {
        fail_msg(b, HF_EIO, "cannot open its partial file");
        return;
    }
    if (b->size >= b->hub->parallel_threshold && b->size > CHUNK_MIN) {
        ranged_start(b);
        return;
    }
    b->offset = (uint64_t)st.st_size;
    if (hfi_hash_init(&b->hash, b->etag, b->size) < 0) {
        fail_msg(b, HF_EPROTO, "not a sha1 or sha256 etag");
        return;
    }
    if (b->offset > b->size && rewind_partial(b) < 0) {
        fail_msg(b, HF_EIO, "cannot restart its partial file");
        return;
    }
    b->resumed = b->offset > 0;
    /* Resume: the bytes already there count only once hashed. */
    if (b->offset > 0 && hfi_hash_fd(&b->hash, b->fd, 0, b->offset) < 0) {
        fail_msg(b, HF_EIO, "cannot read its partial file");
        return;
    }
    if (b->offset == b->size) {                 /* complete from an earlier run */
        char hex[65];
        hfi_hash_final(&b->hash, hex);
        commit(b, hex);
        return;
    }
    single_start(b);
}

/* ---- joining and leaving ----------------------------------------------------------------- */

static hfi_blob_t *blob_new(hf_hub_t *hub, const hfi_blob_req_t *req, const char *blob_path)
{
    hfi_blob_t *b = hfi_calloc(1, sizeof *b);
    if (!b)
        return NULL;
    hfi_hub_hold(hub, 1);       /* the download that joins it holds the hub already */
    atomic_init(&b->refs, 1);
    b->hub = hub;
    b->fd = b->lock_fd = -1;
    pthread_mutex_init(&b->mu, NULL);
    hfi_callgate_init(&b->gate);
    b->blob_path = hfi_strdup(blob_path);
    b->partial_path = hfi_cache_partial_path(req->loc, req->etag);
    b->repo_dir = hfi_strdup(req->loc->repo_dir);
    b->lock_path = hfi_cache_lock_path(hub->cache_dir, req->loc, req->etag);
    b->url = hfi_strdup(req->url);
    b->resolve_url = req->resolve_url ? hfi_strdup(req->resolve_url) : NULL;
    b->repo_id = hfi_strdup(req->repo_id);
    b->path = hfi_strdup(req->path);
    b->done = hf_promise_new();
    snprintf(b->etag, sizeof b->etag, "%s", req->etag);
    b->size = req->size;
    b->force = req->force;
    b->with_auth = hfi_same_origin(hub, req->url);
    if (!b->blob_path || !b->partial_path || !b->repo_dir || !b->lock_path || !b->url || !b->repo_id ||
        !b->path || !b->done) {
        blob_unref(b);
        return NULL;
    }
    return b;
}

hfi_blob_t *hfi_blob_join(hf_hub_t *hub, const hfi_blob_req_t *req, hf_future_t **done)
{
    char *blob_path = hfi_cache_blob_path(req->loc, req->etag);
    hfi_blob_t *b, *fresh = NULL;
    int created = 0;

    if (!blob_path)
        return NULL;
    pthread_mutex_lock(&hub->mu);
    for (b = hub->inflight; b && strcmp(b->blob_path, blob_path) != 0; b = b->tnext)
        ;
    if (b && !atomic_load(&b->cancelled)) {
        hub->downloads_shared++;
    } else {
        pthread_mutex_unlock(&hub->mu);
        fresh = blob_new(hub, req, blob_path);
        pthread_mutex_lock(&hub->mu);
        if (!fresh) {
            pthread_mutex_unlock(&hub->mu);
            hfi_free(blob_path);
            return NULL;
        }
        /* nobody else started it while we were allocating? (checked again under mu) */
        for (b = hub->inflight; b && strcmp(b->blob_path, blob_path) != 0; b = b->tnext)
            ;
        if (b && !atomic_load(&b->cancelled)) {
            hub->downloads_shared++;
        } else {
            b = fresh;
            fresh = NULL;
            created = 1;                        /* its first reference is the download's */
            b->tnext = hub->inflight;
            hub->inflight = b;
        }
    }
    b->requesters++;
    atomic_fetch_add(&b->refs, 1);              /* the requester's */
    *done = hf_promise_future(b->done);
    pthread_mutex_unlock(&hub->mu);
    hfi_free(blob_path);
    if (req->progress)
        listen(b, req);
    if (fresh) {
        blob_unref(fresh);      /* someone else's download won the race */
    } else if (created) {
        if (hf_executor_post(hf_runtime_io(hub->rt), blob_start, b) < 0)
            fail_msg(b, HF_ECANCELED, "runtime shut down");
    }
    return b;
}

void hfi_blob_leave(hfi_blob_t *b, hf_progress_fn progress, void *progress_arg)
{
    hf_hub_t *hub = b->hub;
    int last;

    if (progress)
        unlisten(b, progress, progress_arg);
    pthread_mutex_lock(&hub->mu);
    last = --b->requesters == 0;
    if (last)
        atomic_store(&b->cancelled, 1);
    pthread_mutex_unlock(&hub->mu);
    if (last) {
        /* Abort what is in flight; its step sees `cancelled` and cleans up. */
        pthread_mutex_lock(&b->mu);
        hfi_pending_stop(&b->cur);
        for (unsigned i = 0; i < b->nchunks; i++)
            hfi_pending_stop(&b->chunks[i].cur);
        pthread_mutex_unlock(&b->mu);
    }
    blob_unref(b);
}
