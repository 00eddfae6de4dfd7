/*
 * download.c - `hf-bench download`: the Hub client against the command lines people use.
 *
 * One setting for the whole run (dl_serve.c): generated repos, nginx as the CDN origin,
 * hf-mock-hub as the Hub redirecting to it. Each bench lines up its sides (hfasync, the
 * curl and aria2c command lines, the naive design) and runs them in turn, `reps` rounds,
 * each round starting with the next side, so that no side always runs first or last;
 * medians are over the rounds. Rows (JSON lines, like `hf-bench core`):
 *
 *   {"suite":"download","bench":"single_1g","impl":"curl","metric":"seconds",
 *    "median":..,"min":..,"max":..,"reps":5,"bytes":1073741824,...}
 *
 * and, per bench, comparison rows (impl hfasync) with the target and whether the
 * medians met it: ratio_vs_curl / ratio_vs_aria2c (our median / theirs: lower is better),
 * speedup_vs_curl (theirs / ours). A peer that is not installed prints its rows with
 * "value":null and a note. A missed target is not an error; a wrong byte is.
 */
#include "config.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench.h"
#include "dl.h"

#define MIB (1024u * 1024u)
#define DEFAULT_THRESHOLD (64u * MIB)   /* hub.h: parallel_threshold's default */
#define DEFAULT_CONNS 8u                /* hub.h: conns_per_file's default */

const char bench_download_help[] =
"download: a local hf-mock-hub is the Hub; its LFS redirects point at nginx, started by\n"
"hf-bench on a loopback port with its own config (without nginx: the mock's CDN port).\n"
"The sides of a bench take turns, in rotating order; medians over the reps.\n"
"  single_1g      one 1 GiB LFS file (quick: 64 MiB) into an empty cache, hashing on:\n"
"                 hfasync with its defaults (files >= 64 MiB: 8 ranged connections,\n"
"                 then the whole file hashed), single_1g_stream (ranges off: one stream,\n"
"                 hashed as it arrives), the curl and aria2c -x8 -s8 command lines;\n"
"                 seconds, and hfasync's ratio_vs_curl (target <= 1.0)\n"
"  throttled_1g   the same with nginx limit_rate 20 MiB/s per connection; targets:\n"
"                 ratio_vs_aria2c <= 1.0, speedup_vs_curl >= 6\n"
"  many_small     1,000 files of 64 KiB (quick: 200) asked for at once, io_threads_max\n"
"                 4: files_per_s, peak_threads (the whole process), rss_kib_per_transfer\n"
"                 ((peak RSS - RSS before) / transfers_peak; target <= 64)\n"
"  isolation      a float dot-product kernel on every compute worker for 3 s (quick:\n"
"                 0.5 s), idle and while 64 downloads throttled to 1 MiB/s per connection\n"
"                 are in flight: ratio = kernel tasks/s during / idle (target >= 0.95);\n"
"                 naive: the same downloads as blocking curl_easy_perform() calls posted\n"
"                 to the same compute pool\n"
"Every download is compared byte for byte with the generated content.\n";

static const char *const bench_names[] = { "single_1g", "throttled_1g", "many_small",
                                           "isolation" };
static const char *const impl_names[] = { "hfasync", "curl", "aria2c", "naive" };

const char *bench_download_name(const char *s)
{
    if (strcmp(s, "single_1g_stream") == 0)
        return bench_names[0];
    for (size_t i = 0; i < sizeof bench_names / sizeof bench_names[0]; i++)
        if (strcmp(s, bench_names[i]) == 0)
            return bench_names[i];
    return NULL;
}

void dl_file_of(const dl_params_t *p, const char *repo, unsigned i, dl_file_t *f)
{
    f->repo = repo;
    if (strcmp(repo, DL_REPO_SMALL) == 0) {
        snprintf(f->path, sizeof f->path, "f%04u.bin", i);
        f->seed = 1000 + i;
        f->size = p->small_bytes;
    } else if (strcmp(repo, DL_REPO_SLOW) == 0) {
        snprintf(f->path, sizeof f->path, "s%02u.bin", i);
        f->seed = 100 + i;
        f->size = p->iso_bytes;
    } else {
        snprintf(f->path, sizeof f->path, "big.bin");
        f->seed = 1;
        f->size = strcmp(repo, DL_REPO_THROTTLED) == 0 ? p->throttled_bytes : p->big_bytes;
    }
}

