/*
 * cachewalk.c - reading and deleting below a repo folder without following links (see
 * cachewalk.h).
 *
 * Design notes
 *  - below a repo folder every folder is opened relative to its parent's descriptor with
 *    O_NOFOLLOW (openat, fstatat, unlinkat): a link planted at blobs/, refs/, snapshots/ or
 *    anywhere in a snapshot is never walked, and never leads a deletion out of the cache,
 *    even if it is planted while we walk. A snapshot link is only read (readlinkat) to
 *    learn its blob's name, and that name counts only if it is a regular file in the same
 *    repo's blobs/;
 *  - refs are read as lookups read them (hfi_cache_read_ref: 40 hex, trailing whitespace
 *    allowed), so scan, remove and downloads agree on what a ref names;
 *  - walks go at most WALK_MAX_DEPTH folders deep (the stack), and a folder that cannot
 *    be read fails the walk: a partial walk must not pass for a whole one;
 *  - a tree removal removes what it lists, then each folder (rmdir). The "seen" variant
 *    (hfi_tree_remove_seen_at) lets a folder stay when rmdir finds it not empty although
 *    everything listed in it is gone: a writer (a download) added something meanwhile,
 *    and that stays. A failure of our own (an entry we listed but could not remove, a
 *    listing cut short) still fails it, naming the first such path.
 */
#include "config.h"

#include "hub/cachewalk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "hub/cache.h"
#include "hub/names.h"

/* ---- a small string set ----------------------------------------------------------------- */

int hfi_strset_add(hfi_strset_t *s, const char *str)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], str) == 0)
            return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        char **nv = hfi_realloc(s->v, cap * sizeof *nv);
        if (!nv)
            return HF_ENOMEM;
        s->v = nv;
        s->cap = cap;
    }
    if ((s->v[s->n] = hfi_strdup(str)) == NULL)
        return HF_ENOMEM;
    s->n++;
    return 0;
}

int hfi_strset_has(const hfi_strset_t *s, const char *str)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], str) == 0)
            return 1;
    return 0;
}

void hfi_strset_free(hfi_strset_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        hfi_free(s->v[i]);
    hfi_free(s->v);
    memset(s, 0, sizeof *s);
}

/* ---- walking, never through a link ------------------------------------------------------ */

#define WALK_MAX_DEPTH 64

int hfi_dir_open_at(int dfd, const char *name)
{
    return openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}


/* Call fn(dfd, name, rel, st, arg) for every non-folder below the open folder `fd`
 * (which it takes), depth first; `rel` is the path relative to that folder. */
static int walk_fd(int fd, const char *rel, hfi_walk_fn fn, void *arg, int depth)
{
    DIR *d = fdopendir(fd);
    struct dirent *e;
    int rc = 0;

    if (!d) {
        close(fd);
        return HF_EIO;
    }
    while (rc >= 0) {
        struct stat st;
        char *crel;
        errno = 0;
        if ((e = readdir(d)) == NULL) {
            rc = errno ? HF_EIO : 0;
            break;
        }
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if ((crel = rel[0] ? hfi_strfmt("%s/%s", rel, e->d_name) : hfi_strdup(e->d_name)) == NULL)
            rc = HF_ENOMEM;
        else if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            rc = errno == ENOENT ? 0 : HF_EIO;          /* gone meanwhile: fine */
        else if (!S_ISDIR(st.st_mode))
            rc = fn(dirfd(d), e->d_name, crel, &st, arg);
        else if (depth >= WALK_MAX_DEPTH)
            rc = HF_EIO;
        else {
            int cfd = hfi_dir_open_at(dirfd(d), e->d_name);
            rc = cfd >= 0 ? walk_fd(cfd, crel, fn, arg, depth + 1) : errno == ENOENT ? 0 : HF_EIO;
        }
        hfi_free(crel);
    }
    closedir(d);
    return rc;
}

int hfi_walk_at(int dfd, const char *name, hfi_walk_fn fn, void *arg)
{
    int fd = hfi_dir_open_at(dfd, name);
    if (fd < 0)
        return errno == ENOENT ? 0 : HF_EIO;
    return walk_fd(fd, "", fn, arg, 0);
}

DIR *hfi_dir_reopen(int fd)
{
    int nfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d;
    if (nfd < 0)
        return NULL;
    if ((d = fdopendir(nfd)) == NULL)
        close(nfd);
    return d;
}

static hfi_tree_hook_fn tree_hook;

hfi_tree_hook_fn hfi_tree_remove_set_hook(hfi_tree_hook_fn fn)
{
    hfi_tree_hook_fn prev = tree_hook;
    tree_hook = fn;
    return prev;
}

/* One tree removal: `path` is the entry being removed, relative to the folder the removal
 * started in (len bytes of it in use); the first path that failed goes to `failed`. */
typedef struct tree_rm {
    int keep_new;
    char path[1024];
    size_t len;
    char *failed;
    size_t failed_size;
} tree_rm_t;

/* Note the current path as the first that could not be removed; returns HF_EIO. */
static int tree_failed(tree_rm_t *t)
{
    if (t->failed && t->failed_size && !t->failed[0])
        snprintf(t->failed, t->failed_size, "%s", t->path);
    return HF_EIO;
}

