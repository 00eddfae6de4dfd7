/*
 * dl_serve.c - the download suite's servers and commands: the temporary folder and its
 * repos, nginx as the CDN, hf-mock-hub as the Hub, and the peers' command lines.
 *
 * Design notes
 *  - nginx (nginx.c) serves ROOT as the CDN, the throttled repos at their rates and the
 *    others unlimited;
 *  - the mock is started with --cdn-url pointing at nginx, so its LFS redirects send
 *    every client (ours, curl, aria2c) to nginx, which never looks at the signature;
 *  - children get SIGTERM if hf-bench dies (proc.c; the mock: common/child.c) and are
 *    stopped with SIGTERM (then SIGKILL after 10 s) and reaped by dl_env_stop().
 */
#define _XOPEN_SOURCE 700
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "dl.h"

#ifndef HF_BENCH_SRCDIR
#define HF_BENCH_SRCDIR "."
#endif

int dl_run(dl_env_t *e, char *const argv[], uint64_t *ns)
{
    int fd = open(e->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644), status;
    uint64_t t0 = bench_now_ns();
    pid_t pid;

    if (fd < 0)
        return -1;
    pid = child_spawn(argv, fd, fd);
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

/* The mock Hub, its warnings to the log; with nginx, its LFS redirects go there. */
static int start_mock(dl_env_t *e, int with_nginx)
{
    const char *src = getenv("HF_TOP_SRCDIR");
    const char *elsewhere[] = { "--cdn-url", e->cdn, NULL };
    char script[1024];
    int log, rc;

    snprintf(script, sizeof script, "%s/tools/mock-hub/hf-mock-hub", src ? src : HF_BENCH_SRCDIR);
    if ((log = open(e->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0)
        return -1;
    rc = mock_start(&e->mock, script, e->root, with_nginx ? elsewhere : NULL, log);
    close(log);
    if (rc == 0 && !with_nginx)
        snprintf(e->cdn, sizeof e->cdn, "%s", e->mock.cdn);
    return rc;
}

/* Without nginx: the mock's CDN throttles the same repos, with faults. */
static int mock_throttle(dl_env_t *e)
{
    char url[256], body[512];
    long status;

    snprintf(url, sizeof url, "%s/_mock/faults", e->mock.hub);
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
    snprintf(buf, size, "%s/%s/resolve/main/%s", e->mock.hub, f->repo, f->path);
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
    e->mock.pid = e->nginx.pid = e->mock.out = -1;
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
    {
        char dir[700];
        const nginx_rate_t rates[] = { { DL_REPO_THROTTLED, p->throttle_bps },
                                       { DL_REPO_SLOW, p->iso_bps } };
        snprintf(dir, sizeof dir, "%s/nginx", e->tmp);
        with_nginx = nginx_cdn_start(&e->nginx, dir, e->root, e->log, 0, rates, 2) == 0;
        snprintf(e->cdn_note, sizeof e->cdn_note, "%s", e->nginx.note);
        if (with_nginx)
            snprintf(e->cdn, sizeof e->cdn, "%s", e->nginx.url);
    }
    if (!with_nginx)
        fprintf(stderr, "hf-bench: %s: the mock's own CDN port serves the bytes instead\n",
                e->cdn_note);
    if (start_mock(e, with_nginx) < 0 || (!with_nginx && mock_throttle(e) < 0))
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
    mock_stop(&e->mock);
    nginx_cdn_stop(&e->nginx);
    if (e->tmp[0] && getenv("HF_BENCH_KEEP")) {
        fprintf(stderr, "hf-bench: HF_BENCH_KEEP: %s kept\n", e->tmp);
        return;
    }
    if (e->tmp[0] && dl_rmtree(e->tmp) < 0)
        fprintf(stderr, "hf-bench: cannot remove %s\n", e->tmp);
    e->tmp[0] = '\0';
}
