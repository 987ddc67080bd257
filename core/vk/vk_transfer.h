/* vk_transfer: buffer copies (frames from host-visible staging to
 * device-local memory) recorded once, submitted ahead of the compute work
 * that reads them, on the transfer-only queue where the device has one: the
 * copy engines then fill one batch's frames while the compute units run the
 * batch before. Elsewhere the copies go alone on the compute queue.
 *
 * The compute submission waits on the transfer's semaphore, which orders it
 * after the copies and makes their writes visible to its shaders. A transfer
 * may be recorded again or resubmitted only once the compute work that waited
 * on it has finished (its fence). */
#ifndef VKCLIP_VK_TRANSFER_H
#define VKCLIP_VK_TRANSFER_H

#include <stdbool.h>

#include "vk_buffer.h"
#include "vk_context.h"

typedef struct vk_transfer {
    vk_context *ctx;
    VkCommandPool pool; /* on ctx->transfer_family */
    VkCommandBuffer cmd;
    VkSemaphore copied; /* signalled by the copies, waited on by the compute submission */
    bool recorded;
} vk_transfer;

bool vk_transfer_init(vk_context *ctx, vk_transfer *t, errbuf *err);
/* Records the n copies src[i] -> dst[i] (each the smaller of the two sizes),
 * replacing what was recorded before. */
bool vk_transfer_record(vk_transfer *t, const vk_slice *src, const vk_slice *dst, int n, errbuf *err);
/* Submits the recorded copies, then `count` compute command buffers that
 * wait for them (at the compute stage) and signal `fence`. */
bool vk_transfer_submit_then(vk_transfer *t, const VkCommandBuffer *cmds, uint32_t count, VkFence fence,
                             errbuf *err);
void vk_transfer_destroy(vk_transfer *t);

#endif
