#version 450
// preprocess_h: the horizontal pass. Reads a frame in its own pixel format
// and writes, for each source row the vertical pass needs, the crop's
// columns of the horizontally resized row as packed RGB8.
#include "preprocess.glsl"

layout(local_size_x = 8, local_size_y = 8) in;
layout(binding = 0) uniform usamplerBuffer BYTES;  // the frame, one byte a texel
layout(binding = 1) uniform usamplerBuffer WORDS;  // the frame, a pixel (four bytes) a texel
layout(binding = 2) uniform isamplerBuffer TABLE;  // weights and colour matrix
layout(std430, binding = 3) writeonly buffer Out { uint rows_out[]; };

// Pixel formats (vkclip_pixel_format in core/vkclip.h decides these numbers).
const uint FMT_RGBX = 0u;  // 4 bytes a pixel, stride a multiple of 4: one fetch
const uint FMT_PACKED = 1u; // 3 or 4 bytes a pixel, any stride
const uint FMT_GRAY = 2u;
const uint FMT_I420 = 3u;
const uint FMT_NV12 = 4u;

layout(push_constant) uniform Push {
    uint format;
    uint bytes_per_pixel;
    uint order;           // byte offsets of R, G, B in a pixel: r | g << 8 | b << 16
    uint stride0, stride1;
    uint plane1, plane2;  // byte offsets of the chroma planes
    uint row_first, rows; // source rows to resample
    uint crop_w;          // output columns
    uint taps;            // weights per output column
    uint h_table;         // where the horizontal weights start in TABLE
    uint origin_x, origin_y; // the crop's top-left pixel: (x, y) of the crop is
                             // (origin_x + x, origin_y + y) of the frame, chroma too
} p;

uint byte_at(uint i)
{
    return texelFetch(BYTES, int(i)).x;
}

// YUV to RGB with the matrix and offsets the host put at TABLE[0..10]
// (float bits): rgb = M · (Y − y0, U − c0, V − c0), rounded to bytes.
uvec3 yuv_to_rgb(uint y, uint u, uint v)
{
    vec3 yuv = vec3(float(y) - intBitsToFloat(texelFetch(TABLE, 9).x),
                    float(u) - intBitsToFloat(texelFetch(TABLE, 10).x),
                    float(v) - intBitsToFloat(texelFetch(TABLE, 10).x));
    vec3 rgb;
    for (int c = 0; c < 3; c++)
        rgb[c] = dot(vec3(intBitsToFloat(texelFetch(TABLE, c * 3).x),
                          intBitsToFloat(texelFetch(TABLE, c * 3 + 1).x),
                          intBitsToFloat(texelFetch(TABLE, c * 3 + 2).x)), yuv);
    return uvec3(clamp(roundEven(rgb), 0.0, 255.0));
}

// Pixel (x, y) of the crop.
uvec3 pixel(uint x, uint y)
{
    x += p.origin_x;
    y += p.origin_y;
    uint ro = p.order & 255u, go = (p.order >> 8) & 255u, bo = (p.order >> 16) & 255u;
    if (p.format == FMT_RGBX) {
        uvec4 bytes = texelFetch(WORDS, int((y * p.stride0) / 4u + x)); // the pixel's four bytes
        return uvec3(bytes[ro], bytes[go], bytes[bo]);
    }
    if (p.format == FMT_PACKED) {
        uint at = y * p.stride0 + x * p.bytes_per_pixel;
        return uvec3(byte_at(at + ro), byte_at(at + go), byte_at(at + bo));
    }
    uint luma = byte_at(y * p.stride0 + x);
    if (p.format == FMT_GRAY)
        return uvec3(luma);
    if (p.format == FMT_I420) {
        uint c = (y / 2u) * p.stride1 + x / 2u;
        return yuv_to_rgb(luma, byte_at(p.plane1 + c), byte_at(p.plane2 + c));
    }
    uint c = p.plane1 + (y / 2u) * p.stride1 + (x / 2u) * 2u; // NV12
    return yuv_to_rgb(luma, byte_at(c), byte_at(c + 1u));
}

void main()
{
    uint cx = gl_GlobalInvocationID.x;
    uint row = gl_GlobalInvocationID.y;
    if (cx >= p.crop_w || row >= p.rows)
        return;
    uint entry = p.h_table + cx * (2u + p.taps);
    uint xmin = uint(texelFetch(TABLE, int(entry)).x);
    uint count = uint(texelFetch(TABLE, int(entry + 1u)).x);
    ivec3 acc = ivec3(1 << (PRECISION_BITS - 1));
    for (uint k = 0; k < count; k++) {
        int w = texelFetch(TABLE, int(entry + 2u + k)).x;
        acc += w * ivec3(pixel(xmin + k, p.row_first + row));
    }
    rows_out[row * p.crop_w + cx] = clip8(acc.r) | (clip8(acc.g) << 8) | (clip8(acc.b) << 16);
}
