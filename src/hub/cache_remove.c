/*
 * cache_remove.c - hf_cache_remove: a revision, or a whole repo, out of the cache.
 *
 * Design notes
 *  - removal reads before it deletes: the removed snapshot's blobs, then every other
 *    snapshot's, changing nothing if one cannot be read (it might use any blob). Then, in
 *    this order, the refs naming the commit (no lookup resolves to a half-removed
 *    snapshot), the snapshot, and the blobs it used that no other snapshot uses (as
 *    huggingface_hub's delete_revisions: a blob no snapshot links yet, such as one a
 *    download has just committed, is not ours to judge). The snapshot goes as the whole
 *    repo's do below: what was listed in it is removed, and a folder a download has put
 *    something in meanwhile (rmdir: ENOTEMPTY) stays with it, the call still succeeding;
 *    its links keep their blobs (the blob step reads every snapshot again under the
 *    locks). An entry we listed but cannot remove is HF_EIO, naming it. Failing halfway
 *    leaves a revision without refs or blobs nothing uses, never a link to a deleted
 *    blob. A repo left without snapshots is then removed as a whole repo is;
 *  - a whole repo goes the same guarded way, never by a recursive delete of its folder (a
 *    download into it may be under way): read every snapshot (none readable: nothing
 *    changes), then remove the refs and .no_exist markers, the files and links of each
 *    snapshot there at the reading, every blob (with its <etag>.incomplete) that no
 *    snapshot links when read again under its lock, anything else in the folder (no
 *    download writes there), and last the folders, deepest first, each only if empty
 *    (rmdir). ENOTEMPTY means a download put something there meanwhile: it stays, with
 *    the blobs its links use, and the call still succeeds (what was there is gone). A
 *    download that links before a snapshot's files are removed loses its link, as if it
 *    had finished before the call, never its blob alone; snapshots/ is opened again for
 *    each reading under the locks, so one a download makes meanwhile is read;
 *  - every deletion goes through cachewalk.h, relative to the repo folder's descriptor
 *    and never through a link: a link planted at blobs/, refs/ or snapshots/ fails the
 *    call before anything changes;
 *  - a blob is deleted only under its lock (<cache>/.locks/<folder>/<etag>.lock, the lock
 *    both official clients take), after reading every snapshot again: a download holds
 *    that lock from its check that the blob is there until its snapshot link exists
 *    (download.c; a blob it commits is checked again under the lock, since blob.c lets
 *    go at the commit), so a link made while we decide is seen, and one made after finds
 *    the blob gone and fetches it again; it never dangles. The first reading only
 *    narrows the candidates. Locks are taken in etag order, LOCK_BATCH at a time, with one
 *    reading per batch; each wait blocks the calling thread (polling), as long as a
 *    download of that blob in this or another process holds it;
 *  - lock order: blob locks in strcmp order of their etags, all of a batch released before
 *    the next batch; no mutex is held, and nothing else is taken, under them. Downloads
 *    hold one blob lock at a time, so no cycle can form;
 *  - lock files (.locks/) are never deleted: one may be held right now, and a new file
 *    under the same name would let a second writer in beside the holder.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "hub/cache.h"
#include "hub/cachewalk.h"
#include "hub/names.h"

/* ---- remove ------------------------------------------------------------------------------- */

typedef struct used_walk {
    int blobs_fd;
    hfi_strset_t *blobs;            /* names of the blobs linked */
    uint64_t copies;            /* bytes of the copies (links off) */
} used_walk_t;

static int on_used(int dfd, const char *entry, const char *rel, const struct stat *st, void *arg)
{
    used_walk_t *w = arg;
    char name[128];
    uint64_t size;
    (void)rel;
    if (hfi_snapshot_blob_of(dfd, entry, st, w->blobs_fd, name, &size) < 0)
        return 0;               /* links to nowhere (or out of the cache) use no blob */
    if (!name[0]) {
        w->copies += size;
        return 0;
    }
    return hfi_strset_add(w->blobs, name);
}

/* Add the blobs every snapshot but `commit` (NULL: none) uses to `used`. HF_EIO (naming
 * it) if one cannot be read: it might use any blob, so the caller must delete none. */
