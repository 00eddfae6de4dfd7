/*
 * check_contract_hub.c - sentences of include/hf/hub.h that no other suite asserts: argument
 * refusals, NULL returns, offline answers, what a metadata request leaves on disk, the
 * environment variables the hub reads, and the cache functions' error codes.
 */
#include "common/testutil.h"

#include <dirent.h>
#include <pwd.h>

#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mockhub.h"

#define TOKEN "hf_contract_tok"

static tu_mock_t mock;
static char cache[256];
static hf_runtime_t *rt;

static void setup(void)
{
    tu_mock_root(&mock);
    tu_mock_file(&mock, "model", "org/model", "config.json", "{\"a\": 1}\n", 9);
    tu_mock_file(&mock, "model", "org/model", "b/two.txt", "two\n", 4);
    tu_mock_file(&mock, "model", "org/model", "a.txt", "one\n", 4);
    tu_mock_file(&mock, "model", "org/gated", "w.txt", "w\n", 2);
    tu_mock_settings(&mock, "model", "org/gated",
                     "{\"gated\": \"manual\", \"tokens\": [\"" TOKEN "\"]}");
    tu_mock_file(&mock, "model", "org/private", "p.txt", "p\n", 2);
    tu_mock_settings(&mock, "model", "org/private",
                     "{\"private\": true, \"tokens\": [\"" TOKEN "\"]}");
    for (int i = 0; i < 6; i++) {
        char name[32];
        static char body[100000];
        snprintf(name, sizeof name, "w%d.bin", i);
        memset(body, 'a' + i, sizeof body);
        tu_mock_file(&mock, "model", "org/many", name, body, sizeof body);
    }
    tu_mock_settings(&mock, "model", "org/many", "{\"lfs\": [\"*.bin\"]}");
    tu_mock_start(&mock, NULL);
    tu_tmpdir(cache, sizeof cache, "contract-cache");
    rt = tu_runtime(2);
}

static void teardown(void)
{
    hf_runtime_free(rt);
    tu_mock_stop(&mock);
    tu_rm_tree(cache);
}

static hf_hub_t *hub_opts(const char *token, int offline)
{
    hf_hub_config_t c;
    hf_error_t e;
    hf_hub_t *h;

    memset(&c, 0, sizeof c);
    c.endpoint = mock.hub;
    c.cache_dir = cache;
    c.token = token ? token : "";
    c.offline = offline;
    c.backoff_ms = 10;
    h = hf_hub_new(rt, &c, &e);
    ck_assert_msg(h != NULL, "hf_hub_new: %s", e.message);
    return h;
}

static long requests(void)
{
    return tu_mock_count(&mock, "HEAD", "") + tu_mock_count(&mock, "GET", "");
}

static int code_of(hf_future_t *f)
{
    int st = tu_settle(f);
    int code = st == HF_FUTURE_FULFILLED ? 0 : hf_future_error(f)->code;
    hf_future_release(f);
    return code;
}

static char *download_ok(hf_hub_t *h, const char *repo, const char *rev, const char *path)
{
    hf_file_ref_t ref = { repo, HF_REPO_MODEL, rev, path };
    hf_future_t *f = hf_hub_download(h, &ref, NULL);
    char *p;
    ck_assert_msg(tu_settle(f) == HF_FUTURE_FULFILLED, "%s: %s", path,
                  hf_future_state(f) == HF_FUTURE_REJECTED ? hf_future_error(f)->message : "?");
    p = strdup(hf_future_value(f));
    hf_future_release(f);
    return p;
}

/* 1 if <cache>/<rel> exists (as anything, a link included). */
static int exists(const char *rel)
{
    char p[1024];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", cache, rel);
    return lstat(p, &st) == 0;
}

static void env_clean(void)
{
    const char *vars[] = { "HF_ENDPOINT", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME",
                           "XDG_CACHE_HOME", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN",
                           "HF_TOKEN_PATH", "HF_HUB_DISABLE_IMPLICIT_TOKEN", "HF_HUB_OFFLINE",
                           "TRANSFORMERS_OFFLINE" };
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        unsetenv(vars[i]);
}

START_TEST(hub_new_refuses_what_it_cannot_use_and_takes_what_python_takes)
{
    hf_hub_config_t c;
    hf_error_t e;

    memset(&c, 0, sizeof c);
    c.cache_dir = cache;
    memset(&e, 0, sizeof e);
    ck_assert_ptr_null(hf_hub_new(NULL, &c, &e));
    ck_assert_int_eq(e.code, HF_EINVAL);
    c.endpoint = "ftp://example.com";
    memset(&e, 0, sizeof e);
    ck_assert_ptr_null(hf_hub_new(rt, &c, &e));
    ck_assert_int_eq(e.code, HF_EINVAL);
    ck_assert_ptr_null(hf_hub_new(rt, &c, NULL));      /* err may be NULL */
    c.endpoint = "http://user:secret@127.0.0.1:1";
    memset(&e, 0, sizeof e);
    ck_assert_ptr_null(hf_hub_new(rt, &c, &e));
    ck_assert_int_eq(e.code, HF_EINVAL);
    ck_assert_msg(strstr(e.message, "secret") == NULL, "%s", e.message);   /* not echoed */
    c.endpoint = mock.hub;
    c.token = "hf_a\nb";
    memset(&e, 0, sizeof e);
    ck_assert_ptr_null(hf_hub_new(rt, &c, &e));
    ck_assert_int_eq(e.code, HF_EINVAL);
    c.token = "";
    /* a URL's scheme is case-insensitive (RFC 3986): HTTP:// was refused */
    {
        char upper[256];
        hf_hub_t *h;
        snprintf(upper, sizeof upper, "HTTP%s", mock.hub + 4);
        c.endpoint = upper;
        memset(&e, 0, sizeof e);
        h = hf_hub_new(rt, &c, &e);
        ck_assert_msg(h != NULL, "%s", e.message);
        hf_hub_free(h);
        c.endpoint = mock.hub;
    }
    /* no $HOME: the home folder comes from the password database, as Python's expanduser
     * (hf_hub_new refused to start); no file is written there */
    {
        struct passwd *pw = getpwuid(getuid());
        char want[1024], got[1024];
        hf_hub_t *h;

        ck_assert_ptr_nonnull(pw);
        c.cache_dir = NULL;
        env_clean();
        unsetenv("HOME");
        memset(&e, 0, sizeof e);
        h = hf_hub_new(rt, &c, &e);
        ck_assert_msg(h != NULL, "%s", e.message);
        snprintf(want, sizeof want, "%s/.cache/huggingface/hub", pw->pw_dir);
        snprintf(got, sizeof got, "%s", hf_hub_cache_dir(h));
        ck_assert_str_eq(got, want);
        hf_hub_free(h);
        c.cache_dir = "~/elsewhere";
        h = hf_hub_new(rt, &c, &e);
        ck_assert_ptr_nonnull(h);
        snprintf(want, sizeof want, "%s/elsewhere", pw->pw_dir);
        ck_assert_str_eq(hf_hub_cache_dir(h), want);
        hf_hub_free(h);
    }
    /* the accessors and stats on NULL */
    ck_assert_ptr_null(hf_hub_endpoint(NULL));
    ck_assert_ptr_null(hf_hub_cache_dir(NULL));
    ck_assert_int_eq(hf_hub_is_offline(NULL), 0);
    ck_assert_int_eq(hf_hub_has_token(NULL), 0);
    {
        hf_hub_stats_t st;
        hf_hub_t *h = hub_opts(NULL, HF_NO);
        ck_assert_int_eq(hf_hub_stats(NULL, &st), HF_EINVAL);
        ck_assert_int_eq(hf_hub_stats(h, NULL), HF_EINVAL);
        ck_assert_int_eq(hf_hub_stats(h, &st), 0);
        hf_hub_free(h);
    }
    hf_hub_free(NULL);
    ck_assert_str_eq(hf_repo_type_name((hf_repo_type_t)42), "model");
    ck_assert_str_eq(hf_repo_type_name(HF_REPO_DATASET), "dataset");
    ck_assert_str_eq(hf_repo_type_name(HF_REPO_SPACE), "space");
    ck_assert_int_eq(hf_glob_match(NULL, "a"), 0);
    ck_assert_int_eq(hf_glob_match("a", NULL), 0);
}
END_TEST

