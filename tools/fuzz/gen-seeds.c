/*
 * gen-seeds.c - write the seed corpora of the fuzz targets: `gen-seeds DIR` fills
 * DIR/<target>/ (DIR is tools/fuzz/corpus; `make fuzz-seeds` runs it there).
 *
 * The binary seeds come from the library's own writers (src/formats/writer.h), so they are
 * valid files the fuzzer mutates from; the JSON and text seeds are small typical values.
 * The output is deterministic: running it again rewrites the same bytes. Each seed is a
 * few KiB at most.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "formats/writer.h"

static const char *top;
static int failed;

static void put(const char *target, const char *name, const void *data, size_t len)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", top, target);
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        perror(path);
        failed = 1;
        return;
    }
    snprintf(path, sizeof path, "%s/%s/%s", top, target, name);
    if (!(f = fopen(path, "wb")) || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        failed = 1;
    }
}

static void put_buf(const char *target, const char *name, hfi_buf_t *b, int rc)
{
    if (rc != 0 || b->error) {
        fprintf(stderr, "gen-seeds: %s/%s: writer failed (%d)\n", target, name, rc);
        failed = 1;
    } else {
        put(target, name, b->data, b->len);
    }
    hfi_buf_free(b);
}

static void put_str(const char *target, const char *name, const char *s)
{
    put(target, name, s, strlen(s));
}

/* "pattern" NUL "name" */
static void put_pair(const char *target, const char *name, const char *a, const char *b)
{
    hfi_buf_t buf = HFI_BUF_INIT;

    hfi_buf_put(&buf, a, strlen(a) + 1);
    hfi_buf_put(&buf, b, strlen(b));
    put_buf(target, name, &buf, 0);
}

/* ---- GGUF --------------------------------------------------------------------------- */

