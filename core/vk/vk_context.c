#include "vk_context.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VALIDATION_LAYER "VK_LAYER_KHRONOS_validation"

const char *vk_result_name(VkResult r)
{
    switch (r) {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_NOT_READY: return "VK_NOT_READY";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER (no Vulkan driver found)";
    case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_OUT_OF_POOL_MEMORY: return "VK_ERROR_OUT_OF_POOL_MEMORY";
    default: return "VkResult error";
    }
}

const char *vk_device_type_name(VkPhysicalDeviceType type)
{
    switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
    default: return "other";
    }
}

static bool has_layer(const char *name)
{
    uint32_t n = 0;
    if (vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || n == 0)
        return false;
    VkLayerProperties *layers = calloc(n, sizeof *layers);
    bool found = false;
    if (layers && vkEnumerateInstanceLayerProperties(&n, layers) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++)
            found = strcmp(layers[i].layerName, name) == 0;
    free(layers);
    return found;
}

static bool has_device_extension(VkPhysicalDevice pd, const char *name)
{
    uint32_t n = 0;
    if (vkEnumerateDeviceExtensionProperties(pd, NULL, &n, NULL) != VK_SUCCESS || n == 0)
        return false;
    VkExtensionProperties *ext = calloc(n, sizeof *ext);
    bool found = false;
    if (ext && vkEnumerateDeviceExtensionProperties(pd, NULL, &n, ext) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++)
            found = strcmp(ext[i].extensionName, name) == 0;
    free(ext);
    return found;
}

static VkResult create_instance(VkInstance *out, bool validation)
{
    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "vkclip",
        .applicationVersion = 1,
        .pEngineName = "vkclip",
        .engineVersion = 1,
        .apiVersion = VK_API_VERSION_1_2,
    };
    const char *layers[] = {VALIDATION_LAYER};
    const char *exts[] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
    VkInstanceCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pApplicationInfo = &app,
        .enabledLayerCount = validation ? 1 : 0,
        .ppEnabledLayerNames = layers,
        .enabledExtensionCount = validation ? 1 : 0,
        .ppEnabledExtensionNames = exts,
    };
    return vkCreateInstance(&ci, NULL, out);
}

/* Queue family with compute; prefer one without graphics (async compute). */
static int find_compute_family(VkPhysicalDevice pd)
{
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, NULL);
    VkQueueFamilyProperties *fam = calloc(n ? n : 1, sizeof *fam);
    if (!fam)
        return -1;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, fam);
    int best = -1;
    for (uint32_t i = 0; i < n; i++) {
        if (!(fam[i].queueFlags & VK_QUEUE_COMPUTE_BIT))
            continue;
        if (best < 0 || !(fam[i].queueFlags & VK_QUEUE_GRAPHICS_BIT))
            best = (int)i;
        if (!(fam[i].queueFlags & VK_QUEUE_GRAPHICS_BIT))
            break;
    }
    free(fam);
    return best;
}

/* A transfer-only family (copy engines), or -1. */
static int find_transfer_family(VkPhysicalDevice pd)
{
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, NULL);
    VkQueueFamilyProperties *fam = calloc(n ? n : 1, sizeof *fam);
    if (!fam)
        return -1;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, fam);
    int found = -1;
    const VkQueueFlags others = VK_QUEUE_GRAPHICS_BIT | VK_QUEUE_COMPUTE_BIT;
    for (uint32_t i = 0; i < n && found < 0; i++)
        if ((fam[i].queueFlags & VK_QUEUE_TRANSFER_BIT) && !(fam[i].queueFlags & others) && fam[i].queueCount > 0)
            found = (int)i;
    free(fam);
    return found;
}

