/*
 * check_models.c - the five model modules against hf-mock-hub serving the hf-fixtures
 * repos: metadata read from the files, tensors pointing into the mappings, sharing
 * (request counts at the server), cancellation (no partial file left), the blocking shim
 * inside a compute worker, and the errors a user meets (gated, missing part or shard,
 * wrong architecture, tensor missing from its shard, bad options).
 */
#include "common/testutil.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mockhub.h"
#include "formats/mapfile.h"
#include "formats/writer.h"
#include "models/model_impl.h"

#define TOKEN "hf_fixture_token"
#define KIMI "unsloth/Kimi-K2-Instruct-GGUF"
#define GTE "Alibaba-NLP/gte-Qwen2-1.5B-instruct"

static tu_mock_t mock;
static char cache[256];
static hf_runtime_t *rt;

static void start_mock(void)
{
    tu_mock_start(&mock, NULL);
    tu_tmpdir(cache, sizeof cache, "models-cache");
    rt = tu_runtime(2);
}

static void setup(void)
{
    tu_mock_root(&mock);
    tu_mock_fixtures(&mock, 0);
    start_mock();
}

/* For tests that change the fixtures before the server starts. */
static void setup_unstarted(void)
{
    tu_mock_root(&mock);
    tu_mock_fixtures(&mock, 0);
    rt = NULL;
}

static void teardown(void)
{
    hf_runtime_free(rt);
    tu_mock_stop(&mock);
    tu_rm_tree(cache);
}

static hf_hub_t *hub_with(const char *token)
{
    return tu_hub_at(rt, mock.hub, cache, token ? token : "", NULL);
}

/* A hub in offline mode over the same cache: it may make no request at all. */
static hf_hub_t *offline_hub(void)
{
    hf_hub_config_t cfg;
    hf_error_t e;
    hf_hub_t *h;

    memset(&cfg, 0, sizeof cfg);
    cfg.endpoint = mock.hub;
    cfg.cache_dir = cache;
    cfg.token = "";
    cfg.offline = HF_YES;
    h = hf_hub_new(rt, &cfg, &e);
    ck_assert_msg(h != NULL, "%s", e.message);
    return h;
}

/* Nothing at all was asked of the mock Hub or its CDN since the last reset. */
static void assert_no_request(void)
{
    ck_assert_int_eq(tu_mock_count(&mock, "HEAD", ""), 0);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", ""), 0);
}

/* Load and wait; the model (retained) or a failed test. */
static hf_model_t *load_ok(hf_hub_t *h, const char *name, const hf_model_opts_t *o)
{
    hf_future_t *f = hf_model_load(rt, h, name, o);
    hf_model_t *m;
    ck_assert_ptr_nonnull(f);
    ck_assert_msg(tu_settle(f) == HF_FUTURE_FULFILLED, "%s: %s", name,
                  hf_future_state(f) == HF_FUTURE_REJECTED ? hf_future_error(f)->message
                                                           : "cancelled");
    m = hf_model_retain(hf_future_value(f));
    hf_future_release(f);
    return m;
}

/* Load and wait for a failure; its code, and the message copied into msg. */
static int load_err(hf_hub_t *h, const char *name, const hf_model_opts_t *o, char *msg,
                    size_t size)
{
    hf_future_t *f = hf_model_load(rt, h, name, o);
    int code;
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    code = hf_future_error(f)->code;
    snprintf(msg, size, "%s", hf_future_error(f)->message);
    hf_future_release(f);
    return code;
}

static void assert_only_io_threads_ran_curl(hf_hub_t *h)
{
    hf_hub_stats_t st;
    hf_hub_stats(h, &st);
    ck_assert_uint_gt(st.curl_calls_io, 0);
    ck_assert_uint_eq(st.curl_calls_compute, 0);
    ck_assert_uint_eq(st.curl_calls_other, 0);
}

/* The tensor's data is the file's bytes at its offset: a pointer into the mapping. */
static void assert_tensor_is_mapped(const hf_model_t *m, const hf_tensor_info_t *t)
{
    size_t n = t->nbytes < 4096 ? (size_t)t->nbytes : 4096;
    unsigned char *buf = malloc(n ? n : 1);
    int found = 0;
    ck_assert_ptr_nonnull(t->data);
    for (size_t i = 0; i < hf_model_file_count(m) && !found; i++) {
        int fd = open(hf_model_file(m, i), O_RDONLY);
        ck_assert_int_ge(fd, 0);
        if (pread(fd, buf, n, (off_t)t->offset) == (ssize_t)n && memcmp(buf, t->data, n) == 0)
            found = 1;
        close(fd);
    }
    ck_assert_msg(found, "tensor %s: data is not the bytes of any of its files", t->name);
    free(buf);
}

static void assert_files_in_cache(const hf_model_t *m, size_t n)
{
    uint64_t total = 0;
    ck_assert_uint_eq(hf_model_file_count(m), n);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        const char *p = hf_model_file(m, i);
        ck_assert_msg(strncmp(p, cache, strlen(cache)) == 0, "%s is outside the cache", p);
        ck_assert_int_eq(stat(p, &st), 0);
        total += (uint64_t)st.st_size;
    }
    ck_assert_uint_eq(hf_model_bytes(m), total);
}

static void assert_shape(const hf_model_t *m, const char *name, hf_dtype_t dt, unsigned ndim,
                         uint64_t d0, uint64_t d1)
{
    const hf_tensor_info_t *t = hf_model_find_tensor(m, name);
    ck_assert_msg(t != NULL, "no tensor %s", name);
    ck_assert_int_eq(t->dtype, dt);
    ck_assert_uint_eq(t->ndim, ndim);
    ck_assert_uint_eq(t->shape[0], d0);
    if (ndim > 1)
        ck_assert_uint_eq(t->shape[1], d1);
    assert_tensor_is_mapped(m, t);
}

START_TEST(the_registry_lists_the_five_modules)
{
    static const char *const names[] = { "kimi-k2", "phi4-reasoning", "stella", "gte-qwen",
                                         "sd35-turbo" };
    ck_assert_uint_eq(hf_model_module_count(), 5);
    for (size_t i = 0; i < 5; i++) {
        ck_assert_str_eq(hf_model_module_name(i), names[i]);
        ck_assert_ptr_nonnull(hf_model_module_description(i));
    }
    ck_assert_ptr_null(hf_model_module_name(5));
}
END_TEST

START_TEST(kimi_loads_every_part_of_the_default_quant)
{
    hf_hub_t *h = hub_with(NULL);
    hf_model_t *m = load_ok(h, "kimi-k2", NULL);

    ck_assert_str_eq(hf_model_name(m), "kimi-k2");
    ck_assert_str_eq(hf_model_architecture(m), "deepseek2");
    assert_files_in_cache(m, 5);
    for (int k = 1; k <= 5; k++) {
        char want[96];
        snprintf(want, sizeof want, "Kimi-K2-Instruct-UD-TQ1_0-%05d-of-00005.gguf", k);
        ck_assert_ptr_nonnull(strstr(hf_model_file(m, (size_t)k - 1), want));
        ck_assert_int_eq(tu_mock_count(&mock, "GET", want), 1);
    }
    ck_assert_int_eq(hf_model_vocab_size(m), 1024);
    ck_assert_int_eq(hf_model_eos_token_id(m), 2);
    ck_assert_int_eq(hf_model_embedding_size(m), 64);
    ck_assert_uint_eq(hf_model_tensor_count(m), 1 + 4 * 4 + 2);
    assert_shape(m, "token_embd.weight", HF_DTYPE_F32, 2, 64, 1024);
    assert_shape(m, "blk.3.ffn_gate_exps.weight", HF_DTYPE_F32, 3, 64, 16);
    assert_shape(m, "output.weight", HF_DTYPE_F32, 2, 64, 1024);
    /* the other quantisation was not touched */
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "Q2_K_XL-00001-of-00003.gguf"), 0);
    assert_only_io_threads_ran_curl(h);
    hf_model_release(m);
    hf_hub_free(h);
}
END_TEST

