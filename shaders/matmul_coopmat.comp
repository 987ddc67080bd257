#version 450
// matmul_coopmat: matmul_tiled.comp's C = act(alpha * A·Bᵀ + bias) + residual
// on the device's matrix units (VK_NV_cooperative_matrix: 16×16×16 products
// of fp16 with fp32 accumulation, the shape NVIDIA's tensor cores list). Only
// for fp16 weights; B is packed in blocks of 64 columns, as the shared
// kernel's 4×4 tiles pack it, so either kernel reads the same upload.
//
// A workgroup of four subgroups (of 32) owns a 64 × 64 block of C, each
// subgroup a 32 × 32 quarter as 2 × 2 accumulator matrices. At each step the
// workgroup stages 32 values of K of A's 64 rows and B's 64 columns in shared
// memory as fp16, [row][k] for both, so that A loads row-major and Bᵀ
// column-major with the same stride. The accumulators go through shared
// memory once at the end, where the invocations apply the epilogue and the
// edge guards as the other kernels do.
//
// Not run on any machine of this project yet: off unless VKCLIP_KERNELS asks
// for gemm=coopmat.
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#include "common.glsl"

layout(local_size_x = 128) in;
layout(constant_id = 0) const uint HAS_BIAS = 0;
layout(constant_id = 1) const uint HAS_RESIDUAL = 0;
layout(constant_id = 2) const uint ACT = 0;

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

const uint BM = 64, BN = 64, BK = 32, BK4 = BK / 4, THREADS = 128;

shared float16_t a_tile[BM * BK]; // [m][k]
shared float16_t b_tile[BN * BK]; // [n][k]
shared float c_tile[BM * BN];     // [m][n], for the epilogue

void main()
{
    uint t = gl_LocalInvocationID.x;
    uint nblock = gl_WorkGroupID.x;
    uint m0 = gl_WorkGroupID.y * BM;
    uint zo = gl_WorkGroupID.z / p.batch_inner;
    uint zi = gl_WorkGroupID.z % p.batch_inner;
    uint a_base = p.a_off + zo * p.a_outer + zi * p.a_inner;
    uint b_base = p.b_off + zo * p.b_outer + zi * p.b_inner + nblock * p.K4 * BN;
    uint sub_m = (gl_SubgroupID / 2) * 32, sub_n = (gl_SubgroupID % 2) * 32;

    fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> acc[2][2];
    for (uint i = 0; i < 2; i++)
        for (uint j = 0; j < 2; j++)
            acc[i][j] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);

    for (uint k0 = 0; k0 < p.K4; k0 += BK4) {
        // Rows past M read row M-1 (never stored); steps past K stage zeros.
        for (uint i = t; i < BM * BK4; i += THREADS) {
            uint m = i / BK4, kk = i % BK4;
            vec4 v = k0 + kk < p.K4 ? texelFetch(A, int(a_base + min(m0 + m, p.M - 1) * p.a_row + k0 + kk)) : vec4(0.0);
            f16vec4 h = f16vec4(v);
            for (uint e = 0; e < 4; e++)
                a_tile[m * BK + 4 * kk + e] = h[e];
        }
        for (uint i = t; i < BN * BK4; i += THREADS) {
            uint kk = i / BN, n = i % BN; // packed: at each step of K, the block's columns are consecutive
            vec4 v = k0 + kk < p.K4 ? texelFetch(B, int(b_base + (k0 + kk) * BN + n)) : vec4(0.0);
            f16vec4 h = f16vec4(v);
            for (uint e = 0; e < 4; e++)
                b_tile[n * BK + 4 * kk + e] = h[e];
        }
        barrier();
        for (uint kk = 0; kk < BK; kk += 16) {
            fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> a[2], b[2];
            for (uint i = 0; i < 2; i++)
                coopMatLoadNV(a[i], a_tile, (sub_m + 16 * i) * BK + kk, BK, false);
            for (uint j = 0; j < 2; j++)
                coopMatLoadNV(b[j], b_tile, (sub_n + 16 * j) * BK + kk, BK, true); // Bᵀ: column-major
            for (uint i = 0; i < 2; i++)
                for (uint j = 0; j < 2; j++)
                    acc[i][j] = coopMatMulAddNV(a[i], b[j], acc[i][j]);
        }
        barrier();
    }

    for (uint i = 0; i < 2; i++)
        for (uint j = 0; j < 2; j++)
            coopMatStoreNV(acc[i][j], c_tile, (sub_m + 16 * i) * BN + sub_n + 16 * j, BN, false);
    barrier();

    uint c_base = p.c_off + zo * p.c_outer + zi * p.c_inner;
    for (uint i = t; i < BM * BN; i += THREADS) {
        uint m = m0 + i / BN, n = nblock * BN + i % BN;
        if (m >= p.M || n >= p.N)
            continue;
        uint idx = c_base + m * p.c_row + n;
        float bias = HAS_BIAS != 0 ? texelFetch(BIAS, int(n)).x : 0.0;
        float v = activate(p.alpha * c_tile[i] + bias, ACT);
        if (HAS_RESIDUAL != 0)
            v += texelFetch(RESIDUAL, int(idx)).x;
        c[idx] = OUT_T(v);
    }
}
