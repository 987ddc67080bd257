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
    uint64_t rows = (uint64_t)max_prompts * t->context;
    bool ok = encoder_buffers_alloc(ctx, &g->arena, &s, act, &g->enc, err) &&
              alloc_activation(ctx, &g->arena, &g->normed, rows * D, STORAGE_F32, err) &&
              vk_buffer_create(ctx, &g->input, rows * D * 4, VK_MEMORY_UPLOAD, err) &&
              vk_buffer_create(ctx, &g->embeddings, rows * t->embed_dim * 4, VK_MEMORY_READBACK, err);
    if (!ok)
        text_graph_free(g, ctx);
    return ok;
}

void text_graph_free(text_graph *g, vk_context *ctx)
{
    for (int i = 0; i < TEXT_RUNS; i++)
        vk_sequence_destroy(&g->runs[i].seq);
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

/* Records the forward pass of n prompts of T tokens into run: the input's
 * copy to the device, the blocks, then the final LayerNorm and the projection
 * of every row. */
static bool record_run(text_graph *g, const clip_text *t, vk_context *ctx, kernel_cache *kc, text_run *run,
                       uint32_t n, uint32_t T, errbuf *err)
{
    uint32_t D = t->width, D4 = D / 4, rows = n * T;
    encoder_shape s = encoder_shape_of(&t->cfg, n, T, t->causal, &t->plan);
    if (run->seq.ctx ? !vk_sequence_reset(&run->seq, err) : !vk_sequence_begin(ctx, &run->seq, err))
        return false;
    run->n = run->T = 0; /* not usable until it is recorded whole */
    recorder r = {.seq = &run->seq, .kernels = kc, .dummy = g->normed.slice, .err = err};
    vk_sequence_copy(&run->seq, vk_buffer_slice(&g->input, 0, (uint64_t)rows * D * 4), g->enc.x.slice);
    bool ok = true;
    for (uint32_t i = 0; ok && i < t->layers; i++)
        ok = encoder_layer_record(&r, &t->layer[i], &s, &g->enc);
    dbuf emb = {.slice = vk_buffer_slice(&g->embeddings, 0, g->embeddings.size), .type = STORAGE_F32};
    ok = ok &&
         op_layernorm(&r, g->enc.x, 0, D4, &t->final_gamma, &t->final_beta, g->normed, 0, D4, rows, D, s.eps) &&
         record_linear(&r, &t->projection, g->normed, emb, rows, ACTIVATION_NONE, false, t->plan.linear) &&
         vk_sequence_end(&run->seq, err);
    if (ok) {
        run->n = n;
        run->T = T;
    }
    return ok;
}

/* The recorded run for n prompts of T tokens: one kept from before, else the
 * least recently used slot recorded anew. */
static text_run *text_run_for(text_graph *g, const clip_text *t, vk_context *ctx, kernel_cache *kc, uint32_t n,
                              uint32_t T, errbuf *err)
{
    text_run *run = &g->runs[0];
    for (int i = 0; i < TEXT_RUNS; i++) {
        text_run *c = &g->runs[i];
        if (c->n == n && c->T == T) {
            run = c;
            break;
        }
        if (c->last_used < run->last_used)
            run = c;
    }
    run->last_used = ++g->uses;
    if ((run->n != n || run->T != T) && !record_run(g, t, ctx, kc, run, n, T, err))
        return NULL;
    return run;
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
    text_run *run = text_run_for(g, t, ctx, kc, (uint32_t)n, T, err);
    if (!run || !vk_sequence_submit(&run->seq, err) || !vk_sequence_wait(&run->seq, err))
        return false;
    vk_sequence_print_profile(&run->seq);
    vk_buffer_invalidate(ctx, &g->embeddings);
    for (int b = 0; b < n; b++) /* each prompt's end-of-text row */
        memcpy(out + (size_t)b * t->embed_dim,
               (const float *)g->embeddings.mapped + ((size_t)b * T + (size_t)pool[b]) * t->embed_dim,
               t->embed_dim * sizeof *out);
    return true;
}
