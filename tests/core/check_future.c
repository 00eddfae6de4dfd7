/*
 * check_future.c - promises and futures: states, ownership, errors, adopt.
 */
#include "common/testutil.h"

#include "core/alloc.h"
#include "core/future_impl.h"

static hf_error_t mkerr(int code, int status, const char *msg)
{
    hf_error_t e;
    e.code = code;
    e.http_status = status;
    snprintf(e.message, sizeof e.message, "%s", msg);
    return e;
}

START_TEST(promise_starts_pending_and_settles_exactly_once)
{
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);
    hf_error_t e = mkerr(HF_EIO, 0, "x");
    int v1 = 1, v2 = 2;

    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_PENDING);
    ck_assert_ptr_null(hf_future_value(f));
    ck_assert_ptr_null(hf_future_error(f));
    ck_assert_int_eq(hf_promise_resolve(p, &v1, NULL), 0);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_FULFILLED);
    ck_assert_ptr_eq(hf_future_value(f), &v1);
    ck_assert_int_eq(hf_promise_resolve(p, &v2, NULL), HF_ESTATE);
    ck_assert_int_eq(hf_promise_reject(p, &e), HF_ESTATE);
    ck_assert_int_eq(hf_future_cancel(f), HF_ESTATE);
    ck_assert_ptr_eq(hf_future_value(f), &v1);
    hf_promise_free(p);
    ck_assert_ptr_eq(hf_future_value(f), &v1);
    hf_future_release(f);
}
END_TEST

START_TEST(value_destructor_runs_once_when_the_last_reference_goes)
{
    atomic_int freed = 0;
    hf_promise_t *p = hf_promise_new();
    hf_future_t *a = hf_promise_future(p), *b = hf_promise_future(p);

    ck_assert_int_eq(hf_promise_resolve(p, tu_value_new(&freed, 7), tu_value_free), 0);
    hf_promise_free(p);
    ck_assert_int_eq(freed, 0);
    hf_future_release(a);
    ck_assert_int_eq(freed, 0);
    ck_assert_int_eq(((tu_value_t *)hf_future_value(b))->payload, 7);
    hf_future_retain(b);
    hf_future_release(b);
    ck_assert_int_eq(freed, 0);
    hf_future_release(b);
    ck_assert_int_eq(freed, 1);
}
END_TEST

START_TEST(refused_second_value_stays_with_the_caller)
{
    atomic_int freed = 0;
    hf_promise_t *p = hf_promise_new();
    tu_value_t *second = tu_value_new(&freed, 2);

    ck_assert_int_eq(hf_promise_resolve(p, tu_value_new(&freed, 1), tu_value_free), 0);
    ck_assert_int_eq(hf_promise_resolve(p, second, tu_value_free), HF_ESTATE);
    ck_assert_int_eq(freed, 0);
    tu_value_free(second);
    ck_assert_int_eq(freed, 1);
    hf_promise_free(p);
    ck_assert_int_eq(freed, 2);
}
END_TEST

START_TEST(reject_keeps_a_copy_of_code_status_and_message)
{
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);
    hf_error_t e = mkerr(HF_EAUTH, 401, "token refused for org/repo");
    const hf_error_t *got;

    ck_assert_int_eq(hf_promise_reject(p, &e), 0);
    memset(&e, 0, sizeof e);
    got = hf_future_error(f);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_REJECTED);
    ck_assert_ptr_nonnull(got);
    ck_assert_int_eq(got->code, HF_EAUTH);
    ck_assert_int_eq(got->http_status, 401);
    ck_assert_str_eq(got->message, "token refused for org/repo");
    ck_assert_ptr_null(hf_future_value(f));
    hf_promise_free(p);
    hf_future_release(f);
}
END_TEST

START_TEST(rejectf_formats_and_refuses_non_negative_codes)
{
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);
    hf_error_t ok = mkerr(0, 0, "");

    ck_assert_int_eq(hf_promise_reject(p, &ok), HF_EINVAL);
    ck_assert_int_eq(hf_promise_rejectf(p, 3, 0, "positive"), HF_EINVAL);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_PENDING);
    ck_assert_int_eq(hf_promise_rejectf(p, HF_ENOENT, 404, "%s/%d", "file", 42), 0);
    ck_assert_int_eq(hf_future_error(f)->code, HF_ENOENT);
    ck_assert_int_eq(hf_future_error(f)->http_status, 404);
    ck_assert_str_eq(hf_future_error(f)->message, "file/42");
    hf_promise_free(p);
    hf_future_release(f);
}
END_TEST

static atomic_int then_calls;

