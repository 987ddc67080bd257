#!/usr/bin/env python3
"""Writes a few synthetic test images (PNG and JPEG, odd sizes, alpha) for the demo."""
import sys

import numpy as np
from PIL import Image, ImageDraw

out = sys.argv[1]
rng = np.random.default_rng(7)

# A landscape with a sun: gradients and hard edges.
w, h = 640, 360
y = np.linspace(0, 1, h)[:, None]
sky = np.stack([80 + 100 * y, 140 + 80 * y, 255 - 60 * y], -1) * np.ones((1, w, 1))
img = Image.fromarray(sky.astype(np.uint8))
d = ImageDraw.Draw(img)
d.ellipse([470, 40, 570, 140], fill=(255, 220, 80))
d.rectangle([0, 260, w, h], fill=(60, 140, 60))
img.save(f"{out}/landscape.jpg", quality=90)

# Noise with an alpha channel, portrait, odd size.
rgba = rng.integers(0, 256, size=(451, 301, 4), dtype=np.uint8)
Image.fromarray(rgba, "RGBA").save(f"{out}/noise-alpha.png")

# Stripes, small: upscaled by the preprocessing.
stripes = np.zeros((100, 150, 3), np.uint8)
stripes[:, ::10] = (250, 30, 30)
Image.fromarray(stripes).save(f"{out}/stripes.png")
