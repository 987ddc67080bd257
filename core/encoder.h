/* encoder: the pre-LayerNorm transformer block every tower is made of:
 *   x = x + out_proj(attention(LN1(x)))
 *   x = x + fc2(act(fc1(LN2(x))))
 * (DINOv2's layer scale folded into out_proj and fc2 at load time).
 * Weights of one block, and the recording of its forward pass. */
#ifndef VKCLIP_ENCODER_H
#define VKCLIP_ENCODER_H

#include "model/config.h"
#include "weights_upload.h"

typedef struct encoder_layer {
    dbuf ln1_gamma, ln1_beta, ln2_gamma, ln2_beta;
    linear_weight qkv, out, fc1, fc2; /* q, k and v fused into one projection; fc1 is [2I][D] when gated */
} encoder_layer;

/* A block's tensors, in this order (the classifier cache's key lists them so). */
enum {
    BLOCK_LN1_W, BLOCK_LN1_B, BLOCK_LN2_W, BLOCK_LN2_B, BLOCK_Q_W, BLOCK_K_W, BLOCK_V_W,
    BLOCK_Q_B, BLOCK_K_B, BLOCK_V_B, BLOCK_OUT_W, BLOCK_OUT_B, BLOCK_FC1_W, BLOCK_FC1_B,
    BLOCK_FC2_W, BLOCK_FC2_B, BLOCK_SCALE1, BLOCK_SCALE2, BLOCK_TENSORS
};

/* The names of block `index`'s tensors (gated: the SwiGLU MLP's in place of
 * fc1/fc2); those it does not have (no layer scale, no query/key/value bias)
 * are empty strings. Returns how many it has. */
int block_tensor_names(const block_names *b, int index, bool qkv_bias, bool gated, char names[BLOCK_TENSORS][128]);

/* Loads `count` blocks named by `names` into a new array (*out, freed by the caller). */
bool encoder_layers_load(weight_loader *L, encoder_layer **out, const block_names *names, bool qkv_bias,
                         bool gated, uint32_t count, uint32_t width, uint32_t intermediate);

/* Shapes of one run of the encoder over `sequences` sequences of `tokens`. */
typedef struct encoder_shape {
    uint32_t sequences, tokens, padded_tokens; /* padded_tokens: tokens rounded up to 4 */
    uint32_t width, heads, head_dim, intermediate;
    bool causal;
    bool swiglu; /* the MLP is gated: mlp holds [rows][2 intermediate], gated the product */
    activation act;
    float eps;
    matmul_tiles tiles;    /* the linear layers' matmul (the plan's) */
    bool fused_attention;  /* the plan's: no score matrix but the pooling head's row */
} encoder_shape;

/* Activations of one run; x is the fp32 residual stream [sequences·tokens][width]. */
typedef struct encoder_buffers {
    dbuf x, h, qkv, scores, vt, attn, mlp, gated;
} encoder_buffers;

encoder_shape encoder_shape_of(const clip_tower_config *cfg, uint32_t sequences, uint32_t tokens,
                               bool causal, const kernel_plan *plan);

/* Allocates the buffers for at most shape->sequences × shape->tokens. */
bool encoder_buffers_alloc(vk_context *ctx, vk_arena *arena, const encoder_shape *shape,
                           storage_type activations, encoder_buffers *b, errbuf *err);

/* Allocation of one activation, refused past the device's binding limit. */
bool alloc_activation(vk_context *ctx, vk_arena *arena, dbuf *out, uint64_t count, storage_type type,
                      errbuf *err);

bool encoder_layer_record(recorder *r, const encoder_layer *ly, const encoder_shape *s,
                          const encoder_buffers *b);

/* y = act(x Wᵀ + b) over rows, or y += x Wᵀ + b with residual. */
bool record_linear(recorder *r, const linear_weight *w, dbuf x, dbuf y, uint32_t rows, activation act,
                   bool residual, matmul_tiles tiles);

#endif
