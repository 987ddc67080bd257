/* dtype: half and bfloat16 bit patterns worked out by hand from the IEEE
 * layouts (half: 1 sign, 5 exponent bits biased 15, 10 mantissa bits;
 * bfloat16: the top 16 bits of a float32). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "model/dtype.h"
#include "test_files.h"

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void test_f16_to_f32(void)
{
    CHECK(f16_to_f32(0x3C00) == 1.0f);
    CHECK(f16_to_f32(0xC000) == -2.0f);
    CHECK(f16_to_f32(0x7BFF) == 65504.0f);         /* (2 - 2^-10) * 2^15 */
    CHECK(f16_to_f32(0x3555) == 0.333251953125f);  /* (1 + 341/1024) * 2^-2 */
    CHECK(f16_to_f32(0x0001) == ldexpf(1.0f, -24)); /* smallest subnormal, 5.96e-8 */
    CHECK(f16_to_f32(0x03FF) == 1023.0f * ldexpf(1.0f, -24)); /* largest subnormal */
    CHECK(f16_to_f32(0x0400) == ldexpf(1.0f, -14)); /* smallest normal */
    CHECK(f16_to_f32(0x0000) == 0.0f && !signbit(f16_to_f32(0x0000)));
    CHECK(f16_to_f32(0x8000) == 0.0f && signbit(f16_to_f32(0x8000)));
    CHECK(f16_to_f32(0x8001) == -ldexpf(1.0f, -24));
    CHECK(isinf(f16_to_f32(0x7C00)) && f16_to_f32(0x7C00) > 0);
    CHECK(isinf(f16_to_f32(0xFC00)) && f16_to_f32(0xFC00) < 0);
    CHECK(isnan(f16_to_f32(0x7E00)) && isnan(f16_to_f32(0x7C01)) && isnan(f16_to_f32(0xFFFF)));
}

static void test_f32_to_f16(void)
{
    CHECK(f32_to_f16(1.0f) == 0x3C00);
    CHECK(f32_to_f16(-2.0f) == 0xC000);
    CHECK(f32_to_f16(65504.0f) == 0x7BFF);
    CHECK(f32_to_f16(0.0f) == 0x0000 && f32_to_f16(-0.0f) == 0x8000);
    /* ties to even: 1 + 2^-11 lies halfway between 0x3C00 and 0x3C01 */
    CHECK(f32_to_f16(1.0f + ldexpf(1.0f, -11)) == 0x3C00);
    CHECK(f32_to_f16(1.0f + 3 * ldexpf(1.0f, -11)) == 0x3C02); /* halfway 0x3C01..0x3C02 */
    CHECK(f32_to_f16(1.0f + ldexpf(1.0f, -11) + ldexpf(1.0f, -20)) == 0x3C01); /* above halfway */
    CHECK(f32_to_f16(1.0f + ldexpf(1.0f, -11) - ldexpf(1.0f, -23)) == 0x3C00); /* below */
    /* top of the range: 65520 is halfway to 2^16 (0x7C00 is "even"): inf */
    CHECK(f32_to_f16(65519.0f) == 0x7BFF);
    CHECK(f32_to_f16(65520.0f) == 0x7C00);
    CHECK(f32_to_f16(1e6f) == 0x7C00 && f32_to_f16(-1e6f) == 0xFC00);
    CHECK(f32_to_f16(INFINITY) == 0x7C00 && f32_to_f16(-INFINITY) == 0xFC00);
    uint16_t n = f32_to_f16(NAN);
    CHECK((n & 0x7C00) == 0x7C00 && (n & 0x03FF) != 0);
    n = f32_to_f16(from_bits(0x7F800001)); /* a NaN whose payload sits in the low bits */
    CHECK((n & 0x7C00) == 0x7C00 && (n & 0x03FF) != 0);
    /* subnormals: units of 2^-24 */
    CHECK(f32_to_f16(ldexpf(1.0f, -24)) == 0x0001);
    CHECK(f32_to_f16(ldexpf(1.0f, -25)) == 0x0000); /* halfway 0..1: even is 0 */
    CHECK(f32_to_f16(ldexpf(1.0f, -25) * (1.0f + ldexpf(1.0f, -23))) == 0x0001);
    CHECK(f32_to_f16(3 * ldexpf(1.0f, -25)) == 0x0002); /* halfway 1..2: even is 2 */
    CHECK(f32_to_f16(5 * ldexpf(1.0f, -25)) == 0x0002); /* halfway 2..3: even is 2 */
    CHECK(f32_to_f16(1e-8f) == 0x0000 && f32_to_f16(-1e-8f) == 0x8000);
    CHECK(f32_to_f16(ldexpf(1.0f, -14)) == 0x0400);
    CHECK(f32_to_f16(ldexpf(1.0f, -14) - ldexpf(1.0f, -25)) == 0x0400); /* halfway 0x3FF..0x400 */
    CHECK(f32_to_f16(ldexpf(1.0f, -14) - 3 * ldexpf(1.0f, -26)) == 0x03FF); /* below it */
    CHECK(f32_to_f16(1023 * ldexpf(1.0f, -24)) == 0x03FF);
    CHECK(f32_to_f16(from_bits(0x00000001)) == 0x0000); /* float subnormal */
}