START_TEST(kimi_quant_option_picks_the_other_set)
{
    hf_hub_t *h = hub_with(NULL);
    hf_model_opts_t o = { .quant = "UD-Q2_K_XL" };
    hf_model_t *m = load_ok(h, "kimi-k2", &o);
    assert_files_in_cache(m, 3);
    ck_assert_uint_eq(hf_model_tensor_count(m), 1 + 4 * 4 + 2);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "TQ1_0-00001-of-00005.gguf"), 0);
    hf_model_release(m);
    hf_hub_free(h);
}
END_TEST

START_TEST(phi4_takes_its_end_token_from_the_tokenizer_repo)
{
    hf_hub_t *h = hub_with(NULL);
    hf_model_t *m = load_ok(h, "phi4-reasoning", NULL);

    ck_assert_str_eq(hf_model_architecture(m), "phi3");
    assert_files_in_cache(m, 2);
    ck_assert_ptr_nonnull(strstr(hf_model_file(m, 0), "Phi-4-reasoning-Q4_K_M.gguf"));
    ck_assert_ptr_nonnull(strstr(hf_model_file(m, 1), "models--microsoft--Phi-4-reasoning"));
    ck_assert_int_eq(hf_model_eos_token_id(m), 100265);       /* <|im_end|> */
    ck_assert_int_eq(hf_model_vocab_size(m), 100267);
    ck_assert_int_eq(hf_model_embedding_size(m), 64);
    ck_assert_uint_eq(hf_model_tensor_count(m), 1 + 2 * 3 + 2);
    assert_shape(m, "blk.1.attn_qkv.weight", HF_DTYPE_F32, 2, 64, 192);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "Phi-4-reasoning-Q8_0.gguf"), 0);
    hf_model_release(m);
    hf_hub_free(h);
}
END_TEST

START_TEST(stella_loads_the_dense_head_of_the_chosen_size)
{
    hf_hub_t *h = hub_with(NULL);
    hf_model_opts_t o = { .dim = 256 };
    hf_model_t *m = load_ok(h, "stella", NULL), *m256;

    ck_assert_str_eq(hf_model_architecture(m), "new");
    assert_files_in_cache(m, 4);
    ck_assert_int_eq(hf_model_embedding_size(m), 1024);
    ck_assert_int_eq(hf_model_vocab_size(m), 128);
    ck_assert_int_eq(hf_model_eos_token_id(m), -1);
    ck_assert_uint_eq(hf_model_tensor_count(m), 1 + 2 * 4 + 2);
    assert_shape(m, "linear.weight", HF_DTYPE_F32, 2, 1024, 64);
    assert_shape(m, "embeddings.word_embeddings.weight", HF_DTYPE_F32, 2, 128, 64);

    m256 = load_ok(h, "stella", &o);
    ck_assert_ptr_ne(m, m256);
    ck_assert_int_eq(hf_model_embedding_size(m256), 256);
    assert_shape(m256, "linear.weight", HF_DTYPE_F32, 2, 256, 64);
    /* the shared files came from the cache: one GET each over both loads */
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/stella_en_400M_v5/resolve/main/config.json"), 1);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "2_Dense_4096/model.safetensors"), 0);
    hf_model_release(m);
    hf_model_release(m256);
    hf_hub_free(h);
}
END_TEST

START_TEST(stella_by_its_old_id_follows_the_rename)
{
    hf_hub_t *h = hub_with(NULL);
    hf_model_opts_t o = { .repo = "dunzhang/stella_en_400M_v5" };
    hf_model_t *m = load_ok(h, "stella", &o);
    ck_assert_str_eq(hf_model_architecture(m), "new");
    ck_assert_int_eq(hf_model_embedding_size(m), 1024);
    ck_assert_int_ge(tu_mock_count(&mock, "HEAD", "/dunzhang/stella_en_400M_v5/resolve/main/config.json"), 1);
    hf_model_release(m);
    hf_hub_free(h);
}
END_TEST

START_TEST(gte_fetches_every_shard_its_index_names)
{
    hf_hub_t *h = hub_with(NULL);
    hf_model_t *m = load_ok(h, "gte-qwen", NULL);

    ck_assert_str_eq(hf_model_architecture(m), "qwen2");
    assert_files_in_cache(m, 5);
    ck_assert_int_eq(hf_model_eos_token_id(m), 151643);        /* <|endoftext|> */
    ck_assert_int_eq(hf_model_vocab_size(m), 151646);
    ck_assert_int_eq(hf_model_embedding_size(m), 64);
    ck_assert_uint_eq(hf_model_tensor_count(m), 1 + 8 + 8 + 1);
    assert_shape(m, "model.layers.1.mlp.down_proj.weight", HF_DTYPE_F32, 2, 64, 128);
    assert_shape(m, "model.norm.weight", HF_DTYPE_F32, 1, 64, 0);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/model-00001-of-00002.safetensors"), 1);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/model-00002-of-00002.safetensors"), 1);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/model.safetensors.index.json"), 1);
    hf_model_release(m);
    hf_hub_free(h);
}
END_TEST

/* CLIP-G (width 64 in the fixtures) and CLIP-L (32) hold tensors of the same names: each
 * is found in its own file, and every tensor says which file it lies in. */
static void assert_clip_tensors_are_told_apart(const hf_model_t *m)
{
    const char *name = "text_model.final_layer_norm.weight";
    const hf_tensor_info_t *g = hf_model_find_tensor_in(m, "text_encoders/clip_g.safetensors",
                                                        name);
    const hf_tensor_info_t *l = hf_model_find_tensor_in(m, "clip_l.safetensors", name);
    const hf_tensor_info_t *any = hf_model_find_tensor(m, name);
    size_t n = hf_model_tensor_count(m), named = 0;

    ck_assert(g && l && g != l);
    ck_assert_uint_eq(g->shape[0], 64);
    ck_assert_uint_eq(l->shape[0], 32);
    ck_assert(any == g || any == l);
    ck_assert_ptr_null(hf_model_find_tensor_in(m, "_l.safetensors", name));  /* whole names */
    ck_assert_ptr_null(hf_model_find_tensor_in(m, "text_encoders/t5xxl_fp16.safetensors", name));
    ck_assert_ptr_null(hf_model_find_tensor_in(NULL, NULL, name));
    for (size_t i = 0; i < n; i++) {
        const hf_tensor_info_t *t = hf_model_tensor(m, i);
        const char *file = hf_model_file(m, hf_model_tensor_file(m, i));
        ck_assert_ptr_nonnull(file);
        ck_assert_ptr_eq(hf_model_find_tensor_in(m, strrchr(file, '/') + 1, t->name), t);
        if (strcmp(t->name, name) == 0) {
            const char *want = t == g ? "/text_encoders/clip_g.safetensors"
                                      : "/text_encoders/clip_l.safetensors";
            ck_assert_str_eq(file + strlen(file) - strlen(want), want);
            named++;
        }
    }
    ck_assert_uint_eq(named, 2);
    ck_assert_uint_eq(hf_model_tensor_file(m, n), (size_t)-1);
}

