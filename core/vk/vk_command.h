/* vk_command: recording work for the queue.
 * - vk_run_commands: record, submit and wait once (uploads, one-off work).
 * - vk_sequence: a command buffer recorded once (a forward pass for one batch
 *   size) and replayed many times; it owns its command pool, the descriptor
 *   sets it binds and their texel views. One thread at a time may record or
 *   submit a given sequence; different sequences are independent. */
#ifndef VKCLIP_VK_COMMAND_H
#define VKCLIP_VK_COMMAND_H

#include <stdbool.h>

#include "cpu/cpu_program.h"
#include "vk_buffer.h"
#include "vk_context.h"
#include "vk_kernel.h"

bool vk_run_commands(vk_context *ctx, void (*record)(VkCommandBuffer cmd, void *user), void *user,
                     errbuf *err);

/* Submits count command buffers in one vkQueueSubmit (in order) with a fence. */
bool vk_submit(vk_context *ctx, const VkCommandBuffer *cmds, uint32_t count, VkFence fence, errbuf *err);

typedef struct vk_access {
    VkBuffer buffer;
    VkDeviceSize offset, size;
    bool write;
} vk_access;

typedef struct vk_sequence {
    vk_context *ctx;
    VkCommandPool command_pool;
    VkCommandBuffer cmd;
    VkFence fence;
    VkDescriptorPool *pools;
    int npools, pool_at; /* pool_at: the pool sets come from now (-1: none yet) */
    VkBufferView *views; /* texel views made for bindings */
    int nviews, views_capacity;
    uint32_t sets_left; /* in the newest pool */
    bool pending;       /* submitted and not yet waited for */
    uint32_t dispatches;
    /* What was read and written since the last barrier: a dispatch or copy
     * that reads or writes what one of them wrote, or writes what one read,
     * gets a barrier first; others run alongside (vk_sequence_dispatch). */
    vk_access *accesses;
    int naccesses, accesses_capacity;
    uint32_t barriers; /* recorded in this sequence */
    bool copy_failed;  /* vk_sequence_copy returns nothing: vk_sequence_end reports copy_err */
    errbuf copy_err;
    /* VKCLIP_PROFILE=1: a timestamp after each dispatch, summed by kernel,
     * and the arithmetic each dispatch does, when its op counts it. */
    VkQueryPool timestamps;
    const char **dispatch_names;
    double *dispatch_flops, *dispatch_bytes;
    uint32_t timestamp_capacity;
    /* On the CPU backend (ctx->cpu) the sequence is these steps instead:
     * ops append to them and submitting runs them before it returns. */
    cpu_program host;
} vk_sequence;

bool vk_sequence_begin(vk_context *ctx, vk_sequence *seq, errbuf *err);
/* Forgets what was recorded (keeping the pools) and begins again; the
 * sequence must not be on the device (waits for it if it was submitted
 * through vk_sequence_submit). */
bool vk_sequence_reset(vk_sequence *seq, errbuf *err);

/* Binds the buffers to the kernel's bindings 0..n-1, pushes the constants and
 * dispatches. Texel bindings are read, storage bindings written; a barrier
 * goes before the dispatch when that touches what an earlier one wrote, or
 * writes what one read, since the last barrier (after every dispatch with
 * ctx->every_barrier or VKCLIP_PROFILE, whose timestamps time each kernel
 * alone). */
bool vk_sequence_dispatch(vk_sequence *seq, const vk_kernel *k, const vk_binding *bindings,
                          const void *push, uint32_t gx, uint32_t gy, uint32_t gz, errbuf *err);

/* With VKCLIP_PROFILE=1: the last dispatch does `flops` floating-point
 * operations and moves at least `bytes` to or from memory (for the profile's
 * GFLOP/s and GB/s); otherwise nothing. */
void vk_sequence_count_work(vk_sequence *seq, double flops, double bytes);

/* Buffer copy inside the sequence (e.g. staging -> device), ordered as a
 * dispatch that reads src and writes dst. */
void vk_sequence_copy(vk_sequence *seq, vk_slice src, vk_slice dst);

bool vk_sequence_end(vk_sequence *seq, errbuf *err);
bool vk_sequence_submit(vk_sequence *seq, errbuf *err);
bool vk_sequence_wait(vk_sequence *seq, errbuf *err);
void vk_sequence_destroy(vk_sequence *seq);

/* With VKCLIP_PROFILE=1, prints the time of the last run per kernel to
 * stderr, and the GFLOP/s and GB/s of the kernels whose ops count their work. */
void vk_sequence_print_profile(vk_sequence *seq);

#endif
