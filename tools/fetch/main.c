/*
 * main.c - hf-fetch: argument parsing, help, the runtime and hub, exit codes, Ctrl-C.
 *
 * Ctrl-C sets a flag; the main thread waits on futures in short slices and, when the
 * flag is up, stops waiting and frees the hub, which aborts the transfers without
 * cancelling them: nothing is committed, and each blob's .incomplete file stays for the
 * next run to resume (always: a cancel would delete it); the tool exits with 130.
 * The flag is also looked at before each wait, and between the 64 KiB chunks of a
 * --local-dir copy (fetch_copy_file), the one long step download runs on this thread: a
 * copy stopped there removes its temporary file, and DIR keeps the old file or none.
 * Library threads block signals, so the handler runs here.
 * scan-cache, verify and rm run one library call on this thread, with no future to wait
 * on and so nothing that would see the flag (rm may wait for a blob lock as long as a
 * download holds it, verify hashes for minutes): there the handler exits at once with 130.
 * That is safe: scan-cache and verify only read, and rm removes links before the blobs they
 * name, so it stops with at worst a revision partly removed (no link to a missing blob) or
 * blobs that nothing uses.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fetch.h"

volatile sig_atomic_t fetch_interrupted;
static volatile sig_atomic_t exit_at_once;     /* the command waits on no future */

static void on_sigint(int sig)
{
    (void)sig;
    if (exit_at_once)
        _exit(EXIT_INTERRUPTED);
    fetch_interrupted = 1;
}

static const char usage_main[] =
    "usage: hf-fetch COMMAND [ARGS] [OPTIONS]\n"
    "\n"
    "Fetch files from the Hugging Face Hub into the cache the official clients share.\n"
    "\n"
    "commands:\n"
    "  download REPO [FILE...]   download files (or the whole repo) and print their path\n"
    "  info REPO                 show a repo's commit and files\n"
    "  ls REPO [PATH]            list files with sizes, LFS or not\n"
    "  scan-cache                describe what the cache holds\n"
    "  verify REPO               re-hash every cached blob of REPO\n"
    "  rm REPO                   remove REPO (or one revision) from the cache\n"
    "  model [NAME]              load a model module (kimi-k2, phi4-reasoning, stella,\n"
    "                            gte-qwen, sd35-turbo) into the cache and describe it;\n"
    "                            without NAME, list the modules\n"
    "\n"
    "Run 'hf-fetch COMMAND --help' for a command's options.\n"
    "\n"
    "exit codes: 0 success, 1 usage, 2 not found, 3 authentication or gated repo,\n"
    "            4 network, 5 integrity (hash or size mismatch), 6 local I/O, 130 interrupted\n"
    "\n"
    "environment: HF_ENDPOINT, HF_HOME, HF_HUB_CACHE, HF_TOKEN, HF_TOKEN_PATH, HF_HUB_OFFLINE,\n"
    "  HF_HUB_ETAG_TIMEOUT, HF_HUB_DOWNLOAD_TIMEOUT, HF_HUB_DISABLE_SYMLINKS,\n"
    "  HF_HUB_DISABLE_IMPLICIT_TOKEN, HF_HUB_DISABLE_PROGRESS_BARS (see hf-fetch(1))\n";

/* The options, in the order --help lists them; each command takes the ones its mask names.
 * An option a command would ignore is refused, not ignored: `scan-cache --revision X`
 * or `model --repo-type dataset` do not do what they say. */
enum {
    O_INCLUDE = 1u << 0, O_EXCLUDE = 1u << 1, O_LOCAL_DIR = 1u << 2, O_JOBS = 1u << 3,
    O_QUANT = 1u << 4, O_DIM = 1u << 5, O_REVISION = 1u << 6, O_REPO_TYPE = 1u << 7,
    O_CACHE_DIR = 1u << 8, O_ENDPOINT = 1u << 9, O_TOKEN = 1u << 10, O_OFFLINE = 1u << 11,
    O_JSON = 1u << 12, O_QUIET = 1u << 13,
};
#define O_EVERY (O_CACHE_DIR | O_OFFLINE | O_JSON | O_QUIET)   /* the cache-only ones too */
#define O_HUB (O_ENDPOINT | O_TOKEN)                            /* commands that ask the Hub */

