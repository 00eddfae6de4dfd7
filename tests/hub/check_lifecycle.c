/*
 * check_lifecycle.c - what happens to a download around its ends, against hf-mock-hub:
 * progress callbacks of a requester that left a shared download, a wait for another
 * process's lock that a cancel or hf_hub_free must end, the partial file hf_hub_free
 * leaves for the next run, a ranged download over a spoiled prefix, a 416, signed CDN
 * URLs that expire mid-download, a forced download that fails, copies with symlinks off,
 * a "~" in HF_HOME, relative cache folders, progress callbacks on two threads that
 * cancel their own snapshots at once, and two that cancel each other's downloads.
 */
#include "common/testutil.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/mockhub.h"
#include "core/tls.h"

#define BIG (3u << 20)
#define SMALL 300000u

static tu_mock_t mock;
static char cache[256];
static hf_runtime_t *rt;

static void setup_with(const char *mock_args)
{
    unsigned char *big = tu_pattern(BIG, 2), *small = tu_pattern(SMALL, 1);

    tu_mock_root(&mock);
    tu_mock_file(&mock, "model", "org/model", "big.bin", big, BIG);
    tu_mock_file(&mock, "model", "org/model", "same/big.bin", big, BIG);    /* one blob */
    tu_mock_file(&mock, "model", "org/model", "model.bin", small, SMALL);
    tu_mock_file(&mock, "model", "org/model", "config.json", "{\"a\": 1}\n", 9);
    tu_mock_settings(&mock, "model", "org/model", "{\"lfs\": [\"*.bin\"]}");
    free(big);
    free(small);
    tu_mock_start(&mock, mock_args);
    tu_tmpdir(cache, sizeof cache, "life-cache");
    rt = tu_runtime(2);
}

static void setup(void)
{
    setup_with(NULL);
}

/* The CDN's signed URLs expire one second after the Hub signs them. */
static void setup_expiring(void)
{
    setup_with("--cdn-url-expiry 1");
}

static void teardown(void)
{
    hf_runtime_free(rt);
    tu_mock_stop(&mock);
    tu_rm_tree(cache);
}

/* A hub on the mock; `ranged_conns` > 0: files of 1 MiB and more go in ranges over that
 * many connections. */
static hf_hub_t *hub_full(int disable_symlinks, unsigned ranged_conns)
{
    hf_hub_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.disable_symlinks = disable_symlinks ? HF_YES : HF_NO;
    if (ranged_conns) {
        cfg.parallel_threshold = 1u << 20;
        cfg.conns_per_file = ranged_conns;
    }
    return tu_hub_at(rt, mock.hub, cache, "", &cfg);
}

static hf_hub_t *hub_with(int disable_symlinks)
{
    return hub_full(disable_symlinks, 0);
}

static hf_future_t *dl_opts(hf_hub_t *h, const char *path, const hf_download_opts_t *o)
{
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, path };
    hf_future_t *f = hf_hub_download(h, &ref, o);
    ck_assert_ptr_nonnull(f);
    return f;
}

/* The etag (blob name) of `path`, from one HEAD. */
static void etag_of(hf_hub_t *h, const char *path, char etag[65])
{
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, path };
    hf_future_t *f = hf_hub_file_metadata(h, &ref);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    snprintf(etag, 65, "%s", ((const hf_file_metadata_t *)hf_future_value(f))->etag);
    hf_future_release(f);
}

/* Files in `dir` whose name has ".incomplete" in it (the partial file and its ranged
 * companions). */
static int count_partials(const char *dir)
{
    char cmd[800], line[64] = "";
    FILE *p;
    snprintf(cmd, sizeof cmd, "ls -A '%s' | grep -c incomplete", dir);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, p));
    pclose(p);
    return atoi(line);
}

/* Put `n` bytes as blobs/<etag>.incomplete: what an earlier run, or another client,
 * left there. */
