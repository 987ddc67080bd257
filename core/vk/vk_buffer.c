#include "vk_buffer.h"

#include <stdlib.h>
#include <string.h>

#include "vk_command.h"

#define STAGING_MIN_BYTES (64u << 20)

/* Memory type index with all `required` flags, preferring those with
 * `preferred` too; -1 when none. */
static int find_memory_type(const vk_context *ctx, uint32_t type_bits, VkMemoryPropertyFlags required,
                            VkMemoryPropertyFlags preferred)
{
    int fallback = -1;
    for (uint32_t i = 0; i < ctx->memory.memoryTypeCount; i++) {
        if (!(type_bits & (1u << i)))
            continue;
        VkMemoryPropertyFlags f = ctx->memory.memoryTypes[i].propertyFlags;
        if ((f & required) != required)
            continue;
        if ((f & preferred) == preferred)
            return (int)i;
        if (fallback < 0)
            fallback = (int)i;
    }
    return fallback;
}

static int choose_memory_type(const vk_context *ctx, uint32_t bits, vk_memory_kind kind)
{
    const VkMemoryPropertyFlags local = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
    const VkMemoryPropertyFlags host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    switch (kind) {
    case VK_MEMORY_DEVICE: {
        /* Device-local and mappable (UMA, lavapipe) saves every staging copy. */
        int t = find_memory_type(ctx, bits, local | host, local | host);
        if (t >= 0 && ctx->props.deviceType != VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU)
            return t;
        t = find_memory_type(ctx, bits, local, local);
        return t >= 0 ? t : find_memory_type(ctx, bits, 0, 0);
    }
    case VK_MEMORY_UPLOAD:
        return find_memory_type(ctx, bits, host, host);
    case VK_MEMORY_READBACK:
        return find_memory_type(ctx, bits, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
                                VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    }
    return -1;
}

/* The CPU backend's buffers: zeroed host memory, 64-byte aligned for the
 * vector loads. The handle is the memory itself, so that "has a buffer"
 * checks read the same on both backends; nothing passes it to Vulkan. */
static bool host_buffer_create(vk_buffer *buf, VkDeviceSize size, errbuf *err)
{
    size_t bytes = (size_t)((size ? size : 16) + 63) / 64 * 64;
    void *p = aligned_alloc(64, bytes);
    if (!p)
        return errbuf_set(err, "cannot allocate %llu MiB of memory", (unsigned long long)(size >> 20));
    memset(p, 0, bytes);
    buf->buffer = (VkBuffer)p;
    buf->mapped = p;
    buf->size = size;
    buf->coherent = true;
    return true;
}

bool vk_buffer_create(vk_context *ctx, vk_buffer *buf, VkDeviceSize size, vk_memory_kind kind,
                      errbuf *err)
{
    memset(buf, 0, sizeof *buf);
    if (ctx->cpu)
        return host_buffer_create(buf, size, err);
    VkBufferCreateInfo bci = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size ? size : 16,
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT |
                 VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    /* Frames are copied on the transfer queue and read on the compute one. */
    uint32_t families[2] = {ctx->queue_family, ctx->transfer_family};
    if (vk_context_has_transfer_family(ctx)) {
        bci.sharingMode = VK_SHARING_MODE_CONCURRENT;
        bci.queueFamilyIndexCount = 2;
        bci.pQueueFamilyIndices = families;
    }
    VkResult r = vkCreateBuffer(ctx->device, &bci, NULL, &buf->buffer);
    if (r != VK_SUCCESS)
        return errbuf_set(err, "vulkan: cannot create a buffer of %llu bytes: %s",
                          (unsigned long long)size, vk_result_name(r));
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(ctx->device, buf->buffer, &req);
    int type = choose_memory_type(ctx, req.memoryTypeBits, kind);
    if (type < 0) {
        vk_buffer_destroy(ctx, buf);
        return errbuf_set(err, "vulkan: no suitable memory type for a buffer");
    }
    VkMemoryAllocateInfo mai = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
        .allocationSize = req.size,
        .memoryTypeIndex = (uint32_t)type,
    };
    r = vkAllocateMemory(ctx->device, &mai, NULL, &buf->memory);
    if (r != VK_SUCCESS) {
        vk_buffer_destroy(ctx, buf);
        return errbuf_set(err, "vulkan: cannot allocate %llu MiB of device memory: %s",
                          (unsigned long long)(size >> 20), vk_result_name(r));
    }
    vkBindBufferMemory(ctx->device, buf->buffer, buf->memory, 0);
    buf->size = size;
    VkMemoryPropertyFlags flags = ctx->memory.memoryTypes[type].propertyFlags;
    buf->coherent = flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    if (flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) {
        r = vkMapMemory(ctx->device, buf->memory, 0, VK_WHOLE_SIZE, 0, &buf->mapped);
        if (r != VK_SUCCESS) {
            vk_buffer_destroy(ctx, buf);
            return errbuf_set(err, "vulkan: cannot map memory: %s", vk_result_name(r));
        }
    }
    return true;
}

