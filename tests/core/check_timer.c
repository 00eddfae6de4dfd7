/*
 * check_timer.c - hf_future_timeout, hf_future_delay, the one timer thread.
 */
#include "common/testutil.h"

#include <dirent.h>
#include <sched.h>

#include "core/alloc.h"
#include "core/future_impl.h"
#include "core/timer.h"

static void set_flag(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
}

START_TEST(timeout_rejects_a_late_input_and_withdraws_from_it)
{
    atomic_int told = 0;
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);
    hf_future_t *t = hf_future_timeout(f, 20);

    hf_promise_on_cancel(p, set_flag, &told);
    ck_assert_int_eq(tu_settle(t), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(t)->code, HF_ETIMEDOUT);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_CANCELLED);   /* nobody else wanted it */
    ck_assert_int_eq(told, 1);
    hf_future_release(t);
    hf_future_release(f);
    hf_promise_free(p);
}
END_TEST

START_TEST(timeout_settles_as_an_input_that_is_in_time)
{
    int v = 3;
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);
    hf_future_t *t = hf_future_timeout(f, 60000);

    ck_assert_uint_ge(hfi_timer_pending(), 1);
    hf_promise_resolve(p, &v, NULL);
    ck_assert_int_eq(hf_future_state(t), HF_FUTURE_FULFILLED);
    ck_assert_ptr_eq(hf_future_value(t), &v);
    ck_assert_uint_eq(hfi_timer_pending(), 0);      /* disarmed at once */
    hf_future_release(t);
    hf_future_release(f);
    hf_promise_free(p);
}
END_TEST

START_TEST(timeout_of_a_settled_future_mirrors_it)
{
    hf_future_t *f = hf_future_rejected(HF_EIO, 0, "x");
    hf_future_t *t = hf_future_timeout(f, 0);
    ck_assert_int_eq(hf_future_state(t), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(t)->code, HF_EIO);
    hf_future_release(t);
    hf_future_release(f);
}
END_TEST

START_TEST(cancelling_a_timeout_disarms_it_and_cancels_its_input)
{
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);
    hf_future_t *t = hf_future_timeout(f, 60000);
    hf_future_cancel(t);
    ck_assert_uint_eq(hfi_timer_pending(), 0);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_CANCELLED);
    hf_future_release(t);
    hf_future_release(f);
    hf_promise_free(p);
}
END_TEST

/* Threads the kernel lists under the timer's name, or -1 where it cannot say (threads
 * not named, no /proc). */
static int os_timer_threads(void)
{
#if defined(HAVE_PTHREAD_SETNAME_NP)
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL) {
        char path[300], name[64] = "";
        FILE *fp;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        if ((fp = fopen(path, "r")) != NULL) {
            if (fgets(name, sizeof name, fp) && strncmp(name, "hfasync-timer", 13) == 0)
                n++;
            fclose(fp);
        }
    }
    closedir(d);
    return n;
#else
    return -1;
#endif
}

/* `n` timer threads, by the library's own count and, where it can say, the kernel's. */
#define TIMER_THREADS_BECOME(n)                                                         \
    do {                                                                                \
        TU_EVENTUALLY(hfi_timer_threads() == (n));                                      \
        TU_EVENTUALLY(os_timer_threads() < 0 || os_timer_threads() == (n));             \
    } while (0)

#define MANY 1000

START_TEST(a_thousand_timers_share_one_thread_which_exits_when_idle)
{
    hf_future_t *ds[MANY];
    for (int i = 0; i < MANY; i++)
        ds[i] = hf_future_delay(5 + (unsigned)(i % 50));
    TIMER_THREADS_BECOME(1);                        /* it names itself when it starts */
    for (int i = 0; i < MANY; i++) {
        ck_assert_int_eq(tu_settle(ds[i]), HF_FUTURE_FULFILLED);
        hf_future_release(ds[i]);
    }
    TU_EVENTUALLY(!hfi_timer_thread_alive());
    /* it says so just before it returns: the kernel lists it a moment longer */
    TIMER_THREADS_BECOME(0);
    /* and it comes back on demand */
    ds[0] = hf_future_delay(1);
    ck_assert_int_eq(tu_settle(ds[0]), HF_FUTURE_FULFILLED);
    hf_future_release(ds[0]);
}
END_TEST

