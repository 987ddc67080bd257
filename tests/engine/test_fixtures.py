#!/usr/bin/python3
"""vkclip against the golden fixtures (OpenAI's CLIP code, see
../shared/fixtures/README.md): preprocess and embed-image on clip-tiny-f32
and clip-tiny-f16, with the fixtures' tolerances.

  test_fixtures.py VKCLIP [--tiles TM,TN,WG] [--kernels PLAN] [--validation [--sync]]

--tiles sets VKCLIP_TILES (the matmul packing) for every run, --kernels
VKCLIP_KERNELS (the kernel plan: gpu runs the GPU kernels on lavapipe); --validation
sets VKCLIP_VALIDATION=1 (vkclip then exits non-zero on any validation
message) and skips when the Khronos layer is not installed; --sync adds its
synchronization validation (a missing barrier is then a message).
"""

import argparse
import json
import os
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine_common as ec  # noqa: E402 -- it also puts tests/ on sys.path
import testlib  # noqa: E402

IMAGES = ("chelsea.png", "coffee.png")
# The fixtures' tolerances (README.md): cosine >= 0.99999 in fp32, >= 0.9995
# with fp16 activations. Stricter for fp32: swapping quick_gelu for gelu in
# the tiny model still gives 0.999994, which 0.99999 would let through.
COS_F32 = 0.99999
ONE_MINUS_COS_F32_STRICT = 1e-7
COS_F16 = 0.9995


def check_preprocess(c, vkclip, fixtures, model_name, tmp):
    import numpy as np
    model = os.path.join(fixtures, model_name)
    for name in IMAGES:
        ref = ec.read_f32(os.path.join(fixtures, "clip-tiny-f32", name + ".pixels.f32"), (3, 224, 224))
        out = os.path.join(tmp, f"{model_name}-{name}.f32")
        r = ec.run_vkclip(vkclip, ["preprocess", "--model", model, "--out", out,
                                   os.path.join(fixtures, "images", name)])
        label = f"{model_name} preprocess {name}"
        if not c.check(r.rc == 0, f"{label}: exits 0" + ("" if r.rc == 0 else " " + r.describe())):
            continue
        ours = ec.read_f32(out, (3, 224, 224))
        if not c.check(ours is not None, f"{label}: output is 3x224x224 float32 "
                       f"({ec.file_size(out)} bytes)"):
            continue
        ec.check_pixels(c, label, ours, ref)
        c.check(bool(np.isfinite(ours).all()), f"{label}: all values finite")


