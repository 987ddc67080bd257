#!/usr/bin/python3
"""Zero-shot accuracy of the shapes CLIP, in PyTorch, on freshly rendered frames.

  eval_shapes_clip.py --model data/shapes-clip
  eval_shapes_clip.py --model data/shapes-clip --frames-dir /tmp/frames --json /tmp/top.json
  eval_shapes_clip.py --model data/shapes-clip --frames-dir /tmp/frames --engine build/tools/vkclip
  eval_shapes_clip.py --model data/shapes-clip --check-tokenizer build/tools/vkclip

Classes are the 108 "colour shape" names (plus the 8 test patterns for the pattern
set), each the normalised mean of its prompts in shapes_render.LABEL_TEMPLATES.
Test sets, each from its own seeded generator:
  held_out     one shape of a combination never trained on (transfer)
  seen         one shape of a trained combination
  patterns     textures and test patterns (classified among shapes and patterns)
  independent  shapes drawn by a separate, simpler drawing here (other RGB values,
               PIL primitives, 640x480), to see that the model is not tied to the
               training renderer
The forward pass is train_shapes_clip.py's PyTorch model on the saved weights: it is
the reference the engine is judged against, so it never calls the engine. --engine
then runs `vkclip classify` on the saved PNG frames and reports its agreement with
PyTorch; --check-tokenizer compares `vkclip tokenize` with the Python tokenizer.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shapes_render as R  # noqa: E402
import train_shapes_clip as T  # noqa: E402

VIDEO_SIZES = ((640, 480), (480, 360), (854, 480), (400, 400), (360, 640), (1024, 576))
SETS = ("held_out", "seen", "patterns", "independent")


# ================================================================== frames

def held_out_and_seen(model_dir):
    with open(os.path.join(model_dir, "classes.json")) as f:
        names = set(json.load(f)["held_out"])
    pairs = R.colour_shape_classes()
    return [p for p in pairs if R.class_label(*p) in names], [p for p in pairs if R.class_label(*p) not in names]


def shape_frames(rng, pairs, count):
    """count frames cycling through pairs, at video sizes: [(image, truth label)]."""
    frames = []
    for i in range(count):
        colour, shape = pairs[i % len(pairs)] if count >= len(pairs) else pairs[rng.integers(len(pairs))]
        width, height = VIDEO_SIZES[rng.integers(len(VIDEO_SIZES))]
        frames.append((R.render(R.sample_shape_scene(rng, colour, shape, width, height)), R.class_label(colour, shape)))
    return frames


def pattern_frames(rng, count):
    frames = []
    for i in range(count):
        pattern = R.PATTERN_NAMES[i % len(R.PATTERN_NAMES)]
        width, height = VIDEO_SIZES[rng.integers(len(VIDEO_SIZES))]
        frames.append((R.render(R.sample_pattern_scene(rng, pattern, width, height)), R.PATTERNS[pattern][0]))
    return frames


# ------------------------------------------- an independent, simpler drawing

# Other typical values than the training renderer's prototypes.
PLAIN_COLOURS = {
    "red": (200, 0, 0), "green": (0, 128, 0), "blue": (0, 90, 200), "yellow": (255, 230, 0),
    "orange": (255, 128, 0), "purple": (110, 40, 140), "pink": (255, 150, 190), "white": (250, 250, 250),
    "black": (10, 10, 10), "gray": (120, 120, 120), "brown": (110, 70, 40), "cyan": (0, 220, 220),
}
PLAIN_BACKGROUNDS = ((255, 255, 255), (230, 230, 230), (40, 40, 40), (200, 220, 255), (250, 240, 200))


def draw_plainly(draw, shape, cx, cy, r, fill):
    """The shape with PIL's primitives around (cx, cy), about 2r across."""
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "oval":
        draw.ellipse([cx - r, cy - r * 0.55, cx + r, cy + r * 0.55], fill=fill)
    elif shape == "square":
        draw.rectangle([cx - r * 0.8, cy - r * 0.8, cx + r * 0.8, cy + r * 0.8], fill=fill)
    elif shape == "rectangle":
        draw.rectangle([cx - r, cy - r * 0.5, cx + r, cy + r * 0.5], fill=fill)
    elif shape == "triangle":
        draw.regular_polygon((cx, cy + r * 0.2, r), 3, fill=fill)
    elif shape == "hexagon":
        draw.regular_polygon((cx, cy, r), 6, rotation=30, fill=fill)
    elif shape == "star":
        points = [(cx + (r if k % 2 == 0 else r * 0.38) * math.sin(k * math.pi / 5),
                   cy - (r if k % 2 == 0 else r * 0.38) * math.cos(k * math.pi / 5)) for k in range(10)]
        draw.polygon(points, fill=fill)
    elif shape == "cross":
        w = r * 0.3
        draw.rectangle([cx - w, cy - r, cx + w, cy + r], fill=fill)
        draw.rectangle([cx - r, cy - w, cx + r, cy + w], fill=fill)
    elif shape == "heart":
        lobe = r * 0.5
        draw.ellipse([cx - 2 * lobe, cy - r * 0.75, cx, cy - r * 0.75 + 2 * lobe], fill=fill)
        draw.ellipse([cx, cy - r * 0.75, cx + 2 * lobe, cy - r * 0.75 + 2 * lobe], fill=fill)
        draw.polygon([(cx - r * 0.97, cy - r * 0.15), (cx + r * 0.97, cy - r * 0.15), (cx, cy + r)], fill=fill)


