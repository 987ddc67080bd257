/* ops: one function per operation, each recording a dispatch into a
 * vk_sequence. The forward passes (clip_vision.c) are plain sequences of these
 * calls that read like the model; nothing runs until the sequence is submitted.
 *
 * The push-constant structs mirror the shaders' `Push` blocks field for field. */
#ifndef VKCLIP_OPS_H
#define VKCLIP_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels.h"
#include "vk/vk_command.h"

/* How a tensor is stored on the device. Accumulation is always fp32. */
typedef enum storage_type {
    STORAGE_F32,
    STORAGE_F16,
} storage_type;

typedef struct dbuf {
    vk_slice slice;
    storage_type type;
} dbuf;

size_t storage_size(storage_type t);
VkFormat storage_format4(storage_type t); /* four values a texel */
VkFormat storage_format1(storage_type t); /* one value a texel */

typedef enum activation {
    ACTIVATION_NONE = 0,
    ACTIVATION_QUICK_GELU = 1,
    ACTIVATION_GELU = 2,
    ACTIVATION_GELU_TANH = 3,
} activation;

typedef struct push_matmul {
    uint32_t M, N, K4, batch_inner;
    uint32_t a_off, a_outer, a_inner, a_row;
    uint32_t b_off, b_outer, b_inner, b_row;
    uint32_t c_off, c_outer, c_inner, c_row;
    float alpha;
} push_matmul;

typedef struct push_layernorm {
    uint32_t rows, D4, x_off, x_row, y_off, y_row;
    float eps;
} push_layernorm;

typedef struct push_softmax {
    uint32_t rows, T, Tp, causal;
} push_softmax;

typedef struct push_attention {
    uint32_t T, D4;
    float scale;
} push_attention;

typedef struct push_transpose_heads {
    uint32_t total, T, Tp, H, hd, row, v_col;
} push_transpose_heads;

typedef struct push_swiglu {
    uint32_t total, h;
} push_swiglu;

typedef struct push_embed_tokens {
    uint32_t total, T, D4, prefix;
} push_embed_tokens;

typedef struct push_preprocess_h {
    uint32_t format, bytes_per_pixel, order, stride0, stride1, plane1, plane2;
    uint32_t row_first, rows, crop_w, taps, h_table;
    uint32_t origin_x, origin_y; /* the crop's top-left pixel in the frame */
    uint32_t chroma;             /* CHROMA_* (preprocess.h) */
    uint32_t chroma_w, chroma_h; /* the frame's chroma samples per row and column */
} push_preprocess_h;

typedef struct push_preprocess_v {
    uint32_t crop_w, crop_h, taps, v_table, out_off, layout_kind, patch_size, patches_per_side;
    float mean[4];
    float inv_std[4];
} push_preprocess_v;

/* Where ops record to. The first failure sticks in err; later ops no-op. */
typedef struct recorder {
    vk_sequence *seq;
    kernel_cache *kernels;
    vk_slice dummy; /* bound where a kernel's optional input is unused */
    errbuf *err;
    bool failed;
} recorder;

/* One matmul operand: its buffer and its offsets/strides (texels of four
 * values for A and B, elements for C). */
typedef struct matmul_operand {
    dbuf buf;
    uint32_t off, outer, inner, row;
} matmul_operand;

typedef struct matmul_op {
    uint32_t M, N, K;                 /* K a multiple of 4 */
    uint32_t batch_outer, batch_inner; /* workgroups in z: outer · inner */
    matmul_operand a, b, c;
    bool b_packed;                    /* b is a weight packed by pack_weight() */
    matmul_tiles tiles;
    const dbuf *bias;                 /* NULL or N fp32 values */
    bool residual;                    /* add what c holds before the store */
    activation act;
    float alpha;
} matmul_op;

bool op_matmul(recorder *r, const matmul_op *op);

bool op_layernorm(recorder *r, dbuf x, uint32_t x_off, uint32_t x_row, const dbuf *gamma,
                  const dbuf *beta, dbuf y, uint32_t y_off, uint32_t y_row, uint32_t rows, uint32_t D,
                  float eps);

bool op_softmax(recorder *r, dbuf scores, uint32_t rows, uint32_t T, uint32_t Tp, bool causal);

/* softmax(Q·Kᵀ / sqrt(hd)) · V in one pass (the plan's fused attention):
 * qkv holds each sequence's T rows [Q | K | V] of width 3D, heads hd wide
 * side by side in each; attn gets [sequences · T][D]. */
bool op_attention(recorder *r, dbuf qkv, dbuf attn, uint32_t sequences, uint32_t T, uint32_t H, uint32_t hd,
                  uint32_t D, bool causal);

bool op_transpose_heads(recorder *r, dbuf qkv, dbuf vt, uint32_t images, uint32_t T, uint32_t Tp,
                        uint32_t H, uint32_t hd, uint32_t D);

/* y[r][j] = silu(x[r][j]) · x[r][h + j] over rows of x [rows][2h] (DINOv2's SwiGLU). */
bool op_swiglu(recorder *r, dbuf x, dbuf y, uint32_t rows, uint32_t h);

/* Each image's first prefix_tokens rows of x become prefix's rows; the
 * patch rows after them get pos's rows added. */
bool op_embed_tokens(recorder *r, dbuf x, const dbuf *prefix, const dbuf *pos, uint32_t images,
                     uint32_t T, uint32_t D, uint32_t prefix_tokens);

bool op_preprocess(recorder *r, vk_slice frame, vk_slice table, vk_slice rows_tmp, dbuf out,
                   const push_preprocess_h *h, const push_preprocess_v *v);

/* Packs an [N][K] weight for the matmul kernels' B operand: blocks of
 * matmul_pack_block(t) columns, [N / block][K/4][block] texels, N padded to
 * whole blocks with zeros (shaders/matmul.comp, matmul_tiled.comp).
 * get_row(user, n, dst) writes row n (K floats) into dst. Writes f32 or f16. */
uint64_t packed_weight_bytes(uint32_t N, uint32_t K, matmul_tiles t, storage_type type);
bool pack_weight(void *dst, uint32_t N, uint32_t K, matmul_tiles t, storage_type type,
                 void (*get_row)(void *user, uint32_t n, float *dst), void *user);

#endif
