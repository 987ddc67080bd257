#version 450
// swiglu: the gated MLP of DINOv2 giant, between its two projections: rows
// [r][2h] of the first projection's output become [r][h], silu(the first
// half) times the second half.
#include "common.glsl"

layout(local_size_x = 64) in;
layout(binding = 0) uniform samplerBuffer X; // one value a texel
layout(std430, binding = 1) writeonly buffer Out { OUT_T y[]; };

layout(push_constant) uniform Push {
    uint total, h;
} p;

void main()
{
    uint idx = gl_GlobalInvocationID.x;
    if (idx >= p.total)
        return;
    uint r = idx / p.h, j = idx % p.h;
    float a = texelFetch(X, int(r * 2u * p.h + j)).x;
    float b = texelFetch(X, int(r * 2u * p.h + p.h + j)).x;
    y[idx] = OUT_T(a / (1.0 + exp(-a)) * b);
}
