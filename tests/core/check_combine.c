/*
 * check_combine.c - all, all_settled, any, race.
 */
#include "common/testutil.h"

#define N 3

typedef struct inputs {
    hf_promise_t *p[N];
    hf_future_t *f[N];
    int cancelled[N];
} inputs_t;

static void mark_cancelled(void *arg)
{
    *(int *)arg = 1;
}

static void inputs_init(inputs_t *in)
{
    for (int i = 0; i < N; i++) {
        in->p[i] = hf_promise_new();
        in->f[i] = hf_promise_future(in->p[i]);
        in->cancelled[i] = 0;
        ck_assert_int_eq(hf_promise_on_cancel(in->p[i], mark_cancelled, &in->cancelled[i]), 0);
    }
}

static void inputs_free(inputs_t *in)
{
    for (int i = 0; i < N; i++) {
        hf_promise_free(in->p[i]);
        hf_future_release(in->f[i]);
    }
}

START_TEST(all_fulfils_with_null_once_every_input_is_fulfilled)
{
    inputs_t in;
    hf_future_t *all;
    int vals[N] = { 10, 20, 30 };

    inputs_init(&in);
    all = hf_future_all(in.f, N);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(hf_future_state(all), HF_FUTURE_PENDING);
        hf_promise_resolve(in.p[i], &vals[i], NULL);
    }
    ck_assert_int_eq(hf_future_state(all), HF_FUTURE_FULFILLED);
    ck_assert_ptr_null(hf_future_value(all));
    for (int i = 0; i < N; i++)
        ck_assert_ptr_eq(hf_future_value(in.f[i]), &vals[i]);
    hf_future_release(all);
    inputs_free(&in);
}
END_TEST

