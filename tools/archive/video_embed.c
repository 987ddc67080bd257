/* video_embed: a video through the clip element (see video_embed.h). */
#include "video_embed.h"

#include <gst/gst.h>
#include <gst/video/video.h>
#include <stdio.h>
#include <string.h>

#include "archive_db.h"
#include "frame_blank.h"
#include "gstclipmeta.h"
#include "gstclipmodels.h"
#include "gstclipplugin.h"

/* A pipeline that makes no progress for this long is stopped: a damaged file
 * must not hang the indexer. */
#define STALL_SECONDS 120
#define POLL_MS 200
#define SAMPLE_SLACK_NS 2e6

/* A frame sent to clip; it comes out in the same order (archive mode). */
typedef struct kept_frame {
    gint64 pts;
    guint32 flags;
} kept_frame;

typedef struct run_state {
    const video_embed_options *o;
    GstElement *pipeline, *clip;
    gint64 next_sample_ns;    /* sink side: the next sampling instant */
    GArray *kept;             /* kept_frame, in the order they enter clip */
    guint kept_read;          /* the next one clip sends out */
    GMutex lock;              /* everything below, written from streaming threads */
    video_frames *out;
    gboolean linked, bad_meta;
    gint64 last_activity_us;
} run_state;

int video_embed_init(char *err, size_t cap)
{
    GError *gerr = NULL;
    if (!gst_init_check(NULL, NULL, &gerr)) {
        snprintf(err, cap, "GStreamer: %s", gerr ? gerr->message : "cannot initialise");
        g_clear_error(&gerr);
        return -1;
    }
    if (!gst_clip_register_static()) {
        snprintf(err, cap, "GStreamer: cannot register the clip element");
        return -1;
    }
    return 0;
}

GstClipSharedModel *video_embed_start(const char *model_dir, int device, int threads, vkclip_precision precision, char *err,
                                      size_t cap)
{
    if (video_embed_init(err, cap) != 0)
        return NULL;
    gchar *why = NULL;
    GstClipSharedModel *model = gst_clip_models_acquire(model_dir, device, threads, precision, &why);
    if (!model)
        snprintf(err, cap, "%s", why);
    g_free(why);
    return model;
}

void video_frames_clear(video_frames *f)
{
    g_free(f->pts_ns);
    g_free(f->flags);
    g_free(f->embeddings);
    memset(f, 0, sizeof *f);
}

static void append_frame(video_frames *f, gint64 pts, guint32 flags, const GValue *embedding)
{
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 64;
        f->pts_ns = g_renew(int64_t, f->pts_ns, f->cap);
        f->flags = g_renew(uint32_t, f->flags, f->cap);
        f->embeddings = g_renew(float, f->embeddings, (gsize)f->cap * (gsize)f->dim);
    }
    float *e = f->embeddings + (gsize)f->n * (gsize)f->dim;
    for (int i = 0; i < f->dim; i++)
        e[i] = g_value_get_float(gst_value_array_get_value(embedding, (guint)i));
    f->pts_ns[f->n] = pts;
    f->flags[f->n] = flags;
    f->n++;
}

/* Before clip: keep the first frame at or after each sampling instant, and
 * note whether it is blank. */
static GstPadProbeReturn sample_probe(GstPad *pad, GstPadProbeInfo *info, gpointer user)
{
    run_state *s = user;
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
    GstClockTime pts = GST_BUFFER_PTS(buf);
    g_mutex_lock(&s->lock);
    s->last_activity_us = g_get_monotonic_time();
    g_mutex_unlock(&s->lock);
    if (GST_CLOCK_TIME_IS_VALID(pts)) {
        /* Containers round timestamps (Matroska to 1 ms): a frame that
         * falls just short of an instant is taken for it. */
        double step = 1e9 / s->o->fps, slack = MIN(step / 4, SAMPLE_SLACK_NS);
        gint64 t = (gint64)pts + (gint64)slack;
        if (t < s->next_sample_ns)
            return GST_PAD_PROBE_DROP;
        s->next_sample_ns = (gint64)((double)((gint64)((double)t / step) + 1) * step + 0.5);
    }
    kept_frame k = {GST_CLOCK_TIME_IS_VALID(pts) ? (gint64)pts : -1, 0};
    GstCaps *caps = gst_pad_get_current_caps(pad);
    GstVideoInfo vinfo;
    GstVideoFrame frame;
    if (caps && gst_video_info_from_caps(&vinfo, caps) && gst_video_frame_map(&frame, &vinfo, buf, GST_MAP_READ)) {
        if (frame_is_blank(&frame))
            k.flags |= ARCHIVE_FRAME_BLANK;
        gst_video_frame_unmap(&frame);
    }
    if (caps)
        gst_caps_unref(caps);
    g_mutex_lock(&s->lock);
    g_array_append_val(s->kept, k);
    g_mutex_unlock(&s->lock);
    return GST_PAD_PROBE_OK;
}

