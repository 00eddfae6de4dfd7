/*
 * check_gguf.c - reading valid GGUF files: metadata of every type, arrays, tensors, ggml
 * type sizes, alignment, versions, memory mapping.
 */
#include "formats/fmtutil.h"

static hf_gguf_t *parse_ok(const hfi_buf_t *b)
{
    hf_gguf_t *g = NULL;
    hf_error_t err = { 0, 0, "" };
    int rc = hf_gguf_parse(b->data, b->len, "t.gguf", &g, &err);
    ck_assert_msg(rc == 0, "parse failed: %s", err.message);
    ck_assert_ptr_nonnull(g);
    return g;
}

/* Build with `w` (freed) and parse; the buffer must outlive the object. */
static hf_gguf_t *finish_and_parse(hfi_gguf_writer_t *w, hfi_buf_t *b)
{
    ck_assert_int_eq(hfi_gguf_writer_finish(w, b), 0);
    hfi_gguf_writer_free(w);
    return parse_ok(b);
}

START_TEST(metadata_of_every_type_reads_back_as_written)
{
    hfi_gguf_writer_t *w = hfi_gguf_writer_new();
    hfi_buf_t b = HFI_BUF_INIT;
    hf_error_t err;
    uint64_t u;
    int64_t i;
    double f;
    bool flag;
    const char *s;
    size_t len;
    hf_gguf_t *g;

    hfi_gguf_add_uint(w, "a.u8", HF_GGUF_UINT8, 200);
    hfi_gguf_add_int(w, "a.i8", HF_GGUF_INT8, -100);
    hfi_gguf_add_uint(w, "a.u16", HF_GGUF_UINT16, 65535);
    hfi_gguf_add_int(w, "a.i16", HF_GGUF_INT16, -32768);
    hfi_gguf_add_uint(w, "a.u32", HF_GGUF_UINT32, 4000000000u);
    hfi_gguf_add_int(w, "a.i32", HF_GGUF_INT32, -2000000000);
    hfi_gguf_add_float(w, "a.f32", HF_GGUF_FLOAT32, 0.5);
    hfi_gguf_add_bool(w, "a.bool", true);
    hfi_gguf_add_str(w, "a.str", "qwen2 ✓");
    hfi_gguf_add_uint(w, "a.u64", HF_GGUF_UINT64, UINT64_MAX);
    hfi_gguf_add_int(w, "a.i64", HF_GGUF_INT64, INT64_MIN);
    hfi_gguf_add_float(w, "a.f64", HF_GGUF_FLOAT64, 1e-300);
    g = finish_and_parse(w, &b);

    ck_assert_uint_eq(hf_gguf_kv_count(g), 12);
    ck_assert_str_eq(hf_gguf_kv_key(g, 8), "a.str");
    ck_assert_int_eq(hf_gguf_kv_type(g, 8), HF_GGUF_STRING);
    ck_assert_int_eq(hf_gguf_find_key(g, "a.f64"), 11);
    ck_assert_int_eq(hf_gguf_get_u64(g, "a.u8", &u, &err), 0);
    ck_assert_uint_eq(u, 200);
    ck_assert_int_eq(hf_gguf_get_i64(g, "a.i8", &i, &err), 0);
    ck_assert_int_eq(i, -100);
    ck_assert_int_eq(hf_gguf_get_u64(g, "a.u16", &u, &err), 0);
    ck_assert_uint_eq(u, 65535);
    ck_assert_int_eq(hf_gguf_get_i64(g, "a.i16", &i, &err), 0);
    ck_assert_int_eq(i, -32768);
    ck_assert_int_eq(hf_gguf_get_u64(g, "a.u32", &u, &err), 0);
    ck_assert_uint_eq(u, 4000000000u);
    ck_assert_int_eq(hf_gguf_get_i64(g, "a.i32", &i, &err), 0);
    ck_assert_int_eq(i, -2000000000);
    ck_assert_int_eq(hf_gguf_get_f64(g, "a.f32", &f, &err), 0);
    ck_assert(f == 0.5);
    ck_assert_int_eq(hf_gguf_get_bool(g, "a.bool", &flag, &err), 0);
    ck_assert(flag);
    ck_assert_int_eq(hf_gguf_get_str(g, "a.str", &s, &len, &err), 0);
    ck_assert_str_eq(s, "qwen2 ✓");
    ck_assert_uint_eq(len, strlen("qwen2 ✓"));
    ck_assert_int_eq(hf_gguf_get_u64(g, "a.u64", &u, &err), 0);
    ck_assert(u == UINT64_MAX);
    ck_assert_int_eq(hf_gguf_get_i64(g, "a.i64", &i, &err), 0);
    ck_assert(i == INT64_MIN);
    ck_assert_int_eq(hf_gguf_get_f64(g, "a.f64", &f, &err), 0);
    ck_assert(f == 1e-300);
    hf_gguf_close(g);
    hfi_buf_free(&b);
}
END_TEST

