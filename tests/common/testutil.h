/*
 * testutil.h - small helpers shared by the Check suites.
 *
 * Nothing here measures time to decide a result: waits poll a condition with a generous
 * deadline (60 s) and fail only if it never becomes true.
 */
#ifndef HF_TESTUTIL_H
#define HF_TESTUTIL_H

#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hfasync.h"
#include "core/thread.h"

#define TU_DEADLINE_MS 60000

/* The transfer engine's poller backends, for loop tests (tcase_add_loop_test(..., 0,
 * TU_POLLERS)): 0 the default (epoll where configure found it), 1 the portable poll()
 * fallback, chosen through HFASYNC_POLLER. Check forks per test, so the choice stays
 * within the test that makes it. */
#define TU_POLLERS 2
static inline void tu_use_poller(int i)
{
    if (i == 1)
        setenv("HFASYNC_POLLER", "poll", 1);
    else
        unsetenv("HFASYNC_POLLER");
}

static inline void tu_sleep_ms(unsigned ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static inline uint64_t tu_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The name the calling thread gave itself (hfi_thread_set_name, on every platform) into
 * `name`, and the kernel's name for it into `os_name` where the platform both sets and
 * reads thread names; elsewhere `os_name` is a copy of `name`, there being nothing else
 * to compare it with. Both buffers hold 16 bytes. */
static inline void tu_thread_names(char *name, char *os_name)
{
    snprintf(name, 16, "%s", hfi_thread_name());
#if defined(HAVE_PTHREAD_GETNAME_NP) && defined(HAVE_PTHREAD_SETNAME_NP)
    if (pthread_getname_np(pthread_self(), os_name, 16) != 0)
        snprintf(os_name, 16, "(unreadable)");
#else
    snprintf(os_name, 16, "%s", name);
#endif
}

/* Poll `cond` until it holds; fail the test if it does not within TU_DEADLINE_MS. */
#define TU_EVENTUALLY(cond)                                                             \
    do {                                                                                \
        uint64_t tu_until_ = tu_now_ms() + TU_DEADLINE_MS;                              \
        while (!(cond)) {                                                               \
            ck_assert_msg(tu_now_ms() < tu_until_, "never became true: %s", #cond);     \
            tu_sleep_ms(1);                                                             \
        }                                                                               \
    } while (0)

/* Wait for `f` to settle (fails the test after TU_DEADLINE_MS) and return its state. */
static inline hf_future_state_t tu_settle(hf_future_t *f)
{
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(hf_future_wait(f, TU_DEADLINE_MS), 0);
    return hf_future_state(f);
}

/* A fresh folder /tmp/hfasync-<name>-XXXXXX into `buf`, and its removal with all inside. */
static inline void tu_tmpdir(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "/tmp/hfasync-%s-XXXXXX", name);
    ck_assert_ptr_nonnull(mkdtemp(buf));
}

static inline void tu_rm_tree(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    ck_assert_int_eq(system(cmd), 0);
}

/* 1 if the file at `path` holds exactly the `n` bytes at `want`. */
static inline int tu_same_bytes(const char *path, const void *want, size_t n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *got = malloc(n + 1);
    size_t r = f && got ? fread(got, 1, n + 1, f) : 0;
    int ok = f && got && r == n && memcmp(got, want, n) == 0;
    if (f)
        fclose(f);
    free(got);
    return ok;
}

/* How many files (not folders) below `dir` have a name ending with `suffix` (0 if `dir`
 * is missing). */
static inline int tu_count_files_named(const char *dir, const char *suffix)
{
    char cmd[1400], out[64] = "";
    FILE *p;
    snprintf(cmd, sizeof cmd, "find '%s' ! -type d -name '*%s' 2>/dev/null | wc -l", dir, suffix);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(fgets(out, sizeof out, p));
    pclose(p);
    return atoi(out);
}

/* A runtime with `threads` compute workers (0: default). */
static inline hf_runtime_t *tu_runtime(unsigned threads)
{
    hf_runtime_config_t cfg;
    hf_runtime_t *rt;
    memset(&cfg, 0, sizeof cfg);
    cfg.compute_threads = threads;
    rt = hf_runtime_new(&cfg);
    ck_assert_ptr_nonnull(rt);
    return rt;
}

/* A value whose destruction is counted. */
typedef struct tu_value {
    atomic_int *freed;
    int payload;
} tu_value_t;

static inline tu_value_t *tu_value_new(atomic_int *freed, int payload)
{
    tu_value_t *v = malloc(sizeof *v);
    ck_assert_ptr_nonnull(v);
    v->freed = freed;
    v->payload = payload;
    return v;
}

static inline void tu_value_free(void *p)
{
    tu_value_t *v = p;
    atomic_fetch_add(v->freed, 1);
    free(v);
}

/* `n` pseudo-random bytes (xorshift32 from `seed`; malloc'd): the same for the same seed. */
static inline unsigned char *tu_pattern(size_t n, unsigned seed)
{
    unsigned char *p = malloc(n ? n : 1);
    uint32_t x = seed * 2654435761u + 1;
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
    return p;
}

/* Run one suite with automake's test harness conventions (exit 0 = pass). */
#define TU_MAIN(make_suite)                                                             \
    int main(void)                                                                      \
    {                                                                                   \
        SRunner *sr = srunner_create(make_suite());                                     \
        int failed;                                                                     \
        srunner_run_all(sr, CK_NORMAL);                                                 \
        failed = srunner_ntests_failed(sr);                                             \
        srunner_free(sr);                                                               \
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;                                    \
    }

#endif /* HF_TESTUTIL_H */