START_TEST(sd35_loads_with_a_token_from_five_repos)
{
    hf_hub_t *h = hub_with(TOKEN);
    hf_model_t *m = load_ok(h, "sd35-turbo", NULL);

    ck_assert_str_eq(hf_model_architecture(m), "sd3");
    assert_files_in_cache(m, 8);
    ck_assert_int_eq(hf_model_eos_token_id(m), 49407);
    ck_assert_int_eq(hf_model_vocab_size(m), 49408);
    ck_assert_int_eq(hf_model_embedding_size(m), 64);
    ck_assert_uint_eq(hf_model_tensor_count(m), 5 + 2 + 2 + 2);
    assert_shape(m, "model.diffusion_model.x_embedder.proj.weight", HF_DTYPE_F16, 4, 64, 16);
    assert_shape(m, "first_stage_model.decoder.conv_in.weight", HF_DTYPE_F16, 4, 64, 16);
    assert_shape(m, "shared.weight", HF_DTYPE_F16, 2, 128, 64);
    assert_clip_tensors_are_told_apart(m);
    assert_only_io_threads_ran_curl(h);
    hf_model_release(m);
    hf_hub_free(h);
}
END_TEST

START_TEST(sd35_without_a_token_is_egated)
{
    hf_hub_t *h = hub_with(NULL);
    char msg[256];
    ck_assert_int_eq(load_err(h, "sd35-turbo", NULL, msg, sizeof msg), HF_EGATED);
    ck_assert_msg(strstr(msg, "sd35-turbo") && strstr(msg, "gated"), "%s", msg);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "sd3.5_large_turbo.safetensors"), 0);
    hf_hub_free(h);
}
END_TEST

START_TEST(phi4_quant_option_loads_the_q8_0_file)
{
    hf_hub_t *h = hub_with(NULL);
    hf_model_opts_t o = { .quant = "Q8_0" };
    hf_model_t *m = load_ok(h, "phi4-reasoning", &o);

    ck_assert_str_eq(hf_model_architecture(m), "phi3");
    assert_files_in_cache(m, 2);
    ck_assert_ptr_nonnull(strstr(hf_model_file(m, 0), "Phi-4-reasoning-Q8_0.gguf"));
    ck_assert_int_eq(hf_model_eos_token_id(m), 100265);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "Phi-4-reasoning-Q8_0.gguf"), 1);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "Phi-4-reasoning-Q4_K_M.gguf"), 0);
    hf_model_release(m);
    hf_hub_free(h);
}
END_TEST

/* The build step runs on a compute worker, for every module (the model records the
 * worker that created it; -1 would be an I/O thread or the caller). */
START_TEST(every_module_builds_on_a_compute_worker)
{
    hf_hub_t *h = hub_with(TOKEN);
    for (size_t i = 0; i < hf_model_module_count(); i++) {
        hf_model_t *m = load_ok(h, hf_model_module_name(i), NULL);
        ck_assert_msg(m->built_on >= 0, "%s was built off the compute pool",
                      hf_model_name(m));
        hf_model_release(m);
    }
    assert_only_io_threads_ran_curl(h);
    hf_hub_free(h);
}
END_TEST

START_TEST(revision_quant_and_repo_are_part_of_the_key)
{
    hf_hub_t *h = hub_with(NULL);
    hf_model_opts_t main_rev = { .revision = "main" }, bad_rev = { .revision = "nosuchrev" };
    hf_model_opts_t q2 = { .quant = "UD-Q2_K_XL" };
    hf_model_opts_t old_id = { .repo = "dunzhang/stella_en_400M_v5" };
    hf_future_t *a = hf_model_load(rt, h, "stella", NULL);
    hf_future_t *b = hf_model_load(rt, h, "stella", &main_rev);
    hf_future_t *c = hf_model_load(rt, h, "stella", &bad_rev);
    hf_future_t *d = hf_model_load(rt, h, "stella", &old_id);
    hf_future_t *k1 = hf_model_load(rt, h, "kimi-k2", NULL);
    hf_future_t *k2 = hf_model_load(rt, h, "kimi-k2", &q2);

    ck_assert_ptr_eq(a, b);                 /* NULL is "main" */
    ck_assert_ptr_ne(a, c);
    ck_assert_ptr_ne(a, d);
    ck_assert_ptr_ne(k1, k2);
    ck_assert_int_eq(tu_settle(a), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(tu_settle(d), HF_FUTURE_FULFILLED);
    ck_assert_ptr_ne(hf_future_value(a), hf_future_value(d));
    ck_assert_int_eq(tu_settle(c), HF_FUTURE_REJECTED);
    ck_assert_msg(strstr(hf_future_error(c)->message, "nosuchrev") != NULL, "%s",
                  hf_future_error(c)->message);
    ck_assert_int_eq(tu_settle(k1), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(tu_settle(k2), HF_FUTURE_FULFILLED);
    ck_assert_uint_eq(hf_model_file_count(hf_future_value(k1)), 5);
    ck_assert_uint_eq(hf_model_file_count(hf_future_value(k2)), 3);
    hf_future_release(a);
    hf_future_release(b);
    hf_future_release(c);
    hf_future_release(d);
    hf_future_release(k1);
    hf_future_release(k2);
    hf_hub_free(h);
}
END_TEST

/* Two runtimes over one hub: each load runs on its own runtime's pools, so freeing the
 * first runtime while both loads are under way (the first shard's GET is stalled) leaves
 * the second load to complete, built by its own compute pool; the first is cancelled. On
 * one runtime the same load is still shared. */
START_TEST(loads_on_two_runtimes_are_independent)
{
    hf_hub_t *h = hub_with(NULL);
    hf_runtime_t *rt_a = tu_runtime(1), *rt_b = tu_runtime(1);
    hf_runtime_stats_t st;
    hf_future_t *fa, *fb, *again;
    hf_model_t *m;
    int sa;

    tu_mock_fault(&mock, "{\"path\": \"*/model-00001-of-00002.safetensors\", \"port\": \"cdn\", "
                  "\"method\": \"GET\", \"stall_ms\": 3000, \"count\": 1}");
    fa = hf_model_load(rt_a, h, "gte-qwen", NULL);
    fb = hf_model_load(rt_b, h, "gte-qwen", NULL);
    again = hf_model_load(rt_b, h, "gte-qwen", NULL);      /* same runtime: shared */
    ck_assert_ptr_nonnull(fa);
    ck_assert_ptr_nonnull(fb);
    ck_assert_ptr_eq(again, fb);
    hf_future_release(again);
    TU_EVENTUALLY(tu_mock_count(&mock, "GET", "/model-00001-of-00002.safetensors") >= 1);
    hf_runtime_free(rt_a);

    ck_assert_msg(tu_settle(fb) == HF_FUTURE_FULFILLED, "%s",
                  hf_future_state(fb) == HF_FUTURE_REJECTED ? hf_future_error(fb)->message
                                                            : "cancelled");
    m = hf_future_value(fb);
    ck_assert_str_eq(hf_model_architecture(m), "qwen2");
    ck_assert_int_eq(hf_model_vocab_size(m), 151646);
    ck_assert_int_eq(hf_model_embedding_size(m), 64);
    assert_files_in_cache(m, 5);
    ck_assert_ptr_ne(fa, fb);
    /* B's own pool built it (a worker counts a task once it returned) */
    TU_EVENTUALLY(hf_runtime_stats(rt_b, &st) == 0 && st.compute_tasks_run > 0);
    /* the load on the freed runtime never completes: it ends cancelled (or fulfilled, had
     * it finished first), and holds nothing that keeps the hub from being freed */
    sa = tu_settle(fa);
    ck_assert_msg(sa == HF_FUTURE_CANCELLED || sa == HF_FUTURE_FULFILLED, "state %d", sa);
    fprintf(stderr, "two runtimes: the load on the freed one ended %s\n",
            sa == HF_FUTURE_CANCELLED ? "cancelled" : "fulfilled");
    hf_future_release(fa);
    hf_future_release(fb);
    hf_hub_free(h);
    hf_runtime_free(rt_b);
}
END_TEST

/* The future was released but the model kept: the next load hands back that model (a new
 * future of it), without a request, a parse or a second mapping. */
START_TEST(a_model_kept_beyond_its_future_is_what_the_next_load_gets)
{
    hf_hub_t *h = hub_with(NULL);
    hf_model_t *m = load_ok(h, "gte-qwen", NULL);     /* its future is released */
    char *before = tu_mock_stats(&mock), *after;
    hf_future_t *f = hf_model_load(rt, h, "gte-qwen", NULL), *g;

    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_FULFILLED);   /* at once */
    ck_assert_ptr_eq(hf_future_value(f), m);
    g = hf_model_load(rt, h, "gte-qwen", NULL);
    ck_assert_ptr_eq(g, f);                 /* and that future while it lives */
    after = tu_mock_stats(&mock);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    hf_future_release(g);
    hf_future_release(f);
    hf_model_release(m);
    /* all gone: the next load builds a new model (from the cache) */
    m = load_ok(h, "gte-qwen", NULL);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "/model-00002-of-00002.safetensors"), 1);
    hf_model_release(m);
    hf_hub_free(h);
}
END_TEST

