/*
 * load.c - hf_model_load: the registry, the shared (memoized) loads, and the chain
 * "fetch on the I/O pool -> build on the compute pool" every module runs.
 *
 * Design notes
 *  - a load job owns the public promise; its steps: the module's start() (downloads, each
 *    an hf_hub_download on the I/O pool, in parallel), then build() in a continuation on
 *    the compute pool once they are all in. The continuation uses HF_ON_ANY, so it always
 *    runs and always frees the job;
 *  - cancelling the public future cancels the "all fetched" future, which withdraws the
 *    load's interest in its downloads (and so aborts the ones nobody else wants);
 *  - whenever the public future is cancelled or rejected (its settle hook, on_out_settled,
 *    which runs before any wait on it returns), the load cancels every download it started
 *    that is still under way: a module's later downloads are not all behind one combinator
 *    (GTE's config and tokenizer wait beside its index step), so a failure must not leave
 *    them running. A download the load starts after that (a module step still running) is
 *    cancelled as it is recorded (`stopped`). Cancelling a download's future aborts the
 *    transfer only if no other request shares it;
 *  - every step is an HF_ON_ANY continuation, so it runs even when its runtime is freed
 *    first (then.c runs it on the discarding thread with its output cancelled): a module's
 *    I/O step then starts nothing, the build step ends the load CANCELLED, and both drop
 *    their reference to the job, so it is freed and its hold on the hub dropped;
 *  - memo: (runtime, hub, module, repo, revision, quant, dim) -> the load's future. Loads
 *    on different runtimes are never shared, so each runs on the pools its caller named
 *    and survives the other runtime being freed; they share bytes through the cache and
 *    the hub's shared downloads. The entry holds
 *    a reference to it while the load runs. A failed load leaves the memo before its
 *    future is rejected, a cancelled one in the future's settle hook, and a lookup skips
 *    an entry whose future is cancelled or rejected, so a later call starts afresh;
 *  - the load fulfils its future with hfi_promise_resolve_last, having dropped the entry's
 *    reference first: when a wait on it returns, only the callers hold the future, so
 *    the caller that releases it and the model can count on the next load starting
 *    afresh (nothing internal keeps them a moment longer);
 *  - once the load succeeded the entry holds two weak pointers, both try-retained under
 *    memo_mu: the future (cleared by the future's value destructor, which runs before the
 *    future's memory goes) and the model (the model's last release unlinks and frees the
 *    entry, hfi_memo_model_gone). A lookup returns the future while it lives, else a new
 *    future of the same model while the model lives (kept by hf_model_retain), so a model
 *    is never parsed or mapped twice while any reference to it remains;
 *  - a load holds its hub (hfi_hub_hold) until its job is freed: hf_hub_free waits for
 *    it, having cancelled its downloads, so no step of a load ever finds the hub gone;
 *  - memo keys name the runtime and the hub by their unique ids, never their addresses
 *    (addresses are reused);
 *  - the options, repo id and revision are checked in the call: a bad one is a future
 *    already rejected (HF_EINVAL), never memoized, and no download of any repo starts;
 *  - lock order: memo_mu and a job's mu are never held together; nothing is called out
 *    under either (futures are retained under mu and cancelled after it). A new load's
 *    settle hook is set under memo_mu, before its entry is linked (the future's spinlock,
 *    a leaf, is taken there): a second load could otherwise cancel the future before the
 *    hook exists, and the job, never ended, would keep hf_hub_free waiting.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/future_impl.h"
#include "core/runtime_impl.h"
#include "hub/hub_impl.h"
#include "hub/names.h"
#include "models/model_impl.h"

static const hfi_module_t *const modules[] = {
    &hfi_module_kimi, &hfi_module_phi4, &hfi_module_stella, &hfi_module_gte, &hfi_module_sd35,
};
#define NMODULES (sizeof modules / sizeof modules[0])

size_t hf_model_module_count(void)
{
    return NMODULES;
}

const char *hf_model_module_name(size_t i)
{
    return i < NMODULES ? modules[i]->name : NULL;
}

const char *hf_model_module_description(size_t i)
{
    return i < NMODULES ? modules[i]->description : NULL;
}

/* ---- the memo ------------------------------------------------------------------------------ */

