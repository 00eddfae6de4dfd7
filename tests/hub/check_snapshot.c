/*
 * check_snapshot.c - hf_hub_snapshot against hf-mock-hub on loopback, compared with what
 * huggingface_hub's snapshot_download does: which files land (globs), which refs are
 * written, the folder returned, names that need URL-encoding, offline and network-down
 * answers from the cache, sharing between concurrent calls, and errors; a repo info
 * answer whose siblings cannot be trusted (missing, empty, or cut short for a very large
 * repo) makes the snapshot list the commit's tree, every page of it.
 */
#include "common/testutil.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mockhub.h"
#include "core/alloc.h"
#include "hub/hub_impl.h"

static tu_mock_t mock;
static char cache[256];
static hf_runtime_t *rt;

/* The files of org/snap at main, with names that need URL-encoding. */
static const char *const snap_files[] = {
    "config.json", "tokenizer.json", "README.md", "sub/nested.txt", "sub/deeper/leaf.json",
    "weights/a.bin", "weights/b.bin", "with space.txt", "hash#1.txt", "q?.txt", "100%.txt",
    "caf\xc3\xa9.txt", "odd dir #1/x.txt",
};
#define NSNAP (sizeof snap_files / sizeof *snap_files)


static void fill_root(void)
{
    tu_mock_root(&mock);
    for (size_t i = 0; i < NSNAP; i++)
        tu_mock_file(&mock, "model", "org/snap", snap_files[i], snap_files[i],
                     strlen(snap_files[i]));
    tu_mock_file(&mock, "model", "org/snap", ".mockhub/v1/config.json", "{\"v\": 1}\n", 9);
    tu_mock_file(&mock, "model", "org/snap", ".mockhub/v1/old.txt", "old\n", 4);
    tu_mock_settings(&mock, "model", "org/snap",
                     "{\"lfs\": [\"*.bin\"], \"revisions\": {"
                     "\"v1.0\": {\"dir\": \".mockhub/v1\", \"type\": \"tag\"}, "
                     "\"refs/pr/1\": {\"title\": \"Fix\"}}}");
    tu_mock_file(&mock, "dataset", "org/data", "train/part-0.csv", "a,b\n", 4);
}

/* Serve the same repos from a mock started with `args`. */
static void restart_mock(const char *args)
{
    tu_mock_stop(&mock);
    fill_root();
    tu_mock_start(&mock, args);
}

static void setup(void)
{
    fill_root();
    tu_mock_start(&mock, NULL);
    tu_tmpdir(cache, sizeof cache, "snap-cache");
    rt = tu_runtime(2);
}

static void teardown(void)
{
    hf_runtime_free(rt);
    tu_mock_stop(&mock);
    tu_rm_tree(cache);
}

static hf_hub_t *hub(void)
{
    return tu_hub_at(rt, mock.hub, cache, "", NULL);
}

static hf_hub_t *offline_hub(void)
{
    hf_hub_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.endpoint = mock.hub;
    cfg.cache_dir = cache;
    cfg.token = "";
    cfg.offline = HF_YES;
    {
        hf_hub_t *h = hf_hub_new(rt, &cfg, NULL);
        ck_assert_ptr_nonnull(h);
        return h;
    }
}

static hf_future_t *snap(hf_hub_t *h, const char *rev, const char *const *inc, size_t ninc,
                         const char *const *exc, size_t nexc)
{
    hf_file_ref_t ref = { "org/snap", HF_REPO_MODEL, rev, NULL };
    hf_snapshot_opts_t o;
    hf_future_t *f;
    memset(&o, 0, sizeof o);
    o.include = inc;
    o.ninclude = ninc;
    o.exclude = exc;
    o.nexclude = nexc;
    f = hf_hub_snapshot(h, &ref, &o);
    ck_assert_ptr_nonnull(f);
    return f;
}

/* The snapshot must be fulfilled; its folder is copied into `dir`. */
static void snap_ok(hf_future_t *f, char *dir, size_t size)
{
    ck_assert_msg(tu_settle(f) == HF_FUTURE_FULFILLED, "snapshot: %s",
                  hf_future_state(f) == HF_FUTURE_REJECTED ? hf_future_error(f)->message
                                                           : "cancelled");
    snprintf(dir, size, "%s", (const char *)hf_future_value(f));
    hf_future_release(f);
}

/* The 40 characters of <cache>/models--org--snap/refs/<rev>, or "" if there is no such file. */
static void read_ref(const char *rev, char out[64])
{
    char path[1400];
    FILE *fp;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/models--org--snap/refs/%s", cache, rev);
    out[0] = '\0';
    if ((fp = fopen(path, "r")) != NULL) {
        n = fread(out, 1, 63, fp);
        fclose(fp);
    }
    out[n] = '\0';
}

/* Number of files (links) under a snapshot folder. */
static int files_in(const char *dir)
{
    return tu_count_files_named(dir, "");
}

static int exists_in(const char *dir, const char *rel)
{
    char p[1400];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    return access(p, F_OK) == 0;
}

/* The snapshot at main must hold every file of org/snap, each a relative link into blobs/
 * with the right bytes. */
static void assert_whole_snapshot(const char *dir)
{
    ck_assert_int_eq(files_in(dir), (int)NSNAP);
    for (size_t i = 0; i < NSNAP; i++) {
        char p[1400], target[1400];
        ssize_t n;
        snprintf(p, sizeof p, "%s/%s", dir, snap_files[i]);
        ck_assert_msg(tu_same_bytes(p, snap_files[i], strlen(snap_files[i])), "%s", p);
        n = readlink(p, target, sizeof target - 1);
        ck_assert_int_gt(n, 0);
        target[n] = '\0';
        ck_assert_msg(strncmp(target, "../", 3) == 0 && strstr(target, "/blobs/") != NULL,
                      "%s -> %s", p, target);
    }
}

