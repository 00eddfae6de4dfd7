/*
 * child.c - see child.h. POSIX only (fork, exec, waitpid, poll, nftw); where configure
 * found prctl's PR_SET_PDEATHSIG (Linux) the mock also dies with its parent, elsewhere only
 * the parent's cleanup stops it.
 */
#define _XOPEN_SOURCE 700
#include "config.h"

#include "common/child.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if HAVE_DECL_PR_SET_PDEATHSIG
#include <sys/prctl.h>
#endif

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int tool_find(const char *argv0, const char *name, const char *env, char *out, size_t size)
{
    const char *v = env ? getenv(env) : NULL;
    const char *slash = argv0 ? strrchr(argv0, '/') : NULL;

    if (v && *v) {
        snprintf(out, size, "%s", v);
        return exists(out) ? 0 : -1;
    }
    if (slash) {
        snprintf(out, size, "%.*s/%s", (int)(slash - argv0), argv0, name);
        if (exists(out))
            return 0;
    }
#ifdef HF_BUILDDIR
    snprintf(out, size, "%s/tools/%s", HF_BUILDDIR, name);
    if (exists(out))
        return 0;
#endif
#ifdef HF_SRCDIR
    snprintf(out, size, "%s/tools/%s", HF_SRCDIR, name);
    if (exists(out))
        return 0;
#endif
    return -1;
}

int tool_run(char *const argv[])
{
    pid_t pid;
    int status;

    fflush(NULL);
    if ((pid = fork()) < 0)
        return -1;
    if (pid == 0) {
        dup2(2, 1);
        execv(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

pid_t child_spawn(char *const argv[], int out_fd, int err_fd)
{
    pid_t pid;

    fflush(NULL);
    if ((pid = fork()) != 0)
        return pid;
#if HAVE_DECL_PR_SET_PDEATHSIG
    prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
    {
        int in = open("/dev/null", O_RDONLY);
        if (in >= 0)
            dup2(in, 0);
    }
    dup2(out_fd, 1);
    if (err_fd >= 0)
        dup2(err_fd, 2);
    execvp(argv[0], argv);
    _exit(127);
}

int child_wait(pid_t pid, unsigned timeout_ms)
{
    for (unsigned waited = 0;; waited += 10) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0 && errno != EINTR)
            return 0;
        if (waited >= timeout_ms)
            return -1;
        {
            struct timespec ts = { 0, 10000000L };
            nanosleep(&ts, NULL);
        }
    }
}

void child_stop(pid_t *pid)
{
    if (*pid <= 0)
        return;
    kill(*pid, SIGTERM);
    if (child_wait(*pid, 10000) == -1) {
        kill(*pid, SIGKILL);
        waitpid(*pid, NULL, 0);
    }
    *pid = -1;
}

/* Read the mock's first line (it may come in parts) into line[size]; 0 once it is whole. */
static int read_line(int fd, char *line, size_t size)
{
    struct pollfd pfd = { fd, POLLIN, 0 };
    size_t have = 0;

    line[0] = '\0';
    while (have + 1 < size && !memchr(line, '\n', have) && poll(&pfd, 1, 60000) == 1) {
        ssize_t got = read(fd, line + have, size - 1 - have);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        have += (size_t)got;
        line[have] = '\0';
    }
    return memchr(line, '\n', have) ? 0 : -1;
}

int mock_start(mock_proc_t *m, const char *script, const char *root, const char *const *extra,
               int err_fd)
{
    const char *python = getenv("PYTHON3"), *argv[32];
    char line[512];
    size_t n = 0;
    int fds[2];

    memset(m, 0, sizeof *m);
    m->pid = -1;
    m->out = -1;
    argv[n++] = python && *python ? python : "python3";
    argv[n++] = script;
    argv[n++] = "--root";
    argv[n++] = root;
    argv[n++] = "--port";
    argv[n++] = "0";
    argv[n++] = "--cdn-port";
    argv[n++] = "0";
    for (size_t i = 0; extra && extra[i] && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    if (pipe(fds) < 0)
        return -1;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);     /* the child keeps only its dup, as stdout */
    m->pid = child_spawn((char *const *)argv, fds[1], err_fd);
    close(fds[1]);
    if (m->pid < 0) {
        close(fds[0]);
        return -1;
    }
    m->out = fds[0];
    if (read_line(m->out, line, sizeof line) < 0 ||
        sscanf(line, "listening %127s %127s", m->hub, m->cdn) != 2) {
        fprintf(stderr, "hf-mock-hub (%s) did not start\n", script);
        mock_stop(m);
        return -1;
    }
    return 0;
}

int fixtures_serve(const char *who, const char *argv0, const char *root, unsigned scale,
                   unsigned long bps, const char *cdn_url, mock_proc_t *m)
{
    char prog[1024], script[1024], scale_s[16], bps_s[32];

    if (tool_find(argv0, "hf-fixtures", "HF_FIXTURES", prog, sizeof prog) < 0) {
        fprintf(stderr, "%s: cannot find hf-fixtures (last tried %s)\n", who, prog);
        return -1;
    }
    if (tool_find(argv0, "mock-hub/hf-mock-hub", "HF_MOCK_HUB", script, sizeof script) < 0) {
        fprintf(stderr, "%s: cannot find hf-mock-hub (last tried %s)\n", who, script);
        return -1;
    }
    snprintf(scale_s, sizeof scale_s, "%u", scale);
    snprintf(bps_s, sizeof bps_s, "%lu", bps);
    {
        char *args[] = { prog, (char *)root, (char *)"--scale", scale_s, NULL };
        if (tool_run(args) != 0) {
            fprintf(stderr, "%s: hf-fixtures failed\n", who);
            return -1;
        }
    }
    {
        const char *throttled[] = { "--throttle-bps", bps_s, NULL };
        const char *elsewhere[] = { "--cdn-url", cdn_url, NULL };
        return mock_start(m, script, root, cdn_url ? elsewhere : throttled, -1);
    }
}

void mock_stop(mock_proc_t *m)
{
    if (m->pid <= 0)
        return;                 /* never started (a zeroed struct included): nothing open */
    child_stop(&m->pid);
    if (m->out >= 0)
        close(m->out);
    m->out = -1;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT ? -1 : 0;
}

int remove_tree(const char *path)
{
    return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0 || errno == ENOENT ? 0 : -1;
}
