/*
 * check_hostile.c - a Hub (or a mirror set as the endpoint) that lies: the answers are
 * refused with a clear error and the cache keeps only complete, consistent entries, all
 * inside the cache folder. Against hf-mock-hub on loopback.
 *
 * Design notes
 *  - the lies are the mock's faults: extra headers (a later header of a name wins), a
 *    Location to another file of the repo, and "body" (an API answer replaced by the JSON
 *    the test writes);
 *  - "no request for the files" is read from the mock's counters (HEADs of resolve URLs).
 */
#include "common/testutil.h"

#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mockhub.h"

#define CONFIG "{\"a\": 1}\n"
#define NESTED "nested\n"
#define OTHER_COMMIT "ffffffffffffffffffffffffffffffffffffffff"

static tu_mock_t mock;
static char cache[256];
static hf_runtime_t *rt;
static hf_hub_t *hub;

static void setup(void)
{
    hf_hub_config_t cfg;

    tu_mock_root(&mock);
    tu_mock_file(&mock, "model", "org/model", "config.json", CONFIG, sizeof CONFIG - 1);
    tu_mock_file(&mock, "model", "org/model", "sub/nested.txt", NESTED, sizeof NESTED - 1);
    tu_mock_start(&mock, NULL);
    tu_tmpdir(cache, sizeof cache, "hostile-cache");
    rt = tu_runtime(2);
    memset(&cfg, 0, sizeof cfg);
    cfg.max_retries = 1;
    hub = tu_hub_at(rt, mock.hub, cache, "", &cfg);
}

static void teardown(void)
{
    hf_hub_free(hub);
    hf_runtime_free(rt);
    tu_mock_stop(&mock);
    tu_rm_tree(cache);
}

static void fault(const char *fmt, ...) HF_PRINTF(1, 2);
static void fault(const char *fmt, ...)
{
    char json[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(json, sizeof json, fmt, ap);
    va_end(ap);
    tu_mock_fault(&mock, json);
}

/* 0 if `f` was fulfilled, else its error code. */
static int code_of(hf_future_t *f)
{
    if (hf_future_state(f) == HF_FUTURE_FULFILLED)
        return 0;
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_REJECTED);
    return hf_future_error(f)->code;
}

static const char *message_of(hf_future_t *f)
{
    return hf_future_state(f) == HF_FUTURE_REJECTED ? hf_future_error(f)->message : "";
}

/* The commit the mock serves as main. */
static void main_commit(char commit[41])
{
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "config.json" };
    hf_future_t *f = hf_hub_file_metadata(hub, &ref);
    ck_assert_ptr_nonnull(f);
    tu_settle(f);
    ck_assert_int_eq(code_of(f), 0);
    memcpy(commit, ((const hf_file_metadata_t *)hf_future_value(f))->commit, 41);
    hf_future_release(f);
}

static hf_future_t *download(const char *rev, const char *path)
{
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, rev, path };
    hf_future_t *f = hf_hub_download(hub, &ref, NULL);
    ck_assert_ptr_nonnull(f);
    tu_settle(f);
    return f;
}

static hf_future_t *snapshot(void)
{
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, NULL };
    hf_future_t *f = hf_hub_snapshot(hub, &ref, NULL);
    ck_assert_ptr_nonnull(f);
    tu_settle(f);
    return f;
}

/* 1 if <cache>/models--org--model/snapshots/<commit>[/<path>] is there. */
static int in_snapshot(const char *commit, const char *path)
{
    char p[1024];
    struct stat st;
    snprintf(p, sizeof p, "%s/models--org--model/snapshots/%s%s%s", cache, commit,
             path ? "/" : "", path ? path : "");
    return lstat(p, &st) == 0;
}

/* ---- X-Repo-Commit ------------------------------------------------------------------------ */

/* A commit never changes: the Hub answering another one for it is lying. Before, the file
 * was linked into snapshots/<the other commit>/ and that path handed out. */
START_TEST(a_download_by_commit_answered_for_another_commit_is_refused)
{
    char commit[41], path[300];
    hf_future_t *f;

    main_commit(commit);
    snprintf(path, sizeof path, "/org/model/resolve/%s/config.json", commit);
    fault("{\"path\": \"%s\", \"method\": \"HEAD\", \"headers\": {\"X-Repo-Commit\": \"%s\"}}",
          path, OTHER_COMMIT);
    f = download(commit, "config.json");
    ck_assert_msg(code_of(f) == HF_EPROTO, "got %d: %s", code_of(f), message_of(f));
    ck_assert_ptr_nonnull(strstr(message_of(f), OTHER_COMMIT));
    hf_future_release(f);
    ck_assert(!in_snapshot(OTHER_COMMIT, NULL));
    ck_assert(!in_snapshot(commit, "config.json"));
}
END_TEST