/* After clip: each buffer's embedding, with the flags noted on the way in. */
static GstPadProbeReturn result_probe(GstPad *pad, GstPadProbeInfo *info, gpointer user)
{
    (void)pad;
    run_state *s = user;
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
    const GstStructure *result = gst_clip_meta_get_structure(buf);
    const GValue *embedding = result ? gst_structure_get_value(result, "embedding") : NULL;
    g_mutex_lock(&s->lock);
    s->last_activity_us = g_get_monotonic_time();
    if (!embedding || !GST_VALUE_HOLDS_ARRAY(embedding) ||
        gst_value_array_get_size(embedding) != (guint)s->out->dim || s->kept_read >= s->kept->len) {
        s->bad_meta = TRUE;
    } else {
        kept_frame k = g_array_index(s->kept, kept_frame, s->kept_read++);
        guint64 stamp = GST_CLOCK_TIME_NONE;
        gst_structure_get_uint64(result, "timestamp", &stamp);
        gint64 pts = GST_CLOCK_TIME_IS_VALID(stamp) ? (gint64)stamp : k.pts;
        if (pts < 0) /* no timestamps at all: the sampling rate's */
            pts = (gint64)((double)s->out->n * 1e9 / s->o->fps);
        append_frame(s->out, pts, k.flags, embedding);
    }
    g_mutex_unlock(&s->lock);
    return GST_PAD_PROBE_OK;
}

static void on_pad_added(GstElement *decodebin, GstPad *pad, gpointer user)
{
    (void)decodebin;
    run_state *s = user;
    GstCaps *caps = gst_pad_get_current_caps(pad);
    if (!caps)
        caps = gst_pad_query_caps(pad, NULL);
    const GstStructure *st = caps && gst_caps_get_size(caps) ? gst_caps_get_structure(caps, 0) : NULL;
    gboolean video = st && g_str_has_prefix(gst_structure_get_name(st), "video/x-raw");
    if (caps)
        gst_caps_unref(caps);
    g_mutex_lock(&s->lock);
    gboolean take = video && !s->linked;
    if (take)
        s->linked = TRUE;
    g_mutex_unlock(&s->lock);
    if (!take)
        return; /* audio, subtitles, a second video stream */
    GstPad *sink = gst_element_get_static_pad(s->clip, "sink");
    if (gst_pad_link(pad, sink) != GST_PAD_LINK_OK)
        GST_ELEMENT_ERROR(s->clip, CORE, NEGOTIATION, ("the video stream cannot be linked to clip"), (NULL));
    gst_object_unref(sink);
}

static void on_no_more_pads(GstElement *decodebin, gpointer user)
{
    run_state *s = user;
    g_mutex_lock(&s->lock);
    gboolean none = !s->linked;
    g_mutex_unlock(&s->lock);
    if (none)
        gst_element_post_message(decodebin,
                                 gst_message_new_application(GST_OBJECT(decodebin), gst_structure_new_empty("no-video")));
}

static GstElement *make_pipeline(run_state *s, const char *path, char *err, size_t cap)
{
    GstElement *pipeline = gst_pipeline_new("index");
    GstElement *src = gst_element_factory_make("filesrc", NULL), *dec = gst_element_factory_make("decodebin", NULL);
    GstElement *clip = gst_element_factory_make("clip", NULL), *sink = gst_element_factory_make("fakesink", NULL);
    if (!pipeline || !src || !dec || !clip || !sink) {
        snprintf(err, cap, "GStreamer lacks %s", !src ? "filesrc" : !dec ? "decodebin" : !clip ? "clip" : "fakesink");
        GstElement *made[] = {pipeline, src, dec, clip, sink};
        for (size_t i = 0; i < sizeof made / sizeof made[0]; i++)
            if (made[i])
                gst_object_unref(made[i]);
        return NULL;
    }
    g_object_set(src, "location", path, NULL);
    g_object_set(clip, "model", s->o->model_dir, "device", s->o->device, "threads", s->o->threads, "embedding", TRUE, "post-messages", FALSE,
                 "batch-size", (guint)s->o->batch, NULL);
    gst_util_set_object_arg(G_OBJECT(clip), "mode", "archive");
    gst_util_set_object_arg(G_OBJECT(clip), "precision", s->o->precision == VKCLIP_PRECISION_F16 ? "f16" : "f32");
    g_object_set(sink, "sync", FALSE, NULL);
    gst_bin_add_many(GST_BIN(pipeline), src, dec, clip, sink, NULL);
    if (!gst_element_link(src, dec) || !gst_element_link(clip, sink)) {
        snprintf(err, cap, "GStreamer: cannot link the pipeline");
        gst_object_unref(pipeline);
        return NULL;
    }
    g_signal_connect(dec, "pad-added", G_CALLBACK(on_pad_added), s);
    g_signal_connect(dec, "no-more-pads", G_CALLBACK(on_no_more_pads), s);
    GstPad *pad = gst_element_get_static_pad(clip, "sink");
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, sample_probe, s, NULL);
    gst_object_unref(pad);
    pad = gst_element_get_static_pad(clip, "src");
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, result_probe, s, NULL);
    gst_object_unref(pad);
    s->clip = clip;
    return pipeline;
}

