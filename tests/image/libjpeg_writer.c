#include "libjpeg_writer.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

enum { WIDTH = 203, HEIGHT = 157 }; /* not multiples of any MCU size */

typedef struct jpeg_variant {
    const char *name;
    J_COLOR_SPACE in_space, jpeg_space;
    int sampling[3][2]; /* h, v per component; {0, 0} keeps the default */
    int restart_rows, restart_mcus;
    bool progressive, arithmetic;
} jpeg_variant;

static const jpeg_variant VARIANTS[] = {
    {"c_restart_rows_420.jpg", JCS_RGB, JCS_YCbCr, {{2, 2}, {1, 1}, {1, 1}}, 1, 0, false, false},
    {"c_restart_mcus_444.jpg", JCS_RGB, JCS_YCbCr, {{1, 1}, {1, 1}, {1, 1}}, 0, 7, false, false},
    {"c_restart_progressive.jpg", JCS_RGB, JCS_YCbCr, {{2, 1}, {1, 1}, {1, 1}}, 0, 5, true, false},
    {"c_restart_grey.jpg", JCS_GRAYSCALE, JCS_GRAYSCALE, {{0, 0}}, 0, 1, false, false},
    {"c_440.jpg", JCS_RGB, JCS_YCbCr, {{1, 2}, {1, 1}, {1, 1}}, 0, 0, false, false},
    {"c_411.jpg", JCS_RGB, JCS_YCbCr, {{4, 1}, {1, 1}, {1, 1}}, 0, 0, false, false},
    {"c_mixed_sampling.jpg", JCS_RGB, JCS_YCbCr, {{2, 2}, {1, 1}, {2, 1}}, 0, 0, false, false},
    {"c_rgb_no_transform.jpg", JCS_RGB, JCS_RGB, {{0, 0}}, 0, 0, false, false},
    {"c_ycck.jpg", JCS_CMYK, JCS_YCCK, {{0, 0}}, 0, 0, false, false},
    {"c_ycck_progressive.jpg", JCS_CMYK, JCS_YCCK, {{0, 0}}, 0, 0, true, false},
    {"c_cmyk.jpg", JCS_CMYK, JCS_CMYK, {{0, 0}}, 0, 3, false, false},
    {"c_arithmetic.jpg", JCS_RGB, JCS_YCbCr, {{2, 2}, {1, 1}, {1, 1}}, 0, 0, false, true},
    {"c_arithmetic_progressive.jpg", JCS_RGB, JCS_YCbCr, {{2, 2}, {1, 1}, {1, 1}}, 0, 0, true, true},
};

/* Sharp-edged content: noise, solid blocks and one-pixel lines. */
static void make_pixels(unsigned char *px, int channels, unsigned seed)
{
    unsigned s = seed * 2654435761u + 1;
    for (int y = 0; y < HEIGHT; y++) {
        for (int x = 0; x < WIDTH; x++) {
            unsigned char *p = px + ((size_t)y * WIDTH + x) * channels;
            for (int c = 0; c < channels; c++) {
                s ^= s << 13, s ^= s >> 17, s ^= s << 5;
                if (x % 9 == 0)
                    p[c] = c == 0 ? 255 : 0;
                else if ((x / 23 + y / 17) % 3 == 0)
                    p[c] = (unsigned char)(s >> 24);
                else
                    p[c] = (unsigned char)(((x / 23) * 71 + (y / 17) * 37 + c * 101) & 255);
            }
        }
    }
}

typedef struct writer {
    struct jpeg_error_mgr jerr; /* first, so error_exit can find the writer */
    jmp_buf on_error;
    struct jpeg_compress_struct cinfo;
    FILE *file;
    unsigned char *pixels;
} writer;

static void writer_error_exit(j_common_ptr cinfo)
{
    longjmp(((writer *)cinfo->err)->on_error, 1);
}

static bool write_guarded(writer *w, const jpeg_variant *v, const char *path)
{
    if (setjmp(w->on_error))
        return false;
    struct jpeg_compress_struct *c = &w->cinfo;
    jpeg_create_compress(c);
    if (!(w->file = fopen(path, "wb")))
        return false;
    int channels = v->in_space == JCS_CMYK ? 4 : v->in_space == JCS_GRAYSCALE ? 1 : 3;
    if (!(w->pixels = malloc((size_t)WIDTH * HEIGHT * channels)))
        return false;
    make_pixels(w->pixels, channels, (unsigned)(v - VARIANTS) + 1);
    jpeg_stdio_dest(c, w->file);
    c->image_width = WIDTH;
    c->image_height = HEIGHT;
    c->input_components = channels;
    c->in_color_space = v->in_space;
    jpeg_set_defaults(c);
    jpeg_set_colorspace(c, v->jpeg_space);
    jpeg_set_quality(c, 85, TRUE);
    for (int i = 0; i < 3 && v->sampling[i][0]; i++) {
        c->comp_info[i].h_samp_factor = v->sampling[i][0];
        c->comp_info[i].v_samp_factor = v->sampling[i][1];
    }
    c->restart_in_rows = v->restart_rows;
    c->restart_interval = (unsigned)v->restart_mcus;
    c->arith_code = v->arithmetic;
    if (v->progressive)
        jpeg_simple_progression(c);
    jpeg_start_compress(c, TRUE);
    while (c->next_scanline < c->image_height) {
        JSAMPROW row = w->pixels + (size_t)c->next_scanline * WIDTH * channels;
        jpeg_write_scanlines(c, &row, 1);
    }
    jpeg_finish_compress(c);
    return true;
}

bool write_libjpeg_test_images(const char *dir, errbuf *err)
{
    for (size_t i = 0; i < sizeof VARIANTS / sizeof VARIANTS[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, VARIANTS[i].name);
        writer w;
        memset(&w, 0, sizeof w);
        w.cinfo.err = jpeg_std_error(&w.jerr);
        w.jerr.error_exit = writer_error_exit;
        bool ok = write_guarded(&w, &VARIANTS[i], path);
        char msg[JMSG_LENGTH_MAX] = "cannot write";
        if (!ok && w.jerr.msg_code)
            w.jerr.format_message((j_common_ptr)&w.cinfo, msg);
        jpeg_destroy_compress(&w.cinfo);
        if (w.file && fclose(w.file) != 0)
            ok = false;
        free(w.pixels);
        if (!ok)
            return errbuf_set(err, "%s: %s", path, msg);
    }
    return true;
}
