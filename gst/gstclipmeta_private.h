/* gstclipmeta_private.h: what the plugin itself needs of the result meta. */
#ifndef GST_CLIP_META_PRIVATE_H
#define GST_CLIP_META_PRIVATE_H

#include "gstclipmeta.h"

G_BEGIN_DECLS

/* Registers "GstClipMeta" once per process (safe to call again). */
void gst_clip_meta_register(void);

G_END_DECLS

#endif