static void write_partial(const char *etag, const void *data, size_t n)
{
    char path[700];
    FILE *out;
    snprintf(path, sizeof path, "mkdir -p '%s/models--org--model/blobs'", cache);
    ck_assert_int_eq(system(path), 0);
    snprintf(path, sizeof path, "%s/models--org--model/blobs/%s.incomplete", cache, etag);
    out = fopen(path, "wb");
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(fwrite(data, 1, n, out), n);
    fclose(out);
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* ---- progress of a requester that left --------------------------------------------------- */

typedef struct counter {
    atomic_int calls;
    atomic_int left;            /* set once its download's cancel returned */
    atomic_int after_leaving;   /* calls after that: must stay 0 */
    char path[64];              /* the path of the last event */
    pthread_mutex_t mu;
} counter_t;

static void count_progress(const hf_progress_t *p, void *arg)
{
    counter_t *c = arg;
    atomic_fetch_add(&c->calls, 1);
    if (atomic_load(&c->left))
        atomic_fetch_add(&c->after_leaving, 1);
    pthread_mutex_lock(&c->mu);
    snprintf(c->path, sizeof c->path, "%s", p->path ? p->path : "");
    pthread_mutex_unlock(&c->mu);
}

START_TEST(a_requester_that_left_gets_no_more_progress_and_each_gets_its_own_path)
{
    hf_hub_t *h = hub_with(0);
    counter_t a, c;
    hf_download_opts_t oa = { .progress = count_progress, .progress_arg = &a };
    hf_download_opts_t oc = { .progress = count_progress, .progress_arg = &c };
    hf_future_t *fa, *fc;
    int at_cancel;

    memset(&a, 0, sizeof a);
    memset(&c, 0, sizeof c);
    pthread_mutex_init(&a.mu, NULL);
    pthread_mutex_init(&c.mu, NULL);
    tu_mock_fault(&mock, "{\"path\": \"*/big.bin\", \"port\": \"cdn\", \"throttle_bps\": 400000}");
    fa = dl_opts(h, "big.bin", &oa);
    fc = dl_opts(h, "same/big.bin", &oc);       /* the same blob: one shared download */
    TU_EVENTUALLY(atomic_load(&a.calls) > 2 && atomic_load(&c.calls) > 2);
    ck_assert_int_eq(hf_future_cancel(fa), 0);
    atomic_store(&a.left, 1);
    at_cancel = atomic_load(&c.calls);
    TU_EVENTUALLY(atomic_load(&c.calls) > at_cancel + 3);    /* the download goes on */
    {
        int after = atomic_load(&a.after_leaving);
        ck_assert_int_eq(after, 0);
    }
    pthread_mutex_lock(&c.mu);
    ck_assert_str_eq(c.path, "same/big.bin");
    pthread_mutex_unlock(&c.mu);
    pthread_mutex_lock(&a.mu);
    ck_assert_str_eq(a.path, "big.bin");
    pthread_mutex_unlock(&a.mu);
    hf_future_cancel(fc);
    hf_future_release(fa);
    hf_future_release(fc);
    hf_hub_free(h);
}
END_TEST

/* ---- another process's lock ---------------------------------------------------------------- */

struct freer {
    hf_hub_t *h;
    atomic_int done;
};

static void *free_hub(void *arg)
{
    struct freer *fr = arg;
    hf_hub_free(fr->h);
    atomic_store(&fr->done, 1);
    return NULL;
}

/* A lock held "by another process" (another open file description of the lock file):
 * cancelling the download, or freeing the hub, ends the wait for it. */
START_TEST(a_cancel_or_hf_hub_free_ends_a_wait_for_another_process_lock)
{
    hf_hub_t *h = hub_with(0);
    char etag[65], lock[600];
    struct freer fr;
    pthread_t th;
    hf_future_t *f;
    int fd;

    etag_of(h, "model.bin", etag);
    snprintf(lock, sizeof lock, "mkdir -p '%s/.locks/models--org--model'", cache);
    ck_assert_int_eq(system(lock), 0);
    snprintf(lock, sizeof lock, "%s/.locks/models--org--model/%s.lock", cache, etag);
    fd = open(lock, O_RDWR | O_CREAT, 0664);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(flock(fd, LOCK_EX), 0);

    f = dl_opts(h, "model.bin", NULL);
    tu_sleep_ms(300);                   /* metadata in; the blob waits for the lock */
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_PENDING);
    ck_assert_int_eq(hf_future_cancel(f), 0);
    hf_future_release(f);
    fr.h = h;
    atomic_init(&fr.done, 0);
    ck_assert_int_eq(pthread_create(&th, NULL, free_hub, &fr), 0);
    TU_EVENTUALLY(atomic_load(&fr.done));
    pthread_join(th, NULL);

    /* no cancel at all: hf_hub_free alone ends the wait */
    h = hub_with(0);
    f = dl_opts(h, "model.bin", NULL);
    tu_sleep_ms(300);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_PENDING);
    fr.h = h;
    atomic_store(&fr.done, 0);
    ck_assert_int_eq(pthread_create(&th, NULL, free_hub, &fr), 0);
    TU_EVENTUALLY(atomic_load(&fr.done));
    pthread_join(th, NULL);
    ck_assert_int_ne(hf_future_state(f), HF_FUTURE_FULFILLED);
    hf_future_release(f);
    flock(fd, LOCK_UN);
    close(fd);
}
END_TEST

