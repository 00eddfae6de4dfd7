/*
 * check_gguf_corrupt.c - malformed GGUF files: every one is refused with the right code and
 * a message naming the place, and none is read out of bounds (run under ASan: every parse
 * reads an exact-size heap copy, so one byte too far is a report).
 */
#include "formats/fmtutil.h"

/* Parse an exact-size copy of `len` bytes; on success also walk everything it hands out. */
static int parse_copy(const unsigned char *bytes, size_t len, hf_error_t *err)
{
    unsigned char *copy = fu_dup(bytes, len);
    hf_gguf_t *g = NULL;
    int rc = hf_gguf_parse(copy, len, "bad.gguf", &g, err);
    size_t k;

    if (rc == 0) {
        unsigned sum = 0;
        for (k = 0; k < hf_gguf_tensor_count(g); k++) {
            const hf_tensor_info_t *t = hf_gguf_tensor(g, k);
            uint64_t j;
            for (j = 0; j < t->nbytes; j++)
                sum += ((const unsigned char *)t->data)[j];
        }
        for (k = 0; k < hf_gguf_kv_count(g); k++) {
            hf_gguf_array_t a;
            const char *s;
            size_t n;
            uint64_t j;
            if (hf_gguf_get_array(g, hf_gguf_kv_key(g, k), &a, NULL) != 0)
                continue;
            for (j = 0; j < a.count; j++)
                if (hf_gguf_array_str(&a, j, &s, &n) == 0 && n)
                    sum += (unsigned char)s[n - 1];
        }
        (void)sum;
        hf_gguf_close(g);
    } else
        ck_assert_ptr_null(g);
    free(copy);
    return rc;
}

/* Offset of the value type of metadata `key` in `b`. */
static size_t kv_type_at(const hfi_buf_t *b, const char *key)
{
    long at = fu_after_gguf_str(b->data, b->len, key);
    ck_assert_int_ge(at, 0);
    return (size_t)at;
}

/* Offset of the n_dims field of tensor `name` (the second occurrence of its name: the
 * tensor infos come after the metadata, which does not mention tensor names). */
static size_t info_at(const hfi_buf_t *b, const char *name)
{
    return kv_type_at(b, name);
}

/* ---- the cases: each makes a file from the small valid one -------------------------------- */

static void bad_magic(hfi_buf_t *b) { fu_small_gguf(b); b->data[0] = 'X'; }
static void version_1(hfi_buf_t *b) { fu_small_gguf(b); fu_put_le32(b->data + 4, 1); }
static void version_7(hfi_buf_t *b) { fu_small_gguf(b); fu_put_le32(b->data + 4, 7); }
static void big_endian(hfi_buf_t *b)
{
    fu_small_gguf(b);
    memcpy(b->data + 4, "\0\0\0\3", 4);
}
/* The small file with the u64 at byte `at` set to `v`. */
static void with_u64(hfi_buf_t *b, size_t at, uint64_t v)
{
    fu_small_gguf(b);
    fu_put_le64(b->data + at, v);
}
static void huge_tensor_count(hfi_buf_t *b) { with_u64(b, 8, 1ull << 40); }
static void huge_kv_count(hfi_buf_t *b) { with_u64(b, 16, UINT64_MAX); }
static void counts_together_too_many(hfi_buf_t *b)
{
    fu_small_gguf(b);
    fu_put_le64(b->data + 8, (b->len - 24) / 24);
    fu_put_le64(b->data + 16, (b->len - 24) / 13);
}
static void key_length_over_64k(hfi_buf_t *b) { with_u64(b, 24, 70000); }
static void key_length_past_eof(hfi_buf_t *b) { with_u64(b, 24, 60000); }
static void key_length_zero(hfi_buf_t *b) { with_u64(b, 24, 0); }
static void key_not_ascii(hfi_buf_t *b) { fu_small_gguf(b); b->data[33] = 0xc3; }
static void key_control_char(hfi_buf_t *b) { fu_small_gguf(b); b->data[33] = '\n'; }
static void duplicate_key(hfi_buf_t *b)
{
    hfi_gguf_writer_t *w = hfi_gguf_writer_new();
    hfi_gguf_add_uint(w, "llama.block_count", HF_GGUF_UINT32, 32);
    hfi_gguf_add_uint(w, "llama.block_count", HF_GGUF_UINT32, 40);
    ck_assert_int_eq(hfi_gguf_writer_finish(w, b), 0);
    hfi_gguf_writer_free(w);
}
static void unknown_value_type(hfi_buf_t *b)
{
    fu_small_gguf(b);
    fu_put_le32(b->data + kv_type_at(b, "general.flag"), 13);
}
static void string_length_overflows(hfi_buf_t *b)
{
    fu_small_gguf(b);
    fu_put_le64(b->data + kv_type_at(b, "general.architecture") + 4, UINT64_MAX);
}
static void string_not_utf8(hfi_buf_t *b)
{
    fu_small_gguf(b);
    b->data[kv_type_at(b, "general.architecture") + 12] = 0xff;
}
static void bool_is_two(hfi_buf_t *b)
{
    fu_small_gguf(b);
    b->data[kv_type_at(b, "general.flag") + 4] = 2;
}
static void array_count_huge(hfi_buf_t *b)
{
    fu_small_gguf(b);
    fu_put_le64(b->data + kv_type_at(b, "tok.ids") + 8, 1ull << 61);
}
static void array_element_type_unknown(hfi_buf_t *b)
{
    fu_small_gguf(b);
    fu_put_le32(b->data + kv_type_at(b, "tok.ids") + 4, 42);
}
static void array_string_length_overflows(hfi_buf_t *b)
{
    fu_small_gguf(b);
    fu_put_le64(b->data + kv_type_at(b, "tok.words") + 16, UINT64_MAX - 3);
}
/* The first byte of "hello", the first element of the string array "tok.words": 24 bytes
 * of header, then "general.architecture" (8 + 20 + 4 + 8 + 5), "tok.ids" (8 + 7 + 4 + 12
 * + 12), "tok.words" (8 + 9 + 4 + 12), the element's length (8). */
