/*
 * hf-demo - the main job: load the five models concurrently while every compute worker
 * runs a compute kernel, and show that the downloads never took a compute thread.
 *
 *   hf-demo [--endpoint URL] [--scale MIB] [--throttle-bps B] [--threads N]
 *           [--cache DIR] [--idle-seconds S] [--plain] [--keep]
 *
 * Without --endpoint (or HF_ENDPOINT), it writes the fixture repos (hf-fixtures) into a
 * fresh temporary folder, serves them with hf-mock-hub on loopback (the CDN throttled per
 * connection, as a slow network is), and uses a fresh cache there; the folder is removed
 * at the end unless --keep. Steps:
 *  1. warm-up: load stella with its 256-wide head, the model the kernel computes on;
 *  2. the kernel runs alone on every compute worker for S seconds (its idle rate);
 *  3. the five models load at once while it keeps running (the rate during downloads);
 *  4. it runs alone again for S seconds; the ratio compares step 3 with the mean of 2 and 4.
 * It ends with a report and, as its last line, one JSON object. Exit status: 0 when the
 * five models loaded and no libcurl call ran on a compute thread; 1 otherwise; 2 on bad
 * usage; 130 when interrupted.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/child.h"
#include "demo/kernel.h"
#include "demo/ui.h"
#include "hfasync.h"

#define FIXTURE_TOKEN "hf_fixture_token"
#define MAX_SCALE_MIB 1024      /* the most hf-fixtures --scale takes */
#define NMODELS 5

static const char *const model_names[NMODELS] = {
    "kimi-k2", "phi4-reasoning", "stella", "gte-qwen", "sd35-turbo",
};

typedef struct options {
    const char *endpoint;
    unsigned scale;             /* MiB per weight file */
    unsigned long throttle;     /* bytes/s per CDN connection */
    unsigned threads;
    const char *cache;
    double idle_s;
    int plain, keep;
} options_t;

typedef struct slot {
    hf_future_t *f;             /* the load */
    hf_future_t *done;          /* after on_settled ran */
    double t_done;
    ui_t *ui;
    size_t i;
} slot_t;

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: hf-demo [options]\n"
            "  Loads the five models (kimi-k2, phi4-reasoning, stella, gte-qwen, sd35-turbo)\n"
            "  at once while a compute kernel runs on every compute worker.\n"
            "  --endpoint URL      a Hub to use instead of the bundled local one (also\n"
            "                      HF_ENDPOINT; the token then comes from HF_TOKEN)\n"
            "  --scale MIB         size of each fixture weight file, 0 to 1024 (default 8)\n"
            "  --throttle-bps B    local CDN rate per connection (default 1000000)\n"
            "  --threads N         compute workers (default: one per CPU)\n"
            "  --cache DIR         Hub cache to use (default: with the bundled Hub a fresh\n"
            "                      one, removed after; with --endpoint the usual one:\n"
            "                      HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub)\n"
            "  --idle-seconds S    how long the kernel runs alone, before and after (2)\n"
            "  --plain             plain lines instead of progress bars\n"
            "  --keep              keep the temporary fixtures and cache\n");
}

