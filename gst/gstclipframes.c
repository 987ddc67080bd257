/* gstclipframes.c: mapping video frames for the engine. */
#include "gstclipframes.h"

#include <string.h>

typedef struct DirectFormat {
    GstVideoFormat gst;
    vkclip_pixel_format engine;
} DirectFormat;

static const DirectFormat direct_formats[] = {
    {GST_VIDEO_FORMAT_RGB, VKCLIP_FORMAT_RGB},   {GST_VIDEO_FORMAT_BGR, VKCLIP_FORMAT_BGR},
    {GST_VIDEO_FORMAT_RGBA, VKCLIP_FORMAT_RGBA}, {GST_VIDEO_FORMAT_BGRA, VKCLIP_FORMAT_BGRA},
    {GST_VIDEO_FORMAT_RGBx, VKCLIP_FORMAT_RGBX}, {GST_VIDEO_FORMAT_BGRx, VKCLIP_FORMAT_BGRX},
    {GST_VIDEO_FORMAT_xRGB, VKCLIP_FORMAT_XRGB}, {GST_VIDEO_FORMAT_xBGR, VKCLIP_FORMAT_XBGR},
    {GST_VIDEO_FORMAT_ARGB, VKCLIP_FORMAT_ARGB}, {GST_VIDEO_FORMAT_ABGR, VKCLIP_FORMAT_ABGR},
    {GST_VIDEO_FORMAT_GRAY8, VKCLIP_FORMAT_GRAY8}, {GST_VIDEO_FORMAT_I420, VKCLIP_FORMAT_I420},
    {GST_VIDEO_FORMAT_YV12, VKCLIP_FORMAT_I420}, /* I420 with the chroma planes swapped */
    {GST_VIDEO_FORMAT_NV12, VKCLIP_FORMAT_NV12},
};

static const DirectFormat *find_direct(GstVideoFormat format)
{
    for (size_t i = 0; i < G_N_ELEMENTS(direct_formats); i++)
        if (direct_formats[i].gst == format)
            return &direct_formats[i];
    return NULL;
}

gboolean gst_clip_format_is_direct(GstVideoFormat format)
{
    return find_direct(format) != NULL;
}

gboolean gst_clip_frame_converter_init(GstClipFrameConverter *conv, const GstVideoInfo *info)
{
    memset(conv, 0, sizeof *conv);
    conv->info = *info;
    if (find_direct(GST_VIDEO_INFO_FORMAT(info)))
        return TRUE;
    gst_video_info_set_format(&conv->rgb_info, GST_VIDEO_FORMAT_RGB, GST_VIDEO_INFO_WIDTH(info),
                              GST_VIDEO_INFO_HEIGHT(info));
    GST_VIDEO_INFO_FPS_N(&conv->rgb_info) = GST_VIDEO_INFO_FPS_N(info); /* the converter insists */
    GST_VIDEO_INFO_FPS_D(&conv->rgb_info) = GST_VIDEO_INFO_FPS_D(info);
    /* Full-range sRGB out, whatever the input's matrix and range: what
     * videoconvert would hand a model. */
    conv->converter = gst_video_converter_new(&conv->info, &conv->rgb_info, NULL);
    return conv->converter != NULL;
}

void gst_clip_frame_converter_clear(GstClipFrameConverter *conv)
{
    if (conv->converter)
        gst_video_converter_free(conv->converter);
    memset(conv, 0, sizeof *conv);
}

static vkclip_colorimetry colorimetry_of(const GstVideoInfo *info)
{
    const GstVideoColorimetry *c = &GST_VIDEO_INFO_COLORIMETRY(info);
    gboolean full = c->range == GST_VIDEO_COLOR_RANGE_0_255;
    if (c->matrix == GST_VIDEO_COLOR_MATRIX_BT709)
        return full ? VKCLIP_BT709_FULL : VKCLIP_BT709_LIMITED;
    return full ? VKCLIP_BT601_FULL : VKCLIP_BT601_LIMITED;
}

/* How videoconvert interpolates the chroma of a frame of these caps
 * (GStreamer 1.22, video-converter.c): I420 and YV12 to RGB at the same size
 * take a fast path that gives each chroma sample to its 2x2 block whatever
 * the siting, unless the caps are interlaced; otherwise the chroma resampler
 * reads the siting GstVideoInfo holds (the caps' chroma-site, none when they
 * lack one, or its defaults when they lack a colorimetry): horizontally
 * cosited or centred, vertically cosited (not interpolated) or centred. */