START_TEST(a_whole_snapshot_has_every_file_linked_and_the_ref)
{
    hf_hub_t *h = hub();
    char dir[600], ref[64], want[1400];

    snap_ok(snap(h, NULL, NULL, 0, NULL, 0), dir, sizeof dir);
    read_ref("main", ref);
    ck_assert_uint_eq(strlen(ref), 40);
    snprintf(want, sizeof want, "%s/models--org--snap/snapshots/%s", cache, ref);
    ck_assert_str_eq(dir, want);
    assert_whole_snapshot(dir);
    /* each file once: one metadata request and one body */
    ck_assert_int_eq(tu_mock_count(&mock, "HEAD", ""), (long)NSNAP);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/with%20space.txt"), 1);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/hash%231.txt"), 1);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/q%3F.txt"), 1);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/100%25.txt"), 1);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/caf%C3%A9.txt"), 1);
    ck_assert_int_eq(tu_count_files_named(cache, ".incomplete"), 0);
    /* again: every file is cached for the commit, so only the revision is asked */
    tu_mock_reset(&mock);
    snap_ok(snap(h, NULL, NULL, 0, NULL, 0), dir, sizeof dir);
    ck_assert_int_eq(tu_mock_count(&mock, "HEAD", ""), 0);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", ".txt"), 0);
    hf_hub_free(h);
}
END_TEST

typedef struct seen {
    pthread_mutex_t mu;
    unsigned most_done, total, events;
} seen_t;

static void note_progress(const hf_progress_t *p, void *arg)
{
    seen_t *v = arg;
    pthread_mutex_lock(&v->mu);
    v->events++;
    if (p->files_done > v->most_done)
        v->most_done = p->files_done;
    v->total = p->files_total;
    pthread_mutex_unlock(&v->mu);
}

/* The progress of a snapshot reaches n of n files: the last file's last event came before
 * its future settled and said n-1 (hf-fetch's line stayed at "(3/4 files)"). */
START_TEST(a_snapshots_progress_ends_with_every_file_done)
{
    hf_hub_t *h = hub();
    seen_t v = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0 };
    hf_snapshot_opts_t o;
    hf_file_ref_t ref = { "org/snap", HF_REPO_MODEL, NULL, NULL };
    char dir[600];

    for (unsigned par = 1; par <= 8; par += 7) {
        memset(&o, 0, sizeof o);
        o.max_parallel = par;
        o.progress = note_progress;
        o.progress_arg = &v;
        v.most_done = v.total = v.events = 0;
        tu_rm_tree(cache);
        ck_assert_int_eq(mkdir(cache, 0700), 0);
        snap_ok(hf_hub_snapshot(h, &ref, &o), dir, sizeof dir);
        pthread_mutex_lock(&v.mu);
        ck_assert_uint_gt(v.events, 0);
        ck_assert_uint_eq(v.total, NSNAP);
        ck_assert_msg(v.most_done == NSNAP, "max_parallel %u: at most %u of %u files done",
                      par, v.most_done, v.total);
        pthread_mutex_unlock(&v.mu);
    }
    hf_hub_free(h);
}
END_TEST

START_TEST(globs_select_files_like_filter_repo_objects)
{
    hf_hub_t *h = hub();
    char dir[600], ref[64];
    const char *json[] = { "*.json" };
    const char *folder[] = { "sub/" };
    const char *two[] = { "*.md", "weights/" };
    const char *nobin[] = { "*.bin", "sub/" };
    const char *none[] = { "*.gguf" };
    const char *cafe[] = { "caf?.txt" };

    /* '*' crosses '/' as in Python's fnmatch */
    snap_ok(snap(h, NULL, json, 1, NULL, 0), dir, sizeof dir);
    ck_assert_int_eq(files_in(dir), 3);
    ck_assert(exists_in(dir, "sub/deeper/leaf.json"));
    read_ref("main", ref);
    ck_assert_uint_eq(strlen(ref), 40);
    tu_rm_tree(cache);
    ck_assert_int_eq(mkdir(cache, 0700), 0);

    /* a folder pattern: everything below it */
    snap_ok(snap(h, NULL, folder, 1, NULL, 0), dir, sizeof dir);
    ck_assert_int_eq(files_in(dir), 2);
    ck_assert(exists_in(dir, "sub/nested.txt") && exists_in(dir, "sub/deeper/leaf.json"));
    tu_rm_tree(cache);
    ck_assert_int_eq(mkdir(cache, 0700), 0);

    /* several include patterns: any of them */
    snap_ok(snap(h, NULL, two, 2, NULL, 0), dir, sizeof dir);
    ck_assert_int_eq(files_in(dir), 3);
    tu_rm_tree(cache);
    ck_assert_int_eq(mkdir(cache, 0700), 0);

    /* both lists: included and not excluded */
    snap_ok(snap(h, NULL, json, 1, nobin, 2), dir, sizeof dir);
    ck_assert_int_eq(files_in(dir), 2);
    ck_assert(!exists_in(dir, "sub/deeper/leaf.json"));
    tu_rm_tree(cache);
    ck_assert_int_eq(mkdir(cache, 0700), 0);

    /* exclude only */
    snap_ok(snap(h, NULL, NULL, 0, nobin, 2), dir, sizeof dir);
    ck_assert_int_eq(files_in(dir), (int)NSNAP - 4);
    tu_rm_tree(cache);
    ck_assert_int_eq(mkdir(cache, 0700), 0);

    /* '?' is one character, "é" included (Python's fnmatch works on str) */
    snap_ok(snap(h, NULL, cafe, 1, NULL, 0), dir, sizeof dir);
    ck_assert_int_eq(files_in(dir), 1);
    ck_assert(exists_in(dir, "caf\xc3\xa9.txt"));
    tu_rm_tree(cache);
    ck_assert_int_eq(mkdir(cache, 0700), 0);

    /* no match: no file, but the ref and the (empty) folder */
    tu_mock_reset(&mock);
    snap_ok(snap(h, NULL, none, 1, NULL, 0), dir, sizeof dir);
    ck_assert_int_eq(files_in(dir), 0);
    read_ref("main", ref);
    ck_assert_uint_eq(strlen(ref), 40);
    ck_assert_ptr_nonnull(strstr(dir, ref));
    ck_assert_int_eq(tu_mock_count(&mock, "HEAD", ""), 0);
    hf_hub_free(h);
}
END_TEST

