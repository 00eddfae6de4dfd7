/*
 * check_contract_formats.c - sentences of hf/formats.h that no other suite asserted, and
 * the points where the readers disagreed with the libraries that read the same files:
 * GGUF keys with a space, scalar and empty GGUF tensors, config.json keys given twice,
 * tokenizer.json texts given several ids; accessors given NULL.
 */
#include "formats/fmtutil.h"

#define ADDED(id, text)                                                                   \
    "{\"id\":" #id ",\"content\":\"" text "\",\"single_word\":false,\"lstrip\":false,"    \
    "\"rstrip\":false,\"normalized\":false,\"special\":true}"

static hf_gguf_t *gguf_finish(hfi_gguf_writer_t *w, hfi_buf_t *b)
{
    hf_gguf_t *g = NULL;
    hf_error_t err = { 0, 0, "" };

    ck_assert_int_eq(hfi_gguf_writer_finish(w, b), 0);
    hfi_gguf_writer_free(w);
    ck_assert_msg(hf_gguf_parse(b->data, b->len, "t.gguf", &g, &err) == 0, "%s", err.message);
    return g;
}

/* "keys must be printable ASCII (0x20-0x7e)": a space is printable (a named chat template,
 * tokenizer.chat_template.<name>, takes its name from tokenizer_config.json) */
START_TEST(gguf_keys_may_hold_a_space)
{
    hfi_gguf_writer_t *w = hfi_gguf_writer_new();
    hfi_buf_t b = HFI_BUF_INIT;
    hf_error_t err;
    const char *s;
    hf_gguf_t *g;

    hfi_gguf_add_str(w, "tokenizer.chat_template.tool use", "{{ messages }}");
    hfi_gguf_add_str(w, "general.name", "x");
    g = gguf_finish(w, &b);
    ck_assert_int_eq(hf_gguf_find_key(g, "tokenizer.chat_template.tool use"), 0);
    ck_assert_int_eq(hf_gguf_get_str(g, "tokenizer.chat_template.tool use", &s, NULL, &err), 0);
    ck_assert_str_eq(s, "{{ messages }}");
    hf_gguf_close(g);
    hfi_buf_free(&b);
}
END_TEST

/* "ndim 0 (a scalar)": a GGUF tensor with no dimensions is one element */
START_TEST(a_gguf_tensor_without_dimensions_is_one_element)
{
    hfi_gguf_writer_t *w = hfi_gguf_writer_new();
    hfi_buf_t b = HFI_BUF_INIT;
    const hf_tensor_info_t *t;
    hf_gguf_t *g;

    hfi_gguf_add_tensor(w, "scale", 0, 0, NULL, NULL);
    g = gguf_finish(w, &b);
    ck_assert_ptr_nonnull(t = hf_gguf_find_tensor(g, "scale"));
    ck_assert_uint_eq(t->ndim, 0);
    ck_assert_uint_eq(t->shape[0], 0);
    ck_assert_uint_eq(t->nbytes, 4);
    ck_assert_str_eq(t->dtype_name, "F32");
    ck_assert_uint_eq(t->offset, hf_gguf_data_offset(g));
    hf_gguf_close(g);
    hfi_buf_free(&b);
}
END_TEST

/* "without overlapping another's": an empty tensor (a zero dimension) holds no bytes, so it
 * may sit at the same offset as a real one */
START_TEST(an_empty_gguf_tensor_overlaps_nothing)
{
    hfi_gguf_writer_t *w = hfi_gguf_writer_new();
    hfi_buf_t b = HFI_BUF_INIT;
    uint64_t empty[2] = { 8, 0 }, full[1] = { 8 };
    hf_gguf_t *g;

    hfi_gguf_add_tensor(w, "empty", 0, 2, empty, NULL);
    hfi_gguf_add_tensor(w, "full", 0, 1, full, NULL);
    g = gguf_finish(w, &b);
    ck_assert_uint_eq(hf_gguf_find_tensor(g, "empty")->nbytes, 0);
    ck_assert_uint_eq(hf_gguf_find_tensor(g, "empty")->offset,
                      hf_gguf_find_tensor(g, "full")->offset);
    ck_assert_uint_eq(hf_gguf_find_tensor(g, "full")->nbytes, 32);
    hf_gguf_close(g);
    hfi_buf_free(&b);
}
END_TEST

/* "A key given twice in an object means its last value, as Python's json module reads it":
 * transformers reads config.json with json.load, where the last value wins */
