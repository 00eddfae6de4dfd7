/*
 * blob.c - one blob's download: join and leave, lock, decide, verify, commit, report.
 * Shared by every request for the same blob in this process. How the bytes come is in
 * blob_single.c (one stream) and blob_ranges.c (byte ranges over several connections);
 * what both share (GETs, retries, redirects, signed URLs, writes) in blob_fetch.c.
 *
 * Design notes
 *  - a blob download is found in hub->inflight (under hub->mu) by its final path and size;
 *    a request joins it (requesters++) instead of starting another. The last requester to
 *    leave cancels it. It leaves the table when it settles;
 *  - two sizes for one etag (a file changed on the server between two HEADs, or a mirror
 *    that lies) are one blob said to be of two sizes, and at most one of them is right: a
 *    request of another size than the download under way gets a download of its own that
 *    starts once that one has settled. If blobs/<etag> is then there, of another size, and
 *    hashes right, this request's size is the wrong one: HF_EPROTO naming both sizes, at
 *    once, with nothing fetched (a fetch would fail the size check; the requester would
 *    find no blob of its size to link and come back). Otherwise it is fetched as usual;
 *  - under the blob's lock (<cache>/.locks/...): if blobs/<etag> appeared meanwhile (another
 *    process), it is done. Otherwise bytes go to blobs/<etag>.incomplete (opened O_NOFOLLOW,
 *    never through a symlink), kept across runs: a killed download resumes from its size,
 *    after re-hashing that prefix. Files of at least `parallel_threshold` bytes come as
 *    byte ranges, smaller ones as one stream. The lock is let go when the download settles;
 *    each requester takes it again around its snapshot link (download.c), checking there
 *    that the blob is still present (hf_cache_remove deletes blobs only under it);
 *  - the hash (sha256 or git sha1, from the etag's length) and the size are checked before
 *    the rename into blobs/<etag>; a mismatch is HF_ECORRUPT, deletes the partial file and
 *    commits nothing. The lock is an optimisation: when it holds nothing (flock unsupported,
 *    or the test hook), the commit renames only the file this download wrote (same inode
 *    at the partial path) after re-hashing it on disk, accepts a blob another writer
 *    committed once it hashes right, and otherwise fetches again; a partial file is
 *    started over by replacing it, never by truncating a file another writer may share;
 *  - failures keep the partial file for the next run, except a cancellation by the
 *    requesters (the last one left: they no longer want it), a corrupt file and a local
 *    write failure (a full disk), which delete it -- only ever a partial file this
 *    download opened under the lock. A shutdown is no cancellation by the requesters:
 *    hf_hub_free (the hub closing) and hf_runtime_free (its transfers stopped and its
 *    steps discarded end the download as HF_ECANCELED while the requesters are still
 *    there) keep the file, with every byte received written to it (pwrite, no buffer),
 *    and commit nothing under the blob's name: the next process resumes it with a Range;
 *  - steps run on the I/O pool (continuations with HF_ON_ANY on engine futures, so each
 *    step always runs and owns its cleanup; the first step and the hasher too, as
 *    continuations of a settled future: hfi_hub_step); the body sinks run on
 *    engine loop threads;
 *    `mu` guards the chunk table, the hasher's progress and the futures to cancel; the
 *    last of the chunks and the hasher to stop reports a failure (`ended`: once);
 *  - progress listeners (one per requester that gave a callback, with that requester's
 *    repo and path) live under `gate` (callgate.h): one thread at a time calls them, with
 *    no lock held during a call. A requester leaving marks its listener gone and waits out
 *    a call of it under way on another thread, so once hfi_blob_leave returns its callback
 *    is not called again (and a call under way has returned, except in the one case of
 *    two callbacks cancelling each other's calls, where callgate.h says what happens); a
 *    callback may cancel, and so leave, any call (its own included) without a lock cycle.
 *    The table is compacted only while nobody is calling;
 *  - lock order: hub->mu before b->mu; neither is held while calling out; gate.mu is
 *    taken with neither held, and only callgate's own graph mutex is taken under it.
 */
