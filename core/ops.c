#include "ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_kernels.h"
#include "model/dtype.h"

size_t storage_size(storage_type t)
{
    return t == STORAGE_F16 ? 2 : 4;
}

VkFormat storage_format4(storage_type t)
{
    return t == STORAGE_F16 ? VK_FORMAT_R16G16B16A16_SFLOAT : VK_FORMAT_R32G32B32A32_SFLOAT;
}

VkFormat storage_format1(storage_type t)
{
    return t == STORAGE_F16 ? VK_FORMAT_R16_SFLOAT : VK_FORMAT_R32_SFLOAT;
}

static uint32_t div_up(uint32_t a, uint32_t b)
{
    return (a + b - 1) / b;
}

static vk_binding texels4(dbuf b)
{
    return (vk_binding){.slice = b.slice, .format = storage_format4(b.type)};
}

static vk_binding texels1(dbuf b)
{
    return (vk_binding){.slice = b.slice, .format = storage_format1(b.type)};
}

static vk_binding storage(dbuf b)
{
    return (vk_binding){.slice = b.slice};
}

/* ---- the CPU backend: each op becomes a step of the sequence's program ---- */

static bool on_cpu(const recorder *r)
{
    return r->seq->ctx->cpu;
}

/* The fp32 values of b (the CPU backend stores nothing else). */
static float *host(dbuf b)
{
    return (float *)b.slice.mapped;
}

static bool add_step(recorder *r, const char *name, cpu_step_fn run, const void *args, size_t size)
{
    if (r->failed)
        return false;
    if (!cpu_program_add(&r->seq->host, name, run, args, size)) {
        r->failed = true;
        return errbuf_set(r->err, "out of memory recording the CPU steps");
    }
    return true;
}

static bool cpu_matmul(recorder *r, const matmul_op *op)
{
    /* Texel offsets and strides are four floats each; C's are floats. A
     * packed weight is [N][K] rows on this backend (pack_weight). */
    cpu_matmul_args a = {
        .M = op->M, .N = op->N, .K = op->K, .batch_outer = op->batch_outer, .batch_inner = op->batch_inner,
        .a = host(op->a.buf) + 4 * (size_t)op->a.off, .a_outer = 4 * (size_t)op->a.outer,
        .a_inner = 4 * (size_t)op->a.inner, .lda = op->a.row ? 4 * (size_t)op->a.row : op->K,
        .b = host(op->b.buf) + 4 * (size_t)op->b.off,
        .b_outer = op->b_packed ? 0 : 4 * (size_t)op->b.outer, .b_inner = op->b_packed ? 0 : 4 * (size_t)op->b.inner,
        .ldb = op->b_packed ? op->K : 4 * (size_t)op->b.row,
        .c = host(op->c.buf) + op->c.off, .c_outer = op->c.outer, .c_inner = op->c.inner, .ldc = op->c.row,
        .bias = op->bias ? host(*op->bias) : NULL,
        .residual = op->residual, .act = op->act, .alpha = op->alpha,
    };
    bool batched = op->batch_outer * op->batch_inner > 1; /* attention's products, one per head */
    return add_step(r, batched ? "matmul per head (sgemm)" : "matmul (sgemm)", cpu_matmul_run, &a, sizeof a);
}

static bool dispatch(recorder *r, kernel_id id, const uint32_t *spec, uint32_t nspec,
                     const vk_binding *bindings, const void *push, uint32_t gx, uint32_t gy, uint32_t gz)
{
    if (r->failed)
        return false;
    const vk_kernel *k = kernel_get(r->kernels, id, spec, nspec, r->err);
    if (!k || !vk_sequence_dispatch(r->seq, k, bindings, push, gx, gy, gz, r->err)) {
        r->failed = true;
        return false;
    }
    return true;
}

static void count_bytes(recorder *r, double bytes)
{
    vk_sequence_count_work(r->seq, 0, bytes);
}

