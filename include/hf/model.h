/*
 * hf/model.h - ask for a model by name, get a future of a validated, memory-mapped model.
 *
 * Each module is a chain of continuations: its files are fetched on the I/O pool
 * (independent files in parallel), then opened, checked and mapped on the compute pool.
 * The calling thread never waits, downloads never occupy a compute worker, and a model
 * already loaded (or loading) with the same options is shared: concurrent and repeated
 * loads get the same model, so no file is fetched or parsed twice. The model is freed,
 * and its files unmapped, when its last reference goes.
 *
 * Modules ("kimi-k2", "phi4-reasoning", "stella", "gte-qwen", "sd35-turbo") and their files
 * are described in DESIGN.md section 4; hf_model_module_count() and friends list them.
 */
#ifndef HF_MODEL_H
#define HF_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "hf/formats.h"
#include "hf/future.h"
#include "hf/hub.h"
#include "hf/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hf_model hf_model_t;

typedef struct hf_model_opts {
    const char *repo;           /* the module's main repo instead of its default */
    const char *revision;       /* NULL: "main" (applies to the main repo) */
    const char *quant;          /* kimi-k2: "UD-TQ1_0" (default), "UD-Q2_K_XL", ...;
                                   phi4-reasoning: "Q4_K_M" (default), "Q8_0", ... */
    unsigned dim;               /* stella: output size, 256, 768, 1024 (default), 2048,
                                   4096, 6144 or 8192 */
    hf_progress_fn progress;    /* per-file progress of the downloads (may be NULL) */
    void *progress_arg;
} hf_model_opts_t;              /* zero-initialised = the module's defaults */

/*
 * hf_model_load - load the model `name` through `hub`, on `rt`'s pools.
 *
 * The future's value is an hf_model_t * that the future owns (keep it beyond the future
 * with hf_model_retain). The same (runtime, hub, name, options: repo, revision, quant,
 * dim) while the previous future is alive returns that same future; once it is gone but the
 * model is still retained, a new fulfilled future of that same model (nothing is fetched,
 * parsed or mapped again). The progress callback is that of the call that started the
 * load: a call that shares it gets no progress events. A load that failed or was cancelled
 * is not shared: the next call starts afresh. Errors: HF_EINVAL (unknown name, bad option,
 * bad repo id or revision: the message says which; the future is already rejected when the
 * call returns, and nothing was asked of the Hub), the Hub client's codes (a missing file,
 * shard or split part is HF_EENTRY_NOT_FOUND naming the file, or offline, when the cache
 * lacks it, HF_EOFFLINE naming it; a missing quantisation names it; a gated repo without a
 * token is HF_EGATED), HF_EFORMAT (a file that does not read, naming file and place, or a
 * tensor missing from its shard, naming the tensor), HF_EUNSUPPORTED (e.g. a GGUF of
 * another architecture: the message says what was found). Cancelling the future cancels
 * it for every caller that shares it, and the downloads it started (unless another load
 * shares them); a load that fails cancels its downloads still under way likewise, before
 * a wait on its future returns. Loads on different runtimes are never shared (each runs
 * on its own runtime's pools; their files come once through the cache): freeing one
 * runtime cancels only the loads started on it.
 * Returns NULL only for NULL arguments or short memory.
 */
HF_API hf_future_t *hf_model_load(hf_runtime_t *rt, hf_hub_t *hub, const char *name,
                                  const hf_model_opts_t *opts);

/* hf_model_retain - a new reference to `m` (which is returned; NULL stays NULL).
 * hf_model_release - drop one; the last one frees the model and unmaps its files. NULL is
 * ignored. Both are thread-safe. */
HF_API hf_model_t *hf_model_retain(hf_model_t *m);
HF_API void hf_model_release(hf_model_t *m);

/* The accessors below are thread-safe; a NULL `m`, or an index out of range, gives NULL,
 * 0 or -1. */

/* The module name ("gte-qwen") and the architecture read from the files ("qwen2",
 * "deepseek2", "phi3", "new", "sd3"). */
HF_API const char *hf_model_name(const hf_model_t *m);
HF_API const char *hf_model_architecture(const hf_model_t *m);

/* The local paths of the files it was loaded from (in the cache), and their total size. */
HF_API size_t hf_model_file_count(const hf_model_t *m);
HF_API const char *hf_model_file(const hf_model_t *m, size_t i);
HF_API uint64_t hf_model_bytes(const hf_model_t *m);

/* Every tensor of every weight file: name, dtype, shape, and `data` pointing into the
 * read-only mapping of its file (never a copy). Valid while the model lives. */
HF_API size_t hf_model_tensor_count(const hf_model_t *m);
HF_API const hf_tensor_info_t *hf_model_tensor(const hf_model_t *m, size_t i);
HF_API const hf_tensor_info_t *hf_model_find_tensor(const hf_model_t *m, const char *name);

/* Names are unique within a file, not across a model's files: SD 3.5's CLIP-L and CLIP-G
 * text encoders hold tensors of the same names. hf_model_find_tensor gives the first in
 * file order; hf_model_find_tensor_in looks only in the weight file `file`, given by its
 * path in the repo ("text_encoders/clip_l.safetensors", matched against the end of
 * hf_model_file's paths; NULL: every file, as hf_model_find_tensor). NULL when not found
 * or `m` or `name` is NULL. hf_model_tensor_file gives the index (for hf_model_file) of
 * tensor `i`'s file, (size_t)-1 when `i` is out of range. */
HF_API const hf_tensor_info_t *hf_model_find_tensor_in(const hf_model_t *m, const char *file,
                                                       const char *name);
HF_API size_t hf_model_tensor_file(const hf_model_t *m, size_t i);

/* Metadata: -1 when the model does not have it. */
HF_API int64_t hf_model_vocab_size(const hf_model_t *m);     /* added tokens included */
HF_API int64_t hf_model_eos_token_id(const hf_model_t *m);
HF_API int64_t hf_model_embedding_size(const hf_model_t *m); /* hidden size, or stella's
                                                                 output dimension */

/* The registry: the number of modules, and the name and description of module `i`
 * (static strings; NULL if `i` is out of range). */
HF_API size_t hf_model_module_count(void);
HF_API const char *hf_model_module_name(size_t i);
HF_API const char *hf_model_module_description(size_t i);

#ifdef __cplusplus
}
#endif

#endif /* HF_MODEL_H */
