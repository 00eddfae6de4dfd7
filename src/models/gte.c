/*
 * gte.c - the "gte-qwen" module: Alibaba-NLP/gte-Qwen2-1.5B-instruct, sharded safetensors.
 *
 * Design notes
 *  - chain: config.json, tokenizer.json and model.safetensors.index.json in parallel
 *    (I/O pool); once the index is in, read it (I/O pool: a file read), keep it in the
 *    load's state and fetch every shard its weight_map names, all at once -> open the
 *    shards and check them against that same index (hf_st_index_check: it is read once),
 *    config model_type qwen2, the end token <|endoftext|> (and config.json's
 *    eos_token_id, when given, must agree) (compute pool);
 *  - a shard the repo lacks fails the load naming the file (the download's error).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "models/model_impl.h"

#define GTE_INDEX "model.safetensors.index.json"
#define GTE_EOS "<|endoftext|>"

static int gte_check(hf_model_opts_t *o, hf_error_t *err)
{
    if (o->quant || o->dim)
        return hf_error_set(err, HF_EINVAL, 0, "%s is not an option of this model",
                            o->quant ? "quant" : "dim");
    return 0;
}

static void index_free(void *idx)
{
    hf_st_index_free(idx);
}

static void gte_indexed(hfi_load_t *l, hf_future_t *done, hf_promise_t *next)
{
    hf_st_index_t *idx;
    hf_error_t e;
    hf_future_t *all;

    if (hf_future_state(done) != HF_FUTURE_FULFILLED) {
        hf_promise_adopt(next, done);
        return;
    }
    if (hf_st_index_load(hf_future_value(done), &idx, &e) < 0) {
        hf_promise_reject(next, &e);
        return;
    }
    l->state = idx;             /* for the build, which runs after this step */
    l->state_free = index_free;
    for (size_t i = 0; i < hf_st_index_shard_count(idx); i++) {
        if (!hfi_load_fetch(l, l->repo, l->opts.revision, hf_st_index_shard(idx, i))) {
            hf_promise_rejectf(next, HF_ENOMEM, 0, "out of memory");
            return;
        }
    }
    if ((all = hfi_load_all(l)) == NULL) {
        hf_promise_rejectf(next, HF_ENOMEM, 0, "out of memory");
        return;
    }
    hf_promise_adopt(next, all);
    hf_future_release(all);
}

static hf_future_t *gte_start(hfi_load_t *l)
{
    hf_future_t *index;
    if (!hfi_load_fetch(l, l->repo, l->opts.revision, "config.json") ||
        !hfi_load_fetch(l, l->repo, l->opts.revision, "tokenizer.json") ||
        (index = hfi_load_fetch(l, l->repo, l->opts.revision, GTE_INDEX)) == NULL)
        return NULL;
    return hfi_load_then(l, index, gte_indexed);
}

/* Open the shards the index names and check them against it. */
static int open_shards(hfi_load_t *l, hf_model_t *m, const hf_st_index_t *idx,
                       hf_error_t *err)
{
    size_t n = hf_st_index_shard_count(idx);
    const hf_safetensors_t **sts = hfi_calloc(n ? n : 1, sizeof *sts);
    const char **names = hfi_calloc(n ? n : 1, sizeof *names);
    int rc = 0;

    if (!sts || !names)
        rc = hf_error_set(err, HF_ENOMEM, 0, "out of memory");
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *p;
        hf_safetensors_t *st;
        names[i] = hf_st_index_shard(idx, i);
        if ((p = hfi_load_need(l, l->repo, names[i], err)) == NULL)
            rc = HF_EBROKEN;
        else if ((rc = hfi_model_open_safetensors(m, p, &st, err)) == 0)
            sts[i] = st;
    }
    if (rc == 0)
        rc = hf_st_index_check(idx, sts, names, n, err);
    hfi_free(sts);
    hfi_free(names);
    return rc;
}

static int gte_build(hfi_load_t *l, hf_model_t *m, hf_error_t *err)
{
    const char *cfgp, *tok;
    hf_config_t *cfg;
    const hf_st_index_t *idx = l->state;
    int64_t hidden = 0, rows = 0, eos_cfg = -1;
    int rc;

    if (!(cfgp = hfi_load_need(l, l->repo, "config.json", err)) ||
        !(tok = hfi_load_need(l, l->repo, "tokenizer.json", err)) ||
        !hfi_load_need(l, l->repo, GTE_INDEX, err))
        return HF_EBROKEN;
    if (!idx)                   /* the index step fulfils nothing without it */
        return hf_error_set(err, HF_EBROKEN, 0, "%s was not read", GTE_INDEX);
    if ((rc = hfi_build_config(cfgp, "qwen2", &cfg, err)) < 0)
        return rc;
    rc = hfi_build_config_dims(cfg, "config.json", &hidden, &rows, err);
    if (rc == 0 && (rc = hf_config_get_int(cfg, "eos_token_id", &eos_cfg, err)) == HF_ENOENT)
        rc = 0;
    hf_config_free(cfg);
    if (rc < 0)
        return rc;
    if ((rc = hfi_model_set_arch(m, "qwen2", err)) < 0 ||
        (rc = hfi_build_tokenizer(m, tok, GTE_EOS, NULL, err)) < 0)
        return rc;
    if (eos_cfg >= 0 && eos_cfg != m->eos)
        return hf_error_set(err, HF_EFORMAT, 0, "config.json: eos_token_id %lld, but "
                            "tokenizer.json has %s = %lld", (long long)eos_cfg, GTE_EOS,
                            (long long)m->eos);
    if (m->vocab > rows)
        return hf_error_set(err, HF_EFORMAT, 0, "tokenizer.json has %lld tokens, config.json "
                            "vocab_size is %lld", (long long)m->vocab, (long long)rows);
    if ((rc = open_shards(l, m, idx, err)) < 0)
        return rc;
    m->embed = hidden;
    /* the width must be hidden_size; the rows are not checked against vocab_size, which
     * the miniature fixtures keep at the real value over a small table */
    return hfi_build_require(m, "model-*.safetensors", "model.embed_tokens.weight", 2, 0,
                             (uint64_t)hidden, err);
}

const hfi_module_t hfi_module_gte = {
    .name = "gte-qwen",
    .description = "gte-Qwen2-1.5B-instruct text embeddings, sharded safetensors (qwen2)",
    .default_repo = "Alibaba-NLP/gte-Qwen2-1.5B-instruct",
    .check = gte_check,
    .start = gte_start,
    .build = gte_build,
};
