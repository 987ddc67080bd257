/* vkclip_internal: what the files behind the public API share. */
#ifndef VKCLIP_INTERNAL_H
#define VKCLIP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "clip_text.h"
#include "clip_vision.h"
#include "frames.h"
#include "kernels.h"
#include "model/config.h"
#include "model/weights.h"
#include "text/siglip_tokenizer.h"
#include "text/tokenizer.h"
#include "vkclip.h"

#define TEXT_BATCH 64

struct vkclip_device {
    vk_context ctx;
    kernel_cache kernels;
    char plan_text[160]; /* kernel_plan_describe of kernels.plan */
};

/* vkclip_preprocess's buffers: one frame on its way to a CHW tensor. */
typedef struct frame_staging {
    vk_buffer frames; /* the frame's bytes */
    vk_buffer tables; /* its resampling tables */
    vk_buffer rows;   /* between the two resampling passes */
    vk_buffer chw;    /* the output */
    plan_cache plans;
} frame_staging;

/* The text side, loaded on first use: a video element with a cached
 * classifier never needs it. */
typedef struct model_text {
    bool loaded;
    clip_tokenizer *tokenizer; /* CLIP's, or */
    siglip_tokenizer *spm;     /* SigLIP's */
    clip_text tower;
    text_graph graph;
} model_text;

/* Threads: what is read-only after vkclip_model_load (configs, weights, the
 * image tower) is shared freely; encoders have their own buffers. `lock`
 * guards the model's own encoder and vkclip_preprocess's staging;
 * `text_lock` guards the text side (its lazy load, the tokenizer, the text
 * graph), so a classifier build never blocks image encoding. */
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
    atomic_uint_fast64_t device_bytes; /* weights uploaded so far */
    pthread_mutex_t lock;
    vkclip_encoder *encoder; /* vkclip_encode_images's and bench's; made on first use */
    frame_staging staging;
    pthread_mutex_t text_lock;
    model_text text;
};

/* An encoder whose slots get their buffers on first use (lazy) rather than
 * at creation, so that the model's own costs one slot until a call needs two. */
vkclip_encoder *encoder_new(vkclip_model *m, int batch_size, int max_in_flight, bool lazy, errbuf *e);
/* vkclip_encoder_submit, naming bad frames from first_index on. */
int64_t encoder_submit(vkclip_encoder *enc, const vkclip_frame *frames, int n, int first_index, errbuf *e);
int encoder_collect(vkclip_encoder *enc, int64_t ticket, bool block, float *out, bool normalize, errbuf *e);
/* Runs the forward pass of the first slot alone on what its input holds. */
bool encoder_bench(vkclip_encoder *enc, errbuf *e);

void export_error(vkclip_error *out, const errbuf *e);
int fail(vkclip_error *out, const errbuf *e);

/* Uploading more of the model's weights (the text tower, later). */
bool weight_loader_begin(vkclip_model *m, weight_loader *L, errbuf *e);
bool weight_loader_end(vkclip_model *m, weight_loader *L, bool ok, errbuf *e);

void model_text_free(vkclip_model *m);
void l2_normalize(float *v, int n);

#endif