START_TEST(revisions_write_their_ref_and_a_commit_writes_none)
{
    hf_hub_t *h = hub();
    char dir[600], tag[64], pr[64], main_ref[64], refs[600];
    hf_future_t *f;

    snap_ok(snap(h, "v1.0", NULL, 0, NULL, 0), dir, sizeof dir);
    read_ref("v1.0", tag);
    ck_assert_uint_eq(strlen(tag), 40);
    ck_assert_ptr_nonnull(strstr(dir, tag));
    ck_assert_int_eq(files_in(dir), 2);
    ck_assert(exists_in(dir, "old.txt"));
    read_ref("main", main_ref);
    ck_assert_str_eq(main_ref, "");                 /* only the revision asked */

    snap_ok(snap(h, "refs/pr/1", NULL, 0, NULL, 0), dir, sizeof dir);
    read_ref("refs/pr/1", pr);
    ck_assert_uint_eq(strlen(pr), 40);
    ck_assert_ptr_nonnull(strstr(dir, pr));
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/api/models/org/snap/revision/refs%2Fpr%2F1"), 1);

    /* a commit: no ref named after it */
    tu_rm_tree(cache);
    ck_assert_int_eq(mkdir(cache, 0700), 0);
    snap_ok(snap(h, tag, NULL, 0, NULL, 0), dir, sizeof dir);
    ck_assert_ptr_nonnull(strstr(dir, tag));
    ck_assert_int_eq(files_in(dir), 2);
    snprintf(refs, sizeof refs, "%s/models--org--snap/refs", cache);
    ck_assert_int_eq(tu_count_files_named(refs, ""), 0);

    /* a revision that does not exist: the Hub's error, naming the repo; nothing written */
    tu_rm_tree(cache);
    ck_assert_int_eq(mkdir(cache, 0700), 0);
    f = snap(h, "no-such-branch", NULL, 0, NULL, 0);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_EREVISION_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(hf_future_error(f)->message, "org/snap"));
    ck_assert_int_eq(tu_count_files_named(cache, ""), 0);
    hf_future_release(f);
    hf_hub_free(h);
}
END_TEST

START_TEST(a_dataset_snapshot_uses_the_dataset_api_and_folder)
{
    hf_hub_t *h = hub();
    hf_file_ref_t ref = { "org/data", HF_REPO_DATASET, NULL, NULL };
    hf_future_t *f = hf_hub_snapshot(h, &ref, NULL);
    char dir[600];

    snap_ok(f, dir, sizeof dir);
    ck_assert_ptr_nonnull(strstr(dir, "/datasets--org--data/snapshots/"));
    ck_assert(exists_in(dir, "train/part-0.csv"));
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/api/datasets/org/data/revision/main"), 1);
    {
        char *log = tu_mock_requests(&mock, "path=/datasets/org/data/resolve/*/train/part-0.csv");
        ck_assert_ptr_nonnull(strstr(log, "HEAD"));
        free(log);
    }
    hf_hub_free(h);
}
END_TEST

START_TEST(offline_snapshots_come_from_the_cache_only)
{
    hf_hub_t *h = hub(), *off;
    char dir[600], ref[64], got[600];
    hf_file_ref_t r = { "org/snap", HF_REPO_MODEL, NULL, NULL };
    hf_future_t *f;

    snap_ok(snap(h, NULL, NULL, 0, NULL, 0), dir, sizeof dir);
    read_ref("main", ref);
    hf_hub_free(h);
    tu_mock_reset(&mock);
    off = offline_hub();
    snap_ok(hf_hub_snapshot(off, &r, NULL), got, sizeof got);
    ck_assert_str_eq(got, dir);
    r.revision = ref;                               /* a commit given directly */
    snap_ok(hf_hub_snapshot(off, &r, NULL), got, sizeof got);
    ck_assert_str_eq(got, dir);
    r.revision = "v1.0";                            /* no ref for it */
    f = hf_hub_snapshot(off, &r, NULL);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_EOFFLINE);
    ck_assert_ptr_nonnull(strstr(hf_future_error(f)->message, "org/snap"));
    hf_future_release(f);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", ""), 0);
    ck_assert_int_eq(tu_mock_count(&mock, "HEAD", ""), 0);
    hf_hub_free(off);
}
END_TEST

/* huggingface_hub's snapshot_download answers from the cache when the repo info request
 * fails for a reason other than the Hub's word (connection refused or reset, timeout,
 * 5xx): refs/<revision> (or the commit given) names a snapshot folder that is there, and
 * that folder is the value, as hf_hub_download() serves a cached file. A revision the Hub
 * says is not there stays an error. */
