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


/* ---- contract audit: ownership, withdrawal by every kind, shared inputs ------------------ */

START_TEST(any_keeps_the_winning_inputs_value_alive_after_the_input_is_released)
{
    atomic_int freed = 0;
    hf_promise_t *p = hf_promise_new(), *q = hf_promise_new();
    hf_future_t *fs[2] = { hf_promise_future(p), hf_promise_future(q) };
    hf_future_t *any = hf_future_any(fs, 2);

    ck_assert_int_eq(hf_promise_resolve(q, tu_value_new(&freed, 77), tu_value_free), 0);
    hf_promise_free(p);
    hf_promise_free(q);
    hf_future_release(fs[0]);
    hf_future_release(fs[1]);
    ck_assert_int_eq(hf_future_state(any), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(atomic_load(&freed), 0);
    ck_assert_int_eq(((tu_value_t *)hf_future_value(any))->payload, 77);
    hf_future_release(any);
    ck_assert_int_eq(atomic_load(&freed), 1);
}
END_TEST

typedef hf_future_t *(*combinator_fn)(hf_future_t *const *, size_t);
static const combinator_fn combinators[4] = { hf_future_all, hf_future_all_settled,
                                              hf_future_any, hf_future_race };

START_TEST(cancelling_any_combinator_cancels_its_pending_inputs_and_tells_their_producers)
{
    inputs_t in;
    hf_future_t *c;

    inputs_init(&in);
    c = combinators[_i](in.f, N);
    if (_i == 1 || _i == 2)     /* all_settled, any: an error does not settle them */
        hf_promise_rejectf(in.p[0], HF_EIO, 0, "first failed");
    ck_assert_int_eq(hf_future_state(c), HF_FUTURE_PENDING);
    ck_assert_int_eq(hf_future_cancel(c), 0);
    ck_assert_int_eq(in.cancelled[0], _i == 0 || _i == 3);
    ck_assert_int_eq(in.cancelled[1], 1);
    ck_assert_int_eq(in.cancelled[2], 1);
    hf_future_release(c);
    inputs_free(&in);
}
END_TEST

START_TEST(a_combinator_listing_an_input_twice_withdraws_both_interests)
{
    inputs_t in;
    hf_future_t *fs[3], *c, *other;

    inputs_init(&in);
    fs[0] = fs[1] = in.f[0];
    fs[2] = in.f[1];
    c = combinators[_i](fs, 3);
    other = hf_future_then(in.f[1], HF_INLINE, noop, NULL);
    ck_assert_int_eq(hf_future_cancel(c), 0);
    ck_assert_int_eq(in.cancelled[0], 1);          /* nobody else wanted it */
    ck_assert_int_eq(in.cancelled[1], 0);          /* `other` still does */
    ck_assert_int_eq(hf_future_state(in.f[1]), HF_FUTURE_PENDING);
    hf_future_release(other);
    hf_future_release(c);
    inputs_free(&in);
}
END_TEST

START_TEST(a_shared_input_is_cancelled_only_when_its_last_combinator_withdraws)
{
    inputs_t in;
    hf_future_t *a, *b;

    inputs_init(&in);
    a = combinators[_i](in.f, 2);
    b = combinators[_i](&in.f[1], 2);
    ck_assert_int_eq(hf_future_cancel(a), 0);
    ck_assert_int_eq(in.cancelled[0], 1);
    ck_assert_int_eq(in.cancelled[1], 0);          /* b still wants it */
    ck_assert_int_eq(in.cancelled[2], 0);
    ck_assert_int_eq(hf_future_cancel(b), 0);
    ck_assert_int_eq(in.cancelled[1], 1);
    ck_assert_int_eq(in.cancelled[2], 1);
    hf_future_release(a);
    hf_future_release(b);
    inputs_free(&in);
}
END_TEST

START_TEST(all_is_cancelled_by_a_cancelled_input_and_cancels_the_rest)
{
    inputs_t in;
    hf_future_t *all;

    inputs_init(&in);
    all = hf_future_all(in.f, N);
    hf_future_cancel(in.f[1]);
    ck_assert_int_eq(hf_future_state(all), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(in.cancelled[0], 1);
    ck_assert_int_eq(in.cancelled[2], 1);
    hf_future_release(all);
    inputs_free(&in);
}
END_TEST

START_TEST(race_won_by_a_cancellation_is_cancelled_and_withdraws_from_the_others)
{
    inputs_t in;
    hf_future_t *race;

    inputs_init(&in);
    race = hf_future_race(in.f, N);
    hf_future_cancel(in.f[2]);
    ck_assert_int_eq(hf_future_state(race), HF_FUTURE_CANCELLED);
    ck_assert_int_eq(in.cancelled[0], 1);
    ck_assert_int_eq(in.cancelled[1], 1);
    hf_future_release(race);
    inputs_free(&in);
}
END_TEST

START_TEST(all_settled_keeps_its_interest_in_the_others_when_one_fails)
{
    inputs_t in;
    hf_future_t *all;

    inputs_init(&in);
    all = hf_future_all_settled(in.f, N);
    hf_promise_rejectf(in.p[1], HF_EIO, 0, "x");
    ck_assert_int_eq(in.cancelled[0], 0);
    ck_assert_int_eq(in.cancelled[2], 0);
    ck_assert_int_eq(hf_future_state(in.f[0]), HF_FUTURE_PENDING);
    hf_future_release(all);
    inputs_free(&in);
}
END_TEST

START_TEST(a_combinator_over_an_already_failed_input_fails_at_once_and_withdraws)
{
    inputs_t in;
    hf_future_t *bad = hf_future_rejected(HF_EAUTH, 403, "no access"), *fs[2], *all;

    inputs_init(&in);
    fs[0] = in.f[0];
    fs[1] = bad;
    all = hf_future_all(fs, 2);
    ck_assert_int_eq(hf_future_state(all), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(all)->code, HF_EAUTH);
    ck_assert_int_eq(hf_future_error(all)->http_status, 403);
    ck_assert_int_eq(in.cancelled[0], 1);
    hf_future_release(all);
    hf_future_release(bad);
    inputs_free(&in);
}
END_TEST

static void adopt_it(hf_future_t *done, hf_promise_t *next, void *arg)
{
    (void)done;
    ck_assert_int_eq(hf_promise_adopt(next, arg), 0);
}

START_TEST(cancelling_a_shared_input_cancels_every_kind_of_dependent)
{
    inputs_t in;
    hf_promise_t *adopter = hf_promise_new();
    hf_future_t *adopted = hf_promise_future(adopter);
    hf_future_t *ready = hf_future_resolved(NULL, NULL);
    hf_future_t *d[8], *two[2];
    int k = 0;

    inputs_init(&in);
    two[0] = in.f[0];
    two[1] = in.f[1];
    d[k++] = hf_future_then(in.f[0], HF_INLINE, noop, NULL);
    d[k++] = hf_future_catch(in.f[0], HF_INLINE, noop, NULL);
    d[k++] = hf_future_all(two, 2);
    d[k++] = hf_future_race(two, 2);
    d[k++] = hf_future_any(in.f, 1);
    d[k++] = hf_future_timeout(in.f[0], 60000);
    d[k++] = hf_future_then(ready, HF_INLINE, adopt_it, in.f[0]);  /* adopts in.f[0] */
    ck_assert_int_eq(hf_promise_adopt(adopter, in.f[0]), 0);
    d[k++] = hf_future_retain(adopted);
    ck_assert_int_eq(hf_future_cancel(in.f[0]), 0);
    for (int i = 0; i < k; i++)
        ck_assert_msg(hf_future_state(d[i]) == HF_FUTURE_CANCELLED, "dependent %d is %d", i,
                      (int)hf_future_state(d[i]));
    ck_assert_int_eq(in.cancelled[0], 1);
    ck_assert_int_eq(in.cancelled[1], 1);          /* all and race withdrew from it */
    for (int i = 0; i < k; i++)
        hf_future_release(d[i]);
    hf_future_release(ready);
    hf_future_release(adopted);
    hf_promise_free(adopter);
    inputs_free(&in);
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
    tcase_add_test(tc, any_keeps_the_winning_inputs_value_alive_after_the_input_is_released);
    tcase_add_loop_test(tc, cancelling_any_combinator_cancels_its_pending_inputs_and_tells_their_producers, 0, 4);
    tcase_add_loop_test(tc, a_combinator_listing_an_input_twice_withdraws_both_interests, 0, 4);
    tcase_add_loop_test(tc, a_shared_input_is_cancelled_only_when_its_last_combinator_withdraws, 0, 4);
    tcase_add_test(tc, all_is_cancelled_by_a_cancelled_input_and_cancels_the_rest);
    tcase_add_test(tc, race_won_by_a_cancellation_is_cancelled_and_withdraws_from_the_others);
    tcase_add_test(tc, all_settled_keeps_its_interest_in_the_others_when_one_fails);
    tcase_add_test(tc, a_combinator_over_an_already_failed_input_fails_at_once_and_withdraws);
    tcase_add_test(tc, cancelling_a_shared_input_cancels_every_kind_of_dependent);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(combine_suite)
