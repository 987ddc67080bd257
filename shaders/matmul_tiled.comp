#version 450
// matmul_tiled: C = act(alpha * A·Bᵀ + bias) + residual for a packed weight B,
// the GPU kernel (matmul.comp is the CPU driver's).
//
// A workgroup of 16×16 invocations owns a BM × BN block of C (BM = 16·TM,
// BN = 16·TN). At each step it stages BK4 texels of K of A's BM rows and of
// B's BN columns in shared memory, so that a value read from memory once
// feeds 16 invocations' multiply-adds; each invocation then keeps TM × TN
// accumulators in registers, its rows and columns 16 apart so that a row of
// invocations stores consecutive columns. Activations may be fp16 in memory
// (the texel view converts); staging and accumulation are fp32.
//
// B is packed in blocks of BN columns ([N / BN][K/4][BN] texels, pack_weight
// in ops.c), so one step's B tile is BK4·BN consecutive texels, and the
// padding columns past N are zeros.
//
// Batches: workgroup z = outer · batch_inner + inner, offsets as in matmul.comp
// (the patch embedding runs one batch per image against one weight).
#include "common.glsl"

layout(local_size_x = 16, local_size_y = 16) in;
layout(constant_id = 0) const uint TM = 4;
layout(constant_id = 1) const uint TN = 4;
layout(constant_id = 2) const uint BK4 = 4;
layout(constant_id = 3) const uint HAS_BIAS = 0;
layout(constant_id = 4) const uint HAS_RESIDUAL = 0;
layout(constant_id = 5) const uint ACT = 0;

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

const uint THREADS = 256;
const uint BM = 16 * TM;
const uint BN = 16 * TN;

shared vec4 a_tile[BK4 * BM]; // [k][m]
shared vec4 b_tile[BK4 * BN]; // [k][n]

void main()
{
    uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
    uint t = ty * 16 + tx;
    uint nblock = gl_WorkGroupID.x;
    uint m0 = gl_WorkGroupID.y * BM;
    uint zo = gl_WorkGroupID.z / p.batch_inner;
    uint zi = gl_WorkGroupID.z % p.batch_inner;
    uint a_base = p.a_off + zo * p.a_outer + zi * p.a_inner;
    uint b_base = p.b_off + zo * p.b_outer + zi * p.b_inner + nblock * p.K4 * BN;

    float acc[TM][TN];
    for (uint i = 0; i < TM; i++)
        for (uint j = 0; j < TN; j++)
            acc[i][j] = 0.0;

    for (uint k0 = 0; k0 < p.K4; k0 += BK4) {
        // Rows past M read row M-1 (kept in range) and are never stored;
        // steps past K stage zeros.
        for (uint i = t; i < BM * BK4; i += THREADS) {
            uint m = i / BK4, kk = i % BK4;
            uint row = min(m0 + m, p.M - 1);
            a_tile[kk * BM + m] = k0 + kk < p.K4 ? texelFetch(A, int(a_base + row * p.a_row + k0 + kk)) : vec4(0.0);
        }
        for (uint i = t; i < BN * BK4; i += THREADS) {
            uint kk = i / BN;
            b_tile[i] = k0 + kk < p.K4 ? texelFetch(B, int(b_base + k0 * BN + i)) : vec4(0.0);
        }
        barrier();
        for (uint kk = 0; kk < BK4; kk++) {
            vec4 a[TM], b[TN];
            for (uint i = 0; i < TM; i++)
                a[i] = a_tile[kk * BM + ty + 16 * i];
            for (uint j = 0; j < TN; j++)
                b[j] = b_tile[kk * BN + tx + 16 * j];
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
        barrier();
    }

    uint c_base = p.c_off + zo * p.c_outer + zi * p.c_inner;
    for (uint j = 0; j < TN; j++) {
        uint n = nblock * BN + tx + 16 * j;
        if (n >= p.N)
            continue;
        float bias = HAS_BIAS != 0 ? texelFetch(BIAS, int(n)).x : 0.0;
        for (uint i = 0; i < TM; i++) {
            uint m = m0 + ty + 16 * i;
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