START_TEST(a_snapshot_is_served_from_the_cache_when_the_hub_cannot_be_reached)
{
    hf_hub_t *h = hub();
    char dir[600], got[600], ref[64];
    hf_future_t *f;

    snap_ok(snap(h, NULL, NULL, 0, NULL, 0), dir, sizeof dir);
    read_ref("main", ref);
    tu_mock_fault(&mock, "{\"path\": \"/api/models/org/snap/revision/*\", \"close\": true}");
    snap_ok(snap(h, NULL, NULL, 0, NULL, 0), got, sizeof got);
    ck_assert_str_eq(got, dir);
    snap_ok(snap(h, ref, NULL, 0, NULL, 0), got, sizeof got);
    ck_assert_str_eq(got, dir);
    /* nothing cached for v1.0: the network error stands */
    f = snap(h, "v1.0", NULL, 0, NULL, 0);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_ENETWORK);
    ck_assert_ptr_nonnull(strstr(hf_future_error(f)->message, "org/snap"));
    hf_future_release(f);
    tu_mock_reset(&mock);
    /* a 5xx after retries, likewise */
    tu_mock_fault(&mock, "{\"path\": \"/api/models/org/snap/revision/*\", \"status\": 503}");
    snap_ok(snap(h, NULL, NULL, 0, NULL, 0), got, sizeof got);
    ck_assert_str_eq(got, dir);
    tu_mock_reset(&mock);
    /* the Hub's own answer is the error, cached or not */
    tu_mock_fault(&mock, "{\"path\": \"/api/models/org/snap/revision/*\", \"status\": 404, "
                         "\"error_code\": \"RevisionNotFound\"}");
    f = snap(h, NULL, NULL, 0, NULL, 0);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_EREVISION_NOT_FOUND);
    hf_future_release(f);
    hf_hub_free(h);
}
END_TEST

START_TEST(two_snapshots_at_once_fetch_each_file_once)
{
    hf_hub_t *h = hub();
    hf_future_t *a, *b;
    char da[600], db[600];

    tu_mock_fault(&mock, "{\"path\": \"/org/snap/resolve/*\", \"method\": \"GET\", \"stall_ms\": 200}");
    a = snap(h, NULL, NULL, 0, NULL, 0);
    b = snap(h, NULL, NULL, 0, NULL, 0);
    snap_ok(a, da, sizeof da);
    snap_ok(b, db, sizeof db);
    ck_assert_str_eq(da, db);
    ck_assert_int_eq(files_in(da), (int)NSNAP);
    for (size_t i = 0; i < NSNAP; i++) {
        char p[1400];
        snprintf(p, sizeof p, "%s/%s", da, snap_files[i]);
        ck_assert(tu_same_bytes(p, snap_files[i], strlen(snap_files[i])));
    }
    /* each body once, over both ports */
    {
        char *stats = tu_mock_stats(&mock);
        long gets = tu_mock_count(&mock, "GET", ".txt") + tu_mock_count(&mock, "GET", ".json") +
                    tu_mock_count(&mock, "GET", ".md") + tu_mock_count(&mock, "GET", ".bin");
        ck_assert_msg(gets == (long)NSNAP, "%ld GETs: %s", gets, stats);
        free(stats);
    }
    hf_hub_free(h);
}
END_TEST

START_TEST(a_snapshot_and_a_download_of_one_of_its_files_share_the_body)
{
    hf_hub_t *h = hub();
    hf_file_ref_t r = { "org/snap", HF_REPO_MODEL, NULL, "weights/a.bin" };
    const char *w[] = { "weights/" };
    hf_future_t *s, *d;
    char dir[600], p[700];

    tu_mock_fault(&mock, "{\"path\": \"*/weights/*\", \"port\": \"cdn\", \"stall_ms\": 300}");
    s = snap(h, NULL, w, 1, NULL, 0);
    d = hf_hub_download(h, &r, NULL);
    ck_assert_int_eq(tu_settle(d), HF_FUTURE_FULFILLED);
    snap_ok(s, dir, sizeof dir);
    snprintf(p, sizeof p, "%s/weights/a.bin", dir);
    ck_assert_str_eq(hf_future_value(d), p);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/weights/a.bin"), 1);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/weights/b.bin"), 1);
    hf_future_release(d);
    hf_hub_free(h);
}
END_TEST

START_TEST(a_failing_file_rejects_the_snapshot_naming_it_and_leaves_no_partial)
{
    hf_hub_t *h = hub();
    hf_future_t *f;

    tu_mock_fault(&mock, "{\"path\": \"*/weights/b.bin\", \"port\": \"cdn\", \"flip_offset\": 3}");
    f = snap(h, NULL, NULL, 0, NULL, 0);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_ECORRUPT);
    ck_assert_msg(strstr(hf_future_error(f)->message, "org/snap/weights/b.bin") != NULL, "%s",
                  hf_future_error(f)->message);
    hf_future_release(f);
    /* the downloads it cancelled remove their partial files (not necessarily before the
     * snapshot settles) */
    TU_EVENTUALLY(tu_count_files_named(cache, ".incomplete") == 0);
    ck_assert_int_eq(tu_count_files_named(cache, "b.bin"), 0);
    hf_hub_free(h);
}
END_TEST

/* A file that was missing (a .no_exist marker for the commit of that time) and exists at
 * a later commit is downloaded: the marker is only about the commit it names. */
START_TEST(a_no_exist_marker_does_not_hide_a_file_added_later)
{
    hf_hub_t *h = hub();
    hf_file_ref_t r = { "org/snap", HF_REPO_MODEL, NULL, "added.txt" };
    hf_future_t *f = hf_hub_download(h, &r, NULL);
    char *path = NULL;
    char marker[600];

    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_EENTRY_NOT_FOUND);
    hf_future_release(f);
    snprintf(marker, sizeof marker, "%s/models--org--snap/.no_exist", cache);
    ck_assert_int_eq(tu_count_files_named(marker, "added.txt"), 1);
    ck_assert_int_eq(hf_hub_try_cache(h, &r, &path), HF_EENTRY_NOT_FOUND);
    tu_mock_file(&mock, "model", "org/snap", "added.txt", "new\n", 4);
    tu_mock_reset(&mock);
    f = hf_hub_download(h, &r, NULL);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert(tu_same_bytes(hf_future_value(f), "new\n", 4));
    ck_assert_int_eq(hf_hub_try_cache(h, &r, &path), 0);
    ck_assert_str_eq(path, hf_future_value(f));
    free(path);
    hf_future_release(f);
    hf_hub_free(h);
}
END_TEST

