/* weights_upload: copying checkpoint tensors to the device, converted to the
 * storage type the kernels read and packed for the matmul kernel. */
#ifndef VKCLIP_WEIGHTS_UPLOAD_H
#define VKCLIP_WEIGHTS_UPLOAD_H

#include "model/weights.h"
#include "ops.h"
#include "vk/vk_buffer.h"

/* A linear layer y = x Wᵀ + b: W packed for one tiling, b as fp32. */
typedef struct linear_weight {
    dbuf w;
    dbuf bias; /* slice.size == 0: no bias */
    uint32_t N, K;
} linear_weight;

typedef struct weight_loader {
    vk_context *ctx;
    const model_weights *weights;
    vk_arena *arena;
    vk_uploader uploader;
    kernel_plan plan;
    storage_type matrix_type; /* how matrices are stored on the device */
    errbuf *err;
} weight_loader;

/* The fp32 vector of a tensor of exactly `count` elements whose shape is given. */
bool upload_vector(weight_loader *L, dbuf *out, const char *name, int ndim, const int64_t *shape);

/* n floats computed on the host, as an fp32 vector. */
bool upload_floats(weight_loader *L, dbuf *out, const float *src, size_t n);

/* The matrix of a linear layer from tensors of part_rows·K elements each,
 * stacked along N (q, k and v become one projection); shapes already checked. */
bool upload_matrix(weight_loader *L, linear_weight *out, const st_tensor *const *parts, int nparts,
                   uint32_t part_rows, uint32_t K);

/* A linear layer from one or more [rows][K] weight tensors stacked along N
 * and their biases (bias_names may be NULL: no bias). */
bool upload_linear(weight_loader *L, linear_weight *out, const char *const *weight_names,
                   const char *const *bias_names, int parts, uint32_t part_rows, uint32_t K);

/* One [N][K] linear layer whose outputs are multiplied by the [N] vector
 * `scale_name`: scale ⊙ (x Wᵀ + b) as x (diag(scale) W)ᵀ + scale ⊙ b, so that
 * DINOv2's layer scale costs nothing at run time. Stored in fp32 always. */
bool upload_linear_scaled(weight_loader *L, linear_weight *out, const char *weight_name, const char *bias_name,
                          const char *scale_name, uint32_t N, uint32_t K);

#endif
