#version 450
// transpose_heads: V of each head, transposed for P·V. From the fused
// projection rows [image·T + t][3D] (V at columns 2D + head·hd + d) to
// [image·H + head][d][Tp], zero past T so the padded K of P·V adds nothing.
#include "common.glsl"

layout(local_size_x = 64) in;
layout(binding = 0) uniform samplerBuffer QKV; // one value a texel
layout(std430, binding = 1) writeonly buffer Out { OUT_T vt[]; };

layout(push_constant) uniform Push {
    uint total, T, Tp, H, hd, row, v_col;
} p;

void main()
{
    uint idx = gl_GlobalInvocationID.x;
    if (idx >= p.total)
        return;
    uint t = idx % p.Tp;
    uint d = (idx / p.Tp) % p.hd;
    uint z = idx / (p.Tp * p.hd);
    uint image = z / p.H, head = z % p.H;
    float v = 0.0;
    if (t < p.T)
        v = texelFetch(QKV, int((image * p.T + t) * p.row + p.v_col + head * p.hd + d)).x;
    vt[idx] = OUT_T(v);
}
