/* gstclipplugin.h: the plugin's elements and meta, registered either by the
 * shared plugin (plugin.c) or, inside a program, as a static plugin, so that
 * the program runs the very element it was built with whatever else is
 * installed (the vkclip indexer does). */
#ifndef GST_CLIP_PLUGIN_H
#define GST_CLIP_PLUGIN_H

#include <gst/gst.h>

G_BEGIN_DECLS

gboolean gst_clip_plugin_init(GstPlugin *plugin);
/* After gst_init: registers `clip` and `clipoverlay` in this process, in
 * place of any installed copy. Returns FALSE if GStreamer refused. */
gboolean gst_clip_register_static(void);

G_END_DECLS

#endif
