/*
 * check_scan.c - scanning, verifying and pruning a cache without a network.
 */
#include "common/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/mockhub.h"
#include "hub/cachewalk.h"

#define C1 "1111111111111111111111111111111111111111"
#define C2 "2222222222222222222222222222222222222222"
/* git blob sha1 of "hello\n" and of "world\n" */
#define E_HELLO "ce013625030ba8dba906f756967f9e9ca394464a"
#define E_WORLD "cc628ccd10742baea8241c5924df992b5c019f71"
/* git blob sha1 of "other\n" */
#define E_OTHER "e45c9c2666d44e0327c1f9c239a74c508336053e"
#define C3 "3333333333333333333333333333333333333333"

static char root[256];

/* Run a shell script in which "$R" is the cache root. */
static void sh(const char *script, const char *r)
{
    setenv("R", r, 1);
    ck_assert_msg(system(script) == 0, "%s", script);
}

/* models--org--m with two revisions sharing one blob; datasets--org--d with one. */
static void build_cache(void)
{
    snprintf(root, sizeof root, "/tmp/hfasync-scan-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    sh("cd \"$R\" && mkdir -p models--org--m/blobs models--org--m/refs/refs/pr "
       "models--org--m/snapshots/" C1 "/sub models--org--m/snapshots/" C2 " "
       "datasets--org--d/blobs datasets--org--d/snapshots/" C1 " datasets--org--d/refs "
       ".locks/models--org--m && touch CACHEDIR.TAG", root);
    sh("cd \"$R\"/models--org--m && printf 'hello\\n' > blobs/" E_HELLO " && printf 'world\\n' > blobs/" E_WORLD
       " && printf " C1 " > refs/main && printf " C2 " > refs/refs/pr/1"
       " && ln -s ../../blobs/" E_HELLO " snapshots/" C1 "/a.txt"
       " && ln -s ../../../blobs/" E_WORLD " snapshots/" C1 "/sub/b.txt"
       " && ln -s ../../blobs/" E_HELLO " snapshots/" C2 "/a.txt", root);
    sh("cd \"$R\"/datasets--org--d && printf 'hello\\n' > blobs/" E_HELLO " && printf " C1 " > refs/main"
       " && ln -s ../../blobs/" E_HELLO " snapshots/" C1 "/data.txt", root);
}

static void rm_cache(void)
{
    sh("rm -rf \"$R\"", root);
}

START_TEST(scan_reports_repos_revisions_refs_and_sizes)
{
    hf_cache_report_t *r;
    hf_cached_repo_t *m, *d;

    build_cache();
    ck_assert_int_eq(hf_cache_scan(root, &r, NULL), 0);
    ck_assert_uint_eq(r->nrepos, 2);
    m = &r->repos[0];
    d = &r->repos[1];
    ck_assert_int_eq(m->type, HF_REPO_MODEL);
    ck_assert_str_eq(m->repo_id, "org/m");
    ck_assert_int_eq(d->type, HF_REPO_DATASET);
    ck_assert_str_eq(d->repo_id, "org/d");
    ck_assert_uint_eq(m->size_on_disk, 12);
    ck_assert_uint_eq(m->nblobs, 2);
    ck_assert_uint_eq(m->nrevisions, 2);
    for (size_t i = 0; i < 2; i++) {
        hf_cached_revision_t *rv = &m->revisions[i];
        if (strcmp(rv->commit, C1) == 0) {
            ck_assert_uint_eq(rv->nfiles, 2);
            ck_assert_uint_eq(rv->size, 12);
            ck_assert_uint_eq(rv->nrefs, 1);
            ck_assert_str_eq(rv->refs[0], "main");
        } else {
            ck_assert_str_eq(rv->commit, C2);
            ck_assert_uint_eq(rv->nfiles, 1);
            ck_assert_uint_eq(rv->nrefs, 1);
            ck_assert_str_eq(rv->refs[0], "refs/pr/1");
        }
    }
    ck_assert_uint_eq(r->size_on_disk, 18);
    ck_assert_uint_eq(r->nwarnings, 0);
    hf_cache_report_free(r);
    ck_assert_int_eq(hf_cache_scan("/nonexistent/cache", &r, NULL), HF_ENOENT);
    rm_cache();
}
END_TEST

static void count_bad(const char *blob, void *arg)
{
    (void)blob;
    (*(int *)arg)++;
}

START_TEST(verify_catches_a_blob_modified_on_disk)
{
    size_t bad = 99;
    int calls = 0;

    build_cache();
    ck_assert_int_eq(hf_cache_verify(root, HF_REPO_MODEL, "org/m", &bad, count_bad, &calls, NULL), 2);
    ck_assert_uint_eq(bad, 0);
    sh("chmod u+w \"$R\"/models--org--m/blobs/" E_WORLD " && printf 'w0rld\\n' > \"$R\"/models--org--m/blobs/" E_WORLD, root);
    ck_assert_int_eq(hf_cache_verify(root, HF_REPO_MODEL, "org/m", &bad, count_bad, &calls, NULL), 2);
    ck_assert_uint_eq(bad, 1);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(hf_cache_verify(root, HF_REPO_MODEL, "org/absent", &bad, NULL, NULL, NULL), HF_ENOENT);
    rm_cache();
}
END_TEST

