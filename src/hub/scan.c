/*
 * scan.c - the cache without a network: scan it, verify its blobs, remove revisions.
 *
 * Design notes
 *  - below a repo folder every folder is opened relative to its parent's descriptor with
 *    O_NOFOLLOW (openat, fstatat, unlinkat): a link planted at blobs/, refs/, snapshots/ or
 *    anywhere in a snapshot is never walked, and never leads a deletion out of the cache,
 *    even if it is planted while we walk. A snapshot link is only read (readlinkat) to
 *    learn its blob's name, and that name counts only if it is a regular file in the same
 *    repo's blobs/. The repo folder itself may be a link for scan (users move repos to
 *    other disks); verify and remove refuse one, as before;
 *  - refs are read as lookups read them (hfi_cache_read_ref: 40 hex, trailing whitespace
 *    allowed), so scan, remove and downloads agree on what a ref names;
 *  - removal reads before it deletes: the removed snapshot's blobs, then every other
 *    snapshot's, changing nothing if one cannot be read (it might use any blob). Then, in
 *    this order, the refs naming the commit (no lookup resolves to a half-removed
 *    snapshot), the snapshot, and the blobs it used that no other snapshot uses (as
 *    huggingface_hub's delete_revisions: a blob no snapshot links yet, such as one a
 *    download has just committed, is not ours to judge). Failing halfway leaves a revision
 *    without refs or blobs nothing uses, never a link to a deleted blob. A repo left
 *    without snapshots is removed entirely;
 *  - lock files (.locks/) are never deleted: one may be held right now, and a new file
 *    under the same name would let a second writer in beside the holder;
 *  - folder names parse back by splitting on "--" (ids never contain "--").
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "hub/cache.h"
#include "hub/hash.h"
#include "hub/names.h"

/* ---- a small string set ----------------------------------------------------------------- */

typedef struct strset {
    char **v;
    size_t n, cap;
} strset_t;

static int strset_add(strset_t *s, const char *str)
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

static int strset_has(const strset_t *s, const char *str)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], str) == 0)
            return 1;
    return 0;
}

static void strset_free(strset_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        hfi_free(s->v[i]);
    hfi_free(s->v);
    memset(s, 0, sizeof *s);
}

/* ---- walking, never through a link ------------------------------------------------------ */

#define WALK_MAX_DEPTH 64

/* Open the folder `name` below `dfd`; fails (ELOOP or ENOTDIR) where it is a link. */
static int open_dir_at(int dfd, const char *name)
{
    return openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Call fn(dfd, name, rel, st, arg) for every non-folder below the open folder `fd`
 * (which it takes), depth first; `rel` is the path relative to that folder, `st` its
 * lstat. Stops at the first negative return; HF_EIO where a folder cannot be read (a
 * partial walk must not pass for a whole one) or is nested too deep. */
typedef int (*walk_fn)(int dfd, const char *name, const char *rel, const struct stat *st,
                       void *arg);

static int walk_fd(int fd, const char *rel, walk_fn fn, void *arg, int depth)
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
            int cfd = open_dir_at(dirfd(d), e->d_name);
            rc = cfd >= 0 ? walk_fd(cfd, crel, fn, arg, depth + 1) : errno == ENOENT ? 0 : HF_EIO;
        }
        hfi_free(crel);
    }
    closedir(d);
    return rc;
}

/* walk_fd over the folder `name` below `dfd`: 0 if it does not exist, HF_EIO if it is
 * not a folder (a link to one included) or cannot be read. */
static int walk_at(int dfd, const char *name, walk_fn fn, void *arg)
{
    int fd = open_dir_at(dfd, name);
    if (fd < 0)
        return errno == ENOENT ? 0 : HF_EIO;
    return walk_fd(fd, "", fn, arg, 0);
}

/* A second descriptor for the open folder `fd`, with its own read position. */
static DIR *reopen_dir(int fd)
{
    int nfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d;
    if (nfd < 0)
        return NULL;
    if ((d = fdopendir(nfd)) == NULL)
        close(nfd);
    return d;
}