START_TEST(getters_take_any_integer_width_that_holds_the_value)
{
    hfi_gguf_writer_t *w = hfi_gguf_writer_new();
    hfi_buf_t b = HFI_BUF_INIT;
    hf_error_t err;
    uint64_t u;
    int64_t i;
    double f;
    const char *s;
    hf_gguf_array_t a;
    hf_gguf_t *g;

    hfi_gguf_add_uint(w, "split.count", HF_GGUF_UINT16, 3);
    hfi_gguf_add_int(w, "neg", HF_GGUF_INT32, -5);
    hfi_gguf_add_int(w, "pos", HF_GGUF_INT32, 5);
    hfi_gguf_add_uint(w, "huge", HF_GGUF_UINT64, (uint64_t)INT64_MAX + 1);
    hfi_gguf_add_float(w, "rope.freq_base", HF_GGUF_FLOAT32, 10000.0);
    g = finish_and_parse(w, &b);

    ck_assert_int_eq(hf_gguf_get_u64(g, "split.count", &u, &err), 0);
    ck_assert_uint_eq(u, 3);
    ck_assert_int_eq(hf_gguf_get_i64(g, "split.count", &i, &err), 0);
    ck_assert_int_eq(i, 3);
    ck_assert_int_eq(hf_gguf_get_u64(g, "pos", &u, &err), 0);
    ck_assert_uint_eq(u, 5);
    FU_ASSERT_ERR(hf_gguf_get_u64(g, "neg", &u, &err), HF_EFORMAT, err, "\"neg\"");
    FU_ASSERT_ERR(hf_gguf_get_i64(g, "huge", &i, &err), HF_EFORMAT, err, "does not fit");
    FU_ASSERT_ERR(hf_gguf_get_u64(g, "rope.freq_base", &u, &err), HF_EFORMAT, err,
                  "is float32, not an unsigned integer");
    FU_ASSERT_ERR(hf_gguf_get_f64(g, "pos", &f, &err), HF_EFORMAT, err, "int32");
    FU_ASSERT_ERR(hf_gguf_get_str(g, "pos", &s, NULL, &err), HF_EFORMAT, err, "not a string");
    FU_ASSERT_ERR(hf_gguf_get_array(g, "pos", &a, &err), HF_EFORMAT, err, "not an array");
    FU_ASSERT_ERR(hf_gguf_get_u64(g, "no.such.key", &u, &err), HF_ENOENT, err,
                  "t.gguf: key \"no.such.key\" not found");
    ck_assert_int_eq(hf_gguf_get_u64(g, NULL, &u, &err), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_get_u64(g, "pos", NULL, &err), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_get_u64(NULL, "pos", &u, NULL), HF_EINVAL);
    hf_gguf_close(g);
    hfi_buf_free(&b);
}
END_TEST

