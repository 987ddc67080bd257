#include "vk_command.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SETS_PER_POOL 128

/* A command pool of its own for each sequence and each one-off run: a pool
 * must not be used by two threads at once, and nothing else touches these. */
static bool create_pool(vk_context *ctx, VkCommandPool *pool, errbuf *err)
{
    VkCommandPoolCreateInfo pci = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .queueFamilyIndex = ctx->queue_family,
    };
    VkResult r = vkCreateCommandPool(ctx->device, &pci, NULL, pool);
    if (r != VK_SUCCESS) {
        *pool = VK_NULL_HANDLE;
        return errbuf_set(err, "vulkan: cannot create a command pool: %s", vk_result_name(r));
    }
    return true;
}

static bool allocate_command_buffer(vk_context *ctx, VkCommandPool pool, VkCommandBuffer *cmd, errbuf *err)
{
    VkCommandBufferAllocateInfo ai = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    VkResult r = vkAllocateCommandBuffers(ctx->device, &ai, cmd);
    if (r != VK_SUCCESS) {
        *cmd = VK_NULL_HANDLE;
        return errbuf_set(err, "vulkan: cannot allocate a command buffer: %s", vk_result_name(r));
    }
    return true;
}

static bool create_fence(vk_context *ctx, VkFence *fence, errbuf *err)
{
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkResult r = vkCreateFence(ctx->device, &fci, NULL, fence);
    if (r != VK_SUCCESS)
        return errbuf_set(err, "vulkan: cannot create a fence: %s", vk_result_name(r));
    return true;
}

bool vk_submit(vk_context *ctx, const VkCommandBuffer *cmds, uint32_t count, VkFence fence, errbuf *err)
{
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = count,
                       .pCommandBuffers = cmds};
    VkResult r = vk_queue_submit(ctx, 1, &si, fence);
    if (r != VK_SUCCESS)
        return errbuf_set(err, "vulkan: queue submit failed: %s", vk_result_name(r));
    return true;
}

static bool wait_fence(vk_context *ctx, VkFence fence, errbuf *err)
{
    VkResult r = vkWaitForFences(ctx->device, 1, &fence, VK_TRUE, UINT64_MAX);
    if (r == VK_SUCCESS)
        r = vkResetFences(ctx->device, 1, &fence);
    if (r != VK_SUCCESS)
        return errbuf_set(err, "vulkan: waiting for the device failed: %s", vk_result_name(r));
    return true;
}

bool vk_run_commands(vk_context *ctx, void (*record)(VkCommandBuffer, void *), void *user, errbuf *err)
{
    VkCommandPool pool;
    VkCommandBuffer cmd;
    VkFence fence = VK_NULL_HANDLE;
    if (!create_pool(ctx, &pool, err))
        return false;
    bool ok = allocate_command_buffer(ctx, pool, &cmd, err) && create_fence(ctx, &fence, err);
    if (ok) {
        VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                       .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
        vkBeginCommandBuffer(cmd, &bi);
        record(cmd, user);
        VkResult r = vkEndCommandBuffer(cmd);
        ok = r == VK_SUCCESS ? true
                             : errbuf_set(err, "vulkan: recording failed: %s", vk_result_name(r));
        ok = ok && vk_submit(ctx, &cmd, 1, fence, err) && wait_fence(ctx, fence, err);
    }
    if (fence)
        vkDestroyFence(ctx->device, fence, NULL);
    vkDestroyCommandPool(ctx->device, pool, NULL); /* frees cmd */
    return ok;
}

/* Starts recording into seq->cmd (fresh or reset): begin, and with
 * VKCLIP_PROFILE the first timestamp. */
static void begin_recording(vk_sequence *seq)
{
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    vkBeginCommandBuffer(seq->cmd, &bi);
    seq->dispatches = 0;
    seq->naccesses = 0;
    seq->barriers = 0;
    seq->copy_failed = false;
    if (seq->timestamps) {
        vkCmdResetQueryPool(seq->cmd, seq->timestamps, 0, seq->timestamp_capacity + 1);
        vkCmdWriteTimestamp(seq->cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, seq->timestamps, 0);
    }
}

