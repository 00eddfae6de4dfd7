/*
 * check_fixtures.c - tools/hf-fixtures: every file FIXTURES.md lists, read back with the
 * public readers; nothing else in the tree; the same bytes on every run; --scale; the
 * tree served by hf-mock-hub; refusals (bad arguments, an OUTDIR that is a file, a link
 * that leads out of OUTDIR).
 */
#include "common/testutil.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/mockhub.h"

static char tree[256];          /* one tiny tree, shared by the read-back tests */

/* ---- helpers ------------------------------------------------------------------------------- */

/* Run hf-fixtures with `args` (shell words); its output into `out`; its exit status. */
static int run_tool(const char *args, char *out, size_t size)
{
    const char *top = getenv("HF_TOP_BUILDDIR");
    char cmd[1024];
    size_t n;
    FILE *p;
    int st;

    snprintf(cmd, sizeof cmd, "'%s/tools/hf-fixtures' %s 2>&1", top ? top : ".", args);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A fresh temporary folder `dir`, and the tool run into dir/out with `opts` (must succeed). */
static void make_tree(char *dir, size_t size, const char *opts)
{
    char args[512], out[4096];
    int rc;

    snprintf(dir, size, "/tmp/hfasync-fixtures-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(args, sizeof args, "'%s/out' %s", dir, opts);
    rc = run_tool(args, out, sizeof out);
    ck_assert_msg(rc == 0, "hf-fixtures %s: exit %d: %s", args, rc, out);
    ck_assert_msg(strstr(out, "11 repos, 48 files,") != NULL, "summary: %s", out);
}

static void remove_tree(const char *dir)
{
    char cmd[300];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* DIR/out/models/REL, in one of a few rotating buffers (several may be used in one call). */
static const char *at(const char *root, const char *rel)
{
    static char bufs[8][1024];
    static unsigned next;
    char *b = bufs[next++ % 8];

    snprintf(b, sizeof bufs[0], "%s/out/models/%s", root, rel);
    return b;
}

#define SHAPE(...)                                                                      \
    (unsigned)(sizeof((const uint64_t[]){ __VA_ARGS__ }) / sizeof(uint64_t)),           \
    (const uint64_t[]){ __VA_ARGS__ }

static void expect_tensor(const hf_tensor_info_t *t, const char *name, hf_dtype_t dtype,
                          unsigned ndim, const uint64_t *dims)
{
    ck_assert_msg(t != NULL, "no tensor %s", name);
    ck_assert_msg(t->dtype == dtype, "%s: dtype %s", name, hf_dtype_name(t->dtype));
    ck_assert_msg(t->ndim == ndim, "%s: %u dims", name, t->ndim);
    for (unsigned d = 0; d < ndim; d++)
        ck_assert_msg(t->shape[d] == dims[d], "%s: dim %u is %" PRIu64 ", not %" PRIu64, name,
                      d, t->shape[d], dims[d]);
}

static void expect_st(const hf_safetensors_t *st, const char *name, hf_dtype_t dtype,
                      unsigned ndim, const uint64_t *dims)
{
    expect_tensor(hf_safetensors_find_tensor(st, name), name, dtype, ndim, dims);
}

static void expect_gguf(const hf_gguf_t *g, const char *name, unsigned ndim, const uint64_t *dims)
{
    expect_tensor(hf_gguf_find_tensor(g, name), name, HF_DTYPE_F32, ndim, dims);
}

/* NAME(path): the TYPE that READER opens from `path`; the test fails with its message if not. */
#define OPENER(name, type, reader)                                                      \
    static type *name(const char *path)                                                 \
    {                                                                                   \
        type *obj = NULL;                                                               \
        hf_error_t err;                                                                 \
        ck_assert_msg(reader(path, &obj, &err) == 0, "%s: %s", path, err.message);      \
        return obj;                                                                     \
    }

OPENER(open_gguf, hf_gguf_t, hf_gguf_open)
OPENER(open_st_loose, hf_safetensors_t, hf_safetensors_open)
OPENER(load_tokenizer, hf_tokenizer_t, hf_tokenizer_load)
OPENER(load_json, hf_config_t, hf_config_load)
OPENER(load_index, hf_st_index_t, hf_st_index_load)

/* A safetensors file whose tensors also cover its data section with no gap. */
static hf_safetensors_t *open_st(const char *path)
{
    hf_safetensors_t *st = open_st_loose(path);
    hf_error_t err;
    ck_assert_msg(hf_safetensors_check_packed(st, &err) == 0, "%s: %s", path, err.message);
    return st;
}

static uint64_t gguf_u64(const hf_gguf_t *g, const char *key, hf_gguf_type_t type)
{
    uint64_t v;
    hf_error_t err;
    long i = hf_gguf_find_key(g, key);

    ck_assert_msg(i >= 0, "%s: no key %s", hf_gguf_name(g), key);
    ck_assert_msg(hf_gguf_kv_type(g, (size_t)i) == (int)type, "%s: type %d", key,
                  hf_gguf_kv_type(g, (size_t)i));
    ck_assert_msg(hf_gguf_get_u64(g, key, &v, &err) == 0, "%s", err.message);
    return v;
}

static void expect_gguf_str(const hf_gguf_t *g, const char *key, const char *want)
{
    const char *s;
    hf_error_t err;
    ck_assert_msg(hf_gguf_get_str(g, key, &s, NULL, &err) == 0, "%s", err.message);
    ck_assert_str_eq(s, want);
}

/* Token `i` of tokenizer.ggml.tokens is `want`. */
static void expect_gguf_token(const hf_gguf_array_t *a, uint64_t i, const char *want)
{
    const char *s;
    size_t len;
    ck_assert_int_eq(hf_gguf_array_str(a, i, &s, &len), 0);
    ck_assert_msg(len == strlen(want) && memcmp(s, want, len) == 0, "token %" PRIu64, i);
}

static void expect_token(const hf_tokenizer_t *tok, const char *text, uint32_t id)
{
    uint32_t got;
    ck_assert_msg(hf_tokenizer_token_id(tok, text, &got) == 0, "no token %s", text);
    ck_assert_msg(got == id, "%s is %u, not %u", text, got, id);
}

static void expect_int(const hf_config_t *cfg, const char *path, int64_t want)
{
    int64_t v;
    hf_error_t err;
    ck_assert_msg(hf_config_get_int(cfg, path, &v, &err) == 0, "%s", err.message);
    ck_assert_msg(v == want, "%s is %" PRId64, path, v);
}

static void expect_str(const hf_config_t *cfg, const char *path, const char *want)
{
    const char *s;
    hf_error_t err;
    ck_assert_msg(hf_config_get_str(cfg, path, &s, &err) == 0, "%s", err.message);
    ck_assert_str_eq(s, want);
}

/* ---- what FIXTURES.md lists --------------------------------------------------------------- */

#define KIMI "unsloth/Kimi-K2-Instruct-GGUF/"
#define PHI4 "unsloth/Phi-4-reasoning-GGUF/"
#define STELLA "NovaSearch/stella_en_400M_v5/"
#define GTE "Alibaba-NLP/gte-Qwen2-1.5B-instruct/"
#define SD35 "stabilityai/stable-diffusion-3.5-large-turbo/"

static const char *const weight_files[] = {
    KIMI "UD-TQ1_0/Kimi-K2-Instruct-UD-TQ1_0-00001-of-00005.gguf",
    KIMI "UD-TQ1_0/Kimi-K2-Instruct-UD-TQ1_0-00002-of-00005.gguf",
    KIMI "UD-TQ1_0/Kimi-K2-Instruct-UD-TQ1_0-00003-of-00005.gguf",
    KIMI "UD-TQ1_0/Kimi-K2-Instruct-UD-TQ1_0-00004-of-00005.gguf",
    KIMI "UD-TQ1_0/Kimi-K2-Instruct-UD-TQ1_0-00005-of-00005.gguf",
    KIMI "UD-Q2_K_XL/Kimi-K2-Instruct-UD-Q2_K_XL-00001-of-00003.gguf",
    KIMI "UD-Q2_K_XL/Kimi-K2-Instruct-UD-Q2_K_XL-00002-of-00003.gguf",
    KIMI "UD-Q2_K_XL/Kimi-K2-Instruct-UD-Q2_K_XL-00003-of-00003.gguf",
    PHI4 "Phi-4-reasoning-Q4_K_M.gguf",
    PHI4 "Phi-4-reasoning-Q8_0.gguf",
    STELLA "model.safetensors",
    STELLA "2_Dense_256/model.safetensors",
    STELLA "2_Dense_768/model.safetensors",
    STELLA "2_Dense_1024/model.safetensors",
    STELLA "2_Dense_2048/model.safetensors",
    STELLA "2_Dense_4096/model.safetensors",
    STELLA "2_Dense_6144/model.safetensors",
    STELLA "2_Dense_8192/model.safetensors",
    GTE "model-00001-of-00002.safetensors",
    GTE "model-00002-of-00002.safetensors",
    SD35 "sd3.5_large_turbo.safetensors",
    SD35 "text_encoders/clip_g.safetensors",
    SD35 "text_encoders/clip_l.safetensors",
    SD35 "text_encoders/t5xxl_fp16.safetensors",
};
#define N_WEIGHTS (sizeof weight_files / sizeof weight_files[0])

static const char *const other_files[] = {
    KIMI "README.md",
    "microsoft/Phi-4-reasoning/tokenizer.json",
    "microsoft/Phi-4-reasoning/config.json",
    STELLA "tokenizer.json",
    STELLA "config.json",
    STELLA "modules.json",
    GTE "config.json",
    GTE "tokenizer.json",
    GTE "model.safetensors.index.json",
    "openai/clip-vit-large-patch14/tokenizer.json",
    "laion/CLIP-ViT-bigG-14-laion2B-39B-b160k/tokenizer.json",
    "google/t5-v1_1-xxl/config.json",
    "lmz/mt5-tokenizers/t5-v1_1-xxl.tokenizer.json",
};

static const char *const repos[] = {
    "unsloth/Kimi-K2-Instruct-GGUF", "unsloth/Phi-4-reasoning-GGUF",
    "microsoft/Phi-4-reasoning", "NovaSearch/stella_en_400M_v5", "dunzhang/stella_en_400M_v5",
    "Alibaba-NLP/gte-Qwen2-1.5B-instruct", "stabilityai/stable-diffusion-3.5-large-turbo",
    "openai/clip-vit-large-patch14", "laion/CLIP-ViT-bigG-14-laion2B-39B-b160k",
    "google/t5-v1_1-xxl", "lmz/mt5-tokenizers",
};
#define N_REPOS (sizeof repos / sizeof repos[0])

static void make_shared_tree(void)
{
    make_tree(tree, sizeof tree, "");
}

static void remove_shared_tree(void)
{
    remove_tree(tree);
}

/* ---- the files, read back ------------------------------------------------------------------- */

static size_t files_seen;
static int count_file(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)path, (void)sb, (void)ftw;
    files_seen += type == FTW_F;
    return 0;
}

START_TEST(the_tree_holds_every_listed_file_and_nothing_else)
{
    struct stat sb;
    char settings[300];

    for (size_t i = 0; i < N_WEIGHTS; i++)
        ck_assert_msg(stat(at(tree, weight_files[i]), &sb) == 0 && S_ISREG(sb.st_mode), "%s",
                      weight_files[i]);
    for (size_t i = 0; i < sizeof other_files / sizeof other_files[0]; i++)
        ck_assert_msg(stat(at(tree, other_files[i]), &sb) == 0 && S_ISREG(sb.st_mode), "%s",
                      other_files[i]);
    for (size_t i = 0; i < N_REPOS; i++) {
        snprintf(settings, sizeof settings, "%s/.mockhub.json", repos[i]);
        ck_assert_msg(stat(at(tree, settings), &sb) == 0, "%s", settings);
    }
    files_seen = 0;
    ck_assert_int_eq(nftw(tree, count_file, 16, FTW_PHYS), 0);      /* no temporary left */
    ck_assert_uint_eq(files_seen, N_WEIGHTS + sizeof other_files / sizeof other_files[0] +
                      N_REPOS);
}
END_TEST

/*
 * Open the `n` parts of Kimi quantisation `quant` under `root` into `parts`, each with its
 * split keys (of the spec's types), and check that they form one set of 19 tensors.
 */
static void open_kimi_set(const char *root, const char *quant, unsigned n, hf_gguf_t **parts)
{
    const hf_gguf_t *cparts[5];
    size_t tensors = 0;
    hf_error_t err;
    char rel[160];

    ck_assert_uint_le(n, 5);
    for (unsigned k = 0; k < n; k++) {
        snprintf(rel, sizeof rel, KIMI "%s/Kimi-K2-Instruct-%s-%05u-of-%05u.gguf", quant, quant,
                 k + 1, n);
        cparts[k] = parts[k] = open_gguf(at(root, rel));
        ck_assert_uint_eq(gguf_u64(parts[k], "split.no", HF_GGUF_UINT16), k);
        ck_assert_uint_eq(gguf_u64(parts[k], "split.count", HF_GGUF_UINT16), n);
        ck_assert_uint_eq(gguf_u64(parts[k], "split.tensors.count", HF_GGUF_INT32), 19);
        ck_assert_uint_gt(hf_gguf_tensor_count(parts[k]), 0);
        tensors += hf_gguf_tensor_count(parts[k]);
    }
    ck_assert_msg(hf_gguf_check_split(cparts, n, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(tensors, 19);
}

/*
 * Load gte-qwen's index under `root` and open its two shards into `shards`: the index names
 * them in order, puts every tensor where it is, and its total_size is their tensors' sum.
 */
static hf_st_index_t *open_gte_checkpoint(const char *root, hf_safetensors_t **shards)
{
    static const char *const names[2] = { "model-00001-of-00002.safetensors",
                                          "model-00002-of-00002.safetensors" };
    const hf_safetensors_t *cshards[2];
    hf_st_index_t *idx;
    hf_error_t err;
    uint64_t total, sum = 0;
    char rel[160];

    idx = load_index(at(root, GTE "model.safetensors.index.json"));
    ck_assert_uint_eq(hf_st_index_shard_count(idx), 2);
    for (size_t i = 0; i < 2; i++) {
        ck_assert_str_eq(hf_st_index_shard(idx, i), names[i]);
        snprintf(rel, sizeof rel, GTE "%s", names[i]);
        cshards[i] = shards[i] = open_st(at(root, rel));
        for (size_t k = 0; k < hf_safetensors_tensor_count(shards[i]); k++)
            sum += hf_safetensors_tensor(shards[i], k)->nbytes;
    }
    ck_assert_msg(hf_st_index_check(idx, cshards, names, 2, &err) == 0, "%s", err.message);
    ck_assert_int_eq(hf_st_index_total_size(idx, &total), 0);
    ck_assert_uint_eq(total, sum);
    return idx;
}

START_TEST(kimi_parts_form_whole_split_sets_with_the_model_metadata_in_part_one)
{
    static const struct { const char *quant; unsigned parts; } sets[] = {
        { "UD-TQ1_0", 5 }, { "UD-Q2_K_XL", 3 },
    };
    static const char *const blk[] = { "attn_norm", "attn_q_a", "attn_kv_a_mqa",
                                       "ffn_gate_exps" };

    for (size_t s = 0; s < 2; s++) {
        hf_gguf_t *parts[5];
        unsigned n = sets[s].parts;
        hf_error_t err;
        hf_gguf_array_t toks;
        char name[64];

        open_kimi_set(tree, sets[s].quant, n, parts);
        for (unsigned k = 0; k < n; k++)
            ck_assert_int_eq(hf_gguf_find_key(parts[k], "general.architecture") >= 0, k == 0);
        expect_gguf_str(parts[0], "general.architecture", "deepseek2");
        expect_gguf_str(parts[0], "general.name", "Kimi-K2-Instruct");
        ck_assert_uint_eq(gguf_u64(parts[0], "general.alignment", HF_GGUF_UINT32), 32);
        ck_assert_uint_eq(hf_gguf_alignment(parts[0]), 32);
        ck_assert_uint_eq(gguf_u64(parts[0], "deepseek2.context_length", HF_GGUF_UINT32), 4096);
        ck_assert_uint_eq(gguf_u64(parts[0], "deepseek2.embedding_length", HF_GGUF_UINT32), 64);
        ck_assert_uint_eq(gguf_u64(parts[0], "deepseek2.block_count", HF_GGUF_UINT32), 4);
        ck_assert_uint_eq(gguf_u64(parts[0], "deepseek2.attention.head_count", HF_GGUF_UINT32),
                          4);
        ck_assert_uint_eq(gguf_u64(parts[0], "deepseek2.expert_count", HF_GGUF_UINT32), 8);
        expect_gguf_str(parts[0], "tokenizer.ggml.model", "gpt2");
        ck_assert_uint_eq(gguf_u64(parts[0], "tokenizer.ggml.bos_token_id", HF_GGUF_UINT32), 1);
        ck_assert_uint_eq(gguf_u64(parts[0], "tokenizer.ggml.eos_token_id", HF_GGUF_UINT32), 2);
        ck_assert_int_eq(hf_gguf_get_array(parts[0], "tokenizer.ggml.tokens", &toks, &err), 0);
        ck_assert_int_eq(toks.type, HF_GGUF_STRING);
        ck_assert_uint_eq(toks.count, 1024);
        expect_gguf_token(&toks, 0, "<t0>");
        expect_gguf_token(&toks, 1, "[BOS]");
        expect_gguf_token(&toks, 2, "[EOS]");
        expect_gguf_token(&toks, 1023, "<t1023>");

        expect_gguf(parts[0], "token_embd.weight", SHAPE(64, 1024));
        expect_gguf(parts[n - 1], "output_norm.weight", SHAPE(64));
        expect_gguf(parts[n - 1], "output.weight", SHAPE(64, 1024));
        for (unsigned b = 0; b < 4; b++)
            for (unsigned j = 0; j < 4; j++) {
                const hf_tensor_info_t *t = NULL;
                static const uint64_t dims[4][3] = { { 64 }, { 64, 32 }, { 64, 32 },
                                                     { 64, 16, 8 } };
                snprintf(name, sizeof name, "blk.%u.%s.weight", b, blk[j]);
                for (unsigned k = 0; k < n && !t; k++)
                    t = hf_gguf_find_tensor(parts[k], name);
                expect_tensor(t, name, HF_DTYPE_F32, j == 0 ? 1 : j == 3 ? 3 : 2, dims[j]);
            }
        for (unsigned k = 0; k < n; k++)
            hf_gguf_close(parts[k]);
    }
}
END_TEST

START_TEST(kimi_readme_is_text)
{
    char buf[256];
    FILE *f = fopen(at(tree, KIMI "README.md"), "r");

    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(buf, sizeof buf, f));
    fclose(f);
    ck_assert_int_eq(buf[0], '#');
}
END_TEST

START_TEST(phi4_ggufs_are_phi3_and_the_end_token_comes_from_tokenizer_json)
{
    static const char *const files[] = { PHI4 "Phi-4-reasoning-Q4_K_M.gguf",
                                         PHI4 "Phi-4-reasoning-Q8_0.gguf" };
    hf_tokenizer_t *tok;
    hf_config_t *cfg;

    for (size_t i = 0; i < 2; i++) {
        hf_gguf_t *g = open_gguf(at(tree, files[i]));
        hf_gguf_array_t toks;
        hf_error_t err;
        char name[64];

        expect_gguf_str(g, "general.architecture", "phi3");
        expect_gguf_str(g, "general.name", "Phi-4-reasoning");
        ck_assert_uint_eq(gguf_u64(g, "phi3.context_length", HF_GGUF_UINT32), 32768);
        ck_assert_uint_eq(gguf_u64(g, "phi3.embedding_length", HF_GGUF_UINT32), 64);
        ck_assert_uint_eq(gguf_u64(g, "phi3.block_count", HF_GGUF_UINT32), 2);
        ck_assert_uint_eq(gguf_u64(g, "phi3.attention.head_count", HF_GGUF_UINT32), 4);
        expect_gguf_str(g, "tokenizer.ggml.model", "gpt2");
        ck_assert_int_eq(hf_gguf_get_array(g, "tokenizer.ggml.tokens", &toks, &err), 0);
        ck_assert_uint_eq(toks.count, 512);
        expect_gguf_token(&toks, 511, "<t511>");
        ck_assert_int_eq(hf_gguf_find_key(g, "tokenizer.ggml.eos_token_id"), -1);
        ck_assert_int_eq(hf_gguf_find_key(g, "split.count"), -1);
        ck_assert_uint_eq(hf_gguf_tensor_count(g), 9);
        expect_gguf(g, "token_embd.weight", SHAPE(64, 512));
        for (unsigned b = 0; b < 2; b++) {
            snprintf(name, sizeof name, "blk.%u.attn_qkv.weight", b);
            expect_gguf(g, name, SHAPE(64, 192));
            snprintf(name, sizeof name, "blk.%u.ffn_up.weight", b);
            expect_gguf(g, name, SHAPE(64, 128));
            snprintf(name, sizeof name, "blk.%u.ffn_down.weight", b);
            expect_gguf(g, name, SHAPE(128, 64));
        }
        expect_gguf(g, "output_norm.weight", SHAPE(64));
        expect_gguf(g, "output.weight", SHAPE(64, 512));
        hf_gguf_close(g);
    }

    tok = load_tokenizer(at(tree, "microsoft/Phi-4-reasoning/tokenizer.json"));
    ck_assert_str_eq(hf_tokenizer_model_type(tok), "BPE");
    expect_token(tok, "<|endoftext|>", 100257);
    expect_token(tok, "<|im_start|>", 100264);
    expect_token(tok, "<|im_end|>", 100265);
    expect_token(tok, "<|im_sep|>", 100266);
    expect_token(tok, "t0", 0);
    expect_token(tok, "t99", 99);
    ck_assert_uint_eq(hf_tokenizer_added_count(tok), 4);
    hf_tokenizer_free(tok);

    cfg = load_json(at(tree, "microsoft/Phi-4-reasoning/config.json"));
    expect_str(cfg, "architectures.0", "Phi3ForCausalLM");
    expect_str(cfg, "model_type", "phi3");
    expect_int(cfg, "vocab_size", 100352);
    expect_int(cfg, "hidden_size", 5120);
    expect_int(cfg, "eos_token_id", 100265);
    hf_config_free(cfg);
}
END_TEST

START_TEST(stella_has_the_encoder_every_dense_size_and_a_wordpiece_vocab)
{
    static const unsigned dims[] = { 256, 768, 1024, 2048, 4096, 6144, 8192 };
    hf_safetensors_t *st = open_st(at(tree, STELLA "model.safetensors"));
    hf_tokenizer_t *tok;
    hf_config_t *cfg;
    char name[96];

    ck_assert_str_eq(hf_safetensors_metadata_get(st, "format"), "pt");
    ck_assert_uint_eq(hf_safetensors_tensor_count(st), 9);
    expect_st(st, "embeddings.word_embeddings.weight", HF_DTYPE_F32, SHAPE(128, 64));
    for (unsigned l = 0; l < 2; l++) {
        snprintf(name, sizeof name, "encoder.layer.%u.attention.qkv_proj.weight", l);
        expect_st(st, name, HF_DTYPE_F32, SHAPE(192, 64));
        snprintf(name, sizeof name, "encoder.layer.%u.attention.o_proj.weight", l);
        expect_st(st, name, HF_DTYPE_F32, SHAPE(64, 64));
        snprintf(name, sizeof name, "encoder.layer.%u.mlp.up_gate_proj.weight", l);
        expect_st(st, name, HF_DTYPE_F32, SHAPE(256, 64));
        snprintf(name, sizeof name, "encoder.layer.%u.mlp.down_proj.weight", l);
        expect_st(st, name, HF_DTYPE_F32, SHAPE(64, 128));
    }
    hf_safetensors_close(st);

    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        snprintf(name, sizeof name, STELLA "2_Dense_%u/model.safetensors", dims[i]);
        st = open_st(at(tree, name));
        ck_assert_uint_eq(hf_safetensors_tensor_count(st), 2);
        expect_st(st, "linear.weight", HF_DTYPE_F32, SHAPE(dims[i], 64));
        expect_st(st, "linear.bias", HF_DTYPE_F32, SHAPE(dims[i]));
        hf_safetensors_close(st);
    }

    tok = load_tokenizer(at(tree, STELLA "tokenizer.json"));
    ck_assert_str_eq(hf_tokenizer_model_type(tok), "WordPiece");
    ck_assert_uint_eq(hf_tokenizer_vocab_size(tok), 128);
    expect_token(tok, "[PAD]", 0);
    expect_token(tok, "[UNK]", 100);
    expect_token(tok, "[CLS]", 101);
    expect_token(tok, "[SEP]", 102);
    expect_token(tok, "[MASK]", 103);
    expect_token(tok, "t1", 1);
    expect_token(tok, "t127", 127);
    hf_tokenizer_free(tok);

    cfg = load_json(at(tree, STELLA "config.json"));
    expect_str(cfg, "architectures.0", "NewModel");
    expect_str(cfg, "model_type", "new");
    expect_int(cfg, "hidden_size", 64);
    expect_int(cfg, "vocab_size", 128);
    expect_int(cfg, "num_hidden_layers", 2);
    hf_config_free(cfg);

    cfg = load_json(at(tree, STELLA "modules.json"));
    expect_str(cfg, "0.type", "sentence_transformers.models.Transformer");
    expect_str(cfg, "1.path", "2_Dense_1024");
    expect_str(cfg, "1.type", "sentence_transformers.models.Dense");
    hf_config_free(cfg);
}
END_TEST

START_TEST(gte_qwen_index_matches_its_two_shards)
{
    static const char *const proj[] = { "q", "k", "v", "o" };
    hf_safetensors_t *shards[2];
    hf_st_index_t *idx;
    hf_tokenizer_t *tok;
    hf_config_t *cfg;
    char name[96];

    cfg = load_json(at(tree, GTE "config.json"));
    expect_str(cfg, "architectures.0", "Qwen2ForCausalLM");
    expect_str(cfg, "model_type", "qwen2");
    expect_int(cfg, "hidden_size", 64);
    expect_int(cfg, "num_hidden_layers", 2);
    expect_int(cfg, "vocab_size", 151646);
    expect_int(cfg, "eos_token_id", 151643);
    expect_int(cfg, "bos_token_id", 151643);
    expect_str(cfg, "torch_dtype", "float32");
    hf_config_free(cfg);

    tok = load_tokenizer(at(tree, GTE "tokenizer.json"));
    ck_assert_str_eq(hf_tokenizer_model_type(tok), "BPE");
    expect_token(tok, "<|endoftext|>", 151643);
    expect_token(tok, "<|im_start|>", 151644);
    expect_token(tok, "<|im_end|>", 151645);
    expect_token(tok, "t255", 255);
    ck_assert_uint_eq(hf_tokenizer_vocab_size(tok), 151646);
    hf_tokenizer_free(tok);

    idx = open_gte_checkpoint(tree, shards);
    ck_assert_uint_eq(hf_st_index_tensor_count(idx), 18);
    expect_st(shards[0], "model.embed_tokens.weight", HF_DTYPE_F32, SHAPE(256, 64));
    for (unsigned l = 0; l < 2; l++) {
        for (unsigned k = 0; k < 4; k++) {
            snprintf(name, sizeof name, "model.layers.%u.self_attn.%s_proj.weight", l, proj[k]);
            expect_st(shards[l], name, HF_DTYPE_F32, SHAPE(64, 64));
        }
        snprintf(name, sizeof name, "model.layers.%u.mlp.gate_proj.weight", l);
        expect_st(shards[l], name, HF_DTYPE_F32, SHAPE(128, 64));
        snprintf(name, sizeof name, "model.layers.%u.mlp.up_proj.weight", l);
        expect_st(shards[l], name, HF_DTYPE_F32, SHAPE(128, 64));
        snprintf(name, sizeof name, "model.layers.%u.mlp.down_proj.weight", l);
        expect_st(shards[l], name, HF_DTYPE_F32, SHAPE(64, 128));
        snprintf(name, sizeof name, "model.layers.%u.input_layernorm.weight", l);
        expect_st(shards[l], name, HF_DTYPE_F32, SHAPE(64));
    }
    expect_st(shards[1], "model.norm.weight", HF_DTYPE_F32, SHAPE(64));
    hf_safetensors_close(shards[0]);
    hf_safetensors_close(shards[1]);
    hf_st_index_free(idx);
}
END_TEST

START_TEST(sd35_checkpoint_holds_the_diffusion_model_and_vae_under_their_prefixes)
{
    hf_safetensors_t *st = open_st(at(tree, SD35 "sd3.5_large_turbo.safetensors"));
    size_t dm = 0, vae = 0;

    ck_assert_str_eq(hf_safetensors_metadata_get(st, "modelspec.architecture"),
                     "stable-diffusion-v3.5-large-turbo");
    for (size_t i = 0; i < hf_safetensors_tensor_count(st); i++) {
        const char *n = hf_safetensors_tensor(st, i)->name;
        dm += strncmp(n, "model.diffusion_model.", 22) == 0;
        vae += strncmp(n, "first_stage_model.", 18) == 0;
    }
    ck_assert_uint_eq(dm, 3);
    ck_assert_uint_eq(vae, 2);
    expect_st(st, "model.diffusion_model.x_embedder.proj.weight", HF_DTYPE_F16,
              SHAPE(64, 16, 2, 2));
    expect_st(st, "model.diffusion_model.joint_blocks.0.x_block.attn.qkv.weight", HF_DTYPE_F16,
              SHAPE(192, 64));
    expect_st(st, "model.diffusion_model.final_layer.linear.weight", HF_DTYPE_F16,
              SHAPE(64, 64));
    expect_st(st, "first_stage_model.decoder.conv_in.weight", HF_DTYPE_F16, SHAPE(64, 16, 3, 3));
    expect_st(st, "first_stage_model.encoder.conv_out.weight", HF_DTYPE_F16,
              SHAPE(32, 64, 3, 3));
    hf_safetensors_close(st);

    st = open_st(at(tree, SD35 "text_encoders/clip_g.safetensors"));
    expect_st(st, "text_model.embeddings.token_embedding.weight", HF_DTYPE_F16, SHAPE(128, 64));
    expect_st(st, "text_model.final_layer_norm.weight", HF_DTYPE_F16, SHAPE(64));
    hf_safetensors_close(st);
    st = open_st(at(tree, SD35 "text_encoders/clip_l.safetensors"));
    expect_st(st, "text_model.embeddings.token_embedding.weight", HF_DTYPE_F16, SHAPE(128, 32));
    expect_st(st, "text_model.final_layer_norm.weight", HF_DTYPE_F16, SHAPE(32));
    hf_safetensors_close(st);
    st = open_st(at(tree, SD35 "text_encoders/t5xxl_fp16.safetensors"));
    expect_st(st, "encoder.block.0.layer.0.SelfAttention.q.weight", HF_DTYPE_F16, SHAPE(64, 64));
    expect_st(st, "shared.weight", HF_DTYPE_F16, SHAPE(128, 64));
    hf_safetensors_close(st);
}
END_TEST

START_TEST(sd35_helper_repos_have_the_clip_and_t5_tokenizers_and_config)
{
    static const char *const clip[] = { "openai/clip-vit-large-patch14/tokenizer.json",
                                        "laion/CLIP-ViT-bigG-14-laion2B-39B-b160k/tokenizer.json" };
    hf_tokenizer_t *tok;
    hf_config_t *cfg;

    for (size_t i = 0; i < 2; i++) {
        tok = load_tokenizer(at(tree, clip[i]));
        ck_assert_str_eq(hf_tokenizer_model_type(tok), "BPE");
        expect_token(tok, "<|startoftext|>", 49406);
        expect_token(tok, "<|endoftext|>", 49407);
        expect_token(tok, "t63", 63);
        ck_assert_int_eq(hf_tokenizer_token_id(tok, "t64", &(uint32_t){ 0 }), HF_ENOENT);
        hf_tokenizer_free(tok);
    }
    cfg = load_json(at(tree, "google/t5-v1_1-xxl/config.json"));
    expect_str(cfg, "architectures.0", "T5EncoderModel");
    expect_int(cfg, "d_model", 4096);
    expect_int(cfg, "vocab_size", 32128);
    expect_int(cfg, "eos_token_id", 1);
    hf_config_free(cfg);

    tok = load_tokenizer(at(tree, "lmz/mt5-tokenizers/t5-v1_1-xxl.tokenizer.json"));
    ck_assert_str_eq(hf_tokenizer_model_type(tok), "Unigram");
    ck_assert_uint_eq(hf_tokenizer_vocab_size(tok), 64);
    expect_token(tok, "<pad>", 0);
    expect_token(tok, "</s>", 1);
    expect_token(tok, "<unk>", 2);
    expect_token(tok, "t63", 63);
    hf_tokenizer_free(tok);
}
END_TEST

START_TEST(every_repo_has_its_settings)
{
    char rel[300];
    hf_config_t *cfg;
    size_t n;

    for (size_t i = 0; i < N_REPOS; i++) {
        if (strncmp(repos[i], "dunzhang/", 9) == 0)
            continue;
        snprintf(rel, sizeof rel, "%s/.mockhub.json", repos[i]);
        cfg = load_json(at(tree, rel));
        ck_assert_int_eq(hf_config_get_array_len(cfg, "lfs", &n, NULL), 0);
        ck_assert_uint_eq(n, 2);
        expect_str(cfg, "lfs.0", "*.gguf");
        expect_str(cfg, "lfs.1", "*.safetensors");
        ck_assert_int_eq(hf_config_type(cfg, "gated"),
                         strstr(repos[i], "stable-diffusion") ? HF_JSON_STRING : HF_ENOENT);
        hf_config_free(cfg);
    }
    cfg = load_json(at(tree, SD35 ".mockhub.json"));
    expect_str(cfg, "gated", "manual");
    expect_str(cfg, "tokens.0", "hf_fixture_token");
    hf_config_free(cfg);
    cfg = load_json(at(tree, "dunzhang/stella_en_400M_v5/.mockhub.json"));
    expect_str(cfg, "renamed_to", "NovaSearch/stella_en_400M_v5");
    hf_config_free(cfg);
}
END_TEST

/* ---- runs ---------------------------------------------------------------------------------- */

START_TEST(two_runs_write_byte_identical_trees_and_a_rerun_replaces_in_place)
{
    char other[256], cmd[700], out[4096], args[300];

    make_tree(other, sizeof other, "");
    snprintf(cmd, sizeof cmd, "diff -r '%s/out' '%s/out' >/dev/null", tree, other);
    ck_assert_msg(system(cmd) == 0, "the trees differ: %s", cmd);
    snprintf(args, sizeof args, "'%s/out'", other);
    ck_assert_int_eq(run_tool(args, out, sizeof out), 0);      /* over the existing tree */
    ck_assert_msg(system(cmd) == 0, "the rerun differs: %s", cmd);
    remove_tree(other);
}
END_TEST

START_TEST(scale_2_makes_every_weight_file_about_2_mib_and_keeps_it_valid)
{
    hf_gguf_t *kimi[5];
    hf_safetensors_t *gte[2];
    hf_st_index_t *idx;
    uint64_t total;
    char big[256];
    struct stat sb;

    make_tree(big, sizeof big, "--scale 2");
    for (size_t i = 0; i < N_WEIGHTS; i++) {
        const char *p = at(big, weight_files[i]);
        ck_assert_int_eq(stat(p, &sb), 0);
        ck_assert_msg(sb.st_size >= (3 << 20) / 2 && sb.st_size <= 3 << 20, "%s: %lld bytes",
                      weight_files[i], (long long)sb.st_size);
        if (strstr(p, ".gguf"))
            hf_gguf_close(open_gguf(p));
        else
            hf_safetensors_close(open_st(p));
    }
    open_kimi_set(big, "UD-TQ1_0", 5, kimi);
    for (unsigned k = 0; k < 5; k++)
        hf_gguf_close(kimi[k]);
    idx = open_gte_checkpoint(big, gte);
    ck_assert_int_eq(hf_st_index_total_size(idx, &total), 0);
    ck_assert_uint_gt(total, 3u << 20);
    hf_safetensors_close(gte[0]);
    hf_safetensors_close(gte[1]);
    hf_st_index_free(idx);

    /* tokenizers and configs stay as they were */
    ck_assert_int_eq(stat(at(big, GTE "tokenizer.json"), &sb), 0);
    ck_assert_int_lt(sb.st_size, 64 << 10);
    remove_tree(big);
}
END_TEST

/* ---- served by hf-mock-hub ----------------------------------------------------------------- */

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p, (void)arg;
    return size * n;
}

/* HEAD `path` on the mock Hub, with `token` (may be NULL); the status, no redirects followed. */
static long head(tu_mock_t *m, const char *path, const char *token)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char url[600], auth[128];
    long status = 0;

    ck_assert_ptr_nonnull(c);
    snprintf(url, sizeof url, "%s/%s", m->hub, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    }
    ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

START_TEST(the_mock_hub_serves_the_tree_with_lfs_weights_a_rename_and_a_gate)
{
    tu_mock_t m;
    char args[400], out[4096], url[400], *body;
    long status;

    tu_mock_root(&m);
    snprintf(args, sizeof args, "'%s'", m.root);
    ck_assert_int_eq(run_tool(args, out, sizeof out), 0);
    tu_mock_start(&m, NULL);

    snprintf(url, sizeof url, "%s/api/models/unsloth/Kimi-K2-Instruct-GGUF/tree/main/UD-TQ1_0",
             m.hub);
    body = tu_http("GET", url, NULL, &status);
    ck_assert_int_eq(status, 200);
    ck_assert_ptr_nonnull(strstr(body, "UD-TQ1_0/Kimi-K2-Instruct-UD-TQ1_0-00005-of-00005.gguf"));
    ck_assert_ptr_nonnull(strstr(body, "\"lfs\""));
    free(body);

    ck_assert_int_eq(head(&m, KIMI "resolve/main/README.md", NULL), 200);
    ck_assert_int_eq(head(&m, PHI4 "resolve/main/Phi-4-reasoning-Q4_K_M.gguf", NULL), 302);
    ck_assert_int_eq(head(&m, "dunzhang/stella_en_400M_v5/resolve/main/config.json", NULL), 307);
    ck_assert_int_eq(head(&m, STELLA "resolve/main/config.json", NULL), 200);
    ck_assert_int_eq(head(&m, SD35 "resolve/main/sd3.5_large_turbo.safetensors", NULL), 401);
    ck_assert_int_eq(head(&m, SD35 "resolve/main/sd3.5_large_turbo.safetensors",
                          "hf_fixture_token"), 302);
    tu_mock_stop(&m);
}
END_TEST

/* ---- refusals ------------------------------------------------------------------------------ */

START_TEST(bad_arguments_are_usage_errors_and_help_succeeds)
{
    char out[4096];

    ck_assert_int_eq(run_tool("", out, sizeof out), 2);
    ck_assert_ptr_nonnull(strstr(out, "missing OUTDIR"));
    ck_assert_int_eq(run_tool("/tmp/x --scale", out, sizeof out), 2);
    ck_assert_int_eq(run_tool("/tmp/x --scale 2x", out, sizeof out), 2);
    ck_assert_int_eq(run_tool("/tmp/x --scale=1025", out, sizeof out), 2);
    ck_assert_int_eq(run_tool("/tmp/x --frobnicate", out, sizeof out), 2);
    ck_assert_int_eq(run_tool("/tmp/x /tmp/y", out, sizeof out), 2);
    ck_assert_int_eq(run_tool("--help", out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: hf-fixtures OUTDIR [--scale N]"));
}
END_TEST

START_TEST(an_outdir_that_is_a_file_fails_with_its_name)
{
    char dir[] = "/tmp/hfasync-fixtures-XXXXXX", file[64], args[128], out[4096];
    FILE *f;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(file, sizeof file, "%s/plain", dir);
    f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    snprintf(args, sizeof args, "'%s'", file);
    ck_assert_int_eq(run_tool(args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, file) != NULL, "%s", out);
    remove_tree(dir);
}
END_TEST

START_TEST(a_link_inside_outdir_is_not_followed_out_of_it)
{
    char dir[] = "/tmp/hfasync-fixtures-XXXXXX", path[256], target[128], args[128], out[4096];
    struct stat sb;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(target, sizeof target, "%s/elsewhere", dir);
    ck_assert_int_eq(mkdir(target, 0777), 0);
    snprintf(path, sizeof path, "%s/out", dir);
    ck_assert_int_eq(mkdir(path, 0777), 0);
    snprintf(path, sizeof path, "%s/out/models", dir);
    ck_assert_int_eq(symlink(target, path), 0);
    snprintf(args, sizeof args, "'%s/out'", dir);
    ck_assert_int_eq(run_tool(args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "symbolic link") != NULL, "%s", out);
    snprintf(path, sizeof path, "%s/unsloth", target);
    ck_assert_int_ne(stat(path, &sb), 0);
    remove_tree(dir);
}
END_TEST

static Suite *fixtures_suite(void)
{
    Suite *s = suite_create("fixtures");
    TCase *files = tcase_create("files"), *runs = tcase_create("runs");

    tcase_add_unchecked_fixture(files, make_shared_tree, remove_shared_tree);
    tcase_add_test(files, the_tree_holds_every_listed_file_and_nothing_else);
    tcase_add_test(files, kimi_parts_form_whole_split_sets_with_the_model_metadata_in_part_one);
    tcase_add_test(files, kimi_readme_is_text);
    tcase_add_test(files, phi4_ggufs_are_phi3_and_the_end_token_comes_from_tokenizer_json);
    tcase_add_test(files, stella_has_the_encoder_every_dense_size_and_a_wordpiece_vocab);
    tcase_add_test(files, gte_qwen_index_matches_its_two_shards);
    tcase_add_test(files, sd35_checkpoint_holds_the_diffusion_model_and_vae_under_their_prefixes);
    tcase_add_test(files, sd35_helper_repos_have_the_clip_and_t5_tokenizers_and_config);
    tcase_add_test(files, every_repo_has_its_settings);
    tcase_add_test(files, two_runs_write_byte_identical_trees_and_a_rerun_replaces_in_place);
    suite_add_tcase(s, files);

    tcase_set_timeout(runs, 120);
    tcase_add_test(runs, scale_2_makes_every_weight_file_about_2_mib_and_keeps_it_valid);
    tcase_add_test(runs, the_mock_hub_serves_the_tree_with_lfs_weights_a_rename_and_a_gate);
    tcase_add_test(runs, bad_arguments_are_usage_errors_and_help_succeeds);
    tcase_add_test(runs, an_outdir_that_is_a_file_fails_with_its_name);
    tcase_add_test(runs, a_link_inside_outdir_is_not_followed_out_of_it);
    suite_add_tcase(s, runs);
    return s;
}

TU_MAIN(fixtures_suite)
