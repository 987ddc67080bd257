#version 450
#ifdef ROW_SUBGROUPS
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
// layernorm_rows: layernorm.comp with a workgroup per row (the GPU variant):
// the row's invocations share its D values, and mean and variance are
// workgroup sums (row_reduce.glsl). Same push constants and bindings.
#include "common.glsl"

layout(local_size_x = 128) in;
#include "row_reduce.glsl"

layout(binding = 0) uniform samplerBuffer X;     // four values a texel
layout(binding = 1) uniform samplerBuffer GAMMA; // four values a texel
layout(binding = 2) uniform samplerBuffer BETA;  // four values a texel
layout(std430, binding = 3) writeonly buffer Out { OUT_VEC4 y[]; };

layout(push_constant) uniform Push {
    uint rows, D4;
    uint x_off, x_row; // in texels
    uint y_off, y_row; // in texels
    float eps;
} p;

void main()
{
    uint r = gl_WorkGroupID.x;
    uint lid = gl_LocalInvocationID.x;
    uint xb = p.x_off + r * p.x_row;
    uint yb = p.y_off + r * p.y_row;
    float n = float(p.D4 * 4);

    vec4 sum = vec4(0.0);
    for (uint d = lid; d < p.D4; d += ROW_THREADS)
        sum += texelFetch(X, int(xb + d));
    float mean = row_sum(sum.x + sum.y + sum.z + sum.w) / n;

    vec4 sq = vec4(0.0);
    for (uint d = lid; d < p.D4; d += ROW_THREADS) {
        vec4 c = texelFetch(X, int(xb + d)) - mean;
        sq += c * c;
    }
    float var = row_sum(sq.x + sq.y + sq.z + sq.w) / n;
    float rstd = 1.0 / sqrt(var + p.eps);

    for (uint d = lid; d < p.D4; d += ROW_THREADS) {
        vec4 v = (texelFetch(X, int(xb + d)) - mean) * rstd;
        y[yb + d] = OUT_VEC4(v * texelFetch(GAMMA, int(d)) + texelFetch(BETA, int(d)));
    }
}
