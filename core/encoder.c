#include "encoder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Attention matmuls have small N (tokens, head width): narrow tiles. */
static const matmul_tiles attention_tiles = {.tm = 8, .tn = 2, .wg = 8};

static bool encoder_layer_load(weight_loader *L, encoder_layer *ly, const char *tower, int index,
                               uint32_t width, uint32_t intermediate)
{
    enum { LN1_W, LN1_B, LN2_W, LN2_B, Q_W, K_W, V_W, Q_B, K_B, V_B, OUT_W, OUT_B,
           FC1_W, FC1_B, FC2_W, FC2_B, NAMES };
    static const char *const suffix[NAMES] = {
        "layer_norm1.weight", "layer_norm1.bias", "layer_norm2.weight", "layer_norm2.bias",
        "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
        "self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias",
        "self_attn.out_proj.weight", "self_attn.out_proj.bias",
        "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias",
    };
    char n[NAMES][128];
    for (int k = 0; k < NAMES; k++)
        snprintf(n[k], sizeof n[k], "%s.encoder.layers.%d.%s", tower, index, suffix[k]);
    const char *qkv_w[3] = {n[Q_W], n[K_W], n[V_W]}, *qkv_b[3] = {n[Q_B], n[K_B], n[V_B]};
    const char *out_w[1] = {n[OUT_W]}, *out_b[1] = {n[OUT_B]};
    const char *fc1_w[1] = {n[FC1_W]}, *fc1_b[1] = {n[FC1_B]};
    const char *fc2_w[1] = {n[FC2_W]}, *fc2_b[1] = {n[FC2_B]};
    int64_t d[1] = {width};
    return upload_vector(L, &ly->ln1_gamma, n[LN1_W], 1, d) &&
           upload_vector(L, &ly->ln1_beta, n[LN1_B], 1, d) &&
           upload_vector(L, &ly->ln2_gamma, n[LN2_W], 1, d) &&
           upload_vector(L, &ly->ln2_beta, n[LN2_B], 1, d) &&
           upload_linear(L, &ly->qkv, qkv_w, qkv_b, 3, width, width) &&
           upload_linear(L, &ly->out, out_w, out_b, 1, width, width) &&
           upload_linear(L, &ly->fc1, fc1_w, fc1_b, 1, intermediate, width) &&
           upload_linear(L, &ly->fc2, fc2_w, fc2_b, 1, width, intermediate);
}

bool encoder_layers_load(weight_loader *L, encoder_layer **out, const char *tower, uint32_t count,
                         uint32_t width, uint32_t intermediate)
{
    *out = calloc(count, sizeof **out);
    if (!*out)
        return errbuf_set(L->err, "out of memory");
    for (uint32_t i = 0; i < count; i++)
        if (!encoder_layer_load(L, &(*out)[i], tower, (int)i, width, intermediate))
            return false;
    return true;
}

encoder_shape encoder_shape_of(const clip_tower_config *cfg, uint32_t sequences, uint32_t tokens,
                               bool causal, matmul_tiles tiles)
{
    encoder_shape s = {
        .sequences = sequences,
        .tokens = tokens,
        .padded_tokens = (tokens + 3) / 4 * 4,
        .width = (uint32_t)cfg->hidden_size,
        .heads = (uint32_t)cfg->num_heads,
        .head_dim = (uint32_t)(cfg->hidden_size / cfg->num_heads),
        .intermediate = (uint32_t)cfg->intermediate_size,
        .causal = causal,
        .act = cfg->act == CLIP_ACT_GELU ? ACTIVATION_GELU : ACTIVATION_QUICK_GELU,
        .eps = cfg->layer_norm_eps,
        .tiles = tiles,
    };
    return s;
}

bool alloc_activation(vk_context *ctx, vk_arena *arena, dbuf *out, uint64_t count, storage_type type,
                      errbuf *err)
{
    uint64_t bytes = count * storage_size(type);
    if (bytes > ctx->props.limits.maxStorageBufferRange)
        return errbuf_set(err, "batch too large for this device: an activation of %llu MiB exceeds "
                               "its %u MiB buffer limit", (unsigned long long)(bytes >> 20),
                          ctx->props.limits.maxStorageBufferRange >> 20);
    out->type = type;
    return vk_arena_alloc(ctx, arena, bytes, &out->slice, err);
}

