#include "cpu/cpu_kernels.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Sums and maxima over LANES partial results: a reduction into one float
 * must keep its order, so it would not vectorise; these do. */
#define LANES 16

static inline float sum_of(const float *x, uint32_t n)
{
    float part[LANES] = {0};
    uint32_t j = 0;
    for (; j + LANES <= n; j += LANES)
        for (uint32_t l = 0; l < LANES; l++)
            part[l] += x[j + l];
    float sum = 0;
    for (; j < n; j++)
        sum += x[j];
    for (uint32_t l = 0; l < LANES; l++)
        sum += part[l];
    return sum;
}

static inline float squared_deviation_of(const float *x, uint32_t n, float mean)
{
    float part[LANES] = {0};
    uint32_t j = 0;
    for (; j + LANES <= n; j += LANES)
        for (uint32_t l = 0; l < LANES; l++)
            part[l] += (x[j + l] - mean) * (x[j + l] - mean);
    float sum = 0;
    for (; j < n; j++)
        sum += (x[j] - mean) * (x[j] - mean);
    for (uint32_t l = 0; l < LANES; l++)
        sum += part[l];
    return sum;
}

/* NaN wins, as in the shader's max(): a NaN score must not vanish. */
static inline float max_keeping_nan(float a, float b)
{
    return b > a || b != b ? b : a;
}

static inline float max_of(const float *x, uint32_t n)
{
    float part[LANES];
    for (uint32_t l = 0; l < LANES; l++)
        part[l] = -INFINITY;
    uint32_t j = 0;
    for (; j + LANES <= n; j += LANES)
        for (uint32_t l = 0; l < LANES; l++)
            part[l] = max_keeping_nan(part[l], x[j + l]);
    float mx = -INFINITY;
    for (; j < n; j++)
        mx = max_keeping_nan(mx, x[j]);
    for (uint32_t l = 0; l < LANES; l++)
        mx = max_keeping_nan(mx, part[l]);
    return mx;
}

/* e^x for the activations and softmax, in plain arithmetic the compiler vectorises (libm's
 * expf is a call per value): e^x = 2^n e^r with n = round(x / ln 2), ln 2 split
 * in two so that r loses almost nothing, and e^r, |r| <= ln 2 / 2, as its Taylor series to
 * r^7 (relative error under 1e-8, below fp32's rounding). x is clamped
 * below where 2^n would leave the normal range, and above where it is +inf. */
static inline float exp_vectorisable(float in)
{
    float x = in > -87.0f ? in : -87.0f; /* NaN becomes finite here, and is given back at the end */
    x = x < 89.0f ? x : 89.0f;   /* n = 128 at the top: 2^n is +inf, and x / (1 + inf) is 0 */
    float t = x * 1.44269504f + 12582912.0f; /* the assignment rounds: 1.5 * 2^23 drops the fraction */
    float n = t - 12582912.0f;
    float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
    float p = 1.0f / 5040;
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return in == in ? p * scale : in;
}

/* row[n] = act(row[n] + bias[n]) as shaders/common.glsl's activate(): one
 * loop per activation, so that each vectorises. tanh-GELU is written as
 * x / (1 + e^(-2u)), the same function as 0.5 x (1 + tanh u). */
ROW_KERNEL static void activate_row(float *row, const float *bias, uint32_t N, activation act)
{
    if (bias)
        for (uint32_t n = 0; n < N; n++)
            row[n] += bias[n];
    switch (act) {
    case ACTIVATION_QUICK_GELU:
        for (uint32_t n = 0; n < N; n++)
            row[n] = row[n] / (1.0f + exp_vectorisable(-1.702f * row[n]));
        break;
    case ACTIVATION_GELU_TANH:
        for (uint32_t n = 0; n < N; n++) {
            float x = row[n], u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
            row[n] = x / (1.0f + exp_vectorisable(-2.0f * u));
        }
        break;
    case ACTIVATION_GELU:
        for (uint32_t n = 0; n < N; n++)
            row[n] = 0.5f * row[n] * (1.0f + erff(row[n] * 0.70710678118654752f));
        break;
    default:
        break;
    }
}

/* One sgemm, C[:, n0:n1) = alpha·A·B[n0:n1)ᵀ (+ C), and its epilogue on
 * those columns while they are still in cache. */
