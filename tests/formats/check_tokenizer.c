/*
 * check_tokenizer.c - tokenizer.json: vocabulary size (model.vocab plus added_tokens, as the
 * highest id plus one) and special tokens found by their text.
 */
#include "formats/fmtutil.h"

#define ADDED(id, text)                                                                   \
    "{\"id\":" #id ",\"content\":\"" text "\",\"single_word\":false,\"lstrip\":false,"    \
    "\"rstrip\":false,\"normalized\":false,\"special\":true}"

/* A BPE tokenizer.json with Qwen2's layout: 151643 regular tokens "t0".."t151642", then
 * its three special tokens as added_tokens. */
static void qwen2_tokenizer(hfi_buf_t *b)
{
    unsigned i;

    hfi_buf_printf(b, "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,"
                      "\"added_tokens\":[" ADDED(151643, "<|endoftext|>") ","
                      ADDED(151644, "<|im_start|>") "," ADDED(151645, "<|im_end|>") "],"
                      "\"normalizer\":{\"type\":\"NFC\"},\"model\":{\"type\":\"BPE\","
                      "\"dropout\":null,\"unk_token\":null,\"vocab\":{");
    for (i = 0; i < 151643; i++)
        hfi_buf_printf(b, "%s\"t%u\":%u", i ? "," : "", i, i);
    hfi_buf_printf(b, "},\"merges\":[\"t1 t2\"]}}");
    ck_assert_int_eq(b->error, 0);
}

static hf_tokenizer_t *parse_ok(const char *json)
{
    hf_tokenizer_t *tok = NULL;
    hf_error_t err;

    ck_assert_msg(hf_tokenizer_parse(json, strlen(json), "tokenizer.json", &tok, &err) == 0,
                  "%s", err.message);
    return tok;
}

START_TEST(qwen2_special_tokens_are_found_by_their_text)
{
    hfi_buf_t b = HFI_BUF_INIT;
    char *dir = fu_tmpdir(), *path;
    hf_tokenizer_t *tok = NULL;
    hf_error_t err;
    uint32_t id;

    qwen2_tokenizer(&b);
    path = fu_write(dir, "tokenizer.json", b.data, b.len);
    ck_assert_msg(hf_tokenizer_load(path, &tok, &err) == 0, "%s", err.message);
    ck_assert_int_eq(hf_tokenizer_token_id(tok, "<|endoftext|>", &id), 0);
    ck_assert_uint_eq(id, 151643);
    ck_assert_int_eq(hf_tokenizer_token_id(tok, "<|im_start|>", &id), 0);
    ck_assert_uint_eq(id, 151644);
    ck_assert_int_eq(hf_tokenizer_token_id(tok, "<|im_end|>", &id), 0);
    ck_assert_uint_eq(id, 151645);
    ck_assert_int_eq(hf_tokenizer_token_id(tok, "t151642", &id), 0);
    ck_assert_uint_eq(id, 151642);
    ck_assert_int_eq(hf_tokenizer_token_id(tok, "<|im_sep|>", &id), HF_ENOENT);
    ck_assert_uint_eq(hf_tokenizer_vocab_size(tok), 151646);
    ck_assert_uint_eq(hf_tokenizer_added_count(tok), 3);
    ck_assert_str_eq(hf_tokenizer_model_type(tok), "BPE");
    hf_tokenizer_free(tok);
    hfi_buf_free(&b);
    fu_cleanup(dir, &path, 1);
}
END_TEST

START_TEST(an_added_token_inside_the_vocab_range_does_not_grow_it)
{
    /* Phi-4 style: <|im_end|> is an added token whose id lies below the vocab's end */
    static const char json[] =
        "{\"added_tokens\":[" ADDED(5, "<|im_end|>") "],"
        "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"c\":2,\"d\":3,\"e\":4,"
        "\"<|im_end|>\":5,\"f\":6}}}";
    hf_tokenizer_t *tok = parse_ok(json);
    uint32_t id;

    ck_assert_uint_eq(hf_tokenizer_vocab_size(tok), 7);
    ck_assert_int_eq(hf_tokenizer_token_id(tok, "<|im_end|>", &id), 0);
    ck_assert_uint_eq(id, 5);
    hf_tokenizer_free(tok);
}
END_TEST

