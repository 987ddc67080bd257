#!/usr/bin/python3
"""Synthetic scenes for the shapes CLIP: coloured shapes, textures and test patterns.

Shared by train_shapes_clip.py, eval_shapes_clip.py and make_shapes_video.py, so that
training, evaluation and the demo video draw from one renderer. Everything is
driven by a numpy Generator: the same generator state gives the same scene.

A scene is laid out in "crop square" coordinates (0..1 over the centred square of
side min(width, height)), because CLIP's preprocessing resizes the shorter side
and crops that square: what lies outside it is never seen, so it is only background.
"""

import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

# Each colour is a few typical RGB values (a stranger's "red" may be (255,0,0) or
# (220,30,40)); a drawn colour is one of them with jitter.
COLOURS = {
    "red": [(255, 0, 0), (220, 30, 40), (200, 16, 32), (235, 50, 50)],
    "green": [(0, 160, 0), (40, 180, 60), (0, 255, 0), (30, 130, 50), (90, 200, 70)],
    "blue": [(0, 0, 255), (30, 80, 220), (20, 40, 170), (50, 100, 240)],
    "yellow": [(255, 255, 0), (250, 220, 30), (240, 230, 60), (255, 235, 90)],
    "orange": [(255, 140, 0), (255, 110, 20), (240, 130, 40), (255, 160, 50)],
    "purple": [(128, 0, 128), (130, 50, 180), (100, 30, 150), (150, 70, 200)],
    "pink": [(255, 105, 180), (255, 160, 200), (240, 90, 150), (255, 130, 170)],
    "white": [(255, 255, 255), (240, 240, 235), (250, 248, 240)],
    "black": [(0, 0, 0), (25, 25, 30), (15, 10, 10)],
    "gray": [(128, 128, 128), (160, 160, 160), (100, 100, 105), (140, 140, 135)],
    "brown": [(140, 80, 30), (120, 70, 40), (165, 100, 50), (100, 55, 25)],
    "cyan": [(0, 255, 255), (40, 200, 220), (0, 190, 210), (80, 230, 230)],
}
COLOUR_NAMES = tuple(COLOURS)
SHAPES = ("circle", "square", "triangle", "star", "hexagon", "rectangle", "cross", "heart", "oval")

# Scenes without a shape: the first phrase of each is the label to use in a label list.
PATTERNS = {
    "stripes": ("striped pattern", "pattern of stripes"),
    "checkerboard": ("checkerboard", "checkerboard pattern"),
    "dots": ("polka dot pattern", "pattern of dots"),
    "noise": ("noise pattern", "static noise"),
    "color_bars": ("color bar test pattern", "test pattern with color bars"),
    "gradient": ("color gradient", "gradient"),
    "black_screen": ("black screen", "blank black frame"),
    "white_screen": ("white screen", "blank white frame"),
}
PATTERN_NAMES = tuple(PATTERNS)
TEXTURES = ("stripes", "checkerboard", "dots")

# Frame aspects (width:height) that videos and photos come in.
ASPECTS = ((1, 1), (4, 3), (3, 2), (16, 9), (3, 4), (9, 16))

# How far a shape's colour must be from the background's (RGB distance), so a
# scene always shows its shape.
MIN_CONTRAST = 110.0


# Prompt templates recommended for label lists of "colour shape" names (prompt
# ensembling); the model is trained on these forms, "a" before a vowel included.
LABEL_TEMPLATES = ("a photo of a {}.", "a {}.", "a drawing of a {}.", "a picture of a {}.")


def colour_shape_classes():
    """Every (colour, shape) pair, in a fixed order."""
    return [(c, s) for c in COLOUR_NAMES for s in SHAPES]


def class_label(colour, shape):
    return f"{colour} {shape}"


def held_out_combinations(seed):
    """One held-out shape for each colour, from a seeded shuffle of the shapes, so
    every colour and every shape is still trained with others (12 of 108 pairs)."""
    order = list(SHAPES)
    np.random.default_rng(seed).shuffle(order)
    return [(colour, order[i % len(order)]) for i, colour in enumerate(COLOUR_NAMES)]


# ------------------------------------------------------------------ scenes

@dataclass
class Shape:
    colour: str
    shape: str
    rgb: tuple
    cx: float          # centre, crop-square units
    cy: float
    size: float        # the larger side of its bounding box, crop-square units
    angle: float       # degrees
    aspect: float      # width : height before rotation
    outline: tuple = None   # (rgb, width in crop-square units) or None


@dataclass
class Background:
    kind: str                  # "plain", "gradient", "noise" or a TEXTURES name
    colours: tuple             # RGB tuples
    name: str = None           # colour name of a plain background (for captions)
    params: dict = field(default_factory=dict)


