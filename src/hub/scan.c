/*
 * scan.c - the cache without a network: scan it, verify its blobs, remove revisions.
 *
 * Design notes
 *  - the walk never follows a symlink (lstat) except to ask what a snapshot link points
 *    at, and then only to a blob of the same repo (the target's last component must be a
 *    file in blobs/): a link planted to leave the cache is reported, not followed;
 *  - removal deletes a revision's snapshot folder and the refs pointing at it first, then
 *    the blobs no remaining snapshot points at; a repo left without snapshots is removed
 *    entirely, its lock folder included. It deletes only inside the repo's own folder;
 *  - folder names parse back by splitting on "--" (ids never contain "--").
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

/* ---- walking ---------------------------------------------------------------------------- */

/* Call fn(path, rel, st, arg) for every non-directory below `dir` (lstat, depth first).
 * `rel` is the path relative to `dir`. Stops at the first negative return. */
typedef int (*walk_fn)(const char *path, const char *rel, const struct stat *st, void *arg);

static int walk_rel(const char *dir, const char *rel, walk_fn fn, void *arg, int depth)
{
    char *path = rel[0] ? hfi_strfmt("%s/%s", dir, rel) : hfi_strdup(dir);
    DIR *d;
    struct dirent *e;
    int rc = 0;

    if (!path)
        return HF_ENOMEM;
    if (depth > 64 || (d = opendir(path)) == NULL) {
        hfi_free(path);
        return depth > 64 ? HF_EIO : 0;
    }
    while (rc >= 0 && (e = readdir(d)) != NULL) {
        char *child, *crel;
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        child = hfi_strfmt("%s/%s", path, e->d_name);
        crel = rel[0] ? hfi_strfmt("%s/%s", rel, e->d_name) : hfi_strdup(e->d_name);
        if (!child || !crel)
            rc = HF_ENOMEM;
        else if (lstat(child, &st) == 0)
            rc = S_ISDIR(st.st_mode) ? walk_rel(dir, crel, fn, arg, depth + 1)
                                     : fn(child, crel, &st, arg);
        hfi_free(child);
        hfi_free(crel);
    }
    closedir(d);
    hfi_free(path);
    return rc;
}

static int walk(const char *dir, walk_fn fn, void *arg)
{
    return walk_rel(dir, "", fn, arg, 0);
}

/* Remove `path` and everything below it, never following a link. */
static int rm_tree(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    int rc = 0;

    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : HF_EIO;
    if (!S_ISDIR(st.st_mode))
        return unlink(path) == 0 ? 0 : HF_EIO;
    if ((d = opendir(path)) == NULL)
        return HF_EIO;
    while ((e = readdir(d)) != NULL) {
        char *child;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if ((child = hfi_strfmt("%s/%s", path, e->d_name)) == NULL) {
            rc = HF_ENOMEM;
            break;
        }
        if (rm_tree(child) < 0)
            rc = HF_EIO;
        hfi_free(child);
    }
    closedir(d);
    if (rmdir(path) < 0 && rc == 0)
        rc = HF_EIO;
    return rc;
}

/* The blob a snapshot entry stands for: its link target's last component, if that is a
 * file in `blobs_dir` (a copy, when links are off: the entry itself). */
static int blob_of(const char *entry, const struct stat *st, const char *blobs_dir,
                   char name[128], uint64_t *size)
{
    char target[4096], *blob;
    const char *base;
    ssize_t n;
    struct stat bst;

    if (!S_ISLNK(st->st_mode)) {
        name[0] = '\0';
        *size = (uint64_t)st->st_size;
        return S_ISREG(st->st_mode) ? 0 : HF_ENOENT;
    }
    if ((n = readlink(entry, target, sizeof target - 1)) < 0)
        return HF_ENOENT;
    target[n] = '\0';
    base = strrchr(target, '/');
    base = base ? base + 1 : target;
    if (strlen(base) >= 128 || !(hfi_is_hex(base, 40) || hfi_is_hex(base, 64)))
        return HF_ENOENT;
    if ((blob = hfi_strfmt("%s/%s", blobs_dir, base)) == NULL)
        return HF_ENOMEM;
    n = lstat(blob, &bst) == 0 && S_ISREG(bst.st_mode);
    hfi_free(blob);
    if (!n)
        return HF_ENOENT;
    strcpy(name, base);
    *size = (uint64_t)bst.st_size;
    return 0;
}

