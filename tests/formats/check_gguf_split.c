/*
 * check_gguf_split.c - split GGUF sets: a whole set passes in any order; a wrong count, a
 * duplicate or missing part number, a tensor count that does not add up or a tensor in two
 * parts fails naming the part.
 */
#include "formats/fmtutil.h"

enum { MAXP = 4 };

typedef struct set {
    hfi_buf_t bytes[MAXP];
    hf_gguf_t *parts[MAXP];
    size_t n;
} set_t;

/* Add a part with split keys (written as llama.cpp's gguf-split writes them: uint16,
 * uint16, int32) and tensors named "<prefix>.<k>" for k < ntensors. */
static void add_part(set_t *s, uint64_t no, uint64_t count, int64_t total, const char *prefix,
                     unsigned ntensors)
{
    hfi_gguf_writer_t *w = hfi_gguf_writer_new();
    hf_error_t err;
    char name[64], file[64];
    uint64_t d[1] = { 4 };
    unsigned k;

    hfi_gguf_add_str(w, "general.architecture", "deepseek2");
    hfi_gguf_add_uint(w, "split.no", HF_GGUF_UINT16, no);
    hfi_gguf_add_uint(w, "split.count", HF_GGUF_UINT16, count);
    hfi_gguf_add_int(w, "split.tensors.count", HF_GGUF_INT32, total);
    for (k = 0; k < ntensors; k++) {
        snprintf(name, sizeof name, "%s.%u", prefix, k);
        hfi_gguf_add_tensor(w, name, 0, 1, d, NULL);
    }
    ck_assert_int_eq(hfi_gguf_writer_finish(w, &s->bytes[s->n]), 0);
    hfi_gguf_writer_free(w);
    snprintf(file, sizeof file, "Kimi-K2-Instruct-UD-TQ1_0-%05llu-of-%05llu.gguf",
             (unsigned long long)no + 1, (unsigned long long)count);
    ck_assert_msg(hf_gguf_parse(s->bytes[s->n].data, s->bytes[s->n].len, file, &s->parts[s->n],
                                &err) == 0, "%s", err.message);
    s->n++;
}

static void free_set(set_t *s)
{
    size_t i;
    for (i = 0; i < s->n; i++) {
        hf_gguf_close(s->parts[i]);
        hfi_buf_free(&s->bytes[i]);
    }
}

static int check(set_t *s, hf_error_t *err)
{
    return hf_gguf_check_split((const hf_gguf_t *const *)s->parts, s->n, err);
}

START_TEST(a_whole_three_part_set_passes_in_any_order)
{
    set_t s = { .n = 0 };
    hf_error_t err;

    add_part(&s, 2, 3, 6, "blk.2", 1);
    add_part(&s, 0, 3, 6, "blk.0", 3);
    add_part(&s, 1, 3, 6, "blk.1", 2);
    ck_assert_msg(check(&s, &err) == 0, "%s", err.message);
    free_set(&s);
}
END_TEST

/* One part of a set: split.no, split.count, split.tensors.count, tensor names, how many. */
typedef struct part {
    uint64_t no, count;
    int64_t total;
    const char *prefix;
    unsigned ntensors;
} part_t;

#define KIMI(k, n) "Kimi-K2-Instruct-UD-TQ1_0-0000" #k "-of-0000" #n ".gguf"

static const struct {
    const char *what;
    size_t n;
    part_t p[3];
    const char *needles[3];     /* all in the message */
} broken[] = {
    { "wrong split.count", 3, { { 0, 3, 3, "a", 1 }, { 1, 4, 3, "b", 1 }, { 2, 3, 3, "c", 1 } },
      { "part 2 (" KIMI(2, 4) "): split.count is 4, but 3 parts were given", NULL, NULL } },
    { "a part missing", 2, { { 0, 3, 2, "a", 1 }, { 2, 3, 2, "c", 1 } },
      { "part 1 (" KIMI(1, 3) "): split.count is 3, but 2 parts were given", NULL, NULL } },
    { "duplicate split.no", 3, { { 0, 3, 3, "a", 1 }, { 1, 3, 3, "b", 1 }, { 1, 3, 3, "c", 1 } },
      { "part 2 (" KIMI(2, 3) ")", "and part 3 (" KIMI(2, 3) ")", "both have split.no 1" } },
    { "split.no past the count", 2, { { 0, 2, 2, "a", 1 }, { 5, 2, 2, "b", 1 } },
      { "part 2 (" KIMI(6, 2) "): split.no 5 is not below split.count (2)", NULL, NULL } },
    { "tensor count", 3, { { 0, 3, 5, "a", 2 }, { 1, 3, 5, "b", 2 }, { 2, 3, 5, "c", 2 } },
      { "part 1 (" KIMI(1, 3) "): split.tensors.count is 5, but the 3 parts hold 6 tensors",
        NULL, NULL } },
    { "split.count 0 in a set", 2, { { 0, 0, 2, "a", 1 }, { 1, 2, 2, "b", 1 } },
      { "part 1 (" KIMI(1, 0) "): split.count is 0, but 2 parts were given", NULL, NULL } },
    { "tensor in two parts", 2, { { 0, 2, 2, "blk.0", 1 }, { 1, 2, 2, "blk.0", 1 } },
      { "tensor \"blk.0.0\" is in part 1 (" KIMI(1, 2) ") and in part 2 (" KIMI(2, 2) ")",
        NULL, NULL } },
};
#undef KIMI

