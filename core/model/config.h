/* config: config.json and preprocessor_config.json of a Hugging Face CLIP
 * or DINOv2. */
#ifndef VKCLIP_CONFIG_H
#define VKCLIP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "model/family.h"
#include "util/errbuf.h"

typedef enum clip_act {
    CLIP_ACT_QUICK_GELU, /* x * sigmoid(1.702 x): OpenAI weights */
    CLIP_ACT_GELU,       /* exact erf GELU: many OpenCLIP/LAION weights, DINOv2 */
    CLIP_ACT_GELU_TANH,  /* tanh approximation (gelu_pytorch_tanh, gelu_new): SigLIP */
} clip_act;

typedef struct clip_tower_config {
    int hidden_size;
    int intermediate_size;
    int num_heads;
    int num_layers;
    clip_act act;
    float layer_norm_eps;
    bool swiglu; /* DINOv2 giant: the MLP is weights_in [2I][D], silu(first half)·second half, weights_out */
} clip_tower_config;

typedef struct clip_config {
    const model_family *family; /* from model_type */
    int projection_dim;         /* the embedding's size (DINOv2: hidden_size) */
    clip_tower_config vision;
    int image_size;
    int patch_size;
    int num_channels; /* must be 3 */
    clip_tower_config text;
    int vocab_size;
    int max_position_embeddings;
    int position_grid;   /* side of the patch grid the positions were trained for */
    int register_tokens; /* DINOv2 with registers */
    bool qkv_bias;       /* query, key and value have biases */
} clip_config;

/* Keys missing from the file take Hugging Face's CLIPConfig (Dinov2Config)
 * defaults; for CLIP,
 * "text_config_dict"/"vision_config_dict" override "text_config"/"vision_config"
 * as transformers does. Values are range-checked (positive, hidden divisible
 * by heads, sizes below sane limits). */
bool clip_config_load(clip_config *cfg, const char *path, errbuf *err);
bool clip_config_parse(clip_config *cfg, const char *json, size_t len,
                       const char *name, errbuf *err);

typedef struct clip_preprocess_config {
    int shortest_edge; /* resize target of the shorter side */
    /* size {"height": H, "width": W}: resize to exactly W x H (aspect not kept),
     * as transformers' CLIPImageProcessor does; 0 when size is a shortest edge */
    int resize_width, resize_height;
    int crop_width, crop_height;
    int resample;      /* Pillow filter id: 0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming */
    bool do_resize, do_center_crop, do_rescale, do_normalize;
    float rescale_factor;
    float mean[3], std[3];
} clip_preprocess_config;

/* Defaults (CLIP's) for a model with this image size: used when the file is absent. */
void clip_preprocess_config_default(clip_preprocess_config *pp, int image_size);

/* Missing file: defaults. Accepts both the old ("size": 224, "crop_size": 224)
 * and new ({"shortest_edge": 224}, {"height":..,"width":..}) forms. */
bool clip_preprocess_config_load(clip_preprocess_config *pp, const char *path,
                                 int image_size, errbuf *err);
bool clip_preprocess_config_parse(clip_preprocess_config *pp, const char *json, size_t len,
                                  const char *name, int image_size, errbuf *err);

#endif