/* Remove `name` below `dfd` and everything below it, never following a link. */
static int rm_tree_at(int dfd, const char *name, int depth)
{
    struct stat st;
    struct dirent *e;
    DIR *d;
    int fd, rc = 0;

    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : HF_EIO;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(dfd, name, 0) == 0 || errno == ENOENT ? 0 : HF_EIO;
    if (depth >= WALK_MAX_DEPTH || (fd = open_dir_at(dfd, name)) < 0)
        return HF_EIO;
    if ((d = fdopendir(fd)) == NULL) {
        close(fd);
        return HF_EIO;
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (rm_tree_at(dirfd(d), e->d_name, depth + 1) < 0)
            rc = HF_EIO;
    }
    closedir(d);
    if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && rc == 0)
        rc = HF_EIO;
    return rc;
}

/* Bytes of the regular files directly in the open folder `fd` (-1: none). */
static uint64_t files_size(int fd)
{
    uint64_t total = 0;
    struct dirent *e;
    struct stat st;
    DIR *d;

    if (fd < 0 || (d = reopen_dir(fd)) == NULL)
        return 0;
    while ((e = readdir(d)) != NULL)
        if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            total += (uint64_t)st.st_size;
    closedir(d);
    return total;
}

/* The blob a snapshot entry (`entry` in `dfd`) stands for: its link target's last
 * component, if that is a regular file in the blobs folder `blobs_fd` (-1: none); for a
 * regular file (a copy, links off), name "" and the entry's own size. */
