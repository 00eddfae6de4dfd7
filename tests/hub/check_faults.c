/*
 * check_faults.c - a blob download against faults that are neither the network's nor the
 * disk's, against hf-mock-hub: a runtime freed while a download's first step waits in the
 * I/O pool's queue, and a Hub that gives two sizes for one blob (one etag).
 */
#include "common/testutil.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mockhub.h"

#define SIZE 300000u
#define RESOLVE "/org/model/resolve/main/model.bin"

static tu_mock_t mock;
static char cache[256];
static unsigned char *content;

static void setup(void)
{
    content = tu_pattern(SIZE, 7);
    tu_mock_root(&mock);
    tu_mock_file(&mock, "model", "org/model", "model.bin", content, SIZE);
    tu_mock_settings(&mock, "model", "org/model", "{\"lfs\": [\"*.bin\"]}");
    tu_mock_start(&mock, NULL);
    tu_tmpdir(cache, sizeof cache, "faults-cache");
}

static void teardown(void)
{
    tu_mock_stop(&mock);
    tu_rm_tree(cache);
    free(content);
}

static hf_future_t *download(hf_hub_t *h)
{
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "model.bin" };
    hf_future_t *f = hf_hub_download(h, &ref, NULL);
    ck_assert_ptr_nonnull(f);
    return f;
}

/* The commit and the etag (blob name) of model.bin, from one HEAD (which writes nothing
 * to the cache). */
static void metadata(hf_hub_t *h, char commit[41], char etag[65])
{
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "model.bin" };
    hf_future_t *f = hf_hub_file_metadata(h, &ref);
    const hf_file_metadata_t *m;
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    m = hf_future_value(f);
    snprintf(commit, 41, "%s", m->commit);
    snprintf(etag, 65, "%s", m->etag);
    hf_future_release(f);
}

/* ---- a runtime freed while the download's start waits in the queue ------------------------ */

/* Holds the I/O pool's one free thread until hf_runtime_free stops the pool (a post from a
 * task that still runs then says HF_ECANCELED): hf_runtime_free waits for it. */
typedef struct blocker {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    hf_executor_t *io;
    int running;
} blocker_t;

static void nothing(void *arg)
{
    (void)arg;
}

static void block_until_stopped(void *arg)
{
    blocker_t *b = arg;
    struct timespec nap = { 0, 2 * 1000000L };

    pthread_mutex_lock(&b->mu);
    b->running = 1;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    while (hf_executor_post(b->io, nothing, NULL) == 0)
        nanosleep(&nap, NULL);
}

START_TEST(a_runtime_freed_while_a_blob_download_waits_to_start_settles_it_cancelled)
{
    blocker_t blk = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0 };
    hf_runtime_config_t rc;
    hf_hub_config_t cfg;
    hf_runtime_t *rt;
    hf_hub_t *h;
    hf_future_t *f;
    char commit[41], etag[65], fifo[512], line[64];
    int fd;

    /* one I/O thread for the steps (the engine's one loop does not count toward the cap) */
    memset(&rc, 0, sizeof rc);
    rc.compute_threads = 1;
    rc.io_threads_max = 1;
    rt = hf_runtime_new(&rc);
    ck_assert_ptr_nonnull(rt);
    blk.io = hf_runtime_io(rt);
    memset(&cfg, 0, sizeof cfg);
    cfg.engine_threads = 1;
    h = tu_hub_at(rt, mock.hub, cache, "", &cfg);
    metadata(h, commit, etag);

    /* refs/main is a FIFO: the step after the HEAD, which checks the ref before it joins
     * the blob download, stops there (on the pool's one step thread) until we write it */
    snprintf(fifo, sizeof fifo, "mkdir -p '%s/models--org--model/refs'", cache);
    ck_assert_int_eq(system(fifo), 0);
    snprintf(fifo, sizeof fifo, "%s/models--org--model/refs/main", cache);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    f = download(h);
    fd = open(fifo, O_WRONLY);          /* returns once that step opened it to read */
    ck_assert_int_ge(fd, 0);
    /* queued first, so it takes the thread when that step returns, and the blob's start,
     * posted by that step, waits behind it */
    ck_assert_int_eq(hf_executor_post(blk.io, block_until_stopped, &blk), 0);
    snprintf(line, sizeof line, "%s\n", commit);
    ck_assert_int_eq(write(fd, line, strlen(line)), (ssize_t)strlen(line));
    close(fd);
    pthread_mutex_lock(&blk.mu);
    while (!blk.running)
        pthread_cond_wait(&blk.cv, &blk.mu);
    pthread_mutex_unlock(&blk.mu);

    hf_runtime_free(rt);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_CANCELLED);
    hf_future_release(f);
    hf_hub_free(h);                     /* returns: nothing holds the hub any more */
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/model.bin"), 0);     /* never started */
}
END_TEST

