#include "clip_vision.h"

#include <math.h>
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
static bool upload_norm(weight_loader *L, dbuf *gamma, dbuf *beta, const char *prefix, uint32_t D)
{
    char w[160], b[160];
    snprintf(w, sizeof w, "%s.weight", prefix);
    snprintf(b, sizeof b, "%s.bias", prefix);
    int64_t d[1] = {D};
    return upload_vector(L, gamma, w, 1, d) && upload_vector(L, beta, b, 1, d);
}

static bool load_token_tables(clip_vision *v, weight_loader *L, const clip_config *cfg)
{
    const vision_names *n = &cfg->family->vision;
    uint32_t D = v->width, G = (uint32_t)cfg->position_grid, R = (uint32_t)cfg->register_tokens;
    uint32_t C = n->class_token ? 1 : 0; /* positions have a row for the class token */
    int64_t cls_shape[3] = {1, 1, D}, pos_shape[3] = {1, C + (int64_t)G * G, D}, reg_shape[3] = {1, R, D};
    if (!n->batched_shapes) { /* CLIP, SigLIP: [D] and [T][D] */
        cls_shape[0] = D;
        pos_shape[0] = C + (int64_t)G * G, pos_shape[1] = D;
    }
    float *cls = C ? read_host(L, n->class_token, n->batched_shapes ? 3 : 1, cls_shape) : NULL;
    float *pos = cls || !C ? read_host(L, n->positions, n->batched_shapes ? 3 : 2, pos_shape) : NULL;
    float *reg = pos && R ? read_host(L, n->registers, 3, reg_shape) : NULL;
    float *prefix = malloc(((size_t)v->prefix_tokens * D + 1) * sizeof *prefix);
    float *grid = malloc((size_t)v->patches * D * sizeof *grid);
    bool ok = pos && (reg || !R) && prefix && grid;
    if (ok) {
        for (uint32_t d = 0; d < C * D; d++)
            prefix[d] = cls[d] + pos[d];
        for (uint32_t i = 0; i < R * D; i++)
            prefix[C * D + i] = reg[i];
        int S = (int)v->patches_per_side;
        const float *trained = pos + C * D;
        if (v->patches_per_side == G)
            memcpy(grid, trained, (size_t)v->patches * D * sizeof *grid);
        else if (cfg->family->antialiased_positions)
            ok = positions_resample_antialiased(trained, (int)G, (int)D, grid, S, S) ||
                 errbuf_set(L->err, "out of memory");
        else
            positions_resample_bicubic(trained, (int)G, (int)D, grid, S, S);
        ok = ok && (!v->prefix_tokens || upload_floats(L, &v->prefix, prefix, (size_t)v->prefix_tokens * D)) &&
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

/* The pooling head "<head>.*": the probe's query computed here once (it is
 * the same for every image), the key/value projection, out_proj, LayerNorm
 * and MLP uploaded as layers. */
static bool load_pooling_head(clip_vision *v, weight_loader *L, const char *head, uint32_t intermediate)
{
    uint32_t D = v->width;
    char probe_name[128], w_name[128], b_name[128], norm[128];
    snprintf(probe_name, sizeof probe_name, "%s.probe", head);
    snprintf(w_name, sizeof w_name, "%s.attention.in_proj_weight", head);
    snprintf(b_name, sizeof b_name, "%s.attention.in_proj_bias", head);
    snprintf(norm, sizeof norm, "%s.layernorm", head);
    int64_t probe_shape[3] = {1, 1, D}, w_shape[2] = {3 * (int64_t)D, D}, b_shape[1] = {3 * (int64_t)D};
    float *probe = read_host(L, probe_name, 3, probe_shape);
    float *w = probe ? read_host(L, w_name, 2, w_shape) : NULL;
    float *b = w ? read_host(L, b_name, 1, b_shape) : NULL;
    float *q = malloc(D * sizeof *q);
    bool ok = b && q;
    if (b && !q)
        errbuf_set(L->err, "out of memory");
    for (uint32_t i = 0; ok && i < D; i++) { /* q = Wq · probe + bq, the first D rows of in_proj */
        double sum = b[i];
        for (uint32_t k = 0; k < D; k++)
            sum += (double)w[(size_t)i * D + k] * probe[k];
        q[i] = (float)sum;
    }
    ok = ok && upload_floats(L, &v->head_query, q, D);
    free(probe);
    free(w);
    free(b);
    free(q);
    char out_w[128], out_b[128], fc1_w[128], fc1_b[128], fc2_w[128], fc2_b[128];
    snprintf(out_w, sizeof out_w, "%s.attention.out_proj.weight", head);
    snprintf(out_b, sizeof out_b, "%s.attention.out_proj.bias", head);
    snprintf(fc1_w, sizeof fc1_w, "%s.mlp.fc1.weight", head);
    snprintf(fc1_b, sizeof fc1_b, "%s.mlp.fc1.bias", head);
    snprintf(fc2_w, sizeof fc2_w, "%s.mlp.fc2.weight", head);
    snprintf(fc2_b, sizeof fc2_b, "%s.mlp.fc2.bias", head);
    const char *in_w[1] = {w_name}, *in_b[1] = {b_name}, *ow[1] = {out_w}, *ob[1] = {out_b};
    const char *f1w[1] = {fc1_w}, *f1b[1] = {fc1_b}, *f2w[1] = {fc2_w}, *f2b[1] = {fc2_b};
    v->has_head = true;
    return ok && upload_linear(L, &v->head_in, in_w, in_b, 1, 3 * D, D) &&
           upload_linear(L, &v->head_out, ow, ob, 1, D, D) && upload_norm(L, &v->head_gamma, &v->head_beta, norm, D) &&
           upload_linear(L, &v->head_fc1, f1w, f1b, 1, intermediate, D) &&
           upload_linear(L, &v->head_fc2, f2w, f2b, 1, D, intermediate);
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
    v->prefix_tokens = (n->class_token ? 1 : 0) + (uint32_t)cfg->register_tokens;
    v->tokens = v->patches + v->prefix_tokens;
    v->embed_dim = (uint32_t)cfg->projection_dim;
    v->plan = L->plan;
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
        !load_token_tables(v, L, cfg) ||
        (n->pre_norm && !upload_norm(L, &v->pre_gamma, &v->pre_beta, n->pre_norm, D)) ||
        !upload_norm(L, &v->post_gamma, &v->post_beta, n->post_norm, D))
        return false;
    const char *proj[1] = {n->projection};
    if ((n->projection && !upload_linear(L, &v->projection, proj, NULL, 1, v->embed_dim, D)) ||
        (n->attention_pool &&
         !load_pooling_head(v, L, n->attention_pool, (uint32_t)cfg->vision.intermediate_size)))
        return false;
    return encoder_layers_load(L, &v->layer, &n->block, cfg->qkv_bias, cfg->vision.swiglu, v->layers, D,
                               (uint32_t)cfg->vision.intermediate_size);
}

void clip_vision_free(clip_vision *v)
{
    free(v->layer);
    memset(v, 0, sizeof *v);
}

/* Attention with a single query row: narrow tiles, as the encoder's. */
static const matmul_tiles head_tiles = {.tm = 8, .tn = 2, .wg = 8};

/* SigLIP's ending: post-LayerNorm over every token; the probe attends to
 * them (one query row a head; the fused projection's query columns are
 * computed and not read); out_proj into the output, then out += MLP(LN(out)). */
static bool record_pooling_head(recorder *r, const clip_vision *v, const encoder_buffers *b, const encoder_shape *s,
                                dbuf out)
{
    uint32_t B = s->sequences, T = s->tokens, Tp = s->padded_tokens, D = s->width, D4 = D / 4;
    uint32_t H = s->heads, hd = s->head_dim, row4 = 3 * D / 4, rows = B * T;
    matmul_op qk = {
        .M = 1, .N = T, .K = hd, .batch_outer = B, .batch_inner = H,
        .a = {.buf = v->head_query, .outer = 0, .inner = hd / 4, .row = 0}, /* the same query for every image */
        .b = {.buf = b->qkv, .off = D / 4, .outer = T * row4, .inner = hd / 4, .row = row4},
        .c = {.buf = b->scores, .outer = H * Tp, .inner = Tp, .row = Tp},
        .tiles = head_tiles,
        .alpha = 1.0f / sqrtf((float)hd),
    };
    matmul_op pv = {
        .M = 1, .N = hd, .K = Tp, .batch_outer = B, .batch_inner = H,
        .a = {.buf = b->scores, .outer = H * Tp / 4, .inner = Tp / 4, .row = Tp / 4},
        .b = {.buf = b->vt, .outer = H * hd * Tp / 4, .inner = hd * Tp / 4, .row = Tp / 4},
        .c = {.buf = b->attn, .outer = D, .inner = hd, .row = D},
        .tiles = head_tiles,
        .alpha = 1.0f,
    };
    return op_layernorm(r, b->x, 0, D4, &v->post_gamma, &v->post_beta, b->h, 0, D4, rows, D, s->eps) &&
           record_linear(r, &v->head_in, b->h, b->qkv, rows, ACTIVATION_NONE, false, s->tiles) &&
           op_matmul(r, &qk) && op_softmax(r, b->scores, B * H, T, Tp, false) &&
           op_transpose_heads(r, b->qkv, b->vt, B, T, Tp, H, hd, D) && op_matmul(r, &pv) &&
           record_linear(r, &v->head_out, b->attn, out, B, ACTIVATION_NONE, false, s->tiles) &&
           op_layernorm(r, out, 0, D4, &v->head_gamma, &v->head_beta, b->h, 0, D4, B, D, s->eps) &&
           record_linear(r, &v->head_fc1, b->h, b->mlp, B, s->act, false, s->tiles) &&
           record_linear(r, &v->head_fc2, b->mlp, out, B, ACTIVATION_NONE, true, s->tiles);
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
        .tiles = v->plan.linear,
        .bias = v->patch_embed.bias.slice.size ? &v->patch_embed.bias : NULL,
        .alpha = 1.0f,
    };
    if (!op_matmul(r, &embed) ||
        !op_embed_tokens(r, b->x, v->prefix_tokens ? &v->prefix : &v->patch_positions, &v->patch_positions, B, T,
                         D, v->prefix_tokens) ||
        (v->pre_gamma.slice.size &&
         !op_layernorm(r, b->x, 0, D4, &v->pre_gamma, &v->pre_beta, b->x, 0, D4, B * T, D, s->eps)))
        return false;
    for (uint32_t i = 0; i < v->layers; i++)
        if (!encoder_layer_record(r, &v->layer[i], s, b))
            return false;
    /* Class token of each image (row b·T) → post-LayerNorm → projection
     * (without one, the normed class token is the output). */
    dbuf out = {.slice = vk_buffer_slice(&g->embeddings, 0, g->embeddings.size), .type = STORAGE_F32};
    if (v->has_head)
        return record_pooling_head(r, v, b, s, out);
    if (!v->projection.N)
        return op_layernorm(r, b->x, 0, T * D4, &v->post_gamma, &v->post_beta, out, 0, D4, B, D, s->eps);
    return op_layernorm(r, b->x, 0, T * D4, &v->post_gamma, &v->post_beta, g->pooled, 0, D4, B, D, s->eps) &&
           record_linear(r, &v->projection, g->pooled, out, B, ACTIVATION_NONE, false, v->plan.linear);
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
    encoder_shape s = encoder_shape_of(&v->cfg, batch, v->tokens, false, &v->plan);
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
    encoder_shape s = encoder_shape_of(&v->cfg, count, v->tokens, false, &v->plan);
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
