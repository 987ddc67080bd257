/* plugin.c: the vkclip GStreamer plugin: `clip` (zero-shot CLIP labels on
 * video frames) and `clipoverlay` (draws them). */
#include <gst/gst.h>

#include "gstclipplugin.h"

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, clip,
                  "CLIP zero-shot video tagging on Vulkan compute", gst_clip_plugin_init, VERSION, "MIT",
                  GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
