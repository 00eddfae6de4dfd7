/*
 * hf-bench.c - the side-by-side benchmark driver: `hf-bench core|download [options]`.
 *
 * `core` runs each bench of the core suite on every implementation that has it (hfasync,
 * and oneTBB, GLib and libuv where configure found them), one implementation after another,
 * each with its pool set up for that bench only and torn down after it. Every bench runs
 * once to warm up and then `reps` times; each run times its measured region with
 * CLOCK_MONOTONIC and checks its result. One JSON object per line goes to stdout:
 *
 *   {"suite":"core","bench":"spawn_external","impl":"hfasync","metric":"ns_per_op",
 *    "median":..,"min":..,"max":..,"reps":5,"ops":1000000}
 *
 * ns_per_op = measured wall time / operations of that run; median, min and max are over
 * the reps. Extra rows: "machine" (first), "chain_build"/"chain_run" (the two halves of
 * "chain"), "future_size", "malloc_per_task" and "obj_mallocs_per_task" (hfasync's own
 * small-object cache misses), both over five warm spawn_external runs.
 *
 * `download` is the download suite (download.c); it shares the output helpers below.
 *
 * Exit status: 0; 1 if a bench failed its result check or could not run; 2 on bad usage.
 * A missed performance target is never an error: this tool only measures.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hfasync.h"
#include "bench.h"

#define MAX_REPS 1000

static const bench_impl_t *const impls[] = {
    &bench_impl_hfasync,
#ifdef HAVE_TBB
    &bench_impl_tbb,
#endif
#ifdef HAVE_GLIB
    &bench_impl_glib,
#endif
#ifdef HAVE_LIBUV
    &bench_impl_libuv,
#endif
};
#define NIMPLS (sizeof impls / sizeof impls[0])

/* Every implementation hf-bench knows of, built in or not (for --impl's message). */
static const char *const known_impls[] = { "hfasync", "tbb", "glib", "libuv" };

/* The timed benches, in output order, then the informational rows. */
static const char *const timed_benches[] = {
    "spawn_external", "spawn_local", "spawn_nested", "chain", "then_ready", "ping_pong",
    "fan_in",
};
#define NTIMED (sizeof timed_benches / sizeof timed_benches[0])

/* ---- helpers shared with the implementation files -------------------------------------- */

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t bench_fib(int n)
{
    int64_t a = 0, b = 1;
    for (int i = 0; i < n; i++) {
        int64_t t = a + b;
        a = b;
        b = t;
    }
    return a;
}

uint64_t bench_fib_spawns(int n)
{
    return n < 1 ? 0 : (uint64_t)bench_fib(n + 1) - 1;
}

int bench_fail(const char *impl, const char *bench, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "hf-bench: %s %s: ", impl, bench);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

/* ---- output ------------------------------------------------------------------------------ */

void bench_json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

void bench_row_begin(const char *suite, const char *bench, const char *impl, const char *metric)
{
    printf("{\"suite\":");
    bench_json_string(suite);
    printf(",\"bench\":");
    bench_json_string(bench);
    if (impl) {
        printf(",\"impl\":");
        bench_json_string(impl);
    }
    if (metric) {
        printf(",\"metric\":");
        bench_json_string(metric);
    }
}

void bench_row_end(void)
{
    printf("}\n");
    fflush(stdout);
}

