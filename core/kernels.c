#include "kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

/* SPIR-V made by glslc -mfmt=c at build time (shaders/meson.build). */
static const uint32_t spv_matmul_f32[] =
#include "matmul_f32.spv.inc"
    ;
static const uint32_t spv_matmul_f16[] =
#include "matmul_f16.spv.inc"
    ;
static const uint32_t spv_matmul_tiled_f32[] =
#include "matmul_tiled_f32.spv.inc"
    ;
static const uint32_t spv_matmul_tiled_f16[] =
#include "matmul_tiled_f16.spv.inc"
    ;
static const uint32_t spv_matmul_coopmat_f32[] =
#include "matmul_coopmat_f32.spv.inc"
    ;
static const uint32_t spv_matmul_coopmat_f16[] =
#include "matmul_coopmat_f16.spv.inc"
    ;
static const uint32_t spv_attention_f32[] =
#include "attention_f32.spv.inc"
    ;
static const uint32_t spv_attention_f16[] =
#include "attention_f16.spv.inc"
    ;
static const uint32_t spv_layernorm_f32[] =
#include "layernorm_f32.spv.inc"
    ;
static const uint32_t spv_layernorm_f16[] =
#include "layernorm_f16.spv.inc"
    ;
static const uint32_t spv_layernorm_rows_f32[] =
#include "layernorm_rows_f32.spv.inc"
    ;
static const uint32_t spv_layernorm_rows_f16[] =
#include "layernorm_rows_f16.spv.inc"
    ;
static const uint32_t spv_layernorm_rows_sg_f32[] =
#include "layernorm_rows_sg_f32.spv.inc"
    ;
static const uint32_t spv_layernorm_rows_sg_f16[] =
#include "layernorm_rows_sg_f16.spv.inc"
    ;
static const uint32_t spv_softmax_rows_sg[] =
#include "softmax_rows_sg.spv.inc"
    ;
static const uint32_t spv_softmax[] =
#include "softmax.spv.inc"
    ;
static const uint32_t spv_softmax_rows[] =
#include "softmax_rows.spv.inc"
    ;
static const uint32_t spv_transpose_heads_f32[] =
#include "transpose_heads_f32.spv.inc"
    ;
static const uint32_t spv_transpose_heads_f16[] =
#include "transpose_heads_f16.spv.inc"
    ;
static const uint32_t spv_embed_tokens[] =
#include "embed_tokens.spv.inc"
    ;
static const uint32_t spv_swiglu_f32[] =
#include "swiglu_f32.spv.inc"
    ;
static const uint32_t spv_swiglu_f16[] =
#include "swiglu_f16.spv.inc"
    ;
static const uint32_t spv_preprocess_h[] =
#include "preprocess_h.spv.inc"
    ;
static const uint32_t spv_preprocess_v[] =
#include "preprocess_v.spv.inc"
    ;

#define SPIRV(a) a, sizeof a

/* Binding counts and which bindings are texel buffers, as each shader declares them. */
static const vk_kernel_desc descs[KERNEL_COUNT] = {
    [KERNEL_MATMUL_F32] = {"matmul_f32", SPIRV(spv_matmul_f32), 5, sizeof(push_matmul), 0xF},
    [KERNEL_MATMUL_F16] = {"matmul_f16", SPIRV(spv_matmul_f16), 5, sizeof(push_matmul), 0xF},
    [KERNEL_MATMUL_TILED_F32] = {"matmul_tiled_f32", SPIRV(spv_matmul_tiled_f32), 5, sizeof(push_matmul), 0xF},
    [KERNEL_MATMUL_TILED_F16] = {"matmul_tiled_f16", SPIRV(spv_matmul_tiled_f16), 5, sizeof(push_matmul), 0xF},
    [KERNEL_MATMUL_COOPMAT_F32] = {"matmul_coopmat_f32", SPIRV(spv_matmul_coopmat_f32), 5, sizeof(push_matmul),
                                   0xF},
    [KERNEL_MATMUL_COOPMAT_F16] = {"matmul_coopmat_f16", SPIRV(spv_matmul_coopmat_f16), 5, sizeof(push_matmul),
                                   0xF},
    [KERNEL_ATTENTION_F32] = {"attention_f32", SPIRV(spv_attention_f32), 2, sizeof(push_attention), 0x1},
    [KERNEL_ATTENTION_F16] = {"attention_f16", SPIRV(spv_attention_f16), 2, sizeof(push_attention), 0x1},
    [KERNEL_LAYERNORM_F32] = {"layernorm_f32", SPIRV(spv_layernorm_f32), 4, sizeof(push_layernorm), 0x7},
    [KERNEL_LAYERNORM_F16] = {"layernorm_f16", SPIRV(spv_layernorm_f16), 4, sizeof(push_layernorm), 0x7},
    [KERNEL_LAYERNORM_ROWS_F32] = {"layernorm_rows_f32", SPIRV(spv_layernorm_rows_f32), 4, sizeof(push_layernorm),
                                   0x7},
    [KERNEL_LAYERNORM_ROWS_F16] = {"layernorm_rows_f16", SPIRV(spv_layernorm_rows_f16), 4, sizeof(push_layernorm),
                                   0x7},
    [KERNEL_LAYERNORM_ROWS_SG_F32] = {"layernorm_rows_sg_f32", SPIRV(spv_layernorm_rows_sg_f32), 4,
                                      sizeof(push_layernorm), 0x7},
    [KERNEL_LAYERNORM_ROWS_SG_F16] = {"layernorm_rows_sg_f16", SPIRV(spv_layernorm_rows_sg_f16), 4,
                                      sizeof(push_layernorm), 0x7},
    [KERNEL_SOFTMAX_ROWS] = {"softmax_rows", SPIRV(spv_softmax_rows), 2, sizeof(push_softmax), 0x1},
    [KERNEL_SOFTMAX_ROWS_SG] = {"softmax_rows_sg", SPIRV(spv_softmax_rows_sg), 2, sizeof(push_softmax), 0x1},
    [KERNEL_SOFTMAX] = {"softmax", SPIRV(spv_softmax), 2, sizeof(push_softmax), 0x1},
    [KERNEL_TRANSPOSE_HEADS_F32] = {"transpose_heads_f32", SPIRV(spv_transpose_heads_f32), 2,
                                    sizeof(push_transpose_heads), 0x1},
    [KERNEL_TRANSPOSE_HEADS_F16] = {"transpose_heads_f16", SPIRV(spv_transpose_heads_f16), 2,
                                    sizeof(push_transpose_heads), 0x1},
    [KERNEL_EMBED_TOKENS] = {"embed_tokens", SPIRV(spv_embed_tokens), 4, sizeof(push_embed_tokens), 0x7},
    [KERNEL_SWIGLU_F32] = {"swiglu_f32", SPIRV(spv_swiglu_f32), 2, sizeof(push_swiglu), 0x1},
    [KERNEL_SWIGLU_F16] = {"swiglu_f16", SPIRV(spv_swiglu_f16), 2, sizeof(push_swiglu), 0x1},
    [KERNEL_PREPROCESS_H] = {"preprocess_h", SPIRV(spv_preprocess_h), 4, sizeof(push_preprocess_h), 0x7},
    [KERNEL_PREPROCESS_V] = {"preprocess_v", SPIRV(spv_preprocess_v), 3, sizeof(push_preprocess_v), 0x3},
};