typedef struct hfi_memo_entry {
    struct hfi_memo_entry *next;
    char *key;
    hf_future_t *f;             /* a reference while the load runs; then weak, NULL once
                                   that future has gone */
    hf_model_t *m;              /* weak, once the load succeeded */
    int strong;                 /* f is a reference (the load still runs) */
} memo_entry_t;

static pthread_mutex_t memo_mu = PTHREAD_MUTEX_INITIALIZER;
static memo_entry_t *memo;

static void memo_unlink(memo_entry_t *e)   /* memo_mu held; nothing if not linked */
{
    for (memo_entry_t **pp = &memo; *pp; pp = &(*pp)->next) {
        if (*pp == e) {
            *pp = e->next;
            return;
        }
    }
}

static void memo_entry_free(memo_entry_t *e)
{
    if (e) {
        hfi_free(e->key);
        hfi_free(e);
    }
}

/* A new reference to `m`, unless its last one is already gone. */
static hf_model_t *model_try_retain(hf_model_t *m)
{
    int n = atomic_load_explicit(&m->refs, memory_order_relaxed);
    while (n > 0)
        if (atomic_compare_exchange_weak_explicit(&m->refs, &n, n + 1, memory_order_relaxed,
                                                  memory_order_relaxed))
            return m;
    return NULL;
}

/* The value destructor of every future of a model: forget that future in the memo (if it
 * is the one there: its count is zero) and drop its reference to the model. */
static void model_future_gone(void *p)
{
    hf_model_t *m = p;
    pthread_mutex_lock(&memo_mu);
    if (m->memo && m->memo->f && hfi_future_refs(m->memo->f) == 0)
        m->memo->f = NULL;
    pthread_mutex_unlock(&memo_mu);
    hf_model_release(m);
}

void hfi_memo_model_gone(hf_model_t *m)
{
    memo_entry_t *e;
    pthread_mutex_lock(&memo_mu);
    if ((e = m->memo) != NULL)
        memo_unlink(e);
    m->memo = NULL;
    pthread_mutex_unlock(&memo_mu);
    memo_entry_free(e);
}

static int settled_badly(hf_future_t *f)
{
    int st = hf_future_state(f);
    return st == HF_FUTURE_CANCELLED || st == HF_FUTURE_REJECTED;
}

/* The references to futures found dead by a lookup, dropped after memo_mu (a
 * try-retained one may be the last, and its release may take memo_mu). */
#define MEMO_DEAD_MAX 8

typedef struct memo_dead {
    hf_future_t *v[MEMO_DEAD_MAX];
    size_t n;
} memo_dead_t;

static void memo_dead_release(memo_dead_t *d)
{
    for (size_t i = 0; i < d->n; i++)
        hf_future_release(d->v[i]);
    d->n = 0;
}

/*
 * What the memo has under `key`, memo_mu held: a new reference to a live future of the
 * load (*f), or else to its model (*m) when only the model lives, or neither. A future
 * that was cancelled or rejected is skipped, its reference kept in *dead for
 * memo_dead_release after the lock. Several entries of one key can be dead at once
 * (each cancelled between its state change and its hook); past MEMO_DEAD_MAX of them, a
 * weak entry is passed over unexamined, which at worst starts a load that could have
 * been shared.
 */
static void memo_lookup_locked(const char *key, hf_future_t **f, hf_model_t **m,
                               memo_dead_t *dead)
{
    *f = NULL;
    *m = NULL;
    dead->n = 0;
    for (memo_entry_t *e = memo; e; e = e->next) {
        hf_future_t *g;
        if (strcmp(e->key, key) != 0)
            continue;
        if (!e->strong && dead->n == MEMO_DEAD_MAX)
            continue;
        g = e->strong ? hf_future_retain(e->f) : e->f ? hfi_future_try_retain(e->f) : NULL;
        if (g && settled_badly(g)) {
            if (dead->n < MEMO_DEAD_MAX)
                dead->v[dead->n++] = g;
            else
                hf_future_release(g);   /* strong: the entry's own reference remains */
            continue;
        }
        if ((*f = g) != NULL)
            return;
        if (!e->strong && e->m && (*m = model_try_retain(e->m)) != NULL)
            return;
    }
}