@dataclass
class Scene:
    width: int
    height: int
    background: Background
    shapes: list               # Shape, empty for a pattern
    pattern: str = None        # a PATTERNS key, or None


def jittered(rng, colour):
    """One of the colour's typical values, scaled and shifted a little per channel."""
    protos = COLOURS[colour]
    base = np.array(protos[rng.integers(len(protos))], dtype=np.float64)
    value = base * rng.uniform(0.88, 1.06) + rng.uniform(-14, 14, size=3)
    return tuple(int(v) for v in np.clip(np.rint(value), 0, 255))


def random_rgb(rng):
    return tuple(int(v) for v in rng.integers(0, 256, size=3))


def far_from(rgb, others):
    return all(math.dist(rgb, o) >= MIN_CONTRAST for o in others)


def frame_size(rng, short_min=96, short_max=288):
    """A frame of a random aspect whose shorter side is in [short_min, short_max]."""
    aw, ah = ASPECTS[rng.integers(len(ASPECTS))]
    short = int(rng.integers(short_min, short_max + 1))
    if aw >= ah:
        return int(round(short * aw / ah)), short
    return short, int(round(short * ah / aw))


# Background kinds and how often each comes: "neutral" is a plain white, black or
# gray, "plain" any other named colour. Neutral backgrounds are the commonest in
# drawings and test frames, and the easiest to learn shape on.
BACKGROUND_WEIGHTS = {"neutral": 0.3, "plain": 0.3, "gradient": 0.15, "noise": 0.1, "texture": 0.15}
NEUTRALS = ("white", "black", "gray")


def sample_background(rng, avoid_rgb, avoid_names, weights=None):
    """A background whose colours all stand out from avoid_rgb (the shapes' colours),
    of a kind drawn with weights (BACKGROUND_WEIGHTS by default)."""
    weights = weights or BACKGROUND_WEIGHTS
    kinds = list(weights)
    p = np.array([weights[k] for k in kinds], dtype=np.float64)
    kind = kinds[rng.choice(len(kinds), p=p / p.sum())]
    if kind in ("neutral", "plain"):
        names = [c for c in COLOUR_NAMES if c not in avoid_names and (c in NEUTRALS) == (kind == "neutral")]
        for _ in range(50):
            name = names[rng.integers(len(names))]
            rgb = jittered(rng, name)
            if far_from(rgb, avoid_rgb):
                return Background("plain", (rgb,), name=name)
        kind = "texture"  # no named colour stood out: fall through to a texture
    colours = []
    while len(colours) < 2:
        rgb = random_rgb(rng)
        if far_from(rgb, avoid_rgb):
            colours.append(rgb)
    if kind == "gradient":
        return Background("gradient", tuple(colours), params={"angle": rng.uniform(0, 360)})
    if kind == "noise":
        return Background("noise", tuple(colours[:1]), params={"amplitude": rng.uniform(8, 40),
                                                               "seed": int(rng.integers(2**31))})
    texture = TEXTURES[rng.integers(len(TEXTURES))]
    return Background(texture, tuple(colours), params=texture_params(rng, texture))


def texture_params(rng, texture):
    if texture == "stripes":
        return {"period": rng.uniform(0.06, 0.25), "angle": rng.uniform(0, 180)}
    if texture == "checkerboard":
        return {"cell": rng.uniform(0.05, 0.2), "angle": rng.choice([0.0, rng.uniform(0, 90)])}
    return {"spacing": rng.uniform(0.08, 0.2), "radius": rng.uniform(0.2, 0.4)}  # dots


# Per shape: (aspect range, rotation range in degrees). Rotations stay small where a
# turned shape would get another name (a square at 45 degrees is a diamond).
SHAPE_FREEDOM = {
    "circle": ((1.0, 1.0), (0, 0)),
    "oval": ((1.5, 2.2), (0, 180)),
    "square": ((0.96, 1.04), (-20, 20)),
    "rectangle": ((1.6, 2.6), (-25, 25)),
    "triangle": ((0.85, 1.2), (0, 360)),
    "star": ((0.92, 1.08), (0, 360)),
    "hexagon": ((0.92, 1.08), (0, 360)),
    "cross": ((0.92, 1.08), (-20, 20)),
    "heart": ((0.9, 1.1), (-25, 25)),
}


def sample_shape(rng, colour, shape, size_range=(0.15, 0.8), region=(0.0, 0.0, 1.0, 1.0)):
    """A shape of the given colour and kind placed wholly inside region (x0, y0, x1, y1)."""
    (a_lo, a_hi), (r_lo, r_hi) = SHAPE_FREEDOM[shape]
    aspect = rng.uniform(a_lo, a_hi)
    angle = rng.uniform(r_lo, r_hi)
    if shape == "rectangle" and rng.random() < 0.4:
        angle += 90.0  # standing as well as lying
    x0, y0, x1, y1 = region
    size = rng.uniform(*size_range) * min(x1 - x0, y1 - y0)
    half = size / 2
    cx = rng.uniform(x0 + half, x1 - half)
    cy = rng.uniform(y0 + half, y1 - half)
    outline = None
    if rng.random() < 0.2:
        line_rgb = (0, 0, 0) if colour not in ("black", "gray", "brown") else (255, 255, 255)
        outline = (line_rgb, rng.uniform(0.01, 0.03))
    return Shape(colour, shape, jittered(rng, colour), cx, cy, size, angle, aspect, outline)


