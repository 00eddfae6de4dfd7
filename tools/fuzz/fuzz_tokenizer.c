/*
 * fuzz_tokenizer.c - hf_tokenizer_parse on arbitrary bytes.
 *
 * On success the same bytes are parsed again with cJSON and the tokenizer is compared with
 * that tree: the number of added tokens, the vocabulary size (highest id + 1, below
 * 2^31 + 1), model.type, and the id of every token text, as the tokenizers library
 * gives it: a text of model.vocab has its last listing's id there, whatever added_tokens
 * say; any other added text has its first listing's. On failure, the code is a reader's
 * and the message set.
 */
#include "config.h"

#include <cjson/cJSON.h>

#include "fuzz.h"

#include "hf/formats.h"

#define MAX_CHECKED 128         /* tokens looked up per input */

/* The integer in [0, 2^31) that `item` holds, or -1. */
static int64_t id_of(const cJSON *item)
{
    double d;

    if (!cJSON_IsNumber(item))
        return -1;
    d = item->valuedouble;
    if (!(d >= 0 && d < 2147483648.0) || d != (double)(int64_t)d)
        return -1;
    return (int64_t)d;
}

/* Whether `text` appears in the list from `first` up to (not including) `stop`: added
 * tokens' "content" if `added`, else vocabulary texts (object keys, or [text, score]). */
static int seen_before(const cJSON *first, const cJSON *stop, const char *text, int added)
{
    const cJSON *e;

    for (e = first; e && e != stop; e = e->next) {
        const cJSON *c = added ? cJSON_GetObjectItemCaseSensitive(e, "content") : NULL;
        const char *t = added ? (cJSON_IsString(c) ? c->valuestring : NULL)
                              : e->string ? e->string
                              : cJSON_IsString(cJSON_GetArrayItem(e, 0))
                                  ? cJSON_GetArrayItem(e, 0)->valuestring : NULL;
        if (t && strcmp(t, text) == 0)
            return 1;
    }
    return 0;
}

static void check_against_tree(const hf_tokenizer_t *tok, const cJSON *root)
{
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *e, *added_first = cJSON_IsArray(added) ? added->child : NULL;
    uint64_t size = 0, n_added = 0;
    unsigned checked = 0;
    int64_t pos = 0;
    uint32_t id;

    HFZ_CHECK(cJSON_IsObject(root) && cJSON_IsObject(model));
    if (cJSON_IsString(type))
        HFZ_CHECK(hf_tokenizer_model_type(tok) &&
                  strcmp(hf_tokenizer_model_type(tok), type->valuestring) == 0);
    else
        HFZ_CHECK(hf_tokenizer_model_type(tok) == NULL);
    for (e = added_first; e; e = e->next) {
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(e, "content");
        int64_t v = id_of(cJSON_GetObjectItemCaseSensitive(e, "id"));

        HFZ_CHECK(cJSON_IsString(content) && v >= 0);
        n_added++;
        if ((uint64_t)v + 1 > size)
            size = (uint64_t)v + 1;
        if (checked++ < MAX_CHECKED) {
            HFZ_CHECK(hf_tokenizer_token_id(tok, content->valuestring, &id) == 0);
            if (!seen_before(added_first, e, content->valuestring, 1) &&
                !(vocab && seen_before(vocab->child, NULL, content->valuestring, 0)))
                HFZ_CHECK(id == (uint64_t)v);
        }
    }
    HFZ_CHECK(hf_tokenizer_added_count(tok) == n_added);
    HFZ_CHECK(cJSON_IsObject(vocab) || cJSON_IsArray(vocab));
    cJSON_ArrayForEach(e, vocab) {
        const char *text;
        int64_t v;

        if (cJSON_IsObject(vocab)) {
            text = e->string;
            v = id_of(e);
        } else {
            HFZ_CHECK(cJSON_IsArray(e) && cJSON_IsString(cJSON_GetArrayItem(e, 0)));
            text = cJSON_GetArrayItem(e, 0)->valuestring;
            v = pos++;
        }
        HFZ_CHECK(v >= 0);
        if ((uint64_t)v + 1 > size)
            size = (uint64_t)v + 1;
        if (checked++ < MAX_CHECKED) {
            HFZ_CHECK(hf_tokenizer_token_id(tok, text, &id) == 0);
            if (!seen_before(e->next, NULL, text, 0))       /* its last listing */
                HFZ_CHECK(id == (uint64_t)v);
        }
    }
    HFZ_CHECK(hf_tokenizer_vocab_size(tok) == size);
}

int hfz_tokenizer(const uint8_t *data, size_t size)
{
    hf_tokenizer_t *tok = NULL;
    hf_error_t err;
    cJSON *root;
    uint32_t id;
    int rc = hf_tokenizer_parse(data, size, "tokenizer.json", &tok, &err);

    if (hfz_refused(rc, tok, &err))
        return 0;
    HFZ_CHECK(hf_tokenizer_vocab_size(tok) <= (uint64_t)1 << 31);
    rc = hf_tokenizer_token_id(tok, "\xff not a token", &id);   /* invalid UTF-8: never one */
    HFZ_CHECK(rc == HF_ENOENT);
    root = cJSON_ParseWithLength((const char *)data, size);
    HFZ_CHECK(root != NULL);
    check_against_tree(tok, root);
    cJSON_Delete(root);
    hf_tokenizer_free(tok);
    return 0;
}

HFZ_ENTRY(hfz_tokenizer)
