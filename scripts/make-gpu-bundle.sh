#!/bin/sh
# Packs a release build, the shared libraries it loads, the GStreamer plugins
# the element's benchmark uses and the test fixtures into one archive,
# .gpu/bundle.tar.xz, for bench/gpu-check.sh on a GPU machine that has a
# Vulkan driver but no build tools or Debian packages (a CUDA image, say).
# Run it here, on Debian 12 with scripts/install-deps.sh done; the archive is
# about 45 MB and .gpu/ is ignored by git.
#
#   scripts/make-gpu-bundle.sh [BUILD_DIR]      (default build-gpu)
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
build=${1:-build-gpu}
fixtures=${VKCLIP_FIXTURES:-$root/../shared/fixtures}
data=${VKCLIP_SHARED_DATA:-$root/../shared/data}
gst_dir=/usr/lib/x86_64-linux-gnu/gstreamer-1.0
scanner=/usr/lib/x86_64-linux-gnu/gstreamer1.0/gstreamer-1.0/gst-plugin-scanner
# What gpu-check.sh's element run needs: filesrc/fakesink, videotestsrc,
# videoconvert, AVI (raw I420 in, no codec library to carry), decodebin, PNG
# and multifilesrc (the tests' image sequences).
plugins="coreelements videotestsrc videoconvertscale avi playback typefindfunctions png multifile"

for need in "$fixtures/clip-tiny-f32" "$data" "$scanner" /usr/bin/gst-launch-1.0; do
    [ -e "$need" ] || { echo "make-gpu-bundle.sh: $need is missing" >&2; exit 1; }
done
[ -d "$build" ] || meson setup "$build" -Dgst=enabled -Darchive=enabled >/dev/null
ninja -C "$build" >/dev/null

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/build" "$stage/lib" "$stage/gst" "$stage/shared" "$stage/bin"

# Every program and library of the build tree, at its place in the tree (the
# tests' command lines name them so); each program becomes a wrapper that sets
# the library path for itself alone, so the GPU machine's own Python (and its
# newer libstdc++) never loads the carried libraries.
wrap() { # REAL WRAPPER: REAL's directory within the stage sets how far up the bundle's root is
    up=$(dirname "${2#"$stage"/}" | sed 's|[^/][^/]*|..|g')
    # The loader's --library-path, unlike LD_LIBRARY_PATH, is not inherited:
    # a Python a test starts keeps the machine's own libraries.
    # shellcheck disable=SC2016 # the wrapper's own $0, $b and $here, expanded when it runs
    {
        printf '#!/bin/sh\nhere=$(cd "$(dirname "$0")" && pwd)\nb="$here/%s"\n' "$up"
        printf 'exec /lib64/ld-linux-x86-64.so.2 --library-path "$b/lib:$b/build/core" --argv0 "$0" "$here/%s" "$@"\n' \
            "$(basename "$1")"
    } >"$2"
    chmod +x "$2"
}
is_elf() { [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]; }
(cd "$build" && find . -path '*.p' -prune -o -type f \( -perm -u+x -o -name '*.so*' \) -print) | sed 's|^\./||' | while read -r f; do
    mkdir -p "$stage/build/$(dirname "$f")"
    case $f in
    *.so*) cp -P "$build/$f" "$stage/build/$f" ;;
    *)
        is_elf "$build/$f" || { cp "$build/$f" "$stage/build/$f"; continue; }
        cp "$build/$f" "$stage/build/$f.elf"
        wrap "$stage/build/$f.elf" "$stage/build/$f"
        ;;
    esac
done
(cd "$build" && find . -name '*.so*' -type l) | sed 's|^\./||' | while read -r f; do cp -P "$build/$f" "$stage/build/$f"; done

for p in $plugins; do cp "$gst_dir/libgst$p.so" "$stage/gst/"; done
cp "$scanner" "$stage/gst/gst-plugin-scanner.elf"
wrap "$stage/gst/gst-plugin-scanner.elf" "$stage/gst/gst-plugin-scanner"
cp /usr/bin/gst-launch-1.0 "$stage/bin/gst-launch-1.0.elf"
wrap "$stage/bin/gst-launch-1.0.elf" "$stage/bin/gst-launch-1.0"

# The libraries all of them load, except the C library's own, which the GPU
# machine's newer glibc provides; and glvnd's dispatch libraries, which
# NVIDIA's Vulkan driver loads and a bare machine may lack.
find "$stage" -type f \( -name '*.elf' -o -name '*.so*' \) | while read -r f; do
    LD_LIBRARY_PATH="$build/core" ldd "$f" 2>/dev/null | awk -v f="$f" '
        /not found/ { print "make-gpu-bundle.sh: " f " needs " $1 ", not found" > "/dev/stderr"; exit 1 }
        $3 ~ /^\// { print $3 }' || exit 1
done | sort -u | grep -v -E '/(libc|libm|libmvec|libpthread|libdl|librt|libresolv|libutil|libanl|libthread_db|libnss_[a-z]+|ld-linux-x86-64)\.so' |
    grep -v -F "$root/" | while read -r lib; do cp -L "$lib" "$stage/lib/"; done
for lib in libGLdispatch.so.0 libGLX.so.0 libEGL.so.1 libOpenGL.so.0; do
    [ -f "/usr/lib/x86_64-linux-gnu/$lib" ] && cp -L "/usr/lib/x86_64-linux-gnu/$lib" "$stage/lib/"
done

cp -r "$fixtures" "$stage/shared/fixtures"
cp -r "$data" "$stage/shared/data"
meson introspect "$build" --tests >"$stage/tests.json"
printf '%s\n%s\n' "$root" "$(cd "$build" && pwd)" >"$stage/.bundle-root"

mkdir -p .gpu
tar -cJf .gpu/bundle.tar.xz -C "$stage" .
echo "wrote .gpu/bundle.tar.xz ($(du -h .gpu/bundle.tar.xz | cut -f1)); carry .gpu to the GPU machine"
