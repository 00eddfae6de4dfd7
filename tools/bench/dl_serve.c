/*
 * dl_serve.c - the download suite's servers and commands: the temporary folder and its
 * repos, nginx as the CDN, hf-mock-hub as the Hub, and the peers' command lines.
 *
 * Design notes
 *  - nginx runs in the foreground (`daemon off`, its master our child) with a config
 *    written into the temporary folder: pid file, error log and temp paths there, one
 *    loopback port picked here, sendfile, and `limit_rate $bench_rate` where a map gives
 *    the throttled repos their rate (0 = none). It serves ROOT with the mock's CDN layout,
 *    /repos/{type}s/ORG/NAME/<sha256>/PATH -> ROOT/{type}s/ORG/NAME/PATH (regex + alias).
 *    As root, its workers run as root too (the folder is 0700);
 *  - the mock is started with --cdn-url pointing at nginx, so its LFS redirects send
 *    every client (ours, curl, aria2c) to nginx, which never looks at the signature;
 *  - children get SIGTERM if hf-bench dies (Linux: PR_SET_PDEATHSIG) and are stopped with
 *    SIGTERM (then SIGKILL after 10 s) and reaped by dl_env_stop().
 */
#define _XOPEN_SOURCE 700
#include "config.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "bench.h"
#include "dl.h"

#ifndef HF_BENCH_SRCDIR
#define HF_BENCH_SRCDIR "."
#endif

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* fork + exec argv with stdin from /dev/null, stdout to out_fd and stderr to err_fd. */
static pid_t spawn2(char *const argv[], int out_fd, int err_fd)
{
    pid_t pid = fork();

    if (pid != 0)
        return pid;
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
    {
        int in = open("/dev/null", O_RDONLY);
        if (in >= 0)
            dup2(in, 0);
    }
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    execvp(argv[0], argv);
    _exit(127);
}

static pid_t spawn(char *const argv[], int out_fd)
{
    return spawn2(argv, out_fd, out_fd);
}

/* Wait for `pid` at most timeout_ms; its wait status, or -1 if it is still running. */
static int wait_for(pid_t pid, unsigned timeout_ms)
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
        sleep_ms(10);
    }
}

static void stop_child(pid_t *pid)
{
    if (*pid <= 0)
        return;
    kill(*pid, SIGTERM);
    if (wait_for(*pid, 10000) == -1) {
        kill(*pid, SIGKILL);
        waitpid(*pid, NULL, 0);
    }
    *pid = -1;
}

int dl_which(const char *name, char *buf, size_t size)
{
    const char *path = getenv("PATH");
    char dirs[4096];

    snprintf(dirs, sizeof dirs, "%s:/usr/sbin:/usr/local/sbin:/sbin",
             path ? path : "/usr/bin:/bin");
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(buf, size, "%s/%s", *d ? d : ".", name);
        if (access(buf, X_OK) == 0)
            return 0;
    }
    buf[0] = '\0';
    return -1;
}

/* Everything argv prints (stdout and stderr) into buf, NUL-terminated ("" if it cannot run). */
static void capture(char *const argv[], char *buf, size_t size)
{
    int fds[2];
    size_t have = 0;
    pid_t pid;

    buf[0] = '\0';
    if (pipe(fds) < 0)
        return;
    if ((pid = spawn(argv, fds[1])) < 0) {
        close(fds[0]);
        close(fds[1]);
        return;
    }
    close(fds[1]);
    for (;;) {
        char tmp[512];
        ssize_t n = read(fds[0], tmp, sizeof tmp);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n && have + 1 < size; i++)
            buf[have++] = tmp[i];
    }
    close(fds[0]);
    waitpid(pid, NULL, 0);
    buf[have] = '\0';
}

void dl_first_line(char *const argv[], char *buf, size_t size)
{
    capture(argv, buf, size);
    buf[strcspn(buf, "\r\n")] = '\0';
}

int dl_run(dl_env_t *e, char *const argv[], uint64_t *ns)
{
    int fd = open(e->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644), status;
    uint64_t t0 = bench_now_ns();
    pid_t pid;

    if (fd < 0)
        return -1;
    pid = spawn(argv, fd);
    close(fd);
    if (pid < 0)
        return -1;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    *ns = bench_now_ns() - t0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- the repos --------------------------------------------------------------------------- */

static int write_settings(const dl_env_t *e, const char *repo)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof path, "%s/models/%s", e->root, repo);
    if (dl_mkdirs(path) < 0)
        return -1;
    snprintf(path, sizeof path, "%s/models/%s/.mockhub.json", e->root, repo);
    if ((f = fopen(path, "w")) == NULL)
        return -1;
    fputs("{\"lfs_threshold\": 1}\n", f);       /* every file is an LFS file: on the CDN */
    return fclose(f) == 0 ? 0 : -1;
}

