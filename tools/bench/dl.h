/*
 * dl.h - what the files of hf-bench's download suite share (download.c drives it).
 *
 * The setting: a temporary folder holds ROOT (the repos, generated here with deterministic
 * content), OUT (where every run downloads to; emptied after each run) and nginx's prefix.
 * hf-mock-hub serves ROOT as the Hub and redirects LFS files (all files here are LFS) to
 * nginx, started on a loopback port with a config written here, which serves ROOT with
 * the mock's CDN path layout and throttles two repos per connection (limit_rate). Without
 * nginx the mock's own CDN port serves the bytes, throttled by mock faults.
 *
 * Repos (model type), each file's content a function of (seed, offset):
 *   bench/big/big.bin          single_1g                        seed 1
 *   bench/throttled/big.bin    throttled_1g (limit_rate)        seed 1 (a hard link if the
 *                                                               same size as big.bin)
 *   bench/small/fNNNN.bin      many_small                       seed 1000 + N
 *   bench/slow/sNN.bin         isolation (limit_rate)           seed 100 + N
 */
#ifndef HF_BENCH_DL_H
#define HF_BENCH_DL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hfasync.h"
#include "common/child.h"
#include "nginx.h"
#include "proc.h"

#define DL_SUITE "download"
#define DL_MAX_REPS 1000

#define DL_REPO_BIG "bench/big"
#define DL_REPO_THROTTLED "bench/throttled"
#define DL_REPO_SMALL "bench/small"
#define DL_REPO_SLOW "bench/slow"

/* The benches (dl_params_t.benches). */
enum { DL_B_SINGLE = 1, DL_B_THROTTLED = 2, DL_B_SMALL = 4, DL_B_ISOLATION = 8 };

/* Sizes and rates of one suite run (download.c fills them for full or --quick runs). */
typedef struct dl_params {
    unsigned benches;           /* DL_B_*: the ones to run (and to make files for) */
    int quick;
    unsigned reps;
    unsigned threads;           /* compute workers */
    uint64_t big_bytes;         /* single_1g */
    uint64_t throttled_bytes;   /* throttled_1g */
    uint64_t throttle_bps;      /* throttled_1g: nginx limit_rate, per connection */
    unsigned small_files;       /* many_small */
    uint64_t small_bytes;
    unsigned small_io_threads;  /* many_small: the runtime's io_threads_max */
    unsigned iso_downloads;     /* isolation: downloads in flight */
    uint64_t iso_bps;           /* isolation: limit_rate per connection */
    unsigned iso_window_ms;     /* isolation: the kernel's measured window */
    uint64_t iso_bytes;         /* isolation: each file, sized to outlast the window */
} dl_params_t;

/* One file of ROOT. */
typedef struct dl_file {
    const char *repo;
    char path[32];
    uint64_t seed, size;
} dl_file_t;

/* The running setting (dl_serve.c). */
typedef struct dl_env {
    char tmp[512];              /* the temporary folder */
    char root[600];             /* tmp/root: the repos */
    char out[600];              /* tmp/out: downloads */
    char log[600];              /* tmp/commands.log: what child processes print */
    char cdn[128];              /* where LFS files are served from */
    char cdn_note[160];         /* "nginx x.y" or why the mock's CDN port serves instead */
    mock_proc_t mock;           /* the Hub (mock.hub: its URL) */
    nginx_cdn_t nginx;
    const dl_params_t *p;
} dl_env_t;

/* One side of a comparison: run once, give a value (seconds, tasks/s...). */
typedef struct dl_side dl_side_t;
typedef int (*dl_run_fn)(dl_env_t *e, dl_side_t *s, double *value);
struct dl_side {
    const char *bench, *impl;   /* the row it prints */
    const char *skip;           /* not NULL: not run, printed as null with this note */
    dl_run_fn run;
    void *arg;                  /* for `run` */
    const dl_file_t *file;      /* for `run` */
    uint64_t threshold;         /* hfasync: parallel_threshold (0: the library's default) */
    unsigned n;
    double v[DL_MAX_REPS];
};

/* ---- dl_data.c: content, checks, folders ------------------------------------------------- */

/* Fill buf with bytes [off, off + n) of the content of `seed`. */
void dl_fill(uint64_t seed, uint64_t off, unsigned char *buf, size_t n);
/* Write the content of `seed`, `size` bytes long, to `path` (folders made as needed).
 * Returns 0 or -1 (message printed). */
int dl_write_file(const char *path, uint64_t seed, uint64_t size);
/* 0 if `path` holds exactly the `size` bytes of `seed` (prefix: at least `size` bytes,
 * the first `size` of them compared); otherwise -1 with the reason in `why`. */
int dl_check_file(const char *path, uint64_t seed, uint64_t size, int prefix, char *why,
                  size_t whylen);
