"""What only the zero-shot tests share: a work folder and cache dir each,
random models, and the zero-shot reference computation. What all the
Python end-to-end tests share is in ../testlib.py, put on sys.path here.

Each test gets its own temporary VKCLIP_CACHE_DIR and work folder, removed
at exit.
"""

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import testlib  # noqa: E402


def setup(argv):
    """Checks argv[1] (the vkclip binary), selects lavapipe unless a Vulkan
    driver was chosen, gives the test its own cache dir, returns
    (vkclip path, work folder)."""
    if len(argv) < 2:
        print(f"usage: {argv[0]} VKCLIP")
        sys.exit(1)
    vkclip = os.path.abspath(argv[1])
    testlib.prepare_vkclip(vkclip)
    work = tempfile.mkdtemp(prefix="vkclip-zs-")
    atexit.register(_remove_tree, work)
    os.environ["VKCLIP_CACHE_DIR"] = os.path.join(work, "cache")
    return vkclip, work


def _remove_tree(path):
    # Folders a test made read-only must become writable again to go.
    for root, dirs, _ in os.walk(path):
        for d in dirs:
            try:
                os.chmod(os.path.join(root, d), 0o755)
            except OSError:
                pass
    shutil.rmtree(path, ignore_errors=True)


def require_references():
    """The reference modules the zero-shot tests compare with: clip_torch
    and tokenizer (scripts/reference), or skip."""
    return testlib.reference_module("clip_torch"), testlib.reference_module("tokenizer")


def make_random_model(out, **options):
    """scripts/make_random_clip.py with --key value options (underscores
    become dashes); returns out. Small vision tower unless told otherwise."""
    fixtures = os.environ.get("VKCLIP_FIXTURES", "")
    shared = os.environ.get("VKCLIP_SHARED_DATA", "")
    if not os.path.isfile(os.path.join(fixtures, "clip-tiny-f32", "vocab.json")) and \
            not os.path.isfile(os.path.join(shared, "openai-clip", "bpe_simple_vocab_16e6.txt.gz")):
        testlib.skip("random models need CLIP's vocabulary: neither $VKCLIP_FIXTURES/clip-tiny-f32/vocab.json "
                     "nor $VKCLIP_SHARED_DATA/openai-clip/bpe_simple_vocab_16e6.txt.gz is there")
    opts = {"shape": "tiny", "vision_width": 64, "vision_layers": 1, "vision_heads": 2,
            "patch": 32, "image_size": 64}
    opts.update(options)
    cmd = [sys.executable, os.path.join(testlib.source_root(), "scripts", "make_random_clip.py"), "--out", out]
    for k, v in opts.items():
        cmd += ["--" + k.replace("_", "-"), str(v)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        print(f"FAIL: make_random_clip.py {' '.join(cmd[2:])}: {p.stderr.strip()[-800:]}")
        sys.exit(1)
    return out


def logit_scale_from_safetensors(model):
    """exp of the stored logit_scale, read straight from the model's files
    (single or sharded), independently of both vkclip and clip_torch."""
    import struct
    import numpy as np
    index = os.path.join(model, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index, encoding="utf-8") as f:
            path = os.path.join(model, json.load(f)["weight_map"]["logit_scale"])
    else:
        path = os.path.join(model, "model.safetensors")
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        info = json.loads(f.read(n))["logit_scale"]
        begin, end = info["data_offsets"]
        f.seek(8 + n + begin)
        raw = f.read(end - begin)
    if info["dtype"] == "F32":
        value = np.frombuffer(raw, "<f4")[0]
    elif info["dtype"] == "F16":
        value = np.frombuffer(raw, "<f2")[0]
    else:  # BF16: the top half of a float32
        value = np.frombuffer(b"\0\0" + raw[:2], "<f4")[0]
    return float(np.exp(np.float64(value)))


def reference_probs(clip_torch, tokenizer, model, labels, templates, images):
    """The paper's zero-shot recipe in float64 from the reference pieces:
    each prompt embedded by clip_torch (ids from tokenizer.py), normalised,
    averaged per label, normalised again; softmax of scale * cos with each
    normalised image embedding. Returns [image][label] probabilities."""
    import numpy as np
    import torch
    net = clip_torch.Clip(model, dtype=torch.float64)
    tok = tokenizer.Tokenizer(model)
    context = net.config["text"]["max_position_embeddings"]
    ids = [tok.encode(t.replace("{}", label), context=context) for label in labels for t in templates]
    with torch.no_grad():
        prompts = clip_torch.embed_texts(net, ids).numpy()
        imgs = clip_torch.embed_images(net, images).numpy()
    prompts /= np.linalg.norm(prompts, axis=1, keepdims=True)
    w = prompts.reshape(len(labels), len(templates), -1).mean(axis=1)
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    imgs /= np.linalg.norm(imgs, axis=1, keepdims=True)
    logits = logit_scale_from_safetensors(model) * imgs @ w.T
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def write_test_images(folder):
    """Two deterministic PNGs of different sizes and aspect ratios, drawn
    with numpy and saved by Pillow."""
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(7)
    paths = []
    for i, (w, h) in enumerate(((120, 90), (70, 130))):
        y, x = np.mgrid[0:h, 0:w]
        img = np.stack([x * 255 // w, y * 255 // h, (x + y) * 127 // (w + h)], axis=-1)
        img = img + rng.integers(-40, 40, size=img.shape)
        path = os.path.join(folder, f"image{i}.png")
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB").save(path)
        paths.append(path)
    return paths


def scores_by_label(row):
    return {e["label"]: e["score"] for e in row["labels"]}
