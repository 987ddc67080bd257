#!/usr/bin/python3
"""vkclip on random SigLIP models (scripts/make_random_siglip.py) against the
PyTorch reference written from the architecture
(scripts/reference/siglip_torch.py, float64, Pillow preprocessing as
SiglipImageProcessor does it): the image tower's embeddings (no class token,
the patch convolution's bias, post-LayerNorm over every token, the
attention-pooling head, tanh GELU), F32/F16/BF16 weights, fp16 activations;
SigLIP's tokenizer (ids exact against the reference's, SentencePiece's own
Python module); the text tower's embeddings; and the sigmoid scores with
the checkpoint's logit_bias, built and read back from the classifier cache.
The same for a SigLIP 2 checkpoint of fixed resolution (Gemma's tokenizer:
ids exact against SentencePiece's Python module on the lowercased text).

  test_siglip.py VKCLIP
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

MODELS = [
    ("p16-s64-w64h4-f32", ["--image-size", "64", "--dtype", "F32"]),
    ("p16-s224-w96h3-f16", ["--vision-width", "96", "--vision-heads", "3", "--text-width", "48", "--text-heads", "2",
                            "--projection", "96", "--dtype", "F16"]),
    # 60 = 4 x 14 + 4, as so400m-patch14-384's 384 = 27 x 14 + 6: the patch
    # convolution's stride drops the last pixels.
    ("p14-s60-w48h3-l3-bf16", ["--patch", "14", "--image-size", "60", "--vision-width", "48", "--vision-heads", "3",
                               "--vision-layers", "3", "--vision-mlp", "120", "--text-width", "48",
                               "--text-heads", "2", "--projection", "48", "--dtype", "BF16"]),
    # SigLIP 2 of fixed resolution: Gemma's tokenizer.model, bilinear resize.
    ("siglip2-p16-s64-w64h4-f16", ["--tokenizer", "gemma", "--image-size", "64", "--dtype", "F16"]),
]


def make_images(folder):
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(8)
    paths = []
    y, x = np.mgrid[0:200, 0:300].astype(np.float64)
    arrays = {
        "smooth-300x200.png": np.stack([255 * x / 299, 127.5 + 127.5 * np.sin(x / 13 + y / 29), 255 * y / 199], -1),
        "noise-90x140.png": rng.integers(0, 256, (140, 90, 3)).astype(np.float64),
        "flat-64x64.png": np.full((64, 64, 3), (30, 200, 90), np.float64),
    }
    for name, arr in arrays.items():
        path = os.path.join(folder, name)
        Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB").save(path)
        paths.append(path)
    grey = os.path.join(folder, "grey-77x51.png")
    Image.fromarray(rng.integers(0, 256, (51, 77), dtype=np.uint8), "L").save(grey)
    return paths + [grey]


def check_model(c, vkclip, siglip_torch, model, name, images):
    ref = [json.loads(ln)["embedding"]
           for ln in testlib.quiet(siglip_torch.main, ["embed-image", "--raw", "--model", model] + images).splitlines()]
    for precision, extra, need, strict, norm_tol in ec.PRECISIONS:
        label = f"{name} {precision}"
        lines = ec.embed_image(c, vkclip, model, images, ["--raw"] + extra, label, timeout=300)
        if lines is not None:
            ec.check_embeddings(c, label, [ln["embedding"] for ln in lines], ref, need, strict, norm_tol, "images")


CAPTIONS = ["a photo of a cat.", "A Photo, of a CAT!!", "  leading and   trailing  ", "tabs\tand\nnewlines",
            "naïve café — ¿qué?", "ΟΔΟΣ straße", "", "!!!", "a \u2581 word", "emoji \U0001F600 ok",
            "non\u00a0breaking\u3000spaces", "\u0130stanbul \u1e9e \u212a", "x <mask> y",
            " ".join(["word"] * 80)]


def check_tokenizer(c, vkclip, siglip_torch, model):
    """vkclip tokenize against the reference's SiglipTokenizer or
    Siglip2Tokenizer (Python SentencePiece) on awkward captions and
    Kinetics-700 prompts: ids exact."""
    labels_file = os.path.join(testlib.source_root(), "data", "prompts", "kinetics700-labels.txt")
    with open(labels_file, encoding="utf-8") as f:
        texts = CAPTIONS + [f"a video of a person {label.strip()}." for label in f.readlines()[:150]]
    r = ec.run_vkclip(vkclip, ["tokenize", "--model", model] + texts)
    ours = ec.parse_json_lines(r.stdout) if r.rc == 0 else []
    printed = testlib.quiet(siglip_torch.main, ["tokenize", "--model", model] + texts)
    ref = [json.loads(ln) for ln in printed.splitlines()]
    wrong = [(t, o.get("ids"), w["ids"]) for t, o, w in zip(texts, ours, ref) if o.get("ids") != w["ids"]]
    c.check(r.rc == 0 and len(ours) == len(texts) and not wrong,
            f"tokenize {os.path.basename(model)}: {len(texts)} texts, ids as the reference's (64 each, the end "
            "token then padding)"
            + (f" -- {len(wrong)} differ, first {wrong[0]}" if wrong else "") + ("" if r.rc == 0 else r.describe()))


def check_text(c, vkclip, siglip_torch, model, name):
    """embed-text (no mask, every text the whole 64 positions, pooled at the
    last, text_model.head) against the reference's."""
    texts = CAPTIONS[:10]
    ref = [json.loads(ln)["embedding"]
           for ln in testlib.quiet(siglip_torch.main, ["embed-text", "--raw", "--model", model] + texts).splitlines()]
    for precision, extra, need, strict, norm_tol in ec.PRECISIONS:
        r = ec.run_vkclip(vkclip, ["embed-text", "--raw", "--model", model] + extra + texts)
        lines = ec.parse_json_lines(r.stdout) if r.rc == 0 else []
        if c.check(len(lines) == len(texts), f"{name} text {precision}: {len(lines)} lines for {len(texts)} texts "
                   + r.describe()):
            ec.check_embeddings(c, f"{name} text {precision}", [ln["embedding"] for ln in lines], ref, need, strict,
                                norm_tol, "texts")


