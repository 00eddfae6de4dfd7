/*
 * check_security.c - the Hub client facing hostile input: names that try to leave the
 * cache, a Hub that lists such names, symlinks planted in the cache, a token that must
 * stay secret, and TLS that must be verified.
 *
 * Design notes
 *  - every test runs against hf-mock-hub on loopback and a cache under a fresh temporary
 *    folder `top`; an "outside" file or folder next to the cache stands for what an
 *    attacker wants written or read, and is compared byte for byte afterwards;
 *  - "before any file is touched" is checked as: the cache folder still does not exist
 *    and the mock's request counter is still 0;
 *  - token hygiene: everything the library hands back (error messages, values, progress
 *    strings) is collected in one buffer, stderr is redirected to a file for the test,
 *    and the cache's files are read back; none may contain the token. The mock's request
 *    log says which requests carried an Authorization header, per port;
 *  - the TLS certificate is made at test time with libcrypto (EC P-256, self-signed,
 *    subjectAltName IP:127.0.0.1, CA:TRUE), so no key lives in the tree.
 */
#include "common/testutil.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mockhub.h"

#define TOKEN "hf_SeCrEtToKeN_9f3Qx7ZpLm"
#define OTHER_TOKEN "hf_WrOnGtOkEn_4kT8vB2nRc"
#define OUTSIDE_BYTES "outside the cache: must never change\n"
#define CONFIG "{\"a\": 1}\n"
#define LFS_SIZE 200000u

static tu_mock_t mock;
static char top[256], cache[300], outside[300];
static hf_runtime_t *rt;
static unsigned char *lfs_data;

