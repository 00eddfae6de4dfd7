/*
 * check_contract_model.c - sentences of include/hf/model.h that check_models does not
 * assert: refusals settled before the call returns, the accessors' answers out of range,
 * the progress of a shared load, a failed load not shared, offline loads naming the file.
 */
#include "common/testutil.h"

#include <stdatomic.h>

#include "common/mockhub.h"

#define STELLA "NovaSearch/stella_en_400M_v5"

static tu_mock_t mock;
static char cache[256];
static hf_runtime_t *rt;

static void setup(void)
{
    tu_mock_root(&mock);
    tu_mock_fixtures(&mock, 0);
    tu_mock_start(&mock, NULL);
    tu_tmpdir(cache, sizeof cache, "contract-models");
    rt = tu_runtime(2);
}

static void teardown(void)
{
    hf_runtime_free(rt);
    tu_mock_stop(&mock);
    tu_rm_tree(cache);
}

static hf_hub_t *hub_mode(int offline)
{
    hf_hub_config_t c;
    hf_error_t e;
    hf_hub_t *h;

    memset(&c, 0, sizeof c);
    c.endpoint = mock.hub;
    c.cache_dir = cache;
    c.token = "";
    c.offline = offline;
    c.backoff_ms = 10;
    h = hf_hub_new(rt, &c, &e);
    ck_assert_msg(h != NULL, "%s", e.message);
    return h;
}

static long requests(void)
{
    return tu_mock_count(&mock, "HEAD", "") + tu_mock_count(&mock, "GET", "");
}

START_TEST(a_refusal_is_settled_when_the_call_returns_and_asks_nothing)
{
    hf_hub_t *h = hub_mode(HF_NO);
    hf_model_opts_t dim = { .dim = 300 }, repo = { .repo = "bad..repo" };
    hf_model_opts_t rev = { .revision = "a..b" }, q = { .quant = "Q8_0" };
    struct { const char *name; const hf_model_opts_t *o; } bad[] = {
        { "llama", NULL }, { "stella", &dim }, { "stella", &repo }, { "gte-qwen", &rev },
        { "stella", &q }, { "kimi-k2", &dim },
    };

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        hf_future_t *f = hf_model_load(rt, h, bad[i].name, bad[i].o);
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(hf_future_state(f), HF_FUTURE_REJECTED);
        ck_assert_int_eq(hf_future_error(f)->code, HF_EINVAL);
        hf_future_release(f);
    }
    ck_assert_ptr_null(hf_model_load(rt, NULL, "stella", NULL));
    ck_assert_int_eq(requests(), 0);
    hf_hub_free(h);
}
END_TEST

START_TEST(the_accessors_answer_null_zero_or_minus_one_out_of_range)
{
    hf_hub_t *h = hub_mode(HF_NO);
    hf_future_t *f = hf_model_load(rt, h, "stella", NULL);
    const hf_model_t *m;
    const hf_tensor_info_t *t;
    size_t n, nf;

    ck_assert_ptr_null(hf_model_retain(NULL));
    hf_model_release(NULL);
    ck_assert_ptr_null(hf_model_name(NULL));
    ck_assert_ptr_null(hf_model_architecture(NULL));
    ck_assert_uint_eq(hf_model_file_count(NULL), 0);
    ck_assert_ptr_null(hf_model_file(NULL, 0));
    ck_assert_uint_eq(hf_model_bytes(NULL), 0);
    ck_assert_uint_eq(hf_model_tensor_count(NULL), 0);
    ck_assert_ptr_null(hf_model_tensor(NULL, 0));
    ck_assert_ptr_null(hf_model_find_tensor(NULL, "x"));
    ck_assert_ptr_null(hf_model_find_tensor_in(NULL, NULL, "x"));
    ck_assert_uint_eq(hf_model_tensor_file(NULL, 0), (size_t)-1);
    ck_assert_int_eq(hf_model_vocab_size(NULL), -1);
    ck_assert_int_eq(hf_model_eos_token_id(NULL), -1);
    ck_assert_int_eq(hf_model_embedding_size(NULL), -1);
    n = hf_model_module_count();
    ck_assert_uint_eq(n, 5);
    for (size_t i = 0; i < n; i++) {
        ck_assert_ptr_nonnull(hf_model_module_name(i));
        ck_assert_ptr_nonnull(hf_model_module_description(i));
    }
    ck_assert_ptr_null(hf_model_module_name(n));
    ck_assert_ptr_null(hf_model_module_description(n));

    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    m = hf_future_value(f);
    ck_assert_str_eq(hf_model_name(m), "stella");
    n = hf_model_tensor_count(m);
    nf = hf_model_file_count(m);
    ck_assert_ptr_null(hf_model_tensor(m, n));
    ck_assert_ptr_null(hf_model_file(m, nf));
    ck_assert_uint_eq(hf_model_tensor_file(m, n), (size_t)-1);
    t = hf_model_tensor(m, n - 1);
    ck_assert_uint_lt(hf_model_tensor_file(m, n - 1), nf);
    ck_assert_ptr_eq(hf_model_find_tensor(m, t->name), hf_model_find_tensor_in(m, NULL, t->name));
    ck_assert_ptr_null(hf_model_find_tensor(m, NULL));
    ck_assert_ptr_null(hf_model_find_tensor(m, "no.such.tensor"));
    ck_assert_ptr_null(hf_model_find_tensor_in(m, "tokenizer.json", t->name));
    ck_assert_ptr_null(hf_model_find_tensor_in(m, "", t->name));
    ck_assert_ptr_eq(hf_model_find_tensor_in(m, "2_Dense_1024/model.safetensors", "linear.weight"),
                     hf_model_find_tensor(m, "linear.weight"));
    /* a suffix that is not a whole path component does not match */
    ck_assert_ptr_null(hf_model_find_tensor_in(m, "ense_1024/model.safetensors", "linear.weight"));
    hf_future_release(f);
    hf_hub_free(h);
}
END_TEST