#include "config.h"

#include "hub/blob_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/parklot.h"
#include "hub/names.h"

#define PROGRESS_NS 100000000u

void hfi_blob_free_chunks(hfi_blob_t *b)
{
    for (unsigned i = 0; i < b->nchunks; i++) {
        hfi_xfer_reset(&b->chunks[i].x);
        hfi_pending_set(&b->chunks[i].cur, NULL, NULL);
    }
    hfi_free(b->chunks);
    b->chunks = NULL;
    b->nchunks = 0;
}

void hfi_blob_unref(hfi_blob_t *b)
{
    if (atomic_fetch_sub(&b->refs, 1) != 1)
        return;
    hfi_hash_free(&b->hash);
    hfi_xfer_reset(&b->x);
    hfi_pending_set(&b->cur, NULL, NULL);
    hfi_blob_free_chunks(b);
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

void hfi_blob_report(hfi_blob_t *b, uint64_t done, int force)
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

void hfi_blob_fail(hfi_blob_t *b, const hf_error_t *err)
{
    int unwanted = atomic_load(&b->cancelled);
    int cancelled = unwanted || err->code == HF_ECANCELED;
    /* kept for the next run: a partial file cut short by the network, or stopped by a
     * shutdown (a clean one keeps what a kill would): hf_hub_free, or hf_runtime_free,
     * whose stopped transfers and discarded steps end as HF_ECANCELED while the
     * requesters are still there. Removed: one that is unwanted (its last requester left,
     * which a user's cancel does, unless the hub is closing or its runtime being freed
     * then: a model load on that runtime withdraws from its downloads as it ends), wrong
     * (corrupt) or that could not be written (a full disk) */
    close_files(b, (unwanted && !hfi_hub_stopping(b->hub)) || err->code == HF_ECORRUPT ||
                       err->code == HF_EIO);
    leave_table(b);
    if (cancelled)
        hf_future_cancel((hf_future_t *)(void *)b->done);
    else
        hf_promise_reject(b->done, err);
    hfi_blob_unref(b);
}

void hfi_blob_fail_msg(hfi_blob_t *b, int code, const char *msg)
{
    hf_error_t e;
    hf_error_set(&e, code, 0, "%s: %s", b->path, msg);
    hfi_blob_fail(b, &e);
}

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
    hfi_blob_report(b, b->size, 1);
    leave_table(b);
    hf_promise_resolve(b->done, NULL, NULL);
    hfi_blob_unref(b);
}

/* Start the partial file over, empty. A new file replaces it rather than truncating it in
 * place: a writer that ignored the lock may share the old one, and its bytes stay whole. */
int hfi_blob_rewind_partial(hfi_blob_t *b)
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

