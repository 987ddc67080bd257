"""random_weights: what the random-model generators (make_random_dinov2.py,
make_random_siglip.py) share. A model is a plan, name -> (shape, init), with
init one of ("normal", std), ("uniform", lo, hi), ("gain",) (1 + N(0, 0.2),
for LayerNorm weights) or ("const", v) (v + N(0, 0.05)); each tensor is drawn
from a generator seeded by (seed, its name) as it is written, one dtype
throughout (a full-size model never sits in memory twice)."""

import json
import math
import struct
import zlib

import torch

# --dtype names: the torch dtype, and the name config.json's torch_dtype uses.
DTYPES = {"F32": (torch.float32, "float32"), "F16": (torch.float16, "float16"),
          "BF16": (torch.bfloat16, "bfloat16")}


def plan_linear(plan, name, n_out, n_in, gain=1.0):
    """A Linear with PyTorch's default bounds (the weight's times gain)."""
    b = n_in ** -0.5
    plan[name + ".weight"] = ([n_out, n_in], ("uniform", -gain * b, gain * b))
    plan[name + ".bias"] = ([n_out], ("uniform", -b, b))


def plan_layer_norm(plan, name, d):
    """Weights and biases away from 1 and 0, so that a forward pass that
    skips them is caught."""
    plan[name + ".weight"] = ([d], ("gain",))
    plan[name + ".bias"] = ([d], ("normal", 0.2))


def make_tensor(name, shape, init, seed, dtype):
    """Draws one tensor with a generator of its own; returns its raw bytes."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(name.encode()))
    t = torch.empty(shape)
    if init[0] == "normal":
        t.normal_(0.0, init[1], generator=g)
    elif init[0] == "uniform":
        t.uniform_(init[1], init[2], generator=g)
    elif init[0] == "gain":
        t.normal_(1.0, 0.2, generator=g)
    elif init[0] == "const":  # the constant plus a little noise, so the seed shows
        t.normal_(init[1], 0.05, generator=g)
    else:
        raise ValueError(f"{name}: unknown init {init!r}")
    return tensor_bytes(t.to(dtype))


def tensor_bytes(t):
    """The raw little-endian bytes of a tensor (numpy has no bfloat16, so it
    is reinterpreted as int16 first)."""
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def write_safetensors(path, plan, seed, dtype, dtype_name):
    """The plan's tensors, drawn with make_tensor. Names sorted, so one dtype
    keeps every tensor aligned; the data starts 8-byte aligned. Returns the
    data's size in bytes."""
    names, header, offset = sorted(plan), {}, 0
    item = torch.empty(0, dtype=dtype).element_size()
    for name in names:
        size = math.prod(plan[name][0]) * item
        header[name] = {"dtype": dtype_name, "shape": plan[name][0], "data_offsets": [offset, offset + size]}
        offset += size
    header["__metadata__"] = {"format": "pt"}
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-(8 + len(blob)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)) + blob)
        for name in names:
            f.write(make_tensor(name, plan[name][0], plan[name][1], seed, dtype))
    return offset