static hf_hub_t *env_hub(void)
{
    hf_error_t e;
    hf_hub_t *h = hf_hub_new(rt, NULL, &e);
    ck_assert_msg(h != NULL, "%s", e.message);
    return h;
}

START_TEST(the_environment_gives_endpoint_cache_token_and_offline)
{
    char want[600], tokfile[600];
    hf_hub_t *h;
    FILE *f;

    env_clean();
    setenv("HOME", cache, 1);
    h = env_hub();
    snprintf(want, sizeof want, "%s/.cache/huggingface/hub", cache);
    ck_assert_str_eq(hf_hub_cache_dir(h), want);
    ck_assert_str_eq(hf_hub_endpoint(h), "https://huggingface.co");
    ck_assert_int_eq(hf_hub_has_token(h), 0);
    ck_assert_int_eq(hf_hub_is_offline(h), 0);
    hf_hub_free(h);

    setenv("XDG_CACHE_HOME", "/x/xdg", 1);
    h = env_hub();
    ck_assert_str_eq(hf_hub_cache_dir(h), "/x/xdg/huggingface/hub");
    hf_hub_free(h);
    setenv("HF_HOME", "/x/home", 1);
    h = env_hub();
    ck_assert_str_eq(hf_hub_cache_dir(h), "/x/home/hub");
    hf_hub_free(h);
    setenv("HUGGINGFACE_HUB_CACHE", "/x/legacy", 1);
    h = env_hub();
    ck_assert_str_eq(hf_hub_cache_dir(h), "/x/legacy");
    hf_hub_free(h);
    setenv("HF_HUB_CACHE", "/x/new", 1);
    setenv("HF_ENDPOINT", mock.hub, 1);
    setenv("HF_HUB_OFFLINE", "1", 1);
    h = env_hub();
    ck_assert_str_eq(hf_hub_cache_dir(h), "/x/new");
    ck_assert_str_eq(hf_hub_endpoint(h), mock.hub);
    ck_assert_int_eq(hf_hub_is_offline(h), 1);
    hf_hub_free(h);

    /* the token: the file under HF_HOME, HF_TOKEN_PATH, the variables, and the off switch */
    setenv("HF_HOME", cache, 1);
    snprintf(tokfile, sizeof tokfile, "%s/token", cache);
    f = fopen(tokfile, "w");
    ck_assert_ptr_nonnull(f);
    fputs(TOKEN "\n", f);
    fclose(f);
    h = env_hub();
    ck_assert_int_eq(hf_hub_has_token(h), 1);
    hf_hub_free(h);
    setenv("HF_TOKEN_PATH", "/nonexistent/token", 1);
    h = env_hub();
    ck_assert_int_eq(hf_hub_has_token(h), 0);
    hf_hub_free(h);
    setenv("HUGGING_FACE_HUB_TOKEN", TOKEN, 1);
    h = env_hub();
    ck_assert_int_eq(hf_hub_has_token(h), 1);
    hf_hub_free(h);
    setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1", 1);
    setenv("HF_TOKEN", TOKEN, 1);
    h = env_hub();
    ck_assert_int_eq(hf_hub_has_token(h), 0);
    hf_hub_free(h);
    unsetenv("HF_HUB_DISABLE_IMPLICIT_TOKEN");
    {
        hf_hub_config_t c;
        hf_error_t e;
        memset(&c, 0, sizeof c);
        c.token = "";                   /* "": no token, whatever the environment says */
        h = hf_hub_new(rt, &c, &e);
        ck_assert_ptr_nonnull(h);
        ck_assert_int_eq(hf_hub_has_token(h), 0);
        hf_hub_free(h);
        c.token = NULL;
        c.offline = HF_NO;              /* the config's switch beats $HF_HUB_OFFLINE */
        h = hf_hub_new(rt, &c, &e);
        ck_assert_int_eq(hf_hub_has_token(h), 1);
        ck_assert_int_eq(hf_hub_is_offline(h), 0);
        hf_hub_free(h);
    }
    unlink(tokfile);
}
END_TEST

