#!/usr/bin/python3
"""Checks clip_torch.py against the golden fixtures (made by OpenAI's code).

  check_against_fixtures.py [FIXTURES_DIR]   (default: $VKCLIP_FIXTURES)

Prints the figures; exits 1 on a failure, 77 (skip) when the fixtures are absent.
"""

import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clip_torch  # noqa: E402

MODELS = ("clip-tiny-f32", "clip-tiny-f16")
MIN_COSINE = 0.999999
MAX_PROB_DIFF = 1e-4
MAX_PIXEL_DIFF = 0.0  # Pillow on both sides: expect identical floats


def cosine(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


class Checker:
    def __init__(self):
        self.failures = 0

    def check(self, ok, line):
        print(("ok   " if ok else "FAIL ") + line)
        if not ok:
            self.failures += 1


def check_model(fixtures, name, c):
    model_dir = os.path.join(fixtures, name)
    with open(os.path.join(model_dir, "reference.json"), encoding="utf-8") as f:
        ref = json.load(f)
    images_dir = os.path.join(fixtures, "images")
    pixels_dir = os.path.join(fixtures, "clip-tiny-f32")  # pixels.f32 live only there
    model = clip_torch.Clip(model_dir, torch.float64)

    c.check(abs(np.exp(model.logit_scale) - ref["logit_scale"]) < 1e-5,
            f"{name}: exp(logit_scale) {np.exp(model.logit_scale):.6f} vs {ref['logit_scale']:.6f}")

    files = [os.path.join(images_dir, im["file"]) for im in ref["images"]]
    for path, im in zip(files, ref["images"]):
        x = clip_torch.preprocess(path, model.preprocess_config)
        want = np.fromfile(os.path.join(pixels_dir, im["file"] + ".pixels.f32"), dtype="<f4")
        diff = float(np.abs(x.numpy().reshape(-1) - want).max()) if want.size == x.numel() else float("inf")
        c.check(diff <= MAX_PIXEL_DIFF, f"{name}: {im['file']} pixels max abs diff {diff:.3g}")
        sum_diff = abs(float(x.double().sum()) - im["pixel_sum"])
        c.check(sum_diff < 1e-3, f"{name}: {im['file']} pixel_sum diff {sum_diff:.3g}")

    with torch.inference_mode():
        img_emb = clip_torch.embed_images(model, files)
        for e, im in zip(img_emb, ref["images"]):
            cos = cosine(e, im["embedding"])
            rel = float(np.abs(e.numpy() - im["embedding"]).max() / np.abs(im["embedding"]).max())
            c.check(cos >= MIN_COSINE, f"{name}: image {im['file']} 1-cosine {1 - cos:.2g} max rel diff {rel:.2g}")

        ids = [t["ids"] for t in ref["texts"]]
        txt_emb = clip_torch.embed_texts(model, ids)
        worst = min(cosine(e, t["embedding"]) for e, t in zip(txt_emb, ref["texts"]))
        c.check(worst >= MIN_COSINE, f"{name}: {len(ids)} texts, worst 1-cosine {1 - worst:.2g}")

        probs = clip_torch.zero_shot_probs(model, img_emb, txt_emb).numpy()
        diff = float(np.abs(probs - np.asarray(ref["probs"])).max())
        c.check(diff <= MAX_PROB_DIFF, f"{name}: probs max abs diff {diff:.3g}")


def main():
    fixtures = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("VKCLIP_FIXTURES", "")
    if not fixtures or not os.path.isdir(os.path.join(fixtures, MODELS[0])):
        print(f"SKIP: fixtures not found (VKCLIP_FIXTURES='{fixtures}')")
        return 77
    torch.set_num_threads(1)
    c = Checker()
    for name in MODELS:
        check_model(fixtures, name, c)
    print("PASS" if c.failures == 0 else f"{c.failures} FAILED")
    return 0 if c.failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
