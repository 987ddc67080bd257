#!/usr/bin/python3
"""Trains a small CLIP on rendered shapes and saves it in Hugging Face layout.

  OMP_WAIT_POLICY=PASSIVE train_shapes_clip.py --out data/shapes-clip
  train_shapes_clip.py --steps 20 --batch 32 --out /tmp/smoke     # a quick smoke run

The model has exactly CLIP's architecture (Hugging Face CLIPModel semantics: a ViT
with a class token and pre_layrnorm, a causal text transformer pooled at the
end-of-text token, projections without bias, a learnable logit_scale), and its own
byte-level BPE learned from the caption corpus, in OpenAI's vocab.json/merges.txt
format. Images are rendered on the fly (shapes_render.py) and preprocessed exactly
as CLIP preprocesses at inference. Some colour x shape pairs never appear in
training (shapes_render.held_out_combinations), so zero-shot accuracy on them
measures transfer. The same seed gives the same weights (fixed thread count,
every sample drawn from a generator seeded by (seed, sample index)).
Run with Debian's /usr/bin/python3 (torch 1.13, numpy, Pillow, regex).
"""

import argparse
import collections
import html
import itertools
import json
import math
import multiprocessing
import os
import platform
import struct
import sys
import time

import numpy as np
import regex
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shapes_render as R  # noqa: E402

SOT, EOT = "<|startoftext|>", "<|endoftext|>"
END_OF_WORD = "</w>"
# OpenAI CLIP's pre-tokenisation (simple_tokenizer.py), applied to cleaned, lowercased text.
PIECES = regex.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
                       regex.IGNORECASE)


# ============================================================== tokenizer