static void row_begin(const char *bench, const char *impl, const char *metric)
{
    bench_row_begin("core", bench, impl, metric);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, unsigned n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double bench_stats_begin(const char *suite, const char *bench, const char *impl,
                         const char *metric, const double *v, unsigned n, int prec)
{
    double c[MAX_REPS], median;

    if (n > MAX_REPS)
        n = MAX_REPS;
    memcpy(c, v, n * sizeof *v);
    median = bench_median(c, n);
    bench_row_begin(suite, bench, impl, metric);
    printf(",\"median\":%.*f,\"min\":%.*f,\"max\":%.*f,\"reps\":%u", prec, median, prec,
           n ? c[0] : 0, prec, n ? c[n - 1] : 0, n);
    return median;
}

/* Print one ns_per_op row from `n` per-op times (sorted here). */
static void print_stats(const char *bench, const char *impl, double *v, unsigned n,
                        uint64_t ops)
{
    double median = bench_median(v, n);

    row_begin(bench, impl, "ns_per_op");
    printf(",\"median\":%.1f,\"min\":%.1f,\"max\":%.1f,\"reps\":%u,\"ops\":%llu",
           median, v[0], v[n - 1], n, (unsigned long long)ops);
    bench_row_end();
}

/* "value" as a per-task ratio, or null with `why`; `note` (may be NULL) goes with it. */
static void print_ratio(const char *bench, const char *impl, const char *metric, int ok,
                        uint64_t count, uint64_t ops, const char *why, const char *note)
{
    row_begin(bench, impl, metric);
    if (ok && ops > 0)
        printf(",\"value\":%.6f,\"ops\":%llu", (double)count / (double)ops,
               (unsigned long long)ops);
    else
        printf(",\"value\":null");
    if (!(ok && ops > 0) || note) {
        printf(",\"note\":");
        bench_json_string(ok && ops > 0 ? note : why);
    }
    bench_row_end();
}

static void cpu_info(char *model, size_t size, int *hypervisor)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[1024];

    snprintf(model, size, "unknown");
    *hypervisor = -1;
    if (!f)
        return;
    *hypervisor = 0;
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        if (strncmp(line, "model name", 10) == 0 && strcmp(model, "unknown") == 0) {
            char *v = colon + 1;
            while (*v == ' ')
                v++;
            v[strcspn(v, "\n")] = '\0';
            snprintf(model, size, "%s", v);
        } else if (strncmp(line, "flags", 5) == 0 && strstr(colon, " hypervisor")) {
            *hypervisor = 1;
        }
    }
    fclose(f);
}

void bench_machine_begin(const char *suite, unsigned threads, int quick, unsigned reps)
{
    char model[256];
    int hyp;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    cpu_info(model, sizeof model, &hyp);
    bench_row_begin(suite, "machine", NULL, NULL);
    printf(",\"cpus\":%ld,\"threads\":%u,\"cpu\":", cpus, threads);
    bench_json_string(model);
    printf(",\"hypervisor\":%s,\"cc\":", hyp < 0 ? "null" : hyp ? "true" : "false");
    bench_json_string(__VERSION__);
    printf(",\"quick\":%s,\"reps\":%u", quick ? "true" : "false", reps);
}

static void print_machine(const bench_options_t *o, unsigned threads, unsigned reps,
                          int selected[])
{
    bench_machine_begin("core", threads, o->quick, reps);
    printf(",\"impls\":{");
    for (size_t i = 0, k = 0; i < NIMPLS; i++) {
        if (!selected[i])
            continue;
        printf("%s", k++ ? "," : "");
        bench_json_string(impls[i]->name);
        putchar(':');
        bench_json_string(impls[i]->version());
    }
    printf("}");
    bench_row_end();
}

/* ---- running ----------------------------------------------------------------------------- */

static const bench_case_t *find_case(const bench_impl_t *impl, const char *bench)
{
    for (const bench_case_t *c = impl->cases; c->name; c++)
        if (strcmp(c->name, bench) == 0)
            return c;
    return NULL;
}

/* COUNTED_RUNS warm runs of `c` with the process's and the library's allocations counted.
 * Memory a run takes beyond what earlier runs left for reuse (a deeper queue than any
 * before it) shows up here, so several runs are counted, not one. */
#define COUNTED_RUNS 5
static int count_mallocs(const bench_impl_t *impl, const bench_case_t *c, void *env,
                         const bench_params_t *p)
{
    uint64_t m0 = 0, m1 = 0, l0 = 0, l1 = 0, ops = 0;
    int have_m, have_l = impl->lib_mallocs != NULL;
    bench_rep_t r;

    have_m = bench_malloc_count(&m0) == 0;
    if (have_l)
        have_l = impl->lib_mallocs(env, &l0) == 0;
    for (int i = 0; i < COUNTED_RUNS; i++) {
        if (c->fn(env, p, &r) < 0)
            return -1;
        ops += r.ops;
    }
    have_m = have_m && bench_malloc_count(&m1) == 0;
    if (have_l)
        have_l = impl->lib_mallocs(env, &l1) == 0;
    r.ops = ops;
    print_ratio("malloc_per_task", impl->name, "mallocs_per_task", have_m, m1 - m0, r.ops,
                "malloc counting unavailable", impl->alloc_note);
    if (impl->lib_mallocs)
        print_ratio("obj_mallocs_per_task", impl->name, "obj_mallocs_per_task", have_l,
                    l1 - l0, r.ops, "hf_runtime_stats failed", NULL);
    return 0;
}

