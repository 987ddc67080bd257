/* image: decoding image files to RGB8 exactly as Pillow's
 * Image.open(path).convert("RGB") does (PNG via libpng, JPEG via
 * libjpeg-turbo's own RGB output with its default accurate integer IDCT and
 * fancy upsampling). Alpha is dropped without blending; grey and palette
 * images are expanded. */
#ifndef VKCLIP_IMAGE_H
#define VKCLIP_IMAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/errbuf.h"

typedef struct rgb_image {
    int width, height;
    unsigned char *pixels; /* RGB8, rows of 3*width bytes, top row first */
} rgb_image;

/* The format is detected from the content, not the file name. */
bool rgb_image_load(rgb_image *img, const char *path, errbuf *err);
bool rgb_image_decode(rgb_image *img, const void *data, size_t size,
                      const char *name, errbuf *err);
void rgb_image_free(rgb_image *img);

#endif