static void count_then(hf_future_t *done, hf_promise_t *next, void *arg)
{
    (void)done;
    (void)arg;
    atomic_fetch_add(&then_calls, 1);
    hf_promise_resolve(next, NULL, NULL);
}

START_TEST(freeing_an_unsettled_promise_breaks_it_for_every_dependent)
{
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);
    hf_future_t *g = hf_future_then(f, HF_INLINE, count_then, NULL);

    then_calls = 0;
    hf_promise_free(p);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_EBROKEN);
    ck_assert_int_eq(hf_future_state(g), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(g)->code, HF_EBROKEN);
    ck_assert_int_eq(then_calls, 0);
    hf_future_release(g);
    hf_future_release(f);
}
END_TEST

START_TEST(null_arguments_are_refused_with_einval)
{
    hf_error_t e = mkerr(HF_EIO, 0, "x");
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);

    ck_assert_ptr_null(hf_promise_future(NULL));
    ck_assert_int_eq(hf_promise_resolve(NULL, NULL, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_promise_reject(NULL, &e), HF_EINVAL);
    ck_assert_int_eq(hf_promise_reject(p, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_promise_adopt(NULL, f), HF_EINVAL);
    ck_assert_int_eq(hf_promise_adopt(p, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_promise_on_cancel(p, NULL, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_promise_bind_thread(NULL), HF_EINVAL);
    ck_assert_int_eq(hf_future_cancel(NULL), HF_EINVAL);
    ck_assert_int_eq(hf_future_wait(NULL, 0), HF_EINVAL);
    ck_assert_ptr_null(hf_future_then(NULL, HF_INLINE, count_then, NULL));
    ck_assert_ptr_null(hf_future_then(f, NULL, count_then, NULL));
    ck_assert_ptr_null(hf_future_then(f, HF_INLINE, NULL, NULL));
    ck_assert_ptr_null(hf_future_then_on(f, HF_INLINE, 0, count_then, NULL));
    ck_assert_ptr_null(hf_future_timeout(NULL, 1));
    ck_assert_ptr_null(hf_future_rejected(0, 0, "not an error"));
    ck_assert_int_eq(hf_future_state(NULL), HF_FUTURE_PENDING);
    ck_assert_ptr_null(hf_future_value(NULL));
    ck_assert_ptr_null(hf_future_error(NULL));
    ck_assert_ptr_null(hf_future_retain(NULL));
    hf_future_release(NULL);
    hf_promise_free(NULL);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_PENDING);
    hf_promise_free(p);
    hf_future_release(f);
}
END_TEST

START_TEST(error_of_cancelled_is_ecanceled_and_none_for_others)
{
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);

    ck_assert_int_eq(hf_future_cancel(f), 0);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_ECANCELED);
    ck_assert_int_eq(hf_promise_is_cancelled(p), 1);
    ck_assert_int_eq(hf_promise_resolve(p, NULL, NULL), HF_ESTATE);
    hf_promise_free(p);
    hf_future_release(f);
}
END_TEST

