/* gstclip.c: placeholder while the element is written. */
#include "gstclip.h"

struct _GstClip {
    GstBaseTransform parent;
};

G_DEFINE_TYPE(GstClip, gst_clip, GST_TYPE_BASE_TRANSFORM)
GST_ELEMENT_REGISTER_DEFINE(clip, "clip", GST_RANK_NONE, GST_TYPE_CLIP)

static void gst_clip_class_init(GstClipClass *klass)
{
    GstElementClass *ec = GST_ELEMENT_CLASS(klass);
    gst_element_class_set_static_metadata(ec, "CLIP zero-shot classifier", "Filter/Analyzer/Video",
                                          "placeholder", "vkclip");
    GstCaps *caps = gst_caps_from_string("video/x-raw");
    gst_element_class_add_pad_template(ec, gst_pad_template_new("sink", GST_PAD_SINK, GST_PAD_ALWAYS, caps));
    gst_element_class_add_pad_template(ec, gst_pad_template_new("src", GST_PAD_SRC, GST_PAD_ALWAYS, caps));
    gst_caps_unref(caps);
}

static void gst_clip_init(GstClip *self)
{
    (void)self;
}
