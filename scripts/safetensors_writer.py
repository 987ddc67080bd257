"""safetensors_writer: the file writer the random-model generators share.
One dtype throughout, tensors made one at a time as they are written (a
full-size model never sits in memory twice)."""

import json
import math
import struct

import torch

# --dtype names: the torch dtype, and the name config.json's torch_dtype uses.
DTYPES = {"F32": (torch.float32, "float32"), "F16": (torch.float16, "float16"),
          "BF16": (torch.bfloat16, "bfloat16")}


def tensor_bytes(t):
    """The raw little-endian bytes of a tensor (numpy has no bfloat16, so it
    is reinterpreted as int16 first)."""
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def write_safetensors(path, plan, make, dtype, dtype_name):
    """plan: name -> (shape, init); make(name, shape, init) gives a tensor's
    bytes. Names sorted, so one dtype keeps every tensor aligned; the data
    starts 8-byte aligned. Returns the data's size in bytes."""
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
            f.write(make(name, plan[name][0], plan[name][1]))
    return offset
