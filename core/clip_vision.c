#include "clip_vision.h"

#include <stdlib.h>
#include <string.h>

bool clip_vision_load(clip_vision *v, weight_loader *L, const clip_config *cfg)
{
    memset(v, 0, sizeof *v);
    v->cfg = cfg->vision;
    v->width = (uint32_t)cfg->vision.hidden_size;
    v->layers = (uint32_t)cfg->vision.num_layers;
    v->patch = (uint32_t)cfg->patch_size;
    v->image_size = (uint32_t)cfg->image_size;
    v->patches_per_side = v->image_size / v->patch;
    v->patches = v->patches_per_side * v->patches_per_side;
    v->tokens = v->patches + 1;
    v->embed_dim = (uint32_t)cfg->projection_dim;
    v->tiles = L->tiles;
    uint32_t D = v->width, P = v->patch, hd = D / (uint32_t)cfg->vision.num_heads;
    if (D % 4 || hd % 4 || cfg->vision.intermediate_size % 4 || (3 * P * P) % 4)
        return errbuf_set(L->err, "config.json: vision sizes (width %u, head width %u, MLP %d, patch %u) "
                                  "must give multiples of 4", D, hd, cfg->vision.intermediate_size, P);
    if (v->patches_per_side == 0)
        return errbuf_set(L->err, "config.json: patch_size %u exceeds image_size %u", P, v->image_size);

    /* The convolution weight [D][3][P][P] is, row by row, the matmul weight
     * over patch rows laid out [c][py][px] (what preprocess_v writes). */
    int64_t conv_shape[4] = {D, 3, P, P}, d[1] = {D}, pos[2] = {v->tokens, D};
    const st_tensor *conv = model_weights_expect(L->weights, "vision_model.embeddings.patch_embedding.weight",
                                                 4, conv_shape, L->err);
    const char *proj[1] = {"visual_projection.weight"};
    if (!conv || !upload_matrix(L, &v->patch_embed, &conv, 1, D, 3 * P * P) ||
        !upload_vector(L, &v->class_embedding, "vision_model.embeddings.class_embedding", 1, d) ||
        !upload_vector(L, &v->positions, "vision_model.embeddings.position_embedding.weight", 2, pos) ||
        !upload_vector(L, &v->pre_gamma, "vision_model.pre_layrnorm.weight", 1, d) ||
        !upload_vector(L, &v->pre_beta, "vision_model.pre_layrnorm.bias", 1, d) ||
        !upload_vector(L, &v->post_gamma, "vision_model.post_layernorm.weight", 1, d) ||
        !upload_vector(L, &v->post_beta, "vision_model.post_layernorm.bias", 1, d) ||
        !upload_linear(L, &v->projection, proj, NULL, 1, v->embed_dim, D))
        return false;

    return encoder_layers_load(L, &v->layer, "vision_model", v->layers, D,
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
    /* Patch embeddings into rows 1..T-1 of each image, then class token and positions. */
    matmul_op embed = {
        .M = NP, .N = D, .K = K, .batch_outer = B, .batch_inner = 1,
        .a = {.buf = g->patches, .outer = NP * K / 4, .row = K / 4},
        .b = {.buf = v->patch_embed.w},
        .c = {.buf = b->x, .off = D, .outer = T * D, .row = D},
        .b_packed = true,
        .tiles = v->tiles,
        .alpha = 1.0f,
    };
    if (!op_matmul(r, &embed) || !op_embed_tokens(r, b->x, &v->class_embedding, &v->positions, B, T, D) ||
        !op_layernorm(r, b->x, 0, D4, &v->pre_gamma, &v->pre_beta, b->x, 0, D4, B * T, D, s->eps))
        return false;
    for (uint32_t i = 0; i < v->layers; i++)
        if (!encoder_layer_record(r, &v->layer[i], s, b))
            return false;
    /* Class token of each image (row b·T) → post-LayerNorm → projection. */
    dbuf out = {.slice = vk_buffer_slice(&g->embeddings, 0, g->embeddings.size), .type = STORAGE_F32};
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
