/*
 * check_fetch_cli.c - hf-fetch end to end: the built tools/hf-fetch run as a child process
 * against hf-mock-hub on loopback. Every subcommand, every exit code (0 to 6, and 130 on
 * Ctrl-C), --local-dir's second run fetching nothing, scan-cache on a cache these tests
 * wrote, verify catching a blob changed on disk, rm keeping blobs another revision uses,
 * model --json against the fixtures, --help everywhere, and the README's C example.
 *
 * Design notes
 *  - one mock Hub serves the whole suite (an unchecked fixture, in the runner process);
 *    each test gets a fresh work folder (cache, HF_HOME, outputs) and zeroed counters;
 *  - hf-fetch runs through fork/exec with stdin from /dev/null and stdout/stderr written
 *    to files that are read back; the environment is scrubbed of the HF_* settings a
 *    developer may have, then HF_ENDPOINT and HF_HUB_CACHE name the mock and the cache;
 *  - every run's output is searched for the suite's tokens: a token printed anywhere, in
 *    any test, fails that test;
 *  - assertions are on exit codes, printed paths and JSON, bytes on disk and the mock's
 *    request counters, never on timing (waits poll a condition with a deadline);
 *  - a --local-dir copy is caught under way by making the cached blob a FIFO that the test
 *    feeds: the copy lasts until the test closes it, with no hook in hf-fetch.
 */
#include "common/testutil.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/mockhub.h"

#define TOKEN "hf_cli_tok_6f1d9a7c_secret"      /* valid for org/gated and org/private */
#define WRONG "hf_cli_wrong_83b2e4_secret"
#define FIXTURE_TOKEN "hf_fixture_token"        /* the fixtures' gated sd35 repo */
#define BIN_SIZE 300000                         /* org/tiny weights/model.bin (LFS) */
#define MAX_ARGS 64
#define MANY_FILES 64                           /* org/many: f00.txt ... f63.txt */

static tu_mock_t mock;          /* the runner's; valid in every test */
static char work[256], cache[300], home[300];
static char *out, *err;         /* the last run's stdout and stderr */
static const char *stdout_to;   /* where the next runs' stdout goes instead (NULL: a file) */
static unsigned runs;

/* ---- helpers: files ------------------------------------------------------------------------ */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *b;
    long n;

    ck_assert_msg(f != NULL, "open %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    b = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return b;
}

static void spit(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "create %s: %s", path, strerror(errno));
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static int is_link(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

static int is_regular(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* A path built like printf, in one of a few rotating buffers. */
static const char *P(const char *fmt, ...) HF_PRINTF(1, 2);
static const char *P(const char *fmt, ...)
{
    static char bufs[8][1024];
    static unsigned next;
    char *b = bufs[next++ % 8];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof bufs[0], fmt, ap);
    va_end(ap);
    return b;
}

/* Bytes and count of the regular files in `dir` (not recursive); counts names ending
 * in `skip_suffix` (may be NULL) in *skipped instead. */
static long long dir_bytes(const char *dir, int *nfiles, const char *skip_suffix, int *skipped)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    long long total = 0;

    *nfiles = 0;
    if (skipped)
        *skipped = 0;
    if (!d && errno == ENOENT)
        return 0;
    ck_assert_msg(d != NULL, "opendir %s", dir);
    while ((e = readdir(d)) != NULL) {
        char full[1024];
        size_t n = strlen(e->d_name), s = skip_suffix ? strlen(skip_suffix) : 0;
        snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
        if (!is_regular(full))
            continue;
        if (skip_suffix && n >= s && strcmp(e->d_name + n - s, skip_suffix) == 0) {
            (*skipped)++;
            continue;
        }
        total += file_size(full);
        (*nfiles)++;
    }
    closedir(d);
    return total;
}

/* The weights/model.bin pattern. */
static unsigned char *bin_bytes(void)
{
    unsigned char *b = malloc(BIN_SIZE);
    ck_assert_ptr_nonnull(b);
    for (size_t i = 0; i < BIN_SIZE; i++)
        b[i] = (unsigned char)((i * 7 + 3) ^ (i >> 11));
    return b;
}

/* ---- helpers: running hf-fetch ------------------------------------------------------------- */

static void no_token_in(const char *what, const char *text)
{
    static const char *const secrets[] = { TOKEN, WRONG, FIXTURE_TOKEN };
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        ck_assert_msg(strstr(text, secrets[i]) == NULL, "a token in hf-fetch's %s:\n%s", what,
                      text);
}

/* Start hf-fetch with argv[1..] = `args` (NULL-terminated); stdout and stderr go to files
 * of the work folder. Returns the child's pid. */
