/*
 * core_tbb.cpp - the oneTBB side of hf-bench's core suite (built only if configure found
 * oneTBB).
 *
 * Fairness rules (the same in every implementation file):
 *  - the same number of worker threads: a tbb::task_arena of concurrency `threads` with no
 *    slot reserved for external threads, and a tbb::global_control that lets TBB start
 *    that many workers (its default is one fewer than the CPUs). A thread that calls
 *    arena.execute() takes a worker's slot, so at most `threads` threads run tasks at once;
 *  - the same work per task as hfasync's rows (an atomic decrement, a slot write, fib);
 *  - TBB used the way its documentation intends: task_group::run/wait inside
 *    task_arena::execute, the recursive task_group pattern for fib, and, from a thread
 *    outside the arena, task_arena::enqueue of task_group::defer handles (the documented
 *    way to hand work to an arena without joining it), waited on with task_group::wait.
 *
 * Rows:
 *  - spawn_external: the main thread, outside the arena, enqueues N tasks of one
 *    task_group, then waits for the group (inside the arena). ops = N.
 *  - spawn_local: inside the arena, N task_group::run and one wait. ops = N.
 *  - spawn_nested: fib(n) with one task_group::run per call with n >= 2 (child fib(n-1),
 *    fib(n-2) inline, then wait): fib(n+1) - 1 tasks, the same count as hfasync's.
 *  - ping_pong: two std::threads hand a number back and forth through two
 *    tbb::concurrent_bounded_queue (push, blocking pop): TBB's blocking handoff.
 *    std::promise/std::future would not be TBB. ops = round trips.
 *  - fan_in: TBB has no futures; the nearest "wait for N results" is one task_group with
 *    N tasks, each writing its result slot, and one wait. So this row includes spawning
 *    N tasks, where hfasync's includes creating N promises and resolving them. ops = N.
 *  - no chain, no then_ready: TBB has no futures or continuations to chain.
 */
#include "config.h"

#include <atomic>
#include <cstdint>
#include <exception>
#include <thread>
#include <vector>

#include <oneapi/tbb/concurrent_queue.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>
#include <oneapi/tbb/version.h>

#include "bench.h"

#define IMPL "tbb"

namespace {

struct tbb_env {
    tbb::global_control gc;
    tbb::task_arena arena;

