/*
 * progress.c - hf-fetch's progress output on stderr: a redrawn bar on a terminal, plain
 * lines otherwise, nothing with --quiet or $HF_HUB_DISABLE_PROGRESS_BARS.
 *
 * The sink is called on I/O threads, concurrently: everything here is under one mutex.
 * It may be called until the hub is freed, after progress_done too when Ctrl-C left
 * transfers under way: main frees its state (progress_free) only after hf_hub_free.
 * It never prints a token (it has none to print).
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "fetch.h"

typedef struct prog {
    pthread_mutex_t mu;
    int tty;
    double start, last_print;
    unsigned last_files_done;
    int drawn;
    int closed;                 /* progress_done was called: print nothing more */
    char **finished;            /* plain lines: files whose "done" line is out */
    size_t nfinished, cap;
} prog_t;

/* Plain lines: has the "done" line of `p`'s file been printed? If not, remember that it is now.
 * The library may report a file's last byte more than once (body, then commit). */
static int already_finished(prog_t *g, const hf_progress_t *p)
{
    char key[4200], **np;
    snprintf(key, sizeof key, "%s/%s", p->repo_id ? p->repo_id : "", p->path ? p->path : "");
    for (size_t i = 0; i < g->nfinished; i++)
        if (strcmp(g->finished[i], key) == 0)
            return 1;
    if (g->nfinished == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 16;
        if ((np = realloc(g->finished, cap * sizeof *np)) == NULL)
            return 0;
        g->finished = np;
        g->cap = cap;
    }
    if ((g->finished[g->nfinished] = strdup(key)) != NULL)
        g->nfinished++;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int env_true(const char *name)
{
    const char *v = getenv(name);
    return v && (strcasecmp(v, "1") == 0 || strcasecmp(v, "on") == 0 ||
                 strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0);
}

static void sink(const hf_progress_t *p, void *arg)
{
    prog_t *g = arg;
    double t = now_s(), el;
    char a[32], b[32], r[32];
    unsigned long long done = p->batch_total ? p->batch_done : p->file_done;
    unsigned long long total = p->batch_total ? p->batch_total : p->file_total;
    double rate;
    int file_finished = p->file_total && p->file_done == p->file_total;

    pthread_mutex_lock(&g->mu);
    if (g->closed) {
        pthread_mutex_unlock(&g->mu);
        return;
    }
    el = t - g->start;
    rate = el > 0 ? (double)done / el : 0;
    if (g->tty) {
        if (t - g->last_print >= 0.1 || file_finished) {
            int pct = total ? (int)(100.0 * (double)done / (double)total) : 0;
            int fill = pct / 5;
            char bar[21];
            for (int i = 0; i < 20; i++)
                bar[i] = i < fill ? '#' : '-';
            bar[20] = '\0';
            fprintf(stderr, "\r%-28.28s [%s] %3d%% %9s/%-9s %9s/s", p->path ? p->path : "",
                    bar, pct, human_size(done, a), human_size(total, b),
                    human_size((unsigned long long)rate, r));
            if (rate > 0 && total > done)
                fprintf(stderr, " ETA %4.0fs", (double)(total - done) / rate);
            else
                fputs("          ", stderr);
            if (p->files_total > 1)
                fprintf(stderr, " (%u/%u files)", p->files_done, p->files_total);
            fflush(stderr);
            g->drawn = 1;
            g->last_print = t;
        }
    } else if (file_finished ? !already_finished(g, p)
                             : t - g->last_print >= 2.0) {
        fprintf(stderr, "%s: %s / %s%s\n", p->path ? p->path : "download",
                human_size(p->file_done, a), human_size(p->file_total, b),
                file_finished ? " done" : "");
        g->last_print = t;
    }
    pthread_mutex_unlock(&g->mu);
}

hf_progress_fn progress_sink(const fetch_opts_t *o, void **arg)
{
    prog_t *g;
    *arg = NULL;
    if (o->quiet || o->json || env_true("HF_HUB_DISABLE_PROGRESS_BARS"))
        return NULL;
    if ((g = calloc(1, sizeof *g)) == NULL)
        return NULL;
    pthread_mutex_init(&g->mu, NULL);
    g->tty = isatty(2);
    g->start = now_s();
    *arg = g;
    return sink;
}

void progress_done(void *arg)
{
    prog_t *g = arg;
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    if (g->tty && g->drawn && !g->closed)
        fputc('\n', stderr);
    g->closed = 1;
    pthread_mutex_unlock(&g->mu);
}

void progress_free(void *arg)
{
    prog_t *g = arg;
    if (!g)
        return;
    pthread_mutex_destroy(&g->mu);
    for (size_t i = 0; i < g->nfinished; i++)
        free(g->finished[i]);
    free(g->finished);
    free(g);
}
