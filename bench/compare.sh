#!/bin/sh
# Side by side, in one run: vkclip's CPU backend, vkclip on Vulkan (lavapipe
# without a GPU) and PyTorch CPU on the same weights, and OpenBLAS's sgemm on
# the same forward pass's GEMMs alone (the CPU backend's ceiling). Prints a
# Markdown table with ratios.
#
#   bench/compare.sh [MODEL_DIR] [SECONDS]           image tower, batch 1 and 8
#   ZEROSHOT=1 bench/compare.sh [MODEL_DIR]          also a Kinetics-700 classifier (700 x 28 prompts)
#
# MODEL_DIR defaults to models/vit-b32-f32 (made by scripts/make_random_clip.py
# --shape B/32 when absent). Needs a build in build/ (scripts/demo.sh makes one).
set -eu
cd "$(dirname "$0")/.."
model=${1:-models/vit-b32-f32}
seconds=${2:-15}
vkclip=${VKCLIP:-build/tools/vkclip}
[ -f "$model/config.json" ] || /usr/bin/python3 scripts/make_random_clip.py --shape B/32 --out "$model"
last() { sed -n "s|^$1: *||p" | tail -n 1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

sgemm=${SGEMM_BENCH:-build/bench/sgemm_bench}
width=$(sed -n 's/.*"hidden_size": *\([0-9]*\).*/\1/p' "$model/config.json" | tail -n 1)
echo "| workload | vkclip CPU backend | vkclip on Vulkan | PyTorch CPU | CPU backend / PyTorch | Vulkan / PyTorch | sgemm alone | CPU backend / sgemm |"
echo "|---|---|---|---|---|---|---|---|"
for batch in 1 8; do
    c=$("$vkclip" bench --device cpu --model "$model" --batch "$batch" --seconds "$seconds" | last "images/s")
    v=$("$vkclip" bench --device vulkan --model "$model" --batch "$batch" --seconds "$seconds" | last "images/s")
    t=$(/usr/bin/python3 bench/torch_bench.py --model "$model" --batch "$batch" --seconds "$seconds" | last "images/s")
    g=$("$sgemm" --batch "$batch" --width "${width:-768}" --seconds "$seconds" | last "images/s if only the GEMMs ran")
    echo "| image tower, batch $batch (images/s) | $c | $v | $t | $(ratio "$c" "$t") | $(ratio "$v" "$t") | $g | $(ratio "$c" "$g") |"
done

if [ "${ZEROSHOT:-0}" = 1 ]; then
    prompts=../shared/data/openai-clip/prompts.md
    dir=$(mktemp -d)
    /usr/bin/python3 scripts/extract_prompts.py "$prompts" Kinetics700 \
        --classes-out "$dir/labels.txt" --templates-out "$dir/templates.txt" >/dev/null
    /usr/bin/python3 scripts/make_demo_images.py "$dir"
    run() {
        VKCLIP_CACHE_DIR="$dir/cache" "$vkclip" classify --device cpu --model "$model" --labels-file "$dir/labels.txt" \
            --templates-file "$dir/templates.txt" "$dir/stripes.png" 2>&1 >/dev/null |
            sed -n 's/.* in \([0-9.]*\) s$/\1/p'
    }
    cold=$(run)
    cached=$(run)
    t=$(/usr/bin/python3 bench/torch_zeroshot.py --model "$model" --labels-file "$dir/labels.txt" \
        --templates-file "$dir/templates.txt" | last "seconds")
    echo "| Kinetics-700 classifier, 19,600 prompts, cold (s) | $cold | - | $t | $(ratio "$t" "$cold") (speed) | - | - | - |"
    echo "| Kinetics-700 classifier, cached (s) | $cached | - | - | - | - | - | - |"
    rm -rf "$dir"
fi