static unsigned char *pattern(size_t n, unsigned seed)
{
    return tu_pattern(n, seed);
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

/* The whole file (malloc'd, NUL-terminated), its size in *n; NULL if unreadable. */
static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    char *p = NULL;
    size_t cap = 0, len = 0, r;
    if (!f)
        return NULL;
    do {
        char *np = realloc(p, cap += 65536);
        ck_assert_ptr_nonnull(np);
        p = np;
        r = fread(p + len, 1, cap - len - 1, f);
        len += r;
    } while (r > 0);
    fclose(f);
    p[len] = '\0';
    if (n)
        *n = len;
    return p;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void outside_unchanged(void)
{
    size_t n;
    char *got = slurp(outside, &n);
    ck_assert_msg(got != NULL, "the outside file is gone");
    ck_assert_uint_eq(n, sizeof OUTSIDE_BYTES - 1);
    ck_assert_msg(memcmp(got, OUTSIDE_BYTES, n) == 0, "the outside file was changed");
    free(got);
}

static void mock_repos(void)
{
    lfs_data = pattern(LFS_SIZE, 7);
    tu_mock_file(&mock, "model", "org/model", "config.json", CONFIG, sizeof CONFIG - 1);
    tu_mock_file(&mock, "model", "org/model", "sub/nested.txt", "nested\n", 7);
    tu_mock_file(&mock, "model", "org/model", "model.bin", lfs_data, LFS_SIZE);
    tu_mock_settings(&mock, "model", "org/model", "{\"lfs\": [\"*.bin\"]}");
    tu_mock_file(&mock, "model", "org/gated", "weights.bin", lfs_data, 1000);
    tu_mock_settings(&mock, "model", "org/gated", "{\"gated\": \"manual\", \"lfs\": [\"*.bin\"], "
                     "\"tokens\": [\"" TOKEN "\"]}");
    tu_mock_file(&mock, "model", "org/private", "a.txt", "secret\n", 7);
    tu_mock_settings(&mock, "model", "org/private", "{\"private\": true, \"tokens\": [\"" TOKEN "\"]}");
    /* Repos whose listings carry names that must never become cache paths. Each also
     * has a harmless file, so a refusal cannot be "the repo is empty". */
    tu_mock_file(&mock, "model", "evil/backslash", "..\\..\\..\\outside.txt", "x", 1);
    tu_mock_file(&mock, "model", "evil/lookalike", "\xe2\x80\xa4\xe2\x80\xa4\xe2\x88\x95outside.txt",
                 "x", 1);           /* U+2024 U+2024 U+2215: shows as "../outside.txt" */
    tu_mock_file(&mock, "model", "evil/encoded", "%2e%2e/outside.txt", "x", 1);
    tu_mock_file(&mock, "model", "evil/newline", "a\nb.txt", "x", 1);
    tu_mock_file(&mock, "model", "evil/gitdir", ".GIT/config", "x", 1);
    {
        const char *evil[] = { "evil/backslash", "evil/lookalike", "evil/encoded", "evil/newline",
                               "evil/gitdir" };
        for (size_t i = 0; i < sizeof evil / sizeof evil[0]; i++)
            tu_mock_file(&mock, "model", evil[i], "ok.txt", "ok\n", 3);
    }
}

static void setup(void)
{
    snprintf(top, sizeof top, "/tmp/hfasync-sec-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(top));
    snprintf(cache, sizeof cache, "%s/cache", top);      /* not created: hf_hub_new must not */
    snprintf(outside, sizeof outside, "%s/outside.txt", top);
    write_file(outside, OUTSIDE_BYTES, sizeof OUTSIDE_BYTES - 1);
    tu_mock_root(&mock);
    mock_repos();
    tu_mock_start(&mock, NULL);
    rt = tu_runtime(2);
}

static void teardown(void)
{
    char cmd[400];
    hf_runtime_free(rt);
    tu_mock_stop(&mock);
    free(lfs_data);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
    ck_assert_int_eq(system(cmd), 0);
}

/* For the token test: `third`, a server that stands for any other origin, and `relay`, a
 * second server over mock's root whose LFS redirects lead to `third`. Started before the
 * runtime's threads exist (forking a threaded process upsets ThreadSanitizer). */
static tu_mock_t third, relay;

static void token_setup(void)
{
    char args[300];
    snprintf(top, sizeof top, "/tmp/hfasync-sec-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(top));
    snprintf(cache, sizeof cache, "%s/cache", top);
    snprintf(outside, sizeof outside, "%s/outside.txt", top);
    write_file(outside, OUTSIDE_BYTES, sizeof OUTSIDE_BYTES - 1);
    tu_mock_root(&mock);
    mock_repos();
    tu_mock_start(&mock, NULL);
    tu_mock_root(&third);
    tu_mock_start(&third, NULL);
    relay = mock;
    relay.pid = 0;
    snprintf(args, sizeof args, "--cdn-url %s", third.hub);
    tu_mock_start(&relay, args);
    relay.root[0] = '\0';      /* mock's: removed by teardown */
    rt = tu_runtime(2);
}

static void token_teardown(void)
{
    tu_mock_stop(&relay);
    tu_mock_stop(&third);
    teardown();
}

static hf_hub_t *hub_at(const char *endpoint, const char *token, const hf_hub_config_t *extra)
{
    return tu_hub_at(rt, endpoint, cache, token, extra);
}

static hf_hub_t *hub_with(const char *token, const hf_hub_config_t *extra)
{
    return hub_at(mock.hub, token ? token : "", extra);
}

static long mock_total(tu_mock_t *m)
{
    char *text = tu_mock_stats(m);
    cJSON *j = cJSON_Parse(text);
    long n;
    ck_assert_ptr_nonnull(j);
    n = (long)cJSON_GetObjectItem(j, "total")->valuedouble;
    cJSON_Delete(j);
    free(text);
    return n;
}

static hf_future_t *dl_with(hf_hub_t *h, const char *repo, const char *rev, const char *path,
                            const hf_download_opts_t *opts)
{
    hf_file_ref_t ref = { repo, HF_REPO_MODEL, rev, path };
    hf_future_t *f = hf_hub_download(h, &ref, opts);
    ck_assert_ptr_nonnull(f);
    return f;
}

static hf_future_t *dl(hf_hub_t *h, const char *repo, const char *rev, const char *path)
{
    return dl_with(h, repo, rev, path, NULL);
}

static int rejected_with(hf_future_t *f, int code)
{
    return tu_settle(f) == HF_FUTURE_REJECTED && hf_future_error(f)->code == code;
}

/* ---- hostile names ------------------------------------------------------------------------ */

typedef struct hostile {
    const char *repo_id, *revision, *path;
} hostile_t;

START_TEST(hostile_names_are_refused_before_any_file_or_request)
{
    static char longpath[4200], longseg[300], longrev[300], longid[200];
    const hostile_t table[] = {
        /* file paths */
        { "org/model", NULL, ".." },
        { "org/model", NULL, "../outside.txt" },
        { "org/model", NULL, "a/../b" },
        { "org/model", NULL, "sub/../../../outside.txt" },
        { "org/model", NULL, "/etc/passwd" },
        { "org/model", NULL, "./config.json" },
        { "org/model", NULL, "a\\b" },
        { "org/model", NULL, "..\\..\\outside.txt" },
        { "org/model", NULL, "%2e%2e/outside.txt" },
        { "org/model", NULL, "sub/%2E%2E/%2e%2e/outside.txt" },
        { "org/model", NULL, "..%2F..%2Foutside.txt" },
        { "org/model", NULL, "a%5c..%5cb" },
        { "org/model", NULL, "a%00b" },
        { "org/model", NULL, longpath },
        { "org/model", NULL, longseg },
        { "org/model", NULL, "a\nb" },
        { "org/model", NULL, "a\rb" },
        { "org/model", NULL, "\x1b]0;title\x07" },
        { "org/model", NULL, "a\x7f" },
        { "org/model", NULL, "..\xe2\x88\x95outside.txt" },          /* U+2215 DIVISION SLASH */
        { "org/model", NULL, "\xef\xbc\x8e\xef\xbc\x8e/outside.txt" }, /* U+FF0E FULLWIDTH FULL STOP */
        { "org/model", NULL, "\xe2\x80\xa4\xe2\x80\xa4/outside.txt" }, /* U+2024 ONE DOT LEADER */
        { "org/model", NULL, "config.json\xe2\x80\xae" "txt" },        /* U+202E RLO */
        { "org/model", NULL, "\xc0\xae\xc0\xae/x" },                   /* overlong '.' */
        { "org/model", NULL, "config.json." },                       /* trailing dot */
        { "org/model", NULL, "sub./nested.txt" },
        { "org/model", NULL, ".git/config" },
        { "org/model", NULL, "a//b" },
        { "org/model", NULL, "sub/" },
        { "org/model", NULL, "" },
        { "org/model", NULL, NULL },
        /* repo ids */
        { "../outside", NULL, "config.json" },
        { "org/..", NULL, "config.json" },
        { "/etc/passwd", NULL, "config.json" },
        { "org/model/../x", NULL, "config.json" },
        { "org\\model", NULL, "config.json" },
        { "org/mo%2Fdel", NULL, "config.json" },
        { "org--x/model", NULL, "config.json" },
        { "org/model\n", NULL, "config.json" },
        { "org/.git", NULL, "config.json" },
        { "org/model.", NULL, "config.json" },
        { "org/mod\xe2\x88\x95" "el", NULL, "config.json" },
        { longid, NULL, "config.json" },
        { "", NULL, "config.json" },
        { NULL, NULL, "config.json" },
        /* revisions */
        { "org/model", "../../../outside", "config.json" },
        { "org/model", "main/../x", "config.json" },
        { "org/model", "/main", "config.json" },
        { "org/model", "main\n", "config.json" },
        { "org/model", "ma in", "config.json" },
        { "org/model", "main%2F..", "config.json" },
        { "org/model", "refs\\heads\\main", "config.json" },
        { "org/model", "main.lock", "config.json" },
        { "org/model", "main.", "config.json" },
        { "org/model", "a//b", "config.json" },
        { "org/model", "\xe2\x88\x95main", "config.json" },
        { "org/model", "HEAD^", "config.json" },
        { "org/model", longrev, "config.json" },
        { "org/model", "", "config.json" },
    };
    size_t n = sizeof table / sizeof table[0];
    hf_hub_t *h = hub_with(TOKEN, NULL);

    memset(longpath, 'a', sizeof longpath - 1);
    memset(longseg, 'b', sizeof longseg - 1);
    memset(longrev, 'r', sizeof longrev - 1);
    memset(longid, 'i', sizeof longid - 1);
    ck_assert_uint_ge(n, 30);
    for (size_t i = 0; i < n; i++) {
        hf_file_ref_t ref = { table[i].repo_id, HF_REPO_MODEL, table[i].revision, table[i].path };
        hf_future_t *f = hf_hub_download(h, &ref, NULL), *m = hf_hub_file_metadata(h, &ref);
        char *cached = NULL;

        ck_assert_msg(f && rejected_with(f, HF_EINVAL), "download of entry #%zu not refused", i);
        ck_assert_msg(m && rejected_with(m, HF_EINVAL), "metadata of entry #%zu not refused", i);
        ck_assert_msg(hf_hub_try_cache(h, &ref, &cached) == HF_EINVAL,
                      "cache lookup of entry #%zu not refused", i);
        ck_assert_ptr_null(cached);
        hf_future_release(f);
        hf_future_release(m);
        if (table[i].path && strcmp(table[i].path, "config.json") == 0) {
            /* a bad repo id or revision: the whole-repo calls refuse it too */
            hf_future_t *s = hf_hub_snapshot(h, &ref, NULL), *l, *info;
            ck_assert_msg(s && rejected_with(s, HF_EINVAL), "snapshot of entry #%zu not refused", i);
            ref.path = NULL;
            l = hf_hub_list_files(h, &ref);
            info = hf_hub_repo_info(h, &ref);
            ck_assert_msg(l && rejected_with(l, HF_EINVAL), "listing of entry #%zu not refused", i);
            ck_assert_msg(info && rejected_with(info, HF_EINVAL), "info of entry #%zu not refused", i);
            hf_future_release(s);
            hf_future_release(l);
            hf_future_release(info);
        } else if (table[i].path) {     /* NULL lists the whole repo: not hostile */
            hf_future_t *l;
            ref.revision = NULL;
            l = hf_hub_list_files(h, &ref);     /* a hostile folder to list */
            ck_assert_msg(l && rejected_with(l, HF_EINVAL), "listing of entry #%zu not refused", i);
            hf_future_release(l);
        }
        ck_assert_msg(!exists(cache), "entry #%zu: the cache folder was created", i);
        ck_assert_msg(mock_total(&mock) == 0, "entry #%zu reached the Hub", i);
    }
    hf_hub_free(h);
    ck_assert(!exists(cache));
    outside_unchanged();
}
END_TEST

/* No file anywhere under `dir` is named `name` (recursive, links not followed). */
static int found_below(const char *dir, const char *name)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    if (!d)
        return 0;
    while (!found && (e = readdir(d)) != NULL) {
        char sub[1024];
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (strcmp(e->d_name, name) == 0)
            found = 1;
        snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        if (!found && lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            found = found_below(sub, name);
    }
    closedir(d);
    return found;
}

START_TEST(a_listing_with_a_hostile_path_is_refused_and_nothing_leaves_the_cache)
{
    const char *repos[] = { "evil/backslash", "evil/lookalike", "evil/encoded", "evil/newline",
                            "evil/gitdir" };
    hf_hub_t *h = hub_with(NULL, NULL);

    for (size_t i = 0; i < sizeof repos / sizeof repos[0]; i++) {
        hf_file_ref_t ref = { repos[i], HF_REPO_MODEL, NULL, NULL };
        hf_future_t *s = hf_hub_snapshot(h, &ref, NULL), *l = hf_hub_list_files(h, &ref);
        ck_assert_msg(rejected_with(s, HF_EPROTO), "%s: snapshot not refused (%s)", repos[i],
                      hf_future_state(s) == HF_FUTURE_REJECTED ? hf_future_error(s)->message : "");
        ck_assert_msg(rejected_with(l, HF_EPROTO), "%s: listing not refused", repos[i]);
        hf_future_release(s);
        hf_future_release(l);
        /* refused as a whole: not even the harmless file was fetched */
        ck_assert_int_eq(tu_mock_count(&mock, "GET", "/resolve/" "main/ok.txt") +
                             tu_mock_count(&mock, "HEAD", "/ok.txt"), 0);
    }
    hf_hub_free(h);
    outside_unchanged();
    /* the only outside.txt under top is ours: nothing in the cache has that name */
    ck_assert(!found_below(cache, "outside.txt"));
    ck_assert(!found_below(cache, "config"));
}
END_TEST

/* ---- planted symlinks --------------------------------------------------------------------- */

/* The etag and commit of a file, from its metadata (a HEAD: writes nothing). */
static void metadata_of(hf_hub_t *h, const char *path, char etag[65], char commit[41])
{
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, path };
    hf_future_t *f = hf_hub_file_metadata(h, &ref);
    const hf_file_metadata_t *m;
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    m = hf_future_value(f);
    memcpy(etag, m->etag, 65);
    memcpy(commit, m->commit, 41);
    hf_future_release(f);
}

static void mkdir_p(const char *path)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
    ck_assert_int_eq(system(cmd), 0);
}

/* The download of `path` succeeded with the right bytes, not the outside file's. */
static void downloaded_right(hf_future_t *f, const void *want, size_t n)
{
    size_t got_n;
    char *got;
    ck_assert_msg(tu_settle(f) == HF_FUTURE_FULFILLED, "download failed: %s",
                  hf_future_state(f) == HF_FUTURE_REJECTED ? hf_future_error(f)->message : "");
    got = slurp(hf_future_value(f), &got_n);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(got_n, n);
    ck_assert(memcmp(got, want, n) == 0);
    free(got);
}

static void regular_file(const char *path)
{
    struct stat st;
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert_msg(S_ISREG(st.st_mode), "%s is not a regular file", path);
}

START_TEST(a_symlink_planted_at_the_blob_path_is_replaced_not_trusted)
{
    hf_hub_t *h = hub_with(NULL, NULL);
    char etag[65], commit[41], blobs[400], blob[500];
    hf_future_t *f;

    metadata_of(h, "config.json", etag, commit);
    snprintf(blobs, sizeof blobs, "%s/models--org--model/blobs", cache);
    snprintf(blob, sizeof blob, "%s/%s", blobs, etag);
    mkdir_p(blobs);
    ck_assert_int_eq(symlink(outside, blob), 0);
    f = dl(h, "org/model", NULL, "config.json");
    downloaded_right(f, CONFIG, sizeof CONFIG - 1);
    regular_file(blob);
    hf_future_release(f);

    /* the LFS file too (its blob is named by sha256) */
    metadata_of(h, "model.bin", etag, commit);
    snprintf(blob, sizeof blob, "%s/%s", blobs, etag);
    ck_assert_int_eq(symlink(outside, blob), 0);
    f = dl(h, "org/model", NULL, "model.bin");
    downloaded_right(f, lfs_data, LFS_SIZE);
    regular_file(blob);
    hf_future_release(f);
    hf_hub_free(h);
    outside_unchanged();
}
END_TEST

START_TEST(a_same_size_symlink_at_the_blob_path_is_not_taken_for_the_blob)
{
    hf_hub_t *h = hub_with(NULL, NULL);
    char etag[65], commit[41], blob[500];
    hf_future_t *f;
    static const char same[] = "{\"b\": 2}\n";      /* the size of CONFIG, other bytes */

    ck_assert_uint_eq(sizeof same, sizeof CONFIG);
    write_file(outside, same, sizeof same - 1);
    metadata_of(h, "config.json", etag, commit);
    snprintf(blob, sizeof blob, "%s/models--org--model/blobs", cache);
    mkdir_p(blob);
    snprintf(blob, sizeof blob, "%s/models--org--model/blobs/%s", cache, etag);
    ck_assert_int_eq(symlink(outside, blob), 0);
    f = dl(h, "org/model", NULL, "config.json");
    downloaded_right(f, CONFIG, sizeof CONFIG - 1);
    regular_file(blob);
    hf_future_release(f);
    hf_hub_free(h);
    {
        size_t n;
        char *got = slurp(outside, &n);
        ck_assert(n == sizeof same - 1 && memcmp(got, same, n) == 0);
        free(got);
    }
}
END_TEST

START_TEST(a_symlink_planted_at_the_partial_path_is_never_written_through)
{
    hf_hub_t *h = hub_with(NULL, NULL);
    char etag[65], commit[41], blobs[400], partial[500];
    const char *files[] = { "config.json", "model.bin" };

    for (int i = 0; i < 2; i++) {
        hf_future_t *f;
        metadata_of(h, files[i], etag, commit);
        snprintf(blobs, sizeof blobs, "%s/models--org--model/blobs", cache);
        snprintf(partial, sizeof partial, "%s/%s.incomplete", blobs, etag);
        mkdir_p(blobs);
        ck_assert_int_eq(symlink(outside, partial), 0);
        f = dl(h, "org/model", NULL, files[i]);
        if (i == 0)
            downloaded_right(f, CONFIG, sizeof CONFIG - 1);
        else
            downloaded_right(f, lfs_data, LFS_SIZE);
        ck_assert(!exists(partial));
        hf_future_release(f);
        outside_unchanged();
    }
    hf_hub_free(h);
}
END_TEST

START_TEST(a_symlink_planted_at_the_snapshot_path_is_replaced_and_never_handed_out)
{
    char etag[65], commit[41], dir[400], snap[500];
    hf_hub_config_t copy_cfg;

    for (int copy = 0; copy < 2; copy++) {
        hf_hub_t *h;
        hf_future_t *f;
        memset(&copy_cfg, 0, sizeof copy_cfg);
        copy_cfg.disable_symlinks = copy ? HF_YES : HF_NO;
        h = hub_with(NULL, &copy_cfg);
        metadata_of(h, "config.json", etag, commit);
        snprintf(dir, sizeof dir, "%s/models--org--model/snapshots/%s", cache, commit);
        snprintf(snap, sizeof snap, "%s/config.json", dir);
        mkdir_p(dir);
        unlink(snap);
        ck_assert_int_eq(symlink(outside, snap), 0);
        /* by commit: a cached answer needs no request, but this one is not ours */
        f = dl(h, "org/model", commit, "config.json");
        downloaded_right(f, CONFIG, sizeof CONFIG - 1);
        if (copy) {
            regular_file(snap);
        } else {
            char target[600];
            ssize_t n = readlink(snap, target, sizeof target - 1);
            ck_assert_int_gt(n, 0);
            target[n] = '\0';
            ck_assert_msg(strncmp(target, "../../blobs/", 12) == 0, "link to %s", target);
        }
        hf_future_release(f);
        /* and by branch, with the link planted again */
        unlink(snap);
        ck_assert_int_eq(symlink(outside, snap), 0);
        f = dl(h, "org/model", "main", "config.json");
        downloaded_right(f, CONFIG, sizeof CONFIG - 1);
        hf_future_release(f);
        {   /* a cache lookup never hands the planted link out */
            hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, commit, "config.json" };
            char *path = NULL;
            unlink(snap);
            ck_assert_int_eq(symlink(outside, snap), 0);
            ck_assert_int_eq(hf_hub_try_cache(h, &ref, &path), HF_ENOENT);
            ck_assert_ptr_null(path);
        }
        hf_hub_free(h);
        outside_unchanged();
    }
}
END_TEST

