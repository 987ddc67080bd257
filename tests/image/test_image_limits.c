/* test_image_limits: the JPEG decoder's memory limit. A progressive file
 * keeps all DCT coefficients of the image in libjpeg's memory (2 bytes a
 * sample, zeroed before the first scan), so a few hundred kilobytes of
 * end-of-band runs could claim gigabytes; past 1 GiB the file is refused
 * before anything is read beyond its header. Baseline files of any allowed
 * size, and progressive ones under the limit, are not refused for it.
 *
 * The files are tiny JPEGs written here with libjpeg, their frame header
 * patched to the size under test; no Python needed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "../check.h"
#include "image/image.h"

/* A 16x16 JPEG in memory: progressive or baseline, 4:4:4 or 4:2:0. */
static unsigned char *tiny_jpeg(bool progressive, bool subsampled, unsigned long *size)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    unsigned char *out = NULL;
    jpeg_mem_dest(&c, &out, size);
    c.image_width = c.image_height = 16;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    c.comp_info[0].h_samp_factor = c.comp_info[0].v_samp_factor = subsampled ? 2 : 1;
    if (progressive)
        jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    unsigned char row[16 * 3];
    for (int x = 0; x < 16 * 3; x++)
        row[x] = (unsigned char)(x * 5);
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return out;
}

/* Sets the size in the first SOF0/SOF2 marker. */
static bool patch_size(unsigned char *d, unsigned long n, unsigned width, unsigned height)
{
    for (unsigned long i = 2; i + 9 < n; i++)
        if (d[i] == 0xFF && (d[i + 1] == 0xC0 || d[i + 1] == 0xC2)) {
            d[i + 5] = (unsigned char)(height >> 8);
            d[i + 6] = (unsigned char)height;
            d[i + 7] = (unsigned char)(width >> 8);
            d[i + 8] = (unsigned char)width;
            return true;
        }
    return false;
}

static void check_case(const char *name, bool progressive, bool subsampled, unsigned w, unsigned h,
                       bool expect_limit)
{
    unsigned long n = 0;
    unsigned char *d = tiny_jpeg(progressive, subsampled, &n);
    CHECK(d && patch_size(d, n, w, h));
    rgb_image img;
    errbuf e = {{0}};
    bool ok = rgb_image_decode(&img, d, n, name, &e);
    /* The patched size leaves the scans short of data: always an error. */
    CHECKF(!ok && !img.pixels && img.width == 0 && img.height == 0, "%s decoded", name);
    bool limit = strstr(e.msg, "JPEG too large to decode") && strstr(e.msg, "1024 MiB");
    char size[32];
    snprintf(size, sizeof size, "%ux%u", w, h);
    CHECKF(strncmp(e.msg, name, strlen(name)) == 0, "message '%s' does not start with the name", e.msg);
    if (expect_limit)
        CHECKF(limit && strstr(e.msg, size) && strstr(e.msg, "progressive"), "%s: want the memory limit, got '%s'",
               name, e.msg);
    else
        CHECKF(!limit, "%s: refused for memory: '%s'", name, e.msg);
    printf("%s: %s\n", name, e.msg);
    free(d);
}

int main(void)
{
    /* 16384 x 16384 x 3 samples x 2 bytes = 1.5 GiB of coefficients. */
    check_case("progressive-444-16384.jpg", true, false, 16384, 16384, true);
    /* 4:2:0: 16384^2 * 1.5 * 2 = 768 MiB, under the limit. */
    check_case("progressive-420-16384.jpg", true, true, 16384, 16384, false);
    /* Baseline: one pass, no coefficient buffer. */
    check_case("baseline-444-16384.jpg", false, false, 16384, 16384, false);
    return check_exit();
}
