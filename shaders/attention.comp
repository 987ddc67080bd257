#version 450
// attention: softmax(Q·Kᵀ · scale) · V for one head of one sequence and a
// block of query rows in a single pass, the GPU path (the CPU driver's runs
// QKᵀ, softmax and P·V as three kernels).
//
// Keys and values are staged in shared memory BKV rows at a time; each
// invocation owns one query row and keeps its running maximum, its sum of
// exponentials and its weighted sum of V rows (the online softmax), rescaled
// after every four keys by how much the maximum grew. The loop over chunks of
// four stays a loop (unrolling all BKV keys takes llvmpipe most of a minute
// to compile). So the T × T scores never go to memory, and
// each key is read from memory once per workgroup rather than once per query.
//
// Q, K and V are column ranges of the fused projection's rows
// [sequences · T][3D] (head h: texels h·HD4 of each third); the output is
// [sequences · T][D], heads side by side. With CAUSAL, query t sees keys
// 0..t (the text tower).
#include "common.glsl"

layout(local_size_x_id = 0) in;              // query rows a workgroup
layout(constant_id = 1) const uint HD4 = 16; // the head width in texels
layout(constant_id = 2) const uint BKV = 32; // keys staged at a time
layout(constant_id = 3) const uint CAUSAL = 0;

layout(binding = 0) uniform samplerBuffer QKV; // four values a texel
layout(std430, binding = 1) writeonly buffer Out { OUT_VEC4 o[]; };

layout(push_constant) uniform Push {
    uint T, D4; // tokens a sequence; the width in texels
    float scale;
} p;

shared vec4 k_tile[BKV * HD4];
shared vec4 v_tile[BKV * HD4];

void main()
{
    const uint BQ = gl_WorkGroupSize.x;
    uint lid = gl_LocalInvocationID.x;
    uint q0 = gl_WorkGroupID.x * BQ;
    uint q = q0 + lid;
    uint head = gl_WorkGroupID.y * HD4;
    uint row4 = 3 * p.D4;
    uint seq = gl_WorkGroupID.z * p.T * row4;

    // Rows past T read row T-1 (kept in range) and are never stored.
    vec4 qv[HD4];
    for (uint d = 0; d < HD4; d++)
        qv[d] = texelFetch(QKV, int(seq + min(q, p.T - 1) * row4 + head + d));
    uint visible = CAUSAL != 0 ? min(q, p.T - 1) + 1 : p.T;        // keys this row sees
    uint needed = CAUSAL != 0 ? min(q0 + BQ, p.T) : p.T;           // keys any row of the block sees

    float run_max = -3.402823466e38, run_sum = 0.0;
    vec4 acc[HD4];
    for (uint d = 0; d < HD4; d++)
        acc[d] = vec4(0.0);

    for (uint j0 = 0; j0 < needed; j0 += BKV) {
        for (uint i = lid; i < BKV * HD4; i += BQ) {
            uint key = seq + min(j0 + i / HD4, p.T - 1) * row4 + head + i % HD4;
            k_tile[i] = texelFetch(QKV, int(key + p.D4));
            v_tile[i] = texelFetch(QKV, int(key + 2 * p.D4));
        }
        barrier();
        // Four keys at a time: their scores, then one rescale for all four.
        for (uint j4 = 0; j4 < BKV / 4; j4++) {
            uint first = j0 + 4 * j4;
            if (first >= visible)
                break; // at least one key of a chunk is seen: the maximum below is a real score
            vec4 s;
            for (uint c = 0; c < 4; c++) {
                float qk = 0.0;
                for (uint d = 0; d < HD4; d++) {
                    vec4 k = k_tile[(4 * j4 + c) * HD4 + d];
                    qk = fma(qv[d].x, k.x, qk);
                    qk = fma(qv[d].y, k.y, qk);
                    qk = fma(qv[d].z, k.z, qk);
                    qk = fma(qv[d].w, k.w, qk);
                }
                s[c] = first + c < visible ? p.scale * qk : -3.402823466e38;
            }
            float m = max(run_max, max(max(s.x, s.y), max(s.z, s.w)));
            float rescale = exp(run_max - m);
            vec4 w = exp(s - m); // 0 for the keys not seen
            run_sum = run_sum * rescale + (w.x + w.y) + (w.z + w.w);
            for (uint d = 0; d < HD4; d++) {
                uint v = 4 * j4 * HD4 + d;
                acc[d] = acc[d] * rescale + w.x * v_tile[v] + w.y * v_tile[v + HD4] + w.z * v_tile[v + 2 * HD4] +
                         w.w * v_tile[v + 3 * HD4];
            }
            run_max = m;
        }
        barrier();
    }

    if (q < p.T) {
        float inv = 1.0 / run_sum;
        uint out_row = (gl_WorkGroupID.z * p.T + q) * p.D4 + head;
        for (uint d = 0; d < HD4; d++)
            o[out_row + d] = OUT_VEC4(acc[d] * inv);
    }
}
