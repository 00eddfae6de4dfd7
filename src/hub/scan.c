/*
 * scan.c - the cache without a network: describe it (hf_cache_scan) and re-hash a repo's
 * blobs (hf_cache_verify). Both only read, through cachewalk.h: never through a link
 * below a repo folder.
 *
 * Design notes
 *  - a snapshot entry counts only if it names a regular file of the same repo's blobs/
 *    (or is itself a file: a copy, links off); what looks broken (links to no blob, refs
 *    holding no commit or naming one with no snapshot, folders that are not repos or
 *    cannot be read) becomes a warning of the report, and the rest is still reported;
 *  - the repo folder itself may be a link for scan (users move repos to other disks);
 *    verify refuses one, as remove does. A top-level entry that is not a folder (a file,
 *    a link to nothing) is no repo, only a warning, as for huggingface_hub;
 *  - folder names parse back by splitting on "--" (ids never contain "--").
 */
#include "config.h"

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
#include "hub/cachewalk.h"
#include "hub/hash.h"
#include "hub/names.h"

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
    hfi_strset_t seen;              /* blobs counted for this revision */
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
    if (hfi_snapshot_blob_of(dfd, entry, st, w->blobs_fd, name, &size) < 0)
        return warn(w->report, hfi_strfmt("%s: snapshots/%s/%s does not point at a blob",
                                          w->repo->repo_id, w->rev->commit, rel));
    if (!name[0]) {
        /* a copy (links off) is its own blob: huggingface_hub counts it for the repo too */
        w->rev->size += size;
        w->repo->size_on_disk += size;
        w->repo->nblobs++;
        if (st->st_mtime > w->repo->last_modified)
            w->repo->last_modified = st->st_mtime;
    } else if (!hfi_strset_has(&w->seen, name)) {
        w->rev->size += size;
        return hfi_strset_add(&w->seen, name);
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

    if (!S_ISREG(st->st_mode) || hfi_ref_read_at(dfd, name, commit) < 0)
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
        rc = hfi_walk_at(dirfd(d), e->d_name, on_snapshot_file, &w);
        rc = walk_warn(r, rc, repo->repo_id, "snapshots/", e->d_name);
        hfi_strset_free(&w.seen);
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
    rc = walk_warn(r, hfi_walk_at(rfd, "blobs", on_blob, repo), repo->repo_id, "blobs", "");
    bfd = hfi_dir_open_at(rfd, "blobs");
    if (rc >= 0 && (sfd = hfi_dir_open_at(rfd, "snapshots")) >= 0)
        rc = scan_snapshots(r, repo, sfd, bfd);
    else if (rc >= 0 && errno != ENOENT)
        rc = walk_warn(r, HF_EIO, repo->repo_id, "snapshots", "");
    if (rc >= 0)
        rc = walk_warn(r, hfi_walk_at(rfd, "refs", on_ref, &rw), repo->repo_id, "refs", "");
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
        struct stat st;
        int sr;
        if (e->d_name[0] == '.' || strcmp(e->d_name, "CACHEDIR.TAG") == 0)
            continue;
        memset(&repo, 0, sizeof repo);
        if (parse_folder(e->d_name, &repo.type, &repo.repo_id) < 0) {
            rc = warn(r, hfi_strfmt("not a repo folder: %s", e->d_name));
            continue;
        }
        /* only a folder (or a link to one) is a repo, as for huggingface_hub */
        if ((sr = fstatat(dirfd(d), e->d_name, &st, 0)) < 0 || !S_ISDIR(st.st_mode)) {
            const char *why = sr < 0 ? strerror(errno) : "not a folder";
            hfi_free(repo.repo_id);
            rc = warn(r, hfi_strfmt("not a repo folder: %s (%s)", e->d_name, why));
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

int hf_cache_verify(const char *cache_dir, hf_repo_type_t type, const char *repo_id, size_t *bad,
                    void (*on_bad)(const char *blob, void *arg), void *arg, hf_error_t *err)
{
    verify_walk_t w = { NULL, 0, 0, on_bad, arg };
    char *dir, *blobs;
    int rc;

    if ((rc = hfi_cache_repo_dir(cache_dir, type, repo_id, &dir, err)) < 0)
        return rc;
    blobs = hfi_strfmt("%s/blobs", dir);
    hfi_free(dir);
    if (!blobs)
        return hf_error_set(err, HF_ENOMEM, 0, "out of memory");
    w.blobs = blobs;
    rc = hfi_walk_at(AT_FDCWD, blobs, on_verify, &w);   /* repo_dir refused a linked repo folder */
    hfi_free(blobs);
    if (rc < 0)
        return hf_error_set(err, rc, 0, "cannot read the blobs of %s%s", repo_id,
                            rc == HF_EIO ? " (unreadable, or a link)" : "");
    if (bad)
        *bad = w.bad;
    return w.checked > INT_MAX ? INT_MAX : (int)w.checked;
}