static void sgemm_columns(const cpu_matmul_args *p, const float *a, const float *b, float *c, uint32_t n0,
                          uint32_t n1)
{
    bool plain = p->act == ACTIVATION_NONE;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)p->M, (int)(n1 - n0), (int)p->K, p->alpha, a,
                (int)p->lda, b + (size_t)n0 * p->ldb, (int)p->ldb, p->residual ? 1.0f : 0.0f, c + n0,
                (int)p->ldc);
    if (p->bias || !plain)
        for (uint32_t m = 0; m < p->M; m++)
            activate_row(c + (size_t)m * p->ldc + n0, p->bias ? p->bias + n0 : NULL, n1 - n0, p->act);
}

/* A residual with an activation: act(alpha·A·Bᵀ + bias) is formed beside C,
 * then added (no tower has this; the shaders allow it). */
static void matmul_act_residual(const cpu_matmul_args *p, const float *a, const float *b, float *c)
{
    float *t = malloc((size_t)p->M * p->N * sizeof *t);
    if (!t) { /* no room beside C: one dot product at a time */
        for (uint32_t m = 0; m < p->M; m++)
            for (uint32_t n = 0; n < p->N; n++) {
                float sum = 0;
                for (uint32_t k = 0; k < p->K; k++)
                    sum += a[m * p->lda + k] * b[n * p->ldb + k];
                float v = p->alpha * sum;
                activate_row(&v, p->bias ? p->bias + n : NULL, 1, p->act);
                c[m * p->ldc + n] += v;
            }
        return;
    }
    cpu_matmul_args q = *p;
    q.residual = false;
    q.ldc = p->N;
    sgemm_columns(&q, a, b, t, 0, p->N);
    for (uint32_t m = 0; m < p->M; m++)
        for (uint32_t n = 0; n < p->N; n++)
            c[m * p->ldc + n] += t[m * p->N + n];
    free(t);
}

/* Column slices of one matmul, one sgemm each on a pool thread: the
 * threads are the pool's, so nothing spins between GEMMs, and each
 * slice's epilogue runs on the thread that just wrote it. */
typedef struct column_split {
    const cpu_matmul_args *p;
    uint32_t width;
} column_split;

static void column_slices(const void *ctx, uint32_t begin, uint32_t end)
{
    const column_split *s = ctx;
    uint32_t n0 = begin * s->width, n1 = end * s->width;
    if (n1 > s->p->N)
        n1 = s->p->N;
    if (n0 < n1)
        sgemm_columns(s->p, s->p->a, s->p->b, s->p->c, n0, n1);
}

/* One batch entry, its columns over the pool (NULL: on this thread). */
static void matmul_one(const cpu_matmul_args *p, const float *a, const float *b, float *c, cpu_pool *pool)
{
    if (p->residual && p->act != ACTIVATION_NONE) {
        matmul_act_residual(p, a, b, c);
        return;
    }
    int threads = cpu_pool_threads(pool);
    if (!pool || threads == 1) {
        sgemm_columns(p, a, b, c, 0, p->N);
        return;
    }
    /* One slice per thread, a multiple of 16 columns (a vector of floats)
     * wide; a thread the pool cannot wake in time has its slice taken by
     * another. (Two slices per thread measured slower: each sgemm packs A
     * again.) */
    cpu_matmul_args whole = *p;
    whole.a = a;
    whole.b = b;
    whole.c = c;
    uint32_t width = ((p->N + (uint32_t)threads - 1) / (uint32_t)threads + 15) / 16 * 16;
    column_split split = {&whole, width};
    cpu_pool_for(pool, (p->N + width - 1) / width, column_slices, &split);
}

/* Entries [begin, end) of a batched matmul (attention's per-head products).
 * OpenBLAS runs small ones on the calling thread; larger ones it threads
 * itself, one at a time. */
static void matmul_entries(const void *ctx, uint32_t begin, uint32_t end)
{
    const cpu_matmul_args *p = ctx;
    for (uint32_t z = begin; z < end; z++) {
        uint32_t zo = z / p->batch_inner, zi = z % p->batch_inner;
        matmul_one(p, p->a + zo * p->a_outer + zi * p->a_inner, p->b + zo * p->b_outer + zi * p->b_inner,
                   p->c + zo * p->c_outer + zi * p->c_inner, NULL);
    }
}

void cpu_matmul_run(const void *args, cpu_pool *pool)
{
    const cpu_matmul_args *p = args;
    uint32_t entries = p->batch_outer * p->batch_inner;
    if (entries == 1)
        matmul_one(p, p->a, p->b, p->c, pool);
    else
        cpu_pool_for(pool, entries, matmul_entries, p);
}

