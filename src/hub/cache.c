/*
 * cache.c - the cache on disk: folders, refs, relative symlinks, markers, locks.
 *
 * Design notes
 *  - layout (byte-compatible with huggingface_hub and huggingface.js):
 *      <cache>/<type>s--<owner>--<name>/blobs/<etag>
 *      <cache>/<type>s--<owner>--<name>/snapshots/<commit>/<path>  -> ../../blobs/<etag>
 *      <cache>/<type>s--<owner>--<name>/refs/<rev>                 commit, no newline
 *      <cache>/<type>s--<owner>--<name>/.no_exist/<commit>/<path>  empty marker
 *      <cache>/.locks/<type>s--<owner>--<name>/<etag>.lock         0664, never deleted
 *  - every name that reaches here was checked by names.c: a path cannot climb out;
 *  - files are replaced through a temporary name in the same folder and a rename, so a
 *    reader sees the old content or the new one, never a part. A new ref is created in
 *    place instead (a killed writer must not leave a temporary file in refs/, where
 *    scanners take every file for a ref): a reader may see it short, and treats a ref
 *    that is not a commit as absent. Refs are rewritten only when their content changes
 *    (read-only caches keep working). With symlinks off, a snapshot entry is a copy of its
 *    blob (copy.c), linked in whole once written;
 *  - new files are created 0666 and folders 0777, so the umask decides their modes as it
 *    does for the official clients' files; symlink targets are relative, one "../" per
 *    folder level below snapshots/<commit>;
 *  - temporary and lock files are opened O_NOFOLLOW (and O_EXCL where created), so a
 *    symlink planted at their path is never followed out of the cache;
 *  - folders below the repo folder are checked with lstat before a write (no symlink may
 *    stand for blobs/, snapshots/<commit>/ or a folder of a path), and an existing snapshot
 *    entry counts as cached only if it is a regular file or the exact relative link to a
 *    blob: a symlink planted there is replaced, never followed or handed out; a link that
 *    cannot be made (a folder at its path: a Hub that lists "a" and "a/b") is an error,
 *    never taken for done.
 */
#include "config.h"

#include "hub/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "hub/copy.h"
#include "hub/names.h"


static _Atomic int skip_flock;

void hfi_cache_test_skip_flock(int skip)
{
    atomic_store(&skip_flock, skip);
}

int hfi_cache_loc_init(hfi_cache_loc_t *loc, const char *cache_dir, hf_repo_type_t type,
                       const char *repo_id)
{
    loc->folder = hfi_repo_folder(type, repo_id);
    loc->repo_dir = loc->folder ? hfi_strfmt("%s/%s", cache_dir, loc->folder) : NULL;
    if (!loc->repo_dir) {
        hfi_cache_loc_free(loc);
        return HF_ENOMEM;
    }
    return 0;
}

void hfi_cache_loc_free(hfi_cache_loc_t *loc)
{
    hfi_free(loc->folder);
    hfi_free(loc->repo_dir);
    loc->folder = loc->repo_dir = NULL;
}

char *hfi_cache_blob_path(const hfi_cache_loc_t *loc, const char *etag)
{
    return hfi_strfmt("%s/blobs/%s", loc->repo_dir, etag);
}

