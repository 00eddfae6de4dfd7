/*
 * hf/hub.h - the Hugging Face Hub client: downloads on the I/O pool, results as futures,
 * and a cache that the official Python and JavaScript clients read as their own.
 *
 * Every network transfer runs on the runtime's I/O threads (libcurl's multi interface);
 * nothing here ever blocks the caller, except hf_hub_download_blocking(), which is safe to
 * call from a compute worker (it uses the blocking-safe wait).
 *
 * Cache layout (byte-compatible with huggingface_hub):
 *   <cache>/models--org--name/blobs/<etag>               the content (etag: sha256 or git sha1)
 *   <cache>/models--org--name/snapshots/<commit>/<path>  relative symlink to ../../blobs/<etag>
 *   <cache>/models--org--name/refs/<revision>            the commit, 40 hex, no newline
 *   <cache>/models--org--name/.no_exist/<commit>/<path>  empty: known missing
 *   <cache>/.locks/models--org--name/<etag>.lock         flock, mode 0664, never deleted
 *
 * The token is never written to a log, an error message or progress output, and is never
 * sent to another origin than the endpoint's.
 */
#ifndef HF_HUB_H
#define HF_HUB_H

#include <stddef.h>
#include <stdint.h>

#include "hf/error.h"
#include "hf/future.h"
#include "hf/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hf_hub hf_hub_t;

typedef enum { HF_REPO_MODEL = 0, HF_REPO_DATASET, HF_REPO_SPACE } hf_repo_type_t;

/* Tri-state switches: 0 takes the environment's value. */
enum { HF_FROM_ENV = 0, HF_YES = 1, HF_NO = -1 };

typedef struct hf_hub_config {
    const char *endpoint;       /* NULL: $HF_ENDPOINT, else https://huggingface.co */
    const char *cache_dir;      /* NULL: $HF_HUB_CACHE, $HUGGINGFACE_HUB_CACHE, $HF_HOME/hub,
                                   $XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub;
                                   a leading "~/" is $HOME (unset: the user's home in
                                   the password database), and a relative folder (here or in
                                   those variables) is the current folder's when the hub is
                                   made, as for the official clients */
    const char *token;          /* NULL: $HF_TOKEN, $HUGGING_FACE_HUB_TOKEN, then the token
                                   file ($HF_TOKEN_PATH or $HF_HOME/token), unless
                                   $HF_HUB_DISABLE_IMPLICIT_TOKEN; "": no token */
    int offline;                /* HF_FROM_ENV ($HF_HUB_OFFLINE, or $TRANSFORMERS_OFFLINE
                                   when that is unset or empty), HF_YES, HF_NO */
    int disable_symlinks;       /* HF_FROM_ENV ($HF_HUB_DISABLE_SYMLINKS), HF_YES, HF_NO */
    unsigned etag_timeout_ms;   /* 0: $HF_HUB_ETAG_TIMEOUT s, else 10 s: metadata requests */
    unsigned download_timeout_ms; /* 0: $HF_HUB_DOWNLOAD_TIMEOUT s, else 10 s: per-read
                                     inactivity limit of a body */
    unsigned max_retries;       /* 0: 5: failures in a row (408, 429, 500, 502, 503,
                                   504, dropped connections and timeouts, as
                                   huggingface_hub) before a request fails; an attempt
                                   that brought new bytes ends the run, and attempts
                                   in all stop at 100 x max_retries */
    unsigned backoff_ms;        /* 0: 1000: first retry delay, doubled up to 8x */
    uint64_t parallel_threshold;/* 0: 64 MiB: files this large download as parallel ranges */
    unsigned conns_per_file;    /* 0: 8 ranged connections per large file */
    unsigned conns_total;       /* 0: 128 connections in all (every engine thread's) */
    unsigned engine_threads;    /* 0: 2 I/O threads drive libcurl (at most 4) */
    const char *ca_file;        /* NULL: $REQUESTS_CA_BUNDLE, $CURL_CA_BUNDLE, $SSL_CERT_FILE
                                   (the first set and non-empty), else the system's CAs: a
                                   PEM file of CAs to trust instead of the system's. TLS
                                   peer and host name verification are always on; a refused
                                   certificate fails with HF_ETLS (never retried) */
    const char *user_agent;     /* NULL: "hfasync/<version>"; prefixed to it otherwise */
    int fsync_blobs;            /* HF_FROM_ENV ($HFASYNC_FSYNC_BLOBS, default no), HF_YES,
                                   HF_NO: fsync each verified blob before it is renamed
                                   into blobs/, so that a power cut cannot leave a blob
                                   holding less than its name says. Off by default, as in
                                   the official clients: a blob cut short by a crash has
                                   the wrong size, which the next download notices and
                                   fetches again */
    unsigned max_retry_wait_ms; /* 0: 60000: the longest wait before a retry that the
                                   server may ask for (Retry-After, or RateLimit t= on a
                                   429). Asked for more, the request is not retried: it
                                   fails at once, with the code its last failure would
                                   have had and a message naming both waits */
} hf_hub_config_t;              /* zero-initialised = everything from the environment */