def byte_symbols():
    """GPT-2's bytes_to_unicode in vocabulary order: [(byte, character)], the
    printable bytes as themselves first, then the others from U+0100 on."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    others = [b for b in range(256) if b not in keep]
    return [(b, chr(b)) for b in keep] + [(b, chr(256 + i)) for i, b in enumerate(others)]


BYTE_CHAR = dict(byte_symbols())


def clean_text(text):
    """OpenAI's basic_clean + whitespace_clean + lower, without ftfy (captions are
    plain ASCII, where ftfy changes nothing)."""
    text = html.unescape(html.unescape(text)).strip()
    return regex.sub(r"\s+", " ", text).strip().lower()


def words_of(text):
    """The pre-tokenised pieces of text, each spelled in byte characters."""
    return ["".join(BYTE_CHAR[b] for b in piece.encode("utf-8")) for piece in PIECES.findall(clean_text(text))]


def initial_symbols(word):
    return tuple(word[:-1]) + (word[-1] + END_OF_WORD,)


def merge_pair(symbols, pair):
    """symbols with every occurrence of pair (left to right) joined."""
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            out.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return tuple(out)


def learn_bpe(word_counts, max_merges):
    """Greedy BPE: repeatedly join the most frequent adjacent pair (ties broken by
    the pair's text, so the result does not depend on dict order) until max_merges
    or until every word is a single symbol."""
    words = {initial_symbols(w): n for w, n in sorted(word_counts.items())}
    merges = []
    while len(merges) < max_merges:
        pairs = collections.Counter()
        for symbols, n in words.items():
            for pair in zip(symbols, symbols[1:]):
                pairs[pair] += n
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        words = {merge_pair(s, best): n for s, n in words.items()}
    return merges


class BpeTokenizer:
    """CLIP's tokenizer over a vocabulary laid out as OpenAI's: the 256 byte symbols,
    the same with </w>, one token per merge, then <|startoftext|> and <|endoftext|>
    (the highest id, where the text tower pools)."""

    def __init__(self, vocab, merges):
        self.vocab = vocab
        self.ranks = {pair: i for i, pair in enumerate(merges)}
        self.sot, self.eot = vocab[SOT], vocab[EOT]
        self.cache = {}

    @classmethod
    def from_merges(cls, merges):
        symbols = [c for _, c in byte_symbols()]
        tokens = symbols + [s + END_OF_WORD for s in symbols]
        for left, right in merges:  # a merge may rebuild a token another made
            if left + right not in tokens:
                tokens.append(left + right)
        tokens += [SOT, EOT]
        return cls({t: i for i, t in enumerate(tokens)}, merges)

    @classmethod
    def load(cls, directory):
        with open(os.path.join(directory, "vocab.json"), encoding="utf-8") as f:
            vocab = json.load(f)
        with open(os.path.join(directory, "merges.txt"), encoding="utf-8") as f:
            lines = [line for line in f.read().split("\n")[1:] if line]
        return cls(vocab, [tuple(line.split()) for line in lines])

    def save(self, directory):
        with open(os.path.join(directory, "vocab.json"), "w", encoding="utf-8") as f:
            json.dump(self.vocab, f, ensure_ascii=False)
        with open(os.path.join(directory, "merges.txt"), "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in self.ranks))

    def word_ids(self, word):
        if word not in self.cache:
            symbols = initial_symbols(word)
            while len(symbols) > 1:
                pair = min(zip(symbols, symbols[1:]), key=lambda p: self.ranks.get(p, math.inf))
                if pair not in self.ranks:
                    break
                symbols = merge_pair(symbols, pair)
            self.cache[word] = [self.vocab[s] for s in symbols]
        return self.cache[word]

    def encode(self, text, context):
        """SOT, the text's ids, EOT; content cut to context - 2 ids, as CLIP truncates."""
        ids = [i for w in words_of(text) for i in self.word_ids(w)]
        return [self.sot] + ids[:context - 2] + [self.eot]

    def batch(self, texts, context):
        """LongTensor [n, longest] padded with EOT (the causal mask makes padding after
        the EOT irrelevant), and each row's first EOT position."""
        rows = [self.encode(t, context) for t in texts]
        ids = torch.full((len(rows), max(map(len, rows))), self.eot, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, :len(row)] = torch.tensor(row)
        return ids, torch.tensor([len(r) - 1 for r in rows])


# ================================================================ captions

# Attribute fields of an image, and of what a caption asks for (ANY: not said).
KIND, COLOUR, SHAPE, BACKGROUND, PAIR, SIZE = range(6)
ANY = -1
KIND_ONE_SHAPE, KIND_TWO_SHAPES, KIND_PATTERN0 = 0, 1, 2
SMALL, MEDIUM, LARGE = 0, 1, 2
# A background's word in captions: a plain one by its colour, the others by kind.
BACKGROUND_WORDS = {"gradient": "gradient", "noise": "noisy", "stripes": "striped",
                    "checkerboard": "checkered", "dots": "dotted"}
BACKGROUND_CODES = {name: i for i, name in enumerate(R.COLOUR_NAMES + tuple(BACKGROUND_WORDS))}

SHAPE_TEMPLATES = ("{x}", "{x}", "a photo of {x}", "a picture of {x}", "a drawing of {x}", "an image of {x}",
                   "a rendering of {x}")
BACKGROUND_TEMPLATES = ("{x} on {bg} background", "a photo of {x} on {bg} background",
                        "{x} in front of {bg} background")
TWO_SHAPE_TEMPLATES = ("{x} and {y}", "a photo of {x} and {y}", "{x} next to {y}", "a drawing of {x} and {y}")
PATTERN_TEMPLATES = ("{x}", "{x}", "a photo of {x}", "a picture of {x}", "an image of {x}")
SHAPE_ONLY_TEMPLATES = ("{x}", "a photo of {x}")
COLOUR_ONLY_TEMPLATES = ("{x} shape", "something {colour}", "a photo of something {colour}")


def with_article(rng, phrase):
    """'a'/'an' before phrase; 'a' stays before a vowel now and then, because label
    lists put names into templates like 'a photo of a {}.'."""
    vowel = phrase[0] in "aeiou"
    return ("an " if vowel and rng.random() < 0.7 else "a ") + phrase


def colour_word(rng, colour):
    return "grey" if colour == "gray" and rng.random() < 0.2 else colour


def size_class(item):
    return SMALL if item.size < 0.3 else LARGE if item.size > 0.6 else MEDIUM


def combination_index(colour, shape):
    return R.COLOUR_NAMES.index(colour) * len(R.SHAPES) + R.SHAPES.index(shape)


def background_code(bg):
    if bg.kind == "plain":
        return BACKGROUND_CODES[bg.name]
    return BACKGROUND_CODES.get(bg.kind, ANY)  # test patterns' own backgrounds have no word


def image_attributes(scene):
    """What a caption may be checked against: [kind, colour, shape, background, pair, size]."""
    a = [ANY] * 6
    a[BACKGROUND] = background_code(scene.background)
    if scene.pattern:
        a[KIND] = KIND_PATTERN0 + R.PATTERN_NAMES.index(scene.pattern)
    elif len(scene.shapes) == 1:
        item = scene.shapes[0]
        a[KIND], a[COLOUR], a[SHAPE], a[SIZE] = KIND_ONE_SHAPE, R.COLOUR_NAMES.index(item.colour), \
            R.SHAPES.index(item.shape), size_class(item)
    else:
        first, second = sorted(combination_index(i.colour, i.shape) for i in scene.shapes)
        a[KIND], a[PAIR] = KIND_TWO_SHAPES, first * len(R.COLOUR_NAMES) * len(R.SHAPES) + second
    return a


def finish(rng, text):
    return text + "." if rng.random() < 0.5 else text


def one_shape_caption(rng, scene, attributes):
    """A caption of a one-shape scene and the attributes it asks for."""
    item = scene.shapes[0]
    wants = [KIND_ONE_SHAPE] + [ANY] * 5
    roll = rng.random()
    if roll < 0.12:  # the shape alone: shape is the slower to learn
        wants[SHAPE] = attributes[SHAPE]
        template = SHAPE_ONLY_TEMPLATES[rng.integers(len(SHAPE_ONLY_TEMPLATES))]
        return finish(rng, template.format(x=with_article(rng, item.shape))), wants
    if roll < 0.16:  # the colour alone
        wants[COLOUR] = attributes[COLOUR]
        colour = colour_word(rng, item.colour)
        template = COLOUR_ONLY_TEMPLATES[rng.integers(len(COLOUR_ONLY_TEMPLATES))]
        return finish(rng, template.format(x=with_article(rng, colour), colour=colour)), wants
    wants[COLOUR], wants[SHAPE] = attributes[COLOUR], attributes[SHAPE]
    phrase = f"{colour_word(rng, item.colour)} {item.shape}"
    if attributes[SIZE] != MEDIUM and rng.random() < 0.3:
        wants[SIZE] = attributes[SIZE]
        adjective = "small" if attributes[SIZE] == SMALL else ("large", "big")[rng.integers(2)]
        phrase = f"{adjective} {phrase}"
    if attributes[BACKGROUND] != ANY and rng.random() < 0.3:
        wants[BACKGROUND] = attributes[BACKGROUND]
        bg = scene.background
        bg_word = colour_word(rng, bg.name) if bg.kind == "plain" else BACKGROUND_WORDS[bg.kind]
        template = BACKGROUND_TEMPLATES[rng.integers(len(BACKGROUND_TEMPLATES))]
        return finish(rng, template.format(x=with_article(rng, phrase), bg=with_article(rng, bg_word))), wants
    if rng.random() < 0.15:  # the engine's default template, verbatim
        return finish(rng, f"a photo of a {phrase}"), wants
    template = SHAPE_TEMPLATES[rng.integers(len(SHAPE_TEMPLATES))]
    return finish(rng, template.format(x=with_article(rng, phrase) if rng.random() < 0.85 else phrase)), wants


def caption(rng, scene):
    """(caption text, attributes it asks for: ANY where it says nothing)."""
    attributes = image_attributes(scene)
    if scene.pattern:
        phrase = R.PATTERNS[scene.pattern][rng.integers(2)]
        template = PATTERN_TEMPLATES[rng.integers(len(PATTERN_TEMPLATES))]
        return finish(rng, template.format(x=with_article(rng, phrase))), [attributes[KIND]] + [ANY] * 5
    if len(scene.shapes) == 2:
        order = scene.shapes if rng.random() < 0.5 else scene.shapes[::-1]
        x, y = (with_article(rng, f"{colour_word(rng, i.colour)} {i.shape}") for i in order)
        template = TWO_SHAPE_TEMPLATES[rng.integers(len(TWO_SHAPE_TEMPLATES))]
        wants = [KIND_TWO_SHAPES, ANY, ANY, ANY, attributes[PAIR], ANY]
        return finish(rng, template.format(x=x, y=y)), wants
    return one_shape_caption(rng, scene, attributes)



# ================================================================== model
# Module and parameter names are Hugging Face CLIPModel's, so state_dict() is the
# checkpoint.

def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


ACTIVATIONS = {"quick_gelu": quick_gelu, "gelu": F.gelu}


class Attention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(width, width) for _ in range(4))

    def forward(self, x, causal):
        b, t, d = x.shape
        head_dim = d // self.heads

        def split(y):
            return y.view(b, t, self.heads, head_dim).transpose(1, 2)

        q = split(self.q_proj(x) * head_dim ** -0.5)
        scores = q @ split(self.k_proj(x)).transpose(-1, -2)
        if causal:
            scores = scores + torch.full((t, t), -math.inf).triu(1)
        out = scores.softmax(-1) @ split(self.v_proj(x))
        return self.out_proj(out.transpose(1, 2).reshape(b, t, d))