/* ---- scan -------------------------------------------------------------------------------- */

typedef struct rev_walk {
    hf_cached_revision_t *rev;
    const char *blobs_dir;
    strset_t *seen;             /* blobs counted for this revision */
    hf_cache_report_t *report;
    const char *repo_id;
} rev_walk_t;

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

static int on_snapshot_file(const char *path, const char *rel, const struct stat *st, void *arg)
{
    rev_walk_t *w = arg;
    char name[128];
    uint64_t size;
    (void)rel;

    w->rev->nfiles++;
    if (st->st_mtime > w->rev->last_modified)
        w->rev->last_modified = st->st_mtime;
    if (blob_of(path, st, w->blobs_dir, name, &size) < 0)
        return warn(w->report, hfi_strfmt("%s: %s does not point at a blob", w->repo_id, path));
    if (!name[0] || !strset_has(w->seen, name)) {
        w->rev->size += size;
        if (name[0] && strset_add(w->seen, name) < 0)
            return HF_ENOMEM;
    }
    return 0;
}

typedef struct refs_walk {
    hf_cached_repo_t *repo;
    const char *refs_dir;
} refs_walk_t;

static int on_ref(const char *path, const char *rel, const struct stat *st, void *arg)
{
    refs_walk_t *w = arg;
    char buf[64];
    int fd;
    ssize_t n;
    (void)st;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
        return 0;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 40)
        return 0;
    buf[40] = '\0';
    for (size_t i = 0; i < w->repo->nrevisions; i++) {
        hf_cached_revision_t *rv = &w->repo->revisions[i];
        if (strcmp(rv->commit, buf) == 0) {
            char **nr = hfi_realloc(rv->refs, (rv->nrefs + 1) * sizeof *nr);
            if (!nr)
                return HF_ENOMEM;
            rv->refs = nr;
            if ((rv->refs[rv->nrefs] = hfi_strdup(rel)) == NULL)
                return HF_ENOMEM;
            rv->nrefs++;
        }
    }
    return 0;
}

typedef struct blobs_walk {
    hf_cached_repo_t *repo;
} blobs_walk_t;