void kernel_cache_init(kernel_cache *kc, vk_context *ctx, kernel_plan plan)
{
    memset(kc, 0, sizeof *kc);
    kc->ctx = ctx;
    kc->plan = plan;
    pthread_mutex_init(&kc->lock, NULL);
}

void kernel_cache_destroy(kernel_cache *kc)
{
    for (int i = 0; i < kc->count; i++) {
        vk_kernel_destroy(kc->ctx, &kc->entries[i]->kernel);
        free(kc->entries[i]);
    }
    free(kc->entries);
    pthread_mutex_destroy(&kc->lock);
    memset(kc, 0, sizeof *kc);
}

static const vk_kernel *kernel_get_locked(kernel_cache *kc, kernel_id id, const uint32_t *spec,
                                          uint32_t num_spec, errbuf *err)
{
    for (int i = 0; i < kc->count; i++) {
        kernel_cache_entry *e = kc->entries[i];
        if (e->id == id && e->num_spec == num_spec &&
            (num_spec == 0 || memcmp(e->spec, spec, num_spec * sizeof *spec) == 0))
            return &e->kernel;
    }
    if (kc->count == kc->capacity) {
        int cap = kc->capacity ? kc->capacity * 2 : 16;
        kernel_cache_entry **grown = realloc(kc->entries, (size_t)cap * sizeof *grown);
        if (!grown) {
            errbuf_set(err, "out of memory");
            return NULL;
        }
        kc->entries = grown;
        kc->capacity = cap;
    }
    kernel_cache_entry *e = calloc(1, sizeof *e);
    if (!e) {
        errbuf_set(err, "out of memory");
        return NULL;
    }
    e->id = id;
    e->num_spec = num_spec;
    if (num_spec)
        memcpy(e->spec, spec, num_spec * sizeof *spec);
    int at = snprintf(e->label, sizeof e->label, "%s", descs[id].name);
    for (uint32_t i = 0; i < num_spec && at > 0 && at < (int)sizeof e->label; i++)
        at += snprintf(e->label + at, sizeof e->label - (size_t)at, "%c%u", i ? ',' : '[', spec[i]);
    if (num_spec && at > 0 && at < (int)sizeof e->label - 1)
        snprintf(e->label + at, sizeof e->label - (size_t)at, "]");
    vk_kernel_desc d = descs[id];
    d.name = e->label;
    if (num_spec)
        memcpy(d.spec, spec, num_spec * sizeof *spec);
    d.num_spec = num_spec;
    if (!vk_kernel_create(kc->ctx, &e->kernel, &d, err)) {
        free(e);
        return NULL;
    }
    kc->entries[kc->count++] = e;
    return &e->kernel;
}

const vk_kernel *kernel_get(kernel_cache *kc, kernel_id id, const uint32_t *spec, uint32_t num_spec,
                            errbuf *err)
{
    pthread_mutex_lock(&kc->lock);
    const vk_kernel *k = kernel_get_locked(kc, id, spec, num_spec, err);
    pthread_mutex_unlock(&kc->lock);
    return k;
}
