#include "clip_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/dtype.h"

/* Rows [first_row, first_row + rows) of a [*][width] float tensor, as fp32. */
static void read_rows_f32(const st_tensor *t, size_t first_row, size_t rows, size_t width, float *dst)
{
    size_t elem = st_dtype_size(t->dtype);
    st_tensor view = *t;
    view.data = (const unsigned char *)t->data + first_row * width * elem;
    view.numel = (int64_t)(rows * width);
    view.nbytes = rows * width * elem;
    convert_to_f32(&view, dst);
}

bool clip_text_load(clip_text *t, weight_loader *L, const clip_config *cfg)
{
    memset(t, 0, sizeof *t);
    t->cfg = cfg->text;
    t->width = (uint32_t)cfg->text.hidden_size;
    t->layers = (uint32_t)cfg->text.num_layers;
    t->context = (uint32_t)cfg->max_position_embeddings;
    t->vocab = (uint32_t)cfg->vocab_size;
    t->embed_dim = (uint32_t)cfg->projection_dim;
    t->plan = L->plan;
    uint32_t D = t->width, hd = D / (uint32_t)cfg->text.num_heads;
    if (D % 4 || hd % 4 || cfg->text.intermediate_size % 4)
        return errbuf_set(L->err, "config.json: text sizes (width %u, head width %u, MLP %d) must be "
                                  "multiples of 4", D, hd, cfg->text.intermediate_size);
    const text_names *n = &cfg->family->text;
    t->causal = n->causal;
    int64_t tok_shape[2] = {t->vocab, D}, pos_shape[2] = {t->context, D};
    t->token_embedding = model_weights_expect(L->weights, n->token_embedding, 2, tok_shape, L->err);
    const st_tensor *pos = model_weights_expect(L->weights, n->positions, 2, pos_shape, L->err);
    if (!t->token_embedding || !pos)
        return false;
    t->positions = malloc((size_t)t->context * D * sizeof *t->positions);
    if (!t->positions)
        return errbuf_set(L->err, "out of memory");
    read_rows_f32(pos, 0, t->context, D, t->positions);
    char gamma[160], beta[160], proj_w[160], proj_b[160];
    snprintf(gamma, sizeof gamma, "%s.weight", n->final_norm);
    snprintf(beta, sizeof beta, "%s.bias", n->final_norm);
    snprintf(proj_w, sizeof proj_w, "%s.weight", n->projection);
    snprintf(proj_b, sizeof proj_b, "%s.bias", n->projection);
    const char *proj[1] = {proj_w}, *bias[1] = {proj_b};
    int64_t d[1] = {D};
    if (!upload_vector(L, &t->final_gamma, gamma, 1, d) || !upload_vector(L, &t->final_beta, beta, 1, d) ||
        !upload_linear(L, &t->projection, proj, n->projection_bias ? bias : NULL, 1, t->embed_dim, D))
        return false;
    return encoder_layers_load(L, &t->layer, &n->block, true, false, t->layers, D,
                               (uint32_t)cfg->text.intermediate_size);
}

void clip_text_free(clip_text *t)
{
    free(t->positions);
    free(t->layer);
    memset(t, 0, sizeof *t);
}

bool text_graph_init(text_graph *g, const clip_text *t, vk_context *ctx, uint32_t max_prompts,
                     storage_type act, errbuf *err)
{
    memset(g, 0, sizeof *g);
    g->max_prompts = max_prompts;
    vk_arena_init(&g->arena, VK_MEMORY_DEVICE, 64u << 20);
    encoder_shape s = encoder_shape_of(&t->cfg, max_prompts, t->context, true, &t->plan);
    uint64_t D = t->width;
    bool ok = encoder_buffers_alloc(ctx, &g->arena, &s, act, &g->enc, err) &&
              alloc_activation(ctx, &g->arena, &g->pooled, max_prompts * D, STORAGE_F32, err) &&
              alloc_activation(ctx, &g->arena, &g->pooled_norm, max_prompts * D, STORAGE_F32, err) &&
              vk_buffer_create(ctx, &g->input, (uint64_t)max_prompts * t->context * D * 4, VK_MEMORY_UPLOAD, err) &&
              vk_buffer_create(ctx, &g->embeddings, (uint64_t)max_prompts * t->embed_dim * 4,
                               VK_MEMORY_READBACK, err);
    if (!ok)
        text_graph_free(g, ctx);
    return ok;
}