START_TEST(a_symlinked_folder_inside_the_repo_is_not_written_through)
{
    char etag[65], commit[41], repo[400], link[500], outdir[300];
    hf_hub_t *h = hub_with(NULL, NULL);
    hf_future_t *f;

    snprintf(outdir, sizeof outdir, "%s/outdir", top);
    mkdir_p(outdir);
    metadata_of(h, "sub/nested.txt", etag, commit);
    snprintf(repo, sizeof repo, "%s/models--org--model", cache);
    /* snapshots/<commit> -> outside */
    snprintf(link, sizeof link, "%s/snapshots", repo);
    mkdir_p(link);
    snprintf(link, sizeof link, "%s/snapshots/%s", repo, commit);
    ck_assert_int_eq(symlink(outdir, link), 0);
    f = dl(h, "org/model", NULL, "sub/nested.txt");
    ck_assert_msg(rejected_with(f, HF_EIO), "not refused: %s",
                  hf_future_state(f) == HF_FUTURE_REJECTED ? hf_future_error(f)->message : "ok");
    ck_assert_ptr_nonnull(strstr(hf_future_error(f)->message, "symlink"));
    hf_future_release(f);
    ck_assert_int_eq(unlink(link), 0);
    /* blobs/ -> outside */
    snprintf(link, sizeof link, "%s/blobs", repo);
    {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", link);
        ck_assert_int_eq(system(cmd), 0);
    }
    ck_assert_int_eq(symlink(outdir, link), 0);
    f = dl(h, "org/model", NULL, "sub/nested.txt");
    ck_assert_msg(rejected_with(f, HF_EIO), "not refused: %s",
                  hf_future_state(f) == HF_FUTURE_REJECTED ? hf_future_error(f)->message : "ok");
    hf_future_release(f);
    hf_hub_free(h);
    {
        DIR *d = opendir(outdir);
        struct dirent *e;
        int entries = 0;
        ck_assert_ptr_nonnull(d);
        while ((e = readdir(d)) != NULL)
            entries += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
        closedir(d);
        ck_assert_int_eq(entries, 0);
    }
    outside_unchanged();
}
END_TEST