/* The least a matmul moves: each distinct A and B matrix read once (an
 * operand with no stride along a batch axis is shared across it), C written
 * once (and read first when it is the residual), the bias read once. */
static double matmul_bytes(const matmul_op *op)
{
    double a = (op->a.outer ? op->batch_outer : 1) * (op->a.inner ? op->batch_inner : 1);
    double b = (op->b.outer ? op->batch_outer : 1) * (op->b.inner ? op->batch_inner : 1);
    double z = (double)op->batch_outer * op->batch_inner;
    return a * op->M * op->K * storage_size(op->a.buf.type) + b * op->N * op->K * storage_size(op->b.buf.type) +
           z * op->M * op->N * storage_size(op->c.buf.type) * (op->residual ? 2 : 1) + (op->bias ? 4.0 * op->N : 0);
}

bool op_matmul(recorder *r, const matmul_op *op)
{
    if (on_cpu(r))
        return cpu_matmul(r, op);
    const matmul_tiles *t = &op->tiles;
    /* Matrix units for fp16 weights and fp16 activations only; the rest (fp32
     * weights, DINOv2's scaled rows, the fp32 patches and pooled rows, and
     * everything under --precision f32) take the shared kernel, whose 4 × 4
     * tiles pack the same blocks. */
    bool coopmat = t->kind == MATMUL_COOPMAT && op->b.buf.type == STORAGE_F16 && op->a.buf.type == STORAGE_F16 &&
                   r->seq->ctx->features.coopmat_f16; /* fp32 activations are not rounded to fp16 */
    bool shared = t->kind == MATMUL_SHARED || t->kind == MATMUL_COOPMAT;
    if (shared && !op->b_packed) {
        r->failed = true;
        return errbuf_set(r->err, "internal: the shared-memory matmul reads packed weights only");
    }
    push_matmul pc = {
        .M = op->M, .N = op->N, .K4 = op->K / 4, .batch_inner = op->batch_inner,
        .a_off = op->a.off, .a_outer = op->a.outer, .a_inner = op->a.inner, .a_row = op->a.row,
        .b_off = op->b.off, .b_outer = op->b.outer, .b_inner = op->b.inner, .b_row = op->b.row,
        .c_off = op->c.off, .c_outer = op->c.outer, .c_inner = op->c.inner, .c_row = op->c.row,
        .alpha = op->alpha,
    };
    /* matmul_tiled.comp: TM, TN, BK4 (16 values of K a step), then the epilogue. */
    uint32_t tiled_spec[6] = {t->tm, t->tn, 4, op->bias != NULL, op->residual, op->act};
    uint32_t register_spec[7] = {t->wg, t->tm, t->tn, op->b_packed, op->bias != NULL, op->residual, op->act};
    const uint32_t *spec = coopmat ? tiled_spec + 3 : shared ? tiled_spec : register_spec;
    uint32_t nspec = coopmat ? 3 : shared ? 6 : 7;
    dbuf dummy = {.slice = r->dummy, .type = STORAGE_F32};
    vk_binding b[5] = {
        texels4(op->a.buf),
        texels4(op->b.buf),
        texels1(op->bias ? *op->bias : dummy),
        texels1(op->residual ? op->c.buf : dummy),
        storage(op->c.buf),
    };
    bool f16 = op->c.buf.type == STORAGE_F16;
    kernel_id id = coopmat  ? (f16 ? KERNEL_MATMUL_COOPMAT_F16 : KERNEL_MATMUL_COOPMAT_F32)
                   : shared ? (f16 ? KERNEL_MATMUL_TILED_F16 : KERNEL_MATMUL_TILED_F32)
                            : (f16 ? KERNEL_MATMUL_F16 : KERNEL_MATMUL_F32);
    uint32_t rows_a_group = coopmat ? 64 : shared ? 16 * t->tm : t->tm;
    if (!dispatch(r, id, spec, nspec, b, &pc,
                  div_up(op->N, matmul_pack_block(*t)), div_up(op->M, rows_a_group), op->batch_outer * op->batch_inner))
        return false;
    vk_sequence_count_work(r->seq, 2.0 * op->M * op->N * op->K * op->batch_outer * op->batch_inner, matmul_bytes(op));
    return true;
}

