/*
 * blob_ranges.c - a large blob fetched as byte ranges over several connections, and the
 * hasher that follows the contiguous prefix.
 *
 * Design notes
 *  - files of at least `parallel_threshold` bytes are cut into ranges (CHUNKS_PER_CONN per
 *    connection, handed out in order) fetched over up to `conns_per_file` connections to
 *    the final (CDN) URL and written with pwrite. One hasher at a time (hash_step, on the
 *    I/O pool) reads back and hashes the prefix whose ranges are all in, while later
 *    ranges still download, so little is left to hash when the last one lands;
 *  - the prefix known written is recorded in <partial>.done, so that a killed download
 *    resumes past it;
 *  - a resumed download whose whole fails the hash is fetched once more from byte 0: the
 *    prefix an earlier run left may be the wrong part;
 *  - a 200 to a range request writes nothing. Before any range of this download was
 *    answered 206 with bytes, it means the server ignores Range (RFC 9110 lets it): start
 *    over, as one stream. The ranges are stopped as on a failure (to_single, with
 *    failed_code set by the same lock so that a real failure seen first stands), and once the
 *    last is out the download goes on as one stream (blob_single.c) from the hashed prefix;
 *    its resumed request answered 200 again starts over from byte 0 there. Once the server
 *    has honoured a range (ranges_honoured), a 200 is one node's hiccup: that range is asked
 *    for again, as a failure worth retrying is (counted in its attempts);
 *  - a range's failed attempt that wrote bytes (c->got grew) resumes from there without
 *    counting against max_retries, so a CDN that cuts every body short still delivers;
 *    hub.c bounds a range's attempts in all (hfi_hub_retry_decide);
 *  - once one range has failed for good, the download has failed: the other ranges' transfers
 *    are aborted and their retry delays cut short (fail_ranges), so the failure is reported
 *    at once, never after a long Retry-After of another range;
 *  - the chunk table, b->hashed, b->hashing and b->failed_code are under b->mu.
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
#include "hub/headers.h"
#include "hub/names.h"

#define CHUNKS_PER_CONN 32       /* ranges per connection: they end one after another, so the
                                    hashed prefix follows the download closely */

/* ---- ranges ------------------------------------------------------------------------------ */

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
    atomic_store_explicit(&b->ranges_honoured, 1, memory_order_relaxed);
    if (hfi_blob_write_at(b, x, buf, n, c->from + c->got) < 0)
        return x->err.code;
    c->got += n;
    hfi_blob_report(b, atomic_fetch_add(&b->range_bytes, n) + n, 0);
    return 0;
}

/* The download has failed with `code` (the first failure is the one reported): stop what
 * the other ranges are doing or waiting for, as nothing they fetch can be used now. Their
 * steps then settle them (as cancelled), and the last one out reports. With b->mu held. */
static void fail_ranges(hfi_blob_t *b, int code, const hf_error_t *err)
{
    if (b->failed_code)
        return;
    b->failed_code = code;
    b->failed_err = *err;
    for (unsigned i = 0; i < b->nchunks; i++)
        hfi_pending_stop(&b->chunks[i].cur);
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
        hfi_blob_chunk_start(next);
    }
    hfi_blob_unref(b);
}

/* The end of the prefix of the file whose chunks are all done (b->mu held). */
static uint64_t done_prefix(const hfi_blob_t *b)
{
    uint64_t end = b->base;
    for (unsigned i = 0; i < b->nchunks && b->chunks[i].done; i++)
        end = b->chunks[i].from + b->chunks[i].len;
    return end;
}

static void hash_step(hfi_blob_t *b);

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

/* A range was answered 200 and every range and the hasher have stopped: let go of the
 * ranges and fetch the rest as one stream, from the prefix hashed (b->hash holds it). */
static void single_instead(hfi_blob_t *b)
{
    pthread_mutex_lock(&b->mu);
    hfi_blob_free_chunks(b);            /* none is live: each has settled */
    b->next_chunk = b->running = b->finished = 0;
    b->failed_code = 0;
    b->to_single = 0;
    b->offset = b->hashed;
    pthread_mutex_unlock(&b->mu);
    if (b->done_path)
        unlink(b->done_path);           /* the stream does not keep the record */
    hfi_blob_single_start(b);
}

static void do_next(hfi_blob_t *b, int what);

/* The hasher posted for `b` will not run (`code`: no memory, or its runtime was freed
 * first): the download fails with `code`, reported by the last one out; drops the
 * hasher's reference. */