static int blob_of(int dfd, const char *entry, const struct stat *st, int blobs_fd,
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

/* The commit the ref file `name` in `dfd` holds, read as hfi_cache_read_ref reads it
 * (40 hex, trailing whitespace allowed). 0, HF_ECORRUPT (anything else), HF_EIO. */
static int read_ref_at(int dfd, const char *name, char commit[41])
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

/* ---- scan -------------------------------------------------------------------------------- */

static int warn(hf_cache_report_t *r, char *msg)
{
    char **nw;
    if (!msg)
        return HF_ENOMEM;
    if ((nw = hfi_realloc(r->warnings, (r->nwarnings + 1) * sizeof *nw)) == NULL) {
        hfi_free(msg);
        return HF_ENOMEM;
    }
    r->warnings = nw;
    r->warnings[r->nwarnings++] = msg;
    return 0;
}

/* In a scan, a folder that cannot be walked is a warning (the rest of the cache still
 * gets its report); running out of memory is not. */
static int walk_warn(hf_cache_report_t *r, int rc, const char *repo_id, const char *what,
                     const char *name)
{
    if (rc != HF_EIO)
        return rc;
    return warn(r, hfi_strfmt("%s: cannot read %s%s (unreadable, too deep, or a link)", repo_id,
                              what, name));
}

typedef struct rev_walk {
    hf_cached_repo_t *repo;
    hf_cached_revision_t *rev;
    int blobs_fd;
    strset_t seen;              /* blobs counted for this revision */
    hf_cache_report_t *report;
} rev_walk_t;

static int on_snapshot_file(int dfd, const char *entry, const char *rel, const struct stat *st,
                            void *arg)
{
    rev_walk_t *w = arg;
    char name[128];
    uint64_t size;

    w->rev->nfiles++;
    if (st->st_mtime > w->rev->last_modified)
        w->rev->last_modified = st->st_mtime;
    if (blob_of(dfd, entry, st, w->blobs_fd, name, &size) < 0)
        return warn(w->report, hfi_strfmt("%s: snapshots/%s/%s does not point at a blob",
                                          w->repo->repo_id, w->rev->commit, rel));
    if (!name[0]) {
        /* a copy (links off) is its own blob: huggingface_hub counts it for the repo too */
        w->rev->size += size;
        w->repo->size_on_disk += size;
        w->repo->nblobs++;
        if (st->st_mtime > w->repo->last_modified)
            w->repo->last_modified = st->st_mtime;
    } else if (!strset_has(&w->seen, name)) {
        w->rev->size += size;
        return strset_add(&w->seen, name);
    }
    return 0;
}

typedef struct refs_walk {
    hf_cached_repo_t *repo;
    hf_cache_report_t *report;
} refs_walk_t;

static int on_ref(int dfd, const char *name, const char *rel, const struct stat *st, void *arg)
{
    refs_walk_t *w = arg;
    char commit[41];

    if (!S_ISREG(st->st_mode) || read_ref_at(dfd, name, commit) < 0)
        return warn(w->report, hfi_strfmt("%s: refs/%s does not hold a commit", w->repo->repo_id, rel));
    for (size_t i = 0; i < w->repo->nrevisions; i++) {
        hf_cached_revision_t *rv = &w->repo->revisions[i];
        char **nr;
        if (strcmp(rv->commit, commit) != 0)
            continue;
        if ((nr = hfi_realloc(rv->refs, (rv->nrefs + 1) * sizeof *nr)) == NULL)
            return HF_ENOMEM;
        rv->refs = nr;
        if ((rv->refs[rv->nrefs] = hfi_strdup(rel)) == NULL)
            return HF_ENOMEM;
        rv->nrefs++;
        return 0;
    }
    /* as huggingface_hub: a ref to a commit with no snapshot is worth a warning */
    return warn(w->report, hfi_strfmt("%s: refs/%s names %s, which has no snapshot",
                                      w->repo->repo_id, rel, commit));
}

static int on_blob(int dfd, const char *name, const char *rel, const struct stat *st, void *arg)
{
    hf_cached_repo_t *repo = arg;
    (void)dfd;
    (void)name;
    if (!S_ISREG(st->st_mode) || strchr(rel, '.') || strchr(rel, '/'))
        return 0;               /* partial files and strays are not blobs */
    repo->size_on_disk += (uint64_t)st->st_size;
    repo->nblobs++;
    if (st->st_mtime > repo->last_modified)
        repo->last_modified = st->st_mtime;
    return 0;
}

/* "models--org--name" -> type, "org/name"; 0 or -1 when it is not a repo folder. */
static int parse_folder(const char *name, hf_repo_type_t *type, char **repo_id)
{
    static const struct { const char *prefix; hf_repo_type_t t; } kinds[] = {
        { "models--", HF_REPO_MODEL }, { "datasets--", HF_REPO_DATASET }, { "spaces--", HF_REPO_SPACE },
    };
    for (size_t i = 0; i < 3; i++) {
        size_t pl = strlen(kinds[i].prefix);
        if (strncmp(name, kinds[i].prefix, pl) == 0) {
            const char *rest = name + pl, *sep = strstr(rest, "--");
            char *id = sep ? hfi_strfmt("%.*s/%s", (int)(sep - rest), rest, sep + 2) : hfi_strdup(rest);
            if (!id)
                return -1;
            if (hfi_check_repo_id(id, NULL) < 0) {
                hfi_free(id);
                return -1;
            }
            *type = kinds[i].t;
            *repo_id = id;
            return 0;
        }
    }
    return -1;
}

/* The revisions found in the open snapshots folder `sfd` (which it takes). */
static int scan_snapshots(hf_cache_report_t *r, hf_cached_repo_t *repo, int sfd, int blobs_fd)
{
    DIR *d = fdopendir(sfd);
    struct dirent *e;
    int rc = 0;

    if (!d) {
        close(sfd);
        return walk_warn(r, HF_EIO, repo->repo_id, "snapshots", "");
    }
    while (rc >= 0 && (e = readdir(d)) != NULL) {
        hf_cached_revision_t *nr;
        rev_walk_t w;
        if (e->d_name[0] == '.')
            continue;
        if (!hfi_is_commit(e->d_name)) {
            rc = warn(r, hfi_strfmt("%s: unexpected snapshots/%s", repo->repo_id, e->d_name));
            continue;
        }
        if ((nr = hfi_realloc(repo->revisions, (repo->nrevisions + 1) * sizeof *nr)) == NULL) {
            rc = HF_ENOMEM;
            break;
        }
        repo->revisions = nr;
        memset(&w, 0, sizeof w);
        w.repo = repo;
        w.rev = &repo->revisions[repo->nrevisions++];
        memset(w.rev, 0, sizeof *w.rev);
        memcpy(w.rev->commit, e->d_name, 41);
        w.blobs_fd = blobs_fd;
        w.report = r;
        rc = walk_at(dirfd(d), e->d_name, on_snapshot_file, &w);
        rc = walk_warn(r, rc, repo->repo_id, "snapshots/", e->d_name);
        strset_free(&w.seen);
    }
    closedir(d);
    return rc;
}

static int scan_repo(hf_cache_report_t *r, hf_cached_repo_t *repo)
{
    /* the repo folder itself may be a link (a repo moved to another disk); nothing below */
    int rfd = open(repo->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), bfd, sfd, rc;
    refs_walk_t rw = { repo, r };

    if (rfd < 0)
        return warn(r, hfi_strfmt("%s: cannot read %s: %s", repo->repo_id, repo->path,
                                  strerror(errno)));
    rc = walk_warn(r, walk_at(rfd, "blobs", on_blob, repo), repo->repo_id, "blobs", "");
    bfd = open_dir_at(rfd, "blobs");
    if (rc >= 0 && (sfd = open_dir_at(rfd, "snapshots")) >= 0)
        rc = scan_snapshots(r, repo, sfd, bfd);
    else if (rc >= 0 && errno != ENOENT)
        rc = walk_warn(r, HF_EIO, repo->repo_id, "snapshots", "");
    if (rc >= 0)
        rc = walk_warn(r, walk_at(rfd, "refs", on_ref, &rw), repo->repo_id, "refs", "");
    if (bfd >= 0)
        close(bfd);
    close(rfd);
    return rc;
}

static int cmp_repo(const void *a, const void *b)
{
    const hf_cached_repo_t *x = a, *y = b;
    if (x->type != y->type)
        return (int)x->type - (int)y->type;
    return strcmp(x->repo_id, y->repo_id);
}

int hf_cache_scan(const char *cache_dir, hf_cache_report_t **out, hf_error_t *err)
{
    hf_cache_report_t *r;
    DIR *d;
    struct dirent *e;
    int rc = 0;

    if (!cache_dir || !out)
        return hf_error_set(err, HF_EINVAL, 0, "missing argument");
    *out = NULL;
    if ((d = opendir(cache_dir)) == NULL)
        return hf_error_set(err, errno == ENOENT ? HF_ENOENT : HF_EIO, 0, "cannot read %s: %s",
                            cache_dir, strerror(errno));
    if ((r = hfi_calloc(1, sizeof *r)) == NULL) {
        closedir(d);
        return hf_error_set(err, HF_ENOMEM, 0, "out of memory");
    }
    while (rc >= 0 && (e = readdir(d)) != NULL) {
        hf_cached_repo_t *nr, repo;
        if (e->d_name[0] == '.' || strcmp(e->d_name, "CACHEDIR.TAG") == 0)
            continue;
        memset(&repo, 0, sizeof repo);
        if (parse_folder(e->d_name, &repo.type, &repo.repo_id) < 0) {
            rc = warn(r, hfi_strfmt("not a repo folder: %s", e->d_name));
            continue;
        }
        if ((repo.path = hfi_strfmt("%s/%s", cache_dir, e->d_name)) == NULL ||
            (nr = hfi_realloc(r->repos, (r->nrepos + 1) * sizeof *nr)) == NULL) {
            hfi_free(repo.repo_id);
            hfi_free(repo.path);
            rc = HF_ENOMEM;
            break;
        }
        r->repos = nr;
        r->repos[r->nrepos++] = repo;
        rc = scan_repo(r, &r->repos[r->nrepos - 1]);
        r->size_on_disk += r->repos[r->nrepos - 1].size_on_disk;
    }
    closedir(d);
    if (rc < 0) {
        hf_cache_report_free(r);
        return hf_error_set(err, rc, 0, "cannot scan %s", cache_dir);
    }
    if (r->nrepos)
        qsort(r->repos, r->nrepos, sizeof *r->repos, cmp_repo);
    *out = r;
    return 0;
}

void hf_cache_report_free(hf_cache_report_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nrepos; i++) {
        hf_cached_repo_t *repo = &r->repos[i];
        for (size_t j = 0; j < repo->nrevisions; j++) {
            for (size_t k = 0; k < repo->revisions[j].nrefs; k++)
                hfi_free(repo->revisions[j].refs[k]);
            hfi_free(repo->revisions[j].refs);
        }
        hfi_free(repo->revisions);
        hfi_free(repo->repo_id);
        hfi_free(repo->path);
    }
    for (size_t i = 0; i < r->nwarnings; i++)
        hfi_free(r->warnings[i]);
    hfi_free(r->warnings);
    hfi_free(r->repos);
    hfi_free(r);
}

