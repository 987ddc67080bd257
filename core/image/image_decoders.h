/* image_decoders: the per-format decoders behind rgb_image_decode, and the
 * size check they share. Internal to core/image. */
#ifndef VKCLIP_IMAGE_DECODERS_H
#define VKCLIP_IMAGE_DECODERS_H

#include <stdbool.h>
#include <stddef.h>

#include "image/image.h"
#include "util/errbuf.h"

/* Larger images are refused before anything is allocated (2^28 pixels is
 * 768 MiB of RGB; no camera or video frame comes close). */
#define RGB_IMAGE_MAX_PIXELS ((size_t)1 << 28)

/* Check the declared size and allocate img->pixels (3 * width * height
 * bytes, uninitialised). Fails with "name: ..." on absurd sizes or OOM. */
bool rgb_image_alloc(rgb_image *img, unsigned long width, unsigned long height,
                     const char *name, errbuf *err);

/* Each leaves img zeroed on failure; data starts with the format's magic. */
bool image_decode_png(rgb_image *img, const unsigned char *data, size_t size,
                      const char *name, errbuf *err);
bool image_decode_jpeg(rgb_image *img, const unsigned char *data, size_t size,
                       const char *name, errbuf *err);

#endif