/* ---- sharing -------------------------------------------------------------------------- */

struct racer {
    hf_hub_t *h;
    pthread_barrier_t *bar;
    hf_future_t *f;
};

static void *race_load(void *arg)
{
    struct racer *r = arg;
    pthread_barrier_wait(r->bar);
    r->f = hf_model_load(rt, r->h, "gte-qwen", NULL);
    return NULL;
}

START_TEST(eight_concurrent_loads_make_one_get_per_file)
{
    hf_hub_t *h = hub_with(NULL);
    pthread_barrier_t bar;
    pthread_t th[8];
    struct racer r[8];
    static const char *const files[] = { "/config.json", "/tokenizer.json",
                                         "/model.safetensors.index.json",
                                         "/model-00001-of-00002.safetensors",
                                         "/model-00002-of-00002.safetensors" };

    pthread_barrier_init(&bar, NULL, 8);
    for (int i = 0; i < 8; i++) {
        r[i].h = h;
        r[i].bar = &bar;
        ck_assert_int_eq(pthread_create(&th[i], NULL, race_load, &r[i]), 0);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
    for (int i = 0; i < 8; i++) {
        ck_assert_ptr_eq(r[i].f, r[0].f);          /* one shared future */
        ck_assert_int_eq(tu_settle(r[i].f), HF_FUTURE_FULFILLED);
    }
    for (size_t i = 0; i < 5; i++) {
        char suffix[96];
        /* LFS files come from the CDN; the others from the resolve URL */
        if (strstr(files[i], ".safetensors") && !strstr(files[i], ".json"))
            snprintf(suffix, sizeof suffix, "%s", files[i]);
        else
            snprintf(suffix, sizeof suffix, "/gte-Qwen2-1.5B-instruct/resolve/main%s", files[i]);
        ck_assert_msg(tu_mock_count(&mock, "GET", suffix) == 1, "GETs of %s: %ld", files[i],
                      tu_mock_count(&mock, "GET", suffix));
    }
    /* loaded: a ninth load while the model lives is the same future, no request at all */
    {
        char *before = tu_mock_stats(&mock), *after;
        hf_future_t *again = hf_model_load(rt, h, "gte-qwen", NULL);
        ck_assert_ptr_eq(again, r[0].f);
        after = tu_mock_stats(&mock);
        ck_assert_str_eq(before, after);
        free(before);
        free(after);
        hf_future_release(again);
    }
    for (int i = 0; i < 8; i++)
        hf_future_release(r[i].f);
    hf_hub_free(h);
}
END_TEST

START_TEST(a_load_after_the_last_release_reads_the_cache)
{
    hf_hub_t *h = hub_with(NULL);
    hf_model_t *m = load_ok(h, "phi4-reasoning", NULL);
    hf_model_t *m2;
    const char *gguf = "/Phi-4-reasoning-Q4_K_M.gguf";      /* an LFS file: from the CDN */

    hf_model_release(m);        /* the last reference: the memo forgets it */
    m2 = load_ok(h, "phi4-reasoning", NULL);
    ck_assert_str_eq(hf_model_architecture(m2), "phi3");
    ck_assert_int_eq(tu_mock_count(&mock, "GET", gguf), 1);    /* not fetched again */
    hf_model_release(m2);
    hf_hub_free(h);
}
END_TEST

/* Whether the kernel lists `path` among this process's mappings: 1 or 0 where
 * /proc/self/maps says (Linux), -1 where nothing can say. */
static int kernel_maps(const char *path)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[1400];
    int found = 0;
    char real[1024];
    if (!f)
        return -1;
    ck_assert_ptr_nonnull(realpath(path, real));
    while (fgets(line, sizeof line, f))
        if (strstr(line, real))
            found = 1;
    fclose(f);
    return found;
}

START_TEST(the_last_release_unmaps_the_files)
{
    size_t before = hfi_map_live();
    hf_hub_t *h = hub_with(NULL);
    hf_model_t *m = load_ok(h, "gte-qwen", NULL);
    char shard[1024];
    size_t i;
    for (i = 0; i < hf_model_file_count(m); i++)
        if (strstr(hf_model_file(m, i), "model-00002-of-00002.safetensors"))
            break;
    ck_assert_uint_lt(i, hf_model_file_count(m));
    snprintf(shard, sizeof shard, "%s", hf_model_file(m, i));
    ck_assert_uint_gt(hfi_map_live(), before);      /* the library's count, everywhere */
    ck_assert_int_ne(kernel_maps(shard), 0);        /* and the kernel's, where it says */
    hf_model_release(m);
    /* the load's promise may hold the future (and so the model) a moment longer on the
     * worker that resolved it */
    TU_EVENTUALLY(hfi_map_live() == before);
    TU_EVENTUALLY(kernel_maps(shard) <= 0);
    hf_hub_free(h);
}
END_TEST

/* ---- cancellation and threads --------------------------------------------------------- */

static atomic_ulong progress_bytes;

static void on_progress(const hf_progress_t *p, void *arg)
{
    (void)arg;
    if (p->file_done > 0)
        atomic_fetch_add(&progress_bytes, 1);
}