bool vk_sequence_begin(vk_context *ctx, vk_sequence *seq, errbuf *err)
{
    memset(seq, 0, sizeof *seq);
    seq->ctx = ctx;
    seq->pool_at = -1;
    if (ctx->cpu) {
        cpu_program_init(&seq->host, ctx->pool);
        return true;
    }
    if (!create_pool(ctx, &seq->command_pool, err) ||
        !allocate_command_buffer(ctx, seq->command_pool, &seq->cmd, err) ||
        !create_fence(ctx, &seq->fence, err)) {
        vk_sequence_destroy(seq);
        return false;
    }
    const char *profile = getenv("VKCLIP_PROFILE");
    if (profile && *profile && strcmp(profile, "0") != 0) {
        seq->timestamp_capacity = 4096;
        VkQueryPoolCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                     .queryType = VK_QUERY_TYPE_TIMESTAMP,
                                     .queryCount = seq->timestamp_capacity + 1};
        seq->dispatch_names = calloc(seq->timestamp_capacity, sizeof *seq->dispatch_names);
        seq->dispatch_flops = calloc(seq->timestamp_capacity, sizeof *seq->dispatch_flops);
        seq->dispatch_bytes = calloc(seq->timestamp_capacity, sizeof *seq->dispatch_bytes);
        if (!seq->dispatch_names || !seq->dispatch_flops || !seq->dispatch_bytes ||
            vkCreateQueryPool(ctx->device, &qci, NULL, &seq->timestamps) != VK_SUCCESS) {
            seq->timestamps = VK_NULL_HANDLE;
            seq->timestamp_capacity = 0;
        }
    }
    begin_recording(seq);
    return true;
}

bool vk_sequence_reset(vk_sequence *seq, errbuf *err)
{
    if (seq->ctx->cpu) {
        cpu_program_clear(&seq->host);
        return true;
    }
    VkDevice dev = seq->ctx->device;
    if (seq->pending && !vk_sequence_wait(seq, err))
        return false;
    VkResult r = vkResetCommandPool(dev, seq->command_pool, 0);
    if (r != VK_SUCCESS)
        return errbuf_set(err, "vulkan: cannot reset a command pool: %s", vk_result_name(r));
    for (int i = 0; i < seq->npools; i++)
        vkResetDescriptorPool(dev, seq->pools[i], 0);
    seq->pool_at = -1;
    seq->sets_left = 0;
    for (int i = 0; i < seq->nviews; i++)
        vkDestroyBufferView(dev, seq->views[i], NULL);
    seq->nviews = 0;
    begin_recording(seq);
    return true;
}

/* The next descriptor pool: one kept from before a reset, else a new one. */
static bool next_pool(vk_sequence *seq, errbuf *err)
{
    if (seq->pool_at + 1 < seq->npools) {
        seq->pool_at++;
        seq->sets_left = SETS_PER_POOL;
        return true;
    }
    VkDescriptorPool *grown = realloc(seq->pools, (size_t)(seq->npools + 1) * sizeof *grown);
    if (!grown)
        return errbuf_set(err, "out of memory");
    seq->pools = grown;
    VkDescriptorPoolSize sizes[] = {
        {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = SETS_PER_POOL * VK_KERNEL_MAX_BUFFERS},
        {.type = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, .descriptorCount = SETS_PER_POOL * VK_KERNEL_MAX_BUFFERS},
    };
    VkDescriptorPoolCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
        .maxSets = SETS_PER_POOL,
        .poolSizeCount = 2,
        .pPoolSizes = sizes,
    };
    VkResult r = vkCreateDescriptorPool(seq->ctx->device, &ci, NULL, &seq->pools[seq->npools]);
    if (r != VK_SUCCESS)
        return errbuf_set(err, "vulkan: cannot create a descriptor pool: %s", vk_result_name(r));
    seq->pool_at = seq->npools++;
    seq->sets_left = SETS_PER_POOL;
    return true;
}

static bool make_view(vk_sequence *seq, vk_slice s, VkFormat format, VkBufferView *out, errbuf *err)
{
    if (seq->nviews == seq->views_capacity) {
        int cap = seq->views_capacity ? seq->views_capacity * 2 : 64;
        VkBufferView *grown = realloc(seq->views, (size_t)cap * sizeof *grown);
        if (!grown)
            return errbuf_set(err, "out of memory");
        seq->views = grown;
        seq->views_capacity = cap;
    }
    VkBufferViewCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
        .buffer = s.buffer,
        .format = format,
        .offset = s.offset,
        .range = s.size,
    };
    VkResult r = vkCreateBufferView(seq->ctx->device, &ci, NULL, out);
    if (r != VK_SUCCESS)
        return errbuf_set(err, "vulkan: cannot create a texel view: %s", vk_result_name(r));
    seq->views[seq->nviews++] = *out;
    return true;
}

/* The most workgroups one dispatch may have along each axis: the device's
 * limit, or less with VKCLIP_MAX_GROUPS=N (tests split every dispatch so). */
