/* dtype.c: IEEE half, bfloat16 and float32, bit for bit. */
#include "model/dtype.h"

#include <string.h>

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F;
    uint32_t mant = h & 0x3FF;
    if (exp == 0x1F) /* inf, or NaN keeping its payload */
        return bits_float(sign | 0x7F800000 | (mant << 13));
    if (exp == 0) {
        /* zero or subnormal: mant * 2^-24, exact in a float */
        float v = (float)mant * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    return bits_float(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t f32_to_f16(float f)
{
    uint32_t x = float_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    x &= 0x7FFFFFFF;
    if (x >= 0x7F800000) { /* inf stays inf; NaN stays a (quiet) NaN */
        if (x == 0x7F800000)
            return sign | 0x7C00;
        return sign | 0x7E00 | (uint16_t)((x >> 13) & 0x3FF);
    }
    /* 65520 is halfway between 65504 (max half, odd mantissa) and 2^16:
     * ties go to even, i.e. up, i.e. to infinity. */
    if (x >= 0x477FF000)
        return sign | 0x7C00;
    if (x < 0x38800000) { /* below 2^-14: a half subnormal or zero */
        if (x <= 0x33000000) /* at most 2^-25, half the smallest subnormal: to 0 */
            return sign;
        uint32_t exp = x >> 23;
        uint32_t mant = (x & 0x7FFFFF) | 0x800000;
        uint32_t shift = 126 - exp; /* value / 2^-24 = mant >> shift */
        uint32_t q = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1)))
            q++;
        return sign | (uint16_t)q;
    }
    /* normal: rebias the exponent (127 -> 15), keep 10 mantissa bits */
    uint32_t h = (x - 0x38000000) >> 13;
    uint32_t rem = x & 0x1FFF;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
        h++; /* a carry into the exponent is the correct rounding */
    return sign | (uint16_t)h;
}

float bf16_to_f32(uint16_t b)
{
    return bits_float((uint32_t)b << 16);
}

/* Element i of a float tensor, read with memcpy since data may be unaligned. */
static float element_f32(const st_tensor *t, const unsigned char *p, size_t i)
{
    switch (t->dtype) {
    case ST_F32: {
        float f;
        memcpy(&f, p + 4 * i, 4);
        return f;
    }
    case ST_F16: {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        return f16_to_f32(h);
    }
    case ST_BF16: {
        uint16_t b;
        memcpy(&b, p + 2 * i, 2);
        return bf16_to_f32(b);
    }
    default:
        return 0.0f;
    }
}

/* Callers check st_dtype_is_float_weight first (model_weights_expect does);
 * any other dtype converts to zeros rather than to garbage.
 * The files are little-endian, as is every host this project targets. */
void convert_to_f32(const st_tensor *t, float *dst)
{
    const unsigned char *p = t->data;
    size_t n = (size_t)t->numel;
    if (t->dtype == ST_F32) {
        memcpy(dst, p, n * 4);
        return;
    }
    for (size_t i = 0; i < n; i++)
        dst[i] = element_f32(t, p, i);
}

void convert_to_f16(const st_tensor *t, uint16_t *dst)
{
    const unsigned char *p = t->data;
    size_t n = (size_t)t->numel;
    if (t->dtype == ST_F16) {
        memcpy(dst, p, n * 2);
        return;
    }
    for (size_t i = 0; i < n; i++)
        dst[i] = f32_to_f16(element_f32(t, p, i));
}
