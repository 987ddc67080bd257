/* vkclip: CLIP inference on Vulkan compute.
 *
 * The whole public API. Typical use:
 *
 *     vkclip_error err;
 *     vkclip_device *dev = vkclip_device_open(NULL, &err);
 *     vkclip_model *model = vkclip_model_load(dev, "clip-vit-base-patch32", NULL, &err);
 *     vkclip_frame frame = {VKCLIP_FORMAT_RGB, width, height, {pixels}, {3 * width}};
 *     float embedding[512];
 *     vkclip_encode_images(model, &frame, 1, embedding, true, &err);
 *     vkclip_model_free(model);
 *     vkclip_device_free(dev);
 *
 * Functions that can fail return NULL or a negative value and, when err is
 * not NULL, describe the problem in one line (naming the file or object).
 *
 * Threads: every function may be called from any thread. A device serves
 * several models and threads at once; a model serves several encoders (one
 * per thread or per stream, see below) and classifier builds at once; a
 * classifier is immutable once built, so it can be shared and swapped. An
 * encoder may be shared by threads (see below). vkclip_encode_images and
 * vkclip_preprocess on one model run one call at a time (they share the
 * model's own encoder); use an encoder per stream for parallel work. */
#ifndef VKCLIP_H
#define VKCLIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The functions libvkclip exports; the library is built with hidden
 * visibility, so nothing else of the engine is visible to its users. */
#if defined(__GNUC__) || defined(__clang__)
#define VKCLIP_API __attribute__((visibility("default")))
#else
#define VKCLIP_API
#endif

typedef struct vkclip_error {
    char message[512];
} vkclip_error;

/* ---- devices ---- */

typedef struct vkclip_device vkclip_device;

typedef struct vkclip_device_info {
    char name[256];
    const char *type; /* "discrete GPU", "integrated GPU", "virtual GPU", "CPU", "other" */
    uint32_t api_version;
    uint64_t memory_bytes; /* largest device-local heap */
    bool storage16;        /* 16-bit storage: fp16 activations possible */
    bool float16;          /* fp16 arithmetic */
    bool subgroup_arithmetic;
    uint32_t subgroup_size;
    bool usable;
} vkclip_device_info;

/* device_index values beside a Vulkan device's index (0, 1, ...):
 * - VKCLIP_DEVICE_BEST: a GPU (discrete, integrated, virtual), else the CPU
 *   backend; $VKCLIP_DEVICE (an index, "cpu" or "vulkan") overrides it.
 * - VKCLIP_DEVICE_CPU: vkclip's own CPU backend (OpenBLAS; no Vulkan needed).
 * - VKCLIP_DEVICE_VULKAN: the best Vulkan device, a CPU driver (lavapipe)
 *   included: what the test suite runs the Vulkan code on. */
#define VKCLIP_DEVICE_BEST (-1)
#define VKCLIP_DEVICE_CPU (-2)
#define VKCLIP_DEVICE_VULKAN (-3)

/* The most threads the CPU backend takes. */
#define VKCLIP_MAX_THREADS 1024

typedef struct vkclip_device_options {
    int device_index; /* a Vulkan device's index, or VKCLIP_DEVICE_BEST, _CPU or _VULKAN */
    bool validation;  /* Vulkan validation layer (also $VKCLIP_VALIDATION=1) */
    int threads;      /* the CPU backend's threads, 1 to VKCLIP_MAX_THREADS; 0: $VKCLIP_THREADS, else the cores
                         this process may run on. The backend threads OpenBLAS's calls itself and
                         sets OpenBLAS to one thread, process-wide. */
} vkclip_device_options;

/* Fills at most max entries; returns how many devices exist, or -1. */
VKCLIP_API int vkclip_list_devices(vkclip_device_info *out, int max, vkclip_error *err);

VKCLIP_API vkclip_device *vkclip_device_open(const vkclip_device_options *opts, vkclip_error *err);
VKCLIP_API void vkclip_device_free(vkclip_device *dev);
VKCLIP_API int vkclip_device_index(const vkclip_device *dev);
/* The CPU backend's threads; 0 for a Vulkan device. */
VKCLIP_API int vkclip_device_threads(const vkclip_device *dev);
VKCLIP_API void vkclip_device_get_info(const vkclip_device *dev, vkclip_device_info *info);
/* The kernels the device runs, in words: the kernel plan's name and its
 * choices ("gpu: gemm=shared:4x4 attention=fused rows=group barriers=needed"),
 * chosen at open from the device type, or VKCLIP_KERNELS. */