START_TEST(bad_arguments_give_null_or_a_rejected_future_and_no_request)
{
    hf_hub_t *h = hub_opts(NULL, HF_NO);
    hf_file_ref_t ok = { "org/model", HF_REPO_MODEL, NULL, "config.json" };
    hf_file_ref_t norepo = { NULL, HF_REPO_MODEL, NULL, "config.json" };
    hf_file_ref_t nopath = { "org/model", HF_REPO_MODEL, NULL, NULL };
    hf_file_ref_t badtype = { "org/model", (hf_repo_type_t)9, NULL, "config.json" };
    hf_file_ref_t badrev = { "org/model", HF_REPO_MODEL, "a..b", "config.json" };
    hf_file_ref_t badpath = { "org/model", HF_REPO_MODEL, NULL, "../x" };
    const hf_file_ref_t *bad[] = { &norepo, &nopath, &badtype, &badrev, &badpath };
    char *path = (char *)"sentinel";
    hf_error_t e;

    ck_assert_ptr_null(hf_hub_download(NULL, &ok, NULL));
    ck_assert_ptr_null(hf_hub_download(h, NULL, NULL));
    ck_assert_ptr_null(hf_hub_file_metadata(NULL, &ok));
    ck_assert_ptr_null(hf_hub_file_metadata(h, NULL));
    ck_assert_ptr_null(hf_hub_repo_info(NULL, &ok));
    ck_assert_ptr_null(hf_hub_repo_info(h, NULL));
    ck_assert_ptr_null(hf_hub_list_files(NULL, &ok));
    ck_assert_ptr_null(hf_hub_list_files(h, NULL));
    ck_assert_ptr_null(hf_hub_snapshot(NULL, &ok, NULL));
    ck_assert_ptr_null(hf_hub_snapshot(h, NULL, NULL));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        hf_future_t *f = hf_hub_download(h, bad[i], NULL);
        ck_assert_ptr_nonnull(f);
        /* refused before any work: already settled when the call returns */
        ck_assert_int_eq(hf_future_state(f), HF_FUTURE_REJECTED);
        ck_assert_int_eq(code_of(f), HF_EINVAL);
        ck_assert_int_eq(code_of(hf_hub_file_metadata(h, bad[i])), HF_EINVAL);
        if (bad[i] != &nopath && bad[i] != &badpath) {  /* ref->path is ignored there */
            ck_assert_int_eq(code_of(hf_hub_repo_info(h, bad[i])), HF_EINVAL);
            ck_assert_int_eq(code_of(hf_hub_snapshot(h, bad[i], NULL)), HF_EINVAL);
        }
        ck_assert_int_eq(hf_hub_try_cache(h, bad[i], &path), HF_EINVAL);
        memset(&e, 0, sizeof e);
        ck_assert_int_eq(hf_hub_download_blocking(h, bad[i], NULL, &path, &e), HF_EINVAL);
        ck_assert_ptr_null(path);       /* NULL on failure */
        ck_assert_int_eq(e.code, HF_EINVAL);
        path = (char *)"sentinel";
    }
    ck_assert_int_eq(code_of(hf_hub_list_files(h, &badpath)), HF_EINVAL);
    ck_assert_int_eq(hf_hub_download_blocking(NULL, &ok, NULL, &path, &e), HF_EINVAL);
    ck_assert_int_eq(hf_hub_download_blocking(h, NULL, NULL, &path, &e), HF_EINVAL);
    ck_assert_int_eq(hf_hub_download_blocking(h, &ok, NULL, NULL, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_hub_try_cache(NULL, &ok, &path), HF_EINVAL);
    ck_assert_int_eq(hf_hub_try_cache(h, NULL, &path), HF_EINVAL);
    ck_assert_int_eq(hf_hub_try_cache(h, &ok, NULL), HF_EINVAL);
    ck_assert_int_eq(requests(), 0);
    ck_assert_int_eq(exists("models--org--model"), 0);
    hf_hub_free(h);
}
END_TEST

START_TEST(snapshot_pattern_arrays_that_are_null_or_hold_null_are_einval)
{
    hf_hub_t *h = hub_opts(NULL, HF_NO);
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, NULL };
    const char *holds_null[] = { "*.txt", NULL };
    hf_snapshot_opts_t o;

    memset(&o, 0, sizeof o);
    o.ninclude = 1;
    ck_assert_int_eq(code_of(hf_hub_snapshot(h, &ref, &o)), HF_EINVAL);
    o.include = holds_null;
    o.ninclude = 2;
    ck_assert_int_eq(code_of(hf_hub_snapshot(h, &ref, &o)), HF_EINVAL);
    memset(&o, 0, sizeof o);
    o.nexclude = 1;
    ck_assert_int_eq(code_of(hf_hub_snapshot(h, &ref, &o)), HF_EINVAL);
    o.exclude = holds_null;
    o.nexclude = 2;
    ck_assert_int_eq(code_of(hf_hub_snapshot(h, &ref, &o)), HF_EINVAL);
    ck_assert_int_eq(requests(), 0);
    hf_hub_free(h);
}
END_TEST

START_TEST(offline_every_call_answers_from_the_cache_or_eoffline_with_no_request)
{
    hf_hub_t *on = hub_opts(NULL, HF_NO), *off;
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "config.json" };
    hf_file_ref_t other = { "org/model", HF_REPO_MODEL, NULL, "a.txt" };
    hf_file_ref_t missing = { "org/model", HF_REPO_MODEL, NULL, "nope.txt" };
    char *p = download_ok(on, "org/model", NULL, "config.json"), *q = NULL;
    hf_error_t e;

    hf_future_release(hf_hub_download(on, &missing, NULL));
    TU_EVENTUALLY(hf_hub_try_cache(on, &missing, &q) == HF_EENTRY_NOT_FOUND);
    hf_hub_free(on);
    tu_mock_reset(&mock);
    off = hub_opts(NULL, HF_YES);
    ck_assert_int_eq(hf_hub_is_offline(off), 1);
    ck_assert_int_eq(hf_hub_download_blocking(off, &ref, NULL, &q, &e), 0);
    ck_assert_str_eq(q, p);
    free(q);
    ck_assert_int_eq(hf_hub_download_blocking(off, &other, NULL, &q, &e), HF_EOFFLINE);
    ck_assert_ptr_null(q);
    ck_assert_int_eq(e.code, HF_EOFFLINE);
    ck_assert_int_eq(code_of(hf_hub_download(off, &missing, NULL)), HF_EENTRY_NOT_FOUND);
    ck_assert_int_eq(code_of(hf_hub_file_metadata(off, &ref)), HF_EOFFLINE);
    ck_assert_int_eq(code_of(hf_hub_repo_info(off, &ref)), HF_EOFFLINE);
    ck_assert_int_eq(code_of(hf_hub_list_files(off, &other)), HF_EOFFLINE);
    {
        hf_file_ref_t nosnap = { "org/gated", HF_REPO_MODEL, NULL, NULL };
        ck_assert_int_eq(code_of(hf_hub_snapshot(off, &nosnap, NULL)), HF_EOFFLINE);
    }
    ck_assert_int_eq(requests(), 0);
    free(p);
    hf_hub_free(off);
}
END_TEST

START_TEST(try_cache_resolves_refs_and_commits_and_knows_missing_files)
{
    hf_hub_t *h = hub_opts(NULL, HF_NO);
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "b/two.txt" };
    char *p, *q = (char *)"x", commit[41], buf[700];
    FILE *f;

    ck_assert_int_eq(hf_hub_try_cache(h, &ref, &q), HF_ENOENT);
    p = download_ok(h, "org/model", NULL, "b/two.txt");
    ck_assert_int_eq(hf_hub_try_cache(h, &ref, &q), 0);
    ck_assert_str_eq(q, p);
    free(q);
    snprintf(buf, sizeof buf, "%s/models--org--model/refs/main", cache);
    f = fopen(buf, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fread(commit, 1, 41, f), 40);
    fclose(f);
    commit[40] = '\0';
    ref.revision = commit;
    ck_assert_int_eq(hf_hub_try_cache(h, &ref, &q), 0);
    ck_assert_str_eq(q, p);
    free(q);
    ref.revision = "v9";        /* a ref the cache does not hold */
    ck_assert_int_eq(hf_hub_try_cache(h, &ref, &q), HF_ENOENT);
    /* a commit revision already cached makes no request at all */
    tu_mock_reset(&mock);
    free(download_ok(h, "org/model", commit, "b/two.txt"));
    ck_assert_int_eq(requests(), 0);
    free(p);
    hf_hub_free(h);
}
END_TEST