START_TEST(the_size_is_the_highest_id_plus_one_even_with_gaps)
{
    static const char json[] = "{\"model\":{\"vocab\":{\"a\":0,\"z\":9}},\"added_tokens\":[]}";
    hf_tokenizer_t *tok = parse_ok(json);

    ck_assert_uint_eq(hf_tokenizer_vocab_size(tok), 10);
    ck_assert_ptr_null(hf_tokenizer_model_type(tok));
    hf_tokenizer_free(tok);
}
END_TEST

/* the tokenizers library gives an added token that model.vocab holds the vocab's id (and
 * warns that the file said another) */
START_TEST(the_vocab_id_wins_over_added_tokens_for_the_same_text)
{
    static const char json[] = "{\"added_tokens\":[" ADDED(3, "x") "],"
                               "\"model\":{\"vocab\":{\"x\":0,\"y\":1}}}";
    hf_tokenizer_t *tok = parse_ok(json);
    uint32_t id;

    ck_assert_int_eq(hf_tokenizer_token_id(tok, "x", &id), 0);
    ck_assert_uint_eq(id, 0);
    ck_assert_uint_eq(hf_tokenizer_vocab_size(tok), 4);
    hf_tokenizer_free(tok);
}
END_TEST

START_TEST(a_token_listed_again_with_the_same_id_is_one_token)
{
    static const char json[] = "{\"added_tokens\":[" ADDED(1, "y") "," ADDED(1, "y") "],"
                               "\"model\":{\"vocab\":{\"x\":0,\"y\":1}}}";
    hf_tokenizer_t *tok = parse_ok(json);
    uint32_t id;

    ck_assert_int_eq(hf_tokenizer_token_id(tok, "y", &id), 0);
    ck_assert_uint_eq(id, 1);
    ck_assert_uint_eq(hf_tokenizer_vocab_size(tok), 2);
    ck_assert_uint_eq(hf_tokenizer_added_count(tok), 2);
    hf_tokenizer_free(tok);
}
END_TEST

START_TEST(unigram_vocabularies_number_tokens_by_position)
{
    static const char json[] =
        "{\"added_tokens\":[" ADDED(0, "<pad>") "," ADDED(1, "</s>") "," ADDED(2, "<unk>") "],"
        "\"model\":{\"type\":\"Unigram\",\"unk_id\":2,\"vocab\":[[\"<pad>\",0.0],"
        "[\"</s>\",0.0],[\"<unk>\",0.0],[\"\\u2581the\",-3.5],[\"s\",-4.25]]}}";
    hf_tokenizer_t *tok = parse_ok(json);
    uint32_t id;

    ck_assert_str_eq(hf_tokenizer_model_type(tok), "Unigram");
    ck_assert_uint_eq(hf_tokenizer_vocab_size(tok), 5);
    ck_assert_int_eq(hf_tokenizer_token_id(tok, "</s>", &id), 0);
    ck_assert_uint_eq(id, 1);
    ck_assert_int_eq(hf_tokenizer_token_id(tok, "\xe2\x96\x81the", &id), 0);
    ck_assert_uint_eq(id, 3);
    hf_tokenizer_free(tok);
}
END_TEST

START_TEST(lookups_refuse_null_arguments)
{
    hf_tokenizer_t *tok = parse_ok("{\"model\":{\"vocab\":{}}}");
    uint32_t id;

    ck_assert_uint_eq(hf_tokenizer_vocab_size(tok), 0);
    ck_assert_int_eq(hf_tokenizer_token_id(tok, NULL, &id), HF_EINVAL);
    ck_assert_int_eq(hf_tokenizer_token_id(tok, "a", NULL), HF_EINVAL);
    ck_assert_int_eq(hf_tokenizer_token_id(NULL, "a", &id), HF_EINVAL);
    ck_assert_uint_eq(hf_tokenizer_vocab_size(NULL), 0);
    hf_tokenizer_free(tok);
    hf_tokenizer_free(NULL);
}
END_TEST