VKCLIP_API const char *vkclip_device_kernels(const vkclip_device *dev);
/* Messages the validation layer printed so far (0 when it is off). */
VKCLIP_API uint32_t vkclip_device_validation_messages(const vkclip_device *dev);

/* ---- models ---- */

typedef struct vkclip_model vkclip_model;

typedef enum vkclip_precision {
    VKCLIP_PRECISION_F32 = 0, /* activations stored in fp32 */
    VKCLIP_PRECISION_F16 = 1, /* activations stored in fp16 (needs 16-bit storage); fp32 accumulation */
} vkclip_precision;

typedef struct vkclip_model_options {
    vkclip_precision activations;
    int batch_size; /* images per forward pass; 0: 8 */
} vkclip_model_options;

typedef struct vkclip_model_info {
    int image_size, patch_size;
    int vision_width, vision_layers, vision_heads, vision_intermediate;
    const char *vision_act; /* "quick_gelu", "gelu" or "gelu_pytorch_tanh" */
    int text_width, text_layers, text_heads, vocab_size, context_length;
    int embed_dim;
    const char *weights_dtype; /* "F32", "F16", "BF16" (of the first matrix) */
    const char *device_weights; /* how matrices are stored on the device: "f32" or "f16" */
    const char *activations;    /* "f32" or "f16" */
    float logit_scale;          /* exp(logit_scale) of the checkpoint */
    int batch_size;
    uint64_t device_bytes; /* weights on the device */
    const char *family;    /* "clip", "dinov2", "dinov2_with_registers" or "siglip" */
    bool has_text;         /* a text tower: labels and text prompts work */
    bool sigmoid_scores;   /* SigLIP: each label's probability alone, sigmoid(logit_scale · cos + logit_bias) */
    float logit_bias;      /* SigLIP's logit_bias, else 0 */
} vkclip_model_info;

/* Loads a Hugging Face CLIP, DINOv2 or SigLIP directory (config.json,
 * model.safetensors or its sharded index, preprocessor_config.json) and
 * uploads the image tower. A DINOv2 model's embedding is its normed class
 * token, a SigLIP model's its pooling head's output; text calls on them fail
 * with a message saying why (DINOv2 has no text tower; SigLIP's is not run
 * yet). */
VKCLIP_API vkclip_model *vkclip_model_load(vkclip_device *dev, const char *dir, const vkclip_model_options *opts,
                                           vkclip_error *err);
VKCLIP_API void vkclip_model_free(vkclip_model *model);
VKCLIP_API void vkclip_model_get_info(const vkclip_model *model, vkclip_model_info *info);
VKCLIP_API int vkclip_embedding_dim(const vkclip_model *model);
VKCLIP_API int vkclip_image_size(const vkclip_model *model); /* side of the preprocessed square */

/* The model directory to use when the caller names none: $VKCLIP_MODEL when
 * set and not empty; else the installed model,
 * <prefix>/<datadir>/vkclip/models/shapes-clip, when it holds a config.json;
 * else the source tree's data/shapes-clip (both paths fixed at build time).
 * Never NULL; the directory is not checked further, so loading it may fail
 * (naming the files it lacks). The string is the environment's or static:
 * do not free it. */
VKCLIP_API const char *vkclip_default_model_dir(void);

/* ---- images ---- */

typedef enum vkclip_pixel_format {
    VKCLIP_FORMAT_RGB,   /* packed, 3 bytes a pixel */
    VKCLIP_FORMAT_BGR,
    VKCLIP_FORMAT_RGBA,  /* 4 bytes a pixel; alpha or padding ignored */
    VKCLIP_FORMAT_BGRA,
    VKCLIP_FORMAT_ARGB,
    VKCLIP_FORMAT_ABGR,
    VKCLIP_FORMAT_RGBX,
    VKCLIP_FORMAT_BGRX,
    VKCLIP_FORMAT_XRGB,
    VKCLIP_FORMAT_XBGR,
    VKCLIP_FORMAT_GRAY8,
    VKCLIP_FORMAT_I420,  /* planes Y, U, V; chroma halved both ways */
    VKCLIP_FORMAT_NV12,  /* planes Y, interleaved UV */
} vkclip_pixel_format;

