/*
 * fetch.h - hf-fetch, the command-line tool: what its commands share.
 */
#ifndef HF_FETCH_H
#define HF_FETCH_H

#include <signal.h>
#include <stdio.h>

#include "hfasync.h"

/* Exit codes (documented in --help and the man page). */
enum {
    EXIT_OK = 0,
    EXIT_USAGE = 1,
    EXIT_NOT_FOUND = 2,
    EXIT_AUTH = 3,
    EXIT_NETWORK = 4,
    EXIT_INTEGRITY = 5,
    EXIT_LOCAL_IO = 6,
    EXIT_INTERRUPTED = 130
};

#define MAX_GLOBS 64
#define MAX_FILES 4096

typedef struct fetch_opts {
    const char *command;
    const char *repo;
    const char *files[MAX_FILES];
    size_t nfiles;
    const char *include[MAX_GLOBS], *exclude[MAX_GLOBS];
    size_t ninclude, nexclude;
    const char *revision;
    hf_repo_type_t repo_type;
    const char *cache_dir, *local_dir, *endpoint, *token;
    int offline, quiet, json;
    unsigned jobs;
    const char *quant;          /* hf-fetch model */
    unsigned dim;
} fetch_opts_t;

/* The runtime and hub every command works with (main.c). */
typedef struct fetch_ctx {
    fetch_opts_t o;
    hf_runtime_t *rt;
    hf_hub_t *hub;
    void *progress;             /* the command's progress sink state: main frees it */
} fetch_ctx_t;

extern volatile sig_atomic_t fetch_interrupted;

/* Wait for `f`; on Ctrl-C or SIGTERM return EXIT_INTERRUPTED without cancelling it (a
 * cancel would delete the partial file: main's hf_hub_free stops the transfer and keeps
 * it, so that the next run resumes). The flag is looked at first, then every 100 ms of
 * waiting.
 * Returns 0 once settled, or EXIT_INTERRUPTED. */
int fetch_wait(hf_future_t *f);
/* The exit code for an HF_E* error code. */
int fetch_exit_code(int hf_code);
/* Print "hf-fetch: <message>" for a settled, failed future (or `err`) and return the
 * exit code. */
int fetch_fail(const hf_error_t *err);

/* progress.c: a progress sink for hf_download_opts / hf_snapshot_opts, or NULL when
 * quiet. Bars on a terminal, plain lines otherwise. progress_done ends the output: the
 * sink prints nothing after it, though I/O threads may still call it until the hub is
 * freed (after Ctrl-C the transfers are still under way); progress_free, once the hub is
 * freed, frees `arg`. Both accept NULL. */
hf_progress_fn progress_sink(const fetch_opts_t *o, void **arg);
void progress_done(void *arg);
void progress_free(void *arg);

/* cmd_download.c: copy `from` to DIR/FILE (`dir`, `file`), making the folders it needs,
 * through a temporary file, DIR/.cache/huggingface/download/FILE.<pid>.incomplete, and a
 * rename: DIR/FILE is the old file or the whole new one, never a part, and a kill leaves
 * nothing among DIR's own files. Ctrl-C or SIGTERM (fetch_interrupted) stops it before it
 * starts or between 64 KiB chunks, and the temporary file is removed. Returns 0, or -1
 * (errno set; EINTR when fetch_interrupted stopped it). */
int fetch_copy_file(const char *from, const char *dir, const char *file);
/* local_offline.c: --local-dir without the network; each returns an exit code. */
int local_offline_file(fetch_ctx_t *c, const char *file);
int local_offline_repo(fetch_ctx_t *c);

/* The commands. Each returns an exit code. */
int cmd_download(fetch_ctx_t *c);
int cmd_info(fetch_ctx_t *c);
int cmd_ls(fetch_ctx_t *c);
int cmd_scan_cache(fetch_ctx_t *c);
int cmd_verify(fetch_ctx_t *c);
int cmd_rm(fetch_ctx_t *c);
int cmd_model(fetch_ctx_t *c);

/* A human size: "1.5 GB". */
const char *human_size(unsigned long long n, char buf[32]);

#endif /* HF_FETCH_H */
