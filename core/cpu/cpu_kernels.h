/* cpu_kernels: the CPU backend's implementation of each op of ops.h, on
 * host memory, fp32 throughout. ops.c records them into a cpu_program with
 * their arguments resolved to pointers (strides in floats); each mirrors
 * its shader in shaders/ step for step, so that both backends compute the
 * same thing (tests/engine/test_backend_ops checks each against the other).
 * GEMMs go through OpenBLAS's sgemm, one call per column slice on each of
 * the device's cpu_pool threads (OpenBLAS itself runs single-threaded: its
 * own workers would spin between GEMMs on the cores the pool needs); the
 * rest spread their rows (or heads, or images) over the same pool. */
#ifndef VKCLIP_CPU_KERNELS_H
#define VKCLIP_CPU_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu/cpu_pool.h"
#include "ops.h"

/* The row loops (ROW_KERNEL) are built for AVX-512 and AVX2 as well as the
 * baseline, and the loader picks the clone this CPU runs (GCC's
 * target_clones): one packaged binary, and wide vectors where there are. */
#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define ROW_KERNEL __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
#endif
#ifndef ROW_KERNEL
#define ROW_KERNEL
#endif

/* C = act(alpha · A·Bᵀ + bias) (+ C when residual), batched over
 * z = outer · batch_inner + inner as shaders/matmul.comp. */
typedef struct cpu_matmul_args {
    uint32_t M, N, K, batch_outer, batch_inner;
    const float *a;
    size_t a_outer, a_inner, lda;
    const float *b; /* [N][K] rows ldb apart */
    size_t b_outer, b_inner, ldb;
    float *c;
    size_t c_outer, c_inner, ldc;
    const float *bias; /* NULL or N values */
    bool residual;
    activation act;
    float alpha;
} cpu_matmul_args;
void cpu_matmul_run(const void *args, cpu_pool *pool);

typedef struct cpu_layernorm_args {
    const float *x;
    float *y;
    size_t x_row, y_row;
    const float *gamma, *beta;
    uint32_t rows, D;
    float eps;
} cpu_layernorm_args;
void cpu_layernorm_run(const void *args, cpu_pool *pool);

/* In place over rows of Tp values, T of them used (the first r % T + 1 when causal). */
typedef struct cpu_softmax_args {
    float *s;
    uint32_t rows, T, Tp;
    bool causal;
} cpu_softmax_args;
void cpu_softmax_run(const void *args, cpu_pool *pool);

typedef struct cpu_transpose_heads_args {
    const float *qkv;
    float *vt;
    uint32_t images, T, Tp, H, hd, row, v_col;
} cpu_transpose_heads_args;
void cpu_transpose_heads_run(const void *args, cpu_pool *pool);

typedef struct cpu_swiglu_args {
    const float *x;
    float *y;
    uint32_t rows, h;
} cpu_swiglu_args;
void cpu_swiglu_run(const void *args, cpu_pool *pool);

typedef struct cpu_embed_tokens_args {
    float *x;
    const float *prefix, *pos;
    uint32_t images, T, D, prefix_tokens;
} cpu_embed_tokens_args;
void cpu_embed_tokens_run(const void *args, cpu_pool *pool);

typedef struct cpu_copy_args {
    const void *src;
    void *dst;
    size_t bytes;
} cpu_copy_args;
void cpu_copy_run(const void *args, cpu_pool *pool);

/* Both resampling passes of shaders/preprocess_h.comp and preprocess_v.comp. */
typedef struct cpu_preprocess_args {
    const uint8_t *frame;
    const int32_t *table;
    uint32_t *rows; /* packed RGB8 between the passes */
    float *out;
    push_preprocess_h h;
    push_preprocess_v v;
} cpu_preprocess_args;
void cpu_preprocess_run(const void *args, cpu_pool *pool);

/* Makes OpenBLAS run each call on its caller's thread. Process-wide: other
 * OpenBLAS users in the process (FAISS) then run single-threaded too. */
void cpu_blas_single_threaded(void);

#endif
