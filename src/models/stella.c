/*
 * stella.c - the "stella" module: NovaSearch/stella_en_400M_v5 (the old id
 * dunzhang/stella_en_400M_v5 redirects to it) with the dense head of one output size.
 *
 * Design notes
 *  - chain: model.safetensors, 2_Dense_<dim>/model.safetensors, tokenizer.json and
 *    config.json in parallel (I/O pool) -> open and cross-check (compute pool): config
 *    model_type "new", the word embeddings [vocab_size, hidden] (config.json's
 *    vocab_size, which may exceed the tokenizer's), the head's linear.weight
 *    [dim, hidden] and linear.bias [dim];
 *  - the embedding size reported is the chosen output dimension; stella has no end token.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "models/model_impl.h"

static const unsigned stella_dims[] = { 256, 768, 1024, 2048, 4096, 6144, 8192 };

static int stella_check(hf_model_opts_t *o, hf_error_t *err)
{
    if (o->quant)
        return hf_error_set(err, HF_EINVAL, 0, "quant is not an option of this model");
    if (!o->dim)
        o->dim = 1024;
    for (size_t i = 0; i < sizeof stella_dims / sizeof stella_dims[0]; i++)
        if (stella_dims[i] == o->dim)
            return 0;
    return hf_error_set(err, HF_EINVAL, 0, "dim %u is not one of 256, 768, 1024, 2048, "
                        "4096, 6144, 8192", o->dim);
}

static void head_name(const hfi_load_t *l, char *buf, size_t size)
{
    snprintf(buf, size, "2_Dense_%u/model.safetensors", l->opts.dim);
}

static hf_future_t *stella_start(hfi_load_t *l)
{
    static const char *const files[] = { "model.safetensors", "tokenizer.json", "config.json" };
    char head[48];
    head_name(l, head, sizeof head);
    for (size_t i = 0; i < 3; i++)
        if (!hfi_load_fetch(l, l->repo, l->opts.revision, files[i]))
            return NULL;
    if (!hfi_load_fetch(l, l->repo, l->opts.revision, head))
        return NULL;
    return hfi_load_all(l);
}

static int stella_build(hfi_load_t *l, hf_model_t *m, hf_error_t *err)
{
    char head[48];
    const char *body, *dense, *tok, *cfgp;
    hf_config_t *cfg;
    int64_t hidden = 0, rows = 0;
    int rc;

    head_name(l, head, sizeof head);
    if (!(body = hfi_load_need(l, l->repo, "model.safetensors", err)) ||
        !(dense = hfi_load_need(l, l->repo, head, err)) ||
        !(tok = hfi_load_need(l, l->repo, "tokenizer.json", err)) ||
        !(cfgp = hfi_load_need(l, l->repo, "config.json", err)))
        return HF_EBROKEN;
    if ((rc = hfi_build_config(cfgp, "new", &cfg, err)) < 0)
        return rc;
    rc = hfi_build_config_dims(cfg, "config.json", &hidden, &rows, err);
    hf_config_free(cfg);
    if (rc < 0)
        return rc;
    if ((rc = hfi_model_set_arch(m, "new", err)) < 0 ||
        (rc = hfi_build_tokenizer(m, tok, NULL, NULL, err)) < 0 ||
        (rc = hfi_model_open_safetensors(m, body, NULL, err)) < 0 ||
        (rc = hfi_model_open_safetensors(m, dense, NULL, err)) < 0)
        return rc;
    if (m->vocab > rows)        /* the embedding table may be padded, never short */
        return hf_error_set(err, HF_EFORMAT, 0, "tokenizer.json has %lld tokens, config.json "
                            "vocab_size is %lld", (long long)m->vocab, (long long)rows);
    if ((rc = hfi_build_require(m, "model.safetensors", "embeddings.word_embeddings.weight",
                                2, (uint64_t)rows, (uint64_t)hidden, err)) < 0 ||
        (rc = hfi_build_require(m, head, "linear.weight", 2, l->opts.dim, (uint64_t)hidden,
                                err)) < 0 ||
        (rc = hfi_build_require(m, head, "linear.bias", 1, l->opts.dim, 0, err)) < 0)
        return rc;
    m->embed = l->opts.dim;
    return 0;
}

const hfi_module_t hfi_module_stella = {
    .name = "stella",
    .description = "stella_en_400M_v5 text embeddings with one dense head (option dim: 256, "
                   "768, 1024 (default), 2048, 4096, 6144, 8192)",
    .default_repo = "NovaSearch/stella_en_400M_v5",
    .check = stella_check,
    .start = stella_start,
    .build = stella_build,
};