static vkclip_chroma_site chroma_site_of(const GstVideoInfo *info)
{
    GstVideoFormat format = GST_VIDEO_INFO_FORMAT(info);
    if ((format == GST_VIDEO_FORMAT_I420 || format == GST_VIDEO_FORMAT_YV12) && !GST_VIDEO_INFO_IS_INTERLACED(info))
        return VKCLIP_CHROMA_NEAREST;
    GstVideoChromaSite site = GST_VIDEO_INFO_CHROMA_SITE(info);
    gboolean h = (site & GST_VIDEO_CHROMA_SITE_H_COSITED) != 0, v = (site & GST_VIDEO_CHROMA_SITE_V_COSITED) != 0;
    return h && v ? VKCLIP_CHROMA_COSITED : h ? VKCLIP_CHROMA_MPEG2 : v ? VKCLIP_CHROMA_V_COSITED : VKCLIP_CHROMA_JPEG;
}

gboolean gst_clip_frame_map(GstClipFrame *f, GstClipFrameConverter *conv, GstBuffer *buf)
{
    memset(f, 0, sizeof *f);
    if (!gst_video_frame_map(&f->video, &conv->info, buf, GST_MAP_READ))
        return FALSE;
    f->mapped = TRUE;
    vkclip_frame *fr = &f->frame;
    fr->width = GST_VIDEO_FRAME_WIDTH(&f->video);
    fr->height = GST_VIDEO_FRAME_HEIGHT(&f->video);
    const DirectFormat *d = find_direct(GST_VIDEO_FRAME_FORMAT(&f->video));
    if (!d) {
        GstVideoFrame rgb;
        gsize bytes = GST_VIDEO_INFO_SIZE(&conv->rgb_info);
        f->converted = g_malloc(bytes);
        GstBuffer *wrap = gst_buffer_new_wrapped_full(0, f->converted, bytes, 0, bytes, NULL, NULL);
        if (!gst_video_frame_map(&rgb, &conv->rgb_info, wrap, GST_MAP_WRITE)) {
            gst_buffer_unref(wrap);
            gst_clip_frame_unmap(f);
            return FALSE;
        }
        gst_video_converter_frame(conv->converter, &f->video, &rgb);
        gst_video_frame_unmap(&rgb);
        gst_buffer_unref(wrap);
        fr->format = VKCLIP_FORMAT_RGB;
        fr->planes[0] = f->converted;
        fr->strides[0] = GST_VIDEO_INFO_PLANE_STRIDE(&conv->rgb_info, 0);
        return TRUE;
    }
    fr->format = d->engine;
    fr->colorimetry = colorimetry_of(&conv->info);
    fr->chroma_site = chroma_site_of(&conv->info);
    guint planes = GST_VIDEO_FRAME_N_PLANES(&f->video);
    for (guint p = 0; p < planes && p < 3; p++) {
        fr->planes[p] = GST_VIDEO_FRAME_PLANE_DATA(&f->video, p);
        fr->strides[p] = GST_VIDEO_FRAME_PLANE_STRIDE(&f->video, p);
    }
    if (d->gst == GST_VIDEO_FORMAT_YV12) { /* planes Y, V, U: hand them over as Y, U, V */
        const guint8 *v = fr->planes[1];
        fr->planes[1] = fr->planes[2];
        fr->planes[2] = v;
        gint s = fr->strides[1];
        fr->strides[1] = fr->strides[2];
        fr->strides[2] = s;
    }
    return TRUE;
}

void gst_clip_frame_unmap(GstClipFrame *f)
{
    if (f->mapped)
        gst_video_frame_unmap(&f->video);
    g_free(f->converted);
    memset(f, 0, sizeof *f);
}

gboolean gst_clip_frame_crop(const vkclip_frame *whole, gint x, gint y, gint w, gint h, vkclip_frame *out)
{
    gint x0 = MAX(x, 0), y0 = MAX(y, 0);
    gint x1 = MIN((gint64)x + w, whole->width), y1 = MIN((gint64)y + h, whole->height);
    if (x1 <= x0 || y1 <= y0)
        return FALSE;
    *out = *whole;
    out->crop = (vkclip_rect){x0, y0, x1 - x0, y1 - y0};
    return TRUE;
}
