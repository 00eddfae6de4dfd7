/*
 * check_names.c - repo ids, paths and revisions: hostile inputs refused before any I/O;
 * URL encoding and cache folder names as the official clients make them.
 */
#include "common/testutil.h"

#include <unistd.h>

#include "hub/hub_impl.h"
#include "hub/names.h"

START_TEST(good_repo_ids_pass)
{
    const char *ok[] = { "gpt2", "unsloth/Kimi-K2-Instruct-GGUF", "Alibaba-NLP/gte-Qwen2-1.5B-instruct",
                         "a/b", "org_1/name.v2", "NovaSearch/stella_en_400M_v5" };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        ck_assert_msg(hfi_check_repo_id(ok[i], NULL) == 0, "refused %s", ok[i]);
}
END_TEST

START_TEST(hostile_repo_ids_are_refused)
{
    char longname[200];
    const char *bad[] = { "", "/", "a/", "/a", "a//b", "a/b/c", "a--b/c", "a/b--c", "../x", "a/..",
                          "a/.b", "a/b.", "-a/b", "a/-b", "a b/c", "a/b\n", "a\\b", "a/b%2f",
                          "ä/b", "a/b?", "a/b#", "a:b/c", longname };
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hf_error_t e;
        ck_assert_msg(hfi_check_repo_id(bad[i], &e) == HF_EINVAL, "accepted repo id #%zu", i);
        ck_assert_int_eq(e.code, HF_EINVAL);
        ck_assert_int_gt((int)strlen(e.message), 0);
    }
    ck_assert_int_eq(hfi_check_repo_id(NULL, NULL), HF_EINVAL);
}
END_TEST