/*
 * Set `impl` up, run `c` once to warm up and `reps` times measured, print its rows, and,
 * if `mallocs`, one more run with allocations counted. With reps == 0 only that last part.
 */
static int run_case(const bench_impl_t *impl, const bench_case_t *c, const bench_params_t *p,
                    unsigned reps, int mallocs)
{
    double per_op[MAX_REPS], part[2][MAX_REPS];
    bench_rep_t r;
    uint64_t ops = 0;
    void *env;
    int rc = 0;

    if ((env = impl->setup(p)) == NULL)
        return -1;
    if (c->fn(env, p, &r) < 0) {            /* warm-up */
        rc = -1;
        goto out;
    }
    for (unsigned i = 0; i < reps; i++) {
        memset(&r, 0, sizeof r);
        if (c->fn(env, p, &r) < 0) {
            rc = -1;
            goto out;
        }
        if (r.ops == 0) {
            rc = bench_fail(impl->name, c->name, "a run reported no operations");
            goto out;
        }
        ops = r.ops;
        per_op[i] = (double)r.ns / (double)r.ops;
        for (int k = 0; k < 2; k++)
            part[k][i] = (double)r.part_ns[k] / (double)r.ops;
    }
    if (reps > 0) {
        print_stats(c->name, impl->name, per_op, reps, ops);
        for (int k = 0; k < 2; k++)
            if (c->parts[k])
                print_stats(c->parts[k], impl->name, part[k], reps, ops);
    }
    if (mallocs)
        rc = count_mallocs(impl, c, env, p);
out:
    impl->teardown(env);
    return rc;
}

