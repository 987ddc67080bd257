/* image: format detection and the public entry points; the decoding itself
 * lives in image_png.c and image_jpeg.c. */
#include "image/image.h"

#include <stdlib.h>
#include <string.h>

#include "image/image_decoders.h"
#include "util/mapped_file.h"

static bool starts_with(const unsigned char *data, size_t size,
                        const char *magic, size_t len)
{
    return size >= len && memcmp(data, magic, len) == 0;
}

bool rgb_image_alloc(rgb_image *img, unsigned long width, unsigned long height,
                     const char *name, errbuf *err)
{
    if (width == 0 || height == 0)
        return errbuf_set(err, "%s: image has no pixels (%lux%lu)", name, width, height);
    /* Compare without multiplying first so that nothing can overflow. */
    if (width > RGB_IMAGE_MAX_PIXELS || height > RGB_IMAGE_MAX_PIXELS / width)
        return errbuf_set(err, "%s: image too large (%lux%lu, limit %zu pixels)",
                          name, width, height, RGB_IMAGE_MAX_PIXELS);
    img->pixels = malloc((size_t)width * height * 3);
    if (!img->pixels)
        return errbuf_set(err, "%s: out of memory for a %lux%lu image", name, width, height);
    img->width = (int)width;
    img->height = (int)height;
    return true;
}

bool rgb_image_decode(rgb_image *img, const void *data, size_t size,
                      const char *name, errbuf *err)
{
    const unsigned char *bytes = data;
    img->width = img->height = 0;
    img->pixels = NULL;
    if (size == 0)
        return errbuf_set(err, "%s: empty file", name);
    if (starts_with(bytes, size, "\x89PNG\r\n\x1a\n", 8))
        return image_decode_png(img, bytes, size, name, err);
    /* SOI followed by the start of any marker, as Pillow checks it. */
    if (starts_with(bytes, size, "\xff\xd8\xff", 3))
        return image_decode_jpeg(img, bytes, size, name, err);
    return errbuf_set(err, "%s: unsupported image format (only PNG and JPEG)", name);
}

bool rgb_image_load(rgb_image *img, const char *path, errbuf *err)
{
    img->width = img->height = 0;
    img->pixels = NULL;
    mapped_file mf;
    if (!mapped_file_open(&mf, path, err))
        return false;
    bool ok = rgb_image_decode(img, mf.data, mf.size, path, err);
    mapped_file_close(&mf);
    return ok;
}

void rgb_image_free(rgb_image *img)
{
    if (!img)
        return;
    free(img->pixels);
    img->pixels = NULL;
    img->width = img->height = 0;
}
