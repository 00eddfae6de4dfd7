/*
 * check_safetensors.c - reading valid safetensors files: tensors of every dtype,
 * __metadata__, empty and scalar tensors, gaps, memory mapping.
 */
#include "formats/fmtutil.h"

static hf_safetensors_t *parse_ok(const void *data, size_t len)
{
    hf_safetensors_t *st = NULL;
    hf_error_t err = { 0, 0, "" };
    int rc = hf_safetensors_parse(data, len, "model.safetensors", &st, &err);
    ck_assert_msg(rc == 0, "parse failed: %s", err.message);
    return st;
}

START_TEST(tensors_carry_dtype_shape_and_absolute_byte_range)
{
    hfi_buf_t b = HFI_BUF_INIT;
    const hf_tensor_info_t *t;
    hf_safetensors_t *st;
    uint64_t data;

    fu_small_st(&b);
    st = parse_ok(b.data, b.len);
    data = hf_safetensors_data_offset(st);
    ck_assert_uint_eq(data % 8, 0);                 /* the writer pads the header */
    ck_assert_uint_eq(data, 8 + (uint64_t)b.data[0] + ((uint64_t)b.data[1] << 8));
    ck_assert_uint_eq(hf_safetensors_tensor_count(st), 3);
    t = hf_safetensors_tensor(st, 0);
    ck_assert_str_eq(t->name, "a");
    ck_assert_int_eq(t->dtype, HF_DTYPE_F32);
    ck_assert_str_eq(t->dtype_name, "F32");
    ck_assert_uint_eq(t->ndim, 2);
    ck_assert_uint_eq(t->shape[0], 2);
    ck_assert_uint_eq(t->shape[1], 3);
    ck_assert_uint_eq(t->offset, data);
    ck_assert_uint_eq(t->nbytes, 24);
    ck_assert_ptr_eq(t->data, b.data + data);
    ck_assert_int_eq(((const unsigned char *)t->data)[5], hfi_writer_pattern(0, 5));
    t = hf_safetensors_find_tensor(st, "b");
    ck_assert_int_eq(t->dtype, HF_DTYPE_BF16);
    ck_assert_uint_eq(t->offset, data + 24);
    ck_assert_uint_eq(t->nbytes, 8);
    t = hf_safetensors_find_tensor(st, "c");
    ck_assert_uint_eq(t->offset + t->nbytes, b.len);
    ck_assert_ptr_null(hf_safetensors_find_tensor(st, "d"));
    ck_assert_ptr_null(hf_safetensors_tensor(st, 3));
    hf_safetensors_close(st);
    hfi_buf_free(&b);
}
END_TEST

START_TEST(metadata_is_a_map_of_strings)
{
    hfi_st_writer_t *w = hfi_st_writer_new();
    hfi_buf_t b = HFI_BUF_INIT;
    hf_safetensors_t *st;
    const char *k, *v;

    hfi_st_add_metadata(w, "format", "pt");
    hfi_st_add_metadata(w, "note", "quotes \" and \\ and\nnewlines");
    ck_assert_int_eq(hfi_st_writer_finish(w, &b), 0);
    hfi_st_writer_free(w);
    st = parse_ok(b.data, b.len);
    ck_assert_uint_eq(hf_safetensors_metadata_count(st), 2);
    ck_assert_str_eq(hf_safetensors_metadata_get(st, "format"), "pt");
    ck_assert_str_eq(hf_safetensors_metadata_get(st, "note"), "quotes \" and \\ and\nnewlines");
    ck_assert_ptr_null(hf_safetensors_metadata_get(st, "absent"));
    ck_assert_int_eq(hf_safetensors_metadata_at(st, 1, &k, &v), 0);
    ck_assert_str_eq(k, "note");
    ck_assert_int_eq(hf_safetensors_metadata_at(st, 2, &k, &v), HF_EINVAL);
    ck_assert_uint_eq(hf_safetensors_tensor_count(st), 0);
    hf_safetensors_close(st);
    hfi_buf_free(&b);
}
END_TEST

/* The reference implementation reads "__metadata__" as an optional map: null is no
 * metadata, and the file loads. It was refused: "\"__metadata__\" is null, not an object". */
START_TEST(null_metadata_is_no_metadata)
{
    static const char header[] =
        "{\"__metadata__\":null,\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}";
    hfi_buf_t b = HFI_BUF_INIT;
    hf_safetensors_t *st;

    fu_st_from_header(&b, header, 2);
    st = parse_ok(b.data, b.len);
    ck_assert_uint_eq(hf_safetensors_metadata_count(st), 0);
    ck_assert_ptr_null(hf_safetensors_metadata_get(st, "format"));
    ck_assert_uint_eq(hf_safetensors_tensor_count(st), 1);
    hf_safetensors_close(st);
    hfi_buf_free(&b);
}
END_TEST