static int parse_num(const char *opt, const char *s, double min, double max, double *out)
{
    char *end;
    double v;
    errno = 0;
    v = s ? strtod(s, &end) : 0;
    if (!s || errno || end == s || *end || v < min || v > max) {
        fprintf(stderr, "hf-demo: %s needs a number from %g to %g\n", opt, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse(int argc, char **argv, options_t *o)
{
    const char *local_only = NULL;  /* an option for the bundled Hub, if one was given */
    double v;
    memset(o, 0, sizeof *o);
    o->scale = 8;
    o->throttle = 1000000;
    o->idle_s = 2.0;
    o->endpoint = getenv("HF_ENDPOINT");
    if (o->endpoint && !*o->endpoint)
        o->endpoint = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--endpoint") == 0 && next) {
            o->endpoint = argv[++i];
        } else if (strcmp(a, "--cache") == 0 && next) {
            o->cache = argv[++i];
        } else if (strcmp(a, "--scale") == 0) {
            /* hf-fixtures' own range, whole MiB: refused here, before anything is written */
            if (parse_num(a, next, 0, MAX_SCALE_MIB, &v) < 0)
                return -1;
            if (v != (double)(unsigned)v) {
                fprintf(stderr, "hf-demo: --scale needs a whole number of MiB from 0 to %d\n",
                        MAX_SCALE_MIB);
                return -1;
            }
            o->scale = (unsigned)v;
            local_only = a;
            i++;
        } else if (strcmp(a, "--throttle-bps") == 0) {
            if (parse_num(a, next, 1000, 1e12, &v) < 0)
                return -1;
            o->throttle = (unsigned long)v;
            local_only = a;
            i++;
        } else if (strcmp(a, "--threads") == 0) {
            if (parse_num(a, next, 1, 256, &v) < 0)
                return -1;
            o->threads = (unsigned)v;
            i++;
        } else if (strcmp(a, "--idle-seconds") == 0) {
            if (parse_num(a, next, 0.2, 600, &v) < 0)
                return -1;
            o->idle_s = v;
            i++;
        } else if (strcmp(a, "--plain") == 0) {
            o->plain = 1;
        } else if (strcmp(a, "--keep") == 0) {
            o->keep = 1;
            local_only = a;
        } else {
            fprintf(stderr, "hf-demo: unknown or incomplete option %s\n", a);
            usage(stderr);
            return -1;
        }
    }
    if (o->endpoint && local_only) {    /* it would be ignored: say so instead */
        fprintf(stderr, "hf-demo: %s is for the bundled local Hub, not for a Hub named by "
                "--endpoint or HF_ENDPOINT\n", local_only);
        return -1;
    }
    return 0;
}

/* The kernel alone for `secs`: chunks per second. */
static double idle_rate(kernel_t *k, double secs)
{
    uint64_t c0 = kernel_chunks(k), c1;
    double t0 = now_s(), t;
    while ((t = now_s()) - t0 < secs && !interrupted) {
        struct timespec ts = { 0, 20 * 1000000L };
        nanosleep(&ts, NULL);
    }
    c1 = kernel_chunks(k);
    return (double)(c1 - c0) / (t - t0);
}

static void on_settled(hf_future_t *f, void *arg)
{
    slot_t *s = arg;
    char status[96];
    s->t_done = now_s();
    if (hf_future_state(f) == HF_FUTURE_FULFILLED)
        snprintf(status, sizeof status, "loaded");
    else if (hf_future_state(f) == HF_FUTURE_REJECTED)
        snprintf(status, sizeof status, "failed (%s)", hf_strerror(hf_future_error(f)->code));
    else
        snprintf(status, sizeof status, "cancelled");
    ui_done(s->ui, s->i, status);
}

/* Wait for `f` while watching for ^C; 0, or -1 if interrupted. */
static int wait_interruptible(hf_future_t *f)
{
    while (hf_future_wait(f, 100) != 0)
        if (interrupted)
            return -1;
    return 0;
}

typedef struct env {
    char root[256];             /* the temporary folder ("" when none) */
    char cache[512];
    char endpoint[256];
    mock_proc_t mock;
    int local;
} env_t;

static int setup_local(const options_t *o, const char *argv0, env_t *e)
{
    char fixtures[300];
    snprintf(e->root, sizeof e->root, "%s/hf-demo-XXXXXX",
             getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(e->root)) {
        fprintf(stderr, "hf-demo: cannot make a folder in %s: %s\n", e->root, strerror(errno));
        e->root[0] = '\0';
        return -1;
    }
    snprintf(fixtures, sizeof fixtures, "%s/repos", e->root);
    printf("writing the fixture repos (%u MiB per weight file) ...\n", o->scale);
    if (fixtures_serve("hf-demo", argv0, fixtures, o->scale, o->throttle, NULL, &e->mock) < 0)
        return -1;
    snprintf(e->endpoint, sizeof e->endpoint, "%s", e->mock.hub);
    if (!o->cache)
        snprintf(e->cache, sizeof e->cache, "%s/cache", e->root);
    e->local = 1;
    return 0;
}

/* `st0`: the hub's counters before the five loads, so that what they downloaded can be
 * told from what they found in the cache (the kernel's stella files, among others). */
static void report(const options_t *o, const env_t *e, slot_t *slots, double t0,
                   double rate_idle, double rate_during, uint64_t flops, hf_hub_t *hub,
                   const hf_hub_stats_t *st0, unsigned threads)
{
    hf_hub_stats_t st;
    unsigned loaded = 0;
    size_t files = 0;
    uint64_t bytes = 0;
    double secs = 0, ratio = rate_idle > 0 ? rate_during / rate_idle : 0;

    (void)o;
    hf_hub_stats(hub, &st);
    printf("\n%-15s %-10s %6s %12s %9s %8s  %s\n", "model", "arch", "files", "MiB", "seconds",
           "tensors", "status");
    for (size_t i = 0; i < NMODELS; i++) {
        hf_future_t *f = slots[i].f;
        double s = slots[i].t_done - t0;
        if (s > secs)
            secs = s;
        if (hf_future_state(f) == HF_FUTURE_FULFILLED) {
            const hf_model_t *m = hf_future_value(f);
            loaded++;
            files += hf_model_file_count(m);
            bytes += hf_model_bytes(m);
            printf("%-15s %-10s %6zu %12.1f %9.2f %8zu  loaded\n", model_names[i],
                   hf_model_architecture(m), hf_model_file_count(m),
                   (double)hf_model_bytes(m) / 1048576.0, s, hf_model_tensor_count(m));
        } else {
            const hf_error_t *err = hf_future_error(f);
            printf("%-15s %-10s %6s %12s %9.2f %8s  %s\n", model_names[i], "-", "-", "-", s, "-",
                   err ? err->message : "cancelled");
        }
    }
    printf("\nloaded: %.1f MiB in %zu files in %.2f s; downloaded meanwhile from %s%s: "
           "%.1f MiB, %llu files (the rest was in the cache); %llu requests, %llu retries\n",
           (double)bytes / 1048576.0, files, secs, e->endpoint,
           e->local ? " (bundled local Hub)" : "",
           (double)(st.bytes_received - st0->bytes_received) / 1048576.0,
           (unsigned long long)(st.blobs_committed - st0->blobs_committed),
           (unsigned long long)(st.requests - st0->requests),
           (unsigned long long)(st.retries - st0->retries));
    printf("compute kernel on %u workers: %.2f GFLOP/s alone, %.2f GFLOP/s during the "
           "downloads: ratio %.3f\n", threads, rate_idle * (double)flops / 1e9,
           rate_during * (double)flops / 1e9, ratio);
    printf("libcurl calls: %llu on I/O threads, %llu on compute threads, %llu elsewhere\n",
           (unsigned long long)st.curl_calls_io, (unsigned long long)st.curl_calls_compute,
           (unsigned long long)st.curl_calls_other);
    printf("{\"models_loaded\":%u,\"files\":%zu,\"bytes\":%llu,\"downloaded_files\":%llu,"
           "\"downloaded_bytes\":%llu,\"seconds\":%.3f,"
           "\"transfers_on_compute_threads\":%llu,\"compute_ratio_during_downloads\":%.3f,"
           "\"compute_threads\":%u,\"kernel_gflops_alone\":%.3f,\"kernel_gflops_during\":%.3f}\n",
           loaded, files, (unsigned long long)bytes,
           (unsigned long long)(st.blobs_committed - st0->blobs_committed),
           (unsigned long long)(st.bytes_received - st0->bytes_received), secs,
           (unsigned long long)st.curl_calls_compute, ratio, threads,
           rate_idle * (double)flops / 1e9, rate_during * (double)flops / 1e9);
}

int main(int argc, char **argv)
{
    options_t o;
    env_t e;
    hf_runtime_config_t rc;
    hf_runtime_t *rt = NULL;
    hf_hub_config_t hc;
    hf_hub_t *hub = NULL;
    hf_error_t err;
    hf_future_t *warm = NULL, *all = NULL;
    kernel_t *k = NULL;
    ui_t *ui = NULL;
    slot_t slots[NMODELS];
    hf_model_opts_t mo[NMODELS];
    hf_runtime_stats_t rs;
    hf_hub_stats_t st0;
    unsigned threads;
    int status = 1;
    double t0, t1, before, after, during;
    uint64_t c0, c1;
    struct sigaction sa;

    if (parse(argc, argv, &o) < 0)
        return 2;
    memset(&e, 0, sizeof e);
    memset(slots, 0, sizeof slots);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (o.endpoint) {
        snprintf(e.endpoint, sizeof e.endpoint, "%s", o.endpoint);
    } else if (setup_local(&o, argv[0], &e) < 0) {
        goto out;
    }
    if (o.cache)
        snprintf(e.cache, sizeof e.cache, "%s", o.cache);

    memset(&rc, 0, sizeof rc);
    rc.compute_threads = o.threads;
    if ((rt = hf_runtime_new(&rc)) == NULL) {
        fprintf(stderr, "hf-demo: cannot start the runtime\n");
        goto out;
    }
    hf_runtime_stats(rt, &rs);
    threads = rs.compute_parallelism;
    memset(&hc, 0, sizeof hc);
    hc.endpoint = e.endpoint;
    hc.cache_dir = e.cache[0] ? e.cache : NULL;
    hc.token = e.local ? FIXTURE_TOKEN : NULL;
    hc.offline = HF_NO;
    if ((hub = hf_hub_new(rt, &hc, &err)) == NULL) {
        fprintf(stderr, "hf-demo: %s\n", err.message);
        goto out;
    }
    printf("hub %s%s, cache %s, %u compute workers\n", e.endpoint,
           e.local ? " (bundled local Hub, CDN throttled per connection)" : "",
           hf_hub_cache_dir(hub), threads);

    /* 1. the model the kernel computes on */
    {
        hf_model_opts_t wo;
        memset(&wo, 0, sizeof wo);
        wo.dim = 256;
        printf("warm-up: loading stella (256-wide head) for the compute kernel ...\n");
        warm = hf_model_load(rt, hub, "stella", &wo);
        if (!warm || wait_interruptible(warm) < 0)
            goto out;
        if (hf_future_state(warm) != HF_FUTURE_FULFILLED) {
            fprintf(stderr, "hf-demo: warm-up load failed: %s\n",
                    hf_future_error(warm) ? hf_future_error(warm)->message : "cancelled");
            goto out;
        }
        if ((k = kernel_new(hf_future_value(warm), &err)) == NULL) {
            fprintf(stderr, "hf-demo: %s\n", err.message);
            goto out;
        }
    }

    /* 2. the kernel alone */
    if (kernel_start(k, hf_runtime_compute(rt), threads) < 0) {
        fprintf(stderr, "hf-demo: cannot start the kernel\n");
        goto out;
    }
    printf("compute kernel: mat-vec over %s on every worker; %.1f s alone ...\n",
           kernel_tensor(k), o.idle_s);
    before = idle_rate(k, o.idle_s);

    /* 3. five loads at once, the kernel still running */
    printf("loading %d models at once while the kernel runs:\n", NMODELS);
    if ((ui = ui_new(stdout, !o.plain && isatty(1), model_names, NMODELS)) == NULL ||
        ui_start(ui) < 0)
        goto out;
    hf_hub_stats(hub, &st0);
    t0 = now_s();
    c0 = kernel_chunks(k);
    for (size_t i = 0; i < NMODELS; i++) {
        memset(&mo[i], 0, sizeof mo[i]);
        mo[i].progress = ui_progress;
        mo[i].progress_arg = ui_arg(ui, i);
        slots[i].ui = ui;
        slots[i].i = i;
        if ((slots[i].f = hf_model_load(rt, hub, model_names[i], &mo[i])) == NULL)
            goto out;
        slots[i].done = hf_future_finally(slots[i].f, hf_executor_inline(), on_settled,
                                          &slots[i]);
        if (!slots[i].done)
            goto out;
    }
    {
        hf_future_t *fs[NMODELS];
        for (size_t i = 0; i < NMODELS; i++)
            fs[i] = slots[i].done;   /* settled once on_settled has run */
        if ((all = hf_future_all_settled(fs, NMODELS)) == NULL)
            goto out;
    }
    if (wait_interruptible(all) < 0) {
        for (size_t i = 0; i < NMODELS; i++)
            hf_future_cancel(slots[i].f);
        goto out;
    }
    t1 = now_s();
    c1 = kernel_chunks(k);
    ui_stop(ui);
    during = (double)(c1 - c0) / (t1 - t0);

    /* 4. the kernel alone again */
    printf("compute kernel alone again for %.1f s ...\n", o.idle_s);
    after = idle_rate(k, o.idle_s);
    kernel_stop(k);
    if (interrupted)
        goto out;
    report(&o, &e, slots, t0, (before + after) / 2, during, kernel_flops_per_chunk(k), hub,
           &st0, threads);
    {
        hf_hub_stats_t st;
        unsigned loaded = 0;
        hf_hub_stats(hub, &st);
        for (size_t i = 0; i < NMODELS; i++)
            loaded += hf_future_state(slots[i].f) == HF_FUTURE_FULFILLED;
        status = loaded == NMODELS && st.curl_calls_compute == 0 && st.curl_calls_other == 0
                     ? 0 : 1;
    }
out:
    if (interrupted) {
        fprintf(stderr, "hf-demo: interrupted\n");
        status = 130;
    }
    kernel_free(k);
    hf_future_release(all);
    for (size_t i = 0; i < NMODELS; i++) {
        hf_future_release(slots[i].done);
        hf_future_release(slots[i].f);
    }
    hf_future_release(warm);
    hf_hub_free(hub);           /* no progress event after this */
    hf_runtime_free(rt);
    ui_free(ui);
    mock_stop(&e.mock);
    if (e.root[0]) {
        if (o.keep)
            fprintf(stderr, "hf-demo: kept %s\n", e.root);
        else
            remove_tree(e.root);
    }
    return status;
}
