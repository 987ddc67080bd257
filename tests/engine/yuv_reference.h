/* yuv_reference: what GStreamer 1.22's videoconvert makes of an 8-bit I420
 * or NV12 frame as RGB, for the tests: a reimplementation of its arithmetic
 * written from GStreamer's sources (video-converter.c, video-chroma.c,
 * video-format.c, video-orc.orc), in GStreamer's own shape (rows unpacked
 * to AYUV with each chroma sample doubled, chroma resampled in place a row
 * and a pair of rows at a time, the ORC matrix program emulated with its
 * 16-bit operations), not the shader's. test_videoconvert.py holds it
 * against videoconvert itself, bit for bit. */
#ifndef VKCLIP_TEST_YUV_REFERENCE_H
#define VKCLIP_TEST_YUV_REFERENCE_H

#include <stdbool.h>
#include <stdint.h>

#include "vkclip.h"

/* The RGB8 (width x height x 3) of the whole frame f (its crop ignored), with
 * f's colorimetry and chroma siting as vkclip.h defines them. False when f is
 * not I420 or NV12. */
bool yuv_reference_rgb(const vkclip_frame *f, uint8_t *rgb);

#endif
