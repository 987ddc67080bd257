/* kernels: the embedded compute shaders and their pipelines, built on first
 * use for each set of specialization constants and kept for the device's life. */
#ifndef VKCLIP_KERNELS_H
#define VKCLIP_KERNELS_H

#include <pthread.h>

#include "kernel_plan.h"
#include "vk/vk_kernel.h"

typedef enum kernel_id {
    KERNEL_MATMUL_F32,
    KERNEL_MATMUL_F16,
    KERNEL_MATMUL_TILED_F32,
    KERNEL_MATMUL_TILED_F16,
    KERNEL_MATMUL_COOPMAT_F32,
    KERNEL_MATMUL_COOPMAT_F16,
    KERNEL_ATTENTION_F32,
    KERNEL_ATTENTION_F16,
    KERNEL_LAYERNORM_F32,
    KERNEL_LAYERNORM_F16,
    KERNEL_LAYERNORM_ROWS_F32,
    KERNEL_LAYERNORM_ROWS_F16,
    KERNEL_LAYERNORM_ROWS_SG_F32, /* the same with subgroup reductions (rows=subgroup) */
    KERNEL_LAYERNORM_ROWS_SG_F16,
    KERNEL_SOFTMAX,
    KERNEL_SOFTMAX_ROWS,
    KERNEL_SOFTMAX_ROWS_SG,
    KERNEL_TRANSPOSE_HEADS_F32,
    KERNEL_TRANSPOSE_HEADS_F16,
    KERNEL_EMBED_TOKENS,
    KERNEL_SWIGLU_F32,
    KERNEL_SWIGLU_F16,
    KERNEL_PREPROCESS_H,
    KERNEL_PREPROCESS_V,
    KERNEL_COUNT
} kernel_id;

typedef struct kernel_cache_entry {
    kernel_id id;
    uint32_t spec[VK_KERNEL_MAX_SPEC];
    uint32_t num_spec;
    vk_kernel kernel;
    char label[64]; /* name and constants, for profiles */
} kernel_cache_entry;

/* Shared by every model and thread of a device: kernel_get holds `lock`.
 * `plan` is the device's, fixed when the cache is made. */
typedef struct kernel_cache {
    vk_context *ctx;
    kernel_plan plan;
    pthread_mutex_t lock;
    kernel_cache_entry **entries; /* stable addresses: sequences keep labels */
    int count, capacity;
} kernel_cache;

void kernel_cache_init(kernel_cache *kc, vk_context *ctx, kernel_plan plan);
void kernel_cache_destroy(kernel_cache *kc);

/* The pipeline of kernel `id` with these specialization constants. */
const vk_kernel *kernel_get(kernel_cache *kc, kernel_id id, const uint32_t *spec, uint32_t num_spec,
                            errbuf *err);

#endif
