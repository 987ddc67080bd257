#!/usr/bin/python3
"""Writes a CLIP with random weights in Hugging Face layout, of any size.

  make_random_clip.py --shape B/32 --out models/vit-b32-f32
  make_random_clip.py --shape tiny --dtype F16 --shards 2 --act gelu --out DIR
  make_random_clip.py --vision-width 256 --vision-layers 3 ... --out DIR

Weights follow OpenAI's initialisation (PyTorch defaults in the image tower,
OpenAI's scaled normals in the text tower), then every LayerNorm gain/bias and
every bias is pushed away from 1/0, so a weight that is read wrongly shows.
Each tensor has its own generator seeded from (--seed, name): the same seed
gives the same values whatever the dtype or the number of shards.
Run with Debian's /usr/bin/python3 (torch).
"""

import argparse
import gzip
import json
import math
import os
import shutil
import struct
import sys
import time
import zlib

import torch

SHAPES = {
    # vision width, layers, heads, patch, image size; text width, layers, heads; embed
    "tiny": dict(vision_width=128, vision_layers=2, vision_heads=2, patch=32, image_size=224,
                 text_width=64, text_layers=2, text_heads=2, embed=32),
    "B/32": dict(vision_width=768, vision_layers=12, vision_heads=12, patch=32, image_size=224,
                 text_width=512, text_layers=12, text_heads=8, embed=512),
    "B/16": dict(vision_width=768, vision_layers=12, vision_heads=12, patch=16, image_size=224,
                 text_width=512, text_layers=12, text_heads=8, embed=512),
    "L/14": dict(vision_width=1024, vision_layers=24, vision_heads=16, patch=14, image_size=224,
                 text_width=768, text_layers=12, text_heads=12, embed=768),
    "L/14-336": dict(vision_width=1024, vision_layers=24, vision_heads=16, patch=14, image_size=336,
                     text_width=768, text_layers=12, text_heads=12, embed=768),
}
VOCAB_SIZE = 49408
CONTEXT = 77
MERGES_USED = 48894  # = 49408 - 512 byte symbols - 2 specials
PERTURB_STD = 0.05
DTYPES = {"F32": (torch.float32, "float32"), "F16": (torch.float16, "float16"),
          "BF16": (torch.bfloat16, "bfloat16")}


# ------------------------------------------------------------ tensor plan

def tensor_plan(s):
    """name -> (shape, init) where init is a tuple describing the draw:
    ("normal", std) | ("uniform", bound) | ("const", value) | ("positions",)
    and an optional perturbation flag. Biases and LayerNorms get perturbed."""
    plan = {}
    dv, dt, e = s["vision_width"], s["text_width"], s["embed"]
    p, grid = s["patch"], s["image_size"] // s["patch"]

    def block(prefix, d, layers, text):
        # Text tower: OpenAI's initialize_parameters. Image tower: PyTorch
        # defaults (OpenAI leaves them): xavier for q/k/v, kaiming-uniform Linear.
        attn_std, proj_std, fc_std = d ** -0.5, d ** -0.5 * (2 * layers) ** -0.5, (2 * d) ** -0.5
        for i in range(layers):
            b = f"{prefix}.encoder.layers.{i}."
            for ln in ("layer_norm1", "layer_norm2"):
                plan[b + ln + ".weight"] = ([d], ("const", 1.0), True)
                plan[b + ln + ".bias"] = ([d], ("const", 0.0), True)
            for q in ("q_proj", "k_proj", "v_proj"):
                plan[b + f"self_attn.{q}.weight"] = (
                    [d, d], ("normal", attn_std) if text else ("uniform", math.sqrt(6 / (4 * d))), False)
                plan[b + f"self_attn.{q}.bias"] = ([d], ("const", 0.0), True)
            plan[b + "self_attn.out_proj.weight"] = (
                [d, d], ("normal", proj_std) if text else ("uniform", d ** -0.5), False)
            plan[b + "self_attn.out_proj.bias"] = ([d], ("const", 0.0), True)
            plan[b + "mlp.fc1.weight"] = (
                [4 * d, d], ("normal", fc_std) if text else ("uniform", d ** -0.5), False)
            plan[b + "mlp.fc1.bias"] = ([4 * d], ("uniform", d ** -0.5), True)
            plan[b + "mlp.fc2.weight"] = (
                [d, 4 * d], ("normal", proj_std) if text else ("uniform", (4 * d) ** -0.5), False)
            plan[b + "mlp.fc2.bias"] = ([d], ("uniform", (4 * d) ** -0.5), True)

    def layer_norm(name, d):
        plan[name + ".weight"] = ([d], ("const", 1.0), True)
        plan[name + ".bias"] = ([d], ("const", 0.0), True)

    ve = "vision_model.embeddings."
    plan[ve + "class_embedding"] = ([dv], ("normal", dv ** -0.5), False)
    plan[ve + "patch_embedding.weight"] = ([dv, 3, p, p], ("uniform", (3 * p * p) ** -0.5), False)
    plan[ve + "position_embedding.weight"] = ([1 + grid * grid, dv], ("normal", dv ** -0.5), False)
    plan[ve + "position_ids"] = ([1, 1 + grid * grid], ("positions",), False)
    layer_norm("vision_model.pre_layrnorm", dv)
    block("vision_model", dv, s["vision_layers"], text=False)
    layer_norm("vision_model.post_layernorm", dv)
    plan["visual_projection.weight"] = ([e, dv], ("normal", dv ** -0.5), False)

    te = "text_model.embeddings."
    plan[te + "token_embedding.weight"] = ([VOCAB_SIZE, dt], ("normal", 0.02), False)
    plan[te + "position_embedding.weight"] = ([CONTEXT, dt], ("normal", 0.01), False)
    plan[te + "position_ids"] = ([1, CONTEXT], ("positions",), False)
    block("text_model", dt, s["text_layers"], text=True)
    layer_norm("text_model.final_layer_norm", dt)
    plan["text_projection.weight"] = ([e, dt], ("normal", dt ** -0.5), False)

    plan["logit_scale"] = ([], ("const", math.log(1 / 0.07)), False)
    return plan


