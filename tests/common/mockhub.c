/*
 * mockhub.c - see mockhub.h. Test code: failures end the test through Check.
 */
#include "config.h"

#include "common/mockhub.h"

#include <check.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

void tu_mock_root(tu_mock_t *m)
{
    memset(m, 0, sizeof *m);
    m->pid = -1;
    snprintf(m->root, sizeof m->root, "/tmp/hfasync-mock-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(m->root));
}

/* Create the folders above `path` (mkdir -p of its dirname), without a shell. */
static void mkdirs_for(const char *path)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        ck_assert_msg(mkdir(dir, 0777) == 0 || errno == EEXIST, "mkdir %s", dir);
        *p = '/';
    }
}

void tu_mock_file(tu_mock_t *m, const char *type, const char *repo, const char *path,
                  const void *data, size_t len)
{
    char full[1024];
    FILE *f;
    snprintf(full, sizeof full, "%s/%ss/%s/%s", m->root, type, repo, path);
    mkdirs_for(full);
    f = fopen(full, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

void tu_mock_settings(tu_mock_t *m, const char *type, const char *repo, const char *json)
{
    tu_mock_file(m, type, repo, ".mockhub.json", json, strlen(json));
}

void tu_mock_fixtures(tu_mock_t *m, unsigned scale)
{
    const char *build = getenv("HF_TOP_BUILDDIR");
    char prog[1024], sc[16];
    pid_t pid;
    int status;

    snprintf(prog, sizeof prog, "%s/tools/hf-fixtures", build ? build : ".");
    snprintf(sc, sizeof sc, "%u", scale);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl(prog, prog, m->root, "--scale", sc, (char *)NULL);
        _exit(127);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "%s %s failed (status %d)", prog, m->root, status);
}

void tu_mock_start(tu_mock_t *m, const char *extra_args)
{
    const char *src = getenv("HF_TOP_SRCDIR");
    char script[512], line[512], *got;
    int fds[2];
    FILE *out;

    snprintf(script, sizeof script, "%s/tools/mock-hub/hf-mock-hub", src ? src : ".");
    ck_assert_int_eq(pipe(fds), 0);
    /* posix_spawn, not fork: a fork runs the library's atfork handlers once a runtime
     * exists, and their prepare step holds more mutexes at once than ThreadSanitizer's
     * deadlock detector can track (64), which aborts the TSan build's tests */
    {
        char cmd[2048];
        char *argv[] = { "sh", "-c", cmd, NULL };
        posix_spawn_file_actions_t fa;
        snprintf(cmd, sizeof cmd, "exec python3 '%s' --root '%s' --port 0 --cdn-port 0 %s",
                 script, m->root, extra_args ? extra_args : "");
        ck_assert_int_eq(posix_spawn_file_actions_init(&fa), 0);
        ck_assert_int_eq(posix_spawn_file_actions_adddup2(&fa, fds[1], 1), 0);
        ck_assert_int_eq(posix_spawn_file_actions_addclose(&fa, fds[0]), 0);
        ck_assert_int_eq(posix_spawn_file_actions_addclose(&fa, fds[1]), 0);
        ck_assert_int_eq(posix_spawn(&m->pid, "/bin/sh", &fa, NULL, argv, environ), 0);
        posix_spawn_file_actions_destroy(&fa);
    }
    close(fds[1]);
    out = fdopen(fds[0], "r");
    ck_assert_ptr_nonnull(out);
    errno = 0;
    while ((got = fgets(line, sizeof line, out)) == NULL && ferror(out) && errno == EINTR) {
        clearerr(out);          /* a signal, not the end: read on */
        errno = 0;
    }
    if (!got) {
        int e = errno, st = 0;
        pid_t r = waitpid(m->pid, &st, WNOHANG);
        ck_abort_msg("hf-mock-hub printed nothing (%s; %s %d; its stderr is above)",
                     ferror(out) ? strerror(e) : "end of output",
                     r == m->pid ? (WIFEXITED(st) ? "exit status" : "killed by signal")
                                 : "still running, pid",
                     r == m->pid ? (WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st)) : (int)m->pid);
    }
    fclose(out);
    ck_assert_msg(sscanf(line, "listening %127s %127s", m->hub, m->cdn) == 2,
                  "unexpected first line from hf-mock-hub: %s", line);
}