static const struct {
    unsigned flag;
    const char *name, *help;
} options[] = {
    { O_INCLUDE, "--include",
      "  --include GLOB          only files matching GLOB ('*' crosses '/'); repeatable;\n"
      "                          ignored, with --exclude, when FILEs are named\n" },
    { O_EXCLUDE, "--exclude",
      "  --exclude GLOB          skip files matching GLOB; repeatable\n" },
    { O_LOCAL_DIR, "--local-dir",
      "  --local-dir DIR         also write plain copies under DIR (metadata under\n"
      "                          DIR/.cache/huggingface/download); a second run skips\n"
      "                          files that did not change\n" },
    { O_JOBS, "--jobs",
      "  --jobs N                files downloaded at once (default 8)\n" },
    { O_QUANT, "--quant",
      "  --quant Q               kimi-k2 and phi4-reasoning: the quantisation (case matters)\n" },
    { O_DIM, "--dim",
      "  --dim D                 stella: the output size (256 ... 8192, default 1024)\n" },
    { O_REVISION, "--revision",
      "  --revision R            branch, tag, refs/pr/N or commit (default: main)\n" },
    { O_REPO_TYPE, "--repo-type",
      "  --repo-type T           model (default), dataset or space\n" },
    { O_CACHE_DIR, "--cache-dir",
      "  --cache-dir DIR         the cache (default: $HF_HUB_CACHE, $HF_HOME/hub, ...)\n" },
    { O_ENDPOINT, "--endpoint",
      "  --endpoint URL          the Hub (default: $HF_ENDPOINT or https://huggingface.co)\n" },
    { O_TOKEN, "--token",
      "  --token T               access token (default: $HF_TOKEN, then the token file)\n" },
    { O_OFFLINE, "--offline",
      "  --offline               use the cache only; no network request at all\n" },
    { O_JSON, "--json",
      "  --json                  print one JSON object instead of text\n" },
    { O_QUIET, "--quiet",
      "  --quiet                 no progress output\n" },
};

static const struct {
    const char *name, *synopsis;
    unsigned opts;
    const char *rest;           /* what the arguments after "--" are; NULL: none */
    int (*run)(fetch_ctx_t *);
    int needs_repo;
    int blocking;               /* one library call on the main thread, no future */
} commands[] = {
    { "download", "download REPO [FILE...] [OPTIONS]\n\n"
      "One FILE: print its path in the cache. Several, or none (the whole repo, filtered by\n"
      "--include/--exclude): print the snapshot folder.\n",
      O_INCLUDE | O_EXCLUDE | O_LOCAL_DIR | O_JOBS | O_REVISION | O_REPO_TYPE | O_HUB | O_EVERY,
      "REPO and FILEs", cmd_download, 1, 0 },
    { "info", "info REPO [OPTIONS]\n\nThe commit a revision resolves to, and the repo's files.\n",
      O_REVISION | O_REPO_TYPE | O_HUB | O_EVERY, "REPO", cmd_info, 1, 0 },
    { "ls", "ls REPO [PATH] [OPTIONS]\n\nEvery file (under PATH), with its size and whether it is "
      "stored with LFS.\n", O_REVISION | O_REPO_TYPE | O_HUB | O_EVERY, "REPO and PATH", cmd_ls,
      1, 0 },
    { "scan-cache", "scan-cache [OPTIONS]\n\nEvery cached repo: type, size on disk, files, refs, last "
      "modified, and a total.\n", O_EVERY, NULL, cmd_scan_cache, 0, 1 },
    { "verify", "verify REPO [OPTIONS]\n\nRe-hash every cached blob of REPO against its name "
      "(exit 5 if one differs).\n", O_REPO_TYPE | O_EVERY, "REPO", cmd_verify, 1, 1 },
    { "rm", "rm REPO [OPTIONS]\n\nRemove --revision (a ref or commit), or the whole repo, from the "
      "cache, with the blobs no other revision uses.\n", O_REVISION | O_REPO_TYPE | O_EVERY,
      "REPO", cmd_rm, 1, 1 },
    { "model", "model [NAME] [OPTIONS]\n\nDownload the files of model module NAME (in parallel), "
      "open and check them,\nand describe the model: architecture, files, tensors, vocabulary. "
      "Without NAME,\nlist the modules. --revision applies to the module's main repo.\n",
      O_QUANT | O_DIM | O_REVISION | O_HUB | O_EVERY, "NAME", cmd_model, 0, 0 },
};