START_TEST(array_elements_of_every_scalar_type_read_back)
{
    hfi_gguf_writer_t *w = hfi_gguf_writer_new();
    hfi_buf_t b = HFI_BUF_INIT;
    static const float scores[3] = { -1.5f, 0.0f, 2.25f };
    static const bool flags[2] = { false, true };
    static const uint64_t big[2] = { 0, UINT64_MAX };
    static const int8_t small[2] = { -128, 127 };
    hf_error_t err;
    hf_gguf_array_t a;
    uint64_t u;
    int64_t i;
    double f;
    bool flag;
    hf_gguf_t *g;

    hfi_gguf_add_array(w, "scores", HF_GGUF_FLOAT32, scores, 3);
    hfi_gguf_add_array(w, "flags", HF_GGUF_BOOL, flags, 2);
    hfi_gguf_add_array(w, "big", HF_GGUF_UINT64, big, 2);
    hfi_gguf_add_array(w, "small", HF_GGUF_INT8, small, 2);
    hfi_gguf_add_array(w, "empty", HF_GGUF_UINT32, NULL, 0);
    g = finish_and_parse(w, &b);

    ck_assert_int_eq(hf_gguf_get_array(g, "scores", &a, &err), 0);
    ck_assert_int_eq(a.type, HF_GGUF_FLOAT32);
    ck_assert_uint_eq(a.count, 3);
    ck_assert_int_eq(hf_gguf_array_f64(&a, 2, &f), 0);
    ck_assert(f == 2.25);
    ck_assert_int_eq(hf_gguf_array_u64(&a, 0, &u), HF_EFORMAT);
    ck_assert_int_eq(hf_gguf_array_f64(&a, 3, &f), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_get_array(g, "flags", &a, &err), 0);
    ck_assert_int_eq(hf_gguf_array_bool(&a, 1, &flag), 0);
    ck_assert(flag);
    ck_assert_int_eq(hf_gguf_get_array(g, "big", &a, &err), 0);
    ck_assert_int_eq(hf_gguf_array_u64(&a, 1, &u), 0);
    ck_assert(u == UINT64_MAX);
    ck_assert_int_eq(hf_gguf_array_i64(&a, 1, &i), HF_EFORMAT);
    ck_assert_int_eq(hf_gguf_get_array(g, "small", &a, &err), 0);
    ck_assert_int_eq(hf_gguf_array_i64(&a, 0, &i), 0);
    ck_assert_int_eq(i, -128);
    ck_assert_int_eq(hf_gguf_array_u64(&a, 0, &u), HF_EFORMAT);
    ck_assert_int_eq(hf_gguf_get_array(g, "empty", &a, &err), 0);
    ck_assert_uint_eq(a.count, 0);
    ck_assert_int_eq(hf_gguf_array_u64(&a, 0, &u), HF_EINVAL);
    hf_gguf_close(g);
    hfi_buf_free(&b);
}
END_TEST

START_TEST(string_array_elements_are_found_at_any_index)
{
    enum { N = 200 };
    hfi_gguf_writer_t *w = hfi_gguf_writer_new();
    hfi_buf_t b = HFI_BUF_INIT;
    char *words[N], want[16];
    static const uint64_t probes[] = { 0, 1, 63, 64, 65, 127, 128, 199 };
    hf_error_t err;
    hf_gguf_array_t a;
    const char *s;
    size_t len, k;
    hf_gguf_t *g;

    for (k = 0; k < N; k++) {
        words[k] = malloc(16);
        snprintf(words[k], 16, "tok%zu", k * 7);     /* lengths vary */
    }
    hfi_gguf_add_str_array(w, "tokenizer.ggml.tokens", (const char *const *)words, N);
    g = finish_and_parse(w, &b);
    ck_assert_int_eq(hf_gguf_get_array(g, "tokenizer.ggml.tokens", &a, &err), 0);
    ck_assert_int_eq(a.type, HF_GGUF_STRING);
    ck_assert_uint_eq(a.count, N);
    for (k = 0; k < sizeof probes / sizeof probes[0]; k++) {
        snprintf(want, sizeof want, "tok%zu", (size_t)probes[k] * 7);
        ck_assert_int_eq(hf_gguf_array_str(&a, probes[k], &s, &len), 0);
        ck_assert_uint_eq(len, strlen(want));
        ck_assert(memcmp(s, want, len) == 0);
    }
    ck_assert_int_eq(hf_gguf_array_str(&a, N, &s, &len), HF_EINVAL);
    for (k = 0; k < N; k++)
        free(words[k]);
    hf_gguf_close(g);
    hfi_buf_free(&b);
}
END_TEST

