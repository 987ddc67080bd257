#!/bin/sh
# The main job, on a fresh Debian 12: install, build, then tag a video with
# the `clip` GStreamer element (CLIP on Vulkan; lavapipe when there is no GPU)
# and print the labels of each frame as JSON lines.
#
#   scripts/demo.sh [MODEL_DIR [VIDEO [LABELS]]]
#
# MODEL_DIR is a Hugging Face CLIP directory (e.g. a download of
# openai/clip-vit-base-patch32). Without one, a ViT-B/32 with random weights
# is generated (its labels are meaningless; its speed is real). Without a
# VIDEO, a short lossless one is rendered from synthetic images. LABELS is
# "a;b;c" or a file with one label a line.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-deps.sh
[ -d build ] || meson setup build -Dgst=enabled
ninja -C build
export GST_PLUGIN_PATH="$root/build/gst"
# lavapipe stays available next to any GPU driver: the element picks the best device.

model=${1:-models/vit-b32-f32}
if [ ! -f "$model/config.json" ]; then
    echo "demo: generating a random ViT-B/32 in $model (no checkpoint given)" >&2
    /usr/bin/python3 scripts/make_random_clip.py --shape B/32 --out "$model"
fi

video=${2:-}
if [ -z "$video" ]; then
    mkdir -p build/demo
    /usr/bin/python3 scripts/make_demo_images.py build/demo
    video=build/demo/demo.mkv
    # Two seconds of each image at 5 frames a second.
    /usr/bin/python3 scripts/make_test_video.py --out "$video" --letterbox 640x360 --fps 5 \
        --frames-per-image 10 build/demo/landscape.jpg build/demo/noise-alpha.png build/demo/stripes.png >/dev/null
fi

labels=${3:-"a landscape with the sun;random noise;red stripes;a dog;a cup of coffee;a city street at night"}
if [ -f "$labels" ]; then
    set -- --labels-file "$labels"
else
    set -- --labels "$labels"
fi

echo "demo: tagging $video with $model" >&2
/usr/bin/python3 pipelines/clip-json.py "$video" --model "$model" "$@" --top-k 3 --mode archive