static atomic_int events_first, events_second;

static void count_first(const hf_progress_t *p, void *arg)
{
    (void)p;
    (void)arg;
    atomic_fetch_add(&events_first, 1);
}

static void count_second(const hf_progress_t *p, void *arg)
{
    (void)p;
    (void)arg;
    atomic_fetch_add(&events_second, 1);
}

START_TEST(a_call_that_shares_a_load_gets_no_progress_events)
{
    hf_hub_t *h = hub_mode(HF_NO);
    hf_model_opts_t a = { .progress = count_first }, b = { .progress = count_second };
    hf_future_t *f, *g;

    atomic_store(&events_first, 0);
    atomic_store(&events_second, 0);
    f = hf_model_load(rt, h, "stella", &a);
    g = hf_model_load(rt, h, "stella", &b);
    ck_assert_ptr_eq(f, g);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_int_gt(atomic_load(&events_first), 0);
    ck_assert_int_eq(atomic_load(&events_second), 0);
    hf_future_release(f);
    hf_future_release(g);
    hf_hub_free(h);
}
END_TEST

START_TEST(a_failed_load_is_not_shared_and_the_next_call_starts_afresh)
{
    hf_hub_t *h = hub_mode(HF_NO);
    hf_future_t *f, *g;

    tu_mock_fault(&mock, "{\"path\": \"/" STELLA "/resolve/main/config.json\", "
                         "\"method\": \"HEAD\", \"status\": 404, \"count\": 1, "
                         "\"error_code\": \"EntryNotFound\"}");
    f = hf_model_load(rt, h, "stella", NULL);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_EENTRY_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(hf_future_error(f)->message, "config.json"));
    g = hf_model_load(rt, h, "stella", NULL);   /* f is still alive: not shared all the same */
    ck_assert_ptr_ne(f, g);
    ck_assert_int_eq(tu_settle(g), HF_FUTURE_FULFILLED);
    hf_future_release(f);
    hf_future_release(g);
    hf_hub_free(h);
}
END_TEST

START_TEST(offline_a_file_the_cache_lacks_is_eoffline_naming_it)
{
    hf_hub_t *h = hub_mode(HF_YES);
    hf_model_opts_t o = { .dim = 256 };
    hf_future_t *f = hf_model_load(rt, h, "stella", NULL);

    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_EOFFLINE);
    ck_assert_ptr_nonnull(strstr(hf_future_error(f)->message, STELLA));
    hf_future_release(f);
    ck_assert_int_eq(requests(), 0);
    hf_hub_free(h);
    /* load the 1024 head online, then ask for the 256 one offline: only it is named */
    h = hub_mode(HF_NO);
    f = hf_model_load(rt, h, "stella", NULL);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    hf_future_release(f);
    hf_hub_free(h);
    tu_mock_reset(&mock);
    h = hub_mode(HF_YES);
    f = hf_model_load(rt, h, "stella", &o);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_EOFFLINE);
    ck_assert_msg(strstr(hf_future_error(f)->message, "2_Dense_256/model.safetensors") != NULL,
                  "%s", hf_future_error(f)->message);
    hf_future_release(f);
    ck_assert_int_eq(requests(), 0);
    hf_hub_free(h);
}
END_TEST

static Suite *contract_model_suite(void)
{
    Suite *s = suite_create("contract_model");
    TCase *tc = tcase_create("contract");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_refusal_is_settled_when_the_call_returns_and_asks_nothing);
    tcase_add_test(tc, the_accessors_answer_null_zero_or_minus_one_out_of_range);
    tcase_add_test(tc, a_call_that_shares_a_load_gets_no_progress_events);
    tcase_add_test(tc, a_failed_load_is_not_shared_and_the_next_call_starts_afresh);
    tcase_add_test(tc, offline_a_file_the_cache_lacks_is_eoffline_naming_it);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(contract_model_suite)
