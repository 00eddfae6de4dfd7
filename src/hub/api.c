/*
 * api.c - the Hub's JSON API: repo info, the paginated tree listing, and snapshot
 * downloads built on them.
 *
 * Design notes
 *  - one small state machine (apireq_t) does a GET with the token, follows same-origin
 *    redirects (a renamed repo's relative 307, at most 10), retries 408/429/5xx and
 *    dropped connections with backoff, maps X-Error-Code, parses the JSON with cJSON and
 *    hands it to a parser, which may ask for a next page (Link: rel="next", same origin
 *    only; a next link it cannot follow fails the request rather than cut the listing
 *    short). Steps run on the I/O pool, as in download.c;
 *  - JSON from the network is untrusted: every field is type-checked, every string length
 *    bounded, and entries that fail the checks (a path with "..", an id that is no repo
 *    id), a listing that names a path twice or as both a file and a folder, and repo
 *    info asked at a commit that answers another, are refused with HF_EPROTO rather than
 *    skipped; X-Error-Message reaches our
 *    messages only as printable ASCII (hfi_header_text): no terminal escape gets through;
 *  - a snapshot resolves the revision to a commit with repo info, filters the file list
 *    with the globs, writes refs/<revision>, and downloads the files by commit, at most
 *    `max_parallel` at once; the first failure cancels the rest.
 */
#include "config.h"

#include <cjson/cJSON.h>
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

#define MAX_HOPS 10
#define MAX_FILES 1000000

/* ---- a JSON GET with retries, redirects and pages ---------------------------------------- */

typedef struct apireq apireq_t;
typedef int (*api_parse_fn)(apireq_t *r, const cJSON *json, hf_error_t *err);

struct apireq {
    _Atomic int refs;
    hf_hub_t *hub;
    hf_promise_t *out;
    char *url, *what;
    char *no_entry;             /* the message for EntryNotFound, NULL: the Hub's */
    hfi_xfer_t x;
    unsigned hops, pages;
    hfi_tries_t tries;          /* of the current page */
    _Atomic int cancelled;
    pthread_mutex_t mu;
    hfi_pending_t cur;          /* what a cancellation must stop */
    api_parse_fn parse;
    void *acc;                  /* the parser's result, resolved at the end */
    void (*acc_free)(void *);
};

