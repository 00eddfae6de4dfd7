/*
 * readme_example.c - the complete C API example that README.md quotes ("The C API: a
 * download chained into a compute step"), kept here so that it is compiled against the
 * public library on every build and run by check_fetch_cli against hf-mock-hub.
 *
 * Design notes
 *  - only the installed API (<hfasync.h>, libhfasync) is used: no internal header;
 *  - the Hub, cache and token come from the environment (HF_ENDPOINT, HF_HUB_CACHE, ...),
 *    so the test points it at the mock Hub without a change to the text the README shows;
 *  - the region between the README-BEGIN and README-END markers is what the README holds.
 */
/* README-BEGIN */
#include <hfasync.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* Runs on a compute worker once config.json is in the cache: parse it, keep one number. */
static void read_vocab(hf_future_t *download, hf_promise_t *next, void *arg)
{
    const char *path = hf_future_value(download);   /* snapshots/<commit>/config.json */
    hf_config_t *cfg;
    hf_error_t err;
    int64_t *vocab = malloc(sizeof *vocab);

    (void)arg;
    if (!vocab || hf_config_load(path, &cfg, &err) < 0) {
        free(vocab);
        hf_promise_rejectf(next, vocab ? err.code : HF_ENOMEM, 0, "%s",
                           vocab ? err.message : "out of memory");
        return;
    }
    if (hf_config_get_int(cfg, "vocab_size", vocab, &err) < 0) {
        free(vocab);
        hf_promise_reject(next, &err);
    } else {
        hf_promise_resolve(next, vocab, free);      /* the future owns it from now on */
    }
    hf_config_free(cfg);
}

int main(void)
{
    hf_runtime_t *rt = hf_runtime_new(NULL);
    hf_error_t err;
    hf_hub_t *hub = hf_hub_new(rt, NULL, &err);     /* NULL: endpoint, cache, token from env */
    hf_file_ref_t ref = { "openai-community/gpt2", HF_REPO_MODEL, "main", "config.json" };
    hf_future_t *download, *vocab;
    int rc = 1;

    if (!hub) {
        fprintf(stderr, "hf_hub_new: %s\n", err.message);
        return 1;
    }
    download = hf_hub_download(hub, &ref, NULL);    /* on the I/O pool; returns at once */
    vocab = hf_future_then(download, hf_runtime_compute(rt), read_vocab, NULL);

    hf_future_wait(vocab, -1);      /* a real program would chain more work instead */
    if (hf_future_state(vocab) == HF_FUTURE_FULFILLED) {
        printf("%s: vocab_size %" PRId64 "\n", (const char *)hf_future_value(download),
               *(int64_t *)hf_future_value(vocab));
        rc = 0;
    } else {                        /* a failed download skips read_vocab: same error */
        fprintf(stderr, "failed: %s\n", hf_future_error(vocab)->message);
    }
    hf_future_release(vocab);
    hf_future_release(download);
    hf_hub_free(hub);               /* before the runtime it runs on */
    hf_runtime_free(rt);
    return rc;
}
/* README-END */
