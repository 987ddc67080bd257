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
    uint chroma;             // CHROMA_* below (YUV formats)
    uint chroma_w, chroma_h; // the frame's chroma samples per row and column
} p;

// Chroma interpolation (core/preprocess.h, vkclip_chroma_site in vkclip.h).
const uint CHROMA_H_CENTRED = 1u;
const uint CHROMA_H_COSITED = 2u;
const uint CHROMA_V_CENTRED = 4u;

uint byte_at(uint i)
{
    return texelFetch(BYTES, int(i)).x;
}

// GStreamer's 8-bit YUV to RGB (ORC video_orc_convert_I420_ARGB): each
// component minus 128 as a signed byte, widened by duplicating the byte
// (splatbw), multiplied by the coefficients at TABLE[0..4] keeping the
// high 16 bits (mulhsw), summed, saturated to a signed byte, plus 128.
int splat(int s)
{
    return s * 256 + (s & 255);
}

int mulhs(int a, int c)
{
    return (a * c) >> 16;
}

// m: the coefficients of Y (all three), V in R, U in B, U in G, V in G.
uvec3 yuv_to_rgb(int m[5], int y, int u, int v)
{
    int wy = mulhs(splat(y - 128), m[0]);
    int wu = splat(u - 128), wv = splat(v - 128);
    ivec3 rgb = ivec3(wy + mulhs(wv, m[1]), wy + mulhs(wu, m[3]) + mulhs(wv, m[4]), wy + mulhs(wu, m[2]));
    return uvec3(clamp(rgb, -128, 127) + 128);
}

// Pixel (x, y) of the crop, packed formats and GRAY8.
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
    return uvec3(byte_at(y * p.stride0 + x));
}

// Chroma column j (clamped to the frame) of the two chroma rows a pixel row
// interpolates between: (U of row r0, U of r1, V of r0, V of r1).
ivec4 chroma_column(int j, uint r0, uint r1)
{
    uint c = uint(clamp(j, 0, int(p.chroma_w) - 1));
    uint a0 = r0 * p.stride1, a1 = r1 * p.stride1;
    if (p.format == FMT_I420)
        return ivec4(byte_at(p.plane1 + a0 + c), byte_at(p.plane1 + a1 + c),
                     byte_at(p.plane2 + a0 + c), byte_at(p.plane2 + a1 + c));
    uint at0 = p.plane1 + a0 + 2u * c, at1 = p.plane1 + a1 + 2u * c; // NV12
    return ivec4(byte_at(at0), byte_at(at1), byte_at(at0 + 1u), byte_at(at1 + 1u));
}

// The horizontal resampling of one row of an I420/NV12 frame. Chroma is
// interpolated as GStreamer's chroma resampler does (video-chroma.c): along
// the row first, (wa * a + wb * b + 2) >> 2 from the chroma columns around
// the pixel (centred: 1:3 on even pixels, 3:1 on odd; cosited: the sample
// itself on even pixels, 2:2 on odd; nearest: the sample itself), then down
// the column the same way between two chroma rows (centred or nearest).
// The taps walk along the row, so the three chroma columns around the
// current one are kept and each is fetched once.
uint resample_yuv(uint cx, uint row, uint xmin, uint count, uint entry)
{
    uint y = p.origin_y + p.row_first + row; // in the frame
    uint k = y >> 1u, r0 = k, r1 = k;
    int va = 4, vb = 0;
    if ((p.chroma & CHROMA_V_CENTRED) != 0u) {
        if ((y & 1u) == 0u) {
            r0 = max(k, 1u) - 1u;
            va = 1;
            vb = 3;
        } else {
            r1 = min(k + 1u, p.chroma_h - 1u);
            va = 3;
            vb = 1;
        }
    }
    bool centred = (p.chroma & CHROMA_H_CENTRED) != 0u, cosited = (p.chroma & CHROMA_H_COSITED) != 0u;
    uint x = p.origin_x + xmin; // in the frame
    int j = int(x >> 1u);
    ivec4 prev = chroma_column(j - 1, r0, r1), cur = chroma_column(j, r0, r1), next = chroma_column(j + 1, r0, r1);
    uint luma = y * p.stride0;
    int m[5];
    for (int i = 0; i < 5; i++)
        m[i] = texelFetch(TABLE, i).x;
    ivec3 acc = ivec3(1 << (PRECISION_BITS - 1));
    for (uint t = 0; t < count; t++, x++) {
        if (int(x >> 1u) != j) { // one chroma column further along
            j++;
            prev = cur;
            cur = next;
            next = chroma_column(j + 1, r0, r1);
        }
        ivec4 a = cur, b = cur;
        int ha = 4, hb = 0;
        if ((x & 1u) == 0u) {
            if (centred) {
                a = prev;
                ha = 1;
                hb = 3;
            }
        } else if (centred || cosited) {
            b = next;
            ha = centred ? 3 : 2;
            hb = centred ? 1 : 2;
        }
        ivec4 h = (ha * a + hb * b + 2) >> 2;                       // along the row
        ivec2 uv = (va * h.xz + vb * h.yw + 2) >> 2;                // down the column
        uvec3 rgb = yuv_to_rgb(m, int(byte_at(luma + x)), uv.x, uv.y);
        acc += texelFetch(TABLE, int(entry + 2u + t)).x * ivec3(rgb);
    }
    return clip8(acc.r) | (clip8(acc.g) << 8) | (clip8(acc.b) << 16);
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
    if (p.format == FMT_I420 || p.format == FMT_NV12) {
        rows_out[row * p.crop_w + cx] = resample_yuv(cx, row, xmin, count, entry);
        return;
    }
    ivec3 acc = ivec3(1 << (PRECISION_BITS - 1));
    for (uint k = 0; k < count; k++) {
        int w = texelFetch(TABLE, int(entry + 2u + k)).x;
        acc += w * ivec3(pixel(xmin + k, p.row_first + row));
    }
    rows_out[row * p.crop_w + cx] = clip8(acc.r) | (clip8(acc.g) << 8) | (clip8(acc.b) << 16);
}