START_TEST(listing_a_folder_walks_below_it_only)
{
    hf_hub_t *h = hub();
    hf_file_ref_t r = { "org/snap", HF_REPO_MODEL, NULL, "sub" };
    hf_future_t *f = hf_hub_list_files(h, &r);
    const hf_file_list_t *l;

    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    l = hf_future_value(f);
    ck_assert_uint_eq(l->n, 2);
    ck_assert_str_eq(l->files[0].path, "sub/deeper/leaf.json");
    ck_assert_str_eq(l->files[1].path, "sub/nested.txt");
    hf_future_release(f);
    r.path = "odd dir #1";                          /* encoded whole, '/' included */
    f = hf_hub_list_files(h, &r);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    l = hf_future_value(f);
    ck_assert_uint_eq(l->n, 1);
    ck_assert_str_eq(l->files[0].path, "odd dir #1/x.txt");
    ck_assert_uint_eq(l->files[0].size, strlen("odd dir #1/x.txt"));
    hf_future_release(f);
    r.path = "no-such-folder";
    f = hf_hub_list_files(h, &r);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_EENTRY_NOT_FOUND);
    hf_future_release(f);
    hf_hub_free(h);
}
END_TEST


/* GET requests for the tree listing of org/snap at `commit` (all pages share the path). */
static long tree_gets(const char *commit)
{
    char path[200];
    snprintf(path, sizeof path, "/api/models/org/snap/tree/%s", commit);
    return tu_mock_count(&mock, "GET", path);
}

/* huggingface_hub's snapshot_download does not trust a siblings list that is missing or
 * empty (nor one longer than VERY_LARGE_REPO_THRESHOLD, which the Hub may have cut): it
 * lists the tree of the commit, recursively, instead. org/snap's recursive listing is 13
 * files and 4 folders: 5 pages of 4. The Hub's cursors are opaque and grow with the path
 * they name: next-page links of 3 KiB are followed like short ones (before: over 2 KiB
 * failed the listing). */
START_TEST(without_siblings_a_snapshot_lists_the_tree_of_the_commit_every_page)
{
    hf_hub_t *h;
    char dir[600], ref[64];
    const char *json[] = { "*.json" };
    const char *mocks[] = { "--siblings-cap none --page-size 4",
                            "--siblings-cap none --page-size 4 --cursor-bytes 3000" };

    for (int i = 0; i < 2; i++) {
        restart_mock(mocks[i]);
        tu_rm_tree(cache);
        ck_assert_int_eq(mkdir(cache, 0700), 0);
        h = hub();
        snap_ok(snap(h, NULL, NULL, 0, NULL, 0), dir, sizeof dir);
        read_ref("main", ref);
        ck_assert_uint_eq(strlen(ref), 40);
        ck_assert_ptr_nonnull(strstr(dir, ref));
        assert_whole_snapshot(dir);
        ck_assert_int_eq(tu_mock_count(&mock, "GET", "/api/models/org/snap/revision/main"), 1);
        ck_assert_int_eq(tree_gets(ref), 5);
        ck_assert_int_eq(tu_mock_count(&mock, "HEAD", ""), (long)NSNAP);
        hf_hub_free(h);
    }

    /* an empty list likewise; the globs select from the listing */
    restart_mock("--siblings-cap 0 --page-size 4");
    tu_rm_tree(cache);
    ck_assert_int_eq(mkdir(cache, 0700), 0);
    h = hub();
    snap_ok(snap(h, NULL, json, 1, NULL, 0), dir, sizeof dir);
    ck_assert_int_eq(files_in(dir), 3);
    ck_assert(exists_in(dir, "sub/deeper/leaf.json") && exists_in(dir, "config.json") &&
              exists_in(dir, "tokenizer.json"));
    ck_assert_int_eq(tree_gets(ref), 5);
    ck_assert_int_eq(tu_mock_count(&mock, "HEAD", ""), 3);
    hf_hub_free(h);
}
END_TEST

START_TEST(a_siblings_list_longer_than_the_threshold_is_not_trusted)
{
    hf_hub_t *h;
    char dir[600], ref[64];

    /* the Hub gave 3 siblings: under the threshold they are trusted, as in huggingface_hub */
    restart_mock("--siblings-cap 3");
    h = hub();
    snap_ok(snap(h, NULL, NULL, 0, NULL, 0), dir, sizeof dir);
    read_ref("main", ref);
    ck_assert_int_eq(files_in(dir), 3);
    ck_assert_int_eq(tree_gets(ref), 0);
    /* over it (lowered to 2 here), the tree is listed: every file */
    ck_assert_uint_eq(hfi_snapshot_set_large_repo_files(2), 50000);
    tu_mock_reset(&mock);
    snap_ok(snap(h, NULL, NULL, 0, NULL, 0), dir, sizeof dir);
    hfi_snapshot_set_large_repo_files(0);
    assert_whole_snapshot(dir);
    ck_assert_int_eq(tree_gets(ref), 1);
    ck_assert_int_eq(tu_mock_count(&mock, "HEAD", ""), (long)NSNAP - 3);
    hf_hub_free(h);
}
END_TEST

/* A next-page link the client cannot follow must not pass for the last page: the listing
 * (and a snapshot built on it) would silently miss files. */