static int write_repo_file(const dl_env_t *e, const dl_file_t *f)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/models/%s/%s", e->root, f->repo, f->path);
    return dl_write_file(path, f->seed, f->size);
}

static int generate(dl_env_t *e, const dl_params_t *p)
{
    static const char *const repos[] = { DL_REPO_BIG, DL_REPO_THROTTLED, DL_REPO_SMALL,
                                         DL_REPO_SLOW };
    dl_file_t f, g;

    for (size_t i = 0; i < sizeof repos / sizeof repos[0]; i++)
        if (write_settings(e, repos[i]) < 0)
            return -1;
    dl_file_of(p, DL_REPO_BIG, 0, &f);
    dl_file_of(p, DL_REPO_THROTTLED, 0, &g);
    if ((p->benches & (DL_B_SINGLE | DL_B_THROTTLED)) && write_repo_file(e, &f) < 0)
        return -1;
    if (p->benches & DL_B_THROTTLED) {
        char from[1024], to[1024];
        snprintf(from, sizeof from, "%s/models/%s/%s", e->root, f.repo, f.path);
        snprintf(to, sizeof to, "%s/models/%s/%s", e->root, g.repo, g.path);
        if ((f.size != g.size || link(from, to) < 0) && write_repo_file(e, &g) < 0)
            return -1;
    }
    for (unsigned i = 0; (p->benches & DL_B_SMALL) && i < p->small_files; i++) {
        dl_file_of(p, DL_REPO_SMALL, i, &f);
        if (write_repo_file(e, &f) < 0)
            return -1;
    }
    for (unsigned i = 0; (p->benches & DL_B_ISOLATION) && i < p->iso_downloads; i++) {
        dl_file_of(p, DL_REPO_SLOW, i, &f);
        if (write_repo_file(e, &f) < 0)
            return -1;
    }
    return 0;
}

/* ---- nginx ------------------------------------------------------------------------------- */