static void set_params(const bench_options_t *o, dl_params_t *p)
{
    memset(p, 0, sizeof *p);
    p->quick = o->quick;
    p->reps = o->reps;
    p->threads = o->threads;
    p->big_bytes = (uint64_t)(o->quick ? 64 : 1024) * MIB;
    p->throttled_bytes = p->big_bytes;
    p->throttle_bps = 20 * MIB;
    p->small_files = o->quick ? 200 : 1000;
    p->small_bytes = 64 * 1024;
    p->small_io_threads = 4;
    p->iso_downloads = 64;
    p->iso_bps = 1 * MIB;
    p->iso_window_ms = o->quick ? 500 : 3000;
    /* nginx lets a throttled body start with one to two seconds' worth at once (its
     * allowance is rate * (whole seconds elapsed + 1)): the files last (size / rate - 2) s
     * at least, 1.5 s (quick) or 2 s more than the window, which starts once the last of
     * them has started */
    p->iso_bytes = p->iso_bps * (o->quick ? 4 : 7);
}

/* ---- rows -------------------------------------------------------------------------------- */

/* A stats row of this suite (bench_stats_begin). */
static double stats_begin(const char *bench, const char *impl, const char *metric,
                          const double *v, unsigned n, int prec)
{
    return bench_stats_begin(DL_SUITE, bench, impl, metric, v, n, prec);
}

static void row_null(const char *bench, const char *impl, const char *metric, const char *note)
{
    bench_row_begin(DL_SUITE, bench, impl, metric);
    printf(",\"value\":null,\"note\":");
    bench_json_string(note);
    bench_row_end();
}

/* Whether `value` meets `target`, "<= X" or ">= X". */
static int meets(double value, const char *target)
{
    double x = strtod(target + 2, NULL);
    return target[0] == '<' ? value <= x : value >= x;
}

/* A comparison row: `value` against `target` ("<= X" or ">= X"). */
static void row_compare(const char *bench, const char *metric, double value, const char *target)
{
    bench_row_begin(DL_SUITE, bench, "hfasync", metric);
    printf(",\"value\":%.3f,\"target\":", value);
    bench_json_string(target);
    printf(",\"met\":%s", meets(value, target) ? "true" : "false");
    bench_row_end();
}

/* The seconds row of a side (null if it did not run); its median, or 0. */
static double side_row(const dl_side_t *s, const char *extra)
{
    double median;

    if (s->skip) {
        row_null(s->bench, s->impl, "seconds", s->skip);
        return 0;
    }
    if (s->n == 0)
        return 0;
    median = stats_begin(s->bench, s->impl, "seconds", s->v, s->n, 3);
    printf(",\"bytes\":%llu%s", (unsigned long long)s->file->size, extra);
    bench_row_end();
    return median;
}

/* ---- running ----------------------------------------------------------------------------- */

/* `reps` rounds (after `warmup` unrecorded ones) of every side that runs, round r starting
 * with side r % nsides. Returns 0 or -1 (the first failure ends the bench). */
static int alternate(dl_env_t *e, dl_side_t *sides, unsigned nsides, unsigned reps,
                     unsigned warmup)
{
    for (unsigned r = 0; r < warmup + reps; r++) {
        fprintf(stderr, "hf-bench: %s %s %u/%u\n", sides[0].bench,
                r < warmup ? "warm-up" : "round", r < warmup ? r + 1 : r - warmup + 1,
                r < warmup ? warmup : reps);
        for (unsigned k = 0; k < nsides; k++) {
            dl_side_t *s = &sides[(r + k) % nsides];
            double v;
            if (s->skip || !s->run)
                continue;
            if (s->run(e, s, &v) < 0)
                return -1;
            if (r >= warmup)
                s->v[s->n++] = v;
        }
    }
    return 0;
}

/* Which sides run: `impl` (NULL: all) names one; a missing program is noted. */
static int wanted(const char *want, const char *impl)
{
    return !want || strcmp(want, impl) == 0;
}

