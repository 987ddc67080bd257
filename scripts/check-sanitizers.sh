#!/bin/sh
# Builds with AddressSanitizer + UndefinedBehaviorSanitizer and runs the whole
# suite on lavapipe with the Vulkan validation layer on.
#
# The lavapipe driver is preloaded so that it stays mapped after the Vulkan
# loader unloads it: LeakSanitizer can then see that what the driver keeps in
# its globals is not our leak (unloaded, it shows as "<unknown module>").
set -eu
cd "$(dirname "$0")/.."
build=build-sanitize
[ -d "$build" ] || meson setup "$build" -Dbuildtype=debug -Db_sanitize=address,undefined
ninja -C "$build"
export VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json
export LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The preloaded driver comes before the ASan runtime; it does not replace malloc, so that is safe.
export ASAN_OPTIONS=verify_asan_link_order=0
export VKCLIP_VALIDATION=1
meson test -C "$build" --print-errorlogs --timeout-multiplier 6 "$@"