START_TEST(file_metadata_answers_commit_etag_size_and_url_and_writes_nothing)
{
    hf_hub_t *h = hub_opts(NULL, HF_NO);
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "a.txt" };
    hf_future_t *f = hf_hub_file_metadata(h, &ref);
    const hf_file_metadata_t *m;

    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    m = hf_future_value(f);
    ck_assert_uint_eq(strlen(m->commit), 40);
    /* the git blob sha1 of "one\n" */
    ck_assert_str_eq(m->etag, "5626abf0f72e58d7a153368ba57db4c673c0e171");
    ck_assert_uint_eq(m->size, 4);
    ck_assert_ptr_nonnull(strstr(m->url, "/org/model/resolve/main/a.txt"));
    ck_assert_int_eq(tu_mock_count(&mock, "HEAD", ""), 1);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", ""), 0);
    hf_future_release(f);
    /* nothing in the cache: no repo folder, no lock folder */
    ck_assert_int_eq(exists("models--org--model"), 0);
    ck_assert_int_eq(exists(".locks/models--org--model"), 0);
    hf_hub_free(h);
}
END_TEST

START_TEST(repo_info_reads_sha_id_siblings_private_and_gated)
{
    hf_hub_t *h = hub_opts(TOKEN, HF_NO);
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "ignored/../path" };
    hf_future_t *f = hf_hub_repo_info(h, &ref);
    const hf_repo_info_t *ri;
    int seen = 0;

    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ri = hf_future_value(f);
    ck_assert_str_eq(ri->id, "org/model");
    ck_assert_uint_eq(strlen(ri->sha), 40);
    ck_assert_int_eq(ri->is_private, 0);
    ck_assert_int_eq(ri->gated, 0);
    ck_assert_uint_eq(ri->nfiles, 3);
    for (size_t i = 0; i < ri->nfiles; i++)
        if (strcmp(ri->files[i].path, "a.txt") == 0) {
            seen = 1;
            ck_assert_str_eq(ri->files[i].oid, "5626abf0f72e58d7a153368ba57db4c673c0e171");
            ck_assert_int_eq(ri->files[i].is_lfs, 0);
            ck_assert_str_eq(ri->files[i].lfs_sha256, "");
        }
    ck_assert(seen);
    hf_future_release(f);
    ref.repo_id = "org/private";
    f = hf_hub_repo_info(h, &ref);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(((const hf_repo_info_t *)hf_future_value(f))->is_private, 1);
    hf_future_release(f);
    ref.repo_id = "org/gated";
    f = hf_hub_repo_info(h, &ref);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(((const hf_repo_info_t *)hf_future_value(f))->gated, 1);
    hf_future_release(f);
    ref.repo_id = "org/absent";
    ck_assert_int_eq(code_of(hf_hub_repo_info(h, &ref)), HF_EREPO_NOT_FOUND);
    ref.repo_id = "org/model";
    ref.revision = "no-such-branch";
    ck_assert_int_eq(code_of(hf_hub_repo_info(h, &ref)), HF_EREVISION_NOT_FOUND);
    hf_hub_free(h);
}
END_TEST

START_TEST(a_listing_is_sorted_by_path_and_holds_files_only)
{
    hf_hub_t *h = hub_opts(NULL, HF_NO);
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, NULL };
    hf_future_t *f = hf_hub_list_files(h, &ref);
    const hf_file_list_t *l;

    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    l = hf_future_value(f);
    ck_assert_uint_eq(l->n, 3);
    ck_assert_str_eq(l->files[0].path, "a.txt");
    ck_assert_str_eq(l->files[1].path, "b/two.txt");
    ck_assert_str_eq(l->files[2].path, "config.json");
    ck_assert_uint_eq(l->files[1].size, 4);
    hf_future_release(f);
    ref.path = "b";
    f = hf_hub_list_files(h, &ref);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    l = hf_future_value(f);
    ck_assert_uint_eq(l->n, 1);
    ck_assert_str_eq(l->files[0].path, "b/two.txt");
    hf_future_release(f);
    ref.path = "nothing-here";
    f = hf_hub_list_files(h, &ref);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_EENTRY_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(hf_future_error(f)->message, "nothing-here"));
    hf_future_release(f);
    hf_hub_free(h);
}
END_TEST

START_TEST(a_missing_file_leaves_a_marker_and_the_ref_as_huggingface_hub_does)
{
    hf_hub_t *h = hub_opts(NULL, HF_NO);
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "nope/x.txt" };
    char *q = (char *)"x";

    ck_assert_int_eq(code_of(hf_hub_download(h, &ref, NULL)), HF_EENTRY_NOT_FOUND);
    ck_assert(exists("models--org--model/refs/main"));
    ck_assert_int_eq(hf_hub_try_cache(h, &ref, &q), HF_EENTRY_NOT_FOUND);
    hf_hub_free(h);
}
END_TEST