/* ---- token hygiene ------------------------------------------------------------------------ */

typedef struct said {
    pthread_mutex_t mu;
    char *text;
    size_t n;
} said_t;

static said_t said = { PTHREAD_MUTEX_INITIALIZER, NULL, 0 };

static void say(const char *s)
{
    size_t k = s ? strlen(s) : 0;
    char *np;
    pthread_mutex_lock(&said.mu);
    np = realloc(said.text, said.n + k + 2);
    ck_assert_ptr_nonnull(np);
    said.text = np;
    memcpy(said.text + said.n, s ? s : "", k);
    said.n += k;
    said.text[said.n++] = '\n';
    said.text[said.n] = '\0';
    pthread_mutex_unlock(&said.mu);
}

static void on_progress(const hf_progress_t *p, void *arg)
{
    char line[256];
    (void)arg;
    say(p->repo_id);
    say(p->path);
    snprintf(line, sizeof line, "%llu/%llu", (unsigned long long)p->file_done,
             (unsigned long long)p->file_total);
    say(line);
}

/* Run a download to its end and record everything it tells the caller. */
static int told(hf_hub_t *h, const char *repo, const char *path)
{
    hf_download_opts_t opts = { on_progress, NULL, 0 };
    hf_future_t *f = dl_with(h, repo, NULL, path, &opts);
    hf_error_t e;
    char *out = NULL;
    int st = tu_settle(f), rc;

    if (st == HF_FUTURE_FULFILLED)
        say(hf_future_value(f));
    else if (st == HF_FUTURE_REJECTED)
        say(hf_future_error(f)->message);
    rc = st == HF_FUTURE_FULFILLED ? 0 : st == HF_FUTURE_REJECTED ? hf_future_error(f)->code
                                                                   : HF_ECANCELED;
    hf_future_release(f);
    {   /* the blocking form's message too */
        hf_file_ref_t ref = { repo, HF_REPO_MODEL, NULL, path };
        memset(&e, 0, sizeof e);
        if (hf_hub_download_blocking(h, &ref, NULL, &out, &e) == 0)
            say(out);
        else
            say(e.message);
        free(out);
    }
    return rc;
}