/* The same for a download's very first step and an API request's: each was a posted task,
 * dropped by the freed runtime with what it owned, its future pending for ever and the hub
 * held (hf_hub_free waited). */
START_TEST(a_runtime_freed_while_a_download_and_an_api_request_wait_to_begin_cancels_them)
{
    blocker_t blk = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0 };
    hf_file_ref_t ref = { "org/model", HF_REPO_MODEL, NULL, "model.bin" };
    hf_runtime_config_t rc;
    hf_hub_config_t cfg;
    hf_runtime_t *rt;
    hf_hub_t *h;
    hf_future_t *f[3];
    char commit[41], etag[65];

    memset(&rc, 0, sizeof rc);
    rc.compute_threads = 1;
    rc.io_threads_max = 1;      /* for the steps; the engine's loop does not count */
    rt = hf_runtime_new(&rc);
    ck_assert_ptr_nonnull(rt);
    blk.io = hf_runtime_io(rt);
    memset(&cfg, 0, sizeof cfg);
    cfg.engine_threads = 1;
    h = tu_hub_at(rt, mock.hub, cache, "", &cfg);
    metadata(h, commit, etag);          /* the engine's loop runs (io_blocked 1), for good */
    ck_assert_int_eq(hf_executor_post(blk.io, block_until_stopped, &blk), 0);
    pthread_mutex_lock(&blk.mu);
    while (!blk.running)
        pthread_cond_wait(&blk.cv, &blk.mu);
    pthread_mutex_unlock(&blk.mu);
    /* no thread left for their first steps: they wait in the queue */
    f[0] = download(h);
    f[1] = hf_hub_repo_info(h, &ref);
    f[2] = hf_hub_file_metadata(h, &ref);
    for (int i = 0; i < 3; i++) {
        ck_assert_ptr_nonnull(f[i]);
        ck_assert_int_eq(hf_future_state(f[i]), HF_FUTURE_PENDING);
    }

    hf_runtime_free(rt);
    for (int i = 0; i < 3; i++) {
        ck_assert_msg(tu_settle(f[i]) == HF_FUTURE_CANCELLED, "future %d: state %d", i,
                      hf_future_state(f[i]));
        hf_future_release(f[i]);
    }
    hf_hub_free(h);                     /* returns: nothing holds the hub any more */
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/api/models/org/model"), 0);
    ck_assert_int_eq(tu_mock_count(&mock, "HEAD", RESOLVE), 1);        /* metadata()'s */
}
END_TEST

/* ---- two sizes for one etag ---------------------------------------------------------------- */

/* The HEAD of model.bin after the next `skip` says it has one byte less than it has: the
 * fault adds a second X-Linked-Size, and the last of a repeated header is the one read. */
static void lie_about_the_size_once(unsigned skip)
{
    char json[300];
    snprintf(json, sizeof json,
             "{\"path\": \"%s\", \"port\": \"hub\", \"method\": \"HEAD\", \"skip\": %u, "
             "\"count\": 1, \"headers\": {\"X-Linked-Size\": \"%u\"}}",
             RESOLVE, skip, SIZE - 1);
    tu_mock_fault(&mock, json);
}

/* Hold the blob's lock as another process would (a descriptor to close); a download
 * started then waits for it, under way. */
static int hold_blob_lock(const char *etag)
{
    char lock[700];
    int fd;
    snprintf(lock, sizeof lock, "mkdir -p '%s/.locks/models--org--model'", cache);
    ck_assert_int_eq(system(lock), 0);
    snprintf(lock, sizeof lock, "%s/.locks/models--org--model/%s.lock", cache, etag);
    fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(flock(fd, LOCK_EX), 0);
    return fd;
}

/* Start a download of model.bin and wait until its blob download has begun (made blobs/,
 * where it then waits for the lock), then a second one that meets it under way. */
static void start_two(hf_hub_t *h, hf_future_t **a, hf_future_t **b)
{
    hf_hub_stats_t st;
    char blobs[400];

    *a = download(h);
    snprintf(blobs, sizeof blobs, "%s/models--org--model/blobs", cache);
    TU_EVENTUALLY(access(blobs, F_OK) == 0);
    *b = download(h);
    TU_EVENTUALLY(hf_hub_stats(h, &st) == 0 && st.downloads_shared == 1);
    ck_assert_int_eq(hf_future_state(*a), HF_FUTURE_PENDING);
}