static void gguf_seeds(void)
{
    hfi_buf_t b = HFI_BUF_INIT, nested = HFI_BUF_INIT;
    hfi_gguf_writer_t *w;
    static const int32_t ids[3] = { 7, -1, 151643 };
    static const float scores[3] = { 0.5f, -1.25f, 3.0f };
    static const bool flags[2] = { true, false };
    static const uint8_t u8s[4] = { 0, 1, 127, 255 };
    static const char *const words[3] = { "hello", "w\xc3\xb6rld", "<|endoftext|>" };
    uint64_t d_f32[2] = { 8, 2 }, d_q8[2] = { 32, 1 }, d_q4k[1] = { 256 }, d_bf16[3] = { 2, 2, 2 };
    uint64_t d_empty[2] = { 0, 4 };
    const char *vocab[100];
    char vocab_text[100][8];
    size_t i;
    int rc;

    /* every metadata type, three tensors of different types */
    w = hfi_gguf_writer_new();
    hfi_gguf_add_str(w, "general.architecture", "llama");
    hfi_gguf_add_str(w, "general.name", "fuzz seed");
    hfi_gguf_add_uint(w, "general.file_type", HF_GGUF_UINT32, 7);
    hfi_gguf_add_uint(w, "llama.u8", HF_GGUF_UINT8, 200);
    hfi_gguf_add_int(w, "llama.i8", HF_GGUF_INT8, -5);
    hfi_gguf_add_uint(w, "llama.u16", HF_GGUF_UINT16, 60000);
    hfi_gguf_add_int(w, "llama.i16", HF_GGUF_INT16, -30000);
    hfi_gguf_add_int(w, "llama.i32", HF_GGUF_INT32, -100000);
    hfi_gguf_add_uint(w, "llama.context_length", HF_GGUF_UINT64, 4096);
    hfi_gguf_add_int(w, "llama.i64", HF_GGUF_INT64, -1);
    hfi_gguf_add_float(w, "llama.rope.freq_base", HF_GGUF_FLOAT32, 10000.0);
    hfi_gguf_add_float(w, "llama.f64", HF_GGUF_FLOAT64, 1e-5);
    hfi_gguf_add_bool(w, "general.flag", true);
    hfi_gguf_add_array(w, "tokenizer.ggml.token_type", HF_GGUF_INT32, ids, 3);
    hfi_gguf_add_array(w, "tokenizer.ggml.scores", HF_GGUF_FLOAT32, scores, 3);
    hfi_gguf_add_array(w, "tok.flags", HF_GGUF_BOOL, flags, 2);
    hfi_gguf_add_array(w, "tok.bytes", HF_GGUF_UINT8, u8s, 4);
    hfi_gguf_add_str_array(w, "tokenizer.ggml.tokens", words, 3);
    hfi_gguf_add_tensor(w, "blk.0.attn_q.weight", 8, 2, d_q8, NULL);   /* Q8_0 */
    hfi_gguf_add_tensor(w, "blk.0.ffn_up.weight", 0, 2, d_f32, NULL);  /* F32 */
    hfi_gguf_add_tensor(w, "output.weight", 12, 1, d_q4k, NULL);       /* Q4_K */
    rc = hfi_gguf_writer_finish(w, &b);
    hfi_gguf_writer_free(w);
    put_buf("gguf", "all-types.gguf", &b, rc);

    /* version 2, alignment 64, a BF16 tensor of three dimensions and an empty one */
    w = hfi_gguf_writer_new();
    hfi_gguf_writer_set_version(w, 2);
    hfi_gguf_add_uint(w, "general.alignment", HF_GGUF_UINT32, 64);
    hfi_gguf_add_tensor(w, "t.bf16", 30, 3, d_bf16, NULL);
    hfi_gguf_add_tensor(w, "t.empty", 0, 2, d_empty, NULL);
    rc = hfi_gguf_writer_finish(w, &b);
    hfi_gguf_writer_free(w);
    put_buf("gguf", "v2-align64.gguf", &b, rc);

    /* nothing but the header */
    w = hfi_gguf_writer_new();
    rc = hfi_gguf_writer_finish(w, &b);
    hfi_gguf_writer_free(w);
    put_buf("gguf", "empty.gguf", &b, rc);

    /* a part of a split set */
    w = hfi_gguf_writer_new();
    hfi_gguf_add_uint(w, "split.no", HF_GGUF_UINT16, 0);
    hfi_gguf_add_uint(w, "split.count", HF_GGUF_UINT16, 1);
    hfi_gguf_add_int(w, "split.tensors.count", HF_GGUF_INT32, 1);
    hfi_gguf_add_tensor(w, "token_embd.weight", 1, 2, d_f32, NULL);   /* F16 */
    rc = hfi_gguf_writer_finish(w, &b);
    hfi_gguf_writer_free(w);
    put_buf("gguf", "split-part.gguf", &b, rc);

    /* a vocabulary long enough for the array marks, and nested arrays */
    for (i = 0; i < 100; i++) {
        snprintf(vocab_text[i], sizeof vocab_text[i], "t%zu", i);
        vocab[i] = vocab_text[i];
    }
    hfi_buf_put_u32(&nested, HF_GGUF_ARRAY);        /* [[1, 2], ["x"]] */
    hfi_buf_put_u64(&nested, 2);
    hfi_buf_put_u32(&nested, HF_GGUF_UINT16);
    hfi_buf_put_u64(&nested, 2);
    hfi_buf_put_u32(&nested, 1);                    /* two uint16s: 1 and 0 */
    hfi_buf_put_u32(&nested, HF_GGUF_STRING);
    hfi_buf_put_u64(&nested, 1);
    hfi_buf_put_gguf_str(&nested, "x", 1);
    w = hfi_gguf_writer_new();
    hfi_gguf_add_str_array(w, "tokenizer.ggml.tokens", vocab, 100);
    hfi_gguf_add_raw(w, "nested", HF_GGUF_ARRAY, nested.data, nested.len);
    rc = hfi_gguf_writer_finish(w, &b);
    hfi_gguf_writer_free(w);
    hfi_buf_free(&nested);
    put_buf("gguf", "vocab-nested.gguf", &b, rc);
}