/* Encode a nested array: elements are arrays of `et` with the given counts and payloads. */
static void put_array_header(hfi_buf_t *v, uint32_t et, uint64_t count)
{
    hfi_buf_put_u32(v, et);
    hfi_buf_put_u64(v, count);
}

START_TEST(nested_arrays_are_walked_element_by_element)
{
    hfi_gguf_writer_t *w = hfi_gguf_writer_new();
    hfi_buf_t b = HFI_BUF_INIT, v = HFI_BUF_INIT;
    hf_error_t err;
    hf_gguf_array_t top, sub;
    const char *s;
    size_t len;
    uint64_t u;
    hf_gguf_t *g;

    /* [["a"], ["bc", "def"], [[7]]]: an array of arrays of mixed element types */
    put_array_header(&v, HF_GGUF_ARRAY, 3);
    put_array_header(&v, HF_GGUF_STRING, 1);
    hfi_buf_put_gguf_str(&v, "a", 1);
    put_array_header(&v, HF_GGUF_STRING, 2);
    hfi_buf_put_gguf_str(&v, "bc", 2);
    hfi_buf_put_gguf_str(&v, "def", 3);
    put_array_header(&v, HF_GGUF_ARRAY, 1);
    put_array_header(&v, HF_GGUF_UINT16, 1);
    hfi_buf_put_u8(&v, 7);
    hfi_buf_put_u8(&v, 0);
    hfi_gguf_add_raw(w, "nested", HF_GGUF_ARRAY, v.data, v.len);
    g = finish_and_parse(w, &b);

    ck_assert_int_eq(hf_gguf_get_array(g, "nested", &top, &err), 0);
    ck_assert_int_eq(top.type, HF_GGUF_ARRAY);
    ck_assert_uint_eq(top.count, 3);
    ck_assert_int_eq(hf_gguf_array_array(&top, 1, &sub), 0);
    ck_assert_int_eq(sub.type, HF_GGUF_STRING);
    ck_assert_uint_eq(sub.count, 2);
    ck_assert_int_eq(hf_gguf_array_str(&sub, 1, &s, &len), 0);
    ck_assert_uint_eq(len, 3);
    ck_assert(memcmp(s, "def", 3) == 0);
    ck_assert_int_eq(hf_gguf_array_array(&top, 2, &sub), 0);
    ck_assert_int_eq(hf_gguf_array_array(&sub, 0, &sub), 0);
    ck_assert_int_eq(hf_gguf_array_u64(&sub, 0, &u), 0);
    ck_assert_uint_eq(u, 7);
    ck_assert_int_eq(hf_gguf_array_str(&top, 0, &s, &len), HF_EFORMAT);
    hf_gguf_close(g);
    hfi_buf_free(&b);
    hfi_buf_free(&v);
}
END_TEST