typedef struct fired {
    pthread_mutex_t mu;
    int order[3];
    int n;
} fired_t;

static fired_t fired = { PTHREAD_MUTEX_INITIALIZER, { 0 }, 0 };

static void record(hf_future_t *done, void *arg)
{
    (void)done;
    pthread_mutex_lock(&fired.mu);
    fired.order[fired.n++] = (int)(intptr_t)arg;
    pthread_mutex_unlock(&fired.mu);
}

START_TEST(timers_fire_in_deadline_order)
{
    unsigned ms[3] = { 900, 300, 600 };
    hf_future_t *d[3], *g[3];
    for (int i = 0; i < 3; i++) {
        d[i] = hf_future_delay(ms[i]);
        g[i] = hf_future_finally(d[i], HF_INLINE, record, (void *)(intptr_t)ms[i]);
    }
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(tu_settle(g[i]), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(fired.n, 3);
    ck_assert_int_eq(fired.order[0], 300);
    ck_assert_int_eq(fired.order[1], 600);
    ck_assert_int_eq(fired.order[2], 900);
    for (int i = 0; i < 3; i++) {
        hf_future_release(g[i]);
        hf_future_release(d[i]);
    }
}
END_TEST

START_TEST(cancelling_a_delay_removes_its_timer)
{
    hf_future_t *d = hf_future_delay(60000);
    ck_assert_uint_eq(hfi_timer_pending(), 1);
    ck_assert_int_eq(hf_future_cancel(d), 0);
    ck_assert_uint_eq(hfi_timer_pending(), 0);
    hf_future_release(d);
}
END_TEST

START_TEST(a_timeout_wrapping_a_timeout_keeps_the_inner_error)
{
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);
    hf_future_t *inner = hf_future_timeout(f, 10);
    hf_future_t *outer = hf_future_timeout(inner, 60000);
    ck_assert_int_eq(tu_settle(outer), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(outer)->code, HF_ETIMEDOUT);
    ck_assert_uint_eq(hfi_timer_pending(), 0);
    hf_future_release(outer);
    hf_future_release(inner);
    hf_future_release(f);
    hf_promise_free(p);
}
END_TEST

/* ---- a timeout whose input settles while it is being made ------------------------------ */

#define RACES 5000

static atomic_int race_freed;
static _Atomic(hf_promise_t *) race_slot;
static atomic_int race_inside;      /* 1 while the main thread is in hf_future_timeout() */
static atomic_int race_stop;

static void count_free(void *v)
{
    (void)v;
    atomic_fetch_add(&race_freed, 1);
}

/* Resolves each promise put in the slot after a spin whose length it adapts so that most
 * resolutions land while the main thread is inside hf_future_timeout() (shorter after one
 * that came too late, longer otherwise), with jitter to cover the whole call. */
static void *race_resolver(void *arg)
{
    uint32_t x = 2463534242u, spin = 64;
    (void)arg;
    while (!atomic_load(&race_stop)) {
        hf_promise_t *p = NULL;
        int late;
        /* poll a while before yielding: the promise is taken soon after it is put */
        for (int k = 0; k < 4096 && (p = atomic_load(&race_slot)) == NULL; k++)
            ;
        if (!p) {
            sched_yield();
            continue;
        }
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        for (volatile uint32_t i = 0; i < spin / 2 + x % (spin + 1); i++)
            ;
        late = !atomic_load(&race_inside);
        hf_promise_resolve(p, &race_freed, count_free);
        atomic_store(&race_slot, NULL);
        if (late)
            spin -= spin / 8 + (spin > 1);
        else if (spin < 100000)
            spin++;
    }
    return NULL;
}

#if defined(HAVE_PTHREAD_AFFINITY_NP)
typedef cpu_set_t cpus_t;

/* Each thread on a CPU of its own (if the process has two): sharing one, the resolver
 * would only run when the main thread yields, after the call, and never race with it. */
static void race_pin(pthread_t main_thread, pthread_t resolver, cpus_t *saved)
{
    cpu_set_t one;
    int cpus[2], n = 0;

    pthread_getaffinity_np(main_thread, sizeof *saved, saved);
    for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
        if (CPU_ISSET(c, saved))
            cpus[n++] = c;
    if (n < 2)
        return;
    CPU_ZERO(&one);
    CPU_SET(cpus[0], &one);
    pthread_setaffinity_np(main_thread, sizeof one, &one);
    CPU_ZERO(&one);
    CPU_SET(cpus[1], &one);
    pthread_setaffinity_np(resolver, sizeof one, &one);
}

