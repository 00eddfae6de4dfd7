/*
 * check_st_index.c - model.safetensors.index.json: what it lists, and checking it against
 * the shards (missing tensor, tensor in the wrong shard, missing shard, unlisted tensor).
 */
#include "formats/fmtutil.h"

#define SHARD1 "model-00001-of-00002.safetensors"
#define SHARD2 "model-00002-of-00002.safetensors"

static const char *const map_tensors[] = {
    "model.embed_tokens.weight", "model.layers.0.mlp.up_proj.weight",
    "model.layers.1.mlp.up_proj.weight", "lm_head.weight",
};
static const char *const map_shards[] = { SHARD1, SHARD1, SHARD2, SHARD2 };

static hf_st_index_t *index_of(const char *const *tensors, const char *const *shards, size_t n)
{
    hfi_buf_t b = HFI_BUF_INIT;
    hf_st_index_t *idx = NULL;
    hf_error_t err;

    ck_assert_int_eq(hfi_st_index_write(&b, tensors, shards, n, 1234), 0);
    ck_assert_msg(hf_st_index_parse(b.data, b.len, "model.safetensors.index.json", &idx, &err) == 0,
                  "%s", err.message);
    hfi_buf_free(&b);
    return idx;
}

/* A shard holding `n` tensors named in `names`; its bytes in `b`. */
static hf_safetensors_t *shard_of(hfi_buf_t *b, const char *const *names, size_t n)
{
    hfi_st_writer_t *w = hfi_st_writer_new();
    hf_safetensors_t *st = NULL;
    hf_error_t err;
    uint64_t shape[2] = { 2, 2 };
    size_t i;

    for (i = 0; i < n; i++)
        hfi_st_add_tensor(w, names[i], "BF16", 2, shape, NULL);
    ck_assert_int_eq(hfi_st_writer_finish(w, b), 0);
    hfi_st_writer_free(w);
    ck_assert_int_eq(hf_safetensors_parse(b->data, b->len, NULL, &st, &err), 0);
    return st;
}

typedef struct pair {
    hfi_buf_t bytes[2];
    hf_safetensors_t *st[2];
} pair_t;

static void make_pair(pair_t *p, const char *const *first, size_t n1, const char *const *second,
                      size_t n2)
{
    memset(p, 0, sizeof *p);
    p->st[0] = shard_of(&p->bytes[0], first, n1);
    p->st[1] = shard_of(&p->bytes[1], second, n2);
}

static void free_pair(pair_t *p)
{
    unsigned i;
    for (i = 0; i < 2; i++) {
        hf_safetensors_close(p->st[i]);
        hfi_buf_free(&p->bytes[i]);
    }
}

static const char *const shard_names[2] = { SHARD1, SHARD2 };

static int check(const hf_st_index_t *idx, pair_t *p, size_t n, hf_error_t *err)
{
    return hf_st_index_check(idx, (const hf_safetensors_t *const *)p->st, shard_names, n, err);
}

