/*
 * thread.h - creating the library's threads (signals blocked, named), and the CPU count.
 */
#ifndef HFI_THREAD_H
#define HFI_THREAD_H

#include <pthread.h>

/* Start `fn(arg)` with every signal blocked (signals belong to the application's
 * threads). Returns 0 or an errno value. */
int hfi_thread_start(pthread_t *t, void *(*fn)(void *), void *arg, int detached);
/* Name the calling thread (at most 15 characters are kept), where the platform allows. */
void hfi_thread_set_name(const char *name);
/* Online CPUs (at least 1). */
unsigned hfi_cpu_count(void);

#endif /* HFI_THREAD_H */