static void race_unpin(const cpus_t *saved)
{
    pthread_setaffinity_np(pthread_self(), sizeof *saved, saved);
}
#else
/* No affinity calls (configure): the threads race where the scheduler puts them, which
 * makes the race rarer on a busy machine but tests the same thing. */
typedef int cpus_t;

static void race_pin(pthread_t main_thread, pthread_t resolver, cpus_t *saved)
{
    (void)main_thread;
    (void)resolver;
    *saved = 0;
}

static void race_unpin(const cpus_t *saved)
{
    (void)saved;
}
#endif

/* The input settles, again and again, while hf_future_timeout() is setting up: every
 * timer must end disarmed (an armed one would hold its output, the input and the input's
 * value for an hour). Before the fix, a few in a thousand stayed armed. */
START_TEST(a_timeout_whose_input_settles_as_it_is_made_leaves_no_timer_armed)
{
    cpus_t saved;
    pthread_t t;

    atomic_store(&race_freed, 0);
    atomic_store(&race_stop, 0);
    pthread_create(&t, NULL, race_resolver, NULL);
    race_pin(pthread_self(), t, &saved);
    for (int i = 0; i < RACES; i++) {
        hf_promise_t *p = hf_promise_new();
        hf_future_t *f = hf_promise_future(p), *o;
        atomic_store(&race_inside, 1);
        atomic_store(&race_slot, p);
        o = hf_future_timeout(f, 3600 * 1000);
        atomic_store(&race_inside, 0);
        for (int k = 0; k < 4096 && atomic_load(&race_slot); k++)
            ;
        while (atomic_load(&race_slot))
            sched_yield();
        ck_assert_int_eq(tu_settle(o), HF_FUTURE_FULFILLED);
        hf_future_release(o);
        hf_future_release(f);
        hf_promise_free(p);
    }
    atomic_store(&race_stop, 1);
    pthread_join(t, NULL);
    race_unpin(&saved);
    TU_EVENTUALLY(hfi_timer_pending() == 0);
    TU_EVENTUALLY(atomic_load(&race_freed) == RACES);
}
END_TEST

/* Timers armed until the heap has to grow, with that growth made to fail: the first
 * allocations (the output and the timeout's state) succeed, the heap's does not. */
#define ARM_MAX 4096

/* A timeout that cannot be armed returns NULL and leaves its input as it was: pending,
 * its producer not told, no interest left behind. Before the fix it returned a future
 * rejected with HF_ENOMEM whose hook withdrew an interest from the input, which
 * cancelled the caller's download whenever nothing else depended on it. */
START_TEST(a_timeout_that_cannot_be_armed_returns_null_and_leaves_its_input_alone)
{
    static hf_future_t *armed[ARM_MAX];
    static hf_promise_t *ps[ARM_MAX];
    hf_promise_t *p = NULL;
    hf_future_t *f = NULL, *o = NULL;
    atomic_int told = 0;
    size_t n = 0;

    for (;;) {
        ck_assert_uint_lt(n, ARM_MAX);
        p = hf_promise_new();
        f = hf_promise_future(p);
        ck_assert_int_eq(hf_promise_on_cancel(p, set_flag, &told), 0);
        hfi_test_fail_alloc_after(2);
        o = hf_future_timeout(f, 3600 * 1000);
        hfi_test_fail_alloc_after(-1);
        if (o == NULL || hf_future_state(o) != HF_FUTURE_PENDING)
            break;                          /* the heap had to grow, and could not */
        armed[n] = o;
        ps[n++] = p;
        hf_future_release(f);
    }
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_PENDING);
    ck_assert_int_eq(atomic_load(&told), 0);
    ck_assert_uint_eq(atomic_load(&f->interest), 0);
    ck_assert_ptr_null(o);
    ck_assert_uint_eq(hfi_timer_pending(), n);
    ck_assert_int_eq(hf_promise_resolve(p, NULL, NULL), 0);
    hf_future_release(f);
    hf_promise_free(p);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(hf_future_cancel(armed[i]), 0);
        hf_future_release(armed[i]);
        hf_promise_free(ps[i]);
    }
    ck_assert_uint_eq(atomic_load(&told), n);
    ck_assert_uint_eq(hfi_timer_pending(), 0);
}
END_TEST