/* Remove `name` below `dfd` (its path already in t->path) and everything below it. */
static int tree_remove(tree_rm_t *t, int dfd, const char *name, int depth)
{
    struct stat st;
    struct dirent *e;
    DIR *d;
    int fd, rc = 0;

    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : tree_failed(t);
    if (!S_ISDIR(st.st_mode))
        return unlinkat(dfd, name, 0) == 0 || errno == ENOENT ? 0 : tree_failed(t);
    if (depth >= WALK_MAX_DEPTH || (fd = hfi_dir_open_at(dfd, name)) < 0)
        return errno == ENOENT && depth < WALK_MAX_DEPTH ? 0 : tree_failed(t);
    if ((d = fdopendir(fd)) == NULL) {
        close(fd);
        return tree_failed(t);
    }
    for (;;) {
        size_t len = t->len, n;
        errno = 0;
        if ((e = readdir(d)) == NULL) {
            if (errno)                  /* a partial listing: what is left would look new */
                rc = tree_failed(t);
            break;
        }
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        n = (size_t)snprintf(t->path + len, sizeof t->path - len, "/%s", e->d_name);
        t->len = len + n < sizeof t->path ? len + n : sizeof t->path - 1;
        if (tree_remove(t, dirfd(d), e->d_name, depth + 1) < 0)
            rc = HF_EIO;
        t->len = len;
        t->path[len] = '\0';
    }
    closedir(d);
    if (tree_hook)
        tree_hook(dfd, name);
    if (unlinkat(dfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
        return rc;
    /* not empty although every entry we saw is gone: someone added one meanwhile */
    if (rc == 0 && t->keep_new && (errno == ENOTEMPTY || errno == EEXIST))
        return 0;
    return rc < 0 ? rc : tree_failed(t);
}

static int tree_remove_top(int dfd, const char *name, int depth, int keep_new, char *failed,
                           size_t failed_size)
{
    tree_rm_t t;
    t.keep_new = keep_new;
    t.failed = failed;
    t.failed_size = failed_size;
    if (failed && failed_size)
        failed[0] = '\0';
    snprintf(t.path, sizeof t.path, "%s", name);
    t.len = strlen(t.path);
    return tree_remove(&t, dfd, name, depth);
}

int hfi_tree_remove_at(int dfd, const char *name, int depth)
{
    return tree_remove_top(dfd, name, depth, 0, NULL, 0);
}

int hfi_tree_remove_seen_at(int dfd, const char *name, char *failed, size_t failed_size)
{
    return tree_remove_top(dfd, name, 0, 1, failed, failed_size);
}

uint64_t hfi_dir_files_size(int fd)
{
    uint64_t total = 0;
    struct dirent *e;
    struct stat st;
    DIR *d;

    if (fd < 0 || (d = hfi_dir_reopen(fd)) == NULL)
        return 0;
    while ((e = readdir(d)) != NULL)
        if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            total += (uint64_t)st.st_size;
    closedir(d);
    return total;
}

int hfi_snapshot_blob_of(int dfd, const char *entry, const struct stat *st, int blobs_fd,
                         char name[128], uint64_t *size)
{
    char target[4096];
    const char *base;
    ssize_t n;
    struct stat bst;

    if (!S_ISLNK(st->st_mode)) {
        name[0] = '\0';
        *size = (uint64_t)st->st_size;
        return S_ISREG(st->st_mode) ? 0 : HF_ENOENT;
    }
    if (blobs_fd < 0 || (n = readlinkat(dfd, entry, target, sizeof target - 1)) < 0)
        return HF_ENOENT;
    target[n] = '\0';
    base = strrchr(target, '/');
    base = base ? base + 1 : target;
    if (!(hfi_is_hex(base, 40) || hfi_is_hex(base, 64)))
        return HF_ENOENT;
    if (fstatat(blobs_fd, base, &bst, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(bst.st_mode))
        return HF_ENOENT;
    memcpy(name, base, strlen(base) + 1);
    *size = (uint64_t)bst.st_size;
    return 0;
}

int hfi_ref_read_at(int dfd, const char *name, char commit[41])
{
    char buf[64];
    ssize_t n;
    int fd;

    if ((fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
        return HF_EIO;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0)
        return HF_EIO;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    buf[n] = '\0';
    if (!hfi_is_commit(buf))
        return HF_ECORRUPT;
    memcpy(commit, buf, 41);
    return 0;
}

int hfi_cache_repo_dir(const char *cache_dir, hf_repo_type_t type, const char *repo_id,
                       char **dir, hf_error_t *err)
{
    hfi_cache_loc_t loc;
    struct stat st;
    if (!cache_dir)
        return hf_error_set(err, HF_EINVAL, 0, "no cache folder");
    if (hfi_check_repo_id(repo_id, err) < 0)
        return HF_EINVAL;
    if (hfi_check_repo_type(type, err) < 0)
        return HF_EINVAL;
    if (hfi_cache_loc_init(&loc, cache_dir, type, repo_id) < 0)
        return hf_error_set(err, HF_ENOMEM, 0, "out of memory");
    *dir = loc.repo_dir;
    loc.repo_dir = NULL;
    hfi_cache_loc_free(&loc);
    if (lstat(*dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        hfi_free(*dir);
        *dir = NULL;
        return hf_error_set(err, HF_ENOENT, 0, "%s is not in the cache", repo_id);
    }
    return 0;
}
