/*
 * check_regressions.c - the fuzz corpora, replayed: every file of tools/fuzz/corpus/<target>/
 * (the seeds) and tools/fuzz/corpus/regressions/<target>/ (inputs that once broke an
 * invariant or crashed) goes through its fuzz target, tools/fuzz/fuzz_<target>.c, built
 * here as plain code: the same parse and the same invariant checks as under libFuzzer,
 * without clang. A broken invariant aborts, which Check reports with the target's name;
 * the file being replayed is printed before each.
 */
#include "formats/fmtutil.h"

#include <dirent.h>

#include "fuzz.h"

static const struct target {
    const char *name;
    int (*run)(const uint8_t *data, size_t size);
} targets[] = {
    { "gguf", hfz_gguf },
    { "safetensors", hfz_safetensors },
    { "st_index", hfz_st_index },
    { "tokenizer", hfz_tokenizer },
    { "config", hfz_config },
    { "headers", hfz_headers },
    { "names", hfz_names },
    { "url", hfz_url },
    { "glob", hfz_glob },
};

/* Feed every regular file of `dir` to `t`, each in a buffer of exactly its size (so that a
 * read past the end is caught under AddressSanitizer). Returns the number of files; -1 if
 * `dir` does not exist. */
static long replay_dir(const struct target *t, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    long n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL) {
        char *path;
        FILE *f;
        struct stat st;
        unsigned char *buf;

        if (e->d_name[0] == '.')
            continue;
        path = fu_path(dir, e->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        buf = malloc(st.st_size ? (size_t)st.st_size : 1);
        ck_assert_ptr_nonnull(buf);
        f = fopen(path, "rb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fread(buf, 1, (size_t)st.st_size, f), (size_t)st.st_size);
        fclose(f);
        printf("replay %s: %s\n", t->name, path);
        fflush(stdout);
        ck_assert_int_eq(t->run(buf, (size_t)st.st_size), 0);
        free(buf);
        free(path);
        n++;
    }
    closedir(d);
    return n;
}

START_TEST(each_corpus_passes_its_fuzz_target)
{
    const struct target *t = &targets[_i];
    const char *top = getenv("HF_TOP_SRCDIR");
    char dir[4096];
    long seeds;

    ck_assert_msg(top != NULL, "HF_TOP_SRCDIR is not set (run through make check)");
    snprintf(dir, sizeof dir, "%s/tools/fuzz/corpus/%s", top, t->name);
    seeds = replay_dir(t, dir);
    ck_assert_msg(seeds > 0, "no seeds in %s", dir);
    snprintf(dir, sizeof dir, "%s/tools/fuzz/corpus/regressions/%s", top, t->name);
    replay_dir(t, dir);         /* absent until a target has found something */
}
END_TEST

START_TEST(empty_and_one_byte_inputs_pass_every_target)
{
    static const uint8_t bytes[] = { 0x00, '/', '*', '{', 'G', 0xff };
    size_t i, k;

    for (i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        uint8_t *empty = malloc(1);

        ck_assert_ptr_nonnull(empty);
        ck_assert_int_eq(targets[i].run(empty, 0), 0);
        for (k = 0; k < sizeof bytes; k++) {
            empty[0] = bytes[k];
            ck_assert_int_eq(targets[i].run(empty, 1), 0);
        }
        free(empty);
    }
}
END_TEST

static Suite *regressions_suite(void)
{
    Suite *s = suite_create("regressions");
    TCase *tc = tcase_create("fuzz");

    tcase_add_loop_test(tc, each_corpus_passes_its_fuzz_target, 0,
                        (int)(sizeof targets / sizeof targets[0]));
    tcase_add_test(tc, empty_and_one_byte_inputs_pass_every_target);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(regressions_suite)
