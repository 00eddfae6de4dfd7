/*
 * bench.h - what hf-bench's driver (hf-bench.c) and its implementation files
 * (core_hfasync.c, core_tbb.cpp, core_glib.c, core_libuv.c) share.
 *
 * An implementation is a table of bench functions plus a setup/teardown pair. The driver
 * sets an implementation up once per bench, calls the bench function once to warm up and
 * then once per repetition, and prints the statistics. A bench function times its own
 * measured region (bench_now_ns(), CLOCK_MONOTONIC), says how many operations it held,
 * and checks its result: a wrong result is an error, never a fast time.
 */
#ifndef HF_BENCH_H
#define HF_BENCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Sizes of one run of each bench, and the options that apply to every implementation. */
typedef struct bench_params {
    unsigned threads;           /* compute workers, the same for every implementation */
    uint64_t n_spawn;           /* spawn_external, spawn_local: tasks */
    int fib_n;                  /* spawn_nested: fib(fib_n) */
    uint64_t n_chain;           /* chain: links */
    uint64_t n_then;            /* then_ready: continuations */
    uint64_t n_pingpong;        /* ping_pong: round trips */
    uint64_t n_fanin;           /* fan_in: input futures (or tasks) */
} bench_params_t;

/* One run of a bench: the measured region and what it held. */
typedef struct bench_rep {
    uint64_t ns;                /* wall time of the measured region */
    uint64_t ops;               /* operations in it */
    uint64_t part_ns[2];        /* optional sub-regions (see bench_case_t.parts) */
} bench_rep_t;

/* Run once; fill `out`. Returns 0, or -1 after bench_fail() said what went wrong. */
typedef int (*bench_fn)(void *env, const bench_params_t *p, bench_rep_t *out);

typedef struct bench_case {
    const char *name;           /* a bench of the suite, e.g. "spawn_external" */
    bench_fn fn;
    const char *parts[2];       /* names of part_ns[0..1] printed as extra rows, or NULL */
} bench_case_t;

typedef struct bench_impl {
    const char *name;           /* "hfasync", "tbb", "glib", "libuv" */
    const char *(*version)(void);
    /* Start the implementation's pool for `p->threads` workers; NULL on failure
     * (after bench_fail()). */
    void *(*setup)(const bench_params_t *p);
    void (*teardown)(void *env);
    const bench_case_t *cases;  /* ends with a NULL name */
    /* Optional: the implementation's own count of allocations so far (hfasync: small
     * objects its free lists had to malloc). NULL if it keeps none. */
    int (*lib_mallocs)(void *env, uint64_t *out);
    /* Optional: what the malloc_per_task row of this implementation does not see. */
    const char *alloc_note;
} bench_impl_t;

extern const bench_impl_t bench_impl_hfasync;
#ifdef HAVE_TBB
extern const bench_impl_t bench_impl_tbb;
#endif
#ifdef HAVE_GLIB
extern const bench_impl_t bench_impl_glib;
#endif
#ifdef HAVE_LIBUV
extern const bench_impl_t bench_impl_libuv;
#endif

/* The command line (hf-bench.c parses it for every suite). */
typedef struct bench_options {
    const char *suite;          /* "core", "download" or "models" */
    const char *argv0;          /* how hf-bench was run: where to look for its helpers */
    int quick;
    unsigned reps;              /* 0 until main() applies the mode's default */
    const char *bench;          /* NULL: all */
    const char *impl;           /* NULL: all */
    unsigned threads;           /* 0 until main() puts the online CPUs */
    const char *tmpdir;         /* download: NULL for $TMPDIR or /tmp */
} bench_options_t;

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/* fib(n), computed in a loop: the reference for spawn_nested. */
int64_t bench_fib(int n);

/* The number of tasks spawn_nested spawns for fib(n): one per call with n >= 2, which is
 * fib(n + 1) - 1. The same count for every implementation. */
uint64_t bench_fib_spawns(int n);

/* Report an error of `impl`'s `bench` on stderr; returns -1. */
int bench_fail(const char *impl, const char *bench, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ---- JSON-lines output (hf-bench.c) ---------------------------------------------------- */

/* `s` as a JSON string on stdout. */
void bench_json_string(const char *s);
/* Open a row: {"suite":..,"bench":..[,"impl":..][,"metric":..]; the caller prints more
 * fields (each starting with a comma) and closes it with bench_row_end(). */
void bench_row_begin(const char *suite, const char *bench, const char *impl, const char *metric);
void bench_row_end(void);
/* Open the suite's first row, "machine": cpus, threads, cpu, hypervisor, cc, quick, reps. */
void bench_machine_begin(const char *suite, unsigned threads, int quick, unsigned reps);
/* The median of v[0..n-1] (sorted here; 0 when n is 0). */
double bench_median(double *v, unsigned n);
/* Open a stats row of `suite` over v[0..n-1] (1 <= n <= 1000, left in its order): median,
 * min, max with `prec` decimals, reps. Returns the median; the caller adds fields and
 * calls bench_row_end(). */
double bench_stats_begin(const char *suite, const char *bench, const char *impl,
                         const char *metric, const double *v, unsigned n, int prec);

/* ---- the download suite (download.c) --------------------------------------------------- */

/* Its part of --help. */
extern const char bench_download_help[];
/* The canonical name of one of its benches, or NULL. */
const char *bench_download_name(const char *s);
/* Run it; returns the exit status. */
int bench_download(const bench_options_t *o);

/* ---- the models suite (models.c) ------------------------------------------------------ */

/* Run it; returns the exit status. */
int bench_models(const bench_options_t *o);

/* malloc_count.c: calls to malloc, calloc, realloc and the aligned allocators in this
 * process so far. Returns 0, or -1 where counting is not available (no glibc
 * __libc_malloc to forward to, or a sanitizer build). */
int bench_malloc_count(uint64_t *out);

#ifdef __cplusplus
}
#endif

#endif /* HF_BENCH_H */