static void array_string_not_utf8(hfi_buf_t *b)
{
    fu_small_gguf(b);
    ck_assert_uint_eq(kv_type_at(b, "tok.words") + 4 + 12 + 8, 153);
    ck_assert_int_eq(memcmp(b->data + 153, "hello", 5), 0);
    b->data[153] = 0xff;
}
static void array_bool_is_three(hfi_buf_t *b)
{
    static const bool flags[3] = { true, false, true };
    hfi_gguf_writer_t *w = hfi_gguf_writer_new();
    size_t at;
    hfi_gguf_add_array(w, "flags", HF_GGUF_BOOL, flags, 3);
    ck_assert_int_eq(hfi_gguf_writer_finish(w, b), 0);
    hfi_gguf_writer_free(w);
    at = kv_type_at(b, "flags");
    b->data[at + 4 + 12 + 1] = 3;
}
/* An array value nested `depth` deep: depth-1 arrays of one array, then an empty uint8 one. */
static void nested(hfi_buf_t *b, unsigned depth)
{
    hfi_gguf_writer_t *w = hfi_gguf_writer_new();
    hfi_buf_t v = HFI_BUF_INIT;
    unsigned k;
    for (k = 1; k < depth; k++) {
        hfi_buf_put_u32(&v, HF_GGUF_ARRAY);
        hfi_buf_put_u64(&v, 1);
    }
    hfi_buf_put_u32(&v, HF_GGUF_UINT8);
    hfi_buf_put_u64(&v, 0);
    hfi_gguf_add_raw(w, "deep", HF_GGUF_ARRAY, v.data, v.len);
    ck_assert_int_eq(hfi_gguf_writer_finish(w, b), 0);
    hfi_gguf_writer_free(w);
    hfi_buf_free(&v);
}
static void nested_too_deep(hfi_buf_t *b) { nested(b, HF_GGUF_MAX_ARRAY_DEPTH + 1); }
static void alignment(hfi_buf_t *b, hf_gguf_type_t type, uint64_t value)
{
    hfi_gguf_writer_t *w = hfi_gguf_writer_new();
    hfi_gguf_add_uint(w, "general.alignment", type, value);
    ck_assert_int_eq(hfi_gguf_writer_finish(w, b), 0);
    hfi_gguf_writer_free(w);
}
static void alignment_u64(hfi_buf_t *b) { alignment(b, HF_GGUF_UINT64, 32); }
static void alignment_12(hfi_buf_t *b) { alignment(b, HF_GGUF_UINT32, 12); }
static void alignment_24(hfi_buf_t *b) { alignment(b, HF_GGUF_UINT32, 24); }
static void alignment_0(hfi_buf_t *b) { alignment(b, HF_GGUF_UINT32, 0); }
static void name_too_long(hfi_buf_t *b)
{
    fu_small_gguf(b);
    fu_put_le64(b->data + info_at(b, "blk.0.q") - 7 - 8, 65);
}
static void name_not_utf8(hfi_buf_t *b)
{
    fu_small_gguf(b);
    b->data[info_at(b, "blk.0.q") - 1] = 0xfe;
}
static void five_dimensions(hfi_buf_t *b)
{
    fu_small_gguf(b);
    fu_put_le32(b->data + info_at(b, "blk.0.q"), 5);
}
static void unknown_ggml_type(hfi_buf_t *b)
{
    fu_small_gguf(b);
    fu_put_le32(b->data + info_at(b, "blk.0.q") + 4 + 16, 99);
}
static void removed_ggml_type(hfi_buf_t *b)
{
    fu_small_gguf(b);
    fu_put_le32(b->data + info_at(b, "blk.0.w") + 4 + 16, 4);     /* Q4_2 */
}
static void offset_misaligned(hfi_buf_t *b)
{
    fu_small_gguf(b);
    fu_put_le64(b->data + info_at(b, "blk.0.w") + 4 + 16 + 4, 65);
}
static void data_beyond_eof(hfi_buf_t *b)
{
    fu_small_gguf(b);
    fu_put_le64(b->data + info_at(b, "blk.0.w") + 4 + 16 + 4, 1u << 20);
}
static void offset_overflows(hfi_buf_t *b)
{
    fu_small_gguf(b);
    fu_put_le64(b->data + info_at(b, "blk.0.w") + 4 + 16 + 4, UINT64_MAX - 31);
}
static void shape_overflows(hfi_buf_t *b)
{
    size_t at;
    fu_small_gguf(b);
    at = info_at(b, "blk.0.w");
    fu_put_le64(b->data + at + 4, 1ull << 40);
    fu_put_le64(b->data + at + 12, 1ull << 40);
}
/* A file of one tensor "big" of ggml `type` and `ndim` dimensions `dims` (a few bytes),
 * whose ne[k] is then set to `ne`: the header is 24 bytes, the name 8 + 3, n_dims 4. */
