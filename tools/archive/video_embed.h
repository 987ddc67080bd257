/* video_embed: one video file through `filesrc ! decodebin ! clip
 * mode=archive embedding=true ! fakesink`, sampled at a given rate: the
 * embedding of each sampled frame with its timestamp and whether it is
 * blank. The product indexes with its own element. */
#ifndef VKCLIP_VIDEO_EMBED_H
#define VKCLIP_VIDEO_EMBED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vkclip.h"

typedef struct video_embed_options {
    const char *model_dir;
    int device;  /* -1: the best */
    int threads; /* the CPU backend's, 0: the default */
    vkclip_precision precision;
    double fps; /* frames sampled per second of video */
    int batch;  /* the element's batch-size */
    /* Called a few times a second while decoding: the stream position, the
     * duration (-1 unknown) and frames embedded so far. */
    void (*progress)(void *user, int64_t position_ns, int64_t duration_ns, int64_t frames);
    void *progress_user;
} video_embed_options;

typedef struct video_frames {
    int dim;
    int64_t n, cap;
    int64_t *pts_ns;
    uint32_t *flags; /* ARCHIVE_FRAME_* */
    float *embeddings; /* n x dim, L2-normalised */
    int64_t duration_ns; /* -1: unknown */
} video_frames;

/* Frames sampled per second when the caller names no rate; images per
 * batch of the element. */
#define VIDEO_EMBED_DEFAULT_FPS 1.0
#define VIDEO_EMBED_DEFAULT_BATCH 8

/* Once, before the first video: GStreamer and the built-in element. Returns
 * 0, or -1 with the reason in err. */
int video_embed_init(char *err, size_t cap);
/* video_embed_init, then the model loaded once and held, so that each
 * file's element shares it rather than loading it again. NULL on failure,
 * with the reason in err; release it with gst_clip_models_release. */
struct GstClipSharedModel *video_embed_start(const char *model_dir, int device, int threads, vkclip_precision precision,
                                             char *err, size_t cap);
/* Fills out (which it resets first). Returns 0, or -1 with a one-line
 * reason in err (the file's name is the caller's to add). */
int video_embed_file(const char *path, const video_embed_options *o, video_frames *out, char *err, size_t cap);
void video_frames_clear(video_frames *f);

#endif
