/*
 * thread.c - platform glue for threads. It asks for GNU extensions only for
 * pthread_setname_np, behind a configure check (as hub/writeback.c does for
 * sync_file_range); elsewhere the kernel does not learn the name, but the thread still
 * knows it (hfi_thread_name), on every platform.
 */
#include "config.h"

#if defined(HAVE_PTHREAD_SETNAME_NP) || defined(HAVE_PTHREAD_SETNAME_NP_1)
#define _GNU_SOURCE 1
#endif

#include "core/thread.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static _Thread_local char thread_name[16];

int hfi_thread_start(pthread_t *t, void *(*fn)(void *), void *arg, int detached)
{
    sigset_t all, old;
    pthread_attr_t attr;
    int rc;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&attr);
    if (detached)
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(t, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

void hfi_thread_set_name(const char *name)
{
    char *buf = thread_name;
    strncpy(buf, name, sizeof thread_name - 1);
    buf[sizeof thread_name - 1] = '\0';
#if defined(HAVE_PTHREAD_SETNAME_NP)
    pthread_setname_np(pthread_self(), buf);
#elif defined(HAVE_PTHREAD_SETNAME_NP_1)
    pthread_setname_np(buf);
#endif
}

const char *hfi_thread_name(void)
{
    return thread_name;
}

unsigned hfi_cpu_count(void)
{
#ifdef _SC_NPROCESSORS_ONLN
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n > 0)
        return (unsigned)n;
#endif
    return 1;
}
