/* The CPU backend's preprocessing: shaders/preprocess_h.comp and
 * preprocess_v.comp as loops, with the same integer arithmetic (Pillow's
 * 22-bit fixed point; GStreamer's 8-bit YUV conversion), so both backends
 * give the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_kernels.h"
#include "preprocess.h"

#define PRECISION_BITS 22
#define HALF (1 << (PRECISION_BITS - 1)) /* rounds the fixed-point sums */

static uint32_t clip8(int32_t acc)
{
    int32_t v = acc >> PRECISION_BITS;
    return (uint32_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static int32_t clampi(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static int32_t splat(int32_t s)
{
    return s * 256 + (s & 255);
}

static int32_t mulhs(int32_t a, int32_t c)
{
    return (a * c) >> 16;
}

typedef struct rgb {
    int32_t r, g, b;
} rgb;

static rgb yuv_to_rgb(const int32_t *m, int32_t y, int32_t u, int32_t v)
{
    int32_t wy = mulhs(splat(y - 128), m[0]);
    int32_t wu = splat(u - 128), wv = splat(v - 128);
    rgb out = {clampi(wy + mulhs(wv, m[1]), -128, 127) + 128,
               clampi(wy + mulhs(wu, m[3]) + mulhs(wv, m[4]), -128, 127) + 128,
               clampi(wy + mulhs(wu, m[2]), -128, 127) + 128};
    return out;
}

static rgb pixel(const cpu_preprocess_args *a, uint32_t x, uint32_t y)
{
    const push_preprocess_h *p = &a->h;
    x += p->origin_x;
    y += p->origin_y;
    uint32_t ro = p->order & 255u, go = (p->order >> 8) & 255u, bo = (p->order >> 16) & 255u;
    if (p->format == FRAME_RGBX || p->format == FRAME_PACKED) {
        const uint8_t *px = a->frame + (size_t)y * p->stride0 + (size_t)x * (p->format == FRAME_RGBX ? 4 : p->bytes_per_pixel);
        return (rgb){px[ro], px[go], px[bo]};
    }
    int32_t g = a->frame[(size_t)y * p->stride0 + x];
    return (rgb){g, g, g};
}

/* U and V of chroma column j in chroma rows r0 and r1: u0, u1, v0, v1. */
static void chroma_column(const cpu_preprocess_args *a, int32_t j, uint32_t r0, uint32_t r1, int32_t out[4])
{
    const push_preprocess_h *p = &a->h;
    uint32_t c = (uint32_t)clampi(j, 0, (int32_t)p->chroma_w - 1);
    size_t a0 = (size_t)r0 * p->stride1, a1 = (size_t)r1 * p->stride1;
    const uint8_t *f = a->frame;
    if (p->format == FRAME_I420) {
        out[0] = f[p->plane1 + a0 + c], out[1] = f[p->plane1 + a1 + c];
        out[2] = f[p->plane2 + a0 + c], out[3] = f[p->plane2 + a1 + c];
        return;
    }
    size_t at0 = p->plane1 + a0 + 2 * c, at1 = p->plane1 + a1 + 2 * c; /* NV12 */
    out[0] = f[at0], out[1] = f[at1], out[2] = f[at0 + 1], out[3] = f[at1 + 1];
}

/* Pixels [x0, x0 + n) of the crop's source row `row` as RGB, converted from
 * YUV as the shader converts each tap (chroma upsampled from the columns
 * around each pixel, then GStreamer's 8-bit matrix). */
static void yuv_pixels(const cpu_preprocess_args *a, uint32_t row, uint32_t x0, uint32_t n, rgb *out)
{
    const push_preprocess_h *p = &a->h;
    uint32_t y = p->origin_y + p->row_first + row, k = y >> 1, r0 = k, r1 = k;
    int32_t va = 4, vb = 0;
    if (p->chroma & CHROMA_V_CENTRED) {
        if ((y & 1u) == 0) {
            r0 = (k > 1 ? k : 1) - 1;
            va = 1, vb = 3;
        } else {
            r1 = k + 1 < p->chroma_h - 1 ? k + 1 : p->chroma_h - 1;
            va = 3, vb = 1;
        }
    }
    bool centred = p->chroma & CHROMA_H_CENTRED, cosited = p->chroma & CHROMA_H_COSITED;
    uint32_t x = p->origin_x + x0;
    int32_t j = (int32_t)(x >> 1);
    int32_t prev[4], cur[4], next[4];
    chroma_column(a, j - 1, r0, r1, prev);
    chroma_column(a, j, r0, r1, cur);
    chroma_column(a, j + 1, r0, r1, next);
    const uint8_t *luma = a->frame + (size_t)y * p->stride0;
    const int32_t *m = a->table;
    for (uint32_t t = 0; t < n; t++, x++) {
        if ((int32_t)(x >> 1) != j) { /* one chroma column further along */
            j++;
            memcpy(prev, cur, sizeof prev);
            memcpy(cur, next, sizeof cur);
            chroma_column(a, j + 1, r0, r1, next);
        }
        const int32_t *ca = cur, *cb = cur;
        int32_t ha = 4, hb = 0;
        if ((x & 1u) == 0) {
            if (centred) {
                ca = prev;
                ha = 1, hb = 3;
            }
        } else if (centred || cosited) {
            cb = next;
            ha = centred ? 3 : 2;
            hb = centred ? 1 : 2;
        }
        int32_t h[4];
        for (int i = 0; i < 4; i++) /* along the row */
            h[i] = (ha * ca[i] + hb * cb[i] + 2) >> 2;
        int32_t u = (va * h[0] + vb * h[1] + 2) >> 2, v = (va * h[2] + vb * h[3] + 2) >> 2; /* down the column */
        out[t] = yuv_to_rgb(m, luma[x], u, v);
    }
}

static void source_pixels(const cpu_preprocess_args *a, uint32_t row, uint32_t x0, uint32_t n, rgb *out)
{
    const push_preprocess_h *p = &a->h;
    if (p->format == FRAME_I420 || p->format == FRAME_NV12) {
        yuv_pixels(a, row, x0, n, out);
        return;
    }
    for (uint32_t t = 0; t < n; t++)
        out[t] = pixel(a, x0 + t, p->row_first + row);
}

static void accumulate(int32_t acc[3], const int32_t *weights, const rgb *c, uint32_t count)
{
    for (uint32_t t = 0; t < count; t++)
        acc[0] += weights[t] * c[t].r, acc[1] += weights[t] * c[t].g, acc[2] += weights[t] * c[t].b;
}

static uint32_t pack(const int32_t acc[3])
{
    return clip8(acc[0]) | clip8(acc[1]) << 8 | clip8(acc[2]) << 16;
}

#define SEGMENT 256 /* pixels converted at a time without the row buffer */

/* preprocess_h: resampled source rows [begin, end), crop_w output columns
 * each. A row's pixels are converted once into a buffer, not once per filter
 * that covers them (a 640-pixel row resampled to 64 columns has each pixel
 * under some 30 filters); without memory for it, per column in segments. */
static void horizontal(const void *ctx, uint32_t begin, uint32_t end)
{
    const cpu_preprocess_args *a = ctx;
    const push_preprocess_h *p = &a->h;
    uint32_t x0 = UINT32_MAX, x1 = 0;
    for (uint32_t cx = 0; cx < p->crop_w; cx++) {
        const int32_t *entry = a->table + p->h_table + (size_t)cx * (2 + p->taps);
        x0 = (uint32_t)entry[0] < x0 ? (uint32_t)entry[0] : x0;
        x1 = (uint32_t)(entry[0] + entry[1]) > x1 ? (uint32_t)(entry[0] + entry[1]) : x1;
    }
    rgb *line = x1 > x0 ? malloc((size_t)(x1 - x0) * sizeof *line) : NULL;
    for (uint32_t row = begin; row < end; row++) {
        if (line)
            source_pixels(a, row, x0, x1 - x0, line);
        for (uint32_t cx = 0; cx < p->crop_w; cx++) {
            const int32_t *entry = a->table + p->h_table + (size_t)cx * (2 + p->taps);
            uint32_t xmin = (uint32_t)entry[0], count = (uint32_t)entry[1];
            int32_t acc[3] = {HALF, HALF, HALF};
            if (line) {
                accumulate(acc, entry + 2, line + (xmin - x0), count);
            } else {
                rgb few[SEGMENT];
                for (uint32_t done = 0; done < count; done += SEGMENT) {
                    uint32_t k = count - done < SEGMENT ? count - done : SEGMENT;
                    source_pixels(a, row, xmin + done, k, few);
                    accumulate(acc, entry + 2 + done, few, k);
                }
            }
            a->rows[(size_t)row * p->crop_w + cx] = pack(acc);
        }
    }
    free(line);
}

/* preprocess_v: output rows [begin, end), each pixel from the rows above,
 * normalised, into CHW planes or the image tower's patch rows. */
static void vertical(const void *ctx, uint32_t begin, uint32_t end)
{
    const cpu_preprocess_args *a = ctx;
    const push_preprocess_v *p = &a->v;
    for (uint32_t cy = begin; cy < end; cy++) {
        const int32_t *entry = a->table + p->v_table + (size_t)cy * (2 + p->taps);
        uint32_t ymin = (uint32_t)entry[0], count = (uint32_t)entry[1];
        for (uint32_t cx = 0; cx < p->crop_w; cx++) {
            int32_t acc[3] = {HALF, HALF, HALF};
            for (uint32_t k = 0; k < count; k++) {
                uint32_t c = a->rows[(size_t)(ymin + k) * p->crop_w + cx];
                int32_t w = entry[2 + k];
                acc[0] += w * (int32_t)(c & 255u), acc[1] += w * (int32_t)((c >> 8) & 255u);
                acc[2] += w * (int32_t)((c >> 16) & 255u);
            }
            float v[3];
            for (int i = 0; i < 3; i++)
                v[i] = ((float)clip8(acc[i]) / 255.0f - p->mean[i]) * p->inv_std[i];
            if (p->layout_kind == LAYOUT_CHW) {
                size_t plane = (size_t)p->crop_w * p->crop_h, at = p->out_off + (size_t)cy * p->crop_w + cx;
                a->out[at] = v[0], a->out[at + plane] = v[1], a->out[at + 2 * plane] = v[2];
                continue;
            }
            uint32_t P = p->patch_size, py = cy / P, px = cx / P;
            if (py >= p->patches_per_side || px >= p->patches_per_side)
                continue;
            size_t at = p->out_off + ((size_t)py * p->patches_per_side + px) * 3 * P * P + (cy % P) * P + cx % P;
            a->out[at] = v[0], a->out[at + P * P] = v[1], a->out[at + 2 * P * P] = v[2];
        }
    }
}

void cpu_preprocess_run(const void *args, cpu_pool *pool)
{
    const cpu_preprocess_args *a = args;
    cpu_pool_for(pool, a->h.rows, horizontal, a);
    cpu_pool_for(pool, a->v.crop_h, vertical, a);
}