static uint32_t group_limit(const vk_context *ctx, int axis)
{
    uint32_t limit = ctx->props.limits.maxComputeWorkGroupCount[axis];
    const char *env = getenv("VKCLIP_MAX_GROUPS");
    long forced = env ? strtol(env, NULL, 10) : 0;
    if (forced > 0 && (uint64_t)forced < limit)
        limit = (uint32_t)forced;
    return limit ? limit : 1;
}

/* vkCmdDispatch of gx × gy × gz groups as several dispatches within the
 * device's limits; gl_WorkGroupID carries the base, so shaders see the
 * groups of one large dispatch. */
static void dispatch_split(vk_sequence *seq, uint32_t gx, uint32_t gy, uint32_t gz)
{
    uint32_t lx = group_limit(seq->ctx, 0), ly = group_limit(seq->ctx, 1), lz = group_limit(seq->ctx, 2);
    if (gx <= lx && gy <= ly && gz <= lz) {
        vkCmdDispatch(seq->cmd, gx, gy, gz);
        return;
    }
    for (uint32_t z = 0; z < gz; z += lz)
        for (uint32_t y = 0; y < gy; y += ly)
            for (uint32_t x = 0; x < gx; x += lx)
                vkCmdDispatchBase(seq->cmd, x, y, z, gx - x < lx ? gx - x : lx, gy - y < ly ? gy - y : ly,
                                  gz - z < lz ? gz - z : lz);
}

static void compute_barrier(VkCommandBuffer cmd)
{
    VkMemoryBarrier mb = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                         VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
    };
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1,
                         &mb, 0, NULL, 0, NULL);
}

static bool overlaps(const vk_access *a, const vk_access *b)
{
    return a->buffer == b->buffer && a->offset < b->offset + b->size && b->offset < a->offset + a->size;
}

/* Orders the next dispatch or copy, which makes `n` accesses, after what
 * came before: a barrier first if it reads or writes what an earlier one
 * wrote, or writes what one read, since the last barrier. Then its accesses
 * join the pending ones. */
static bool order_accesses(vk_sequence *seq, const vk_access *acc, int n, errbuf *err)
{
    bool hazard = false;
    for (int i = 0; i < seq->naccesses && !hazard; i++)
        for (int j = 0; j < n && !hazard; j++)
            hazard = (seq->accesses[i].write || acc[j].write) && overlaps(&seq->accesses[i], &acc[j]);
    if (hazard) {
        compute_barrier(seq->cmd);
        seq->barriers++;
        seq->naccesses = 0;
    }
    if (seq->naccesses + n > seq->accesses_capacity) {
        int cap = seq->accesses_capacity ? seq->accesses_capacity * 2 : 64;
        while (cap < seq->naccesses + n)
            cap *= 2;
        vk_access *grown = realloc(seq->accesses, (size_t)cap * sizeof *grown);
        if (!grown)
            return errbuf_set(err, "out of memory");
        seq->accesses = grown;
        seq->accesses_capacity = cap;
    }
    memcpy(seq->accesses + seq->naccesses, acc, (size_t)n * sizeof *acc);
    seq->naccesses += n;
    return true;
}

/* After a dispatch or copy: with every_barrier (or timestamps, which must
 * time each kernel alone), a barrier now, and nothing left pending. */
static void barrier_if_serial(vk_sequence *seq)
{
    if (seq->ctx->every_barrier || seq->timestamps) {
        compute_barrier(seq->cmd);
        seq->barriers++;
        seq->naccesses = 0;
    }
}