/*
 * hf_hub_new - a Hub client whose transfers run on `rt`'s I/O pool. `cfg` may be NULL.
 *
 * Returns NULL (and fills `err` if not NULL) on bad arguments or configuration (HF_EINVAL:
 * no `rt`, an endpoint that is not an http(s) URL (the scheme in any case) or that holds
 * credentials, no cache folder to be had (none set, no $HOME and no home folder in the
 * password database), a token with a line break in it; HF_EIO: a relative cache folder
 * when the current folder cannot be read) or short memory.
 */
HF_API hf_hub_t *hf_hub_new(hf_runtime_t *rt, const hf_hub_config_t *cfg, hf_error_t *err);

/*
 * hf_hub_free - close the hub and free it. Every operation under way (downloads,
 * snapshots, API requests, model loads) ends: its transfers are aborted and its retry
 * delays cut short, and its future settles as CANCELLED (unless it had already settled);
 * a call made on the hub meanwhile returns a cancelled future. Blocks until the last of
 * them has let go of the hub (promptly: nothing waits on the network, nor on another
 * process's lock, any more), then frees it. Partial files stay in the cache
 * (blobs/<etag>.incomplete, holding every byte received, never renamed to the blob's
 * name), so the next run resumes them with a Range request, as after a kill; the same
 * holds when the hub's runtime is freed first (hf_runtime_free stops the downloads and
 * keeps their partial files, those of model loads on that runtime included; a call made
 * on the hub after that returns a future that ends CANCELLED, with no request). Futures
 * already returned stay valid. Call it before freeing
 * the runtime, and not from a continuation of one of the hub's own futures. NULL is
 * ignored.
 */
HF_API void hf_hub_free(hf_hub_t *hub);

/* The effective settings (after the environment), for tools and tests. Strings belong to
 * the hub. A NULL `hub` gives NULL or 0. */
HF_API const char *hf_hub_endpoint(const hf_hub_t *hub);
HF_API const char *hf_hub_cache_dir(const hf_hub_t *hub);
HF_API int hf_hub_is_offline(const hf_hub_t *hub);
HF_API int hf_hub_has_token(const hf_hub_t *hub);

typedef struct hf_file_ref {
    const char *repo_id;        /* "org/name" (or a legacy "name"); never percent-encoded */
    hf_repo_type_t repo_type;
    const char *revision;       /* NULL: "main". A branch, a tag, "refs/pr/N" or a commit */
    const char *path;           /* the file inside the repo, '/'-separated */
} hf_file_ref_t;

typedef struct hf_progress {
    const char *repo_id;
    const char *path;           /* the file this event is about (NULL for batch-only events) */
    uint64_t file_done, file_total;     /* bytes of this file (total 0 while unknown) */
    uint64_t batch_done, batch_total;   /* bytes of the whole call (snapshot: every file) */
    unsigned files_done, files_total;
} hf_progress_t;

