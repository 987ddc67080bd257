/* thumbnail: frames of a video as small JPEGs (see thumbnail.h): a paused
 * pipeline, an accurate seek per picture, the prerolled frame converted by
 * gst_video_convert_sample. */
#include "thumbnail.h"

#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <stdio.h>

#define STATE_TIMEOUT (30 * GST_SECOND)

/* Waits for the pipeline to settle; FALSE (reason in err) on an error. */
static gboolean settle(GstElement *pipeline, char *err, size_t cap)
{
    GstStateChangeReturn r = gst_element_get_state(pipeline, NULL, NULL, STATE_TIMEOUT);
    if (r == GST_STATE_CHANGE_SUCCESS || r == GST_STATE_CHANGE_NO_PREROLL)
        return TRUE;
    if (r == GST_STATE_CHANGE_ASYNC) {
        snprintf(err, cap, "no frame within %d s", (int)(STATE_TIMEOUT / GST_SECOND));
        return FALSE;
    }
    GstBus *bus = gst_element_get_bus(pipeline);
    GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
    GError *gerr = NULL;
    if (m)
        gst_message_parse_error(m, &gerr, NULL);
    snprintf(err, cap, "%s", gerr ? gerr->message : "cannot be decoded");
    g_clear_error(&gerr);
    if (m)
        gst_message_unref(m);
    gst_object_unref(bus);
    return FALSE;
}

static char *jpeg_of(GstSample *frame)
{
    GstCaps *jpeg = gst_caps_new_empty_simple("image/jpeg");
    GstSample *encoded = gst_video_convert_sample(frame, jpeg, STATE_TIMEOUT, NULL);
    gst_caps_unref(jpeg);
    if (!encoded)
        return NULL;
    char *text = NULL;
    GstMapInfo map;
    GstBuffer *buf = gst_sample_get_buffer(encoded);
    if (buf && gst_buffer_map(buf, &map, GST_MAP_READ)) {
        text = g_base64_encode(map.data, map.size);
        gst_buffer_unmap(buf, &map);
    }
    gst_sample_unref(encoded);
    return text;
}

int thumbnails_grab(const char *path, const int64_t *pts_ns, int n, int width, char **out, char *err, size_t cap)
{
    for (int i = 0; i < n; i++)
        out[i] = NULL;
    char *description = g_strdup_printf(
        "filesrc name=src ! decodebin ! videoconvert ! videoscale ! "
        "video/x-raw,format=RGB,width=%d,pixel-aspect-ratio=1/1 ! appsink name=sink sync=false",
        width);
    GError *gerr = NULL;
    GstElement *pipeline = gst_parse_launch(description, &gerr);
    g_free(description);
    if (!pipeline) {
        snprintf(err, cap, "GStreamer: %s", gerr ? gerr->message : "cannot make the pipeline");
        g_clear_error(&gerr);
        return -1;
    }
    g_clear_error(&gerr); /* a warning about a missing optional element */
    GstElement *src = gst_bin_get_by_name(GST_BIN(pipeline), "src");
    GstElement *sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
    g_object_set(src, "location", path, NULL);
    gst_element_set_state(pipeline, GST_STATE_PAUSED);
    int status = settle(pipeline, err, cap) ? 0 : -1;
    for (int i = 0; status == 0 && i < n; i++) {
        if (!gst_element_seek_simple(pipeline, GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE,
                                     pts_ns[i]) ||
            !settle(pipeline, err, cap))
            continue;
        GstSample *frame = gst_app_sink_try_pull_preroll(GST_APP_SINK(sink), STATE_TIMEOUT);
        if (frame) {
            out[i] = jpeg_of(frame);
            gst_sample_unref(frame);
        }
    }
    gst_element_set_state(pipeline, GST_STATE_NULL);
    gst_object_unref(src);
    gst_object_unref(sink);
    gst_object_unref(pipeline);
    return status;
}
