#!/bin/bash
# tests/gst/check-wrapper.sh: the `meson test --wrapper` of scripts/check-sanitizers.sh's
# runs of the gst suite (see there). It runs one test command and judges what the
# test printed besides its own verdict. The environment chooses what it checks:
#
#   VKCLIP_CHECK_VALIDATION=1  the Vulkan validation layer on (VKCLIP_VALIDATION=1). The
#       engine prints each message it gets as a "vulkan validation (...)" line on
#       stderr but the element goes on, so the test would pass; here any such line
#       fails the test. The layer also writes every message itself, from every
#       process of the test (the Python tests run gst-launch-1.0 and scripts whose
#       stderr they keep to themselves), into a FIFO this wrapper reads: any message
#       there fails the test too. Both are printed.
#   VKCLIP_CHECK_PLUGINS=DIR   GStreamer scans its plugins in the test's own process
#       (GST_REGISTRY_FORK=no: gst-plugin-scanner is not built with ASan and cannot
#       load an ASan-built plugin), and only those on the build's gst/ folder plus
#       DIR (symlinks to the system plugins the tests use), so that no other system
#       plugin is loaded and brings its own leaks. VKCLIP_CHECK_SYSTEM_PLUGINDIR is
#       the system folder to take off GST_PLUGIN_PATH_1_0. The registry gets a name
#       of its own.
#   VKCLIP_CHECK_ASAN=1        ASan/LSan reports go to files (log_path) instead of
#       deciding the exit status (UBSan's stay on stderr), and are judged here: any
#       AddressSanitizer error, UBSan runtime error or leak fails the test, except one leak LeakSanitizer
#       cannot be told by a suppression (see known_leak below). Python tests get the
#       ASan runtime preloaded (VKCLIP_CHECK_ASAN_RUNTIME) and no leak checking: the
#       interpreter's own allocations are not ours; ASan and UBSan still check every
#       access of the plugin there. VKCLIP_CHECK_ASAN_PYTHON=children instead leaves
#       the interpreter alone and checks, leaks included, the ASan-built programs a
#       Python test runs (the engine's tests: they run the CLI and test helpers,
#       never the plugin in-process). Suppressions: LSAN_OPTIONS, set by the script.
#       VKCLIP_CHECK_SLOW_UNWIND lists tests (by label: the binary's or the Python
#       script's name) that load no Vulkan driver, where LeakSanitizer may record full
#       stacks (fast_unwind_on_malloc=0).
#
# Exit status: the test's own (77 stays a skip), or 1 when a check here found something.
set -u
[ $# -ge 1 ] || { echo "usage: $0 TEST-COMMAND..." >&2; exit 2; }
label=$(basename "$1")
case "$label" in python*) label=$(basename "${2:-$1}") ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vkclip-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
problems=0

if [ -n "${VKCLIP_CHECK_PLUGINS:-}" ]; then
    path=
    IFS=: read -r -a entries <<<"${GST_PLUGIN_PATH_1_0:-}"
    for e in "${entries[@]}"; do
        [ -n "$e" ] && [ "$e" != "${VKCLIP_CHECK_SYSTEM_PLUGINDIR:-}" ] && path="$path${path:+:}$e"
    done
    export GST_PLUGIN_PATH_1_0="$path${path:+:}$VKCLIP_CHECK_PLUGINS" GST_PLUGIN_SYSTEM_PATH_1_0=
    export GST_REGISTRY_FORK=no GST_REGISTRY="${GST_REGISTRY:-$tmp/gst}.in-process"
fi

is_python=false
case "$(basename "$1")" in python*) is_python=true ;; esac

if [ "${VKCLIP_CHECK_ASAN:-}" = 1 ]; then
    # exitcode=0: the reports decide, below (a GstCheck test that dies early still
    # fails as such).
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$tmp/asan:exitcode=0"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$tmp/ubsan"
    # Full (DWARF) stacks where that is safe, so that the suppressions match
    # (see known_leak below for why not everywhere).
    case " ${VKCLIP_CHECK_SLOW_UNWIND:-} " in
    *" $label "*) export ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=0" ;;
    esac
    # The 1.3.239 layer's synchronization checks leak their own C++ state (14
    # leaks from one run of test_encoder --validation; with the core checks
    # alone, none), in a library unloaded before LeakSanitizer can name it, so
    # no suppression matches. The plain suite runs those checks; here the
    # core checks stay on.
    unset VK_LAYER_ENABLES
    if $is_python && [ "${VKCLIP_CHECK_ASAN_PYTHON:-}" != children ]; then
        export LD_PRELOAD="${VKCLIP_CHECK_ASAN_RUNTIME:?}${LD_PRELOAD:+ $LD_PRELOAD}"
        export ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0"
    fi
fi

reader=
if [ "${VKCLIP_CHECK_VALIDATION:-}" = 1 ]; then
    export VKCLIP_VALIDATION=1 VK_LAYER_SETTINGS_PATH="$tmp"
    mkfifo "$tmp/layer.fifo"
    cat >"$tmp/vk_layer_settings.txt" <<EOF
