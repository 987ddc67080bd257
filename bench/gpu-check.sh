#!/bin/sh
# On a machine with a Vulkan GPU: builds (or unpacks a bundle), runs the test
# suite on that GPU and prints bench/gpu_check_bench.py's table. Needs no
# network. Two ways to get the programs:
#   - .gpu/bundle.tar.xz present (scripts/make-gpu-bundle.sh, made on Debian
#     12): for a GPU machine without build tools or Debian's packages; the
#     bundle carries the build, its libraries, the GStreamer plugins the
#     benchmark uses and the fixtures; Python is the machine's own (torch,
#     numpy, Pillow). The element's and the archive's suites need GStreamer's
#     Python bindings and codecs, so they are left out there.
#   - otherwise a meson build in build-gpu (scripts/install-deps.sh first),
#     and the whole suite.
#
#   bench/gpu-check.sh [--quick]        --quick: the tiny model only, and lavapipe
#                                       when there is no GPU (to try the script)
# The GPU's driver: $VK_ICD_FILENAMES, else the first manifest in the usual
# places whose device is a GPU. $GPU_CHECK_SECONDS (default 480) bounds the
# benchmark rows. Logs go to $OUT/ (default /tmp/gpu-check). Ends with
# "gpu-check: tests N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.." || exit 1
quick=""
[ "${1:-}" = "--quick" ] && quick="--quick"
out=${OUT:-/tmp/gpu-check}
mkdir -p "$out"
python=$(command -v python3)
started=$(date +%s)
budget=${GPU_CHECK_SECONDS:-480}
export PYTHONUNBUFFERED=1

if [ -f .gpu/bundle.tar.xz ]; then
    bundle=/tmp/vkclip-bundle
    rm -rf "$bundle" && mkdir -p "$bundle" || exit 1
    # Python's tarfile, since tar -J needs an xz program the machine may lack.
    "$python" -c 'import sys, tarfile
t = tarfile.open(sys.argv[1])
t.extractall(sys.argv[2], **({"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}))' \
        .gpu/bundle.tar.xz "$bundle" || exit 1
    # Paths compiled into the build (the source tree's default model) name
    # the machine it was made on: make them lead here.
    src=$(sed -n 1p "$bundle/.bundle-root") built=$(sed -n 2p "$bundle/.bundle-root")
    [ -e "$src" ] || { mkdir -p "$(dirname "$src")" && ln -s "$PWD" "$src"; }
    [ -e "$built" ] || ln -s "$bundle/build" "$built"
    vkclip=$bundle/build/tools/vkclip
    gst_launch=$bundle/bin/gst-launch-1.0
    # The carried plugins only, with a registry of their own.
    export GST_PLUGIN_SYSTEM_PATH="$bundle/gst" GST_PLUGIN_PATH="$bundle/build/gst"
    export GST_PLUGIN_SYSTEM_PATH_1_0="$bundle/gst" GST_PLUGIN_PATH_1_0="$bundle/build/gst"
    export GST_PLUGIN_SCANNER="$bundle/gst/gst-plugin-scanner" GST_REGISTRY="$bundle/registry.bin"
    export VKCLIP_FIXTURES="$bundle/shared/fixtures" VKCLIP_SHARED_DATA="$bundle/shared/data"
    export PATH="$bundle/bin:$PATH"
    run_tests() {
        # videoconvert and few_shot start Python with GStreamer's bindings (gi).
        "$python" bench/gpu_check_tests.py "$bundle" --jobs 4 --logs "$out" --skip videoconvert --skip few_shot \
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

# The chosen Vulkan device under manifest $1, empty when it is a CPU.
gpu_under() {
    VK_ICD_FILENAMES=$1 "$vkclip" info --device vulkan 2>/dev/null |
        sed -n 's/^device [0-9]*: \(.*\) \[chosen\]$/\1/p' | grep -v '(CPU)'
}
if [ -z "${VK_ICD_FILENAMES:-}" ]; then
    for f in /usr/share/vulkan/icd.d/*nvidia*.json /etc/vulkan/icd.d/*nvidia*.json \
        /usr/local/nvidia/share/vulkan/icd.d/*.json /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json; do
        [ -f "$f" ] && [ -n "$(gpu_under "$f")" ] && { VK_ICD_FILENAMES=$f; break; }
    done
    [ -z "${VK_ICD_FILENAMES:-}" ] && [ -n "$quick" ] && VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json
fi
if [ -z "${VK_ICD_FILENAMES:-}" ]; then
    echo "gpu-check: no Vulkan driver manifest with a GPU found; set VK_ICD_FILENAMES. The loader says:"
    VK_LOADER_DEBUG=error,driver "$vkclip" info --device vulkan 2>&1 | tail -n 20
    exit 1
fi
export VK_ICD_FILENAMES
device=$("$vkclip" info --device vulkan | sed -n 's/^device [0-9]*: \(.*\) \[chosen\]$/\1/p')
echo "driver: $VK_ICD_FILENAMES"
echo "device: $device"
case $device in
*"(CPU)"*|"") [ -n "$quick" ] || { echo "gpu-check: the Vulkan device is not a GPU ($device)"; exit 1; } ;;
esac

echo
echo "## tests on $device"
run_tests 2>&1 | tee "$out/tests.txt"
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out/tests.txt" | tail -n 1)
echo "gpu-check: tests ${summary:-did not finish} ($(( $(date +%s) - started )) s)"

# The tensor-core GEMM is off by default until it has passed on a GPU: here,
# the fixtures and the random models (fp16 rows) with it forced.
echo
echo "## gemm=coopmat (VK_NV_cooperative_matrix, off by default)"
# Whether it runs at all: the plan bench reports, and the kernels a profiled pass used.
VKCLIP_KERNELS=gpu,gemm=coopmat VKCLIP_PROFILE=1 "$vkclip" bench --device vulkan --precision f16 --seconds 0.1 \
    --model "${VKCLIP_FIXTURES:-../shared/fixtures}/clip-tiny-f16" >"$out/coopmat-bench.txt" 2>&1
echo "$(grep -m 1 '^kernels:' "$out/coopmat-bench.txt"); $(grep -c 'matmul_coopmat' "$out/coopmat-bench.txt") profile lines name matmul_coopmat"
grep -m 1 'gemm=coopmat needs' "$out/coopmat-bench.txt"
for t in test_fixtures test_models; do
    VKCLIP_DEVICE=vulkan VKCLIP_KERNELS=gpu,gemm=coopmat timeout 240 "$python" "tests/engine/$t.py" "$vkclip" \
        >"$out/coopmat-$t.txt" 2>&1
    rc=$?
    echo "$t with gemm=coopmat: rc $rc, $(grep -c '^FAIL' "$out/coopmat-$t.txt") failed checks, $(tail -n 1 "$out/coopmat-$t.txt")"
    grep -m 3 '^FAIL' "$out/coopmat-$t.txt"
done

echo
echo "## benchmarks"
left=$(( budget - ($(date +%s) - started) ))
# shellcheck disable=SC2086 # $quick is one option or none
"$python" bench/gpu_check_bench.py --vkclip "$vkclip" --gst-launch "$gst_launch" --seconds-left "$left" $quick 2>&1 |
    tee "$out/bench.md"
echo "gpu-check took $(( $(date +%s) - started )) s"
echo "gpu-check: tests ${summary:-did not finish}"