static void query_device(VkPhysicalDevice pd, vk_device_info *info)
{
    memset(info, 0, sizeof *info);
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(pd, &props);
    snprintf(info->name, sizeof info->name, "%s", props.deviceName);
    info->type = props.deviceType;
    info->api_version = props.apiVersion;
    info->vendor_id = props.vendorID;
    info->device_id = props.deviceID;

    VkPhysicalDeviceMemoryProperties mem;
    vkGetPhysicalDeviceMemoryProperties(pd, &mem);
    for (uint32_t i = 0; i < mem.memoryHeapCount; i++)
        if ((mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) &&
            mem.memoryHeaps[i].size > info->device_local_bytes)
            info->device_local_bytes = mem.memoryHeaps[i].size;

    info->usable = props.apiVersion >= VK_API_VERSION_1_1 && find_compute_family(pd) >= 0;
    if (props.apiVersion < VK_API_VERSION_1_1)
        return;

    VkPhysicalDeviceSubgroupProperties sub = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceProperties2 props2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sub};
    vkGetPhysicalDeviceProperties2(pd, &props2);
    info->features.subgroup_size = sub.subgroupSize;
    info->features.subgroup_arith = (sub.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                                    (sub.supportedOperations & VK_SUBGROUP_FEATURE_BASIC_BIT) &&
                                    (sub.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);

    bool f16_ext = props.apiVersion >= VK_API_VERSION_1_2 ||
                   has_device_extension(pd, VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
    VkPhysicalDeviceShaderFloat16Int8Features f16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
    VkPhysicalDevice16BitStorageFeatures s16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
        .pNext = f16_ext ? &f16 : NULL};
    VkPhysicalDeviceFeatures2 feat2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &s16};
    vkGetPhysicalDeviceFeatures2(pd, &feat2);
    info->features.storage16 = s16.storageBuffer16BitAccess;
    info->features.float16 = f16_ext && f16.shaderFloat16;
}

static VkResult enumerate(VkInstance inst, VkPhysicalDevice **out, uint32_t *count)
{
    *out = NULL;
    *count = 0;
    VkResult r = vkEnumeratePhysicalDevices(inst, count, NULL);
    if (r != VK_SUCCESS || *count == 0)
        return r;
    *out = calloc(*count, sizeof **out);
    if (!*out)
        return VK_ERROR_OUT_OF_HOST_MEMORY;
    return vkEnumeratePhysicalDevices(inst, count, *out);
}

int vk_list_devices(vk_device_info *out, int max, errbuf *err)
{
    VkInstance inst;
    VkResult r = create_instance(&inst, false);
    if (r != VK_SUCCESS) {
        errbuf_set(err, "vulkan: cannot create an instance: %s", vk_result_name(r));
        return -1;
    }
    VkPhysicalDevice *pds;
    uint32_t n;
    r = enumerate(inst, &pds, &n);
    if (r != VK_SUCCESS) {
        free(pds);
        vkDestroyInstance(inst, NULL);
        errbuf_set(err, "vulkan: cannot list devices: %s", vk_result_name(r));
        return -1;
    }
    for (uint32_t i = 0; i < n && (int)i < max; i++)
        query_device(pds[i], &out[i]);
    free(pds);
    vkDestroyInstance(inst, NULL);
    return (int)n;
}

int vk_choose_device(const vk_device_info *devices, int count)
{
    static const VkPhysicalDeviceType order[] = {
        VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU, VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU,
        VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU, VK_PHYSICAL_DEVICE_TYPE_CPU,
        VK_PHYSICAL_DEVICE_TYPE_OTHER};
    for (size_t o = 0; o < sizeof order / sizeof order[0]; o++)
        for (int i = 0; i < count; i++)
            if (devices[i].usable && devices[i].type == order[o])
                return i;
    return -1;
}

static VKAPI_ATTR VkBool32 VKAPI_CALL on_validation_message(
    VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT types,
    const VkDebugUtilsMessengerCallbackDataEXT *data, void *user)
{
    (void)types;
    vk_context *ctx = user;
    atomic_fetch_add(&ctx->validation_messages, 1u);
    fprintf(stderr, "vulkan validation (%s): %s\n",
            severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? "error" : "warning",
            data->pMessage);
    return VK_FALSE;
}

static void install_messenger(vk_context *ctx)
{
    PFN_vkCreateDebugUtilsMessengerEXT create = (PFN_vkCreateDebugUtilsMessengerEXT)
        vkGetInstanceProcAddr(ctx->instance, "vkCreateDebugUtilsMessengerEXT");
    if (!create)
        return;
    VkDebugUtilsMessengerCreateInfoEXT ci = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = on_validation_message,
        .pUserData = ctx,
    };
    create(ctx->instance, &ci, NULL, &ctx->messenger);
}

