/* test_frames: preprocessing of video-style frames (the pixel formats and
 * strides a GStreamer pipeline delivers), through the public API.
 *
 * - Packed RGB formats (RGB, BGR, RGBA, BGRx, xRGB, ...) with padded strides:
 *   the fixture image's preprocessed tensor made by Pillow
 *   (chelsea.png.pixels.f32), to the fixture README's tolerance.
 * - GRAY8, I420 and NV12 (BT.601 and BT.709, limited and full range): the test
 *   converts the image to Y'CbCr itself, then back to RGB with the standard's
 *   equations in double precision; preprocessing the YUV frame must equal
 *   preprocessing that RGB image (whose path the first part checks against
 *   Pillow), within one level before resampling. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "image/image.h"
#include "vkclip.h"

#define SIDE 224
#define PLANE (SIDE * SIDE)

static const float stdev[3] = {0.26862954f, 0.26130258f, 0.27577711f};

static float *read_floats(const char *path, size_t n)
{
    FILE *f = fopen(path, "rb");
    float *v = malloc(n * sizeof *v);
    if (!f || !v || fread(v, sizeof *v, n, f) != n) {
        free(v);
        v = NULL;
    }
    if (f)
        fclose(f);
    return v;
}

/* Fractions of values within 1 and 3 levels (in [0,1] units: mean/std undone). */
static void compare(const char *what, const float *got, const float *want, double min_within1, double max_levels)
{
    size_t within1 = 0;
    double worst = 0;
    for (size_t i = 0; i < 3 * (size_t)PLANE; i++) {
        int c = (int)(i / PLANE);
        double d = fabs(((double)got[i] - want[i]) * stdev[c]) * 255.0;
        within1 += d <= 1.0 + 1e-4;
        if (d > worst)
            worst = d;
    }
    double frac = (double)within1 / (3.0 * PLANE);
    printf("%-34s within 1 level: %.5f  worst: %.3f levels\n", what, frac, worst);
    CHECKF(frac >= min_within1, "%s: %.5f within 1 level", what, frac);
    CHECKF(worst <= max_levels + 1e-4, "%s: %.3f levels off", what, worst);
}

typedef struct packed_case {
    vkclip_pixel_format format;
    int bytes;
    int r, g, b; /* byte offsets in a pixel */
    const char *name;
} packed_case;

static const packed_case packed[] = {
    {VKCLIP_FORMAT_RGB, 3, 0, 1, 2, "RGB"},   {VKCLIP_FORMAT_BGR, 3, 2, 1, 0, "BGR"},
    {VKCLIP_FORMAT_RGBA, 4, 0, 1, 2, "RGBA"}, {VKCLIP_FORMAT_BGRA, 4, 2, 1, 0, "BGRA"},
    {VKCLIP_FORMAT_ARGB, 4, 1, 2, 3, "ARGB"}, {VKCLIP_FORMAT_ABGR, 4, 3, 2, 1, "ABGR"},
    {VKCLIP_FORMAT_RGBX, 4, 0, 1, 2, "RGBx"}, {VKCLIP_FORMAT_BGRX, 4, 2, 1, 0, "BGRx"},
    {VKCLIP_FORMAT_XRGB, 4, 1, 2, 3, "xRGB"}, {VKCLIP_FORMAT_XBGR, 4, 3, 2, 1, "xBGR"},
};

static void check_packed(vkclip_model *m, const rgb_image *img, const float *want, float *got)
{
    for (size_t k = 0; k < sizeof packed / sizeof packed[0]; k++) {
        const packed_case *p = &packed[k];
        int stride = img->width * p->bytes + 13; /* rows not packed tight */
        uint8_t *buf = calloc((size_t)stride * img->height, 1);
        for (int y = 0; y < img->height; y++)
            for (int x = 0; x < img->width; x++) {
                const uint8_t *s = img->pixels + ((size_t)y * img->width + x) * 3;
                uint8_t *d = buf + (size_t)y * stride + (size_t)x * p->bytes;
                if (p->bytes == 4)
                    memset(d, 0x5a, 4); /* alpha / padding must be ignored */
                d[p->r] = s[0];
                d[p->g] = s[1];
                d[p->b] = s[2];
            }
        vkclip_frame f = {.format = p->format, .width = img->width, .height = img->height};
        f.planes[0] = buf;
        f.strides[0] = stride;
        vkclip_error err;
        int rc = vkclip_preprocess(m, &f, got, &err);
        CHECKF(rc == 0, "%s: %s", p->name, err.message);
        if (rc == 0)
            compare(p->name, got, want, 0.99, 3.0);
        free(buf);
    }
}

/* BT.601 / BT.709 by their defining equations (Kr, Kb; 219 and 224 levels
 * in limited range), in double precision. */
