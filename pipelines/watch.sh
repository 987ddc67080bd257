#!/bin/bash
# watch.sh VIDEO MODEL LABELS [PROPERTY=VALUE...]
#
# Plays a video with its labels drawn on it by clipoverlay:
#   filesrc ! decodebin ! clip ! videoconvert ! clipoverlay ! videoconvert ! autovideosink
# (the videoconvert before clipoverlay is for decoder formats it cannot draw on)
# LABELS is "a;b;c" or a file with one label a line; PROPERTY=VALUE arguments
# go to clip. VKCLIP_VIDEOSINK replaces autovideosink (e.g. "fakesink sync=false"
# to run without a display).
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ $# -ge 3 ] || { echo "usage: $SCRIPT VIDEO MODEL LABELS [PROPERTY=VALUE...]" >&2; exit 2; }
video=$1 model=$2 labels=$3
shift 3
[ -f "$video" ] || die "video '$video' not found"
clip_require_element
clip_model_labels_args "$model" "$labels"
clip_video_sink

exec gst-launch-1.0 filesrc location="$(gst_quote "$video")" ! decodebin ! \
    clip name=clip "${CLIP_ARGS[@]}" "$@" ! videoconvert ! clipoverlay ! videoconvert ! "${VIDEOSINK_ARGS[@]}"
