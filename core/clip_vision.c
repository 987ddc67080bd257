#include "clip_vision.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/dtype.h"
#include "positions.h"

/* A tensor of this shape as fp32 on the host (NULL with the error set). */
static float *read_host(weight_loader *L, const char *name, int ndim, const int64_t *shape)
{
    const st_tensor *t = model_weights_expect(L->weights, name, ndim, shape, L->err);
    if (!t)
        return NULL;
    float *f = malloc((size_t)t->numel * sizeof *f);
    if (!f) {
        errbuf_set(L->err, "out of memory");
        return NULL;
    }
    convert_to_f32(t, f);
    return f;
}

/* The rows in front of the patches and the patches' positions, computed on
 * the host: [class token + position 0, registers...] (registers take no
 * position, as DINOv2 inserts them after adding positions), and the patch
 * grid's positions, resized when the input's grid differs from the trained one. */
static bool load_token_tables(clip_vision *v, weight_loader *L, const clip_config *cfg)
{
    const vision_names *n = &cfg->family->vision;
    uint32_t D = v->width, G = (uint32_t)cfg->position_grid, R = (uint32_t)cfg->register_tokens;
    int64_t cls_shape[3] = {1, 1, D}, pos_shape[3] = {1, 1 + (int64_t)G * G, D}, reg_shape[3] = {1, R, D};
    int dims = n->batched_shapes ? 3 : 1;
    if (!n->batched_shapes) { /* CLIP: [D] and [T][D] */
        cls_shape[0] = D;
        pos_shape[0] = 1 + (int64_t)G * G, pos_shape[1] = D;
    }
    float *cls = read_host(L, n->class_token, dims, cls_shape);
    float *pos = cls ? read_host(L, n->positions, n->batched_shapes ? 3 : 2, pos_shape) : NULL;
    float *reg = pos && R ? read_host(L, n->registers, 3, reg_shape) : NULL;
    float *prefix = malloc((size_t)v->prefix_tokens * D * sizeof *prefix);
    float *grid = malloc((size_t)v->patches * D * sizeof *grid);
    bool ok = pos && (reg || !R) && prefix && grid;
    if (ok) {
        for (uint32_t d = 0; d < D; d++)
            prefix[d] = cls[d] + pos[d];
        for (uint32_t i = 0; i < R * D; i++)
            prefix[D + i] = reg[i];
        int S = (int)v->patches_per_side;
        if (v->patches_per_side == G)
            memcpy(grid, pos + D, (size_t)v->patches * D * sizeof *grid);
        else if (cfg->family->antialiased_positions)
            ok = positions_resample_antialiased(pos + D, (int)G, (int)D, grid, S, S) ||
                 errbuf_set(L->err, "out of memory");
        else
            positions_resample_bicubic(pos + D, (int)G, (int)D, grid, S, S);
        ok = ok && upload_floats(L, &v->prefix, prefix, (size_t)v->prefix_tokens * D) &&
             upload_floats(L, &v->patch_positions, grid, (size_t)v->patches * D);
    } else if (pos && (reg || !R)) {
        errbuf_set(L->err, "out of memory");
    }
    free(cls);
    free(pos);
    free(reg);
    free(prefix);
    free(grid);
    return ok;
}

static bool upload_norm(weight_loader *L, dbuf *gamma, dbuf *beta, const char *prefix, uint32_t D)
{
    char w[128], b[128];
    snprintf(w, sizeof w, "%s.weight", prefix);
    snprintf(b, sizeof b, "%s.bias", prefix);
    int64_t d[1] = {D};
    return upload_vector(L, gamma, w, 1, d) && upload_vector(L, beta, b, 1, d);
}