/* ---- hf_hub_free keeps the partial file ---------------------------------------------------- */

START_TEST(hf_hub_free_keeps_the_partial_file_and_the_next_run_resumes_it)
{
    hf_hub_t *h = hub_with(0);
    char etag[65], partial[600];
    hf_hub_stats_t st;
    hf_future_t *f;
    long long kept;

    etag_of(h, "big.bin", etag);
    snprintf(partial, sizeof partial, "%s/models--org--model/blobs/%s.incomplete", cache, etag);
    tu_mock_fault(&mock, "{\"path\": \"*/big.bin\", \"port\": \"cdn\", \"throttle_bps\": 500000}");
    f = dl_opts(h, "big.bin", NULL);
    TU_EVENTUALLY(file_size(partial) > 300000);
    hf_hub_free(h);
    hf_future_release(f);
    kept = file_size(partial);
    ck_assert_int_gt(kept, 300000);         /* still there, with its bytes */

    tu_mock_reset(&mock);
    h = hub_with(0);
    f = dl_opts(h, "big.bin", NULL);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    hf_hub_stats(h, &st);
    ck_assert_uint_le(st.bytes_received, (uint64_t)(BIG - kept) + 4096);    /* resumed */
    ck_assert_int_eq(file_size(partial), -1);
    hf_future_release(f);
    hf_hub_free(h);
}
END_TEST

/* ---- a spoiled prefix under ranges ---------------------------------------------------------- */

/* A partial file whose bytes are wrong (another client's junk, zero-filled pages after a
 * power cut) is taken as the prefix; when the whole fails the hash, every range is fetched
 * again from byte 0 and the download succeeds. */
START_TEST(a_ranged_download_over_a_spoiled_prefix_starts_over_and_succeeds)
{
    hf_hub_t *h = hub_full(0, 2);       /* big.bin (3 MiB) goes in ranges */
    char etag[65], dir[600];
    unsigned char *junk = calloc(1, 1u << 20), *want = tu_pattern(BIG, 2);
    hf_future_t *f;
    FILE *out;

    etag_of(h, "big.bin", etag);
    write_partial(etag, junk, 1u << 20);        /* 1 MiB of zeros */
    f = dl_opts(h, "big.bin", NULL);
    ck_assert_msg(tu_settle(f) == HF_FUTURE_FULFILLED, "%s",
                  hf_future_state(f) == HF_FUTURE_REJECTED ? hf_future_error(f)->message : "");
    out = fopen(hf_future_value(f), "rb");
    ck_assert_ptr_nonnull(out);
    {
        unsigned char *got = malloc(BIG);
        ck_assert_uint_eq(fread(got, 1, BIG, out), BIG);
        ck_assert_int_eq(memcmp(got, want, BIG), 0);
        free(got);
    }
    fclose(out);
    snprintf(dir, sizeof dir, "%s/models--org--model/blobs", cache);
    ck_assert_int_eq(count_partials(dir), 0);
    hf_future_release(f);
    free(junk);
    free(want);
    hf_hub_free(h);
}
END_TEST

/* ---- 416 ------------------------------------------------------------------------------------ */

