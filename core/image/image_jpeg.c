/* image_jpeg: JPEG -> RGB8 with libjpeg-turbo, matching Pillow's
 * convert("RGB"): libjpeg's own RGB output with its defaults (JDCT_ISLOW,
 * fancy upsampling), grey replicated, and four-channel files decoded to CMYK
 * and converted with Pillow's formula. EXIF orientation is not applied. */
#include <setjmp.h>
#include <stdio.h> /* jpeglib.h needs FILE */
#include <stdlib.h>

#include <jpeglib.h>
#include <jerror.h> /* after jpeglib.h: its message list depends on jconfig.h */

#include "image/image_decoders.h"

/* More scans than any encoder writes: a guard against crafted progressive
 * files that make libjpeg loop (libjpeg-turbo's own fuzzers use 500). */
#define JPEG_MAX_SCANS 500

/* libjpeg's own memory, beside the RGB output: a progressive (or otherwise
 * multi-scan) file keeps every DCT coefficient of the image, 2 bytes per
 * sample, allocated and zeroed before the first scan; a file of a few
 * hundred kilobytes of end-of-band runs would fill gigabytes. 1 GiB holds
 * 178,956,970 pixels of 4:4:4 colour, the size past which Pillow refuses
 * to open an image (twice Image.MAX_IMAGE_PIXELS); baseline files need
 * little whatever their size. */
#define JPEG_MAX_MEMORY ((long)1 << 30)

typedef struct jpeg_reader {
    struct jpeg_error_mgr jerr; /* first: cinfo->err points at the reader */
    struct jpeg_progress_mgr progress;
    struct jpeg_decompress_struct cinfo;
    jmp_buf on_error;
    const char *name;
    errbuf *err;
    rgb_image *img;
    unsigned char *cmyk_row;
} jpeg_reader;

static void jpeg_fail_with_message(j_common_ptr cinfo)
{
    jpeg_reader *r = (jpeg_reader *)cinfo->err;
    char msg[JMSG_LENGTH_MAX];
    cinfo->err->format_message(cinfo, msg);
    if (cinfo->err->msg_code == JERR_NO_BACKING_STORE) { /* past JPEG_MAX_MEMORY */
        j_decompress_ptr d = (j_decompress_ptr)cinfo;
        errbuf_set(r->err, "%s: JPEG too large to decode: a %ux%u %s file needs more than the %ld MiB "
                   "the decoder may use", r->name, (unsigned)d->image_width, (unsigned)d->image_height,
                   d->progressive_mode ? "progressive" : "multi-scan", JPEG_MAX_MEMORY >> 20);
    } else {
        errbuf_set(r->err, "%s: bad JPEG: %s", r->name, msg);
    }
    longjmp(r->on_error, 1);
}

/* Warnings that mean the image data is missing or damaged are errors:
 * libjpeg would otherwise pad with grey, where Pillow raises "image file is
 * truncated". Harmless ones (stray bytes before a marker, odd JFIF versions)
 * pass silently, as in Pillow. */
static void jpeg_on_message(j_common_ptr cinfo, int level)
{
    if (level >= 0)
        return; /* trace messages */
    switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:
        jpeg_fail_with_message(cinfo);
        break;
    default:
        cinfo->err->num_warnings++;
        break;
    }
}

static void jpeg_silent(j_common_ptr cinfo)
{
    (void)cinfo;
}

static void jpeg_limit_scans(j_common_ptr cinfo)
{
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > JPEG_MAX_SCANS) {
        jpeg_reader *r = (jpeg_reader *)cinfo->err;
        errbuf_set(r->err, "%s: bad JPEG: more than %d scans", r->name, JPEG_MAX_SCANS);
        longjmp(r->on_error, 1);
    }
}

/* Pillow opens four-channel JPEGs as Adobe-style inverted CMYK (c' = 255 - c)
 * and converts with R = K' - K' * C' / 255 (its MULDIV255 rounding), where
 * K' = 255 - (255 - k) = k is libjpeg's own value. */
static void cmyk_row_to_rgb(const unsigned char *in, unsigned char *out, size_t width)
{
    for (size_t x = 0; x < width; x++, in += 4, out += 3) {
        unsigned k = in[3];
        for (int c = 0; c < 3; c++) {
            unsigned t = (255u - in[c]) * k + 128;
            out[c] = (unsigned char)(k - (((t >> 8) + t) >> 8));
        }
    }
}

/* Everything that may longjmp happens here; r lives in the caller's frame. */
static bool jpeg_decode_guarded(jpeg_reader *r, const unsigned char *data, size_t size)
{
    if (setjmp(r->on_error))
        return false;
    j_decompress_ptr cinfo = &r->cinfo;
    jpeg_create_decompress(cinfo); /* keeps cinfo->err, clears the rest */
    cinfo->mem->max_memory_to_use = JPEG_MAX_MEMORY; /* after: JPEGMEM in the environment is ignored */
    cinfo->progress = &r->progress;
    jpeg_mem_src(cinfo, data, (unsigned long)size);
    jpeg_read_header(cinfo, TRUE);
    if (!rgb_image_alloc(r->img, cinfo->image_width, cinfo->image_height, r->name, r->err))
        return false;

    bool cmyk = cinfo->num_components == 4;
    cinfo->out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(cinfo);
    if (cinfo->output_width != cinfo->image_width ||
        cinfo->output_height != cinfo->image_height ||
        cinfo->output_components != (cmyk ? 4 : 3))
        return errbuf_set(r->err, "%s: bad JPEG: unexpected output layout", r->name);

    size_t width = cinfo->output_width;
    if (cmyk && !(r->cmyk_row = malloc(width * 4)))
        return errbuf_set(r->err, "%s: out of memory", r->name);
    while (cinfo->output_scanline < cinfo->output_height) {
        unsigned char *row = r->img->pixels + (size_t)cinfo->output_scanline * width * 3;
        JSAMPROW target = cmyk ? r->cmyk_row : row;
        if (jpeg_read_scanlines(cinfo, &target, 1) != 1)
            return errbuf_set(r->err, "%s: bad JPEG: decoder stalled", r->name);
        if (cmyk)
            cmyk_row_to_rgb(r->cmyk_row, row, width);
    }
    /* Reads on to EOI, so a file cut after the last row still fails. */
    jpeg_finish_decompress(cinfo);
    return true;
}

bool image_decode_jpeg(rgb_image *img, const unsigned char *data, size_t size,
                       const char *name, errbuf *err)
{
    jpeg_reader r = {.name = name, .err = err, .img = img};
    r.cinfo.err = jpeg_std_error(&r.jerr);
    r.jerr.error_exit = jpeg_fail_with_message;
    r.jerr.emit_message = jpeg_on_message;
    r.jerr.output_message = jpeg_silent;
    r.progress.progress_monitor = jpeg_limit_scans;
    bool ok = jpeg_decode_guarded(&r, data, size);
    jpeg_destroy_decompress(&r.cinfo); /* safe even if creation failed */
    free(r.cmyk_row);
    if (!ok)
        rgb_image_free(img);
    return ok;
}
