/*
 * check_safetensors_corrupt.c - malformed safetensors files: each is refused with the right
 * code and a message naming the place, and none is read out of bounds (every parse reads an
 * exact-size heap copy, so ASan reports a byte too far).
 */
#include "formats/fmtutil.h"

/* Parse an exact-size copy of `len` bytes; on success also read every tensor byte. */
static int parse_copy(const unsigned char *bytes, size_t len, hf_error_t *err)
{
    unsigned char *copy = fu_dup(bytes, len);
    hf_safetensors_t *st = NULL;
    int rc = hf_safetensors_parse(copy, len, "bad.safetensors", &st, err);
    size_t k;

    if (rc == 0) {
        unsigned sum = 0;
        for (k = 0; k < hf_safetensors_tensor_count(st); k++) {
            const hf_tensor_info_t *t = hf_safetensors_tensor(st, k);
            uint64_t j;
            for (j = 0; j < t->nbytes; j++)
                sum += ((const unsigned char *)t->data)[j];
        }
        (void)sum;
        (void)hf_safetensors_check_packed(st, NULL);
        hf_safetensors_close(st);
    } else
        ck_assert_ptr_null(st);
    free(copy);
    return rc;
}

static void length_past_eof(hfi_buf_t *b) { fu_small_st(b); fu_put_le64(b->data, b->len); }
static void length_over_cap(hfi_buf_t *b) { fu_small_st(b); fu_put_le64(b->data, 100000001); }
static void length_max(hfi_buf_t *b) { fu_small_st(b); fu_put_le64(b->data, UINT64_MAX); }
static void length_zero(hfi_buf_t *b) { fu_small_st(b); fu_put_le64(b->data, 0); }
static void deep_json(hfi_buf_t *b)
{
    char *h = malloc(4008);
    memcpy(h, "{\"a\":", 5);
    memset(h + 5, '[', 2000);
    memset(h + 2005, ']', 2000);
    memcpy(h + 4005, "}", 2);
    fu_st_from_header(b, h, 0);
    free(h);
}

typedef struct corruption {
    const char *what;
    const char *header;         /* a literal header and `data` bytes after it, or: */
    size_t data;
    void (*make)(hfi_buf_t *b); /* a file made some other way */
    int code;
    const char *needle;
} corruption_t;