static int on_blob(const char *path, const char *rel, const struct stat *st, void *arg)
{
    blobs_walk_t *w = arg;
    (void)path;
    if (!S_ISREG(st->st_mode) || strchr(rel, '.') || strchr(rel, '/'))
        return 0;               /* partial files and strays are not blobs */
    w->repo->size_on_disk += (uint64_t)st->st_size;
    w->repo->nblobs++;
    if (st->st_mtime > w->repo->last_modified)
        w->repo->last_modified = st->st_mtime;
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

static int scan_repo(hf_cache_report_t *r, hf_cached_repo_t *repo)
{
    char *snaps = hfi_strfmt("%s/snapshots", repo->path);
    char *blobs = hfi_strfmt("%s/blobs", repo->path);
    char *refs = hfi_strfmt("%s/refs", repo->path);
    DIR *d;
    struct dirent *e;
    int rc = 0;

    if (!snaps || !blobs || !refs) {
        rc = HF_ENOMEM;
        goto out;
    }
    {
        blobs_walk_t bw = { repo };
        if ((rc = walk(blobs, on_blob, &bw)) < 0)
            goto out;
    }
    if ((d = opendir(snaps)) != NULL) {
        while (rc >= 0 && (e = readdir(d)) != NULL) {
            hf_cached_revision_t *nr, *rv;
            strset_t seen = { 0 };
            char *dir;
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
            rv = &repo->revisions[repo->nrevisions++];
            memset(rv, 0, sizeof *rv);
            memcpy(rv->commit, e->d_name, 41);
            if ((dir = hfi_strfmt("%s/%s", snaps, e->d_name)) == NULL) {
                rc = HF_ENOMEM;
                break;
            }
            w.rev = rv;
            w.blobs_dir = blobs;
            w.seen = &seen;
            w.report = r;
            w.repo_id = repo->repo_id;
            rc = walk(dir, on_snapshot_file, &w);
            strset_free(&seen);
            hfi_free(dir);
        }
        closedir(d);
    }
    if (rc >= 0) {
        refs_walk_t rw = { repo, refs };
        rc = walk(refs, on_ref, &rw);
    }
out:
    hfi_free(snaps);
    hfi_free(blobs);
    hfi_free(refs);
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
    size_t checked, bad;
    void (*on_bad)(const char *blob, void *arg);
    void *arg;
} verify_walk_t;

static int on_verify(const char *path, const char *rel, const struct stat *st, void *arg)
{
    verify_walk_t *w = arg;
    hfi_hash_t h;
    char hex[65];
    int fd, ok = 0;

    if (!S_ISREG(st->st_mode) || !(hfi_is_hex(rel, 40) || hfi_is_hex(rel, 64)))
        return 0;
    w->checked++;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
        if (hfi_hash_init(&h, rel, (uint64_t)st->st_size) == 0) {
            if (hfi_hash_fd(&h, fd, 0, (uint64_t)st->st_size) == 0 && hfi_hash_final(&h, hex) == 0)
                ok = strcmp(hex, rel) == 0;
            hfi_hash_free(&h);
        }
        close(fd);
    }
    if (!ok) {
        w->bad++;
        if (w->on_bad)
            w->on_bad(path, w->arg);
    }
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
    verify_walk_t w = { 0, 0, on_bad, arg };
    char *dir, *blobs;
    int rc;

    if ((rc = repo_dir(cache_dir, type, repo_id, &dir, err)) < 0)
        return rc;
    blobs = hfi_strfmt("%s/blobs", dir);
    hfi_free(dir);
    if (!blobs)
        return hf_error_set(err, HF_ENOMEM, 0, "out of memory");
    rc = walk(blobs, on_verify, &w);
    hfi_free(blobs);
    if (rc < 0)
        return hf_error_set(err, rc, 0, "cannot read the blobs of %s", repo_id);
    if (bad)
        *bad = w.bad;
    return (int)w.checked;
}

/* ---- remove ------------------------------------------------------------------------------- */

typedef struct used_walk {
    const char *blobs_dir;
    strset_t used;
} used_walk_t;

static int on_used(const char *path, const char *rel, const struct stat *st, void *arg)
{
    used_walk_t *w = arg;
    char name[128];
    uint64_t size;
    (void)rel;
    if (blob_of(path, st, w->blobs_dir, name, &size) == 0 && name[0])
        return strset_add(&w->used, name);
    return 0;
}

typedef struct unused_walk {
    const strset_t *used;
    int64_t freed;
    int failed;
} unused_walk_t;

static int on_unused(const char *path, const char *rel, const struct stat *st, void *arg)
{
    unused_walk_t *w = arg;
    if (!S_ISREG(st->st_mode) || strchr(rel, '/') || strset_has(w->used, rel))
        return 0;
    if (strchr(rel, '.'))
        return 0;               /* a partial download: not ours to judge */
    if (unlink(path) == 0)
        w->freed += (int64_t)st->st_size;
    else
        w->failed = 1;
    return 0;
}

typedef struct refrm_walk {
    const char *commit;
    int failed;
} refrm_walk_t;

static int on_ref_rm(const char *path, const char *rel, const struct stat *st, void *arg)
{
    refrm_walk_t *w = arg;
    char buf[64];
    int fd;
    ssize_t n;
    (void)rel;
    (void)st;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
        return 0;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n >= 40 && strncmp(buf, w->commit, 40) == 0 && unlink(path) < 0)
        w->failed = 1;
    return 0;
}

static int64_t tree_size(const char *dir)
{
    /* bytes of the regular files below `dir` (blobs of a whole-repo removal) */
    struct stat st;
    int64_t total = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL) {
        char *p;
        if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || strcmp(e->d_name, "..") == 0))
            continue;
        if ((p = hfi_strfmt("%s/%s", dir, e->d_name)) != NULL && lstat(p, &st) == 0 &&
            S_ISREG(st.st_mode))
            total += (int64_t)st.st_size;
        hfi_free(p);
    }
    closedir(d);
    return total;
}