static void req_unref(apireq_t *r)
{
    if (atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    hfi_xfer_reset(&r->x);
    if (r->acc && r->acc_free)
        r->acc_free(r->acc);
    hf_promise_free(r->out);
    hfi_free(r->url);
    hfi_free(r->what);
    hfi_free(r->no_entry);
    pthread_mutex_destroy(&r->mu);
    {
        hf_hub_t *hub = r->hub;
        hfi_free(r);
        hfi_hub_drop(hub);
    }
}

static void req_set_cur(apireq_t *r, hf_future_t *f, hfi_xfer_t *x)
{
    pthread_mutex_lock(&r->mu);
    hfi_pending_set(&r->cur, f, x);
    if (f && atomic_load(&r->cancelled))
        hfi_pending_stop(&r->cur);
    pthread_mutex_unlock(&r->mu);
}

static void req_fail(apireq_t *r, int code, int status, const char *msg)
{
    hf_error_t e;
    if (atomic_load(&r->cancelled) || code == HF_ECANCELED) {
        hf_future_cancel((hf_future_t *)(void *)r->out);
    } else {
        hf_error_set(&e, code, status, "%s: %s", r->what, msg);
        hf_promise_reject(r->out, &e);
    }
    req_set_cur(r, NULL, NULL);
    req_unref(r);
}

static void req_start(apireq_t *r);

static void req_retry(hf_future_t *done, hf_promise_t *next, void *arg)
{
    apireq_t *r = arg;
    (void)done;
    hf_promise_resolve(next, NULL, NULL);
    if (atomic_load(&r->cancelled))
        req_fail(r, HF_ECANCELED, 0, "cancelled");
    else
        req_start(r);
}

static void req_retry_later(apireq_t *r)
{
    hf_future_t *d = hfi_hub_retry_after(r->hub, &r->x, r->tries.failed, req_retry, r);
    req_set_cur(r, d, NULL);
    hf_future_release(d);
}

/* A Location or Link target resolved against the URL asked (RFC 3986: "/x", "x", "../x",
 * "//host/x"); NULL unless it is http(s) on the endpoint's origin. */
static char *same_origin_url(apireq_t *r, const char *target)
{
    char *to = NULL;

    if (hfi_url_resolve(r->url, target, &to) < 0)
        return NULL;
    if (!hfi_same_origin(r->hub, to)) {
        hfi_free(to);
        return NULL;
    }
    return to;
}

static void req_done(hf_future_t *done, hf_promise_t *next, void *arg)
{
    apireq_t *r = arg;
    hfi_xfer_t *x = &r->x;
    int st = hf_future_state(done);
    hf_error_t e;
    cJSON *json;
    char *link;
    int rc;

    hf_promise_resolve(next, NULL, NULL);
    if (atomic_load(&r->cancelled) || st == HF_FUTURE_CANCELLED) {
        req_fail(r, HF_ECANCELED, 0, "cancelled");
        return;
    }
    if (st == HF_FUTURE_REJECTED) {
        e = *hf_future_error(done);
        if (hfi_hub_retry_decide(r->hub, x, e.code == HF_ENETWORK || e.code == HF_ETIMEDOUT, 0,
                                 &r->tries, &e) == 1) {
            req_retry_later(r);
            return;
        }
        req_fail(r, e.code, 0, e.message);
        return;
    }
    if (x->status >= 300 && x->status < 400) {
        char *to = x->headers[HFI_H_LOCATION] ? same_origin_url(r, x->headers[HFI_H_LOCATION]) : NULL;
        if (!to || ++r->hops > MAX_HOPS) {
            hfi_free(to);
            req_fail(r, HF_EPROTO, (int)x->status, "bad or too many redirects");
            return;
        }
        hfi_free(r->url);
        r->url = to;
        req_start(r);
        return;
    }
    if (x->status < 200 || x->status >= 300) {
        int code = hfi_http_error_code(x->status, x->headers[HFI_H_ERROR_CODE]);
        const char *msg = x->headers[HFI_H_ERROR_MESSAGE];
        char said[121];
        if (code == HF_EENTRY_NOT_FOUND && r->no_entry)   /* the Hub's words would mislead */
            hf_error_set(&e, code, (int)x->status, "%s (HTTP %ld)", r->no_entry, x->status);
        else
            hf_error_set(&e, code, (int)x->status, "%s (HTTP %ld)%s%s", hf_strerror(code),
                         x->status, msg ? ": " : "", hfi_header_text(msg, said, sizeof said));
        if (hfi_hub_retry_decide(r->hub, x, hfi_http_retryable(x->status), 0, &r->tries,
                                 &e) == 1) {
            req_retry_later(r);
            return;
        }
        req_fail(r, e.code, e.http_status, e.message);
        return;
    }
    json = x->body ? cJSON_ParseWithLength(x->body, x->body_len) : NULL;
    if (!json) {
        req_fail(r, HF_EPROTO, (int)x->status, "the answer is not JSON");
        return;
    }
    memset(&e, 0, sizeof e);
    if (r->parse(r, json, &e) < 0) {
        cJSON_Delete(json);
        req_fail(r, e.code, (int)x->status, e.message);
        return;
    }
    cJSON_Delete(json);
    switch ((rc = hfi_parse_link_next(x->headers[HFI_H_LINK], &link))) {
    case HF_ENOENT:
        break;                  /* the last page */
    case 0: {
        char *to = same_origin_url(r, link);
        hfi_free(link);
        if (!to || ++r->pages > 100000) {
            hfi_free(to);
            req_fail(r, HF_EPROTO, (int)x->status, "bad next-page link");
            return;
        }
        hfi_free(r->url);
        r->url = to;
        memset(&r->tries, 0, sizeof r->tries);
        req_start(r);
        return;
    }
    default:                    /* not taken for the last page: the listing would be cut */
        req_fail(r, rc, (int)x->status, rc == HF_ENOMEM ? "out of memory"
                 : "a malformed next-page link (the listing would be cut short)");
        return;
    }
    if (hf_promise_resolve(r->out, r->acc, r->acc_free) == 0)
        r->acc = NULL;          /* the future owns it now */
    req_set_cur(r, NULL, NULL);
    req_unref(r);
}

static void req_start(apireq_t *r)
{
    hf_future_t *f;

    hfi_xfer_reset(&r->x);
    hfi_xfer_init(&r->x, r->url, r->hub->etag_timeout_ms);
    r->x.with_auth = 1;
    if ((f = hfi_engine_submit(r->hub->engine, &r->x)) == NULL) {
        req_fail(r, HF_ENOMEM, 0, "out of memory");
        return;
    }
    req_set_cur(r, f, &r->x);
    hfi_hub_then(r->hub, f, req_done, r);
    hf_future_release(f);
}

static void req_on_settled(hf_future_t *f, void *arg, int state)
{
    apireq_t *r = arg;
    (void)f;
    if (state == HF_FUTURE_CANCELLED) {
        atomic_store(&r->cancelled, 1);
        pthread_mutex_lock(&r->mu);
        hfi_pending_stop(&r->cur);
        pthread_mutex_unlock(&r->mu);
    }
    req_unref(r);
}

/* req_start as a step of its own (hfi_hub_step): a runtime freed while it waited in the
 * queue still runs this, and the request settles cancelled instead of leaking */
static void req_begin(hf_future_t *done, hf_promise_t *next, void *arg)
{
    (void)done;
    if (hfi_hub_step_discarded(next))
        req_fail(arg, HF_ECANCELED, 0, "runtime shut down");
    else
        req_start(arg);
}

/* Start a request; `acc` is the parser's state (freed with acc_free unless resolved). */
static hf_future_t *api_get(hf_hub_t *hub, char *url, const char *what, api_parse_fn parse,
                            void *acc, void (*acc_free)(void *), char *no_entry)
{
    int held = url ? hfi_hub_hold(hub, 0) : HF_ENOMEM;
    apireq_t *r = NULL;
    hf_future_t *f;

    if (held < 0 || (r = hfi_calloc(1, sizeof *r)) == NULL) {
        if (held == 0)
            hfi_hub_drop(hub);          /* held, but no memory for the request */
        hfi_free(url);
        hfi_free(no_entry);
        if (acc)
            acc_free(acc);
        return held == HF_ECANCELED ? hfi_hub_closed_future() : NULL;
    }
    atomic_init(&r->refs, 2);
    r->hub = hub;
    r->url = url;
    r->what = hfi_strdup(what);
    r->parse = parse;
    r->acc = acc;
    r->acc_free = acc_free;
    r->no_entry = no_entry;
    pthread_mutex_init(&r->mu, NULL);
    if (!r->what || (r->out = hf_promise_new()) == NULL) {
        atomic_store(&r->refs, 1);
        req_unref(r);
        return NULL;
    }
    f = hf_promise_future(r->out);
    hfi_future_set_hook((hf_future_t *)(void *)r->out, req_on_settled, r);
    if (hub->offline) {
        req_fail(r, HF_EOFFLINE, 0, "offline mode: no API request is made");
        return f;
    }
    if (hfi_hub_step(hub, req_begin, r) < 0)
        req_fail(r, HF_ENOMEM, 0, "out of memory");
    return f;
}

/* ---- JSON helpers -------------------------------------------------------------------------- */

static const char *jstr(const cJSON *o, const char *key, size_t max)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) && v->valuestring && strlen(v->valuestring) <= max ? v->valuestring
                                                                                 : NULL;
}

