/*
 * model.c - the model object: files, tensor table, metadata; its accessors.
 *
 * Design notes
 *  - immutable once its future is fulfilled: any number of threads may read it;
 *  - the tensor table holds copies of the readers' tensor infos, whose names and data
 *    point into the GGUF/safetensors objects the model keeps open (read-only mappings);
 *    the last reference drops the model's memo entry (load.c: a later load of the same
 *    model starts afresh), closes them (unmaps) and frees everything.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "models/model_impl.h"

hf_model_t *hfi_model_new(const char *name)
{
    hf_model_t *m = hfi_calloc(1, sizeof *m);
    if (!m)
        return NULL;
    atomic_init(&m->refs, 1);
    m->vocab = m->eos = m->embed = -1;
    m->built_on = hf_current_worker();
    if ((m->name = hfi_strdup(name)) == NULL) {
        hfi_free(m);
        return NULL;
    }
    return m;
}

hf_model_t *hf_model_retain(hf_model_t *m)
{
    if (m)
        atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

void hf_model_release(hf_model_t *m)
{
    if (!m || atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (m->memo)
        hfi_memo_model_gone(m);
    for (size_t i = 0; i < m->nggufs; i++)
        hf_gguf_close(m->ggufs[i]);
    for (size_t i = 0; i < m->nsts; i++)
        hf_safetensors_close(m->sts[i]);
    for (size_t i = 0; i < m->nfiles; i++)
        hfi_free(m->files[i]);
    hfi_free(m->ggufs);
    hfi_free(m->sts);
    hfi_free(m->files);
    hfi_free(m->tensors);
    hfi_free(m->tensor_file);
    hfi_free(m->name);
    hfi_free(m->arch);
    hfi_free(m);
}

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
    void *np;
    size_t c = *cap;
    if (n < c)
        return 0;
    c = c ? 2 * c : 16;
    if ((np = hfi_realloc(*p, c * size)) == NULL)
        return HF_ENOMEM;
    *p = np;
    *cap = c;
    return 0;
}

int hfi_model_add_file(hf_model_t *m, const char *path, hf_error_t *err)
{
    char **nf = hfi_realloc(m->files, (m->nfiles + 1) * sizeof *nf);
    struct stat st;
    if (!nf || (nf[m->nfiles] = hfi_strdup(path)) == NULL) {
        if (nf)
            m->files = nf;
        return hf_error_set(err, HF_ENOMEM, 0, "out of memory");
    }
    m->files = nf;
    m->nfiles++;
    if (stat(path, &st) == 0)
        m->bytes += (uint64_t)st.st_size;
    return 0;
}

/* The index in m->files of `path` ((size_t)-1 if it was not recorded). */
static size_t file_index(const hf_model_t *m, const char *path)
{
    for (size_t i = 0; i < m->nfiles; i++)
        if (strcmp(m->files[i], path) == 0)
            return i;
    return (size_t)-1;
}

static int add_tensor(hf_model_t *m, const hf_tensor_info_t *t, size_t file, hf_error_t *err)
{
    if (m->ntensors == m->tcap) {
        size_t cap = m->tcap, *nf;
        if (grow((void **)&m->tensors, &cap, m->ntensors, sizeof *m->tensors) < 0 ||
            (nf = hfi_realloc(m->tensor_file, cap * sizeof *nf)) == NULL)
            return hf_error_set(err, HF_ENOMEM, 0, "out of memory");
        m->tensor_file = nf;
        m->tcap = cap;
    }
    m->tensor_file[m->ntensors] = file;
    m->tensors[m->ntensors++] = *t;
    return 0;
}