static pid_t spawn_argv(const char *const *args)
{
    const char *top = getenv("HF_TOP_BUILDDIR");
    char prog[512];
    const char *argv[MAX_ARGS + 2];
    size_t n = 0;
    pid_t pid;

    snprintf(prog, sizeof prog, "%s/tools/hf-fetch", top ? top : ".");
    argv[n++] = prog;
    for (; args[n - 1] && n <= MAX_ARGS; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    runs++;
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int o = open(stdout_to ? stdout_to : P("%s/out", work), O_WRONLY | O_CREAT | O_TRUNC,
                     0644);
        int e = open(P("%s/err", work), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || o < 0 || e < 0)
            _exit(127);
        dup2(in, 0);
        dup2(o, 1);
        dup2(e, 2);
        execv(prog, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Wait for `pid`, read back its output into out/err (checked for tokens) and return its
 * exit status (128 + N if killed by signal N). */
static int finish(pid_t pid)
{
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    free(out);
    free(err);
    out = stdout_to ? strdup("") : slurp(P("%s/out", work), NULL);
    err = slurp(P("%s/err", work), NULL);
    no_token_in("stdout", out);
    no_token_in("stderr", err);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int fetchv(const char *first, va_list ap)
{
    const char *args[MAX_ARGS + 1];
    size_t n = 0;
    for (const char *a = first; a; a = va_arg(ap, const char *)) {
        ck_assert_uint_lt(n, MAX_ARGS);
        args[n++] = a;
    }
    args[n] = NULL;
    return finish(spawn_argv(args));
}

/* hf-fetch ARGS... (NULL-terminated), failing the test unless it exits with `want`; out
 * and err hold its output. */
static void expect(int want, const char *first, ...)
{
    va_list ap;
    int rc;
    va_start(ap, first);
    rc = fetchv(first, ap);
    va_end(ap);
    /* Check carries a failure's message in a bounded packet: show the ends of the output
     * (a sanitizer's report is long), never so much that the message itself is lost */
    ck_assert_msg(rc == want, "hf-fetch %s: exit %d, want %d\nstdout: %.1500s\nstderr: %.3000s",
                  first ? first : "", rc, want, out, err);
}

/* stdout without its trailing newline. */
static const char *line(void)
{
    size_t n = strlen(out);
    ck_assert_msg(n > 0 && out[n - 1] == '\n', "output is not one line: [%s]", out);
    out[n - 1] = '\0';
    ck_assert_msg(strchr(out, '\n') == NULL, "output is not one line: [%s]", out);
    return out;
}

static cJSON *json_out(void)
{
    cJSON *j = cJSON_Parse(out);
    ck_assert_msg(j != NULL, "not JSON: %s", out);
    return j;
}

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_msg(cJSON_IsString(v), "no string \"%s\"", key);
    return v->valuestring;
}

static double jnum(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_msg(cJSON_IsNumber(v), "no number \"%s\"", key);
    return v->valuedouble;
}

/* Requests the mock has answered (both ports) since the last reset. */
static long mock_total(void)
{
    char *text = tu_mock_stats(&mock);
    cJSON *j = cJSON_Parse(text);
    long n;
    ck_assert_ptr_nonnull(j);
    n = (long)jnum(j, "total");
    cJSON_Delete(j);
    free(text);
    return n;
}

/* The snapshot folder of org/tiny at `rev` after downloading all of it (into *dir). */
static void snapshot_of(const char *rev, char *dir, size_t size)
{
    expect(0, "download", "org/tiny", "--quiet", "--revision", rev, (char *)NULL);
    snprintf(dir, size, "%s", line());
}

/* ---- fixtures ------------------------------------------------------------------------------ */

static void serve(void)
{
    unsigned char *bin = bin_bytes();
    static const char gpt2[] = "{\"model_type\": \"gpt2\", \"vocab_size\": 50257}\n";

    tu_mock_root(&mock);
    tu_mock_fixtures(&mock, 0);
    tu_mock_file(&mock, "model", "org/tiny", "config.json", "{\"v\": 2}\n", 9);
    tu_mock_file(&mock, "model", "org/tiny", "README.md", "# tiny\n", 7);
    tu_mock_file(&mock, "model", "org/tiny", "weights/model.bin", bin, BIN_SIZE);
    tu_mock_file(&mock, "model", "org/tiny", ".mockhub/v1.0/config.json", "{\"v\": 1}\n", 9);
    tu_mock_file(&mock, "model", "org/tiny", ".mockhub/v1.0/weights/model.bin", bin, BIN_SIZE);
    tu_mock_settings(&mock, "model", "org/tiny",
                     "{\"lfs\": [\"*.bin\"], \"revisions\": {\"v1.0\": "
                     "{\"dir\": \".mockhub/v1.0\", \"type\": \"tag\"}}}");
    tu_mock_file(&mock, "dataset", "org/data", "data/train.csv", "a,b\n1,2\n", 8);
    tu_mock_file(&mock, "dataset", "org/data", "README.md", "# data\n", 7);
    tu_mock_file(&mock, "model", "org/gated", "config.json", "{}\n", 3);
    tu_mock_settings(&mock, "model", "org/gated",
                     "{\"gated\": \"manual\", \"tokens\": [\"" TOKEN "\"]}");
    tu_mock_file(&mock, "model", "org/private", "config.json", "{}\n", 3);
    tu_mock_settings(&mock, "model", "org/private",
                     "{\"private\": true, \"tokens\": [\"" TOKEN "\"]}");
    tu_mock_file(&mock, "model", "openai-community/gpt2", "config.json", gpt2,
                 sizeof gpt2 - 1);
    for (int i = 0; i < MANY_FILES; i++)
        tu_mock_file(&mock, "model", "org/many", P("f%02d.txt", i), "many\n", 5);
    free(bin);
    tu_mock_start(&mock, NULL);
}

static void unserve(void)
{
    tu_mock_stop(&mock);
}

static void setup(void)
{
    static const char *const scrub[] = {
        "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_CACHE",
        "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
        "HF_HUB_DISABLE_PROGRESS_BARS", "HF_HUB_DISABLE_SYMLINKS", "HF_HUB_DISABLE_IMPLICIT_TOKEN",
        "HF_HUB_ETAG_TIMEOUT", "HF_HUB_DOWNLOAD_TIMEOUT", "HF_ENDPOINT", "HF_HOME",
    };
    for (size_t i = 0; i < sizeof scrub / sizeof scrub[0]; i++)
        unsetenv(scrub[i]);
    snprintf(work, sizeof work, "/tmp/hfasync-cli-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(work));
    snprintf(cache, sizeof cache, "%s/cache", work);
    snprintf(home, sizeof home, "%s/home", work);
    ck_assert_int_eq(mkdir(home, 0755), 0);
    setenv("HF_HOME", home, 1);                 /* no token file of the developer's */
    setenv("HF_ENDPOINT", mock.hub, 1);
    setenv("HF_HUB_CACHE", cache, 1);
    tu_mock_reset(&mock);
    out = err = NULL;
    stdout_to = NULL;
}

static void teardown(void)
{
    char cmd[400];
    free(out);
    free(err);
    out = err = NULL;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
    ck_assert_int_eq(system(cmd), 0);
}

/* ---- help and usage ------------------------------------------------------------------------ */

START_TEST(help_for_every_subcommand_exits_0)
{
    static const char *const cmds[] = { "download", "info", "ls", "scan-cache", "verify",
                                         "rm", "model" };
    expect(0, "--help", (char *)NULL);
    ck_assert_ptr_nonnull(strstr(out, "usage: hf-fetch COMMAND"));
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        expect(0, cmds[i], "--help", (char *)NULL);
        ck_assert_msg(strncmp(out, P("usage: hf-fetch %s", cmds[i]),
                              strlen(P("usage: hf-fetch %s", cmds[i]))) == 0, "%.3000s", out);
        ck_assert_ptr_nonnull(strstr(out, "--cache-dir"));     /* every command's */
        ck_assert_str_eq(err, "");
        expect(0, cmds[i], "-h", (char *)NULL);
    }
    expect(0, "--version", (char *)NULL);
    ck_assert_msg(strncmp(out, "hf-fetch ", 9) == 0, "%.3000s", out);
    ck_assert_int_eq(mock_total(), 0);
}
END_TEST

START_TEST(usage_errors_exit_1_without_a_request)
{
    expect(1, (char *)NULL);
    expect(1, "frobnicate", (char *)NULL);
    ck_assert_ptr_nonnull(strstr(err, "unknown command"));
    expect(1, "download", (char *)NULL);
    ck_assert_ptr_nonnull(strstr(err, "missing REPO"));
    expect(1, "download", "org/tiny", "--bogus", (char *)NULL);
    expect(1, "download", "org/tiny", "--revision", (char *)NULL);
    expect(1, "download", "org/tiny", "--repo-type", "dataz", (char *)NULL);
    expect(1, "download", "org/tiny", "--jobs", "0", (char *)NULL);
    expect(1, "info", "org/tiny", "extra", (char *)NULL);
    expect(1, "scan-cache", "org/tiny", (char *)NULL);
    expect(1, "download", "org/tiny", "--quant", "Q4", (char *)NULL);
    expect(1, "download", "org/tiny", "config.json", "--endpoint", "ftp://x", (char *)NULL);
    expect(1, "model", "no-such-model", (char *)NULL);
    ck_assert_int_eq(mock_total(), 0);
}
END_TEST

/* An option a command would ignore is refused (exit 1, naming the option and the command,
 * no request), as the official CLI's argparse does; each command's --help lists exactly
 * the options it takes. Before, `scan-cache --revision X`, `model --repo-type dataset` or
 * `verify --include '*'` ran, ignoring them. */
START_TEST(an_option_the_command_does_not_use_is_refused)
{
    static const struct {
        const char *cmd, *repo, *opt, *val;
    } bad[] = {
        { "model", NULL, "--repo-type", "dataset" }, { "model", NULL, "--include", "*" },
        { "scan-cache", NULL, "--revision", "v1" },  { "scan-cache", NULL, "--endpoint", "http://x" },
        { "verify", "org/tiny", "--include", "*" },  { "verify", "org/tiny", "--revision", "v1" },
        { "info", "org/tiny", "--jobs", "3" },       { "ls", "org/tiny", "--local-dir", "d" },
        { "rm", "org/tiny", "--token", "t" },        { "download", "org/tiny", "--dim", "256" },
    };
    static const struct {
        const char *cmd, *has, *lacks;
    } help[] = {
        { "download", "--include", "--quant" }, { "model", "--quant", "--repo-type" },
        { "scan-cache", "--json", "--revision" }, { "verify", "--repo-type", "--revision" },
        { "rm", "--revision", "--endpoint" }, { "info", "--endpoint", "--jobs" },
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (bad[i].repo)
            expect(1, bad[i].cmd, bad[i].repo, bad[i].opt, bad[i].val, (char *)NULL);
        else
            expect(1, bad[i].cmd, bad[i].opt, bad[i].val, (char *)NULL);
        ck_assert_msg(strstr(err, P("%s is not an option of '%s'", bad[i].opt, bad[i].cmd)),
                      "%s %s: %s", bad[i].cmd, bad[i].opt, err);
        ck_assert_str_eq(out, "");
    }
    expect(1, "model", "--repo-type=dataset", (char *)NULL);      /* the = form too */
    for (size_t i = 0; i < sizeof help / sizeof help[0]; i++) {
        expect(0, help[i].cmd, "--help", (char *)NULL);
        ck_assert_msg(strstr(out, P("  %s ", help[i].has)), "%s: %s", help[i].cmd, out);
        ck_assert_msg(!strstr(out, P("  %s ", help[i].lacks)), "%s: %s", help[i].cmd, out);
    }
    expect(0, "scan-cache", "--help", (char *)NULL);
    ck_assert_ptr_null(strstr(out, "  -- "));                     /* it takes no arguments */
    expect(0, "ls", "--help", (char *)NULL);
    ck_assert_ptr_nonnull(strstr(out, "REPO and PATH"));
    /* what every command takes still works with each */
    expect(0, "scan-cache", "--json", "--quiet", "--offline", (char *)NULL);
    ck_assert_int_eq(mock_total(), 0);
}
END_TEST

/* ---- download ------------------------------------------------------------------------------ */

START_TEST(download_one_file_prints_its_path_in_the_cache)
{
    const char *path;
    char *text;

    expect(0, "download", "org/tiny", "config.json", (char *)NULL);
    path = line();
    ck_assert_msg(strncmp(path, P("%s/models--org--tiny/snapshots/", cache),
                          strlen(P("%s/models--org--tiny/snapshots/", cache))) == 0, "%s", path);
    ck_assert_msg(strlen(path) == strlen(cache) + strlen("/models--org--tiny/snapshots/") + 40 +
                                      strlen("/config.json"), "%s", path);
    ck_assert(is_link(path));
    text = slurp(path, NULL);
    ck_assert_str_eq(text, "{\"v\": 2}\n");
    free(text);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/org/tiny/resolve/main/config.json"), 1);

    /* the LFS file, through the CDN; --json gives {"path": ...} */
    expect(0, "download", "org/tiny", "weights/model.bin", "--json", (char *)NULL);
    {
        cJSON *j = json_out();
        ck_assert_int_eq(file_size(jstr(j, "path")), BIN_SIZE);
        cJSON_Delete(j);
    }
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/weights/model.bin"), 1);
}
END_TEST

START_TEST(download_several_files_prints_the_snapshot_folder)
{
    char dir[1024];
    cJSON *j;

    expect(0, "download", "org/tiny", "config.json", "README.md", (char *)NULL);
    snprintf(dir, sizeof dir, "%s", line());
    ck_assert_msg(strncmp(dir, P("%s/models--org--tiny/snapshots/", cache),
                          strlen(P("%s/models--org--tiny/snapshots/", cache))) == 0, "%s", dir);
    ck_assert_int_eq(file_size(P("%s/config.json", dir)), 9);
    ck_assert_int_eq(file_size(P("%s/README.md", dir)), 7);
    ck_assert_int_eq(file_size(P("%s/weights/model.bin", dir)), -1);

    expect(0, "download", "org/tiny", "config.json", "README.md", "--json", (char *)NULL);
    j = json_out();
    ck_assert_str_eq(jstr(j, "snapshot"), dir);
    cJSON_Delete(j);
}
END_TEST

START_TEST(download_of_a_whole_repo_prints_the_snapshot_folder)
{
    char dir[1024];
    unsigned char *bin = bin_bytes();
    size_t n;
    char *got;

    snapshot_of("main", dir, sizeof dir);
    ck_assert_int_eq(file_size(P("%s/config.json", dir)), 9);
    ck_assert_int_eq(file_size(P("%s/README.md", dir)), 7);
    got = slurp(P("%s/weights/model.bin", dir), &n);
    ck_assert_uint_eq(n, BIN_SIZE);
    ck_assert(memcmp(got, bin, BIN_SIZE) == 0);
    free(got);
    free(bin);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/weights/model.bin"), 1);
}
END_TEST

START_TEST(include_and_exclude_choose_the_files)
{
    char dir[1024];

    expect(0, "download", "org/tiny", "--include", "*.json", "--include=*.md", "--exclude",
           "README*", "--quiet", (char *)NULL);
    snprintf(dir, sizeof dir, "%s", line());
    ck_assert_int_eq(file_size(P("%s/config.json", dir)), 9);
    ck_assert_int_eq(file_size(P("%s/README.md", dir)), -1);
    ck_assert_int_eq(file_size(P("%s/weights/model.bin", dir)), -1);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/weights/model.bin"), 0);
    ck_assert_int_eq(tu_mock_count(&mock, "HEAD", "/weights/model.bin"), 0);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/README.md"), 0);

    expect(0, "download", "org/tiny", "--include", "weights/*", "--quiet", (char *)NULL);
    ck_assert_int_eq(file_size(P("%s/weights/model.bin", line())), BIN_SIZE);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/weights/model.bin"), 1);
}
END_TEST

START_TEST(revision_names_a_tag_and_a_commit)
{
    char main_dir[1024], tag_dir[1024], *text, *ref;
    const char *commit;

    snapshot_of("main", main_dir, sizeof main_dir);
    expect(0, "download", "org/tiny", "config.json", "--revision", "v1.0", (char *)NULL);
    text = slurp(line(), NULL);
    ck_assert_str_eq(text, "{\"v\": 1}\n");
    free(text);
    ref = slurp(P("%s/models--org--tiny/refs/v1.0", cache), NULL);
    ck_assert_uint_eq(strlen(ref), 40);
    ck_assert_ptr_nonnull(strstr(out, ref));
    ck_assert(strcmp(strrchr(main_dir, '/') + 1, ref) != 0);

    /* a 40-hex commit: that very snapshot, from the cache alone */
    tu_mock_reset(&mock);
    expect(0, "download", "org/tiny", "config.json", "--revision", ref, (char *)NULL);
    snprintf(tag_dir, sizeof tag_dir, "%s", line());
    commit = strstr(tag_dir, ref);
    ck_assert_ptr_nonnull(commit);
    ck_assert_int_eq(mock_total(), 0);
    free(ref);

    expect(2, "download", "org/tiny", "config.json", "--revision", "v9.9", (char *)NULL);
    ck_assert_ptr_nonnull(strstr(err, "org/tiny"));
}
END_TEST

START_TEST(repo_type_dataset_uses_the_datasets_folder_and_urls)
{
    char dir[1024];
    char *text;

    expect(0, "download", "org/data", "--repo-type", "dataset", "--quiet", (char *)NULL);
    snprintf(dir, sizeof dir, "%s", line());
    ck_assert_msg(strncmp(dir, P("%s/datasets--org--data/snapshots/", cache),
                          strlen(P("%s/datasets--org--data/snapshots/", cache))) == 0, "%s", dir);
    text = slurp(P("%s/data/train.csv", dir), NULL);
    ck_assert_str_eq(text, "a,b\n1,2\n");
    free(text);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/api/datasets/org/data/revision/main"), 1);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/data/train.csv"), 1);
    /* as a model it does not exist */
    expect(2, "download", "org/data", "README.md", (char *)NULL);
}
END_TEST

START_TEST(local_dir_writes_plain_copies_and_a_second_run_downloads_nothing)
{
    unsigned char *bin = bin_bytes();
    char ld[512], *text, *meta;
    size_t n;

    snprintf(ld, sizeof ld, "%s/local", work);
    expect(0, "download", "org/tiny", "--local-dir", ld, "--quiet", (char *)NULL);
    ck_assert_str_eq(line(), ld);
    ck_assert(is_regular(P("%s/config.json", ld)));
    ck_assert(is_regular(P("%s/README.md", ld)));
    ck_assert(is_regular(P("%s/weights/model.bin", ld)));
    text = slurp(P("%s/weights/model.bin", ld), &n);
    ck_assert_uint_eq(n, BIN_SIZE);
    ck_assert(memcmp(text, bin, BIN_SIZE) == 0);
    free(text);
    free(bin);
    /* huggingface_hub's metadata: commit, etag, timestamp */
    meta = slurp(P("%s/.cache/huggingface/download/weights/model.bin.metadata", ld), NULL);
    ck_assert_msg(strchr(meta, '\n') && strlen(meta) > 40 + 1 + 64, "%s", meta);
    free(meta);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/weights/model.bin"), 1);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/config.json"), 1);

    /* the second run: metadata requests only, no body at all */
    tu_mock_reset(&mock);
    expect(0, "download", "org/tiny", "--local-dir", ld, "--quiet", (char *)NULL);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/weights/model.bin"), 0);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/config.json"), 0);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/README.md"), 0);
    ck_assert_int_eq(file_size(P("%s/weights/model.bin", ld)), BIN_SIZE);

    /* a local copy changed by hand is brought back */
    spit(P("%s/config.json", ld), "{\"mine\": true}\n", 15);
    expect(0, "download", "org/tiny", "config.json", "--local-dir", ld, "--quiet", (char *)NULL);
    text = slurp(P("%s/config.json", ld), NULL);
    ck_assert_str_eq(text, "{\"v\": 2}\n");
    free(text);
}
END_TEST

