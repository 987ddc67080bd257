#!/usr/bin/python3
"""Independent PyTorch reference for Hugging Face SigLIP (SiglipModel) inference.

Written from the architecture (SiglipModel, SiglipTokenizer and
SiglipImageProcessor as transformers defines them), not from vkclip's C code,
so that it can judge it. Run with Debian's /usr/bin/python3 (torch, numpy,
Pillow, sentencepiece); transformers is not needed.

  siglip_torch.py embed-image --model DIR [--raw] IMAGE...          {"file", "embedding"}
  siglip_torch.py embed-text  --model DIR [--raw] TEXT...           {"text", "ids", "embedding"}
  siglip_torch.py tokenize    --model DIR TEXT...                   {"text", "ids"}
  siglip_torch.py probs       --model DIR --text T [--text U ...] IMAGE...
                                                                    {"file", "logits", "probs"}

SigLIP 2 checkpoints of fixed resolution (model_type siglip, Gemma's
tokenizer.model in place of spiece.model) are read the same way.

Embeddings are the towers' pooled outputs (vision: attention-pooling head;
text: last position through text_model.head), L2-normalised unless --raw.
logits[j] = cos(image, text j) * exp(logit_scale) + logit_bias and
probs = sigmoid(logits): each text scored on its own, no softmax.
Compute is float64; preprocessing is float32 as the image processor's.
"""

import argparse
import json
import os
import re
import string
import sys

import numpy as np
import sentencepiece as spm
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clip_torch import load_weights  # noqa: E402  (safetensors reader, single or sharded)

# SiglipTextConfig / SiglipVisionConfig defaults for keys config.json may omit.
TEXT_DEFAULTS = {"vocab_size": 32000, "hidden_size": 768, "intermediate_size": 3072,
                 "num_hidden_layers": 12, "num_attention_heads": 12, "max_position_embeddings": 64,
                 "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": 1e-6, "projection_size": None}
VISION_DEFAULTS = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                   "num_attention_heads": 12, "num_channels": 3, "image_size": 224, "patch_size": 16,
                   "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": 1e-6, "vision_use_head": True}
PREPROCESS_DEFAULTS = {  # SiglipImageProcessor's own defaults
    "do_resize": True, "size": {"height": 224, "width": 224}, "resample": 3,
    "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
    "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
}
TOKENIZER_DEFAULTS = {"eos_token": "</s>", "pad_token": "</s>", "unk_token": "<unk>",
                      "do_lower_case": True, "model_max_length": 64}

ACTS = {
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu": F.gelu, "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x),
    "relu": F.relu, "silu": F.silu,
}


def _read_json(path, defaults):
    out = dict(defaults)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
        out.update({k: v for k, v in raw.items() if not isinstance(v, dict) or k in defaults})
    return out


def load_config(model_dir):
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
        raw = json.load(f)
    text = dict(TEXT_DEFAULTS, **(raw.get("text_config") or {}))
    vision = dict(VISION_DEFAULTS, **(raw.get("vision_config") or {}))
    text["projection_size"] = text["projection_size"] or text["hidden_size"]
    for cfg in (text, vision):
        if cfg["hidden_act"] not in ACTS:
            raise SystemExit(f"siglip_torch.py: hidden_act '{cfg['hidden_act']}' not supported")
    return {"text": text, "vision": vision}


# ---------------------------------------------------------------- model

