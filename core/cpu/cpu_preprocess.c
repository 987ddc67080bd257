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

/* A run of pixels as three planes of 0..255 values: planar, the conversion
 * and filter loops vectorise. */
typedef struct rgb_run {
    int32_t *r, *g, *b;
} rgb_run;

static rgb_run run_at(rgb_run run, size_t offset)
{
    return (rgb_run){run.r + offset, run.g + offset, run.b + offset};
}

/* GStreamer's 8-bit matrix (m: the table's first five entries) on n pixels. */
ROW_KERNEL static void yuv_to_rgb(const int32_t *m, const uint8_t *restrict luma, const int32_t *restrict u,
                                  const int32_t *restrict v, uint32_t n, rgb_run out)
{
    const int32_t my = m[0], mrv = m[1], mbu = m[2], mgu = m[3], mgv = m[4];
    int32_t *restrict r = out.r, *restrict g = out.g, *restrict b = out.b;
    for (uint32_t t = 0; t < n; t++) {
        int32_t wy = mulhs(splat(luma[t] - 128), my), wu = splat(u[t] - 128), wv = splat(v[t] - 128);
        r[t] = clampi(wy + mulhs(wv, mrv), -128, 127) + 128;
        g[t] = clampi(wy + mulhs(wu, mgu) + mulhs(wv, mgv), -128, 127) + 128;
        b[t] = clampi(wy + mulhs(wu, mbu), -128, 127) + 128;
    }
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

#define SEGMENT 256 /* pixels converted at a time */
#define SEGMENT_CHROMA (SEGMENT / 2 + 3) /* chroma columns a segment's pixels reach */

/* How a row's pixels take their chroma: chroma rows r0 and r1 weighted va
 * and vb down the column; along the row an even pixel's taps are chroma
 * columns j - 1 and j, an odd one's j and j + 1 (j = x / 2), weighted by
 * parity (a weight of 0 drops the tap the siting does not use). */
typedef struct chroma_taps {
    uint32_t r0, r1;
    int32_t va, vb, left[2], right[2];
} chroma_taps;

static chroma_taps chroma_taps_of(const push_preprocess_h *p, uint32_t y)
{
    uint32_t k = y >> 1;
    chroma_taps c = {.r0 = k, .r1 = k, .va = 4, .vb = 0};
    if (p->chroma & CHROMA_V_CENTRED) {
        if ((y & 1u) == 0) {
            c.r0 = (k > 1 ? k : 1) - 1;
            c.va = 1, c.vb = 3;
        } else {
            c.r1 = k + 1 < p->chroma_h - 1 ? k + 1 : p->chroma_h - 1;
            c.va = 3, c.vb = 1;
        }
    }
    bool centred = p->chroma & CHROMA_H_CENTRED, cosited = p->chroma & CHROMA_H_COSITED;
    c.left[0] = centred ? 1 : 0, c.right[0] = centred ? 3 : 4;
    c.left[1] = centred ? 3 : cosited ? 2 : 4, c.right[1] = centred ? 1 : cosited ? 2 : 0;
    return c;
}

/* One plane's chroma for the pixel pairs (2j, 2j + 1) from j = x / 2 on,
 * `pairs` of them, from the plane's two rows' columns (c0, c1: column j - 1
 * first): along the row, then down the column, each rounded as the shader
 * rounds. Pixel x + t's value lands at out[t + x % 2]. */
ROW_KERNEL static void upsample_chroma(const chroma_taps *c, uint32_t pairs, const int32_t *restrict c0,
                                       const int32_t *restrict c1, int32_t *restrict out)
{
    const int32_t le = c->left[0], re = c->right[0], lo = c->left[1], ro = c->right[1], va = c->va, vb = c->vb;
    int32_t even[SEGMENT_CHROMA], odd[SEGMENT_CHROMA]; /* apart first: contiguous stores vectorise */
    for (uint32_t q = 0; q < pairs; q++) {
        int32_t e0 = (le * c0[q] + re * c0[q + 1] + 2) >> 2, e1 = (le * c1[q] + re * c1[q + 1] + 2) >> 2;
        int32_t o0 = (lo * c0[q + 1] + ro * c0[q + 2] + 2) >> 2, o1 = (lo * c1[q + 1] + ro * c1[q + 2] + 2) >> 2;
        even[q] = (va * e0 + vb * e1 + 2) >> 2;
        odd[q] = (va * o0 + vb * o1 + 2) >> 2;
    }
    for (uint32_t q = 0; q < pairs; q++)
        out[2 * q] = even[q], out[2 * q + 1] = odd[q];
}

/* Pixels [x0, x0 + n) of the crop's source row `row`, 1 <= n <= SEGMENT, from
 * I420 or NV12: chroma upsampled to each pixel, then converted. */
static void yuv_segment(const cpu_preprocess_args *a, uint32_t row, uint32_t x0, uint32_t n, rgb_run out)
{
    const push_preprocess_h *p = &a->h;
    uint32_t y = p->origin_y + p->row_first + row, x = p->origin_x + x0;
    chroma_taps taps = chroma_taps_of(p, y);
    int32_t first = (int32_t)(x >> 1) - 1, columns = (int32_t)((x + n - 1) >> 1) + 2 - first;
    int32_t u0[SEGMENT_CHROMA], u1[SEGMENT_CHROMA], v0[SEGMENT_CHROMA], v1[SEGMENT_CHROMA];
    for (int32_t c = 0; c < columns; c++) {
        int32_t uv[4];
        chroma_column(a, first + c, taps.r0, taps.r1, uv);
        u0[c] = uv[0], u1[c] = uv[1], v0[c] = uv[2], v1[c] = uv[3];
    }
    uint32_t pairs = (uint32_t)columns - 2;
    int32_t u[SEGMENT + 2], v[SEGMENT + 2];
    upsample_chroma(&taps, pairs, u0, u1, u);
    upsample_chroma(&taps, pairs, v0, v1, v);
    yuv_to_rgb(a->table, a->frame + (size_t)y * p->stride0 + x, u + (x & 1u), v + (x & 1u), n, out);
}

/* Pixels [x0, x0 + n) of the crop's source row `row`, any format. */
static void source_pixels(const cpu_preprocess_args *a, uint32_t row, uint32_t x0, uint32_t n, rgb_run out)
{
    const push_preprocess_h *p = &a->h;
    if (p->format == FRAME_I420 || p->format == FRAME_NV12) {
        for (uint32_t done = 0; done < n; done += SEGMENT)
            yuv_segment(a, row, x0 + done, n - done < SEGMENT ? n - done : SEGMENT, run_at(out, done));
        return;
    }
    uint32_t y = p->origin_y + p->row_first + row;
    const uint8_t *line = a->frame + (size_t)y * p->stride0;
    if (p->format == FRAME_RGBX || p->format == FRAME_PACKED) {
        uint32_t step = p->format == FRAME_RGBX ? 4 : p->bytes_per_pixel;
        uint32_t ro = p->order & 255u, go = (p->order >> 8) & 255u, bo = (p->order >> 16) & 255u;
        for (uint32_t t = 0; t < n; t++) {
            const uint8_t *px = line + (size_t)(p->origin_x + x0 + t) * step;
            out.r[t] = px[ro], out.g[t] = px[go], out.b[t] = px[bo];
        }
        return;
    }
    for (uint32_t t = 0; t < n; t++) /* GRAY8 */
        out.r[t] = out.g[t] = out.b[t] = line[p->origin_x + x0 + t];
}

/* acc += the taps' weights times c's pixels, per channel. */
static inline void accumulate(int32_t acc[3], const int32_t *restrict w, rgb_run c, uint32_t count)
{
    int32_t ar = acc[0], ag = acc[1], ab = acc[2];
    for (uint32_t t = 0; t < count; t++)
        ar += w[t] * c.r[t], ag += w[t] * c.g[t], ab += w[t] * c.b[t];
    acc[0] = ar, acc[1] = ag, acc[2] = ab;
}

static uint32_t pack(const int32_t acc[3])
{
    return clip8(acc[0]) | clip8(acc[1]) << 8 | clip8(acc[2]) << 16;
}

/* One resampled row: each of the crop's columns filtered from the converted
 * source pixels (line holds source columns x0 on), packed as 0x00BBGGRR. */
ROW_KERNEL static void filter_row(const int32_t *table, uint32_t taps, uint32_t columns, uint32_t x0, rgb_run line,
                                  uint32_t *restrict out)
{
    for (uint32_t cx = 0; cx < columns; cx++) {
        const int32_t *entry = table + (size_t)cx * (2 + taps);
        int32_t acc[3] = {HALF, HALF, HALF};
        accumulate(acc, entry + 2, run_at(line, (uint32_t)entry[0] - x0), (uint32_t)entry[1]);
        out[cx] = pack(acc);
    }
}

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
    size_t width = x1 > x0 ? x1 - x0 : 0;
    int32_t *buffer = width ? malloc(3 * width * sizeof *buffer) : NULL;
    rgb_run line = {0};
    if (buffer)
        line = (rgb_run){buffer, buffer + width, buffer + 2 * width};
    for (uint32_t row = begin; row < end; row++) {
        uint32_t *out = a->rows + (size_t)row * p->crop_w;
        if (buffer) {
            source_pixels(a, row, x0, (uint32_t)width, line);
            filter_row(a->table + p->h_table, p->taps, p->crop_w, x0, line, out);
            continue;
        }
        /* No memory for the row: each column's pixels converted in segments. */
        for (uint32_t cx = 0; cx < p->crop_w; cx++) {
            const int32_t *entry = a->table + p->h_table + (size_t)cx * (2 + p->taps);
            uint32_t xmin = (uint32_t)entry[0], count = (uint32_t)entry[1];
            int32_t acc[3] = {HALF, HALF, HALF}, few[3][SEGMENT];
            rgb_run part = {few[0], few[1], few[2]};
            for (uint32_t done = 0; done < count; done += SEGMENT) {
                uint32_t k = count - done < SEGMENT ? count - done : SEGMENT;
                source_pixels(a, row, xmin + done, k, part);
                accumulate(acc, entry + 2 + done, part, k);
            }
            out[cx] = pack(acc);
        }
    }
    free(buffer);
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