START_TEST(offline_answers_from_the_cache_without_a_request)
{
    char dir[1024], one[1024];

    snapshot_of("main", dir, sizeof dir);
    tu_mock_reset(&mock);
    expect(0, "download", "org/tiny", "config.json", "--offline", (char *)NULL);
    snprintf(one, sizeof one, "%s", line());
    ck_assert_str_eq(one, P("%s/config.json", dir));
    expect(0, "download", "org/tiny", "--offline", (char *)NULL);
    ck_assert_str_eq(line(), dir);
    setenv("HF_HUB_OFFLINE", "1", 1);
    expect(0, "download", "org/tiny", "README.md", (char *)NULL);
    expect(2, "download", "org/tiny", "config.json", "--revision", "v1.0", (char *)NULL);
    ck_assert_ptr_nonnull(strstr(err, "offline"));
    unsetenv("HF_HUB_OFFLINE");
    expect(2, "download", "org/data", "--repo-type", "dataset", "--offline", (char *)NULL);
    ck_assert_int_eq(mock_total(), 0);
}
END_TEST

START_TEST(progress_lines_once_per_file_and_none_when_quiet)
{
    expect(0, "download", "org/tiny", "config.json", (char *)NULL);
    ck_assert_msg(strstr(err, "config.json: 9 B / 9 B done\n") != NULL, "%.3000s", err);
    ck_assert_msg(strstr(strstr(err, " done\n") + 1, " done\n") == NULL, "twice: %s", err);
    expect(0, "download", "org/tiny", "README.md", "--quiet", (char *)NULL);
    ck_assert_str_eq(err, "");
    setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1", 1);
    expect(0, "download", "org/tiny", "weights/model.bin", (char *)NULL);
    ck_assert_str_eq(err, "");
}
END_TEST