/* Every file under `dir` (links not followed) is read into said. */
static void say_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        char sub[1024];
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        say(sub);
        if (lstat(sub, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            say_files(sub);
        } else if (S_ISREG(st.st_mode)) {
            char *text = slurp(sub, NULL);
            say(text);
            free(text);
        } else if (S_ISLNK(st.st_mode)) {
            char target[1024];
            ssize_t n = readlink(sub, target, sizeof target - 1);
            target[n > 0 ? n : 0] = '\0';
            say(target);
        }
    }
    closedir(d);
}

/* The number of logged requests on `port` ("hub" or "cdn"), and how many carried
 * an Authorization header. */
static void auth_counts(tu_mock_t *m, const char *port, long *total, long *with_auth)
{
    char q[64], *text;
    cJSON *j, *e;
    snprintf(q, sizeof q, "port=%s", port);
    text = tu_mock_requests(m, q);
    j = cJSON_Parse(text);
    ck_assert_ptr_nonnull(j);
    *total = *with_auth = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "requests")) {
        (*total)++;
        *with_auth += cJSON_IsTrue(cJSON_GetObjectItem(e, "authorization"));
    }
    ck_assert_ptr_null(strstr(text, TOKEN));    /* the mock redacts it; sanity */
    cJSON_Delete(j);
    free(text);
}