bool clip_vision_load(clip_vision *v, weight_loader *L, const clip_config *cfg)
{
    const vision_names *n = &cfg->family->vision;
    memset(v, 0, sizeof *v);
    v->cfg = cfg->vision;
    v->width = (uint32_t)cfg->vision.hidden_size;
    v->layers = (uint32_t)cfg->vision.num_layers;
    v->patch = (uint32_t)cfg->patch_size;
    v->image_size = (uint32_t)cfg->image_size;
    v->patches_per_side = v->image_size / v->patch;
    v->patches = v->patches_per_side * v->patches_per_side;
    v->prefix_tokens = 1 + (uint32_t)cfg->register_tokens;
    v->tokens = v->patches + v->prefix_tokens;
    v->embed_dim = (uint32_t)cfg->projection_dim;
    v->tiles = L->tiles;
    uint32_t D = v->width, P = v->patch, hd = D / (uint32_t)cfg->vision.num_heads;
    if (D % 4 || hd % 4 || cfg->vision.intermediate_size % 4 || (3 * P * P) % 4)
        return errbuf_set(L->err, "config.json: vision sizes (width %u, head width %u, MLP %d, patch %u) "
                                  "must give multiples of 4", D, hd, cfg->vision.intermediate_size, P);
    if (v->patches_per_side == 0)
        return errbuf_set(L->err, "config.json: patch_size %u exceeds image_size %u", P, v->image_size);
    if (!cfg->family->resamples_positions && v->patches_per_side != (uint32_t)cfg->position_grid)
        return errbuf_set(L->err, "config.json: a %u-pixel input does not give the %dx%d patch grid of the "
                                  "position embeddings", v->image_size, cfg->position_grid, cfg->position_grid);

    /* The convolution weight [D][3][P][P] is, row by row, the matmul weight
     * over patch rows laid out [c][py][px] (what preprocess_v writes). */
    char conv_name[128], bias_name[128];
    snprintf(conv_name, sizeof conv_name, "%s.weight", n->patch);
    snprintf(bias_name, sizeof bias_name, "%s.bias", n->patch);
    int64_t conv_shape[4] = {D, 3, P, P};
    const st_tensor *conv = model_weights_expect(L->weights, conv_name, 4, conv_shape, L->err);
    int64_t d[1] = {D};
    if (!conv || !upload_matrix(L, &v->patch_embed, &conv, 1, D, 3 * P * P) ||
        (n->patch_bias && !upload_vector(L, &v->patch_embed.bias, bias_name, 1, d)) ||
        !load_token_tables(v, L, cfg) || (n->pre_norm && !upload_norm(L, &v->pre_gamma, &v->pre_beta, n->pre_norm, D)) ||
        !upload_norm(L, &v->post_gamma, &v->post_beta, n->post_norm, D))
        return false;
    const char *proj[1] = {n->projection};
    if (n->projection && !upload_linear(L, &v->projection, proj, NULL, 1, v->embed_dim, D))
        return false;
    return encoder_layers_load(L, &v->layer, &n->block, cfg->qkv_bias, v->layers, D,
                               (uint32_t)cfg->vision.intermediate_size);
}

void clip_vision_free(clip_vision *v)
{
    free(v->layer);
    memset(v, 0, sizeof *v);
}

static bool record_forward(recorder *r, const clip_vision *v, const vision_graph *g, const encoder_shape *s)
{
    uint32_t B = s->sequences, T = v->tokens, NP = v->patches, D = v->width, D4 = D / 4, K = v->patch_embed.K;
    const encoder_buffers *b = &g->enc;
    /* Patch embeddings into the rows after the prefix, then the prefix rows
     * and the patches' positions. */
    matmul_op embed = {
        .M = NP, .N = D, .K = K, .batch_outer = B, .batch_inner = 1,
        .a = {.buf = g->patches, .outer = NP * K / 4, .row = K / 4},
        .b = {.buf = v->patch_embed.w},
        .c = {.buf = b->x, .off = v->prefix_tokens * D, .outer = T * D, .row = D},
        .b_packed = true,
        .tiles = v->tiles,
        .bias = v->patch_embed.bias.slice.size ? &v->patch_embed.bias : NULL,
        .alpha = 1.0f,
    };
    if (!op_matmul(r, &embed) ||
        !op_embed_tokens(r, b->x, &v->prefix, &v->patch_positions, B, T, D, v->prefix_tokens) ||
        (v->pre_gamma.slice.size &&
         !op_layernorm(r, b->x, 0, D4, &v->pre_gamma, &v->pre_beta, b->x, 0, D4, B * T, D, s->eps)))
        return false;
    for (uint32_t i = 0; i < v->layers; i++)
        if (!encoder_layer_record(r, &v->layer[i], s, b))
            return false;
    /* Class token of each image (row b·T) → post-LayerNorm → projection
     * (without one, the normed class token is the output). */
    dbuf out = {.slice = vk_buffer_slice(&g->embeddings, 0, g->embeddings.size), .type = STORAGE_F32};
    if (!v->projection.N)
        return op_layernorm(r, b->x, 0, T * D4, &v->post_gamma, &v->post_beta, out, 0, D4, B, D, s->eps);
    return op_layernorm(r, b->x, 0, T * D4, &v->post_gamma, &v->post_beta, g->pooled, 0, D4, B, D, s->eps) &&
           record_linear(r, &v->projection, g->pooled, out, B, ACTIVATION_NONE, false, v->tiles);
}