START_TEST(cache_functions_refuse_bad_arguments_with_their_codes)
{
    hf_cache_report_t *r = (hf_cache_report_t *)&r;
    hf_error_t e;
    size_t bad = 77;
    char missing[600], blobs[700];
    hf_hub_t *h = hub_opts(NULL, HF_NO);

    free(download_ok(h, "org/model", NULL, "a.txt"));
    free(download_ok(h, "org/model", NULL, "config.json"));
    hf_hub_free(h);
    snprintf(missing, sizeof missing, "%s/none", cache);
    ck_assert_int_eq(hf_cache_scan(NULL, &r, &e), HF_EINVAL);
    ck_assert_int_eq(hf_cache_scan(cache, NULL, &e), HF_EINVAL);
    r = (hf_cache_report_t *)&r;
    ck_assert_int_eq(hf_cache_scan(missing, &r, NULL), HF_ENOENT);
    ck_assert_ptr_null(r);
    hf_cache_report_free(NULL);
    ck_assert_int_eq(hf_cache_scan(cache, &r, &e), 0);
    ck_assert_uint_eq(r->nrepos, 1);
    ck_assert_uint_eq(r->repos[0].nblobs, 2);
    ck_assert_uint_eq(r->size_on_disk, 13);
    hf_cache_report_free(r);

    ck_assert_int_eq(hf_cache_verify(NULL, HF_REPO_MODEL, "org/model", &bad, NULL, NULL, &e),
                     HF_EINVAL);
    ck_assert_int_eq(hf_cache_verify(cache, HF_REPO_MODEL, "../x", &bad, NULL, NULL, &e),
                     HF_EINVAL);
    ck_assert_int_eq(hf_cache_verify(cache, (hf_repo_type_t)9, "org/model", &bad, NULL, NULL,
                                     &e), HF_EINVAL);
    ck_assert_int_eq(hf_cache_verify(cache, HF_REPO_MODEL, "org/other", &bad, NULL, NULL, NULL),
                     HF_ENOENT);
    ck_assert_int_eq(hf_cache_verify(cache, HF_REPO_DATASET, "org/model", &bad, NULL, NULL,
                                     NULL), HF_ENOENT);
    ck_assert_uint_eq(bad, 77);                 /* untouched on failure */
    ck_assert_int_eq(hf_cache_verify(cache, HF_REPO_MODEL, "org/model", &bad, NULL, NULL, &e), 2);
    ck_assert_uint_eq(bad, 0);
    ck_assert_int_eq(hf_cache_verify(cache, HF_REPO_MODEL, "org/model", NULL, NULL, NULL, NULL),
                     2);

    ck_assert_int_eq(hf_cache_remove(NULL, HF_REPO_MODEL, "org/model", NULL, &e), HF_EINVAL);
    ck_assert_int_eq(hf_cache_remove(cache, HF_REPO_MODEL, "../x", NULL, &e), HF_EINVAL);
    ck_assert_int_eq(hf_cache_remove(cache, HF_REPO_MODEL, "org/model", "a..b", &e), HF_EINVAL);
    ck_assert_int_eq(hf_cache_remove(cache, (hf_repo_type_t)9, "org/model", NULL, &e),
                     HF_EINVAL);
    ck_assert_int_eq(hf_cache_remove(cache, HF_REPO_MODEL, "org/other", NULL, NULL), HF_ENOENT);
    ck_assert_int_eq(hf_cache_remove(cache, HF_REPO_MODEL, "org/model", "v9", &e), HF_ENOENT);
    ck_assert_int_eq(hf_cache_remove(cache, HF_REPO_MODEL, "org/model",
                                     "0123456789012345678901234567890123456789", &e), HF_ENOENT);

    /* blobs/ as a link: HF_EIO for verify */
    snprintf(blobs, sizeof blobs, "%s/models--org--model/blobs", cache);
    snprintf(missing, sizeof missing, "%s/models--org--model/blobs-real", cache);
    ck_assert_int_eq(rename(blobs, missing), 0);
    ck_assert_int_eq(symlink("blobs-real", blobs), 0);
    bad = 77;
    ck_assert_int_eq(hf_cache_verify(cache, HF_REPO_MODEL, "org/model", &bad, NULL, NULL, &e),
                     HF_EIO);
    ck_assert_uint_eq(bad, 77);
    ck_assert_int_eq(unlink(blobs), 0);
    ck_assert_int_eq(rename(missing, blobs), 0);
    ck_assert_int_eq(hf_cache_remove(cache, HF_REPO_MODEL, "org/model", "main", &e), 13);
}
END_TEST

static hf_hub_t *hub_cfg(hf_hub_config_t *c)
{
    hf_error_t e;
    hf_hub_t *h;

    c->endpoint = mock.hub;
    c->cache_dir = cache;
    if (!c->token)
        c->token = "";
    if (!c->backoff_ms)
        c->backoff_ms = 10;
    h = hf_hub_new(rt, c, &e);
    ck_assert_msg(h != NULL, "hf_hub_new: %s", e.message);
    return h;
}

START_TEST(offline_a_forced_download_never_takes_the_cached_file)
{
    hf_hub_t *on = hub_opts(NULL, HF_NO), *off;
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "config.json" };
    hf_download_opts_t o;
    hf_future_t *f;

    free(download_ok(on, "org/model", NULL, "config.json"));
    hf_hub_free(on);
    tu_mock_reset(&mock);
    off = hub_opts(NULL, HF_YES);
    memset(&o, 0, sizeof o);
    o.force = 1;
    f = hf_hub_download(off, &ref, &o);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_EOFFLINE);
    hf_future_release(f);
    ck_assert_int_eq(requests(), 0);
    hf_hub_free(off);
}
END_TEST

