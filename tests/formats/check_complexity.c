/*
 * check_complexity.c - what hostile but valid-within-limits inputs cost: element lookups
 * that stay bounded however an array is nested, nesting past the limits refused with an
 * error code rather than followed. (Assertions are on behaviour; the timings that motivated
 * them are in the commit message, not here.)
 */
#include "formats/fmtutil.h"

#define N_STR 1000u             /* strings in each big nested array: many marks' worth */

static void put_array_header(hfi_buf_t *v, uint32_t et, uint64_t count)
{
    hfi_buf_put_u32(v, et);
    hfi_buf_put_u64(v, count);
}

static void put_strings(hfi_buf_t *v, char prefix)
{
    char s[8];
    unsigned i;

    put_array_header(v, HF_GGUF_STRING, N_STR);
    for (i = 0; i < N_STR; i++) {
        snprintf(s, sizeof s, "%c%04u", prefix, i);
        hfi_buf_put_gguf_str(v, s, 5);
    }
}

/* Make the length prefix of the string `text` in `b` absurd: a walk over it now fails. */
static void break_length_before(hfi_buf_t *b, const char *text)
{
    long at = fu_find(b->data, b->len, text, strlen(text));

    ck_assert_int_ge(at, 8);
    fu_put_le64(b->data + at - 8, UINT64_MAX);
}

/*
 * Element i of a nested array of strings used to be found by walking from the array's
 * start (marks were kept for top-level arrays only), so reading every element of a nested
 * array of n strings took n^2/2 steps: 40k strings, 5 s. The probe: after the views are
 * taken, element 1 of each nested array is made unwalkable (the file is borrowed, so its
 * bytes are the ones read). Element 900 must still be found: it lies past a mark, which a
 * lookup starts from, so the broken element is never walked over.
 */
START_TEST(nested_array_elements_are_found_from_the_nearest_mark)
{
    hfi_gguf_writer_t *w = hfi_gguf_writer_new();
    hfi_buf_t b = HFI_BUF_INIT, v = HFI_BUF_INIT;
    hf_error_t err = { 0, 0, "" };
    hf_gguf_array_t top, sub, mid, deep;
    const char *s;
    size_t len;
    hf_gguf_t *g = NULL;

    /* [[a0000 .. a0999], [[b0000 .. b0999]]] */
    put_array_header(&v, HF_GGUF_ARRAY, 2);
    put_strings(&v, 'a');
    put_array_header(&v, HF_GGUF_ARRAY, 1);
    put_strings(&v, 'b');
    hfi_gguf_add_raw(w, "nested", HF_GGUF_ARRAY, v.data, v.len);
    ck_assert_int_eq(hfi_gguf_writer_finish(w, &b), 0);
    hfi_gguf_writer_free(w);
    ck_assert_int_eq(hf_gguf_parse(b.data, b.len, "t.gguf", &g, &err), 0);

    ck_assert_int_eq(hf_gguf_get_array(g, "nested", &top, &err), 0);
    ck_assert_int_eq(hf_gguf_array_array(&top, 0, &sub), 0);
    ck_assert_int_eq(hf_gguf_array_array(&top, 1, &mid), 0);
    ck_assert_int_eq(hf_gguf_array_array(&mid, 0, &deep), 0);
    ck_assert_uint_eq(sub.count, N_STR);
    ck_assert_uint_eq(deep.count, N_STR);

    break_length_before(&b, "a0001");
    break_length_before(&b, "b0001");
    ck_assert_int_eq(hf_gguf_array_str(&sub, 900, &s, &len), 0);
    ck_assert_uint_eq(len, 5);
    ck_assert(memcmp(s, "a0900", 5) == 0);
    ck_assert_int_eq(hf_gguf_array_str(&deep, 999, &s, &len), 0);
    ck_assert(memcmp(s, "b0999", 5) == 0);
    ck_assert_int_eq(hf_gguf_array_str(&deep, 64, &s, &len), 0);
    ck_assert(memcmp(s, "b0064", 5) == 0);
    /* and the broken element itself is reported, not read past the buffer */
    ck_assert_int_eq(hf_gguf_array_str(&sub, 2, &s, &len), HF_EFORMAT);

    hf_gguf_close(g);
    hfi_buf_free(&b);
    hfi_buf_free(&v);
}
END_TEST

/* JSON nested past cJSON's limit (1000) is HF_EFORMAT in every JSON reader, not a deep
 * recursion: `depth` arrays around a number. */
static char *deep_json(size_t depth, size_t *len)
{
    char *t = malloc(2 * depth + 2);
    size_t i;

    ck_assert_ptr_nonnull(t);
    for (i = 0; i < depth; i++) {
        t[i] = '[';
        t[depth + 1 + i] = ']';
    }
    t[depth] = '1';
    t[2 * depth + 1] = '\0';
    *len = 2 * depth + 1;
    return t;
}

START_TEST(json_nested_past_the_limit_is_a_format_error)
{
    hf_error_t err = { 0, 0, "" };
    hf_config_t *cfg = NULL;
    hf_tokenizer_t *tok = NULL;
    hf_st_index_t *idx = NULL;
    size_t len;
    char *ok = deep_json(1000, &len), *bad;

    ck_assert_int_eq(hf_config_parse(ok, len, "config.json", &cfg, &err), 0);
    hf_config_free(cfg);
    free(ok);
    bad = deep_json(100000, &len);
    ck_assert_int_eq(hf_config_parse(bad, len, "config.json", &cfg, &err), HF_EFORMAT);
    ck_assert_ptr_null(cfg);
    ck_assert_int_eq(hf_tokenizer_parse(bad, len, "tokenizer.json", &tok, &err), HF_EFORMAT);
    ck_assert_int_eq(hf_st_index_parse(bad, len, "index.json", &idx, &err), HF_EFORMAT);
    free(bad);
}
END_TEST

static Suite *complexity_suite(void)
{
    Suite *s = suite_create("complexity");
    TCase *tc = tcase_create("bounded");

    tcase_add_test(tc, nested_array_elements_are_found_from_the_nearest_mark);
    tcase_add_test(tc, json_nested_past_the_limit_is_a_format_error);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(complexity_suite)
