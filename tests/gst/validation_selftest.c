/* validation_selftest.c: a Vulkan program with one validation error, for
 * scripts/check-sanitizers.sh to prove that tests/gst/check-wrapper.sh fails a
 * run whose validation messages never reach the test's stderr (a process whose
 * output a Python test keeps to itself): vkCreateBuffer with size 0
 * (VUID-VkBufferCreateInfo-size-00912), the instance made with the validation
 * layer and a debug messenger that, like an application's, prints nothing.
 *
 *   cc tests/gst/validation_selftest.c -o selftest -lvulkan && ./selftest
 *
 * Exit 0 when the error was made (the layer saw it), 77 without a device or the
 * layer. */
#include <stdio.h>
#include <vulkan/vulkan.h>

static VKAPI_ATTR VkBool32 VKAPI_CALL quiet(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                            VkDebugUtilsMessageTypeFlagsEXT types,
                                            const VkDebugUtilsMessengerCallbackDataEXT *data, void *user)
{
    (void)severity, (void)types, (void)data;
    ++*(int *)user;
    return VK_FALSE;
}

int main(void)
{
    const char *layers[] = {"VK_LAYER_KHRONOS_validation"}, *exts[] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO, .apiVersion = VK_API_VERSION_1_1};
    VkInstanceCreateInfo ici = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &app,
                                .enabledLayerCount = 1, .ppEnabledLayerNames = layers,
                                .enabledExtensionCount = 1, .ppEnabledExtensionNames = exts};
    VkInstance instance;
    if (vkCreateInstance(&ici, NULL, &instance) != VK_SUCCESS) {
        fprintf(stderr, "validation_selftest: no instance with the validation layer\n");
        return 77;
    }
    int seen = 0;
    VkDebugUtilsMessengerCreateInfoEXT mci = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = quiet, .pUserData = &seen};
    PFN_vkCreateDebugUtilsMessengerEXT create_messenger =
        (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(instance, "vkCreateDebugUtilsMessengerEXT");
    PFN_vkDestroyDebugUtilsMessengerEXT destroy_messenger =
        (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(instance, "vkDestroyDebugUtilsMessengerEXT");
    VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
    if (create_messenger)
        create_messenger(instance, &mci, NULL, &messenger);
    uint32_t n = 1;
    VkPhysicalDevice physical;
    VkResult r = vkEnumeratePhysicalDevices(instance, &n, &physical);
    if ((r != VK_SUCCESS && r != VK_INCOMPLETE) || n == 0) {
        fprintf(stderr, "validation_selftest: no Vulkan device\n");
        return 77;
    }
    float priority = 1.0f;
    VkDeviceQueueCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, .queueFamilyIndex = 0,
                                   .queueCount = 1, .pQueuePriorities = &priority};
    VkDeviceCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .queueCreateInfoCount = 1,
                              .pQueueCreateInfos = &qci};
    VkDevice device;
    if (vkCreateDevice(physical, &dci, NULL, &device) != VK_SUCCESS) {
        fprintf(stderr, "validation_selftest: cannot create a device\n");
        return 77;
    }
    VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = 0,
                              .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT};
    VkBuffer buffer = VK_NULL_HANDLE;
    if (vkCreateBuffer(device, &bci, NULL, &buffer) == VK_SUCCESS)
        vkDestroyBuffer(device, buffer, NULL);
    vkDestroyDevice(device, NULL);
    if (messenger && destroy_messenger)
        destroy_messenger(instance, messenger, NULL);
    vkDestroyInstance(instance, NULL);
    return seen > 0 ? 0 : 1;
}
