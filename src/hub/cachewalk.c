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
 *    be read fails the walk: a partial walk must not pass for a whole one.
 */
#include "config.h"

#include "hub/cachewalk.h"

#include <errno.h>
#include <fcntl.h>
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

int hfi_tree_remove_at(int dfd, const char *name, int depth)
{
    struct stat st;
    struct dirent *e;
    DIR *d;
    int fd, rc = 0;

    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : HF_EIO;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(dfd, name, 0) == 0 || errno == ENOENT ? 0 : HF_EIO;
    if (depth >= WALK_MAX_DEPTH || (fd = hfi_dir_open_at(dfd, name)) < 0)
        return HF_EIO;
    if ((d = fdopendir(fd)) == NULL) {
        close(fd);
        return HF_EIO;
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (hfi_tree_remove_at(dirfd(d), e->d_name, depth + 1) < 0)
            rc = HF_EIO;
    }
    closedir(d);
    if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && rc == 0)
        rc = HF_EIO;
    return rc;
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
