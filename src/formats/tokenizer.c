/*
 * tokenizer.c - the vocabulary of a tokenizer.json: its size and token ids by text.
 *
 * Design notes
 *  - two places hold tokens: model.vocab (an object text -> id for BPE, WordPiece and
 *    WordLevel; an array of [text, score] for Unigram, where the id is the position) and
 *    added_tokens (special and user-added tokens, each {id, content, ...});
 *  - the size is the highest id plus one, as the tokenizers library counts it; ids that
 *    appear in both places, or not at all, change nothing;
 *  - a text gets the id the tokenizers library gives it when it loads the file: model.vocab
 *    is read into a map, so a text listed there twice keeps its last id (serde's map and
 *    Unigram's table both overwrite); an added token whose text model.vocab has takes the
 *    vocab's id (the library "marks it as added" and only warns that the file said another
 *    id); any other added text keeps the id of its first listing. So model.vocab is read
 *    first, overwriting, then added_tokens, never overwriting. Such files load in the
 *    library and are not refused here; texts are copied into the arena, mapped by a hash
 *    table, and the JSON tree (tens of MB for a 150k vocabulary) is freed before the object
 *    is handed out;
 *  - ids are integers in [0, 2^31), the range every tokenizer runtime uses.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hf/formats.h"
#include "formats/arena.h"
#include "formats/ferror.h"
#include "formats/json.h"
#include "formats/strmap.h"

#define MAX_ID 0x7fffffffu

struct hf_tokenizer {
    hfi_json_obj_t obj;         /* name, arena */
    hfi_strmap_t ids;           /* text -> id */
    uint64_t vocab_size;
    size_t n_added;
    const char *model_type;
};

/* The id in `item`, which must be an integer in [0, 2^31); `where` names it in messages. */
static int json_id(const hf_tokenizer_t *tok, const cJSON *item, const char *where,
                   uint64_t *id, hf_error_t *err)
{
    if (!hfi_json_uint(item, id) || *id > MAX_ID)
        return hfi_ferr(err, HF_EFORMAT, tok->obj.name, "%s: id is not an integer in [0, 2^31)",
                        where);
    return 0;
}

/* Record token `text` as `id`; a known text takes the new id only if `replace`. Count the
 * id either way. */
static int add_token(hf_tokenizer_t *tok, const char *text, uint64_t id, bool replace,
                     hf_error_t *err)
{
    const char *copy;

    if (id + 1 > tok->vocab_size)
        tok->vocab_size = id + 1;
    if (hfi_strmap_get(&tok->ids, text, strlen(text), NULL)) {
        if (replace)
            (void)hfi_strmap_set(&tok->ids, text, strlen(text), id);   /* present: no growth */
        return 0;
    }
    if (!(copy = hfi_arena_strndup(&tok->obj.arena, text, strlen(text))) ||
        hfi_strmap_put(&tok->ids, copy, strlen(copy), id, NULL) < 0)
        return hfi_ferr(err, HF_ENOMEM, tok->obj.name, "out of memory");
    return 0;
}

static int read_added(hf_tokenizer_t *tok, const cJSON *added, hf_error_t *err)
{
    const cJSON *a;
    char where[48];
    uint64_t id;
    int rc, i = 0;

    if (!added || cJSON_IsNull(added))
        return 0;
    if (!cJSON_IsArray(added))
        return hfi_ferr(err, HF_EFORMAT, tok->obj.name, "\"added_tokens\" is %s, not an array",
                        hfi_json_type_name(added));
    cJSON_ArrayForEach(a, added) {
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(a, "content");
        snprintf(where, sizeof where, "added_tokens[%d]", i++);
        if (!cJSON_IsString(content))
            return hfi_ferr(err, HF_EFORMAT, tok->obj.name, "%s: \"content\" is not a string",
                            where);
        if ((rc = json_id(tok, cJSON_GetObjectItemCaseSensitive(a, "id"), where, &id, err)) < 0 ||
            (rc = add_token(tok, content->valuestring, id, false, err)) < 0)
            return rc;
        tok->n_added++;
    }
    return 0;
}

