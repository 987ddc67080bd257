/* clip_text: the CLIP text tower. Token and position embeddings are looked
 * up on the host (the token table stays in the memory-mapped file: at 49408
 * rows it is the largest tensor and only a few rows a prompt are read); the
 * blocks, the final LayerNorm and the projection run on the device. Prompts
 * run at their true length: a batch is padded to its longest prompt only,
 * which the causal mask makes harmless. A classifier's batches come in a
 * dozen or so lengths, so a few recorded forward passes serve them all
 * (padding to fewer lengths cost more in work than recording saved). */
#ifndef VKCLIP_CLIP_TEXT_H
#define VKCLIP_CLIP_TEXT_H

#include "encoder.h"

typedef struct clip_text {
    clip_tower_config cfg;
    uint32_t width, layers, context, vocab, embed_dim;
    const st_tensor *token_embedding; /* [vocab][width], any float dtype, in the mapping */
    float *positions;                 /* [context][width], fp32 on the host */
    dbuf final_gamma, final_beta;
    encoder_layer *layer;
    linear_weight projection;
    bool causal;
    kernel_plan plan;
} clip_text;

bool clip_text_load(clip_text *t, weight_loader *L, const clip_config *cfg);
void clip_text_free(clip_text *t);

/* A forward pass recorded for n prompts of T tokens, replayed for every
 * batch of that shape. */
typedef struct text_run {
    vk_sequence seq;
    uint32_t n, T;
    uint64_t last_used; /* the least recently used run is recorded over */
} text_run;

#define TEXT_RUNS 16

/* Buffers for batches of up to max_prompts prompts of up to `context` tokens.
 * The final LayerNorm and the projection run over every row (a fraction of a
 * percent of the tower's work), so that where each prompt is pooled is only
 * which output row the host reads: the recording does not depend on it. */
typedef struct text_graph {
    uint32_t max_prompts;
    vk_arena arena;
    encoder_buffers enc;
    dbuf normed;          /* every row after the final LayerNorm, fp32 */
    vk_buffer input;      /* host-visible: token + position embeddings */
    vk_buffer embeddings; /* host-visible output: [max_prompts · context][embed_dim] */
    text_run runs[TEXT_RUNS];
    uint64_t uses;
} text_graph;

bool text_graph_init(text_graph *g, const clip_text *t, vk_context *ctx, uint32_t max_prompts,
                     storage_type activations, errbuf *err);
void text_graph_free(text_graph *g, vk_context *ctx);

/* Projected (not normalised) embeddings of n <= max_prompts token sequences;
 * pool[i] is the position of sequence i's end-of-text token. */
bool text_encode(text_graph *g, const clip_text *t, vk_context *ctx, kernel_cache *kc,
                 const int32_t *const *ids, const int *lengths, const int *pool, int n, float *out,
                 errbuf *err);

#endif
