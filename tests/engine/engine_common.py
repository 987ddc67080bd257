"""What the engine tests share: running vkclip, the references, the checks.

Every test script takes the vkclip binary as its first argument and exits
0 (pass), 1 (fail, with the figures printed) or 77 (skip, with the reason).
"""

import json
import math
import os
import subprocess
import sys

SKIP = 77
LAVAPIPE_ICD = "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json"
VALIDATION_LAYER_JSON = "/usr/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json"

# CLIP's mean/std; preprocessed tensors are compared after undoing them.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(SKIP)


def _missing(modules):
    import importlib.util
    return [m for m in modules if importlib.util.find_spec(m) is None]


def require_numpy():
    if _missing(["numpy"]):
        skip(f"{sys.executable} has no numpy (run with Debian's /usr/bin/python3)")


def require_torch():
    """Imports scripts/reference/clip_torch.py (PyTorch + Pillow), or skips."""
    missing = _missing(["numpy", "torch", "PIL"])
    if missing:
        skip(f"{sys.executable} lacks {', '.join(missing)}; use Debian's /usr/bin/python3")
    sys.path.insert(0, os.path.join(source_root(), "scripts", "reference"))
    import clip_torch
    return clip_torch


def source_root():
    return os.environ.get("VKCLIP_SOURCE_ROOT") or os.path.abspath(
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def fixtures_dir():
    """$VKCLIP_FIXTURES, or skip when it is absent."""
    d = os.environ.get("VKCLIP_FIXTURES", "")
    if not d or not os.path.isfile(os.path.join(d, "clip-tiny-f32", "reference.json")):
        skip(f"no golden fixtures (VKCLIP_FIXTURES='{d}' lacks clip-tiny-f32/reference.json)")
    return d


def setup_environment(vkclip):
    """Checks the binary and selects lavapipe unless a driver was chosen."""
    if not os.access(vkclip, os.X_OK):
        print(f"FAIL: vkclip binary '{vkclip}' is not executable")
        sys.exit(1)
    if "VK_ICD_FILENAMES" not in os.environ and os.path.exists(LAVAPIPE_ICD):
        os.environ["VK_ICD_FILENAMES"] = LAVAPIPE_ICD


class Run:
    """One finished vkclip invocation."""

    def __init__(self, argv, proc, seconds):
        self.argv = argv
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.seconds = seconds

    def describe(self):
        cmd = " ".join(self.argv)
        return f"`{cmd}` -> rc {self.rc}, stderr: {self.stderr.strip()[:600]!r}"


def run_vkclip(vkclip, args, env=None, timeout=120):
    """Runs vkclip; a timeout counts as rc None (never raises)."""
    import time
    argv = [vkclip] + [str(a) for a in args]
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    t0 = time.monotonic()
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, env=full_env,
                              timeout=timeout, errors="replace")
    except subprocess.TimeoutExpired as exc:
        class Timed:
            returncode = None
            stdout = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            stderr = f"timed out after {timeout} s"
        proc = Timed()
    return Run(argv, proc, time.monotonic() - t0)


def parse_json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def cosine(a, b):
    """Cosine of two vectors, in float64."""
    dot = sum(float(x) * float(y) for x, y in zip(a, b))
    na = math.sqrt(sum(float(x) ** 2 for x in a))
    nb = math.sqrt(sum(float(y) ** 2 for y in b))
    if na == 0 or nb == 0:
        return float("nan")
    return dot / (na * nb)


def norm(a):
    return math.sqrt(sum(float(x) ** 2 for x in a))


class Checker:
    """Collects failures; prints each check with its figures."""

    def __init__(self):
        self.failures = 0
        self.checks = 0

    def check(self, ok, what):
        self.checks += 1
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            self.failures += 1
        return ok

    def finish(self):
        print(f"{self.checks - self.failures}/{self.checks} checks passed")
        sys.exit(1 if self.failures else 0)


def compare_pixels(ours, ref, mean=CLIP_MEAN, std=CLIP_STD):
    """Both float32 CHW tensors (numpy) with mean/std applied. Returns
    (fraction within 1/255, max abs difference in 1/255 units, fraction of
    exactly equal 8-bit levels), all in [0,1] units after undoing mean/std."""
    import numpy as np
    m = np.asarray(mean, dtype=np.float64)[:, None, None]
    s = np.asarray(std, dtype=np.float64)[:, None, None]
    a = ours.astype(np.float64) * s + m
    b = ref.astype(np.float64) * s + m
    diff = np.abs(a - b) * 255
    within1 = float(np.mean(diff <= 1 + 1e-3))
    exact = float(np.mean(np.rint(a * 255) == np.rint(b * 255)))
    return within1, float(diff.max()), exact


def check_pixels(c, label, ours, ref, mean=CLIP_MEAN, std=CLIP_STD):
    """The fixtures' tolerance: >= 99% within 1/255, all within 3/255."""
    if ours.shape != ref.shape:
        return c.check(False, f"{label}: preprocess shape {ours.shape} != reference {ref.shape}")
    within1, maxdiff, exact = compare_pixels(ours, ref, mean, std)
    return c.check(within1 >= 0.99 and maxdiff <= 3 + 1e-3,
                   f"{label}: pixels within 1/255 {within1 * 100:.3f}% (>= 99%), "
                   f"max diff {maxdiff:.3f}/255 (<= 3), exact {exact * 100:.3f}%")


def file_size(path):
    return os.path.getsize(path) if os.path.isfile(path) else "no file,"


def read_f32(path, shape):
    import numpy as np
    if not os.path.isfile(path):
        return None
    data = np.fromfile(path, dtype="<f4")
    count = int(np.prod(shape))
    if data.size != count:
        return None
    return data.reshape(shape)


def run_main(main):
    """Runs a test's main(): an unexpected exception is a failure (exit 1)
    with its traceback, never a pass."""
    try:
        main()
    except SystemExit:
        raise
    except Exception:  # noqa: BLE001 - any crash of the test is a failure
        import traceback
        traceback.print_exc()
        print("FAIL: the test stopped on an unexpected error")
        sys.exit(1)