START_TEST(a_next_page_link_that_cannot_be_followed_fails_the_listing)
{
    hf_hub_t *h = hub();
    hf_file_ref_t r = { "org/snap", HF_REPO_MODEL, NULL, NULL };
    hf_future_t *f;

    /* another origin: the token would go there */
    tu_mock_fault(&mock, "{\"path\": \"/api/models/org/snap/tree/*\", \"count\": 1, "
                         "\"headers\": {\"Link\": \"<http://elsewhere.invalid/api/models/org/"
                         "snap/tree/main?cursor=MTA7>; rel=\\\"next\\\"\"}}");
    f = hf_hub_list_files(h, &r);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_EPROTO);
    ck_assert_ptr_nonnull(strstr(hf_future_error(f)->message, "next-page link"));
    hf_future_release(f);
    /* malformed */
    tu_mock_fault(&mock, "{\"path\": \"/api/models/org/snap/tree/*\", \"count\": 1, "
                         "\"headers\": {\"Link\": \"<http://x; rel=\\\"next\\\"\"}}");
    f = hf_hub_list_files(h, &r);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_EPROTO);
    hf_future_release(f);
    /* without the faults: one page, every file, sorted */
    f = hf_hub_list_files(h, &r);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    {
        const hf_file_list_t *l = hf_future_value(f);
        ck_assert_uint_eq(l->n, NSNAP);
        for (size_t i = 1; i < l->n; i++)
            ck_assert_int_lt(strcmp(l->files[i - 1].path, l->files[i].path), 0);
    }
    hf_future_release(f);
    hf_hub_free(h);
}
END_TEST

/* Occupies the one I/O thread of a runtime until released. */
typedef struct io_block {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int running, release;
    hf_executor_t *ran_on;
} io_block_t;

static void io_block_task(void *arg)
{
    io_block_t *b = arg;
    pthread_mutex_lock(&b->mu);
    b->ran_on = hf_current_executor();
    b->running = 1;
    pthread_cond_broadcast(&b->cv);
    while (!b->release)
        pthread_cond_wait(&b->cv, &b->mu);
    b->running = 0;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void io_block(hf_runtime_t *r, io_block_t *b)
{
    pthread_mutex_lock(&b->mu);
    b->release = 0;
    pthread_mutex_unlock(&b->mu);
    ck_assert_int_eq(hf_executor_post(hf_runtime_io(r), io_block_task, b), 0);
    pthread_mutex_lock(&b->mu);
    while (!b->running)
        pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
    ck_assert_ptr_eq(b->ran_on, hf_runtime_io(r));
}

static void io_unblock(io_block_t *b)
{
    pthread_mutex_lock(&b->mu);
    b->release = 1;
    pthread_cond_broadcast(&b->cv);
    while (b->running)
        pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
}

/* Runs inline on the thread that settles the future it follows. */
static void note_executor(hf_future_t *done, hf_promise_t *next, void *arg)
{
    (void)done;
    *(hf_executor_t **)arg = hf_current_executor();
    hf_promise_resolve(next, NULL, NULL);
}

/* Wait until the hub's one transfer loop runs: it then counts as blocked on the I/O pool
 * (io_blocked), not toward io_threads_max, and the cap is what tasks can hold. */
static void loop_started(hf_runtime_t *r)
{
    hf_runtime_stats_t st;
    TU_EVENTUALLY(hf_runtime_stats(r, &st) == 0 && st.io_blocked == 1);
}

/* The offline lookup (refs/main, a stat of the snapshot folder) is file-system work: it
 * runs on the I/O pool, and the call returns a pending future at once. Shown with a
 * runtime whose I/O threads are all busy (the engine's loop and a task holding the other): the snapshot stays pending, the folder put
 * in place meanwhile is found (the lookup had not run on the calling thread), and the
 * future is settled by that I/O thread. */
START_TEST(an_offline_snapshot_looks_in_the_cache_on_the_io_pool)
{
    hf_hub_t *h = hub(), *off;
    hf_runtime_config_t rc;
    hf_runtime_t *rt1;
    hf_hub_config_t cfg;
    hf_file_ref_t r = { "org/snap", HF_REPO_MODEL, NULL, NULL };
    io_block_t b = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, NULL };
    hf_executor_t *settled_on = NULL;
    char dir[600], away[700];
    hf_future_t *f, *g;

    snap_ok(snap(h, NULL, NULL, 0, NULL, 0), dir, sizeof dir);
    hf_hub_free(h);
    snprintf(away, sizeof away, "%s.away", dir);
    ck_assert_int_eq(rename(dir, away), 0);

    /* one I/O thread for tasks, to hold busy (the hub's transfer loop does not count) */
    memset(&rc, 0, sizeof rc);
    rc.compute_threads = 1;
    rc.io_threads_max = 1;
    rt1 = hf_runtime_new(&rc);
    ck_assert_ptr_nonnull(rt1);
    memset(&cfg, 0, sizeof cfg);
    cfg.endpoint = mock.hub;
    cfg.cache_dir = cache;
    cfg.token = "";
    cfg.offline = HF_YES;
    cfg.engine_threads = 1;
    off = hf_hub_new(rt1, &cfg, NULL);
    ck_assert_ptr_nonnull(off);
    loop_started(rt1);

    io_block(rt1, &b);
    f = hf_hub_snapshot(off, &r, NULL);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_PENDING);
    g = hf_future_then(f, HF_INLINE, note_executor, &settled_on);
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(rename(away, dir), 0);
    io_unblock(&b);
    snap_ok(f, away, sizeof away);
    ck_assert_str_eq(away, dir);
    ck_assert_int_eq(tu_settle(g), HF_FUTURE_FULFILLED);
    ck_assert_ptr_eq(settled_on, hf_runtime_io(rt1));
    hf_future_release(g);

    /* not in the cache: HF_EOFFLINE, from the I/O pool too */
    r.revision = "v1.0";
    io_block(rt1, &b);
    f = hf_hub_snapshot(off, &r, NULL);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_PENDING);
    io_unblock(&b);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_EOFFLINE);
    ck_assert_ptr_nonnull(strstr(hf_future_error(f)->message, "org/snap"));
    hf_future_release(f);

    /* cancelled before the lookup ran: stays cancelled, and nothing leaks */
    r.revision = NULL;
    io_block(rt1, &b);
    f = hf_hub_snapshot(off, &r, NULL);
    hf_future_cancel(f);
    io_unblock(&b);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_CANCELLED);
    hf_future_release(f);

    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/revision/main"), 1);   /* the online one */
    hf_hub_free(off);
    hf_runtime_free(rt1);
}
END_TEST