void text_graph_free(text_graph *g, vk_context *ctx)
{
    vk_buffer_destroy(ctx, &g->input);
    vk_buffer_destroy(ctx, &g->embeddings);
    vk_arena_destroy(ctx, &g->arena);
    memset(g, 0, sizeof *g);
}

/* Row t of prompt b (padded to T rows) = token embedding + position t;
 * rows past the prompt's end are zero (with the causal mask only later rows
 * could see them; without one every text fills the whole context). */
static bool fill_input(const text_graph *g, const clip_text *t, const int32_t *const *ids, const int *lengths,
                       int n, uint32_t T, errbuf *err)
{
    uint32_t D = t->width;
    float *x = g->input.mapped;
    memset(x, 0, (size_t)n * T * D * sizeof *x);
    for (int b = 0; b < n; b++)
        for (int i = 0; i < lengths[b]; i++) {
            int32_t id = ids[b][i];
            if (id < 0 || (uint32_t)id >= t->vocab)
                return errbuf_set(err, "token id %d is outside the vocabulary (%u)", id, t->vocab);
            float *row = x + ((size_t)b * T + (size_t)i) * D;
            read_rows_f32(t->token_embedding, (size_t)id, 1, D, row);
            const float *pos = t->positions + (size_t)i * D;
            for (uint32_t d = 0; d < D; d++)
                row[d] += pos[d];
        }
    return true;
}

bool text_encode(text_graph *g, const clip_text *t, vk_context *ctx, kernel_cache *kc,
                 const int32_t *const *ids, const int *lengths, const int *pool, int n, float *out,
                 errbuf *err)
{
    if (n <= 0 || (uint32_t)n > g->max_prompts)
        return errbuf_set(err, "text batch of %d prompts (at most %u)", n, g->max_prompts);
    uint32_t T = 1;
    for (int b = 0; b < n; b++) {
        if (lengths[b] < 1 || (uint32_t)lengths[b] > t->context || pool[b] < 0 || pool[b] >= lengths[b])
            return errbuf_set(err, "prompt %d: %d tokens (the model takes 1 to %u)", b, lengths[b], t->context);
        if ((uint32_t)lengths[b] > T)
            T = (uint32_t)lengths[b];
    }
    if (!fill_input(g, t, ids, lengths, n, T, err))
        return false;
    vk_buffer_flush(ctx, &g->input);

    uint32_t D = t->width, D4 = D / 4;
    encoder_shape s = encoder_shape_of(&t->cfg, (uint32_t)n, T, t->causal, &t->plan);
    vk_sequence seq;
    if (!vk_sequence_begin(ctx, &seq, err))
        return false;
    recorder r = {.seq = &seq, .kernels = kc, .dummy = g->pooled.slice, .err = err};
    vk_sequence_copy(&seq, vk_buffer_slice(&g->input, 0, (uint64_t)n * T * D * 4), g->enc.x.slice);
    bool ok = true;
    for (uint32_t i = 0; ok && i < t->layers; i++)
        ok = encoder_layer_record(&r, &t->layer[i], &s, &g->enc);
    /* Pool each prompt's end-of-text row, then the final LayerNorm and the projection. */
    for (int b = 0; ok && b < n; b++) {
        uint64_t row = ((uint64_t)b * T + (uint64_t)pool[b]) * D * 4;
        vk_sequence_copy(&seq, vk_slice_sub(g->enc.x.slice, row, (uint64_t)D * 4),
                         vk_slice_sub(g->pooled.slice, (uint64_t)b * D * 4, (uint64_t)D * 4));
    }
    dbuf emb = {.slice = vk_buffer_slice(&g->embeddings, 0, g->embeddings.size), .type = STORAGE_F32};
    ok = ok &&
         op_layernorm(&r, g->pooled, 0, D4, &t->final_gamma, &t->final_beta, g->pooled_norm, 0, D4,
                      (uint32_t)n, D, s.eps) &&
         record_linear(&r, &t->projection, g->pooled_norm, emb, (uint32_t)n, ACTIVATION_NONE, false, t->plan.linear) &&
         vk_sequence_end(&seq, err) && vk_sequence_submit(&seq, err) && vk_sequence_wait(&seq, err);
    if (ok) {
        vk_sequence_print_profile(&seq);
        vk_buffer_invalidate(ctx, &g->embeddings);
        memcpy(out, g->embeddings.mapped, (size_t)n * t->embed_dim * sizeof *out);
    }
    vk_sequence_destroy(&seq);
    return ok;
}
