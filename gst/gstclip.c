/**
 * SECTION:element-clip
 * @title: clip
 *
 * Zero-shot CLIP classification of video frames on the GPU (Vulkan compute;
 * on a machine without a GPU, Mesa's lavapipe runs the same shaders on the
 * CPU). Each inferred frame is encoded by the model's image tower and scored
 * against a classifier built from text prompts (every label put into every
 * template, the prompts' embeddings averaged: CLIP's prompt ensembling). The
 * element never changes pixels: it attaches the top labels as a
 * GstCustomMeta named "GstClipMeta" (see gstclipmeta.h for its fields and a
 * reader) and, with #GstClip:post-messages, posts an element message named
 * `clip` for every inferred frame with these fields:
 *
 * * `timestamp` (guint64): the PTS of the inferred frame
 * * `stream-time`, `running-time` (guint64): the same in stream and running time
 * * `duration` (guint64): the frame's duration
 * * `labels` (GstValueArray of strings), `scores` (GstValueArray of doubles),
 *   `indices` (GstValueArray of ints): the top-k labels, best first, their
 *   softmax scores over all labels and their positions in the label list
 * * `embedding` (GstValueArray of floats): with #GstClip:embedding
 * * `regions` (GstValueArray of structures): with inference-region=roi-list,
 *   one per region (id, x, y, width, height, labels, scores, indices)
 *
 * Modes: `archive` infers every selected frame in order, holding frames
 * until their batch is done (back-pressure, no drops); `live` never makes the
 * streaming thread wait: a frame that arrives while the device is busy is not
 * inferred, and each buffer carries the newest finished result with the
 * timestamp of the frame it was computed from. `auto` picks `live` when
 * upstream is live. Frames between #GstClip:interval steps carry the last
 * result marked `inferred=false`.
 *
 * Labels, templates, top-k, threshold and interval may change while
 * PLAYING: a new classifier is built on a thread of its own and swapped in
 * between two frames; the stream never waits for it.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 -m filesrc location=video.mkv ! decodebin ! clip model=clip-vit-base-patch32 labels="a dog;a cat;a car" ! fakesink
 * ]| Tags a video file and prints a `clip` message per frame.
 * |[
 * gst-launch-1.0 v4l2src ! clip model=clip-vit-base-patch32 labels-file=labels.txt mode=live interval=5 ! clipoverlay ! videoconvert ! autovideosink
 * ]| Tags a camera every fifth frame and draws the labels on the picture.
 * |[
 * gst-launch-1.0 filesrc location=archive.mp4 ! decodebin ! videorate ! video/x-raw,framerate=1/1 ! clip model=clip-vit-base-patch32 labels-file=kinetics700.txt templates-file=kinetics700-templates.txt batch-size=16 embedding=true ! fakesink
 * ]| Indexes one frame a second of an archive video with a large classifier.
 * |[
 * VKCLIP_MODEL=clip-vit-base-patch32 gst-launch-1.0 -m filesrc location=video.mkv ! decodebin ! clip labels="a dog;a cat" ! fakesink
 * ]| Without #GstClip:model, the default model: $VKCLIP_MODEL when set, else
 * the built-in one (data/shapes-clip, installed under the data directory).
 */
#include "gstclip.h"

#include <gst/video/video.h>
#include <string.h>

#include "gstclipbatch.h"
#include "gstclipframes.h"
#include "gstcliplabels.h"
#include "gstclipmeta_private.h"
#include "gstclipmodels.h"

GST_DEBUG_CATEGORY(gst_clip_debug);
#define GST_CAT_DEFAULT gst_clip_debug

typedef enum {
    GST_CLIP_MODE_AUTO,
    GST_CLIP_MODE_LIVE,
    GST_CLIP_MODE_ARCHIVE,
} GstClipMode;

typedef enum {
    GST_CLIP_REGION_FULL_FRAME,
    GST_CLIP_REGION_ROI_LIST,
} GstClipRegionMode;

typedef enum {
    GST_CLIP_PRECISION_F32 = VKCLIP_PRECISION_F32,
    GST_CLIP_PRECISION_F16 = VKCLIP_PRECISION_F16,
} GstClipPrecision;

#define DEFAULT_TOP_K 5
#define DEFAULT_EXAMPLES_WEIGHT 0.5
#define DEFAULT_THRESHOLD 0.0
#define DEFAULT_INTERVAL 1
#define DEFAULT_MODE GST_CLIP_MODE_AUTO
#define DEFAULT_BATCH_SIZE 8
#define DEFAULT_DEVICE -1
#define DEFAULT_THREADS 0
#define DEFAULT_PRECISION GST_CLIP_PRECISION_F32
#define DEFAULT_POST_MESSAGES TRUE
#define DEFAULT_EMBEDDING FALSE
#define DEFAULT_REGION GST_CLIP_REGION_FULL_FRAME
#define ARCHIVE_IN_FLIGHT 2

enum {
    PROP_0,
    PROP_MODEL,
    PROP_LABELS,
    PROP_LABELS_FILE,
    PROP_TEMPLATES,
    PROP_TEMPLATES_FILE,
    PROP_TOP_K,
    PROP_THRESHOLD,
    PROP_INTERVAL,
    PROP_MODE,
    PROP_BATCH_SIZE,
    PROP_DEVICE,
    PROP_THREADS,
    PROP_PRECISION,
    PROP_POST_MESSAGES,
    PROP_EMBEDDING,
    PROP_INFERENCE_REGION,
    PROP_EXAMPLES_DIR,
    PROP_EXAMPLES_WEIGHT,
};

/* Live mode's one frame on the device, and what its message needs. */
typedef struct LiveJob {
    gint64 ticket; /* 0: none */
    GstClockTime pts, duration;
    GArray *regions; /* roi-list only */
    guint nimages;
} LiveJob;