def independent_frames(rng, count):
    """640x480 frames, one plain shape inside the centre 480x480 square."""
    frames, pairs = [], R.colour_shape_classes()
    for i in range(count):
        colour, shape = pairs[rng.integers(len(pairs))]
        fill = PLAIN_COLOURS[colour]
        background = next(b for b in rng.permutation(PLAIN_BACKGROUNDS) if math.dist(b, fill) > 120)
        image = Image.new("RGB", (640, 480), tuple(int(v) for v in background))
        r = rng.uniform(50, 180)
        cx, cy = 80 + rng.uniform(r, 480 - r), rng.uniform(r, 480 - r)
        draw_plainly(ImageDraw.Draw(image), shape, cx, cy, r, fill)
        frames.append((image, R.class_label(colour, shape)))
    return frames


def make_test_sets(model_dir, seed, counts):
    held_out, seen = held_out_and_seen(model_dir)
    rngs = [np.random.default_rng([seed, k]) for k in range(len(SETS))]
    return {"held_out": shape_frames(rngs[0], held_out, counts["held_out"]),
            "seen": shape_frames(rngs[1], seen, counts["seen"]),
            "patterns": pattern_frames(rngs[2], counts["patterns"]),
            "independent": independent_frames(rngs[3], counts["independent"])}


# ========================================================== classification

def shape_labels():
    return [R.class_label(c, s) for c, s in R.colour_shape_classes()]


def pattern_labels():
    return [phrases[0] for phrases in R.PATTERNS.values()]


def classifier(model, tokenizer, context, labels, templates):
    """[labels, dim]: each label's prompts embedded, normalised, averaged, normalised."""
    prompts = [t.format(label) for label in labels for t in templates]
    with torch.no_grad():
        ids, eot = tokenizer.batch(prompts, context)
        emb = model.encode_text(ids, eot).view(len(labels), len(templates), -1)
    return F.normalize(emb.mean(1), dim=-1)


def classify(model, weights, images, image_size, batch=64):
    """Softmax over labels of logit_scale * cosine, one row per image."""
    rows = []
    with torch.no_grad():
        for start in range(0, len(images), batch):
            pixels = torch.from_numpy(np.stack([R.preprocess(im, image_size) for im in images[start:start + batch]]))
            rows.append((model.logit_scale.exp() * model.encode_image(pixels) @ weights.T).softmax(-1))
    return torch.cat(rows)


def parts(label):
    colour, _, shape = label.partition(" ")
    return colour, shape


def accuracy(truths, predictions, set_name):
    """Top-1, and for shapes how often the top label's colour and shape are right."""
    n = len(truths)
    result = {"top1": sum(t == p for t, p in zip(truths, predictions)) / n}
    if set_name != "patterns":
        result["colour"] = sum(parts(t)[0] == parts(p)[0] for t, p in zip(truths, predictions)) / n
        result["shape"] = sum(parts(t)[1] == parts(p)[1] for t, p in zip(truths, predictions)) / n
    return result


def describe(result):
    text = f"top-1 {result['top1']:.1%}"
    if "colour" in result:
        text += f", colour {result['colour']:.1%}, shape {result['shape']:.1%}"
    return text


def labels_for(set_name):
    return shape_labels() + pattern_labels() if set_name == "patterns" else shape_labels()


# ================================================================ engine

def engine_top_labels(vkclip, model_dir, labels, templates, files, precision):
    """file -> the engine's top label, from one `vkclip classify` run."""
    with tempfile.TemporaryDirectory() as tmp:
        labels_file, templates_file = os.path.join(tmp, "labels.txt"), os.path.join(tmp, "templates.txt")
        with open(labels_file, "w") as f:
            f.write("\n".join(labels) + "\n")
        with open(templates_file, "w") as f:
            f.write("\n".join(templates) + "\n")
        out = subprocess.run([vkclip, "classify", "--model", model_dir, "--labels-file", labels_file,
                              "--templates-file", templates_file, "--top-k", "1", "--precision", precision, *files],
                             check=True, capture_output=True, text=True).stdout
    return {row["file"]: row["labels"][0]["label"] for row in map(json.loads, out.splitlines())}


def compare_with_engine(vkclip, model_dir, frames_dir, records, templates, precision):
    """Per set: how often the engine's top label is PyTorch's, and its own accuracy."""
    report = {}
    for set_name in SETS:
        rows = [r for r in records if r["set"] == set_name]
        if not rows:
            continue
        files = [os.path.join(frames_dir, r["file"]) for r in rows]
        top = engine_top_labels(vkclip, model_dir, labels_for(set_name), templates, files, precision)
        engine = [top[f] for f in files]
        for r, label in zip(rows, engine):
            r["engine_top"] = label
        agree = sum(r["torch_top"] == e for r, e in zip(rows, engine)) / len(rows)
        report[set_name] = {"agreement": agree, **accuracy([r["truth"] for r in rows], engine, set_name)}
    return report


