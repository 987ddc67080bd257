#!/bin/bash
# Sanitizers, the Vulkan validation layer and GStreamer's leak tracer over the
# test suite, on lavapipe.
#
#   scripts/check-sanitizers.sh [STEP...]      (default: all four steps, in this order)
#
#   engine          build-sanitize (ASan + UBSan, debug): every suite but gst, with the
#                   validation layer on (VKCLIP_VALIDATION=1: the engine's own tests fail
#                   on any validation message) and leak checking, through
#                   tests/gst/check-wrapper.sh (VKCLIP_CHECK_ASAN_PYTHON=children: the
#                   programs the Python tests run are checked, the interpreter is not).
#   gst-validation  build-validate (debug, no sanitizer): the gst suite with the
#                   validation layer on, through tests/gst/check-wrapper.sh: the element
#                   only prints what the layer says, so the wrapper fails a test on any
#                   "vulkan validation (...)" line on its stderr or any message in the
#                   layer's own log of all the test's processes. First a self-test: a
#                   run that prints such a line must fail.
#   gst-leaks       build-validate: the GstCheck tests of the gst suite under
#                   GST_TRACERS=leaks (GST_DEBUG=GST_TRACER:7). GstCheck runs gst_deinit
#                   at exit, where the tracer logs every GstObject/GstMiniObject still
#                   alive ("object-alive") and GstCheck fails the test. Failing tests are
#                   run again with leaks(stack-traces-flags=full) for the creation stacks.
#                   Python never calls gst_deinit: of the Python tests only
#                   gst_element_reference, which asks the tracer for the live objects
#                   itself, is run here.
#   gst-asan        build-sanitize: the gst suite under ASan + UBSan with leak checking.
#                   gst-plugin-scanner is not built with ASan and cannot load the plugin,
#                   so GStreamer scans in-process (GST_REGISTRY_FORK=no), and then loads
#                   every plugin on its path: the path is the build's gst/ plus a folder of
#                   symlinks to only the system plugins the tests use (GST_PLUGINS below).
#                   Suppressions: tests/gst/lsan-clipoverlay.supp (leaks that are not
#                   ours, each explained there); check-wrapper.sh judges the reports
#                   (why one GLib leak is known by its shape there). GstCheck forks per
#                   test, so each test's process gets its own leak check at exit.
#
# The script exits 1 when a step failed and ends with one line per step. Each step's
# meson run leaves its log in BUILD/meson-logs/: engine-check-wrapper.sh.txt, gst-leaks.txt (and
# gst-leaks-stacks.txt), gst-validation-check-wrapper.sh.txt and
# gst-asan-check-wrapper.sh.txt (meson adds the wrapper's name); the wrapper's
# "ok"/"FAIL" lines, the reports and their stacks are there. Needs vulkan-validationlayers for the validation steps.
# VKCLIP_SANITIZE_BUILD / VKCLIP_VALIDATE_BUILD name other build folders;
# MESON_TEST_ARGS adds arguments to every `meson test` (e.g. "--repeat 2").
set -eu
cd "$(dirname "$0")/.."
root=$PWD
san=${VKCLIP_SANITIZE_BUILD:-build-sanitize}
plain=${VKCLIP_VALIDATE_BUILD:-build-validate}
steps=${*:-engine gst-validation gst-leaks gst-asan}
# The system plugins the gst tests use (GStreamer 1.22 names): fakesink, queue,
# identity, tee, filesrc, capsfilter; videotestsrc; videoconvert, videoscale; pngdec;
# appsrc, appsink; matroskamux/demux; avenc_ffv1/avdec_*; typefinding; decodebin; multifilesrc.
GST_PLUGINS="coreelements videotestsrc videoconvertscale png app matroska libav typefindfunctions playback multifile"
lavapipe_icd=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json
lavapipe_so=/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so
wrapper=$root/tests/gst/check-wrapper.sh
export VK_ICD_FILENAMES=$lavapipe_icd
read -r -a extra <<<"${MESON_TEST_ARGS:-}"
results=()
failed=0

