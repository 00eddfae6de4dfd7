/*
 * cache.h - the on-disk cache, laid out exactly as huggingface_hub lays it out.
 */
#ifndef HFI_CACHE_H
#define HFI_CACHE_H

#include <fcntl.h>
#include <stdint.h>

#include "hf/hub.h"

/* Portable fallbacks: where these flags do not exist, the cache still works, and checked
 * names keep paths inside it. */
#ifndef O_NOFOLLOW
#define O_NOFOLLOW 0
#endif
#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif

/* Where one file of one repo lives in the cache. All paths malloc'd, absolute. */
typedef struct hfi_cache_loc {
    char *repo_dir;             /* <cache>/models--org--name */
    char *folder;               /* models--org--name */
} hfi_cache_loc_t;

int hfi_cache_loc_init(hfi_cache_loc_t *loc, const char *cache_dir, hf_repo_type_t type,
                       const char *repo_id);
void hfi_cache_loc_free(hfi_cache_loc_t *loc);

/* Path builders (malloc'd; NULL if memory is short). */
char *hfi_cache_blob_path(const hfi_cache_loc_t *loc, const char *etag);
char *hfi_cache_partial_path(const hfi_cache_loc_t *loc, const char *etag);   /* .incomplete */
char *hfi_cache_snapshot_dir(const hfi_cache_loc_t *loc, const char *commit);

/* 1 if `blob_path` is a blob of `size` bytes: a regular file (a link is no blob), never
 * followed; 0 otherwise. */
int hfi_cache_is_blob(const char *blob_path, uint64_t size);
char *hfi_cache_snapshot_path(const hfi_cache_loc_t *loc, const char *commit, const char *path);
char *hfi_cache_no_exist_path(const hfi_cache_loc_t *loc, const char *commit, const char *path);
char *hfi_cache_lock_path(const char *cache_dir, const hfi_cache_loc_t *loc, const char *etag);

/* refs/<rev>: read the 40-hex commit (0, HF_ENOENT, HF_EIO, HF_ECORRUPT for junk), or
 * write it (temp file + rename, only when it changes; no newline). */
int hfi_cache_read_ref(const hfi_cache_loc_t *loc, const char *rev, char commit[41]);
int hfi_cache_write_ref(const hfi_cache_loc_t *loc, const char *rev, const char *commit,
                        hf_error_t *err);

/* Create every missing directory of `path`'s parent (mode 0777 minus the umask). */
int hfi_mkdirs_for(const char *path, hf_error_t *err);

/* Make snapshots/<commit>/<path> point at blobs/<etag>: a relative symlink, replacing
 * what was there. With `copy` (symlinks disabled), a copy of the blob instead, made
 * through a temporary file: HFI_LINK_COPY keeps a regular file already there with the
 * blob's size (a snapshot path names one content; huggingface_hub returns it as it is),
 * HFI_LINK_COPY_AGAIN replaces it (a forced download). */
enum { HFI_LINK_SYMLINK = 0, HFI_LINK_COPY = 1, HFI_LINK_COPY_AGAIN = 2 };
int hfi_cache_link(const hfi_cache_loc_t *loc, const char *commit, const char *path,
                   const char *etag, int copy, hf_error_t *err);

/* 0 if no folder between loc->repo_dir and `path`'s own name is a symlink (the repo folder
 * itself and the cache above it may be: users move caches to other disks); otherwise
 * HF_EIO naming the link. Writers call it before creating anything below the repo folder,
 * so a link planted at blobs/ or snapshots/<commit>/ never leads a write out of the cache. */
int hfi_cache_check_no_links(const hfi_cache_loc_t *loc, const char *path, hf_error_t *err);

/* 1 if snapshots/<commit>/<path> is what this library or the official clients make: a
 * regular file (symlinks disabled) or a symlink whose target is the relative
 * "../(...)/blobs/<40 or 64 hex>" for that depth, and the blob it names is readable.
 * A link pointing anywhere else (planted, absolute) is not an answer from the cache. */
int hfi_cache_snapshot_entry_ok(const hfi_cache_loc_t *loc, const char *commit,
                                const char *path);

/* Create the empty .no_exist/<commit>/<path> marker. */
int hfi_cache_mark_missing(const hfi_cache_loc_t *loc, const char *commit, const char *path);

/* The blob lock: <cache>/.locks/<folder>/<etag>.lock, created with mode 0664, flock'ed
 * exclusively (polling, up to `timeout_ms`; 0: forever). Returns an fd >= 0 or HF_EIO /
 * HF_ETIMEDOUT. hfi_cache_unlock() releases and closes; the file is never deleted. */
int hfi_cache_lock(const char *lock_path, unsigned timeout_ms, hf_error_t *err);
/* hfi_cache_lock, and *held = 0 when the fd holds no lock after all (flock unsupported
 * there, or the test hook below): the caller must then expect other writers. While it
 * waits (another process holds the lock), `give_up(arg)` (if not NULL) is asked every
 * poll; when it says 1 the wait ends with HF_ECANCELED. */
int hfi_cache_lock_held(const char *lock_path, unsigned timeout_ms, int *held,
                        int (*give_up)(void *), void *arg, hf_error_t *err);
void hfi_cache_unlock(int fd);

/* Test hook (issue: "a lock made ineffective"): when set, hfi_cache_lock opens the file
 * but does not flock it. */
void hfi_cache_test_skip_flock(int skip);

/* 1 if `path` exists (lstat, not followed). */
int hfi_path_exists(const char *path);

#endif /* HFI_CACHE_H */
