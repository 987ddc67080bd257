/* gstclipoverlay.c: placeholder while the element is written. */
#include "gstclipoverlay.h"

struct _GstClipOverlay {
    GstVideoFilter parent;
};

G_DEFINE_TYPE(GstClipOverlay, gst_clip_overlay, GST_TYPE_VIDEO_FILTER)
GST_ELEMENT_REGISTER_DEFINE(clipoverlay, "clipoverlay", GST_RANK_NONE, GST_TYPE_CLIP_OVERLAY)

static void gst_clip_overlay_class_init(GstClipOverlayClass *klass)
{
    GstElementClass *ec = GST_ELEMENT_CLASS(klass);
    gst_element_class_set_static_metadata(ec, "CLIP label overlay", "Filter/Editor/Video",
                                          "placeholder", "vkclip");
    GstCaps *caps = gst_caps_from_string("video/x-raw");
    gst_element_class_add_pad_template(ec, gst_pad_template_new("sink", GST_PAD_SINK, GST_PAD_ALWAYS, caps));
    gst_element_class_add_pad_template(ec, gst_pad_template_new("src", GST_PAD_SRC, GST_PAD_ALWAYS, caps));
    gst_caps_unref(caps);
}

static void gst_clip_overlay_init(GstClipOverlay *self)
{
    (void)self;
}