static void hasher_lost(hfi_blob_t *b, int code)
{
    hf_error_t e;
    int what;

    pthread_mutex_lock(&b->mu);
    b->hashing = 0;
    if (b->to_single) {         /* no stream either: this is the failure */
        b->to_single = 0;
        b->failed_code = 0;
    }
    hf_error_set(&e, code, 0, "%s", code == HF_ENOMEM ? "out of memory" : "runtime shut down");
    fail_ranges(b, code, &e);
    what = next_step(b);
    pthread_mutex_unlock(&b->mu);
    do_next(b, what);
    hfi_blob_unref(b);
}

/* hash_step as a step of its own (hfi_hub_step): run even if the runtime is freed first. */
static void hash_then(hf_future_t *done, hf_promise_t *next, void *arg)
{
    (void)done;
    if (hfi_hub_step_discarded(next))
        hasher_lost(arg, HF_ECANCELED);
    else
        hash_step(arg);
}

static void do_next(hfi_blob_t *b, int what)
{
    int rc;

    switch (what) {
    case NEXT_FAIL:
        if (atomic_load(&b->cancelled))
            hfi_blob_fail_msg(b, HF_ECANCELED, "cancelled");
        else if (b->to_single)
            single_instead(b);
        else
            hfi_blob_fail(b, &b->failed_err);
        break;
    case NEXT_HASH:
        pump_chunks(b);                 /* first: once posted, the hasher may finish it all */
        atomic_fetch_add(&b->refs, 1);  /* the hasher's */
        if ((rc = hfi_hub_step(b->hub, hash_then, b)) < 0)
            hasher_lost(b, rc);
        break;
    case NEXT_PUMP:
        pump_chunks(b);
        break;
    default:
        break;
    }
}

/* A chunk ended (well or not): start the next ones, hash what is contiguous, or finish. */
void hfi_blob_chunk_settled(chunk_t *c, int code, const hf_error_t *err)
{
    hfi_blob_t *b = c->b;
    int what;

    pthread_mutex_lock(&b->mu);
    b->running--;
    if (code == 0) {
        c->done = 1;
        b->finished++;
    } else {
        fail_ranges(b, code, err);
    }
    what = next_step(b);
    /* Once this chunk counts as done, the hasher may end the download and drop its
     * reference: keep `b` alive for what follows. */
    atomic_fetch_add(&b->refs, 1);
    pthread_mutex_unlock(&b->mu);
    do_next(b, what);
    hfi_blob_unref(b);
}

/* On the I/O pool, one at a time: hash the done prefix past what is hashed, while the
 * later chunks still download; once the whole file is hashed, verify and commit. */
static void hash_step(hfi_blob_t *b)
{
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
                        hfi_blob_fail_msg(b, HF_EIO, "cannot finish its hash");
                    else
                        hfi_blob_commit(b, hex);
                }
                hfi_blob_unref(b);          /* the hasher's */
                return;
            }
            what = next_step(b);
            pthread_mutex_unlock(&b->mu);
            do_next(b, what);
            hfi_blob_unref(b);              /* the hasher's */
            return;
        }
        pthread_mutex_unlock(&b->mu);
        if (hfi_hash_fd(&b->hash, b->fd, from, to - from) < 0) {
            hf_error_t e;
            hf_error_set(&e, HF_EIO, 0, "cannot read back %s", b->partial_path);
            pthread_mutex_lock(&b->mu);
            fail_ranges(b, HF_EIO, &e);
            pthread_mutex_unlock(&b->mu);
            continue;                   /* and report it on the way out */
        }
        pthread_mutex_lock(&b->mu);
        b->hashed = to;
        pthread_mutex_unlock(&b->mu);
        record_prefix(b, to);
    }
}

/* 1 if the download has failed or was cancelled: a range has nothing more to do. */
static int ranges_over(hfi_blob_t *b)
{
    int over;
    pthread_mutex_lock(&b->mu);
    over = b->failed_code != 0 || atomic_load(&b->cancelled);
    pthread_mutex_unlock(&b->mu);
    return over;
}