/* A byte count: 0, or 1 if `key` is absent (the size stays unknown, 0), or -1 if it is
 * there but not a whole number from 0 to 2^53 (JSON numbers are doubles: past that they
 * are not exact). */
static int jsize(const cJSON *o, const char *key, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v)
        return 1;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 9007199254740992.0) ||
        (double)(uint64_t)v->valuedouble != v->valuedouble)
        return -1;
    *out = (uint64_t)v->valuedouble;
    return 0;
}

static void files_free(hf_repo_file_t *files, size_t n)
{
    for (size_t i = 0; i < n; i++)
        hfi_free(files[i].path);
    hfi_free(files);
}

/* Fill one entry from a sibling or tree object. `path_key` is "rfilename" or "path",
 * `oid_key` "blobId" or "oid", `lfs_key` "sha256" or "oid". */
static int read_file_entry(const cJSON *o, hf_repo_file_t *f, const char *path_key,
                           const char *oid_key, const char *lfs_key, hf_error_t *err)
{
    const char *path = jstr(o, path_key, 4096), *oid;
    const cJSON *lfs;

    memset(f, 0, sizeof *f);
    if (!path || hfi_check_path(path, NULL) < 0)
        return hf_error_set(err, HF_EPROTO, 0, "a file entry has a missing or unsafe path");
    if ((f->path = hfi_strdup(path)) == NULL)
        return hf_error_set(err, HF_ENOMEM, 0, "out of memory");
    if (jsize(o, "size", &f->size) < 0)
        return hf_error_set(err, HF_EPROTO, 0, "%s: size is not a byte count", path);
    if ((oid = jstr(o, oid_key, 40)) != NULL && hfi_is_hex(oid, 40))
        memcpy(f->oid, oid, 41);
    lfs = cJSON_GetObjectItemCaseSensitive(o, "lfs");
    if (cJSON_IsObject(lfs)) {
        const char *sha = jstr(lfs, lfs_key, 64);
        if (!sha || !hfi_is_hex(sha, 64))
            return hf_error_set(err, HF_EPROTO, 0, "%s: malformed lfs entry", path);
        f->is_lfs = 1;
        memcpy(f->lfs_sha256, sha, 65);
        if (jsize(lfs, "size", &f->size) < 0)
            return hf_error_set(err, HF_EPROTO, 0, "%s: lfs size is not a byte count", path);
    }
    return 0;
}

