/*
 * dl_transfer.c - one download by each side of the download suite, and many_small.
 *
 * Every run starts from nothing (an empty cache for hfasync, an empty folder for the
 * command lines), is timed around the download alone, and is then checked byte for byte
 * against the generated content before its files are removed and sync() is called, so
 * that no run pays for an earlier run's writeback. A run that fails its check is an error
 * (bench_fail), never a time.
 */
#define _XOPEN_SOURCE 700
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "dl.h"

void dl_hub_config(const dl_env_t *e, const char *cache_dir, hf_hub_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->endpoint = e->mock.hub;
    cfg->cache_dir = cache_dir;
    cfg->token = "";
    cfg->offline = HF_NO;
    cfg->disable_symlinks = HF_NO;
}

int dl_check_download(hf_future_t *f, const dl_file_t *file, char *why, size_t whylen)
{
    const hf_error_t *err;

    if (!f) {
        snprintf(why, whylen, "hf_hub_download returned NULL");
        return -1;
    }
    if (hf_future_state(f) != HF_FUTURE_FULFILLED) {
        err = hf_future_error(f);
        snprintf(why, whylen, "%s: %s", file->path,
                 hf_future_state(f) == HF_FUTURE_CANCELLED ? "cancelled"
                 : err ? err->message : "not settled");
        return -1;
    }
    return dl_check_file(hf_future_value(f), file->seed, file->size, 0, why, whylen);
}

int dl_run_hfasync(dl_env_t *e, dl_side_t *s, double *secs)
{
    hf_file_ref_t ref = { s->file->repo, HF_REPO_MODEL, NULL, s->file->path };
    char cache[700], why[512];
    hf_hub_config_t cfg;
    hf_error_t err;
    hf_hub_t *hub;
    hf_future_t *f;
    uint64_t t0;
    int rc;

    snprintf(cache, sizeof cache, "%s/cache", e->out);
    dl_hub_config(e, cache, &cfg);
    cfg.parallel_threshold = s->threshold;
    if ((hub = hf_hub_new(s->arg, &cfg, &err)) == NULL)
        return bench_fail(s->impl, s->bench, "hf_hub_new: %s", err.message);
    t0 = bench_now_ns();
    if ((f = hf_hub_download(hub, &ref, NULL)) != NULL)
        hf_future_wait(f, -1);
    *secs = (double)(bench_now_ns() - t0) / 1e9;
    rc = dl_check_download(f, s->file, why, sizeof why);
    hf_future_release(f);
    hf_hub_free(hub);
    dl_rmtree(cache);
    sync();
    return rc < 0 ? bench_fail(s->impl, s->bench, "%s", why) : 0;
}

/* Where a peer (named by s->impl) writes: <out>/<impl>/file. */
static void peer_paths(const dl_env_t *e, const dl_side_t *s, char *dir, size_t dsize, char *out,
                       size_t osize)
{
    snprintf(dir, dsize, "%s/%s", e->out, s->impl);
    snprintf(out, osize, "%s/file", dir);
}

/* Run a peer's command line, which writes s->file to `out` in `dir` (argv[argc - 1] is set
 * to the CDN URL here); time it, check the file, clean up. */
static int run_peer(dl_env_t *e, dl_side_t *s, char **argv, int argc, const char *dir,
                    const char *out, double *secs)
{
    char why[512];
    uint64_t ns = 0;
    int status, rc = 0;

    if (dl_mkdirs(dir) < 0)
        return bench_fail(s->impl, s->bench, "cannot make %s", dir);
    if ((argv[argc - 1] = dl_cdn_url(e, s->file)) == NULL)
        return bench_fail(s->impl, s->bench, "no CDN URL");
    status = dl_run(e, argv, &ns);
    *secs = (double)ns / 1e9;
    if (status != 0)
        rc = bench_fail(s->impl, s->bench, "%s exited with status %d (its output: %s)",
                        argv[0], status, e->log);
    else if (dl_check_file(out, s->file->seed, s->file->size, 0, why, sizeof why) < 0)
        rc = bench_fail(s->impl, s->bench, "%s", why);
    free(argv[argc - 1]);
    argv[argc - 1] = NULL;
    dl_rmtree(dir);
    sync();
    return rc;
}

int dl_run_curl(dl_env_t *e, dl_side_t *s, double *secs)
{
    char dir[700], out[760];
    char *argv[] = { "curl", "-sS", "--fail", "-o", out, NULL, NULL };

    peer_paths(e, s, dir, sizeof dir, out, sizeof out);
    return run_peer(e, s, argv, 6, dir, out, secs);
}

int dl_run_aria2c(dl_env_t *e, dl_side_t *s, double *secs)
{
    char dir[700], out[760];
    /* 8 connections, 8 segments; -k1M lets the --quick sizes split 8 ways too (the
     * default minimum segment is 20 MiB); the default file allocation */
    char *argv[] = { "aria2c", "--no-conf", "-q", "-x8", "-s8", "-k1M",
                     "--allow-overwrite=true", "--auto-file-renaming=false", "-d", dir,
                     "-o", "file", NULL, NULL };

    peer_paths(e, s, dir, sizeof dir, out, sizeof out);
    return run_peer(e, s, argv, 13, dir, out, secs);
}

