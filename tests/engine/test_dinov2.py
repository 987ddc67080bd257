#!/usr/bin/python3
"""vkclip on random DINOv2 models (scripts/make_random_dinov2.py), with and
without register tokens, against the PyTorch reference written from the
architecture (scripts/reference/dinov2_torch.py, float64, Pillow
preprocessing as BitImageProcessor does it): embeddings at inputs that keep,
shrink and enlarge the position grid (plain bicubic for Dinov2Model,
antialiased for the registers model), the SwiGLU MLP of DINOv2 giant,
F32/F16/BF16 weights, fp16 activations; the archive commands on it (index through the element, search
by image); and the errors an image-only model gives for text.

  test_dinov2.py VKCLIP
"""

import argparse
import os
import shutil
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine_common as ec  # noqa: E402 -- it also puts tests/ on sys.path
import testlib  # noqa: E402

# (name, generator options): position grid (image-size / patch) against the
# input's grid (crop / patch).
MODELS = [
    ("plain-37to16-f32", ["--width", "64", "--heads", "4", "--layers", "2", "--dtype", "F32"]),
    ("reg4-37to16-f16", ["--width", "64", "--heads", "4", "--layers", "2", "--registers", "4", "--dtype", "F16"]),
    ("plain-16to16-bf16", ["--width", "48", "--heads", "3", "--layers", "2", "--image-size", "224",
                           "--dtype", "BF16"]),
    ("reg2-14to7-mlp2.5-f32", ["--width", "48", "--heads", "3", "--layers", "3", "--registers", "2",
                               "--mlp-ratio", "2.5", "--image-size", "196", "--shortest-edge", "112",
                               "--crop", "98", "--dtype", "F32"]),
    ("plain-8to16-f32", ["--width", "32", "--heads", "2", "--layers", "1", "--image-size", "112",
                         "--dtype", "F32"]),
    ("reg1-8to16-f32", ["--width", "32", "--heads", "2", "--layers", "1", "--image-size", "112",
                        "--registers", "1", "--dtype", "F32"]),
    # DINOv2 giant's SwiGLU MLP (weights_in, silu(first half) * second half, weights_out)
    ("swiglu-reg2-37to16-f32", ["--width", "48", "--heads", "3", "--layers", "2", "--swiglu", "--registers", "2",
                                "--dtype", "F32"]),
    ("swiglu-37to16-f16", ["--width", "64", "--heads", "4", "--layers", "1", "--swiglu", "--dtype", "F16"]),
]


def make_model(generator, folder, name, extra, seed):
    out = os.path.join(folder, name)
    testlib.quiet(generator.main, ["--out", out, "--seed", str(seed)] + extra)
    return out


def make_images(folder):
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(5)
    paths = []

    def save(name, arr, mode="RGB"):
        path = os.path.join(folder, name)
        Image.fromarray(arr, mode).save(path)
        paths.append(path)

    y, x = np.mgrid[0:240, 0:320].astype(np.float64)
    smooth = np.stack([255 * x / 319, 127.5 + 127.5 * np.sin(x / 17 + y / 23), 255 * y / 239], -1)
    save("smooth-320x240.png", np.clip(smooth + rng.normal(0, 10, smooth.shape), 0, 255).astype(np.uint8))
    save("noise-180x260.png", rng.integers(0, 256, (260, 180, 3), dtype=np.uint8))
    blocks = np.zeros((300, 300, 3), np.uint8)
    for _ in range(12):
        x0, y0 = rng.integers(0, 260, 2)
        blocks[y0:y0 + 40, x0:x0 + 40] = rng.integers(0, 256, 3)
    save("blocks-300x300.png", blocks)
    save("grey-97x131.png", rng.integers(0, 256, (131, 97), dtype=np.uint8), "L")
    return paths


def check_model(c, vkclip, dinov2_torch, model, name, images):
    import torch
    with torch.inference_mode():
        ref_model = dinov2_torch.Dinov2(model, torch.float64)
        pcfg = dinov2_torch.load_preprocessor_config(model)
        ref = [ref_model.forward(dinov2_torch.preprocess(p, pcfg)[None])[0].tolist() for p in images]
    for precision, extra, need, strict, norm_tol in ec.PRECISIONS:
        label = f"{name} {precision}"
        lines = ec.embed_image(c, vkclip, model, images, ["--raw"] + extra, label, timeout=300)
        if lines is not None:
            ec.check_embeddings(c, label, [ln["embedding"] for ln in lines], ref, need, strict, norm_tol, "images")


