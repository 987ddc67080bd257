#!/usr/bin/python3
"""preprocessor_config.json with size {"height": H, "width": W} (issue 8,
item 8). transformers' CLIPImageProcessor resizes straight to H x W there
(the aspect not kept, the configured resample), then takes crop_size from
the centre when do_center_crop. `vkclip preprocess` on the fixture images
must equal Pillow's Image.resize((W, H), BICUBIC), the floor centre crop,
/255 and mean/std, computed here, to the fixtures' tolerances; square and
non-square sizes, larger and smaller than the image, with and without the
crop. A size that does not end as the model's image_size square is an error
naming preprocessor_config.json; so is a resize smaller than the crop.

  test_size_hw.py VKCLIP
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine_common as ec  # noqa: E402 -- it also puts tests/ on sys.path
import testlib  # noqa: E402

SIDE = 224  # the fixture model's image_size
# (height, width, do_center_crop)
SIZES = [(224, 224, True), (224, 224, False), (256, 320, True), (320, 256, True), (300, 224, True),
         (224, 641, True), (999, 230, True), (225, 224, True)]
# (height, width, do_center_crop, words the error must have)
BAD = [(200, 224, False, ("image_size", "do_center_crop")), (224, 256, False, ("image_size",)),
       (200, 300, True, ("smaller", "crop"))]


def pillow_reference(path, h, w, crop):
    import numpy as np
    from PIL import Image
    img = Image.open(path).convert("RGB").resize((w, h), resample=Image.BICUBIC)
    if crop:
        top, left = (h - SIDE) // 2, (w - SIDE) // 2
        img = img.crop((left, top, left + SIDE, top + SIDE))
    x = np.asarray(img, dtype=np.uint8).astype(np.float32).transpose(2, 0, 1) / np.float32(255)
    mean = np.array(ec.CLIP_MEAN, dtype=np.float32)[:, None, None]
    std = np.array(ec.CLIP_STD, dtype=np.float32)[:, None, None]
    return (x - mean) / std


def model_with_size(tmp, src, h, w, crop):
    d = os.path.join(tmp, f"size-{h}x{w}-{'crop' if crop else 'nocrop'}")
    os.makedirs(d)
    for f in ("config.json", "vocab.json", "merges.txt", "model.safetensors"):
        os.symlink(os.path.join(src, f), os.path.join(d, f))
    with open(os.path.join(src, "preprocessor_config.json"), encoding="utf-8") as f:
        pp = json.load(f)
    pp["size"] = {"height": h, "width": w}
    pp["do_center_crop"] = crop
    with open(os.path.join(d, "preprocessor_config.json"), "w", encoding="utf-8") as f:
        json.dump(pp, f)
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vkclip")
    args = ap.parse_args()
    fixtures = testlib.fixtures_dir()
    testlib.prepare_vkclip(args.vkclip)
    src = os.path.join(fixtures, "clip-tiny-f32")
    images = [os.path.join(fixtures, "images", n) for n in ("chelsea.png", "coffee.png")]
    c = testlib.Checker()
    with tempfile.TemporaryDirectory(prefix="vkclip-size-hw-") as tmp:
        out = os.path.join(tmp, "pixels.f32")
        for (h, w, crop) in SIZES:
            d = model_with_size(tmp, src, h, w, crop)
            for path in images:
                label = f"size {h}x{w} (HxW){' + crop' if crop else ''}, {os.path.basename(path)}"
                if os.path.exists(out):
                    os.remove(out)
                r = ec.run_vkclip(args.vkclip, ["preprocess", "--model", d, "--out", out, path])
                if not c.check_run(r, f"{label}: preprocess"):
                    continue
                ours = ec.read_f32(out, (3, SIDE, SIDE))
                if c.check(ours is not None, f"{label}: a 3x{SIDE}x{SIDE} tensor ({ec.file_size(out)} bytes)"):
                    ec.check_pixels(c, label, ours, pillow_reference(path, h, w, crop))
        for (h, w, crop, words) in BAD:
            d = model_with_size(tmp, src, h, w, crop)
            label = f"bad size {h}x{w} (HxW){' + crop' if crop else ''}"
            r = ec.run_vkclip(args.vkclip, ["preprocess", "--model", d, "--out", out, images[0]])
            msg = r.stderr.strip()
            c.check(r.rc == 1 and msg.startswith("vkclip: ") and "preprocessor_config.json" in msg
                    and all(wd in msg for wd in words) and len(msg.splitlines()) == 1,
                    f"{label}: rc {r.rc}, one line naming preprocessor_config.json with {list(words)}: {msg[:300]!r}")
    c.finish()


if __name__ == "__main__":
    ec.run_main(main)
