"""What the Python end-to-end tests (tests/engine, tests/zeroshot, tests/gst) share:
skipping, finding the sources, fixtures and references, running vkclip on
lavapipe, and collecting checks.

Every test script takes the vkclip binary as its first argument and exits
0 (pass), 1 (fail, with the figures printed) or 77 (skip, with the reason).
"""

import importlib
import json
import math
import os
import subprocess
import sys
import time

SKIP = 77
LAVAPIPE_ICD = "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json"


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(SKIP)


def source_root():
    return os.environ.get("VKCLIP_SOURCE_ROOT") or os.path.abspath(
        os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def fixtures_dir():
    """$VKCLIP_FIXTURES, or skip when it is absent."""
    d = os.environ.get("VKCLIP_FIXTURES", "")
    if not d or not os.path.isfile(os.path.join(d, "clip-tiny-f32", "reference.json")):
        skip(f"no golden fixtures (VKCLIP_FIXTURES='{d}' lacks clip-tiny-f32/reference.json)")
    return d


def require_modules(*names):
    """Imports the named modules, or skips naming those missing: Debian's
    /usr/bin/python3 has them, the pyenv python3 on PATH does not."""
    missing = []
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        skip(f"{sys.executable} lacks {', '.join(missing)}; run with Debian's /usr/bin/python3")


def gst_on_lavapipe():
    """python3-gst with GstVideo and GstApp loaded (or skip), and lavapipe
    unless the caller chose a Vulkan driver. Returns the Gst module."""
    try:
        import gi
        gi.require_version("Gst", "1.0")
        gi.require_version("GstVideo", "1.0")
        gi.require_version("GstApp", "1.0")
        from gi.repository import Gst, GstApp, GstVideo  # noqa: F401  (GstApp: appsink's methods)
    except (ImportError, ValueError) as exc:
        skip(f"no python3-gst-1.0 ({exc})")
    if "VK_ICD_FILENAMES" not in os.environ and os.path.exists(LAVAPIPE_ICD):
        os.environ["VK_ICD_FILENAMES"] = LAVAPIPE_ICD
    return Gst


def clip_json_module():
    """pipelines/clip-json.py as a module (its name has a dash). Its
    find_plugin_path is the one rule for finding the built plugin."""
    import importlib.util
    path = os.path.join(source_root(), "pipelines", "clip-json.py")
    spec = importlib.util.spec_from_file_location("clip_json", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def reference_module(name):
    """scripts/reference/NAME.py (clip_torch, tokenizer), after checking
    for numpy, torch and Pillow, or skip."""
    require_modules("numpy", "torch", "PIL.Image")
    folder = os.path.join(source_root(), "scripts", "reference")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module(name)


def quiet(main, argv):
    """Runs a script's main(argv) in this process (a generator, a reference);
    returns what it printed instead of printing it."""
    import contextlib
    import io
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(argv)
    return out.getvalue()


def logit_scale(model_dir):
    """exp(logit_scale) of a checkpoint, read by the PyTorch reference's
    safetensors reader (not by vkclip)."""
    tensors = reference_module("clip_torch").read_safetensors(os.path.join(model_dir, "model.safetensors"))
    return math.exp(float(tensors["logit_scale"].reshape(-1)[0]))


def prepare_vkclip(vkclip):
    """Fails unless the binary runs; selects lavapipe unless a Vulkan driver
    was chosen."""
    if not os.access(vkclip, os.X_OK):
        print(f"FAIL: vkclip binary '{vkclip}' is not executable")
        sys.exit(1)
    if "VK_ICD_FILENAMES" not in os.environ and os.path.exists(LAVAPIPE_ICD):
        os.environ["VK_ICD_FILENAMES"] = LAVAPIPE_ICD


class Run:
    """One finished vkclip invocation (stdout/stderr decoded as UTF-8)."""

    def __init__(self, argv, rc, stdout, stderr, seconds):
        self.argv, self.rc, self.stdout, self.stderr, self.seconds = argv, rc, stdout, stderr, seconds

    def describe(self):
        cmd = " ".join(a if isinstance(a, str) else repr(a) for a in self.argv[1:])
        return f"`vkclip {cmd[:300]}` -> rc {self.rc}, stderr {self.stderr.strip()[:600]!r}"

    def json_lines(self):
        """The JSON lines of stdout; [] (and the bad line printed) when one
        is not JSON, so that the caller's count check fails."""
        out = []
        for line in self.stdout.splitlines():
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError as exc:
                    print(f"     not JSON ({exc}): {line[:300]!r}")
                    return []
        return out

    def error_lines(self):
        """vkclip's own error lines: each error is one 'vkclip: ' line."""
        return [line for line in self.stderr.splitlines() if line.startswith("vkclip: ")]


def run_vkclip(vkclip, args, env=None, timeout=180):
    """Runs vkclip (args may be str or bytes; an env value of None removes
    that variable); a timeout gives rc None, never an exception."""
    argv = [vkclip] + [a if isinstance(a, bytes) else str(a) for a in args]
    full_env = dict(os.environ)
    for k, v in (env or {}).items():
        if v is None:
            full_env.pop(k, None)
        else:
            full_env[k] = v
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, capture_output=True, env=full_env, timeout=timeout)
        rc, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as exc:
        rc, out, err = None, exc.stdout or b"", (exc.stderr or b"") + f"\ntimed out after {timeout} s".encode()
    return Run(argv, rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
               time.monotonic() - t0)


def norm(a):
    return math.sqrt(sum(float(x) ** 2 for x in a))


def cosine(a, b):
    """Cosine of two vectors, in float64; NaN when one is zero."""
    dot = sum(float(x) * float(y) for x, y in zip(a, b))
    na, nb = norm(a), norm(b)
    if na == 0 or nb == 0:
        return float("nan")
    return dot / (na * nb)


class Checker:
    """Collects failures; prints each check with its figures."""

    def __init__(self):
        self.failures = 0
        self.checks = 0
        self.t0 = time.monotonic()

    def check(self, ok, what):
        self.checks += 1
        print(("ok   " if ok else "FAIL ") + what, flush=True)
        if not ok:
            self.failures += 1
        return ok

    def check_run(self, run, what):
        """The run exited 0; says why not."""
        return self.check(run.rc == 0, f"{what}: {run.describe() if run.rc != 0 else 'rc 0'}")

    def finish(self):
        print(f"{self.checks - self.failures}/{self.checks} checks passed "
              f"in {time.monotonic() - self.t0:.1f} s")
        sys.exit(1 if self.failures else 0)
