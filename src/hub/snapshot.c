/*
 * snapshot.c - hf_hub_snapshot: every file of a revision that the globs select.
 *
 * Design notes
 *  - repo info resolves the revision to a commit and lists the files; refs/<revision> is
 *    written. The Hub cuts `siblings` short for very large repos, so, as huggingface_hub's
 *    snapshot_download does, a list that is missing, empty or longer than
 *    LARGE_REPO_FILES (its VERY_LARGE_REPO_THRESHOLD) is not trusted: the files then come
 *    from the recursive tree listing of the commit (hf_hub_list_files, every page);
 *  - each selected file is then downloaded by commit (hf_hub_download), at most
 *    `max_parallel` at once, so each costs one metadata request and files already in the
 *    cache for that commit cost none;
 *  - the first failure cancels the downloads still running and rejects the snapshot with
 *    the failing file's error; cancelling the snapshot cancels everything in flight;
 *  - the file stage settles the snapshot once (`over`, under mu), by whoever sees no file
 *    under way and none to start: the last file_done, or start_more when the snapshot was
 *    cancelled (or failed) with none running (files already fulfilled when a cancel came
 *    cannot fail, and no further file is started to settle it);
 *  - progress: per file as hf_hub_download reports it, plus batch totals (bytes and files
 *    of the whole selection), under `mu`;
 *  - lock order: `mu` is a leaf, never held while cancelling: a cancelled download leaves
 *    its blob, which waits out a progress call of this snapshot on another thread, and
 *    that call takes `mu`;
 *  - offline, the commit comes from the revision or refs/<revision>, and the snapshot
 *    folder is returned if it exists (HF_EOFFLINE otherwise); that lookup (a read of the
 *    ref, a stat) runs on the I/O pool like every other step, never on the calling thread,
 *    which gets the pending future at once. Online, when repo info fails
 *    for a reason other than the Hub's answer (hub_said_no: network, 5xx or 429 after
 *    retries, an answer that is not the Hub's), the same lookup answers if it can, as
 *    huggingface_hub's snapshot_download and hf_hub_download() do; its error otherwise;
 *  - every step, the offline lookup included, is an HF_ON_ANY continuation on the I/O pool
 *    (hfi_hub_then; the lookup is one of its own, hfi_hub_step), never a bare post: one
 *    that the freed runtime discards still runs, on the discarding thread, and sees `next`
 *    refuse to settle (discarded()): it starts nothing more and settles the snapshot as
 *    cancelled, so what the snapshot owns is let go and the hub with it;
 *  - a step that cannot be chained (no memory) settles the snapshot there with HF_ENOMEM
 *    (a file: counted as that file's failure), and cancels the future it would have
 *    followed.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/future_impl.h"
#include "hub/cache.h"
#include "hub/glob.h"
#include "hub/headers.h"
#include "hub/hub_impl.h"
#include "hub/names.h"

typedef struct snap snap_t;

typedef struct sfile {
    snap_t *s;
    char *path;
    uint64_t size, done;
    hf_future_t *f;             /* under s->mu */
    int counted;                /* in s->files_done (under s->mu) */
} sfile_t;

struct snap {
    _Atomic int refs;
    hf_hub_t *hub;
    hf_promise_t *out;
    char *repo_id, *revision;
    hf_repo_type_t type;
    char **include, **exclude;
    size_t ninclude, nexclude;
    unsigned max_parallel;
    hf_progress_fn progress;
    void *progress_arg;
    hfi_cache_loc_t loc;
    char commit[41];
    _Atomic int cancelled;
    pthread_mutex_t mu;
    hf_future_t *info;
    hf_future_t *list;          /* the tree listing, when the siblings are not trusted;
                                   under mu */
    sfile_t *files;
    size_t nfiles, next, running, finished;
    size_t files_done;          /* what progress reports: files whose last event came or
                                   that settled; under mu */
    int failed;
    int over;                   /* under mu: the file stage has settled (snap_finish), once */
    hf_error_t err;
    uint64_t batch_total;
};