static int blobs_of_other_snapshots(int sfd, const char *commit, int bfd, hfi_strset_t *used,
                                    const char *repo_id, hf_error_t *err)
{
    used_walk_t uw = { bfd, used, 0 };
    DIR *d = hfi_dir_reopen(sfd);
    struct dirent *e;
    struct stat st;
    int rc = 0;

    if (!d)
        return hf_error_set(err, HF_EIO, 0, "%s: cannot read snapshots/; nothing removed", repo_id);
    while (rc >= 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            (commit && strcmp(e->d_name, commit) == 0))
            continue;
        if (fstatat(sfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
            continue;           /* gone, a stray file or a link: uses no blob of ours */
        if ((rc = hfi_walk_at(sfd, e->d_name, on_used, &uw)) == HF_EIO)
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
    if (S_ISREG(st->st_mode) && hfi_ref_read_at(dfd, name, commit) == 0 &&
        strcmp(commit, w->commit) == 0 && unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
        w->failed = 1;
    return 0;
}

/* Open the folder `name` of the repo into *fd: -1 if there is none, HF_EIO if it is not a
 * folder (a planted link) or cannot be opened. */
static int open_repo_part(int rfd, const char *name, int *fd, const char *repo_id, hf_error_t *err)
{
    if ((*fd = hfi_dir_open_at(rfd, name)) >= 0 || errno == ENOENT)
        return 0;
    return hf_error_set(err, HF_EIO, 0, "%s: cannot open %s/ (%s); nothing removed", repo_id, name,
                        errno == ELOOP || errno == ENOTDIR ? "a link or not a folder" : strerror(errno));
}

#define LOCK_BATCH 32

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Delete the blobs named in `cand` (of the open blobs/ `bfd`) that no snapshot of the repo
 * folder `rfd` links, each under its lock and after reading the snapshots again (see the
 * design notes); with `incomplete`, <name>.incomplete goes too, under the same lock (no
 * writer of it is running then). snapshots/ is opened again for each reading: one made
 * meanwhile (a download into a repo we empty) is read. The bytes freed are added to
 * *freed. A blob whose lock cannot be taken, or whose batch cannot be checked, stays.
 * Returns 0, HF_EIO or HF_ENOMEM (with `err` set; the other batches are still done). */
static int remove_unused_blobs(const char *cache_dir, const hfi_cache_loc_t *loc, int rfd,
                               int bfd, hfi_strset_t *cand, int incomplete, int64_t *freed,
                               const char *repo_id, const char *what, hf_error_t *err)
{
    int fds[LOCK_BATCH];
    int rc = 0;

    if (cand->n > 1)
        qsort(cand->v, cand->n, sizeof *cand->v, cmp_names);  /* the lock order */
    for (size_t i = 0; i < cand->n; i += LOCK_BATCH) {
        size_t n = cand->n - i < LOCK_BATCH ? cand->n - i : LOCK_BATCH;
        hfi_strset_t used = { 0 };
        struct stat st;
        int brc = 0, sfd, unreadable = 0, unlocked = 0, kept = 0;

        for (size_t k = 0; k < n; k++) {
            char *lock_path = hfi_cache_lock_path(cache_dir, loc, cand->v[i + k]);
            fds[k] = lock_path ? hfi_cache_lock(lock_path, 0, NULL) : HF_ENOMEM;
            hfi_free(lock_path);
        }
        /* links made before we held the locks are there now; none can be made until we
         * let them go */
        if ((brc = open_repo_part(rfd, "snapshots", &sfd, repo_id, err)) < 0)
            unreadable = 1;
        else if (sfd >= 0) {
            if ((brc = blobs_of_other_snapshots(sfd, NULL, bfd, &used, repo_id, err)) < 0)
                unreadable = 1;
            close(sfd);
        }
        for (size_t k = 0; k < n; k++) {
            const char *name = cand->v[i + k];
            if (unreadable || fds[k] < 0) {
                kept = 1;
                unlocked |= fds[k] < 0;
            } else {
                if (!hfi_strset_has(&used, name)) {
                    if (fstatat(bfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && unlinkat(bfd, name, 0) == 0)
                        *freed += (int64_t)st.st_size;
                    else if (errno != ENOENT)
                        kept = 1;
                }
                if (incomplete) {
                    char part[300];
                    snprintf(part, sizeof part, "%s.incomplete", name);
                    if (fstatat(bfd, part, &st, AT_SYMLINK_NOFOLLOW) == 0 && unlinkat(bfd, part, 0) == 0)
                        *freed += (int64_t)st.st_size;
                    else if (errno != ENOENT)
                        kept = 1;
                }
            }
            hfi_cache_unlock(fds[k]);   /* ignores a negative fd */
        }
        hfi_strset_free(&used);
        if (kept && rc == 0)
            rc = hf_error_set(err, brc == HF_ENOMEM ? HF_ENOMEM : HF_EIO, 0,
                              "%s: cannot remove some blobs of %s (%s)", repo_id, what,
                              unreadable ? "the snapshots could not be read again to check them"
                              : unlocked ? "a lock in .locks/ could not be taken"
                                         : "nothing uses them");
    }
    return rc;
}

static int on_unlink(int dfd, const char *name, const char *rel, const struct stat *st, void *arg)
{
    int *failed = arg;
    (void)rel;
    (void)st;
    if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
        *failed = 1;
    return 0;
}

/* Remove the folder `name` below `dfd` and the folders below it, deepest first, each only
 * if it is empty then (rmdir, never through a link): a folder a download has put something
 * in meanwhile stays, with what it holds. */
static void prune_empty(int dfd, const char *name, int depth)
{
    struct dirent *e;
    struct stat st;
    DIR *d;
    int fd;

    if ((fd = hfi_dir_open_at(dfd, name)) < 0)
        return;
    if ((d = fdopendir(fd)) == NULL) {
        close(fd);
        return;
    }
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 && depth < 64 &&
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
            prune_empty(dirfd(d), e->d_name, depth + 1);
    closedir(d);
    (void)unlinkat(dfd, name, AT_REMOVEDIR);    /* ENOTEMPTY: a download's: it stays */
}

/* 1 if `name` is one of the parts of a repo folder a download writes in. */
static int download_part(const char *name)
{
    return strcmp(name, "blobs") == 0 || strcmp(name, "snapshots") == 0 ||
           strcmp(name, "refs") == 0 || strcmp(name, ".no_exist") == 0;
}

/* Remove the whole repo (folder `rfd`, `loc->folder` in the open cache folder `cfd`): read
 * every snapshot, then remove the refs and .no_exist markers, each snapshot, the blobs
 * (guarded, as a revision's), anything else in the folder, and last the folders left, each
 * only if empty (see the design notes). */
static int remove_whole_repo(const char *cache_dir, const hfi_cache_loc_t *loc, int cfd,
                             int rfd, int64_t *freed, const char *repo_id, hf_error_t *err)
{
    hfi_strset_t snaps = { 0 }, mine = { 0 }, cand = { 0 };
    used_walk_t uw = { -1, &mine, 0 };
    struct dirent *e;
    struct stat st;
    DIR *d = NULL;
    int bfd = -1, sfd = -1, fd = -1, rc, failed = 0;

    if ((rc = open_repo_part(rfd, "blobs", &bfd, repo_id, err)) < 0 ||
        (rc = open_repo_part(rfd, "snapshots", &sfd, repo_id, err)) < 0 ||
        (rc = open_repo_part(rfd, "refs", &fd, repo_id, err)) < 0)
        goto out;
    if (fd >= 0)
        close(fd);
    if ((rc = open_repo_part(rfd, ".no_exist", &fd, repo_id, err)) < 0)
        goto out;
    if (fd >= 0)
        close(fd);
    uw.blobs_fd = bfd;
    /* read: the snapshots there now, which all go (one made later is a download's) */
    if (sfd >= 0) {
        if ((d = hfi_dir_reopen(sfd)) == NULL) {
            rc = hf_error_set(err, HF_EIO, 0, "%s: cannot read snapshots/; nothing removed", repo_id);
            goto out;
        }
        while (rc >= 0 && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            if ((rc = hfi_strset_add(&snaps, e->d_name)) < 0)
                rc = hf_error_set(err, rc, 0, "out of memory; nothing removed");
            else if (fstatat(sfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
                     (rc = hfi_walk_at(sfd, e->d_name, on_used, &uw)) < 0)
                rc = hf_error_set(err, rc, 0, "%s: cannot read snapshots/%s; nothing removed",
                                  repo_id, e->d_name);
        }
        closedir(d);
        if (rc < 0)
            goto out;
    }
    if ((rc = hfi_walk_at(rfd, "refs", on_unlink, &failed)) < 0 || failed ||
        (rc = hfi_walk_at(rfd, ".no_exist", on_unlink, &failed)) < 0 || failed) {
        rc = hf_error_set(err, rc == HF_ENOMEM ? rc : HF_EIO, 0,
                          "%s: cannot remove its refs and .no_exist markers", repo_id);
        goto out;
    }
    /* each snapshot: what is in it, then its folders if empty (a download may be linking
     * into one: its link stays, and then its blob, which it links under the lock) */
    for (size_t i = 0; i < snaps.n; i++) {
        if (fstatat(sfd, snaps.v[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode))
            failed |= unlinkat(sfd, snaps.v[i], 0) < 0 && errno != ENOENT;
        else if ((rc = hfi_walk_at(sfd, snaps.v[i], on_unlink, &failed)) < 0)
            failed = 1;
        if (failed) {
            rc = hf_error_set(err, rc == HF_ENOMEM ? rc : HF_EIO, 0, "%s: cannot remove "
                              "snapshots/%s entirely (its refs are gone; no blob was removed)",
                              repo_id, snaps.v[i]);
            goto out;
        }
        prune_empty(sfd, snaps.v[i], 1);
    }
    *freed += (int64_t)uw.copies;
    /* every blob, and every partial one (<etag>.incomplete: under <etag>'s lock) */
    if (bfd >= 0 && (d = hfi_dir_reopen(bfd)) != NULL) {
        while (rc >= 0 && (e = readdir(d)) != NULL) {
            size_t len = strlen(e->d_name);
            char key[256];
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || len >= sizeof key)
                continue;
            memcpy(key, e->d_name, len + 1);
            if (len > 11 && strcmp(key + len - 11, ".incomplete") == 0)
                key[len - 11] = '\0';
            rc = hfi_strset_add(&cand, key);
        }
        closedir(d);
    }
    if (rc < 0)
        rc = hf_error_set(err, rc, 0, "out of memory (no blob was removed)");
    else
        rc = remove_unused_blobs(cache_dir, loc, rfd, bfd, &cand, 1, freed, repo_id, "the repo", err);
    /* what is left: other things (no download writes them) go, the folders if empty */
    if ((d = hfi_dir_reopen(rfd)) != NULL) {
        while ((e = readdir(d)) != NULL)
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
                !download_part(e->d_name) && hfi_tree_remove_at(rfd, e->d_name, 1) < 0 && rc == 0)
                rc = hf_error_set(err, HF_EIO, 0, "%s: cannot remove %s", repo_id, e->d_name);
        closedir(d);
    }
    prune_empty(rfd, "snapshots", 1);
    prune_empty(rfd, "blobs", 1);
    prune_empty(rfd, "refs", 1);
    prune_empty(rfd, ".no_exist", 1);
    (void)unlinkat(cfd, loc->folder, AT_REMOVEDIR);     /* ENOTEMPTY: a download's */
out:
    if (bfd >= 0)
        close(bfd);
    if (sfd >= 0)
        close(sfd);
    hfi_strset_free(&snaps);
    hfi_strset_free(&mine);
    hfi_strset_free(&cand);
    return rc;
}

/* 1 if the open folder `fd` holds nothing. */
static int folder_is_empty(int fd)
{
    DIR *d = hfi_dir_reopen(fd);
    struct dirent *e;
    int empty = d != NULL;
    while (empty && (e = readdir(d)) != NULL)
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    if (d)
        closedir(d);
    return empty;
}

/* Remove snapshot `commit` (`has_snapshot`: it exists), the refs naming it and the blobs
 * only it used, in that order, after reading every snapshot (see the design notes). */
static int remove_revision(const char *cache_dir, const hfi_cache_loc_t *loc, int cfd, int rfd,
                           const char *commit, int64_t *freed, const char *repo_id,
                           hf_error_t *err)
{
    hfi_strset_t mine = { 0 }, used = { 0 }, cand = { 0 };
    used_walk_t uw = { -1, &mine, 0 };
    refrm_walk_t rw = { commit, 0 };
    char failed[512];
    struct stat st;
    int bfd = -1, sfd = -1, rc, has_snapshot;

    if ((rc = open_repo_part(rfd, "blobs", &bfd, repo_id, err)) < 0 ||
        (rc = open_repo_part(rfd, "snapshots", &sfd, repo_id, err)) < 0)
        goto out;
    has_snapshot = sfd >= 0 && fstatat(sfd, commit, &st, AT_SYMLINK_NOFOLLOW) == 0;
    uw.blobs_fd = bfd;
    if (has_snapshot && S_ISDIR(st.st_mode) && (rc = hfi_walk_at(sfd, commit, on_used, &uw)) < 0) {
        rc = hf_error_set(err, rc, 0, "%s: cannot read snapshots/%s; nothing removed", repo_id, commit);
        goto out;
    }
    if (sfd >= 0 && (rc = blobs_of_other_snapshots(sfd, commit, bfd, &used, repo_id, err)) < 0)
        goto out;
    if ((rc = hfi_walk_at(rfd, "refs", on_ref_rm, &rw)) < 0 || rw.failed) {
        rc = hf_error_set(err, rc == HF_ENOMEM ? rc : HF_EIO, 0, "%s: cannot remove the refs of %s",
                          repo_id, commit);
        goto out;
    }
    /* what a download adds to the snapshot meanwhile stays, with its folders */
    if (has_snapshot && hfi_tree_remove_seen_at(sfd, commit, failed, sizeof failed) < 0) {
        rc = hf_error_set(err, HF_EIO, 0, "%s: cannot remove snapshots/%s (its refs are gone; "
                          "no blob was removed)", repo_id, failed);
        goto out;
    }
    *freed += (int64_t)uw.copies;
    rc = 0;
    for (size_t i = 0; i < mine.n && rc >= 0; i++)      /* candidates: unused at first sight */
        if (!hfi_strset_has(&used, mine.v[i]))
            rc = hfi_strset_add(&cand, mine.v[i]);
    if (rc < 0)
        rc = hf_error_set(err, rc, 0, "out of memory (no blob was removed)");
    else
        rc = remove_unused_blobs(cache_dir, loc, rfd, bfd, &cand, 0, freed, repo_id, commit, err);
    if (sfd >= 0 && folder_is_empty(sfd)) {
        int rrc = remove_whole_repo(cache_dir, loc, cfd, rfd, freed, repo_id, err); /* none left */
        rc = rc < 0 ? rc : rrc;
    }
out:
    if (bfd >= 0)
        close(bfd);
    if (sfd >= 0)
        close(sfd);
    hfi_strset_free(&mine);
    hfi_strset_free(&used);
    hfi_strset_free(&cand);
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

    if ((rc = hfi_cache_repo_dir(cache_dir, type, repo_id, &dir, err)) < 0)
        return rc;
    hfi_free(dir);
    if (revision && hfi_check_revision(revision, err) < 0)
        return HF_EINVAL;
    if (hfi_cache_loc_init(&loc, cache_dir, type, repo_id) < 0)
        return hf_error_set(err, HF_ENOMEM, 0, "out of memory");
    if ((cfd = open(cache_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        (rfd = hfi_dir_open_at(cfd, loc.folder)) < 0) {
        rc = hf_error_set(err, HF_EIO, 0, "cannot open %s: %s", loc.repo_dir, strerror(errno));
        goto out;
    }
    if (!revision) {
        rc = remove_whole_repo(cache_dir, &loc, cfd, rfd, &freed, repo_id, err);
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
    rc = remove_revision(cache_dir, &loc, cfd, rfd, commit, &freed, repo_id, err);
out:
    if (rfd >= 0)
        close(rfd);
    if (cfd >= 0)
        close(cfd);
    hfi_cache_loc_free(&loc);
    return rc < 0 ? rc : freed;
}
