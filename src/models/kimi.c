/*
 * kimi.c - the "kimi-k2" module: every part of one quantisation of
 * unsloth/Kimi-K2-Instruct-GGUF, found through the repo's tree listing.
 *
 * Design notes
 *  - chain: list the tree under "<quant>/" (I/O pool) -> pick the parts
 *    "<name>-<k>-of-<n>.gguf", require all n of them, fetch them all at once -> open and
 *    check the split set (compute pool): architecture deepseek2, vocabulary from the GGUF
 *    metadata (tokenizer.ggml.tokens), end token tokenizer.ggml.eos_token_id;
 *  - a quantisation the repo does not have is HF_EENTRY_NOT_FOUND naming it; a part missing
 *    from the listing is HF_EENTRY_NOT_FOUND naming the file of the part; parts of more
 *    than one set (two stems "<stem>-<k>-of-<n>.gguf") are HF_EFORMAT naming two of them,
 *    never a mix chosen by the listing's order;
 *  - offline there is no tree listing (it is an API request): the candidates are the files
 *    under "<quant>/" of the cached snapshot instead (hf_hub_snapshot finds it on the I/O
 *    pool; the folder is read there too), and go through the same choice, so a cache
 *    missing a part fails naming that part (HF_EOFFLINE, as any file missing from the cache
 *    offline).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "hub/names.h"
#include "models/model_impl.h"

#define KIMI_ARCH "deepseek2"
#define KIMI_MAX_PARTS 999

static int kimi_check(hf_model_opts_t *o, hf_error_t *err)
{
    if (!o->quant)
        o->quant = "UD-TQ1_0";
    if (o->dim)
        return hf_error_set(err, HF_EINVAL, 0, "dim is not an option of this model");
    return hfi_check_quant(o->quant, err);
}

/* "<dir>/<stem>-00003-of-00005.gguf": 3 and 5; 0 if the name has no such suffix. */
/* The length of a split part's suffix, "-00003-of-00005.gguf": what follows its stem. */
#define SPLIT_SUFFIX_LEN 20

static int split_numbers(const char *path, unsigned *k, unsigned *n)
{
    size_t len = strlen(path);
    const char *s;
    if (len <= SPLIT_SUFFIX_LEN || strcmp(path + len - 5, ".gguf") != 0)
        return 0;
    s = path + len - SPLIT_SUFFIX_LEN;
    if (s[0] != '-' || strncmp(s + 6, "-of-", 4) != 0)
        return 0;
    for (int i = 1; i <= 5; i++)
        if (s[i] < '0' || s[i] > '9' || s[i + 9] < '0' || s[i + 9] > '9')
            return 0;
    *k = (unsigned)strtoul(s + 1, NULL, 10);
    *n = (unsigned)strtoul(s + 10, NULL, 10);
    return *k >= 1 && *k <= *n;
}

/* Choose the parts of the quantisation among `paths` (repo paths, any order: the tree
 * listing's, or the cached snapshot's when `offline`: then a missing part is HF_EOFFLINE,
 * as for any file the cache lacks), fetch them all and settle `next` as they arrive. */
static void kimi_pick(hfi_load_t *l, const char *const *paths, size_t npaths, int offline,
                      hf_promise_t *next)
{
    const char *q = l->opts.quant, **parts = NULL, *single = NULL, *any = NULL;
    size_t qlen = strlen(q), nsingle = 0;
    unsigned total = 0, k, n;
    hf_future_t *all;

    for (size_t i = 0; i < npaths; i++) {
        const char *p = paths[i];
        if (strncmp(p, q, qlen) != 0 || p[qlen] != '/' || strchr(p + qlen + 1, '/'))
            continue;
        if (split_numbers(p, &k, &n)) {
            if (n > KIMI_MAX_PARTS || (total && n != total)) {
                hf_promise_rejectf(next, HF_EFORMAT, 0, "%s: %s does not belong to a set of "
                                   "%u parts", l->repo, p, total ? total : n);
                goto out;
            }
            /* one set only: a second stem (another set, a leftover) makes the parts
             * ambiguous, whatever order the listing gives them in */
            if (any && (strlen(p) != strlen(any) ||
                        strncmp(p, any, strlen(any) - SPLIT_SUFFIX_LEN) != 0)) {
                hf_promise_rejectf(next, HF_EFORMAT, 0, "%s/%s holds parts of more than one "
                                   "split set: %s and %s", l->repo, q, any, p);
                goto out;
            }
            if (!parts && (parts = hfi_calloc(n + 1, sizeof *parts)) == NULL)
                goto oom;
            total = n;
            parts[k - 1] = p;
            any = p;
        } else if (strlen(p) > 5 && strcmp(p + strlen(p) - 5, ".gguf") == 0) {
            single = p;
            nsingle++;
        }
    }
    if (!total && nsingle == 1) {
        if (!hfi_load_fetch(l, l->repo, l->opts.revision, single))
            goto oom;
    } else if (!total) {
        char what[64];
        if (nsingle)
            snprintf(what, sizeof what, "%zu GGUF files that are not one split set", nsingle);
        else
            snprintf(what, sizeof what, "no GGUF file");
        hf_promise_rejectf(next, offline ? HF_EOFFLINE : HF_EENTRY_NOT_FOUND, 0,
                           "%s/%s holds %s%s", l->repo, q, what,
                           offline ? " in the cache (offline mode)" : "");
        goto out;
    } else {
        for (unsigned i = 0; i < total; i++) {
            if (!parts[i]) {
                size_t base = strlen(any) - SPLIT_SUFFIX_LEN;
                hf_promise_rejectf(next, offline ? HF_EOFFLINE : HF_EENTRY_NOT_FOUND,
                                   offline ? 0 : 404, "%s has no %.*s-%05u-of-%05u.gguf (part "
                                   "%u of %u)%s", l->repo, (int)base, any, i + 1, total, i + 1,
                                   total, offline ? " in the cache (offline mode)" : "");
                goto out;
            }
        }
        for (unsigned i = 0; i < total; i++)
            if (!hfi_load_fetch(l, l->repo, l->opts.revision, parts[i]))
                goto oom;
    }
    if ((all = hfi_load_all(l)) == NULL)
        goto oom;
    hf_promise_adopt(next, all);
    hf_future_release(all);
    goto out;
oom:
    hf_promise_rejectf(next, HF_ENOMEM, 0, "out of memory");
out:
    hfi_free(parts);
}

