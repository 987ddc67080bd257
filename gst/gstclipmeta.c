/* gstclipmeta.c: registers the custom meta that carries the `clip`
 * element's results (its fields are described in gstclipmeta.h). */
#include "gstclipmeta_private.h"

#include <gst/video/video.h>

void gst_clip_meta_register(void)
{
    static gsize registered = 0;
    if (g_once_init_enter(&registered)) {
        /* Tags say what a transform may keep: the results describe the
         * picture's content, so they survive conversions that keep it. */
        static const gchar *tags[] = {GST_META_TAG_VIDEO_STR, NULL};
        gst_meta_register_custom(GST_CLIP_META_NAME, tags, NULL, NULL, NULL);
        g_once_init_leave(&registered, 1);
    }
}
