/*
 * dl_isolation.c - the isolation bench: does downloading disturb the compute pool?
 *
 * The kernel: a float dot product of two fixed 4096-element vectors, 64 passes, summed in
 * order (no -ffast-math: the compiler may not reorder it), whose exact result is known
 * (every product and partial sum is a multiple of 1/8 below 2^21) and checked every time.
 * A window runs it on every compute worker for iso_window_ms: 2 chains per worker, each
 * task posting its successor until the deadline; the value is kernel tasks finished
 * inside the window per second.
 *
 * Three sides, alternated by download.c:
 *  - idle: the window alone;
 *  - hfasync: iso_downloads hf_hub_download()s of bench/slow (throttled per connection by
 *    the CDN) are started; once every one is in flight (all HEADs answered, every body
 *    started), the window runs; every download must still be in flight when it closes
 *    (else the run is an error: the files are sized to outlast it). Then they finish and
 *    are checked byte for byte;
 *  - naive: the same downloads as blocking libcurl calls (HEAD to the mock, then a GET of
 *    the CDN URL into a file) posted as tasks to the same compute pool; once the workers
 *    are busy with them the window runs; at its end the transfers are aborted (a progress
 *    callback) and what they wrote is checked as a prefix of the file.
 * Ratio (download.c) = a side's tasks/s / idle's, per rep.
 */
#define _XOPEN_SOURCE 700
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "dl.h"

#define KERNEL_N 4096
#define KERNEL_PASSES 64
#define WAIT_MS 60000u           /* the longest any phase may take before it is an error */

typedef struct naive_item {
    dl_iso_t *iso;
    dl_env_t *e;
    dl_file_t file;
    char out[760];
    FILE *f;
    uint64_t got;
    int code;                   /* CURLcode, or -1 if it never ran */
} naive_item_t;

struct dl_iso {
    hf_runtime_t *rt;
    hf_executor_t *cpu;
    unsigned threads, window_ms;
    float a[KERNEL_N], b[KERNEL_N];
    float want;
    /* the current window */
    _Atomic uint64_t deadline;
    _Atomic uint64_t done;
    _Atomic unsigned live;
    _Atomic int bad;
    /* the naive side */
    _Atomic int stop;
    _Atomic unsigned running, running_peak, started;
    /* what the rows report: downloads in flight during the windows (the fewest seen) */
    unsigned hf_in_flight, naive_in_flight;
};

static float kernel(const dl_iso_t *iso)
{
    float s = 0;
    for (unsigned p = 0; p < KERNEL_PASSES; p++)
        for (size_t i = 0; i < KERNEL_N; i++)
            s += iso->a[i] * iso->b[i];
    return s;
}

uint64_t dl_iso_task_flops(const dl_iso_t *iso)
{
    (void)iso;
    return 2u * KERNEL_N * KERNEL_PASSES;
}

unsigned dl_iso_in_flight(const dl_iso_t *iso, int naive)
{
    return naive ? iso->naive_in_flight : iso->hf_in_flight;
}

dl_iso_t *dl_iso_new(const dl_params_t *p)
{
    hf_runtime_config_t cfg = { 0 };
    dl_iso_t *iso = calloc(1, sizeof *iso);

    if (!iso)
        return NULL;
    for (size_t i = 0; i < KERNEL_N; i++) {
        iso->a[i] = (float)(i % 7) * 0.25f;
        iso->b[i] = (float)(i % 5) * 0.5f;
    }
    iso->want = kernel(iso);
    iso->threads = p->threads;
    iso->window_ms = p->iso_window_ms;
    iso->hf_in_flight = iso->naive_in_flight = UINT32_MAX;
    cfg.compute_threads = p->threads;
    if ((iso->rt = hf_runtime_new(&cfg)) == NULL) {
        bench_fail("hfasync", "isolation", "hf_runtime_new failed");
        free(iso);
        return NULL;
    }
    iso->cpu = hf_runtime_compute(iso->rt);
    return iso;
}

void dl_iso_free(dl_iso_t *iso)
{
    if (!iso)
        return;
    hf_runtime_free(iso->rt);
    free(iso);
}

/* ---- the window -------------------------------------------------------------------------- */

static void kernel_task(void *arg)
{
    dl_iso_t *iso = arg;
    uint64_t deadline = atomic_load(&iso->deadline);

    if (bench_now_ns() >= deadline) {
        atomic_fetch_sub(&iso->live, 1);
        return;
    }
    if (kernel(iso) != iso->want)
        atomic_store(&iso->bad, 1);
    if (bench_now_ns() <= deadline)
        atomic_fetch_add(&iso->done, 1);
    if (hf_executor_post(iso->cpu, kernel_task, iso) < 0)
        atomic_fetch_sub(&iso->live, 1);
}

