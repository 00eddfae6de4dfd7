/*
 * check_alloc.c - the small-object free lists: what threads give back when they exit.
 *
 * hfi_obj_held() counts objects taken from malloc and not yet given back to free(). In the
 * plain build a thread's lists go back when it exits; sanitizer builds skip the lists
 * (every release is a free()), so there the same numbers hold at once.
 */
#include "common/testutil.h"

#include "core/alloc.h"
#include "core/timer.h"

#define FEW 10                  /* fewer than a magazine: they stay in the thread's chain */

static void *free_them(void *arg)
{
    void **objs = arg;
    for (int i = 0; i < FEW; i++)
        hfi_obj_free(objs[i], HFI_OBJ_LARGE);
    return NULL;
}

START_TEST(a_thread_that_only_frees_gives_its_objects_back_when_it_exits)
{
    void *objs[FEW];
    uint64_t held;
    pthread_t t;

    for (int i = 0; i < FEW; i++)
        ck_assert_ptr_nonnull(objs[i] = hfi_obj_alloc(HFI_OBJ_LARGE));
    held = hfi_obj_held();
    ck_assert_int_eq(pthread_create(&t, NULL, free_them, objs), 0);
    pthread_join(t, NULL);
    ck_assert_uint_eq(hfi_obj_held(), held - FEW);
}
END_TEST

/* The audit's case: the timer thread only frees (it drops the last reference to delays
 * their callers released), then exits when idle; five of its lifetimes in a row. */
START_TEST(futures_freed_on_the_timer_thread_are_given_back_each_time_it_exits)
{
    int cycles = 0;

    for (int tries = 0; cycles < 5; tries++) {
        uint64_t held;
        hf_future_t *d[20];
        int armed;

        ck_assert_int_lt(tries, 50);
        for (int i = 0; i < 20; i++)
            d[i] = hf_future_delay(50);
        held = hfi_obj_held();
        for (int i = 0; i < 20; i++)
            hf_future_release(d[i]);
        /* None has fired yet: the timer thread will drop the last reference to each. (If
         * this thread was held up longer than that, try the cycle again; `<=` because the
         * thread of such a cycle may still be giving its objects back.) */
        armed = hfi_timer_pending() == 20;
        if (armed) {
            TU_EVENTUALLY(hfi_obj_held() <= held - 20);
            cycles++;
        }
        TU_EVENTUALLY(!hfi_timer_thread_alive());
    }
}
END_TEST

START_TEST(an_aligned_allocation_is_zeroed_at_its_alignment_and_can_be_made_to_fail)
{
    static const size_t aligns[] = { 16, 64, 128, 4096 };

    for (size_t a = 0; a < sizeof aligns / sizeof aligns[0]; a++) {
        for (size_t size = 1; size <= 1000; size += 333) {
            unsigned char *p = hfi_calloc_aligned(aligns[a], size);
            ck_assert_ptr_nonnull(p);
            ck_assert_uint_eq((uintptr_t)p % aligns[a], 0);
            for (size_t i = 0; i < size; i++)
                ck_assert_uint_eq(p[i], 0);
            hfi_free(p);
        }
    }
    hfi_test_fail_alloc_after(0);
    ck_assert_ptr_null(hfi_calloc_aligned(64, 256));
    hfi_test_fail_alloc_after(-1);
}
END_TEST

static Suite *alloc_suite(void)
{
    Suite *s = suite_create("alloc");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, a_thread_that_only_frees_gives_its_objects_back_when_it_exits);
    tcase_add_test(tc, futures_freed_on_the_timer_thread_are_given_back_each_time_it_exits);
    tcase_add_test(tc, an_aligned_allocation_is_zeroed_at_its_alignment_and_can_be_made_to_fail);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(alloc_suite)