/* Called on an I/O thread, at most about every 100 ms per file and at each file's end;
 * the calls about one file come one at a time, with no lock of the library held. Must not
 * block. A callback may cancel any download or snapshot, its own included. Once a cancel
 * returns, the cancelled call's callback is not called again, and a call of it under way on
 * another thread has returned -- except when that call is itself inside a cancel waiting
 * for the canceller (two callbacks that at the same moment each cancel the other's call, or
 * a ring of them): then exactly one of those cancels returns without waiting, and the call
 * it would have waited for returns only after the callback that made that cancel has. */
typedef void (*hf_progress_fn)(const hf_progress_t *p, void *arg);

typedef struct hf_download_opts {
    hf_progress_fn progress;    /* may be NULL */
    void *progress_arg;
    int force;                  /* download again even if cached: the new file replaces
                                   the cached one when complete (until then, and if it
                                   fails, the cached one stays); offline, HF_EOFFLINE */
} hf_download_opts_t;

/*
 * hf_hub_download - fetch one file into the cache.
 *
 * The value of the future is the path of `snapshots/<commit>/<path>` (a NUL-terminated
 * string owned by the future). A commit revision already in the cache makes no request;
 * otherwise one metadata request (HEAD), then the body if the blob is not cached. The
 * same blob asked for twice in one process downloads once. Errors: HF_EINVAL (bad repo id,
 * path or revision: refused before any file or network access), HF_EREPO_NOT_FOUND,
 * HF_EREVISION_NOT_FOUND, HF_EENTRY_NOT_FOUND, HF_EGATED, HF_EAUTH, HF_ENETWORK, HF_ETLS,
 * HF_ETIMEDOUT, HF_EPROTO, HF_ECORRUPT (hash or size mismatch: nothing committed), HF_EIO,
 * HF_EOFFLINE. Cancelling the future aborts the transfer (unless another request shares
 * it) and deletes its partial file (the last request to leave a shared one does; a
 * download stopped by hf_hub_free or hf_runtime_free instead keeps it for the next run);
 * once the cancel returns, the progress callback is not called again. A CDN URL that
 * expires during a long download is asked for again.
 * When the metadata request fails (network, 5xx or 429 after retries, an answer that is
 * not the Hub's: no X-Error-Code, X-Repo-Commit, ETag or size, or a size over INT64_MAX),
 * the file the cache holds
 * for the revision is the value, as huggingface_hub does; an answer of the Hub's own (the
 * revision or file is not there, the repo is not found or gated, the token is refused)
 * is the error even then (huggingface_hub serves the cache for the last three: use
 * offline mode for that), and `force` never takes the cached file. An error's message
 * quotes the Hub's X-Error-Message as printable ASCII only (no terminal escapes).
 * Returns NULL only if `hub` or `ref` is NULL or memory is short; any other bad argument
 * (a NULL repo id or path, an unknown repo type) gives a future rejected with HF_EINVAL.
 */
HF_API hf_future_t *hf_hub_download(hf_hub_t *hub, const hf_file_ref_t *ref,
                                    const hf_download_opts_t *opts);

typedef struct hf_file_metadata {
    char commit[41];            /* the commit the revision resolved to */
    char etag[65];              /* the blob's name: sha256 (LFS) or git sha1 */
    uint64_t size;
    char *url;                  /* where the bytes are (the CDN's URL for LFS files) */
} hf_file_metadata_t;

/*
 * hf_hub_file_metadata - only the metadata request of hf_hub_download() (one HEAD, same
 * redirects, retries and errors); value: hf_file_metadata_t * (owned by the future).
 * Writes nothing to the cache. Offline: HF_EOFFLINE. NULL returns as hf_hub_download().
 */
HF_API hf_future_t *hf_hub_file_metadata(hf_hub_t *hub, const hf_file_ref_t *ref);

/*
 * hf_hub_download_blocking - hf_hub_download(), waited for. Safe on any thread, a compute
 * worker included. On success `*path_out` is a malloc'd copy of the path (free() it); on
 * failure it is NULL. Returns 0 or the error code (and fills `err` if not NULL):
 * hf_hub_download()'s, or HF_EINVAL if `hub`, `ref` or `path_out` is NULL.
 */