/* A 416 to a resumed request starts over from byte 0, once; a 416 with nothing to resume
 * is an error (a server that repeats it cannot make the client loop). */
START_TEST(a_416_restarts_a_resumed_download_once_and_is_an_error_otherwise)
{
    hf_hub_t *h = hub_with(0);
    char etag[65];
    hf_future_t *f;
    long before;

    etag_of(h, "model.bin", etag);
    write_partial(etag, "0123456789", 10);
    tu_mock_fault(&mock, "{\"path\": \"*/model.bin\", \"port\": \"cdn\", \"status\": 416, "
                  "\"count\": 1}");
    f = dl_opts(h, "model.bin", NULL);
    ck_assert_msg(tu_settle(f) == HF_FUTURE_FULFILLED, "%s",
                  hf_future_state(f) == HF_FUTURE_REJECTED ? hf_future_error(f)->message : "");
    hf_future_release(f);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/model.bin"), 2);    /* 416, then all */

    tu_mock_reset(&mock);
    tu_mock_fault(&mock, "{\"path\": \"*/big.bin\", \"port\": \"cdn\", \"status\": 416}");
    f = dl_opts(h, "big.bin", NULL);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    before = tu_mock_count(&mock, "GET", "/big.bin");
    ck_assert_int_le(before, 6);            /* its retries at most, no loop */
    tu_sleep_ms(200);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/big.bin"), before);
    hf_future_release(f);
    hf_hub_free(h);
}
END_TEST

/* ---- signed URLs that expire ---------------------------------------------------------------- */

/* The CDN's signed URLs expire after a second here: later ranges, and a single stream's
 * retry after a reset, meet 403; the client asks the Hub for a fresh URL and goes on. */
START_TEST(a_download_outliving_its_signed_url_gets_a_fresh_one_and_completes)
{
    hf_hub_t *h = hub_full(0, 1);       /* big.bin: 3 ranges of 1 MiB, one after another */
    hf_future_t *f;
    unsigned char *want = tu_pattern(BIG, 2), *got = malloc(BIG);
    FILE *in;
    long gets;

    tu_mock_fault(&mock, "{\"path\": \"*/big.bin\", \"port\": \"cdn\", \"throttle_bps\": 700000}");
    f = dl_opts(h, "big.bin", NULL);
    ck_assert_msg(tu_settle(f) == HF_FUTURE_FULFILLED, "%s",
                  hf_future_state(f) == HF_FUTURE_REJECTED ? hf_future_error(f)->message : "");
    in = fopen(hf_future_value(f), "rb");
    ck_assert_ptr_nonnull(in);
    ck_assert_uint_eq(fread(got, 1, BIG, in), BIG);
    fclose(in);
    ck_assert_int_eq(memcmp(got, want, BIG), 0);
    gets = tu_mock_count(&mock, "GET", "/big.bin");
    ck_assert_msg(gets > 3, "GETs of big.bin: %ld (no range met an expired URL)", gets);
    ck_assert_int_ge(tu_mock_count(&mock, "HEAD", "/resolve/main/big.bin"), 2);
    hf_future_release(f);

    /* a single stream reset after its URL expired: the retry gets a fresh URL */
    tu_mock_reset(&mock);
    tu_mock_fault(&mock, "{\"path\": \"*/model.bin\", \"port\": \"cdn\", \"throttle_bps\": 100000, "
                  "\"reset_after\": 150000, \"count\": 1}");
    f = dl_opts(h, "model.bin", NULL);
    ck_assert_msg(tu_settle(f) == HF_FUTURE_FULFILLED, "%s",
                  hf_future_state(f) == HF_FUTURE_REJECTED ? hf_future_error(f)->message : "");
    ck_assert_int_ge(tu_mock_count(&mock, "HEAD", "/resolve/main/model.bin"), 2);
    hf_future_release(f);
    free(want);
    free(got);
    hf_hub_free(h);
}
END_TEST

/* ---- force ------------------------------------------------------------------------------------ */