static void do_nothing(void *arg)
{
    (void)arg;
}

/* Holds an I/O thread of its runtime until hf_runtime_free stops that runtime (from then
 * on its posts are refused). The posts made before are queued behind whatever the test
 * queued meanwhile, and are discarded with it. */
static void io_hold_until_stopped(void *arg)
{
    io_block_t *b = arg;
    hf_executor_t *io = hf_current_executor();
    pthread_mutex_lock(&b->mu);
    b->ran_on = io;
    b->running = 1;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    while (hf_executor_post(io, do_nothing, NULL) == 0)
        tu_sleep_ms(1);
}

/* A runtime with `io` I/O threads whose idle ones stay and, on it, a hub (offline or not)
 * whose one engine loop holds one of them. */
static hf_runtime_t *small_runtime(unsigned io, int offline, hf_hub_t **hp)
{
    hf_runtime_config_t rc;
    hf_hub_config_t cfg;
    hf_runtime_t *r;

    memset(&rc, 0, sizeof rc);
    rc.compute_threads = 1;
    rc.io_threads_max = io;
    rc.io_idle_ms = 3600 * 1000;
    r = hf_runtime_new(&rc);
    ck_assert_ptr_nonnull(r);
    memset(&cfg, 0, sizeof cfg);
    cfg.endpoint = mock.hub;
    cfg.cache_dir = cache;
    cfg.token = "";
    cfg.offline = offline ? HF_YES : HF_NO;
    cfg.engine_threads = 1;
    *hp = hf_hub_new(r, &cfg, NULL);
    ck_assert_ptr_nonnull(*hp);
    loop_started(r);
    return r;
}

/* The runtime is freed while the offline lookup of a snapshot is still queued behind busy
 * I/O threads: the lookup never runs, yet the snapshot settles as cancelled before
 * hf_runtime_free returns and lets go of the hub (hf_hub_free returns), and nothing it
 * owned leaks (LeakSanitizer, in the ASan build). */
START_TEST(a_snapshot_still_queued_when_the_runtime_is_freed_is_cancelled)
{
    hf_hub_t *h = hub(), *off;
    hf_runtime_t *rt1;
    hf_file_ref_t r = { "org/snap", HF_REPO_MODEL, NULL, NULL };
    io_block_t b = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, NULL };
    char dir[600];
    hf_future_t *f;

    snap_ok(snap(h, NULL, NULL, 0, NULL, 0), dir, sizeof dir);    /* in the cache */
    hf_hub_free(h);

    rt1 = small_runtime(1, 1, &off);       /* one I/O thread for tasks: held below */
    ck_assert_int_eq(hf_executor_post(hf_runtime_io(rt1), io_hold_until_stopped, &b), 0);
    pthread_mutex_lock(&b.mu);
    while (!b.running)
        pthread_cond_wait(&b.cv, &b.mu);
    pthread_mutex_unlock(&b.mu);
    f = hf_hub_snapshot(off, &r, NULL);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_PENDING);
    hf_runtime_free(rt1);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_CANCELLED);
    hf_future_release(f);
    hf_hub_free(off);
}
END_TEST

static unsigned io_idle(hf_runtime_t *r)
{
    hf_runtime_stats_t st;
    ck_assert_int_eq(hf_runtime_stats(r, &st), 0);
    return st.io_threads_idle;
}

/* Allocation `n` of the calling thread fails, for n = 0, 1, ... until a snapshot gets
 * through: each call returns NULL or a future that settles (an error or, at the end, the
 * folder), and lets go of the hub (hf_hub_free returns) and of its memory (LeakSanitizer).
 * Online (repo info, then the files) and offline (the lookup on the I/O pool). Each call
 * finds an idle I/O thread: a task this thread queues then needs no new thread, whose
 * start would fail here and leave the task queued behind the engine loop, which never
 * returns (a limit of the I/O pool, not of the snapshot). */
static void snapshot_short_of_memory(hf_runtime_t *rt1, hf_hub_t *h)
{
    hf_file_ref_t r = { "org/snap", HF_REPO_MODEL, NULL, NULL };
    int fulfilled = 0;

    ck_assert_int_eq(hf_executor_post(hf_runtime_io(rt1), do_nothing, NULL), 0);
    for (long n = 0; n < 10000 && !fulfilled; n++) {
        hf_future_t *f;
        TU_EVENTUALLY(io_idle(rt1) > 0);
        hfi_test_fail_alloc_after(n);
        f = hf_hub_snapshot(h, &r, NULL);
        hfi_test_fail_alloc_after(-1);
        if (!f)
            continue;
        ck_assert_msg(hf_future_wait(f, TU_DEADLINE_MS) == 0,
                      "the snapshot with allocation %ld failing never settled", n);
        fulfilled = hf_future_state(f) == HF_FUTURE_FULFILLED;
        hf_future_release(f);
    }
    ck_assert(fulfilled);
    hf_hub_free(h);
    hf_runtime_free(rt1);
}

START_TEST(a_snapshot_short_of_memory_lets_go_of_what_it_holds)
{
    hf_hub_t *h = hub();
    hf_runtime_t *rt1;
    char dir[600];

    snap_ok(snap(h, NULL, NULL, 0, NULL, 0), dir, sizeof dir);    /* in the cache */
    hf_hub_free(h);
    rt1 = small_runtime(4, 0, &h);
    snapshot_short_of_memory(rt1, h);
    rt1 = small_runtime(4, 1, &h);
    snapshot_short_of_memory(rt1, h);
}
END_TEST

/* Cancels the snapshot `f` (a reference of its own: whoever takes it releases it) once
 * `at` files are in. */