START_TEST(hf_hub_disable_symlinks_from_the_environment_gives_copies)
{
    hf_hub_config_t c;
    hf_hub_t *h;
    char *p;
    struct stat st;

    setenv("HF_HUB_DISABLE_SYMLINKS", "1", 1);
    memset(&c, 0, sizeof c);
    h = hub_cfg(&c);
    p = download_ok(h, "org/model", NULL, "a.txt");
    ck_assert_int_eq(lstat(p, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert(tu_same_bytes(p, "one\n", 4));
    free(p);
    hf_hub_free(h);
    /* HF_NO in the config beats the variable */
    tu_rm_tree(cache);
    ck_assert_int_eq(mkdir(cache, 0700), 0);
    c.disable_symlinks = HF_NO;
    h = hub_cfg(&c);
    p = download_ok(h, "org/model", NULL, "a.txt");
    ck_assert_int_eq(lstat(p, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    free(p);
    hf_hub_free(h);
}
END_TEST

START_TEST(hf_hub_etag_timeout_from_the_environment_limits_the_metadata_request)
{
    hf_hub_config_t c;
    hf_hub_t *h;
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "config.json" };

    setenv("HF_HUB_ETAG_TIMEOUT", "0.3", 1);
    memset(&c, 0, sizeof c);
    c.max_retries = 1;
    h = hub_cfg(&c);
    tu_mock_fault(&mock, "{\"path\": \"/org/model/resolve/main/config.json\", "
                         "\"method\": \"HEAD\", \"stall_ms\": 4000}");
    ck_assert_int_eq(code_of(hf_hub_download(h, &ref, NULL)), HF_ETIMEDOUT);
    hf_hub_free(h);
}
END_TEST

START_TEST(hf_hub_download_timeout_from_the_environment_limits_a_stalled_body)
{
    hf_hub_config_t c;
    hf_hub_t *h;
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "config.json" };

    setenv("HF_HUB_DOWNLOAD_TIMEOUT", "0.3", 1);
    memset(&c, 0, sizeof c);
    c.max_retries = 1;
    h = hub_cfg(&c);
    tu_mock_fault(&mock, "{\"path\": \"/org/model/resolve/main/config.json\", "
                         "\"method\": \"GET\", \"stall_ms\": 4000, \"stall_after\": 0}");
    ck_assert_int_eq(code_of(hf_hub_download(h, &ref, NULL)), HF_ETIMEDOUT);
    hf_hub_free(h);
}
END_TEST

static void count_bad(const char *blob, void *arg)
{
    (void)blob;
    (*(int *)arg)++;
}

START_TEST(verify_reports_each_bad_blob_and_refuses_a_linked_repo_folder)
{
    hf_hub_t *h = hub_opts(NULL, HF_NO);
    char *p = download_ok(h, "org/model", NULL, "a.txt"), real[600], link[600];
    size_t bad = 9;
    int calls = 0;
    FILE *f;

    free(download_ok(h, "org/model", NULL, "config.json"));
    hf_hub_free(h);
    f = fopen(p, "w");                  /* through the link: the blob changes */
    ck_assert_ptr_nonnull(f);
    fputs("two\n", f);
    fclose(f);
    free(p);
    ck_assert_int_eq(hf_cache_verify(cache, HF_REPO_MODEL, "org/model", &bad, count_bad,
                                     &calls, NULL), 2);
    ck_assert_uint_eq(bad, 1);
    ck_assert_int_eq(calls, 1);
    snprintf(real, sizeof real, "%s/elsewhere", cache);
    snprintf(link, sizeof link, "%s/models--org--model", cache);
    ck_assert_int_eq(rename(link, real), 0);
    ck_assert_int_eq(symlink("elsewhere", link), 0);
    bad = 9;
    ck_assert_int_eq(hf_cache_verify(cache, HF_REPO_MODEL, "org/model", &bad, NULL, NULL, NULL),
                     HF_ENOENT);
    ck_assert_uint_eq(bad, 9);
    ck_assert_int_eq(hf_cache_remove(cache, HF_REPO_MODEL, "org/model", NULL, NULL), HF_ENOENT);
}
END_TEST

START_TEST(removal_with_links_off_counts_the_copies_it_frees)
{
    hf_hub_config_t c;
    hf_hub_t *h;

    memset(&c, 0, sizeof c);
    c.disable_symlinks = HF_YES;
    h = hub_cfg(&c);
    free(download_ok(h, "org/model", NULL, "a.txt"));
    free(download_ok(h, "org/model", NULL, "config.json"));
    hf_hub_free(h);
    /* blobs 4 + 9, copies 4 + 9 */
    ck_assert_int_eq(hf_cache_remove(cache, HF_REPO_MODEL, "org/model", "main", NULL), 26);
}
END_TEST

START_TEST(a_scan_sorts_repos_by_type_then_id)
{
    hf_hub_t *h = hub_opts(NULL, HF_NO);
    hf_cache_report_t *r;
    hf_error_t e;
    char d[700];
    const char *dirs[] = { "spaces--a--s", "datasets--z--d", "datasets--b--d", "models--y--m" };

    free(download_ok(h, "org/model", NULL, "a.txt"));
    hf_hub_free(h);
    for (size_t i = 0; i < 4; i++) {
        snprintf(d, sizeof d, "%s/%s", cache, dirs[i]);
        ck_assert_int_eq(mkdir(d, 0777), 0);
        snprintf(d, sizeof d, "%s/%s/snapshots", cache, dirs[i]);
        ck_assert_int_eq(mkdir(d, 0777), 0);
    }
    ck_assert_int_eq(hf_cache_scan(cache, &r, &e), 0);
    ck_assert_uint_eq(r->nrepos, 5);
    ck_assert_int_eq(r->repos[0].type, HF_REPO_MODEL);
    ck_assert_str_eq(r->repos[0].repo_id, "org/model");
    ck_assert_str_eq(r->repos[1].repo_id, "y/m");
    ck_assert_int_eq(r->repos[2].type, HF_REPO_DATASET);
    ck_assert_str_eq(r->repos[2].repo_id, "b/d");
    ck_assert_str_eq(r->repos[3].repo_id, "z/d");
    ck_assert_int_eq(r->repos[4].type, HF_REPO_SPACE);
    ck_assert_str_eq(r->repos[4].repo_id, "a/s");
    hf_cache_report_free(r);
}
END_TEST

/* Download `path` of org/model online, then make its HEAD answer with `fault`; the code
 * of a second download (0: the cached file was the value). */
static int cached_then(const char *path, const char *fault)
{
    hf_hub_t *h = hub_opts(NULL, HF_NO);
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, path };
    char *p = download_ok(h, "org/model", NULL, path), f[600];
    int code;

    snprintf(f, sizeof f, "{\"path\": \"/org/model/resolve/main/*\", \"method\": \"HEAD\", %s}",
             fault);
    tu_mock_fault(&mock, f);
    code = code_of(hf_hub_download(h, &ref, NULL));
    ref.path = "config.json";   /* the fault applies: a file not cached fails */
    ck_assert_int_ne(code_of(hf_hub_download(h, &ref, NULL)), 0);
    tu_mock_reset(&mock);
    free(p);
    hf_hub_free(h);
    return code;
}

START_TEST(answers_that_are_not_the_hubs_serve_the_cache_and_its_own_answers_do_not)
{
    /* not the Hub's: a proxy's 404 without X-Error-Code, a 200 without the Hub's headers,
     * a 5xx after retries */
    ck_assert_int_eq(cached_then("a.txt", "\"status\": 404"), 0);
    ck_assert_int_eq(cached_then("a.txt", "\"status\": 200, \"headers\": "
                                          "{\"X-Repo-Commit\": \"nope\"}"), 0);
    ck_assert_int_eq(cached_then("a.txt", "\"status\": 503"), 0);
    ck_assert_int_eq(cached_then("a.txt", "\"status\": 200, \"headers\": "
                                          "{\"X-Linked-Size\": \"99999999999999999999\"}"), 0);
    /* the Hub's own: the error stands though the file is cached */
    ck_assert_int_eq(cached_then("a.txt", "\"status\": 404, \"error_code\": \"RepoNotFound\""),
                     HF_EREPO_NOT_FOUND);
    ck_assert_int_eq(cached_then("a.txt", "\"status\": 403, \"error_code\": \"GatedRepo\""),
                     HF_EGATED);
    ck_assert_int_eq(cached_then("a.txt", "\"status\": 404, \"error_code\": \"EntryNotFound\""),
                     HF_EENTRY_NOT_FOUND);
}
END_TEST

START_TEST(a_snapshot_takes_the_cache_for_a_failure_but_not_for_the_hubs_answer)
{
    hf_hub_t *h = hub_opts(NULL, HF_NO);
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, NULL };
    hf_future_t *f = hf_hub_snapshot(h, &ref, NULL);
    char *dir;

    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    dir = strdup(hf_future_value(f));
    hf_future_release(f);
    tu_mock_fault(&mock, "{\"path\": \"/api/models/org/model/revision/main\", \"status\": 503}");
    f = hf_hub_snapshot(h, &ref, NULL);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_str_eq(hf_future_value(f), dir);
    hf_future_release(f);
    tu_mock_reset(&mock);
    tu_mock_fault(&mock, "{\"path\": \"/api/models/org/model/revision/main\", \"status\": 404, "
                         "\"error_code\": \"RepoNotFound\"}");
    ck_assert_int_eq(code_of(hf_hub_snapshot(h, &ref, NULL)), HF_EREPO_NOT_FOUND);
    tu_mock_reset(&mock);
    /* offline, a commit revision's folder */
    {
        hf_hub_t *off = hub_opts(NULL, HF_YES);
        const char *commit = strrchr(dir, '/') + 1;
        ref.revision = commit;
        f = hf_hub_snapshot(off, &ref, NULL);
        ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
        ck_assert_str_eq(hf_future_value(f), dir);
        hf_future_release(f);
        ref.revision = "v9";
        ck_assert_int_eq(code_of(hf_hub_snapshot(off, &ref, NULL)), HF_EOFFLINE);
        hf_hub_free(off);
    }
    ck_assert_int_eq(requests(), 0);
    free(dir);
    hf_hub_free(h);
}
END_TEST

