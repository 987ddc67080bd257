#version 450
// matmul: C = act(alpha * A·Bᵀ + bias) + residual, batched.
//
//   A [M][K]  texels of 4 values, row stride a_row (in texels)
//   B [N][K]  either a weight in the packed layout below, or another
//             activation with row stride b_row (attention's K and Vᵀ)
//   C [M][N]  elements, row stride c_row; the residual is read at the same index
//
// Each invocation owns TM rows × TN columns of C and walks K four values at a
// time: TM + TN fetches feed 4·TM·TN multiply-adds, which is what makes the
// CPU driver usable (a fetch is a function call there; arithmetic is cheap).
// Columns of one invocation are WG apart so that a workgroup covers WG·TN
// contiguous columns.
//
// Packed weights: [N / (WG·TN)][K/4][TN][WG] texels, so the WG lanes of a
// workgroup read consecutive texels at every step of K (one stream).
//
// Batches: workgroup z = outer · batch_inner + inner, each with its own offset
// stride for A, B and C (attention runs one batch per (image, head)).
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint TM = 8;
layout(constant_id = 2) const uint TN = 8;
layout(constant_id = 3) const uint B_PACKED = 0;
layout(constant_id = 4) const uint HAS_BIAS = 0;
layout(constant_id = 5) const uint HAS_RESIDUAL = 0;
layout(constant_id = 6) const uint ACT = 0;

layout(binding = 0) uniform samplerBuffer A;
layout(binding = 1) uniform samplerBuffer B;
layout(binding = 2) uniform samplerBuffer BIAS;     // one value per texel
layout(binding = 3) uniform samplerBuffer RESIDUAL; // one value per texel
layout(std430, binding = 4) writeonly buffer Out { OUT_T c[]; };

layout(push_constant) uniform Push {
    uint M, N, K4, batch_inner;
    uint a_off, a_outer, a_inner, a_row;
    uint b_off, b_outer, b_inner, b_row;
    uint c_off, c_outer, c_inner, c_row;
    float alpha;
} p;

void main()
{
    const uint WG = gl_WorkGroupSize.x;
    uint lid = gl_LocalInvocationID.x;
    uint nblock = gl_WorkGroupID.x;
    uint m0 = gl_WorkGroupID.y * TM;
    uint zo = gl_WorkGroupID.z / p.batch_inner;
    uint zi = gl_WorkGroupID.z % p.batch_inner;
    uint a_base = p.a_off + zo * p.a_outer + zi * p.a_inner;
    uint b_base = p.b_off + zo * p.b_outer + zi * p.b_inner;
    uint n_first = nblock * WG * TN + lid;

    // Rows past M read row M-1 (kept in range) and are never stored.
    uint a_row_at[TM];
    for (uint i = 0; i < TM; i++)
        a_row_at[i] = a_base + min(m0 + i, p.M - 1) * p.a_row;
    uint b_row_at[TN];
    for (uint j = 0; j < TN; j++)
        b_row_at[j] = B_PACKED != 0 ? b_base + (nblock * p.K4 * TN + j) * WG + lid
                                    : b_base + min(n_first + j * WG, p.N - 1) * p.b_row;
    uint b_step = B_PACKED != 0 ? TN * WG : 1;

    float acc[TM][TN];
    for (uint i = 0; i < TM; i++)
        for (uint j = 0; j < TN; j++)
            acc[i][j] = 0.0;

    for (uint k = 0; k < p.K4; k++) {
        vec4 b[TN];
        for (uint j = 0; j < TN; j++)
            b[j] = texelFetch(B, int(b_row_at[j] + k * b_step));
        vec4 a[TM];
        for (uint i = 0; i < TM; i++)
            a[i] = texelFetch(A, int(a_row_at[i] + k));
        for (uint i = 0; i < TM; i++)
            for (uint j = 0; j < TN; j++) {
                float s = acc[i][j];
                s = fma(a[i].x, b[j].x, s);
                s = fma(a[i].y, b[j].y, s);
                s = fma(a[i].z, b[j].z, s);
                s = fma(a[i].w, b[j].w, s);
                acc[i][j] = s;
            }
    }

    uint c_base = p.c_off + zo * p.c_outer + zi * p.c_inner;
    for (uint j = 0; j < TN; j++) {
        uint n = n_first + j * WG;
        if (n >= p.N)
            continue;
        float bias = HAS_BIAS != 0 ? texelFetch(BIAS, int(n)).x : 0.0;
        for (uint i = 0; i < TM; i++) {
            uint m = m0 + i;
            if (m >= p.M)
                continue;
            uint idx = c_base + m * p.c_row + n;
            float v = activate(p.alpha * acc[i][j] + bias, ACT);
            if (HAS_RESIDUAL != 0)
                v += texelFetch(RESIDUAL, int(idx)).x;
            c[idx] = OUT_T(v);
        }
    }
}