static void big_tensor(hfi_buf_t *b, uint32_t type, unsigned ndim, const uint64_t *dims,
                       unsigned k, uint64_t ne)
{
    hfi_gguf_writer_t *w = hfi_gguf_writer_new();
    hfi_gguf_add_tensor(w, "big", type, ndim, dims, NULL);
    ck_assert_int_eq(hfi_gguf_writer_finish(w, b), 0);
    hfi_gguf_writer_free(w);
    ck_assert_uint_eq(info_at(b, "big"), 35);
    fu_put_le64(b->data + 39 + 8 * k, ne);
}
/* F32 [2^62]: 2^62 elements fit an int64, but their 2^64 bytes wrapped to 0 */
static void f32_bytes_wrap_to_0(hfi_buf_t *b)
{
    uint64_t d[1] = { 8 };
    big_tensor(b, 0, 1, d, 0, 1ull << 62);
}
/* F64 [2^61 + 1]: 2^64 + 8 bytes wrapped to 8, which the file holds */
static void f64_bytes_wrap_to_8(hfi_buf_t *b)
{
    uint64_t d[1] = { 1 };
    big_tensor(b, 28, 1, d, 0, (1ull << 61) + 1);
}
/* F32 [0, 2^63]: no element, but ne[1] is negative as ggml's int64_t */
static void dimension_over_int64_max(hfi_buf_t *b)
{
    uint64_t d[2] = { 0, 1 };
    big_tensor(b, 0, 2, d, 1, 1ull << 63);
}
static void partial_block(hfi_buf_t *b)
{
    fu_small_gguf(b);
    fu_put_le64(b->data + info_at(b, "blk.0.q") + 4, 33);
}
static void tensors_overlap(hfi_buf_t *b)
{
    fu_small_gguf(b);
    fu_put_le64(b->data + info_at(b, "blk.0.w") + 4 + 16 + 4, 0);
}
static void duplicate_tensor(hfi_buf_t *b)
{
    hfi_gguf_writer_t *w = hfi_gguf_writer_new();
    uint64_t d[1] = { 8 };
    hfi_gguf_add_tensor(w, "token_embd.weight", 0, 1, d, NULL);
    hfi_gguf_add_tensor(w, "token_embd.weight", 0, 1, d, NULL);
    ck_assert_int_eq(hfi_gguf_writer_finish(w, b), 0);
    hfi_gguf_writer_free(w);
}