START_TEST(an_option_without_its_value_is_a_usage_error)
{
    /* the next option is not taken for the value: no folder "--quiet", no request */
    expect(1, "download", "org/tiny", "config.json", "--local-dir", "--quiet", (char *)NULL);
    ck_assert_msg(strstr(err, "--local-dir") && strstr(err, "value"), "%.3000s", err);
    expect(1, "download", "org/tiny", "config.json", "--revision", "--json", (char *)NULL);
    ck_assert_msg(strstr(err, "--revision") && strstr(err, "value"), "%.3000s", err);
    expect(1, "download", "org/tiny", "--include", "-q", (char *)NULL);
    expect(1, "download", "org/tiny", "--cache-dir", (char *)NULL);
    ck_assert_ptr_nonnull(strstr(err, "--cache-dir"));
    ck_assert_int_eq(mock_total(), 0);
    /* with '=' the value is whatever follows it */
    expect(0, "download", "org/tiny", "config.json", "--quiet", P("--local-dir=%s/-ld", work),
           (char *)NULL);
    ck_assert_int_eq(file_size(P("%s/-ld/config.json", work)), 9);
}
END_TEST

START_TEST(double_dash_ends_the_options)
{
    char *text;

    expect(0, "download", "org/tiny", "--quiet", "--", "config.json", (char *)NULL);
    text = slurp(line(), NULL);
    ck_assert_str_eq(text, "{\"v\": 2}\n");
    free(text);
    /* after "--" a name that starts with '-' is a file, not an option */
    expect(2, "download", "--quiet", "--", "org/tiny", "-q", (char *)NULL);
    ck_assert_msg(strstr(err, "org/tiny/-q") != NULL, "%.3000s", err);
    ck_assert_int_eq(tu_mock_count(&mock, "HEAD", "/org/tiny/resolve/main/-q"), 1);
}
END_TEST

START_TEST(named_files_are_downloaded_and_include_exclude_ignored)
{
    char *text;

    /* as `hf download`: the globs filter a whole repo only, with a warning otherwise */
    expect(0, "download", "org/tiny", "config.json", "--include", "*.md", "--quiet",
           (char *)NULL);
    text = slurp(line(), NULL);
    ck_assert_str_eq(text, "{\"v\": 2}\n");
    free(text);
    ck_assert_msg(strstr(out, "/config.json") != NULL, "%.3000s", out);
    ck_assert_msg(strstr(err, "ignoring --include") != NULL, "%.3000s", err);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/README.md"), 0);

    expect(0, "download", "org/tiny", "config.json", "README.md", "--exclude", "*.md",
           "--quiet", (char *)NULL);
    ck_assert_int_eq(file_size(P("%s/README.md", line())), 7);
    ck_assert_msg(strstr(err, "ignoring --include and --exclude") != NULL, "%.3000s", err);
}
END_TEST

START_TEST(relative_cache_folders_are_the_current_folders)
{
    int here = open(".", O_RDONLY | O_DIRECTORY);
    const char *want = P("%s/rel/models--org--tiny/snapshots/", work);

    ck_assert_int_ge(here, 0);
    ck_assert_int_eq(chdir(work), 0);
    expect(0, "download", "org/tiny", "config.json", "--cache-dir", "rel", "--quiet",
           (char *)NULL);
    ck_assert_msg(strncmp(line(), want, strlen(want)) == 0, "%s", out);
    ck_assert_int_eq(file_size(out), 9);

    setenv("HF_HUB_CACHE", "rel2", 1);
    expect(0, "download", "org/tiny", "config.json", "--quiet", (char *)NULL);
    want = P("%s/rel2/models--org--tiny/snapshots/", work);
    ck_assert_msg(strncmp(line(), want, strlen(want)) == 0, "%s", out);
    unsetenv("HF_HUB_CACHE");
    setenv("HF_HOME", "relhome", 1);
    expect(0, "scan-cache", "--json", (char *)NULL);
    {
        cJSON *j = json_out();
        ck_assert_str_eq(jstr(j, "cache_dir"), P("%s/relhome/hub", work));
        cJSON_Delete(j);
    }
    ck_assert_int_eq(fchdir(here), 0);
    close(here);
}
END_TEST

START_TEST(a_result_that_cannot_be_written_is_a_failure)
{
    stdout_to = "/dev/full";
    expect(6, "download", "org/tiny", "config.json", "--quiet", (char *)NULL);
    ck_assert_msg(strstr(err, "standard output") != NULL, "%.3000s", err);
    expect(6, "scan-cache", (char *)NULL);
}
END_TEST

START_TEST(local_dir_offline_answers_from_the_folder_and_the_cache)
{
    char ld[512], ld2[512], *text;

    snprintf(ld, sizeof ld, "%s/ld", work);
    snprintf(ld2, sizeof ld2, "%s/ld2", work);
    /* nothing anywhere: not found, without a request */
    expect(2, "download", "org/tiny", "config.json", "--local-dir", ld, "--offline",
           (char *)NULL);
    ck_assert_msg(strstr(err, "org/tiny/config.json") && strstr(err, "offline"), "%.3000s",
                  err);
    expect(2, "download", "org/tiny", "--local-dir", ld, "--offline", (char *)NULL);
    ck_assert_msg(strstr(err, "org/tiny") != NULL, "%.3000s", err);
    ck_assert_int_eq(mock_total(), 0);

    /* in the cache: copied into DIR without a request */
    expect(0, "download", "org/tiny", "--quiet", (char *)NULL);
    tu_mock_reset(&mock);
    expect(0, "download", "org/tiny", "config.json", "--local-dir", ld, "--offline",
           (char *)NULL);
    ck_assert_str_eq(line(), ld);
    text = slurp(P("%s/config.json", ld), NULL);
    ck_assert_str_eq(text, "{\"v\": 2}\n");
    free(text);
    ck_assert(is_regular(P("%s/config.json", ld)));
    setenv("HF_HUB_OFFLINE", "1", 1);
    expect(0, "download", "org/tiny", "--local-dir", ld2, "--exclude", "*.md", (char *)NULL);
    ck_assert_int_eq(file_size(P("%s/config.json", ld2)), 9);
    ck_assert_int_eq(file_size(P("%s/weights/model.bin", ld2)), BIN_SIZE);
    ck_assert(is_regular(P("%s/weights/model.bin", ld2)));
    ck_assert_int_eq(file_size(P("%s/README.md", ld2)), -1);
    /* a copy already in DIR is the answer, even one the cache lacks */
    spit(P("%s/mine.txt", ld), "x", 1);
    expect(0, "download", "org/tiny", "mine.txt", "--local-dir", ld, (char *)NULL);
    expect(2, "download", "org/tiny", "nope.txt", "--local-dir", ld, (char *)NULL);
    /* a malformed path is refused before DIR is looked at */
    expect(1, "download", "org/tiny", "../ld/mine.txt", "--local-dir", ld, (char *)NULL);
    unsetenv("HF_HUB_OFFLINE");
    ck_assert_int_eq(mock_total(), 0);
}
END_TEST

/* ---- info, ls ------------------------------------------------------------------------------ */