START_TEST(a_config_key_given_twice_means_its_last_value)
{
    static const char json[] =
        "{\"max_position_embeddings\": 2048, \"rope_scaling\": {\"factor\": 2.0},"
        " \"text_config\": {\"vocab_size\": 1, \"vocab_size\": 2},"
        " \"max_position_embeddings\": 32768, \"rope_scaling\": null}";
    hf_config_t *cfg = NULL;
    hf_error_t err;
    int64_t v;

    ck_assert_int_eq(hf_config_parse(json, strlen(json), "config.json", &cfg, &err), 0);
    ck_assert_int_eq(hf_config_get_int(cfg, "max_position_embeddings", &v, &err), 0);
    ck_assert_int_eq(v, 32768);
    ck_assert_int_eq(hf_config_get_int(cfg, "text_config.vocab_size", &v, &err), 0);
    ck_assert_int_eq(v, 2);
    ck_assert_int_eq(hf_config_type(cfg, "rope_scaling"), HF_ENOENT);     /* last: null */
    hf_config_free(cfg);
}
END_TEST

static hf_tokenizer_t *tok_parse(const char *json)
{
    hf_tokenizer_t *tok = NULL;
    hf_error_t err;

    ck_assert_msg(hf_tokenizer_parse(json, strlen(json), "tokenizer.json", &tok, &err) == 0,
                  "%s", err.message);
    return tok;
}

static uint32_t id_of(const hf_tokenizer_t *tok, const char *text)
{
    uint32_t id = 0xdead;

    ck_assert_int_eq(hf_tokenizer_token_id(tok, text, &id), 0);
    return id;
}

/* The tokenizers library reads model.vocab into a map: a text listed twice keeps the id
 * of its last listing */
START_TEST(a_vocab_text_listed_twice_keeps_its_last_id)
{
    hf_tokenizer_t *tok = tok_parse("{\"model\":{\"type\":\"WordLevel\","
                                    "\"vocab\":{\"a\":0,\"b\":1,\"a\":2}}}");

    ck_assert_uint_eq(id_of(tok, "a"), 2);
    ck_assert_uint_eq(id_of(tok, "b"), 1);
    ck_assert_uint_eq(hf_tokenizer_vocab_size(tok), 3);
    hf_tokenizer_free(tok);
}
END_TEST

/* ... and so does Unigram's table, where the id is the position */
START_TEST(a_unigram_piece_listed_twice_keeps_its_last_position)
{
    hf_tokenizer_t *tok = tok_parse("{\"model\":{\"type\":\"Unigram\",\"vocab\":"
                                    "[[\"<unk>\",0.0],[\"x\",-1.5],[\"y\",-2.0],[\"x\",-3.0]]}}");

    ck_assert_uint_eq(id_of(tok, "x"), 3);
    ck_assert_uint_eq(id_of(tok, "y"), 2);
    ck_assert_uint_eq(hf_tokenizer_vocab_size(tok), 4);
    hf_tokenizer_free(tok);
}
END_TEST

/* An added token whose text model.vocab lacks keeps its first listing's id, even when a
 * later entry gives it another (the library reuses the id it has for the text) */
START_TEST(an_added_text_listed_twice_keeps_its_first_id)
{
    hf_tokenizer_t *tok = tok_parse("{\"added_tokens\":[" ADDED(4, "<s>") "," ADDED(5, "<s>") "],"
                                    "\"model\":{\"vocab\":{\"a\":0,\"b\":1}}}");

    ck_assert_uint_eq(id_of(tok, "<s>"), 4);
    ck_assert_uint_eq(hf_tokenizer_added_count(tok), 2);
    ck_assert_uint_eq(hf_tokenizer_vocab_size(tok), 6);
    hf_tokenizer_free(tok);
}
END_TEST

/* An added token whose id beyond the vocab lands on no vocab text is found by its own id;
 * the vocab's texts keep theirs */
START_TEST(added_tokens_beyond_the_vocab_keep_their_ids)
{
    hf_tokenizer_t *tok = tok_parse("{\"added_tokens\":[" ADDED(2, "<pad>") "," ADDED(7, "<eos>")
                                    "],\"model\":{\"vocab\":{\"a\":0,\"b\":1}}}");

    ck_assert_uint_eq(id_of(tok, "<pad>"), 2);
    ck_assert_uint_eq(id_of(tok, "<eos>"), 7);
    ck_assert_uint_eq(id_of(tok, "b"), 1);
    ck_assert_uint_eq(hf_tokenizer_vocab_size(tok), 8);
    hf_tokenizer_free(tok);
}
END_TEST