static void peer_sides(dl_side_t *curl, dl_side_t *aria, const char *want)
{
    char path[512];

    curl->run = wanted(want, "curl") ? dl_run_curl : NULL;
    aria->run = wanted(want, "aria2c") ? dl_run_aria2c : NULL;
    if (curl->run && proc_which("curl", path, sizeof path) < 0)
        curl->skip = "not installed";
    if (aria->run && proc_which("aria2c", path, sizeof path) < 0)
        aria->skip = "not installed";
}

static hf_runtime_t *new_runtime(const dl_params_t *p)
{
    hf_runtime_config_t cfg = { 0 };
    cfg.compute_threads = p->threads;
    return hf_runtime_new(&cfg);
}

/* sides[0..nours-1]: hfasync (on a runtime made here, *rt), then curl and aria2c, all of
 * `bench` over file `f`; those that `want` leaves out do not run. Returns 0 or -1. */
static int file_sides(dl_side_t *sides, unsigned nours, const char *bench, const dl_file_t *f,
                      const dl_params_t *p, const char *want, hf_runtime_t **rt)
{
    memset(sides, 0, (nours + 2) * sizeof *sides);
    for (unsigned i = 0; i < nours + 2; i++) {
        sides[i].bench = bench;
        sides[i].file = f;
        sides[i].impl = i < nours ? "hfasync" : i == nours ? "curl" : "aria2c";
    }
    *rt = NULL;
    if (wanted(want, "hfasync")) {
        if ((*rt = new_runtime(p)) == NULL)
            return bench_fail("hfasync", bench, "hf_runtime_new failed");
        for (unsigned i = 0; i < nours; i++) {
            sides[i].run = dl_run_hfasync;
            sides[i].arg = *rt;
        }
    }
    peer_sides(&sides[nours], &sides[nours + 1], want);
    return 0;
}

static int bench_single(dl_env_t *e, const dl_params_t *p, const char *want)
{
    static dl_side_t sides[4];
    dl_side_t *ours = &sides[0], *stream = &sides[1], *curl = &sides[2], *aria = &sides[3];
    hf_runtime_t *rt;
    dl_file_t f;
    char extra[160];
    double m_ours, m_stream, m_curl, m_aria;
    int rc;

    dl_file_of(p, DL_REPO_BIG, 0, &f);
    if (file_sides(sides, 2, "single_1g", &f, p, want, &rt) < 0)
        return -1;
    stream->bench = "single_1g_stream";
    stream->threshold = UINT64_MAX;             /* never ranged */
    rc = alternate(e, sides, 4, p->reps, 1);
    hf_runtime_free(rt);
    if (rc < 0)
        return -1;
    m_ours = m_stream = m_curl = m_aria = 0;
    if (ours->run) {
        int ranged = f.size >= DEFAULT_THRESHOLD;
        snprintf(extra, sizeof extra,
                 ",\"parallel_threshold\":%u,\"ranged\":%s,\"conns_per_file\":%u,\"hashing\":true",
                 DEFAULT_THRESHOLD, ranged ? "true" : "false", ranged ? DEFAULT_CONNS : 1);
        m_ours = side_row(ours, extra);
        m_stream = side_row(stream, ",\"ranged\":false,\"conns_per_file\":1,\"hashing\":true");
    }
    if (curl->run)
        m_curl = side_row(curl, ",\"connections\":1");
    if (aria->run)
        m_aria = side_row(aria, ",\"connections\":8");
    if (m_ours > 0 && m_curl > 0) {
        row_compare("single_1g", "ratio_vs_curl", m_ours / m_curl, "<= 1.0");
        row_compare("single_1g_stream", "ratio_vs_curl", m_stream / m_curl, "<= 1.0");
    }
    if (m_ours > 0 && m_aria > 0)
        row_compare("single_1g", "ratio_vs_aria2c", m_ours / m_aria, "<= 1.0");
    return 0;
}