struct _GstClip {
    GstBaseTransform parent;

    /* Properties, under the object lock. */
    gchar *model_dir;
    GstClipLabelConfig label_config;
    guint top_k;
    gdouble threshold;
    guint interval;
    GstClipMode mode;
    guint batch_size;
    gint device;
    gint threads;
    GstClipPrecision precision;
    gboolean post_messages;
    gboolean embedding;
    GstClipRegionMode region_mode;

    /* Between start and stop. */
    GstClipSharedModel *shared;
    vkclip_model *model;
    gint dim;
    GstClipLabels labels;
    vkclip_encoder *encoder; /* made at the first frame, once the mode is known */
    gboolean live;
    GstClipFrameConverter converter;
    gboolean have_caps;
    guint64 frames_seen;
    GstClipBatcher batcher;   /* archive */
    LiveJob job;              /* live */
    GstBuffer *live_out;      /* live: the buffer generate_output hands on */
    GstStructure *last;       /* the newest result, reused by frames between inferences */
    GstClockTime last_pts;
    gboolean last_fresh;      /* live: not yet attached to any buffer */
};

G_DEFINE_TYPE(GstClip, gst_clip, GST_TYPE_BASE_TRANSFORM)
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE(clip, "clip", GST_RANK_NONE, GST_TYPE_CLIP,
                                      GST_DEBUG_CATEGORY_INIT(gst_clip_debug, "clip", 0,
                                                              "CLIP zero-shot video classifier"));

#define CAPS_STR GST_VIDEO_CAPS_MAKE("{ " GST_CLIP_FORMATS " }")

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(CAPS_STR));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(CAPS_STR));

static GType gst_clip_mode_get_type(void)
{
    static GType type = 0;
    static const GEnumValue values[] = {
        {GST_CLIP_MODE_AUTO, "live when the pipeline is live, else archive", "auto"},
        {GST_CLIP_MODE_LIVE, "never wait for the device; frames that arrive while it is busy are not inferred",
         "live"},
        {GST_CLIP_MODE_ARCHIVE, "infer every selected frame in order, with back-pressure", "archive"},
        {0, NULL, NULL},
    };
    if (g_once_init_enter(&type))
        g_once_init_leave(&type, g_enum_register_static("GstClipMode", values));
    return type;
}

static GType gst_clip_region_mode_get_type(void)
{
    static GType type = 0;
    static const GEnumValue values[] = {
        {GST_CLIP_REGION_FULL_FRAME, "classify the whole frame", "full-frame"},
        {GST_CLIP_REGION_ROI_LIST, "classify each GstVideoRegionOfInterestMeta of the frame", "roi-list"},
        {0, NULL, NULL},
    };
    if (g_once_init_enter(&type))
        g_once_init_leave(&type, g_enum_register_static("GstClipInferenceRegion", values));
    return type;
}

static GType gst_clip_precision_get_type(void)
{
    static GType type = 0;
    static const GEnumValue values[] = {
        {GST_CLIP_PRECISION_F32, "fp32 activations", "f32"},
        {GST_CLIP_PRECISION_F16, "fp16 activations, fp32 accumulation (where the device has 16-bit storage)",
         "f16"},
        {0, NULL, NULL},
    };
    if (g_once_init_enter(&type))
        g_once_init_leave(&type, g_enum_register_static("GstClipPrecision", values));
    return type;
}

/* ---- results: meta, messages ---- */

static void copy_field(GstStructure *dst, const GstStructure *src, const gchar *field)
{
    const GValue *v = gst_structure_get_value(src, field);
    if (v)
        gst_structure_set_value(dst, field, v);
}

static void copy_result(GstStructure *dst, const GstStructure *result)
{
    static const gchar *fields[] = {"labels", "scores", "indices", "embedding", "regions"};
    for (gsize i = 0; i < G_N_ELEMENTS(fields); i++)
        copy_field(dst, result, fields[i]);
}

/* Adds each region's labels to its GstVideoRegionOfInterestMeta as a
 * "clip" param (DL Streamer's convention). */
static void annotate_regions(GstBuffer *buf, const GstStructure *result)
{
    const GValue *regions = gst_structure_get_value(result, "regions");
    for (guint i = 0; regions && i < gst_value_array_get_size(regions); i++) {
        const GstStructure *r = gst_value_get_structure(gst_value_array_get_value(regions, i));
        gint id = -1;
        gst_structure_get_int(r, "id", &id);
        GstVideoRegionOfInterestMeta *roi = gst_buffer_get_video_region_of_interest_meta_id(buf, id);
        if (!roi || gst_video_region_of_interest_meta_get_param(roi, GST_CLIP_ROI_PARAM_NAME))
            continue;
        GstStructure *param = gst_structure_new_empty(GST_CLIP_ROI_PARAM_NAME);
        copy_result(param, r);
        gst_video_region_of_interest_meta_add_param(roi, param);
    }
}

static GstBuffer *attach(GstClip *self, GstBuffer *buf, const GstStructure *result, gboolean inferred,
                         GstClockTime pts)
{
    if (!result)
        return buf;
    buf = gst_buffer_make_writable(buf);
    GstCustomMeta *meta = gst_buffer_add_custom_meta(buf, GST_CLIP_META_NAME);
    if (!meta) {
        GST_WARNING_OBJECT(self, "cannot add the result meta");
        return buf;
    }
    GstStructure *s = gst_custom_meta_get_structure(meta);
    copy_result(s, result);
    gst_structure_set(s, "inferred", G_TYPE_BOOLEAN, inferred, "timestamp", G_TYPE_UINT64, (guint64)pts, NULL);
    if (inferred)
        annotate_regions(buf, result);
    return buf;
}