bool op_layernorm(recorder *r, dbuf x, uint32_t x_off, uint32_t x_row, const dbuf *gamma,
                  const dbuf *beta, dbuf y, uint32_t y_off, uint32_t y_row, uint32_t rows, uint32_t D,
                  float eps)
{
    if (on_cpu(r)) {
        cpu_layernorm_args a = {.x = host(x) + 4 * (size_t)x_off, .y = host(y) + 4 * (size_t)y_off,
                                .x_row = 4 * (size_t)x_row, .y_row = 4 * (size_t)y_row, .gamma = host(*gamma),
                                .beta = host(*beta), .rows = rows, .D = D, .eps = eps};
        return add_step(r, "layernorm", cpu_layernorm_run, &a, sizeof a);
    }
    push_layernorm pc = {.rows = rows, .D4 = D / 4, .x_off = x_off, .x_row = x_row,
                         .y_off = y_off, .y_row = y_row, .eps = eps};
    vk_binding b[4] = {texels4(x), texels4(*gamma), texels4(*beta), storage(y)};
    bool f16 = y.type == STORAGE_F16;
    const kernel_plan *plan = &r->kernels->plan;
    kernel_id per_row = plan->row_subgroups ? (f16 ? KERNEL_LAYERNORM_ROWS_SG_F16 : KERNEL_LAYERNORM_ROWS_SG_F32)
                                            : (f16 ? KERNEL_LAYERNORM_ROWS_F16 : KERNEL_LAYERNORM_ROWS_F32);
    bool ok = plan->row_groups
                  ? dispatch(r, per_row, NULL, 0, b, &pc, rows, 1, 1)
                  : dispatch(r, f16 ? KERNEL_LAYERNORM_F16 : KERNEL_LAYERNORM_F32, NULL, 0, b, &pc, div_up(rows, 64), 1, 1);
    /* No FLOPs counted for the ops below: only the bytes they move at least. */
    if (ok)
        count_bytes(r, (double)rows * D * (storage_size(x.type) + storage_size(y.type)) + 8.0 * D);
    return ok;
}

bool op_softmax(recorder *r, dbuf scores, uint32_t rows, uint32_t T, uint32_t Tp, bool causal)
{
    if (on_cpu(r)) {
        cpu_softmax_args a = {.s = host(scores), .rows = rows, .T = T, .Tp = Tp, .causal = causal};
        return add_step(r, "softmax", cpu_softmax_run, &a, sizeof a);
    }
    push_softmax pc = {.rows = rows, .T = T, .Tp = Tp, .causal = causal};
    vk_binding b[2] = {texels1(scores), storage(scores)};
    kernel_id per_row = r->kernels->plan.row_subgroups ? KERNEL_SOFTMAX_ROWS_SG : KERNEL_SOFTMAX_ROWS;
    bool ok = r->kernels->plan.row_groups ? dispatch(r, per_row, NULL, 0, b, &pc, rows, 1, 1)
                                          : dispatch(r, KERNEL_SOFTMAX, NULL, 0, b, &pc, div_up(rows, 64), 1, 1);
    if (ok)
        count_bytes(r, 4.0 * rows * (T + Tp));
    return ok;
}

/* Query rows a workgroup, keys staged at a time (shaders/attention.comp). */
#define ATTENTION_QUERIES 64
#define ATTENTION_KEYS 32

