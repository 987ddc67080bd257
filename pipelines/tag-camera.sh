#!/bin/bash
# tag-camera.sh [DEVICE [MODEL [LABELS]]]
#
# Live tagging of a V4L2 camera, labels drawn on the picture:
#   v4l2src ! decodebin ! clip mode=live ! videoconvert ! clipoverlay ! videoconvert ! autovideosink
# DEVICE defaults to /dev/video0; MODEL to $VKCLIP_MODEL; LABELS ("a;b;c" or a
# file) to $VKCLIP_LABELS, else a short list of everyday things. mode=live
# never holds a frame back for the device: frames that arrive while it is busy
# pass untagged, so the picture keeps the camera's rate. decodebin takes MJPEG
# cameras as well as raw ones. VKCLIP_VIDEOSINK replaces autovideosink.
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ $# -le 3 ] || { echo "usage: $SCRIPT [DEVICE [MODEL [LABELS]]]" >&2; exit 2; }
device=${1:-/dev/video0}
model=${2:-${VKCLIP_MODEL:-}}
labels=${3:-${VKCLIP_LABELS:-a person;a cat;a dog;a cup;a laptop;a phone;a book;a plant;a chair;a bottle}}

if [ ! -e "$device" ]; then
    die "no camera: $device does not exist (plug one in, or give its device: $SCRIPT /dev/videoN)"
fi
[ -c "$device" ] || die "$device is not a character device (not a V4L2 camera)"
if [ ! -r "$device" ] || [ ! -w "$device" ]; then
    die "no permission to open $device (add yourself to the 'video' group)"
fi
[ -n "$model" ] || die "no model: give it as the second argument or set VKCLIP_MODEL"
clip_require_element
clip_model_labels_args "$model" "$labels"
clip_video_sink

exec gst-launch-1.0 v4l2src device="$(gst_quote "$device")" ! decodebin ! \
    clip name=clip mode=live "${CLIP_ARGS[@]}" ! videoconvert ! clipoverlay ! videoconvert ! "${VIDEOSINK_ARGS[@]}"
