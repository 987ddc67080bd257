/* gstclipmodels.h: models shared by every `clip` element of a process.
 *
 * Elements that name the same model directory, device and precision share
 * one loaded model (and all elements on a device share the device), so ten
 * streams tagged with one model cost one copy of its weights, as DL
 * Streamer's model-instance-id does, without the user naming instances. */
#ifndef GST_CLIP_MODELS_H
#define GST_CLIP_MODELS_H

#include <glib.h>

#include "vkclip.h"

G_BEGIN_DECLS

typedef struct GstClipSharedModel GstClipSharedModel;

/* Loads the model or takes another reference to the one already loaded.
 * device: a Vulkan device index or VKCLIP_DEVICE_BEST, _CPU or _VULKAN;
 * threads: the CPU backend's (0: the default), which tells CPU devices
 * apart. On failure returns NULL and sets *error to the engine's one-line
 * message (g_free it). */
GstClipSharedModel *gst_clip_models_acquire(const gchar *dir, gint device, gint threads, vkclip_precision precision,
                                            gchar **error);
void gst_clip_models_release(GstClipSharedModel *shared);
vkclip_model *gst_clip_shared_model_get(GstClipSharedModel *shared);
/* How many elements hold this model (for tests and the debug log). */
guint gst_clip_shared_model_users(GstClipSharedModel *shared);

G_END_DECLS

#endif