int hfi_cache_is_blob(const char *blob_path, uint64_t size)
{
    struct stat st;
    return lstat(blob_path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == size;
}

char *hfi_cache_partial_path(const hfi_cache_loc_t *loc, const char *etag)
{
    return hfi_strfmt("%s/blobs/%s.incomplete", loc->repo_dir, etag);
}

char *hfi_cache_snapshot_dir(const hfi_cache_loc_t *loc, const char *commit)
{
    return hfi_strfmt("%s/snapshots/%s", loc->repo_dir, commit);
}

char *hfi_cache_snapshot_path(const hfi_cache_loc_t *loc, const char *commit, const char *path)
{
    return hfi_strfmt("%s/snapshots/%s/%s", loc->repo_dir, commit, path);
}

char *hfi_cache_no_exist_path(const hfi_cache_loc_t *loc, const char *commit, const char *path)
{
    return hfi_strfmt("%s/.no_exist/%s/%s", loc->repo_dir, commit, path);
}

char *hfi_cache_lock_path(const char *cache_dir, const hfi_cache_loc_t *loc, const char *etag)
{
    return hfi_strfmt("%s/.locks/%s/%s.lock", cache_dir, loc->folder, etag);
}

int hfi_path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int hfi_mkdirs_for(const char *path, hf_error_t *err)
{
    char *dir = hfi_strdup(path);
    char *slash;
    int rc = 0;

    if (!dir)
        return HF_ENOMEM;
    if ((slash = strrchr(dir, '/')) == NULL || slash == dir) {
        hfi_free(dir);
        return 0;
    }
    *slash = '\0';
    /* Walk down from the root; creating an existing folder is fine. */
    for (char *p = dir + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
                rc = hf_error_set(err, HF_EIO, 0, "cannot create folder %s: %s", dir,
                                  strerror(errno));
                break;
            }
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    if (rc == 0) {
        struct stat st;
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
            rc = hf_error_set(err, HF_EIO, 0, "%s is not a folder", dir);
    }
    hfi_free(dir);
    return rc;
}

static int read_small(const char *path, char *buf, size_t cap, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    ssize_t n;
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR ? HF_ENOENT : HF_EIO;
    n = read(fd, buf, cap);
    close(fd);
    if (n < 0)
        return HF_EIO;
    *len = (size_t)n;
    return 0;
}

int hfi_cache_read_ref(const hfi_cache_loc_t *loc, const char *rev, char commit[41])
{
    char *path = hfi_strfmt("%s/refs/%s", loc->repo_dir, rev);
    char buf[64];
    size_t len = 0;
    int rc;

    if (!path)
        return HF_ENOMEM;
    rc = read_small(path, buf, sizeof buf - 1, &len);
    hfi_free(path);
    if (rc < 0)
        return rc;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
        len--;          /* other writers may have added a newline: accept it on reading */
    buf[len] = '\0';
    if (!hfi_is_commit(buf))
        return HF_ECORRUPT;
    memcpy(commit, buf, 41);
    return 0;
}

/* Replace `path` with `data` through a unique temporary file and a rename. (No fsync, as
 * the official clients: the rename never exposes a partial ref.) */
static int replace_file(const char *path, const void *data, size_t len, hf_error_t *err)
{
    char *tmp;
    int fd, rc = 0;

    for (int attempt = 0;; attempt++) {
        tmp = hfi_strfmt("%s.%08lx.tmp", path,
                         (unsigned long)((unsigned long)getpid() * 2654435761u ^
                                         (unsigned long)time(NULL) ^ (unsigned long)attempt ^
                                         (unsigned long)(uintptr_t)&tmp));
        if (!tmp)
            return HF_ENOMEM;
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
        if (fd >= 0 || errno != EEXIST || attempt > 16)
            break;
        hfi_free(tmp);
    }
    if (fd < 0) {
        rc = hf_error_set(err, HF_EIO, 0, "cannot create %s: %s", tmp, strerror(errno));
        hfi_free(tmp);
        return rc;
    }
    if (write(fd, data, len) != (ssize_t)len)
        rc = hf_error_set(err, HF_EIO, 0, "cannot write %s: %s", tmp, strerror(errno));
    if (close(fd) < 0 && rc == 0)
        rc = hf_error_set(err, HF_EIO, 0, "cannot write %s: %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, path) < 0)
        rc = hf_error_set(err, HF_EIO, 0, "cannot rename into %s: %s", path, strerror(errno));
    if (rc < 0)
        unlink(tmp);
    hfi_free(tmp);
    return rc;
}

/* The folders of `path` (inside the repo folder), never made or entered through a symlink
 * or a file: checked before (what is there) and after (what a racing writer put there). */
static int mkdirs_inside(const hfi_cache_loc_t *loc, const char *path, hf_error_t *err)
{
    int rc;
    if ((rc = hfi_cache_check_no_links(loc, path, err)) < 0 || (rc = hfi_mkdirs_for(path, err)) < 0)
        return rc;
    return hfi_cache_check_no_links(loc, path, err);
}

/*
 * Write a ref whose folders are made (mkdirs_inside). A new one is created in place
 * (O_EXCL): a process killed meanwhile leaves at worst a short file, which readers reject
 * and the next writer replaces, and never a temporary file in refs/ (which a cache
 * scanner would list as a ref). An existing one (another commit, or a short file) is
 * replaced through a rename.
 */
static int write_ref_file(const char *path, const char *commit, hf_error_t *err)
{
    size_t len = strlen(commit);
    int fd, rc = 0;

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0 && errno == EEXIST)
        return replace_file(path, commit, len, err);
    if (fd < 0)
        return hf_error_set(err, HF_EIO, 0, "cannot create %s: %s", path, strerror(errno));
    if (write(fd, commit, len) != (ssize_t)len)
        rc = hf_error_set(err, HF_EIO, 0, "cannot write %s: %s", path, strerror(errno));
    if (close(fd) < 0 && rc == 0)
        rc = hf_error_set(err, HF_EIO, 0, "cannot write %s: %s", path, strerror(errno));
    if (rc < 0)
        unlink(path);
    return rc;
}

int hfi_cache_write_ref(const hfi_cache_loc_t *loc, const char *rev, const char *commit,
                        hf_error_t *err)
{
    char current[41];
    char *path;
    int rc;

    if (hfi_cache_read_ref(loc, rev, current) == 0 && strcmp(current, commit) == 0)
        return 0;               /* unchanged: do not touch (read-only caches) */
    if ((path = hfi_strfmt("%s/refs/%s", loc->repo_dir, rev)) == NULL)
        return HF_ENOMEM;
    /* never through a planted symlink (refs/, or a folder of refs/pr/...) */
    if ((rc = mkdirs_inside(loc, path, err)) == 0)
        rc = write_ref_file(path, commit, err);
    hfi_free(path);
    return rc;
}

/* "../" once per folder between snapshots/<commit>/ and the link, plus "../../". */
static char *relative_blob_target(const char *path, const char *etag)
{
    size_t depth = 0, n;
    char *t, *o;

    for (const char *p = path; *p; p++)
        depth += *p == '/';
    n = 3 * (depth + 2) + strlen("blobs/") + strlen(etag) + 1;
    if ((t = hfi_malloc(n)) == NULL)
        return NULL;
    o = t;
    for (size_t i = 0; i < depth + 2; i++) {
        memcpy(o, "../", 3);
        o += 3;
    }
    snprintf(o, n - (size_t)(o - t), "blobs/%s", etag);
    return t;
}

int hfi_cache_check_no_links(const hfi_cache_loc_t *loc, const char *path, hf_error_t *err)
{
    size_t base = strlen(loc->repo_dir);
    char *p;
    int rc = 0;

    if (strncmp(path, loc->repo_dir, base) != 0 || path[base] != '/')
        return hf_error_set(err, HF_EIO, 0, "%s is not inside the repo folder", path);
    if ((p = hfi_strdup(path)) == NULL)
        return HF_ENOMEM;
    for (char *s = strchr(p + base + 1, '/'); s; s = strchr(s + 1, '/')) {
        struct stat st;
        *s = '\0';
        if (lstat(p, &st) == 0 && !S_ISDIR(st.st_mode)) {
            rc = hf_error_set(err, HF_EIO, 0, "refusing to write through %s: not a folder (%s)",
                              p, S_ISLNK(st.st_mode) ? "a symlink" : "a file");
            break;
        }
        *s = '/';
    }
    hfi_free(p);
    return rc;
}

int hfi_cache_snapshot_entry_ok(const hfi_cache_loc_t *loc, const char *commit,
                                const char *path)
{
    char *dst = hfi_cache_snapshot_path(loc, commit, path);
    char *prefix = relative_blob_target(path, "");
    char target[4096];
    struct stat st;
    ssize_t n;
    int ok = 0;

    if (!dst || !prefix || hfi_cache_check_no_links(loc, dst, NULL) < 0 || lstat(dst, &st) < 0)
        goto out;
    if (S_ISREG(st.st_mode)) {
        ok = 1;
        goto out;
    }
    if (!S_ISLNK(st.st_mode) || (n = readlink(dst, target, sizeof target - 1)) < 0)
        goto out;
    target[n] = '\0';
    if (strncmp(target, prefix, strlen(prefix)) == 0) {
        const char *hex = target + strlen(prefix);
        size_t len = strlen(hex);
        ok = (len == 40 || len == 64) && hfi_is_hex(hex, len) && access(dst, R_OK) == 0;
    }
out:
    hfi_free(dst);
    hfi_free(prefix);
    return ok;
}

int hfi_cache_link(const hfi_cache_loc_t *loc, const char *commit, const char *path,
                   const char *etag, int copy, hf_error_t *err)
{
    char *dst = hfi_cache_snapshot_path(loc, commit, path);
    char *target = NULL, *blob = NULL;
    int rc;

    if (!dst)
        return HF_ENOMEM;
    if ((rc = mkdirs_inside(loc, dst, err)) < 0)
        goto out;
    if (copy) {
        struct stat bs, ds;
        if ((blob = hfi_cache_blob_path(loc, etag)) == NULL) {
            rc = HF_ENOMEM;
            goto out;
        }
        if (copy != HFI_LINK_COPY_AGAIN && lstat(dst, &ds) == 0 && S_ISREG(ds.st_mode) &&
            stat(blob, &bs) == 0 && ds.st_size == bs.st_size)
            goto out;           /* the copy is there already */
        rc = hfi_copy_file(blob, dst, err);
        goto out;
    }
    if ((target = relative_blob_target(path, etag)) == NULL) {
        rc = HF_ENOMEM;
        goto out;
    }
    {
        /* Already right? Then leave it (another process may have just made it). */
        char cur[4096];
        ssize_t n = readlink(dst, cur, sizeof cur - 1);
        if (n >= 0) {
            cur[n] = '\0';
            if (strcmp(cur, target) == 0)
                goto out;
        }
    }
    if (unlink(dst) < 0 && errno != ENOENT) {
        struct stat st;
        rc = lstat(dst, &st) == 0 && S_ISDIR(st.st_mode)
                 ? hf_error_set(err, HF_EIO, 0, "cannot link %s: a folder is there", dst)
                 : hf_error_set(err, HF_EIO, 0, "cannot replace %s: %s", dst, strerror(errno));
        goto out;
    }
    if (symlink(target, dst) < 0) {
        /* EEXIST: made since the unlink; right only if it is the same link (another
         * process linking the same file), never whatever was put there */
        char cur[4096];
        ssize_t n;
        int e = errno, same = 0;
        if (e == EEXIST && (n = readlink(dst, cur, sizeof cur - 1)) >= 0) {
            cur[n] = '\0';
            same = strcmp(cur, target) == 0;
        }
        if (!same)
            rc = hf_error_set(err, HF_EIO, 0, "cannot link %s: %s", dst,
                              e == EEXIST ? "something else is there" : strerror(e));
    }
out:
    hfi_free(dst);
    hfi_free(target);
    hfi_free(blob);
    return rc;
}

int hfi_cache_mark_missing(const hfi_cache_loc_t *loc, const char *commit, const char *path)
{
    char *p = hfi_cache_no_exist_path(loc, commit, path);
    int fd, rc = 0;

    if (!p)
        return HF_ENOMEM;
    if ((rc = mkdirs_inside(loc, p, NULL)) == 0) {
        fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
        if (fd < 0)
            rc = HF_EIO;
        else
            close(fd);
    }
    hfi_free(p);
    return rc;
}

int hfi_cache_lock(const char *lock_path, unsigned timeout_ms, hf_error_t *err)
{
    int held;
    return hfi_cache_lock_held(lock_path, timeout_ms, &held, NULL, NULL, err);
}

int hfi_cache_lock_held(const char *lock_path, unsigned timeout_ms, int *held,
                        int (*give_up)(void *), void *arg, hf_error_t *err)
{
    struct timespec nap = { 0, 10 * 1000000L };
    uint64_t waited = 0;
    int fd, rc;

    *held = 0;

    if ((rc = hfi_mkdirs_for(lock_path, err)) < 0)
        return rc;
    fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0664);
    if (fd < 0)
        return hf_error_set(err, HF_EIO, 0, "cannot open lock %s: %s", lock_path,
                            strerror(errno));
    {
        /* 0664 whatever the umask, as huggingface_hub's lock files are. A lock file some
         * other user owns cannot be changed, and need not be. */
        struct stat st;
        if (fstat(fd, &st) == 0 && (st.st_mode & 0777) != 0664)
            fchmod(fd, 0664);
    }
    if (atomic_load(&skip_flock))
        return fd;
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            *held = 1;
            return fd;
        }
        if (errno == ENOLCK || errno == EOPNOTSUPP || errno == ENOSYS)
            return fd;          /* no flock here: the hash check keeps the cache right */
        if (errno != EWOULDBLOCK && errno != EINTR) {
            rc = hf_error_set(err, HF_EIO, 0, "cannot lock %s: %s", lock_path, strerror(errno));
            break;
        }
        if (give_up && give_up(arg)) {
            rc = hf_error_set(err, HF_ECANCELED, 0, "cancelled while waiting for lock %s",
                              lock_path);
            break;
        }
        if (timeout_ms && waited >= timeout_ms) {
            rc = hf_error_set(err, HF_ETIMEDOUT, 0, "still waiting for lock %s after %u ms",
                              lock_path, timeout_ms);
            break;
        }
        nanosleep(&nap, NULL);
        waited += 10;
    }
    close(fd);
    return rc;
}

void hfi_cache_unlock(int fd)
{
    if (fd >= 0) {
        flock(fd, LOCK_UN);
        close(fd);
    }
}