static int bench_throttled(dl_env_t *e, const dl_params_t *p, const char *want)
{
    static dl_side_t sides[3];
    dl_side_t *ours = &sides[0], *curl = &sides[1], *aria = &sides[2];
    hf_runtime_t *rt;
    dl_file_t f;
    char extra[160];
    double m_ours = 0, m_curl = 0, m_aria = 0;
    int rc;

    dl_file_of(p, DL_REPO_THROTTLED, 0, &f);
    if (file_sides(sides, 1, "throttled_1g", &f, p, want, &rt) < 0)
        return -1;
    rc = alternate(e, sides, 3, p->reps, 0);
    hf_runtime_free(rt);
    if (rc < 0)
        return -1;
    if (ours->run) {
        int ranged = f.size >= DEFAULT_THRESHOLD;
        snprintf(extra, sizeof extra,
                 ",\"limit_rate_bps\":%llu,\"ranged\":%s,\"conns_per_file\":%u",
                 (unsigned long long)p->throttle_bps, ranged ? "true" : "false",
                 ranged ? DEFAULT_CONNS : 1);
        m_ours = side_row(ours, extra);
    }
    snprintf(extra, sizeof extra, ",\"limit_rate_bps\":%llu,\"connections\":1",
             (unsigned long long)p->throttle_bps);
    if (curl->run)
        m_curl = side_row(curl, extra);
    snprintf(extra, sizeof extra, ",\"limit_rate_bps\":%llu,\"connections\":8",
             (unsigned long long)p->throttle_bps);
    if (aria->run)
        m_aria = side_row(aria, extra);
    if (m_ours > 0 && m_aria > 0)
        row_compare("throttled_1g", "ratio_vs_aria2c", m_ours / m_aria, "<= 1.0");
    if (m_ours > 0 && m_curl > 0)
        row_compare("throttled_1g", "speedup_vs_curl", m_curl / m_ours, ">= 6.0");
    return 0;
}

static int bench_many_small(dl_env_t *e, const dl_params_t *p)
{
    static double v[3][DL_MAX_REPS], transfers[DL_MAX_REPS];
    static const char *const metrics[3] = { "files_per_s", "peak_threads",
                                            "rss_kib_per_transfer" };
    double med[3];

    for (unsigned r = 0; r < 1 + p->reps; r++) {
        double once[3];
        unsigned tp;
        fprintf(stderr, "hf-bench: many_small %s\n", r ? "round" : "warm-up");
        if (dl_many_small_once(e, once, &tp) < 0)
            return -1;
        if (r == 0)
            continue;
        for (int m = 0; m < 3; m++)
            v[m][r - 1] = once[m];
        transfers[r - 1] = tp;
    }
    for (int m = 0; m < 3; m++) {
        med[m] = stats_begin("many_small", "hfasync", metrics[m], v[m], p->reps,
                             m == 1 ? 0 : 1);
        printf(",\"files\":%u,\"file_bytes\":%llu,\"io_threads_max\":%u,\"compute_threads\":%u",
               p->small_files, (unsigned long long)p->small_bytes, p->small_io_threads,
               p->threads);
        if (m == 2)
            printf(",\"transfers_peak\":%.0f,\"target\":\"<= 64\",\"met\":%s",
                   bench_median(transfers, p->reps), meets(med[2], "<= 64") ? "true" : "false");
        bench_row_end();
    }
    return 0;
}

static int bench_isolation(dl_env_t *e, const dl_params_t *p, const char *want)
{
    static dl_side_t sides[3];
    static double ratio[DL_MAX_REPS];
    dl_side_t *idle = &sides[0], *ours = &sides[1], *naive = &sides[2];
    dl_iso_t *iso;
    double idle_median;
    int rc;

    if (!wanted(want, "hfasync") && !wanted(want, "naive"))
        return 0;
    if ((iso = dl_iso_new(p)) == NULL)
        return -1;
    memset(sides, 0, sizeof sides);
    for (int i = 0; i < 3; i++) {
        sides[i].bench = "isolation";
        sides[i].arg = iso;
    }
    idle->impl = "idle";
    idle->run = dl_iso_idle;
    ours->impl = "hfasync";
    ours->run = wanted(want, "hfasync") ? dl_iso_hfasync : NULL;
    naive->impl = "naive";
    naive->run = wanted(want, "naive") ? dl_iso_naive : NULL;
    rc = alternate(e, sides, 3, p->reps, p->quick ? 0 : 1);
    if (rc == 0) {
        double c[DL_MAX_REPS];
        memcpy(c, idle->v, p->reps * sizeof *c);
        idle_median = bench_median(c, p->reps);
        for (int k = 1; k < 3; k++) {
            dl_side_t *s = &sides[k];
            double median;
            if (!s->run)
                continue;
            for (unsigned r = 0; r < p->reps; r++)
                ratio[r] = idle->v[r] > 0 ? s->v[r] / idle->v[r] : 0;
            median = stats_begin("isolation", s->impl, "ratio", ratio, p->reps, 3);
            printf(",\"downloads\":%u,\"in_flight\":%u,\"limit_rate_bps\":%llu,"
                   "\"window_s\":%.1f,\"compute_threads\":%u,\"idle_tasks_per_s\":%.1f,"
                   "\"task_flops\":%llu",
                   p->iso_downloads, dl_iso_in_flight(iso, k == 2),
                   (unsigned long long)p->iso_bps, p->iso_window_ms / 1000.0, p->threads,
                   idle_median, (unsigned long long)dl_iso_task_flops(iso));
            if (k == 1)
                printf(",\"target\":\">= 0.95\",\"met\":%s",
                       meets(median, ">= 0.95") ? "true" : "false");
            bench_row_end();
        }
    }
    dl_iso_free(iso);
    return rc;
}

