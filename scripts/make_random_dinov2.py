#!/usr/bin/python3
"""Writes a DINOv2 with random weights in Hugging Face layout, of any size.

  make_random_dinov2.py --out models/dinov2-tiny
  make_random_dinov2.py --width 64 --layers 2 --heads 4 --registers 4 --dtype F16 --out DIR
  make_random_dinov2.py --image-size 224 --crop 224 --swiglu --out DIR

Writes config.json, model.safetensors and preprocessor_config.json with the
names and shapes transformers' Dinov2Model / Dinov2WithRegistersModel save
(no "dinov2." prefix). Nothing is left at its neutral value: layer scales are
uniform in [0.1, 2], LayerNorm gains and biases are pushed far from 1 and 0,
and the position embeddings are large enough that interpolating them wrongly
shows. Each tensor has its own generator seeded from (--seed, name), so the
same seed gives the same values whatever the dtype.
Run with Debian's /usr/bin/python3 (torch).
"""

import argparse
import functools
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from random_weights import DTYPES, plan_layer_norm, plan_linear, write_safetensors  # noqa: E402

# Activations scripts/reference/dinov2_torch.py knows (transformers' ACT2FN names).
QK_GAIN = 3.0
ACTS = ["gelu", "gelu_python", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "quick_gelu",
        "relu", "silu", "swish"]


def swiglu_hidden(d, mlp_ratio):
    """Hidden width of transformers' SwiGLU FFN: 2/3 of the MLP's, rounded up to 8."""
    return (int(int(d * mlp_ratio) * 2 / 3) + 7) // 8 * 8


def tensor_plan(a):
    """name -> (shape, init), as random_weights.py describes."""
    d, p = a.width, a.patch
    grid = a.image_size // p
    plan = {}

    linear = functools.partial(plan_linear, plan)

    def layer_norm(name):
        plan_layer_norm(plan, name, d)

    e = "embeddings."
    plan[e + "cls_token"] = ([1, 1, d], ("normal", 0.5))
    plan[e + "mask_token"] = ([1, d], ("normal", 0.02))  # only used in pre-training
    if a.registers:
        plan[e + "register_tokens"] = ([1, a.registers, d], ("normal", 0.5))
    plan[e + "position_embeddings"] = ([1, grid * grid + 1, d], ("normal", 0.5))
    b = (3 * p * p) ** -0.5
    plan[e + "patch_embeddings.projection.weight"] = ([d, 3, p, p], ("uniform", -b, b))
    plan[e + "patch_embeddings.projection.bias"] = ([d], ("uniform", -b, b))
    for i in range(a.layers):
        L = f"encoder.layer.{i}."
        layer_norm(L + "norm1")
        # Query/key 3x larger: peaked attention, so [CLS] depends on the image
        # content rather than on the mean of the patches.
        for q, gain in (("query", QK_GAIN), ("key", QK_GAIN), ("value", 1.0)):
            linear(L + "attention.attention." + q, d, d, gain)
        linear(L + "attention.output.dense", d, d)
        plan[L + "layer_scale1.lambda1"] = ([d], ("uniform", 0.1, 2.0))
        layer_norm(L + "norm2")
        if a.swiglu:
            h = swiglu_hidden(d, a.mlp_ratio)
            linear(L + "mlp.weights_in", 2 * h, d)
            linear(L + "mlp.weights_out", d, h)
        else:
            h = int(d * a.mlp_ratio)
            linear(L + "mlp.fc1", h, d)
            linear(L + "mlp.fc2", d, h)
        plan[L + "layer_scale2.lambda1"] = ([d], ("uniform", 0.1, 2.0))
    layer_norm("layernorm")
    return plan


def config_json(a, dtype_label):
    # The keys facebook/dinov2-* ship, plus the one each model class adds.
    cfg = {
        "architectures": ["Dinov2WithRegistersModel" if a.registers else "Dinov2Model"],
        "model_type": "dinov2_with_registers" if a.registers else "dinov2",
        "hidden_size": a.width, "num_hidden_layers": a.layers, "num_attention_heads": a.heads,
        "mlp_ratio": int(a.mlp_ratio) if a.mlp_ratio == int(a.mlp_ratio) else a.mlp_ratio,
        "hidden_act": a.act, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
        "drop_path_rate": 0.0, "initializer_range": 0.02, "layer_norm_eps": 1e-06,
        "layerscale_value": 1.0, "image_size": a.image_size, "patch_size": a.patch,
        "num_channels": 3, "qkv_bias": True, "use_swiglu_ffn": a.swiglu, "torch_dtype": dtype_label,
    }
    if a.registers:
        cfg["num_register_tokens"] = a.registers
    else:
        cfg["use_mask_token"] = True
    return cfg


def preprocessor_json(a):
    # As facebook/dinov2-base ships it (BitImageProcessor, ImageNet statistics).
    return {
        "crop_size": {"height": a.crop, "width": a.crop},
        "do_center_crop": True, "do_convert_rgb": True, "do_normalize": True,
        "do_rescale": True, "do_resize": True,
        "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225],
        "image_processor_type": "BitImageProcessor",
        "resample": 3, "rescale_factor": 1 / 255, "size": {"shortest_edge": a.shortest_edge},
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--width", type=int, default=64, help="hidden_size")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--mlp-ratio", type=float, default=4)
    ap.add_argument("--patch", type=int, default=14)
    ap.add_argument("--image-size", type=int, default=518,
                    help="config image_size: the grid the position embeddings are for")
    ap.add_argument("--registers", type=int, default=0,
                    help="0: Dinov2Model; N > 0: Dinov2WithRegistersModel with N register tokens")
    ap.add_argument("--swiglu", action="store_true", help="use_swiglu_ffn (mlp.weights_in/weights_out)")
    ap.add_argument("--act", choices=ACTS, default="gelu")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="F32")
    ap.add_argument("--shortest-edge", type=int, default=256)
    ap.add_argument("--crop", type=int, default=224)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)

    sizes = (a.width, a.layers, a.heads, a.patch, a.image_size, a.shortest_edge, a.crop)
    if min(sizes) <= 0 or a.registers < 0 or a.mlp_ratio <= 0 or a.width % a.heads \
            or a.image_size < a.patch:
        raise SystemExit(f"make_random_dinov2.py: inconsistent sizes {vars(a)}")
    plan = tensor_plan(a)
    os.makedirs(a.out, exist_ok=True)
    dtype, dtype_label = DTYPES[a.dtype]
    total = write_safetensors(os.path.join(a.out, "model.safetensors"), plan, a.seed, dtype, a.dtype)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config_json(a, dtype_label), f, indent=2)
    with open(os.path.join(a.out, "preprocessor_config.json"), "w") as f:
        json.dump(preprocessor_json(a), f, indent=2)
    params = sum(math.prod(s) for s, _ in plan.values())
    print(f"{a.out}: {params / 1e6:.2f}M parameters, {total / 2**20:.1f} MiB {a.dtype}, "
          f"{a.registers} register(s), {'SwiGLU' if a.swiglu else a.act} MLP")
    return 0


if __name__ == "__main__":
    sys.exit(main())
