#!/usr/bin/python3
"""Writes a SigLIP with random weights in Hugging Face layout, of any size.

  make_random_siglip.py --out models/siglip-tiny
  make_random_siglip.py --vision-width 64 --vision-layers 2 --vision-heads 4 --image-size 64 \\
                        --text-width 64 --text-layers 2 --dtype F16 --out DIR

Writes config.json, model.safetensors (the names and shapes SiglipModel's
save_pretrained writes: no position_ids, which SigLIP does not persist),
preprocessor_config.json as google/siglip-base-patch16-224 ships it, and a
tokenizer laid out as that checkpoint's: spiece.model (a small SentencePiece
unigram model with byte fallback, trained here on generated captions),
tokenizer_config.json and special_tokens_map.json. With --tokenizer gemma the
checkpoint is laid out as a SigLIP 2 one of fixed resolution
(google/siglip2-base-patch16-224): Gemma's tokenizer.model (a small BPE
SentencePiece model with Gemma's special pieces, trained here) in place of
spiece.model, and a bilinear resize.
Nothing is left at its neutral value: LayerNorm gains and biases are pushed
far from 1 and 0, every bias is random, and queries/keys are scaled up so that
attention (the pooling head's above all) depends on content. Each tensor has
its own generator seeded from (--seed, name), so the same seed gives the same
values whatever the dtype. The tokenizer depends on --seed and --vocab only.
Run with Debian's /usr/bin/python3 (torch, sentencepiece).
"""

import argparse
import functools
import io
import json
import math
import os
import random
import sys

import sentencepiece as spm
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from random_weights import DTYPES, plan_layer_norm, plan_linear, write_safetensors  # noqa: E402

ACTS = ["gelu_pytorch_tanh", "gelu", "gelu_new", "quick_gelu", "relu", "silu"]
QK_GAIN = 2.0
# The text tower pools a pad token at the last position: only attention brings
# the caption there. Sharper attention and larger values make captions differ.
TEXT_QK_GAIN, TEXT_V_GAIN = 3.0, 3.0
# The real tokenizer's special pieces (T5 layout): pad 0, eos 1, unk 2, no bos.
PAD, EOS, UNK = "<pad>", "</s>", "<unk>"
# SigLIP 2's (Gemma's layout): pad 0, eos 1, bos 2, unk 3, then user-defined
# pieces such as <mask> and the chat markers.
GEMMA_PAD, GEMMA_EOS, GEMMA_BOS, GEMMA_UNK = "<pad>", "<eos>", "<bos>", "<unk>"
GEMMA_USER_PIECES = ["<mask>", "<start_of_turn>", "<end_of_turn>"]
# Logit scale and bias: sigmoid(cos * 10 - 1) spans about 0.05 .. 0.7 for the
# cosines random towers give, so probabilities are neither all 0 nor all 1.
LOGIT_SCALE, LOGIT_BIAS = math.log(10.0), -1.0


# ------------------------------------------------------------ tensor plan