def sample_shape_scene(rng, colour, shape, width=None, height=None, size_range=(0.15, 0.8), backgrounds=None):
    """One shape of the given colour and kind on a random background (kinds weighted
    by backgrounds, BACKGROUND_WEIGHTS by default)."""
    if width is None:
        width, height = frame_size(rng)
    item = sample_shape(rng, colour, shape, size_range)
    return Scene(width, height, sample_background(rng, [item.rgb], [colour], backgrounds), [item])


def sample_two_shape_scene(rng, first, second, width=None, height=None):
    """Two shapes side by side (or one above the other), each in its own half."""
    if width is None:
        width, height = frame_size(rng)
    halves = [(0.0, 0.0, 0.5, 1.0), (0.5, 0.0, 1.0, 1.0)]
    if rng.random() < 0.5:
        halves = [(0.0, 0.0, 1.0, 0.5), (0.0, 0.5, 1.0, 1.0)]
    items = [sample_shape(rng, c, s, (0.45, 0.9), half) for (c, s), half in zip((first, second), halves)]
    background = sample_background(rng, [i.rgb for i in items], [first[0], second[0]])
    return Scene(width, height, background, items)


def sample_pattern_scene(rng, pattern, width=None, height=None):
    if width is None:
        width, height = frame_size(rng)
    if pattern in TEXTURES:
        colours = (random_rgb(rng), random_rgb(rng))
        while math.dist(*colours) < MIN_CONTRAST:
            colours = (colours[0], random_rgb(rng))
        background = Background(pattern, colours, params=texture_params(rng, pattern))
    elif pattern == "noise":
        background = Background("static", (), params={"colour": bool(rng.random() < 0.5),
                                                      "seed": int(rng.integers(2**31))})
    elif pattern == "gradient":
        colours = (random_rgb(rng), random_rgb(rng))
        while math.dist(*colours) < 1.5 * MIN_CONTRAST:
            colours = (colours[0], random_rgb(rng))
        background = Background("gradient", colours, params={"angle": rng.uniform(0, 360)})
    elif pattern == "color_bars":
        background = Background("color_bars", (), params={"bottom_strip": bool(rng.random() < 0.5)})
    else:  # a blank screen, not quite uniform
        level = rng.uniform(0, 22) if pattern == "black_screen" else rng.uniform(235, 255)
        background = Background("noise", ((int(level),) * 3,),
                                params={"amplitude": rng.uniform(0, 3), "seed": int(rng.integers(2**31))})
    return Scene(width, height, background, [], pattern)


# --------------------------------------------------------------- drawing

def unit_outline(shape):
    """The shape's outline as points around the origin, before aspect and rotation."""
    if shape in ("circle", "oval"):
        t = np.linspace(0, 2 * np.pi, 96, endpoint=False)
        return np.stack([np.cos(t), np.sin(t)], 1)
    if shape in ("square", "rectangle"):
        return np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64)
    if shape == "triangle":
        t = np.pi / 2 + np.arange(3) * 2 * np.pi / 3
        return np.stack([np.cos(t), -np.sin(t)], 1)
    if shape == "hexagon":
        t = np.arange(6) * np.pi / 3
        return np.stack([np.cos(t), np.sin(t)], 1)
    if shape == "star":
        t = np.pi / 2 + np.arange(10) * np.pi / 5
        r = np.where(np.arange(10) % 2 == 0, 1.0, 0.42)
        return np.stack([r * np.cos(t), -r * np.sin(t)], 1)
    if shape == "cross":
        a = 1 / 3
        return np.array([[-a, -1], [a, -1], [a, -a], [1, -a], [1, a], [a, a], [a, 1], [-a, 1],
                         [-a, a], [-1, a], [-1, -a], [-a, -a]], dtype=np.float64)
    if shape == "heart":
        t = np.linspace(0, 2 * np.pi, 96, endpoint=False)
        x = 16 * np.sin(t) ** 3
        y = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
        return np.stack([x, -y], 1) / 16.0
    raise ValueError(f"unknown shape {shape!r}")


