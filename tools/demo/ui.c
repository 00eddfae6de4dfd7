/*
 * ui.c - see ui.h.
 *
 * Design notes
 *  - progress events arrive on I/O threads; each model's state is under the display's
 *    one mutex (events are at most ~10 per second per file), which the redraw thread
 *    also takes to draw;
 *  - a file is counted done the first time an event has file_done == file_total > 0;
 *  - files are told apart by repository and path (two of sd35's repos have a
 *    tokenizer.json).
 */
#include "config.h"

#include "demo/ui.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_FILES 64
#define BAR 24

typedef struct file_state {
    char *path;                 /* "<repo>/<path>" */
    uint64_t done, total;
    int finished;
} file_state_t;

typedef struct model_state {
    struct ui *u;
    const char *name;
    file_state_t files[MAX_FILES];
    size_t nfiles;
    char status[96];
    double t_done;
} model_state_t;

struct ui {
    FILE *out;
    int bars;
    model_state_t *m;
    size_t n;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    int running, stopping, drawn;
    double t0;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double mib(uint64_t b)
{
    return (double)b / (1024.0 * 1024.0);
}

ui_t *ui_new(FILE *out, int bars, const char *const *names, size_t n)
{
    ui_t *u = calloc(1, sizeof *u);
    if (!u || (u->m = calloc(n, sizeof *u->m)) == NULL) {
        free(u);
        return NULL;
    }
    u->out = out;
    u->bars = bars;
    u->n = n;
    u->t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        u->m[i].u = u;
        u->m[i].name = names[i];
    }
    pthread_mutex_init(&u->mu, NULL);
    pthread_cond_init(&u->cv, NULL);
    return u;
}

void *ui_arg(ui_t *u, size_t i)
{
    return &u->m[i];
}

void ui_progress(const hf_progress_t *p, void *arg)
{
    model_state_t *m = arg;
    ui_t *u = m->u;
    file_state_t *f = NULL;
    char key[1024];

    if (!p->path)
        return;
    snprintf(key, sizeof key, "%s/%s", p->repo_id ? p->repo_id : "", p->path);
    pthread_mutex_lock(&u->mu);
    for (size_t i = 0; i < m->nfiles; i++)
        if (strcmp(m->files[i].path, key) == 0)
            f = &m->files[i];
    if (!f && m->nfiles < MAX_FILES && (m->files[m->nfiles].path = strdup(key)) != NULL)
        f = &m->files[m->nfiles++];
    if (f) {
        f->done = p->file_done;
        f->total = p->file_total;
        if (!f->finished && f->total > 0 && f->done == f->total) {
            f->finished = 1;
            if (!u->bars)
                fprintf(u->out, "  %-15s %s (%.1f MiB) done\n", m->name, f->path,
                        mib(f->total));
        }
    }
    pthread_mutex_unlock(&u->mu);
}

void ui_done(ui_t *u, size_t i, const char *status)
{
    pthread_mutex_lock(&u->mu);
    snprintf(u->m[i].status, sizeof u->m[i].status, "%s", status);
    u->m[i].t_done = now_s();
    if (!u->bars)
        fprintf(u->out, "  %-15s %s after %.2f s\n", u->m[i].name, status, u->m[i].t_done - u->t0);
    pthread_mutex_unlock(&u->mu);
}

/* mu held */
static void draw(ui_t *u)
{
    double t = now_s();
    if (u->drawn)
        fprintf(u->out, "\033[%zuA", u->n);      /* back to the first bar */
    for (size_t i = 0; i < u->n; i++) {
        model_state_t *m = &u->m[i];
        uint64_t done = 0, total = 0;
        size_t finished = 0;
        char bar[BAR + 1];
        double frac, secs;
        for (size_t j = 0; j < m->nfiles; j++) {
            done += m->files[j].done;
            total += m->files[j].total;
            finished += (size_t)m->files[j].finished;
        }
        frac = m->status[0] ? 1.0 : total ? (double)done / (double)total : 0.0;
        for (int k = 0; k < BAR; k++)
            bar[k] = k < (int)(frac * BAR + 0.5) ? '#' : '.';
        bar[BAR] = '\0';
        secs = (m->status[0] ? m->t_done : t) - u->t0;
        fprintf(u->out, "\r\033[K  %-15s [%s] %2zu/%-2zu files %8.1f/%-8.1f MiB %7.1f MiB/s  %s\n",
                m->name, bar, finished, m->nfiles, mib(done), mib(total),
                secs > 0 ? mib(done) / secs : 0.0, m->status);
    }
    fflush(u->out);
    u->drawn = 1;
}

static void *redraw(void *arg)
{
    ui_t *u = arg;
    pthread_mutex_lock(&u->mu);
    while (!u->stopping) {
        struct timespec ts;
        draw(u);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&u->cv, &u->mu, &ts);
    }
    draw(u);
    pthread_mutex_unlock(&u->mu);
    return NULL;
}

int ui_start(ui_t *u)
{
    u->t0 = now_s();
    if (!u->bars)
        return 0;
    if (pthread_create(&u->th, NULL, redraw, u) != 0)
        return -1;
    u->running = 1;
    return 0;
}

void ui_stop(ui_t *u)
{
    if (!u->running)
        return;
    pthread_mutex_lock(&u->mu);
    u->stopping = 1;
    pthread_cond_signal(&u->cv);
    pthread_mutex_unlock(&u->mu);
    pthread_join(u->th, NULL);
    u->running = 0;
}

void ui_free(ui_t *u)
{
    if (!u)
        return;
    ui_stop(u);
    for (size_t i = 0; i < u->n; i++)
        for (size_t j = 0; j < u->m[i].nfiles; j++)
            free(u->m[i].files[j].path);
    free(u->m);
    pthread_mutex_destroy(&u->mu);
    pthread_cond_destroy(&u->cv);
    free(u);
}