/* Run the window; at its deadline call at_end(iso) (may be NULL), then wait for every
 * chain to stop. *value: kernel tasks per second inside the window. */
static int window(dl_iso_t *iso, void (*at_end)(dl_iso_t *), const char *impl, double *value)
{
    unsigned chains = 2 * iso->threads;
    uint64_t deadline;

    atomic_store(&iso->done, 0);
    atomic_store(&iso->bad, 0);
    atomic_store(&iso->live, chains);
    deadline = bench_now_ns() + (uint64_t)iso->window_ms * 1000000u;
    atomic_store(&iso->deadline, deadline);
    for (unsigned c = 0; c < chains; c++)
        if (hf_executor_post(iso->cpu, kernel_task, iso) < 0)
            atomic_fetch_sub(&iso->live, 1);
    while (bench_now_ns() < deadline)
        proc_sleep_ms(1);
    if (at_end)
        at_end(iso);
    for (unsigned waited = 0; atomic_load(&iso->live) > 0; waited++) {
        if (waited > WAIT_MS)
            return bench_fail(impl, "isolation", "the kernel's tasks did not stop");
        proc_sleep_ms(1);
    }
    if (atomic_load(&iso->bad))
        return bench_fail(impl, "isolation", "the kernel computed a wrong result");
    *value = (double)atomic_load(&iso->done) * 1000.0 / iso->window_ms;
    return 0;
}

int dl_iso_idle(dl_env_t *e, dl_side_t *s, double *value)
{
    (void)e;
    return window(s->arg, NULL, "idle", value);
}

/* ---- hfasync ----------------------------------------------------------------------------- */

int dl_iso_hfasync(dl_env_t *e, dl_side_t *s, double *value)
{
    dl_iso_t *iso = s->arg;
    const dl_params_t *p = e->p;
    const unsigned n = p->iso_downloads;
    hf_hub_config_t cfg;
    hf_hub_stats_t st;
    hf_error_t err;
    hf_hub_t *hub = NULL;
    dl_batch_t b = { 0 };
    char cache[700];
    int rc = -1;

    snprintf(cache, sizeof cache, "%s/cache", e->out);
    dl_hub_config(e, cache, &cfg);
    if ((hub = hf_hub_new(iso->rt, &cfg, &err)) == NULL) {
        bench_fail("hfasync", "isolation", "hf_hub_new: %s", err.message);
        goto out;
    }
    if (dl_batch_start(&b, p, hub, DL_REPO_SLOW, n, "isolation") < 0)
        goto out;
    /* in flight: every HEAD answered and every body started */
    for (unsigned waited = 0;; waited++) {
        hf_hub_stats(hub, &st);
        if (st.requests >= 2u * n && st.transfers_active >= n)
            break;
        if (waited > WAIT_MS) {
            bench_fail("hfasync", "isolation", "the downloads did not start");
            goto out;
        }
        proc_sleep_ms(1);
    }
    if (window(iso, NULL, "hfasync", value) < 0)
        goto out;
    hf_hub_stats(hub, &st);
    if (st.transfers_active < iso->hf_in_flight)
        iso->hf_in_flight = st.transfers_active;
    if (st.transfers_active < n) {
        bench_fail("hfasync", "isolation", "only %u of %u downloads were still in flight at "
                   "the end of the window", st.transfers_active, n);
        goto out;
    }
    if (hf_future_wait(b.all, (int64_t)(p->iso_bytes * 1000u / p->iso_bps + WAIT_MS)) < 0) {
        bench_fail("hfasync", "isolation", "the downloads did not finish");
        goto out;
    }
    rc = dl_batch_check(&b);
out:
    dl_batch_free(&b);
    hf_hub_free(hub);
    dl_rmtree(cache);
    sync();
    return rc;
}

/* ---- naive: blocking libcurl calls on the compute workers -------------------------------- */

static size_t naive_write(char *buf, size_t size, size_t n, void *arg)
{
    naive_item_t *it = arg;
    size_t len = size * n;
    if (fwrite(buf, 1, len, it->f) != len)
        return 0;
    it->got += len;
    return len;
}

static int naive_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    naive_item_t *it = arg;
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    return atomic_load(&it->iso->stop);
}