/* huggingface_hub's VERY_LARGE_REPO_THRESHOLD: a siblings list longer than this may have
 * been cut short by the Hub. */
#define LARGE_REPO_FILES 50000

static _Atomic size_t large_repo_files = LARGE_REPO_FILES;

size_t hfi_snapshot_set_large_repo_files(size_t n)
{
    return atomic_exchange(&large_repo_files, n ? n : (size_t)LARGE_REPO_FILES);
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        hfi_free(v[i]);
    hfi_free(v);
}

/* 1 if `v` holds `n` patterns, none of them NULL. */
static int strv_ok(const char *const *v, size_t n)
{
    if (n && !v)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!v[i])
            return 0;
    return 1;
}

static char **strv_dup(const char *const *v, size_t n)
{
    char **out = n ? hfi_calloc(n, sizeof *out) : NULL;
    if (n && !out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!v[i] || (out[i] = hfi_strdup(v[i])) == NULL) {
            strv_free(out, n);
            return NULL;
        }
    }
    return out;
}

static void snap_unref(snap_t *s)
{
    if (atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    for (size_t i = 0; i < s->nfiles; i++) {
        hfi_free(s->files[i].path);
        hf_future_release(s->files[i].f);
    }
    hfi_free(s->files);
    hf_future_release(s->info);
    hf_future_release(s->list);
    strv_free(s->include, s->ninclude);
    strv_free(s->exclude, s->nexclude);
    hf_promise_free(s->out);
    hfi_cache_loc_free(&s->loc);
    hfi_free(s->repo_id);
    hfi_free(s->revision);
    pthread_mutex_destroy(&s->mu);
    {
        hf_hub_t *hub = s->hub;
        hfi_free(s);
        hfi_hub_drop(hub);
    }
}

static void snap_finish(snap_t *s, const hf_error_t *e)
{
    if (e) {
        if (atomic_load(&s->cancelled) || e->code == HF_ECANCELED)
            hf_future_cancel((hf_future_t *)(void *)s->out);
        else
            hf_promise_reject(s->out, e);
    } else {
        char *dir = hfi_cache_snapshot_dir(&s->loc, s->commit);
        char *copy = dir ? strdup(dir) : NULL;
        hfi_free(dir);
        if (!copy) {
            hf_error_t oom;
            hf_error_set(&oom, HF_ENOMEM, 0, "out of memory");
            hf_promise_reject(s->out, &oom);
        } else if (hf_promise_resolve(s->out, copy, free) < 0) {
            free(copy);
        }
    }
    snap_unref(s);
}

/* 1 where the cached snapshot must not answer instead: the Hub's own refusal (as in
 * hf_hub_download), or a local failure (a bad argument, short memory). */
static int hub_said_no(int code)
{
    return hfi_hub_refusal(code) || code == HF_EINVAL || code == HF_ENOMEM;
}

/* The commit `rev` names in the cache (the revision if it is a commit, else refs/<rev>),
 * into `commit`, if its snapshot folder is there: 0, else HF_ENOENT. */
static int cached_commit(const hfi_cache_loc_t *loc, const char *rev, char commit[41])
{
    char *dir;
    struct stat st;
    int rc;

    if (hfi_is_commit(rev))
        memcpy(commit, rev, 41);
    else if (hfi_cache_read_ref(loc, rev, commit) < 0)
        return HF_ENOENT;
    if ((dir = hfi_cache_snapshot_dir(loc, commit)) == NULL)
        return HF_ENOMEM;
    rc = stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : HF_ENOENT;
    hfi_free(dir);
    return rc;
}

static int selected(const snap_t *s, const char *path)
{
    int in = s->ninclude == 0;
    for (size_t i = 0; i < s->ninclude && !in; i++)
        in = hfi_glob_match(s->include[i], path);
    for (size_t i = 0; i < s->nexclude && in; i++)
        in = !hfi_glob_match(s->exclude[i], path);
    return in;
}

static void file_progress(const hf_progress_t *p, void *arg)
{
    sfile_t *sf = arg;
    snap_t *s = sf->s;
    hf_progress_t q = *p;
    uint64_t batch = 0;
    unsigned done;

    pthread_mutex_lock(&s->mu);
    sf->done = p->file_done;
    for (size_t i = 0; i < s->nfiles; i++)
        batch += s->files[i].done;
    /* a file's last event (files_done 1) comes before its future settles: counted there,
     * or the last file's last event would say n-1 of n files, and none would follow */
    if (p->files_done && !sf->counted) {
        sf->counted = 1;
        s->files_done++;
    }
    done = (unsigned)s->files_done;
    pthread_mutex_unlock(&s->mu);
    q.batch_done = batch;
    q.batch_total = s->batch_total;
    q.files_done = done;
    q.files_total = (unsigned)s->nfiles;
    s->progress(&q, s->progress_arg);
}

static void start_more(snap_t *s);

/* The file stage is over (`over` set under mu by the caller, so once): settle with the
 * first failure, as cancelled, or with the folder. Takes the chain's reference. */
static void snap_finish_files(snap_t *s)
{
    hf_error_t e;
    if (s->failed) {
        snap_finish(s, &s->err);
    } else if (atomic_load(&s->cancelled)) {
        hf_error_set(&e, HF_ECANCELED, 0, "cancelled");
        snap_finish(s, &e);
    } else {
        snap_finish(s, NULL);
    }
}

/* Settle the continuation's `next`; 1 if it refused: the runtime was freed and the step
 * was discarded, running here only to clean up. The snapshot is then cancelled: it goes
 * no further, and settles as soon as nothing of it is under way. */
static int discarded(snap_t *s, hf_promise_t *next)
{
    if (!hfi_hub_step_discarded(next))
        return 0;
    atomic_store(&s->cancelled, 1);
    return 1;
}

/* File `sf`, whose future is `done` (NULL if there is none), is in: fulfilled if `err` is
 * NULL, failed with `err` otherwise. Takes the file's hold on `s`. */
static void file_over(sfile_t *sf, hf_future_t *done, const hf_error_t *err)
{
    snap_t *s = sf->s;
    int finish = 0, cancel_rest = 0, failed;

    pthread_mutex_lock(&s->mu);
    s->running--;
    s->finished++;
    if (!sf->counted) {
        sf->counted = 1;
        s->files_done++;
    }
    if (err && !s->failed) {
        s->failed = 1;
        s->err = *err;
        cancel_rest = 1;
    }
    /* cancelled, no file is started any more (start_more): the last one in must settle
     * the snapshot even when every file it started was fulfilled */
    finish = s->running == 0 && !s->over &&
             (s->failed || s->finished == s->nfiles || atomic_load(&s->cancelled));
    s->over |= finish;
    failed = s->failed;
    pthread_mutex_unlock(&s->mu);
    if (cancel_rest) {
        for (size_t i = 0; i < s->nfiles; i++) {
            hf_future_t *f;
            pthread_mutex_lock(&s->mu);
            f = hf_future_retain(s->files[i].f);
            pthread_mutex_unlock(&s->mu);
            if (f && f != done)
                hf_future_cancel(f);
            hf_future_release(f);
        }
    }
    if (finish)
        snap_finish_files(s);
    else if (!failed)
        start_more(s);
    snap_unref(s);              /* this file's hold */
}

static void file_done(hf_future_t *done, hf_promise_t *next, void *arg)
{
    sfile_t *sf = arg;

    discarded(sf->s, next);
    file_over(sf, done, hf_future_state(done) == HF_FUTURE_FULFILLED ? NULL
                                                                      : hf_future_error(done));
}

static int s_failed(snap_t *s)
{
    int failed;
    pthread_mutex_lock(&s->mu);
    failed = s->failed;
    pthread_mutex_unlock(&s->mu);
    return failed;
}

static void start_more(snap_t *s)
{
    /* A hold of its own: the chain's (take_files' caller) goes once the last file is in,
     * which may be before this loop looks at `s` again. */
    atomic_fetch_add(&s->refs, 1);
    for (;;) {
        sfile_t *sf = NULL;
        hf_file_ref_t ref;
        hf_download_opts_t opts;
        hf_future_t *f;
        int finish = 0;

        pthread_mutex_lock(&s->mu);
        if (s->next < s->nfiles && s->running < s->max_parallel && !s->failed &&
            !atomic_load(&s->cancelled)) {
            sf = &s->files[s->next++];
            s->running++;
        } else if (s->running == 0 && !s->over &&
                   (s->failed || atomic_load(&s->cancelled))) {
            /* cancelled with no file under way (before the first started, or after the
             * last was in, fulfilled): no file_done is left to settle the snapshot */
            finish = s->over = 1;
        }
        pthread_mutex_unlock(&s->mu);
        if (finish)
            snap_finish_files(s);
        if (!sf)
            break;
        ref.repo_id = s->repo_id;
        ref.repo_type = s->type;
        ref.revision = s->commit;
        ref.path = sf->path;
        memset(&opts, 0, sizeof opts);
        if (s->progress) {
            opts.progress = file_progress;
            opts.progress_arg = sf;
        }
        atomic_fetch_add(&s->refs, 1);
        f = hf_hub_download(s->hub, &ref, &opts);
        if (!f)
            f = hf_future_rejected(HF_ENOMEM, 0, "out of memory");
        pthread_mutex_lock(&s->mu);
        sf->f = hf_future_retain(f);
        pthread_mutex_unlock(&s->mu);
        /* cancelled (or failed) while this one started: the cancel that went over the
         * files did not see it yet */
        if (atomic_load(&s->cancelled) || s_failed(s))
            hf_future_cancel(f);
        if (hfi_hub_then(s->hub, f, file_done, sf) < 0) {
            hf_error_t e;
            hf_future_cancel(f);
            hf_error_set(&e, HF_ENOMEM, 0, "out of memory");
            file_over(sf, f, &e);
        }
        hf_future_release(f);
    }
    snap_unref(s);
}

/* Select from the `count` files of the commit, then download them (or settle at once with
 * the empty folder if none is selected). */
static void take_files(snap_t *s, const hf_repo_file_t *files, size_t count)
{
    hf_error_t e;
    size_t n = 0;

    if (count && (s->files = hfi_calloc(count, sizeof *s->files)) == NULL) {
        hf_error_set(&e, HF_ENOMEM, 0, "out of memory");
        snap_finish(s, &e);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        if (!selected(s, files[i].path))
            continue;
        s->files[n].s = s;
        s->files[n].size = files[i].size;
        s->batch_total += files[i].size;
        if ((s->files[n].path = hfi_strdup(files[i].path)) == NULL) {
            while (n > 0)       /* not counted in nfiles yet: snap_unref would miss them */
                hfi_free(s->files[--n].path);
            hf_error_set(&e, HF_ENOMEM, 0, "out of memory");
            snap_finish(s, &e);
            return;
        }
        n++;
    }
    pthread_mutex_lock(&s->mu);
    s->nfiles = n;
    pthread_mutex_unlock(&s->mu);
    if (n == 0) {
        char *dir = hfi_cache_snapshot_dir(&s->loc, s->commit);
        char *probe = dir ? hfi_strfmt("%s/x", dir) : NULL;
        if (probe)
            hfi_mkdirs_for(probe, NULL);
        hfi_free(probe);
        hfi_free(dir);
        snap_finish(s, NULL);
        return;
    }
    start_more(s);
}

/* The error of a future that did not fulfil, or of a cancelled snapshot. */
static void not_fulfilled(snap_t *s, hf_future_t *done, hf_error_t *e)
{
    if (!atomic_load(&s->cancelled) && hf_future_state(done) == HF_FUTURE_REJECTED)
        *e = *hf_future_error(done);
    else
        hf_error_set(e, HF_ECANCELED, 0, "cancelled");
}

static void have_list(hf_future_t *done, hf_promise_t *next, void *arg)
{
    snap_t *s = arg;
    const hf_file_list_t *l;
    hf_error_t e;

    if (discarded(s, next) || atomic_load(&s->cancelled) ||
        hf_future_state(done) != HF_FUTURE_FULFILLED) {
        not_fulfilled(s, done, &e);
        snap_finish(s, &e);
        return;
    }
    l = hf_future_value(done);
    take_files(s, l->files, l->n);
}

/* The siblings are not to be trusted: list the commit's tree instead. */
static void list_tree(snap_t *s)
{
    hf_file_ref_t ref = { s->repo_id, s->type, s->commit, NULL };
    hf_future_t *f = hf_hub_list_files(s->hub, &ref);

    if (!f && (f = hf_future_rejected(HF_ENOMEM, 0, "out of memory")) == NULL) {
        hf_error_t e;
        hf_error_set(&e, HF_ENOMEM, 0, "out of memory");
        snap_finish(s, &e);
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->list = hf_future_retain(f);
    pthread_mutex_unlock(&s->mu);
    if (atomic_load(&s->cancelled))     /* the cancel that went over the futures missed it */
        hf_future_cancel(f);
    if (hfi_hub_then(s->hub, f, have_list, s) < 0) {
        hf_error_t e;
        hf_future_cancel(f);
        hf_error_set(&e, HF_ENOMEM, 0, "out of memory");
        snap_finish(s, &e);
    }
    hf_future_release(f);
}

static void have_info(hf_future_t *done, hf_promise_t *next, void *arg)
{
    snap_t *s = arg;
    const hf_repo_info_t *info;
    hf_error_t e;

    if (discarded(s, next) || atomic_load(&s->cancelled) ||
        hf_future_state(done) != HF_FUTURE_FULFILLED) {
        not_fulfilled(s, done, &e);
        /* the Hub could not be asked: the cached snapshot answers, if there is one */
        if (e.code != HF_ECANCELED && !atomic_load(&s->cancelled) && !hub_said_no(e.code) &&
            cached_commit(&s->loc, s->revision, s->commit) == 0) {
            snap_finish(s, NULL);
            return;
        }
        snap_finish(s, &e);
        return;
    }
    info = hf_future_value(done);
    memcpy(s->commit, info->sha, 41);
    memset(&e, 0, sizeof e);
    if (!hfi_is_commit(s->revision) && hfi_cache_write_ref(&s->loc, s->revision, s->commit, &e) < 0) {
        snap_finish(s, &e);
        return;
    }
    if (info->nfiles == 0 || info->nfiles > atomic_load(&large_repo_files)) {
        list_tree(s);
        return;
    }
    take_files(s, info->files, info->nfiles);
}

static void snap_on_settled(hf_future_t *f, void *arg, int state)
{
    snap_t *s = arg;
    (void)f;
    if (state == HF_FUTURE_CANCELLED) {
        atomic_store(&s->cancelled, 1);
        /* Each future is taken under mu but cancelled without it: a cancelled download
         * leaves its blob, which waits out a progress call of ours under way on another
         * thread, and that call (file_progress) takes mu. */
        for (size_t i = 0;; i++) {
            hf_future_t *g = NULL;
            int more;
            pthread_mutex_lock(&s->mu);
            more = i <= s->nfiles + 1;
            if (more)
                g = hf_future_retain(i == 0 ? s->info : i == 1 ? s->list : s->files[i - 2].f);
            pthread_mutex_unlock(&s->mu);
            if (!more)
                break;
            if (g) {
                hf_future_cancel(g);
                hf_future_release(g);
            }
        }
    }
    snap_unref(s);
}

/* Offline (on the I/O pool, following a fulfilled future): the folder of the commit the
 * revision names in the cache. */
static void offline_lookup(hf_future_t *done, hf_promise_t *next, void *arg)
{
    snap_t *s = arg;
    hf_error_t e;
    int rc;

    (void)done;
    if (discarded(s, next) || atomic_load(&s->cancelled)) {
        hf_error_set(&e, HF_ECANCELED, 0, "cancelled");
        snap_finish(s, &e);
        return;
    }
    if ((rc = cached_commit(&s->loc, s->revision, s->commit)) == 0) {
        snap_finish(s, NULL);
        return;
    }
    if (rc == HF_ENOENT)
        hf_error_set(&e, HF_EOFFLINE, 0, "%s: offline and revision %s not in the cache",
                     s->repo_id, s->revision);
    else
        hf_error_set(&e, rc, 0, "%s: %s", s->repo_id, hf_strerror(rc));
    snap_finish(s, &e);
}

hf_future_t *hf_hub_snapshot(hf_hub_t *hub, const hf_file_ref_t *ref, const hf_snapshot_opts_t *opts)
{
    hf_error_t e;
    snap_t *s;
    hf_future_t *out;
    hf_file_ref_t rref;

    if (!hub || !ref)
        return NULL;
    memset(&e, 0, sizeof e);
    if (opts && (!strv_ok(opts->include, opts->ninclude) || !strv_ok(opts->exclude, opts->nexclude)))
        hf_error_set(&e, HF_EINVAL, 0, "an include or exclude pattern is NULL");
    if (e.code < 0 || hfi_check_repo_id(ref->repo_id, &e) < 0 ||
        hfi_check_revision(ref->revision ? ref->revision : "main", &e) < 0 ||
        hfi_check_repo_type(ref->repo_type, &e) < 0)
        return hf_future_rejected(HF_EINVAL, 0, "%s", e.message);
    if (hfi_hub_hold(hub, 0) < 0)
        return hfi_hub_closed_future();
    if ((s = hfi_calloc(1, sizeof *s)) == NULL) {
        hfi_hub_drop(hub);
        return NULL;
    }
    atomic_init(&s->refs, 2);   /* the chain's and the hook's */
    s->hub = hub;
    s->type = ref->repo_type;
    pthread_mutex_init(&s->mu, NULL);
    s->repo_id = hfi_strdup(ref->repo_id);
    s->revision = hfi_strdup(ref->revision ? ref->revision : "main");
    s->max_parallel = opts && opts->max_parallel ? opts->max_parallel : 8;
    if (opts) {
        s->progress = opts->progress;
        s->progress_arg = opts->progress_arg;
        s->ninclude = opts->ninclude;
        s->nexclude = opts->nexclude;
        s->include = strv_dup(opts->include, opts->ninclude);
        s->exclude = strv_dup(opts->exclude, opts->nexclude);
    }
    s->out = hf_promise_new();
    if (!s->repo_id || !s->revision || !s->out || (s->ninclude && !s->include) ||
        (s->nexclude && !s->exclude) ||
        hfi_cache_loc_init(&s->loc, hub->cache_dir, s->type, s->repo_id) < 0) {
        atomic_store(&s->refs, 1);
        snap_unref(s);
        return NULL;
    }
    out = hf_promise_future(s->out);
    hfi_future_set_hook((hf_future_t *)(void *)s->out, snap_on_settled, s);
    if (hub->offline) {
        /* a step, not a post: the runtime, if freed first, still runs it */
        if (hfi_hub_step(hub, offline_lookup, s) < 0) {
            hf_error_set(&e, HF_ENOMEM, 0, "out of memory");
            snap_finish(s, &e);
        }
        return out;
    }
    rref = *ref;
    rref.path = NULL;
    s->info = hf_hub_repo_info(hub, &rref);
    if (!s->info)
        s->info = hf_future_rejected(HF_ENOMEM, 0, "out of memory");
    if (hfi_hub_then(hub, s->info, have_info, s) < 0) {
        hf_future_cancel(s->info);
        hf_error_set(&e, HF_ENOMEM, 0, "out of memory");
        snap_finish(s, &e);
    }
    return out;
}