bool encoder_buffers_alloc(vk_context *ctx, vk_arena *arena, const encoder_shape *s,
                           storage_type act, encoder_buffers *b, errbuf *err)
{
    uint64_t rows = (uint64_t)s->sequences * s->tokens;
    uint64_t heads = (uint64_t)s->sequences * s->heads;
    return alloc_activation(ctx, arena, &b->x, rows * s->width, STORAGE_F32, err) &&
           alloc_activation(ctx, arena, &b->h, rows * s->width, act, err) &&
           alloc_activation(ctx, arena, &b->qkv, rows * 3 * s->width, act, err) &&
           alloc_activation(ctx, arena, &b->scores, heads * s->tokens * s->padded_tokens, STORAGE_F32, err) &&
           alloc_activation(ctx, arena, &b->vt, heads * s->head_dim * s->padded_tokens, act, err) &&
           alloc_activation(ctx, arena, &b->attn, rows * s->width, act, err) &&
           alloc_activation(ctx, arena, &b->mlp, rows * s->intermediate, act, err);
}

bool record_linear(recorder *r, const linear_weight *w, dbuf x, dbuf y, uint32_t rows, activation act,
                   bool residual, matmul_tiles tiles)
{
    matmul_op op = {
        .M = rows, .N = w->N, .K = w->K, .batch_outer = 1, .batch_inner = 1,
        .a = {.buf = x, .row = w->K / 4},
        .b = {.buf = w->w},
        .c = {.buf = y, .row = w->N},
        .b_packed = true,
        .tiles = tiles,
        .bias = w->bias.slice.size ? &w->bias : NULL,
        .residual = residual,
        .act = act,
        .alpha = 1.0f,
    };
    return op_matmul(r, &op);
}

/* softmax(Q·Kᵀ / sqrt(hd)) · V for every (sequence, head); Q, K and V are
 * column ranges of the fused projection's rows. */
static bool record_attention(recorder *r, const encoder_shape *s, const encoder_buffers *b)
{
    uint32_t S = s->sequences, T = s->tokens, Tp = s->padded_tokens;
    uint32_t D = s->width, H = s->heads, hd = s->head_dim, row4 = 3 * D / 4;
    matmul_op qk = {
        .M = T, .N = T, .K = hd, .batch_outer = S, .batch_inner = H,
        .a = {.buf = b->qkv, .off = 0, .outer = T * row4, .inner = hd / 4, .row = row4},
        .b = {.buf = b->qkv, .off = D / 4, .outer = T * row4, .inner = hd / 4, .row = row4},
        .c = {.buf = b->scores, .outer = H * T * Tp, .inner = T * Tp, .row = Tp},
        .tiles = attention_tiles,
        .alpha = 1.0f / sqrtf((float)hd),
    };
    /* V is transposed per head and zero-padded to Tp so that P·V is a plain matmul. */
    matmul_op pv = {
        .M = T, .N = hd, .K = Tp, .batch_outer = S, .batch_inner = H,
        .a = {.buf = b->scores, .outer = H * T * Tp / 4, .inner = T * Tp / 4, .row = Tp / 4},
        .b = {.buf = b->vt, .outer = H * hd * Tp / 4, .inner = hd * Tp / 4, .row = Tp / 4},
        .c = {.buf = b->attn, .outer = T * D, .inner = hd, .row = D},
        .tiles = attention_tiles,
        .alpha = 1.0f,
    };
    return op_matmul(r, &qk) && op_softmax(r, b->scores, S * H * T, T, Tp, s->causal) &&
           op_transpose_heads(r, b->qkv, b->vt, S, T, Tp, H, hd, D) && op_matmul(r, &pv);
}

bool encoder_layer_record(recorder *r, const encoder_layer *ly, const encoder_shape *s,
                          const encoder_buffers *b)
{
    uint32_t rows = s->sequences * s->tokens, D = s->width, D4 = D / 4;
    return op_layernorm(r, b->x, 0, D4, &ly->ln1_gamma, &ly->ln1_beta, b->h, 0, D4, rows, D, s->eps) &&
           record_linear(r, &ly->qkv, b->h, b->qkv, rows, ACTIVATION_NONE, false, s->tiles) &&
           record_attention(r, s, b) &&
           record_linear(r, &ly->out, b->attn, b->x, rows, ACTIVATION_NONE, true, s->tiles) &&
           op_layernorm(r, b->x, 0, D4, &ly->ln2_gamma, &ly->ln2_beta, b->h, 0, D4, rows, D, s->eps) &&
           record_linear(r, &ly->fc1, b->h, b->mlp, rows, s->act, false, s->tiles) &&
           record_linear(r, &ly->fc2, b->mlp, b->x, rows, ACTIVATION_NONE, true, s->tiles);
}