/* Hence a snapshot one of whose files the Hub answers for another commit fails, where it
 * was fulfilled with that file missing from its folder. */
START_TEST(a_snapshot_whose_file_comes_from_another_commit_fails_instead_of_missing_it)
{
    char commit[41];
    hf_future_t *f;

    main_commit(commit);
    fault("{\"path\": \"*/resolve/*/sub/nested.txt\", \"method\": \"HEAD\", "
          "\"headers\": {\"X-Repo-Commit\": \"%s\"}}", OTHER_COMMIT);
    f = snapshot();
    ck_assert_msg(code_of(f) == HF_EPROTO, "got %d: %s", code_of(f), message_of(f));
    hf_future_release(f);
    ck_assert(!in_snapshot(OTHER_COMMIT, NULL));
}
END_TEST

/* Repo info asked at a commit, answered for another: the snapshot at that commit would be
 * made (and handed out) under the other commit's folder. */
START_TEST(repo_info_at_a_commit_answered_for_another_is_refused)
{
    char commit[41], path[300];
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, NULL };
    hf_future_t *f;

    main_commit(commit);
    ref.revision = commit;
    snprintf(path, sizeof path, "/api/models/org/model/revision/%s", commit);
    fault("{\"path\": \"%s\", \"body\": \"{\\\"id\\\": \\\"org/model\\\", "
          "\\\"sha\\\": \\\"%s\\\", \\\"siblings\\\": []}\"}", path, OTHER_COMMIT);
    f = hf_hub_repo_info(hub, &ref);
    ck_assert_ptr_nonnull(f);
    tu_settle(f);
    ck_assert_msg(code_of(f) == HF_EPROTO, "got %d: %s", code_of(f), message_of(f));
    ck_assert_ptr_nonnull(strstr(message_of(f), OTHER_COMMIT));
    hf_future_release(f);
    f = hf_hub_snapshot(hub, &ref, NULL);
    ck_assert_ptr_nonnull(f);
    tu_settle(f);
    ck_assert_msg(code_of(f) == HF_EPROTO, "got %d: %s", code_of(f), message_of(f));
    hf_future_release(f);
    ck_assert(!in_snapshot(OTHER_COMMIT, NULL));
    ck_assert_int_eq(tu_mock_count(&mock, "HEAD", "/config.json"), 1);    /* main_commit's */
    tu_mock_reset(&mock);
    f = hf_hub_repo_info(hub, &ref);            /* the true answer still passes */
    tu_settle(f);
    ck_assert_int_eq(code_of(f), 0);
    ck_assert_str_eq(((const hf_repo_info_t *)hf_future_value(f))->sha, commit);
    hf_future_release(f);
}
END_TEST

/* ---- listings ----------------------------------------------------------------------------- */

/* repo info whose siblings are `siblings` (a JSON array's inside), at main's commit */
static void siblings_are(const char *commit, const char *siblings)
{
    fault("{\"path\": \"/api/models/org/model/revision/main\", \"body\": "
          "\"{\\\"id\\\": \\\"org/model\\\", \\\"sha\\\": \\\"%s\\\", "
          "\\\"siblings\\\": [%s]}\"}", commit, siblings);
}

/* "sub" as a file and "sub/nested.txt" below it cannot both be in a folder: whichever is
 * made second fails, or worse (below). Refused before any file is asked for. */
START_TEST(a_listing_with_a_path_that_is_a_file_and_a_folder_is_refused_before_any_file)
{
    char commit[41];
    hf_future_t *f;

    main_commit(commit);
    siblings_are(commit, "{\\\"rfilename\\\": \\\"sub\\\"}, {\\\"rfilename\\\": \\\"sub-x\\\"}, "
                         "{\\\"rfilename\\\": \\\"sub/nested.txt\\\"}");
    f = snapshot();
    ck_assert_msg(code_of(f) == HF_EPROTO, "got %d: %s", code_of(f), message_of(f));
    ck_assert_ptr_nonnull(strstr(message_of(f), "sub"));
    hf_future_release(f);
    ck_assert_int_eq(tu_mock_count(&mock, "HEAD", "/sub/nested.txt"), 0);
    ck_assert_int_eq(tu_mock_count(&mock, "HEAD", "/sub"), 0);
}
END_TEST

