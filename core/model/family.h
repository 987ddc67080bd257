/* family: what differs between the model families the engine runs (CLIP,
 * DINOv2), written as data: the checkpoint's tensor names, the tokens in front
 * of the patches, how the image tower ends, whether there is a text tower.
 * The towers' code is shared; loading and the forward pass read this. */
#ifndef VKCLIP_FAMILY_H
#define VKCLIP_FAMILY_H

#include <stdbool.h>

/* One transformer block's tensors: `prefix` is a printf pattern taking the
 * block's index; each name below is appended to it (".weight"/".bias" after
 * the norms and linear layers). */
typedef struct block_names {
    const char *prefix;
    const char *norm1, *norm2;
    const char *query, *key, *value, *out;
    const char *fc1, *fc2;
    const char *gated_in, *gated_out; /* the SwiGLU MLP's two projections, where the config asks for it */
    const char *scale1, *scale2; /* layer scale (DINOv2), folded into out and fc2; NULL: none */
} block_names;

typedef struct vision_names {
    const char *patch;     /* the patch convolution (".weight", and ".bias" when patch_bias) */
    bool patch_bias;
    const char *class_token; /* NULL: none (SigLIP) */
    const char *registers; /* register tokens, when the config has any */
    const char *positions; /* one a token: class token first, then the patch grid */
    bool batched_shapes;   /* class token [1][1][D] and positions [1][T][D], not [D] and [T][D] */
    const char *pre_norm;  /* before the blocks; NULL: none */
    const char *post_norm; /* on the pooled class token */
    const char *projection; /* NULL: the normed class token (or the pooling head's output) is the embedding */
    const char *attention_pool; /* SigLIP's pooling head (a probe attending to every token); NULL: class token */
    block_names block;
} vision_names;

typedef struct text_names {
    const char *token_embedding, *positions, *final_norm;
    const char *projection; /* ".weight", and ".bias" when projection_bias */
    bool projection_bias;
    bool causal;         /* CLIP: a causal mask, pooled at the first end-of-text token */
    bool whole_context;  /* SigLIP: no mask, every text padded to the context, pooled at the last position */
    block_names block;
} text_names;

typedef struct model_family {
    const char *name;       /* as `vkclip info` shows it */
    vision_names vision;
    bool has_text;          /* a text tower and logit_scale: text embeddings */
    const char *no_text;    /* why not, when it has none: "has no text tower" */
    text_names text;
    bool sigmoid_scores;    /* SigLIP: sigmoid(exp(logit_scale) cos + logit_bias), each label alone */
    bool resamples_positions; /* positions resized to the input's patch grid (bicubic) */
    bool antialiased_positions; /* ... with antialias=True */
} model_family;

extern const model_family family_clip, family_dinov2, family_dinov2_registers, family_siglip;

/* The family of a config.json model_type ("clip", "dinov2",
 * "dinov2_with_registers", "siglip"); NULL when unknown. An absent
 * model_type is CLIP. */
const model_family *family_of_model_type(const char *model_type);

#endif