/* Verify the finished partial file, then rename it into blobs/<etag>. */
void hfi_blob_commit(hfi_blob_t *b, const char *hex)
{
    struct stat st;
    hf_error_t e;
    int bad_size = fstat(b->fd, &st) < 0 || (uint64_t)st.st_size != b->size;

    if ((bad_size || strcmp(hex, b->etag) != 0) && b->resumed) {
        /* the prefix an earlier run left may be what is wrong: fetch it all once more */
        if (b->done_path)
            unlink(b->done_path);
        if (hfi_blob_rewind_partial(b) < 0) {
            hfi_blob_fail_msg(b, HF_EIO, "cannot restart its partial file");
            return;
        }
        if (b->nchunks)
            hfi_blob_ranged_restart(b);
        else
            hfi_blob_single_start(b);
        return;
    }
    if (bad_size) {
        hf_error_set(&e, HF_ECORRUPT, 0, "%s: size %llu, expected %llu", b->path,
                     (unsigned long long)st.st_size, (unsigned long long)b->size);
        hfi_blob_fail(b, &e);
        return;
    }
    if (strcmp(hex, b->etag) != 0) {
        hf_error_set(&e, HF_ECORRUPT, 0, "%s: content hashes to %.12s..., expected %.12s...",
                     b->path, hex, b->etag);
        hfi_blob_fail(b, &e);
        return;
    }
    if (b->hub->fsync_blobs && fsync(b->fd) < 0) {
        hf_error_set(&e, HF_EIO, 0, "cannot sync %s: %s", b->partial_path, strerror(errno));
        hfi_blob_fail(b, &e);
        return;
    }
    /* Without the lock, others may have written into our file too: what is committed is
     * what is on disk, so that is what must hash right. */
    if (b->unlocked && (!partial_is_ours(b) || !verified_on_disk(b->fd, b->etag, b->size))) {
        if (blob_verified(b)) {         /* another writer committed it */
            succeed(b, 0);
            return;
        }
        if (!b->nchunks && b->restarts++ < b->hub->max_retries && hfi_blob_rewind_partial(b) == 0) {
            hfi_blob_single_start(b);            /* fetched again, never committed spoiled */
            return;
        }
        hfi_blob_fail_msg(b, HF_ECORRUPT, "its partial file was spoiled by another writer");
        return;
    }
    if (rename(b->partial_path, b->blob_path) < 0) {
        if (errno == ENOENT && blob_verified(b)) {
            succeed(b, 0);
            return;
        }
        hf_error_set(&e, HF_EIO, 0, "cannot commit %s: %s", b->blob_path, strerror(errno));
        hfi_blob_fail(b, &e);
        return;
    }
    succeed(b, 1);
}

/* ---- start: lock, then decide ------------------------------------------------------------ */

/* Open (or create) the partial file, never through a symlink: a link or anything else
 * that is not a regular file at its path (planted: we hold the blob's lock) is removed and
 * the file created afresh with O_EXCL. */
int hfi_blob_open_partial(const char *path, hf_error_t *err)
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

/* HF_EPROTO (in `e`) if blobs/<etag> is there, of another size than b->size, and its bytes
 * hash to the etag: they are the blob, so the size the Hub gave this request is wrong (two
 * sizes for one etag). Fetching would only fail the size check, or commit nothing that
 * differs. 0 otherwise (none there, or one whose bytes are not the blob: fetched again). */
static int other_size(hfi_blob_t *b, hf_error_t *e)
{
    struct stat st;
    int fd = open(b->blob_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), ok;

    if (fd < 0)
        return 0;
    ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size != b->size &&
         verified_on_disk(fd, b->etag, (uint64_t)st.st_size);
    close(fd);
    if (!ok)
        return 0;
    return hf_error_set(e, HF_EPROTO, 0,
                        "%s: the Hub gave its blob %.12s... a size of %llu bytes, but that blob "
                        "(hash checked) is %llu bytes: two sizes for one etag", b->path, b->etag,
                        (unsigned long long)b->size, (unsigned long long)st.st_size);
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
        hfi_blob_fail_msg(b, HF_ECANCELED, "cancelled");
        return;
    }
    memset(&e, 0, sizeof e);
    if (hfi_mkdirs_for(b->blob_path, &e) < 0 ||
        (b->lock_fd = hfi_cache_lock_held(b->lock_path, 0, &held, stop_waiting, b, &e)) < 0) {
        b->lock_fd = -1;
        hfi_blob_fail(b, &e);
        return;
    }
    b->unlocked = !held;
    if (hfi_cache_check_no_links(&(hfi_cache_loc_t){ b->repo_dir, NULL }, b->partial_path,
                                 &e) < 0) {
        hfi_blob_fail(b, &e);
        return;
    }
    if (!b->force && hfi_cache_is_blob(b->blob_path, b->size) && (held || blob_verified(b))) {
        succeed(b, 0);          /* another process committed it meanwhile */
        return;
    }
    if (!b->force && other_size(b, &e) < 0) {
        hfi_blob_fail(b, &e);
        return;
    }
    if ((b->fd = hfi_blob_open_partial(b->partial_path, &e)) < 0) {
        hfi_blob_fail(b, &e);
        return;
    }
    if (fstat(b->fd, &st) < 0) {
        hfi_blob_fail_msg(b, HF_EIO, "cannot open its partial file");
        return;
    }
    if (b->size >= b->hub->parallel_threshold && b->size > CHUNK_MIN) {
        hfi_blob_ranged_start(b);
        return;
    }
    b->offset = (uint64_t)st.st_size;
    if (hfi_hash_init(&b->hash, b->etag, b->size) < 0) {
        hfi_blob_fail_msg(b, HF_EPROTO, "not a sha1 or sha256 etag");
        return;
    }
    if (b->offset > b->size && hfi_blob_rewind_partial(b) < 0) {
        hfi_blob_fail_msg(b, HF_EIO, "cannot restart its partial file");
        return;
    }
    b->resumed = b->offset > 0;
    /* Resume: the bytes already there count only once hashed. */
    if (b->offset > 0 && hfi_hash_fd(&b->hash, b->fd, 0, b->offset) < 0) {
        hfi_blob_fail_msg(b, HF_EIO, "cannot read its partial file");
        return;
    }
    if (b->offset == b->size) {                 /* complete from an earlier run */
        char hex[65];
        hfi_hash_final(&b->hash, hex);
        hfi_blob_commit(b, hex);
        return;
    }
    hfi_blob_single_start(b);
}

