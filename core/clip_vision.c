#include "clip_vision.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Attention matmuls have small N (tokens, head width): narrow tiles. */
static const matmul_tiles attention_tiles = {.tm = 8, .tn = 2, .wg = 8};

static bool load_layer(weight_loader *L, vision_layer *ly, int i, uint32_t D, uint32_t I)
{
    char n[12][96];
    const char *fmt[12] = {
        "layer_norm1.weight", "layer_norm1.bias", "layer_norm2.weight", "layer_norm2.bias",
        "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
        "self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias",
        "self_attn.out_proj.weight", "self_attn.out_proj.bias",
    };
    for (int k = 0; k < 12; k++)
        snprintf(n[k], sizeof n[k], "vision_model.encoder.layers.%d.%s", i, fmt[k]);
    char fc[4][96];
    snprintf(fc[0], sizeof fc[0], "vision_model.encoder.layers.%d.mlp.fc1.weight", i);
    snprintf(fc[1], sizeof fc[1], "vision_model.encoder.layers.%d.mlp.fc1.bias", i);
    snprintf(fc[2], sizeof fc[2], "vision_model.encoder.layers.%d.mlp.fc2.weight", i);
    snprintf(fc[3], sizeof fc[3], "vision_model.encoder.layers.%d.mlp.fc2.bias", i);

    int64_t d[1] = {D};
    const char *qkv_w[3] = {n[4], n[5], n[6]}, *qkv_b[3] = {n[7], n[8], n[9]};
    const char *out_w[1] = {n[10]}, *out_b[1] = {n[11]};
    const char *fc1_w[1] = {fc[0]}, *fc1_b[1] = {fc[1]}, *fc2_w[1] = {fc[2]}, *fc2_b[1] = {fc[3]};
    return upload_vector(L, &ly->ln1_gamma, n[0], 1, d) && upload_vector(L, &ly->ln1_beta, n[1], 1, d) &&
           upload_vector(L, &ly->ln2_gamma, n[2], 1, d) && upload_vector(L, &ly->ln2_beta, n[3], 1, d) &&
           upload_linear(L, &ly->qkv, qkv_w, qkv_b, 3, D, D) &&
           upload_linear(L, &ly->out, out_w, out_b, 1, D, D) &&
           upload_linear(L, &ly->fc1, fc1_w, fc1_b, 1, I, D) &&
           upload_linear(L, &ly->fc2, fc2_w, fc2_b, 1, D, I);
}

bool clip_vision_load(clip_vision *v, weight_loader *L, const clip_config *cfg)
{
    memset(v, 0, sizeof *v);
    v->cfg = cfg->vision;
    v->width = (uint32_t)cfg->vision.hidden_size;
    v->heads = (uint32_t)cfg->vision.num_heads;
    v->head_dim = v->width / v->heads;
    v->layers = (uint32_t)cfg->vision.num_layers;
    v->intermediate = (uint32_t)cfg->vision.intermediate_size;
    v->patch = (uint32_t)cfg->patch_size;
    v->image_size = (uint32_t)cfg->image_size;
    v->patches_per_side = v->image_size / v->patch;
    v->patches = v->patches_per_side * v->patches_per_side;
    v->tokens = v->patches + 1;
    v->embed_dim = (uint32_t)cfg->projection_dim;
    v->tiles = L->tiles;
    if (v->width % 4 || v->head_dim % 4 || v->intermediate % 4 || (3 * v->patch * v->patch) % 4)
        return errbuf_set(L->err, "config.json: vision sizes (width %u, head width %u, MLP %u, patch %u) "
                                  "must give multiples of 4", v->width, v->head_dim, v->intermediate, v->patch);
    if (v->patches_per_side == 0)
        return errbuf_set(L->err, "config.json: patch_size %u exceeds image_size %u", v->patch, v->image_size);

    uint32_t D = v->width, P = v->patch;
    /* The convolution weight [D][3][P][P] is, row by row, the matmul weight
     * over patch rows laid out [c][py][px] (what preprocess_v writes). */
    int64_t conv_shape[4] = {D, 3, P, P};
    const st_tensor *conv = model_weights_expect(L->weights, "vision_model.embeddings.patch_embedding.weight",
                                                 4, conv_shape, L->err);
    if (!conv)
        return false;
    int64_t d[1] = {D}, pos[2] = {v->tokens, D};
    if (!upload_matrix(L, &v->patch_embed, &conv, 1, D, 3 * P * P) ||
        !upload_vector(L, &v->class_embedding, "vision_model.embeddings.class_embedding", 1, d) ||
        !upload_vector(L, &v->positions, "vision_model.embeddings.position_embedding.weight", 2, pos) ||
        !upload_vector(L, &v->pre_gamma, "vision_model.pre_layrnorm.weight", 1, d) ||
        !upload_vector(L, &v->pre_beta, "vision_model.pre_layrnorm.bias", 1, d) ||
        !upload_vector(L, &v->post_gamma, "vision_model.post_layernorm.weight", 1, d) ||
        !upload_vector(L, &v->post_beta, "vision_model.post_layernorm.bias", 1, d))
        return false;
    const char *proj[1] = {"visual_projection.weight"};
    if (!upload_linear(L, &v->projection, proj, NULL, 1, v->embed_dim, D))
        return false;

    v->layer = calloc(v->layers, sizeof *v->layer);
    if (!v->layer)
        return errbuf_set(L->err, "out of memory");
    for (uint32_t i = 0; i < v->layers; i++)
        if (!load_layer(L, &v->layer[i], (int)i, D, v->intermediate))
            return false;
    return true;
}