START_TEST(ready_made_futures_are_settled)
{
    atomic_int freed = 0;
    hf_future_t *ok = hf_future_resolved(tu_value_new(&freed, 5), tu_value_free);
    hf_future_t *bad = hf_future_rejected(HF_ECORRUPT, 0, "sha256 %s", "mismatch");

    ck_assert_int_eq(hf_future_state(ok), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(((tu_value_t *)hf_future_value(ok))->payload, 5);
    ck_assert_int_eq(hf_future_state(bad), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(bad)->code, HF_ECORRUPT);
    ck_assert_str_eq(hf_future_error(bad)->message, "sha256 mismatch");
    hf_future_release(ok);
    hf_future_release(bad);
    ck_assert_int_eq(freed, 1);
}
END_TEST

START_TEST(adopt_settles_as_the_adopted_future_and_shares_its_value)
{
    atomic_int freed = 0;
    hf_promise_t *outer = hf_promise_new(), *inner = hf_promise_new();
    hf_future_t *fo = hf_promise_future(outer), *fi = hf_promise_future(inner);
    tu_value_t *v = tu_value_new(&freed, 9);

    ck_assert_int_eq(hf_promise_adopt(outer, fi), 0);
    ck_assert_int_eq(hf_future_state(fo), HF_FUTURE_PENDING);
    ck_assert_int_eq(hf_promise_resolve(inner, v, tu_value_free), 0);
    ck_assert_int_eq(hf_future_state(fo), HF_FUTURE_FULFILLED);
    ck_assert_ptr_eq(hf_future_value(fo), v);
    hf_promise_free(inner);
    hf_future_release(fi);          /* the value lives on in `fo` */
    ck_assert_int_eq(freed, 0);
    ck_assert_int_eq(((tu_value_t *)hf_future_value(fo))->payload, 9);
    hf_promise_free(outer);
    hf_future_release(fo);
    ck_assert_int_eq(freed, 1);
}
END_TEST

START_TEST(an_adopting_promise_is_settled_by_the_adopted_future_alone)
{
    atomic_int freed = 0, mine = 0;
    hf_promise_t *outer = hf_promise_new(), *inner = hf_promise_new();
    hf_future_t *fo = hf_promise_future(outer), *fi = hf_promise_future(inner);
    tu_value_t *v = tu_value_new(&freed, 5), *other = tu_value_new(&mine, 6);
    hf_error_t e = { .code = HF_EIO };

    ck_assert_int_eq(hf_promise_adopt(outer, fi), 0);
    /* resolved, though pending: nobody but `fi` settles it any more */
    ck_assert_int_eq(hf_promise_resolve(outer, other, tu_value_free), HF_ESTATE);
    ck_assert_int_eq(hf_promise_reject(outer, &e), HF_ESTATE);
    ck_assert_int_eq(hf_promise_rejectf(outer, HF_EIO, 0, "no"), HF_ESTATE);
    ck_assert_int_eq(mine, 0);                  /* the refused value stays the caller's */
    tu_value_free(other);
    /* adopt, then free: the outcome is handed over, not broken */
    hf_promise_free(outer);
    ck_assert_int_eq(hf_future_state(fo), HF_FUTURE_PENDING);
    ck_assert_int_eq(hf_promise_resolve(inner, v, tu_value_free), 0);
    ck_assert_int_eq(hf_future_state(fo), HF_FUTURE_FULFILLED);
    ck_assert_ptr_eq(hf_future_value(fo), v);
    hf_promise_free(inner);
    hf_future_release(fi);
    hf_future_release(fo);
    ck_assert_int_eq(freed, 1);

    /* cancelling the adopting future still cancels it, and the adopted one it alone wanted */
    outer = hf_promise_new();
    inner = hf_promise_new();
    fo = hf_promise_future(outer);
    fi = hf_promise_future(inner);
    ck_assert_int_eq(hf_promise_adopt(outer, fi), 0);
    ck_assert_int_eq(hf_future_cancel(fo), 0);
    ck_assert_int_eq(hf_future_state(fo), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(hf_future_state(fi), HF_FUTURE_CANCELLED);
    hf_promise_free(outer);
    hf_promise_free(inner);
    hf_future_release(fi);
    hf_future_release(fo);
}
END_TEST

START_TEST(adopt_passes_an_error_on)
{
    hf_promise_t *outer = hf_promise_new();
    hf_future_t *fo = hf_promise_future(outer);
    hf_future_t *bad = hf_future_rejected(HF_EGATED, 403, "gated");

    ck_assert_int_eq(hf_promise_adopt(outer, bad), 0);
    ck_assert_int_eq(hf_future_state(fo), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(fo)->code, HF_EGATED);
    ck_assert_int_eq(hf_future_error(fo)->http_status, 403);
    hf_future_release(bad);
    ck_assert_str_eq(hf_future_error(fo)->message, "gated");
    hf_promise_free(outer);
    hf_future_release(fo);
}
END_TEST

static void noop_then(hf_future_t *done, hf_promise_t *next, void *arg)
{
    (void)done;
    (void)arg;
    hf_promise_resolve(next, NULL, NULL);
}

START_TEST(adopting_itself_or_a_cycle_is_edeadlk_not_a_hang)
{
    hf_promise_t *p1 = hf_promise_new(), *p2 = hf_promise_new();
    hf_future_t *f1 = hf_promise_future(p1), *f2 = hf_promise_future(p2);
    hf_future_t *g;

    ck_assert_int_eq(hf_promise_adopt(p1, f1), HF_EDEADLK);
    ck_assert_int_eq(hf_promise_adopt(p1, f2), 0);
    ck_assert_int_eq(hf_promise_adopt(p2, f1), HF_EDEADLK);       /* f1 waits on f2 */
    ck_assert_int_eq(hf_promise_adopt(p1, f2), HF_ESTATE);        /* already adopting */
    /* A then-chain back to the adopter is a cycle too. */
    g = hf_future_then(f2, HF_INLINE, noop_then, NULL);
    ck_assert_int_eq(hf_promise_adopt(p2, g), HF_EDEADLK);
    ck_assert_int_eq(hf_future_state(f1), HF_FUTURE_PENDING);
    ck_assert_int_eq(hf_future_state(f2), HF_FUTURE_PENDING);
    /* Both remain usable. */
    ck_assert_int_eq(hf_promise_resolve(p2, NULL, NULL), 0);
    ck_assert_int_eq(hf_future_state(f1), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(hf_future_state(g), HF_FUTURE_FULFILLED);
    hf_future_release(g);
    hf_promise_free(p1);
    hf_promise_free(p2);
    hf_future_release(f1);
    hf_future_release(f2);
}
END_TEST

#define DEEP 10000

typedef struct deep_ctx {
    int ok;
} deep_ctx_t;

/* Runs on a thread with a 256 KiB stack: a recursion 10,000 deep would overflow it. */
static void *adopt_chain_thread(void *arg)
{
    deep_ctx_t *ctx = arg;
    hf_promise_t **ps = calloc(DEEP, sizeof *ps);
    hf_future_t **fs = calloc(DEEP, sizeof *fs);
    atomic_int freed = 0;
    tu_value_t *v = tu_value_new(&freed, 123);
    int ok = 1;

    for (int i = 0; i < DEEP; i++) {
        ps[i] = hf_promise_new();
        fs[i] = hf_promise_future(ps[i]);
    }
    for (int i = 0; i + 1 < DEEP; i++)
        ok &= hf_promise_adopt(ps[i], fs[i + 1]) == 0;
    ok &= hf_promise_resolve(ps[DEEP - 1], v, tu_value_free) == 0;
    for (int i = 0; i < DEEP; i++) {
        ok &= hf_future_state(fs[i]) == HF_FUTURE_FULFILLED;
        ok &= hf_future_value(fs[i]) == v;
    }
    for (int i = 0; i < DEEP; i++)
        hf_promise_free(ps[i]);
    for (int i = DEEP - 1; i >= 0; i--)      /* the outermost last: a 10,000-link release */
        hf_future_release(fs[i]);
    ok &= freed == 1;
    free(ps);
    free(fs);
    ctx->ok = ok;
    return NULL;
}

static void run_on_small_stack(void *(*fn)(void *), void *arg)
{
    pthread_attr_t a;
    pthread_t t;
    pthread_attr_init(&a);
    ck_assert_int_eq(pthread_attr_setstacksize(&a, 256 * 1024), 0);
    ck_assert_int_eq(pthread_create(&t, &a, fn, arg), 0);
    pthread_join(t, NULL);
    pthread_attr_destroy(&a);
}

START_TEST(adopt_chain_10000_deep_settles_and_frees_without_stack_growth)
{
    deep_ctx_t ctx = { 0 };
    run_on_small_stack(adopt_chain_thread, &ctx);
    ck_assert_int_eq(ctx.ok, 1);
}
END_TEST

static atomic_int hook_calls;
static void on_cancel_hook(void *arg)
{
    atomic_fetch_add(&hook_calls, 1);
    *(int *)arg = 1;
}

START_TEST(on_cancel_hook_runs_only_on_cancellation)
{
    hf_promise_t *p = hf_promise_new(), *q = hf_promise_new();
    hf_future_t *f = hf_promise_future(p), *g = hf_promise_future(q);
    int flag_p = 0, flag_q = 0, flag_late = 0;

    hook_calls = 0;
    ck_assert_int_eq(hf_promise_on_cancel(p, on_cancel_hook, &flag_p), 0);
    ck_assert_int_eq(hf_promise_on_cancel(p, on_cancel_hook, &flag_p), HF_ESTATE);
    ck_assert_int_eq(hf_promise_on_cancel(q, on_cancel_hook, &flag_q), 0);
    ck_assert_int_eq(hf_promise_resolve(q, NULL, NULL), 0);       /* dropped, not called */
    ck_assert_int_eq(hf_future_cancel(f), 0);
    ck_assert_int_eq(flag_p, 1);
    ck_assert_int_eq(flag_q, 0);
    /* Registered after the cancellation: runs inside the call. */
    ck_assert_int_eq(hf_promise_on_cancel(p, on_cancel_hook, &flag_late), 0);
    ck_assert_int_eq(flag_late, 1);
    ck_assert_int_eq(hook_calls, 2);
    hf_promise_free(p);
    hf_promise_free(q);
    hf_future_release(f);
    hf_future_release(g);
}
END_TEST

START_TEST(a_future_fits_in_128_bytes)
{
    ck_assert_uint_le(hf_future_sizeof(), 128);
}
END_TEST

START_TEST(allocation_failure_returns_null_or_enomem_and_changes_nothing)
{
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);
    hf_future_t *fs[1] = { f };
    hf_error_t e = mkerr(HF_EIO, 0, "disk");

    hfi_test_fail_alloc_after(0);
    ck_assert_ptr_null(hf_promise_new());
    ck_assert_ptr_null(hf_future_then(f, HF_INLINE, noop_then, NULL));
    ck_assert_ptr_null(hf_future_all(fs, 1));
    ck_assert_ptr_null(hf_future_timeout(f, 10));
    ck_assert_ptr_null(hf_future_resolved(NULL, NULL));
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_PENDING);
    /* `all` needs its output and its state: the second allocation fails, and the input
     * keeps no trace of it (no interest registered: a cancel of it would still work). */
    hfi_test_fail_alloc_after(1);
    ck_assert_ptr_null(hf_future_all(fs, 1));
    ck_assert_uint_eq(atomic_load(&f->interest), 0);
    /* Rejecting needs a copy of the error: without memory it rejects with ENOMEM. */
    hfi_test_fail_alloc_after(0);
    ck_assert_int_eq(hf_promise_reject(p, &e), HF_ENOMEM);
    hfi_test_fail_alloc_after(-1);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_ENOMEM);
    hf_promise_free(p);
    hf_future_release(f);
}
END_TEST

