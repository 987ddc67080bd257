#!/bin/sh
# On a machine with a Vulkan GPU: builds (or unpacks a bundle), runs the test
# suite on that GPU and prints bench/gpu_check_bench.py's table. Needs no
# network. Two ways to get the programs:
#   - .gpu/bundle.tar.xz present (scripts/make-gpu-bundle.sh, made on Debian
#     12): for a GPU machine without build tools or Debian's packages; the
#     bundle carries the build, its libraries, the GStreamer plugins the
#     benchmark uses and the fixtures; Python is the machine's own (torch,
#     numpy, Pillow).
#   - otherwise a meson build in build-gpu (scripts/install-deps.sh first).
#
#   bench/gpu-check.sh [--quick]        --quick: the tiny model only, any device
#                                       (to try the script itself on lavapipe)
# The GPU's driver: $VK_ICD_FILENAMES, else the first non-lavapipe manifest
# found in the usual places. Logs of failed tests go to $OUT/ (default
# /tmp/gpu-check). Ends with "gpu-check: tests N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 1
quick=""
[ "${1:-}" = "--quick" ] && quick="--quick"
out=${OUT:-/tmp/gpu-check}
mkdir -p "$out"
python=$(command -v python3)
started=$(date +%s)

if [ -z "${VK_ICD_FILENAMES:-}" ]; then
    for f in /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json /usr/local/nvidia/share/vulkan/icd.d/*.json; do
        case $f in *lvp*|*'*'*) continue ;; esac
        [ -f "$f" ] && { VK_ICD_FILENAMES=$f; break; }
    done
fi
[ -n "${VK_ICD_FILENAMES:-}" ] || { echo "gpu-check: no Vulkan driver manifest found; set VK_ICD_FILENAMES"; exit 1; }
export VK_ICD_FILENAMES
echo "driver: $VK_ICD_FILENAMES"

if [ -f .gpu/bundle.tar.xz ]; then
    bundle=/tmp/vkclip-bundle
    rm -rf "$bundle" && mkdir -p "$bundle" && tar -xJf .gpu/bundle.tar.xz -C "$bundle" || exit 1
    vkclip=$bundle/build/tools/vkclip
    gst_launch=$bundle/bin/gst-launch-1.0
    # The carried plugins only, with a registry of their own.
    export GST_PLUGIN_SYSTEM_PATH="$bundle/gst" GST_PLUGIN_PATH="$bundle/build/gst"
    export GST_PLUGIN_SCANNER="$bundle/gst/gst-plugin-scanner" GST_REGISTRY="$bundle/registry.bin"
    export PATH="$bundle/bin:$PATH"
    run_tests() {
        # cpu: the CPU backend, not the GPU; videoconvert needs Python's GStreamer bindings.
        "$python" bench/gpu_check_tests.py "$bundle" --jobs 4 --logs "$out" --skip videoconvert \
            --suite engine --suite model --suite image --suite text --suite zeroshot --suite util
    }
else
    if ! { [ -d build-gpu ] || meson setup build-gpu -Dgst=enabled -Darchive=enabled >/dev/null; } ||
        ! ninja -C build-gpu >/dev/null; then
        echo "gpu-check: the build failed"
        exit 1
    fi
    vkclip=build-gpu/tools/vkclip
    gst_launch=gst-launch-1.0
    export GST_PLUGIN_PATH="$PWD/build-gpu/gst"
    run_tests() {
        meson test -C build-gpu --num-processes 4 --logbase gpu-check >"$out/meson-test.txt" 2>&1
        grep -E '^ *[0-9]+/[0-9]+ ' "$out/meson-test.txt"
        cp build-gpu/meson-logs/gpu-check.txt "$out/" 2>/dev/null
        count() { sed -n "s/^$1: *\([0-9]*\).*/\1/p" "$out/meson-test.txt" | tail -n 1; }
        ok=$(count Ok) failed=$(count Fail) timeouts=$(count Timeout) skipped=$(count Skipped)
        echo "${ok:-0} passed, $(( ${failed:-1} + ${timeouts:-0} )) failed, ${skipped:-0} skipped"
    }
fi

device=$("$vkclip" info --device vulkan | sed -n 's/^device [0-9]*: \(.*\) \[chosen\]$/\1/p')
echo "device: $device"
case $device in
*"(CPU)"*|"") [ -n "$quick" ] || { echo "gpu-check: the Vulkan device is not a GPU ($device)"; exit 1; } ;;
esac

echo
echo "## tests on $device"
run_tests | tee "$out/tests.txt"
summary=$(tail -n 1 "$out/tests.txt")
echo "tests took $(( $(date +%s) - started )) s"

echo
echo "## benchmarks"
"$python" bench/gpu_check_bench.py --vkclip "$vkclip" --gst-launch "$gst_launch" $quick | tee "$out/bench.md"
echo "gpu-check took $(( $(date +%s) - started )) s"
echo "gpu-check: tests $summary"
