/* test_frames: preprocessing of video-style frames (the pixel formats and
 * strides a GStreamer pipeline delivers), through the public API.
 *
 * - Packed RGB formats (RGB, BGR, RGBA, BGRx, xRGB, ...) with padded strides:
 *   the fixture image's preprocessed tensor made by Pillow
 *   (chelsea.png.pixels.f32), to the fixture README's tolerance.
 * - GRAY8: the same bytes as an RGB image.
 * - I420 and NV12 (BT.601 and BT.709, limited and full range, every chroma
 *   siting, odd and even widths and heights, whole and cropped at odd
 *   offsets), of the fixture photo and of saturated colour blocks: the test
 *   converts the image to Y'CbCr itself, then back to RGB as GStreamer's
 *   videoconvert does (yuv_reference.c, held against videoconvert itself by
 *   test_videoconvert.py); preprocessing the YUV frame must equal
 *   preprocessing that RGB image, or the crop of it (whose path the first
 *   part checks against Pillow): >= 99.9% of values within 1 level, none
 *   beyond 2 (the arithmetic is integer: expected identical). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "image/image.h"
#include "vkclip.h"
#include "yuv_reference.h"

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

/* Y'CbCr of an RGB image for the frames under test, by BT.601 / BT.709's
 * defining equations (Kr, Kb; 219 and 224 levels in limited range), chroma
 * averaged over each 2x2 block. Any plausible frame would do: what is
 * checked is how the frame is read back. */
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

