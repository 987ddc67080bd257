/* vk_context: the Vulkan instance, the chosen device, its compute queue (and
 * transfer queue, where the device has a transfer-only family) and the
 * features the shaders may use. Nothing model-specific lives here. */
#ifndef VKCLIP_VK_CONTEXT_H
#define VKCLIP_VK_CONTEXT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <vulkan/vulkan.h>

#include "cpu/cpu_pool.h"
#include "util/errbuf.h"

/* What the device offers that the shaders can use; each has a fallback. */
typedef struct vk_features {
    bool storage16;      /* 16-bit storage buffers: fp16/bf16 weights and fp16 activations */
    bool float16;        /* fp16 arithmetic in shaders */
    bool subgroup_arith; /* subgroupAdd & co. in compute */
    uint32_t subgroup_size;
    /* VK_NV_cooperative_matrix with 16×16×16 fp16 products into fp32, in
     * subgroups of 32, and the Vulkan memory model its shaders use: probed and
     * enabled only when vk_context_options.cooperative_matrix asks. */
    bool coopmat_f16;
} vk_features;

typedef struct vk_device_info {
    char name[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
    VkPhysicalDeviceType type;
    uint32_t api_version;
    uint32_t vendor_id, device_id;
    uint64_t device_local_bytes; /* largest device-local heap */
    vk_features features;
    bool usable; /* Vulkan 1.1+, has a compute queue */
} vk_device_info;

/* Threads: every function of core/vk may be called from any thread. The
 * queues are shared: submit only through vk_queue_submit, which holds
 * queue_lock (Vulkan requires external synchronisation of a VkQueue). Command
 * pools are never shared: each vk_sequence and each vk_run_commands call has
 * its own. */
typedef struct vk_context {
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    VkPhysicalDevice physical;
    VkDevice device;
    VkQueue queue;
    uint32_t queue_family;
    /* A queue of a transfer-only family (its own copy engines, beside the
     * compute units) where the device has one; else the compute queue and
     * its family. When the families differ, buffers are created shared by
     * both (VK_SHARING_MODE_CONCURRENT), so no ownership transfers. */
    VkQueue transfer_queue;
    uint32_t transfer_family;
    pthread_mutex_t queue_lock;
    bool queue_lock_made;
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties memory;
    vk_features features;
    int device_index;
    /* Messages the validation layer reported (errors and warnings). */
    atomic_uint validation_messages;
    /* A barrier after every dispatch of a sequence, not only before those
     * that depend on earlier ones (the kernel plan's barriers=every). */
    bool every_barrier;
    /* The CPU backend (core/cpu/): no Vulkan object at all. Its buffers are
     * host memory and its sequences lists of host steps; props holds its
     * name and limits as large as a buffer can be; pool its threads. */
    bool cpu;
    cpu_pool *pool;
} vk_context;

typedef struct vk_context_options {
    int device_index;     /* -1: choose (or VKCLIP_DEVICE) */
    bool validation;      /* also enabled by VKCLIP_VALIDATION=1 */
    bool disable_16bit;   /* pretend the device lacks 16-bit storage/fp16 (tests the fallback) */
    bool cooperative_matrix; /* enable VK_NV_cooperative_matrix where the device has it (features.coopmat_f16) */
} vk_context_options;

/* Lists the physical devices; returns their count (fills at most max). */
int vk_list_devices(vk_device_info *out, int max, errbuf *err);

/* Preference when no index is given: discrete GPU, integrated, virtual, CPU. */
int vk_choose_device(const vk_device_info *devices, int count);

bool vk_context_create(vk_context *ctx, const vk_context_options *opts, errbuf *err);
/* The CPU backend's context (ctx->cpu), with a pool of `threads` threads
 * (at least 1). */
bool vk_context_create_cpu(vk_context *ctx, int threads, errbuf *err);
void vk_context_destroy(vk_context *ctx);

/* vkQueueSubmit on the context's compute (or transfer) queue, under the lock. */
VkResult vk_queue_submit(vk_context *ctx, uint32_t count, const VkSubmitInfo *submits, VkFence fence);
VkResult vk_queue_submit_transfer(vk_context *ctx, uint32_t count, const VkSubmitInfo *submits, VkFence fence);
/* Whether transfers have a queue family of their own. */
bool vk_context_has_transfer_family(const vk_context *ctx);

const char *vk_device_type_name(VkPhysicalDeviceType type);
const char *vk_result_name(VkResult r);

#endif