typedef hf_future_t *(*combinator_t)(hf_future_t *const *, size_t);

/* Short memory for the other constructors: NULL (and the inputs keep no interest), or,
 * for a rejected future whose error cannot be copied, the static HF_ENOMEM error. */
START_TEST(short_memory_in_combinators_and_ready_made_futures_is_handled_as_documented)
{
    combinator_t kinds[4] = { hf_future_all, hf_future_all_settled, hf_future_any,
                              hf_future_race };
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p), *fs[2] = { f, f }, *r;

    for (int k = 0; k < 4; k++) {
        for (long n = 0; n < 2; n++) {
            hfi_test_fail_alloc_after(n);
            r = kinds[k](fs, 2);
            hfi_test_fail_alloc_after(-1);
            ck_assert_ptr_null(r);
            ck_assert_uint_eq(atomic_load(&f->interest), 0);
        }
    }
    hfi_test_fail_alloc_after(0);
    ck_assert_ptr_null(hf_future_delay(10));
    ck_assert_ptr_null(hf_future_rejected(HF_EIO, 0, "x"));
    hfi_test_fail_alloc_after(1);
    r = hf_future_rejected(HF_EIO, 500, "disk %d", 2);
    hfi_test_fail_alloc_after(-1);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(hf_future_state(r), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(r)->code, HF_ENOMEM);
    hf_future_release(r);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_PENDING);
    ck_assert_int_eq(hf_future_cancel(f), 0);      /* nothing else wanted it */
    hf_promise_free(p);
    hf_future_release(f);
}
END_TEST