static void post_result(GstClip *self, const GstStructure *result, GstClockTime pts, GstClockTime duration)
{
    GST_OBJECT_LOCK(self);
    gboolean post = self->post_messages;
    GST_OBJECT_UNLOCK(self);
    if (!post)
        return;
    GstSegment *segment = &GST_BASE_TRANSFORM(self)->segment;
    GstStructure *s = gst_structure_new("clip", "timestamp", G_TYPE_UINT64, (guint64)pts, "stream-time",
                                        G_TYPE_UINT64,
                                        (guint64)gst_segment_to_stream_time(segment, GST_FORMAT_TIME, pts),
                                        "running-time", G_TYPE_UINT64,
                                        (guint64)gst_segment_to_running_time(segment, GST_FORMAT_TIME, pts),
                                        "duration", G_TYPE_UINT64, (guint64)duration, NULL);
    copy_result(s, result);
    gst_element_post_message(GST_ELEMENT(self), gst_message_new_element(GST_OBJECT(self), s));
}

/* The result of a frame from its images' normalised embeddings. */
static GstStructure *make_result(GstClip *self, const gfloat *embeddings, gboolean roi, GArray *regions)
{
    GST_OBJECT_LOCK(self);
    guint top_k = self->top_k;
    gdouble threshold = self->threshold;
    gboolean with_embedding = self->embedding;
    GST_OBJECT_UNLOCK(self);
    if (!roi)
        return gst_clip_labels_score(&self->labels, embeddings, self->dim, top_k, threshold, with_embedding);
    GstStructure *result = gst_structure_new_empty("clip-result");
    GValue list = G_VALUE_INIT;
    gst_value_array_init(&list, regions->len);
    for (guint i = 0; i < regions->len; i++) {
        const GstClipRegion *r = &g_array_index(regions, GstClipRegion, i);
        if (r->image < 0)
            continue; /* outside the frame: nothing to classify */
        GstStructure *one = gst_clip_labels_score(&self->labels, embeddings + (gsize)r->image * (gsize)self->dim,
                                                  self->dim, top_k, threshold, with_embedding);
        gst_structure_set_name(one, "region");
        gst_structure_set(one, "id", G_TYPE_INT, r->id, "x", G_TYPE_INT, r->x, "y", G_TYPE_INT, r->y, "width",
                          G_TYPE_INT, r->width, "height", G_TYPE_INT, r->height, NULL);
        GValue v = G_VALUE_INIT;
        g_value_init(&v, GST_TYPE_STRUCTURE);
        g_value_take_boxed(&v, one);
        gst_value_array_append_and_take_value(&list, &v);
    }
    gst_structure_take_value(result, "regions", &list);
    return result;
}

static void set_last(GstClip *self, GstStructure *result, GstClockTime pts)
{
    if (self->last)
        gst_structure_free(self->last);
    self->last = result;
    self->last_pts = pts;
}