/* ---- verify ----------------------------------------------------------------------------- */

typedef struct verify_walk {
    const char *blobs;          /* the folder's path, for on_bad */
    size_t checked, bad;
    void (*on_bad)(const char *blob, void *arg);
    void *arg;
} verify_walk_t;

static int on_verify(int dfd, const char *name, const char *rel, const struct stat *st, void *arg)
{
    verify_walk_t *w = arg;
    hfi_hash_t h;
    char hex[65], *path;
    int fd, ok = 0;

    if (!S_ISREG(st->st_mode) || !(hfi_is_hex(rel, 40) || hfi_is_hex(rel, 64)))
        return 0;               /* partial files (.incomplete), strays, links */
    w->checked++;
    if ((fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
        if (hfi_hash_init(&h, rel, (uint64_t)st->st_size) == 0) {
            if (hfi_hash_fd(&h, fd, 0, (uint64_t)st->st_size) == 0 && hfi_hash_final(&h, hex) == 0)
                ok = strcmp(hex, rel) == 0;
            hfi_hash_free(&h);
        }
        close(fd);
    }
    if (ok)
        return 0;
    w->bad++;
    if (!w->on_bad)
        return 0;
    if ((path = hfi_strfmt("%s/%s", w->blobs, rel)) == NULL)
        return HF_ENOMEM;
    w->on_bad(path, w->arg);
    hfi_free(path);
    return 0;
}

static int repo_dir(const char *cache_dir, hf_repo_type_t type, const char *repo_id, char **dir,
                    hf_error_t *err)
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

int hf_cache_verify(const char *cache_dir, hf_repo_type_t type, const char *repo_id, size_t *bad,
                    void (*on_bad)(const char *blob, void *arg), void *arg, hf_error_t *err)
{
    verify_walk_t w = { NULL, 0, 0, on_bad, arg };
    char *dir, *blobs;
    int rc;

    if ((rc = repo_dir(cache_dir, type, repo_id, &dir, err)) < 0)
        return rc;
    blobs = hfi_strfmt("%s/blobs", dir);
    hfi_free(dir);
    if (!blobs)
        return hf_error_set(err, HF_ENOMEM, 0, "out of memory");
    w.blobs = blobs;
    rc = walk_at(AT_FDCWD, blobs, on_verify, &w);   /* repo_dir refused a linked repo folder */
    hfi_free(blobs);
    if (rc < 0)
        return hf_error_set(err, rc, 0, "cannot read the blobs of %s%s", repo_id,
                            rc == HF_EIO ? " (unreadable, or a link)" : "");
    if (bad)
        *bad = w.bad;
    return w.checked > INT_MAX ? INT_MAX : (int)w.checked;
}

/* ---- remove ------------------------------------------------------------------------------- */

typedef struct used_walk {
    int blobs_fd;
    strset_t *blobs;            /* names of the blobs linked */
    uint64_t copies;            /* bytes of the copies (links off) */
} used_walk_t;

static int on_used(int dfd, const char *entry, const char *rel, const struct stat *st, void *arg)
{
    used_walk_t *w = arg;
    char name[128];
    uint64_t size;
    (void)rel;
    if (blob_of(dfd, entry, st, w->blobs_fd, name, &size) < 0)
        return 0;               /* links to nowhere (or out of the cache) use no blob */
    if (!name[0]) {
        w->copies += size;
        return 0;
    }
    return strset_add(w->blobs, name);
}

/* Add the blobs every snapshot but `commit` uses to `used`. HF_EIO (naming it) if one
 * cannot be read: it might use any blob, so the caller must delete none. */
static int blobs_of_other_snapshots(int sfd, const char *commit, int bfd, strset_t *used,
                                    const char *repo_id, hf_error_t *err)
{
    used_walk_t uw = { bfd, used, 0 };
    DIR *d = reopen_dir(sfd);
    struct dirent *e;
    struct stat st;
    int rc = 0;

    if (!d)
        return hf_error_set(err, HF_EIO, 0, "%s: cannot read snapshots/; nothing removed", repo_id);
    while (rc >= 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            strcmp(e->d_name, commit) == 0)
            continue;
        if (fstatat(sfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
            continue;           /* gone, a stray file or a link: uses no blob of ours */
        if ((rc = walk_at(sfd, e->d_name, on_used, &uw)) == HF_EIO)
            rc = hf_error_set(err, HF_EIO, 0,
                              "%s: cannot read snapshots/%s, which may use the same blobs; "
                              "nothing removed", repo_id, e->d_name);
        else if (rc < 0)
            rc = hf_error_set(err, rc, 0, "out of memory");
    }
    closedir(d);
    return rc;
}

typedef struct refrm_walk {
    const char *commit;
    int failed;
} refrm_walk_t;

static int on_ref_rm(int dfd, const char *name, const char *rel, const struct stat *st, void *arg)
{
    refrm_walk_t *w = arg;
    char commit[41];
    (void)rel;
    if (S_ISREG(st->st_mode) && read_ref_at(dfd, name, commit) == 0 &&
        strcmp(commit, w->commit) == 0 && unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
        w->failed = 1;
    return 0;
}

/* Open the folder `name` of the repo into *fd: -1 if there is none, HF_EIO if it is not a
 * folder (a planted link) or cannot be opened. */
static int open_repo_part(int rfd, const char *name, int *fd, const char *repo_id, hf_error_t *err)
{
    if ((*fd = open_dir_at(rfd, name)) >= 0 || errno == ENOENT)
        return 0;
    return hf_error_set(err, HF_EIO, 0, "%s: cannot open %s/ (%s); nothing removed", repo_id, name,
                        errno == ELOOP || errno == ENOTDIR ? "a link or not a folder" : strerror(errno));
}

/* Remove the whole repo folder `folder` of the open cache folder `cfd`; the bytes of its
 * blobs and copies in *freed. */
static int remove_repo(int cfd, int rfd, const char *folder, int64_t *freed, const char *repo_id,
                       hf_error_t *err)
{
    strset_t names = { 0 };
    int bfd = open_dir_at(rfd, "blobs");
    used_walk_t uw = { -1, &names, 0 };

    walk_at(rfd, "snapshots", on_used, &uw);   /* copies only: best effort, for the figure */
    strset_free(&names);
    *freed += (int64_t)(files_size(bfd) + uw.copies);
    if (bfd >= 0)
        close(bfd);
    if (rm_tree_at(cfd, folder, 0) < 0)
        return hf_error_set(err, HF_EIO, 0, "cannot remove all of %s (%s)", repo_id, folder);
    return 0;
}

/* Remove snapshot `commit` (`has_snapshot`: it exists), the refs naming it and the blobs
 * only it used, in that order, after reading every snapshot (see the design notes). */
static int remove_revision(int cfd, int rfd, const char *folder, const char *commit,
                           int64_t *freed, const char *repo_id, hf_error_t *err)
{
    strset_t mine = { 0 }, used = { 0 };
    used_walk_t uw = { -1, &mine, 0 };
    refrm_walk_t rw = { commit, 0 };
    struct stat st;
    int bfd = -1, sfd = -1, rc, has_snapshot, failed = 0;

    if ((rc = open_repo_part(rfd, "blobs", &bfd, repo_id, err)) < 0 ||
        (rc = open_repo_part(rfd, "snapshots", &sfd, repo_id, err)) < 0)
        goto out;
    has_snapshot = sfd >= 0 && fstatat(sfd, commit, &st, AT_SYMLINK_NOFOLLOW) == 0;
    uw.blobs_fd = bfd;
    if (has_snapshot && S_ISDIR(st.st_mode) && (rc = walk_at(sfd, commit, on_used, &uw)) < 0) {
        rc = hf_error_set(err, rc, 0, "%s: cannot read snapshots/%s; nothing removed", repo_id, commit);
        goto out;
    }
    if (sfd >= 0 && (rc = blobs_of_other_snapshots(sfd, commit, bfd, &used, repo_id, err)) < 0)
        goto out;
    if ((rc = walk_at(rfd, "refs", on_ref_rm, &rw)) < 0 || rw.failed) {
        rc = hf_error_set(err, rc == HF_ENOMEM ? rc : HF_EIO, 0, "%s: cannot remove the refs of %s",
                          repo_id, commit);
        goto out;
    }
    if (has_snapshot && rm_tree_at(sfd, commit, 0) < 0) {
        rc = hf_error_set(err, HF_EIO, 0, "%s: cannot remove snapshots/%s entirely (its refs are "
                          "gone; no blob was removed)", repo_id, commit);
        goto out;
    }
    *freed += (int64_t)uw.copies;
    for (size_t i = 0; i < mine.n; i++) {
        if (strset_has(&used, mine.v[i]))
            continue;
        if (fstatat(bfd, mine.v[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && unlinkat(bfd, mine.v[i], 0) == 0)
            *freed += (int64_t)st.st_size;
        else if (errno != ENOENT)
            failed = 1;
    }
    if (failed)
        rc = hf_error_set(err, HF_EIO, 0, "%s: cannot remove some blobs of %s (nothing uses them)",
                          repo_id, commit);
    if (sfd >= 0 && unlinkat(rfd, "snapshots", AT_REMOVEDIR) == 0) {
        int rrc = remove_repo(cfd, rfd, folder, freed, repo_id, err);   /* no snapshot left */
        rc = rc < 0 ? rc : rrc;
    }
out:
    if (bfd >= 0)
        close(bfd);
    if (sfd >= 0)
        close(sfd);
    strset_free(&mine);
    strset_free(&used);
    return rc;
}

/* 1 if snapshots/<commit> exists in the open repo folder `rfd` (a stat: links do no harm). */
static int snapshot_exists(int rfd, const char *commit)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "snapshots/%s", commit);
    return fstatat(rfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int64_t hf_cache_remove(const char *cache_dir, hf_repo_type_t type, const char *repo_id,
                        const char *revision, hf_error_t *err)
{
    hfi_cache_loc_t loc;
    char *dir, commit[41];
    int rc, cfd = -1, rfd = -1;
    int64_t freed = 0;

    if ((rc = repo_dir(cache_dir, type, repo_id, &dir, err)) < 0)
        return rc;
    hfi_free(dir);
    if (revision && hfi_check_revision(revision, err) < 0)
        return HF_EINVAL;
    if (hfi_cache_loc_init(&loc, cache_dir, type, repo_id) < 0)
        return hf_error_set(err, HF_ENOMEM, 0, "out of memory");
    if ((cfd = open(cache_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        (rfd = open_dir_at(cfd, loc.folder)) < 0) {
        rc = hf_error_set(err, HF_EIO, 0, "cannot open %s: %s", loc.repo_dir, strerror(errno));
        goto out;
    }
    if (!revision) {
        rc = remove_repo(cfd, rfd, loc.folder, &freed, repo_id, err);
        goto out;
    }
    if (hfi_is_commit(revision))
        memcpy(commit, revision, 41);
    else if ((rc = hfi_cache_read_ref(&loc, revision, commit)) < 0) {
        rc = hf_error_set(err, HF_ENOENT, 0, "%s: revision %s is not in the cache%s", repo_id,
                          revision, rc == HF_ECORRUPT ? " (its ref holds no commit)" : "");
        goto out;
    }
    if (hfi_is_commit(revision) && !snapshot_exists(rfd, commit)) {
        rc = hf_error_set(err, HF_ENOENT, 0, "%s: revision %s is not in the cache", repo_id, revision);
        goto out;
    }
    /* a ref whose snapshot is gone: removing the revision is removing its refs */
    rc = remove_revision(cfd, rfd, loc.folder, commit, &freed, repo_id, err);
out:
    if (rfd >= 0)
        close(rfd);
    if (cfd >= 0)
        close(cfd);
    hfi_cache_loc_free(&loc);
    return rc < 0 ? rc : freed;
}
