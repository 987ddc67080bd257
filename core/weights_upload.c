#include "weights_upload.h"

#include <string.h>

#include "model/dtype.h"

static float element_f32(const st_tensor *t, size_t i)
{
    const unsigned char *p = t->data;
    uint16_t h;
    float f;
    switch (t->dtype) {
    case ST_F16:
        memcpy(&h, p + i * 2, 2);
        return f16_to_f32(h);
    case ST_BF16:
        memcpy(&h, p + i * 2, 2);
        return bf16_to_f32(h);
    default:
        memcpy(&f, p + i * 4, 4);
        return f;
    }
}

static bool allocate(weight_loader *L, dbuf *out, uint64_t bytes, storage_type type)
{
    out->type = type;
    return vk_arena_alloc(L->ctx, L->arena, bytes, &out->slice, L->err);
}

bool upload_vector(weight_loader *L, dbuf *out, const char *name, int ndim, const int64_t *shape)
{
    const st_tensor *t = model_weights_expect(L->weights, name, ndim, shape, L->err);
    if (!t || !allocate(L, out, (uint64_t)t->numel * 4, STORAGE_F32))
        return false;
    float *dst = vk_uploader_reserve(&L->uploader, out->slice, L->err);
    if (!dst)
        return false;
    for (int64_t i = 0; i < t->numel; i++)
        dst[i] = element_f32(t, (size_t)i);
    return true;
}

bool upload_floats(weight_loader *L, dbuf *out, const float *src, size_t n)
{
    if (!allocate(L, out, (uint64_t)n * 4, STORAGE_F32))
        return false;
    float *dst = vk_uploader_reserve(&L->uploader, out->slice, L->err);
    if (!dst)
        return false;
    memcpy(dst, src, n * sizeof *dst);
    return true;
}

typedef struct stacked_rows {
    const st_tensor *parts[3];
    uint32_t part_rows, K;
    const st_tensor *scale; /* a factor for each row, or NULL */
} stacked_rows;

static void get_stacked_row(void *user, uint32_t n, float *dst)
{
    const stacked_rows *s = user;
    const st_tensor *t = s->parts[n / s->part_rows];
    size_t base = (size_t)(n % s->part_rows) * s->K;
    float f = s->scale ? element_f32(s->scale, n) : 1.0f; /* x * 1.0f is x, bit for bit */
    for (uint32_t k = 0; k < s->K; k++)
        dst[k] = element_f32(t, base + k) * f;
}

/* Scaled rows are kept in fp32 even where matrices are fp16: the products
 * with a small scale (DINOv2 starts its layer scales at 1e-5) would be
 * rounded again, or fall below fp16's normal range. */
static bool upload_rows(weight_loader *L, linear_weight *out, const st_tensor *const *parts, int nparts,
                        uint32_t part_rows, uint32_t K, const st_tensor *scale)
{
    bool rows_as_they_are = L->ctx->cpu; /* the CPU backend's sgemm reads [N][K] fp32 */
    storage_type type = scale || rows_as_they_are ? STORAGE_F32 : L->matrix_type;
    memset(out, 0, sizeof *out);
    stacked_rows rows = {.part_rows = part_rows, .K = K, .scale = scale};
    for (int i = 0; i < nparts; i++)
        rows.parts[i] = parts[i];
    if (K % 4 != 0)
        return errbuf_set(L->err, "tensor '%s': inner size %u is not a multiple of 4", parts[0]->name, K);
    out->N = part_rows * (uint32_t)nparts;
    out->K = K;
    uint64_t bytes = rows_as_they_are ? (uint64_t)out->N * K * 4 : packed_weight_bytes(out->N, K, L->plan.linear, type);
    uint64_t texels = bytes / (4 * storage_size(type));
    if (texels > L->ctx->props.limits.maxTexelBufferElements)
        return errbuf_set(L->err, "tensor '%s': %llu texels exceed the device's limit of %u",
                          parts[0]->name, (unsigned long long)texels,
                          L->ctx->props.limits.maxTexelBufferElements);
    if (!allocate(L, &out->w, bytes, type))
        return false;
    void *dst = vk_uploader_reserve(&L->uploader, out->w.slice, L->err);
    if (!dst)
        return false;
    if (rows_as_they_are) {
        for (uint32_t n = 0; n < out->N; n++)
            get_stacked_row(&rows, n, (float *)dst + (size_t)n * K);
        return true;
    }
    if (!pack_weight(dst, out->N, K, L->plan.linear, type, get_stacked_row, &rows))
        return errbuf_set(L->err, "out of memory");
    return true;
}

bool upload_matrix(weight_loader *L, linear_weight *out, const st_tensor *const *parts, int nparts,
                   uint32_t part_rows, uint32_t K)
{
    return upload_rows(L, out, parts, nparts, part_rows, K, NULL);
}

static bool linear_from(weight_loader *L, linear_weight *out, const char *const *weight_names,
                        const char *const *bias_names, int parts, uint32_t part_rows, uint32_t K,
                        const st_tensor *scale)
{
    const st_tensor *w[3];
    int64_t wshape[2] = {part_rows, K};
    for (int i = 0; i < parts; i++)
        if (!(w[i] = model_weights_expect(L->weights, weight_names[i], 2, wshape, L->err)))
            return false;
    if (!upload_rows(L, out, w, parts, part_rows, K, scale))
        return false;
    if (!bias_names)
        return true;
    int64_t bshape[1] = {part_rows};
    const st_tensor *b[3];
    for (int i = 0; i < parts; i++)
        if (!(b[i] = model_weights_expect(L->weights, bias_names[i], 1, bshape, L->err)))
            return false;
    if (!allocate(L, &out->bias, (uint64_t)out->N * 4, STORAGE_F32))
        return false;
    float *bdst = vk_uploader_reserve(&L->uploader, out->bias.slice, L->err);
    if (!bdst)
        return false;
    for (int i = 0; i < parts; i++)
        for (uint32_t n = 0; n < part_rows; n++)
            bdst[(size_t)i * part_rows + n] = element_f32(b[i], n) * (scale ? element_f32(scale, n) : 1.0f);
    return true;
}

bool upload_linear(weight_loader *L, linear_weight *out, const char *const *weight_names,
                   const char *const *bias_names, int parts, uint32_t part_rows, uint32_t K)
{
    return linear_from(L, out, weight_names, bias_names, parts, part_rows, K, NULL);
}

bool upload_linear_scaled(weight_loader *L, linear_weight *out, const char *weight_name, const char *bias_name,
                          const char *scale_name, uint32_t N, uint32_t K)
{
    int64_t shape[1] = {N};
    const st_tensor *scale = model_weights_expect(L->weights, scale_name, 1, shape, L->err);
    const char *w[1] = {weight_name}, *b[1] = {bias_name};
    return scale && linear_from(L, out, w, bias_name ? b : NULL, 1, N, K, scale);
}