/* ---- safetensors and the sharded index ------------------------------------------------ */

static void safetensors_seeds(void)
{
    hfi_buf_t b = HFI_BUF_INIT;
    hfi_st_writer_t *w;
    uint64_t s23[2] = { 2, 3 }, s4[1] = { 4 }, s0[2] = { 0, 3 }, s8[1] = { 8 }, s6[2] = { 2, 4 };
    static const char *const tensors[4] = {
        "model.embed_tokens.weight", "model.layers.0.mlp.up_proj.weight", "lm_head.weight",
        "model.norm.weight",
    };
    static const char *const shards[4] = {
        "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
        "model-00002-of-00002.safetensors", "sub/dir/model-00001-of-00002.safetensors",
    };
    int rc;

    w = hfi_st_writer_new();
    hfi_st_add_metadata(w, "format", "pt");
    hfi_st_add_tensor(w, "a", "F32", 2, s23, NULL);
    hfi_st_add_tensor(w, "b", "BF16", 1, s4, NULL);
    hfi_st_add_tensor(w, "c", "U8", 1, s4, NULL);
    rc = hfi_st_writer_finish(w, &b);
    hfi_st_writer_free(w);
    put_buf("safetensors", "small.safetensors", &b, rc);

    w = hfi_st_writer_new();
    hfi_st_add_tensor(w, "scalar", "F64", 0, NULL, NULL);
    hfi_st_add_tensor(w, "empty", "I64", 2, s0, NULL);
    hfi_st_add_tensor(w, "mask", "BOOL", 1, s8, NULL);
    hfi_st_add_tensor(w, "f4", "F4", 1, s8, NULL);
    hfi_st_add_tensor(w, "f6", "F6_E2M3", 2, s6, NULL);
    hfi_st_add_tensor(w, "f8", "F8_E4M3", 1, s4, NULL);
    hfi_st_add_tensor(w, "c64", "C64", 1, s4, NULL);
    rc = hfi_st_writer_finish(w, &b);
    hfi_st_writer_free(w);
    put_buf("safetensors", "dtypes.safetensors", &b, rc);

    w = hfi_st_writer_new();
    hfi_st_add_metadata(w, "format", "pt");
    hfi_st_add_metadata(w, "note", "no tensors");
    rc = hfi_st_writer_finish(w, &b);
    hfi_st_writer_free(w);
    put_buf("safetensors", "metadata-only.safetensors", &b, rc);

    rc = hfi_st_index_write(&b, tensors, shards, 3, 123456789);
    put_buf("st_index", "two-shards.index.json", &b, rc);
    rc = hfi_st_index_write(&b, tensors, shards + 1, 4, 0);
    put_buf("st_index", "subdir.index.json", &b, rc);
    put_str("st_index", "no-metadata.index.json",
            "{\"metadata\": null, \"weight_map\": {\"x\": \"a/./b.safetensors\"}}\n");
}

/* ---- tokenizer.json and config.json ------------------------------------------------------ */

