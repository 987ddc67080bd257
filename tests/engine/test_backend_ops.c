/* test_backend_ops: each op of ops.h run by both backends on the same random
 * inputs (ggml's test-backend-ops pattern): the CPU backend's C and sgemm
 * against the shaders on lavapipe, fp32 on both sides. Shapes are the
 * awkward ones the towers use: batched strided attention matmuls with a
 * scale, packed weights with bias, every activation and a residual, a
 * shared operand (SigLIP's probe), LayerNorm on strided rows in place and
 * out, causal and padded softmax, and the token embedding with and without
 * a prefix. The CPU backend runs on three threads, and its activations
 * (a polynomial e^x) are also checked against double precision from -100
 * to 100. Exit 77 without a Vulkan device. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "kernels.h"
#include "ops.h"
#include "vk/vk_command.h"

typedef struct backend {
    vk_context ctx;
    kernel_cache kernels;
    vk_arena arena;
    vk_sequence seq;
} backend;

static float next_uniform(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*state >> 40) & 0xffffff) / (float)0x1000000 * 2.0f - 1.0f;
}

static void fill(float *v, size_t n, uint64_t seed, float scale)
{
    uint64_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++)
        v[i] = next_uniform(&s) * scale;
}

/* cpu: the CPU backend; else lavapipe with the kernels of plan `plan_name`. */
static bool backend_open(backend *b, bool cpu, const char *plan_name)
{
    memset(b, 0, sizeof *b);
    errbuf e = {{0}};
    vk_context_options o = {.device_index = -1};
    /* Three threads on any machine: the ops' ranges are split and run concurrently. */
    if (!(cpu ? vk_context_create_cpu(&b->ctx, 3, &e) : vk_context_create(&b->ctx, &o, &e))) {
        fprintf(stderr, "%s\n", e.msg);
        return false;
    }
    kernel_plan plan;
    if (!kernel_plan_make(cpu, plan_name, &plan, &e)) {
        fprintf(stderr, "plan %s: %s\n", plan_name, e.msg);
        return false;
    }
    kernel_cache_init(&b->kernels, &b->ctx, plan);
    vk_arena_init(&b->arena, VK_MEMORY_READBACK, 64u << 20);
    return true;
}

static void backend_close(backend *b)
{
    vk_arena_destroy(&b->ctx, &b->arena);
    kernel_cache_destroy(&b->kernels);
    vk_context_destroy(&b->ctx);
}

/* n fp32 values, a copy of init (or zeros). */
static dbuf buffer(backend *b, size_t n, const float *init)
{
    errbuf e = {{0}};
    dbuf d = {.type = STORAGE_F32};
    if (!vk_arena_alloc(&b->ctx, &b->arena, n * 4, &d.slice, &e) || !d.slice.mapped) {
        fprintf(stderr, "buffer: %s\n", e.msg);
        exit(1);
    }
    if (init)
        memcpy(d.slice.mapped, init, n * 4);
    else
        memset(d.slice.mapped, 0, n * 4);
    return d;
}

static recorder begin(backend *b, errbuf *e)
{
    vk_sequence_begin(&b->ctx, &b->seq, e);
    return (recorder){.seq = &b->seq, .kernels = &b->kernels, .dummy = buffer(b, 16, NULL).slice, .err = e};
}

static bool finish(backend *b, bool recorded, errbuf *e)
{
    bool ok = recorded && vk_sequence_end(&b->seq, e) && vk_sequence_submit(&b->seq, e) &&
              vk_sequence_wait(&b->seq, e);
    vk_sequence_destroy(&b->seq);
    return ok;
}

/* Largest |a - b| relative to the largest |b| (at least 1). */
static double compare(const float *a, const float *b, size_t n)
{
    double worst = 0, scale = 1;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(b[i]));
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        worst = isnan(d) ? INFINITY : fmax(worst, d);
    }
    return worst / scale;
}

static void expect_close(const char *what, const float *cpu, const float *gpu, size_t n, double tolerance)
{
    double err = compare(cpu, gpu, n);
    CHECKF(err <= tolerance, "%s: CPU and lavapipe differ by %.3g (relative, > %.1g)", what, err, tolerance);
    printf("%-58s relative difference %.2e\n", what, err);
}

