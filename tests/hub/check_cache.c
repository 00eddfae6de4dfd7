/*
 * check_cache.c - the cache on disk: refs, relative links, markers, locks, and offline
 * reads of a tree laid out exactly as huggingface_hub writes it.
 */
#include "common/testutil.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hub/cache.h"
#include "hub/hash.h"

#define COMMIT "5e8fa3b6c0a4d2f1e9b7c3a5d1f2e4b6a8c0d2e4"
#define COMMIT2 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static char root[256];

static void make_root(void)
{
    snprintf(root, sizeof root, "/tmp/hfasync-cache-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
}

static void rm_root(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    ck_assert_int_eq(system(cmd), 0);
}

static void write_file(const char *path, const char *data)
{
    FILE *f;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", path);
    ck_assert_int_eq(system(cmd), 0);
    f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(data, f);
    fclose(f);
}

/* What `f` holds (up to size - 1 bytes), NUL-terminated in `buf`; `f` is closed with
 * `done` (fclose or pclose). NULL if `f` is NULL. */
static char *read_all(FILE *f, int (*done)(FILE *), char *buf, size_t size)
{
    size_t n;
    if (!f)
        return NULL;
    n = fread(buf, 1, size - 1, f);
    done(f);
    buf[n] = '\0';
    return buf;
}

static char *slurp(const char *path)
{
    static char buf[4096];
    return read_all(fopen(path, "rb"), fclose, buf, sizeof buf);
}

START_TEST(refs_are_written_without_newline_and_only_when_they_change)
{
    hfi_cache_loc_t loc;
    char commit[41], path[400];
    struct stat st1, st2;

    make_root();
    ck_assert_int_eq(hfi_cache_loc_init(&loc, root, HF_REPO_MODEL, "org/name"), 0);
    ck_assert_str_eq(loc.folder, "models--org--name");
    ck_assert_int_eq(hfi_cache_read_ref(&loc, "main", commit), HF_ENOENT);
    ck_assert_int_eq(hfi_cache_write_ref(&loc, "main", COMMIT, NULL), 0);
    snprintf(path, sizeof path, "%s/models--org--name/refs/main", root);
    ck_assert_str_eq(slurp(path), COMMIT);              /* 40 bytes, no newline */
    ck_assert_int_eq(stat(path, &st1), 0);
    ck_assert_int_eq((int)st1.st_size, 40);
    ck_assert_int_eq(hfi_cache_write_ref(&loc, "main", COMMIT, NULL), 0);
    ck_assert_int_eq(stat(path, &st2), 0);
    ck_assert(st1.st_ino == st2.st_ino);                /* untouched */
    ck_assert_int_eq(hfi_cache_write_ref(&loc, "refs/pr/1", COMMIT2, NULL), 0);
    snprintf(path, sizeof path, "%s/models--org--name/refs/refs/pr/1", root);
    ck_assert_str_eq(slurp(path), COMMIT2);
    ck_assert_int_eq(hfi_cache_read_ref(&loc, "refs/pr/1", commit), 0);
    ck_assert_str_eq(commit, COMMIT2);
    /* a ref another client wrote with a newline still reads */
    snprintf(path, sizeof path, "%s/models--org--name/refs/v1", root);
    write_file(path, COMMIT "\n");
    ck_assert_int_eq(hfi_cache_read_ref(&loc, "v1", commit), 0);
    write_file(path, "not a commit");
    ck_assert_int_eq(hfi_cache_read_ref(&loc, "v1", commit), HF_ECORRUPT);
    hfi_cache_loc_free(&loc);
    rm_root();
}
END_TEST

/* Every file name in `dir`, sorted, joined with spaces. */
static char *names_in(const char *dir)
{
    static char out[1024];
    char cmd[600], *got;
    snprintf(cmd, sizeof cmd, "ls -A '%s' | sort | tr '\\n' ' '", dir);
    got = read_all(popen(cmd, "r"), pclose, out, sizeof out);
    ck_assert_ptr_nonnull(got);
    return got;
}

START_TEST(a_short_ref_left_by_a_killed_writer_is_replaced_and_no_temporary_file_stays)
{
    hfi_cache_loc_t loc;
    char commit[41], path[480], refs[400];

    make_root();
    ck_assert_int_eq(hfi_cache_loc_init(&loc, root, HF_REPO_MODEL, "org/name"), 0);
    snprintf(refs, sizeof refs, "%s/models--org--name/refs", root);
    snprintf(path, sizeof path, "%s/main", refs);
    /* a writer killed in the middle of creating the ref left part of it */
    write_file(path, "5e8fa3b6");
    ck_assert_int_eq(hfi_cache_read_ref(&loc, "main", commit), HF_ECORRUPT);
    ck_assert_int_eq(hfi_cache_write_ref(&loc, "main", COMMIT, NULL), 0);
    ck_assert_str_eq(slurp(path), COMMIT);
    /* a new ref and a moved one: nothing but the refs themselves in refs/ */
    ck_assert_int_eq(hfi_cache_write_ref(&loc, "v2", COMMIT2, NULL), 0);
    ck_assert_int_eq(hfi_cache_write_ref(&loc, "main", COMMIT2, NULL), 0);
    ck_assert_int_eq(hfi_cache_read_ref(&loc, "main", commit), 0);
    ck_assert_str_eq(commit, COMMIT2);
    ck_assert_str_eq(names_in(refs), "main v2 ");
    hfi_cache_loc_free(&loc);
    rm_root();
}
END_TEST

START_TEST(snapshot_links_are_relative_one_level_per_folder)
{
    hfi_cache_loc_t loc;
    char path[400], target[400], blob[400];
    const char *etag = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    ssize_t n;

    make_root();
    ck_assert_int_eq(hfi_cache_loc_init(&loc, root, HF_REPO_DATASET, "org/data"), 0);
    snprintf(blob, sizeof blob, "%s/datasets--org--data/blobs/%s", root, etag);
    write_file(blob, "");
    ck_assert_int_eq(hfi_cache_link(&loc, COMMIT, "top.bin", etag, 0, NULL), 0);
    ck_assert_int_eq(hfi_cache_link(&loc, COMMIT, "a/b/deep.bin", etag, 0, NULL), 0);
    snprintf(path, sizeof path, "%s/datasets--org--data/snapshots/%s/top.bin", root, COMMIT);
    n = readlink(path, target, sizeof target - 1);
    ck_assert_int_gt(n, 0);
    target[n] = '\0';
    ck_assert_str_eq(target, "../../blobs/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    ck_assert_int_eq(access(path, R_OK), 0);
    snprintf(path, sizeof path, "%s/datasets--org--data/snapshots/%s/a/b/deep.bin", root, COMMIT);
    n = readlink(path, target, sizeof target - 1);
    target[n] = '\0';
    ck_assert_str_eq(target, "../../../../blobs/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    ck_assert_int_eq(access(path, R_OK), 0);
    /* relinking replaces; with symlinks off it is a copy */
    ck_assert_int_eq(hfi_cache_link(&loc, COMMIT, "top.bin", etag, 1, NULL), 0);
    snprintf(path, sizeof path, "%s/datasets--org--data/snapshots/%s/top.bin", root, COMMIT);
    ck_assert_int_lt(readlink(path, target, sizeof target), 0);
    ck_assert_int_eq(access(path, R_OK), 0);
    hfi_cache_loc_free(&loc);
    rm_root();
}
END_TEST

START_TEST(lock_files_live_under_dot_locks_with_mode_0664_and_stay)
{
    hfi_cache_loc_t loc;
    char *lock;
    struct stat st;
    int fd, fd2;
    hf_error_t e;

    make_root();
    ck_assert_int_eq(hfi_cache_loc_init(&loc, root, HF_REPO_MODEL, "org/name"), 0);
    lock = hfi_cache_lock_path(root, &loc, COMMIT);
    {
        char want[400];
        snprintf(want, sizeof want, "%s/.locks/models--org--name/%s.lock", root, COMMIT);
        ck_assert_str_eq(lock, want);
    }
    fd = hfi_cache_lock(lock, 0, NULL);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(stat(lock, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0664);
    fd2 = hfi_cache_lock(lock, 50, &e);                 /* held: times out */
    ck_assert_int_eq(fd2, HF_ETIMEDOUT);
    ck_assert_int_eq(e.code, HF_ETIMEDOUT);
    hfi_cache_unlock(fd);
    ck_assert_int_eq(stat(lock, &st), 0);               /* never deleted */
    fd2 = hfi_cache_lock(lock, 50, NULL);
    ck_assert_int_ge(fd2, 0);
    hfi_cache_unlock(fd2);
    free(lock);
    hfi_cache_loc_free(&loc);
    rm_root();
}
END_TEST

START_TEST(missing_markers_are_empty_files_under_no_exist)
{
    hfi_cache_loc_t loc;
    char path[400];
    struct stat st;

    make_root();
    ck_assert_int_eq(hfi_cache_loc_init(&loc, root, HF_REPO_MODEL, "org/name"), 0);
    ck_assert_int_eq(hfi_cache_mark_missing(&loc, COMMIT, "sub/missing.bin"), 0);
    snprintf(path, sizeof path, "%s/models--org--name/.no_exist/%s/sub/missing.bin", root, COMMIT);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq((int)st.st_size, 0);
    hfi_cache_loc_free(&loc);
    rm_root();
}
END_TEST

START_TEST(hashes_name_blobs_like_git_and_sha256)
{
    hfi_hash_t h;
    char hex[65];
    /* git hash-object of "hello\n" */
    ck_assert_int_eq(hfi_hash_init(&h, "ce013625030ba8dba906f756967f9e9ca394464a", 6), 0);
    hfi_hash_update(&h, "hello\n", 6);
    ck_assert_int_eq(hfi_hash_final(&h, hex), 0);
    ck_assert_str_eq(hex, "ce013625030ba8dba906f756967f9e9ca394464a");
    ck_assert_int_eq(hfi_hash_init(&h, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03", 6), 0);
    hfi_hash_update(&h, "hel", 3);
    hfi_hash_update(&h, "lo\n", 3);
    ck_assert_int_eq(hfi_hash_final(&h, hex), 0);
    ck_assert_str_eq(hex, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
    ck_assert_int_eq(hfi_hash_init(&h, "short", 6), HF_EPROTO);
}
END_TEST

/* A tree as huggingface_hub leaves it: blobs named by etag, relative links, a ref without
 * newline, a .no_exist marker. Read back offline: no request at all. */
START_TEST(an_official_client_cache_reads_back_offline_with_zero_requests)
{
    char p[512], *path = NULL;
    const char *cfg_etag = "ce013625030ba8dba906f756967f9e9ca394464a";
    hf_runtime_t *rt = tu_runtime(1);
    hf_hub_config_t cfg;
    hf_hub_t *hub;
    hf_hub_stats_t st;
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, "main", "config.json" };
    hf_future_t *f;

    make_root();
    snprintf(p, sizeof p, "%s/models--org--model/blobs/%s", root, cfg_etag);
    write_file(p, "hello\n");
    snprintf(p, sizeof p, "%s/models--org--model/snapshots/%s", root, COMMIT);
    {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s/sub' && ln -s ../../blobs/%s '%s/config.json' && "
                 "ln -s ../../../blobs/%s '%s/sub/nested.json'", p, cfg_etag, p, cfg_etag, p);
        ck_assert_int_eq(system(cmd), 0);
    }
    snprintf(p, sizeof p, "%s/models--org--model/refs/main", root);
    write_file(p, COMMIT);
    snprintf(p, sizeof p, "%s/models--org--model/.no_exist/%s/absent.json", root, COMMIT);
    write_file(p, "");

    memset(&cfg, 0, sizeof cfg);
    cfg.cache_dir = root;
    cfg.offline = HF_YES;
    cfg.endpoint = "http://127.0.0.1:9";        /* nothing listens there: must not matter */
    hub = hf_hub_new(rt, &cfg, NULL);
    ck_assert_ptr_nonnull(hub);
    ck_assert_int_eq(hf_hub_is_offline(hub), 1);

    ck_assert_int_eq(hf_hub_try_cache(hub, &ref, &path), 0);
    snprintf(p, sizeof p, "%s/models--org--model/snapshots/%s/config.json", root, COMMIT);
    ck_assert_str_eq(path, p);
    free(path);
    f = hf_hub_download(hub, &ref, NULL);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_str_eq(hf_future_value(f), p);
    ck_assert_str_eq(slurp(hf_future_value(f)), "hello\n");
    hf_future_release(f);

    ref.path = "sub/nested.json";                   /* by commit, nested */
    ref.revision = COMMIT;
    f = hf_hub_download(hub, &ref, NULL);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_str_eq(slurp(hf_future_value(f)), "hello\n");
    hf_future_release(f);

    ref.path = "absent.json";                       /* known missing */
    ref.revision = "main";
    ck_assert_int_eq(hf_hub_try_cache(hub, &ref, &path), HF_EENTRY_NOT_FOUND);
    f = hf_hub_download(hub, &ref, NULL);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_EENTRY_NOT_FOUND);
    hf_future_release(f);

    ref.path = "never-seen.json";                   /* unknown */
    ck_assert_int_eq(hf_hub_try_cache(hub, &ref, &path), HF_ENOENT);
    f = hf_hub_download(hub, &ref, NULL);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_EOFFLINE);
    hf_future_release(f);

    ref.revision = "v2";                            /* a ref that was never fetched */
    ref.path = "config.json";
    ck_assert_int_eq(hf_hub_try_cache(hub, &ref, &path), HF_ENOENT);

    hf_hub_stats(hub, &st);
    ck_assert_uint_eq(st.requests, 0);
    ck_assert_uint_eq(st.curl_calls_compute, 0);
    ck_assert_uint_eq(st.curl_calls_other, 0);
    hf_hub_free(hub);
    hf_runtime_free(rt);
    rm_root();
}
END_TEST

START_TEST(bad_names_are_refused_before_any_file_is_touched)
{
    hf_runtime_t *rt = tu_runtime(1);
    hf_hub_config_t cfg;
    hf_hub_t *hub;
    const char *paths[] = { "../escape", "/abs", "a/../../x", "a\\b", "%2e%2e/x" };
    char *out;

    make_root();
    memset(&cfg, 0, sizeof cfg);
    cfg.cache_dir = root;
    cfg.offline = HF_YES;
    hub = hf_hub_new(rt, &cfg, NULL);
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, paths[i] };
        hf_future_t *f = hf_hub_download(hub, &ref, NULL);
        ck_assert_int_eq(hf_future_state(f), HF_FUTURE_REJECTED);  /* at once, no I/O */
        ck_assert_int_eq(hf_future_error(f)->code, HF_EINVAL);
        hf_future_release(f);
        ck_assert_int_eq(hf_hub_try_cache(hub, &ref, &out), HF_EINVAL);
    }
    {
        hf_file_ref_t ref = { "../org", HF_REPO_MODEL, "main", "x" };
        hf_future_t *f = hf_hub_download(hub, &ref, NULL);
        ck_assert_int_eq(hf_future_error(f)->code, HF_EINVAL);
        hf_future_release(f);
        ref.repo_id = "org/model";
        ref.revision = "../../x";
        f = hf_hub_download(hub, &ref, NULL);
        ck_assert_int_eq(hf_future_error(f)->code, HF_EINVAL);
        hf_future_release(f);
    }
    {
        /* the cache folder is still empty */
        char cmd[400];
        snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", root);
        ck_assert_int_eq(system(cmd), 0);
    }
    hf_hub_free(hub);
    hf_runtime_free(rt);
    rm_root();
}
END_TEST

/* A symlink planted where refs/ or .no_exist/ (or a folder below them) should be is never
 * written through: the write fails and nothing appears at the link's target. */
START_TEST(refs_and_markers_are_never_written_through_a_planted_symlink)
{
    hfi_cache_loc_t loc;
    char outside[300], link[400], cmd[900];
    hf_error_t e;

    make_root();
    snprintf(outside, sizeof outside, "%s/outside", root);
    ck_assert_int_eq(mkdir(outside, 0777), 0);
    ck_assert_int_eq(hfi_cache_loc_init(&loc, root, HF_REPO_MODEL, "org/name"), 0);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/models--org--name'", root);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(link, sizeof link, "%s/models--org--name/refs", root);
    ck_assert_int_eq(symlink(outside, link), 0);
    ck_assert_int_eq(hfi_cache_write_ref(&loc, "main", COMMIT, &e), HF_EIO);
    ck_assert_msg(strstr(e.message, "symlink") != NULL, "%s", e.message);
    ck_assert_int_eq(hfi_cache_write_ref(&loc, "refs/pr/1", COMMIT, &e), HF_EIO);
    snprintf(link, sizeof link, "%s/models--org--name/.no_exist", root);
    ck_assert_int_eq(symlink(outside, link), 0);
    ck_assert_int_lt(hfi_cache_mark_missing(&loc, COMMIT, "missing.txt"), 0);
    ck_assert_str_eq(names_in(outside), "");
    hfi_cache_loc_free(&loc);
    rm_root();
}
END_TEST

static Suite *cache_suite(void)
{
    Suite *s = suite_create("cache");
    TCase *tc = tcase_create("hub");
    tcase_add_test(tc, refs_are_written_without_newline_and_only_when_they_change);
    tcase_add_test(tc, a_short_ref_left_by_a_killed_writer_is_replaced_and_no_temporary_file_stays);
    tcase_add_test(tc, snapshot_links_are_relative_one_level_per_folder);
    tcase_add_test(tc, lock_files_live_under_dot_locks_with_mode_0664_and_stay);
    tcase_add_test(tc, missing_markers_are_empty_files_under_no_exist);
    tcase_add_test(tc, hashes_name_blobs_like_git_and_sha256);
    tcase_add_test(tc, an_official_client_cache_reads_back_offline_with_zero_requests);
    tcase_add_test(tc, bad_names_are_refused_before_any_file_is_touched);
    tcase_add_test(tc, refs_and_markers_are_never_written_through_a_planted_symlink);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(cache_suite)