START_TEST(all_fails_fast_with_the_first_error_and_cancels_the_rest)
{
    inputs_t in;
    hf_future_t *all;

    inputs_init(&in);
    all = hf_future_all(in.f, N);
    hf_promise_rejectf(in.p[1], HF_EENTRY_NOT_FOUND, 404, "shard 2 missing");
    ck_assert_int_eq(hf_future_state(all), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(all)->code, HF_EENTRY_NOT_FOUND);
    ck_assert_str_eq(hf_future_error(all)->message, "shard 2 missing");
    ck_assert_int_eq(hf_future_state(in.f[0]), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(hf_future_state(in.f[2]), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(in.cancelled[0], 1);
    ck_assert_int_eq(in.cancelled[1], 0);
    ck_assert_int_eq(in.cancelled[2], 1);
    hf_future_release(all);
    inputs_free(&in);
}
END_TEST

static void noop(hf_future_t *done, hf_promise_t *next, void *arg)
{
    (void)done;
    (void)arg;
    hf_promise_resolve(next, NULL, NULL);
}

START_TEST(all_leaves_an_input_that_another_dependent_still_wants)
{
    inputs_t in;
    hf_future_t *all, *other;

    inputs_init(&in);
    other = hf_future_then(in.f[2], HF_INLINE, noop, NULL);
    all = hf_future_all(in.f, N);
    hf_promise_rejectf(in.p[0], HF_EIO, 0, "x");
    ck_assert_int_eq(hf_future_state(in.f[1]), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(hf_future_state(in.f[2]), HF_FUTURE_PENDING);
    hf_promise_resolve(in.p[2], NULL, NULL);
    ck_assert_int_eq(hf_future_state(other), HF_FUTURE_FULFILLED);
    hf_future_release(other);
    hf_future_release(all);
    inputs_free(&in);
}
END_TEST

START_TEST(all_settled_waits_for_every_input_whatever_its_state)
{
    inputs_t in;
    hf_future_t *all;

    inputs_init(&in);
    all = hf_future_all_settled(in.f, N);
    hf_promise_rejectf(in.p[0], HF_EIO, 0, "x");
    hf_future_cancel(in.f[1]);
    ck_assert_int_eq(hf_future_state(all), HF_FUTURE_PENDING);
    hf_promise_resolve(in.p[2], NULL, NULL);
    ck_assert_int_eq(hf_future_state(all), HF_FUTURE_FULFILLED);
    hf_future_release(all);
    inputs_free(&in);
}
END_TEST

START_TEST(any_fulfils_with_the_first_value_and_withdraws_from_the_others)
{
    inputs_t in;
    hf_future_t *any;
    int v = 5;

    inputs_init(&in);
    any = hf_future_any(in.f, N);
    hf_promise_rejectf(in.p[0], HF_ENETWORK, 0, "mirror down");
    ck_assert_int_eq(hf_future_state(any), HF_FUTURE_PENDING);
    hf_promise_resolve(in.p[2], &v, NULL);
    ck_assert_int_eq(hf_future_state(any), HF_FUTURE_FULFILLED);
    ck_assert_ptr_eq(hf_future_value(any), &v);
    ck_assert_int_eq(hf_future_state(in.f[1]), HF_FUTURE_CANCELLED);
    hf_future_release(any);
    inputs_free(&in);
}
END_TEST

START_TEST(any_rejects_with_the_lowest_index_error_once_all_failed)
{
    inputs_t in;
    hf_future_t *any;

    inputs_init(&in);
    any = hf_future_any(in.f, N);
    hf_promise_rejectf(in.p[2], HF_ENETWORK, 0, "third");
    hf_future_cancel(in.f[0]);
    ck_assert_int_eq(hf_future_state(any), HF_FUTURE_PENDING);
    hf_promise_rejectf(in.p[1], HF_EAUTH, 401, "second");
    ck_assert_int_eq(hf_future_state(any), HF_FUTURE_REJECTED);
    ck_assert_str_eq(hf_future_error(any)->message, "second");
    hf_future_release(any);
    inputs_free(&in);
}
END_TEST

START_TEST(any_of_cancelled_inputs_is_cancelled)
{
    inputs_t in;
    hf_future_t *any;

    inputs_init(&in);
    any = hf_future_any(in.f, N);
    for (int i = 0; i < N; i++)
        hf_future_cancel(in.f[i]);
    ck_assert_int_eq(hf_future_state(any), HF_FUTURE_CANCELLED);
    hf_future_release(any);
    inputs_free(&in);
}
END_TEST

START_TEST(race_settles_as_the_first_input_to_settle)
{
    inputs_t in;
    hf_future_t *race;

    inputs_init(&in);
    race = hf_future_race(in.f, N);
    hf_promise_rejectf(in.p[1], HF_ETIMEDOUT, 0, "slow mirror");
    ck_assert_int_eq(hf_future_state(race), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(race)->code, HF_ETIMEDOUT);
    ck_assert_int_eq(in.cancelled[0], 1);
    ck_assert_int_eq(in.cancelled[2], 1);
    hf_future_release(race);
    inputs_free(&in);
}
END_TEST

START_TEST(empty_inputs_have_defined_results)
{
    hf_future_t *a = hf_future_all(NULL, 0), *s = hf_future_all_settled(NULL, 0);
    hf_future_t *y = hf_future_any(NULL, 0), *r = hf_future_race(NULL, 0);

    ck_assert_int_eq(hf_future_state(a), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(hf_future_state(s), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(hf_future_state(y), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(y)->code, HF_ENOENT);
    ck_assert_int_eq(hf_future_state(r), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(r)->code, HF_ENOENT);
    hf_future_release(a);
    hf_future_release(s);
    hf_future_release(y);
    hf_future_release(r);
}
END_TEST

START_TEST(null_inputs_are_refused)
{
    hf_future_t *f = hf_future_resolved(NULL, NULL);
    hf_future_t *fs[2] = { f, NULL };
    ck_assert_ptr_null(hf_future_all(NULL, 2));
    ck_assert_ptr_null(hf_future_all(fs, 2));
    ck_assert_ptr_null(hf_future_any(fs, 2));
    ck_assert_ptr_null(hf_future_race(fs, 2));
    ck_assert_ptr_null(hf_future_all_settled(fs, 2));
    hf_future_release(f);
}
END_TEST

START_TEST(cancelling_the_combined_future_cancels_its_inputs)
{
    inputs_t in;
    hf_future_t *all;

    inputs_init(&in);
    all = hf_future_all(in.f, N);
    hf_promise_resolve(in.p[0], NULL, NULL);
    ck_assert_int_eq(hf_future_cancel(all), 0);
    ck_assert_int_eq(in.cancelled[0], 0);
    ck_assert_int_eq(in.cancelled[1], 1);
    ck_assert_int_eq(in.cancelled[2], 1);
    hf_future_release(all);
    inputs_free(&in);
}
END_TEST

#define MANY 2000

static void *resolve_task(void *arg, hf_error_t *err)
{
    (void)err;
    hf_promise_resolve(arg, NULL, NULL);
    return NULL;
}

START_TEST(all_over_thousands_settled_concurrently_by_compute_tasks)
{
    hf_runtime_t *rt = tu_runtime(2);
    hf_promise_t **ps = calloc(MANY, sizeof *ps);
    hf_future_t **fs = calloc(MANY, sizeof *fs);
    hf_future_t *all;

    for (int i = 0; i < MANY; i++) {
        ps[i] = hf_promise_new();
        fs[i] = hf_promise_future(ps[i]);
    }
    all = hf_future_all(fs, MANY);
    for (int i = 0; i < MANY; i++)
        hf_future_release(hf_async(hf_runtime_compute(rt), resolve_task, ps[i]));
    ck_assert_int_eq(tu_settle(all), HF_FUTURE_FULFILLED);
    for (int i = 0; i < MANY; i++) {
        ck_assert_int_eq(hf_future_state(fs[i]), HF_FUTURE_FULFILLED);
        hf_promise_free(ps[i]);
        hf_future_release(fs[i]);
    }
    hf_future_release(all);
    free(ps);
    free(fs);
    hf_runtime_free(rt);
}
END_TEST

static Suite *combine_suite(void)
{
    Suite *s = suite_create("combine");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, all_fulfils_with_null_once_every_input_is_fulfilled);
    tcase_add_test(tc, all_fails_fast_with_the_first_error_and_cancels_the_rest);
    tcase_add_test(tc, all_leaves_an_input_that_another_dependent_still_wants);
    tcase_add_test(tc, all_settled_waits_for_every_input_whatever_its_state);
    tcase_add_test(tc, any_fulfils_with_the_first_value_and_withdraws_from_the_others);
    tcase_add_test(tc, any_rejects_with_the_lowest_index_error_once_all_failed);
    tcase_add_test(tc, any_of_cancelled_inputs_is_cancelled);
    tcase_add_test(tc, race_settles_as_the_first_input_to_settle);
    tcase_add_test(tc, empty_inputs_have_defined_results);
    tcase_add_test(tc, null_inputs_are_refused);
    tcase_add_test(tc, cancelling_the_combined_future_cancels_its_inputs);
    tcase_add_test(tc, all_over_thousands_settled_concurrently_by_compute_tasks);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(combine_suite)
