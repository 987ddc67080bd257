#include "preprocess.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PRECISION_BITS 22
#define TABLE_MATRIX_LEN 12 /* the 5 YUV coefficients (yuv_matrix_fill), then unused */

/* ---- Pillow's resampling filters (Resample.c) ---- */

typedef struct filter {
    double (*fn)(double x);
    double support;
} filter;

static double box_filter(double x)
{
    return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0;
}

static double bilinear_filter(double x)
{
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

static double hamming_filter(double x)
{
    x = fabs(x);
    if (x == 0.0)
        return 1.0;
    if (x >= 1.0)
        return 0.0;
    x *= M_PI;
    return sin(x) / x * (0.54 + 0.46 * cos(x));
}

double pillow_bicubic(double x)
{
    const double a = -0.5; /* Keys cubic, as Pillow */
    x = fabs(x);
    if (x < 1.0)
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    if (x < 2.0)
        return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
    return 0.0;
}

static double sinc(double x)
{
    if (x == 0.0)
        return 1.0;
    x *= M_PI;
    return sin(x) / x;
}

static double lanczos_filter(double x)
{
    return (-3.0 <= x && x < 3.0) ? sinc(x) * sinc(x / 3.0) : 0.0;
}

static bool filter_for(int resample, filter *f)
{
    switch (resample) {
    case 1: *f = (filter){lanczos_filter, 3.0}; return true;
    case 2: *f = (filter){bilinear_filter, 1.0}; return true;
    case 3: *f = (filter){pillow_bicubic, 2.0}; return true;
    case 4: *f = (filter){box_filter, 0.5}; return true;
    case 5: *f = (filter){hamming_filter, 1.0}; return true;
    default: return false;
    }
}

/* Weights of output samples [first, first + count) of a resize from in_size
 * to out_size: per sample (xmin, n, w0..w[taps-1]) in fixed point.
 * resample 0 (nearest) is one full-weight tap at the sample Pillow takes. */
typedef struct axis_weights {
    int taps;
    int32_t *entries; /* count * (2 + taps) */
} axis_weights;

static bool axis_weights_make(axis_weights *aw, int resample, int in_size, int out_size, int first,
                              int count, errbuf *err)
{
    double scale = (double)in_size / out_size;
    filter f = {0};
    if (resample != 0 && !filter_for(resample, &f))
        return errbuf_set(err, "preprocessor_config.json: resample %d is not a Pillow filter", resample);
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = f.support * filterscale;
    aw->taps = resample == 0 ? 1 : (int)ceil(support) * 2 + 1;
    aw->entries = calloc((size_t)count * (2 + aw->taps), sizeof *aw->entries);
    double *w = malloc((size_t)aw->taps * sizeof *w);
    if (!aw->entries || !w) {
        free(w);
        free(aw->entries);
        return errbuf_set(err, "out of memory");
    }
    for (int i = 0; i < count; i++) {
        int xx = first + i;
        int32_t *e = aw->entries + (size_t)i * (2 + aw->taps);
        if (resample == 0) {
            int src = (int)((xx + 0.5) * scale);
            e[0] = src < in_size ? src : in_size - 1;
            e[1] = 1;
            e[2] = 1 << PRECISION_BITS;
            continue;
        }
        double center = (xx + 0.5) * scale;
        double ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0)
            xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size)
            xmax = in_size;
        xmax -= xmin;
        double ww = 0.0;
        for (int x = 0; x < xmax; x++) {
            w[x] = f.fn((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        e[0] = xmin;
        e[1] = xmax;
        for (int x = 0; x < xmax; x++) {
            double k = ww != 0.0 ? w[x] / ww : w[x];
            e[2 + x] = k < 0 ? (int32_t)(-0.5 + k * (1 << PRECISION_BITS))
                             : (int32_t)(0.5 + k * (1 << PRECISION_BITS));
        }
    }
    free(w);
    return true;
}

/* Size of the resized frame: W x H for size {height, width}, else the shorter
 * side becomes shortest_edge. */
static bool resized_size(const clip_preprocess_config *pp, uint32_t width, uint32_t height, uint32_t *out_w,
                         uint32_t *out_h, errbuf *err)
{
    if (width == 0 || height == 0)
        return errbuf_set(err, "empty (%ux%u)", width, height);
    uint32_t rw = width, rh = height;
    if (pp->do_resize && pp->resize_width > 0 && pp->resize_height > 0) {
        /* size {height, width}: exactly that, the aspect not kept */
        rw = (uint32_t)pp->resize_width;
        rh = (uint32_t)pp->resize_height;
    } else if (pp->do_resize) {
        /* The shorter side becomes shortest_edge, the other int(edge * long / short). */
        uint32_t s = (uint32_t)pp->shortest_edge;
        if (width <= height) {
            rw = s;
            rh = (uint32_t)((double)s * height / width);
        } else {
            rh = s;
            rw = (uint32_t)((double)s * width / height);
        }
        if (rw == 0 || rh == 0)
            return errbuf_set(err, "%ux%u is too narrow to resize", width, height);
    }
    *out_w = rw;
    *out_h = rh;
    return true;
}

/* The five coefficients of GStreamer's 8-bit YUV to RGB conversion
 * (video-converter.c: compute_matrix_to_RGB, prepare_matrix; the ORC
 * program video_orc_convert_AYUV_ARGB / _I420_ARGB applies them): the
 * matrix of Kr, Kb scaled by the input range (1 / 219 and 1 / 224, or
 * 1 / 255, each a float reciprocal), by 255 for RGB and by 256, rounded.
 * In the order the shader takes them: Y for all three, V for R, U for B,
 * U for G, V for G. The offsets are not used: the conversion subtracts 128
 * from all three components. */
static void yuv_matrix_fill(int32_t *t, yuv_matrix m, bool full_range)
{
    double kr = m == YUV_BT709 ? 0.2126 : 0.2990;
    double kb = m == YUV_BT709 ? 0.0722 : 0.1140;
    double kg = 1.0 - kr - kb;
    double sy = (double)(1.0f / (full_range ? 255.0f : 219.0f));
    double sc = (double)(1.0f / (full_range ? 255.0f : 224.0f));
    double k[5] = {sy, 2 * (1 - kr) * sc, 2 * (1 - kb) * sc, -2 * kb * (1 - kb) / kg * sc,
                   -2 * kr * (1 - kr) / kg * sc};
    for (int i = 0; i < 5; i++)
        t[i] = (int32_t)rint(255.0 * k[i] * 256.0);
}

bool preprocess_plan_make(preprocess_plan *plan, const clip_preprocess_config *pp,
                          const frame_layout *frame, errbuf *err)
{
    memset(plan, 0, sizeof *plan);
    uint32_t rw = 0, rh = 0;
    if (!resized_size(pp, frame->roi_w, frame->roi_h, &rw, &rh, err))
        return false;
    uint32_t cw = rw, ch = rh, left = 0, top = 0;
    if (pp->do_center_crop) {
        cw = (uint32_t)pp->crop_width;
        ch = (uint32_t)pp->crop_height;
        if (cw > rw || ch > rh)
            return errbuf_set(err, "resized to %ux%u, smaller than the %ux%u crop", rw, rh, cw, ch);
        left = (rw - cw) / 2;
        top = (rh - ch) / 2;
    }
    int resample = pp->do_resize ? pp->resample : 3;
    axis_weights hw = {0}, vw = {0};
    if (!axis_weights_make(&hw, resample, (int)frame->roi_w, (int)rw, (int)left, (int)cw, err) ||
        !axis_weights_make(&vw, resample, (int)frame->roi_h, (int)rh, (int)top, (int)ch, err)) {
        free(hw.entries);
        return false;
    }
    /* The source rows the crop's rows need; the vertical table counts from the first. */
    int row_first = (int)frame->roi_h, row_last = 0;
    for (uint32_t i = 0; i < ch; i++) {
        int32_t *e = vw.entries + (size_t)i * (2 + vw.taps);
        if (e[0] < row_first)
            row_first = e[0];
        if (e[0] + e[1] > row_last)
            row_last = e[0] + e[1];
    }
    for (uint32_t i = 0; i < ch; i++)
        vw.entries[(size_t)i * (2 + vw.taps)] -= row_first;

    size_t hlen = (size_t)cw * (2 + hw.taps), vlen = (size_t)ch * (2 + vw.taps);
    plan->table_len = (uint32_t)(TABLE_MATRIX_LEN + hlen + vlen);
    plan->table = calloc(plan->table_len, sizeof *plan->table);
    if (!plan->table) {
        free(hw.entries);
        free(vw.entries);
        return errbuf_set(err, "out of memory");
    }
    yuv_matrix_fill(plan->table, frame->matrix, frame->full_range);
    memcpy(plan->table + TABLE_MATRIX_LEN, hw.entries, hlen * sizeof *plan->table);
    memcpy(plan->table + TABLE_MATRIX_LEN + hlen, vw.entries, vlen * sizeof *plan->table);

    plan->h = (push_preprocess_h){
        .format = frame->kind, .bytes_per_pixel = frame->bytes_per_pixel, .order = frame->order,
        .stride0 = frame->stride0, .stride1 = frame->stride1,
        .plane1 = frame->plane1, .plane2 = frame->plane2,
        .row_first = (uint32_t)row_first, .rows = (uint32_t)(row_last - row_first),
        .crop_w = cw, .taps = (uint32_t)hw.taps, .h_table = TABLE_MATRIX_LEN,
        .origin_x = frame->roi_x, .origin_y = frame->roi_y,
        .chroma = frame->chroma, .chroma_w = (frame->width + 1) / 2, .chroma_h = (frame->height + 1) / 2,
    };
    plan->v = (push_preprocess_v){
        .crop_w = cw, .crop_h = ch, .taps = (uint32_t)vw.taps,
        .v_table = (uint32_t)(TABLE_MATRIX_LEN + hlen), .layout_kind = LAYOUT_CHW,
    };
    /* The shader computes (v / 255 - mean') * inv_std'; choose mean' and
     * inv_std' so that this equals (v * rescale - mean) / std. */
    double r = pp->do_rescale ? pp->rescale_factor : 1.0;
    for (int c = 0; c < 3; c++) {
        double m = pp->do_normalize ? pp->mean[c] : 0.0;
        double s = pp->do_normalize ? pp->std[c] : 1.0;
        plan->v.mean[c] = (float)(m / (255.0 * r));
        plan->v.inv_std[c] = (float)(255.0 * r / s);
    }
    plan->rows_tmp_len = plan->h.rows * cw;
    free(hw.entries);
    free(vw.entries);
    return true;
}

void preprocess_plan_free(preprocess_plan *plan)
{
    free(plan->table);
    memset(plan, 0, sizeof *plan);
}