void cpu_blas_single_threaded(void)
{
    openblas_set_num_threads(1);
}

ROW_KERNEL static void layernorm_rows(const void *ctx, uint32_t begin, uint32_t end)
{
    const cpu_layernorm_args *p = ctx;
    for (uint32_t r = begin; r < end; r++) {
        const float *x = p->x + r * p->x_row;
        float *y = p->y + r * p->y_row;
        float mean = sum_of(x, p->D) / (float)p->D;
        float rstd = 1.0f / sqrtf(squared_deviation_of(x, p->D, mean) / (float)p->D + p->eps);
        for (uint32_t d = 0; d < p->D; d++) /* y may be x: each value is read before it is written */
            y[d] = (x[d] - mean) * rstd * p->gamma[d] + p->beta[d];
    }
}

void cpu_layernorm_run(const void *args, cpu_pool *pool)
{
    cpu_pool_for(pool, ((const cpu_layernorm_args *)args)->rows, layernorm_rows, args);
}

ROW_KERNEL static void softmax_rows(const void *ctx, uint32_t begin, uint32_t end)
{
    const cpu_softmax_args *p = ctx;
    for (uint32_t r = begin; r < end; r++) {
        float *s = p->s + (size_t)r * p->Tp;
        uint32_t valid = p->causal ? r % p->T + 1 : p->T;
        float mx = max_of(s, valid);
        for (uint32_t j = 0; j < valid; j++)
            s[j] = exp_vectorisable(s[j] - mx);
        float inv = 1.0f / sum_of(s, valid);
        for (uint32_t j = 0; j < valid; j++)
            s[j] *= inv;
        for (uint32_t j = valid; j < p->Tp; j++)
            s[j] = 0.0f;
    }
}

void cpu_softmax_run(const void *args, cpu_pool *pool)
{
    cpu_pool_for(pool, ((const cpu_softmax_args *)args)->rows, softmax_rows, args);
}

/* Over (image, head) pairs. */
static void transpose_heads_range(const void *ctx, uint32_t begin, uint32_t end)
{
    const cpu_transpose_heads_args *p = ctx;
    for (uint32_t pair = begin; pair < end; pair++) {
        uint32_t image = pair / p->H, head = pair % p->H;
        for (uint32_t d = 0; d < p->hd; d++) {
            float *out = p->vt + ((size_t)pair * p->hd + d) * p->Tp;
            const float *in = p->qkv + (size_t)image * p->T * p->row + p->v_col + head * p->hd + d;
            for (uint32_t t = 0; t < p->Tp; t++)
                out[t] = t < p->T ? in[(size_t)t * p->row] : 0.0f;
        }
    }
}

void cpu_transpose_heads_run(const void *args, cpu_pool *pool)
{
    const cpu_transpose_heads_args *p = args;
    cpu_pool_for(pool, p->images * p->H, transpose_heads_range, p);
}

ROW_KERNEL static void swiglu_rows(const void *ctx, uint32_t begin, uint32_t end)
{
    const cpu_swiglu_args *p = ctx;
    for (uint32_t r = begin; r < end; r++) {
        const float *x = p->x + (size_t)r * 2 * p->h;
        float *y = p->y + (size_t)r * p->h;
        for (uint32_t j = 0; j < p->h; j++)
            y[j] = x[j] / (1.0f + exp_vectorisable(-x[j])) * x[p->h + j];
    }
}

void cpu_swiglu_run(const void *args, cpu_pool *pool)
{
    cpu_pool_for(pool, ((const cpu_swiglu_args *)args)->rows, swiglu_rows, args);
}

void cpu_embed_tokens_run(const void *args, cpu_pool *pool)
{
    (void)pool; /* a few hundred rows at most: not worth waking a thread */
    const cpu_embed_tokens_args *p = args;
    for (uint32_t image = 0; image < p->images; image++)
        for (uint32_t t = 0; t < p->T; t++) {
            float *x = p->x + ((size_t)image * p->T + t) * p->D;
            if (t < p->prefix_tokens) {
                memcpy(x, p->prefix + (size_t)t * p->D, p->D * sizeof *x);
                continue;
            }
            const float *pos = p->pos + (size_t)(t - p->prefix_tokens) * p->D;
            for (uint32_t d = 0; d < p->D; d++)
                x[d] += pos[d];
        }
}

void cpu_copy_run(const void *args, cpu_pool *pool)
{
    (void)pool;
    const cpu_copy_args *p = args;
    memcpy(p->dst, p->src, p->bytes);
}