/* The test's own table of dtype widths, in bits. */
static const struct { const char *name; unsigned bits; hf_dtype_t dtype; } st_dtypes[] = {
    { "BOOL", 8, HF_DTYPE_BOOL }, { "U8", 8, HF_DTYPE_U8 }, { "I8", 8, HF_DTYPE_I8 },
    { "F8_E5M2", 8, HF_DTYPE_F8_E5M2 }, { "F8_E4M3", 8, HF_DTYPE_F8_E4M3 },
    { "F8_E8M0", 8, HF_DTYPE_F8_E8M0 }, { "I16", 16, HF_DTYPE_I16 },
    { "U16", 16, HF_DTYPE_U16 }, { "F16", 16, HF_DTYPE_F16 }, { "BF16", 16, HF_DTYPE_BF16 },
    { "I32", 32, HF_DTYPE_I32 }, { "U32", 32, HF_DTYPE_U32 }, { "F32", 32, HF_DTYPE_F32 },
    { "F64", 64, HF_DTYPE_F64 }, { "I64", 64, HF_DTYPE_I64 }, { "U64", 64, HF_DTYPE_U64 },
    { "C64", 64, HF_DTYPE_C64 }, { "F4", 4, HF_DTYPE_F4 }, { "F6_E2M3", 6, HF_DTYPE_F6_E2M3 },
    { "F6_E3M2", 6, HF_DTYPE_F6_E3M2 }, { "F8_E4M3FNUZ", 8, HF_DTYPE_F8_E4M3FNUZ },
    { "F8_E5M2FNUZ", 8, HF_DTYPE_F8_E5M2FNUZ },
};

START_TEST(every_dtype_of_the_format_is_sized_by_its_width)
{
    size_t k = (size_t)_i;
    hfi_st_writer_t *w = hfi_st_writer_new();
    hfi_buf_t b = HFI_BUF_INIT;
    uint64_t shape[3] = { 2, 3, 4 };        /* 24 elements: whole bytes even at 4 and 6 bits */
    const hf_tensor_info_t *t;
    hf_safetensors_t *st;

    hfi_st_add_tensor(w, "x", st_dtypes[k].name, 3, shape, NULL);
    ck_assert_int_eq(hfi_st_writer_finish(w, &b), 0);
    hfi_st_writer_free(w);
    st = parse_ok(b.data, b.len);
    t = hf_safetensors_tensor(st, 0);
    ck_assert_int_eq(t->dtype, st_dtypes[k].dtype);
    ck_assert_str_eq(t->dtype_name, st_dtypes[k].name);
    ck_assert_str_eq(hf_dtype_name(t->dtype), st_dtypes[k].name);
    ck_assert_uint_eq(t->nbytes, 24u * st_dtypes[k].bits / 8);
    hf_safetensors_close(st);
    hfi_buf_free(&b);
}
END_TEST

/* hf_dtype_t values are public: the FNUZ floats were appended, nothing was renumbered. */
START_TEST(dtype_values_keep_their_numbers)
{
    ck_assert_int_eq(HF_DTYPE_F4, 20);
    ck_assert_int_eq(HF_DTYPE_MXFP4, 44);
    ck_assert_int_eq(HF_DTYPE_F8_E4M3FNUZ, 45);
    ck_assert_int_eq(HF_DTYPE_F8_E5M2FNUZ, 46);
    ck_assert_int_eq(HF_DTYPE_COUNT, 47);
    ck_assert_str_eq(hf_dtype_name(HF_DTYPE_MXFP4), "MXFP4");
    ck_assert_str_eq(hf_dtype_name(HF_DTYPE_F8_E5M2FNUZ), "F8_E5M2FNUZ");
    ck_assert_str_eq(hf_dtype_name(HF_DTYPE_COUNT), "unknown");
}
END_TEST

/* What the format allows around the rules check_safetensors_corrupt enforces: padding with
 * spaces, fields it does not define (the reference implementation ignores them), and a
 * name holding the text \u0000 (an escaped backslash, then "u0000"). */
START_TEST(space_padding_unknown_fields_and_an_escaped_backslash_are_accepted)
{
    static const char header[] =
        "{\"a\\\\u0000b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2],"
        "\"quant\":{\"group\":32},\"note\":1,\"note\":2}}      ";
    hfi_buf_t b = HFI_BUF_INIT;
    hf_safetensors_t *st;
    const hf_tensor_info_t *t;

    fu_st_from_header(&b, header, 2);
    st = parse_ok(b.data, b.len);
    ck_assert_uint_eq(hf_safetensors_tensor_count(st), 1);
    t = hf_safetensors_tensor(st, 0);
    ck_assert_str_eq(t->name, "a\\u0000b");
    ck_assert_uint_eq(t->nbytes, 2);
    ck_assert_uint_eq(hf_safetensors_data_offset(st), 8 + strlen(header));
    hf_safetensors_close(st);
    hfi_buf_free(&b);
}
END_TEST

