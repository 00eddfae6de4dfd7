/*
 * check_glob.c - snapshot include/exclude patterns, with huggingface_hub's fnmatch rules.
 */
#include "common/testutil.h"

#include "hub/glob.h"

START_TEST(star_crosses_slashes_like_fnmatch)
{
    ck_assert(hfi_glob_match("*.gguf", "UD-TQ1_0/Kimi-K2-Instruct-UD-TQ1_0-00001-of-00005.gguf"));
    ck_assert(hfi_glob_match("UD-TQ1_0/*", "UD-TQ1_0/a.gguf"));
    ck_assert(!hfi_glob_match("UD-TQ1_0/*", "UD-Q2_K_XL/a.gguf"));
    ck_assert(hfi_glob_match("*", "a/b/c"));
    ck_assert(hfi_glob_match("text_encoders/*.safetensors", "text_encoders/clip_g.safetensors"));
    ck_assert(!hfi_glob_match("*.json", "model.safetensors"));
    ck_assert(hfi_glob_match("2_Dense_1024/", "2_Dense_1024/model.safetensors"));
    ck_assert(!hfi_glob_match("2_Dense_1024/", "2_Dense_1024/"));
    ck_assert(!hfi_glob_match("2_Dense_1024/", "2_Dense_256/model.safetensors"));
}
END_TEST

START_TEST(question_marks_and_sets)
{
    ck_assert(hfi_glob_match("model-0000?-of-00002.safetensors", "model-00001-of-00002.safetensors"));
    ck_assert(hfi_glob_match("shard[0-9].bin", "shard7.bin"));
    ck_assert(!hfi_glob_match("shard[0-9].bin", "shardx.bin"));
    ck_assert(hfi_glob_match("shard[!0-9].bin", "shardx.bin"));
    ck_assert(hfi_glob_match("a[]]b", "a]b"));
    ck_assert(hfi_glob_match("a[b", "a[b"));        /* unclosed set: a plain '[' */
    ck_assert(!hfi_glob_match("?", ""));
    ck_assert(hfi_glob_match("", ""));
    ck_assert(!hfi_glob_match("", "a"));
}
END_TEST

START_TEST(pathological_patterns_stay_fast)
{
    char name[4001], pat[200];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    strcpy(pat, "");
    for (int i = 0; i < 40; i++)
        strcat(pat, "*a");
    strcat(pat, "b");
    ck_assert(!hfi_glob_match(pat, name));          /* linear backtracking, returns */
}
END_TEST

/* Found by fuzz_glob (tools/fuzz/corpus/regressions/glob/dir-pattern-with-star): a pattern
 * ending in '/' was compared as a plain prefix, so "*2_Dense_1024/" matched nothing, where
 * huggingface_hub (which adds "*" to it) matches every file below such folders. */
START_TEST(folder_patterns_keep_their_wildcards)
{
    ck_assert(hfi_glob_match("*2_Dense_1024/", "2_Dense_1024/model.safetensor.*s*"));
    ck_assert(hfi_glob_match("UD-*/", "UD-Q2_K_XL/a-00001-of-00002.gguf"));
    ck_assert(hfi_glob_match("UD-Q?_K_XL/", "UD-Q2_K_XL/sub/a.gguf"));
    ck_assert(hfi_glob_match("*/", "a/b"));
    ck_assert(!hfi_glob_match("*/", "a"));
    ck_assert(!hfi_glob_match("UD-*/", "UD-Q2_K_XL/"));        /* the folder itself */
    ck_assert(!hfi_glob_match("UD-*/", "Other/UD-Q2/x"));
    ck_assert(hfi_glob_match("*UD-*/", "Other/UD-Q2/x"));
}
END_TEST

/* Found by fuzz_glob (tools/fuzz/corpus/regressions/glob/caret-in-set): "[^...]" was a
 * negated set; in Python's fnmatch, which huggingface_hub uses, only "[!...]" is, and '^'
 * is an ordinary member. */
START_TEST(a_caret_in_a_set_is_an_ordinary_member)
{
    ck_assert(hfi_glob_match("a[^b]", "a^"));
    ck_assert(hfi_glob_match("a[^b]", "ab"));
    ck_assert(!hfi_glob_match("a[^b]", "ac"));
    ck_assert(hfi_glob_match("a[!b]", "ac"));
    ck_assert(!hfi_glob_match("a[!b]", "ab"));
    ck_assert(!hfi_glob_match("*[^s\021c][]", "-[\021c][]"));
}
END_TEST

static Suite *glob_suite(void)
{
    Suite *s = suite_create("glob");
    TCase *tc = tcase_create("hub");
    tcase_add_test(tc, star_crosses_slashes_like_fnmatch);
    tcase_add_test(tc, question_marks_and_sets);
    tcase_add_test(tc, pathological_patterns_stay_fast);
    tcase_add_test(tc, folder_patterns_keep_their_wildcards);
    tcase_add_test(tc, a_caret_in_a_set_is_an_ordinary_member);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(glob_suite)
