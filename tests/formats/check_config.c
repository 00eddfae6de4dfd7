/*
 * check_config.c - config.json: typed access by dotted path, nulls as absent, type errors
 * naming the path, JSON errors naming the byte.
 */
#include "formats/fmtutil.h"

static const char config_json[] =
    "{\n"
    "  \"architectures\": [\"Qwen2ForCausalLM\"],\n"
    "  \"hidden_size\": 1536,\n"
    "  \"rope_theta\": 1000000.0,\n"
    "  \"rms_norm_eps\": 1e-06,\n"
    "  \"tie_word_embeddings\": false,\n"
    "  \"sliding_window\": null,\n"
    "  \"torch_dtype\": \"float32\",\n"
    "  \"vocab_size\": 151646,\n"
    "  \"text_config\": {\"vocab_size\": 32128, \"layers\": [{\"heads\": 12}, {\"heads\": 16}]},\n"
    "  \"big\": 9007199254740993,\n"
    "  \"negative\": -3\n"
    "}\n";

static hf_config_t *load(void)
{
    hf_config_t *cfg = NULL;
    hf_error_t err;

    ck_assert_msg(hf_config_parse(config_json, strlen(config_json), "config.json", &cfg, &err)
                  == 0, "%s", err.message);
    return cfg;
}

