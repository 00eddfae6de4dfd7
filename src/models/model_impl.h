/*
 * model_impl.h - what the model modules share: the model object under construction, the
 * load job (its fetched files) and the module interface.
 */
#ifndef HFI_MODEL_IMPL_H
#define HFI_MODEL_IMPL_H

#include "hf/model.h"

struct hfi_memo_entry;

struct hf_model {
    _Atomic int refs;
    char *name, *arch;
    char **files;
    size_t nfiles;
    uint64_t bytes;
    hf_tensor_info_t *tensors;  /* copies of the readers' infos (names and data point into
                                   the open files below) */
    size_t *tensor_file;        /* [tcap]: the index in `files` of each tensor's file, or
                                   (size_t)-1 when it was opened from a path not recorded */
    size_t ntensors, tcap;
    hf_gguf_t **ggufs;
    size_t nggufs;
    hf_safetensors_t **sts;
    size_t nsts;
    int64_t vocab, eos, embed;
    struct hfi_memo_entry *memo;   /* its memo entry (load.c), dropped by the last release */
    int built_on;               /* the compute worker that created it (hf_current_worker:
                                   the load's build step creates it), or -1 */
};

/* The model's last reference is gone: unlink and free its memo entry (load.c). */
void hfi_memo_model_gone(hf_model_t *m);

/* A fresh model (refs 1) with every metadata field -1. NULL if memory is short. */
hf_model_t *hfi_model_new(const char *name);
/* Record a file it comes from (the size counts in hf_model_bytes). load.c records every
 * file the load fetched, in the order fetched, before the module's build runs. */
int hfi_model_add_file(hf_model_t *m, const char *path, hf_error_t *err);
/* Open a GGUF or safetensors file, keep it open for the model's life, add its tensors
 * (`out`, if not NULL, gets the open file; the model owns it). */
int hfi_model_open_gguf(hf_model_t *m, const char *path, hf_gguf_t **g, hf_error_t *err);
int hfi_model_open_safetensors(hf_model_t *m, const char *path, hf_safetensors_t **st,
                               hf_error_t *err);
int hfi_model_set_arch(hf_model_t *m, const char *arch, hf_error_t *err);

/* ---- a load under way -------------------------------------------------------------------- */

typedef struct hfi_load hfi_load_t;

typedef struct hfi_module {
    const char *name;
    const char *description;
    const char *default_repo;
    /* Check and complete the options (defaults); HF_EINVAL with a message otherwise. */
    int (*check)(hf_model_opts_t *o, hf_error_t *err);
    /* Start the downloads (hfi_load_fetch...) and return a future that settles once every
     * needed file is in the cache (a new reference; its value is ignored). Runs on the
     * calling thread: it must not block. */
    hf_future_t *(*start)(hfi_load_t *l);
    /* On a compute worker, with every file fetched: open, check, fill the model. */
    int (*build)(hfi_load_t *l, hf_model_t *m, hf_error_t *err);
} hfi_module_t;

struct hfi_load {
    hf_runtime_t *rt;
    hf_hub_t *hub;
    const hfi_module_t *mod;
    hf_model_opts_t opts;       /* with its own copies of the strings */
    const char *repo;           /* the main repo: opts.repo or the module's default */
    struct hfi_fetched {
        char *repo, *path;
        hf_future_t *f;
    } *files;
    size_t nfiles, cap;
    void *state;                /* what a module's own step read for its build (the GTE
                                   index), freed with the load by state_free */
    void (*state_free)(void *);
};

/* Start downloading `path` of `repo` at `revision` (NULL: main) and remember it. Returns
 * the download's future (borrowed: the load keeps it), or NULL if memory is short. */
hf_future_t *hfi_load_fetch(hfi_load_t *l, const char *repo, const char *revision,
                            const char *path);
/* Chain a step of the module's own (one that starts more downloads once `f` settles: the
 * GTE index, the Kimi tree listing) on the I/O pool. `fn` runs whatever `f` settles as
 * (it must settle `next`, e.g. by adopting hfi_load_all or `done`), with the load kept
 * alive during the call; `fn` is skipped if the load was cancelled meanwhile. Returns a
 * new reference, or NULL if memory is short. */
typedef void (*hfi_load_step_fn)(hfi_load_t *l, hf_future_t *done, hf_promise_t *next);
hf_future_t *hfi_load_then(hfi_load_t *l, hf_future_t *f, hfi_load_step_fn fn);
/* A future that settles when every file fetched so far has (fails fast). New reference. */
hf_future_t *hfi_load_all(hfi_load_t *l);
/* The local path of a fetched file (after its download succeeded), or NULL. */
const char *hfi_load_path(const hfi_load_t *l, const char *repo, const char *path);

/* ---- build steps the modules share (steps.c) ----------------------------------------------- */

/* The local path of a fetched file; HF_EBROKEN naming it if it was not fetched. */
const char *hfi_load_need(const hfi_load_t *l, const char *repo, const char *path,
                          hf_error_t *err);
/* Check a GGUF set (hf_gguf_check_split), that its head part's general.architecture is
 * `arch` (else HF_EUNSUPPORTED saying what was found), and take the architecture,
 * <arch>.embedding_length, the tokenizer.ggml.tokens count and tokenizer.ggml.eos_token_id
 * (when present) into the model. */
int hfi_build_gguf_meta(hf_model_t *m, hf_gguf_t *const *parts, size_t n, const char *arch,
                        hf_error_t *err);
/* Read a tokenizer.json: its vocabulary size into m->vocab (if m), the id of the token
 * `eos_text` (if not NULL; HF_EFORMAT when absent) into *eos_out, or m->eos if eos_out is
 * NULL. */
int hfi_build_tokenizer(hf_model_t *m, const char *path, const char *eos_text,
                        int64_t *eos_out, hf_error_t *err);
/* Read a config.json whose model_type must be `model_type` (if not NULL). */
int hfi_build_config(const char *path, const char *model_type, hf_config_t **out,
                     hf_error_t *err);
/* An integer a config must have (HF_EFORMAT naming the file and key when absent). */
int hfi_build_config_int(const hf_config_t *cfg, const char *path, const char *key,
                         int64_t *out, hf_error_t *err);
/* hidden_size and vocab_size of a config, both present and positive (HF_EFORMAT naming
 * `path` otherwise). */
int hfi_build_config_dims(const hf_config_t *cfg, const char *path, int64_t *hidden,
                          int64_t *vocab, hf_error_t *err);
/* The model must have tensor `name` with `ndim` dims, shape[0] == d0 and shape[1] == d1
 * (0 = any); HF_EFORMAT naming `file` and the tensor otherwise. */
int hfi_build_require(const hf_model_t *m, const char *file, const char *name,
                      unsigned ndim, uint64_t d0, uint64_t d1, hf_error_t *err);
/* The safetensors file `st` (called `file` in the message) must have a tensor whose name
 * starts with `prefix`. */
int hfi_build_require_prefix(const hf_safetensors_t *st, const char *file, const char *prefix,
                             hf_error_t *err);
/* A quantisation name: 1-32 of [A-Za-z0-9_-] (it becomes part of a path). HF_EINVAL. */
int hfi_check_quant(const char *q, hf_error_t *err);

/* The modules (kimi.c, phi4.c, stella.c, gte.c, sd35.c). */
extern const hfi_module_t hfi_module_kimi, hfi_module_phi4, hfi_module_stella,
    hfi_module_gte, hfi_module_sd35;

#endif /* HFI_MODEL_IMPL_H */
