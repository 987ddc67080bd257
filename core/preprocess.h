/* preprocess: the host half of image preprocessing. Plans the resize of a
 * frame of a given size exactly as Pillow does (the same double-precision
 * weights, turned into the same 22-bit fixed point) and describes the
 * frame's pixel layout; the shaders preprocess_h/preprocess_v do the rest. */
#ifndef VKCLIP_PREPROCESS_H
#define VKCLIP_PREPROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/config.h"
#include "ops.h"

/* Pillow's bicubic kernel (Keys, a = -0.5), support 2; also PyTorch's for an
 * antialiased bicubic resize (positions.c). */
double pillow_bicubic(double x);

/* Pixel layouts the horizontal pass reads (shaders/preprocess_h.comp). */
enum {
    FRAME_RGBX = 0,   /* 4 bytes a pixel, stride a multiple of 4 */
    FRAME_PACKED = 1, /* 3 or 4 bytes a pixel */
    FRAME_GRAY = 2,
    FRAME_I420 = 3,
    FRAME_NV12 = 4,
};

enum {
    LAYOUT_CHW = 0,     /* [3][H][W]: what `vkclip preprocess` writes */
    LAYOUT_PATCHES = 1, /* the image tower's patch rows */
};

/* How the horizontal pass interpolates I420/NV12 chroma to a pixel (bits of
 * frame_layout.chroma and push_preprocess_h.chroma; see vkclip_chroma_site):
 * along the row centred, cosited or not at all (nearest), then down the
 * column centred or not at all. */
enum {
    CHROMA_H_CENTRED = 1,
    CHROMA_H_COSITED = 2,
    CHROMA_V_CENTRED = 4,
};

/* The Y'CbCr to RGB matrix for a colorimetry. */
typedef enum yuv_matrix {
    YUV_BT601,
    YUV_BT709,
} yuv_matrix;

typedef struct frame_layout {
    uint32_t kind;            /* FRAME_* */
    uint32_t bytes_per_pixel; /* packed RGB formats */
    uint32_t order;           /* byte offsets of R, G, B: r | g << 8 | b << 16 */
    uint32_t width, height;   /* the whole frame, as stored */
    /* The region preprocessed (the whole frame without a crop): planned as
     * an image of roi_w × roi_h whose pixel (x, y) is the frame's
     * (roi_x + x, roi_y + y), chroma included. */
    uint32_t roi_x, roi_y, roi_w, roi_h;
    uint32_t stride0, stride1;
    uint32_t plane1, plane2; /* byte offsets of chroma planes in the frame buffer */
    uint64_t bytes;          /* total size of the frame buffer */
    yuv_matrix matrix;
    bool full_range;
    uint32_t chroma; /* CHROMA_* bits */
} frame_layout;

typedef struct preprocess_plan {
    int32_t *table; /* colour matrix, then horizontal and vertical weights */
    uint32_t table_len;
    push_preprocess_h h;
    push_preprocess_v v;
    uint32_t rows_tmp_len; /* packed RGB8 values between the passes */
} preprocess_plan;

bool preprocess_plan_make(preprocess_plan *plan, const clip_preprocess_config *pp,
                          const frame_layout *frame, errbuf *err);
void preprocess_plan_free(preprocess_plan *plan);

#endif
