#include "vk_kernel.h"

#include <string.h>

bool vk_kernel_create(vk_context *ctx, vk_kernel *k, const vk_kernel_desc *d, errbuf *err)
{
    memset(k, 0, sizeof *k);
    k->name = d->name;
    k->num_buffers = d->num_buffers;
    k->push_size = d->push_size;
    k->texel_mask = d->texel_mask;
    if (d->num_buffers > VK_KERNEL_MAX_BUFFERS || d->num_spec > VK_KERNEL_MAX_SPEC)
        return errbuf_set(err, "kernel %s: too many buffers or constants", d->name);
    if (d->push_size > ctx->props.limits.maxPushConstantsSize)
        return errbuf_set(err, "kernel %s: %u bytes of push constants exceed the device's %u",
                          d->name, d->push_size, ctx->props.limits.maxPushConstantsSize);

    VkShaderModuleCreateInfo smci = {
        .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
        .codeSize = d->spirv_bytes,
        .pCode = d->spirv,
    };
    VkResult r = vkCreateShaderModule(ctx->device, &smci, NULL, &k->module);
    if (r != VK_SUCCESS)
        goto fail;

    VkDescriptorSetLayoutBinding bindings[VK_KERNEL_MAX_BUFFERS];
    for (uint32_t i = 0; i < d->num_buffers; i++)
        bindings[i] = (VkDescriptorSetLayoutBinding){
            .binding = i,
            .descriptorType = (d->texel_mask >> i) & 1 ? VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER
                                                       : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .descriptorCount = 1,
            .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        };
    VkDescriptorSetLayoutCreateInfo dslci = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
        .bindingCount = d->num_buffers,
        .pBindings = bindings,
    };
    r = vkCreateDescriptorSetLayout(ctx->device, &dslci, NULL, &k->set_layout);
    if (r != VK_SUCCESS)
        goto fail;

    VkPushConstantRange pcr = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .size = d->push_size};
    VkPipelineLayoutCreateInfo plci = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
        .setLayoutCount = 1,
        .pSetLayouts = &k->set_layout,
        .pushConstantRangeCount = d->push_size ? 1 : 0,
        .pPushConstantRanges = &pcr,
    };
    r = vkCreatePipelineLayout(ctx->device, &plci, NULL, &k->layout);
    if (r != VK_SUCCESS)
        goto fail;

    VkSpecializationMapEntry entries[VK_KERNEL_MAX_SPEC];
    for (uint32_t i = 0; i < d->num_spec; i++)
        entries[i] = (VkSpecializationMapEntry){.constantID = i, .offset = i * 4, .size = 4};
    VkSpecializationInfo spec = {
        .mapEntryCount = d->num_spec,
        .pMapEntries = entries,
        .dataSize = d->num_spec * 4,
        .pData = d->spec,
    };
    VkComputePipelineCreateInfo cpci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        /* Dispatches larger than the device's group count limit are split
         * into several with a base group (vk_sequence_dispatch). */
        .flags = VK_PIPELINE_CREATE_DISPATCH_BASE_BIT,
        .stage = {
            .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
            .stage = VK_SHADER_STAGE_COMPUTE_BIT,
            .module = k->module,
            .pName = "main",
            .pSpecializationInfo = d->num_spec ? &spec : NULL,
        },
        .layout = k->layout,
    };
    r = vkCreateComputePipelines(ctx->device, VK_NULL_HANDLE, 1, &cpci, NULL, &k->pipeline);
    if (r != VK_SUCCESS)
        goto fail;
    return true;

fail:
    vk_kernel_destroy(ctx, k);
    return errbuf_set(err, "vulkan: cannot build kernel %s: %s", d->name, vk_result_name(r));
}

void vk_kernel_destroy(vk_context *ctx, vk_kernel *k)
{
    if (k->pipeline)
        vkDestroyPipeline(ctx->device, k->pipeline, NULL);
    if (k->layout)
        vkDestroyPipelineLayout(ctx->device, k->layout, NULL);
    if (k->set_layout)
        vkDestroyDescriptorSetLayout(ctx->device, k->set_layout, NULL);
    if (k->module)
        vkDestroyShaderModule(ctx->device, k->module, NULL);
    memset(k, 0, sizeof *k);
}