/* Likewise a delay: NULL, as documented, not a future already rejected with ENOMEM. */
START_TEST(a_delay_that_cannot_be_armed_returns_null)
{
    static hf_future_t *armed[ARM_MAX];
    hf_future_t *d;
    size_t n = 0;

    for (;;) {
        ck_assert_uint_lt(n, ARM_MAX);
        hfi_test_fail_alloc_after(2);
        d = hf_future_delay(3600 * 1000);
        hfi_test_fail_alloc_after(-1);
        if (d == NULL || hf_future_state(d) != HF_FUTURE_PENDING)
            break;
        armed[n++] = d;
    }
    ck_assert_ptr_null(d);
    ck_assert_uint_eq(hfi_timer_pending(), n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(hf_future_cancel(armed[i]), 0);
        hf_future_release(armed[i]);
    }
    ck_assert_uint_eq(hfi_timer_pending(), 0);
}
END_TEST

/* An HF_INLINE continuation of a delay runs on the timer thread; a wait there would stop
 * every timer (here: the very one that settles what it waits for), so it is refused. When
 * the 1 ms delay has fired before the continuation is registered (a slow or loaded
 * machine: TSan in CI), the continuation runs on the test thread instead, where the wait
 * is allowed: that round proves nothing and is tried again. */
static atomic_int timer_wait_rc = 1;
static pthread_t timer_wait_thread;

static void wait_on_the_timer_thread(hf_future_t *done, hf_promise_t *next, void *arg)
{
    hf_future_t *later = arg;
    (void)done;
    timer_wait_thread = pthread_self();
    atomic_store(&timer_wait_rc, hf_future_wait(later, 30000));
    hf_promise_resolve(next, NULL, NULL);
}

START_TEST(a_wait_on_the_timer_thread_is_refused)
{
    for (int round = 0;; round++) {
        hf_future_t *later = hf_future_delay(50);
        hf_future_t *soon = hf_future_delay(1);
        hf_future_t *c = hf_future_then(soon, HF_INLINE, wait_on_the_timer_thread, later);
        int on_timer;

        ck_assert_int_eq(tu_settle(c), HF_FUTURE_FULFILLED);
        on_timer = !pthread_equal(timer_wait_thread, pthread_self());
        ck_assert_int_eq(tu_settle(later), HF_FUTURE_FULFILLED);
        hf_future_release(c);
        hf_future_release(soon);
        hf_future_release(later);
        if (on_timer)
            break;
        ck_assert_msg(round < 50, "the 1 ms delay fired before registration 50 times");
    }
    ck_assert_int_eq(atomic_load(&timer_wait_rc), HF_EDEADLK);
}
END_TEST


/* ---- contract audit ------------------------------------------------------------------------ */

static void resolve_noop(hf_future_t *done, hf_promise_t *next, void *arg)
{
    (void)done;
    (void)arg;
    hf_promise_resolve(next, NULL, NULL);
}

START_TEST(a_timeout_that_fires_leaves_an_input_another_dependent_wants)
{
    atomic_int told = 0;
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);
    hf_future_t *other = hf_future_then(f, HF_INLINE, resolve_noop, NULL);
    hf_future_t *t;

    ck_assert_int_eq(hf_promise_on_cancel(p, set_flag, &told), 0);
    t = hf_future_timeout(f, 1);
    ck_assert_int_eq(tu_settle(t), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(t)->code, HF_ETIMEDOUT);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_PENDING);
    ck_assert_int_eq(atomic_load(&told), 0);
    hf_promise_resolve(p, NULL, NULL);
    ck_assert_int_eq(hf_future_state(other), HF_FUTURE_FULFILLED);
    hf_future_release(t);
    hf_future_release(other);
    hf_future_release(f);
    hf_promise_free(p);
}
END_TEST

