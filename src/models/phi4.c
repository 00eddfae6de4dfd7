/*
 * phi4.c - the "phi4-reasoning" module: one GGUF of unsloth/Phi-4-reasoning-GGUF and the
 * tokenizer of microsoft/Phi-4-reasoning.
 *
 * Design notes
 *  - chain: the GGUF and tokenizer.json in parallel (I/O pool) -> open the GGUF, check
 *    architecture phi3, read tokenizer.json (compute pool);
 *  - the vocabulary size and the end token (<|im_end|>, the chat turn's end) come from
 *    tokenizer.json, which is what the model was trained with; the GGUF's own
 *    tokenizer.ggml.tokens may be padded;
 *  - file names are case-sensitive: the quant is used as given ("Q4_K_M", not "q4_k_m").
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "models/model_impl.h"

#define PHI4_TOKENIZER_REPO "microsoft/Phi-4-reasoning"
#define PHI4_EOS "<|im_end|>"

static int phi4_check(hf_model_opts_t *o, hf_error_t *err)
{
    if (!o->quant)
        o->quant = "Q4_K_M";
    if (o->dim)
        return hf_error_set(err, HF_EINVAL, 0, "dim is not an option of this model");
    return hfi_check_quant(o->quant, err);
}

static void gguf_name(const hfi_load_t *l, char *buf, size_t size)
{
    snprintf(buf, size, "Phi-4-reasoning-%s.gguf", l->opts.quant);
}

static hf_future_t *phi4_start(hfi_load_t *l)
{
    char name[64];
    gguf_name(l, name, sizeof name);
    if (!hfi_load_fetch(l, l->repo, l->opts.revision, name) ||
        !hfi_load_fetch(l, PHI4_TOKENIZER_REPO, NULL, "tokenizer.json"))
        return NULL;
    return hfi_load_all(l);
}

static int phi4_build(hfi_load_t *l, hf_model_t *m, hf_error_t *err)
{
    char name[64];
    const char *gpath, *tpath;
    hf_gguf_t *g;
    int rc;

    gguf_name(l, name, sizeof name);
    if (!(gpath = hfi_load_need(l, l->repo, name, err)) ||
        !(tpath = hfi_load_need(l, PHI4_TOKENIZER_REPO, "tokenizer.json", err)))
        return HF_EBROKEN;
    if ((rc = hfi_model_open_gguf(m, gpath, &g, err)) < 0 ||
        (rc = hfi_build_gguf_meta(m, &g, 1, "phi3", err)) < 0)
        return rc;
    if ((rc = hfi_build_require(m, name, "token_embd.weight", 2, (uint64_t)m->embed, 0,
                                err)) < 0)
        return rc;
    return hfi_build_tokenizer(m, tpath, PHI4_EOS, NULL, err);
}

const hfi_module_t hfi_module_phi4 = {
    .name = "phi4-reasoning",
    .description = "Phi-4-reasoning, one GGUF quantisation (phi3; option quant, default "
                   "Q4_K_M) with microsoft's tokenizer.json",
    .default_repo = "unsloth/Phi-4-reasoning-GGUF",
    .check = phi4_check,
    .start = phi4_start,
    .build = phi4_build,
};