START_TEST(empty_and_scalar_tensors_are_valid)
{
    static const char header[] =
        "{\"empty\":{\"dtype\":\"F32\",\"shape\":[4,0],\"data_offsets\":[0,0]},"
        "\"scalar\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},"
        "\"also_empty\":{\"dtype\":\"F16\",\"shape\":[0],\"data_offsets\":[8,8]}}";
    hfi_buf_t b = HFI_BUF_INIT;
    hf_safetensors_t *st;
    const hf_tensor_info_t *t;

    fu_st_from_header(&b, header, 8);
    st = parse_ok(b.data, b.len);
    t = hf_safetensors_find_tensor(st, "empty");
    ck_assert_uint_eq(t->nbytes, 0);
    ck_assert_uint_eq(t->ndim, 2);
    ck_assert_uint_eq(t->shape[1], 0);
    t = hf_safetensors_find_tensor(st, "scalar");
    ck_assert_uint_eq(t->ndim, 0);
    ck_assert_uint_eq(t->nbytes, 8);
    ck_assert_int_eq(hf_safetensors_check_packed(st, NULL), 0);
    hf_safetensors_close(st);
    hfi_buf_free(&b);
}
END_TEST

START_TEST(gaps_are_allowed_but_check_packed_names_them)
{
    static const char gap[] =
        "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
        "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[8,12]}}";
    static const char tail[] = "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}";
    hfi_buf_t b = HFI_BUF_INIT, c = HFI_BUF_INIT;
    hf_safetensors_t *st;
    hf_error_t err;
    char want[96];
    uint64_t data = 8 + strlen(gap);

    fu_st_from_header(&b, gap, 12);
    st = parse_ok(b.data, b.len);
    snprintf(want, sizeof want, "bytes [%llu, %llu) before tensor \"b\" belong to no tensor",
             (unsigned long long)data + 4, (unsigned long long)data + 8);
    FU_ASSERT_ERR(hf_safetensors_check_packed(st, &err), HF_EFORMAT, err, want);
    hf_safetensors_close(st);

    fu_st_from_header(&c, tail, 6);
    st = parse_ok(c.data, c.len);
    FU_ASSERT_ERR(hf_safetensors_check_packed(st, &err), HF_EFORMAT, err,
                  "after the last tensor belong to no tensor");
    hf_safetensors_close(st);
    hfi_buf_free(&b);
    hfi_buf_free(&c);
}
END_TEST

START_TEST(header_order_is_kept_and_offsets_may_come_in_any_order)
{
    static const char header[] =
        "{\"second\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]},"
        "\"first\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}";
    hfi_buf_t b = HFI_BUF_INIT;
    hf_safetensors_t *st;

    fu_st_from_header(&b, header, 4);
    st = parse_ok(b.data, b.len);
    ck_assert_str_eq(hf_safetensors_tensor(st, 0)->name, "second");
    ck_assert_int_eq(hf_safetensors_check_packed(st, NULL), 0);
    hf_safetensors_close(st);
    hfi_buf_free(&b);
}
END_TEST

START_TEST(open_maps_the_file_and_tensor_data_points_into_the_mapping)
{
    hfi_buf_t b = HFI_BUF_INIT;
    char *dir = fu_tmpdir(), *path;
    hf_safetensors_t *st = NULL;
    hf_error_t err;
    const unsigned char *base;
    size_t size, k;

    fu_small_st(&b);
    path = fu_write(dir, "model.safetensors", b.data, b.len);
    ck_assert_msg(hf_safetensors_open(path, &st, &err) == 0, "%s", err.message);
    ck_assert_str_eq(hf_safetensors_name(st), "model.safetensors");
    base = hf_safetensors_mapping(st, &size);
    ck_assert_uint_eq(size, b.len);
    for (k = 0; k < hf_safetensors_tensor_count(st); k++)
        fu_assert_mapped(hf_safetensors_tensor(st, k), base, size, b.data);
    ck_assert_int_eq(hf_safetensors_check_packed(st, &err), 0);
    hf_safetensors_close(st);
    FU_ASSERT_ERR(hf_safetensors_open("/nonexistent/x.safetensors", &st, &err), HF_ENOENT, err,
                  "/nonexistent/x.safetensors");
    ck_assert_ptr_null(st);
    ck_assert_int_eq(hf_safetensors_open(path, NULL, &err), HF_EINVAL);
    ck_assert_int_eq(hf_safetensors_parse(NULL, 8, NULL, &st, &err), HF_EINVAL);
    hf_safetensors_close(NULL);
    hfi_buf_free(&b);
    fu_cleanup(dir, &path, 1);
}
END_TEST

static Suite *safetensors_suite(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("read");

    tcase_add_test(tc, tensors_carry_dtype_shape_and_absolute_byte_range);
    tcase_add_test(tc, metadata_is_a_map_of_strings);
    tcase_add_test(tc, null_metadata_is_no_metadata);
    tcase_add_loop_test(tc, every_dtype_of_the_format_is_sized_by_its_width, 0,
                        (int)(sizeof st_dtypes / sizeof st_dtypes[0]));
    tcase_add_test(tc, dtype_values_keep_their_numbers);
    tcase_add_test(tc, space_padding_unknown_fields_and_an_escaped_backslash_are_accepted);
    tcase_add_test(tc, empty_and_scalar_tensors_are_valid);
    tcase_add_test(tc, gaps_are_allowed_but_check_packed_names_them);
    tcase_add_test(tc, header_order_is_kept_and_offsets_may_come_in_any_order);
    tcase_add_test(tc, open_maps_the_file_and_tensor_data_points_into_the_mapping);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(safetensors_suite)