static const struct { const char *json; const char *needle; } bad[] = {
    { "[]", "array, not a JSON object" },
    { "{\"added_tokens\":[]}", "\"model\" is missing, not an object" },
    { "{\"model\":{\"type\":\"BPE\"}}", "\"model.vocab\" is missing" },
    { "{\"model\":{\"vocab\":7}}", "\"model.vocab\" is number, not an object or an array" },
    { "{\"model\":{\"vocab\":{\"a\":-1}}}",
      "model.vocab.\"a\": id is not an integer in [0, 2^31)" },
    { "{\"model\":{\"vocab\":{\"a\":2147483648}}}", "model.vocab.\"a\": id is not" },
    { "{\"model\":{\"vocab\":{\"a\":1.5}}}", "model.vocab.\"a\": id is not" },
    { "{\"model\":{\"vocab\":{\"a\":\"1\"}}}", "model.vocab.\"a\": id is not" },
    { "{\"model\":{\"vocab\":[[\"a\",0.0],[\"b\"]]}}",
      "model.vocab[1]: not a [token, score] pair" },
    { "{\"model\":{\"vocab\":{}},\"added_tokens\":{}}",
      "\"added_tokens\" is object, not an array" },
    { "{\"model\":{\"vocab\":{}},\"added_tokens\":[{\"id\":1}]}",
      "added_tokens[0]: \"content\" is not a string" },
    { "{\"model\":{\"vocab\":{}},\"added_tokens\":[{\"content\":\"x\"},{\"id\":-2}]}",
      "added_tokens[0]: id is not" },
    { "{\"model\":{\"vocab\":{\"a\":0}}", "JSON: byte" },
    { "{\"model\":{\"vocab\":{\"\xed\xa0\x80\":0}}}", "invalid UTF-8 (0xed)" },
    /* a NUL escape would cut the text short: "a\u0000b" would be looked up as "a" */
    { "{\"model\":{\"vocab\":{\"a\\u0000b\":0}}}",
      "tokenizer.json: JSON: byte 21: \\u0000 escape" },
};

START_TEST(malformed_tokenizers_are_refused_naming_the_key)
{
    hf_tokenizer_t *tok = (hf_tokenizer_t *)&tok;
    hf_error_t err;
    char *copy = (char *)fu_dup(bad[_i].json, strlen(bad[_i].json));

    FU_ASSERT_ERR(hf_tokenizer_parse(copy, strlen(bad[_i].json), "tokenizer.json", &tok, &err),
                  HF_EFORMAT, err, bad[_i].needle);
    ck_assert_ptr_null(tok);
    free(copy);
}
END_TEST

static Suite *tokenizer_suite(void)
{
    Suite *s = suite_create("tokenizer");
    TCase *tc = tcase_create("vocab");

    tcase_add_test(tc, qwen2_special_tokens_are_found_by_their_text);
    tcase_add_test(tc, an_added_token_inside_the_vocab_range_does_not_grow_it);
    tcase_add_test(tc, the_size_is_the_highest_id_plus_one_even_with_gaps);
    tcase_add_test(tc, the_vocab_id_wins_over_added_tokens_for_the_same_text);
    tcase_add_test(tc, a_token_listed_again_with_the_same_id_is_one_token);
    tcase_add_test(tc, unigram_vocabularies_number_tokens_by_position);
    tcase_add_test(tc, lookups_refuse_null_arguments);
    tcase_add_loop_test(tc, malformed_tokenizers_are_refused_naming_the_key, 0,
                        (int)(sizeof bad / sizeof bad[0]));
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(tokenizer_suite)
