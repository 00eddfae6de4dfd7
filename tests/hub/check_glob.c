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

/* Python's fnmatch works on characters, not bytes: '?' and a set take one code point, so a
 * UTF-8 name with "é" (two bytes) matches "caf?.txt" and "caf[éè].txt" there. A '*' that
 * gives back one character at a time must not stop inside one either. */
START_TEST(wildcards_take_whole_utf8_characters)
{
    ck_assert(hfi_glob_match("caf?.txt", "caf\xc3\xa9.txt"));
    ck_assert(!hfi_glob_match("caf??.txt", "caf\xc3\xa9.txt"));
    ck_assert(hfi_glob_match("caf[\xc3\xa8\xc3\xa9].txt", "caf\xc3\xa9.txt"));
    ck_assert(!hfi_glob_match("caf[\xc3\xa8].txt", "caf\xc3\xa9.txt"));
    ck_assert(hfi_glob_match("caf[!e].txt", "caf\xc3\xa9.txt"));
    ck_assert(hfi_glob_match("caf[\xc3\xa0-\xc3\xbf].txt", "caf\xc3\xa9.txt"));
    ck_assert(!hfi_glob_match("caf[a-z].txt", "caf\xc3\xa9.txt"));
    ck_assert(hfi_glob_match("?/x", "\xe4\xb8\xad/x"));              /* a CJK character */
    ck_assert(hfi_glob_match("\xf0\x9f\x98\x80?", "\xf0\x9f\x98\x80\xf0\x9f\x98\x81")); /* 4-byte */
    /* "*[!é]b" against "éb": '*' takes nothing or "é", never half of it */
    ck_assert(!hfi_glob_match("*[!\xc3\xa9]b", "\xc3\xa9" "b"));
    ck_assert(hfi_glob_match("*[!\xc3\xa9]b", "x\xc3\xa9" "ab"));
    ck_assert(hfi_glob_match("*?b", "\xc3\xa9" "b"));
    ck_assert(hfi_glob_match("*\xc3\xa9", "a\xc3\xa9"));
    ck_assert(hfi_glob_match("*", "\xc3\xa9"));
}
END_TEST

/* huggingface_hub (utils/_paths.py, filter_repo_objects) reads '\\' in a pattern as '/'
 * (patterns built with os.path.join on Windows); repo paths never hold one. */
START_TEST(a_backslash_in_a_pattern_is_a_slash)
{
    ck_assert(hfi_glob_match("sub\\*.txt", "sub/a.txt"));
    ck_assert(hfi_glob_match("sub\\", "sub/a.txt"));
    ck_assert(!hfi_glob_match("sub\\", "sub"));
    ck_assert(hfi_glob_match("a[\\]b", "a/b"));
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
    tcase_add_test(tc, wildcards_take_whole_utf8_characters);
    tcase_add_test(tc, a_backslash_in_a_pattern_is_a_slash);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(glob_suite)