START_TEST(the_token_never_appears_in_output_and_never_leaves_the_hub_origin)
{
    char errpath[400];
    int saved_err, fd;
    hf_hub_t *h;
    hf_hub_config_t cfg;
    long total, with_auth;
    char *err_text;

    snprintf(errpath, sizeof errpath, "%s/stderr.txt", top);
    fflush(stderr);
    saved_err = dup(2);
    fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_ge(dup2(fd, 2), 0);
    close(fd);

    /* from HF_TOKEN */
    setenv("HF_TOKEN", TOKEN, 1);
    h = hub_at(mock.hub, NULL, NULL);
    ck_assert_int_eq(hf_hub_has_token(h), 1);
    ck_assert_int_eq(told(h, "org/private", "a.txt"), 0);
    ck_assert_int_eq(told(h, "org/gated", "weights.bin"), 0);      /* LFS: via the CDN */
    ck_assert_int_eq(told(h, "org/model", "model.bin"), 0);
    ck_assert_int_eq(told(h, "org/model", "missing.txt"), HF_EENTRY_NOT_FOUND);
    ck_assert_int_eq(told(h, "org/nope", "a.txt"), HF_EREPO_NOT_FOUND);
    tu_mock_fault(&mock, "{\"path\": \"/org/model/resolve/main/config.json\", \"status\": 500, "
                         "\"message\": \"boom\", \"count\": 2}");
    ck_assert_int_eq(told(h, "org/model", "config.json"), 0);       /* after 2 retries */
    tu_mock_fault(&mock, "{\"path\": \"/org/model/resolve/main/sub/nested.txt\", \"status\": 503}");
    ck_assert_int_ne(told(h, "org/model", "sub/nested.txt"), 0);    /* retries run out */
    tu_mock_fault(&mock, "{\"path\": \"/repos/*\", \"port\": \"cdn\", \"status\": 500, \"count\": 1}");
    ck_assert_int_eq(told(h, "org/gated", "weights.bin"), 0);      /* cached: no CDN */
    hf_hub_free(h);
    unsetenv("HF_TOKEN");

    /* an explicit config token; another that the gated repo refuses (403) */
    memset(&cfg, 0, sizeof cfg);
    cfg.max_retries = 1;
    h = hub_with(TOKEN, &cfg);
    ck_assert_int_eq(told(h, "org/gated", "weights.bin"), 0);
    hf_hub_free(h);
    h = hub_with(OTHER_TOKEN, &cfg);
    ck_assert_int_eq(told(h, "org/gated", "weights.bin"), HF_EGATED);
    ck_assert_int_eq(told(h, "org/private", "a.txt"), HF_EREPO_NOT_FOUND);
    hf_hub_free(h);
    h = hub_with(NULL, &cfg);
    ck_assert_int_eq(told(h, "org/gated", "weights.bin"), HF_EGATED);
    hf_hub_free(h);

    auth_counts(&mock, "hub", &total, &with_auth);
    ck_assert_int_gt(with_auth, 5);                 /* the token was used where it belongs */
    auth_counts(&mock, "cdn", &total, &with_auth);
    ck_assert_int_gt(total, 0);
    ck_assert_int_eq(with_auth, 0);                 /* and never reached the CDN */

    /* LFS redirects to a third origin (another server): no token there either */
    say_files(cache);
    snprintf(cache, sizeof cache, "%s/cache2", top);    /* nothing cached: the bytes must move */
    h = hub_at(relay.hub, TOKEN, &cfg);
    ck_assert_int_ne(told(h, "org/gated", "weights.bin"), 0);      /* `third` has no such file */
    hf_hub_free(h);
    auth_counts(&third, "hub", &total, &with_auth);
    ck_assert_int_gt(total, 0);
    ck_assert_int_eq(with_auth, 0);
    auth_counts(&relay, "hub", &total, &with_auth);
    ck_assert_int_gt(with_auth, 0);

    fflush(stderr);
    ck_assert_int_ge(dup2(saved_err, 2), 0);
    close(saved_err);
    say_files(cache);
    err_text = slurp(errpath, NULL);
    ck_assert_ptr_nonnull(err_text);
    ck_assert_msg(strstr(err_text, TOKEN) == NULL && strstr(err_text, OTHER_TOKEN) == NULL,
                  "a token was written to stderr");
    ck_assert_ptr_nonnull(said.text);
    ck_assert_msg(strstr(said.text, TOKEN) == NULL && strstr(said.text, OTHER_TOKEN) == NULL,
                  "a token appeared in a message, a value, progress or the cache");
    ck_assert_ptr_nonnull(strstr(said.text, "weights.bin"));   /* the capture did capture */
    free(err_text);
    free(said.text);
    said.text = NULL;
    said.n = 0;
}
END_TEST

