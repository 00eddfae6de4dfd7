/*
 * check_snapshot.c - hf_hub_snapshot against hf-mock-hub on loopback, compared with what
 * huggingface_hub's snapshot_download does: which files land (globs), which refs are
 * written, the folder returned, names that need URL-encoding, offline and network-down
 * answers from the cache, sharing between concurrent calls, and errors.
 */
#include "common/testutil.h"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mockhub.h"

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

static void setup(void)
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

START_TEST(a_whole_snapshot_has_every_file_linked_and_the_ref)
{
    hf_hub_t *h = hub();
    char dir[600], ref[64], want[1400];

    snap_ok(snap(h, NULL, NULL, 0, NULL, 0), dir, sizeof dir);
    read_ref("main", ref);
    ck_assert_uint_eq(strlen(ref), 40);
    snprintf(want, sizeof want, "%s/models--org--snap/snapshots/%s", cache, ref);
    ck_assert_str_eq(dir, want);
    ck_assert_int_eq(files_in(dir), (int)NSNAP);
    for (size_t i = 0; i < NSNAP; i++) {
        char p[1400], target[1400];
        ssize_t n;
        snprintf(p, sizeof p, "%s/%s", dir, snap_files[i]);
        ck_assert_msg(tu_same_bytes(p, snap_files[i], strlen(snap_files[i])), "%s", p);
        n = readlink(p, target, sizeof target - 1);
        ck_assert_int_gt(n, 0);
        target[n] = '\0';
        ck_assert_msg(strstr(target, "blobs/") != NULL && target[0] == '.', "%s -> %s", p, target);
    }
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

static Suite *snapshot_suite(void)
{
    Suite *s = suite_create("snapshot");
    TCase *tc = tcase_create("mock");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_whole_snapshot_has_every_file_linked_and_the_ref);
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
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(snapshot_suite)