/* The regions a buffer carries, for roi-list (NULL in full-frame mode). */
static GArray *regions_of(GstClip *self, GstBuffer *buf)
{
    GST_OBJECT_LOCK(self);
    gboolean roi = self->region_mode == GST_CLIP_REGION_ROI_LIST;
    GST_OBJECT_UNLOCK(self);
    if (!roi)
        return NULL;
    GArray *regions = g_array_new(FALSE, TRUE, sizeof(GstClipRegion));
    gpointer state = NULL;
    GstMeta *m;
    while ((m = gst_buffer_iterate_meta_filtered(buf, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
        GstVideoRegionOfInterestMeta *roi_meta = (GstVideoRegionOfInterestMeta *)m;
        GstClipRegion r = {.id = roi_meta->id, .x = (gint)roi_meta->x, .y = (gint)roi_meta->y,
                           .width = (gint)roi_meta->w, .height = (gint)roi_meta->h, .image = -1};
        g_array_append_val(regions, r);
    }
    return regions;
}

static gboolean frame_selected(GstClip *self)
{
    GST_OBJECT_LOCK(self);
    guint interval = self->interval;
    GST_OBJECT_UNLOCK(self);
    return self->frames_seen++ % interval == 0;
}

static GstFlowReturn engine_error(GstClip *self, gchar *message)
{
    GST_ELEMENT_ERROR(self, LIBRARY, FAILED, ("%s", message ? message : "inference failed"), (NULL));
    g_free(message);
    return GST_FLOW_ERROR;
}

/* ---- live mode ---- */

static void live_job_clear(LiveJob *job)
{
    if (job->regions)
        g_array_unref(job->regions);
    memset(job, 0, sizeof *job);
}

/* Collects the frame on the device if it is done; never waits unless told. */
static gboolean live_collect(GstClip *self, gboolean wait, gchar **error)
{
    LiveJob *job = &self->job;
    if (!job->ticket)
        return TRUE;
    gfloat *out = g_new(gfloat, (gsize)MAX(job->nimages, 1u) * (gsize)self->dim);
    vkclip_error err = {{0}};
    int r = wait ? (vkclip_encoder_wait(self->encoder, job->ticket, out, true, &err) == 0 ? 1 : -1)
                 : vkclip_encoder_poll(self->encoder, job->ticket, out, true, &err);
    if (r == 1) {
        GstStructure *result = make_result(self, out, job->regions != NULL, job->regions);
        post_result(self, result, job->pts, job->duration);
        set_last(self, result, job->pts);
        self->last_fresh = TRUE;
        live_job_clear(job);
    }
    g_free(out);
    if (r < 0) {
        *error = g_strdup(err.message);
        live_job_clear(job);
        return FALSE;
    }
    return TRUE;
}

static gboolean live_submit(GstClip *self, GstBuffer *buf, gchar **error)
{
    GArray *regions = regions_of(self, buf);
    GstClipFrame f;
    if (!gst_clip_frame_map(&f, &self->converter, buf)) {
        if (regions)
            g_array_unref(regions);
        *error = g_strdup("cannot map a video frame for reading");
        return FALSE;
    }
    guint batch = (guint)vkclip_encoder_batch_size(self->encoder);
    vkclip_frame *frames = g_new0(vkclip_frame, batch);
    guint n = 0;
    if (!regions)
        frames[n++] = f.frame;
    for (guint i = 0; regions && i < regions->len; i++) {
        GstClipRegion *r = &g_array_index(regions, GstClipRegion, i);
        /* Live mode infers what fits one submission; more regions wait for
         * a later frame. */
        if (n < batch && gst_clip_frame_crop(&f.frame, r->x, r->y, r->width, r->height, &frames[n]))
            r->image = (gint)n++;
    }
    gboolean ok = TRUE;
    if (n > 0) {
        vkclip_error err = {{0}};
        gint64 ticket = vkclip_encoder_submit(self->encoder, frames, (int)n, &err);
        if (ticket < 0) {
            *error = g_strdup(err.message);
            ok = FALSE;
        } else if (ticket > 0) {
            self->job = (LiveJob){.ticket = ticket, .pts = GST_BUFFER_PTS(buf),
                                  .duration = GST_BUFFER_DURATION(buf), .regions = regions, .nimages = n};
            regions = NULL;
        }
    } else if (regions) { /* no region inside the frame: an empty result, at once */
        GstStructure *result = make_result(self, NULL, TRUE, regions);
        post_result(self, result, GST_BUFFER_PTS(buf), GST_BUFFER_DURATION(buf));
        set_last(self, result, GST_BUFFER_PTS(buf));
        self->last_fresh = TRUE;
    }
    if (regions)
        g_array_unref(regions);
    g_free(frames);
    gst_clip_frame_unmap(&f);
    return ok;
}

static GstFlowReturn live_frame(GstClip *self, GstBuffer *buf)
{
    gchar *error = NULL;
    gboolean selected = frame_selected(self);
    if (!live_collect(self, FALSE, &error))
        goto failed;
    /* Busy: this frame is not inferred, and the stream goes on. */
    if (selected && !self->job.ticket && !live_submit(self, buf, &error))
        goto failed;
    if (selected && self->job.ticket == 0 && !self->last_fresh)
        GST_LOG_OBJECT(self, "frame %" GST_TIME_FORMAT " not inferred", GST_TIME_ARGS(GST_BUFFER_PTS(buf)));
    self->live_out = attach(self, buf, self->last, self->last_fresh, self->last_pts);
    self->last_fresh = FALSE;
    return GST_FLOW_OK;
failed:
    gst_buffer_unref(buf);
    return engine_error(self, error);
}

/* ---- archive mode ---- */

static GstFlowReturn archive_frame(GstClip *self, GstBuffer *buf)
{
    gchar *error = NULL;
    gboolean selected = frame_selected(self);
    GArray *regions = selected ? regions_of(self, buf) : NULL;
    GstFlowReturn ret = gst_clip_batcher_add(&self->batcher, &self->converter, buf, selected, regions, &error);
    if (ret == GST_FLOW_ERROR)
        return engine_error(self, error);
    g_free(error);
    return ret;
}

/* The buffer leaving next (output thread): its own result, or the last one
 * reused. */
static GstBuffer *archive_release(gpointer user, GstClipPending *p)
{
    GstClip *self = user;
    GstBuffer *buf = g_steal_pointer(&p->buffer);
    if (p->selected) {
        GstStructure *result = make_result(self, p->embeddings, p->roi, p->regions);
        post_result(self, result, GST_BUFFER_PTS(buf), GST_BUFFER_DURATION(buf));
        set_last(self, result, GST_BUFFER_PTS(buf));
    }
    buf = attach(self, buf, self->last, p->selected, self->last_pts);
    gst_clip_pending_free(p);
    return buf;
}

static GstFlowReturn archive_push(gpointer user, GstBuffer *buf)
{
    return gst_pad_push(GST_BASE_TRANSFORM_SRC_PAD(user), buf);
}

/* Sends every held frame on before an event (EOS, new caps, a new
 * segment): nothing is dropped. */
static GstFlowReturn drain(GstClip *self)
{
    if (!self->encoder)
        return GST_FLOW_OK;
    gchar *error = NULL;
    if (self->live) {
        if (!live_collect(self, TRUE, &error))
            return engine_error(self, error);
        return GST_FLOW_OK;
    }
    GstFlowReturn ret = gst_clip_batcher_drain(&self->batcher, &self->converter, &error);
    if (ret == GST_FLOW_ERROR)
        return engine_error(self, error);
    g_free(error);
    return ret;
}

/* Drops what is held (a flushing seek). */
static void discard(GstClip *self)
{
    if (gst_clip_batcher_running(&self->batcher))
        gst_clip_batcher_flush_stop(&self->batcher);
    if (self->encoder && self->job.ticket)
        vkclip_encoder_wait(self->encoder, self->job.ticket, NULL, false, NULL);
    live_job_clear(&self->job);
    gst_clear_buffer(&self->live_out);
    if (self->last)
        gst_structure_free(self->last);
    self->last = NULL;
    self->last_fresh = FALSE;
    self->frames_seen = 0;
}

/* ---- the encoder, made at the first frame ---- */

static gboolean upstream_is_live(GstClip *self)
{
    GstQuery *q = gst_query_new_latency();
    gboolean live = FALSE;
    if (gst_pad_peer_query(GST_BASE_TRANSFORM_SINK_PAD(self), q))
        gst_query_parse_latency(q, &live, NULL, NULL);
    gst_query_unref(q);
    return live;
}

static gboolean ensure_encoder(GstClip *self)
{
    if (self->encoder)
        return TRUE;
    GST_OBJECT_LOCK(self);
    GstClipMode mode = self->mode;
    guint batch = self->batch_size;
    GST_OBJECT_UNLOCK(self);
    self->live = mode == GST_CLIP_MODE_LIVE || (mode == GST_CLIP_MODE_AUTO && upstream_is_live(self));
    vkclip_error err = {{0}};
    /* Live keeps one frame on the device: the newest result is then at most
     * one inference old. Archive keeps two batches so one gathers while the
     * other computes. */
    self->encoder = vkclip_encoder_create(self->model, (int)batch, self->live ? 1 : ARCHIVE_IN_FLIGHT, &err);
    if (!self->encoder) {
        GST_ELEMENT_ERROR(self, LIBRARY, INIT, ("%s", err.message), (NULL));
        return FALSE;
    }
    if (!self->live)
        gst_clip_batcher_start(&self->batcher, self->encoder, self->dim, archive_release, archive_push, self);
    GST_INFO_OBJECT(self, "%s mode, batches of %u", self->live ? "live" : "archive", batch);
    return TRUE;
}

/* ---- GstBaseTransform ---- */

static GstFlowReturn gst_clip_submit_input_buffer(GstBaseTransform *trans, gboolean discont, GstBuffer *buf)
{
    (void)discont;
    GstClip *self = GST_CLIP(trans);
    if (!self->have_caps) {
        gst_buffer_unref(buf);
        GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, ("no caps before the first buffer"), (NULL));
        return GST_FLOW_NOT_NEGOTIATED;
    }
    if (!ensure_encoder(self)) {
        gst_buffer_unref(buf);
        return GST_FLOW_ERROR;
    }
    return self->live ? live_frame(self, buf) : archive_frame(self, buf);
}

static GstFlowReturn gst_clip_generate_output(GstBaseTransform *trans, GstBuffer **outbuf)
{
    GstClip *self = GST_CLIP(trans);
    *outbuf = NULL;
    if (self->live) {
        *outbuf = g_steal_pointer(&self->live_out);
        return GST_FLOW_OK;
    }
    return GST_FLOW_OK; /* archive mode sends frames from the batcher's thread */
}

static gboolean gst_clip_sink_event(GstBaseTransform *trans, GstEvent *event)
{
    GstClip *self = GST_CLIP(trans);
    switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_EOS:
    case GST_EVENT_CAPS:
    case GST_EVENT_SEGMENT:
        /* Frames of the old caps or segment leave before the event. */
        if (drain(self) != GST_FLOW_OK && GST_EVENT_TYPE(event) != GST_EVENT_EOS)
            GST_DEBUG_OBJECT(self, "draining before %s failed", GST_EVENT_TYPE_NAME(event));
        break;
    case GST_EVENT_FLUSH_START: {
        gboolean ok = GST_BASE_TRANSFORM_CLASS(gst_clip_parent_class)->sink_event(trans, event);
        if (gst_clip_batcher_running(&self->batcher))
            gst_clip_batcher_flush_start(&self->batcher);
        return ok;
    }
    case GST_EVENT_FLUSH_STOP:
        discard(self);
        break;
    default:
        break;
    }
    return GST_BASE_TRANSFORM_CLASS(gst_clip_parent_class)->sink_event(trans, event);
}

