/* image_png: PNG -> RGB8 with libpng, matching Pillow's convert("RGB").
 *
 * Pillow keeps the high byte of 16-bit samples, except 16-bit grey, which it
 * opens as 32-bit integers and clips to 255 on conversion. Palette indices
 * past the end of PLTE read Pillow's default grey ramp (i, i, i). Alpha and
 * tRNS are dropped without blending; gAMA/sRGB/iCCP are ignored. */
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "image/image_decoders.h"

typedef struct png_reader {
    const unsigned char *data;
    size_t size, pos;
    const char *name;
    errbuf *err;
    rgb_image *img;
    png_structp png;
    png_infop info;
} png_reader;

static void png_fail(png_structp png, png_const_charp msg)
{
    png_reader *r = png_get_error_ptr(png);
    errbuf_set(r->err, "%s: bad PNG: %s", r->name, msg);
    png_longjmp(png, 1);
}

/* libpng warns about things Pillow accepts silently (bad iCCP, ...). */
static void png_ignore_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void png_read_memory(png_structp png, png_bytep out, png_size_t len)
{
    png_reader *r = png_get_io_ptr(png);
    if (len > r->size - r->pos)
        png_error(png, "file is truncated");
    memcpy(out, r->data + r->pos, len);
    r->pos += len;
}

/* The layout libpng delivers rows in, chosen by png_setup_transforms. */
enum png_source { SOURCE_RGB8, SOURCE_INDEX8, SOURCE_GREY16 };

static enum png_source png_setup_transforms(png_structp png, png_infop info)
{
    int depth = png_get_bit_depth(png, info);
    int type = png_get_color_type(png, info);
    if (type == PNG_COLOR_TYPE_PALETTE) {
        png_set_packing(png); /* 1/2/4-bit indices -> one byte each */
        return SOURCE_INDEX8;
    }
    if (type == PNG_COLOR_TYPE_GRAY && depth == 16)
        return SOURCE_GREY16;
    if (depth == 16)
        png_set_strip_16(png); /* keeps the high byte, as Pillow */
    if (!(type & PNG_COLOR_MASK_COLOR))
        png_set_gray_to_rgb(png); /* also scales 1/2/4-bit grey to 8 bits */
    if (type & PNG_COLOR_MASK_ALPHA)
        png_set_strip_alpha(png);
    /* No png_set_expand/png_set_tRNS_to_alpha: tRNS must not add alpha. */
    return SOURCE_RGB8;
}

/* Palette as Pillow holds it: a grey ramp overwritten by the PLTE entries. */
static void png_pillow_palette(png_structp png, png_infop info, unsigned char lut[256][3])
{
    for (int i = 0; i < 256; i++)
        lut[i][0] = lut[i][1] = lut[i][2] = (unsigned char)i;
    png_colorp plte = NULL;
    int count = 0;
    if (png_get_PLTE(png, info, &plte, &count) == PNG_INFO_PLTE) {
        for (int i = 0; i < count && i < 256; i++) {
            lut[i][0] = plte[i].red;
            lut[i][1] = plte[i].green;
            lut[i][2] = plte[i].blue;
        }
    }
}

/* Expand samples stored at the tail of the pixel buffer into RGB, front to
 * back. A source pixel of s <= 3 bytes at (3 - s) * n + s * p is read before
 * RGB pixel p (at 3 * p) is written, and that write ends before source pixel
 * p + 1 starts, so the expansion is safe in place. */
static void png_expand_tail(rgb_image *img, enum png_source source,
                            const unsigned char lut[256][3])
{
    size_t n = (size_t)img->width * img->height;
    unsigned char *out = img->pixels;
    if (source == SOURCE_INDEX8) {
        const unsigned char *in = img->pixels + 2 * n;
        for (size_t p = 0; p < n; p++) {
            const unsigned char *c = lut[in[p]];
            out[3 * p] = c[0];
            out[3 * p + 1] = c[1];
            out[3 * p + 2] = c[2];
        }
    } else {
        const unsigned char *in = img->pixels + n;
        for (size_t p = 0; p < n; p++) {
            unsigned char v = in[2 * p] ? 255 : in[2 * p + 1]; /* big-endian, clip */
            out[3 * p] = out[3 * p + 1] = out[3 * p + 2] = v;
        }
    }
}

/* Everything that may longjmp happens here; r lives in the caller's frame,
 * so what it records survives an error. */
static bool png_decode_guarded(png_reader *r)
{
    if (setjmp(png_jmpbuf(r->png)))
        return false;
    png_set_read_fn(r->png, r, png_read_memory);
    /* Any bad CRC is an error; skip the ancillary chunks Pillow ignores. */
    png_set_crc_action(r->png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
    png_set_keep_unknown_chunks(r->png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
    png_set_user_limits(r->png, 0x7fffffff, 0x7fffffff);
    png_read_info(r->png, r->info);

    png_uint_32 width = png_get_image_width(r->png, r->info);
    png_uint_32 height = png_get_image_height(r->png, r->info);
    if (!rgb_image_alloc(r->img, width, height, r->name, r->err))
        return false;
    enum png_source source = png_setup_transforms(r->png, r->info);
    int passes = png_set_interlace_handling(r->png);
    png_read_update_info(r->png, r->info);

    size_t source_bytes = source == SOURCE_RGB8 ? 3 : source == SOURCE_INDEX8 ? 1 : 2;
    size_t row_bytes = source_bytes * width;
    if (png_get_rowbytes(r->png, r->info) != row_bytes) /* never expected */
        return errbuf_set(r->err, "%s: bad PNG: unexpected row size", r->name);
    unsigned char *rows = r->img->pixels + (3 - source_bytes) * (size_t)width * height;
    /* Each pass visits every row; libpng fills in that pass's pixels. */
    for (int pass = 0; pass < passes; pass++)
        for (png_uint_32 y = 0; y < height; y++)
            png_read_row(r->png, rows + y * row_bytes, NULL);

    if (source != SOURCE_RGB8) {
        unsigned char lut[256][3] = {{0}};
        if (source == SOURCE_INDEX8)
            png_pillow_palette(r->png, r->info, lut);
        png_expand_tail(r->img, source, lut);
    }
    /* No png_read_end: like Pillow, accept a file that ends after the image
     * data (a missing IEND). */
    return true;
}

bool image_decode_png(rgb_image *img, const unsigned char *data, size_t size,
                      const char *name, errbuf *err)
{
    png_reader r = {.data = data, .size = size, .name = name, .err = err, .img = img};
    r.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r, png_fail, png_ignore_warning);
    if (r.png)
        r.info = png_create_info_struct(r.png);
    if (!r.png || !r.info) {
        png_destroy_read_struct(&r.png, NULL, NULL);
        return errbuf_set(err, "%s: out of memory starting libpng", name);
    }
    bool ok = png_decode_guarded(&r);
    png_destroy_read_struct(&r.png, &r.info, NULL);
    if (!ok)
        rgb_image_free(img);
    return ok;
}