def check_embeddings(c, vkclip, fixtures, model_name, tmp):
    model = os.path.join(fixtures, model_name)
    with open(os.path.join(model, "reference.json"), encoding="utf-8") as f:
        refs = {os.path.basename(im["file"]): im for im in json.load(f)["images"]}
    absolute = [os.path.join(fixtures, "images", n) for n in IMAGES]

    # Raw fp32: both thresholds.
    lines = ec.embed_image(c, vkclip, model, absolute, ["--raw"], f"{model_name} raw f32")
    if lines:
        for name, line in zip(IMAGES, lines):
            cos = testlib.cosine(line["embedding"], refs[name]["embedding"])
            c.check(cos >= COS_F32 and 1 - cos < ONE_MINUS_COS_F32_STRICT,
                    f"{model_name} raw f32 {name}: cos {cos:.12f}, 1-cos {1 - cos:.3e} "
                    f"(need >= {COS_F32} and 1-cos < {ONE_MINUS_COS_F32_STRICT:g})")
            nr, no = testlib.norm(refs[name]["embedding"]), testlib.norm(line["embedding"])
            c.check(abs(no - nr) <= 1e-4 * nr,
                    f"{model_name} raw f32 {name}: norm {no:.7f} vs reference {nr:.7f} (rel 1e-4)")

    # fp16 activations.
    lines = ec.embed_image(c, vkclip, model, absolute, ["--raw", "--precision", "f16"], f"{model_name} raw f16")
    if lines:
        for name, line in zip(IMAGES, lines):
            cos = testlib.cosine(line["embedding"], refs[name]["embedding"])
            c.check(cos >= COS_F16, f"{model_name} raw f16 {name}: cos {cos:.9f} (need >= {COS_F16})")

    # Normalised output (the default).
    lines = ec.embed_image(c, vkclip, model, absolute, [], f"{model_name} normalized")
    if lines:
        for name, line in zip(IMAGES, lines):
            cos = testlib.cosine(line["embedding"], refs[name]["embedding_normalized"])
            n = testlib.norm(line["embedding"])
            c.check(cos >= COS_F32 and abs(n - 1) <= 1e-5,
                    f"{model_name} normalized {name}: cos {cos:.12f}, norm {n:.9f} (need |norm-1| <= 1e-5)")
            ref = refs[name]["embedding_normalized"]
            maxdiff = max(abs(a - b) for a, b in zip(line["embedding"], ref))
            c.check(maxdiff <= 1e-4, f"{model_name} normalized {name}: max |diff| {maxdiff:.3e} (<= 1e-4)")

    # Batches: three images (a partial last batch with --batch 2), relative
    # and odd paths; every batching must give the reference and the same
    # numbers.
    odd = os.path.join(tmp, 'odd "name" \u00fc\\x.png')
    if not os.path.lexists(odd):
        os.symlink(absolute[0], odd)
    rel = os.path.relpath(absolute[1])
    paths = [odd, rel, absolute[0]]
    names = [IMAGES[0], IMAGES[1], IMAGES[0]]
    per_batch = {}
    for b in (1, 2, 3):
        lines = ec.embed_image(c, vkclip, model, paths, ["--raw", "--batch", str(b)], f"{model_name} --batch {b}")
        if lines:
            per_batch[b] = [line["embedding"] for line in lines]
            for name, e in zip(names, per_batch[b]):
                cos = testlib.cosine(e, refs[name]["embedding"])
                c.check(1 - cos < ONE_MINUS_COS_F32_STRICT,
                        f"{model_name} --batch {b} {name}: 1-cos {1 - cos:.3e}")
    if 1 in per_batch:
        for b in per_batch:
            if b == 1:
                continue
            diff = max(abs(x - y) for e1, eb in zip(per_batch[1], per_batch[b]) for x, y in zip(e1, eb))
            scale = max(abs(x) for e in per_batch[1] for x in e)
            c.check(diff <= 1e-6 * scale, f"{model_name}: --batch 1 vs --batch {b}: max |diff| {diff:.3e} "
                    f"(<= 1e-6 x max |x| {scale:.3f})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vkclip")
    ap.add_argument("--tiles", help="VKCLIP_TILES for every run")
    ap.add_argument("--kernels", help="VKCLIP_KERNELS (the kernel plan) for every run")
    ap.add_argument("--validation", action="store_true", help="VKCLIP_VALIDATION=1")
    ap.add_argument("--sync", action="store_true",
                    help="with --validation: the layer's synchronization validation too")
    args = ap.parse_args()
    testlib.require_modules("numpy")
    fixtures = testlib.fixtures_dir()
    testlib.prepare_vkclip(args.vkclip)
    if args.tiles:
        os.environ["VKCLIP_TILES"] = args.tiles
    if args.kernels:
        os.environ["VKCLIP_KERNELS"] = args.kernels
    if args.validation:
        if not os.path.exists(ec.VALIDATION_LAYER_JSON):
            testlib.skip(f"the Khronos validation layer is not installed ({ec.VALIDATION_LAYER_JSON}; "
                         "apt-get install vulkan-validationlayers)")
        os.environ["VKCLIP_VALIDATION"] = "1"
        if args.sync:
            os.environ["VK_LAYER_ENABLES"] = "VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT"
    print(f"VKCLIP_TILES={os.environ.get('VKCLIP_TILES', '(default)')} "
          f"VKCLIP_KERNELS={os.environ.get('VKCLIP_KERNELS', '(default)')} "
          f"VKCLIP_VALIDATION={os.environ.get('VKCLIP_VALIDATION', '(unset)')} "
          f"VK_ICD_FILENAMES={os.environ.get('VK_ICD_FILENAMES', '(unset)')}")
    c = testlib.Checker()
    if args.validation:
        # Proves the layer is really loaded: otherwise "no message" proves nothing.
        r = ec.run_vkclip(args.vkclip, ["info"], env={"VK_LOADER_DEBUG": "layer"})
        c.check(r.rc == 0 and "khronos_validation" in r.stderr.lower(),
                "the Vulkan loader reports the Khronos validation layer loaded (VK_LOADER_DEBUG=layer)"
                + ("" if r.rc == 0 else " " + r.describe()))
    if args.tiles:
        # The packing must really be in use, or this run repeats the default
        # one: VKCLIP_PROFILE=1 names each matmul with its [wg,tm,tn,...].
        tm, tn, wg = args.tiles.split(",")
        r = ec.run_vkclip(args.vkclip, ["bench", "--model", os.path.join(fixtures, "clip-tiny-f32"),
                                        "--seconds", "0.01"], env={"VKCLIP_PROFILE": "1"})
        want = f"matmul_f32[{wg},{tm},{tn},"
        c.check(r.rc == 0 and want in r.stdout + r.stderr and "images/s:" in r.stdout,
                f"bench with VKCLIP_PROFILE=1 shows '{want}' kernels and images/s"
                + ("" if r.rc == 0 else " " + r.describe()))
    with tempfile.TemporaryDirectory(prefix="vkclip-fixtures-") as tmp:
        for model_name in ("clip-tiny-f32", "clip-tiny-f16"):
            check_preprocess(c, args.vkclip, fixtures, model_name, tmp)
            check_embeddings(c, args.vkclip, fixtures, model_name, tmp)
    c.finish()


if __name__ == "__main__":
    ec.run_main(main)
