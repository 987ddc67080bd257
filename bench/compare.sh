#!/bin/sh
# Side by side, in one run: vkclip's CPU backend, vkclip on Vulkan (lavapipe
# without a GPU) and PyTorch CPU on the same weights, and OpenBLAS's sgemm on
# the same forward pass's GEMMs alone (the CPU backend's ceiling). Prints a
# Markdown table with ratios.
#
#   bench/compare.sh [MODEL_DIR] [SECONDS]           image tower, batch 1 and 8
#   ZEROSHOT=1 bench/compare.sh [MODEL_DIR]          also a Kinetics-700 classifier (700 x 28 prompts)
#
# Without MODEL_DIR it runs random full-size ViT-B/32 and ViT-B/16
# (models/vit-b32-f32 and models/vit-b16-f32, made by
# scripts/make_random_clip.py when absent); the classifier rows use the first.
# Needs a build in build/ (scripts/demo.sh makes one), or VKCLIP and SGEMM_BENCH.
set -eu
cd "$(dirname "$0")/.."
seconds=${2:-15}
vkclip=${VKCLIP:-build/tools/vkclip}
sgemm=${SGEMM_BENCH:-build/bench/sgemm_bench}
# The models become the positional parameters, so a path with spaces stays one
# word; an empty MODEL_DIR means the default pair.
if [ -n "${1:-}" ]; then
    set -- "$1"
else
    set -- models/vit-b32-f32 models/vit-b16-f32
fi
last() { sed -n "s|^$1: *||p" | tail -n 1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# The vision tower's width, layers, patch and image size, as sgemm_bench's options.
vision_shape() {
    /usr/bin/python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))["vision_config"]
print("--width %d --layers %d --patch %d --image %d"
      % (v["hidden_size"], v["num_hidden_layers"], v["patch_size"], v["image_size"]))' "$1/config.json"
}
# "ViT-B/32"-like name from the config, for the table.
vision_name() {
    /usr/bin/python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))["vision_config"]
print("%d-wide ViT/%d at %d" % (v["hidden_size"], v["patch_size"], v["image_size"]))' "$1/config.json"
}

echo "| workload | vkclip CPU backend | vkclip on Vulkan | PyTorch CPU | CPU backend / PyTorch | Vulkan / PyTorch | sgemm alone | CPU backend / sgemm |"
echo "|---|---|---|---|---|---|---|---|"
for model in "$@"; do
    if [ ! -f "$model/config.json" ]; then
        case $model in
        *b16*) shape=B/16 ;;
        *) shape=B/32 ;;
        esac
        /usr/bin/python3 scripts/make_random_clip.py --shape "$shape" --out "$model" >/dev/null
    fi
    name=$(vision_name "$model")
    for batch in 1 8; do
        c=$("$vkclip" bench --device cpu --model "$model" --batch "$batch" --seconds "$seconds" | last "images/s")
        v=$("$vkclip" bench --device vulkan --model "$model" --batch "$batch" --seconds "$seconds" | last "images/s")
        t=$(/usr/bin/python3 bench/torch_bench.py --model "$model" --batch "$batch" --seconds "$seconds" | last "images/s")
        # shellcheck disable=SC2046 # the shape is several options on purpose
        g=$("$sgemm" --batch "$batch" $(vision_shape "$model") --seconds "$seconds" | last "images/s if only the GEMMs ran")
        echo "| $name, batch $batch (images/s) | $c | $v | $t | $(ratio "$c" "$t") | $(ratio "$v" "$t") | $g | $(ratio "$c" "$g") |"
    done
done

if [ "${ZEROSHOT:-0}" = 1 ]; then
    model=$1
    prompts=../shared/data/openai-clip/prompts.md
    dir=$(mktemp -d)
    /usr/bin/python3 scripts/extract_prompts.py "$prompts" Kinetics700 \
        --classes-out "$dir/labels.txt" --templates-out "$dir/templates.txt" >/dev/null
    /usr/bin/python3 scripts/make_demo_images.py "$dir"
    # Seconds `vkclip classify` reports for the classifier on device $1 (a cache per device).
    build_classifier() {
        VKCLIP_CACHE_DIR="$dir/cache-$1" "$vkclip" classify --device "$1" --model "$model" \
            --labels-file "$dir/labels.txt" --templates-file "$dir/templates.txt" "$dir/stripes.png" 2>&1 >/dev/null |
            sed -n 's/.* in \([0-9.]*\) s$/\1/p'
    }
    c=$(build_classifier cpu)
    cached=$(build_classifier cpu)
    v=$(build_classifier vulkan)
    t=$(/usr/bin/python3 bench/torch_zeroshot.py --model "$model" --labels-file "$dir/labels.txt" \
        --templates-file "$dir/templates.txt" | last "seconds")
    echo "| Kinetics-700 classifier, 19,600 prompts, cold (s) | $c | $v | $t | $(ratio "$t" "$c") (speed) | $(ratio "$t" "$v") (speed) | - | - |"
    echo "| Kinetics-700 classifier, from the cache (s) | $cached | - | - | - | - | - | - |"
    rm -rf "$dir"
fi
