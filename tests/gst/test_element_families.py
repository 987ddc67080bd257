#!/usr/bin/python3
"""The `clip` element on the families beyond CLIP, through real GStreamer
pipelines, against the PyTorch references written from the architectures:

  * DINOv2 with registers (scripts/make_random_dinov2.py): the element's
    L2-normalised embedding (embedding=true, no labels) against
    scripts/reference/dinov2_torch.py: cosine >= 0.9999;
  * SigLIP (scripts/make_random_siglip.py): the embedding against
    scripts/reference/siglip_torch.py (>= 0.9999), and with labels, template
    "{}" and top-k every label, each score within 1e-3 of the reference's
    sigmoid(exp(logit_scale) * cos + logit_bias): independent probabilities,
    which need not sum to 1; the same for SigLIP 2 of fixed resolution
    (Gemma's tokenizer, bilinear resize).

Frames: an odd-sized RGB PNG through `filesrc ! pngdec ! videoconvert !
video/x-raw,format=RGB ! clip ! appsink` (test_element_reference.py's
chain). Exit 0 pass, 1 fail, 77 skip (no torch/numpy/Pillow, python3-gst,
sentencepiece or clip element).
"""

import json
import os
import shutil
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import testlib  # noqa: E402
import test_element_reference as ter  # noqa: E402 -- its pipeline helpers

COSINE = 0.9999
SCORE_TOLERANCE = 1e-3
LABELS = ["a photo of a cat", "a red car", "noise", "a blue sky"]


def check_siglip(c, siglip_torch, make_random_siglip, siglip, name, extra, png):
    testlib.quiet(make_random_siglip.main, ["--out", siglip, "--image-size", "64", "--seed", "6"] + extra)
    ref = json.loads(testlib.quiet(siglip_torch.main, ["embed-image", "--model", siglip, png]))["embedding"]
    argv = ["probs", "--model", siglip] + [a for label in LABELS for a in ("--text", label)] + [png]
    probs = dict(zip(LABELS, json.loads(testlib.quiet(siglip_torch.main, argv))["probs"]))
    props = {"model": siglip, "embedding": True, "labels": ";".join(LABELS), "templates": "{}",
             "top-k": len(LABELS)}
    msg = ter.one_message(c, f"{name} RGB", ter.run_png(png, "video/x-raw,format=RGB", props))
    if msg:
        cos = testlib.cosine(msg["embedding"], ref)
        c.check(cos >= COSINE, f"{name} through the element: cosine {cos:.7f} (>= {COSINE})")
        got = dict(zip(msg.get("labels", []), msg.get("scores", [])))
        worst = max((abs(got[k] - probs[k]) for k in LABELS if k in got), default=1.0)
        c.check(sorted(got) == sorted(LABELS) and worst <= SCORE_TOLERANCE,
                f"{name} scores through the element: {len(got)} labels, largest difference from the reference "
                f"{worst:.1e} (<= {SCORE_TOLERANCE}); they sum to {sum(got.values()):.3f}: {got}")


def main():
    testlib.require_modules("numpy", "torch", "PIL.Image", "gi", "sentencepiece")
    Gst = testlib.gst_on_lavapipe()
    workdir = tempfile.mkdtemp(prefix="vkclip element families ")
    os.environ["VKCLIP_CACHE_DIR"] = os.path.join(workdir, "cache")
    testlib.clip_json_module().find_plugin_path()
    Gst.init(None)
    if Gst.ElementFactory.find("clip") is None:
        shutil.rmtree(workdir, ignore_errors=True)
        testlib.skip("no clip element")
    dinov2_torch = testlib.reference_module("dinov2_torch")
    siglip_torch = testlib.reference_module("siglip_torch")
    sys.path.insert(0, os.path.join(testlib.source_root(), "scripts"))
    import make_random_dinov2
    import make_random_siglip
    import numpy as np
    from PIL import Image

    c = testlib.Checker()
    try:
        rng = np.random.default_rng(4)
        y, x = np.mgrid[0:223, 0:331].astype(np.float64)
        frame = np.stack([255 * x / 330, 127.5 + 127.5 * np.sin(x / 11 + y / 17), 255 * y / 222], -1)
        frame += rng.normal(0, 8, frame.shape)
        png = os.path.join(workdir, "frame-331x223.png")
        Image.fromarray(np.clip(frame, 0, 255).astype(np.uint8), "RGB").save(png)

        dinov2 = os.path.join(workdir, "dinov2")
        testlib.quiet(make_random_dinov2.main, ["--out", dinov2, "--registers", "2", "--seed", "5"])
        ref = json.loads(testlib.quiet(dinov2_torch.main, ["--model", dinov2, png]))["embedding"]
        msg = ter.one_message(c, "DINOv2 RGB", ter.run_png(png, "video/x-raw,format=RGB",
                                                           {"model": dinov2, "embedding": True}))
        if msg:
            cos = testlib.cosine(msg["embedding"], ref)
            c.check(cos >= COSINE, f"DINOv2 with registers through the element: cosine {cos:.7f} (>= {COSINE})")

        for name, extra in (("SigLIP", []), ("SigLIP 2", ["--tokenizer", "gemma"])):
            check_siglip(c, siglip_torch, make_random_siglip, os.path.join(workdir, name.replace(" ", "")), name,
                         extra, png)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