START_TEST(a_listing_that_names_a_file_twice_is_refused_before_any_file)
{
    char commit[41];
    hf_future_t *f;

    main_commit(commit);
    siblings_are(commit, "{\\\"rfilename\\\": \\\"config.json\\\"}, "
                         "{\\\"rfilename\\\": \\\"sub/nested.txt\\\"}, "
                         "{\\\"rfilename\\\": \\\"config.json\\\"}");
    f = snapshot();
    ck_assert_msg(code_of(f) == HF_EPROTO, "got %d: %s", code_of(f), message_of(f));
    ck_assert_ptr_nonnull(strstr(message_of(f), "config.json"));
    hf_future_release(f);
    ck_assert_int_eq(tu_mock_count(&mock, "HEAD", "/config.json"), 1);    /* main_commit's */
}
END_TEST

/* The tree listing, likewise (hf_hub_list_files, whose answer a snapshot of a large repo
 * uses). */
START_TEST(a_tree_listing_with_a_duplicate_or_a_file_and_folder_is_refused)
{
    static const char *bodies[] = {
        "[{\\\"type\\\": \\\"file\\\", \\\"path\\\": \\\"a\\\", \\\"size\\\": 1}, "
        "{\\\"type\\\": \\\"file\\\", \\\"path\\\": \\\"a\\\", \\\"size\\\": 2}]",
        "[{\\\"type\\\": \\\"file\\\", \\\"path\\\": \\\"a/b/c\\\", \\\"size\\\": 1}, "
        "{\\\"type\\\": \\\"file\\\", \\\"path\\\": \\\"a.txt\\\", \\\"size\\\": 1}, "
        "{\\\"type\\\": \\\"file\\\", \\\"path\\\": \\\"a/b\\\", \\\"size\\\": 2}]",
    };
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, NULL };

    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        hf_future_t *f;
        fault("{\"path\": \"/api/models/org/model/tree/main\", \"count\": 1, \"body\": \"%s\"}",
              bodies[i]);
        f = hf_hub_list_files(hub, &ref);
        ck_assert_ptr_nonnull(f);
        tu_settle(f);
        ck_assert_msg(code_of(f) == HF_EPROTO, "%zu: got %d: %s", i, code_of(f), message_of(f));
        hf_future_release(f);
    }
    {   /* a clean listing still lists */
        hf_future_t *f = hf_hub_list_files(hub, &ref);
        tu_settle(f);
        ck_assert_int_eq(code_of(f), 0);
        ck_assert_uint_eq(((const hf_file_list_t *)hf_future_value(f))->n, 2);
        hf_future_release(f);
    }
}
END_TEST

/* A size that is not a byte count (negative, a fraction, past 2^53, a string) is a lie
 * too. Before, it read as 0 ("unknown") and the listing went through. */
START_TEST(a_listing_with_a_size_that_is_not_a_byte_count_is_refused)
{
    static const char *sizes[] = { "-1", "1.5", "1e300", "\\\"12\\\"", "null" };
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, NULL };

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (int in_lfs = 0; in_lfs < 2; in_lfs++) {
            hf_future_t *f;
            if (in_lfs)
                fault("{\"path\": \"/api/models/org/model/tree/main\", \"count\": 1, "
                      "\"body\": \"[{\\\"type\\\": \\\"file\\\", \\\"path\\\": "
                      "\\\"w.bin\\\", \\\"size\\\": 4, \\\"lfs\\\": "
                      "{\\\"oid\\\": \\\"%064d\\\", \\\"size\\\": %s}}]\"}", 0,
                      sizes[i]);
            else
                fault("{\"path\": \"/api/models/org/model/tree/main\", \"count\": 1, "
                      "\"body\": \"[{\\\"type\\\": \\\"file\\\", \\\"path\\\": "
                      "\\\"w.bin\\\", \\\"size\\\": %s}]\"}", sizes[i]);
            f = hf_hub_list_files(hub, &ref);
            ck_assert_ptr_nonnull(f);
            tu_settle(f);
            ck_assert_msg(code_of(f) == HF_EPROTO, "%s (lfs %d): got %d: %s", sizes[i], in_lfs,
                          code_of(f), message_of(f));
            ck_assert_ptr_nonnull(strstr(message_of(f), "w.bin"));
            hf_future_release(f);
        }
    }
    /* a whole size up to 2^53, or none, still lists */
    fault("{\"path\": \"/api/models/org/model/tree/main\", \"count\": 1, \"body\": "
          "\"[{\\\"type\\\": \\\"file\\\", \\\"path\\\": \\\"a\\\", "
          "\\\"size\\\": 9007199254740992}, {\\\"type\\\": \\\"file\\\", "
          "\\\"path\\\": \\\"b\\\"}]\"}");
    {
        hf_future_t *f = hf_hub_list_files(hub, &ref);
        const hf_file_list_t *l;
        tu_settle(f);
        ck_assert_msg(code_of(f) == 0, "%s", message_of(f));
        l = hf_future_value(f);
        ck_assert_uint_eq(l->n, 2);
        ck_assert_uint_eq(l->files[0].size, 9007199254740992ull);
        ck_assert_uint_eq(l->files[1].size, 0);
        hf_future_release(f);
    }
}
END_TEST