record() { # STEP STATUS [NOTE]
    results+=("$1: $2${3:+ ($3)}")
    [ "$2" = PASS ] || [ "$2" = SKIP ] || failed=1
}

have_validation_layer() {
    ls /usr/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json >/dev/null 2>&1 ||
        ls /etc/vulkan/explicit_layer.d/VkLayer_khronos_validation.json >/dev/null 2>&1
}

build_sanitize() {
    [ -d "$san" ] || meson setup "$san" -Dbuildtype=debug -Db_sanitize=address,undefined
    ninja -C "$san"
}

build_plain() {
    [ -d "$plain" ] || meson setup "$plain" -Dbuildtype=debug
    ninja -C "$plain"
}

# The sanitizer environment of the engine and gst-asan steps. The lavapipe driver
# is preloaded so that it stays mapped after the Vulkan loader unloads it:
# LeakSanitizer can then see that what the driver keeps in its globals is not our
# leak (unloaded, it shows as "<unknown module>"). It does not replace malloc, so
# coming before the ASan runtime is safe (verify_asan_link_order=0).
sanitizer_env() {
    export LD_PRELOAD=$lavapipe_so
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    export ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=1
}

step_engine() {
    build_sanitize
    if ! have_validation_layer; then
        record engine FAIL "vulkan-validationlayers is not installed"
        return
    fi
    # Through the wrapper, which judges the sanitizers' reports: test_videoconvert's
    # helper links GStreamer, and GLib's quark block is known there by its shape.
    if (sanitizer_env; export VKCLIP_VALIDATION=1 VKCLIP_CHECK_ASAN=1 VKCLIP_CHECK_ASAN_PYTHON=children
        meson test -C "$san" --no-suite gst --wrapper "$wrapper" --logbase engine --print-errorlogs \
            --timeout-multiplier 6 "${extra[@]}"); then
        record engine PASS
    else
        record engine FAIL "see $san/meson-logs/engine-check-wrapper.sh.txt"
    fi
}

step_gst_validation() {
    build_plain
    if ! have_validation_layer; then
        record gst-validation FAIL "vulkan-validationlayers is not installed"
        return
    fi
    # Runs with a validation message must fail, visibly: one printed the engine's
    # way on stderr, and a real one (validation_selftest.c) that only the layer's
    # own log sees.
    local selftest
    selftest=$plain/tests/gst/validation_selftest
    cc -o "$selftest" tests/gst/validation_selftest.c -lvulkan
    if VKCLIP_CHECK_VALIDATION=1 "$wrapper" sh -c 'echo "vulkan validation (error): self-test" >&2' \
        >/dev/null 2>&1 || VKCLIP_CHECK_VALIDATION=1 "$wrapper" sh -c "'$selftest' 2>/dev/null" >/dev/null 2>&1; then
        record gst-validation FAIL "check-wrapper.sh let a validation message pass its self-test"
        return
    fi
    echo "check-sanitizers.sh: check-wrapper.sh fails runs with a validation message (self-tests)"
    if (export VKCLIP_CHECK_VALIDATION=1
        meson test -C "$plain" --suite gst --wrapper "$wrapper" --logbase gst-validation --print-errorlogs \
            --timeout-multiplier 3 "${extra[@]}"); then
        record gst-validation PASS
    else
        record gst-validation FAIL "see $plain/meson-logs/gst-validation-check-wrapper.sh.txt"
    fi
}

# The gst suite's tests the leaks tracer can judge: the GstCheck ones, and
# gst_element_reference, which asks the tracer itself.
gst_check_tests() {
    meson introspect --tests "$1" | /usr/bin/python3 -c '
import json, os, sys
for t in json.load(sys.stdin):
    suites = [s.split(":")[-1] for s in t["suite"]]  # "vkclip:gst"
    if "gst" in suites and (not os.path.basename(t["cmd"][0]).startswith("python")
                            or t["name"] == "gst_element_reference"):
        print(t["name"])'
}

# The tests that did not pass in a meson run (its log's JSON).
failed_tests() {
    /usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    t = json.loads(line)
    if t["result"] not in ("OK", "SKIP", "EXPECTEDFAIL"):
        print(t["name"])' "$1"
}