static void *naive_task(void *arg, hf_error_t *err)
{
    naive_item_t *it = arg;
    dl_iso_t *iso = it->iso;
    char *url;
    CURL *c;
    unsigned now, peak;

    (void)err;
    if (atomic_load(&iso->stop))
        return NULL;
    if ((url = dl_cdn_url(it->e, &it->file)) == NULL)       /* a blocking HEAD */
        return NULL;
    if ((it->f = fopen(it->out, "wb")) == NULL || (c = curl_easy_init()) == NULL) {
        free(url);
        return NULL;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, naive_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, it);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, naive_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, it);
    now = atomic_fetch_add(&iso->running, 1) + 1;
    peak = atomic_load(&iso->running_peak);
    while (now > peak && !atomic_compare_exchange_weak(&iso->running_peak, &peak, now))
        ;
    atomic_fetch_add(&iso->started, 1);
    it->code = (int)curl_easy_perform(c);                    /* blocks this worker */
    atomic_fetch_sub(&iso->running, 1);
    curl_easy_cleanup(c);
    fclose(it->f);
    it->f = NULL;
    free(url);
    return NULL;
}

static void naive_stop(dl_iso_t *iso)
{
    atomic_store(&iso->stop, 1);
}

int dl_iso_naive(dl_env_t *e, dl_side_t *s, double *value)
{
    dl_iso_t *iso = s->arg;
    const dl_params_t *p = e->p;
    const unsigned n = p->iso_downloads;
    const unsigned busy = n < iso->threads ? n : iso->threads;
    naive_item_t *items = calloc(n, sizeof *items);
    hf_future_t **fs = calloc(n, sizeof *fs), *all = NULL;
    char dir[700], why[512];
    int rc = -1;

    snprintf(dir, sizeof dir, "%s/naive", e->out);
    atomic_store(&iso->stop, 0);
    atomic_store(&iso->running, 0);
    atomic_store(&iso->running_peak, 0);
    atomic_store(&iso->started, 0);
    if (!items || !fs || dl_mkdirs(dir) < 0) {
        bench_fail("naive", "isolation", "cannot set up");
        goto out;
    }
    for (unsigned i = 0; i < n; i++) {
        items[i].iso = iso;
        items[i].e = e;
        items[i].code = -1;
        dl_file_of(p, DL_REPO_SLOW, i, &items[i].file);
        snprintf(items[i].out, sizeof items[i].out, "%s/%s", dir, items[i].file.path);
        if ((fs[i] = hf_async(iso->cpu, naive_task, &items[i])) == NULL) {
            naive_stop(iso);
            bench_fail("naive", "isolation", "hf_async returned NULL");
            goto out;
        }
    }
    /* the workers are busy downloading */
    for (unsigned waited = 0; atomic_load(&iso->started) < busy; waited++) {
        if (waited > WAIT_MS) {
            naive_stop(iso);
            bench_fail("naive", "isolation", "the downloads did not start");
            goto out;
        }
        proc_sleep_ms(1);
    }
    if (window(iso, naive_stop, "naive", value) < 0)
        goto out;
    if (atomic_load(&iso->running_peak) < iso->naive_in_flight)
        iso->naive_in_flight = atomic_load(&iso->running_peak);
    if ((all = hf_future_all(fs, n)) == NULL || hf_future_wait(all, WAIT_MS) < 0) {
        bench_fail("naive", "isolation", "the aborted downloads did not end");
        goto out;
    }
    for (unsigned i = 0; i < n; i++) {
        naive_item_t *it = &items[i];
        if (it->code == CURLE_ABORTED_BY_CALLBACK || it->code == CURLE_OK) {
            if (dl_check_file(it->out, it->file.seed, it->code == CURLE_OK ? it->file.size
                                                                           : it->got,
                              it->code != CURLE_OK, why, sizeof why) < 0) {
                bench_fail("naive", "isolation", "%s", why);
                goto out;
            }
        } else if (it->code != -1) {
            bench_fail("naive", "isolation", "%s: %s", it->file.path,
                       curl_easy_strerror((CURLcode)it->code));
            goto out;
        }
    }
    rc = 0;
out:
    if (fs && all == NULL)      /* an early exit: let what was posted end first */
        for (unsigned i = 0; i < n; i++)
            if (fs[i])
                hf_future_wait(fs[i], WAIT_MS);
    hf_future_release(all);
    for (unsigned i = 0; fs && i < n; i++)
        hf_future_release(fs[i]);
    free(fs);
    free(items);
    dl_rmtree(dir);
    sync();
    return rc;
}