START_TEST(each_broken_set_is_refused_naming_the_part)
{
    set_t s = { .n = 0 };
    hf_error_t err;
    size_t k;

    for (k = 0; k < broken[_i].n; k++) {
        const part_t *p = &broken[_i].p[k];
        add_part(&s, p->no, p->count, p->total, p->prefix, p->ntensors);
    }
    FU_ASSERT_ERR(check(&s, &err), HF_EFORMAT, err, NULL);
    for (k = 0; k < 3; k++)
        ck_assert_msg(fu_holds(err.message, broken[_i].needles[k]), "%s: \"%s\" lacks \"%s\"",
                      broken[_i].what, err.message, broken[_i].needles[k]);
    free_set(&s);
}
END_TEST

START_TEST(a_part_without_split_keys_is_refused_in_a_set)
{
    set_t s = { .n = 0 };
    hfi_buf_t plain = HFI_BUF_INIT;
    hf_error_t err;

    add_part(&s, 0, 2, 2, "a", 1);
    fu_small_gguf(&plain);
    ck_assert_int_eq(hf_gguf_parse(plain.data, plain.len, "plain.gguf", &s.parts[1], &err), 0);
    s.n = 2;
    FU_ASSERT_ERR(check(&s, &err), HF_EFORMAT, err, "part 2 (plain.gguf): no split.count");
    hf_gguf_close(s.parts[1]);
    s.n = 1;
    free_set(&s);
    hfi_buf_free(&plain);
}
END_TEST

START_TEST(a_single_file_without_split_keys_is_a_set_of_one)
{
    hfi_buf_t b = HFI_BUF_INIT;
    hf_gguf_t *g;
    hf_error_t err;
    const hf_gguf_t *one[1];

    fu_small_gguf(&b);
    ck_assert_int_eq(hf_gguf_parse(b.data, b.len, "one.gguf", &g, &err), 0);
    one[0] = g;
    ck_assert_int_eq(hf_gguf_check_split(one, 1, &err), 0);
    ck_assert_int_eq(hf_gguf_check_split(one, 0, &err), HF_EINVAL);
    ck_assert_int_eq(hf_gguf_check_split(NULL, 1, &err), HF_EINVAL);
    one[0] = NULL;
    ck_assert_int_eq(hf_gguf_check_split(one, 1, &err), HF_EINVAL);
    hf_gguf_close(g);
    hfi_buf_free(&b);
}
END_TEST

/* gguf-split --merge copies the first part's keys into the file it writes and sets its
 * split.count to 0, so that the result is not taken for a part; llama.cpp loads it as one
 * whole file (it reads a split.count below 2 as "not split"). It was refused: "split.count
 * is 0, but 1 parts were given". */
START_TEST(a_merged_file_with_split_count_0_is_a_set_of_one)
{
    set_t s = { .n = 0 };
    hf_error_t err;

    add_part(&s, 0, 0, 3, "blk", 3);
    ck_assert_msg(check(&s, &err) == 0, "%s", err.message);
    free_set(&s);
}
END_TEST

START_TEST(split_keys_of_the_wrong_type_are_refused)
{
    set_t s = { .n = 0 };
    hfi_gguf_writer_t *w = hfi_gguf_writer_new();
    hf_error_t err;

    hfi_gguf_add_str(w, "split.no", "zero");
    hfi_gguf_add_uint(w, "split.count", HF_GGUF_UINT16, 1);
    hfi_gguf_add_int(w, "split.tensors.count", HF_GGUF_INT32, 0);
    ck_assert_int_eq(hfi_gguf_writer_finish(w, &s.bytes[0]), 0);
    hfi_gguf_writer_free(w);
    ck_assert_int_eq(hf_gguf_parse(s.bytes[0].data, s.bytes[0].len, "x.gguf", &s.parts[0], &err),
                     0);
    s.n = 1;
    FU_ASSERT_ERR(check(&s, &err), HF_EFORMAT, err, "part 1: x.gguf: key \"split.no\" is string");
    free_set(&s);
}
END_TEST

static Suite *gguf_split_suite(void)
{
    Suite *s = suite_create("gguf_split");
    TCase *tc = tcase_create("sets");

    tcase_add_test(tc, a_whole_three_part_set_passes_in_any_order);
    tcase_add_loop_test(tc, each_broken_set_is_refused_naming_the_part, 0,
                        (int)(sizeof broken / sizeof broken[0]));
    tcase_add_test(tc, a_part_without_split_keys_is_refused_in_a_set);
    tcase_add_test(tc, a_single_file_without_split_keys_is_a_set_of_one);
    tcase_add_test(tc, a_merged_file_with_split_count_0_is_a_set_of_one);
    tcase_add_test(tc, split_keys_of_the_wrong_type_are_refused);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(gguf_split_suite)