/* ---- the snapshot folder ----------------------------------------------------------------- */

/* The Hub answers "sub" (a folder of this commit: sub/nested.txt is cached) with a file's
 * metadata. The link cannot be made where a folder stands; before, that failure went
 * unnoticed (symlink's EEXIST) and the folder's path was handed out as the file. */
START_TEST(a_file_where_the_snapshot_has_a_folder_fails_instead_of_handing_out_the_folder)
{
    char commit[41], path[1024];
    hf_future_t *f;
    struct stat st;

    main_commit(commit);
    f = download(commit, "sub/nested.txt");
    ck_assert_int_eq(code_of(f), 0);
    hf_future_release(f);
    snprintf(path, sizeof path, "/org/model/resolve/%s/sub", commit);
    fault("{\"path\": \"%s\", \"location\": \"{hub}/org/model/resolve/%s/config.json\"}", path,
          commit);
    f = download(commit, "sub");
    if (code_of(f) == 0) {
        const char *got = hf_future_value(f);
        ck_assert_msg(stat(got, &st) == 0 && S_ISREG(st.st_mode), "handed out %s, a folder",
                      got);
    }
    ck_assert_msg(code_of(f) == HF_EIO, "got %d: %s", code_of(f), message_of(f));
    ck_assert_ptr_nonnull(strstr(message_of(f), "folder"));
    hf_future_release(f);
    /* the folder and what it holds are untouched */
    snprintf(path, sizeof path, "%s/models--org--model/snapshots/%s/sub/nested.txt", cache,
             commit);
    ck_assert(tu_same_bytes(path, NESTED, sizeof NESTED - 1));
}
END_TEST

static Suite *hostile_suite(void)
{
    Suite *s = suite_create("hostile");
    TCase *commit = tcase_create("commit");
    TCase *listing = tcase_create("listing");
    TCase *folder = tcase_create("folder");

    tcase_set_timeout(commit, 60);
    tcase_add_checked_fixture(commit, setup, teardown);
    tcase_add_test(commit, a_download_by_commit_answered_for_another_commit_is_refused);
    tcase_add_test(commit, a_snapshot_whose_file_comes_from_another_commit_fails_instead_of_missing_it);
    tcase_add_test(commit, repo_info_at_a_commit_answered_for_another_is_refused);
    suite_add_tcase(s, commit);
    tcase_set_timeout(listing, 60);
    tcase_add_checked_fixture(listing, setup, teardown);
    tcase_add_test(listing, a_listing_with_a_path_that_is_a_file_and_a_folder_is_refused_before_any_file);
    tcase_add_test(listing, a_listing_that_names_a_file_twice_is_refused_before_any_file);
    tcase_add_test(listing, a_tree_listing_with_a_duplicate_or_a_file_and_folder_is_refused);
    tcase_add_test(listing, a_listing_with_a_size_that_is_not_a_byte_count_is_refused);
    suite_add_tcase(s, listing);
    tcase_set_timeout(folder, 60);
    tcase_add_checked_fixture(folder, setup, teardown);
    tcase_add_test(folder, a_file_where_the_snapshot_has_a_folder_fails_instead_of_handing_out_the_folder);
    suite_add_tcase(s, folder);
    return s;
}

TU_MAIN(hostile_suite)