hf_hub_t *tu_hub_at(hf_runtime_t *rt, const char *endpoint, const char *cache,
                    const char *token, const hf_hub_config_t *extra)
{
    hf_hub_config_t cfg;
    hf_hub_t *h;
    hf_error_t e;

    if (extra)
        cfg = *extra;
    else
        memset(&cfg, 0, sizeof cfg);
    cfg.endpoint = endpoint;
    cfg.cache_dir = cache;
    cfg.token = token;
    cfg.offline = HF_NO;
    if (!cfg.backoff_ms)
        cfg.backoff_ms = 10;
    h = hf_hub_new(rt, &cfg, &e);
    ck_assert_msg(h != NULL, "hf_hub_new: %s", e.message);
    return h;
}

void tu_mock_stop(tu_mock_t *m)
{
    char cmd[400];
    if (m->pid > 0) {
        int status;
        kill(m->pid, SIGTERM);
        waitpid(m->pid, &status, 0);
        m->pid = -1;
    }
    if (m->root[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", m->root);
        ck_assert_int_eq(system(cmd), 0);
    }
}

typedef struct buf {
    char *p;
    size_t n;
} buf_t;

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    buf_t *b = arg;
    char *np = realloc(b->p, b->n + size * n + 1);
    ck_assert_ptr_nonnull(np);
    memcpy(np + b->n, data, size * n);
    b->n += size * n;
    np[b->n] = '\0';
    b->p = np;
    return size * n;
}

char *tu_http(const char *method, const char *url, const char *body, long *status)
{
    CURL *c = curl_easy_init();
    buf_t b = { calloc(1, 1), 0 };
    struct curl_slist *h = NULL;
    CURLcode rc;

    ck_assert_ptr_nonnull(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (body) {
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    }
    rc = curl_easy_perform(c);
    ck_assert_msg(rc == CURLE_OK, "%s %s: %s", method, url, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return b.p;
}

void tu_mock_fault(tu_mock_t *m, const char *json)
{
    char url[300];
    long st;
    snprintf(url, sizeof url, "%s/_mock/faults", m->hub);
    free(tu_http("POST", url, json, &st));
    ck_assert_msg(st == 200, "setting a fault: HTTP %ld", st);
}

void tu_mock_reset(tu_mock_t *m)
{
    char url[300];
    long st;
    snprintf(url, sizeof url, "%s/_mock/reset", m->hub);
    free(tu_http("POST", url, "{}", &st));
    ck_assert_int_eq(st, 200);
}

char *tu_mock_stats(tu_mock_t *m)
{
    char url[300];
    long st;
    char *s;
    snprintf(url, sizeof url, "%s/_mock/stats", m->hub);
    s = tu_http("GET", url, NULL, &st);
    ck_assert_int_eq(st, 200);
    return s;
}

long tu_mock_count(tu_mock_t *m, const char *method, const char *path_suffix)
{
    char *text = tu_mock_stats(m);
    cJSON *j = cJSON_Parse(text);
    const char *ports[2] = { "hub", "cdn" };
    long n = 0;
    size_t sl = strlen(path_suffix);

    ck_assert_ptr_nonnull(j);
    for (int p = 0; p < 2; p++) {
        cJSON *paths = cJSON_GetObjectItem(cJSON_GetObjectItem(j, ports[p]), "paths"), *e;
        cJSON_ArrayForEach(e, paths) {
            size_t kl = strlen(e->string);
            cJSON *c;
            if (kl < sl || strcmp(e->string + kl - sl, path_suffix) != 0)
                continue;
            if ((c = cJSON_GetObjectItem(e, method)) != NULL)
                n += (long)c->valuedouble;
        }
    }
    cJSON_Delete(j);
    free(text);
    return n;
}

char *tu_mock_requests(tu_mock_t *m, const char *query)
{
    char url[600];
    long st;
    char *s;
    snprintf(url, sizeof url, "%s/_mock/requests%s%s", m->hub, query ? "?" : "", query ? query : "");
    s = tu_http("GET", url, NULL, &st);
    ck_assert_int_eq(st, 200);
    return s;
}