static void command_help(int cmd)
{
    printf("usage: hf-fetch %s\noptions:\n", commands[cmd].synopsis);
    for (size_t k = 0; k < sizeof options / sizeof options[0]; k++)
        if (commands[cmd].opts & options[k].flag)
            fputs(options[k].help, stdout);
    printf("  --help                  this text\n");
    if (commands[cmd].rest)
        printf("  --                      after it, %s only, even names that start with '-'\n",
               commands[cmd].rest);
}

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "hf-fetch: %s%s%s\n(see hf-fetch --help)\n", msg, arg ? ": " : "",
            arg ? arg : "");
    return EXIT_USAGE;
}

/* An option command `cmd` would ignore. */
static int not_for(int cmd, unsigned flag)
{
    for (size_t k = 0; k < sizeof options / sizeof options[0]; k++)
        if (options[k].flag == flag)
            fprintf(stderr, "hf-fetch: %s is not an option of '%s'\n(see hf-fetch %s --help)\n",
                    options[k].name, commands[cmd].name, commands[cmd].name);
    return EXIT_USAGE;
}

/* An argument that is an option, not a value: "-q", "--json" (but not "-", nor "-1"). */
static int looks_like_option(const char *a)
{
    return a[0] == '-' && a[1] != '\0' && !(a[1] >= '0' && a[1] <= '9');
}

/* The arguments being parsed, where parse() is, and the last option seen without the value
 * it needs. */
typedef struct args {
    int argc;
    char **argv;
    int i;
    const char *lacking;
} args_t;