def check_tokenizer(vkclip, model_dir, tokenizer, context, seed):
    """Every word of the caption corpus, sampled training captions and every
    evaluation prompt, through both tokenizers: returns (texts checked, mismatches)."""
    held_out, _ = held_out_and_seen(model_dir)
    combinations = T.training_combinations(held_out)
    words = sorted(T.caption_corpus(seed, 20000, combinations))
    captions = []
    for index in range(2000):
        rng = np.random.default_rng([seed, index])
        captions.append(T.caption(rng, T.sample_training_scene(rng, combinations))[0])
    prompts = [t.format(label) for label in shape_labels() + pattern_labels() for t in R.LABEL_TEMPLATES]
    texts = words + captions + prompts
    mismatches = []
    for start in range(0, len(texts), 500):
        chunk = texts[start:start + 500]
        out = subprocess.run([vkclip, "tokenize", "--model", model_dir, *chunk], check=True,
                             capture_output=True, text=True).stdout.splitlines()
        for text, line in zip(chunk, out):
            engine_ids = json.loads(line)["ids"]
            if engine_ids != tokenizer.encode(text, context):
                mismatches.append((text, engine_ids, tokenizer.encode(text, context)))
    return len(texts), mismatches


# ================================================================== main

def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="data/shapes-clip")
    ap.add_argument("--seed", type=int, default=1000, help="test frames' seed (training used others)")
    ap.add_argument("--held-out", type=int, default=300, help="frames of held-out combinations")
    ap.add_argument("--seen", type=int, default=300, help="frames of trained combinations")
    ap.add_argument("--patterns", type=int, default=80)
    ap.add_argument("--independent", type=int, default=200, help="frames of the independent drawing")
    ap.add_argument("--frames-dir", help="save every test frame here as PNG")
    ap.add_argument("--json", help="write per-frame truth and PyTorch top labels here")
    ap.add_argument("--engine", help="vkclip binary: classify the saved frames and compare (needs --frames-dir)")
    ap.add_argument("--engine-precision", choices=["f32", "f16"], default="f32", help="activations in the engine")
    ap.add_argument("--check-tokenizer", metavar="VKCLIP", help="vkclip binary: compare its tokenize with Python's")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    if args.engine and not args.frames_dir:
        ap.error("--engine needs --frames-dir")
    return args


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    model, config, tokenizer = T.load_model(args.model)
    context = config["text_config"]["max_position_embeddings"]
    image_size = config["vision_config"]["image_size"]

    if args.check_tokenizer:
        count, mismatches = check_tokenizer(args.check_tokenizer, args.model, tokenizer, context, 7)
        print(f"tokenizer: {count} texts, {len(mismatches)} differ between vkclip and Python")
        for text, engine_ids, python_ids in mismatches[:10]:
            print(f"  {text!r}: vkclip {engine_ids} python {python_ids}")
        if mismatches:
            return 1

    counts = {"held_out": args.held_out, "seen": args.seen, "patterns": args.patterns,
              "independent": args.independent}
    test_sets = make_test_sets(args.model, args.seed, counts)
    templates = list(R.LABEL_TEMPLATES)
    weights = {name: classifier(model, tokenizer, context, labels_for(name), templates) for name in SETS}
    if args.frames_dir:
        os.makedirs(args.frames_dir, exist_ok=True)
    records, summary = [], {}
    for set_name, frames in test_sets.items():
        if not frames:
            continue
        labels = labels_for(set_name)
        probs = classify(model, weights[set_name], [f[0] for f in frames], image_size)
        predictions = [labels[i] for i in probs.argmax(1).tolist()]
        summary[set_name] = accuracy([f[1] for f in frames], predictions, set_name)
        for k, ((image, truth), p, row) in enumerate(zip(frames, predictions, probs)):
            name = f"{set_name}_{k:04d}.png"
            if args.frames_dir:
                image.save(os.path.join(args.frames_dir, name))
            records.append({"file": name, "set": set_name, "truth": truth, "torch_top": p,
                            "torch_score": round(float(row.max()), 6), "width": image.width, "height": image.height})
        print(f"{set_name:12s} {len(frames):4d} frames, {len(labels)} classes: {describe(summary[set_name])}", flush=True)

    engine = None
    if args.engine:
        engine = compare_with_engine(args.engine, args.model, args.frames_dir, records, templates, args.engine_precision)
        for set_name, r in engine.items():
            print(f"engine {set_name:12s} agrees with PyTorch on {r['agreement']:.1%}; {describe(r)} "
                  f"(PyTorch top-1 {summary[set_name]['top1']:.1%})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": args.model, "seed": args.seed, "templates": templates,
                       "labels": {name: labels_for(name) for name in summary}, "accuracy": summary,
                       "engine": engine, "frames": records}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
