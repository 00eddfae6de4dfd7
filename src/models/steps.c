/*
 * steps.c - the build steps several modules share: find a fetched file, read a GGUF
 * set's metadata with its architecture check, read a tokenizer's vocabulary and end token,
 * check a config's model type, require tensors by prefix.
 *
 * Design notes
 *  - runs on a compute worker inside a module's build(); touches only the model under
 *    construction and the load (no locks);
 *  - every error names the file (and key or tensor) it is about: the module name is
 *    prefixed by the caller (load.c).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "models/model_impl.h"

const char *hfi_load_need(const hfi_load_t *l, const char *repo, const char *path,
                          hf_error_t *err)
{
    const char *p = hfi_load_path(l, repo, path);
    if (!p)
        hf_error_set(err, HF_EBROKEN, 0, "%s/%s was not fetched", repo, path);
    return p;
}

/* The part of a split set that carries the model metadata (split.no 0), or the file. */
static const hf_gguf_t *head_part(hf_gguf_t *const *parts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t no;
        if (hf_gguf_get_u64(parts[i], "split.no", &no, NULL) < 0 || no == 0)
            return parts[i];
    }
    return parts[0];
}

int hfi_build_gguf_meta(hf_model_t *m, hf_gguf_t *const *parts, size_t n, const char *arch,
                        hf_error_t *err)
{
    const hf_gguf_t *g;
    const char *found;
    char key[96];
    hf_gguf_array_t tokens;
    uint64_t u;
    int rc;

    if ((rc = hf_gguf_check_split((const hf_gguf_t *const *)parts, n, err)) < 0)
        return rc;
    g = head_part(parts, n);
    if ((rc = hf_gguf_get_str(g, "general.architecture", &found, NULL, err)) < 0)
        return rc == HF_ENOENT ? hf_error_set(err, HF_EFORMAT, 0,
                                              "%s: no general.architecture", hf_gguf_name(g))
                               : rc;
    if (strcmp(found, arch) != 0)
        return hf_error_set(err, HF_EUNSUPPORTED, 0,
                            "%s: architecture is \"%.64s\", this module loads \"%s\"",
                            hf_gguf_name(g), found, arch);
    if ((rc = hfi_model_set_arch(m, arch, err)) < 0)
        return rc;
    snprintf(key, sizeof key, "%s.embedding_length", arch);
    if ((rc = hf_gguf_get_u64(g, key, &u, err)) < 0)
        return rc == HF_ENOENT
                   ? hf_error_set(err, HF_EFORMAT, 0, "%s: no %s", hf_gguf_name(g), key)
                   : rc;
    m->embed = (int64_t)(u > INT64_MAX ? INT64_MAX : u);
    if ((rc = hf_gguf_get_array(g, "tokenizer.ggml.tokens", &tokens, err)) == 0)
        m->vocab = (int64_t)tokens.count;
    else if (rc != HF_ENOENT)
        return rc;
    if ((rc = hf_gguf_get_u64(g, "tokenizer.ggml.eos_token_id", &u, err)) == 0) {
        if (m->vocab >= 0 && u >= (uint64_t)m->vocab)
            return hf_error_set(err, HF_EFORMAT, 0,
                                "%s: tokenizer.ggml.eos_token_id %llu is not below the "
                                "vocabulary size %lld", hf_gguf_name(g),
                                (unsigned long long)u, (long long)m->vocab);
        m->eos = (int64_t)u;
    } else if (rc != HF_ENOENT) {
        return rc;
    }
    return 0;
}

int hfi_build_tokenizer(hf_model_t *m, const char *path, const char *eos_text,
                        int64_t *eos_out, hf_error_t *err)
{
    hf_tokenizer_t *tok;
    uint32_t id;
    int rc;

    if ((rc = hf_tokenizer_load(path, &tok, err)) < 0)
        return rc;
    if (m)
        m->vocab = (int64_t)hf_tokenizer_vocab_size(tok);
    if (eos_text) {
        if (hf_tokenizer_token_id(tok, eos_text, &id) < 0) {
            rc = hf_error_set(err, HF_EFORMAT, 0, "%s: no \"%s\" token", path, eos_text);
        } else if (eos_out) {
            *eos_out = id;
        } else if (m) {
            m->eos = id;
        }
    }
    hf_tokenizer_free(tok);
    return rc;
}