static backend vk, gpu, cpu; /* lavapipe's plan, the GPU plan on lavapipe, the CPU backend */
static backend sg;            /* the GPU plan with rows=subgroup (lavapipe's subgroups are 8 wide) */
static bool have_sg;          /* the device has subgroup arithmetic */

/* ---- matmul ---- */

/* A weight W [N][K] in each backend's layout. */
typedef struct weight_rows {
    const float *w;
    uint32_t K;
} weight_rows;

static void get_row(void *user, uint32_t n, float *dst)
{
    const weight_rows *r = user;
    memcpy(dst, r->w + (size_t)n * r->K, r->K * sizeof *dst);
}

static dbuf packed(backend *b, const float *w, uint32_t N, uint32_t K, matmul_tiles t)
{
    if (b->ctx.cpu) /* the CPU backend's packing is the rows themselves */
        return buffer(b, (size_t)N * K, w);
    dbuf d = buffer(b, packed_weight_bytes(N, K, t, STORAGE_F32) / 4, NULL);
    weight_rows r = {w, K};
    pack_weight(d.slice.mapped, N, K, t, STORAGE_F32, get_row, &r);
    return d;
}

/* y = act(x Wᵀ + b) (+ y0 when residual) over `rows` rows on backend b;
 * y0 NULL starts from zeros. Returns y, mapped. */
static float *run_linear(backend *b, const float *x, const float *w, const float *bias, const float *y0,
                         uint32_t rows, uint32_t N, uint32_t K, activation act, bool residual, const char *what)
{
    matmul_tiles tiles = b->kernels.plan.linear;
    errbuf e = {{0}};
    recorder r = begin(b, &e);
    dbuf xb = buffer(b, (size_t)rows * K, x), yb = buffer(b, (size_t)rows * N, y0);
    dbuf wb = packed(b, w, N, K, tiles), bb = buffer(b, N, bias);
    matmul_op op = {.M = rows, .N = N, .K = K, .batch_outer = 1, .batch_inner = 1,
                    .a = {.buf = xb, .row = K / 4}, .b = {.buf = wb}, .c = {.buf = yb, .row = N},
                    .b_packed = true, .tiles = tiles, .bias = &bb, .residual = residual, .act = act,
                    .alpha = 1.0f};
    CHECKF(finish(b, op_matmul(&r, &op), &e), "%s: %s", what, e.msg);
    return yb.slice.mapped;
}

/* A linear layer y = act(x Wᵀ + b) (+ y) over `rows` rows. */
static void check_linear(uint32_t rows, uint32_t N, uint32_t K, activation act, bool residual, const char *what)
{
    float *x = malloc((size_t)rows * K * 4), *w = malloc((size_t)N * K * 4), *bias = malloc(N * 4);
    float *y0 = malloc((size_t)rows * N * 4);
    fill(x, (size_t)rows * K, 1, 1.0f);
    fill(w, (size_t)N * K, 2, 0.2f);
    fill(bias, N, 3, 0.5f);
    fill(y0, (size_t)rows * N, 4, 1.0f);
    float *on_cpu = run_linear(&cpu, x, w, bias, y0, rows, N, K, act, residual, what);
    float *on_vk = run_linear(&vk, x, w, bias, y0, rows, N, K, act, residual, what);
    expect_close(what, on_cpu, on_vk, (size_t)rows * N, 1e-5);
    char shared[128];
    snprintf(shared, sizeof shared, "%s [shared %ux%u]", what, gpu.kernels.plan.linear.tm, gpu.kernels.plan.linear.tn);
    float *on_gpu = run_linear(&gpu, x, w, bias, y0, rows, N, K, act, residual, what);
    expect_close(shared, on_cpu, on_gpu, (size_t)rows * N, 1e-5);
    free(x), free(w), free(bias), free(y0);
}

/* The activations alone, act(x·1 + 0), on values from -100 to 100, where
 * the exponential saturates on both sides: both backends against the same
 * functions in double precision. */