/* A loopback port that was free a moment ago, or -1. */
static int free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int port_open(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

    if (fd < 0)
        return 0;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static int write_nginx_conf(const dl_env_t *e, const char *conf, const char *modules, int port)
{
    static const char *const temps[] = { "proxy", "fastcgi", "uwsgi", "scgi" };
    FILE *f = fopen(conf, "w");
    const dl_params_t *p = e->p;

    if (!f)
        return -1;
    fprintf(f, "# written by hf-bench download\n"
               "daemon off;\nmaster_process on;\nworker_processes auto;\n"
               "pid \"%s/nginx.pid\";\nerror_log \"%s/error.log\" warn;\n",
            e->nginx_dir, e->nginx_dir);
    if (geteuid() == 0) {
        struct passwd *pw = getpwuid(0);
        fprintf(f, "user %s;\n", pw ? pw->pw_name : "root");
    }
    fprintf(f, "events { worker_connections 4096; }\n"
               "http {\n"
               "    access_log off;\n    sendfile on;\n    tcp_nopush on;\n"
               "    keepalive_requests 100000;\n"
               "    default_type application/octet-stream;\n"
               "    client_body_temp_path \"%s/body\";\n", e->nginx_dir);
    for (size_t i = 0; i < sizeof temps / sizeof temps[0]; i++) {
        char without[64];
        snprintf(without, sizeof without, "--without-http_%s_module", temps[i]);
        if (!strstr(modules, without))
            fprintf(f, "    %s_temp_path \"%s/%s\";\n", temps[i], e->nginx_dir, temps[i]);
    }
    fprintf(f, "    map $uri $bench_rate {\n"
               "        default 0;\n"
               "        ~^/repos/models/%s/ %llu;\n"
               "        ~^/repos/models/%s/ %llu;\n"
               "    }\n"
               "    server {\n"
               "        listen 127.0.0.1:%d;\n"
               "        location ~ \"^/repos/(.+)/[0-9a-f]{64}/(.+)$\" {\n"
               "            alias \"%s/$1/$2\";\n"
               "            limit_rate $bench_rate;\n"
               "        }\n"
               "    }\n"
               "}\n",
            DL_REPO_THROTTLED, (unsigned long long)p->throttle_bps, DL_REPO_SLOW,
            (unsigned long long)p->iso_bps, port, e->root);
    return fclose(f) == 0 ? 0 : -1;
}

/* Start nginx; 0, or -1 with the reason in e->cdn_note. */
static int nginx_start(dl_env_t *e)
{
    char bin[512], conf[700], modules[8192], version[128], prefix[700];
    int fd;

    if (dl_which("nginx", bin, sizeof bin) < 0) {
        snprintf(e->cdn_note, sizeof e->cdn_note, "nginx not installed");
        return -1;
    }
    dl_first_line((char *[]){ bin, "-v", NULL }, version, sizeof version);
    /* which modules (and so which temp path directives) this build has */
    capture((char *[]){ bin, "-V", NULL }, modules, sizeof modules);
    snprintf(e->nginx_dir, sizeof e->nginx_dir, "%s/nginx", e->tmp);
    snprintf(conf, sizeof conf, "%s/nginx.conf", e->nginx_dir);
    snprintf(prefix, sizeof prefix, "%s/", e->nginx_dir);
    if (dl_mkdirs(e->nginx_dir) < 0)
        return -1;
    for (int attempt = 0; attempt < 3; attempt++) {
        int port = free_port(), up = 0;
        char *argv[] = { bin, "-p", prefix, "-c", conf, NULL };

        if (port < 0 || write_nginx_conf(e, conf, modules, port) < 0)
            break;
        if ((fd = open(e->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0)
            break;
        e->nginx_pid = spawn(argv, fd);
        close(fd);
        for (unsigned waited = 0; e->nginx_pid > 0 && waited < 10000; waited += 10) {
            if (port_open(port)) {
                up = 1;
                break;
            }
            if (wait_for(e->nginx_pid, 0) != -1) {
                e->nginx_pid = -1;      /* exited: the port was taken, or a bad config */
                break;
            }
            sleep_ms(10);
        }
        if (up) {
            const char *v = strchr(version, '/');
            snprintf(e->cdn, sizeof e->cdn, "http://127.0.0.1:%d", port);
            snprintf(e->cdn_note, sizeof e->cdn_note, "nginx %s", v ? v + 1 : version);
            return 0;
        }
        stop_child(&e->nginx_pid);
    }
    fprintf(stderr, "hf-bench: nginx did not start: see %s/error.log and %s\n", e->nginx_dir,
            e->log);
    snprintf(e->cdn_note, sizeof e->cdn_note, "nginx did not start");
    return -1;
}

/* ---- the mock ---------------------------------------------------------------------------- */

static int http_request(const char *method, const char *url, const char *body, long *status,
                        char **location)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    FILE *sink = fopen("/dev/null", "w");
    CURLcode rc;

    if (!c || !sink) {
        if (c)
            curl_easy_cleanup(c);
        if (sink)
            fclose(sink);
        return -1;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (body) {
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    }
    rc = curl_easy_perform(c);
    *status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    if (location) {
        char *loc = NULL;
        curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc);
        *location = loc ? strdup(loc) : NULL;
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    fclose(sink);
    return rc == CURLE_OK ? 0 : -1;
}

static int mock_start(dl_env_t *e, int with_nginx)
{
    const char *src = getenv("HF_TOP_SRCDIR"), *python = getenv("PYTHON3");
    char script[1024], cdn_url[160], line[512];
    char *argv[12];
    int fds[2], log, n = 0, ok = 0;
    size_t have = 0;
    struct pollfd pfd;

    snprintf(script, sizeof script, "%s/tools/mock-hub/hf-mock-hub", src ? src : HF_BENCH_SRCDIR);
    argv[n++] = (char *)(python ? python : "python3");
    argv[n++] = script;
    argv[n++] = "--root";
    argv[n++] = e->root;
    argv[n++] = "--port";
    argv[n++] = "0";
    argv[n++] = "--cdn-port";
    argv[n++] = "0";
    if (with_nginx) {
        snprintf(cdn_url, sizeof cdn_url, "%s", e->cdn);
        argv[n++] = "--cdn-url";
        argv[n++] = cdn_url;
    }
    argv[n] = NULL;
    if ((log = open(e->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0)
        return -1;
    if (pipe(fds) < 0) {
        close(log);
        return -1;
    }
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    e->mock_pid = spawn2(argv, fds[1], log);    /* its warnings go to the log */
    close(fds[1]);
    close(log);
    /* Read up to the end of the line: the mock may write it in two parts. Keep the pipe
     * open until the mock stops: a write to a closed pipe would end it (BrokenPipeError). */
    e->mock_out = fds[0];
    pfd.fd = fds[0];
    pfd.events = POLLIN;
    while (e->mock_pid > 0 && have + 1 < sizeof line && !memchr(line, '\n', have) &&
           poll(&pfd, 1, 60000) == 1) {
        ssize_t got = read(fds[0], line + have, sizeof line - 1 - have);
        if (got <= 0)
            break;
        have += (size_t)got;
        line[have] = '\0';
    }
    line[have] = '\0';
    if (memchr(line, '\n', have)) {
        char cdn[128];
        ok = sscanf(line, "listening %127s %127s", e->hub, cdn) == 2;
        if (ok && !with_nginx)
            snprintf(e->cdn, sizeof e->cdn, "%s", cdn);
    }
    if (!ok) {
        fprintf(stderr, "hf-bench: hf-mock-hub (%s) did not start\n", script);
        return -1;
    }
    return 0;
}

/* Without nginx: the mock's CDN throttles the same repos, with faults. */
static int mock_throttle(dl_env_t *e)
{
    char url[256], body[512];
    long status;

    snprintf(url, sizeof url, "%s/_mock/faults", e->hub);
    snprintf(body, sizeof body,
             "[{\"path\": \"/repos/models/%s/*\", \"port\": \"cdn\", \"throttle_bps\": %llu},"
             " {\"path\": \"/repos/models/%s/*\", \"port\": \"cdn\", \"throttle_bps\": %llu}]",
             DL_REPO_THROTTLED, (unsigned long long)e->p->throttle_bps, DL_REPO_SLOW,
             (unsigned long long)e->p->iso_bps);
    if (http_request("POST", url, body, &status, NULL) < 0 || status != 200) {
        fprintf(stderr, "hf-bench: cannot set the mock's throttle faults\n");
        return -1;
    }
    return 0;
}

void dl_resolve_url(const dl_env_t *e, const dl_file_t *f, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s/resolve/main/%s", e->hub, f->repo, f->path);
}

char *dl_cdn_url(dl_env_t *e, const dl_file_t *f)
{
    char url[512], *loc = NULL;
    long status;

    dl_resolve_url(e, f, url, sizeof url);
    if (http_request("HEAD", url, NULL, &status, &loc) < 0 || status != 302 || !loc) {
        fprintf(stderr, "hf-bench: HEAD %s: HTTP %ld, no CDN redirect\n", url, status);
        free(loc);
        return NULL;
    }
    return loc;
}

/* ---- the whole setting ------------------------------------------------------------------- */

int dl_env_start(dl_env_t *e, const dl_params_t *p, const char *tmpdir)
{
    const char *base = tmpdir ? tmpdir : getenv("TMPDIR");
    int with_nginx;

    memset(e, 0, sizeof *e);
    e->mock_pid = e->nginx_pid = e->mock_out = -1;
    e->p = p;
    if (!base || !*base)
        base = "/tmp";
    if (strpbrk(base, "\"\\$;{}") || strlen(base) > 400) {
        fprintf(stderr, "hf-bench: --tmpdir %s: an unusual path; choose another\n", base);
        return -1;
    }
    snprintf(e->tmp, sizeof e->tmp, "%s/hf-bench-download-XXXXXX", base);
    if (mkdtemp(e->tmp) == NULL) {
        fprintf(stderr, "hf-bench: cannot make a folder in %s: %s\n", base, strerror(errno));
        e->tmp[0] = '\0';
        return -1;
    }
    snprintf(e->root, sizeof e->root, "%s/root", e->tmp);
    snprintf(e->out, sizeof e->out, "%s/out", e->tmp);
    snprintf(e->log, sizeof e->log, "%s/commands.log", e->tmp);
    if (dl_mkdirs(e->out) < 0 || generate(e, p) < 0)
        return -1;
    with_nginx = nginx_start(e) == 0;
    if (!with_nginx)
        fprintf(stderr, "hf-bench: %s: the mock's own CDN port serves the bytes instead\n",
                e->cdn_note);
    if (mock_start(e, with_nginx) < 0 || (!with_nginx && mock_throttle(e) < 0))
        return -1;
    if (!with_nginx) {
        char note[sizeof e->cdn_note];
        memcpy(note, e->cdn_note, sizeof note);
        snprintf(e->cdn_note, sizeof e->cdn_note, "hf-mock-hub (%.60s)", note);
    }
    return 0;
}

void dl_env_stop(dl_env_t *e)
{
    stop_child(&e->mock_pid);
    if (e->mock_out >= 0)
        close(e->mock_out);
    e->mock_out = -1;
    stop_child(&e->nginx_pid);
    if (e->tmp[0] && getenv("HF_BENCH_KEEP")) {
        fprintf(stderr, "hf-bench: HF_BENCH_KEEP: %s kept\n", e->tmp);
        return;
    }
    if (e->tmp[0] && dl_rmtree(e->tmp) < 0)
        fprintf(stderr, "hf-bench: cannot remove %s\n", e->tmp);
    e->tmp[0] = '\0';
}
