/*
 * check_writer.c - the GGUF and safetensors writers: deterministic bytes, the layout the
 * formats ask for, refusal of what would not be valid, sticky errors.
 */
#include "formats/fmtutil.h"

static void some_gguf(hfi_buf_t *b)
{
    hfi_gguf_writer_t *w = hfi_gguf_writer_new();
    static const char *const toks[3] = { "<s>", "</s>", "▁a" };
    uint64_t d[2] = { 256, 2 };

    hfi_gguf_add_str(w, "general.architecture", "llama");
    hfi_gguf_add_uint(w, "general.alignment", HF_GGUF_UINT32, 64);
    hfi_gguf_add_str_array(w, "tokenizer.ggml.tokens", toks, 3);
    hfi_gguf_add_tensor(w, "blk.0.ffn_up.weight", 12, 2, d, NULL);     /* Q4_K */
    hfi_gguf_add_tensor(w, "output_norm.weight", 0, 1, d, NULL);
    ck_assert_int_eq(hfi_gguf_writer_finish(w, b), 0);
    hfi_gguf_writer_free(w);
}

START_TEST(the_same_calls_give_the_same_bytes)
{
    hfi_buf_t a = HFI_BUF_INIT, b = HFI_BUF_INIT, c = HFI_BUF_INIT, d = HFI_BUF_INIT;

    some_gguf(&a);
    some_gguf(&b);
    ck_assert_uint_eq(a.len, b.len);
    ck_assert(memcmp(a.data, b.data, a.len) == 0);
    fu_small_st(&c);
    fu_small_st(&d);
    ck_assert_uint_eq(c.len, d.len);
    ck_assert(memcmp(c.data, d.data, c.len) == 0);
    hfi_buf_free(&a);
    hfi_buf_free(&b);
    hfi_buf_free(&c);
    hfi_buf_free(&d);
}
END_TEST

START_TEST(gguf_layout_is_header_metadata_infos_then_aligned_data)
{
    hfi_buf_t b = HFI_BUF_INIT;
    hf_gguf_t *g;
    hf_error_t err;
    size_t k;

    some_gguf(&b);
    ck_assert(memcmp(b.data, "GGUF\3\0\0\0\2\0\0\0\0\0\0\0\3\0\0\0\0\0\0\0", 24) == 0);
    ck_assert_uint_eq(b.len % 64, 0);
    ck_assert_int_eq(hf_gguf_parse(b.data, b.len, NULL, &g, &err), 0);
    ck_assert_uint_eq(hf_gguf_data_offset(g) % 64, 0);
    for (k = hf_gguf_data_offset(g) - 1; b.data[k] == 0; k--)
        ;                       /* padding before the data is zeros */
    ck_assert_uint_lt(k, hf_gguf_data_offset(g));
    ck_assert_uint_eq(hf_gguf_tensor(g, 0)->nbytes, 2 * 144);
    ck_assert_uint_eq(hf_gguf_tensor(g, 1)->offset % 64, 0);
    ck_assert_int_eq(((const unsigned char *)hf_gguf_tensor(g, 1)->data)[3],
                     hfi_writer_pattern(1, 3));
    hf_gguf_close(g);
    hfi_buf_free(&b);
}
END_TEST

START_TEST(safetensors_header_is_padded_with_spaces_to_eight_bytes)
{
    hfi_buf_t b = HFI_BUF_INIT;
    uint64_t n;

    fu_small_st(&b);
    n = (uint64_t)b.data[0] | (uint64_t)b.data[1] << 8;
    ck_assert_uint_eq(n % 8, 0);
    ck_assert_int_eq(b.data[8], '{');
    ck_assert(b.data[8 + n - 1] == ' ' || b.data[8 + n - 1] == '}');
    ck_assert(memcmp(b.data + 8, "{\"__metadata__\":{\"format\":\"pt\"},\"a\":", 36) == 0);
    hfi_buf_free(&b);
}
END_TEST

START_TEST(names_with_quotes_backslashes_and_controls_survive_the_round_trip)
{
    static const char *const names[3] = { "a\"b", "c\\d", "e\x01\x1f" };
    hfi_st_writer_t *w = hfi_st_writer_new();
    hfi_buf_t b = HFI_BUF_INIT;
    uint64_t shape[1] = { 1 };
    hf_safetensors_t *st;
    hf_error_t err;
    size_t k;

    for (k = 0; k < 3; k++)
        hfi_st_add_tensor(w, names[k], "U8", 1, shape, NULL);
    ck_assert_int_eq(hfi_st_writer_finish(w, &b), 0);
    hfi_st_writer_free(w);
    ck_assert_msg(hf_safetensors_parse(b.data, b.len, NULL, &st, &err) == 0, "%s", err.message);
    for (k = 0; k < 3; k++)
        ck_assert_ptr_nonnull(hf_safetensors_find_tensor(st, names[k]));
    hf_safetensors_close(st);
    hfi_buf_free(&b);
}
END_TEST