START_TEST(a_timeout_shares_its_inputs_value_and_keeps_it_alive)
{
    atomic_int freed = 0;
    hf_promise_t *p = hf_promise_new();
    hf_future_t *f = hf_promise_future(p);
    hf_future_t *t = hf_future_timeout(f, 60000);

    ck_assert_int_eq(hf_promise_resolve(p, tu_value_new(&freed, 8), tu_value_free), 0);
    ck_assert_int_eq(hf_future_state(t), HF_FUTURE_FULFILLED);
    ck_assert_ptr_eq(hf_future_value(t), hf_future_value(f));
    ck_assert_uint_eq(hfi_timer_pending(), 0);
    hf_promise_free(p);
    hf_future_release(f);
    ck_assert_int_eq(atomic_load(&freed), 0);
    ck_assert_int_eq(((tu_value_t *)hf_future_value(t))->payload, 8);
    hf_future_release(t);
    ck_assert_int_eq(atomic_load(&freed), 1);
}
END_TEST

START_TEST(a_delay_fulfils_with_a_null_value)
{
    hf_future_t *d = hf_future_delay(1);
    ck_assert_int_eq(tu_settle(d), HF_FUTURE_FULFILLED);
    ck_assert_ptr_null(hf_future_value(d));
    hf_future_release(d);
}
END_TEST

static atomic_int timer_rc_settled, timer_rc_poll;

static void wait_twice_on_the_timer_thread(hf_future_t *done, hf_promise_t *next, void *arg)
{
    hf_future_t *later = arg;
    hf_future_t *ready = hf_future_resolved(NULL, NULL);
    (void)done;
    timer_wait_thread = pthread_self();
    atomic_store(&timer_rc_settled, hf_future_wait(ready, 30000));
    atomic_store(&timer_rc_poll, hf_future_wait(later, 0));
    hf_future_release(ready);
    hf_promise_resolve(next, NULL, NULL);
}

/* "HF_EDEADLK for any wait on a pending future": a poll included; a settled one is fine */
START_TEST(the_timer_thread_may_wait_on_a_settled_future_but_not_poll_a_pending_one)
{
    for (int round = 0;; round++) {
        hf_future_t *later = hf_future_delay(60000);
        hf_future_t *soon = hf_future_delay(1);
        hf_future_t *c = hf_future_then(soon, HF_INLINE, wait_twice_on_the_timer_thread, later);
        int on_timer;

        ck_assert_int_eq(tu_settle(c), HF_FUTURE_FULFILLED);
        on_timer = !pthread_equal(timer_wait_thread, pthread_self());
        hf_future_cancel(later);
        hf_future_release(c);
        hf_future_release(soon);
        hf_future_release(later);
        if (on_timer)
            break;
        ck_assert_msg(round < 50, "the 1 ms delay fired before registration 50 times");
    }
    ck_assert_int_eq(atomic_load(&timer_rc_settled), 0);
    ck_assert_int_eq(atomic_load(&timer_rc_poll), HF_EDEADLK);
}
END_TEST

static Suite *timer_suite(void)
{
    Suite *s = suite_create("timer");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, timeout_rejects_a_late_input_and_withdraws_from_it);
    tcase_add_test(tc, timeout_settles_as_an_input_that_is_in_time);
    tcase_add_test(tc, timeout_of_a_settled_future_mirrors_it);
    tcase_add_test(tc, cancelling_a_timeout_disarms_it_and_cancels_its_input);
    tcase_add_test(tc, a_thousand_timers_share_one_thread_which_exits_when_idle);
    tcase_add_test(tc, timers_fire_in_deadline_order);
    tcase_add_test(tc, cancelling_a_delay_removes_its_timer);
    tcase_add_test(tc, a_timeout_wrapping_a_timeout_keeps_the_inner_error);
    tcase_add_test(tc, a_timeout_whose_input_settles_as_it_is_made_leaves_no_timer_armed);
    tcase_add_test(tc, a_timeout_that_cannot_be_armed_returns_null_and_leaves_its_input_alone);
    tcase_add_test(tc, a_delay_that_cannot_be_armed_returns_null);
    tcase_add_test(tc, a_wait_on_the_timer_thread_is_refused);
    tcase_add_test(tc, a_timeout_that_fires_leaves_an_input_another_dependent_wants);
    tcase_add_test(tc, a_timeout_shares_its_inputs_value_and_keeps_it_alive);
    tcase_add_test(tc, a_delay_fulfils_with_a_null_value);
    tcase_add_test(tc, the_timer_thread_may_wait_on_a_settled_future_but_not_poll_a_pending_one);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(timer_suite)
