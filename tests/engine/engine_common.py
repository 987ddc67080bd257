"""What only the engine tests share: their run timeout, JSON lines that must
parse, pixel comparisons, float32 files and the crash guard. What all the
Python end-to-end tests share is in ../testlib.py, put on sys.path here.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import testlib  # noqa: E402

VALIDATION_LAYER_JSON = "/usr/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json"

# CLIP's mean/std; preprocessed tensors are compared after undoing them.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def run_vkclip(vkclip, args, env=None, timeout=120):
    """testlib.run_vkclip with this suite's default of 120 s a run."""
    return testlib.run_vkclip(vkclip, args, env=env, timeout=timeout)


def parse_json_lines(text):
    """Raises ValueError on a line that is not JSON (the caller reports it)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def embed_image(c, vkclip, model, paths, extra, label, timeout=120, env=None):
    """Runs embed-image on paths; checks one JSON line per image with the file
    field as given. Returns the parsed lines, or None after a failure."""
    r = run_vkclip(vkclip, ["embed-image", "--model", model] + extra + list(paths), env=env, timeout=timeout)
    if not c.check(r.rc == 0, f"{label}: embed-image exits 0 ({r.seconds:.2f} s)"
                   + ("" if r.rc == 0 else " " + r.describe())):
        return None
    try:
        lines = parse_json_lines(r.stdout)
    except ValueError as exc:
        c.check(False, f"{label}: output is JSON lines ({exc}): {r.stdout[:300]!r}")
        return None
    if not c.check(len(lines) == len(paths), f"{label}: {len(lines)} lines for {len(paths)} images"):
        return None
    for line, path in zip(lines, paths):
        c.check(line.get("file") == path, f"{label}: file field {line.get('file')!r} == path as given {path!r}")
    return lines


# Embeddings against a float64 reference: fp32 activations must give
# 1 - cos below STRICT_F32 (the random models of the family tests reach
# 1e-13; a wrong activation or a few wrong position rows give 1e-9 and more),
# fp16 activations cos >= COS_F16; norms within 1e-4 and 2e-2.
PRECISIONS = (("f32", [], 0.99999, 1e-10, 1e-4), ("f16", ["--precision", "f16"], 0.9995, 1.0, 2e-2))


def check_embeddings(c, label, got, ref, need, strict, norm_tol, what):
    """One check over every embedding: the worst cosine (>= need, and
    1 - cos < strict) and the worst relative norm error (<= norm_tol)."""
    if not c.check(len(got) == len(ref) and all(len(e) == len(r) for e, r in zip(got, ref)),
                   f"{label}: {len(got)} embeddings of {[len(e) for e in got][:1]} values, reference "
                   f"{len(ref)} of {[len(r) for r in ref][:1]}"):
        return
    worst_cos = min(testlib.cosine(e, r) for e, r in zip(got, ref))
    worst_norm = max(abs(testlib.norm(e) - testlib.norm(r)) / testlib.norm(r) for e, r in zip(got, ref))
    c.check(worst_cos >= need and 1 - worst_cos < strict and worst_norm <= norm_tol,
            f"{label}: {len(got)} {what}, 1-cos {1 - worst_cos:.2e} (need cos >= {need}"
            + (f", 1-cos < {strict:g}" if strict < 1 else "") + f"), max norm error {worst_norm:.1e}")


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