/* ---- the suite --------------------------------------------------------------------------- */

/* The version word of `prog`'s first line of `--version` output (word `word`), or NULL. */
static const char *version_of(const char *prog, int word, char *buf, size_t size)
{
    char path[512], line[256], *save = NULL, *w;

    if (proc_which(prog, path, sizeof path) < 0)
        return NULL;
    proc_first_line((char *[]){ path, "--version", NULL }, line, sizeof line);
    w = strtok_r(line, " ", &save);
    for (int i = 0; w && i < word; i++)
        w = strtok_r(NULL, " ", &save);
    if (!w)
        return NULL;
    snprintf(buf, size, "%s", w);
    return buf;
}

static void print_machine(const dl_env_t *e, const dl_params_t *p)
{
    char cv[64], av[64];
    const char *curl_v = version_of("curl", 1, cv, sizeof cv);
    const char *aria_v = version_of("aria2c", 2, av, sizeof av);

    bench_machine_begin(DL_SUITE, p->threads, p->quick, p->reps);
    printf(",\"cdn\":");
    bench_json_string(e->cdn_note);
    printf(",\"hfasync\":");
    bench_json_string(PACKAGE_VERSION);
    printf(",\"libcurl\":");
    bench_json_string(curl_version_info(CURLVERSION_NOW)->version);
    printf(",\"curl\":");
    if (curl_v)
        bench_json_string(curl_v);
    else
        printf("null");
    printf(",\"aria2c\":");
    if (aria_v)
        bench_json_string(aria_v);
    else
        printf("null");
    bench_row_end();
}

/* Many transfers at once need many descriptors: lift the soft limit to the hard one. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int bench_download(const bench_options_t *o)
{
    dl_params_t p;
    dl_env_t e;
    int failed = 0, known = !o->impl;

    for (size_t i = 0; !known && i < sizeof impl_names / sizeof impl_names[0]; i++)
        known = strcmp(o->impl, impl_names[i]) == 0;
    if (!known) {
        fprintf(stderr, "hf-bench: unknown implementation '%s' (see --help)\n", o->impl);
        return 2;
    }
    set_params(o, &p);
    for (unsigned i = 0; i < sizeof bench_names / sizeof bench_names[0]; i++)
        if (!o->bench || strcmp(o->bench, bench_names[i]) == 0)
            p.benches |= 1u << i;
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (dl_env_start(&e, &p, o->tmpdir) < 0) {
        dl_env_stop(&e);
        curl_global_cleanup();
        return 1;
    }
    print_machine(&e, &p);
    if ((p.benches & DL_B_SINGLE) && bench_single(&e, &p, o->impl) < 0)
        failed = 1;
    if ((p.benches & DL_B_THROTTLED) && bench_throttled(&e, &p, o->impl) < 0)
        failed = 1;
    if ((p.benches & DL_B_SMALL) && wanted(o->impl, "hfasync") && bench_many_small(&e, &p) < 0)
        failed = 1;
    if ((p.benches & DL_B_ISOLATION) && bench_isolation(&e, &p, o->impl) < 0)
        failed = 1;
    dl_env_stop(&e);
    curl_global_cleanup();
    return failed;
}
