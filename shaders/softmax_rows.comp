#version 450
#ifdef ROW_SUBGROUPS
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
// softmax_rows: softmax.comp with a workgroup per row (the GPU variant); the
// maximum and the sum are workgroup reductions (row_reduce.glsl). Same
// push constants, bindings, masking and zero padding up to Tp.
#include "common.glsl"

layout(local_size_x = 128) in;
#include "row_reduce.glsl"

layout(binding = 0) uniform samplerBuffer S; // one value a texel
layout(std430, binding = 1) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push {
    uint rows, T, Tp, causal;
} p;

void main()
{
    uint r = gl_WorkGroupID.x;
    uint lid = gl_LocalInvocationID.x;
    uint base = r * p.Tp;
    uint valid = p.causal != 0 ? (r % p.T) + 1 : p.T;

    float mx = -3.402823466e38;
    for (uint j = lid; j < valid; j += ROW_THREADS)
        mx = max(mx, texelFetch(S, int(base + j)).x);
    mx = row_max(mx);
    float sum = 0.0;
    for (uint j = lid; j < valid; j += ROW_THREADS)
        sum += exp(texelFetch(S, int(base + j)).x - mx);
    float inv = 1.0 / row_sum(sum);
    for (uint j = lid; j < p.Tp; j += ROW_THREADS)
        o[base + j] = j < valid ? exp(texelFetch(S, int(base + j)).x - mx) * inv : 0.0;
}