static gboolean gst_clip_set_caps(GstBaseTransform *trans, GstCaps *incaps, GstCaps *outcaps)
{
    (void)outcaps;
    GstClip *self = GST_CLIP(trans);
    GstVideoInfo info;
    if (!gst_video_info_from_caps(&info, incaps)) {
        GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, ("cannot read the caps %" GST_PTR_FORMAT, incaps), (NULL));
        return FALSE;
    }
    gst_clip_frame_converter_clear(&self->converter);
    if (!gst_clip_frame_converter_init(&self->converter, &info)) {
        GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, ("cannot convert %s frames to RGB",
                                                    gst_video_format_to_string(GST_VIDEO_INFO_FORMAT(&info))),
                          (NULL));
        return FALSE;
    }
    self->have_caps = TRUE;
    GST_INFO_OBJECT(self, "%dx%d %s%s", GST_VIDEO_INFO_WIDTH(&info), GST_VIDEO_INFO_HEIGHT(&info),
                    gst_video_format_to_string(GST_VIDEO_INFO_FORMAT(&info)),
                    gst_clip_format_is_direct(GST_VIDEO_INFO_FORMAT(&info)) ? "" : " (converted to RGB on the CPU)");
    return TRUE;
}

/* Archive mode holds frames until their batch is done: say so. */
static gboolean gst_clip_query(GstBaseTransform *trans, GstPadDirection direction, GstQuery *query)
{
    GstClip *self = GST_CLIP(trans);
    gboolean ok = GST_BASE_TRANSFORM_CLASS(gst_clip_parent_class)->query(trans, direction, query);
    if (ok && direction == GST_PAD_SRC && GST_QUERY_TYPE(query) == GST_QUERY_LATENCY && self->have_caps) {
        gboolean live;
        GstClockTime min, max;
        gst_query_parse_latency(query, &live, &min, &max);
        GST_OBJECT_LOCK(self);
        guint held = self->live ? 0 : self->batch_size * self->interval - 1; /* waiting for a full batch */
        GST_OBJECT_UNLOCK(self);
        const GstVideoInfo *info = &self->converter.info;
        if (held > 0 && GST_VIDEO_INFO_FPS_N(info) > 0) {
            GstClockTime frame = gst_util_uint64_scale(GST_SECOND, GST_VIDEO_INFO_FPS_D(info),
                                                       GST_VIDEO_INFO_FPS_N(info));
            min += held * frame;
            if (GST_CLOCK_TIME_IS_VALID(max))
                max += held * frame;
        }
        gst_query_set_latency(query, live, min, max);
    }
    return ok;
}