START_TEST(tensors_carry_name_type_shape_size_and_absolute_offset)
{
    hfi_buf_t b = HFI_BUF_INIT;
    const hf_tensor_info_t *t;
    hf_gguf_t *g;
    uint64_t data;

    fu_small_gguf(&b);
    g = parse_ok(&b);
    ck_assert_uint_eq(hf_gguf_version(g), 3);
    ck_assert_uint_eq(hf_gguf_alignment(g), 32);
    data = hf_gguf_data_offset(g);
    ck_assert_uint_eq(data % 32, 0);
    ck_assert_uint_eq(hf_gguf_tensor_count(g), 2);
    t = hf_gguf_tensor(g, 0);
    ck_assert_str_eq(t->name, "blk.0.q");
    ck_assert_int_eq(t->dtype, HF_DTYPE_Q8_0);
    ck_assert_str_eq(t->dtype_name, "Q8_0");
    ck_assert_uint_eq(t->ndim, 2);
    ck_assert_uint_eq(t->shape[0], 32);
    ck_assert_uint_eq(t->shape[1], 1);
    ck_assert_uint_eq(t->shape[2], 0);
    ck_assert_uint_eq(t->nbytes, 34);
    ck_assert_uint_eq(t->offset, data);
    ck_assert_ptr_eq(t->data, b.data + data);
    ck_assert_int_eq(((const unsigned char *)t->data)[33], 0x5a);
    ck_assert_int_eq(hf_gguf_tensor_ggml_type(g, 0), 8);
    t = hf_gguf_find_tensor(g, "blk.0.w");
    ck_assert_ptr_eq(t, hf_gguf_tensor(g, 1));
    ck_assert_int_eq(t->dtype, HF_DTYPE_F32);
    ck_assert_uint_eq(t->nbytes, 64);
    ck_assert_uint_eq(t->offset, data + 64);
    ck_assert_uint_eq(t->offset + t->nbytes, b.len);
    ck_assert_ptr_null(hf_gguf_find_tensor(g, "blk.1.w"));
    ck_assert_ptr_null(hf_gguf_tensor(g, 2));
    ck_assert_int_eq(hf_gguf_tensor_ggml_type(g, 2), -1);
    hf_gguf_close(g);
    hfi_buf_free(&b);
}
END_TEST

/* The test's own table of ggml type sizes (block elements, bytes per block). */
static const struct { uint32_t id; const char *name; uint32_t block, size; } ggml_sizes[] = {
    { 0, "F32", 1, 4 }, { 1, "F16", 1, 2 }, { 2, "Q4_0", 32, 18 }, { 3, "Q4_1", 32, 20 },
    { 6, "Q5_0", 32, 22 }, { 7, "Q5_1", 32, 24 }, { 8, "Q8_0", 32, 34 },
    { 9, "Q8_1", 32, 36 }, { 10, "Q2_K", 256, 84 }, { 11, "Q3_K", 256, 110 },
    { 12, "Q4_K", 256, 144 }, { 13, "Q5_K", 256, 176 }, { 14, "Q6_K", 256, 210 },
    { 15, "Q8_K", 256, 292 }, { 16, "IQ2_XXS", 256, 66 }, { 17, "IQ2_XS", 256, 74 },
    { 18, "IQ3_XXS", 256, 98 }, { 19, "IQ1_S", 256, 50 }, { 20, "IQ4_NL", 32, 18 },
    { 21, "IQ3_S", 256, 110 }, { 22, "IQ2_S", 256, 82 }, { 23, "IQ4_XS", 256, 136 },
    { 24, "I8", 1, 1 }, { 25, "I16", 1, 2 }, { 26, "I32", 1, 4 }, { 27, "I64", 1, 8 },
    { 28, "F64", 1, 8 }, { 29, "IQ1_M", 256, 56 }, { 30, "BF16", 1, 2 },
    { 34, "TQ1_0", 256, 54 }, { 35, "TQ2_0", 256, 66 }, { 39, "MXFP4", 32, 17 },
};