START_TEST(info_gives_the_commit_and_files)
{
    char dir[1024];
    const char *commit;
    cJSON *j, *files, *f;
    int n = 0;

    snapshot_of("main", dir, sizeof dir);
    commit = strrchr(dir, '/') + 1;
    expect(0, "info", "org/tiny", (char *)NULL);
    ck_assert_msg(strstr(out, commit) != NULL, "%.3000s", out);
    ck_assert_ptr_nonnull(strstr(out, "weights/model.bin"));
    ck_assert_ptr_nonnull(strstr(out, "files:    3"));

    expect(0, "info", "org/tiny", "--json", "--revision", "v1.0", (char *)NULL);
    j = json_out();
    ck_assert_str_eq(jstr(j, "id"), "org/tiny");
    ck_assert_str_eq(jstr(j, "revision"), "v1.0");
    ck_assert_uint_eq(strlen(jstr(j, "sha")), 40);
    ck_assert_str_ne(jstr(j, "sha"), commit);
    files = cJSON_GetObjectItem(j, "files");
    cJSON_ArrayForEach(f, files) {
        if (strcmp(jstr(f, "path"), "weights/model.bin") == 0) {
            ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(f, "lfs")));
            ck_assert_int_eq((long long)jnum(f, "size"), BIN_SIZE);
        }
        n++;
    }
    ck_assert_int_eq(n, 2);
    cJSON_Delete(j);

    expect(0, "info", "org/data", "--repo-type", "dataset", "--json", (char *)NULL);
    j = json_out();
    ck_assert_str_eq(jstr(j, "type"), "dataset");
    cJSON_Delete(j);
    expect(2, "info", "org/nothing", (char *)NULL);
    ck_assert_ptr_nonnull(strstr(err, "org/nothing"));
}
END_TEST

START_TEST(ls_lists_sizes_and_lfs)
{
    cJSON *j, *f;

    expect(0, "ls", "org/tiny", (char *)NULL);
    ck_assert_msg(strstr(out, "lfs  weights/model.bin\n") != NULL, "%.3000s", out);
    ck_assert_msg(strstr(out, "9 B       config.json\n") != NULL, "%.3000s", out);
    ck_assert_ptr_nonnull(strstr(out, "README.md"));

    expect(0, "ls", "org/tiny", "weights", "--json", (char *)NULL);
    j = json_out();
    ck_assert(cJSON_IsArray(j));
    ck_assert_int_eq(cJSON_GetArraySize(j), 1);
    f = cJSON_GetArrayItem(j, 0);
    ck_assert_str_eq(jstr(f, "path"), "weights/model.bin");
    ck_assert_int_eq((long long)jnum(f, "size"), BIN_SIZE);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(f, "lfs")));
    ck_assert_uint_eq(strlen(jstr(f, "sha256")), 64);
    cJSON_Delete(j);
    expect(2, "ls", "org/nothing", (char *)NULL);
}
END_TEST

/* ---- scan-cache, verify, rm ---------------------------------------------------------------- */

START_TEST(scan_cache_describes_a_cache_the_tests_wrote)
{
    char dir[1024];
    cJSON *j, *repos, *r;
    int tiny_blobs, data_blobs, seen = 0;
    long long tiny_bytes, data_bytes;

    snapshot_of("main", dir, sizeof dir);
    snapshot_of("v1.0", dir, sizeof dir);
    expect(0, "download", "org/data", "--repo-type", "dataset", "--quiet", (char *)NULL);
    tiny_bytes = dir_bytes(P("%s/models--org--tiny/blobs", cache), &tiny_blobs, NULL, NULL);
    data_bytes = dir_bytes(P("%s/datasets--org--data/blobs", cache), &data_blobs, NULL, NULL);
    ck_assert_int_eq(tiny_blobs, 4);           /* two configs, README, one shared model.bin */
    ck_assert_int_eq(tiny_bytes, 9 + 9 + 7 + BIN_SIZE);
    ck_assert_int_eq(data_blobs, 2);

    tu_mock_reset(&mock);
    expect(0, "scan-cache", "--json", (char *)NULL);
    j = json_out();
    ck_assert_str_eq(jstr(j, "cache_dir"), cache);
    ck_assert_int_eq((long long)jnum(j, "size_on_disk"), tiny_bytes + data_bytes);
    repos = cJSON_GetObjectItem(j, "repos");
    ck_assert_int_eq(cJSON_GetArraySize(repos), 2);
    cJSON_ArrayForEach(r, repos) {
        if (strcmp(jstr(r, "repo_id"), "org/tiny") == 0) {
            cJSON *revs = cJSON_GetObjectItem(r, "revisions"), *rv;
            int main_seen = 0, tag_seen = 0;
            ck_assert_str_eq(jstr(r, "type"), "model");
            ck_assert_int_eq((long long)jnum(r, "size_on_disk"), tiny_bytes);
            ck_assert_int_eq((int)jnum(r, "files"), 3 + 2);
            ck_assert_int_eq((int)jnum(r, "refs"), 2);
            ck_assert_int_eq(cJSON_GetArraySize(revs), 2);
            cJSON_ArrayForEach(rv, revs) {
                cJSON *ref = cJSON_GetArrayItem(cJSON_GetObjectItem(rv, "refs"), 0);
                ck_assert_ptr_nonnull(ref);
                main_seen += strcmp(ref->valuestring, "main") == 0;
                tag_seen += strcmp(ref->valuestring, "v1.0") == 0;
                ck_assert_uint_eq(strlen(jstr(rv, "commit")), 40);
            }
            ck_assert_int_eq(main_seen + tag_seen, 2);
            ck_assert_int_eq(main_seen, 1);
            ck_assert_double_gt(jnum(r, "last_modified"), 0);
            seen |= 1;
        } else {
            ck_assert_str_eq(jstr(r, "repo_id"), "org/data");
            ck_assert_str_eq(jstr(r, "type"), "dataset");
            ck_assert_int_eq((long long)jnum(r, "size_on_disk"), data_bytes);
            ck_assert_int_eq((int)jnum(r, "files"), 2);
            seen |= 2;
        }
    }
    ck_assert_int_eq(seen, 3);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "warnings")), 0);
    cJSON_Delete(j);

    expect(0, "scan-cache", (char *)NULL);
    ck_assert_msg(strstr(out, "REPO ID") && strstr(out, "org/tiny") && strstr(out, "org/data") &&
                  strstr(out, "dataset") && strstr(out, "2 repo(s)"), "%.3000s", out);
    ck_assert_msg(strstr(out, "main,v1.0") || strstr(out, "v1.0,main"), "%.3000s", out);
    ck_assert_int_eq(mock_total(), 0);      /* no network */

    /* --cache-dir wins over HF_HUB_CACHE; a cache that does not exist yet is empty */
    expect(0, "scan-cache", "--json", "--cache-dir", P("%s/nothing", work), (char *)NULL);
    j = json_out();
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "repos")), 0);
    ck_assert_int_eq((long long)jnum(j, "size_on_disk"), 0);
    cJSON_Delete(j);
    expect(0, "scan-cache", "--cache-dir", P("%s/nothing", work), (char *)NULL);
}
END_TEST