int64_t hf_cache_remove(const char *cache_dir, hf_repo_type_t type, const char *repo_id,
                        const char *revision, hf_error_t *err)
{
    hfi_cache_loc_t loc;
    char *dir, *snaps = NULL, *blobs = NULL, *refs = NULL, *snap = NULL;
    char commit[41];
    int rc;
    int64_t freed = 0;
    used_walk_t uw;
    unused_walk_t xw;
    refrm_walk_t rw;

    memset(&uw, 0, sizeof uw);
    if ((rc = repo_dir(cache_dir, type, repo_id, &dir, err)) < 0)
        return rc;
    if (hfi_cache_loc_init(&loc, cache_dir, type, repo_id) < 0) {
        hfi_free(dir);
        return hf_error_set(err, HF_ENOMEM, 0, "out of memory");
    }
    snaps = hfi_strfmt("%s/snapshots", dir);
    blobs = hfi_strfmt("%s/blobs", dir);
    refs = hfi_strfmt("%s/refs", dir);
    if (!snaps || !blobs || !refs) {
        rc = hf_error_set(err, HF_ENOMEM, 0, "out of memory");
        goto out;
    }
    if (!revision) {
        char *locks = hfi_strfmt("%s/.locks/%s", cache_dir, loc.folder);
        freed = tree_size(blobs);
        rc = rm_tree(dir);
        if (locks)
            rm_tree(locks);
        hfi_free(locks);
        if (rc < 0)
            rc = hf_error_set(err, HF_EIO, 0, "cannot remove %s", dir);
        goto out;
    }
    if (hfi_check_revision(revision, err) < 0) {
        rc = HF_EINVAL;
        goto out;
    }
    if (hfi_is_commit(revision))
        memcpy(commit, revision, 41);
    else if (hfi_cache_read_ref(&loc, revision, commit) < 0) {
        rc = hf_error_set(err, HF_ENOENT, 0, "%s: revision %s is not in the cache", repo_id, revision);
        goto out;
    }
    if ((snap = hfi_strfmt("%s/%s", snaps, commit)) == NULL) {
        rc = hf_error_set(err, HF_ENOMEM, 0, "out of memory");
        goto out;
    }
    if (!hfi_path_exists(snap) && hfi_is_commit(revision)) {
        rc = hf_error_set(err, HF_ENOENT, 0, "%s: revision %s is not in the cache", repo_id, revision);
        goto out;
    }
    rw.commit = commit;
    rw.failed = 0;
    if (rm_tree(snap) < 0 || walk(refs, on_ref_rm, &rw) < 0 || rw.failed) {
        rc = hf_error_set(err, HF_EIO, 0, "cannot remove revision %s of %s", revision, repo_id);
        goto out;
    }
    uw.blobs_dir = blobs;
    if ((rc = walk(snaps, on_used, &uw)) < 0) {
        rc = hf_error_set(err, rc, 0, "cannot read the snapshots of %s", repo_id);
        goto out;
    }
    xw.used = &uw.used;
    xw.freed = 0;
    xw.failed = 0;
    walk(blobs, on_unused, &xw);
    freed = xw.freed;
    if (xw.failed)
        rc = hf_error_set(err, HF_EIO, 0, "cannot remove some blobs of %s", repo_id);
    if (rmdir(snaps) == 0) {    /* no snapshot left: the repo goes */
        char *locks = hfi_strfmt("%s/.locks/%s", cache_dir, loc.folder);
        freed += tree_size(blobs);
        rm_tree(dir);
        if (locks)
            rm_tree(locks);
        hfi_free(locks);
    }
out:
    strset_free(&uw.used);
    hfi_cache_loc_free(&loc);
    hfi_free(dir);
    hfi_free(snaps);
    hfi_free(blobs);
    hfi_free(refs);
    hfi_free(snap);
    return rc < 0 ? rc : freed;
}
