/*
 * kernel.h - the demo's compute workload: matrix-vector products over a block of a loaded
 * model's tensor, read straight from its read-only mapping, run as short chunks on every
 * compute worker. A chunk that ends resubmits the next one from its worker, as an
 * inference loop does, so what the load chains submit interleaves with it.
 */
#ifndef HF_DEMO_KERNEL_H
#define HF_DEMO_KERNEL_H

#include <stdint.h>

#include "hfasync.h"

typedef struct kernel kernel_t;

/* A kernel over the largest 2-d F32, F16 or BF16 tensor of `m` (retained until
 * kernel_free); NULL (and a message in err) if `m` has none. */
kernel_t *kernel_new(hf_model_t *m, hf_error_t *err);
/* The tensor it reads, and the floating-point operations of one chunk. */
const char *kernel_tensor(const kernel_t *k);
uint64_t kernel_flops_per_chunk(const kernel_t *k);
/* Start `lanes` chains of chunks on `ex` (one per compute worker). 0 or an HF_E* code. */
int kernel_start(kernel_t *k, hf_executor_t *ex, unsigned lanes);
/* Chunks completed so far (all lanes). */
uint64_t kernel_chunks(const kernel_t *k);
/* Stop the chains and wait until every lane has ended. */
void kernel_stop(kernel_t *k);
void kernel_free(kernel_t *k);

#endif /* HF_DEMO_KERNEL_H */