static int count_incomplete(void)
{
    return tu_count_files_named(cache, ".incomplete");
}

START_TEST(a_cancelled_load_leaves_no_partial_file)
{
    hf_hub_t *h = hub_with(NULL);
    hf_model_opts_t o = { .progress = on_progress };
    hf_future_t *f, *again;
    hf_hub_stats_t st;

    tu_mock_fault(&mock, "{\"path\": \"*/model-00002-of-00002.safetensors\", \"port\": \"cdn\", "
                  "\"throttle_bps\": 2000}");
    atomic_store(&progress_bytes, 0);
    f = hf_model_load(rt, h, "gte-qwen", &o);
    TU_EVENTUALLY(atomic_load(&progress_bytes) > 0 && count_incomplete() > 0);
    ck_assert_int_eq(hf_future_cancel(f), 0);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_CANCELLED);
    TU_EVENTUALLY(hf_hub_stats(h, &st) == 0 && st.transfers_active == 0);
    TU_EVENTUALLY(count_incomplete() == 0);
    hf_future_release(f);

    /* a cancelled load is forgotten: the next one starts afresh and completes */
    tu_mock_reset(&mock);
    again = hf_model_load(rt, h, "gte-qwen", NULL);
    ck_assert_int_eq(tu_settle(again), HF_FUTURE_FULFILLED);
    hf_future_release(again);
    hf_hub_free(h);
}
END_TEST

/* GTE's index is missing while tokenizer.json comes slowly: the load fails on the index
 * and stops its other downloads at once, so once the hub is idle tokenizer.json is
 * neither in the cache nor left partial. */
START_TEST(a_failed_load_stops_its_other_downloads)
{
    hf_hub_t *h = hub_with(NULL);
    hf_hub_stats_t st;
    hf_future_t *f;

    tu_mock_fault(&mock, "{\"path\": \"*/model.safetensors.index.json\", \"status\": 404, "
                  "\"error_code\": \"EntryNotFound\"}");
    tu_mock_fault(&mock, "{\"path\": \"*/tokenizer.json\", \"method\": \"GET\", "
                  "\"throttle_bps\": 1000}");
    f = hf_model_load(rt, h, "gte-qwen", NULL);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_REJECTED);
    ck_assert_int_eq(hf_future_error(f)->code, HF_EENTRY_NOT_FOUND);
    ck_assert_msg(strstr(hf_future_error(f)->message, "model.safetensors.index.json") != NULL,
                  "%s", hf_future_error(f)->message);
    hf_future_release(f);
    TU_EVENTUALLY(hf_hub_stats(h, &st) == 0 && st.transfers_active == 0);
    /* the stopped downloads remove their partial files on an I/O thread, after their
     * transfers ended (seen under TSan: 2 left at the moment transfers_active read 0) */
    TU_EVENTUALLY(count_incomplete() == 0);
    ck_assert_int_eq(tu_count_files_named(cache, "tokenizer.json"), 0);
    assert_only_io_threads_ran_curl(h);         /* the stop ran no transfer elsewhere */
    hf_hub_free(h);
}
END_TEST

/* A cancelled load leaves the memo as it is cancelled: a call right after starts afresh. */
START_TEST(a_load_right_after_a_cancel_starts_afresh)
{
    hf_hub_t *h = hub_with(NULL);
    hf_hub_stats_t st;

    tu_mock_fault(&mock, "{\"path\": \"*/model-00002-of-00002.safetensors\", \"port\": \"cdn\", "
                  "\"throttle_bps\": 2000}");
    for (int i = 0; i < 5; i++) {
        hf_future_t *f = hf_model_load(rt, h, "gte-qwen", NULL), *g;
        ck_assert_int_eq(hf_future_state(f), HF_FUTURE_PENDING);
        ck_assert_int_eq(hf_future_cancel(f), 0);
        g = hf_model_load(rt, h, "gte-qwen", NULL);
        ck_assert_ptr_ne(g, f);
        ck_assert_int_eq(hf_future_state(g), HF_FUTURE_PENDING);
        ck_assert_int_eq(hf_future_cancel(g), 0);
        hf_future_release(f);
        hf_future_release(g);
    }
    TU_EVENTUALLY(hf_hub_stats(h, &st) == 0 && st.transfers_active == 0);
    TU_EVENTUALLY(count_incomplete() == 0);
    hf_hub_free(h);
}
END_TEST

/* Cancels landing at every moment of a load (downloads, build, resolve): each ends
 * fulfilled or cancelled, nothing is freed twice or leaked (the sanitizer builds), and a
 * load afterwards works. */
START_TEST(cancels_at_random_moments_race_completion_safely)
{
    hf_hub_t *h = hub_with(NULL);
    hf_model_t *m = load_ok(h, "stella", NULL);      /* then every load reads the cache */
    int fulfilled = 0, cancelled = 0;
    unsigned seed = 12345;

    hf_model_release(m);
    for (int i = 0; i < 150; i++) {
        hf_future_t *f = hf_model_load(rt, h, "stella", NULL);
        struct timespec ts = { 0, (long)(rand_r(&seed) % 8000) * 1000L };
        int state;
        nanosleep(&ts, NULL);
        hf_future_cancel(f);
        state = tu_settle(f);
        ck_assert(state == HF_FUTURE_FULFILLED || state == HF_FUTURE_CANCELLED);
        if (state == HF_FUTURE_FULFILLED) {
            ck_assert_str_eq(hf_model_architecture(hf_future_value(f)), "new");
            fulfilled++;
        } else {
            cancelled++;
        }
        hf_future_release(f);
    }
    fprintf(stderr, "cancel race: %d fulfilled, %d cancelled\n", fulfilled, cancelled);
    m = load_ok(h, "stella", NULL);
    ck_assert_int_eq(hf_model_embedding_size(m), 1024);
    hf_model_release(m);
    hf_hub_free(h);
}
END_TEST

/* Cancelled while Kimi K2's tree listing is still on its way: no part is ever fetched. */
START_TEST(a_load_cancelled_during_the_tree_listing_fetches_no_part)
{
    hf_hub_t *h = hub_with(NULL);
    hf_hub_stats_t st;
    hf_future_t *f;

    tu_mock_fault(&mock, "{\"path\": \"/api/models/" KIMI "/tree/*\", \"stall_ms\": 1500}");
    f = hf_model_load(rt, h, "kimi-k2", NULL);
    TU_EVENTUALLY(hf_hub_stats(h, &st) == 0 && st.requests >= 1);
    ck_assert_int_eq(hf_future_cancel(f), 0);
    TU_EVENTUALLY(hf_hub_stats(h, &st) == 0 && st.transfers_active == 0);
    {
        struct timespec ts = { 2, 0 };      /* past the stall: the listing would be in */
        nanosleep(&ts, NULL);
    }
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "Kimi-K2-Instruct-UD-TQ1_0-00001-of-00005.gguf"),
                     0);
    ck_assert_int_eq(tu_mock_count(&mock, "HEAD", "Kimi-K2-Instruct-UD-TQ1_0-00001-of-00005.gguf"),
                     0);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_CANCELLED);
    hf_future_release(f);
    hf_hub_free(h);
}
END_TEST

/* The load's runtime is freed while Kimi K2's tree listing is on its way: the module's
 * step after the listing (on that runtime's I/O pool) can never run. The load still ends
 * (cancelled), fetches no part, and lets the hub go (hf_hub_free returns). */