/* Archive mode holds up to batch-size × (in flight + 1) buffers of the
 * upstream pool: ask for that many more, so a decoder with a bounded pool
 * does not starve waiting for buffers that wait for their batch. */
static gboolean gst_clip_propose_allocation(GstBaseTransform *trans, GstQuery *decide, GstQuery *query)
{
    GstClip *self = GST_CLIP(trans);
    if (!GST_BASE_TRANSFORM_CLASS(gst_clip_parent_class)->propose_allocation(trans, decide, query))
        return FALSE;
    GST_OBJECT_LOCK(self);
    guint held = self->mode == GST_CLIP_MODE_LIVE ? 1 : self->batch_size * (ARCHIVE_IN_FLIGHT + 1);
    GST_OBJECT_UNLOCK(self);
    guint n = gst_query_get_n_allocation_pools(query);
    for (guint i = 0; i < n; i++) {
        GstBufferPool *pool = NULL;
        guint size, min, max;
        gst_query_parse_nth_allocation_pool(query, i, &pool, &size, &min, &max);
        min += held;
        if (max != 0 && max < min)
            max = min;
        gst_query_set_nth_allocation_pool(query, i, pool, size, min, max);
        if (pool)
            gst_object_unref(pool);
    }
    if (n == 0) {
        GstCaps *caps = NULL;
        GstVideoInfo info;
        gst_query_parse_allocation(query, &caps, NULL);
        if (caps && gst_video_info_from_caps(&info, caps))
            gst_query_add_allocation_pool(query, NULL, (guint)GST_VIDEO_INFO_SIZE(&info), held, 0);
    }
    return TRUE;
}

static void read_label_config(GstClip *self, GstClipLabelConfig *out)
{
    GST_OBJECT_LOCK(self);
    gst_clip_label_config_copy(out, &self->label_config);
    GST_OBJECT_UNLOCK(self);
}

static gboolean gst_clip_start(GstBaseTransform *trans)
{
    GstClip *self = GST_CLIP(trans);
    GST_OBJECT_LOCK(self);
    gchar *dir = g_strdup(self->model_dir);
    gint device = self->device, threads = self->threads;
    vkclip_precision precision = (vkclip_precision)self->precision;
    gboolean embedding = self->embedding;
    GST_OBJECT_UNLOCK(self);
    gchar *error = NULL;
    self->shared = gst_clip_models_acquire(dir, device, threads, precision, &error);
    if (!self->shared) {
        GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ, ("%s", error), ("model directory %s", dir));
        g_free(error);
        g_free(dir);
        return FALSE;
    }
    self->model = gst_clip_shared_model_get(self->shared);
    self->dim = vkclip_embedding_dim(self->model);
    GST_INFO_OBJECT(self, "model %s: %u element(s) share it", dir, gst_clip_shared_model_users(self->shared));
    g_free(dir);

    GstClipLabelConfig config;
    read_label_config(self, &config);
    gboolean ok = TRUE;
    /* Embedding alone (an indexer) needs no labels; otherwise they are required. */
    if (!(embedding && gst_clip_label_config_is_empty(&config)))
        ok = gst_clip_labels_build(&self->labels, self->model, &config, &error);
    else
        gst_clip_labels_start_empty(&self->labels, self->model); /* labels set later still build */
    gst_clip_label_config_clear(&config);
    if (!ok) {
        GST_ELEMENT_ERROR(self, LIBRARY, SETTINGS, ("%s", error), (NULL));
        g_free(error);
        gst_clip_models_release(self->shared);
        self->shared = NULL;
        self->model = NULL;
        return FALSE;
    }
    self->frames_seen = 0;
    return TRUE;
}

static gboolean gst_clip_stop(GstBaseTransform *trans)
{
    GstClip *self = GST_CLIP(trans);
    gst_clip_batcher_stop(&self->batcher);
    discard(self);
    vkclip_encoder_free(self->encoder);
    self->encoder = NULL;
    gst_clip_labels_stop(&self->labels);
    gst_clip_models_release(self->shared);
    self->shared = NULL;
    self->model = NULL;
    gst_clip_frame_converter_clear(&self->converter);
    self->have_caps = FALSE;
    return TRUE;
}

/* ---- properties ---- */

static gchar **label_field(GstClip *self, guint prop)
{
    switch (prop) {
    case PROP_LABELS: return &self->label_config.labels;
    case PROP_LABELS_FILE: return &self->label_config.labels_file;
    case PROP_TEMPLATES: return &self->label_config.templates;
    case PROP_EXAMPLES_DIR: return &self->label_config.examples_dir;
    default: return &self->label_config.templates_file;
    }
}

