/*
 * atomics.h - C11 atomics shorthands, a byte spinlock, and a CPU pause.
 *
 * The spinlock protects only a handful of pointer updates inside a future; it is never
 * held across a call out of the library, an allocation or another lock.
 */
#ifndef HFI_ATOMICS_H
#define HFI_ATOMICS_H

#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#define HFI_CACHELINE 64

#define hfi_load_relaxed(p) atomic_load_explicit((p), memory_order_relaxed)
#define hfi_load_acquire(p) atomic_load_explicit((p), memory_order_acquire)
#define hfi_store_relaxed(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
#define hfi_store_release(p, v) atomic_store_explicit((p), (v), memory_order_release)
/* Bump a counter that only its owner thread writes (readers may be anywhere). */
#define hfi_count(p) hfi_store_relaxed((p), hfi_load_relaxed(p) + 1)

static inline void hfi_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

typedef _Atomic unsigned char hfi_spin_t;

static inline void hfi_spin_lock(hfi_spin_t *l)
{
    unsigned spins = 0;
    while (atomic_exchange_explicit(l, 1, memory_order_acquire)) {
        while (hfi_load_relaxed(l)) {
            if (++spins < 64)
                hfi_cpu_relax();
            else
                sched_yield();      /* the holder may have been preempted */
        }
    }
}

static inline void hfi_spin_unlock(hfi_spin_t *l)
{
    atomic_store_explicit(l, 0, memory_order_release);
}

#endif /* HFI_ATOMICS_H */