class Mlp(nn.Module):
    def __init__(self, width, hidden, act):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(width, hidden), nn.Linear(hidden, width)
        self.act = ACTIVATIONS[act]

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class EncoderLayer(nn.Module):
    def __init__(self, tower):
        super().__init__()
        width = tower["hidden_size"]
        self.layer_norm1 = nn.LayerNorm(width, eps=tower["layer_norm_eps"])
        self.self_attn = Attention(width, tower["num_attention_heads"])
        self.layer_norm2 = nn.LayerNorm(width, eps=tower["layer_norm_eps"])
        self.mlp = Mlp(width, tower["intermediate_size"], tower["hidden_act"])

    def forward(self, x, causal):
        x = x + self.self_attn(self.layer_norm1(x), causal)
        return x + self.mlp(self.layer_norm2(x))


class Encoder(nn.Module):
    def __init__(self, tower):
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(tower) for _ in range(tower["num_hidden_layers"]))

    def forward(self, x, causal=False):
        for layer in self.layers:
            x = layer(x, causal)
        return x


class VisionEmbeddings(nn.Module):
    def __init__(self, tower):
        super().__init__()
        width, patch = tower["hidden_size"], tower["patch_size"]
        positions = (tower["image_size"] // patch) ** 2 + 1
        self.class_embedding = nn.Parameter(torch.randn(width) * width ** -0.5)
        self.patch_embedding = nn.Conv2d(3, width, patch, patch, bias=False)
        self.position_embedding = nn.Embedding(positions, width)
        self.register_buffer("position_ids", torch.arange(positions)[None])

    def forward(self, pixels):
        patches = self.patch_embedding(pixels).flatten(2).transpose(1, 2)
        cls = self.class_embedding.expand(len(pixels), 1, -1)
        return torch.cat([cls, patches], 1) + self.position_embedding(self.position_ids)


class VisionTransformer(nn.Module):
    def __init__(self, tower):
        super().__init__()
        width, eps = tower["hidden_size"], tower["layer_norm_eps"]
        self.embeddings = VisionEmbeddings(tower)
        self.pre_layrnorm = nn.LayerNorm(width, eps=eps)  # sic: Hugging Face's name
        self.encoder = Encoder(tower)
        self.post_layernorm = nn.LayerNorm(width, eps=eps)

    def forward(self, pixels):
        x = self.encoder(self.pre_layrnorm(self.embeddings(pixels)))
        return self.post_layernorm(x[:, 0])


class TextEmbeddings(nn.Module):
    def __init__(self, tower):
        super().__init__()
        width, context = tower["hidden_size"], tower["max_position_embeddings"]
        self.token_embedding = nn.Embedding(tower["vocab_size"], width)
        self.position_embedding = nn.Embedding(context, width)
        self.register_buffer("position_ids", torch.arange(context)[None])

    def forward(self, ids):
        return self.token_embedding(ids) + self.position_embedding(self.position_ids[:, :ids.shape[1]])


class TextTransformer(nn.Module):
    def __init__(self, tower):
        super().__init__()
        self.embeddings = TextEmbeddings(tower)
        self.encoder = Encoder(tower)
        self.final_layer_norm = nn.LayerNorm(tower["hidden_size"], eps=tower["layer_norm_eps"])

    def forward(self, ids, eot_positions):
        x = self.final_layer_norm(self.encoder(self.embeddings(ids), causal=True))
        return x[torch.arange(len(ids)), eot_positions]


class ShapesClip(nn.Module):
    def __init__(self, config):
        super().__init__()
        vision, text, dim = config["vision_config"], config["text_config"], config["projection_dim"]
        self.vision_model = VisionTransformer(vision)
        self.text_model = TextTransformer(text)
        self.visual_projection = nn.Linear(vision["hidden_size"], dim, bias=False)
        self.text_projection = nn.Linear(text["hidden_size"], dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(config["logit_scale_init_value"]))

    def encode_image(self, pixels):
        return F.normalize(self.visual_projection(self.vision_model(pixels)), dim=-1)

    def encode_text(self, ids, eot_positions):
        return F.normalize(self.text_projection(self.text_model(ids, eot_positions)), dim=-1)


def initialise(model):
    """OpenAI CLIP's initialisation: the image tower keeps PyTorch's defaults except
    for its class and position embeddings (normal, width^-0.5); the text tower gets
    OpenAI's scaled normals; both projections normal(width^-0.5). Smaller weights in
    the image tower make every image's embedding nearly the same at the start (the
    class token barely looks at the patches), which stalls contrastive learning."""
    vision, text = model.vision_model, model.text_model
    width = vision.embeddings.class_embedding.shape[0]
    nn.init.normal_(vision.embeddings.class_embedding, 0.0, width ** -0.5)
    nn.init.normal_(vision.embeddings.position_embedding.weight, 0.0, width ** -0.5)
    width, layers = text.final_layer_norm.weight.shape[0], len(text.encoder.layers)
    nn.init.normal_(text.embeddings.token_embedding.weight, 0.0, 0.02)
    nn.init.normal_(text.embeddings.position_embedding.weight, 0.0, 0.01)
    residual_std = width ** -0.5 * (2 * layers) ** -0.5
    for layer in text.encoder.layers:
        attn, mlp = layer.self_attn, layer.mlp
        for proj in (attn.q_proj, attn.k_proj, attn.v_proj):
            nn.init.normal_(proj.weight, 0.0, width ** -0.5)
        nn.init.normal_(attn.out_proj.weight, 0.0, residual_std)
        nn.init.normal_(mlp.fc1.weight, 0.0, (2 * width) ** -0.5)
        nn.init.normal_(mlp.fc2.weight, 0.0, residual_std)
    for proj in (model.visual_projection, model.text_projection):
        nn.init.normal_(proj.weight, 0.0, proj.weight.shape[1] ** -0.5)


def model_config(args, vocab_size):
    def tower(width, layers, heads):
        return {"hidden_size": width, "intermediate_size": 4 * width, "num_attention_heads": heads,
                "num_hidden_layers": layers, "hidden_act": args.act, "layer_norm_eps": 1e-05,
                "projection_dim": args.embed}
    text = tower(args.text_width, args.text_layers, args.text_heads)
    text.update(vocab_size=vocab_size, max_position_embeddings=args.context,
                bos_token_id=vocab_size - 2, eos_token_id=vocab_size - 1, pad_token_id=vocab_size - 1)
    vision = tower(args.vision_width, args.vision_layers, args.vision_heads)
    vision.update(image_size=args.image_size, patch_size=args.patch, num_channels=3)
    return {"architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": args.embed,
            "logit_scale_init_value": math.log(1 / 0.07), "torch_dtype": DTYPES[args.dtype][1],
            "text_config": text, "vision_config": vision}


def preprocessor_config(image_size):
    return {"crop_size": {"height": image_size, "width": image_size}, "do_center_crop": True,
            "do_normalize": True, "do_resize": True, "do_rescale": True, "rescale_factor": 1 / 255,
            "do_convert_rgb": True, "image_mean": list(R.CLIP_MEAN), "image_std": list(R.CLIP_STD),
            "resample": 3, "size": {"shortest_edge": image_size},
            "image_processor_type": "CLIPImageProcessor"}


# ============================================================ safetensors

DTYPES = {"F32": (torch.float32, "float32"), "F16": (torch.float16, "float16")}
ST_DTYPE = {torch.float32: "F32", torch.float16: "F16", torch.int64: "I64"}
TORCH_DTYPE = {v: k for k, v in ST_DTYPE.items()}


def write_safetensors(path, tensors):
    """tensors: name -> tensor, laid out widest dtype first then by name, so every
    tensor starts aligned to its element size."""
    names = sorted(tensors, key=lambda n: (-tensors[n].element_size(), n))
    header, offset = {}, 0
    for name in names:
        size = tensors[name].numel() * tensors[name].element_size()
        header[name] = {"dtype": ST_DTYPE[tensors[name].dtype], "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + size]}
        offset += size
    header["__metadata__"] = {"format": "pt"}
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-(8 + len(blob)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)) + blob)
        for name in names:
            f.write(tensors[name].contiguous().numpy().tobytes())