START_TEST(a_forced_download_that_is_cancelled_leaves_the_cached_file)
{
    hf_hub_t *h = hub_with(0);
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "model.bin" };
    hf_download_opts_t force = { .force = 1 };
    unsigned char *want = tu_pattern(SMALL, 1);
    hf_future_t *f = dl_opts(h, "model.bin", NULL);
    char *path = NULL;
    FILE *in;
    unsigned char *got = malloc(SMALL);

    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    hf_future_release(f);
    tu_mock_fault(&mock, "{\"path\": \"*/model.bin\", \"port\": \"cdn\", \"throttle_bps\": 20000}");
    f = dl_opts(h, "model.bin", &force);
    TU_EVENTUALLY(tu_mock_count(&mock, "GET", "/model.bin") >= 2);
    ck_assert_int_eq(hf_future_cancel(f), 0);
    hf_future_release(f);
    ck_assert_int_eq(hf_hub_try_cache(h, &ref, &path), 0);
    in = fopen(path, "rb");
    ck_assert_ptr_nonnull(in);
    ck_assert_uint_eq(fread(got, 1, SMALL, in), SMALL);
    fclose(in);
    ck_assert_int_eq(memcmp(got, want, SMALL), 0);
    free(path);
    free(got);
    free(want);
    hf_hub_free(h);
}
END_TEST

/* ---- symlinks off ----------------------------------------------------------------------------- */

START_TEST(with_symlinks_off_a_second_download_keeps_the_copy_and_force_makes_a_new_one)
{
    hf_hub_t *h = hub_with(1);
    hf_download_opts_t force = { .force = 1 };
    struct stat s1, s2, s3;
    hf_future_t *f = dl_opts(h, "config.json", NULL);

    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(lstat(hf_future_value(f), &s1), 0);
    ck_assert(S_ISREG(s1.st_mode));
    hf_future_release(f);
    f = dl_opts(h, "config.json", NULL);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(lstat(hf_future_value(f), &s2), 0);
    ck_assert(s1.st_ino == s2.st_ino);          /* not copied again */
    hf_future_release(f);
    f = dl_opts(h, "config.json", &force);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(lstat(hf_future_value(f), &s3), 0);
    ck_assert(s3.st_ino != s2.st_ino);          /* forced: a fresh copy */
    ck_assert_int_eq((int)s3.st_size, 9);
    hf_future_release(f);
    hf_hub_free(h);
}
END_TEST

/* ---- ~ in HF_HOME ------------------------------------------------------------------------------ */

START_TEST(a_tilde_in_hf_home_and_xdg_cache_home_is_the_home_folder)
{
    hf_hub_config_t cfg;
    hf_error_t e;
    hf_hub_t *h;
    char want[512];

    unsetenv("HF_HUB_CACHE");
    setenv("HOME", cache, 1);
    setenv("HF_HOME", "~/hfhome", 1);
    memset(&cfg, 0, sizeof cfg);
    cfg.endpoint = mock.hub;
    cfg.offline = HF_NO;
    h = hf_hub_new(rt, &cfg, &e);
    ck_assert_msg(h != NULL, "hf_hub_new: %s", e.message);
    snprintf(want, sizeof want, "%s/hfhome/hub", cache);
    ck_assert_str_eq(hf_hub_cache_dir(h), want);
    hf_hub_free(h);

    unsetenv("HF_HOME");
    setenv("XDG_CACHE_HOME", "~/xdg", 1);
    h = hf_hub_new(rt, &cfg, &e);
    ck_assert_msg(h != NULL, "hf_hub_new: %s", e.message);
    snprintf(want, sizeof want, "%s/xdg/huggingface/hub", cache);
    ck_assert_str_eq(hf_hub_cache_dir(h), want);
    hf_hub_free(h);
}
END_TEST

/* ---- callbacks that cancel, on two threads at once ------------------------------------------- */

typedef struct party {
    const char *path;               /* the file whose events make it act */
    hf_future_t *_Atomic self;      /* its snapshot (or download) */
    _Atomic int in, acted;
    struct party *other;
    _Atomic int *met;
    _Atomic int returned;           /* its cancel of the other's call returned */
    _Atomic int late;               /* calls begun after both parties' cancels returned */
} party_t;