START_TEST(verify_catches_a_blob_modified_on_disk)
{
    char dir[1024], blob[1100];
    cJSON *j;
    FILE *f;
    ssize_t n;
    int c;

    snapshot_of("main", dir, sizeof dir);
    expect(0, "verify", "org/tiny", (char *)NULL);
    ck_assert_msg(strstr(out, "3 blob(s) checked, 0 corrupt") != NULL, "%.3000s", out);

    /* flip one byte of model.bin's blob, in place (same size) */
    n = readlink(P("%s/weights/model.bin", dir), blob, sizeof blob - 1);
    ck_assert_int_gt(n, 0);
    blob[n] = '\0';
    f = fopen(P("%s/weights/%s", dir, blob), "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, 1000, SEEK_SET);
    c = fgetc(f);
    fseek(f, 1000, SEEK_SET);
    fputc(c ^ 0x5a, f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(file_size(P("%s/weights/model.bin", dir)), BIN_SIZE);

    expect(5, "verify", "org/tiny", (char *)NULL);
    ck_assert_msg(strstr(out, "1 corrupt") != NULL, "%.3000s", out);
    ck_assert_msg(strstr(err, strrchr(blob, '/') + 1) != NULL, "names the blob: %s", err);
    expect(5, "verify", "org/tiny", "--json", (char *)NULL);
    j = json_out();
    ck_assert_int_eq((int)jnum(j, "checked"), 3);
    ck_assert_int_eq((int)jnum(j, "bad"), 1);
    cJSON_Delete(j);
    expect(2, "verify", "org/other", (char *)NULL);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/README.md"), 1);     /* verify: no request */
}
END_TEST

START_TEST(rm_keeps_blobs_shared_with_another_revision)
{
    char main_dir[1024], tag_dir[1024];
    const char *repo = P("%s/models--org--tiny", cache);
    char repo_dir[1024];
    int nblobs;
    long long before, after;
    cJSON *j;
    char *text;

    snprintf(repo_dir, sizeof repo_dir, "%s", repo);
    snapshot_of("main", main_dir, sizeof main_dir);
    snapshot_of("v1.0", tag_dir, sizeof tag_dir);
    before = dir_bytes(P("%s/blobs", repo_dir), &nblobs, NULL, NULL);
    ck_assert_int_eq(nblobs, 4);

    expect(0, "rm", "org/tiny", "--revision", "v1.0", "--json", (char *)NULL);
    j = json_out();
    ck_assert_int_eq((long long)jnum(j, "freed"), 9);      /* v1.0's config.json only */
    cJSON_Delete(j);
    after = dir_bytes(P("%s/blobs", repo_dir), &nblobs, NULL, NULL);
    ck_assert_int_eq(nblobs, 3);
    ck_assert_int_eq(before - after, 9);
    ck_assert_int_eq(file_size(P("%s/refs/v1.0", repo_dir)), -1);
    ck_assert_int_eq(file_size(P("%s/refs/main", repo_dir)), 40);
    ck_assert_int_eq(file_size(tag_dir), -1);
    /* main still reads every byte, the shared model.bin included */
    ck_assert_int_eq(file_size(P("%s/weights/model.bin", main_dir)), BIN_SIZE);
    text = slurp(P("%s/config.json", main_dir), NULL);
    ck_assert_str_eq(text, "{\"v\": 2}\n");
    free(text);
    tu_mock_reset(&mock);
    expect(0, "verify", "org/tiny", (char *)NULL);
    expect(0, "download", "org/tiny", "--offline", (char *)NULL);

    /* the whole repo */
    expect(0, "rm", "org/tiny", (char *)NULL);
    ck_assert_msg(strstr(out, "removed org/tiny") != NULL, "%.3000s", out);
    ck_assert_int_eq(file_size(repo_dir), -1);
    expect(2, "rm", "org/tiny", (char *)NULL);
    ck_assert_int_eq(mock_total(), 0);
}
END_TEST

/* rm, verify and scan-cache run wholly on the main thread, with no future to wait on: a
 * SIGTERM (or Ctrl-C) ends them at once with 130, as documented, even while rm waits for
 * the lock of a blob that a download (here: the test) holds, and it removes nothing more
 * (the blob stays). */
START_TEST(sigterm_ends_an_rm_waiting_for_a_blob_lock_with_130)
{
    const char *args[] = { "rm", "org/tiny", NULL };
    char blobs[512], etag[256] = "", lock[1024], link[1024];
    DIR *d;
    struct dirent *e;
    pid_t pid;
    int fd, rc, n;

    expect(0, "download", "org/tiny", "config.json", "--quiet", (char *)NULL);
    snprintf(link, sizeof link, "%s", line());
    snprintf(blobs, sizeof blobs, "%s/models--org--tiny/blobs", cache);
    ck_assert_ptr_nonnull(d = opendir(blobs));
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            snprintf(etag, sizeof etag, "%s", e->d_name);
    closedir(d);
    ck_assert_str_ne(etag, "");
    snprintf(lock, sizeof lock, "%s/.locks/models--org--tiny/%s.lock", cache, etag);
    fd = open(lock, O_RDWR | O_CREAT, 0664);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(flock(fd, LOCK_EX), 0);

    pid = spawn_argv(args);
    /* its snapshot link is gone: rm is under way and waits for the lock the test holds */
    TU_EVENTUALLY(!is_link(link) || kill(pid, 0) != 0);
    kill(pid, SIGTERM);
    /* it ends while the lock is still held: the signal alone ends it (a sanitizer may
     * run the handler late, so the lock is not let go before it has ended) */
    rc = finish(pid);
    flock(fd, LOCK_UN);
    close(fd);
    ck_assert_msg(rc == 130, "exit %d: %s", rc, err);
    dir_bytes(blobs, &n, NULL, NULL);
    ck_assert_int_eq(n, 1);     /* the blob it was waiting for stays; no link names it */
    ck_assert_str_eq(out, "");
}
END_TEST

/* ---- model --------------------------------------------------------------------------------- */

START_TEST(model_json_describes_the_fixture_models)
{
    static const struct {
        const char *name, *arch;
        int files, tensors;
        long vocab, eos;
    } want[] = {
        { "kimi-k2", "deepseek2", 5, 19, 1024, 2 },
        { "phi4-reasoning", "phi3", 2, 9, 100267, 100265 },
        { "stella", "new", 4, 11, 128, -1 },
        { "gte-qwen", "qwen2", 5, 18, 151646, 151643 },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        cJSON *j, *files, *f;
        expect(0, "model", want[i].name, "--json", (char *)NULL);
        j = json_out();
        ck_assert_str_eq(jstr(j, "name"), want[i].name);
        ck_assert_str_eq(jstr(j, "architecture"), want[i].arch);
        ck_assert_int_eq((long)jnum(j, "tensors"), want[i].tensors);
        ck_assert_int_eq((long)jnum(j, "vocab_size"), want[i].vocab);
        ck_assert_int_eq((long)jnum(j, "eos_token_id"), want[i].eos);
        files = cJSON_GetObjectItem(j, "files");
        ck_assert_int_eq(cJSON_GetArraySize(files), want[i].files);
        cJSON_ArrayForEach(f, files) {
            ck_assert(cJSON_IsString(f));
            ck_assert_msg(strncmp(f->valuestring, cache, strlen(cache)) == 0, "%s",
                          f->valuestring);
            ck_assert_int_gt(file_size(f->valuestring), 0);
        }
        cJSON_Delete(j);
    }
    expect(0, "model", "stella", "--dim", "256", (char *)NULL);
    ck_assert_msg(strstr(out, "2_Dense_256/model.safetensors") != NULL, "%.3000s", out);
    ck_assert_ptr_nonnull(strstr(out, "architecture  new"));
    expect(0, "model", (char *)NULL);
    ck_assert_ptr_nonnull(strstr(out, "sd35-turbo"));
}
END_TEST

START_TEST(model_of_a_gated_repo_needs_a_token)
{
    cJSON *j;

    expect(3, "model", "sd35-turbo", "--json", (char *)NULL);
    ck_assert_ptr_nonnull(strstr(err, "stabilityai/stable-diffusion-3.5-large-turbo"));
    expect(0, "model", "sd35-turbo", "--json", "--token", FIXTURE_TOKEN, (char *)NULL);
    j = json_out();
    ck_assert_str_eq(jstr(j, "name"), "sd35-turbo");
    ck_assert_str_eq(jstr(j, "architecture"), "sd3");
    ck_assert_int_eq((long)jnum(j, "eos_token_id"), 49407);
    ck_assert_int_eq((long)jnum(j, "vocab_size"), 49408);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "files")), 8);
    cJSON_Delete(j);
}
END_TEST

/* ---- exit codes ---------------------------------------------------------------------------- */

START_TEST(exit_2_for_a_missing_repo_file_or_revision)
{
    expect(2, "download", "org/nothing", "config.json", (char *)NULL);
    ck_assert_msg(strstr(err, "org/nothing") != NULL, "%.3000s", err);
    expect(2, "download", "org/tiny", "nothing.txt", (char *)NULL);
    ck_assert_msg(strstr(err, "org/tiny") && strstr(err, "nothing.txt"), "%.3000s", err);
    expect(2, "download", "org/tiny", "--revision", "no-such-branch", (char *)NULL);
    ck_assert_msg(strstr(err, "no-such-branch") || strstr(err, "revision"), "%.3000s", err);
    expect(2, "download", "org/private", "config.json", (char *)NULL);      /* as the Hub */
    expect(0, "download", "org/private", "config.json", "--token", TOKEN, (char *)NULL);
}
END_TEST

START_TEST(exit_3_for_a_gated_repo_without_the_right_token)
{
    expect(3, "download", "org/gated", "config.json", (char *)NULL);
    ck_assert_msg(strstr(err, "org/gated") && strstr(err, "gated"), "%.3000s", err);
    expect(3, "download", "org/gated", "config.json", "--token", WRONG, (char *)NULL);
    setenv("HF_TOKEN", WRONG, 1);
    expect(3, "download", "org/gated", "--quiet", (char *)NULL);
    setenv("HF_TOKEN", TOKEN, 1);
    expect(0, "download", "org/gated", "config.json", (char *)NULL);
    unsetenv("HF_TOKEN");
    expect(0, "download", "org/gated", "config.json", "--token=" TOKEN, (char *)NULL);
}
END_TEST