def read_safetensors(path):
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        data = f.read()
    header.pop("__metadata__", None)
    tensors = {}
    for name, h in header.items():
        start, end = h["data_offsets"]
        flat = torch.frombuffer(bytearray(data[start:end]), dtype=TORCH_DTYPE[h["dtype"]])
        tensors[name] = flat.reshape(h["shape"])
    return tensors


def save_model(model, tokenizer, config, directory, dtype):
    os.makedirs(directory, exist_ok=True)
    tensors = {name: t.detach().to(dtype) if t.is_floating_point() else t.detach()
               for name, t in model.state_dict().items()}
    write_safetensors(os.path.join(directory, "model.safetensors"), tensors)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(directory, "preprocessor_config.json"), "w") as f:
        json.dump(preprocessor_config(config["vision_config"]["image_size"]), f, indent=2)
    tokenizer.save(directory)


def load_model(directory):
    """The saved model (weights in float32 whatever the file's dtype), its config
    and its tokenizer."""
    with open(os.path.join(directory, "config.json")) as f:
        config = json.load(f)
    model = ShapesClip(config)
    tensors = read_safetensors(os.path.join(directory, "model.safetensors"))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in tensors.items()})
    return model.eval(), config, BpeTokenizer.load(directory)


# =================================================================== data

PATTERN_SHARE, TWO_SHAPE_SHARE = 0.08, 0.10


def training_combinations(held_out):
    return [c for c in R.colour_shape_classes() if c not in set(held_out)]


def sample_training_scene(rng, combinations):
    """A pattern, two shapes or (mostly) one shape, of the training combinations only."""
    roll = rng.random()
    if roll < PATTERN_SHARE:
        return scene_from_spec(rng, ("pattern", R.PATTERN_NAMES[rng.integers(len(R.PATTERN_NAMES))]))
    if roll < PATTERN_SHARE + TWO_SHAPE_SHARE:
        return scene_from_spec(rng, two_shape_spec(rng, combinations))
    return scene_from_spec(rng, ("one", combinations[rng.integers(len(combinations))]))