static const struct {
    vkclip_chroma_site id;
    const char *name;
} sitings[] = {
    {VKCLIP_CHROMA_AUTO, "auto"},       {VKCLIP_CHROMA_JPEG, "jpeg"},
    {VKCLIP_CHROMA_MPEG2, "mpeg2"},     {VKCLIP_CHROMA_COSITED, "cosited"},
    {VKCLIP_CHROMA_V_COSITED, "v-cosited"}, {VKCLIP_CHROMA_NEAREST, "nearest"},
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

static void preprocess_rgb(vkclip_model *m, const uint8_t *rgb, int w, int h, float *out)
{
    vkclip_frame f = {.format = VKCLIP_FORMAT_RGB, .width = w, .height = h};
    f.planes[0] = rgb;
    f.strides[0] = 3 * w;
    vkclip_error err;
    CHECKF(vkclip_preprocess(m, &f, out, &err) == 0, "RGB: %s", err.message);
}

/* An image's planes in I420 or NV12 (rows padded), sized for the image. */
typedef struct yuv_planes {
    int w, h, ystride, cstride;
    uint8_t *Y, *U, *V;
    bool nv12;
} yuv_planes;

static void yuv_planes_make(yuv_planes *p, const rgb_image *img, const colorimetry *c, bool nv12)
{
    int w = img->width, h = img->height, cw = (w + 1) / 2, ch = (h + 1) / 2;
    *p = (yuv_planes){.w = w, .h = h, .ystride = w + 7, .cstride = (nv12 ? 2 * cw : cw) + 5, .nv12 = nv12};
    p->Y = calloc((size_t)p->ystride * h, 1);
    p->U = calloc((size_t)p->cstride * ch, 1);
    p->V = calloc((size_t)p->cstride * ch, 1);
    for (int by = 0; by < ch; by++)
        for (int bx = 0; bx < cw; bx++) {
            double su = 0, sv = 0;
            int n = 0;
            for (int y = 2 * by; y < 2 * by + 2 && y < h; y++)
                for (int x = 2 * bx; x < 2 * bx + 2 && x < w; x++) {
                    double Y, U, V;
                    rgb_to_yuv(c, img->pixels + ((size_t)y * w + x) * 3, &Y, &U, &V);
                    p->Y[(size_t)y * p->ystride + x] = to_byte(Y);
                    su += U;
                    sv += V;
                    n++;
                }
            uint8_t U = to_byte(su / n), V = to_byte(sv / n);
            if (nv12) {
                p->U[(size_t)by * p->cstride + 2 * bx] = U;
                p->U[(size_t)by * p->cstride + 2 * bx + 1] = V;
            } else {
                p->U[(size_t)by * p->cstride + bx] = U;
                p->V[(size_t)by * p->cstride + bx] = V;
            }
        }
}

static void yuv_planes_free(yuv_planes *p)
{
    free(p->Y);
    free(p->U);
    free(p->V);
}

/* The planes as a w x h frame (w, h at most the planes' size: the frame's
 * rows and chroma samples are the planes' first ones). */
static vkclip_frame yuv_frame(const yuv_planes *p, int w, int h, vkclip_colorimetry c, vkclip_chroma_site site)
{
    vkclip_frame f = {.format = p->nv12 ? VKCLIP_FORMAT_NV12 : VKCLIP_FORMAT_I420, .width = w, .height = h,
                      .colorimetry = c, .chroma_site = site};
    f.planes[0] = p->Y;
    f.strides[0] = p->ystride;
    f.planes[1] = p->U;
    f.strides[1] = p->cstride;
    f.planes[2] = p->V;
    f.strides[2] = p->cstride;
    return f;
}

typedef struct yuv_totals {
    int frames, identical;
    double lowest_within1, worst;
} yuv_totals;

/* Frame f (whole, then cropped to crop) against videoconvert's RGB of it
 * as yuv_reference.c makes it (whole, then the same rectangle of it). */
static void check_yuv(vkclip_model *m, vkclip_frame f, const char *name, vkclip_rect crop, float *got,
                      float *want, yuv_totals *t)
{
    int w = f.width, h = f.height;
    uint8_t *rgb = malloc((size_t)w * h * 3), *part = malloc((size_t)crop.width * crop.height * 3);
    CHECK(yuv_reference_rgb(&f, rgb));
    for (int y = 0; y < crop.height; y++)
        memcpy(part + (size_t)y * crop.width * 3, rgb + ((size_t)(crop.y + y) * w + crop.x) * 3,
               (size_t)crop.width * 3);
    for (int k = 0; k < 2; k++) {
        char what[192];
        snprintf(what, sizeof what, k == 0 ? "%.100s" : "%.100s crop (%d, %d, %dx%d)", name, crop.x, crop.y, crop.width,
                 crop.height);
        vkclip_frame g = f;
        if (k == 1)
            g.crop = crop;
        vkclip_error err;
        int rc = vkclip_preprocess(m, &g, got, &err);
        CHECKF(rc == 0, "%s: %s", what, err.message);
        if (k == 0)
            preprocess_rgb(m, rgb, w, h, want);
        else
            preprocess_rgb(m, part, crop.width, crop.height, want);
        if (rc != 0)
            continue;
        size_t within1 = 0, n = 3 * (size_t)PLANE;
        double worst = 0;
        for (size_t i = 0; i < n; i++) {
            double d = fabs(((double)got[i] - want[i]) * stdev[i / PLANE]) * 255.0;
            within1 += d <= 1.0 + 1e-4;
            worst = d > worst ? d : worst;
        }
        double frac = (double)within1 / (double)n;
        bool same = memcmp(got, want, n * sizeof *got) == 0;
        printf("%-62s within 1 level: %.5f  worst: %.3f levels%s\n", what, frac, worst, same ? "  (identical)" : "");
        CHECKF(frac >= 0.999, "%s: %.5f within 1 level", what, frac);
        CHECKF(worst <= 2.0 + 1e-4, "%s: %.3f levels off", what, worst);
        t->frames++;
        t->identical += same;
        t->lowest_within1 = frac < t->lowest_within1 ? frac : t->lowest_within1;
        t->worst = worst > t->worst ? worst : t->worst;
    }
    free(rgb);
    free(part);
}

/* Every format, colorimetry and siting on an image's planes, at the image's
 * size and one column and one row less (odd and even both ways). */
static void check_yuv_image(vkclip_model *m, const rgb_image *img, const char *image, vkclip_rect crop, float *got,
                            float *want, yuv_totals *t)
{
    for (size_t k = 0; k < sizeof spaces / sizeof spaces[0]; k++)
        for (int nv12 = 0; nv12 < 2; nv12++) {
            yuv_planes p;
            yuv_planes_make(&p, img, &spaces[k], nv12);
            for (size_t s = 0; s < sizeof sitings / sizeof sitings[0]; s++)
                for (int smaller = 0; smaller < 2; smaller++) {
                    int w = p.w - smaller, h = p.h - smaller;
                    char name[128];
                    snprintf(name, sizeof name, "%s %s %dx%d %s %s", image, nv12 ? "NV12" : "I420", w, h,
                             spaces[k].name, sitings[s].name);
                    check_yuv(m, yuv_frame(&p, w, h, spaces[k].id, sitings[s].id), name, crop, got, want, t);
                }
            yuv_planes_free(&p);
        }
}

/* Saturated colour blocks of odd and even sizes: edges everywhere. */
static void make_blocks(rgb_image *img, int w, int h)
{
    static const uint8_t palette[8][3] = {{255, 0, 0},     {0, 255, 0}, {0, 0, 255},    {255, 255, 0},
                                          {255, 0, 255},   {0, 255, 255}, {255, 255, 255}, {0, 0, 0}};
    img->width = w;
    img->height = h;
    img->pixels = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int i = (x / 5 + 3 * (y / 3) + (x / 7) * (y / 11)) % 8;
            memcpy(img->pixels + ((size_t)y * w + x) * 3, palette[i], 3);
        }
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
        yuv_totals t = {.lowest_within1 = 1.0};
        check_yuv_image(m, &img, "chelsea", (vkclip_rect){41, 23, 301, 251}, got, want, &t);
        rgb_image blocks;
        make_blocks(&blocks, 301, 227);
        check_yuv_image(m, &blocks, "blocks", (vkclip_rect){37, 19, 199, 175}, got, want, &t);
        rgb_image_free(&blocks);
        /* Taller than 576 rows: NV12's default siting becomes mpeg2's. */
        make_blocks(&blocks, 99, 601);
        for (int nv12 = 0; nv12 < 2; nv12++) {
            yuv_planes p;
            yuv_planes_make(&p, &blocks, &spaces[2], nv12);
            vkclip_frame f = yuv_frame(&p, p.w, p.h, VKCLIP_BT709_LIMITED, VKCLIP_CHROMA_AUTO);
            check_yuv(m, f, nv12 ? "blocks NV12 99x601 BT.709 limited auto" : "blocks I420 99x601 BT.709 limited auto",
                      (vkclip_rect){3, 5, 91, 587}, got, want, &t);
            /* auto is nearest (I420) or mpeg2 (NV12) here, not jpeg */
            vkclip_chroma_site same = nv12 ? VKCLIP_CHROMA_MPEG2 : VKCLIP_CHROMA_NEAREST;
            vkclip_chroma_site other[2] = {same, VKCLIP_CHROMA_JPEG};
            for (int k = 0; k < 2; k++) {
                vkclip_frame g = f;
                g.chroma_site = other[k];
                vkclip_error err;
                CHECK(vkclip_preprocess(m, &f, got, &err) == 0 && vkclip_preprocess(m, &g, want, &err) == 0);
                bool equal = memcmp(got, want, 3 * (size_t)PLANE * sizeof *got) == 0;
                CHECKF(equal == (k == 0), "%s 99x601: auto %s siting %d", nv12 ? "NV12" : "I420",
                       equal ? "is" : "is not", (int)other[k]);
            }
            yuv_planes_free(&p);
        }
        rgb_image_free(&blocks);
        printf("YUV: %d tensors, %d identical; lowest within 1 level %.5f, worst %.3f levels\n", t.frames,
               t.identical, t.lowest_within1, t.worst);
        /* Bad frames: clear errors, no crash. */
        vkclip_frame bad = {.format = VKCLIP_FORMAT_I420, .width = 16, .height = 16};
        bad.planes[0] = img.pixels;
        bad.strides[0] = 16;
        CHECK(vkclip_preprocess(m, &bad, got, &err) != 0 && strstr(err.message, "plane 1 is missing"));
        vkclip_frame bad_site = {.format = VKCLIP_FORMAT_GRAY8, .width = 16, .height = 16,
                                 .chroma_site = (vkclip_chroma_site)6};
        bad_site.planes[0] = img.pixels;
        bad_site.strides[0] = 16;
        CHECK(vkclip_preprocess(m, &bad_site, got, &err) != 0 && strstr(err.message, "unknown chroma siting 6"));
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
