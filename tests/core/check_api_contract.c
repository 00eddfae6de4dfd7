/*
 * check_api_contract.c - every public function against its header: NULL for each pointer,
 * out-of-range values, settled and released objects, and the error codes the header lists.
 *
 * Public API only (hfasync.h). Where a header is silent about NULL the library convention
 * holds: int functions return HF_EINVAL, pointer functions NULL, free/release accept NULL.
 * Nothing here touches the network: the hub is offline and points at 127.0.0.1:1.
 */
#include <check.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hfasync.h"

#define DEADLINE_MS 60000

static atomic_int calls;

static void count_destroy(void *p)
{
    (void)p;
    atomic_fetch_add(&calls, 1);
}

static void count_hook(void *arg)
{
    (void)arg;
    atomic_fetch_add(&calls, 1);
}

static void resolve_next(hf_future_t *done, hf_promise_t *next, void *arg)
{
    (void)done;
    (void)arg;
    hf_promise_resolve(next, NULL, NULL);
}

static void fin_noop(hf_future_t *done, void *arg)
{
    (void)done;
    (void)arg;
}

static void post_noop(void *arg)
{
    (void)arg;
}

static void *task_value(void *arg, hf_error_t *err)
{
    (void)err;
    return arg;
}

static void *task_reject(void *arg, hf_error_t *err)
{
    (void)arg;
    hf_error_set(err, HF_EIO, 0, "task failed");
    return NULL;
}

static void *task_where(void *arg, hf_error_t *err)
{
    int *out = arg;
    (void)err;
    out[0] = hf_current_executor() != NULL;
    out[1] = hf_current_worker();
    out[2] = hf_cancel_requested();
    return NULL;
}

static void on_bad_blob(const char *blob, void *arg)
{
    (void)blob;
    (void)arg;
}

/* Wait for `f` (a new reference, released here) and return its error code (0 if fulfilled). */
static int settled_code(hf_future_t *f)
{
    const hf_error_t *e;
    int code;

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(hf_future_wait(f, DEADLINE_MS), 0);
    e = hf_future_error(f);
    code = hf_future_state(f) == HF_FUTURE_FULFILLED ? 0 : e ? e->code : 1;
    hf_future_release(f);
    return code;
}

/* ---- futures and promises ------------------------------------------------------------- */