static int requested_device_index(const vk_context_options *opts)
{
    if (opts && opts->device_index >= 0)
        return opts->device_index;
    const char *env = getenv("VKCLIP_DEVICE");
    if (env && (strcmp(env, "cpu") == 0 || strcmp(env, "vulkan") == 0))
        return -1; /* the engine's choice between backends (vkclip_device_open) */
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == '\0' && v >= 0 && v < 1000)
            return (int)v;
        return -2; /* malformed: reported by the caller */
    }
    return -1;
}

static bool env_flag(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

/* Whether the device multiplies 16×16 fp16 matrices into fp32 ones in
 * subgroups of 32 (VK_NV_cooperative_matrix), with the memory model and fp16
 * arithmetic the shader needs. */
static bool probe_coopmat(const vk_context *ctx)
{
    if (ctx->props.apiVersion < VK_API_VERSION_1_2 || ctx->features.subgroup_size != 32 || !ctx->features.float16 ||
        !ctx->features.storage16 || !has_device_extension(ctx->physical, VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME))
        return false;
    VkPhysicalDeviceCooperativeMatrixFeaturesNV cm = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
    VkPhysicalDeviceVulkanMemoryModelFeatures mm = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES, .pNext = &cm};
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &mm};
    vkGetPhysicalDeviceFeatures2(ctx->physical, &f2);
    PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV list = (PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV)
        vkGetInstanceProcAddr(ctx->instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesNV");
    VkPhysicalDeviceCooperativeMatrixPropertiesNV cmp = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_PROPERTIES_NV};
    VkPhysicalDeviceSubgroupProperties sub = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES,
                                              .pNext = &cmp};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sub};
    vkGetPhysicalDeviceProperties2(ctx->physical, &p2);
    /* The shader's gl_SubgroupID needs basic subgroup operations in compute. */
    if (!cm.cooperativeMatrix || !mm.vulkanMemoryModel || !list ||
        !(cmp.cooperativeMatrixSupportedStages & VK_SHADER_STAGE_COMPUTE_BIT) ||
        !(sub.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) || !(sub.supportedOperations & VK_SUBGROUP_FEATURE_BASIC_BIT))
        return false;
    uint32_t n = 0;
    if (list(ctx->physical, &n, NULL) != VK_SUCCESS || n == 0)
        return false;
    VkCooperativeMatrixPropertiesNV *shapes = calloc(n, sizeof *shapes);
    bool found = false;
    if (shapes) {
        for (uint32_t i = 0; i < n; i++)
            shapes[i].sType = VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV;
        if (list(ctx->physical, &n, shapes) == VK_SUCCESS)
            for (uint32_t i = 0; i < n && !found; i++) {
                const VkCooperativeMatrixPropertiesNV *c = &shapes[i];
                found = c->MSize == 16 && c->NSize == 16 && c->KSize == 16 && c->AType == VK_COMPONENT_TYPE_FLOAT16_NV &&
                        c->BType == VK_COMPONENT_TYPE_FLOAT16_NV && c->CType == VK_COMPONENT_TYPE_FLOAT32_NV &&
                        c->DType == VK_COMPONENT_TYPE_FLOAT32_NV && c->scope == VK_SCOPE_SUBGROUP_NV;
            }
        free(shapes);
    }
    return found;
}

