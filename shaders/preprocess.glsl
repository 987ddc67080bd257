// preprocess.glsl: what the two resampling passes share.
//
// The resize is Pillow's: separable, horizontal pass first, each output
// sample a sum of input samples times 22-bit fixed-point weights, rounded to
// 8 bits after each pass. The weights are computed on the host exactly as
// Pillow computes them (double precision, then fixed point) and read from
// TABLE, so the shader only does Pillow's integer arithmetic.

const int PRECISION_BITS = 22;

// Pillow's clip8: the fixed-point sum (which starts at 1 << 21 for rounding)
// shifted down and clamped to a byte.
uint clip8(int acc)
{
    return uint(clamp(acc >> PRECISION_BITS, 0, 255));
}