/* ---- options ----------------------------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out,
"usage: hf-bench core [--quick] [--reps N] [--bench NAME] [--impl NAME] [--threads N]\n"
"       hf-bench download [--quick] [--reps N] [--bench NAME] [--impl NAME] [--threads N]\n"
"                         [--tmpdir DIR]\n"
"       hf-bench models [--quick] [--reps N] [--threads N] [--tmpdir DIR]\n"
"\n"
"core: the runtime benchmarks of hfasync side by side with oneTBB, GLib and libuv (those\n"
"that configure found). download: the Hub client against the curl and aria2c command\n"
"lines, over a local hf-mock-hub with nginx as its CDN. models: the five model modules\n"
"loaded all at once against one after another, with a kernel on every compute worker.\n"
"One JSON object per line.\n"
"\n"
"  --quick        smoke run: 3 reps, smaller sizes; for CI\n"
"  --reps N       repetitions after the warm-up run (default 5, quick 3)\n"
"  --bench NAME   run one bench:\n"
"                   core: spawn_external spawn_local spawn_nested chain then_ready\n"
"                   ping_pong fan_in future_size malloc_per_task (chain_build,\n"
"                   chain_run: chain; obj_mallocs_per_task: malloc_per_task)\n"
"                   download: single_1g (with single_1g_stream) throttled_1g\n"
"                   many_small isolation\n"
"  --impl NAME    run one implementation: core: hfasync tbb glib libuv;\n"
"                   download: hfasync curl aria2c naive\n"
"  --threads N    compute workers for every implementation (default: online CPUs)\n"
"  --tmpdir DIR   download, models: where the temporary folder goes (default $TMPDIR\n"
"                 or /tmp; download needs about 3 GiB, models 1.6 GiB, 200 MiB with\n"
"                 --quick)\n"
"  --help         this text\n"
"\n"
"core: ns_per_op = measured wall time / ops, where ops are: tasks (spawn_*; spawn_nested\n"
"counts one task per call with n >= 2, fib(n+1)-1 = 1346268 for fib(30), for every\n"
"implementation), links (chain), continuations (then_ready), round trips (ping_pong),\n"
"input futures (fan_in). Implementations without an equivalent print no row.\n"
"\n"
"%s"
"\n"
"models: hf-fixtures writes the five models' repos (--scale 64 MiB per weight file;\n"
"quick: 8) for a local hf-mock-hub whose LFS redirects point at nginx, which serves them\n"
"at 1 MB/s per connection (quick: 4 MB/s); without nginx the mock's CDN port throttles.\n"
"A kernel runs on every compute worker over a model loaded beforehand.\n"
"Each rep loads the five into an empty cache all at once (concurrent) and one after\n"
"another (sequential), in alternating order: seconds, speedup_vs_sequential, and the\n"
"kernel's throughput during the concurrent load over its rate alone just before\n"
"(compute_ratio, target >= 0.95), with the cores the servers (mock Hub, nginx) and the\n"
"I/O threads used meanwhile and the I/O threads' CPU per MiB; then the same over the\n"
"higher of its rates alone in the second before and the second after (metric\n"
"ratio_vs_higher_alone, no target). libcurl calls on compute threads must be 0.\n"
"\n"
"Exit status: 0; 1 if a bench failed its result check; 2 on bad usage.\n",
            bench_download_help);
}

static int parse_uint(const char *opt, const char *s, unsigned min, unsigned max,
                      unsigned *out)
{
    char *end;
    unsigned long v;

    if (!s || !*s) {
        fprintf(stderr, "hf-bench: %s needs a value\n", opt);
        return -1;
    }
    v = strtoul(s, &end, 10);
    if (*end || *s == '-' || v < min || v > max) {
        fprintf(stderr, "hf-bench: %s: '%s' is not a number from %u to %u\n", opt, s, min,
                max);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

/* The canonical bench name for `s`, or NULL. */
static const char *bench_name(const char *s)
{
    static const char *const info[] = { "future_size", "malloc_per_task" };
    if (strcmp(s, "chain_build") == 0 || strcmp(s, "chain_run") == 0)
        return "chain";
    if (strcmp(s, "obj_mallocs_per_task") == 0)
        return "malloc_per_task";
    for (size_t i = 0; i < NTIMED; i++)
        if (strcmp(s, timed_benches[i]) == 0)
            return timed_benches[i];
    for (size_t i = 0; i < sizeof info / sizeof info[0]; i++)
        if (strcmp(s, info[i]) == 0)
            return info[i];
    return NULL;
}