/* YUV to RGB is GStreamer's (1.22 videoconvert, 8 bits): the matrix of
 * Kr, Kb (BT.601 0.299, 0.114; BT.709 0.2126, 0.0722) and the range (219/224
 * levels or 255) in 8-bit fixed point, applied to Y - 128, U - 128, V - 128
 * and clamped, so that the RGB is the bytes videoconvert makes, bit for bit.
 * (videoconvert ignores the luma offset of limited range: Y 128 is RGB 128
 * and Y 235 is 253, where the standard's equations give 130 and 255.) */
typedef enum vkclip_colorimetry {
    VKCLIP_BT601_LIMITED = 0,
    VKCLIP_BT601_FULL,
    VKCLIP_BT709_LIMITED,
    VKCLIP_BT709_FULL,
} vkclip_colorimetry;

/* Where I420/NV12 chroma samples sit, which decides how they are
 * interpolated to every pixel, as videoconvert's chroma resampler does
 * (video-chroma.c): first along each row, then down the columns, each step
 * rounded to 8 bits; a frame's neighbours outside a crop count, and indices
 * clamp at the frame's edges. "Centred" is linear interpolation at 3/4 and
 * 1/4: (3a + b + 2) >> 2 on one side, (a + 3b + 2) >> 2 on the other;
 * "cosited" horizontally puts each sample on its even pixel and gives odd
 * pixels (a + b + 1) >> 1. videoconvert does not interpolate vertically
 * cosited chroma: each row takes its chroma row. */
typedef enum vkclip_chroma_site {
    /* 0: what videoconvert makes of the frame when its caps carry neither
     * chroma-site nor colorimetry: I420 as NEAREST (videoconvert's
     * I420 -> RGB conversion ignores the siting), NV12 as JPEG up to 576
     * rows and MPEG2 above (GstVideoInfo's defaults). */
    VKCLIP_CHROMA_AUTO = 0,
    VKCLIP_CHROMA_JPEG,      /* "jpeg", "none", also caps without chroma-site: centred both ways */
    VKCLIP_CHROMA_MPEG2,     /* "mpeg2", "h-cosited": cosited horizontally, centred vertically */
    VKCLIP_CHROMA_COSITED,   /* "cosited", "dv": cosited both ways */
    VKCLIP_CHROMA_V_COSITED, /* "v-cosited": centred horizontally, cosited vertically */
    VKCLIP_CHROMA_NEAREST,   /* no interpolation: each sample stands for its 2x2 block */
} vkclip_chroma_site;

/* A rectangle in frame pixels. */
typedef struct vkclip_rect {
    int x, y, width, height;
} vkclip_rect;

typedef struct vkclip_frame {
    vkclip_pixel_format format;
    int width, height;
    const uint8_t *planes[3];
    int strides[3]; /* bytes from one row to the next, per plane */
    vkclip_colorimetry colorimetry; /* YUV formats only */
    /* The part of the frame that is the image (a region of interest): as if
     * the frame were cropped to it before preprocessing. Width or height 0:
     * the whole frame. It must lie inside the frame. */
    vkclip_rect crop;
    vkclip_chroma_site chroma_site; /* I420 and NV12 only */
} vkclip_frame;

/* The model's input tensor for one frame: float32 CHW, 3 × S × S, with the
 * reference's resize, crop, scaling and mean/std. Returns 0 or -1. */
VKCLIP_API int vkclip_preprocess(vkclip_model *model, const vkclip_frame *frame, float *out, vkclip_error *err);

/* Image embeddings (projected) of n frames into out[n][embed_dim], L2
 * normalised when normalize is true. Returns 0 or -1 (a bad frame is named
 * by its index in `frames`). */
VKCLIP_API int vkclip_encode_images(vkclip_model *model, const vkclip_frame *frames, int n, float *out,
                                    bool normalize, vkclip_error *err);

