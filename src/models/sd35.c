/*
 * sd35.c - the "sd35-turbo" module: stabilityai/stable-diffusion-3.5-large-turbo (gated:
 * needs a token) with its three text encoders, and the tokenizers and T5 config from four
 * other repos.
 *
 * Design notes
 *  - chain: all nine files at once (I/O pool) -> open the four safetensors, check the
 *    diffusion model (model.diffusion_model.*) and VAE (first_stage_model.*) are in the
 *    main file, each encoder has its embedding table, both CLIP tokenizers have
 *    <|endoftext|>, the T5 tokenizer's </s> is config.json's eos_token_id (compute pool);
 *  - architecture "sd3" (a modelspec.architecture other than stable-diffusion-v3* is
 *    HF_EUNSUPPORTED); vocabulary and end token are CLIP-L's (the prompt's tokenizer);
 *    embedding size: the diffusion transformer's hidden size (x_embedder's output);
 *  - without a token the main repo's downloads fail with HF_EGATED, which the load keeps.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "models/model_impl.h"

#define CLIP_L_REPO "openai/clip-vit-large-patch14"
#define CLIP_G_REPO "laion/CLIP-ViT-bigG-14-laion2B-39B-b160k"
#define T5_REPO "google/t5-v1_1-xxl"
#define T5_TOK_REPO "lmz/mt5-tokenizers"
#define T5_TOK "t5-v1_1-xxl.tokenizer.json"
#define SD_MAIN "sd3.5_large_turbo.safetensors"
#define CLIP_EOS "<|endoftext|>"

static const char *const weights[] = {
    SD_MAIN, "text_encoders/clip_g.safetensors", "text_encoders/clip_l.safetensors",
    "text_encoders/t5xxl_fp16.safetensors",
};
/* the tensor each encoder must have */
static const char *const encoder_tensor[] = {
    NULL, "text_model.embeddings.token_embedding.weight",
    "text_model.embeddings.token_embedding.weight", "shared.weight",
};

static int sd35_check(hf_model_opts_t *o, hf_error_t *err)
{
    if (o->quant || o->dim)
        return hf_error_set(err, HF_EINVAL, 0, "%s is not an option of this model",
                            o->quant ? "quant" : "dim");
    return 0;
}

static hf_future_t *sd35_start(hfi_load_t *l)
{
    for (size_t i = 0; i < 4; i++)
        if (!hfi_load_fetch(l, l->repo, l->opts.revision, weights[i]))
            return NULL;
    if (!hfi_load_fetch(l, CLIP_L_REPO, NULL, "tokenizer.json") ||
        !hfi_load_fetch(l, CLIP_G_REPO, NULL, "tokenizer.json") ||
        !hfi_load_fetch(l, T5_REPO, NULL, "config.json") ||
        !hfi_load_fetch(l, T5_TOK_REPO, NULL, T5_TOK))
        return NULL;
    return hfi_load_all(l);
}

static int check_main(const hf_safetensors_t *st, hf_model_t *m, hf_error_t *err)
{
    const char *arch = hf_safetensors_metadata_get(st, "modelspec.architecture");
    const hf_tensor_info_t *x;
    int rc;

    if (arch && strncmp(arch, "stable-diffusion-v3", 19) != 0)
        return hf_error_set(err, HF_EUNSUPPORTED, 0, "%s: modelspec.architecture is "
                            "\"%.64s\", this module loads stable-diffusion-v3*", SD_MAIN, arch);
    if ((rc = hfi_build_require_prefix(st, SD_MAIN, "model.diffusion_model.", err)) < 0 ||
        (rc = hfi_build_require_prefix(st, SD_MAIN, "first_stage_model.", err)) < 0)
        return rc;
    x = hf_safetensors_find_tensor(st, "model.diffusion_model.x_embedder.proj.weight");
    if (!x || x->ndim != 4)
        return hf_error_set(err, HF_EFORMAT, 0, "%s: no 4-d tensor "
                            "model.diffusion_model.x_embedder.proj.weight", SD_MAIN);
    m->embed = (int64_t)x->shape[0];
    return hfi_model_set_arch(m, "sd3", err);
}

static int check_t5(const char *cfgp, const char *tokp, hf_error_t *err)
{
    hf_config_t *cfg;
    int64_t dmodel, eos, tok_eos = -1;
    int rc;

    if ((rc = hfi_build_config(cfgp, NULL, &cfg, err)) < 0)
        return rc;
    if ((rc = hfi_build_config_int(cfg, T5_REPO "/config.json", "d_model", &dmodel, err)) == 0)
        rc = hfi_build_config_int(cfg, T5_REPO "/config.json", "eos_token_id", &eos, err);
    hf_config_free(cfg);
    if (rc < 0 || (rc = hfi_build_tokenizer(NULL, tokp, "</s>", &tok_eos, err)) < 0)
        return rc;
    if (tok_eos != eos)
        return hf_error_set(err, HF_EFORMAT, 0, "%s: </s> is %lld, %s/config.json's "
                            "eos_token_id is %lld", T5_TOK, (long long)tok_eos, T5_REPO,
                            (long long)eos);
    return 0;
}

static int sd35_build(hfi_load_t *l, hf_model_t *m, hf_error_t *err)
{
    const char *p[4], *clip_l, *clip_g, *t5cfg, *t5tok;
    hf_safetensors_t *st[4];
    int64_t g_eos = -1;
    int rc;

    for (size_t i = 0; i < 4; i++)
        if (!(p[i] = hfi_load_need(l, l->repo, weights[i], err)))
            return HF_EBROKEN;
    if (!(clip_l = hfi_load_need(l, CLIP_L_REPO, "tokenizer.json", err)) ||
        !(clip_g = hfi_load_need(l, CLIP_G_REPO, "tokenizer.json", err)) ||
        !(t5cfg = hfi_load_need(l, T5_REPO, "config.json", err)) ||
        !(t5tok = hfi_load_need(l, T5_TOK_REPO, T5_TOK, err)))
        return HF_EBROKEN;
    for (size_t i = 0; i < 4; i++) {
        if ((rc = hfi_model_open_safetensors(m, p[i], &st[i], err)) < 0)
            return rc;
        if (encoder_tensor[i] && !hf_safetensors_find_tensor(st[i], encoder_tensor[i]))
            return hf_error_set(err, HF_EFORMAT, 0, "%s: no tensor %s", weights[i],
                                encoder_tensor[i]);
    }
    if ((rc = check_main(st[0], m, err)) < 0 ||
        (rc = hfi_build_tokenizer(NULL, clip_g, CLIP_EOS, &g_eos, err)) < 0 ||
        (rc = hfi_build_tokenizer(m, clip_l, CLIP_EOS, NULL, err)) < 0)
        return rc;
    return check_t5(t5cfg, t5tok, err);
}

const hfi_module_t hfi_module_sd35 = {
    .name = "sd35-turbo",
    .description = "Stable Diffusion 3.5 Large Turbo with CLIP-L, CLIP-G and T5-XXL text "
                   "encoders (gated: needs a token)",
    .default_repo = "stabilityai/stable-diffusion-3.5-large-turbo",
    .check = sd35_check,
    .start = sd35_start,
    .build = sd35_build,
};