/* Parse argv into `o`. Returns 0, 1 for --help, or -1 (message printed). */
static int parse_args(int argc, char **argv, bench_options_t *o)
{
    memset(o, 0, sizeof *o);
    if (argc < 2) {
        usage(stderr);
        return -1;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return 1;
    if (strcmp(argv[1], "core") != 0 && strcmp(argv[1], "download") != 0 &&
        strcmp(argv[1], "models") != 0) {
        fprintf(stderr, "hf-bench: unknown suite '%s' (core, download or models)\n", argv[1]);
        return -1;
    }
    o->suite = argv[1];
    o->argv0 = argv[0];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        const char *eq = strchr(a, '=');
        char opt[32];

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return 1;
        if (strcmp(a, "--quick") == 0) {
            o->quick = 1;
            continue;
        }
        snprintf(opt, sizeof opt, "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
        /* models has neither --bench nor --impl, core no --tmpdir */
        if (strcmp(opt, "--reps") &&
            (strcmp(opt, "--bench") || strcmp(o->suite, "models") == 0) &&
            (strcmp(opt, "--impl") || strcmp(o->suite, "models") == 0) &&
            strcmp(opt, "--threads") &&
            (strcmp(opt, "--tmpdir") || strcmp(o->suite, "core") == 0)) {
            fprintf(stderr, "hf-bench: unknown option '%s' (see --help)\n", a);
            return -1;
        }
        v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (strcmp(opt, "--reps") == 0) {
            if (parse_uint(opt, v, 1, MAX_REPS, &o->reps) < 0)
                return -1;
        } else if (strcmp(opt, "--threads") == 0) {
            if (parse_uint(opt, v, 1, 1024, &o->threads) < 0)
                return -1;
        } else if (strcmp(opt, "--bench") == 0) {
            if (!v || (o->bench = strcmp(o->suite, "core") ? bench_download_name(v)
                                                         : bench_name(v)) == NULL) {
                fprintf(stderr, "hf-bench: unknown bench '%s' (see --help)\n", v ? v : "");
                return -1;
            }
        } else if (!v) {
            fprintf(stderr, "hf-bench: %s needs a value\n", opt);
            return -1;
        } else if (strcmp(opt, "--impl") == 0) {
            o->impl = v;
        } else {
            o->tmpdir = v;
        }
    }
    return 0;
}

/* Mark the implementations --impl selects. Returns 0 or -1 (message printed). */
static int select_impls(const char *want, int selected[])
{
    int any = 0;

    for (size_t i = 0; i < NIMPLS; i++)
        any |= selected[i] = !want || strcmp(want, impls[i]->name) == 0;
    if (any)
        return 0;
    for (size_t i = 0; i < sizeof known_impls / sizeof known_impls[0]; i++) {
        if (strcmp(want, known_impls[i]) == 0) {
            fprintf(stderr, "hf-bench: '%s' is not built in: configure did not find it\n",
                    want);
            return -1;
        }
    }
    fprintf(stderr, "hf-bench: unknown implementation '%s' (see --help)\n", want);
    return -1;
}

int main(int argc, char **argv)
{
    bench_options_t o;
    bench_params_t p;
    int selected[NIMPLS], failed = 0, rc;
    unsigned reps;
    char nthreads[16];

    if ((rc = parse_args(argc, argv, &o)) != 0) {
        if (rc > 0)
            usage(stdout);
        return rc > 0 ? 0 : 2;
    }
    if (o.threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        o.threads = n > 0 ? (unsigned)n : 1;
    }
    if (o.reps == 0)
        o.reps = o.quick ? 3 : 5;
    if (strcmp(o.suite, "download") == 0)
        return bench_download(&o);
    if (strcmp(o.suite, "models") == 0)
        return bench_models(&o);
    if (select_impls(o.impl, selected) < 0)
        return 2;
    reps = o.reps;

    /* libuv reads its pool size once, at first use: set it before anything else runs. */
    snprintf(nthreads, sizeof nthreads, "%u", o.threads);
    setenv("UV_THREADPOOL_SIZE", nthreads, 1);

    p.threads = o.threads;
    p.n_spawn = o.quick ? 100000 : 1000000;
    p.fib_n = o.quick ? 25 : 30;
    p.n_chain = o.quick ? 100000 : 1000000;
    p.n_then = o.quick ? 100000 : 1000000;
    p.n_pingpong = o.quick ? 10000 : 100000;
    p.n_fanin = o.quick ? 10000 : 100000;

    print_machine(&o, o.threads, reps, selected);

    for (size_t b = 0; b < NTIMED; b++) {
        const char *name = timed_benches[b];
        int is_spawn = strcmp(name, "spawn_external") == 0;
        int mallocs = is_spawn && (!o.bench || strcmp(o.bench, "malloc_per_task") == 0);

        if (o.bench && strcmp(o.bench, name) != 0 && !mallocs)
            continue;
        for (size_t i = 0; i < NIMPLS; i++) {
            const bench_case_t *c = find_case(impls[i], name);
            if (!selected[i] || !c)
                continue;
            /* --bench malloc_per_task: only the warm-up and the counted run */
            if (run_case(impls[i], c, &p, o.bench && strcmp(o.bench, name) ? 0 : reps,
                         mallocs) < 0)
                failed = 1;
        }
    }
    if ((!o.bench || strcmp(o.bench, "future_size") == 0) && selected[0]) {
        row_begin("future_size", "hfasync", "bytes");
        printf(",\"value\":%zu", hf_future_sizeof());
        bench_row_end();
    }
    return failed;
}
