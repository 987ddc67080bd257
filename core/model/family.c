#include "model/family.h"

#include <string.h>

#define CLIP_BLOCK(tower)                                                                        \
    {                                                                                            \
        .prefix = tower ".encoder.layers.%d.", .norm1 = "layer_norm1", .norm2 = "layer_norm2",  \
        .query = "self_attn.q_proj", .key = "self_attn.k_proj", .value = "self_attn.v_proj",     \
        .out = "self_attn.out_proj", .fc1 = "mlp.fc1", .fc2 = "mlp.fc2",                         \
    }

/* Hugging Face's CLIPModel. */
const model_family family_clip = {
    .name = "clip",
    .vision = {
        .patch = "vision_model.embeddings.patch_embedding",
        .class_token = "vision_model.embeddings.class_embedding",
        .positions = "vision_model.embeddings.position_embedding.weight",
        .pre_norm = "vision_model.pre_layrnorm", /* sic */
        .post_norm = "vision_model.post_layernorm",
        .projection = "visual_projection.weight",
        .block = CLIP_BLOCK("vision_model"),
    },
    .has_text = true,
    .text = {
        .token_embedding = "text_model.embeddings.token_embedding.weight",
        .positions = "text_model.embeddings.position_embedding.weight",
        .final_norm = "text_model.final_layer_norm",
        .projection = "text_projection",
        .causal = true,
        .block = CLIP_BLOCK("text_model"),
    },
};

/* Hugging Face's SiglipModel: CLIP's block names; no class token, no
 * pre-norm, the patch convolution with a bias, and a pooling head. */
const model_family family_siglip = {
    .name = "siglip",
    .vision = {
        .patch = "vision_model.embeddings.patch_embedding",
        .patch_bias = true,
        .positions = "vision_model.embeddings.position_embedding.weight",
        .post_norm = "vision_model.post_layernorm",
        .attention_pool = "vision_model.head",
        .block = CLIP_BLOCK("vision_model"),
    },
    .has_text = true,
    .text = {
        .token_embedding = "text_model.embeddings.token_embedding.weight",
        .positions = "text_model.embeddings.position_embedding.weight",
        .final_norm = "text_model.final_layer_norm",
        .projection = "text_model.head",
        .projection_bias = true,
        .whole_context = true,
        .block = CLIP_BLOCK("text_model"),
    },
    .sigmoid_scores = true,
};

/* Hugging Face's Dinov2Model. */
#define DINOV2_VISION                                                                             \
    {                                                                                             \
        .patch = "embeddings.patch_embeddings.projection", .patch_bias = true,                   \
        .class_token = "embeddings.cls_token", .registers = "embeddings.register_tokens",         \
        .positions = "embeddings.position_embeddings", .batched_shapes = true,                   \
        .post_norm = "layernorm",                                                                 \
        .block = {                                                                                \
            .prefix = "encoder.layer.%d.",                                                        \
            .norm1 = "norm1", .norm2 = "norm2",                                                   \
            .query = "attention.attention.query", .key = "attention.attention.key",               \
            .value = "attention.attention.value", .out = "attention.output.dense",                \
            .fc1 = "mlp.fc1", .fc2 = "mlp.fc2",                                                   \
            .gated_in = "mlp.weights_in", .gated_out = "mlp.weights_out",                         \
            .scale1 = "layer_scale1.lambda1", .scale2 = "layer_scale2.lambda1",                   \
        },                                                                                        \
    }

const model_family family_dinov2 = {
    .name = "dinov2",
    .no_text = "has no text tower",
    .vision = DINOV2_VISION,
    .resamples_positions = true,
};

/* Dinov2WithRegistersModel: the same tensors and register tokens; its
 * positions are resized with antialiasing. */
const model_family family_dinov2_registers = {
    .name = "dinov2_with_registers",
    .no_text = "has no text tower",
    .vision = DINOV2_VISION,
    .resamples_positions = true,
    .antialiased_positions = true,
};

const model_family *family_of_model_type(const char *model_type)
{
    if (!model_type || strcmp(model_type, "clip") == 0)
        return &family_clip;
    if (strcmp(model_type, "dinov2") == 0)
        return &family_dinov2;
    if (strcmp(model_type, "dinov2_with_registers") == 0)
        return &family_dinov2_registers;
    if (strcmp(model_type, "siglip") == 0)
        return &family_siglip;
    return NULL;
}
