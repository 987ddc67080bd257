/* clip_vision: the image tower (CLIP's, DINOv2's: the family says which
 * tensors and tokens). Weights live on the device; the forward pass for a
 * batch size is recorded once into a vk_sequence and replayed. */
#ifndef VKCLIP_CLIP_VISION_H
#define VKCLIP_CLIP_VISION_H

#include "encoder.h"

typedef struct clip_vision {
    clip_tower_config cfg;
    uint32_t width, layers;
    uint32_t patch, image_size, patches_per_side, patches, tokens;
    uint32_t prefix_tokens; /* in front of the patches: the class token, then any registers */
    uint32_t embed_dim;
    linear_weight patch_embed; /* the stride-P convolution as a matmul over patch rows */
    dbuf prefix;           /* [prefix_tokens][D]: class token + its position, registers */
    dbuf patch_positions;  /* [patches][D], resampled to the input's grid where the family does */
    dbuf pre_gamma, pre_beta, post_gamma, post_beta; /* pre_*: empty without a pre-norm */
    encoder_layer *layer;
    linear_weight projection; /* N == 0: none, the pooled token is the embedding */
    /* SigLIP's pooling head, when the family has one: a learnt probe
     * attends to every token, then LayerNorm and an MLP with a residual. */
    bool has_head;
    dbuf head_query;             /* [D] fp32: the probe through the query projection, on the host */
    linear_weight head_in;       /* in_proj [3D][D] (its query rows go unused) */
    linear_weight head_out, head_fc1, head_fc2;
    dbuf head_gamma, head_beta;
    kernel_plan plan;
} clip_vision;

bool clip_vision_load(clip_vision *v, weight_loader *L, const clip_config *cfg);
void clip_vision_free(clip_vision *v);

/* Activations for up to `batch` images, and the forward pass over all of
 * them, recorded. */
typedef struct vision_graph {
    uint32_t batch;
    vk_arena arena;
    dbuf patches; /* input: [batch·patches][3·P·P] fp32, written by preprocessing */
    encoder_buffers enc;
    dbuf pooled;  /* post-LayerNorm class tokens, fp32 */
    vk_buffer embeddings; /* output: [batch][embed_dim] fp32, host-visible */
    vk_sequence forward;
} vision_graph;

bool vision_graph_build(vision_graph *g, const clip_vision *v, vk_context *ctx, kernel_cache *kc,
                        uint32_t batch, storage_type activations, errbuf *err);
void vision_graph_free(vision_graph *g, vk_context *ctx);

/* Records into seq (begun, not ended) the forward pass over the first
 * `count` (<= g->batch) images of g's buffers. */
bool vision_graph_record(const vision_graph *g, const clip_vision *v, kernel_cache *kc, uint32_t count,
                         vk_sequence *seq, errbuf *err);

#endif
