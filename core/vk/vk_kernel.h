/* vk_kernel: a compute pipeline made from embedded SPIR-V, with its
 * descriptor layout and push-constant range. Bindings 0..N-1 are storage
 * buffers, or uniform texel buffers where a format is given: llvmpipe (the
 * CPU driver) loads texels with vector gathers but storage buffers lane by
 * lane, so the operands a matmul reads most come in as texels. */
#ifndef VKCLIP_VK_KERNEL_H
#define VKCLIP_VK_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "vk_context.h"

#define VK_KERNEL_MAX_BUFFERS 8
#define VK_KERNEL_MAX_SPEC 8

typedef struct vk_kernel {
    const char *name;
    VkShaderModule module;
    VkDescriptorSetLayout set_layout;
    VkPipelineLayout layout;
    VkPipeline pipeline;
    uint32_t num_buffers;
    uint32_t push_size;
    uint32_t texel_mask; /* bit i set: binding i is a uniform texel buffer */
} vk_kernel;

typedef struct vk_kernel_desc {
    const char *name;
    const uint32_t *spirv;
    size_t spirv_bytes;
    uint32_t num_buffers;
    uint32_t push_size;
    uint32_t texel_mask; /* bit i set: binding i is a uniform texel buffer */
    uint32_t spec[VK_KERNEL_MAX_SPEC]; /* specialization constants 0..num_spec-1 */
    uint32_t num_spec;
} vk_kernel_desc;

bool vk_kernel_create(vk_context *ctx, vk_kernel *k, const vk_kernel_desc *desc, errbuf *err);
void vk_kernel_destroy(vk_context *ctx, vk_kernel *k);

#endif