static bool create_device(vk_context *ctx, errbuf *err)
{
    float priority = 1.0f;
    VkDeviceQueueCreateInfo qci[2] = {
        {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, .queueFamilyIndex = ctx->queue_family,
         .queueCount = 1, .pQueuePriorities = &priority},
        {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, .queueFamilyIndex = ctx->transfer_family,
         .queueCount = 1, .pQueuePriorities = &priority},
    };
    bool separate = vk_context_has_transfer_family(ctx);
    bool want_f16_struct = ctx->features.float16;
    VkPhysicalDeviceShaderFloat16Int8Features f16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES,
        .shaderFloat16 = ctx->features.float16,
    };
    VkPhysicalDevice16BitStorageFeatures s16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
        .pNext = want_f16_struct ? &f16 : NULL,
        .storageBuffer16BitAccess = ctx->features.storage16,
    };
    const char *exts[2];
    uint32_t next = 0;
    if (want_f16_struct && ctx->props.apiVersion < VK_API_VERSION_1_2)
        exts[next++] = VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME;
    VkPhysicalDeviceCooperativeMatrixFeaturesNV cm = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV, .cooperativeMatrix = VK_TRUE};
    VkPhysicalDeviceVulkanMemoryModelFeatures mm = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES, .pNext = &cm,
        .vulkanMemoryModel = VK_TRUE};
    if (ctx->features.coopmat_f16) { /* probe_coopmat: Vulkan 1.2, so float16_int8 is core */
        exts[next++] = VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME;
        f16.pNext = &mm;
    }
    VkDeviceCreateInfo dci = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
        .pNext = &s16,
        .queueCreateInfoCount = separate ? 2 : 1,
        .pQueueCreateInfos = qci,
        .enabledExtensionCount = next,
        .ppEnabledExtensionNames = exts,
    };
    VkResult r = vkCreateDevice(ctx->physical, &dci, NULL, &ctx->device);
    if (r != VK_SUCCESS)
        return errbuf_set(err, "vulkan: cannot create device '%s': %s", ctx->props.deviceName,
                          vk_result_name(r));
    vkGetDeviceQueue(ctx->device, ctx->queue_family, 0, &ctx->queue);
    vkGetDeviceQueue(ctx->device, ctx->transfer_family, 0, &ctx->transfer_queue);
    return true;
}

static bool pick_physical_device(vk_context *ctx, int wanted, errbuf *err)
{
    VkPhysicalDevice *pds;
    uint32_t n;
    VkResult r = enumerate(ctx->instance, &pds, &n);
    if (r != VK_SUCCESS || n == 0) {
        free(pds);
        return errbuf_set(err, "vulkan: no devices found%s%s (is mesa-vulkan-drivers installed?)",
                          r != VK_SUCCESS ? ": " : "", r != VK_SUCCESS ? vk_result_name(r) : "");
    }
    vk_device_info *infos = calloc(n, sizeof *infos);
    if (!infos) {
        free(pds);
        return errbuf_set(err, "out of memory");
    }
    for (uint32_t i = 0; i < n; i++)
        query_device(pds[i], &infos[i]);
    int index = wanted >= 0 ? wanted : vk_choose_device(infos, (int)n);
    bool ok = true;
    if (wanted >= (int)n)
        ok = errbuf_set(err, "vulkan: device %d requested but only %u device(s) exist", wanted, n);
    else if (index < 0)
        ok = errbuf_set(err, "vulkan: no device supports Vulkan 1.1 compute");
    else if (!infos[index].usable)
        ok = errbuf_set(err, "vulkan: device %d (%s) lacks Vulkan 1.1 or a compute queue", index,
                        infos[index].name);
    if (ok) {
        ctx->device_index = index;
        ctx->physical = pds[index];
        ctx->features = infos[index].features;
        ctx->queue_family = (uint32_t)find_compute_family(ctx->physical);
        int transfer = find_transfer_family(ctx->physical);
        ctx->transfer_family = transfer >= 0 ? (uint32_t)transfer : ctx->queue_family;
        vkGetPhysicalDeviceProperties(ctx->physical, &ctx->props);
        vkGetPhysicalDeviceMemoryProperties(ctx->physical, &ctx->memory);
    }
    free(infos);
    free(pds);
    return ok;
}

VkResult vk_queue_submit(vk_context *ctx, uint32_t count, const VkSubmitInfo *submits, VkFence fence)
{
    pthread_mutex_lock(&ctx->queue_lock);
    VkResult r = vkQueueSubmit(ctx->queue, count, submits, fence);
    pthread_mutex_unlock(&ctx->queue_lock);
    return r;
}

/* One lock for both queues: submissions are short and rare (one a batch). */
VkResult vk_queue_submit_transfer(vk_context *ctx, uint32_t count, const VkSubmitInfo *submits, VkFence fence)
{
    pthread_mutex_lock(&ctx->queue_lock);
    VkResult r = vkQueueSubmit(ctx->transfer_queue, count, submits, fence);
    pthread_mutex_unlock(&ctx->queue_lock);
    return r;
}

