#include "encoder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Attention matmuls have small N (tokens, head width): narrow tiles. */
static const matmul_tiles attention_tiles = {.tm = 8, .tn = 2, .wg = 8};

int block_tensor_names(const block_names *b, int index, bool qkv_bias, bool gated, char names[BLOCK_TENSORS][128])
{
    const char *fc1 = gated ? b->gated_in : b->fc1, *fc2 = gated ? b->gated_out : b->fc2;
    const char *stem[BLOCK_TENSORS] = {
        b->norm1, b->norm1, b->norm2, b->norm2, b->query, b->key, b->value,
        b->query, b->key, b->value, b->out, b->out, fc1, fc1, fc2, fc2, b->scale1, b->scale2,
    };
    char prefix[96];
    snprintf(prefix, sizeof prefix, b->prefix, index);
    int n = 0;
    for (int k = 0; k < BLOCK_TENSORS; k++) {
        bool bias = k == BLOCK_LN1_B || k == BLOCK_LN2_B || k == BLOCK_Q_B || k == BLOCK_K_B || k == BLOCK_V_B ||
                    k == BLOCK_OUT_B || k == BLOCK_FC1_B || k == BLOCK_FC2_B;
        bool scale = k == BLOCK_SCALE1 || k == BLOCK_SCALE2;
        names[k][0] = 0;
        if ((scale && !stem[k]) || (!qkv_bias && (k == BLOCK_Q_B || k == BLOCK_K_B || k == BLOCK_V_B)))
            continue;
        snprintf(names[k], sizeof names[k], "%s%s%s", prefix, stem[k], scale ? "" : bias ? ".bias" : ".weight");
        n++;
    }
    return n;
}

static bool encoder_layer_load(weight_loader *L, encoder_layer *ly, const block_names *b, bool qkv_bias,
                               bool gated, int index, uint32_t width, uint32_t intermediate)
{
    char n[BLOCK_TENSORS][128];
    if (gated && !b->gated_in)
        return errbuf_set(L->err, "config.json: this family has no SwiGLU MLP");
    block_tensor_names(b, index, qkv_bias, gated, n);
    const char *qkv_w[3] = {n[BLOCK_Q_W], n[BLOCK_K_W], n[BLOCK_V_W]};
    const char *qkv_b[3] = {n[BLOCK_Q_B], n[BLOCK_K_B], n[BLOCK_V_B]};
    const char *fc1_w[1] = {n[BLOCK_FC1_W]}, *fc1_b[1] = {n[BLOCK_FC1_B]};
    int64_t d[1] = {width};
    bool ok = upload_vector(L, &ly->ln1_gamma, n[BLOCK_LN1_W], 1, d) &&
              upload_vector(L, &ly->ln1_beta, n[BLOCK_LN1_B], 1, d) &&
              upload_vector(L, &ly->ln2_gamma, n[BLOCK_LN2_W], 1, d) &&
              upload_vector(L, &ly->ln2_beta, n[BLOCK_LN2_B], 1, d) &&
              upload_linear(L, &ly->qkv, qkv_w, qkv_bias ? qkv_b : NULL, 3, width, width) &&
              upload_linear(L, &ly->fc1, fc1_w, fc1_b, 1, gated ? 2 * intermediate : intermediate, width);
    if (!ok)
        return false;
    /* The two projections back into the residual stream carry the layer
     * scale where the family has one. */
    if (b->scale1)
        return upload_linear_scaled(L, &ly->out, n[BLOCK_OUT_W], n[BLOCK_OUT_B], n[BLOCK_SCALE1], width, width) &&
               upload_linear_scaled(L, &ly->fc2, n[BLOCK_FC2_W], n[BLOCK_FC2_B], n[BLOCK_SCALE2], width,
                                    intermediate);
    const char *out_w[1] = {n[BLOCK_OUT_W]}, *out_b[1] = {n[BLOCK_OUT_B]};
    const char *fc2_w[1] = {n[BLOCK_FC2_W]}, *fc2_b[1] = {n[BLOCK_FC2_B]};
    return upload_linear(L, &ly->out, out_w, out_b, 1, width, width) &&
           upload_linear(L, &ly->fc2, fc2_w, fc2_b, 1, width, intermediate);
}

bool encoder_layers_load(weight_loader *L, encoder_layer **out, const block_names *names, bool qkv_bias,
                         bool gated, uint32_t count, uint32_t width, uint32_t intermediate)
{
    *out = calloc(count, sizeof **out);
    if (!*out)
        return errbuf_set(L->err, "out of memory");
    for (uint32_t i = 0; i < count; i++)
        if (!encoder_layer_load(L, &(*out)[i], names, qkv_bias, gated, (int)i, width, intermediate))
            return false;
    return true;
}

encoder_shape encoder_shape_of(const clip_tower_config *cfg, uint32_t sequences, uint32_t tokens,
                               bool causal, const kernel_plan *plan)
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
        .swiglu = cfg->swiglu,
        .act = cfg->act == CLIP_ACT_GELU        ? ACTIVATION_GELU
               : cfg->act == CLIP_ACT_GELU_TANH ? ACTIVATION_GELU_TANH
                                                : ACTIVATION_QUICK_GELU,
        .eps = cfg->layer_norm_eps,
        .tiles = plan->linear,
        .fused_attention = plan->fused_attention,
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
    /* Fused attention keeps no scores; the pooling head's one query row still does. */
    uint64_t score_rows = s->fused_attention ? 1 : s->tokens;
    return alloc_activation(ctx, arena, &b->x, rows * s->width, STORAGE_F32, err) &&
           alloc_activation(ctx, arena, &b->h, rows * s->width, act, err) &&
           alloc_activation(ctx, arena, &b->qkv, rows * 3 * s->width, act, err) &&
           alloc_activation(ctx, arena, &b->scores, heads * score_rows * s->padded_tokens, STORAGE_F32, err) &&
           alloc_activation(ctx, arena, &b->vt, heads * s->head_dim * s->padded_tokens, act, err) &&
           alloc_activation(ctx, arena, &b->attn, rows * s->width, act, err) &&
           alloc_activation(ctx, arena, &b->mlp, rows * s->intermediate * (s->swiglu ? 2 : 1), act, err) &&
           (!s->swiglu || alloc_activation(ctx, arena, &b->gated, rows * s->intermediate, act, err));
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
    if (s->fused_attention)
        return op_attention(r, b->qkv, b->attn, S, T, H, hd, D, s->causal);
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
           (s->swiglu ? record_linear(r, &ly->fc1, b->h, b->mlp, rows, ACTIVATION_NONE, false, s->tiles) &&
                            op_swiglu(r, b->mlp, b->gated, rows, s->intermediate) &&
                            record_linear(r, &ly->fc2, b->gated, b->x, rows, ACTIVATION_NONE, true, s->tiles)
                      : record_linear(r, &ly->fc1, b->h, b->mlp, rows, s->act, false, s->tiles) &&
                            record_linear(r, &ly->fc2, b->mlp, b->x, rows, ACTIVATION_NONE, true, s->tiles));
}