khronos_validation.report_flags = info,warn,perf,error
khronos_validation.debug_action = VK_DBG_LAYER_ACTION_LOG_MSG
khronos_validation.log_filename = $tmp/layer.fifo
EOF
    # Every process opens the FIFO with fopen("w"): unlike a file it is never
    # truncated, and the reader sees no end until fd 3 closes.
    cat <"$tmp/layer.fifo" >"$tmp/layer.log" &
    reader=$!
    exec 3>"$tmp/layer.fifo"
fi

"$@" 3>&- 2>"$tmp/stderr"
rc=$?
cat "$tmp/stderr" >&2

if [ -n "$reader" ]; then
    exec 3>&-
    for _ in $(seq 50); do kill -0 "$reader" 2>/dev/null || break; sleep 0.1; done
    kill "$reader" 2>/dev/null
    wait "$reader" 2>/dev/null
    # Info is logged only to count the instances the layer ran in (its status
    # message at vkCreateInstance); warnings, performance warnings and errors fail,
    # as they do for the engine's own messenger.
    engine=$(grep -c '^vulkan validation (' "$tmp/stderr")
    instances=$(grep -c 'createinstance-status-message(INFO' "$tmp/layer.log")
    layer=$(grep '): msgNum: ' "$tmp/layer.log" | grep -vc '(INFO / ')
    if [ "$engine" -gt 0 ] || [ "$layer" -gt 0 ]; then
        echo "FAIL $label: Vulkan validation messages: $engine on the test's stderr, $layer in the layer's log" \
             "of all its processes ($instances Vulkan instances with the layer):" >&2
        grep '^vulkan validation (' "$tmp/stderr" | head -20 >&2
        awk '/\): msgNum: / { keep = ($0 !~ /\(INFO \/ /) } keep' "$tmp/layer.log" | head -c 8000 >&2
        problems=1
    else
        echo "ok   $label: no Vulkan validation message on stderr or in the layer's log" \
             "($instances Vulkan instances with the layer)" >&2
    fi
fi

# LeakSanitizer cannot unwind through Debian's GLib (built without frame
# pointers), and its slow unwinder deadlocks in processes where llvmpipe's JIT
# registered EH frames (libgcc's object mutex, taken again by the unwinder's
# malloc). So one leak is known by its shape instead of a suppression: GLib's
# first quark block, g_malloc(16384) in g_quark_init (run by GLib's ELF
# constructor), which GLib drops on purpose when the quark table grows past
# 2048 entries (glib/gquark.c: "This leaks the old quarks array"). Its fast-unwound
# stack is exactly malloc <- g_malloc; a leak of ours has frames of our code after
# g_malloc.
known_leak() { # $1: one leak record
    printf '%s\n' "$1" | awk '
        NR == 1 { ok = ($0 ~ /^Direct leak of 16384 byte\(s\) in 1 object\(s\) allocated from:/) }
        /^ *#[0-9]+ / { n++; if (n == 1 && $0 !~ /malloc/) ok = 0; if (n == 2 && $0 !~ / in g_malloc .*libglib-2\.0\.so/) ok = 0 }
        END { exit !(ok && n == 2) }'
}

if [ "${VKCLIP_CHECK_ASAN:-}" = 1 ]; then
    unset LD_PRELOAD
    known=0 leaks=0 errors=0
    # UBSan (GCC's runtime beside ASan's) ignores log_path and reports on stderr.
    on_stderr=$(grep -c 'runtime error:\|ERROR: AddressSanitizer\|ERROR: LeakSanitizer' "$tmp/stderr")
    if [ "$on_stderr" -gt 0 ]; then
        errors=$((errors + on_stderr))
        echo "FAIL $label: sanitizer reports on stderr:" >&2
        grep -A 16 'runtime error:\|ERROR: AddressSanitizer\|ERROR: LeakSanitizer' "$tmp/stderr" | head -200 >&2
    fi
    for f in "$tmp"/asan.* "$tmp"/ubsan.*; do
        [ -f "$f" ] || continue
        if grep -q 'ERROR: AddressSanitizer\|runtime error:' "$f"; then
            errors=$((errors + 1))
            echo "FAIL $label: $(basename "$f"):" >&2
            cat "$f" >&2
            continue
        fi
        # One record per leak: its header line and its frames, up to a blank line.
        record=
        while IFS= read -r line || [ -n "$record" ]; do
            case "$line" in
            "Direct leak of"* | "Indirect leak of"*) record="$line" ;;
            "") if [ -n "$record" ]; then
                    if known_leak "$record"; then known=$((known + 1)); else
                        leaks=$((leaks + 1))
                        printf 'FAIL %s: leak (%s):\n%s\n\n' "$label" "$(basename "$f")" "$record" >&2
                    fi
                fi
                record= ;;
            *) [ -n "$record" ] && record="$record"$'\n'"$line" ;;
            esac
        done <"$f"
        grep -h 'Suppressions used' -A 20 "$f" | sed "s/^/     $label: /" >&2
    done
    if [ $errors -gt 0 ] || [ $leaks -gt 0 ]; then
        echo "FAIL $label: $errors sanitizer error report(s), $leaks leak(s) (and $known known GLib quark block(s))" >&2
        problems=1
    else
        echo "ok   $label: no ASan/UBSan error, no leak ($known known GLib quark block(s) set aside)" >&2
    fi
fi

if [ $problems -ne 0 ] && { [ $rc -eq 0 ] || [ $rc -eq 77 ]; }; then
    rc=1
fi
exit $rc