/* A loopback port that nothing listens on (bound, then closed). */
static int closed_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int s = socket(AF_INET, SOCK_STREAM, 0), port;

    ck_assert_int_ge(s, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &len), 0);
    port = ntohs(a.sin_port);
    close(s);
    return port;
}

START_TEST(exit_4_when_the_endpoint_does_not_answer)
{
    char url[64];

    snprintf(url, sizeof url, "http://127.0.0.1:%d", closed_port());
    /* retried with the default backoff (about 23 s), then given up */
    expect(4, "download", "org/tiny", "config.json", "--endpoint", url, "--token", TOKEN,
           (char *)NULL);
    ck_assert_msg(strstr(err, "org/tiny/config.json") != NULL, "%.3000s", err);
    ck_assert_int_eq(file_size(P("%s/models--org--tiny/snapshots", cache)), -1);
}
END_TEST

START_TEST(exit_5_when_the_bytes_do_not_match_their_hash)
{
    static const char body[] = "{\"path\": \"/repos/models/org/tiny/*\", \"port\": \"cdn\", "
                               "\"method\": \"GET\", \"flip_offset\": 4096}";

    tu_mock_fault(&mock, body);
    expect(5, "download", "org/tiny", "weights/model.bin", (char *)NULL);
    ck_assert_msg(strstr(err, "weights/model.bin") != NULL, "%.3000s", err);
    /* nothing committed: no blob, so no snapshot can point at one */
    {
        int n, partial;
        dir_bytes(P("%s/models--org--tiny/blobs", cache), &n, ".incomplete", &partial);
        ck_assert_int_eq(n, 0);
    }
}
END_TEST

START_TEST(exit_6_when_the_cache_cannot_be_written)
{
    char file[512];

    snprintf(file, sizeof file, "%s/a-file", work);
    spit(file, "x", 1);
    /* a folder below a regular file cannot be made, even by root */
    expect(6, "download", "org/tiny", "config.json", "--cache-dir", P("%s/cache", file),
           (char *)NULL);
    ck_assert_msg(strstr(err, file) != NULL, "names the folder: %s", err);
    expect(6, "download", "org/tiny", "config.json", "--local-dir", P("%s/ld", file),
           "--quiet", (char *)NULL);
    ck_assert_msg(strstr(err, file) != NULL, "names the folder: %s", err);
    expect(6, "scan-cache", "--cache-dir", file, (char *)NULL);
}
END_TEST

START_TEST(the_token_never_appears_in_any_output)
{
    /* every run is searched for the tokens (see finish()); here they are everywhere */
    setenv("HF_TOKEN", TOKEN, 1);
    expect(0, "download", "org/gated", "config.json", (char *)NULL);
    expect(0, "info", "org/gated", "--json", (char *)NULL);
    expect(0, "ls", "org/private", (char *)NULL);
    expect(2, "download", "org/private", "missing.bin", (char *)NULL);
    expect(2, "download", "org/private", "config.json", "--revision", "nope", (char *)NULL);
    unsetenv("HF_TOKEN");
    expect(3, "download", "org/gated", "config.json", "--token", WRONG, (char *)NULL);
    expect(2, "download", "org/private", "config.json", "--token", WRONG, (char *)NULL);
    expect(1, "download", "--token", WRONG, (char *)NULL);
    expect(0, "download", "org/tiny", "config.json", "--token", WRONG, "--local-dir",
           P("%s/ld", work), (char *)NULL);
    expect(1, "scan-cache", "--token", TOKEN, (char *)NULL);   /* makes no request */
    expect(1, "verify", "org/gated", "--token", TOKEN, "--json", (char *)NULL);
    expect(0, "download", "--help", "--token", TOKEN, (char *)NULL);
    ck_assert_uint_ge(runs, 12);
    /* and the token was sent: the Hub saw an Authorization header */
    {
        char *log = tu_mock_requests(&mock, "path=/org/gated/*");
        ck_assert_msg(strstr(log, "\"authorization\": true") != NULL ||
                      strstr(log, "\"authorization\":true") != NULL, "%s", log);
        ck_assert_ptr_null(strstr(log, TOKEN));
        free(log);
    }
}
END_TEST

START_TEST(ctrl_c_cancels_and_leaves_no_file_but_the_resumable_partial)
{
    const char *args[] = { "download", "org/tiny", "weights/model.bin", NULL };
    char blobs[512], *log;
    pid_t pid;
    int n, partial = 0, rc;

    snprintf(blobs, sizeof blobs, "%s/models--org--tiny/blobs", cache);
    /* the CDN sends 64 KiB of the body, then stalls */
    tu_mock_fault(&mock, "{\"path\": \"/repos/models/org/tiny/*\", \"port\": \"cdn\", "
                         "\"stall_after\": 65536, \"stall_ms\": 30000}");
    pid = spawn_argv(args);
    TU_EVENTUALLY((dir_bytes(blobs, &n, ".incomplete", &partial), partial == 1) ||
                  kill(pid, 0) != 0);
    ck_assert_msg(partial == 1, "no partial file: %d", partial);
    kill(pid, SIGINT);
    rc = finish(pid);
    ck_assert_msg(rc == 130, "exit %d: %s", rc, err);
    dir_bytes(blobs, &n, ".incomplete", &partial);
    ck_assert_int_eq(n, 0);                     /* no blob committed */
    ck_assert_int_eq(partial, 1);               /* the partial file stays, every time */
    tu_mock_reset(&mock);
    expect(0, "download", "org/tiny", "weights/model.bin", (char *)NULL);
    ck_assert_int_eq(file_size(line()), BIN_SIZE);
    log = tu_mock_requests(&mock, "port=cdn");
    ck_assert_msg(strstr(log, "bytes=65536-") != NULL, "not resumed: %s", log);
    free(log);
}
END_TEST

/* The regular files below `dir`, at any depth, leaving out folders named `skip` (may be
 * NULL): how many (the first one's path into `first`), and in *partial the bytes of those
 * whose names end in ".incomplete". */
static int files_below(const char *dir, const char *skip, char first[1024], long long *partial)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL) {
        char full[1024];
        size_t len = strlen(e->d_name);
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            (skip && strcmp(e->d_name, skip) == 0))
            continue;
        snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
        if (lstat(full, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            n += files_below(full, skip, n ? NULL : first, partial);
            continue;
        }
        if (first && n == 0)
            snprintf(first, 1024, "%s", full);
        n++;
        if (len > 11 && strcmp(e->d_name + len - 11, ".incomplete") == 0)
            *partial += st.st_size;
    }
    closedir(d);
    return n;
}

static long long partial_bytes(const char *dir)
{
    char first[1024];
    long long partial = 0;
    files_below(dir, NULL, first, &partial);
    return partial;
}

/* Write `n` bytes into the FIFO `fd` (non-blocking), as fast as the reader takes them.
 * Returns the bytes written: fewer when the reader has gone (EPIPE). */
static size_t feed(int fd, size_t n)
{
    static char chunk[1 << 16];
    size_t done = 0;
    uint64_t until = tu_now_ms() + TU_DEADLINE_MS;

    memset(chunk, 'x', sizeof chunk);
    while (done < n) {
        size_t want = n - done < sizeof chunk ? n - done : sizeof chunk;
        ssize_t w = write(fd, chunk, want);
        if (w > 0) {
            done += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EPIPE)
            break;
        ck_assert_msg(w < 0 && errno == EAGAIN, "write to the FIFO: %s", strerror(errno));
        ck_assert_msg(tu_now_ms() < until, "the FIFO's reader took nothing for too long");
        tu_sleep_ms(1);
    }
    return done;
}

/* Start `hf-fetch download org/tiny config.json --local-dir <ld> --offline` with the
 * cached blob made a FIFO that the test feeds: a copy that lasts as long as the test
 * wants, as a large file on a slow disk would. Returns with 256 KiB copied (into some
 * .incomplete file below `ld`) and the copy waiting for more; *fd is the FIFO's end to
 * write to. */
