/* plugin.c: the vkclip GStreamer plugin: `clip` (zero-shot CLIP labels on
 * video frames) and `clipoverlay` (draws them). */
#include <gst/gst.h>

#include "gstclip.h"
#include "gstclipmeta_private.h"
#include "gstclipoverlay.h"

static gboolean plugin_init(GstPlugin *plugin)
{
    gst_clip_meta_register();
    gboolean ok = GST_ELEMENT_REGISTER(clip, plugin);
    ok |= GST_ELEMENT_REGISTER(clipoverlay, plugin);
    return ok;
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, clip,
                  "CLIP zero-shot video tagging on Vulkan compute", plugin_init, VERSION, "MIT",
                  GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
