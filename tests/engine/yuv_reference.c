#include "yuv_reference.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the matrix: video-converter.c's MatrixData chain ---- */

typedef struct mat4 {
    double m[4][4];
} mat4;

static mat4 identity(void)
{
    mat4 a = {{{0}}};
    for (int i = 0; i < 4; i++)
        a.m[i][i] = 1;
    return a;
}

/* color_matrix_multiply (dst = a * b) */
static mat4 multiply(const mat4 *a, const mat4 *b)
{
    mat4 r;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            double x = 0;
            for (int k = 0; k < 4; k++)
                x += a->m[i][k] * b->m[k][j];
            r.m[i][j] = x;
        }
    return r;
}

static void scale_components(mat4 *m, double a1, double a2, double a3)
{
    mat4 a = identity();
    a.m[0][0] = a1;
    a.m[1][1] = a2;
    a.m[2][2] = a3;
    *m = multiply(&a, m);
}

static void offset_components(mat4 *m, double a1, double a2, double a3)
{
    mat4 a = identity();
    a.m[0][3] = a1;
    a.m[1][3] = a2;
    a.m[2][3] = a3;
    *m = multiply(&a, m);
}

/* compute_matrix_to_RGB, compute_matrix_to_YUV (RGB out: full range, no
 * matrix) and prepare_matrix (scaled by 1 << 8, rounded) for 8-bit YUV in. */
static void convert_matrix(vkclip_colorimetry c, int im[3][3])
{
    bool full = c == VKCLIP_BT601_FULL || c == VKCLIP_BT709_FULL;
    bool bt709 = c == VKCLIP_BT709_LIMITED || c == VKCLIP_BT709_FULL;
    /* gst_video_color_range_offsets */
    int offset[3] = {full ? 0 : 16, 128, 128};
    int scale[3] = {full ? 255 : 219, full ? 255 : 224, full ? 255 : 224};
    mat4 d = identity();
    offset_components(&d, -offset[0], -offset[1], -offset[2]);
    scale_components(&d, 1 / ((float)scale[0]), 1 / ((float)scale[1]), 1 / ((float)scale[2]));
    /* gst_video_color_matrix_get_Kr_Kb, color_matrix_YCbCr_to_RGB */
    double Kr = bt709 ? 0.2126 : 0.2990, Kb = bt709 ? 0.0722 : 0.1140, Kg = 1.0 - Kr - Kb;
    mat4 k = {{
        {1., 0., 2 * (1 - Kr), 0.},
        {1., -2 * Kb * (1 - Kb) / Kg, -2 * Kr * (1 - Kr) / Kg, 0.},
        {1., 2 * (1 - Kb), 0., 0.},
        {0., 0., 0., 1.},
    }};
    d = multiply(&k, &d);
    scale_components(&d, (float)255, (float)255, (float)255);
    offset_components(&d, 0, 0, 0);
    scale_components(&d, (float)(1 << 8), (float)(1 << 8), (float)(1 << 8));
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            im[i][j] = (int)rint(d.m[i][j]);
}

/* ---- ORC's 16-bit operations ---- */

static int16_t splatbw(uint8_t b)
{
    return (int16_t)(uint16_t)((b << 8) | b);
}

static int16_t mulhsw(int16_t a, int16_t b)
{
    return (int16_t)(((int32_t)a * b) >> 16);
}

static int16_t addw(int16_t a, int16_t b)
{
    return (int16_t)(uint16_t)((uint16_t)a + (uint16_t)b);
}

static uint8_t convssswb_add128(int16_t v)
{
    int8_t s = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
    return (uint8_t)((uint8_t)s + 128);
}

/* video_orc_convert_AYUV_ARGB (and _I420_ARGB): p1 = im[0][0],
 * p2 = im[0][2], p3 = im[2][1], p4 = im[1][1], p5 = im[1][2]. */
static void orc_yuv_rgb(const int im[3][3], uint8_t Y, uint8_t U, uint8_t V, uint8_t *rgb)
{
    int16_t wy = splatbw((uint8_t)(Y - 128)), wu = splatbw((uint8_t)(U - 128)), wv = splatbw((uint8_t)(V - 128));
    wy = mulhsw(wy, (int16_t)im[0][0]);
    int16_t wr = addw(wy, mulhsw(wv, (int16_t)im[0][2]));
    int16_t wb = addw(wy, mulhsw(wu, (int16_t)im[2][1]));
    int16_t wg = addw(addw(wy, mulhsw(wu, (int16_t)im[1][1])), mulhsw(wv, (int16_t)im[1][2]));
    rgb[0] = convssswb_add128(wr);
    rgb[1] = convssswb_add128(wg);
    rgb[2] = convssswb_add128(wb);
}

/* ---- unpack and chroma resampling ---- */

typedef struct line {
    uint8_t *y, *u, *v; /* width samples each: an unpacked AYUV row */
} line;