int hfi_model_open_gguf(hf_model_t *m, const char *path, hf_gguf_t **out, hf_error_t *err)
{
    hf_gguf_t *g, **ng;
    int rc;

    if ((rc = hf_gguf_open(path, &g, err)) < 0)
        return rc;
    if ((ng = hfi_realloc(m->ggufs, (m->nggufs + 1) * sizeof *ng)) == NULL) {
        hf_gguf_close(g);
        return hf_error_set(err, HF_ENOMEM, 0, "out of memory");
    }
    m->ggufs = ng;
    m->ggufs[m->nggufs++] = g;
    for (size_t i = 0, f = file_index(m, path); i < hf_gguf_tensor_count(g); i++)
        if ((rc = add_tensor(m, hf_gguf_tensor(g, i), f, err)) < 0)
            return rc;
    if (out)
        *out = g;
    return 0;
}

int hfi_model_open_safetensors(hf_model_t *m, const char *path, hf_safetensors_t **out,
                               hf_error_t *err)
{
    hf_safetensors_t *st, **ns;
    int rc;

    if ((rc = hf_safetensors_open(path, &st, err)) < 0)
        return rc;
    if ((ns = hfi_realloc(m->sts, (m->nsts + 1) * sizeof *ns)) == NULL) {
        hf_safetensors_close(st);
        return hf_error_set(err, HF_ENOMEM, 0, "out of memory");
    }
    m->sts = ns;
    m->sts[m->nsts++] = st;
    for (size_t i = 0, f = file_index(m, path); i < hf_safetensors_tensor_count(st); i++)
        if ((rc = add_tensor(m, hf_safetensors_tensor(st, i), f, err)) < 0)
            return rc;
    if (out)
        *out = st;
    return 0;
}

int hfi_model_set_arch(hf_model_t *m, const char *arch, hf_error_t *err)
{
    hfi_free(m->arch);
    if ((m->arch = hfi_strdup(arch)) == NULL)
        return hf_error_set(err, HF_ENOMEM, 0, "out of memory");
    return 0;
}

const char *hf_model_name(const hf_model_t *m)
{
    return m ? m->name : NULL;
}

const char *hf_model_architecture(const hf_model_t *m)
{
    return m ? m->arch : NULL;
}

size_t hf_model_file_count(const hf_model_t *m)
{
    return m ? m->nfiles : 0;
}

const char *hf_model_file(const hf_model_t *m, size_t i)
{
    return m && i < m->nfiles ? m->files[i] : NULL;
}

uint64_t hf_model_bytes(const hf_model_t *m)
{
    return m ? m->bytes : 0;
}

size_t hf_model_tensor_count(const hf_model_t *m)
{
    return m ? m->ntensors : 0;
}

const hf_tensor_info_t *hf_model_tensor(const hf_model_t *m, size_t i)
{
    return m && i < m->ntensors ? &m->tensors[i] : NULL;
}

const hf_tensor_info_t *hf_model_find_tensor(const hf_model_t *m, const char *name)
{
    return hf_model_find_tensor_in(m, NULL, name);
}

size_t hf_model_tensor_file(const hf_model_t *m, size_t i)
{
    return m && i < m->ntensors ? m->tensor_file[i] : (size_t)-1;
}

/* 1 if the local path `path` is the file `file` of its repo: equal to it, or ending in
 * "/" followed by it. */
static int is_file(const char *path, const char *file)
{
    size_t n = strlen(path), k = strlen(file);
    return k && (n == k || (n > k && path[n - k - 1] == '/')) && strcmp(path + n - k, file) == 0;
}

const hf_tensor_info_t *hf_model_find_tensor_in(const hf_model_t *m, const char *file,
                                                const char *name)
{
    if (!m || !name)
        return NULL;
    for (size_t i = 0; i < m->ntensors; i++) {
        size_t f = m->tensor_file[i];
        if (strcmp(m->tensors[i].name, name) == 0 &&
            (!file || (f != (size_t)-1 && is_file(m->files[f], file))))
            return &m->tensors[i];
    }
    return NULL;
}

int64_t hf_model_vocab_size(const hf_model_t *m)
{
    return m ? m->vocab : -1;
}

int64_t hf_model_eos_token_id(const hf_model_t *m)
{
    return m ? m->eos : -1;
}

int64_t hf_model_embedding_size(const hf_model_t *m)
{
    return m ? m->embed : -1;
}