    explicit tbb_env(unsigned threads)
        : gc(tbb::global_control::max_allowed_parallelism, threads + 1),
          arena(static_cast<int>(threads), 0)
    {
        arena.initialize();
    }
};

/* Run `body` (which returns 0 or -1); an exception is a failure, never crosses into C. */
template <typename F> int guarded(const char *bench, F &&body)
{
    try {
        return body();
    } catch (const std::exception &ex) {
        return bench_fail(IMPL, bench, "exception: %s", ex.what());
    } catch (...) {
        return bench_fail(IMPL, bench, "unknown exception");
    }
}

/* Time `region()` into `out`; ops = n. */
template <typename F> void timed(bench_rep_t *out, uint64_t n, F &&region)
{
    uint64_t t0 = bench_now_ns();
    region();
    out->ns = bench_now_ns() - t0;
    out->ops = n;
}

int check_left(const char *bench, const std::atomic<uint64_t> &left)
{
    uint64_t n = left.load();
    return n == 0 ? 0 : bench_fail(IMPL, bench, "%llu tasks did not run",
                                   static_cast<unsigned long long>(n));
}

int spawn_external(void *env, const bench_params_t *p, bench_rep_t *out)
{
    return guarded("spawn_external", [&] {
        tbb_env *e = static_cast<tbb_env *>(env);
        std::atomic<uint64_t> left{p->n_spawn};
        tbb::task_group tg;
        timed(out, p->n_spawn, [&] {
            for (uint64_t i = 0; i < p->n_spawn; i++)
                e->arena.enqueue(tg.defer([&left] { left.fetch_sub(1, std::memory_order_acq_rel); }));
            e->arena.execute([&] { tg.wait(); });
        });
        return check_left("spawn_external", left);
    });
}

int spawn_local(void *env, const bench_params_t *p, bench_rep_t *out)
{
    return guarded("spawn_local", [&] {
        tbb_env *e = static_cast<tbb_env *>(env);
        std::atomic<uint64_t> left{p->n_spawn};
        timed(out, p->n_spawn, [&] {
            e->arena.execute([&] {
                tbb::task_group tg;
                for (uint64_t i = 0; i < p->n_spawn; i++)
                    tg.run([&left] { left.fetch_sub(1, std::memory_order_acq_rel); });
                tg.wait();
            });
        });
        return check_left("spawn_local", left);
    });
}

int64_t fib(int n)
{
    if (n < 2)
        return n;
    int64_t a = 0, b;
    tbb::task_group g;
    g.run([&a, n] { a = fib(n - 1); });
    b = fib(n - 2);
    g.wait();
    return a + b;
}

int spawn_nested(void *env, const bench_params_t *p, bench_rep_t *out)
{
    return guarded("spawn_nested", [&] {
        tbb_env *e = static_cast<tbb_env *>(env);
        int64_t r = 0;
        timed(out, bench_fib_spawns(p->fib_n),
              [&] { r = e->arena.execute([&] { return fib(p->fib_n); }); });
        if (r != bench_fib(p->fib_n))
            return bench_fail(IMPL, "spawn_nested", "fib(%d) = %lld, expected %lld", p->fib_n,
                              static_cast<long long>(r),
                              static_cast<long long>(bench_fib(p->fib_n)));
        return 0;
    });
}

int ping_pong(void *, const bench_params_t *p, bench_rep_t *out)
{
    return guarded("ping_pong", [&] {
        tbb::concurrent_bounded_queue<int64_t> ping, pong;
        const int64_t n = static_cast<int64_t>(p->n_pingpong);
        int64_t bad = 0, v = 0;
        std::thread other([&] {
            int64_t x;
            for (int64_t r = 0; r <= n; r++) {
                ping.pop(x);
                pong.push(x);
            }
        });
        /* Round 0 only starts the other thread; rounds 1..n are measured. */
        ping.push(0);
        pong.pop(v);
        bad += v != 0;
        timed(out, p->n_pingpong, [&] {
            for (int64_t r = 1; r <= n; r++) {
                ping.push(r);
                pong.pop(v);
                bad += v != r;
            }
        });
        other.join();
        return bad ? bench_fail(IMPL, "ping_pong", "%lld wrong replies",
                                static_cast<long long>(bad))
                   : 0;
    });
}

int fan_in(void *env, const bench_params_t *p, bench_rep_t *out)
{
    return guarded("fan_in", [&] {
        tbb_env *e = static_cast<tbb_env *>(env);
        std::vector<uint64_t> slot(p->n_fanin, 0);
        uint64_t *s = slot.data();
        uint64_t bad = 0;
        timed(out, p->n_fanin, [&] {
            e->arena.execute([&] {
                tbb::task_group tg;
                for (uint64_t i = 0; i < p->n_fanin; i++)
                    tg.run([s, i] { s[i] = i + 1; });
                tg.wait();
            });
        });
        for (uint64_t i = 0; i < p->n_fanin; i++)
            bad += slot[i] != i + 1;
        return bad ? bench_fail(IMPL, "fan_in", "%llu results missing",
                                static_cast<unsigned long long>(bad))
                   : 0;
    });
}

void *setup(const bench_params_t *p)
{
    try {
        return new tbb_env(p->threads);
    } catch (const std::exception &ex) {
        bench_fail(IMPL, "setup", "exception: %s", ex.what());
        return nullptr;
    }
}

void teardown(void *env)
{
    delete static_cast<tbb_env *>(env);
}

const char *version()
{
    return TBB_runtime_version();
}

const bench_case_t cases[] = {
    { "spawn_external", spawn_external, { nullptr, nullptr } },
    { "spawn_local", spawn_local, { nullptr, nullptr } },
    { "spawn_nested", spawn_nested, { nullptr, nullptr } },
    { "ping_pong", ping_pong, { nullptr, nullptr } },
    { "fan_in", fan_in, { nullptr, nullptr } },
    { nullptr, nullptr, { nullptr, nullptr } },
};

} // namespace

extern "C" const bench_impl_t bench_impl_tbb = {
    IMPL, version, setup, teardown, cases, nullptr,
    "counts malloc() calls only: TBB takes task memory from its own small-object pools "
    "and libtbbmalloc",
};