START_TEST(removing_a_revision_keeps_blobs_another_revision_uses)
{
    char p[512];
    hf_error_t e;

    build_cache();
    /* C1 goes: b.txt's blob (world) is freed, hello stays for C2 */
    ck_assert_int_eq(hf_cache_remove(root, HF_REPO_MODEL, "org/m", "main", &e), 6);
    snprintf(p, sizeof p, "%s/models--org--m/blobs/" E_HELLO, root);
    ck_assert_int_eq(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/models--org--m/blobs/" E_WORLD, root);
    ck_assert_int_ne(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/models--org--m/refs/main", root);
    ck_assert_int_ne(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/models--org--m/snapshots/" C2 "/a.txt", root);
    ck_assert_int_eq(access(p, R_OK), 0);
    ck_assert_int_eq(hf_cache_remove(root, HF_REPO_MODEL, "org/m", "main", &e), HF_ENOENT);
    /* the last revision: the whole repo goes (its lock files stay: see below) */
    ck_assert_int_eq(hf_cache_remove(root, HF_REPO_MODEL, "org/m", C2, &e), 6);
    snprintf(p, sizeof p, "%s/models--org--m", root);
    ck_assert_int_ne(access(p, F_OK), 0);
    /* another repo is untouched */
    snprintf(p, sizeof p, "%s/datasets--org--d/snapshots/" C1 "/data.txt", root);
    ck_assert_int_eq(access(p, R_OK), 0);
    ck_assert_int_eq(hf_cache_remove(root, HF_REPO_DATASET, "org/d", NULL, &e), 6);
    ck_assert_int_eq(hf_cache_remove(root, HF_REPO_DATASET, "../x", NULL, &e), HF_EINVAL);
    rm_cache();
}
END_TEST

START_TEST(a_link_planted_outside_the_cache_is_reported_not_followed)
{
    hf_cache_report_t *r;
    build_cache();
    sh("ln -s /etc/passwd \"$R\"/models--org--m/snapshots/" C1 "/evil", root);
    ck_assert_int_eq(hf_cache_scan(root, &r, NULL), 0);
    ck_assert_uint_eq(r->nwarnings, 1);
    ck_assert_ptr_nonnull(strstr(r->warnings[0], "evil"));
    ck_assert_uint_eq(r->repos[0].size_on_disk, 12);    /* /etc/passwd not counted */
    hf_cache_report_free(r);
    ck_assert_int_eq(hf_cache_remove(root, HF_REPO_MODEL, "org/m", NULL, NULL), 12);
    ck_assert_int_eq(access("/etc/passwd", R_OK), 0);   /* still there, of course */
    rm_cache();
}
END_TEST

/* 1 if `rel` (below the cache root) exists, without following a last link. */
static int exists(const char *rel)
{
    char p[512];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", root, rel);
    return lstat(p, &st) == 0;
}

START_TEST(removal_never_deletes_through_a_linked_blobs_or_snapshots_folder)
{
    hf_error_t e;

    build_cache();
    /* blobs/ and snapshots/ replaced by links to folders outside the cache, with files
     * a careless removal would take for unused blobs and for the revision's snapshot */
    sh("cd \"$R\" && mkdir -p out-b out-s/" C1 " && printf x > out-b/victim && printf x > out-b/" E_WORLD
       " && printf x > out-s/" C1 "/victim && cd models--org--m && mv blobs blobs.real"
       " && ln -s \"$R\"/out-b blobs", root);
    ck_assert_int_eq(hf_cache_remove(root, HF_REPO_MODEL, "org/m", "main", &e), HF_EIO);
    ck_assert(exists("out-b/victim"));
    ck_assert(exists("out-b/" E_WORLD));
    ck_assert(exists("models--org--m/refs/main"));        /* nothing changed */
    ck_assert(exists("models--org--m/snapshots/" C1 "/a.txt"));
    sh("cd \"$R\"/models--org--m && rm blobs && mv blobs.real blobs && mv snapshots snapshots.real"
       " && ln -s \"$R\"/out-s snapshots", root);
    ck_assert_int_eq(hf_cache_remove(root, HF_REPO_MODEL, "org/m", C1, &e), HF_EIO);
    ck_assert(exists("out-s/" C1 "/victim"));
    ck_assert(exists("models--org--m/blobs/" E_WORLD));
    rm_cache();
}
END_TEST

START_TEST(removal_deletes_only_blobs_the_removed_revision_used)
{
    /* a blob no snapshot links yet: a download in progress has committed it and is
     * about to link it; removing another revision must not take it away */
    build_cache();
    sh("cd \"$R\"/models--org--m && printf 'other\\n' > blobs/" E_OTHER
       " && printf 'part' > blobs/" E_OTHER ".incomplete", root);
    ck_assert_int_eq(hf_cache_remove(root, HF_REPO_MODEL, "org/m", "main", NULL), 6);
    ck_assert(exists("models--org--m/blobs/" E_OTHER));
    ck_assert(exists("models--org--m/blobs/" E_OTHER ".incomplete"));
    ck_assert(!exists("models--org--m/blobs/" E_WORLD));
    rm_cache();
}
END_TEST

/* The removal of C1 (refs/main) while snapshots/C2, which shares C1's "hello" blob, cannot
 * be read; returns 0 if it failed cleanly and changed nothing, else a step number. */
static int remove_beside_an_unreadable_revision(void)
{
    char p[512];
    hf_error_t e;

    snprintf(p, sizeof p, "%s/models--org--m/snapshots/" C2, root);
    if (chmod(p, 0) < 0)
        return 1;
    if (hf_cache_remove(root, HF_REPO_MODEL, "org/m", "main", &e) != HF_EIO)
        return 2;
    if (!strstr(e.message, C2))
        return 3;
    if (!exists("models--org--m/blobs/" E_HELLO))
        return 4;
    if (!exists("models--org--m/refs/main") ||
        !exists("models--org--m/snapshots/" C1 "/a.txt"))
        return 5;
    return 0;
}

/* Run `steps` (returning 0, or the number of the step that failed) in a child process that,
 * if we are root (who may read and delete anything), runs as nobody over a cache chowned to
 * nobody, so that a chmod means something; fail the test at the step it names. */
static void run_as_nobody(int (*steps)(void))
{
    pid_t pid;
    int status;

    if (geteuid() == 0)
        sh("chown -R 65534:65534 \"$R\"", root);
    if ((pid = fork()) == 0) {
        if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
            _exit(99);
        _exit(steps());
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "failed at step %d",
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    sh("chmod -R u+rwx \"$R\"", root);
}

START_TEST(removal_keeps_blobs_a_revision_it_cannot_read_may_use)
{
    build_cache();
    run_as_nobody(remove_beside_an_unreadable_revision);
    rm_cache();
}
END_TEST

/* What a download into snapshot C1 does while the removal of C1 runs, just before the
 * removal removes the folder `name`: links a new file into C1/sub, and makes C1/new
 * holding another, both to E_WORLD (a blob only C1 used: the removal's to delete). */
static int hook_calls;

static void download_into_c1_meanwhile(int dfd, const char *name)
{
    int fd;

    if (strcmp(name, "sub") == 0 && (fd = hfi_dir_open_at(dfd, name)) >= 0) {
        if (symlinkat("../../../blobs/" E_WORLD, fd, "c.txt") == 0)
            hook_calls++;
        close(fd);
    } else if (strcmp(name, C1) == 0 && mkdirat(dfd, C1 "/new", 0777) == 0 &&
               symlinkat("../../../blobs/" E_WORLD, dfd, C1 "/new/d.txt") == 0) {
        hook_calls++;
    }
}

START_TEST(removing_a_revision_keeps_what_a_download_into_it_adds_meanwhile)
{
    char link[512];
    hf_error_t e;
    int64_t rc;

    build_cache();
    hook_calls = 0;
    hfi_tree_remove_set_hook(download_into_c1_meanwhile);
    rc = hf_cache_remove(root, HF_REPO_MODEL, "org/m", "main", &e);
    hfi_tree_remove_set_hook(NULL);
    ck_assert_int_eq(hook_calls, 2);
    /* success, nothing freed: E_HELLO is C2's, E_WORLD is linked again */
    ck_assert_msg(rc == 0, "rc %lld: %s", (long long)rc, e.message);
    snprintf(link, sizeof link, "%s/models--org--m/snapshots/" C1 "/sub/c.txt", root);
    ck_assert(tu_same_bytes(link, "world\n", 6));
    snprintf(link, sizeof link, "%s/models--org--m/snapshots/" C1 "/new/d.txt", root);
    ck_assert(tu_same_bytes(link, "world\n", 6));
    /* what was there is gone, refs included */
    ck_assert(!exists("models--org--m/snapshots/" C1 "/a.txt"));
    ck_assert(!exists("models--org--m/snapshots/" C1 "/sub/b.txt"));
    ck_assert(!exists("models--org--m/refs/main"));
    ck_assert(exists("models--org--m/snapshots/" C2 "/a.txt"));
    rm_cache();
}
END_TEST

/* The removal of C1 (refs/main) while C1/sub is read-only, so its b.txt cannot be
 * unlinked: returns 0 if it failed naming it and removed no blob, else a step number. */
static int remove_a_revision_holding_an_unremovable_link(void)
{
    char p[512];
    hf_error_t e;

    snprintf(p, sizeof p, "%s/models--org--m/snapshots/" C1 "/sub", root);
    if (chmod(p, 0500) < 0)
        return 1;
    if (hf_cache_remove(root, HF_REPO_MODEL, "org/m", "main", &e) != HF_EIO)
        return 2;
    if (!strstr(e.message, "snapshots/" C1 "/sub/b.txt"))
        return 3;
    if (!exists("models--org--m/snapshots/" C1 "/sub/b.txt") ||
        !exists("models--org--m/blobs/" E_WORLD) || !exists("models--org--m/blobs/" E_HELLO))
        return 4;
    /* the steps before it are done: refs first, and the entries it could remove */
    if (exists("models--org--m/refs/main") || exists("models--org--m/snapshots/" C1 "/a.txt"))
        return 5;
    return 0;
}

START_TEST(removing_a_revision_with_an_entry_it_cannot_remove_fails_naming_it)
{
    build_cache();
    run_as_nobody(remove_a_revision_holding_an_unremovable_link);
    rm_cache();
}
END_TEST

START_TEST(removal_leaves_lock_files_alone)
{
    /* a lock file may be held (flock) by a download right now: deleting it would let the
     * next downloader lock a new file and write the same blob beside the first */
    build_cache();
    sh("touch \"$R\"/.locks/models--org--m/" E_HELLO ".lock", root);
    ck_assert_int_eq(hf_cache_remove(root, HF_REPO_MODEL, "org/m", NULL, NULL), 12);
    ck_assert(!exists("models--org--m"));
    ck_assert(exists(".locks/models--org--m/" E_HELLO ".lock"));
    rm_cache();
}
END_TEST

START_TEST(scan_never_walks_a_linked_folder_out_of_the_cache)
{
    hf_cache_report_t *r;
    size_t files = 0;

    build_cache();
    sh("mkdir -p \"$R\"/out && printf 'outside' > \"$R\"/out/x && printf 'outside' > \"$R\"/out/" E_OTHER
       " && ln -s \"$R\"/out \"$R\"/models--org--m/snapshots/" C3
       " && mv \"$R\"/datasets--org--d/blobs \"$R\"/real-blobs && ln -s \"$R\"/out \"$R\"/datasets--org--d/blobs", root);
    ck_assert_int_eq(hf_cache_scan(root, &r, NULL), 0);
    ck_assert_uint_eq(r->nrepos, 2);
    for (size_t i = 0; i < r->repos[0].nrevisions; i++)
        files += r->repos[0].revisions[i].nfiles;
    ck_assert_uint_eq(files, 3);                        /* out/x is not a file of C3 */
    ck_assert_uint_eq(r->repos[0].size_on_disk, 12);
    ck_assert_uint_eq(r->repos[1].size_on_disk, 0);     /* out/<E_OTHER> is not its blob */
    ck_assert_uint_eq(r->repos[1].nblobs, 0);
    ck_assert_uint_ge(r->nwarnings, 2);
    hf_cache_report_free(r);
    rm_cache();
}
END_TEST

START_TEST(scan_reads_refs_as_lookups_do_and_reports_dangling_ones)
{
    hf_cache_report_t *r;
    hf_cached_repo_t *m;
    int saw_junk = 0, saw_missing = 0;

    build_cache();
    /* main: the commit plus junk (lookups refuse it); v1: a newline (lookups accept it);
     * v2: a commit with no snapshot (huggingface_hub warns) */
    sh("cd \"$R\"/models--org--m/refs && printf '" C1 "junk' > main && printf '" C2 "\\n' > v1"
       " && printf '" C3 "' > v2", root);
    ck_assert_int_eq(hf_cache_scan(root, &r, NULL), 0);
    m = &r->repos[0];
    for (size_t i = 0; i < m->nrevisions; i++) {
        hf_cached_revision_t *rv = &m->revisions[i];
        if (strcmp(rv->commit, C1) == 0)
            ck_assert_uint_eq(rv->nrefs, 0);
        else
            ck_assert_uint_eq(rv->nrefs, 2);            /* refs/pr/1 and v1 */
    }
    for (size_t i = 0; i < r->nwarnings; i++) {
        saw_junk |= strstr(r->warnings[i], "main") != NULL;
        saw_missing |= strstr(r->warnings[i], C3) != NULL;
    }
    ck_assert(saw_junk && saw_missing);
    hf_cache_report_free(r);
    /* removing C1 leaves the junk ref alone (it does not name C1), removes v1 with C2 */
    ck_assert_int_eq(hf_cache_remove(root, HF_REPO_MODEL, "org/m", C2, NULL), 0);
    ck_assert(!exists("models--org--m/refs/v1"));
    ck_assert(exists("models--org--m/refs/main"));
    rm_cache();
}
END_TEST

START_TEST(copies_in_a_cache_without_symlinks_count_as_blobs)
{
    hf_cache_report_t *r;

    build_cache();
    /* symlinks off: the snapshot holds the content itself, blobs/ is empty */
    sh("cd \"$R\"/datasets--org--d && rm snapshots/" C1 "/data.txt blobs/" E_HELLO
       " && printf 'hello\\n' > snapshots/" C1 "/data.txt", root);
    ck_assert_int_eq(hf_cache_scan(root, &r, NULL), 0);
    ck_assert_uint_eq(r->repos[1].revisions[0].size, 6);
    ck_assert_uint_eq(r->repos[1].size_on_disk, 6);
    ck_assert_uint_eq(r->repos[1].nblobs, 1);
    ck_assert_uint_eq(r->size_on_disk, 18);
    hf_cache_report_free(r);
    ck_assert_int_eq(hf_cache_remove(root, HF_REPO_DATASET, "org/d", "main", NULL), 6);
    ck_assert(!exists("datasets--org--d"));
    rm_cache();
}
END_TEST

/* huggingface_hub's scan_cache_dir takes only a folder for a repo ("Repo path is not a
 * directory" is a warning) and huggingface.js skips anything else: a file named like a
 * repo, or a link to nothing, is a warning here, never a repo of the report. */
START_TEST(a_file_or_a_dangling_link_at_the_top_of_the_cache_is_no_repo)
{
    hf_cache_report_t *r;
    int saw_file = 0, saw_link = 0;

    build_cache();
    sh("cd \"$R\" && printf 'x' > models--org--file && ln -s \"$R\"/nowhere datasets--org--gone"
       " && mkdir -p elsewhere/models--org--linked/snapshots && ln -s elsewhere/models--org--linked"
       " models--org--linked", root);
    ck_assert_int_eq(hf_cache_scan(root, &r, NULL), 0);
    ck_assert_uint_eq(r->nrepos, 3);                    /* org/m, org/linked, org/d */
    ck_assert_str_eq(r->repos[0].repo_id, "org/linked");
    ck_assert_str_eq(r->repos[1].repo_id, "org/m");
    ck_assert_str_eq(r->repos[2].repo_id, "org/d");
    ck_assert_uint_eq(r->size_on_disk, 18);
    for (size_t i = 0; i < r->nwarnings; i++) {
        saw_file |= strstr(r->warnings[i], "models--org--file") != NULL;
        saw_link |= strstr(r->warnings[i], "datasets--org--gone") != NULL;
    }
    ck_assert(saw_file && saw_link);
    hf_cache_report_free(r);
    rm_cache();
}
END_TEST

/* ---- removal racing a download that links a blob it is about to delete ---------------- */

typedef struct remover {
    pthread_t t;
    const char *cache;
    const char *repo_id;
    const char *revision;
    int64_t rc;
    hf_error_t err;
} remover_t;

static void *remove_thread(void *arg)
{
    remover_t *r = arg;
    r->rc = hf_cache_remove(r->cache, HF_REPO_MODEL, r->repo_id, r->revision, &r->err);
    return NULL;
}

/* Take E_WORLD's lock as a download in its critical section holds it (from its check that
 * the blob is there until its link exists), then remove `revision` of org/m (C1, whose only
 * blob of its own is E_WORLD, or NULL: the whole repo) on another thread; return once the
 * removal has removed the snapshots it removes (the step before the blobs, whose first in
 * lock order is E_WORLD). The lock's descriptor is returned. */
static int remove_while_holding_the_world_lock(remover_t *r, const char *revision)
{
    char lock[512];
    int fd;

    build_cache();
    snprintf(lock, sizeof lock, "%s/.locks/models--org--m/" E_WORLD ".lock", root);
    fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0664);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(flock(fd, LOCK_EX), 0);
    memset(r, 0, sizeof *r);
    r->cache = root;
    r->repo_id = "org/m";
    r->revision = revision;
    ck_assert_int_eq(pthread_create(&r->t, NULL, remove_thread, r), 0);
    TU_EVENTUALLY(!exists("models--org--m/snapshots/" C1) &&
                  (revision || !exists("models--org--m/snapshots/" C2)));
    /* the removal may delete E_WORLD only under its lock, which we hold */
    ck_assert(exists("models--org--m/blobs/" E_WORLD));
    return fd;
}

START_TEST(removal_keeps_a_blob_a_download_links_while_holding_its_lock)
{
    remover_t r;
    char link[512];
    int fd = remove_while_holding_the_world_lock(&r, C1);

    /* what a download of revision C3 sharing the blob does in its critical section */
    sh("cd \"$R\"/models--org--m && mkdir snapshots/" C3 " && ln -s ../../blobs/" E_WORLD
       " snapshots/" C3 "/b.txt", root);
    ck_assert_int_eq(flock(fd, LOCK_UN), 0);
    close(fd);
    ck_assert_int_eq(pthread_join(r.t, NULL), 0);
    ck_assert_msg(r.rc == 0, "rc %lld: %s", (long long)r.rc, r.err.message);  /* nothing freed */
    snprintf(link, sizeof link, "%s/models--org--m/snapshots/" C3 "/b.txt", root);
    ck_assert(tu_same_bytes(link, "world\n", 6));       /* the new link resolves */
    ck_assert(exists("models--org--m/blobs/" E_HELLO)); /* C2's */
    ck_assert(!exists("models--org--m/refs/main"));     /* named C1 */
    rm_cache();
}
END_TEST

START_TEST(removal_deletes_a_blob_nothing_linked_once_its_lock_is_released)
{
    remover_t r;
    int fd = remove_while_holding_the_world_lock(&r, C1);

    ck_assert_int_eq(flock(fd, LOCK_UN), 0);
    close(fd);
    ck_assert_int_eq(pthread_join(r.t, NULL), 0);
    ck_assert_msg(r.rc == 6, "rc %lld: %s", (long long)r.rc, r.err.message);  /* "world\n" */
    ck_assert(!exists("models--org--m/blobs/" E_WORLD));
    ck_assert(exists("models--org--m/blobs/" E_HELLO));
    ck_assert(exists(".locks/models--org--m/" E_WORLD ".lock"));
    rm_cache();
}
END_TEST

START_TEST(removal_keeps_a_blob_whose_lock_it_cannot_take)
{
    hf_error_t e;

    /* a folder where E_WORLD's lock file belongs: no lock, so no deletion */
    build_cache();
    sh("mkdir \"$R\"/.locks/models--org--m/" E_WORLD ".lock", root);
    ck_assert_int_eq(hf_cache_remove(root, HF_REPO_MODEL, "org/m", C1, &e), HF_EIO);
    ck_assert_msg(strstr(e.message, "lock") != NULL, "%s", e.message);
    ck_assert(exists("models--org--m/blobs/" E_WORLD));
    ck_assert(!exists("models--org--m/snapshots/" C1));
    rm_cache();
}
END_TEST

START_TEST(removing_a_repo_keeps_a_blob_a_download_links_while_holding_its_lock)
{
    remover_t r;
    char link[512];
    int fd = remove_while_holding_the_world_lock(&r, NULL);

    /* a download of C3 into the repo being removed, in its critical section: it found the
     * blob there, and links it (making the folders it needs, as hfi_cache_link does) */
    sh("cd \"$R\" && mkdir -p models--org--m/snapshots/" C3 " && ln -s ../../blobs/" E_WORLD
       " models--org--m/snapshots/" C3 "/b.txt", root);
    ck_assert_int_eq(flock(fd, LOCK_UN), 0);
    close(fd);
    ck_assert_int_eq(pthread_join(r.t, NULL), 0);
    /* success: what was there is gone ("hello\n" freed); the new link and its blob stay */
    ck_assert_msg(r.rc == 6, "rc %lld: %s", (long long)r.rc, r.err.message);
    snprintf(link, sizeof link, "%s/models--org--m/snapshots/" C3 "/b.txt", root);
    ck_assert(tu_same_bytes(link, "world\n", 6));
    ck_assert(!exists("models--org--m/blobs/" E_HELLO));
    ck_assert(!exists("models--org--m/snapshots/" C1));
    ck_assert(!exists("models--org--m/refs"));
    ck_assert(exists(".locks/models--org--m/" E_WORLD ".lock"));
    rm_cache();
}
END_TEST

START_TEST(removing_a_repo_nothing_links_meanwhile_removes_all_but_its_locks)
{
    remover_t r;
    int fd = remove_while_holding_the_world_lock(&r, NULL);

    ck_assert(exists("models--org--m/blobs/" E_WORLD));  /* only deleted under its lock */
    ck_assert_int_eq(flock(fd, LOCK_UN), 0);
    close(fd);
    ck_assert_int_eq(pthread_join(r.t, NULL), 0);
    ck_assert_msg(r.rc == 12, "rc %lld: %s", (long long)r.rc, r.err.message);
    ck_assert(!exists("models--org--m"));
    ck_assert(exists(".locks/models--org--m/" E_WORLD ".lock"));
    ck_assert(exists("datasets--org--d/snapshots/" C1 "/data.txt"));
    rm_cache();
}
END_TEST

START_TEST(removing_a_repo_takes_partial_blobs_strays_and_markers_too)
{
    /* everything of the repo goes, as before: a partial blob (under its blob's lock), a
     * .no_exist marker, nested refs, a stray file no download writes */
    build_cache();
    sh("cd \"$R\"/models--org--m && printf 'par' > blobs/" E_OTHER ".incomplete"
       " && mkdir -p .no_exist/" C1 "/sub && touch .no_exist/" C1 "/sub/x && printf 'junk' > stray", root);
    ck_assert_int_eq(hf_cache_remove(root, HF_REPO_MODEL, "org/m", NULL, NULL), 15);
    ck_assert(!exists("models--org--m"));
    rm_cache();
}
END_TEST

#define RACE_ROUNDS 12
#define RACE_BODY "shared content\n"

typedef struct race {
    pthread_t t;
    const char *cache;
    char main_commit[41], etag[65];
    atomic_int stop;
    int removals, bad;          /* bad: a removal that failed other than ENOENT */
    hf_error_t err;
} race_t;

/* Remove main's commit over and over until told to stop, putting its snapshot link back
 * (as a download of main would) whenever the blob is there, so that every moment of the
 * download of refs/pr/1 may meet a removal of the one other snapshot using its blob. */
static void *remove_main_repeatedly(void *arg)
{
    race_t *rc = arg;
    char blob[600], dir[600], link[700];
    struct stat st;

    snprintf(blob, sizeof blob, "%s/models--org--race/blobs/%s", rc->cache, rc->etag);
    snprintf(dir, sizeof dir, "%s/models--org--race/snapshots/%s", rc->cache, rc->main_commit);
    snprintf(link, sizeof link, "%s/a.txt", dir);
    while (!atomic_load(&rc->stop)) {
        if (lstat(blob, &st) == 0) {
            char target[100];
            snprintf(target, sizeof target, "../../blobs/%s", rc->etag);
            mkdir(dir, 0777);
            if (symlink(target, link) < 0 && errno != EEXIST)
                rc->bad = 1;
        }
        int64_t n = hf_cache_remove(rc->cache, HF_REPO_MODEL, "org/race", rc->main_commit, &rc->err);
        if (n < 0 && n != HF_ENOENT)
            rc->bad = 1;
        rc->removals++;
    }
    return NULL;
}

static hf_future_t *dl_race(hf_hub_t *h, const char *rev)
{
    hf_file_ref_t ref = { "org/race", HF_REPO_MODEL, rev, "a.txt" };
    hf_future_t *f = hf_hub_download(h, &ref, NULL);
    ck_assert_ptr_nonnull(f);
    return f;
}

/* A mock serving org/race: a.txt, the same bytes at main and at refs/pr/1 (another commit),
 * so both snapshots link one blob; a cache folder, a runtime and a hub on them. */
static hf_hub_t *race_setup(tu_mock_t *mock, char *cache, size_t size, hf_runtime_t **rt)
{
    tu_mock_root(mock);
    tu_mock_file(mock, "model", "org/race", "a.txt", RACE_BODY, strlen(RACE_BODY));
    tu_mock_settings(mock, "model", "org/race", "{\"revisions\": {\"refs/pr/1\": {\"title\": \"Fix\"}}}");
    tu_mock_start(mock, NULL);
    tu_tmpdir(cache, size, "rm-race");
    *rt = tu_runtime(2);
    return tu_hub_at(*rt, mock->hub, cache, "", NULL);
}

static void race_teardown(tu_mock_t *mock, char *cache, hf_runtime_t *rt, hf_hub_t *h)
{
    hf_hub_free(h);
    hf_runtime_free(rt);
    tu_mock_stop(mock);
    tu_rm_tree(cache);
}

/* Download main's a.txt; its commit and its blob's etag (the link's last component). */
static void download_main(hf_hub_t *h, char commit[41], char etag[65])
{
    hf_future_t *f = dl_race(h, "main");
    char target[200];
    const char *p;
    ssize_t n;

    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    p = strstr(hf_future_value(f), "/snapshots/");
    ck_assert_ptr_nonnull(p);
    memcpy(commit, p + 11, 40);
    commit[40] = '\0';
    n = readlink(hf_future_value(f), target, sizeof target - 1);
    ck_assert_int_gt(n, 0);
    target[n] = '\0';
    ck_assert_uint_lt(strlen(strrchr(target, '/') + 1), 65);
    strcpy(etag, strrchr(target, '/') + 1);
    hf_future_release(f);
}

START_TEST(a_download_links_a_cached_blob_only_under_its_lock)
{
    tu_mock_t mock;
    hf_runtime_t *rt;
    char cache[256], commit[41], etag[65], blob[600], lock[600];
    hf_hub_t *h = race_setup(&mock, cache, sizeof cache, &rt);
    hf_future_t *f;
    int fd;

    download_main(h, commit, etag);
    snprintf(blob, sizeof blob, "%s/models--org--race/blobs/%s", cache, etag);
    snprintf(lock, sizeof lock, "%s/.locks/models--org--race/%s.lock", cache, etag);
    /* a removal in its critical section: it holds the lock, and deletes the blob */
    fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0664);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(flock(fd, LOCK_EX), 0);
    f = dl_race(h, "refs/pr/1");        /* finds the blob there, or not: either way... */
    TU_EVENTUALLY(tu_mock_count(&mock, "HEAD", "/org/race/resolve/refs%2Fpr%2F1/a.txt") == 1);
    ck_assert_int_eq(unlink(blob), 0);
    ck_assert_int_eq(flock(fd, LOCK_UN), 0);
    close(fd);
    /* ...it links only once it holds the lock, sees the blob gone and fetches it again */
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert(tu_same_bytes(hf_future_value(f), RACE_BODY, strlen(RACE_BODY)));
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/a.txt"), 2);
    hf_future_release(f);
    race_teardown(&mock, cache, rt, h);
}
END_TEST

START_TEST(a_download_sharing_a_blob_with_a_removed_revision_never_ends_dangling)
{
    tu_mock_t mock;
    hf_runtime_t *rt;
    char cache[256], keep[400];
    hf_hub_t *h = race_setup(&mock, cache, sizeof cache, &rt);
    unsigned linked = 0;

    for (int i = 0; i < RACE_ROUNDS; i++) {
        race_t rc;
        hf_future_t *f;

        memset(&rc, 0, sizeof rc);
        rc.cache = cache;
        /* main's snapshot, and a third one that uses nothing, so that the repo folder stays
         * (removing a repo's last snapshot removes the whole repo: not guarded) */
        download_main(h, rc.main_commit, rc.etag);
        snprintf(keep, sizeof keep, "%s/models--org--race/snapshots/%040d", cache, 0);
        ck_assert_int_eq(mkdir(keep, 0777), 0);

        f = dl_race(h, "refs/pr/1");
        ck_assert_int_eq(pthread_create(&rc.t, NULL, remove_main_repeatedly, &rc), 0);
        tu_settle(f);
        atomic_store(&rc.stop, 1);
        ck_assert_int_eq(pthread_join(rc.t, NULL), 0);
        ck_assert_msg(!rc.bad, "a removal failed: %s", rc.err.message);
        if (hf_future_state(f) == HF_FUTURE_FULFILLED) {
            /* its link resolves, to the right bytes, even after the last removal */
            ck_assert(tu_same_bytes(hf_future_value(f), RACE_BODY, strlen(RACE_BODY)));
            linked++;
        } else {
            ck_assert_int_eq(hf_future_state(f), HF_FUTURE_REJECTED);
        }
        hf_future_release(f);
        /* next round: refs/pr/1 not cached, main downloaded again */
        tu_rm_tree(cache);
        ck_assert_int_eq(mkdir(cache, 0700), 0);
    }
    ck_assert_uint_gt(linked, 0);
    race_teardown(&mock, cache, rt, h);
}
END_TEST

/* Remove the whole of org/race over and over until told to stop. */
static void *remove_repo_repeatedly(void *arg)
{
    race_t *rc = arg;

    while (!atomic_load(&rc->stop)) {
        hf_error_t e;
        int64_t n = hf_cache_remove(rc->cache, HF_REPO_MODEL, "org/race", NULL, &e);
        if (n < 0 && n != HF_ENOENT && !rc->bad) {
            rc->bad = 1;
            rc->err = e;        /* the first failure's */
        }
        rc->removals++;
    }
    return NULL;
}

START_TEST(a_download_into_a_repo_being_removed_never_ends_dangling)
{
    tu_mock_t mock;
    hf_runtime_t *rt;
    char cache[256];
    hf_hub_t *h = race_setup(&mock, cache, sizeof cache, &rt);
    unsigned linked = 0;

    for (int i = 0; i < RACE_ROUNDS; i++) {
        race_t rc;
        hf_future_t *f;
        struct stat st;

        memset(&rc, 0, sizeof rc);
        rc.cache = cache;
        download_main(h, rc.main_commit, rc.etag);      /* the repo, with the shared blob */
        f = dl_race(h, "refs/pr/1");
        ck_assert_int_eq(pthread_create(&rc.t, NULL, remove_repo_repeatedly, &rc), 0);
        tu_settle(f);
        atomic_store(&rc.stop, 1);
        ck_assert_int_eq(pthread_join(rc.t, NULL), 0);
        ck_assert_msg(!rc.bad, "a removal failed: %s", rc.err.message);
        if (hf_future_state(f) == HF_FUTURE_FULFILLED) {
            /* its link resolves to the right bytes, unless a removal that came after it
             * took it away (never the blob alone) */
            if (lstat(hf_future_value(f), &st) == 0)
                ck_assert(tu_same_bytes(hf_future_value(f), RACE_BODY, strlen(RACE_BODY)));
            linked++;
        } else {
            ck_assert_int_eq(hf_future_state(f), HF_FUTURE_REJECTED);
        }
        hf_future_release(f);
        sh("test -z \"$(find \"$R\" -xtype l)\"", cache);      /* no dangling link at all */
        tu_rm_tree(cache);
        ck_assert_int_eq(mkdir(cache, 0700), 0);
    }
    ck_assert_uint_gt(linked, 0);
    race_teardown(&mock, cache, rt, h);
}
END_TEST

static Suite *scan_suite(void)
{
    Suite *s = suite_create("scan");
    TCase *tc = tcase_create("hub");
    tcase_add_test(tc, scan_reports_repos_revisions_refs_and_sizes);
    tcase_add_test(tc, verify_catches_a_blob_modified_on_disk);
    tcase_add_test(tc, removing_a_revision_keeps_blobs_another_revision_uses);
    tcase_add_test(tc, a_link_planted_outside_the_cache_is_reported_not_followed);
    tcase_add_test(tc, removal_never_deletes_through_a_linked_blobs_or_snapshots_folder);
    tcase_add_test(tc, removal_deletes_only_blobs_the_removed_revision_used);
    tcase_add_test(tc, removal_keeps_blobs_a_revision_it_cannot_read_may_use);
    tcase_add_test(tc, removing_a_revision_keeps_what_a_download_into_it_adds_meanwhile);
    tcase_add_test(tc, removing_a_revision_with_an_entry_it_cannot_remove_fails_naming_it);
    tcase_add_test(tc, removal_leaves_lock_files_alone);
    tcase_add_test(tc, scan_never_walks_a_linked_folder_out_of_the_cache);
    tcase_add_test(tc, scan_reads_refs_as_lookups_do_and_reports_dangling_ones);
    tcase_add_test(tc, copies_in_a_cache_without_symlinks_count_as_blobs);
    tcase_add_test(tc, a_file_or_a_dangling_link_at_the_top_of_the_cache_is_no_repo);
    tcase_add_test(tc, removal_keeps_a_blob_a_download_links_while_holding_its_lock);
    tcase_add_test(tc, removal_deletes_a_blob_nothing_linked_once_its_lock_is_released);
    tcase_add_test(tc, removal_keeps_a_blob_whose_lock_it_cannot_take);
    tcase_add_test(tc, a_download_links_a_cached_blob_only_under_its_lock);
    tcase_add_test(tc, a_download_sharing_a_blob_with_a_removed_revision_never_ends_dangling);
    tcase_add_test(tc, removing_a_repo_keeps_a_blob_a_download_links_while_holding_its_lock);
    tcase_add_test(tc, removing_a_repo_nothing_links_meanwhile_removes_all_but_its_locks);
    tcase_add_test(tc, removing_a_repo_takes_partial_blobs_strays_and_markers_too);
    tcase_add_test(tc, a_download_into_a_repo_being_removed_never_ends_dangling);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(scan_suite)