/* A new future of the loaded model `m` (whose reference it takes), recorded in the memo
 * as the model's future unless another thread recorded one first (then that one). */
static hf_future_t *memo_wrap_model(hf_model_t *m)
{
    hf_future_t *f = hf_future_resolved(m, model_future_gone), *other = NULL;
    if (!f) {
        hf_model_release(m);
        return NULL;
    }
    pthread_mutex_lock(&memo_mu);
    if (m->memo) {
        if (m->memo->f)
            other = hfi_future_try_retain(m->memo->f);     /* NULL once it is going */
        if (!other)
            m->memo->f = f;
    }
    pthread_mutex_unlock(&memo_mu);
    if (other) {
        hf_future_release(f);
        return other;
    }
    return f;
}

static hf_future_t *memo_find(const char *key)
{
    hf_future_t *f;
    hf_model_t *m;
    memo_dead_t dead;
    pthread_mutex_lock(&memo_mu);
    memo_lookup_locked(key, &f, &m, &dead);
    pthread_mutex_unlock(&memo_mu);
    memo_dead_release(&dead);
    return m ? memo_wrap_model(m) : f;
}

/* ---- a load ------------------------------------------------------------------------------ */

typedef struct job {
    hfi_load_t l;               /* l.files and l.nfiles: written under mu */
    _Atomic int refs;           /* the chain's and the hook's */
    hf_promise_t *out;
    hf_future_t *fetched;       /* under mu: what a cancellation cancels */
    int stopped;                /* under mu: the load failed or was cancelled */
    memo_entry_t *entry;
    pthread_mutex_t mu;
} job_t;

/* The load is over without a model: cancel each of its downloads still under way (and,
 * through `stopped`, any it starts from now on). */
static void stop_downloads(job_t *j)
{
    for (size_t i = 0;; i++) {
        hf_future_t *f;
        pthread_mutex_lock(&j->mu);
        j->stopped = 1;
        f = i < j->l.nfiles ? hf_future_retain(j->l.files[i].f) : NULL;
        pthread_mutex_unlock(&j->mu);
        if (!f)
            return;
        if (hf_future_state(f) == HF_FUTURE_PENDING)
            hf_future_cancel(f);
        hf_future_release(f);
    }
}

static job_t *job_of(hfi_load_t *l)
{
    return HFI_CONTAINER(l, job_t, l);
}

static void job_unref(job_t *j)
{
    if (atomic_fetch_sub(&j->refs, 1) != 1)
        return;
    for (size_t i = 0; i < j->l.nfiles; i++) {
        hfi_free(j->l.files[i].repo);
        hfi_free(j->l.files[i].path);
        hf_future_release(j->l.files[i].f);
    }
    hfi_free(j->l.files);
    if (j->l.state_free)
        j->l.state_free(j->l.state);
    hfi_free((char *)j->l.opts.repo);
    hfi_free((char *)j->l.opts.revision);
    hfi_free((char *)j->l.opts.quant);
    hf_future_release(j->fetched);
    hf_promise_free(j->out);
    pthread_mutex_destroy(&j->mu);
    {
        hf_hub_t *hub = j->l.hub;
        hfi_free(j);
        hfi_hub_drop(hub);      /* the last use of the hub */
    }
}

