/* gstclipbatch.h: archive mode's ordered batching.
 *
 * Frames enter in stream order and leave in stream order. A selected frame
 * contributes images (the whole frame, or each region of interest) to the
 * batch being gathered; a full batch is submitted to the engine while the
 * next one gathers, so decoding, upload, compute and readback overlap. A
 * frame leaves once the embeddings of all its images are back; a frame that
 * is not selected (between intervals) leaves as soon as those before it
 * have, carrying their result. When the engine has max_in_flight batches,
 * adding waits for the oldest one: back-pressure, never a dropped frame. */
#ifndef GST_CLIP_BATCH_H
#define GST_CLIP_BATCH_H

#include <gst/gst.h>

#include "gstclipframes.h"
#include "vkclip.h"

G_BEGIN_DECLS

typedef struct GstClipRegion {
    gint id; /* the GstVideoRegionOfInterestMeta's id */
    gint x, y, width, height;
    gint image; /* index among its frame's images, -1 when it lies outside the frame */
} GstClipRegion;

typedef struct GstClipPending {
    GstBuffer *buffer;
    gboolean selected;  /* inferred (else it reuses the previous result) */
    gboolean roi;       /* images are regions, not the whole frame */
    GArray *regions;    /* GstClipRegion, roi only */
    guint nimages, ndone;
    gfloat *embeddings; /* nimages × dim, normalised, filled as batches return */
} GstClipPending;

typedef struct GstClipBatcher {
    vkclip_encoder *encoder;
    gint dim;
    GQueue frames;        /* GstClipPending*, oldest first */
    GQueue batches;       /* submitted, oldest first */
    GPtrArray *gathering; /* images not yet submitted */
} GstClipBatcher;

void gst_clip_batcher_init(GstClipBatcher *b, vkclip_encoder *encoder, gint dim);
/* Discards everything and frees. */
void gst_clip_batcher_clear(GstClipBatcher *b);

/* A new frame, given the regions it carries in roi mode (NULL otherwise;
 * the pending takes the array). Submits a batch when one is full. */
gboolean gst_clip_batcher_add(GstClipBatcher *b, GstClipFrameConverter *conv, GstBuffer *buffer,
                              gboolean selected, GArray *regions, gchar **error);
/* Submits the images gathered so far, even if fewer than a batch. */
gboolean gst_clip_batcher_submit_partial(GstClipBatcher *b, GstClipFrameConverter *conv, gchar **error);
/* Collects finished batches; with wait, waits for all of them. */
gboolean gst_clip_batcher_collect(GstClipBatcher *b, gboolean wait, gchar **error);
/* The oldest frame if it may leave (the caller owns it), else NULL. */
GstClipPending *gst_clip_batcher_pop_ready(GstClipBatcher *b);
/* Frames held (for the debug log and the allocation query). */
guint gst_clip_batcher_held(const GstClipBatcher *b);
/* Drops every frame and batch (a flushing seek). */
void gst_clip_batcher_discard(GstClipBatcher *b);

void gst_clip_pending_free(GstClipPending *p);

G_END_DECLS

#endif