static void test_bf16(void)
{
    CHECK(bf16_to_f32(0x3F80) == 1.0f);
    CHECK(bf16_to_f32(0xC000) == -2.0f);
    CHECK(bf16_to_f32(0x3E20) == 0.15625f); /* exponent 124 -> 2^-3, mantissa 0x20/0x80 = 0.25 */
    CHECK(isinf(bf16_to_f32(0x7F80)) && isnan(bf16_to_f32(0x7FC0)));
    CHECK(bf16_to_f32(0x0001) == ldexpf(1.0f, -133)); /* float subnormal 2^-149 * 2^16 */
}

/* Every half that is not NaN survives half -> float -> half. */
static void test_round_trip(void)
{
    int bad = 0;
    for (uint32_t h = 0; h <= 0xFFFF; h++) {
        if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF))
            continue;
        if (f32_to_f16(f16_to_f32((uint16_t)h)) != h)
            bad++;
    }
    CHECKF(bad == 0, "%d halves do not round-trip", bad);
}

/* Whole-tensor conversion from data at odd addresses. */
static void test_convert(void)
{
    /* header padded so that data starts at an odd offset of an aligned buffer */
    char hdr[256] = "{\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]},"
                    "\"f\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[6,14]},"
                    "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[14,18]},"
                    "\"i\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[18,22]}}";
    while ((8 + strlen(hdr)) % 4 != 1)
        strcat(hdr, " ");
    unsigned char data[22];
    const uint16_t h[3] = { 0x3C00, 0xC000, 0x7BFF };
    const float f[2] = { 1.0f + 3 * ldexpf(1.0f, -11), 65520.0f };
    const uint16_t b[2] = { 0x3F80, 0x3E20 };
    const int32_t i = 7;
    memcpy(data, h, 6);
    memcpy(data + 6, f, 8);
    memcpy(data + 14, b, 4);
    memcpy(data + 18, &i, 4);
    size_t size;
    unsigned char *img = st_image_ok(hdr, data, sizeof data, &size);
    errbuf err = { "" };
    st_file *file = st_parse(img, size, "convert", &err);
    CHECKF(file != NULL, "%s", err.msg);
    if (file) {
        const st_tensor *th = st_find(file, "h"), *tf = st_find(file, "f"), *tb = st_find(file, "b");
        CHECK(((uintptr_t)th->data & 1) == 1);
        float out[3];
        uint16_t out16[3];
        convert_to_f32(th, out);
        CHECK(out[0] == 1.0f && out[1] == -2.0f && out[2] == 65504.0f);
        convert_to_f16(th, out16);
        CHECK(out16[0] == 0x3C00 && out16[1] == 0xC000 && out16[2] == 0x7BFF);
        convert_to_f32(tf, out);
        CHECK(out[0] == f[0] && out[1] == 65520.0f);
        convert_to_f16(tf, out16);
        CHECK(out16[0] == 0x3C02 && out16[1] == 0x7C00);
        convert_to_f32(tb, out);
        CHECK(out[0] == 1.0f && out[1] == 0.15625f);
        convert_to_f16(tb, out16);
        CHECK(out16[0] == 0x3C00 && out16[1] == 0x3100); /* 0.15625 = 1.25 * 2^-3: exp 12, mant 0x100 */
        /* not a float weight: zeros, documented */
        out[0] = 5.0f;
        convert_to_f32(st_find(file, "i"), out);
        CHECK(out[0] == 0.0f);
    }
    st_close(file);
    free(img);
}

int main(void)
{
    test_f16_to_f32();
    test_f32_to_f16();
    test_bf16();
    test_round_trip();
    test_convert();
    return check_exit();
}