START_TEST(removing_a_commit_removes_the_refs_that_name_it)
{
    hf_hub_t *h = hub_opts(NULL, HF_NO);
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "a.txt" };
    char *p = download_ok(h, "org/model", NULL, "a.txt"), *commit, *q;

    q = strstr(p, "/snapshots/") + 11;
    commit = strndup(q, 40);
    ck_assert_int_eq(hf_cache_remove(cache, HF_REPO_MODEL, "org/model", commit, NULL), 4);
    ck_assert_int_eq(exists("models--org--model/refs/main"), 0);
    ck_assert_int_eq(hf_hub_try_cache(h, &ref, &q), HF_ENOENT);
    free(commit);
    free(p);
    hf_hub_free(h);
}
END_TEST

/* 1 if every request the mock logged carries a User-Agent starting with `prefix`, and
 * there was at least one. */
static int every_user_agent_starts_with(const char *prefix)
{
    char *log = tu_mock_requests(&mock, ""), *p = log;
    int n = 0, ok = 1;

    while ((p = strstr(p, "\"user_agent\":")) != NULL) {
        p += strlen("\"user_agent\":");
        while (*p == ' ')
            p++;
        n++;
        if (*p != '"' || strncmp(p + 1, prefix, strlen(prefix)) != 0) {
            fprintf(stderr, "unexpected user agent: %.60s\n", p);
            ok = 0;
        }
    }
    free(log);
    return ok && n > 0;
}

START_TEST(the_user_agent_is_hfasync_or_the_callers_prefixed_to_it)
{
    hf_hub_config_t c;
    hf_hub_t *h;
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "a.txt" };
    char want[100];

    memset(&c, 0, sizeof c);
    h = hub_cfg(&c);
    free(download_ok(h, "org/model", NULL, "a.txt"));
    ck_assert_int_eq(code_of(hf_hub_repo_info(h, &ref)), 0);
    snprintf(want, sizeof want, "hfasync/%s", PACKAGE_VERSION);
    ck_assert(every_user_agent_starts_with(want));
    hf_hub_free(h);
    tu_mock_reset(&mock);
    c.user_agent = "myapp/2.1";
    h = hub_cfg(&c);
    ref.path = "config.json";
    ck_assert_int_eq(code_of(hf_hub_download(h, &ref, NULL)), 0);
    ref.path = NULL;
    ck_assert_int_eq(code_of(hf_hub_list_files(h, &ref)), 0);
    snprintf(want, sizeof want, "myapp/2.1; hfasync/%s", PACKAGE_VERSION);
    ck_assert(every_user_agent_starts_with(want));
    hf_hub_free(h);
}
END_TEST

/* ---- hf_hub_free: a call made meanwhile gets a cancelled future ----------------------- */

static hf_hub_t *closing_hub;
static atomic_int cb_entered, cb_states[6];

static int state_of(hf_future_t *f)
{
    int st = f ? (int)hf_future_state(f) : -1;
    if (f && st == HF_FUTURE_PENDING)
        hf_future_cancel(f);
    hf_future_release(f);
    return st;
}

static void call_while_closing(const hf_progress_t *p, void *arg)
{
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "b/two.txt" };
    uint64_t until = tu_now_ms() + TU_DEADLINE_MS;
    (void)p;
    (void)arg;
    if (atomic_exchange(&cb_entered, 1))
        return;
    /* hf_hub_free waits for this download, which holds the hub until this call returns:
     * ask until a call answers cancelled, i.e. hf_hub_free has begun */
    for (;;) {
        hf_future_t *f = hf_hub_download(closing_hub, &ref, NULL);
        int st = state_of(f);
        if (st == HF_FUTURE_CANCELLED || tu_now_ms() > until) {
            atomic_store(&cb_states[0], st);
            break;
        }
        tu_sleep_ms(1);
    }
    atomic_store(&cb_states[1], state_of(hf_hub_file_metadata(closing_hub, &ref)));
    atomic_store(&cb_states[2], state_of(hf_hub_repo_info(closing_hub, &ref)));
    atomic_store(&cb_states[3], state_of(hf_hub_list_files(closing_hub, &ref)));
    atomic_store(&cb_states[4], state_of(hf_hub_snapshot(closing_hub, &ref, NULL)));
    atomic_store(&cb_states[5], state_of(hf_model_load(rt, closing_hub, "stella", NULL)));
}

START_TEST(calls_made_while_the_hub_is_being_freed_get_cancelled_futures)
{
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "a.txt" };
    hf_download_opts_t o = { call_while_closing, NULL, 0 };
    hf_future_t *f;

    closing_hub = hub_opts(NULL, HF_NO);
    atomic_store(&cb_entered, 0);
    f = hf_hub_download(closing_hub, &ref, &o);
    TU_EVENTUALLY(atomic_load(&cb_entered));
    hf_hub_free(closing_hub);
    for (int i = 0; i < 6; i++)
        ck_assert_msg(atomic_load(&cb_states[i]) == HF_FUTURE_CANCELLED, "call %d: state %d", i,
                      atomic_load(&cb_states[i]));
    tu_settle(f);               /* futures already returned stay valid */
    hf_future_release(f);
}
END_TEST

/* Whether socket inode `ino` is a TCP connection (in /proc/net/tcp or tcp6): libcurl's
 * wake-up socket pairs, one per multi handle, are not connections. */
static int is_tcp(unsigned long ino)
{
    static const char *const tables[] = { "/proc/net/tcp", "/proc/net/tcp6" };
    char line[512];
    int found = 0;

    for (int t = 0; t < 2 && !found; t++) {
        FILE *f = fopen(tables[t], "r");
        if (!f)
            continue;
        while (!found && fgets(line, sizeof line, f)) {
            unsigned long v;
            /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
            if (sscanf(line, "%*s %*s %*s %*s %*s %*s %*s %*s %*s %lu", &v) == 1)
                found = v == ino;
        }
        fclose(f);
    }
    return found;
}

/* This process's open TCP connections. */
static int open_connections(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL) {
        char link[300], target[64];
        unsigned long ino;
        ssize_t len;
        snprintf(link, sizeof link, "/proc/self/fd/%s", de->d_name);
        if ((len = readlink(link, target, sizeof target - 1)) > 0) {
            target[len] = '\0';
            if (sscanf(target, "socket:[%lu]", &ino) == 1 && is_tcp(ino))
                n++;
        }
    }
    closedir(d);
    return n;
}

/* conns_total is "connections in all": each of the engine's loops (engine_threads) took
 * the whole of it, so two loops opened up to twice as many. */