bool op_attention(recorder *r, dbuf qkv, dbuf attn, uint32_t sequences, uint32_t T, uint32_t H, uint32_t hd,
                  uint32_t D, bool causal)
{
    if (on_cpu(r) || hd % 4 != 0) {
        r->failed = true;
        return errbuf_set(r->err, "internal: fused attention on the CPU backend or a head width of %u", hd);
    }
    push_attention pc = {.T = T, .D4 = D / 4, .scale = 1.0f / sqrtf((float)hd)};
    /* Keys and values staged: 2 · keys · hd fp32 values, within the device's
     * shared memory (16 KiB is all Vulkan promises: 8 keys at hd 256). */
    uint32_t keys = ATTENTION_KEYS, room = r->seq->ctx->props.limits.maxComputeSharedMemorySize;
    while (keys > 4 && 2u * keys * hd * 4u > room)
        keys -= 4;
    uint32_t spec[4] = {ATTENTION_QUERIES, hd / 4, keys, causal};
    vk_binding b[2] = {texels4(qkv), storage(attn)};
    kernel_id id = attn.type == STORAGE_F16 ? KERNEL_ATTENTION_F16 : KERNEL_ATTENTION_F32;
    if (!dispatch(r, id, spec, 4, b, &pc, div_up(T, ATTENTION_QUERIES), H, sequences))
        return false;
    /* Q·Kᵀ and P·V over every key (the causal half is skipped but counted,
     * as the split path computes it); Q, K and V read once, the output written once. */
    double flops = 4.0 * sequences * H * T * T * hd;
    double bytes = (double)sequences * T * D * (3 * storage_size(qkv.type) + storage_size(attn.type));
    vk_sequence_count_work(r->seq, flops, bytes);
    return true;
}

bool op_transpose_heads(recorder *r, dbuf qkv, dbuf vt, uint32_t images, uint32_t T, uint32_t Tp,
                        uint32_t H, uint32_t hd, uint32_t D)
{
    if (on_cpu(r)) {
        cpu_transpose_heads_args a = {.qkv = host(qkv), .vt = host(vt), .images = images, .T = T, .Tp = Tp,
                                      .H = H, .hd = hd, .row = 3 * D, .v_col = 2 * D};
        return add_step(r, "transpose_heads", cpu_transpose_heads_run, &a, sizeof a);
    }
    push_transpose_heads pc = {.total = images * H * hd * Tp, .T = T, .Tp = Tp, .H = H, .hd = hd,
                               .row = 3 * D, .v_col = 2 * D};
    vk_binding b[2] = {texels1(qkv), storage(vt)};
    kernel_id id = vt.type == STORAGE_F16 ? KERNEL_TRANSPOSE_HEADS_F16 : KERNEL_TRANSPOSE_HEADS_F32;
    bool ok = dispatch(r, id, NULL, 0, b, &pc, div_up(pc.total, 64), 1, 1);
    if (ok)
        count_bytes(r, (double)images * T * D * storage_size(qkv.type) + (double)pc.total * storage_size(vt.type));
    return ok;
}

bool op_swiglu(recorder *r, dbuf x, dbuf y, uint32_t rows, uint32_t h)
{
    if (on_cpu(r)) {
        cpu_swiglu_args a = {.x = host(x), .y = host(y), .rows = rows, .h = h};
        return add_step(r, "swiglu", cpu_swiglu_run, &a, sizeof a);
    }
    push_swiglu pc = {.total = rows * h, .h = h};
    vk_binding b[2] = {texels1(x), storage(y)};
    kernel_id id = y.type == STORAGE_F16 ? KERNEL_SWIGLU_F16 : KERNEL_SWIGLU_F32;
    bool ok = dispatch(r, id, NULL, 0, b, &pc, div_up(pc.total, 64), 1, 1);
    if (ok)
        count_bytes(r, (double)pc.total * (2 * storage_size(x.type) + storage_size(y.type)));
    return ok;
}

