/*
 * alloc.c - malloc wrappers and the per-thread small-object free lists.
 *
 * Design notes
 *  - three classes (64, 128 and 192 bytes). Each thread keeps, per class, a current chain and
 *    at most one spare full chain ("magazine", MAG objects) in thread-local storage:
 *    allocation and release are a pointer pop/push, no atomics, and every operation is
 *    O(1) (a magazine is never walked);
 *  - objects migrate between threads (a future allocated by a submitter is freed by a
 *    worker): when a thread's current chain fills up while it already has a spare
 *    magazine, the spare goes to a global depot; a thread that runs dry takes a magazine
 *    from the depot before it calls malloc;
 *  - the depot keeps up to DEPOT_CAP magazines per class (the peak the process needed,
 *    as glibc's own bins would); beyond that objects go back to free(). When the last
 *    runtime is freed the depot is emptied (hfi_obj_trim);
 *  - when a thread exits, its spare magazine goes to the depot and its current chain to
 *    free(): a pthread key destructor, registered on the thread's first allocation or
 *    first release, whichever comes first (a thread that only frees, like the timer
 *    thread, has chains too);
 *  - lock order: depot.mu is a leaf lock;
 *  - sanitizer builds (HF_SANITIZE) skip the lists so that ASan sees every use after free;
 *  - obj_held counts objects taken from malloc and not yet given back to free() (in use,
 *    in a thread's lists, or in the depot), for the tests.
 */
#include "config.h"

#include "core/alloc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomics.h"

#define MAG 64                  /* objects per magazine */
#define NCLASS 3
#define DEPOT_CAP 16384         /* magazines per class kept in the depot (1M objects) */

typedef struct freeobj {
    struct freeobj *next;       /* next object in this list or magazine */
    struct freeobj *next_mag;   /* in the depot: next magazine (first object only) */
} freeobj_t;

typedef struct {
    freeobj_t *head[NCLASS];         /* current chain */
    unsigned n[NCLASS];              /* its length, < MAG */
    freeobj_t *full[NCLASS];         /* a spare magazine of MAG objects, or NULL */
    int registered;
} tcache_t;

static _Thread_local long fail_after = -1;

static struct {
    pthread_mutex_t mu;
    freeobj_t *mags[NCLASS];
    size_t nmags[NCLASS];
} depot = { PTHREAD_MUTEX_INITIALIZER, { NULL }, { 0 } };

static _Atomic uint64_t obj_mallocs;
static _Atomic uint64_t obj_held;       /* from malloc, not yet given back to free() */

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

void *hfi_calloc_aligned(size_t align, size_t size)
{
    void *p;

    if (should_fail() || posix_memalign(&p, align, size ? size : 1) != 0)
        return NULL;
    return memset(p, 0, size);
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

uint64_t hfi_obj_held(void)
{
    return atomic_load(&obj_held);
}

/* Count objects that came from malloc (n > 0) or went back to free() (n < 0). */
static void held_add(int64_t n)
{
    atomic_fetch_add_explicit(&obj_held, (uint64_t)n, memory_order_relaxed);
}

static size_t class_size(int c)
{
    static const size_t sizes[NCLASS] = { HFI_OBJ_SMALL, HFI_OBJ_LARGE, HFI_OBJ_XLARGE };
    return sizes[c];
}

static int class_of(size_t size)
{
    return size <= HFI_OBJ_SMALL ? 0 : size <= HFI_OBJ_LARGE ? 1 : 2;
}

#ifdef HF_SANITIZE

void *hfi_obj_alloc(size_t size)
{
    void *p;

    if (should_fail())
        return NULL;
    atomic_fetch_add_explicit(&obj_mallocs, 1, memory_order_relaxed);
    if ((p = malloc(class_size(class_of(size)))) != NULL)
        held_add(1);
    return p;
}

void hfi_obj_free(void *p, size_t size)
{
    (void)size;
    if (p)
        held_add(-1);
    free(p);
}

void hfi_obj_trim(void)
{
}

#else

static _Thread_local tcache_t tcache;
static pthread_key_t tcache_key;
static pthread_once_t tcache_once = PTHREAD_ONCE_INIT;

static void free_chain(freeobj_t *o)
{
    int64_t n = 0;
    while (o) {
        freeobj_t *next = o->next;
        free(o);
        o = next;
        n++;
    }
    if (n)
        held_add(-n);
}

/* Give a magazine (a chain of MAG objects) to the depot, or to free() beyond its cap. */
static void depot_put(freeobj_t *mag, int c)
{
    pthread_mutex_lock(&depot.mu);
    if (depot.nmags[c] < DEPOT_CAP) {
        mag->next_mag = depot.mags[c];
        depot.mags[c] = mag;
        depot.nmags[c]++;
        mag = NULL;
    }
    pthread_mutex_unlock(&depot.mu);
    free_chain(mag);
}

static freeobj_t *depot_get(int c)
{
    freeobj_t *mag;
    pthread_mutex_lock(&depot.mu);
    if ((mag = depot.mags[c]) != NULL) {
        depot.mags[c] = mag->next_mag;
        depot.nmags[c]--;
    }
    pthread_mutex_unlock(&depot.mu);
    return mag;
}

static void tcache_exit(void *arg)
{
    tcache_t *tc = &tcache;
    (void)arg;
    for (int c = 0; c < NCLASS; c++) {
        if (tc->full[c])
            depot_put(tc->full[c], c);
        free_chain(tc->head[c]);
        tc->full[c] = tc->head[c] = NULL;
        tc->n[c] = 0;
    }
    tc->registered = 0;
}

static void tcache_key_init(void)
{
    pthread_key_create(&tcache_key, tcache_exit);
}

static void tcache_register(tcache_t *tc)
{
    pthread_once(&tcache_once, tcache_key_init);
    pthread_setspecific(tcache_key, tc);
    tc->registered = 1;
}

void *hfi_obj_alloc(size_t size)
{
    tcache_t *tc = &tcache;
    int c = class_of(size);
    freeobj_t *o;

    if (fail_after >= 0 && should_fail())
        return NULL;
    if ((o = tc->head[c]) == NULL) {
        if ((o = tc->full[c]) != NULL) {
            tc->full[c] = NULL;
        } else {
            if (!tc->registered)
                tcache_register(tc);
            if ((o = depot_get(c)) == NULL) {
                void *p;
                atomic_fetch_add_explicit(&obj_mallocs, 1, memory_order_relaxed);
                if ((p = malloc(class_size(c))) != NULL)
                    held_add(1);
                return p;
            }
        }
        tc->n[c] = MAG;
    }
    tc->head[c] = o->next;
    tc->n[c]--;
    return o;
}

void hfi_obj_free(void *p, size_t size)
{
    tcache_t *tc = &tcache;
    int c = class_of(size);
    freeobj_t *o = p;

    if (!p)
        return;
    /* A thread may free without ever allocating (the timer thread drops the last
     * reference to futures others made): its lists must go back at its exit too. */
    if (!tc->registered)
        tcache_register(tc);
    if (tc->n[c] == MAG) {          /* the current chain is a full magazine: set it aside */
        if (tc->full[c])
            depot_put(tc->full[c], c);
        tc->full[c] = tc->head[c];
        tc->head[c] = NULL;
        tc->n[c] = 0;
    }
    o->next = tc->head[c];
    tc->head[c] = o;
    tc->n[c]++;
}

void hfi_obj_trim(void)
{
    for (int c = 0; c < NCLASS; c++) {
        freeobj_t *mag;
        while ((mag = depot_get(c)) != NULL)
            free_chain(mag);
    }
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