START_TEST(conns_total_bounds_the_connections_of_every_engine_thread_together)
{
    hf_hub_config_t c;
    hf_error_t e;
    hf_hub_t *h;
    hf_future_t *f[6];
    int most = 0, pending;

    /* Linux's /proc tells which descriptors are TCP connections (a Linux-only test) */
    ck_assert_msg(access("/proc/self/fd", R_OK) == 0 && access("/proc/net/tcp", R_OK) == 0,
                  "this test needs /proc/self/fd and /proc/net/tcp");
    memset(&c, 0, sizeof c);
    c.endpoint = mock.hub;
    c.cache_dir = cache;
    c.token = "";
    c.offline = HF_NO;
    c.conns_total = 2;
    c.engine_threads = 2;
    h = hf_hub_new(rt, &c, &e);
    ck_assert_msg(h != NULL, "hf_hub_new: %s", e.message);
    tu_mock_fault(&mock, "{\"path\": \"*/w*.bin\", \"port\": \"cdn\", \"throttle_bps\": 400000}");
    for (int i = 0; i < 6; i++) {
        char name[32];
        hf_file_ref_t ref = { "org/many", HF_REPO_MODEL, NULL, name };
        snprintf(name, sizeof name, "w%d.bin", i);
        f[i] = hf_hub_download(h, &ref, NULL);
        ck_assert_ptr_nonnull(f[i]);
    }
    do {
        int n = open_connections();
        struct timespec nap = { 0, 2 * 1000000L };
        if (n > most)
            most = n;
        pending = 0;
        for (int i = 0; i < 6; i++)
            pending += hf_future_state(f[i]) == HF_FUTURE_PENDING;
        nanosleep(&nap, NULL);
    } while (pending);
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(code_of(f[i]), 0);
    ck_assert_msg(most <= 2, "%d connections open at once, conns_total 2", most);
    ck_assert_int_gt(most, 0);
    hf_hub_free(h);
}
END_TEST

/* runtime.h: "threads ... that drive a hub's transfers do not count" toward io_threads_max.
 * Before, the hub's two transfer loops took both threads of a cap of 2 (or the one of a
 * cap of 1, the second loop never starting): nothing was left for the hub's own I/O
 * tasks, every download stayed pending, and hf_hub_free hung. */
START_TEST(a_hub_works_under_an_io_cap_smaller_than_its_transfer_loops)
{
    for (unsigned cap = 1; cap <= 2; cap++) {
        hf_runtime_config_t rc;
        hf_runtime_stats_t st;
        hf_runtime_t *small;
        hf_hub_config_t c;
        hf_error_t e;
        hf_hub_t *h;
        hf_file_ref_t one = { "org/model", HF_REPO_MODEL, NULL, "config.json" };
        hf_file_ref_t many = { "org/many", HF_REPO_MODEL, NULL, NULL };
        hf_future_t *f;

        memset(&rc, 0, sizeof rc);
        rc.compute_threads = 2;
        rc.io_threads_max = cap;
        ck_assert_ptr_nonnull(small = hf_runtime_new(&rc));
        memset(&c, 0, sizeof c);
        c.endpoint = mock.hub;
        c.cache_dir = cache;
        c.token = "";
        c.engine_threads = 2;
        ck_assert_msg((h = hf_hub_new(small, &c, &e)) != NULL, "hf_hub_new: %s", e.message);
        ck_assert_ptr_nonnull(f = hf_hub_download(h, &one, NULL));
        ck_assert_msg(hf_future_wait(f, 30000) == 0, "cap %u: the download is stuck", cap);
        ck_assert_int_eq(hf_future_state(f), HF_FUTURE_FULFILLED);
        hf_future_release(f);
        ck_assert_ptr_nonnull(f = hf_hub_snapshot(h, &many, NULL));
        ck_assert_msg(hf_future_wait(f, 30000) == 0, "cap %u: the snapshot is stuck", cap);
        ck_assert_msg(hf_future_state(f) == HF_FUTURE_FULFILLED, "cap %u: %s", cap,
                      hf_future_error(f)->message);
        hf_future_release(f);
        ck_assert_int_eq(hf_runtime_stats(small, &st), 0);
        ck_assert_uint_eq(st.io_blocked, 2);            /* the two loops */
        hf_hub_free(h);
        TU_EVENTUALLY(hf_runtime_stats(small, &st) == 0 && st.io_blocked == 0);
        hf_runtime_free(small);
        tu_rm_tree(cache);
    }
}
END_TEST

static Suite *contract_hub_suite(void)
{
    Suite *s = suite_create("contract_hub");
    TCase *tc = tcase_create("contract");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, hub_new_refuses_what_it_cannot_use_and_takes_what_python_takes);
    tcase_add_test(tc, conns_total_bounds_the_connections_of_every_engine_thread_together);
    tcase_add_test(tc, the_environment_gives_endpoint_cache_token_and_offline);
    tcase_add_test(tc, bad_arguments_give_null_or_a_rejected_future_and_no_request);
    tcase_add_test(tc, snapshot_pattern_arrays_that_are_null_or_hold_null_are_einval);
    tcase_add_test(tc, offline_every_call_answers_from_the_cache_or_eoffline_with_no_request);
    tcase_add_test(tc, try_cache_resolves_refs_and_commits_and_knows_missing_files);
    tcase_add_test(tc, file_metadata_answers_commit_etag_size_and_url_and_writes_nothing);
    tcase_add_test(tc, repo_info_reads_sha_id_siblings_private_and_gated);
    tcase_add_test(tc, a_listing_is_sorted_by_path_and_holds_files_only);
    tcase_add_test(tc, a_missing_file_leaves_a_marker_and_the_ref_as_huggingface_hub_does);
    tcase_add_test(tc, cache_functions_refuse_bad_arguments_with_their_codes);
    tcase_add_test(tc, offline_a_forced_download_never_takes_the_cached_file);
    tcase_add_test(tc, hf_hub_disable_symlinks_from_the_environment_gives_copies);
    tcase_add_test(tc, hf_hub_etag_timeout_from_the_environment_limits_the_metadata_request);
    tcase_add_test(tc, hf_hub_download_timeout_from_the_environment_limits_a_stalled_body);
    tcase_add_test(tc, verify_reports_each_bad_blob_and_refuses_a_linked_repo_folder);
    tcase_add_test(tc, removal_with_links_off_counts_the_copies_it_frees);
    tcase_add_test(tc, a_scan_sorts_repos_by_type_then_id);
    tcase_add_test(tc, answers_that_are_not_the_hubs_serve_the_cache_and_its_own_answers_do_not);
    tcase_add_test(tc, a_snapshot_takes_the_cache_for_a_failure_but_not_for_the_hubs_answer);
    tcase_add_test(tc, removing_a_commit_removes_the_refs_that_name_it);
    tcase_add_test(tc, calls_made_while_the_hub_is_being_freed_get_cancelled_futures);
    tcase_add_test(tc, the_user_agent_is_hfasync_or_the_callers_prefixed_to_it);
    tcase_add_test(tc, a_hub_works_under_an_io_cap_smaller_than_its_transfer_loops);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(contract_hub_suite)
