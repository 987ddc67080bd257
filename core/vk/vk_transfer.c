#include "vk_transfer.h"

#include <string.h>

static bool make_semaphore(vk_transfer *t, errbuf *err)
{
    VkSemaphoreCreateInfo sci = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
    VkResult r = vkCreateSemaphore(t->ctx->device, &sci, NULL, &t->copied);
    if (r != VK_SUCCESS) {
        t->copied = VK_NULL_HANDLE;
        return errbuf_set(err, "vulkan: cannot create a semaphore: %s", vk_result_name(r));
    }
    return true;
}

bool vk_transfer_init(vk_context *ctx, vk_transfer *t, errbuf *err)
{
    memset(t, 0, sizeof *t);
    t->ctx = ctx;
    VkCommandPoolCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                   .queueFamilyIndex = ctx->transfer_family};
    VkResult r = vkCreateCommandPool(ctx->device, &pci, NULL, &t->pool);
    if (r != VK_SUCCESS) {
        t->pool = VK_NULL_HANDLE;
        return errbuf_set(err, "vulkan: cannot create a transfer command pool: %s", vk_result_name(r));
    }
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                      .commandPool = t->pool,
                                      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                      .commandBufferCount = 1};
    r = vkAllocateCommandBuffers(ctx->device, &ai, &t->cmd);
    if (r != VK_SUCCESS) {
        vk_transfer_destroy(t);
        return errbuf_set(err, "vulkan: cannot allocate a transfer command buffer: %s", vk_result_name(r));
    }
    if (!make_semaphore(t, err)) {
        vk_transfer_destroy(t);
        return false;
    }
    return true;
}

bool vk_transfer_record(vk_transfer *t, const vk_slice *src, const vk_slice *dst, int n, errbuf *err)
{
    t->recorded = false;
    VkResult r = vkResetCommandPool(t->ctx->device, t->pool, 0);
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    if (r == VK_SUCCESS)
        r = vkBeginCommandBuffer(t->cmd, &bi);
    for (int i = 0; r == VK_SUCCESS && i < n; i++) {
        VkBufferCopy c = {.srcOffset = src[i].offset, .dstOffset = dst[i].offset,
                          .size = src[i].size < dst[i].size ? src[i].size : dst[i].size};
        vkCmdCopyBuffer(t->cmd, src[i].buffer, dst[i].buffer, 1, &c);
    }
    if (r == VK_SUCCESS)
        r = vkEndCommandBuffer(t->cmd);
    if (r != VK_SUCCESS)
        return errbuf_set(err, "vulkan: recording the frame copies failed: %s", vk_result_name(r));
    t->recorded = true;
    return true;
}

bool vk_transfer_submit_then(vk_transfer *t, const VkCommandBuffer *cmds, uint32_t count, VkFence fence,
                             errbuf *err)
{
    vk_context *ctx = t->ctx;
    if (!t->recorded || !t->copied)
        return errbuf_set(err, "vulkan: the frame copies are not ready to submit");
    VkSubmitInfo copy = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1,
                         .pCommandBuffers = &t->cmd, .signalSemaphoreCount = 1, .pSignalSemaphores = &t->copied};
    VkResult r = vk_queue_submit_transfer(ctx, 1, &copy, VK_NULL_HANDLE);
    if (r != VK_SUCCESS)
        return errbuf_set(err, "vulkan: submitting the frame copies failed: %s", vk_result_name(r));
    VkPipelineStageFlags stage = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT;
    VkSubmitInfo work = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .waitSemaphoreCount = 1,
                         .pWaitSemaphores = &t->copied, .pWaitDstStageMask = &stage,
                         .commandBufferCount = count, .pCommandBuffers = cmds};
    r = vk_queue_submit(ctx, 1, &work, fence);
    if (r == VK_SUCCESS)
        return true;
    /* Nothing will wait on the signal now: let the copies finish and start
     * over with an unsignalled semaphore, so the next submission is valid. */
    pthread_mutex_lock(&ctx->queue_lock);
    vkQueueWaitIdle(ctx->transfer_queue);
    pthread_mutex_unlock(&ctx->queue_lock);
    vkDestroySemaphore(ctx->device, t->copied, NULL);
    errbuf_set(err, "vulkan: queue submit failed: %s", vk_result_name(r));
    errbuf scratch = {{0}};
    make_semaphore(t, &scratch); /* a failure leaves copied null: the next submit reports it */
    return false;
}

void vk_transfer_destroy(vk_transfer *t)
{
    if (t->ctx && t->copied)
        vkDestroySemaphore(t->ctx->device, t->copied, NULL);
    if (t->ctx && t->pool)
        vkDestroyCommandPool(t->ctx->device, t->pool, NULL); /* frees cmd */
    memset(t, 0, sizeof *t);
}