START_TEST(values_that_do_not_fit_their_type_are_refused)
{
    static const struct { hf_gguf_type_t type; uint64_t u; int64_t i; bool is_int; } cases[] = {
        { HF_GGUF_UINT8, 256, 0, false }, { HF_GGUF_UINT16, 65536, 0, false },
        { HF_GGUF_UINT32, 1ull << 32, 0, false }, { HF_GGUF_INT32, 0, 7, false },
        { HF_GGUF_INT8, 0, -129, true }, { HF_GGUF_INT8, 0, 128, true },
        { HF_GGUF_INT16, 0, 40000, true }, { HF_GGUF_UINT8, 0, 1, true },
    };
    hfi_buf_t b = HFI_BUF_INIT;
    size_t k;

    for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        hfi_gguf_writer_t *w = hfi_gguf_writer_new();
        if (cases[k].is_int)
            hfi_gguf_add_int(w, "k", cases[k].type, cases[k].i);
        else
            hfi_gguf_add_uint(w, "k", cases[k].type, cases[k].u);
        ck_assert_msg(hfi_gguf_writer_finish(w, &b) == HF_EINVAL, "case %zu", k);
        hfi_gguf_writer_free(w);
    }
    ck_assert_uint_eq(b.len, 0);
    hfi_buf_free(&b);
}
END_TEST

START_TEST(invalid_tensors_are_refused_and_the_first_error_sticks)
{
    hfi_gguf_writer_t *w = hfi_gguf_writer_new();
    hfi_st_writer_t *s = hfi_st_writer_new();
    hfi_buf_t b = HFI_BUF_INIT;
    uint64_t partial[1] = { 33 }, three[1] = { 3 }, five[5] = { 1, 1, 1, 1, 1 };

    hfi_gguf_add_tensor(w, "q", 2, 1, partial, NULL);         /* Q4_0: 33 is not whole blocks */
    hfi_gguf_add_float(w, "f", HF_GGUF_FLOAT32, 1e40);        /* later errors do not replace it */
    ck_assert_int_eq(hfi_gguf_writer_finish(w, &b), HF_EINVAL);
    hfi_gguf_writer_free(w);
    w = hfi_gguf_writer_new();
    hfi_gguf_add_tensor(w, "u", 99, 1, three, NULL);
    ck_assert_int_eq(hfi_gguf_writer_finish(w, &b), HF_EINVAL);
    hfi_gguf_writer_free(w);
    w = hfi_gguf_writer_new();
    hfi_gguf_add_tensor(w, "d", 0, 5, five, NULL);
    ck_assert_int_eq(hfi_gguf_writer_finish(w, &b), HF_EINVAL);
    hfi_gguf_writer_free(w);

    hfi_st_add_tensor(s, "x", "F4", 1, three, NULL);          /* 12 bits */
    ck_assert_int_eq(hfi_st_writer_finish(s, &b), HF_EINVAL);
    hfi_st_writer_free(s);
    s = hfi_st_writer_new();
    hfi_st_add_tensor(s, "x", "Q4_K", 1, three, NULL);
    ck_assert_int_eq(hfi_st_writer_finish(s, &b), HF_EINVAL);
    hfi_st_writer_free(s);
    ck_assert_uint_eq(b.len, 0);
    hfi_buf_free(&b);
}
END_TEST

START_TEST(an_index_written_reads_back_and_files_are_written_whole)
{
    static const char *const t[2] = { "w\"1", "w2" };
    static const char *const s[2] = { "model-00001-of-00002.safetensors",
                                      "model-00002-of-00002.safetensors" };
    hfi_buf_t b = HFI_BUF_INIT;
    char *dir = fu_tmpdir(), *path = fu_path(dir, "model.safetensors.index.json");
    hf_st_index_t *idx;
    hf_error_t err;
    uint64_t total;

    ck_assert_int_eq(hfi_st_index_write(&b, t, s, 2, 99), 0);
    ck_assert_int_eq(hfi_buf_write_file(&b, path, &err), 0);
    ck_assert_msg(hf_st_index_load(path, &idx, &err) == 0, "%s", err.message);
    ck_assert_str_eq(hf_st_index_shard_of(idx, "w\"1"), s[0]);
    ck_assert_int_eq(hf_st_index_total_size(idx, &total), 0);
    ck_assert_uint_eq(total, 99);
    hf_st_index_free(idx);
    FU_ASSERT_ERR(hfi_buf_write_file(&b, "/nonexistent/dir/x", &err), HF_EIO, err, "/nonexistent");
    hfi_buf_free(&b);
    fu_cleanup(dir, &path, 1);
}
END_TEST

static Suite *writer_suite(void)
{
    Suite *s = suite_create("writer");
    TCase *tc = tcase_create("write");

    tcase_add_test(tc, the_same_calls_give_the_same_bytes);
    tcase_add_test(tc, gguf_layout_is_header_metadata_infos_then_aligned_data);
    tcase_add_test(tc, safetensors_header_is_padded_with_spaces_to_eight_bytes);
    tcase_add_test(tc, names_with_quotes_backslashes_and_controls_survive_the_round_trip);
    tcase_add_test(tc, values_that_do_not_fit_their_type_are_refused);
    tcase_add_test(tc, invalid_tensors_are_refused_and_the_first_error_sticks);
    tcase_add_test(tc, an_index_written_reads_back_and_files_are_written_whole);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(writer_suite)