int hfi_build_config(const char *path, const char *model_type, hf_config_t **out,
                     hf_error_t *err)
{
    hf_config_t *cfg;
    const char *found;
    int rc;

    if ((rc = hf_config_load(path, &cfg, err)) < 0)
        return rc;
    if (model_type) {
        if ((rc = hf_config_get_str(cfg, "model_type", &found, err)) == HF_ENOENT)
            rc = hf_error_set(err, HF_EFORMAT, 0, "%s: no model_type", path);
        else if (rc == 0 && strcmp(found, model_type) != 0)
            rc = hf_error_set(err, HF_EUNSUPPORTED, 0,
                              "%s: model_type is \"%.64s\", this module loads \"%s\"", path,
                              found, model_type);
        if (rc < 0) {
            hf_config_free(cfg);
            return rc;
        }
    }
    *out = cfg;
    return 0;
}

int hfi_build_config_int(const hf_config_t *cfg, const char *path, const char *key,
                         int64_t *out, hf_error_t *err)
{
    int rc = hf_config_get_int(cfg, key, out, err);
    if (rc == HF_ENOENT)
        return hf_error_set(err, HF_EFORMAT, 0, "%s: no %s", path, key);
    return rc;
}

int hfi_build_config_dims(const hf_config_t *cfg, const char *path, int64_t *hidden,
                          int64_t *vocab, hf_error_t *err)
{
    int rc;
    if ((rc = hfi_build_config_int(cfg, path, "hidden_size", hidden, err)) < 0 ||
        (rc = hfi_build_config_int(cfg, path, "vocab_size", vocab, err)) < 0)
        return rc;
    if (*hidden <= 0 || *vocab <= 0)
        return hf_error_set(err, HF_EFORMAT, 0, "%s: hidden_size %lld, vocab_size %lld", path,
                            (long long)*hidden, (long long)*vocab);
    return 0;
}

int hfi_build_require(const hf_model_t *m, const char *file, const char *name,
                      unsigned ndim, uint64_t d0, uint64_t d1, hf_error_t *err)
{
    const hf_tensor_info_t *t = hf_model_find_tensor(m, name);
    if (!t)
        return hf_error_set(err, HF_EFORMAT, 0, "%s: no tensor %s", file, name);
    if ((ndim && t->ndim != ndim) || (d0 && t->shape[0] != d0) ||
        (d1 && (t->ndim < 2 || t->shape[1] != d1)))
        return hf_error_set(err, HF_EFORMAT, 0,
                            "%s: tensor %s has shape [%llu, %llu] (%u dims), expected "
                            "[%llu, %llu] (%u dims)", file, name,
                            (unsigned long long)t->shape[0], (unsigned long long)t->shape[1],
                            t->ndim, (unsigned long long)d0, (unsigned long long)d1, ndim);
    return 0;
}

int hfi_build_require_prefix(const hf_safetensors_t *st, const char *file, const char *prefix,
                             hf_error_t *err)
{
    size_t n = strlen(prefix);
    for (size_t i = 0; i < hf_safetensors_tensor_count(st); i++)
        if (strncmp(hf_safetensors_tensor(st, i)->name, prefix, n) == 0)
            return 0;
    return hf_error_set(err, HF_EFORMAT, 0, "%s: no tensor named %s*", file, prefix);
}

int hfi_check_quant(const char *q, hf_error_t *err)
{
    size_t n = strlen(q);
    if (n == 0 || n > 32)       /* named (its start) like every other bad option value */
        return hf_error_set(err, HF_EINVAL, 0, "quant \"%.40s%s\" is not 1 to 32 characters",
                            q, n > 40 ? "..." : "");
    for (size_t i = 0; i < n; i++) {
        char c = q[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return hf_error_set(err, HF_EINVAL, 0,
                                "quant \"%.32s\" may hold only letters, digits, '_' and '-'",
                                q);
    }
    return 0;
}