void vk_buffer_destroy(vk_context *ctx, vk_buffer *buf)
{
    if (ctx->cpu)
        free(buf->mapped);
    else if (buf->buffer)
        vkDestroyBuffer(ctx->device, buf->buffer, NULL);
    if (!ctx->cpu && buf->memory)
        vkFreeMemory(ctx->device, buf->memory, NULL); /* unmaps implicitly */
    memset(buf, 0, sizeof *buf);
}

vk_slice vk_buffer_slice(const vk_buffer *buf, VkDeviceSize offset, VkDeviceSize size)
{
    vk_slice s = {
        .buffer = buf->buffer,
        .offset = offset,
        .size = size,
        .mapped = buf->mapped ? (char *)buf->mapped + offset : NULL,
    };
    return s;
}

vk_slice vk_slice_sub(vk_slice s, VkDeviceSize offset, VkDeviceSize size)
{
    vk_slice r = s;
    r.offset += offset;
    r.size = size;
    r.mapped = s.mapped ? (char *)s.mapped + offset : NULL;
    return r;
}

void vk_buffer_flush(vk_context *ctx, const vk_buffer *buf)
{
    if (buf->mapped && !buf->coherent) {
        VkMappedMemoryRange range = {.sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE,
                                     .memory = buf->memory, .size = VK_WHOLE_SIZE};
        vkFlushMappedMemoryRanges(ctx->device, 1, &range);
    }
}

void vk_buffer_invalidate(vk_context *ctx, const vk_buffer *buf)
{
    if (buf->mapped && !buf->coherent) {
        VkMappedMemoryRange range = {.sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE,
                                     .memory = buf->memory, .size = VK_WHOLE_SIZE};
        vkInvalidateMappedMemoryRanges(ctx->device, 1, &range);
    }
}

/* ---- arena ---- */

void vk_arena_init(vk_arena *a, vk_memory_kind kind, VkDeviceSize block_size)
{
    memset(a, 0, sizeof *a);
    a->kind = kind;
    a->block_size = block_size;
}

void vk_arena_init_measure(vk_arena *a)
{
    memset(a, 0, sizeof *a);
    a->measuring = true;
}

static VkDeviceSize align_up(VkDeviceSize v, VkDeviceSize a)
{
    return (v + a - 1) / a * a;
}

