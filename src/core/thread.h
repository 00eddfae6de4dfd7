/*
 * thread.h - creating the library's threads (signals blocked, named), and the CPU count.
 */
#ifndef HFI_THREAD_H
#define HFI_THREAD_H

#include <pthread.h>

/* Start `fn(arg)` with every signal blocked (signals belong to the application's
 * threads). Returns 0 or an errno value. */
int hfi_thread_start(pthread_t *t, void *(*fn)(void *), void *arg, int detached);
/* Name the calling thread (at most 15 characters are kept): the kernel learns it where the
 * platform allows (pthread_setname_np), hfi_thread_name() returns it everywhere. */
void hfi_thread_set_name(const char *name);
/* The name hfi_thread_set_name() gave the calling thread; "" if it never named itself. */
const char *hfi_thread_name(void);
/* Online CPUs (at least 1). */
unsigned hfi_cpu_count(void);

#endif /* HFI_THREAD_H */
