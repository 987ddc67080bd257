/* thumbnail: small JPEG pictures of a video at given timestamps (for the
 * report), decoded by GStreamer: the first frame at or after each time,
 * scaled to a width, as base64 for a data: URL. */
#ifndef VKCLIP_THUMBNAIL_H
#define VKCLIP_THUMBNAIL_H

#include <stddef.h>
#include <stdint.h>

/* out[i] (g_free each) is the base64 JPEG at pts_ns[i], or NULL where that
 * frame could not be had. Returns 0, or -1 when the video cannot be opened
 * at all (reason in err). GStreamer must be initialised. */
int thumbnails_grab(const char *path, const int64_t *pts_ns, int n, int width, char **out, char *err, size_t cap);

#endif