/* strcmp order, except that '/' comes before every other byte: a path's descendants
 * ("a/b", "a/c/d") then follow it at once, before "a-x" or "a.txt". */
static int cmp_tree_order(const void *a, const void *b)
{
    const unsigned char *x = *(const unsigned char *const *)a;
    const unsigned char *y = *(const unsigned char *const *)b;

    while (*x && *x == *y)
        x++, y++;
    if (*x == *y)
        return 0;
    if (!*x || !*y)
        return *x ? 1 : -1;
    if (*x == '/' || *y == '/')
        return *x == '/' ? -1 : 1;
    return *x < *y ? -1 : 1;
}

/* A listing of one commit's files names each path once, and no path both as a file and as
 * a folder ("a" and "a/b"): both cannot be in a snapshot folder, and a listing that says so
 * is a lie (HF_EPROTO), refused before any file is asked for. In tree order (above) a
 * duplicate is its neighbour, and so is the first path below a file, so one pass over
 * neighbours finds both: O(n log n) comparisons, whatever the paths' depth (looking up
 * each folder of each path cost O(length^2) per path: 3 s for 1000 paths of 4 KiB). */
static int check_paths_distinct(const hf_repo_file_t *files, size_t n, hf_error_t *err)
{
    const char **p;
    int rc = 0;

    if (n < 2)
        return 0;
    if ((p = hfi_malloc(n * sizeof *p)) == NULL)
        return hf_error_set(err, HF_ENOMEM, 0, "out of memory");
    for (size_t i = 0; i < n; i++)
        p[i] = files[i].path;
    qsort(p, n, sizeof *p, cmp_tree_order);
    for (size_t i = 1; i < n && rc == 0; i++) {
        size_t len = strlen(p[i - 1]);
        if (strcmp(p[i], p[i - 1]) == 0)
            rc = hf_error_set(err, HF_EPROTO, 0, "the listing names %s twice", p[i]);
        else if (strncmp(p[i], p[i - 1], len) == 0 && p[i][len] == '/')
            rc = hf_error_set(err, HF_EPROTO, 0,
                              "the listing has %s both as a file and as a folder", p[i - 1]);
    }
    hfi_free(p);
    return rc;
}

