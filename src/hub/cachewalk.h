/*
 * cachewalk.h - reading and deleting below a repo folder without ever following a link:
 * what hf_cache_scan, hf_cache_verify (scan.c) and hf_cache_remove (cache_remove.c) share.
 * Every folder is opened relative to its parent's descriptor with O_NOFOLLOW, so a link
 * planted anywhere below the repo folder, even while a walk runs, leads nowhere.
 */
#ifndef HFI_CACHEWALK_H
#define HFI_CACHEWALK_H

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "hf/hub.h"

/* A small set of strings (a linear list: a revision's blob names). Zero-initialised it is
 * empty; add returns 0 or HF_ENOMEM (adding one already there is 0). */
typedef struct hfi_strset {
    char **v;
    size_t n, cap;
} hfi_strset_t;

int hfi_strset_add(hfi_strset_t *s, const char *str);
int hfi_strset_has(const hfi_strset_t *s, const char *str);
/* Free the strings and the list; the set is empty again. */
void hfi_strset_free(hfi_strset_t *s);

/* Called by a walk for every non-folder: `name` in the folder `dfd`, at `rel` relative to
 * the walked folder, with its lstat `st`. A negative return stops the walk with it. */
typedef int (*hfi_walk_fn)(int dfd, const char *name, const char *rel, const struct stat *st,
                           void *arg);

/* Open the folder `name` below `dfd`; fails (ELOOP or ENOTDIR) where it is a link. */
int hfi_dir_open_at(int dfd, const char *name);
/* A second descriptor for the open folder `fd`, with its own read position (NULL: fails). */
DIR *hfi_dir_reopen(int fd);
/* Bytes of the regular files directly in the open folder `fd` (-1: none, 0 bytes). */
uint64_t hfi_dir_files_size(int fd);

/* Walk the folder `name` below `dfd`, depth first, calling `fn` for every non-folder.
 * Returns 0 (also if it does not exist), the first negative return of `fn`, or HF_EIO if
 * it is not a folder (a link to one included), a folder below it cannot be read (a
 * partial walk must not pass for a whole one) or is nested too deep. */
int hfi_walk_at(int dfd, const char *name, hfi_walk_fn fn, void *arg);

/* Remove `name` below `dfd` and everything below it, never following a link (`depth`:
 * how deep `dfd` is already, 0 at the top). Returns 0 (also if it is gone) or HF_EIO. */
int hfi_tree_remove_at(int dfd, const char *name, int depth);

/* Remove `name` below `dfd` as hfi_tree_remove_at does (depth 0), except that a folder
 * that is not empty once every entry listed in it is removed (a writer added one
 * meanwhile) stays, with what was added, and that is no failure. Returns 0 (also if it is
 * gone) or HF_EIO (an entry it listed cannot be removed, a folder cannot be read or is
 * nested too deep), then with the first such path, relative to `dfd` ("name/..."), in
 * `failed` (`size` bytes, cut short if longer; may be NULL). */
int hfi_tree_remove_seen_at(int dfd, const char *name, char *failed, size_t size);

/* Test hook: `fn` (NULL: none, the default) is called by both tree removals with each
 * folder (`name` below `dfd`) once the entries they listed in it are removed, just before
 * the folder itself is. Set it only while no removal runs. Returns the previous hook. */
typedef void (*hfi_tree_hook_fn)(int dfd, const char *name);
hfi_tree_hook_fn hfi_tree_remove_set_hook(hfi_tree_hook_fn fn);

/* The blob a snapshot entry (`entry` in `dfd`, with lstat `st`) stands for: its link
 * target's last component, if that is a regular file in the blobs folder `blobs_fd` (-1:
 * none), with that file's size; for a regular file (a copy, links off), name "" and the
 * entry's own size. Returns 0 or HF_ENOENT (no such blob, or neither a link nor a file). */
int hfi_snapshot_blob_of(int dfd, const char *entry, const struct stat *st, int blobs_fd,
                         char name[128], uint64_t *size);

/* The commit the ref file `name` in `dfd` holds, read as hfi_cache_read_ref reads it
 * (40 hex, trailing whitespace allowed). Returns 0, HF_ECORRUPT (anything else), HF_EIO. */
int hfi_ref_read_at(int dfd, const char *name, char commit[41]);

/* The folder of `repo_id` in `cache_dir` (*dir, the caller frees it), which must be a real
 * folder, not a link. Returns 0, HF_EINVAL (NULL `cache_dir`, a bad id or type), HF_ENOENT
 * (not cached, or a link) or HF_ENOMEM, with a message in `err`. */
int hfi_cache_repo_dir(const char *cache_dir, hf_repo_type_t type, const char *repo_id,
                       char **dir, hf_error_t *err);

#endif /* HFI_CACHEWALK_H */
