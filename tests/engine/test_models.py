#!/usr/bin/python3
"""vkclip on random CLIP models of many shapes and on awkward images, against
the PyTorch reference (scripts/reference/clip_torch.py, float64, Pillow
preprocessing). Models come from scripts/make_random_clip.py and images from
Pillow, both written into a temporary folder at test time.

  test_models.py VKCLIP [--full]

--full (or VKCLIP_SLOW_TESTS=1) adds a random ViT-L/14; a random ViT-B/32
always runs.
"""

import argparse
import io
import os
import shutil
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine_common as ec  # noqa: E402 -- it also puts tests/ on sys.path
import testlib  # noqa: E402

COS_F32 = 0.99999   # fp32 activations (the fixtures' tolerance)
COS_F16 = 0.9995    # fp16 activations
# As in test_fixtures.py: fp32 also needs 1-cos < 1e-7, since a quick_gelu /
# gelu swap can stay above 0.99999 (the fixture model gives 0.999994).
ONE_MINUS_COS_F32_STRICT = 1e-7
TINY_TEXT = ["--text-width", "32", "--text-layers", "1", "--text-heads", "1"]

# Small vision towers that still cover what differs between real models:
# patch 14/16/32, image sizes other than 224, odd head counts and head
# sizes, both activations, F32/F16/BF16 storage, sharded files.
MODELS = [
    ("p14-s56-h3-gelu-f32", ["--patch", "14", "--image-size", "56", "--vision-width", "96",
                             "--vision-heads", "3", "--vision-layers", "2", "--embed", "24",
                             "--act", "gelu", "--dtype", "F32"]),
    ("p14-s140-h7-quick-f16-3shards", ["--patch", "14", "--image-size", "140", "--vision-width", "84",
                                       "--vision-heads", "7", "--vision-layers", "2", "--embed", "40",
                                       "--act", "quick_gelu", "--dtype", "F16", "--shards", "3"]),
    ("p14-s112-h5-gelu-bf16", ["--patch", "14", "--image-size", "112", "--vision-width", "60",
                               "--vision-heads", "5", "--vision-layers", "3", "--embed", "16",
                               "--act", "gelu", "--dtype", "BF16"]),
    ("p16-s112-h5-quick-f32-3shards", ["--patch", "16", "--image-size", "112", "--vision-width", "80",
                                       "--vision-heads", "5", "--vision-layers", "2", "--embed", "32",
                                       "--act", "quick_gelu", "--dtype", "F32", "--shards", "3"]),
    ("p16-s224-h3-gelu-f16", ["--patch", "16", "--image-size", "224", "--vision-width", "48",
                              "--vision-heads", "3", "--vision-layers", "1", "--embed", "8",
                              "--act", "gelu", "--dtype", "F16"]),
    ("p32-s224-h1-quick-bf16-3shards", ["--patch", "32", "--image-size", "224", "--vision-width", "64",
                                        "--vision-heads", "1", "--vision-layers", "3", "--embed", "20",
                                        "--act", "quick_gelu", "--dtype", "BF16", "--shards", "3"]),
]
# Full-size image towers (the text tower stays tiny: it is not used here).
BIG_MODELS = [("vit-b32-f16", ["--shape", "B/32", "--dtype", "F16"])]
SLOW_MODELS = [("vit-l14-f16", ["--shape", "L/14", "--dtype", "F16"])]
BIG_IMAGES = ("rgb-451x300-q90-420.jpg", "rgb-1920x1080.png")


# ------------------------------------------------------------ images