/* ---- TLS ---------------------------------------------------------------------------------- */

/* A self-signed EC certificate for 127.0.0.1, written as PEM to cert and key. */
static void make_certificate(const char *cert_path, const char *key_path)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name;
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    const char *exts[][2] = { { "subjectAltName", "IP:127.0.0.1" },
                              { "basicConstraints", "critical,CA:TRUE" },
                              { "keyUsage", "critical,digitalSignature,keyCertSign" } };
    FILE *f;

    ck_assert_ptr_nonnull(key);
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(X509_set_version(x, 2), 1);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 2 * 86400L);
    ck_assert_int_eq(X509_set_pubkey(x, key), 1);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"hfasync test",
                               -1, -1, 0);
    ck_assert_int_eq(X509_set_issuer_name(x, name), 1);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        ext = X509V3_EXT_conf(NULL, &ctx, exts[i][0], exts[i][1]);
        ck_assert_ptr_nonnull(ext);
        ck_assert_int_eq(X509_add_ext(x, ext, -1), 1);
        X509_EXTENSION_free(ext);
    }
    ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
    f = fopen(cert_path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(PEM_write_X509(f, x), 1);
    fclose(f);
    f = fopen(key_path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
}

static void tls_setup(void)
{
    char cert[400], key[400], args[900];
    snprintf(top, sizeof top, "/tmp/hfasync-tls-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(top));
    snprintf(cache, sizeof cache, "%s/cache", top);
    snprintf(outside, sizeof outside, "%s/outside.txt", top);
    write_file(outside, OUTSIDE_BYTES, sizeof OUTSIDE_BYTES - 1);
    snprintf(cert, sizeof cert, "%s/cert.pem", top);
    snprintf(key, sizeof key, "%s/key.pem", top);
    make_certificate(cert, key);
    tu_mock_root(&mock);
    mock_repos();
    snprintf(args, sizeof args, "--tls-cert '%s' --tls-key '%s'", cert, key);
    tu_mock_start(&mock, args);
    ck_assert_msg(strncmp(mock.hub, "https://", 8) == 0, "%s", mock.hub);
    unsetenv("REQUESTS_CA_BUNDLE");
    unsetenv("CURL_CA_BUNDLE");
    unsetenv("SSL_CERT_FILE");
    rt = tu_runtime(2);
}

START_TEST(a_self_signed_hub_is_refused_by_default_with_a_certificate_error)
{
    hf_hub_t *h = hub_with(NULL, NULL);
    hf_future_t *f = dl(h, "org/model", NULL, "config.json");
    const hf_error_t *e;

    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    e = hf_future_error(f);
    ck_assert_msg(e->code == HF_ETLS, "code %d: %s", e->code, e->message);
    ck_assert_ptr_nonnull(strstr(e->message, "certificate"));
    ck_assert_str_eq(hf_strerror(HF_ETLS), "TLS certificate not trusted");
    hf_future_release(f);
    hf_hub_free(h);
    ck_assert(!found_below(top, "config.json"));
}
END_TEST

START_TEST(a_self_signed_hub_is_accepted_with_an_explicit_ca_file)
{
    char cert[400];
    hf_hub_config_t cfg;
    hf_hub_t *h;
    hf_future_t *f;

    snprintf(cert, sizeof cert, "%s/cert.pem", top);
    memset(&cfg, 0, sizeof cfg);
    cfg.ca_file = cert;
    h = hub_with(NULL, &cfg);
    f = dl(h, "org/model", NULL, "config.json");
    downloaded_right(f, CONFIG, sizeof CONFIG - 1);
    hf_future_release(f);
    f = dl(h, "org/model", NULL, "model.bin");          /* the CDN port speaks TLS too */
    downloaded_right(f, lfs_data, LFS_SIZE);
    hf_future_release(f);
    hf_hub_free(h);
}
END_TEST

START_TEST(a_ca_bundle_from_the_environment_is_honoured)
{
    const char *vars[] = { "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE" };
    char cert[400];

    snprintf(cert, sizeof cert, "%s/cert.pem", top);
    for (size_t i = 0; i < 3; i++) {
        hf_hub_t *h;
        hf_future_t *f;
        setenv(vars[i], cert, 1);
        h = hub_with(NULL, NULL);
        f = dl(h, "org/model", NULL, i == 0 ? "config.json" : "sub/nested.txt");
        ck_assert_msg(tu_settle(f) == HF_FUTURE_FULFILLED, "%s: %s", vars[i],
                      hf_future_state(f) == HF_FUTURE_REJECTED ? hf_future_error(f)->message : "");
        hf_future_release(f);
        hf_hub_free(h);
        unsetenv(vars[i]);
    }
    /* an empty variable never turns verification off */
    setenv("CURL_CA_BUNDLE", "", 1);
    {
        hf_hub_t *h = hub_with(NULL, NULL);
        hf_future_t *f = dl(h, "org/model", NULL, "model.bin");
        ck_assert(rejected_with(f, HF_ETLS));
        hf_future_release(f);
        hf_hub_free(h);
    }
}
END_TEST

static Suite *security_suite(void)
{
    Suite *s = suite_create("security");
    TCase *names = tcase_create("names"), *links = tcase_create("symlinks");
    TCase *token = tcase_create("token"), *tls = tcase_create("tls");

    tcase_add_checked_fixture(names, setup, teardown);
    tcase_add_test(names, hostile_names_are_refused_before_any_file_or_request);
    tcase_add_test(names, a_listing_with_a_hostile_path_is_refused_and_nothing_leaves_the_cache);
    suite_add_tcase(s, names);

    tcase_add_checked_fixture(links, setup, teardown);
    tcase_add_test(links, a_symlink_planted_at_the_blob_path_is_replaced_not_trusted);
    tcase_add_test(links, a_same_size_symlink_at_the_blob_path_is_not_taken_for_the_blob);
    tcase_add_test(links, a_symlink_planted_at_the_partial_path_is_never_written_through);
    tcase_add_test(links, a_symlink_planted_at_the_snapshot_path_is_replaced_and_never_handed_out);
    tcase_add_test(links, a_symlinked_folder_inside_the_repo_is_not_written_through);
    suite_add_tcase(s, links);

    tcase_add_checked_fixture(token, token_setup, token_teardown);
    tcase_add_test(token, the_token_never_appears_in_output_and_never_leaves_the_hub_origin);
    suite_add_tcase(s, token);

    tcase_add_checked_fixture(tls, tls_setup, teardown);
    tcase_add_test(tls, a_self_signed_hub_is_refused_by_default_with_a_certificate_error);
    tcase_add_test(tls, a_self_signed_hub_is_accepted_with_an_explicit_ca_file);
    tcase_add_test(tls, a_ca_bundle_from_the_environment_is_honoured);
    suite_add_tcase(s, tls);
    return s;
}

TU_MAIN(security_suite)