/* ---- asynchronous image encoding ----
 *
 * An encoder is one stream of batches over a shared model: it owns the
 * staging memory and activations of up to max_in_flight batches, so the
 * host prepares the next batch while the device runs the previous ones.
 *
 *     vkclip_encoder *enc = vkclip_encoder_create(model, 8, 2, &err);
 *     int64_t t = vkclip_encoder_submit(enc, frames, n, &err);  // > 0: a ticket
 *     ...                                                     // 0: busy, -1: error
 *     vkclip_encoder_wait(enc, t, embeddings, true, &err);      // or _poll
 *
 * A submission is one queue submission: the frames' upload (to device-local
 * memory where the device is discrete), preprocessing and the forward pass.
 * The frames' bytes are copied before submit returns; frames that share
 * planes and differ only in `crop` are uploaded once. Preprocessing plans are
 * kept for the frame geometries (size, format, strides, crop) seen last, so a
 * stream of same-sized frames plans once.
 *
 * Threads: an encoder has no thread of its own and no affinity. Its calls
 * lock it briefly (never while waiting for the device), so one thread may
 * submit while another waits for and collects earlier tickets; each ticket
 * must have one collector. Encoders of one model are independent.
 *
 * Memory: each of the max_in_flight slots owns the activations of a
 * batch_size forward pass, the frames' bytes as last submitted (repacked
 * with rows 4-byte aligned; on a discrete GPU once in host memory and once
 * on the device) and their resampling tables; all allocated at creation
 * except the frame buffers, which grow to the largest batch seen. Each
 * frame must fit the device's texel-buffer limit on its own
 * (maxTexelBufferElements bytes: 128 MiB on lavapipe, so 8K RGBx fits). */

typedef struct vkclip_encoder vkclip_encoder;

/* batch_size: the most frames a submission takes (1..1024; 0: the model's);
 * max_in_flight: batches submitted and not yet collected (1..8; 0: 2). */
VKCLIP_API vkclip_encoder *vkclip_encoder_create(vkclip_model *model, int batch_size, int max_in_flight,
                                                 vkclip_error *err);
/* Waits for the batches still on the device, then frees. Free a model's
 * encoders before the model. */
VKCLIP_API void vkclip_encoder_free(vkclip_encoder *enc);
/* The most frames one submission takes. */
VKCLIP_API int vkclip_encoder_batch_size(const vkclip_encoder *enc);

/* Submits n frames (1..batch size). Returns a ticket (> 0, increasing from
 * 1 per encoder); 0 when max_in_flight batches are already submitted and
 * not yet collected (busy: nothing was submitted and err is untouched; n is
 * checked first, the frames after); -1 on error (a bad frame is named by its
 * index in the batch: "frame 2: crop (x 10, y 0, 500x20) is not inside the
 * 451x300 frame"); nothing is in flight after an error. Never waits for the
 * device. */
VKCLIP_API int64_t vkclip_encoder_submit(vkclip_encoder *enc, const vkclip_frame *frames, int n, vkclip_error *err);

/* Collects a ticket: writes n × embed_dim floats (projected; L2-normalised
 * when normalize) to out and retires the ticket (out NULL: retires it
 * unread). Tickets may be collected in any order. poll returns 1 when done,
 * 0 when still running (nothing written), -1 on error or an unknown ticket
 * (never issued, already collected or discarded); wait blocks until done and
 * returns 0 or -1. */
VKCLIP_API int vkclip_encoder_poll(vkclip_encoder *enc, int64_t ticket, float *out, bool normalize, vkclip_error *err);
VKCLIP_API int vkclip_encoder_wait(vkclip_encoder *enc, int64_t ticket, float *out, bool normalize, vkclip_error *err);
/* Waits at most timeout_ns for a ticket's batch to finish, without
 * collecting it: 1 done, 0 timed out, -1 unknown ticket or device error.
 * Unlike the calls above it may run while another thread submits or
 * collects other tickets of the same encoder (a collector thread waits here,
 * then polls). */
VKCLIP_API int vkclip_encoder_wait_ready(vkclip_encoder *enc, int64_t ticket, uint64_t timeout_ns, vkclip_error *err);
/* Batches submitted and not yet collected. */
VKCLIP_API int vkclip_encoder_in_flight(const vkclip_encoder *enc);
/* Waits for every batch in flight and forgets their results (a flush). */
VKCLIP_API void vkclip_encoder_discard(vkclip_encoder *enc);

/* Runs the image tower on one batch of random preprocessed input, without
 * preprocessing or readback (for benchmarks). Returns 0 or -1. */
VKCLIP_API int vkclip_bench_batch(vkclip_model *model, vkclip_error *err);