static Suite *future_suite(void)
{
    Suite *s = suite_create("future");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, promise_starts_pending_and_settles_exactly_once);
    tcase_add_test(tc, value_destructor_runs_once_when_the_last_reference_goes);
    tcase_add_test(tc, refused_second_value_stays_with_the_caller);
    tcase_add_test(tc, reject_keeps_a_copy_of_code_status_and_message);
    tcase_add_test(tc, rejectf_formats_and_refuses_non_negative_codes);
    tcase_add_test(tc, freeing_an_unsettled_promise_breaks_it_for_every_dependent);
    tcase_add_test(tc, null_arguments_are_refused_with_einval);
    tcase_add_test(tc, short_memory_in_combinators_and_ready_made_futures_is_handled_as_documented);
    tcase_add_test(tc, error_of_cancelled_is_ecanceled_and_none_for_others);
    tcase_add_test(tc, ready_made_futures_are_settled);
    tcase_add_test(tc, adopt_settles_as_the_adopted_future_and_shares_its_value);
    tcase_add_test(tc, adopt_passes_an_error_on);
    tcase_add_test(tc, an_adopting_promise_is_settled_by_the_adopted_future_alone);
    tcase_add_test(tc, adopting_itself_or_a_cycle_is_edeadlk_not_a_hang);
    tcase_add_test(tc, adopt_chain_10000_deep_settles_and_frees_without_stack_growth);
    tcase_add_test(tc, on_cancel_hook_runs_only_on_cancellation);
    tcase_add_test(tc, a_future_fits_in_128_bytes);
    tcase_add_test(tc, allocation_failure_returns_null_or_enomem_and_changes_nothing);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(future_suite)