/* ---- many files at once --------------------------------------------------------------- */

int dl_batch_start(dl_batch_t *b, const dl_params_t *p, hf_hub_t *hub, const char *repo,
                   unsigned n, const char *bench)
{
    memset(b, 0, sizeof *b);
    b->bench = bench;
    b->files = calloc(n, sizeof *b->files);
    b->fs = calloc(n, sizeof *b->fs);
    if (!b->files || !b->fs)
        return bench_fail("hfasync", bench, "out of memory");
    b->n = n;
    for (unsigned i = 0; i < n; i++) {
        hf_file_ref_t ref;
        dl_file_of(p, repo, i, &b->files[i]);
        ref = (hf_file_ref_t){ b->files[i].repo, HF_REPO_MODEL, NULL, b->files[i].path };
        if ((b->fs[i] = hf_hub_download(hub, &ref, NULL)) == NULL)
            return bench_fail("hfasync", bench, "hf_hub_download returned NULL");
    }
    if ((b->all = hf_future_all(b->fs, n)) == NULL)
        return bench_fail("hfasync", bench, "hf_future_all returned NULL");
    return 0;
}

int dl_batch_check(dl_batch_t *b)
{
    char why[512];

    /* a failure cancels the rest (hf_future_all): name the one that failed first */
    for (unsigned i = 0; i < b->n; i++) {
        if (hf_future_state(b->fs[i]) == HF_FUTURE_REJECTED) {
            dl_check_download(b->fs[i], &b->files[i], why, sizeof why);
            return bench_fail("hfasync", b->bench, "%s", why);
        }
    }
    for (unsigned i = 0; i < b->n; i++)
        if (dl_check_download(b->fs[i], &b->files[i], why, sizeof why) < 0)
            return bench_fail("hfasync", b->bench, "%s", why);
    return 0;
}

void dl_batch_free(dl_batch_t *b)
{
    hf_future_release(b->all);
    for (unsigned i = 0; b->fs && i < b->n; i++)
        hf_future_release(b->fs[i]);
    free(b->fs);
    free(b->files);
    memset(b, 0, sizeof *b);
}

/* ---- many_small -------------------------------------------------------------------------- */

typedef struct peaks {
    long threads, rss_kib;
} peaks_t;

static void sample(peaks_t *pk)
{
    long threads, rss, hwm;
    dl_proc_status(&threads, &rss, &hwm);
    if (threads > pk->threads)
        pk->threads = threads;
    if (rss > pk->rss_kib)
        pk->rss_kib = rss;
}

int dl_many_small_once(dl_env_t *e, double values[3], unsigned *transfers)
{
    const dl_params_t *p = e->p;
    hf_runtime_config_t rcfg = { 0 };
    hf_hub_config_t cfg;
    hf_hub_stats_t st;
    hf_error_t err;
    hf_runtime_t *rt = NULL;
    hf_hub_t *hub = NULL;
    dl_batch_t b = { 0 };
    char cache[700];
    long threads0, rss0, hwm;
    peaks_t pk;
    int reset, rc = -1;
    uint64_t t0, ns;

    snprintf(cache, sizeof cache, "%s/cache", e->out);
    rcfg.compute_threads = p->threads;
    rcfg.io_threads_max = p->small_io_threads;
    dl_hub_config(e, cache, &cfg);
    if ((rt = hf_runtime_new(&rcfg)) == NULL || (hub = hf_hub_new(rt, &cfg, &err)) == NULL) {
        bench_fail("hfasync", "many_small", "cannot set up the runtime and the hub");
        goto out;
    }
    dl_proc_status(&threads0, &rss0, &hwm);
    reset = dl_reset_peak_rss() == 0;
    pk.threads = threads0;
    pk.rss_kib = rss0;
    t0 = bench_now_ns();
    if (dl_batch_start(&b, p, hub, DL_REPO_SMALL, p->small_files, "many_small") < 0)
        goto out;
    while (hf_future_wait(b.all, 1) == HF_ETIMEDOUT)
        sample(&pk);
    ns = bench_now_ns() - t0;
    sample(&pk);
    if (reset) {                /* VmHWM: the true peak, which sampling may miss */
        long threads, rss;
        dl_proc_status(&threads, &rss, &hwm);
        if (hwm > pk.rss_kib)
            pk.rss_kib = hwm;
    }
    hf_hub_stats(hub, &st);
    if (dl_batch_check(&b) < 0)
        goto out;
    *transfers = st.transfers_peak;
    values[0] = (double)b.n / ((double)ns / 1e9);
    values[1] = (double)pk.threads;
    values[2] = st.transfers_peak ? (double)(pk.rss_kib - rss0) / st.transfers_peak : 0;
    rc = 0;
out:
    dl_batch_free(&b);
    hf_hub_free(hub);
    hf_runtime_free(rt);
    dl_rmtree(cache);
    sync();
    return rc;
}
