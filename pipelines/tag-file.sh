#!/bin/bash
# tag-file.sh VIDEO MODEL LABELS [PROPERTY=VALUE...]
#
# Tags every frame of a video file and prints each `clip` element message
# (gst-launch-1.0 -m), one line per inferred frame:
#   Got message #N from element "clip" (element): clip, timestamp=(guint64)..., labels=(string)< ... >, ...
# LABELS is "a;b;c" or a file with one label a line. Extra PROPERTY=VALUE
# arguments go to clip (top-k=3 templates="{}" interval=5 ...).
# TAG_FILE_ALL=1 prints every bus message instead. The exit status is
# gst-launch-1.0's (non-zero on a pipeline error, which it prints on stderr).
#
# No videoconvert: clip takes what decoders hand out (the formats it cannot
# read on the device it converts on the CPU with GStreamer's converter).
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ $# -ge 3 ] || { echo "usage: $SCRIPT VIDEO MODEL LABELS [PROPERTY=VALUE...]" >&2; exit 2; }
video=$1 model=$2 labels=$3
shift 3
[ -f "$video" ] || die "video '$video' not found"
clip_require_element
clip_model_labels_args "$model" "$labels"

filter() {
    if [ -n "${TAG_FILE_ALL:-}" ]; then
        cat
    else
        # awk, not grep: no match is not a failure, and lines go out at once.
        awk '/^Got message #[0-9]+ from element "clip" \(element\): clip[,;]/ { print; fflush() }'
    fi
}

gst-launch-1.0 -m filesrc location="$(gst_quote "$video")" ! decodebin ! \
    clip name=clip "${CLIP_ARGS[@]}" "$@" ! fakesink sync=false | filter
