/*
 * check_scan.c - scanning, verifying and pruning a cache without a network.
 */
#include "common/testutil.h"

#include <sys/stat.h>
#include <unistd.h>

#define C1 "1111111111111111111111111111111111111111"
#define C2 "2222222222222222222222222222222222222222"
/* git blob sha1 of "hello\n" and of "world\n" */
#define E_HELLO "ce013625030ba8dba906f756967f9e9ca394464a"
#define E_WORLD "cc628ccd10742baea8241c5924df992b5c019f71"

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
    /* the last revision: the whole repo and its locks go */
    ck_assert_int_eq(hf_cache_remove(root, HF_REPO_MODEL, "org/m", C2, &e), 6);
    snprintf(p, sizeof p, "%s/models--org--m", root);
    ck_assert_int_ne(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/.locks/models--org--m", root);
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

static Suite *scan_suite(void)
{
    Suite *s = suite_create("scan");
    TCase *tc = tcase_create("hub");
    tcase_add_test(tc, scan_reports_repos_revisions_refs_and_sizes);
    tcase_add_test(tc, verify_catches_a_blob_modified_on_disk);
    tcase_add_test(tc, removing_a_revision_keeps_blobs_another_revision_uses);
    tcase_add_test(tc, a_link_planted_outside_the_cache_is_reported_not_followed);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(scan_suite)