static int read_vocab(hf_tokenizer_t *tok, const cJSON *vocab, hf_error_t *err)
{
    const cJSON *v;
    char where[112];
    uint64_t i = 0, id;
    int rc;

    if (cJSON_IsObject(vocab)) {
        cJSON_ArrayForEach(v, vocab) {
            snprintf(where, sizeof where, "model.vocab.\"%.80s\"", v->string);
            if ((rc = json_id(tok, v, where, &id, err)) < 0 ||
                (rc = add_token(tok, v->string, id, true, err)) < 0)
                return rc;
        }
        return 0;
    }
    if (!cJSON_IsArray(vocab))
        return hfi_ferr(err, HF_EFORMAT, tok->obj.name, "\"model.vocab\" is %s, not an object or "
                        "an array", vocab ? hfi_json_type_name(vocab) : "missing");
    cJSON_ArrayForEach(v, vocab) {
        const cJSON *text = cJSON_GetArrayItem(v, 0);
        if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2 || !cJSON_IsString(text) ||
            !cJSON_IsNumber(cJSON_GetArrayItem(v, 1)))
            return hfi_ferr(err, HF_EFORMAT, tok->obj.name, "model.vocab[%" PRIu64 "]: not a "
                            "[token, score] pair", i);
        if (i > MAX_ID)
            return hfi_ferr(err, HF_EFORMAT, tok->obj.name, "model.vocab: more than 2^31 "
                            "tokens");
        if ((rc = add_token(tok, text->valuestring, i++, true, err)) < 0)
            return rc;
    }
    return 0;
}

static int read_tokenizer(hf_tokenizer_t *tok, const cJSON *root, hf_error_t *err)
{
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    int rc;

    if (!cJSON_IsObject(root))
        return hfi_ferr(err, HF_EFORMAT, tok->obj.name, "%s, not a JSON object",
                        hfi_json_type_name(root));
    if (!cJSON_IsObject(model))
        return hfi_ferr(err, HF_EFORMAT, tok->obj.name, "\"model\" is %s, not an object",
                        model ? hfi_json_type_name(model) : "missing");
    if (cJSON_IsString(type) &&
        !(tok->model_type = hfi_arena_strndup(&tok->obj.arena, type->valuestring,
                                              strlen(type->valuestring))))
        return hfi_ferr(err, HF_ENOMEM, tok->obj.name, "out of memory");
    /* model.vocab first: its ids win over added_tokens' for the same text */
    if ((rc = read_vocab(tok, cJSON_GetObjectItemCaseSensitive(model, "vocab"), err)) < 0)
        return rc;
    return read_added(tok, cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), err);
}

static int read_obj(void *obj, cJSON **root, hf_error_t *err)
{
    return read_tokenizer(obj, *root, err);
}

static void free_obj(void *obj)
{
    hf_tokenizer_t *tok = obj;

    hfi_strmap_free(&tok->ids);
    hfi_arena_free(&tok->obj.arena);
    free(tok);
}

static const hfi_json_reader_t tokenizer_reader = { sizeof(hf_tokenizer_t), read_obj, free_obj };

int hf_tokenizer_parse(const void *buf, size_t len, const char *name, hf_tokenizer_t **out,
                       hf_error_t *err)
{
    void *tok = NULL;
    int rc = hfi_json_open(&tokenizer_reader, NULL, buf, len, name, out ? &tok : NULL, err);

    if (out)
        *out = tok;
    return rc;
}

int hf_tokenizer_load(const char *path, hf_tokenizer_t **out, hf_error_t *err)
{
    void *tok = NULL;
    int rc = hfi_json_open(&tokenizer_reader, path, NULL, 0, NULL, out ? &tok : NULL, err);

    if (out)
        *out = tok;
    return rc;
}

void hf_tokenizer_free(hf_tokenizer_t *tok)
{
    if (tok)
        free_obj(tok);
}

uint64_t hf_tokenizer_vocab_size(const hf_tokenizer_t *tok)
{
    return tok ? tok->vocab_size : 0;
}

size_t hf_tokenizer_added_count(const hf_tokenizer_t *tok)
{
    return tok ? tok->n_added : 0;
}

const char *hf_tokenizer_model_type(const hf_tokenizer_t *tok)
{
    return tok ? tok->model_type : NULL;
}

int hf_tokenizer_token_id(const hf_tokenizer_t *tok, const char *text, uint32_t *id)
{
    uint64_t v;

    if (!tok || !text || !id)
        return HF_EINVAL;
    if (!hfi_strmap_get(&tok->ids, text, strlen(text), &v))
        return HF_ENOENT;
    *id = (uint32_t)v;
    return 0;
}