/* "An accessor given a NULL object answers as for an absent entry or an index out of
 * range: 0, -1, NULL, HF_EINVAL, or \"\" from the *_name functions", and "Opening and
 * parsing return HF_EINVAL when `out` is NULL", for the readers other suites leave out */
START_TEST(null_objects_and_null_outs_answer_as_the_header_says)
{
    static const char json[] = "{\"weight_map\":{}}";
    const char *k = "x", *v = "x";
    hf_error_t err;
    uint64_t u = 7;

    ck_assert_uint_eq(hf_gguf_version(NULL), 0);
    ck_assert_uint_eq(hf_gguf_alignment(NULL), 0);
    ck_assert_uint_eq(hf_gguf_data_offset(NULL), 0);
    ck_assert_int_eq(hf_gguf_tensor_ggml_type(NULL, 0), -1);
    ck_assert_str_eq(hf_safetensors_name(NULL), "");
    ck_assert_uint_eq(hf_safetensors_data_offset(NULL), 0);
    ck_assert_ptr_null(hf_safetensors_mapping(NULL, NULL));
    ck_assert_uint_eq(hf_safetensors_tensor_count(NULL), 0);
    ck_assert_ptr_null(hf_safetensors_tensor(NULL, 0));
    ck_assert_ptr_null(hf_safetensors_find_tensor(NULL, "a"));
    ck_assert_uint_eq(hf_safetensors_metadata_count(NULL), 0);
    ck_assert_int_eq(hf_safetensors_metadata_at(NULL, 0, &k, &v), HF_EINVAL);
    ck_assert_ptr_null(hf_safetensors_metadata_get(NULL, "format"));
    ck_assert_int_eq(hf_safetensors_check_packed(NULL, &err), HF_EINVAL);
    ck_assert_uint_eq(hf_st_index_shard_count(NULL), 0);
    ck_assert_ptr_null(hf_st_index_shard(NULL, 0));
    ck_assert_uint_eq(hf_st_index_tensor_count(NULL), 0);
    ck_assert_int_eq(hf_st_index_tensor(NULL, 0, &k, &v), HF_EINVAL);
    ck_assert_ptr_null(hf_st_index_shard_of(NULL, "a"));
    ck_assert_int_eq(hf_st_index_total_size(NULL, &u), HF_EINVAL);
    ck_assert_uint_eq(u, 7);
    ck_assert_uint_eq(hf_tokenizer_added_count(NULL), 0);
    ck_assert_ptr_null(hf_tokenizer_model_type(NULL));
    hf_st_index_free(NULL);
    hf_config_free(NULL);
    ck_assert_int_eq(hf_st_index_parse(json, strlen(json), NULL, NULL, &err), HF_EINVAL);
    ck_assert_int_eq(hf_tokenizer_parse(json, strlen(json), NULL, NULL, NULL), HF_EINVAL);
    ck_assert_int_eq(hf_config_parse(json, strlen(json), NULL, NULL, &err), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_parse(json, strlen(json), NULL, NULL, &err), HF_EINVAL);
    ck_assert_int_eq(hf_safetensors_parse(json, strlen(json), NULL, NULL, &err), HF_EINVAL);
}
END_TEST

static Suite *contract_suite(void)
{
    Suite *s = suite_create("contract_formats");
    TCase *gguf = tcase_create("gguf"), *config = tcase_create("config");
    TCase *tok = tcase_create("tokenizer"), *null = tcase_create("null");

    tcase_add_test(gguf, gguf_keys_may_hold_a_space);
    tcase_add_test(gguf, a_gguf_tensor_without_dimensions_is_one_element);
    tcase_add_test(gguf, an_empty_gguf_tensor_overlaps_nothing);
    tcase_add_test(config, a_config_key_given_twice_means_its_last_value);
    tcase_add_test(tok, a_vocab_text_listed_twice_keeps_its_last_id);
    tcase_add_test(tok, a_unigram_piece_listed_twice_keeps_its_last_position);
    tcase_add_test(tok, an_added_text_listed_twice_keeps_its_first_id);
    tcase_add_test(tok, added_tokens_beyond_the_vocab_keep_their_ids);
    tcase_add_test(null, null_objects_and_null_outs_answer_as_the_header_says);
    suite_add_tcase(s, gguf);
    suite_add_tcase(s, config);
    suite_add_tcase(s, tok);
    suite_add_tcase(s, null);
    return s;
}

TU_MAIN(contract_suite)
