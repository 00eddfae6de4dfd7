/*
 * alloc.c - malloc wrappers and the per-thread small-object free lists.
 *
 * Design notes
 *  - two classes (64 and 128 bytes). Each thread keeps a free list per class in
 *    thread-local storage: allocation and release are a pointer pop/push, no atomics;
 *  - objects migrate between threads (a future allocated by a submitter is freed by a
 *    worker), so a list that grows past 2 * MAG objects hands MAG of them, as one
 *    "magazine" (a chain), to a global depot; a thread whose list is empty takes a
 *    magazine from the depot before it calls malloc. The depot is capped; beyond the cap,
 *    objects go back to free();
 *  - a thread's lists return to the depot when it exits (a pthread key destructor);
 *  - lock order: depot.mu is a leaf lock;
 *  - sanitizer builds (HF_SANITIZE) skip the lists so that ASan sees every use after free.
 */
#include "config.h"

#include "core/alloc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomics.h"

#define MAG 64                  /* objects per magazine */
#define DEPOT_CAP 1024          /* magazines per class kept in the depot */

typedef struct freeobj {
    struct freeobj *next;       /* next object in this list or magazine */
    struct freeobj *next_mag;   /* in the depot: next magazine (first object only) */
} freeobj_t;

typedef struct {
    freeobj_t *head[2];
    unsigned n[2];
    int registered;
} tcache_t;

static _Thread_local long fail_after = -1;

static struct {
    pthread_mutex_t mu;
    freeobj_t *mags[2];
    size_t nmags[2];
} depot = { PTHREAD_MUTEX_INITIALIZER, { NULL, NULL }, { 0, 0 } };

static _Atomic uint64_t obj_mallocs;

static int should_fail(void)
{
    if (fail_after < 0)
        return 0;
    if (fail_after == 0)
        return 1;
    fail_after--;
    return 0;
}

void hfi_test_fail_alloc_after(long n)
{
    fail_after = n;
}

void *hfi_malloc(size_t n)
{
    return should_fail() ? NULL : malloc(n ? n : 1);
}

void *hfi_calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : calloc(n ? n : 1, size ? size : 1);
}

void *hfi_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : realloc(p, n ? n : 1);
}

char *hfi_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = hfi_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

void hfi_free(void *p)
{
    free(p);
}

uint64_t hfi_obj_mallocs(void)
{
    return atomic_load(&obj_mallocs);
}

static size_t class_size(int c)
{
    return c ? HFI_OBJ_LARGE : HFI_OBJ_SMALL;
}

#ifdef HF_SANITIZE

void *hfi_obj_alloc(size_t size)
{
    if (should_fail())
        return NULL;
    atomic_fetch_add_explicit(&obj_mallocs, 1, memory_order_relaxed);
    return malloc(class_size(size > HFI_OBJ_SMALL));
}

void hfi_obj_free(void *p, size_t size)
{
    (void)size;
    free(p);
}

#else

static _Thread_local tcache_t tcache;
static pthread_key_t tcache_key;
static pthread_once_t tcache_once = PTHREAD_ONCE_INIT;

/* Hand MAG objects of class c from the thread list to the depot (or to free()). */
static void flush_magazine(tcache_t *tc, int c)
{
    freeobj_t *first = tc->head[c], *last = first;
    for (unsigned i = 1; i < MAG; i++)
        last = last->next;
    tc->head[c] = last->next;
    tc->n[c] -= MAG;
    last->next = NULL;

    pthread_mutex_lock(&depot.mu);
    if (depot.nmags[c] < DEPOT_CAP) {
        first->next_mag = depot.mags[c];
        depot.mags[c] = first;
        depot.nmags[c]++;
        first = NULL;
    }
    pthread_mutex_unlock(&depot.mu);
    while (first) {
        freeobj_t *next = first->next;
        free(first);
        first = next;
    }
}

static void tcache_exit(void *arg)
{
    tcache_t *tc = &tcache;
    (void)arg;
    for (int c = 0; c < 2; c++) {
        while (tc->n[c] >= MAG)
            flush_magazine(tc, c);
        while (tc->head[c]) {
            freeobj_t *next = tc->head[c]->next;
            free(tc->head[c]);
            tc->head[c] = next;
        }
        tc->n[c] = 0;
    }
    tc->registered = 0;
}

static void tcache_key_init(void)
{
    pthread_key_create(&tcache_key, tcache_exit);
}

void *hfi_obj_alloc(size_t size)
{
    tcache_t *tc = &tcache;
    int c = size > HFI_OBJ_SMALL;
    freeobj_t *o;

    if (fail_after >= 0 && should_fail())
        return NULL;
    if ((o = tc->head[c]) != NULL) {
        tc->head[c] = o->next;
        tc->n[c]--;
        return o;
    }
    if (!tc->registered) {
        pthread_once(&tcache_once, tcache_key_init);
        pthread_setspecific(tcache_key, tc);
        tc->registered = 1;
    }
    pthread_mutex_lock(&depot.mu);
    if ((o = depot.mags[c]) != NULL) {
        depot.mags[c] = o->next_mag;
        depot.nmags[c]--;
    }
    pthread_mutex_unlock(&depot.mu);
    if (o) {
        tc->head[c] = o->next;
        tc->n[c] = MAG - 1;
        return o;
    }
    atomic_fetch_add_explicit(&obj_mallocs, 1, memory_order_relaxed);
    return malloc(class_size(c));
}

void hfi_obj_free(void *p, size_t size)
{
    tcache_t *tc = &tcache;
    int c = size > HFI_OBJ_SMALL;
    freeobj_t *o = p;

    if (!p)
        return;
    if (!tc->registered) {
        pthread_once(&tcache_once, tcache_key_init);
        pthread_setspecific(tcache_key, tc);
        tc->registered = 1;
    }
    o->next = tc->head[c];
    tc->head[c] = o;
    if (++tc->n[c] >= 2 * MAG)
        flush_magazine(tc, c);
}

#endif /* HF_SANITIZE */

void hfi_alloc_atfork_prepare(void)
{
    pthread_mutex_lock(&depot.mu);
}

void hfi_alloc_atfork_parent(void)
{
    pthread_mutex_unlock(&depot.mu);
}

void hfi_alloc_atfork_child(void)
{
    pthread_mutex_unlock(&depot.mu);
}
