/*
 * cmd_model.c - hf-fetch model: load one of the library's model modules (download its
 * files into the cache, open and check them) and describe it; without NAME, list them.
 */
#include "config.h"

#include <cjson/cJSON.h>
#include <string.h>

#include "fetch.h"

static int list_modules(const fetch_opts_t *o)
{
    if (o->json) {
        cJSON *arr = cJSON_CreateArray();
        char *s;
        for (size_t i = 0; i < hf_model_module_count(); i++) {
            cJSON *m = cJSON_CreateObject();
            cJSON_AddStringToObject(m, "name", hf_model_module_name(i));
            cJSON_AddStringToObject(m, "description", hf_model_module_description(i));
            cJSON_AddItemToArray(arr, m);
        }
        s = cJSON_PrintUnformatted(arr);
        printf("%s\n", s);
        cJSON_free(s);
        cJSON_Delete(arr);
        return EXIT_OK;
    }
    for (size_t i = 0; i < hf_model_module_count(); i++)
        printf("%-16s %s\n", hf_model_module_name(i), hf_model_module_description(i));
    return EXIT_OK;
}

static void describe_json(const hf_model_t *m)
{
    cJSON *j = cJSON_CreateObject(), *files;
    char *s;
    cJSON_AddStringToObject(j, "name", hf_model_name(m));
    cJSON_AddStringToObject(j, "architecture", hf_model_architecture(m));
    cJSON_AddNumberToObject(j, "bytes", (double)hf_model_bytes(m));
    cJSON_AddNumberToObject(j, "tensors", (double)hf_model_tensor_count(m));
    cJSON_AddNumberToObject(j, "vocab_size", (double)hf_model_vocab_size(m));
    cJSON_AddNumberToObject(j, "eos_token_id", (double)hf_model_eos_token_id(m));
    cJSON_AddNumberToObject(j, "embedding_size", (double)hf_model_embedding_size(m));
    files = cJSON_AddArrayToObject(j, "files");
    for (size_t i = 0; i < hf_model_file_count(m); i++)
        cJSON_AddItemToArray(files, cJSON_CreateString(hf_model_file(m, i)));
    s = cJSON_PrintUnformatted(j);
    printf("%s\n", s);
    cJSON_free(s);
    cJSON_Delete(j);
}

static void describe_text(const hf_model_t *m)
{
    char buf[32];
    printf("model         %s\narchitecture  %s\n", hf_model_name(m), hf_model_architecture(m));
    printf("size          %s in %zu files\ntensors       %zu\n",
           human_size(hf_model_bytes(m), buf), hf_model_file_count(m), hf_model_tensor_count(m));
    if (hf_model_vocab_size(m) >= 0)
        printf("vocabulary    %lld\n", (long long)hf_model_vocab_size(m));
    if (hf_model_eos_token_id(m) >= 0)
        printf("end token     %lld\n", (long long)hf_model_eos_token_id(m));
    if (hf_model_embedding_size(m) >= 0)
        printf("embedding     %lld\n", (long long)hf_model_embedding_size(m));
    for (size_t i = 0; i < hf_model_file_count(m); i++)
        printf("file          %s\n", hf_model_file(m, i));
}

int cmd_model(fetch_ctx_t *c)
{
    hf_model_opts_t mo;
    hf_future_t *f;
    int rc;

    if (!c->o.repo)
        return list_modules(&c->o);
    memset(&mo, 0, sizeof mo);
    mo.revision = c->o.revision;
    mo.quant = c->o.quant;
    mo.dim = c->o.dim;
    mo.progress = progress_sink(&c->o, &mo.progress_arg);
    c->progress = mo.progress_arg;      /* freed by main once the hub is */
    if ((f = hf_model_load(c->rt, c->hub, c->o.repo, &mo)) == NULL) {
        fprintf(stderr, "hf-fetch: out of memory\n");
        return EXIT_LOCAL_IO;
    }
    rc = fetch_wait(f);
    if (mo.progress)
        progress_done(mo.progress_arg);
    if (rc == 0) {
        if (hf_future_state(f) != HF_FUTURE_FULFILLED)
            rc = fetch_fail(hf_future_error(f));
        else if (c->o.json)
            describe_json(hf_future_value(f));
        else
            describe_text(hf_future_value(f));
    }
    hf_future_release(f);
    return rc;
}