def make_tensor(name, shape, init, perturb, seed, dtype):
    """Draws one tensor with a generator of its own, returns its raw bytes."""
    if init[0] == "positions":
        return torch.arange(shape[-1], dtype=torch.int64).reshape(shape).numpy().tobytes()
    g = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(name.encode()))
    if init[0] == "normal":
        t = torch.empty(shape).normal_(0.0, init[1], generator=g)
    elif init[0] == "uniform":
        t = torch.empty(shape).uniform_(-init[1], init[1], generator=g)
    else:
        t = torch.full(shape, init[1])
    if perturb:
        t += torch.empty(shape).normal_(0.0, PERTURB_STD, generator=g)
    t = t.to(dtype)
    if dtype == torch.bfloat16:  # numpy has no bfloat16: reinterpret as int16
        t = t.view(torch.int16)
    return t.numpy().tobytes()


# ------------------------------------------------------------ safetensors

def _st_dtype(name, dtype_name):
    return "I64" if name.endswith("position_ids") else dtype_name


def _item_size(st_dtype):
    return {"I64": 8, "F32": 4, "F16": 2, "BF16": 2}[st_dtype]


def layout_order(names, dtype_name):
    """Widest dtype first, then by name (as the safetensors library does), so
    every tensor starts aligned to its element size."""
    return sorted(names, key=lambda n: (-_item_size(_st_dtype(n, dtype_name)), n))


def write_safetensors(path, names, plan, seed, dtype, dtype_name):
    header, offset = {}, 0
    for name in names:
        shape = plan[name][0]
        st = _st_dtype(name, dtype_name)
        size = math.prod(shape) * _item_size(st)
        header[name] = {"dtype": st, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    header["__metadata__"] = {"format": "pt"}
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-(8 + len(blob)) % 8)  # data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for name in names:  # streamed: one tensor in memory at a time
            shape, init, perturb = plan[name]
            f.write(make_tensor(name, shape, init, perturb, seed, dtype))
    return offset


def split_shards(names, plan, dtype_name, count):
    """Cuts the layout into `count` consecutive runs of about equal bytes,
    none empty."""
    sizes = [math.prod(plan[n][0]) * _item_size(_st_dtype(n, dtype_name)) for n in names]
    target = sum(sizes) / count
    shards, current, written = [], [], 0
    for i, (name, size) in enumerate(zip(names, sizes)):
        shards_to_open = count - len(shards) - 1
        must_cut = len(names) - i == shards_to_open  # one tensor left per shard
        full = written + size / 2 > target * (len(shards) + 1)
        if current and shards_to_open > 0 and (full or must_cut):
            shards.append(current)
            current = []
        current.append(name)
        written += size
    shards.append(current)
    return shards


# ------------------------------------------------------------ other files

def config_json(s, act, dtype_label):
    e = s["embed"]
    return {
        "architectures": ["CLIPModel"],
        "model_type": "clip",
        "projection_dim": e,
        "logit_scale_init_value": 2.6592,
        "torch_dtype": dtype_label,
        "text_config": {
            "hidden_size": s["text_width"], "intermediate_size": 4 * s["text_width"],
            "num_attention_heads": s["text_heads"], "num_hidden_layers": s["text_layers"],
            "max_position_embeddings": CONTEXT, "vocab_size": VOCAB_SIZE, "hidden_act": act,
            "layer_norm_eps": 1e-05, "bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1,
            "projection_dim": e,
        },
        "vision_config": {
            "hidden_size": s["vision_width"], "intermediate_size": 4 * s["vision_width"],
            "num_attention_heads": s["vision_heads"], "num_hidden_layers": s["vision_layers"],
            "image_size": s["image_size"], "patch_size": s["patch"], "num_channels": 3,
            "hidden_act": act, "layer_norm_eps": 1e-05, "projection_dim": e,
        },
    }


