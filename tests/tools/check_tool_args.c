/*
 * check_tool_args.c - the command lines of hf-demo and hf-bench: a value or an option that
 * the tool cannot honour is a usage error (exit 2, a message naming it) before anything
 * is written, started or measured, never a run that fails later or ignores it.
 */
#include "common/testutil.h"

#include <sys/wait.h>

/* Run tools/`tool` with `args` (shell words) and TMPDIR=`tmp`; stdout and stderr into
 * `out`; its exit status. */
static int run_tool(const char *tool, const char *tmp, const char *args, char *out,
                    size_t size)
{
    const char *top = getenv("HF_TOP_BUILDDIR");
    char cmd[1024];
    size_t n;
    FILE *p;
    int st;

    snprintf(cmd, sizeof cmd, "TMPDIR='%s' '%s/tools/%s' %s 2>&1", tmp, top ? top : ".", tool,
             args);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* hf-fixtures takes --scale 0 to 1024 whole MiB: hf-demo took up to 4096 and fractions,
 * wrote nothing useful with them (exit 1 after hf-fixtures refused 2000) or quietly used
 * another size (1.5 ran as 1). */
START_TEST(demo_refuses_a_scale_that_hf_fixtures_cannot_write)
{
    static const char *const bad[] = { "--scale 2000", "--scale 1025", "--scale 1.5",
                                       "--scale -1", "--scale" };
    char tmp[256], args[512], out[8192];

    tu_tmpdir(tmp, sizeof tmp, "demo-args");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        /* if it did run, keep the run short */
        snprintf(args, sizeof args, "--plain --idle-seconds 0.2 --throttle-bps 1000000000 %s",
                 bad[i]);
        ck_assert_msg(run_tool("hf-demo", tmp, args, out, sizeof out) == 2,
                      "hf-demo %s: want exit 2, got: %s", bad[i], out);
        ck_assert_msg(strstr(out, "--scale") != NULL, "hf-demo %s: %s", bad[i], out);
        ck_assert_msg(strstr(out, "writing the fixture repos") == NULL, "hf-demo %s: %s",
                      bad[i], out);
    }
    ck_assert_int_eq(run_tool("hf-demo", tmp, "--help", out, sizeof out), 0);
    ck_assert_msg(strstr(out, "0 to 1024") != NULL, "%s", out);
    tu_rm_tree(tmp);
}
END_TEST

/* --scale, --throttle-bps and --keep shape the bundled Hub: with a Hub of the user's own
 * (--endpoint or HF_ENDPOINT) they were ignored without a word. The endpoint refuses
 * connections, so a run that got past its options would fail with exit 1, not 2. */
START_TEST(demo_refuses_bundled_hub_options_with_an_endpoint)
{
    static const char *const bad[] = { "--scale 2", "--throttle-bps 5000", "--keep" };
    static const char *const how[] = { "--endpoint http://127.0.0.1:9", "" };
    char tmp[256], args[512], out[8192];

    tu_tmpdir(tmp, sizeof tmp, "demo-endpoint");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (size_t j = 0; j < 2; j++) {
            snprintf(args, sizeof args, "--plain %s %s", how[j], bad[i]);
            if (!*how[j])
                setenv("HF_ENDPOINT", "http://127.0.0.1:9", 1);
            ck_assert_msg(run_tool("hf-demo", tmp, args, out, sizeof out) == 2,
                          "hf-demo %s: want exit 2, got: %s", args, out);
            unsetenv("HF_ENDPOINT");
            ck_assert_msg(strstr(out, "bundled local Hub") != NULL, "hf-demo %s: %s", args,
                          out);
        }
    }
    tu_rm_tree(tmp);
}
END_TEST

/* `hf-bench models` has no --bench (--help lists none for it): it was taken and ignored,
 * and the whole five-model suite ran. */
START_TEST(bench_models_refuses_bench_and_impl)
{
    static const char *const bad[] = { "--bench isolation", "--bench=single_1g",
                                       "--impl hfasync" };
    char tmp[256], args[512], out[8192];

    tu_tmpdir(tmp, sizeof tmp, "bench-args");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        /* a --tmpdir that cannot be made: a run that got past the options stops at once */
        snprintf(args, sizeof args, "models %s --reps 1 --tmpdir '%s/missing/dir'", bad[i], tmp);
        ck_assert_msg(run_tool("hf-bench", tmp, args, out, sizeof out) == 2,
                      "hf-bench %s: want exit 2, got: %s", args, out);
        ck_assert_msg(strstr(out, "unknown option") != NULL, "hf-bench %s: %s", args, out);
        ck_assert_msg(strstr(out, "\"suite\"") == NULL, "hf-bench %s: %s", args, out);
    }
    /* the suites that have them still take them */
    ck_assert_int_eq(run_tool("hf-bench", tmp, "download --bench nope", out, sizeof out), 2);
    ck_assert_msg(strstr(out, "unknown bench 'nope'") != NULL, "%s", out);
    tu_rm_tree(tmp);
}
END_TEST

static Suite *tool_args_suite(void)
{
    Suite *s = suite_create("tool_args");
    TCase *tc = tcase_create("usage");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, demo_refuses_a_scale_that_hf_fixtures_cannot_write);
    tcase_add_test(tc, bench_models_refuses_bench_and_impl);
    tcase_add_test(tc, demo_refuses_bundled_hub_options_with_an_endpoint);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(tool_args_suite)