/* On an event for its file, outside the transfer loops (the blob's final event and the
 * download's, on I/O pool threads): wait (up to 10 s) until the other party's callback is
 * under way on another thread too, then cancel its own snapshot from inside the callback.
 * (Callbacks must not block; this one does, briefly and never on a loop, to force the
 * interleaving.) */
static void cancel_own_when_both_are_in(const hf_progress_t *p, void *arg)
{
    party_t *me = arg;
    hf_future_t *self = atomic_load(&me->self);

    if (!self || !p->path || strcmp(p->path, me->path) != 0 || atomic_load(&me->acted))
        return;
    if (hfi_tls.drives > 0)     /* a transfer loop (it drives its transfers' promises): */
        return;                 /* waiting there would stall the other file too */
    atomic_store(&me->in, 1);
    for (int i = 0; i < 10000 && !atomic_load(&me->other->in) && !atomic_load(me->met); i++)
        usleep(1000);
    if (atomic_load(&me->other->in) || atomic_load(me->met)) {
        atomic_store(me->met, 1);
        usleep(20000);              /* the other one is inside its callback as well */
        atomic_store(&me->acted, 1);
        hf_future_cancel(self);
    }
    atomic_store(&me->in, 0);
}

START_TEST(two_snapshots_sharing_blobs_that_cancel_themselves_from_callbacks_both_end)
{
    /* S1 acts on model.bin's events, S2 on big.bin's; both snapshots share both blobs.
     * Each blob used to call its listeners under a lock that leaving took: S1's cancel,
     * inside model.bin's call, waited for big.bin's lock, held by the thread in S2's
     * callback, whose cancel waited for model.bin's. */
    hf_hub_t *h = hub_full(0, 0);
    static const char *const files[] = { "model.bin", "big.bin" };
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, NULL };
    _Atomic int met = 0;
    party_t s1 = { "model.bin", NULL, 0, 0, NULL, &met, 0, 0 };
    party_t s2 = { "big.bin", NULL, 0, 0, NULL, &met, 0, 0 };
    hf_snapshot_opts_t o1, o2;
    hf_future_t *f1, *f2;

    s1.other = &s2;
    s2.other = &s1;
    memset(&o1, 0, sizeof o1);
    o1.include = files;
    o1.ninclude = 2;
    o2 = o1;
    o1.progress = o2.progress = cancel_own_when_both_are_in;
    o1.progress_arg = &s1;
    o2.progress_arg = &s2;
    f1 = hf_hub_snapshot(h, &ref, &o1);
    f2 = hf_hub_snapshot(h, &ref, &o2);
    ck_assert_ptr_nonnull(f1);
    ck_assert_ptr_nonnull(f2);
    atomic_store(&s1.self, f1);
    atomic_store(&s2.self, f2);
    ck_assert_msg(hf_future_wait(f1, 60000) == 0 && hf_future_wait(f2, 60000) == 0,
                  "the snapshots never ended (deadlock)");
    ck_assert_msg(atomic_load(&met), "the two callbacks never ran at the same time");
    ck_assert_int_eq(hf_future_state(f1), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(hf_future_state(f2), HF_FUTURE_CANCELLED);
    hf_future_release(f1);
    hf_future_release(f2);
    hf_hub_free(h);
}
END_TEST

/* On its first event in the middle of its body (on its hub's transfer loop): wait (up to
 * 10 s) until the other party is inside its callback too, on its own thread, then cancel
 * the other's download. Each then stays in its callback until its cancel returns, so each
 * cancel meets a call of the other's callback under way. `met` counts the arrivals. */
static void cancel_other_when_both_are_in(const hf_progress_t *p, void *arg)
{
    party_t *me = arg;
    hf_future_t *other = atomic_load(&me->other->self);

    if (atomic_load(&me->returned) && atomic_load(&me->other->returned))
        atomic_fetch_add(&me->late, 1);
    if (!other || atomic_load(&me->acted) || p->file_total == 0 || p->file_done >= p->file_total)
        return;
    atomic_store(&me->acted, 1);
    atomic_fetch_add(me->met, 1);
    for (int i = 0; i < 10000 && atomic_load(me->met) < 2; i++)
        tu_sleep_ms(1);
    if (atomic_load(me->met) == 2)
        hf_future_cancel(other);
    atomic_store(&me->returned, 1);
}

