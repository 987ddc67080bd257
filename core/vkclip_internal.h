/* vkclip_internal: what the files behind the public API share. */
#ifndef VKCLIP_INTERNAL_H
#define VKCLIP_INTERNAL_H

#include "clip_text.h"
#include "clip_vision.h"
#include "kernels.h"
#include "model/config.h"
#include "model/weights.h"
#include "text/tokenizer.h"
#include "vkclip.h"

#define MAX_GRAPHS 4
#define TEXT_BATCH 64

struct vkclip_device {
    vk_context ctx;
    kernel_cache kernels;
};

/* Host-visible buffers for one batch of frames on their way to the shaders. */
typedef struct frame_staging {
    vk_buffer frames; /* the frames' bytes */
    vk_buffer tables; /* their resampling tables */
    vk_buffer rows;   /* between the two resampling passes */
    vk_buffer chw;    /* vkclip_preprocess's output */
} frame_staging;

/* The text side, loaded on first use: a video element with a cached
 * classifier never needs it. */
typedef struct model_text {
    bool loaded;
    clip_tokenizer *tokenizer;
    clip_text tower;
    text_graph graph;
} model_text;

struct vkclip_model {
    vkclip_device *dev;
    char dir[4096];
    clip_config cfg;
    clip_preprocess_config pp;
    model_weights *weights;
    vk_arena weight_arena;
    storage_type matrix_type, act_type;
    const char *weights_dtype;
    clip_vision vision;
    int batch_size;
    vision_graph graphs[MAX_GRAPHS];
    int ngraphs;
    frame_staging staging;
    model_text text;
};

void export_error(vkclip_error *out, const errbuf *e);
int fail(vkclip_error *out, const errbuf *e);
matmul_tiles choose_tiles(const vk_context *ctx);

/* Uploading more of the model's weights (the text tower, later). */
bool weight_loader_begin(vkclip_model *m, weight_loader *L, errbuf *e);
bool weight_loader_end(weight_loader *L, bool ok, errbuf *e);

void model_text_free(vkclip_model *m);
void l2_normalize(float *v, int n);

#endif