hf_future_t *hfi_load_fetch(hfi_load_t *l, const char *repo, const char *revision,
                            const char *path)
{
    job_t *j = job_of(l);
    hf_file_ref_t ref = { repo, HF_REPO_MODEL, revision, path };
    hf_download_opts_t o;
    struct hfi_fetched *nf;
    char *r = hfi_strdup(repo), *p = hfi_strdup(path);
    hf_future_t *f = NULL;
    int stopped;

    memset(&o, 0, sizeof o);
    o.progress = l->opts.progress;
    o.progress_arg = l->opts.progress_arg;
    if (!r || !p || (f = hf_hub_download(l->hub, &ref, &o)) == NULL)
        goto fail;
    pthread_mutex_lock(&j->mu);
    if (l->nfiles == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        if ((nf = hfi_realloc(l->files, cap * sizeof *nf)) == NULL) {
            pthread_mutex_unlock(&j->mu);
            hf_future_cancel(f);        /* nobody will wait for it */
            goto fail;
        }
        l->files = nf;
        l->cap = cap;
    }
    nf = &l->files[l->nfiles++];
    nf->repo = r;
    nf->path = p;
    nf->f = f;
    stopped = j->stopped;
    pthread_mutex_unlock(&j->mu);
    if (stopped)
        hf_future_cancel(f);            /* the load is already over */
    return f;
fail:
    hf_future_release(f);
    hfi_free(r);
    hfi_free(p);
    return NULL;
}

hf_future_t *hfi_load_all(hfi_load_t *l)
{
    hf_future_t **fs = hfi_calloc(l->nfiles ? l->nfiles : 1, sizeof *fs), *all;
    if (!fs)
        return NULL;
    for (size_t i = 0; i < l->nfiles; i++)
        fs[i] = l->files[i].f;
    all = hf_future_all(fs, l->nfiles);
    hfi_free(fs);
    return all;
}

const char *hfi_load_path(const hfi_load_t *l, const char *repo, const char *path)
{
    for (size_t i = 0; i < l->nfiles; i++)
        if (strcmp(l->files[i].repo, repo) == 0 && strcmp(l->files[i].path, path) == 0)
            return hf_future_state(l->files[i].f) == HF_FUTURE_FULFILLED
                       ? hf_future_value(l->files[i].f)
                       : NULL;
    return NULL;
}

typedef struct step {
    job_t *j;
    hfi_load_step_fn fn;
} step_t;

static void run_step(hf_future_t *done, hf_promise_t *next, void *arg)
{
    step_t *s = arg;
    if (!hf_promise_is_cancelled(next))     /* a cancelled load starts nothing more */
        s->fn(&s->j->l, done, next);
    job_unref(s->j);
    hfi_free(s);
}

hf_future_t *hfi_load_then(hfi_load_t *l, hf_future_t *f, hfi_load_step_fn fn)
{
    job_t *j = job_of(l);
    step_t *s = hfi_malloc(sizeof *s);
    hf_future_t *out;

    if (!s)
        return NULL;
    s->j = j;
    s->fn = fn;
    atomic_fetch_add(&j->refs, 1);
    if ((out = hf_future_then_on(f, hf_runtime_io(l->rt), HF_ON_ANY, run_step, s)) == NULL) {
        atomic_fetch_sub(&j->refs, 1);     /* the caller still holds one: never the last */
        hfi_free(s);
    }
    return out;
}

/* Drop the memo entry of a load that did not produce a model. */
static void forget(job_t *j)
{
    memo_entry_t *e;
    pthread_mutex_lock(&memo_mu);
    if ((e = j->entry) != NULL)
        memo_unlink(e);
    j->entry = NULL;
    pthread_mutex_unlock(&memo_mu);
    if (e)
        hf_future_release(e->f);
    memo_entry_free(e);
}

static void fail(job_t *j, const hf_error_t *cause)
{
    hf_error_t e;
    forget(j);
    if (cause->code == HF_ECANCELED) {
        hf_future_cancel((hf_future_t *)(void *)j->out);
        return;
    }
    hf_error_set(&e, cause->code, cause->http_status, "%s: %s", j->l.mod->name, cause->message);
    hf_promise_reject(j->out, &e);
}