#define T(name, body) "{\"" name "\":" body "}"
static const corruption_t cases[] = {
    { "length past eof", NULL, 0, length_past_eof, HF_EFORMAT,
      "runs past end of file" },
    { "length over cap", NULL, 0, length_over_cap, HF_EFORMAT,
      "header length 100000001 exceeds the format's cap of 100000000 bytes" },
    { "length max", NULL, 0, length_max, HF_EFORMAT, "exceeds the format's cap" },
    { "length zero", NULL, 0, length_zero, HF_EFORMAT, "header: no JSON value" },
    { "bad utf-8", "{\"a\xff\":{}}", 0, NULL, HF_EFORMAT, "header: byte 11: invalid UTF-8 (0xff)" },
    { "overlong utf-8", "{\"\xc0\xaf\":{}}", 0, NULL, HF_EFORMAT, "invalid UTF-8 (0xc0)" },
    { "control char", "{\"a\x01\":{}}", 0, NULL, HF_EFORMAT, "byte 11: control character" },
    { "invalid json", "{\"a\":", 0, NULL, HF_EFORMAT, "header: byte" },
    { "trailing data", "{}  x", 0, NULL, HF_EFORMAT, "byte 12: data after the JSON value" },
    { "deep nesting", NULL, 0, deep_json, HF_EFORMAT, "invalid JSON" },
    { "not an object", "[1,2]", 0, NULL, HF_EFORMAT, "header: byte 8: begins with 0x5b, not '{'" },
    { "byte order mark", "\xef\xbb\xbf{}", 0, NULL, HF_EFORMAT,
      "header: byte 8: begins with 0xef, not '{'" },
    { "leading space", " {}", 0, NULL, HF_EFORMAT, "header: byte 8: begins with 0x20, not '{'" },
    { "leading newline", "\n{}", 0, NULL, HF_EFORMAT, "header: byte 8: begins with 0x0a" },
    { "padded with a tab", "{}  \t ", 0, NULL, HF_EFORMAT,
      "header: byte 12: 0x09 after the JSON object (only spaces may pad the header)" },
    { "padded with LF", "{} \n", 0, NULL, HF_EFORMAT, "header: byte 11: 0x0a after the JSON" },
    { "padded with CR", "{}\r", 0, NULL, HF_EFORMAT, "header: byte 10: 0x0d after the JSON" },
    { "\\u0000 in a key", "{\"__metadata__\\u0000x\":{\"k\":\"v\"}}", 0, NULL, HF_EFORMAT,
      "header: byte 22: \\u0000 escape" },
    { "\\u0000 in a name", T("a\\u0000b", "{\"dtype\":\"U8\",\"shape\":[1],"
                                        "\"data_offsets\":[0,1]}"), 1, NULL, HF_EFORMAT,
      "header: byte 11: \\u0000 escape" },
    { "\\u0000 in metadata", "{\"__metadata__\":{\"k\":\"v\\u0000\"}}", 0, NULL, HF_EFORMAT,
      "header: byte 31: \\u0000 escape" },
    { "dtype twice", T("a", "{\"dtype\":\"U8\",\"shape\":[1],\"dtype\":\"F32\","
                            "\"data_offsets\":[0,1]}"), 1, NULL, HF_EFORMAT,
      "tensor \"a\": field \"dtype\" appears twice" },
    { "shape twice", T("w", "{\"dtype\":\"U8\",\"shape\":[1],\"shape\":[1],"
                            "\"data_offsets\":[0,1]}"), 1, NULL, HF_EFORMAT,
      "tensor \"w\": field \"shape\" appears twice" },
    { "offsets twice", T("a", "{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],"
                              "\"data_offsets\":[1,2]}"), 2, NULL, HF_EFORMAT,
      "tensor \"a\": field \"data_offsets\" appears twice" },
    { "metadata not object", "{\"__metadata__\":[]}", 0, NULL, HF_EFORMAT,
      "\"__metadata__\" is array, not an object" },
    { "metadata value", "{\"__metadata__\":{\"k\":1}}", 0, NULL, HF_EFORMAT,
      "\"__metadata__.k\" is number, not a string" },
    { "metadata key twice", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, NULL, HF_EFORMAT,
      "\"__metadata__.k\" appears twice" },
    { "metadata twice", "{\"__metadata__\":{\"a\":\"1\"},\"__metadata__\":{\"b\":\"2\"}}", 0,
      NULL, HF_EFORMAT, "header: \"__metadata__\" appears twice" },
    { "metadata twice, once null", "{\"__metadata__\":null,\"__metadata__\":{\"b\":\"2\"}}", 0,
      NULL, HF_EFORMAT, "header: \"__metadata__\" appears twice" },
    { "entry not object", T("a", "5"), 0, NULL, HF_EFORMAT, "tensor \"a\": entry is number" },
    { "dtype missing", T("a", "{\"shape\":[1],\"data_offsets\":[0,1]}"), 1, NULL, HF_EFORMAT,
      "tensor \"a\": \"dtype\" is missing, not a string" },
    { "unknown dtype", T("a", "{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,1]}"), 1,
      NULL, HF_EUNSUPPORTED, "tensor \"a\": unknown dtype \"Q4\"" },
    { "lowercase dtype", T("a", "{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}"), 4,
      NULL, HF_EUNSUPPORTED, "unknown dtype \"f32\"" },
    { "shape not array", T("a", "{\"dtype\":\"U8\",\"shape\":3,\"data_offsets\":[0,3]}"), 3,
      NULL, HF_EFORMAT, "\"shape\" is number, not an array" },
    { "shape negative", T("a", "{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,1]}"), 1,
      NULL, HF_EFORMAT, "shape[0] is not an integer" },
    { "shape fractional", T("a", "{\"dtype\":\"U8\",\"shape\":[2,1.5],\"data_offsets\":[0,3]}"),
      3, NULL, HF_EFORMAT, "shape[1] is not an integer" },
    { "nine dims", T("a", "{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                          "\"data_offsets\":[0,1]}"), 1, NULL, HF_EUNSUPPORTED,
      "tensor \"a\": 9 dimensions" },
    { "offsets three", T("a", "{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}"), 2,
      NULL, HF_EFORMAT, "\"data_offsets\" is not two integers" },
    { "offsets missing", T("a", "{\"dtype\":\"U8\",\"shape\":[1]}"), 1, NULL, HF_EFORMAT,
      "\"data_offsets\" is not two integers" },
    { "offsets huge", T("a", "{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1e300]}"), 1,
      NULL, HF_EFORMAT, "\"data_offsets\" is not two integers in [0, 2^53)" },
    { "end before begin", T("a", "{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,2]}"), 4,
      NULL, HF_EFORMAT, "data_offsets [4, 2] end before they begin" },
    { "size mismatch", T("a", "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}"), 8,
      NULL, HF_EFORMAT, "data_offsets [0, 4) hold 4 bytes, but shape [2] of F32 needs 8" },
    { "beyond eof", T("blk.0.attn_q.weight", "{\"dtype\":\"F32\",\"shape\":[2],"
                      "\"data_offsets\":[0,8]}"), 4, NULL, HF_EFORMAT,
      "tensor \"blk.0.attn_q.weight\": data range [" },
    { "shape overflows", T("a", "{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
                           "\"data_offsets\":[0,4]}"), 4, NULL, HF_EFORMAT,
      "shape [4294967296, 4294967296, 4294967296] of F32 overflows" },
    { "f4 half byte", T("a", "{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}"), 2,
      NULL, HF_EFORMAT, "3 F4 elements do not end on a byte boundary" },
    { "overlap", "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                 "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[2,6]}}", 6, NULL,
      HF_EFORMAT, "tensors \"a\" [" },
    { "duplicate name", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                        "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2,
      NULL, HF_EFORMAT, "tensor \"a\" appears twice in the header" },
};
#undef T

