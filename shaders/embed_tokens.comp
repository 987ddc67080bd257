#version 450
// embed_tokens: finishes the image embeddings in the residual stream x
// [image][T][D] (fp32), whose rows after the prefix hold the patch
// projections: the prefix rows (the class token with its position, then any
// register tokens) are copied in, the patch rows get their positions added.
layout(local_size_x = 64) in;
layout(binding = 0) uniform samplerBuffer X;      // four values a texel
layout(binding = 1) uniform samplerBuffer PREFIX; // four values a texel, [prefix][D]
layout(binding = 2) uniform samplerBuffer POS;    // four values a texel, [T - prefix][D]
layout(std430, binding = 3) writeonly buffer Out { vec4 x[]; };

layout(push_constant) uniform Push {
    uint total, T, D4, prefix;
} p;

void main()
{
    uint idx = gl_GlobalInvocationID.x;
    if (idx >= p.total)
        return;
    uint d = idx % p.D4;
    uint t = (idx / p.D4) % p.T;
    x[idx] = t < p.prefix ? texelFetch(PREFIX, int(t * p.D4 + d))
                          : texelFetch(X, int(idx)) + texelFetch(POS, int((t - p.prefix) * p.D4 + d));
}
