#!/bin/sh
# Installs what vkclip needs to build, test and run, from Debian 12's archive.
# Runs apt-get as root (directly, or through sudo when not root).
#   install-deps.sh            what building and running need
#   install-deps.sh --tests    also what only the test suite needs (Chromium, for the report test)
set -eu
packages="build-essential pkg-config meson ninja-build glslc libvulkan-dev mesa-vulkan-drivers
  vulkan-validationlayers libpng-dev libjpeg62-turbo-dev libutf8proc-dev zlib1g-dev
  python3 python3-numpy python3-pil python3-torch python3-regex python3-sentencepiece libopenblas0-pthread
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-tools gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good gstreamer1.0-libav python3-gst-1.0 gir1.2-gst-plugins-base-1.0
  libpango1.0-dev libcairo2-dev fonts-dejavu-core g++ libsqlite3-dev libfaiss-dev libopenblas-dev liblapack-dev
  libsentencepiece-dev"
[ "${1:-}" = "--tests" ] && packages="$packages chromium"
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
echo "installing:$missing" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