/* The activations of g (into g->arena), for `batch` images. */
static bool alloc_activations(vision_graph *g, const clip_vision *v, vk_context *ctx, const encoder_shape *s,
                              storage_type act, errbuf *err)
{
    return alloc_activation(ctx, &g->arena, &g->patches, (uint64_t)g->batch * v->patches * v->patch_embed.K,
                            STORAGE_F32, err) &&
           encoder_buffers_alloc(ctx, &g->arena, s, act, &g->enc, err) &&
           alloc_activation(ctx, &g->arena, &g->pooled, (uint64_t)g->batch * v->width, STORAGE_F32, err);
}

bool vision_graph_build(vision_graph *g, const clip_vision *v, vk_context *ctx, kernel_cache *kc,
                        uint32_t batch, storage_type act, errbuf *err)
{
    memset(g, 0, sizeof *g);
    g->batch = batch;
    encoder_shape s = encoder_shape_of(&v->cfg, batch, v->tokens, false, v->tiles);
    /* Measure first, so that the activations take one block of their size
     * (up to 256 MiB a block) rather than a fixed 64 MiB. */
    vision_graph m = {.batch = batch};
    vk_arena_init_measure(&m.arena);
    bool ok = alloc_activations(&m, v, ctx, &s, act, err);
    uint64_t block = m.arena.used < (256u << 20) ? m.arena.used : (256u << 20);
    vk_arena_init(&g->arena, VK_MEMORY_DEVICE, block);
    ok = ok && alloc_activations(g, v, ctx, &s, act, err) &&
         vk_buffer_create(ctx, &g->embeddings, (uint64_t)batch * v->embed_dim * 4, VK_MEMORY_READBACK, err) &&
         vk_sequence_begin(ctx, &g->forward, err) &&
         vision_graph_record(g, v, kc, batch, &g->forward, err) && vk_sequence_end(&g->forward, err);
    if (!ok)
        vision_graph_free(g, ctx);
    return ok;
}

bool vision_graph_record(const vision_graph *g, const clip_vision *v, kernel_cache *kc, uint32_t count,
                         vk_sequence *seq, errbuf *err)
{
    if (count == 0 || count > g->batch)
        return errbuf_set(err, "vision: %u images for buffers of %u", count, g->batch);
    /* Every stride depends on the token count and widths only, so a smaller
     * batch uses the first rows of each buffer. */
    encoder_shape s = encoder_shape_of(&v->cfg, count, v->tokens, false, v->tiles);
    recorder r = {.seq = seq, .kernels = kc, .dummy = g->pooled.slice, .err = err};
    return record_forward(&r, v, g, &s);
}

void vision_graph_free(vision_graph *g, vk_context *ctx)
{
    vk_sequence_destroy(&g->forward);
    vk_buffer_destroy(ctx, &g->embeddings);
    vk_arena_destroy(ctx, &g->arena);
    memset(g, 0, sizeof *g);
}