START_TEST(every_ggml_type_is_sized_by_its_blocks)
{
    size_t k = (size_t)_i;
    hfi_gguf_writer_t *w = hfi_gguf_writer_new();
    hfi_buf_t b = HFI_BUF_INIT;
    uint64_t dims[3] = { 2 * (uint64_t)ggml_sizes[k].block, 3, 1 };
    const hf_tensor_info_t *t;
    hf_gguf_t *g;

    hfi_gguf_add_tensor(w, "t", ggml_sizes[k].id, 3, dims, NULL);
    g = finish_and_parse(w, &b);
    t = hf_gguf_tensor(g, 0);
    ck_assert_str_eq(t->dtype_name, ggml_sizes[k].name);
    ck_assert_str_eq(hf_dtype_name(t->dtype), ggml_sizes[k].name);
    ck_assert_uint_eq(t->nbytes, 2u * ggml_sizes[k].size * 3u);
    ck_assert_uint_eq(t->ndim, 3);
    hf_gguf_close(g);
    hfi_buf_free(&b);
}
END_TEST

START_TEST(general_alignment_decides_where_tensor_data_starts)
{
    hfi_gguf_writer_t *w = hfi_gguf_writer_new();
    hfi_buf_t b = HFI_BUF_INIT;
    uint64_t d[1] = { 5 };
    hf_gguf_t *g;

    hfi_gguf_add_uint(w, "general.alignment", HF_GGUF_UINT32, 64);
    hfi_gguf_add_tensor(w, "x", 0, 1, d, NULL);
    hfi_gguf_add_tensor(w, "y", 0, 1, d, NULL);
    g = finish_and_parse(w, &b);
    ck_assert_uint_eq(hf_gguf_alignment(g), 64);
    ck_assert_uint_eq(hf_gguf_data_offset(g) % 64, 0);
    ck_assert_uint_eq(hf_gguf_tensor(g, 1)->offset - hf_gguf_tensor(g, 0)->offset, 64);
    hf_gguf_close(g);
    hfi_buf_free(&b);
}
END_TEST

START_TEST(version_2_files_read_like_version_3)
{
    hfi_gguf_writer_t *w = hfi_gguf_writer_new();
    hfi_buf_t b = HFI_BUF_INIT;
    uint64_t d[2] = { 4, 4 };
    hf_gguf_t *g;

    hfi_gguf_writer_set_version(w, 2);
    hfi_gguf_add_str(w, "general.architecture", "phi3");
    hfi_gguf_add_tensor(w, "output.weight", 1, 2, d, NULL);
    g = finish_and_parse(w, &b);
    ck_assert_uint_eq(hf_gguf_version(g), 2);
    ck_assert_uint_eq(hf_gguf_tensor(g, 0)->nbytes, 32);
    hf_gguf_close(g);
    hfi_buf_free(&b);
}
END_TEST

START_TEST(a_file_with_metadata_only_is_valid)
{
    hfi_gguf_writer_t *w = hfi_gguf_writer_new();
    hfi_buf_t b = HFI_BUF_INIT;
    hf_gguf_t *g;

    hfi_gguf_add_str(w, "general.architecture", "deepseek2");
    g = finish_and_parse(w, &b);
    ck_assert_uint_eq(hf_gguf_tensor_count(g), 0);
    ck_assert_uint_le(hf_gguf_data_offset(g), b.len);
    hf_gguf_close(g);
    hfi_buf_free(&b);
}
END_TEST

START_TEST(open_maps_the_file_and_tensor_data_points_into_the_mapping)
{
    hfi_buf_t b = HFI_BUF_INIT;
    char *dir = fu_tmpdir(), *path;
    hf_error_t err;
    hf_gguf_t *g = NULL;
    const unsigned char *base;
    size_t size, k;

    fu_small_gguf(&b);
    path = fu_write(dir, "Phi-4-reasoning-Q4_K_M.gguf", b.data, b.len);
    ck_assert_msg(hf_gguf_open(path, &g, &err) == 0, "%s", err.message);
    ck_assert_str_eq(hf_gguf_name(g), "Phi-4-reasoning-Q4_K_M.gguf");
    base = hf_gguf_mapping(g, &size);
    ck_assert_uint_eq(size, b.len);
    ck_assert(base != b.data);
    for (k = 0; k < hf_gguf_tensor_count(g); k++)
        fu_assert_mapped(hf_gguf_tensor(g, k), base, size, b.data);
    hf_gguf_close(g);
    hfi_buf_free(&b);
    fu_cleanup(dir, &path, 1);
}
END_TEST