static int matches(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

/* Whether the current argument is option `name` with its value, "--name value" or
 * "--name=value": then *v is the value and a separate one is stepped over. A separate
 * value that looks like an option is refused, as argparse refuses it: "--local-dir
 * --quiet" lacks a value, it does not name a folder "--quiet" ("--local-dir=--quiet"
 * does). An option without its value is not taken and is remembered in c->lacking, so
 * that the argument ends up refused as needing one. */
static int valued(args_t *c, const char *name, const char **v)
{
    const char *a = c->argv[c->i];
    size_t n = strlen(name);

    if (!matches(a, name))
        return 0;
    if (a[n] == '=') {
        *v = a + n + 1;
        return 1;
    }
    if (c->i + 1 < c->argc && !looks_like_option(c->argv[c->i + 1])) {
        *v = c->argv[++c->i];
        return 1;
    }
    c->lacking = name;
    return 0;
}

/* REPO, then FILEs (or ls's PATH). */
static int positional_arg(fetch_opts_t *o, const char *a)
{
    if (!o->repo)
        o->repo = a;
    else if (o->nfiles < MAX_FILES)
        o->files[o->nfiles++] = a;
    else
        return usage_error("too many files", NULL);
    return EXIT_OK;
}

static int parse(int argc, char **argv, fetch_opts_t *o, int *cmd)
{
    int only_positional = 0, rc;

    memset(o, 0, sizeof *o);
    o->repo_type = HF_REPO_MODEL;
    o->command = argv[1];
    *cmd = -1;
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
        if (strcmp(argv[1], commands[k].name) == 0)
            *cmd = (int)k;
    if (*cmd < 0)
        return usage_error("unknown command", argv[1]);
    for (args_t c = { argc, argv, 2, NULL }; c.i < argc; c.i++) {
        const char *a = argv[c.i], *v;
        unsigned flag = 0;

        c.lacking = NULL;
        if (only_positional || a[0] != '-' || strcmp(a, "-") == 0) {
            if ((rc = positional_arg(o, a)) != EXIT_OK)
                return rc;
            continue;
        }
        if (strcmp(a, "--") == 0) {     /* the rest are REPO and FILEs, even "-x" */
            only_positional = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            command_help(*cmd);
            exit(EXIT_OK);
        }
        if (strcmp(a, "--offline") == 0)
            o->offline = 1, flag = O_OFFLINE;
        else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0)
            o->quiet = 1, flag = O_QUIET;
        else if (strcmp(a, "--json") == 0)
            o->json = 1, flag = O_JSON;
        else if (valued(&c, "--revision", &v))
            o->revision = v, flag = O_REVISION;
        else if (valued(&c, "--cache-dir", &v))
            o->cache_dir = v, flag = O_CACHE_DIR;
        else if (valued(&c, "--local-dir", &v))
            o->local_dir = v, flag = O_LOCAL_DIR;
        else if (valued(&c, "--endpoint", &v))
            o->endpoint = v, flag = O_ENDPOINT;
        else if (valued(&c, "--token", &v))
            o->token = v, flag = O_TOKEN;
        else if (valued(&c, "--include", &v)) {
            flag = O_INCLUDE;
            if (o->ninclude == MAX_GLOBS)
                return usage_error("too many --include", NULL);
            o->include[o->ninclude++] = v;
        } else if (valued(&c, "--exclude", &v)) {
            flag = O_EXCLUDE;
            if (o->nexclude == MAX_GLOBS)
                return usage_error("too many --exclude", NULL);
            o->exclude[o->nexclude++] = v;
        } else if (valued(&c, "--jobs", &v)) {
            char *end;
            flag = O_JOBS;
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 256)
                return usage_error("--jobs wants a number from 1 to 256", v);
            o->jobs = (unsigned)n;
        } else if (valued(&c, "--quant", &v)) {
            o->quant = v;
            flag = O_QUANT;
        } else if (valued(&c, "--dim", &v)) {
            char *end;
            flag = O_DIM;
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 65536)
                return usage_error("--dim wants a positive number", v);
            o->dim = (unsigned)n;
        } else if (valued(&c, "--repo-type", &v)) {
            flag = O_REPO_TYPE;
            if (strcmp(v, "model") == 0)
                o->repo_type = HF_REPO_MODEL;
            else if (strcmp(v, "dataset") == 0)
                o->repo_type = HF_REPO_DATASET;
            else if (strcmp(v, "space") == 0)
                o->repo_type = HF_REPO_SPACE;
            else
                return usage_error("--repo-type is model, dataset or space", v);
        } else {
            return usage_error(c.lacking ? "this option needs a value" : "unknown option", a);
        }
        if (!(commands[*cmd].opts & flag))
            return not_for(*cmd, flag);
    }
    if (commands[*cmd].needs_repo && !o->repo)
        return usage_error("missing REPO", NULL);
    if (!commands[*cmd].needs_repo && o->repo && strcmp(o->command, "model") != 0)
        return usage_error("unexpected argument", o->repo);
    if (o->nfiles && strcmp(o->command, "download") != 0 &&
        !(strcmp(o->command, "ls") == 0 && o->nfiles == 1))
        return usage_error("unexpected argument", o->files[0]);
    return EXIT_OK;
}

