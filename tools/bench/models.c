/*
 * models.c - hf-bench's `models` suite: the five model modules loaded all at once against
 * one after another, and what the compute pool keeps of its throughput meanwhile.
 *
 * The setting: hf-fixtures writes the five models' repos (--scale MiB per weight file:
 * 64, or 8 with --quick) into a temporary folder; hf-mock-hub serves them on loopback
 * and redirects LFS files to nginx (nginx.c), which serves them at 1 MB/s per connection
 * (4 MB/s with --quick), as a real CDN limits each stream (files of 64 MiB and more take
 * 8 connections). Without nginx the mock's own CDN port throttles them instead, at
 * several times nginx's CPU. A kernel (the demo's matrix-vector chunks over a tensor of
 * a model loaded beforehand into a cache of its own) runs on every compute worker the
 * whole time.
 *
 * Each rep loads the five models into an empty cache with a new hub, once concurrently
 * (hf_model_load for all five, then hf_future_all) and once sequentially (load, wait,
 * next), in alternating order; a side's value is the wall time from the first call until
 * its last model is in, checked (all five fulfilled). During each concurrent load the
 * kernel's chunk rate is compared with its rate alone over the second before: that is the
 * compute ratio (target >= 0.95). A stricter ratio, with no target, divides by the higher
 * of that rate and the rate alone over the second after the load (the rate alone varies
 * by some 5% between seconds on shared machines, which put the first ratio above 1 at
 * times). Beside them: the CPU the servers (the mock Hub, nginx's
 * processes) and this process's I/O threads used during those loads, in cores, and the
 * I/O threads' CPU per MiB downloaded, so that what the kernel lost can be put where it
 * went. libcurl calls on compute threads are summed over the whole run and printed (must
 * be 0).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <unistd.h>

#include "hfasync.h"
#include "bench.h"
#include "common/child.h"
#include "demo/kernel.h"
#include "nginx.h"

#define SUITE "models"
#define NMODELS 5
#define FIXTURE_TOKEN "hf_fixture_token"
#define MAX_REPS 1000

static const char *const models[NMODELS] = {
    "kimi-k2", "phi4-reasoning", "stella", "gte-qwen", "sd35-turbo",
};

typedef struct env {
    char tmp[512];
    char root[600];
    char cache[640];
    mock_proc_t mock;
    nginx_cdn_t nginx;
    hf_runtime_t *rt;
    kernel_t *k;
    unsigned scale;
    unsigned long bps;
    uint64_t files, bytes;      /* of the last checked load */
    uint64_t curl_compute, curl_other;
    unsigned runs;
} env_t;

static double now_s(void)
{
    return (double)bench_now_ns() / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    nanosleep(&ts, NULL);
}

/* The fields of a /proc stat file after the command (which may hold spaces), starting
 * with the state (field 3), into buf; NULL where there is no such file. */
static const char *stat_fields(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    char *p;
    size_t n;

    if (!f)
        return NULL;
    n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = '\0';
    return (p = strrchr(buf, ')')) != NULL ? p + 1 : NULL;
}

/* CPU seconds (user + system) of /proc/<pid>/task/<tid>/stat or /proc/<pid>/stat; -1 where
 * there is no /proc. */
