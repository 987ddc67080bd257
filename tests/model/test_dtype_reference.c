/* dtype against NumPy (float16 both ways) and PyTorch (bfloat16), run at
 * test time: all 65536 halves and bfloat16s, and about 1.4 million float32
 * patterns chosen around the half rounding boundaries.
 * argv[1]: a Python with numpy and torch (Debian's /usr/bin/python3). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "model/dtype.h"
#include "test_files.h"

static const char *script =
    "import sys, numpy as np, torch\n"
    "d = sys.argv[1]\n"
    "x = np.fromfile(d + '/f32_in.bin', dtype=np.uint32).view(np.float32)\n"
    "x.astype(np.float16).view(np.uint16).tofile(d + '/f16_out.bin')\n"
    "h = np.arange(65536, dtype=np.uint32).astype(np.uint16)\n"
    "h.view(np.float16).astype(np.float32).view(np.uint32).tofile(d + '/h_to_f.bin')\n"
    "b = torch.from_numpy(h.view(np.int16).copy()).view(torch.bfloat16).float()\n"
    "b.numpy().view(np.uint32).tofile(d + '/b_to_f.bin')\n";

static uint32_t rng_state = 0x12345678u;

static uint32_t xorshift(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static void *read_all(const char *dir, const char *name, size_t expect_bytes)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    void *buf = malloc(expect_bytes + 1);
    size_t n = fread(buf, 1, expect_bytes + 1, f);
    fclose(f);
    if (n != expect_bytes) {
        free(buf);
        return NULL;
    }
    return buf;
}

static bool same_float(uint32_t a, uint32_t b)
{
    float fa, fb;
    memcpy(&fa, &a, 4);
    memcpy(&fb, &b, 4);
    if (isnan(fa) || isnan(fb))
        return isnan(fa) && isnan(fb); /* payload handling differs, NaN-ness must not */
    return a == b;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        SKIP("no reference Python given");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' -c 'import numpy, torch' 2>/dev/null", argv[1]);
    if (system(cmd) != 0)
        SKIP("%s lacks numpy or torch", argv[1]);

    /* inputs: every exponent near the half range with the 13 dropped bits at
     * and around the halfway point, plus random patterns */
    size_t cap = 1500000, n = 0;
    uint32_t *in = malloc(cap * sizeof *in);
    for (uint32_t e = 90; e <= 150; e++)
        for (int k = 0; k < 4000; k++) {
            uint32_t hi = xorshift() & 0x7FE000; /* the 10 kept bits */
            static const uint32_t low[] = { 0x1000, 0x0FFF, 0x1001, 0x0000, 0x1FFF };
            uint32_t sign = (xorshift() & 1) << 31;
            in[n++] = sign | (e << 23) | hi | low[k % 5];
        }
    while (n < cap - 16)
        in[n++] = xorshift();
    static const uint32_t special[] = { 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001, 0x00000000,
                                        0x80000000, 0x477FE000, 0x477FF000, 0x477FEFFF, 0x33000000,
                                        0x33000001, 0x387FE000, 0x387FF000, 0x00000001 };
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        in[n++] = special[i];

    char *dir = temp_dir_make();
    write_bytes(dir, "f32_in.bin", in, n * 4);
    write_bytes(dir, "check.py", script, strlen(script));
    snprintf(cmd, sizeof cmd, "'%s' '%s/check.py' '%s'", argv[1], dir, dir);
    int rc = system(cmd);
    CHECKF(rc == 0, "reference script failed (%d)", rc);

    uint16_t *f16_out = read_all(dir, "f16_out.bin", n * 2);
    uint32_t *h_to_f = read_all(dir, "h_to_f.bin", 65536 * 4);
    uint32_t *b_to_f = read_all(dir, "b_to_f.bin", 65536 * 4);
    CHECK(f16_out && h_to_f && b_to_f);
    if (f16_out && h_to_f && b_to_f) {
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) {
            float x;
            memcpy(&x, &in[i], 4);
            uint16_t ours = f32_to_f16(x), ref = f16_out[i];
            bool ok = isnan(x) ? ((ours & 0x7C00) == 0x7C00 && (ours & 0x3FF) && (ref & 0x7C00) == 0x7C00)
                               : ours == ref;
            if (!ok && bad++ < 5)
                fprintf(stderr, "f32_to_f16(0x%08x) = 0x%04x, numpy 0x%04x\n", in[i], ours, ref);
        }
        CHECKF(bad == 0, "%zu of %zu float32 -> half differ from numpy", bad, n);
        bad = 0;
        for (uint32_t h = 0; h < 65536; h++) {
            float a = f16_to_f32((uint16_t)h), b = bf16_to_f32((uint16_t)h);
            uint32_t ua, ub;
            memcpy(&ua, &a, 4);
            memcpy(&ub, &b, 4);
            if (!same_float(ua, h_to_f[h]) && bad++ < 5)
                fprintf(stderr, "f16_to_f32(0x%04x) = 0x%08x, numpy 0x%08x\n", h, ua, h_to_f[h]);
            if (!same_float(ub, b_to_f[h]) && bad++ < 5)
                fprintf(stderr, "bf16_to_f32(0x%04x) = 0x%08x, torch 0x%08x\n", h, ub, b_to_f[h]);
        }
        CHECKF(bad == 0, "%zu of 131072 half/bfloat16 -> float32 differ", bad);
    }
    free(f16_out);
    free(h_to_f);
    free(b_to_f);
    free(in);
    temp_dir_remove(dir);
    return check_exit();
}