START_TEST(typed_values_are_read_by_path)
{
    hf_config_t *cfg = load();
    hf_error_t err;
    int64_t i;
    double f;
    bool flag = true;
    const char *s;
    size_t n;

    ck_assert_int_eq(hf_config_get_int(cfg, "hidden_size", &i, &err), 0);
    ck_assert_int_eq(i, 1536);
    ck_assert_int_eq(hf_config_get_int(cfg, "negative", &i, &err), 0);
    ck_assert_int_eq(i, -3);
    ck_assert_int_eq(hf_config_get_float(cfg, "rope_theta", &f, &err), 0);
    ck_assert(f == 1000000.0);
    ck_assert_int_eq(hf_config_get_float(cfg, "rms_norm_eps", &f, &err), 0);
    ck_assert(f == 1e-06);
    ck_assert_int_eq(hf_config_get_float(cfg, "hidden_size", &f, &err), 0);
    ck_assert(f == 1536.0);
    ck_assert_int_eq(hf_config_get_bool(cfg, "tie_word_embeddings", &flag, &err), 0);
    ck_assert(!flag);
    ck_assert_int_eq(hf_config_get_str(cfg, "torch_dtype", &s, &err), 0);
    ck_assert_str_eq(s, "float32");
    ck_assert_int_eq(hf_config_get_array_len(cfg, "architectures", &n, &err), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(hf_config_get_str(cfg, "architectures.0", &s, &err), 0);
    ck_assert_str_eq(s, "Qwen2ForCausalLM");
    ck_assert_int_eq(hf_config_get_int(cfg, "text_config.vocab_size", &i, &err), 0);
    ck_assert_int_eq(i, 32128);
    ck_assert_int_eq(hf_config_get_int(cfg, "text_config.layers.1.heads", &i, &err), 0);
    ck_assert_int_eq(i, 16);
    hf_config_free(cfg);
}
END_TEST

START_TEST(absent_paths_and_nulls_are_enoent)
{
    hf_config_t *cfg = load();
    hf_error_t err;
    int64_t i;

    FU_ASSERT_ERR(hf_config_get_int(cfg, "sliding_window", &i, &err), HF_ENOENT, err,
                  "config.json: \"sliding_window\" not found");
    FU_ASSERT_ERR(hf_config_get_int(cfg, "num_layers", &i, &err), HF_ENOENT, err, NULL);
    ck_assert_int_eq(hf_config_get_int(cfg, "text_config.layers.2.heads", &i, &err), HF_ENOENT);
    ck_assert_int_eq(hf_config_get_int(cfg, "text_config.layers.x", &i, &err), HF_ENOENT);
    ck_assert_int_eq(hf_config_get_int(cfg, "hidden_size.x", &i, &err), HF_ENOENT);
    ck_assert_int_eq(hf_config_get_int(cfg, "text_config..vocab_size", &i, &err), HF_ENOENT);
    ck_assert_int_eq(hf_config_type(cfg, "sliding_window"), HF_ENOENT);
    hf_config_free(cfg);
}
END_TEST

START_TEST(wrong_types_name_the_path_and_both_types)
{
    hf_config_t *cfg = load();
    hf_error_t err;
    int64_t i;
    bool flag;
    const char *s;
    size_t n;

    FU_ASSERT_ERR(hf_config_get_int(cfg, "torch_dtype", &i, &err), HF_EFORMAT, err,
                  "config.json: \"torch_dtype\" is string, not a number");
    FU_ASSERT_ERR(hf_config_get_int(cfg, "rms_norm_eps", &i, &err), HF_EFORMAT, err,
                  "not an integer");
    FU_ASSERT_ERR(hf_config_get_int(cfg, "big", &i, &err), HF_EFORMAT, err, "2^53");
    FU_ASSERT_ERR(hf_config_get_bool(cfg, "vocab_size", &flag, &err), HF_EFORMAT, err,
                  "is number, not a bool");
    FU_ASSERT_ERR(hf_config_get_str(cfg, "text_config", &s, &err), HF_EFORMAT, err,
                  "is object, not a string");
    FU_ASSERT_ERR(hf_config_get_array_len(cfg, "hidden_size", &n, &err), HF_EFORMAT, err,
                  "not an array");
    ck_assert_int_eq(hf_config_get_int(cfg, NULL, &i, &err), HF_EINVAL);
    ck_assert_int_eq(hf_config_get_int(cfg, "hidden_size", NULL, &err), HF_EINVAL);
    ck_assert_int_eq(hf_config_get_int(NULL, "hidden_size", &i, &err), HF_EINVAL);
    hf_config_free(cfg);
}
END_TEST

START_TEST(types_are_reported_by_path)
{
    hf_config_t *cfg = load();

    ck_assert_int_eq(hf_config_type(cfg, ""), HF_JSON_OBJECT);
    ck_assert_int_eq(hf_config_type(cfg, "architectures"), HF_JSON_ARRAY);
    ck_assert_int_eq(hf_config_type(cfg, "architectures.0"), HF_JSON_STRING);
    ck_assert_int_eq(hf_config_type(cfg, "vocab_size"), HF_JSON_NUMBER);
    ck_assert_int_eq(hf_config_type(cfg, "tie_word_embeddings"), HF_JSON_BOOL);
    ck_assert_int_eq(hf_config_type(NULL, ""), HF_EINVAL);
    hf_config_free(cfg);
}
END_TEST

START_TEST(files_are_loaded_by_path)
{
    char *dir = fu_tmpdir(), *path = fu_write(dir, "config.json", config_json,
                                              strlen(config_json));
    hf_config_t *cfg = NULL;
    hf_error_t err;
    int64_t i;

    ck_assert_msg(hf_config_load(path, &cfg, &err) == 0, "%s", err.message);
    ck_assert_int_eq(hf_config_get_int(cfg, "vocab_size", &i, &err), 0);
    ck_assert_int_eq(i, 151646);
    hf_config_free(cfg);
    FU_ASSERT_ERR(hf_config_load(dir, &cfg, &err), HF_EIO, err, NULL);
    ck_assert_ptr_null(cfg);
    ck_assert_int_eq(hf_config_load(NULL, &cfg, &err), HF_EINVAL);
    fu_cleanup(dir, &path, 1);
}
END_TEST

#define J(literal) literal, sizeof(literal) - 1
static const struct { const char *json; size_t len; const char *needle; } bad[] = {
    { J(""), "JSON: no JSON value in 0 bytes" },
    { J("  \n "), "no JSON value" },
    { J("{\"a\": 1,}"), "cfg.json: JSON: byte 8: invalid JSON" },
    { J("{\"a\": 1} {}"), "byte 9: data after the JSON value" },
    { J("{\"a\": \"\x80\"}"), "byte 7: invalid UTF-8 (0x80)" },
    { J("{\"a\": \"\xf4\x90\x80\x80\"}"), "invalid UTF-8 (0xf4)" },
    { J("{\"a\": \"\xe2\x82\"}"), "invalid UTF-8 (0xe2)" },
    { J("{\"a\": \"bell\abell\"}"), "byte 11: control character (0x07)" },
    { J("{\"a\": \"\x00\"}"), "byte 7: control character (0x00)" },
    /* cJSON would end the string at the NUL: "a\u0000" would read as "a" */
    { J("{\"a\\u0000\": 1}"), "cfg.json: JSON: byte 3: \\u0000 escape" },
    { J("{\"a\": \"x\\u0000\"}"), "cfg.json: JSON: byte 8: \\u0000 escape" },
    { J("{\"a\": \"\\\\\\u0000\"}"), "cfg.json: JSON: byte 9: \\u0000 escape" },
};
#undef J

START_TEST(malformed_json_is_refused_naming_the_byte)
{
    hf_config_t *cfg = (hf_config_t *)&cfg;
    hf_error_t err;
    char *copy = (char *)fu_dup(bad[_i].json, bad[_i].len);

    FU_ASSERT_ERR(hf_config_parse(copy, bad[_i].len, "cfg.json", &cfg, &err), HF_EFORMAT, err,
                  bad[_i].needle);
    ck_assert_ptr_null(cfg);
    free(copy);
}
END_TEST

/* An escaped backslash followed by "u0000" is text, not a NUL escape. */
START_TEST(an_escaped_backslash_before_u0000_is_text)
{
    static const char json[] = "{\"k\\\\u0000\": \"\\\\u0000\\\\\"}";
    hf_config_t *cfg;
    hf_error_t err;
    const char *s;

    ck_assert_msg(hf_config_parse(json, strlen(json), NULL, &cfg, &err) == 0, "%s", err.message);
    ck_assert_int_eq(hf_config_get_str(cfg, "k\\u0000", &s, &err), 0);
    ck_assert_str_eq(s, "\\u0000\\");
    hf_config_free(cfg);
}
END_TEST

START_TEST(a_utf8_byte_order_mark_is_allowed)
{
    static const char json[] = "\xef\xbb\xbf{\"n\": 2}";
    hf_config_t *cfg;
    hf_error_t err;
    int64_t i;

    ck_assert_msg(hf_config_parse(json, strlen(json), NULL, &cfg, &err) == 0, "%s", err.message);
    ck_assert_int_eq(hf_config_get_int(cfg, "n", &i, &err), 0);
    ck_assert_int_eq(i, 2);
    hf_config_free(cfg);
}
END_TEST

/* Found by fuzz_config (tools/fuzz/corpus/regressions/config/null-document): the path ""
 * of a document that is just null was reported as an object, and its getters said
 * "is null, not ..." instead of HF_ENOENT. */
START_TEST(a_null_document_is_absent_like_any_null)
{
    static const char json[] = "null  ";
    hf_config_t *cfg;
    hf_error_t err;
    int64_t i;

    ck_assert_msg(hf_config_parse(json, strlen(json), NULL, &cfg, &err) == 0, "%s", err.message);
    ck_assert_int_eq(hf_config_type(cfg, ""), HF_ENOENT);
    FU_ASSERT_ERR(hf_config_get_int(cfg, "", &i, &err), HF_ENOENT, err, "not found");
    ck_assert_int_eq(hf_config_type(cfg, "a"), HF_ENOENT);
    hf_config_free(cfg);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("paths");

    tcase_add_test(tc, typed_values_are_read_by_path);
    tcase_add_test(tc, absent_paths_and_nulls_are_enoent);
    tcase_add_test(tc, wrong_types_name_the_path_and_both_types);
    tcase_add_test(tc, types_are_reported_by_path);
    tcase_add_test(tc, files_are_loaded_by_path);
    tcase_add_loop_test(tc, malformed_json_is_refused_naming_the_byte, 0,
                        (int)(sizeof bad / sizeof bad[0]));
    tcase_add_test(tc, an_escaped_backslash_before_u0000_is_text);
    tcase_add_test(tc, a_utf8_byte_order_mark_is_allowed);
    tcase_add_test(tc, a_null_document_is_absent_like_any_null);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(config_suite)