HF_API int hf_hub_download_blocking(hf_hub_t *hub, const hf_file_ref_t *ref,
                                    const hf_download_opts_t *opts, char **path_out,
                                    hf_error_t *err);

/*
 * hf_hub_try_cache - look `ref` up in the cache only (no I/O pool, no network): the
 * commit is the revision if it is one, else refs/<revision>.
 * Returns 0 and a malloc'd path in `*path_out`, HF_ENOENT if not cached,
 * HF_EENTRY_NOT_FOUND if the cache knows the file does not exist at that commit, HF_EINVAL
 * for a NULL argument or a bad `ref` (as hf_hub_download() refuses), or HF_ENOMEM.
 */
HF_API int hf_hub_try_cache(hf_hub_t *hub, const hf_file_ref_t *ref, char **path_out);

typedef struct hf_repo_file {
    char *path;
    uint64_t size;
    char oid[41];               /* git blob sha1 */
    int is_lfs;
    char lfs_sha256[65];        /* "" unless is_lfs */
} hf_repo_file_t;

typedef struct hf_repo_info {
    char *id;
    char sha[41];               /* the commit the revision resolved to */
    int is_private;
    int gated;                  /* 0, or 1 when the repo is gated */
    size_t nfiles;
    hf_repo_file_t *files;      /* the siblings (sizes when the Hub gives them) */
} hf_repo_info_t;

/* hf_hub_repo_info - `api/{type}s/{repo}[/revision/{rev}]`; value: hf_repo_info_t *
 * (owned by the future). ref->path is ignored. Errors as hf_hub_file_metadata()'s (offline:
 * HF_EOFFLINE, no request); besides, HF_EPROTO for an answer without a commit sha, with an
 * id that is not a valid repo id, with an unsafe file path, with a file's size that is not
 * a whole number from 0 to 2^53 (an absent size reads as 0), or that names a path twice or
 * as both a file and a folder. NULL returns as
 * hf_hub_download(). */
HF_API hf_future_t *hf_hub_repo_info(hf_hub_t *hub, const hf_file_ref_t *ref);

typedef struct hf_file_list {
    size_t n;
    hf_repo_file_t *files;      /* files only (directories are walked), sorted by path */
} hf_file_list_t;

/* hf_hub_list_files - the recursive tree listing under ref->path (NULL: the whole repo),
 * following `Link: rel="next"` pagination; value: hf_file_list_t * (owned by the future).
 * Errors and NULL returns as hf_hub_repo_info(); besides, HF_EPROTO for a next-page link
 * that cannot be followed (malformed, over 2 KiB, or to another origin) and for a listing
 * of more than 1,000,000 files: a listing is whole or an error, never cut short. A
 * ref->path that is not a folder (a file's, or nothing's) is HF_EENTRY_NOT_FOUND, as the
 * Hub answers, with a message that names the missing folder. */
HF_API hf_future_t *hf_hub_list_files(hf_hub_t *hub, const hf_file_ref_t *ref);

/* hf_glob_match - 1 if `name` matches the snapshot pattern `pattern` as Python's
 * fnmatchcase does in huggingface_hub ('*' any run of characters, '/' included; '?' and a
 * [set] one UTF-8 character, ranges by code point; a '\' is a '/'; a trailing '/'
 * matches everything below); 0 otherwise, and if either is NULL. */
HF_API int hf_glob_match(const char *pattern, const char *name);

typedef struct hf_snapshot_opts {
    const char *const *include; /* glob patterns, as hf_glob_match() matches them */
    size_t ninclude;            /* none: every file */
    const char *const *exclude;
    size_t nexclude;
    unsigned max_parallel;      /* 0: 8 files at once */
    hf_progress_fn progress;
    void *progress_arg;
} hf_snapshot_opts_t;