def check_info(c, vkclip, model, name, cfg, registers):
    r = ec.run_vkclip(vkclip, ["info", "--model", model])
    family = "dinov2_with_registers" if registers else "dinov2"
    mlp = int(cfg["hidden_size"] * cfg["mlp_ratio"])
    if cfg.get("use_swiglu_ffn"):  # the gated half's width, as Dinov2SwiGLUFFN rounds it
        mlp = (int(mlp * 2 / 3) + 7) // 8 * 8
    want = [f"family: {family}", "text: none",
            f"vision: width {cfg['hidden_size']}, layers {cfg['num_hidden_layers']}, heads "
            f"{cfg['num_attention_heads']}, mlp {mlp}"]
    missing = [w for w in want if w not in r.stdout]
    c.check(r.rc == 0 and not missing, f"{name}: info shows {want}" + (f" -- missing {missing}: {r.stdout!r}"
                                                                      if missing else ""))


def check_errors(c, vkclip, tmp, model, image):
    """An image-only model refuses text with one line saying why, and a model
    without its preprocessor_config.json is refused, naming it."""
    r = ec.run_vkclip(vkclip, ["classify", "--model", model, "--labels", "cat,dog", image])
    err = r.stderr.strip().splitlines()
    c.check(r.rc == 1 and len(err) == 1 and "no text tower" in err[0] and model in err[0],
            f"classify on DINOv2: exit 1 with one line naming the model and 'no text tower': {r.describe()}")
    bare = os.path.join(tmp, "no-preprocessor")
    shutil.copytree(model, bare)
    os.remove(os.path.join(bare, "preprocessor_config.json"))
    r = ec.run_vkclip(vkclip, ["embed-image", "--model", bare, image])
    err = r.stderr.strip().splitlines()
    c.check(r.rc == 1 and len(err) == 1 and "preprocessor_config.json: missing" in err[0],
            f"DINOv2 without preprocessor_config.json: exit 1, one line naming it: {r.describe()}")


def check_archive(c, vkclip, model, tmp):
    """index (the element with embedding=true), search by image and dedup on
    two videos GStreamer draws; a text query is refused. The right answer is
    what was drawn: a frame of the second video finds the second video."""
    import subprocess
    if not shutil.which("gst-launch-1.0"):
        c.check(False, "gst-launch-1.0 is missing")
        return
    videos = []
    # Raw I420 in AVI: no codec library needed, so this runs where only
    # GStreamer's base and good plugins are (bench/gpu-check.sh's bundle).
    for name, pattern in (("bars.avi", "smpte"), ("ball.avi", "ball")):
        path = os.path.join(tmp, name)
        subprocess.run(["gst-launch-1.0", "-q", "videotestsrc", "num-buffers=60", f"pattern={pattern}", "!",
                        "video/x-raw,format=I420,width=320,height=240,framerate=30/1", "!", "avimux",
                        "!", "filesink", f"location={path}"], check=True, timeout=120)
        videos.append(path)
    frame = os.path.join(tmp, "ball-frame.png")
    subprocess.run(["gst-launch-1.0", "-q", "filesrc", f"location={videos[1]}", "!", "decodebin", "!",
                    "videoconvert", "!", "pngenc", "snapshot=true", "!", "filesink", f"location={frame}"],
                   check=True, timeout=120)
    db = os.path.join(tmp, "dinov2.db")
    r = ec.run_vkclip(vkclip, ["index", "--db", db, "--model", model] + videos, timeout=300)
    lines = ec.parse_json_lines(r.stdout) if r.rc == 0 else []
    c.check(r.rc == 0 and [ln.get("status") for ln in lines] == ["indexed", "indexed"],
            f"index with DINOv2: both videos indexed: {r.describe()}")
    r = ec.run_vkclip(vkclip, ["search", "--db", db, "--image", frame, "--json", "--top", "2"])
    hits = ec.parse_json_lines(r.stdout) if r.rc == 0 else []
    c.check(r.rc == 0 and hits and hits[0].get("video") == videos[1],
            f"search --image with a frame of ball.avi: ball.avi first: {hits[:2]} {r.describe()}")
    r = ec.run_vkclip(vkclip, ["search", "--db", db, "a ball"])
    c.check(r.rc == 1 and "no text tower" in r.stderr, f"text search on a DINOv2 archive refused: {r.describe()}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vkclip")
    args = ap.parse_args()
    dinov2_torch = testlib.reference_module("dinov2_torch")
    testlib.prepare_vkclip(args.vkclip)
    sys.path.insert(0, os.path.join(testlib.source_root(), "scripts"))
    import make_random_dinov2
    import torch
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    c = testlib.Checker()
    with tempfile.TemporaryDirectory(prefix="vkclip-dinov2-") as tmp:
        images = make_images(tmp)
        for seed, (name, extra) in enumerate(MODELS, start=11):
            model = make_model(make_random_dinov2, tmp, name, extra, seed)
            cfg = dinov2_torch.load_config(model)
            check_info(c, args.vkclip, model, name, cfg, "--registers" in extra)
            check_model(c, args.vkclip, dinov2_torch, model, name, images)
        check_errors(c, args.vkclip, tmp, os.path.join(tmp, MODELS[0][0]), images[0])
        check_archive(c, args.vkclip, os.path.join(tmp, MODELS[1][0]), tmp)
    return c.finish()


if __name__ == "__main__":
    ec.run_main(main)