step_gst_leaks() {
    build_plain
    local log=$plain/meson-logs/gst-leaks
    read -r -a tests <<<"$(gst_check_tests "$plain" | tr '\n' ' ')"
    if [ ${#tests[@]} -eq 0 ]; then
        record gst-leaks FAIL "no GstCheck test in the gst suite of $plain"
        return
    fi
    if (export GST_TRACERS=leaks GST_DEBUG=GST_TRACER:7
        meson test -C "$plain" --logbase gst-leaks --print-errorlogs --timeout-multiplier 3 "${extra[@]}" \
            "${tests[@]}"); then
        record gst-leaks PASS "${tests[*]}"
        return
    fi
    read -r -a bad <<<"$(failed_tests "$log.json" | tr '\n' ' ')"
    echo "== gst-leaks: objects alive at exit ($log.txt):"
    sed 's/\x1b\[[0-9;]*m//g' "$log.txt" | grep 'object-alive, type-name' | head -50 || true
    if [ ${#bad[@]} -gt 0 ]; then
        echo "== gst-leaks: ${bad[*]} again, with the stacks where the objects were made ($log-stacks.txt)"
        (export GST_TRACERS='leaks(stack-traces-flags=full)' GST_DEBUG=GST_TRACER:7
         meson test -C "$plain" --logbase gst-leaks-stacks --print-errorlogs --timeout-multiplier 10 "${bad[@]}") ||
            true
        sed 's/\x1b\[[0-9;]*m//g' "$log-stacks.txt" | grep -A 30 'object-alive, type-name' | head -200 || true
    fi
    record gst-leaks FAIL "leaks in: ${bad[*]:-see $log.txt}"
}

step_gst_asan() {
    build_sanitize
    local plugins system
    system=$(pkg-config --variable=pluginsdir gstreamer-1.0)
    plugins=$(mktemp -d "${TMPDIR:-/tmp}/vkclip-gst-plugins.XXXXXX")
    for p in $GST_PLUGINS; do
        if [ ! -e "$system/libgst$p.so" ]; then
            echo "check-sanitizers.sh: $system/libgst$p.so is missing (the gst tests that need it will fail)" >&2
            continue
        fi
        ln -s "$system/libgst$p.so" "$plugins/"
    done
    local ok=true
    (sanitizer_env
     export VKCLIP_CHECK_ASAN=1 VKCLIP_CHECK_PLUGINS=$plugins VKCLIP_CHECK_SYSTEM_PLUGINDIR=$system
     export VKCLIP_CHECK_ASAN_RUNTIME
     VKCLIP_CHECK_ASAN_RUNTIME=$(readlink -f "$(gcc -print-file-name=libasan.so)")
     export LSAN_OPTIONS=suppressions=$root/tests/gst/lsan-clipoverlay.supp:print_suppressions=1
     # clipoverlay's test runs no Vulkan driver: full stacks there (fontconfig's
     # leak is suppressed by a frame that fast unwinding does not reach).
     export VKCLIP_CHECK_SLOW_UNWIND=test_gst_clipoverlay
     export CK_TIMEOUT_MULTIPLIER=6
     meson test -C "$san" --suite gst --wrapper "$wrapper" --logbase gst-asan --print-errorlogs \
         --timeout-multiplier 6 "${extra[@]}") || ok=false
    rm -rf "$plugins"
    if $ok; then record gst-asan PASS; else record gst-asan FAIL "see $san/meson-logs/gst-asan-check-wrapper.sh.txt"; fi
}

for s in $steps; do
    case "$s" in
    engine) step_engine ;;
    gst-validation) step_gst_validation ;;
    gst-leaks) step_gst_leaks ;;
    gst-asan) step_gst_asan ;;
    *) echo "check-sanitizers.sh: unknown step '$s' (engine, gst-validation, gst-leaks, gst-asan)" >&2; exit 2 ;;
    esac
done
echo
for r in "${results[@]}"; do echo "$r"; done
exit $failed
