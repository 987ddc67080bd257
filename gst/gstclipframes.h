/* gstclipframes.h: GStreamer video frames as the engine's vkclip_frame.
 *
 * The formats the device reads directly (packed RGB orders, GRAY8, I420,
 * YV12, NV12) are described in place, with strides and plane offsets from
 * GstVideoMeta. Any other raw format a decoder may produce (4:4:4 and 4:2:2
 * YUV, planar RGB, 10-bit, ...) is first converted to RGB on the CPU by
 * GStreamer's own video converter, so `decodebin ! clip` negotiates with
 * every decoder without a videoconvert in front. */
#ifndef GST_CLIP_FRAMES_H
#define GST_CLIP_FRAMES_H

#include <gst/video/video.h>

#include "vkclip.h"

G_BEGIN_DECLS

/* The formats of the pad templates: the direct ones first. */
#define GST_CLIP_DIRECT_FORMATS "RGB, BGR, RGBA, BGRA, RGBx, BGRx, xRGB, xBGR, ARGB, ABGR, GRAY8, I420, YV12, NV12"
#define GST_CLIP_CONVERTED_FORMATS                                                                      \
    "NV21, Y444, Y42B, Y41B, GBR, GBRA, AYUV, VUYA, YUY2, UYVY, YVYU, v308, IYU2, NV16, NV24, RGB16, "   \
    "BGR16, GRAY16_LE, GRAY16_BE, I420_10LE, I420_10BE, I422_10LE, Y444_10LE, P010_10LE, GBR_10LE, "  \
    "v210, Y444_16LE, A420, I420_12LE, I422_12LE, Y444_12LE, GBR_12LE, GBRA_10LE, GBRA_12LE, P016_LE, "  \
    "Y210, Y410"
#define GST_CLIP_FORMATS GST_CLIP_DIRECT_FORMATS ", " GST_CLIP_CONVERTED_FORMATS

/* A mapped frame in the engine's terms. */
typedef struct GstClipFrame {
    GstVideoFrame video;      /* the mapping of the buffer */
    gboolean mapped;
    guint8 *converted;        /* RGB pixels when the format is not read directly */
    vkclip_frame frame;       /* whole frame; crop zero */
} GstClipFrame;

/* Per-caps state: the converter for formats the device does not read. */
typedef struct GstClipFrameConverter {
    GstVideoInfo info;
    GstVideoConverter *converter; /* NULL for direct formats */
    GstVideoInfo rgb_info;
} GstClipFrameConverter;

gboolean gst_clip_frame_converter_init(GstClipFrameConverter *conv, const GstVideoInfo *info);
void gst_clip_frame_converter_clear(GstClipFrameConverter *conv);
gboolean gst_clip_format_is_direct(GstVideoFormat format);

/* Maps buf for reading and describes it; FALSE if it cannot be mapped. */
gboolean gst_clip_frame_map(GstClipFrame *f, GstClipFrameConverter *conv, GstBuffer *buf);
void gst_clip_frame_unmap(GstClipFrame *f);

/* The frame cropped to a rectangle, clipped to the frame; FALSE when
 * nothing of the rectangle lies inside. */
gboolean gst_clip_frame_crop(const vkclip_frame *whole, gint x, gint y, gint w, gint h, vkclip_frame *out);

G_END_DECLS

#endif