bool vk_context_has_transfer_family(const vk_context *ctx)
{
    return !ctx->cpu && ctx->transfer_family != ctx->queue_family;
}

bool vk_context_create(vk_context *ctx, const vk_context_options *opts, errbuf *err)
{
    memset(ctx, 0, sizeof *ctx);
    atomic_init(&ctx->validation_messages, 0u);
    if (pthread_mutex_init(&ctx->queue_lock, NULL) != 0)
        return errbuf_set(err, "cannot create a mutex");
    ctx->queue_lock_made = true;
    int wanted = requested_device_index(opts);
    if (wanted == -2) {
        errbuf_set(err, "VKCLIP_DEVICE='%s' is not a device index, cpu or vulkan", getenv("VKCLIP_DEVICE"));
        vk_context_destroy(ctx);
        return false;
    }

    bool validation = (opts && opts->validation) || env_flag("VKCLIP_VALIDATION");
    if (validation && !has_layer(VALIDATION_LAYER)) {
        errbuf_set(err, "vulkan: validation requested but %s is not installed "
                        "(apt-get install vulkan-validationlayers)", VALIDATION_LAYER);
        vk_context_destroy(ctx);
        return false;
    }
    VkResult r = create_instance(&ctx->instance, validation);
    if (r != VK_SUCCESS) {
        ctx->instance = VK_NULL_HANDLE;
        errbuf_set(err, "vulkan: cannot create an instance: %s", vk_result_name(r));
        vk_context_destroy(ctx);
        return false;
    }
    if (validation)
        install_messenger(ctx);

    if (!pick_physical_device(ctx, wanted, err)) {
        vk_context_destroy(ctx);
        return false;
    }
    if ((opts && opts->disable_16bit) || env_flag("VKCLIP_NO_16BIT")) {
        ctx->features.storage16 = false;
        ctx->features.float16 = false;
    }
    ctx->features.coopmat_f16 = opts && opts->cooperative_matrix && probe_coopmat(ctx);
    if (!create_device(ctx, err)) {
        vk_context_destroy(ctx);
        return false;
    }
    return true;
}

bool vk_context_create_cpu(vk_context *ctx, int threads, errbuf *err)
{
    memset(ctx, 0, sizeof *ctx);
    atomic_init(&ctx->validation_messages, 0u);
    if (pthread_mutex_init(&ctx->queue_lock, NULL) != 0)
        return errbuf_set(err, "cannot create a mutex");
    ctx->queue_lock_made = true;
    ctx->cpu = true;
    ctx->device_index = -2;
    ctx->props.deviceType = VK_PHYSICAL_DEVICE_TYPE_CPU;
    snprintf(ctx->props.deviceName, sizeof ctx->props.deviceName, "CPU (vkclip's own backend, OpenBLAS)");
    ctx->props.limits.maxStorageBufferRange = UINT32_MAX;
    ctx->props.limits.maxTexelBufferElements = UINT32_MAX;
    if (!(ctx->pool = cpu_pool_create(threads, err))) {
        vk_context_destroy(ctx);
        return false;
    }
    return true;
}

void vk_context_destroy(vk_context *ctx)
{
    if (ctx->device) {
        /* vkDeviceWaitIdle needs every queue externally synchronised too. */
        pthread_mutex_lock(&ctx->queue_lock);
        vkDeviceWaitIdle(ctx->device);
        pthread_mutex_unlock(&ctx->queue_lock);
        vkDestroyDevice(ctx->device, NULL);
    }
    if (ctx->messenger) {
        PFN_vkDestroyDebugUtilsMessengerEXT destroy = (PFN_vkDestroyDebugUtilsMessengerEXT)
            vkGetInstanceProcAddr(ctx->instance, "vkDestroyDebugUtilsMessengerEXT");
        if (destroy)
            destroy(ctx->instance, ctx->messenger, NULL);
    }
    if (ctx->instance)
        vkDestroyInstance(ctx->instance, NULL);
    if (ctx->queue_lock_made)
        pthread_mutex_destroy(&ctx->queue_lock);
    cpu_pool_free(ctx->pool);
    memset(ctx, 0, sizeof *ctx);
}