static double stat_cpu_s(const char *path)
{
    char buf[1024];
    const char *p = stat_fields(path, buf, sizeof buf);
    unsigned long long ut, st;

    /* utime and stime are fields 14 and 15 */
    if (!p || sscanf(p, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The parent pid (field 4) of /proc/<pid>/stat, or -1. */
static long stat_ppid(const char *pid)
{
    char path[300], buf[1024];
    const char *p;
    long ppid;

    snprintf(path, sizeof path, "/proc/%s/stat", pid);
    if ((p = stat_fields(path, buf, sizeof buf)) == NULL || sscanf(p, " %*c %ld", &ppid) != 1)
        return -1;
    return ppid;
}

/* CPU seconds so far of process `pid` and its children (nginx's master and workers). */
static double tree_cpu_s(pid_t pid)
{
    char path[300];
    double sum;
    DIR *d;
    struct dirent *de;

    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    if ((sum = stat_cpu_s(path)) < 0 || (d = opendir("/proc")) == NULL)
        return sum;
    while ((de = readdir(d)) != NULL) {
        double c;
        if (de->d_name[0] < '1' || de->d_name[0] > '9' || stat_ppid(de->d_name) != (long)pid)
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
        if ((c = stat_cpu_s(path)) > 0)
            sum += c;
    }
    closedir(d);
    return sum;
}

/* The kernel knows the library's thread names only where configure found
 * pthread_setname_np; elsewhere the I/O threads' CPU time is unknown, not zero. */
#if defined(HAVE_PTHREAD_SETNAME_NP)
#define KERNEL_KNOWS_THREAD_NAMES 1
#else
#define KERNEL_KNOWS_THREAD_NAMES 0
#endif

/* CPU seconds so far of the servers (the mock Hub, nginx), and of this process's I/O
 * threads (named hfasync-io/N); -1 each where unknown. */
static void cpu_marks(const env_t *e, double *servers_s, double *io_s)
{
    char path[300], comm[64];
    DIR *d;
    struct dirent *de;

    snprintf(path, sizeof path, "/proc/%ld/stat", (long)e->mock.pid);
    *servers_s = stat_cpu_s(path);
    if (*servers_s >= 0 && e->nginx.pid > 0) {
        double c = tree_cpu_s(e->nginx.pid);
        *servers_s = c >= 0 ? *servers_s + c : -1;
    }
    *io_s = -1;
    if (!KERNEL_KNOWS_THREAD_NAMES || (d = opendir("/proc/self/task")) == NULL)
        return;
    *io_s = 0;
    while ((de = readdir(d)) != NULL) {
        FILE *f;
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", de->d_name);
        if ((f = fopen(path, "r")) == NULL)
            continue;
        if (fgets(comm, sizeof comm, f) && strncmp(comm, "hfasync-io", 10) == 0) {
            double c;
            snprintf(path, sizeof path, "/proc/self/task/%s/stat", de->d_name);
            if ((c = stat_cpu_s(path)) > 0)
                *io_s += c;
        }
        fclose(f);
    }
    closedir(d);
}

static hf_hub_t *new_hub(env_t *e, const char *cache)
{
    hf_hub_config_t c;
    hf_error_t err;
    hf_hub_t *h;

    memset(&c, 0, sizeof c);
    c.endpoint = e->mock.hub;
    c.cache_dir = cache;
    c.token = FIXTURE_TOKEN;
    c.offline = HF_NO;
    if ((h = hf_hub_new(e->rt, &c, &err)) == NULL)
        bench_fail("hfasync", SUITE, "hf_hub_new: %s", err.message);
    return h;
}

/* Add the hub's libcurl calls by thread role to the run's totals, then free it. */
static void free_hub(env_t *e, hf_hub_t *h)
{
    hf_hub_stats_t st;
    if (hf_hub_stats(h, &st) == 0) {
        e->curl_compute += st.curl_calls_compute;
        e->curl_other += st.curl_calls_other;
    }
    hf_hub_free(h);
}

/* Check the five loads and release them; sum their files and bytes. 0 or -1. */
static int check_models(env_t *e, hf_future_t *const *fs, const char *impl)
{
    int rc = 0;
    e->files = e->bytes = 0;
    for (int i = 0; i < NMODELS; i++) {
        if (hf_future_state(fs[i]) != HF_FUTURE_FULFILLED) {
            const hf_error_t *err = hf_future_error(fs[i]);
            rc = bench_fail(impl, SUITE, "%s did not load: %s", models[i],
                            err ? err->message : "still pending");
            continue;
        }
        {
            hf_model_t *m = hf_future_value(fs[i]);
            e->files += hf_model_file_count(m);
            e->bytes += hf_model_bytes(m);
        }
    }
    return rc;
}

/* One load of the five into an empty cache: all at once or one after another. Its wall
 * time in *secs; with `during`, the kernel's chunks over that time in *chunks. */
static int load_once(env_t *e, int concurrent, double *secs, uint64_t *chunks)
{
    const char *impl = concurrent ? "concurrent" : "sequential";
    hf_future_t *fs[NMODELS] = { NULL };
    uint64_t c0;
    double t0;
    hf_hub_t *h;
    int rc = 0;

    snprintf(e->cache, sizeof e->cache, "%s/cache-%u", e->tmp, e->runs++);
    if ((h = new_hub(e, e->cache)) == NULL)
        return -1;
    c0 = kernel_chunks(e->k);
    t0 = now_s();
    for (int i = 0; i < NMODELS && rc == 0; i++) {
        if ((fs[i] = hf_model_load(e->rt, h, models[i], NULL)) == NULL)
            rc = bench_fail(impl, SUITE, "hf_model_load(%s) returned NULL", models[i]);
        else if (!concurrent)
            hf_future_wait(fs[i], -1);
    }
    if (rc == 0 && concurrent) {
        hf_future_t *all = hf_future_all_settled(fs, NMODELS);
        hf_future_wait(all, -1);
        hf_future_release(all);
    }
    *secs = now_s() - t0;
    *chunks = kernel_chunks(e->k) - c0;
    if (rc == 0)
        rc = check_models(e, fs, impl);
    for (int i = 0; i < NMODELS; i++)
        hf_future_release(fs[i]);
    free_hub(e, h);
    if (remove_tree(e->cache) < 0)
        rc = bench_fail(impl, SUITE, "cannot remove %s", e->cache);
    return rc;
}

static int setup(env_t *e, const bench_options_t *o)
{
    const char *tmpdir = o->tmpdir ? o->tmpdir : getenv("TMPDIR");
    hf_runtime_config_t rc;
    hf_error_t err;
    hf_future_t *f;
    hf_hub_t *h;

    snprintf(e->tmp, sizeof e->tmp, "%s/hf-bench-models-XXXXXX",
             tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(e->tmp)) {
        e->tmp[0] = '\0';
        return bench_fail("hfasync", SUITE, "cannot make a temporary folder: %s",
                          strerror(errno));
    }
    snprintf(e->root, sizeof e->root, "%s/repos", e->tmp);
    {
        char dir[700], log[700];
        snprintf(dir, sizeof dir, "%s/nginx", e->tmp);
        snprintf(log, sizeof log, "%s/nginx.log", e->tmp);
        if (nginx_cdn_start(&e->nginx, dir, e->root, log, e->bps, NULL, 0) < 0)
            fprintf(stderr, "hf-bench: models: %s: the mock's own CDN port serves the bytes "
                    "instead\n", e->nginx.note);
    }
    if (fixtures_serve("hf-bench models", o->argv0, e->root, e->scale, e->bps,
                       e->nginx.pid > 0 ? e->nginx.url : NULL, &e->mock) < 0)
        return -1;
    memset(&rc, 0, sizeof rc);
    rc.compute_threads = o->threads;
    if ((e->rt = hf_runtime_new(&rc)) == NULL)
        return bench_fail("hfasync", SUITE, "hf_runtime_new failed");

    /* the kernel's model, in a cache of its own, loaded before anything is measured */
    snprintf(e->cache, sizeof e->cache, "%s/kernel-cache", e->tmp);
    if ((h = new_hub(e, e->cache)) == NULL)
        return -1;
    f = hf_model_load(e->rt, h, "stella", NULL);
    if (!f || hf_future_wait(f, -1) != 0 || hf_future_state(f) != HF_FUTURE_FULFILLED ||
        (e->k = kernel_new(hf_future_value(f), &err)) == NULL) {
        hf_future_release(f);
        free_hub(e, h);
        return bench_fail("hfasync", SUITE, "cannot set the kernel up on stella");
    }
    hf_future_release(f);       /* the kernel holds the model */
    free_hub(e, h);
    if (kernel_start(e->k, hf_runtime_compute(e->rt), o->threads) < 0)
        return bench_fail("hfasync", SUITE, "cannot start the kernel");
    return 0;
}

static void teardown(env_t *e)
{
    if (e->k) {
        kernel_stop(e->k);
        kernel_free(e->k);
    }
    if (e->rt)
        hf_runtime_free(e->rt);
    mock_stop(&e->mock);
    nginx_cdn_stop(&e->nginx);
    if (e->tmp[0])
        remove_tree(e->tmp);
}

/* A seconds row of one side; returns its median. */
static double row_seconds(const char *impl, const double *v, unsigned n, const env_t *e)
{
    double med = bench_stats_begin(SUITE, "load_all", impl, "seconds", v, n, 3);
    printf(",\"models\":%d,\"files\":%llu,\"bytes\":%llu,\"scale_mib\":%u,\"throttle_bps\":%lu",
           NMODELS, (unsigned long long)e->files, (unsigned long long)e->bytes, e->scale,
           e->bps);
    bench_row_end();
    return med;
}

/* The kernel's chunk rate over the next second, with nothing else going on. */
static double rate_alone(env_t *e)
{
    uint64_t c0 = kernel_chunks(e->k);
    double t0 = now_s();
    sleep_s(1.0);
    return (double)(kernel_chunks(e->k) - c0) / (now_s() - t0);
}

int bench_models(const bench_options_t *o)
{
    static double conc[MAX_REPS], seq[MAX_REPS], ratio[MAX_REPS], strict[MAX_REPS],
        server_cores[MAX_REPS], io_cores[MAX_REPS], io_ms_mib[MAX_REPS];
    env_t e;
    unsigned n = o->reps < MAX_REPS ? o->reps : MAX_REPS;
    int rc = 0;

    memset(&e, 0, sizeof e);
    e.scale = o->quick ? 8 : 64;
    e.bps = o->quick ? 4000000ul : 1000000ul;     /* quick: a smoke run, kept short */
    bench_machine_begin(SUITE, o->threads, o->quick, n);
    bench_row_end();
    fflush(stdout);
    if (setup(&e, o) < 0) {
        teardown(&e);
        return 1;
    }
    /* one warm-up of each side, not counted */
    for (unsigned r = 0; r <= n && rc == 0; r++) {
        for (int side = 0; side < 2 && rc == 0; side++) {
            int concurrent = (side + (int)r) % 2 == 0;  /* alternate which goes first */
            double secs, idle, during, srv0, srv1, io0, io1;
            uint64_t chunks;

            fprintf(stderr, "hf-bench: models %s %s\n", concurrent ? "concurrent" : "sequential",
                    r == 0 ? "warm-up" : "round");
            idle = rate_alone(&e);
            cpu_marks(&e, &srv0, &io0);
            if ((rc = load_once(&e, concurrent, &secs, &chunks)) < 0)
                break;
            cpu_marks(&e, &srv1, &io1);
            if (r == 0)
                continue;
            if (concurrent) {
                double after, higher;
                during = (double)chunks / secs;
                ratio[r - 1] = idle > 0 ? during / idle : 0;
                after = rate_alone(&e);
                higher = after > idle ? after : idle;
                strict[r - 1] = higher > 0 ? during / higher : 0;
                conc[r - 1] = secs;
                server_cores[r - 1] = srv0 >= 0 && srv1 >= 0 ? (srv1 - srv0) / secs : -1;
                io_cores[r - 1] = io0 >= 0 && io1 >= 0 ? (io1 - io0) / secs : -1;
                io_ms_mib[r - 1] = io0 >= 0 && io1 >= 0 && e.bytes ?
                                   (io1 - io0) * 1e3 / ((double)e.bytes / 1048576.0) : -1;
            } else {
                seq[r - 1] = secs;
            }
        }
    }
    if (rc == 0) {
        double c = row_seconds("concurrent", conc, n, &e);
        double s = row_seconds("sequential", seq, n, &e);
        bench_row_begin(SUITE, "load_all", "concurrent", "speedup_vs_sequential");
        printf(",\"value\":%.3f", c > 0 ? s / c : 0);
        bench_row_end();
        {
            double med = bench_stats_begin(SUITE, "compute_ratio", "concurrent", "ratio", ratio,
                                           n, 3);
            printf(",\"compute_threads\":%u,\"kernel_tensor\":", o->threads);
            bench_json_string(kernel_tensor(e.k));
            printf(",\"curl_calls_on_compute_threads\":%llu,\"cdn\":",
                   (unsigned long long)e.curl_compute);
            bench_json_string(e.nginx.pid > 0 ? e.nginx.note : "hf-mock-hub");
            printf(",\"server_cores\":%.3f,\"io_threads_cores\":%.3f,"
                   "\"io_cpu_ms_per_mib\":%.3f,\"target\":\">= 0.95\",\"met\":%s",
                   bench_median(server_cores, n), bench_median(io_cores, n),
                   bench_median(io_ms_mib, n), med >= 0.95 ? "true" : "false");
            bench_row_end();
            bench_stats_begin(SUITE, "compute_ratio", "concurrent", "ratio_vs_higher_alone",
                              strict, n, 3);
            printf(",\"baseline\":\"the higher of the rates alone in the second before and "
                   "the second after\"");
            bench_row_end();
        }
        if (e.curl_compute != 0)
            rc = bench_fail("hfasync", SUITE, "%llu libcurl calls ran on compute threads",
                            (unsigned long long)e.curl_compute);
    }
    teardown(&e);
    return rc == 0 ? 0 : 1;
}