START_TEST(two_downloads_whose_callbacks_cancel_each_others_calls_both_end)
{
    /* One hub each, so each body's events come on a transfer loop of its own. A's callback
     * cancels B while B's callback, under way, cancels A: each cancel used to wait for the
     * other's callback to return, forever. Now the second to wait sees the cycle and goes
     * on; its callback returns, and with it the other's cancel. */
    hf_hub_t *ha = hub_with(0), *hb = hub_with(0);
    _Atomic int met = 0;
    party_t a = { "model.bin", NULL, 0, 0, NULL, &met, 0, 0 };
    party_t b = { "big.bin", NULL, 0, 0, NULL, &met, 0, 0 };
    hf_download_opts_t oa = { .progress = cancel_other_when_both_are_in, .progress_arg = &a };
    hf_download_opts_t ob = { .progress = cancel_other_when_both_are_in, .progress_arg = &b };
    hf_future_t *fa, *fb;
    char dir[600];

    a.other = &b;
    b.other = &a;
    tu_mock_fault(&mock, "{\"path\": \"*.bin\", \"port\": \"cdn\", \"throttle_bps\": 100000}");
    fa = dl_opts(ha, a.path, &oa);
    fb = dl_opts(hb, b.path, &ob);
    atomic_store(&a.self, fa);
    atomic_store(&b.self, fb);
    /* the watchdog: both cancels return (a hang fails here rather than hangs) */
    for (int i = 0; i < 30000 && !(atomic_load(&a.returned) && atomic_load(&b.returned)); i++)
        tu_sleep_ms(1);
    ck_assert_msg(atomic_load(&a.returned) && atomic_load(&b.returned),
                  "the cancels never returned (they wait for each other)");
    ck_assert_msg(atomic_load(&met) == 2, "the two callbacks never ran at the same time");
    ck_assert_int_eq(hf_future_wait(fa, 30000), 0);
    ck_assert_int_eq(hf_future_wait(fb, 30000), 0);
    ck_assert_int_eq(hf_future_state(fa), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(hf_future_state(fb), HF_FUTURE_CANCELLED);
    snprintf(dir, sizeof dir, "%s/models--org--model/blobs", cache);
    TU_EVENTUALLY(count_partials(dir) == 0);    /* both unwanted partial files removed */
    hf_hub_free(ha);            /* nothing of either download runs any more */
    hf_hub_free(hb);
    ck_assert_int_eq(atomic_load(&a.late), 0);
    ck_assert_int_eq(atomic_load(&b.late), 0);
    hf_future_release(fa);
    hf_future_release(fb);
}
END_TEST

/* ---- relative cache folders ----------------------------------------------------------------- */

static void expect_cache_dir(const char *cache_dir, const char *want)
{
    hf_hub_config_t cfg;
    hf_error_t e;
    hf_hub_t *h;

    memset(&cfg, 0, sizeof cfg);
    cfg.endpoint = mock.hub;
    cfg.offline = HF_NO;
    cfg.cache_dir = cache_dir;
    h = hf_hub_new(rt, &cfg, &e);
    ck_assert_msg(h != NULL, "hf_hub_new: %s", e.message);
    ck_assert_str_eq(hf_hub_cache_dir(h), want);
    hf_hub_free(h);
}

START_TEST(a_relative_cache_folder_is_the_current_folders_and_a_missing_one_says_so)
{
    hf_hub_config_t cfg;
    hf_error_t e;
    hf_hub_t *h;
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "config.json" };
    hf_future_t *f;
    char want[512], cwd[512], prefix[520];

    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(cache), 0);
    unsetenv("HF_HUB_CACHE");
    unsetenv("HF_HOME");
    unsetenv("XDG_CACHE_HOME");
    snprintf(want, sizeof want, "%s/rel", cache);
    expect_cache_dir("rel", want);
    expect_cache_dir("./rel/", want);
    setenv("HF_HUB_CACHE", "./hc", 1);
    snprintf(want, sizeof want, "%s/hc", cache);
    expect_cache_dir(NULL, want);
    unsetenv("HF_HUB_CACHE");
    setenv("HF_HOME", "hh", 1);
    snprintf(want, sizeof want, "%s/hh/hub", cache);
    expect_cache_dir(NULL, want);

    /* what the hub hands back is absolute, and right after the program changes folder */
    memset(&cfg, 0, sizeof cfg);
    cfg.endpoint = mock.hub;
    cfg.offline = HF_NO;
    cfg.cache_dir = "rel";
    h = hf_hub_new(rt, &cfg, &e);
    ck_assert_msg(h != NULL, "hf_hub_new: %s", e.message);
    ck_assert_int_eq(chdir("/"), 0);
    f = hf_hub_download(h, &ref, NULL);
    ck_assert_int_eq(hf_future_wait(f, 60000), 0);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_FULFILLED);
    snprintf(prefix, sizeof prefix, "%s/rel/models--org--model/snapshots/", cache);
    ck_assert_msg(strncmp(hf_future_value(f), prefix, strlen(prefix)) == 0, "%s",
                  (const char *)hf_future_value(f));
    ck_assert_int_eq(access(hf_future_value(f), R_OK), 0);
    hf_future_release(f);
    hf_hub_free(h);

    /* no $HOME: the password database's home, as Python's expanduser */
    unsetenv("HF_HOME");
    unsetenv("HOME");
    cfg.cache_dir = NULL;
    {
        struct passwd *pw = getpwuid(getuid());
        ck_assert_ptr_nonnull(pw);
        snprintf(want, sizeof want, "%s/.cache/huggingface/hub", pw->pw_dir);
        expect_cache_dir(NULL, want);
    }
    /* nothing to go by: a user with no home either (a uid without a password entry, in a
     * child, where root can take one) */
    if (getuid() == 0) {
        pid_t pid = fork();
        int st = 0;
        ck_assert_int_ne(pid, -1);
        if (pid == 0) {
            /* no thread is started here (TSan refuses threads after a fork of a threaded
             * process): the configuration is refused before the hub touches `rt` */
            if (setuid(4242421) != 0 || getpwuid(4242421) != NULL)
                _exit(3);
            if (hf_hub_new(rt, &cfg, &e) != NULL)
                _exit(4);
            _exit(e.code == HF_EINVAL && strstr(e.message, "HOME is not set") ? 0 : 5);
        }
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: status %d", st);
    }
    ck_assert_int_eq(chdir(cwd), 0);
}
END_TEST