def two_shape_spec(rng, combinations):
    first, second = rng.choice(len(combinations), 2, replace=False)
    return ("two", combinations[first], combinations[second])


# A curriculum for one-shape scenes. A ViT learns shape from its linear patch
# embedding, and each extra hue of shape and background is one more direction
# its edge detectors must cover: with every colour at once it sits for thousands
# of steps at chance on shape, while white, black and gray shapes on neutral
# backgrounds teach shape within a few hundred. So training starts with a share
# of such "easy" scenes (large neutral shapes on neutral backgrounds) that falls
# to none, and the other scenes go from neutral backgrounds and large shapes to
# the full mix, by the end of the curriculum (difficulty 0 -> 1).
NEUTRAL_ONLY = {"neutral": 1.0, "plain": 0.0, "gradient": 0.0, "noise": 0.0, "texture": 0.0}
EASY_BACKGROUNDS = {"neutral": 0.85, "plain": 0.15, "gradient": 0.0, "noise": 0.0, "texture": 0.0}
EASY_START = 0.7  # share of easy scenes among one-shape scenes at the start
EASY_MIN_SIZE, MIN_SIZE, MAX_SIZE = 0.35, 0.15, 0.8
TRAIN_SHORT_SIDE = (64, 160)  # frames a little larger than the model's input, cheap to draw


def scene_from_spec(rng, spec, difficulty=1.0):
    """spec: ("pattern", name), ("two", pair, pair), ("easy", (colour, shape)) or
    ("one", (colour, shape))."""
    width, height = R.frame_size(rng, *TRAIN_SHORT_SIDE)
    if spec[0] == "pattern":
        return R.sample_pattern_scene(rng, spec[1], width, height)
    if spec[0] == "two":
        return R.sample_two_shape_scene(rng, spec[1], spec[2], width, height)
    if spec[0] == "easy":
        return R.sample_shape_scene(rng, *spec[1], width, height, size_range=(EASY_MIN_SIZE, MAX_SIZE),
                                    backgrounds=NEUTRAL_ONLY)
    backgrounds = {k: (1 - difficulty) * EASY_BACKGROUNDS[k] + difficulty * w for k, w in R.BACKGROUND_WEIGHTS.items()}
    size_range = (EASY_MIN_SIZE + difficulty * (MIN_SIZE - EASY_MIN_SIZE), MAX_SIZE)
    return R.sample_shape_scene(rng, *spec[1], width, height, size_range=size_range, backgrounds=backgrounds)


def one_shape_group(rng, combinations, size):
    """size trained pairs sharing a colour (two groups in three) or a shape, all
    different: within such a group the shared attribute tells nothing apart, so
    the batch holds hard negatives for the other one (colour alone is learnt far
    sooner than shape)."""
    if size <= 1:
        return [combinations[rng.integers(len(combinations))]]
    if rng.random() < 2 / 3:
        colour = R.COLOUR_NAMES[rng.integers(len(R.COLOUR_NAMES))]
        members = [c for c in combinations if c[0] == colour]
    else:
        shape = R.SHAPES[rng.integers(len(R.SHAPES))]
        members = [c for c in combinations if c[1] == shape]
    chosen = rng.choice(len(members), min(size, len(members)), replace=False)
    return [members[i] for i in chosen]


def plan_batch(rng, size, combinations, group_size, difficulty=1.0):
    """What each sample of a batch shows: patterns and two-shape scenes in their
    shares, the rest one shape each: easy scenes of neutral-coloured trained pairs
    in a share that falls with difficulty, the others in groups of group_size."""
    specs = [("pattern", R.PATTERN_NAMES[rng.integers(len(R.PATTERN_NAMES))])
             for _ in range(round(size * PATTERN_SHARE))]
    specs += [two_shape_spec(rng, combinations) for _ in range(round(size * TWO_SHAPE_SHARE))]
    neutral = [c for c in combinations if c[0] in R.NEUTRALS]
    easy = round((size - len(specs)) * EASY_START * (1 - difficulty))
    specs += [("easy", neutral[i]) for i in rng.integers(len(neutral), size=easy)]
    singles = []
    while len(singles) < size - len(specs):
        singles += one_shape_group(rng, combinations, group_size)
    return specs + [("one", pair) for pair in singles[:size - len(specs)]]


def make_batch(seed, first_index, size, combinations, image_size, group_size, difficulty):
    """Samples first_index .. first_index + size - 1: the batch planned by a
    generator of its own, each sample drawn from its own generator.
    Returns pixels [n,3,S,S], captions, caption wants [n,6], image attributes [n,6]."""
    specs = plan_batch(np.random.default_rng([seed, 1 << 41, first_index]), size, combinations, group_size,
                       difficulty)
    pixels, texts, wants, attributes = [], [], [], []
    for index, spec in zip(range(first_index, first_index + size), specs):
        rng = np.random.default_rng([seed, index])
        scene = scene_from_spec(rng, spec, difficulty)
        text, asked = caption(rng, scene)
        pixels.append(R.preprocess(R.render(scene), image_size))
        texts.append(text)
        wants.append(asked)
        attributes.append(image_attributes(scene))
    return np.stack(pixels), texts, np.array(wants), np.array(attributes)


class BatchSource:
    """Batches rendered ahead by worker processes (0: inline), yielded in order and
    at most PREFETCH per worker ahead of training (memory stays bounded); which
    worker renders a batch does not change its contents."""

    PREFETCH = 2

    def __init__(self, seed, batch, steps, combinations, image_size, group_size, curriculum_steps, workers):
        self.jobs = [(seed, step * batch, batch, combinations, image_size, group_size,
                      min(1.0, step / max(1, curriculum_steps))) for step in range(steps)]
        self.workers = workers
        self.pool = multiprocessing.get_context("fork").Pool(workers) if workers else None

    def __iter__(self):
        if self.pool is None:
            yield from (make_batch(*job) for job in self.jobs)
            return
        jobs = iter(self.jobs)
        pending = collections.deque(self.pool.apply_async(_make_batch_job, (job,))
                                    for job in itertools.islice(jobs, self.PREFETCH * self.workers))
        while pending:
            batch = pending.popleft().get()
            job = next(jobs, None)
            if job is not None:
                pending.append(self.pool.apply_async(_make_batch_job, (job,)))
            yield batch

    def close(self):
        if self.pool is not None:
            self.pool.close()
            self.pool.join()