static void gst_clip_set_property(GObject *object, guint prop, const GValue *value, GParamSpec *pspec)
{
    GstClip *self = GST_CLIP(object);
    gboolean rebuild = FALSE;
    GST_OBJECT_LOCK(self);
    switch (prop) {
    case PROP_MODEL: {
        /* Unset or empty: the built-in default again. */
        const gchar *dir = g_value_get_string(value);
        g_free(self->model_dir);
        self->model_dir = g_strdup(dir && *dir ? dir : vkclip_default_model_dir());
        break;
    }
    case PROP_LABELS:
    case PROP_LABELS_FILE:
    case PROP_TEMPLATES:
    case PROP_TEMPLATES_FILE:
    case PROP_EXAMPLES_DIR: {
        gchar **field = label_field(self, prop);
        g_free(*field);
        *field = g_value_dup_string(value);
        rebuild = TRUE;
        break;
    }
    case PROP_EXAMPLES_WEIGHT:
        self->label_config.examples_weight = g_value_get_double(value);
        rebuild = TRUE;
        break;
    case PROP_TOP_K: self->top_k = g_value_get_uint(value); break;
    case PROP_THRESHOLD: self->threshold = g_value_get_double(value); break;
    case PROP_INTERVAL: self->interval = g_value_get_uint(value); break;
    case PROP_MODE: self->mode = g_value_get_enum(value); break;
    case PROP_BATCH_SIZE: self->batch_size = g_value_get_uint(value); break;
    case PROP_DEVICE: self->device = g_value_get_int(value); break;
    case PROP_THREADS: self->threads = g_value_get_int(value); break;
    case PROP_PRECISION: self->precision = g_value_get_enum(value); break;
    case PROP_POST_MESSAGES: self->post_messages = g_value_get_boolean(value); break;
    case PROP_EMBEDDING: self->embedding = g_value_get_boolean(value); break;
    case PROP_INFERENCE_REGION: self->region_mode = g_value_get_enum(value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop, pspec); break;
    }
    GST_OBJECT_UNLOCK(self);
    if (rebuild) { /* only does something once started */
        GstClipLabelConfig config;
        read_label_config(self, &config);
        gst_clip_labels_request(&self->labels, &config);
        gst_clip_label_config_clear(&config);
    }
}

static void gst_clip_get_property(GObject *object, guint prop, GValue *value, GParamSpec *pspec)
{
    GstClip *self = GST_CLIP(object);
    GST_OBJECT_LOCK(self);
    switch (prop) {
    case PROP_MODEL: g_value_set_string(value, self->model_dir); break;
    case PROP_LABELS:
    case PROP_LABELS_FILE:
    case PROP_TEMPLATES:
    case PROP_TEMPLATES_FILE:
    case PROP_EXAMPLES_DIR: g_value_set_string(value, *label_field(self, prop)); break;
    case PROP_EXAMPLES_WEIGHT: g_value_set_double(value, self->label_config.examples_weight); break;
    case PROP_TOP_K: g_value_set_uint(value, self->top_k); break;
    case PROP_THRESHOLD: g_value_set_double(value, self->threshold); break;
    case PROP_INTERVAL: g_value_set_uint(value, self->interval); break;
    case PROP_MODE: g_value_set_enum(value, self->mode); break;
    case PROP_BATCH_SIZE: g_value_set_uint(value, self->batch_size); break;
    case PROP_DEVICE: g_value_set_int(value, self->device); break;
    case PROP_THREADS: g_value_set_int(value, self->threads); break;
    case PROP_PRECISION: g_value_set_enum(value, self->precision); break;
    case PROP_POST_MESSAGES: g_value_set_boolean(value, self->post_messages); break;
    case PROP_EMBEDDING: g_value_set_boolean(value, self->embedding); break;
    case PROP_INFERENCE_REGION: g_value_set_enum(value, self->region_mode); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop, pspec); break;
    }
    GST_OBJECT_UNLOCK(self);
}

static void gst_clip_finalize(GObject *object)
{
    GstClip *self = GST_CLIP(object);
    gst_clip_labels_stop(&self->labels);
    g_mutex_clear(&self->labels.lock);
    g_free(self->model_dir);
    gst_clip_label_config_clear(&self->label_config);
    G_OBJECT_CLASS(gst_clip_parent_class)->finalize(object);
}

#define FLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_DOC_SHOW_DEFAULT)
#define LIVE_FLAGS (FLAGS | GST_PARAM_MUTABLE_PLAYING)
#define READY_FLAGS (FLAGS | GST_PARAM_MUTABLE_READY)

