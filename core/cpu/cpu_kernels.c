#include "cpu/cpu_kernels.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* e^x for the activations, in plain arithmetic the compiler vectorises (libm's
 * expf is a call per value): e^x = 2^n e^r with n = round(x / ln 2), ln 2 split
 * in two so that r loses almost nothing, and e^r, |r| <= ln 2 / 2, as its Taylor series to
 * r^7 (relative error under 1e-8, below fp32's rounding). x is clamped
 * below where 2^n would leave the normal range, and above where it is +inf. */
static inline float exp_vectorisable(float x)
{
    x = x > -87.0f ? x : -87.0f; /* NaN becomes finite here; the activation's numerator keeps it */
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
    return p * scale;
}

/* row[n] = act(row[n] + bias[n]) as shaders/common.glsl's activate(): one
 * loop per activation, so that each vectorises. tanh-GELU is written as
 * x / (1 + e^(-2u)), the same function as 0.5 x (1 + tanh u). */
static void activate_row(float *row, const float *bias, uint32_t N, activation act)
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

/* What a matmul's epilogue needs: rows [begin, end) of its sgemm's result
 * (`out`, ld apart) get the bias and the activation, then are added to C
 * when `out` is a scratch beside it. */
typedef struct epilogue {
    const cpu_matmul_args *p;
    float *out, *c;
    size_t ld;
} epilogue;

static void epilogue_rows(const void *ctx, uint32_t begin, uint32_t end)
{
    const epilogue *e = ctx;
    const cpu_matmul_args *p = e->p;
    for (uint32_t m = begin; m < end; m++) {
        float *row = e->out + m * e->ld;
        activate_row(row, p->bias, p->N, p->act);
        if (e->out != e->c)
            for (uint32_t n = 0; n < p->N; n++)
                e->c[m * p->ldc + n] += row[n];
    }
}

/* One batch entry: sgemm, then the epilogue where sgemm cannot do it, its
 * rows over the pool (NULL: on this thread). */
static void matmul_one(const cpu_matmul_args *p, const float *a, const float *b, float *c, cpu_pool *pool)
{
    bool plain = p->act == ACTIVATION_NONE;
    /* alpha·A·Bᵀ (+ C) then the bias, or act(alpha·A·Bᵀ + bias) into C, or
     * beside it when C is also added. */
    epilogue e = {.p = p, .out = c, .c = c, .ld = p->ldc};
    if (p->residual && !plain) {
        e.out = malloc((size_t)p->M * p->N * sizeof *e.out);
        e.ld = p->N;
        if (!e.out) { /* no room beside C: one dot product at a time (no tower takes this path) */
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
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)p->M, (int)p->N, (int)p->K, p->alpha, a,
                (int)p->lda, b, (int)p->ldb, plain && p->residual ? 1.0f : 0.0f, e.out, (int)e.ld);
    if (p->bias || !plain)
        cpu_pool_for(pool, p->M, epilogue_rows, &e);
    if (e.out != c)
        free(e.out);
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

void cpu_blas_set_threads(int threads)
{
    openblas_set_num_threads(threads);
}

static void layernorm_rows(const void *ctx, uint32_t begin, uint32_t end)
{
    const cpu_layernorm_args *p = ctx;
    for (uint32_t r = begin; r < end; r++) {
        const float *x = p->x + r * p->x_row;
        float *y = p->y + r * p->y_row;
        float sum = 0;
        for (uint32_t d = 0; d < p->D; d++)
            sum += x[d];
        float mean = sum / (float)p->D, sq = 0;
        for (uint32_t d = 0; d < p->D; d++)
            sq += (x[d] - mean) * (x[d] - mean);
        float rstd = 1.0f / sqrtf(sq / (float)p->D + p->eps);
        for (uint32_t d = 0; d < p->D; d++) /* y may be x: each value is read before it is written */
            y[d] = (x[d] - mean) * rstd * p->gamma[d] + p->beta[d];
    }
}

void cpu_layernorm_run(const void *args, cpu_pool *pool)
{
    cpu_pool_for(pool, ((const cpu_layernorm_args *)args)->rows, layernorm_rows, args);
}

static void softmax_rows(const void *ctx, uint32_t begin, uint32_t end)
{
    const cpu_softmax_args *p = ctx;
    for (uint32_t r = begin; r < end; r++) {
        float *s = p->s + (size_t)r * p->Tp;
        uint32_t valid = p->causal ? r % p->T + 1 : p->T;
        float mx = -INFINITY, sum = 0;
        for (uint32_t j = 0; j < valid; j++)
            mx = s[j] > mx ? s[j] : mx;
        for (uint32_t j = 0; j < valid; j++) {
            s[j] = expf(s[j] - mx);
            sum += s[j];
        }
        float inv = 1.0f / sum;
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

static void swiglu_rows(const void *ctx, uint32_t begin, uint32_t end)
{
    const cpu_swiglu_args *p = ctx;
    for (uint32_t r = begin; r < end; r++) {
        const float *x = p->x + (size_t)r * 2 * p->h;
        float *y = p->y + (size_t)r * p->h;
        for (uint32_t j = 0; j < p->h; j++)
            y[j] = x[j] / (1.0f + expf(-x[j])) * x[p->h + j];
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