def _make_batch_job(job):
    torch.set_num_threads(1)
    return make_batch(*job)


def caption_corpus(seed, count, combinations):
    """Word counts of `count` sampled captions (the BPE's training text)."""
    counts = collections.Counter()
    for index in range(count):
        rng = np.random.default_rng([seed, 1 << 40, index])
        text, _ = caption(rng, sample_training_scene(rng, combinations))
        counts.update(words_of(text))
    for template in R.LABEL_TEMPLATES:  # every evaluation prompt's words
        for colour, shape in R.colour_shape_classes():
            counts.update(words_of(template.format(R.class_label(colour, shape))))
    return counts


# =============================================================== training

def positives(wants, attributes):
    """[caption, image] 1 where the image has everything the caption says: other
    images of a red circle are no negatives for 'a red circle'."""
    w, a = wants[:, None, :], attributes[None, :, :]
    return torch.from_numpy(((w == ANY) | (w == a)).all(-1).astype(np.float32))


def class_list(combinations):
    """The classes of the second InfoNCE term: every trained pair, then the patterns."""
    return [("one", pair) for pair in combinations] + [("pattern", name) for name in R.PATTERN_NAMES]


def class_prompts(rng, classes):
    """One caption a class, its template drawn afresh each step."""
    prompts = []
    for kind, what in classes:
        if kind == "pattern":
            template = PATTERN_TEMPLATES[rng.integers(len(PATTERN_TEMPLATES))]
            phrase = R.PATTERNS[what][rng.integers(len(R.PATTERNS[what]))]
        else:
            template = SHAPE_TEMPLATES[rng.integers(len(SHAPE_TEMPLATES))]
            phrase = f"{colour_word(rng, what[0])} {what[1]}"
        prompts.append(finish(rng, template.format(x=with_article(rng, phrase))))
    return prompts


def class_targets(attributes, combinations):
    """Each image's class in class_list, -1 for two-shape scenes (no class of their own)."""
    index = {combination_index(*pair): i for i, pair in enumerate(combinations)}
    targets = []
    for a in attributes:
        if a[KIND] == KIND_ONE_SHAPE:
            targets.append(index[a[COLOUR] * len(R.SHAPES) + a[SHAPE]])
        elif a[KIND] >= KIND_PATTERN0:
            targets.append(len(combinations) + a[KIND] - KIND_PATTERN0)
        else:
            targets.append(-1)
    return torch.tensor(targets)


def class_loss(image_emb, class_emb, scale, targets):
    """InfoNCE of each image against one caption of every class: all the trained
    pairs are negatives every step (in a batch, a red circle rarely meets a red
    star), which is what makes shape, not only colour, pay."""
    return F.cross_entropy(scale * image_emb @ class_emb.T, targets, ignore_index=-1)


def contrastive_loss(image_emb, text_emb, scale, match):
    """InfoNCE both ways, each row's target spread evenly over its matches."""
    logits = scale * text_emb @ image_emb.T  # [caption, image]
    by_caption = -(match / match.sum(1, keepdim=True) * logits.log_softmax(1)).sum(1).mean()
    by_image = -(match.T / match.sum(0)[:, None] * logits.T.log_softmax(1)).sum(1).mean()
    return (by_caption + by_image) / 2


class AttributeHeads(nn.Module):
    """Linear read-outs of colour and shape from the image tower's pooled output,
    trained alongside and then dropped (they are no part of CLIP). The contrastive
    loss alone pays for colour first and leaves shape at chance for thousands of
    steps, since the text tower cannot yet tell 'red circle' from 'red star'; these
    give the image tower a gradient toward shape from the first step. They see
    colour and shape separately, so held-out pairs stay unseen as pairs."""

    def __init__(self, width):
        super().__init__()
        self.colour = nn.Linear(width, len(R.COLOUR_NAMES))
        self.shape = nn.Linear(width, len(R.SHAPES))

    def loss(self, pooled, attributes):
        """Cross-entropy on the one-shape scenes (others have no single colour or shape)."""
        colours = torch.from_numpy(attributes[:, COLOUR]).long()
        shapes = torch.from_numpy(attributes[:, SHAPE]).long()
        if (shapes >= 0).sum() == 0:
            return pooled.sum() * 0
        return (F.cross_entropy(self.colour(pooled), colours, ignore_index=ANY) +
                F.cross_entropy(self.shape(pooled), shapes, ignore_index=ANY))


def learning_rate(step, steps, peak, warmup):
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * 0.5 * (1 + math.cos(math.pi * progress))


