#include "frames.h"

#include <stdlib.h>
#include <string.h>

typedef struct format_desc {
    uint32_t bytes_per_pixel;
    uint8_t r, g, b;
} format_desc;

static const format_desc packed_formats[] = {
    [VKCLIP_FORMAT_RGB] = {3, 0, 1, 2},  [VKCLIP_FORMAT_BGR] = {3, 2, 1, 0},
    [VKCLIP_FORMAT_RGBA] = {4, 0, 1, 2}, [VKCLIP_FORMAT_BGRA] = {4, 2, 1, 0},
    [VKCLIP_FORMAT_ARGB] = {4, 1, 2, 3}, [VKCLIP_FORMAT_ABGR] = {4, 3, 2, 1},
    [VKCLIP_FORMAT_RGBX] = {4, 0, 1, 2}, [VKCLIP_FORMAT_BGRX] = {4, 2, 1, 0},
    [VKCLIP_FORMAT_XRGB] = {4, 1, 2, 3}, [VKCLIP_FORMAT_XBGR] = {4, 3, 2, 1},
};

static int plane_count(vkclip_pixel_format f)
{
    return f == VKCLIP_FORMAT_I420 ? 3 : f == VKCLIP_FORMAT_NV12 ? 2 : 1;
}

static bool crop_is_whole(const vkclip_rect *r)
{
    return r->width == 0 || r->height == 0;
}

static bool is_yuv(vkclip_pixel_format f)
{
    return f == VKCLIP_FORMAT_I420 || f == VKCLIP_FORMAT_NV12;
}

/* How the shader interpolates a YUV frame's chroma (preprocess.h's CHROMA_*),
 * AUTO resolved as vkclip.h says; 0 for other formats. */
static uint32_t chroma_mode(const vkclip_frame *f)
{
    if (!is_yuv(f->format))
        return 0;
    vkclip_chroma_site s = f->chroma_site;
    if (s == VKCLIP_CHROMA_AUTO)
        s = f->format == VKCLIP_FORMAT_I420 ? VKCLIP_CHROMA_NEAREST
            : f->height > 576               ? VKCLIP_CHROMA_MPEG2
                                            : VKCLIP_CHROMA_JPEG;
    switch (s) {
    case VKCLIP_CHROMA_JPEG: return CHROMA_H_CENTRED | CHROMA_V_CENTRED;
    case VKCLIP_CHROMA_MPEG2: return CHROMA_H_COSITED | CHROMA_V_CENTRED;
    case VKCLIP_CHROMA_COSITED: return CHROMA_H_COSITED;
    case VKCLIP_CHROMA_V_COSITED: return CHROMA_H_CENTRED;
    default: return 0; /* NEAREST */
    }
}

void frame_geometry_of(const vkclip_frame *f, frame_geometry *g)
{
    memset(g, 0, sizeof *g);
    g->format = (int)f->format;
    g->width = f->width;
    g->height = f->height;
    int planes = (unsigned)f->format <= VKCLIP_FORMAT_NV12 ? plane_count(f->format) : 1;
    for (int p = 0; p < planes; p++)
        g->strides[p] = f->strides[p];
    /* Colorimetry and chroma siting only matter to YUV; RGB frames that
     * differ in them share a plan. */
    g->colorimetry = is_yuv(f->format) ? (int)f->colorimetry : 0;
    g->crop = crop_is_whole(&f->crop) ? (vkclip_rect){0, 0, f->width, f->height} : f->crop;
    g->chroma = (int)chroma_mode(f);
}

