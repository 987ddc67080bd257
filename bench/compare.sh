#!/bin/sh
# Side by side, in one run: vkclip (Vulkan; lavapipe without a GPU) and
# PyTorch CPU on the same weights. Prints a Markdown table with ratios.
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

echo "| workload | vkclip | PyTorch CPU | vkclip / PyTorch |"
echo "|---|---|---|---|"
for batch in 1 8; do
    v=$("$vkclip" bench --model "$model" --batch "$batch" --seconds "$seconds" | last "images/s")
    t=$(/usr/bin/python3 bench/torch_bench.py --model "$model" --batch "$batch" --seconds "$seconds" | last "images/s")
    echo "| image tower, batch $batch (images/s) | $v | $t | $(ratio "$v" "$t") |"
done

if [ "${ZEROSHOT:-0}" = 1 ]; then
    prompts=../shared/data/openai-clip/prompts.md
    dir=$(mktemp -d)
    /usr/bin/python3 scripts/extract_prompts.py "$prompts" Kinetics700 \
        --classes-out "$dir/labels.txt" --templates-out "$dir/templates.txt" >/dev/null
    /usr/bin/python3 scripts/make_demo_images.py "$dir"
    run() {
        VKCLIP_CACHE_DIR="$dir/cache" "$vkclip" classify --model "$model" --labels-file "$dir/labels.txt" \
            --templates-file "$dir/templates.txt" "$dir/stripes.png" 2>&1 >/dev/null |
            sed -n 's/.* in \([0-9.]*\) s$/\1/p'
    }
    cold=$(run)
    cached=$(run)
    t=$(/usr/bin/python3 bench/torch_zeroshot.py --model "$model" --labels-file "$dir/labels.txt" \
        --templates-file "$dir/templates.txt" | last "seconds")
    echo "| Kinetics-700 classifier, 19,600 prompts, cold (s) | $cold | $t | $(ratio "$t" "$cold") (speed) |"
    echo "| Kinetics-700 classifier, cached (s) | $cached | - | - |"
    rm -rf "$dir"
fi
