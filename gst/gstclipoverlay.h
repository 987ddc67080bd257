/* gstclipoverlay.h: the `clipoverlay` element, which draws the labels and
 * scores the `clip` element attaches to buffers (GstClipMeta, see
 * gstclipmeta.h) onto the video frames. */
#ifndef GST_CLIP_OVERLAY_H
#define GST_CLIP_OVERLAY_H

#include <gst/video/gstvideofilter.h>

G_BEGIN_DECLS

#define GST_TYPE_CLIP_OVERLAY (gst_clip_overlay_get_type())
G_DECLARE_FINAL_TYPE(GstClipOverlay, gst_clip_overlay, GST, CLIP_OVERLAY, GstVideoFilter)

GST_ELEMENT_REGISTER_DECLARE(clipoverlay);

G_END_DECLS

#endif