def preprocessor_json(image_size):
    return {
        "crop_size": {"height": image_size, "width": image_size},
        "do_center_crop": True, "do_normalize": True, "do_resize": True, "do_rescale": True,
        "rescale_factor": 1 / 255, "do_convert_rgb": True,
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711],
        "resample": 3, "size": {"shortest_edge": image_size},
        "image_processor_type": "CLIPImageProcessor",
    }


def byte_symbols():
    """GPT-2's bytes_to_unicode characters in vocabulary order: the printable
    bytes as themselves first, then the other 68 bytes as U+0100 onwards."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    others = [b for b in range(256) if b not in keep]
    return [chr(b) for b in keep] + [chr(256 + i) for i in range(len(others))]


def tokenizer_files_from_gz(gz_path, out_dir):
    """vocab.json + merges.txt from OpenAI's bpe_simple_vocab_16e6.txt.gz."""
    with gzip.open(gz_path, "rt", encoding="utf-8") as f:
        lines = f.read().split("\n")
    merges = lines[1:1 + MERGES_USED]
    symbols = byte_symbols()
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({tok: i for i, tok in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")


def write_tokenizer(out_dir, vocab_from):
    # ../shared beside the checkout, wherever that is.
    beside = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "shared")
    fixtures = os.environ.get("VKCLIP_FIXTURES", os.path.join(beside, "fixtures"))
    shared = os.environ.get("VKCLIP_SHARED_DATA", os.path.join(beside, "data"))
    src = vocab_from or os.path.join(fixtures, "clip-tiny-f32")
    if all(os.path.exists(os.path.join(src, n)) for n in ("vocab.json", "merges.txt")):
        for n in ("vocab.json", "merges.txt"):
            shutil.copyfile(os.path.join(src, n), os.path.join(out_dir, n))
        return "copied from " + src
    gz = os.path.join(shared, "openai-clip", "bpe_simple_vocab_16e6.txt.gz")
    if os.path.exists(gz):
        tokenizer_files_from_gz(gz, out_dir)
        return "built from " + gz
    raise SystemExit(f"make_random_clip.py: no vocab.json/merges.txt in {src} and no {gz}")


# ------------------------------------------------------------------ main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=sorted(SHAPES), default="tiny")
    for key in SHAPES["tiny"]:
        ap.add_argument("--" + key.replace("_", "-"), type=int, dest=key, help="override the shape's value")
    ap.add_argument("--act", choices=["quick_gelu", "gelu"], default="quick_gelu")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="F32")
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--vocab-from", help="folder holding vocab.json + merges.txt to copy")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)

    s = dict(SHAPES[args.shape])
    for key in s:
        if getattr(args, key) is not None:
            s[key] = getattr(args, key)
    if s["image_size"] % s["patch"] or s["vision_width"] % s["vision_heads"] or \
            s["text_width"] % s["text_heads"] or min(s.values()) <= 0:
        raise SystemExit(f"make_random_clip.py: inconsistent sizes {s}")
    plan = tensor_plan(s)
    if not 1 <= args.shards <= len(plan):
        raise SystemExit(f"make_random_clip.py: --shards must be 1..{len(plan)}")

    start = time.time()
    os.makedirs(args.out, exist_ok=True)
    dtype, dtype_label = DTYPES[args.dtype]
    for name in os.listdir(args.out):  # no stale weights from an earlier run
        if name.startswith("model") and (name.endswith(".safetensors") or name.endswith(".index.json")):
            os.remove(os.path.join(args.out, name))

    names = layout_order(plan, args.dtype)
    if args.shards == 1:
        total = write_safetensors(os.path.join(args.out, "model.safetensors"),
                                  names, plan, args.seed, dtype, args.dtype)
    else:
        weight_map, total = {}, 0
        for i, part in enumerate(split_shards(names, plan, args.dtype, args.shards)):
            fname = f"model-{i + 1:05d}-of-{args.shards:05d}.safetensors"
            total += write_safetensors(os.path.join(args.out, fname), part, plan, args.seed, dtype, args.dtype)
            weight_map.update({n: fname for n in part})
        with open(os.path.join(args.out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total},
                       "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)

    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config_json(s, args.act, dtype_label), f, indent=2)
    with open(os.path.join(args.out, "preprocessor_config.json"), "w") as f:
        json.dump(preprocessor_json(s["image_size"]), f, indent=2)
    how = write_tokenizer(args.out, args.vocab_from)

    params = sum(math.prod(v[0]) for k, v in plan.items() if not k.endswith("position_ids"))
    print(f"{args.out}: {params / 1e6:.1f}M parameters, {total / 2**20:.1f} MiB {args.dtype} "
          f"in {args.shards} file(s), tokenizer {how}, {time.time() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
