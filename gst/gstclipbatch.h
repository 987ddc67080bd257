/* gstclipbatch.h: archive mode's ordered batching.
 *
 * Frames enter in stream order (the streaming thread) and leave in stream
 * order (an output thread of the batcher's own). A selected frame
 * contributes images (the whole frame, or each region of interest) to the
 * batch being gathered; a full batch is submitted to the engine while the
 * next one gathers, so decoding, upload, compute and readback overlap. The
 * output thread waits for the oldest batch and sends each frame on as soon
 * as all its images are back: a frame is held only until its batch is done.
 * A frame that is not selected (between intervals) leaves right after those
 * before it, carrying their result. When the engine has max_in_flight
 * batches, adding waits until the output thread retires one: back-pressure,
 * never a dropped frame. */
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

/* Called on the output thread: turns a finished frame into the buffer to
 * send (takes p), then sends it. */
typedef GstBuffer *(*GstClipReleaseFunc)(gpointer user, GstClipPending *p);
typedef GstFlowReturn (*GstClipPushFunc)(gpointer user, GstBuffer *buffer);

typedef struct GstClipBatcher {
    vkclip_encoder *encoder;
    gint dim;
    GstClipReleaseFunc release;
    GstClipPushFunc push;
    gpointer user;

    GMutex lock;
    GCond changed;        /* any of the below changed */
    GQueue frames;        /* GstClipPending*, oldest first */
    GQueue batches;       /* submitted, oldest first */
    GPtrArray *gathering; /* images not yet submitted */
    GThread *thread;
    guint sending;        /* frames taken off `frames` and not yet pushed */
    gboolean stopping, flushing, discard_requested;
    GstFlowReturn flow;   /* what the last push returned, for the streaming thread */
    gchar *error;         /* an engine error met on the output thread */
} GstClipBatcher;

/* Starts the output thread. */
void gst_clip_batcher_start(GstClipBatcher *b, vkclip_encoder *encoder, gint dim, GstClipReleaseFunc release,
                            GstClipPushFunc push, gpointer user);
/* Stops the thread, drops what is held, frees. */
void gst_clip_batcher_stop(GstClipBatcher *b);
gboolean gst_clip_batcher_running(const GstClipBatcher *b);

/* A new frame, with the regions it carries in roi mode (NULL otherwise; the
 * batcher takes the array). Submits a batch when one is full, waiting for
 * room on the device. Returns the flow for the streaming thread: an error
 * (*error set) or what downstream last answered. */
GstFlowReturn gst_clip_batcher_add(GstClipBatcher *b, GstClipFrameConverter *conv, GstBuffer *buffer,
                                   gboolean selected, GArray *regions, gchar **error);
/* Submits what is gathered and waits until every frame has been sent on
 * (EOS, new caps, a new segment). */
GstFlowReturn gst_clip_batcher_drain(GstClipBatcher *b, GstClipFrameConverter *conv, gchar **error);
/* A flushing seek: flush_start unblocks both threads; flush_stop drops
 * every frame and batch and lets frames in again. */
void gst_clip_batcher_flush_start(GstClipBatcher *b);
void gst_clip_batcher_flush_stop(GstClipBatcher *b);

void gst_clip_pending_free(GstClipPending *p);

G_END_DECLS

#endif