static void report_progress(run_state *s)
{
    if (!s->o->progress)
        return;
    gint64 position = -1, duration = -1;
    if (!gst_element_query_position(s->pipeline, GST_FORMAT_TIME, &position))
        position = -1;
    if (!gst_element_query_duration(s->pipeline, GST_FORMAT_TIME, &duration))
        duration = -1;
    g_mutex_lock(&s->lock);
    gint64 frames = s->out->n;
    g_mutex_unlock(&s->lock);
    s->o->progress(s->o->progress_user, position, duration, frames);
}

/* Waits for EOS or an error; 0, or -1 with the reason in err. */
static int wait_for_end(run_state *s, char *err, size_t cap)
{
    GstBus *bus = gst_element_get_bus(s->pipeline);
    int status = 1;
    while (status == 1) {
        GstMessage *m = gst_bus_timed_pop_filtered(bus, POLL_MS * GST_MSECOND,
                                                   GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_APPLICATION);
        if (!m) {
            report_progress(s);
            g_mutex_lock(&s->lock);
            gint64 idle = g_get_monotonic_time() - s->last_activity_us;
            g_mutex_unlock(&s->lock);
            if (idle > (gint64)STALL_SECONDS * G_USEC_PER_SEC) {
                snprintf(err, cap, "no progress in %d s, given up", STALL_SECONDS);
                status = -1;
            }
            continue;
        }
        if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_EOS) {
            status = 0;
        } else if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR) {
            GError *gerr = NULL;
            gst_message_parse_error(m, &gerr, NULL);
            g_mutex_lock(&s->lock);
            gboolean linked = s->linked;
            g_mutex_unlock(&s->lock);
            /* Only streams clip cannot take (audio, say): not-linked upstream. */
            if (!linked && gerr && g_error_matches(gerr, GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED))
                snprintf(err, cap, "no video stream");
            else
                snprintf(err, cap, "%s", gerr ? gerr->message : "decoding failed");
            g_clear_error(&gerr);
            status = -1;
        } else if (gst_message_has_name(m, "no-video")) {
            snprintf(err, cap, "no video stream");
            status = -1;
        }
        gst_message_unref(m);
    }
    gst_object_unref(bus);
    return status;
}

int video_embed_file(const char *path, const video_embed_options *o, video_frames *out, char *err, size_t cap)
{
    int dim = out->dim;
    video_frames_clear(out);
    out->dim = dim;
    out->duration_ns = -1;
    run_state s = {.o = o, .out = out, .kept = g_array_new(FALSE, FALSE, sizeof(kept_frame))};
    g_mutex_init(&s.lock);
    s.last_activity_us = g_get_monotonic_time();
    int status = -1;
    s.pipeline = make_pipeline(&s, path, err, cap);
    if (s.pipeline) {
        /* A failed start posts its reason on the bus, which wait_for_end reads. */
        gst_element_set_state(s.pipeline, GST_STATE_PLAYING);
        status = wait_for_end(&s, err, cap);
        gint64 duration = -1;
        if (status == 0 && gst_element_query_duration(s.pipeline, GST_FORMAT_TIME, &duration))
            out->duration_ns = duration;
        gst_element_set_state(s.pipeline, GST_STATE_NULL);
        gst_object_unref(s.pipeline);
    }
    if (status == 0 && s.bad_meta) {
        snprintf(err, cap, "the clip element returned a frame without an embedding of %d values", out->dim);
        status = -1;
    }
    if (status == 0 && !s.linked) {
        snprintf(err, cap, "no video stream");
        status = -1;
    }
    g_array_free(s.kept, TRUE);
    g_mutex_clear(&s.lock);
    return status;
}