bool vk_arena_alloc(vk_context *ctx, vk_arena *a, VkDeviceSize size, vk_slice *out, errbuf *err)
{
    /* Storage-buffer offsets must honour the device's alignment; 256 covers
     * every vendor and keeps vec4 loads aligned. */
    VkDeviceSize align = ctx->props.limits.minStorageBufferOffsetAlignment;
    if (align < 256)
        align = 256;
    if (size > ctx->props.limits.maxStorageBufferRange)
        return errbuf_set(err, "vulkan: a %llu MiB tensor exceeds the device's %u MiB binding limit",
                          (unsigned long long)(size >> 20), ctx->props.limits.maxStorageBufferRange >> 20);
    VkDeviceSize start = align_up(a->used, align);
    if (a->measuring) {
        *out = (vk_slice){.offset = start, .size = size};
        a->used = start + size;
        a->total += size;
        return true;
    }
    if (a->count == 0 || start + size > a->blocks[a->count - 1].size) {
        if (a->count == a->capacity) {
            int cap = a->capacity ? a->capacity * 2 : 8;
            vk_buffer *grown = realloc(a->blocks, (size_t)cap * sizeof *grown);
            if (!grown)
                return errbuf_set(err, "out of memory");
            a->blocks = grown;
            a->capacity = cap;
        }
        VkDeviceSize bytes = size > a->block_size ? size : a->block_size;
        if (!vk_buffer_create(ctx, &a->blocks[a->count], bytes, a->kind, err))
            return false;
        a->count++;
        start = 0;
    }
    *out = vk_buffer_slice(&a->blocks[a->count - 1], start, size);
    a->used = start + size;
    a->total += size;
    return true;
}

void vk_arena_destroy(vk_context *ctx, vk_arena *a)
{
    for (int i = 0; i < a->count; i++)
        vk_buffer_destroy(ctx, &a->blocks[i]);
    free(a->blocks);
    memset(a, 0, sizeof *a);
}

/* ---- uploader ---- */

bool vk_uploader_init(vk_context *ctx, vk_uploader *up, errbuf *err)
{
    (void)err;
    memset(up, 0, sizeof *up);
    up->ctx = ctx;
    return true;
}

static void record_copies(VkCommandBuffer cmd, void *user)
{
    const vk_uploader *up = user;
    for (int i = 0; i < up->ncopies; i++)
        vkCmdCopyBuffer(cmd, up->staging.buffer, up->targets[i], 1, &up->copies[i]);
}

static bool flush_staging(vk_uploader *up, errbuf *err)
{
    if (up->ncopies == 0)
        return true;
    vk_buffer_flush(up->ctx, &up->staging);
    bool ok = vk_run_commands(up->ctx, record_copies, up, err);
    up->ncopies = 0;
    up->staged = 0;
    return ok;
}

void *vk_uploader_reserve(vk_uploader *up, vk_slice dst, errbuf *err)
{
    if (dst.mapped)
        return dst.mapped;
    VkDeviceSize size = align_up(dst.size, 16);
    if (up->staging.size < size) {
        if (!flush_staging(up, err))
            return NULL;
        vk_buffer_destroy(up->ctx, &up->staging);
        VkDeviceSize bytes = size > STAGING_MIN_BYTES ? size : STAGING_MIN_BYTES;
        if (!vk_buffer_create(up->ctx, &up->staging, bytes, VK_MEMORY_UPLOAD, err))
            return NULL;
    } else if (up->staged + size > up->staging.size) {
        if (!flush_staging(up, err))
            return NULL;
    }
    if (up->ncopies == up->capacity) {
        int cap = up->capacity ? up->capacity * 2 : 64;
        VkBufferCopy *c = realloc(up->copies, (size_t)cap * sizeof *c);
        if (c)
            up->copies = c;
        VkBuffer *t = realloc(up->targets, (size_t)cap * sizeof *t);
        if (t)
            up->targets = t;
        if (!c || !t) {
            errbuf_set(err, "out of memory");
            return NULL;
        }
        up->capacity = cap;
    }
    up->copies[up->ncopies] = (VkBufferCopy){.srcOffset = up->staged, .dstOffset = dst.offset,
                                             .size = dst.size};
    up->targets[up->ncopies] = dst.buffer;
    up->ncopies++;
    void *p = (char *)up->staging.mapped + up->staged;
    up->staged += size;
    return p;
}

bool vk_uploader_finish(vk_uploader *up, errbuf *err)
{
    return flush_staging(up, err);
}

void vk_uploader_destroy(vk_uploader *up)
{
    if (up->ctx)
        vk_buffer_destroy(up->ctx, &up->staging);
    free(up->copies);
    free(up->targets);
    memset(up, 0, sizeof *up);
}
