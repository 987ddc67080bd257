/* gstclipmeta.h: reading the results the `clip` element attaches to buffers.
 *
 * Header only: readers need GStreamer and nothing of vkclip. The results
 * travel as a GstCustomMeta named "GstClipMeta" (registered by the plugin
 * when it loads), whose GstStructure holds:
 *
 *   labels     GstValueArray of gchararray  top-k labels, best first
 *   scores     GstValueArray of gdouble     their scores (softmax over all labels)
 *   indices    GstValueArray of gint        their positions in the label list
 *   inferred   gboolean                     FALSE where the result was reused from an earlier frame
 *   timestamp  guint64                      PTS of the frame the result was computed from
 *   embedding  GstValueArray of gfloat      the L2-normalised image embedding (embedding=true only)
 *   regions    GstValueArray of GstStructure "region" (inference-region=roi-list only; then the
 *              top-level labels/scores/indices/embedding are absent): id, x, y, width, height
 *              (gint, frame pixels), labels, scores, indices, embedding as above
 *
 * With inference-region=roi-list each GstVideoRegionOfInterestMeta also gets a
 * param structure named "clip" with that region's labels, scores, indices
 * (DL Streamer's convention).
 *
 * From Python: buf.get_custom_meta("GstClipMeta").get_structure(). */
#ifndef GST_CLIP_META_H
#define GST_CLIP_META_H

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_CLIP_META_NAME "GstClipMeta"
#define GST_CLIP_ROI_PARAM_NAME "clip"

/* The result structure on a buffer, or NULL when the buffer carries none. */
static inline const GstStructure *gst_clip_meta_get_structure(GstBuffer *buffer)
{
    GstCustomMeta *meta = gst_buffer_get_custom_meta(buffer, GST_CLIP_META_NAME);
    return meta ? gst_custom_meta_get_structure(meta) : NULL;
}

/* How many labels a result (frame, region or ROI param) structure lists. */
static inline guint gst_clip_result_n_labels(const GstStructure *result)
{
    const GValue *labels = gst_structure_get_value(result, "labels");
    return labels && GST_VALUE_HOLDS_ARRAY(labels) ? gst_value_array_get_size(labels) : 0;
}

/* Label i (0 = best), or NULL past the end. */
static inline const gchar *gst_clip_result_label(const GstStructure *result, guint i)
{
    const GValue *labels = gst_structure_get_value(result, "labels");
    if (!labels || !GST_VALUE_HOLDS_ARRAY(labels) || i >= gst_value_array_get_size(labels))
        return NULL;
    const GValue *v = gst_value_array_get_value(labels, i);
    return G_VALUE_HOLDS_STRING(v) ? g_value_get_string(v) : NULL;
}

/* Score of label i, or -1 past the end. */
static inline gdouble gst_clip_result_score(const GstStructure *result, guint i)
{
    const GValue *scores = gst_structure_get_value(result, "scores");
    if (!scores || !GST_VALUE_HOLDS_ARRAY(scores) || i >= gst_value_array_get_size(scores))
        return -1.0;
    const GValue *v = gst_value_array_get_value(scores, i);
    return G_VALUE_HOLDS_DOUBLE(v) ? g_value_get_double(v) : -1.0;
}

G_END_DECLS

#endif