START_TEST(each_corruption_is_refused_with_its_code_and_place)
{
    const corruption_t *c = &cases[_i];
    hfi_buf_t b = HFI_BUF_INIT;
    hf_error_t err = { 0, 0, "" };

    if (c->make)
        c->make(&b);
    else
        fu_st_from_header(&b, c->header, c->data);
    fu_assert_refused(c->what, parse_copy(b.data, b.len, &err), &err, c->code, c->needle,
                      "bad.safetensors");
    hfi_buf_free(&b);
}
END_TEST

START_TEST(a_range_beyond_the_file_names_its_absolute_bytes_and_the_file_size)
{
    static const char h[] = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1024],"
                            "\"data_offsets\":[4096,8192]}}";
    hfi_buf_t b = HFI_BUF_INIT;
    hf_error_t err;
    char want[160];
    uint64_t data = 8 + strlen(h);

    fu_st_from_header(&b, h, 6000 - data);
    snprintf(want, sizeof want, "bad.safetensors: tensor \"w\": data range [%llu, %llu) beyond "
             "end of file (6000 bytes)", (unsigned long long)(data + 4096),
             (unsigned long long)(data + 8192));
    FU_ASSERT_ERR(parse_copy(b.data, b.len, &err), HF_EFORMAT, err, want);
    hfi_buf_free(&b);
}
END_TEST

START_TEST(every_truncation_of_a_valid_file_is_refused)
{
    hfi_buf_t b = HFI_BUF_INIT;

    fu_small_st(&b);
    fu_every_prefix_refused(b.data, b.len, parse_copy);
    hfi_buf_free(&b);
}
END_TEST

START_TEST(single_byte_changes_never_read_out_of_bounds)
{
    static const unsigned char values[] = { 0x00, '"', '9', '}', 0x80, 0xff };
    hfi_buf_t b = HFI_BUF_INIT;

    fu_small_st(&b);
    fu_byte_changes_are_safe(b.data, b.len, values, sizeof values, parse_copy);
    hfi_buf_free(&b);
}
END_TEST

static Suite *safetensors_corrupt_suite(void)
{
    Suite *s = suite_create("safetensors_corrupt");
    TCase *tc = tcase_create("refuse");

    tcase_add_loop_test(tc, each_corruption_is_refused_with_its_code_and_place, 0,
                        (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, a_range_beyond_the_file_names_its_absolute_bytes_and_the_file_size);
    tcase_add_test(tc, every_truncation_of_a_valid_file_is_refused);
    tcase_add_test(tc, single_byte_changes_never_read_out_of_bounds);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(safetensors_corrupt_suite)