def picture(w, h, seed):
    """Smooth gradients, stripes, hard-edged blocks and some noise: content
    on which resampling mistakes show."""
    import numpy as np
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    u, v = x / max(w - 1, 1), y / max(h - 1, 1)
    r = 255 * u
    g = 127.5 + 127.5 * np.sin(2 * np.pi * (3 * u + 2 * v))
    b = 255 * v * (1 - u)
    img = np.stack([r, g, b], axis=-1)
    for _ in range(6):  # blocks with sharp edges
        x0, y0 = rng.integers(0, max(w, 1)), rng.integers(0, max(h, 1))
        img[y0:y0 + max(h // 5, 1), x0:x0 + max(w // 5, 1)] = rng.integers(0, 256, 3)
    img += rng.normal(0, 12, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def png16_rgb(arr16):
    """A 16-bit RGB PNG written by hand (Pillow cannot write one)."""
    import struct
    import zlib
    h, w, _ = arr16.shape
    raw = b"".join(b"\x00" + arr16[row].astype(">u2").tobytes() for row in range(h))

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def make_images(folder):
    """Writes the test images; returns their paths (name order)."""
    import numpy as np
    from PIL import Image
    made = {}

    def save(name, img, **kw):
        path = os.path.join(folder, name)
        img.save(path, **kw)
        made[name] = path

    def rgb(w, h, seed):
        return Image.fromarray(picture(w, h, seed), "RGB")

    save("rgb-1x1.png", Image.new("RGB", (1, 1), (200, 30, 90)))
    save("rgb-7x300.png", rgb(7, 300, 1))
    save("rgb-451x300.png", rgb(451, 300, 2))
    save("rgb-300x451.png", rgb(300, 451, 3))
    save("rgb-1920x1080.png", rgb(1920, 1080, 4))
    save("rgb-50x50.png", rgb(50, 50, 5))
    save("rgb-225x224.png", rgb(225, 224, 6))
    rgba = picture(200, 150, 7)
    alpha = (np.arange(200 * 150).reshape(150, 200) * 7 % 256).astype(np.uint8)  # every alpha level
    save("rgba-200x150.png", Image.fromarray(np.dstack([rgba, alpha]), "RGBA"))
    save("la-120x90.png", Image.fromarray(np.dstack([picture(120, 90, 8)[..., 1], alpha[:90, :120]]), "LA"))
    save("l-97x131.png", Image.fromarray(picture(97, 131, 9)[..., 0], "L"))
    save("bilevel-64x80.png", Image.fromarray(picture(64, 80, 10)[..., 0] > 128))
    pal = rgb(160, 100, 11).quantize(colors=50)
    save("p-tRNS-160x100.png", pal, transparency=3)
    save("p4bit-90x70.png", rgb(90, 70, 12).quantize(colors=12), bits=4)
    # 16-bit grey: Pillow opens it as mode "I" and convert("RGB") clips at
    # 255 rather than scaling, so values on both sides of 255 tell the two apart.
    grey16 = (picture(100, 80, 13)[..., 2].astype(np.uint16) * 2 + np.arange(80)[:, None]).astype(np.uint16)
    save("l16-100x80.png", Image.fromarray(grey16, "I;16"))
    made["rgb16-120x90.png"] = os.path.join(folder, "rgb16-120x90.png")
    with open(made["rgb16-120x90.png"], "wb") as f:
        f.write(png16_rgb(picture(120, 90, 14).astype(np.uint16) * 257 + 99))
    save("rgb-451x300-q90-420.jpg", rgb(451, 300, 15), quality=90, subsampling=2)
    save("rgb-301x227-q75-444.jpg", rgb(301, 227, 16), quality=75, subsampling=0)
    save("rgb-640x480-progressive.jpg", rgb(640, 480, 17), quality=85, progressive=True)
    save("grey-333x250.jpg", Image.fromarray(picture(333, 250, 18)[..., 1], "L"), quality=90)
    return made


# ------------------------------------------------------------ models

def make_model(make_random_clip, folder, name, extra):
    out = os.path.join(folder, name)
    argv = TINY_TEXT + ["--seed", "7", "--out", out] + extra
    buf = io.StringIO()
    stdout, sys.stdout = sys.stdout, buf  # its one line of progress is noise here
    try:
        make_random_clip.main(argv)
    except SystemExit as exc:  # e.g. neither fixtures nor OpenAI's BPE file for the tokenizer
        sys.stdout = stdout
        testlib.skip(f"make_random_clip.py could not write {name}: {exc}")
    finally:
        sys.stdout = stdout
    return out


def check_info(c, vkclip, model, name, cfg):
    v = cfg["vision"]
    r = ec.run_vkclip(vkclip, ["info", "--model", model])
    want = (f"vision: width {v['hidden_size']}, layers {v['num_hidden_layers']}, heads "
            f"{v['num_attention_heads']}, mlp {v['intermediate_size']}, patch {v['patch_size']}, "
            f"image {v['image_size']}, act {v['hidden_act']}")
    c.check(r.rc == 0 and want in r.stdout, f"{name}: info shows '{want}'"
            + ("" if r.rc == 0 and want in r.stdout else f" -- got {r.stdout!r} {r.describe()}"))


def check_preprocess(c, vkclip, clip_torch, model, size, images, tmp):
    """vkclip preprocess vs the reference's Pillow preprocessing."""
    pcfg = clip_torch.load_preprocessor_config(model)
    mean, std = pcfg["image_mean"], pcfg["image_std"]
    worst = None
    for name, path in images.items():
        ref = clip_torch.preprocess(path, pcfg).numpy()
        out = os.path.join(tmp, f"pp-{size}-{name}.f32")
        r = ec.run_vkclip(vkclip, ["preprocess", "--model", model, "--out", out, path])
        label = f"preprocess {size}x{size} {name}"
        if not c.check(r.rc == 0, f"{label}: exits 0" + ("" if r.rc == 0 else " " + r.describe())):
            continue
        ours = ec.read_f32(out, ref.shape)
        if not c.check(ours is not None, f"{label}: {ec.file_size(out)} bytes for shape {ref.shape}"):
            continue
        ec.check_pixels(c, label, ours, ref, mean, std)
        within1, maxdiff, exact = ec.compare_pixels(ours, ref, mean, std)
        if worst is None or (within1, exact) < worst[:1] + worst[2:3]:
            worst = (within1, maxdiff, exact, name)
    if worst:
        print(f"  [{size}x{size}] worst of {len(images)} images, {worst[3]}: within 1/255 {worst[0] * 100:.3f}%, "
              f"max {worst[1]:.2f}/255, exact {worst[2] * 100:.3f}%")


def run_embed(c, vkclip, model, paths, extra, label, timeout=300, env=None):
    lines = ec.embed_image(c, vkclip, model, paths, ["--raw"] + extra, label, timeout, env)
    return None if lines is None else [ln["embedding"] for ln in lines]


def check_embeddings(c, vkclip, clip_torch, model, name, images, small=True, timeout=300):
    import torch
    paths = list(images.values())
    t0 = time.monotonic()
    with torch.inference_mode():
        ref_model = clip_torch.Clip(model, torch.float64)
        ref = clip_torch.embed_images(ref_model, paths).tolist()
    t_ref = time.monotonic() - t0
    runs = [("f32", [], None, COS_F32, 1e-4), ("f16", ["--precision", "f16"], None, COS_F16, 2e-2)]
    if small:
        # Matmul packings other than this driver's default: the GPU one, and
        # an odd one that divides none of the sizes (edge tiles everywhere).
        runs += [("f32 tiles 4,4,64", [], "4,4,64", COS_F32, 1e-4),
                 ("f32 tiles 3,5,24", [], "3,5,24", COS_F32, 1e-4),
                 ("f16 tiles 3,5,24", ["--precision", "f16"], "3,5,24", COS_F16, 2e-2)]
    for precision, extra, tiles, need, norm_tol in runs:
        label = f"{name} {precision}"
        env = {"VKCLIP_TILES": tiles} if tiles else None
        emb = run_embed(c, vkclip, model, paths, extra, label, timeout, env)
        if emb is None:
            continue
        strict = ONE_MINUS_COS_F32_STRICT if need == COS_F32 else 1.0
        cosines, worst_norm = [], 0.0
        for img, e, r in zip(images, emb, ref):
            cos = testlib.cosine(e, r)
            nr, ne = testlib.norm(r), testlib.norm(e)
            cosines.append(cos)
            worst_norm = max(worst_norm, abs(ne - nr) / nr)
            if not (cos >= need and 1 - cos < strict and abs(ne - nr) <= norm_tol * nr):
                c.check(False, f"{label} {img}: cos {cos:.12f}, 1-cos {1 - cos:.2e}, norm {ne:.6f} vs "
                        f"reference {nr:.6f}")
        c.check(all(x >= need and 1 - x < strict for x in cosines) and worst_norm <= norm_tol,
                f"{label}: {len(cosines)} images, min cos {min(cosines):.9f}, "
                f"max 1-cos {1 - min(cosines):.2e} (need cos >= {need}"
                + (f", 1-cos < {strict:g}" if strict < 1 else "")
                + f"), max norm error {worst_norm:.1e} (<= {norm_tol:g}); reference {t_ref:.1f} s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vkclip")
    ap.add_argument("--full", action="store_true", help="also ViT-L/14 (as VKCLIP_SLOW_TESTS=1)")
    args = ap.parse_args()
    clip_torch = testlib.reference_module("clip_torch")
    testlib.prepare_vkclip(args.vkclip)
    sys.path.insert(0, os.path.join(testlib.source_root(), "scripts"))
    import make_random_clip
    import torch
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    slow = args.full or os.environ.get("VKCLIP_SLOW_TESTS", "") not in ("", "0")
    c = testlib.Checker()
    with tempfile.TemporaryDirectory(prefix="vkclip-models-") as tmp:
        img_dir = os.path.join(tmp, "images")
        os.makedirs(img_dir)
        images = make_images(img_dir)
        print(f"{len(images)} images: {', '.join(images)}")

        sizes_done = set()
        for name, extra in MODELS:
            t0 = time.monotonic()
            model = make_model(make_random_clip, tmp, name, extra)
            cfg = clip_torch.load_config(model)
            check_info(c, args.vkclip, model, name, cfg)
            size = cfg["vision"]["image_size"]
            if size not in sizes_done:
                sizes_done.add(size)
                check_preprocess(c, args.vkclip, clip_torch, model, size, images, tmp)
            check_embeddings(c, args.vkclip, clip_torch, model, name, images)
            print(f"  [{name}: {time.monotonic() - t0:.1f} s]")

        big = BIG_MODELS + (SLOW_MODELS if slow else [])
        if not slow:
            print("note: ViT-L/14 left out; set VKCLIP_SLOW_TESTS=1 (or --full) to run it")
        for name, extra in big:
            t0 = time.monotonic()
            model = make_model(make_random_clip, tmp, name, extra)
            check_info(c, args.vkclip, model, name, clip_torch.load_config(model))
            subset = {k: images[k] for k in BIG_IMAGES}
            check_embeddings(c, args.vkclip, clip_torch, model, name, subset, small=False, timeout=600)
            print(f"  [{name}: {time.monotonic() - t0:.1f} s]")
            shutil.rmtree(model)  # hundreds of MiB: free them before the next
    c.finish()


if __name__ == "__main__":
    ec.run_main(main)
