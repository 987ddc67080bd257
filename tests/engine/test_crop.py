#!/usr/bin/python3
"""Crops (vkclip_frame.crop) against the PyTorch reference on Pillow's crop:
`vkclip preprocess --crop X,Y,W,H` and `vkclip embed-image --crop X,Y,W,H`
on the fixture images must equal scripts/reference/clip_torch.py run on
Image.open(f).convert("RGB").crop((X, Y, X+W, Y+H)) saved losslessly, to the
fixtures' tolerances. Rectangles at odd offsets and sizes, smaller than the
model's square (upsampled) and larger, the whole image; then bad rectangles.

  test_crop.py VKCLIP
"""

import argparse
import os
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine_common as ec  # noqa: E402 -- it also puts tests/ on sys.path
import testlib  # noqa: E402

COS_F32 = 0.99999
CROPS = {
    "chelsea.png": [(0, 0, 300, 300), (151, 0, 300, 300), (37, 21, 301, 229), (120, 33, 97, 211),
                    (1, 1, 449, 297), (200, 75, 224, 224), (5, 7, 120, 60)],
    "coffee.png": [(0, 0, 600, 400), (333, 111, 250, 280), (17, 3, 31, 29), (599, 0, 1, 400)],
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vkclip")
    args = ap.parse_args()
    fixtures = testlib.fixtures_dir()
    clip_torch = testlib.reference_module("clip_torch")
    import torch
    from PIL import Image
    testlib.prepare_vkclip(args.vkclip)
    model = os.path.join(fixtures, "clip-tiny-f32")
    pcfg = clip_torch.load_preprocessor_config(model)
    c = testlib.Checker()
    with tempfile.TemporaryDirectory(prefix="vkclip-crop-") as tmp:
        cases = []  # (label, image path, crop, path of Pillow's crop)
        for name, crops in CROPS.items():
            path = os.path.join(fixtures, "images", name)
            img = Image.open(path).convert("RGB")
            for (x, y, w, h) in crops:
                out = os.path.join(tmp, f"{name}-{x}-{y}-{w}x{h}.png")
                img.crop((x, y, x + w, y + h)).save(out)
                cases.append((f"{name} crop ({x}, {y}, {w}x{h})", path, (x, y, w, h), out))
        with torch.inference_mode():
            ref_model = clip_torch.Clip(model, torch.float64)
            refs = clip_torch.embed_images(ref_model, [case[3] for case in cases]).tolist()
        for (label, path, crop, cropped), ref in zip(cases, refs):
            arg = ",".join(str(v) for v in crop)
            # The tensor: against the reference's preprocessing of Pillow's crop.
            out = os.path.join(tmp, "pixels.f32")
            r = ec.run_vkclip(args.vkclip, ["preprocess", "--model", model, "--crop", arg, "--out", out, path])
            if c.check_run(r, f"{label}: preprocess"):
                ours = ec.read_f32(out, (3, 224, 224))
                want = clip_torch.preprocess(cropped, pcfg).numpy()
                if c.check(ours is not None, f"{label}: a 3x224x224 tensor ({ec.file_size(out)} bytes)"):
                    ec.check_pixels(c, f"{label}", ours, want)
            # The embedding: against the reference's on Pillow's crop.
            lines = ec.embed_image(c, args.vkclip, model, [path], ["--raw", "--crop", arg], label)
            if lines:
                cos = testlib.cosine(lines[0]["embedding"], ref)
                nr, no = testlib.norm(ref), testlib.norm(lines[0]["embedding"])
                c.check(cos >= COS_F32 and abs(no - nr) <= 1e-4 * nr,
                        f"{label}: embedding cos {cos:.9f} (>= {COS_F32}), norm {no:.6f} vs {nr:.6f}")

        # Two images of one call share the crop; the second is encoded in the same batch.
        chelsea, coffee = (os.path.join(fixtures, "images", n) for n in ("chelsea.png", "coffee.png"))
        lines = ec.embed_image(c, args.vkclip, model, [chelsea, coffee], ["--raw", "--crop", "37,21,301,229"],
                               "two images, one crop")
        if lines:
            with torch.inference_mode():
                crops = []
                for i, p in enumerate((chelsea, coffee)):
                    crops.append(os.path.join(tmp, f"both-{i}.png"))
                    Image.open(p).convert("RGB").crop((37, 21, 338, 250)).save(crops[-1])
                ref2 = clip_torch.embed_images(ref_model, crops).tolist()
            for line, ref, p in zip(lines, ref2, ("chelsea", "coffee")):
                cos = testlib.cosine(line["embedding"], ref)
                c.check(cos >= COS_F32, f"two images, one crop: {p}: cos {cos:.9f}")

    # Rectangles that are not inside the image: one clear line, exit 1.
    for crop in ("300,0,152,10", "0,250,10,51", "451,0,1,1"):
        r = ec.run_vkclip(args.vkclip, ["embed-image", "--model", model, "--crop", crop, chelsea])
        errors = r.error_lines()
        c.check(r.rc == 1 and len(errors) == 1 and "crop" in errors[0] and "451x300" in errors[0]
                and chelsea in errors[0] and "frame 0" not in errors[0],
                f"--crop {crop} outside 451x300: rc {r.rc}, {errors}")
    # Malformed: usage error, exit 2.
    for crop in ("1,2,3", "0,0,0,5", "-1,0,5,5", "1,2,3,4x", "a,b,c,d"):
        r = ec.run_vkclip(args.vkclip, ["embed-image", "--model", model, "--crop", crop, chelsea])
        c.check(r.rc == 2 and "--crop" in r.stderr, f"--crop {crop!r}: rc {r.rc} (usage error 2)")
    c.finish()


if __name__ == "__main__":
    ec.run_main(main)
