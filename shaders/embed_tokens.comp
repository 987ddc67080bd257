#version 450
// embed_tokens: finishes the image embeddings in the residual stream x
// [image][T][D] (fp32), whose rows 1..T-1 hold the patch projections:
// row 0 becomes class_embedding + position 0, the others get position t added.
layout(local_size_x = 64) in;
layout(binding = 0) uniform samplerBuffer X;     // four values a texel
layout(binding = 1) uniform samplerBuffer CLS;   // four values a texel
layout(binding = 2) uniform samplerBuffer POS;   // four values a texel, [T][D]
layout(std430, binding = 3) writeonly buffer Out { vec4 x[]; };

layout(push_constant) uniform Push {
    uint total, T, D4;
} p;

void main()
{
    uint idx = gl_GlobalInvocationID.x;
    if (idx >= p.total)
        return;
    uint d = idx % p.D4;
    uint t = (idx / p.D4) % p.T;
    vec4 base = t == 0 ? texelFetch(CLS, int(d)) : texelFetch(X, int(idx));
    x[idx] = base + texelFetch(POS, int(t * p.D4 + d));
}