static Suite *lifecycle_suite(void)
{
    Suite *s = suite_create("lifecycle");
    TCase *tc = tcase_create("hub");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_requester_that_left_gets_no_more_progress_and_each_gets_its_own_path);
    tcase_add_test(tc, a_relative_cache_folder_is_the_current_folders_and_a_missing_one_says_so);
    tcase_add_test(tc, two_snapshots_sharing_blobs_that_cancel_themselves_from_callbacks_both_end);
    tcase_add_test(tc, two_downloads_whose_callbacks_cancel_each_others_calls_both_end);
    tcase_add_test(tc, a_cancel_or_hf_hub_free_ends_a_wait_for_another_process_lock);
    tcase_add_test(tc, hf_hub_free_keeps_the_partial_file_and_the_next_run_resumes_it);
    tcase_add_test(tc, a_ranged_download_over_a_spoiled_prefix_starts_over_and_succeeds);
    tcase_add_test(tc, a_416_restarts_a_resumed_download_once_and_is_an_error_otherwise);
    tcase_add_test(tc, a_forced_download_that_is_cancelled_leaves_the_cached_file);
    tcase_add_test(tc, with_symlinks_off_a_second_download_keeps_the_copy_and_force_makes_a_new_one);
    tcase_add_test(tc, a_tilde_in_hf_home_and_xdg_cache_home_is_the_home_folder);
    suite_add_tcase(s, tc);
    tc = tcase_create("expiry");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup_expiring, teardown);
    tcase_add_test(tc, a_download_outliving_its_signed_url_gets_a_fresh_one_and_completes);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(lifecycle_suite)