LABELS = ["a photo of a cat", "a red car", "Two dogs, playing!", "a blue sky", "noise"]


def check_scores(c, vkclip, siglip_torch, model, name, images, cache):
    """classify with the labels as they are (template "{}") against the
    reference's sigmoid(exp(t) cos + b): each label's probability alone, not
    a softmax over them; the same again when read from the classifier cache."""
    ref = {}
    argv = ["probs", "--model", model] + [a for label in LABELS for a in ("--text", label)] + images
    for ln in testlib.quiet(siglip_torch.main, argv).splitlines():
        j = json.loads(ln)
        ref[j["file"]] = dict(zip(LABELS, j["probs"]))
    env = {"VKCLIP_CACHE_DIR": cache}
    for run in ("built", "from the cache"):
        r = ec.run_vkclip(vkclip, ["classify", "--model", model, "--labels", ";".join(LABELS), "--template", "{}",
                                   "--top-k", str(len(LABELS))] + images, env=env)
        lines = ec.parse_json_lines(r.stdout) if r.rc == 0 else []
        worst, total = 0.0, 0
        for ln in lines:
            for item in ln["labels"]:
                worst = max(worst, abs(item["score"] - ref[ln["file"]][item["label"]]))
                total += 1
        sums = [sum(i["score"] for i in ln["labels"]) for ln in lines]
        c.check(r.rc == 0 and total == len(images) * len(LABELS) and worst <= 1e-4,
                f"{name} scores ({run}): {total} probabilities, max difference from the reference {worst:.1e} "
                f"(<= 1e-4); per image they sum to {[round(s, 3) for s in sums]}, not 1 " + r.describe())


def check_missing_tokenizer(c, vkclip, model, tmp, image):
    """No spiece.model nor tokenizer.model: text is refused with one line
    naming both; image embeddings still work."""
    import shutil
    bare = os.path.join(tmp, "no-tokenizer")
    shutil.copytree(model, bare)
    os.remove(os.path.join(bare, "tokenizer.model"))
    r = ec.run_vkclip(vkclip, ["embed-text", "--model", bare, "a cat"])
    err = r.stderr.strip().splitlines()
    c.check(r.rc == 1 and len(err) == 1 and "spiece.model" in err[0] and "tokenizer.model" in err[0],
            f"no tokenizer file: exit 1, one line naming both: {r.describe()}")
    r = ec.run_vkclip(vkclip, ["embed-image", "--model", bare, image])
    c.check(r.rc == 0, f"no tokenizer file: image embeddings still work: {r.describe()}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vkclip")
    args = ap.parse_args()
    testlib.require_modules("sentencepiece")  # the generator trains the tokenizer's model
    siglip_torch = testlib.reference_module("siglip_torch")
    testlib.prepare_vkclip(args.vkclip)
    sys.path.insert(0, os.path.join(testlib.source_root(), "scripts"))
    import make_random_siglip
    import torch
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    c = testlib.Checker()
    with tempfile.TemporaryDirectory(prefix="vkclip-siglip-") as tmp:
        images = make_images(tmp)
        for seed, (name, extra) in enumerate(MODELS, start=21):
            model = os.path.join(tmp, name)
            testlib.quiet(make_random_siglip.main, ["--out", model, "--seed", str(seed)] + extra)
            r = ec.run_vkclip(args.vkclip, ["info", "--model", model])
            c.check(r.rc == 0 and "family: siglip" in r.stdout and "gelu_pytorch_tanh" in r.stdout,
                    f"{name}: info says family siglip, act gelu_pytorch_tanh: {r.describe()}")
            check_model(c, args.vkclip, siglip_torch, model, name, images)
            check_text(c, args.vkclip, siglip_torch, model, name)
            check_scores(c, args.vkclip, siglip_torch, model, name, images, os.path.join(tmp, "cache"))
        check_tokenizer(c, args.vkclip, siglip_torch, os.path.join(tmp, MODELS[1][0]))
        check_tokenizer(c, args.vkclip, siglip_torch, os.path.join(tmp, MODELS[3][0]))
        check_missing_tokenizer(c, args.vkclip, os.path.join(tmp, MODELS[3][0]), tmp, images[0])
    return c.finish()


if __name__ == "__main__":
    ec.run_main(main)
