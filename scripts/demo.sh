#!/bin/sh
# The main job, on a fresh Debian 12: install, build, then zero-shot tag
# images with CLIP on Vulkan (lavapipe when there is no GPU).
#
#   scripts/demo.sh [MODEL_DIR [IMAGE...]]
#
# MODEL_DIR is a Hugging Face CLIP directory (e.g. a download of
# openai/clip-vit-base-patch32). Without one, a ViT-B/32 with random weights
# is generated (its labels are meaningless; its speed is real). The labels are
# Kinetics-700's 700 classes with CLIP's 28 templates when OpenAI's prompts.md
# is at ../shared/data/openai-clip/, else a short built-in list.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -d build ] || meson setup build --buildtype=release
ninja -C build

model=${1:-models/vit-b32-f32}
[ $# -gt 0 ] && shift
if [ ! -f "$model/config.json" ]; then
    echo "demo: generating a random ViT-B/32 in $model (no checkpoint given)" >&2
    /usr/bin/python3 scripts/make_random_clip.py --shape B/32 --out "$model"
fi

images="$*"
if [ -z "$images" ]; then
    mkdir -p build/demo
    /usr/bin/python3 scripts/make_demo_images.py build/demo
    images=$(ls build/demo/*.png build/demo/*.jpg)
fi

prompts=../shared/data/openai-clip/prompts.md
if [ -f "$prompts" ]; then
    /usr/bin/python3 scripts/extract_prompts.py "$prompts" Kinetics700 \
        --classes-out build/kinetics700-labels.txt --templates-out build/kinetics700-templates.txt
    set -- --labels-file build/kinetics700-labels.txt --templates-file build/kinetics700-templates.txt
else
    set -- --labels "a dog;a cat;a car;a person riding a bike;a cup of coffee;a city street at night"
fi

# Classify (the classifier is cached: a second run skips the text tower), then measure.
./build/tools/vkclip classify --model "$model" "$@" --top-k 3 $images
./build/tools/vkclip bench --model "$model" --batch 8 --seconds 10
