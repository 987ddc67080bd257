/* frames: what the image side does with a vkclip_frame on the host: checks
 * it (size, format, planes, strides, crop), describes how it sits in staging
 * memory, copies it there, and keeps preprocessing plans for the geometries
 * seen so that a stream of equal frames plans once. */
#ifndef VKCLIP_FRAMES_H
#define VKCLIP_FRAMES_H

#include <stdbool.h>
#include <stdint.h>

#include "preprocess.h"
#include "vkclip.h"

#define MAX_FRAME_SIDE 32768

/* Everything a frame's plan depends on: the key of the plan cache. The crop
 * is the rectangle used (the whole frame when the frame's crop is empty). */
typedef struct frame_geometry {
    int format, width, height;
    int strides[3];
    int colorimetry;
    vkclip_rect crop;
    int chroma; /* CHROMA_* resampling of YUV formats (AUTO resolved); 0 otherwise */
} frame_geometry;

/* Zeroes the key first (it is compared with memcmp). */
void frame_geometry_of(const vkclip_frame *f, frame_geometry *g);
bool frame_geometry_equal(const frame_geometry *a, const frame_geometry *b);

/* Checks a frame and describes its staging layout (planes repacked one after
 * another with tight, 4-byte aligned strides) and the crop. Messages do not
 * name the frame: callers prefix "frame N". */
bool frame_describe(const vkclip_frame *f, frame_layout *l, errbuf *e);

/* True when a and b have the same bytes: planes, strides, format and size
 * (they may differ in crop, colorimetry and chroma siting). One upload
 * serves both. */
bool frame_same_pixels(const vkclip_frame *a, const vkclip_frame *b);

/* Writes the frame's planes at dst in the layout frame_describe gave. */
void frame_copy(const vkclip_frame *f, const frame_layout *l, uint8_t *dst);

/* A plan made for a geometry, kept by a plan_cache. */
typedef struct plan_entry {
    frame_geometry key;
    frame_layout layout;
    preprocess_plan plan;
    uint64_t last_used; /* 0: empty */
} plan_entry;

typedef struct plan_cache {
    plan_entry *entries;
    int capacity;
    uint64_t clock;
} plan_cache;

bool plan_cache_init(plan_cache *c, int capacity, errbuf *e);
void plan_cache_free(plan_cache *c);

/* The plan of frame f (made, checked and kept unless already there; the
 * least recently used entry makes room). The preprocessed image must be
 * side × side. Pointers stay valid until `capacity` other geometries have
 * been looked up since. Messages do not name the frame. */
const plan_entry *plan_cache_get(plan_cache *c, const clip_preprocess_config *pp, int side,
                                 const vkclip_frame *f, uint32_t max_texels, errbuf *e);

#endif