def make_optimiser(model, lr, weight_decay):
    """AdamW, with no decay on biases, LayerNorms, embeddings and the scale."""
    decay, keep = [], []
    for name, p in model.named_parameters():
        flat = p.ndim < 2 or "embedding" in name
        (keep if flat else decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": keep, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.98), eps=1e-6)


MAX_LOGIT_SCALE = math.log(100.0)


def probe_set(seed, combinations, image_size, count=96):
    """Fixed frames of trained pairs, from a generator of their own, for the log."""
    rng = np.random.default_rng([seed, 1 << 42])
    pixels, truth = [], []
    for _ in range(count):
        colour, shape = combinations[rng.integers(len(combinations))]
        pixels.append(R.preprocess(R.render(R.sample_shape_scene(rng, colour, shape)), image_size))
        truth.append(combination_index(colour, shape))
    return torch.from_numpy(np.stack(pixels)), np.array(truth)


def zero_shot_probe(model, tokenizer, context, probe):
    """Zero-shot accuracy over the 108 colour-shape names on the probe frames:
    (top-1, colour right, shape right). Changes nothing in training."""
    pixels, truth = probe
    labels = [R.class_label(c, s) for c, s in R.colour_shape_classes()]
    prompts = [t.format(label) for label in labels for t in R.LABEL_TEMPLATES]
    with torch.no_grad():
        ids, eot = tokenizer.batch(prompts, context)
        weights = F.normalize(model.encode_text(ids, eot).view(len(labels), len(R.LABEL_TEMPLATES), -1).mean(1), dim=-1)
        predicted = (model.encode_image(pixels) @ weights.T).argmax(1).numpy()
    shapes = len(R.SHAPES)
    return (float((predicted == truth).mean()), float((predicted // shapes == truth // shapes).mean()),
            float((predicted % shapes == truth % shapes).mean()))


def train(model, tokenizer, args, combinations, log):
    heads = AttributeHeads(model.visual_projection.weight.shape[1])
    optimiser = make_optimiser(nn.ModuleList([model, heads]), args.lr, args.weight_decay)
    warmup = max(1, int(args.steps * args.warmup))
    source = BatchSource(args.seed, args.batch, args.steps, combinations, args.image_size, args.group,
                         int(args.steps * args.curriculum), args.workers)
    probe = probe_set(args.seed, combinations, args.image_size)
    classes = class_list(combinations)
    start, history = time.time(), []
    try:
        for step, (pixels, texts, wants, attributes) in enumerate(source):
            for group in optimiser.param_groups:
                group["lr"] = learning_rate(step, args.steps, args.lr, warmup)
            prompts = class_prompts(np.random.default_rng([args.seed, 1 << 43, step]), classes)
            ids, eot = tokenizer.batch(texts + prompts, args.context)
            pooled = model.vision_model(torch.from_numpy(pixels))
            image_emb = F.normalize(model.visual_projection(pooled), dim=-1)
            text_emb, class_emb = model.encode_text(ids, eot).split([len(texts), len(prompts)])
            match = positives(wants, attributes)
            scale = model.logit_scale.exp()
            loss = contrastive_loss(image_emb, text_emb, scale, match) + \
                args.class_weight * class_loss(image_emb, class_emb, scale, class_targets(attributes, combinations)) + \
                args.attribute_weight * heads.loss(pooled, attributes)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0, MAX_LOGIT_SCALE)
            if step % args.log_every == 0 or step == args.steps - 1:
                figures = zero_shot_probe(model, tokenizer, args.context, probe)
                history.append(log_step(step, args.steps, loss, model, text_emb, image_emb, match, figures, start, log))
    finally:
        source.close()
    return time.time() - start, history


def log_step(step, steps, loss, model, text_emb, image_emb, match, figures, start, log):
    """Loss, how often a caption's best image in the batch is one it matches, and
    the probe's zero-shot figures."""
    with torch.no_grad():
        best = (text_emb @ image_emb.T).argmax(1)
        hit = match[torch.arange(len(best)), best].mean().item()
    top1, colour, shape = figures
    entry = {"step": step, "loss": round(loss.item(), 4), "batch_hit": round(hit, 3),
             "scale": round(model.logit_scale.exp().item(), 2), "probe_top1": round(top1, 3),
             "probe_colour": round(colour, 3), "probe_shape": round(shape, 3), "seconds": round(time.time() - start, 1)}
    log(f"step {step + 1}/{steps} loss {entry['loss']:.4f} caption->image hit {hit:.3f} scale {entry['scale']:.1f} "
        f"probe top-1 {top1:.2f} colour {colour:.2f} shape {shape:.2f} {entry['seconds']:.0f} s")
    return entry


# ================================================================= output

def write_classes(directory, held_out):
    """What the model knows, for label lists and tests: classes.json, and
    labels.txt and templates.txt (one a line, for --labels-file/--templates-file)."""
    data = {"colours": list(R.COLOUR_NAMES), "shapes": list(R.SHAPES),
            "held_out": [R.class_label(c, s) for c, s in held_out],
            "patterns": {name: phrases[0] for name, phrases in R.PATTERNS.items()},
            "templates": list(R.LABEL_TEMPLATES)}
    with open(os.path.join(directory, "classes.json"), "w") as f:
        json.dump(data, f, indent=2)
    labels = [R.class_label(c, s) for c, s in R.colour_shape_classes()] + list(data["patterns"].values())
    with open(os.path.join(directory, "labels.txt"), "w") as f:
        f.write("\n".join(labels) + "\n")
    with open(os.path.join(directory, "templates.txt"), "w") as f:
        f.write("\n".join(R.LABEL_TEMPLATES) + "\n")


def machine_description():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {torch.get_num_threads()} threads, torch {torch.__version__}, {platform.platform()}"


def write_provenance(directory, args, command, held_out, tokenizer, seconds, history, parameters):
    weights = ", ".join(f"{kind} {share:.0%}" for kind, share in R.BACKGROUND_WEIGHTS.items())
    lines = [
        "# shapes-clip: provenance",
        "",
        "A small CLIP (Hugging Face CLIPModel layout) trained from scratch on rendered shapes,",
        "textures and test patterns (scripts/shapes_render.py), with its own byte-level BPE.",
        "",
        "## Training",
        "",
        f"- command: `{command}`",
        f"- seed: {args.seed}; steps: {args.steps} x batch {args.batch} = {args.steps * args.batch} images, "
        "each rendered on the fly from a generator seeded by (seed, sample index)",
        f"- model: vision {args.vision_width} wide, {args.vision_layers} layers, {args.vision_heads} heads, "
        f"patch {args.patch}, image {args.image_size}; text {args.text_width} wide, {args.text_layers} layers, "
        f"{args.text_heads} heads, context {args.context}; projection {args.embed}; {args.act}; "
        f"{parameters / 1e6:.2f}M parameters, stored as {args.dtype}",
        f"- tokenizer: {len(tokenizer.ranks)} merges learned from the caption corpus, "
        f"{len(tokenizer.vocab)} tokens (end-of-text {tokenizer.eot}, the highest id)",
        f"- loss: InfoNCE both ways over the batch, every caption/image pair that matches counted as a "
        f"positive; plus {args.class_weight} x InfoNCE of each image against one caption of every trained "
        "class and pattern (held-out pairs are never among them)",
        f"- plus {args.attribute_weight} x cross-entropy of linear colour and shape read-outs of the image "
        "tower's pooled output (one-shape scenes; dropped after training, colour and shape seen apart)",
        f"- batches: one-shape scenes in groups of {args.group} sharing a colour (2 in 3) or a shape",
        f"- curriculum: over the first {args.curriculum:.0%} of the steps, the share of easy scenes (white, black "
        f"or gray shapes of {EASY_MIN_SIZE:.0%}-{MAX_SIZE:.0%} on neutral backgrounds) among one-shape scenes falls "
        f"from {EASY_START:.0%} to none, and the others go from large shapes on mostly neutral backgrounds to the "
        "full mix below",
        f"- optimiser: AdamW lr {args.lr} (warmup {args.warmup:.0%}, cosine), weight decay {args.weight_decay}",
        f"- training time: {seconds / 60:.1f} min on {machine_description()}",
        "",
        "Log (probe: zero-shot over the 108 colour-shape names on 96 fixed frames of trained pairs):",
        "",
        "| step | loss | batch hit | scale | probe top-1 | colour | shape |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    every = max(1, len(history) // 10)
    for entry in history[::every] + ([history[-1]] if (len(history) - 1) % every else []):
        lines.append(f"| {entry['step'] + 1} | {entry['loss']:.3f} | {entry['batch_hit']:.2f} | {entry['scale']:.1f} | "
                     f"{entry['probe_top1']:.2f} | {entry['probe_colour']:.2f} | {entry['probe_shape']:.2f} |")
    lines += [
        "",
        "## Data",
        "",
        f"- colours: {', '.join(R.COLOUR_NAMES)} (each a few typical RGB values with jitter)",
        f"- shapes: {', '.join(R.SHAPES)}; {MIN_SIZE:.0%}-{MAX_SIZE:.0%} of the crop square, any position, "
        "rotation and aspect where the name allows; 20% with an outline",
        f"- backgrounds ({weights}; neutral: white, black, gray), always contrasting with the shape; "
        "textures: stripes, checkerboards, dots",
        f"- scenes: {1 - PATTERN_SHARE - TWO_SHAPE_SHARE:.0%} one shape, {TWO_SHAPE_SHARE:.0%} two shapes, "
        f"{PATTERN_SHARE:.0%} patterns ({', '.join(p[0] for p in R.PATTERNS.values())})",
        f"- frames: aspects {', '.join(f'{w}:{h}' for w, h in R.ASPECTS)}, shorter side "
        f"{TRAIN_SHORT_SIDE[0]}-{TRAIN_SHORT_SIDE[1]} px, preprocessed as the engine does (BICUBIC shorter "
        "side, centre crop, CLIP mean/std)",
        f"- held out of training (never drawn, not even in two-shape scenes): "
        f"{', '.join(R.class_label(c, s) for c, s in held_out)}",
        "",
    ]
    with open(os.path.join(directory, "PROVENANCE.md"), "w") as f:
        f.write("\n".join(lines))


# =================================================================== main

def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="model directory to write")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--warmup", type=float, default=0.05, help="share of the steps")
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--patch", type=int, default=8)
    ap.add_argument("--vision-width", type=int, default=128)
    ap.add_argument("--vision-layers", type=int, default=4)
    ap.add_argument("--vision-heads", type=int, default=4)
    ap.add_argument("--text-width", type=int, default=128)
    ap.add_argument("--text-layers", type=int, default=4)
    ap.add_argument("--text-heads", type=int, default=2)
    ap.add_argument("--context", type=int, default=32)
    ap.add_argument("--embed", type=int, default=128)
    ap.add_argument("--act", choices=sorted(ACTIVATIONS), default="quick_gelu")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="F16")
    ap.add_argument("--group", type=int, default=8, help="one-shape samples sharing a colour or a shape (1: none)")
    ap.add_argument("--curriculum", type=float, default=0.5, help="share of the steps that go from easy to full scenes")
    ap.add_argument("--class-weight", type=float, default=1.0,
                    help="weight of the InfoNCE term against one caption of every trained class")
    ap.add_argument("--attribute-weight", type=float, default=1.0,
                    help="weight of the colour and shape read-outs that train the image tower alongside")
    ap.add_argument("--merges", type=int, default=400, help="most BPE merges to learn")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (part of what fixes the result)")
    ap.add_argument("--workers", type=int, default=1, help="rendering processes (0: render inline)")
    ap.add_argument("--log-every", type=int, default=50)
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    command = " ".join(["scripts/train_shapes_clip.py"] + (argv if argv is not None else sys.argv[1:]))
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    held_out = R.held_out_combinations(args.seed)
    combinations = training_combinations(held_out)
    tokenizer = BpeTokenizer.from_merges(learn_bpe(caption_corpus(args.seed, 20000, combinations), args.merges))
    config = model_config(args, len(tokenizer.vocab))
    model = ShapesClip(config)
    initialise(model)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"train_shapes_clip: {parameters / 1e6:.2f}M parameters, {len(tokenizer.ranks)} merges, "
          f"held out: {', '.join(R.class_label(c, s) for c, s in held_out)}", flush=True)

    seconds, history = train(model, tokenizer, args, combinations, lambda line: print(line, flush=True))

    save_model(model, tokenizer, config, args.out, DTYPES[args.dtype][0])
    write_classes(args.out, held_out)
    write_provenance(args.out, args, command, held_out, tokenizer, seconds, history, parameters)
    print(f"train_shapes_clip: wrote {args.out} after {seconds / 60:.1f} min", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
