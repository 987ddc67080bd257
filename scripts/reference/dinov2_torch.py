#!/usr/bin/python3
"""Independent PyTorch reference for Hugging Face DINOv2 image embeddings.

Written from the architecture (Dinov2Model, Dinov2WithRegistersModel and
BitImageProcessor as transformers defines them), not from vkclip's C code,
so that it can judge it. Run with Debian's /usr/bin/python3 (torch, numpy,
Pillow); transformers is not needed.

  dinov2_torch.py --model DIR [--raw] [--pixels-out FILE.npy] IMAGE...

One JSON line per image: {"file": IMAGE, "embedding": [...]}, the final
LayerNorm's [CLS] token (the pooler output), L2-normalised unless --raw.
Compute is float64, except the position-embedding interpolation, which
transformers does in float32.
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clip_torch import load_weights  # noqa: E402  (safetensors reader, single or sharded)

# transformers' defaults for keys a config.json may leave out. The registers
# config defaults patch_size to 16, the plain one to 14.
DEFAULTS = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
            "mlp_ratio": 4, "hidden_act": "gelu", "layer_norm_eps": 1e-6, "image_size": 224,
            "patch_size": 14, "use_swiglu_ffn": False, "num_register_tokens": 0}
REGISTER_DEFAULTS = {"patch_size": 16, "num_register_tokens": 4}
PREPROCESS_DEFAULTS = {  # BitImageProcessor's own defaults (CLIP statistics)
    "do_resize": True, "do_center_crop": True, "do_rescale": True, "do_normalize": True,
    "do_convert_rgb": True, "rescale_factor": 1 / 255, "resample": 3,
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "size": {"shortest_edge": 224}, "crop_size": {"height": 224, "width": 224},
}

ACTS = {
    "gelu": F.gelu, "gelu_python": F.gelu,  # exact erf form
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_fast": lambda x: 0.5 * x * (1 + torch.tanh(x * 0.7978845608 * (1 + 0.044715 * x * x))),
    "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x),
    "relu": F.relu, "silu": F.silu, "swish": F.silu,
}


def load_config(model_dir):
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
        raw = json.load(f)
    registers = raw.get("model_type") == "dinov2_with_registers"
    cfg = dict(DEFAULTS, **(REGISTER_DEFAULTS if registers else {}))
    cfg.update(raw)
    cfg["registers_model"] = registers
    if not registers:
        cfg["num_register_tokens"] = 0  # plain Dinov2Model has none, whatever the file says
    if cfg["hidden_act"] not in ACTS:
        raise SystemExit(f"dinov2_torch.py: hidden_act '{cfg['hidden_act']}' not supported")
    return cfg


def load_preprocessor_config(model_dir):
    out = dict(PREPROCESS_DEFAULTS)
    path = os.path.join(model_dir, "preprocessor_config.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            out.update(json.load(f))
    size, crop = out["size"], out["crop_size"]
    out["size"] = {"shortest_edge": size} if isinstance(size, int) else size
    out["crop_hw"] = (crop, crop) if isinstance(crop, int) else (crop["height"], crop["width"])
    return out


# ---------------------------------------------------------- preprocessing

def preprocess(path, p):
    """BitImageProcessor, slow (PIL) path: RGB, resize the uint8 image with PIL,
    centre crop (zero-padding when too small), x * factor in float64 then
    float32, (x - mean) / std in float32. Returns float32 [3, H, W]."""
    img = Image.open(path)
    if p["do_convert_rgb"] and img.mode != "RGB":
        img = img.convert("RGB")
    if p["do_resize"]:
        w, h = img.size
        if "shortest_edge" in p["size"]:
            # Shorter side to the edge, longer side truncated, not rounded.
            edge = p["size"]["shortest_edge"]
            short, long = (w, h) if w <= h else (h, w)
            new_long = int(edge * long / short)
            size = (edge, new_long) if w <= h else (new_long, edge)  # PIL order (w, h)
        else:
            size = (p["size"]["width"], p["size"]["height"])
        img = img.resize(size, resample=p["resample"])
    x = np.asarray(img, dtype=np.uint8)
    if x.ndim != 3 or x.shape[2] != 3:
        raise SystemExit(f"dinov2_torch.py: {path}: not a 3-channel image after conversion")
    x = x.transpose(2, 0, 1)  # C, H, W
    if p["do_center_crop"]:
        ch, cw = p["crop_hw"]
        h, w = x.shape[1:]
        top, left = (h - ch) // 2, (w - cw) // 2  # floor, also when negative
        if top < 0 or left < 0:  # smaller than the crop: centre it on zeros first
            nh, nw = max(h, ch), max(w, cw)
            canvas = np.zeros((3, nh, nw), dtype=x.dtype)
            tp, lp = math.ceil((nh - h) / 2), math.ceil((nw - w) / 2)
            canvas[:, tp:tp + h, lp:lp + w] = x
            x, top, left = canvas, top + tp, left + lp
        x = x[:, max(top, 0):top + ch, max(left, 0):left + cw]
    x = x.astype(np.float32)
    if p["do_rescale"]:
        x = (x.astype(np.float64) * p["rescale_factor"]).astype(np.float32)
    if p["do_normalize"]:
        mean = np.array(p["image_mean"], dtype=np.float32)[:, None, None]
        std = np.array(p["image_std"], dtype=np.float32)[:, None, None]
        x = (x - mean) / std
    return torch.from_numpy(np.ascontiguousarray(x))


# ----------------------------------------------------------------- model

class Dinov2:
    def __init__(self, model_dir, dtype=torch.float64):
        self.cfg = load_config(model_dir)
        self.pre = load_preprocessor_config(model_dir)
        self.dtype = dtype
        self.w = {k: torch.from_numpy(np.ascontiguousarray(v)).to(dtype)
                  for k, v in load_weights(model_dir).items()}
        self.interpolated = False  # whether the last forward resized the position grid

    def _linear(self, x, name):
        return F.linear(x, self.w[name + ".weight"], self.w.get(name + ".bias"))  # qkv_bias may be off

    def _ln(self, x, name):
        return F.layer_norm(x, x.shape[-1:], self.w[name + ".weight"], self.w[name + ".bias"],
                            self.cfg["layer_norm_eps"])

    def position_embeddings(self, h, w):
        """[1, 1 + gh*gw, D] for an h x w pixel input."""
        pos = self.w["embeddings.position_embeddings"]
        n_pos = pos.shape[1] - 1
        patch = self.cfg["patch_size"]
        gh, gw = h // patch, w // patch
        self.interpolated = not (gh * gw == n_pos and h == w)  # transformers' skip test
        if not self.interpolated:
            return pos
        side = int(math.sqrt(n_pos))
        grid = pos[:, 1:].reshape(1, side, side, -1).permute(0, 3, 1, 2)
        # Plain DINOv2 uses torch's bicubic (A = -0.75, clamped borders); the
        # registers model asks for antialias=True, i.e. Pillow's filter
        # (A = -0.5, window renormalised at borders, widened when shrinking).
        grid = F.interpolate(grid.float(), size=(gh, gw), mode="bicubic", align_corners=False,
                             antialias=self.cfg["registers_model"]).to(pos.dtype)
        return torch.cat([pos[:, :1], grid.permute(0, 2, 3, 1).reshape(1, gh * gw, -1)], dim=1)

    def _attention(self, x, prefix):
        n, t, d = x.shape
        heads = self.cfg["num_attention_heads"]
        hd = d // heads
        q, k, v = (self._linear(x, prefix + ".attention." + m).reshape(n, t, heads, hd).transpose(1, 2)
                   for m in ("query", "key", "value"))
        att = torch.softmax(q @ k.transpose(-1, -2) * hd ** -0.5, dim=-1)
        out = (att @ v).transpose(1, 2).reshape(n, t, d)
        return self._linear(out, prefix + ".output.dense")

    def _mlp(self, x, prefix):
        if self.cfg["use_swiglu_ffn"]:
            a, b = self._linear(x, prefix + ".weights_in").chunk(2, dim=-1)  # gate first
            return self._linear(F.silu(a) * b, prefix + ".weights_out")
        act = ACTS[self.cfg["hidden_act"]]
        return self._linear(act(self._linear(x, prefix + ".fc1")), prefix + ".fc2")

    def forward(self, pixels):
        """pixels [N, 3, H, W] -> pooled output [N, D]."""
        x = pixels.to(self.dtype)
        n, _, h, w = x.shape
        e = "embeddings."
        patch = self.cfg["patch_size"]
        x = F.conv2d(x, self.w[e + "patch_embeddings.projection.weight"],
                     self.w[e + "patch_embeddings.projection.bias"], stride=patch)
        x = x.flatten(2).transpose(1, 2)  # N, patches (row-major), D
        x = torch.cat([self.w[e + "cls_token"].expand(n, -1, -1), x], dim=1)
        x = x + self.position_embeddings(h, w)
        r = self.cfg["num_register_tokens"]
        if r:  # after the position embeddings, which registers do not get
            regs = self.w[e + "register_tokens"].expand(n, -1, -1)
            x = torch.cat([x[:, :1], regs, x[:, 1:]], dim=1)
        for i in range(self.cfg["num_hidden_layers"]):
            L = f"encoder.layer.{i}"
            ls1, ls2 = self.w[L + ".layer_scale1.lambda1"], self.w[L + ".layer_scale2.lambda1"]
            x = x + ls1 * self._attention(self._ln(x, L + ".norm1"), L + ".attention")
            x = x + ls2 * self._mlp(self._ln(x, L + ".norm2"), L + ".mlp")
        return self._ln(x, "layernorm")[:, 0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="model directory (Hugging Face layout)")
    ap.add_argument("--raw", action="store_true", help="print the embedding without L2 normalisation")
    ap.add_argument("--pixels-out", help="save the preprocessed float32 [n, 3, H, W] here (.npy)")
    ap.add_argument("images", nargs="+")
    args = ap.parse_args(argv)

    model = Dinov2(args.model)
    pixels = [preprocess(p, model.pre) for p in args.images]
    if args.pixels_out:
        np.save(args.pixels_out, torch.stack(pixels).numpy())  # needs equal sizes (the crop)
    with torch.inference_mode():
        for path, px in zip(args.images, pixels):
            emb = model.forward(px[None])[0]
            if not args.raw:
                emb = emb / emb.norm()
            print(json.dumps({"file": path, "embedding": [float(v) for v in emb]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
