// common.glsl: what several kernels share.
//
// Activations are read through texel views (samplerBuffer): on llvmpipe, the
// CPU Vulkan driver, texel fetches are vector gathers while storage-buffer
// loads go lane by lane. The same memory is read as RGBA32F/RGBA16F (four
// values a fetch) or R32F/R16F, whichever the kernel needs, so a kernel does
// not care whether activations are stored in fp32 or fp16.
//
// Stores go to storage buffers of OUT_T: float, or float16_t when the file is
// compiled with -DOUT_F16 (activations kept in fp16; accumulation stays fp32).

#ifdef OUT_F16
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define OUT_T float16_t
#define OUT_VEC4 f16vec4
#else
#define OUT_T float
#define OUT_VEC4 vec4
#endif

const uint ACT_NONE = 0u;
const uint ACT_QUICK_GELU = 1u;
const uint ACT_GELU = 2u;
const uint ACT_GELU_TANH = 3u;

// erf with |error| < 1.5e-7 (Abramowitz & Stegun 7.1.26): GLSL has no erf, and
// the exact GELU of OpenCLIP checkpoints needs one to fp32 accuracy.
float erf_approx(float x)
{
    float s = sign(x);
    float a = abs(x);
    float t = 1.0 / (1.0 + 0.3275911 * a);
    float poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    return s * (1.0 - poly * exp(-a * a));
}

float activate(float x, uint act)
{
    if (act == ACT_QUICK_GELU)
        return x / (1.0 + exp(-1.702 * x));
    if (act == ACT_GELU)
        return 0.5 * x * (1.0 + erf_approx(x * 0.70710678118654752));
    if (act == ACT_GELU_TANH) {
        // tanh(u) as 1 - 2 / (exp(2u) + 1): finite for every u, where a
        // driver's tanh may overflow to NaN.
        float u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
        return 0.5 * x * (2.0 - 2.0 / (exp(2.0 * u) + 1.0));
    }
    return x;
}
