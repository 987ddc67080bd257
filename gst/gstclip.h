/* gstclip.h: the `clip` element. */
#ifndef GST_CLIP_H
#define GST_CLIP_H

#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_CLIP (gst_clip_get_type())
G_DECLARE_FINAL_TYPE(GstClip, gst_clip, GST, CLIP, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE(clip);

G_END_DECLS

#endif