bool vk_sequence_dispatch(vk_sequence *seq, const vk_kernel *k, const vk_binding *bindings,
                          const void *push, uint32_t gx, uint32_t gy, uint32_t gz, errbuf *err)
{
    if (seq->ctx->cpu)
        return errbuf_set(err, "%s: a shader dispatched on the CPU backend", k->name);
    if (seq->sets_left == 0 && !next_pool(seq, err))
        return false;
    VkDescriptorSetAllocateInfo ai = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
        .descriptorPool = seq->pools[seq->pool_at],
        .descriptorSetCount = 1,
        .pSetLayouts = &k->set_layout,
    };
    VkDescriptorSet set;
    VkResult r = vkAllocateDescriptorSets(seq->ctx->device, &ai, &set);
    if (r != VK_SUCCESS)
        return errbuf_set(err, "vulkan: cannot allocate a descriptor set: %s", vk_result_name(r));
    seq->sets_left--;

    VkDescriptorBufferInfo infos[VK_KERNEL_MAX_BUFFERS];
    VkBufferView views[VK_KERNEL_MAX_BUFFERS];
    VkWriteDescriptorSet writes[VK_KERNEL_MAX_BUFFERS];
    for (uint32_t i = 0; i < k->num_buffers; i++) {
        writes[i] = (VkWriteDescriptorSet){
            .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
            .dstSet = set,
            .dstBinding = i,
            .descriptorCount = 1,
        };
        if ((k->texel_mask >> i) & 1) {
            if (!make_view(seq, bindings[i].slice, bindings[i].format, &views[i], err))
                return false;
            writes[i].descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
            writes[i].pTexelBufferView = &views[i];
        } else {
            infos[i] = (VkDescriptorBufferInfo){.buffer = bindings[i].slice.buffer,
                                                .offset = bindings[i].slice.offset,
                                                .range = bindings[i].slice.size};
            writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
            writes[i].pBufferInfo = &infos[i];
        }
    }
    vkUpdateDescriptorSets(seq->ctx->device, k->num_buffers, writes, 0, NULL);

    vk_access acc[VK_KERNEL_MAX_BUFFERS];
    for (uint32_t i = 0; i < k->num_buffers; i++)
        acc[i] = (vk_access){.buffer = bindings[i].slice.buffer, .offset = bindings[i].slice.offset,
                             .size = bindings[i].slice.size, .write = !((k->texel_mask >> i) & 1)};
    if (!order_accesses(seq, acc, (int)k->num_buffers, err))
        return false;

    vkCmdBindPipeline(seq->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, k->pipeline);
    vkCmdBindDescriptorSets(seq->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, k->layout, 0, 1, &set, 0, NULL);
    if (k->push_size)
        vkCmdPushConstants(seq->cmd, k->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, k->push_size, push);
    dispatch_split(seq, gx, gy, gz);
    barrier_if_serial(seq);
    if (seq->timestamps && seq->dispatches < seq->timestamp_capacity) {
        seq->dispatch_names[seq->dispatches] = k->name;
        seq->dispatch_flops[seq->dispatches] = seq->dispatch_bytes[seq->dispatches] = 0;
        vkCmdWriteTimestamp(seq->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, seq->timestamps,
                            seq->dispatches + 1);
    }
    seq->dispatches++;
    return true;
}

void vk_sequence_count_work(vk_sequence *seq, double flops, double bytes)
{
    if (seq->timestamps && seq->dispatches > 0 && seq->dispatches <= seq->timestamp_capacity) {
        seq->dispatch_flops[seq->dispatches - 1] += flops;
        seq->dispatch_bytes[seq->dispatches - 1] += bytes;
    }
}

static void host_copy(const void *args, cpu_pool *pool)
{
    (void)pool;
    const vk_slice *s = args; /* source, destination */
    memcpy(s[1].mapped, s[0].mapped, s[0].size < s[1].size ? s[0].size : s[1].size);
}

void vk_sequence_copy(vk_sequence *seq, vk_slice src, vk_slice dst)
{
    if (seq->ctx->cpu) {
        vk_slice both[2] = {src, dst};
        cpu_program_add(&seq->host, "copy", host_copy, both, sizeof both); /* a failure: vk_sequence_end says */
        return;
    }
    VkBufferCopy c = {.srcOffset = src.offset, .dstOffset = dst.offset,
                      .size = src.size < dst.size ? src.size : dst.size};
    vk_access acc[2] = {{.buffer = src.buffer, .offset = src.offset, .size = c.size},
                        {.buffer = dst.buffer, .offset = dst.offset, .size = c.size, .write = true}};
    if (!order_accesses(seq, acc, 2, &seq->copy_err)) {
        seq->copy_failed = true;
        return;
    }
    vkCmdCopyBuffer(seq->cmd, src.buffer, dst.buffer, 1, &c);
    barrier_if_serial(seq);
}

bool vk_sequence_end(vk_sequence *seq, errbuf *err)
{
    if (seq->ctx->cpu)
        return !seq->host.failed || errbuf_set(err, "out of memory recording the CPU steps");
    if (seq->copy_failed)
        return errbuf_set(err, "%s", seq->copy_err.msg);
    /* Make the last results visible to the host after the fence, and order
     * the next submission's work (a replay of this one) after all of it. */
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_SHADER_READ_BIT |
                                           VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                                           VK_ACCESS_TRANSFER_WRITE_BIT};
    VkPipelineStageFlags work = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
    vkCmdPipelineBarrier(seq->cmd, work, VK_PIPELINE_STAGE_HOST_BIT | work, 0, 1, &mb, 0, NULL, 0, NULL);
    VkResult r = vkEndCommandBuffer(seq->cmd);
    if (r != VK_SUCCESS)
        return errbuf_set(err, "vulkan: recording failed: %s", vk_result_name(r));
    return true;
}

