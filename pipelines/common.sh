# shellcheck shell=bash
# pipelines/common.sh: sourced by the launch scripts here. Finds the clip
# plugin, quotes values for gst-launch-1.0, and fails with one clear line.
#
# Plugin: $GST_PLUGIN_PATH or $GST_PLUGIN_PATH_1_0 when either is set (used
# as is); else the newest build*/gst/libgstclip.so under the repository root
# that GStreamer can load (an ASan build cannot, outside ASan); else whatever
# is installed system-wide.

set -euo pipefail

PIPELINES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$PIPELINES_DIR/.." && pwd)
SCRIPT=$(basename "$0")

die() {
    echo "$SCRIPT: $*" >&2
    exit 1
}

clip_find_plugin() {
    if [ -n "${GST_PLUGIN_PATH:-}${GST_PLUGIN_PATH_1_0:-}" ]; then
        return 0
    fi
    local so
    # Newest first; several build trees register the same plugin name, so
    # only one goes on the path.
    while IFS= read -r so; do
        if gst-inspect-1.0 "$so" >/dev/null 2>&1; then
            export GST_PLUGIN_PATH
            GST_PLUGIN_PATH=$(dirname "$so")
            return 0
        fi
    done < <(ls -t "$REPO_ROOT"/build*/gst/libgstclip.so 2>/dev/null || true)
}

# Fails unless a usable clip element (one with a `model` property) exists.
clip_require_element() {
    command -v gst-launch-1.0 >/dev/null || die "gst-launch-1.0 not found (apt-get install gstreamer1.0-tools)"
    clip_find_plugin
    local inspect
    # Captured first: grep -q stopping early would SIGPIPE gst-inspect-1.0,
    # which pipefail reports as a failure.
    inspect=$(gst-inspect-1.0 clip 2>/dev/null || true)
    if ! grep -q '^  model ' <<<"$inspect"; then
        die "no usable 'clip' element (GST_PLUGIN_PATH=${GST_PLUGIN_PATH:-${GST_PLUGIN_PATH_1_0:-unset}}):" \
            "build it (meson setup build && ninja -C build) or point GST_PLUGIN_PATH at its folder"
    fi
}

# gst_quote VALUE: VALUE as one double-quoted gst-launch value. gst-launch
# joins its arguments into one launch line; inside quotes only \ and " need
# escaping, and spaces, ';', ',', '!' and non-ASCII text pass unchanged.
gst_quote() {
    local v=${1//\\/\\\\}
    v=${v//\"/\\\"}
    printf '"%s"' "$v"
}

# clip_model_labels_args MODEL LABELS: the model= and labels= (or, when
# LABELS names a file, labels-file=) properties, in the array CLIP_ARGS.
clip_model_labels_args() {
    local model=$1 labels=$2
    [ -d "$model" ] || die "model directory '$model' not found"
    CLIP_ARGS=("model=$(gst_quote "$model")")
    if [ -f "$labels" ]; then
        CLIP_ARGS+=("labels-file=$(gst_quote "$labels")")
    else
        CLIP_ARGS+=("labels=$(gst_quote "$labels")")
    fi
}

# The video sink of the display scripts: $VKCLIP_VIDEOSINK (a launch-line
# fragment, e.g. "fakesink sync=false" to run them headless), else autovideosink.
clip_video_sink() {
    # shellcheck disable=SC2034  # used by the scripts that source this
    read -r -a VIDEOSINK_ARGS <<<"${VKCLIP_VIDEOSINK:-autovideosink}"
}