static void install_properties(GObjectClass *oc)
{
    g_object_class_install_property(
        oc, PROP_MODEL,
        g_param_spec_string("model", "Model",
                            "Hugging Face CLIP, SigLIP or DINOv2 directory (config.json, model.safetensors, the "
                            "tokenizer's files, preprocessor_config.json); the default is $VKCLIP_MODEL, else the "
                            "built-in model",
                            vkclip_default_model_dir(), READY_FLAGS));
    g_object_class_install_property(
        oc, PROP_LABELS,
        g_param_spec_string("labels", "Labels", "Class names separated by ';' (names may contain commas)", NULL,
                            LIVE_FLAGS));
    g_object_class_install_property(
        oc, PROP_LABELS_FILE,
        g_param_spec_string("labels-file", "Labels file", "File with one class name a line (added to labels)",
                            NULL, LIVE_FLAGS));
    g_object_class_install_property(
        oc, PROP_TEMPLATES,
        g_param_spec_string("templates", "Templates",
                            "Prompt templates separated by ';', each with {} for the label; the label's classifier "
                            "is the mean of its prompts' embeddings (default: \"a photo of a {}.\")",
                            NULL, LIVE_FLAGS));
    g_object_class_install_property(
        oc, PROP_TEMPLATES_FILE,
        g_param_spec_string("templates-file", "Templates file",
                            "File with one prompt template a line (added to templates)", NULL, LIVE_FLAGS));
    g_object_class_install_property(
        oc, PROP_EXAMPLES_DIR,
        g_param_spec_string("examples-dir", "Examples folder",
                            "Few-shot: a folder holding one folder of example images (PNG or JPEG) per label, named "
                            "as the label; each label's prompt embedding is blended with its examples' mean",
                            NULL, LIVE_FLAGS));
    g_object_class_install_property(
        oc, PROP_EXAMPLES_WEIGHT,
        g_param_spec_double("examples-weight", "Examples weight",
                            "The examples' share against the prompts (0: zero-shot, 1: the examples alone)", 0.0,
                            1.0, DEFAULT_EXAMPLES_WEIGHT, LIVE_FLAGS));
    g_object_class_install_property(
        oc, PROP_TOP_K,
        g_param_spec_uint("top-k", "Top k", "How many of the best labels to report", 1, 1000, DEFAULT_TOP_K,
                          LIVE_FLAGS));
    g_object_class_install_property(
        oc, PROP_THRESHOLD,
        g_param_spec_double("threshold", "Threshold", "Labels scoring below this are not reported", 0.0, 1.0,
                            DEFAULT_THRESHOLD, LIVE_FLAGS));
    g_object_class_install_property(
        oc, PROP_INTERVAL,
        g_param_spec_uint("interval", "Interval",
                          "Infer every Nth frame (1: every frame); the others carry the last result, marked reused",
                          1, G_MAXINT, DEFAULT_INTERVAL, LIVE_FLAGS));
    g_object_class_install_property(
        oc, PROP_MODE,
        g_param_spec_enum("mode", "Mode", "live: never wait for the device; archive: every selected frame, in "
                                          "order; auto: live when the pipeline is live",
                          gst_clip_mode_get_type(), DEFAULT_MODE, READY_FLAGS));
    g_object_class_install_property(
        oc, PROP_BATCH_SIZE,
        g_param_spec_uint("batch-size", "Batch size", "Images per submission to the device (archive mode)", 1,
                          256, DEFAULT_BATCH_SIZE, READY_FLAGS));
    g_object_class_install_property(
        oc, PROP_DEVICE,
        g_param_spec_int("device", "Device",
                         "A Vulkan device's index; -1: the best ($VKCLIP_DEVICE when set, else a GPU, else the CPU "
                         "backend); -2: vkclip's CPU backend (no Vulkan); -3: the best Vulkan device, lavapipe "
                         "included",
                         VKCLIP_DEVICE_VULKAN, 63, DEFAULT_DEVICE, READY_FLAGS));
    g_object_class_install_property(
        oc, PROP_THREADS,
        g_param_spec_int("threads", "Threads",
                         "The CPU backend's threads; 0: $VKCLIP_THREADS when set, else the cores this process may "
                         "use (no effect on a Vulkan device)",
                         0, VKCLIP_MAX_THREADS, DEFAULT_THREADS, READY_FLAGS));
    g_object_class_install_property(
        oc, PROP_PRECISION,
        g_param_spec_enum("precision", "Precision", "Activation storage on the device",
                          gst_clip_precision_get_type(), DEFAULT_PRECISION, READY_FLAGS));
    g_object_class_install_property(
        oc, PROP_POST_MESSAGES,
        g_param_spec_boolean("post-messages", "Post messages",
                             "Post a `clip` element message on the bus for every inferred frame",
                             DEFAULT_POST_MESSAGES, LIVE_FLAGS));
    g_object_class_install_property(
        oc, PROP_EMBEDDING,
        g_param_spec_boolean("embedding", "Embedding",
                             "Also attach the L2-normalised image embedding (labels are then optional)",
                             DEFAULT_EMBEDDING, LIVE_FLAGS));
    g_object_class_install_property(
        oc, PROP_INFERENCE_REGION,
        g_param_spec_enum("inference-region", "Inference region",
                          "What to classify: the whole frame, or each region of interest an upstream detector "
                          "attached",
                          gst_clip_region_mode_get_type(), DEFAULT_REGION, READY_FLAGS));
}

static void gst_clip_class_init(GstClipClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    GstElementClass *ec = GST_ELEMENT_CLASS(klass);
    GstBaseTransformClass *bc = GST_BASE_TRANSFORM_CLASS(klass);
    oc->set_property = gst_clip_set_property;
    oc->get_property = gst_clip_get_property;
    oc->finalize = gst_clip_finalize;
    install_properties(oc);
    gst_type_mark_as_plugin_api(gst_clip_mode_get_type(), 0);
    gst_type_mark_as_plugin_api(gst_clip_region_mode_get_type(), 0);
    gst_type_mark_as_plugin_api(gst_clip_precision_get_type(), 0);

    gst_element_class_set_static_metadata(
        ec, "CLIP zero-shot classifier", "Filter/Analyzer/Video",
        "Labels video frames by zero-shot CLIP classification on the GPU (Vulkan), as buffer meta and bus "
        "messages",
        "vkclip developers");
    gst_element_class_add_static_pad_template(ec, &sink_template);
    gst_element_class_add_static_pad_template(ec, &src_template);

    bc->start = gst_clip_start;
    bc->stop = gst_clip_stop;
    bc->set_caps = gst_clip_set_caps;
    bc->sink_event = gst_clip_sink_event;
    bc->query = gst_clip_query;
    bc->propose_allocation = gst_clip_propose_allocation;
    bc->submit_input_buffer = gst_clip_submit_input_buffer;
    bc->generate_output = gst_clip_generate_output;
    bc->passthrough_on_same_caps = FALSE;
    bc->transform_ip_on_passthrough = FALSE;
}

static void gst_clip_init(GstClip *self)
{
    self->model_dir = g_strdup(vkclip_default_model_dir());
    self->top_k = DEFAULT_TOP_K;
    self->threshold = DEFAULT_THRESHOLD;
    self->label_config.examples_weight = DEFAULT_EXAMPLES_WEIGHT;
    self->interval = DEFAULT_INTERVAL;
    self->mode = DEFAULT_MODE;
    self->batch_size = DEFAULT_BATCH_SIZE;
    self->device = DEFAULT_DEVICE;
    self->threads = DEFAULT_THREADS;
    self->precision = DEFAULT_PRECISION;
    self->post_messages = DEFAULT_POST_MESSAGES;
    self->embedding = DEFAULT_EMBEDDING;
    self->region_mode = DEFAULT_REGION;
    gst_clip_labels_init(&self->labels, GST_ELEMENT(self));
    gst_clip_meta_register();
    /* Pixels are never touched: buffers pass through, meta is added. */
    gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), TRUE);
    gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
}