/*
 * hf_hub_snapshot - download every file of the repo at ref->revision that matches the
 * globs (in parallel); value: the path of `snapshots/<commit>` (owned by the future).
 * Patterns match as Python's fnmatch in huggingface_hub: '?' and a [set] take one UTF-8
 * character, a '\' is a '/', and a pattern ending in '/' selects everything below.
 * The files come from repo info's siblings, unless that list is missing, empty or longer
 * than 50,000 entries (the Hub cuts it short for very large repos): then from the
 * recursive tree listing of the commit (hf_hub_list_files, every page), as huggingface_hub's
 * snapshot_download does. Returns at once: the file-system work (offline lookup, refs,
 * links) and the requests all run on the runtime's I/O pool.
 * Offline, resolves the commit like hf_hub_try_cache() and returns the cached folder
 * (HF_EOFFLINE if it is not there). Online, when the repo info request fails (network,
 * 5xx or 429 after retries, an answer that is not the Hub's), that cached folder is the
 * value if it is there, as for hf_hub_download() (the Hub's own answers stay errors).
 * Errors as hf_hub_download()'s; a bad repo id, revision or type, or a pattern count whose
 * array is NULL or holds a NULL, gives a future rejected with HF_EINVAL before any request.
 * NULL returns as hf_hub_download().
 */
HF_API hf_future_t *hf_hub_snapshot(hf_hub_t *hub, const hf_file_ref_t *ref,
                                    const hf_snapshot_opts_t *opts);

typedef struct hf_hub_stats {
    uint64_t requests;              /* HTTP requests started */
    uint64_t bytes_received;        /* body bytes */
    uint64_t retries;
    uint64_t curl_calls_io;         /* libcurl calls made on I/O pool threads */
    uint64_t curl_calls_compute;    /* ...on compute workers: always 0 */
    uint64_t curl_calls_other;      /* ...on any other thread: always 0 */
    unsigned transfers_active;      /* now */
    unsigned transfers_peak;
    uint64_t blobs_committed;
    uint64_t downloads_shared;      /* requests that joined a download already under way */
} hf_hub_stats_t;

/* hf_hub_stats - a snapshot of `hub`'s counters. Returns 0 or HF_EINVAL (NULL argument). */
HF_API int hf_hub_stats(hf_hub_t *hub, hf_hub_stats_t *out);

/* ---- the cache, without a network ---------------------------------------------------- */

typedef struct hf_cached_revision {
    char commit[41];
    char **refs;                /* the refs that point at this commit */
    size_t nrefs;
    size_t nfiles;              /* files in snapshots/<commit> */
    uint64_t size;              /* bytes of the blobs those files point at */
    int64_t last_modified;      /* newest mtime in the snapshot, seconds since the epoch */
} hf_cached_revision_t;

typedef struct hf_cached_repo {
    hf_repo_type_t type;
    char *repo_id;              /* "org/name" */
    char *path;                 /* its folder */
    uint64_t size_on_disk;      /* bytes of all its blobs (partial files not), and of the
                                   copies in its snapshots where links are off */
    size_t nblobs;
    size_t nrevisions;
    hf_cached_revision_t *revisions;
    int64_t last_modified;
} hf_cached_repo_t;

typedef struct hf_cache_report {
    size_t nrepos;
    hf_cached_repo_t *repos;    /* sorted by type, then id */
    uint64_t size_on_disk;
    size_t nwarnings;
    char **warnings;            /* things that look broken (dangling links, stray files) */
} hf_cache_report_t;

/*
 * hf_cache_scan - describe every repo in `cache_dir` (as huggingface_hub's scan_cache_dir
 * does; .locks and CACHEDIR.TAG are skipped). Reads only; never follows a link below a repo
 * folder (a snapshot link counts only if it names a blob of the same repo). Refs are read
 * as lookups read them. What looks broken goes to the report's warnings, the rest of the
 * cache still reported: folders that are not repos, entries named like repos that are
 * not folders (files, links to nothing: never repos of the report), links to no blob,
 * refs holding no commit or naming one with no snapshot, folders it cannot read or that
 * are links.
 * Returns 0 and *out (free it with hf_cache_report_free, which ignores NULL), or
 * HF_EINVAL (NULL `cache_dir` or `out`) / HF_ENOENT (no such folder) / HF_EIO (it cannot be
 * read) / HF_ENOMEM, with *out NULL. `err` may be NULL.
 */