bool vk_sequence_submit(vk_sequence *seq, errbuf *err)
{
    if (seq->ctx->cpu) {
        cpu_program_run(&seq->host);
        return true;
    }
    if (!vk_submit(seq->ctx, &seq->cmd, 1, seq->fence, err))
        return false;
    seq->pending = true;
    return true;
}

bool vk_sequence_wait(vk_sequence *seq, errbuf *err)
{
    if (!seq->pending)
        return true;
    seq->pending = false;
    return wait_fence(seq->ctx, seq->fence, err);
}

void vk_sequence_destroy(vk_sequence *seq)
{
    if (!seq->ctx)
        return;
    if (seq->ctx->cpu) {
        cpu_program_free(&seq->host);
        memset(seq, 0, sizeof *seq);
        return;
    }
    VkDevice dev = seq->ctx->device;
    if (seq->pending)
        vkWaitForFences(dev, 1, &seq->fence, VK_TRUE, UINT64_MAX);
    for (int i = 0; i < seq->npools; i++)
        vkDestroyDescriptorPool(dev, seq->pools[i], NULL);
    free(seq->pools);
    for (int i = 0; i < seq->nviews; i++)
        vkDestroyBufferView(dev, seq->views[i], NULL);
    free(seq->views);
    if (seq->fence)
        vkDestroyFence(dev, seq->fence, NULL);
    if (seq->timestamps)
        vkDestroyQueryPool(dev, seq->timestamps, NULL);
    free(seq->dispatch_names);
    free(seq->dispatch_flops);
    free(seq->dispatch_bytes);
    free(seq->accesses);
    if (seq->command_pool)
        vkDestroyCommandPool(dev, seq->command_pool, NULL); /* frees cmd */
    memset(seq, 0, sizeof *seq);
}

void vk_sequence_print_profile(vk_sequence *seq)
{
    if (seq->ctx && seq->ctx->cpu) {
        cpu_program_print_profile(&seq->host);
        return;
    }
    uint32_t n = seq->dispatches < seq->timestamp_capacity ? seq->dispatches : seq->timestamp_capacity;
    if (!seq->timestamps || n == 0)
        return;
    uint64_t *t = calloc(n + 1, sizeof *t);
    if (!t)
        return;
    if (vkGetQueryPoolResults(seq->ctx->device, seq->timestamps, 0, n + 1, (n + 1) * sizeof *t, t,
                              sizeof *t, VK_QUERY_RESULT_64_BIT) == VK_SUCCESS) {
        double period = seq->ctx->props.limits.timestampPeriod * 1e-6; /* ms per tick */
        const char *names[64];
        double ms[64], flops[64], bytes[64], all_flops = 0, all_bytes = 0;
        uint32_t counts[64], kinds = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t k = 0;
            while (k < kinds && strcmp(names[k], seq->dispatch_names[i]) != 0)
                k++;
            if (k == kinds && kinds < 64) {
                names[kinds] = seq->dispatch_names[i];
                ms[kinds] = flops[kinds] = bytes[kinds] = 0;
                counts[kinds++] = 0;
            }
            if (k < kinds) {
                ms[k] += (double)(t[i + 1] - t[i]) * period;
                flops[k] += seq->dispatch_flops[i];
                bytes[k] += seq->dispatch_bytes[i];
                counts[k]++;
            }
            all_flops += seq->dispatch_flops[i];
            all_bytes += seq->dispatch_bytes[i];
        }
        double total = (double)(t[n] - t[0]) * period;
        fprintf(stderr, "profile: %u dispatches, %.2f ms, %.4f GFLOP counted, %.4f GB counted "
                        "(each kernel timed alone: a barrier after every dispatch)\n",
                n, total, all_flops * 1e-9, all_bytes * 1e-9);
        for (uint32_t k = 0; k < kinds; k++) {
            fprintf(stderr, "  %-40s %5u x %9.3f ms  %5.1f%%", names[k], counts[k], ms[k],
                    total > 0 ? 100.0 * ms[k] / total : 0.0);
            if (flops[k] > 0 && ms[k] > 0)
                fprintf(stderr, "  %9.1f GFLOP/s %8.2f GB/s", flops[k] * 1e-6 / ms[k], bytes[k] * 1e-6 / ms[k]);
            else if (bytes[k] > 0 && ms[k] > 0)
                fprintf(stderr, "  %9s GFLOP/s %8.2f GB/s", "-", bytes[k] * 1e-6 / ms[k]);
            fputc('\n', stderr);
        }
    }
    free(t);
}
