/* gstclipplugin.c: what registering the plugin does, shared by the shared
 * plugin and static registration. */
#include "gstclipplugin.h"

#include "gstclip.h"
#include "gstclipmeta_private.h"
#include "gstclipoverlay.h"

gboolean gst_clip_plugin_init(GstPlugin *plugin)
{
    gst_clip_meta_register();
    gboolean ok = GST_ELEMENT_REGISTER(clip, plugin);
    ok |= GST_ELEMENT_REGISTER(clipoverlay, plugin);
    return ok;
}

gboolean gst_clip_register_static(void)
{
    return gst_plugin_register_static(GST_VERSION_MAJOR, GST_VERSION_MINOR, "vkclip-builtin",
                                      "CLIP zero-shot video tagging on Vulkan compute (built in)",
                                      gst_clip_plugin_init, VERSION, "MIT", "vkclip", GST_PACKAGE_NAME,
                                      GST_PACKAGE_ORIGIN);
}