bool frame_geometry_equal(const frame_geometry *a, const frame_geometry *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

bool frame_same_pixels(const vkclip_frame *a, const vkclip_frame *b)
{
    if (a->format != b->format || a->width != b->width || a->height != b->height)
        return false;
    for (int p = 0; p < plane_count(a->format); p++)
        if (a->planes[p] != b->planes[p] || a->strides[p] != b->strides[p])
            return false;
    return true;
}

bool frame_describe(const vkclip_frame *f, frame_layout *l, errbuf *e)
{
    memset(l, 0, sizeof *l);
    if (f->width <= 0 || f->height <= 0 || f->width > MAX_FRAME_SIDE || f->height > MAX_FRAME_SIDE)
        return errbuf_set(e, "size %dx%d out of range (1..%d)", f->width, f->height, MAX_FRAME_SIDE);
    if ((unsigned)f->format > VKCLIP_FORMAT_NV12)
        return errbuf_set(e, "unknown pixel format %d", (int)f->format);
    if ((unsigned)f->colorimetry > VKCLIP_BT709_FULL)
        return errbuf_set(e, "unknown colorimetry %d", (int)f->colorimetry);
    if ((unsigned)f->chroma_site > VKCLIP_CHROMA_NEAREST)
        return errbuf_set(e, "unknown chroma siting %d", (int)f->chroma_site);
    const vkclip_rect *c = &f->crop;
    if (!crop_is_whole(c) &&
        (c->x < 0 || c->y < 0 || c->width < 0 || c->height < 0 || c->x > f->width - c->width ||
         c->y > f->height - c->height))
        return errbuf_set(e, "crop (x %d, y %d, %dx%d) is not inside the %dx%d frame", c->x, c->y, c->width,
                          c->height, f->width, f->height);
    if (crop_is_whole(c) && (c->width < 0 || c->height < 0))
        return errbuf_set(e, "crop (x %d, y %d, %dx%d) has a negative size", c->x, c->y, c->width, c->height);
    uint32_t w = (uint32_t)f->width, h = (uint32_t)f->height;
    uint32_t cw = (w + 1) / 2, ch = (h + 1) / 2;
    l->width = w;
    l->height = h;
    if (crop_is_whole(c)) {
        l->roi_w = w;
        l->roi_h = h;
    } else {
        l->roi_x = (uint32_t)c->x;
        l->roi_y = (uint32_t)c->y;
        l->roi_w = (uint32_t)c->width;
        l->roi_h = (uint32_t)c->height;
    }
    l->matrix = f->colorimetry == VKCLIP_BT709_LIMITED || f->colorimetry == VKCLIP_BT709_FULL ? YUV_BT709 : YUV_BT601;
    l->full_range = f->colorimetry == VKCLIP_BT601_FULL || f->colorimetry == VKCLIP_BT709_FULL;
    l->chroma = chroma_mode(f);
    int planes = plane_count(f->format);
    uint32_t row_bytes[3] = {0};
    if (f->format <= VKCLIP_FORMAT_XBGR) {
        const format_desc *d = &packed_formats[f->format];
        l->kind = d->bytes_per_pixel == 4 ? FRAME_RGBX : FRAME_PACKED;
        l->bytes_per_pixel = d->bytes_per_pixel;
        l->order = d->r | (uint32_t)d->g << 8 | (uint32_t)d->b << 16;
        row_bytes[0] = w * d->bytes_per_pixel;
    } else if (f->format == VKCLIP_FORMAT_GRAY8) {
        l->kind = FRAME_GRAY;
        row_bytes[0] = w;
    } else if (f->format == VKCLIP_FORMAT_I420) {
        l->kind = FRAME_I420;
        row_bytes[0] = w;
        row_bytes[1] = row_bytes[2] = cw;
    } else {
        l->kind = FRAME_NV12;
        row_bytes[0] = w;
        row_bytes[1] = 2 * cw;
    }
    for (int p = 0; p < planes; p++) {
        if (!f->planes[p])
            return errbuf_set(e, "plane %d is missing", p);
        if (f->strides[p] < (int)row_bytes[p])
            return errbuf_set(e, "stride %d of plane %d is shorter than a row (%u bytes)", f->strides[p], p,
                              row_bytes[p]);
    }
    l->stride0 = (row_bytes[0] + 3) & ~3u;
    l->stride1 = (row_bytes[1] + 3) & ~3u;
    uint64_t y_bytes = (uint64_t)l->stride0 * h;
    uint64_t c_bytes = (uint64_t)l->stride1 * ch;
    l->plane1 = (uint32_t)y_bytes;
    l->plane2 = (uint32_t)(y_bytes + c_bytes);
    l->bytes = y_bytes + (uint64_t)(planes - 1) * c_bytes;
    return true;
}

void frame_copy(const vkclip_frame *f, const frame_layout *l, uint8_t *dst)
{
    int planes = plane_count(f->format);
    for (int p = 0; p < planes; p++) {
        uint32_t rows = p == 0 ? l->height : (l->height + 1) / 2;
        uint32_t stride = p == 0 ? l->stride0 : l->stride1;
        uint32_t bytes = p == 0 ? (l->kind == FRAME_GRAY || planes > 1 ? l->width : l->width * l->bytes_per_pixel)
                                : (planes == 3 ? (l->width + 1) / 2 : 2 * ((l->width + 1) / 2));
        uint8_t *base = dst + (p == 0 ? 0 : p == 1 ? l->plane1 : l->plane2);
        if (stride == bytes && (uint32_t)f->strides[p] == bytes) {
            memcpy(base, f->planes[p], (size_t)rows * bytes);
            continue;
        }
        for (uint32_t y = 0; y < rows; y++) {
            memcpy(base + (size_t)y * stride, f->planes[p] + (size_t)y * f->strides[p], bytes);
            memset(base + (size_t)y * stride + bytes, 0, stride - bytes);
        }
    }
}

bool plan_cache_init(plan_cache *c, int capacity, errbuf *e)
{
    memset(c, 0, sizeof *c);
    c->entries = calloc((size_t)capacity, sizeof *c->entries);
    if (!c->entries)
        return errbuf_set(e, "out of memory");
    c->capacity = capacity;
    return true;
}

void plan_cache_free(plan_cache *c)
{
    for (int i = 0; c->entries && i < c->capacity; i++)
        preprocess_plan_free(&c->entries[i].plan);
    free(c->entries);
    memset(c, 0, sizeof *c);
}

const plan_entry *plan_cache_get(plan_cache *c, const clip_preprocess_config *pp, int side,
                                 const vkclip_frame *f, uint32_t max_texels, errbuf *e)
{
    frame_layout layout;
    if (!frame_describe(f, &layout, e))
        return NULL;
    /* Each frame is bound as its own texel view, so the limit is per frame. */
    if (layout.bytes > max_texels) {
        errbuf_set(e, "%dx%d: %llu bytes exceed the device's limit of %u bytes a frame", f->width, f->height,
                   (unsigned long long)layout.bytes, max_texels);
        return NULL;
    }
    frame_geometry key;
    frame_geometry_of(f, &key);
    c->clock++;
    plan_entry *oldest = &c->entries[0];
    for (int i = 0; i < c->capacity; i++) {
        plan_entry *p = &c->entries[i];
        if (p->last_used && frame_geometry_equal(&p->key, &key)) {
            p->last_used = c->clock;
            return p;
        }
        if (p->last_used < oldest->last_used)
            oldest = p;
    }
    preprocess_plan_free(&oldest->plan);
    oldest->last_used = 0;
    if (!preprocess_plan_make(&oldest->plan, pp, &layout, e))
        return NULL;
    /* Without a crop to the model's square, only frames that resize to it fit. */
    if (oldest->plan.v.crop_w != (uint32_t)side || oldest->plan.v.crop_h != (uint32_t)side) {
        errbuf_set(e, "preprocessing gives %ux%u, not the model's %dx%d", oldest->plan.v.crop_w,
                   oldest->plan.v.crop_h, side, side);
        preprocess_plan_free(&oldest->plan);
        return NULL;
    }
    oldest->key = key;
    oldest->layout = layout;
    oldest->last_used = c->clock;
    return oldest;
}