START_TEST(an_index_lists_its_tensors_and_distinct_shards_in_order)
{
    hfi_buf_t b = HFI_BUF_INIT;
    char *dir = fu_tmpdir(), *path;
    hf_st_index_t *idx = NULL;
    hf_error_t err;
    const char *name, *shard;
    uint64_t total;

    ck_assert_int_eq(hfi_st_index_write(&b, map_tensors, map_shards, 4, 3087467520ull), 0);
    path = fu_write(dir, "model.safetensors.index.json", b.data, b.len);
    ck_assert_msg(hf_st_index_load(path, &idx, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(hf_st_index_shard_count(idx), 2);
    ck_assert_str_eq(hf_st_index_shard(idx, 0), SHARD1);
    ck_assert_str_eq(hf_st_index_shard(idx, 1), SHARD2);
    ck_assert_ptr_null(hf_st_index_shard(idx, 2));
    ck_assert_uint_eq(hf_st_index_tensor_count(idx), 4);
    ck_assert_int_eq(hf_st_index_tensor(idx, 3, &name, &shard), 0);
    ck_assert_str_eq(name, "lm_head.weight");
    ck_assert_str_eq(shard, SHARD2);
    ck_assert_int_eq(hf_st_index_tensor(idx, 4, &name, &shard), HF_EINVAL);
    ck_assert_str_eq(hf_st_index_shard_of(idx, "model.embed_tokens.weight"), SHARD1);
    ck_assert_ptr_null(hf_st_index_shard_of(idx, "model.norm.weight"));
    ck_assert_int_eq(hf_st_index_total_size(idx, &total), 0);
    ck_assert(total == 3087467520ull);
    hf_st_index_free(idx);
    FU_ASSERT_ERR(hf_st_index_load("/nonexistent/model.safetensors.index.json", &idx, &err),
                  HF_ENOENT, err, "nonexistent");
    ck_assert_ptr_null(idx);
    hfi_buf_free(&b);
    fu_cleanup(dir, &path, 1);
}
END_TEST

START_TEST(shards_that_match_the_index_pass)
{
    hf_st_index_t *idx = index_of(map_tensors, map_shards, 4);
    pair_t p;
    hf_error_t err;

    make_pair(&p, map_tensors, 2, map_tensors + 2, 2);
    ck_assert_msg(check(idx, &p, 2, &err) == 0, "%s", err.message);
    free_pair(&p);
    hf_st_index_free(idx);
}
END_TEST

/* A list of names and its length, for the table below. */
#define NAMES(...)                                                                        \
    (const char *const[]){ __VA_ARGS__ },                                                 \
    sizeof((const char *[]){ __VA_ARGS__ }) / sizeof(char *)
#define EMBED "model.embed_tokens.weight"
#define UP0 "model.layers.0.mlp.up_proj.weight"
#define UP1 "model.layers.1.mlp.up_proj.weight"
#define HEAD "lm_head.weight"

/* Shards that disagree with the index of map_tensors / map_shards. */
static const struct {
    const char *what;
    const char *const *first;
    size_t n1;
    const char *const *second;
    size_t n2;
    size_t given;               /* how many of the two shards are given */
    const char *needle;
} mismatches[] = {
    { "tensor missing from its shard", NAMES(EMBED, UP0), NAMES(UP1), 2,
      "model.safetensors.index.json: tensor \"" HEAD "\" is missing from shard \"" SHARD2 "\"" },
    { "tensor in the wrong shard", NAMES(EMBED, UP0, HEAD), NAMES(UP1), 2,
      "tensor \"" HEAD "\" is in shard \"" SHARD1 "\", but the index puts it in \"" SHARD2 "\"" },
    { "a shard holds a tensor the index puts elsewhere", NAMES(EMBED, UP0),
      NAMES(UP1, HEAD, EMBED), 2,
      "shard \"" SHARD2 "\" holds tensor \"" EMBED "\", which the index puts in \"" SHARD1 "\"" },
    { "a shard holds an unlisted tensor", NAMES(EMBED, UP0), NAMES(UP1, HEAD, "model.norm.weight"),
      2, "shard \"" SHARD2 "\" holds tensor \"model.norm.weight\", which the index does not "
      "list" },
    { "a shard is missing", NAMES(EMBED, UP0), NAMES(UP1, HEAD), 1,
      "shard \"" SHARD2 "\" is missing (the index puts tensor \"" UP1 "\" there)" },
};

START_TEST(each_mismatch_names_the_tensor_and_the_shard)
{
    hf_st_index_t *idx = index_of(map_tensors, map_shards, 4);
    pair_t p;
    hf_error_t err;

    make_pair(&p, mismatches[_i].first, mismatches[_i].n1, mismatches[_i].second,
              mismatches[_i].n2);
    FU_ASSERT_ERR(check(idx, &p, mismatches[_i].given, &err), HF_EFORMAT, err,
                  mismatches[_i].needle);
    free_pair(&p);
    hf_st_index_free(idx);
}
END_TEST

START_TEST(bad_arguments_to_check_are_refused)
{
    hf_st_index_t *idx = index_of(map_tensors, map_shards, 4);
    static const char *const twice[2] = { SHARD1, SHARD1 };
    pair_t p;
    hf_error_t err;

    make_pair(&p, map_tensors, 2, map_tensors + 2, 2);
    FU_ASSERT_ERR(hf_st_index_check(idx, (const hf_safetensors_t *const *)p.st, twice, 2, &err),
                  HF_EINVAL, err, "given twice");
    ck_assert_int_eq(hf_st_index_check(NULL, (const hf_safetensors_t *const *)p.st, shard_names,
                                       2, &err), HF_EINVAL);
    ck_assert_int_eq(hf_st_index_check(idx, NULL, shard_names, 2, &err), HF_EINVAL);
    free_pair(&p);
    hf_st_index_free(idx);
}
END_TEST

START_TEST(shard_paths_in_subfolders_are_accepted)
{
    static const char *const t[1] = { "text_model.encoder.weight" };
    static const char *const s[1] = { "text_encoders/clip_g.safetensors" };
    hf_st_index_t *idx = index_of(t, s, 1);

    ck_assert_str_eq(hf_st_index_shard(idx, 0), "text_encoders/clip_g.safetensors");
    hf_st_index_free(idx);
}
END_TEST

static const struct { const char *json; const char *needle; } bad[] = {
    { "[]", "array, not a JSON object" },
    { "{\"metadata\":{}}", "\"weight_map\" is missing, not an object" },
    { "{\"weight_map\":[]}", "\"weight_map\" is array, not an object" },
    { "{\"weight_map\":{\"a\":1}}", "weight_map.\"a\" is number, not a string" },
    { "{\"weight_map\":{\"a\":\"x.safetensors\",\"a\":\"x.safetensors\"}}",
      "tensor \"a\" is listed twice" },
    { "{\"weight_map\":{\"a\":\"../x.safetensors\"}}", "shard \"../x.safetensors\" is not a "
      "relative path inside the repository" },
    { "{\"weight_map\":{\"a\":\"/etc/passwd\"}}", "not a relative path" },
    { "{\"weight_map\":{\"a\":\"d/../../x\"}}", "not a relative path" },
    { "{\"weight_map\":{\"a\":\"d//x\"}}", "not a relative path" },
    { "{\"weight_map\":{\"a\":\"\"}}", "not a relative path" },
    { "{\"metadata\":7,\"weight_map\":{}}", "\"metadata\" is number, not an object" },
    { "{\"weight_map\":{\"a\":\"x\"}", "JSON: byte 22: invalid JSON" },
    /* cJSON would cut the names at the NUL: "a" and "x.safetensors" */
    { "{\"weight_map\":{\"a\\u0000b\":\"x.safetensors\"}}", "JSON: byte 17: \\u0000 escape" },
    { "{\"weight_map\":{\"a\":\"x.safetensors\\u0000/../../y\"}}",
      "JSON: byte 33: \\u0000 escape" },
};

START_TEST(malformed_indexes_are_refused_naming_the_key)
{
    hf_st_index_t *idx = (hf_st_index_t *)&idx;
    hf_error_t err;
    char *copy = (char *)fu_dup(bad[_i].json, strlen(bad[_i].json));

    FU_ASSERT_ERR(hf_st_index_parse(copy, strlen(bad[_i].json), "idx.json", &idx, &err),
                  HF_EFORMAT, err, bad[_i].needle);
    ck_assert_ptr_null(idx);
    ck_assert(strncmp(err.message, "idx.json: ", 10) == 0);
    free(copy);
}
END_TEST

/* total_size is informative, and no loader reads it: one that is no integer (some 4-bit
 * exports write a fraction) made the whole index fail to load */
START_TEST(an_index_without_total_size_says_so)
{
    static const char *const json[] = {
        "{\"weight_map\":{\"w\":\"model.safetensors\"}}",
        "{\"metadata\":{\"total_size\":1.5},\"weight_map\":{\"w\":\"model.safetensors\"}}",
        "{\"metadata\":{\"total_size\":-2},\"weight_map\":{\"w\":\"model.safetensors\"}}",
        "{\"metadata\":{\"total_size\":\"7\"},\"weight_map\":{\"w\":\"model.safetensors\"}}",
        "{\"metadata\":{\"total_size\":null},\"weight_map\":{\"w\":\"model.safetensors\"}}",
    };
    hf_st_index_t *idx;
    hf_error_t err;
    uint64_t total;

    for (size_t i = 0; i < sizeof json / sizeof json[0]; i++) {
        ck_assert_msg(hf_st_index_parse(json[i], strlen(json[i]), NULL, &idx, &err) == 0,
                      "%s: %s", json[i], err.message);
        ck_assert_int_eq(hf_st_index_total_size(idx, &total), HF_ENOENT);
        ck_assert_str_eq(hf_st_index_shard_of(idx, "w"), "model.safetensors");
        hf_st_index_free(idx);
    }
}
END_TEST

static Suite *st_index_suite(void)
{
    Suite *s = suite_create("st_index");
    TCase *tc = tcase_create("index");

    tcase_add_test(tc, an_index_lists_its_tensors_and_distinct_shards_in_order);
    tcase_add_test(tc, shards_that_match_the_index_pass);
    tcase_add_loop_test(tc, each_mismatch_names_the_tensor_and_the_shard, 0,
                        (int)(sizeof mismatches / sizeof mismatches[0]));
    tcase_add_test(tc, bad_arguments_to_check_are_refused);
    tcase_add_test(tc, shard_paths_in_subfolders_are_accepted);
    tcase_add_loop_test(tc, malformed_indexes_are_refused_naming_the_key, 0,
                        (int)(sizeof bad / sizeof bad[0]));
    tcase_add_test(tc, an_index_without_total_size_says_so);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(st_index_suite)