START_TEST(a_refusal_names_the_value_escaped_and_cut)
{
    hf_error_t e;
    char long_id[200];

    ck_assert_int_eq(hfi_check_repo_id("org/ti ny", &e), HF_EINVAL);
    ck_assert_str_eq(e.message,
                     "repo id: name has a character the Hub does not allow (0x20): \"org/ti ny\"");
    ck_assert_int_eq(hfi_check_path("a/\x01\"\\", &e), HF_EINVAL);
    ck_assert_msg(strstr(e.message, ": \"a/\\x01\\\"\\\\\"") != NULL, "%s", e.message);
    ck_assert_int_eq(hfi_check_revision("a..b", &e), HF_EINVAL);
    ck_assert_msg(strstr(e.message, ": \"a..b\"") != NULL, "%s", e.message);
    memset(long_id, 'a', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    ck_assert_int_eq(hfi_check_repo_id(long_id, &e), HF_EINVAL);
    ck_assert_msg(strstr(e.message, "...\"") != NULL && strlen(e.message) < 200, "%s", e.message);
    ck_assert_int_eq(hfi_check_repo_id("", &e), HF_EINVAL);
    ck_assert_str_eq(e.message, "repo id is empty");
    ck_assert_int_eq(hfi_check_repo_id("org/x y", NULL), HF_EINVAL);   /* no message wanted */
}
END_TEST

START_TEST(good_paths_pass)
{
    const char *ok[] = { "config.json", "2_Dense_1024/model.safetensors",
                         "UD-TQ1_0/Kimi-K2-Instruct-UD-TQ1_0-00001-of-00005.gguf",
                         "text_encoders/t5xxl_fp16.safetensors", "a b/c #1.txt", "日本語/ファイル.txt",
                         ".gitattributes", "a/.hidden", "100%.txt", "a%2/x" };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        ck_assert_msg(hfi_check_path(ok[i], NULL) == 0, "refused %s", ok[i]);
}
END_TEST

START_TEST(hostile_paths_are_refused)
{
    static char longpath[5000], longseg[300];
    const char *bad[] = {
        "", "/etc/passwd", "..", "../x", "a/../../x", "a/..", "./a", "a/./b", "a//b", "a/",
        "a\\b", "..\\..\\x", "a\nb", "a\rb", "a\tb", "\x1b[31m", "a\x7f",
        "%2e%2e/x", "a/%2E%2e", "%2e", "a%2fb", "a%5cb", "a%00b",
        "a\xe2\x88\x95" "b",        /* U+2215 DIVISION SLASH */
        "a\xef\xbc\x8f" "b",        /* U+FF0F FULLWIDTH SOLIDUS */
        "\xe2\x80\xa4\xe2\x80\xa4/x", /* U+2024 ONE DOT LEADER twice */
        "a\xef\xbc\xbc" "b",        /* U+FF3C FULLWIDTH REVERSE SOLIDUS */
        "a\xe2\x80\xae" "b",        /* U+202E RIGHT-TO-LEFT OVERRIDE */
        "a\xe2\x80\x8b" "b",        /* U+200B ZERO WIDTH SPACE */
        "\xc0\xae\xc0\xae/x",       /* overlong '.' */
        "a\xff" "b",                /* not UTF-8 */
        "a\xed\xa0\x80" "b",        /* a UTF-16 surrogate */
        "a\xc2\x85" "b",            /* U+0085, a C1 control */
        "\xe2\x80\xa5/x",            /* U+2025 TWO DOT LEADER, looks like ".." */
        "a\xe2\x80\xa8" "b",        /* U+2028 LINE SEPARATOR */
        "a\xe2\x81\xa6" "b",        /* U+2066 LEFT-TO-RIGHT ISOLATE */
        "a\xf3\xa0\x80\x81" "b",    /* U+E0001 LANGUAGE TAG */
        "a\xef\xbf\xbe",            /* U+FFFE, a noncharacter */
        "a\xe2\x81\x84" "b",        /* U+2044 FRACTION SLASH */
        ".git/config", "a/.GIT/hooks/x", "a./b", "a/b.", "...", "x/...",
        longpath, longseg,
    };
    memset(longpath, 'a', sizeof longpath - 1);
    memset(longseg, 'b', sizeof longseg - 1);
    ck_assert_uint_ge(sizeof bad / sizeof bad[0], 30);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(hfi_check_path(bad[i], NULL) == HF_EINVAL, "accepted path #%zu", i);
    ck_assert_int_eq(hfi_check_path(NULL, NULL), HF_EINVAL);
}
END_TEST

START_TEST(unicode_letters_pass_but_lookalikes_and_format_characters_do_not)
{
    /* accented letters, CJK, Cyrillic, emoji: fine; a middle-of-name '.' is fine too */
    const char *ok[] = { "caf\xc3\xa9.txt", "\xe4\xb8\xad\xe6\x96\x87/a.json",
                         "\xd0\xbc\xd0\xbe\xd0\xb4\xd0\xb5\xd0\xbb\xd1\x8c.bin",
                         "\xf0\x9f\xa4\x97.md", "v1.0/a.b.c", ".github/x.yml" };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        ck_assert_msg(hfi_check_path(ok[i], NULL) == 0, "refused path #%zu", i);
}
END_TEST

START_TEST(embedded_nul_is_refused_by_the_length_checked_forms)
{
    static const char path[] = "a\0/../../etc/passwd", rev[] = "main\0/../x",
                      id[] = "org/name\0../x";
    hf_error_t e;

    /* As C strings they end at the NUL and are harmless; with their length they are not. */
    ck_assert_int_eq(hfi_check_path(path, NULL), 0);
    ck_assert_int_eq(hfi_check_path_n(path, sizeof path - 1, &e), HF_EINVAL);
    ck_assert_int_eq(hfi_check_revision_n(rev, sizeof rev - 1, &e), HF_EINVAL);
    ck_assert_int_eq(hfi_check_repo_id_n(id, sizeof id - 1, &e), HF_EINVAL);
    ck_assert_int_eq(hfi_check_path_n("ab", 1, NULL), 0);          /* "a": no NUL needed */
    ck_assert_int_eq(hfi_check_revision_n("main..", 4, NULL), 0);  /* "main" */
    ck_assert_int_eq(hfi_check_repo_id_n("org/name", 8, NULL), 0);
    ck_assert_int_eq(hfi_check_path_n(NULL, 0, NULL), HF_EINVAL);
}
END_TEST

START_TEST(revisions_follow_git_ref_rules)
{
    const char *ok[] = { "main", "v1.0", "refs/pr/1", "release-2024_01",
                         "0123456789abcdef0123456789abcdef01234567" };
    const char *bad[] = { "", "/main", "main/", "a..b", "refs/../x", "a b", "a~1", "a^", "a:b",
                          "a?", "a*", "a[", "a\\b", "a%2F", "x.lock", "a//b", ".hidden", "a/.x",
                          "end.", "a\nb" };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        ck_assert_msg(hfi_check_revision(ok[i], NULL) == 0, "refused %s", ok[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(hfi_check_revision(bad[i], NULL) == HF_EINVAL, "accepted revision #%zu", i);
    ck_assert_int_eq(hfi_is_commit("0123456789abcdef0123456789abcdef01234567"), 1);
    ck_assert_int_eq(hfi_is_commit("0123456789ABCDEF0123456789abcdef01234567"), 0);
    ck_assert_int_eq(hfi_is_commit("0123456789abcdef"), 0);
}
END_TEST

START_TEST(urls_are_encoded_like_python_quote)
{
    char *a = hfi_url_encode("refs/pr/1", 0);
    char *b = hfi_url_encode("dir/a b#c?.json", 1);
    char *c = hfi_url_encode("ü~_.-", 0);
    ck_assert_str_eq(a, "refs%2Fpr%2F1");
    ck_assert_str_eq(b, "dir/a%20b%23c%3F.json");
    ck_assert_str_eq(c, "%C3%BC~_.-");
    free(a);
    free(b);
    free(c);
}
END_TEST

START_TEST(cache_folders_are_named_like_the_official_clients)
{
    char *m = hfi_repo_folder(HF_REPO_MODEL, "google/gemma-2b");
    char *d = hfi_repo_folder(HF_REPO_DATASET, "HuggingFaceFW/fineweb");
    char *s = hfi_repo_folder(HF_REPO_SPACE, "gpt2");
    ck_assert_str_eq(m, "models--google--gemma-2b");
    ck_assert_str_eq(d, "datasets--HuggingFaceFW--fineweb");
    ck_assert_str_eq(s, "spaces--gpt2");
    ck_assert_str_eq(hfi_url_prefix(HF_REPO_DATASET), "datasets/");
    ck_assert_str_eq(hfi_url_prefix(HF_REPO_MODEL), "");
    free(m);
    free(d);
    free(s);
}
END_TEST

/* Found by fuzz_url (tools/fuzz/corpus/regressions/url/ipv6-literal-with-port): the ':'s
 * inside an IPv6 literal were taken for a port, so "http://[::1]:8080" got ":80" added
 * after its own port, and an origin was not its own origin. */
START_TEST(url_origins_find_the_port_after_an_ipv6_literal)
{
    static const char *const cases[][2] = {
        { "http://[::1]/x", "http://[::1]:80" },
        { "http://[::1]:8080/api", "http://[::1]:8080" },
        { "https://[2001:db8::1]?q", "https://[2001:db8::1]:443" },
        { "http://[::1]:80", "http://[::1]:80" },
        { "https://huggingface.co/api", "https://huggingface.co:443" },
        { "http://127.0.0.1:8080#f", "http://127.0.0.1:8080" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *o = hfi_url_origin(cases[i][0]);
        ck_assert_ptr_nonnull(o);
        ck_assert_str_eq(o, cases[i][1]);
        free(o);
    }
    ck_assert_ptr_null(hfi_url_origin("http://[::1/x"));         /* unclosed literal */
    ck_assert_ptr_null(hfi_url_origin("https://user@[::1]:1/"));
    ck_assert_ptr_null(hfi_url_origin("ftp://[::1]/"));
}
END_TEST

/* huggingface_hub's validate_repo_id refuses an id ending in ".git" (it would name the
 * repo's git URL, and the cache would get a second folder for one repo); the check is on
 * the suffix, case-sensitive, as there. */
START_TEST(repo_ids_ending_in_dot_git_are_refused_as_huggingface_hub_does)
{
    hf_error_t e;
    ck_assert_int_eq(hfi_check_repo_id("org/model.git", &e), HF_EINVAL);
    ck_assert_msg(strstr(e.message, ".git") != NULL, "%s", e.message);
    ck_assert_int_eq(hfi_check_repo_id("model.git", NULL), HF_EINVAL);
    ck_assert_int_eq(hfi_check_repo_id("org/model.gitx", NULL), 0);
    ck_assert_int_eq(hfi_check_repo_id("org/model.GIT", NULL), 0);
    ck_assert_int_eq(hfi_check_repo_id("org.git/model", NULL), 0);
    ck_assert_int_eq(hfi_check_repo_id_n("org/model.git", 13, NULL), HF_EINVAL);
}
END_TEST

/* ---- settings from the environment, as huggingface_hub's constants.py reads them ------ */

static void clear_hf_env(void)
{
    static const char *const vars[] = {
        "HF_ENDPOINT", "HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME",
        "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_IMPLICIT_TOKEN",
    };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    setenv("HF_HUB_CACHE", "/tmp/hfasync-names-cache", 1);
}

/* Configure a bare hub from the environment alone; returns hfi_hub_configure's code. */
static int configure(hf_hub_t *hub)
{
    hf_hub_config_t cfg;
    memset(hub, 0, sizeof *hub);
    memset(&cfg, 0, sizeof cfg);
    return hfi_hub_configure(hub, &cfg, NULL);
}

/* HF_HUB_OFFLINE = _is_true(HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE): the second is read
 * only when the first is unset or empty, so HF_HUB_OFFLINE=0 keeps a program online
 * whatever TRANSFORMERS_OFFLINE says. */
START_TEST(transformers_offline_counts_only_when_hf_hub_offline_is_unset_or_empty)
{
    static const struct { const char *hub, *transformers; int offline; } cases[] = {
        { NULL, "1", 1 }, { "", "yes", 1 }, { "0", "1", 0 }, { "false", "TRUE", 0 },
        { "On", NULL, 1 }, { "1", "0", 1 }, { NULL, NULL, 0 }, { "2", NULL, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hf_hub_t hub;
        clear_hf_env();
        if (cases[i].hub)
            setenv("HF_HUB_OFFLINE", cases[i].hub, 1);
        if (cases[i].transformers)
            setenv("TRANSFORMERS_OFFLINE", cases[i].transformers, 1);
        ck_assert_int_eq(configure(&hub), 0);
        ck_assert_msg(hub.offline == cases[i].offline, "case %zu: offline %d", i, hub.offline);
        hfi_hub_unconfigure(&hub);
    }
    clear_hf_env();
}
END_TEST

/* get_token() is the environment's token, else the token file's: a HF_TOKEN of blanks
 * cleans to no token, and the token file is read next (HUGGING_FACE_HUB_TOKEN is not:
 * HF_TOKEN, being set and not empty, hid it). */
START_TEST(a_blank_hf_token_leaves_the_token_file_in_force_as_huggingface_hub_does)
{
    char home[] = "/tmp/hfasync-names-XXXXXX", *file;
    FILE *f;
    hf_hub_t hub;

    ck_assert_ptr_nonnull(mkdtemp(home));
    file = hfi_strfmt("%s/token", home);
    ck_assert_ptr_nonnull(file);
    ck_assert_ptr_nonnull(f = fopen(file, "w"));
    fputs("hf_fromfile\n", f);
    fclose(f);
    clear_hf_env();
    setenv("HF_HOME", home, 1);

    setenv("HF_TOKEN", " \n", 1);
    setenv("HUGGING_FACE_HUB_TOKEN", "hf_legacy", 1);
    ck_assert_int_eq(configure(&hub), 0);
    ck_assert_ptr_nonnull(hub.token);
    ck_assert_str_eq(hub.token, "hf_fromfile");
    hfi_hub_unconfigure(&hub);

    setenv("HF_TOKEN", "", 1);           /* empty: HUGGING_FACE_HUB_TOKEN is read */
    ck_assert_int_eq(configure(&hub), 0);
    ck_assert_str_eq(hub.token, "hf_legacy");
    hfi_hub_unconfigure(&hub);

    setenv("HF_TOKEN", " hf_env\t\n", 1);
    ck_assert_int_eq(configure(&hub), 0);
    ck_assert_str_eq(hub.token, "hf_env");
    hfi_hub_unconfigure(&hub);

    setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1", 1);
    ck_assert_int_eq(configure(&hub), 0);
    ck_assert_ptr_null(hub.token);
    hfi_hub_unconfigure(&hub);

    clear_hf_env();
    unlink(file);
    rmdir(home);
    free(file);
}
END_TEST

static Suite *names_suite(void)
{
    Suite *s = suite_create("names");
    TCase *tc = tcase_create("hub");
    tcase_add_test(tc, good_repo_ids_pass);
    tcase_add_test(tc, hostile_repo_ids_are_refused);
    tcase_add_test(tc, a_refusal_names_the_value_escaped_and_cut);
    tcase_add_test(tc, good_paths_pass);
    tcase_add_test(tc, hostile_paths_are_refused);
    tcase_add_test(tc, unicode_letters_pass_but_lookalikes_and_format_characters_do_not);
    tcase_add_test(tc, embedded_nul_is_refused_by_the_length_checked_forms);
    tcase_add_test(tc, revisions_follow_git_ref_rules);
    tcase_add_test(tc, urls_are_encoded_like_python_quote);
    tcase_add_test(tc, cache_folders_are_named_like_the_official_clients);
    tcase_add_test(tc, url_origins_find_the_port_after_an_ipv6_literal);
    tcase_add_test(tc, repo_ids_ending_in_dot_git_are_refused_as_huggingface_hub_does);
    tcase_add_test(tc, transformers_offline_counts_only_when_hf_hub_offline_is_unset_or_empty);
    tcase_add_test(tc, a_blank_hf_token_leaves_the_token_file_in_force_as_huggingface_hub_does);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(names_suite)
