#include "cpu/cpu_kernels.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* As shaders/common.glsl's activate(); erff and tanhf where the shader
 * approximates them (both well inside the tolerances). */
static float activate(float x, activation act)
{
    switch (act) {
    case ACTIVATION_QUICK_GELU:
        return x / (1.0f + expf(-1.702f * x));
    case ACTIVATION_GELU:
        return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case ACTIVATION_GELU_TANH:
        return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    default:
        return x;
    }
}

/* One batch entry: sgemm, then the epilogue where sgemm cannot do it. */
static void matmul_one(const cpu_matmul_args *p, const float *a, const float *b, float *c)
{
    bool plain = p->act == ACTIVATION_NONE;
    if (plain) { /* alpha·A·Bᵀ (+ C), then the bias */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)p->M, (int)p->N, (int)p->K, p->alpha, a,
                    (int)p->lda, b, (int)p->ldb, p->residual ? 1.0f : 0.0f, c, (int)p->ldc);
        if (p->bias)
            for (uint32_t m = 0; m < p->M; m++)
                for (uint32_t n = 0; n < p->N; n++)
                    c[m * p->ldc + n] += p->bias[n];
        return;
    }
    /* act(alpha·A·Bᵀ + bias): into C, or beside it when C is also added. */
    float *out = c;
    size_t ld = p->ldc;
    if (p->residual) {
        out = malloc((size_t)p->M * p->N * sizeof *out);
        ld = p->N;
        if (!out) { /* no room beside C: one dot product at a time (no tower takes this path) */
            for (uint32_t m = 0; m < p->M; m++)
                for (uint32_t n = 0; n < p->N; n++) {
                    float sum = 0;
                    for (uint32_t k = 0; k < p->K; k++)
                        sum += a[m * p->lda + k] * b[n * p->ldb + k];
                    c[m * p->ldc + n] += activate(p->alpha * sum + (p->bias ? p->bias[n] : 0.0f), p->act);
                }
            return;
        }
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)p->M, (int)p->N, (int)p->K, p->alpha, a,
                (int)p->lda, b, (int)p->ldb, 0.0f, out, (int)ld);
    for (uint32_t m = 0; m < p->M; m++) {
        float *row = out + m * ld;
        for (uint32_t n = 0; n < p->N; n++)
            row[n] = activate(row[n] + (p->bias ? p->bias[n] : 0.0f), p->act);
        if (p->residual)
            for (uint32_t n = 0; n < p->N; n++)
                c[m * p->ldc + n] += row[n];
    }
    if (out != c)
        free(out);
}

void cpu_matmul_run(const void *args)
{
    const cpu_matmul_args *p = args;
    for (uint32_t zo = 0; zo < p->batch_outer; zo++)
        for (uint32_t zi = 0; zi < p->batch_inner; zi++)
            matmul_one(p, p->a + zo * p->a_outer + zi * p->a_inner, p->b + zo * p->b_outer + zi * p->b_inner,
                       p->c + zo * p->c_outer + zi * p->c_inner);
}

void cpu_layernorm_run(const void *args)
{
    const cpu_layernorm_args *p = args;
    for (uint32_t r = 0; r < p->rows; r++) {
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

void cpu_softmax_run(const void *args)
{
    const cpu_softmax_args *p = args;
    for (uint32_t r = 0; r < p->rows; r++) {
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

void cpu_transpose_heads_run(const void *args)
{
    const cpu_transpose_heads_args *p = args;
    for (uint32_t image = 0; image < p->images; image++)
        for (uint32_t head = 0; head < p->H; head++)
            for (uint32_t d = 0; d < p->hd; d++) {
                float *out = p->vt + ((size_t)(image * p->H + head) * p->hd + d) * p->Tp;
                const float *in = p->qkv + (size_t)image * p->T * p->row + p->v_col + head * p->hd + d;
                for (uint32_t t = 0; t < p->Tp; t++)
                    out[t] = t < p->T ? in[(size_t)t * p->row] : 0.0f;
            }
}

void cpu_swiglu_run(const void *args)
{
    const cpu_swiglu_args *p = args;
    for (uint32_t r = 0; r < p->rows; r++) {
        const float *x = p->x + (size_t)r * 2 * p->h;
        float *y = p->y + (size_t)r * p->h;
        for (uint32_t j = 0; j < p->h; j++)
            y[j] = x[j] / (1.0f + expf(-x[j])) * x[p->h + j];
    }
}

void cpu_embed_tokens_run(const void *args)
{
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

void cpu_copy_run(const void *args)
{
    const cpu_copy_args *p = args;
    memcpy(p->dst, p->src, p->bytes);
}