int fetch_exit_code(int code)
{
    switch (code) {
    case 0:
        return EXIT_OK;
    case HF_EINVAL:
        return EXIT_USAGE;
    case HF_ENOENT:
    case HF_EREPO_NOT_FOUND:
    case HF_EREVISION_NOT_FOUND:
    case HF_EENTRY_NOT_FOUND:
    case HF_EOFFLINE:
        return EXIT_NOT_FOUND;
    case HF_EAUTH:
    case HF_EGATED:
        return EXIT_AUTH;
    case HF_ENETWORK:
    case HF_ETLS:
    case HF_ETIMEDOUT:
    case HF_EPROTO:
        return EXIT_NETWORK;
    case HF_ECORRUPT:
    case HF_EFORMAT:
        return EXIT_INTEGRITY;
    case HF_ECANCELED:
        return EXIT_INTERRUPTED;
    default:
        return EXIT_LOCAL_IO;
    }
}

int fetch_fail(const hf_error_t *err)
{
    fprintf(stderr, "hf-fetch: %s\n", err->message[0] ? err->message : hf_strerror(err->code));
    return fetch_exit_code(err->code);
}

int fetch_wait(hf_future_t *f)
{
    /* a Ctrl-C that came between two waits (a future settled within 100 ms never lets the
     * loop look) is seen here, before the next step starts */
    if (fetch_interrupted)
        return EXIT_INTERRUPTED;
    while (hf_future_wait(f, 100) == HF_ETIMEDOUT) {
        /* not cancelled: a cancel means "not wanted" and deletes the partial file. main's
         * hf_hub_free stops the transfers and keeps each partial file, as a kill would,
         * so that the next run resumes it */
        if (fetch_interrupted)
            return EXIT_INTERRUPTED;
    }
    return 0;
}

const char *human_size(unsigned long long n, char buf[32])
{
    static const char *units[] = { "B", "kB", "MB", "GB", "TB" };
    double v = (double)n;
    int u = 0;
    while (v >= 1000 && u < 4) {
        v /= 1000;
        u++;
    }
    snprintf(buf, 32, u ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

int main(int argc, char **argv)
{
    fetch_ctx_t c;
    hf_hub_config_t cfg;
    hf_runtime_config_t rcfg;
    hf_error_t err;
    struct sigaction sa;
    int cmd, rc;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage_main, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("hf-fetch %s\n", HFASYNC_VERSION);
        return EXIT_OK;
    }
    memset(&c, 0, sizeof c);
    if ((rc = parse(argc, argv, &c.o, &cmd)) != EXIT_OK)
        return rc;

    exit_at_once = commands[cmd].blocking;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND;     /* a second Ctrl-C kills at once (the partial file stays) */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    memset(&rcfg, 0, sizeof rcfg);
    rcfg.compute_threads = 1;       /* the CLI computes nothing; the I/O pool does the work */
    if ((c.rt = hf_runtime_new(&rcfg)) == NULL) {
        fprintf(stderr, "hf-fetch: cannot start the runtime\n");
        return EXIT_LOCAL_IO;
    }
    memset(&cfg, 0, sizeof cfg);
    cfg.endpoint = c.o.endpoint;
    cfg.cache_dir = c.o.cache_dir;     /* relative: the library takes it from here */
    cfg.token = c.o.token;
    cfg.offline = c.o.offline ? HF_YES : HF_FROM_ENV;
    memset(&err, 0, sizeof err);
    if ((c.hub = hf_hub_new(c.rt, &cfg, &err)) == NULL) {
        rc = err.code == HF_EINVAL ? (fprintf(stderr, "hf-fetch: %s\n", err.message), EXIT_USAGE)
                                   : fetch_fail(&err);
        hf_runtime_free(c.rt);
        return rc;
    }
    rc = commands[cmd].run(&c);
    hf_hub_free(c.hub);
    progress_free(c.progress);      /* no I/O thread can call the sink any more */
    hf_runtime_free(c.rt);
    /* the printed path is the result: one that could not be written is a failure */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "hf-fetch: cannot write to standard output: %s\n", strerror(errno));
        if (rc == EXIT_OK)
            rc = EXIT_LOCAL_IO;
    }
    return rc;
}
