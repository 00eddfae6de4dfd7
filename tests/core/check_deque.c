/*
 * check_deque.c - the work-stealing deque and the injection queue under contention:
 * every task is taken exactly once.
 */
#include "common/testutil.h"

#include "core/deque.h"
#include "core/injectq.h"

#define NTASKS 200000
#define THIEVES 3

typedef struct item {
    hfi_task_t task;
    int index;
} item_t;

static item_t *items;
static atomic_int *taken;
static atomic_int stop_thieves;
static hfi_deque_t dq;

static void take(hfi_task_t *t)
{
    item_t *it = HFI_CONTAINER(t, item_t, task);
    atomic_fetch_add(&taken[it->index], 1);
}

static void *thief(void *arg)
{
    long *count = arg;
    while (!atomic_load(&stop_thieves) || hfi_deque_size(&dq) > 0) {
        hfi_task_t *t = hfi_deque_steal(&dq);
        if (t && t != HFI_STEAL_RETRY) {
            take(t);
            (*count)++;
        }
    }
    return NULL;
}

START_TEST(owner_and_thieves_take_every_task_exactly_once)
{
    pthread_t th[THIEVES];
    long stolen[THIEVES] = { 0 };
    long popped = 0, total = 0;

    items = calloc(NTASKS, sizeof *items);
    taken = calloc(NTASKS, sizeof *taken);
    ck_assert_int_eq(hfi_deque_init(&dq), 0);
    stop_thieves = 0;
    for (int i = 0; i < THIEVES; i++)
        pthread_create(&th[i], NULL, thief, &stolen[i]);
    for (int i = 0; i < NTASKS; i++) {
        items[i].index = i;
        while (hfi_deque_push(&dq, &items[i].task) != 0) {     /* full: drain a little */
            hfi_task_t *t = hfi_deque_pop(&dq);
            if (t) {
                take(t);
                popped++;
            }
        }
        if (i % 3 == 0) {               /* the owner pops too, racing for the last one */
            hfi_task_t *t = hfi_deque_pop(&dq);
            if (t) {
                take(t);
                popped++;
            }
        }
    }
    for (hfi_task_t *t; (t = hfi_deque_pop(&dq)) != NULL;) {
        take(t);
        popped++;
    }
    atomic_store(&stop_thieves, 1);
    for (int i = 0; i < THIEVES; i++) {
        pthread_join(th[i], NULL);
        total += stolen[i];
    }
    total += popped;
    ck_assert_int_eq(total, NTASKS);
    for (int i = 0; i < NTASKS; i++)
        ck_assert_int_eq(atomic_load(&taken[i]), 1);
    hfi_deque_destroy(&dq);
    free(items);
    free((void *)taken);
}
END_TEST

START_TEST(a_full_deque_refuses_a_push)
{
    static item_t many[HFI_DEQUE_CAP + 1];
    ck_assert_int_eq(hfi_deque_init(&dq), 0);
    for (int i = 0; i < HFI_DEQUE_CAP; i++)
        ck_assert_int_eq(hfi_deque_push(&dq, &many[i].task), 0);
    ck_assert_int_eq(hfi_deque_push(&dq, &many[HFI_DEQUE_CAP].task), -1);
    ck_assert_int_eq(hfi_deque_size(&dq), HFI_DEQUE_CAP);
    ck_assert_ptr_eq(hfi_deque_pop(&dq), &many[HFI_DEQUE_CAP - 1].task);    /* LIFO */
    ck_assert_ptr_eq(hfi_deque_steal(&dq), &many[0].task);                  /* FIFO */
    hfi_deque_destroy(&dq);
}
END_TEST

/* The owner reads `top` only when the value it saw last says full: once thieves have
 * taken tasks from a full deque, exactly that many pushes fit again, in any order of
 * steals and pops, however many laps the indices have made. */
START_TEST(a_full_deque_takes_as_many_pushes_as_thieves_freed)
{
    static item_t many[HFI_DEQUE_CAP];
    item_t extra[64];

    ck_assert_int_eq(hfi_deque_init(&dq), 0);
    for (int lap = 0; lap < 3; lap++) {
        for (int i = 0; i < HFI_DEQUE_CAP; i++)
            ck_assert_int_eq(hfi_deque_push(&dq, &many[i].task), 0);
        ck_assert_int_eq(hfi_deque_push(&dq, &extra[0].task), -1);
        for (int k = 1; k <= 40; k += 13) {
            for (int i = 0; i < k; i++) {
                hfi_task_t *t = hfi_deque_steal(&dq);
                ck_assert_ptr_nonnull(t);
                ck_assert_ptr_ne(t, HFI_STEAL_RETRY);
            }
            for (int i = 0; i < k; i++)
                ck_assert_int_eq(hfi_deque_push(&dq, &extra[i].task), 0);
            ck_assert_int_eq(hfi_deque_push(&dq, &extra[k].task), -1);
            ck_assert_int_eq(hfi_deque_size(&dq), HFI_DEQUE_CAP);
        }
        while (hfi_deque_pop(&dq) != NULL)
            ;
        ck_assert_int_eq(hfi_deque_size(&dq), 0);
    }
    hfi_deque_destroy(&dq);
}
END_TEST

#define PRODUCERS 4
#define PER_PRODUCER 50000

static hfi_injectq_t q;

static void *producer(void *arg)
{
    item_t *base = arg;
    for (int i = 0; i < PER_PRODUCER; i++)
        hfi_injectq_push(&q, &base[i].task);
    return NULL;
}

START_TEST(injection_queue_delivers_every_push_once_in_per_producer_order)
{
    pthread_t th[PRODUCERS];
    int last[PRODUCERS];
    long got = 0;

    items = calloc(PRODUCERS * PER_PRODUCER, sizeof *items);
    taken = calloc(PRODUCERS * PER_PRODUCER, sizeof *taken);
    hfi_injectq_init(&q);
    for (int i = 0; i < PRODUCERS * PER_PRODUCER; i++)
        items[i].index = i;
    for (int p = 0; p < PRODUCERS; p++) {
        last[p] = -1;
        pthread_create(&th[p], NULL, producer, &items[p * PER_PRODUCER]);
    }
    while (got < PRODUCERS * PER_PRODUCER) {
        hfi_task_t *t;
        pthread_mutex_lock(&q.mu);
        t = hfi_injectq_pop(&q);
        pthread_mutex_unlock(&q.mu);
        if (t) {
            item_t *it = HFI_CONTAINER(t, item_t, task);
            int p = it->index / PER_PRODUCER;
            ck_assert_int_gt(it->index, last[p]);   /* FIFO per producer */
            last[p] = it->index;
            take(t);
            got++;
        }
    }
    for (int p = 0; p < PRODUCERS; p++)
        pthread_join(th[p], NULL);
    ck_assert_uint_eq(hfi_injectq_len(&q), 0);
    for (int i = 0; i < PRODUCERS * PER_PRODUCER; i++)
        ck_assert_int_eq(atomic_load(&taken[i]), 1);
    hfi_injectq_destroy(&q);
    free(items);
    free((void *)taken);
}
END_TEST

static Suite *deque_suite(void)
{
    Suite *s = suite_create("deque");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, owner_and_thieves_take_every_task_exactly_once);
    tcase_add_test(tc, a_full_deque_refuses_a_push);
    tcase_add_test(tc, a_full_deque_takes_as_many_pushes_as_thieves_freed);
    tcase_add_test(tc, injection_queue_delivers_every_push_once_in_per_producer_order);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(deque_suite)
