#!/bin/sh
# The archive commands side by side in one run:
# 1. indexing: `vkclip index` frames/s over a lossless video (FFV1 in Matroska,
#    I420 like the H.264 of most archives,
#    640x480 at 30 fps, every frame decoded) against `vkclip bench` images/s on
#    the same model and batch, and the ratio (the target is 90%: decoding and
#    storage hidden behind the encoder); and the video decoded alone
#    (decodebin ! fakesink), what decoding costs beside the encoder. The built-in model samples every frame;
#    a random full-size ViT-B/32 samples 4 a second (made by
#    scripts/make_random_clip.py into models/vit-b32-f32 when absent).
# 2. search: bench/vector_search_bench (latency p50/p99, exact and approximate,
#    recall@10) at SIZES stored frames (default 10000,1000000,10000000; the
#    largest takes about 50 minutes and 18.5 GB of memory on 2 cores).
#
#   bench/archive-bench.sh            SIZES=10000,1000000 bench/archive-bench.sh
# Needs a build in build/ (scripts/demo.sh makes one) and gstreamer1.0-libav.
set -eu
cd "$(dirname "$0")/.."
vkclip=${VKCLIP:-build/tools/vkclip}
sizes=${SIZES:-10000,1000000,10000000}
seconds=${SECONDS_PER_BENCH:-10}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
last() { sed -n "s|^$1: *||p" | tail -n 1; }
now() { date +%s.%N; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

b32=models/vit-b32-f32
[ -f "$b32/config.json" ] || /usr/bin/python3 scripts/make_random_clip.py --shape B/32 --out "$b32" >/dev/null
video="$work/lossless.mkv"
frames=1800
gst-launch-1.0 -q videotestsrc pattern=ball num-buffers=$frames \
    ! video/x-raw,width=640,height=480,framerate=30/1 ! videoconvert ! video/x-raw,format=I420 ! avenc_ffv1 \
    ! matroskamux \
    ! filesink location="$video"

start=$(now)
gst-launch-1.0 -q filesrc location="$video" ! decodebin ! fakesink sync=false
end=$(now)
decoded=$(awk -v n="$frames" -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", n / (b - a) }')

echo "indexing: $frames frames (60 s) of 640x480 FFV1, batch 8; vkclip index's own rate (after loading the"
echo "model, as vkclip bench's), and over the whole command's wall time; every frame is decoded: decoding"
echo "alone runs at $decoded frames/s"
echo
echo "| model | sampled | vkclip bench (images/s) | vkclip index (frames/s) | index / bench | with start-up (frames/s) | ratio |"
echo "|---|---|---|---|---|---|---|"
for spec in "data/shapes-clip 30" "$b32 4"; do
    set -- $spec
    model=$1 fps=$2
    bench=$("$vkclip" bench --model "$model" --batch 8 --seconds "$seconds" | last "images/s")
    db="$work/index-$fps.db"
    start=$(now)
    "$vkclip" index --db "$db" --model "$model" --fps "$fps" --batch 8 "$video" >"$work/index.json" 2>"$work/index.log"
    end=$(now)
    n=$(sed -n 's/.*"frames": \([0-9]*\).*/\1/p' "$work/index.json")
    own=$(sed -n 's|.* s, \([0-9.]*\) frames/s (after.*|\1|p' "$work/index.log" | tail -n 1)
    wall=$(awk -v n="$n" -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", n / (b - a) }')
    echo "| $(basename "$model") | $fps a second ($n frames) | $bench | $own | $(ratio "$own" "$bench") | $wall | $(ratio "$wall" "$bench") |"
done
echo
build/bench/vector_search_bench --sizes "$sizes"