static pid_t start_a_copy_from_a_fifo(const char *ld, int *fd)
{
    char link[1024], blob[PATH_MAX];
    const char *args[] = { "download", "org/tiny", "config.json", "--local-dir", ld,
                           "--offline", "--quiet", NULL };
    pid_t pid;

    expect(0, "download", "org/tiny", "config.json", "--quiet", (char *)NULL);
    snprintf(link, sizeof link, "%s", line());
    ck_assert_ptr_nonnull(realpath(link, blob));
    ck_assert_int_eq(unlink(blob), 0);
    ck_assert_int_eq(mkfifo(blob, 0644), 0);
    signal(SIGPIPE, SIG_IGN);

    pid = spawn_argv(args);
    TU_EVENTUALLY((*fd = open(blob, O_WRONLY | O_NONBLOCK)) >= 0);  /* it opened the blob */
    ck_assert_uint_eq(feed(*fd, 256 * 1024), 256 * 1024);
    TU_EVENTUALLY(partial_bytes(ld) == 256 * 1024);    /* copied so far: all it was given */
    return pid;
}

/* Ctrl-C during a --local-dir copy stops the copy, not only the next wait: exit 130, and
 * neither a truncated file nor a temporary one left in DIR. The Ctrl-C comes while the
 * copy waits for more bytes. */
START_TEST(ctrl_c_stops_a_local_dir_copy_and_leaves_no_partial_file)
{
    char ld[512], first[1024] = "";
    long long partial = 0;
    pid_t pid;
    int fd, rc, n;

    snprintf(ld, sizeof ld, "%s/ld", work);
    pid = start_a_copy_from_a_fifo(ld, &fd);
    kill(pid, SIGINT);
    feed(fd, 256 * 1024);       /* more bytes, should it go on reading: it must not */
    close(fd);                  /* the end of the "file": a copy still going would finish */
    rc = finish(pid);
    ck_assert_msg(rc == 130, "exit %d: %s", rc, err);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(file_size(P("%s/config.json", ld)), -1);
    n = files_below(ld, NULL, first, &partial);
    ck_assert_msg(n == 0, "left below DIR: %s", first);
}
END_TEST

/* A kill (or a second Ctrl-C, which kills) cannot clean up: the copy's temporary file
 * stays, but under DIR/.cache/huggingface/download, as huggingface_hub keeps its own;
 * among DIR's own files there is neither a part of the file nor a temporary one. */
START_TEST(a_killed_local_dir_copy_leaves_nothing_among_the_dirs_files)
{
    char ld[512], first[1024] = "";
    long long partial = 0;
    pid_t pid;
    int fd, rc, n;

    snprintf(ld, sizeof ld, "%s/ld", work);
    pid = start_a_copy_from_a_fifo(ld, &fd);
    kill(pid, SIGKILL);
    rc = finish(pid);
    close(fd);
    ck_assert_int_eq(rc, 128 + SIGKILL);
    ck_assert_int_eq(file_size(P("%s/config.json", ld)), -1);
    n = files_below(ld, ".cache", first, &partial);
    ck_assert_msg(n == 0, "left among DIR's files: %s", first);
}
END_TEST

/* A --local-dir run over files that are all up to date only asks the Hub about each (one
 * metadata request, here 40 ms, less than the 100 ms a wait sleeps between looks at the
 * flag): Ctrl-C during it ends the run with 130 before the next file, rather than never. */
START_TEST(ctrl_c_between_the_files_of_a_local_dir_run_is_not_lost)
{
    char ld[512];
    const char *args[] = { "download", "org/many", "--local-dir", ld, "--quiet", NULL };
    pid_t pid;
    int rc;
    long asked;

    snprintf(ld, sizeof ld, "%s/ld", work);
    expect(0, "download", "org/many", "--local-dir", ld, "--quiet", (char *)NULL);
    tu_mock_reset(&mock);
    tu_mock_fault(&mock, "{\"path\": \"/org/many/resolve/*\", \"method\": \"HEAD\", "
                         "\"stall_ms\": 40}");
    pid = spawn_argv(args);
    TU_EVENTUALLY(mock_total() >= 3 || kill(pid, 0) != 0);     /* two files asked about */
    kill(pid, SIGINT);
    rc = finish(pid);
    ck_assert_msg(rc == 130, "exit %d: %s", rc, err);
    ck_assert_str_eq(out, "");
    asked = mock_total() - 1;   /* less the file list */
    ck_assert_msg(asked < MANY_FILES, "asked about all %ld files", asked);
}
END_TEST

/* ---- the README's C example ---------------------------------------------------------------- */

START_TEST(readme_example_chains_a_download_into_a_compute_step)
{
    const char *top = getenv("HF_TOP_BUILDDIR");
    char prog[512], *text;
    pid_t pid;
    int st;

    snprintf(prog, sizeof prog, "%s/tests/cli/readme_example", top ? top : ".");
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int o = open(P("%s/out", work), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0)
            _exit(127);
        dup2(o, 1);
        execl(prog, prog, (char *)NULL);
        _exit(127);
    }
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    text = slurp(P("%s/out", work), NULL);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s", st, text);
    ck_assert_msg(strncmp(text, cache, strlen(cache)) == 0, "%s", text);
    ck_assert_msg(strstr(text, "/config.json: vocab_size 50257\n") != NULL, "%s", text);
    free(text);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/openai-community/gpt2/resolve/main/config.json"),
                     1);
}
END_TEST

static Suite *fetch_cli_suite(void)
{
    Suite *s = suite_create("hf-fetch");
    TCase *tc = tcase_create("cli");

    tcase_add_unchecked_fixture(tc, serve, unserve);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, help_for_every_subcommand_exits_0);
    tcase_add_test(tc, usage_errors_exit_1_without_a_request);
    tcase_add_test(tc, an_option_the_command_does_not_use_is_refused);
    tcase_add_test(tc, download_one_file_prints_its_path_in_the_cache);
    tcase_add_test(tc, download_several_files_prints_the_snapshot_folder);
    tcase_add_test(tc, download_of_a_whole_repo_prints_the_snapshot_folder);
    tcase_add_test(tc, include_and_exclude_choose_the_files);
    tcase_add_test(tc, revision_names_a_tag_and_a_commit);
    tcase_add_test(tc, repo_type_dataset_uses_the_datasets_folder_and_urls);
    tcase_add_test(tc, local_dir_writes_plain_copies_and_a_second_run_downloads_nothing);
    tcase_add_test(tc, offline_answers_from_the_cache_without_a_request);
    tcase_add_test(tc, progress_lines_once_per_file_and_none_when_quiet);
    tcase_add_test(tc, an_option_without_its_value_is_a_usage_error);
    tcase_add_test(tc, double_dash_ends_the_options);
    tcase_add_test(tc, named_files_are_downloaded_and_include_exclude_ignored);
    tcase_add_test(tc, relative_cache_folders_are_the_current_folders);
    tcase_add_test(tc, a_result_that_cannot_be_written_is_a_failure);
    tcase_add_test(tc, local_dir_offline_answers_from_the_folder_and_the_cache);
    tcase_add_test(tc, info_gives_the_commit_and_files);
    tcase_add_test(tc, ls_lists_sizes_and_lfs);
    tcase_add_test(tc, scan_cache_describes_a_cache_the_tests_wrote);
    tcase_add_test(tc, verify_catches_a_blob_modified_on_disk);
    tcase_add_test(tc, rm_keeps_blobs_shared_with_another_revision);
    tcase_add_test(tc, sigterm_ends_an_rm_waiting_for_a_blob_lock_with_130);
    tcase_add_test(tc, model_json_describes_the_fixture_models);
    tcase_add_test(tc, model_of_a_gated_repo_needs_a_token);
    tcase_add_test(tc, exit_2_for_a_missing_repo_file_or_revision);
    tcase_add_test(tc, exit_3_for_a_gated_repo_without_the_right_token);
    tcase_add_test(tc, exit_4_when_the_endpoint_does_not_answer);
    tcase_add_test(tc, exit_5_when_the_bytes_do_not_match_their_hash);
    tcase_add_test(tc, exit_6_when_the_cache_cannot_be_written);
    tcase_add_test(tc, the_token_never_appears_in_any_output);
    tcase_add_test(tc, ctrl_c_cancels_and_leaves_no_file_but_the_resumable_partial);
    tcase_add_test(tc, ctrl_c_stops_a_local_dir_copy_and_leaves_no_partial_file);
    tcase_add_test(tc, a_killed_local_dir_copy_leaves_nothing_among_the_dirs_files);
    tcase_add_test(tc, ctrl_c_between_the_files_of_a_local_dir_run_is_not_lost);
    tcase_add_test(tc, readme_example_chains_a_download_into_a_compute_step);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(fetch_cli_suite)
