#version 450
// softmax: in place over rows of attention scores (fp32), one invocation per
// row. Row r of a block of T rows keeps its first T columns, or its first
// (r mod T) + 1 with the causal mask of the text tower; the rest of the row up
// to the padded length Tp is written as zero so that P·V can run over Tp.
layout(local_size_x = 64) in;
layout(binding = 0) uniform samplerBuffer S; // one value a texel
layout(std430, binding = 1) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push {
    uint rows, T, Tp, causal;
} p;

void main()
{
    uint r = gl_GlobalInvocationID.x;
    if (r >= p.rows)
        return;
    uint base = r * p.Tp;
    uint valid = p.causal != 0 ? (r % p.T) + 1 : p.T;

    float mx = -3.402823466e38;
    for (uint j = 0; j < valid; j++)
        mx = max(mx, texelFetch(S, int(base + j)).x);
    float sum = 0.0;
    for (uint j = 0; j < valid; j++)
        sum += exp(texelFetch(S, int(base + j)).x - mx);
    float inv = 1.0 / sum;
    for (uint j = 0; j < valid; j++)
        o[base + j] = exp(texelFetch(S, int(base + j)).x - mx) * inv;
    for (uint j = valid; j < p.Tp; j++)
        o[base + j] = 0.0;
}
