/*
 * kernel.c - see kernel.h.
 *
 * Design notes
 *  - the block is the first (at most) 256 x 256 elements of the tensor's data, read as a
 *    row-major matrix, small enough to stay in cache: the figure it gives measures
 *    the CPU time the kernel gets, not memory bandwidth;
 *  - each lane owns its vectors; the only shared state is the chunk counter and the stop
 *    flag (atomics) and the live-lane count, which kernel_stop waits on with a mutex and
 *    condition variable.
 */
#include "config.h"

#include "demo/kernel.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 256
#define PASSES 8                /* products per chunk: about 0.1-0.5 ms */
#define MAX_LANES 256

typedef struct lane {
    kernel_t *k;
    float x[BLOCK], y[BLOCK];
} lane_t;

struct kernel {
    hf_model_t *m;
    const hf_tensor_info_t *t;
    unsigned rows, cols;
    hf_executor_t *ex;
    lane_t *lanes;
    unsigned nlanes;
    atomic_uint_fast64_t chunks;
    atomic_int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned live;
};

static float half_to_float(uint16_t h)
{
    unsigned e = (h >> 10) & 0x1f, f = h & 0x3ff;
    float v = e == 0 ? ldexpf((float)f, -24) : e == 31 ? 0.0f : ldexpf((float)(f | 0x400), (int)e - 25);
    return (h & 0x8000) ? -v : v;
}

static float bf16_to_float(uint16_t b)
{
    uint32_t u = (uint32_t)b << 16;
    float v;
    memcpy(&v, &u, sizeof v);
    return isfinite(v) ? v : 0.0f;
}

static float elem(const kernel_t *k, size_t i)
{
    const unsigned char *p = k->t->data;
    uint16_t h;
    float f;
    switch (k->t->dtype) {
    case HF_DTYPE_F32:
        memcpy(&f, p + 4 * i, 4);
        return isfinite(f) ? f : 0.0f;
    case HF_DTYPE_F16:
        memcpy(&h, p + 2 * i, 2);
        return half_to_float(h);
    default:
        memcpy(&h, p + 2 * i, 2);
        return bf16_to_float(h);
    }
}

static void run_chunk(lane_t *l)
{
    const kernel_t *k = l->k;
    for (int pass = 0; pass < PASSES; pass++) {
        float norm = 0.0f;
        for (unsigned r = 0; r < k->rows; r++) {
            float acc = 0.0f;
            if (k->t->dtype == HF_DTYPE_F32) {
                const float *row = (const float *)k->t->data + (size_t)r * k->cols;
                for (unsigned c = 0; c < k->cols; c++)
                    acc += row[c] * l->x[c];
            } else {
                for (unsigned c = 0; c < k->cols; c++)
                    acc += elem(k, (size_t)r * k->cols + c) * l->x[c];
            }
            l->y[r] = acc;
            norm += acc * acc;
        }
        /* feed the result back, normalised, so that every pass depends on the last */
        norm = norm > 0.0f ? 1.0f / sqrtf(norm) : 1.0f;
        for (unsigned c = 0; c < k->cols; c++)
            l->x[c] = 0.5f * l->x[c] + l->y[c % k->rows] * norm + 1e-3f;
    }
}

static void lane_step(void *arg)
{
    lane_t *l = arg;
    kernel_t *k = l->k;

    if (!atomic_load_explicit(&k->stop, memory_order_relaxed)) {
        run_chunk(l);
        atomic_fetch_add_explicit(&k->chunks, 1, memory_order_relaxed);
        if (hf_executor_post(k->ex, lane_step, l) == 0)
            return;
    }
    pthread_mutex_lock(&k->mu);
    if (--k->live == 0)
        pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

kernel_t *kernel_new(hf_model_t *m, hf_error_t *err)
{
    const hf_tensor_info_t *best = NULL;
    kernel_t *k;

    for (size_t i = 0; i < hf_model_tensor_count(m); i++) {
        const hf_tensor_info_t *t = hf_model_tensor(m, i);
        if (t->ndim != 2 || !t->data || t->shape[0] == 0 || t->shape[1] == 0 ||
            (t->dtype != HF_DTYPE_F32 && t->dtype != HF_DTYPE_F16 && t->dtype != HF_DTYPE_BF16))
            continue;
        if (!best || t->nbytes > best->nbytes)
            best = t;
    }
    if (!best) {
        hf_error_set(err, HF_EUNSUPPORTED, 0, "%s has no 2-d F32/F16/BF16 tensor to compute on",
                     hf_model_name(m));
        return NULL;
    }
    if ((k = calloc(1, sizeof *k)) == NULL) {
        hf_error_set(err, HF_ENOMEM, 0, "out of memory");
        return NULL;
    }
    k->m = hf_model_retain(m);
    k->t = best;
    /* the first rows x cols elements of its data, as a row-major matrix */
    {
        uint64_t elems = best->nbytes / (best->dtype == HF_DTYPE_F32 ? 4 : 2);
        k->cols = elems < BLOCK ? (unsigned)elems : BLOCK;
        k->rows = elems / k->cols < BLOCK ? (unsigned)(elems / k->cols) : BLOCK;
    }
    atomic_init(&k->chunks, 0);
    atomic_init(&k->stop, 0);
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    return k;
}

const char *kernel_tensor(const kernel_t *k)
{
    return k->t->name;
}

uint64_t kernel_flops_per_chunk(const kernel_t *k)
{
    return 2ull * k->rows * k->cols * PASSES;
}

int kernel_start(kernel_t *k, hf_executor_t *ex, unsigned lanes)
{
    if (lanes == 0 || lanes > MAX_LANES || k->lanes)
        return HF_EINVAL;
    if ((k->lanes = calloc(lanes, sizeof *k->lanes)) == NULL)
        return HF_ENOMEM;
    k->ex = ex;
    k->nlanes = lanes;
    atomic_store(&k->stop, 0);
    for (unsigned i = 0; i < lanes; i++) {
        lane_t *l = &k->lanes[i];
        l->k = k;
        for (unsigned c = 0; c < BLOCK; c++)
            l->x[c] = 1.0f / (float)(c + 1 + i);
        pthread_mutex_lock(&k->mu);
        k->live++;
        pthread_mutex_unlock(&k->mu);
        if (hf_executor_post(ex, lane_step, l) < 0) {
            pthread_mutex_lock(&k->mu);
            k->live--;
            pthread_mutex_unlock(&k->mu);
            return HF_ENOMEM;
        }
    }
    return 0;
}

uint64_t kernel_chunks(const kernel_t *k)
{
    return atomic_load_explicit(&((kernel_t *)k)->chunks, memory_order_relaxed);
}

void kernel_stop(kernel_t *k)
{
    atomic_store(&k->stop, 1);
    pthread_mutex_lock(&k->mu);
    while (k->live > 0)
        pthread_cond_wait(&k->cv, &k->mu);
    pthread_mutex_unlock(&k->mu);
}

void kernel_free(kernel_t *k)
{
    if (!k)
        return;
    kernel_stop(k);
    free(k->lanes);
    hf_model_release(k->m);
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
    free(k);
}