/* unpack_planar_420 / unpack_NV12 at x = 0: each chroma sample for two pixels. */
static void unpack(const vkclip_frame *f, int row, line *l)
{
    int w = f->width;
    const uint8_t *y = f->planes[0] + (size_t)row * f->strides[0];
    const uint8_t *c = f->planes[1] + (size_t)(row / 2) * f->strides[1];
    for (int x = 0; x < w; x++) {
        l->y[x] = y[x];
        if (f->format == VKCLIP_FORMAT_I420) {
            l->u[x] = c[x / 2];
            l->v[x] = f->planes[2][(size_t)(row / 2) * f->strides[2] + x / 2];
        } else {
            l->u[x] = c[2 * (x / 2)];
            l->v[x] = c[2 * (x / 2) + 1];
        }
    }
}

/* video_chroma_up_h2_u8: FILT_3_1 / FILT_1_3 on pixels 1..width-2, in place. */
static void up_h2(uint8_t *p, int width)
{
    uint8_t t0, t1 = p[0];
    for (int i = 1; i < width - 1; i += 2) {
        t0 = t1;
        t1 = p[i + 1];
        p[i] = (uint8_t)((3 * t0 + t1 + 2) >> 2);
        p[i + 1] = (uint8_t)((t0 + 3 * t1 + 2) >> 2);
    }
}

/* video_chroma_up_h2_cs_u8: FILT_1_1 on the odd pixels. */
static void up_h2_cs(uint8_t *p, int width)
{
    for (int i = 1; i < width - 1; i += 2)
        p[i] = (uint8_t)((p[i - 1] + p[i + 1] + 1) >> 1);
}

/* video_orc_chroma_up_v2_u8 */
static void up_v2(uint8_t *l0, uint8_t *l1, int width)
{
    for (int i = 0; i < width; i++) {
        int a = l0[i], b = l1[i];
        l0[i] = (uint8_t)((3 * a + b + 2) >> 2);
        l1[i] = (uint8_t)((a + 3 * b + 2) >> 2);
    }
}

static vkclip_chroma_site resolve(const vkclip_frame *f)
{
    if (f->chroma_site != VKCLIP_CHROMA_AUTO)
        return f->chroma_site;
    if (f->format == VKCLIP_FORMAT_I420)
        return VKCLIP_CHROMA_NEAREST; /* videoconvert's I420 -> RGB fast path */
    return f->height > 576 ? VKCLIP_CHROMA_MPEG2 : VKCLIP_CHROMA_JPEG; /* set_default_colorimetry */
}

bool yuv_reference_rgb(const vkclip_frame *f, uint8_t *rgb)
{
    if (f->format != VKCLIP_FORMAT_I420 && f->format != VKCLIP_FORMAT_NV12)
        return false;
    int w = f->width, h = f->height;
    int im[3][3];
    convert_matrix(f->colorimetry, im);
    vkclip_chroma_site site = resolve(f);
    bool resample = site != VKCLIP_CHROMA_NEAREST;
    bool h_cosited = site == VKCLIP_CHROMA_MPEG2 || site == VKCLIP_CHROMA_COSITED;
    bool v_cosited = site == VKCLIP_CHROMA_COSITED || site == VKCLIP_CHROMA_V_COSITED;
    /* Every row unpacked and its chroma resampled (up_v2 runs h_resample on
     * both lines of its pair before combining them). */
    uint8_t *buf = malloc((size_t)3 * w * (h + 1));
    line *rows = malloc(sizeof *rows * (size_t)(h + 1));
    if (!buf || !rows) {
        free(buf);
        free(rows);
        return false;
    }
    for (int r = 0; r <= h; r++) {
        /* rows[0] is line -1 (the frame's row 0 again: do_unpack_lines clamps) */
        rows[r] = (line){buf + (size_t)3 * w * r, buf + (size_t)3 * w * r + w, buf + (size_t)3 * w * r + 2 * w};
        unpack(f, r == 0 ? 0 : r - 1, &rows[r]);
        if (resample) {
            (h_cosited ? up_h2_cs : up_h2)(rows[r].u, w);
            (h_cosited ? up_h2_cs : up_h2)(rows[r].v, w);
        }
    }
    /* do_upsample_lines: lines in pairs from -1 (n_lines 2, offset -1), the
     * second of the last pair past the bottom being the last row again;
     * vertically cosited chroma is not resampled (n_lines 1). */
    if (resample && !v_cosited) {
        uint8_t *below_u = malloc((size_t)w), *below_v = malloc((size_t)w);
        if (!below_u || !below_v) {
            free(below_u);
            free(below_v);
            free(buf);
            free(rows);
            return false;
        }
        for (int start = -1; start < h; start += 2) {
            line *l0 = &rows[start + 1];
            uint8_t *u1 = below_u, *v1 = below_v;
            if (start + 1 < h) {
                u1 = rows[start + 2].u;
                v1 = rows[start + 2].v;
            } else { /* clamped: a copy of the last row, resampled along its row like it */
                memcpy(below_u, rows[h].u, (size_t)w);
                memcpy(below_v, rows[h].v, (size_t)w);
            }
            up_v2(l0->u, u1, w);
            up_v2(l0->v, v1, w);
        }
        free(below_u);
        free(below_v);
    }
    for (int y = 0; y < h; y++) {
        const line *l = &rows[y + 1];
        for (int x = 0; x < w; x++)
            orc_yuv_rgb(im, l->y[x], l->u[x], l->v[x], rgb + ((size_t)y * w + x) * 3);
    }
    free(buf);
    free(rows);
    return true;
}