class Siglip:
    def __init__(self, model_dir, dtype=torch.float64):
        self.config = load_config(model_dir)
        self.dtype = dtype
        self.w = {k: torch.from_numpy(np.ascontiguousarray(v)).to(dtype)
                  for k, v in load_weights(model_dir).items()}
        self.logit_scale = float(self.w["logit_scale"].reshape(-1)[0])
        self.logit_bias = float(self.w["logit_bias"].reshape(-1)[0])

    def _ln(self, x, prefix, eps):
        w, b = self.w[prefix + ".weight"], self.w[prefix + ".bias"]
        mean = x.mean(-1, keepdim=True)
        var = ((x - mean) ** 2).mean(-1, keepdim=True)  # biased variance, as LayerNorm
        return (x - mean) / torch.sqrt(var + eps) * w + b

    def _linear(self, x, prefix):
        return F.linear(x, self.w[prefix + ".weight"], self.w[prefix + ".bias"])

    @staticmethod
    def _attend(q, k, v, heads):
        """q [N, Tq, D], k/v [N, Tk, D] -> [N, Tq, D]; no mask anywhere in SigLIP."""
        n, tq, d = q.shape
        hd = d // heads
        split = lambda y: y.reshape(n, y.shape[1], heads, hd).transpose(1, 2)  # noqa: E731
        scores = split(q) @ split(k).transpose(-1, -2) * hd ** -0.5
        out = torch.softmax(scores, dim=-1) @ split(v)
        return out.transpose(1, 2).reshape(n, tq, d)

    def _mlp(self, x, prefix, act):
        return self._linear(ACTS[act](self._linear(x, prefix + ".fc1")), prefix + ".fc2")

    def _encoder(self, x, tower, cfg):
        # Pre-LN blocks as CLIP's, but bidirectional in both towers.
        eps, heads = cfg["layer_norm_eps"], cfg["num_attention_heads"]
        for i in range(cfg["num_hidden_layers"]):
            p = f"{tower}.encoder.layers.{i}"
            h = self._ln(x, p + ".layer_norm1", eps)
            a = p + ".self_attn"
            h = self._attend(self._linear(h, a + ".q_proj"), self._linear(h, a + ".k_proj"),
                             self._linear(h, a + ".v_proj"), heads)
            x = x + self._linear(h, a + ".out_proj")
            x = x + self._mlp(self._ln(x, p + ".layer_norm2", eps), p + ".mlp", cfg["hidden_act"])
        return x

    def pooling_head(self, x):
        """SiglipMultiheadAttentionPoolingHead on post-LN tokens x [N, T, D] -> [N, D].
        The probe is the only query; the attention output is NOT added to the
        probe; the residual starts after the attention, around LN + MLP."""
        cfg = self.config["vision"]
        h = "vision_model.head."
        d = x.shape[-1]
        wq, wk, wv = self.w[h + "attention.in_proj_weight"].split(d)  # rows: q, k, v
        bq, bk, bv = self.w[h + "attention.in_proj_bias"].split(d)
        probe = self.w[h + "probe"].expand(x.shape[0], 1, d)
        y = self._attend(F.linear(probe, wq, bq), F.linear(x, wk, bk), F.linear(x, wv, bv),
                         cfg["num_attention_heads"])
        y = self._linear(y, h + "attention.out_proj")
        y = y + self._mlp(self._ln(y, h + "layernorm", cfg["layer_norm_eps"]), h + "mlp", cfg["hidden_act"])
        return y[:, 0]

    def vision_tokens(self, pixels):
        """pixels [N, 3, S, S] -> post_layernorm tokens [N, patches, D]."""
        cfg = self.config["vision"]
        e = "vision_model.embeddings."
        x = F.conv2d(pixels.to(self.dtype), self.w[e + "patch_embedding.weight"],
                     self.w[e + "patch_embedding.bias"], stride=cfg["patch_size"])
        x = x.flatten(2).transpose(1, 2)  # row-major patches; no class token, no pre-LN
        x = x + self.w[e + "position_embedding.weight"]
        x = self._encoder(x, "vision_model", cfg)
        return self._ln(x, "vision_model.post_layernorm", cfg["layer_norm_eps"])  # all tokens

    def image_features(self, pixels):
        if not self.config["vision"]["vision_use_head"]:
            raise SystemExit("siglip_torch.py: vision_use_head is false: no pooled output")
        return self.pooling_head(self.vision_tokens(pixels))

    def text_tokens(self, ids):
        """ids [N, T] (padded, T <= max_position_embeddings) -> final-LN states [N, T, D]."""
        cfg = self.config["text"]
        ids = torch.as_tensor(ids, dtype=torch.long)
        if ids.shape[1] > cfg["max_position_embeddings"]:
            raise ValueError(f"{ids.shape[1]} tokens > max_position_embeddings")
        e = "text_model.embeddings."
        x = self.w[e + "token_embedding.weight"][ids] + self.w[e + "position_embedding.weight"][: ids.shape[1]]
        x = self._encoder(x, "text_model", cfg)  # no causal mask, no padding mask
        return self._ln(x, "text_model.final_layer_norm", cfg["layer_norm_eps"])

    def text_features(self, ids):
        # Pooled at the LAST position (a pad or eos, both "</s>"), not at an argmax.
        return self._linear(self.text_tokens(ids)[:, -1], "text_model.head")

    def logits(self, image_emb, text_emb):
        """[images, texts]: cosine * exp(logit_scale) + logit_bias."""
        cos = normalized(image_emb) @ normalized(text_emb).T
        return cos * torch.tensor(self.logit_scale, dtype=cos.dtype).exp() + self.logit_bias