START_TEST(futures_and_promises_refuse_bad_arguments_with_the_documented_codes)
{
    hf_promise_t *p = hf_promise_new(), *q = hf_promise_new();
    hf_future_t *f, *g, *fs[2], *pending;
    hf_error_t e = { HF_EIO, 0, "io" }, zero = { 0, 0, "" }, pos = { 3, 0, "" };
    int v = 1;

    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(q);
    ck_assert_ptr_nonnull(HF_INLINE);
    ck_assert_ptr_eq(hf_executor_inline(), HF_INLINE);
    ck_assert_ptr_null(hf_executor_runtime(HF_INLINE));
    ck_assert_uint_gt(hf_future_sizeof(), 0);
    ck_assert_int_eq(hf_cancel_requested(), 0);

    /* NULL promise */
    ck_assert_ptr_null(hf_promise_future(NULL));
    ck_assert_int_eq(hf_promise_resolve(NULL, &v, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_promise_reject(NULL, &e), HF_EINVAL);
    ck_assert_int_eq(hf_promise_rejectf(NULL, HF_EIO, 0, "x"), HF_EINVAL);
    ck_assert_int_eq(hf_promise_adopt(NULL, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_promise_on_cancel(NULL, count_hook, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_promise_is_cancelled(NULL), 0);
    ck_assert_int_eq(hf_promise_bind_thread(NULL), HF_EINVAL);
    hf_promise_free(NULL);

    /* bad arguments on a live promise leave it pending */
    f = hf_promise_future(p);
    ck_assert_int_eq(hf_promise_reject(p, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_promise_reject(p, &zero), HF_EINVAL);
    ck_assert_int_eq(hf_promise_reject(p, &pos), HF_EINVAL);
    ck_assert_int_eq(hf_promise_rejectf(p, 0, 0, "x"), HF_EINVAL);
    ck_assert_int_eq(hf_promise_rejectf(p, 1, 0, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_promise_adopt(p, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_promise_on_cancel(p, NULL, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_promise_adopt(p, f), HF_EDEADLK);      /* its own future */
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_PENDING);
    ck_assert_int_eq(hf_promise_on_cancel(p, count_hook, NULL), 0);
    ck_assert_int_eq(hf_promise_on_cancel(p, count_hook, NULL), HF_ESTATE);   /* a second hook */

    /* settled once; a second settlement is HF_ESTATE and leaves the value to the caller */
    atomic_store(&calls, 0);
    ck_assert_int_eq(hf_promise_resolve(p, &v, count_destroy), 0);
    ck_assert_int_eq(hf_promise_resolve(p, &v, count_destroy), HF_ESTATE);
    ck_assert_int_eq(hf_promise_reject(p, &e), HF_ESTATE);
    ck_assert_int_eq(hf_promise_rejectf(p, HF_EIO, 0, NULL), HF_ESTATE);
    ck_assert_int_eq(hf_promise_on_cancel(p, count_hook, NULL), HF_ESTATE);
    ck_assert_int_eq(hf_promise_bind_thread(p), HF_ESTATE);
    ck_assert_int_eq(hf_future_cancel(f), HF_ESTATE);
    ck_assert_int_eq(hf_promise_adopt(p, f), HF_EDEADLK);      /* its own future, first */
    g = hf_future_resolved(NULL, NULL);
    ck_assert_int_eq(hf_promise_adopt(p, g), HF_ESTATE);
    hf_future_release(g);
    ck_assert_int_eq(atomic_load(&calls), 0);   /* neither destroy nor the dropped hook ran */
    ck_assert_ptr_eq(hf_future_value(f), &v);
    ck_assert_ptr_null(hf_future_error(f));
    hf_promise_free(p);                         /* settled: the future keeps its value */
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_FULFILLED);
    hf_future_release(f);
    ck_assert_int_eq(atomic_load(&calls), 1);   /* the destructor, once */

    /* a message may be NULL; a promise freed unsettled is a broken promise */
    g = hf_promise_future(q);
    ck_assert_int_eq(hf_promise_rejectf(q, HF_EIO, 404, NULL), 0);
    ck_assert_int_eq(hf_future_error(g)->code, HF_EIO);
    ck_assert_int_eq(hf_future_error(g)->http_status, 404);
    ck_assert_str_eq(hf_future_error(g)->message, "");
    ck_assert_ptr_null(hf_future_value(g));
    hf_promise_free(q);
    hf_future_release(g);
    q = hf_promise_new();
    g = hf_promise_future(q);
    hf_promise_free(q);
    ck_assert_int_eq(hf_future_state(g), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(g)->code, HF_EBROKEN);
    hf_future_release(g);

    /* on_cancel on a cancelled promise runs at once; bind_thread on a pending one is 0 */
    q = hf_promise_new();
    g = hf_promise_future(q);
    ck_assert_int_eq(hf_promise_bind_thread(q), 0);
    ck_assert_int_eq(hf_future_wait(g, 0), HF_EDEADLK);
    ck_assert_int_eq(hf_future_cancel(g), 0);
    ck_assert_int_eq(hf_future_cancel(g), HF_ESTATE);
    ck_assert_int_eq(hf_promise_is_cancelled(q), 1);
    atomic_store(&calls, 0);
    ck_assert_int_eq(hf_promise_on_cancel(q, count_hook, NULL), 0);
    ck_assert_int_eq(atomic_load(&calls), 1);
    ck_assert_int_eq(hf_future_error(g)->code, HF_ECANCELED);
    ck_assert_int_eq(hf_promise_resolve(q, &v, count_destroy), HF_ESTATE);
    ck_assert_int_eq(atomic_load(&calls), 1);
    hf_promise_free(q);
    hf_future_release(g);

    /* ready-made futures */
    ck_assert_ptr_null(hf_future_rejected(0, 0, "x"));
    ck_assert_ptr_null(hf_future_rejected(1, 0, NULL));
    f = hf_future_rejected(HF_ENOENT, 0, NULL);
    ck_assert_ptr_nonnull(f);
    ck_assert_str_eq(hf_future_error(f)->message, "");
    ck_assert_int_eq(settled_code(f), HF_ENOENT);
    f = hf_future_resolved(NULL, NULL);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_FULFILLED);
    ck_assert_ptr_null(hf_future_value(f));

    /* NULL futures, executors, functions and states */
    ck_assert_int_eq(hf_future_state(NULL), HF_FUTURE_PENDING);
    ck_assert_ptr_null(hf_future_value(NULL));
    ck_assert_ptr_null(hf_future_error(NULL));
    ck_assert_ptr_null(hf_future_retain(NULL));
    hf_future_release(NULL);
    ck_assert_int_eq(hf_future_cancel(NULL), HF_EINVAL);
    ck_assert_int_eq(hf_future_wait(NULL, 0), HF_EINVAL);
    ck_assert_int_eq(hf_future_wait(NULL, -1), HF_EINVAL);
    ck_assert_ptr_null(hf_future_then(NULL, HF_INLINE, resolve_next, NULL));
    ck_assert_ptr_null(hf_future_then(f, NULL, resolve_next, NULL));
    ck_assert_ptr_null(hf_future_then(f, HF_INLINE, NULL, NULL));
    ck_assert_ptr_null(hf_future_catch(NULL, HF_INLINE, resolve_next, NULL));
    ck_assert_ptr_null(hf_future_catch(f, NULL, resolve_next, NULL));
    ck_assert_ptr_null(hf_future_catch(f, HF_INLINE, NULL, NULL));
    ck_assert_ptr_null(hf_future_then_on(NULL, HF_INLINE, HF_ON_ANY, resolve_next, NULL));
    ck_assert_ptr_null(hf_future_then_on(f, NULL, HF_ON_ANY, resolve_next, NULL));
    ck_assert_ptr_null(hf_future_then_on(f, HF_INLINE, HF_ON_ANY, NULL, NULL));
    ck_assert_ptr_null(hf_future_then_on(f, HF_INLINE, 0, resolve_next, NULL));
    ck_assert_ptr_null(hf_future_then_on(f, HF_INLINE, 8, resolve_next, NULL));
    ck_assert_ptr_null(hf_future_finally(NULL, HF_INLINE, fin_noop, NULL));
    ck_assert_ptr_null(hf_future_finally(f, NULL, fin_noop, NULL));
    ck_assert_ptr_null(hf_future_finally(f, HF_INLINE, NULL, NULL));
    ck_assert_int_eq(settled_code(hf_future_then(f, HF_INLINE, resolve_next, NULL)), 0);
    ck_assert_int_eq(settled_code(hf_future_finally(f, HF_INLINE, fin_noop, NULL)), 0);

    /* combinators: NULL array with n > 0, a NULL element; n == 0 */
    fs[0] = f;
    fs[1] = NULL;
    ck_assert_ptr_null(hf_future_all(NULL, 1));
    ck_assert_ptr_null(hf_future_all_settled(NULL, 1));
    ck_assert_ptr_null(hf_future_any(NULL, 1));
    ck_assert_ptr_null(hf_future_race(NULL, 1));
    ck_assert_ptr_null(hf_future_all(fs, 2));
    ck_assert_ptr_null(hf_future_all_settled(fs, 2));
    ck_assert_ptr_null(hf_future_any(fs, 2));
    ck_assert_ptr_null(hf_future_race(fs, 2));
    ck_assert_int_eq(settled_code(hf_future_all(NULL, 0)), 0);
    ck_assert_int_eq(settled_code(hf_future_all_settled(NULL, 0)), 0);
    ck_assert_int_eq(settled_code(hf_future_any(NULL, 0)), HF_ENOENT);
    ck_assert_int_eq(settled_code(hf_future_race(NULL, 0)), HF_ENOENT);
    ck_assert_int_eq(settled_code(hf_future_all(fs, 1)), 0);
    ck_assert_int_eq(settled_code(hf_future_race(fs, 1)), 0);

    /* time: NULL input, the largest timeouts, negative waits */
    ck_assert_ptr_null(hf_future_timeout(NULL, 5));
    ck_assert_int_eq(settled_code(hf_future_timeout(f, UINT64_MAX)), 0);   /* settled input */
    q = hf_promise_new();
    pending = hf_promise_future(q);
    g = hf_future_timeout(pending, UINT64_MAX);
    ck_assert_int_eq(hf_future_state(g), HF_FUTURE_PENDING);
    ck_assert_int_eq(hf_future_wait(g, 0), HF_ETIMEDOUT);
    ck_assert_int_eq(hf_future_wait(pending, 0), HF_ETIMEDOUT);
    ck_assert_int_eq(hf_future_wait(pending, 1), HF_ETIMEDOUT);
    ck_assert_int_eq(hf_future_cancel(g), 0);
    ck_assert_int_eq(hf_future_state(g), HF_FUTURE_CANCELLED);
    hf_future_release(g);
    g = hf_future_delay(UINT64_MAX);
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(hf_future_cancel(g), 0);
    ck_assert_int_eq(hf_future_wait(g, INT64_MIN), 0);
    ck_assert_int_eq(hf_future_wait(g, INT64_MAX), 0);
    hf_future_release(g);
    g = hf_future_delay(0);
    ck_assert_int_eq(hf_future_wait(g, -1), 0);
    ck_assert_int_eq(hf_future_state(g), HF_FUTURE_FULFILLED);
    hf_future_release(g);
    g = hf_future_delay(1);
    ck_assert_int_eq(hf_future_wait(g, INT64_MIN), 0);     /* negative: no time limit */
    hf_future_release(g);
    /* the timeout was its only dependent: cancelling it cancelled `pending` too */
    ck_assert_int_eq(hf_promise_is_cancelled(q), 1);
    hf_promise_free(q);
    ck_assert_int_eq(hf_future_error(pending)->code, HF_ECANCELED);
    hf_future_release(pending);

    /* retain returns its argument; a released reference leaves the other one valid */
    ck_assert_ptr_eq(hf_future_retain(f), f);
    hf_future_release(f);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_FULFILLED);
    hf_future_release(f);
}
END_TEST

/* ---- runtime and executors ------------------------------------------------------------ */

START_TEST(runtime_and_executors_refuse_bad_arguments_with_the_documented_codes)
{
    hf_runtime_config_t cfg;
    hf_runtime_stats_t st;
    hf_runtime_t *rt;
    hf_future_t *f;
    int v = 7, where[3] = { 0, -2, -2 };

    /* out-of-range configuration */
    memset(&cfg, 0, sizeof cfg);
    cfg.compute_threads = 4097;
    ck_assert_ptr_null(hf_runtime_new(&cfg));
    cfg.compute_threads = UINT_MAX;
    ck_assert_ptr_null(hf_runtime_new(&cfg));
    cfg.compute_threads = 1;
    cfg.io_threads_max = 65537;
    ck_assert_ptr_null(hf_runtime_new(&cfg));
    cfg.io_threads_max = 0;
    cfg.compute_spares_max = 65537;
    ck_assert_ptr_null(hf_runtime_new(&cfg));
    cfg.compute_spares_max = 0;
    rt = hf_runtime_new(&cfg);
    ck_assert_ptr_nonnull(rt);

    /* NULL runtime, executor, function, output */
    hf_runtime_free(NULL);
    ck_assert_ptr_null(hf_runtime_compute(NULL));
    ck_assert_ptr_null(hf_runtime_io(NULL));
    ck_assert_ptr_null(hf_executor_runtime(NULL));
    ck_assert_ptr_eq(hf_executor_runtime(hf_runtime_compute(rt)), rt);
    ck_assert_ptr_eq(hf_executor_runtime(hf_runtime_io(rt)), rt);
    ck_assert_ptr_null(hf_current_executor());
    ck_assert_int_eq(hf_current_worker(), -1);
    ck_assert_int_eq(hf_executor_post(NULL, post_noop, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_executor_post(hf_runtime_io(rt), NULL, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_executor_post(hf_runtime_io(rt), post_noop, NULL), 0);
    ck_assert_ptr_null(hf_async(NULL, task_value, NULL));
    ck_assert_ptr_null(hf_async(hf_runtime_compute(rt), NULL, NULL));
    ck_assert_ptr_null(hf_async_owned(NULL, task_value, NULL, count_destroy));
    ck_assert_ptr_null(hf_async_owned(hf_runtime_compute(rt), NULL, NULL, count_destroy));
    ck_assert_ptr_null(hf_spawn_blocking(NULL, task_value, NULL));
    ck_assert_ptr_null(hf_spawn_blocking(rt, NULL, NULL));
    ck_assert_int_eq(hf_runtime_stats(NULL, &st), HF_EINVAL);
    ck_assert_int_eq(hf_runtime_stats(rt, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_runtime_stats(rt, &st), 0);
    ck_assert_uint_eq(st.compute_parallelism, 1);

    /* a task rejects through err->code; the value of hf_async is not the future's */
    ck_assert_int_eq(settled_code(hf_async(hf_runtime_compute(rt), task_reject, NULL)), HF_EIO);
    f = hf_async(hf_runtime_io(rt), task_value, &v);
    ck_assert_int_eq(hf_future_wait(f, DEADLINE_MS), 0);
    ck_assert_ptr_eq(hf_future_value(f), &v);
    hf_future_release(f);
    atomic_store(&calls, 0);
    ck_assert_int_eq(settled_code(hf_async_owned(hf_runtime_compute(rt), task_value, &v,
                                                 count_destroy)), 0);
    /* the task's own reference may go a moment after ours, on the worker */
    for (int i = 0; atomic_load(&calls) == 0 && i < DEADLINE_MS; i++)
        usleep(1000);
    ck_assert_int_eq(atomic_load(&calls), 1);
    ck_assert_int_eq(settled_code(hf_spawn_blocking(rt, task_reject, NULL)), HF_EIO);

    /* on a compute worker: the executor, the worker index, no cancel request */
    ck_assert_int_eq(settled_code(hf_async(hf_runtime_compute(rt), task_where, where)), 0);
    ck_assert_int_eq(where[0], 1);
    ck_assert_int_eq(where[1], 0);
    ck_assert_int_eq(where[2], 0);
    /* on HF_INLINE: inside the call, on no pool */
    where[0] = -1;
    f = hf_async(HF_INLINE, task_where, where);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(where[0], 0);
    ck_assert_int_eq(where[1], -1);
    hf_future_release(f);
    ck_assert_int_eq(hf_executor_post(HF_INLINE, post_noop, NULL), 0);

    hf_runtime_free(rt);
    rt = hf_runtime_new(NULL);                  /* NULL: defaults */
    ck_assert_ptr_nonnull(rt);
    hf_runtime_free(rt);
}
END_TEST

/* ---- errors ----------------------------------------------------------------------------- */

START_TEST(every_error_code_has_its_own_name_and_unknown_codes_have_one_too)
{
    hf_error_t e;
    char long_msg[400];

    ck_assert_str_eq(hf_strerror(HF_OK), "success");
    for (int c = -1; c >= HF_ERR_MIN; c--) {
        const char *s = hf_strerror(c);
        ck_assert_ptr_nonnull(s);
        ck_assert_msg(strcmp(s, "unknown error") != 0, "code %d has no name", c);
        ck_assert_str_ne(s, "success");
        for (int d = c + 1; d < 0; d++)
            ck_assert_msg(strcmp(s, hf_strerror(d)) != 0, "codes %d and %d share a name", c, d);
    }
    ck_assert_str_eq(hf_strerror(HF_ERR_MIN - 1), "unknown error");
    ck_assert_str_eq(hf_strerror(1), "unknown error");
    ck_assert_str_eq(hf_strerror(INT_MIN), "unknown error");
    ck_assert_str_eq(hf_strerror(INT_MAX), "unknown error");

    /* hf_error_set returns the code; NULL `err` and NULL format are fine; long text is cut */
    ck_assert_int_eq(hf_error_set(NULL, HF_EIO, 0, "x %d", 1), HF_EIO);
    memset(&e, 'z', sizeof e);
    ck_assert_int_eq(hf_error_set(&e, HF_EPROTO, 502, NULL), HF_EPROTO);
    ck_assert_int_eq(e.code, HF_EPROTO);
    ck_assert_int_eq(e.http_status, 502);
    ck_assert_str_eq(e.message, "");
    memset(long_msg, 'a', sizeof long_msg - 1);
    long_msg[sizeof long_msg - 1] = '\0';
    ck_assert_int_eq(hf_error_set(&e, HF_EIO, 0, "%s", long_msg), HF_EIO);
    ck_assert_uint_eq(strlen(e.message), sizeof e.message - 1);
}
END_TEST

/* The usual way to add context to an error: format its own message into it. */
START_TEST(error_set_may_format_the_errors_own_message_into_it)
{
    hf_error_t e;

    hf_error_set(&e, HF_ENETWORK, 0, "connection reset");
    ck_assert_int_eq(hf_error_set(&e, HF_EIO, 503, "reading %s: %s", "model.gguf", e.message),
                     HF_EIO);
    ck_assert_str_eq(e.message, "reading model.gguf: connection reset");
    ck_assert_int_eq(e.code, HF_EIO);
    ck_assert_int_eq(e.http_status, 503);
    /* twice as long as it fits: cut, still terminated */
    memset(e.message, 'b', sizeof e.message - 1);
    e.message[sizeof e.message - 1] = '\0';
    hf_error_set(&e, HF_EIO, 0, "%s%s", e.message, e.message);
    ck_assert_uint_eq(strlen(e.message), sizeof e.message - 1);
    ck_assert_int_eq(e.message[0], 'b');
    ck_assert_int_eq(e.message[sizeof e.message - 2], 'b');
}
END_TEST

/* ---- hub -------------------------------------------------------------------------------- */

static void make_tmpdir(char *buf, size_t size)
{
    snprintf(buf, size, "/tmp/hfasync-api-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(buf));
}

static void rm_tree(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(hub_calls_refuse_bad_arguments_before_any_request)
{
    char dir[128], *path = (char *)"untouched";
    const char *incl[1] = { NULL }, *excl[1] = { "*.bin" };
    hf_runtime_t *rt = hf_runtime_new(NULL);
    hf_hub_config_t cfg;
    hf_hub_t *hub, *online;
    hf_error_t err;
    hf_hub_stats_t hs;
    hf_file_ref_t ok = { "org/name", HF_REPO_MODEL, NULL, "config.json" }, bad;
    hf_snapshot_opts_t so;
    hf_cache_report_t *rep = (hf_cache_report_t *)&err;
    size_t nbad = 99;

    ck_assert_ptr_nonnull(rt);
    make_tmpdir(dir, sizeof dir);
    memset(&cfg, 0, sizeof cfg);
    cfg.endpoint = "http://127.0.0.1:1";
    cfg.cache_dir = dir;
    cfg.token = "";
    cfg.offline = HF_YES;

    /* hf_hub_new: no runtime, a bad endpoint; `err` may be NULL */
    memset(&err, 0, sizeof err);
    ck_assert_ptr_null(hf_hub_new(NULL, &cfg, &err));
    ck_assert_int_eq(err.code, HF_EINVAL);
    ck_assert_ptr_null(hf_hub_new(NULL, &cfg, NULL));
    cfg.endpoint = "ftp://127.0.0.1:1";
    memset(&err, 0, sizeof err);
    ck_assert_ptr_null(hf_hub_new(rt, &cfg, &err));
    ck_assert_int_eq(err.code, HF_EINVAL);
    ck_assert_ptr_null(hf_hub_new(rt, &cfg, NULL));
    cfg.endpoint = "http://127.0.0.1:1";
    hub = hf_hub_new(rt, &cfg, &err);
    ck_assert_ptr_nonnull(hub);
    cfg.offline = HF_NO;        /* for calls that must fail before any request */
    online = hf_hub_new(rt, &cfg, &err);
    ck_assert_ptr_nonnull(online);
    hf_hub_free(NULL);

    /* settings */
    ck_assert_ptr_null(hf_hub_endpoint(NULL));
    ck_assert_ptr_null(hf_hub_cache_dir(NULL));
    ck_assert_int_eq(hf_hub_is_offline(NULL), 0);
    ck_assert_int_eq(hf_hub_has_token(NULL), 0);
    ck_assert_str_eq(hf_hub_endpoint(hub), "http://127.0.0.1:1");
    ck_assert_str_eq(hf_hub_cache_dir(hub), dir);
    ck_assert_int_eq(hf_hub_is_offline(hub), 1);
    ck_assert_int_eq(hf_hub_has_token(hub), 0);
    ck_assert_int_eq(hf_hub_stats(NULL, &hs), HF_EINVAL);
    ck_assert_int_eq(hf_hub_stats(hub, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_hub_stats(hub, &hs), 0);

    /* NULL hub or ref: NULL; a bad ref: a future rejected with HF_EINVAL */
    ck_assert_ptr_null(hf_hub_download(NULL, &ok, NULL));
    ck_assert_ptr_null(hf_hub_download(hub, NULL, NULL));
    ck_assert_ptr_null(hf_hub_file_metadata(NULL, &ok));
    ck_assert_ptr_null(hf_hub_file_metadata(hub, NULL));
    ck_assert_ptr_null(hf_hub_repo_info(NULL, &ok));
    ck_assert_ptr_null(hf_hub_repo_info(hub, NULL));
    ck_assert_ptr_null(hf_hub_list_files(NULL, &ok));
    ck_assert_ptr_null(hf_hub_list_files(hub, NULL));
    ck_assert_ptr_null(hf_hub_snapshot(NULL, &ok, NULL));
    ck_assert_ptr_null(hf_hub_snapshot(hub, NULL, NULL));
    for (int i = 0; i < 4; i++) {
        bad = ok;
        switch (i) {
        case 0: bad.repo_id = NULL; break;
        case 1: bad.repo_id = "../x"; break;
        case 2: bad.revision = ""; break;
        default: bad.repo_type = (hf_repo_type_t)7; break;
        }
        ck_assert_int_eq(settled_code(hf_hub_download(hub, &bad, NULL)), HF_EINVAL);
        ck_assert_int_eq(settled_code(hf_hub_file_metadata(hub, &bad)), HF_EINVAL);
        ck_assert_int_eq(settled_code(hf_hub_repo_info(hub, &bad)), HF_EINVAL);
        ck_assert_int_eq(settled_code(hf_hub_list_files(hub, &bad)), HF_EINVAL);
        ck_assert_int_eq(settled_code(hf_hub_snapshot(hub, &bad, NULL)), HF_EINVAL);
        ck_assert_int_eq(settled_code(hf_hub_download(online, &bad, NULL)), HF_EINVAL);
        ck_assert_int_eq(settled_code(hf_hub_file_metadata(online, &bad)), HF_EINVAL);
        ck_assert_int_eq(settled_code(hf_hub_repo_info(online, &bad)), HF_EINVAL);
        ck_assert_int_eq(settled_code(hf_hub_list_files(online, &bad)), HF_EINVAL);
        ck_assert_int_eq(settled_code(hf_hub_snapshot(online, &bad, NULL)), HF_EINVAL);
        ck_assert_int_eq(hf_hub_try_cache(hub, &bad, &path), HF_EINVAL);
        ck_assert_int_eq(hf_hub_download_blocking(hub, &bad, NULL, &path, &err), HF_EINVAL);
        ck_assert_int_eq(err.code, HF_EINVAL);
        ck_assert_ptr_null(path);
        path = (char *)"untouched";
    }
    bad = ok;
    bad.path = NULL;
    ck_assert_int_eq(settled_code(hf_hub_download(hub, &bad, NULL)), HF_EINVAL);
    ck_assert_int_eq(settled_code(hf_hub_file_metadata(hub, &bad)), HF_EINVAL);
    ck_assert_int_eq(hf_hub_try_cache(hub, &bad, &path), HF_EINVAL);

    /* snapshot options: patterns counted but not given, online or offline */
    for (int i = 0; i < 2; i++) {
        hf_hub_t *h = i ? online : hub;
        memset(&so, 0, sizeof so);
        so.ninclude = 1;
        ck_assert_int_eq(settled_code(hf_hub_snapshot(h, &ok, &so)), HF_EINVAL);
        so.include = incl;                      /* { NULL } */
        ck_assert_int_eq(settled_code(hf_hub_snapshot(h, &ok, &so)), HF_EINVAL);
        so.ninclude = 0;
        so.nexclude = 1;
        ck_assert_int_eq(settled_code(hf_hub_snapshot(h, &ok, &so)), HF_EINVAL);
    }
    so.exclude = excl;
    ck_assert_int_eq(settled_code(hf_hub_snapshot(hub, &ok, &so)), HF_EOFFLINE);
    ck_assert_int_eq(hf_hub_stats(online, &hs), 0);
    ck_assert_uint_eq(hs.requests, 0);

    /* blocking and cache look-ups */
    ck_assert_int_eq(hf_hub_download_blocking(NULL, &ok, NULL, &path, &err), HF_EINVAL);
    ck_assert_int_eq(hf_hub_download_blocking(hub, NULL, NULL, &path, &err), HF_EINVAL);
    ck_assert_int_eq(hf_hub_download_blocking(hub, &ok, NULL, NULL, &err), HF_EINVAL);
    ck_assert_int_eq(hf_hub_download_blocking(hub, &ok, NULL, NULL, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_hub_try_cache(NULL, &ok, &path), HF_EINVAL);
    ck_assert_int_eq(hf_hub_try_cache(hub, NULL, &path), HF_EINVAL);
    ck_assert_int_eq(hf_hub_try_cache(hub, &ok, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_hub_try_cache(hub, &ok, &path), HF_ENOENT);

    /* offline, nothing cached: HF_EOFFLINE, no request */
    ck_assert_int_eq(settled_code(hf_hub_download(hub, &ok, NULL)), HF_EOFFLINE);
    ck_assert_int_eq(settled_code(hf_hub_file_metadata(hub, &ok)), HF_EOFFLINE);
    ck_assert_int_eq(settled_code(hf_hub_repo_info(hub, &ok)), HF_EOFFLINE);
    ck_assert_int_eq(settled_code(hf_hub_list_files(hub, &ok)), HF_EOFFLINE);
    ck_assert_int_eq(hf_hub_download_blocking(hub, &ok, NULL, &path, &err), HF_EOFFLINE);
    ck_assert_int_eq(err.code, HF_EOFFLINE);
    ck_assert_ptr_null(path);
    ck_assert_int_eq(hf_hub_stats(hub, &hs), 0);
    ck_assert_uint_eq(hs.requests, 0);

    /* globs */
    ck_assert_int_eq(hf_glob_match(NULL, "a"), 0);
    ck_assert_int_eq(hf_glob_match("*", NULL), 0);
    ck_assert_int_eq(hf_glob_match("*", "a/b"), 1);

    /* the cache, without a hub */
    ck_assert_int_eq(hf_cache_scan(NULL, &rep, &err), HF_EINVAL);
    ck_assert_int_eq(hf_cache_scan(dir, NULL, &err), HF_EINVAL);
    ck_assert_int_eq(hf_cache_scan("/nonexistent/hfasync", &rep, &err), HF_ENOENT);
    ck_assert_ptr_null(rep);
    ck_assert_int_eq(hf_cache_scan(dir, &rep, NULL), 0);
    ck_assert_uint_eq(rep->nrepos, 0);
    hf_cache_report_free(rep);
    hf_cache_report_free(NULL);
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(hf_cache_verify(NULL, HF_REPO_MODEL, "org/name", &nbad, NULL, NULL, &err),
                     HF_EINVAL);
    ck_assert_int_eq(err.code, HF_EINVAL);
    ck_assert_int_eq(hf_cache_verify(dir, HF_REPO_MODEL, NULL, &nbad, NULL, NULL, &err),
                     HF_EINVAL);
    ck_assert_int_eq(hf_cache_verify(dir, (hf_repo_type_t)7, "org/name", &nbad, NULL, NULL, &err),
                     HF_EINVAL);
    ck_assert_int_eq(hf_cache_verify(dir, HF_REPO_MODEL, "org/name", NULL, on_bad_blob, NULL,
                                     NULL), HF_ENOENT);
    ck_assert_int_eq(hf_cache_verify(dir, HF_REPO_MODEL, "org/name", &nbad, NULL, NULL, &err),
                     HF_ENOENT);
    ck_assert_int_eq(err.code, HF_ENOENT);
    ck_assert_uint_eq(nbad, 99);                /* untouched on failure */
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(hf_cache_remove(NULL, HF_REPO_MODEL, "org/name", NULL, &err), HF_EINVAL);
    ck_assert_int_eq(err.code, HF_EINVAL);
    ck_assert_int_eq(hf_cache_remove(dir, HF_REPO_MODEL, NULL, NULL, &err), HF_EINVAL);
    ck_assert_int_eq(hf_cache_remove(dir, (hf_repo_type_t)7, "org/name", NULL, &err), HF_EINVAL);
    ck_assert_int_eq(hf_cache_remove(dir, HF_REPO_MODEL, "org/name", "main", NULL), HF_ENOENT);

    ck_assert_str_eq(hf_repo_type_name(HF_REPO_MODEL), "model");
    ck_assert_str_eq(hf_repo_type_name(HF_REPO_DATASET), "dataset");
    ck_assert_str_eq(hf_repo_type_name(HF_REPO_SPACE), "space");
    ck_assert_str_eq(hf_repo_type_name((hf_repo_type_t)7), "model");

    hf_hub_free(online);
    hf_hub_free(hub);
    hf_runtime_free(rt);
    rm_tree(dir);
}
END_TEST

/* ---- formats ---------------------------------------------------------------------------- */

typedef struct buf {
    unsigned char b[1024];
    size_t n;
} buf_t;

static void put(buf_t *b, const void *p, size_t n)
{
    ck_assert_uint_le(b->n + n, sizeof b->b);
    memcpy(b->b + b->n, p, n);
    b->n += n;
}

static void put_u32(buf_t *b, uint32_t v)
{
    unsigned char x[4];
    for (int i = 0; i < 4; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    put(b, x, 4);
}

static void put_u64(buf_t *b, uint64_t v)
{
    unsigned char x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    put(b, x, 8);
}

static void put_str(buf_t *b, const char *s)
{
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}

/* A GGUF v3 file: six metadata entries and one F32 tensor "w" of one element. */
static void make_gguf(buf_t *b)
{
    float one = 1.0f;

    memset(b, 0, sizeof *b);
    put(b, "GGUF", 4);
    put_u32(b, 3);
    put_u64(b, 1);              /* tensors */
    put_u64(b, 5);              /* metadata entries */
    put_str(b, "general.architecture");
    put_u32(b, HF_GGUF_STRING);
    put_str(b, "llama");
    put_str(b, "x.u32");
    put_u32(b, HF_GGUF_UINT32);
    put_u32(b, 7);
    put_str(b, "x.bool");
    put_u32(b, HF_GGUF_BOOL);
    put(b, "\1", 1);
    put_str(b, "x.arr");
    put_u32(b, HF_GGUF_ARRAY);
    put_u32(b, HF_GGUF_UINT32);
    put_u64(b, 2);
    put_u32(b, 1);
    put_u32(b, 2);
    put_str(b, "x.strs");
    put_u32(b, HF_GGUF_ARRAY);
    put_u32(b, HF_GGUF_STRING);
    put_u64(b, 1);
    put_str(b, "a");
    put_str(b, "w");            /* tensor info */
    put_u32(b, 1);
    put_u64(b, 1);
    put_u32(b, 0);              /* GGML_TYPE_F32 */
    put_u64(b, 0);
    while (b->n % 32)
        put(b, "", 1);
    put(b, &one, 4);
}

static const char st_header[] =
    "{\"__metadata__\":{\"k\":\"v\"},\"w\":{\"dtype\":\"F32\",\"shape\":[1],"
    "\"data_offsets\":[0,4]}}";

static void make_safetensors(buf_t *b)
{
    memset(b, 0, sizeof *b);
    put_u64(b, strlen(st_header));
    put(b, st_header, strlen(st_header));
    put(b, "\0\0\x80?", 4);
}

START_TEST(format_readers_refuse_bad_arguments_with_the_documented_codes)
{
    static const char tok_json[] =
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1}},"
        "\"added_tokens\":[{\"id\":2,\"content\":\"<eos>\"}]}";
    static const char cfg_json[] =
        "{\"i\":1,\"f\":1.5,\"b\":true,\"s\":\"x\",\"a\":[1,2],\"n\":null}";
    static const char idx_json[] =
        "{\"metadata\":{\"total_size\":4},\"weight_map\":{\"w\":\"s1.safetensors\"}}";
    buf_t gb, sb;
    hf_gguf_t *g = (hf_gguf_t *)&gb;
    hf_safetensors_t *st = (hf_safetensors_t *)&sb;
    hf_st_index_t *idx = (hf_st_index_t *)&sb;
    hf_tokenizer_t *tok = (hf_tokenizer_t *)&sb;
    hf_config_t *cfg = (hf_config_t *)&sb;
    hf_gguf_array_t arr, sub, empty;
    const hf_gguf_t *parts[2];
    const hf_safetensors_t *shards[1];
    const char *names[2], *s, *k;
    hf_error_t err;
    uint64_t u;
    int64_t i64;
    double d;
    bool bl;
    size_t n, len;
    uint32_t id;

    ck_assert_str_eq(hf_dtype_name(HF_DTYPE_F32), "F32");
    ck_assert_str_eq(hf_dtype_name(HF_DTYPE_COUNT), "unknown");
    ck_assert_str_eq(hf_dtype_name((hf_dtype_t)-1), "unknown");

    /* GGUF: opening */
    make_gguf(&gb);
    ck_assert_int_eq(hf_gguf_parse(NULL, 0, NULL, &g, &err), HF_EINVAL);
    ck_assert_ptr_null(g);
    ck_assert_int_eq(hf_gguf_parse(gb.b, gb.n, NULL, NULL, &err), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_parse(gb.b, 0, "empty", &g, &err), HF_EFORMAT);
    ck_assert_int_eq(hf_gguf_open(NULL, &g, &err), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_open("/nonexistent/x.gguf", &g, NULL), HF_ENOENT);
    ck_assert_ptr_null(g);
    ck_assert_int_eq(hf_gguf_parse(gb.b, gb.n, NULL, &g, NULL), 0);
    ck_assert_str_eq(hf_gguf_name(g), "");
    ck_assert_uint_eq(hf_gguf_version(g), 3);
    ck_assert_uint_eq(hf_gguf_alignment(g), 32);
    ck_assert_uint_eq(hf_gguf_kv_count(g), 5);
    ck_assert_uint_eq(hf_gguf_tensor_count(g), 1);
    /* NULL object */
    hf_gguf_close(NULL);
    ck_assert_str_eq(hf_gguf_name(NULL), "");
    ck_assert_uint_eq(hf_gguf_version(NULL), 0);
    ck_assert_uint_eq(hf_gguf_alignment(NULL), 0);
    ck_assert_uint_eq(hf_gguf_data_offset(NULL), 0);
    n = 5;
    ck_assert_ptr_null(hf_gguf_mapping(NULL, &n));
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_eq(hf_gguf_mapping(g, NULL), gb.b);
    ck_assert_uint_eq(hf_gguf_kv_count(NULL), 0);
    ck_assert_ptr_null(hf_gguf_kv_key(NULL, 0));
    ck_assert_int_eq(hf_gguf_kv_type(NULL, 0), -1);
    ck_assert_int_eq(hf_gguf_find_key(NULL, "x.u32"), -1);
    ck_assert_uint_eq(hf_gguf_tensor_count(NULL), 0);
    ck_assert_ptr_null(hf_gguf_tensor(NULL, 0));
    ck_assert_ptr_null(hf_gguf_find_tensor(NULL, "w"));
    ck_assert_int_eq(hf_gguf_tensor_ggml_type(NULL, 0), -1);
    /* out of range, NULL names */
    ck_assert_ptr_null(hf_gguf_kv_key(g, 5));
    ck_assert_int_eq(hf_gguf_kv_type(g, SIZE_MAX), -1);
    ck_assert_int_eq(hf_gguf_find_key(g, NULL), -1);
    ck_assert_int_eq(hf_gguf_find_key(g, "absent"), -1);
    ck_assert_int_eq(hf_gguf_find_key(g, "x.u32"), 1);
    ck_assert_ptr_null(hf_gguf_tensor(g, 1));
    ck_assert_ptr_null(hf_gguf_find_tensor(g, NULL));
    ck_assert_ptr_nonnull(hf_gguf_find_tensor(g, "w"));
    ck_assert_int_eq(hf_gguf_tensor_ggml_type(g, 1), -1);
    ck_assert_int_eq(hf_gguf_tensor_ggml_type(g, 0), 0);
    /* getters */
    ck_assert_int_eq(hf_gguf_get_u64(NULL, "x.u32", &u, &err), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_get_u64(g, NULL, &u, &err), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_get_u64(g, "x.u32", NULL, &err), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_get_i64(g, "x.u32", NULL, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_get_f64(g, "x.u32", NULL, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_get_bool(g, "x.bool", NULL, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_get_str(g, "general.architecture", NULL, &len, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_get_array(g, "x.arr", NULL, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_get_u64(g, "absent", &u, &err), HF_ENOENT);
    ck_assert_int_eq(err.code, HF_ENOENT);
    ck_assert_int_eq(hf_gguf_get_f64(g, "x.u32", &d, &err), HF_EFORMAT);
    ck_assert_int_eq(hf_gguf_get_u64(g, "x.u32", &u, NULL), 0);
    ck_assert_uint_eq(u, 7);
    ck_assert_int_eq(hf_gguf_get_i64(g, "x.u32", &i64, NULL), 0);
    ck_assert_int_eq(hf_gguf_get_bool(g, "x.bool", &bl, NULL), 0);
    ck_assert(bl);
    ck_assert_int_eq(hf_gguf_get_str(g, "general.architecture", &s, NULL, NULL), 0);
    ck_assert_str_eq(s, "llama");
    ck_assert_int_eq(hf_gguf_get_str(g, "x.u32", &s, NULL, &err), HF_EFORMAT);
    /* arrays */
    ck_assert_int_eq(hf_gguf_get_array(g, "x.arr", &arr, NULL), 0);
    ck_assert_uint_eq(arr.count, 2);
    ck_assert_int_eq(hf_gguf_array_u64(NULL, 0, &u), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_array_u64(&arr, 0, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_array_u64(&arr, 2, &u), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_array_u64(&arr, UINT64_MAX, &u), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_array_i64(&arr, 2, &i64), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_array_f64(&arr, 0, &d), HF_EFORMAT);
    ck_assert_int_eq(hf_gguf_array_bool(&arr, 0, &bl), HF_EFORMAT);
    ck_assert_int_eq(hf_gguf_array_bool(&arr, 0, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_array_str(&arr, 0, &s, &len), HF_EFORMAT);
    ck_assert_int_eq(hf_gguf_array_array(&arr, 0, &sub), HF_EFORMAT);
    ck_assert_int_eq(hf_gguf_array_array(&arr, 0, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_array_u64(&arr, 1, &u), 0);
    ck_assert_uint_eq(u, 2);
    ck_assert_int_eq(hf_gguf_get_array(g, "x.strs", &arr, NULL), 0);
    ck_assert_int_eq(hf_gguf_array_str(&arr, 0, NULL, &len), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_array_str(&arr, 0, &s, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_array_str(&arr, 1, &s, &len), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_array_str(&arr, 0, &s, &len), 0);
    ck_assert_uint_eq(len, 1);
    memset(&empty, 0, sizeof empty);            /* a zeroed view has no element */
    ck_assert_int_eq(hf_gguf_array_u64(&empty, 0, &u), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_array_str(&empty, 0, &s, &len), HF_EINVAL);
    /* split sets */
    parts[0] = g;
    parts[1] = NULL;
    ck_assert_int_eq(hf_gguf_check_split(NULL, 1, &err), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_check_split(parts, 0, &err), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_check_split(parts, 2, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_check_split(parts, 1, NULL), 0);
    hf_gguf_close(g);

    /* safetensors */
    make_safetensors(&sb);
    ck_assert_int_eq(hf_safetensors_parse(NULL, 0, NULL, &st, &err), HF_EINVAL);
    ck_assert_ptr_null(st);
    ck_assert_int_eq(hf_safetensors_parse(sb.b, sb.n, NULL, NULL, &err), HF_EINVAL);
    ck_assert_int_eq(hf_safetensors_parse(sb.b, 0, NULL, &st, &err), HF_EFORMAT);
    ck_assert_int_eq(hf_safetensors_open(NULL, &st, &err), HF_EINVAL);
    ck_assert_int_eq(hf_safetensors_open("/nonexistent/x.safetensors", &st, &err), HF_ENOENT);
    ck_assert_int_eq(hf_safetensors_parse(sb.b, sb.n, "m.safetensors", &st, NULL), 0);
    hf_safetensors_close(NULL);
    ck_assert_str_eq(hf_safetensors_name(NULL), "");
    ck_assert_str_eq(hf_safetensors_name(st), "m.safetensors");
    ck_assert_uint_eq(hf_safetensors_data_offset(NULL), 0);
    ck_assert_uint_eq(hf_safetensors_data_offset(st), 8 + strlen(st_header));
    n = 5;
    ck_assert_ptr_null(hf_safetensors_mapping(NULL, &n));
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_eq(hf_safetensors_mapping(st, NULL), sb.b);
    ck_assert_uint_eq(hf_safetensors_tensor_count(NULL), 0);
    ck_assert_ptr_null(hf_safetensors_tensor(NULL, 0));
    ck_assert_ptr_null(hf_safetensors_tensor(st, 1));
    ck_assert_ptr_null(hf_safetensors_find_tensor(NULL, "w"));
    ck_assert_ptr_null(hf_safetensors_find_tensor(st, NULL));
    ck_assert_ptr_nonnull(hf_safetensors_find_tensor(st, "w"));
    ck_assert_uint_eq(hf_safetensors_metadata_count(NULL), 0);
    ck_assert_uint_eq(hf_safetensors_metadata_count(st), 1);
    ck_assert_int_eq(hf_safetensors_metadata_at(NULL, 0, &k, &s), HF_EINVAL);
    ck_assert_int_eq(hf_safetensors_metadata_at(st, 1, &k, &s), HF_EINVAL);
    ck_assert_int_eq(hf_safetensors_metadata_at(st, 0, NULL, NULL), 0);
    ck_assert_int_eq(hf_safetensors_metadata_at(st, 0, &k, &s), 0);
    ck_assert_str_eq(k, "k");
    ck_assert_ptr_null(hf_safetensors_metadata_get(NULL, "k"));
    ck_assert_ptr_null(hf_safetensors_metadata_get(st, NULL));
    ck_assert_str_eq(hf_safetensors_metadata_get(st, "k"), "v");
    ck_assert_int_eq(hf_safetensors_check_packed(NULL, &err), HF_EINVAL);
    ck_assert_int_eq(hf_safetensors_check_packed(st, NULL), 0);

    /* model.safetensors.index.json */
    ck_assert_int_eq(hf_st_index_parse(NULL, 0, NULL, &idx, &err), HF_EINVAL);
    ck_assert_ptr_null(idx);
    ck_assert_int_eq(hf_st_index_parse(idx_json, strlen(idx_json), NULL, NULL, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_st_index_parse(idx_json, 0, NULL, &idx, NULL), HF_EFORMAT);
    ck_assert_int_eq(hf_st_index_load(NULL, &idx, &err), HF_EINVAL);
    ck_assert_int_eq(hf_st_index_load("/nonexistent/i.json", &idx, &err), HF_ENOENT);
    ck_assert_int_eq(hf_st_index_parse(idx_json, strlen(idx_json), NULL, &idx, NULL), 0);
    hf_st_index_free(NULL);
    ck_assert_uint_eq(hf_st_index_shard_count(NULL), 0);
    ck_assert_ptr_null(hf_st_index_shard(NULL, 0));
    ck_assert_ptr_null(hf_st_index_shard(idx, 1));
    ck_assert_str_eq(hf_st_index_shard(idx, 0), "s1.safetensors");
    ck_assert_uint_eq(hf_st_index_tensor_count(NULL), 0);
    ck_assert_int_eq(hf_st_index_tensor(NULL, 0, &k, &s), HF_EINVAL);
    ck_assert_int_eq(hf_st_index_tensor(idx, 1, &k, &s), HF_EINVAL);
    ck_assert_int_eq(hf_st_index_tensor(idx, 0, NULL, NULL), 0);
    ck_assert_ptr_null(hf_st_index_shard_of(NULL, "w"));
    ck_assert_ptr_null(hf_st_index_shard_of(idx, NULL));
    ck_assert_str_eq(hf_st_index_shard_of(idx, "w"), "s1.safetensors");
    ck_assert_int_eq(hf_st_index_total_size(NULL, &u), HF_EINVAL);
    ck_assert_int_eq(hf_st_index_total_size(idx, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_st_index_total_size(idx, &u), 0);
    ck_assert_uint_eq(u, 4);
    shards[0] = NULL;
    names[0] = "s1.safetensors";
    names[1] = "s1.safetensors";
    ck_assert_int_eq(hf_st_index_check(NULL, shards, names, 1, &err), HF_EINVAL);
    ck_assert_int_eq(hf_st_index_check(idx, NULL, names, 1, &err), HF_EINVAL);
    ck_assert_int_eq(hf_st_index_check(idx, shards, NULL, 1, &err), HF_EINVAL);
    ck_assert_int_eq(hf_st_index_check(idx, shards, names, 1, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_st_index_check(idx, NULL, NULL, 0, &err), HF_EFORMAT);  /* s1 missing */
    shards[0] = st;
    ck_assert_int_eq(hf_st_index_check(idx, shards, names, 1, &err), 0);
    hf_st_index_free(idx);
    hf_safetensors_close(st);

    /* tokenizer.json */
    ck_assert_int_eq(hf_tokenizer_parse(NULL, 0, NULL, &tok, &err), HF_EINVAL);
    ck_assert_ptr_null(tok);
    ck_assert_int_eq(hf_tokenizer_parse(tok_json, strlen(tok_json), NULL, NULL, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_tokenizer_parse(tok_json, 0, NULL, &tok, NULL), HF_EFORMAT);
    ck_assert_int_eq(hf_tokenizer_load(NULL, &tok, &err), HF_EINVAL);
    ck_assert_int_eq(hf_tokenizer_load("/nonexistent/t.json", &tok, &err), HF_ENOENT);
    ck_assert_int_eq(hf_tokenizer_parse(tok_json, strlen(tok_json), NULL, &tok, NULL), 0);
    hf_tokenizer_free(NULL);
    ck_assert_uint_eq(hf_tokenizer_vocab_size(NULL), 0);
    ck_assert_uint_eq(hf_tokenizer_vocab_size(tok), 3);
    ck_assert_uint_eq(hf_tokenizer_added_count(NULL), 0);
    ck_assert_uint_eq(hf_tokenizer_added_count(tok), 1);
    ck_assert_ptr_null(hf_tokenizer_model_type(NULL));
    ck_assert_str_eq(hf_tokenizer_model_type(tok), "BPE");
    ck_assert_int_eq(hf_tokenizer_token_id(NULL, "a", &id), HF_EINVAL);
    ck_assert_int_eq(hf_tokenizer_token_id(tok, NULL, &id), HF_EINVAL);
    ck_assert_int_eq(hf_tokenizer_token_id(tok, "a", NULL), HF_EINVAL);
    ck_assert_int_eq(hf_tokenizer_token_id(tok, "zz", &id), HF_ENOENT);
    ck_assert_int_eq(hf_tokenizer_token_id(tok, "<eos>", &id), 0);
    ck_assert_uint_eq(id, 2);
    hf_tokenizer_free(tok);

    /* config.json */
    ck_assert_int_eq(hf_config_parse(NULL, 0, NULL, &cfg, &err), HF_EINVAL);
    ck_assert_ptr_null(cfg);
    ck_assert_int_eq(hf_config_parse(cfg_json, strlen(cfg_json), NULL, NULL, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_config_parse(cfg_json, 0, NULL, &cfg, NULL), HF_EFORMAT);
    ck_assert_int_eq(hf_config_load(NULL, &cfg, &err), HF_EINVAL);
    ck_assert_int_eq(hf_config_load("/nonexistent/c.json", &cfg, &err), HF_ENOENT);
    ck_assert_int_eq(hf_config_parse(cfg_json, strlen(cfg_json), NULL, &cfg, NULL), 0);
    hf_config_free(NULL);
    ck_assert_int_eq(hf_config_type(NULL, "i"), HF_EINVAL);
    ck_assert_int_eq(hf_config_type(cfg, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_config_type(cfg, "zz"), HF_ENOENT);
    ck_assert_int_eq(hf_config_type(cfg, ""), HF_JSON_OBJECT);
    ck_assert_int_eq(hf_config_type(cfg, "n"), HF_ENOENT);     /* null is absent */
    ck_assert_int_eq(hf_config_get_int(NULL, "i", &i64, &err), HF_EINVAL);
    ck_assert_int_eq(hf_config_get_int(cfg, NULL, &i64, &err), HF_EINVAL);
    ck_assert_int_eq(hf_config_get_int(cfg, "i", NULL, &err), HF_EINVAL);
    ck_assert_int_eq(hf_config_get_float(cfg, "f", NULL, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_config_get_bool(cfg, "b", NULL, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_config_get_str(cfg, "s", NULL, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_config_get_array_len(cfg, "a", NULL, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_config_get_int(cfg, "f", &i64, &err), HF_EFORMAT);
    ck_assert_int_eq(hf_config_get_str(cfg, "i", &s, &err), HF_EFORMAT);
    ck_assert_int_eq(hf_config_get_int(cfg, "n", &i64, &err), HF_ENOENT);
    ck_assert_int_eq(hf_config_get_int(cfg, "a.5", &i64, NULL), HF_ENOENT);
    ck_assert_int_eq(hf_config_get_int(cfg, "a.1", &i64, NULL), 0);
    ck_assert_int_eq(i64, 2);
    ck_assert_int_eq(hf_config_get_array_len(cfg, "a", &n, NULL), 0);
    ck_assert_uint_eq(n, 2);
    hf_config_free(cfg);
}
END_TEST

/* ---- models ----------------------------------------------------------------------------- */

START_TEST(model_calls_refuse_bad_arguments_with_the_documented_codes)
{
    char dir[128];
    hf_runtime_t *rt = hf_runtime_new(NULL);
    hf_hub_config_t cfg;
    hf_model_opts_t opts;
    hf_hub_t *hub;
    hf_future_t *f;
    size_t n = hf_model_module_count();
    int code;

    ck_assert_uint_gt(n, 0);
    for (size_t i = 0; i < n; i++) {
        ck_assert_ptr_nonnull(hf_model_module_name(i));
        ck_assert_ptr_nonnull(hf_model_module_description(i));
    }
    ck_assert_ptr_null(hf_model_module_name(n));
    ck_assert_ptr_null(hf_model_module_description(SIZE_MAX));

    /* NULL model */
    ck_assert_ptr_null(hf_model_retain(NULL));
    hf_model_release(NULL);
    ck_assert_ptr_null(hf_model_name(NULL));
    ck_assert_ptr_null(hf_model_architecture(NULL));
    ck_assert_uint_eq(hf_model_file_count(NULL), 0);
    ck_assert_ptr_null(hf_model_file(NULL, 0));
    ck_assert_uint_eq(hf_model_bytes(NULL), 0);
    ck_assert_uint_eq(hf_model_tensor_count(NULL), 0);
    ck_assert_ptr_null(hf_model_tensor(NULL, 0));
    ck_assert_ptr_null(hf_model_find_tensor(NULL, "w"));
    ck_assert_int_eq(hf_model_vocab_size(NULL), -1);
    ck_assert_int_eq(hf_model_eos_token_id(NULL), -1);
    ck_assert_int_eq(hf_model_embedding_size(NULL), -1);

    ck_assert_ptr_nonnull(rt);
    make_tmpdir(dir, sizeof dir);
    memset(&cfg, 0, sizeof cfg);
    cfg.endpoint = "http://127.0.0.1:1";
    cfg.cache_dir = dir;
    cfg.token = "";
    cfg.offline = HF_YES;
    hub = hf_hub_new(rt, &cfg, NULL);
    ck_assert_ptr_nonnull(hub);

    /* NULL arguments: NULL; an unknown name or a bad option: HF_EINVAL */
    ck_assert_ptr_null(hf_model_load(NULL, hub, "stella", NULL));
    ck_assert_ptr_null(hf_model_load(rt, NULL, "stella", NULL));
    ck_assert_ptr_null(hf_model_load(rt, hub, NULL, NULL));
    ck_assert_int_eq(settled_code(hf_model_load(rt, hub, "no-such-model", NULL)), HF_EINVAL);
    memset(&opts, 0, sizeof opts);
    opts.dim = 5;
    ck_assert_int_eq(settled_code(hf_model_load(rt, hub, "stella", &opts)), HF_EINVAL);
    memset(&opts, 0, sizeof opts);
    opts.revision = "";
    ck_assert_int_eq(settled_code(hf_model_load(rt, hub, "stella", &opts)), HF_EINVAL);

    /* offline with an empty cache: a Hub error, never a crash or NULL */
    f = hf_model_load(rt, hub, hf_model_module_name(0), NULL);
    code = settled_code(f);
    ck_assert_msg(code == HF_EOFFLINE || code == HF_EENTRY_NOT_FOUND, "got %d (%s)", code,
                  hf_strerror(code));

    hf_hub_free(hub);
    hf_runtime_free(rt);
    rm_tree(dir);
}
END_TEST

static Suite *api_contract_suite(void)
{
    Suite *s = suite_create("api_contract");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, futures_and_promises_refuse_bad_arguments_with_the_documented_codes);
    tcase_add_test(tc, runtime_and_executors_refuse_bad_arguments_with_the_documented_codes);
    tcase_add_test(tc, every_error_code_has_its_own_name_and_unknown_codes_have_one_too);
    tcase_add_test(tc, error_set_may_format_the_errors_own_message_into_it);
    tcase_add_test(tc, hub_calls_refuse_bad_arguments_before_any_request);
    tcase_add_test(tc, format_readers_refuse_bad_arguments_with_the_documented_codes);
    tcase_add_test(tc, model_calls_refuse_bad_arguments_with_the_documented_codes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(api_contract_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