typedef struct corruption {
    const char *what;
    void (*make)(hfi_buf_t *b);
    int code;
    const char *needle;         /* in the message */
} corruption_t;

static const corruption_t cases[] = {
    { "bad magic", bad_magic, HF_EFORMAT, "byte 0: not a GGUF file" },
    { "version 1", version_1, HF_EUNSUPPORTED, "GGUF version 1 is not supported" },
    { "version 7", version_7, HF_EUNSUPPORTED, "version 7" },
    { "big-endian", big_endian, HF_EUNSUPPORTED, "big-endian" },
    { "huge tensor count", huge_tensor_count, HF_EFORMAT, "byte 8: tensor count 1099511627776" },
    { "huge kv count", huge_kv_count, HF_EFORMAT, "byte 16: metadata count" },
    { "counts together", counts_together_too_many, HF_EFORMAT, "cannot fit" },
    { "key length > 65535", key_length_over_64k, HF_EFORMAT, "key #0: byte 24: key length 70000" },
    { "key past eof", key_length_past_eof, HF_EFORMAT, "runs past end of file" },
    { "key length 0", key_length_zero, HF_EFORMAT, "key length 0" },
    { "key not ascii", key_not_ascii, HF_EFORMAT, "byte 33: key is not printable ASCII" },
    { "key control char", key_control_char, HF_EFORMAT, "not printable ASCII (0x0a)" },
    { "duplicate key", duplicate_key, HF_EFORMAT, "key \"llama.block_count\": byte" },
    { "unknown value type", unknown_value_type, HF_EFORMAT, "unknown value type 13" },
    { "string length overflows", string_length_overflows, HF_EFORMAT,
      "key \"general.architecture\": byte" },
    { "string not utf-8", string_not_utf8, HF_EFORMAT, "not valid UTF-8" },
    { "bool 2", bool_is_two, HF_EFORMAT, "key \"general.flag\"" },
    { "array count huge", array_count_huge, HF_EFORMAT, "array of 2305843009213693952 int32" },
    { "array element type", array_element_type_unknown, HF_EFORMAT,
      "unknown array element type 42" },
    { "array string overflows", array_string_length_overflows, HF_EFORMAT,
      "key \"tok.words\"" },
    { "array bool 3", array_bool_is_three, HF_EFORMAT, "bool element is neither 0 nor 1" },
    { "arrays too deep", nested_too_deep, HF_EUNSUPPORTED, "nested more than 8 deep" },
    { "alignment uint64", alignment_u64, HF_EFORMAT, "must be uint32" },
    { "alignment 12", alignment_12, HF_EFORMAT,
      "key \"general.alignment\": byte 24: 12 is not a power of two of at least 8" },
    { "alignment 24", alignment_24, HF_EFORMAT,
      "key \"general.alignment\": byte 24: 24 is not a power of two of at least 8" },
    { "alignment 0", alignment_0, HF_EFORMAT, "0 is not a power of two of at least 8" },
    { "name too long", name_too_long, HF_EFORMAT, "name length 65 exceeds 64" },
    { "name not utf-8", name_not_utf8, HF_EFORMAT, "name is not valid UTF-8" },
    { "five dimensions", five_dimensions, HF_EUNSUPPORTED, "tensor \"blk.0.q\": byte" },
    { "unknown ggml type", unknown_ggml_type, HF_EUNSUPPORTED,
      "tensor \"blk.0.q\": byte" },
    { "removed ggml type", removed_ggml_type, HF_EUNSUPPORTED, "unknown ggml type 4" },
    { "offset misaligned", offset_misaligned, HF_EFORMAT,
      "offset 65 is not a multiple of the alignment (32)" },
    { "data beyond eof", data_beyond_eof, HF_EFORMAT, "tensor \"blk.0.w\": data range [" },
    { "offset overflows", offset_overflows, HF_EFORMAT, "overflows" },
    { "shape overflows", shape_overflows, HF_EFORMAT,
      "tensor \"blk.0.w\": shape [1099511627776, 1099511627776] of F32 overflows" },
    { "F32 [2^62] bytes wrap", f32_bytes_wrap_to_0, HF_EFORMAT,
      "tensor \"big\": shape [4611686018427387904] of F32 overflows" },
    { "F64 [2^61+1] bytes wrap", f64_bytes_wrap_to_8, HF_EFORMAT,
      "tensor \"big\": shape [2305843009213693953] of F64 overflows" },
    { "dimension over INT64_MAX", dimension_over_int64_max, HF_EFORMAT,
      "tensor \"big\": byte 47: ne[1] = 9223372036854775808 exceeds INT64_MAX" },
    { "partial block", partial_block, HF_EFORMAT,
      "ne[0] = 33 is not a multiple of the Q8_0 block size (32)" },
    { "overlap", tensors_overlap, HF_EFORMAT, "\"blk.0.q\"" },
    { "duplicate tensor", duplicate_tensor, HF_EFORMAT, "duplicate name (also tensor #0)" },
};