# -------------------------------------------------------------- tokenizer

class Tokenizer:
    """SiglipTokenizer (the slow, SentencePiece one) with padding="max_length"."""

    def __init__(self, model_dir):
        self.cfg = _read_json(os.path.join(model_dir, "tokenizer_config.json"), TOKENIZER_DEFAULTS)
        for k in ("eos_token", "pad_token", "unk_token"):  # may be AddedToken dicts
            if isinstance(self.cfg[k], dict):
                self.cfg[k] = self.cfg[k]["content"]
        with open(os.path.join(model_dir, "spiece.model"), "rb") as f:
            proto = f.read()
        # SiglipTokenizer switches the model's add_dummy_prefix off. Appending
        # ModelProto field 3 (normalizer_spec) = {field 3 (add_dummy_prefix): 0}
        # does that: protobuf merges a repeated sub-message field into the first.
        self.sp = spm.SentencePieceProcessor()
        self.sp.LoadFromSerializedProto(proto + b"\x1a\x02\x18\x00")
        self.eos, self.unk, self.pad = (self.sp.piece_to_id(self.cfg[k]) for k in ("eos_token", "unk_token", "pad_token"))
        self.specials = sorted({self.cfg["eos_token"], self.cfg["unk_token"], self.cfg["pad_token"]}, key=len,
                               reverse=True)
        self.unk_len = len(self.sp.encode(self.cfg["unk_token"]))
        self.length = int(self.cfg["model_max_length"])

    @staticmethod
    def canonicalize(text):
        # big_vision's: drop ASCII punctuation, squeeze whitespace, strip.
        text = text.translate(str.maketrans("", "", string.punctuation))
        return re.sub(r"\s+", " ", text).strip()

    def _pieces(self, chunk):
        text = self.canonicalize(chunk)
        # Encodes "<unk>" + text and drops the pieces of "<unk>": with no dummy
        # prefix, this keeps the text's leading "▁" as SentencePiece sees it.
        pieces = self.sp.encode(self.cfg["unk_token"] + text, out_type=str)
        return pieces[self.unk_len:] if len(pieces) >= self.unk_len else pieces

    def tokens(self, text):
        text = "\u2581" + text.replace("\u2581", " ")
        special = "(" + "|".join(re.escape(s) for s in self.specials) + ")"
        if self.cfg["do_lower_case"]:
            # Character by character (so a final sigma stays σ), specials untouched.
            text = re.sub(special + "|(.+?)", lambda m: m.group(1) or m.group(2).lower(), text)
        # Special tokens typed in the text stay whole and eat the spaces beside them.
        parts = re.split(special, text)
        for i in range(1, len(parts), 2):
            parts[i - 1] = parts[i - 1].rstrip()
            parts[i + 1] = parts[i + 1].lstrip()
        out = []
        for i, part in enumerate(parts):
            if part:
                out.extend([part] if i % 2 else self._pieces(part))
        if len(out) > 1 and out[0] == "\u2581" and out[1] in self.specials:
            out = out[1:]
        return out

    def encode(self, text):
        """ids truncated to leave room for eos, eos appended (unless the text
        ended with one), then padded with the pad id to model_max_length."""
        ids = [self.sp.piece_to_id(p) for p in self.tokens(text)]
        ids = ids[: self.length - 1] if len(ids) >= self.length else ids
        if not ids or ids[-1] != self.eos:
            ids.append(self.eos)
        return ids + [self.pad] * (self.length - len(ids))


