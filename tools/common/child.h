/*
 * child.h - what the tools (hf-demo, hf-bench) need to run the bundled helpers: find a
 * helper program, run one to completion, start, wait for and stop a child process, and
 * run hf-mock-hub as one on ephemeral loopback ports.
 */
#ifndef HF_TOOLS_CHILD_H
#define HF_TOOLS_CHILD_H

#include <stddef.h>
#include <sys/types.h>

/*
 * tool_find - the path of helper `name` ("hf-fixtures", "mock-hub/hf-mock-hub"): the
 * value of environment variable `env` when set, else the first of these that exists:
 * the folder of `argv0`, the build tree's tools/ and the source tree's tools/ (as
 * configure saw them). Returns 0, or -1 with `out` holding the last path tried.
 */
int tool_find(const char *argv0, const char *name, const char *env, char *out, size_t size);

/* tool_run - run `argv` (argv[0] is the program's path) with stdout sent to stderr and
 * wait for it. Returns its exit status, or -1 if it could not run or was killed. */
int tool_run(char *const argv[]);

/* child_spawn - fork + exec `argv` (PATH searched) with stdin from /dev/null, stdout to
 * `out_fd` and stderr to `err_fd` (-1: this process's); on Linux the child gets SIGTERM if
 * this process dies. The pid, or -1. */
pid_t child_spawn(char *const argv[], int out_fd, int err_fd);
/* child_wait - wait for `pid` at most timeout_ms; its wait status, or -1 if it is still
 * running. */
int child_wait(pid_t pid, unsigned timeout_ms);
/* child_stop - SIGTERM, then SIGKILL after 10 s; reap it and set *pid to -1 (nothing if
 * *pid <= 0). */
void child_stop(pid_t *pid);

typedef struct mock_proc {
    pid_t pid;                  /* -1: not running */
    int out;                    /* the read end of its stdout, open while it runs */
    char hub[128];              /* http://127.0.0.1:PORT */
    char cdn[128];
} mock_proc_t;

/*
 * mock_start - run `$PYTHON3 SCRIPT --root ROOT --port 0 --cdn-port 0 EXTRA...` (python3
 * when PYTHON3 is unset) with child_spawn, stderr to `err_fd` (-1: ours), and read its
 * "listening HUB CDN" line, waiting 60 s at most. Its stdout stays open until mock_stop
 * (a write to a closed pipe would end it). `extra` is NULL-terminated (or NULL). Returns 0, or -1 after a
 * message on stderr (the child is gone).
 */
int mock_start(mock_proc_t *m, const char *script, const char *root, const char *const *extra,
               int err_fd);
/*
 * fixtures_serve - write the model fixture repos into `root` (hf-fixtures ROOT --scale
 * `scale`) and serve them with hf-mock-hub, its CDN throttled to `bps` bytes/s per
 * connection; or, with `cdn_url`, its LFS redirects sent to that server instead (which
 * serves `root` with the mock CDN's layout; `bps` is then unused). The helpers are found
 * with tool_find(argv0, ...). Returns 0, or -1 after a message on stderr that starts
 * with `who`.
 */
int fixtures_serve(const char *who, const char *argv0, const char *root, unsigned scale,
                   unsigned long bps, const char *cdn_url, mock_proc_t *m);

/* mock_stop - child_stop it and close its stdout. Nothing if it never started (pid <= 0,
 * as in a zeroed struct). */
void mock_stop(mock_proc_t *m);

/* remove_tree - `rm -rf path` without a shell (nftw, depth first, no symlinks followed).
 * Returns 0 or -1. */
int remove_tree(const char *path);

#endif /* HF_TOOLS_CHILD_H */