/* ---- repo info --------------------------------------------------------------------------- */

static void info_free(void *p)
{
    hf_repo_info_t *info = p;
    if (!info)
        return;
    files_free(info->files, info->nfiles);
    hfi_free(info->id);
    hfi_free(info);
}

static int parse_info(apireq_t *r, const cJSON *json, hf_error_t *err)
{
    hf_repo_info_t *info = r->acc;
    const char *id = jstr(json, "id", 256), *sha = jstr(json, "sha", 40);
    const cJSON *sib = cJSON_GetObjectItemCaseSensitive(json, "siblings"), *g;

    if (!cJSON_IsObject(json) || !sha || !hfi_is_commit(sha))
        return hf_error_set(err, HF_EPROTO, 0, "repo info without a commit sha");
    /* asked at a commit (already in info->sha): a commit never changes, another is a lie */
    if (info->sha[0] && strcmp(info->sha, sha) != 0)
        return hf_error_set(err, HF_EPROTO, 0, "repo info for commit %s, not the commit "
                            "asked for", sha);
    memcpy(info->sha, sha, 41);
    /* the id is shown (hf-fetch info): one that is no repo id (a terminal escape) is refused */
    if (id && hfi_check_repo_id(id, NULL) < 0)
        return hf_error_set(err, HF_EPROTO, 0, "repo info with a malformed id");
    if (id && (info->id = hfi_strdup(id)) == NULL)
        return hf_error_set(err, HF_ENOMEM, 0, "out of memory");
    info->is_private = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(json, "private"));
    g = cJSON_GetObjectItemCaseSensitive(json, "gated");
    info->gated = cJSON_IsString(g) || cJSON_IsTrue(g);
    if (cJSON_IsArray(sib)) {
        int n = cJSON_GetArraySize(sib);
        if (n > MAX_FILES)
            return hf_error_set(err, HF_EPROTO, 0, "too many files");
        if (n > 0 && (info->files = hfi_calloc((size_t)n, sizeof *info->files)) == NULL)
            return hf_error_set(err, HF_ENOMEM, 0, "out of memory");
        const cJSON *item;
        /* cJSON_ArrayForEach, not cJSON_GetArrayItem(i), which walks the list from its
         * start each time: 100k siblings took 10 s */
        cJSON_ArrayForEach(item, sib) {
            if (read_file_entry(item, &info->files[info->nfiles],
                                "rfilename", "blobId", "sha256", err) < 0) {
                hfi_free(info->files[info->nfiles].path);
                return err->code;
            }
            info->nfiles++;
        }
    }
    return check_paths_distinct(info->files, info->nfiles, err);
}

static char *api_url(hf_hub_t *hub, const hf_file_ref_t *ref, const char *tail_fmt)
{
    char *rev = hfi_url_encode(ref->revision ? ref->revision : "main", 0);
    char *url = rev ? hfi_strfmt("%s/api/%ss/%s/%s%s", hub->endpoint, hf_repo_type_name(ref->repo_type),
                                 ref->repo_id, tail_fmt, rev)
                    : NULL;
    hfi_free(rev);
    return url;
}

static int check_ref(const hf_file_ref_t *ref, hf_error_t *e)
{
    if (hfi_check_repo_id(ref->repo_id, e) < 0 ||
        hfi_check_revision(ref->revision ? ref->revision : "main", e) < 0 ||
        hfi_check_repo_type(ref->repo_type, e) < 0)
        return HF_EINVAL;
    return 0;
}

hf_future_t *hf_hub_repo_info(hf_hub_t *hub, const hf_file_ref_t *ref)
{
    hf_error_t e;
    hf_repo_info_t *info;
    char *url, *full;

    if (!hub || !ref)
        return NULL;
    memset(&e, 0, sizeof e);
    if (check_ref(ref, &e) < 0)
        return hf_future_rejected(HF_EINVAL, 0, "%s", e.message[0] ? e.message : "bad repo");
    if ((info = hfi_calloc(1, sizeof *info)) == NULL)
        return NULL;
    if (ref->revision && hfi_is_commit(ref->revision))
        memcpy(info->sha, ref->revision, 41);      /* what the answer must say (parse_info) */
    url = api_url(hub, ref, "revision/");
    full = url ? hfi_strfmt("%s?blobs=true", url) : NULL;
    hfi_free(url);
    return api_get(hub, full, ref->repo_id, parse_info, info, info_free, NULL);
}