static void kimi_listed(hfi_load_t *l, hf_future_t *done, hf_promise_t *next)
{
    const hf_file_list_t *fl;
    const char **paths;

    if (hf_future_state(done) != HF_FUTURE_FULFILLED) {
        const hf_error_t *e = hf_future_error(done);
        if (e && (e->code == HF_ENOENT || e->code == HF_EENTRY_NOT_FOUND))
            hf_promise_rejectf(next, HF_EENTRY_NOT_FOUND, e->http_status, "%s has no quantisation %s "
                               "(%s)", l->repo, l->opts.quant, e->message);
        else
            hf_promise_adopt(next, done);
        return;
    }
    fl = hf_future_value(done);
    if ((paths = hfi_calloc(fl->n ? fl->n : 1, sizeof *paths)) == NULL) {
        hf_promise_rejectf(next, HF_ENOMEM, 0, "out of memory");
        return;
    }
    for (size_t i = 0; i < fl->n; i++)
        paths[i] = fl->files[i].path;
    kimi_pick(l, paths, fl->n, 0, next);
    hfi_free(paths);
}

/* Offline, on the I/O pool: `done` is the cached snapshot folder; the candidates are the
 * entries of its "<quant>/" (links into blobs/, or copies where links are off). */
static void kimi_scanned(hfi_load_t *l, hf_future_t *done, hf_promise_t *next)
{
    const char *q = l->opts.quant;
    char *dir = NULL, **paths = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    DIR *d = NULL;

    if (hf_future_state(done) != HF_FUTURE_FULFILLED) {
        hf_promise_adopt(next, done);       /* HF_EOFFLINE: the revision is not cached */
        return;
    }
    if ((dir = hfi_strfmt("%s/%s", (const char *)hf_future_value(done), q)) == NULL)
        goto oom;
    if ((d = opendir(dir)) == NULL) {
        if (errno == ENOENT || errno == ENOTDIR)
            hf_promise_rejectf(next, HF_EOFFLINE, 0, "%s has no quantisation %s in the "
                               "cache (offline mode)", l->repo, q);
        else
            hf_promise_rejectf(next, HF_EIO, 0, "%s: %s", dir, strerror(errno));
        goto out;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **np = hfi_realloc(paths, (cap = cap ? 2 * cap : 16) * sizeof *np);
            if (!np)
                goto oom;
            paths = np;
        }
        if ((paths[n] = hfi_strfmt("%s/%s", q, e->d_name)) == NULL)
            goto oom;
        n++;
    }
    kimi_pick(l, (const char *const *)paths, n, 1, next);
    goto out;
oom:
    hf_promise_rejectf(next, HF_ENOMEM, 0, "out of memory");
out:
    if (d)
        closedir(d);
    for (size_t i = 0; i < n; i++)
        hfi_free(paths[i]);
    hfi_free(paths);
    hfi_free(dir);
}

static hf_future_t *kimi_start(hfi_load_t *l)
{
    hf_file_ref_t ref = { l->repo, HF_REPO_MODEL, l->opts.revision, l->opts.quant };
    hf_file_ref_t top = { l->repo, HF_REPO_MODEL, l->opts.revision, NULL };
    int offline = hf_hub_is_offline(l->hub);
    /* offline, the cached snapshot (hf_hub_snapshot looks for it on the I/O pool) */
    hf_future_t *first = offline ? hf_hub_snapshot(l->hub, &top, NULL)
                                 : hf_hub_list_files(l->hub, &ref), *f;
    if (!first)
        return NULL;
    f = hfi_load_then(l, first, offline ? kimi_scanned : kimi_listed);
    hf_future_release(first);
    return f;
}

static int kimi_build(hfi_load_t *l, hf_model_t *m, hf_error_t *err)
{
    hf_gguf_t **parts = hfi_calloc(l->nfiles ? l->nfiles : 1, sizeof *parts);
    int rc = 0;

    if (!parts)
        return hf_error_set(err, HF_ENOMEM, 0, "out of memory");
    for (size_t i = 0; i < l->nfiles && rc == 0; i++) {
        const char *p = hfi_load_need(l, l->repo, l->files[i].path, err);
        rc = p ? hfi_model_open_gguf(m, p, &parts[i], err) : HF_EBROKEN;
    }
    if (rc == 0)
        rc = hfi_build_gguf_meta(m, parts, l->nfiles, KIMI_ARCH, err);
    if (rc == 0)
        rc = hfi_build_require(m, l->files[0].path, "token_embd.weight", 2,
                               (uint64_t)m->embed, m->vocab > 0 ? (uint64_t)m->vocab : 0, err);
    hfi_free(parts);            /* the model keeps the files open */
    return rc;
}

const hfi_module_t hfi_module_kimi = {
    .name = "kimi-k2",
    .description = "Kimi K2 Instruct, one quantisation of unsloth's split GGUF "
                   "(deepseek2; option quant, default UD-TQ1_0)",
    .default_repo = "unsloth/Kimi-K2-Instruct-GGUF",
    .check = kimi_check,
    .start = kimi_start,
    .build = kimi_build,
};