typedef struct cancel_at {
    _Atomic(hf_future_t *) f;
    unsigned at;
} cancel_at_t;

static void cancel_at_progress(const hf_progress_t *p, void *arg)
{
    cancel_at_t *c = arg;
    hf_future_t *f;
    if (p->files_done >= c->at && (f = atomic_exchange(&c->f, (hf_future_t *)NULL)) != NULL) {
        hf_future_cancel(f);
        hf_future_release(f);
    }
}

/* Many small files already in the cache for the commit: each download settles at once, on
 * another I/O thread, while start_more is still walking the snapshot that the last
 * file_done may free (292c450). Rounds alternate one file at a time, all at once and four
 * at once, and every fifth is cancelled as it starts (cancelled or fulfilled, whichever
 * wins); HF_SNAP_ROUNDS sets their number. Under ASan a use after free fails the run
 * (600 rounds failed 3 of 3 runs without 292c450's hold); each round must give the same
 * folder and ask the Hub nothing but the revision. */
START_TEST(snapshots_of_many_cached_files_outlive_their_last_file)
{
    enum { NMANY = 64 };
    const char *env = getenv("HF_SNAP_ROUNDS");
    unsigned rounds = env && atoi(env) > 0 ? (unsigned)atoi(env) : 600;
    hf_file_ref_t ref = { "org/many", HF_REPO_MODEL, NULL, NULL };
    hf_snapshot_opts_t o;
    char dir[600], again[600], commit[41];
    const char *slash;
    cancel_at_t c;
    hf_hub_t *h;
    int st;

    tu_mock_stop(&mock);
    fill_root();
    for (unsigned i = 0; i < NMANY; i++) {
        char name[32];
        snprintf(name, sizeof name, "d%u/f%02u.txt", i % 4, i);
        tu_mock_file(&mock, "model", "org/many", name, name, strlen(name));
    }
    tu_mock_start(&mock, NULL);
    h = hub();
    snap_ok(hf_hub_snapshot(h, &ref, NULL), dir, sizeof dir);
    ck_assert_int_eq(files_in(dir), NMANY);
    slash = strrchr(dir, '/');
    ck_assert_uint_eq(strlen(slash + 1), 40);
    memcpy(commit, slash + 1, 41);
    ref.revision = commit;
    tu_mock_reset(&mock);
    for (unsigned r = 0; r < rounds; r++) {
        hf_future_t *f;
        memset(&o, 0, sizeof o);
        o.max_parallel = r % 3 == 0 ? 1 : r % 3 == 1 ? NMANY : 4;
        if (r % 5 == 4) {       /* cancelled from a progress call as files come in */
            o.progress = cancel_at_progress;
            o.progress_arg = &c;
            c.at = (r / 5) % NMANY;
            atomic_store(&c.f, NULL);
        }
        f = hf_hub_snapshot(h, &ref, &o);
        ck_assert_ptr_nonnull(f);
        if (o.progress) {
            atomic_store(&c.f, hf_future_retain(f));
            st = tu_settle(f);
            hf_future_release(atomic_exchange(&c.f, (hf_future_t *)NULL));
            ck_assert_msg(st == HF_FUTURE_FULFILLED || st == HF_FUTURE_CANCELLED,
                          "round %u: %s", r, st == HF_FUTURE_REJECTED
                                                 ? hf_future_error(f)->message : "pending");
            if (st == HF_FUTURE_CANCELLED) {
                hf_future_release(f);
                continue;
            }
        }
        snap_ok(f, again, sizeof again);
        ck_assert_str_eq(again, dir);
    }
    ck_assert_int_eq(tu_mock_count(&mock, "HEAD", ""), 0);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", ".txt"), 0);
    ck_assert_int_eq(files_in(dir), NMANY);
    hf_hub_free(h);
}
END_TEST

static Suite *snapshot_suite(void)
{
    Suite *s = suite_create("snapshot");
    TCase *tc = tcase_create("mock");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_whole_snapshot_has_every_file_linked_and_the_ref);
    tcase_add_test(tc, a_snapshots_progress_ends_with_every_file_done);
    tcase_add_test(tc, globs_select_files_like_filter_repo_objects);
    tcase_add_test(tc, revisions_write_their_ref_and_a_commit_writes_none);
    tcase_add_test(tc, a_dataset_snapshot_uses_the_dataset_api_and_folder);
    tcase_add_test(tc, offline_snapshots_come_from_the_cache_only);
    tcase_add_test(tc, a_snapshot_is_served_from_the_cache_when_the_hub_cannot_be_reached);
    tcase_add_test(tc, two_snapshots_at_once_fetch_each_file_once);
    tcase_add_test(tc, a_snapshot_and_a_download_of_one_of_its_files_share_the_body);
    tcase_add_test(tc, a_failing_file_rejects_the_snapshot_naming_it_and_leaves_no_partial);
    tcase_add_test(tc, a_no_exist_marker_does_not_hide_a_file_added_later);
    tcase_add_test(tc, listing_a_folder_walks_below_it_only);
    tcase_add_test(tc, without_siblings_a_snapshot_lists_the_tree_of_the_commit_every_page);
    tcase_add_test(tc, a_siblings_list_longer_than_the_threshold_is_not_trusted);
    tcase_add_test(tc, a_next_page_link_that_cannot_be_followed_fails_the_listing);
    tcase_add_test(tc, an_offline_snapshot_looks_in_the_cache_on_the_io_pool);
    tcase_add_test(tc, snapshots_of_many_cached_files_outlive_their_last_file);
    suite_add_tcase(s, tc);
    /* what a snapshot holds when its runtime goes, or when memory is short */
    tc = tcase_create("release");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_snapshot_still_queued_when_the_runtime_is_freed_is_cancelled);
    tcase_add_test(tc, a_snapshot_short_of_memory_lets_go_of_what_it_holds);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(snapshot_suite)
