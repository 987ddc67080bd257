#!/usr/bin/env python3
"""Runs the test suite from a bundle made by scripts/make-gpu-bundle.sh, on
the Vulkan driver VK_ICD_FILENAMES names (bench/gpu-check.sh sets the GPU's).

  gpu_check_tests.py BUNDLE [--suite S]... [--skip NAME]... [--jobs N] [--logs DIR]

The bundle holds `meson introspect --tests` of the build it was made from;
each test's command line and environment name the build machine's paths, which
are rewritten to the bundle's (programs, fixtures) and to this checkout (the
test scripts). Python tests run with this interpreter. Prints a line a test
and ends with "N passed, N failed, N skipped"; exit status 1 when any failed.
"""
import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import time

SKIP = 77  # meson's exit status for a skipped test
DEFAULT_SUITES = ["engine", "model", "image", "text", "zeroshot", "util", "reference"]


def rewriter(bundle, source_root, build_root, checkout):
    """A function that maps one argument or value from the build machine's
    paths to this machine's, longest prefix first."""
    pairs = [
        (os.path.normpath(os.path.join(source_root, "..", "shared")), os.path.join(bundle, "shared")),
        (build_root, os.path.join(bundle, "build")),
        (source_root, checkout),
    ]

    def rewrite(value):
        if value in ("/usr/bin/python3", "python3"):
            return sys.executable
        if value.startswith("/") and ":" not in value:
            value = os.path.normpath(value)  # build/../tests is the source tree's
        for old, new in pairs:
            value = value.replace(old, new)
        return value

    return rewrite


def run_test(test, rewrite, bundle):
    cmd = [rewrite(a) for a in test["cmd"]]
    env = dict(os.environ)
    env.update({k: rewrite(v) for k, v in (test.get("env") or {}).items()})
    cwd = rewrite(test["workdir"]) if test.get("workdir") else os.path.join(bundle, "build")
    timeout = min(test.get("timeout") or 30, 300)  # sized for 2 CPU cores; a GPU machine is faster
    start = time.monotonic()
    try:
        r = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        status, output = r.returncode, r.stdout
    except subprocess.TimeoutExpired as e:
        status, output = "timeout", e.stdout or b""
    except OSError as e:
        status, output = "not run", str(e).encode()
    seconds = time.monotonic() - start
    verdict = "OK" if status == 0 else "SKIP" if status == SKIP else "FAIL"
    tail = output.decode(errors="replace").strip().splitlines()[-1:] if verdict == "FAIL" else []
    return test["name"], verdict, seconds, status, tail, output


def run_guarded(test, rewrite, bundle):
    """run_test, with an error of the runner itself counted as the test's failure."""
    try:
        return run_test(test, rewrite, bundle)
    except Exception as e:  # noqa: BLE001 - one broken test must not stop the others' report
        return test["name"], "FAIL", 0.0, "runner error", [repr(e)], repr(e).encode()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle")
    ap.add_argument("--suite", action="append", help="a suite to run (default: %s)" % ", ".join(DEFAULT_SUITES))
    ap.add_argument("--skip", action="append", default=[], help="a test not to run (reported as skipped)")
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--logs", help="a folder for failed-tests.log, the output of every failed test")
    args = ap.parse_args()
    bundle = os.path.abspath(args.bundle)
    with open(os.path.join(bundle, ".bundle-root")) as f:
        source_root, build_root = f.read().split("\n")[:2]
    checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    rewrite = rewriter(bundle, source_root, build_root, checkout)
    suites = ["vkclip:" + s for s in (args.suite or DEFAULT_SUITES)]
    with open(os.path.join(bundle, "tests.json")) as f:
        tests = [t for t in json.load(f) if any(s in suites for s in t["suite"])]
    if args.logs:
        os.makedirs(args.logs, exist_ok=True)
    counts = {"OK": 0, "FAIL": 0, "SKIP": 0}
    for name in args.skip:
        if any(t["name"] == name for t in tests):
            counts["SKIP"] += 1
            print(f"SKIP {name:40}    not run (--skip)")
    tests = [t for t in tests if t["name"] not in args.skip]
    log = open(os.path.join(args.logs, "failed-tests.log"), "wb") if args.logs else None
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for name, verdict, seconds, status, tail, output in pool.map(lambda t: run_guarded(t, rewrite, bundle), tests):
            counts[verdict] += 1
            if verdict == "FAIL" and log:
                log.write(f"==== {name} (exit {status})\n".encode() + output + b"\n")
            print(f"{verdict:4} {name:40} {seconds:7.1f} s" + (f"  (exit {status}) {tail[0][:150]}" if tail else ""),
                  flush=True)
    if log:
        log.close()
    print(f"{counts['OK']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped")
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