START_TEST(a_load_whose_runtime_is_freed_during_a_module_step_ends_and_lets_the_hub_go)
{
    hf_hub_t *h = hub_with(NULL);
    hf_runtime_t *mine = tu_runtime(1);
    hf_hub_stats_t st;
    hf_future_t *f;

    tu_mock_fault(&mock, "{\"path\": \"/api/models/" KIMI "/tree/*\", \"stall_ms\": 1500}");
    f = hf_model_load(mine, h, "kimi-k2", NULL);
    TU_EVENTUALLY(hf_hub_stats(h, &st) == 0 && st.requests >= 1);     /* the listing */
    hf_runtime_free(mine);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_CANCELLED);
    TU_EVENTUALLY(hf_hub_stats(h, &st) == 0 && st.transfers_active == 0);
    ck_assert_int_eq(tu_mock_count(&mock, "HEAD", "Kimi-K2-Instruct-UD-TQ1_0-00001-of-00005.gguf"),
                     0);
    hf_future_release(f);
    hf_hub_free(h);             /* the load's hold on it is gone */
}
END_TEST

static long long biggest_partial;

static int note_partial(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    size_t n = strlen(path);
    (void)ftw;
    if (type == FTW_F && n > 11 && strcmp(path + n - 11, ".incomplete") == 0 &&
        (long long)st->st_size > biggest_partial)
        biggest_partial = (long long)st->st_size;
    return 0;
}

/* The size of the biggest blobs/<etag>.incomplete in the cache (-1: none). */
static long long partial_in_cache(void)
{
    biggest_partial = -1;
    ck_assert_int_eq(nftw(cache, note_partial, 16, FTW_PHYS), 0);
    return biggest_partial;
}

/* The runtime that both the hub and a load run on is freed while a shard downloads: the
 * load ends cancelled, and the shard's partial file stays for the next run, as hub.h
 * says of a download that hf_runtime_free stops (the load's own withdrawal from its
 * downloads must not read as its requesters giving up). */
START_TEST(freeing_the_runtime_under_a_load_keeps_its_partial_files)
{
    hf_runtime_t *mine = tu_runtime(2);
    hf_hub_t *h = tu_hub_at(mine, mock.hub, cache, "", NULL);
    hf_future_t *f;
    long long kept;

    tu_mock_fault(&mock, "{\"path\": \"*/model-0000*-of-00002.safetensors\", \"port\": \"cdn\", "
                  "\"throttle_bps\": 20000}");
    f = hf_model_load(mine, h, "gte-qwen", NULL);
    TU_EVENTUALLY(partial_in_cache() > 16384);      /* a shard's: the other files are smaller */
    hf_runtime_free(mine);
    ck_assert_int_eq(tu_settle(f), HF_FUTURE_CANCELLED);
    hf_future_release(f);
    hf_hub_free(h);
    kept = partial_in_cache();
    ck_assert_msg(kept > 16384, "partial file: %lld bytes", kept);
}
END_TEST

struct in_worker {
    hf_hub_t *h;
    int worker;
};

static void *load_from_worker(void *arg, hf_error_t *err)
{
    struct in_worker *w = arg;
    hf_future_t *f;
    void *arch = NULL;

    w->worker = hf_current_worker();
    f = hf_model_load(rt, w->h, "kimi-k2", NULL);
    if (hf_future_wait(f, -1) == 0 && hf_future_state(f) == HF_FUTURE_FULFILLED)
        arch = strdup(hf_model_architecture(hf_future_value(f)));
    else
        hf_error_set(err, HF_EIO, 0, "load failed");
    hf_future_release(f);
    return arch;
}

START_TEST(a_load_waited_on_inside_a_compute_worker_completes)
{
    hf_hub_t *h = hub_with(NULL);
    struct in_worker w = { h, -1 };
    hf_future_t *f = hf_async_owned(hf_runtime_compute(rt), load_from_worker, &w, free);

    ck_assert_int_eq(tu_settle(f), HF_FUTURE_FULFILLED);
    ck_assert_int_ge(w.worker, 0);
    ck_assert_str_eq(hf_future_value(f), "deepseek2");
    assert_only_io_threads_ran_curl(h);
    hf_future_release(f);
    hf_hub_free(h);
}
END_TEST

/* ---- what users get wrong, and broken repos ------------------------------------------- */

START_TEST(bad_names_and_options_are_einval)
{
    hf_hub_t *h = hub_with(NULL);
    hf_model_opts_t dim = { .dim = 300 }, slash = { .quant = "../x" }, qs = { .quant = "Q8_0" };
    hf_model_opts_t longq = { .quant = "Q4_K_M_AND_THEN_SOME_MORE_LETTERS_X" };     /* 35 */
    char msg[256];

    ck_assert_int_eq(load_err(h, "llama", NULL, msg, sizeof msg), HF_EINVAL);
    ck_assert_ptr_nonnull(strstr(msg, "llama"));
    ck_assert_int_eq(load_err(h, "stella", &dim, msg, sizeof msg), HF_EINVAL);
    ck_assert_ptr_nonnull(strstr(msg, "300"));
    ck_assert_int_eq(load_err(h, "kimi-k2", &slash, msg, sizeof msg), HF_EINVAL);
    ck_assert_ptr_nonnull(strstr(msg, "../x"));
    ck_assert_int_eq(load_err(h, "phi4-reasoning", &longq, msg, sizeof msg), HF_EINVAL);
    ck_assert_msg(strstr(msg, "Q4_K_M_AND_THEN_SOME_MORE_LETTERS_X"), "%s", msg);
    ck_assert_int_eq(load_err(h, "gte-qwen", &qs, msg, sizeof msg), HF_EINVAL);
    ck_assert_ptr_null(hf_model_load(NULL, h, "stella", NULL));
    ck_assert_ptr_null(hf_model_load(rt, h, NULL, NULL));
    ck_assert_int_eq(tu_mock_count(&mock, "GET", ""), 0);      /* nothing was asked */
    hf_hub_free(h);
}
END_TEST

START_TEST(a_quant_the_repo_lacks_is_entry_not_found_naming_it)
{
    hf_hub_t *h = hub_with(NULL);
    hf_model_opts_t o = { .quant = "IQ1_S" }, p = { .quant = "Q2_K" };
    char msg[256];
    ck_assert_int_eq(load_err(h, "kimi-k2", &o, msg, sizeof msg), HF_EENTRY_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(msg, "IQ1_S"));
    ck_assert_int_eq(load_err(h, "phi4-reasoning", &p, msg, sizeof msg), HF_EENTRY_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(msg, "Phi-4-reasoning-Q2_K.gguf"));
    hf_hub_free(h);
}
END_TEST

static void remove_fixture(const char *repo, const char *path)
{
    char full[1024];
    snprintf(full, sizeof full, "%s/models/%s/%s", mock.root, repo, path);
    ck_assert_msg(unlink(full) == 0, "unlink %s", full);
}

START_TEST(a_missing_kimi_part_is_named)
{
    hf_hub_t *h;
    char msg[256];
    remove_fixture(KIMI, "UD-TQ1_0/Kimi-K2-Instruct-UD-TQ1_0-00003-of-00005.gguf");
    start_mock();
    h = hub_with(NULL);
    ck_assert_int_eq(load_err(h, "kimi-k2", NULL, msg, sizeof msg), HF_EENTRY_NOT_FOUND);
    ck_assert_msg(strstr(msg, "Kimi-K2-Instruct-UD-TQ1_0-00003-of-00005.gguf") != NULL, "%s", msg);
    /* nothing was downloaded for a set known to be incomplete */
    ck_assert_int_eq(tu_mock_count(&mock, "GET", "-00001-of-00005.gguf"), 0);
    hf_hub_free(h);
}
END_TEST