def shape_polygon(item, side, left, top):
    """Frame pixel coordinates of the shape's outline; side/left/top place the crop square."""
    points = unit_outline(item.shape) * [math.sqrt(item.aspect), 1 / math.sqrt(item.aspect)]
    a = math.radians(item.angle)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    points = points @ rot.T
    points -= (points.max(0) + points.min(0)) / 2  # centre the bounding box
    points *= item.size * side / (points.max(0) - points.min(0)).max()
    points += [left + item.cx * side, top + item.cy * side]
    return [tuple(p) for p in points]


def pixel_grid(width, height, side):
    """Pixel centre coordinates in units of the crop square's side."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    return (x + 0.5) / side, (y + 0.5) / side


def two_colour(mask, colours):
    a, b = (np.array(c, dtype=np.float32) for c in colours)
    return np.where(mask[..., None], a, b)


def draw_background(bg, width, height):
    """The background as an HxWx3 float array."""
    if bg.kind == "plain":
        return np.broadcast_to(np.array(bg.colours[0], np.float32), (height, width, 3))
    x, y = pixel_grid(width, height, min(width, height))
    p = bg.params
    if bg.kind == "gradient":
        a = math.radians(p["angle"])
        t = x * math.cos(a) + y * math.sin(a)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        c0, c1 = (np.array(c, np.float32) for c in bg.colours)
        return c0 + (c1 - c0) * t[..., None]
    if bg.kind == "noise":
        noise = np.random.default_rng(p["seed"]).normal(0, p["amplitude"], (height, width, 1))
        return np.array(bg.colours[0], np.float32) + noise.astype(np.float32)
    if bg.kind == "static":
        channels = 3 if p["colour"] else 1
        static = np.random.default_rng(p["seed"]).integers(0, 256, (height, width, channels))
        return np.broadcast_to(static.astype(np.float32), (height, width, 3))
    if bg.kind == "stripes":
        a = math.radians(p["angle"])
        t = (x * math.cos(a) + y * math.sin(a)) / p["period"]
        return two_colour(t % 1.0 < 0.5, bg.colours)
    if bg.kind == "checkerboard":
        a = math.radians(p["angle"])
        u = (x * math.cos(a) + y * math.sin(a)) / p["cell"]
        v = (-x * math.sin(a) + y * math.cos(a)) / p["cell"]
        return two_colour((np.floor(u) + np.floor(v)) % 2 == 0, bg.colours)
    if bg.kind == "dots":
        s = p["spacing"]
        dx, dy = (x % s) / s - 0.5, (y % s) / s - 0.5
        return two_colour(dx * dx + dy * dy < p["radius"] ** 2, bg.colours)
    if bg.kind == "color_bars":
        return color_bars(width, height, p["bottom_strip"])
    raise ValueError(f"unknown background {bg.kind!r}")


# The classic 75% bars: white, yellow, cyan, green, magenta, red, blue.
BAR_COLOURS = [(191, 191, 191), (191, 191, 0), (0, 191, 191), (0, 191, 0), (191, 0, 191),
               (191, 0, 0), (0, 0, 191)]


def color_bars(width, height, bottom_strip):
    columns = (np.arange(width) * len(BAR_COLOURS)) // width
    image = np.array(BAR_COLOURS, np.float32)[columns][None].repeat(height, 0)
    if bottom_strip:  # the reversed strip below the bars
        strip = np.array(BAR_COLOURS[::-1], np.float32)[columns]
        image[int(height * 0.75):] = strip
    return image


def render(scene):
    """The scene as an RGB PIL image of scene.width x scene.height."""
    pixels = draw_background(scene.background, scene.width, scene.height)
    image = Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), "RGB")
    side = min(scene.width, scene.height)
    left, top = (scene.width - side) / 2, (scene.height - side) / 2
    draw = ImageDraw.Draw(image)
    for item in scene.shapes:
        polygon = shape_polygon(item, side, left, top)
        if item.outline:
            rgb, width = item.outline
            draw.polygon(polygon, fill=item.rgb, outline=rgb, width=max(1, round(width * side)))
        else:
            draw.polygon(polygon, fill=item.rgb)
    return image


# ---------------------------------------------------------- preprocessing

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def preprocess(image, image_size, mean=CLIP_MEAN, std=CLIP_STD):
    """CHW float32 as CLIPImageProcessor makes it (and the engine): Pillow BICUBIC
    resize of the shorter side to image_size (the other int(size * long / short)),
    floor centre crop, /255, mean/std."""
    w, h = image.size
    if w <= h:
        size = (image_size, int(image_size * h / w))
    else:
        size = (int(image_size * w / h), image_size)
    resized = image.convert("RGB").resize(size, Image.BICUBIC)
    left, top = (size[0] - image_size) // 2, (size[1] - image_size) // 2
    crop = np.asarray(resized, dtype=np.float32)[top:top + image_size, left:left + image_size]
    x = (crop / 255.0 - np.array(mean, np.float32)) / np.array(std, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1), dtype=np.float32)