START_TEST(open_reports_missing_files_and_refuses_non_files_without_blocking)
{
    char *dir = fu_tmpdir(), *path = fu_path(dir, "absent.gguf");
    char *empty = fu_write(dir, "empty.gguf", "", 0), *fifo = fu_path(dir, "fifo.gguf");
    hf_error_t err;
    hf_gguf_t *g = (hf_gguf_t *)&err;

    FU_ASSERT_ERR(hf_gguf_open(path, &g, &err), HF_ENOENT, err, "absent.gguf");
    ck_assert_ptr_null(g);
    FU_ASSERT_ERR(hf_gguf_open(dir, &g, &err), HF_EIO, err, "not a regular file");
    FU_ASSERT_ERR(hf_gguf_open(empty, &g, &err), HF_EFORMAT, err, "empty.gguf: 0 bytes");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);                   /* no writer: must not block */
    FU_ASSERT_ERR(hf_gguf_open(fifo, &g, &err), HF_EIO, err, "not a regular file");
    ck_assert_int_eq(hf_gguf_open(NULL, &g, &err), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_open(path, NULL, &err), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_parse(NULL, 10, NULL, &g, &err), HF_EINVAL);
    unlink(empty);
    free(empty);
    unlink(fifo);
    free(fifo);
    fu_cleanup(dir, &path, 1);
}
END_TEST

START_TEST(accessors_of_null_objects_answer_empty)
{
    size_t size = 1;

    ck_assert_uint_eq(hf_gguf_tensor_count(NULL), 0);
    ck_assert_ptr_null(hf_gguf_tensor(NULL, 0));
    ck_assert_ptr_null(hf_gguf_find_tensor(NULL, "x"));
    ck_assert_uint_eq(hf_gguf_kv_count(NULL), 0);
    ck_assert_ptr_null(hf_gguf_kv_key(NULL, 0));
    ck_assert_int_eq(hf_gguf_kv_type(NULL, 0), -1);
    ck_assert_int_eq(hf_gguf_find_key(NULL, "x"), -1);
    ck_assert_ptr_null(hf_gguf_mapping(NULL, &size));
    ck_assert_uint_eq(size, 0);
    ck_assert_str_eq(hf_gguf_name(NULL), "");
    ck_assert_str_eq(hf_dtype_name((hf_dtype_t)999), "unknown");
    hf_gguf_close(NULL);
}
END_TEST

static Suite *gguf_suite(void)
{
    Suite *s = suite_create("gguf");
    TCase *tc = tcase_create("read");

    tcase_add_test(tc, metadata_of_every_type_reads_back_as_written);
    tcase_add_test(tc, getters_take_any_integer_width_that_holds_the_value);
    tcase_add_test(tc, array_elements_of_every_scalar_type_read_back);
    tcase_add_test(tc, string_array_elements_are_found_at_any_index);
    tcase_add_test(tc, nested_arrays_are_walked_element_by_element);
    tcase_add_test(tc, tensors_carry_name_type_shape_size_and_absolute_offset);
    tcase_add_loop_test(tc, every_ggml_type_is_sized_by_its_blocks, 0,
                        (int)(sizeof ggml_sizes / sizeof ggml_sizes[0]));
    tcase_add_test(tc, general_alignment_decides_where_tensor_data_starts);
    tcase_add_test(tc, version_2_files_read_like_version_3);
    tcase_add_test(tc, a_file_with_metadata_only_is_valid);
    tcase_add_test(tc, open_maps_the_file_and_tensor_data_points_into_the_mapping);
    tcase_add_test(tc, open_reports_missing_files_and_refuses_non_files_without_blocking);
    tcase_add_test(tc, accessors_of_null_objects_answer_empty);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(gguf_suite)