bool op_embed_tokens(recorder *r, dbuf x, const dbuf *prefix, const dbuf *pos, uint32_t images,
                     uint32_t T, uint32_t D, uint32_t prefix_tokens)
{
    if (on_cpu(r)) {
        cpu_embed_tokens_args a = {.x = host(x), .prefix = host(*prefix), .pos = host(*pos), .images = images,
                                   .T = T, .D = D, .prefix_tokens = prefix_tokens};
        return add_step(r, "embed_tokens", cpu_embed_tokens_run, &a, sizeof a);
    }
    push_embed_tokens pc = {.total = images * T * (D / 4), .T = T, .D4 = D / 4, .prefix = prefix_tokens};
    vk_binding b[4] = {texels4(x), texels4(*prefix), texels4(*pos), storage(x)};
    return dispatch(r, KERNEL_EMBED_TOKENS, NULL, 0, b, &pc, div_up(pc.total, 64), 1, 1);
}

bool op_preprocess(recorder *r, vk_slice frame, vk_slice table, vk_slice rows_tmp, dbuf out,
                   const push_preprocess_h *h, const push_preprocess_v *v)
{
    if (on_cpu(r)) {
        cpu_preprocess_args a = {.frame = frame.mapped, .table = table.mapped, .rows = rows_tmp.mapped,
                                 .out = host(out), .h = *h, .v = *v};
        return add_step(r, "preprocess", cpu_preprocess_run, &a, sizeof a);
    }
    vk_binding hb[4] = {
        {.slice = frame, .format = VK_FORMAT_R8_UINT},
        {.slice = frame, .format = VK_FORMAT_R8G8B8A8_UINT},
        {.slice = table, .format = VK_FORMAT_R32_SINT},
        {.slice = rows_tmp},
    };
    if (!dispatch(r, KERNEL_PREPROCESS_H, NULL, 0, hb, h, div_up(h->crop_w, 8), div_up(h->rows, 8), 1))
        return false;
    vk_binding vb[3] = {
        {.slice = rows_tmp, .format = VK_FORMAT_R32_UINT},
        {.slice = table, .format = VK_FORMAT_R32_SINT},
        storage(out),
    };
    return dispatch(r, KERNEL_PREPROCESS_V, NULL, 0, vb, v, div_up(v->crop_w, 8), div_up(v->crop_h, 8), 1);
}

uint64_t packed_weight_bytes(uint32_t N, uint32_t K, matmul_tiles t, storage_type type)
{
    uint64_t block = matmul_pack_block(t);
    uint64_t npad = (N + block - 1) / block * block;
    return npad * K * storage_size(type);
}

bool pack_weight(void *dst, uint32_t N, uint32_t K, matmul_tiles t, storage_type type,
                 void (*get_row)(void *user, uint32_t n, float *dst), void *user)
{
    uint32_t block = matmul_pack_block(t);
    uint32_t nblocks = (N + block - 1) / block;
    uint32_t K4 = K / 4;
    float *row = malloc((size_t)K * sizeof *row);
    if (!row)
        return false;
    for (uint32_t nb = 0; nb < nblocks; nb++)
        for (uint32_t col = 0; col < block; col++) {
            uint32_t n = nb * block + col;
            if (n < N)
                get_row(user, n, row);
            else
                memset(row, 0, (size_t)K * sizeof *row);
            for (uint32_t k4 = 0; k4 < K4; k4++) {
                /* texel (nb·K4 + k4)·block + col: at each step of K, a block's
                 * columns are consecutive texels */
                size_t texel = ((size_t)nb * K4 + k4) * block + col;
                if (type == STORAGE_F16) {
                    uint16_t *d = (uint16_t *)dst + texel * 4;
                    for (int c = 0; c < 4; c++)
                        d[c] = f32_to_f16(row[k4 * 4 + c]);
                } else {
                    memcpy((float *)dst + texel * 4, row + k4 * 4, 4 * sizeof(float));
                }
            }
        }
    free(row);
    return true;
}