/* ---- tree listing --------------------------------------------------------------------------- */

typedef struct listacc {
    hf_file_list_t list;
    size_t cap;
} listacc_t;

static void list_free(void *p)
{
    listacc_t *l = p;
    if (!l)
        return;
    files_free(l->list.files, l->list.n);
    hfi_free(l);
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(((const hf_repo_file_t *)a)->path, ((const hf_repo_file_t *)b)->path);
}

static int parse_tree(apireq_t *r, const cJSON *json, hf_error_t *err)
{
    listacc_t *l = r->acc;
    const cJSON *item;

    if (!cJSON_IsArray(json))
        return hf_error_set(err, HF_EPROTO, 0, "tree listing is not an array");
    cJSON_ArrayForEach(item, json) {
        const char *type = jstr(item, "type", 32);
        if (!type || strcmp(type, "file") != 0)
            continue;           /* directories are walked by recursive=true */
        if (l->list.n == l->cap) {
            size_t cap = l->cap ? 2 * l->cap : 64;
            hf_repo_file_t *nf;
            if (l->cap == MAX_FILES)
                return hf_error_set(err, HF_EPROTO, 0, "more than %d files", MAX_FILES);
            if (cap > MAX_FILES)
                cap = MAX_FILES;
            if ((nf = hfi_realloc(l->list.files, cap * sizeof *nf)) == NULL)
                return hf_error_set(err, HF_ENOMEM, 0, "out of memory");
            l->list.files = nf;
            l->cap = cap;
        }
        if (read_file_entry(item, &l->list.files[l->list.n], "path", "oid", "oid", err) < 0) {
            hfi_free(l->list.files[l->list.n].path);
            return err->code;
        }
        l->list.n++;
    }
    /* sort once, on the last page (no next link): sorting after every page would cost
     * pages x n log n, minutes for the hundreds of thousands of files of a repo too large
     * for repo info's siblings, which is when a snapshot lists the tree */
    if (hfi_parse_link_next(r->x.headers[HFI_H_LINK], NULL) == HF_ENOENT) {
        qsort(l->list.files, l->list.n, sizeof *l->list.files, cmp_path);
        return check_paths_distinct(l->list.files, l->list.n, err);
    }
    return 0;
}

hf_future_t *hf_hub_list_files(hf_hub_t *hub, const hf_file_ref_t *ref)
{
    hf_error_t e;
    listacc_t *l;
    char *url, *sub = NULL, *full, *no_entry = NULL;

    if (!hub || !ref)
        return NULL;
    memset(&e, 0, sizeof e);
    if (check_ref(ref, &e) < 0 || (ref->path && hfi_check_path(ref->path, &e) < 0))
        return hf_future_rejected(HF_EINVAL, 0, "%s", e.message[0] ? e.message : "bad repo");
    if ((l = hfi_calloc(1, sizeof *l)) == NULL)
        return NULL;
    url = api_url(hub, ref, "tree/");
    if (ref->path)
        sub = hfi_url_encode(ref->path, 0);
    full = url && (!ref->path || sub)
               ? hfi_strfmt("%s%s%s?recursive=true&expand=false", url, sub ? "/" : "",
                            sub ? sub : "")
               : NULL;
    hfi_free(url);
    hfi_free(sub);
    /* the Hub answers EntryNotFound for tree/<rev>/<path> when <path> is a file as when it
     * is nothing: say which folder was missing, not "file not found" (hf-fetch ls FILE) */
    if (ref->path && full &&
        (no_entry = hfi_strfmt("no folder %s at %s (a file is listed by listing its folder)",
                               ref->path, ref->revision ? ref->revision : "main")) == NULL) {
        hfi_free(full);
        full = NULL;            /* api_get answers NULL (out of memory) */
    }
    return api_get(hub, full, ref->repo_id, parse_tree, l, list_free, no_entry);
}
