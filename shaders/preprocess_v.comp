#version 450
// preprocess_v: the vertical pass, then scale to [0,1] and normalise with the
// model's mean and std. Writes either the CHW tensor (what `vkclip preprocess`
// prints) or straight into the patch rows the image tower multiplies by the
// patch-embedding weight (no separate im2col pass).
#include "preprocess.glsl"

layout(local_size_x = 8, local_size_y = 8) in;
layout(binding = 0) uniform usamplerBuffer ROWS;  // packed RGB8 from preprocess_h
layout(binding = 1) uniform isamplerBuffer TABLE;
layout(std430, binding = 2) writeonly buffer Out { float o[]; };

const uint LAYOUT_CHW = 0u;
const uint LAYOUT_PATCHES = 1u;

layout(push_constant) uniform Push {
    uint crop_w, crop_h;
    uint taps;
    uint v_table;
    uint out_off;
    uint layout_kind;
    uint patch_size, patches_per_side;
    vec4 mean;
    vec4 inv_std;
} p;

void main()
{
    uint cx = gl_GlobalInvocationID.x;
    uint cy = gl_GlobalInvocationID.y;
    if (cx >= p.crop_w || cy >= p.crop_h)
        return;
    uint entry = p.v_table + cy * (2u + p.taps);
    uint ymin = uint(texelFetch(TABLE, int(entry)).x); // relative to the first resampled row
    uint count = uint(texelFetch(TABLE, int(entry + 1u)).x);
    ivec3 acc = ivec3(1 << (PRECISION_BITS - 1));
    for (uint k = 0; k < count; k++) {
        int w = texelFetch(TABLE, int(entry + 2u + k)).x;
        uint rgb = texelFetch(ROWS, int((ymin + k) * p.crop_w + cx)).x;
        acc += w * ivec3(rgb & 255u, (rgb >> 8) & 255u, (rgb >> 16) & 255u);
    }
    vec3 v = (vec3(clip8(acc.r), clip8(acc.g), clip8(acc.b)) / 255.0 - p.mean.xyz) * p.inv_std.xyz;

    if (p.layout_kind == LAYOUT_CHW) {
        uint plane = p.crop_w * p.crop_h;
        uint at = p.out_off + cy * p.crop_w + cx;
        o[at] = v.r;
        o[at + plane] = v.g;
        o[at + 2u * plane] = v.b;
        return;
    }
    // Patch rows: [patch][c][py][px], patches in raster order; pixels past the
    // last whole patch are dropped, as the strided convolution drops them.
    uint P = p.patch_size;
    uint py = cy / P, px = cx / P;
    if (py >= p.patches_per_side || px >= p.patches_per_side)
        return;
    uint at = p.out_off + (py * p.patches_per_side + px) * 3u * P * P + (cy % P) * P + (cx % P);
    o[at] = v.r;
    o[at + P * P] = v.g;
    o[at + 2u * P * P] = v.b;
}