static void check_first_whole_and_second_refused(hf_future_t *a, hf_future_t *b)
{
    const hf_error_t *e;
    char want[64];

    ck_assert_int_eq(tu_settle(a), HF_FUTURE_FULFILLED);
    ck_assert(tu_same_bytes(hf_future_value(a), content, SIZE));
    ck_assert_int_eq(tu_settle(b), HF_FUTURE_REJECTED);
    e = hf_future_error(b);
    ck_assert_msg(e->code == HF_EPROTO, "%s: %s", hf_strerror(e->code), e->message);
    ck_assert_msg(strstr(e->message, "model.bin") != NULL, "%s", e->message);
    snprintf(want, sizeof want, "%u", SIZE - 1);
    ck_assert_msg(strstr(e->message, want) != NULL, "%s", e->message);
    snprintf(want, sizeof want, "%u", SIZE);
    ck_assert_msg(strstr(e->message, want) != NULL, "%s", e->message);
    /* one HEAD each, the bytes fetched once: nothing was tried again */
    ck_assert_int_eq(tu_mock_count(&mock, "HEAD", RESOLVE), 3);    /* with metadata()'s */
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/model.bin"), 1);
}

START_TEST(a_second_size_for_a_committed_blob_is_a_protocol_error_without_a_download)
{
    hf_runtime_t *rt = tu_runtime(2);
    hf_hub_t *h = tu_hub_at(rt, mock.hub, cache, "", NULL);
    char commit[41], etag[65];
    hf_future_t *a, *b;

    metadata(h, commit, etag);
    lie_about_the_size_once(1);
    a = download(h);
    ck_assert_int_eq(tu_settle(a), HF_FUTURE_FULFILLED);
    b = download(h);
    check_first_whole_and_second_refused(a, b);
    hf_future_release(a);
    hf_future_release(b);
    hf_hub_free(h);
    hf_runtime_free(rt);
}
END_TEST

START_TEST(a_second_size_for_a_blob_under_way_is_a_protocol_error_and_the_first_completes)
{
    hf_runtime_t *rt = tu_runtime(2);
    hf_hub_t *h = tu_hub_at(rt, mock.hub, cache, "", NULL);
    char commit[41], etag[65];
    hf_future_t *a, *b;
    int fd;

    metadata(h, commit, etag);
    lie_about_the_size_once(1);
    fd = hold_blob_lock(etag);
    start_two(h, &a, &b);
    close(fd);
    check_first_whole_and_second_refused(a, b);
    hf_future_release(a);
    hf_future_release(b);
    hf_hub_free(h);
    hf_runtime_free(rt);
}
END_TEST

START_TEST(a_download_of_the_wrong_size_fails_alone_and_one_of_the_right_size_is_served)
{
    hf_runtime_t *rt = tu_runtime(2);
    hf_hub_t *h = tu_hub_at(rt, mock.hub, cache, "", NULL);
    char commit[41], etag[65];
    hf_future_t *a, *b;
    int fd;

    metadata(h, commit, etag);
    lie_about_the_size_once(0);         /* the first download's HEAD is the wrong one */
    fd = hold_blob_lock(etag);
    start_two(h, &a, &b);
    close(fd);
    ck_assert_int_eq(tu_settle(a), HF_FUTURE_REJECTED);
    ck_assert_msg(hf_future_error(a)->code == HF_ECORRUPT, "%s", hf_future_error(a)->message);
    ck_assert_int_eq(tu_settle(b), HF_FUTURE_FULFILLED);
    ck_assert(tu_same_bytes(hf_future_value(b), content, SIZE));
    ck_assert_int_eq(tu_mock_count(&mock, "HEAD", RESOLVE), 3);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/model.bin"), 2);
    hf_future_release(a);
    hf_future_release(b);
    hf_hub_free(h);
    hf_runtime_free(rt);
}
END_TEST

static Suite *faults_suite(void)
{
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("blob");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_runtime_freed_while_a_blob_download_waits_to_start_settles_it_cancelled);
    tcase_add_test(tc, a_runtime_freed_while_a_download_and_an_api_request_wait_to_begin_cancels_them);
    tcase_add_test(tc, a_second_size_for_a_committed_blob_is_a_protocol_error_without_a_download);
    tcase_add_test(tc, a_second_size_for_a_blob_under_way_is_a_protocol_error_and_the_first_completes);
    tcase_add_test(tc, a_download_of_the_wrong_size_fails_alone_and_one_of_the_right_size_is_served);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(faults_suite)