/* blob_start as a step of its own (hfi_hub_step): a runtime freed before it ran settles
 * the download as cancelled here, on the discarding thread, instead of leaking it. */
static void start_step(hf_future_t *done, hf_promise_t *next, void *arg)
{
    hfi_blob_t *b = arg;

    (void)done;
    if (hfi_hub_step_discarded(next)) {
        hfi_blob_fail_msg(b, HF_ECANCELED, "runtime shut down");
        return;
    }
    blob_start(b);
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
        hfi_blob_unref(b);
        return NULL;
    }
    return b;
}

/* With hub->mu held: the download of `blob_path` under way that a request for `size` bytes
 * joins (the same blob, the same size), or NULL; `*other` receives the newest one under
 * way of another size (the Hub gave two sizes for one etag), or NULL. */
static hfi_blob_t *find_inflight(hf_hub_t *hub, const char *blob_path, uint64_t size,
                                 hfi_blob_t **other)
{
    *other = NULL;
    for (hfi_blob_t *b = hub->inflight; b; b = b->tnext) {
        if (strcmp(b->blob_path, blob_path) != 0 || atomic_load(&b->cancelled))
            continue;
        if (b->size == size)
            return b;
        if (!*other)
            *other = b;         /* the table is newest first */
    }
    return NULL;
}

hfi_blob_t *hfi_blob_join(hf_hub_t *hub, const hfi_blob_req_t *req, hf_future_t **done)
{
    char *blob_path = hfi_cache_blob_path(req->loc, req->etag);
    hfi_blob_t *b, *fresh = NULL, *other = NULL;
    hf_future_t *after = NULL;
    int created = 0;

    if (!blob_path)
        return NULL;
    pthread_mutex_lock(&hub->mu);
    if ((b = find_inflight(hub, blob_path, req->size, &other)) != NULL) {
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
        if ((b = find_inflight(hub, blob_path, req->size, &other)) != NULL) {
            hub->downloads_shared++;
        } else {
            b = fresh;
            fresh = NULL;
            created = 1;                        /* its first reference is the download's */
            b->tnext = hub->inflight;
            hub->inflight = b;
            if (other) {
                /* the same blob, said to be of another size: it starts once that one has
                 * settled, and then finds out which size the bytes have (blob_start) */
                after = hf_promise_future(other->done);
                hub->downloads_shared++;
            }
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
        hfi_blob_unref(fresh);      /* someone else's download won the race */
    } else if (created) {
        if ((after ? hfi_hub_then(hub, after, start_step, b) : hfi_hub_step(hub, start_step, b)) < 0)
            hfi_blob_fail_msg(b, HF_ENOMEM, "out of memory");
        hf_future_release(after);
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
    hfi_blob_unref(b);
}