def tensor_plan(a):
    """name -> (shape, init), as random_weights.py describes."""
    plan = {}

    linear = functools.partial(plan_linear, plan)

    layer_norm = functools.partial(plan_layer_norm, plan)

    def encoder(tower, d, layers, mlp, qk=QK_GAIN, v=1.0):
        for i in range(layers):
            L = f"{tower}.encoder.layers.{i}."
            layer_norm(L + "layer_norm1", d)
            for q, gain in (("q_proj", qk), ("k_proj", qk), ("v_proj", v), ("out_proj", 1.0)):
                linear(L + "self_attn." + q, d, d, gain)
            layer_norm(L + "layer_norm2", d)
            linear(L + "mlp.fc1", mlp, d)
            linear(L + "mlp.fc2", d, mlp)

    dv, p = a.vision_width, a.patch
    v = "vision_model."
    b = (3 * p * p) ** -0.5
    plan[v + "embeddings.patch_embedding.weight"] = ([dv, 3, p, p], ("uniform", -b, b))
    plan[v + "embeddings.patch_embedding.bias"] = ([dv], ("uniform", -b, b))
    plan[v + "embeddings.position_embedding.weight"] = ([(a.image_size // p) ** 2, dv], ("normal", 0.5))
    encoder("vision_model", dv, a.vision_layers, a.vision_mlp)
    layer_norm(v + "post_layernorm", dv)
    # Attention-pooling head: one learned query (probe) through an
    # nn.MultiheadAttention (q, k, v stacked in in_proj), then LN + MLP.
    h = v + "head."
    plan[h + "probe"] = ([1, 1, dv], ("normal", 1.0))
    plan[h + "attention.in_proj_weight"] = ([3 * dv, dv], ("uniform", -QK_GAIN * dv ** -0.5, QK_GAIN * dv ** -0.5))
    plan[h + "attention.in_proj_bias"] = ([3 * dv], ("uniform", -dv ** -0.5, dv ** -0.5))
    linear(h + "attention.out_proj", dv, dv)
    layer_norm(h + "layernorm", dv)
    linear(h + "mlp.fc1", a.vision_mlp, dv)
    linear(h + "mlp.fc2", dv, a.vision_mlp)

    dt = a.text_width
    t = "text_model."
    plan[t + "embeddings.token_embedding.weight"] = ([a.vocab, dt], ("normal", 0.5))
    plan[t + "embeddings.position_embedding.weight"] = ([a.context, dt], ("normal", 0.3))
    encoder("text_model", dt, a.text_layers, a.text_mlp, TEXT_QK_GAIN, TEXT_V_GAIN)
    layer_norm(t + "final_layer_norm", dt)
    linear(t + "head", a.projection, dt)  # a biased Linear, unlike CLIP's projections

    # nn.Parameter(torch.randn(1)) in SiglipModel: shape [1], not [].
    plan["logit_scale"] = ([1], ("const", LOGIT_SCALE))
    plan["logit_bias"] = ([1], ("const", LOGIT_BIAS))
    return plan


# ------------------------------------------------------------ json files

def config_json(a, dtype_label):
    # Every key of SiglipTextConfig / SiglipVisionConfig. The token ids are the
    # config class's defaults (CLIP's, meaningless for this vocabulary), as in
    # the real checkpoints: the tokenizer files, not these, say pad/eos.
    return {
        "architectures": ["SiglipModel"],
        "model_type": "siglip",
        "initializer_factor": 1.0,
        "torch_dtype": dtype_label,
        "text_config": {
            "model_type": "siglip_text_model",
            "vocab_size": a.vocab, "hidden_size": a.text_width, "intermediate_size": a.text_mlp,
            "num_hidden_layers": a.text_layers, "num_attention_heads": a.text_heads,
            "max_position_embeddings": a.context, "hidden_act": a.act, "layer_norm_eps": 1e-06,
            "attention_dropout": 0.0, "projection_size": a.projection,
            "pad_token_id": 1, "bos_token_id": 49406, "eos_token_id": 49407,
        },
        "vision_config": {
            "model_type": "siglip_vision_model",
            "hidden_size": a.vision_width, "intermediate_size": a.vision_mlp,
            "num_hidden_layers": a.vision_layers, "num_attention_heads": a.vision_heads,
            "num_channels": 3, "image_size": a.image_size, "patch_size": a.patch,
            "hidden_act": a.act, "layer_norm_eps": 1e-06, "attention_dropout": 0.0,
        },
    }


def preprocessor_json(a):
    # As google/siglip-base-patch16-224 ships it (SigLIP 2: bilinear, resample 2): a plain resize to S x S (no
    # aspect ratio kept, no crop), /255, then (x - 0.5) / 0.5. No
    # do_convert_rgb key (the processor's default is None: no conversion).
    return {
        "do_normalize": True, "do_rescale": True, "do_resize": True,
        "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
        "image_processor_type": "SiglipImageProcessor", "processor_class": "SiglipProcessor",
        "resample": 2 if a.tokenizer == "gemma" else 3, "rescale_factor": 1 / 255,
        "size": {"height": a.image_size, "width": a.image_size},
    }


def _special(content):
    return {"content": content, "lstrip": True, "normalized": False, "rstrip": True,
            "single_word": False, "special": True}


def tokenizer_config_json(a):
    # pad is "</s>" (id 1), the same piece as eos, so padding keeps the last
    # position an end-of-sequence token; "<pad>" (id 0) is never produced.
    return {
        "added_tokens_decoder": {"1": _special(EOS), "2": _special(UNK)},
        "additional_special_tokens": [],
        "clean_up_tokenization_spaces": True,
        "do_lower_case": True,
        "eos_token": EOS, "pad_token": EOS, "unk_token": UNK,
        "model_input_names": ["input_ids"],  # no attention_mask reaches the model
        "model_max_length": a.context,
        "processor_class": "SiglipProcessor",
        "sp_model_kwargs": {},
        "tokenizer_class": "SiglipTokenizer",
    }


def gemma_tokenizer_config_json(a):
    # As the SigLIP 2 checkpoints ship it: Gemma's tokenizer without <bos>,
    # with <eos>, padded on the right (the length itself lives in their
    # tokenizer.json, which vkclip does not read).
    def added(content):
        return {"content": content, "lstrip": False, "normalized": False, "rstrip": False,
                "single_word": False, "special": True}
    pieces = [GEMMA_PAD, GEMMA_EOS, GEMMA_BOS, GEMMA_UNK] + GEMMA_USER_PIECES
    return {
        "add_bos_token": False, "add_eos_token": True,
        "added_tokens_decoder": {str(i): added(p) for i, p in enumerate(pieces)},
        "bos_token": GEMMA_BOS, "eos_token": GEMMA_EOS, "pad_token": GEMMA_PAD, "unk_token": GEMMA_UNK,
        "clean_up_tokenization_spaces": False,
        "model_max_length": a.context, "padding_side": "right",
        "processor_class": "SiglipProcessor", "sp_model_kwargs": {},
        "spaces_between_special_tokens": False,
        "tokenizer_class": "GemmaTokenizer",
    }


def gemma_special_tokens_map_json():
    plain = lambda c: {"content": c, "lstrip": False, "normalized": False, "rstrip": False,  # noqa: E731
                       "single_word": False}
    return {"bos_token": plain(GEMMA_BOS), "eos_token": plain(GEMMA_EOS), "pad_token": plain(GEMMA_PAD),
            "unk_token": plain(GEMMA_UNK)}


def special_tokens_map_json():
    strip = lambda c: {k: v for k, v in _special(c).items() if k != "special"}  # noqa: E731
    return {"eos_token": strip(EOS), "pad_token": strip(EOS), "unk_token": strip(UNK)}


# ------------------------------------------------------------ tokenizer

WORDS = {
    "adj": "small big red blue green yellow black white old young happy tiny large bright dark "
           "wooden shiny striped fluffy quiet busy sunny snowy rainy empty crowded".split(),
    "noun": "cat dog bird horse car bus bicycle tree house boat man woman child girl boy apple "
            "banana cake pizza chair table window street river mountain beach field city train "
            "flower book cup laptop phone clock kite ball sheep cow elephant giraffe zebra".split(),
    "verb": "sitting standing running sleeping walking playing eating jumping lying flying "
            "swimming waiting parked".split(),
    "prep": "on in near under behind beside".split(),
    "place": "grass table road bed snow water field sand sky kitchen park garden street".split(),
    # A few non-ASCII words, so some pieces hold them and others fall back to bytes.
    "extra": "café zürich naïve crème brûlée façade jalapeño smörgåsbord".split(),
}


def captions(seed, count=600):
    """Lowercase, punctuation-free captions: what SiglipTokenizer hands to
    SentencePiece after canonicalisation."""
    rng = random.Random(seed)
    pick = lambda k: rng.choice(WORDS[k])  # noqa: E731
    out = []
    for i in range(count):
        n = rng.randint(1, 5)
        subject = f"{rng.choice(['a', 'the', 'two', 'three', 'some'])} {pick('adj')} {pick('noun')}"
        if n == 1:
            line = f"a photo of {subject}"
        elif n == 2:
            line = f"{subject} {pick('verb')} {pick('prep')} the {pick('place')}"
        elif n == 3:
            line = f"there is {subject} and {pick('adj')} {pick('noun')} {i % 100}"
        elif n == 4:
            line = f"a {pick('extra')} with {subject} {pick('verb')}"
        else:
            line = f"{pick('noun')} {pick('noun')} {pick('adj')} {pick('verb')} {rng.randint(0, 2024)}"
        out.append(line)
    return out


def train_spiece(seed, vocab):
    """A unigram SentencePiece model laid out as SigLIP's (T5's special ids,
    byte fallback, nmt_nfkc normalisation, add_dummy_prefix left on: the HF
    tokenizer switches it off when it loads the file)."""
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(captions(seed)), model_writer=buf,
        model_type="unigram", vocab_size=vocab, character_coverage=1.0,
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, pad_piece=PAD, eos_piece=EOS, unk_piece=UNK,
        byte_fallback=True, normalization_rule_name="nmt_nfkc",
        num_threads=1, minloglevel=2)
    return buf.getvalue()


def train_gemma_like(seed, vocab):
    """A BPE SentencePiece model laid out as Gemma's (SigLIP 2's text): its
    special ids and user-defined pieces, byte fallback, digits split, no
    normalisation at all (identity, no dummy prefix, whitespace kept), so
    that only the lowercasing in front of it prepares the text. Trained on
    the captions with some uppercase and doubled spaces left in, so that
    pieces for both exist."""
    rng = random.Random(seed + 7)
    lines = [c.upper() if rng.random() < 0.1 else c.replace(" ", "  ", 1) if rng.random() < 0.2 else c
             for c in captions(seed)]
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=buf,
        model_type="bpe", vocab_size=vocab, character_coverage=1.0,
        pad_id=0, eos_id=1, bos_id=2, unk_id=3,
        pad_piece=GEMMA_PAD, eos_piece=GEMMA_EOS, bos_piece=GEMMA_BOS, unk_piece=GEMMA_UNK,
        user_defined_symbols=GEMMA_USER_PIECES, byte_fallback=True, split_digits=True,
        normalization_rule_name="identity", add_dummy_prefix=False, remove_extra_whitespaces=False,
        allow_whitespace_only_pieces=True, num_threads=1, minloglevel=2)
    return buf.getvalue()


# ------------------------------------------------------------------ main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--vision-width", type=int, default=64, help="vision hidden_size")
    ap.add_argument("--vision-layers", type=int, default=2)
    ap.add_argument("--vision-heads", type=int, default=4)
    ap.add_argument("--vision-mlp", type=int, help="vision intermediate_size (default 4 x width)")
    ap.add_argument("--patch", type=int, default=16)
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--text-width", type=int, default=64, help="text hidden_size")
    ap.add_argument("--text-layers", type=int, default=2)
    ap.add_argument("--text-heads", type=int, default=4)
    ap.add_argument("--text-mlp", type=int, help="text intermediate_size (default 4 x width)")
    ap.add_argument("--vocab", type=int, default=500, help="SentencePiece vocabulary size (> 259)")
    ap.add_argument("--context", type=int, default=64, help="max_position_embeddings = padded length")
    ap.add_argument("--projection", type=int,
                    help="text projection_size (text_model.head's output); default and needed for "
                         "scores: the vision width")
    ap.add_argument("--tokenizer", choices=["siglip", "gemma"], default="siglip",
                    help="siglip: spiece.model (SigLIP); gemma: tokenizer.model laid out as SigLIP 2's")
    ap.add_argument("--act", choices=ACTS, default="gelu_pytorch_tanh")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="F32")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    a.vision_mlp = a.vision_mlp or 4 * a.vision_width
    a.text_mlp = a.text_mlp or 4 * a.text_width
    a.projection = a.projection or a.vision_width

    sizes = (a.vision_width, a.vision_layers, a.vision_heads, a.vision_mlp, a.patch, a.image_size,
             a.text_width, a.text_layers, a.text_heads, a.text_mlp, a.context, a.projection)
    if min(sizes) <= 0 or a.vision_width % a.vision_heads or a.text_width % a.text_heads \
            or a.image_size < a.patch or a.vocab <= 259 + 30:
        raise SystemExit(f"make_random_siglip.py: inconsistent sizes {vars(a)}")

    gemma = a.tokenizer == "gemma"
    pieces = train_gemma_like(a.seed, a.vocab) if gemma else train_spiece(a.seed, a.vocab)
    plan = tensor_plan(a)
    os.makedirs(a.out, exist_ok=True)
    dtype, dtype_label = DTYPES[a.dtype]
    total = write_safetensors(os.path.join(a.out, "model.safetensors"), plan, a.seed, dtype, a.dtype)
    with open(os.path.join(a.out, "tokenizer.model" if gemma else "spiece.model"), "wb") as f:
        f.write(pieces)
    for name, obj in (("config.json", config_json(a, dtype_label)),
                      ("preprocessor_config.json", preprocessor_json(a)),
                      ("tokenizer_config.json", gemma_tokenizer_config_json(a) if gemma else tokenizer_config_json(a)),
                      ("special_tokens_map.json", gemma_special_tokens_map_json() if gemma
                       else special_tokens_map_json())):
        with open(os.path.join(a.out, name), "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2)
    params = sum(math.prod(s) for s, _ in plan.values())
    print(f"{a.out}: {params / 1e6:.2f}M parameters, {total / 2**20:.1f} MiB {a.dtype}, "
          f"{(a.image_size // a.patch) ** 2} patches, vocab {a.vocab}, context {a.context}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
