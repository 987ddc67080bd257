/* vk_buffer: device buffers, slices of them for binding, and the uploads
 * into them. Weights and activations live in a few large buffers that are
 * sub-allocated (lavapipe limits a single binding to 128 MiB, so shaders
 * bind slices, never whole arenas). */
#ifndef VKCLIP_VK_BUFFER_H
#define VKCLIP_VK_BUFFER_H

#include <stdbool.h>
#include <stddef.h>

#include "vk_context.h"

typedef enum vk_memory_kind {
    VK_MEMORY_DEVICE,   /* device-local; mapped too where the device allows (UMA, lavapipe) */
    VK_MEMORY_UPLOAD,   /* host-visible, coherent: staging towards the device */
    VK_MEMORY_READBACK, /* host-visible, cached where possible: results back to the host */
} vk_memory_kind;

typedef struct vk_buffer {
    VkBuffer buffer;
    VkDeviceMemory memory;
    VkDeviceSize size;
    void *mapped; /* NULL unless host-visible */
    bool coherent;
} vk_buffer;

/* A range of a buffer: what a shader binding sees. */
typedef struct vk_slice {
    VkBuffer buffer;
    VkDeviceSize offset;
    VkDeviceSize size;
    void *mapped; /* host pointer to the range, or NULL */
} vk_slice;

/* What a kernel binding sees: a slice, and for texel bindings the format the
 * shader reads it as (the same memory may be read as RGBA32F or R32F). */
typedef struct vk_binding {
    vk_slice slice;
    VkFormat format; /* texel bindings only */
} vk_binding;

bool vk_buffer_create(vk_context *ctx, vk_buffer *buf, VkDeviceSize size, vk_memory_kind kind,
                      errbuf *err);
void vk_buffer_destroy(vk_context *ctx, vk_buffer *buf);
vk_slice vk_buffer_slice(const vk_buffer *buf, VkDeviceSize offset, VkDeviceSize size);
vk_slice vk_slice_sub(vk_slice s, VkDeviceSize offset, VkDeviceSize size);
/* Makes host writes visible to the device / device writes to the host for
 * non-coherent memory; no-op for coherent memory. */
void vk_buffer_flush(vk_context *ctx, const vk_buffer *buf);
void vk_buffer_invalidate(vk_context *ctx, const vk_buffer *buf);

/* vk_arena: bump allocation of slices from a growing list of buffers. */
typedef struct vk_arena {
    vk_memory_kind kind;
    VkDeviceSize block_size;
    vk_buffer *blocks;
    int count, capacity;
    VkDeviceSize used; /* in the last block */
    VkDeviceSize total;
    bool measuring;    /* allocations only add up `used`: no buffers */
} vk_arena;

void vk_arena_init(vk_arena *a, vk_memory_kind kind, VkDeviceSize block_size);
/* An arena that allocates nothing and only measures: after the same
 * allocations as a real one, `used` is the one block that would hold them. */
void vk_arena_init_measure(vk_arena *a);
bool vk_arena_alloc(vk_context *ctx, vk_arena *a, VkDeviceSize size, vk_slice *out, errbuf *err);
void vk_arena_destroy(vk_context *ctx, vk_arena *a);

/* vk_uploader: writes host data into device slices, straight through the
 * mapping where there is one, else through a staging buffer and copies. */
typedef struct vk_uploader {
    vk_context *ctx;
    vk_buffer staging;
    VkDeviceSize staged;
    VkBufferCopy *copies;
    VkBuffer *targets;
    int ncopies, capacity;
} vk_uploader;

bool vk_uploader_init(vk_context *ctx, vk_uploader *up, errbuf *err);
/* Returns where to write `size` bytes bound for dst (valid until the next call). */
void *vk_uploader_reserve(vk_uploader *up, vk_slice dst, errbuf *err);
bool vk_uploader_finish(vk_uploader *up, errbuf *err); /* flushes and waits */
void vk_uploader_destroy(vk_uploader *up);

#endif