typedef struct colorimetry {
    vkclip_colorimetry id;
    double kr, kb;
    bool full;
    const char *name;
} colorimetry;

static const colorimetry spaces[] = {
    {VKCLIP_BT601_LIMITED, 0.299, 0.114, false, "BT.601 limited"},
    {VKCLIP_BT601_FULL, 0.299, 0.114, true, "BT.601 full"},
    {VKCLIP_BT709_LIMITED, 0.2126, 0.0722, false, "BT.709 limited"},
    {VKCLIP_BT709_FULL, 0.2126, 0.0722, true, "BT.709 full"},
};

static uint8_t to_byte(double v)
{
    v = nearbyint(v);
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static void rgb_to_yuv(const colorimetry *c, const uint8_t *rgb, double *y, double *u, double *v)
{
    double r = rgb[0] / 255.0, g = rgb[1] / 255.0, b = rgb[2] / 255.0;
    double ey = c->kr * r + (1 - c->kr - c->kb) * g + c->kb * b;
    double pb = (b - ey) / (2 * (1 - c->kb)), pr = (r - ey) / (2 * (1 - c->kr));
    *y = c->full ? 255 * ey : 16 + 219 * ey;
    *u = 128 + (c->full ? 255 : 224) * pb;
    *v = 128 + (c->full ? 255 : 224) * pr;
}

static void yuv_to_rgb(const colorimetry *c, int Y, int U, int V, uint8_t *rgb)
{
    double ey = c->full ? Y / 255.0 : (Y - 16) / 219.0;
    double pb = (U - 128) / (c->full ? 255.0 : 224.0), pr = (V - 128) / (c->full ? 255.0 : 224.0);
    double r = ey + 2 * (1 - c->kr) * pr, b = ey + 2 * (1 - c->kb) * pb;
    double g = (ey - c->kr * r - c->kb * b) / (1 - c->kr - c->kb);
    rgb[0] = to_byte(255 * r);
    rgb[1] = to_byte(255 * g);
    rgb[2] = to_byte(255 * b);
}

static void preprocess_rgb(vkclip_model *m, const uint8_t *rgb, int w, int h, float *out)
{
    vkclip_frame f = {.format = VKCLIP_FORMAT_RGB, .width = w, .height = h};
    f.planes[0] = rgb;
    f.strides[0] = 3 * w;
    vkclip_error err;
    CHECKF(vkclip_preprocess(m, &f, out, &err) == 0, "RGB: %s", err.message);
}

/* One frame in I420 or NV12 (chroma subsampled 2x2 by averaging), and the RGB
 * image its samples stand for (each pixel with its block's chroma). */
static void check_yuv(vkclip_model *m, const rgb_image *img, const colorimetry *c, bool nv12, float *got,
                      float *want)
{
    int w = img->width, h = img->height, cw = (w + 1) / 2, ch = (h + 1) / 2;
    int ystride = w + 7, cstride = (nv12 ? 2 * cw : cw) + 5;
    uint8_t *Yp = calloc((size_t)ystride * h, 1), *Up = calloc((size_t)cstride * ch, 1);
    uint8_t *Vp = calloc((size_t)cstride * ch, 1), *rgb = malloc((size_t)w * h * 3);
    for (int by = 0; by < ch; by++)
        for (int bx = 0; bx < cw; bx++) {
            double su = 0, sv = 0;
            int n = 0;
            for (int y = 2 * by; y < 2 * by + 2 && y < h; y++)
                for (int x = 2 * bx; x < 2 * bx + 2 && x < w; x++) {
                    double Y, U, V;
                    rgb_to_yuv(c, img->pixels + ((size_t)y * w + x) * 3, &Y, &U, &V);
                    Yp[(size_t)y * ystride + x] = to_byte(Y);
                    su += U;
                    sv += V;
                    n++;
                }
            uint8_t U = to_byte(su / n), V = to_byte(sv / n);
            if (nv12) {
                Up[(size_t)by * cstride + 2 * bx] = U;
                Up[(size_t)by * cstride + 2 * bx + 1] = V;
            } else {
                Up[(size_t)by * cstride + bx] = U;
                Vp[(size_t)by * cstride + bx] = V;
            }
        }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t ci = (size_t)(y / 2) * cstride;
            int U = nv12 ? Up[ci + 2 * (x / 2)] : Up[ci + x / 2];
            int V = nv12 ? Up[ci + 2 * (x / 2) + 1] : Vp[ci + x / 2];
            yuv_to_rgb(c, Yp[(size_t)y * ystride + x], U, V, rgb + ((size_t)y * w + x) * 3);
        }
    vkclip_frame f = {.format = nv12 ? VKCLIP_FORMAT_NV12 : VKCLIP_FORMAT_I420, .width = w, .height = h,
                      .colorimetry = c->id};
    f.planes[0] = Yp;
    f.strides[0] = ystride;
    f.planes[1] = Up;
    f.strides[1] = cstride;
    f.planes[2] = Vp;
    f.strides[2] = cstride;
    vkclip_error err;
    char name[64];
    snprintf(name, sizeof name, "%s %s", nv12 ? "NV12" : "I420", c->name);
    int rc = vkclip_preprocess(m, &f, got, &err);
    CHECKF(rc == 0, "%s: %s", name, err.message);
    preprocess_rgb(m, rgb, w, h, want);
    /* The shader converts in fp32 and may round a half-way sample the other
     * way: one level before resampling at most. */
    if (rc == 0)
        compare(name, got, want, 0.99, 1.0);
    free(Yp);
    free(Up);
    free(Vp);
    free(rgb);
}