/* ---- text ---- */

/* CLIP's tokenizer, without a device: the model directory's vocab.json +
 * merges.txt, or bpe_simple_vocab_16e6.txt.gz there. */
typedef struct vkclip_tokenizer vkclip_tokenizer;

VKCLIP_API vkclip_tokenizer *vkclip_tokenizer_load(const char *dir, vkclip_error *err);
VKCLIP_API void vkclip_tokenizer_free(vkclip_tokenizer *tok);
/* The model's context length (config.json's max_position_embeddings, else 77). */
VKCLIP_API int vkclip_tokenizer_context(const vkclip_tokenizer *tok);
/* Writes [start] ids… [end], at most max_ids (the content truncated, the end
 * token kept); returns the count, or -1 (e.g. text that is not UTF-8). A
 * SigLIP model's text is always the whole context: ids… </s>, padded with
 * </s> (max_ids must be at least the context). */
VKCLIP_API int vkclip_tokenize(vkclip_tokenizer *tok, const char *text, int32_t *ids, int max_ids, vkclip_error *err);

/* Text embeddings (projected) of n prompts into out[n][embed_dim], L2
 * normalised when normalize is true. Prompts run at their true length, in
 * batches of similar lengths. Returns 0 or -1. */
VKCLIP_API int vkclip_encode_texts(vkclip_model *model, const char *const *texts, int n, float *out, bool normalize,
                                   vkclip_error *err);

/* ---- zero-shot classification ---- */

typedef struct vkclip_classifier vkclip_classifier;

typedef struct vkclip_classifier_options {
    bool no_cache;         /* neither read nor write the on-disk cache */
    const char *cache_dir; /* NULL: $VKCLIP_CACHE_DIR, $XDG_CACHE_HOME/vkclip or ~/.cache/vkclip */
    /* Called as prompts are embedded (not when the cache is read). */
    void (*progress)(void *user, int prompts_done, int prompts_total);
    void *progress_user;
    /* Set *cancel to non-zero from any thread to stop a build: create then
     * returns NULL with "classifier build cancelled". NULL: not cancellable. */
    const volatile int *cancel;
} vkclip_classifier_options;

/* One class per label (built on any thread, also while the model encodes
 * images on others; builds on one model run one at a time); each label's weight is the normalised mean of its
 * normalised prompt embeddings, a prompt being a template with "{}" replaced
 * by the label (templates NULL or ntemplates 0: "a photo of a {}."). */
VKCLIP_API vkclip_classifier *vkclip_classifier_create(vkclip_model *model, const char *const *labels, int nlabels,
                                                       const char *const *templates, int ntemplates,
                                                       const vkclip_classifier_options *opts, vkclip_error *err);
VKCLIP_API void vkclip_classifier_free(vkclip_classifier *c);
VKCLIP_API int vkclip_classifier_size(const vkclip_classifier *c);
VKCLIP_API const char *vkclip_classifier_label(const vkclip_classifier *c, int i);
VKCLIP_API bool vkclip_classifier_from_cache(const vkclip_classifier *c);
/* softmax(exp(logit_scale) · cos) over the labels for a normalised image
 * embedding (a SigLIP model: each label's sigmoid(exp(logit_scale) · cos +
 * logit_bias), independent probabilities); probs has vkclip_classifier_size()
 * entries. */
VKCLIP_API void vkclip_classifier_probs(const vkclip_classifier *c, const float *embedding, float *probs);

/* ---- few-shot ---- */

/* Blends example images into a classifier (the CLIP paper's few-shot
 * against zero-shot): dir holds one folder per label, named exactly as the
 * label, of PNG or JPEG images. Label i's weight becomes
 * normalise((1 - weight) w_i + weight m_i), m_i the normalised mean of its
 * images' normalised embeddings; labels without a folder keep w_i. weight 0
 * leaves the classifier zero-shot, 1 classifies by the examples alone. An
 * unreadable image, a folder without images or one that names no label is
 * an error naming it (the classifier is then partly blended: free it). Call
 * before the classifier is shared. Returns the number of images, or -1. */
VKCLIP_API int vkclip_classifier_add_examples(vkclip_classifier *c, vkclip_model *model, const char *dir,
                                              float weight, vkclip_error *err);

#ifdef __cplusplus
}
#endif

#endif