START_TEST(each_corruption_is_refused_with_its_code_and_place)
{
    hfi_buf_t b = HFI_BUF_INIT;
    hf_error_t err = { 0, 0, "" };

    cases[_i].make(&b);
    fu_assert_refused(cases[_i].what, parse_copy(b.data, b.len, &err), &err, cases[_i].code,
                      cases[_i].needle, "bad.gguf");
    hfi_buf_free(&b);
}
END_TEST

START_TEST(the_spec_words_of_some_messages)
{
    hfi_buf_t b = HFI_BUF_INIT;
    hf_error_t err;
    char want[128];

    data_beyond_eof(&b);
    FU_ASSERT_ERR(parse_copy(b.data, b.len, &err), HF_EFORMAT, err, NULL);
    snprintf(want, sizeof want, ") beyond end of file (%zu bytes)", b.len);
    ck_assert_msg(strstr(err.message, want), "%s", err.message);
    hfi_buf_free(&b);
}
END_TEST

/* Strings inside arrays are bytes: a raw byte token (not UTF-8) is accepted and read back
 * as it is, as ggml reads it. */
START_TEST(array_strings_are_bytes_not_checked_for_utf8)
{
    hfi_buf_t b = HFI_BUF_INIT;
    hf_gguf_t *g;
    hf_gguf_array_t a;
    hf_error_t err;
    const char *w;
    size_t len;

    array_string_not_utf8(&b);
    ck_assert_msg(hf_gguf_parse(b.data, b.len, "bytes.gguf", &g, &err) == 0, "%s", err.message);
    ck_assert_int_eq(hf_gguf_get_array(g, "tok.words", &a, &err), 0);
    ck_assert_int_eq(hf_gguf_array_str(&a, 0, &w, &len), 0);
    ck_assert_uint_eq(len, 5);
    ck_assert_int_eq(memcmp(w, "\xff" "ello", 5), 0);
    hf_gguf_close(g);
    hfi_buf_free(&b);
}
END_TEST

START_TEST(arrays_nested_to_the_limit_are_accepted)
{
    hfi_buf_t b = HFI_BUF_INIT;
    hf_error_t err;

    nested(&b, HF_GGUF_MAX_ARRAY_DEPTH);
    ck_assert_msg(parse_copy(b.data, b.len, &err) == 0, "%s", err.message);
    hfi_buf_free(&b);
}
END_TEST

START_TEST(every_truncation_of_a_valid_file_is_refused)
{
    hfi_buf_t b = HFI_BUF_INIT;

    fu_small_gguf(&b);
    fu_every_prefix_refused(b.data, b.len, parse_copy);
    hfi_buf_free(&b);
}
END_TEST

START_TEST(single_byte_changes_never_read_out_of_bounds)
{
    static const unsigned char values[] = { 0x00, 0x01, 0x7f, 0x80, 0xff };
    hfi_buf_t b = HFI_BUF_INIT;

    fu_small_gguf(&b);
    fu_byte_changes_are_safe(b.data, b.len, values, sizeof values, parse_copy);
    hfi_buf_free(&b);
}
END_TEST

static Suite *gguf_corrupt_suite(void)
{
    Suite *s = suite_create("gguf_corrupt");
    TCase *tc = tcase_create("refuse");

    tcase_add_loop_test(tc, each_corruption_is_refused_with_its_code_and_place, 0,
                        (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, the_spec_words_of_some_messages);
    tcase_add_test(tc, arrays_nested_to_the_limit_are_accepted);
    tcase_add_test(tc, array_strings_are_bytes_not_checked_for_utf8);
    tcase_add_test(tc, every_truncation_of_a_valid_file_is_refused);
    tcase_add_test(tc, single_byte_changes_never_read_out_of_bounds);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(gguf_corrupt_suite)