static int add_files(const hfi_load_t *l, hf_model_t *m, hf_error_t *e)
{
    for (size_t i = 0; i < l->nfiles; i++) {
        const char *p = hfi_load_need(l, l->files[i].repo, l->files[i].path, e);
        int rc = p ? hfi_model_add_file(m, p, e) : HF_EBROKEN;
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* On a compute worker, once the downloads are in (or failed). */
static void build_step(hf_future_t *done, hf_promise_t *next, void *arg)
{
    job_t *j = arg;
    hf_error_t e;
    hf_model_t *m;

    memset(&e, 0, sizeof e);
    if (hf_promise_resolve(next, NULL, NULL) < 0) {
        /* nobody else holds `next`: its runtime was freed before the downloads were in,
         * and this runs on the discarding thread only to end the load (then.c) */
        forget(j);
        hf_future_cancel((hf_future_t *)(void *)j->out);
    } else if (hf_future_state((hf_future_t *)(void *)j->out) != HF_FUTURE_PENDING) {
        forget(j);              /* cancelled meanwhile */
    } else if (hf_future_state(done) != HF_FUTURE_FULFILLED) {
        fail(j, hf_future_error(done));
    } else if ((m = hfi_model_new(j->l.mod->name)) == NULL) {
        hf_error_set(&e, HF_ENOMEM, 0, "out of memory");
        fail(j, &e);
    } else if (add_files(&j->l, m, &e) < 0 || j->l.mod->build(&j->l, m, &e) < 0) {
        hf_model_release(m);
        fail(j, &e);
    } else {
        memo_entry_t *entry;
        hf_future_t *ef = NULL;
        hf_promise_t *out;
        pthread_mutex_lock(&memo_mu);
        if ((entry = j->entry) != NULL) {
            entry->strong = 0;  /* from now on weak: see the design notes */
            entry->m = m;
            ef = entry->f;      /* the entry's reference, dropped below */
        }
        j->entry = NULL;
        m->memo = entry;
        pthread_mutex_unlock(&memo_mu);
        hf_future_release(ef);  /* the promise keeps the future until it settles */
        out = j->out;
        j->out = NULL;
        /* the promise's reference goes with the settlement: once a wait returns, only the
         * callers' references keep the future (and so the model) */
        if (hfi_promise_resolve_last(out, m, model_future_gone) < 0) {
            /* cancelled in the meantime: the future holds no model, so the entry must go
             * before the future can */
            pthread_mutex_lock(&memo_mu);
            if (entry)
                memo_unlink(entry);
            m->memo = NULL;
            pthread_mutex_unlock(&memo_mu);
            memo_entry_free(entry);
            hf_model_release(m);
        }
    }
    job_unref(j);
}

static void on_out_settled(hf_future_t *f, void *arg, int state)
{
    job_t *j = arg;
    (void)f;
    if (state != HF_FUTURE_FULFILLED)
        stop_downloads(j);      /* the load is over: its downloads are of no use now */
    if (state == HF_FUTURE_CANCELLED) {
        hf_future_t *fetched;
        pthread_mutex_lock(&memo_mu);
        if (j->entry)
            memo_unlink(j->entry);  /* a later call starts afresh; forget() frees it */
        pthread_mutex_unlock(&memo_mu);
        pthread_mutex_lock(&j->mu);
        fetched = hf_future_retain(j->fetched);
        pthread_mutex_unlock(&j->mu);
        if (fetched)
            hf_future_cancel(fetched);      /* withdraws from the downloads */
        hf_future_release(fetched);
    }
    job_unref(j);
}

static char *memo_key(hf_runtime_t *rt, hf_hub_t *hub, const hfi_module_t *mod,
                      const hf_model_opts_t *o)
{
    return hfi_strfmt("%llu|%llu|%s|%s|%s|%s|%u", (unsigned long long)hfi_runtime_id(rt),
                      (unsigned long long)hfi_hub_id(hub), mod->name, o->repo,
                      o->revision ? o->revision : "main", o->quant ? o->quant : "", o->dim);
}

hf_future_t *hf_model_load(hf_runtime_t *rt, hf_hub_t *hub, const char *name,
                           const hf_model_opts_t *opts)
{
    const hfi_module_t *mod = NULL;
    hf_model_opts_t o;
    hf_error_t e;
    job_t *j;
    char *key;
    hf_future_t *f, *g;

    if (!rt || !hub || !name)
        return NULL;
    for (size_t i = 0; i < NMODULES; i++)
        if (strcmp(modules[i]->name, name) == 0)
            mod = modules[i];
    if (!mod)
        return hf_future_rejected(HF_EINVAL, 0, "no model module called \"%s\"", name);
    if (opts)
        o = *opts;
    else
        memset(&o, 0, sizeof o);
    if (!o.repo)
        o.repo = mod->default_repo;
    memset(&e, 0, sizeof e);
    /* bad names are refused here, before any request: the modules fetch from other repos
     * too, which would otherwise be asked before the bad name fails its own download */
    if (mod->check(&o, &e) < 0 || hfi_check_repo_id(o.repo, &e) < 0 ||
        (o.revision && hfi_check_revision(o.revision, &e) < 0))
        return hf_future_rejected(HF_EINVAL, 0, "%s: %s", mod->name, e.message);
    if ((key = memo_key(rt, hub, mod, &o)) == NULL)
        return NULL;
    if ((f = memo_find(key)) != NULL) {
        hfi_free(key);
        return f;               /* shared: same future, nothing fetched or parsed again */
    }
    if (hfi_hub_hold(hub, 0) < 0) {
        hfi_free(key);
        return hfi_hub_closed_future();
    }
    if ((j = hfi_calloc(1, sizeof *j)) == NULL) {
        hfi_hub_drop(hub);
        hfi_free(key);
        return NULL;
    }
    atomic_init(&j->refs, 2);
    pthread_mutex_init(&j->mu, NULL);
    j->l.rt = rt;
    j->l.hub = hub;
    j->l.mod = mod;
    j->l.opts = o;
    j->l.opts.repo = hfi_strdup(o.repo);
    j->l.opts.revision = o.revision ? hfi_strdup(o.revision) : NULL;
    j->l.opts.quant = o.quant ? hfi_strdup(o.quant) : NULL;
    j->l.repo = j->l.opts.repo;
    j->out = hf_promise_new();
    if (!j->out || !j->l.opts.repo || (o.revision && !j->l.opts.revision) ||
        (o.quant && !j->l.opts.quant) || (j->entry = hfi_calloc(1, sizeof *j->entry)) == NULL) {
        hfi_free(key);
        atomic_store(&j->refs, 1);
        job_unref(j);
        return NULL;
    }
    f = hf_promise_future(j->out);
    j->entry->key = key;
    j->entry->f = hf_future_retain(f);
    j->entry->strong = 1;
    pthread_mutex_lock(&memo_mu);
    {
        /* another thread may have started the same load meanwhile: share it */
        hf_future_t *other;
        hf_model_t *om;
        memo_dead_t dead;
        memo_lookup_locked(key, &other, &om, &dead);
        if (!other && !om) {
            /* the hook first: once the entry is visible, a second load of the key may
             * take the future and cancel it, and the hook must see that */
            hfi_future_set_hook((hf_future_t *)(void *)j->out, on_out_settled, j);
            j->entry->next = memo;
            memo = j->entry;
        }
        pthread_mutex_unlock(&memo_mu);
        memo_dead_release(&dead);
        if (other || om) {
            hf_future_release(j->entry->f);
            memo_entry_free(j->entry);
            j->entry = NULL;
            hf_future_release(f);
            atomic_store(&j->refs, 1);
            job_unref(j);
            return om ? memo_wrap_model(om) : other;
        }
    }

    if ((g = mod->start(&j->l)) == NULL)
        g = hf_future_rejected(HF_ENOMEM, 0, "out of memory");
    pthread_mutex_lock(&j->mu);
    j->fetched = hf_future_retain(g);
    pthread_mutex_unlock(&j->mu);
    if (hf_future_state(f) == HF_FUTURE_CANCELLED)
        hf_future_cancel(g);
    {
        hf_future_t *step = hf_future_then_on(g, hf_runtime_compute(rt), HF_ON_ANY, build_step, j);
        if (!step) {
            hf_error_t oom;
            hf_error_set(&oom, HF_ENOMEM, 0, "out of memory");
            fail(j, &oom);
            job_unref(j);
        }
        hf_future_release(step);
    }
    hf_future_release(g);
    return f;
}