class Siglip2Tokenizer:
    """SigLIP 2's: transformers' Siglip2Tokenizer (Gemma's tokenizer with a
    Lowercase normalizer in front) as the checkpoints' tokenizer.json sets it
    up: no <bos>, <eos> appended after truncation to length - 1, right padding
    with <pad> to the text tower's length."""

    def __init__(self, model_dir, length):
        self.sp = spm.SentencePieceProcessor(model_file=os.path.join(model_dir, "tokenizer.model"))
        self.eos, self.pad = self.sp.piece_to_id("<eos>"), self.sp.piece_to_id("<pad>")
        self.length = length

    @staticmethod
    def lowercase(text):
        # The tokenizers library lowercases character by character (Rust's
        # char::to_lowercase): no final-sigma rule, İ to i + U+0307.
        return "".join(c.lower() for c in text)

    def encode(self, text):
        ids = self.sp.encode(self.lowercase(text))[: self.length - 1] + [self.eos]
        return ids + [self.pad] * (self.length - len(ids))


def make_tokenizer(model_dir):
    """SigLIP's spiece.model, else SigLIP 2's tokenizer.model."""
    if os.path.exists(os.path.join(model_dir, "spiece.model")) or \
            not os.path.exists(os.path.join(model_dir, "tokenizer.model")):
        return Tokenizer(model_dir)
    return Siglip2Tokenizer(model_dir, int(load_config(model_dir)["text"]["max_position_embeddings"]))


# ---------------------------------------------------------- preprocessing

def preprocess(path, pcfg):
    """SiglipImageProcessor's slow path: RGB, Pillow resize to exactly H x W on
    the uint8 image, x * (1/255) in float64 stored as float32, then (x - mean) / std
    in float32. Returns float32 [3, H, W]."""
    img = Image.open(path).convert("RGB")  # the real config omits do_convert_rgb (no-op on RGB)
    if pcfg["do_resize"]:
        size = pcfg["size"]
        h, w = (size, size) if isinstance(size, int) else (size["height"], size["width"])
        img = img.resize((w, h), resample=pcfg["resample"])
    x = np.asarray(img, dtype=np.uint8)
    if pcfg["do_rescale"]:
        x = (x.astype(np.float64) * pcfg["rescale_factor"]).astype(np.float32)
    else:
        x = x.astype(np.float32)
    if pcfg["do_normalize"]:
        x = (x - np.array(pcfg["image_mean"], dtype=np.float32)) / np.array(pcfg["image_std"], dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))


# ------------------------------------------------------------------ main

def normalized(v):
    return v / v.norm(dim=-1, keepdim=True)


def _floats(t):
    return [float(x) for x in t]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("embed-image", "embed-text", "tokenize", "probs"):
        p = sub.add_parser(name)
        p.add_argument("--model", required=True, help="model directory (Hugging Face layout)")
        if name.startswith("embed"):
            p.add_argument("--raw", action="store_true", help="do not L2-normalise")
        if name == "probs":
            p.add_argument("--text", action="append", required=True, help="a label text (repeat)")
        p.add_argument("inputs", nargs="+", metavar="IMAGE" if name in ("embed-image", "probs") else "TEXT")
    args = ap.parse_args(argv)

    if args.cmd in ("embed-text", "tokenize", "probs"):
        tok = make_tokenizer(args.model)
    if args.cmd == "tokenize":
        for text in args.inputs:
            print(json.dumps({"text": text, "ids": tok.encode(text)}, ensure_ascii=False))
        return 0
    model = Siglip(args.model)
    pcfg = _read_json(os.path.join(args.model, "preprocessor_config.json"), PREPROCESS_DEFAULTS)
    with torch.inference_mode():
        if args.cmd == "embed-image":
            emb = model.image_features(torch.stack([preprocess(p, pcfg) for p in args.inputs]))
            for path, e in zip(args.inputs, emb if args.raw else normalized(emb)):
                print(json.dumps({"file": path, "embedding": _floats(e)}))
        elif args.cmd == "embed-text":
            ids = [tok.encode(t) for t in args.inputs]
            emb = model.text_features(ids)
            for text, i, e in zip(args.inputs, ids, emb if args.raw else normalized(emb)):
                print(json.dumps({"text": text, "ids": i, "embedding": _floats(e)}, ensure_ascii=False))
        else:
            img = model.image_features(torch.stack([preprocess(p, pcfg) for p in args.inputs]))
            txt = model.text_features([tok.encode(t) for t in args.text])
            logits = model.logits(img, txt)
            for path, row in zip(args.inputs, logits):
                print(json.dumps({"file": path, "logits": _floats(row), "probs": _floats(torch.sigmoid(row))}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