static void json_seeds(void)
{
    put_str("tokenizer", "bpe.json",
            "{\"version\": \"1.0\", \"truncation\": null, \"added_tokens\": [\n"
            " {\"id\": 3, \"content\": \"<|endoftext|>\", \"single_word\": false, "
            "\"special\": true},\n"
            " {\"id\": 4, \"content\": \"<|im_start|>\", \"special\": true}],\n"
            " \"model\": {\"type\": \"BPE\", \"dropout\": null, \"vocab\": {\"a\": 0, \"b\": 1, "
            "\"ab\": 2, \"\\u0120the\": 5, \"<|endoftext|>\": 3}, \"merges\": [\"a b\"]}}\n");
    put_str("tokenizer", "unigram.json",
            "{\"added_tokens\": [], \"model\": {\"type\": \"Unigram\", \"unk_id\": 0, "
            "\"vocab\": [[\"<unk>\", 0.0], [\"\\u2581\", -2.5], [\"\\u2581a\", -3.1], "
            "[\"b\", -4]]}}\n");
    put_str("tokenizer", "wordpiece.json",
            "{\"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", "
            "\"vocab\": {\"[PAD]\": 0, \"[UNK]\": 100, \"##s\": 101}}}");
    put_str("config", "config.json",
            "{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"bos_token_id\": 1,\n"
            "  \"eos_token_id\": [2, 32000],\n  \"hidden_act\": \"silu\",\n"
            "  \"hidden_size\": 4096,\n  \"rms_norm_eps\": 1e-05,\n"
            "  \"rope_scaling\": null,\n  \"tie_word_embeddings\": false,\n"
            "  \"torch_dtype\": \"bfloat16\",\n  \"vocab_size\": 32000,\n"
            "  \"text_config\": {\"vocab_size\": 262208, \"sliding_window\": null, "
            "\"layer_types\": [\"sliding\", \"full\"]},\n"
            "  \"quantization_config\": {\"bits\": 4, \"group_size\": -1, \"sym\": true}\n}\n");
    put_str("config", "generation_config.json",
            "\xef\xbb\xbf{\"do_sample\": true, \"temperature\": 0.6, \"top_p\": 0.9, "
            "\"max_length\": 9007199254740991, \"big\": 1e300, \"0\": {\"1\": [[], {}]}}\t\r\n");
    put_str("config", "array.json", "[1, -2.5, \"x\", true, null, [0, [1]], {\"a.b\": 1}]");
}

/* ---- header values, names, URLs, glob patterns -------------------------------------------- */

static void text_seeds(void)
{
    put_str("headers", "etag-sha1", "\"0123456789abcdef0123456789abcdef01234567\"");
    put_str("headers", "etag-weak-sha256",
            "W/\"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\"\r\n");
    put_str("headers", "content-range", "bytes 0-1023/4096");
    put_str("headers", "content-range-star", "bytes 100-199/*");
    put_str("headers", "retry-after", "120");
    put_str("headers", "ratelimit", "\"api\";r=0;t=55");
    put_str("headers", "link",
            "<https://huggingface.co/api/models?cursor=abc>; rel=\"next\", "
            "<https://huggingface.co/api/models?cursor=xyz>; rel=\"prev\"");
    put_str("headers", "x-error-code", "RepoNotFound");

    put_str("names", "path", "model.safetensors");
    put_str("names", "path-deep", "UD-TQ1_0/Kimi-K2-Instruct-UD-TQ1_0-00001-of-00005.gguf");
    put_str("names", "path-unicode", "donn\xc3\xa9""es/\xe2\x96\x81x.bin");
    put_str("names", "path-percent", "a%2e%2e/b%20c");
    put_str("names", "repo-id", "meta-llama/Llama-3.1-8B-Instruct");
    put_str("names", "repo-name", "gpt2");
    put_str("names", "revision", "refs/pr/12");
    put_str("names", "commit", "0123456789abcdef0123456789abcdef01234567");

    put_str("url", "endpoint", "https://huggingface.co");
    put_str("url", "local", "http://127.0.0.1:8080/api/models");
    put_str("url", "ipv6", "http://[::1]/x");
    put_str("url", "cdn", "https://cdn-lfs.hf.co/repos/ab/cd/e3b0?X-Amz-Expires=3600#frag");
    put_str("url", "userinfo", "https://user:pass@evil.example/");

    put_pair("glob", "star", "*.gguf", "UD-TQ1_0/a-00001-of-00005.gguf");
    put_pair("glob", "dir", "2_Dense_1024/", "2_Dense_1024/model.safetensors");
    put_pair("glob", "question", "model-0000?-of-00002.safetensors",
             "model-00001-of-00002.safetensors");
    put_pair("glob", "sets", "shard[0-9][!a-c][]]x[b", "shard7d]x[b");
    put_pair("glob", "stars", "*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen-seeds DIR (tools/fuzz/corpus)\n");
        return 2;
    }
    top = argv[1];
    gguf_seeds();
    safetensors_seeds();
    json_seeds();
    text_seeds();
    return failed ? 1 : 0;
}
