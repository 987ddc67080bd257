/* positions: a vision tower's position table resized to another patch grid,
 * as DINOv2 does for inputs other than the size it was trained at. */
#ifndef VKCLIP_POSITIONS_H
#define VKCLIP_POSITIONS_H

#include <stdbool.h>

/* in: [grid][grid][D] (row-major over the grid); out: [out_h][out_w][D].
 * PyTorch's bicubic interpolate with align_corners=False and size given:
 * source coordinate (i + 0.5) * grid / out - 0.5, the four nearest samples
 * (clamped at the borders) weighted by the cubic convolution with A = -0.75,
 * along x then y, in float as its CPU kernel computes. */
void positions_resample_bicubic(const float *in, int grid, int D, float *out, int out_h, int out_w);

/* The same resize with antialias=True (what DINOv2 with registers asks
 * for): Pillow's bicubic (A = -0.5), its window widened by the scale when
 * shrinking, cut at the borders and the weights renormalised. False when
 * out of memory. */
bool positions_resample_antialiased(const float *in, int grid, int D, float *out, int out_h, int out_w);

#endif