static void chunk_retry(hf_future_t *done, hf_promise_t *next, void *arg)
{
    chunk_t *c = arg;
    (void)done;
    hf_promise_resolve(next, NULL, NULL);
    if (ranges_over(c->b)) {
        hf_error_t e;
        hf_error_set(&e, HF_ECANCELED, 0, "cancelled");
        hfi_blob_chunk_settled(c, HF_ECANCELED, &e);
        return;
    }
    hfi_blob_chunk_start(c);
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
    if (code != HF_ECANCELED && !ranges_over(b)) {
        int r = hfi_blob_follow_redirect(b, x, &c->hops);   /* its body (if any) was not written */
        if (r > 0) {
            hfi_blob_chunk_start(c);
            return;
        }
        if (r < 0) {
            hfi_blob_chunk_settled(c, r, &x->err);
            return;
        }
    }
    if (code == 0 && x->status != 206)
        code = hf_error_set(&x->err, hfi_http_error_code(x->status, x->headers[HFI_H_ERROR_CODE]),
                            (int)x->status, "HTTP %ld for a range of %s", x->status, b->path);
    if (code == 0 && c->got < c->len)
        code = hf_error_set(&x->err, HF_ENETWORK, 0, "%s: range ended early", b->path);
    if (code != 0 && code != HF_ECANCELED && ranges_over(b))     /* another range failed */
        code = hf_error_set(&x->err, HF_ECANCELED, 0, "%s: the download failed", b->path);
    if (code == 0 || code == HF_ECANCELED || atomic_load(&b->cancelled)) {
        hfi_blob_chunk_settled(c, code, &x->err);
        return;
    }
    if (hfi_blob_url_expired(b, x)) {
        hfi_blob_refresh_url(b, c, &x->err);
        return;
    }
    if (x->status == 200 &&     /* Range ignored (nothing was written): start over */
        !atomic_load_explicit(&b->ranges_honoured, memory_order_relaxed)) {
        pthread_mutex_lock(&b->mu);
        if (!b->failed_code) {
            b->to_single = 1;
            fail_ranges(b, code, &x->err);
        }
        pthread_mutex_unlock(&b->mu);
        hfi_blob_chunk_settled(c, code, &x->err);
        return;
    }
    if (hfi_hub_retry_decide(b->hub, x, hfi_blob_worth_retrying(x, code) || x->status == 200,
                             c->got > c->got_before, &c->tries, &x->err) == 1) {
        hf_future_t *d = hfi_hub_retry_after(b->hub, x, c->tries.failed, chunk_retry, c);
        hfi_blob_pend(b, &c->cur, d, NULL);     /* stopped at once if fail_ranges came first */
        hf_future_release(d);
        return;
    }
    hfi_blob_chunk_settled(c, code, &x->err);
}

void hfi_blob_chunk_start(chunk_t *c)
{
    c->got_before = c->got;
    if (hfi_blob_submit_get(c->b, &c->x, chunk_sink, c, c->from + c->got, c->from + c->len - 1, &c->cur,
                   chunk_done, c) < 0) {
        hf_error_t e;
        hf_error_set(&e, HF_ENOMEM, 0, "out of memory");
        hfi_blob_chunk_settled(c, HF_ENOMEM, &e);
    }
}

/* A ranged download writes into <blob>.incomplete.ranged, never into <blob>.incomplete:
 * its file is full-size with holes until the end, and the official clients would take an
 * .incomplete file that long for finished. Its first bytes resume: those of an earlier
 * ranged run (as far as its .done record says), else those of an .incomplete file (ours
 * or an official client's), which becomes the ranged file; one longer than the blob is no
 * prefix of it and is replaced by an empty one first, as the single stream does. */
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
        (b->base = recorded_prefix(b, &st)) > 0 && (fd = hfi_blob_open_partial(ranged, &e)) >= 0) {
        if (fstat(b->fd, &st) == 0 && st.st_size == 0)
            unlink(b->partial_path);    /* made just now; one with bytes stays for its owner */
        close(b->fd);
        b->fd = fd;
    } else if (fstat(b->fd, &st) == 0 &&
               /* longer than the blob: no prefix of it, started over (a new empty file) */
               ((uint64_t)st.st_size <= b->size ||
                (hfi_blob_rewind_partial(b) == 0 && fstat(b->fd, &st) == 0)) &&
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
        hfi_blob_fail_msg(b, HF_ENOMEM, "out of memory");
        return;
    }
    if (ftruncate(b->fd, (off_t)b->size) < 0) {
        hfi_blob_fail_msg(b, HF_EIO, "cannot size its partial file");
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

void hfi_blob_ranged_start(hfi_blob_t *b)
{
    int rc;

    if (hfi_hash_init(&b->hash, b->etag, b->size) < 0) {
        hfi_blob_fail_msg(b, HF_EPROTO, "not a sha1 or sha256 etag");
        return;
    }
    if ((rc = ranged_open(b)) < 0) {
        hfi_blob_fail_msg(b, rc, rc == HF_ENOMEM ? "out of memory" : "cannot set its ranged file up");
        return;
    }
    b->resumed = b->base > 0;
    ranged_plan(b);
}

/* After a resumed prefix spoiled the whole (commit): every chunk again, from byte 0, into
 * the partial file hfi_blob_rewind_partial() made empty. Every chunk has ended, so none is live. */
void hfi_blob_ranged_restart(hfi_blob_t *b)
{
    pthread_mutex_lock(&b->mu);
    hfi_blob_free_chunks(b);
    b->next_chunk = b->running = b->finished = 0;
    b->base = b->hashed = 0;
    b->hashing = b->ended = 0;
    pthread_mutex_unlock(&b->mu);
    atomic_store(&b->range_bytes, 0);
    ranged_plan(b);
}