START_TEST(a_missing_gte_shard_is_named)
{
    hf_hub_t *h;
    char msg[256];
    remove_fixture(GTE, "model-00002-of-00002.safetensors");
    start_mock();
    h = hub_with(NULL);
    ck_assert_int_eq(load_err(h, "gte-qwen", NULL, msg, sizeof msg), HF_EENTRY_NOT_FOUND);
    ck_assert_msg(strstr(msg, "model-00002-of-00002.safetensors") != NULL, "%s", msg);
    hf_hub_free(h);
}
END_TEST

START_TEST(a_tensor_missing_from_its_shard_is_named)
{
    hf_hub_t *h;
    char path[1024], msg[256], *text;
    cJSON *doc;
    FILE *f;
    long n;

    /* the real index plus one entry for a tensor the shard does not have */
    snprintf(path, sizeof path, "%s/models/%s/model.safetensors.index.json", mock.root, GTE);
    f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    text = calloc(1, (size_t)n + 1);
    ck_assert_uint_eq(fread(text, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    doc = cJSON_Parse(text);
    free(text);
    ck_assert_ptr_nonnull(doc);
    cJSON_AddStringToObject(cJSON_GetObjectItem(doc, "weight_map"),
                            "model.layers.0.self_attn.ghost.weight",
                            "model-00001-of-00002.safetensors");
    text = cJSON_Print(doc);
    cJSON_Delete(doc);
    tu_mock_file(&mock, "model", GTE, "model.safetensors.index.json", text, strlen(text));
    free(text);
    start_mock();
    h = hub_with(NULL);
    ck_assert_int_eq(load_err(h, "gte-qwen", NULL, msg, sizeof msg), HF_EFORMAT);
    ck_assert_msg(strstr(msg, "model.layers.0.self_attn.ghost.weight") != NULL, "%s", msg);
    hf_hub_free(h);
}
END_TEST

START_TEST(a_gguf_of_another_architecture_says_what_it_found)
{
    hfi_gguf_writer_t *w = hfi_gguf_writer_new();
    hfi_buf_t buf = HFI_BUF_INIT;
    uint64_t dims[2] = { 64, 16 };
    hf_hub_t *h;
    hf_model_opts_t o = { .repo = "someone/llama-gguf" };
    char msg[256];

    hfi_gguf_add_str(w, "general.architecture", "llama");
    hfi_gguf_add_uint(w, "llama.embedding_length", HF_GGUF_UINT32, 64);
    hfi_gguf_add_tensor(w, "token_embd.weight", 0 /* F32 */, 2, dims, NULL);
    ck_assert_int_eq(hfi_gguf_writer_finish(w, &buf), 0);
    tu_mock_file(&mock, "model", "someone/llama-gguf", "Phi-4-reasoning-Q4_K_M.gguf", buf.data,
                 buf.len);
    hfi_buf_free(&buf);
    hfi_gguf_writer_free(w);
    start_mock();
    h = hub_with(NULL);
    ck_assert_int_eq(load_err(h, "phi4-reasoning", &o, msg, sizeof msg), HF_EUNSUPPORTED);
    ck_assert_msg(strstr(msg, "\"llama\"") && strstr(msg, "phi3"), "%s", msg);
    hf_hub_free(h);
}
END_TEST

START_TEST(a_truncated_weight_file_is_eformat_naming_it)
{
    hf_hub_t *h;
    char path[1024], msg[256];
    snprintf(path, sizeof path, "%s/models/NovaSearch/stella_en_400M_v5/model.safetensors",
             mock.root);
    ck_assert_int_eq(truncate(path, 200), 0);
    start_mock();
    h = hub_with(NULL);
    ck_assert_int_eq(load_err(h, "stella", NULL, msg, sizeof msg), HF_EFORMAT);
    ck_assert_msg(strstr(msg, "model.safetensors") != NULL, "%s", msg);
    hf_hub_free(h);
}
END_TEST

/* The VAE's tensors must be in the main file: found only in an encoder file, they do not
 * count. */
START_TEST(sd35_without_the_vae_in_its_main_file_is_named)
{
    hfi_st_writer_t *w = hfi_st_writer_new();
    hfi_buf_t buf = HFI_BUF_INIT;
    uint64_t x[4] = { 64, 16, 2, 2 }, emb[2] = { 128, 32 }, vae[4] = { 64, 16, 3, 3 };
    hf_hub_t *h;
    char msg[256];
    const char *repo = "stabilityai/stable-diffusion-3.5-large-turbo";

    hfi_st_add_tensor(w, "model.diffusion_model.x_embedder.proj.weight", "F16", 4, x, NULL);
    ck_assert_int_eq(hfi_st_writer_finish(w, &buf), 0);
    hfi_st_writer_free(w);
    tu_mock_file(&mock, "model", repo, "sd3.5_large_turbo.safetensors", buf.data, buf.len);
    hfi_buf_free(&buf);
    w = hfi_st_writer_new();
    hfi_st_add_tensor(w, "text_model.embeddings.token_embedding.weight", "F16", 2, emb, NULL);
    hfi_st_add_tensor(w, "first_stage_model.decoder.conv_in.weight", "F16", 4, vae, NULL);
    ck_assert_int_eq(hfi_st_writer_finish(w, &buf), 0);
    hfi_st_writer_free(w);
    tu_mock_file(&mock, "model", repo, "text_encoders/clip_l.safetensors", buf.data, buf.len);
    hfi_buf_free(&buf);
    start_mock();
    h = hub_with(TOKEN);
    ck_assert_int_eq(load_err(h, "sd35-turbo", NULL, msg, sizeof msg), HF_EFORMAT);
    ck_assert_msg(strstr(msg, "sd3.5_large_turbo.safetensors") &&
                  strstr(msg, "first_stage_model."), "%s", msg);
    hf_hub_free(h);
}
END_TEST

/* Offline there is no tree listing: Kimi K2 finds its parts in the cached snapshot, makes
 * no request, and an incomplete cache names the part it lacks. */
START_TEST(kimi_loads_offline_from_the_cache_and_names_a_missing_part)
{
    hf_hub_t *h = hub_with(NULL), *off;
    hf_model_t *m = load_ok(h, "kimi-k2", NULL), *m2;
    char part3[1024], msg[256];

    ck_assert_ptr_nonnull(strstr(hf_model_file(m, 2), "-00003-of-00005.gguf"));
    snprintf(part3, sizeof part3, "%s", hf_model_file(m, 2));
    hf_model_release(m);
    hf_hub_free(h);
    tu_mock_reset(&mock);

    off = offline_hub();
    m2 = load_ok(off, "kimi-k2", NULL);
    assert_files_in_cache(m2, 5);
    ck_assert_str_eq(hf_model_file(m2, 2), part3);
    ck_assert_str_eq(hf_model_architecture(m2), "deepseek2");
    ck_assert_int_eq(hf_model_vocab_size(m2), 1024);
    hf_model_release(m2);

    ck_assert_int_eq(unlink(part3), 0);     /* the snapshot's link: the cache is incomplete */
    ck_assert_int_eq(load_err(off, "kimi-k2", NULL, msg, sizeof msg), HF_EOFFLINE);
    ck_assert_msg(strstr(msg, "Kimi-K2-Instruct-UD-TQ1_0-00003-of-00005.gguf") != NULL, "%s",
                  msg);
    {
        hf_model_opts_t q2 = { .quant = "UD-Q2_K_XL" };     /* never fetched */
        ck_assert_int_eq(load_err(off, "kimi-k2", &q2, msg, sizeof msg), HF_EOFFLINE);
        ck_assert_msg(strstr(msg, "UD-Q2_K_XL") != NULL, "%s", msg);
    }
    assert_no_request();
    hf_hub_free(off);
}
END_TEST

/* A bad repo or revision override is refused by hf_model_load itself, in the call (as an
 * unknown name is): the modules that also fetch from other repos (sd35-turbo,
 * phi4-reasoning) must not start those downloads first. */
START_TEST(a_bad_repo_or_revision_is_einval_before_any_request)
{
    hf_hub_t *h = hub_with(TOKEN);
    hf_model_opts_t bad[2] = { { .repo = "a/b/c" }, { .revision = "refs/pr/../../x" } };
    hf_hub_stats_t st;

    for (size_t i = 0; i < hf_model_module_count(); i++) {
        const char *name = hf_model_module_name(i);
        for (size_t k = 0; k < 2; k++) {
            hf_future_t *f = hf_model_load(rt, h, name, &bad[k]);
            const char *what = k ? bad[k].revision : bad[k].repo;
            ck_assert_ptr_nonnull(f);
            ck_assert_msg(hf_future_state(f) == HF_FUTURE_REJECTED,
                          "%s with %s: not refused in the call", name, what);
            ck_assert_int_eq(hf_future_error(f)->code, HF_EINVAL);
            ck_assert_msg(strstr(hf_future_error(f)->message, name) &&
                          strstr(hf_future_error(f)->message, what), "%s",
                          hf_future_error(f)->message);
            hf_future_release(f);
        }
    }
    ck_assert_int_eq(hf_hub_stats(h, &st), 0);
    ck_assert_uint_eq(st.requests, 0);
    assert_no_request();
    hf_hub_free(h);
}
END_TEST

/* The quant's folder holds, beside its complete set, a file that also says it is part 1 of
 * 5 (a leftover upload of another set, here a byte copy of the real part 1): which file is
 * part 1 is ambiguous, so the load fails naming both, whatever the listing's order, and
 * downloads no part. */
START_TEST(a_second_set_in_the_quant_folder_is_refused_naming_both)
{
    /* (loop) one that sorts after the real parts, one before them */
    static const char *const strays[] = { "zz-old-upload-00001-of-00005.gguf",
                                          "Aa-old-upload-00001-of-00005.gguf" };
    char path[1024], msg[512], stray[128];
    hf_hub_t *h;
    FILE *f;
    char *data;
    long n;

    snprintf(path, sizeof path, "%s/models/%s/%s", mock.root, KIMI,
             "UD-TQ1_0/Kimi-K2-Instruct-UD-TQ1_0-00001-of-00005.gguf");
    f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    data = malloc((size_t)n);
    ck_assert_uint_eq(fread(data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    snprintf(stray, sizeof stray, "UD-TQ1_0/%s", strays[_i]);
    tu_mock_file(&mock, "model", KIMI, stray, data, (size_t)n);
    free(data);
    start_mock();
    h = hub_with(NULL);
    ck_assert_int_eq(load_err(h, "kimi-k2", NULL, msg, sizeof msg), HF_EFORMAT);
    ck_assert_msg(strstr(msg, strays[_i]) && strstr(msg, "Kimi-K2-Instruct-UD-TQ1_0-0000"),
                  "%s", msg);
    ck_assert_int_eq(tu_mock_count(&mock, "GET", ".gguf"), 0);
    hf_hub_free(h);
}
END_TEST

static Suite *models_suite(void)
{
    Suite *s = suite_create("models");
    TCase *tc = tcase_create("load");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, the_registry_lists_the_five_modules);
    tcase_add_test(tc, kimi_loads_every_part_of_the_default_quant);
    tcase_add_test(tc, kimi_quant_option_picks_the_other_set);
    tcase_add_test(tc, phi4_takes_its_end_token_from_the_tokenizer_repo);
    tcase_add_test(tc, stella_loads_the_dense_head_of_the_chosen_size);
    tcase_add_test(tc, stella_by_its_old_id_follows_the_rename);
    tcase_add_test(tc, gte_fetches_every_shard_its_index_names);
    tcase_add_test(tc, sd35_loads_with_a_token_from_five_repos);
    tcase_add_test(tc, sd35_without_a_token_is_egated);
    tcase_add_test(tc, eight_concurrent_loads_make_one_get_per_file);
    tcase_add_test(tc, a_load_after_the_last_release_reads_the_cache);
    tcase_add_test(tc, the_last_release_unmaps_the_files);
    tcase_add_test(tc, a_load_waited_on_inside_a_compute_worker_completes);
    tcase_add_test(tc, bad_names_and_options_are_einval);
    tcase_add_test(tc, a_quant_the_repo_lacks_is_entry_not_found_naming_it);
    tcase_add_test(tc, phi4_quant_option_loads_the_q8_0_file);
    tcase_add_test(tc, every_module_builds_on_a_compute_worker);
    tcase_add_test(tc, revision_quant_and_repo_are_part_of_the_key);
    tcase_add_test(tc, a_model_kept_beyond_its_future_is_what_the_next_load_gets);
    tcase_add_test(tc, loads_on_two_runtimes_are_independent);
    tcase_add_test(tc, kimi_loads_offline_from_the_cache_and_names_a_missing_part);
    tcase_add_test(tc, a_bad_repo_or_revision_is_einval_before_any_request);
    suite_add_tcase(s, tc);
    tc = tcase_create("cancel");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_cancelled_load_leaves_no_partial_file);
    tcase_add_test(tc, a_load_right_after_a_cancel_starts_afresh);
    tcase_add_test(tc, a_failed_load_stops_its_other_downloads);
    tcase_add_test(tc, cancels_at_random_moments_race_completion_safely);
    tcase_add_test(tc, a_load_cancelled_during_the_tree_listing_fetches_no_part);
    tcase_add_test(tc, a_load_whose_runtime_is_freed_during_a_module_step_ends_and_lets_the_hub_go);
    suite_add_tcase(s, tc);
    tc = tcase_create("keep");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, freeing_the_runtime_under_a_load_keeps_its_partial_files);
    suite_add_tcase(s, tc);
    tc = tcase_create("broken");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup_unstarted, teardown);
    tcase_add_test(tc, a_missing_kimi_part_is_named);
    tcase_add_test(tc, a_missing_gte_shard_is_named);
    tcase_add_test(tc, a_tensor_missing_from_its_shard_is_named);
    tcase_add_test(tc, a_gguf_of_another_architecture_says_what_it_found);
    tcase_add_test(tc, a_truncated_weight_file_is_eformat_naming_it);
    tcase_add_test(tc, sd35_without_the_vae_in_its_main_file_is_named);
    tcase_add_loop_test(tc, a_second_set_in_the_quant_folder_is_refused_naming_both, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(models_suite)