HF_API int hf_cache_scan(const char *cache_dir, hf_cache_report_t **out, hf_error_t *err);
HF_API void hf_cache_report_free(hf_cache_report_t *r);

/*
 * hf_cache_verify - re-hash every blob of a cached repo (each regular file in blobs/ named
 * by 40 or 64 lowercase hex digits: git blob sha1 or sha256) against its name; partial
 * (.incomplete) files, links and strays are skipped, and missing blobs (dangling snapshot
 * links) are not its concern: hf_cache_scan warns about those. Returns the number of
 * blobs checked (>= 0) and the number that failed (wrong content or unreadable) in *bad
 * (`bad` may be NULL; untouched on failure); `on_bad(blob_path, arg)` (may be NULL) is
 * called for each, with a path valid during the call only. HF_ENOENT if the repo is not
 * cached (or its folder is a link), HF_EINVAL (NULL `cache_dir`, a bad repo id or type),
 * HF_EIO (blobs/ cannot be read or is a link), HF_ENOMEM. `err` may be NULL.
 */
HF_API int hf_cache_verify(const char *cache_dir, hf_repo_type_t type, const char *repo_id,
                           size_t *bad, void (*on_bad)(const char *blob, void *arg), void *arg,
                           hf_error_t *err);

/*
 * hf_cache_remove - remove `revision` (a ref or a commit; NULL: the whole repo) from the
 * cache, as huggingface_hub's delete_revisions does: the refs that name its commit, its
 * snapshot folder, then the blobs that snapshot used and no other snapshot uses (a blob no
 * snapshot links, such as one a download is about to link, stays). What a download into the
 * same commit adds to the snapshot folder meanwhile stays, with the folders holding it and
 * the blobs it links, and the call still succeeds; an entry it cannot remove is HF_EIO,
 * naming it. Each blob is deleted holding its lock (.locks/<repo folder>/<etag>.lock, as
 * downloads take it) and only if no snapshot links it then, so a download of another
 * revision (or path) that shares it, here or in another process, ends with a link that
 * resolves (fetching the blob again if it was deleted first) and never with a dangling one.
 * Runs wholly on the calling thread, which it may block (polling) while a download of such
 * a blob holds its lock, until that download has linked it; call it where blocking is
 * allowed, not from an inference thread (hf_spawn_blocking runs it on the I/O pool).
 * Removing the whole repo (NULL, or its last snapshot) is guarded the same way: its refs,
 * .no_exist markers and snapshots as they were when it read them, then each blob that no
 * snapshot links under its lock, then the folders left, each only if empty; so a download
 * into the repo meanwhile ends with a snapshot whose links resolve (or, if it linked before
 * the removal reached its snapshot, as if it had finished before the call: its link
 * removed, never its blob alone) or with an error, and what it adds after stays (then the
 * repo folder stays too, and the call still succeeds). Lock files in .locks/ are never
 * removed (one may be held). Deletes only inside the repo's folder and never through a
 * link, so a link planted at blobs/, refs/ or snapshots/ fails the call (HF_EIO) before
 * anything changes; so does a snapshot it cannot read, since it might use any blob. Failing
 * later leaves no link to a deleted blob (at worst a revision without refs, or blobs
 * nothing uses).
 * Returns the number of bytes freed (>= 0: the blobs and, links off, the copies removed) or
 * HF_ENOENT (repo, ref or commit not cached; a repo folder that is a link) / HF_EINVAL
 * (NULL `cache_dir`, a bad repo id, type or revision) / HF_EIO / HF_ENOMEM, with a message
 * in `err` (may be NULL).
 */
HF_API int64_t hf_cache_remove(const char *cache_dir, hf_repo_type_t type, const char *repo_id,
                               const char *revision, hf_error_t *err);

/* hf_repo_type_name - "model", "dataset", "space"; any other value gives "model". */
HF_API const char *hf_repo_type_name(hf_repo_type_t t);

#ifdef __cplusplus
}
#endif

#endif /* HF_HUB_H */