void clip_vision_free(clip_vision *v)
{
    free(v->layer);
    memset(v, 0, sizeof *v);
}

/* ---- the forward pass ---- */

static bool alloc_act(vk_context *ctx, vk_arena *a, dbuf *out, uint64_t count, storage_type type,
                      errbuf *err)
{
    uint64_t bytes = count * storage_size(type);
    if (bytes > ctx->props.limits.maxStorageBufferRange)
        return errbuf_set(err, "batch too large for this device: an activation of %llu MiB exceeds "
                               "its %u MiB buffer limit", (unsigned long long)(bytes >> 20),
                          ctx->props.limits.maxStorageBufferRange >> 20);
    out->type = type;
    return vk_arena_alloc(ctx, a, bytes, &out->slice, err);
}

/* y = x Wᵀ + b over `rows` rows, optionally activated or added into y. */
static bool linear(recorder *r, const linear_weight *w, dbuf x, dbuf y, uint32_t rows, activation act,
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

static bool attention(recorder *r, const clip_vision *v, const vision_graph *g)
{
    uint32_t B = g->batch, T = v->tokens, Tp = (T + 3) / 4 * 4;
    uint32_t D = v->width, H = v->heads, hd = v->head_dim, row4 = 3 * D / 4;
    /* scores[b,h] = Q·Kᵀ / sqrt(hd): Q and K are column ranges of the qkv rows. */
    matmul_op qk = {
        .M = T, .N = T, .K = hd, .batch_outer = B, .batch_inner = H,
        .a = {.buf = g->qkv, .off = 0, .outer = T * row4, .inner = hd / 4, .row = row4},
        .b = {.buf = g->qkv, .off = D / 4, .outer = T * row4, .inner = hd / 4, .row = row4},
        .c = {.buf = g->scores, .outer = H * T * Tp, .inner = T * Tp, .row = Tp},
        .tiles = attention_tiles,
        .alpha = 1.0f / sqrtf((float)hd),
    };
    /* attn[b, :, h·hd…] = P·V, with V transposed per head and padded to Tp. */
    matmul_op pv = {
        .M = T, .N = hd, .K = Tp, .batch_outer = B, .batch_inner = H,
        .a = {.buf = g->scores, .outer = H * T * Tp / 4, .inner = T * Tp / 4, .row = Tp / 4},
        .b = {.buf = g->vt, .outer = H * hd * Tp / 4, .inner = hd * Tp / 4, .row = Tp / 4},
        .c = {.buf = g->attn, .outer = T * D, .inner = hd, .row = D},
        .tiles = attention_tiles,
        .alpha = 1.0f,
    };
    return op_matmul(r, &qk) && op_softmax(r, g->scores, B * H * T, T, Tp, false) &&
           op_transpose_heads(r, g->qkv, g->vt, B, T, Tp, H, hd, D) && op_matmul(r, &pv);
}

static bool record_forward(recorder *r, const clip_vision *v, const vision_graph *g)
{
    uint32_t B = g->batch, T = v->tokens, NP = v->patches, D = v->width, D4 = D / 4;
    uint32_t rows = B * T;
    float eps = v->cfg.layer_norm_eps;
    activation act = v->cfg.act == CLIP_ACT_GELU ? ACTIVATION_GELU : ACTIVATION_QUICK_GELU;

    /* Patch embeddings into rows 1..T-1 of each image, then class token and positions. */
    uint32_t K = v->patch_embed.K;
    matmul_op embed = {
        .M = NP, .N = D, .K = K, .batch_outer = B, .batch_inner = 1,
        .a = {.buf = g->patches, .outer = NP * K / 4, .row = K / 4},
        .b = {.buf = v->patch_embed.w},
        .c = {.buf = g->x, .off = D, .outer = T * D, .row = D},
        .b_packed = true,
        .tiles = v->tiles,
        .alpha = 1.0f,
    };
    if (!op_matmul(r, &embed) || !op_embed_tokens(r, g->x, &v->class_embedding, &v->positions, B, T, D) ||
        !op_layernorm(r, g->x, 0, D4, &v->pre_gamma, &v->pre_beta, g->x, 0, D4, rows, D, eps))
        return false;

    for (uint32_t i = 0; i < v->layers; i++) {
        const vision_layer *ly = &v->layer[i];
        bool ok = op_layernorm(r, g->x, 0, D4, &ly->ln1_gamma, &ly->ln1_beta, g->h, 0, D4, rows, D, eps) &&
                  linear(r, &ly->qkv, g->h, g->qkv, rows, ACTIVATION_NONE, false, v->tiles) &&
                  attention(r, v, g) &&
                  linear(r, &ly->out, g->attn, g->x, rows, ACTIVATION_NONE, true, v->tiles) &&
                  op_layernorm(r, g->x, 0, D4, &ly->ln2_gamma, &ly->ln2_beta, g->h, 0, D4, rows, D, eps) &&
                  linear(r, &ly->fc1, g->h, g->mlp, rows, act, false, v->tiles) &&
                  linear(r, &ly->fc2, g->mlp, g->x, rows, ACTIVATION_NONE, true, v->tiles);
        if (!ok)
            return false;
    }
    /* Class token of each image (row b·T) → post-LN → projection. */
    dbuf out = {.slice = vk_buffer_slice(&g->embeddings, 0, g->embeddings.size), .type = STORAGE_F32};
    return op_layernorm(r, g->x, 0, T * D4, &v->post_gamma, &v->post_beta, g->pooled, 0, D4, B, D, eps) &&
           linear(r, &v->projection, g->pooled, out, B, ACTIVATION_NONE, false, v->tiles);
}

bool vision_graph_build(vision_graph *g, const clip_vision *v, vk_context *ctx, kernel_cache *kc,
                        uint32_t batch, storage_type act, errbuf *err)
{
    memset(g, 0, sizeof *g);
    g->batch = batch;
    vk_arena_init(&g->arena, VK_MEMORY_DEVICE, 64u << 20);
    uint32_t B = batch, T = v->tokens, Tp = (T + 3) / 4 * 4, D = v->width, H = v->heads;
    uint64_t rows = (uint64_t)B * T;
    bool ok = alloc_act(ctx, &g->arena, &g->patches, (uint64_t)B * v->patches * v->patch_embed.K, STORAGE_F32, err) &&
              alloc_act(ctx, &g->arena, &g->x, rows * D, STORAGE_F32, err) &&
              alloc_act(ctx, &g->arena, &g->h, rows * D, act, err) &&
              alloc_act(ctx, &g->arena, &g->qkv, rows * 3 * D, act, err) &&
              alloc_act(ctx, &g->arena, &g->scores, (uint64_t)B * H * T * Tp, STORAGE_F32, err) &&
              alloc_act(ctx, &g->arena, &g->vt, (uint64_t)B * H * v->head_dim * Tp, act, err) &&
              alloc_act(ctx, &g->arena, &g->attn, rows * D, act, err) &&
              alloc_act(ctx, &g->arena, &g->mlp, rows * v->intermediate, act, err) &&
              alloc_act(ctx, &g->arena, &g->pooled, (uint64_t)B * D, STORAGE_F32, err) &&
              vk_buffer_create(ctx, &g->embeddings, (uint64_t)B * v->embed_dim * 4, VK_MEMORY_READBACK, err);
    if (!ok) {
        vision_graph_free(g, ctx);
        return false;
    }
    recorder r = {.kernels = kc, .dummy = g->pooled.slice, .err = err};
    if (!vk_sequence_begin(ctx, &g->forward, err)) {
        vision_graph_free(g, ctx);
        return false;
    }
    r.seq = &g->forward;
    if (!record_forward(&r, v, g) || !vk_sequence_end(&g->forward, err)) {
        vision_graph_free(g, ctx);
        return false;
    }
    return true;
}

void vision_graph_free(vision_graph *g, vk_context *ctx)
{
    vk_sequence_destroy(&g->forward);
    vk_buffer_destroy(ctx, &g->embeddings);
    vk_arena_destroy(ctx, &g->arena);
    memset(g, 0, sizeof *g);
}