static void check_gray(vkclip_model *m, const rgb_image *img, float *got, float *want)
{
    int w = img->width, h = img->height;
    uint8_t *gray = malloc((size_t)w * h), *rgb = malloc((size_t)w * h * 3);
    for (size_t i = 0; i < (size_t)w * h; i++) {
        gray[i] = img->pixels[i * 3 + 1];
        memset(rgb + i * 3, gray[i], 3);
    }
    vkclip_frame f = {.format = VKCLIP_FORMAT_GRAY8, .width = w, .height = h};
    f.planes[0] = gray;
    f.strides[0] = w;
    vkclip_error err;
    int rc = vkclip_preprocess(m, &f, got, &err);
    CHECKF(rc == 0, "GRAY8: %s", err.message);
    preprocess_rgb(m, rgb, w, h, want);
    if (rc == 0)
        compare("GRAY8", got, want, 1.0, 0.0); /* the same bytes: the same output */
    free(gray);
    free(rgb);
}

int main(void)
{
    const char *fx = getenv("VKCLIP_FIXTURES");
    char path[4096];
    snprintf(path, sizeof path, "%s/clip-tiny-f32/chelsea.png.pixels.f32", fx ? fx : "");
    float *want_fixture = fx ? read_floats(path, 3 * (size_t)PLANE) : NULL;
    if (!want_fixture)
        SKIP("no fixtures (VKCLIP_FIXTURES='%s')", fx ? fx : "");
    rgb_image img;
    errbuf e = {{0}};
    snprintf(path, sizeof path, "%s/images/chelsea.png", fx);
    if (!rgb_image_load(&img, path, &e))
        SKIP("%s", e.msg);

    vkclip_error err;
    vkclip_device *dev = vkclip_device_open(NULL, &err);
    CHECKF(dev != NULL, "%s", err.message);
    snprintf(path, sizeof path, "%s/clip-tiny-f32", fx);
    vkclip_model *m = dev ? vkclip_model_load(dev, path, NULL, &err) : NULL;
    CHECKF(m != NULL, "%s", err.message);
    float *got = malloc(3 * (size_t)PLANE * sizeof *got), *want = malloc(3 * (size_t)PLANE * sizeof *want);
    if (m) {
        check_packed(m, &img, want_fixture, got);
        check_gray(m, &img, got, want);
        for (size_t k = 0; k < sizeof spaces / sizeof spaces[0]; k++) {
            check_yuv(m, &img, &spaces[k], false, got, want);
            check_yuv(m, &img, &spaces[k], true, got, want);
        }
        /* Bad frames: clear errors, no crash. */
        vkclip_frame bad = {.format = VKCLIP_FORMAT_I420, .width = 16, .height = 16};
        bad.planes[0] = img.pixels;
        bad.strides[0] = 16;
        CHECK(vkclip_preprocess(m, &bad, got, &err) != 0 && strstr(err.message, "plane 1 is missing"));
        vkclip_frame short_stride = {.format = VKCLIP_FORMAT_RGB, .width = 16, .height = 16};
        short_stride.planes[0] = img.pixels;
        short_stride.strides[0] = 47;
        CHECK(vkclip_preprocess(m, &short_stride, got, &err) != 0 && strstr(err.message, "stride 47"));
        vkclip_frame empty = {.format = VKCLIP_FORMAT_RGB, .width = 0, .height = 16};
        empty.planes[0] = img.pixels;
        empty.strides[0] = 48;
        CHECK(vkclip_preprocess(m, &empty, got, &err) != 0 && strstr(err.message, "size 0x16"));
        CHECK(vkclip_device_validation_messages(dev) == 0);
    }
    free(got);
    free(want);
    free(want_fixture);
    rgb_image_free(&img);
    vkclip_model_free(m);
    vkclip_device_free(dev);
    return check_exit();
}
