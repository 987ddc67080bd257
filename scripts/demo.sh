#!/bin/sh
# The main job, on a fresh Debian 12: install what is missing, build, then tag
# a video with the `clip` GStreamer element (CLIP on Vulkan; lavapipe when
# there is no GPU) and print the labels of each second.
#
#   scripts/demo.sh                               # the demo video, the built-in model
#   scripts/demo.sh MODEL_DIR VIDEO [LABELS [TEMPLATES]]
#
# Without arguments: data/demo/shapes.mkv (a few seconds of rendered shapes
# and test patterns) tagged by the built-in model (data/shapes-clip, a small
# CLIP trained here on such scenes) with its own label list, each second's
# label printed next to the ground truth the rendering script wrote. With a
# Hugging Face CLIP directory and a video of your own: the same on those.
# LABELS is "a;b;c" or a file with one label a line; TEMPLATES a file with one
# prompt template a line (default: the element's "a photo of a {}.").
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-deps.sh
[ -d build ] || meson setup build -Dgst=enabled >/dev/null
ninja -C build >/dev/null
export GST_PLUGIN_PATH="$root/build/gst"
# lavapipe stays available next to any GPU driver: the element picks the best device.

builtin=data/shapes-clip
if [ $# -eq 0 ] && [ ! -f "$builtin/model.safetensors" ]; then
    # A checkout without the built-in model: a random ViT-B/32 (labels
    # meaningless, speed real) on a video rendered from synthetic images.
    echo "demo: no built-in model in $builtin; generating a random ViT-B/32 in models/vit-b32-f32" >&2
    [ -f models/vit-b32-f32/config.json ] ||
        /usr/bin/python3 scripts/make_random_clip.py --shape B/32 --out models/vit-b32-f32 >&2
    mkdir -p build/demo
    /usr/bin/python3 scripts/make_demo_images.py build/demo
    /usr/bin/python3 scripts/make_test_video.py --out build/demo/demo.mkv --letterbox 640x360 --fps 5 \
        --frames-per-image 10 build/demo/landscape.jpg build/demo/noise-alpha.png build/demo/stripes.png >/dev/null
    exec /usr/bin/python3 pipelines/clip-seconds.py build/demo/demo.mkv --model models/vit-b32-f32 \
        --labels "a landscape with the sun;random noise;red stripes;a dog;a cup of coffee"
fi
if [ $# -eq 0 ]; then
    echo "demo: tagging data/demo/shapes.mkv with the built-in model ($builtin)" >&2
    exec /usr/bin/python3 pipelines/clip-seconds.py data/demo/shapes.mkv --truth data/demo/shapes.truth.json \
        --labels-file "$builtin/labels.txt" --templates-file "$builtin/templates.txt"
fi
if [ $# -lt 2 ]; then
    echo "usage: scripts/demo.sh [MODEL_DIR VIDEO [LABELS [TEMPLATES]]]" >&2
    exit 2
fi
model=$1 video=$2
if [ -f "${3:-}" ]; then
    set -- --labels-file "$3" ${4:+--templates-file "$4"}
elif [ -n "${3:-}" ]; then
    set -- --labels "$3" ${4:+--templates-file "$4"}
elif [ "$(cd "$model" 2>/dev/null && pwd)" = "$root/$builtin" ]; then
    set -- --labels-file "$builtin/labels.txt" --templates-file "$builtin/templates.txt"
else
    echo "demo: give LABELS for $model (\"a;b;c\" or a file, one label a line)" >&2
    exit 2
fi
echo "demo: tagging $video with $model" >&2
exec /usr/bin/python3 pipelines/clip-seconds.py "$video" --model "$model" "$@"