/* mkdir -p; rm -rf (no shell). Return 0 or -1. */
int dl_mkdirs(const char *dir);
int dl_rmtree(const char *path);
/* The process's thread count and resident set (VmRSS, VmHWM) in KiB from
 * /proc/self/status; -1 where unknown. */
void dl_proc_status(long *threads, long *rss_kib, long *hwm_kib);
/* Reset VmHWM to the current RSS (Linux: /proc/self/clear_refs). Returns 0 or -1. */
int dl_reset_peak_rss(void);

/* ---- dl_serve.c: nginx, the mock, commands ----------------------------------------------- */

/* Make the temporary folder under `tmpdir`, generate ROOT, start nginx (if installed) and
 * the mock. Returns 0, or -1 after a message (dl_env_stop still cleans up). */
int dl_env_start(dl_env_t *e, const dl_params_t *p, const char *tmpdir);
/* Stop both servers and remove the temporary folder. */
void dl_env_stop(dl_env_t *e);
/* Run argv to its end, output appended to e->log; *ns: its wall time from fork to exit.
 * Returns its exit status, or -1 if it could not run or was killed. */
int dl_run(dl_env_t *e, char *const argv[], uint64_t *ns);
/* The CDN URL that the mock redirects `f` to (malloc'd), or NULL (message printed). */
char *dl_cdn_url(dl_env_t *e, const dl_file_t *f);
/* The file's resolve URL on the mock Hub, into buf. */
void dl_resolve_url(const dl_env_t *e, const dl_file_t *f, char *buf, size_t size);

/* ---- dl_transfer.c: one download by each side -------------------------------------------- */

/* A hub config for e's mock with `cache_dir` (no token, online, symlinks). */
void dl_hub_config(const dl_env_t *e, const char *cache_dir, hf_hub_config_t *cfg);
/* 0 if `f` (of hf_hub_download) was fulfilled with a path holding exactly `file`;
 * otherwise -1 and why. */
int dl_check_download(hf_future_t *f, const dl_file_t *file, char *why, size_t whylen);
/* s->file with hf_hub_download into an empty cache (s->threshold), timed from the call
 * until its future settles, then checked and removed. s->arg: the hf_runtime_t. */
int dl_run_hfasync(dl_env_t *e, dl_side_t *s, double *secs);
/* s->file fetched from its CDN URL by the `curl` / `aria2c -x8 -s8` command line into a
 * file, timed from fork to exit, then checked and removed. */
int dl_run_curl(dl_env_t *e, dl_side_t *s, double *secs);
int dl_run_aria2c(dl_env_t *e, dl_side_t *s, double *secs);
/* Downloads of files 0..n-1 of a repo, all at once (hf_future_all over them). */
typedef struct dl_batch {
    const char *bench;
    unsigned n;
    dl_file_t *files;
    hf_future_t **fs;
    hf_future_t *all;
} dl_batch_t;
/* Start them on `hub`. Returns 0, or -1 (message printed; dl_batch_free still applies). */
int dl_batch_start(dl_batch_t *b, const dl_params_t *p, hf_hub_t *hub, const char *repo,
                   unsigned n, const char *bench);
/* Once b->all has settled: 0 if every file is there, byte for byte; else -1 naming the
 * first failure (message printed). */
int dl_batch_check(dl_batch_t *b);
void dl_batch_free(dl_batch_t *b);
/* many_small, once: values[0] files/s, [1] peak threads, [2] peak RSS KiB per transfer
 * in flight; *transfers: the transfers_peak. */
int dl_many_small_once(dl_env_t *e, double values[3], unsigned *transfers);

/* ---- dl_isolation.c ---------------------------------------------------------------------- */

typedef struct dl_iso dl_iso_t;
/* The kernel, its runtime and the three sides' state; NULL on failure (message printed). */
dl_iso_t *dl_iso_new(const dl_params_t *p);
void dl_iso_free(dl_iso_t *iso);
/* One window of the kernel: idle, during the library's downloads, during the naive ones.
 * *value: kernel tasks per second over the window. s->arg: the dl_iso_t. */
int dl_iso_idle(dl_env_t *e, dl_side_t *s, double *value);
int dl_iso_hfasync(dl_env_t *e, dl_side_t *s, double *value);
int dl_iso_naive(dl_env_t *e, dl_side_t *s, double *value);
/* What one kernel task computes (for the rows). */
uint64_t dl_iso_task_flops(const dl_iso_t *iso);
/* The fewest downloads seen in flight during a window so far (naive: the most at once,
 * which is at most the compute workers); UINT32_MAX before any. */
unsigned dl_iso_in_flight(const dl_iso_t *iso, int naive);

/* ---- download.c -------------------------------------------------------------------------- */

/* The file of `repo` number `i` (seed, size and path by the table above). */
void dl_file_of(const dl_params_t *p, const char *repo, unsigned i, dl_file_t *f);

#endif /* HF_BENCH_DL_H */