static void check_activation_range(activation act, const char *what)
{
    const uint32_t rows = 401, N = 4, K = 4;
    float x[401 * 4] = {0}, w[4 * 4] = {0}, bias[4] = {0}, *out[2];
    double want[401];
    for (uint32_t m = 0; m < rows; m++) {
        double v = -100.0 + 0.5 * m + (m % 7) * 0.0137; /* not only half-integers */
        x[m * K] = (float)v;
        v = x[m * K];
        double gelu_erf = 0.5 * v * (1.0 + erf(v / sqrt(2.0)));
        double gelu_tanh = 0.5 * v * (1.0 + tanh(sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
        want[m] = act == ACTIVATION_QUICK_GELU ? v / (1.0 + exp(-1.702 * v)) : act == ACTIVATION_GELU ? gelu_erf : gelu_tanh;
    }
    for (uint32_t n = 0; n < N; n++)
        w[n * K] = 1.0f;
    out[0] = run_linear(&cpu, x, w, bias, NULL, rows, N, K, act, false, what);
    out[1] = run_linear(&vk, x, w, bias, NULL, rows, N, K, act, false, what);
    for (int i = 0; i < 2; i++) {
        double worst = 0;
        for (uint32_t m = 0; m < rows; m++)
            for (uint32_t n = 0; n < N; n++) /* relative, and absolute below 1 */
                worst = fmax(worst, fabs(out[i][m * N + n] - want[m]) / fmax(1.0, fabs(want[m])));
        CHECKF(worst <= 1e-6, "%s on %s: %.3g from double precision", what, i ? "lavapipe" : "the CPU", worst);
        printf("%-58s %s: %.2e from double precision\n", what, i ? "lavapipe" : "CPU     ", worst);
    }
}

/* Attention's two matmuls over (image, head) batches of the fused q|k|v rows. */
static void check_attention_matmuls(void)
{
    const uint32_t S = 3, H = 4, T = 7, Tp = 8, hd = 8, D = H * hd, row4 = 3 * D / 4;
    matmul_tiles tiles = {.tm = 8, .tn = 2, .wg = 8};
    size_t nqkv = (size_t)S * T * 3 * D, nscores = (size_t)S * H * T * Tp;
    float *qkv = malloc(nqkv * 4), *out[2];
    fill(qkv, nqkv, 5, 1.0f);
    backend *bs[2] = {&cpu, &vk};
    for (int i = 0; i < 2; i++) {
        errbuf e = {{0}};
        recorder r = begin(bs[i], &e);
        dbuf q = buffer(bs[i], nqkv, qkv), scores = buffer(bs[i], nscores, NULL);
        matmul_op qk = {
            .M = T, .N = T, .K = hd, .batch_outer = S, .batch_inner = H,
            .a = {.buf = q, .off = 0, .outer = T * row4, .inner = hd / 4, .row = row4},
            .b = {.buf = q, .off = D / 4, .outer = T * row4, .inner = hd / 4, .row = row4},
            .c = {.buf = scores, .outer = H * T * Tp, .inner = T * Tp, .row = Tp},
            .tiles = tiles, .alpha = 1.0f / sqrtf((float)hd),
        };
        CHECKF(finish(bs[i], op_matmul(&r, &qk), &e), "q·kᵀ: %s", e.msg);
        out[i] = scores.slice.mapped;
    }
    /* Only the T used columns of each padded row are written. */
    for (size_t row = 0; row < (size_t)S * H * T; row++)
        for (uint32_t j = T; j < Tp; j++)
            out[0][row * Tp + j] = out[1][row * Tp + j] = 0;
    expect_close("matmul: q·kᵀ / sqrt(hd), 3 images x 4 heads, strided", out[0], out[1], nscores, 1e-5);
    free(qkv);
}

/* SigLIP's head: one query row shared by every image (outer and row strides 0). */
static void check_shared_query(void)
{
    const uint32_t B = 2, H = 2, T = 5, Tp = 8, hd = 8, D = H * hd, row4 = 3 * D / 4;
    matmul_tiles tiles = {.tm = 8, .tn = 2, .wg = 8};
    float query[16], *keys = malloc((size_t)B * T * 3 * D * 4), *out[2];
    fill(query, D, 6, 1.0f);
    fill(keys, (size_t)B * T * 3 * D, 7, 1.0f);
    backend *bs[2] = {&cpu, &vk};
    for (int i = 0; i < 2; i++) {
        errbuf e = {{0}};
        recorder r = begin(bs[i], &e);
        dbuf qb = buffer(bs[i], D, query), kb = buffer(bs[i], (size_t)B * T * 3 * D, keys);
        dbuf scores = buffer(bs[i], (size_t)B * H * Tp, NULL);
        matmul_op qk = {
            .M = 1, .N = T, .K = hd, .batch_outer = B, .batch_inner = H,
            .a = {.buf = qb, .outer = 0, .inner = hd / 4, .row = 0},
            .b = {.buf = kb, .off = D / 4, .outer = T * row4, .inner = hd / 4, .row = row4},
            .c = {.buf = scores, .outer = H * Tp, .inner = Tp, .row = Tp},
            .tiles = tiles, .alpha = 0.5f,
        };
        CHECKF(finish(bs[i], op_matmul(&r, &qk), &e), "shared query: %s", e.msg);
        out[i] = scores.slice.mapped;
    }
    expect_close("matmul: one query row shared by every image (SigLIP)", out[0], out[1], (size_t)B * H * Tp, 1e-5);
    free(keys);
}

/* ---- the other ops ---- */

static void check_layernorm(void)
{
    /* every third row: class tokens of a batch; 52 wide: the CPU's 16-lane sums and a tail */
    const uint32_t rows = 5, D = 52, stride = 3 * D;
    float *x = malloc((size_t)rows * stride * 4), gamma[52], beta[52], *out[4] = {0};
    fill(x, (size_t)rows * stride, 8, 3.0f);
    fill(gamma, D, 9, 1.0f);
    fill(beta, D, 10, 1.0f);
    backend *bs[4] = {&cpu, &vk, &gpu, &sg};
    for (int i = 0; i < (have_sg ? 4 : 3); i++) {
        errbuf e = {{0}};
        recorder r = begin(bs[i], &e);
        dbuf xb = buffer(bs[i], (size_t)rows * stride, x), yb = buffer(bs[i], (size_t)rows * D, NULL);
        dbuf g = buffer(bs[i], D, gamma), b = buffer(bs[i], D, beta);
        bool ok = op_layernorm(&r, xb, 0, stride / 4, &g, &b, yb, 0, D / 4, rows, D, 1e-5f) &&
                  op_layernorm(&r, xb, D / 4, stride / 4, &g, &b, xb, D / 4, stride / 4, rows, D, 1e-5f);
        CHECKF(finish(bs[i], ok, &e), "layernorm: %s", e.msg);
        out[i] = malloc(((size_t)rows * D + (size_t)rows * stride) * 4);
        memcpy(out[i], yb.slice.mapped, (size_t)rows * D * 4);
        memcpy(out[i] + (size_t)rows * D, xb.slice.mapped, (size_t)rows * stride * 4);
    }
    expect_close("layernorm: strided rows, out of place and in place", out[0], out[1],
                 (size_t)rows * D + (size_t)rows * stride, 1e-5);
    expect_close("layernorm: the same, a workgroup a row", out[0], out[2], (size_t)rows * D + (size_t)rows * stride,
                 1e-5);
    if (have_sg)
        expect_close("layernorm: the same, subgroup reductions", out[0], out[3],
                     (size_t)rows * D + (size_t)rows * stride, 1e-5);
    free(x), free(out[0]), free(out[1]), free(out[2]), free(out[3]);
}

/* Rows of T scores padded to Tp, three sequences of them; T = 50 is
 * ViT-B/32's (the CPU's 16-lane maxima and sums, and a tail). */
static void check_softmax(bool causal, uint32_t T, uint32_t Tp)
{
    const uint32_t rows = 3 * T;
    float *s = malloc((size_t)rows * Tp * 4), *out[4];
    fill(s, rows * Tp, causal ? 11 : 12, 4.0f);
    backend *bs[4] = {&cpu, &vk, &gpu, &sg};
    for (int i = 0; i < (have_sg ? 4 : 3); i++) {
        errbuf e = {{0}};
        recorder r = begin(bs[i], &e);
        dbuf sb = buffer(bs[i], rows * Tp, s);
        CHECKF(finish(bs[i], op_softmax(&r, sb, rows, T, Tp, causal), &e), "softmax: %s", e.msg);
        out[i] = sb.slice.mapped;
    }
    char what[96];
    snprintf(what, sizeof what, "softmax: %srows padded %u -> %u", causal ? "causal, " : "", T, Tp);
    expect_close(what, out[0], out[1], rows * Tp, 1e-6);
    char group[128], subgroup[128];
    snprintf(group, sizeof group, "%s, a workgroup a row", what);
    expect_close(group, out[0], out[2], rows * Tp, 1e-6);
    snprintf(subgroup, sizeof subgroup, "%s, subgroup reductions", what);
    if (have_sg)
        expect_close(subgroup, out[0], out[3], rows * Tp, 1e-6);
    free(s);
}

static void check_transpose_and_swiglu(void)
{
    const uint32_t S = 2, T = 5, Tp = 8, H = 3, hd = 4, D = H * hd, rows = 6, h = 10;
    float qkv[2 * 5 * 36], x[6 * 20], *vt[2], *y[2];
    fill(qkv, S * T * 3 * D, 13, 1.0f);
    fill(x, rows * 2 * h, 14, 3.0f);
    backend *bs[2] = {&cpu, &vk};
    for (int i = 0; i < 2; i++) {
        errbuf e = {{0}};
        recorder r = begin(bs[i], &e);
        dbuf q = buffer(bs[i], S * T * 3 * D, qkv), v = buffer(bs[i], S * H * hd * Tp, NULL);
        dbuf xb = buffer(bs[i], rows * 2 * h, x), yb = buffer(bs[i], rows * h, NULL);
        bool ok = op_transpose_heads(&r, q, v, S, T, Tp, H, hd, D) && op_swiglu(&r, xb, yb, rows, h);
        CHECKF(finish(bs[i], ok, &e), "transpose/swiglu: %s", e.msg);
        vt[i] = v.slice.mapped;
        y[i] = yb.slice.mapped;
    }
    expect_close("transpose_heads: v per head, zero-padded 5 -> 8", vt[0], vt[1], S * H * hd * Tp, 0);
    expect_close("swiglu: silu(a) * b", y[0], y[1], rows * h, 1e-6);
}

static void check_embed_tokens(uint32_t prefix_tokens)
{
    const uint32_t B = 2, T = 6, D = 8;
    float x[2 * 6 * 8], prefix[2 * 8], pos[6 * 8], *out[2];
    fill(x, B * T * D, 15, 1.0f);
    fill(prefix, 2 * D, 16, 1.0f);
    fill(pos, (T - prefix_tokens) * D, 17, 1.0f);
    backend *bs[2] = {&cpu, &vk};
    for (int i = 0; i < 2; i++) {
        errbuf e = {{0}};
        recorder r = begin(bs[i], &e);
        dbuf xb = buffer(bs[i], B * T * D, x), pb = buffer(bs[i], 2 * D, prefix), qb = buffer(bs[i], T * D, pos);
        CHECKF(finish(bs[i], op_embed_tokens(&r, xb, &pb, &qb, B, T, D, prefix_tokens), &e), "embed: %s", e.msg);
        out[i] = xb.slice.mapped;
    }
    expect_close(prefix_tokens ? "embed_tokens: class token and a register, then positions"
                               : "embed_tokens: positions only (SigLIP)",
                 out[0], out[1], B * T * D, 1e-6);
}

/* ---- the GPU plan's fused attention, against double precision ---- */

/* softmax(q·kᵀ / sqrt(hd)) · v for every (sequence, head), straight from the
 * definition, into want [S·T][D]. */
static void attention_reference(const float *qkv, double *want, uint32_t S, uint32_t T, uint32_t H, uint32_t hd,
                                bool causal)
{
    uint32_t D = H * hd, row = 3 * D;
    double *p = malloc(T * sizeof *p);
    for (uint32_t s = 0; s < S; s++)
        for (uint32_t h = 0; h < H; h++)
            for (uint32_t t = 0; t < T; t++) {
                const float *q = qkv + ((size_t)s * T + t) * row + h * hd;
                uint32_t keys = causal ? t + 1 : T;
                double mx = -INFINITY, sum = 0;
                for (uint32_t j = 0; j < keys; j++) {
                    const float *k = qkv + ((size_t)s * T + j) * row + D + h * hd;
                    double dot = 0;
                    for (uint32_t d = 0; d < hd; d++)
                        dot += (double)q[d] * k[d];
                    p[j] = dot / sqrt((double)hd);
                    mx = fmax(mx, p[j]);
                }
                for (uint32_t j = 0; j < keys; j++)
                    sum += p[j] = exp(p[j] - mx);
                for (uint32_t d = 0; d < hd; d++) {
                    double o = 0;
                    for (uint32_t j = 0; j < keys; j++)
                        o += p[j] * qkv[((size_t)s * T + j) * row + 2 * D + h * hd + d];
                    want[((size_t)s * T + t) * D + h * hd + d] = o / sum;
                }
            }
    free(p);
}

static void check_fused_attention(uint32_t S, uint32_t T, uint32_t H, uint32_t hd, bool causal)
{
    uint32_t D = H * hd;
    size_t nqkv = (size_t)S * T * 3 * D, nout = (size_t)S * T * D;
    float *qkv = malloc(nqkv * 4);
    double *want = malloc(nout * sizeof *want);
    fill(qkv, nqkv, 18 + T, 1.5f); /* scores up to about ±10: a peaked softmax */
    attention_reference(qkv, want, S, T, H, hd, causal);
    errbuf e = {{0}};
    recorder r = begin(&gpu, &e);
    dbuf q = buffer(&gpu, nqkv, qkv), out = buffer(&gpu, nout, NULL);
    CHECKF(finish(&gpu, op_attention(&r, q, out, S, T, H, hd, D, causal), &e), "attention: %s", e.msg);
    const float *got = out.slice.mapped;
    double worst = 0;
    for (size_t i = 0; i < nout; i++)
        worst = fmax(worst, isnan(got[i]) ? INFINITY : fabs(got[i] - want[i]));
    char what[96];
    snprintf(what, sizeof what, "attention fused: %u seq x %u heads, T %u, hd %u%s", S, H, T, hd,
             causal ? ", causal" : "");
    /* The values are averages of V's entries (|v| <= 1.5): an absolute bound. */
    CHECKF(worst <= 2e-6, "%s: %.3g from double precision", what, worst);
    printf("%-58s %.2e from double precision\n", what, worst);
    free(qkv), free(want);
}

/* Two LayerNorms into different outputs need no barrier between them; a
 * third reading the first one's output does. */
static void check_barriers(void)
{
    const uint32_t rows = 4, D = 8;
    float x[32], gamma[8], beta[8];
    fill(x, rows * D, 20, 1.0f);
    fill(gamma, D, 21, 1.0f);
    fill(beta, D, 22, 1.0f);
    errbuf e = {{0}};
    recorder r = begin(&vk, &e);
    dbuf xb = buffer(&vk, rows * D, x), y1 = buffer(&vk, rows * D, NULL), y2 = buffer(&vk, rows * D, NULL);
    dbuf y3 = buffer(&vk, rows * D, NULL), g = buffer(&vk, D, gamma), b = buffer(&vk, D, beta);
    bool ok = op_layernorm(&r, xb, 0, D / 4, &g, &b, y1, 0, D / 4, rows, D, 1e-5f) &&
              op_layernorm(&r, xb, 0, D / 4, &g, &b, y2, 0, D / 4, rows, D, 1e-5f);
    uint32_t independent = vk.seq.barriers;
    ok = ok && op_layernorm(&r, y1, 0, D / 4, &g, &b, y3, 0, D / 4, rows, D, 1e-5f);
    uint32_t dependent = vk.seq.barriers - independent;
    bool profiling = vk.seq.timestamps != VK_NULL_HANDLE;
    CHECKF(finish(&vk, ok, &e), "barriers: %s", e.msg);
    if (!profiling)
        CHECKF(independent == 0 && dependent == 1, "barriers: %u between independent dispatches, %u before a dependent one",
               independent, dependent);
    /* LN(LN(x)) with gamma 1, beta 0 would be LN(x); here: y3 = LN(y1) computed on the host. */
    const float *y1h = y1.slice.mapped, *y3h = y3.slice.mapped;
    double worst = 0;
    for (uint32_t m = 0; m < rows; m++) {
        double mean = 0, var = 0;
        for (uint32_t d = 0; d < D; d++)
            mean += y1h[m * D + d] / (double)D;
        for (uint32_t d = 0; d < D; d++)
            var += (y1h[m * D + d] - mean) * (y1h[m * D + d] - mean) / D;
        for (uint32_t d = 0; d < D; d++)
            worst = fmax(worst, fabs((y1h[m * D + d] - mean) / sqrt(var + 1e-5) * gamma[d] + beta[d] - y3h[m * D + d]));
    }
    CHECKF(worst <= 1e-5, "barriers: the dependent LayerNorm read a stale input (%.3g off)", worst);
    CHECKF(memcmp(y1.slice.mapped, y2.slice.mapped, rows * D * 4) == 0, "barriers: two independent LayerNorms differ");
    printf("%-58s %u, then %u\n", "barriers: independent dispatches, then a dependent one", independent, dependent);
}

int main(void)
{
    if (!backend_open(&vk, false, "lavapipe"))
        SKIP("no Vulkan device");
    if (!backend_open(&gpu, false, "gpu") || !backend_open(&cpu, true, NULL) ||
        !backend_open(&sg, false, "gpu,rows=subgroup"))
        return 1;
    have_sg = sg.ctx.features.subgroup_arith;
    if (!have_sg)
        printf("rows=subgroup: not checked, the device has no subgroup arithmetic\n");
    const char *acts[] = {"none", "quick_gelu", "gelu", "gelu_pytorch_tanh"};
    for (int a = ACTIVATION_NONE; a <= ACTIVATION_GELU_TANH; a++) {
        char what[96];
        snprintf(what, sizeof what, "matmul: 50 x 40 x 64 weight, bias, %s", acts[a]);
        check_linear(50, 40, 64, (activation)a, false, what);
    }
    check_activation_range(ACTIVATION_QUICK_GELU, "quick_gelu, -100 to 100");
    check_activation_range(ACTIVATION_GELU, "gelu (erf), -100 to 100");
    check_activation_range(ACTIVATION_GELU_TANH, "gelu_pytorch_tanh, -100 to 100");
    check_linear(9, 24, 32, ACTIVATION_NONE, true, "matmul: bias and residual");
    check_linear(9, 24, 32, ACTIVATION_QUICK_GELU, true, "matmul: bias, quick_gelu and residual");
    /* Past one workgroup's 64 x 64 block on every side, K not a whole number of 16-value steps. */
    check_linear(130, 200, 104, ACTIVATION_GELU, true, "matmul: 130 x 200 x 104, gelu and residual");
    check_attention_matmuls();
    check_shared_query();
    check_layernorm();
    check_softmax(false, 6, 8);
    check_softmax(true, 6, 8);
    check_softmax(false, 50, 52);
    check_softmax(true, 50, 52);
    check_transpose_and_swiglu();
    check_embed_tokens(2);
    check_embed_tokens(0);
    check_fused_attention(2, 50, 3, 16, false);   /* ViT-B/32's tokens: one partial block of queries */
    check_fused_attention(1, 77, 2, 64, true);    /* CLIP's text: causal, three key tiles */
    check_fused_attention(1, 197, 1, 8, false);   /* ViT-B/16's tokens: four query blocks */
    check_fused_attention(1, 37, 1, 256, true);   /* a head too wide for 32 staged keys in 32 KiB: fewer */
    check_barriers();
    backend_close(&cpu);
    backend_close(&gpu);
    backend_close(&sg);
    backend_close(&vk);
    return check_exit();
}
